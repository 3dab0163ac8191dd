//! Rate-limit counters shared by every instance on one database (issue 7 item 6).
//!
//! One row per (key, window): `key` names what is counted (for example `api:ws:<workspace id>`
//! or `callback:ip:203.0.113.7`), `window_start` the start of a fixed window, `count` the
//! requests counted (or reserved) in it so far. [`RateLimitStore::add_to_rate_window`] adds to a
//! counter in one atomic statement (`INSERT … ON CONFLICT DO UPDATE … RETURNING`), so the
//! instances sharing a PostgreSQL database count together; on SQLite the single writer gives the
//! same guarantee. Rows of past windows are removed with
//! [`RateLimitStore::purge_rate_windows`].
//!
//! Table `rate_limit_windows` (migration `0010_rate_limits.sql`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::StoreResult;

/// Shared fixed-window counters.
#[async_trait]
pub trait RateLimitStore {
    /// Adds `n` to the counter of `key` in the window starting at `window_start` (creating it at
    /// `n`), in one statement, and returns the counter after the addition. Of any number of
    /// concurrent calls (in any process) each sees a distinct total, so the totals can be used to
    /// hand out at most `limit` requests per window.
    async fn add_to_rate_window(
        &self,
        key: &str,
        window_start: DateTime<Utc>,
        n: u64,
    ) -> StoreResult<u64>;

    /// Deletes the counters of windows that started before `before`. Returns how many rows went.
    async fn purge_rate_windows(&self, before: DateTime<Utc>) -> StoreResult<u64>;
}
