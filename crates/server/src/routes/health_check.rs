//! `GET /v1/connections/{id}/health`: the checks behind a connection's status, run now (with
//! live calls to the platform), and what the person must do. See [`crate::health`].

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};

use crate::error::{ApiError, ApiResult};
use crate::extract::WorkspaceAuth;
use crate::health::{self, Report};
use crate::AppState;

/// `GET /v1/connections/{id}/health` → `{connection_id, status, previous_status, checked_at,
/// checks: [{name, status: pass|warn|fail, detail, fix?, diagnosis?, data?}], summary, action}`.
/// The derived status is stored when it changed.
///
/// Errors: 404 for an unknown connection or another workspace's; 503 on database failures.
#[utoipa::path(
    get,
    path = "/v1/connections/{id}/health",
    operation_id = "getConnectionHealth",
    tag = "connections",
    summary = "Check a connection's health, live",
    params(
        ("id" = String, Path, description = "Connection id"),
    ),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The checks, the derived status and what to do.", body = crate::health::Report),
        (status = 404, description = "`not-found`: no connection with this id in this workspace.", body = crate::openapi::Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn health_of(
    State(state): State<AppState>,
    auth: WorkspaceAuth,
    Path(id): Path<String>,
) -> ApiResult<Json<Report>> {
    let conn = state
        .store()
        .get_connection(&auth.workspace_id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("connection"))?;
    Ok(Json(health::check(&state, &conn).await?))
}

/// Routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new().route("/v1/connections/{id}/health", get(health_of))
}
