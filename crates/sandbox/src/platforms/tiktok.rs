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
//!   `PUBLIC_TO_EVERYONE`.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};

use crate::accounts::Account;
use crate::consent::{self, no_check, AuthorizeRules, ErrorPage, ErrorStyle, PageError, PkceRule};
use crate::http::{self, json, token_json, Req};
use crate::state::{
    secs_until, ClientCheck, CodeError, Endpoint, Grant, RefreshLifetime, Shared, TokenKind,
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
                    "privacy_level_options": a.privacy_levels,
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
