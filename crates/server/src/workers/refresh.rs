//! The refresh worker: renews access tokens before they expire, and warns before a token that
//! cannot be renewed runs out.
//!
//! Each tick, every platform side by side (one slow platform never holds another back): claim
//! the connections whose access token expires within the platform's refresh buffer (a lease in
//! the store, so instances share the work), and refresh
//! each through [`lifecycle::refresh`] (the same single flight as on-demand refreshes). A
//! transient failure schedules the next try with exponential back-off and jitter, never sooner
//! than the platform's `Retry-After`; a connection is tried at most
//! [`MAX_ATTEMPTS_PER_DAY`] times a day. A dead grant is not claimed again.

use chrono::{DateTime, Duration, Utc};
use futures::StreamExt;
use rand::Rng;
use serde_json::json;
use switchboard_core::catalog::RefreshKind;
use switchboard_core::connection::ConnectionStatus;
use switchboard_core::PlatformSpec;
use switchboard_store::refresh_queue::{Claimed, DueRefreshes};
use switchboard_store::Connection;

use crate::events::{emit, kind};
use crate::lifecycle::{self, ClaimedRefresh, Need};
use crate::AppState;

/// Refresh attempts per connection per UTC day, successes included (YouTube's one-hour tokens
/// need about 32 a day; a failing connection backs off far below this).
pub const MAX_ATTEMPTS_PER_DAY: u32 = 64;
/// Connections claimed per platform per round.
const CLAIM_BATCH: u32 = 200;
/// Refreshes in flight at once per platform per instance (platforms run side by side).
pub const CONCURRENCY: usize = 16;
/// First back-off after a transient failure, seconds; doubled per failure.
const BACKOFF_BASE_SECS: i64 = 30;
/// Longest back-off, seconds.
const BACKOFF_MAX_SECS: i64 = 3600;
/// Longest refresh buffer when neither configuration nor the catalog says otherwise.
const DEFAULT_BUFFER_SECS: u64 = 7200;

/// The refresh buffer of a platform: configured (`refresh_buffer_secs.<platform>`), else a
/// quarter of the documented access lifetime, at most 2 hours (X's 2-hour tokens: 30 minutes;
/// YouTube's hour: 15 minutes; 30- and 60-day tokens: 2 hours).
pub fn buffer_for(state: &AppState, spec: &PlatformSpec) -> Duration {
    let secs = state
        .config()
        .refresh_buffer_secs
        .get(&spec.id)
        .copied()
        .unwrap_or_else(|| {
            spec.token
                .access_lifetime_secs
                .map(|l| (l / 4).min(DEFAULT_BUFFER_SECS))
                .unwrap_or(DEFAULT_BUFFER_SECS)
        });
    Duration::seconds(i64::try_from(secs).unwrap_or(i64::MAX / 1000))
}

/// One pass: refreshes the due connections and raises expiry warnings. Returns how many
/// connections it handled.
///
/// # Errors
/// Database failures.
pub async fn tick(state: &AppState) -> anyhow::Result<usize> {
    let refreshed = refresh_due(state).await?;
    let warned = warn_expiring(state).await?;
    Ok(refreshed + warned)
}

/// Every platform at once, each with its own [`CONCURRENCY`] (a platform that answers slowly or
/// times out holds only its own refreshes back, never another platform's).
async fn refresh_due(state: &AppState) -> anyhow::Result<usize> {
    let specs: Vec<PlatformSpec> = state
        .catalog()
        .all()
        .iter()
        .filter(|p| p.can_refresh())
        .cloned()
        .collect();
    let results =
        futures::future::join_all(specs.iter().map(|spec| refresh_platform(state, spec))).await;
    let mut handled = 0;
    for r in results {
        handled += r?;
    }
    Ok(handled)
}

async fn refresh_platform(state: &AppState, spec: &PlatformSpec) -> anyhow::Result<usize> {
    let mut handled = 0;
    let buffer = buffer_for(state, spec);
    loop {
        let now = state.now();
        let due = DueRefreshes {
            platform: &spec.id,
            due_before: now + buffer,
            needs_refresh_token: spec.token.refresh != RefreshKind::Exchange,
            obtained_before: spec
                .token
                .min_refresh_age_secs
                .map(|a| now - Duration::seconds(a as i64)),
            limit: CLAIM_BATCH,
            day: now.timestamp().div_euclid(86_400),
        };
        let claimed = state
            .store()
            .claim_due_refreshes(&due, state.instance_id(), now + lease(state), now)
            .await?;
        let n = claimed.len();
        futures::stream::iter(claimed)
            .for_each_concurrent(CONCURRENCY, |c| refresh_one(state, c, buffer))
            .await;
        handled += n;
        if n < CLAIM_BATCH as usize {
            break;
        }
    }
    Ok(handled)
}

/// How long a claim holds a connection: `refresh_lease_secs` (a refresh takes one platform
/// call; the claim is renewed right before it).
fn lease(state: &AppState) -> Duration {
    Duration::seconds(i64::try_from(state.config().refresh_lease_secs.max(1)).unwrap_or(60))
}

async fn refresh_one(state: &AppState, claimed: Claimed, buffer: Duration) {
    let conn = claimed.connection;
    let now = state.now();
    if claimed.attempts_today > MAX_ATTEMPTS_PER_DAY {
        let day = now.timestamp().div_euclid(86_400);
        let tomorrow = DateTime::<Utc>::from_timestamp((day + 1) * 86_400, 0).unwrap_or(now);
        tracing::warn!(connection_id = %conn.id, platform = %conn.platform, attempts = claimed.attempts_today, "daily refresh bound reached; next try tomorrow");
        release(state, &conn.id, Some(tomorrow)).await;
        return;
    }
    let need = Need::expiring_within(buffer, &conn);
    match lifecycle::refresh_claimed(state, &conn.id, need, lease(state)).await {
        // New tokens ended the claim in the same write; another holder ends its own claim.
        Ok(ClaimedRefresh::Refreshed(_) | ClaimedRefresh::HeldElsewhere) => {}
        Ok(ClaimedRefresh::NotNeeded(_)) => release(state, &conn.id, None).await,
        Err(f) => {
            let next = next_try(state, &conn, &f).await;
            release(state, &conn.id, next).await;
        }
    }
}

async fn release(state: &AppState, id: &str, next: Option<DateTime<Utc>>) {
    if let Err(e) = state
        .store()
        .release_refresh_claim(id, state.instance_id(), next)
        .await
    {
        tracing::warn!(connection_id = id, error = %e, "refresh claim not released; its lease ends on its own");
    }
}

/// When to try a failed refresh again: `None` for a dead grant (never claimed again anyway).
async fn next_try(
    state: &AppState,
    conn: &Connection,
    f: &lifecycle::RefreshFailure,
) -> Option<DateTime<Utc>> {
    let now = state.now();
    if let switchboard_oauth::OAuthError::NotPossible(_) = f.error {
        // Not yet possible (Instagram's 24-hour rule) or not possible at all: look again later.
        return Some(now + Duration::hours(1));
    }
    if !f.diagnosis.retryable {
        return None;
    }
    let failures = state
        .store()
        .refresh_failures(&conn.id)
        .await
        .unwrap_or(1)
        .max(1);
    let exp = BACKOFF_BASE_SECS.saturating_mul(1 << (failures - 1).min(16));
    let ceiling = exp.min(BACKOFF_MAX_SECS);
    // Full jitter between half and all of the back-off, so failing connections spread out.
    let delay = rand::thread_rng().gen_range(ceiling / 2..=ceiling);
    let asked = f
        .diagnosis
        .retry_after_secs
        .and_then(|s| i64::try_from(s).ok())
        .unwrap_or(0);
    Some(now + Duration::seconds(delay.max(asked)))
}

/// Warns before a token that cannot be renewed expires, and marks it expired once it has.
async fn warn_expiring(state: &AppState) -> anyhow::Result<usize> {
    let now = state.now();
    let warn = Duration::seconds(state.config().expiry_warning_secs as i64);
    let mut handled = 0;
    let platforms: Vec<(String, String)> = state
        .catalog()
        .all()
        .iter()
        .filter(|p| p.token.refresh != RefreshKind::Exchange)
        .map(|p| (p.id.clone(), p.display_name.clone()))
        .collect();
    for (platform, name) in platforms {
        let candidates = state
            .store()
            .expiry_candidates(&platform, now + warn, now, 500)
            .await?;
        for c in candidates {
            let Some(expires_at) = c.expires_at else {
                continue;
            };
            let (status, event) = if expires_at <= now {
                (ConnectionStatus::Expired, kind::CONNECTION_NEEDS_REAUTH)
            } else {
                (
                    ConnectionStatus::ExpiringSoon,
                    kind::CONNECTION_EXPIRING_SOON,
                )
            };
            state
                .store()
                .set_connection_status(&c.id, status.as_str(), now)
                .await?;
            state.store().mark_expiry_warned(&c.id, now).await?;
            state.forget_connection(&c.id);
            emit(
                state,
                &c.workspace_id,
                Some(&c.id),
                event,
                json!({
                    "platform": c.platform,
                    "status": status,
                    "expires_at": expires_at,
                    "reason": format!("{name} issued no refresh token for this connection; the person must reconnect before the access token expires"),
                    "reconnect": {"method": "POST", "path": format!("/v1/connect/{}", c.platform), "body": {"owner": c.owner}},
                }),
            )
            .await;
            handled += 1;
        }
    }
    Ok(handled)
}
