//! Configuration (issue 7 item 7): every setting from the file or a `SWITCHBOARD_*` variable,
//! validation at start with errors that name the setting, and the redacted effective
//! configuration `switchboard config check` prints.

use std::collections::BTreeMap;
use std::path::PathBuf;

use switchboard_server::config::{Config, ConfigError, RateLimitConfig};

fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

struct Dir(tempfile::TempDir);

impl Dir {
    fn new() -> Dir {
        Dir(tempfile::tempdir().unwrap())
    }
    fn file(&self, name: &str, text: &str) -> PathBuf {
        let p = self.0.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    }
}

fn load_toml(text: &str, vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let d = Dir::new();
    let f = d.file("switchboard.toml", text);
    Config::load(Some(&f), &env(vars))
}

/// The error text of a configuration that must fail.
fn error(text: &str, vars: &[(&str, &str)]) -> String {
    match load_toml(text, vars) {
        Ok(c) => panic!("accepted: {c:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn defaults_are_sane_and_rate_limits_on() {
    let c = Config::load(None, &env(&[])).unwrap();
    assert_eq!(c.rate_limits, RateLimitConfig::default());
    assert!(c.rate_limits.enabled);
    assert_eq!(c.rate_limits.window_secs, 60);
    assert_eq!(c.max_body_bytes, 1024 * 1024);
    assert!(c.trusted_proxies.is_empty());
}

#[test]
fn every_scalar_setting_has_a_variable() {
    let c = Config::load(
        None,
        &env(&[
            ("SWITCHBOARD_STATE_TTL_SECS", "300"),
            ("SWITCHBOARD_EXPIRY_WARNING_SECS", "3600"),
            ("SWITCHBOARD_WORKER_INTERVAL_MS", "250"),
            ("SWITCHBOARD_SYNC_INTERVAL_SECS", "120"),
            ("SWITCHBOARD_PUBLISH_MAX_ATTEMPTS", "5"),
            ("SWITCHBOARD_PUBLISH_LEASE_SECS", "30"),
            ("SWITCHBOARD_REFRESH_LEASE_SECS", "45"),
            ("SWITCHBOARD_MAX_BODY_BYTES", "65536"),
            ("SWITCHBOARD_TRUSTED_PROXIES", "10.0.0.0/8, 192.0.2.1"),
            ("SWITCHBOARD_RATE_LIMITS_ENABLED", "false"),
            ("SWITCHBOARD_RATE_LIMITS_WINDOW_SECS", "10"),
            ("SWITCHBOARD_RATE_LIMITS_API_PER_WORKSPACE", "1"),
            ("SWITCHBOARD_RATE_LIMITS_API_PER_ADDRESS", "2"),
            ("SWITCHBOARD_RATE_LIMITS_CONNECT_PER_WORKSPACE", "3"),
            ("SWITCHBOARD_RATE_LIMITS_CONNECT_PER_ADDRESS", "4"),
            ("SWITCHBOARD_RATE_LIMITS_CALLBACK_PER_ADDRESS", "5"),
            ("SWITCHBOARD_RATE_LIMITS_SIGN_IN_PER_ADDRESS", "6"),
            (
                "SWITCHBOARD_HOSTS",
                "api.x.com=http://127.0.0.1:9000/api.x.com",
            ),
            (
                "SWITCHBOARD_REFRESH_BUFFER_SECS",
                "twitter=600, youtube=300",
            ),
        ]),
    )
    .unwrap();
    assert_eq!(c.state_ttl_secs, 300);
    assert_eq!(c.expiry_warning_secs, 3600);
    assert_eq!(c.worker_interval_ms, 250);
    assert_eq!(c.sync_interval_secs, 120);
    assert_eq!(c.publish_max_attempts, 5);
    assert_eq!(c.publish_lease_secs, 30);
    assert_eq!(c.refresh_lease_secs, 45);
    assert_eq!(c.max_body_bytes, 65536);
    assert_eq!(
        c.trusted_proxies
            .iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>(),
        ["10.0.0.0/8", "192.0.2.1/32"]
    );
    assert_eq!(
        c.rate_limits,
        RateLimitConfig {
            enabled: false,
            window_secs: 10,
            api_per_workspace: 1,
            api_per_address: 2,
            connect_per_workspace: 3,
            connect_per_address: 4,
            callback_per_address: 5,
            sign_in_per_address: 6,
        }
    );
    assert_eq!(c.hosts["api.x.com"], "http://127.0.0.1:9000/api.x.com");
    assert_eq!(c.refresh_buffer_secs["twitter"], 600);
    assert_eq!(c.refresh_buffer_secs["youtube"], 300);
}

#[test]
fn the_file_table_and_the_environment_over_it() {
    let c = load_toml(
        "max_body_bytes = 4096\ntrusted_proxies = [\"172.16.0.0/12\"]\n\
         [rate_limits]\nwindow_secs = 30\ncallback_per_address = 7\n",
        &[("SWITCHBOARD_RATE_LIMITS_WINDOW_SECS", "15")],
    )
    .unwrap();
    assert_eq!(c.max_body_bytes, 4096);
    assert_eq!(c.trusted_proxies[0].to_string(), "172.16.0.0/12");
    assert_eq!(c.rate_limits.window_secs, 15, "the variable wins");
    assert_eq!(c.rate_limits.callback_per_address, 7);
    assert_eq!(
        c.rate_limits.api_per_workspace,
        RateLimitConfig::default().api_per_workspace,
        "unset fields keep their default"
    );
}

#[test]
fn errors_name_the_setting() {
    let key = switchboard_vault::generate_key_spec();
    let key_id = key.split(':').next().unwrap().to_string();
    // (file text, variables, expected part of the error)
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, &'a str);
    let cases: Vec<Case> = vec![
        // Unknown keys, with where they are.
        ("lisen = \"127.0.0.1:1\"\n", vec![], "unknown field `lisen`"),
        ("[rate_limits]\nwindow = 5\n", vec![], "unknown field `window`"),
        ("listen = \"localhost\"\n", vec![], "setting listen"),
        ("", vec![("SWITCHBOARD_LISTEN", "8080")], "setting listen"),
        ("public_url = \"ftp://x.test\"\n", vec![], "setting public_url"),
        ("public_url = \"not a url\"\n", vec![], "setting public_url"),
        (
            "database_url = \"mysql://db/x\"\n",
            vec![],
            "setting database_url: unsupported scheme \"mysql\"",
        ),
        (
            "",
            vec![("SWITCHBOARD_DATABASE_URL", "postgres://user:hunter2@/db")],
            "setting database_url",
        ),
        ("sandbox_url = \"nope\"\n", vec![], "setting sandbox_url"),
        (
            "[hosts]\n\"api.x.com\" = \"x\"\n",
            vec![],
            "setting hosts.api.x.com",
        ),
        ("", vec![("SWITCHBOARD_KEYS", "garbage")], "setting keys"),
        (
            "",
            vec![("SWITCHBOARD_ACTIVE_KEY", "k-none")],
            "setting active_key: is set but no keys are configured",
        ),
        ("max_body_bytes = 10\n", vec![], "setting max_body_bytes"),
        (
            "",
            vec![("SWITCHBOARD_MAX_BODY_BYTES", "lots")],
            "setting SWITCHBOARD_MAX_BODY_BYTES",
        ),
        (
            "trusted_proxies = [\"10.0.0.0/33\"]\n",
            vec![],
            "setting trusted_proxies",
        ),
        (
            "[rate_limits]\nwindow_secs = 0\n",
            vec![],
            "setting rate_limits.window_secs",
        ),
        (
            "",
            vec![("SWITCHBOARD_RATE_LIMITS_ENABLED", "maybe")],
            "setting SWITCHBOARD_RATE_LIMITS_ENABLED: \"maybe\" is not true or false",
        ),
        (
            "",
            vec![("SWITCHBOARD_RATE_LIMITS_API_PER_WORKSPACE", "-1")],
            "setting SWITCHBOARD_RATE_LIMITS_API_PER_WORKSPACE",
        ),
        (
            "",
            vec![("SWITCHBOARD_HOSTS", "api.x.com")],
            "setting SWITCHBOARD_HOSTS: \"api.x.com\" is not NAME=VALUE",
        ),
        (
            "",
            vec![("SWITCHBOARD_STATE_TTL_SECS", "10m")],
            "setting SWITCHBOARD_STATE_TTL_SECS",
        ),
        ("state_ttl_secs = 0\n", vec![], "setting state_ttl_secs"),
        (
            "[refresh_buffer_secs]\nmyspace = 60\n",
            vec![],
            "setting refresh_buffer_secs.myspace: unknown platform",
        ),
        (
            "[providers.acme]\nauthorization_url = \"https://id.acme.test/a\"\ntoken_url = \"/token\"\n",
            vec![],
            "setting providers.acme.token_url",
        ),
        (
            "[providers.twitter]\nauthorization_url = \"https://a.test/a\"\ntoken_url = \"https://a.test/t\"\n",
            vec![],
            "setting providers.twitter: is a built-in platform's id",
        ),
    ];
    for (text, vars, expected) in cases {
        let e = error(text, &vars);
        assert!(
            e.contains(expected),
            "{text:?} {vars:?}: expected {expected:?} in {e:?}"
        );
        assert!(!e.contains("hunter2"), "no password in errors: {e}");
    }
    // The active key must be one of the keys.
    let e = error(
        "",
        &[
            ("SWITCHBOARD_KEYS", key.as_str()),
            ("SWITCHBOARD_ACTIVE_KEY", "k-other"),
        ],
    );
    assert!(e.starts_with("setting active_key"), "{e}");
    assert!(
        !e.contains(key.split(':').nth(1).unwrap()),
        "no key in errors"
    );
    let ok = load_toml(
        "",
        &[
            ("SWITCHBOARD_KEYS", key.as_str()),
            ("SWITCHBOARD_ACTIVE_KEY", key_id.as_str()),
        ],
    );
    assert!(ok.is_ok(), "{ok:?}");
}

#[test]
fn the_effective_configuration_hides_every_secret() {
    let key = switchboard_vault::generate_key_spec();
    let d = Dir::new();
    let secret_file = d.file("x-secret", "x-client-secret-from-file\n");
    let f = d.file(
        "switchboard.toml",
        &format!(
            "public_url = \"https://sb.example.com/\"\n\
             [rate_limits]\nconnect_per_address = 30\n\
             [platforms.twitter]\nclient_id = \"x-id\"\nclient_secret_file = {:?}\n\
             [providers.acme]\nauthorization_url = \"https://id.acme.test/a\"\n\
             token_url = \"https://id.acme.test/t\"\nclient_id = \"acme-id\"\n",
            secret_file.display().to_string()
        ),
    );
    let c = Config::load(
        Some(&f),
        &env(&[
            ("SWITCHBOARD_KEYS", key.as_str()),
            (
                "SWITCHBOARD_DATABASE_URL",
                "postgres://switchboard:pg-password-1@db.internal:5432/switchboard",
            ),
            ("SWITCHBOARD_ACME_CLIENT_SECRET", "acme-secret-2"),
        ]),
    )
    .unwrap();
    let out = c.redacted_toml();
    for secret in [
        key.split(':').nth(1).unwrap(),
        "pg-password-1",
        "x-client-secret-from-file",
        "acme-secret-2",
    ] {
        assert!(!out.contains(secret), "{secret} leaked:\n{out}");
    }
    let v: toml::Value = toml::from_str(&out).expect("the output is TOML");
    assert_eq!(v["public_url"].as_str(), Some("https://sb.example.com"));
    assert_eq!(
        v["database_url"].as_str(),
        Some("postgres://switchboard:redacted@db.internal:5432/switchboard")
    );
    assert_eq!(v["keys"].as_str(), Some("[redacted]"));
    assert_eq!(v["retention"]["connections_days"].as_integer(), Some(90));
    assert_eq!(
        v["rate_limits"]["connect_per_address"].as_integer(),
        Some(30)
    );
    assert_eq!(
        v["platforms"]["twitter"]["client_id"].as_str(),
        Some("x-id")
    );
    assert_eq!(
        v["platforms"]["twitter"]["client_secret"].as_str(),
        Some("[redacted]")
    );
    assert_eq!(
        v["providers"]["acme"]["client_secret"].as_str(),
        Some("[redacted]")
    );
}

/// `[platforms.<id>] api_base` and `[platforms.tiktok] verified_domains`, from the file and as
/// `SWITCHBOARD_<ID>_API_BASE` / `SWITCHBOARD_TIKTOK_VERIFIED_DOMAINS`; bad values name the
/// setting; the effective configuration shows them.
#[test]
fn api_base_and_tiktok_verified_domains() {
    let c = load_toml(
        "[platforms.pinterest]\napi_base = \"https://api-sandbox.pinterest.com\"\n\
         [platforms.tiktok]\nverified_domains = [\"media.example.com\", \"https://cdn.example.net/sb/\"]\n",
        &[],
    )
    .unwrap();
    assert_eq!(
        c.platforms["pinterest"].api_base.as_deref(),
        Some("https://api-sandbox.pinterest.com")
    );
    assert_eq!(
        c.platforms["tiktok"].verified_domains,
        vec!["media.example.com", "https://cdn.example.net/sb/"]
    );
    let shown = c.redacted_toml();
    assert!(
        shown.contains("api_base = \"https://api-sandbox.pinterest.com\""),
        "{shown}"
    );
    assert!(
        shown.contains("verified_domains = [\"media.example.com\""),
        "{shown}"
    );

    let c = load_toml(
        "",
        &[
            (
                "SWITCHBOARD_PINTEREST_API_BASE",
                "https://api-sandbox.pinterest.com",
            ),
            (
                "SWITCHBOARD_TIKTOK_VERIFIED_DOMAINS",
                "media.example.com, cdn.example.org",
            ),
        ],
    )
    .unwrap();
    assert_eq!(
        c.platforms["pinterest"].api_base.as_deref(),
        Some("https://api-sandbox.pinterest.com")
    );
    assert_eq!(
        c.platforms["tiktok"].verified_domains,
        vec!["media.example.com", "cdn.example.org"]
    );

    for (text, vars, field) in [
        (
            "[platforms.pinterest]\napi_base = \"api-sandbox\"\n",
            vec![],
            "platforms.pinterest.api_base",
        ),
        (
            "",
            vec![("SWITCHBOARD_TIKTOK_VERIFIED_DOMAINS", "http://x.example/")],
            "platforms.tiktok.verified_domains",
        ),
        (
            "",
            vec![(
                "SWITCHBOARD_TIKTOK_VERIFIED_DOMAINS",
                "https://x.example/no-slash",
            )],
            "platforms.tiktok.verified_domains",
        ),
        (
            "",
            vec![("SWITCHBOARD_TIKTOK_VERIFIED_DOMAINS", "127.0.0.1")],
            "platforms.tiktok.verified_domains",
        ),
        (
            "",
            vec![("SWITCHBOARD_TIKTOK_VERIFIED_DOMAINS", "localhost")],
            "platforms.tiktok.verified_domains",
        ),
        (
            "[platforms.youtube]\nverified_domains = [\"a.example\"]\n",
            vec![],
            "platforms.youtube.verified_domains",
        ),
    ] {
        let e = error(text, &vars);
        assert!(e.contains(field), "{text} {vars:?}: {e}");
    }
}
