//! The reconnect guide: how to reconnect an account on a platform, what to grant and why, and
//! for a given connection why it needs reconnecting.

use axum::extract::{Path, State};
use axum::routing::get;
use axum::Json;
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};
use switchboard_core::connection::ConnectionStatus;
use switchboard_core::diagnosis::{Category, Diagnosis};
use switchboard_core::PlatformSpec;
use switchboard_store::Connection;

use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiQuery, WorkspaceAuth};
use crate::routes::permissions;
use crate::AppState;

/// Query of the reconnect guide.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct GuideQuery {
    /// A connection of this platform to explain.
    pub connection_id: Option<String>,
}

/// Every scope Switchboard asks for on the platform, with why and which capabilities use it.
fn permissions_json(spec: &PlatformSpec) -> Vec<Value> {
    spec.scopes
        .default_request()
        .into_iter()
        .map(|scope| {
            let used_by: Vec<&str> = spec
                .scopes
                .capabilities()
                .iter()
                .filter(|(_, req)| req.contains(&scope))
                .map(|(name, _)| *name)
                .collect();
            let why = spec
                .guide
                .scope_descriptions
                .get(&scope)
                .cloned()
                .unwrap_or_else(|| {
                    if used_by.is_empty() {
                        "Keeps the connection alive without asking you again.".to_string()
                    } else {
                        format!("Needed for: {}.", used_by.join(", "))
                    }
                });
            json!({"scope": scope, "why": why, "capabilities": used_by})
        })
        .collect()
}

/// The catalog's reconnect steps; for a provider without any (custom providers), the steps every
/// OAuth 2.0 consent takes, naming the provider.
fn steps(spec: &PlatformSpec) -> Vec<String> {
    if !spec.guide.reconnect_steps.is_empty() {
        return spec.guide.reconnect_steps.clone();
    }
    vec![
        format!(
            "Open the reconnect link Switchboard gives you; it opens {}'s authorization page.",
            spec.display_name
        ),
        format!(
            "Sign in to the {} account you want to connect.",
            spec.display_name
        ),
        "Approve every permission listed.".to_string(),
        "You are sent back; the connection keeps its id.".to_string(),
    ]
}

/// Why `conn` needs reconnecting, from its status, its last error's diagnosis and its scopes.
/// `needs_reconnect` is false for a healthy connection that holds every scope.
fn reason(spec: &PlatformSpec, conn: &Connection) -> Value {
    let status = ConnectionStatus::parse(&conn.status);
    let last: Option<Diagnosis> = conn
        .last_error
        .clone()
        .and_then(|v| serde_json::from_value(v).ok());
    let granted = permissions::normalised_scopes(spec, &conn.scopes);
    let (_, missing) = permissions::capabilities(spec, &granted);
    let (needs, why) = match (status, &last) {
        (Some(ConnectionStatus::Revoked), _) => (
            true,
            format!(
                "Access was revoked on {}; only the person can grant it again.",
                spec.display_name
            ),
        ),
        (Some(ConnectionStatus::NeedsReauth), Some(d)) => (true, d.cause.clone()),
        (Some(ConnectionStatus::NeedsReauth), None) => (
            true,
            format!(
                "{} no longer accepts this connection's grant.",
                spec.display_name
            ),
        ),
        (Some(ConnectionStatus::Expired), _) => (
            true,
            "The access token expired and cannot be renewed without the person.".to_string(),
        ),
        (_, Some(d)) if matches!(d.category, Category::InsufficientScope) => {
            (true, d.cause.clone())
        }
        _ if !missing.is_empty() => (
            true,
            format!("Permissions were not granted: {}.", missing.join(", ")),
        ),
        (Some(ConnectionStatus::RefreshFailing), Some(d)) => (
            false,
            format!(
                "{} Switchboard keeps retrying; reconnecting is not needed yet.",
                d.cause
            ),
        ),
        _ => (
            false,
            "The connection is working; nothing to reconnect.".to_string(),
        ),
    };
    json!({
        "id": conn.id,
        "status": conn.status,
        "needs_reconnect": needs,
        "reason": why,
        "diagnosis": last,
        "missing_scopes": missing,
    })
}

/// `GET /v1/platforms/{platform}/reconnect-guide[?connection_id=]` →
/// `{platform, display_name, steps[], permissions:[{scope, why, capabilities}], redirect_uri,
/// start:{method, path, body}, connection?:{id, status, needs_reconnect, reason, diagnosis,
/// missing_scopes}}`. Without `connection_id` no API key is needed; with one, the workspace's
/// API key is, and `start.body.owner` is the connection's owner.
///
/// Errors: 404 `unknown-platform`; 401 without an API key when `connection_id` is given; 404
/// for an unknown connection; 422 naming `connection_id` when it belongs to another platform, and
/// 422 naming the parameter for a query that does not parse (an unknown parameter), as
/// problem+json ([`ApiQuery`]).
#[utoipa::path(
    get,
    path = "/v1/platforms/{platform}/reconnect-guide",
    operation_id = "getReconnectGuide",
    tag = "platforms",
    summary = "How to reconnect an account",
    params(
        ("platform" = String, Path, description = "Platform id (`twitter`, `linkedin`, `facebook`, `instagram`, `tiktok`, `youtube`, `pinterest`, or a custom provider)", example = "twitter"),
        GuideQuery,
    ),
    security((), ("api_key" = [])),
    responses(
        (status = 200, description = "The guide; with `connection_id`, why that connection needs reconnecting.", body = crate::openapi::ReconnectGuide),
        (status = 401, description = "`unauthorized`: `connection_id` was given without a valid API key.", body = crate::openapi::Problem, content_type = "application/problem+json"),
        (status = 404, description = "`unknown-platform`, or `not-found` for an unknown `connection_id`.", body = crate::openapi::Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation-error` naming the parameter: `connection_id` on another platform, or an unknown query parameter.", body = crate::openapi::Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn reconnect_guide(
    State(state): State<AppState>,
    Path(platform): Path<String>,
    ApiQuery(q): ApiQuery<GuideQuery>,
    auth: Result<WorkspaceAuth, ApiError>,
) -> ApiResult<Json<Value>> {
    let spec = state.platform(&platform)?;
    let mut body = json!({
        "platform": spec.id,
        "display_name": spec.display_name,
        "steps": steps(spec),
        "permissions": permissions_json(spec),
        "redirect_uri": state.config().redirect_uri(&spec.id),
        "start": {
            "method": "POST",
            "path": format!("/v1/connect/{}", spec.id),
            "body": {"owner": "<owner>"},
        },
    });
    if let Some(id) = q.connection_id {
        let auth = auth?;
        let conn = state
            .store()
            .get_connection(&auth.workspace_id, &id)
            .await?
            .ok_or_else(|| ApiError::not_found("connection"))?;
        if conn.platform != spec.id {
            return Err(ApiError::validation(
                "connection_id",
                format!("connection {id} is on {}, not {}", conn.platform, spec.id),
            ));
        }
        let explained = reason(spec, &conn);
        let missing: Vec<String> =
            serde_json::from_value(explained["missing_scopes"].clone()).unwrap_or_default();
        body["start"] = permissions::reconnect_call(&conn, &missing);
        body["connection"] = explained;
    }
    Ok(Json(body))
}

/// Routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new().route(
        "/v1/platforms/{platform}/reconnect-guide",
        get(reconnect_guide),
    )
}
