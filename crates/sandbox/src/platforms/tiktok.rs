//! TikTok Login Kit v2. PLATFORMS.md §5.
//!
//! - Authorize `www.tiktok.com/v2/auth/authorize/` (trailing slash): the app is named by
//!   **`client_key`**; a request with `client_id` instead gets TikTok's error page. Scopes are
//!   separated by commas. `code_challenge` with `code_challenge_method=S256` is required.
//! - Token `POST open.tiktokapis.com/v2/oauth/token/` (form): `client_key, client_secret, code,
//!   grant_type, redirect_uri, code_verifier`. `client_id` instead of `client_key` →
//!   `invalid_client`. Flat response `{access_token, expires_in:7200, open_id, refresh_token,
//!   refresh_expires_in, scope:"a,b", token_type:"Bearer"}`.
//! - Refresh: the same endpoint with `grant_type=refresh_token`. Refresh tokens **rotate**: the
//!   old one dies. Their lifetime (15552000 s, 180 days) counts from the first issuance of the
//!   grant, and `refresh_expires_in` reports what is left.
//! - Errors `{"error":"invalid_grant","error_description":"…","log_id":"…"}`.
//! - Revoke `POST open.tiktokapis.com/v2/oauth/revoke/` (`client_key, client_secret, token`).
//! - Profile `GET open.tiktokapis.com/v2/user/info/?fields=…` →
//!   `{"data":{"user":{…}},"error":{"code":"ok","message":"","log_id":"…"}}`; bad tokens get
//!   401 `access_token_invalid`, missing scopes 401 `scope_not_authorized`.
//! - `open_id` is per app and user; `union_id` is per developer and user.
//! - Creator info `POST open.tiktokapis.com/v2/post/publish/creator_info/query/` (scope
//!   `video.publish`, PLATFORMS.md §5) → `{"data":{creator_avatar_url, creator_username,
//!   creator_nickname, privacy_level_options, comment_disabled, duet_disabled, stitch_disabled,
//!   max_video_post_duration_sec},"error":{"code":"ok",…}}`; a private account is not offered
//!   `PUBLIC_TO_EVERYONE`. An unaudited app (`SandboxConfig::unaudited_apps`) is offered
//!   `SELF_ONLY` only.
//!
//! Publishing (Content Posting API, PLATFORMS.md §5). Every call takes the user token as Bearer
//! and a JSON body; errors use the API envelope (`api_error`), success carries `code:"ok"`.
//! - `POST /v2/post/publish/video/init/` (scope `video.publish`) `{post_info:{title,
//!   privacy_level, disable_comment, disable_duet, disable_stitch}, source_info:{source:
//!   "FILE_UPLOAD", video_size, chunk_size, total_chunk_count} | {source:"PULL_FROM_URL",
//!   video_url}}` → `{data:{publish_id[, upload_url]}}`. `privacy_level` must be one of the
//!   creator's `privacy_level_options` (else 400 `privacy_level_option_mismatch`); an unaudited
//!   app may post only to a private account (else 403
//!   `unaudited_client_can_only_post_to_private_accounts`), only `SELF_ONLY`, and for at most
//!   [`UNAUDITED_USER_CAP`] distinct users in 24 hours (else 403 `reached_active_user_cap`;
//!   <https://developers.tiktok.com/doc/content-sharing-guidelines>); branded content
//!   (`brand_content_toggle`) with `SELF_ONLY` → 400 `invalid_params`; `title` at
//!   most 2,200 UTF-16 units. `PULL_FROM_URL` takes only an `https` URL on a domain or URL
//!   prefix verified for the app (`SandboxConfig::tiktok_verified_domains`), else 403
//!   `url_ownership_unverified` (media transfer guide); the same holds for photos. Chunks follow the media transfer guide, in MiB (the sources say
//!   "MB"): a video under 5 MiB is one chunk of its own size; otherwise `chunk_size` is
//!   5–64 MiB, `total_chunk_count` = `video_size / chunk_size` (1–1000) and the last chunk
//!   takes the remainder, at most 128 MiB; at most 4 GiB in all. No scale rule: small test
//!   videos are legitimately one chunk, and chunked tests send 5 MiB chunks for real.
//! - At most [`INIT_PER_MINUTE`] init requests per access token per minute of sandbox time,
//!   per init endpoint → 429 `rate_limit_exceeded`.
//! - `PUT open-upload.tiktokapis.com/video/?upload_id&upload_token` with `Content-Range: bytes
//!   a-b/total` and a video `Content-Type`, chunks in order: 206 per chunk, 201 for the last;
//!   a range that is not the next expected chunk → 416; a body whose length differs from the
//!   range, a wrong total or type → 400; unknown upload → 404; after [`UPLOAD_URL_TTL_SECS`] → 403.
//! - `POST /v2/post/publish/status/fetch/ {publish_id}` → `{data:{status, fail_reason?,
//!   publicaly_available_post_id:[id] (sic; int64 ids, as TikTok documents), uploaded_bytes |
//!   downloaded_bytes}}`: `PROCESSING_UPLOAD` until the last chunk and
//!   [`PROCESSING_SECS`] after it; pulls are `PROCESSING_DOWNLOAD` for [`PROCESSING_SECS`];
//!   then `PUBLISH_COMPLETE` (direct posts) or `SEND_TO_USER_INBOX` (`MEDIA_UPLOAD`), or
//!   `FAILED` (`fail_reason: "file_format_check_failed"`) for a URL with
//!   [`super::instagram::BAD_MEDIA_MARKER`] or a PNG photo. The post is published (recorded
//!   once) the first time any publishing call sees its processing time has passed.
//! - `POST /v2/post/publish/content/init/` `{media_type:"PHOTO", post_mode:"DIRECT_POST"
//!   (video.publish) | "MEDIA_UPLOAD" (video.upload), post_info:{title ≤90, description ≤4000,
//!   privacy_level}, source_info:{source:"PULL_FROM_URL", photo_images:[1..=35],
//!   photo_cover_index}}` → `{data:{publish_id}}`.
//! - `POST /v2/video/query/?fields=id,title,create_time,share_url,view_count,like_count,
//!   comment_count,share_count` (scope `video.list`) `{filters:{video_ids:[≤20]}}` →
//!   `{data:{videos:[…], cursor, has_more:false}}`, the caller's published videos only; counts
//!   grow with the sandbox clock ([`crate::state::grown_metric`]).
//! - `POST /v2/video/list/?fields=id,title,video_description,create_time,share_url` (scope
//!   `video.list`) `{max_count, cursor}` → the caller's published posts, newest first.
//! - Faults: `publish` targets both init calls, `upload` the chunk PUT and status fetch,
//!   `metrics` the video query.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post, put};
use axum::Router;
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};

use crate::accounts::Account;
use crate::consent::{self, no_check, AuthorizeRules, ErrorPage, ErrorStyle, PageError, PkceRule};
use crate::http::{self, json, token_json, Req};
use crate::state::{
    grown_metric, secs_until, ClientCheck, CodeError, Endpoint, Grant, PublishedItem,
    RefreshLifetime, Shared, TokenKind,
};

const ID: &str = "tiktok";
/// Access token lifetime in seconds.
const ACCESS_TTL: i64 = 7200;
/// Refresh token lifetime in seconds, from the first issuance of the grant.
const REFRESH_TTL: i64 = 15_552_000;

pub(crate) static AUTHORIZE: AuthorizeRules = AuthorizeRules {
    platform: ID,
    display_name: "TikTok",
    brand_color: "#010101",
    client_param: "client_key",
    scope_separators: &[','],
    default_scopes: &[],
    known_scopes: &[
        "user.info.basic",
        "user.info.profile",
        "user.info.stats",
        "video.publish",
        "video.upload",
        "video.list",
    ],
    scope_error: "invalid_scope",
    request_errors: ErrorStyle::Redirect,
    pkce: PkceRule::Required(&["S256"]),
    state_required: false,
    max_state_len: None,
    response_type_optional: false,
    code_ttl_secs: 600,
    fragment: "",
    deny_description: "The user denied the authorization request.",
    deny_extra: &[],
    page: error_page,
    check: no_check,
};

fn error_page(e: &PageError) -> ErrorPage {
    let (kind, detail) = match e {
        PageError::ClientIdNotClientKey => (
            "client_key",
            "The request has client_id but no client_key. TikTok names the app with client_key."
                .to_string(),
        ),
        PageError::MissingClient => ("client_key", "client_key is missing.".to_string()),
        PageError::UnknownClient(_) => ("client_key", "client_key is invalid.".to_string()),
        PageError::MissingRedirect => ("redirect_uri", "redirect_uri is missing.".to_string()),
        PageError::RedirectMismatch(_) => (
            "redirect_uri",
            "redirect_uri does not match the one registered for this app.".to_string(),
        ),
        PageError::Request(p) => ("param", format!("{}: {}", p.error, p.description)),
    };
    ErrorPage::new(
        400,
        "Something went wrong",
        format!("We couldn't log in with TikTok. error_type: {kind}. {detail}"),
    )
}

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route(
            "/www.tiktok.com/v2/auth/authorize/",
            get(authorize).post(authorize),
        )
        .route("/open.tiktokapis.com/v2/oauth/token/", post(token))
        .route("/open.tiktokapis.com/v2/oauth/revoke/", post(revoke))
        .route("/open.tiktokapis.com/v2/user/info/", get(user_info))
        .route(
            "/open.tiktokapis.com/v2/post/publish/creator_info/query/",
            post(creator_info),
        )
        .route(
            "/open.tiktokapis.com/v2/post/publish/video/init/",
            post(video_init),
        )
        .route(
            "/open.tiktokapis.com/v2/post/publish/content/init/",
            post(content_init),
        )
        .route(
            "/open.tiktokapis.com/v2/post/publish/status/fetch/",
            post(status_fetch),
        )
        .route("/open-upload.tiktokapis.com/video/", put(upload_chunk))
        .route("/open.tiktokapis.com/v2/video/query/", post(video_query))
        .route("/open.tiktokapis.com/v2/video/list/", post(video_list))
}

async fn authorize(State(sb): State<Arc<Shared>>, req: Req) -> Response {
    consent::authorize(&sb, &AUTHORIZE, req).await
}

fn oauth_error(status: u16, error: &str, description: &str) -> Response {
    token_json(
        status,
        json!({ "error": error, "error_description": description, "log_id": log_id() }),
    )
}

fn log_id() -> String {
    format!("2025{}", http::trace_id())
}

/// `open_id`: stable per app and user, different across apps (UUID-shaped like TikTok's v2 ids).
fn open_id(client_key: &str, account: &Account) -> String {
    let h = http::sha256_hex(&format!("open_id:{client_key}:{}", account.id));
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// `client_key` and `client_secret` in the form body.
fn authenticate(sb: &Shared, req: &Req) -> Result<String, Response> {
    let Some(key) = req.form.get("client_key").filter(|k| !k.is_empty()) else {
        let description = if req.form.get("client_id").is_some() {
            "Client key is missing: TikTok expects client_key, not client_id."
        } else {
            "Client key is missing."
        };
        return Err(oauth_error(401, "invalid_client", description));
    };
    let secret = req.form.get("client_secret").unwrap_or("");
    match sb.check_client(ID, key, secret) {
        ClientCheck::Ok => Ok(key.to_string()),
        _ => Err(oauth_error(
            401,
            "invalid_client",
            "Client key or secret is incorrect.",
        )),
    }
}

async fn token(State(sb): State<Arc<Shared>>, req: Req) -> Response {
    let endpoint = if req.param("grant_type") == Some("refresh_token") {
        Endpoint::Refresh
    } else {
        Endpoint::Token
    };
    http::run(&sb, ID, endpoint, || {
        let client_key = match authenticate(&sb, &req) {
            Ok(k) => k,
            Err(r) => return r,
        };
        match req.form.get("grant_type") {
            Some("authorization_code") => exchange(&sb, &req, &client_key),
            Some("refresh_token") => refresh_grant(&sb, &req, &client_key),
            None | Some("") => oauth_error(400, "invalid_request", "grant_type is missing."),
            Some(_) => oauth_error(
                400,
                "unsupported_grant_type",
                "The grant_type is not supported.",
            ),
        }
    })
    .await
}

fn token_body(
    sb: &Shared,
    grant: &Grant,
    client_key: &str,
    access: &str,
    refresh: &str,
) -> Response {
    let now = sb.now();
    let left =
        |t: Option<chrono::DateTime<chrono::Utc>>| t.map(|e| secs_until(e, now)).unwrap_or(0);
    token_json(
        200,
        json!({
            "access_token": access,
            "expires_in": sb.access_ttl(ID, ACCESS_TTL),
            "open_id": open_id(client_key, grant.account),
            "refresh_expires_in": left(grant.refresh_expires_at),
            "refresh_token": refresh,
            "scope": grant.scopes.join(","),
            "token_type": "Bearer",
        }),
    )
}

fn exchange(sb: &Shared, req: &Req, client_key: &str) -> Response {
    let Some(code) = req.form.get("code").filter(|c| !c.is_empty()) else {
        return oauth_error(400, "invalid_request", "Code is missing.");
    };
    let Some(redirect_uri) = req.form.get("redirect_uri") else {
        return oauth_error(400, "invalid_request", "redirect_uri is missing.");
    };
    let verifier = req.form.get("code_verifier");
    let now = sb.now();
    let (grant, access, refresh) = {
        let mut d = sb.lock();
        let c = match d.redeem_code(ID, code, client_key, Some(redirect_uri), verifier, now) {
            Ok(c) => c,
            Err(CodeError::Expired) => {
                return oauth_error(400, "invalid_grant", "Authorization code is expired.")
            }
            Err(CodeError::VerifierMissing | CodeError::VerifierMismatch) => {
                return oauth_error(
                    400,
                    "invalid_grant",
                    "Code verifier or code challenge is invalid.",
                )
            }
            Err(CodeError::RedirectMismatch) => {
                return oauth_error(
                    400,
                    "invalid_grant",
                    "Redirect URI does not match the one of the authorization request.",
                )
            }
            Err(_) => {
                return oauth_error(
                    400,
                    "invalid_grant",
                    "Authorization code is invalid or has been used.",
                )
            }
        };
        let grant = d.new_grant(&c, now, RefreshLifetime::FromNow(REFRESH_TTL));
        let access = d.issue(
            &grant,
            TokenKind::Access,
            Some(sb.access_ttl(ID, ACCESS_TTL)),
            false,
            now,
        );
        let refresh = d.issue_until(
            &grant,
            TokenKind::Refresh,
            grant.refresh_expires_at,
            false,
            now,
        );
        (grant, access, refresh)
    };
    token_body(sb, &grant, client_key, &access.token, &refresh.token)
}

fn refresh_grant(sb: &Shared, req: &Req, client_key: &str) -> Response {
    let Some(token) = req.form.get("refresh_token").filter(|t| !t.is_empty()) else {
        return oauth_error(400, "invalid_request", "refresh_token is missing.");
    };
    let now = sb.now();
    let (grant, access, refresh) = {
        let mut d = sb.lock();
        let info = match d.use_refresh(ID, token, client_key, true, now) {
            Ok(i) => i,
            Err(_) => {
                return oauth_error(400, "invalid_grant", "Refresh token is invalid or expired.")
            }
        };
        let access = d.issue(
            &info.grant,
            TokenKind::Access,
            Some(sb.access_ttl(ID, ACCESS_TTL)),
            false,
            now,
        );
        let refresh = d.issue_until(
            &info.grant,
            TokenKind::Refresh,
            info.grant.refresh_expires_at,
            false,
            now,
        );
        (info.grant, access, refresh)
    };
    token_body(sb, &grant, client_key, &access.token, &refresh.token)
}

async fn revoke(State(sb): State<Arc<Shared>>, req: Req) -> Response {
    http::run(&sb, ID, Endpoint::Revoke, || {
        let client_key = match authenticate(&sb, &req) {
            Ok(k) => k,
            Err(r) => return r,
        };
        let Some(token) = req.form.get("token").filter(|t| !t.is_empty()) else {
            return oauth_error(400, "invalid_request", "token is missing.");
        };
        let mut d = sb.lock();
        if let Some(g) = d.grant_of(ID, token, &client_key) {
            d.revoke_grant(g.id);
        }
        http::empty(200)
    })
    .await
}

fn api_error(status: u16, code: &str, message: &str) -> Response {
    json(
        status,
        json!({
            "data": {},
            "error": { "code": code, "message": message, "log_id": log_id() },
        }),
    )
}

/// The fields of `user/info/` and the scope each needs.
const FIELDS: [(&str, &str); 14] = [
    ("open_id", "user.info.basic"),
    ("union_id", "user.info.basic"),
    ("avatar_url", "user.info.basic"),
    ("avatar_url_100", "user.info.basic"),
    ("avatar_large_url", "user.info.basic"),
    ("display_name", "user.info.basic"),
    ("bio_description", "user.info.profile"),
    ("profile_deep_link", "user.info.profile"),
    ("is_verified", "user.info.profile"),
    ("username", "user.info.profile"),
    ("follower_count", "user.info.stats"),
    ("following_count", "user.info.stats"),
    ("likes_count", "user.info.stats"),
    ("video_count", "user.info.stats"),
];

async fn user_info(State(sb): State<Arc<Shared>>, req: Req) -> Response {
    http::run(&sb, ID, Endpoint::Profile, || {
        let invalid = || {
            api_error(
                401,
                "access_token_invalid",
                "The access token is invalid or not found in the request.",
            )
        };
        let Some(token) = req.bearer() else {
            return invalid();
        };
        let Ok(info) = sb.lock().check_access(ID, token, sb.now()) else {
            return invalid();
        };
        let wanted: Vec<&str> = req
            .query
            .get("fields")
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|f| !f.is_empty())
            .collect();
        if wanted.is_empty() {
            return api_error(400, "invalid_params", "The fields parameter is required.");
        }
        let a = info.grant.account;
        let avatar = format!(
            "{}/__sandbox/avatars/{}.svg",
            req.sandbox_base("open.tiktokapis.com"),
            a.id
        );
        let mut user = serde_json::Map::new();
        for f in wanted {
            let Some((_, scope)) = FIELDS.iter().find(|(name, _)| *name == f) else {
                return api_error(
                    400,
                    "invalid_params",
                    &format!("The field {f} is not a valid user field."),
                );
            };
            if !info.grant.scopes.iter().any(|s| s == scope) {
                return api_error(
                    401,
                    "scope_not_authorized",
                    "The user did not authorize the scope required for completing this request.",
                );
            }
            let value = match f {
                "open_id" => Value::from(open_id(&info.grant.client_id, a)),
                "union_id" => Value::from(a.user_id),
                "avatar_url" | "avatar_url_100" | "avatar_large_url" => Value::from(avatar.clone()),
                "display_name" => Value::from(a.name),
                "bio_description" => Value::from(a.note),
                "profile_deep_link" => Value::from(format!("https://www.tiktok.com/@{}", a.handle)),
                "is_verified" => Value::from(false),
                "username" => Value::from(a.handle),
                "follower_count" => Value::from(2048),
                "following_count" => Value::from(128),
                "likes_count" => Value::from(40960),
                _ => Value::from(64),
            };
            user.insert(f.to_string(), value);
        }
        json(
            200,
            json!({
                "data": { "user": user },
                "error": { "code": "ok", "message": "", "log_id": log_id() },
            }),
        )
    })
    .await
}

async fn creator_info(State(sb): State<Arc<Shared>>, req: Req) -> Response {
    http::run(&sb, ID, Endpoint::Profile, || {
        let invalid = || {
            api_error(
                401,
                "access_token_invalid",
                "The access token is invalid or not found in the request.",
            )
        };
        let Some(token) = req.bearer() else {
            return invalid();
        };
        let Ok(info) = sb.lock().check_access(ID, token, sb.now()) else {
            return invalid();
        };
        if !info.grant.scopes.iter().any(|s| s == "video.publish") {
            return api_error(
                401,
                "scope_not_authorized",
                "The user did not authorize the scope required for completing this request.",
            );
        }
        let a = info.grant.account;
        json(
            200,
            json!({
                "data": {
                    "creator_avatar_url": format!(
                        "{}/__sandbox/avatars/{}.svg",
                        req.sandbox_base("open.tiktokapis.com"),
                        a.id
                    ),
                    "creator_username": a.handle,
                    "creator_nickname": a.name,
                    "privacy_level_options": privacy_options(&sb, a),
                    "comment_disabled": false,
                    "duet_disabled": false,
                    "stitch_disabled": true,
                    "max_video_post_duration_sec": 600,
                },
                "error": { "code": "ok", "message": "", "log_id": log_id() },
            }),
        )
    })
    .await
}

// ---- publishing ----

/// Init requests allowed per access token per minute (PLATFORMS.md §5: "6 requests/min per
/// user token").
pub(crate) const INIT_PER_MINUTE: usize = 6;
/// Seconds of sandbox time a publish spends processing after its last chunk, or downloading
/// a pulled URL.
pub(crate) const PROCESSING_SECS: i64 = 10;
/// An upload URL is valid for one hour.
pub(crate) const UPLOAD_URL_TTL_SECS: i64 = 3600;
const MIB: u64 = 1024 * 1024;
const MIN_CHUNK: u64 = 5 * MIB;
const MAX_CHUNK: u64 = 64 * MIB;
const MAX_LAST_CHUNK: u64 = 128 * MIB;
const MAX_CHUNKS: u64 = 1000;
const MAX_VIDEO: u64 = 4 * 1024 * MIB;
const MAX_VIDEO_TITLE_UTF16: usize = 2200;
const MAX_PHOTO_TITLE: usize = 90;
const MAX_PHOTO_DESCRIPTION: usize = 4000;
const MAX_PHOTOS: usize = 35;
const MAX_QUERY_IDS: usize = 20;
/// Video query fields served, with the most each count grows per hour (0: not a count).
const QUERY_FIELDS: [(&str, u64); 8] = [
    ("id", 0),
    ("title", 0),
    ("create_time", 0),
    ("share_url", 0),
    ("view_count", 3000),
    ("like_count", 300),
    ("comment_count", 30),
    ("share_count", 20),
];

/// Where a publish gets its media.
#[derive(Debug, Clone)]
enum Source {
    /// `FILE_UPLOAD`: chunks PUT to the upload URL.
    File {
        upload_id: String,
        upload_token: String,
        video_size: u64,
        chunk_size: u64,
        chunks: u64,
        /// Chunks received so far (they arrive in order).
        received: u64,
        url_expires_at: DateTime<Utc>,
        uploaded_at: Option<DateTime<Utc>>,
    },
    /// `PULL_FROM_URL`: TikTok downloads the URLs.
    Pull { bad: bool },
}

/// One `publish_id`.
#[derive(Debug, Clone)]
struct Publish {
    account: &'static Account,
    photo: bool,
    /// `DIRECT_POST` (true) or `MEDIA_UPLOAD` to the creator's inbox.
    direct: bool,
    title: String,
    /// A photo post's `description` (empty for videos, whose text is the title).
    description: String,
    media: Vec<String>,
    created_at: DateTime<Utc>,
    source: Source,
    /// The public post id once published.
    post_id: Option<u64>,
    published_at: Option<DateTime<Utc>>,
}

impl Publish {
    /// `status` at `now`.
    fn status(&self, now: DateTime<Utc>) -> &'static str {
        let processed = match &self.source {
            Source::File { uploaded_at, .. } => match uploaded_at {
                Some(t) if now >= *t + Duration::seconds(PROCESSING_SECS) => true,
                _ => return "PROCESSING_UPLOAD",
            },
            Source::Pull { bad } => {
                if now < self.created_at + Duration::seconds(PROCESSING_SECS) {
                    return "PROCESSING_DOWNLOAD";
                }
                if *bad {
                    return "FAILED";
                }
                true
            }
        };
        match (processed, self.direct) {
            (true, true) => "PUBLISH_COMPLETE",
            _ => "SEND_TO_USER_INBOX",
        }
    }
}

/// TikTok's publishing state, kept in `Data::platform_state`.
#[derive(Default)]
pub(crate) struct Publishing {
    /// By `publish_id`, which sorts in creation order.
    publishes: BTreeMap<String, Publish>,
    /// `upload_id` → `publish_id`.
    uploads: HashMap<String, String>,
    /// Recent init instants by (endpoint, hash of the access token).
    inits: HashMap<(&'static str, String), Vec<DateTime<Utc>>>,
    /// Per client key: (account user id, when) of accepted direct-post inits, for the
    /// unaudited-app user cap.
    posters: HashMap<String, Vec<(&'static str, DateTime<Utc>)>>,
    next_id: u64,
}

/// The privacy levels offered to this creator by this app.
fn privacy_options(sb: &Shared, a: &Account) -> Vec<&'static str> {
    if sb.config.unaudited_apps.contains(ID) {
        vec!["SELF_ONLY"]
    } else {
        a.privacy_levels.to_vec()
    }
}

fn ok(data: Value) -> Response {
    json(
        200,
        json!({ "data": data, "error": { "code": "ok", "message": "", "log_id": log_id() } }),
    )
}

fn invalid_params(message: &str) -> Response {
    api_error(400, "invalid_params", message)
}

/// The caller's token and grant, checked for one of `scopes`.
fn api_caller(sb: &Shared, req: &Req, scopes: &[&str]) -> Result<(String, Grant), Response> {
    let invalid = || {
        api_error(
            401,
            "access_token_invalid",
            "The access token is invalid or not found in the request.",
        )
    };
    let token = req.bearer().ok_or_else(invalid)?;
    let info = sb
        .lock()
        .check_access(ID, token, sb.now())
        .map_err(|_| invalid())?;
    if !info
        .grant
        .scopes
        .iter()
        .any(|s| scopes.contains(&s.as_str()))
    {
        return Err(api_error(
            401,
            "scope_not_authorized",
            "The user did not authorize the scope required for completing this request.",
        ));
    }
    Ok((token.to_string(), info.grant))
}

/// Counts an init request against the per-token window; false when the window is full.
fn take_init_slot(sb: &Shared, endpoint: &'static str, token: &str) -> bool {
    let now = sb.now();
    let mut d = sb.lock();
    let st = d.platform_state::<Publishing>();
    let window = st
        .inits
        .entry((endpoint, http::sha256_hex(token)))
        .or_default();
    window.retain(|t| *t > now - Duration::seconds(60));
    if window.len() >= INIT_PER_MINUTE {
        return false;
    }
    window.push(now);
    true
}

fn rate_limited() -> Response {
    api_error(
        429,
        "rate_limit_exceeded",
        "API rate limit exceeded, please try again later.",
    )
}

/// The JSON body as an object, or `invalid_params`.
fn json_body(req: &Req) -> Result<Value, Response> {
    match serde_json::from_slice::<Value>(&req.body) {
        Ok(v @ Value::Object(_)) => Ok(v),
        _ => Err(invalid_params(
            "The request body is not a valid JSON object.",
        )),
    }
}

/// Unaudited clients may let at most this many users post in a 24-hour window
/// (<https://developers.tiktok.com/doc/content-sharing-guidelines>, "User cap").
pub(crate) const UNAUDITED_USER_CAP: usize = 5;

/// Whether TikTok pulls `url` for this app: an `https` URL on a verified domain (or one of its
/// subdomains) or under a verified URL prefix (`SandboxConfig::tiktok_verified_domains`).
fn pull_verified(sb: &Shared, url: &str) -> bool {
    let Ok(u) = url::Url::parse(url) else {
        return false;
    };
    let host = u.host_str().unwrap_or_default().to_ascii_lowercase();
    u.scheme() == "https"
        && sb.config.tiktok_verified_domains.iter().any(|v| {
            if v.starts_with("https://") {
                v.ends_with('/') && u.as_str().starts_with(v.as_str())
            } else {
                let v = v.to_ascii_lowercase();
                host == v || host.ends_with(&format!(".{v}"))
            }
        })
}

/// TikTok's refusal of a pull from an unverified URL.
fn url_unverified() -> Response {
    api_error(
        403,
        "url_ownership_unverified",
        "Please review our URL ownership verification rules at \
         https://developers.tiktok.com/doc/content-posting-api-media-transfer-guide/#pull_from_url",
    )
}

/// The unaudited-app user cap: a sixth distinct user posting within 24 hours is refused
/// (403 `reached_active_user_cap`). Counts the accounts of accepted direct-post inits.
fn check_user_cap(sb: &Shared, client_id: &str, a: &Account) -> Result<(), Response> {
    if !sb.config.unaudited_apps.contains(ID) {
        return Ok(());
    }
    let now = sb.now();
    let mut d = sb.lock();
    let st = d.platform_state::<Publishing>();
    let posters = st.posters.entry(client_id.to_string()).or_default();
    posters.retain(|(_, t)| *t > now - Duration::hours(24));
    let known = posters.iter().any(|(u, _)| *u == a.user_id);
    let distinct: std::collections::BTreeSet<&str> = posters.iter().map(|(u, _)| *u).collect();
    if !known && distinct.len() >= UNAUDITED_USER_CAP {
        return Err(api_error(
            403,
            "reached_active_user_cap",
            "The daily quota for active publishing users from your client is reached.",
        ));
    }
    posters.push((a.user_id, now));
    Ok(())
}

/// Branded content (`brand_content_toggle`) cannot be private: TikTok's posting rules disable
/// `SELF_ONLY` once it is chosen (<https://developers.tiktok.com/doc/content-sharing-guidelines>,
/// "Commercial content disclosure"). TikTok documents the rule, not an error code of its own,
/// so the refusal is its generic parameter error.
fn check_branded(post_info: &Value) -> Result<(), Response> {
    if post_info["brand_content_toggle"].as_bool() == Some(true)
        && post_info["privacy_level"].as_str() == Some("SELF_ONLY")
    {
        return Err(invalid_params(
            "Branded content cannot be posted with privacy_level SELF_ONLY.",
        ));
    }
    Ok(())
}

/// Checks `privacy_level` and the unaudited-app rule for a direct post.
fn check_privacy(sb: &Shared, a: &Account, post_info: &Value) -> Result<(), Response> {
    if sb.config.unaudited_apps.contains(ID) && a.privacy_levels.contains(&"PUBLIC_TO_EVERYONE") {
        return Err(api_error(
            403,
            "unaudited_client_can_only_post_to_private_accounts",
            "Please review our integration guidelines: unaudited clients can only post to a \
             private account.",
        ));
    }
    let level = post_info["privacy_level"].as_str().unwrap_or("");
    if !privacy_options(sb, a).contains(&level) {
        return Err(api_error(
            400,
            "privacy_level_option_mismatch",
            "privacy_level must be one of the privacy_level_options of creator_info.",
        ));
    }
    Ok(())
}

/// Checks the chunk plan of a `FILE_UPLOAD` (see the module docs).
fn check_chunks(video_size: u64, chunk_size: u64, chunks: u64) -> Result<(), String> {
    if video_size == 0 || video_size > MAX_VIDEO {
        return Err("video_size must be between 1 byte and 4 GB.".into());
    }
    if video_size < MIN_CHUNK {
        if chunk_size != video_size || chunks != 1 {
            return Err(
                "A video under 5 MB is uploaded whole: chunk_size = video_size and \
                 total_chunk_count = 1."
                    .into(),
            );
        }
        return Ok(());
    }
    if !(MIN_CHUNK..=MAX_CHUNK).contains(&chunk_size) {
        return Err("chunk_size must be between 5 MB and 64 MB.".into());
    }
    if chunks != video_size / chunk_size || !(1..=MAX_CHUNKS).contains(&chunks) {
        return Err(
            "total_chunk_count must be video_size / chunk_size rounded down, 1 to 1000.".into(),
        );
    }
    if video_size - (chunks - 1) * chunk_size > MAX_LAST_CHUNK {
        return Err("The last chunk must not exceed 128 MB.".into());
    }
    Ok(())
}

/// A new id: `v_pub_{file|url}~v2-1.{n}` as TikTok's publish ids look.
fn new_publish_id(st: &mut Publishing, kind: &str) -> String {
    st.next_id += 1;
    format!(
        "v_pub_{kind}~v2-1.{:019}",
        7_300_000_000_000_000_000 + st.next_id
    )
}

/// Publishes every direct post whose processing is over and records it, once.
fn settle(sb: &Shared) {
    let now = sb.now();
    let mut d = sb.lock();
    let st = d.platform_state::<Publishing>();
    let mut done = Vec::new();
    for (publish_id, p) in st.publishes.iter_mut() {
        if p.post_id.is_none() && p.status(now) == "PUBLISH_COMPLETE" {
            st.next_id += 1;
            let post_id = 7_310_000_000_000_000_000 + st.next_id;
            p.post_id = Some(post_id);
            p.published_at = Some(now);
            let media = if p.media.is_empty() {
                vec![publish_id.clone()]
            } else {
                p.media.clone()
            };
            done.push(PublishedItem {
                id: post_id.to_string(),
                platform: ID,
                account_id: p.account.user_id.to_string(),
                kind: if p.photo { "photo" } else { "video" }.to_string(),
                text: p.title.clone(),
                media,
                published_at: now,
            });
        }
    }
    for item in done {
        d.record_published(item);
    }
}

async fn video_init(State(sb): State<Arc<Shared>>, req: Req) -> Response {
    http::run(&sb, ID, Endpoint::Publish, || {
        let (token, grant) = match api_caller(&sb, &req, &["video.publish"]) {
            Ok(c) => c,
            Err(r) => return r,
        };
        if !take_init_slot(&sb, "video", &token) {
            return rate_limited();
        }
        let body = match json_body(&req) {
            Ok(b) => b,
            Err(r) => return r,
        };
        let post_info = &body["post_info"];
        if let Err(r) = check_privacy(&sb, grant.account, post_info)
            .and_then(|()| check_branded(post_info))
        {
            return r;
        }
        let title = post_info["title"].as_str().unwrap_or("").to_string();
        if title.encode_utf16().count() > MAX_VIDEO_TITLE_UTF16 {
            return invalid_params("The title must be at most 2200 UTF-16 characters.");
        }
        let now = sb.now();
        let source = &body["source_info"];
        let (source, media, kind) = match source["source"].as_str() {
            Some("FILE_UPLOAD") => {
                let num = |k: &str| source[k].as_u64();
                let (Some(size), Some(chunk), Some(count)) = (
                    num("video_size"),
                    num("chunk_size"),
                    num("total_chunk_count"),
                ) else {
                    return invalid_params(
                        "source_info needs video_size, chunk_size and total_chunk_count.",
                    );
                };
                if let Err(m) = check_chunks(size, chunk, count) {
                    return invalid_params(&m);
                }
                (
                    Source::File {
                        upload_id: http::random_b64(12),
                        upload_token: http::random_b64(24),
                        video_size: size,
                        chunk_size: chunk,
                        chunks: count,
                        received: 0,
                        url_expires_at: now + Duration::seconds(UPLOAD_URL_TTL_SECS),
                        uploaded_at: None,
                    },
                    Vec::new(),
                    "file",
                )
            }
            Some("PULL_FROM_URL") => {
                let url = source["video_url"].as_str().unwrap_or("");
                if !url.starts_with("https://") && !url.starts_with("http://") {
                    return invalid_params("video_url must be an http(s) URL.");
                }
                if !pull_verified(&sb, url) {
                    return url_unverified();
                }
                let bad = url.contains(super::instagram::BAD_MEDIA_MARKER);
                (Source::Pull { bad }, vec![url.to_string()], "url")
            }
            _ => return invalid_params("source_info.source must be FILE_UPLOAD or PULL_FROM_URL."),
        };
        if let Err(r) = check_user_cap(&sb, &grant.client_id, grant.account) {
            return r;
        }
        let mut d = sb.lock();
        let st = d.platform_state::<Publishing>();
        let publish_id = new_publish_id(st, kind);
        let mut data = json!({ "publish_id": publish_id });
        if let Source::File {
            upload_id,
            upload_token,
            ..
        } = &source
        {
            st.uploads.insert(upload_id.clone(), publish_id.clone());
            data["upload_url"] = Value::from(format!(
                "{}/open-upload.tiktokapis.com/video/?upload_id={upload_id}&upload_token={upload_token}",
                req.sandbox_base("open.tiktokapis.com")
            ));
        }
        st.publishes.insert(
            publish_id,
            Publish {
                account: grant.account,
                photo: false,
                direct: true,
                title,
                description: String::new(),
                media,
                created_at: now,
                source,
                post_id: None,
                published_at: None,
            },
        );
        ok(data)
    })
    .await
}

async fn content_init(State(sb): State<Arc<Shared>>, req: Req) -> Response {
    http::run(&sb, ID, Endpoint::Publish, || {
        let body = match json_body(&req) {
            Ok(b) => b,
            Err(r) => return r,
        };
        let direct = match body["post_mode"].as_str() {
            Some("DIRECT_POST") => true,
            Some("MEDIA_UPLOAD") => false,
            _ => return invalid_params("post_mode must be DIRECT_POST or MEDIA_UPLOAD."),
        };
        let scope = if direct {
            "video.publish"
        } else {
            "video.upload"
        };
        let (token, grant) = match api_caller(&sb, &req, &[scope]) {
            Ok(c) => c,
            Err(r) => return r,
        };
        if !take_init_slot(&sb, "content", &token) {
            return rate_limited();
        }
        if body["media_type"].as_str() != Some("PHOTO") {
            return invalid_params("media_type must be PHOTO.");
        }
        let post_info = &body["post_info"];
        if direct {
            if let Err(r) =
                check_privacy(&sb, grant.account, post_info).and_then(|()| check_branded(post_info))
            {
                return r;
            }
        }
        let title = post_info["title"].as_str().unwrap_or("").to_string();
        let description = post_info["description"].as_str().unwrap_or("").to_string();
        if title.encode_utf16().count() > MAX_PHOTO_TITLE
            || description.encode_utf16().count() > MAX_PHOTO_DESCRIPTION
        {
            return invalid_params(
                "The title must be at most 90 characters and the description at most 4000.",
            );
        }
        let source = &body["source_info"];
        if source["source"].as_str() != Some("PULL_FROM_URL") {
            return invalid_params("Photos are pulled: source_info.source must be PULL_FROM_URL.");
        }
        let images: Vec<String> = source["photo_images"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|u| u.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        if images.is_empty() || images.len() > MAX_PHOTOS {
            return invalid_params("photo_images must hold 1 to 35 image URLs.");
        }
        let cover = source["photo_cover_index"].as_u64().unwrap_or(0);
        if cover >= images.len() as u64 {
            return invalid_params("photo_cover_index is out of range.");
        }
        if images.iter().any(|u| !pull_verified(&sb, u)) {
            return url_unverified();
        }
        if direct {
            if let Err(r) = check_user_cap(&sb, &grant.client_id, grant.account) {
                return r;
            }
        }
        let bad = images.iter().any(|u| {
            u.contains(super::instagram::BAD_MEDIA_MARKER)
                || u.rsplit('/')
                    .next()
                    .and_then(|f| f.split('?').next())
                    .is_some_and(|f| f.to_ascii_lowercase().ends_with(".png"))
        });
        let now = sb.now();
        let mut d = sb.lock();
        let st = d.platform_state::<Publishing>();
        let publish_id = new_publish_id(st, "url");
        st.publishes.insert(
            publish_id.clone(),
            Publish {
                account: grant.account,
                photo: true,
                direct,
                title,
                description,
                media: images,
                created_at: now,
                source: Source::Pull { bad },
                post_id: None,
                published_at: None,
            },
        );
        ok(json!({ "publish_id": publish_id }))
    })
    .await
}

/// The number of bytes of a request body, read without keeping them; `None` past `limit`
/// bytes or on a read error.
pub(crate) async fn body_len(mut body: axum::body::Body, limit: u64) -> Option<u64> {
    use axum::body::HttpBody;
    let mut n = 0u64;
    loop {
        let frame = std::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_frame(cx)).await;
        match frame {
            None => return Some(n),
            Some(Err(_)) => return None,
            Some(Ok(f)) => {
                if let Some(d) = f.data_ref() {
                    n += d.len() as u64;
                    if n > limit {
                        return None;
                    }
                }
            }
        }
    }
}

/// `bytes a-b/total` (all numbers), as `(a, b, total)`.
pub(crate) fn content_range(value: &str) -> Option<(u64, u64, u64)> {
    let rest = value.trim().strip_prefix("bytes ")?;
    let (range, total) = rest.split_once('/')?;
    let (a, b) = range.split_once('-')?;
    let (a, b, total) = (
        a.trim().parse().ok()?,
        b.trim().parse().ok()?,
        total.trim().parse().ok()?,
    );
    (a <= b && b < total).then_some((a, b, total))
}

async fn upload_chunk(State(sb): State<Arc<Shared>>, request: axum::extract::Request) -> Response {
    let (parts, body) = request.into_parts();
    let query = http::Params::parse(parts.uri.query().unwrap_or("").as_bytes());
    let header = |n: &str| {
        parts
            .headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let length = body_len(body, MAX_LAST_CHUNK + MAX_CHUNK).await;
    http::run(&sb, ID, Endpoint::Upload, || {
        let now = sb.now();
        let mut d = sb.lock();
        let st = d.platform_state::<Publishing>();
        let publish_id = query
            .get("upload_id")
            .and_then(|u| st.uploads.get(u))
            .cloned();
        let Some(p) = publish_id.and_then(|id| st.publishes.get_mut(&id)) else {
            return http::empty(404);
        };
        let Source::File {
            upload_token,
            video_size,
            chunk_size,
            chunks,
            received,
            url_expires_at,
            uploaded_at,
            ..
        } = &mut p.source
        else {
            return http::empty(404);
        };
        if !http::same(upload_token, query.get("upload_token").unwrap_or("")) {
            return http::empty(404);
        }
        if now >= *url_expires_at {
            return http::empty(403);
        }
        let video_type = header("content-type")
            .unwrap_or_default()
            .to_ascii_lowercase();
        if !["video/mp4", "video/quicktime", "video/webm"]
            .iter()
            .any(|t| video_type.starts_with(t))
        {
            return http::empty(400);
        }
        let Some((a, b, total)) = header("content-range").as_deref().and_then(content_range) else {
            return http::empty(400);
        };
        if total != *video_size {
            return http::empty(400);
        }
        if *received >= *chunks {
            return http::empty(416);
        }
        let start = *received * *chunk_size;
        let end = if *received + 1 == *chunks {
            *video_size - 1
        } else {
            start + *chunk_size - 1
        };
        if (a, b) != (start, end) {
            return http::empty(416);
        }
        if length != Some(b - a + 1) {
            return http::empty(400);
        }
        *received += 1;
        if *received == *chunks {
            *uploaded_at = Some(now);
            http::empty(201)
        } else {
            http::empty(206)
        }
    })
    .await
}

async fn status_fetch(State(sb): State<Arc<Shared>>, req: Req) -> Response {
    http::run(&sb, ID, Endpoint::Upload, || {
        let (_, grant) = match api_caller(&sb, &req, &["video.publish", "video.upload"]) {
            Ok(c) => c,
            Err(r) => return r,
        };
        let body = match json_body(&req) {
            Ok(b) => b,
            Err(r) => return r,
        };
        settle(&sb);
        let now = sb.now();
        let mut d = sb.lock();
        let st = d.platform_state::<Publishing>();
        let id = body["publish_id"].as_str().unwrap_or("");
        let Some(p) = st
            .publishes
            .get(id)
            .filter(|p| p.account.id == grant.account.id)
        else {
            return invalid_params("The publish_id does not exist.");
        };
        let status = p.status(now);
        let mut data = json!({
            "status": status,
            "publicaly_available_post_id": p.post_id.map_or_else(Vec::new, |i| vec![i]),
        });
        match &p.source {
            Source::File {
                received,
                chunk_size,
                chunks,
                video_size,
                ..
            } => {
                let bytes = if received == chunks {
                    *video_size
                } else {
                    received * chunk_size
                };
                data["uploaded_bytes"] = Value::from(bytes);
            }
            Source::Pull { .. } => {
                data["downloaded_bytes"] = Value::from(if status == "PROCESSING_DOWNLOAD" {
                    0
                } else {
                    p.media.len() as u64 * 1_048_576
                });
            }
        }
        if status == "FAILED" {
            data["fail_reason"] = Value::from("file_format_check_failed");
        }
        ok(data)
    })
    .await
}

/// `POST /v2/video/list/?fields=id,title,video_description,create_time,share_url` (scope
/// `video.list`) `{max_count?: 1..=20 (default 10), cursor?: epoch ms}` → `{data:{videos:[…],
/// cursor, has_more}}`: the caller's published posts (videos and photo posts), newest first,
/// those published before `cursor` when given. `video_description` is a photo post's
/// description. A read (`metrics`).
async fn video_list(State(sb): State<Arc<Shared>>, req: Req) -> Response {
    http::run(&sb, ID, Endpoint::Metrics, || {
        let (_, grant) = match api_caller(&sb, &req, &["video.list"]) {
            Ok(c) => c,
            Err(r) => return r,
        };
        let fields: Vec<&str> = req
            .query
            .get("fields")
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|f| !f.is_empty())
            .collect();
        if fields.is_empty() {
            return invalid_params("The fields parameter is required.");
        }
        const LIST_FIELDS: [&str; 5] = [
            "id",
            "title",
            "video_description",
            "create_time",
            "share_url",
        ];
        if let Some(f) = fields.iter().find(|f| !LIST_FIELDS.contains(f)) {
            return invalid_params(&format!("The field {f} is not a valid video field."));
        }
        let body = match json_body(&req) {
            Ok(b) => b,
            Err(r) => return r,
        };
        let max = match body.get("max_count").map(Value::as_u64) {
            None => 10,
            Some(Some(n)) if (1..=MAX_QUERY_IDS as u64).contains(&n) => n as usize,
            Some(_) => return invalid_params("max_count must be between 1 and 20."),
        };
        let cursor = body.get("cursor").and_then(Value::as_i64);
        settle(&sb);
        let mut d = sb.lock();
        let st = d.platform_state::<Publishing>();
        let mut posts: Vec<(u64, &Publish, DateTime<Utc>)> = st
            .publishes
            .values()
            .filter(|p| p.account.id == grant.account.id)
            .filter_map(|p| Some((p.post_id?, p, p.published_at?)))
            .filter(|(_, _, at)| cursor.is_none_or(|c| at.timestamp_millis() < c))
            .collect();
        posts.sort_by(|a, b| b.2.cmp(&a.2).then(b.0.cmp(&a.0)));
        let has_more = posts.len() > max;
        posts.truncate(max);
        let next = posts.last().map_or(0, |p| p.2.timestamp_millis());
        let videos: Vec<Value> = posts
            .iter()
            .map(|(id, p, at)| {
                let mut v = serde_json::Map::new();
                for f in &fields {
                    let value = match *f {
                        "id" => Value::from(id.to_string()),
                        "title" => Value::from(p.title.clone()),
                        "video_description" => Value::from(p.description.clone()),
                        "create_time" => Value::from(at.timestamp()),
                        _ => Value::from(format!(
                            "https://www.tiktok.com/@{}/video/{id}",
                            p.account.handle
                        )),
                    };
                    v.insert(f.to_string(), value);
                }
                Value::Object(v)
            })
            .collect();
        ok(json!({ "videos": videos, "cursor": next, "has_more": has_more }))
    })
    .await
}

async fn video_query(State(sb): State<Arc<Shared>>, req: Req) -> Response {
    http::run(&sb, ID, Endpoint::Metrics, || {
        let (_, grant) = match api_caller(&sb, &req, &["video.list"]) {
            Ok(c) => c,
            Err(r) => return r,
        };
        let fields: Vec<&str> = req
            .query
            .get("fields")
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|f| !f.is_empty())
            .collect();
        if fields.is_empty() {
            return invalid_params("The fields parameter is required.");
        }
        if let Some(f) = fields
            .iter()
            .find(|f| !QUERY_FIELDS.iter().any(|(n, _)| n == *f))
        {
            return invalid_params(&format!("The field {f} is not a valid video field."));
        }
        let body = match json_body(&req) {
            Ok(b) => b,
            Err(r) => return r,
        };
        let ids: Vec<String> = body["filters"]["video_ids"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| {
                        v.as_str()
                            .map(str::to_string)
                            .or_else(|| v.as_u64().map(|n| n.to_string()))
                    })
                    .collect()
            })
            .unwrap_or_default();
        if ids.is_empty() || ids.len() > MAX_QUERY_IDS {
            return invalid_params("filters.video_ids must hold 1 to 20 video ids.");
        }
        settle(&sb);
        let now = sb.now();
        let mut d = sb.lock();
        let st = d.platform_state::<Publishing>();
        let mut videos = Vec::new();
        for id in &ids {
            let Some(p) = st.publishes.values().find(|p| {
                p.account.id == grant.account.id && p.post_id.is_some_and(|n| n.to_string() == *id)
            }) else {
                continue;
            };
            let published_at = p.published_at.unwrap_or(now);
            let elapsed = (now - published_at).num_seconds();
            let mut v = serde_json::Map::new();
            for f in &fields {
                let value = match *f {
                    "id" => Value::from(id.clone()),
                    "title" => Value::from(p.title.clone()),
                    "create_time" => Value::from(published_at.timestamp()),
                    "share_url" => Value::from(format!(
                        "https://www.tiktok.com/@{}/video/{id}",
                        p.account.handle
                    )),
                    counted => {
                        let per_hour = QUERY_FIELDS
                            .iter()
                            .find(|(n, _)| *n == counted)
                            .map_or(1, |(_, r)| *r);
                        Value::from(grown_metric(id, counted, elapsed, per_hour))
                    }
                };
                v.insert(f.to_string(), value);
            }
            videos.push(Value::Object(v));
        }
        ok(json!({ "videos": videos, "cursor": 0, "has_more": false }))
    })
    .await
}
