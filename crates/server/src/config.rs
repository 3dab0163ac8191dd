//! Configuration: a TOML file, then `SWITCHBOARD_*` environment variables over it, then
//! command-line flags over both. Secrets can come from files (`*_FILE` variables, `keys_file`).
//!
//! ```toml
//! listen = "127.0.0.1:8080"
//! public_url = "https://switchboard.example.com"   # redirect URIs are built from it
//! database_url = "sqlite://data/switchboard.db"     # or postgres://...
//! keys = "k1a2b3c4:BASE64KEY"                       # `switchboard keygen`; several, comma-separated
//! active_key = "k1a2b3c4"
//! allowed_return_urls = ["https://app.example.com/settings/"]
//! sandbox_url = "http://127.0.0.1:9000"             # point the built-in platforms at the sandbox
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
    keys: Option<String>,
    keys_file: Option<PathBuf>,
    active_key: Option<String>,
    sandbox_url: Option<String>,
    #[serde(default)]
    hosts: BTreeMap<String, String>,
    #[serde(default)]
    allowed_return_urls: Vec<String>,
    http_timeout_secs: Option<u64>,
    state_ttl_secs: Option<u64>,
    expiry_warning_secs: Option<u64>,
    workers: Option<bool>,
    worker_interval_ms: Option<u64>,
    sync_interval_secs: Option<u64>,
    publish_max_attempts: Option<u32>,
    publish_lease_secs: Option<u64>,
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
    /// Encryption keys, `id:base64,...`; `None` only with `dev`.
    pub keys: Option<SecretString>,
    /// Id of the key that seals new values.
    pub active_key: Option<String>,
    /// Development mode: an ephemeral key when none is configured.
    pub dev: bool,
    /// When set, the built-in platforms point at this sandbox.
    pub sandbox_url: Option<String>,
    /// Host overrides (`api.x.com` → `http://127.0.0.1:9000/api.x.com`).
    pub hosts: BTreeMap<String, String>,
    /// URL prefixes `return_to` may point into (origin and path prefix must match).
    pub allowed_return_urls: Vec<url::Url>,
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
            keys: None,
            active_key: None,
            dev: false,
            sandbox_url: None,
            hosts: BTreeMap::new(),
            allowed_return_urls: Vec::new(),
            http_timeout_secs: 10,
            state_ttl_secs: 600,
            expiry_warning_secs: 86_400,
            workers: true,
            worker_interval_ms: 1000,
            sync_interval_secs: 900,
            publish_max_attempts: 3,
            publish_lease_secs: 120,
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
        c.keys = match env_or_file(env, "SWITCHBOARD_KEYS")? {
            Some(k) => Some(SecretString::from(k)),
            None => match (fc.keys, fc.keys_file) {
                (Some(k), _) => Some(SecretString::from(k)),
                (None, Some(p)) => Some(SecretString::from(read_secret_file("keys_file", &p)?)),
                (None, None) => None,
            },
        };
        c.active_key = env.var("SWITCHBOARD_ACTIVE_KEY").or(fc.active_key);
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
        c.refresh_buffer_secs = fc.refresh_buffer_secs;
        url::Url::parse(&c.public_url)
            .map_err(|e| invalid("public_url", format!("{:?}: {e}", c.public_url)))?;
        c.public_url = c.public_url.trim_end_matches('/').to_string();

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
        Ok(c)
    }

    /// The redirect URI registered with a platform: `{public_url}/v1/oauth/callback/{platform}`.
    pub fn redirect_uri(&self, platform: &str) -> String {
        format!("{}/v1/oauth/callback/{platform}", self.public_url)
    }
}

fn parse_secs(field: &str, v: &str) -> Result<u64, ConfigError> {
    v.trim()
        .parse()
        .map_err(|_| invalid(field, format!("{v:?} is not a whole number of seconds")))
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
    fn keys_file_variant() {
        let dir = std::env::temp_dir().join(format!("sbcfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("keys");
        std::fs::write(&f, "k1:abc\n").unwrap();
        let c = Config::from_parts(
            FileConfig::default(),
            &env(&[("SWITCHBOARD_KEYS_FILE", f.to_str().unwrap())]),
        )
        .unwrap();
        use secrecy::ExposeSecret;
        assert_eq!(c.keys.unwrap().expose_secret(), "k1:abc");
    }
}
