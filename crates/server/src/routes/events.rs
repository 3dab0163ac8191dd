//! The event log of a workspace.

use axum::extract::State;
use axum::routing::get;
use axum::Json;
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiQuery, WorkspaceAuth};
use crate::AppState;

/// Query of `GET /v1/events`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    /// At most this many events, newest first (1-500, default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
}

/// `GET /v1/events`: `{"data":[{id, type, connection_id, payload, created_at}]}`, newest first.
#[utoipa::path(
    get,
    path = "/v1/events",
    operation_id = "listEvents",
    tag = "logs",
    summary = "The event log",
    params(
        EventsQuery,
    ),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "Newest first.", body = crate::openapi::EventList),
        (status = 422, description = "`validation-error` on `limit` or an unknown parameter.", body = crate::openapi::Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn list(
    State(state): State<AppState>,
    auth: WorkspaceAuth,
    ApiQuery(q): ApiQuery<EventsQuery>,
) -> ApiResult<Json<Value>> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::validation(
            "limit",
            "limit must be between 1 and 500",
        ));
    }
    let events = state.store().list_events(&auth.workspace_id, limit).await?;
    let data: Vec<Value> = events
        .into_iter()
        .map(|e| {
            json!({
                "id": e.id,
                "type": e.kind,
                "connection_id": e.connection_id,
                "payload": e.payload,
                "created_at": e.created_at,
            })
        })
        .collect();
    Ok(Json(json!({ "data": data })))
}

/// Routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new().route("/v1/events", get(list))
}
