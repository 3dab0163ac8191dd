//! `switchboard bench`: measurements quoted as ratios against a baseline taken in the same run
//! (the ratio is what to compare across machines, not the absolute numbers).
//!
//! - `bench token`: `GET /v1/connections/{id}/token` against the trivial `GET /healthz` of the
//!   same server.
//! - `bench refresh`: N connections due at once, all refreshed by the refresh worker, against the
//!   sandbox token endpoint's own refresh capacity.
//!
//! The server, the sandbox and the load generator share the process and the machine, so the
//! load generator's own cost is in both measurements alike.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Args;
use hdrhistogram::Histogram;
use serde_json::{json, Value};

use crate::demo::Stack;

/// What to measure.
#[derive(Debug, clap::Subcommand)]
pub enum BenchCommand {
    /// `GET /v1/connections/{id}/token` against `GET /healthz`.
    Token(BenchArgs),
    /// The refresh worker on N due connections against the sandbox's refresh capacity.
    Refresh(RefreshArgs),
}

/// Options of `switchboard bench refresh`.
#[derive(Debug, Args)]
pub struct RefreshArgs {
    /// Connections due for a refresh at the same instant.
    #[arg(long, default_value_t = 10_000)]
    pub connections: u32,
    /// Database URL (default: SQLite in a temporary directory). Use an empty PostgreSQL
    /// database: the benchmark adds a workspace and its connections.
    #[arg(long)]
    pub database_url: Option<String>,
    /// Refresh calls sent straight to the sandbox to measure its capacity.
    #[arg(long, default_value_t = 3_000)]
    pub baseline_calls: u32,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Options of `switchboard bench token`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Concurrent HTTP connections (each sends its next request when the previous answers).
    #[arg(long, default_value_t = 32)]
    pub connections: usize,
    /// Seconds measured per endpoint (after a one-second warm-up).
    #[arg(long, default_value_t = 5)]
    pub seconds: u64,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// One endpoint's measurement.
#[derive(Debug)]
struct Measurement {
    requests: u64,
    errors: u64,
    rps: f64,
    p50_us: u64,
    p99_us: u64,
}

async fn load(
    url: &str,
    auth: Option<&str>,
    connections: usize,
    duration: Duration,
) -> anyhow::Result<Measurement> {
    let deadline = Instant::now() + duration;
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(1)
            .build()?;
        let url = url.to_string();
        let auth = auth.map(|a| format!("Bearer {a}"));
        tasks.push(tokio::spawn(async move {
            let mut hist =
                Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("static bounds");
            let mut errors = 0u64;
            while Instant::now() < deadline {
                let started = Instant::now();
                let mut req = client.get(&url);
                if let Some(a) = &auth {
                    req = req.header("Authorization", a);
                }
                match req.send().await {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                    }
                    _ => errors += 1,
                }
                let _ = hist.record(started.elapsed().as_micros() as u64);
            }
            (hist, errors)
        }));
    }
    let mut total = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let mut errors = 0;
    for t in tasks {
        let (h, e) = t.await?;
        total.add(h)?;
        errors += e;
    }
    Ok(Measurement {
        requests: total.len(),
        errors,
        rps: total.len() as f64 / duration.as_secs_f64(),
        p50_us: total.value_at_quantile(0.50),
        p99_us: total.value_at_quantile(0.99),
    })
}

pub async fn run(cmd: BenchCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        BenchCommand::Token(a) => token(a).await,
        BenchCommand::Refresh(a) => refresh(a).await,
    }
}

async fn token(args: BenchArgs) -> anyhow::Result<ExitCode> {
    let stack = Stack::start(None, None, None, false).await?;
    let landing = stack.connect("twitter", "bench-user").await?;
    anyhow::ensure!(
        landing.status.is_success(),
        "could not connect the benchmark account"
    );
    let list: Value = stack
        .api()?
        .get(format!("{}/v1/connections", stack.api_url))
        .send()
        .await?
        .json()
        .await?;
    let id = list["data"][0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let health_url = format!("{}/healthz", stack.api_url);
    let token_url = format!("{}/v1/connections/{id}/token", stack.api_url);
    let d = Duration::from_secs(args.seconds.max(1));
    // Warm-up: connections, caches, SQLite pages.
    load(
        &token_url,
        Some(&stack.api_key),
        args.connections,
        Duration::from_secs(1),
    )
    .await?;
    load(&health_url, None, args.connections, Duration::from_secs(1)).await?;
    let base = load(&health_url, None, args.connections, d).await?;
    let token = load(&token_url, Some(&stack.api_key), args.connections, d).await?;
    stack.stop();
    let ratio = token.rps / base.rps;
    let report = json!({
        "connections": args.connections,
        "seconds_per_endpoint": d.as_secs(),
        "database": stack.state.store().backend(),
        "healthz": {"requests": base.requests, "errors": base.errors, "rps": base.rps.round(), "p50_us": base.p50_us, "p99_us": base.p99_us},
        "token": {"requests": token.requests, "errors": token.errors, "rps": token.rps.round(), "p50_us": token.p50_us, "p99_us": token.p99_us},
        "ratio_rps_token_over_healthz": (ratio * 1000.0).round() / 1000.0,
    });
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "{} connections, {} s per endpoint, {} database",
            args.connections,
            d.as_secs(),
            stack.state.store().backend()
        );
        println!(
            "{:<32} {:>10} {:>10} {:>10} {:>7}",
            "endpoint", "req/s", "p50 µs", "p99 µs", "errors"
        );
        println!(
            "{:<32} {:>10.0} {:>10} {:>10} {:>7}",
            "GET /healthz (baseline)", base.rps, base.p50_us, base.p99_us, base.errors
        );
        println!(
            "{:<32} {:>10.0} {:>10} {:>10} {:>7}",
            "GET /v1/connections/{id}/token", token.rps, token.p50_us, token.p99_us, token.errors
        );
        println!("ratio token/healthz (req/s): {ratio:.3}");
    }
    Ok(if token.errors == 0 && base.errors == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Grants minted at the sandbox: `(access_token, refresh_token)`.
async fn mint(
    stack: &Stack,
    platform: &str,
    count: u32,
    scopes: &[&str],
) -> anyhow::Result<Vec<(String, String)>> {
    let v: Value = reqwest::Client::new()
        .post(format!("{}/__sandbox/grants", stack.sandbox_url))
        .json(&json!({"platform": platform, "count": count, "scopes": scopes}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok(v["grants"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|g| {
                    (
                        g["access_token"].as_str().unwrap_or_default().to_string(),
                        g["refresh_token"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default())
}

async fn sandbox_refreshes(stack: &Stack) -> anyhow::Result<(u64, u64)> {
    let v: Value = reqwest::get(format!("{}/__sandbox/stats", stack.sandbox_url))
        .await?
        .json()
        .await?;
    let p = &v["platforms"]["twitter"];
    Ok((
        p["refreshes"].as_u64().unwrap_or(0),
        p["refresh_failures"].as_u64().unwrap_or(0),
    ))
}

async fn refresh(args: RefreshArgs) -> anyhow::Result<ExitCode> {
    const SCOPES: [&str; 4] = ["tweet.read", "tweet.write", "users.read", "offline.access"];
    let stack = Stack::start_on(None, None, None, false, args.database_url.clone()).await?;
    let state = &stack.state;

    // Baseline: the sandbox's own refresh capacity, 32 clients sending refresh_token grants.
    let grants = mint(&stack, "twitter", args.baseline_calls, &SCOPES).await?;
    let token_url = format!("{}/api.x.com/2/oauth2/token", stack.sandbox_url);
    let queue = std::sync::Arc::new(tokio::sync::Mutex::new(
        grants.into_iter().map(|g| g.1).collect::<Vec<_>>(),
    ));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let queue = queue.clone();
        let url = token_url.clone();
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut ok = 0u64;
            loop {
                let Some(rt) = queue.lock().await.pop() else {
                    break;
                };
                let r = client
                    .post(&url)
                    .basic_auth("sandbox-twitter-client", Some("sandbox-twitter-secret"))
                    .form(&[
                        ("grant_type", "refresh_token"),
                        ("refresh_token", rt.as_str()),
                    ])
                    .send()
                    .await;
                if r.is_ok_and(|r| r.status().is_success()) {
                    ok += 1;
                }
            }
            ok
        }));
    }
    let mut baseline_ok = 0;
    for t in tasks {
        baseline_ok += t.await?;
    }
    let baseline_rps = baseline_ok as f64 / started.elapsed().as_secs_f64();

    // N connections whose tokens expire in 10 minutes: inside X's 30-minute buffer.
    let seed_started = Instant::now();
    let grants = mint(&stack, "twitter", args.connections, &SCOPES).await?;
    let ws = state.store().create_workspace("bench", state.now()).await?;
    let now = state.now();
    for (i, (access, refresh)) in grants.iter().enumerate() {
        let id = uuid_like(i);
        let seal =
            |field: &str, v: &str| state.keyring().seal(&format!("connection:{id}:{field}"), v);
        let conn = switchboard_store::Connection {
            id: id.clone(),
            workspace_id: ws.id.clone(),
            platform: "twitter".into(),
            owner: format!("owner-{i}"),
            account_id: format!("bench-{i}"),
            account_name: None,
            username: None,
            avatar_url: None,
            scopes: SCOPES.iter().map(|s| s.to_string()).collect(),
            status: "healthy".into(),
            access_token_sealed: seal("access_token", access),
            refresh_token_sealed: Some(seal("refresh_token", refresh)),
            token_type: "Bearer".into(),
            expires_at: Some(now + chrono::Duration::minutes(10)),
            refresh_expires_at: None,
            token_obtained_at: now - chrono::Duration::minutes(110),
            last_refreshed_at: None,
            last_error: None,
            metadata: json!({}),
            version: 0,
            created_at: now,
            updated_at: now,
        };
        state.store().upsert_connection(&conn).await?;
    }
    let seed_secs = seed_started.elapsed().as_secs_f64();

    let (before, failures_before) = sandbox_refreshes(&stack).await?;
    let started = Instant::now();
    let mut handled = 0;
    loop {
        let n = switchboard_server::workers::refresh::tick(state).await?;
        if n == 0 {
            break;
        }
        handled += n;
    }
    let secs = started.elapsed().as_secs_f64();
    let (after, failures_after) = sandbox_refreshes(&stack).await?;
    stack.stop();
    let refreshed = after - before;
    let rps = refreshed as f64 / secs;
    let once_each = refreshed == u64::from(args.connections) && failures_after == failures_before;
    let report = json!({
        "database": state.store().backend(),
        "connections": args.connections,
        "seed_seconds": (seed_secs * 100.0).round() / 100.0,
        "worker": {"handled": handled, "seconds": (secs * 100.0).round() / 100.0, "refreshes_at_sandbox": refreshed, "refresh_failures": failures_after - failures_before, "refreshes_per_sec": rps.round()},
        "sandbox_baseline": {"calls": baseline_ok, "refreshes_per_sec": baseline_rps.round()},
        "ratio_worker_over_sandbox": ((rps / baseline_rps) * 1000.0).round() / 1000.0,
        "each_refreshed_exactly_once": once_each,
    });
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "{} connections due at once, {} database",
            args.connections,
            state.store().backend()
        );
        println!("sandbox token endpoint alone: {baseline_rps:.0} refreshes/s ({baseline_ok} calls, 32 clients)");
        println!("refresh worker:               {rps:.0} refreshes/s ({refreshed} refreshes in {secs:.2} s)");
        println!("ratio worker/sandbox: {:.3}", rps / baseline_rps);
        println!("each connection refreshed exactly once: {once_each}");
    }
    Ok(if once_each {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// A stable UUID-shaped id for seeded connection `i`.
fn uuid_like(i: usize) -> String {
    format!("00000000-0000-7000-8000-{i:012}")
}
