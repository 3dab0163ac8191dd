//! The refresh worker's queue: which connections are due, claimed with a lease so that several
//! instances share the work and each due refresh is handled once.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::{Connection, StoreResult};

/// Which connections of one platform are due for a refresh.
#[derive(Debug, Clone)]
pub struct DueRefreshes<'a> {
    /// Platform id.
    pub platform: &'a str,
    /// Due when the access token expires at or before this instant (now + the refresh buffer)
    /// and at least three quarters of its own lifetime (`token_obtained_at` to `expires_at`)
    /// have passed, so that tokens shorter-lived than the buffer are not renewed on every tick.
    pub due_before: DateTime<Utc>,
    /// Only connections holding a refresh token (every platform but Instagram's exchange).
    pub needs_refresh_token: bool,
    /// Only tokens issued at or before this instant (Instagram refreshes tokens ≥ 24 h old).
    pub obtained_before: Option<DateTime<Utc>>,
    /// At most this many.
    pub limit: u32,
    /// Today, in days since the Unix epoch (UTC): the claim counts one attempt on this day.
    pub day: i64,
}

/// A connection claimed for a refresh.
#[derive(Debug, Clone)]
pub struct Claimed {
    /// The connection as stored when claimed.
    pub connection: Connection,
    /// Refresh attempts on `day`, this claim included.
    pub attempts_today: u32,
}

/// Queue operations of the refresh worker.
#[async_trait]
pub trait RefreshQueue {
    /// Claims due connections: sets their refresh lock to `owner` until `lease_until`, counts an
    /// attempt for `due.day`, and returns them, soonest expiry first. Connections whose earlier
    /// lease ran out (a holder that died mid-refresh: work already started and late) are
    /// claimed before the freshly due ones, so a batch smaller than the backlog still takes them
    /// (index `connections_refresh_claim`, migration 0014). Skips connections whose grant is dead (`needs_reauth`,
    /// `revoked`), that wait for the person (`pending_selection`), that are backing off
    /// (`next_refresh_at` in the future) or that another holder has locked. Across processes a
    /// connection is claimed by one holder at a time.
    async fn claim_due_refreshes(
        &self,
        due: &DueRefreshes<'_>,
        owner: &str,
        lease_until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<Claimed>>;

    /// Ends a claim without new tokens: sets when the connection may be tried again (`None`:
    /// whenever due) and releases the refresh lock if `owner` holds it. (New tokens end the claim
    /// through `Store::update_tokens`.)
    async fn release_refresh_claim(
        &self,
        id: &str,
        owner: &str,
        next_at: Option<DateTime<Utc>>,
    ) -> StoreResult<()>;

    /// Connections of `platform` without a refresh token whose access token expires at or before
    /// `warn_before` and that were not yet warned about for their current token, or that have
    /// expired since and are not yet marked `expired`. Dead grants are left out.
    async fn expiry_candidates(
        &self,
        platform: &str,
        warn_before: DateTime<Utc>,
        now: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<Connection>>;

    /// Failed refreshes since the last success (the exponent of the back-off).
    async fn refresh_failures(&self, id: &str) -> StoreResult<u32>;

    /// Records that the person was warned about the current token's expiry.
    async fn mark_expiry_warned(&self, id: &str, at: DateTime<Utc>) -> StoreResult<()>;
}
