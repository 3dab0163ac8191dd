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

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};

use crate::consent::{self, no_check, AuthorizeRules, ErrorPage, ErrorStyle, PageError, PkceRule};
use crate::http::{self, json, token_json, Basic, Req};
use crate::state::{CodeError, Endpoint, RefreshLifetime, Shared, TokenKind};

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
