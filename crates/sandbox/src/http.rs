//! Request parsing and response helpers shared by every platform: a lenient request extractor
//! (query, url-encoded or multipart form body, Basic and Bearer credentials) that never rejects,
//! so each platform answers malformed requests with its own error body; token generation; PKCE;
//! fault injection.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{FromRequest, OriginalUri, Request};
use axum::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use rand::RngCore;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::state::{Endpoint, Shared};

/// Largest request body read (OAuth requests are small; publishing uploads will raise it).
const BODY_LIMIT: usize = 8 * 1024 * 1024;

/// Ordered name/value pairs from a query string or form body. Repeated names keep every value;
/// [`Params::get`] returns the first.
#[derive(Debug, Clone, Default)]
pub(crate) struct Params(pub(crate) Vec<(String, String)>);

impl Params {
    /// Parses `application/x-www-form-urlencoded` bytes (also a query string).
    pub(crate) fn parse(bytes: &[u8]) -> Self {
        Params(
            url::form_urlencoded::parse(bytes)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The first value of `name`.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// All pairs.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

/// Client credentials from an `Authorization: Basic` header (RFC 6749 §2.3.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Basic {
    /// No Basic header.
    Absent,
    /// A Basic header that does not decode to `id:secret`.
    Malformed,
    /// Decoded credentials (each part form-url-decoded, as RFC 6749 §2.3.1 asks).
    Credentials { id: String, secret: String },
}

/// A request, parsed leniently. Never rejects: every handler decides how to answer.
#[derive(Debug, Clone)]
pub(crate) struct Req {
    pub(crate) method: Method,
    /// The path as the client sent it (before any nesting stripped a prefix).
    pub(crate) path: String,
    pub(crate) headers: HeaderMap,
    pub(crate) query: Params,
    /// The form body (url-encoded or multipart text fields); empty for other bodies.
    pub(crate) form: Params,
    pub(crate) body: Bytes,
}

impl<S: Send + Sync> FromRequest<S> for Req {
    type Rejection = Infallible;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let uri = req
            .extensions()
            .get::<OriginalUri>()
            .map(|o| o.0.clone())
            .unwrap_or_else(|| req.uri().clone());
        let (parts, body) = req.into_parts();
        let body = axum::body::to_bytes(body, BODY_LIMIT)
            .await
            .unwrap_or_default();
        let content_type = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let media_type = content_type.to_ascii_lowercase();
        let form = if media_type.starts_with("multipart/form-data") {
            // The boundary is case-sensitive: parse it from the header as sent.
            multipart_fields(content_type, &body)
        } else if media_type.starts_with("application/json") {
            Params::default()
        } else {
            // Form bodies, and bodies sent without a content type (curl -d, some SDKs).
            Params::parse(&body)
        };
        Ok(Req {
            method: parts.method,
            path: uri.path().to_string(),
            query: Params::parse(uri.query().unwrap_or("").as_bytes()),
            headers: parts.headers,
            form,
            body,
        })
    }
}

impl Req {
    /// A parameter from the form body, else from the query string.
    pub(crate) fn param(&self, name: &str) -> Option<&str> {
        self.form.get(name).or_else(|| self.query.get(name))
    }

    /// A request header as text.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The Basic credentials, if any.
    pub(crate) fn basic(&self) -> Basic {
        let Some(auth) = self.header("authorization") else {
            return Basic::Absent;
        };
        let Some((scheme, rest)) = auth.trim().split_once(' ') else {
            return Basic::Absent;
        };
        if !scheme.eq_ignore_ascii_case("basic") {
            return Basic::Absent;
        }
        let Ok(raw) = STANDARD.decode(rest.trim()) else {
            return Basic::Malformed;
        };
        let Ok(text) = String::from_utf8(raw) else {
            return Basic::Malformed;
        };
        let Some((id, secret)) = text.split_once(':') else {
            return Basic::Malformed;
        };
        Basic::Credentials {
            id: form_decode(id),
            secret: form_decode(secret),
        }
    }

    /// The token of an `Authorization: Bearer` header.
    pub(crate) fn bearer(&self) -> Option<&str> {
        let auth = self.header("authorization")?;
        let (scheme, token) = auth.trim().split_once(' ')?;
        let token = token.trim();
        (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
    }

    /// The base URL of the sandbox as this request reached it, given the host segment the
    /// request's route starts with: `http://127.0.0.1:9000` (or with a nesting prefix).
    pub(crate) fn sandbox_base(&self, host_segment: &str) -> String {
        let host = self.header("host").unwrap_or("localhost");
        let marker = format!("/{host_segment}/");
        let prefix = self
            .path
            .find(&marker)
            .map(|i| &self.path[..i])
            .unwrap_or("");
        format!("http://{host}{prefix}")
    }
}

fn form_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| s.to_string())
}

/// The text fields of a `multipart/form-data` body (file parts are kept as lossy text too;
/// the OAuth endpoints only read text fields).
fn multipart_fields(content_type: &str, body: &[u8]) -> Params {
    let Some(boundary) = content_type
        .split(';')
        .map(str::trim)
        .find_map(|p| {
            p.get(..9)
                .filter(|k| k.eq_ignore_ascii_case("boundary="))
                .and_then(|_| p.get(9..))
        })
        .map(|b| b.trim_matches('"').to_string())
    else {
        return Params::default();
    };
    let text = String::from_utf8_lossy(body);
    let delimiter = format!("--{boundary}");
    let mut out = Vec::new();
    for part in text.split(delimiter.as_str()).skip(1) {
        if part.starts_with("--") {
            break;
        }
        let part = part.strip_prefix("\r\n").unwrap_or(part);
        let Some((head, value)) = part.split_once("\r\n\r\n") else {
            continue;
        };
        let name = head.lines().find_map(|l| {
            let lower = l.to_ascii_lowercase();
            if !lower.starts_with("content-disposition:") {
                return None;
            }
            let i = lower.find("name=\"")? + 6;
            let rest = &l[i..];
            rest.find('"').map(|j| rest[..j].to_string())
        });
        if let Some(name) = name {
            let value = value.strip_suffix("\r\n").unwrap_or(value);
            out.push((name, value.to_string()));
        }
    }
    Params(out)
}

/// The raw bytes of the part named `name` of a `multipart/form-data` body (file parts such as
/// X's `media`, Graph's `source`, Pinterest's `file`), or `None` when the body is not multipart
/// or has no such part.
pub(crate) fn multipart_part(req: &Req, name: &str) -> Option<Bytes> {
    let content_type = req.header("content-type")?;
    if !content_type
        .to_ascii_lowercase()
        .starts_with("multipart/form-data")
    {
        return None;
    }
    let boundary = content_type.split(';').map(str::trim).find_map(|p| {
        p.get(..9)
            .filter(|k| k.eq_ignore_ascii_case("boundary="))
            .and_then(|_| p.get(9..))
    })?;
    let delimiter = format!("--{}", boundary.trim_matches('"'));
    let body = &req.body[..];
    let find = |hay: &[u8], needle: &[u8], from: usize| -> Option<usize> {
        hay.get(from..)?
            .windows(needle.len())
            .position(|w| w == needle)
            .map(|i| i + from)
    };
    let wanted = format!("name=\"{name}\"");
    let mut at = find(body, delimiter.as_bytes(), 0)? + delimiter.len();
    loop {
        if body.get(at..at + 2) == Some(b"--") {
            return None;
        }
        let head_start = at + 2;
        let head_end = find(body, b"\r\n\r\n", head_start)?;
        let next = find(body, format!("\r\n{delimiter}").as_bytes(), head_end + 4)?;
        let head = String::from_utf8_lossy(&body[head_start..head_end]);
        let named = head.lines().any(|l| {
            l.to_ascii_lowercase().starts_with("content-disposition:") && l.contains(&wanted)
        });
        if named {
            return Some(req.body.slice(head_end + 4..next));
        }
        at = next + 2 + delimiter.len();
    }
}

// ---- tokens and secrets ----

/// A random opaque credential with a recognisable sandbox prefix:
/// `sbx-{platform}-{label}-{43 url-safe characters}` (256 random bits).
pub(crate) fn random_token(platform: &str, label: &str) -> String {
    format!("sbx-{platform}-{label}-{}", random_b64(32))
}

/// `n` random bytes, base64url without padding.
pub(crate) fn random_b64(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    rand::thread_rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A random request id in the style of trace ids (`fbtrace_id`, TikTok `log_id`).
pub(crate) fn trace_id() -> String {
    let mut bytes = [0u8; 12];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex_upper(&bytes)
}

fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// The hex SHA-256 of a string.
pub(crate) fn sha256_hex(s: &str) -> String {
    Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// RFC 7636 S256: `BASE64URL(SHA256(ascii(verifier)))`.
pub(crate) fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Compares two secrets without stopping at the first difference.
pub(crate) fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

// ---- responses ----

/// A JSON response.
pub(crate) fn json(status: u16, body: Value) -> Response {
    (code(status), axum::Json(body)).into_response()
}

/// A token-endpoint JSON response, with `Cache-Control: no-store` (RFC 6749 §5.1).
pub(crate) fn token_json(status: u16, body: Value) -> Response {
    let mut r = json(status, body);
    no_store(&mut r);
    r
}

/// An HTML page.
pub(crate) fn html(status: u16, body: String) -> Response {
    let mut r = (code(status), axum::response::Html(body)).into_response();
    no_store(&mut r);
    r
}

/// A `302 Found` redirect.
pub(crate) fn found(location: &str) -> Response {
    let mut r = Response::new(axum::body::Body::empty());
    *r.status_mut() = StatusCode::FOUND;
    if let Ok(v) = HeaderValue::from_str(location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    no_store(&mut r);
    r
}

/// An empty response.
pub(crate) fn empty(status: u16) -> Response {
    let mut r = Response::new(axum::body::Body::empty());
    *r.status_mut() = code(status);
    r
}

/// Adds a header, ignoring values that are not valid header text.
pub(crate) fn with_header(mut r: Response, name: &str, value: &str) -> Response {
    if let (Ok(n), Ok(v)) = (
        HeaderName::from_bytes(name.as_bytes()),
        HeaderValue::from_str(value),
    ) {
        r.headers_mut().insert(n, v);
    }
    r
}

fn no_store(r: &mut Response) {
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r.headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

fn code(status: u16) -> StatusCode {
    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// Escapes text for HTML element content and attribute values.
pub(crate) fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Fallback: a path no platform serves. Marked with `x-sandbox-unknown-path: 1` so tests can
/// tell "no such endpoint" from a platform's own 404.
pub(crate) async fn no_such_endpoint(req: Req) -> Response {
    let r = json(
        404,
        json!({
            "error": "not_found",
            "message": format!("the sandbox serves no endpoint at {} {}", req.method, req.path),
        }),
    );
    with_header(r, "x-sandbox-unknown-path", "1")
}

// ---- faults and stats ----

/// Runs one platform call: applies a scripted fault if one matches, otherwise answers with
/// `handle`, and records the outcome in the stats (see `Sandbox::stats`).
pub(crate) async fn run(
    sb: &Shared,
    platform: &'static str,
    endpoint: Endpoint,
    handle: impl FnOnce() -> Response,
) -> Response {
    if let Some(r) = fault(sb, platform, endpoint).await {
        if matches!(endpoint, Endpoint::Refresh | Endpoint::Profile) {
            sb.record(platform, endpoint, false);
        }
        return r;
    }
    let r = handle();
    sb.record(platform, endpoint, r.status().is_success());
    tracing::debug!(
        platform,
        endpoint = endpoint.as_str(),
        status = r.status().as_u16(),
        "sandbox call"
    );
    r
}

/// Applies the first matching fault: waits its delay, then returns its answer, or `None` when
/// the fault only delays (the real handler answers after the delay).
pub(crate) async fn fault(sb: &Shared, platform: &str, endpoint: Endpoint) -> Option<Response> {
    let f = sb.lock().take_fault(platform, endpoint)?;
    tracing::debug!(platform, endpoint = endpoint.as_str(), status = ?f.status, delay_ms = f.delay_ms, "sandbox fault");
    if f.delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(f.delay_ms)).await;
    }
    let status = f.status?;
    let mut r = Response::new(axum::body::Body::from(f.body));
    *r.status_mut() = code(status);
    r = with_header(r, "content-type", &f.content_type);
    for (k, v) in &f.headers {
        r = with_header(r, k, v);
    }
    // Marks a scripted answer, so the exchange recorder (and contract tests) can tell it from
    // the platform's own.
    Some(with_header(r, "x-sandbox-fault", "1"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multipart_text_fields() {
        let body = "--XYZ\r\nContent-Disposition: form-data; name=\"client_id\"\r\n\r\nabc\r\n--XYZ\r\nContent-Disposition: form-data; name=\"code\"\r\n\r\nq=1&r\r\n--XYZ--\r\n";
        let p = multipart_fields("multipart/form-data; Boundary=XYZ", body.as_bytes());
        assert_eq!(p.get("client_id"), Some("abc"));
        assert_eq!(p.get("code"), Some("q=1&r"));
    }

    #[test]
    fn rfc7636_appendix_b_vector() {
        assert_eq!(
            s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn tokens_are_prefixed_and_random() {
        let a = random_token("twitter", "at");
        let b = random_token("twitter", "at");
        assert!(a.starts_with("sbx-twitter-at-"));
        assert_ne!(a, b);
        assert!(a.len() >= "sbx-twitter-at-".len() + 43);
    }

    #[test]
    fn secrets_compare() {
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd"));
        assert!(!same("abc", "abcd"));
    }
}
