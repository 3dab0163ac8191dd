//! The permission inspector: which scopes a connection holds, what each capability needs, and
//! the reconnect call that asks for exactly what is missing.

use axum::extract::{Path, State};
use axum::routing::get;
use axum::Json;
use axum::Router;
use serde_json::{json, Value};
use switchboard_core::PlatformSpec;
use switchboard_store::Connection;

use crate::error::{ApiError, ApiResult};
use crate::extract::WorkspaceAuth;
use crate::AppState;

/// Capabilities that exist on every platform even with no scope listed (none today: `profile`
/// always has scopes). Others with no scope in the catalog are not offered by the platform
/// (no text-only posts on Instagram, TikTok, YouTube, Pinterest).
fn supported(capability: &str, required: &[String]) -> bool {
    !required.is_empty() || capability == "profile"
}

/// The granted scopes under the catalog's names (Google's `…/auth/userinfo.email` → `email`).
pub fn normalised_scopes(spec: &PlatformSpec, granted: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in granted {
        let n = spec.guide.normalise_scope(s).to_string();
        if !out.contains(&n) {
            out.push(n);
        }
    }
    out
}

/// Per capability `{available, supported, required, missing}`, and every missing scope in
/// catalog order.
pub fn capabilities(spec: &PlatformSpec, granted: &[String]) -> (Value, Vec<String>) {
    let mut caps = serde_json::Map::new();
    let mut all_missing: Vec<String> = Vec::new();
    for (name, required) in spec.scopes.capabilities() {
        let missing: Vec<String> = required
            .iter()
            .filter(|s| !granted.contains(s))
            .cloned()
            .collect();
        let ok = supported(name, required);
        for m in &missing {
            if !all_missing.contains(m) {
                all_missing.push(m.clone());
            }
        }
        caps.insert(
            name.to_string(),
            json!({
                "available": ok && missing.is_empty(),
                "supported": ok,
                "required": required,
                "missing": missing,
            }),
        );
    }
    (Value::Object(caps), all_missing)
}

/// The start call that asks for `scopes` again for the connection's owner.
pub fn reconnect_call(conn: &Connection, scopes: &[String]) -> Value {
    json!({
        "method": "POST",
        "path": format!("/v1/connect/{}", conn.platform),
        "body": {"owner": conn.owner, "scopes": scopes},
    })
}

/// `GET /v1/connections/{id}/permissions` →
/// `{connection_id, platform, granted, granted_raw, capabilities:{profile|publish_text|publish_media|analytics:
/// {available, supported, required, missing}}, missing, reconnect}`. `reconnect` is `null` when
/// nothing is missing, else `{method:"POST", path:"/v1/connect/{platform}", body:{owner, scopes:[missing…]}}`.
///
/// Errors: 404 for an unknown connection (or another workspace's).
#[utoipa::path(
    get,
    path = "/v1/connections/{id}/permissions",
    operation_id = "getConnectionPermissions",
    tag = "connections",
    summary = "Granted and needed scopes",
    params(
        ("id" = String, Path, description = "Connection id"),
    ),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "Scopes per capability and the reconnect call for the missing ones.", body = crate::openapi::Permissions),
        (status = 404, description = "`not-found`: no connection with this id in this workspace.", body = crate::openapi::Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn permissions(
    State(state): State<AppState>,
    auth: WorkspaceAuth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let conn = state
        .store()
        .get_connection(&auth.workspace_id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("connection"))?;
    let spec = state.platform(&conn.platform)?;
    let granted = normalised_scopes(spec, &conn.scopes);
    let (caps, missing) = capabilities(spec, &granted);
    let reconnect = if missing.is_empty() {
        Value::Null
    } else {
        reconnect_call(&conn, &missing)
    };
    Ok(Json(json!({
        "connection_id": conn.id,
        "platform": conn.platform,
        "granted": granted,
        "granted_raw": conn.scopes,
        "capabilities": caps,
        "missing": missing,
        "reconnect": reconnect,
    })))
}

/// Routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new().route("/v1/connections/{id}/permissions", get(permissions))
}
