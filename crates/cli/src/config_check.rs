//! `switchboard config check [--config FILE]`: reads the configuration exactly as `serve` does
//! (file, then `SWITCHBOARD_*` variables, then `*_FILE` secrets), validates it and prints the
//! effective settings as TOML with every secret replaced by `"[redacted]"`. Exits 0 when the
//! configuration is valid, 2 with the error naming the setting otherwise. Variables that start
//! with `SWITCHBOARD_` but are no setting are listed as warnings (a typo is silently ignored
//! otherwise).

use std::process::ExitCode;

use switchboard_server::Config;

/// Every `SWITCHBOARD_*` variable read outside the per-platform and per-provider
/// `SWITCHBOARD_<ID>_CLIENT_ID` / `_CLIENT_SECRET[_FILE]` / `_API_VERSION` ones.
const KNOWN: &[&str] = &[
    "SWITCHBOARD_CONFIG",
    "SWITCHBOARD_LOG",
    "SWITCHBOARD_LOG_FORMAT",
    "SWITCHBOARD_LISTEN",
    "SWITCHBOARD_PUBLIC_URL",
    "SWITCHBOARD_DATABASE_URL",
    "SWITCHBOARD_DATA_DIR",
    "SWITCHBOARD_MEDIA_DIR",
    "SWITCHBOARD_MEDIA_MAX_BYTES",
    "SWITCHBOARD_KEYS",
    "SWITCHBOARD_KEYS_FILE",
    "SWITCHBOARD_ACTIVE_KEY",
    "SWITCHBOARD_ADMIN_PASSWORD",
    "SWITCHBOARD_ADMIN_PASSWORD_FILE",
    "SWITCHBOARD_SANDBOX_URL",
    "SWITCHBOARD_SANDBOX_LISTEN",
    "SWITCHBOARD_HOSTS",
    "SWITCHBOARD_ALLOWED_RETURN_URLS",
    "SWITCHBOARD_HTTP_TIMEOUT_SECS",
    "SWITCHBOARD_STATE_TTL_SECS",
    "SWITCHBOARD_EXPIRY_WARNING_SECS",
    "SWITCHBOARD_WORKERS",
    "SWITCHBOARD_WORKER_INTERVAL_MS",
    "SWITCHBOARD_SYNC_INTERVAL_SECS",
    "SWITCHBOARD_PUBLISH_MAX_ATTEMPTS",
    "SWITCHBOARD_PUBLISH_LEASE_SECS",
    "SWITCHBOARD_REFRESH_LEASE_SECS",
    "SWITCHBOARD_WEBHOOK_PER_RECEIVER",
    "SWITCHBOARD_WEBHOOKS_ALLOW_PRIVATE_NETWORKS",
    "SWITCHBOARD_REFRESH_BUFFER_SECS",
    "SWITCHBOARD_MAX_BODY_BYTES",
    "SWITCHBOARD_TRUSTED_PROXIES",
    "SWITCHBOARD_RATE_LIMITS_ENABLED",
    "SWITCHBOARD_RATE_LIMITS_WINDOW_SECS",
    "SWITCHBOARD_RATE_LIMITS_API_PER_WORKSPACE",
    "SWITCHBOARD_RATE_LIMITS_API_PER_ADDRESS",
    "SWITCHBOARD_RATE_LIMITS_CONNECT_PER_WORKSPACE",
    "SWITCHBOARD_RATE_LIMITS_CONNECT_PER_ADDRESS",
    "SWITCHBOARD_RATE_LIMITS_CALLBACK_PER_ADDRESS",
    "SWITCHBOARD_RATE_LIMITS_SIGN_IN_PER_ADDRESS",
    "SWITCHBOARD_METRICS_LISTEN",
    "SWITCHBOARD_SENTRY_DSN",
    "SWITCHBOARD_SENTRY_DSN_FILE",
    "SWITCHBOARD_OTLP_ENDPOINT",
    "SWITCHBOARD_TEST_POSTGRES_URL",
];

/// The `SWITCHBOARD_*` names among `names` that no setting reads.
pub fn unknown_variables(names: impl Iterator<Item = String>, config: &Config) -> Vec<String> {
    let ids: Vec<String> = switchboard_core::catalog::BUILTIN_IDS
        .iter()
        .map(|s| s.to_string())
        .chain(config.providers.keys().cloned())
        .map(|id| id.to_ascii_uppercase().replace('-', "_"))
        .collect();
    let mut unknown: Vec<String> = names
        .filter(|n| n.starts_with("SWITCHBOARD_"))
        .filter(|n| !KNOWN.contains(&n.as_str()))
        // `[retention]` fields, each `SWITCHBOARD_RETENTION_<FIELD>` (checked by the loader).
        .filter(|n| !n.starts_with("SWITCHBOARD_RETENTION_"))
        .filter(|n| {
            !ids.iter().any(|id| {
                [
                    "CLIENT_ID",
                    "CLIENT_SECRET",
                    "CLIENT_SECRET_FILE",
                    "API_VERSION",
                ]
                .iter()
                .any(|f| *n == format!("SWITCHBOARD_{id}_{f}"))
            })
        })
        .collect();
    unknown.sort();
    unknown
}

/// Prints the effective configuration and warnings; the exit code of `config check`.
pub fn run(config: &Config) -> ExitCode {
    println!("# effective configuration (secrets redacted)");
    print!("{}", config.redacted_toml());
    let mut warnings = Vec::new();
    if config.keys.is_none() {
        warnings.push(
            "no encryption keys (keys, keys_file, SWITCHBOARD_KEYS): `serve` refuses to start \
             without --dev"
                .to_string(),
        );
    }
    for name in unknown_variables(std::env::vars().map(|(k, _)| k), config) {
        warnings.push(format!(
            "{name} is set but is no Switchboard setting (a typo?)"
        ));
    }
    if config.database_url.starts_with("sqlite") && !config.trusted_proxies.is_empty() {
        warnings.push(
            "trusted_proxies is set on SQLite: several instances behind a load balancer need \
             PostgreSQL (one SQLite file serves one instance)"
                .to_string(),
        );
    }
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    eprintln!("configuration is valid");
    ExitCode::SUCCESS
}
