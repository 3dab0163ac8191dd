//! Instagram API with Instagram Login (`graph.instagram.com`). PLATFORMS.md §4A.
//!
//! - Authorize `www.instagram.com/oauth/authorize` (legacy alias `api.instagram.com`): scopes
//!   separated by commas (the old `business_*` names are refused), no PKCE; every redirect
//!   ends with `#_`, which is not part of the code; a denial carries `error_reason=user_denied`.
//! - Token `POST api.instagram.com/oauth/access_token` (url-encoded or multipart form,
//!   `client_secret` in the body) → flat `{access_token, user_id, permissions}`, a short-lived
//!   token (3600 s). Its errors use the old flat shape
//!   `{"error_type":"OAuthException","code":400,"error_message":"…"}`.
//! - Long-lived: `GET graph.instagram.com/access_token?grant_type=ig_exchange_token&client_secret&access_token`
//!   → `{access_token, token_type:"bearer", expires_in:5183944}`.
//! - No refresh token: `GET graph.instagram.com/refresh_access_token?grant_type=ig_refresh_token&access_token`
//!   returns a new 60-day token, only for a long-lived token at least 24 hours old and not
//!   expired. Graph errors elsewhere (see `facebook.rs`).
//! - Profile `GET graph.instagram.com/me?fields=user_id,username,name,profile_picture_url,account_type`
//!   (Bearer or `access_token` query). PERSONAL accounts show `account_type: "PERSONAL"`.
//! - No revocation endpoint.
//!
//! Publishing (PLATFORMS.md §4 "Publishing"), on `graph.instagram.com[/vNN.N]`, with the token
//! as Bearer or `access_token`, parameters in the query, a form body or a JSON body:
//! - `POST /{ig-user-id}/media` (scope `instagram_business_content_publish`) → `{id}` of a
//!   container: `image_url` (+`caption`); `media_type=REELS` + `video_url`;
//!   `is_carousel_item=true` + `image_url` (or `media_type=VIDEO` + `video_url`); or
//!   `media_type=CAROUSEL&children=a,b,c` (2–10 carousel items of the same user) + `caption`.
//!   PERSONAL accounts get code 10 (no subcode). Images must be JPEG: a URL whose path ends in
//!   another image extension (`.png`, `.gif`, `.webp`, `.heic`, `.bmp`, `.tiff`) gets code
//!   36001, subcode **2207005** at once (Meta downloads images while creating the container).
//!   A caption over 2,200 characters or with more than 30 hashtags gets code 100, subcode
//!   2207010 (one subcode for both; the sources give no separate one for hashtags).
//! - `GET /{container-id}?fields=id,status_code,status`: `IN_PROGRESS` for
//!   [`IMAGE_PROCESSING_SECS`] (images) or [`VIDEO_PROCESSING_SECS`] (videos) of sandbox time,
//!   then `FINISHED`; a carousel is ready when its children are. `ERROR` when a media URL
//!   contains [`BAD_MEDIA_MARKER`] (status text names subcode 2207052, media not fetched);
//!   `EXPIRED` [`CONTAINER_TTL_SECS`] after creation unless published; `PUBLISHED` once published.
//! - `POST /{ig-user-id}/media_publish?creation_id=` → `{id}` (the media id); the one point
//!   where Instagram publishes (`record_published`). Not ready: code 9007 / 2207027; ERROR:
//!   -1 / 2207032; EXPIRED: -2 / 2207020; unknown container: 24 / 2207006; already PUBLISHED:
//!   code 100 (a container is never published twice); more than [`QUOTA_TOTAL`] publishes in
//!   a rolling [`QUOTA_DURATION_SECS`]: code 9 / **2207042**.
//! - `GET /{ig-user-id}/media?fields=id,caption,timestamp&limit=`: the user's published media,
//!   newest first.
//! - `GET /{ig-user-id}/content_publishing_limit[?fields=quota_usage,config]` →
//!   `{data:[{quota_usage, config:{quota_total:50, quota_duration:86400}}]}` (the
//!   `content_publishing_limit` reference's "currently 50"; PLATFORMS.md marks it [?]).
//! - `GET /{media-id}?fields=id,caption,media_type,permalink,timestamp,username` and
//!   `GET /{media-id}/insights?metric=views,reach,likes,comments,shares,saved,total_interactions`
//!   (scope `instagram_business_manage_insights`) → `{data:[{name, period:"lifetime",
//!   values:[{value}], title, description, id}]}`; values grow with the sandbox clock from
//!   publication ([`crate::state::grown_metric`]). Each metric is served only for the media
//!   product types Meta lists for it (a Reel takes `ig_reels_avg_watch_time`, a feed post does
//!   not); a retired metric (`impressions`, `plays`...) fails the whole call with `(#100)`.
//! - Faults: `upload` targets container creation, status and the limit read; `publish` targets
//!   `media_publish`; `metrics` targets insights.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde_json::{json, Value};

use super::facebook::{graph_error, graph_token, token_error, LONG_TTL};
use crate::consent::{self, no_check, AuthorizeRules, ErrorPage, ErrorStyle, PageError, PkceRule};
use crate::http::{self, json, token_json, Params, Req};
use crate::state::{
    grown_metric, ClientCheck, CodeError, Endpoint, PublishedItem, RefreshLifetime, Shared,
    TokenInfo, TokenKind,
};

const ID: &str = "instagram";
/// Short-lived token lifetime in seconds.
const SHORT_TTL: i64 = 3600;
/// Minimum age in seconds before a long-lived token can be refreshed.
const MIN_REFRESH_AGE: i64 = 86_400;

pub(crate) static AUTHORIZE: AuthorizeRules = AuthorizeRules {
    platform: ID,
    display_name: "Instagram",
    brand_color: "#e1306c",
    client_param: "client_id",
    scope_separators: &[','],
    default_scopes: &[],
    known_scopes: &[
        "instagram_business_basic",
        "instagram_business_content_publish",
        "instagram_business_manage_comments",
        "instagram_business_manage_messages",
        "instagram_business_manage_insights",
    ],
    scope_error: "invalid_scope",
    request_errors: ErrorStyle::Redirect,
    pkce: PkceRule::Ignored,
    state_required: false,
    max_state_len: None,
    response_type_optional: false,
    code_ttl_secs: 600,
    fragment: "#_",
    deny_description: "The user denied your request",
    deny_extra: &[("error_reason", "user_denied")],
    page: error_page,
    check: no_check,
};

fn error_page(e: &PageError) -> ErrorPage {
    let message = match e {
        PageError::MissingClient | PageError::ClientIdNotClientKey => {
            "Missing required parameter: client_id".to_string()
        }
        PageError::UnknownClient(_) => "Invalid platform app".to_string(),
        PageError::MissingRedirect => "Missing required parameter: redirect_uri".to_string(),
        PageError::RedirectMismatch(_) => "Invalid redirect_uri".to_string(),
        PageError::Request(p) => format!("{}: {}", p.error, p.description),
    };
    ErrorPage::new(
        400,
        "Invalid Request: Request parameters are invalid",
        message,
    )
}

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route(
            "/www.instagram.com/oauth/authorize",
            get(authorize).post(authorize),
        )
        .route(
            "/api.instagram.com/oauth/authorize",
            get(authorize).post(authorize),
        )
        .route("/api.instagram.com/oauth/access_token", post(token))
        .route("/graph.instagram.com/access_token", get(exchange))
        .route("/graph.instagram.com/refresh_access_token", get(refresh))
        .route("/graph.instagram.com/me", get(me))
        .route(
            "/graph.instagram.com/{*path}",
            get(graph_node).post(graph_node),
        )
}

async fn authorize(State(sb): State<Arc<Shared>>, req: Req) -> Response {
    consent::authorize(&sb, &AUTHORIZE, req).await
}

/// The flat error shape of `api.instagram.com/oauth/access_token`.
fn ig_error(message: &str) -> Response {
    token_json(
        400,
        json!({ "error_type": "OAuthException", "code": 400, "error_message": message }),
    )
}

async fn token(State(sb): State<Arc<Shared>>, req: Req) -> Response {
    http::run(&sb, ID, Endpoint::Token, || {
        let Some(client_id) = req.form.get("client_id").filter(|c| !c.is_empty()) else {
            return ig_error("Missing required field client_id");
        };
        let secret = req.form.get("client_secret").unwrap_or("");
        match sb.check_client(ID, client_id, secret) {
            ClientCheck::Ok => {}
            ClientCheck::UnknownClient => return ig_error("Invalid platform app"),
            ClientCheck::BadSecret => return ig_error("Error validating client secret."),
        }
        match req.form.get("grant_type") {
            Some("authorization_code") => {}
            None | Some("") => return ig_error("Missing required field grant_type"),
            Some(_) => return ig_error("Invalid grant_type"),
        }
        let Some(redirect_uri) = req.form.get("redirect_uri") else {
            return ig_error("Missing required field redirect_uri");
        };
        let Some(code) = req.form.get("code").filter(|c| !c.is_empty()) else {
            return ig_error("Missing required field code");
        };
        // The `#_` a browser may carry over from the redirect is not part of the code.
        let code = code.trim_end_matches("#_");
        let now = sb.now();
        let mut d = sb.lock();
        let c =
            match d.redeem_code(ID, code, client_id, Some(redirect_uri), None, now) {
                Ok(c) => c,
                Err(CodeError::Used) => return ig_error("This authorization code has been used"),
                Err(CodeError::Expired) => return ig_error("This authorization code has expired"),
                Err(CodeError::RedirectMismatch) => return ig_error(
                    "Error validating verification code. Please make sure your redirect_uri is \
                     identical to the one you used in the OAuth dialog request",
                ),
                Err(_) => return ig_error("Invalid authorization code"),
            };
        let grant = d.new_grant(&c, now, RefreshLifetime::None);
        let short = d.issue(
            &grant,
            TokenKind::Access,
            Some(sb.access_ttl(ID, SHORT_TTL)),
            false,
            now,
        );
        let user_id = grant
            .account
            .user_id
            .parse::<u64>()
            .map(Value::from)
            .unwrap_or_else(|_| Value::from(grant.account.user_id));
        token_json(
            200,
            json!({
                "access_token": short.token,
                "user_id": user_id,
                "permissions": grant.scopes,
            }),
        )
    })
    .await
}

fn unsupported_grant(expected: &str) -> Response {
    graph_error(
        400,
        &format!("Unsupported grant_type: expected {expected}"),
        100,
        None,
    )
}

async fn exchange(State(sb): State<Arc<Shared>>, req: Req) -> Response {
    http::run(&sb, ID, Endpoint::Exchange, || {
        if req.param("grant_type") != Some("ig_exchange_token") {
            return unsupported_grant("ig_exchange_token");
        }
        let Some(token) = graph_token(&req) else {
            return graph_error(400, "Missing access_token parameter.", 100, None);
        };
        let now = sb.now();
        let mut d = sb.lock();
        let info = match d.check_access(ID, token, now) {
            Ok(i) => i,
            Err(e) => return token_error(e),
        };
        // The secret alone names the app: it must be the secret of the token's app.
        let secret = req.param("client_secret").unwrap_or("");
        if sb.check_client(ID, &info.grant.client_id, secret) != ClientCheck::Ok {
            return graph_error(400, "Error validating client secret.", 101, Some(1));
        }
        let long = d.issue(&info.grant, TokenKind::Access, Some(LONG_TTL), true, now);
        token_json(
            200,
            json!({
                "access_token": long.token,
                "token_type": "bearer",
                "expires_in": long.expires_in(now),
            }),
        )
    })
    .await
}

async fn refresh(State(sb): State<Arc<Shared>>, req: Req) -> Response {
    http::run(&sb, ID, Endpoint::Refresh, || {
        if req.param("grant_type") != Some("ig_refresh_token") {
            return unsupported_grant("ig_refresh_token");
        }
        let Some(token) = graph_token(&req) else {
            return graph_error(400, "Missing access_token parameter.", 100, None);
        };
        let now = sb.now();
        let mut d = sb.lock();
        let info = match d.check_access(ID, token, now) {
            Ok(i) => i,
            Err(e) => return token_error(e),
        };
        if !info.long_lived {
            return graph_error(
                400,
                "(#100) Only long-lived access tokens can be refreshed; exchange the short-lived \
                 token with grant_type=ig_exchange_token first.",
                100,
                None,
            );
        }
        if now - info.issued_at < Duration::seconds(MIN_REFRESH_AGE) {
            return graph_error(
                400,
                "(#100) The access token can only be refreshed once it is at least 24 hours old.",
                100,
                None,
            );
        }
        let fresh = d.issue(&info.grant, TokenKind::Access, Some(LONG_TTL), true, now);
        token_json(
            200,
            json!({
                "access_token": fresh.token,
                "token_type": "bearer",
                "expires_in": fresh.expires_in(now),
            }),
        )
    })
    .await
}

async fn me(State(sb): State<Arc<Shared>>, req: Req) -> Response {
    http::run(&sb, ID, Endpoint::Profile, || {
        let Some(token) = graph_token(&req) else {
            return graph_error(
                400,
                "An active access token must be used to query information about the current user.",
                2500,
                None,
            );
        };
        let info = match sb.lock().check_access(ID, token, sb.now()) {
            Ok(i) => i,
            Err(e) => return token_error(e),
        };
        if !info
            .grant
            .scopes
            .iter()
            .any(|s| s == "instagram_business_basic")
        {
            return graph_error(
                400,
                "(#10) Application does not have permission for this action",
                10,
                None,
            );
        }
        let a = info.grant.account;
        // The app-scoped id differs from the professional account's user_id.
        let app_scoped = format!("26{}", a.user_id.get(2..).unwrap_or(a.user_id));
        let mut body = json!({ "id": app_scoped });
        let fields = req.param("fields").unwrap_or("id,username");
        for f in fields.split(',').map(str::trim).filter(|f| !f.is_empty()) {
            match f {
                "id" => {}
                "user_id" => body["user_id"] = Value::from(a.user_id),
                "username" => body["username"] = Value::from(a.handle),
                "name" => body["name"] = Value::from(a.name),
                "account_type" => {
                    body["account_type"] = Value::from(a.account_type.unwrap_or("BUSINESS"))
                }
                "profile_picture_url" => {
                    body["profile_picture_url"] = Value::from(format!(
                        "{}/__sandbox/avatars/{}.svg",
                        req.sandbox_base("graph.instagram.com"),
                        a.id
                    ))
                }
                "followers_count" => body["followers_count"] = Value::from(1280),
                "follows_count" => body["follows_count"] = Value::from(96),
                "media_count" => body["media_count"] = Value::from(42),
                other => {
                    return graph_error(
                        400,
                        &format!(
                            "(#100) Tried accessing nonexisting field ({other}) on node type (User)"
                        ),
                        100,
                        None,
                    )
                }
            }
        }
        json(200, body)
    })
    .await
}

// ---- publishing ----

/// Seconds of sandbox time an image container stays `IN_PROGRESS`.
pub(crate) const IMAGE_PROCESSING_SECS: i64 = 3;
/// Seconds of sandbox time a video (Reels) container stays `IN_PROGRESS`.
pub(crate) const VIDEO_PROCESSING_SECS: i64 = 30;
/// A container not published within 24 hours expires (PLATFORMS.md §4).
pub(crate) const CONTAINER_TTL_SECS: i64 = 86_400;
/// Publishes allowed per rolling window (`content_publishing_limit`: "currently 50").
pub(crate) const QUOTA_TOTAL: usize = 50;
/// The publishing window in seconds.
pub(crate) const QUOTA_DURATION_SECS: i64 = 86_400;
/// Caption limit in characters (PLATFORMS.md §4 "Limits").
const MAX_CAPTION_CHARS: usize = 2_200;
/// Hashtag limit per caption.
const MAX_HASHTAGS: usize = 30;
/// Carousel size limits.
const CAROUSEL_MIN: usize = 2;
const CAROUSEL_MAX: usize = 10;
/// A media URL containing this text stands for media the platform cannot fetch or process:
/// the Instagram container ends in `ERROR`, a TikTok publish in `FAILED`.
pub(crate) const BAD_MEDIA_MARKER: &str = "sandbox-bad-media";
/// Image extensions that are not JPEG (Instagram accepts JPEG only).
const NOT_JPEG: [&str; 7] = ["png", "gif", "webp", "heic", "bmp", "tif", "tiff"];
const PUBLISH_SCOPE: &str = "instagram_business_content_publish";
const INSIGHTS_SCOPE: &str = "instagram_business_manage_insights";
/// Media insights metrics Instagram serves: name, the most it grows per hour, title, and the
/// media product types that take it (`F` FEED, `R` REELS, `S` STORY), from the metrics table
/// of Instagram Media Insights
/// (<https://developers.facebook.com/docs/instagram-platform/reference/instagram-media/insights>).
/// `impressions`, `plays`, `clips_replays_count`, `ig_reels_aggregated_all_plays_count` and
/// `video_views` are retired (April 21, 2025 for every version) and are not here: asking for
/// one fails the whole call.
const INSIGHT_METRICS: [(&str, u64, &str, &str); 14] = [
    ("comments", 12, "Comments", "FR"),
    ("follows", 3, "Follows", "FS"),
    ("ig_reels_avg_watch_time", 9000, "Average watch time", "R"),
    (
        "ig_reels_video_view_total_time",
        90_000,
        "Total watch time",
        "R",
    ),
    ("likes", 80, "Likes", "FR"),
    ("navigation", 20, "Navigation", "S"),
    ("profile_activity", 5, "Profile activity", "FS"),
    ("profile_visits", 6, "Profile visits", "FS"),
    ("reach", 600, "Accounts reached", "FRS"),
    ("replies", 2, "Replies", "S"),
    ("saved", 6, "Saved", "FR"),
    ("shares", 8, "Shares", "FRS"),
    ("total_interactions", 100, "Interactions", "FRS"),
    ("views", 1200, "Views", "FRS"),
];

/// What a container holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MediaKind {
    Image,
    Video,
    Carousel,
}

impl MediaKind {
    fn name(self) -> &'static str {
        match self {
            MediaKind::Image => "image",
            MediaKind::Video => "video",
            MediaKind::Carousel => "carousel",
        }
    }

    fn graph_type(self) -> &'static str {
        match self {
            MediaKind::Image => "IMAGE",
            MediaKind::Video => "VIDEO",
            MediaKind::Carousel => "CAROUSEL_ALBUM",
        }
    }
}

/// A media container (`POST /{ig-user-id}/media`).
#[derive(Debug, Clone)]
struct Container {
    /// The IG user id that owns it.
    user_id: String,
    kind: MediaKind,
    carousel_item: bool,
    caption: String,
    /// Media URLs (for a carousel: the children's URLs).
    media: Vec<String>,
    children: Vec<String>,
    created_at: DateTime<Utc>,
    ready_at: DateTime<Utc>,
    bad_media: bool,
    /// The media id once published.
    published_as: Option<String>,
}

/// A published media object.
#[derive(Debug, Clone)]
struct Media {
    user_id: String,
    handle: &'static str,
    kind: MediaKind,
    caption: String,
    published_at: DateTime<Utc>,
}

/// Instagram's publishing state, kept in `Data::platform_state`.
#[derive(Default)]
pub(crate) struct Publishing {
    containers: HashMap<String, Container>,
    media: HashMap<String, Media>,
    /// Publish instants per IG user id, for the rolling quota.
    publishes: HashMap<String, Vec<DateTime<Utc>>>,
    next_id: u64,
}

impl Publishing {
    fn next(&mut self, prefix: u64) -> String {
        self.next_id += 1;
        (prefix + self.next_id).to_string()
    }

    /// Publishes by `user` within the window ending at `now`.
    fn usage(&self, user: &str, now: DateTime<Utc>) -> usize {
        let from = now - Duration::seconds(QUOTA_DURATION_SECS);
        self.publishes
            .get(user)
            .map_or(0, |v| v.iter().filter(|t| **t > from).count())
    }

    /// The container's `status_code` at `now`.
    fn status_code(&self, c: &Container, now: DateTime<Utc>) -> &'static str {
        if c.published_as.is_some() {
            return "PUBLISHED";
        }
        if now - c.created_at >= Duration::seconds(CONTAINER_TTL_SECS) {
            return "EXPIRED";
        }
        let children: Vec<&Container> = c
            .children
            .iter()
            .filter_map(|id| self.containers.get(id))
            .collect();
        if c.bad_media || children.iter().any(|k| k.bad_media) {
            return "ERROR";
        }
        let ready = children
            .iter()
            .map(|k| k.ready_at)
            .fold(c.ready_at, DateTime::max);
        if now < ready {
            "IN_PROGRESS"
        } else {
            "FINISHED"
        }
    }
}

/// A Graph error with Instagram's media fields (`is_transient`, `error_user_title`,
/// `error_user_msg`) as the IG error-codes reference shows them.
fn media_error(
    code: i64,
    subcode: Option<i64>,
    message: &str,
    title: &str,
    user_msg: &str,
) -> Response {
    let mut err = json!({
        "message": message,
        "type": "OAuthException",
        "is_transient": false,
        "code": code,
        "error_user_title": title,
        "error_user_msg": user_msg,
        "fbtrace_id": http::trace_id(),
    });
    if let Some(s) = subcode {
        err["error_subcode"] = Value::from(s);
    }
    json(400, json!({ "error": err }))
}

/// Graph's answer for a node the caller may not see or that does not exist (code 100/33).
fn no_such_object(id: &str, method: &str) -> Response {
    json(
        400,
        json!({ "error": {
            "message": format!(
                "Unsupported {method} request. Object with ID '{id}' does not exist, cannot be \
                 loaded due to missing permissions, or does not support this operation. Please \
                 read the Graph API documentation at https://developers.facebook.com/docs/graph-api"
            ),
            "type": "GraphMethodException",
            "code": 100,
            "error_subcode": 33,
            "fbtrace_id": http::trace_id(),
        }}),
    )
}

fn no_permission() -> Response {
    graph_error(
        400,
        "(#10) Application does not have permission for this action",
        10,
        None,
    )
}

fn missing_param(name: &str) -> Response {
    graph_error(
        400,
        &format!("(#100) The parameter {name} is required"),
        100,
        None,
    )
}

/// Query, form and JSON body parameters together (JSON values as text).
fn all_params(req: &Req) -> Params {
    let mut out = req.query.clone();
    out.0.extend(req.form.0.iter().cloned());
    if let Ok(Value::Object(m)) = serde_json::from_slice::<Value>(&req.body) {
        for (k, v) in m {
            let text = match v {
                Value::String(s) => s,
                Value::Array(items) => items
                    .iter()
                    .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_string))
                    .collect::<Vec<_>>()
                    .join(","),
                other => other.to_string(),
            };
            out.0.push((k, text));
        }
    }
    out
}

/// The token's grant, or the Graph error for a missing or dead token.
fn caller(sb: &Shared, req: &Req) -> Result<TokenInfo, Response> {
    let Some(token) = graph_token(req) else {
        return Err(graph_error(
            400,
            "An active access token must be used to query information about the current user.",
            2500,
            None,
        ));
    };
    sb.lock()
        .check_access(ID, token, sb.now())
        .map_err(token_error)
}

fn has_scope(info: &TokenInfo, scope: &str) -> bool {
    info.grant.scopes.iter().any(|s| s == scope)
}

/// The path after the host, without a leading Graph version (`v22.0`).
fn node_path(path: &str) -> Vec<String> {
    let rest = path
        .split_once("/graph.instagram.com/")
        .map_or("", |(_, r)| r);
    let mut parts: Vec<String> = rest
        .split('/')
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect();
    if parts
        .first()
        .is_some_and(|p| p.starts_with('v') && p[1..].split('.').all(|n| n.parse::<u32>().is_ok()))
    {
        parts.remove(0);
    }
    parts
}

/// Every Graph node and edge below `graph.instagram.com` other than the OAuth routes.
async fn graph_node(State(sb): State<Arc<Shared>>, req: Req) -> Response {
    // A leading version segment must be one Graph serves, as on graph.facebook.com.
    let first = req
        .path
        .split_once("/graph.instagram.com/")
        .and_then(|(_, r)| r.split('/').next())
        .unwrap_or_default();
    let versioned = first.starts_with('v') && first[1..].contains('.');
    if versioned && !super::facebook::served_graph_version(first, sb.now().date_naive()) {
        let rest = node_path(&req.path).join("/");
        return graph_error(
            400,
            &format!("Unknown path components: /{rest}"),
            2500,
            None,
        );
    }
    let parts = node_path(&req.path);
    let post = req.method == axum::http::Method::POST;
    let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
    match (post, parts.as_slice()) {
        (false, ["me"]) => me(State(sb), req).await,
        (true, [user, "media"]) => {
            let user = user.to_string();
            http::run(&sb, ID, Endpoint::Upload, || {
                create_container(&sb, &req, &user)
            })
            .await
        }
        (false, [user, "media"]) => {
            let user = user.to_string();
            http::run(&sb, ID, Endpoint::Metrics, || list_media(&sb, &req, &user)).await
        }
        (true, [user, "media_publish"]) => {
            let user = user.to_string();
            http::run(&sb, ID, Endpoint::Publish, || publish(&sb, &req, &user)).await
        }
        (false, [user, "content_publishing_limit"]) => {
            let user = user.to_string();
            http::run(&sb, ID, Endpoint::Upload, || {
                publishing_limit(&sb, &req, &user)
            })
            .await
        }
        (false, [media, "insights"]) => {
            let media = media.to_string();
            http::run(&sb, ID, Endpoint::Metrics, || insights(&sb, &req, &media)).await
        }
        (false, [id]) => {
            let id = id.to_string();
            http::run(&sb, ID, Endpoint::Upload, || read_node(&sb, &req, &id)).await
        }
        _ => graph_error(
            400,
            &format!("Unknown path components: /{}", parts.join("/")),
            2500,
            None,
        ),
    }
}

/// The caller, checked for the publishing scope, for being `user`, and for a professional
/// account.
fn publisher(sb: &Shared, req: &Req, user: &str, method: &str) -> Result<TokenInfo, Response> {
    let info = caller(sb, req)?;
    if info.grant.account.user_id != user {
        return Err(no_such_object(user, method));
    }
    if !has_scope(&info, PUBLISH_SCOPE) {
        return Err(no_permission());
    }
    if info.grant.account.account_type == Some("PERSONAL") {
        return Err(graph_error(
            400,
            "(#10) The user is not an Instagram Business or Creator account: personal accounts \
             cannot publish through the API",
            10,
            None,
        ));
    }
    Ok(info)
}

/// The lower-case extension of a URL's path, if any.
fn extension(url: &str) -> Option<String> {
    let path = url::Url::parse(url).ok()?.path().to_string();
    let last = path.rsplit('/').next()?;
    let (_, ext) = last.rsplit_once('.')?;
    Some(ext.to_ascii_lowercase())
}

fn create_container(sb: &Shared, req: &Req, user: &str) -> Response {
    if let Err(r) = publisher(sb, req, user, "post") {
        return r;
    }
    let p = all_params(req);
    let media_type = p.get("media_type").unwrap_or("").to_ascii_uppercase();
    let carousel_item = p.get("is_carousel_item") == Some("true");
    let caption = if carousel_item {
        String::new()
    } else {
        p.get("caption").unwrap_or("").to_string()
    };
    if caption.chars().count() > MAX_CAPTION_CHARS {
        return media_error(
            100,
            Some(2_207_010),
            "The caption is too long.",
            "Caption too long",
            "The caption can be at most 2,200 characters.",
        );
    }
    let hashtags = caption
        .split_whitespace()
        .filter(|w| w.starts_with('#'))
        .count();
    if hashtags > MAX_HASHTAGS {
        return media_error(
            100,
            Some(2_207_010),
            "The caption has too many hashtags.",
            "Too many hashtags",
            "A caption can have at most 30 hashtags.",
        );
    }
    let now = sb.now();
    let mut d = sb.lock();
    let st = d.platform_state::<Publishing>();
    let (kind, media, children) = match media_type.as_str() {
        "" | "IMAGE" => {
            let Some(url) = p.get("image_url").filter(|u| !u.is_empty()) else {
                return missing_param("image_url");
            };
            if extension(url).is_some_and(|e| NOT_JPEG.contains(&e.as_str())) {
                return media_error(
                    36001,
                    Some(2_207_005),
                    "The image format is not supported.",
                    "Unsupported image format",
                    "The image format is not supported. Supported formats are: JPEG.",
                );
            }
            (MediaKind::Image, vec![url.to_string()], Vec::new())
        }
        "REELS" | "VIDEO" => {
            if media_type == "VIDEO" && !carousel_item {
                return media_error(
                    100,
                    Some(2_207_023),
                    "The media type VIDEO is no longer supported; publish videos as REELS.",
                    "Unsupported media type",
                    "Feed videos are published with media_type=REELS.",
                );
            }
            let Some(url) = p.get("video_url").filter(|u| !u.is_empty()) else {
                return missing_param("video_url");
            };
            (MediaKind::Video, vec![url.to_string()], Vec::new())
        }
        "CAROUSEL" => {
            let ids: Vec<String> = p
                .get("children")
                .unwrap_or("")
                .split(',')
                .map(|c| c.trim().trim_matches(|c| c == '[' || c == ']' || c == '"'))
                .filter(|c| !c.is_empty())
                .map(str::to_string)
                .collect();
            if ids.len() < CAROUSEL_MIN || ids.len() > CAROUSEL_MAX {
                return media_error(
                    100,
                    Some(2_207_028),
                    "Carousel validation failed.",
                    "Invalid carousel",
                    "A carousel needs between 2 and 10 carousel items.",
                );
            }
            let mut urls = Vec::new();
            for id in &ids {
                match st.containers.get(id) {
                    Some(c) if c.user_id == user && c.carousel_item => {
                        urls.extend(c.media.iter().cloned())
                    }
                    _ => {
                        return media_error(
                            100,
                            Some(2_207_028),
                            "Carousel validation failed.",
                            "Invalid carousel",
                            &format!("{id} is not a carousel item container of this user."),
                        )
                    }
                }
            }
            (MediaKind::Carousel, urls, ids)
        }
        other => {
            return media_error(
                100,
                Some(2_207_023),
                &format!("The media type {other} is unknown."),
                "Unknown media type",
                "The media type entered is not one of the expected media types.",
            )
        }
    };
    let processing = match kind {
        MediaKind::Video => VIDEO_PROCESSING_SECS,
        _ => IMAGE_PROCESSING_SECS,
    };
    let id = st.next(17_889_000_000_000_000);
    let bad_media = media.iter().any(|u| u.contains(BAD_MEDIA_MARKER)) && children.is_empty();
    st.containers.insert(
        id.clone(),
        Container {
            user_id: user.to_string(),
            kind,
            carousel_item,
            caption,
            media,
            children,
            created_at: now,
            ready_at: now + Duration::seconds(processing),
            bad_media,
            published_as: None,
        },
    );
    json(200, json!({ "id": id }))
}

fn publish(sb: &Shared, req: &Req, user: &str) -> Response {
    let info = match publisher(sb, req, user, "post") {
        Ok(i) => i,
        Err(r) => return r,
    };
    let p = all_params(req);
    let Some(creation_id) = p.get("creation_id").filter(|c| !c.is_empty()) else {
        return missing_param("creation_id");
    };
    let now = sb.now();
    let mut d = sb.lock();
    let st = d.platform_state::<Publishing>();
    let c = match st.containers.get(creation_id) {
        Some(c) if c.user_id == user => c.clone(),
        _ => {
            return media_error(
                24,
                Some(2_207_006),
                "The requested resource does not exist",
                "Media not found",
                &format!("The media with id {creation_id} cannot be found."),
            )
        }
    };
    if c.carousel_item {
        return graph_error(
            400,
            "(#100) A carousel item cannot be published on its own; publish its CAROUSEL container.",
            100,
            None,
        );
    }
    match st.status_code(&c, now) {
        "FINISHED" => {}
        "PUBLISHED" => {
            return media_error(
                100,
                None,
                "(#100) This media container has already been published.",
                "Media already published",
                "This container was already published; create a new container to post again.",
            )
        }
        "EXPIRED" => {
            return media_error(
                -2,
                Some(2_207_020),
                "The media has expired.",
                "Media expired",
                "The media you are trying to access has expired. Please try to upload again.",
            )
        }
        "ERROR" => {
            return media_error(
                -1,
                Some(2_207_032),
                "Create media fail, please try to re-create media",
                "Media upload failed",
                "Create media fail, please try to re-create media",
            )
        }
        _ => {
            return media_error(
                9007,
                Some(2_207_027),
                "Media ID is not available",
                "Media not ready",
                "The media is not ready for publishing, please wait for a moment",
            )
        }
    }
    if st.usage(user, now) >= QUOTA_TOTAL {
        return media_error(
            9,
            Some(2_207_042),
            "Application request limit reached",
            "Cannot publish post",
            "You reached maximum number of posts that is allowed to be published by Content \
             Publishing API.",
        );
    }
    let media_id = st.next(17_900_000_000_000_000);
    if let Some(stored) = st.containers.get_mut(creation_id) {
        stored.published_as = Some(media_id.clone());
    }
    st.publishes.entry(user.to_string()).or_default().push(now);
    st.media.insert(
        media_id.clone(),
        Media {
            user_id: user.to_string(),
            handle: info.grant.account.handle,
            kind: c.kind,
            caption: c.caption.clone(),
            published_at: now,
        },
    );
    d.record_published(PublishedItem {
        id: media_id.clone(),
        platform: ID,
        account_id: user.to_string(),
        kind: c.kind.name().to_string(),
        text: c.caption,
        media: c.media,
        published_at: now,
    });
    json(200, json!({ "id": media_id }))
}

fn publishing_limit(sb: &Shared, req: &Req, user: &str) -> Response {
    let info = match caller(sb, req) {
        Ok(i) => i,
        Err(r) => return r,
    };
    if info.grant.account.user_id != user {
        return no_such_object(user, "get");
    }
    let now = sb.now();
    let usage = sb.lock().platform_state::<Publishing>().usage(user, now);
    let fields = req.param("fields").unwrap_or("quota_usage,config");
    let mut entry = json!({});
    for f in fields.split(',').map(str::trim).filter(|f| !f.is_empty()) {
        match f {
            "quota_usage" => entry["quota_usage"] = Value::from(usage),
            "config" => {
                entry["config"] = json!({
                    "quota_total": QUOTA_TOTAL,
                    "quota_duration": QUOTA_DURATION_SECS,
                })
            }
            other => {
                return graph_error(
                    400,
                    &format!(
                        "(#100) Tried accessing nonexisting field ({other}) on node type \
                         (ContentPublishingLimit)"
                    ),
                    100,
                    None,
                )
            }
        }
    }
    json(200, json!({ "data": [entry] }))
}

/// `GET /{ig-user-id}/media?fields=id,caption,timestamp&limit=` (the user's own token, limit
/// 1–100, default 25) → `{"data":[{id, caption?, timestamp?}], "paging":{}}`: the user's
/// published media, newest first. A read (`metrics`).
fn list_media(sb: &Shared, req: &Req, user: &str) -> Response {
    let info = match caller(sb, req) {
        Ok(i) => i,
        Err(r) => return r,
    };
    if info.grant.account.user_id != user {
        return no_such_object(user, "GET");
    }
    let limit = match req.param("limit").map(str::parse::<usize>) {
        None => 25,
        Some(Ok(n)) if (1..=100).contains(&n) => n,
        Some(_) => return graph_error(400, "(#100) limit must be between 1 and 100", 100, None),
    };
    let fields: Vec<String> = req
        .param("fields")
        .unwrap_or("id")
        .split(',')
        .map(|f| f.trim().to_string())
        .filter(|f| !f.is_empty())
        .collect();
    let mut d = sb.lock();
    let st = d.platform_state::<Publishing>();
    let mut media: Vec<(&String, &Media)> =
        st.media.iter().filter(|(_, m)| m.user_id == user).collect();
    media.sort_by(|a, b| b.1.published_at.cmp(&a.1.published_at).then(b.0.cmp(a.0)));
    let data: Vec<Value> = media
        .into_iter()
        .take(limit)
        .map(|(id, m)| {
            let mut v = json!({ "id": id });
            for f in &fields {
                match f.as_str() {
                    "caption" => v["caption"] = Value::from(m.caption.clone()),
                    "timestamp" => {
                        v["timestamp"] = Value::from(
                            m.published_at
                                .to_rfc3339_opts(SecondsFormat::Secs, true)
                                .replace('Z', "+0000"),
                        )
                    }
                    _ => {}
                }
            }
            v
        })
        .collect();
    json(200, json!({ "data": data, "paging": {} }))
}

fn read_node(sb: &Shared, req: &Req, id: &str) -> Response {
    let info = match caller(sb, req) {
        Ok(i) => i,
        Err(r) => return r,
    };
    let user = info.grant.account.user_id;
    let now = sb.now();
    let mut d = sb.lock();
    let st = d.platform_state::<Publishing>();
    let fields = req.param("fields").unwrap_or("id");
    let fields = fields.split(',').map(str::trim).filter(|f| !f.is_empty());
    let mut body = json!({ "id": id });
    if let Some(c) = st.containers.get(id).filter(|c| c.user_id == user) {
        let code = st.status_code(c, now);
        for f in fields {
            match f {
                "id" => {}
                "status_code" => body["status_code"] = Value::from(code),
                "status" => {
                    body["status"] = Value::from(match code {
                        "FINISHED" => {
                            "Finished: Media has been uploaded and it is ready to be published."
                                .to_string()
                        }
                        "IN_PROGRESS" => "In Progress: Media is still being processed.".to_string(),
                        "ERROR" => {
                            "Error: Media upload has failed with error code 2207052".to_string()
                        }
                        "EXPIRED" => {
                            "Expired: The media was not published within 24 hours.".to_string()
                        }
                        _ => "Published: Media has been successfully published.".to_string(),
                    })
                }
                other => return nonexisting_field(other, "ShadowIGMediaBuilder"),
            }
        }
        return json(200, body);
    }
    if let Some(m) = st.media.get(id).filter(|m| m.user_id == user) {
        for f in fields {
            match f {
                "id" => {}
                "caption" => body["caption"] = Value::from(m.caption.clone()),
                "media_type" => body["media_type"] = Value::from(m.kind.graph_type()),
                "media_product_type" => {
                    body["media_product_type"] = Value::from(if m.kind == MediaKind::Video {
                        "REELS"
                    } else {
                        "FEED"
                    })
                }
                "permalink" => {
                    body["permalink"] = Value::from(format!("https://www.instagram.com/p/sbx{id}/"))
                }
                "timestamp" => {
                    body["timestamp"] = Value::from(
                        m.published_at
                            .to_rfc3339_opts(SecondsFormat::Secs, true)
                            .replace('Z', "+0000"),
                    )
                }
                "username" => body["username"] = Value::from(m.handle),
                "like_count" => {
                    let e = (now - m.published_at).num_seconds();
                    body["like_count"] = Value::from(grown_metric(id, "likes", e, 80))
                }
                "comments_count" => {
                    let e = (now - m.published_at).num_seconds();
                    body["comments_count"] = Value::from(grown_metric(id, "comments", e, 12))
                }
                other => return nonexisting_field(other, "IGMedia"),
            }
        }
        return json(200, body);
    }
    no_such_object(id, "get")
}

fn nonexisting_field(field: &str, node: &str) -> Response {
    graph_error(
        400,
        &format!("(#100) Tried accessing nonexisting field ({field}) on node type ({node})"),
        100,
        None,
    )
}

fn insights(sb: &Shared, req: &Req, media_id: &str) -> Response {
    let info = match caller(sb, req) {
        Ok(i) => i,
        Err(r) => return r,
    };
    let now = sb.now();
    let (published_at, kind) = {
        let mut d = sb.lock();
        let st = d.platform_state::<Publishing>();
        match st.media.get(media_id) {
            Some(m) if m.user_id == info.grant.account.user_id => (m.published_at, m.kind),
            _ => return no_such_object(media_id, "get"),
        }
    };
    if !has_scope(&info, INSIGHTS_SCOPE) {
        return no_permission();
    }
    let Some(metric) = req.param("metric").filter(|m| !m.trim().is_empty()) else {
        return missing_param("metric");
    };
    let elapsed = (now - published_at).num_seconds();
    // Published videos are Reels; images and carousels are feed posts.
    let product = if kind == MediaKind::Video { 'R' } else { 'F' };
    let mut data = Vec::new();
    for (i, name) in metric
        .split(',')
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .enumerate()
    {
        let Some((_, per_hour, title, _)) = INSIGHT_METRICS.iter().find(|m| m.0 == name) else {
            let allowed: Vec<&str> = INSIGHT_METRICS.iter().map(|m| m.0).collect();
            return graph_error(
                400,
                &format!(
                    "(#100) metric[{i}] must be one of the following values: {}",
                    allowed.join(", ")
                ),
                100,
                None,
            );
        };
        if !INSIGHT_METRICS
            .iter()
            .any(|m| m.0 == name && m.3.contains(product))
        {
            return graph_error(
                400,
                &format!("(#100) The metric {name} is not supported for this media type"),
                100,
                None,
            );
        }
        data.push(json!({
            "name": name,
            "period": "lifetime",
            "values": [{ "value": grown_metric(media_id, name, elapsed, *per_hour) }],
            "title": title,
            "description": format!("{title} of this media object."),
            "id": format!("{media_id}/insights/{name}/lifetime"),
        }));
    }
    json(200, json!({ "data": data }))
}
