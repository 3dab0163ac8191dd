//! `POST /v1/connections/{id}/validate`: live account validation (see `crate::validation`).

use axum::extract::{Path, State};
use axum::routing::post;
use axum::{Json, Router};

use crate::error::{ApiError, ApiResult};
use crate::extract::WorkspaceAuth;
use crate::validation::{validate, Report};
use crate::AppState;

/// `POST /v1/connections/{id}/validate` → 200 `{connection_id, platform, verdict, checked_at,
/// checks: [{name, status, detail, fix, diagnosis}]}` with `verdict` and `status` one of
/// `pass`, `warn`, `fail`. A failing check is still a 200: the report is the answer.
///
/// Errors: 404 for an unknown id or another workspace's connection.
#[utoipa::path(
    post,
    path = "/v1/connections/{id}/validate",
    operation_id = "validateConnection",
    tag = "connections",
    summary = "Check the account can publish, live",
    params(
        ("id" = String, Path, description = "Connection id"),
    ),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The report (a failing check is still a 200).", body = crate::validation::Report),
        (status = 404, description = "`not-found`: no connection with this id in this workspace.", body = crate::openapi::Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn validate_connection(
    State(state): State<AppState>,
    auth: WorkspaceAuth,
    Path(id): Path<String>,
) -> ApiResult<Json<Report>> {
    let conn = state
        .store()
        .get_connection(&auth.workspace_id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("connection"))?;
    Ok(Json(validate(&state, conn).await?))
}

/// Routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new().route("/v1/connections/{id}/validate", post(validate_connection))
}
