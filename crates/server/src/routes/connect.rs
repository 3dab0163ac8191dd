//! The connect flow: the main job of Switchboard.
//!
//! 1. `POST /v1/connect/{platform}`: checks the request, stores a one-time `state` bound to the
//!    workspace, platform and owner (with the PKCE code_verifier sealed), returns the platform's
//!    authorization URL.
//! 2. `GET /v1/oauth/callback/{platform}`: consumes the state exactly once, exchanges the code,
//!    fetches the profile, seals the tokens and saves the connection (a reconnect of the same
//!    platform account updates the same connection and keeps its refresh token), records an event,
//!    and ends on a page, a JSON answer, or a redirect to the allowed `return_to`.

use axum::routing::{get, post};
use axum::Router;
use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;
use chrono::Duration;
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use switchboard_core::catalog::RefreshKind;
use switchboard_core::connection::{status_from_expiry, ConnectionStatus};
use switchboard_core::diagnosis::{diagnose, Category, Diagnosis};
use switchboard_core::PlatformSpec;
use switchboard_store::{Connection, ConsumeOutcome, OAuthState, TokenUpdate};

use crate::error::{ApiError, ApiResult};
use crate::events::{emit, kind};
use crate::extract::{ApiJson, WorkspaceAuth};
use crate::routes::connections::connection_json;
use crate::{vaulted, AppState};

/// Body of `POST /v1/connect/{platform}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectRequest {
    /// The end user in the product team's app the connection is for (1-256 characters).
    #[schema(min_length = 1, max_length = 256, pattern = "\\S", example = "user-42")]
    pub owner: String,
    /// Scopes to request on top of the platform's defaults.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Where to send the browser after the callback; must fall under `allowed_return_urls`.
    #[serde(default)]
    pub return_to: Option<String>,
}

/// SHA-256 hex of a state value: only the hash is stored.
pub fn hash_state(state: &str) -> String {
    hex::encode(Sha256::digest(state.as_bytes()))
}

/// Whether `u` (parsed, dot segments resolved) falls under the allowed URL `a`: same scheme, host
/// and port, and a path under `a`'s path by whole segments (`/cb` allows `/cb` and `/cb/x`,
/// never `/cbevil`).
pub fn under_allowed(a: &url::Url, u: &url::Url) -> bool {
    let (ap, up) = (a.path(), u.path());
    let in_path = if ap.ends_with('/') {
        up.starts_with(ap)
    } else {
        up == ap
            || up
                .strip_prefix(ap)
                .is_some_and(|rest| rest.starts_with('/'))
    };
    a.scheme() == u.scheme()
        && a.host_str() == u.host_str()
        && a.port_or_known_default() == u.port_or_known_default()
        && in_path
}

/// Checks `return_to` against the allow-list, as a parsed URL: no userinfo, no control
/// characters, whitespace or backslashes, no encoded separators (`%2f`, `%5c`: a server may
/// decode them into segments the check did not see), then same scheme, host and port as an
/// allowed URL and a path under its path by whole segments ([`under_allowed`]). Anything else
/// would be an open redirect.
fn check_return_to(state: &AppState, return_to: &str) -> Result<url::Url, ApiError> {
    if return_to
        .chars()
        .any(|c| c == '\\' || c.is_control() || c.is_whitespace())
    {
        return Err(ApiError::validation(
            "return_to",
            "return_to must not contain control characters, whitespace or backslashes",
        ));
    }
    let lower = return_to.to_ascii_lowercase();
    if lower.contains("%2f") || lower.contains("%5c") {
        return Err(ApiError::validation(
            "return_to",
            "return_to must not contain encoded path separators (%2F, %5C)",
        ));
    }
    let u = url::Url::parse(return_to)
        .map_err(|e| ApiError::validation("return_to", format!("not an absolute URL: {e}")))?;
    if !u.username().is_empty() || u.password().is_some() {
        return Err(ApiError::validation(
            "return_to",
            "return_to must not carry userinfo (user:password@)",
        ));
    }
    // The dashboard's own result page is always allowed: it is this server, not a redirect away.
    let own_result = url::Url::parse(&format!(
        "{}{}",
        state.config().public_url,
        crate::dashboard::connect::RESULT_PATH
    ))
    .is_ok_and(|a| a.origin() == u.origin() && a.path() == u.path());
    let allowed = own_result
        || state
            .config()
            .allowed_return_urls
            .iter()
            .any(|a| under_allowed(a, &u));
    if !allowed {
        return Err(ApiError::validation(
            "return_to",
            format!(
                "{return_to} is not under an allowed return URL; allowed: [{}] (setting allowed_return_urls)",
                state
                    .config()
                    .allowed_return_urls
                    .iter()
                    .map(|u| u.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    Ok(u)
}

fn requested_scopes(state: &AppState, spec: &PlatformSpec, extra: &[String]) -> Vec<String> {
    let mut scopes = spec.scopes.default_request();
    let configured = state
        .config()
        .platforms
        .get(&spec.id)
        .map(|p| p.extra_scopes.clone())
        .unwrap_or_default();
    for s in extra.iter().chain(&configured) {
        if !scopes.contains(s) {
            scopes.push(s.clone());
        }
    }
    scopes
}

/// `POST /v1/connect/{platform}` → 201 `{authorization_url, state, expires_at, redirect_uri,
/// platform, scopes}`.
///
/// Errors: 404 `unknown-platform` (lists the known ids), 422 `validation-error` naming the field
/// (`owner`, `scopes[i]`, `return_to`), 409 `platform-not-configured`.
#[utoipa::path(
    post,
    path = "/v1/connect/{platform}",
    operation_id = "startConnect",
    tag = "connect",
    summary = "Start connecting an account",
    params(
        ("platform" = String, Path, description = "Platform id (`twitter`, `linkedin`, `facebook`, `instagram`, `tiktok`, `youtube`, `pinterest`, or a custom provider)", example = "twitter"),
    ),
    request_body = ConnectRequest,
    security(("api_key" = [])),
    responses(
        (status = 201, description = "The session: send the person's browser to `authorization_url`.", body = crate::openapi::ConnectSession),
        (status = 400, description = "`malformed-body`: the body is not JSON.", body = crate::openapi::Problem, content_type = "application/problem+json"),
        (status = 404, description = "`unknown-platform`: no such platform; `known_platforms` lists them.", body = crate::openapi::Problem, content_type = "application/problem+json"),
        (status = 409, description = "`platform-not-configured`: no client credentials for the platform.", body = crate::openapi::Problem, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported-media-type`: the body is not `application/json`.", body = crate::openapi::Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation-error` naming `owner`, `scopes[i]` or `return_to`.", body = crate::openapi::Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn start(
    State(state): State<AppState>,
    auth: WorkspaceAuth,
    Path(platform): Path<String>,
    ApiJson(req): ApiJson<ConnectRequest>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let started = start_session(&state, &auth.workspace_id, &platform, &req, None).await?;
    Ok((StatusCode::CREATED, Json(started)))
}

/// Starts one connect session: the checks and the stored state behind `POST
/// /v1/connect/{platform}`, shared with bulk connect (`routes::bulk`). With `batch_id`, the
/// state's `metadata` is `{"batch_id": ...}` so that the callback can report the outcome to the
/// batch. Returns the 201 body of [`start`]; errors as [`start`].
pub(crate) async fn start_session(
    state: &AppState,
    workspace_id: &str,
    platform: &str,
    req: &ConnectRequest,
    batch_id: Option<&str>,
) -> ApiResult<Value> {
    let platform = platform.to_string();
    let spec = state.platform(&platform)?;
    let owner = req.owner.trim();
    if owner.is_empty() || owner.chars().count() > 256 {
        return Err(ApiError::validation(
            "owner",
            "owner must be 1 to 256 characters",
        ));
    }
    for (i, s) in req.scopes.iter().enumerate() {
        if s.is_empty() || s.chars().any(|c| c.is_whitespace() || c == ',') {
            return Err(ApiError::validation(
                &format!("scopes[{i}]"),
                format!(
                    "{s:?} is not a scope: scopes are non-empty and contain no spaces or commas"
                ),
            ));
        }
    }
    let return_to = req
        .return_to
        .as_deref()
        .map(|r| check_return_to(state, r))
        .transpose()?;
    let creds = state.credentials(&platform).ok_or_else(|| {
        let upper = platform.to_ascii_uppercase().replace('-', "_");
        ApiError::new(
            StatusCode::CONFLICT,
            "platform-not-configured",
            "The platform is not configured",
            format!(
                "{} has no client credentials: set [platforms.{platform}] client_id and client_secret in the configuration file, or SWITCHBOARD_{upper}_CLIENT_ID and SWITCHBOARD_{upper}_CLIENT_SECRET",
                spec.display_name
            ),
        )
    })?;
    let redirect_uri = state.config().redirect_uri(&platform);
    let scopes = requested_scopes(state, spec, &req.scopes);
    let started = state
        .oauth()
        .authorization_start(spec, &creds, &redirect_uri, &scopes)
        .map_err(|e| ApiError::platform(&platform, &e))?;
    let state_value = started.state.expose_secret().to_string();
    let state_hash = hash_state(&state_value);
    let now = state.now();
    let expires_at = now + Duration::seconds(state.config().state_ttl_secs as i64);
    let record = OAuthState {
        state_hash: state_hash.clone(),
        workspace_id: workspace_id.to_string(),
        platform: platform.clone(),
        owner: owner.to_string(),
        redirect_uri: redirect_uri.clone(),
        scopes: scopes.clone(),
        return_to: return_to.map(|u| u.to_string()),
        code_verifier_sealed: started.code_verifier.as_ref().map(|v| {
            state
                .keyring()
                .seal(&vaulted::verifier_context(&state_hash), v.expose_secret())
        }),
        connection_id: None,
        metadata: batch_id.map_or_else(|| json!({}), |b| json!({ "batch_id": b })),
        created_at: now,
        expires_at,
        consumed_at: None,
    };
    state.store().insert_oauth_state(&record).await?;
    Ok(json!({
        "platform": platform,
        "authorization_url": started.url,
        "state": state_value,
        "expires_at": expires_at,
        "redirect_uri": redirect_uri,
        "scopes": scopes,
    }))
}

/// What the callback ended with.
struct Outcome {
    result: Result<(Connection, bool), ApiError>,
    return_to: Option<String>,
    platform: String,
}

/// `GET /v1/oauth/callback/{platform}`: the platform's redirect back.
///
/// Answers JSON when the request accepts `application/json` (first), a redirect to `return_to`
/// when the connect request gave one, and otherwise an HTML page saying connected or exactly
/// what went wrong.
#[utoipa::path(
    get,
    path = "/v1/oauth/callback/{platform}",
    operation_id = "oauthCallback",
    tag = "connect",
    summary = "OAuth 2.0 redirect back from the platform",
    params(
        ("platform" = String, Path, description = "Platform id (`twitter`, `linkedin`, `facebook`, `instagram`, `tiktok`, `youtube`, `pinterest`, or a custom provider)", example = "twitter"),
        ("code" = Option<String>, Query, description = "The authorization code (RFC 6749 §4.1.2)."),
        ("state" = String, Query, description = "The `state` of the connect session."),
        ("error" = Option<String>, Query, description = "The platform's error code when it did not authorize (`access_denied`...)."),
        ("error_description" = Option<String>, Query, description = "The platform's error text."),
        ("error_reason" = Option<String>, Query, description = "Meta's error text."),
        ("Accept" = Option<String>, Header, description = "`application/json` for a JSON answer; otherwise an HTML page or the redirect to `return_to`."),
    ),
    responses(
        (status = 200, description = "Connected again (the same account: the connection keeps its id), as JSON when `Accept` asks for it, else a page.", content((crate::openapi::ConnectedAccount = "application/json"), (String = "text/html"))),
        (status = 201, description = "A new connection (JSON when `Accept` asks for it; the page answers 200).", body = crate::openapi::ConnectedAccount),
        (status = 303, description = "The connect request gave `return_to`: a redirect there with `switchboard_status=connected&connection_id=…&platform=…`, or `switchboard_status=error&error=<category>&error_description=…`.", headers(("Location" = String, description = "`return_to` with the outcome in its query"))),
        (status = 400, description = "`invalid-state` (unknown, altered or another platform's), `expired-state` or `missing-code`.", content((crate::openapi::Problem = "application/problem+json"), (String = "text/html"))),
        (status = 403, description = "`authorization-failed`: the person denied access.", content((crate::openapi::Problem = "application/problem+json"), (String = "text/html"))),
        (status = 404, description = "`unknown-platform`.", content((crate::openapi::Problem = "application/problem+json"), (String = "text/html"))),
        (status = 409, description = "`state-already-used` (a replayed callback) or `platform-not-configured`.", content((crate::openapi::Problem = "application/problem+json"), (String = "text/html"))),
        (status = 502, description = "`authorization-failed` or `platform-error`: the platform refused; `diagnosis` explains it.", content((crate::openapi::Problem = "application/problem+json"), (String = "text/html"))),
        (status = 503, description = "`platform-rate-limited` or `database-unavailable`.", content((crate::openapi::Problem = "application/problem+json"), (String = "text/html"))),
        (status = 504, description = "`platform-unreachable`.", content((crate::openapi::Problem = "application/problem+json"), (String = "text/html"))),
    ),
)]
pub async fn callback(
    State(state): State<AppState>,
    Path(platform): Path<String>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let wants_json = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| {
            a.starts_with("application/json") || a.contains("application/problem+json")
        });
    let outcome = run_callback(&state, &platform, &params).await;
    render(&state, outcome, wants_json)
}

async fn run_callback(
    state: &AppState,
    platform: &str,
    params: &HashMap<String, String>,
) -> Outcome {
    let mut outcome = Outcome {
        result: Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid-state",
            "",
            "",
        )),
        return_to: None,
        platform: platform.to_string(),
    };
    let spec = match state.platform(platform) {
        Ok(s) => s.clone(),
        Err(e) => {
            outcome.result = Err(e);
            return outcome;
        }
    };
    let Some(state_value) = params.get("state").filter(|s| !s.is_empty()) else {
        outcome.result = Err(invalid_state(
            "the callback has no state parameter; start connecting again from Switchboard",
        ));
        return outcome;
    };
    let now = state.now();
    let pending = match state
        .store()
        .consume_oauth_state(&hash_state(state_value), now)
        .await
    {
        Err(e) => {
            outcome.result = Err(e.into());
            return outcome;
        }
        Ok(ConsumeOutcome::Consumed(p)) => p,
        Ok(ConsumeOutcome::NotFound) => {
            outcome.result = Err(invalid_state(
                "this authorization is unknown to Switchboard: the link was altered or is from another server; start connecting again",
            ));
            return outcome;
        }
        Ok(ConsumeOutcome::Expired(p)) => {
            outcome.return_to = p.return_to;
            outcome.result = Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "expired-state",
                "The connect session expired",
                format!(
                    "this connect session expired at {}; sessions last {} minutes. Start connecting again",
                    p.expires_at.to_rfc3339(),
                    state.config().state_ttl_secs / 60
                ),
            ));
            return outcome;
        }
        Ok(ConsumeOutcome::AlreadyUsed(_)) => {
            outcome.result = Err(ApiError::new(
                StatusCode::CONFLICT,
                "state-already-used",
                "The authorization was already completed",
                "this callback was already handled once; a callback cannot be replayed. Start connecting again if the account is not connected",
            ));
            return outcome;
        }
    };
    outcome.return_to = pending.return_to.clone();
    if pending.platform != platform {
        outcome.result = Err(invalid_state(format!(
            "this authorization was started for {}, not {platform}",
            pending.platform
        )));
        return outcome;
    }
    outcome.result = complete(state, &spec, &pending, params).await;
    crate::routes::bulk::record_outcome(state, &pending, &outcome.result).await;
    if let Err(e) = &outcome.result {
        emit(
            state,
            &pending.workspace_id,
            None,
            kind::CONNECT_FAILED,
            json!({
                "platform": platform,
                "owner": pending.owner,
                "problem": e.kind,
                "detail": e.detail,
                "diagnosis": e.extra.get("diagnosis"),
            }),
        )
        .await;
    }
    outcome
}

fn invalid_state(detail: impl Into<String>) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "invalid-state",
        "The connect session is not valid",
        detail,
    )
}

/// Exchanges the code and saves the connection. Returns the connection and whether it is new.
async fn complete(
    state: &AppState,
    spec: &PlatformSpec,
    pending: &OAuthState,
    params: &HashMap<String, String>,
) -> Result<(Connection, bool), ApiError> {
    if let Some(error) = params.get("error").filter(|e| !e.is_empty()) {
        let body = json!({
            "error": error,
            "error_description": params.get("error_description").or(params.get("error_reason")),
        });
        let d = diagnose(&spec.id, None, &body.to_string());
        let status = if d.category == Category::AccessDenied {
            StatusCode::FORBIDDEN
        } else {
            StatusCode::BAD_GATEWAY
        };
        return Err(ApiError::new(
            status,
            "authorization-failed",
            "The platform did not authorize the connection",
            format!("{}: {}", spec.display_name, d.summary()),
        )
        .with_diagnosis(&d));
    }
    let Some(code) = params.get("code").filter(|c| !c.is_empty()) else {
        let mut d = Diagnosis::new(Category::InvalidRequest);
        d.cause = "The platform redirected back without an authorization code.".into();
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "missing-code",
            "The callback has no authorization code",
            "the platform redirected back without `code` or `error`; start connecting again",
        )
        .with_diagnosis(&d));
    };
    let creds = state.credentials(&spec.id).ok_or_else(|| {
        ApiError::new(
            StatusCode::CONFLICT,
            "platform-not-configured",
            "The platform is not configured",
            format!("{} has no client credentials any more", spec.display_name),
        )
    })?;
    let verifier = pending
        .code_verifier_sealed
        .as_deref()
        .map(|s| {
            state
                .keyring()
                .open(&vaulted::verifier_context(&pending.state_hash), s)
        })
        .transpose()
        .map_err(|e| {
            ApiError::internal(
                "the PKCE code_verifier of this session cannot be decrypted",
                &e,
            )
        })?;
    let oauth = state.oauth();
    let tokens = oauth
        .exchange_code(spec, &creds, code, &pending.redirect_uri, verifier.as_ref())
        .await
        .map_err(|e| ApiError::platform(&spec.id, &e))?;
    let (account_id, name, username, avatar, profile_raw) = if spec.endpoints.profile_url.is_some()
    {
        let p = oauth
            .fetch_profile(spec, &tokens.access_token)
            .await
            .map_err(|e| ApiError::platform(&spec.id, &e))?;
        (p.id, p.name, p.username, p.avatar_url, Some(p.raw))
    } else {
        // A custom provider without userinfo: one connection per owner.
        (pending.owner.clone(), None, None, None, None)
    };

    let now = state.now();
    let store = state.store();
    let existing = store
        .find_connection_by_account(&pending.workspace_id, &spec.id, &account_id)
        .await?;
    let id = existing
        .as_ref()
        .map(|c| c.id.clone())
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    let has_refresh = tokens.refresh_token.is_some()
        || existing
            .as_ref()
            .is_some_and(|c| c.refresh_token_sealed.is_some());
    let can_refresh = has_refresh || spec.token.refresh == RefreshKind::Exchange;
    let status = status_from_expiry(
        now,
        tokens.expires_at,
        can_refresh,
        Duration::seconds(state.config().expiry_warning_secs as i64),
    );
    let mut metadata = serde_json::Map::new();
    metadata.insert("token".into(), Value::Object(tokens.extra.clone()));
    if let Some(raw) = profile_raw {
        metadata.insert("profile".into(), raw);
    }
    let scopes = if tokens.scopes.is_empty() {
        pending.scopes.clone()
    } else {
        tokens.scopes.clone()
    };
    let (access_sealed, refresh_sealed) = vaulted::seal_tokens(state.keyring(), &id, &tokens);
    let record = Connection {
        id: id.clone(),
        workspace_id: pending.workspace_id.clone(),
        platform: spec.id.clone(),
        owner: pending.owner.clone(),
        account_id,
        account_name: name,
        username,
        avatar_url: avatar,
        scopes: scopes.clone(),
        status: status.as_str().to_string(),
        access_token_sealed: access_sealed,
        refresh_token_sealed: refresh_sealed,
        token_type: tokens.token_type.clone(),
        expires_at: tokens.expires_at,
        refresh_expires_at: tokens.refresh_expires_at,
        token_obtained_at: now,
        last_refreshed_at: None,
        last_error: None,
        metadata: Value::Object(metadata),
        version: 0,
        created_at: now,
        updated_at: now,
    };
    let mut saved = store.upsert_connection(&record).await?;
    if saved.id != id {
        // Another callback for the same account inserted first: our ciphertexts are bound to
        // the id we chose, so seal again for the row that won.
        let (a, r) = vaulted::seal_tokens(state.keyring(), &saved.id, &tokens);
        let update = TokenUpdate {
            access_token_sealed: a,
            refresh_token_sealed: r,
            token_type: tokens.token_type.clone(),
            expires_at: tokens.expires_at,
            refresh_expires_at: tokens.refresh_expires_at,
            scopes: Some(scopes),
            token_obtained_at: now,
            status: status.as_str().to_string(),
            refreshed_at: None,
        };
        saved = store
            .update_tokens(&saved.id, &update, None, now)
            .await?
            .ok_or_else(|| {
                ApiError::internal("connection vanished while saving", &"concurrent delete")
            })?;
    }
    state.forget_connection(&saved.id);
    if spec.flavor == switchboard_core::catalog::Flavor::Facebook {
        // Facebook authorizes a person; the Pages to use are chosen next (pending_selection).
        saved = crate::routes::facebook_pages::after_connect(state, saved).await;
    }
    let created = existing.is_none();
    let event = match &existing {
        None => kind::CONNECTION_CREATED,
        Some(prev)
            if ConnectionStatus::parse(&prev.status)
                .is_some_and(ConnectionStatus::needs_person) =>
        {
            kind::CONNECTION_RECOVERED
        }
        Some(_) => kind::CONNECTION_RECONNECTED,
    };
    emit(
        state,
        &saved.workspace_id,
        Some(&saved.id),
        event,
        json!({
            "platform": saved.platform,
            "owner": saved.owner,
            "account_id": saved.account_id,
            "account_name": saved.account_name,
            "status": saved.status,
        }),
    )
    .await;
    crate::audit::record(
        state,
        &saved.workspace_id,
        Some(&saved.id),
        crate::audit::OAUTH_CALLBACK,
        if created {
            crate::audit::action::CONNECTION_CREATED
        } else {
            crate::audit::action::CONNECTION_RECONNECTED
        },
        json!({
            "platform": saved.platform,
            "owner": saved.owner,
            "account_id": saved.account_id,
            "scopes": saved.scopes,
        }),
    )
    .await;
    tracing::info!(connection_id = %saved.id, platform = %saved.platform, event, "connection saved");
    Ok((saved, created))
}

fn render(state: &AppState, outcome: Outcome, wants_json: bool) -> Response {
    let platform_name = state
        .catalog()
        .get(&outcome.platform)
        .map(|p| p.display_name.clone())
        .unwrap_or_else(|| outcome.platform.clone());
    match (outcome.result, wants_json, outcome.return_to) {
        (Ok((conn, created)), true, return_to) => {
            let status = if created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            let mut body = connection_json(&conn);
            body["created"] = json!(created);
            body["return_to"] = json!(return_to);
            (status, Json(body)).into_response()
        }
        (Err(e), true, _) => e.into_response(),
        (Ok((conn, _)), false, Some(rt)) => Redirect::to(&with_query(
            &rt,
            &[
                ("switchboard_status", "connected"),
                ("connection_id", &conn.id),
                ("platform", &conn.platform),
            ],
        ))
        .into_response(),
        (Err(e), false, Some(rt)) => {
            let category = e
                .extra
                .get("diagnosis")
                .and_then(|d| d.get("category"))
                .and_then(Value::as_str)
                .unwrap_or(e.kind)
                .to_string();
            Redirect::to(&with_query(
                &rt,
                &[
                    ("switchboard_status", "error"),
                    ("error", &category),
                    ("error_description", &e.detail),
                ],
            ))
            .into_response()
        }
        (Ok((conn, _)), false, None) => {
            crate::routes::callback_page::connected(&platform_name, &conn).into_response()
        }
        (Err(e), false, None) => {
            let status = e.status;
            (
                status,
                crate::routes::callback_page::failed(&platform_name, &e),
            )
                .into_response()
        }
    }
}

fn with_query(base: &str, pairs: &[(&str, &str)]) -> String {
    match url::Url::parse(base) {
        Ok(mut u) => {
            u.query_pairs_mut().extend_pairs(pairs);
            u.to_string()
        }
        Err(_) => base.to_string(),
    }
}

/// Routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/connect/{platform}", post(start))
        .route("/v1/oauth/callback/{platform}", get(callback))
}
