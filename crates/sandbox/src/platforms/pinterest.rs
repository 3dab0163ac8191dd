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

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};

use crate::consent::{self, no_check, AuthorizeRules, ErrorPage, ErrorStyle, PageError, PkceRule};
use crate::http::{self, json, token_json, Basic, Req};
use crate::state::{ClientCheck, Endpoint, Issued, RefreshLifetime, Shared, TokenKind};

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
    Router::new()
        .route("/www.pinterest.com/oauth/", get(authorize).post(authorize))
        .route("/api.pinterest.com/v5/oauth/token", post(token))
        .route("/api.pinterest.com/v5/user_account", get(user_account))
        .route("/api.pinterest.com/v5/boards", get(boards))
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
                    req.sandbox_base("api.pinterest.com"),
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
