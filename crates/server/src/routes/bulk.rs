//! Bulk connect: start connect sessions for several platforms at once and follow their progress.
//!
//! - `POST /v1/connect/bulk {owner, platforms, return_to?}` starts one session per platform
//!   through the same code as `POST /v1/connect/{platform}` (`connect::start_session`), each
//!   state tagged with the batch id in its `metadata`, and stores the batch.
//! - The callback of a tagged state records its outcome ([`record_outcome`]).
//! - `GET /v1/connect/bulk/{id}` reports each platform's status, the overall percent and an
//!   estimate of the time left, and gives each consent link again while its state can still be
//!   used (unconsumed, unexpired): a person who closed the page does not lose them. The links
//!   carry the OAuth state, so they are stored sealed by the vault
//!   (`vaulted::bulk_url_context`), opened only for the batch's own workspace, and cleared when
//!   the callback records the outcome.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};
use switchboard_core::diagnosis::{Category, Diagnosis};
use switchboard_store::bulk::{
    BatchSession, ConnectBatch, SESSION_CONNECTED, SESSION_FAILED, SESSION_PENDING,
};
use switchboard_store::{Connection, OAuthState};

use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, WorkspaceAuth};
use crate::routes::connect::{hash_state, start_session, ConnectRequest};
use crate::{vaulted, AppState};

/// Key of the batch id in an OAuth state's `metadata`.
const BATCH_KEY: &str = "batch_id";

/// Body of `POST /v1/connect/bulk`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkRequest {
    /// The end user the connections are for (1-256 characters), as in single connect.
    #[schema(min_length = 1, max_length = 256, pattern = "\\S", example = "user-42")]
    pub owner: String,
    /// Platform ids, each at most once, at least one.
    #[schema(min_items = 1, example = json!(["linkedin", "youtube"]))]
    pub platforms: Vec<String>,
    /// Where to send the browser after each callback; must fall under `allowed_return_urls`.
    #[serde(default)]
    pub return_to: Option<String>,
}

/// Checks the platform list before anything starts: non-empty, no repeats, each one known and
/// configured. Errors are 422 naming `platforms` or `platforms[i]`.
fn check_platforms(state: &AppState, platforms: &[String]) -> Result<(), ApiError> {
    if platforms.is_empty() {
        return Err(ApiError::validation(
            "platforms",
            "platforms must list at least one platform id",
        ));
    }
    for (i, p) in platforms.iter().enumerate() {
        let field = format!("platforms[{i}]");
        if platforms[..i].contains(p) {
            return Err(ApiError::validation(
                &field,
                format!("{p:?} is listed more than once"),
            ));
        }
        let Some(spec) = state.catalog().get(p) else {
            return Err(ApiError::validation(
                &field,
                format!(
                    "there is no platform {p:?}; known platforms: {}",
                    state.catalog().ids().join(", ")
                ),
            )
            .with("known_platforms", state.catalog().ids()));
        };
        if state.credentials(p).is_none() {
            return Err(ApiError::validation(
                &field,
                format!(
                    "{} is not configured: it has no client credentials (see `switchboard doctor`)",
                    spec.display_name
                ),
            ));
        }
    }
    Ok(())
}

/// `POST /v1/connect/bulk` → 201 `{batch_id, owner, expires_at, sessions: [{platform,
/// authorization_url, state, expires_at}]}`, sessions in the order asked.
///
/// Errors: 422 `validation-error` naming `platforms` / `platforms[i]` (empty list, repeated,
/// unknown or unconfigured platform), `owner` or `return_to`; nothing is started then.
#[utoipa::path(
    post,
    path = "/v1/connect/bulk",
    operation_id = "startBulkConnect",
    tag = "connect",
    summary = "Start connecting several platforms at once",
    request_body = BulkRequest,
    security(("api_key" = [])),
    responses(
        (status = 201, description = "One session per platform, in the order asked.", body = crate::openapi::BulkSessions),
        (status = 400, description = "`malformed-body`: the body is not JSON.", body = crate::openapi::Problem, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported-media-type`: the body is not `application/json`.", body = crate::openapi::Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation-error` naming `platforms` or `platforms[i]` (empty, repeated, unknown or unconfigured), `owner` or `return_to`; nothing is started.", body = crate::openapi::Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn start_bulk(
    State(state): State<AppState>,
    auth: WorkspaceAuth,
    ApiJson(req): ApiJson<BulkRequest>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    check_platforms(&state, &req.platforms)?;
    let batch_id = uuid::Uuid::now_v7().to_string();
    let single = ConnectRequest {
        owner: req.owner.clone(),
        scopes: Vec::new(),
        return_to: req.return_to.clone(),
    };
    // The owner and return_to checks run in the first start, before it stores anything. A
    // session that fails to start after others did leaves their states to expire unused: no
    // batch is stored.
    let mut started = Vec::with_capacity(req.platforms.len());
    let mut sessions = Vec::with_capacity(req.platforms.len());
    for (i, platform) in req.platforms.iter().enumerate() {
        let s = start_session(
            &state,
            &auth.workspace_id,
            platform,
            &single,
            Some(&batch_id),
        )
        .await?;
        let state_value = s["state"].as_str().unwrap_or_default();
        let expires_at: DateTime<Utc> = serde_json::from_value(s["expires_at"].clone())
            .map_err(|e| ApiError::internal("connect session without expiry", &e))?;
        let state_hash = hash_state(state_value);
        // The link holds the state: sealed for this session's row, never stored in clear.
        let url_sealed = s["authorization_url"].as_str().map(|u| {
            state
                .keyring()
                .seal(&vaulted::bulk_url_context(&state_hash), u)
        });
        sessions.push(BatchSession {
            batch_id: batch_id.clone(),
            position: i as i64,
            platform: platform.clone(),
            authorization_url_sealed: url_sealed,
            state_hash,
            status: SESSION_PENDING.to_string(),
            connection_id: None,
            diagnosis: None,
            expires_at,
            finished_at: None,
        });
        started.push(json!({
            "platform": platform,
            "authorization_url": s["authorization_url"],
            "state": s["state"],
            "expires_at": s["expires_at"],
        }));
    }
    let now = state.now();
    let expires_at = sessions.iter().map(|s| s.expires_at).max().unwrap_or(now);
    let batch = ConnectBatch {
        id: batch_id.clone(),
        workspace_id: auth.workspace_id.clone(),
        owner: single.owner.trim().to_string(),
        created_at: now,
        expires_at,
    };
    state.store().insert_batch(&batch, &sessions).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "batch_id": batch_id,
            "owner": batch.owner,
            "expires_at": expires_at,
            "sessions": started,
        })),
    ))
}

/// The diagnosis of a session that expired before its callback came.
fn expired_diagnosis(session: &BatchSession, ttl_minutes: u64) -> Diagnosis {
    let mut d = Diagnosis::new(Category::InvalidRequest);
    d.cause = format!(
        "The connect session expired at {} before the person finished connecting (sessions last {ttl_minutes} minutes).",
        session.expires_at.to_rfc3339()
    );
    d.fix = vec![
        "Start connecting this platform again (POST /v1/connect/{platform} or a new bulk connect)."
            .to_string(),
        "Finish the platform's consent page within the session's lifetime.".to_string(),
    ];
    d.platform = Some(session.platform.clone());
    d
}

/// `GET /v1/connect/bulk/{id}` → `{batch_id, owner, created_at, expires_at, total, done,
/// percent, estimated_seconds_left, sessions: [{platform, status, authorization_url,
/// connection_id, reason, diagnosis, finished_at}]}`.
///
/// - `status` is `pending`, `connected`, `failed` or `expired`: a pending session past its
///   state's expiry is `expired` with `reason: "expired"` and an expiry diagnosis; failures have
///   `reason` = the diagnosis category (`access_denied`...).
/// - `authorization_url`: the session's consent link while it is `pending` (its state neither
///   consumed nor expired), opened from its sealed copy; `null` otherwise.
/// - `percent` = done / total × 100, rounded to the nearest integer (done = connected + failed
///   + expired).
/// - `estimated_seconds_left` (seconds): the mean time the sessions finished through a callback
///   took since the batch started, times the pending sessions, capped at the time until the
///   batch expires; `null` when none finished through a callback yet, `0` when none is pending.
///
/// Errors: 404 for an unknown id or another workspace's batch.
#[utoipa::path(
    get,
    path = "/v1/connect/bulk/{id}",
    operation_id = "getBulkConnect",
    tag = "connect",
    summary = "Follow a bulk connect",
    params(
        ("id" = String, Path, description = "Batch id"),
    ),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "Each platform's status, the percent done and the time left.", body = crate::openapi::BulkProgress),
        (status = 404, description = "`not-found`: no bulk connect batch with this id in this workspace.", body = crate::openapi::Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn progress(
    State(state): State<AppState>,
    auth: WorkspaceAuth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let (batch, sessions) = state
        .store()
        .get_batch(&auth.workspace_id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("bulk connect batch"))?;
    let now = state.now();
    let ttl_minutes = state.config().state_ttl_secs / 60;
    let mut items = Vec::with_capacity(sessions.len());
    let mut pending = 0i64;
    let mut took_ms = Vec::new();
    for s in &sessions {
        let item = if s.status == SESSION_PENDING && now >= s.expires_at {
            json!({
                "platform": s.platform,
                "status": SESSION_EXPIRED,
                "authorization_url": null,
                "connection_id": null,
                "reason": "expired",
                "diagnosis": expired_diagnosis(s, ttl_minutes),
                "finished_at": null,
            })
        } else {
            if s.status == SESSION_PENDING {
                pending += 1;
            }
            if let Some(f) = s.finished_at {
                took_ms.push((f - batch.created_at).num_milliseconds().max(0));
            }
            let reason = s
                .diagnosis
                .as_ref()
                .and_then(|d| d.get("category"))
                .cloned()
                .unwrap_or(Value::Null);
            let link = if s.status == SESSION_PENDING {
                open_link(&state, s)
            } else {
                None
            };
            json!({
                "platform": s.platform,
                "status": s.status,
                "authorization_url": link,
                "connection_id": s.connection_id,
                "reason": reason,
                "diagnosis": s.diagnosis,
                "finished_at": s.finished_at,
            })
        };
        items.push(item);
    }
    let total = sessions.len() as i64;
    let done = total - pending;
    let percent = if total == 0 {
        100
    } else {
        (done * 100 + total / 2) / total
    };
    let estimated_seconds_left = if pending == 0 {
        Some(0)
    } else if took_ms.is_empty() {
        None
    } else {
        let mean_ms = took_ms.iter().sum::<i64>() / took_ms.len() as i64;
        let until_expiry_ms = (batch.expires_at - now).num_milliseconds().max(0);
        Some(((mean_ms * pending).min(until_expiry_ms) + 999) / 1000)
    };
    Ok(Json(json!({
        "batch_id": batch.id,
        "owner": batch.owner,
        "created_at": batch.created_at,
        "expires_at": batch.expires_at,
        "total": total,
        "done": done,
        "percent": percent,
        "estimated_seconds_left": estimated_seconds_left,
        "sessions": items,
    })))
}

/// The status of a pending session whose state expired before its callback came.
pub const SESSION_EXPIRED: &str = "expired";

/// The consent link of a pending session, opened from its sealed copy; `None` when there is
/// none (a batch started before links were kept) or it does not open (logged without the
/// link: a missing key, a ciphertext moved from another row).
fn open_link(state: &AppState, s: &BatchSession) -> Option<String> {
    let sealed = s.authorization_url_sealed.as_deref()?;
    match state
        .keyring()
        .open(&vaulted::bulk_url_context(&s.state_hash), sealed)
    {
        Ok(url) => Some(secrecy::ExposeSecret::expose_secret(&url).to_string()),
        Err(e) => {
            tracing::warn!(batch_id = %s.batch_id, platform = %s.platform, error = %e, "a bulk connect link does not open");
            None
        }
    }
}

/// Called by the connect callback after a state was consumed: when the state belongs to a batch
/// (its `metadata.batch_id`), records the outcome of that session. Store failures are logged, not
/// returned: the connection itself is saved either way.
pub(crate) async fn record_outcome(
    state: &AppState,
    pending: &OAuthState,
    result: &Result<(Connection, bool), ApiError>,
) {
    let Some(batch_id) = pending.metadata.get(BATCH_KEY).and_then(Value::as_str) else {
        return;
    };
    let (status, connection_id, diagnosis) = match result {
        Ok((conn, _)) => (SESSION_CONNECTED, Some(conn.id.as_str()), None),
        Err(e) => {
            let d = e.extra.get("diagnosis").cloned().unwrap_or_else(|| {
                let mut d = Diagnosis::new(Category::Unknown);
                d.cause = e.detail.clone();
                d.platform = Some(pending.platform.clone());
                serde_json::to_value(d).unwrap_or(Value::Null)
            });
            (SESSION_FAILED, None, Some(d))
        }
    };
    if let Err(e) = state
        .store()
        .finish_batch_session(
            &pending.state_hash,
            status,
            connection_id,
            diagnosis.as_ref(),
            state.now(),
        )
        .await
    {
        tracing::warn!(batch_id, platform = %pending.platform, error = %e, "could not record a bulk connect outcome");
    }
}

/// Routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/connect/bulk", post(start_bulk))
        .route("/v1/connect/bulk/{id}", get(progress))
}
