//! Dashboard sessions: sign-in with a workspace API key or the admin password, a sealed session
//! cookie, CSRF tokens, sign-out.
//!
//! The session lives entirely in the cookie [`COOKIE`]: a JSON [`Claims`] sealed with the vault's
//! active key (AES-256-GCM, associated data [`COOKIE_CONTEXT`]), so it can be neither read nor
//! forged, survives restarts, works across instances sharing the keys, and follows key rotation.
//! Every request re-checks it: a session made with an API key ends when the key is deleted, an
//! admin session when the admin password changes, and any session at sign-out (its id, the SHA-256
//! of its CSRF token, is recorded in `dashboard_signed_out` until it would have expired). Attributes: `HttpOnly`, `SameSite=Lax` (Lax,
//! not Strict, so that the browser still sends it when the platform's consent page redirects back
//! through the OAuth callback to the dashboard), `Path=/`, `Max-Age` [`SESSION_SECS`], and
//! `Secure` when `public_url` is `https`.
//!
//! CSRF: each session holds a random 256-bit token. Every state-changing request must carry it,
//! in the form field `csrf` ([`csrf_field`]) or the `X-CSRF-Token` header (the JavaScript reads it
//! from `<meta name="csrf-token">`); [`Posted`] refuses anything else with 403. The sign-in form,
//! which has no session yet, is protected by an `Origin` check instead.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup};
use rand::RngCore;
use secrecy::ExposeSecret;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::AppState;

/// Name of the session cookie.
pub const COOKIE: &str = "sb_session";
/// Vault associated data of the session cookie.
pub const COOKIE_CONTEXT: &str = "dashboard-session";
/// How long a session lasts after sign-in, seconds (12 hours).
pub const SESSION_SECS: i64 = 12 * 3600;
/// Form field that carries the CSRF token.
pub const CSRF_FIELD: &str = "csrf";
/// Header that carries the CSRF token on `fetch` calls.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// Audit actor of changes made by the admin through the dashboard.
pub const ADMIN_ACTOR: &str = "dashboard:admin";

/// What the sealed cookie holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Claims {
    /// Workspace id.
    w: String,
    /// SHA-256 hex of the API key signed in with (`None` for the admin).
    #[serde(default)]
    k: Option<String>,
    /// SHA-256 hex of the admin password signed in with (`None` for an API key).
    #[serde(default)]
    a: Option<String>,
    /// CSRF token (base64url, 256 bits).
    c: String,
    /// Expiry, unix seconds.
    e: i64,
}

/// A signed-in person. Extracting it from a request without a valid session redirects to
/// `/sign-in?next=<path>` (303).
#[derive(Debug, Clone)]
pub struct Session {
    /// The workspace the dashboard shows.
    pub workspace_id: String,
    /// Its name.
    pub workspace_name: String,
    /// The CSRF token forms and `fetch` calls must send back.
    pub csrf: String,
    /// Signed in with the admin password (may switch workspace).
    pub admin: bool,
    /// Id of the API key signed in with (`None` for the admin).
    pub api_key_id: Option<String>,
    /// When the session ends by itself.
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

impl Session {
    /// The audit actor of changes made in this session: `api_key:<key id>` or
    /// [`ADMIN_ACTOR`].
    pub fn actor(&self) -> String {
        match &self.api_key_id {
            Some(k) => crate::audit::api_key_actor(k),
            None => ADMIN_ACTOR.to_string(),
        }
    }

    /// The API's view of this session, for calling the API handlers directly.
    pub fn auth(&self) -> crate::extract::WorkspaceAuth {
        crate::extract::WorkspaceAuth {
            workspace_id: self.workspace_id.clone(),
            api_key_id: self
                .api_key_id
                .clone()
                .unwrap_or_else(|| "dashboard-admin".into()),
        }
    }
}

fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

fn random_token() -> String {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"').to_string())
}

fn secure(state: &AppState) -> bool {
    state.config().public_url.starts_with("https://")
}

/// The `Set-Cookie` value that stores `value` (or, with `None`, removes the cookie).
fn set_cookie(state: &AppState, value: Option<&str>) -> HeaderValue {
    let secure = if secure(state) { "; Secure" } else { "" };
    let s = match value {
        Some(v) => {
            format!("{COOKIE}={v}; Path=/; HttpOnly; SameSite=Lax; Max-Age={SESSION_SECS}{secure}")
        }
        None => format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}"),
    };
    HeaderValue::from_str(&s).expect("cookie value is ASCII")
}

/// Reads and checks the session of a request. `None` when there is none, it does not open, it
/// expired, its API key was deleted, or the admin password changed.
pub async fn read(state: &AppState, headers: &HeaderMap) -> Option<Session> {
    let sealed = cookie_value(headers, COOKIE)?;
    let json = state.keyring().open(COOKIE_CONTEXT, &sealed).ok()?;
    let claims: Claims = serde_json::from_str(json.expose_secret()).ok()?;
    if claims.e <= state.now().timestamp() {
        return None;
    }
    // Signed out: the cookie may live on in a copy, the session does not.
    if state
        .store()
        .is_signed_out(&sha256_hex(&claims.c))
        .await
        .unwrap_or(true)
    {
        return None;
    }
    let (admin, api_key_id) = match (&claims.k, &claims.a) {
        (Some(hash), None) => {
            let key = state.store().find_api_key(hash).await.ok()??;
            if key.workspace_id != claims.w {
                return None;
            }
            (false, Some(key.id))
        }
        (None, Some(pw_hash)) => {
            let configured = state.config().admin_password.as_ref()?;
            let current = sha256_hex(configured.expose_secret());
            if !bool::from(current.as_bytes().ct_eq(pw_hash.as_bytes())) {
                return None;
            }
            (true, None)
        }
        _ => return None,
    };
    let ws = state.store().get_workspace(&claims.w).await.ok()??;
    Some(Session {
        workspace_id: ws.id,
        workspace_name: ws.name,
        csrf: claims.c,
        admin,
        api_key_id,
        expires_at: chrono::DateTime::from_timestamp(claims.e, 0)?,
    })
}

/// The `Set-Cookie` header of a new session.
fn new_session_cookie(
    state: &AppState,
    workspace_id: &str,
    api_key_hash: Option<String>,
    admin_hash: Option<String>,
) -> HeaderValue {
    let claims = Claims {
        w: workspace_id.to_string(),
        k: api_key_hash,
        a: admin_hash,
        c: random_token(),
        e: state.now().timestamp() + SESSION_SECS,
    };
    let json = serde_json::to_string(&claims).expect("claims serialize");
    let sealed = state.keyring().seal(COOKIE_CONTEXT, &json);
    set_cookie(state, Some(&sealed))
}

/// Where to send someone who must sign in first.
fn sign_in_redirect(parts: &Parts) -> Response {
    let next = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let target = if next == "/" {
        "/sign-in".to_string()
    } else {
        format!("/sign-in?next={}", urlencoding::encode(next))
    };
    Redirect::to(&target).into_response()
}

impl FromRequestParts<AppState> for Session {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        if let Some(s) = parts.extensions.get::<Session>() {
            return Ok(s.clone());
        }
        match read(state, &parts.headers).await {
            Some(s) => {
                parts.extensions.insert(s.clone());
                Ok(s)
            }
            None => Err(sign_in_redirect(parts)),
        }
    }
}

/// A hidden form field carrying the session's CSRF token; put it in every `<form method="post">`.
pub fn csrf_field(session: &Session) -> Markup {
    html! { input type="hidden" name=(CSRF_FIELD) value=(session.csrf); }
}

/// A state-changing request: a signed-in session whose CSRF token was sent back (form field
/// `csrf` or header `X-CSRF-Token`) and the `application/x-www-form-urlencoded` body as `T`.
///
/// Without a session: 303 to the sign-in page. A missing or wrong token: 403 with a page saying
/// so. A body that is not `T`: 422 with the reason.
#[derive(Debug)]
pub struct Posted<T> {
    /// The session.
    pub session: Session,
    /// The form.
    pub form: T,
}

impl<T> FromRequest<AppState> for Posted<T>
where
    T: DeserializeOwned + Send,
{
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let session = Session::from_request_parts(&mut parts, state).await?;
        let bytes = Bytes::from_request(Request::from_parts(parts.clone_head(), body), state)
            .await
            .map_err(IntoResponse::into_response)?;
        let fields: HashMap<String, String> =
            url::form_urlencoded::parse(&bytes).into_owned().collect();
        let sent = parts
            .headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .or_else(|| fields.get(CSRF_FIELD).cloned())
            .unwrap_or_default();
        if sent.is_empty() || !bool::from(sent.as_bytes().ct_eq(session.csrf.as_bytes())) {
            return Err(csrf_refused(state, &session));
        }
        let mut head = parts.clone_head();
        if bytes.is_empty() {
            // A bodiless POST (a `fetch` with only the header token) is an empty form.
            head.headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/x-www-form-urlencoded"),
            );
        }
        let rebuilt = Request::from_parts(head, axum::body::Body::from(bytes));
        let axum::Form(form) = axum::Form::<T>::from_request(rebuilt, state)
            .await
            .map_err(|e| {
                (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    crate::dashboard::layout::message_page("The form is not valid", &e.body_text()),
                )
                    .into_response()
            })?;
        Ok(Posted { session, form })
    }
}

trait CloneHead {
    fn clone_head(&self) -> Parts;
}

impl CloneHead for Parts {
    fn clone_head(&self) -> Parts {
        let mut b = axum::http::Request::builder()
            .method(self.method.clone())
            .uri(self.uri.clone())
            .version(self.version);
        for (k, v) in &self.headers {
            b = b.header(k, v);
        }
        b.body(()).expect("request head").into_parts().0
    }
}

fn csrf_refused(_state: &AppState, _session: &Session) -> Response {
    (
        StatusCode::FORBIDDEN,
        crate::dashboard::layout::message_page(
            "The form was refused",
            "It did not carry this session's security token (CSRF), so it may not have come from \
             this dashboard. Go back, reload the page and try again.",
        ),
    )
        .into_response()
}

/// Sign-in form fields (`POST /sign-in`). Send `api_key`, or `password` for the admin.
#[derive(Debug, Deserialize)]
pub struct SignInForm {
    /// A workspace API key (`sbk_...`).
    #[serde(default)]
    pub api_key: String,
    /// The admin password (`admin_password` in the configuration).
    #[serde(default)]
    pub password: String,
    /// The dashboard path to go to afterwards (must start with `/`).
    #[serde(default)]
    pub next: String,
}

/// Query of `GET /sign-in`.
#[derive(Debug, Deserialize)]
pub struct SignInQuery {
    /// Where to go after signing in.
    #[serde(default)]
    pub next: Option<String>,
}

/// A local path to go to after sign-in, resolved as a URL against this dashboard's origin;
/// anything that could lead elsewhere becomes `/`: not starting with one `/` (`//host`,
/// `https://...`), a backslash, a control character or whitespace (browsers drop tabs and
/// newlines: `/\t/evil.com` is `//evil.com` to them), an encoded separator (`%2f`, `%5c`), or
/// anything that resolves to another origin or carries userinfo. The answer is the normalised
/// path and query (dot segments resolved), safe for a `Location` header.
pub fn safe_next(next: &str) -> String {
    const ROOT: &str = "/";
    let lower = next.to_ascii_lowercase();
    let plain = next.starts_with('/')
        && !next.starts_with("//")
        && !next
            .chars()
            .any(|c| c == '\\' || c.is_control() || c.is_whitespace())
        && !lower.contains("%2f")
        && !lower.contains("%5c");
    if !plain {
        return ROOT.to_string();
    }
    let Ok(base) = url::Url::parse("http://dashboard.invalid/") else {
        return ROOT.to_string();
    };
    match base.join(next) {
        Ok(u)
            if u.origin() == base.origin() && u.username().is_empty() && u.password().is_none() =>
        {
            let mut out = u.path().to_string();
            if let Some(q) = u.query() {
                out.push('?');
                out.push_str(q);
            }
            if out.starts_with("//") {
                ROOT.to_string()
            } else {
                out
            }
        }
        _ => ROOT.to_string(),
    }
}

/// `GET /sign-in`: the form (or, with a valid session, a redirect to the dashboard).
pub async fn sign_in_page(
    axum::extract::State(state): axum::extract::State<AppState>,
    headers: HeaderMap,
    axum::extract::Query(q): axum::extract::Query<SignInQuery>,
) -> Response {
    let next = safe_next(q.next.as_deref().unwrap_or("/"));
    if read(&state, &headers).await.is_some() {
        return Redirect::to(&next).into_response();
    }
    sign_in_form(&state, &next, None, StatusCode::OK)
}

fn sign_in_form(state: &AppState, next: &str, error: Option<&str>, code: StatusCode) -> Response {
    let admin = state.config().admin_password.is_some();
    let body = html! {
        div .signin {
            h1 { "Sign in to Switchboard" }
            @if let Some(e) = error {
                div .alert.alert-bad role="alert" data-testid="sign-in-error" {
                    span .icon aria-hidden="true" { "✗" } " " (e)
                }
            }
            form #sign-in-key method="post" action="/sign-in" .card {
                input type="hidden" name="next" value=(next);
                label for="api_key" { "Workspace API key" }
                input #api_key name="api_key" type="password" autocomplete="current-password"
                    placeholder="sbk_…" required autofocus;
                p .hint { "The key " code { "switchboard workspace create" } " printed (or the demo's key)." }
                button type="submit" .btn.btn-primary data-testid="sign-in-key-submit" { "Sign in with API key" }
            }
            @if admin {
                form #sign-in-password method="post" action="/sign-in" .card {
                    input type="hidden" name="next" value=(next);
                    label for="password" { "Admin password" }
                    input #password name="password" type="password" autocomplete="current-password" required;
                    p .hint { "Set as " code { "admin_password" } " in the configuration." }
                    button type="submit" .btn data-testid="sign-in-password-submit" { "Sign in as admin" }
                }
            }
        }
    };
    let page = crate::dashboard::layout::bare_page("Sign in", body);
    let mut r = (code, page).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// True when the request's `Origin` (or, without one, `Referer`) is this server, or absent.
/// Browsers send `Origin` on every cross-site POST, so a form posted from another site fails.
pub fn same_origin(state: &AppState, headers: &HeaderMap) -> bool {
    let origin = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER))
        .and_then(|v| v.to_str().ok());
    let Some(origin) = origin else { return true };
    if origin == "null" {
        return false;
    }
    let Ok(o) = url::Url::parse(origin) else {
        return false;
    };
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let o_host = match o.port() {
        Some(p) => format!("{}:{p}", o.host_str().unwrap_or_default()),
        None => o.host_str().unwrap_or_default().to_string(),
    };
    let public = url::Url::parse(&state.config().public_url).ok();
    host == Some(o_host.as_str()) || public.is_some_and(|p| p.origin() == o.origin())
}

/// `POST /sign-in`: checks the API key or the admin password, sets the session cookie and
/// redirects (303) to `next`. A wrong secret answers 401 with the form and a message (which
/// never says whether a key exists).
pub async fn sign_in(
    axum::extract::State(state): axum::extract::State<AppState>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<SignInForm>,
) -> Response {
    let next = safe_next(&form.next);
    // The form again, with `message`, answering `code`.
    let refuse = |message: &str, code: StatusCode| sign_in_form(&state, &next, Some(message), code);
    if !same_origin(&state, &headers) {
        return refuse(
            "This sign-in came from another site and was refused.",
            StatusCode::FORBIDDEN,
        );
    }
    let key = form.api_key.trim();
    let cookie = if !key.is_empty() {
        let hash = crate::extract::hash_api_key(key);
        match state.store().find_api_key(&hash).await {
            Ok(Some(k)) => new_session_cookie(&state, &k.workspace_id, Some(hash), None),
            Ok(None) => return refuse("That API key is not valid.", StatusCode::UNAUTHORIZED),
            Err(e) => {
                tracing::error!(error = %e, "sign-in: database error");
                return refuse(
                    "The database did not answer; try again.",
                    StatusCode::SERVICE_UNAVAILABLE,
                );
            }
        }
    } else if !form.password.is_empty() {
        let Some(configured) = state.config().admin_password.as_ref() else {
            return refuse(
                "No admin password is configured; sign in with a workspace API key.",
                StatusCode::UNAUTHORIZED,
            );
        };
        let ok: bool = sha256_hex(&form.password)
            .as_bytes()
            .ct_eq(sha256_hex(configured.expose_secret()).as_bytes())
            .into();
        if !ok {
            return refuse("That password is not right.", StatusCode::UNAUTHORIZED);
        }
        // The admin starts in the oldest workspace (the header lets them switch); without any,
        // one named "Default" is made.
        let ws = match state.store().list_workspaces(1).await {
            Ok(mut list) if !list.is_empty() => list.remove(0),
            Ok(_) => match state.store().create_workspace("Default", state.now()).await {
                Ok(w) => w,
                Err(e) => {
                    tracing::error!(error = %e, "sign-in: cannot create a workspace");
                    return refuse(
                        "No workspace exists and none could be created.",
                        StatusCode::SERVICE_UNAVAILABLE,
                    );
                }
            },
            Err(e) => {
                tracing::error!(error = %e, "sign-in: database error");
                return refuse(
                    "The database did not answer; try again.",
                    StatusCode::SERVICE_UNAVAILABLE,
                );
            }
        };
        new_session_cookie(&state, &ws.id, None, Some(sha256_hex(&form.password)))
    } else {
        return refuse(
            "Enter a workspace API key or the admin password.",
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    };
    let mut r = Redirect::to(&next).into_response();
    r.headers_mut().insert(header::SET_COOKIE, cookie);
    r
}

/// `POST /sign-out` (CSRF-protected): ends the session for good (its id is recorded as signed
/// out until it would have expired, so a copy of the cookie no longer works), removes the cookie
/// and shows the sign-in page.
pub async fn sign_out(
    axum::extract::State(state): axum::extract::State<AppState>,
    posted: Posted<HashMap<String, String>>,
) -> Response {
    let s = &posted.session;
    if let Err(e) = state
        .store()
        .sign_out_session(&sha256_hex(&s.csrf), s.expires_at, state.now())
        .await
    {
        tracing::error!(error = %e, "sign-out: cannot record the ended session");
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            crate::dashboard::layout::message_page(
                "Sign-out did not finish",
                "The database did not answer, so the session is still open. Try again.",
            ),
        )
            .into_response();
    }
    let mut r = Redirect::to("/sign-in?signed_out=1").into_response();
    r.headers_mut()
        .insert(header::SET_COOKIE, set_cookie(&state, None));
    r
}

/// Form of `POST /workspace` (admin only).
#[derive(Debug, Deserialize)]
pub struct SwitchWorkspace {
    /// Workspace id to show.
    pub workspace_id: String,
}

/// `POST /workspace`: the admin switches workspace (a new session cookie for it).
pub async fn switch_workspace(
    axum::extract::State(state): axum::extract::State<AppState>,
    headers: HeaderMap,
    posted: Posted<SwitchWorkspace>,
) -> Response {
    if !posted.session.admin {
        return (
            StatusCode::FORBIDDEN,
            crate::dashboard::layout::message_page(
                "Only the admin can switch workspace",
                "You signed in with a workspace API key, which opens that workspace only.",
            ),
        )
            .into_response();
    }
    match state.store().get_workspace(&posted.form.workspace_id).await {
        Ok(Some(ws)) => {
            let claims_pw = state
                .config()
                .admin_password
                .as_ref()
                .map(|p| sha256_hex(p.expose_secret()));
            let cookie = new_session_cookie(&state, &ws.id, None, claims_pw);
            let back = headers
                .get(header::REFERER)
                .and_then(|v| v.to_str().ok())
                .and_then(|r| url::Url::parse(r).ok())
                .map(|u| safe_next(u.path()))
                .unwrap_or_else(|| "/".into());
            let mut r = Redirect::to(&back).into_response();
            r.headers_mut().insert(header::SET_COOKIE, cookie);
            r
        }
        _ => (
            StatusCode::NOT_FOUND,
            crate::dashboard::layout::message_page("No such workspace", "Pick one from the list."),
        )
            .into_response(),
    }
}
