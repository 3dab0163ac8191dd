//! Facebook Login (manual flow) and the Graph API. PLATFORMS.md §3.
//!
//! - Every path carries a Graph version segment; any `vNN.N` is accepted.
//! - Authorize `www.facebook.com/vNN.N/dialog/oauth`: scopes separated by commas, no PKCE,
//!   `response_type` defaults to `code`, `public_profile` when no scope is given; bad requests
//!   are error pages ("URL blocked", "Invalid Scopes"); redirects end with `#_=_`; a denial
//!   carries `error_reason=user_denied`.
//! - Token `GET graph.facebook.com/vNN.N/oauth/access_token?client_id&redirect_uri&client_secret&code`
//!   (POST accepted too) → short-lived `{access_token, token_type:"bearer", expires_in:5400}`.
//!   The same endpoint with `grant_type=fb_exchange_token&fb_exchange_token=…` → long-lived
//!   (`expires_in` 5183944). An expired token cannot be exchanged. There are no refresh tokens.
//! - `GET /me/accounts` lists the account's Pages with Page tokens: they never expire when asked
//!   for with a long-lived user token, and expire with the user token otherwise.
//! - `GET /{page-id}` reads a Page with its Page token (or the user token of a manager).
//! - `DELETE /me/permissions` de-authorizes the app: every token of the account dies.
//! - Every error, OAuth endpoints included, is Graph's envelope
//!   `{"error":{"message","type":"OAuthException","code","error_subcode","fbtrace_id"}}`
//!   with HTTP 400: 190/463 expired, 190/467 invalid, 190/458 app de-authorized, 100 bad
//!   parameter (36007/36008/36009 for codes), 101 bad client id or secret.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};

use crate::consent::{self, no_check, AuthorizeRules, ErrorPage, ErrorStyle, PageError, PkceRule};
use crate::http::{self, json, token_json, with_header, Req};
use crate::state::{
    ClientCheck, CodeError, Endpoint, RefreshLifetime, Shared, TokenError, TokenInfo, TokenKind,
};

const ID: &str = "facebook";
/// Short-lived user token lifetime in seconds (the code exchange).
const SHORT_TTL: i64 = 5400;
/// Long-lived user token lifetime in seconds (`fb_exchange_token`).
pub(crate) const LONG_TTL: i64 = 5_183_944;

pub(crate) static AUTHORIZE: AuthorizeRules = AuthorizeRules {
    platform: ID,
    display_name: "Facebook",
    brand_color: "#1877f2",
    client_param: "client_id",
    scope_separators: &[',', ' '],
    default_scopes: &["public_profile"],
    known_scopes: &[
        "public_profile",
        "email",
        "pages_show_list",
        "pages_read_engagement",
        "pages_manage_posts",
        "pages_manage_metadata",
        "pages_manage_engagement",
        "pages_read_user_content",
        "read_insights",
        "business_management",
        "publish_video",
        "instagram_basic",
        "instagram_content_publish",
        "instagram_manage_comments",
        "instagram_manage_insights",
    ],
    scope_error: "invalid_scope",
    request_errors: ErrorStyle::Page,
    pkce: PkceRule::Ignored,
    state_required: false,
    max_state_len: None,
    response_type_optional: true,
    code_ttl_secs: 600,
    fragment: "#_=_",
    deny_description: "Permissions error",
    deny_extra: &[("error_code", "200"), ("error_reason", "user_denied")],
    page: error_page,
    check: no_check,
};

fn error_page(e: &PageError) -> ErrorPage {
    match e {
        PageError::MissingClient | PageError::ClientIdNotClientKey => {
            ErrorPage::new(400, "Invalid App ID", "The parameter app_id is required.")
        }
        PageError::UnknownClient(_) => ErrorPage::new(
            400,
            "Invalid App ID",
            "The provided app ID does not look like a valid app ID.",
        ),
        PageError::MissingRedirect => {
            ErrorPage::new(400, "Error", "The parameter redirect_uri is required.")
        }
        PageError::RedirectMismatch(_) => ErrorPage::new(
            400,
            "URL blocked",
            "This redirect failed because the redirect URI is not whitelisted in the app's Client \
             OAuth Settings. Make sure that Client and Web OAuth Login are on and add all your app \
             domains as Valid OAuth Redirect URIs.",
        ),
        PageError::Request(p) if p.error == "invalid_scope" => ErrorPage::new(
            400,
            "Invalid Scopes",
            format!(
                "Invalid Scopes: {}. This message is only shown to developers.",
                p.description
            ),
        ),
        PageError::Request(p) => ErrorPage::new(400, "Error", p.description.clone()),
    }
}

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route(
            "/www.facebook.com/{version}/dialog/oauth",
            get(authorize).post(authorize),
        )
        .route(
            "/graph.facebook.com/{version}/oauth/access_token",
            get(access_token).post(access_token),
        )
        .route("/graph.facebook.com/{version}/me", get(me))
        .route("/graph.facebook.com/{version}/me/accounts", get(accounts))
        .route("/graph.facebook.com/{version}/{node}", get(node))
        .route(
            "/graph.facebook.com/{version}/me/permissions",
            get(permissions).delete(deauthorize),
        )
}

/// The version segment after `/{host}/`, if it is a Graph version (`v22.0`).
pub(crate) fn graph_version<'a>(req: &'a Req, host: &str) -> Option<&'a str> {
    let marker = format!("/{host}/");
    let i = req.path.find(&marker)? + marker.len();
    let seg = req.path[i..].split('/').next()?;
    let (major, minor) = seg.strip_prefix('v')?.split_once('.')?;
    let digits = |s: &str| !s.is_empty() && s.len() <= 3 && s.chars().all(|c| c.is_ascii_digit());
    (digits(major) && digits(minor)).then_some(seg)
}

/// Graph's error envelope, with `WWW-Authenticate` on token errors like Graph sends.
pub(crate) fn graph_error(status: u16, message: &str, code: i64, subcode: Option<i64>) -> Response {
    let mut err = json!({
        "message": message,
        "type": "OAuthException",
        "code": code,
        "fbtrace_id": http::trace_id(),
    });
    if let Some(s) = subcode {
        err["error_subcode"] = Value::from(s);
    }
    let r = json(status, json!({ "error": err }));
    if code == 190 {
        with_header(
            r,
            "www-authenticate",
            &format!("OAuth \"Facebook Platform\" \"invalid_token\" \"{message}\""),
        )
    } else {
        r
    }
}

/// The 190 error for a token that does not pass.
pub(crate) fn token_error(e: TokenError) -> Response {
    match e {
        TokenError::Expired => graph_error(
            400,
            "Error validating access token: Session has expired.",
            190,
            Some(463),
        ),
        TokenError::Revoked => graph_error(
            400,
            "Error validating access token: The user has not authorized application.",
            190,
            Some(458),
        ),
        TokenError::Unknown | TokenError::Retired => graph_error(
            400,
            "Invalid OAuth access token - Cannot parse access token",
            190,
            Some(467),
        ),
    }
}

fn bad_version() -> Response {
    graph_error(
        400,
        "Unknown path components: unsupported Graph API version",
        2500,
        None,
    )
}

async fn authorize(State(sb): State<Arc<Shared>>, req: Req) -> Response {
    if graph_version(&req, "www.facebook.com").is_none() {
        return http::html(
            404,
            "<!doctype html><title>Page not found</title><p>This page isn't available. \
             (Unknown Graph API version in the path.)</p>"
                .to_string(),
        );
    }
    consent::authorize(&sb, &AUTHORIZE, req).await
}

/// The app's credentials (`client_id`, `client_secret` in the query or body).
fn app(sb: &Shared, req: &Req) -> Result<String, Response> {
    let Some(id) = req.param("client_id").filter(|s| !s.is_empty()) else {
        return Err(graph_error(400, "Missing client_id parameter.", 101, None));
    };
    let secret = req.param("client_secret").unwrap_or("");
    match sb.check_client(ID, id, secret) {
        ClientCheck::Ok => Ok(id.to_string()),
        ClientCheck::UnknownClient => Err(graph_error(
            400,
            "Error validating application. Invalid application ID.",
            101,
            None,
        )),
        ClientCheck::BadSecret => Err(graph_error(
            400,
            "Error validating client secret.",
            101,
            Some(1),
        )),
    }
}

async fn access_token(State(sb): State<Arc<Shared>>, req: Req) -> Response {
    if graph_version(&req, "graph.facebook.com").is_none() {
        return bad_version();
    }
    if req.param("grant_type") == Some("fb_exchange_token") {
        http::run(&sb, ID, Endpoint::Exchange, || long_lived(&sb, &req)).await
    } else {
        http::run(&sb, ID, Endpoint::Token, || code_exchange(&sb, &req)).await
    }
}

fn code_error(message: &str, subcode: Option<i64>) -> Response {
    let r = graph_error(400, message, 100, subcode);
    with_header(
        r,
        "www-authenticate",
        &format!("OAuth \"Facebook Platform\" \"invalid_code\" \"{message}\""),
    )
}

fn code_exchange(sb: &Shared, req: &Req) -> Response {
    let client_id = match app(sb, req) {
        Ok(c) => c,
        Err(r) => return r,
    };
    if let Some(g) = req
        .param("grant_type")
        .filter(|g| *g != "authorization_code")
    {
        return graph_error(400, &format!("Unsupported grant_type: {g}"), 100, None);
    }
    let Some(redirect_uri) = req.param("redirect_uri") else {
        return graph_error(400, "Missing redirect_uri parameter.", 191, None);
    };
    let Some(code) = req.param("code").filter(|c| !c.is_empty()) else {
        return graph_error(400, "Missing code parameter.", 100, None);
    };
    let now = sb.now();
    let mut d = sb.lock();
    let c = match d.redeem_code(ID, code, &client_id, Some(redirect_uri), None, now) {
        Ok(c) => c,
        Err(CodeError::Used) => {
            return code_error("This authorization code has been used.", Some(36009))
        }
        Err(CodeError::Expired) => {
            return code_error("This authorization code has expired.", Some(36007))
        }
        Err(CodeError::RedirectMismatch) => {
            return code_error(
                "Error validating verification code. Please make sure your redirect_uri is \
                 identical to the one you used in the OAuth dialog request",
                Some(36008),
            )
        }
        Err(_) => return code_error("Invalid verification code format.", None),
    };
    let grant = d.new_grant(&c, now, RefreshLifetime::None);
    let access = d.issue(
        &grant,
        TokenKind::Access,
        Some(sb.access_ttl(ID, SHORT_TTL)),
        false,
        now,
    );
    token_json(
        200,
        json!({
            "access_token": access.token,
            "token_type": "bearer",
            "expires_in": access.expires_in(now),
        }),
    )
}

fn long_lived(sb: &Shared, req: &Req) -> Response {
    let client_id = match app(sb, req) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let Some(token) = req.param("fb_exchange_token").filter(|t| !t.is_empty()) else {
        return graph_error(400, "Missing fb_exchange_token parameter.", 100, None);
    };
    let now = sb.now();
    let mut d = sb.lock();
    let info = match d.check_access(ID, token, now) {
        Ok(i) if i.grant.client_id == client_id && i.kind == TokenKind::Access => i,
        Ok(_) => return token_error(TokenError::Unknown),
        Err(e) => return token_error(e),
    };
    let long = d.issue(&info.grant, TokenKind::Access, Some(LONG_TTL), true, now);
    token_json(
        200,
        json!({
            "access_token": long.token,
            "token_type": "bearer",
            "expires_in": long.expires_in(now),
        }),
    )
}

/// The access token of a Graph call: `Authorization: Bearer`, or `access_token` in the query
/// or body.
pub(crate) fn graph_token(req: &Req) -> Option<&str> {
    req.bearer()
        .or_else(|| req.param("access_token").filter(|t| !t.is_empty()))
}

/// Checks the token of a Graph call on this platform.
fn authenticated(sb: &Shared, req: &Req) -> Result<TokenInfo, Response> {
    let Some(token) = graph_token(req) else {
        return Err(graph_error(
            400,
            "An active access token must be used to query information about the current user.",
            2500,
            None,
        ));
    };
    sb.lock()
        .check_access(ID, token, sb.now())
        .map_err(token_error)
}

/// The `fields` parameter, or the defaults.
fn fields<'a>(req: &'a Req, default: &'a str) -> Vec<&'a str> {
    req.param("fields")
        .filter(|f| !f.trim().is_empty())
        .unwrap_or(default)
        .split(',')
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .collect()
}

fn no_field(field: &str, node: &str) -> Response {
    graph_error(
        400,
        &format!("(#100) Tried accessing nonexisting field ({field}) on node type ({node})"),
        100,
        None,
    )
}

async fn me(State(sb): State<Arc<Shared>>, req: Req) -> Response {
    if graph_version(&req, "graph.facebook.com").is_none() {
        return bad_version();
    }
    http::run(&sb, ID, Endpoint::Profile, || {
        let info = match authenticated(&sb, &req) {
            Ok(i) => i,
            Err(r) => return r,
        };
        let a = info.grant.account;
        // A Page token reads the Page.
        if let TokenKind::Page(page_id) = info.kind {
            let Some(page) = a.pages.iter().find(|p| p.id == page_id) else {
                return token_error(TokenError::Unknown);
            };
            let mut body = json!({ "id": page.id });
            for f in fields(&req, "id,name") {
                match f {
                    "id" => {}
                    "name" => body["name"] = Value::from(page.name),
                    "category" => body["category"] = Value::from(page.category),
                    other => return no_field(other, "Page"),
                }
            }
            return json(200, body);
        }
        let mut body = json!({ "id": a.user_id });
        for f in fields(&req, "id,name") {
            match f {
                "id" => {}
                "name" => body["name"] = Value::from(a.name),
                "first_name" => body["first_name"] = Value::from(a.given_name()),
                "last_name" => body["last_name"] = Value::from(a.family_name()),
                "short_name" => body["short_name"] = Value::from(a.given_name()),
                "picture" => {
                    body["picture"] = json!({ "data": {
                        "height": 50,
                        "is_silhouette": false,
                        "url": format!("{}/__sandbox/avatars/{}.svg", req.sandbox_base("graph.facebook.com"), a.id),
                        "width": 50,
                    }})
                }
                "email" => {
                    // Graph leaves the field out when the email permission was not granted.
                    if info.grant.scopes.iter().any(|s| s == "email") {
                        if let Some(e) = a.email {
                            body["email"] = Value::from(e);
                        }
                    }
                }
                other => return no_field(other, "User"),
            }
        }
        json(200, body)
    })
    .await
}

/// `GET /{page-id}?fields=id,name,category`: a Page node, readable with that Page's token or
/// with the user token of a person who manages it. Other ids get Graph's error 100/33.
async fn node(State(sb): State<Arc<Shared>>, req: Req) -> Response {
    if graph_version(&req, "graph.facebook.com").is_none() {
        return bad_version();
    }
    http::run(&sb, ID, Endpoint::Profile, || {
        let info = match authenticated(&sb, &req) {
            Ok(i) => i,
            Err(r) => return r,
        };
        let id = req.path.rsplit('/').next().unwrap_or_default();
        let page = info.grant.account.pages.iter().find(|p| p.id == id);
        let readable = match info.kind {
            TokenKind::Page(p) => p == id,
            _ => true,
        };
        let Some(page) = page.filter(|_| readable) else {
            return graph_error(
                400,
                &format!(
                    "Unsupported get request. Object with ID '{id}' does not exist, cannot be \
                     loaded due to missing permissions, or does not support this operation."
                ),
                100,
                Some(33),
            );
        };
        let mut body = json!({ "id": page.id });
        for f in fields(&req, "id,name") {
            match f {
                "id" => {}
                "name" => body["name"] = Value::from(page.name),
                "category" => body["category"] = Value::from(page.category),
                other => return no_field(other, "Page"),
            }
        }
        json(200, body)
    })
    .await
}

async fn accounts(State(sb): State<Arc<Shared>>, req: Req) -> Response {
    if graph_version(&req, "graph.facebook.com").is_none() {
        return bad_version();
    }
    http::run(&sb, ID, Endpoint::Profile, || {
        let info = match authenticated(&sb, &req) {
            Ok(i) => i,
            Err(r) => return r,
        };
        if matches!(info.kind, TokenKind::Page(_)) {
            return no_field("accounts", "Page");
        }
        if !info.grant.scopes.iter().any(|s| s == "pages_show_list") {
            return graph_error(
                400,
                "(#200) Requires pages_show_list permission to manage the object",
                200,
                None,
            );
        }
        let wanted = fields(&req, "access_token,category,name,id,tasks");
        if let Some(bad) = wanted
            .iter()
            .find(|f| !["id", "name", "access_token", "category", "tasks"].contains(f))
        {
            return no_field(bad, "Page");
        }
        // Page tokens from a long-lived user token never expire; otherwise they end with it.
        let page_expiry = if info.long_lived {
            None
        } else {
            info.expires_at
        };
        let now = sb.now();
        let mut d = sb.lock();
        let mut data = Vec::new();
        for page in info.grant.account.pages {
            let mut item = json!({ "id": page.id });
            for f in &wanted {
                match *f {
                    "name" => item["name"] = Value::from(page.name),
                    "category" => item["category"] = Value::from(page.category),
                    "tasks" => {
                        item["tasks"] = json!([
                            "ANALYZE",
                            "ADVERTISE",
                            "MODERATE",
                            "CREATE_CONTENT",
                            "MANAGE"
                        ])
                    }
                    "access_token" => {
                        let token = d
                            .existing_page_token(info.grant.id, page.id, page_expiry, now)
                            .unwrap_or_else(|| {
                                d.issue_until(
                                    &info.grant,
                                    TokenKind::Page(page.id),
                                    page_expiry,
                                    info.long_lived,
                                    now,
                                )
                                .token
                            });
                        item["access_token"] = Value::from(token);
                    }
                    _ => {}
                }
            }
            data.push(item);
        }
        let cursor = http::random_b64(12);
        json(
            200,
            json!({ "data": data, "paging": { "cursors": { "before": cursor, "after": cursor } } }),
        )
    })
    .await
}

async fn permissions(State(sb): State<Arc<Shared>>, req: Req) -> Response {
    if graph_version(&req, "graph.facebook.com").is_none() {
        return bad_version();
    }
    let info = match authenticated(&sb, &req) {
        Ok(i) => i,
        Err(r) => return r,
    };
    let data: Vec<Value> = info
        .grant
        .scopes
        .iter()
        .map(|s| json!({ "permission": s, "status": "granted" }))
        .collect();
    json(200, json!({ "data": data }))
}

async fn deauthorize(State(sb): State<Arc<Shared>>, req: Req) -> Response {
    if graph_version(&req, "graph.facebook.com").is_none() {
        return bad_version();
    }
    http::run(&sb, ID, Endpoint::Revoke, || {
        let info = match authenticated(&sb, &req) {
            Ok(i) => i,
            Err(r) => return r,
        };
        let g = &info.grant;
        let mut d = sb.lock();
        d.revoke_all(ID, &g.client_id, g.account.id);
        json(200, json!({ "success": true }))
    })
    .await
}
