//! What a platform needs before anyone clicks connect: the checks behind
//! `GET /v1/platforms/{platform}/prerequisites`, the `ready` flag of `GET /v1/platforms` and
//! `switchboard doctor`.
//!
//! Checks read only the configuration, except [`database_check`] (one query), and
//! [`clock_check`] (compares with the `Date` header of one answer from the platform, when given).

use chrono::{DateTime, Utc};
use secrecy::ExposeSecret;
use serde::Serialize;
use switchboard_core::catalog::ClientAuth;
use switchboard_core::PlatformSpec;

use crate::Config;

/// Largest tolerated difference between this machine's clock and a platform's `Date` header,
/// seconds. Tokens carry expiry times and X authorization codes live 30 s.
pub const MAX_CLOCK_SKEW_SECS: i64 = 300;

/// No sane clock reads earlier than this (the year this code was written).
const EARLIEST_SANE: &str = "2026-01-01T00:00:00Z";

/// Outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = PrerequisiteStatus)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Fine.
    Pass,
    /// Worth fixing, does not block connecting.
    Warn,
    /// Blocks connecting.
    Fail,
}

/// One check: `{name, status, detail, fix}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = PrerequisiteCheck)]
pub struct Check {
    /// Stable name (`client_id`, `client_secret`, `redirect_uri`, `public_url_https`,
    /// `encryption_key`, `database`, `clock`, `api_version`; `deauthorize_callback` and
    /// `data_deletion_callback` on Meta's platforms).
    pub name: &'static str,
    /// Pass, warn or fail.
    pub status: Status,
    /// What was found, in plain words.
    pub detail: String,
    /// What to do when it is not a pass.
    pub fix: Option<String>,
}

impl Check {
    fn pass(name: &'static str, detail: impl Into<String>) -> Self {
        Check {
            name,
            status: Status::Pass,
            detail: detail.into(),
            fix: None,
        }
    }
    fn fail(name: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Check {
            name,
            status: Status::Fail,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }
    fn warn(name: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Check {
            status: Status::Warn,
            ..Check::fail(name, detail, fix)
        }
    }
}

/// Whether the configuration mentions the platform (a `[platforms.<id>]` entry with anything
/// in it, or a custom provider).
pub fn is_configured(config: &Config, platform: &str) -> bool {
    config.providers.contains_key(platform)
        || config
            .platforms
            .get(platform)
            .is_some_and(|p| p.client_id.is_some() || p.client_secret.is_some())
}

/// The client id and whether a secret is present, as the server will use them: the configured
/// values, or the sandbox's default client when a sandbox is configured (same rule as
/// `AppState::credentials`).
fn credentials(config: &Config, platform: &str) -> (Option<String>, bool) {
    if let Some(p) = config.providers.get(platform) {
        return (p.client_id.clone(), p.client_secret.is_some());
    }
    let p = config.platforms.get(platform).cloned().unwrap_or_default();
    match p.client_id {
        Some(id) => (Some(id), p.client_secret.is_some()),
        None if config.sandbox_url.is_some() => (Some(format!("sandbox-{platform}-client")), true),
        None => (None, p.client_secret.is_some()),
    }
}

/// The environment variable names of a built-in platform's credentials.
fn env_name(platform: &str, what: &str) -> String {
    format!(
        "SWITCHBOARD_{}_{what}",
        platform.to_ascii_uppercase().replace('-', "_")
    )
}

/// The checks that depend on the platform: client id, client secret, the redirect URI to
/// register (printed exactly), and HTTPS for that URI.
pub fn platform_checks(config: &Config, spec: &PlatformSpec) -> Vec<Check> {
    let (id, has_secret) = credentials(config, &spec.id);
    let mut out = Vec::new();
    let console = spec
        .docs
        .first()
        .map(|d| format!(" (see {})", d.url))
        .unwrap_or_default();
    out.push(match id {
        Some(_) => Check::pass("client_id", "a client id is configured"),
        None => Check::fail(
            "client_id",
            format!("no client id for {}", spec.display_name),
            format!(
                "Create an app in the {} developer console{console} and set [platforms.{}].client_id or {}.",
                spec.display_name,
                spec.id,
                env_name(&spec.id, "CLIENT_ID")
            ),
        ),
    });
    out.push(match (has_secret, spec.client_auth) {
        (true, _) => Check::pass("client_secret", "a client secret is configured"),
        (false, ClientAuth::None) => Check::pass(
            "client_secret",
            "a public client: no secret is sent to the token endpoint",
        ),
        (false, _) => Check::fail(
            "client_secret",
            format!(
                "no client secret for {}; its token endpoint authenticates the app with {}",
                spec.display_name,
                spec.client_auth.as_str()
            ),
            format!(
                "Copy the secret from the {} developer console into [platforms.{}].client_secret, client_secret_file or {}.",
                spec.display_name,
                spec.id,
                env_name(&spec.id, "CLIENT_SECRET")
            ),
        ),
    });
    let uri = config.redirect_uri(&spec.id);
    out.push(Check::pass(
        "redirect_uri",
        format!(
            "register exactly this redirect URI with {}: {uri}",
            spec.display_name
        ),
    ));
    out.push(public_url_check(config));
    if crate::meta_callbacks::is_meta(&spec.id) {
        out.push(Check::pass(
            "deauthorize_callback",
            format!(
                "register this Deauthorize Callback URL with {} (required in live mode): {}",
                spec.display_name,
                config.deauthorize_url(&spec.id)
            ),
        ));
        out.push(Check::pass(
            "data_deletion_callback",
            format!(
                "register this Data Deletion Request Callback URL with {} (required in live mode): {}",
                spec.display_name,
                config.data_deletion_url(&spec.id)
            ),
        ));
    }
    if let Some(c) = api_version_check(spec, Utc::now().date_naive()) {
        out.push(c);
    }
    out
}

/// The API version in use against its documented sunset (the catalog's `[versioning]`): a
/// pass naming the version, or a warning when its sunset is within
/// [`switchboard_core::catalog::SUNSET_WARNING_DAYS`] days of `today` or past. `None` for
/// platforms without versioning.
pub fn api_version_check(spec: &PlatformSpec, today: chrono::NaiveDate) -> Option<Check> {
    let versioning = spec.versioning.as_ref()?;
    let version = spec.api_version.as_deref()?;
    Some(match versioning.sunset_warning(version, today) {
        Some(w) => Check::warn(
            "api_version",
            w,
            format!(
                "Move to a newer version (the default is {}): set [platforms.{}].api_version or {}, or remove it to use the default.",
                versioning.default,
                spec.id,
                env_name(&spec.id, "API_VERSION")
            ),
        ),
        None => Check::pass(
            "api_version",
            format!("{} API version {version}", spec.display_name),
        ),
    })
}

/// HTTPS for a public URL that is not a loopback address (platforms refuse plain-HTTP callbacks
/// outside development, and the callback carries authorization codes).
pub fn public_url_check(config: &Config) -> Check {
    let Ok(url) = url::Url::parse(&config.public_url) else {
        return Check::fail(
            "public_url_https",
            format!("public_url {:?} is not a URL", config.public_url),
            "Set public_url to the https:// address people and platforms reach Switchboard at.",
        );
    };
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost" || d.ends_with(".localhost"),
        Some(url::Host::Ipv4(a)) => a.is_loopback(),
        Some(url::Host::Ipv6(a)) => a.is_loopback(),
        None => false,
    };
    match (url.scheme(), loopback) {
        ("https", _) => Check::pass("public_url_https", format!("{} uses HTTPS", config.public_url)),
        ("http", true) => Check::pass(
            "public_url_https",
            format!("{} is a loopback address; plain HTTP is fine for local use", config.public_url),
        ),
        _ => Check::fail(
            "public_url_https",
            format!(
                "{} is reachable from other machines but does not use HTTPS: authorization codes would travel in clear and platforms refuse such redirect URIs",
                config.public_url
            ),
            "Put Switchboard behind TLS and set public_url (SWITCHBOARD_PUBLIC_URL) to its https:// address.",
        ),
    }
}

/// An encryption key is present and parses.
pub fn key_check(config: &Config) -> Check {
    match &config.keys {
        Some(k) => match switchboard_vault::Keyring::parse(k.expose_secret(), config.active_key.as_deref()) {
            Ok(_) => Check::pass("encryption_key", "the encryption keyring parses"),
            Err(e) => Check::fail(
                "encryption_key",
                format!("the encryption keys do not parse: {e}"),
                "Set SWITCHBOARD_KEYS to `<key id>:<base64 32-byte key>` (run `switchboard keygen`).",
            ),
        },
        None if config.dev => Check::warn(
            "encryption_key",
            "no encryption key: development mode uses an ephemeral key, and stored tokens are unreadable after a restart",
            "Run `switchboard keygen` and set SWITCHBOARD_KEYS (or keys_file).",
        ),
        None => Check::fail(
            "encryption_key",
            "no encryption key configured; the server will not start without one",
            "Run `switchboard keygen` and set SWITCHBOARD_KEYS (or keys_file).",
        ),
    }
}

/// The database answered (`Ok`) or not (`Err` with the reason).
pub fn database_check(result: Result<(), String>) -> Check {
    match result {
        Ok(()) => Check::pass("database", "the database answers"),
        Err(e) => Check::fail(
            "database",
            format!("the database is unreachable: {e}"),
            "Check database_url (SWITCHBOARD_DATABASE_URL), that the server is running and the credentials are right.",
        ),
    }
}

/// The clock is sane: not before this build's era, and within [`MAX_CLOCK_SKEW_SECS`] of a
/// platform's `Date` header when one was read.
pub fn clock_check(now: DateTime<Utc>, remote: Option<(&str, DateTime<Utc>)>) -> Check {
    let earliest = DateTime::parse_from_rfc3339(EARLIEST_SANE)
        .map(|d| d.with_timezone(&Utc))
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    if now < earliest {
        return Check::fail(
            "clock",
            format!("the system clock reads {now}, before this build existed"),
            "Set the system clock (enable NTP): token expiry times depend on it.",
        );
    }
    match remote {
        Some((host, date)) => {
            let skew = (now - date).num_seconds();
            if skew.abs() > MAX_CLOCK_SKEW_SECS {
                Check::fail(
                    "clock",
                    format!("the system clock is {skew} s off the Date header of {host}"),
                    "Synchronise the system clock (NTP): short-lived codes and tokens are judged by it.",
                )
            } else {
                Check::pass(
                    "clock",
                    format!("within {} s of the Date header of {host}", skew.abs()),
                )
            }
        }
        None => Check::pass(
            "clock",
            format!(
                "the system clock reads {}; no platform answered to compare it with",
                now.format("%Y-%m-%d %H:%M:%S UTC")
            ),
        ),
    }
}

/// The `Date` header of any answer from the platform's token endpoint host (one GET, 3 s
/// timeout), to compare clocks. `None` when unreachable or without a readable header.
pub async fn platform_date(spec: &PlatformSpec) -> Option<(String, DateTime<Utc>)> {
    let url = url::Url::parse(&spec.endpoints.token_url).ok()?;
    let host = url.host_str()?.to_string();
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(3))
        .connect_timeout(std::time::Duration::from_secs(2))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .ok()?;
    let resp = client.get(url).send().await.ok()?;
    let date = resp.headers().get(reqwest::header::DATE)?.to_str().ok()?;
    let parsed = DateTime::parse_from_rfc2822(date).ok()?;
    Some((host, parsed.with_timezone(&Utc)))
}

/// Whether none of the checks fails.
pub fn passes(checks: &[Check]) -> bool {
    checks.iter().all(|c| c.status != Status::Fail)
}
