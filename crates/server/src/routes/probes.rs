//! Liveness and readiness.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Json;
use axum::Router;
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::AppState;

/// `GET /healthz`: the process is alive. Touches nothing else (the benchmark baseline).
#[utoipa::path(
    get,
    path = "/healthz",
    operation_id = "healthz",
    tag = "probes",
    summary = "Liveness",
    responses(
        (status = 200, description = "The process is alive.", body = crate::openapi::Liveness),
    ),
)]
pub async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// `GET /readyz`: the database answers and the background workers are making progress (each
/// finished a tick recently). 503 with the failing check otherwise.
#[utoipa::path(
    get,
    path = "/readyz",
    operation_id = "readyz",
    tag = "probes",
    summary = "Readiness",
    responses(
        (status = 200, description = "Ready: the database answers and every worker is making progress.", body = crate::openapi::Readiness),
        (status = 503, description = "Not ready: `checks` names the failing check.", body = crate::openapi::Readiness),
    ),
)]
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let database = match state.store().ping().await {
        Ok(()) => Ok(()),
        Err(e) => Err(e.to_string()),
    };
    let (workers_ok, workers) = state.heartbeats().readiness(std::time::Instant::now());
    let ready = database.is_ok() && workers_ok;
    let body = json!({
        "status": if ready { "ready" } else { "not_ready" },
        "checks": {
            "database": match &database { Ok(()) => "ok".to_string(), Err(e) => e.clone() },
            "workers": workers,
        },
    });
    let code = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(body))
}

/// Any other path: a 404 problem.
pub async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "no-such-route",
        "No such route",
        format!("{} is not a Switchboard API path", uri.path()),
    )
}

/// Routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}
