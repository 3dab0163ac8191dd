//! `switchboard demo`: the main job end to end on one machine. Starts the sandbox and the server
//! on loopback with an embedded SQLite database, creates a workspace, connects one account on each
//! of the seven platforms by driving the real redirect flow (HTTP, cookies, consent page), prints
//! the connections, and keeps serving until interrupted (`--exit` stops after the table).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use secrecy::SecretString;
use serde_json::Value;
use switchboard_core::catalog::BUILTIN_IDS;
use switchboard_core::SystemClock;
use switchboard_server::{AppState, Config};
use tokio::net::TcpListener;

use crate::browser::Browser;

/// A running sandbox and server pair on loopback, shared by the demo and the benchmark.
pub struct Stack {
    pub api_url: String,
    pub sandbox_url: String,
    pub api_key: String,
    pub state: AppState,
    stop: tokio::sync::watch::Sender<bool>,
    _tmp: Option<tempfile::TempDir>,
}

impl Stack {
    /// Starts the sandbox and the server. The database lives in `data_dir` (a temporary
    /// directory when `None`), with an encryption key kept next to it.
    pub async fn start(
        listen: Option<SocketAddr>,
        sandbox_listen: Option<SocketAddr>,
        data_dir: Option<PathBuf>,
        workers: bool,
    ) -> anyhow::Result<Stack> {
        Self::start_on(listen, sandbox_listen, data_dir, workers, None).await
    }

    /// As [`Stack::start`], on the given database URL instead of SQLite in `data_dir`.
    pub async fn start_on(
        listen: Option<SocketAddr>,
        sandbox_listen: Option<SocketAddr>,
        data_dir: Option<PathBuf>,
        workers: bool,
        database_url: Option<String>,
    ) -> anyhow::Result<Stack> {
        let (tmp, dir) = match data_dir {
            Some(d) => (None, d),
            None => {
                let t = tempfile::tempdir()?;
                let p = t.path().to_path_buf();
                (Some(t), p)
            }
        };
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let key_file = dir.join("demo-keys");
        if !key_file.exists() {
            std::fs::write(&key_file, switchboard_vault::generate_key_spec())?;
        }
        let keys = std::fs::read_to_string(&key_file)?;

        let (stop, stop_rx) = tokio::sync::watch::channel(false);
        let wait = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|s| *s).await;
        };

        let sandbox =
            switchboard_sandbox::Sandbox::new(switchboard_sandbox::SandboxConfig::default());
        let sb_listener =
            TcpListener::bind(sandbox_listen.unwrap_or(([127, 0, 0, 1], 0).into())).await?;
        let sandbox_url = format!("http://{}", sb_listener.local_addr()?);
        tokio::spawn(sandbox.serve(sb_listener, wait(stop_rx.clone())));

        let listener = TcpListener::bind(listen.unwrap_or(([127, 0, 0, 1], 0).into())).await?;
        let addr = listener.local_addr()?;
        let api_url = format!("http://{addr}");
        let config = Config {
            listen: addr,
            public_url: api_url.clone(),
            database_url: database_url
                .unwrap_or_else(|| format!("sqlite://{}", dir.join("switchboard.db").display())),
            keys: Some(SecretString::from(keys.trim().to_string())),
            sandbox_url: Some(sandbox_url.clone()),
            workers,
            ..Config::default()
        };
        let state = AppState::build(config, Arc::new(SystemClock)).await?;
        let (_, api_key) = switchboard_server::create_workspace(
            state.store().as_ref(),
            "Demo",
            chrono::Utc::now(),
        )
        .await?;
        tokio::spawn(switchboard_server::serve(
            listener,
            state.clone(),
            wait(stop_rx),
        ));
        Ok(Stack {
            api_url,
            sandbox_url,
            api_key,
            state,
            stop,
            _tmp: tmp,
        })
    }

    /// A client for the API with the workspace key.
    pub fn api(&self) -> anyhow::Result<reqwest::Client> {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(
            reqwest::header::AUTHORIZATION,
            format!("Bearer {}", self.api_key).parse()?,
        );
        Ok(reqwest::Client::builder()
            .default_headers(headers)
            .build()?)
    }

    /// Connects `platform` for `owner` through the consent page; returns the landing page.
    pub async fn connect(
        &self,
        platform: &str,
        owner: &str,
    ) -> anyhow::Result<crate::browser::Landing> {
        let resp = self
            .api()?
            .post(format!("{}/v1/connect/{platform}", self.api_url))
            .json(&serde_json::json!({ "owner": owner }))
            .send()
            .await?;
        let status = resp.status();
        let body: Value = resp.json().await?;
        if !status.is_success() {
            anyhow::bail!("connect {platform}: {status} {body}");
        }
        let url = body["authorization_url"]
            .as_str()
            .context("no authorization_url in the answer")?;
        Browser::new()?.authorize(url).await
    }

    /// Chooses every Page of the workspace's Facebook connection through the API, as a person
    /// finishing the Facebook flow would (`GET` then `POST /v1/connections/{id}/pages`).
    /// Returns how many Pages were chosen.
    pub async fn select_all_pages(&self) -> anyhow::Result<usize> {
        let api = self.api()?;
        let list: Value = api
            .get(format!("{}/v1/connections?platform=facebook", self.api_url))
            .send()
            .await?
            .json()
            .await?;
        let id = list["data"][0]["id"]
            .as_str()
            .context("no Facebook connection")?
            .to_string();
        let pages_url = format!("{}/v1/connections/{id}/pages", self.api_url);
        let pages: Value = api.get(&pages_url).send().await?.json().await?;
        let ids: Vec<Value> = pages["data"]
            .as_array()
            .map(|a| a.iter().map(|p| p["id"].clone()).collect())
            .unwrap_or_default();
        let resp = api
            .post(&pages_url)
            .json(&serde_json::json!({ "page_ids": ids }))
            .send()
            .await?;
        let status = resp.status();
        if !status.is_success() {
            let body: Value = resp.json().await.unwrap_or_default();
            anyhow::bail!("choosing Pages: {status} {}", body["detail"]);
        }
        Ok(ids.len())
    }

    /// Stops both servers.
    pub fn stop(&self) {
        let _ = self.stop.send(true);
    }
}

pub async fn run(
    exit: bool,
    listen: Option<SocketAddr>,
    sandbox_listen: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    let stack = Stack::start(listen, sandbox_listen, data_dir, true).await?;
    println!("Switchboard demo");
    println!("  API      {}", stack.api_url);
    println!("  sandbox  {}", stack.sandbox_url);
    println!();
    println!("Connecting one account on each platform through its consent page...");
    let mut failures = Vec::new();
    for platform in BUILTIN_IDS {
        match stack.connect(platform, "demo-user").await {
            Ok(l) if l.status.is_success() => println!("  ✓ {platform}"),
            Ok(l) => {
                let reason = first_line_of_detail(&l.body);
                println!("  ✗ {platform}: {} {reason}", l.status);
                failures.push(platform);
            }
            Err(e) => {
                println!("  ✗ {platform}: {e:#}");
                failures.push(platform);
            }
        }
    }
    // Facebook authorizes a person; the Pages to publish to are chosen next, through the API.
    if BUILTIN_IDS.contains(&"facebook") && !failures.contains(&"facebook") {
        match stack.select_all_pages().await {
            Ok(n) => println!("  ✓ facebook: {n} Page(s) chosen"),
            Err(e) => {
                println!("  ✗ facebook Pages: {e:#}");
                failures.push("facebook");
            }
        }
    }
    let list: Value = stack
        .api()?
        .get(format!("{}/v1/connections", stack.api_url))
        .send()
        .await?
        .json()
        .await?;
    let rows = list["data"].as_array().cloned().unwrap_or_default();
    let platforms: Value = stack
        .api()?
        .get(format!("{}/v1/platforms", stack.api_url))
        .send()
        .await?
        .json()
        .await?;
    let renewal = |platform: &str, has_refresh: bool| -> &'static str {
        let kind = platforms["data"]
            .as_array()
            .and_then(|a| a.iter().find(|p| p["id"] == platform))
            .and_then(|p| p["refresh"].as_str())
            .unwrap_or("none");
        match (kind, has_refresh) {
            ("exchange", _) => "renewed by token exchange",
            ("rotating", true) => "rotating refresh token",
            (_, true) => "refresh token",
            _ => "reconnect before expiry",
        }
    };
    println!();
    println!(
        "{:<10} {:<24} {:<14} {:<27} REFRESH",
        "PLATFORM", "ACCOUNT", "STATUS", "ACCESS TOKEN EXPIRES"
    );
    for c in &rows {
        let account = c["account"]["username"]
            .as_str()
            .map(|u| format!("@{u}"))
            .or_else(|| c["account"]["name"].as_str().map(str::to_string))
            .unwrap_or_default();
        println!(
            "{:<10} {:<24} {:<14} {:<27} {}",
            c["platform"].as_str().unwrap_or_default(),
            truncate(&account, 24),
            c["status"].as_str().unwrap_or_default(),
            c["expires_at"].as_str().unwrap_or("never"),
            renewal(
                c["platform"].as_str().unwrap_or_default(),
                c["has_refresh_token"].as_bool().unwrap_or(false)
            ),
        );
    }
    let connected = rows
        .iter()
        .filter(|c| {
            c["status"]
                .as_str()
                .is_some_and(|s| s == "healthy" || s == "expiring_soon")
        })
        .count();
    println!();
    println!("{connected} of {} platforms connected.", BUILTIN_IDS.len());
    let all = failures.is_empty() && connected == BUILTIN_IDS.len();
    if exit {
        stack.stop();
        return Ok(if all {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        });
    }
    println!();
    println!("Try the API:");
    println!(
        "  curl -H 'Authorization: Bearer {}' {}/v1/connections",
        stack.api_key, stack.api_url
    );
    println!("Press Ctrl-C to stop.");
    crate::shutdown_signal().await;
    stack.stop();
    Ok(if all {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        s.chars().take(n - 1).collect::<String>() + "…"
    }
}

fn first_line_of_detail(html: &str) -> String {
    html.split("<p>")
        .nth(2)
        .and_then(|p| p.split("</p>").next())
        .unwrap_or_default()
        .to_string()
}
