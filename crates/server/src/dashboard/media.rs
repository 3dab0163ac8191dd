//! The compose page's file upload: `POST /posts/media` with the session cookie and the CSRF
//! token in `X-CSRF-Token`, the file as the raw body (its `Content-Type`, `?filename=`) or as
//! `multipart/form-data` (part `file`). It runs exactly what `POST /v1/media` runs
//! ([`crate::routes::media::store_upload`]: streamed to disk, magic bytes checked,
//! `media_max_bytes`) for the session's workspace and answers the same JSON (201), or the same
//! problem+json. `assets/posts.js` calls it from the file input beside each media URL field and
//! puts the returned id in the row's hidden `media_id` field; without JavaScript the file
//! input stays hidden and media are given by URL.

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use subtle::ConstantTimeEq;

use crate::dashboard::session::{Session, CSRF_HEADER};
use crate::error::ApiError;
use crate::extract::ApiQuery;
use crate::routes::media::{media_json, store_upload, UploadQuery, DASHBOARD_UPLOAD_PATH};
use crate::AppState;

/// `POST /posts/media` → 201 the media JSON of `POST /v1/media`.
///
/// Errors: 303 to sign-in without a session; 403 problem without this session's CSRF token in
/// `X-CSRF-Token`; the problems of `POST /v1/media` otherwise.
pub async fn upload(
    State(state): State<AppState>,
    session: Session,
    ApiQuery(q): ApiQuery<UploadQuery>,
    req: Request,
) -> Response {
    let sent = req
        .headers()
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if sent.is_empty() || !bool::from(sent.as_bytes().ct_eq(session.csrf.as_bytes())) {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "csrf-refused",
            "The upload was refused",
            "it did not carry this session's security token (X-CSRF-Token); reload the page",
        )
        .into_response();
    }
    match store_upload(&state, &session.workspace_id, q.filename, req).await {
        Ok(m) => {
            tracing::info!(media_id = %m.id, kind = %m.kind, size_bytes = m.size_bytes, "media uploaded from the dashboard");
            (StatusCode::CREATED, Json(media_json(&state, &m))).into_response()
        }
        Err(e) => e.into_response(),
    }
}

/// The upload route (merged by `dashboard::routes()`).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(DASHBOARD_UPLOAD_PATH, post(upload))
        .layer(axum::extract::DefaultBodyLimit::disable())
}
