//! `GET /v1/connections/{id}/tiktok/creator-info`: what TikTok lets this creator do, read live.
//!
//! TikTok's posting rules require the posting screen to show the creator's nickname, offer only
//! the `privacy_level_options` with none chosen in advance, show the comment / Duet / Stitch
//! settings the creator's account disables as disabled, and keep a video within
//! `max_video_post_duration_sec`
//! (<https://developers.tiktok.com/doc/content-sharing-guidelines>). A product building its own
//! posting screen reads this first; the dashboard's compose page does the same.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use secrecy::ExposeSecret;
use serde::Serialize;
use switchboard_publish::tiktok::{query_creator_info, CreatorInfo};
use switchboard_publish::PublishError;

use crate::error::{ApiError, ApiResult};
use crate::extract::WorkspaceAuth;
use crate::{lifecycle, AppState};

/// The creator info of a TikTok connection, as TikTok reported it just now.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CreatorInfoAnswer {
    /// The connection.
    pub connection_id: String,
    /// The creator's avatar URL.
    pub creator_avatar_url: Option<String>,
    /// The creator's @handle.
    pub creator_username: Option<String>,
    /// The creator's nickname, to show on the posting screen.
    pub creator_nickname: Option<String>,
    /// The privacy levels this creator may choose from now; the person picks one for every post
    /// (`content.overrides.tiktok.privacy_level`), with none chosen in advance. An unaudited app
    /// is offered `SELF_ONLY` alone.
    pub privacy_level_options: Vec<String>,
    /// Comments are off in the creator's settings: show the option disabled (posts go out with
    /// comments off).
    pub comment_disabled: bool,
    /// Duet is off in the creator's settings.
    pub duet_disabled: bool,
    /// Stitch is off in the creator's settings.
    pub stitch_disabled: bool,
    /// Longest video this creator may post, seconds.
    pub max_video_post_duration_sec: Option<u64>,
}

impl CreatorInfoAnswer {
    fn new(connection_id: &str, i: CreatorInfo) -> Self {
        CreatorInfoAnswer {
            connection_id: connection_id.to_string(),
            creator_avatar_url: i.creator_avatar_url,
            creator_username: i.creator_username,
            creator_nickname: i.creator_nickname,
            privacy_level_options: i.privacy_level_options,
            comment_disabled: i.comment_disabled,
            duet_disabled: i.duet_disabled,
            stitch_disabled: i.stitch_disabled,
            max_video_post_duration_sec: i.max_video_post_duration_sec,
        }
    }
}

/// Reads the creator info of a TikTok connection (for the API route and the compose page).
///
/// # Errors
/// 404 for an unknown connection; 409 `not-tiktok` for another platform's; the token's
/// problems ([`lifecycle::usable_token`]); 502 `platform-error` with TikTok's diagnosis
/// (`scope_not_authorized`, `spam_risk_user_banned_from_posting`...), 504 when TikTok did not
/// answer.
pub async fn creator_info_of(
    state: &AppState,
    workspace_id: &str,
    id: &str,
) -> Result<CreatorInfoAnswer, ApiError> {
    let conn = state
        .store()
        .get_connection(workspace_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("connection"))?;
    if conn.platform != "tiktok" {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "not-tiktok",
            "Not a TikTok connection",
            format!(
                "connection {id} is a {} connection; creator info is TikTok's",
                conn.platform
            ),
        ));
    }
    let spec = state.platform(&conn.platform)?.clone();
    let (conn, token) = lifecycle::usable_token(state, conn).await?;
    let http = state.oauth().http();
    match query_creator_info(http, &spec, token.expose_secret()).await {
        Ok(info) => Ok(CreatorInfoAnswer::new(&conn.id, info)),
        Err(e) => {
            let d = e.diagnosis().clone();
            let (status, kind, title) = match e {
                PublishError::Unknown(_) => (
                    StatusCode::GATEWAY_TIMEOUT,
                    "platform-unreachable",
                    "The platform did not answer",
                ),
                PublishError::Failed(_) => (
                    StatusCode::BAD_GATEWAY,
                    "platform-error",
                    "The platform refused the request",
                ),
            };
            Err(
                ApiError::new(status, kind, title, format!("tiktok: {}", d.summary()))
                    .with_diagnosis(&d),
            )
        }
    }
}

/// `GET /v1/connections/{id}/tiktok/creator-info` → 200 `{connection_id, creator_avatar_url,
/// creator_username, creator_nickname, privacy_level_options, comment_disabled, duet_disabled,
/// stitch_disabled, max_video_post_duration_sec}`, read live from TikTok
/// (`POST /v2/post/publish/creator_info/query/`).
#[utoipa::path(
    get,
    path = "/v1/connections/{id}/tiktok/creator-info",
    operation_id = "getTikTokCreatorInfo",
    tag = "connections",
    summary = "What TikTok lets this creator post, for the posting screen",
    params(("id" = String, Path, description = "Connection id (a TikTok connection)")),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The creator info, read live.", body = CreatorInfoAnswer),
        (status = 404, description = "`not-found`: no connection with this id in this workspace.", body = crate::openapi::Problem, content_type = "application/problem+json"),
        (status = 409, description = "`not-tiktok`: not a TikTok connection; `token-expired`: reconnect.", body = crate::openapi::Problem, content_type = "application/problem+json"),
        (status = 502, description = "`platform-error`: TikTok refused; the `diagnosis` says why.", body = crate::openapi::Problem, content_type = "application/problem+json"),
        (status = 504, description = "`platform-unreachable`: TikTok did not answer.", body = crate::openapi::Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn creator_info(
    State(state): State<AppState>,
    auth: WorkspaceAuth,
    Path(id): Path<String>,
) -> ApiResult<Json<CreatorInfoAnswer>> {
    Ok(Json(
        creator_info_of(&state, &auth.workspace_id, &id).await?,
    ))
}

/// Routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new().route(
        "/v1/connections/{id}/tiktok/creator-info",
        get(creator_info),
    )
}
