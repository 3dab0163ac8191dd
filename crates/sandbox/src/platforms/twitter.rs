//! X (Twitter) API v2, OAuth 2.0 authorization code flow with PKCE. PLATFORMS.md §1.
//!
//! - Authorize `x.com/i/oauth2/authorize` (alias `twitter.com`): `code_challenge` required
//!   (`S256` or `plain`), `state` required (≤ 500 characters), scopes separated by spaces.
//! - The authorization code lives **30 seconds**.
//! - Token `POST api.x.com/2/oauth2/token` (alias `api.twitter.com`): confidential clients must
//!   authenticate with HTTP Basic, else 401 `unauthorized_client` "Missing valid authorization
//!   header"; public clients (empty secret) send `client_id` in the body. `code_verifier` is
//!   checked.
//! - Access tokens last 7200 s. A refresh token comes only with `offline.access`; every refresh
//!   returns a new one and kills the old (rotation); a replay gets 400 `invalid_request` "Value
//!   passed for the token was invalid.".
//! - Revoke `POST api.x.com/2/oauth2/revoke` → `{"revoked":true}`.
//! - Profile `GET api.x.com/2/users/me` → `{"data":{id,name,username[,profile_image_url]}}`;
//!   `profile_image_url` only when asked for with `user.fields`. Bad tokens get X's 401 problem
//!   document.
//!
//! Publishing (scopes `tweet.read tweet.write users.read`; media `media.write`):
//! - `POST /2/tweets {text, media?:{media_ids}}` → 201 `{"data":{"id","text"}}`, where `text` is
//!   what X stores ([`x_rendition`]): every URL twitter-text finds (with or without a protocol)
//!   wrapped in a `https://t.co/…` link, `&`, `<`, `>` HTML-escaped, and a t.co link to the
//!   attached media appended; the original links are in `entities.urls[].expanded_url`. With
//!   `x-rate-limit-*` (15-minute window) and `x-user-limit-24hour-*` headers; 429 once
//!   [`USER_24H_POST_LIMIT`] posts were created in 24 h. Over 280 weighted characters → 403
//!   problem; the same text as one of the account's posts of the last 24 h → 403
//!   `…/problems/duplicate`; media that is not `succeeded` (or not the user's) → 400
//!   invalid-request "Your media IDs are invalid.".
//! - `POST /2/media/upload` (multipart `media`): images ≤ 5 MB, usable at once.
//!   `POST /2/media/upload/initialize` → `append` (multipart `segment_index`, `media`) →
//!   `finalize` (videos and GIFs get `processing_info {state:"pending"}`), then
//!   `GET /2/media/upload?command=STATUS&media_id=` moves one step per poll (or per 5 s of
//!   sandbox time): `pending → in_progress → succeeded`, or `failed` for a media of exactly
//!   [`FAILING_TOTAL_BYTES`] bytes. Sandbox only: the STATUS answer's `sandbox_sha256` is the
//!   SHA-256 (hex) of the bytes received as segments 0, 1, 2… each appended in order (`null`
//!   once a segment came out of order), so tests can check a chunked upload byte for byte.
//! - Pay-per-use billing (<https://docs.x.com/x-api/getting-started/pricing>), off unless set:
//!   `POST /__sandbox/x/billing {"balance_micros"?, "post_read_cap"?, "post_reads"?}` (`null`
//!   turns a limit off; `GET` shows the state). With a balance (micro-dollars), creating a post
//!   costs [`CREATE_POST_MICROS`] ([`CREATE_POST_WITH_URL_MICROS`] with a link) and each post a
//!   read returns [`POST_READ_MICROS`]; a call the balance cannot pay gets X's 402
//!   `CreditsDepleted` problem. With a cap, a read once `post_read_cap` posts were read gets
//!   X's 429 `UsageCapExceeded` problem (monthly product cap).
//! - `GET /2/tweets/{id}?tweet.fields=public_metrics` → `public_metrics {retweet_count,
//!   reply_count, like_count, quote_count, bookmark_count, impression_count}`, growing with
//!   sandbox time.
//!   `tweet.fields=entities` adds `entities.urls[{start,end,url,expanded_url,display_url,
//!   media_key?}]` (here and in the timeline), `attachments` adds `attachments.media_keys`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::consent::{self, no_check, AuthorizeRules, ErrorPage, ErrorStyle, PageError, PkceRule};
use crate::http::{self, json, token_json, with_header, Basic, Req};
use crate::state::{
    grown_metric, CodeError, Endpoint, PublishedItem, RefreshLifetime, Shared, TokenKind,
};

const ID: &str = "twitter";
/// Access token lifetime in seconds.
const ACCESS_TTL: i64 = 7200;

pub(crate) static AUTHORIZE: AuthorizeRules = AuthorizeRules {
    platform: ID,
    display_name: "X",
    brand_color: "#000000",
    client_param: "client_id",
    scope_separators: &[' '],
    default_scopes: &[],
    known_scopes: &[
        "tweet.read",
        "tweet.write",
        "tweet.moderate.write",
        "users.read",
        "users.email",
        "follows.read",
        "follows.write",
        "offline.access",
        "space.read",
        "mute.read",
        "mute.write",
        "like.read",
        "like.write",
        "list.read",
        "list.write",
        "block.read",
        "block.write",
        "bookmark.read",
        "bookmark.write",
        "media.write",
        "dm.read",
        "dm.write",
    ],
    scope_error: "invalid_scope",
    request_errors: ErrorStyle::Redirect,
    pkce: PkceRule::Required(&["S256", "plain"]),
    state_required: true,
    max_state_len: Some(500),
    response_type_optional: false,
    code_ttl_secs: 30,
    fragment: "",
    deny_description: "The user denied the authorization request.",
    deny_extra: &[],
    page: error_page,
    check: no_check,
};

fn error_page(e: &PageError) -> ErrorPage {
    let detail = match e {
        PageError::MissingClient | PageError::ClientIdNotClientKey => {
            "client_id is missing.".to_string()
        }
        PageError::UnknownClient(c) => format!("The client_id {c} is not a registered App."),
        PageError::MissingRedirect => "redirect_uri is missing.".to_string(),
        PageError::RedirectMismatch(r) => {
            format!("The redirect_uri {r} does not match a callback URL registered for this App.")
        }
        PageError::Request(p) => format!("{}: {}", p.error, p.description),
    };
    ErrorPage::new(
        400,
        "Something went wrong",
        format!("You weren't able to give access to the App. Go back and try logging in again. ({detail})"),
    )
}

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/x.com/i/oauth2/authorize", get(authorize).post(authorize))
        .route(
            "/twitter.com/i/oauth2/authorize",
            get(authorize).post(authorize),
        )
        .route("/api.x.com/2/oauth2/token", post(token))
        .route("/api.twitter.com/2/oauth2/token", post(token))
        .route("/api.x.com/2/oauth2/revoke", post(revoke))
        .route("/api.twitter.com/2/oauth2/revoke", post(revoke))
        .route("/api.x.com/2/users/me", get(me))
        .route("/api.twitter.com/2/users/me", get(me))
        .merge(publishing_routes())
        .route("/__sandbox/x/billing", get(billing).post(billing))
}

#[derive(Deserialize)]
struct BillingBody {
    #[serde(default, deserialize_with = "some_or_null")]
    balance_micros: Option<Option<u64>>,
    #[serde(default, deserialize_with = "some_or_null")]
    post_read_cap: Option<Option<u64>>,
    #[serde(default)]
    post_reads: Option<u64>,
}

/// A field given as `null` (`Some(None)`) apart from one left out (`None`).
fn some_or_null<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<u64>>, D::Error> {
    Option::<u64>::deserialize(d).map(Some)
}

/// `GET|POST /__sandbox/x/billing`: X's pay-per-use state of the app (see the module docs).
async fn billing(State(sb): State<Arc<Shared>>, req: Req) -> Response {
    let mut d = sb.lock();
    let b = &mut d.platform_state::<XState>().billing;
    if !req.body.is_empty() {
        let body: BillingBody = match serde_json::from_slice(&req.body) {
            Ok(b) => b,
            Err(e) => {
                return json(400, json!({ "error": format!("invalid JSON body: {e}") }));
            }
        };
        if let Some(v) = body.balance_micros {
            b.balance_micros = v;
        }
        if let Some(v) = body.post_read_cap {
            b.post_read_cap = v;
        }
        if let Some(v) = body.post_reads {
            b.post_reads = v;
        }
    }
    json(200, serde_json::to_value(&*b).unwrap_or_default())
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
        &format!("Missing required parameter [{param}]."),
    )
}

/// Client authentication: Basic for confidential clients, `client_id` in the body for public
/// ones. Returns the client id.
fn authenticate(sb: &Shared, req: &Req) -> Result<String, Response> {
    let unauthorized = || {
        oauth_error(
            401,
            "unauthorized_client",
            "Missing valid authorization header",
        )
    };
    let Some(client) = sb.client(ID) else {
        return Err(unauthorized());
    };
    match req.basic() {
        Basic::Credentials { id, secret } => {
            if id == client.client_id && http::same(&secret, &client.client_secret) {
                Ok(id)
            } else {
                Err(unauthorized())
            }
        }
        Basic::Malformed => Err(unauthorized()),
        Basic::Absent => {
            let public = client.client_secret.is_empty();
            match req.param("client_id") {
                Some(id) if public && id == client.client_id => Ok(id.to_string()),
                _ => Err(unauthorized()),
            }
        }
    }
}

async fn token(State(sb): State<Arc<Shared>>, req: Req) -> Response {
    let refresh = req.param("grant_type") == Some("refresh_token");
    let endpoint = if refresh {
        Endpoint::Refresh
    } else {
        Endpoint::Token
    };
    http::run(&sb, ID, endpoint, || {
        let client_id = match authenticate(&sb, &req) {
            Ok(c) => c,
            Err(r) => return r,
        };
        match req.param("grant_type") {
            Some("authorization_code") => exchange(&sb, &req, &client_id),
            Some("refresh_token") => refresh_grant(&sb, &req, &client_id),
            None | Some("") => missing("grant_type"),
            Some(_) => oauth_error(
                400,
                "invalid_request",
                "Value passed for the grant_type was invalid.",
            ),
        }
    })
    .await
}

fn token_body(access: &str, expires_in: i64, scopes: &[String], refresh: Option<&str>) -> Response {
    let mut body = json!({
        "token_type": "bearer",
        "expires_in": expires_in,
        "access_token": access,
        "scope": scopes.join(" "),
    });
    if let Some(r) = refresh {
        body["refresh_token"] = Value::from(r);
    }
    token_json(200, body)
}

fn exchange(sb: &Shared, req: &Req, client_id: &str) -> Response {
    let Some(code) = req.param("code") else {
        return missing("code");
    };
    let Some(redirect_uri) = req.param("redirect_uri") else {
        return missing("redirect_uri");
    };
    let Some(verifier) = req.param("code_verifier") else {
        return missing("code_verifier");
    };
    let now = sb.now();
    let mut d = sb.lock();
    let c = match d.redeem_code(ID, code, client_id, Some(redirect_uri), Some(verifier), now) {
        Ok(c) => c,
        Err(CodeError::VerifierMissing | CodeError::VerifierMismatch) => {
            return oauth_error(
                400,
                "invalid_request",
                "Value passed for the code verifier was invalid.",
            )
        }
        Err(_) => {
            return oauth_error(
                400,
                "invalid_request",
                "Value passed for the authorization code was invalid.",
            )
        }
    };
    let grant = d.new_grant(&c, now, RefreshLifetime::None);
    let ttl = sb.access_ttl(ID, ACCESS_TTL);
    let access = d.issue(&grant, TokenKind::Access, Some(ttl), false, now);
    let refresh = grant
        .scopes
        .iter()
        .any(|s| s == "offline.access")
        .then(|| d.issue(&grant, TokenKind::Refresh, None, false, now));
    token_body(
        &access.token,
        access.expires_in(now),
        &grant.scopes,
        refresh.as_ref().map(|r| r.token.as_str()),
    )
}

fn refresh_grant(sb: &Shared, req: &Req, client_id: &str) -> Response {
    let Some(token) = req.param("refresh_token") else {
        return missing("refresh_token");
    };
    let now = sb.now();
    let mut d = sb.lock();
    let info = match d.use_refresh(ID, token, client_id, true, now) {
        Ok(i) => i,
        Err(_) => {
            return oauth_error(
                400,
                "invalid_request",
                "Value passed for the token was invalid.",
            )
        }
    };
    let ttl = sb.access_ttl(ID, ACCESS_TTL);
    let access = d.issue(&info.grant, TokenKind::Access, Some(ttl), false, now);
    let refresh = d.issue(&info.grant, TokenKind::Refresh, None, false, now);
    token_body(
        &access.token,
        access.expires_in(now),
        &info.grant.scopes,
        Some(&refresh.token),
    )
}

async fn revoke(State(sb): State<Arc<Shared>>, req: Req) -> Response {
    http::run(&sb, ID, Endpoint::Revoke, || {
        let client_id = match authenticate(&sb, &req) {
            Ok(c) => c,
            Err(r) => return r,
        };
        let Some(token) = req.param("token") else {
            return missing("token");
        };
        let mut d = sb.lock();
        if let Some(g) = d.grant_of(ID, token, &client_id) {
            d.revoke_grant(g.id);
        }
        // RFC 7009 §2.2: unknown tokens are not an error.
        json(200, json!({ "revoked": true }))
    })
    .await
}

/// X's RFC 7807 problem document for a missing, invalid, expired or revoked bearer token.
fn unauthorized() -> Response {
    json(
        401,
        json!({
            "title": "Unauthorized",
            "type": "about:blank",
            "status": 401,
            "detail": "Unauthorized",
        }),
    )
}

async fn me(State(sb): State<Arc<Shared>>, req: Req) -> Response {
    http::run(&sb, ID, Endpoint::Profile, || {
        let Some(token) = req.bearer() else {
            return unauthorized();
        };
        let info = match sb.lock().check_access(ID, token, sb.now()) {
            Ok(i) => i,
            Err(_) => return unauthorized(),
        };
        let has = |s: &str| info.grant.scopes.iter().any(|g| g == s);
        if !(has("users.read") && has("tweet.read")) {
            return json(
                403,
                json!({
                    "title": "Forbidden",
                    "type": "about:blank",
                    "status": 403,
                    "detail": "Forbidden",
                }),
            );
        }
        let a = info.grant.account;
        let mut data = json!({ "id": a.user_id, "name": a.name, "username": a.handle });
        let fields = req.query.get("user.fields").unwrap_or("");
        if fields.split(',').any(|f| f.trim() == "profile_image_url") {
            data["profile_image_url"] = Value::from(format!(
                "{}/__sandbox/avatars/{}.svg",
                req.sandbox_base("api.x.com"),
                a.id
            ));
        }
        json(200, json!({ "data": data }))
    })
    .await
}

// ---- publishing (PLATFORMS.md §1 "Publish text", "Publish media", "Limits") ----

/// Most weighted characters a post's text may have.
const MAX_WEIGHTED_CHARS: usize = 280;
/// Posts one user may create per 24 hours (`x-user-limit-24hour-limit`); the next gets 429.
pub(crate) const USER_24H_POST_LIMIT: u32 = 100;
/// Posts one user may create per 15-minute window (`x-rate-limit-limit` of `POST /2/tweets`).
const WINDOW_POST_LIMIT: u32 = 100;
/// Length of the `x-rate-limit-*` window, in seconds.
const WINDOW_SECS: i64 = 900;
/// A post whose text equals one of the same account's posts of the last this many seconds is a
/// duplicate (403).
const DUPLICATE_WINDOW_SECS: i64 = 86_400;
/// Largest image accepted by the simple upload, in bytes (5 MB).
const SIMPLE_UPLOAD_MAX_BYTES: usize = 5 * 1024 * 1024;
/// Seconds an uploaded media id stays usable (`expires_after_secs`).
const MEDIA_EXPIRES_AFTER_SECS: i64 = 86_400;
/// A chunked upload that declares exactly this `total_bytes` (and sends them) fails processing:
/// STATUS ends `failed` instead of `succeeded`. The sandbox's way to exercise a bad video.
pub(crate) const FAILING_TOTAL_BYTES: u64 = 666;
/// Media per post: 4 images, or 1 video or GIF.
const MAX_IMAGES: usize = 4;

/// A media upload, simple or chunked.
#[derive(Debug, Clone)]
struct Media {
    owner: String,
    media_type: String,
    category: String,
    total_bytes: u64,
    /// Bytes received per `segment_index`.
    segments: BTreeMap<u32, u64>,
    /// SHA-256 of the segments appended in index order; `None` once one came out of order.
    in_order: Option<sha2::Sha256>,
    created_at: DateTime<Utc>,
    finalized: bool,
    /// Needs asynchronous processing after finalize (video, GIF).
    processing: bool,
    /// STATUS polls answered so far.
    polls: u32,
    finalized_at: Option<DateTime<Utc>>,
}

impl Media {
    fn is_video_or_gif(&self) -> bool {
        self.media_type.starts_with("video/")
            || self.media_type == "image/gif"
            || self.category.ends_with("_video")
            || self.category.ends_with("_gif")
    }

    /// `pending`, `in_progress`, `succeeded` or `failed`, without counting a poll: one step per
    /// STATUS poll answered or per 5 seconds of sandbox time since finalize, whichever is ahead.
    fn state(&self, now: DateTime<Utc>) -> &'static str {
        if !self.finalized {
            return "pending";
        }
        if !self.processing {
            return "succeeded";
        }
        let by_time = self
            .finalized_at
            .map(|f| (now - f).num_seconds().max(0) / 5)
            .unwrap_or(0);
        match i64::from(self.polls).max(by_time) {
            0 => "pending",
            1 => "in_progress",
            _ if self.total_bytes == FAILING_TOTAL_BYTES => "failed",
            _ => "succeeded",
        }
    }
}

#[derive(Debug, Clone)]
struct Tweet {
    author: String,
    /// The text as the client sent it (what the duplicate check compares).
    sent: String,
    /// The text as X stores and returns it ([`x_rendition`]).
    text: String,
    /// `entities.urls` of the stored text.
    urls: Vec<Value>,
    /// `attachments.media_keys`.
    media_keys: Vec<String>,
    created_at: DateTime<Utc>,
}

/// HTML-escapes `&`, `<` and `>` as X does in a post's stored text.
fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A t.co slug for the `n`th link of post `id`: 10 characters, stable for a post.
fn tco_slug(id: &str, n: usize) -> String {
    let digest = sha2::Digest::finalize(sha2::Digest::chain_update(
        sha2::Sha256::default(),
        format!("{id}/{n}").as_bytes(),
    ));
    hex_of(&digest)[..10].to_string()
}

/// What X stores for a post's `text`, with its `entities.urls`: X wraps every link twitter-text
/// finds, with or without a protocol, in a 23-character t.co link
/// (<https://developer.x.com/en/docs/tco>, <https://docs.x.com/fundamentals/counting-characters>),
/// keeps the link as sent in `expanded_url` (`http://` added to one without a protocol), escapes
/// `&`, `<` and `>` as HTML entities, and appends a t.co link to the attached media
/// (`display_url` `pic.x.com/…`, with its `media_key`). Indices count code points.
fn x_rendition(text: &str, id: &str, media_keys: &[String]) -> (String, Vec<Value>) {
    let units: Vec<u16> = text.encode_utf16().collect();
    let part = |a: usize, b: usize| String::from_utf16_lossy(&units[a..b]);
    let mut out = String::new();
    let mut urls = Vec::new();
    let mut last = 0;
    let found = switchboard_core::post_rules::twitter_text::extract_urls(text);
    for (n, u) in found.into_iter().enumerate() {
        if u.start < last || u.end > units.len() || u.start >= u.end {
            continue;
        }
        out.push_str(&escape_html(&part(last, u.start)));
        let original = part(u.start, u.end);
        let lower = original.to_ascii_lowercase();
        let (expanded, display) = if lower.starts_with("http://") || lower.starts_with("https://") {
            let rest = original
                .split_once("://")
                .map_or("", |(_, r)| r)
                .to_string();
            (original.clone(), rest)
        } else {
            (format!("http://{original}"), original.clone())
        };
        let display = if display.chars().count() > 26 {
            format!("{}…", display.chars().take(26).collect::<String>())
        } else {
            display
        };
        let tco = format!("https://t.co/{}", tco_slug(id, n));
        let start = out.chars().count();
        out.push_str(&tco);
        urls.push(json!({
            "start": start,
            "end": start + tco.len(),
            "url": tco,
            "expanded_url": expanded,
            "display_url": display,
        }));
        last = u.end;
    }
    out.push_str(&escape_html(&part(last, units.len())));
    if let Some(key) = media_keys.first() {
        let slug = tco_slug(id, usize::MAX);
        let tco = format!("https://t.co/{slug}");
        if !out.is_empty() {
            out.push(' ');
        }
        let start = out.chars().count();
        out.push_str(&tco);
        let kind = if key.starts_with("3_") {
            "photo"
        } else {
            "video"
        };
        urls.push(json!({
            "start": start,
            "end": start + tco.len(),
            "url": tco,
            "expanded_url": format!("https://x.com/i/web/status/{id}/{kind}/1"),
            "display_url": format!("pic.x.com/{slug}"),
            "media_key": key,
        }));
    }
    (out, urls)
}

/// Price of creating a post, in micro-dollars (X's "Content: Create", $0.015 per request).
pub(crate) const CREATE_POST_MICROS: u64 = 15_000;
/// Price of creating a post holding a link ("Content: Create (with URL)", $0.200 per request).
pub(crate) const CREATE_POST_WITH_URL_MICROS: u64 = 200_000;
/// Price of each post a read returns ("Posts: Read", $0.005 per resource).
pub(crate) const POST_READ_MICROS: u64 = 5_000;
/// The developer account id in X's billing problems.
const DEVELOPER_ACCOUNT_ID: u64 = 1_243_608_864_848_629_761;

/// X's pay-per-use billing of the app (sandbox: off until set through `/__sandbox/x/billing`).
#[derive(Debug, Clone, Default, serde::Serialize)]
struct Billing {
    /// Credit balance in micro-dollars; `None`: not metered.
    balance_micros: Option<u64>,
    /// Posts read in this billing cycle.
    post_reads: u64,
    /// Posts that may be read in a billing cycle; `None`: no cap.
    post_read_cap: Option<u64>,
}

impl Billing {
    /// X's 402 when the balance cannot pay `cost` micro-dollars.
    fn refuse_unpaid(&self, cost: u64) -> Option<Response> {
        let balance = self.balance_micros?;
        (balance < cost).then(|| {
            json(
                402,
                json!({
                    "account_id": DEVELOPER_ACCOUNT_ID,
                    "title": "CreditsDepleted",
                    "detail": format!("Your enrolled account [{DEVELOPER_ACCOUNT_ID}] does not have any credits to fulfill this request."),
                    "type": "https://api.twitter.com/2/problems/credits",
                }),
            )
        })
    }

    /// X's 429 once the cycle's post-read cap is reached, else the 402 of an unpaid read.
    fn refuse_read(&self) -> Option<Response> {
        if self.post_read_cap.is_some_and(|cap| self.post_reads >= cap) {
            return Some(json(
                429,
                json!({
                    "account_id": DEVELOPER_ACCOUNT_ID,
                    "product_name": "pay-per-use",
                    "title": "UsageCapExceeded",
                    "period": "Monthly",
                    "scope": "Product",
                    "detail": "Usage cap exceeded: Monthly product cap",
                    "type": "https://api.twitter.com/2/problems/usage-capped",
                }),
            ));
        }
        self.refuse_unpaid(POST_READ_MICROS)
    }

    fn charge(&mut self, micros: u64) {
        if let Some(b) = self.balance_micros.as_mut() {
            *b = b.saturating_sub(micros);
        }
    }

    /// Counts `n` posts read and charges them.
    fn charge_reads(&mut self, n: u64) {
        self.post_reads += n;
        self.charge(n * POST_READ_MICROS);
    }
}

/// X's publishing state.
#[derive(Default)]
struct XState {
    next_id: u64,
    tweets: HashMap<String, Tweet>,
    media: HashMap<String, Media>,
    billing: Billing,
}

impl XState {
    fn new_id(&mut self, base: u64) -> String {
        self.next_id += 1;
        (base + self.next_id).to_string()
    }

    /// Instants of this user's posts within `secs` before `now`.
    fn posts_since(&self, user: &str, now: DateTime<Utc>, secs: i64) -> Vec<DateTime<Utc>> {
        let from = now - Duration::seconds(secs);
        let mut v: Vec<_> = self
            .tweets
            .values()
            .filter(|t| t.author == user && t.created_at > from)
            .map(|t| t.created_at)
            .collect();
        v.sort();
        v
    }
}

/// An X API problem document (`https://api.x.com/2/problems/{kind}`).
fn problem(status: u16, title: &str, kind: &str, detail: &str) -> Response {
    json(
        status,
        json!({
            "title": title,
            "type": format!("https://api.x.com/2/problems/{kind}"),
            "status": status,
            "detail": detail,
        }),
    )
}

fn forbidden() -> Response {
    json(
        403,
        json!({ "title": "Forbidden", "type": "about:blank", "status": 403, "detail": "Forbidden" }),
    )
}

fn invalid_request(detail: &str, parameter: &str, value: Value) -> Response {
    json(
        400,
        json!({
            "errors": [{ "parameters": { parameter: [value] }, "message": detail }],
            "title": "Invalid Request",
            "detail": "One or more parameters to your request was invalid.",
            "type": "https://api.x.com/2/problems/invalid-request",
            "status": 400,
        }),
    )
}

/// The user id behind the bearer token, when it is valid and carries every scope in `scopes`.
fn user_with(sb: &Shared, req: &Req, scopes: &[&str]) -> Result<&'static str, Response> {
    let token = req.bearer().ok_or_else(unauthorized)?;
    let info = sb
        .lock()
        .check_access(ID, token, sb.now())
        .map_err(|_| unauthorized())?;
    if !scopes
        .iter()
        .all(|s| info.grant.scopes.iter().any(|g| g == s))
    {
        return Err(forbidden());
    }
    Ok(info.grant.account.user_id)
}

/// The weighted length of a post's text as X counts it: twitter-text with configuration v3
/// (<https://docs.x.com/fundamentals/counting-characters>), which X itself uses.
pub(crate) fn weighted_length(text: &str) -> usize {
    switchboard_core::post_rules::twitter::weighted_length(text)
}

fn publishing_routes() -> Router<Arc<Shared>> {
    let mut r = Router::new();
    for host in ["api.x.com", "api.twitter.com"] {
        r = r
            .route(&format!("/{host}/2/tweets"), post(create_tweet))
            .route(&format!("/{host}/2/tweets/{{id}}"), get(read_tweet))
            .route(&format!("/{host}/2/users/{{id}}/tweets"), get(user_tweets))
            .route(
                &format!("/{host}/2/media/upload"),
                post(simple_upload).get(upload_status),
            )
            .route(
                &format!("/{host}/2/media/upload/initialize"),
                post(upload_initialize),
            )
            .route(
                &format!("/{host}/2/media/upload/{{id}}/append"),
                post(upload_append),
            )
            .route(
                &format!("/{host}/2/media/upload/{{id}}/finalize"),
                post(upload_finalize),
            );
    }
    r
}

/// Adds the `x-rate-limit-*` and `x-user-limit-24hour-*` headers of `POST /2/tweets`.
fn with_post_limits(mut r: Response, st: &XState, user: &str, now: DateTime<Utc>) -> Response {
    let window = st.posts_since(user, now, WINDOW_SECS);
    let day = st.posts_since(user, now, 86_400);
    let reset = |v: &[DateTime<Utc>], secs: i64| {
        v.first()
            .map(|f| *f + Duration::seconds(secs))
            .unwrap_or(now + Duration::seconds(secs))
            .timestamp()
    };
    let pairs = [
        ("x-rate-limit-limit", WINDOW_POST_LIMIT.to_string()),
        (
            "x-rate-limit-remaining",
            WINDOW_POST_LIMIT
                .saturating_sub(window.len() as u32)
                .to_string(),
        ),
        (
            "x-rate-limit-reset",
            reset(&window, WINDOW_SECS).to_string(),
        ),
        ("x-user-limit-24hour-limit", USER_24H_POST_LIMIT.to_string()),
        (
            "x-user-limit-24hour-remaining",
            USER_24H_POST_LIMIT
                .saturating_sub(day.len() as u32)
                .to_string(),
        ),
        ("x-user-limit-24hour-reset", reset(&day, 86_400).to_string()),
    ];
    for (k, v) in pairs {
        r = with_header(r, k, &v);
    }
    r
}

#[derive(Deserialize)]
struct TweetBody {
    text: Option<String>,
    #[serde(default)]
    media: Option<TweetMedia>,
}

#[derive(Deserialize)]
struct TweetMedia {
    #[serde(default)]
    media_ids: Vec<String>,
}

/// `POST /2/tweets {text, media?:{media_ids}}` → 201 `{"data":{"id","text"}}`.
async fn create_tweet(State(sb): State<Arc<Shared>>, req: Req) -> Response {
    http::run(&sb, ID, Endpoint::Publish, || {
        let user = match user_with(&sb, &req, &["tweet.read", "tweet.write", "users.read"]) {
            Ok(u) => u,
            Err(r) => return r,
        };
        let body: TweetBody = match serde_json::from_slice(&req.body) {
            Ok(b) => b,
            Err(e) => {
                return problem(
                    400,
                    "Invalid Request",
                    "invalid-request",
                    &format!("The request body is not valid JSON: {e}"),
                )
            }
        };
        let now = sb.now();
        let mut d = sb.lock();
        let st = d.platform_state::<XState>();
        let text = body.text.as_deref().unwrap_or_default();
        let cost = if switchboard_core::post_rules::twitter_text::extract_urls(text).is_empty() {
            CREATE_POST_MICROS
        } else {
            CREATE_POST_WITH_URL_MICROS
        };
        if let Some(r) = st.billing.refuse_unpaid(cost) {
            return r;
        }
        let answer = decide_tweet(st, user, &body, now);
        if answer.is_ok() {
            st.billing.charge(cost);
        }
        let (r, published) = match answer {
            Ok((id, text, media, kind)) => {
                let media_keys: Vec<String> = media
                    .iter()
                    .map(|m| {
                        let video = st.media.get(m).is_some_and(Media::is_video_or_gif);
                        format!("{}_{m}", if video { 7 } else { 3 })
                    })
                    .collect();
                let (stored, urls) = x_rendition(&text, &id, &media_keys);
                st.tweets.insert(
                    id.clone(),
                    Tweet {
                        author: user.to_string(),
                        sent: text.clone(),
                        text: stored.clone(),
                        urls,
                        media_keys,
                        created_at: now,
                    },
                );
                let r = json(
                    201,
                    // The create answer is `{data: {id, text}}` (docs.x.com/x-api/posts/creation-of-a-post;
                    // X's OpenAPI `CreatePostsResponseData`), the text as X stored it.
                    json!({ "data": { "id": id, "text": stored } }),
                );
                (
                    r,
                    Some(PublishedItem {
                        id,
                        platform: ID,
                        account_id: user.to_string(),
                        kind,
                        text,
                        media,
                        published_at: now,
                    }),
                )
            }
            Err(r) => (r, None),
        };
        let r = with_post_limits(r, d.platform_state::<XState>(), user, now);
        if let Some(item) = published {
            d.record_published(item);
        }
        r
    })
    .await
}

/// Checks a post against the limits; the new id, text, media ids and kind when it may be
/// created.
fn decide_tweet(
    st: &mut XState,
    user: &str,
    body: &TweetBody,
    now: DateTime<Utc>,
) -> Result<(String, String, Vec<String>, String), Response> {
    let day = st.posts_since(user, now, 86_400).len() as u32;
    let window = st.posts_since(user, now, WINDOW_SECS).len() as u32;
    if day >= USER_24H_POST_LIMIT || window >= WINDOW_POST_LIMIT {
        return Err(json(
            429,
            json!({ "title": "Too Many Requests", "type": "about:blank", "status": 429, "detail": "Too Many Requests" }),
        ));
    }
    let text = body.text.clone().unwrap_or_default();
    let media_ids = body
        .media
        .as_ref()
        .map(|m| m.media_ids.clone())
        .unwrap_or_default();
    if text.trim().is_empty() && media_ids.is_empty() {
        return Err(invalid_request(
            "text or media is required",
            "text",
            Value::from(""),
        ));
    }
    let weighted = weighted_length(&text);
    if weighted > MAX_WEIGHTED_CHARS {
        return Err(problem(
            403,
            "Forbidden",
            "invalid-request",
            &format!(
                "Your Tweet text is too long: {weighted} weighted characters, the limit is {MAX_WEIGHTED_CHARS}."
            ),
        ));
    }
    let mut kinds = Vec::new();
    for id in &media_ids {
        let ok = st.media.get(id).filter(|m| {
            m.owner == user
                && m.state(now) == "succeeded"
                && now < m.created_at + Duration::seconds(MEDIA_EXPIRES_AFTER_SECS)
        });
        let Some(m) = ok else {
            return Err(invalid_request(
                "Your media IDs are invalid.",
                "media.media_ids",
                Value::from(id.clone()),
            ));
        };
        kinds.push(if m.is_video_or_gif() {
            "video"
        } else {
            "image"
        });
    }
    let videos = kinds.iter().filter(|k| **k == "video").count();
    if media_ids.len() > MAX_IMAGES || (videos > 0 && media_ids.len() > 1) {
        return Err(invalid_request(
            "Your media IDs are invalid: at most 4 images, or 1 video or GIF.",
            "media.media_ids",
            Value::from(media_ids.len()),
        ));
    }
    let from = now - Duration::seconds(DUPLICATE_WINDOW_SECS);
    if !text.is_empty()
        && st
            .tweets
            .values()
            .any(|t| t.author == user && t.sent == text && t.created_at > from)
    {
        return Err(problem(
            403,
            "Forbidden",
            "duplicate",
            "You are not allowed to create a Tweet with duplicate content.",
        ));
    }
    let kind = match (kinds.first(), kinds.len()) {
        (None, _) => "text",
        (Some(&"video"), _) => "video",
        (_, 1) => "image",
        _ => "images",
    };
    let id = st.new_id(1_870_000_000_000_000_000);
    Ok((id, text, media_ids, kind.to_string()))
}

/// `GET /2/tweets/{id}?tweet.fields=public_metrics`: the post, with `public_metrics`
/// `{retweet_count, reply_count, like_count, quote_count, bookmark_count, impression_count}`
/// when asked for (docs.x.com/x-api/fundamentals/fields: its example answer; the OpenAPI
/// document names reposts `repost_count`, the documentation `retweet_count`).
/// The figures grow deterministically with sandbox time since publication
/// (`state::grown_metric`). An unknown id answers 200 with X's `errors[]` (resource-not-found).
async fn read_tweet(State(sb): State<Arc<Shared>>, Path(id): Path<String>, req: Req) -> Response {
    http::run(&sb, ID, Endpoint::Metrics, || {
        if let Err(r) = user_with(&sb, &req, &["tweet.read", "users.read"]) {
            return r;
        }
        let now = sb.now();
        let mut d = sb.lock();
        if let Some(r) = d.platform_state::<XState>().billing.refuse_read() {
            return r;
        }
        let Some(t) = d.platform_state::<XState>().tweets.get(&id).cloned() else {
            return json(
                200,
                json!({ "errors": [{
                    "value": id,
                    "detail": format!("Could not find tweet with id: [{id}]."),
                    "title": "Not Found Error",
                    "resource_type": "tweet",
                    "parameter": "id",
                    "resource_id": id,
                    "type": "https://api.x.com/2/problems/resource-not-found",
                }]}),
            );
        };
        let mut data = json!({ "id": id, "text": t.text });
        let fields = req.query.get("tweet.fields").unwrap_or("");
        for f in fields.split(',').map(str::trim) {
            match f {
                "public_metrics" => {
                    let age = (now - t.created_at).num_seconds();
                    let m = |name: &str, max: u64| grown_metric(&id, name, age, max);
                    data["public_metrics"] = json!({
                        "retweet_count": m("retweet_count", 5),
                        "reply_count": m("reply_count", 3),
                        "like_count": m("like_count", 40),
                        "quote_count": m("quote_count", 2),
                        "bookmark_count": m("bookmark_count", 4),
                        "impression_count": m("impression_count", 900),
                    });
                }
                "created_at" => data["created_at"] = Value::from(t.created_at.to_rfc3339()),
                "author_id" => data["author_id"] = Value::from(t.author.clone()),
                _ => {}
            }
        }
        add_entities(&mut data, &t, fields);
        d.platform_state::<XState>().billing.charge_reads(1);
        json(200, json!({ "data": data }))
    })
    .await
}

/// `GET /2/users/{id}/tweets?start_time&end_time&max_results&pagination_token&tweet.fields`
/// (needs `tweet.read users.read`): the user's tweets, newest first, `{"data":[{id, text,
/// created_at?}], "meta":{result_count, newest_id, oldest_id, next_token?}}`
/// (`meta.result_count: 0` and no `data` when none); `next_token` is passed back as
/// `pagination_token` for the next, older page. `max_results` is 5–100 (default 10), else 400. Another user's timeline is readable
/// as on X (public tweets). Counted as a read (`metrics`).
async fn user_tweets(State(sb): State<Arc<Shared>>, Path(id): Path<String>, req: Req) -> Response {
    http::run(&sb, ID, Endpoint::Metrics, || {
        if let Err(r) = user_with(&sb, &req, &["tweet.read", "users.read"]) {
            return r;
        }
        let max = match req.query.get("max_results").map(str::parse::<usize>) {
            None => 10,
            Some(Ok(n)) if (5..=100).contains(&n) => n,
            Some(_) => {
                return invalid_request(
                    "The `max_results` query parameter value is not between 5 and 100",
                    "max_results",
                    Value::from(req.query.get("max_results").unwrap_or_default()),
                )
            }
        };
        let bound = |name: &str| -> Result<Option<DateTime<Utc>>, Response> {
            match req.query.get(name) {
                None => Ok(None),
                Some(v) => DateTime::parse_from_rfc3339(v)
                    .map(|t| Some(t.with_timezone(&Utc)))
                    .map_err(|_| {
                        invalid_request(
                            &format!(
                                "Invalid '{name}':'{v}'. '{name}' must be a valid RFC 3339 time"
                            ),
                            name,
                            Value::from(v),
                        )
                    }),
            }
        };
        let (start, end) = match (bound("start_time"), bound("end_time")) {
            (Ok(s), Ok(e)) => (s, e),
            (Err(r), _) | (_, Err(r)) => return r,
        };
        let fields = req.query.get("tweet.fields").unwrap_or("").to_string();
        let with_created = fields.split(',').any(|f| f.trim() == "created_at");
        let mut d = sb.lock();
        if let Some(r) = d.platform_state::<XState>().billing.refuse_read() {
            return r;
        }
        let mut tweets: Vec<(String, Tweet)> = d
            .platform_state::<XState>()
            .tweets
            .iter()
            .filter(|(_, t)| t.author == id)
            .filter(|(_, t)| start.is_none_or(|s| t.created_at >= s))
            .filter(|(_, t)| end.is_none_or(|e| t.created_at < e))
            .map(|(k, t)| (k.clone(), t.clone()))
            .collect();
        tweets.sort_by(|a, b| {
            b.1.created_at
                .cmp(&a.1.created_at)
                .then(b.0.len().cmp(&a.0.len()))
                .then(b.0.cmp(&a.0))
        });
        // `pagination_token` (the `meta.next_token` of the previous page): an offset here.
        let skip = match req.query.get("pagination_token") {
            None => 0,
            Some(t) => match t.parse::<usize>() {
                Ok(n) => n,
                Err(_) => {
                    return invalid_request(
                        "The `pagination_token` query parameter value is not valid",
                        "pagination_token",
                        Value::from(t),
                    )
                }
            },
        };
        let more = tweets.len() > skip + max;
        let tweets: Vec<(String, Tweet)> = tweets.into_iter().skip(skip).take(max).collect();
        d.platform_state::<XState>()
            .billing
            .charge_reads(tweets.len() as u64);
        if tweets.is_empty() {
            return json(200, json!({ "meta": { "result_count": 0 } }));
        }
        let data: Vec<Value> = tweets
            .iter()
            .map(|(k, t)| {
                let mut v = json!({ "id": k, "text": t.text });
                if with_created {
                    v["created_at"] = Value::from(t.created_at.to_rfc3339());
                }
                add_entities(&mut v, t, &fields);
                v
            })
            .collect();
        let mut meta = json!({
            "result_count": data.len(),
            "newest_id": tweets.first().map(|t| t.0.clone()),
            "oldest_id": tweets.last().map(|t| t.0.clone()),
        });
        // The last page has no `next_token` at all (X's OpenAPI: a string when present).
        if more {
            meta["next_token"] = Value::from((skip + max).to_string());
        }
        json(200, json!({ "data": data, "meta": meta }))
    })
    .await
}

/// Adds `entities.urls` and `attachments.media_keys` to a post's JSON when `tweet.fields`
/// (comma-separated) asks for `entities` / `attachments` and the post has any.
fn add_entities(data: &mut Value, t: &Tweet, fields: &str) {
    for f in fields.split(',').map(str::trim) {
        match f {
            "entities" if !t.urls.is_empty() => data["entities"] = json!({ "urls": t.urls }),
            "attachments" if !t.media_keys.is_empty() => {
                data["attachments"] = json!({ "media_keys": t.media_keys })
            }
            _ => {}
        }
    }
}

fn media_json(id: &str, m: &Media, now: DateTime<Utc>) -> Value {
    let prefix = if m.is_video_or_gif() { 7 } else { 3 };
    let expires = (m.created_at + Duration::seconds(MEDIA_EXPIRES_AFTER_SECS) - now)
        .num_seconds()
        .max(0);
    json!({
        "id": id,
        "media_key": format!("{prefix}_{id}"),
        "size": m.total_bytes,
        "expires_after_secs": expires,
    })
}

/// The processing info of a media that needs it: `{state, check_after_secs?, progress_percent,
/// error?}`.
fn processing_info(m: &Media, now: DateTime<Utc>) -> Value {
    match m.state(now) {
        "pending" => json!({ "state": "pending", "check_after_secs": 1, "progress_percent": 0 }),
        "in_progress" => {
            json!({ "state": "in_progress", "check_after_secs": 1, "progress_percent": 50 })
        }
        "failed" => json!({
            "state": "failed",
            "progress_percent": 100,
            "error": { "code": 1, "name": "InvalidMedia", "message": "Unsupported video format" },
        }),
        s => json!({ "state": s, "progress_percent": 100 }),
    }
}

/// The media id in the path (`/2/media/upload/{id}/…`) when it belongs to `user`.
fn owned_media<'a>(st: &'a mut XState, id: &str, user: &str) -> Result<&'a mut Media, Response> {
    st.media
        .get_mut(id)
        .filter(|m| m.owner == user)
        .ok_or_else(|| {
            invalid_request(
                "Your media IDs are invalid.",
                "media_id",
                Value::from(id.to_string()),
            )
        })
}

/// The image type of uploaded bytes by their signature (JPEG when unknown).
fn sniff_image_type(bytes: &[u8]) -> &'static str {
    if bytes.starts_with(b"\x89PNG") {
        "image/png"
    } else if bytes.starts_with(b"GIF8") {
        "image/gif"
    } else if bytes.len() > 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        "image/webp"
    } else if bytes.starts_with(b"BM") {
        "image/bmp"
    } else {
        "image/jpeg"
    }
}

/// `POST /2/media/upload` (multipart `media`, `media_category`): the simple upload, for images
/// up to 5 MB. → `{"data":{id, media_key, size, expires_after_secs}}`; usable at once.
async fn simple_upload(State(sb): State<Arc<Shared>>, req: Req) -> Response {
    http::run(&sb, ID, Endpoint::Upload, || {
        let user = match user_with(&sb, &req, &["media.write"]) {
            Ok(u) => u,
            Err(r) => return r,
        };
        let Some(bytes) = http::multipart_part(&req, "media") else {
            return invalid_request("The media field is required.", "media", Value::from(""));
        };
        let category = req.form.get("media_category").unwrap_or("tweet_image");
        if category.ends_with("_video") || category.ends_with("_gif") {
            return invalid_request(
                "Video and GIF uploads use initialize, append and finalize.",
                "media_category",
                Value::from(category.to_string()),
            );
        }
        if bytes.is_empty() || bytes.len() > SIMPLE_UPLOAD_MAX_BYTES {
            return invalid_request(
                &format!("Image file size must be between 1 and {SIMPLE_UPLOAD_MAX_BYTES} bytes."),
                "media",
                Value::from(bytes.len()),
            );
        }
        let now = sb.now();
        let mut d = sb.lock();
        let st = d.platform_state::<XState>();
        let id = st.new_id(1_860_000_000_000_000_000);
        let m = Media {
            owner: user.to_string(),
            // The one-shot upload has no `media_type` field (X's OpenAPI `MediaUploadRequest`):
            // X reads the type from the bytes.
            media_type: sniff_image_type(&bytes).to_string(),
            category: category.to_string(),
            total_bytes: bytes.len() as u64,
            segments: BTreeMap::from([(0, bytes.len() as u64)]),
            in_order: Some(sha2::Digest::chain_update(sha2::Sha256::default(), &bytes)),
            created_at: now,
            finalized: true,
            processing: false,
            polls: 0,
            finalized_at: Some(now),
        };
        let body = media_json(&id, &m, now);
        st.media.insert(id, m);
        json(200, json!({ "data": body }))
    })
    .await
}

#[derive(Deserialize)]
struct InitBody {
    media_type: Option<String>,
    total_bytes: Option<u64>,
    media_category: Option<String>,
}

/// `POST /2/media/upload/initialize {media_type, total_bytes, media_category}` →
/// `{"data":{id, media_key, size, expires_after_secs}}`.
async fn upload_initialize(State(sb): State<Arc<Shared>>, req: Req) -> Response {
    http::run(&sb, ID, Endpoint::Upload, || {
        let user = match user_with(&sb, &req, &["media.write"]) {
            Ok(u) => u,
            Err(r) => return r,
        };
        let body: InitBody = serde_json::from_slice(&req.body).unwrap_or(InitBody {
            media_type: req.param("media_type").map(str::to_string),
            total_bytes: req.param("total_bytes").and_then(|t| t.parse().ok()),
            media_category: req.param("media_category").map(str::to_string),
        });
        let Some(media_type) = body.media_type.filter(|t| t.contains('/')) else {
            return invalid_request(
                "media_type is required (e.g. video/mp4).",
                "media_type",
                Value::Null,
            );
        };
        let Some(total_bytes) = body.total_bytes.filter(|t| *t > 0) else {
            return invalid_request(
                "total_bytes is required and must be positive.",
                "total_bytes",
                Value::Null,
            );
        };
        let now = sb.now();
        let mut d = sb.lock();
        let st = d.platform_state::<XState>();
        let id = st.new_id(1_860_000_000_000_000_000);
        let m = Media {
            owner: user.to_string(),
            media_type,
            category: body.media_category.unwrap_or_default(),
            total_bytes,
            segments: BTreeMap::new(),
            in_order: Some(sha2::Sha256::default()),
            created_at: now,
            finalized: false,
            processing: false,
            polls: 0,
            finalized_at: None,
        };
        let mut body = media_json(&id, &m, now);
        // The initialize answer has no `size` (X's OpenAPI `InitializeMediaUploadResponseData`:
        // id, media_key, expires_after_secs); finalize and STATUS report it.
        if let Some(o) = body.as_object_mut() {
            o.remove("size");
        }
        st.media.insert(id, m);
        json(200, json!({ "data": body }))
    })
    .await
}

/// `POST /2/media/upload/{id}/append` (multipart `segment_index` 0–999, `media`) → 200
/// `{"data":{"expires_at"}}` (epoch seconds).
async fn upload_append(
    State(sb): State<Arc<Shared>>,
    Path(id): Path<String>,
    req: Req,
) -> Response {
    http::run(&sb, ID, Endpoint::Upload, || {
        let user = match user_with(&sb, &req, &["media.write"]) {
            Ok(u) => u,
            Err(r) => return r,
        };
        let Some(index) = req
            .form
            .get("segment_index")
            .and_then(|s| s.parse::<u32>().ok())
            .filter(|i| *i <= 999)
        else {
            return invalid_request(
                "segment_index must be an integer between 0 and 999.",
                "segment_index",
                Value::Null,
            );
        };
        let Some(bytes) = http::multipart_part(&req, "media") else {
            return invalid_request("The media field is required.", "media", Value::Null);
        };
        let mut d = sb.lock();
        let m = match owned_media(d.platform_state::<XState>(), &id, user) {
            Ok(m) => m,
            Err(r) => return r,
        };
        if m.finalized {
            return invalid_request(
                "The media was already finalized.",
                "media_id",
                Value::from(id.clone()),
            );
        }
        let next = m.segments.len() as u32;
        match &mut m.in_order {
            Some(h) if index == next && !m.segments.contains_key(&index) => {
                sha2::Digest::update(h, &bytes);
            }
            _ => m.in_order = None,
        }
        m.segments.insert(index, bytes.len() as u64);
        let expires = m.created_at + Duration::seconds(MEDIA_EXPIRES_AFTER_SECS);
        json(
            200,
            json!({ "data": { "expires_at": expires.timestamp() } }),
        )
    })
    .await
}

/// `POST /2/media/upload/{id}/finalize` → `{"data":{id, media_key, size, expires_after_secs,
/// processing_info?}}`; videos and GIFs come back with `processing_info {state:"pending",
/// check_after_secs}`. The appended bytes must add up to `total_bytes` (else 400).
async fn upload_finalize(
    State(sb): State<Arc<Shared>>,
    Path(id): Path<String>,
    req: Req,
) -> Response {
    http::run(&sb, ID, Endpoint::Upload, || {
        let user = match user_with(&sb, &req, &["media.write"]) {
            Ok(u) => u,
            Err(r) => return r,
        };
        let now = sb.now();
        let mut d = sb.lock();
        let m = match owned_media(d.platform_state::<XState>(), &id, user) {
            Ok(m) => m,
            Err(r) => return r,
        };
        if !m.finalized {
            let received: u64 = m.segments.values().sum();
            if received != m.total_bytes {
                return invalid_request(
                    &format!(
                        "File size mismatch: received {received} bytes, total_bytes was {}.",
                        m.total_bytes
                    ),
                    "total_bytes",
                    Value::from(m.total_bytes),
                );
            }
            m.finalized = true;
            m.finalized_at = Some(now);
            m.processing = m.is_video_or_gif();
        }
        let mut body = media_json(&id, m, now);
        if m.processing {
            body["processing_info"] = processing_info(m, now);
        }
        json(200, json!({ "data": body }))
    })
    .await
}

/// `GET /2/media/upload?command=STATUS&media_id=…` → `{"data":{id, media_key,
/// processing_info:{state, check_after_secs?, progress_percent, error?}}}`. Each poll moves a
/// processing media one step: `pending` → `in_progress` → `succeeded` (or `failed` for a
/// media of [`FAILING_TOTAL_BYTES`]).
async fn upload_status(State(sb): State<Arc<Shared>>, req: Req) -> Response {
    http::run(&sb, ID, Endpoint::Upload, || {
        let user = match user_with(&sb, &req, &["media.write"]) {
            Ok(u) => u,
            Err(r) => return r,
        };
        if req.query.get("command") != Some("STATUS") {
            return invalid_request(
                "command must be STATUS.",
                "command",
                Value::from(req.query.get("command").unwrap_or("").to_string()),
            );
        }
        let id = req.query.get("media_id").unwrap_or("").to_string();
        let now = sb.now();
        let mut d = sb.lock();
        let m = match owned_media(d.platform_state::<XState>(), &id, user) {
            Ok(m) => m,
            Err(r) => return r,
        };
        let info = processing_info(m, now);
        if m.processing {
            m.polls = m.polls.saturating_add(1);
        }
        let mut body = media_json(&id, m, now);
        body["processing_info"] = info;
        body["sandbox_sha256"] = m.in_order.clone().map_or(Value::Null, |h| {
            Value::from(hex_of(&sha2::Digest::finalize(h)))
        });
        json(200, json!({ "data": body }))
    })
    .await
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::weighted_length;

    #[test]
    fn weighting_of_ascii_wide_characters_and_urls() {
        assert_eq!(weighted_length("hello world"), 11);
        assert_eq!(weighted_length("漢字"), 4);
        assert_eq!(weighted_length("é"), 1);
        assert_eq!(weighted_length("😀"), 2);
        assert_eq!(
            weighted_length("see https://example.com/a/very/long/path"),
            4 + 23
        );
        assert_eq!(
            weighted_length("line\nhttps://example.com/x\tend"),
            4 + 1 + 23 + 1 + 3
        );
        assert_eq!(weighted_length("https://"), 8);
        assert_eq!(weighted_length("see example.org"), 4 + 23);
    }

    #[test]
    fn stored_text_wraps_links_escapes_and_appends_the_media_link() {
        let (text, urls) = super::x_rendition(
            "Q&A <today> at example.org/q & https://Example.com/a?b=1",
            "42",
            &["3_7".to_string()],
        );
        let tco: Vec<&str> = urls.iter().map(|u| u["url"].as_str().unwrap()).collect();
        assert_eq!(
            text,
            format!(
                "Q&amp;A &lt;today&gt; at {} &amp; {} {}",
                tco[0], tco[1], tco[2]
            )
        );
        assert!(tco
            .iter()
            .all(|u| u.starts_with("https://t.co/") && u.len() == 23));
        assert_eq!(urls[0]["expanded_url"], "http://example.org/q");
        assert_eq!(urls[1]["expanded_url"], "https://Example.com/a?b=1");
        assert_eq!(urls[2]["media_key"], "3_7");
        assert!(urls[2]["display_url"]
            .as_str()
            .unwrap()
            .starts_with("pic.x.com/"));
        for u in &urls {
            let (a, b) = (u["start"].as_u64().unwrap(), u["end"].as_u64().unwrap());
            let at: String = text
                .chars()
                .skip(a as usize)
                .take((b - a) as usize)
                .collect();
            assert_eq!(at, u["url"].as_str().unwrap());
        }
    }
}
