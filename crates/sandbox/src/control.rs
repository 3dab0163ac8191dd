//! Control endpoints under `/__sandbox/`, for tests, demos and people poking at the sandbox.
//! They are JSON in, JSON out:
//!
//! - `GET /__sandbox/stats`: call counters per platform (see `Sandbox::stats`).
//! - `POST /__sandbox/faults` `{"platform","endpoint":"token|refresh|exchange|authorize|profile|revoke|publish|upload|metrics|*",
//!   "status","body","content_type","headers","delay_ms","times"}`: the next `times` matching
//!   requests get this answer after `delay_ms`; without `status` they are only delayed.
//!   `GET` lists pending faults, `DELETE` clears them. A faulted answer carries
//!   `x-sandbox-fault: 1`.
//! - `GET /__sandbox/clock` → `{"now"}`; `POST /__sandbox/clock {"advance_secs"}` moves it.
//! - `POST /__sandbox/introspect {"token"}` → `{"active","platform","token_type","account_id",
//!   "scopes","expires_at",…}` or `{"active":false}`.
//! - `POST /__sandbox/invalidate {"token"}` → `{"invalidated"}`: that one token stops working
//!   (the platform answers it as invalid, Graph's 190/467) while the grant and its other tokens
//!   live on, as when a person loses their role on one Facebook Page.
//! - `POST /__sandbox/reset`: forgets tokens, codes, consents, faults and stats (not the clock).
//! - `POST /__sandbox/grants {"platform","account"?,"scopes"?,"count","access_ttl_secs"?}` →
//!   `{"grants":[{"grant_id","access_token","refresh_token","expires_in","account_id"}]}`: grants
//!   issued directly to the platform's default client, as if `count` people had consented
//!   (benchmarks seed thousands of connections with it; at most 20,000 per call).
//! - `GET /__sandbox/refreshes[?platform=]` → `{"grants":[{"grant_id","platform","account_id",
//!   "refreshes","refused"}]}`: per grant whose refresh tokens were used, how many uses issued new
//!   tokens and how many were refused (a rotated-away, expired or revoked refresh token of the
//!   grant), so tests can prove each connection was refreshed once. `introspect` names a token's
//!   `grant_id`.
//! - `GET /__sandbox/issued` → `{"tokens":[...],"client_secrets":[...]}`: every token and code
//!   this sandbox handed out since it started (resets included) and its apps' client secrets,
//!   so log-capture tests can prove none of them reached a log.
//! - `GET /__sandbox/published[?platform=]` → `{"items":[{id,platform,account_id,kind,text,media,
//!   published_at}]}`: everything the platforms published, in order.
//! - `GET /__sandbox/media/{name}.{jpg|jpeg|png|webp|gif|mp4|mov}[?bytes=N]`: a media file of
//!   `N` bytes (default 200,000; at most 512 MiB), deterministic content, `Content-Type` by
//!   extension: the public media URLs that demos and tests publish from.
//! - `GET /__sandbox/exchanges[?platform=]` → `{"exchanges":[{seq,at,platform,method,host,path,
//!   query:[[name,value]],request:{headers,content_type,size,json,form,files:[{name,filename,
//!   content_type,size}]},response:{status,headers,content_type,size,json,text}}]}`: the last
//!   2,048 platform calls served (control calls are not recorded), oldest first, with `host` and
//!   `path` the real ones. Bodies are summarised: JSON as `json`, url-encoded or multipart text
//!   fields as `form`, file parts and other binary bodies by size and content type only (their
//!   bytes are never kept); JSON and form bodies past 256 KiB, multipart past 8 MiB, by size only. Token, code and secret values read
//!   `"[redacted]"`, `authorization` only its scheme. `DELETE` forgets them all. Contract
//!   tests hold these against the platforms' API descriptions.
//! - `GET|POST /__sandbox/x/billing {"balance_micros"?,"post_read_cap"?,"post_reads"?}`: X's
//!   pay-per-use credits and post-read cap (`platforms/twitter.rs`), off by default.
//! - `POST /__sandbox/meta/callbacks {"platform":"facebook|instagram","account","kind":
//!   "deauthorize|data_deletion","url"}`: sends Meta's callback as Meta would: a form POST of
//!   `signed_request` (base64url HMAC-SHA256 signature `.` base64url JSON `{algorithm:
//!   "HMAC-SHA256", issued_at, user_id}`, signed with the platform app's client secret) to
//!   `url`, the app's registered callback URL. `deauthorize` first removes the app for that
//!   person (every grant of the account dies, as "Remove" in the person's settings does).
//!   Answers `{"status","body","signed_request"}`: what the app answered.
//! - `GET /__sandbox/accounts`: the test accounts.
//! - `GET /__sandbox/avatars/{account}.svg`: the avatar the profile endpoints point at.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};
use switchboard_core::Clock;

use crate::accounts;
use crate::http::{self, json, Req};
use crate::state::{AuthCode, Endpoint, Fault, RefreshLifetime, Shared, TokenKind};
use crate::PLATFORMS;

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/__sandbox/stats", get(stats))
        .route(
            "/__sandbox/faults",
            get(list_faults).post(add_fault).delete(clear_faults),
        )
        .route("/__sandbox/clock", get(clock).post(advance_clock))
        .route("/__sandbox/introspect", post(introspect))
        .route("/__sandbox/invalidate", post(invalidate))
        .route("/__sandbox/reset", post(reset))
        .route("/__sandbox/grants", post(mint_grants))
        .route("/__sandbox/refreshes", get(list_refreshes))
        .route("/__sandbox/published", get(list_published))
        .route("/__sandbox/issued", get(list_issued))
        .route("/__sandbox/media/{file}", get(media_file))
        .route(
            "/__sandbox/exchanges",
            get(list_exchanges).delete(clear_exchanges),
        )
        .route("/__sandbox/accounts", get(list_accounts))
        .route("/__sandbox/meta/callbacks", post(meta_callback))
        .route("/__sandbox/avatars/{file}", get(avatar))
}

fn bad_request(message: impl Into<String>) -> Response {
    json(
        400,
        json!({ "error": "invalid_request", "message": message.into() }),
    )
}

fn parse<T: for<'de> Deserialize<'de>>(req: &Req) -> Result<T, Response> {
    serde_json::from_slice(&req.body).map_err(|e| bad_request(format!("invalid JSON body: {e}")))
}

async fn list_exchanges(State(sb): State<Arc<Shared>>, req: Req) -> Response {
    let platform = req.query.get("platform");
    if let Some(p) = platform.filter(|p| !PLATFORMS.contains(p)) {
        return bad_request(format!(
            "unknown platform {p:?}; known: {}",
            PLATFORMS.join(", ")
        ));
    }
    json(200, json!({ "exchanges": sb.exchanges.list(platform) }))
}

async fn clear_exchanges(State(sb): State<Arc<Shared>>) -> Response {
    sb.exchanges.clear();
    http::empty(204)
}

async fn stats(State(sb): State<Arc<Shared>>) -> Response {
    json(200, sb.stats_json())
}

async fn list_faults(State(sb): State<Arc<Shared>>) -> Response {
    let faults = sb.lock().faults().to_vec();
    json(200, json!({ "faults": faults }))
}

async fn add_fault(State(sb): State<Arc<Shared>>, req: Req) -> Response {
    let fault: Fault = match parse(&req) {
        Ok(f) => f,
        Err(r) => return r,
    };
    if !PLATFORMS.contains(&fault.platform.as_str()) {
        return bad_request(format!(
            "unknown platform {:?}; known: {}",
            fault.platform,
            PLATFORMS.join(", ")
        ));
    }
    if fault.endpoint != "*" && !Endpoint::NAMES.contains(&fault.endpoint.as_str()) {
        return bad_request(format!(
            "unknown endpoint {:?}; known: {}, *",
            fault.endpoint,
            Endpoint::NAMES.join(", ")
        ));
    }
    if fault.status.is_some_and(|s| !(100..=599).contains(&s)) {
        return bad_request("status must be between 100 and 599");
    }
    if fault.times == 0 {
        return bad_request("times must be at least 1");
    }
    if fault.status.is_none() && fault.delay_ms == 0 {
        return bad_request("a fault needs a status, a delay_ms, or both");
    }
    let echo = json!(fault);
    sb.lock().add_fault(fault);
    json(201, json!({ "fault": echo }))
}

async fn clear_faults(State(sb): State<Arc<Shared>>) -> Response {
    sb.lock().clear_faults();
    json(200, json!({ "faults": [] }))
}

async fn clock(State(sb): State<Arc<Shared>>) -> Response {
    json(200, json!({ "now": sb.now().to_rfc3339() }))
}

#[derive(Deserialize)]
struct Advance {
    advance_secs: i64,
}

async fn advance_clock(State(sb): State<Arc<Shared>>, req: Req) -> Response {
    let a: Advance = match parse(&req) {
        Ok(a) => a,
        Err(r) => return r,
    };
    // Bounded so the arithmetic on instants cannot overflow: a century either way.
    if a.advance_secs.abs() > 100 * 366 * 86_400 {
        return bad_request("advance_secs is out of range");
    }
    sb.config
        .clock
        .advance(chrono::Duration::seconds(a.advance_secs));
    json(200, json!({ "now": sb.config.clock.now().to_rfc3339() }))
}

#[derive(Deserialize)]
struct Introspect {
    token: String,
}

async fn introspect(State(sb): State<Arc<Shared>>, req: Req) -> Response {
    let i: Introspect = match parse(&req) {
        Ok(i) => i,
        Err(r) => return r,
    };
    let now = sb.now();
    json(200, sb.lock().introspect(&i.token, now))
}

async fn invalidate(State(sb): State<Arc<Shared>>, req: Req) -> Response {
    let i: Introspect = match parse(&req) {
        Ok(i) => i,
        Err(r) => return r,
    };
    json(
        200,
        json!({ "invalidated": sb.lock().invalidate(&i.token) }),
    )
}

async fn reset(State(sb): State<Arc<Shared>>) -> Response {
    sb.lock().reset();
    json(200, json!({ "reset": true }))
}

#[derive(Deserialize)]
struct Mint {
    platform: String,
    account: Option<String>,
    #[serde(default)]
    scopes: Vec<String>,
    count: u32,
    access_ttl_secs: Option<i64>,
}

async fn mint_grants(State(sb): State<Arc<Shared>>, req: Req) -> Response {
    let m: Mint = match parse(&req) {
        Ok(m) => m,
        Err(r) => return r,
    };
    let Some(platform) = PLATFORMS.iter().copied().find(|p| *p == m.platform) else {
        return bad_request(format!("unknown platform {:?}", m.platform));
    };
    if !(1..=20_000).contains(&m.count) {
        return bad_request("count must be between 1 and 20000");
    }
    let account = match &m.account {
        Some(id) => accounts::find(platform, id),
        None => accounts::for_platform(platform).next(),
    };
    let Some(account) = account else {
        return bad_request("unknown account for this platform");
    };
    let Some(client_id) = sb.client(platform).map(|c| c.client_id.clone()) else {
        return bad_request("no client configured for this platform");
    };
    let now = sb.now();
    let ttl = m
        .access_ttl_secs
        .unwrap_or_else(|| sb.access_ttl(platform, 7200));
    let code = AuthCode {
        platform,
        client_id,
        redirect_uri: String::new(),
        challenge: None,
        scopes: m.scopes.clone(),
        account,
        params: Default::default(),
        expires_at: now,
        used: true,
    };
    let mut d = sb.lock();
    let grants: Vec<Value> = (0..m.count)
        .map(|_| {
            let grant = d.new_grant(&code, now, RefreshLifetime::None);
            let access = d.issue(&grant, TokenKind::Access, Some(ttl), false, now);
            let refresh = d.issue(&grant, TokenKind::Refresh, None, false, now);
            json!({
                "grant_id": grant.id,
                "access_token": access.token,
                "refresh_token": refresh.token,
                "expires_in": ttl,
                "account_id": account.user_id,
            })
        })
        .collect();
    json(200, json!({ "grants": grants }))
}

async fn list_refreshes(State(sb): State<Arc<Shared>>, req: Req) -> Response {
    let platform = req.param("platform").map(str::to_string);
    let grants: Vec<Value> = sb
        .lock()
        .refreshes(platform.as_deref())
        .into_iter()
        .map(|(g, n)| {
            json!({
                "grant_id": g.id,
                "platform": g.platform,
                "account_id": g.account.user_id,
                "refreshes": n.refreshes,
                "refused": n.refused,
            })
        })
        .collect();
    json(200, json!({ "grants": grants }))
}

async fn list_issued(State(sb): State<Arc<Shared>>) -> Response {
    json(200, sb.issued_json())
}

async fn list_published(State(sb): State<Arc<Shared>>, req: Req) -> Response {
    let platform = req.param("platform").map(str::to_string);
    let items = sb.lock().published(platform.as_deref());
    json(200, json!({ "items": items }))
}

/// Largest sample media file, bytes.
const MAX_MEDIA_BYTES: u64 = 512 * 1024 * 1024;

async fn media_file(req: Req) -> Response {
    let file = req.path.rsplit('/').next().unwrap_or("");
    let ext = file.rsplit('.').next().unwrap_or("").to_ascii_lowercase();
    let content_type = match ext.as_str() {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "webp" => "image/webp",
        "gif" => "image/gif",
        "mp4" => "video/mp4",
        "mov" => "video/quicktime",
        _ => return bad_request("media names end in .jpg, .jpeg, .png, .webp, .gif, .mp4 or .mov"),
    };
    let bytes = match req.param("bytes").map(str::parse::<u64>) {
        None => 200_000,
        Some(Ok(n)) if (1..=MAX_MEDIA_BYTES).contains(&n) => n,
        Some(_) => return bad_request("bytes must be between 1 and 536870912"),
    };
    // Deterministic filler: the file name's hash, repeated.
    let seed = http::sha256_hex(file).into_bytes();
    let body: Vec<u8> = seed.iter().copied().cycle().take(bytes as usize).collect();
    axum::response::Response::builder()
        .status(200)
        .header("content-type", content_type)
        .header("content-length", bytes.to_string())
        .body(axum::body::Body::from(body))
        .unwrap_or_else(|_| bad_request("could not build the media answer"))
}

async fn list_accounts() -> Response {
    let by_platform: serde_json::Map<String, Value> = PLATFORMS
        .iter()
        .map(|p| {
            let list: Vec<Value> = accounts::for_platform(p).map(|a| json!(a)).collect();
            (p.to_string(), Value::from(list))
        })
        .collect();
    json(200, json!({ "platforms": by_platform }))
}

async fn avatar(req: Req) -> Response {
    let file = req.path.rsplit('/').next().unwrap_or("");
    let id = file.strip_suffix(".svg").unwrap_or(file);
    let Some(a) = accounts::by_id(id) else {
        return json(
            404,
            json!({ "error": "not_found", "message": "no such account" }),
        );
    };
    let initials: String = a
        .name
        .split_whitespace()
        .filter_map(|w| w.chars().find(|c| c.is_alphanumeric()))
        .take(2)
        .collect();
    let hue = http::sha256_hex(a.id)
        .get(0..2)
        .and_then(|h| u8::from_str_radix(h, 16).ok())
        .map(|b| u16::from(b) * 360 / 256)
        .unwrap_or(200);
    let svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"128\" height=\"128\" viewBox=\"0 0 128 128\">\
<rect width=\"128\" height=\"128\" rx=\"64\" fill=\"hsl({hue},55%,45%)\"/>\
<text x=\"64\" y=\"78\" font-family=\"sans-serif\" font-size=\"44\" text-anchor=\"middle\" fill=\"#fff\">{}</text></svg>",
        http::escape_html(&initials)
    );
    let r = http::with_header(
        Response::new(axum::body::Body::from(svg)),
        "content-type",
        "image/svg+xml",
    );
    http::with_header(r, "cache-control", "public, max-age=86400")
}

#[derive(Deserialize)]
struct MetaCallback {
    platform: String,
    account: String,
    kind: String,
    url: String,
}

/// Meta's `signed_request`: `base64url(HMAC-SHA256(secret, encoded)) + "." + encoded`, where
/// `encoded = base64url(payload JSON)`, no padding
/// (<https://developers.facebook.com/docs/development/create-an-app/app-dashboard/data-deletion-callback>).
pub(crate) fn signed_request(payload: &Value, secret: &str) -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;
    use hmac::{Hmac, Mac};
    let encoded = URL_SAFE_NO_PAD.encode(payload.to_string());
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes any key length");
    mac.update(encoded.as_bytes());
    format!(
        "{}.{encoded}",
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    )
}

async fn meta_callback(State(sb): State<Arc<Shared>>, req: Req) -> Response {
    let m: MetaCallback = match parse(&req) {
        Ok(m) => m,
        Err(r) => return r,
    };
    let Some(platform) = ["facebook", "instagram"]
        .into_iter()
        .find(|p| *p == m.platform)
    else {
        return bad_request(format!(
            "platform {:?} sends no Meta callbacks (facebook, instagram)",
            m.platform
        ));
    };
    if !["deauthorize", "data_deletion"].contains(&m.kind.as_str()) {
        return bad_request("kind must be deauthorize or data_deletion");
    }
    let Some(account) = accounts::find(platform, &m.account) else {
        return bad_request(format!("unknown {platform} account {:?}", m.account));
    };
    if !(m.url.starts_with("http://") || m.url.starts_with("https://")) {
        return bad_request("url must be an absolute http(s) URL");
    }
    let Some(app) = sb.config.clients.get(platform).cloned() else {
        return bad_request(format!("no {platform} app is registered"));
    };
    if m.kind == "deauthorize" {
        sb.lock().revoke_all(platform, &app.client_id, account.id);
    }
    let payload = json!({
        "algorithm": "HMAC-SHA256",
        "issued_at": sb.now().timestamp(),
        "user_id": account.user_id,
    });
    let sr = signed_request(&payload, &app.client_secret);
    let sent = reqwest::Client::new()
        .post(&m.url)
        .form(&[("signed_request", sr.as_str())])
        .timeout(std::time::Duration::from_secs(10))
        .send()
        .await;
    match sent {
        Ok(r) => {
            let status = r.status().as_u16();
            let text = r.text().await.unwrap_or_default();
            let body = serde_json::from_str::<Value>(&text).unwrap_or(Value::String(text));
            json(
                200,
                json!({ "status": status, "body": body, "signed_request": sr }),
            )
        }
        Err(e) => json(
            502,
            json!({ "error": format!("the callback URL did not answer: {e}"), "signed_request": sr }),
        ),
    }
}
