//! Abuse protection in front of every route (issue 7 item 6): rate limits shared by every
//! instance on one database, and the request body limit answered as problem+json.
//!
//! # Rate limits
//!
//! Requests are sorted into groups by route ([`Group::of`]): `connect` (`POST /v1/connect/…` and
//! the dashboard's `POST /connect/…`), `callback` (`GET /v1/oauth/callback/…`, no API key),
//! `sign_in` (the dashboard's `POST /sign-in`) and `api` (every other `/v1/` route). Probes
//! (`/healthz`, `/readyz`) and other pages are never limited. Each group has a limit per
//! **client address** and (`connect` and `api`) per **workspace** (the workspace of the
//! presented API key; an unknown key is counted by address only and then refused by the
//! handler). Limits are requests per fixed window of `rate_limits.window_secs` seconds, counted in
//! the store ([`switchboard_store::rate_limits`]), so the instances sharing one PostgreSQL
//! database count together. A request over a limit gets `429 Too Many Requests` as
//! problem+json with `Retry-After` (seconds until the window ends); every limited response
//! carries `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` (seconds) and
//! `RateLimit-Policy` (`<limit>;w=<window seconds>`), after the IETF `RateLimit` header fields
//! draft, for the tightest of the request's limits.
//!
//! ## Keeping the hot path cheap
//!
//! Counting every request with a database write would cost the `GET /token` path most of its
//! throughput, so an instance **reserves** slots: when it has none left for a key it adds `n` to
//! the shared counter in one `INSERT … ON CONFLICT DO UPDATE … RETURNING` and keeps the slots
//! it was granted (`min(n, limit − count before)`) to hand out locally. `n` is an eighth of the
//! headroom it last saw (at least 1, at most [`MAX_RESERVATION`]), so far from the limit one
//! write serves hundreds of requests, and close to it every request is counted in the database
//! one by one. The shared counter never grants more than the limit in a window across all
//! instances; slots an instance reserved but did not use before the window ended are lost
//! (a slight under-admission, at most the last reservations). Once an instance saw a key's window
//! exhausted it answers 429 for that key without asking the database until the window ends, so
//! a flood is shed in memory. A store failure lets the request through (logged): the limiter
//! never takes the API down with it.
//!
//! ## Client address
//!
//! The TCP peer address; when the peer is one of `trusted_proxies`, the right-most
//! `X-Forwarded-For` entry that is not itself a trusted proxy. Without `trusted_proxies` the
//! header is ignored (anyone could forge it).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use switchboard_store::Store;

use crate::config::RateLimitConfig;
use crate::error::ApiError;
use crate::AppState;

/// Most slots one instance reserves for a key in one database write.
pub const MAX_RESERVATION: u64 = 1024;
/// Share of the last seen headroom one reservation takes (1/8).
const RESERVATION_DIVISOR: u64 = 8;
/// How often an instance deletes the counters of past windows, milliseconds.
const PURGE_EVERY_MS: i64 = 60_000;
/// Local entries kept before the map of past windows is swept.
const SWEEP_AT_ENTRIES: usize = 50_000;

/// The route groups limits apply to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    /// `POST /v1/connect/{platform}`, `POST /v1/connect/bulk` and the dashboard's
    /// `POST /connect/…`: starting connect flows.
    Connect,
    /// `GET /v1/oauth/callback/{platform}`: platforms' redirects back (no API key).
    Callback,
    /// Every other `/v1/` route.
    Api,
    /// `POST /sign-in`: the dashboard's sign-in (password guessing).
    SignIn,
}

impl Group {
    /// The group of a request, `None` for routes that are never limited (probes, pages outside
    /// `/v1/`).
    pub fn of(method: &Method, path: &str) -> Option<Group> {
        if path.starts_with("/v1/oauth/callback/") {
            Some(Group::Callback)
        } else if path == "/sign-in" && method == Method::POST {
            Some(Group::SignIn)
        } else if (path.starts_with("/v1/connect/") || path.starts_with("/connect/"))
            && method == Method::POST
        {
            Some(Group::Connect)
        } else if path.starts_with("/v1/") {
            Some(Group::Api)
        } else {
            None
        }
    }

    /// Name used in keys and problems: `connect`, `callback`, `api`.
    pub fn name(self) -> &'static str {
        match self {
            Group::Connect => "connect",
            Group::Callback => "callback",
            Group::Api => "api",
            Group::SignIn => "sign_in",
        }
    }

    fn limits(self, c: &RateLimitConfig) -> (u64, u64) {
        // (per address, per workspace); 0 = unlimited.
        match self {
            Group::Connect => (c.connect_per_address, c.connect_per_workspace),
            Group::Callback => (c.callback_per_address, 0),
            Group::Api => (c.api_per_address, c.api_per_workspace),
            Group::SignIn => (c.sign_in_per_address, 0),
        }
    }
}

/// What one limit said about a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Whether the request may go on.
    pub allowed: bool,
    /// The limit (requests per window).
    pub limit: u64,
    /// Requests left in this window (an estimate across instances; 0 when refused).
    pub remaining: u64,
    /// Seconds until the window ends (at least 1).
    pub reset_secs: u64,
}

#[derive(Debug, Default)]
struct Slot {
    window_start_ms: i64,
    /// Slots reserved in the store and not handed out yet.
    available: u64,
    /// The highest shared count this instance has seen for the window.
    seen: u64,
    /// Size of the last grant (the refill point is half of it).
    last_grant: u64,
    /// A background reservation is under way.
    refilling: bool,
    /// The shared counter refused a reservation: no more this window.
    exhausted: bool,
}

#[derive(Debug, Default)]
struct Shared {
    slots: Mutex<HashMap<String, Slot>>,
    /// One reservation in flight per key in this instance.
    reserving: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    last_purge_ms: AtomicI64,
}

/// The shared limiter of one instance: local reservations over the store's counters.
#[derive(Debug, Default)]
pub struct RateLimiter {
    shared: Arc<Shared>,
}

/// What a local take found: `(allowed, remaining, start a background refill)`.
type Local = (bool, u64, bool);

impl RateLimiter {
    /// An empty limiter.
    pub fn new() -> Self {
        RateLimiter::default()
    }

    /// Counts one request against `limit` requests per `window_secs` for `key`, at `now`.
    /// Far from the limit, a reservation is renewed in the background once half of the last
    /// one is used, so requests do not wait for the database.
    ///
    /// # Errors
    /// Store failures (the caller lets the request through).
    pub async fn check(
        &self,
        store: &Arc<dyn Store>,
        key: &str,
        limit: u64,
        window_secs: u64,
        now: DateTime<Utc>,
    ) -> Result<Decision, switchboard_store::StoreError> {
        let window_ms = i64::try_from(window_secs.max(1) * 1000).unwrap_or(i64::MAX);
        let now_ms = now.timestamp_millis();
        let start_ms = now_ms.div_euclid(window_ms) * window_ms;
        let reset_secs = u64::try_from((start_ms + window_ms - now_ms + 999) / 1000)
            .unwrap_or(1)
            .max(1);
        let decide = |allowed: bool, remaining: u64| Decision {
            allowed,
            limit,
            remaining,
            reset_secs,
        };
        let shared = &self.shared;
        if let Some((allowed, remaining, refill)) = take_local(shared, key, start_ms, limit) {
            if refill {
                let (shared, store, key) = (shared.clone(), store.clone(), key.to_string());
                tokio::spawn(async move {
                    let gate = gate(&shared, &key);
                    let _guard = gate.lock().await;
                    let r = reserve(&shared, &store, &key, start_ms, limit).await;
                    let mut slots = shared.slots.lock().unwrap_or_else(|p| p.into_inner());
                    if let Some(slot) = slots.get_mut(&key) {
                        slot.refilling = false;
                    }
                    if let Err(e) = r {
                        tracing::warn!(error = %e, "rate limiter store failure while refilling");
                    }
                });
            }
            return Ok(decide(allowed, remaining));
        }
        let gate = gate(shared, key);
        let _guard = gate.lock().await;
        // Another request may have reserved while this one waited.
        if let Some((allowed, remaining, _)) = take_local(shared, key, start_ms, limit) {
            return Ok(decide(allowed, remaining));
        }
        reserve(shared, store, key, start_ms, limit).await?;
        let (allowed, remaining, _) =
            take_local(shared, key, start_ms, limit).unwrap_or((false, 0, false));
        Ok(decide(allowed, remaining))
    }

    /// Deletes the store's counters of past windows, at most once a minute per instance, in the
    /// background.
    fn maybe_purge(&self, store: &Arc<dyn Store>, now: DateTime<Utc>, window_secs: u64) {
        let now_ms = now.timestamp_millis();
        let last = self.shared.last_purge_ms.load(Ordering::Relaxed);
        if now_ms - last < PURGE_EVERY_MS
            || self
                .shared
                .last_purge_ms
                .compare_exchange(last, now_ms, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        {
            let mut gates = self
                .shared
                .reserving
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            gates.retain(|_, g| Arc::strong_count(g) > 1);
        }
        let store = store.clone();
        let before = now - chrono::Duration::seconds(i64::try_from(window_secs).unwrap_or(0));
        tokio::spawn(async move {
            if let Err(e) = store.purge_rate_windows(before).await {
                tracing::warn!(error = %e, "could not purge past rate-limit windows");
            }
        });
    }
}

/// The reservation gate of `key` in this instance.
fn gate(shared: &Shared, key: &str) -> Arc<tokio::sync::Mutex<()>> {
    let mut map = shared.reserving.lock().unwrap_or_else(|p| p.into_inner());
    map.entry(key.to_string()).or_default().clone()
}

/// Hands out a locally reserved slot, or refuses when the window is known exhausted; `None`
/// when the store must be asked first.
fn take_local(shared: &Shared, key: &str, start_ms: i64, limit: u64) -> Option<Local> {
    let mut slots = shared.slots.lock().unwrap_or_else(|p| p.into_inner());
    if slots.len() > SWEEP_AT_ENTRIES {
        slots.retain(|_, s| s.window_start_ms >= start_ms);
    }
    let slot = slots.get_mut(key)?;
    if slot.window_start_ms != start_ms {
        return None;
    }
    if slot.available > 0 {
        slot.available -= 1;
        let refill = !slot.exhausted
            && !slot.refilling
            && slot.last_grant >= 4
            && slot.available < slot.last_grant / 2;
        if refill {
            slot.refilling = true;
        }
        let remaining = limit.saturating_sub(slot.seen) + slot.available;
        return Some((true, remaining, refill));
    }
    slot.exhausted.then_some((false, 0, false))
}

/// Reserves slots for `key` in the shared counter (one database write) and adds what was
/// granted to the local slot: an eighth of the headroom last seen, at least 1, at most
/// [`MAX_RESERVATION`].
async fn reserve(
    shared: &Shared,
    store: &Arc<dyn Store>,
    key: &str,
    start_ms: i64,
    limit: u64,
) -> Result<(), switchboard_store::StoreError> {
    let seen = {
        let slots = shared.slots.lock().unwrap_or_else(|p| p.into_inner());
        match slots.get(key) {
            Some(s) if s.window_start_ms == start_ms && s.exhausted => return Ok(()),
            Some(s) if s.window_start_ms == start_ms => s.seen,
            _ => 0,
        }
    };
    let n = (limit.saturating_sub(seen) / RESERVATION_DIVISOR).clamp(1, MAX_RESERVATION);
    let Some(window_start) = DateTime::<Utc>::from_timestamp_millis(start_ms) else {
        return Ok(());
    };
    let count = store.add_to_rate_window(key, window_start, n).await?;
    let granted = n.min(limit.saturating_sub(count.saturating_sub(n)));
    let mut slots = shared.slots.lock().unwrap_or_else(|p| p.into_inner());
    let slot = slots.entry(key.to_string()).or_default();
    if slot.window_start_ms != start_ms {
        if slot.window_start_ms > start_ms {
            // The window moved on while this reservation was under way.
            return Ok(());
        }
        *slot = Slot {
            window_start_ms: start_ms,
            ..Slot::default()
        };
    }
    slot.seen = slot.seen.max(count);
    // A short grant means the shared counter reached the limit: no more this window.
    slot.exhausted = granted < n;
    slot.available += granted;
    slot.last_grant = granted;
    Ok(())
}

/// The client address of a request: the peer, or with `trusted` proxies configured and the peer
/// among them, the right-most `X-Forwarded-For` entry that is not a trusted proxy (the left-most
/// entry when all are).
pub fn client_address(
    peer: Option<IpAddr>,
    headers: &HeaderMap,
    trusted: &[ipnet::IpNet],
) -> Option<IpAddr> {
    let peer = peer?;
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
    if trusted.is_empty() || !is_trusted(&peer) {
        return Some(peer);
    }
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        let Some(ip) = parse_hop(hop) else {
            // An entry that is no address: trust nothing left of it.
            break;
        };
        client = ip;
        if !is_trusted(&ip) {
            break;
        }
    }
    Some(client)
}

/// `203.0.113.7`, `2001:db8::1`, `[2001:db8::1]:443` or `203.0.113.7:5000`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|s| s.ip()))
}

/// The middleware: rate limits, then the body-limit problem.
pub async fn middleware(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let config = state.config();
    let limits = &config.rate_limits;
    let group = if limits.enabled {
        Group::of(req.method(), req.uri().path())
    } else {
        None
    };
    let mut tightest: Option<Decision> = None;
    if let Some(group) = group {
        let peer = req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        let address = client_address(peer, req.headers(), &config.trusted_proxies);
        let (per_address, per_workspace) = group.limits(limits);
        let mut checks: Vec<(String, u64, &'static str)> = Vec::with_capacity(2);
        if per_workspace > 0 {
            if let Some(ws) = workspace_of(&state, req.headers()).await {
                checks.push((
                    format!("{}:ws:{ws}", group.name()),
                    per_workspace,
                    "workspace",
                ));
            }
        }
        if per_address > 0 {
            if let Some(ip) = address {
                checks.push((
                    format!("{}:ip:{ip}", group.name()),
                    per_address,
                    "client address",
                ));
            }
        }
        let now = state.now();
        let store = state.store();
        state
            .rate_limiter()
            .maybe_purge(store, now, limits.window_secs);
        for (key, limit, per) in checks {
            match state
                .rate_limiter()
                .check(store, &key, limit, limits.window_secs, now)
                .await
            {
                Ok(d) if !d.allowed => {
                    tracing::info!(group = group.name(), per, limit, "rate limit exceeded");
                    return too_many(group, per, limits.window_secs, d);
                }
                Ok(d) => {
                    if tightest.is_none_or(|t| d.remaining < t.remaining) {
                        tightest = Some(d);
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "rate limiter store failure; request let through");
                }
            }
        }
    }
    // Media uploads answer their own 413, naming `media_max_bytes`.
    let own_limit = crate::routes::media::has_own_body_limit(req.method(), req.uri().path());
    let mut resp = next.run(req).await;
    // From `RequestBodyLimitLayer` (plain text, Content-Length over the limit) or from a body
    // extractor cut off while reading: one problem naming the limit.
    if resp.status() == StatusCode::PAYLOAD_TOO_LARGE && !own_limit {
        resp = body_too_large(config.max_body_bytes);
    }
    if let Some(d) = tightest {
        rate_limit_headers(resp.headers_mut(), limits.window_secs, &d);
    }
    resp
}

/// The body limit, `max_body_bytes` (`tower_http`'s `RequestBodyLimit`: a `Content-Length`
/// over it is refused before reading, a longer body is cut off), on every route except the
/// media uploads, which stream to disk under their own limit, `media_max_bytes`
/// ([`crate::routes::media::has_own_body_limit`]).
pub async fn body_limit(State(state): State<AppState>, req: Request, next: Next) -> Response {
    use tower::{Layer as _, ServiceExt as _};
    if crate::routes::media::has_own_body_limit(req.method(), req.uri().path()) {
        return next.run(req).await;
    }
    let mut next = Some(next);
    let inner = tower::service_fn(move |r: axum::http::Request<_>| {
        let next = next.take();
        async move {
            Ok::<_, std::convert::Infallible>(match next {
                Some(next) => next.run(r.map(axum::body::Body::new)).await,
                None => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
            })
        }
    });
    tower_http::limit::RequestBodyLimitLayer::new(state.config().max_body_bytes)
        .layer(inner)
        .oneshot(req)
        .await
        .map(|r| r.map(axum::body::Body::new))
        .unwrap_or_else(|e| match e {})
}

/// The workspace of the request's API key (cached lookup), if it presents a known one.
async fn workspace_of(state: &AppState, headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let key = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))?
        .trim();
    if key.is_empty() {
        return None;
    }
    match state.api_keys().lookup(state, key).await {
        Ok(found) => found.map(|k| k.workspace_id),
        Err(_) => None,
    }
}

fn rate_limit_headers(headers: &mut HeaderMap, window_secs: u64, d: &Decision) {
    let mut set = |name: &'static str, value: String| {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(HeaderName::from_static(name), v);
        }
    };
    set("ratelimit-limit", d.limit.to_string());
    set("ratelimit-remaining", d.remaining.to_string());
    set("ratelimit-reset", d.reset_secs.to_string());
    set("ratelimit-policy", format!("{};w={window_secs}", d.limit));
}

/// The 429 problem: which group, counted per what, the limit and when to come back.
fn too_many(group: Group, per: &'static str, window_secs: u64, d: Decision) -> Response {
    let mut resp = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate-limited",
        "Too many requests",
        format!(
            "more than {} {} requests per {window_secs} s from this {per}; retry in {} s",
            d.limit,
            group.name(),
            d.reset_secs
        ),
    )
    .with("group", group.name())
    .with("per", per)
    .with("limit", d.limit)
    .with("window_secs", window_secs)
    .with("retry_after_secs", d.reset_secs)
    .into_response();
    if let Ok(v) = HeaderValue::from_str(&d.reset_secs.to_string()) {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
    rate_limit_headers(resp.headers_mut(), window_secs, &d);
    resp
}

/// The 413 problem naming the limit (`max_body_bytes`).
fn body_too_large(max_body_bytes: usize) -> Response {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body-too-large",
        "Request body too large",
        format!("the request body exceeds the limit of {max_body_bytes} bytes (max_body_bytes)"),
    )
    .with("limit_bytes", max_body_bytes)
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(v: &[&str]) -> Vec<ipnet::IpNet> {
        v.iter().map(|s| s.parse().unwrap()).collect()
    }

    fn xff(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", v.parse().unwrap());
        h
    }

    #[test]
    fn forwarded_for_is_read_only_from_trusted_proxies() {
        let peer: IpAddr = "10.0.0.5".parse().unwrap();
        let h = xff("198.51.100.1, 203.0.113.7, 10.0.0.9");
        // Not configured: the header is ignored.
        assert_eq!(client_address(Some(peer), &h, &[]), Some(peer));
        // Trusted peer: the right-most untrusted hop.
        let t = nets(&["10.0.0.0/8"]);
        assert_eq!(
            client_address(Some(peer), &h, &t),
            Some("203.0.113.7".parse().unwrap())
        );
        // A peer outside the trusted proxies cannot forge its address.
        let outsider: IpAddr = "192.0.2.1".parse().unwrap();
        assert_eq!(client_address(Some(outsider), &h, &t), Some(outsider));
        // Garbage stops the walk at the last trusted hop.
        let h = xff("nonsense, 10.0.0.9");
        assert_eq!(
            client_address(Some(peer), &h, &t),
            Some("10.0.0.9".parse().unwrap())
        );
        let h = xff("[2001:db8::1]:443");
        assert_eq!(
            client_address(Some(peer), &h, &t),
            Some("2001:db8::1".parse().unwrap())
        );
    }

    #[test]
    fn groups_by_route() {
        assert_eq!(
            Group::of(&Method::POST, "/v1/connect/x"),
            Some(Group::Connect)
        );
        assert_eq!(
            Group::of(&Method::GET, "/v1/connect/bulk/1"),
            Some(Group::Api)
        );
        assert_eq!(
            Group::of(&Method::GET, "/v1/oauth/callback/x"),
            Some(Group::Callback)
        );
        assert_eq!(
            Group::of(&Method::GET, "/v1/connections/1/token"),
            Some(Group::Api)
        );
        assert_eq!(Group::of(&Method::GET, "/healthz"), None);
        assert_eq!(Group::of(&Method::POST, "/sign-in"), Some(Group::SignIn));
        assert_eq!(Group::of(&Method::GET, "/sign-in"), None);
        assert_eq!(
            Group::of(&Method::POST, "/connect/twitter"),
            Some(Group::Connect)
        );
    }
}
