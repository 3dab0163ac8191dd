//! `switchboard bench`: throughput and latency of `GET /v1/connections/{id}/token` against the
//! trivial `GET /healthz` of the same server, measured in the same run (the ratio is what to
//! compare across machines, not the absolute numbers).
//!
//! The server, the sandbox and the load generator share the process and the machine, so the
//! load generator's own cost is in both measurements alike.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Args;
use hdrhistogram::Histogram;
use serde_json::{json, Value};

use crate::demo::Stack;

/// Options of `switchboard bench`.
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

pub async fn run(args: BenchArgs) -> anyhow::Result<ExitCode> {
    let stack = Stack::start(None, None, None).await?;
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
