//! The troubleshooter: a platform error a person pastes, explained with the same diagnosis every
//! failing platform call gets.

use axum::extract::State;
use axum::routing::post;
use axum::Json;
use axum::Router;
use serde::Deserialize;
use serde_json::Value;
use switchboard_core::diagnosis::{diagnose_call, CallKind, Diagnosis};

use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, WorkspaceAuth};
use crate::AppState;

/// Body of `POST /v1/troubleshoot`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TroubleshootRequest {
    /// Platform id (`twitter`, `linkedin`...).
    pub platform: String,
    /// HTTP status of the platform's answer, when the person has it.
    #[serde(default)]
    #[schema(minimum = 100, maximum = 599)]
    pub http_status: Option<u16>,
    /// The raw response body or message, as a string (a JSON object is accepted too and read as
    /// its text).
    #[schema(value_type = String, min_length = 1, pattern = "\\S", example = "{\"error\":\"invalid_grant\"}")]
    pub error: Value,
    /// Which call failed: `token` (code exchange, refresh) or `api`; some platforms reuse codes
    /// across the two (Pinterest `code` 2).
    #[serde(default)]
    pub call: Option<CallKind>,
}

/// `POST /v1/troubleshoot {platform, http_status?, error, call?}` → the [`Diagnosis`]:
/// `category`, `severity`, `retryable`, `cause`, `fix` (the steps, in order), `docs_url`,
/// `platform_code`, `platform_message`.
///
/// Errors: 404 `unknown-platform` listing the known ones; 422 naming `error` when it is missing
/// or empty, `http_status` when it is not 100-599.
#[utoipa::path(
    post,
    path = "/v1/troubleshoot",
    operation_id = "troubleshoot",
    tag = "troubleshooting",
    summary = "Explain a platform error",
    request_body = TroubleshootRequest,
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The diagnosis.", body = switchboard_core::diagnosis::Diagnosis),
        (status = 400, description = "`malformed-body`: the body is not JSON.", body = crate::openapi::Problem, content_type = "application/problem+json"),
        (status = 404, description = "`unknown-platform`: no such platform; `known_platforms` lists them.", body = crate::openapi::Problem, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported-media-type`: the body is not `application/json`.", body = crate::openapi::Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation-error` on `error` (missing or empty), `http_status` (not 100-599) or `call`.", body = crate::openapi::Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn troubleshoot(
    State(state): State<AppState>,
    _auth: WorkspaceAuth,
    ApiJson(req): ApiJson<TroubleshootRequest>,
) -> ApiResult<Json<Diagnosis>> {
    let spec = state.platform(&req.platform)?;
    let text = match &req.error {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    if text.trim().is_empty() {
        return Err(ApiError::validation(
            "error",
            "error must be the platform's response body or message, as a string",
        ));
    }
    if let Some(s) = req.http_status.filter(|s| !(100..=599).contains(s)) {
        return Err(ApiError::validation(
            "http_status",
            format!("{s} is not an HTTP status (100-599)"),
        ));
    }
    let mut d = diagnose_call(
        &spec.id,
        req.call.unwrap_or_default(),
        req.http_status,
        &text,
    );
    if d.docs_url.is_none() {
        // Custom providers: their first documentation page, when the catalog has one.
        d.docs_url = spec.guide.docs_for(d.category.as_str()).map(str::to_string);
        d.docs_url = d
            .docs_url
            .or_else(|| spec.docs.first().map(|l| l.url.clone()));
    }
    Ok(Json(d))
}

/// Routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new().route("/v1/troubleshoot", post(troubleshoot))
}
