//! The Switchboard sandbox: local stand-ins for the OAuth 2.0 side of the seven platforms (X,
//! LinkedIn, Facebook, Instagram, TikTok, YouTube/Google, Pinterest), faithful to their documented
//! behaviour (`shared/PLATFORMS.md`), so the product runs, demos and tests with no credentials.
//!
//! # URL layout
//!
//! Every real host is served under a path prefix equal to the host name, so the client code that
//! talks to the real platforms works unchanged once the catalog is pointed at the sandbox
//! (`switchboard_core::Catalog::use_sandbox`):
//!
//! | real URL | sandbox URL |
//! |---|---|
//! | `https://api.x.com/2/oauth2/token` | `{sandbox}/api.x.com/2/oauth2/token` |
//! | `https://www.facebook.com/v22.0/dialog/oauth` | `{sandbox}/www.facebook.com/v22.0/dialog/oauth` |
//! | `https://open.tiktokapis.com/v2/oauth/token/` | `{sandbox}/open.tiktokapis.com/v2/oauth/token/` |
//!
//! Control endpoints for tests and demos live under `/__sandbox/`: `stats`, `faults`, `clock`,
//! `introspect`, `reset`, `accounts`, `exchanges` (documented in `src/control.rs`).
//!
//! # Layout of the code
//!
//! - `state`: the shared mechanics: codes, grants, tokens (issue, rotation, revocation),
//!   consents, stats, faults.
//! - `consent`: the authorization endpoint and consent page, parameterised by each platform's
//!   `AuthorizeRules`.
//! - `http`: request parsing (forms, Basic auth, bearer tokens) and response helpers.
//! - `platforms/<id>.rs`: everything one platform does differently, in one file (token endpoint,
//!   refresh, revocation, profile, error bodies). Publishing routes are added to the same files.
//! - [`accounts`]: the test accounts people pick on the consent page.
//! - `recorder`: every platform call served and its answer, in a bounded ring, for contract
//!   tests (`GET /__sandbox/exchanges`).
//!
//! # Consent without a browser
//!
//! The consent page is a real HTML form a person can click. Scripts skip it with the request
//! headers `X-Sandbox-Consent: allow|deny` (and optionally `X-Sandbox-Account: <account id>`) on
//! the authorization request, or with [`SandboxConfig::auto_consent`].

// Handlers return `Result<_, Response>` where the error is the platform's HTTP answer, built at
// most once per request; boxing it would only add noise.
#![allow(clippy::result_large_err)]
#![warn(missing_docs)]

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::future::Future;
use std::sync::Arc;

use switchboard_core::catalog::BUILTIN_IDS;
use switchboard_core::ManualClock;

pub mod accounts;
mod consent;
mod control;
mod http;
pub mod leaks;
mod platforms;
mod recorder;
mod state;

pub use accounts::{Account, Board, Channel, Page};

/// The ids of the seven platforms the sandbox plays, in display order.
pub const PLATFORMS: [&str; 7] = BUILTIN_IDS;

/// A developer app registered with one sandboxed platform.
#[derive(Clone, PartialEq, Eq)]
pub struct SandboxClient {
    /// The client identifier (`client_key` on TikTok, the app id on Meta and Pinterest).
    pub client_id: String,
    /// The client secret. An empty secret makes the app a public client where the platform has
    /// those (X): it then authenticates with `client_id` in the body instead of HTTP Basic.
    pub client_secret: String,
    /// Registered redirect URIs, compared exactly. Empty accepts any absolute `http(s)` URI.
    pub redirect_uris: Vec<String>,
}

impl fmt::Debug for SandboxClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SandboxClient")
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .field("redirect_uris", &self.redirect_uris)
            .finish()
    }
}

impl SandboxClient {
    /// True when `uri` may be used as a redirect URI for this app: an exact match with a
    /// registered URI, or, when none is registered, any absolute `http(s)` URI without fragment.
    pub fn accepts_redirect(&self, uri: &str) -> bool {
        if !self.redirect_uris.is_empty() {
            return self.redirect_uris.iter().any(|r| r == uri);
        }
        match url::Url::parse(uri) {
            Ok(u) => {
                matches!(u.scheme(), "http" | "https")
                    && u.host().is_some()
                    && u.fragment().is_none()
            }
            Err(_) => false,
        }
    }
}

/// The app every platform knows by default: client id `sandbox-{platform}-client`, secret
/// `sandbox-{platform}-secret`, any redirect URI.
pub fn default_client(platform: &str) -> SandboxClient {
    SandboxClient {
        client_id: format!("sandbox-{platform}-client"),
        client_secret: format!("sandbox-{platform}-secret"),
        redirect_uris: Vec::new(),
    }
}

/// How a [`Sandbox`] behaves.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// The registered app of each platform, by platform id. A platform without an entry rejects
    /// every client id. Default: [`default_client`] for all seven.
    pub clients: BTreeMap<String, SandboxClient>,
    /// Skip the consent page: the authorization endpoint redirects at once with a code for the
    /// platform's default account. The `X-Sandbox-Consent` header still wins when present.
    pub auto_consent: bool,
    /// Per-platform override of the access-token lifetime in seconds (tests shorten it). On
    /// Facebook and Instagram it applies to the short-lived token of the code exchange; long-lived
    /// tokens keep their 60 days.
    pub access_ttl_secs: BTreeMap<String, i64>,
    /// LinkedIn issues refresh tokens only to partner (MDP) apps. When true the sandbox plays a
    /// partner app: refresh tokens valid 365 days from the first grant, not rotated.
    pub linkedin_refresh_tokens: bool,
    /// Platforms whose registered app has not passed the platform's review ("unaudited"), by
    /// platform id. TikTok then offers and accepts only `SELF_ONLY` posts, only to private
    /// accounts (`unaudited_client_can_only_post_to_private_accounts`) and for at most 5 users
    /// in 24 hours (`reached_active_user_cap`); YouTube forces uploads to `private`
    /// (PLATFORMS.md §5, §6); Pinterest plays an app on Trial access, which may create Pins only
    /// on its API Sandbox host. Default: none, every app is audited.
    pub unaudited_apps: BTreeSet<String>,
    /// The URL properties verified for the TikTok app in TikTok's developer portal: domains
    /// (`media.example.com`, covering its subdomains) and `https://` URL prefixes ending in `/`.
    /// TikTok pulls (`PULL_FROM_URL`) only from these and answers 403
    /// `url_ownership_unverified` for any other URL
    /// (<https://developers.tiktok.com/doc/content-posting-api-media-transfer-guide>). Default:
    /// none, as for a new app.
    pub tiktok_verified_domains: Vec<String>,
    /// The clock behind every expiry decision. Clones share time, so a test keeps one and moves
    /// it (or calls `POST /__sandbox/clock`).
    pub clock: ManualClock,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            clients: PLATFORMS
                .iter()
                .map(|p| (p.to_string(), default_client(p)))
                .collect(),
            auto_consent: false,
            access_ttl_secs: BTreeMap::new(),
            linkedin_refresh_tokens: false,
            unaudited_apps: BTreeSet::new(),
            tiktok_verified_domains: Vec::new(),
            clock: ManualClock::new(),
        }
    }
}

/// A running set of platform simulators. Cheap to clone: clones share state.
#[derive(Clone)]
pub struct Sandbox {
    shared: Arc<state::Shared>,
}

impl fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sandbox")
            .field("config", &self.shared.config)
            .finish_non_exhaustive()
    }
}

impl Sandbox {
    /// A sandbox with empty state.
    pub fn new(config: SandboxConfig) -> Self {
        Sandbox {
            shared: Arc::new(state::Shared::new(config)),
        }
    }

    /// The HTTP routes of every platform and of `/__sandbox/`. Mount it at the root of a
    /// listener, or nest it under a prefix (the consent form posts back to the path it was
    /// served from).
    pub fn router(&self) -> axum::Router {
        axum::Router::new()
            .merge(platforms::routes())
            .merge(control::routes())
            .fallback(http::no_such_endpoint)
            .layer(axum::middleware::from_fn_with_state(
                self.shared.clone(),
                recorder::record,
            ))
            .with_state(self.shared.clone())
    }

    /// Serves [`Sandbox::router`] on an already-bound listener until `shutdown` completes.
    ///
    /// # Errors
    /// When accepting connections fails.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        axum::serve(listener, self.router())
            .with_graceful_shutdown(shutdown)
            .await
    }

    /// Call counters per platform, the same JSON as `GET /__sandbox/stats`:
    /// `{"platforms":{"<id>":{"authorizations","token_exchanges","refreshes","refresh_failures",
    /// "long_lived_exchanges","revocations","profile_calls","faults_served","published",
    /// "upload_calls","metrics_calls","published_by_account"}}}`.
    ///
    /// `authorizations` counts codes issued; `token_exchanges`, `refreshes`,
    /// `long_lived_exchanges` and `revocations` count successful calls; `refresh_failures` counts
    /// refresh calls answered with an error (including injected faults); `profile_calls` counts
    /// every call to a profile endpoint; `faults_served` counts requests a fault applied to.
    /// `published` counts items made public and `published_by_account` splits it by the
    /// platform's account id (a Facebook Page id for Pages); `upload_calls` and `metrics_calls`
    /// count every media-upload step and metrics read that was not answered by a fault.
    pub fn stats(&self) -> serde_json::Value {
        self.shared.stats_json()
    }

    /// Every secret this sandbox issued or holds, as `GET /__sandbox/issued` lists them: its
    /// tokens and codes (since it started, resets included) and its apps' client secrets.
    pub fn issued_secrets(&self) -> Vec<String> {
        let v = self.shared.issued_json();
        ["tokens", "client_secrets"]
            .iter()
            .flat_map(|k| v[*k].as_array().cloned().unwrap_or_default())
            .filter_map(|s| s.as_str().map(str::to_string))
            .collect()
    }

    /// The platform calls this sandbox served, oldest first (at most the last 2,048), of one
    /// platform or of all: the same items as `GET /__sandbox/exchanges[?platform=]` (shape in
    /// `src/recorder.rs`: method, real host and path, query, selected headers, the request's
    /// JSON or form fields, file parts by size only, status, the answer's content type and
    /// JSON or text). Secrets are redacted.
    pub fn exchanges(&self, platform: Option<&str>) -> Vec<serde_json::Value> {
        self.shared.exchanges.list(platform)
    }

    /// The sandbox clock (shared with [`SandboxConfig::clock`]).
    pub fn clock(&self) -> &ManualClock {
        &self.shared.config.clock
    }
}
