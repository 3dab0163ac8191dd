//! [`RateLimitStore`] for [`PgStore`] (table of `migrations/postgres/0010_rate_limits.sql`).
//! One `INSERT … ON CONFLICT DO UPDATE … RETURNING` per call: the row lock taken by the update
//! makes concurrent additions from several instances serialise, each seeing its own total.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Row;

use crate::postgres::PgStore;
use crate::rate_limits::RateLimitStore;
use crate::StoreResult;

#[async_trait]
impl RateLimitStore for PgStore {
    async fn add_to_rate_window(
        &self,
        key: &str,
        window_start: DateTime<Utc>,
        n: u64,
    ) -> StoreResult<u64> {
        let n = i64::try_from(n).unwrap_or(i64::MAX);
        let row = sqlx::query(
            "INSERT INTO rate_limit_windows (key, window_start, count) VALUES ($1, $2, $3) \
             ON CONFLICT (key, window_start) \
             DO UPDATE SET count = rate_limit_windows.count + EXCLUDED.count \
             RETURNING count",
        )
        .bind(key)
        .bind(window_start)
        .bind(n)
        .fetch_one(self.pool())
        .await?;
        let count: i64 = row.try_get("count")?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    async fn purge_rate_windows(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM rate_limit_windows WHERE window_start < $1")
            .bind(before)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected())
    }
}
