//! LinkedIn: Sign In with LinkedIn (OpenID Connect). PLATFORMS.md §2.
//!
//! - Authorize `www.linkedin.com/oauth/v2/authorization`: scopes separated by spaces, no PKCE,
//!   unknown scopes come back as `error=unauthorized_scope_error`.
//! - Token `POST www.linkedin.com/oauth/v2/accessToken`: `client_id` and `client_secret` in the
//!   form body. A bad code gets LinkedIn's catch-all `invalid_request` "Unable to retrieve
//!   access token: appid/redirect uri/code verifier does not match authorization code. Or
//!   authorization code expired. Or external member binding exists".
//! - Access tokens last 5184000 s (60 days); `scope` is reported comma-separated. Neither the
//!   exchange nor the refresh answer has `token_type`: LinkedIn's own examples are
//!   `{access_token, expires_in, scope}` and, for partner apps, `{access_token, expires_in,
//!   refresh_token, refresh_token_expires_in, scope}`
//!   (<https://learn.microsoft.com/en-us/linkedin/shared/authentication/authorization-code-flow>,
//!   <https://learn.microsoft.com/en-us/linkedin/shared/authentication/programmatic-refresh-tokens>).
//! - Refresh tokens only for partner apps (`SandboxConfig::linkedin_refresh_tokens`): 365 days
//!   counted from the **first** grant of this member to this app, never renewed; refreshing
//!   returns the same refresh token with the remaining `refresh_token_expires_in`.
//! - Revoke `POST www.linkedin.com/oauth/v2/revoke` (`client_id, client_secret, token`).
//! - Profile `GET api.linkedin.com/v2/userinfo`; missing, invalid, expired and revoked tokens
//!   all get `{"status":401,"serviceErrorCode":65600,"code":"INVALID_ACCESS_TOKEN",…}`.
//!
//! Publishing (scope `w_member_social`; every `/rest/` call needs `LinkedIn-Version: YYYYMM`,
//! missing or malformed → 400, retired (older than a year) or future → 426
//! `NONEXISTENT_VERSION`, and `X-Restli-Protocol-Version: 2.0.0`):
//! - `POST /rest/posts` → 201, URN in `x-restli-id`; see [`create_post`] for the checks.
//! - Images: `POST /rest/images?action=initializeUpload` → `value.{uploadUrl,image}`; `PUT`
//!   the bytes to `uploadUrl` → 201.
//! - Videos: `POST /rest/videos?action=initializeUpload` (`fileSizeBytes`) →
//!   `uploadInstructions[]` of 4 MB parts; `PUT` each → 200 with `ETag`;
//!   `action=finalizeUpload {video, uploadToken, uploadedPartIds}`; `GET /rest/videos/{urn}`
//!   `PROCESSING → AVAILABLE` (`PROCESSING_FAILED` for a file of [`FAILING_FILE_SIZE`] bytes).
//! - Metrics: `GET /rest/socialActions/{urn}` (likesSummary, commentsSummary).
//! - The author finder `GET /rest/posts?q=author&author={person urn}&count&sortBy=` (the
//!   member's posts, newest first; needs `r_member_social`, a restricted permission: without it
//!   403 `ACCESS_DENIED`).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, post, put};
use axum::Router;
use chrono::{DateTime, Datelike, Duration, Utc};
use serde_json::{json, Value};

use crate::consent::{self, no_check, AuthorizeRules, ErrorPage, ErrorStyle, PageError, PkceRule};
use crate::http::{self, json, token_json, with_header, Req};
use crate::state::{
    grown_metric, secs_until, ClientCheck, Endpoint, PublishedItem, RefreshLifetime, Shared,
    TokenKind,
};

const ID: &str = "linkedin";
/// Access token lifetime in seconds (60 days).
const ACCESS_TTL: i64 = 5_184_000;
/// Refresh token lifetime in seconds (365 days), counted from the first grant.
const REFRESH_TTL: i64 = 31_536_000;

pub(crate) static AUTHORIZE: AuthorizeRules = AuthorizeRules {
    platform: ID,
    display_name: "LinkedIn",
    brand_color: "#0a66c2",
    client_param: "client_id",
    scope_separators: &[' '],
    default_scopes: &[],
    known_scopes: &[
        "openid",
        "profile",
        "email",
        "w_member_social",
        "r_member_social",
        "r_basicprofile",
        "w_organization_social",
        "r_organization_social",
        "rw_organization_admin",
    ],
    scope_error: "unauthorized_scope_error",
    request_errors: ErrorStyle::Redirect,
    pkce: PkceRule::Ignored,
    state_required: false,
    max_state_len: None,
    response_type_optional: false,
    code_ttl_secs: 600,
    fragment: "",
    deny_description: "The user cancelled LinkedIn login",
    deny_extra: &[],
    page: error_page,
    check: no_check,
};

fn error_page(e: &PageError) -> ErrorPage {
    match e {
        PageError::MissingClient | PageError::ClientIdNotClientKey => ErrorPage::new(
            400,
            "Bummer, something went wrong.",
            "invalid_request: A required parameter \"client_id\" is missing",
        ),
        PageError::UnknownClient(c) => ErrorPage::new(
            400,
            "Bummer, something went wrong.",
            format!("invalid_client: The passed in client_id is invalid \"{c}\""),
        ),
        PageError::MissingRedirect => ErrorPage::new(
            400,
            "Bummer, something went wrong.",
            "invalid_request: A required parameter \"redirect_uri\" is missing",
        ),
        PageError::RedirectMismatch(_) => ErrorPage::new(
            400,
            "Bummer, something went wrong.",
            "invalid_redirect_uri: The redirect_uri does not match the registered value",
        ),
        PageError::Request(p) => ErrorPage::new(
            400,
            "Bummer, something went wrong.",
            format!("{}: {}", p.error, p.description),
        ),
    }
}

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route(
            "/www.linkedin.com/oauth/v2/authorization",
            get(authorize).post(authorize),
        )
        .route("/www.linkedin.com/oauth/v2/accessToken", post(token))
        .route("/www.linkedin.com/oauth/v2/revoke", post(revoke))
        .route("/api.linkedin.com/v2/userinfo", get(userinfo))
        .merge(publishing_routes())
}

async fn authorize(State(sb): State<Arc<Shared>>, req: Req) -> Response {
    consent::authorize(&sb, &AUTHORIZE, req).await
}

fn oauth_error(status: u16, error: &str, description: &str) -> Response {
    token_json(
        status,
        json!({ "error": error, "error_description": description }),
    )
}

fn missing(param: &str) -> Response {
    oauth_error(
        400,
        "invalid_request",
        &format!("A required parameter \"{param}\" is missing"),
    )
}

/// `client_id` and `client_secret` in the form body.
fn authenticate(sb: &Shared, req: &Req) -> Result<String, Response> {
    let Some(id) = req.form.get("client_id") else {
        return Err(missing("client_id"));
    };
    let Some(secret) = req.form.get("client_secret") else {
        return Err(missing("client_secret"));
    };
    match sb.check_client(ID, id, secret) {
        ClientCheck::Ok => Ok(id.to_string()),
        _ => Err(oauth_error(
            401,
            "invalid_client",
            "Client authentication failed",
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
        let grant_type = match req.form.get("grant_type") {
            Some(g) if !g.is_empty() => g,
            _ => return missing("grant_type"),
        };
        let client_id = match authenticate(&sb, &req) {
            Ok(c) => c,
            Err(r) => return r,
        };
        match grant_type {
            "authorization_code" => exchange(&sb, &req, &client_id),
            "refresh_token" => refresh_grant(&sb, &req, &client_id),
            other => oauth_error(
                400,
                "unsupported_grant_type",
                &format!("The grant type \"{other}\" is not supported"),
            ),
        }
    })
    .await
}

fn exchange(sb: &Shared, req: &Req, client_id: &str) -> Response {
    let Some(code) = req.form.get("code") else {
        return missing("code");
    };
    let Some(redirect_uri) = req.form.get("redirect_uri") else {
        return missing("redirect_uri");
    };
    let now = sb.now();
    let mut d = sb.lock();
    let c = match d.redeem_code(ID, code, client_id, Some(redirect_uri), None, now) {
        Ok(c) => c,
        Err(_) => {
            return oauth_error(
                400,
                "invalid_request",
                "Unable to retrieve access token: appid/redirect uri/code verifier does not match \
                 authorization code. Or authorization code expired. Or external member binding exists",
            )
        }
    };
    let partner = sb.config.linkedin_refresh_tokens;
    let lifetime = if partner {
        RefreshLifetime::FromFirstGrant(REFRESH_TTL)
    } else {
        RefreshLifetime::None
    };
    let grant = d.new_grant(&c, now, lifetime);
    let access = d.issue(
        &grant,
        TokenKind::Access,
        Some(sb.access_ttl(ID, ACCESS_TTL)),
        false,
        now,
    );
    let mut body = json!({
        "access_token": access.token,
        "expires_in": access.expires_in(now),
        "scope": grant.scopes.join(","),
    });
    if partner {
        let refresh = d.issue_until(
            &grant,
            TokenKind::Refresh,
            grant.refresh_expires_at,
            false,
            now,
        );
        body["refresh_token"] = Value::from(refresh.token.clone());
        body["refresh_token_expires_in"] = Value::from(refresh.expires_in(now));
    }
    token_json(200, body)
}

fn refresh_grant(sb: &Shared, req: &Req, client_id: &str) -> Response {
    let Some(token) = req.form.get("refresh_token") else {
        return missing("refresh_token");
    };
    let now = sb.now();
    let mut d = sb.lock();
    // Not rotated: the same refresh token keeps working until the grant's fixed end.
    let info =
        match d.use_refresh(ID, token, client_id, false, now) {
            Ok(i) => i,
            Err(_) => return oauth_error(
                400,
                "invalid_grant",
                "The provided authorization grant or refresh token is invalid, expired or revoked.",
            ),
        };
    let access = d.issue(
        &info.grant,
        TokenKind::Access,
        Some(sb.access_ttl(ID, ACCESS_TTL)),
        false,
        now,
    );
    let remaining = info.expires_at.map(|e| secs_until(e, now)).unwrap_or(0);
    token_json(
        200,
        json!({
            "access_token": access.token,
            "expires_in": access.expires_in(now),
            "refresh_token": token,
            "refresh_token_expires_in": remaining,
            "scope": info.grant.scopes.join(","),
        }),
    )
}

async fn revoke(State(sb): State<Arc<Shared>>, req: Req) -> Response {
    http::run(&sb, ID, Endpoint::Revoke, || {
        let client_id = match authenticate(&sb, &req) {
            Ok(c) => c,
            Err(r) => return r,
        };
        let Some(token) = req.form.get("token") else {
            return missing("token");
        };
        let mut d = sb.lock();
        if let Some(g) = d.grant_of(ID, token, &client_id) {
            d.revoke_grant(g.id);
        }
        http::empty(200)
    })
    .await
}

/// LinkedIn's answer to a missing, invalid, expired or revoked token.
fn api_error() -> Response {
    json(
        401,
        json!({
            "status": 401,
            "serviceErrorCode": 65600,
            "code": "INVALID_ACCESS_TOKEN",
            "message": "Invalid access token",
        }),
    )
}

async fn userinfo(State(sb): State<Arc<Shared>>, req: Req) -> Response {
    http::run(&sb, ID, Endpoint::Profile, || {
        let Some(token) = req.bearer() else {
            return api_error();
        };
        let info = match sb.lock().check_access(ID, token, sb.now()) {
            Ok(i) => i,
            Err(_) => return api_error(),
        };
        let has = |s: &str| info.grant.scopes.iter().any(|g| g == s);
        if !has("openid") {
            return json(
                403,
                json!({
                    "status": 403,
                    "serviceErrorCode": 100,
                    "code": "ACCESS_DENIED",
                    "message": "Not enough permissions to access: userinfo.GET.NO_VERSION",
                }),
            );
        }
        let a = info.grant.account;
        let mut body = json!({ "sub": a.user_id });
        if has("profile") {
            body["name"] = Value::from(a.name);
            body["given_name"] = Value::from(a.given_name());
            body["family_name"] = Value::from(a.family_name());
            body["picture"] = Value::from(format!(
                "{}/__sandbox/avatars/{}.svg",
                req.sandbox_base("api.linkedin.com"),
                a.id
            ));
            body["locale"] = Value::from("en-US");
        }
        if has("email") {
            if let Some(e) = a.email {
                body["email"] = Value::from(e);
                body["email_verified"] = Value::from(true);
            }
        }
        json(200, body)
    })
    .await
}

// ---- publishing (PLATFORMS.md §2 "Publish text", "Publish image", "Publish video", "Limits") ----

/// Most characters of a post's `commentary`.
const MAX_COMMENTARY_CHARS: usize = 3000;
/// How many monthly `LinkedIn-Version`s stay active: a version older than this many months (on
/// the sandbox clock) gets 426, as LinkedIn retires versions after about a year.
const ACTIVE_VERSION_MONTHS: i64 = 12;
/// Size of each video upload part, in bytes (LinkedIn's 4 MB parts).
const VIDEO_PART_BYTES: u64 = 4 * 1024 * 1024;
/// A video declared with exactly this `fileSizeBytes` ends `PROCESSING_FAILED` instead of
/// `AVAILABLE` (the sandbox's bad video).
pub(crate) const FAILING_FILE_SIZE: u64 = 666;
/// Seconds an upload URL stays valid (`uploadUrlExpiresAt`).
const UPLOAD_URL_TTL_SECS: i64 = 86_400;
/// A post with the same author and commentary as one of the last this many seconds is a
/// duplicate (422).
const DUPLICATE_WINDOW_SECS: i64 = 86_400;

#[derive(Debug, Clone)]
struct Image {
    owner: String,
    uploaded: bool,
}

#[derive(Debug, Clone)]
struct Video {
    owner: String,
    size: u64,
    upload_token: String,
    /// ETag of each uploaded part, by part index.
    parts: BTreeMap<usize, String>,
    finalized_at: Option<DateTime<Utc>>,
    /// Status reads answered since finalize.
    polls: u32,
}

impl Video {
    fn part_count(&self) -> usize {
        self.size.div_ceil(VIDEO_PART_BYTES).max(1) as usize
    }

    /// `WAITING_UPLOAD`, `PROCESSING`, `AVAILABLE` or `PROCESSING_FAILED`: one read after
    /// finalize answers `PROCESSING`, later reads (or 10 s of sandbox time) the outcome.
    fn status(&self, now: DateTime<Utc>) -> &'static str {
        let Some(at) = self.finalized_at else {
            return "WAITING_UPLOAD";
        };
        if self.polls == 0 && (now - at).num_seconds() < 10 {
            "PROCESSING"
        } else if self.size == FAILING_FILE_SIZE {
            "PROCESSING_FAILED"
        } else {
            "AVAILABLE"
        }
    }
}

#[derive(Debug, Clone)]
struct Post {
    author: String,
    commentary: String,
    created_at: DateTime<Utc>,
}

/// LinkedIn's publishing state.
#[derive(Default)]
struct LiState {
    next_id: u64,
    images: HashMap<String, Image>,
    videos: HashMap<String, Video>,
    posts: HashMap<String, Post>,
}

impl LiState {
    fn new_id(&mut self) -> u64 {
        self.next_id += 1;
        7_200_000_000_000_000_000 + self.next_id
    }
}

/// LinkedIn's API error body `{status, serviceErrorCode, code, message}`.
fn li_error(status: u16, service: i64, code: &str, message: &str) -> Response {
    json(
        status,
        json!({ "status": status, "serviceErrorCode": service, "code": code, "message": message }),
    )
}

/// LinkedIn's validation error: 422 `{"message":"ERROR :: /{path} :: …","status":422}`.
fn unprocessable(path: &str, what: &str) -> Response {
    json(
        422,
        json!({ "message": format!("ERROR :: /{path} :: {what}"), "status": 422 }),
    )
}

fn access_denied(resource: &str) -> Response {
    li_error(
        403,
        100,
        "ACCESS_DENIED",
        &format!("Not enough permissions to access: {resource}"),
    )
}

/// Checks the `LinkedIn-Version` (required, `YYYYMM`, active) and `X-Restli-Protocol-Version:
/// 2.0.0` headers of a `/rest/` call.
fn check_versions(sb: &Shared, req: &Req) -> Result<(), Response> {
    let Some(v) = req.header("linkedin-version").map(str::trim) else {
        return Err(li_error(
            400,
            0,
            "VERSION_MISSING",
            "A version must be present. Please specify a version by adding the LinkedIn-Version header.",
        ));
    };
    let parsed = (v.len() == 6 && v.bytes().all(|b| b.is_ascii_digit()))
        .then(|| (v[..4].parse::<i64>().ok(), v[4..].parse::<i64>().ok()));
    let Some((Some(year), Some(month))) =
        parsed.filter(|p| p.1.is_some_and(|m| (1..=12).contains(&m)))
    else {
        return Err(li_error(
            400,
            0,
            "INVALID_VERSION",
            &format!("Invalid version {v}: the LinkedIn-Version header is YYYYMM."),
        ));
    };
    let now = sb.now();
    let current = i64::from(now.year()) * 12 + i64::from(now.month0());
    let asked = year * 12 + month - 1;
    if asked > current || current - asked >= ACTIVE_VERSION_MONTHS {
        return Err(li_error(
            426,
            0,
            "NONEXISTENT_VERSION",
            &format!("Requested version {v} is not active"),
        ));
    }
    if req.header("x-restli-protocol-version") != Some("2.0.0") {
        return Err(li_error(
            400,
            0,
            "ILLEGAL_ARGUMENT",
            "X-Restli-Protocol-Version: 2.0.0 is required on this resource.",
        ));
    }
    Ok(())
}

/// The member behind the bearer token (`urn:li:person:{sub}`, and the sub) after the version
/// checks, when the token is valid and carries `w_member_social`.
fn member(sb: &Shared, req: &Req, resource: &str) -> Result<(String, &'static str), Response> {
    let token = req.bearer().ok_or_else(api_error)?;
    let info = sb
        .lock()
        .check_access(ID, token, sb.now())
        .map_err(|_| api_error())?;
    check_versions(sb, req)?;
    if !info.grant.scopes.iter().any(|s| s == "w_member_social") {
        return Err(access_denied(resource));
    }
    let sub = info.grant.account.user_id;
    Ok((format!("urn:li:person:{sub}"), sub))
}

fn publishing_routes() -> Router<Arc<Shared>> {
    Router::new()
        .route(
            "/api.linkedin.com/rest/posts",
            post(create_post).get(find_posts),
        )
        .route("/api.linkedin.com/rest/images", post(images_action))
        .route("/api.linkedin.com/rest/images/{urn}", get(read_image))
        .route("/api.linkedin.com/rest/videos", post(videos_action))
        .route("/api.linkedin.com/rest/videos/{urn}", get(read_video))
        .route(
            "/www.linkedin.com/dms-uploads/{asset}",
            put(upload_image_bytes),
        )
        .route(
            "/www.linkedin.com/dms-uploads/{asset}/parts/{part}",
            put(upload_video_part),
        )
        .route(
            "/api.linkedin.com/rest/socialActions/{urn}",
            get(social_actions),
        )
}

/// `POST /rest/posts` → 201 with the post URN (`urn:li:share:…`) in `x-restli-id`.
///
/// The author must be the token's member (else 403 ACCESS_DENIED); `commentary`,
/// `visibility`, `distribution` and `lifecycleState` are required and commentary is at most
/// 3,000 characters (else 422 `ERROR :: /commentary :: …`); media in `content.media.id` or
/// `content.multiImage.images[].id` must be the member's and `AVAILABLE` (else 400); the same
/// commentary as one of the member's posts of the last 24 h is a 422 duplicate.
async fn create_post(State(sb): State<Arc<Shared>>, req: Req) -> Response {
    http::run(&sb, ID, Endpoint::Publish, || {
        let (person, sub) = match member(&sb, &req, "partnerApiPostsExternal.CREATE") {
            Ok(m) => m,
            Err(r) => return r,
        };
        let body: Value = match serde_json::from_slice(&req.body) {
            Ok(v @ Value::Object(_)) => v,
            _ => {
                return li_error(
                    400,
                    0,
                    "ILLEGAL_ARGUMENT",
                    "The request body is not a JSON object.",
                )
            }
        };
        match body["author"].as_str() {
            None => return unprocessable("author", "field is required but not found and has no default value"),
            Some(a) if a != person => {
                return access_denied("partnerApiPostsExternal.CREATE (author is not the member of the token)")
            }
            Some(_) => {}
        }
        for field in ["commentary", "visibility", "distribution", "lifecycleState"] {
            if body.get(field).is_none_or(Value::is_null) {
                return unprocessable(field, "field is required but not found and has no default value");
            }
        }
        let commentary = body["commentary"].as_str().unwrap_or_default().to_string();
        let n = commentary.chars().count();
        if n > MAX_COMMENTARY_CHARS {
            return unprocessable(
                "commentary",
                &format!("length {n} exceeded the maximum allowed length of {MAX_COMMENTARY_CHARS}"),
            );
        }
        let mut media = Vec::new();
        if let Some(id) = body["content"]["media"]["id"].as_str() {
            media.push(id.to_string());
        }
        if let Some(images) = body["content"]["multiImage"]["images"].as_array() {
            if images.len() < 2 || images.len() > 20 {
                return unprocessable(
                    "content/multiImage/images",
                    "a multi-image post has between 2 and 20 images",
                );
            }
            media.extend(images.iter().filter_map(|i| i["id"].as_str().map(str::to_string)));
        }
        let now = sb.now();
        let mut d = sb.lock();
        let st = d.platform_state::<LiState>();
        for urn in &media {
            let ready = if let Some(id) = urn.strip_prefix("urn:li:image:") {
                st.images.get(id).is_some_and(|i| i.owner == person && i.uploaded)
            } else if let Some(id) = urn.strip_prefix("urn:li:video:") {
                st.videos
                    .get(id)
                    .is_some_and(|v| v.owner == person && v.status(now) == "AVAILABLE")
            } else {
                false
            };
            if !ready {
                return li_error(
                    400,
                    0,
                    "ILLEGAL_ARGUMENT",
                    &format!("Media {urn} is not found or is not AVAILABLE: upload (and finalize) it first."),
                );
            }
        }
        let from = now - Duration::seconds(DUPLICATE_WINDOW_SECS);
        if let Some((dup, _)) = st.posts.iter().find(|(_, p)| {
            p.author == person && p.commentary == commentary && p.created_at > from
        }) {
            return li_error(
                422,
                0,
                "DUPLICATE_POST",
                &format!("Content is a duplicate of {dup}"),
            );
        }
        let urn = format!("urn:li:share:{}", st.new_id());
        st.posts.insert(
            urn.clone(),
            Post { author: person, commentary: commentary.clone(), created_at: now },
        );
        let kind = match media.first().map(String::as_str) {
            None => "text",
            Some(m) if m.starts_with("urn:li:video:") => "video",
            Some(_) if media.len() > 1 => "images",
            Some(_) => "image",
        };
        d.record_published(PublishedItem {
            id: urn.clone(),
            platform: ID,
            account_id: sub.to_string(),
            kind: kind.to_string(),
            text: commentary,
            media,
            published_at: now,
        });
        with_header(http::empty(201), "x-restli-id", &urn)
    })
    .await
}

/// `GET /rest/posts?q=author&author={urn}&start=&count=&sortBy=LAST_MODIFIED|CREATED` (the member's
/// posts finder): `{"elements":[{id, author, commentary, createdAt, lastModifiedAt,
/// lifecycleState, visibility}], "paging":{start, count, total}}`, newest first. Needs
/// `r_member_social` (403 `ACCESS_DENIED` without); `q` must be `author` and `author` the
/// token's member (else 400 / 403); `count` 1–100 (default 10); `start` the offset of the page
/// (default 0). A read (`metrics`).
async fn find_posts(State(sb): State<Arc<Shared>>, req: Req) -> Response {
    http::run(&sb, ID, Endpoint::Metrics, || {
        let token = match req.bearer() {
            Some(t) => t,
            None => return api_error(),
        };
        let info = match sb.lock().check_access(ID, token, sb.now()) {
            Ok(i) => i,
            Err(_) => return api_error(),
        };
        if let Err(r) = check_versions(&sb, &req) {
            return r;
        }
        if !info.grant.scopes.iter().any(|s| s == "r_member_social") {
            return access_denied("partnerApiPostsExternal.FINDER-author");
        }
        if req.query.get("q") != Some("author") {
            return li_error(
                400,
                0,
                "ILLEGAL_ARGUMENT",
                "Unsupported finder: q must be author.",
            );
        }
        let person = format!("urn:li:person:{}", info.grant.account.user_id);
        match req.query.get("author") {
            Some(a) if a == person => {}
            Some(_) => return access_denied("partnerApiPostsExternal.FINDER-author (author)"),
            None => return unprocessable("author", "field is required but not found"),
        }
        let count = match req.query.get("count").map(str::parse::<usize>) {
            None => 10,
            Some(Ok(n)) if (1..=100).contains(&n) => n,
            Some(_) => {
                return li_error(
                    400,
                    0,
                    "ILLEGAL_ARGUMENT",
                    "count must be between 1 and 100.",
                )
            }
        };
        let start = match req.query.get("start").map(str::parse::<usize>) {
            None => 0,
            Some(Ok(n)) => n,
            Some(_) => {
                return li_error(
                    400,
                    0,
                    "ILLEGAL_ARGUMENT",
                    "start must be a non-negative integer.",
                )
            }
        };
        let mut d = sb.lock();
        let st = d.platform_state::<LiState>();
        let mut posts: Vec<(&String, &Post)> = st
            .posts
            .iter()
            .filter(|(_, p)| p.author == person)
            .collect();
        posts.sort_by(|a, b| b.1.created_at.cmp(&a.1.created_at).then(b.0.cmp(a.0)));
        let total = posts.len();
        let elements: Vec<Value> = posts
            .into_iter()
            .skip(start)
            .take(count)
            .map(|(urn, p)| {
                json!({
                    "id": urn,
                    "author": p.author,
                    "commentary": p.commentary,
                    "createdAt": p.created_at.timestamp_millis(),
                    "lastModifiedAt": p.created_at.timestamp_millis(),
                    "lifecycleState": "PUBLISHED",
                    "visibility": "PUBLIC",
                })
            })
            .collect();
        json(
            200,
            json!({
                "elements": elements,
                "paging": { "start": start, "count": count, "total": total },
            }),
        )
    })
    .await
}

/// The owner of an `initializeUploadRequest`, which must be the token's member.
fn upload_owner(req: &Req, person: &str) -> Result<Value, Response> {
    let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
    let init = body["initializeUploadRequest"].clone();
    match init["owner"].as_str() {
        None => Err(unprocessable(
            "initializeUploadRequest/owner",
            "field is required but not found and has no default value",
        )),
        Some(o) if o != person => Err(access_denied("images.ACTION.initializeUpload (owner)")),
        Some(_) => Ok(init),
    }
}

/// `POST /rest/images?action=initializeUpload {"initializeUploadRequest":{"owner"}}` →
/// `{"value":{uploadUrlExpiresAt (epoch ms), uploadUrl, image}}`. The upload URL is served by
/// the sandbox (`PUT` the bytes with the bearer token → 201).
async fn images_action(State(sb): State<Arc<Shared>>, req: Req) -> Response {
    http::run(&sb, ID, Endpoint::Upload, || {
        let (person, _) = match member(&sb, &req, "images.ACTION.initializeUpload") {
            Ok(m) => m,
            Err(r) => return r,
        };
        if req.query.get("action") != Some("initializeUpload") {
            return li_error(400, 0, "ILLEGAL_ARGUMENT", "Unsupported action.");
        }
        if let Err(r) = upload_owner(&req, &person) {
            return r;
        }
        let now = sb.now();
        let mut d = sb.lock();
        let st = d.platform_state::<LiState>();
        let id = format!("D4E{}", st.new_id());
        st.images.insert(id.clone(), Image { owner: person, uploaded: false });
        json(
            200,
            json!({ "value": {
                "uploadUrlExpiresAt": (now + Duration::seconds(UPLOAD_URL_TTL_SECS)).timestamp_millis(),
                "uploadUrl": format!("{}/www.linkedin.com/dms-uploads/{id}", req.sandbox_base("api.linkedin.com")),
                "image": format!("urn:li:image:{id}"),
            }}),
        )
    })
    .await
}

/// The bearer token's member for an upload URL (no version headers on upload URLs).
fn uploader(sb: &Shared, req: &Req) -> Result<String, Response> {
    let token = req.bearer().ok_or_else(api_error)?;
    let info = sb
        .lock()
        .check_access(ID, token, sb.now())
        .map_err(|_| api_error())?;
    Ok(format!("urn:li:person:{}", info.grant.account.user_id))
}

/// `PUT {uploadUrl}` with the image bytes → 201.
async fn upload_image_bytes(
    State(sb): State<Arc<Shared>>,
    Path(asset): Path<String>,
    req: Req,
) -> Response {
    http::run(&sb, ID, Endpoint::Upload, || {
        let person = match uploader(&sb, &req) {
            Ok(p) => p,
            Err(r) => return r,
        };
        if req.body.is_empty() {
            return li_error(400, 0, "ILLEGAL_ARGUMENT", "The upload body is empty.");
        }
        let mut d = sb.lock();
        match d.platform_state::<LiState>().images.get_mut(&asset) {
            Some(i) if i.owner == person => {
                i.uploaded = true;
                http::empty(201)
            }
            Some(_) => access_denied("dms-uploads"),
            None => li_error(404, 0, "NOT_FOUND", "No upload is expected at this URL."),
        }
    })
    .await
}

/// `GET /rest/images/{urn}` → `{id, owner, status: WAITING_UPLOAD|AVAILABLE}`.
async fn read_image(State(sb): State<Arc<Shared>>, Path(urn): Path<String>, req: Req) -> Response {
    http::run(&sb, ID, Endpoint::Upload, || {
        if let Err(r) = member(&sb, &req, "images.GET") {
            return r;
        }
        let id = urn.strip_prefix("urn:li:image:").unwrap_or(&urn);
        let mut d = sb.lock();
        match d.platform_state::<LiState>().images.get(id) {
            Some(i) => json(
                200,
                json!({
                    "id": format!("urn:li:image:{id}"),
                    "owner": i.owner,
                    "status": if i.uploaded { "AVAILABLE" } else { "WAITING_UPLOAD" },
                }),
            ),
            None => li_error(404, 0, "NOT_FOUND", &format!("Image {urn} not found")),
        }
    })
    .await
}

/// `POST /rest/videos?action=initializeUpload {"initializeUploadRequest":{owner,
/// fileSizeBytes}}` → `{"value":{video, uploadToken, uploadUrlsExpireAt (epoch ms),
/// uploadInstructions:[{uploadUrl, firstByte, lastByte}]}}` (4 MB parts), and
/// `POST /rest/videos?action=finalizeUpload {"finalizeUploadRequest":{video, uploadToken,
/// uploadedPartIds}}` → 200 once every part's ETag is given in order.
async fn videos_action(State(sb): State<Arc<Shared>>, req: Req) -> Response {
    http::run(&sb, ID, Endpoint::Upload, || {
        let (person, _) = match member(&sb, &req, "videos.ACTION") {
            Ok(m) => m,
            Err(r) => return r,
        };
        match req.query.get("action") {
            Some("initializeUpload") => init_video(&sb, &req, person),
            Some("finalizeUpload") => finalize_video(&sb, &req, &person),
            _ => li_error(400, 0, "ILLEGAL_ARGUMENT", "Unsupported action."),
        }
    })
    .await
}

fn init_video(sb: &Shared, req: &Req, person: String) -> Response {
    let init = match upload_owner(req, &person) {
        Ok(i) => i,
        Err(r) => return r,
    };
    let Some(size) = init["fileSizeBytes"].as_u64().filter(|s| *s > 0) else {
        return unprocessable(
            "initializeUploadRequest/fileSizeBytes",
            "field is required but not found and has no default value",
        );
    };
    let now = sb.now();
    let base = req.sandbox_base("api.linkedin.com");
    let mut d = sb.lock();
    let st = d.platform_state::<LiState>();
    let id = format!("C5F{}", st.new_id());
    let video = Video {
        owner: person,
        size,
        upload_token: http::random_b64(12),
        parts: BTreeMap::new(),
        finalized_at: None,
        polls: 0,
    };
    let instructions: Vec<Value> = (0..video.part_count())
        .map(|i| {
            let first = i as u64 * VIDEO_PART_BYTES;
            let last = (first + VIDEO_PART_BYTES).min(size) - 1;
            json!({
                "uploadUrl": format!("{base}/www.linkedin.com/dms-uploads/{id}/parts/{i}"),
                "firstByte": first,
                "lastByte": last,
            })
        })
        .collect();
    let token = video.upload_token.clone();
    st.videos.insert(id.clone(), video);
    json(
        200,
        json!({ "value": {
            "uploadUrlsExpireAt": (now + Duration::seconds(UPLOAD_URL_TTL_SECS)).timestamp_millis(),
            "video": format!("urn:li:video:{id}"),
            "uploadInstructions": instructions,
            "uploadToken": token,
        }}),
    )
}

fn finalize_video(sb: &Shared, req: &Req, person: &str) -> Response {
    let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
    let f = &body["finalizeUploadRequest"];
    let urn = f["video"].as_str().unwrap_or_default();
    let id = urn.strip_prefix("urn:li:video:").unwrap_or_default();
    let now = sb.now();
    let mut d = sb.lock();
    let Some(v) = d
        .platform_state::<LiState>()
        .videos
        .get_mut(id)
        .filter(|v| v.owner == person)
    else {
        return li_error(404, 0, "NOT_FOUND", &format!("Video {urn} not found"));
    };
    if f["uploadToken"].as_str().unwrap_or_default() != v.upload_token {
        return li_error(
            400,
            0,
            "ILLEGAL_ARGUMENT",
            "uploadToken does not match the upload.",
        );
    }
    let expected: Vec<&String> = v.parts.values().collect();
    let given: Vec<&str> = f["uploadedPartIds"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if v.parts.len() != v.part_count()
        || expected.len() != given.len()
        || expected.iter().zip(&given).any(|(e, g)| e.as_str() != *g)
    {
        return li_error(
            400,
            0,
            "ILLEGAL_ARGUMENT",
            "uploadedPartIds must list the ETag of every uploaded part, in order.",
        );
    }
    if v.finalized_at.is_none() {
        v.finalized_at = Some(now);
    }
    http::empty(200)
}

/// `PUT` one video part (bytes `firstByte..=lastByte`) → 200 with its `ETag`.
async fn upload_video_part(
    State(sb): State<Arc<Shared>>,
    Path((asset, part)): Path<(String, usize)>,
    req: Req,
) -> Response {
    http::run(&sb, ID, Endpoint::Upload, || {
        let person = match uploader(&sb, &req) {
            Ok(p) => p,
            Err(r) => return r,
        };
        let mut d = sb.lock();
        let Some(v) = d.platform_state::<LiState>().videos.get_mut(&asset) else {
            return li_error(404, 0, "NOT_FOUND", "No upload is expected at this URL.");
        };
        if v.owner != person {
            return access_denied("dms-uploads");
        }
        if part >= v.part_count() {
            return li_error(404, 0, "NOT_FOUND", "No such part.");
        }
        let first = part as u64 * VIDEO_PART_BYTES;
        let expected = (first + VIDEO_PART_BYTES).min(v.size) - first;
        if req.body.len() as u64 != expected {
            return li_error(
                400,
                0,
                "ILLEGAL_ARGUMENT",
                &format!(
                    "Part {part} must be {expected} bytes, got {}.",
                    req.body.len()
                ),
            );
        }
        let etag = format!(
            "\"{}\"",
            &http::sha256_hex(&format!("{asset}/{part}/{}", req.body.len()))[..32]
        );
        v.parts.insert(part, etag.clone());
        with_header(http::empty(200), "etag", &etag)
    })
    .await
}

/// `GET /rest/videos/{urn}` → `{id, owner, status}`: `WAITING_UPLOAD` before finalize, then
/// `PROCESSING`, then `AVAILABLE` (or `PROCESSING_FAILED` for [`FAILING_FILE_SIZE`]).
async fn read_video(State(sb): State<Arc<Shared>>, Path(urn): Path<String>, req: Req) -> Response {
    http::run(&sb, ID, Endpoint::Upload, || {
        if let Err(r) = member(&sb, &req, "videos.GET") {
            return r;
        }
        let id = urn
            .strip_prefix("urn:li:video:")
            .unwrap_or(&urn)
            .to_string();
        let now = sb.now();
        let mut d = sb.lock();
        let Some(v) = d.platform_state::<LiState>().videos.get_mut(&id) else {
            return li_error(404, 0, "NOT_FOUND", &format!("Video {urn} not found"));
        };
        let status = v.status(now);
        if v.finalized_at.is_some() {
            v.polls = v.polls.saturating_add(1);
        }
        json(
            200,
            json!({ "id": format!("urn:li:video:{id}"), "owner": v.owner, "status": status }),
        )
    })
    .await
}

/// `GET /rest/socialActions/{urn}` (the post URN, URL-encoded) → `{target, likesSummary:
/// {totalLikes, aggregatedTotalLikes, likedByCurrentUser}, commentsSummary:
/// {totalFirstLevelComments, aggregatedTotalComments}}`, growing with sandbox time since the
/// post (the metrics read the sandbox offers for LinkedIn). Unknown URNs get 404.
async fn social_actions(
    State(sb): State<Arc<Shared>>,
    Path(urn): Path<String>,
    req: Req,
) -> Response {
    http::run(&sb, ID, Endpoint::Metrics, || {
        if let Err(r) = member(&sb, &req, "socialActions.GET") {
            return r;
        }
        let now = sb.now();
        let mut d = sb.lock();
        let Some(p) = d.platform_state::<LiState>().posts.get(&urn).cloned() else {
            return li_error(404, 0, "NOT_FOUND", &format!("Not Found: {urn}"));
        };
        let age = (now - p.created_at).num_seconds();
        let likes = grown_metric(&urn, "likes", age, 30);
        let comments = grown_metric(&urn, "comments", age, 6);
        json(
            200,
            json!({
                "target": urn,
                "likesSummary": {
                    "totalLikes": likes,
                    "aggregatedTotalLikes": likes,
                    "likedByCurrentUser": false,
                },
                "commentsSummary": {
                    "totalFirstLevelComments": comments,
                    "aggregatedTotalComments": comments,
                },
            }),
        )
    })
    .await
}
