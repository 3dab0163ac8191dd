//! The audit log of a workspace: who changed what (see [`crate::audit`]).

use axum::extract::State;
use axum::routing::get;
use axum::Json;
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiQuery, WorkspaceAuth};
use crate::AppState;

/// Query of `GET /v1/audit`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// At most this many entries, newest first (1-500, default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// Only the entries of this connection.
    pub connection_id: Option<String>,
}

/// `GET /v1/audit?limit=&connection_id=` → `{"data":[{id, connection_id, actor, action,
/// details, created_at}]}`, newest first. Actors: `api_key:<key id>`, `oauth_callback`,
/// `system:refresh`.
#[utoipa::path(
    get,
    path = "/v1/audit",
    operation_id = "listAudit",
    tag = "logs",
    summary = "The audit log",
    params(
        AuditQuery,
    ),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "Newest first.", body = crate::openapi::AuditList),
        (status = 422, description = "`validation-error` on `limit` or an unknown parameter.", body = crate::openapi::Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn list(
    State(state): State<AppState>,
    auth: WorkspaceAuth,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> ApiResult<Json<Value>> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::validation(
            "limit",
            "limit must be between 1 and 500",
        ));
    }
    let entries = state
        .store()
        .list_audit(&auth.workspace_id, q.connection_id.as_deref(), limit)
        .await?;
    let data: Vec<Value> = entries
        .into_iter()
        .map(|e| {
            json!({
                "id": e.id,
                "connection_id": e.connection_id,
                "actor": e.actor,
                "action": e.action,
                "details": e.details,
                "created_at": e.created_at,
            })
        })
        .collect();
    Ok(Json(json!({ "data": data })))
}

/// Routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new().route("/v1/audit", get(list))
}
