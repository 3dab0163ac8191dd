//! Posts. For now `POST /v1/posts/validate`: the verdict on a post for each of its targets,
//! with every violation listed, without storing anything. [`verdict`] is the check that
//! `POST /v1/posts` runs before storing (it answers 422 with the same `targets` when invalid).

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::json;
use switchboard_core::post::PostRequest;
use switchboard_core::post_rules::{self, TargetVerdict, Verdict, Violation};

use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, WorkspaceAuth};
use crate::AppState;

/// The verdict on `req` for each of its targets, in `connection_ids` order: each id resolved to
/// the workspace's connection (an unknown id, or another workspace's, is a `unknown_connection`
/// violation on `connection_ids[i]`), then the content checked against the rules of the
/// connection's platform ([`post_rules::validate`]). Reads connections only; writes nothing.
///
/// # Errors
/// 422 `validation-error` when the request itself is wrong whatever the platform (no
/// connection ids, one listed twice, an override for an unknown platform id, a `publish_at`
/// that cannot be placed in time, bad `scheduling_options`): `field` names the first,
/// `violations` lists them all. Store failures as [`ApiError`].
pub async fn verdict(
    state: &AppState,
    workspace_id: &str,
    req: &PostRequest,
) -> ApiResult<Verdict> {
    let mut request_violations = req.check_request(state.now());
    for key in req.content.overrides.keys() {
        if state.catalog().get(key).is_none() {
            request_violations.push(Violation::new(
                &format!("content.overrides.{key}"),
                "unknown_platform",
                format!(
                    "{key:?} is not a platform id; known platforms: {}",
                    state.catalog().ids().join(", ")
                ),
            ));
        }
    }
    if let Some(first) = request_violations.first() {
        return Err(ApiError::validation(&first.field, first.message.clone())
            .with("violations", json!(request_violations)));
    }
    let mut targets = Vec::with_capacity(req.connection_ids.len());
    for (i, id) in req.connection_ids.iter().enumerate() {
        let conn = state.store().get_connection(workspace_id, id).await?;
        let Some(conn) = conn else {
            targets.push(TargetVerdict::new(
                id,
                None,
                vec![Violation::new(
                    &format!("connection_ids[{i}]"),
                    "unknown_connection",
                    format!("there is no connection {id:?} in this workspace"),
                )],
            ));
            continue;
        };
        let violations = match state.catalog().get(&conn.platform) {
            Some(spec) => post_rules::validate(spec, &req.content),
            // A custom provider removed from the configuration since it was connected.
            None => vec![Violation::new(
                &format!("connection_ids[{i}]"),
                "unknown_platform",
                format!(
                    "connection {id:?} is on platform {:?}, which is no longer configured",
                    conn.platform
                ),
            )],
        };
        targets.push(TargetVerdict::new(id, Some(&conn.platform), violations));
    }
    Ok(Verdict::new(targets))
}

/// `POST /v1/posts/validate` with the body of `POST /v1/posts` →
/// 200 `{valid, targets: [{connection_id, platform, valid, violations: [{field, code, message,
/// limit?, actual?}]}]}`. Stores nothing and calls no platform.
///
/// Errors: 401 without a valid API key; 422 naming the field for a body that does not parse
/// (unknown field, bad `time_zone` or `publish_at`) or a request-level problem (see [`verdict`]).
pub async fn validate(
    State(state): State<AppState>,
    auth: WorkspaceAuth,
    ApiJson(req): ApiJson<PostRequest>,
) -> ApiResult<Json<Verdict>> {
    Ok(Json(verdict(&state, &auth.workspace_id, &req).await?))
}

/// Routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new().route("/v1/posts/validate", post(validate))
}
