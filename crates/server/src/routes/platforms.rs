//! The platform catalog for people and product teams.

use axum::extract::{Path, State};
use axum::routing::get;
use axum::Json;
use axum::Router;
use serde_json::{json, Value};
use switchboard_core::PlatformSpec;

use crate::error::ApiResult;
use crate::prerequisites::{self, Status};
use crate::AppState;

/// The public view of a catalog entry, with whether this instance is configured for it and
/// ready to connect: `ready` is true when every configuration prerequisite passes (client id
/// and secret, HTTPS public URL); `missing` lists the failing ones as `{name, detail, fix}`.
pub fn platform_json(state: &AppState, p: &PlatformSpec) -> Value {
    let configured = state.credentials(&p.id).is_some();
    let checks = prerequisites::platform_checks(state.config(), p);
    let missing: Vec<Value> = checks
        .iter()
        .filter(|c| c.status == Status::Fail)
        .map(|c| json!({"name": c.name, "detail": c.detail, "fix": c.fix}))
        .collect();
    json!({
        "ready": missing.is_empty(),
        "missing": missing,
        "id": p.id,
        "display_name": p.display_name,
        "brand_color": p.brand_color,
        "difficulty": p.difficulty,
        "setup_minutes": p.setup_minutes,
        "features": p.features,
        "requirements": p.requirements,
        "custom": p.custom,
        "configured": configured,
        "redirect_uri": state.config().redirect_uri(&p.id),
        "authorization_url": p.endpoints.authorization_url,
        "token_url": p.endpoints.token_url,
        "revocation_url": p.endpoints.revocation_url,
        "client_auth": p.client_auth.as_str(),
        "pkce": p.pkce,
        "scope_separator": p.scope_separator,
        "default_scopes": p.scopes.default_request(),
        "refresh": p.token.refresh,
        "access_lifetime_secs": p.token.access_lifetime_secs,
        "docs": p.docs,
    })
}

/// `GET /v1/platforms`: `{"data":[platform...]}`.
#[utoipa::path(
    get,
    path = "/v1/platforms",
    operation_id = "listPlatforms",
    tag = "platforms",
    summary = "List the platforms",
    responses(
        (status = 200, description = "Every platform of the catalog.", body = crate::openapi::PlatformList),
    ),
)]
pub async fn list(State(state): State<AppState>) -> Json<Value> {
    let data: Vec<Value> = state
        .catalog()
        .all()
        .iter()
        .map(|p| platform_json(&state, p))
        .collect();
    Json(json!({ "data": data }))
}

/// `GET /v1/platforms/{platform}`.
#[utoipa::path(
    get,
    path = "/v1/platforms/{platform}",
    operation_id = "getPlatform",
    tag = "platforms",
    summary = "Get a platform",
    params(
        ("platform" = String, Path, description = "Platform id (`twitter`, `linkedin`, `facebook`, `instagram`, `tiktok`, `youtube`, `pinterest`, or a custom provider)", example = "twitter"),
    ),
    responses(
        (status = 200, description = "The platform.", body = crate::openapi::PlatformView),
        (status = 404, description = "`unknown-platform`: no such platform; `known_platforms` lists them.", body = crate::openapi::Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn get_one(
    State(state): State<AppState>,
    Path(platform): Path<String>,
) -> ApiResult<Json<Value>> {
    let p = state.platform(&platform)?;
    Ok(Json(platform_json(&state, p)))
}

/// `GET /v1/platforms/{platform}/prerequisites` → `{platform, display_name, redirect_uri,
/// ready, checks:[{name, status: pass|warn|fail, detail, fix}]}`: client id and secret, the
/// redirect URI to register (exactly), HTTPS for a non-loopback public URL, the encryption key,
/// the database (one query) and the clock (against the `Date` header of the platform's token
/// endpoint host, when it answers within 3 s). `ready` is false when any check fails.
///
/// Errors: 404 `unknown-platform` listing the known ones.
#[utoipa::path(
    get,
    path = "/v1/platforms/{platform}/prerequisites",
    operation_id = "getPlatformPrerequisites",
    tag = "platforms",
    summary = "Check what connecting a platform needs",
    params(
        ("platform" = String, Path, description = "Platform id (`twitter`, `linkedin`, `facebook`, `instagram`, `tiktok`, `youtube`, `pinterest`, or a custom provider)", example = "twitter"),
    ),
    responses(
        (status = 200, description = "The checks; `ready` is false when one fails.", body = crate::openapi::Prerequisites),
        (status = 404, description = "`unknown-platform`: no such platform; `known_platforms` lists them.", body = crate::openapi::Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn prerequisites_of(
    State(state): State<AppState>,
    Path(platform): Path<String>,
) -> ApiResult<Json<Value>> {
    let p = state.platform(&platform)?;
    let mut checks = prerequisites::platform_checks(state.config(), p);
    checks.push(prerequisites::key_check(state.config()));
    let db = state.store().ping().await.map_err(|e| e.to_string());
    checks.push(prerequisites::database_check(db));
    let remote = prerequisites::platform_date(p).await;
    checks.push(prerequisites::clock_check(
        state.now(),
        remote.as_ref().map(|(h, d)| (h.as_str(), *d)),
    ));
    Ok(Json(json!({
        "platform": p.id,
        "display_name": p.display_name,
        "redirect_uri": state.config().redirect_uri(&p.id),
        "ready": prerequisites::passes(&checks),
        "checks": checks,
    })))
}

/// Routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/platforms", get(list))
        .route("/v1/platforms/{platform}", get(get_one))
        .route(
            "/v1/platforms/{platform}/prerequisites",
            get(prerequisites_of),
        )
}
