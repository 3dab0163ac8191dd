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

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};

use crate::consent::{self, AuthorizeRules, ErrorPage, ErrorStyle, PageError, PkceRule, Problem};
use crate::http::{self, json, token_json, with_header, Basic, Params, Req};
use crate::state::{ClientCheck, CodeError, Endpoint, RefreshLifetime, Shared, TokenKind};

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
