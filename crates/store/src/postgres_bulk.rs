//! [`BulkStore`] for [`PgStore`] (tables of `migrations/postgres/0005_bulk_connect.sql`).
//! Timestamps are timestamptz, JSON is jsonb (bound as text, cast with `::jsonb`, read back as text).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::Row;

use crate::bulk::{BatchSession, BulkStore, ConnectBatch, ValidationRecord, SESSION_PENDING};
use crate::codec::{from_json, from_json_opt};
use crate::postgres::PgStore;
use crate::StoreResult;

fn session_from_row(row: &PgRow) -> StoreResult<BatchSession> {
    Ok(BatchSession {
        batch_id: row.try_get("batch_id")?,
        position: row.try_get("position")?,
        platform: row.try_get("platform")?,
        state_hash: row.try_get("state_hash")?,
        status: row.try_get("status")?,
        connection_id: row.try_get("connection_id")?,
        diagnosis: from_json_opt(
            row.try_get::<Option<String>, _>("diagnosis")?.as_deref(),
            "connect_batch_sessions.diagnosis",
        )?,
        expires_at: row.try_get("expires_at")?,
        finished_at: row.try_get("finished_at")?,
        authorization_url_sealed: row.try_get("authorization_url_sealed")?,
    })
}

#[async_trait]
impl BulkStore for PgStore {
    async fn insert_batch(
        &self,
        batch: &ConnectBatch,
        sessions: &[BatchSession],
    ) -> StoreResult<()> {
        let mut tx = crate::pool::Tx::begin(self.pool()).await?;
        sqlx::query(
            "INSERT INTO connect_batches (id, workspace_id, owner, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&batch.id)
        .bind(&batch.workspace_id)
        .bind(&batch.owner)
        .bind(batch.created_at)
        .bind(batch.expires_at)
        .execute(&mut *tx)
        .await?;
        for s in sessions {
            sqlx::query(
                "INSERT INTO connect_batch_sessions
                    (batch_id, position, platform, state_hash, status, connection_id, diagnosis,
                     expires_at, finished_at, authorization_url_sealed)
                 VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9, $10)",
            )
            .bind(&batch.id)
            .bind(s.position)
            .bind(&s.platform)
            .bind(&s.state_hash)
            .bind(&s.status)
            .bind(&s.connection_id)
            .bind(s.diagnosis.as_ref().map(|d| d.to_string()))
            .bind(s.expires_at)
            .bind(s.finished_at)
            .bind(&s.authorization_url_sealed)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn get_batch(
        &self,
        workspace_id: &str,
        id: &str,
    ) -> StoreResult<Option<(ConnectBatch, Vec<BatchSession>)>> {
        let Some(row) = sqlx::query(
            "SELECT id, workspace_id, owner, created_at, expires_at FROM connect_batches
             WHERE id = $1 AND workspace_id = $2",
        )
        .bind(id)
        .bind(workspace_id)
        .fetch_optional(self.pool())
        .await?
        else {
            return Ok(None);
        };
        let batch = ConnectBatch {
            id: row.try_get("id")?,
            workspace_id: row.try_get("workspace_id")?,
            owner: row.try_get("owner")?,
            created_at: row.try_get("created_at")?,
            expires_at: row.try_get("expires_at")?,
        };
        let rows = sqlx::query(
            "SELECT batch_id, position, platform, state_hash, status, connection_id,
                    diagnosis::text AS diagnosis,
                    expires_at, finished_at, authorization_url_sealed
             FROM connect_batch_sessions WHERE batch_id = $1 ORDER BY position",
        )
        .bind(id)
        .fetch_all(self.pool())
        .await?;
        let sessions = rows
            .iter()
            .map(session_from_row)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(Some((batch, sessions)))
    }

    async fn finish_batch_session(
        &self,
        state_hash: &str,
        status: &str,
        connection_id: Option<&str>,
        diagnosis: Option<&serde_json::Value>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE connect_batch_sessions
             SET status = $2, connection_id = $3, diagnosis = $4::jsonb, finished_at = $5,
                 authorization_url_sealed = NULL
             WHERE state_hash = $1 AND status = $6",
        )
        .bind(state_hash)
        .bind(status)
        .bind(connection_id)
        .bind(diagnosis.map(|d| d.to_string()))
        .bind(now)
        .bind(SESSION_PENDING)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn record_validation(&self, record: &ValidationRecord) -> StoreResult<()> {
        let mut tx = crate::pool::Tx::begin(self.pool()).await?;
        sqlx::query(
            "INSERT INTO connection_validations (connection_id, verdict, report, checked_at)
             SELECT $1, $2, $3::jsonb, $4 WHERE EXISTS (SELECT 1 FROM connections WHERE id = $1)
             ON CONFLICT (connection_id) DO UPDATE
             SET verdict = excluded.verdict, report = excluded.report,
                 checked_at = excluded.checked_at",
        )
        .bind(&record.connection_id)
        .bind(&record.verdict)
        .bind(record.report.to_string())
        .bind(record.checked_at)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE connections SET last_checked_at = $2 WHERE id = $1")
            .bind(&record.connection_id)
            .bind(record.checked_at)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn last_validation(&self, connection_id: &str) -> StoreResult<Option<ValidationRecord>> {
        let Some(row) = sqlx::query(
            "SELECT connection_id, verdict, report::text AS report, checked_at
             FROM connection_validations
             WHERE connection_id = $1",
        )
        .bind(connection_id)
        .fetch_optional(self.pool())
        .await?
        else {
            return Ok(None);
        };
        Ok(Some(ValidationRecord {
            connection_id: row.try_get("connection_id")?,
            verdict: row.try_get("verdict")?,
            report: from_json(
                row.try_get::<String, _>("report")?.as_str(),
                "connection_validations.report",
            )?,
            checked_at: row.try_get("checked_at")?,
        }))
    }
}
