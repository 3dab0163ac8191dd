//! Configuration: a TOML file, then `SWITCHBOARD_*` environment variables over it, then
//! command-line flags over both. Secrets can come from files (`*_FILE` variables, `keys_file`).
//!
//! ```toml
//! listen = "127.0.0.1:8080"
//! public_url = "https://switchboard.example.com"   # redirect URIs are built from it
//! database_url = "sqlite://data/switchboard.db"     # or postgres://...
//! keys = "k1a2b3c4:BASE64KEY"                       # `switchboard keygen`; several, comma-separated
//! active_key = "k1a2b3c4"
//! admin_password_file = "/run/secrets/switchboard-admin"  # dashboard admin sign-in (optional)
//! allowed_return_urls = ["https://app.example.com/settings/"]
//! sandbox_url = "http://127.0.0.1:9000"             # point the built-in platforms at the sandbox
//! metrics_listen = "127.0.0.1:9464"                 # Prometheus /metrics on its own listener (off by default)
//! sentry_dsn = "https://key@o1.ingest.sentry.io/1"  # optional error reporting (or sentry_dsn_file)
//! otlp_endpoint = "http://127.0.0.1:4318"           # optional OpenTelemetry traces over OTLP/HTTP
//!
//! [platforms.twitter]
//! client_id = "..."
//! client_secret = "..."
//!
//! [providers.acme]                                   # any standard OAuth 2.0 provider
//! display_name = "Acme"
//! authorization_url = "https://id.acme.test/authorize"
//! token_url = "https://id.acme.test/token"
//! userinfo_url = "https://id.acme.test/userinfo"
//! client_id = "..."
//! client_secret = "..."
//! client_auth = "client_secret_basic"
//! pkce = "required"
//! scopes = ["openid", "offline_access"]
//! ```

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use secrecy::SecretString;
use serde::Deserialize;
use switchboard_core::catalog::{
    ClientAuth, Endpoints, Flavor, Pkce, PlatformSpec, ProfileFields, RefreshKind, Scopes,
    TokenBehaviour, TokenRequest,
};

/// Configuration errors, each naming the setting at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read configuration file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML for this schema.
    #[error("configuration file {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong, with line and column.
        message: String,
    },
    /// A value is invalid.
    #[error("setting {field}: {message}")]
    Invalid {
        /// The setting (`listen`, `providers.acme.token_url`, `SWITCHBOARD_LISTEN`...).
        field: String,
        /// What is wrong.
        message: String,
    },
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

/// A built-in platform's app credentials as configured.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlatformCredentials {
    /// Client id (`client_key` on TikTok).
    pub client_id: Option<String>,
    /// Client secret.
    pub client_secret: Option<String>,
    /// Read the client secret from this file instead.
    pub client_secret_file: Option<PathBuf>,
    /// Extra scopes to request on top of the catalog's defaults.
    #[serde(default)]
    pub extra_scopes: Vec<String>,
    /// Base URL of the platform's content API instead of the catalog's (`api_base`,
    /// `SWITCHBOARD_<ID>_API_BASE`): only the publishing, metrics and health calls move, OAuth
    /// stays on the real hosts. For Pinterest apps on Trial access,
    /// `"https://api-sandbox.pinterest.com"` (Pinterest's API Sandbox, the only host where they
    /// may create Pins). Applied before `sandbox_url` and `[hosts]`, which rewrite it as any
    /// other endpoint.
    #[serde(default)]
    pub api_base: Option<String>,
    /// TikTok only (`verified_domains`, `SWITCHBOARD_TIKTOK_VERIFIED_DOMAINS`, comma-separated):
    /// the domains (`media.example.com`, subdomains included) and `https://` URL prefixes
    /// (ending in `/`) verified for the app in TikTok's developer portal ("URL properties").
    /// TikTok pulls media only from these (`PULL_FROM_URL`); videos elsewhere are uploaded by
    /// Switchboard (`FILE_UPLOAD`), and photo posts, which TikTok can only pull, need their
    /// image URLs here. Empty (the default): every video is uploaded, photo posts are refused.
    #[serde(default)]
    pub verified_domains: Vec<String>,
    /// The platform's API version instead of the catalog's default (the Graph version
    /// `vNN.N` for `facebook` and `instagram`, the `LinkedIn-Version` `YYYYMM` for
    /// `linkedin`; other platforms have none). `SWITCHBOARD_<ID>_API_VERSION` overrides it.
    #[serde(default)]
    pub api_version: Option<String>,
}

/// A custom OAuth 2.0 provider (`[providers.<id>]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    /// Name shown to people.
    pub display_name: Option<String>,
    /// Authorization endpoint.
    pub authorization_url: String,
    /// Token endpoint.
    pub token_url: String,
    /// RFC 7009 revocation endpoint.
    pub revocation_url: Option<String>,
    /// OIDC userinfo (or any profile endpoint whose JSON has `sub`).
    pub userinfo_url: Option<String>,
    /// Client id.
    pub client_id: Option<String>,
    /// Client secret.
    pub client_secret: Option<String>,
    /// Read the client secret from this file instead.
    pub client_secret_file: Option<PathBuf>,
    /// `client_secret_basic` (default) or `client_secret_post`.
    #[serde(default = "default_client_auth")]
    pub client_auth: ClientAuth,
    /// `required` (default), `supported` or `none`.
    #[serde(default = "default_pkce")]
    pub pkce: Pkce,
    /// Scopes requested.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Separator between scopes (default a space).
    #[serde(default = "default_separator")]
    pub scope_separator: String,
    /// Whether the provider rotates refresh tokens (default true: the safe assumption).
    #[serde(default = "default_true")]
    pub rotating_refresh_tokens: bool,
    /// JSON pointer of the account id in the userinfo answer (default `/sub`).
    pub account_id_pointer: Option<String>,
    /// Extra authorization URL parameters.
    #[serde(default)]
    pub authorization_params: BTreeMap<String, String>,
}

fn default_client_auth() -> ClientAuth {
    ClientAuth::ClientSecretBasic
}
fn default_pkce() -> Pkce {
    Pkce::Required
}
fn default_separator() -> String {
    " ".into()
}
fn default_true() -> bool {
    true
}

/// The configuration file's schema. Every field is optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    listen: Option<String>,
    public_url: Option<String>,
    database_url: Option<String>,
    data_dir: Option<PathBuf>,
    media_dir: Option<PathBuf>,
    media_max_bytes: Option<u64>,
    media_quota_bytes: Option<u64>,
    disk_free_warning_bytes: Option<u64>,
    keys: Option<String>,
    keys_file: Option<PathBuf>,
    active_key: Option<String>,
    admin_password: Option<String>,
    admin_password_file: Option<PathBuf>,
    sandbox_url: Option<String>,
    #[serde(default)]
    hosts: BTreeMap<String, String>,
    #[serde(default)]
    allowed_return_urls: Vec<String>,
    #[serde(default)]
    outbound_allow_origins: Vec<String>,
    http_timeout_secs: Option<u64>,
    state_ttl_secs: Option<u64>,
    expiry_warning_secs: Option<u64>,
    workers: Option<bool>,
    worker_interval_ms: Option<u64>,
    sync_interval_secs: Option<u64>,
    publish_max_attempts: Option<u32>,
    publish_lease_secs: Option<u64>,
    publish_settle_margin_secs: Option<u64>,
    publish_per_platform: Option<usize>,
    publish_per_account: Option<usize>,
    webhook_per_receiver: Option<usize>,
    webhooks_allow_private_networks: Option<bool>,
    max_body_bytes: Option<usize>,
    trusted_proxies: Option<Vec<String>>,
    rate_limits: Option<RateLimitConfig>,
    refresh_lease_secs: Option<u64>,
    metrics_listen: Option<String>,
    sentry_dsn: Option<String>,
    sentry_dsn_file: Option<PathBuf>,
    otlp_endpoint: Option<String>,
    retention: Option<crate::workers::retention::RetentionFile>,
    #[serde(default)]
    refresh_buffer_secs: BTreeMap<String, u64>,
    #[serde(default)]
    platforms: BTreeMap<String, PlatformCredentials>,
    #[serde(default)]
    providers: BTreeMap<String, ProviderConfig>,
}

/// The resolved configuration the server runs with.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Base URL people and platforms reach this server at; redirect URIs are built from it.
    pub public_url: String,
    /// Database URL (`sqlite://...` or `postgres://...`).
    pub database_url: String,
    /// Where uploaded media files are kept, one file per media id (`media_dir`,
    /// `SWITCHBOARD_MEDIA_DIR`). `None`: `media` next to the SQLite database (`data_dir/media`),
    /// or `data/media` on PostgreSQL; see [`Config::media_dir`]. With several instances it must
    /// be storage they all share.
    pub media_dir: Option<PathBuf>,
    /// Largest media upload accepted by `POST /v1/media`, bytes (`media_max_bytes`,
    /// `SWITCHBOARD_MEDIA_MAX_BYTES`, default 512 MiB, at least 1 KiB). That route's own body
    /// limit, apart from `max_body_bytes`; a larger upload gets a 413 problem naming it.
    pub media_max_bytes: u64,
    /// Storage quota of each workspace's uploads, bytes (`media_quota_bytes`,
    /// `SWITCHBOARD_MEDIA_QUOTA_BYTES`, default 10 GiB): an upload that would take a workspace
    /// past it is refused (413 naming it), so one workspace cannot fill the shared disk.
    pub media_quota_bytes: u64,
    /// Free space, bytes, below which `/readyz` warns about a filesystem Switchboard writes to
    /// (the SQLite database's directory, `media_dir`) before writes start failing
    /// (`disk_free_warning_bytes`, `SWITCHBOARD_DISK_FREE_WARNING_BYTES`, default 256 MiB; 0
    /// turns the warning off). The free space is also the gauge `switchboard_disk_free_bytes`.
    pub disk_free_warning_bytes: u64,
    /// Encryption keys, `id:base64,...`; `None` only with `dev`.
    pub keys: Option<SecretString>,
    /// Id of the key that seals new values.
    pub active_key: Option<String>,
    /// Development mode: an ephemeral key when none is configured.
    pub dev: bool,
    /// Password of the dashboard's admin sign-in (`admin_password`, `admin_password_file`,
    /// `SWITCHBOARD_ADMIN_PASSWORD(_FILE)`); at least 8 characters. `None`: only workspace API
    /// keys sign in.
    pub admin_password: Option<SecretString>,
    /// When set, the built-in platforms point at this sandbox.
    pub sandbox_url: Option<String>,
    /// Host overrides (`api.x.com` → `http://127.0.0.1:9000/api.x.com`).
    pub hosts: BTreeMap<String, String>,
    /// URL prefixes `return_to` may point into (origin and path prefix must match).
    pub allowed_return_urls: Vec<url::Url>,
    /// Exact origins (`scheme://host:port`, never a range) that user-given URLs — media URLs of
    /// posts — may reach although they are private (loopback, RFC 1918...): everything else
    /// must be public (`switchboard_oauth::outbound`). With `sandbox_url`, the sandbox's own
    /// origin is added ([`Config::outbound_origins`]). `SWITCHBOARD_OUTBOUND_ALLOW_ORIGINS`,
    /// comma-separated.
    pub outbound_allow_origins: Vec<url::Url>,
    /// Timeout of every call to a platform, seconds.
    pub http_timeout_secs: u64,
    /// How long a connect session (OAuth state) stays valid, seconds (default 600).
    pub state_ttl_secs: u64,
    /// Warn this long before an unrefreshable token expires, seconds (default 86400).
    pub expiry_warning_secs: u64,
    /// Run the background workers inside `serve` (default true; `SWITCHBOARD_WORKERS=0` turns
    /// them off, for instances that only answer requests).
    pub workers: bool,
    /// Pause between two ticks of a worker, milliseconds (default 1000).
    pub worker_interval_ms: u64,
    /// Metrics sync: a workspace with published posts gets a sync job when its last one is
    /// older than this, seconds (default 900, at least 60; `workers::sync`).
    pub sync_interval_secs: u64,
    /// Tries of a post target that keeps failing for a transient reason before it is `failed`
    /// (default 3, at least 1; `workers::publish`).
    pub publish_max_attempts: u32,
    /// How long the dispatcher's claim of a post target lasts without news from its holder,
    /// seconds (default 120, at least 1; `workers::publish`). A crashed instance's targets are
    /// resumed by another once it runs out.
    pub publish_lease_secs: u64,
    /// Seconds added to `http_timeout_secs` before a create call that got no answer (or whose
    /// holder died) can no longer reach the platform (default 30; `workers::publish`): a check
    /// that finds nothing sends the post again only after that.
    pub publish_settle_margin_secs: u64,
    /// Post targets publishing at once per platform in one process (default 8, at least 1;
    /// `workers::publish`).
    pub publish_per_platform: usize,
    /// Post targets publishing at once per account (a connection, or a Facebook Page) in one
    /// process (default 1, at least 1: one account's posts go out one after the other).
    pub publish_per_account: usize,
    /// Webhook deliveries in flight at once per endpoint in one process (default 4, at least 1;
    /// `workers::webhooks`): one slow receiver holds at most this many sending slots while the
    /// other endpoints' deliveries go on.
    pub webhook_per_receiver: usize,
    /// Let webhook endpoints point at loopback, private (RFC 1918), link-local (cloud metadata),
    /// CGNAT, unique-local and other non-public addresses (default false: refused when an
    /// endpoint is added and again at every delivery, after DNS resolution; `webhooks`). For the
    /// sandbox, tests and on-premises receivers on the same network.
    pub webhooks_allow_private_networks: bool,
    /// How long the refresh worker's claim of a connection lasts, seconds (default 60, at least
    /// 1; `workers::refresh`). A crashed instance's claimed refreshes are taken over by another
    /// once it runs out; a live holder renews it just before calling the platform.
    pub refresh_lease_secs: u64,
    /// Where Prometheus scrapes `GET /metrics` (`SWITCHBOARD_METRICS_LISTEN`), on a listener of
    /// its own so that the metrics are never exposed on the public API address. `None` (the
    /// default): no metrics listener. See `docs/OBSERVABILITY.md`.
    pub metrics_listen: Option<SocketAddr>,
    /// Sentry DSN (`SWITCHBOARD_SENTRY_DSN`, `SWITCHBOARD_SENTRY_DSN_FILE`, `sentry_dsn_file`):
    /// when set, errors and panics are reported there (`telemetry`). `None`: nothing is sent.
    pub sentry_dsn: Option<SecretString>,
    /// OTLP/HTTP collector base URL (`SWITCHBOARD_OTLP_ENDPOINT`, for example
    /// `http://127.0.0.1:4318`; spans go to `{endpoint}/v1/traces`). `None`: no trace export.
    pub otlp_endpoint: Option<String>,
    /// Largest request body accepted, bytes (`SWITCHBOARD_MAX_BODY_BYTES`, default 1 MiB, at
    /// least 1 KiB); a larger body gets a 413 problem naming the limit (`rate_limit.rs`).
    pub max_body_bytes: usize,
    /// Proxies (addresses or CIDR networks) whose `X-Forwarded-For` is believed
    /// (`SWITCHBOARD_TRUSTED_PROXIES`, comma-separated). Empty (the default): the client address
    /// is the TCP peer.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Rate limits (`[rate_limits]`, `SWITCHBOARD_RATE_LIMITS_*`).
    pub rate_limits: RateLimitConfig,
    /// What the retention worker purges and when (`[retention]`, `SWITCHBOARD_RETENTION_*`;
    /// `workers::retention`).
    pub retention: crate::workers::retention::RetentionConfig,
    /// Per-platform refresh buffer, seconds: refresh when the access token expires within it.
    /// Default: a quarter of the platform's documented access lifetime, at most 2 hours.
    pub refresh_buffer_secs: BTreeMap<String, u64>,
    /// Built-in platform credentials by platform id.
    pub platforms: BTreeMap<String, PlatformCredentials>,
    /// Custom providers by id.
    pub providers: BTreeMap<String, ProviderConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: "http://127.0.0.1:8080".into(),
            database_url: "sqlite://data/switchboard.db".into(),
            media_dir: None,
            media_max_bytes: 512 * 1024 * 1024,
            media_quota_bytes: 10 * 1024 * 1024 * 1024,
            disk_free_warning_bytes: 256 * 1024 * 1024,
            keys: None,
            active_key: None,
            dev: false,
            admin_password: None,
            sandbox_url: None,
            hosts: BTreeMap::new(),
            allowed_return_urls: Vec::new(),
            outbound_allow_origins: Vec::new(),
            http_timeout_secs: 10,
            state_ttl_secs: 600,
            expiry_warning_secs: 86_400,
            workers: true,
            worker_interval_ms: 1000,
            sync_interval_secs: 900,
            publish_max_attempts: 3,
            publish_lease_secs: 120,
            publish_settle_margin_secs: 30,
            publish_per_platform: 8,
            publish_per_account: 1,
            webhook_per_receiver: 4,
            webhooks_allow_private_networks: false,
            refresh_lease_secs: 60,
            metrics_listen: None,
            sentry_dsn: None,
            otlp_endpoint: None,
            max_body_bytes: 1024 * 1024,
            trusted_proxies: Vec::new(),
            rate_limits: RateLimitConfig::default(),
            retention: crate::workers::retention::RetentionConfig::default(),
            refresh_buffer_secs: BTreeMap::new(),
            platforms: BTreeMap::new(),
            providers: BTreeMap::new(),
        }
    }
}

/// Where environment variables come from (a map in tests, the process environment otherwise).
pub trait Env {
    /// The variable's value, if set and not empty.
    fn var(&self, name: &str) -> Option<String>;
}

/// The process environment.
#[derive(Debug, Clone, Copy)]
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }
}

impl Env for BTreeMap<String, String> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name).cloned().filter(|v| !v.is_empty())
    }
}

fn read_secret_file(field: &str, path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .map_err(|e| invalid(field, format!("cannot read {}: {e}", path.display())))
}

/// `NAME` or the contents of the file `NAME_FILE` names.
fn env_or_file(env: &dyn Env, name: &str) -> Result<Option<String>, ConfigError> {
    if let Some(v) = env.var(name) {
        return Ok(Some(v));
    }
    let file_var = format!("{name}_FILE");
    match env.var(&file_var) {
        Some(path) => read_secret_file(&file_var, Path::new(&path)).map(Some),
        None => Ok(None),
    }
}

impl Config {
    /// Loads the file (when given), then applies the environment over it.
    ///
    /// # Errors
    /// [`ConfigError`] naming the file, the setting or the variable at fault.
    pub fn load(file: Option<&Path>, env: &dyn Env) -> Result<Config, ConfigError> {
        let fc = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.to_path_buf(),
                    source,
                })?;
                toml::from_str::<FileConfig>(&text).map_err(|e| ConfigError::Parse {
                    path: path.to_path_buf(),
                    message: e.to_string(),
                })?
            }
            None => FileConfig::default(),
        };
        Config::from_parts(fc, env)
    }

    fn from_parts(fc: FileConfig, env: &dyn Env) -> Result<Config, ConfigError> {
        let mut c = Config::default();
        let listen = env.var("SWITCHBOARD_LISTEN").or(fc.listen);
        if let Some(l) = listen {
            c.listen = l.parse().map_err(|_| {
                invalid(
                    "listen",
                    format!("{l:?} is not ADDR:PORT (for example 127.0.0.1:8080)"),
                )
            })?;
        }
        c.public_url = match env.var("SWITCHBOARD_PUBLIC_URL").or(fc.public_url) {
            Some(u) => u,
            None => format!("http://{}", c.listen),
        };
        if let Some(d) = env.var("SWITCHBOARD_DATABASE_URL").or(fc.database_url) {
            c.database_url = d;
        } else if let Some(dir) = env
            .var("SWITCHBOARD_DATA_DIR")
            .map(PathBuf::from)
            .or(fc.data_dir)
        {
            c.database_url = format!("sqlite://{}", dir.join("switchboard.db").display());
        }
        c.media_dir = env
            .var("SWITCHBOARD_MEDIA_DIR")
            .map(PathBuf::from)
            .or(fc.media_dir);
        if let Some(b) = env_parse::<u64>(
            env,
            "SWITCHBOARD_MEDIA_QUOTA_BYTES",
            "a whole number of bytes",
        )?
        .or(fc.media_quota_bytes)
        {
            c.media_quota_bytes = b;
        }
        if let Some(b) = env_parse::<u64>(
            env,
            "SWITCHBOARD_MEDIA_MAX_BYTES",
            "a whole number of bytes",
        )?
        .or(fc.media_max_bytes)
        {
            if b < 1024 {
                return Err(invalid(
                    "media_max_bytes",
                    format!("{b} is below the least useful limit, 1024 bytes"),
                ));
            }
            c.media_max_bytes = b;
        }
        if let Some(b) = env_parse::<u64>(
            env,
            "SWITCHBOARD_DISK_FREE_WARNING_BYTES",
            "a whole number of bytes",
        )?
        .or(fc.disk_free_warning_bytes)
        {
            c.disk_free_warning_bytes = b;
        }
        c.keys = match env_or_file(env, "SWITCHBOARD_KEYS")? {
            Some(k) => Some(SecretString::from(k)),
            None => match (fc.keys, fc.keys_file) {
                (Some(k), _) => Some(SecretString::from(k)),
                (None, Some(p)) => Some(SecretString::from(read_secret_file("keys_file", &p)?)),
                (None, None) => None,
            },
        };
        c.active_key = env.var("SWITCHBOARD_ACTIVE_KEY").or(fc.active_key);
        let admin_password = match env_or_file(env, "SWITCHBOARD_ADMIN_PASSWORD")? {
            Some(p) => Some(p),
            None => match (fc.admin_password, fc.admin_password_file) {
                (Some(p), _) => Some(p),
                (None, Some(f)) => Some(read_secret_file("admin_password_file", &f)?),
                (None, None) => None,
            },
        };
        if let Some(p) = &admin_password {
            if p.chars().count() < 8 {
                return Err(invalid(
                    "admin_password",
                    "must be at least 8 characters (the dashboard's admin sign-in)",
                ));
            }
        }
        c.admin_password = admin_password.map(SecretString::from);
        c.sandbox_url = env.var("SWITCHBOARD_SANDBOX_URL").or(fc.sandbox_url);
        c.hosts = fc.hosts;
        let returns: Vec<String> = match env.var("SWITCHBOARD_ALLOWED_RETURN_URLS") {
            Some(v) => v
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect(),
            None => fc.allowed_return_urls,
        };
        for r in returns {
            let u = url::Url::parse(&r)
                .map_err(|e| invalid("allowed_return_urls", format!("{r:?}: {e}")))?;
            if !matches!(u.scheme(), "http" | "https") {
                return Err(invalid(
                    "allowed_return_urls",
                    format!("{r:?} must be http(s)"),
                ));
            }
            c.allowed_return_urls.push(u);
        }
        let origins: Vec<String> = match env.var("SWITCHBOARD_OUTBOUND_ALLOW_ORIGINS") {
            Some(v) => v
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect(),
            None => fc.outbound_allow_origins,
        };
        for r in origins {
            let u = url::Url::parse(&r)
                .map_err(|e| invalid("outbound_allow_origins", format!("{r:?}: {e}")))?;
            let bare = u.path() == "/" && u.query().is_none() && u.fragment().is_none();
            if !matches!(u.scheme(), "http" | "https") || !u.has_host() || !bare {
                return Err(invalid(
                    "outbound_allow_origins",
                    format!("{r:?} must be an origin: http(s)://host[:port], nothing after"),
                ));
            }
            c.outbound_allow_origins.push(u);
        }
        if let Some(t) = env.var("SWITCHBOARD_HTTP_TIMEOUT_SECS") {
            c.http_timeout_secs = parse_secs("SWITCHBOARD_HTTP_TIMEOUT_SECS", &t)?;
        } else if let Some(t) = fc.http_timeout_secs {
            c.http_timeout_secs = t;
        }
        if c.http_timeout_secs == 0 {
            return Err(invalid("http_timeout_secs", "must be at least 1"));
        }
        c.state_ttl_secs = fc.state_ttl_secs.unwrap_or(c.state_ttl_secs);
        c.expiry_warning_secs = fc.expiry_warning_secs.unwrap_or(c.expiry_warning_secs);
        c.workers = match env.var("SWITCHBOARD_WORKERS") {
            Some(v) => !matches!(v.as_str(), "0" | "false" | "off" | "no"),
            None => fc.workers.unwrap_or(true),
        };
        c.worker_interval_ms = fc.worker_interval_ms.unwrap_or(c.worker_interval_ms);
        c.sync_interval_secs = fc
            .sync_interval_secs
            .unwrap_or(c.sync_interval_secs)
            .max(60);
        c.publish_max_attempts = fc
            .publish_max_attempts
            .unwrap_or(c.publish_max_attempts)
            .max(1);
        c.publish_lease_secs = fc.publish_lease_secs.unwrap_or(c.publish_lease_secs).max(1);
        c.publish_settle_margin_secs = fc
            .publish_settle_margin_secs
            .unwrap_or(c.publish_settle_margin_secs);
        c.publish_per_platform = fc
            .publish_per_platform
            .unwrap_or(c.publish_per_platform)
            .max(1);
        c.publish_per_account = fc
            .publish_per_account
            .unwrap_or(c.publish_per_account)
            .max(1);
        c.refresh_lease_secs = fc.refresh_lease_secs.unwrap_or(c.refresh_lease_secs).max(1);
        if let Some(n) = fc.webhook_per_receiver {
            if n == 0 {
                return Err(invalid("webhook_per_receiver", "must be at least 1"));
            }
            c.webhook_per_receiver = n;
        }
        c.webhooks_allow_private_networks = fc.webhooks_allow_private_networks.unwrap_or(false);
        c.refresh_buffer_secs = fc.refresh_buffer_secs;
        c.retention = crate::workers::retention::RetentionConfig::resolve(
            fc.retention.unwrap_or_default(),
            env,
        )?;
        if let Some(m) = env.var("SWITCHBOARD_METRICS_LISTEN").or(fc.metrics_listen) {
            c.metrics_listen = Some(m.parse().map_err(|_| {
                invalid(
                    "metrics_listen",
                    format!("{m:?} is not ADDR:PORT (for example 127.0.0.1:9464)"),
                )
            })?);
        }
        c.sentry_dsn = match env_or_file(env, "SWITCHBOARD_SENTRY_DSN")? {
            Some(d) => Some(d),
            None => match (fc.sentry_dsn, fc.sentry_dsn_file) {
                (Some(d), _) => Some(d),
                (None, Some(p)) => Some(read_secret_file("sentry_dsn_file", &p)?),
                (None, None) => None,
            },
        }
        .map(|d| {
            url::Url::parse(&d)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https") && !u.username().is_empty())
                .map(|_| SecretString::from(d))
                .ok_or_else(|| {
                    invalid(
                        "sentry_dsn",
                        "is not a Sentry DSN (https://PUBLIC_KEY@HOST/PROJECT_ID)",
                    )
                })
        })
        .transpose()?;
        if let Some(o) = env.var("SWITCHBOARD_OTLP_ENDPOINT").or(fc.otlp_endpoint) {
            let u =
                url::Url::parse(&o).map_err(|e| invalid("otlp_endpoint", format!("{o:?}: {e}")))?;
            if !matches!(u.scheme(), "http" | "https") {
                return Err(invalid("otlp_endpoint", format!("{o:?} must be http(s)")));
            }
            c.otlp_endpoint = Some(o.trim_end_matches('/').to_string());
        }
        url::Url::parse(&c.public_url)
            .map_err(|e| invalid("public_url", format!("{:?}: {e}", c.public_url)))?;
        c.public_url = c.public_url.trim_end_matches('/').to_string();
        apply_abuse_settings(
            &mut c,
            env,
            fc.max_body_bytes,
            fc.trusted_proxies,
            fc.rate_limits,
        )?;
        apply_numeric_env(&mut c, env)?;
        apply_map_env(&mut c, env)?;

        c.platforms = fc.platforms;
        for id in switchboard_core::catalog::BUILTIN_IDS {
            let upper = id.to_ascii_uppercase();
            let entry = c.platforms.entry(id.to_string()).or_default();
            if let Some(v) = env.var(&format!("SWITCHBOARD_{upper}_CLIENT_ID")) {
                entry.client_id = Some(v);
            }
            if let Some(v) = env_or_file(env, &format!("SWITCHBOARD_{upper}_CLIENT_SECRET"))? {
                entry.client_secret = Some(v);
            }
            if let Some(v) = env.var(&format!("SWITCHBOARD_{upper}_API_BASE")) {
                entry.api_base = Some(v);
            }
            if let Some(v) = env.var(&format!("SWITCHBOARD_{upper}_VERIFIED_DOMAINS")) {
                entry.verified_domains = v
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect();
            }
        }
        for (id, p) in c.platforms.iter_mut() {
            if !switchboard_core::catalog::BUILTIN_IDS.contains(&id.as_str()) {
                return Err(invalid(
                    format!("platforms.{id}"),
                    format!(
                        "unknown built-in platform; known: {}. Custom providers go under [providers.{id}]",
                        switchboard_core::catalog::BUILTIN_IDS.join(", ")
                    ),
                ));
            }
            if p.client_secret.is_none() {
                if let Some(f) = &p.client_secret_file {
                    p.client_secret = Some(read_secret_file(
                        &format!("platforms.{id}.client_secret_file"),
                        f,
                    )?);
                }
            }
        }
        apply_api_versions(&mut c, env)?;
        c.providers = fc.providers;
        for (id, p) in c.providers.iter_mut() {
            let upper = id.to_ascii_uppercase().replace('-', "_");
            if let Some(v) = env.var(&format!("SWITCHBOARD_{upper}_CLIENT_ID")) {
                p.client_id = Some(v);
            }
            if let Some(v) = env_or_file(env, &format!("SWITCHBOARD_{upper}_CLIENT_SECRET"))? {
                p.client_secret = Some(v);
            }
            if p.client_secret.is_none() {
                if let Some(f) = &p.client_secret_file {
                    p.client_secret = Some(read_secret_file(
                        &format!("providers.{id}.client_secret_file"),
                        f,
                    )?);
                }
            }
            if !matches!(
                p.client_auth,
                ClientAuth::ClientSecretBasic | ClientAuth::ClientSecretPost | ClientAuth::None
            ) {
                return Err(invalid(
                    format!("providers.{id}.client_auth"),
                    "must be client_secret_basic, client_secret_post or none",
                ));
            }
        }
        validate(&c)?;
        Ok(c)
    }

    /// The directory of uploaded media: `media_dir` when set, otherwise `media` beside the
    /// SQLite database file, otherwise (PostgreSQL, in-memory SQLite) `data/media`.
    pub fn media_dir(&self) -> PathBuf {
        if let Some(d) = &self.media_dir {
            return d.clone();
        }
        match self.sqlite_file().as_deref().and_then(Path::parent) {
            Some(parent) if !parent.as_os_str().is_empty() => parent.join("media"),
            Some(_) => PathBuf::from("media"),
            None => PathBuf::from("data/media"),
        }
    }

    /// The SQLite database file the database URL names; `None` for PostgreSQL and in-memory
    /// databases.
    pub fn sqlite_file(&self) -> Option<PathBuf> {
        let db = self.database_url.as_str();
        db.strip_prefix("sqlite://")
            .or_else(|| db.strip_prefix("sqlite:"))
            .or_else(|| (!db.contains("://")).then_some(db))
            .map(|p| p.split('?').next().unwrap_or_default())
            .filter(|p| !p.is_empty() && !p.contains(":memory:"))
            .map(PathBuf::from)
    }

    /// The redirect URI registered with a platform: `{public_url}/v1/oauth/callback/{platform}`.
    pub fn redirect_uri(&self, platform: &str) -> String {
        format!("{}/v1/oauth/callback/{platform}", self.public_url)
    }
}

/// A TikTok verified-domain entry: a domain name (`media.example.com`) or an `https://` URL
/// prefix ending in `/` without query or fragment, as TikTok's portal verifies them
/// (<https://developers.tiktok.com/doc/set-up-development-configuration>).
fn check_verified_domain(field: &str, e: &str) -> Result<(), ConfigError> {
    if e.contains("://") {
        let ok = url::Url::parse(e).is_ok_and(|u| {
            u.scheme() == "https"
                && matches!(u.host(), Some(url::Host::Domain(_)))
                && u.path().ends_with('/')
                && u.query().is_none()
                && u.fragment().is_none()
                && u.username().is_empty()
        });
        if !ok {
            return Err(invalid(
                field,
                format!("{e:?} is not an https:// URL prefix ending in '/'"),
            ));
        }
        return Ok(());
    }
    let ok = !e.is_empty()
        && e.len() <= 253
        && e.contains('.')
        && e.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        && e.parse::<std::net::IpAddr>().is_err();
    if !ok {
        return Err(invalid(
            field,
            format!("{e:?} is not a domain name (media.example.com) or an https:// URL prefix"),
        ));
    }
    Ok(())
}

fn parse_secs(field: &str, v: &str) -> Result<u64, ConfigError> {
    v.trim()
        .parse()
        .map_err(|_| invalid(field, format!("{v:?} is not a whole number of seconds")))
}

/// `[rate_limits]`: requests per fixed window, counted across every instance sharing the database
/// (`rate_limit.rs`). Each limit is requests per `window_secs`; 0 turns that one limit off.
/// Environment: `SWITCHBOARD_RATE_LIMITS_<FIELD>` (for example
/// `SWITCHBOARD_RATE_LIMITS_API_PER_WORKSPACE=12000`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Whether any limit applies (default true).
    pub enabled: bool,
    /// Window length, seconds (default 60, 1 to 86400).
    pub window_secs: u64,
    /// API requests per workspace (API key) per window (default 30000: 500 a second).
    pub api_per_workspace: u64,
    /// API requests per client address per window (default 60000).
    pub api_per_address: u64,
    /// Connect flows started (`POST /v1/connect/…`) per workspace per window (default 600).
    pub connect_per_workspace: u64,
    /// Connect flows started per client address per window (default 120).
    pub connect_per_address: u64,
    /// OAuth callbacks per client address per window (default 120).
    pub callback_per_address: u64,
    /// Dashboard sign-in attempts (`POST /sign-in`) per client address per window (default 20).
    pub sign_in_per_address: u64,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            enabled: true,
            window_secs: 60,
            api_per_workspace: 30_000,
            api_per_address: 60_000,
            connect_per_workspace: 600,
            connect_per_address: 120,
            callback_per_address: 120,
            sign_in_per_address: 20,
        }
    }
}

impl RateLimitConfig {
    /// No limits at all (benchmarks, tests that are about something else).
    pub fn disabled() -> Self {
        RateLimitConfig {
            enabled: false,
            ..RateLimitConfig::default()
        }
    }
}

/// The value of `name` parsed as `T`, `what` saying what was expected.
fn env_parse<T: std::str::FromStr>(
    env: &dyn Env,
    name: &str,
    what: &str,
) -> Result<Option<T>, ConfigError> {
    match env.var(name) {
        Some(v) => v
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| invalid(name, format!("{v:?} is not {what}"))),
        None => Ok(None),
    }
}

fn env_bool(env: &dyn Env, name: &str) -> Result<Option<bool>, ConfigError> {
    match env.var(name) {
        None => Ok(None),
        Some(v) => match v.trim().to_ascii_lowercase().as_str() {
            "1" | "true" | "on" | "yes" => Ok(Some(true)),
            "0" | "false" | "off" | "no" => Ok(Some(false)),
            _ => Err(invalid(name, format!("{v:?} is not true or false"))),
        },
    }
}

const WHOLE: &str = "a whole number";

/// Body limit, trusted proxies and rate limits: file values, then the environment over them.
fn apply_abuse_settings(
    c: &mut Config,
    env: &dyn Env,
    max_body_bytes: Option<usize>,
    trusted_proxies: Option<Vec<String>>,
    rate_limits: Option<RateLimitConfig>,
) -> Result<(), ConfigError> {
    if let Some(b) =
        env_parse(env, "SWITCHBOARD_MAX_BODY_BYTES", "a whole number of bytes")?.or(max_body_bytes)
    {
        if b < 1024 {
            return Err(invalid(
                "max_body_bytes",
                format!("{b} is below the least useful limit, 1024 bytes"),
            ));
        }
        c.max_body_bytes = b;
    }
    let proxies: Vec<String> = match env.var("SWITCHBOARD_TRUSTED_PROXIES") {
        Some(v) => v
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
        None => trusted_proxies.unwrap_or_default(),
    };
    c.trusted_proxies = proxies
        .iter()
        .map(|p| {
            p.parse::<ipnet::IpNet>()
                .or_else(|_| p.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| {
                    invalid(
                        "trusted_proxies",
                        format!("{p:?} is not an IP address or CIDR network (10.0.0.0/8)"),
                    )
                })
        })
        .collect::<Result<_, _>>()?;
    let mut r = rate_limits.unwrap_or_default();
    if let Some(v) = env_bool(env, "SWITCHBOARD_RATE_LIMITS_ENABLED")? {
        r.enabled = v;
    }
    for (name, field) in [
        ("WINDOW_SECS", &mut r.window_secs),
        ("API_PER_WORKSPACE", &mut r.api_per_workspace),
        ("API_PER_ADDRESS", &mut r.api_per_address),
        ("CONNECT_PER_WORKSPACE", &mut r.connect_per_workspace),
        ("CONNECT_PER_ADDRESS", &mut r.connect_per_address),
        ("CALLBACK_PER_ADDRESS", &mut r.callback_per_address),
        ("SIGN_IN_PER_ADDRESS", &mut r.sign_in_per_address),
    ] {
        if let Some(v) = env_parse(env, &format!("SWITCHBOARD_RATE_LIMITS_{name}"), WHOLE)? {
            *field = v;
        }
    }
    if !(1..=86_400).contains(&r.window_secs) {
        return Err(invalid(
            "rate_limits.window_secs",
            format!("{} is not between 1 and 86400 seconds", r.window_secs),
        ));
    }
    c.rate_limits = r;
    Ok(())
}

/// `SWITCHBOARD_*` variables of the numeric settings that had only a file key.
fn apply_numeric_env(c: &mut Config, env: &dyn Env) -> Result<(), ConfigError> {
    if let Some(v) = env_parse(env, "SWITCHBOARD_STATE_TTL_SECS", WHOLE)? {
        c.state_ttl_secs = v;
    }
    if let Some(v) = env_parse(env, "SWITCHBOARD_EXPIRY_WARNING_SECS", WHOLE)? {
        c.expiry_warning_secs = v;
    }
    if let Some(v) = env_parse(env, "SWITCHBOARD_WORKER_INTERVAL_MS", WHOLE)? {
        c.worker_interval_ms = v;
    }
    if let Some(v) = env_parse::<u64>(env, "SWITCHBOARD_SYNC_INTERVAL_SECS", WHOLE)? {
        c.sync_interval_secs = v.max(60);
    }
    if let Some(v) = env_parse::<u32>(env, "SWITCHBOARD_PUBLISH_MAX_ATTEMPTS", WHOLE)? {
        c.publish_max_attempts = v.max(1);
    }
    if let Some(v) = env_parse::<u64>(env, "SWITCHBOARD_PUBLISH_LEASE_SECS", WHOLE)? {
        c.publish_lease_secs = v.max(1);
    }
    if let Some(v) = env_parse::<u64>(env, "SWITCHBOARD_PUBLISH_SETTLE_MARGIN_SECS", WHOLE)? {
        c.publish_settle_margin_secs = v;
    }
    if let Some(v) = env_parse::<usize>(env, "SWITCHBOARD_PUBLISH_PER_PLATFORM", WHOLE)? {
        c.publish_per_platform = v.max(1);
    }
    if let Some(v) = env_parse::<usize>(env, "SWITCHBOARD_PUBLISH_PER_ACCOUNT", WHOLE)? {
        c.publish_per_account = v.max(1);
    }
    if let Some(v) = env_parse::<u64>(env, "SWITCHBOARD_REFRESH_LEASE_SECS", WHOLE)? {
        c.refresh_lease_secs = v.max(1);
    }
    if let Some(v) = env_parse::<usize>(env, "SWITCHBOARD_WEBHOOK_PER_RECEIVER", WHOLE)? {
        if v == 0 {
            return Err(invalid(
                "SWITCHBOARD_WEBHOOK_PER_RECEIVER",
                "must be at least 1",
            ));
        }
        c.webhook_per_receiver = v;
    }
    if let Some(v) = env_bool(env, "SWITCHBOARD_WEBHOOKS_ALLOW_PRIVATE_NETWORKS")? {
        c.webhooks_allow_private_networks = v;
    }
    Ok(())
}

/// `NAME=VALUE,NAME=VALUE` lists: `SWITCHBOARD_HOSTS` (host → base URL) and
/// `SWITCHBOARD_REFRESH_BUFFER_SECS` (platform → seconds), merged over the file's tables.
fn apply_map_env(c: &mut Config, env: &dyn Env) -> Result<(), ConfigError> {
    let pairs = |name: &str| -> Result<Vec<(String, String)>, ConfigError> {
        let Some(v) = env.var(name) else {
            return Ok(Vec::new());
        };
        v.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|p| {
                p.split_once('=')
                    .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                    .ok_or_else(|| invalid(name, format!("{p:?} is not NAME=VALUE")))
            })
            .collect()
    };
    for (host, base) in pairs("SWITCHBOARD_HOSTS")? {
        c.hosts.insert(host, base);
    }
    for (platform, secs) in pairs("SWITCHBOARD_REFRESH_BUFFER_SECS")? {
        let secs = parse_secs("SWITCHBOARD_REFRESH_BUFFER_SECS", &secs)?;
        c.refresh_buffer_secs.insert(platform, secs);
    }
    Ok(())
}

fn check_http_url(field: &str, value: &str) -> Result<(), ConfigError> {
    let u = url::Url::parse(value).map_err(|e| invalid(field, format!("{value:?}: {e}")))?;
    if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none() {
        return Err(invalid(
            field,
            format!("{value:?} must be an http(s) URL with a host"),
        ));
    }
    Ok(())
}

/// Checks across settings, once everything is read: URLs, keys, names that must exist.
fn validate(c: &Config) -> Result<(), ConfigError> {
    let db = c.database_url.as_str();
    if db.starts_with("postgres://") || db.starts_with("postgresql://") {
        let u = url::Url::parse(db).map_err(|e| {
            // The URL may hold a password: name the problem, not the value.
            invalid("database_url", format!("not a valid PostgreSQL URL: {e}"))
        })?;
        if u.host_str().is_none_or(str::is_empty) {
            return Err(invalid("database_url", "the PostgreSQL URL names no host"));
        }
    } else if db.contains("://") && !db.starts_with("sqlite:") {
        let scheme = db.split("://").next().unwrap_or_default();
        return Err(invalid(
            "database_url",
            format!("unsupported scheme {scheme:?}: use sqlite://PATH or postgres://USER@HOST/DB"),
        ));
    }
    check_http_url("public_url", &c.public_url)?;
    if let Some(s) = &c.sandbox_url {
        check_http_url("sandbox_url", s)?;
    }
    for (host, base) in &c.hosts {
        check_http_url(&format!("hosts.{host}"), base)?;
    }
    for (id, p) in &c.platforms {
        if let Some(base) = &p.api_base {
            check_http_url(&format!("platforms.{id}.api_base"), base)?;
        }
        if !p.verified_domains.is_empty() && id != "tiktok" {
            return Err(invalid(
                format!("platforms.{id}.verified_domains"),
                "only TikTok pulls media from verified domains",
            ));
        }
        for e in &p.verified_domains {
            check_verified_domain(&format!("platforms.{id}.verified_domains"), e)?;
        }
    }
    match (&c.keys, &c.active_key) {
        (Some(keys), active) => {
            use secrecy::ExposeSecret;
            switchboard_vault::Keyring::parse(keys.expose_secret(), active.as_deref()).map_err(
                |e| match e {
                    switchboard_vault::VaultError::UnknownActive(_) => {
                        invalid("active_key", e.to_string())
                    }
                    other => invalid("keys", other.to_string()),
                },
            )?;
        }
        (None, Some(_)) => {
            return Err(invalid(
                "active_key",
                "is set but no keys are configured (keys, keys_file or SWITCHBOARD_KEYS)",
            ))
        }
        (None, None) => {}
    }
    if c.state_ttl_secs == 0 {
        return Err(invalid("state_ttl_secs", "must be at least 1"));
    }
    if c.worker_interval_ms == 0 {
        return Err(invalid("worker_interval_ms", "must be at least 1"));
    }
    for (id, p) in &c.providers {
        check_http_url(
            &format!("providers.{id}.authorization_url"),
            &p.authorization_url,
        )?;
        check_http_url(&format!("providers.{id}.token_url"), &p.token_url)?;
        if let Some(u) = &p.revocation_url {
            check_http_url(&format!("providers.{id}.revocation_url"), u)?;
        }
        if let Some(u) = &p.userinfo_url {
            check_http_url(&format!("providers.{id}.userinfo_url"), u)?;
        }
        if switchboard_core::catalog::BUILTIN_IDS.contains(&id.as_str()) {
            return Err(invalid(
                format!("providers.{id}"),
                "is a built-in platform's id; configure it under [platforms.ID] or pick another id",
            ));
        }
    }
    for platform in c.refresh_buffer_secs.keys() {
        if !switchboard_core::catalog::BUILTIN_IDS.contains(&platform.as_str())
            && !c.providers.contains_key(platform)
        {
            return Err(invalid(
                format!("refresh_buffer_secs.{platform}"),
                format!(
                    "unknown platform; known: {} and the [providers] ids",
                    switchboard_core::catalog::BUILTIN_IDS.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

const REDACTED: &str = "\"[redacted]\"";

impl Config {
    /// The origins user-given URLs may reach although private: `outbound_allow_origins` and,
    /// with `sandbox_url`, the sandbox's own origin (so the demo's media, served by the
    /// sandbox, can be fetched) — nothing else.
    pub fn outbound_origins(&self) -> switchboard_oauth::outbound::AllowedOrigins {
        let sandbox = self
            .sandbox_url
            .as_deref()
            .and_then(|s| url::Url::parse(s).ok());
        switchboard_oauth::outbound::AllowedOrigins::new(
            self.outbound_allow_origins.iter().chain(sandbox.as_ref()),
        )
    }

    /// The effective configuration as TOML, secrets (keys, client secrets, the database
    /// password) replaced by `"[redacted]"`: what `switchboard config check` prints.
    pub fn redacted_toml(&self) -> String {
        use std::fmt::Write;
        let q = |s: &str| toml::Value::String(s.to_string()).to_string();
        let mut o = String::new();
        let _ = writeln!(o, "listen = {}", q(&self.listen.to_string()));
        let _ = writeln!(o, "public_url = {}", q(&self.public_url));
        let _ = writeln!(o, "database_url = {}", q(&redact_url(&self.database_url)));
        let _ = writeln!(
            o,
            "media_dir = {}",
            q(&self.media_dir().display().to_string())
        );
        let _ = writeln!(o, "media_max_bytes = {}", self.media_max_bytes);
        let _ = writeln!(o, "media_quota_bytes = {}", self.media_quota_bytes);
        let _ = writeln!(
            o,
            "disk_free_warning_bytes = {}",
            self.disk_free_warning_bytes
        );
        let _ = writeln!(
            o,
            "keys = {}",
            if self.keys.is_some() {
                REDACTED
            } else {
                "\"\" # none: only --dev starts"
            }
        );
        let _ = writeln!(
            o,
            "active_key = {}",
            q(self.active_key.as_deref().unwrap_or(""))
        );
        let _ = writeln!(
            o,
            "admin_password = {}",
            if self.admin_password.is_some() {
                REDACTED
            } else {
                "\"\""
            }
        );
        if self.dev {
            let _ = writeln!(o, "# development mode (--dev)");
        }
        let _ = writeln!(
            o,
            "sandbox_url = {}",
            q(self.sandbox_url.as_deref().unwrap_or(""))
        );
        let returns: Vec<String> = self
            .allowed_return_urls
            .iter()
            .map(|u| q(u.as_str()))
            .collect();
        let _ = writeln!(o, "allowed_return_urls = [{}]", returns.join(", "));
        let origins: Vec<String> = self
            .outbound_allow_origins
            .iter()
            .map(|u| q(&u.origin().ascii_serialization()))
            .collect();
        let _ = writeln!(o, "outbound_allow_origins = [{}]", origins.join(", "));
        let _ = writeln!(o, "http_timeout_secs = {}", self.http_timeout_secs);
        let _ = writeln!(o, "state_ttl_secs = {}", self.state_ttl_secs);
        let _ = writeln!(o, "expiry_warning_secs = {}", self.expiry_warning_secs);
        let _ = writeln!(o, "workers = {}", self.workers);
        let _ = writeln!(o, "worker_interval_ms = {}", self.worker_interval_ms);
        let _ = writeln!(o, "sync_interval_secs = {}", self.sync_interval_secs);
        let _ = writeln!(o, "publish_max_attempts = {}", self.publish_max_attempts);
        let _ = writeln!(o, "publish_lease_secs = {}", self.publish_lease_secs);
        let _ = writeln!(
            o,
            "publish_settle_margin_secs = {}",
            self.publish_settle_margin_secs
        );
        let _ = writeln!(o, "publish_per_platform = {}", self.publish_per_platform);
        let _ = writeln!(o, "publish_per_account = {}", self.publish_per_account);
        let _ = writeln!(o, "refresh_lease_secs = {}", self.refresh_lease_secs);
        let _ = writeln!(o, "webhook_per_receiver = {}", self.webhook_per_receiver);
        let _ = writeln!(
            o,
            "webhooks_allow_private_networks = {}",
            self.webhooks_allow_private_networks
        );
        let _ = writeln!(o, "max_body_bytes = {}", self.max_body_bytes);
        match self.metrics_listen {
            Some(a) => writeln!(o, "metrics_listen = {}", q(&a.to_string())),
            None => writeln!(o, "# metrics_listen: off"),
        }
        .ok();
        match &self.sentry_dsn {
            Some(_) => writeln!(o, "sentry_dsn = {REDACTED}"),
            None => writeln!(o, "# sentry_dsn: off"),
        }
        .ok();
        match &self.otlp_endpoint {
            Some(e) => writeln!(o, "otlp_endpoint = {}", q(e)),
            None => writeln!(o, "# otlp_endpoint: off"),
        }
        .ok();
        let proxies: Vec<String> = self
            .trusted_proxies
            .iter()
            .map(|n| q(&n.to_string()))
            .collect();
        let _ = writeln!(o, "trusted_proxies = [{}]", proxies.join(", "));
        let r = &self.rate_limits;
        let _ = writeln!(o, "\n[rate_limits]");
        let _ = writeln!(o, "enabled = {}", r.enabled);
        let _ = writeln!(o, "window_secs = {}", r.window_secs);
        let _ = writeln!(o, "api_per_workspace = {}", r.api_per_workspace);
        let _ = writeln!(o, "api_per_address = {}", r.api_per_address);
        let _ = writeln!(o, "connect_per_workspace = {}", r.connect_per_workspace);
        let _ = writeln!(o, "connect_per_address = {}", r.connect_per_address);
        let _ = writeln!(o, "callback_per_address = {}", r.callback_per_address);
        let _ = writeln!(o, "sign_in_per_address = {}", r.sign_in_per_address);
        let _ = writeln!(
            o,
            "metrics_listen = {}",
            q(&self
                .metrics_listen
                .map(|a| a.to_string())
                .unwrap_or_default())
        );
        let _ = writeln!(
            o,
            "sentry_dsn = {}",
            if self.sentry_dsn.is_some() {
                REDACTED
            } else {
                "\"\""
            }
        );
        let _ = writeln!(
            o,
            "otlp_endpoint = {}",
            q(self.otlp_endpoint.as_deref().unwrap_or(""))
        );
        let t = &self.retention;
        let _ = writeln!(o, "\n[retention]");
        let _ = writeln!(o, "connections_days = {}", t.connections_days);
        let _ = writeln!(o, "oauth_states_minutes = {}", t.oauth_states_minutes);
        let _ = writeln!(o, "events_days = {}", t.events_days);
        let _ = writeln!(o, "audit_days = {}", t.audit_days);
        let _ = writeln!(o, "delivered_webhooks_days = {}", t.delivered_webhooks_days);
        let _ = writeln!(o, "failed_webhooks_days = {}", t.failed_webhooks_days);
        let _ = writeln!(o, "sync_history_days = {}", t.sync_history_days);
        let _ = writeln!(o, "connect_batches_days = {}", t.connect_batches_days);
        let _ = writeln!(o, "media_days = {}", t.media_days);
        let _ = writeln!(o, "interval_secs = {}", t.interval_secs);
        let _ = writeln!(o, "batch_size = {}", t.batch_size);
        if !self.hosts.is_empty() {
            let _ = writeln!(o, "\n[hosts]");
            for (h, b) in &self.hosts {
                let _ = writeln!(o, "{} = {}", q(h), q(b));
            }
        }
        if !self.refresh_buffer_secs.is_empty() {
            let _ = writeln!(o, "\n[refresh_buffer_secs]");
            for (p, s) in &self.refresh_buffer_secs {
                let _ = writeln!(o, "{} = {s}", q(p));
            }
        }
        for (id, p) in &self.platforms {
            if p.client_id.is_none()
                && p.client_secret.is_none()
                && p.extra_scopes.is_empty()
                && p.api_base.is_none()
                && p.verified_domains.is_empty()
                && p.api_version.is_none()
            {
                continue;
            }
            let _ = writeln!(o, "\n[platforms.{id}]");
            let _ = writeln!(o, "client_id = {}", q(p.client_id.as_deref().unwrap_or("")));
            let _ = writeln!(
                o,
                "client_secret = {}",
                if p.client_secret.is_some() {
                    REDACTED
                } else {
                    "\"\""
                }
            );
            if !p.extra_scopes.is_empty() {
                let s: Vec<String> = p.extra_scopes.iter().map(|s| q(s)).collect();
                let _ = writeln!(o, "extra_scopes = [{}]", s.join(", "));
            }
            if let Some(b) = &p.api_base {
                let _ = writeln!(o, "api_base = {}", q(b));
            }
            if !p.verified_domains.is_empty() {
                let s: Vec<String> = p.verified_domains.iter().map(|s| q(s)).collect();
                let _ = writeln!(o, "verified_domains = [{}]", s.join(", "));
            }
            if let Some(v) = &p.api_version {
                let _ = writeln!(o, "api_version = {}", q(v));
            }
        }
        for (id, p) in &self.providers {
            let _ = writeln!(o, "\n[providers.{id}]");
            let _ = writeln!(o, "authorization_url = {}", q(&p.authorization_url));
            let _ = writeln!(o, "token_url = {}", q(&p.token_url));
            let _ = writeln!(o, "client_id = {}", q(p.client_id.as_deref().unwrap_or("")));
            let _ = writeln!(
                o,
                "client_secret = {}",
                if p.client_secret.is_some() {
                    REDACTED
                } else {
                    "\"\""
                }
            );
        }
        o
    }
}

/// A database URL with its password replaced.
fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("redacted"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

// ---- API versions as settings (`[platforms.<id>] api_version`) ----

/// Applies `SWITCHBOARD_<ID>_API_VERSION` over `[platforms.<id>] api_version` and checks each
/// against the catalog: only platforms with versioning take one, written in their format.
fn apply_api_versions(c: &mut Config, env: &dyn Env) -> Result<(), ConfigError> {
    for id in switchboard_core::catalog::BUILTIN_IDS {
        let var = format!("SWITCHBOARD_{}_API_VERSION", id.to_ascii_uppercase());
        if let Some(v) = env.var(&var).filter(|v| !v.trim().is_empty()) {
            c.platforms.entry(id.to_string()).or_default().api_version = Some(v);
        }
    }
    let versions = c.api_versions();
    if versions.is_empty() {
        return Ok(());
    }
    let mut catalog =
        switchboard_core::Catalog::builtin().map_err(|e| invalid("platforms", e.to_string()))?;
    for (id, v) in &versions {
        if let Err(e) = catalog.set_api_version(id, v) {
            let reason = match e {
                switchboard_core::catalog::CatalogError::BadApiVersion { reason, .. } => reason,
                other => other.to_string(),
            };
            return Err(invalid(
                format!("platforms.{id}.api_version"),
                format!("{v:?}: {reason}"),
            ));
        }
    }
    Ok(())
}

impl Config {
    /// The Deauthorize Callback URL to register for a Meta platform (`facebook`,
    /// `instagram`): Meta POSTs a `signed_request` there when a person removes the app.
    pub fn deauthorize_url(&self, platform: &str) -> String {
        format!("{}/v1/meta/{platform}/deauthorize", self.public_url)
    }

    /// The Data Deletion Request Callback URL to register for a Meta platform: Meta POSTs a
    /// `signed_request` there when a person asks for their data to be deleted.
    pub fn data_deletion_url(&self, platform: &str) -> String {
        format!("{}/v1/meta/{platform}/data-deletion", self.public_url)
    }

    /// The configured API versions by platform id (`[platforms.<id>] api_version` with the
    /// environment applied); platforms not in it use the catalog's default. Apply with
    /// [`switchboard_core::Catalog::set_api_versions`].
    pub fn api_versions(&self) -> BTreeMap<String, String> {
        self.platforms
            .iter()
            .filter_map(|(id, p)| Some((id.clone(), p.api_version.clone()?.trim().to_string())))
            .collect()
    }
}

impl ProviderConfig {
    /// The catalog entry of this provider.
    pub fn to_spec(&self, id: &str) -> PlatformSpec {
        let mut profile = ProfileFields::default();
        if let Some(p) = &self.account_id_pointer {
            profile.id = p.clone();
        }
        PlatformSpec {
            id: id.to_string(),
            display_name: self.display_name.clone().unwrap_or_else(|| id.to_string()),
            brand_color: "#4b5563".into(),
            difficulty: "easy".into(),
            setup_minutes: 5,
            features: vec!["Standard OAuth 2.0 connection".into()],
            requirements: vec!["An OAuth 2.0 client registered with the provider".into()],
            flavor: Flavor::Standard,
            custom: true,
            client_id_param: "client_id".into(),
            client_auth: self.client_auth,
            pkce: self.pkce,
            token_request: TokenRequest::PostForm,
            scope_separator: self.scope_separator.clone(),
            endpoints: Endpoints {
                authorization_url: self.authorization_url.clone(),
                token_url: self.token_url.clone(),
                revocation_url: self.revocation_url.clone(),
                profile_url: self.userinfo_url.clone(),
                long_lived_url: None,
                refresh_url: None,
                api_base_url: None,
            },
            vars: BTreeMap::new(),
            versioning: None,
            api_version: None,
            profile,
            scopes: Scopes {
                profile: self.scopes.clone(),
                ..Scopes::default()
            },
            token: TokenBehaviour {
                access_lifetime_secs: None,
                refresh_lifetime_secs: None,
                authorization_code_lifetime_secs: None,
                refresh: if self.rotating_refresh_tokens {
                    RefreshKind::Rotating
                } else {
                    RefreshKind::Static
                },
                min_refresh_age_secs: None,
                refresh_params: BTreeMap::new(),
            },
            authorization_params: self.authorization_params.clone(),
            docs: Vec::new(),
            guide: Default::default(),
            content: Default::default(),
            verified_domains: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn media_dir_defaults_beside_the_database_and_media_max_bytes_is_checked() {
        let c = Config::from_parts(FileConfig::default(), &env(&[])).unwrap();
        assert_eq!(c.media_dir(), PathBuf::from("data/media"));
        assert_eq!(c.media_max_bytes, 512 * 1024 * 1024);
        let c = Config::from_parts(
            FileConfig::default(),
            &env(&[("SWITCHBOARD_DATA_DIR", "/var/lib/sb")]),
        )
        .unwrap();
        assert_eq!(c.media_dir(), PathBuf::from("/var/lib/sb/media"));
        let fc: FileConfig = toml::from_str(
            "database_url = \"postgres://db/sb\"\nmedia_dir = \"/mnt/shared/media\"\nmedia_max_bytes = 2048",
        )
        .unwrap();
        let c = Config::from_parts(fc, &env(&[])).unwrap();
        assert_eq!(c.media_dir(), PathBuf::from("/mnt/shared/media"));
        assert_eq!(c.media_max_bytes, 2048);
        let pg = Config {
            database_url: "postgres://db/sb".into(),
            ..Config::default()
        };
        assert_eq!(pg.media_dir(), PathBuf::from("data/media"));
        let err = Config::from_parts(
            FileConfig::default(),
            &env(&[("SWITCHBOARD_MEDIA_MAX_BYTES", "12")]),
        )
        .unwrap_err();
        assert!(err.to_string().contains("media_max_bytes"), "{err}");
    }

    #[test]
    fn env_overrides_file_and_public_url_defaults_to_listen() {
        let fc: FileConfig = toml::from_str(
            "listen = \"127.0.0.1:9999\"\n[platforms.twitter]\nclient_id = \"file-id\"\n",
        )
        .unwrap();
        let c = Config::from_parts(
            fc,
            &env(&[
                ("SWITCHBOARD_TWITTER_CLIENT_SECRET", "s"),
                ("SWITCHBOARD_TIKTOK_CLIENT_ID", "tk"),
            ]),
        )
        .unwrap();
        assert_eq!(c.public_url, "http://127.0.0.1:9999");
        assert_eq!(c.platforms["twitter"].client_id.as_deref(), Some("file-id"));
        assert_eq!(c.platforms["twitter"].client_secret.as_deref(), Some("s"));
        assert_eq!(c.platforms["tiktok"].client_id.as_deref(), Some("tk"));
        assert_eq!(
            c.redirect_uri("x"),
            "http://127.0.0.1:9999/v1/oauth/callback/x"
        );
    }

    #[test]
    fn bad_values_name_the_setting() {
        let err = Config::from_parts(
            FileConfig::default(),
            &env(&[("SWITCHBOARD_LISTEN", "nope")]),
        )
        .unwrap_err();
        assert!(err.to_string().contains("listen"), "{err}");
        let fc: FileConfig = toml::from_str("[platforms.myspace]\nclient_id = \"x\"\n").unwrap();
        let err = Config::from_parts(fc, &env(&[])).unwrap_err();
        assert!(err.to_string().contains("platforms.myspace"), "{err}");
        assert!(toml::from_str::<FileConfig>("lisen = 1").is_err());
    }

    #[test]
    fn api_versions_from_file_and_environment() {
        let fc: FileConfig = toml::from_str(
            "[platforms.facebook]\napi_version = \"v24.0\"\n[platforms.linkedin]\napi_version = \"202601\"\n",
        )
        .unwrap();
        let c = Config::from_parts(fc, &env(&[("SWITCHBOARD_LINKEDIN_API_VERSION", "202603")]))
            .unwrap();
        let v = c.api_versions();
        assert_eq!(v.get("facebook").map(String::as_str), Some("v24.0"));
        assert_eq!(
            v.get("linkedin").map(String::as_str),
            Some("202603"),
            "the environment wins"
        );
        assert_eq!(v.get("instagram"), None);
        assert!(c.redacted_toml().contains("api_version = \"v24.0\""));
        // A platform without versioning, or a version not written as the platform writes
        // them, is refused naming the setting.
        for (toml, field) in [
            (
                "[platforms.twitter]\napi_version = \"2\"\n",
                "platforms.twitter.api_version",
            ),
            (
                "[platforms.facebook]\napi_version = \"26.0\"\n",
                "platforms.facebook.api_version",
            ),
        ] {
            let fc: FileConfig = toml::from_str(toml).unwrap();
            let err = Config::from_parts(fc, &env(&[])).unwrap_err();
            assert!(err.to_string().contains(field), "{err}");
        }
        let err = Config::from_parts(
            FileConfig::default(),
            &env(&[("SWITCHBOARD_INSTAGRAM_API_VERSION", "latest")]),
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("platforms.instagram.api_version"),
            "{err}"
        );
    }

    #[test]
    fn webhook_settings() {
        let c = Config::from_parts(FileConfig::default(), &env(&[])).unwrap();
        assert_eq!(c.webhook_per_receiver, 4);
        assert!(
            !c.webhooks_allow_private_networks,
            "private receivers are refused unless an operator opts in"
        );
        let c = Config::from_parts(
            toml::from_str("webhook_per_receiver = 2\nwebhooks_allow_private_networks = true\n")
                .unwrap(),
            &env(&[]),
        )
        .unwrap();
        assert_eq!(c.webhook_per_receiver, 2);
        assert!(c.webhooks_allow_private_networks);
        let shown = c.redacted_toml();
        assert!(shown.contains("webhook_per_receiver = 2"), "{shown}");
        assert!(
            shown.contains("webhooks_allow_private_networks = true"),
            "{shown}"
        );
        let c = Config::from_parts(
            toml::from_str("webhooks_allow_private_networks = true\n").unwrap(),
            &env(&[
                ("SWITCHBOARD_WEBHOOK_PER_RECEIVER", "7"),
                ("SWITCHBOARD_WEBHOOKS_ALLOW_PRIVATE_NETWORKS", "false"),
            ]),
        )
        .unwrap();
        assert_eq!(c.webhook_per_receiver, 7);
        assert!(!c.webhooks_allow_private_networks, "the variable wins");
        let err = Config::from_parts(
            toml::from_str("webhook_per_receiver = 0\n").unwrap(),
            &env(&[]),
        )
        .unwrap_err();
        assert!(err.to_string().contains("webhook_per_receiver"), "{err}");
        let err = Config::from_parts(
            FileConfig::default(),
            &env(&[("SWITCHBOARD_WEBHOOKS_ALLOW_PRIVATE_NETWORKS", "maybe")]),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("SWITCHBOARD_WEBHOOKS_ALLOW_PRIVATE_NETWORKS"),
            "{err}"
        );
    }

    #[test]
    fn observability_settings() {
        let c = Config::from_parts(FileConfig::default(), &env(&[])).unwrap();
        assert!(c.metrics_listen.is_none() && c.sentry_dsn.is_none() && c.otlp_endpoint.is_none());
        let c = Config::from_parts(
            toml::from_str("metrics_listen = \"127.0.0.1:9464\"\n").unwrap(),
            &env(&[
                (
                    "SWITCHBOARD_SENTRY_DSN",
                    "https://pub@sentry.example.com/42",
                ),
                ("SWITCHBOARD_OTLP_ENDPOINT", "http://127.0.0.1:4318/"),
            ]),
        )
        .unwrap();
        assert_eq!(c.metrics_listen.unwrap().port(), 9464);
        assert_eq!(c.otlp_endpoint.as_deref(), Some("http://127.0.0.1:4318"));
        assert!(c.sentry_dsn.is_some());
        let shown = c.redacted_toml();
        assert!(
            shown.contains("metrics_listen = \"127.0.0.1:9464\""),
            "{shown}"
        );
        assert!(
            shown.contains("otlp_endpoint = \"http://127.0.0.1:4318\""),
            "{shown}"
        );
        assert!(!shown.contains("pub@"), "the DSN is redacted: {shown}");
        assert!(
            !format!("{c:?}").contains("pub@"),
            "the DSN stays out of Debug"
        );
        for (var, field) in [
            ("SWITCHBOARD_METRICS_LISTEN", "metrics_listen"),
            ("SWITCHBOARD_SENTRY_DSN", "sentry_dsn"),
            ("SWITCHBOARD_OTLP_ENDPOINT", "otlp_endpoint"),
        ] {
            let err =
                Config::from_parts(FileConfig::default(), &env(&[(var, "nope")])).unwrap_err();
            assert!(err.to_string().contains(field), "{err}");
        }
    }

    #[test]
    fn keys_file_variant() {
        let dir = std::env::temp_dir().join(format!("sbcfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("keys");
        // A well-formed key: 32 bytes, base64.
        let key = format!("k1:{}", "A".repeat(43) + "=");
        std::fs::write(&f, format!("{key}\n")).unwrap();
        let c = Config::from_parts(
            FileConfig::default(),
            &env(&[("SWITCHBOARD_KEYS_FILE", f.to_str().unwrap())]),
        )
        .unwrap();
        use secrecy::ExposeSecret;
        assert_eq!(c.keys.unwrap().expose_secret(), key);
    }
}
