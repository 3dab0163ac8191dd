//! LinkedIn: Sign In with LinkedIn (OpenID Connect). PLATFORMS.md §2.
//!
//! - Authorize `www.linkedin.com/oauth/v2/authorization`: scopes separated by spaces, no PKCE,
//!   unknown scopes come back as `error=unauthorized_scope_error`.
//! - Token `POST www.linkedin.com/oauth/v2/accessToken`: `client_id` and `client_secret` in the
//!   form body. A bad code gets LinkedIn's catch-all `invalid_request` "Unable to retrieve
//!   access token: appid/redirect uri/code verifier does not match authorization code. Or
//!   authorization code expired. Or external member binding exists".
//! - Access tokens last 5184000 s (60 days); `scope` is reported comma-separated.
//! - Refresh tokens only for partner apps (`SandboxConfig::linkedin_refresh_tokens`): 365 days
//!   counted from the **first** grant of this member to this app, never renewed; refreshing
//!   returns the same refresh token with the remaining `refresh_token_expires_in`.
//! - Revoke `POST www.linkedin.com/oauth/v2/revoke` (`client_id, client_secret, token`).
//! - Profile `GET api.linkedin.com/v2/userinfo`; missing, invalid, expired and revoked tokens
//!   all get `{"status":401,"serviceErrorCode":65600,"code":"INVALID_ACCESS_TOKEN",…}`.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};

use crate::consent::{self, no_check, AuthorizeRules, ErrorPage, ErrorStyle, PageError, PkceRule};
use crate::http::{self, json, token_json, Req};
use crate::state::{secs_until, ClientCheck, Endpoint, RefreshLifetime, Shared, TokenKind};

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
        "token_type": "Bearer",
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
            "token_type": "Bearer",
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
