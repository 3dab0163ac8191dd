//! Meta's required callbacks, per platform (`facebook`, `instagram`): Meta POSTs a
//! `signed_request` ([`crate::meta_callbacks`]) when a person removes the app
//! (Deauthorize Callback URL) and when they ask for their data to be deleted (Data Deletion
//! Request Callback URL). Both are required for an app in live mode and a condition of App
//! Review; `switchboard doctor` and the prerequisites print the URLs to register.
//!
//! - `POST /v1/meta/{platform}/deauthorize`: every connection of that person on that platform
//!   (in every workspace) is marked `revoked`, with a `connection.revoked` event (and its
//!   webhooks) and an audit entry. Answers `{"revoked": n}`.
//! - `POST /v1/meta/{platform}/data-deletion`: every such connection is deleted with its
//!   tokens and Pages, with a `connection.disconnected` event (`reason: data_deletion_request`)
//!   and an audit entry that does not name the person. Answers what Meta expects,
//!   `{"url", "confirmation_code"}`.
//! - `GET /v1/meta/{platform}/data-deletion/{confirmation_code}`: the status page at that
//!   `url` (HTML, or JSON with `Accept: application/json`).
//!
//! The confirmation code is self-verifying, so that any instance can show the status without a
//! stored record: `<key id>.<base64url "platform:unix seconds:deleted count">.<base64url
//! HMAC-SHA256>` with a vault-derived key (purpose [`CODE_KEY_PURPOSE`]). The deletion is done
//! (and durable) before the answer, so a valid code always reads "completed".
//!
//! Refusals are problem+json 400 naming the field `signed_request` (missing, malformed, another
//! algorithm, a signature that does not match the app secret, no `user_id`).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, TimeZone, Utc};
use hmac::{Hmac, Mac};
use maud::html;
use secrecy::ExposeSecret;
use serde_json::json;
use sha2::Sha256;

use crate::error::{ApiError, ApiResult};
use crate::events::{emit, kind};
use crate::meta_callbacks::{self, SignedRequest, SignedRequestError};
use crate::AppState;

/// Purpose of the vault-derived key that signs data deletion confirmation codes.
pub const CODE_KEY_PURPOSE: &str = "meta-data-deletion-code";

/// The audit actor of changes made by Meta's callbacks.
pub const ACTOR: &str = "meta:callback";

/// The answer of the deauthorize callback.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct MetaDeauthorized {
    /// Connections marked `revoked` by this call (0 when none of this person was healthy here).
    pub revoked: u64,
}

/// The answer of the data deletion callback, the shape Meta expects.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct MetaDataDeletion {
    /// The status page of this deletion.
    pub url: String,
    /// The code the person can quote; also the last path segment of `url`.
    pub confirmation_code: String,
}

/// A data deletion's status (JSON form of the status page).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct MetaDeletionStatus {
    /// Always `completed`: the deletion is done before the callback answers.
    #[schema(example = "completed")]
    pub status: String,
    /// `facebook` or `instagram`.
    pub platform: String,
    /// The confirmation code.
    pub confirmation_code: String,
    /// When the deletion was done.
    pub completed_at: DateTime<Utc>,
    /// How many connections (with their tokens and Pages) it deleted.
    pub connections_deleted: u64,
}

/// The routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/meta/{platform}/deauthorize", post(deauthorize))
        .route("/v1/meta/{platform}/data-deletion", post(data_deletion))
        .route(
            "/v1/meta/{platform}/data-deletion/{confirmation_code}",
            get(deletion_status),
        )
}

/// 404 for a platform that sends no Meta callbacks.
fn not_meta(platform: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "unknown-platform",
        "Unknown platform",
        format!("{platform:?} sends no Meta callbacks; only facebook and instagram do"),
    )
    .with("known_platforms", json!(meta_callbacks::META_PLATFORMS))
}

/// The 400 of a `signed_request` that does not verify.
fn refused(e: &SignedRequestError) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "invalid-signed-request",
        "The signed_request cannot be verified",
        e.to_string(),
    )
    .with("field", "signed_request")
}

/// Reads and verifies the form field `signed_request` with the platform's app secret.
fn verified(state: &AppState, platform: &str, body: &Bytes) -> ApiResult<SignedRequest> {
    if !meta_callbacks::is_meta(platform) || state.platform(platform).is_err() {
        return Err(not_meta(platform));
    }
    if body.len() > meta_callbacks::MAX_SIGNED_REQUEST_BYTES + 64 {
        return Err(refused(&SignedRequestError::TooLong));
    }
    let field = url::form_urlencoded::parse(body)
        .find(|(k, _)| k == "signed_request")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    let Some(secret) = state
        .credentials(platform)
        .and_then(|c| c.client_secret)
        .filter(|s| !s.expose_secret().is_empty())
    else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "platform-not-configured",
            "The platform is not configured",
            format!("{platform} has no client secret configured, so its signed_request cannot be checked"),
        ));
    };
    meta_callbacks::verify(&field, secret.expose_secret().as_bytes()).map_err(|e| refused(&e))
}

/// `POST /v1/meta/{platform}/deauthorize`: the person removed the app at Meta.
#[utoipa::path(
    post,
    path = "/v1/meta/{platform}/deauthorize",
    operation_id = "metaDeauthorize",
    tag = "connect",
    summary = "Meta's Deauthorize Callback: the person removed the app",
    description = "Called by Meta (Facebook Login, Instagram Login), not by API clients: the `application/x-www-form-urlencoded` body `signed_request=<base64url signature>.<base64url JSON payload>` (HMAC-SHA256 with the app secret) names the person (`user_id`). Every connection of that person on the platform is marked `revoked`, with a `connection.revoked` event. Register this URL in the app dashboard (required in live mode).",
    params(("platform" = String, Path, description = "`facebook` or `instagram`", example = "facebook")),
    responses(
        (status = 200, description = "The connections marked revoked (0 when Switchboard has none of this person).", body = MetaDeauthorized),
        (status = 400, description = "`invalid-signed-request`: missing, malformed, not HMAC-SHA256, a signature that does not match the app secret, or no `user_id`; `field` is `signed_request`.", body = crate::openapi::Problem, content_type = "application/problem+json"),
        (status = 404, description = "`unknown-platform`: not one of Meta's.", body = crate::openapi::Problem, content_type = "application/problem+json"),
        (status = 409, description = "`platform-not-configured`: no app secret to check the signature with.", body = crate::openapi::Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn deauthorize(
    State(state): State<AppState>,
    Path(platform): Path<String>,
    body: Bytes,
) -> ApiResult<Json<MetaDeauthorized>> {
    let sr = verified(&state, &platform, &body)?;
    let conns = state
        .store()
        .find_connections_by_platform_account(&platform, &sr.user_id)
        .await?;
    let now = state.now();
    let mut revoked = 0u64;
    for conn in conns.iter().filter(|c| c.status != "revoked") {
        state
            .store()
            .set_connection_status(&conn.id, "revoked", now)
            .await?;
        state.forget_connection(&conn.id);
        revoked += 1;
        emit(
            &state,
            &conn.workspace_id,
            Some(&conn.id),
            kind::CONNECTION_REVOKED,
            json!({
                "platform": conn.platform,
                "owner": conn.owner,
                "account_id": conn.account_id,
                "previous_status": conn.status,
                "reason": "deauthorized_at_platform",
            }),
        )
        .await;
        crate::audit::record(
            &state,
            &conn.workspace_id,
            Some(&conn.id),
            ACTOR,
            crate::audit::action::CONNECTION_REVOKED,
            json!({ "platform": conn.platform, "reason": "deauthorized_at_platform" }),
        )
        .await;
    }
    tracing::info!(platform = %platform, revoked, "Meta deauthorize callback");
    Ok(Json(MetaDeauthorized { revoked }))
}

/// `POST /v1/meta/{platform}/data-deletion`: the person asked Meta for their data to be
/// deleted.
#[utoipa::path(
    post,
    path = "/v1/meta/{platform}/data-deletion",
    operation_id = "metaDataDeletion",
    tag = "connect",
    summary = "Meta's Data Deletion Request Callback",
    description = "Called by Meta, not by API clients: the `application/x-www-form-urlencoded` body `signed_request=<base64url signature>.<base64url JSON payload>` names the person (`user_id`). Every connection of that person on the platform is deleted with its tokens and Pages (a `connection.disconnected` event with `reason: data_deletion_request`), then the answer Meta expects: the status page `url` and a `confirmation_code`. Register this URL in the app dashboard (required in live mode).",
    params(("platform" = String, Path, description = "`facebook` or `instagram`", example = "facebook")),
    responses(
        (status = 200, description = "The status page `…/v1/meta/{platform}/data-deletion/{code}` and the code.", body = MetaDataDeletion),
        (status = 400, description = "`invalid-signed-request`; `field` is `signed_request`.", body = crate::openapi::Problem, content_type = "application/problem+json"),
        (status = 404, description = "`unknown-platform`.", body = crate::openapi::Problem, content_type = "application/problem+json"),
        (status = 409, description = "`platform-not-configured`.", body = crate::openapi::Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn data_deletion(
    State(state): State<AppState>,
    Path(platform): Path<String>,
    body: Bytes,
) -> ApiResult<Json<MetaDataDeletion>> {
    let sr = verified(&state, &platform, &body)?;
    let conns = state
        .store()
        .find_connections_by_platform_account(&platform, &sr.user_id)
        .await?;
    let now = state.now();
    let mut deleted = 0u64;
    for conn in &conns {
        if !state
            .store()
            .delete_connection(&conn.workspace_id, &conn.id)
            .await?
        {
            continue;
        }
        state.forget_connection(&conn.id);
        deleted += 1;
        emit(
            &state,
            &conn.workspace_id,
            Some(&conn.id),
            kind::CONNECTION_DISCONNECTED,
            json!({ "platform": conn.platform, "reason": "data_deletion_request" }),
        )
        .await;
        crate::audit::record(
            &state,
            &conn.workspace_id,
            Some(&conn.id),
            ACTOR,
            crate::audit::action::CONNECTION_DELETED,
            json!({ "platform": conn.platform, "reason": "data_deletion_request" }),
        )
        .await;
    }
    let code = confirmation_code(&state, &platform, now, deleted)
        .ok_or_else(|| ApiError::internal("data deletion", &"no active vault key"))?;
    let url = format!(
        "{}/v1/meta/{platform}/data-deletion/{code}",
        state.config().public_url
    );
    tracing::info!(platform = %platform, deleted, "Meta data deletion callback");
    Ok(Json(MetaDataDeletion {
        url,
        confirmation_code: code,
    }))
}

fn code_mac(state: &AppState, key_id: &str, text: &str) -> Option<Hmac<Sha256>> {
    let key = state.keyring().derive_key(key_id, CODE_KEY_PURPOSE)?;
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&key).ok()?;
    mac.update(text.as_bytes());
    Some(mac)
}

/// A confirmation code for a deletion done at `at` that removed `deleted` connections.
fn confirmation_code(
    state: &AppState,
    platform: &str,
    at: DateTime<Utc>,
    deleted: u64,
) -> Option<String> {
    let key_id = state.keyring().active_id().to_string();
    let text = format!("{platform}:{}:{deleted}", at.timestamp());
    let sig = code_mac(state, &key_id, &text)?.finalize().into_bytes();
    Some(format!(
        "{key_id}.{}.{}",
        URL_SAFE_NO_PAD.encode(&text),
        URL_SAFE_NO_PAD.encode(&sig[..16])
    ))
}

/// Reads a confirmation code back: `(when, deleted count)` when it is one of ours for
/// `platform`.
fn read_code(state: &AppState, platform: &str, code: &str) -> Option<(DateTime<Utc>, u64)> {
    if code.len() > 256 {
        return None;
    }
    let mut parts = code.split('.');
    let (key_id, text, sig) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(text).ok()?).ok()?;
    let sig = URL_SAFE_NO_PAD.decode(sig).ok()?;
    code_mac(state, key_id, &text)?
        .verify_truncated_left(&sig)
        .ok()?;
    let mut f = text.split(':');
    let (p, secs, n) = (f.next()?, f.next()?, f.next()?);
    if p != platform {
        return None;
    }
    let at = Utc.timestamp_opt(secs.parse().ok()?, 0).single()?;
    Some((at, n.parse().ok()?))
}

/// `GET /v1/meta/{platform}/data-deletion/{confirmation_code}`: the status of a deletion.
#[utoipa::path(
    get,
    path = "/v1/meta/{platform}/data-deletion/{confirmation_code}",
    operation_id = "metaDataDeletionStatus",
    tag = "connect",
    summary = "Status page of a Meta data deletion request",
    description = "The `url` the data deletion callback answered: a page (JSON with `Accept: application/json`) saying the deletion is completed, when, and how many connections it removed.",
    params(
        ("platform" = String, Path, description = "`facebook` or `instagram`"),
        ("confirmation_code" = String, Path, description = "The code the callback answered."),
        ("Accept" = Option<String>, Header, description = "`application/json` for JSON."),
    ),
    responses(
        (status = 200, description = "The status, as JSON with `Accept: application/json`, else as an HTML page.", content((MetaDeletionStatus = "application/json"), (String = "text/html"))),
        (status = 404, description = "`not-found`: not a confirmation code of this server for this platform.", body = crate::openapi::Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn deletion_status(
    State(state): State<AppState>,
    Path((platform, code)): Path<(String, String)>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    if !meta_callbacks::is_meta(&platform) {
        return Err(not_meta(&platform));
    }
    let Some((at, deleted)) = read_code(&state, &platform, &code) else {
        return Err(ApiError::not_found("data deletion request"));
    };
    let wants_json = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/json"));
    if wants_json {
        return Ok(Json(MetaDeletionStatus {
            status: "completed".into(),
            platform,
            confirmation_code: code,
            completed_at: at,
            connections_deleted: deleted,
        })
        .into_response());
    }
    let name = state
        .platform(&platform)
        .map(|p| p.display_name.clone())
        .unwrap_or(platform);
    let markup = crate::routes::callback_page::page(
        "Data deletion request",
        html! {
            h1 .ok { "✓ Your data deletion request is complete" }
            div .box {
                p { "Confirmation code: " code { (code) } }
                p { "Status: " strong { "completed" } " on " (at.to_rfc3339()) }
                p {
                    "Switchboard deleted " (deleted) " connection(s) to your " (name)
                    " account, with their access tokens and Pages."
                }
            }
        },
    );
    Ok((
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        markup.into_string(),
    )
        .into_response())
}
