//! [`SyncStore`] for [`PgStore`] (tables of `migrations/postgres/0007_sync.sql`).
//! Timestamps are `timestamptz`, JSON is `jsonb` (bound as text and cast). A claim takes its row
//! with `FOR UPDATE SKIP LOCKED`, so instances claiming at the same moment never take the same job.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::postgres::PgRow;
use sqlx::Row;

use crate::codec::from_json;
use crate::postgres::PgStore;
use crate::sync::{MetricSnapshot, PlatformSync, SyncJob, SyncStep, SyncStore};
use crate::{StoreError, StoreResult};

const JOB_COLUMNS: &str =
    "id, workspace_id, status, steps_total, steps_done, errors::text AS errors, \
     locked_by, locked_until, created_at, started_at, finished_at";

const SNAPSHOT_COLUMNS: &str = "id, job_id, workspace_id, target_id, platform, fetched_at, \
     metrics::text AS metrics";

fn count(row: &PgRow, column: &str) -> StoreResult<u32> {
    let n: i64 = row.try_get(column)?;
    Ok(u32::try_from(n).unwrap_or(u32::MAX))
}

fn job_from_row(row: &PgRow) -> StoreResult<SyncJob> {
    let errors: String = row.try_get("errors")?;
    Ok(SyncJob {
        id: row.try_get("id")?,
        workspace_id: row.try_get("workspace_id")?,
        status: row.try_get("status")?,
        steps_total: count(row, "steps_total")?,
        steps_done: count(row, "steps_done")?,
        errors: from_json(&errors, "sync_jobs.errors")?,
        locked_by: row.try_get("locked_by")?,
        locked_until: row.try_get("locked_until")?,
        created_at: row.try_get("created_at")?,
        started_at: row.try_get("started_at")?,
        finished_at: row.try_get("finished_at")?,
    })
}

fn snapshot_from_row(row: &PgRow) -> StoreResult<MetricSnapshot> {
    let metrics: String = row.try_get("metrics")?;
    Ok(MetricSnapshot {
        id: row.try_get("id")?,
        job_id: row.try_get("job_id")?,
        workspace_id: row.try_get("workspace_id")?,
        target_id: row.try_get("target_id")?,
        platform: row.try_get("platform")?,
        fetched_at: row.try_get("fetched_at")?,
        metrics: from_json::<Value>(&metrics, "metric_snapshots.metrics")?,
    })
}

#[async_trait]
impl SyncStore for PgStore {
    async fn enqueue_sync_job(
        &self,
        workspace_id: &str,
        id: &str,
        now: DateTime<Utc>,
        not_since: Option<DateTime<Utc>>,
    ) -> StoreResult<Option<SyncJob>> {
        sqlx::query(&format!(
            "INSERT INTO sync_jobs (id, workspace_id, status, created_at) \
             SELECT $1, $2, 'queued', $3 \
             WHERE $4::timestamptz IS NULL OR NOT EXISTS (SELECT 1 FROM sync_jobs \
                 WHERE workspace_id = $2 AND created_at > $4) \
             ON CONFLICT DO NOTHING RETURNING {JOB_COLUMNS}"
        ))
        .bind(id)
        .bind(workspace_id)
        .bind(now)
        .bind(not_since)
        .fetch_optional(self.pool())
        .await?
        .as_ref()
        .map(job_from_row)
        .transpose()
    }

    async fn active_sync_job(&self, workspace_id: &str) -> StoreResult<Option<SyncJob>> {
        sqlx::query(&format!(
            "SELECT {JOB_COLUMNS} FROM sync_jobs \
             WHERE workspace_id = $1 AND status IN ('queued', 'running')"
        ))
        .bind(workspace_id)
        .fetch_optional(self.pool())
        .await?
        .as_ref()
        .map(job_from_row)
        .transpose()
    }

    async fn get_sync_job(&self, workspace_id: &str, id: &str) -> StoreResult<Option<SyncJob>> {
        sqlx::query(&format!(
            "SELECT {JOB_COLUMNS} FROM sync_jobs WHERE workspace_id = $1 AND id = $2"
        ))
        .bind(workspace_id)
        .bind(id)
        .fetch_optional(self.pool())
        .await?
        .as_ref()
        .map(job_from_row)
        .transpose()
    }

    async fn list_sync_jobs(&self, workspace_id: &str, limit: u32) -> StoreResult<Vec<SyncJob>> {
        sqlx::query(&format!(
            "SELECT {JOB_COLUMNS} FROM sync_jobs WHERE workspace_id = $1 \
             ORDER BY created_at DESC, id DESC LIMIT $2"
        ))
        .bind(workspace_id)
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(job_from_row)
        .collect()
    }

    async fn claim_sync_job(
        &self,
        owner: &str,
        lease_until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<SyncJob>> {
        sqlx::query(&format!(
            "UPDATE sync_jobs SET status = 'running', locked_by = $1, locked_until = $2, \
             started_at = COALESCE(started_at, $3) \
             WHERE id = (SELECT id FROM sync_jobs \
                 WHERE status = 'queued' \
                    OR (status = 'running' AND (locked_until IS NULL OR locked_until <= $3)) \
                 ORDER BY created_at, id LIMIT 1 FOR UPDATE SKIP LOCKED) \
             RETURNING {JOB_COLUMNS}"
        ))
        .bind(owner)
        .bind(lease_until)
        .bind(now)
        .fetch_optional(self.pool())
        .await?
        .as_ref()
        .map(job_from_row)
        .transpose()
    }

    async fn set_sync_total(
        &self,
        id: &str,
        owner: &str,
        steps_total: u32,
        lease_until: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE sync_jobs SET steps_total = $3, locked_until = $4 \
             WHERE id = $1 AND locked_by = $2 AND status = 'running'",
        )
        .bind(id)
        .bind(owner)
        .bind(i64::from(steps_total))
        .bind(lease_until)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn record_sync_step(
        &self,
        id: &str,
        owner: &str,
        step: &SyncStep,
        lease_until: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let error = match step {
            SyncStep::Failed(e) => Some(e.to_string()),
            SyncStep::Read(_) => None,
        };
        let mut tx = crate::pool::Tx::begin(self.pool()).await?;
        let done = sqlx::query(
            "UPDATE sync_jobs SET steps_done = steps_done + 1, locked_until = $3, \
             errors = CASE WHEN $4::jsonb IS NULL THEN errors \
                 ELSE errors || jsonb_build_array($4::jsonb) END \
             WHERE id = $1 AND locked_by = $2 AND status = 'running'",
        )
        .bind(id)
        .bind(owner)
        .bind(lease_until)
        .bind(error)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        if let SyncStep::Read(s) = step {
            sqlx::query(
                "INSERT INTO metric_snapshots (id, job_id, workspace_id, target_id, platform, \
                 fetched_at, metrics) VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)",
            )
            .bind(&s.id)
            .bind(&s.job_id)
            .bind(&s.workspace_id)
            .bind(&s.target_id)
            .bind(&s.platform)
            .bind(s.fetched_at)
            .bind(s.metrics.to_string())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn finish_sync_job(
        &self,
        id: &str,
        owner: &str,
        status: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE sync_jobs SET status = $3, finished_at = $4, locked_by = NULL, \
             locked_until = NULL WHERE id = $1 AND locked_by = $2 AND status = 'running'",
        )
        .bind(id)
        .bind(owner)
        .bind(status)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn job_snapshots(&self, job_id: &str) -> StoreResult<Vec<MetricSnapshot>> {
        sqlx::query(&format!(
            "SELECT {SNAPSHOT_COLUMNS} FROM metric_snapshots WHERE job_id = $1 \
             ORDER BY fetched_at, id"
        ))
        .bind(job_id)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(snapshot_from_row)
        .collect()
    }

    async fn latest_post_snapshots(&self, post_id: &str) -> StoreResult<Vec<MetricSnapshot>> {
        sqlx::query(&format!(
            "SELECT {SNAPSHOT_COLUMNS} FROM metric_snapshots s \
             WHERE s.target_id IN (SELECT id FROM post_targets WHERE post_id = $1) \
               AND s.id = (SELECT s2.id FROM metric_snapshots s2 \
                   WHERE s2.target_id = s.target_id ORDER BY s2.fetched_at DESC, s2.id DESC LIMIT 1) \
             ORDER BY s.target_id"
        ))
        .bind(post_id)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(snapshot_from_row)
        .collect()
    }

    async fn published_target_ids(&self, workspace_id: &str) -> StoreResult<Vec<String>> {
        let rows = sqlx::query(
            "SELECT id FROM post_targets WHERE workspace_id = $1 AND status = 'published' \
             AND platform_post_id IS NOT NULL ORDER BY published_at, id",
        )
        .bind(workspace_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| r.try_get("id").map_err(StoreError::from))
            .collect()
    }

    async fn workspaces_with_published_targets(&self) -> StoreResult<Vec<String>> {
        let rows = sqlx::query(
            "SELECT DISTINCT workspace_id FROM post_targets WHERE status = 'published' \
             ORDER BY workspace_id",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| r.try_get("workspace_id").map_err(StoreError::from))
            .collect()
    }

    async fn upsert_platform_sync(&self, s: &PlatformSync) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO platform_sync (workspace_id, platform, job_id, status, message, \
             last_synced_at) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (workspace_id, platform) DO UPDATE SET job_id = excluded.job_id, \
             status = excluded.status, message = excluded.message, \
             last_synced_at = excluded.last_synced_at",
        )
        .bind(&s.workspace_id)
        .bind(&s.platform)
        .bind(&s.job_id)
        .bind(&s.status)
        .bind(&s.message)
        .bind(s.last_synced_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn list_platform_sync(&self, workspace_id: &str) -> StoreResult<Vec<PlatformSync>> {
        let rows = sqlx::query(
            "SELECT workspace_id, platform, job_id, status, message, last_synced_at \
             FROM platform_sync WHERE workspace_id = $1 ORDER BY platform",
        )
        .bind(workspace_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(PlatformSync {
                    workspace_id: r.try_get("workspace_id")?,
                    platform: r.try_get("platform")?,
                    job_id: r.try_get("job_id")?,
                    status: r.try_get("status")?,
                    message: r.try_get("message")?,
                    last_synced_at: r.try_get("last_synced_at")?,
                })
            })
            .collect()
    }
}
