//! The platform catalog for people and product teams.

use axum::extract::{Path, State};
use axum::routing::get;
use axum::Json;
use axum::Router;
use serde_json::{json, Value};
use switchboard_core::PlatformSpec;

use crate::error::ApiResult;
use crate::AppState;

/// The public view of a catalog entry, with whether this instance is configured for it.
pub fn platform_json(state: &AppState, p: &PlatformSpec) -> Value {
    let configured = state.credentials(&p.id).is_some();
    json!({
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
pub async fn get_one(
    State(state): State<AppState>,
    Path(platform): Path<String>,
) -> ApiResult<Json<Value>> {
    let p = state.platform(&platform)?;
    Ok(Json(platform_json(&state, p)))
}

/// Routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/platforms", get(list))
        .route("/v1/platforms/{platform}", get(get_one))
}
