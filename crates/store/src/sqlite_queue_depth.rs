//! [`QueueDepthStore`] on SQLite (timestamps are unix milliseconds).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::queue_depth::{QueueDepth, QueueDepthStore};
use crate::sqlite::SqliteStore;
use crate::StoreResult;

fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

#[async_trait]
impl QueueDepthStore for SqliteStore {
    async fn queue_depth(
        &self,
        refresh_due_before: &[(String, DateTime<Utc>)],
        now: DateTime<Utc>,
    ) -> StoreResult<QueueDepth> {
        let mut depth = QueueDepth::default();
        for (platform, due_before) in refresh_due_before {
            let n: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM connections
                 WHERE platform = ?1 AND expires_at IS NOT NULL AND expires_at <= ?2
                   AND status NOT IN ('needs_reauth', 'revoked', 'pending_selection')
                   AND (next_refresh_at IS NULL OR next_refresh_at <= ?3)",
            )
            .bind(platform)
            .bind(ms(*due_before))
            .bind(ms(now))
            .fetch_one(self.pool())
            .await?;
            depth.refresh_due += count(n);
        }
        let (due, in_flight): (i64, i64) = sqlx::query_as(
            "SELECT COALESCE(SUM(CASE WHEN next_attempt_at <= ?1
                                       AND (locked_until IS NULL OR locked_until <= ?1)
                                  THEN 1 ELSE 0 END), 0),
                    COALESCE(SUM(CASE WHEN locked_until > ?1 THEN 1 ELSE 0 END), 0)
             FROM post_targets WHERE status IN ('scheduled', 'publishing')",
        )
        .bind(ms(now))
        .fetch_one(self.pool())
        .await?;
        depth.publish_due = count(due);
        depth.publish_in_flight = count(in_flight);
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM webhook_deliveries
             WHERE status = 'pending' AND next_attempt_at <= ?1",
        )
        .bind(ms(now))
        .fetch_one(self.pool())
        .await?;
        depth.webhooks_pending = count(n);
        Ok(depth)
    }
}
