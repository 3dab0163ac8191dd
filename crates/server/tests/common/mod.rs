//! Test harness: a real sandbox and a real server on 127.0.0.1:0, sharing a movable clock, with
//! a fresh database (SQLite in a temp dir, or a brand-new PostgreSQL database), a workspace and
//! its API key, and typed helpers to drive the connect flow over HTTP.

#![allow(dead_code)]

use std::io::{Read, Seek};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use reqwest::header::{ACCEPT, AUTHORIZATION, LOCATION};
use reqwest::StatusCode;
use serde_json::{json, Value};
use switchboard_core::ManualClock;
use switchboard_sandbox::{Sandbox, SandboxConfig};
use switchboard_server::{AppState, Config};
use tokio::net::TcpListener;

/// Which database a test runs on.
#[derive(Debug, Clone)]
pub enum Db {
    /// A fresh SQLite file.
    Sqlite,
    /// A fresh PostgreSQL database.
    Postgres,
    /// This exact URL (to share one database between two servers).
    Url(String),
}

/// Options of a test stack.
pub struct Setup {
    pub db: Db,
    pub config: Box<dyn FnOnce(&mut Config) + Send>,
    pub sandbox: Box<dyn FnOnce(&mut SandboxConfig) + Send>,
    /// Reuse this sandbox instead of starting one (two servers, one sandbox).
    pub sandbox_url: Option<(String, ManualClock)>,
    /// Serve on this already-bound listener (when the port must be known in advance).
    pub listener: Option<std::net::TcpListener>,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            db: Db::Sqlite,
            config: Box::new(|_| {}),
            sandbox: Box::new(|_| {}),
            sandbox_url: None,
            listener: None,
        }
    }
}

/// A running stack.
pub struct TestApp {
    pub api: String,
    pub sandbox: String,
    pub key: String,
    pub workspace_id: String,
    pub state: AppState,
    pub clock: ManualClock,
    pub database_url: String,
    pub http: reqwest::Client,
    stop: tokio::sync::watch::Sender<bool>,
    /// The in-process sandbox this app started (`None` when it reuses another's).
    sandbox_handle: Option<Sandbox>,
    /// Where this app's part of the log capture starts (bytes into [`log_capture`]).
    capture_from: u64,
    _tmp: tempfile::TempDir,
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(Setup::default()).await
    }

    pub async fn spawn_with(setup: Setup) -> TestApp {
        let capture_from = capture_len();
        let tmp = tempfile::tempdir().expect("tempdir");
        let (stop, stop_rx) = tokio::sync::watch::channel(false);
        let wait = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|s| *s).await;
        };
        let mut sandbox_handle = None;
        let (sandbox_url, clock) = match setup.sandbox_url {
            Some(s) => s,
            None => {
                let clock = ManualClock::new();
                let mut sc = SandboxConfig {
                    clock: clock.clone(),
                    ..SandboxConfig::default()
                };
                (setup.sandbox)(&mut sc);
                let sb = Sandbox::new(sc);
                sandbox_handle = Some(sb.clone());
                let l = TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("bind sandbox");
                let url = format!("http://{}", l.local_addr().expect("addr"));
                tokio::spawn(sb.serve(l, wait(stop_rx.clone())));
                (url, clock)
            }
        };
        let database_url = match setup.db {
            Db::Sqlite => switchboard_store::testing::fresh_sqlite_url(tmp.path()),
            Db::Postgres => switchboard_store::testing::fresh_postgres_url().await,
            Db::Url(u) => u,
        };
        let listener = match setup.listener {
            Some(l) => {
                l.set_nonblocking(true).expect("nonblocking");
                TcpListener::from_std(l).expect("listener")
            }
            None => TcpListener::bind("127.0.0.1:0").await.expect("bind api"),
        };
        let addr = listener.local_addr().expect("addr");
        let mut config = Config {
            listen: addr,
            public_url: format!("http://{addr}"),
            database_url: database_url.clone(),
            keys: Some(secrecy::SecretString::from(TEST_KEYS.to_string())),
            sandbox_url: Some(sandbox_url.clone()),
            allowed_return_urls: vec![url::Url::parse("http://app.test/after-connect/").unwrap()],
            http_timeout_secs: 2,
            // Tests drive the workers' ticks themselves, with the moved clock.
            workers: false,
            // Test receivers listen on 127.0.0.1; production refuses private webhook
            // destinations by default (`webhooks.rs` tests that with this set back to false).
            webhooks_allow_private_networks: true,
            ..Config::default()
        };
        (setup.config)(&mut config);
        let state = AppState::build(config, Arc::new(clock.clone()))
            .await
            .expect("server starts");
        let (ws, key) = switchboard_server::create_workspace(
            state.store().as_ref(),
            "Test",
            chrono::Utc::now(),
        )
        .await
        .expect("workspace");
        tokio::spawn(switchboard_server::serve(
            listener,
            state.clone(),
            wait(stop_rx),
        ));
        TestApp {
            api: format!("http://{addr}"),
            sandbox: sandbox_url,
            key,
            workspace_id: ws.id,
            state,
            clock,
            database_url,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            stop,
            sandbox_handle,
            capture_from,
            _tmp: tmp,
        }
    }

    /// Every secret this app's test handled: the tokens, codes and client secrets its sandbox
    /// issued, the encryption keys, the workspace API key and configured client secrets.
    pub fn secrets(&self) -> Vec<String> {
        let mut s = self
            .sandbox_handle
            .as_ref()
            .map(Sandbox::issued_secrets)
            .unwrap_or_default();
        s.extend(key_material(TEST_KEYS));
        s.push(self.key.clone());
        let c = self.state.config();
        s.extend(c.platforms.values().filter_map(|p| p.client_secret.clone()));
        s.extend(c.providers.values().filter_map(|p| p.client_secret.clone()));
        s
    }

    /// Panics when the log capture written since this app started holds a secret of
    /// [`TestApp::secrets`] or any sandbox token (by shape). Runs on drop; call it at the end of
    /// a test to check everything logged so far.
    pub fn assert_no_secrets_logged(&self) {
        assert_no_leaks(self.capture_from, &self.secrets());
    }

    /// `GET {api}{path}` with the workspace key; returns status and JSON (Null when not JSON).
    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        let r = self
            .http
            .get(format!("{}{path}", self.api))
            .header(AUTHORIZATION, format!("Bearer {}", self.key))
            .send()
            .await
            .expect("request");
        read(r).await
    }

    pub async fn delete(&self, path: &str) -> (StatusCode, Value) {
        let r = self
            .http
            .delete(format!("{}{path}", self.api))
            .header(AUTHORIZATION, format!("Bearer {}", self.key))
            .send()
            .await
            .expect("request");
        read(r).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let r = self
            .http
            .post(format!("{}{path}", self.api))
            .header(AUTHORIZATION, format!("Bearer {}", self.key))
            .json(&body)
            .send()
            .await
            .expect("request");
        read(r).await
    }

    /// Starts a connect session; panics unless 201.
    pub async fn start(&self, platform: &str) -> Value {
        let (s, v) = self
            .post(
                &format!("/v1/connect/{platform}"),
                json!({"owner": "user-1"}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        v
    }

    /// Plays the person at the sandbox's consent page (`allow` or `deny`, optionally choosing
    /// an account) and returns the redirect back to Switchboard's callback.
    pub async fn consent(
        &self,
        authorization_url: &str,
        decision: &str,
        account: Option<&str>,
    ) -> String {
        let mut req = self
            .http
            .get(authorization_url)
            .header("X-Sandbox-Consent", decision);
        if let Some(a) = account {
            req = req.header("X-Sandbox-Account", a);
        }
        let r = req.send().await.expect("authorize");
        assert!(
            r.status().is_redirection(),
            "authorize answered {}: {}",
            r.status(),
            r.text().await.unwrap_or_default()
        );
        let loc = r.headers()[LOCATION]
            .to_str()
            .expect("location")
            .to_string();
        // A browser drops the fragment (Instagram appends `#_`).
        loc.split('#').next().unwrap_or_default().to_string()
    }

    /// Follows the redirect to the callback asking for JSON.
    pub async fn callback(&self, url: &str) -> (StatusCode, Value) {
        let r = self
            .http
            .get(url)
            .header(ACCEPT, "application/json")
            .send()
            .await
            .expect("callback");
        read(r).await
    }

    /// Connects `platform` end to end; returns the connection JSON. Panics on failure.
    pub async fn connect(&self, platform: &str) -> Value {
        self.connect_as(platform, None).await
    }

    pub async fn connect_as(&self, platform: &str, account: Option<&str>) -> Value {
        let start = self.start(platform).await;
        let cb = self
            .consent(
                start["authorization_url"].as_str().unwrap(),
                "allow",
                account,
            )
            .await;
        let (s, v) = self.callback(&cb).await;
        assert!(s.is_success(), "callback for {platform}: {s} {v}");
        v
    }

    /// The sandbox's call counters.
    pub async fn sandbox_stats(&self) -> Value {
        self.http
            .get(format!("{}/__sandbox/stats", self.sandbox))
            .send()
            .await
            .expect("stats")
            .json()
            .await
            .expect("stats json")
    }

    /// Queues a fault at the sandbox.
    pub async fn fault(&self, spec: Value) {
        let r = self
            .http
            .post(format!("{}/__sandbox/faults", self.sandbox))
            .json(&spec)
            .send()
            .await
            .expect("fault");
        assert!(
            r.status().is_success(),
            "fault not accepted: {}",
            r.status()
        );
    }

    /// Asks the sandbox whether a token is active.
    pub async fn introspect(&self, token: &str) -> Value {
        self.http
            .post(format!("{}/__sandbox/introspect", self.sandbox))
            .json(&json!({"token": token}))
            .send()
            .await
            .expect("introspect")
            .json()
            .await
            .expect("introspect json")
    }

    /// Number of connections in the workspace.
    pub async fn connection_count(&self) -> usize {
        let (s, v) = self.get("/v1/connections").await;
        assert_eq!(s, StatusCode::OK);
        v["data"].as_array().map(Vec::len).unwrap_or(0)
    }

    pub fn stop(&self) {
        let _ = self.stop.send(true);
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.stop();
        // The log-capture proof: nothing this test issued reached a log line.
        if !std::thread::panicking() {
            self.assert_no_secrets_logged();
        }
    }
}

/// The log capture of this test binary: every log line of every test in it, JSON, at TRACE
/// for Switchboard's crates and DEBUG for the libraries (span closes included, with their
/// fields), written to `target/log-capture/<test binary>-<pid>.jsonl`. Installed as the global
/// subscriber by the first [`TestApp`]; the path is printed once.
pub fn log_capture() -> &'static Path {
    static CAPTURE: OnceLock<PathBuf> = OnceLock::new();
    CAPTURE.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/log-capture");
        std::fs::create_dir_all(&dir).expect("log capture directory");
        // Captures of earlier runs are kept a day for inspection, then dropped.
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let old = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > std::time::Duration::from_secs(86_400));
            if old {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        let exe = std::env::current_exe().ok();
        let name = exe
            .as_deref()
            .and_then(Path::file_stem)
            .and_then(|n| n.to_str())
            .unwrap_or("tests");
        let path = dir.join(format!("{name}-{}.jsonl", std::process::id()));
        let file = std::fs::File::create(&path).expect("log capture file");
        let filter = tracing_subscriber::EnvFilter::new(
            "debug,switchboard_server=trace,switchboard_oauth=trace,switchboard_publish=trace,\
             switchboard_store=trace,switchboard_vault=trace,switchboard_core=trace,\
             switchboard_sandbox=trace",
        );
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .with_current_span(true)
            .with_span_list(true)
            .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
            .with_writer(Mutex::new(file))
            .finish();
        if tracing::subscriber::set_global_default(subscriber).is_ok() {
            eprintln!("log capture: {}", path.display());
        }
        path
    })
}

fn capture_len() -> u64 {
    std::fs::metadata(log_capture())
        .map(|m| m.len())
        .unwrap_or(0)
}

/// The capture from byte `from` on.
pub fn read_capture(from: u64) -> String {
    let mut f = std::fs::File::open(log_capture()).expect("open log capture");
    f.seek(std::io::SeekFrom::Start(from)).expect("seek");
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes).expect("read log capture");
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Panics naming each secret found in the capture from byte `from` on (sandbox tokens by
/// shape, `known` literally).
pub fn assert_no_leaks(from: u64, known: &[String]) {
    let text = read_capture(from);
    let leaks = switchboard_sandbox::leaks::find_leaks(&text, known);
    assert!(
        leaks.is_empty(),
        "secrets in the log capture {} (from byte {from}): {leaks:#?}",
        log_capture().display()
    );
}

/// The key material of an `id:base64,...` key list (each key's base64, with and without
/// padding).
pub fn key_material(keys: &str) -> Vec<String> {
    keys.split(',')
        .filter_map(|k| k.split_once(':').map(|(_, b)| b.trim()))
        .flat_map(|b| [b.to_string(), b.trim_end_matches('=').to_string()])
        .collect()
}

pub async fn read(r: reqwest::Response) -> (StatusCode, Value) {
    let s = r.status();
    let text = r.text().await.unwrap_or_default();
    (s, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// A fixed test key (not a real secret): 32 zero-based bytes, base64.
pub const TEST_KEYS: &str = "ktest:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
