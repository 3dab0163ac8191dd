//! Keeping a connection's access token fresh: refresh on demand with a single flight per
//! connection, within this process (an async mutex per connection) and across processes sharing
//! the database (the store's refresh lock), with failures classified.
//!
//! The order of a refresh is the one the platforms' rotating refresh tokens demand: take the
//! locks, re-read the stored tokens (another flight may have refreshed already), call the
//! platform, and store the new tokens before anything else happens. A refresh that fails for a
//! transient reason (5xx, timeout, 429) never marks the grant dead; `invalid_grant` and its kin
//! mean the person must reconnect.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use chrono::Duration;
use secrecy::SecretString;
use serde_json::json;
use switchboard_core::catalog::RefreshKind;
use switchboard_core::connection::{status_from_expiry, ConnectionStatus};
use switchboard_core::diagnosis::{Category, Diagnosis};
use switchboard_oauth::{CurrentTokens, OAuthError};
use switchboard_store::{Connection, TokenUpdate};

use crate::error::ApiError;
use crate::events::{emit, kind};
use crate::{vaulted, AppState};

/// How long before expiry an on-demand read refreshes the access token.
pub const ON_DEMAND_MARGIN_SECS: i64 = 60;

/// Transient refresh failures in a row before a connection shows `refresh_failing`.
pub const FAILURES_BEFORE_FAILING: u32 = 3;

/// A transient failure shows `refresh_failing` at once when the access token has less than this
/// left, minutes.
const TRANSIENT_GRACE_MINUTES: i64 = 5;

/// How long the cross-process refresh lock is held at most, seconds.
const LOCK_SECS: i64 = 30;

/// In-process single flight: one async mutex per connection being refreshed.
#[derive(Debug, Default)]
pub struct Flights {
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl Flights {
    fn lock_for(&self, id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut map = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        // Forget locks nobody holds any more, so the map does not grow with every connection.
        map.retain(|_, m| Arc::strong_count(m) > 1);
        map.entry(id.to_string()).or_default().clone()
    }
}

/// When a refresh is wanted.
#[derive(Debug, Clone, Copy)]
pub enum Need {
    /// Now, whatever the expiry (`POST /refresh`).
    Now,
    /// Only while the access token still expires within `margin` when the locks are held, and
    /// nobody renewed it since the caller read version `seen_version` (another flight may have
    /// refreshed it meanwhile: its tokens are used, not refreshed again, even when they too expire
    /// within the margin).
    ExpiringWithin {
        /// How close to expiry counts as due.
        margin: Duration,
        /// The version the caller decided on.
        seen_version: i64,
    },
}

impl Need {
    /// Due within `margin` of expiry, as seen in `conn`.
    pub fn expiring_within(margin: Duration, conn: &Connection) -> Self {
        Need::ExpiringWithin {
            margin,
            seen_version: conn.version,
        }
    }

    fn applies(self, state: &AppState, conn: &Connection) -> bool {
        match self {
            Need::Now => true,
            Need::ExpiringWithin {
                margin,
                seen_version,
            } => conn.version <= seen_version && wants_refresh(state, conn, margin),
        }
    }
}

/// Why a refresh did not give a fresh token.
#[derive(Debug)]
pub struct RefreshFailure {
    /// The connection after the failure was recorded.
    pub connection: Connection,
    /// What went wrong.
    pub diagnosis: Diagnosis,
    /// The underlying error.
    pub error: OAuthError,
}

/// True when the connection's access token expires within `margin` (at most a quarter of the
/// token's own lifetime) and can be renewed.
pub fn wants_refresh(state: &AppState, conn: &Connection, margin: Duration) -> bool {
    let Ok(spec) = state.platform(&conn.platform) else {
        return false;
    };
    // A dead grant is not retried: the person must reconnect.
    if ConnectionStatus::parse(&conn.status)
        .is_some_and(|s| matches!(s, ConnectionStatus::NeedsReauth | ConnectionStatus::Revoked))
    {
        return false;
    }
    let renewable = match spec.token.refresh {
        RefreshKind::None => false,
        RefreshKind::Exchange => true,
        RefreshKind::Static | RefreshKind::Rotating => conn.refresh_token_sealed.is_some(),
    };
    // A token whose whole life is shorter than four margins is renewed in its last quarter, so
    // short-lived tokens (whatever a platform's `expires_in` says) are not renewed on every read.
    let margin = conn
        .expires_at
        .map(|e| (e - conn.token_obtained_at) / 4)
        .filter(|quarter| *quarter < margin)
        .unwrap_or(margin);
    renewable && conn.expires_at.is_some_and(|e| e <= state.now() + margin)
}

/// Returns a usable access token for `conn`, refreshing first when it expires within
/// [`ON_DEMAND_MARGIN_SECS`]. When the refresh fails but the current token is still valid, the
/// current token is returned (a transient platform failure must not break the product's call).
///
/// # Errors
/// 409 `token-expired` when the token has expired and cannot be renewed; the platform's problem
/// (with diagnosis) when the renewal failed and the token has expired; vault problems.
pub async fn usable_token(
    state: &AppState,
    conn: Connection,
) -> Result<(Connection, SecretString), ApiError> {
    let conn = if wants_refresh(state, &conn, Duration::seconds(ON_DEMAND_MARGIN_SECS)) {
        match refresh(
            state,
            &conn.id,
            Need::expiring_within(Duration::seconds(ON_DEMAND_MARGIN_SECS), &conn),
        )
        .await
        {
            Ok(c) => c,
            Err(f) if f.connection.expires_at.is_some_and(|e| e > state.now()) => f.connection,
            Err(f) => {
                return Err(ApiError::platform(&f.connection.platform, &f.error)
                    .with("connection_status", f.connection.status.clone()));
            }
        }
    } else {
        conn
    };
    if conn.expires_at.is_some_and(|e| e <= state.now()) {
        let spec = state.platform(&conn.platform)?;
        let mut d = Diagnosis::new(Category::TokenExpired)
            .with_docs(spec.docs.first().map(|d| d.url.as_str()));
        d.platform = Some(conn.platform.clone());
        return Err(ApiError::new(
            axum::http::StatusCode::CONFLICT,
            "token-expired",
            "The access token has expired",
            format!(
                "the access token of connection {} expired at {} and {} cannot renew it; reconnect the account",
                conn.id,
                conn.expires_at.map(|e| e.to_rfc3339()).unwrap_or_default(),
                spec.display_name
            ),
        )
        .with_diagnosis(&d));
    }
    let token = vaulted::open_access(state.keyring(), &conn)?;
    Ok((conn, token))
}

/// Refreshes a connection once, however many callers ask at the same time in this process or in
/// others sharing the database. With [`Need::ExpiringWithin`], a connection that no longer needs
/// it (another
/// flight refreshed it meanwhile) is returned as stored.
///
/// # Errors
/// [`RefreshFailure`] with the diagnosis, after the failure and the status it leads to were
/// stored.
pub async fn refresh(state: &AppState, id: &str, need: Need) -> Result<Connection, RefreshFailure> {
    let lock = state.flights().lock_for(id);
    let _in_process = lock.lock().await;
    let store = state.store();
    let owner = state.instance_id();
    let mut waited = 0;
    let conn = loop {
        let conn = load(state, id).await?;
        if !need.applies(state, &conn) {
            return Ok(conn);
        }
        let now = state.now();
        let taken = store
            .try_lock_refresh(id, owner, now + Duration::seconds(LOCK_SECS), now)
            .await
            .map_err(|e| store_failure(&conn, e))?;
        if taken {
            break load(state, id).await?;
        }
        // Another instance is refreshing: wait for it, then read what it stored.
        waited += 1;
        if waited > 100 {
            return Err(failure(
                conn,
                OAuthError::NotPossible(
                    "another instance holds the refresh lock for too long".into(),
                ),
            ));
        }
        tokio::time::sleep(StdDuration::from_millis(100)).await;
    };
    if !need.applies(state, &conn) {
        let _ = store.unlock_refresh(id, owner).await;
        return Ok(conn);
    }
    let result = refresh_locked(state, conn).await;
    state.forget_connection(id);
    if let Err(e) = store.unlock_refresh(id, owner).await {
        tracing::warn!(connection_id = id, error = %e, "refresh lock not released; it expires on its own");
    }
    // `Need::Now` is the API's manual refresh, audited by the route with the API key as actor.
    if let (Ok(c), Need::ExpiringWithin { seen_version, .. }) = (&result, need) {
        if c.version > seen_version {
            crate::audit::record(
                state,
                &c.workspace_id,
                Some(&c.id),
                crate::audit::SYSTEM_REFRESH,
                crate::audit::action::CONNECTION_REFRESHED,
                json!({"platform": c.platform, "expires_at": c.expires_at}),
            )
            .await;
        }
    }
    result
}

/// What became of a connection the refresh worker had claimed ([`refresh_claimed`]).
#[derive(Debug)]
pub enum ClaimedRefresh {
    /// New tokens were stored; the same write ended the claim.
    Refreshed(Connection),
    /// Nothing to do any more (renewed meanwhile by an on-demand flight or another instance):
    /// the connection as stored; this instance still holds the claim.
    NotNeeded(Connection),
    /// The claim ran out before this instance got to the connection and another holder has
    /// it now: nothing was done, and the claim is theirs to end.
    HeldElsewhere,
}

/// Refreshes a connection the refresh worker has claimed. Takes this process's single flight,
/// then renews the claim in the store for `lease` from now right before anything else: a claim
/// taken with a batch may have run out while this instance worked through the batch, and
/// another instance may hold it now (two holders sending one rotating refresh token would kill
/// the grant). Then re-reads the row (an on-demand flight or another instance may have
/// refreshed meanwhile) and refreshes when `need` still applies.
///
/// # Errors
/// As [`refresh`]; a database failure renewing the claim is a [`RefreshFailure`] with
/// [`OAuthError::NotPossible`].
pub async fn refresh_claimed(
    state: &AppState,
    id: &str,
    need: Need,
    lease: Duration,
) -> Result<ClaimedRefresh, RefreshFailure> {
    let lock = state.flights().lock_for(id);
    let _in_process = lock.lock().await;
    let now = state.now();
    let renewed = state
        .store()
        .try_lock_refresh(id, state.instance_id(), now + lease, now)
        .await;
    match renewed {
        Ok(true) => {}
        Ok(false) => return Ok(ClaimedRefresh::HeldElsewhere),
        Err(e) => return Err(store_failure(&gone(id), e)),
    }
    let conn = load(state, id).await?;
    if !need.applies(state, &conn) {
        return Ok(ClaimedRefresh::NotNeeded(conn));
    }
    let result = refresh_locked(state, conn).await;
    state.forget_connection(id);
    let c = result?;
    crate::audit::record(
        state,
        &c.workspace_id,
        Some(&c.id),
        crate::audit::SYSTEM_REFRESH,
        crate::audit::action::CONNECTION_REFRESHED,
        json!({"platform": c.platform, "expires_at": c.expires_at}),
    )
    .await;
    Ok(ClaimedRefresh::Refreshed(c))
}

async fn load(state: &AppState, id: &str) -> Result<Connection, RefreshFailure> {
    match state.store().get_connection_by_id(id).await {
        Ok(Some(c)) => Ok(c),
        Ok(None) => Err(RefreshFailure {
            connection: gone(id),
            diagnosis: Diagnosis::new(Category::InvalidRequest),
            error: OAuthError::NotPossible("the connection was deleted".into()),
        }),
        Err(e) => Err(RefreshFailure {
            connection: gone(id),
            diagnosis: Diagnosis::new(Category::Unknown),
            error: OAuthError::NotPossible(format!("database error: {e}")),
        }),
    }
}

fn gone(id: &str) -> Connection {
    Connection {
        id: id.to_string(),
        workspace_id: String::new(),
        platform: String::new(),
        owner: String::new(),
        account_id: String::new(),
        account_name: None,
        username: None,
        avatar_url: None,
        scopes: Vec::new(),
        status: ConnectionStatus::Revoked.as_str().into(),
        access_token_sealed: String::new(),
        refresh_token_sealed: None,
        token_type: String::new(),
        expires_at: None,
        refresh_expires_at: None,
        token_obtained_at: chrono::DateTime::<chrono::Utc>::MIN_UTC,
        last_refreshed_at: None,
        last_error: None,
        metadata: json!({}),
        version: 0,
        created_at: chrono::DateTime::<chrono::Utc>::MIN_UTC,
        updated_at: chrono::DateTime::<chrono::Utc>::MIN_UTC,
    }
}

fn store_failure(conn: &Connection, e: switchboard_store::StoreError) -> RefreshFailure {
    RefreshFailure {
        connection: conn.clone(),
        diagnosis: Diagnosis::new(Category::Unknown),
        error: OAuthError::NotPossible(format!("database error: {e}")),
    }
}

fn failure(conn: Connection, error: OAuthError) -> RefreshFailure {
    RefreshFailure {
        diagnosis: error.diagnosis(),
        connection: conn,
        error,
    }
}

/// The refresh itself, with both locks held, in a span naming the connection and workspace
/// (its platform call and every log line inside carry them), counted in
/// `switchboard_refreshes_total` by platform and outcome.
async fn refresh_locked(state: &AppState, conn: Connection) -> Result<Connection, RefreshFailure> {
    use tracing::Instrument;
    let platform = conn.platform.clone();
    let span = tracing::info_span!(
        "refresh",
        connection_id = %conn.id,
        workspace_id = %conn.workspace_id,
        platform = %conn.platform,
    );
    let result = refresh_once(state, conn).instrument(span).await;
    crate::metrics::refresh(
        &platform,
        match &result {
            Ok(_) => "success",
            Err(f) if f.connection.status == ConnectionStatus::NeedsReauth.as_str() => {
                "needs_reauth"
            }
            Err(f) if f.diagnosis.retryable => "retryable_failure",
            Err(_) => "failure",
        },
    );
    result
}

async fn refresh_once(state: &AppState, conn: Connection) -> Result<Connection, RefreshFailure> {
    let spec = match state.platform(&conn.platform) {
        Ok(s) => s.clone(),
        Err(_) => {
            return Err(failure(
                conn,
                OAuthError::Config("the platform is no longer configured".into()),
            ))
        }
    };
    let Some(creds) = state.credentials(&conn.platform) else {
        return Err(failure(
            conn,
            OAuthError::Config("no client credentials configured".into()),
        ));
    };
    let opened = vaulted::open_access(state.keyring(), &conn)
        .and_then(|a| Ok((a, vaulted::open_refresh(state.keyring(), &conn)?)));
    let (access, refresh_token) = match opened {
        Ok(t) => t,
        Err(e) => {
            return Err(failure(
                conn,
                OAuthError::NotPossible(format!("stored tokens cannot be decrypted: {}", e.detail)),
            ))
        }
    };
    let current = CurrentTokens {
        access_token: &access,
        refresh_token: refresh_token.as_ref(),
        obtained_at: conn.token_obtained_at,
    };
    let now = state.now();
    match state.oauth().refresh(&spec, &creds, &current).await {
        Ok(tokens) => {
            let (access_sealed, refresh_sealed) =
                vaulted::seal_tokens(state.keyring(), &conn.id, &tokens);
            let can_refresh = refresh_sealed.is_some()
                || conn.refresh_token_sealed.is_some()
                || spec.token.refresh == RefreshKind::Exchange;
            let status = status_from_expiry(
                now,
                tokens.expires_at,
                can_refresh,
                Duration::seconds(state.config().expiry_warning_secs as i64),
            );
            let update = TokenUpdate {
                access_token_sealed: access_sealed,
                refresh_token_sealed: refresh_sealed,
                token_type: tokens.token_type.clone(),
                expires_at: tokens.expires_at,
                refresh_expires_at: tokens.refresh_expires_at,
                scopes: (!tokens.scopes.is_empty()).then(|| tokens.scopes.clone()),
                token_obtained_at: now,
                status: status.as_str().to_string(),
                refreshed_at: Some(now),
            };
            // Stored before anything else: a rotated refresh token exists nowhere else.
            let saved = match state
                .store()
                .update_tokens(&conn.id, &update, Some(conn.version), now)
                .await
            {
                Ok(Some(c)) => c,
                Ok(None) => {
                    tracing::error!(connection_id = %conn.id, "connection changed during a refresh under lock; the new tokens were not stored");
                    return Err(failure(
                        conn,
                        OAuthError::NotPossible("the connection changed during the refresh".into()),
                    ));
                }
                Err(e) => {
                    tracing::error!(connection_id = %conn.id, error = %e, "refreshed tokens could not be stored");
                    return Err(store_failure(&conn, e));
                }
            };
            let recovered = ConnectionStatus::parse(&conn.status)
                .is_some_and(|s| s != ConnectionStatus::Healthy);
            emit(
                state,
                &saved.workspace_id,
                Some(&saved.id),
                kind::CONNECTION_REFRESHED,
                json!({"platform": saved.platform, "expires_at": saved.expires_at}),
            )
            .await;
            if recovered && status == ConnectionStatus::Healthy {
                emit(
                    state,
                    &saved.workspace_id,
                    Some(&saved.id),
                    kind::CONNECTION_RECOVERED,
                    json!({"platform": saved.platform, "previous_status": conn.status}),
                )
                .await;
            }
            Ok(saved)
        }
        Err(error) => {
            let diagnosis = error.diagnosis();
            let earlier = state.store().refresh_failures(&conn.id).await.unwrap_or(0);
            let status = failed_status(&conn, &error, now, earlier);
            let d_json = serde_json::to_value(&diagnosis).unwrap_or_default();
            if let Err(e) = state
                .store()
                .record_connection_error(&conn.id, status.as_str(), &d_json, now)
                .await
            {
                tracing::error!(connection_id = %conn.id, error = %e, "refresh failure could not be recorded");
            }
            let event = if status == ConnectionStatus::NeedsReauth {
                kind::CONNECTION_NEEDS_REAUTH
            } else {
                kind::CONNECTION_REFRESH_FAILED
            };
            emit(
                state,
                &conn.workspace_id,
                Some(&conn.id),
                event,
                json!({"platform": conn.platform, "status": status, "diagnosis": d_json}),
            )
            .await;
            tracing::warn!(connection_id = %conn.id, platform = %conn.platform, category = %diagnosis.category, status = %status, "refresh failed");
            let mut connection = conn;
            connection.status = status.as_str().to_string();
            connection.last_error = Some(d_json);
            Err(RefreshFailure {
                connection,
                diagnosis,
                error,
            })
        }
    }
}

/// The status a failed refresh leaves the connection in. A dead grant needs the person; a
/// transient failure never does, and while the access token is valid the connection still works.
fn failed_status(
    conn: &Connection,
    error: &OAuthError,
    now: chrono::DateTime<chrono::Utc>,
    earlier_failures: u32,
) -> ConnectionStatus {
    let still_valid = conn.expires_at.is_none_or(|e| e > now);
    match error {
        // One passing failure while the token has time left is not worth alarming anyone: the
        // connection stays as it was (the failure is recorded and retried). It turns
        // `refresh_failing` after repeated failures or when the token is about to run out.
        OAuthError::Platform(d) | OAuthError::Network(d) if d.retryable => {
            let time_left = conn
                .expires_at
                .is_none_or(|e| e > now + Duration::minutes(TRANSIENT_GRACE_MINUTES));
            if time_left && earlier_failures + 1 < FAILURES_BEFORE_FAILING {
                ConnectionStatus::parse(&conn.status).unwrap_or(ConnectionStatus::Healthy)
            } else {
                ConnectionStatus::RefreshFailing
            }
        }
        OAuthError::Platform(d)
            if matches!(
                d.category,
                Category::TokenRevoked | Category::TokenExpired | Category::InsufficientScope
            ) =>
        {
            ConnectionStatus::NeedsReauth
        }
        OAuthError::NotPossible(_) if still_valid => {
            ConnectionStatus::parse(&conn.status).unwrap_or(ConnectionStatus::Healthy)
        }
        OAuthError::NotPossible(_) => ConnectionStatus::Expired,
        _ => ConnectionStatus::RefreshFailing,
    }
}
