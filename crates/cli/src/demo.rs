//! `switchboard demo`: the main job end to end on one machine. Starts the sandbox and the server
//! (with its workers, the publishing dispatcher among them) on loopback with an embedded SQLite
//! database, creates a workspace, connects one account on each of the seven platforms by driving
//! the real redirect flow (HTTP, cookies, consent page), chooses the Facebook Pages, prints the
//! connections, schedules one post per connection with the media its platform requires, waits
//! (at most [`PUBLISH_WAIT`]) for the dispatcher to finish every target, prints each target's
//! outcome and link, checks at the sandbox that each was published exactly once, runs the
//! analytics sync (`POST /v1/sync`) and prints what it read, and keeps serving until
//! interrupted (`--exit` stops there: exit status 0 only when every platform was
//! connected and published exactly once).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use secrecy::SecretString;
use serde_json::{json, Value};
use switchboard_core::catalog::BUILTIN_IDS;
use switchboard_core::SystemClock;
use switchboard_server::{AppState, Config};
use tokio::net::TcpListener;

use crate::browser::Browser;

/// How long the demo waits for the dispatcher to finish every target (the slowest sandbox step,
/// TikTok's processing, takes 10 s).
const PUBLISH_WAIT: Duration = Duration::from_secs(60);
/// How long the demo waits for the analytics sync job to end.
const SYNC_WAIT: Duration = Duration::from_secs(30);
/// Target statuses the dispatcher does not leave by itself.
const FINAL_STATUSES: [&str; 4] = ["published", "failed", "unknown", "cancelled"];
/// Size of the demo's sample image, bytes.
const IMAGE_BYTES: u64 = 200_000;
/// Size of the demo's sample video, bytes: small, so that TikTok takes it as one chunk (under
/// 5 MiB, PLATFORMS.md §5) and YouTube's resumable upload is a few 256 KiB chunks.
const VIDEO_BYTES: u64 = 1_048_576;

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
            // The demo and the benchmarks send tens of thousands of requests a second from one
            // workspace and address: limits far above that, so the limiter runs (its cost is in
            // `bench token`) without refusing. SWITCHBOARD_RATE_LIMITS_ENABLED=0 measures without.
            rate_limits: switchboard_server::config::RateLimitConfig {
                enabled: std::env::var("SWITCHBOARD_RATE_LIMITS_ENABLED").as_deref() != Ok("0"),
                api_per_workspace: 1_000_000_000,
                api_per_address: 1_000_000_000,
                connect_per_workspace: 1_000_000_000,
                connect_per_address: 1_000_000_000,
                callback_per_address: 1_000_000_000,
                ..Default::default()
            },
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

    /// `GET {api_url}{path}` with the workspace key; the JSON body of a 2xx answer.
    ///
    /// # Errors
    /// Transport failures, and any other status (with the problem's `detail`).
    pub async fn get(&self, path: &str) -> anyhow::Result<Value> {
        let resp = self
            .api()?
            .get(format!("{}{path}", self.api_url))
            .send()
            .await?;
        let status = resp.status();
        let body: Value = resp.json().await.unwrap_or_default();
        if !status.is_success() {
            anyhow::bail!("GET {path}: {status} {}", body["detail"]);
        }
        Ok(body)
    }

    /// `GET {sandbox_url}{path}` (the sandbox's control endpoints); the JSON body.
    pub async fn sandbox_get(&self, path: &str) -> anyhow::Result<Value> {
        let resp = reqwest::get(format!("{}{path}", self.sandbox_url)).await?;
        let status = resp.status();
        if !status.is_success() {
            anyhow::bail!("sandbox GET {path}: {status}");
        }
        Ok(resp.json().await?)
    }

    /// Stops both servers.
    pub fn stop(&self) {
        let _ = self.stop.send(true);
    }
}

/// Runs the demo; see the module documentation for the stages.
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
    println!(
        "  dashboard {}/  (sign in with the workspace API key {})",
        stack.api_url, stack.api_key
    );
    println!();
    let failures = connect_all(&stack).await;
    let connections = print_connections(&stack).await?;
    let connected = connections
        .iter()
        .filter(|c| {
            c["status"]
                .as_str()
                .is_some_and(|s| s == "healthy" || s == "expiring_soon")
        })
        .count();
    println!();
    println!("{connected} of {} platforms connected.", BUILTIN_IDS.len());

    println!();
    println!("Scheduling one post per connection, due now...");
    let post_ids = schedule_posts(&stack, &connections).await;
    let targets = wait_for_targets(&stack, &post_ids).await?;
    print_outcomes(&targets);
    let verdict = verify_published_once(&stack, &targets).await;
    println!();
    match &verdict {
        Ok(n) => println!("Published exactly once at the sandbox: all {n} platforms."),
        Err(e) => println!("Not every platform published exactly once: {e:#}"),
    }
    if let Err(e) = sync_analytics(&stack).await {
        println!("  ✗ sync: {e:#}");
    }

    let all = failures.is_empty() && connected == BUILTIN_IDS.len() && verdict.is_ok();
    let code = if all {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    };
    if exit {
        stack.stop();
        return Ok(code);
    }
    println!();
    println!("Open the dashboard: {}/", stack.api_url);
    println!("  sign in with the workspace API key {}", stack.api_key);
    println!("Try the API:");
    println!(
        "  curl -H 'Authorization: Bearer {}' {}/v1/posts",
        stack.api_key, stack.api_url
    );
    println!("Press Ctrl-C to stop.");
    crate::shutdown_signal().await;
    stack.stop();
    Ok(code)
}

/// Connects one account per built-in platform through its consent page, then chooses the
/// Facebook Pages. Prints a line per platform; returns the platforms that failed.
async fn connect_all(stack: &Stack) -> Vec<&'static str> {
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
    failures
}

/// Prints the workspace's connections as a table; returns them (`GET /v1/connections` items).
async fn print_connections(stack: &Stack) -> anyhow::Result<Vec<Value>> {
    let list = stack.get("/v1/connections").await?;
    let rows = list["data"].as_array().cloned().unwrap_or_default();
    let platforms = stack.get("/v1/platforms").await?;
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
    Ok(rows)
}

/// Creates one post per connection (`POST /v1/posts`, due now, campaign `demo`) with the content
/// its platform requires; prints a line per platform. Returns the ids of the posts created.
async fn schedule_posts(stack: &Stack, connections: &[Value]) -> Vec<String> {
    let mut ids = Vec::new();
    for c in connections {
        let platform = c["platform"].as_str().unwrap_or_default();
        let Some(connection_id) = c["id"].as_str() else {
            continue;
        };
        let created = match demo_content(stack, platform, connection_id).await {
            Ok(content) => create_post(stack, connection_id, content).await,
            Err(e) => Err(e),
        };
        match created {
            Ok(post) => {
                let n = post["targets"].as_array().map_or(0, Vec::len);
                println!("  ✓ {platform}: post {} ({n} target(s))", post["id"]);
                if let Some(id) = post["id"].as_str() {
                    ids.push(id.to_string());
                }
            }
            Err(e) => println!("  ✗ {platform}: {e:#}"),
        }
    }
    ids
}

/// The demo post's `content` for a connection on `platform`: text and hashtags, a JPEG image or
/// an MP4 video from the sandbox's media endpoint, and the overrides the platform needs
/// (PLATFORMS.md: Instagram needs an image or video, TikTok and YouTube a video, YouTube a
/// title, Pinterest a board, read from the connected account's boards).
async fn demo_content(stack: &Stack, platform: &str, connection_id: &str) -> anyhow::Result<Value> {
    let image = json!({
        "url": format!("{}/__sandbox/media/demo-{platform}.jpg?bytes={IMAGE_BYTES}", stack.sandbox_url),
        "kind": "image",
        "mime_type": "image/jpeg",
        "size_bytes": IMAGE_BYTES,
        "alt_text": "The Switchboard demo's sample picture",
    });
    let video = json!({
        "url": format!("{}/__sandbox/media/demo-{platform}.mp4?bytes={VIDEO_BYTES}", stack.sandbox_url),
        "kind": "video",
        "mime_type": "video/mp4",
        "size_bytes": VIDEO_BYTES,
    });
    let (media, overrides) = match platform {
        "tiktok" => (
            video,
            json!({"tiktok": {"privacy_level": "SELF_ONLY", "title": "Switchboard demo"}}),
        ),
        "youtube" => (
            video,
            json!({"youtube": {"title": "Switchboard demo", "privacy_status": "private"}}),
        ),
        "pinterest" => {
            let board = first_pinterest_board(stack, connection_id).await?;
            (
                image,
                json!({"pinterest": {"board_id": board, "title": "Switchboard demo"}}),
            )
        }
        _ => (image, json!({})),
    };
    Ok(json!({
        "text": format!("Hello from the Switchboard demo on {platform}."),
        "hashtags": ["switchboard"],
        "media": [media],
        "overrides": overrides,
    }))
}

/// The id of the first board of the Pinterest account behind `connection_id`, read from
/// Pinterest (the sandbox's `GET /v5/boards`) with the connection's token.
///
/// # Errors
/// The token or the boards cannot be read, or the account has no board.
async fn first_pinterest_board(stack: &Stack, connection_id: &str) -> anyhow::Result<String> {
    let token = stack
        .get(&format!("/v1/connections/{connection_id}/token"))
        .await?;
    let access_token = token["access_token"]
        .as_str()
        .context("no access_token for the Pinterest connection")?;
    let resp = reqwest::Client::new()
        .get(format!("{}/api.pinterest.com/v5/boards", stack.sandbox_url))
        .bearer_auth(access_token)
        .send()
        .await?;
    let status = resp.status();
    let boards: Value = resp.json().await.unwrap_or_default();
    if !status.is_success() {
        anyhow::bail!("reading Pinterest boards: {status} {}", boards["message"]);
    }
    boards["items"][0]["id"]
        .as_str()
        .map(str::to_string)
        .context("the Pinterest account has no board to pin to")
}

/// `POST /v1/posts` of `content` to one connection, due now; the created post.
async fn create_post(stack: &Stack, connection_id: &str, content: Value) -> anyhow::Result<Value> {
    let resp = stack
        .api()?
        .post(format!("{}/v1/posts", stack.api_url))
        .json(&json!({
            "content": content,
            "connection_ids": [connection_id],
            "publish_at": "now",
            "campaign_id": "demo",
        }))
        .send()
        .await?;
    let status = resp.status();
    let body: Value = resp.json().await.unwrap_or_default();
    if !status.is_success() {
        let violations = body["violations"].to_string();
        anyhow::bail!("{status} {} {violations}", body["detail"]);
    }
    Ok(body)
}

/// Polls `GET /v1/posts/{id}` every half second until every target of every post is in a final
/// status or [`PUBLISH_WAIT`] has passed; returns the targets as last read (in post order).
async fn wait_for_targets(stack: &Stack, post_ids: &[String]) -> anyhow::Result<Vec<Value>> {
    println!(
        "Waiting for the dispatcher (at most {} s)...",
        PUBLISH_WAIT.as_secs()
    );
    let started = tokio::time::Instant::now();
    loop {
        let mut targets = Vec::new();
        for id in post_ids {
            let post = stack.get(&format!("/v1/posts/{id}")).await?;
            targets.extend(post["targets"].as_array().cloned().unwrap_or_default());
        }
        let done = targets
            .iter()
            .all(|t| FINAL_STATUSES.contains(&t["status"].as_str().unwrap_or_default()));
        if done || started.elapsed() >= PUBLISH_WAIT {
            println!("  after {:.1} s", started.elapsed().as_secs_f64());
            return Ok(targets);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Prints one row per target: platform, status, and the link, or for a target that was not
/// published the cause from its diagnosis.
fn print_outcomes(targets: &[Value]) {
    println!();
    println!("{:<10} {:<10} LINK", "PLATFORM", "OUTCOME");
    for t in targets {
        let status = t["status"].as_str().unwrap_or_default();
        let link = match status {
            "published" => t["url"].as_str().unwrap_or("(no link)").to_string(),
            _ => t["diagnosis"]["cause"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| {
                    if FINAL_STATUSES.contains(&status) {
                        String::new()
                    } else {
                        format!("(not finished after {} s)", PUBLISH_WAIT.as_secs())
                    }
                }),
        };
        println!(
            "{:<10} {:<10} {link}",
            t["platform"].as_str().unwrap_or_default(),
            status
        );
    }
}

/// Checks that every built-in platform has targets, all `published`, and that the sandbox saw
/// each published exactly once: for each platform, `GET /__sandbox/stats` counts one publication
/// per account across as many accounts as there are targets (a Facebook Page is an account),
/// and `GET /__sandbox/published` lists that many items. Returns how many platforms
/// passed.
///
/// # Errors
/// The first platform that does not pass, and why.
async fn verify_published_once(stack: &Stack, targets: &[Value]) -> anyhow::Result<usize> {
    let stats = stack.sandbox_get("/__sandbox/stats").await?;
    let items = stack.sandbox_get("/__sandbox/published").await?;
    let items = items["items"].as_array().cloned().unwrap_or_default();
    for platform in BUILTIN_IDS {
        let mine: Vec<&Value> = targets
            .iter()
            .filter(|t| t["platform"] == *platform)
            .collect();
        if mine.is_empty() {
            anyhow::bail!("{platform}: no target");
        }
        if let Some(t) = mine.iter().find(|t| t["status"] != "published") {
            anyhow::bail!("{platform}: a target is {}", t["status"]);
        }
        let by_account = stats["platforms"][platform]["published_by_account"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        if let Some((account, n)) = by_account.iter().find(|(_, n)| n.as_u64() != Some(1)) {
            anyhow::bail!("{platform}: account {account} published {n} times");
        }
        if by_account.len() != mine.len() {
            anyhow::bail!(
                "{platform}: {} target(s) published, the sandbox counts {} publication(s)",
                mine.len(),
                by_account.len()
            );
        }
        let published = items.iter().filter(|i| i["platform"] == *platform).count();
        if published != mine.len() {
            anyhow::bail!(
                "{platform}: {} target(s) published, the sandbox lists {} item(s)",
                mine.len(),
                published
            );
        }
    }
    Ok(BUILTIN_IDS.len())
}

/// Runs the analytics sync now (`POST /v1/sync`) and polls `GET /v1/sync/jobs/{id}` every half
/// second until the job ends or [`SYNC_WAIT`] has passed; prints the job's outcome, the metric
/// totals it read, and each platform's sync status (`GET /v1/sync/status`). Returns whether the
/// job ended `succeeded`.
///
/// # Errors
/// API failures.
async fn sync_analytics(stack: &Stack) -> anyhow::Result<bool> {
    println!();
    println!("Syncing analytics (at most {} s)...", SYNC_WAIT.as_secs());
    let resp = stack
        .api()?
        .post(format!("{}/v1/sync", stack.api_url))
        .send()
        .await?;
    let status = resp.status();
    let queued: Value = resp.json().await.unwrap_or_default();
    if !status.is_success() {
        anyhow::bail!("POST /v1/sync: {status} {}", queued["detail"]);
    }
    let id = queued["id"].as_str().context("no job id")?.to_string();
    let started = tokio::time::Instant::now();
    let job = loop {
        let job = stack.get(&format!("/v1/sync/jobs/{id}")).await?;
        if !job["finished_at"].is_null() || started.elapsed() >= SYNC_WAIT {
            break job;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    println!(
        "  job {}: {} ({} of {} targets read) after {:.1} s",
        id,
        job["status"].as_str().unwrap_or_default(),
        job["steps_done"],
        job["steps_total"],
        started.elapsed().as_secs_f64()
    );
    let totals: Vec<String> = job["totals"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(metric, n)| format!("{metric} {n}"))
        .collect();
    println!("  metrics read, summed: {}", totals.join(", "));
    let status = stack.get("/v1/sync/status").await?;
    println!();
    println!("{:<10} {:<10} MESSAGE", "PLATFORM", "SYNC");
    for p in status["platforms"].as_array().into_iter().flatten() {
        println!(
            "{:<10} {:<10} {}",
            p["platform"].as_str().unwrap_or_default(),
            p["status"].as_str().unwrap_or_default(),
            p["message"].as_str().unwrap_or_default()
        );
    }
    Ok(job["status"] == "succeeded")
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
