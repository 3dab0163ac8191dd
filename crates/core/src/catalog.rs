//! The platform catalog: everything Switchboard knows about a platform's OAuth 2.0 behaviour and
//! setup, as data.
//!
//! The seven built-in platforms live in `crates/core/catalog/<id>.toml`, one file each, embedded
//! at compile time. Custom OAuth 2.0 providers from the configuration file become
//! [`PlatformSpec`]s of [`Flavor::Standard`] too, so every later layer treats them alike.
//!
//! Facts come from `shared/PLATFORMS.md`; each file names its sources in `docs`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use url::Url;

/// How the client authenticates at the token endpoint (RFC 6749 §2.3, OIDC client auth names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuth {
    /// `Authorization: Basic base64(client_id:client_secret)` (X confidential clients, Pinterest).
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the form body (LinkedIn, Google, Meta, Instagram).
    ClientSecretPost,
    /// TikTok's own: `client_key` and `client_secret` in the form body.
    ClientKeyPost,
    /// Public client: `client_id` in the body, no secret.
    None,
}

impl ClientAuth {
    /// The wire name used in configuration and in `switchboard platforms --json`.
    pub fn as_str(self) -> &'static str {
        match self {
            ClientAuth::ClientSecretBasic => "client_secret_basic",
            ClientAuth::ClientSecretPost => "client_secret_post",
            ClientAuth::ClientKeyPost => "client_key_post",
            ClientAuth::None => "none",
        }
    }
}

/// Whether the platform wants PKCE (RFC 7636) on the authorization code flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Pkce {
    /// The platform rejects a flow without `code_challenge` (X, TikTok).
    Required,
    /// The platform accepts PKCE; Switchboard sends it (Google, custom providers by default).
    Supported,
    /// The platform does not use PKCE; Switchboard does not send it (LinkedIn, Meta, Instagram).
    None,
}

impl Pkce {
    /// True when Switchboard sends `code_challenge` (S256) for this platform.
    pub fn is_sent(self) -> bool {
        !matches!(self, Pkce::None)
    }
}

/// How the authorization code is exchanged at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenRequest {
    /// `POST` with an `application/x-www-form-urlencoded` body (RFC 6749 §4.1.3).
    PostForm,
    /// `GET` with the parameters in the query string (Facebook Graph `oauth/access_token`).
    GetQuery,
}

/// What the platform offers to keep a connection alive after the access token expires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RefreshKind {
    /// No refresh token: the person must reconnect when the access token ends (Facebook user
    /// tokens, LinkedIn for apps outside the partner programme).
    None,
    /// `grant_type=refresh_token`; the refresh token stays the same (Google, LinkedIn partners).
    Static,
    /// `grant_type=refresh_token`; every refresh returns a new single-use refresh token
    /// (X, TikTok, Pinterest with `refresh_on=true`).
    Rotating,
    /// The access token itself is exchanged for a new one (Instagram `ig_refresh_token`).
    Exchange,
}

/// The module of `switchboard-oauth` that implements this platform's token quirks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Flavor {
    /// RFC 6749 as written; handled by the `oauth2` crate.
    Standard,
    /// TikTok: `client_key`, nested or flat token responses, `open_id`.
    Tiktok,
    /// Facebook: GET exchange, then `fb_exchange_token` for a long-lived user token.
    Facebook,
    /// Instagram Login: short-lived token, then `ig_exchange_token`; `ig_refresh_token` later.
    Instagram,
}

/// The endpoints of a platform. `{var}` placeholders are filled from [`PlatformSpec::vars`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoints {
    /// Where the person's browser is sent to consent (RFC 6749 §3.1).
    pub authorization_url: String,
    /// Where the authorization code and refresh token are exchanged (RFC 6749 §3.2).
    pub token_url: String,
    /// RFC 7009 revocation endpoint, or the platform's equivalent; `None` when there is none.
    #[serde(default)]
    pub revocation_url: Option<String>,
    /// The call that identifies the connected account (the `userinfo` of OIDC providers).
    #[serde(default)]
    pub profile_url: Option<String>,
    /// Token exchange for a long-lived token, where the platform has one (Meta, Instagram).
    #[serde(default)]
    pub long_lived_url: Option<String>,
    /// Refresh endpoint when it differs from the token endpoint (Instagram
    /// `refresh_access_token`).
    #[serde(default)]
    pub refresh_url: Option<String>,
    /// Base URL of the platform's content API, used by the publishing clients.
    #[serde(default)]
    pub api_base_url: Option<String>,
}

/// Where the account's identity sits in the profile response, as JSON pointers (RFC 6901).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileFields {
    /// Stable account id (`/data/id` on X, `/sub` on OIDC providers, `/data/user/open_id` on TikTok).
    pub id: String,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// Handle (`@name`), where the platform has one.
    #[serde(default)]
    pub username: Option<String>,
    /// Avatar image URL.
    #[serde(default)]
    pub avatar: Option<String>,
}

impl Default for ProfileFields {
    /// The OpenID Connect `userinfo` claims (`sub`, `name`, `preferred_username`, `picture`).
    fn default() -> Self {
        ProfileFields {
            id: "/sub".into(),
            name: Some("/name".into()),
            username: Some("/preferred_username".into()),
            avatar: Some("/picture".into()),
        }
    }
}

/// Scopes needed per capability. A capability is available when all its scopes are granted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scopes {
    /// Read the connected account's identity.
    #[serde(default)]
    pub profile: Vec<String>,
    /// Publish text posts.
    #[serde(default)]
    pub publish_text: Vec<String>,
    /// Publish images and video.
    #[serde(default)]
    pub publish_media: Vec<String>,
    /// Read metrics of published posts.
    #[serde(default)]
    pub analytics: Vec<String>,
    /// Scopes that make the platform issue a refresh token (`offline.access` on X).
    #[serde(default)]
    pub offline: Vec<String>,
}

impl Scopes {
    /// Every scope Switchboard asks for by default: all capabilities plus offline access,
    /// deduplicated, in catalog order.
    pub fn default_request(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for s in self
            .profile
            .iter()
            .chain(&self.publish_text)
            .chain(&self.publish_media)
            .chain(&self.analytics)
            .chain(&self.offline)
        {
            if !out.contains(s) {
                out.push(s.clone());
            }
        }
        out
    }

    /// The capabilities with the scopes each needs, in a fixed order.
    pub fn capabilities(&self) -> [(&'static str, &[String]); 4] {
        [
            ("profile", &self.profile),
            ("publish_text", &self.publish_text),
            ("publish_media", &self.publish_media),
            ("analytics", &self.analytics),
        ]
    }
}

/// Token lifetimes and refresh behaviour. Lifetimes are what the documentation says; at run time
/// the `expires_in` of each response wins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenBehaviour {
    /// Documented access token lifetime in seconds; `None` when it does not expire.
    #[serde(default)]
    pub access_lifetime_secs: Option<u64>,
    /// Documented refresh token lifetime in seconds, where known.
    #[serde(default)]
    pub refresh_lifetime_secs: Option<u64>,
    /// Documented authorization code lifetime in seconds (X: 30).
    #[serde(default)]
    pub authorization_code_lifetime_secs: Option<u64>,
    /// How the connection is kept alive.
    pub refresh: RefreshKind,
    /// Minimum token age in seconds before the platform accepts a refresh (Instagram: 86400).
    #[serde(default)]
    pub min_refresh_age_secs: Option<u64>,
    /// Extra form parameters sent with every refresh (`refresh_on=true` on Pinterest).
    #[serde(default)]
    pub refresh_params: BTreeMap<String, String>,
}

/// A documentation page backing the catalog entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DocLink {
    /// What the page is about.
    pub title: String,
    /// The page.
    pub url: String,
}

/// How a platform's API version is written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VersionFormat {
    /// Meta's Graph API: `vNN.N` (`v26.0`), a path segment.
    #[default]
    Graph,
    /// LinkedIn's `LinkedIn-Version` header: `YYYYMM`, or `YYYYMM.NN` for a patch release.
    Yyyymm,
}

impl VersionFormat {
    /// Whether `v` is written in this format.
    pub fn matches(self, v: &str) -> bool {
        let digits = |s: &str, min: usize, max: usize| {
            (min..=max).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
        };
        match self {
            VersionFormat::Graph => v
                .strip_prefix('v')
                .and_then(|r| r.split_once('.'))
                .is_some_and(|(a, b)| digits(a, 1, 3) && digits(b, 1, 2)),
            VersionFormat::Yyyymm => {
                let (main, patch) = v.split_once('.').unwrap_or((v, "00"));
                digits(main, 6, 6)
                    && digits(patch, 2, 2)
                    && main[4..]
                        .parse::<u32>()
                        .is_ok_and(|m| (1..=12).contains(&m))
            }
        }
    }

    /// The format in words, for error messages.
    pub fn describe(self) -> &'static str {
        match self {
            VersionFormat::Graph => "vNN.N, for example v26.0",
            VersionFormat::Yyyymm => "YYYYMM, for example 202610",
        }
    }
}

/// One released API version with the dates its platform documents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KnownVersion {
    /// The version as sent (`v26.0`, `202610`).
    pub version: String,
    /// Release date (UTC day).
    #[serde(default)]
    pub released: Option<chrono::NaiveDate>,
    /// The documented last day it works (Meta's "available until", LinkedIn's sunset date);
    /// `None` while the platform has not announced one.
    #[serde(default)]
    pub sunset: Option<chrono::NaiveDate>,
}

/// The `[versioning]` table: how the platform's API version is chosen. The version in use is
/// [`PlatformSpec::api_version`]: `default` unless `[platforms.<id>] api_version` or
/// `SWITCHBOARD_<ID>_API_VERSION` sets another ([`Catalog::set_api_version`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Versioning {
    /// How versions are written.
    #[serde(default)]
    pub format: VersionFormat,
    /// The `{var}` of the endpoints the version fills (`graph_version`), when it is in the URL.
    #[serde(default)]
    pub placeholder: Option<String>,
    /// The request header that carries it (`LinkedIn-Version`), when it is a header.
    #[serde(default)]
    pub header: Option<String>,
    /// The version used unless configured: the newest the platform has released.
    #[serde(default)]
    pub default: String,
    /// The platform's page listing its versions, releases and sunsets.
    #[serde(default)]
    pub source: String,
    /// Released versions with their documented dates, newest first.
    #[serde(default)]
    pub versions: Vec<KnownVersion>,
    /// Another built-in platform whose version table this one shares (Instagram's Graph
    /// versions are Facebook's): `format`, `default`, `source` and `versions` come from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub same_as: Option<String>,
}

/// Days before a documented sunset from which `switchboard doctor` and the prerequisites warn.
pub const SUNSET_WARNING_DAYS: i64 = 90;

impl Versioning {
    /// What the platform documents about `version`, when it lists it.
    pub fn known(&self, version: &str) -> Option<&KnownVersion> {
        self.versions.iter().find(|k| k.version == version)
    }

    /// A warning when `version`'s documented sunset is within [`SUNSET_WARNING_DAYS`] of
    /// `today`, or has passed; `None` otherwise (no sunset announced, or far enough).
    pub fn sunset_warning(&self, version: &str, today: chrono::NaiveDate) -> Option<String> {
        let sunset = self.known(version)?.sunset?;
        let days = (sunset - today).num_days();
        if days < 0 {
            Some(format!(
                "API version {version} was retired on {sunset} ({source})",
                source = self.source
            ))
        } else if days <= SUNSET_WARNING_DAYS {
            Some(format!(
                "API version {version} is retired on {sunset}, in {days} day(s) ({source})",
                source = self.source
            ))
        } else {
            None
        }
    }
}

/// One platform (or custom OAuth 2.0 provider) as Switchboard knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlatformSpec {
    /// Stable id used in every path: `twitter`, `linkedin`, `facebook`, `instagram`, `tiktok`,
    /// `youtube`, `pinterest`, or a custom provider's id.
    pub id: String,
    /// Name shown to people.
    pub display_name: String,
    /// Brand colour as `#rrggbb`.
    #[serde(default = "default_colour")]
    pub brand_color: String,
    /// `easy`, `medium` or `hard`: how much work the developer-app setup is.
    #[serde(default = "default_difficulty")]
    pub difficulty: String,
    /// Minutes a person typically needs to create the developer app.
    #[serde(default)]
    pub setup_minutes: u32,
    /// What Switchboard can do with the platform, in words.
    #[serde(default)]
    pub features: Vec<String>,
    /// What must exist before connecting (developer app, account type, review), in words.
    #[serde(default)]
    pub requirements: Vec<String>,
    /// Which `switchboard-oauth` module handles the token quirks.
    #[serde(default = "default_flavor")]
    pub flavor: Flavor,
    /// True for providers added in the configuration file.
    #[serde(default)]
    pub custom: bool,
    /// Name of the client identifier parameter on the authorization URL and token request
    /// (`client_id`, or `client_key` on TikTok).
    #[serde(default = "default_client_id_param")]
    pub client_id_param: String,
    /// Client authentication at the token endpoint.
    pub client_auth: ClientAuth,
    /// PKCE requirement.
    pub pkce: Pkce,
    /// How the code exchange is sent.
    #[serde(default = "default_token_request")]
    pub token_request: TokenRequest,
    /// Separator between scopes in the `scope` parameter (`" "` or `","`).
    pub scope_separator: String,
    /// Endpoints, with `{var}` placeholders.
    pub endpoints: Endpoints,
    /// Values for `{var}` placeholders of the endpoints. The API version's placeholder
    /// (`graph_version` on Meta) is filled from [`PlatformSpec::api_version`].
    #[serde(default)]
    pub vars: BTreeMap<String, String>,
    /// How the platform's API version is chosen; `None` for platforms without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub versioning: Option<Versioning>,
    /// The API version in use, with configuration and environment applied (Graph version for
    /// `facebook` and `instagram`, `LinkedIn-Version` for `linkedin`); `None` where the
    /// platform has no versioning.
    #[serde(default)]
    pub api_version: Option<String>,
    /// Where the account identity sits in the profile response.
    #[serde(default)]
    pub profile: ProfileFields,
    /// Scopes per capability.
    #[serde(default)]
    pub scopes: Scopes,
    /// Token lifetimes and refresh behaviour.
    pub token: TokenBehaviour,
    /// Extra parameters added to the authorization URL (`access_type=offline`, `prompt=consent`).
    #[serde(default)]
    pub authorization_params: BTreeMap<String, String>,
    /// Documentation pages.
    #[serde(default)]
    pub docs: Vec<DocLink>,
    /// What helps people connect and recover: error documentation, scope names and
    /// descriptions, reconnect steps (the `[guide]` table).
    #[serde(default)]
    pub guide: Guide,
    /// What a post may contain on this platform (the `[content]` table; empty for custom
    /// providers): see [`crate::post_rules`].
    #[serde(default)]
    pub content: crate::post_rules::ContentRules,
    /// Where the platform may pull media from, as the operator verified them for the app
    /// (TikTok `PULL_FROM_URL`: the configuration's `[platforms.tiktok] verified_domains`, set
    /// with [`Catalog::set_verified_domains`]; never in a catalog file). Each entry is a domain
    /// (`media.example.com`, which also covers its subdomains) or an `https://` URL prefix
    /// ending in `/`; see [`PlatformSpec::pull_verified`]. Empty: nothing may be pulled.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub verified_domains: Vec<String>,
}

/// The people-facing help of a platform: where its errors are documented, what its scopes are
/// called when granted and why they are asked for, and how to reconnect.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Guide {
    /// The platform's page on error codes: the documentation link of a diagnosis that has no
    /// more specific page.
    #[serde(default)]
    pub errors_url: Option<String>,
    /// Documentation page per diagnosis category (`token_revoked`, `rate_limited`...), where the
    /// platform documents that kind of error on a page of its own.
    #[serde(default)]
    pub error_docs: BTreeMap<String, String>,
    /// Scope names as the platform reports them when granted → the name the catalog asks for
    /// (Google reports `email` as `https://www.googleapis.com/auth/userinfo.email`).
    #[serde(default)]
    pub scope_aliases: BTreeMap<String, String>,
    /// Why each scope is asked for, in words shown to the person granting it.
    #[serde(default)]
    pub scope_descriptions: BTreeMap<String, String>,
    /// What a person does to reconnect an account, in order.
    #[serde(default)]
    pub reconnect_steps: Vec<String>,
}

impl Guide {
    /// The documentation page for a diagnosis category: the category's own page, else the
    /// platform's error-code page.
    pub fn docs_for(&self, category: &str) -> Option<&str> {
        self.error_docs
            .get(category)
            .or(self.errors_url.as_ref())
            .map(String::as_str)
    }

    /// A granted scope under the name the catalog uses (aliases resolved; others unchanged).
    pub fn normalise_scope<'a>(&'a self, scope: &'a str) -> &'a str {
        self.scope_aliases
            .get(scope)
            .map(String::as_str)
            .unwrap_or(scope)
    }
}

fn default_colour() -> String {
    "#4b5563".into()
}
fn default_difficulty() -> String {
    "medium".into()
}
fn default_flavor() -> Flavor {
    Flavor::Standard
}
fn default_client_id_param() -> String {
    "client_id".into()
}
fn default_token_request() -> TokenRequest {
    TokenRequest::PostForm
}

/// Errors building or changing the catalog.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// A catalog file does not parse.
    #[error("catalog entry {file}: {message}")]
    Parse { file: String, message: String },
    /// An endpoint is not an absolute http(s) URL after placeholders are filled.
    #[error("platform {platform}: {field} is not an absolute http(s) URL: {value}")]
    BadUrl {
        platform: String,
        field: &'static str,
        value: String,
    },
    /// Two entries share an id.
    #[error("platform id {0} is defined twice")]
    Duplicate(String),
    /// An id that cannot be used in a URL path.
    #[error("platform id {0:?} must be 1-40 characters of a-z, 0-9, '-' or '_'")]
    BadId(String),
    /// An API version was given for a platform that has none, or is not written as the
    /// platform writes versions.
    #[error("platform {platform}: api_version {value:?}: {reason}")]
    BadApiVersion {
        platform: String,
        value: String,
        reason: String,
    },
}

/// The built-in catalog files, in display order.
const BUILTIN: [(&str, &str); 7] = [
    ("twitter.toml", include_str!("../catalog/twitter.toml")),
    ("linkedin.toml", include_str!("../catalog/linkedin.toml")),
    ("facebook.toml", include_str!("../catalog/facebook.toml")),
    ("instagram.toml", include_str!("../catalog/instagram.toml")),
    ("tiktok.toml", include_str!("../catalog/tiktok.toml")),
    ("youtube.toml", include_str!("../catalog/youtube.toml")),
    ("pinterest.toml", include_str!("../catalog/pinterest.toml")),
];

/// Ids of the seven built-in platforms, in display order.
pub const BUILTIN_IDS: [&str; 7] = [
    "twitter",
    "linkedin",
    "facebook",
    "instagram",
    "tiktok",
    "youtube",
    "pinterest",
];

/// The set of platforms this instance knows: the built-ins plus configured custom providers,
/// with host overrides applied.
#[derive(Debug, Clone)]
pub struct Catalog {
    platforms: Vec<PlatformSpec>,
    /// The built-ins' endpoints as written in their files (placeholders unfilled), by id, so
    /// that a configured API version fills them again.
    templates: BTreeMap<String, Endpoints>,
}

impl Catalog {
    /// The seven built-in platforms with their real hosts and placeholders filled.
    ///
    /// # Errors
    /// Only when a built-in file is broken, which the test suite rules out.
    pub fn builtin() -> Result<Self, CatalogError> {
        let mut platforms = Vec::with_capacity(BUILTIN.len());
        let mut templates = BTreeMap::new();
        for (file, text) in BUILTIN {
            let mut spec: PlatformSpec = toml::from_str(text).map_err(|e| CatalogError::Parse {
                file: file.to_string(),
                message: e.to_string(),
            })?;
            if let Some(other) = spec.versioning.as_ref().and_then(|v| v.same_as.clone()) {
                let shared = platforms
                    .iter()
                    .find(|p: &&PlatformSpec| p.id == other)
                    .and_then(|p| p.versioning.clone())
                    .ok_or_else(|| CatalogError::Parse {
                        file: file.to_string(),
                        message: format!("versioning.same_as names {other}, not an earlier entry"),
                    })?;
                if let Some(v) = spec.versioning.as_mut() {
                    v.format = shared.format;
                    v.default = shared.default;
                    v.source = shared.source;
                    v.versions = shared.versions;
                }
            }
            spec.api_version = spec.versioning.as_ref().map(|v| v.default.clone());
            templates.insert(spec.id.clone(), spec.endpoints.clone());
            spec.fill_placeholders();
            spec.check()?;
            platforms.push(spec);
        }
        Ok(Catalog {
            platforms,
            templates,
        })
    }

    /// Sets the API version of a platform that has versioning, filling its endpoints again.
    /// Call it before [`Catalog::use_sandbox`] and [`Catalog::override_hosts`], which rewrite
    /// the filled endpoints.
    ///
    /// # Errors
    /// [`CatalogError::BadApiVersion`]: unknown platform, a platform without versioning, or a
    /// version not written in the platform's format (`vNN.N`, `YYYYMM`).
    pub fn set_api_version(&mut self, id: &str, version: &str) -> Result<(), CatalogError> {
        let bad = |reason: String| CatalogError::BadApiVersion {
            platform: id.to_string(),
            value: version.to_string(),
            reason,
        };
        let spec = self
            .platforms
            .iter_mut()
            .find(|p| p.id == id)
            .ok_or_else(|| bad("no such platform".into()))?;
        let Some(versioning) = &spec.versioning else {
            return Err(bad(format!(
                "{} has no API version setting (only facebook, instagram and linkedin do)",
                spec.display_name
            )));
        };
        let version = version.trim();
        if !versioning.format.matches(version) {
            return Err(bad(format!(
                "not a {} API version: write it as {}",
                spec.display_name,
                versioning.format.describe()
            )));
        }
        spec.api_version = Some(version.to_string());
        if let Some(t) = self.templates.get(id) {
            spec.endpoints = t.clone();
        }
        spec.fill_placeholders();
        spec.check()
    }

    /// [`Catalog::set_api_version`] for each `(platform id, version)`.
    ///
    /// # Errors
    /// The first [`CatalogError::BadApiVersion`].
    pub fn set_api_versions(
        &mut self,
        versions: &BTreeMap<String, String>,
    ) -> Result<(), CatalogError> {
        for (id, v) in versions {
            self.set_api_version(id, v)?;
        }
        Ok(())
    }

    /// Adds a custom provider. Its id must not collide with another entry.
    ///
    /// # Errors
    /// [`CatalogError::Duplicate`], [`CatalogError::BadId`] or [`CatalogError::BadUrl`].
    pub fn add(&mut self, mut spec: PlatformSpec) -> Result<(), CatalogError> {
        if self.get(&spec.id).is_some() {
            return Err(CatalogError::Duplicate(spec.id));
        }
        spec.fill_placeholders();
        spec.check()?;
        self.platforms.push(spec);
        Ok(())
    }

    /// Rewrites every endpoint whose host is a key of `hosts` to the mapped base URL, keeping the
    /// path and query. `{"api.x.com": "http://127.0.0.1:9000/api.x.com"}` turns
    /// `https://api.x.com/2/oauth2/token` into `http://127.0.0.1:9000/api.x.com/2/oauth2/token`.
    pub fn override_hosts(&mut self, hosts: &BTreeMap<String, String>) {
        for p in &mut self.platforms {
            p.endpoints.map_urls(|u| rewrite_host(u, hosts));
        }
    }

    /// Points every built-in endpoint at a sandbox serving `{sandbox_base}/{host}/{path}`.
    pub fn use_sandbox(&mut self, sandbox_base: &str) {
        let base = sandbox_base.trim_end_matches('/');
        for p in self.platforms.iter_mut().filter(|p| !p.custom) {
            p.endpoints.map_urls(|u| match Url::parse(u) {
                Ok(url) => {
                    let host = url.host_str().unwrap_or_default();
                    let rest = &u[u.find(host).map(|i| i + host.len()).unwrap_or(0)..];
                    format!("{base}/{host}{rest}")
                }
                Err(_) => u.to_string(),
            });
        }
    }

    /// Replaces one platform's content API base (`endpoints.api_base_url`), keeping its other
    /// endpoints: `("pinterest", "https://api-sandbox.pinterest.com")` points Pinterest's
    /// publishing calls at its API Sandbox while OAuth stays on the real hosts. Call it before
    /// [`Catalog::use_sandbox`] and [`Catalog::override_hosts`], which then rewrite the new
    /// base like any other endpoint. A trailing `/` is dropped.
    ///
    /// # Errors
    /// [`CatalogError::BadUrl`] (field `api_base_url`) when `base` is not an absolute http(s)
    /// URL; nothing is changed then. An unknown id changes nothing.
    pub fn override_api_base(&mut self, id: &str, base: &str) -> Result<(), CatalogError> {
        let Some(p) = self.platforms.iter_mut().find(|p| p.id == id) else {
            return Ok(());
        };
        let mut spec = p.clone();
        spec.endpoints.api_base_url = Some(base.trim_end_matches('/').to_string());
        spec.check()?;
        *p = spec;
        Ok(())
    }

    /// Sets the domains and URL prefixes a platform may pull media from (see
    /// [`PlatformSpec::verified_domains`]). An unknown id changes nothing.
    pub fn set_verified_domains(&mut self, id: &str, entries: &[String]) {
        if let Some(p) = self.platforms.iter_mut().find(|p| p.id == id) {
            p.verified_domains = entries.to_vec();
        }
    }

    /// Looks a platform up by id.
    pub fn get(&self, id: &str) -> Option<&PlatformSpec> {
        self.platforms.iter().find(|p| p.id == id)
    }

    /// All platforms, built-ins first in display order, then custom providers.
    pub fn all(&self) -> &[PlatformSpec] {
        &self.platforms
    }

    /// All ids, for "unknown platform" errors that list the known ones.
    pub fn ids(&self) -> Vec<String> {
        self.platforms.iter().map(|p| p.id.clone()).collect()
    }

    /// The most media items any platform takes in one post, from each platform's `[content]`
    /// (`max_media`, else `max_images`/`max_gifs`/`max_videos`: their largest with
    /// `single_kind`, their sum without), and the platform that takes them; `None` when no
    /// platform gives a number. A request carrying more cannot be published anywhere.
    pub fn max_media_per_post(&self) -> Option<(u64, &str)> {
        self.platforms
            .iter()
            .filter_map(|p| media_per_post(&p.content).map(|n| (n, p.id.as_str())))
            .max_by_key(|(n, _)| *n)
    }

    /// The most hashtags any platform takes in one post (`[content] max_hashtags`), and the
    /// platform; `None` when no platform gives a number.
    pub fn max_hashtags(&self) -> Option<(u64, &str)> {
        self.platforms
            .iter()
            .filter_map(|p| p.content.max_hashtags.map(|n| (n, p.id.as_str())))
            .max_by_key(|(n, _)| *n)
    }
}

/// The most media items of one post under `c`, `None` when it gives no number.
fn media_per_post(c: &crate::post_rules::ContentRules) -> Option<u64> {
    if let Some(n) = c.max_media {
        return Some(n);
    }
    let kinds = [c.max_images, c.max_gifs, c.max_videos];
    if kinds.iter().all(Option::is_none) {
        return None;
    }
    let known = kinds.iter().flatten().copied();
    Some(if c.single_kind {
        known.max().unwrap_or(0)
    } else {
        known.sum()
    })
}

/// Whether `url` is covered by one of `entries` (domains or `https://` URL prefixes), as
/// [`PlatformSpec::pull_verified`] describes. Hosts compare case-insensitively; a prefix must
/// match the URL as parsed (normalised), so `https://a.example/x/` does not cover
/// `https://a.example/x/../y`.
pub fn url_verified(url: &str, entries: &[String]) -> bool {
    let Ok(u) = Url::parse(url) else {
        return false;
    };
    if u.scheme() != "https" || !u.username().is_empty() || u.password().is_some() {
        return false;
    }
    let Some(url::Host::Domain(host)) = u.host() else {
        return false;
    };
    let host = host.to_ascii_lowercase();
    entries.iter().any(|e| {
        let e = e.trim();
        if e.contains("://") {
            Url::parse(e)
                .ok()
                .filter(|p| p.scheme() == "https" && p.path().ends_with('/'))
                .is_some_and(|p| u.as_str().starts_with(p.as_str()))
        } else {
            let d = e.trim_end_matches('.').to_ascii_lowercase();
            !d.is_empty() && (host == d || host.ends_with(&format!(".{d}")))
        }
    })
}

fn rewrite_host(u: &str, hosts: &BTreeMap<String, String>) -> String {
    let Ok(url) = Url::parse(u) else {
        return u.to_string();
    };
    let Some(host) = url.host_str() else {
        return u.to_string();
    };
    match hosts.get(host) {
        Some(base) => {
            let mut rest = url.path().to_string();
            if let Some(q) = url.query() {
                rest.push('?');
                rest.push_str(q);
            }
            format!("{}{}", base.trim_end_matches('/'), rest)
        }
        None => u.to_string(),
    }
}

impl Endpoints {
    fn map_urls(&mut self, f: impl Fn(&str) -> String) {
        self.authorization_url = f(&self.authorization_url);
        self.token_url = f(&self.token_url);
        for u in [
            &mut self.revocation_url,
            &mut self.profile_url,
            &mut self.long_lived_url,
            &mut self.refresh_url,
            &mut self.api_base_url,
        ]
        .into_iter()
        .flatten()
        {
            *u = f(u);
        }
    }
}

impl PlatformSpec {
    fn fill_placeholders(&mut self) {
        let mut vars = self.vars.clone();
        if let (Some(p), Some(v)) = (
            self.versioning
                .as_ref()
                .and_then(|x| x.placeholder.as_ref()),
            &self.api_version,
        ) {
            vars.insert(p.clone(), v.clone());
        }
        self.endpoints.map_urls(|u| {
            let mut s = u.to_string();
            for (k, v) in &vars {
                s = s.replace(&format!("{{{k}}}"), v);
            }
            s
        });
    }

    /// Checks the id and that every endpoint is an absolute http(s) URL.
    ///
    /// # Errors
    /// [`CatalogError::BadId`] or [`CatalogError::BadUrl`] naming the field.
    pub fn check(&self) -> Result<(), CatalogError> {
        let id_ok = !self.id.is_empty()
            && self.id.len() <= 40
            && self
                .id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if !id_ok {
            return Err(CatalogError::BadId(self.id.clone()));
        }
        let e = &self.endpoints;
        let fields: [(&'static str, Option<&String>); 7] = [
            ("authorization_url", Some(&e.authorization_url)),
            ("token_url", Some(&e.token_url)),
            ("revocation_url", e.revocation_url.as_ref()),
            ("profile_url", e.profile_url.as_ref()),
            ("long_lived_url", e.long_lived_url.as_ref()),
            ("refresh_url", e.refresh_url.as_ref()),
            ("api_base_url", e.api_base_url.as_ref()),
        ];
        for (field, value) in fields {
            let Some(value) = value else { continue };
            let ok = Url::parse(value)
                .map(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
                .unwrap_or(false);
            if !ok {
                return Err(CatalogError::BadUrl {
                    platform: self.id.clone(),
                    field,
                    value: value.clone(),
                });
            }
        }
        Ok(())
    }

    /// Joins scopes with this platform's separator, for the `scope` parameter.
    pub fn join_scopes(&self, scopes: &[String]) -> String {
        scopes.join(&self.scope_separator)
    }

    /// Splits a `scope` value from a token response. Accepts both separators, because platforms
    /// report scopes differently from how they take them (LinkedIn takes spaces, reports commas).
    pub fn split_scopes(scope: &str) -> Vec<String> {
        scope
            .split([' ', ','])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    }

    /// Whether the platform may pull `url` under [`PlatformSpec::verified_domains`]: an
    /// `https` URL whose host is a listed domain or a subdomain of one, or that starts with a
    /// listed URL prefix. TikTok pulls only from "the domain or URL prefix" verified for the
    /// app and refuses others with `url_ownership_unverified`
    /// (<https://developers.tiktok.com/doc/content-posting-api-media-transfer-guide>,
    /// <https://developers.tiktok.com/doc/set-up-development-configuration>).
    pub fn pull_verified(&self, url: &str) -> bool {
        url_verified(url, &self.verified_domains)
    }

    /// True when the platform can issue refresh tokens at all.
    pub fn can_refresh(&self) -> bool {
        !matches!(self.token.refresh, RefreshKind::None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_catalog_loads_with_real_hosts() {
        let c = Catalog::builtin().expect("catalog");
        assert_eq!(c.ids(), BUILTIN_IDS.map(String::from).to_vec());
        let fb = c.get("facebook").unwrap();
        assert!(
            fb.endpoints
                .token_url
                .starts_with("https://graph.facebook.com/v"),
            "{}",
            fb.endpoints.token_url
        );
        assert!(!fb.endpoints.token_url.contains('{'));
        assert_eq!(c.get("tiktok").unwrap().client_id_param, "client_key");
        assert_eq!(
            c.get("pinterest").unwrap().client_auth,
            ClientAuth::ClientSecretBasic
        );
        assert_eq!(c.get("twitter").unwrap().pkce, Pkce::Required);
        assert_eq!(c.get("linkedin").unwrap().pkce, Pkce::None);
        assert_eq!(
            c.get("youtube")
                .unwrap()
                .authorization_params
                .get("access_type"),
            Some(&"offline".to_string())
        );
        assert_eq!(
            c.get("facebook").unwrap().token_request,
            TokenRequest::GetQuery
        );
        for p in c.all() {
            assert!(!p.docs.is_empty(), "{} has no documentation links", p.id);
            assert!(
                !p.scopes.profile.is_empty(),
                "{} has no profile scopes",
                p.id
            );
        }
    }

    #[test]
    fn sandbox_rewrite_keeps_host_in_path() {
        let mut c = Catalog::builtin().unwrap();
        c.use_sandbox("http://127.0.0.1:9000/");
        let x = c.get("twitter").unwrap();
        assert_eq!(
            x.endpoints.token_url,
            "http://127.0.0.1:9000/api.x.com/2/oauth2/token"
        );
        let tt = c.get("tiktok").unwrap();
        assert!(tt
            .endpoints
            .profile_url
            .as_deref()
            .unwrap()
            .starts_with("http://127.0.0.1:9000/open.tiktokapis.com/v2/user/info/?fields="));
    }

    #[test]
    fn host_override_applies_only_to_named_hosts() {
        let mut c = Catalog::builtin().unwrap();
        let mut hosts = BTreeMap::new();
        hosts.insert(
            "api.x.com".to_string(),
            "http://localhost:1234/x".to_string(),
        );
        c.override_hosts(&hosts);
        let x = c.get("twitter").unwrap();
        assert_eq!(
            x.endpoints.token_url,
            "http://localhost:1234/x/2/oauth2/token"
        );
        assert_eq!(
            x.endpoints.authorization_url,
            "https://x.com/i/oauth2/authorize"
        );
    }

    #[test]
    fn api_base_override_is_one_platforms_and_goes_through_the_sandbox_rewrite() {
        let mut c = Catalog::builtin().unwrap();
        c.override_api_base("pinterest", "https://api-sandbox.pinterest.com/")
            .unwrap();
        c.use_sandbox("http://127.0.0.1:9000");
        let p = c.get("pinterest").unwrap();
        assert_eq!(
            p.endpoints.api_base_url.as_deref(),
            Some("http://127.0.0.1:9000/api-sandbox.pinterest.com")
        );
        // OAuth stays on the real hosts.
        assert_eq!(
            p.endpoints.token_url,
            "http://127.0.0.1:9000/api.pinterest.com/v5/oauth/token"
        );
        assert!(c
            .get("twitter")
            .unwrap()
            .endpoints
            .api_base_url
            .as_deref()
            .unwrap()
            .ends_with("/api.x.com"));
        match c.override_api_base("youtube", "not a url") {
            Err(CatalogError::BadUrl { field, .. }) => assert_eq!(field, "api_base_url"),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn verified_domains_cover_subdomains_and_url_prefixes() {
        let entries = vec![
            "media.example.com".to_string(),
            "https://cdn.example.net/switchboard/".to_string(),
        ];
        for ok in [
            "https://media.example.com/a.mp4",
            "https://MEDIA.example.com/a.mp4",
            "https://eu.media.example.com/a.mp4",
            "https://cdn.example.net/switchboard/media/1/t",
        ] {
            assert!(url_verified(ok, &entries), "{ok}");
        }
        for no in [
            "http://media.example.com/a.mp4",
            "https://example.com/a.mp4",
            "https://evilmedia.example.com/a.mp4",
            "https://media.example.com.evil.test/a.mp4",
            "https://cdn.example.net/other/a.mp4",
            "https://cdn.example.net/switchboard/../other/a.mp4",
            "https://u:p@media.example.com/a.mp4",
            "https://93.184.216.34/a.mp4",
            "not a url",
        ] {
            assert!(!url_verified(no, &entries), "{no}");
        }
        assert!(!url_verified("https://media.example.com/a.mp4", &[]));
    }

    #[test]
    fn api_versions_default_to_the_newest_and_are_settings() {
        let mut c = Catalog::builtin().unwrap();
        let fb = c.get("facebook").unwrap();
        assert_eq!(fb.api_version.as_deref(), Some("v26.0"));
        assert_eq!(
            fb.endpoints.api_base_url.as_deref(),
            Some("https://graph.facebook.com/v26.0")
        );
        let ig = c.get("instagram").unwrap();
        assert_eq!(ig.api_version.as_deref(), Some("v26.0"));
        assert_eq!(
            ig.versioning.as_ref().unwrap().versions,
            fb.versioning.as_ref().unwrap().versions,
            "Instagram shares Facebook's table"
        );
        assert_eq!(
            ig.endpoints.api_base_url.as_deref(),
            Some("https://graph.instagram.com/v26.0")
        );
        let li = c.get("linkedin").unwrap();
        assert_eq!(li.api_version.as_deref(), Some("202610"));
        assert_eq!(
            li.versioning.as_ref().unwrap().header.as_deref(),
            Some("LinkedIn-Version")
        );
        assert_eq!(c.get("twitter").unwrap().api_version, None);

        c.set_api_version("facebook", "v24.0").unwrap();
        let fb = c.get("facebook").unwrap();
        assert_eq!(
            fb.endpoints.token_url,
            "https://graph.facebook.com/v24.0/oauth/access_token"
        );
        assert_eq!(
            fb.endpoints.authorization_url,
            "https://www.facebook.com/v24.0/dialog/oauth"
        );
        // Setting it twice fills from the file again, not from the last value.
        c.set_api_version("facebook", "v25.0").unwrap();
        assert_eq!(
            c.get("facebook").unwrap().endpoints.api_base_url.as_deref(),
            Some("https://graph.facebook.com/v25.0")
        );
        c.set_api_version("linkedin", "202601").unwrap();
        assert_eq!(
            c.get("linkedin").unwrap().api_version.as_deref(),
            Some("202601")
        );
        for (id, v) in [
            ("facebook", "26.0"),
            ("facebook", "v26"),
            ("linkedin", "2026-01"),
            ("linkedin", "202613"),
            ("twitter", "2"),
            ("nope", "v1.0"),
        ] {
            assert!(
                matches!(
                    c.set_api_version(id, v),
                    Err(CatalogError::BadApiVersion { .. })
                ),
                "{id} {v}"
            );
        }
    }

    #[test]
    fn sunsets_within_ninety_days_warn() {
        let c = Catalog::builtin().unwrap();
        let v = c.get("facebook").unwrap().versioning.clone().unwrap();
        let day = |s: &str| s.parse::<chrono::NaiveDate>().unwrap();
        // v22.0 is available until 2027-05-20.
        assert_eq!(v.sunset_warning("v22.0", day("2027-02-18")), None);
        let w = v.sunset_warning("v22.0", day("2027-02-19")).unwrap();
        assert!(w.contains("2027-05-20") && w.contains("90 day"), "{w}");
        assert!(v
            .sunset_warning("v22.0", day("2027-06-01"))
            .unwrap()
            .contains("was retired"));
        // No sunset announced, or a version the table does not list: nothing to say.
        assert_eq!(v.sunset_warning("v26.0", day("2026-12-08")), None);
        assert_eq!(v.sunset_warning("v99.0", day("2026-12-08")), None);
    }

    #[test]
    fn scopes_split_on_either_separator() {
        assert_eq!(
            PlatformSpec::split_scopes("a b,c , d"),
            vec!["a", "b", "c", "d"]
        );
    }

    #[test]
    fn bad_custom_provider_is_rejected_with_field() {
        let mut c = Catalog::builtin().unwrap();
        let mut spec = c.get("youtube").unwrap().clone();
        spec.id = "twitter".into();
        assert!(matches!(
            c.add(spec.clone()),
            Err(CatalogError::Duplicate(_))
        ));
        spec.id = "acme".into();
        spec.endpoints.token_url = "not a url".into();
        match c.add(spec) {
            Err(CatalogError::BadUrl { field, .. }) => assert_eq!(field, "token_url"),
            other => panic!("unexpected {other:?}"),
        }
    }
}
