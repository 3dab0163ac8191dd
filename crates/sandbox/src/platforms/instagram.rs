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

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use chrono::Duration;
use serde_json::{json, Value};

use super::facebook::{graph_error, graph_token, token_error, LONG_TTL};
use crate::consent::{self, no_check, AuthorizeRules, ErrorPage, ErrorStyle, PageError, PkceRule};
use crate::http::{self, json, token_json, Req};
use crate::state::{ClientCheck, CodeError, Endpoint, RefreshLifetime, Shared, TokenKind};

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
