//! Facebook Login (manual flow) and the Graph API. PLATFORMS.md §3.
//!
//! - Every path carries a Graph version segment: a released version (the Graph changelog's
//!   table, on the sandbox clock) is served, a retired one too (Meta serves it with the oldest
//!   available version), a version never released is `(#2500) Unknown path components`.
//! - Authorize `www.facebook.com/vNN.N/dialog/oauth`: scopes separated by commas, no PKCE,
//!   `response_type` defaults to `code`, `public_profile` when no scope is given; bad requests
//!   are error pages ("URL blocked", "Invalid Scopes"); redirects end with `#_=_`; a denial
//!   carries `error_reason=user_denied`.
//! - Token `GET graph.facebook.com/vNN.N/oauth/access_token?client_id&redirect_uri&client_secret&code`
//!   (POST accepted too) → short-lived `{access_token, token_type:"bearer", expires_in:5400}`.
//!   The same endpoint with `grant_type=fb_exchange_token&fb_exchange_token=…` → long-lived
//!   (`expires_in` 5183944). An expired token cannot be exchanged. There are no refresh tokens.
//! - `GET /me/accounts` lists the account's Pages with Page tokens: they never expire when asked
//!   for with a long-lived user token, and expire with the user token otherwise. Pages the
//!   person reaches only through a Business portfolio are not there: `GET /me/businesses`,
//!   then `GET /{business-id}/owned_pages` and `/client_pages` (same shape) list them, each
//!   needing `business_management` (the `fb-business` test account).
//! - `GET /{page-id}` reads a Page with its Page token (or the user token of a manager).
//! - `DELETE /me/permissions` de-authorizes the app: every token of the account dies.
//! - Every error, OAuth endpoints included, is Graph's envelope
//!   `{"error":{"message","type":"OAuthException","code","error_subcode","fbtrace_id"}}`
//!   with HTTP 400: 190/463 expired, 190/467 invalid, 190/458 app de-authorized, 100 bad
//!   parameter (36007/36008/36009 for codes), 101 bad client id or secret.
//!
//! Publishing, always with the Page's own token (a user token, another Page's token or a
//! missing `pages_manage_posts`/`pages_read_engagement` is `(#200)` with HTTP 403):
//! - `POST /{page-id}/feed` (`message`, `link?`, `attached_media?`) → `{"id":"{page}_{post}"}`.
//! - `POST /{page-id}/photos` (`url` or multipart `source`, `caption`/`message`, `published`)
//!   → `{id, post_id}`; `published=false` → `{id}` for a later `/feed` with `attached_media`.
//! - `POST /{page-id}/videos` (`file_url` or `source`, `description`) → `{id}`.
//! - The same message on the same Page within 24 h → `(#506) Duplicate status message`; a
//!   message containing [`POLICY_BLOCK_MARKER`] → `(#368)`; over 63,206 characters → `(#100)`.
//! - Every publishing call answers `X-App-Usage` and `X-Business-Use-Case-Usage`.
//! - `GET /{page-id}/feed?fields=id,message,created_time&limit=` (`pages_read_engagement`, the
//!   Page's token): the Page's posts (photo and video posts included), newest first.
//! - Metrics: `GET /{post-id}/insights?metric=post_media_view,post_total_media_view_unique,
//!   post_reactions_by_type_total,post_clicks` (`read_insights`) in Graph's `data[]` shape; the
//!   retired `post_impressions*` and `post_engaged_users` fail the whole call with `(#100)`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};

use crate::consent::{self, no_check, AuthorizeRules, ErrorPage, ErrorStyle, PageError, PkceRule};
use crate::http::{self, json, token_json, with_header, Req};
use crate::state::{
    grown_metric, ClientCheck, CodeError, Endpoint, PublishedItem, RefreshLifetime, Shared,
    TokenError, TokenInfo, TokenKind,
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
        .route(
            "/graph.facebook.com/{version}/me/businesses",
            get(businesses),
        )
        .route(
            "/graph.facebook.com/{version}/{node}/owned_pages",
            get(owned_pages),
        )
        .route(
            "/graph.facebook.com/{version}/{node}/client_pages",
            get(client_pages),
        )
        .route("/graph.facebook.com/{version}/{node}", get(node))
        .route(
            "/graph.facebook.com/{version}/me/permissions",
            get(permissions).delete(deauthorize),
        )
        .merge(publishing_routes())
}

/// The version segment after `/{host}/`, if it is a Graph version Meta serves on the sandbox
/// clock's day: one of the released versions of the Graph changelog
/// (<https://developers.facebook.com/docs/graph-api/changelog/versions/>, the catalog's
/// `[versioning]` table of `facebook`), released by `now`. A version past its "available
/// until" date, or older than the table, still answers: Meta serves such calls with the oldest
/// available version (<https://developers.facebook.com/docs/graph-api/guides/versioning>). A
/// version never released (`v99.0`, `v22.5`, or one released after `now`) is `None`: Graph
/// answers it `(#2500) Unknown path components`.
pub(crate) fn graph_version<'a>(sb: &Shared, req: &'a Req, host: &str) -> Option<&'a str> {
    let marker = format!("/{host}/");
    let i = req.path.find(&marker)? + marker.len();
    let seg = req.path[i..].split('/').next()?;
    served_graph_version(seg, sb.now().date_naive()).then_some(seg)
}

/// Whether Graph serves `seg` (`v26.0`) on `today`; see [`graph_version`].
pub(crate) fn served_graph_version(seg: &str, today: chrono::NaiveDate) -> bool {
    let Some((major, minor)) = seg.strip_prefix('v').and_then(|r| r.split_once('.')) else {
        return false;
    };
    let digits = |s: &str| !s.is_empty() && s.len() <= 3 && s.chars().all(|c| c.is_ascii_digit());
    if !(digits(major) && digits(minor)) {
        return false;
    }
    let table = graph_versions();
    if let Some(k) = table.iter().find(|k| k.version == seg) {
        return k.released.is_none_or(|r| r <= today);
    }
    // Older than every listed version: retired long ago, served by the oldest available.
    let oldest = table
        .iter()
        .filter_map(|k| k.version[1..].split('.').next()?.parse::<u32>().ok())
        .min()
        .unwrap_or(0);
    major.parse::<u32>().is_ok_and(|m| m < oldest)
}

/// Meta's released Graph versions, from the catalog (`facebook.toml` `[versioning]`).
fn graph_versions() -> &'static [switchboard_core::catalog::KnownVersion] {
    static TABLE: std::sync::OnceLock<Vec<switchboard_core::catalog::KnownVersion>> =
        std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        switchboard_core::Catalog::builtin()
            .ok()
            .and_then(|c| c.get("facebook")?.versioning.clone())
            .map(|v| v.versions)
            .unwrap_or_default()
    })
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

/// Graph's answer to a path whose version segment is not a served version: the segment is
/// read as a node and the rest as unknown path components (code 2500, as Graph answers e.g.
/// `v2.80`).
fn bad_version(req: &Req) -> Response {
    let rest = req
        .path
        .split_once("/graph.facebook.com/")
        .and_then(|(_, r)| r.split_once('/'))
        .map_or(String::new(), |(_, r)| format!("/{r}"));
    graph_error(400, &format!("Unknown path components: {rest}"), 2500, None)
}

async fn authorize(State(sb): State<Arc<Shared>>, req: Req) -> Response {
    if graph_version(&sb, &req, "www.facebook.com").is_none() {
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
    if graph_version(&sb, &req, "graph.facebook.com").is_none() {
        return bad_version(&req);
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
    if graph_version(&sb, &req, "graph.facebook.com").is_none() {
        return bad_version(&req);
    }
    http::run(&sb, ID, Endpoint::Profile, || {
        let info = match authenticated(&sb, &req) {
            Ok(i) => i,
            Err(r) => return r,
        };
        let a = info.grant.account;
        // A Page token reads the Page.
        if let TokenKind::Page(page_id) = info.kind {
            let Some(page) = a.find_page(page_id) else {
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
    if graph_version(&sb, &req, "graph.facebook.com").is_none() {
        return bad_version(&req);
    }
    http::run(&sb, ID, Endpoint::Profile, || {
        let info = match authenticated(&sb, &req) {
            Ok(i) => i,
            Err(r) => return r,
        };
        let id = req.path.rsplit('/').next().unwrap_or_default();
        let page = info.grant.account.find_page(id);
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
    if graph_version(&sb, &req, "graph.facebook.com").is_none() {
        return bad_version(&req);
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
        list_pages(&sb, &req, &info, info.grant.account.pages)
    })
    .await
}

/// A Graph list of `pages` with the asked `fields` (`id`, `name`, `category`, `tasks`,
/// `access_token`: a Page token that never expires when the user token is long-lived, else
/// ends with it), as `/me/accounts` and the Business Page edges answer.
fn list_pages(
    sb: &Shared,
    req: &Req,
    info: &TokenInfo,
    pages: &'static [crate::accounts::Page],
) -> Response {
    let wanted = fields(req, "access_token,category,name,id,tasks");
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
    for page in pages {
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
}

/// The `(#200)` of a Business call without `business_management`.
fn needs_business_management() -> Response {
    graph_error(
        400,
        "(#200) Requires business_management permission to manage the object",
        200,
        None,
    )
}

/// `GET /me/businesses?fields=id,name` (`business_management`): the Business portfolios the
/// person has a role in (User node edge `businesses`, `shared/reference/meta/User.json`).
async fn businesses(State(sb): State<Arc<Shared>>, req: Req) -> Response {
    if graph_version(&sb, &req, "graph.facebook.com").is_none() {
        return bad_version(&req);
    }
    http::run(&sb, ID, Endpoint::Profile, || {
        let info = match authenticated(&sb, &req) {
            Ok(i) => i,
            Err(r) => return r,
        };
        if matches!(info.kind, TokenKind::Page(_)) {
            return no_field("businesses", "Page");
        }
        if !info.grant.scopes.iter().any(|s| s == "business_management") {
            return needs_business_management();
        }
        let mut data = Vec::new();
        for b in info.grant.account.businesses {
            let mut item = json!({ "id": b.id });
            for f in fields(&req, "id,name") {
                match f {
                    "id" => {}
                    "name" => item["name"] = Value::from(b.name),
                    other => return no_field(other, "Business"),
                }
            }
            data.push(item);
        }
        json(200, json!({ "data": data, "paging": {} }))
    })
    .await
}

/// `GET /{business-id}/owned_pages` and `GET /{business-id}/client_pages`
/// (`business_management`, a Business the person has a role in): its Pages, in the shape of
/// `/me/accounts` (Business node edges, `shared/reference/meta/Business.json`).
async fn owned_pages(
    sb: State<Arc<Shared>>,
    Path((_, business)): Path<(String, String)>,
    req: Req,
) -> Response {
    business_pages(sb, business, true, req).await
}

async fn client_pages(
    sb: State<Arc<Shared>>,
    Path((_, business)): Path<(String, String)>,
    req: Req,
) -> Response {
    business_pages(sb, business, false, req).await
}

async fn business_pages(
    State(sb): State<Arc<Shared>>,
    business_id: String,
    owned: bool,
    req: Req,
) -> Response {
    if graph_version(&sb, &req, "graph.facebook.com").is_none() {
        return bad_version(&req);
    }
    http::run(&sb, ID, Endpoint::Profile, || {
        let info = match authenticated(&sb, &req) {
            Ok(i) => i,
            Err(r) => return r,
        };
        let business = info
            .grant
            .account
            .businesses
            .iter()
            .find(|b| b.id == business_id && !matches!(info.kind, TokenKind::Page(_)));
        let Some(business) = business else {
            return graph_error(
                400,
                &format!(
                    "Unsupported get request. Object with ID '{business_id}' does not exist, \
                     cannot be loaded due to missing permissions, or does not support this \
                     operation."
                ),
                100,
                Some(33),
            );
        };
        if !info.grant.scopes.iter().any(|s| s == "business_management") {
            return needs_business_management();
        }
        let pages = if owned {
            business.owned_pages
        } else {
            business.client_pages
        };
        list_pages(&sb, &req, &info, pages)
    })
    .await
}

async fn permissions(State(sb): State<Arc<Shared>>, req: Req) -> Response {
    if graph_version(&sb, &req, "graph.facebook.com").is_none() {
        return bad_version(&req);
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
    if graph_version(&sb, &req, "graph.facebook.com").is_none() {
        return bad_version(&req);
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

// ---- publishing (PLATFORMS.md §3 "Publish text", "Publish photo", "Publish video", "Errors",
// "Rate-limit signals", "Limits") ----

/// Most characters of a Page post's `message`.
const MAX_MESSAGE_CHARS: usize = 63_206;
/// The same message on the same Page within this many seconds is a duplicate (#506).
const DUPLICATE_WINDOW_SECS: i64 = 86_400;
/// A message containing this text is blocked by policy (#368): the sandbox's way to exercise
/// Graph's "deemed abusive" answer.
pub(crate) const POLICY_BLOCK_MARKER: &str = "#sandbox-policy-block";
/// Calls per Page per hour that make 100 % in `X-Business-Use-Case-Usage` (and per app in
/// `X-App-Usage`).
const HOURLY_CALLS: u64 = 4800;

#[derive(Debug, Clone)]
struct FbPost {
    page: String,
    message: String,
    created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
struct Photo {
    page: String,
    /// The feed post it appears in, once published.
    post_id: Option<String>,
}

/// Facebook's publishing state.
#[derive(Default)]
struct FbState {
    next_id: u64,
    posts: HashMap<String, FbPost>,
    photos: HashMap<String, Photo>,
    /// Instants of publishing calls, per Page, for the usage headers.
    calls: HashMap<String, Vec<DateTime<Utc>>>,
}

impl FbState {
    fn new_id(&mut self) -> String {
        self.next_id += 1;
        (122_000_000_000_000_000 + self.next_id).to_string()
    }
}

/// A Page whose Page token (for that same Page, with `pages_manage_posts` and
/// `pages_read_engagement`, or `read_insights` for reads) authenticates the call.
struct PageCall {
    page: &'static str,
}

/// Checks the token of a call on `/{page-id}/…`: a valid Page token of that Page whose grant
/// has every scope in `scopes`. A user token, another Page's token or a missing permission is
/// Graph's `(#200)` error; an unknown Page is `(#100)` subcode 33.
fn page_call(sb: &Shared, req: &Req, page_id: &str, scopes: &[&str]) -> Result<PageCall, Response> {
    let info = authenticated(sb, req)?;
    let Some(page) = info.grant.account.find_page(page_id) else {
        return Err(graph_error(
            400,
            &format!(
                "Unsupported post request. Object with ID '{page_id}' does not exist, cannot be \
                 loaded due to missing permissions, or does not support this operation."
            ),
            100,
            Some(33),
        ));
    };
    let page_token = matches!(info.kind, TokenKind::Page(p) if p == page.id);
    let has = |s: &&str| info.grant.scopes.iter().any(|g| g == s);
    if !page_token || !scopes.iter().all(has) {
        return Err(graph_error(
            403,
            &format!(
                "(#200) This call requires a Page access token for Page {page_id} with {} as an \
                 admin with sufficient administrative permission",
                scopes.join(" and ")
            ),
            200,
            None,
        ));
    }
    Ok(PageCall { page: page.id })
}

/// Adds `X-App-Usage` and `X-Business-Use-Case-Usage` (percentages of [`HOURLY_CALLS`] in the
/// last hour) after counting this call.
fn with_usage(sb: &Shared, page: &str, r: Response) -> Response {
    let now = sb.now();
    let mut d = sb.lock();
    let st = d.platform_state::<FbState>();
    let calls = st.calls.entry(page.to_string()).or_default();
    calls.retain(|t| *t > now - Duration::hours(1));
    calls.push(now);
    let page_pct = (calls.len() as u64 * 100 / HOURLY_CALLS).min(100);
    let all: u64 = st
        .calls
        .values()
        .map(|v| v.iter().filter(|t| **t > now - Duration::hours(1)).count() as u64)
        .sum();
    let app_pct = (all * 100 / HOURLY_CALLS).min(100);
    let app =
        json!({ "call_count": app_pct, "total_cputime": app_pct / 2, "total_time": app_pct / 2 });
    let buc = json!({ page: [{
        "type": "pages",
        "call_count": page_pct,
        "total_cputime": page_pct / 2,
        "total_time": page_pct / 2,
        "estimated_time_to_regain_access": 0,
    }]});
    let r = with_header(r, "x-app-usage", &app.to_string());
    with_header(r, "x-business-use-case-usage", &buc.to_string())
}

/// A parameter from the query, form or JSON body.
fn graph_param(req: &Req, name: &str) -> Option<String> {
    if let Some(v) = req.param(name) {
        return Some(v.to_string());
    }
    let body: Value = serde_json::from_slice(&req.body).ok()?;
    match &body[name] {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// `attached_media` as `attached_media[0]={"media_fbid":…}` form fields, one JSON array
/// field, or a JSON body array.
fn attached_media(req: &Req) -> Result<Vec<String>, Response> {
    let mut raw: Vec<String> = req
        .form
        .iter()
        .chain(req.query.iter())
        .filter(|(k, _)| *k == "attached_media" || k.starts_with("attached_media["))
        .map(|(_, v)| v.to_string())
        .collect();
    if raw.is_empty() {
        if let Ok(body) = serde_json::from_slice::<Value>(&req.body) {
            if !body["attached_media"].is_null() {
                raw.push(body["attached_media"].to_string());
            }
        }
    }
    let mut ids = Vec::new();
    for v in raw {
        let parsed: Value = serde_json::from_str(&v).map_err(|_| {
            graph_error(
                400,
                "(#100) Param attached_media must be an array of objects with media_fbid",
                100,
                None,
            )
        })?;
        let items = match parsed {
            Value::Array(a) => a,
            o => vec![o],
        };
        for i in items {
            match i["media_fbid"].as_str() {
                Some(id) => ids.push(id.to_string()),
                None => {
                    return Err(graph_error(
                        400,
                        "(#100) Param attached_media must be an array of objects with media_fbid",
                        100,
                        None,
                    ))
                }
            }
        }
    }
    Ok(ids)
}

/// Checks a message for length, policy and duplicates on this Page.
fn check_message(
    st: &FbState,
    page: &str,
    message: &str,
    now: DateTime<Utc>,
) -> Result<(), Response> {
    if message.chars().count() > MAX_MESSAGE_CHARS {
        return Err(graph_error(
            400,
            &format!("(#100) Param message must be at most {MAX_MESSAGE_CHARS} characters long"),
            100,
            None,
        ));
    }
    if message.contains(POLICY_BLOCK_MARKER) {
        return Err(graph_error(
            400,
            "(#368) The action attempted has been deemed abusive or is otherwise disallowed",
            368,
            Some(1_390_008),
        ));
    }
    let from = now - Duration::seconds(DUPLICATE_WINDOW_SECS);
    if !message.is_empty()
        && st
            .posts
            .values()
            .any(|p| p.page == page && p.message == message && p.created_at > from)
    {
        return Err(graph_error(
            400,
            "(#506) Duplicate status message",
            506,
            None,
        ));
    }
    Ok(())
}

fn publishing_routes() -> Router<Arc<Shared>> {
    Router::new()
        .route(
            "/graph.facebook.com/{version}/{node}/feed",
            post(create_feed_post).get(read_feed),
        )
        .route(
            "/graph.facebook.com/{version}/{node}/photos",
            post(create_photo),
        )
        .route(
            "/graph.facebook.com/{version}/{node}/videos",
            post(create_video),
        )
        .route(
            "/graph.facebook.com/{version}/{node}/insights",
            get(post_insights),
        )
}

/// `GET /{page-id}/feed?fields=id,message,created_time&limit=&after=` (limit 1–100, default 25)
/// with the Page token (`pages_read_engagement`) → `{"data":[{id, message?, created_time}],
/// "paging":{cursors:{after}, next}}` (`paging` empty on the last page), newest first; `created_time` as Graph writes it (`2026-01-02T03:04:05+0000`).
/// A read (`metrics`).
async fn read_feed(
    State(sb): State<Arc<Shared>>,
    Path((_, page_id)): Path<(String, String)>,
    req: Req,
) -> Response {
    if graph_version(&sb, &req, "graph.facebook.com").is_none() {
        return bad_version(&req);
    }
    http::run(&sb, ID, Endpoint::Metrics, || {
        let call = match page_call(&sb, &req, &page_id, &["pages_read_engagement"]) {
            Ok(c) => c,
            Err(r) => return r,
        };
        let limit = match graph_param(&req, "limit").map(|l| l.parse::<usize>()) {
            None => 25,
            Some(Ok(n)) if (1..=100).contains(&n) => n,
            Some(_) => {
                return graph_error(400, "(#100) limit must be between 1 and 100", 100, None)
            }
        };
        let mut d = sb.lock();
        let st = d.platform_state::<FbState>();
        let mut posts: Vec<(&String, &FbPost)> = st
            .posts
            .iter()
            .filter(|(_, p)| p.page == call.page)
            .collect();
        posts.sort_by(|a, b| b.1.created_at.cmp(&a.1.created_at).then(b.0.cmp(a.0)));
        // `after` (the previous page's `paging.cursors.after`): an offset here.
        let start = match graph_param(&req, "after").map(|a| a.parse::<usize>()) {
            None => 0,
            Some(Ok(n)) => n,
            Some(Err(_)) => return graph_error(400, "(#100) Invalid cursor", 100, None),
        };
        let more = posts.len() > start + limit;
        let data: Vec<Value> = posts
            .into_iter()
            .skip(start)
            .take(limit)
            .map(|(id, p)| {
                let mut v = json!({
                    "id": id,
                    "created_time": p.created_at.format("%Y-%m-%dT%H:%M:%S%z").to_string(),
                });
                if !p.message.is_empty() {
                    v["message"] = Value::from(p.message.clone());
                }
                v
            })
            .collect();
        let paging = if more {
            let after = (start + limit).to_string();
            json!({
                "cursors": { "after": after },
                "next": format!("?limit={limit}&after={after}"),
            })
        } else {
            json!({})
        };
        json(200, json!({ "data": data, "paging": paging }))
    })
    .await
}

/// The permissions a Page token needs to publish a feed post, photo or video (PLATFORMS.md,
/// Facebook Pages: `pages_manage_posts` with `pages_read_engagement`).
const PUBLISH_PERMISSIONS: &[&str] = &["pages_manage_posts", "pages_read_engagement"];

/// `POST /{page-id}/feed` (`message`, `link?`, `attached_media?`) with the Page token →
/// `{"id":"{page}_{post}"}`. Attached media must be this Page's unpublished photos.
async fn create_feed_post(
    State(sb): State<Arc<Shared>>,
    Path((_, page_id)): Path<(String, String)>,
    req: Req,
) -> Response {
    if graph_version(&sb, &req, "graph.facebook.com").is_none() {
        return bad_version(&req);
    }
    let r = http::run(&sb, ID, Endpoint::Publish, || {
        let call = match page_call(&sb, &req, &page_id, PUBLISH_PERMISSIONS) {
            Ok(c) => c,
            Err(r) => return r,
        };
        let message = graph_param(&req, "message").unwrap_or_default();
        let link = graph_param(&req, "link");
        let media = match attached_media(&req) {
            Ok(m) => m,
            Err(r) => return r,
        };
        if message.trim().is_empty() && link.is_none() && media.is_empty() {
            return graph_error(400, "(#100) Missing message or attachment", 100, None);
        }
        let now = sb.now();
        let mut d = sb.lock();
        let st = d.platform_state::<FbState>();
        if let Err(r) = check_message(st, call.page, &message, now) {
            return r;
        }
        for id in &media {
            if !st
                .photos
                .get(id)
                .is_some_and(|p| p.page == call.page && p.post_id.is_none())
            {
                return graph_error(
                    400,
                    &format!("(#100) attached_media {id} is not an unpublished photo of this Page"),
                    100,
                    None,
                );
            }
        }
        let post_id = format!("{}_{}", call.page, st.new_id());
        for id in &media {
            if let Some(p) = st.photos.get_mut(id) {
                p.post_id = Some(post_id.clone());
            }
        }
        st.posts.insert(
            post_id.clone(),
            FbPost {
                page: call.page.to_string(),
                message: message.clone(),
                created_at: now,
            },
        );
        let kind = match (media.len(), &link) {
            (0, None) => "text",
            (0, Some(_)) => "link",
            (1, _) => "photo",
            _ => "photos",
        };
        let mut all_media = media;
        all_media.extend(link);
        d.record_published(PublishedItem {
            id: post_id.clone(),
            platform: ID,
            account_id: call.page.to_string(),
            kind: kind.to_string(),
            text: message,
            media: all_media,
            published_at: now,
        });
        json(200, json!({ "id": post_id }))
    })
    .await;
    with_usage(&sb, &page_id, r)
}

/// `POST /{page-id}/photos` (`url` or multipart `source`, `caption` or `message`, `published`
/// default true) → `{id, post_id}`, or `{id}` with `published=false` (for `attached_media`).
async fn create_photo(
    State(sb): State<Arc<Shared>>,
    Path((_, page_id)): Path<(String, String)>,
    req: Req,
) -> Response {
    if graph_version(&sb, &req, "graph.facebook.com").is_none() {
        return bad_version(&req);
    }
    let published = graph_param(&req, "published").is_none_or(|p| p != "false");
    let endpoint = if published {
        Endpoint::Publish
    } else {
        Endpoint::Upload
    };
    let r = http::run(&sb, ID, endpoint, || {
        let call = match page_call(&sb, &req, &page_id, PUBLISH_PERMISSIONS) {
            Ok(c) => c,
            Err(r) => return r,
        };
        let source = http::multipart_part(&req, "source").filter(|b| !b.is_empty());
        let url = graph_param(&req, "url");
        let media = match (&url, &source) {
            (Some(u), _) => match url::Url::parse(u) {
                Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => u.clone(),
                _ => return graph_error(400, "(#100) url should represent a valid URL", 100, None),
            },
            (None, Some(b)) => format!("upload:{} bytes", b.len()),
            (None, None) => return graph_error(400, "(#324) Requires upload file", 324, None),
        };
        let caption = graph_param(&req, "caption")
            .or_else(|| graph_param(&req, "message"))
            .unwrap_or_default();
        let now = sb.now();
        let mut d = sb.lock();
        let st = d.platform_state::<FbState>();
        if published {
            if let Err(r) = check_message(st, call.page, &caption, now) {
                return r;
            }
        }
        let photo_id = st.new_id();
        if !published {
            st.photos.insert(
                photo_id.clone(),
                Photo {
                    page: call.page.to_string(),
                    post_id: None,
                },
            );
            return json(200, json!({ "id": photo_id }));
        }
        let post_id = format!("{}_{}", call.page, st.new_id());
        st.photos.insert(
            photo_id.clone(),
            Photo {
                page: call.page.to_string(),
                post_id: Some(post_id.clone()),
            },
        );
        st.posts.insert(
            post_id.clone(),
            FbPost {
                page: call.page.to_string(),
                message: caption.clone(),
                created_at: now,
            },
        );
        d.record_published(PublishedItem {
            id: post_id.clone(),
            platform: ID,
            account_id: call.page.to_string(),
            kind: "photo".to_string(),
            text: caption,
            media: vec![media],
            published_at: now,
        });
        json(200, json!({ "id": photo_id, "post_id": post_id }))
    })
    .await;
    with_usage(&sb, &page_id, r)
}

/// `POST /{page-id}/videos` (`file_url` or multipart `source`, `description`, `title?`) →
/// `{"id"}` (the video id; the video's feed post is `{page}_{id}`).
async fn create_video(
    State(sb): State<Arc<Shared>>,
    Path((_, page_id)): Path<(String, String)>,
    req: Req,
) -> Response {
    if graph_version(&sb, &req, "graph.facebook.com").is_none() {
        return bad_version(&req);
    }
    let r = http::run(&sb, ID, Endpoint::Publish, || {
        let call = match page_call(&sb, &req, &page_id, PUBLISH_PERMISSIONS) {
            Ok(c) => c,
            Err(r) => return r,
        };
        let media = match (
            graph_param(&req, "file_url"),
            http::multipart_part(&req, "source"),
        ) {
            (Some(u), _)
                if url::Url::parse(&u).is_ok_and(|p| matches!(p.scheme(), "http" | "https")) =>
            {
                u
            }
            (Some(_), _) => {
                return graph_error(
                    400,
                    "(#100) file_url should represent a valid URL",
                    100,
                    None,
                )
            }
            (None, Some(b)) if !b.is_empty() => format!("upload:{} bytes", b.len()),
            _ => {
                return graph_error(
                    400,
                    "(#390) There was a problem uploading your video file. Please try again.",
                    390,
                    Some(1_363_030),
                )
            }
        };
        let description = graph_param(&req, "description").unwrap_or_default();
        let now = sb.now();
        let mut d = sb.lock();
        let st = d.platform_state::<FbState>();
        if let Err(r) = check_message(st, call.page, &description, now) {
            return r;
        }
        let video_id = st.new_id();
        let post_id = format!("{}_{video_id}", call.page);
        st.posts.insert(
            post_id.clone(),
            FbPost {
                page: call.page.to_string(),
                message: description.clone(),
                created_at: now,
            },
        );
        d.record_published(PublishedItem {
            id: post_id,
            platform: ID,
            account_id: call.page.to_string(),
            kind: "video".to_string(),
            text: description,
            media: vec![media],
            published_at: now,
        });
        json(200, json!({ "id": video_id }))
    })
    .await;
    with_usage(&sb, &page_id, r)
}

/// `GET /{post-id}/insights?metric=post_media_view,post_total_media_view_unique,
/// post_reactions_by_type_total,post_clicks` with the Page token (`read_insights`) → Graph's
/// `{"data":[{name, period:"lifetime", values:[{value}], title, description, id}], "paging"}`.
/// Figures grow with sandbox time since the post. A retired metric (`post_impressions`,
/// `post_engaged_users`...) or an unknown one fails the whole call with `(#100)`, no `metric`
/// with 3001/1504028, as Page Insights documents
/// (<https://developers.facebook.com/docs/graph-api/reference/insights>).
async fn post_insights(
    State(sb): State<Arc<Shared>>,
    Path((_, post_id)): Path<(String, String)>,
    req: Req,
) -> Response {
    if graph_version(&sb, &req, "graph.facebook.com").is_none() {
        return bad_version(&req);
    }
    let page_id = post_id.split('_').next().unwrap_or_default().to_string();
    let r = http::run(&sb, ID, Endpoint::Metrics, || {
        if let Err(r) = page_call(
            &sb,
            &req,
            &page_id,
            &["pages_read_engagement", "read_insights"],
        ) {
            return r;
        }
        let now = sb.now();
        let mut d = sb.lock();
        let Some(p) = d.platform_state::<FbState>().posts.get(&post_id).cloned() else {
            return graph_error(
                400,
                &format!(
                    "Unsupported get request. Object with ID '{post_id}' does not exist, cannot be \
                     loaded due to missing permissions, or does not support this operation."
                ),
                100,
                Some(33),
            );
        };
        let age = (now - p.created_at).num_seconds();
        let m = |name: &str, max: u64| grown_metric(&post_id, name, age, max);
        let Some(metrics) = graph_param(&req, "metric").filter(|s| !s.trim().is_empty()) else {
            return graph_error(
                400,
                "No metric was specified to be fetched. Please specify one or more metrics to \
                 be fetched and try again.",
                3001,
                Some(1_504_028),
            );
        };
        let mut data = Vec::new();
        for name in metrics.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            // The Page post metrics Meta still serves (Page Insights, "Page Post" tables);
            // `post_impressions*` and `post_engaged_users` are retired: an invalid metric.
            let (value, title) = match name {
                "post_media_view" => (json!(m(name, 1200)), "Lifetime Post Views"),
                "post_total_media_view_unique" => {
                    (json!(m(name, 800)), "Lifetime Post Total Viewers")
                }
                "post_clicks" => (json!(m(name, 60)), "Lifetime Post Clicks"),
                "post_reactions_like_total" => (json!(m("like", 40)), "Lifetime Like Reactions"),
                "post_reactions_by_type_total" => (
                    json!({
                        "like": m("like", 40),
                        "love": m("love", 10),
                        "wow": m("wow", 3),
                        "haha": m("haha", 4),
                        "sorry": m("sorry", 1),
                        "anger": m("anger", 1),
                    }),
                    "Lifetime Total post Reactions by Type.",
                ),
                other => {
                    return graph_error(
                        400,
                        &format!("(#100) The value must be a valid insights metric: {other}"),
                        100,
                        None,
                    )
                }
            };
            data.push(json!({
                "name": name,
                "period": "lifetime",
                "values": [{ "value": value }],
                "title": title,
                "description": format!("Lifetime: {title}"),
                "id": format!("{post_id}/insights/{name}/lifetime"),
            }));
        }
        json(200, json!({ "data": data, "paging": {} }))
    })
    .await;
    with_usage(&sb, &page_id, r)
}
