//! The exchange recorder: every platform request the sandbox serves and its answer, kept in a
//! bounded ring in memory so tests can hold the clients' real calls and the sandbox's real
//! answers against the platforms' own API descriptions (`GET /__sandbox/exchanges`, see
//! `control.rs`).
//!
//! What is kept of one exchange (an [`Exchange`] as JSON):
//!
//! ```json
//! {"seq":1,"platform":"twitter","method":"POST","host":"api.x.com","path":"/2/tweets",
//!  "query":[["name","value"]],
//!  "request":{"headers":{"content-type":"application/json"},"content_type":"application/json",
//!             "size":25,"json":{"text":"hi"},"form":null,"files":[]},
//!  "response":{"status":201,"headers":{},"content_type":"application/json","size":40,
//!              "json":{"data":{"id":"1","text":"hi"}},"text":null}}
//! ```
//!
//! - `host` is the real platform host (the first path segment under the sandbox) and `path` the
//!   real path after it; `platform` is the id of the platform serving that host, or null.
//! - Bodies: JSON bodies as `json`, url-encoded and multipart text fields as `form`
//!   (name → value, a repeated name → array of values), multipart file parts as `files`
//!   (`{name, filename, content_type, size}`: the bytes are never kept). Other bodies (binary
//!   uploads), JSON and form bodies over [`CAPTURE_LIMIT`] bytes and multipart bodies over
//!   8 MiB give only `size` and `content_type`.
//! - Secrets are not kept: the values of token, code and secret parameters (query, form, JSON,
//!   the `Location` header's query) read `"[redacted]"`, and `authorization` keeps only its
//!   scheme.
//! - At most [`CAPACITY`] exchanges are kept; the oldest go first. Control endpoints
//!   (`/__sandbox/...`) are not recorded.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{OriginalUri, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use futures::StreamExt;
use serde_json::{json, Map, Value};

use crate::state::Shared;

/// How many exchanges the ring keeps.
pub(crate) const CAPACITY: usize = 2048;

/// Largest request or response body (bytes) whose content is summarised; larger bodies are
/// counted, not read into the record.
pub(crate) const CAPTURE_LIMIT: usize = 256 * 1024;

/// Largest multipart request body (bytes) held while the request is served, to describe its
/// fields and file parts (the same bound the handlers read bodies with); dropped once
/// described.
const MULTIPART_LIMIT: usize = 8 * 1024 * 1024;

/// Request headers kept (the rest, cookies among them, are not).
const REQUEST_HEADERS: [&str; 14] = [
    "accept",
    "authorization",
    "content-length",
    "content-range",
    "content-type",
    "linkedin-version",
    "x-restli-protocol-version",
    "x-restli-method",
    "x-upload-content-length",
    "x-upload-content-type",
    "x-goog-upload-protocol",
    "x-goog-upload-command",
    "x-goog-upload-offset",
    "range",
];

/// Response headers kept.
const RESPONSE_HEADERS: [&str; 6] = [
    "x-sandbox-fault",
    "content-type",
    "location",
    "range",
    "x-restli-id",
    "www-authenticate",
];

/// Parameter names whose values are secrets and are never recorded.
const SECRET_NAMES: [&str; 11] = [
    "access_token",
    "refresh_token",
    "client_secret",
    "code",
    "code_verifier",
    "fb_exchange_token",
    "id_token",
    "input_token",
    "token",
    "password",
    "signed_request",
];

/// The ring of recorded exchanges.
#[derive(Default)]
pub(crate) struct Recorder {
    ring: Mutex<Ring>,
}

#[derive(Default)]
struct Ring {
    next_seq: u64,
    items: VecDeque<Value>,
}

impl Recorder {
    fn push(&self, mut exchange: Value) {
        let mut r = self.ring.lock().unwrap_or_else(|e| e.into_inner());
        r.next_seq += 1;
        exchange["seq"] = json!(r.next_seq);
        if r.items.len() >= CAPACITY {
            r.items.pop_front();
        }
        r.items.push_back(exchange);
    }

    /// The recorded exchanges, oldest first, of one platform or of all.
    pub(crate) fn list(&self, platform: Option<&str>) -> Vec<Value> {
        let r = self.ring.lock().unwrap_or_else(|e| e.into_inner());
        r.items
            .iter()
            .filter(|e| platform.is_none_or(|p| e["platform"] == p))
            .cloned()
            .collect()
    }

    /// Forgets every recorded exchange (the sequence numbers go on).
    pub(crate) fn clear(&self) {
        self.ring
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .items
            .clear();
    }
}

/// The platform serving a real host name, by id.
pub(crate) fn platform_of(host: &str) -> Option<&'static str> {
    let h = host.to_ascii_lowercase();
    let ends = |s: &str| h == s || h.ends_with(&format!(".{s}"));
    if ends("x.com") || ends("twitter.com") {
        Some("twitter")
    } else if ends("linkedin.com") {
        Some("linkedin")
    } else if ends("facebook.com") {
        Some("facebook")
    } else if ends("instagram.com") {
        Some("instagram")
    } else if ends("tiktokapis.com") || ends("tiktok.com") {
        Some("tiktok")
    } else if ends("google.com") || ends("googleapis.com") {
        Some("youtube")
    } else if ends("pinterest.com") || h.starts_with("pinterest-media-upload.") {
        Some("pinterest")
    } else {
        None
    }
}

/// What the request body stream saw: its size, and its first [`CAPTURE_LIMIT`] bytes.
#[derive(Default)]
struct Seen {
    size: u64,
    bytes: Vec<u8>,
    overflow: bool,
}

/// Middleware: serves the request and records the exchange. Request bodies are watched as
/// the handler reads them (streamed uploads stay streamed); responses up to
/// [`CAPTURE_LIMIT`] bytes are read to be summarised, larger ones pass through counted only
/// by their size hint.
pub(crate) async fn record(State(sb): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let path = req
        .extensions()
        .get::<OriginalUri>()
        .map(|o| o.0.clone())
        .unwrap_or_else(|| req.uri().clone());
    // Control endpoints (possibly under a nesting prefix) are not platform calls.
    if path.path().contains("/__sandbox/") {
        return next.run(req).await;
    }
    let full_path = path.path().to_string();
    let query_string = path.query().unwrap_or("").to_string();
    let method = req.method().to_string();
    let req_headers = req.headers().clone();
    // Only bodies that have fields are held (JSON, forms, multipart); raw uploads are counted.
    let ct = header_text(&req_headers, "content-type")
        .unwrap_or_default()
        .to_ascii_lowercase();
    let limit = if ct.starts_with("multipart/") {
        MULTIPART_LIMIT
    } else if ct.is_empty() || ct.contains("json") || ct.contains("x-www-form-urlencoded") {
        CAPTURE_LIMIT
    } else {
        0
    };
    let seen = Arc::new(Mutex::new(Seen {
        overflow: limit == 0,
        ..Seen::default()
    }));
    let watcher = seen.clone();
    let req = req.map(|body| {
        Body::from_stream(body.into_data_stream().map(move |chunk| {
            if let Ok(b) = &chunk {
                let mut s = watcher.lock().unwrap_or_else(|e| e.into_inner());
                s.size += b.len() as u64;
                if !s.overflow {
                    if s.bytes.len() + b.len() <= limit {
                        s.bytes.extend_from_slice(b);
                    } else {
                        s.overflow = true;
                        s.bytes = Vec::new();
                    }
                }
            }
            chunk
        }))
    });

    let response = next.run(req).await;

    let (parts, body) = response.into_parts();
    let small = axum::body::HttpBody::size_hint(&body)
        .upper()
        .is_some_and(|n| n <= CAPTURE_LIMIT as u64);
    let (body, resp_bytes, resp_size) = if small {
        match axum::body::to_bytes(body, CAPTURE_LIMIT).await {
            Ok(b) => (Body::from(b.clone()), Some(b.clone()), b.len() as u64),
            Err(_) => (Body::empty(), None, 0),
        }
    } else {
        let size = axum::body::HttpBody::size_hint(&body).lower();
        (body, None, size)
    };

    let (host, real_path) = split_host(&full_path);
    let query: Vec<Value> = url::form_urlencoded::parse(query_string.as_bytes())
        .map(|(k, v)| json!([k, redact_value(&k, &v)]))
        .collect();
    let request = {
        let s = seen.lock().unwrap_or_else(|e| e.into_inner());
        let ct = header_text(&req_headers, "content-type");
        let size = header_text(&req_headers, "content-length")
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(s.size)
            .max(s.size);
        let mut r = json!({
            "headers": kept_headers(&req_headers, &REQUEST_HEADERS),
            "content_type": ct,
            "size": size,
            "json": null,
            "form": null,
            "files": [],
        });
        if !s.overflow {
            summarise_request(&mut r, ct.as_deref(), &s.bytes);
        }
        r
    };
    let response = {
        let ct = header_text(&parts.headers, "content-type");
        let mut r = json!({
            "status": parts.status.as_u16(),
            "headers": kept_headers(&parts.headers, &RESPONSE_HEADERS),
            "content_type": ct,
            "size": resp_size,
            "json": null,
            "text": null,
        });
        if let Some(b) = &resp_bytes {
            let is_json = ct
                .as_deref()
                .is_some_and(|c| c.to_ascii_lowercase().contains("json"));
            match serde_json::from_slice::<Value>(b) {
                Ok(mut v) if is_json => {
                    redact_json(&mut v);
                    r["json"] = v;
                }
                _ if !b.is_empty() && std::str::from_utf8(b).is_ok() => {
                    r["text"] = json!(String::from_utf8_lossy(b));
                }
                _ => {}
            }
        }
        r
    };
    sb.exchanges.push(json!({
        "seq": 0,
        "at": sb.now().to_rfc3339(),
        "platform": platform_of(host),
        "method": method,
        "host": host,
        "path": real_path,
        "query": query,
        "request": request,
        "response": response,
    }));
    Response::from_parts(parts, body)
}

/// `/api.x.com/2/tweets` → (`api.x.com`, `/2/tweets`). A nesting prefix before the host
/// segment is skipped: the host is the first segment that looks like a host name.
fn split_host(path: &str) -> (&str, &str) {
    let mut at = 0;
    for seg in path.split('/') {
        if seg.contains('.') {
            let rest = &path[at + seg.len()..];
            return (seg, if rest.is_empty() { "/" } else { rest });
        }
        at += seg.len() + 1;
    }
    ("", path)
}

fn header_text(h: &HeaderMap, name: &str) -> Option<String> {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn kept_headers(h: &HeaderMap, names: &[&str]) -> Value {
    let mut out = Map::new();
    for name in names {
        let Some(v) = header_text(h, name) else {
            continue;
        };
        let v = match *name {
            // The scheme, never the credentials.
            "authorization" => v
                .split_once(' ')
                .map(|(scheme, _)| format!("{scheme} [redacted]"))
                .unwrap_or_else(|| "[redacted]".to_string()),
            "location" => redact_url(&v),
            _ => v,
        };
        out.insert((*name).to_string(), json!(v));
    }
    Value::Object(out)
}

fn redact_value(name: &str, value: &str) -> String {
    if SECRET_NAMES.contains(&name) {
        "[redacted]".to_string()
    } else {
        value.to_string()
    }
}

/// A URL with the values of secret query parameters replaced.
fn redact_url(url: &str) -> String {
    let Some((base, query)) = url.split_once('?') else {
        return url.to_string();
    };
    let (query, fragment) = match query.split_once('#') {
        Some((q, f)) => (q, Some(f)),
        None => (query, None),
    };
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        out.append_pair(&k, &redact_value(&k, &v));
    }
    let mut s = format!("{base}?{}", out.finish());
    if let Some(f) = fragment {
        s.push('#');
        s.push_str(f);
    }
    s
}

fn redact_json(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for (k, val) in m.iter_mut() {
                if SECRET_NAMES.contains(&k.as_str()) && val.is_string() {
                    *val = json!("[redacted]");
                } else {
                    redact_json(val);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(redact_json),
        _ => {}
    }
}

fn insert_field(form: &mut Map<String, Value>, name: &str, value: String) {
    let value = json!(redact_value(name, &value));
    match form.get_mut(name) {
        None => {
            form.insert(name.to_string(), value);
        }
        Some(Value::Array(a)) => a.push(value),
        Some(first) => *first = json!([first.clone(), value]),
    }
}

/// Fills `json`, `form` and `files` of a request record from the body and its content type
/// (a body without content type is read as a form only when it is UTF-8 and looks like one).
fn summarise_request(r: &mut Value, content_type: Option<&str>, body: &[u8]) {
    let ct = content_type.unwrap_or("").to_ascii_lowercase();
    if body.is_empty() {
        return;
    }
    if ct.contains("json") {
        if let Ok(mut v) = serde_json::from_slice::<Value>(body) {
            redact_json(&mut v);
            r["json"] = v;
        }
    } else if ct.starts_with("multipart/form-data") {
        let (form, files) = multipart(content_type.unwrap_or(""), body);
        r["form"] = Value::Object(form);
        r["files"] = Value::Array(files);
    } else if ct.is_empty() || ct.starts_with("application/x-www-form-urlencoded") {
        let Ok(text) = std::str::from_utf8(body) else {
            return;
        };
        // Raw uploads sent without a content type are bytes, not `name=value&…`.
        let form_like = text.split('&').all(|p| {
            p.split_once('=').is_some_and(|(k, _)| {
                !k.is_empty()
                    && k.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"_.-[]%+".contains(&b))
            })
        });
        if ct.is_empty() && !form_like {
            return;
        }
        let mut form = Map::new();
        for (k, v) in url::form_urlencoded::parse(body) {
            insert_field(&mut form, &k, v.into_owned());
        }
        r["form"] = Value::Object(form);
    }
}

/// The text fields and the file parts (described, not kept) of a multipart body. A part is a
/// file when it has a `filename`, a non-text content type, or bytes that are not UTF-8.
fn multipart(content_type: &str, body: &[u8]) -> (Map<String, Value>, Vec<Value>) {
    let mut form = Map::new();
    let mut files = Vec::new();
    let Some(boundary) = content_type.split(';').map(str::trim).find_map(|p| {
        p.get(..9)
            .filter(|k| k.eq_ignore_ascii_case("boundary="))
            .and_then(|_| p.get(9..))
    }) else {
        return (form, files);
    };
    let delimiter = format!("\r\n--{}", boundary.trim_matches('"'));
    // A leading CRLF lets the first delimiter be found like the others.
    let mut data = b"\r\n".to_vec();
    data.extend_from_slice(body);
    let find = |from: usize, needle: &[u8]| -> Option<usize> {
        data.get(from..)?
            .windows(needle.len())
            .position(|w| w == needle)
            .map(|i| i + from)
    };
    let Some(mut at) = find(0, delimiter.as_bytes()) else {
        return (form, files);
    };
    loop {
        at += delimiter.len();
        if data.get(at..at + 2) == Some(b"--") {
            break;
        }
        let Some(head_end) = find(at, b"\r\n\r\n") else {
            break;
        };
        let Some(next) = find(head_end + 4, delimiter.as_bytes()) else {
            break;
        };
        let head = String::from_utf8_lossy(&data[at..head_end]).into_owned();
        let content = &data[head_end + 4..next];
        let attr = |key: &str| -> Option<String> {
            let lower = head.to_ascii_lowercase();
            let i = lower.find(&format!("{key}=\""))? + key.len() + 2;
            let rest = &head[i..];
            rest.find('"').map(|j| rest[..j].to_string())
        };
        let part_type = head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case("content-type")
                .then(|| v.trim().to_string())
        });
        let name = attr("name").unwrap_or_default();
        let filename = attr("filename");
        let text = std::str::from_utf8(content).ok();
        let is_file = filename.is_some()
            || part_type
                .as_deref()
                .is_some_and(|t| !t.to_ascii_lowercase().starts_with("text/"))
            || text.is_none();
        match (is_file, text) {
            (false, Some(t)) => insert_field(&mut form, &name, t.to_string()),
            _ => files.push(json!({
                "name": name,
                "filename": filename,
                "content_type": part_type,
                "size": content.len(),
            })),
        }
        at = next;
    }
    (form, files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_map_to_platforms() {
        assert_eq!(platform_of("api.x.com"), Some("twitter"));
        assert_eq!(platform_of("graph.facebook.com"), Some("facebook"));
        assert_eq!(platform_of("graph.instagram.com"), Some("instagram"));
        assert_eq!(platform_of("www.googleapis.com"), Some("youtube"));
        assert_eq!(
            platform_of("pinterest-media-upload.s3-accelerate.amazonaws.com"),
            Some("pinterest")
        );
        assert_eq!(platform_of("example.org"), None);
        assert_eq!(
            split_host("/api.x.com/2/tweets"),
            ("api.x.com", "/2/tweets")
        );
        assert_eq!(
            split_host("/prefix/api.x.com/2/tweets"),
            ("api.x.com", "/2/tweets")
        );
    }

    #[test]
    fn multipart_keeps_fields_and_describes_files() {
        let body = b"--B\r\nContent-Disposition: form-data; name=\"segment_index\"\r\n\r\n0\r\n--B\r\nContent-Disposition: form-data; name=\"media\"; filename=\"blob\"\r\nContent-Type: application/octet-stream\r\n\r\n\x00\x01\xff\r\n--B--\r\n";
        let (form, files) = multipart("multipart/form-data; boundary=B", body);
        assert_eq!(form["segment_index"], "0");
        assert_eq!(files.len(), 1);
        assert_eq!(files[0]["name"], "media");
        assert_eq!(files[0]["size"], 3);
        assert_eq!(files[0]["content_type"], "application/octet-stream");
    }

    #[test]
    fn secrets_are_redacted() {
        let mut r = json!({});
        summarise_request(
            &mut r,
            Some("application/x-www-form-urlencoded"),
            b"grant_type=authorization_code&code=abc&client_secret=s",
        );
        assert_eq!(r["form"]["grant_type"], "authorization_code");
        assert_eq!(r["form"]["code"], "[redacted]");
        assert_eq!(r["form"]["client_secret"], "[redacted]");
        assert_eq!(
            redact_url("https://app/cb?code=abc&state=x"),
            "https://app/cb?code=%5Bredacted%5D&state=x"
        );
    }
}
