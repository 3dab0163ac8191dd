//! Test harness: a real sandbox and a real server on 127.0.0.1:0, sharing a movable clock, with
//! a fresh database (SQLite in a temp dir, or a brand-new PostgreSQL database), a workspace and
//! its API key, and typed helpers to drive the connect flow over HTTP.

#![allow(dead_code)]

use std::sync::Arc;

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
    _tmp: tempfile::TempDir,
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(Setup::default()).await
    }

    pub async fn spawn_with(setup: Setup) -> TestApp {
        let tmp = tempfile::tempdir().expect("tempdir");
        let (stop, stop_rx) = tokio::sync::watch::channel(false);
        let wait = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|s| *s).await;
        };
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
            _tmp: tmp,
        }
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
    }
}

pub async fn read(r: reqwest::Response) -> (StatusCode, Value) {
    let s = r.status();
    let text = r.text().await.unwrap_or_default();
    (s, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// A fixed test key (not a real secret): 32 zero-based bytes, base64.
pub const TEST_KEYS: &str = "ktest:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
