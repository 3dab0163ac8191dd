//! The event log of a workspace.

use axum::extract::{Query, State};
use axum::routing::get;
use axum::Json;
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::{ApiError, ApiResult};
use crate::extract::WorkspaceAuth;
use crate::AppState;

/// Query of `GET /v1/events`.
#[derive(Debug, Deserialize)]
pub struct EventsQuery {
    /// At most this many events, newest first (1-500, default 50).
    pub limit: Option<u32>,
}

/// `GET /v1/events`: `{"data":[{id, type, connection_id, payload, created_at}]}`, newest first.
pub async fn list(
    State(state): State<AppState>,
    auth: WorkspaceAuth,
    Query(q): Query<EventsQuery>,
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
