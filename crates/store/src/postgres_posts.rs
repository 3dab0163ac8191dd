//! [`PostStore`] for [`PgStore`] (tables of `migrations/postgres/0006_posts.sql`, the
//! create-in-flight marker of `0008_publish_in_flight.sql`).
//! Timestamps are `timestamptz`, JSON is `jsonb` (bound as text and cast). Claims take their
//! rows with `FOR UPDATE SKIP LOCKED`, so instances claiming at the same moment never take the
//! same target.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::postgres::PgRow;
use sqlx::Row;

use crate::codec::{from_json, from_json_opt};
use crate::postgres::PgStore;
use crate::posts::{
    CreateInFlight, Deferral, NewTarget, Post, PostFilter, PostStore, PostTarget, SummaryRow,
    TargetOutcome,
};
use crate::StoreResult;

const POST_COLUMNS: &str = "p.id, p.workspace_id, p.campaign_id, p.content::text AS content, \
     p.publish_at, p.time_zone, p.created_at";

const TARGET_COLUMNS: &str = "id, post_id, workspace_id, position, connection_id, page_id, \
     platform, status, due_at, attempts, next_attempt_at, progress::text AS progress, \
     platform_post_id, url, last_error::text AS last_error, locked_by, locked_until, \
     published_at, created_at, updated_at, create_attempt, create_sent_at";

fn post_from_row(row: &PgRow) -> StoreResult<Post> {
    let content: String = row.try_get("content")?;
    Ok(Post {
        id: row.try_get("id")?,
        workspace_id: row.try_get("workspace_id")?,
        campaign_id: row.try_get("campaign_id")?,
        content: from_json(&content, "posts.content")?,
        publish_at: row.try_get("publish_at")?,
        time_zone: row.try_get("time_zone")?,
        created_at: row.try_get("created_at")?,
    })
}

fn target_from_row(row: &PgRow) -> StoreResult<PostTarget> {
    let progress: String = row.try_get("progress")?;
    let error: Option<String> = row.try_get("last_error")?;
    let attempts: i64 = row.try_get("attempts")?;
    let create_attempt: Option<i64> = row.try_get("create_attempt")?;
    let create_sent_at: Option<DateTime<Utc>> = row.try_get("create_sent_at")?;
    Ok(PostTarget {
        id: row.try_get("id")?,
        post_id: row.try_get("post_id")?,
        workspace_id: row.try_get("workspace_id")?,
        position: row.try_get("position")?,
        connection_id: row.try_get("connection_id")?,
        page_id: row.try_get("page_id")?,
        platform: row.try_get("platform")?,
        status: row.try_get("status")?,
        due_at: row.try_get("due_at")?,
        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
        next_attempt_at: row.try_get("next_attempt_at")?,
        progress: from_json(&progress, "post_targets.progress")?,
        platform_post_id: row.try_get("platform_post_id")?,
        url: row.try_get("url")?,
        last_error: from_json_opt(error.as_deref(), "post_targets.last_error")?,
        locked_by: row.try_get("locked_by")?,
        locked_until: row.try_get("locked_until")?,
        published_at: row.try_get("published_at")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        create_in_flight: create_attempt
            .zip(create_sent_at)
            .map(|(attempt, sent_at)| CreateInFlight {
                attempt: u32::try_from(attempt).unwrap_or(u32::MAX),
                sent_at,
            }),
    })
}

#[async_trait]
impl PostStore for PgStore {
    async fn create_post(&self, post: &Post, targets: &[NewTarget]) -> StoreResult<()> {
        self.create_posts(&[(post.clone(), targets.to_vec())]).await
    }

    async fn create_posts(&self, posts: &[(Post, Vec<NewTarget>)]) -> StoreResult<()> {
        let mut tx = crate::pool::Tx::begin(self.pool()).await?;
        for (post, targets) in posts {
            sqlx::query(
                "INSERT INTO posts (id, workspace_id, campaign_id, content, publish_at, time_zone, \
                 created_at) VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7)",
            )
            .bind(&post.id)
            .bind(&post.workspace_id)
            .bind(&post.campaign_id)
            .bind(post.content.to_string())
            .bind(post.publish_at)
            .bind(&post.time_zone)
            .bind(post.created_at)
            .execute(&mut *tx)
            .await?;
            for (i, t) in targets.iter().enumerate() {
                sqlx::query(
                    "INSERT INTO post_targets (id, post_id, workspace_id, position, connection_id, \
                     page_id, platform, status, due_at, next_attempt_at, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, 'scheduled', $8, $8, $9, $9)",
                )
                .bind(&t.id)
                .bind(&post.id)
                .bind(&post.workspace_id)
                .bind(i64::try_from(i).unwrap_or(i64::MAX))
                .bind(&t.connection_id)
                .bind(&t.page_id)
                .bind(&t.platform)
                .bind(post.publish_at)
                .bind(post.created_at)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    async fn get_post(&self, workspace_id: &str, id: &str) -> StoreResult<Option<Post>> {
        sqlx::query(&format!(
            "SELECT {POST_COLUMNS} FROM posts p WHERE p.workspace_id = $1 AND p.id = $2"
        ))
        .bind(workspace_id)
        .bind(id)
        .fetch_optional(self.pool())
        .await?
        .as_ref()
        .map(post_from_row)
        .transpose()
    }

    async fn list_targets(&self, post_id: &str) -> StoreResult<Vec<PostTarget>> {
        sqlx::query(&format!(
            "SELECT {TARGET_COLUMNS} FROM post_targets WHERE post_id = $1 ORDER BY position"
        ))
        .bind(post_id)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(target_from_row)
        .collect()
    }

    async fn get_target(&self, id: &str) -> StoreResult<Option<PostTarget>> {
        sqlx::query(&format!(
            "SELECT {TARGET_COLUMNS} FROM post_targets WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(self.pool())
        .await?
        .as_ref()
        .map(target_from_row)
        .transpose()
    }

    async fn list_posts(&self, workspace_id: &str, filter: &PostFilter) -> StoreResult<Vec<Post>> {
        // Only the filters given become clauses, so the planner sees plain equalities and ranges
        // on `(workspace_id, [campaign_id,] publish_at, id)` (migration 0013) and walks the
        // index in order from the cursor's key, stopping after `limit` rows.
        let mut q = sqlx::QueryBuilder::<sqlx::Postgres>::new(format!(
            "SELECT {POST_COLUMNS} FROM posts p WHERE p.workspace_id = "
        ));
        q.push_bind(workspace_id);
        if let Some(c) = &filter.campaign_id {
            q.push(" AND p.campaign_id = ").push_bind(c);
        }
        if let Some(from) = filter.from {
            q.push(" AND p.publish_at >= ").push_bind(from);
        }
        if let Some(to) = filter.to {
            q.push(" AND p.publish_at < ").push_bind(to);
        }
        if let Some(after) = &filter.after {
            q.push(" AND (p.publish_at, p.id) < (")
                .push_bind(after.publish_at)
                .push(", ")
                .push_bind(&after.id)
                .push(")");
        }
        if let Some(before) = &filter.before {
            q.push(" AND (p.publish_at, p.id) > (")
                .push_bind(before.publish_at)
                .push(", ")
                .push_bind(&before.id)
                .push(")");
        }
        if filter.status.is_some() || filter.platform.is_some() {
            q.push(" AND EXISTS (SELECT 1 FROM post_targets t WHERE t.post_id = p.id");
            if let Some(s) = &filter.status {
                q.push(" AND t.status = ").push_bind(s);
            }
            if let Some(pl) = &filter.platform {
                q.push(" AND t.platform = ").push_bind(pl);
            }
            q.push(")");
        }
        // Backwards (the page before `before`): the closest posts first, then turned around.
        let backwards = filter.before.is_some() && filter.after.is_none();
        q.push(if backwards {
            " ORDER BY p.publish_at ASC, p.id ASC LIMIT "
        } else {
            " ORDER BY p.publish_at DESC, p.id DESC LIMIT "
        })
        .push_bind(i64::from(filter.limit));
        let mut posts = q
            .build()
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(post_from_row)
            .collect::<StoreResult<Vec<_>>>()?;
        if backwards {
            posts.reverse();
        }
        Ok(posts)
    }

    async fn claim_due_targets(
        &self,
        owner: &str,
        lease_until: DateTime<Utc>,
        now: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<PostTarget>> {
        let mut out = sqlx::query(&format!(
            "UPDATE post_targets SET status = 'publishing', locked_by = $1, locked_until = $2, \
             updated_at = $3 \
             WHERE id IN (SELECT id FROM post_targets \
                 WHERE status IN ('scheduled', 'publishing') AND next_attempt_at <= $3 \
                   AND (locked_until IS NULL OR locked_until <= $3) \
                 ORDER BY (locked_until IS NULL), next_attempt_at LIMIT $4 \
                 FOR UPDATE SKIP LOCKED) \
             RETURNING {TARGET_COLUMNS}"
        ))
        .bind(owner)
        .bind(lease_until)
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(target_from_row)
        .collect::<StoreResult<Vec<_>>>()?;
        out.sort_by(|a, b| {
            a.next_attempt_at
                .cmp(&b.next_attempt_at)
                .then(a.id.cmp(&b.id))
        });
        Ok(out)
    }

    async fn renew_lease(
        &self,
        id: &str,
        owner: &str,
        lease_until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE post_targets SET locked_until = $3, updated_at = $4 \
             WHERE id = $1 AND locked_by = $2 AND status = 'publishing'",
        )
        .bind(id)
        .bind(owner)
        .bind(lease_until)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn mark_create_in_flight(
        &self,
        id: &str,
        owner: &str,
        attempt: u32,
        lease_until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE post_targets SET create_attempt = $3, create_sent_at = $4, \
             locked_until = $5, updated_at = $4 \
             WHERE id = $1 AND locked_by = $2 AND status = 'publishing'",
        )
        .bind(id)
        .bind(owner)
        .bind(i64::from(attempt))
        .bind(now)
        .bind(lease_until)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn save_progress(
        &self,
        id: &str,
        owner: &str,
        progress: &Value,
        lease_until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE post_targets SET progress = $3::jsonb, locked_until = $4, updated_at = $5, \
             create_attempt = NULL, create_sent_at = NULL \
             WHERE id = $1 AND locked_by = $2 AND status = 'publishing'",
        )
        .bind(id)
        .bind(owner)
        .bind(progress.to_string())
        .bind(lease_until)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn defer_target(
        &self,
        id: &str,
        owner: &str,
        deferral: &Deferral,
        next_attempt_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        // The marker is cleared only by a retry (the platform certainly did not act).
        let (status, bump, error, clear) = match deferral {
            Deferral::Wait => ("publishing", 0_i64, None, false),
            Deferral::Retry(d) => ("scheduled", 1, Some(d.to_string()), true),
            Deferral::Recheck(d) => ("publishing", 1, Some(d.to_string()), false),
        };
        let done = sqlx::query(
            "UPDATE post_targets SET status = $3, attempts = attempts + $4, \
             last_error = COALESCE($5::jsonb, last_error), next_attempt_at = $6, \
             locked_by = NULL, locked_until = NULL, updated_at = $7, \
             create_attempt = CASE WHEN $8 THEN NULL ELSE create_attempt END, \
             create_sent_at = CASE WHEN $8 THEN NULL ELSE create_sent_at END \
             WHERE id = $1 AND locked_by = $2 AND status = 'publishing'",
        )
        .bind(id)
        .bind(owner)
        .bind(status)
        .bind(bump)
        .bind(error)
        .bind(next_attempt_at)
        .bind(now)
        .bind(clear)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn finish_target(
        &self,
        id: &str,
        owner: &str,
        outcome: &TargetOutcome,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let (post_id, url, progress, error, published_at) = match outcome {
            TargetOutcome::Published {
                post_id,
                url,
                progress,
                warning,
            } => (
                Some(post_id.as_str()),
                url.as_deref(),
                Some(progress.to_string()),
                warning.as_ref().map(|w| w.to_string()),
                Some(now),
            ),
            TargetOutcome::Failed(d) | TargetOutcome::Unknown(d) => {
                (None, None, None, Some(d.to_string()), None)
            }
        };
        let done = sqlx::query(
            "UPDATE post_targets SET status = $3, attempts = attempts + CASE WHEN $3 = 'published' \
             THEN 0 ELSE 1 END, platform_post_id = $4, url = $5, \
             progress = COALESCE($6::jsonb, progress), last_error = $7::jsonb, \
             published_at = $8, locked_by = NULL, locked_until = NULL, updated_at = $9, \
             create_attempt = NULL, create_sent_at = NULL \
             WHERE id = $1 AND locked_by = $2 AND status = 'publishing'",
        )
        .bind(id)
        .bind(owner)
        .bind(outcome.status())
        .bind(post_id)
        .bind(url)
        .bind(progress)
        .bind(error)
        .bind(published_at)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn cancel_targets(&self, post_id: &str, now: DateTime<Utc>) -> StoreResult<u64> {
        let done = sqlx::query(
            "UPDATE post_targets SET status = 'cancelled', updated_at = $2 \
             WHERE post_id = $1 AND status = 'scheduled' \
               AND (locked_until IS NULL OR locked_until <= $2)",
        )
        .bind(post_id)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected())
    }

    async fn retry_targets(&self, post_id: &str, now: DateTime<Utc>) -> StoreResult<u64> {
        let done = sqlx::query(
            "UPDATE post_targets SET status = 'scheduled', attempts = 0, next_attempt_at = $2, \
             updated_at = $2, create_attempt = NULL, create_sent_at = NULL \
             WHERE post_id = $1 AND status = 'failed'",
        )
        .bind(post_id)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected())
    }

    async fn publish_targets_now(&self, post_id: &str, now: DateTime<Utc>) -> StoreResult<u64> {
        let done = sqlx::query(
            "UPDATE post_targets SET due_at = $2, next_attempt_at = $2, updated_at = $2 \
             WHERE post_id = $1 AND status = 'scheduled'",
        )
        .bind(post_id)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected())
    }

    async fn target_summary(&self, workspace_id: &str) -> StoreResult<Vec<SummaryRow>> {
        sqlx::query(
            "SELECT platform, status, COUNT(*) AS n FROM post_targets WHERE workspace_id = $1 \
             GROUP BY platform, status ORDER BY platform, status",
        )
        .bind(workspace_id)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(|row| {
            let n: i64 = row.try_get("n")?;
            Ok(SummaryRow {
                platform: row.try_get("platform")?,
                status: row.try_get("status")?,
                count: u64::try_from(n).unwrap_or(0),
            })
        })
        .collect()
    }
}
