//! Liveness and readiness.

use std::path::{Path, PathBuf};

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

/// How long `/readyz` waits for the database before calling it unready (1.5 s), so that the
/// probe answers within 2 s whatever the database does (down, hanging, out of connections).
pub const READY_DATABASE_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(1500);

/// `GET /readyz`: the database answers within [`READY_DATABASE_TIMEOUT`] and the background
/// workers are making progress (each finished a tick recently). 503 with the failing check
/// otherwise. A filesystem Switchboard writes to with less free space than
/// `disk_free_warning_bytes` is a warning (`warnings`, `checks.disk`), not a failure: writes
/// still work, but will not for long.
#[utoipa::path(
    get,
    path = "/readyz",
    operation_id = "readyz",
    tag = "probes",
    summary = "Readiness",
    responses(
        (status = 200, description = "Ready: the database answers and every worker is making progress. `warnings` lists what will soon fail (low disk space).", body = crate::openapi::Readiness),
        (status = 503, description = "Not ready: `checks` names the failing check.", body = crate::openapi::Readiness),
    ),
)]
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let database = match tokio::time::timeout(READY_DATABASE_TIMEOUT, state.store().ping()).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!(
            "the database did not answer within {} ms",
            READY_DATABASE_TIMEOUT.as_millis()
        )),
    };
    let (workers_ok, workers) = state.heartbeats().readiness(std::time::Instant::now());
    let (warnings, disk) = disk_check(state.config());
    let ready = database.is_ok() && workers_ok;
    let body = json!({
        "status": if ready { "ready" } else { "not_ready" },
        "checks": {
            "database": match &database { Ok(()) => "ok".to_string(), Err(e) => e.clone() },
            "workers": workers,
            "disk": disk,
        },
        "warnings": warnings,
    });
    let code = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(body))
}

/// The filesystems Switchboard writes to, by name: `database` (the SQLite file's directory;
/// PostgreSQL's disk is the database server's to watch) and `media` (`media_dir`).
pub fn watched_volumes(config: &crate::config::Config) -> Vec<(&'static str, PathBuf)> {
    let mut volumes = Vec::new();
    if let Some(file) = config.sqlite_file() {
        let dir = file
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        volumes.push(("database", dir));
    }
    volumes.push(("media", config.media_dir()));
    volumes
}

/// Free space of each [`watched_volumes`] entry, bytes, also set as the
/// [`crate::metrics::DISK_FREE`] gauge. Gives the warnings (a volume below
/// `disk_free_warning_bytes`) and `{name: {free_bytes, warning_below_bytes, ok}}`. A volume
/// that cannot be measured (a directory not made yet) is left out.
pub fn disk_check(config: &crate::config::Config) -> (Vec<String>, Value) {
    let threshold = config.disk_free_warning_bytes;
    let mut warnings = Vec::new();
    let mut details = serde_json::Map::new();
    for (name, path) in watched_volumes(config) {
        let Ok(free) = fs4::available_space(&path) else {
            continue;
        };
        ::metrics::gauge!(crate::metrics::DISK_FREE, "volume" => name).set(free as f64);
        let ok = free >= threshold;
        if !ok {
            warnings.push(format!(
                "disk: {name} ({}) has {free} bytes free, below disk_free_warning_bytes = \
                 {threshold}; writes fail once it is full",
                path.display()
            ));
        }
        details.insert(
            name.to_string(),
            json!({"free_bytes": free, "warning_below_bytes": threshold, "ok": ok}),
        );
    }
    (warnings, Value::Object(details))
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
