//! `switchboard doctor` on configurations missing each prerequisite in turn: the built binary,
//! temporary config files, the exit status and what it prints.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;

const KEYS: &str = "ktest:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

/// A local HTTP server that answers every request with `date` as its `Date` header, standing
/// in for X's token endpoint host (no network in tests). Returns its base URL.
fn date_server(date: &'static str) -> String {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", l.local_addr().expect("addr"));
    std::thread::spawn(move || {
        for mut s in l.incoming().flatten() {
            let mut buf = [0u8; 2048];
            let _ = s.read(&mut buf);
            let _ = write!(
                s,
                "HTTP/1.1 405 Method Not Allowed\r\nDate: {date}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
        }
    });
    url
}

fn now_http_date() -> &'static str {
    Box::leak(
        chrono::Utc::now()
            .format("%a, %d %b %Y %H:%M:%S GMT")
            .to_string()
            .into_boxed_str(),
    )
}

/// The pieces of a configuration file; each test removes or breaks one.
struct Conf {
    public_url: String,
    database_url: String,
    keys: Option<String>,
    twitter_id: Option<&'static str>,
    twitter_secret: Option<&'static str>,
    extra: String,
    x_host: String,
}

impl Conf {
    fn good(dir: &Path) -> Conf {
        Conf {
            public_url: "http://127.0.0.1:8080".into(),
            database_url: format!("sqlite://{}", dir.join("sb.db").display()),
            keys: Some(KEYS.into()),
            twitter_id: Some("x-client-id"),
            twitter_secret: Some("x-client-secret"),
            extra: String::new(),
            x_host: date_server(now_http_date()),
        }
    }

    fn write(&self, dir: &Path) -> std::path::PathBuf {
        let mut s = format!(
            "public_url = {:?}\ndatabase_url = {:?}\n",
            self.public_url, self.database_url
        );
        if let Some(k) = &self.keys {
            s.push_str(&format!("keys = {k:?}\n"));
        }
        s.push_str(&format!(
            "[hosts]\n\"api.x.com\" = \"{}/api.x.com\"\n",
            self.x_host
        ));
        s.push_str("[platforms.twitter]\n");
        if let Some(v) = self.twitter_id {
            s.push_str(&format!("client_id = {v:?}\n"));
        }
        if let Some(v) = self.twitter_secret {
            s.push_str(&format!("client_secret = {v:?}\n"));
        }
        s.push_str(&self.extra);
        let p = dir.join("switchboard.toml");
        std::fs::write(&p, s).expect("write config");
        p
    }
}

/// Runs `switchboard doctor --config <file> --platform twitter` with a clean environment.
fn doctor(conf: &Conf, dir: &Path, platform: Option<&str>) -> (i32, String) {
    let file = conf.write(dir);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_switchboard"));
    cmd.env_clear().arg("doctor").arg("--config").arg(&file);
    if let Some(p) = platform {
        cmd.arg("--platform").arg(p);
    }
    let out = cmd.output().expect("run switchboard doctor");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

fn fails(text: &str, check: &str) -> bool {
    text.lines()
        .any(|l| l.contains("[FAIL]") && l.contains(&format!("{check}:")))
}

#[test]
fn a_complete_configuration_is_ready_and_prints_the_redirect_uri_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out) = doctor(&Conf::good(dir.path()), dir.path(), Some("twitter"));
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("redirect URI to register: http://127.0.0.1:8080/v1/oauth/callback/twitter\n"),
        "{out}"
    );
    assert!(
        out.contains("[ok  ] clock: within"),
        "compared with the Date header: {out}"
    );
    assert!(!out.contains("[FAIL]"), "{out}");
    assert!(
        !out.contains("x-client-secret"),
        "secrets are never printed: {out}"
    );
}

#[test]
fn a_missing_client_id_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let conf = Conf {
        twitter_id: None,
        ..Conf::good(dir.path())
    };
    let (code, out) = doctor(&conf, dir.path(), Some("twitter"));
    assert_eq!(code, 1, "{out}");
    assert!(fails(&out, "client_id"), "{out}");
    assert!(out.contains("SWITCHBOARD_TWITTER_CLIENT_ID"), "{out}");
}

#[test]
fn a_missing_client_secret_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let conf = Conf {
        twitter_secret: None,
        ..Conf::good(dir.path())
    };
    let (code, out) = doctor(&conf, dir.path(), Some("twitter"));
    assert_eq!(code, 1, "{out}");
    assert!(fails(&out, "client_secret"), "{out}");
}

#[test]
fn a_missing_or_broken_encryption_key_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let conf = Conf {
        keys: None,
        ..Conf::good(dir.path())
    };
    let (code, out) = doctor(&conf, dir.path(), Some("twitter"));
    assert_eq!(code, 1, "{out}");
    assert!(fails(&out, "encryption_key"), "{out}");
    let conf = Conf {
        keys: Some("ktest:not-base64!".into()),
        ..Conf::good(dir.path())
    };
    // A key that does not decode is refused when the configuration is read (exit 2, the
    // setting named), before any check runs.
    let (code, out) = doctor(&conf, dir.path(), Some("twitter"));
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("setting keys: encryption key 1: key is not valid base64"),
        "{out}"
    );
    assert!(
        !out.contains("not-base64"),
        "key material is never printed: {out}"
    );
}

#[test]
fn an_unreachable_database_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let conf = Conf {
        // Nothing listens on port 1.
        database_url: "postgres://switchboard:pw@127.0.0.1:1/switchboard".into(),
        ..Conf::good(dir.path())
    };
    let (code, out) = doctor(&conf, dir.path(), Some("twitter"));
    assert_eq!(code, 1, "{out}");
    assert!(fails(&out, "database"), "{out}");
}

#[test]
fn a_plain_http_public_url_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let conf = Conf {
        public_url: "http://switchboard.example.com".into(),
        ..Conf::good(dir.path())
    };
    let (code, out) = doctor(&conf, dir.path(), Some("twitter"));
    assert_eq!(code, 1, "{out}");
    assert!(fails(&out, "public_url_https"), "{out}");
    // With HTTPS the same host is fine, and the redirect URI follows it.
    let conf = Conf {
        public_url: "https://switchboard.example.com".into(),
        ..Conf::good(dir.path())
    };
    let (code, out) = doctor(&conf, dir.path(), Some("twitter"));
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("https://switchboard.example.com/v1/oauth/callback/twitter"));
}

#[test]
fn a_clock_far_from_the_platforms_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let conf = Conf {
        x_host: date_server("Mon, 01 Jan 2024 00:00:00 GMT"),
        ..Conf::good(dir.path())
    };
    let (code, out) = doctor(&conf, dir.path(), Some("twitter"));
    assert_eq!(code, 1, "{out}");
    assert!(fails(&out, "clock"), "{out}");
}

#[test]
fn configured_but_unused_platforms_only_warn() {
    let dir = tempfile::tempdir().unwrap();
    let conf = Conf {
        // LinkedIn has an id but no secret; only X is asked for.
        extra: "[platforms.linkedin]\nclient_id = \"li-id\"\n".into(),
        ..Conf::good(dir.path())
    };
    let (code, out) = doctor(&conf, dir.path(), Some("twitter"));
    assert_eq!(code, 0, "{out}");
    assert!(
        out.lines()
            .any(|l| l.contains("[warn] client_secret") && l.contains("LinkedIn")),
        "{out}"
    );
    // Without --platform every configured platform is asked for: now it blocks.
    let (code, out) = doctor(&conf, dir.path(), None);
    assert_eq!(code, 1, "{out}");
    assert!(fails(&out, "client_secret"), "{out}");
}

#[test]
fn an_unknown_platform_is_named_with_the_known_ones() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out) = doctor(&Conf::good(dir.path()), dir.path(), Some("myspace"));
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("known platforms: twitter, linkedin"), "{out}");
}

/// Meta's platforms: both callback URLs to register are printed, and an API version whose
/// documented sunset is within 90 days warns (Graph v21.0 is available until 2027-01-21,
/// https://developers.facebook.com/docs/graph-api/changelog/versions/; once past, it warns
/// that it was retired).
#[test]
fn meta_callback_urls_are_printed_and_a_near_sunset_warns() {
    let dir = tempfile::tempdir().unwrap();
    let conf = Conf {
        extra: "[platforms.facebook]\nclient_id = \"fb-id\"\nclient_secret = \"fb-secret\"\napi_version = \"v21.0\"\n"
            .into(),
        ..Conf::good(dir.path())
    };
    let (_, out) = doctor(&conf, dir.path(), Some("facebook"));
    for url in [
        "Deauthorize Callback URL to register: http://127.0.0.1:8080/v1/meta/facebook/deauthorize\n",
        "Data Deletion Request Callback URL to register: http://127.0.0.1:8080/v1/meta/facebook/data-deletion\n",
    ] {
        assert!(out.contains(url), "{url} in {out}");
    }
    assert!(
        out.lines().any(|l| l.contains("[warn] api_version")
            && l.contains("v21.0")
            && l.contains("2027-01-21")),
        "{out}"
    );
    assert!(!fails(&out, "api_version"), "a warning, not a block: {out}");
    // The default version has no announced sunset: no warning.
    let conf = Conf {
        extra: "[platforms.facebook]\nclient_id = \"fb-id\"\nclient_secret = \"fb-secret\"\n"
            .into(),
        ..Conf::good(dir.path())
    };
    let (_, out) = doctor(&conf, dir.path(), Some("facebook"));
    assert!(
        out.lines()
            .any(|l| l.contains("[ok  ] api_version") && l.contains("v26.0")),
        "{out}"
    );
}

/// `switchboard platforms --json` shows each entry's API version in effect: the catalog's
/// default, the configuration file's, the environment's over both; `null` where a platform has
/// none.
#[test]
fn platforms_json_shows_the_api_version_in_effect() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("switchboard.toml");
    std::fs::write(
        &file,
        "[platforms.linkedin]\napi_version = \"202601\"\n[platforms.instagram]\napi_version = \"v24.0\"\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .env_clear()
        .env("SWITCHBOARD_FACEBOOK_API_VERSION", "v25.0")
        .env("SWITCHBOARD_INSTAGRAM_API_VERSION", "v23.0")
        .args(["platforms", "--json", "--config"])
        .arg(&file)
        .output()
        .expect("run switchboard platforms");
    assert!(out.status.success(), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let entry = |id: &str| {
        v.as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(entry("facebook")["api_version"], "v25.0");
    assert_eq!(
        entry("facebook")["token_url"],
        "https://graph.facebook.com/v25.0/oauth/access_token"
    );
    assert_eq!(entry("instagram")["api_version"], "v23.0", "env over file");
    assert_eq!(entry("linkedin")["api_version"], "202601");
    assert!(entry("twitter")["api_version"].is_null());
    // No file, no environment: the catalog's defaults.
    let out = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .env_clear()
        .args(["platforms", "--json"])
        .output()
        .expect("run switchboard platforms");
    assert!(out.status.success(), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let fb = v
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "facebook")
        .unwrap();
    assert_eq!(fb["api_version"], "v26.0");
}
