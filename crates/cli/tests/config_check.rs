//! `switchboard config check` as a process: a valid configuration prints the effective settings
//! with secrets redacted and exits 0; an invalid one exits 2 naming the setting.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_switchboard");

/// The command with a clean `SWITCHBOARD_*` environment.
fn check() -> Command {
    let mut c = Command::new(BIN);
    c.args(["config", "check"]);
    for (k, _) in std::env::vars() {
        if k.starts_with("SWITCHBOARD_") {
            c.env_remove(k);
        }
    }
    c
}

#[test]
fn a_valid_configuration_is_printed_with_secrets_redacted() {
    let dir = tempfile::tempdir().unwrap();
    let key = switchboard_vault::generate_key_spec();
    let file = dir.path().join("switchboard.toml");
    std::fs::write(
        &file,
        "public_url = \"https://sb.example.com\"\n[rate_limits]\napi_per_workspace = 99\n\
         [platforms.linkedin]\nclient_id = \"li-id\"\nclient_secret = \"li-secret-value\"\n",
    )
    .unwrap();
    let out = check()
        .arg("--config")
        .arg(&file)
        .env("SWITCHBOARD_KEYS", &key)
        .env(
            "SWITCHBOARD_DATABASE_URL",
            "postgres://sb:db-password-value@db.internal/sb",
        )
        .env("SWITCHBOARD_RATE_LIMIT_WINDOW_SECS", "5")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("api_per_workspace = 99"), "{stdout}");
    assert!(stdout.contains("public_url = \"https://sb.example.com\""));
    assert!(stdout.contains("client_secret = \"[redacted]\""));
    for secret in [
        key.split(':').nth(1).unwrap(),
        "li-secret-value",
        "db-password-value",
    ] {
        assert!(
            !stdout.contains(secret) && !stderr.contains(secret),
            "{secret} leaked"
        );
    }
    // The misspelt variable (RATE_LIMIT, not RATE_LIMITS) is pointed out.
    assert!(
        stderr.contains("SWITCHBOARD_RATE_LIMIT_WINDOW_SECS is set but is no Switchboard setting"),
        "{stderr}"
    );
}

#[test]
fn an_invalid_configuration_exits_2_naming_the_setting() {
    let out = check()
        .env("SWITCHBOARD_TRUSTED_PROXIES", "10.0.0.0/8, my-proxy")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr
            .contains("setting trusted_proxies: \"my-proxy\" is not an IP address or CIDR network"),
        "{stderr}"
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, "listen = \"127.0.0.1:8080\"\nrate_limit = 5\n").unwrap();
    let out = check().arg("--config").arg(&file).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("unknown field `rate_limit`"), "{stderr}");
    assert!(stderr.contains("line 2"), "{stderr}");
}
