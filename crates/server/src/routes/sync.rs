//! Analytics sync (issue 4 item 6): the state of the metrics sync and a way to run it now.
//! `workers::sync` runs the jobs.
//!
//! - `GET /v1/sync/status` → `{status, last_job, platforms: [{platform, last_synced_at, status,
//!   message, token_expires_at}]}`: `status` is the latest job's (`never` without one);
//!   `token_expires_at` is the earliest access-token expiry among the platform's connections
//!   (`null` when none expires).
//! - `GET /v1/sync/history?limit=` (1 to 100, default 20) → `{data: [job + totals + errors]}`,
//!   newest first.
//! - `POST /v1/sync` → 202 `{id, status, ...}`: a job queued now; when one is already queued or
//!   running for the workspace, that one (`"existing": true`).
//! - `GET /v1/sync/jobs/{id}` → the job with `percent` and `estimated_seconds_left`.
//!
//! Another workspace's job is 404.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use switchboard_store::sync::{MetricSnapshot, SyncJob, SYNC_RUNNING};
use switchboard_store::ConnectionFilter;

use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiQuery, WorkspaceAuth};
use crate::AppState;

/// The numeric fields of `switchboard_publish::Metrics` summed in totals.
const METRIC_FIELDS: &[&str] = &[
    "impressions",
    "engagements",
    "likes",
    "comments",
    "shares",
    "views",
];

/// Sums of the numeric metrics of `snapshots` (a field is absent when no snapshot offered it).
pub fn totals(snapshots: &[MetricSnapshot]) -> Value {
    let mut out = Map::new();
    for s in snapshots {
        for f in METRIC_FIELDS {
            if let Some(n) = s.metrics.get(*f).and_then(Value::as_u64) {
                let sum = out.get(*f).and_then(Value::as_u64).unwrap_or(0);
                out.insert((*f).to_string(), json!(sum.saturating_add(n)));
            }
        }
    }
    Value::Object(out)
}

/// The API view of a job: `{id, status, steps_total, steps_done, percent,
/// estimated_seconds_left, created_at, started_at, finished_at, errors}`. `percent` is 0 to 100
/// (100 once ended); `estimated_seconds_left` (seconds) is the average time of the steps done so
/// far times the steps left, `null` before the first step or once ended.
pub fn job_json(job: &SyncJob, now: DateTime<Utc>) -> Value {
    let ended = job.finished_at.is_some();
    let percent = if ended {
        100
    } else if job.steps_total == 0 {
        0
    } else {
        (u64::from(job.steps_done.min(job.steps_total)) * 100) / u64::from(job.steps_total)
    };
    let estimate = match (ended, job.started_at) {
        (false, Some(started)) if job.steps_done > 0 && job.status == SYNC_RUNNING => {
            let elapsed_ms = (now - started).num_milliseconds().max(0) as f64;
            let per_step = elapsed_ms / f64::from(job.steps_done);
            let left = f64::from(job.steps_total.saturating_sub(job.steps_done));
            Some((per_step * left / 1000.0).ceil() as u64)
        }
        _ => None,
    };
    json!({
        "id": job.id,
        "status": job.status,
        "steps_total": job.steps_total,
        "steps_done": job.steps_done,
        "percent": percent,
        "estimated_seconds_left": estimate,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "errors": job.errors,
    })
}

/// `GET /v1/sync/status` (see the module docs). Errors: 401.
#[utoipa::path(
    get,
    path = "/v1/sync/status",
    operation_id = "getSyncStatus",
    tag = "sync",
    summary = "The state of the analytics sync",
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The latest job and each platform's state.", body = crate::openapi::SyncStatus),
    ),
)]
pub async fn status(State(state): State<AppState>, auth: WorkspaceAuth) -> ApiResult<Json<Value>> {
    let store = state.store();
    let last = store.list_sync_jobs(&auth.workspace_id, 1).await?;
    let mut platforms: BTreeMap<String, Value> = BTreeMap::new();
    for p in store.list_platform_sync(&auth.workspace_id).await? {
        platforms.insert(
            p.platform.clone(),
            json!({
                "platform": p.platform,
                "last_synced_at": p.last_synced_at,
                "status": p.status,
                "message": p.message,
                "job_id": p.job_id,
                "token_expires_at": null,
            }),
        );
    }
    let connections = store
        .list_connections(&auth.workspace_id, &ConnectionFilter::default())
        .await?;
    for c in connections {
        let entry = platforms.entry(c.platform.clone()).or_insert_with(|| {
            json!({
                "platform": c.platform,
                "last_synced_at": null,
                "status": "never",
                "message": null,
                "job_id": null,
                "token_expires_at": null,
            })
        });
        if let Some(exp) = c.expires_at {
            let earlier = entry["token_expires_at"]
                .as_str()
                .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                .is_none_or(|cur| exp < cur);
            if earlier {
                entry["token_expires_at"] = json!(exp);
            }
        }
    }
    let now = state.now();
    Ok(Json(json!({
        "status": last.first().map_or("never", |j| j.status.as_str()),
        "last_job": last.first().map(|j| job_json(j, now)),
        "platforms": platforms.into_values().collect::<Vec<_>>(),
    })))
}

/// Query of `GET /v1/sync/history`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    /// Jobs to return, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
}

/// `GET /v1/sync/history?limit=` → `{data: [job + {totals: {impressions, likes, ...}, targets_read}]}`,
/// newest first. Errors: 401; 422 `limit` out of 1..=100.
#[utoipa::path(
    get,
    path = "/v1/sync/history",
    operation_id = "listSyncHistory",
    tag = "sync",
    summary = "Past sync jobs",
    params(
        HistoryQuery,
    ),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "Newest first, with totals.", body = crate::openapi::SyncHistory),
        (status = 422, description = "`validation-error` on `limit` (1 to 100) or an unknown parameter.", body = crate::openapi::Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn history(
    State(state): State<AppState>,
    auth: WorkspaceAuth,
    ApiQuery(q): ApiQuery<HistoryQuery>,
) -> ApiResult<Json<Value>> {
    let limit = q.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::validation(
            "limit",
            "limit must be between 1 and 100",
        ));
    }
    let now = state.now();
    let mut data = Vec::new();
    for job in state
        .store()
        .list_sync_jobs(&auth.workspace_id, limit)
        .await?
    {
        let snapshots = state.store().job_snapshots(&job.id).await?;
        let mut v = job_json(&job, now);
        v["totals"] = totals(&snapshots);
        v["targets_read"] = json!(snapshots.len());
        data.push(v);
    }
    Ok(Json(json!({ "data": data })))
}

/// `POST /v1/sync` → 202 the job queued now, or the workspace's queued or running job with
/// `"existing": true` (never a second one). Errors: 401.
#[utoipa::path(
    post,
    path = "/v1/sync",
    operation_id = "triggerSync",
    tag = "sync",
    summary = "Run the analytics sync now",
    security(("api_key" = [])),
    responses(
        (status = 202, description = "The job queued, or the one already queued or running (`existing: true`).", body = crate::openapi::SyncJobView),
    ),
)]
pub async fn trigger(
    State(state): State<AppState>,
    auth: WorkspaceAuth,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let store = state.store();
    let now = state.now();
    let id = uuid::Uuid::now_v7().to_string();
    let (job, existing) = match store
        .enqueue_sync_job(&auth.workspace_id, &id, now, None)
        .await?
    {
        Some(job) => (job, false),
        None => match store.active_sync_job(&auth.workspace_id).await? {
            Some(job) => (job, true),
            // The active job ended between the two reads: queue again.
            None => (
                store
                    .enqueue_sync_job(&auth.workspace_id, &id, now, None)
                    .await?
                    .ok_or_else(|| {
                        ApiError::internal("queueing a sync job", &"no job was queued nor active")
                    })?,
                false,
            ),
        },
    };
    let mut v = job_json(&job, now);
    v["existing"] = json!(existing);
    Ok((StatusCode::ACCEPTED, Json(v)))
}

/// `GET /v1/sync/jobs/{id}` → the job (see [`job_json`]) with `totals`. Errors: 401; 404 (also
/// another workspace's job).
#[utoipa::path(
    get,
    path = "/v1/sync/jobs/{id}",
    operation_id = "getSyncJob",
    tag = "sync",
    summary = "Follow a sync job",
    params(
        ("id" = String, Path, description = "Sync job id"),
    ),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The job with its progress and totals.", body = crate::openapi::SyncJobView),
        (status = 404, description = "`not-found`: no sync job with this id in this workspace.", body = crate::openapi::Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn job(
    State(state): State<AppState>,
    auth: WorkspaceAuth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let job = state
        .store()
        .get_sync_job(&auth.workspace_id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("sync job"))?;
    let snapshots = state.store().job_snapshots(&job.id).await?;
    let mut v = job_json(&job, state.now());
    v["totals"] = totals(&snapshots);
    Ok(Json(v))
}

/// The sync routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/sync", post(trigger))
        .route("/v1/sync/status", get(status))
        .route("/v1/sync/history", get(history))
        .route("/v1/sync/jobs/{id}", get(job))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(secs: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 3, 1, 12, 0, 0).unwrap() + chrono::Duration::seconds(secs)
    }

    fn running(done: u32, total: u32) -> SyncJob {
        SyncJob {
            id: "j".into(),
            workspace_id: "w".into(),
            status: SYNC_RUNNING.into(),
            steps_total: total,
            steps_done: done,
            errors: vec![],
            locked_by: Some("a".into()),
            locked_until: Some(at(120)),
            created_at: at(0),
            started_at: Some(at(0)),
            finished_at: None,
        }
    }

    #[test]
    fn progress_and_estimate_come_from_the_average_step_time() {
        // 3 of 12 steps in 30 s: 10 s per step, 9 steps left.
        let v = job_json(&running(3, 12), at(30));
        assert_eq!(v["percent"], 25);
        assert_eq!(v["estimated_seconds_left"], 90);
        // Before the first step there is no average.
        let v = job_json(&running(0, 12), at(30));
        assert_eq!(v["percent"], 0);
        assert_eq!(v["estimated_seconds_left"], Value::Null);
        // Ended: 100 % and nothing left.
        let mut ended = running(12, 12);
        ended.status = "succeeded".into();
        ended.finished_at = Some(at(40));
        let v = job_json(&ended, at(50));
        assert_eq!(v["percent"], 100);
        assert_eq!(v["estimated_seconds_left"], Value::Null);
    }

    #[test]
    fn totals_sum_only_offered_figures() {
        let snap = |m: Value| MetricSnapshot {
            id: "s".into(),
            job_id: "j".into(),
            workspace_id: "w".into(),
            target_id: "t".into(),
            platform: "twitter".into(),
            fetched_at: at(0),
            metrics: m,
        };
        let t = totals(&[
            snap(json!({"impressions": 10, "likes": 2, "views": null})),
            snap(json!({"impressions": 5, "raw": {"x": 1}})),
        ]);
        assert_eq!(t, json!({"impressions": 15, "likes": 2}));
    }
}
