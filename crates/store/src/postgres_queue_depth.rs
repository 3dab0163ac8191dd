//! [`QueueDepthStore`] on PostgreSQL. Plain counts, no locks: a sample may be a moment old.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::postgres::PgStore;
use crate::queue_depth::{QueueDepth, QueueDepthStore};
use crate::StoreResult;

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

#[async_trait]
impl QueueDepthStore for PgStore {
    async fn queue_depth(
        &self,
        refresh_due_before: &[(String, DateTime<Utc>)],
        now: DateTime<Utc>,
    ) -> StoreResult<QueueDepth> {
        let mut depth = QueueDepth::default();
        for (platform, due_before) in refresh_due_before {
            let n: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM connections
                 WHERE platform = $1 AND expires_at IS NOT NULL AND expires_at <= $2
                   AND status NOT IN ('needs_reauth', 'revoked', 'pending_selection')
                   AND (next_refresh_at IS NULL OR next_refresh_at <= $3)",
            )
            .bind(platform)
            .bind(*due_before)
            .bind(now)
            .fetch_one(self.pool())
            .await?;
            depth.refresh_due += count(n);
        }
        let (due, in_flight): (i64, i64) = sqlx::query_as(
            "SELECT COUNT(*) FILTER (WHERE next_attempt_at <= $1
                                     AND (locked_until IS NULL OR locked_until <= $1)),
                    COUNT(*) FILTER (WHERE locked_until > $1)
             FROM post_targets WHERE status IN ('scheduled', 'publishing')",
        )
        .bind(now)
        .fetch_one(self.pool())
        .await?;
        depth.publish_due = count(due);
        depth.publish_in_flight = count(in_flight);
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM webhook_deliveries
             WHERE status = 'pending' AND next_attempt_at <= $1",
        )
        .bind(now)
        .fetch_one(self.pool())
        .await?;
        depth.webhooks_pending = count(n);
        Ok(depth)
    }
}
