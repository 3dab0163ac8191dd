//! The Switchboard server: HTTP API, OAuth callback, and the wiring of store, vault, catalog and
//! OAuth client.
//!
//! The main job, connect, reads straight through [`routes::connect`]:
//! `POST /v1/connect/{platform}` stores a one-time state (and the PKCE code_verifier, sealed) and
//! returns the authorization URL; `GET /v1/oauth/callback/{platform}` consumes the state once,
//! exchanges the code, fetches the profile, seals the tokens ([`vaulted`]) and saves the
//! connection, then records a `connection.created` event.
//!
//! Start it with [`AppState::build`] and [`serve`], which takes an already-bound listener and a
//! shutdown future so tests can bind `127.0.0.1:0` and drive the real server.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use secrecy::ExposeSecret;
use switchboard_core::{Catalog, Clock, PlatformSpec};
use switchboard_oauth::{ClientCredentials, OAuthClient};
use switchboard_store::Store;
use switchboard_vault::Keyring;

pub mod audit;
pub mod config;
pub mod dashboard;
pub mod error;
pub mod events;
pub mod extract;
pub mod health;
pub mod lifecycle;
pub mod meta_callbacks;
pub mod metrics;
pub mod openapi;
pub mod prerequisites;
pub mod rate_limit;
pub mod routes;
pub mod telemetry;
pub mod validation;
pub mod vaulted;
pub mod webhooks;
pub mod workers;

pub use config::Config;
use error::ApiError;

/// Everything a request handler needs. Cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    config: Config,
    store: Arc<dyn Store>,
    keyring: Arc<Keyring>,
    catalog: Catalog,
    oauth: OAuthClient,
    clock: Arc<dyn Clock>,
    api_keys: ApiKeys,
    flights: lifecycle::Flights,
    instance_id: String,
    connections: moka::sync::Cache<String, switchboard_store::Connection>,
    heartbeats: workers::Heartbeats,
    rate_limiter: rate_limit::RateLimiter,
    webhook_outbound: switchboard_oauth::outbound::OutboundPolicy,
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// No encryption key and not in development mode.
    #[error("{0}")]
    Vault(#[from] switchboard_vault::VaultError),
    /// The database could not be opened or migrated.
    #[error("{0}")]
    Store(#[from] switchboard_store::StoreError),
    /// A custom provider is invalid.
    #[error("{0}")]
    Catalog(#[from] switchboard_core::catalog::CatalogError),
    /// Stored secrets name encryption keys the keyring lacks (the message names each key id
    /// and its rows per column).
    #[error("{0}")]
    MissingKeys(String),
}

impl AppState {
    /// Opens the database (applying migrations), loads the keyring and the catalog.
    ///
    /// Without keys the start fails unless `config.dev` is set, in which case an ephemeral key is
    /// generated: every token stored with it is unreadable after a restart, and the log says so.
    ///
    /// # Errors
    /// [`StartError`] saying what is missing or wrong.
    pub async fn build(config: Config, clock: Arc<dyn Clock>) -> Result<AppState, StartError> {
        let keyring = match &config.keys {
            Some(k) => Keyring::parse(k.expose_secret(), config.active_key.as_deref())?,
            None if config.dev => {
                tracing::warn!(
                    "DEVELOPMENT MODE: no encryption key configured, using an EPHEMERAL key. \
                     Tokens stored now cannot be read after a restart. Run `switchboard keygen` \
                     and set SWITCHBOARD_KEYS for real use."
                );
                Keyring::ephemeral()
            }
            None => return Err(switchboard_vault::VaultError::NoKeys.into()),
        };
        let store = switchboard_store::connect(&config.database_url).await?;
        // Refuse to run on secrets nobody here can open: a few index range scans (migration
        // 0009), whatever the number of rows.
        let outside = switchboard_store::maintenance::MaintenanceStore::sealed_outside_keys(
            store.as_ref(),
            &keyring.key_ids(),
        )
        .await?;
        if !outside.is_empty() {
            let message = switchboard_store::maintenance::describe_unknown_keys(&outside);
            if config.keys.is_some() {
                return Err(StartError::MissingKeys(message));
            }
            tracing::warn!("DEVELOPMENT MODE: {message}");
        }
        let catalog = build_catalog(&config)?;
        let config_origins = config.outbound_origins();
        let oauth = OAuthClient::new(Duration::from_secs(config.http_timeout_secs), clock.clone())
            .with_allowed_origins(config_origins.clone());
        Ok(AppState(Arc::new(Inner {
            config,
            store,
            keyring: Arc::new(keyring),
            catalog,
            oauth,
            clock,
            api_keys: ApiKeys::new(),
            flights: lifecycle::Flights::default(),
            instance_id: format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple()),
            connections: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(Duration::from_millis(CONNECTION_CACHE_TTL_MS))
                .build(),
            heartbeats: workers::Heartbeats::default(),
            rate_limiter: rate_limit::RateLimiter::new(),
            webhook_outbound: webhooks::policy(config_origins),
        })))
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.0.config
    }
    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.0.store
    }
    /// The keyring.
    pub fn keyring(&self) -> &Keyring {
        &self.0.keyring
    }
    /// The catalog, with overrides and custom providers.
    pub fn catalog(&self) -> &Catalog {
        &self.0.catalog
    }
    /// The OAuth client.
    pub fn oauth(&self) -> &OAuthClient {
        &self.0.oauth
    }
    /// The clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.0.clock
    }
    /// The API key cache.
    pub fn api_keys(&self) -> &ApiKeys {
        &self.0.api_keys
    }
    /// What the background workers last did (readiness).
    pub fn heartbeats(&self) -> &workers::Heartbeats {
        &self.0.heartbeats
    }
    /// This instance's side of the shared rate limits (`rate_limit.rs`).
    pub fn rate_limiter(&self) -> &rate_limit::RateLimiter {
        &self.0.rate_limiter
    }
    /// The outbound policy of webhook deliveries (`webhooks::policy`).
    pub fn webhook_outbound(&self) -> &switchboard_oauth::outbound::OutboundPolicy {
        &self.0.webhook_outbound
    }
    /// The in-process single flights of refreshes.
    pub fn flights(&self) -> &lifecycle::Flights {
        &self.0.flights
    }
    /// This instance's id, the holder name of its leases and locks.
    pub fn instance_id(&self) -> &str {
        &self.0.instance_id
    }
    /// A workspace's connection for the read-only hot path (`GET /token`), from a cache that
    /// lives [`CONNECTION_CACHE_TTL_MS`]. Every change this instance makes drops the entry
    /// ([`AppState::forget_connection`]); a change made by another instance sharing the database
    /// shows here within the TTL. Never used where tokens are changed: the refresh path reads the
    /// database under its lock.
    ///
    /// # Errors
    /// Database failures.
    pub async fn cached_connection(
        &self,
        workspace_id: &str,
        id: &str,
    ) -> Result<Option<switchboard_store::Connection>, ApiError> {
        let conn = match self.0.connections.get(id) {
            Some(c) => c,
            None => match self.0.store.get_connection_by_id(id).await? {
                Some(c) => {
                    self.0.connections.insert(id.to_string(), c.clone());
                    c
                }
                None => return Ok(None),
            },
        };
        Ok((conn.workspace_id == workspace_id).then_some(conn))
    }

    /// Drops a connection from the hot-path cache after a change.
    pub fn forget_connection(&self, id: &str) {
        self.0.connections.invalidate(id);
    }

    /// The current time.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.0.clock.now()
    }

    /// A platform by id, or the 404 problem that lists the known ones.
    ///
    /// # Errors
    /// [`ApiError::unknown_platform`].
    pub fn platform(&self, id: &str) -> Result<&PlatformSpec, ApiError> {
        self.0
            .catalog
            .get(id)
            .ok_or_else(|| ApiError::unknown_platform(id, self.0.catalog.ids()))
    }

    /// The app credentials configured for a platform. With a sandbox configured, built-in
    /// platforms without credentials use the sandbox's default client.
    pub fn credentials(&self, platform: &str) -> Option<ClientCredentials> {
        let c = &self.0.config;
        let (id, secret) = if let Some(p) = c.providers.get(platform) {
            (p.client_id.clone(), p.client_secret.clone())
        } else {
            let p = c.platforms.get(platform).cloned().unwrap_or_default();
            match (p.client_id, p.client_secret) {
                (Some(id), secret) => (Some(id), secret),
                (None, _) if c.sandbox_url.is_some() => (
                    Some(format!("sandbox-{platform}-client")),
                    Some(format!("sandbox-{platform}-secret")),
                ),
                (None, secret) => (None, secret),
            }
        };
        let client_id = id?;
        Some(ClientCredentials {
            client_id,
            client_secret: secret.map(secrecy::SecretString::from),
        })
    }
}

/// The catalog as `config` makes it: the built-in platforms with their configured API versions,
/// API bases and TikTok verified domains, then the sandbox rewrite (`sandbox_url`), custom
/// providers and `[hosts]` overrides. The one place `serve`, `platforms` and `doctor` build it.
///
/// # Errors
/// A configured value the catalog refuses (a bad API version or URL, a duplicate provider).
pub fn build_catalog(config: &Config) -> Result<Catalog, switchboard_core::catalog::CatalogError> {
    let mut catalog = Catalog::builtin()?;
    // API versions first (each resets the platform's endpoints from its catalog file), then
    // the other per-platform settings, so that the sandbox and host rewrites apply to them too.
    catalog.set_api_versions(&config.api_versions())?;
    for (id, p) in &config.platforms {
        if let Some(base) = &p.api_base {
            catalog.override_api_base(id, base)?;
        }
        catalog.set_verified_domains(id, &p.verified_domains);
    }
    if let Some(sandbox) = &config.sandbox_url {
        catalog.use_sandbox(sandbox);
    }
    for (id, p) in &config.providers {
        catalog.add(p.to_spec(id))?;
    }
    catalog.override_hosts(&config.hosts);
    Ok(catalog)
}

/// How long the hot path may serve a connection row read from the database, milliseconds.
pub const CONNECTION_CACHE_TTL_MS: u64 = 1000;

/// Cache of API key hash → key record (id and workspace), so that the hot path (`GET /token`)
/// does not hash and query for every request. Entries live 30 seconds: a deleted key stops
/// working within that.
#[derive(Debug)]
pub struct ApiKeys {
    cache: moka::sync::Cache<String, switchboard_store::ApiKey>,
}

impl ApiKeys {
    fn new() -> Self {
        ApiKeys {
            cache: moka::sync::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(Duration::from_secs(30))
                .build(),
        }
    }

    /// The record (id, workspace) of a presented key, or `None` when the key is unknown.
    ///
    /// # Errors
    /// Database failures.
    pub async fn lookup(
        &self,
        state: &AppState,
        key: &str,
    ) -> Result<Option<switchboard_store::ApiKey>, ApiError> {
        let hash = extract::hash_api_key(key);
        if let Some(k) = self.cache.get(&hash) {
            return Ok(Some(k));
        }
        let found = state.store().find_api_key(&hash).await?;
        Ok(found.inspect(|k| self.cache.insert(hash, k.clone())))
    }
}

/// The API router.
pub fn router(state: AppState) -> Router {
    // Each resource module owns its routes; add a module here with one `.merge`.
    let routes = Router::new()
        .merge(routes::probes::routes())
        .merge(routes::platforms::routes())
        .merge(routes::connect::routes())
        .merge(routes::bulk::routes())
        .merge(routes::validate::routes())
        .merge(routes::connections::routes())
        .merge(routes::facebook_pages::routes())
        .merge(routes::tiktok::routes())
        .merge(routes::health_check::routes())
        .merge(routes::events::routes())
        .merge(routes::troubleshoot::routes())
        .merge(routes::permissions::routes())
        .merge(routes::guides::routes())
        .merge(routes::webhooks::routes())
        .merge(routes::audit::routes())
        .merge(routes::posts::routes())
        .merge(routes::sync::routes())
        .merge(routes::media::routes())
        .merge(routes::meta_callbacks::routes())
        .merge(openapi::routes())
        .merge(dashboard::routes())
        .fallback(routes::probes::not_found);
    with_layers(routes, state)
}

/// `routes` wrapped in the layers every route of [`router`] has (panic safety net, body limit,
/// rate limits, metrics, trace span, request id), with `state`.
pub fn with_layers(routes: Router<AppState>, state: AppState) -> Router {
    routes
        // A panicking handler answers a 500 problem (logged once) instead of a dropped
        // connection; innermost, so metrics and the trace see that 500.
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            error::panic_response,
        ))
        // `max_body_bytes` on every route but the media uploads (their own `media_max_bytes`).
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            rate_limit::body_limit,
        ))
        // Shared rate limits (429 + Retry-After) and the 413 problem naming the body limit.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            rate_limit::middleware,
        ))
        // Latency by route template; records the connection id into the request span.
        .layer(axum::middleware::from_fn(metrics::track_http))
        // The span names the path, never the query: callbacks carry `code` and `state` there.
        .layer(
            tower_http::trace::TraceLayer::new_for_http().make_span_with(
                |req: &axum::http::Request<axum::body::Body>| {
                    let request_id = req
                        .headers()
                        .get("x-request-id")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default();
                    tracing::info_span!(
                        "request",
                        method = %req.method(),
                        path = %req.uri().path(),
                        request_id = %request_id,
                        // Recorded once known: by the API key extractor and `metrics::track_http`.
                        workspace_id = tracing::field::Empty,
                        connection_id = tracing::field::Empty,
                    )
                },
            ),
        )
        // X-Request-ID: kept when the client sends one, made otherwise, returned in the answer.
        .layer(tower_http::request_id::PropagateRequestIdLayer::x_request_id())
        .layer(tower_http::request_id::SetRequestIdLayer::x_request_id(
            tower_http::request_id::MakeRequestUuid,
        ))
        .with_state(state)
}

/// Serves the API on an already-bound listener until `shutdown` completes.
///
/// # Errors
/// I/O errors of the listener.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    // Prometheus on its own listener, when configured (`metrics_listen`).
    let mut exporter = Vec::new();
    if let Some(addr) = state.config().metrics_listen {
        exporter = metrics::start(addr, &state, stopped.clone()).await?.1;
    }
    let workers = workers::spawn_all(&state, stopped);
    // The peer address feeds the per-address rate limits (`rate_limit::client_address`).
    let app = router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    let result = axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown.await;
            let _ = stop.send(true);
        })
        .await;
    for w in workers.into_iter().chain(exporter) {
        let _ = w.await;
    }
    result
}

/// Creates a workspace and its first API key. Returns `(workspace, key)`; the key is shown once
/// and only its hash is stored.
///
/// # Errors
/// Database failures.
pub async fn create_workspace(
    store: &dyn Store,
    name: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(switchboard_store::Workspace, String), switchboard_store::StoreError> {
    let ws = store.create_workspace(name, now).await?;
    let key = new_api_key();
    store
        .create_api_key(&ws.id, &extract::hash_api_key(&key), &key[..12], now)
        .await?;
    Ok((ws, key))
}

/// A new API key: `sbk_` and 256 random bits, base64url.
pub fn new_api_key() -> String {
    use base64::Engine;
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!(
        "sbk_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}
