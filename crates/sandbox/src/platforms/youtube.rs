//! YouTube: Google OAuth 2.0 (web server flow) and OpenID Connect userinfo. PLATFORMS.md §6.
//!
//! - Authorize `accounts.google.com/o/oauth2/v2/auth`: scopes separated by spaces, PKCE
//!   optional (`S256` or `plain`), `access_type=online|offline`, `prompt`. Request errors are
//!   pages ("Error 400: redirect_uri_mismatch", "Error 401: invalid_client"); only a denial goes
//!   back to the app (`error=access_denied`).
//! - A `refresh_token` is issued only with `access_type=offline`, and only at the **first**
//!   offline-access consent of this account for this client, or when `prompt=consent` forces a
//!   new consent. Revoking the grant forgets the consent.
//! - Token `POST oauth2.googleapis.com/token`: `client_secret` in the body, or HTTP Basic.
//!   Access tokens last 3599 s. The granted `scope` is reported with `email` and `profile`
//!   expanded to their `https://www.googleapis.com/auth/userinfo.*` names.
//! - Refresh responses carry **no** `refresh_token`: it is not rotated. A dead one gets
//!   `{"error":"invalid_grant","error_description":"Token has been expired or revoked."}`.
//! - Revoke `POST oauth2.googleapis.com/revoke?token=…` (or in the body): 200, or 400
//!   `{"error":"invalid_token"}` for an unknown, expired or already revoked token. Revoking
//!   either token revokes the whole grant.
//! - Profile `GET openidconnect.googleapis.com/v1/userinfo` (alias
//!   `www.googleapis.com/oauth2/v3/userinfo`) → `{sub,name,given_name,family_name,picture,
//!   email,email_verified}` as the scopes allow; bad tokens get Google's 401 envelope with
//!   reason `authError`.
//! - Channel `GET www.googleapis.com/youtube/v3/channels?part=snippet&mine=true` (PLATFORMS.md §6)
//!   → a `youtube#channelListResponse`; an account without a channel gets `totalResults: 0` and
//!   no `items`. Needs `youtube.readonly`, `youtube` or `youtube.force-ssl` (`youtube.upload`
//!   alone is refused with 403 `insufficientPermissions`, as Google does).
//!
//! Publishing (resumable uploads, PLATFORMS.md §6 "Publish"), Google's API error envelope:
//! - `POST www.googleapis.com/upload/youtube/v3/videos?uploadType=resumable&part=snippet,status`
//!   (scope `youtube.upload`, `youtube` or `youtube.force-ssl`, else 403
//!   `insufficientPermissions`), optional headers `X-Upload-Content-Length` (bytes) and
//!   `X-Upload-Content-Type`, JSON body `{snippet:{title, description, tags, categoryId},
//!   status:{privacyStatus, selfDeclaredMadeForKids}}` → 200 with an empty body and `Location`:
//!   the session URI, served by the sandbox (same path, `upload_id=`). Checks: an account
//!   without a channel (`yt-nochannel`) → **401** `youtubeSignupRequired` (Google lists it
//!   under 401); a missing or empty title, over 100 characters, or with `<`/`>` → 400
//!   `invalidTitle`; a description over 5,000 bytes or with `<`/`>` → 400
//!   `invalidDescription`; tags over 500 characters in all → 400 `invalidTags`; a
//!   `privacyStatus` other than `public|unlisted|private` → 400 `invalidVideoMetadata`. Each
//!   app (client id) may start [`INSERTS_PER_DAY`] uploads per day (the `videos.insert` bucket
//!   of the current docs), the day ending at midnight Pacific Time taken as UTC−8 all year;
//!   then 403 `quotaExceeded` (domain `youtube.quota`).
//! - `PUT {session URI}`: the whole file (no `Content-Range`), or chunks with `Content-Range:
//!   bytes a-b/N` (or `a-b/*` until the size is known) that start where the last one ended and
//!   are multiples of 256 KiB except the last; the body length must match the range. Each
//!   chunk but the last → 308 with `Range: bytes=0-{last byte}`; the last → 201 with the video
//!   resource `{kind, etag, id, snippet, status:{uploadStatus:"uploaded", privacyStatus, …}}`
//!   — the one point where YouTube publishes (`record_published`). `Content-Range: bytes */N`
//!   asks for progress: 308 with the current `Range` (none before the first byte), or the
//!   resource again once complete; a completed session never creates a second video. A
//!   session unknown or older than [`SESSION_TTL_SECS`] → 404.
//! - Uploads by an unaudited app (`SandboxConfig::unaudited_apps` contains `youtube`) are
//!   forced to `privacyStatus: "private"`, whatever was asked (PLATFORMS.md §6 "Private
//!   uploads").
//! - `GET www.googleapis.com/youtube/v3/videos?part=id,snippet,status,statistics&id=a,b`
//!   (a channel-read scope) → `youtube#videoListResponse`; `statistics {viewCount, likeCount,
//!   favoriteCount, commentCount}` are decimal strings, as Google returns them, growing with
//!   the sandbox clock ([`crate::state::grown_metric`]). Private videos are listed only to
//!   their owner; unknown ids are left out.
//! - Faults: `publish` targets the insert call, `upload` the session PUTs, `metrics` the list.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use chrono::{DateTime, Duration, NaiveDate, SecondsFormat, Utc};
use serde_json::{json, Value};

use crate::accounts::{Account, Channel};
use crate::consent::{self, AuthorizeRules, ErrorPage, ErrorStyle, PageError, PkceRule, Problem};
use crate::http::{self, json, token_json, with_header, Basic, Params, Req};
use crate::state::{
    grown_metric, ClientCheck, CodeError, Endpoint, PublishedItem, RefreshLifetime, Shared,
    TokenKind,
};

const ID: &str = "youtube";
/// Access token lifetime in seconds.
const ACCESS_TTL: i64 = 3599;
/// The consent kind recorded for offline access.
const OFFLINE_CONSENT: &str = "youtube:offline";
const USERINFO_EMAIL: &str = "https://www.googleapis.com/auth/userinfo.email";
const USERINFO_PROFILE: &str = "https://www.googleapis.com/auth/userinfo.profile";

pub(crate) static AUTHORIZE: AuthorizeRules = AuthorizeRules {
    platform: ID,
    display_name: "Google",
    brand_color: "#1a73e8",
    client_param: "client_id",
    scope_separators: &[' '],
    default_scopes: &[],
    known_scopes: &[
        "openid",
        "email",
        "profile",
        USERINFO_EMAIL,
        USERINFO_PROFILE,
        "https://www.googleapis.com/auth/youtube",
        "https://www.googleapis.com/auth/youtube.upload",
        "https://www.googleapis.com/auth/youtube.readonly",
        "https://www.googleapis.com/auth/youtube.force-ssl",
    ],
    scope_error: "invalid_scope",
    request_errors: ErrorStyle::Page,
    pkce: PkceRule::Optional(&["S256", "plain"]),
    state_required: false,
    max_state_len: None,
    response_type_optional: false,
    code_ttl_secs: 600,
    fragment: "",
    deny_description: "The user denied access to the app.",
    deny_extra: &[],
    page: error_page,
    check: google_check,
};

fn error_page(e: &PageError) -> ErrorPage {
    match e {
        PageError::MissingClient | PageError::ClientIdNotClientKey => ErrorPage::new(
            400,
            "Error 400: invalid_request",
            "Missing required parameter: client_id",
        ),
        PageError::UnknownClient(_) => ErrorPage::new(
            401,
            "Error 401: invalid_client",
            "The OAuth client was not found.",
        ),
        PageError::MissingRedirect => ErrorPage::new(
            400,
            "Error 400: invalid_request",
            "Missing required parameter: redirect_uri",
        ),
        PageError::RedirectMismatch(r) => ErrorPage::new(
            400,
            "Error 400: redirect_uri_mismatch",
            format!(
                "You can't sign in to this app because it doesn't comply with Google's OAuth 2.0 \
                 policy. If you're the app developer, register the redirect URI in the Google \
                 Cloud Console. Request details: redirect_uri={r}"
            ),
        ),
        PageError::Request(p) => ErrorPage::new(
            400,
            format!("Error 400: {}", p.error),
            p.description.clone(),
        ),
    }
}

/// Google's own authorization parameters.
fn google_check(p: &Params) -> Result<(), Problem> {
    match p.get("access_type") {
        None | Some("online" | "offline") => {}
        Some(other) => {
            return Err(Problem::new(
                "invalid_request",
                format!("Invalid access_type: {other}"),
            ))
        }
    }
    if let Some(prompt) = p.get("prompt") {
        let values: Vec<&str> = prompt.split(' ').filter(|s| !s.is_empty()).collect();
        if let Some(bad) = values
            .iter()
            .find(|v| !["none", "consent", "select_account"].contains(v))
        {
            return Err(Problem::new(
                "invalid_request",
                format!("Invalid prompt: {bad}"),
            ));
        }
        if values.contains(&"none") {
            return Err(Problem::new(
                "invalid_request",
                "prompt=none is not supported by the sandbox: it keeps no login session.",
            ));
        }
    }
    match p.get("include_granted_scopes") {
        None | Some("true" | "false") => Ok(()),
        Some(other) => Err(Problem::new(
            "invalid_request",
            format!("Invalid include_granted_scopes: {other}"),
        )),
    }
}

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route(
            "/accounts.google.com/o/oauth2/v2/auth",
            get(authorize).post(authorize),
        )
        .route(
            "/accounts.google.com/o/oauth2/auth",
            get(authorize).post(authorize),
        )
        .route("/oauth2.googleapis.com/token", post(token))
        .route("/oauth2.googleapis.com/revoke", post(revoke))
        .route("/openidconnect.googleapis.com/v1/userinfo", get(userinfo))
        .route("/www.googleapis.com/oauth2/v3/userinfo", get(userinfo))
        .route("/www.googleapis.com/youtube/v3/channels", get(channels))
        .route(
            "/www.googleapis.com/upload/youtube/v3/videos",
            post(insert).put(upload),
        )
        .route("/www.googleapis.com/youtube/v3/videos", get(list_videos))
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

/// Scopes as Google reports them in token responses.
fn reported_scope(scopes: &[String]) -> String {
    scopes
        .iter()
        .map(|s| match s.as_str() {
            "email" => USERINFO_EMAIL,
            "profile" => USERINFO_PROFILE,
            other => other,
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `client_secret_post`, or `client_secret_basic`.
fn authenticate(sb: &Shared, req: &Req) -> Result<String, Response> {
    let (id, secret) = match req.basic() {
        Basic::Credentials { id, secret } => (id, secret),
        _ => (
            req.form.get("client_id").unwrap_or("").to_string(),
            req.form.get("client_secret").unwrap_or("").to_string(),
        ),
    };
    if id.is_empty() {
        return Err(oauth_error(
            400,
            "invalid_request",
            "Could not determine client ID from request.",
        ));
    }
    match sb.check_client(ID, &id, &secret) {
        ClientCheck::Ok => Ok(id),
        ClientCheck::UnknownClient => Err(oauth_error(
            401,
            "invalid_client",
            "The OAuth client was not found.",
        )),
        ClientCheck::BadSecret => Err(oauth_error(401, "invalid_client", "Unauthorized")),
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
        match req.form.get("grant_type").unwrap_or("") {
            "authorization_code" => exchange(&sb, &req, &client_id),
            "refresh_token" => refresh_grant(&sb, &req, &client_id),
            other => oauth_error(
                400,
                "unsupported_grant_type",
                &format!("Invalid grant_type: {other}"),
            ),
        }
    })
    .await
}

fn exchange(sb: &Shared, req: &Req, client_id: &str) -> Response {
    let Some(code) = req.form.get("code").filter(|c| !c.is_empty()) else {
        return oauth_error(400, "invalid_request", "Missing required parameter: code");
    };
    let Some(redirect_uri) = req.form.get("redirect_uri") else {
        return oauth_error(
            400,
            "invalid_request",
            "Missing required parameter: redirect_uri",
        );
    };
    let verifier = req.form.get("code_verifier");
    let now = sb.now();
    let mut d = sb.lock();
    let c = match d.redeem_code(ID, code, client_id, Some(redirect_uri), verifier, now) {
        Ok(c) => c,
        Err(CodeError::RedirectMismatch) => {
            return oauth_error(400, "redirect_uri_mismatch", "Bad Request")
        }
        Err(CodeError::VerifierMissing) => {
            return oauth_error(400, "invalid_grant", "Missing code verifier.")
        }
        Err(CodeError::VerifierMismatch) => {
            return oauth_error(400, "invalid_grant", "Invalid code verifier.")
        }
        Err(CodeError::Unknown) => {
            return oauth_error(400, "invalid_grant", "Malformed auth code.")
        }
        Err(_) => return oauth_error(400, "invalid_grant", "Bad Request"),
    };
    // Google's rule: a refresh token only offline, and only when the person consents to
    // offline access for the first time, unless the app forces a new consent with
    // prompt=consent. Revocation forgets the consent.
    let offline = c.param("access_type") == Some("offline");
    let forced = c
        .param("prompt")
        .is_some_and(|p| p.split(' ').any(|v| v == "consent"));
    let first_offline = offline && d.record_consent(OFFLINE_CONSENT, client_id, c.account.id);
    let with_refresh = offline && (first_offline || forced);
    let grant = d.new_grant(&c, now, RefreshLifetime::None);
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
        "scope": reported_scope(&grant.scopes),
        "token_type": "Bearer",
    });
    if with_refresh {
        let refresh = d.issue(&grant, TokenKind::Refresh, None, false, now);
        body["refresh_token"] = Value::from(refresh.token);
    }
    token_json(200, body)
}

fn refresh_grant(sb: &Shared, req: &Req, client_id: &str) -> Response {
    let Some(token) = req.form.get("refresh_token").filter(|t| !t.is_empty()) else {
        return oauth_error(
            400,
            "invalid_request",
            "Missing required parameter: refresh_token",
        );
    };
    let now = sb.now();
    let mut d = sb.lock();
    let info = match d.use_refresh(ID, token, client_id, false, now) {
        Ok(i) => i,
        Err(_) => return oauth_error(400, "invalid_grant", "Token has been expired or revoked."),
    };
    let access = d.issue(
        &info.grant,
        TokenKind::Access,
        Some(sb.access_ttl(ID, ACCESS_TTL)),
        false,
        now,
    );
    // Not rotated: no refresh_token in the answer; the app keeps the one it has.
    token_json(
        200,
        json!({
            "access_token": access.token,
            "expires_in": access.expires_in(now),
            "scope": reported_scope(&info.grant.scopes),
            "token_type": "Bearer",
        }),
    )
}

async fn revoke(State(sb): State<Arc<Shared>>, req: Req) -> Response {
    http::run(&sb, ID, Endpoint::Revoke, || {
        let Some(token) = req.param("token").filter(|t| !t.is_empty()) else {
            return oauth_error(400, "invalid_request", "Missing required parameter: token");
        };
        let now = sb.now();
        let mut d = sb.lock();
        let Ok(info) = d.check_any(ID, token, now) else {
            return json(
                400,
                json!({ "error": "invalid_token", "error_description": "Token expired or revoked" }),
            );
        };
        d.revoke_grant(info.grant.id);
        d.forget_consent(OFFLINE_CONSENT, &info.grant.client_id, info.grant.account.id);
        json(200, json!({}))
    })
    .await
}

fn unauthenticated() -> Response {
    let r = json(
        401,
        json!({ "error": {
            "code": 401,
            "message": "Request had invalid authentication credentials. Expected OAuth 2 access \
                        token, login cookie or other valid authentication credential.",
            "errors": [{
                "message": "Invalid Credentials",
                "domain": "global",
                "reason": "authError",
                "location": "Authorization",
                "locationType": "header",
            }],
            "status": "UNAUTHENTICATED",
        }}),
    );
    with_header(
        r,
        "www-authenticate",
        "Bearer realm=\"https://accounts.google.com/\", error=\"invalid_token\"",
    )
}

async fn userinfo(State(sb): State<Arc<Shared>>, req: Req) -> Response {
    http::run(&sb, ID, Endpoint::Profile, || {
        let Some(token) = req.bearer() else {
            return unauthenticated();
        };
        let Ok(info) = sb.lock().check_access(ID, token, sb.now()) else {
            return unauthenticated();
        };
        let has = |a: &str, b: &str| info.grant.scopes.iter().any(|s| s == a || s == b);
        let a = info.grant.account;
        let mut body = json!({ "sub": a.user_id });
        if has("profile", USERINFO_PROFILE) {
            body["name"] = Value::from(a.name);
            body["given_name"] = Value::from(a.given_name());
            body["family_name"] = Value::from(a.family_name());
            body["picture"] = Value::from(format!(
                "{}/__sandbox/avatars/{}.svg",
                req.sandbox_base("openidconnect.googleapis.com"),
                a.id
            ));
        }
        if has("email", USERINFO_EMAIL) {
            if let Some(e) = a.email {
                body["email"] = Value::from(e);
                body["email_verified"] = Value::from(true);
            }
        }
        json(200, body)
    })
    .await
}

/// Scopes that may read the caller's channel (`channels.list` with `mine=true`).
const CHANNEL_READ_SCOPES: [&str; 3] = [
    "https://www.googleapis.com/auth/youtube.readonly",
    "https://www.googleapis.com/auth/youtube",
    "https://www.googleapis.com/auth/youtube.force-ssl",
];

/// Google's error envelope for an API call (`{"error":{"code","message","errors":[..],"status"}}`).
fn api_error(code: u16, message: &str, reason: &str, domain: &str, status: &str) -> Response {
    json(
        code,
        json!({ "error": {
            "code": code,
            "message": message,
            "errors": [{ "message": message, "domain": domain, "reason": reason }],
            "status": status,
        }}),
    )
}

async fn channels(State(sb): State<Arc<Shared>>, req: Req) -> Response {
    http::run(&sb, ID, Endpoint::Profile, || {
        let Some(token) = req.bearer() else {
            return unauthenticated();
        };
        let Ok(info) = sb.lock().check_access(ID, token, sb.now()) else {
            return unauthenticated();
        };
        let part = req.query.get("part").unwrap_or("");
        if part.is_empty() {
            return api_error(
                400,
                "Required parameter: part",
                "required",
                "global",
                "INVALID_ARGUMENT",
            );
        }
        if req.query.get("mine") != Some("true") {
            return api_error(
                400,
                "No filter selected. Expected one of: forUsername, managedByMe, categoryId, mine, mySubscribers, id, idParam, hl.",
                "missingRequiredParameter",
                "youtube.parameter",
                "INVALID_ARGUMENT",
            );
        }
        if !info
            .grant
            .scopes
            .iter()
            .any(|s| CHANNEL_READ_SCOPES.contains(&s.as_str()))
        {
            return api_error(
                403,
                "Request had insufficient authentication scopes.",
                "insufficientPermissions",
                "global",
                "PERMISSION_DENIED",
            );
        }
        let a = info.grant.account;
        let mut body = json!({
            "kind": "youtube#channelListResponse",
            "etag": format!("sbx-etag-{}", a.id),
            "pageInfo": { "totalResults": 0, "resultsPerPage": 5 },
        });
        if let Some(c) = a.channel {
            body["pageInfo"]["totalResults"] = Value::from(1);
            let mut item = json!({
                "kind": "youtube#channel",
                "etag": format!("sbx-etag-{}", c.id),
                "id": c.id,
            });
            if part.split(',').any(|p| p.trim() == "snippet") {
                item["snippet"] = json!({
                    "title": c.title,
                    "description": "",
                    "customUrl": a.handle,
                    "publishedAt": "2015-12-10T12:00:00Z",
                    "thumbnails": { "default": {
                        "url": format!(
                            "{}/__sandbox/avatars/{}.svg",
                            req.sandbox_base("www.googleapis.com"),
                            a.id
                        ),
                        "width": 88,
                        "height": 88,
                    }},
                    "localized": { "title": c.title, "description": "" },
                });
            }
            body["items"] = json!([item]);
        }
        json(200, body)
    })
    .await
}

// ---- publishing ----

/// `videos.insert` calls an app may make per day (PLATFORMS.md §6: "its own bucket of 100
/// calls/day").
pub(crate) const INSERTS_PER_DAY: u32 = 100;
/// An upload session lives a week.
pub(crate) const SESSION_TTL_SECS: i64 = 7 * 86_400;
/// Chunks other than the last are multiples of this many bytes (256 KiB).
const CHUNK_UNIT: u64 = 256 * 1024;
const MAX_TITLE_CHARS: usize = 100;
const MAX_DESCRIPTION_BYTES: usize = 5000;
const MAX_TAGS_CHARS: usize = 500;
/// The Pacific offset the quota day is counted in (UTC−8, ignoring daylight saving).
const PACIFIC_OFFSET_HOURS: i64 = -8;
/// Scopes that may upload.
const UPLOAD_SCOPES: [&str; 3] = [
    "https://www.googleapis.com/auth/youtube.upload",
    "https://www.googleapis.com/auth/youtube",
    "https://www.googleapis.com/auth/youtube.force-ssl",
];
/// Statistics served, with the most each grows per hour.
const STATISTICS: [(&str, u64); 3] = [
    ("viewCount", 2400),
    ("likeCount", 150),
    ("commentCount", 25),
];

/// A resumable upload session.
#[derive(Debug, Clone)]
struct Session {
    account: &'static Account,
    channel: Channel,
    /// Declared or learned total size in bytes.
    total: Option<u64>,
    received: u64,
    created_at: DateTime<Utc>,
    title: String,
    description: String,
    tags: Vec<String>,
    category_id: String,
    privacy: String,
    made_for_kids: bool,
    /// The video once the last byte arrived.
    video_id: Option<String>,
}

/// An uploaded video.
#[derive(Debug, Clone)]
struct Video {
    account: &'static Account,
    resource: Value,
    private: bool,
    published_at: DateTime<Utc>,
}

/// YouTube's publishing state, kept in `Data::platform_state`.
#[derive(Default)]
pub(crate) struct Publishing {
    sessions: HashMap<String, Session>,
    videos: BTreeMap<String, Video>,
    /// `videos.insert` calls per (client id, Pacific day).
    inserts: HashMap<(String, NaiveDate), u32>,
}

fn pacific_day(now: DateTime<Utc>) -> NaiveDate {
    (now + Duration::hours(PACIFIC_OFFSET_HOURS)).date_naive()
}

fn bad_request(message: &str, reason: &str, domain: &str) -> Response {
    api_error(400, message, reason, domain, "INVALID_ARGUMENT")
}

/// The snippet and status fields of an insert.
struct Metadata {
    title: String,
    description: String,
    tags: Vec<String>,
    category_id: String,
    privacy: String,
    made_for_kids: bool,
}

/// Checks the snippet and status of an insert.
fn video_metadata(body: &Value) -> Result<Metadata, Response> {
    let snippet = &body["snippet"];
    let title = snippet["title"].as_str().unwrap_or("").to_string();
    if title.trim().is_empty()
        || title.chars().count() > MAX_TITLE_CHARS
        || title.contains(['<', '>'])
    {
        return Err(bad_request(
            "The request metadata specifies an invalid or empty video title.",
            "invalidTitle",
            "youtube.video",
        ));
    }
    let description = snippet["description"].as_str().unwrap_or("").to_string();
    if description.len() > MAX_DESCRIPTION_BYTES || description.contains(['<', '>']) {
        return Err(bad_request(
            "The request metadata specifies an invalid video description.",
            "invalidDescription",
            "youtube.video",
        ));
    }
    let tags: Vec<String> = snippet["tags"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|t| t.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    if tags.iter().map(|t| t.chars().count()).sum::<usize>() > MAX_TAGS_CHARS {
        return Err(bad_request(
            "The request metadata specifies invalid video keywords.",
            "invalidTags",
            "youtube.video",
        ));
    }
    let category = snippet["categoryId"].as_str().unwrap_or("22").to_string();
    let status = &body["status"];
    let privacy = status["privacyStatus"]
        .as_str()
        .unwrap_or("public")
        .to_string();
    if !["public", "unlisted", "private"].contains(&privacy.as_str()) {
        return Err(bad_request(
            "The request metadata is invalid: privacyStatus must be public, unlisted or private.",
            "invalidVideoMetadata",
            "youtube.video",
        ));
    }
    let kids = status["selfDeclaredMadeForKids"].as_bool().unwrap_or(false);
    Ok(Metadata {
        title,
        description,
        tags,
        category_id: category,
        privacy,
        made_for_kids: kids,
    })
}

async fn insert(State(sb): State<Arc<Shared>>, req: Req) -> Response {
    http::run(&sb, ID, Endpoint::Publish, || {
        let Some(token) = req.bearer() else {
            return unauthenticated();
        };
        let Ok(info) = sb.lock().check_access(ID, token, sb.now()) else {
            return unauthenticated();
        };
        if !info
            .grant
            .scopes
            .iter()
            .any(|s| UPLOAD_SCOPES.contains(&s.as_str()))
        {
            return api_error(
                403,
                "Request had insufficient authentication scopes.",
                "insufficientPermissions",
                "global",
                "PERMISSION_DENIED",
            );
        }
        if req.query.get("uploadType") != Some("resumable") {
            return bad_request(
                "The sandbox serves resumable uploads only: uploadType=resumable.",
                "badRequest",
                "global",
            );
        }
        let Some(part) = req.query.get("part").filter(|p| !p.is_empty()) else {
            return bad_request("Required parameter: part", "required", "global");
        };
        let Some(channel) = info.grant.account.channel else {
            return api_error(
                401,
                "Unauthorized",
                "youtubeSignupRequired",
                "youtube.header",
                "UNAUTHENTICATED",
            );
        };
        let total = match req.header("x-upload-content-length") {
            None => None,
            Some(v) => match v.trim().parse::<u64>() {
                Ok(n) if n > 0 => Some(n),
                _ => {
                    return bad_request(
                        "X-Upload-Content-Length must be a positive number of bytes.",
                        "badRequest",
                        "global",
                    )
                }
            },
        };
        let body = if req.body.is_empty() {
            json!({})
        } else {
            match serde_json::from_slice::<Value>(&req.body) {
                Ok(v @ Value::Object(_)) => v,
                _ => return bad_request("Invalid JSON payload received.", "parseError", "global"),
            }
        };
        let Metadata {
            title,
            description,
            tags,
            category_id,
            mut privacy,
            made_for_kids,
        } = match video_metadata(&body) {
            Ok(m) => m,
            Err(r) => return r,
        };
        if sb.config.unaudited_apps.contains(ID) {
            privacy = "private".to_string();
        }
        let now = sb.now();
        let mut d = sb.lock();
        let st = d.platform_state::<Publishing>();
        let used = st
            .inserts
            .entry((info.grant.client_id.clone(), pacific_day(now)))
            .or_default();
        if *used >= INSERTS_PER_DAY {
            return api_error(
                403,
                "The request cannot be completed because you have exceeded your \
                 <a href=\"/youtube/v3/getting-started#quota\">quota</a>.",
                "quotaExceeded",
                "youtube.quota",
                "PERMISSION_DENIED",
            );
        }
        *used += 1;
        let upload_id = http::random_b64(24);
        st.sessions.insert(
            upload_id.clone(),
            Session {
                account: info.grant.account,
                channel,
                total,
                received: 0,
                created_at: now,
                title,
                description,
                tags,
                category_id,
                privacy,
                made_for_kids,
                video_id: None,
            },
        );
        let location = format!(
            "{}/www.googleapis.com/upload/youtube/v3/videos?uploadType=resumable&part={}&upload_id={upload_id}",
            req.sandbox_base("www.googleapis.com"),
            urlencoding::encode(part)
        );
        let r = with_header(http::empty(200), "location", &location);
        with_header(r, "x-guploader-uploadid", &upload_id)
    })
    .await
}

/// What a `Content-Range` header of a session PUT asks.
enum RangeAsk {
    /// No header: the whole file.
    Whole,
    /// `bytes */N` or `bytes */*`: a progress query.
    Query(Option<u64>),
    /// `bytes a-b/N` or `bytes a-b/*`.
    Chunk(u64, u64, Option<u64>),
}

fn parse_range(value: Option<&str>) -> Option<RangeAsk> {
    let Some(value) = value else {
        return Some(RangeAsk::Whole);
    };
    let rest = value.trim().strip_prefix("bytes ")?;
    let (range, total) = rest.split_once('/')?;
    let total = match total.trim() {
        "*" => None,
        t => Some(t.parse().ok()?),
    };
    if range.trim() == "*" {
        return Some(RangeAsk::Query(total));
    }
    let (a, b) = range.split_once('-')?;
    let (a, b): (u64, u64) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
    if b < a || total.is_some_and(|t| b >= t) {
        return None;
    }
    Some(RangeAsk::Chunk(a, b, total))
}

/// 308 Resume Incomplete with the bytes received so far.
fn incomplete(received: u64) -> Response {
    let r = http::empty(308);
    if received == 0 {
        r
    } else {
        with_header(r, "range", &format!("bytes=0-{}", received - 1))
    }
}

/// The video resource of a finished session: creates it (and records the publication) the
/// first time.
fn finish(d: &mut crate::state::Data, upload_id: &str, now: DateTime<Utc>) -> Response {
    let st = d.platform_state::<Publishing>();
    let Some(s) = st.sessions.get_mut(upload_id) else {
        return http::empty(404);
    };
    if let Some(id) = &s.video_id {
        let resource = st.videos.get(id).map(|v| v.resource.clone());
        return json(200, resource.unwrap_or_else(|| json!({})));
    }
    let id = http::random_b64(8);
    s.video_id = Some(id.clone());
    let s = s.clone();
    let published = now.to_rfc3339_opts(SecondsFormat::Secs, true);
    let resource = json!({
        "kind": "youtube#video",
        "etag": format!("sbx-etag-{id}"),
        "id": id,
        "snippet": {
            "publishedAt": published,
            "channelId": s.channel.id,
            "title": s.title,
            "description": s.description,
            "thumbnails": {},
            "channelTitle": s.channel.title,
            "tags": s.tags,
            "categoryId": s.category_id,
            "liveBroadcastContent": "none",
            "localized": { "title": s.title, "description": s.description },
        },
        "status": {
            "uploadStatus": "uploaded",
            "privacyStatus": s.privacy,
            "license": "youtube",
            "embeddable": true,
            "publicStatsViewable": true,
            "madeForKids": s.made_for_kids,
            "selfDeclaredMadeForKids": s.made_for_kids,
        },
    });
    st.videos.insert(
        id.clone(),
        Video {
            account: s.account,
            resource: resource.clone(),
            private: s.privacy == "private",
            published_at: now,
        },
    );
    d.record_published(PublishedItem {
        id,
        platform: ID,
        account_id: s.account.user_id.to_string(),
        kind: "video".to_string(),
        text: s.title,
        media: Vec::new(),
        published_at: now,
    });
    json(201, resource)
}

async fn upload(State(sb): State<Arc<Shared>>, request: axum::extract::Request) -> Response {
    let (parts, body) = request.into_parts();
    let query = Params::parse(parts.uri.query().unwrap_or("").as_bytes());
    let range = parts
        .headers
        .get("content-range")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let length = super::tiktok::body_len(body, u64::MAX).await;
    http::run(&sb, ID, Endpoint::Upload, || {
        let now = sb.now();
        let upload_id = query.get("upload_id").unwrap_or("").to_string();
        let mut d = sb.lock();
        let st = d.platform_state::<Publishing>();
        let not_found = || api_error(404, "Not Found", "notFound", "global", "NOT_FOUND");
        let Some(s) = st.sessions.get_mut(&upload_id) else {
            return not_found();
        };
        if now - s.created_at >= Duration::seconds(SESSION_TTL_SECS) {
            return not_found();
        }
        if s.video_id.is_some() {
            return finish(&mut d, &upload_id, now);
        }
        let Some(ask) = parse_range(range.as_deref()) else {
            return bad_request("Invalid Content-Range header.", "badRequest", "global");
        };
        let Some(length) = length else {
            return bad_request(
                "The request body could not be read.",
                "badRequest",
                "global",
            );
        };
        let (a, b, total) = match ask {
            RangeAsk::Query(total) => {
                if let (Some(t), Some(known)) = (total, s.total) {
                    if t != known {
                        return bad_request(
                            "The total size differs from the declared size.",
                            "badRequest",
                            "global",
                        );
                    }
                }
                return incomplete(s.received);
            }
            RangeAsk::Whole => {
                if length == 0 {
                    return incomplete(s.received);
                }
                (0, length - 1, Some(length))
            }
            RangeAsk::Chunk(a, b, total) => (a, b, total),
        };
        if let (Some(t), Some(known)) = (total, s.total) {
            if t != known {
                return bad_request(
                    "The total size differs from the declared size.",
                    "badRequest",
                    "global",
                );
            }
        }
        if a != s.received {
            return bad_request(
                &format!(
                    "Invalid request. According to the Content-Range header, the upload offset \
                     is {a} byte(s), which does not match the {} byte(s) already uploaded.",
                    s.received
                ),
                "badRequest",
                "global",
            );
        }
        if length != b - a + 1 {
            return bad_request(
                "The body length does not match the Content-Range header.",
                "badRequest",
                "global",
            );
        }
        let total = total.or(s.total);
        let last = total.is_some_and(|t| b + 1 == t);
        if !last && length % CHUNK_UNIT != 0 {
            return bad_request(
                &format!(
                    "Invalid request. The number of bytes uploaded is required to be equal or \
                     greater than 262144, except for the final request (it's recommended to be \
                     the exact multiple of 262144). The received request contained {length} \
                     bytes, which does not meet this requirement."
                ),
                "badRequest",
                "global",
            );
        }
        s.total = total;
        s.received = b + 1;
        if last {
            finish(&mut d, &upload_id, now)
        } else {
            incomplete(s.received)
        }
    })
    .await
}

async fn list_videos(State(sb): State<Arc<Shared>>, req: Req) -> Response {
    http::run(&sb, ID, Endpoint::Metrics, || {
        let Some(token) = req.bearer() else {
            return unauthenticated();
        };
        let Ok(info) = sb.lock().check_access(ID, token, sb.now()) else {
            return unauthenticated();
        };
        let Some(part) = req.query.get("part").filter(|p| !p.is_empty()) else {
            return bad_request("Required parameter: part", "required", "global");
        };
        let parts: Vec<&str> = part.split(',').map(str::trim).collect();
        if let Some(p) = parts
            .iter()
            .find(|p| !["id", "snippet", "status", "statistics"].contains(p))
        {
            return bad_request(&format!("'{p}'"), "unknownPart", "youtube.part");
        }
        let Some(ids) = req.query.get("id").filter(|i| !i.is_empty()) else {
            return bad_request(
                "No filter selected. Expected one of: id, myRating, chart.",
                "missingRequiredParameter",
                "youtube.parameter",
            );
        };
        if !info
            .grant
            .scopes
            .iter()
            .any(|s| CHANNEL_READ_SCOPES.contains(&s.as_str()))
        {
            return api_error(
                403,
                "Request had insufficient authentication scopes.",
                "insufficientPermissions",
                "global",
                "PERMISSION_DENIED",
            );
        }
        let now = sb.now();
        let mut d = sb.lock();
        let st = d.platform_state::<Publishing>();
        let mut items = Vec::new();
        for id in ids.split(',').map(str::trim) {
            let Some(v) = st.videos.get(id) else {
                continue;
            };
            if v.private && v.account.id != info.grant.account.id {
                continue;
            }
            let mut item = json!({
                "kind": "youtube#video",
                "etag": v.resource["etag"],
                "id": id,
            });
            for p in &parts {
                match *p {
                    "snippet" => item["snippet"] = v.resource["snippet"].clone(),
                    "status" => item["status"] = v.resource["status"].clone(),
                    "statistics" => {
                        let elapsed = (now - v.published_at).num_seconds();
                        let mut stats = serde_json::Map::new();
                        for (name, per_hour) in STATISTICS {
                            stats.insert(
                                name.to_string(),
                                Value::from(grown_metric(id, name, elapsed, per_hour).to_string()),
                            );
                        }
                        stats.insert("favoriteCount".into(), Value::from("0"));
                        item["statistics"] = Value::Object(stats);
                    }
                    _ => {}
                }
            }
            items.push(item);
        }
        json(
            200,
            json!({
                "kind": "youtube#videoListResponse",
                "etag": format!("sbx-etag-list-{}", items.len()),
                "items": items,
                "pageInfo": { "totalResults": items.len(), "resultsPerPage": items.len() },
            }),
        )
    })
    .await
}
