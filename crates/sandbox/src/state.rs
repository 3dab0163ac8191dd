//! The shared mechanics every platform uses: authorization codes (issue, single-use redemption),
//! grants and tokens (issue, rotation, expiry, revocation), consents, stats and faults.
//!
//! Everything sits behind one mutex. It is never held across an `.await`: handlers lock, decide
//! and answer synchronously.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use switchboard_core::Clock;

use crate::accounts::Account;
use crate::http;
use crate::{SandboxClient, SandboxConfig, PLATFORMS};

/// The sandbox configuration and its state.
pub(crate) struct Shared {
    pub(crate) config: SandboxConfig,
    data: Mutex<Data>,
    /// The recorded exchanges (`GET /__sandbox/exchanges`), under their own lock.
    pub(crate) exchanges: crate::recorder::Recorder,
}

impl Shared {
    pub(crate) fn new(config: SandboxConfig) -> Self {
        Shared {
            config,
            data: Mutex::new(Data::default()),
            exchanges: crate::recorder::Recorder::default(),
        }
    }

    /// The state. A panic in another handler does not make the sandbox unusable.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Data> {
        self.data.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Now, on the sandbox clock.
    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.config.clock.now()
    }

    /// The registered app of a platform.
    pub(crate) fn client(&self, platform: &str) -> Option<&SandboxClient> {
        self.config.clients.get(platform)
    }

    /// Checks a client id and secret against the registered app.
    pub(crate) fn check_client(&self, platform: &str, id: &str, secret: &str) -> ClientCheck {
        match self.client(platform) {
            Some(c) if c.client_id == id => {
                if http::same(&c.client_secret, secret) {
                    ClientCheck::Ok
                } else {
                    ClientCheck::BadSecret
                }
            }
            _ => ClientCheck::UnknownClient,
        }
    }

    /// The access-token lifetime of a platform in seconds: the configured override or `default`.
    pub(crate) fn access_ttl(&self, platform: &str, default: i64) -> i64 {
        self.config
            .access_ttl_secs
            .get(platform)
            .copied()
            .unwrap_or(default)
    }

    /// Adds one to a counter after a call, by endpoint kind and outcome (see `Sandbox::stats`).
    pub(crate) fn record(&self, platform: &str, endpoint: Endpoint, success: bool) {
        let mut d = self.lock();
        let s = d.stats_mut(platform);
        match (endpoint, success) {
            (Endpoint::Token, true) => s.token_exchanges += 1,
            (Endpoint::Refresh, true) => s.refreshes += 1,
            (Endpoint::Refresh, false) => s.refresh_failures += 1,
            (Endpoint::Exchange, true) => s.long_lived_exchanges += 1,
            (Endpoint::Profile, _) => s.profile_calls += 1,
            (Endpoint::Upload, _) => s.upload_calls += 1,
            (Endpoint::Metrics, _) => s.metrics_calls += 1,
            _ => {}
        }
    }

    /// `GET /__sandbox/issued`: `{"tokens":[...],"client_secrets":[...]}`.
    pub(crate) fn issued_json(&self) -> Value {
        let secrets: Vec<&str> = self
            .config
            .clients
            .values()
            .map(|c| c.client_secret.as_str())
            .collect();
        json!({ "tokens": self.lock().issued_secrets(), "client_secrets": secrets })
    }

    pub(crate) fn stats_json(&self) -> Value {
        let d = self.lock();
        let platforms: serde_json::Map<String, Value> = PLATFORMS
            .iter()
            .map(|p| {
                let s = d.stats.get(*p).copied().unwrap_or_default();
                let mut v = json!(s);
                let mut by_account = serde_json::Map::new();
                for item in d.published.iter().filter(|i| i.platform == *p) {
                    let n = by_account
                        .entry(item.account_id.clone())
                        .or_insert(Value::from(0u64));
                    *n = Value::from(n.as_u64().unwrap_or(0) + 1);
                }
                v["published_by_account"] = Value::Object(by_account);
                (p.to_string(), v)
            })
            .collect();
        json!({ "platforms": platforms })
    }
}

/// Result of checking client credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClientCheck {
    Ok,
    UnknownClient,
    BadSecret,
}

/// The kinds of endpoint a fault can target, and stats are kept by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    /// The authorization endpoint (consent page).
    Authorize,
    /// The authorization_code exchange.
    Token,
    /// `grant_type=refresh_token` and `ig_refresh_token`.
    Refresh,
    /// `fb_exchange_token` and `ig_exchange_token`.
    Exchange,
    /// Profile calls (and Facebook's `/me/accounts`).
    Profile,
    /// Revocation.
    Revoke,
    /// A call that makes something public or final: create a post, publish a container or
    /// upload, create a pin (counted per account in `published_by_account`).
    Publish,
    /// A media upload step (initialize, append, finalize, chunk PUT, status poll).
    Upload,
    /// A read of a published item's metrics.
    Metrics,
}

impl Endpoint {
    pub(crate) const NAMES: [&'static str; 9] = [
        "authorize",
        "token",
        "refresh",
        "exchange",
        "profile",
        "revoke",
        "publish",
        "upload",
        "metrics",
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Endpoint::Authorize => "authorize",
            Endpoint::Token => "token",
            Endpoint::Refresh => "refresh",
            Endpoint::Exchange => "exchange",
            Endpoint::Profile => "profile",
            Endpoint::Revoke => "revoke",
            Endpoint::Publish => "publish",
            Endpoint::Upload => "upload",
            Endpoint::Metrics => "metrics",
        }
    }
}

/// Per-platform call counters.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub(crate) struct Stats {
    pub(crate) authorizations: u64,
    pub(crate) token_exchanges: u64,
    pub(crate) refreshes: u64,
    pub(crate) refresh_failures: u64,
    pub(crate) long_lived_exchanges: u64,
    pub(crate) revocations: u64,
    pub(crate) profile_calls: u64,
    pub(crate) faults_served: u64,
    /// Items made public or final (posts, published containers, pins, videos).
    pub(crate) published: u64,
    pub(crate) upload_calls: u64,
    pub(crate) metrics_calls: u64,
}

/// One item a platform published, as the sandbox remembers it (`GET /__sandbox/published`).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct PublishedItem {
    /// The platform's id of the item (tweet id, post URN, media id, pin id, video id...).
    pub(crate) id: String,
    pub(crate) platform: &'static str,
    /// The account it was published on (the platform's user id).
    pub(crate) account_id: String,
    /// `text`, `image`, `video`, `carousel`, `photo`, `pin`...
    pub(crate) kind: String,
    /// Text, caption or title.
    pub(crate) text: String,
    /// Media it carries (URLs or media ids).
    pub(crate) media: Vec<String>,
    pub(crate) published_at: DateTime<Utc>,
}

/// A deterministic engagement figure that grows with time: `elapsed_secs` seconds after
/// publication, item `id` has `elapsed_secs * rate / 3600` of `metric`, where the hourly `rate`
/// (1..=`max_per_hour`) is derived from a hash of the id and the metric name. Never decreases
/// as the sandbox clock moves forward; 0 at publication.
pub(crate) fn grown_metric(id: &str, metric: &str, elapsed_secs: i64, max_per_hour: u64) -> u64 {
    let digest = http::sha256_hex(&format!("{id}|{metric}"));
    let seed = u64::from_str_radix(&digest[..12], 16).unwrap_or(0);
    let rate = 1 + seed % max_per_hour.max(1);
    (elapsed_secs.max(0) as u64).saturating_mul(rate) / 3600
}

/// A scripted answer for the next matching requests (`POST /__sandbox/faults`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Fault {
    pub(crate) platform: String,
    /// An [`Endpoint`] name or `*`.
    pub(crate) endpoint: String,
    /// The status to answer with; `None` only delays, then answers normally.
    #[serde(default)]
    pub(crate) status: Option<u16>,
    #[serde(default)]
    pub(crate) body: String,
    #[serde(default = "default_content_type")]
    pub(crate) content_type: String,
    #[serde(default)]
    pub(crate) headers: BTreeMap<String, String>,
    #[serde(default)]
    pub(crate) delay_ms: u64,
    #[serde(default = "one")]
    pub(crate) times: u32,
}

fn default_content_type() -> String {
    "application/json".into()
}
fn one() -> u32 {
    1
}

/// PKCE parameters bound to a code (RFC 7636).
#[derive(Debug, Clone)]
pub(crate) struct Challenge {
    pub(crate) challenge: String,
    /// `S256` or `plain`.
    pub(crate) method: String,
}

impl Challenge {
    pub(crate) fn verify(&self, verifier: &str) -> bool {
        match self.method.as_str() {
            "S256" => http::same(&http::s256(verifier), &self.challenge),
            "plain" => http::same(verifier, &self.challenge),
            _ => false,
        }
    }
}

/// An authorization code and what it is bound to.
#[derive(Debug, Clone)]
pub(crate) struct AuthCode {
    pub(crate) platform: &'static str,
    pub(crate) client_id: String,
    pub(crate) redirect_uri: String,
    pub(crate) challenge: Option<Challenge>,
    pub(crate) scopes: Vec<String>,
    pub(crate) account: &'static Account,
    /// The parameters of the authorization request (Google reads `access_type` and `prompt`).
    pub(crate) params: BTreeMap<String, String>,
    pub(crate) expires_at: DateTime<Utc>,
    pub(crate) used: bool,
}

impl AuthCode {
    pub(crate) fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }
}

/// Why a code cannot be redeemed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CodeError {
    /// Never issued, or issued by another platform.
    Unknown,
    Expired,
    /// Already exchanged once.
    Used,
    /// Issued to another client.
    WrongClient,
    /// `redirect_uri` missing or different from the authorization request's.
    RedirectMismatch,
    /// The code has a PKCE challenge and no `code_verifier` came.
    VerifierMissing,
    /// The `code_verifier` does not match the challenge.
    VerifierMismatch,
}

/// The token kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenKind {
    Access,
    Refresh,
    /// A Facebook Page access token.
    Page(&'static str),
}

/// One authorization: what the person consented to. Tokens hang off a grant; revoking the grant
/// kills all of them.
#[derive(Debug, Clone)]
pub(crate) struct Grant {
    pub(crate) id: u64,
    pub(crate) platform: &'static str,
    pub(crate) client_id: String,
    pub(crate) account: &'static Account,
    pub(crate) scopes: Vec<String>,
    /// When refresh tokens of this grant stop working, where fixed at grant time (LinkedIn,
    /// TikTok count down from the first issuance).
    pub(crate) refresh_expires_at: Option<DateTime<Utc>>,
    pub(crate) revoked: bool,
}

#[derive(Debug, Clone)]
struct Token {
    grant: u64,
    kind: TokenKind,
    issued_at: DateTime<Utc>,
    expires_at: Option<DateTime<Utc>>,
    long_lived: bool,
    /// Rotated away: a single-use refresh token that was used.
    retired: bool,
}

/// A valid token and its grant.
#[derive(Debug, Clone)]
pub(crate) struct TokenInfo {
    pub(crate) grant: Grant,
    pub(crate) kind: TokenKind,
    pub(crate) issued_at: DateTime<Utc>,
    pub(crate) expires_at: Option<DateTime<Utc>>,
    pub(crate) long_lived: bool,
}

/// Why a token is not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenError {
    /// Never issued here, issued by another platform or client, or of the wrong kind.
    Unknown,
    Expired,
    /// The grant was revoked.
    Revoked,
    /// A rotated refresh token used again.
    Retired,
}

/// A freshly issued token.
#[derive(Debug, Clone)]
pub(crate) struct Issued {
    pub(crate) token: String,
    pub(crate) expires_at: Option<DateTime<Utc>>,
}

impl Issued {
    /// Seconds until expiry, as `expires_in` (0 when it does not expire).
    pub(crate) fn expires_in(&self, now: DateTime<Utc>) -> i64 {
        self.expires_at.map(|e| secs_until(e, now)).unwrap_or(0)
    }
}

/// Whole seconds from `now` to `at`, rounded to the nearest second (the sandbox clock runs in
/// real time between two requests, so a remaining lifetime is a few milliseconds short).
pub(crate) fn secs_until(at: DateTime<Utc>, now: DateTime<Utc>) -> i64 {
    ((at - now).num_milliseconds() + 500).div_euclid(1000)
}

/// The mutable state.
#[derive(Default)]
pub(crate) struct Data {
    codes: HashMap<String, AuthCode>,
    grants: HashMap<u64, Grant>,
    tokens: HashMap<String, Token>,
    next_grant: u64,
    /// Consents a platform keeps track of, as (kind, client id, account id); Google records
    /// offline-access consents to decide when to issue a refresh token.
    consents: HashSet<(String, String, String)>,
    /// First grant instant per (platform, client id, account id), for refresh tokens whose
    /// lifetime counts down from the first grant (LinkedIn).
    first_grants: HashMap<(String, String, String), DateTime<Utc>>,
    stats: BTreeMap<String, Stats>,
    faults: Vec<Fault>,
    /// Everything published, in order.
    published: Vec<PublishedItem>,
    /// Per-platform publishing state (posts, uploads, rate-limit windows), one value per type;
    /// see [`Data::platform_state`].
    platform_state: HashMap<std::any::TypeId, Box<dyn std::any::Any + Send>>,
    /// Tokens and codes handed out before the last `reset` (see [`Data::issued_secrets`]).
    forgotten_secrets: Vec<String>,
    /// Refresh-token uses per grant id (`GET /__sandbox/refreshes`).
    refreshes: BTreeMap<u64, GrantRefreshes>,
}

/// What happened to one grant's refresh tokens: uses accepted, and uses refused although the
/// token was issued on this grant (rotated away, expired, or the grant revoked).
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub(crate) struct GrantRefreshes {
    /// Refresh-token uses that issued new tokens.
    pub(crate) refreshes: u64,
    /// Uses of a refresh token of this grant that were refused.
    pub(crate) refused: u64,
}

impl Data {
    /// Forgets everything but the clock.
    pub(crate) fn reset(&mut self) {
        let forgotten = self.issued_secrets();
        *self = Data::default();
        self.forgotten_secrets = forgotten;
    }

    /// Every token this sandbox handed out since it started (access, refresh and Page tokens,
    /// whether still valid or not, those forgotten by `reset` included) and the authorization
    /// codes it remembers, for tests proving that none of them shows up in logs.
    pub(crate) fn issued_secrets(&self) -> Vec<String> {
        self.forgotten_secrets
            .iter()
            .chain(self.tokens.keys())
            .chain(self.codes.keys())
            .cloned()
            .collect()
    }

    pub(crate) fn stats_mut(&mut self, platform: &str) -> &mut Stats {
        self.stats.entry(platform.to_string()).or_default()
    }

    // ---- published items ----

    /// Records a published item and counts it. Every platform module calls this at the one
    /// point where its API makes something public, so tests can prove nothing was published
    /// twice.
    pub(crate) fn record_published(&mut self, item: PublishedItem) {
        self.stats_mut(item.platform).published += 1;
        self.published.push(item);
    }

    /// The publishing state a platform module keeps in its own type `T` (created empty on first
    /// use, forgotten by `reset`), so each platform's posts and uploads live in its own file.
    pub(crate) fn platform_state<T: Default + Send + 'static>(&mut self) -> &mut T {
        self.platform_state
            .entry(std::any::TypeId::of::<T>())
            .or_insert_with(|| Box::new(T::default()))
            .downcast_mut::<T>()
            .expect("platform state is keyed by its own TypeId")
    }

    /// Published items, optionally of one platform.
    pub(crate) fn published(&self, platform: Option<&str>) -> Vec<PublishedItem> {
        self.published
            .iter()
            .filter(|i| platform.is_none_or(|p| i.platform == p))
            .cloned()
            .collect()
    }

    // ---- consents ----

    /// Records a consent of some kind; true when it is the first for this (kind, client,
    /// account).
    pub(crate) fn record_consent(&mut self, kind: &str, client_id: &str, account: &str) -> bool {
        self.consents
            .insert((kind.to_string(), client_id.to_string(), account.to_string()))
    }

    /// Forgets a consent (the app was de-authorized).
    pub(crate) fn forget_consent(&mut self, kind: &str, client_id: &str, account: &str) {
        self.consents
            .remove(&(kind.to_string(), client_id.to_string(), account.to_string()));
    }

    // ---- codes ----

    /// Stores a code and returns its value.
    pub(crate) fn issue_code(&mut self, code: AuthCode, now: DateTime<Utc>) -> String {
        // Codes are short-lived: drop the ones long dead so the map stays small.
        let horizon = now - Duration::hours(1);
        self.codes.retain(|_, c| c.expires_at > horizon);
        let value = http::random_token(code.platform, "code");
        self.stats_mut(code.platform).authorizations += 1;
        self.codes.insert(value.clone(), code);
        value
    }

    /// Redeems a code: checks every binding and marks it used, or says why it cannot be used.
    /// A failed attempt does not burn the code.
    pub(crate) fn redeem_code(
        &mut self,
        platform: &str,
        code: &str,
        client_id: &str,
        redirect_uri: Option<&str>,
        verifier: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<AuthCode, CodeError> {
        let c = match self.codes.get_mut(code) {
            Some(c) if c.platform == platform => c,
            _ => return Err(CodeError::Unknown),
        };
        if c.used {
            return Err(CodeError::Used);
        }
        if now >= c.expires_at {
            return Err(CodeError::Expired);
        }
        if c.client_id != client_id {
            return Err(CodeError::WrongClient);
        }
        if redirect_uri != Some(c.redirect_uri.as_str()) {
            return Err(CodeError::RedirectMismatch);
        }
        if let Some(ch) = &c.challenge {
            match verifier {
                None | Some("") => return Err(CodeError::VerifierMissing),
                Some(v) if !ch.verify(v) => return Err(CodeError::VerifierMismatch),
                Some(_) => {}
            }
        }
        c.used = true;
        Ok(c.clone())
    }

    // ---- grants and tokens ----

    /// Starts a grant for a redeemed code; `refresh_lifetime` says whether refresh tokens of
    /// the grant end at a fixed instant (see [`RefreshLifetime`]).
    pub(crate) fn new_grant(
        &mut self,
        code: &AuthCode,
        now: DateTime<Utc>,
        refresh_lifetime: RefreshLifetime,
    ) -> Grant {
        self.next_grant += 1;
        let key = (
            code.platform.to_string(),
            code.client_id.clone(),
            code.account.id.to_string(),
        );
        let first = *self.first_grants.entry(key).or_insert(now);
        let refresh_expires_at = match refresh_lifetime {
            RefreshLifetime::None => None,
            RefreshLifetime::FromNow(s) => Some(now + Duration::seconds(s)),
            RefreshLifetime::FromFirstGrant(s) => Some(first + Duration::seconds(s)),
        };
        let grant = Grant {
            id: self.next_grant,
            platform: code.platform,
            client_id: code.client_id.clone(),
            account: code.account,
            scopes: code.scopes.clone(),
            refresh_expires_at,
            revoked: false,
        };
        self.grants.insert(grant.id, grant.clone());
        grant
    }

    /// Issues a token on a grant, valid for `ttl_secs` (`None`: never expires).
    pub(crate) fn issue(
        &mut self,
        grant: &Grant,
        kind: TokenKind,
        ttl_secs: Option<i64>,
        long_lived: bool,
        now: DateTime<Utc>,
    ) -> Issued {
        let expires_at = ttl_secs.map(|s| now + Duration::seconds(s));
        self.issue_until(grant, kind, expires_at, long_lived, now)
    }

    /// Issues a token on a grant that expires at a given instant.
    pub(crate) fn issue_until(
        &mut self,
        grant: &Grant,
        kind: TokenKind,
        expires_at: Option<DateTime<Utc>>,
        long_lived: bool,
        now: DateTime<Utc>,
    ) -> Issued {
        let label = match kind {
            TokenKind::Access => "at",
            TokenKind::Refresh => "rt",
            TokenKind::Page(_) => "page",
        };
        let token = http::random_token(grant.platform, label);
        self.tokens.insert(
            token.clone(),
            Token {
                grant: grant.id,
                kind,
                issued_at: now,
                expires_at,
                long_lived,
                retired: false,
            },
        );
        Issued { token, expires_at }
    }

    /// An active Page token of this grant and Page with this expiry, if one exists (Graph
    /// returns the same Page token on repeated `/me/accounts` calls).
    pub(crate) fn existing_page_token(
        &self,
        grant: u64,
        page: &str,
        expires_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Option<String> {
        self.tokens
            .iter()
            .find(|(_, t)| {
                t.grant == grant
                    && matches!(t.kind, TokenKind::Page(p) if p == page)
                    && t.expires_at == expires_at
                    && !t.retired
                    && t.expires_at.is_none_or(|e| e > now)
            })
            .map(|(k, _)| k.clone())
    }

    fn lookup(&self, platform: &str, token: &str) -> Option<(&Token, &Grant)> {
        let t = self.tokens.get(token)?;
        let g = self.grants.get(&t.grant)?;
        (g.platform == platform).then_some((t, g))
    }

    /// Checks an access token (user or Page) of a platform.
    pub(crate) fn check_access(
        &self,
        platform: &str,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<TokenInfo, TokenError> {
        let (t, g) = self.lookup(platform, token).ok_or(TokenError::Unknown)?;
        if t.kind == TokenKind::Refresh {
            return Err(TokenError::Unknown);
        }
        Self::validate(t, g, now)
    }

    /// Checks a token of any kind (access, Page or refresh) of a platform.
    pub(crate) fn check_any(
        &self,
        platform: &str,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<TokenInfo, TokenError> {
        let (t, g) = self.lookup(platform, token).ok_or(TokenError::Unknown)?;
        Self::validate(t, g, now)
    }

    /// Checks a refresh token of a platform and client, and retires it when `rotate` is true
    /// (single use).
    pub(crate) fn use_refresh(
        &mut self,
        platform: &str,
        token: &str,
        client_id: &str,
        rotate: bool,
        now: DateTime<Utc>,
    ) -> Result<TokenInfo, TokenError> {
        let (grant, checked) = {
            let (t, g) = self.lookup(platform, token).ok_or(TokenError::Unknown)?;
            if t.kind != TokenKind::Refresh || g.client_id != client_id {
                return Err(TokenError::Unknown);
            }
            (g.id, Self::validate(t, g, now))
        };
        let counts = self.refreshes.entry(grant).or_default();
        let info = match checked {
            Ok(info) => {
                counts.refreshes += 1;
                info
            }
            Err(e) => {
                counts.refused += 1;
                return Err(e);
            }
        };
        if rotate {
            if let Some(t) = self.tokens.get_mut(token) {
                t.retired = true;
            }
        }
        Ok(info)
    }

    fn validate(t: &Token, g: &Grant, now: DateTime<Utc>) -> Result<TokenInfo, TokenError> {
        if g.revoked {
            return Err(TokenError::Revoked);
        }
        if t.retired {
            return Err(TokenError::Retired);
        }
        if t.expires_at.is_some_and(|e| e <= now) {
            return Err(TokenError::Expired);
        }
        Ok(TokenInfo {
            grant: g.clone(),
            kind: t.kind,
            issued_at: t.issued_at,
            expires_at: t.expires_at,
            long_lived: t.long_lived,
        })
    }

    /// Refresh-token uses per grant, for grants whose refresh tokens were used at all:
    /// `(grant, counts)` in grant id order, optionally of one platform.
    pub(crate) fn refreshes(&self, platform: Option<&str>) -> Vec<(Grant, GrantRefreshes)> {
        self.refreshes
            .iter()
            .filter_map(|(id, n)| Some((self.grants.get(id)?.clone(), *n)))
            .filter(|(g, _)| platform.is_none_or(|p| g.platform == p))
            .collect()
    }

    /// Finds the grant of any token of a platform (active or not) issued to `client_id`.
    pub(crate) fn grant_of(&self, platform: &str, token: &str, client_id: &str) -> Option<Grant> {
        let (_, g) = self.lookup(platform, token)?;
        (g.client_id == client_id).then(|| g.clone())
    }

    /// Revokes a grant: every token issued on it stops working. Returns false when it was
    /// already revoked.
    pub(crate) fn revoke_grant(&mut self, grant: u64) -> bool {
        let platform = match self.grants.get_mut(&grant) {
            Some(g) if !g.revoked => {
                g.revoked = true;
                g.platform
            }
            _ => return false,
        };
        self.stats_mut(platform).revocations += 1;
        true
    }

    /// Revokes every grant of an account for a client (Meta's de-authorization).
    pub(crate) fn revoke_all(&mut self, platform: &str, client_id: &str, account: &str) -> bool {
        let ids: Vec<u64> = self
            .grants
            .values()
            .filter(|g| {
                g.platform == platform
                    && g.client_id == client_id
                    && g.account.id == account
                    && !g.revoked
            })
            .map(|g| g.id)
            .collect();
        for id in &ids {
            if let Some(g) = self.grants.get_mut(id) {
                g.revoked = true;
            }
        }
        if ids.is_empty() {
            return false;
        }
        self.stats_mut(platform).revocations += 1;
        true
    }

    /// Makes one token stop working (retired) without touching its grant, for
    /// `/__sandbox/invalidate`. False when the token is unknown.
    pub(crate) fn invalidate(&mut self, token: &str) -> bool {
        match self.tokens.get_mut(token) {
            Some(t) => {
                t.retired = true;
                true
            }
            None => false,
        }
    }

    /// RFC 7662-style description of any token, for `/__sandbox/introspect`.
    pub(crate) fn introspect(&self, token: &str, now: DateTime<Utc>) -> Value {
        let Some(t) = self.tokens.get(token) else {
            return json!({ "active": false });
        };
        let Some(g) = self.grants.get(&t.grant) else {
            return json!({ "active": false });
        };
        let active = Self::validate(t, g, now).is_ok();
        let mut v = json!({
            "active": active,
            "grant_id": g.id,
            "platform": g.platform,
            "token_type": if t.kind == TokenKind::Refresh { "refresh_token" } else { "access_token" },
            "account_id": g.account.id,
            "client_id": g.client_id,
            "scopes": g.scopes,
            "issued_at": t.issued_at.to_rfc3339(),
            "expires_at": t.expires_at.map(|e| e.to_rfc3339()),
            "long_lived": t.long_lived,
            "revoked": g.revoked,
            "rotated": t.retired,
        });
        if let TokenKind::Page(p) = t.kind {
            v["page_id"] = json!(p);
        }
        v
    }

    // ---- faults ----

    pub(crate) fn add_fault(&mut self, fault: Fault) {
        self.faults.push(fault);
    }

    pub(crate) fn clear_faults(&mut self) {
        self.faults.clear();
    }

    pub(crate) fn faults(&self) -> &[Fault] {
        &self.faults
    }

    /// Takes one use of the first fault matching this platform and endpoint.
    pub(crate) fn take_fault(&mut self, platform: &str, endpoint: Endpoint) -> Option<Fault> {
        let i = self.faults.iter().position(|f| {
            f.platform == platform && (f.endpoint == "*" || f.endpoint == endpoint.as_str())
        })?;
        let f = self.faults[i].clone();
        self.faults[i].times = self.faults[i].times.saturating_sub(1);
        if self.faults[i].times == 0 {
            self.faults.remove(i);
        }
        self.stats_mut(platform).faults_served += 1;
        Some(f)
    }
}

/// How long refresh tokens of a new grant live.
#[derive(Debug, Clone, Copy)]
pub(crate) enum RefreshLifetime {
    /// No fixed limit at grant level (lifetimes, if any, are per token).
    None,
    /// Seconds from now.
    FromNow(i64),
    /// Seconds from the first grant of this (client, account).
    FromFirstGrant(i64),
}
