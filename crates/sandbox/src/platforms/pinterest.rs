//! Pinterest API v5. PLATFORMS.md §7.
//!
//! - Authorize `www.pinterest.com/oauth/` (trailing slash): scopes separated by commas; PKCE
//!   parameters are tolerated and ignored.
//! - Token `POST api.pinterest.com/v5/oauth/token`: the app authenticates with **HTTP Basic**
//!   only; credentials in the body alone get 401 `{"code":2,"message":"Authentication
//!   failed."}`. Access tokens last 2592000 s (30 days), refresh tokens 31536000 s (365 days,
//!   `refresh_token_expires_in` / `refresh_token_expires_at`).
//! - Refresh with `refresh_on=true` ("continuous refresh") returns a **new** refresh token and
//!   `response_type: "everlasting_refresh"`; the old one dies. Without it, no new refresh token
//!   comes and the old one keeps working.
//! - Errors are `{"code":<int>,"message":"…"}`; a bad code or refresh token is
//!   `{"code":283,"message":"The authorization grant is invalid"}`.
//! - Profile `GET api.pinterest.com/v5/user_account`; bad tokens get 401
//!   `{"code":2,"message":"Authentication failed."}`.
//! - Boards `GET api.pinterest.com/v5/boards` (scope `boards:read`) → `{"items":[…],
//!   "bookmark":null}`, paged by `page_size` (1-250, default 25) and `bookmark`; an account
//!   without boards gets `items: []`.
//! - No revocation endpoint.
//! - The API Sandbox `api-sandbox.pinterest.com` serves the same v5 API (profile, boards, Pins,
//!   media, analytics) with the same tokens. An app on Trial access (`SandboxConfig::
//!   unaudited_apps` contains `pinterest`; every new app starts there) may not create Pins on
//!   `api.pinterest.com`: `POST /v5/pins` there answers 403 `{"code":29,"message":"Apps with
//!   Trial access may not create Pins in production https://api.pinterest.com - use API Sandbox
//!   https://api-sandbox.pinterest.com instead."}` (the answer quoted in
//!   gitroomhq/postiz-app#1084, November 2025; the access-tiers page
//!   <https://developers.pinterest.com/docs/key-concepts/access-tiers> still describes the older
//!   rule, Trial Pins "visible only to creator"). On the sandbox host it creates the Pin.
//!
//! Publishing (scopes `pins:write` and `boards:read`; analytics `pins:read`), limited to
//! [`REQUESTS_PER_SECOND`] requests per second per user (standard tier) with
//! `x-ratelimit-limit/remaining/reset` headers and 429 `{"code":8,…}` beyond:
//! - `POST /v5/pins` → 201 the Pin; see [`create_pin`] for the checks.
//! - Video: `POST /v5/media {"media_type":"video"}` → `{media_id, upload_url,
//!   upload_parameters}`; multipart `POST` of the parameters and `file` to `upload_url` (served
//!   by the sandbox) → 204; `GET /v5/media/{id}` `registered → processing → succeeded`, or
//!   `failed` for a file of [`FAILING_FILE_BYTES`] bytes.
//! - Metrics: `GET /v5/pins/{id}/analytics?start_date&end_date&metric_types=…`.
//! - A board's Pins: `GET /v5/boards/{board_id}/pins?page_size=&bookmark=` (`pins:read`,
//!   `boards:read`), newest first, `bookmark` set while more pages follow.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use serde_json::{json, Value};

use crate::accounts::{self, Account};
use crate::consent::{self, no_check, AuthorizeRules, ErrorPage, ErrorStyle, PageError, PkceRule};
use crate::http::{self, json, token_json, with_header, Basic, Req};
use crate::state::{
    grown_metric, ClientCheck, Endpoint, Issued, PublishedItem, RefreshLifetime, Shared, TokenKind,
};

const ID: &str = "pinterest";
/// Access token lifetime in seconds (30 days).
const ACCESS_TTL: i64 = 2_592_000;
/// Refresh token lifetime in seconds (365 days).
const REFRESH_TTL: i64 = 31_536_000;

pub(crate) static AUTHORIZE: AuthorizeRules = AuthorizeRules {
    platform: ID,
    display_name: "Pinterest",
    brand_color: "#e60023",
    client_param: "client_id",
    scope_separators: &[','],
    default_scopes: &[],
    known_scopes: &[
        "ads:read",
        "ads:write",
        "boards:read",
        "boards:read_secret",
        "boards:write",
        "boards:write_secret",
        "catalogs:read",
        "catalogs:write",
        "pins:read",
        "pins:read_secret",
        "pins:write",
        "pins:write_secret",
        "user_accounts:read",
    ],
    scope_error: "invalid_scope",
    request_errors: ErrorStyle::Redirect,
    pkce: PkceRule::Ignored,
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
    let message = match e {
        PageError::MissingClient | PageError::ClientIdNotClientKey => {
            "Missing client_id.".to_string()
        }
        PageError::UnknownClient(_) => "Invalid client_id: no app has this id.".to_string(),
        PageError::MissingRedirect => "Missing redirect_uri.".to_string(),
        PageError::RedirectMismatch(_) => {
            "Invalid redirect_uri: it does not match a redirect URI registered for the app."
                .to_string()
        }
        PageError::Request(p) => format!("{}: {}", p.error, p.description),
    };
    ErrorPage::new(400, "Oops! Something went wrong", message)
}

pub(crate) fn routes() -> Router<Arc<Shared>> {
    let mut r = Router::new()
        .route("/www.pinterest.com/oauth/", get(authorize).post(authorize))
        .route(&format!("/{API_HOST}/v5/oauth/token"), post(token));
    // The API Sandbox serves the same v5 API on its own host.
    for host in [API_HOST, SANDBOX_API_HOST] {
        r = r
            .route(&format!("/{host}/v5/user_account"), get(user_account))
            .route(&format!("/{host}/v5/boards"), get(boards))
            .merge(publishing_routes(host));
    }
    r.route(&format!("/{UPLOAD_HOST}/"), post(upload_file))
}

/// Pinterest's production API host.
const API_HOST: &str = "api.pinterest.com";
/// Pinterest's API Sandbox host: the same v5 API, where Pins are Sandbox entities visible only
/// to their creator, and the only host where apps on Trial access may create Pins
/// (<https://developers.pinterest.com/docs/developer-tools/sandbox/>).
pub(crate) const SANDBOX_API_HOST: &str = "api-sandbox.pinterest.com";

/// The API host this request was sent to ([`API_HOST`] or [`SANDBOX_API_HOST`]).
fn api_host(req: &Req) -> &'static str {
    if req.path.contains(&format!("/{SANDBOX_API_HOST}/")) {
        SANDBOX_API_HOST
    } else {
        API_HOST
    }
}

async fn authorize(State(sb): State<Arc<Shared>>, req: Req) -> Response {
    consent::authorize(&sb, &AUTHORIZE, req).await
}

fn error(status: u16, code: i64, message: &str) -> Response {
    token_json(status, json!({ "code": code, "message": message }))
}

fn auth_failed() -> Response {
    error(401, 2, "Authentication failed.")
}

fn invalid_grant() -> Response {
    error(400, 283, "The authorization grant is invalid")
}

/// HTTP Basic only.
fn authenticate(sb: &Shared, req: &Req) -> Result<String, Response> {
    match req.basic() {
        Basic::Credentials { id, secret } => match sb.check_client(ID, &id, &secret) {
            ClientCheck::Ok => Ok(id),
            _ => Err(auth_failed()),
        },
        Basic::Absent | Basic::Malformed => Err(auth_failed()),
    }
}

async fn token(State(sb): State<Arc<Shared>>, req: Req) -> Response {
    let endpoint = if req.param("grant_type") == Some("refresh_token") {
        Endpoint::Refresh
    } else {
        Endpoint::Token
    };
    http::run(&sb, ID, endpoint, || {
        let client_id = match authenticate(&sb, &req) {
            Ok(c) => c,
            Err(r) => return r,
        };
        match req.form.get("grant_type") {
            Some("authorization_code") => exchange(&sb, &req, &client_id),
            Some("refresh_token") => refresh_grant(&sb, &req, &client_id),
            None | Some("") => error(400, 1, "Missing grant_type"),
            Some(other) => error(400, 1, &format!("Unsupported grant_type: {other}")),
        }
    })
    .await
}

fn refresh_fields(body: &mut Value, refresh: &Issued, now: chrono::DateTime<chrono::Utc>) {
    body["refresh_token"] = Value::from(refresh.token.clone());
    body["refresh_token_expires_in"] = Value::from(refresh.expires_in(now));
    body["refresh_token_expires_at"] =
        Value::from(refresh.expires_at.map(|e| e.timestamp()).unwrap_or(0));
}

fn exchange(sb: &Shared, req: &Req, client_id: &str) -> Response {
    let Some(code) = req.form.get("code").filter(|c| !c.is_empty()) else {
        return error(400, 1, "Missing code");
    };
    let Some(redirect_uri) = req.form.get("redirect_uri") else {
        return error(400, 1, "Missing redirect_uri");
    };
    let now = sb.now();
    let mut d = sb.lock();
    let Ok(c) = d.redeem_code(ID, code, client_id, Some(redirect_uri), None, now) else {
        return invalid_grant();
    };
    let grant = d.new_grant(&c, now, RefreshLifetime::None);
    let access = d.issue(
        &grant,
        TokenKind::Access,
        Some(sb.access_ttl(ID, ACCESS_TTL)),
        false,
        now,
    );
    let refresh = d.issue(&grant, TokenKind::Refresh, Some(REFRESH_TTL), false, now);
    let mut body = json!({
        "access_token": access.token,
        "response_type": "authorization_code",
        "token_type": "bearer",
        "expires_in": access.expires_in(now),
        "scope": grant.scopes.join(","),
    });
    refresh_fields(&mut body, &refresh, now);
    token_json(200, body)
}

fn refresh_grant(sb: &Shared, req: &Req, client_id: &str) -> Response {
    let Some(token) = req.form.get("refresh_token").filter(|t| !t.is_empty()) else {
        return error(400, 1, "Missing refresh_token");
    };
    let continuous = req
        .form
        .get("refresh_on")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let now = sb.now();
    let mut d = sb.lock();
    // With refresh_on=true the old refresh token is replaced (and dies); without, it stays.
    let Ok(info) = d.use_refresh(ID, token, client_id, continuous, now) else {
        return invalid_grant();
    };
    let access = d.issue(
        &info.grant,
        TokenKind::Access,
        Some(sb.access_ttl(ID, ACCESS_TTL)),
        false,
        now,
    );
    let mut body = json!({
        "access_token": access.token,
        "response_type": if continuous { "everlasting_refresh" } else { "refresh_token" },
        "token_type": "bearer",
        "expires_in": access.expires_in(now),
        "scope": info.grant.scopes.join(","),
    });
    if continuous {
        let refresh = d.issue(
            &info.grant,
            TokenKind::Refresh,
            Some(REFRESH_TTL),
            false,
            now,
        );
        refresh_fields(&mut body, &refresh, now);
    }
    token_json(200, body)
}

async fn user_account(State(sb): State<Arc<Shared>>, req: Req) -> Response {
    http::run(&sb, ID, Endpoint::Profile, || {
        let unauthorized = || json(401, json!({ "code": 2, "message": "Authentication failed." }));
        let Some(token) = req.bearer() else {
            return unauthorized();
        };
        let Ok(info) = sb.lock().check_access(ID, token, sb.now()) else {
            return unauthorized();
        };
        if !info.grant.scopes.iter().any(|s| s == "user_accounts:read") {
            return json(
                403,
                json!({
                    "code": 1,
                    "message": "Not authorized to access the user_account: missing scope user_accounts:read.",
                }),
            );
        }
        let a = info.grant.account;
        let business = a.account_type == Some("BUSINESS");
        json(
            200,
            json!({
                "account_type": a.account_type.unwrap_or("PINNER"),
                "id": a.user_id,
                "profile_image": format!(
                    "{}/__sandbox/avatars/{}.svg",
                    req.sandbox_base(api_host(&req)),
                    a.id
                ),
                "website_url": if business { Value::from("https://bakery.sandbox.example") } else { Value::Null },
                "username": a.handle,
                "business_name": if business { Value::from(a.name) } else { Value::Null },
                "board_count": a.boards.len(),
                "pin_count": a.boards.len() * 12,
                "follower_count": 512,
                "following_count": 64,
                "monthly_views": 20480,
            }),
        )
    })
    .await
}

async fn boards(State(sb): State<Arc<Shared>>, req: Req) -> Response {
    http::run(&sb, ID, Endpoint::Profile, || {
        let unauthorized = || {
            json(
                401,
                json!({ "code": 2, "message": "Authentication failed." }),
            )
        };
        let Some(token) = req.bearer() else {
            return unauthorized();
        };
        let Ok(info) = sb.lock().check_access(ID, token, sb.now()) else {
            return unauthorized();
        };
        if !info.grant.scopes.iter().any(|s| s == "boards:read") {
            return json(
                403,
                json!({
                    "code": 1,
                    "message": "Not authorized to access the boards: missing scope boards:read.",
                }),
            );
        }
        let page_size = match req.query.get("page_size").map(str::parse::<usize>) {
            None => 25,
            Some(Ok(n)) if (1..=250).contains(&n) => n,
            Some(_) => {
                return json(
                    400,
                    json!({ "code": 1, "message": "page_size must be between 1 and 250." }),
                )
            }
        };
        let start = match req.query.get("bookmark").map(str::parse::<usize>) {
            None => 0,
            Some(Ok(n)) => n,
            Some(Err(_)) => return json(400, json!({ "code": 1, "message": "Invalid bookmark." })),
        };
        let a = info.grant.account;
        let items: Vec<Value> = a
            .boards
            .iter()
            .skip(start)
            .take(page_size)
            .map(|b| {
                json!({
                    "id": b.id,
                    "name": b.name,
                    "description": "",
                    "owner": { "username": a.handle },
                    "privacy": b.privacy,
                    "created_at": "2020-01-01T00:00:00",
                    "board_pins_modified_at": "2024-01-01T00:00:00",
                    "pin_count": 12,
                    "follower_count": 32,
                    "collaborator_count": 0,
                })
            })
            .collect();
        let next = start + items.len();
        let bookmark = if next < a.boards.len() {
            Value::from(next.to_string())
        } else {
            Value::Null
        };
        json(200, json!({ "items": items, "bookmark": bookmark }))
    })
    .await
}

// ---- publishing (PLATFORMS.md §7 "Publish image", "Publish video", "Limits", "Rate limits") ----

/// Most characters of a Pin's title.
const MAX_TITLE_CHARS: usize = 100;
/// Most characters of a Pin's description (and of its `alt_text`).
const MAX_DESCRIPTION_CHARS: usize = 500;
/// Standard access tier: requests per second per user per app on the publishing endpoints.
pub(crate) const REQUESTS_PER_SECOND: usize = 100;
/// Images in a `multiple_image_urls` Pin.
const MULTI_IMAGE_RANGE: std::ops::RangeInclusive<usize> = 2..=5;
/// An uploaded video file of exactly this many bytes ends `failed` (the sandbox's bad video).
pub(crate) const FAILING_FILE_BYTES: usize = 666;
/// Most days one analytics read may cover.
const MAX_ANALYTICS_DAYS: i64 = 90;
/// The host segment of the sandbox's stand-in for Pinterest's S3 upload URL.
const UPLOAD_HOST: &str = "pinterest-media-upload.s3-accelerate.amazonaws.com";

#[derive(Debug, Clone)]
struct MediaUpload {
    owner: String,
    signature: String,
    /// Size of the uploaded file, once uploaded.
    uploaded: Option<usize>,
    uploaded_at: Option<DateTime<Utc>>,
    /// Status reads since the upload.
    polls: u32,
}

impl MediaUpload {
    /// `registered` until the file arrives, then `processing` for one read (or 10 s of sandbox
    /// time), then `succeeded`, or `failed` for a file of [`FAILING_FILE_BYTES`].
    fn status(&self, now: DateTime<Utc>) -> &'static str {
        match (self.uploaded, self.uploaded_at) {
            (Some(n), Some(at)) => {
                if self.polls == 0 && (now - at).num_seconds() < 10 {
                    "processing"
                } else if n == FAILING_FILE_BYTES {
                    "failed"
                } else {
                    "succeeded"
                }
            }
            _ => "registered",
        }
    }
}

#[derive(Debug, Clone)]
struct Pin {
    owner: String,
    created_at: DateTime<Utc>,
    board_id: String,
    title: String,
    description: String,
}

/// Pinterest's publishing state.
#[derive(Default)]
struct PinState {
    next_id: u64,
    media: HashMap<String, MediaUpload>,
    pins: HashMap<String, Pin>,
    /// Recent request instants per user, for the per-second limit.
    requests: HashMap<String, VecDeque<DateTime<Utc>>>,
}

impl PinState {
    fn new_id(&mut self, base: u64) -> String {
        self.next_id += 1;
        (base + self.next_id).to_string()
    }
}

/// Pinterest's error code for a Pin created in production by an app on Trial access.
pub(crate) const TRIAL_CODE: i64 = 29;
/// Pinterest's message with [`TRIAL_CODE`], word for word.
pub(crate) const TRIAL_MESSAGE: &str = "Apps with Trial access may not create Pins in production \
     https://api.pinterest.com - use API Sandbox https://api-sandbox.pinterest.com instead.";

fn pin_error(status: u16, code: i64, message: &str) -> Response {
    json(status, json!({ "code": code, "message": message }))
}

/// The account behind the bearer token, after the per-second rate limit, when the token is
/// valid and has every scope in `scopes`. Adds nothing to the response: see [`with_limits`].
fn pinner(sb: &Shared, req: &Req, scopes: &[&str]) -> Result<(&'static Account, usize), Response> {
    let Some(token) = req.bearer() else {
        return Err(pin_error(401, 2, "Authentication failed."));
    };
    let now = sb.now();
    let mut d = sb.lock();
    let Ok(info) = d.check_access(ID, token, now) else {
        return Err(pin_error(401, 2, "Authentication failed."));
    };
    let account = info.grant.account;
    let window = d
        .platform_state::<PinState>()
        .requests
        .entry(account.user_id.to_string())
        .or_default();
    while window
        .front()
        .is_some_and(|t| *t <= now - Duration::seconds(1))
    {
        window.pop_front();
    }
    if window.len() >= REQUESTS_PER_SECOND {
        return Err(with_limits(
            pin_error(
                429,
                8,
                "You have exceeded your rate limit. Try again later.",
            ),
            0,
        ));
    }
    window.push_back(now);
    let remaining = REQUESTS_PER_SECOND - window.len();
    if let Some(missing) = scopes
        .iter()
        .find(|s| !info.grant.scopes.iter().any(|g| g == *s))
    {
        return Err(pin_error(
            403,
            3,
            &format!("Not authorized to access this resource: missing scope {missing}."),
        ));
    }
    Ok((account, remaining))
}

/// Adds `x-ratelimit-limit`, `x-ratelimit-remaining` and `x-ratelimit-reset` (seconds until
/// the one-second window renews).
fn with_limits(r: Response, remaining: usize) -> Response {
    let r = with_header(r, "x-ratelimit-limit", &REQUESTS_PER_SECOND.to_string());
    let r = with_header(r, "x-ratelimit-remaining", &remaining.to_string());
    with_header(r, "x-ratelimit-reset", "1")
}

fn publishing_routes(host: &str) -> Router<Arc<Shared>> {
    Router::new()
        .route(&format!("/{host}/v5/pins"), post(create_pin))
        .route(
            &format!("/{host}/v5/pins/{{id}}/analytics"),
            get(pin_analytics),
        )
        .route(
            &format!("/{host}/v5/boards/{{board_id}}/pins"),
            get(board_pins),
        )
        .route(&format!("/{host}/v5/media"), post(register_media))
        .route(&format!("/{host}/v5/media/{{id}}"), get(read_media))
}

fn too_long(field: &str, max: usize, text: &str) -> Option<Response> {
    let n = text.chars().count();
    (n > max).then(|| {
        pin_error(
            400,
            1,
            &format!("Invalid request: {field} is {n} characters, at most {max} are allowed."),
        )
    })
}

fn http_url(v: &Value) -> Option<String> {
    let s = v.as_str()?;
    url::Url::parse(s)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .map(|_| s.to_string())
}

/// Checks a `media_source`; its kind (`image`, `multiple_images`, `video`) and media.
fn media_source(
    st: &PinState,
    owner: &str,
    src: &Value,
    now: DateTime<Utc>,
) -> Result<(&'static str, Vec<String>), Response> {
    let bad = |m: &str| pin_error(400, 1, &format!("Invalid request: media_source: {m}"));
    match src["source_type"].as_str() {
        Some("image_url") => http_url(&src["url"])
            .map(|u| ("image", vec![u]))
            .ok_or_else(|| bad("url must be an http(s) URL")),
        Some("image_base64") => {
            let ct = src["content_type"].as_str().unwrap_or_default();
            if !["image/jpeg", "image/png"].contains(&ct) {
                return Err(bad("content_type must be image/jpeg or image/png"));
            }
            match src["data"].as_str().map(|d| STANDARD.decode(d)) {
                Some(Ok(bytes)) if !bytes.is_empty() => {
                    Ok(("image", vec![format!("base64:{} bytes", bytes.len())]))
                }
                _ => Err(bad("data must be base64-encoded image bytes")),
            }
        }
        Some("multiple_image_urls") => {
            let items = src["items"].as_array().cloned().unwrap_or_default();
            if !MULTI_IMAGE_RANGE.contains(&items.len()) {
                return Err(bad("items must hold 2 to 5 images"));
            }
            let urls: Option<Vec<String>> = items.iter().map(|i| http_url(&i["url"])).collect();
            urls.map(|u| ("multiple_images", u))
                .ok_or_else(|| bad("every item needs an http(s) url"))
        }
        Some("video_id") => {
            let id = src["media_id"].as_str().unwrap_or_default();
            // Pinterest's OpenAPI `PinMediaSourceVideoID`: the cover is `cover_image_url` or
            // `cover_image_key_frame_time` (seconds).
            if src["cover_image_url"].is_null() && src["cover_image_key_frame_time"].is_null() {
                return Err(bad(
                    "a video Pin needs cover_image_url or cover_image_key_frame_time",
                ));
            }
            match st.media.get(id).filter(|m| m.owner == owner) {
                Some(m) if m.status(now) == "succeeded" => Ok(("video", vec![id.to_string()])),
                Some(m) => Err(bad(&format!(
                    "media {id} is {}, not succeeded",
                    m.status(now)
                ))),
                None => Err(bad(&format!("media {id} not found"))),
            }
        }
        _ => Err(bad(
            "source_type must be image_url, image_base64, multiple_image_urls or video_id",
        )),
    }
}

/// `POST /v5/pins {board_id, title?, description?, link?, alt_text?, media_source}` → 201 the
/// Pin. The board must be one of the token's account's boards (another account's board → 403,
/// an unknown one → 404); title ≤ 100, description and alt_text ≤ 500 characters (else 400).
async fn create_pin(State(sb): State<Arc<Shared>>, req: Req) -> Response {
    http::run(&sb, ID, Endpoint::Publish, || {
        let (account, remaining) = match pinner(&sb, &req, &["pins:write", "boards:read"]) {
            Ok(a) => a,
            Err(r) => return r,
        };
        let now = sb.now();
        let answer = (|| {
            if sb.config.unaudited_apps.contains(ID) && api_host(&req) == API_HOST {
                // Trial access: Pins only in the API Sandbox (the answer Pinterest gives,
                // quoted in gitroomhq/postiz-app#1084).
                return pin_error(403, TRIAL_CODE, TRIAL_MESSAGE);
            }
            let body: Value = match serde_json::from_slice(&req.body) {
                Ok(v @ Value::Object(_)) => v,
                _ => return pin_error(400, 1, "Invalid request: the body is not a JSON object."),
            };
            let Some(board_id) = body["board_id"].as_str() else {
                return pin_error(400, 1, "Invalid request: board_id is required.");
            };
            let Some(board) = account.boards.iter().find(|b| b.id == board_id) else {
                let someone_elses = accounts::for_platform(ID)
                    .any(|a| a.boards.iter().any(|b| b.id == board_id));
                return if someone_elses {
                    pin_error(403, 3, "You do not have permission to pin to this board.")
                } else {
                    pin_error(404, 4, "Board not found.")
                };
            };
            let text = |f: &str| body[f].as_str().unwrap_or_default().to_string();
            let (title, description, alt_text) = (text("title"), text("description"), text("alt_text"));
            if let Some(r) = too_long("title", MAX_TITLE_CHARS, &title)
                .or_else(|| too_long("description", MAX_DESCRIPTION_CHARS, &description))
                .or_else(|| too_long("alt_text", MAX_DESCRIPTION_CHARS, &alt_text))
            {
                return r;
            }
            let link = match &body["link"] {
                Value::Null => None,
                v => match http_url(v) {
                    Some(u) => Some(u),
                    None => return pin_error(400, 1, "Invalid request: link must be an http(s) URL."),
                },
            };
            let mut d = sb.lock();
            let st = d.platform_state::<PinState>();
            let (kind, media) = match media_source(st, account.user_id, &body["media_source"], now) {
                Ok(m) => m,
                Err(r) => return r,
            };
            let id = st.new_id(1_150_000_000_100_000_000);
            st.pins.insert(
                id.clone(),
                Pin {
                    owner: account.user_id.to_string(),
                    created_at: now,
                    board_id: board.id.to_string(),
                    title: title.clone(),
                    description: description.clone(),
                },
            );
            d.record_published(PublishedItem {
                id: id.clone(),
                platform: ID,
                account_id: account.user_id.to_string(),
                kind: "pin".to_string(),
                text: if title.is_empty() { description.clone() } else { title.clone() },
                media,
                published_at: now,
            });
            json(
                201,
                json!({
                    "id": id,
                    "created_at": now.format("%Y-%m-%dT%H:%M:%S").to_string(),
                    "link": link,
                    "title": title,
                    "description": description,
                    "alt_text": if alt_text.is_empty() { Value::Null } else { Value::from(alt_text) },
                    "board_id": board.id,
                    "board_section_id": Value::Null,
                    "board_owner": { "username": account.handle },
                    "is_owner": true,
                    "media": { "media_type": kind },
                    "parent_pin_id": Value::Null,
                }),
            )
        })();
        with_limits(answer, remaining)
    })
    .await
}

/// `GET /v5/boards/{board_id}/pins?page_size=` (1–250, default 25) → `{"items":[{id,
/// created_at, title, description, board_id}], "bookmark": null}`, newest first. The board must
/// be the token's account's (another account's → 403, unknown → 404). A read (`metrics`).
async fn board_pins(
    State(sb): State<Arc<Shared>>,
    Path(board_id): Path<String>,
    req: Req,
) -> Response {
    http::run(&sb, ID, Endpoint::Metrics, || {
        let (account, remaining) = match pinner(&sb, &req, &["pins:read", "boards:read"]) {
            Ok(a) => a,
            Err(r) => return r,
        };
        let answer = (|| {
            if !account.boards.iter().any(|b| b.id == board_id) {
                let someone_elses =
                    accounts::for_platform(ID).any(|a| a.boards.iter().any(|b| b.id == board_id));
                return if someone_elses {
                    pin_error(403, 3, "You do not have permission to read this board.")
                } else {
                    pin_error(404, 4, "Board not found.")
                };
            }
            let size = match req.query.get("page_size").map(str::parse::<usize>) {
                None => 25,
                Some(Ok(n)) if (1..=250).contains(&n) => n,
                Some(_) => {
                    return pin_error(400, 1, "Invalid request: page_size must be 1 to 250.")
                }
            };
            let mut d = sb.lock();
            let st = d.platform_state::<PinState>();
            let mut pins: Vec<(&String, &Pin)> = st
                .pins
                .iter()
                .filter(|(_, p)| p.board_id == board_id && p.owner == account.user_id)
                .collect();
            pins.sort_by(|a, b| b.1.created_at.cmp(&a.1.created_at).then(b.0.cmp(a.0)));
            // `bookmark` (the previous page's answer): an offset here.
            let start = match req.query.get("bookmark").map(str::parse::<usize>) {
                None => 0,
                Some(Ok(n)) => n,
                Some(Err(_)) => return pin_error(400, 1, "Invalid bookmark."),
            };
            let bookmark = (pins.len() > start + size).then(|| (start + size).to_string());
            let items: Vec<Value> = pins
                .into_iter()
                .skip(start)
                .take(size)
                .map(|(id, p)| {
                    json!({
                        "id": id,
                        "created_at": p.created_at.format("%Y-%m-%dT%H:%M:%S").to_string(),
                        "title": p.title,
                        "description": p.description,
                        "board_id": p.board_id,
                    })
                })
                .collect();
            json(200, json!({ "items": items, "bookmark": bookmark }))
        })();
        with_limits(answer, remaining)
    })
    .await
}

/// `POST /v5/media {"media_type":"video"}` → 201 `{media_id, media_type, upload_url,
/// upload_parameters}`: `POST` the parameters plus `file` (multipart) to `upload_url`, which
/// the sandbox serves itself.
async fn register_media(State(sb): State<Arc<Shared>>, req: Req) -> Response {
    http::run(&sb, ID, Endpoint::Upload, || {
        let (account, remaining) = match pinner(&sb, &req, &["pins:write"]) {
            Ok(a) => a,
            Err(r) => return r,
        };
        let now = sb.now();
        let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        if body["media_type"].as_str() != Some("video") {
            return with_limits(
                pin_error(400, 1, "Invalid request: media_type must be video."),
                remaining,
            );
        }
        let mut d = sb.lock();
        let st = d.platform_state::<PinState>();
        let id = st.new_id(5_000_000_000_000_000_000);
        let signature = http::random_b64(24);
        st.media.insert(
            id.clone(),
            MediaUpload {
                owner: account.user_id.to_string(),
                signature: signature.clone(),
                uploaded: None,
                uploaded_at: None,
                polls: 0,
            },
        );
        let r = json(
            201,
            json!({
                "media_id": id,
                "media_type": "video",
                "upload_url": format!("{}/{UPLOAD_HOST}/", req.sandbox_base(api_host(&req))),
                "upload_parameters": {
                    "x-amz-date": now.format("%Y%m%dT%H%M%SZ").to_string(),
                    "x-amz-signature": signature,
                    "x-amz-security-token": http::random_b64(16),
                    "x-amz-algorithm": "AWS4-HMAC-SHA256",
                    "key": format!("uploads/{id}.mp4"),
                    "policy": http::random_b64(32),
                    "x-amz-credential": "SANDBOX/pinterest/s3/aws4_request",
                    "Content-Type": "multipart/form-data",
                },
            }),
        );
        with_limits(r, remaining)
    })
    .await
}

/// The upload URL: multipart `POST` of the `upload_parameters` and `file` → 204, as S3
/// answers. A wrong `key` or `x-amz-signature` gets S3's 403.
async fn upload_file(State(sb): State<Arc<Shared>>, req: Req) -> Response {
    http::run(&sb, ID, Endpoint::Upload, || {
        let forbidden = || {
            let mut r = http::empty(403);
            *r.body_mut() = axum::body::Body::from(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>AccessDenied</Code>\
                 <Message>Invalid according to Policy</Message></Error>",
            );
            with_header(r, "content-type", "application/xml")
        };
        let key = req.form.get("key").unwrap_or_default();
        let Some(id) = key
            .strip_prefix("uploads/")
            .and_then(|k| k.strip_suffix(".mp4"))
        else {
            return forbidden();
        };
        let now = sb.now();
        let mut d = sb.lock();
        let Some(m) = d.platform_state::<PinState>().media.get_mut(id) else {
            return forbidden();
        };
        if !http::same(
            &m.signature,
            req.form.get("x-amz-signature").unwrap_or_default(),
        ) {
            return forbidden();
        }
        match http::multipart_part(&req, "file") {
            Some(bytes) if !bytes.is_empty() => {
                if m.uploaded.is_none() {
                    m.uploaded = Some(bytes.len());
                    m.uploaded_at = Some(now);
                }
                http::empty(204)
            }
            _ => {
                let mut r = http::empty(400);
                *r.body_mut() = axum::body::Body::from(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>InvalidArgument</Code>\
                     <Message>POST requires exactly one file upload per request.</Message></Error>",
                );
                with_header(r, "content-type", "application/xml")
            }
        }
    })
    .await
}

/// `GET /v5/media/{id}` → `{media_id, media_type, status}`, `registered → processing →
/// succeeded|failed`.
async fn read_media(State(sb): State<Arc<Shared>>, Path(id): Path<String>, req: Req) -> Response {
    http::run(&sb, ID, Endpoint::Upload, || {
        let (account, remaining) = match pinner(&sb, &req, &["pins:write"]) {
            Ok(a) => a,
            Err(r) => return r,
        };
        let now = sb.now();
        let mut d = sb.lock();
        let answer = match d
            .platform_state::<PinState>()
            .media
            .get_mut(&id)
            .filter(|m| m.owner == account.user_id)
        {
            Some(m) => {
                let status = m.status(now);
                if m.uploaded.is_some() {
                    m.polls = m.polls.saturating_add(1);
                }
                json(
                    200,
                    json!({ "media_id": id, "media_type": "video", "status": status }),
                )
            }
            None => pin_error(404, 4, "Media not found."),
        };
        with_limits(answer, remaining)
    })
    .await
}

/// `GET /v5/pins/{id}/analytics?start_date&end_date&metric_types=IMPRESSION,SAVE,PIN_CLICK,
/// OUTBOUND_CLICK` (`pins:read`) → `{"all":{daily_metrics:[{date, data_status, metrics}],
/// summary_metrics, lifetime_metrics}}`. Dates are `YYYY-MM-DD` (UTC), at most 90 days apart;
/// figures grow with sandbox time since the Pin was created.
async fn pin_analytics(
    State(sb): State<Arc<Shared>>,
    Path(id): Path<String>,
    req: Req,
) -> Response {
    http::run(&sb, ID, Endpoint::Metrics, || {
        let (account, remaining) = match pinner(&sb, &req, &["pins:read"]) {
            Ok(a) => a,
            Err(r) => return r,
        };
        let now = sb.now();
        let answer = analytics(&sb, &req, &id, account, now);
        with_limits(answer, remaining)
    })
    .await
}

fn analytics(sb: &Shared, req: &Req, id: &str, account: &Account, now: DateTime<Utc>) -> Response {
    let date = |name: &str| {
        req.query
            .get(name)
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
    };
    let (Some(start), Some(end)) = (date("start_date"), date("end_date")) else {
        return pin_error(
            400,
            1,
            "Invalid request: start_date and end_date (YYYY-MM-DD) are required.",
        );
    };
    if end < start || (end - start).num_days() >= MAX_ANALYTICS_DAYS {
        return pin_error(
            400,
            1,
            "Invalid request: end_date must be on or after start_date, at most 90 days later.",
        );
    }
    let metrics: Vec<String> = req
        .query
        .get("metric_types")
        .unwrap_or("IMPRESSION,SAVE,PIN_CLICK,OUTBOUND_CLICK")
        .split(',')
        .map(|m| m.trim().to_string())
        .filter(|m| !m.is_empty())
        .collect();
    let rate = |m: &str| match m {
        "IMPRESSION" => Some(500),
        "SAVE" => Some(12),
        "PIN_CLICK" => Some(30),
        "OUTBOUND_CLICK" => Some(15),
        _ => None,
    };
    if let Some(bad) = metrics.iter().find(|m| rate(m).is_none()) {
        return pin_error(
            400,
            1,
            &format!("Invalid request: unknown metric type {bad}."),
        );
    }
    let mut d = sb.lock();
    let Some(pin) = d
        .platform_state::<PinState>()
        .pins
        .get(id)
        .filter(|p| p.owner == account.user_id)
        .cloned()
    else {
        return pin_error(404, 4, "Pin not found.");
    };
    // Cumulative figure at an instant (0 before the Pin existed).
    let at = |m: &str, t: DateTime<Utc>| {
        let t = t.min(now);
        grown_metric(
            id,
            m,
            (t - pin.created_at).num_seconds(),
            rate(m).unwrap_or(1),
        )
    };
    let mut daily = Vec::new();
    let mut summary = serde_json::Map::new();
    let mut day = start;
    while day <= end {
        let from = day.and_time(NaiveTime::MIN).and_utc();
        let to = from + Duration::days(1);
        let mut values = serde_json::Map::new();
        for m in &metrics {
            let v = at(m, to).saturating_sub(at(m, from));
            values.insert(m.clone(), Value::from(v));
            let sum = summary.get(m).and_then(Value::as_u64).unwrap_or(0) + v;
            summary.insert(m.clone(), Value::from(sum));
        }
        // Pinterest's `DataStatus` enum: a day not over yet is still `PROCESSING`, a day
        // before the Pin existed `BEFORE_PIN_CREATED`.
        let status = if from > now {
            "PROCESSING"
        } else if to <= pin.created_at {
            "BEFORE_PIN_CREATED"
        } else {
            "READY"
        };
        daily.push(json!({ "date": day.to_string(), "data_status": status, "metrics": values }));
        day += Duration::days(1);
    }
    let lifetime: serde_json::Map<String, Value> = metrics
        .iter()
        .map(|m| (m.clone(), Value::from(at(m, now))))
        .collect();
    json(
        200,
        json!({ "all": {
            "daily_metrics": daily,
            "summary_metrics": summary,
            "lifetime_metrics": lifetime,
        }}),
    )
}
