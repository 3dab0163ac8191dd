//! `switchboard bench`: measurements quoted as ratios against a baseline taken in the same run
//! (the ratio is what to compare across machines, not the absolute numbers).
//!
//! - `bench token`: `GET /v1/connections/{id}/token` against the trivial `GET /healthz` of the
//!   same server.
//! - `bench refresh`: N connections due at once, all refreshed by the refresh worker, against the
//!   sandbox token endpoint's own refresh capacity.
//! - `bench publish`: N post targets due at the same instant, all published by the publishing
//!   dispatcher, against the sandbox publish endpoint's own capacity.
//!
//! The server, the sandbox and the load generator share the process and the machine, so the
//! load generator's own cost is in both measurements alike.

use std::collections::HashMap;
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
    /// The publishing dispatcher on N targets due at once against the sandbox's publish
    /// capacity.
    Publish(PublishArgs),
}

/// Options of `switchboard bench publish`.
#[derive(Debug, Args)]
pub struct PublishArgs {
    /// Post targets (one text post each) due at the same instant.
    #[arg(long, default_value_t = 10_000)]
    pub targets: u32,
    /// Workspaces the targets are spread over; each holds one connection per sandbox LinkedIn
    /// member (two), so the targets are spread over twice as many connections.
    #[arg(long, default_value_t = 100)]
    pub workspaces: u32,
    /// Database URL (default: SQLite in a temporary directory). Use an empty PostgreSQL
    /// database: the benchmark adds workspaces, connections and posts.
    #[arg(long)]
    pub database_url: Option<String>,
    /// Posts sent straight to the sandbox to measure its capacity.
    #[arg(long, default_value_t = 3_000)]
    pub baseline_calls: u32,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
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
        BenchCommand::Publish(a) => publish(a).await,
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

/// Grants minted at the sandbox for `account` (a sandbox account id such as `li-grace`; the
/// platform's first account when `None`): `(access_token, refresh_token)`.
async fn mint(
    stack: &Stack,
    platform: &str,
    account: Option<&str>,
    count: u32,
    scopes: &[&str],
) -> anyhow::Result<Vec<(String, String)>> {
    let v: Value = reqwest::Client::new()
        .post(format!("{}/__sandbox/grants", stack.sandbox_url))
        .json(&json!({"platform": platform, "account": account, "count": count, "scopes": scopes}))
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
    let grants = mint(&stack, "twitter", None, args.baseline_calls, &SCOPES).await?;
    let token_url = format!("{}/api.x.com/2/oauth2/token", stack.sandbox_url);
    let started = Instant::now();
    let baseline_ok = drain(
        grants.into_iter().map(|g| g.1).collect(),
        move |client, rt| {
            let url = token_url.clone();
            async move {
                client
                    .post(&url)
                    .basic_auth("sandbox-twitter-client", Some("sandbox-twitter-secret"))
                    .form(&[
                        ("grant_type", "refresh_token"),
                        ("refresh_token", rt.as_str()),
                    ])
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success())
            }
        },
    )
    .await?;
    let baseline_rps = baseline_ok as f64 / started.elapsed().as_secs_f64();

    // N connections whose tokens expire in 10 minutes: inside X's 30-minute buffer.
    let seed_started = Instant::now();
    let grants = mint(&stack, "twitter", None, args.connections, &SCOPES).await?;
    let ws = state.store().create_workspace("bench", state.now()).await?;
    let now = state.now();
    for (i, (access, refresh)) in grants.iter().enumerate() {
        seed_connection(
            state,
            &ws.id,
            SeedConnection {
                index: i,
                platform: "twitter",
                owner: format!("owner-{i}"),
                account_id: format!("bench-{i}"),
                scopes: &SCOPES,
                access,
                refresh,
                expires_at: now + chrono::Duration::minutes(10),
                obtained_at: now - chrono::Duration::minutes(110),
            },
        )
        .await?;
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

/// Sends every item of `items` with `call`, from 32 clients at once (each sends its next item
/// when the previous answers); returns how many calls succeeded.
async fn drain<T, F, Fut>(items: Vec<T>, call: F) -> anyhow::Result<u64>
where
    T: Send + 'static,
    F: Fn(reqwest::Client, T) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let queue = std::sync::Arc::new(tokio::sync::Mutex::new(items));
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let queue = queue.clone();
        let call = call.clone();
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut ok = 0u64;
            loop {
                let Some(item) = queue.lock().await.pop() else {
                    break;
                };
                if call(client.clone(), item).await {
                    ok += 1;
                }
            }
            ok
        }));
    }
    let mut ok = 0;
    for t in tasks {
        ok += t.await?;
    }
    Ok(ok)
}

/// A connection to seed straight into the store (tokens minted at the sandbox).
struct SeedConnection<'a> {
    /// Its number: the connection id is [`uuid_like`]`(index)`.
    index: usize,
    platform: &'a str,
    owner: String,
    /// The platform's user id (LinkedIn: the member id of the author URN).
    account_id: String,
    scopes: &'a [&'a str],
    access: &'a str,
    refresh: &'a str,
    expires_at: chrono::DateTime<chrono::Utc>,
    obtained_at: chrono::DateTime<chrono::Utc>,
}

/// Stores a healthy connection with its tokens sealed; returns its id.
async fn seed_connection(
    state: &switchboard_server::AppState,
    workspace_id: &str,
    c: SeedConnection<'_>,
) -> anyhow::Result<String> {
    let id = uuid_like(c.index);
    let seal = |field: &str, v: &str| state.keyring().seal(&format!("connection:{id}:{field}"), v);
    let now = state.now();
    let conn = switchboard_store::Connection {
        id: id.clone(),
        workspace_id: workspace_id.to_string(),
        platform: c.platform.into(),
        owner: c.owner,
        account_id: c.account_id,
        account_name: None,
        username: None,
        avatar_url: None,
        scopes: c.scopes.iter().map(|s| s.to_string()).collect(),
        status: "healthy".into(),
        access_token_sealed: seal("access_token", c.access),
        refresh_token_sealed: Some(seal("refresh_token", c.refresh)),
        token_type: "Bearer".into(),
        expires_at: Some(c.expires_at),
        refresh_expires_at: None,
        token_obtained_at: c.obtained_at,
        last_refreshed_at: None,
        last_error: None,
        metadata: json!({}),
        version: 0,
        created_at: now,
        updated_at: now,
    };
    state.store().upsert_connection(&conn).await?;
    Ok(id)
}

/// The sandbox's LinkedIn members publishing in `bench publish`: `(sandbox account, member id)`.
const LINKEDIN_MEMBERS: [(&str, &str); 2] = [("li-ada", "aDa1LoVe9x"), ("li-grace", "gRaCe2HoP7")];
/// The scopes of the seeded LinkedIn connections (`w_member_social` publishes).
const LINKEDIN_SCOPES: [&str; 4] = ["openid", "profile", "email", "w_member_social"];

/// The sandbox's LinkedIn items: `(item id → times published, per member id)`.
async fn linkedin_published(
    stack: &Stack,
) -> anyhow::Result<(HashMap<String, u64>, HashMap<String, u64>)> {
    let v: Value = reqwest::get(format!(
        "{}/__sandbox/published?platform=linkedin",
        stack.sandbox_url
    ))
    .await?
    .error_for_status()?
    .json()
    .await?;
    let mut by_id = HashMap::new();
    for item in v["items"].as_array().map(Vec::as_slice).unwrap_or_default() {
        let id = item["id"].as_str().unwrap_or_default().to_string();
        *by_id.entry(id).or_insert(0) += 1;
    }
    let stats: Value = reqwest::get(format!("{}/__sandbox/stats", stack.sandbox_url))
        .await?
        .json()
        .await?;
    let by_account = stats["platforms"]["linkedin"]["published_by_account"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_u64().unwrap_or(0)))
                .collect()
        })
        .unwrap_or_default();
    Ok((by_id, by_account))
}

/// `bench publish`: LinkedIn text posts, because the sandbox's LinkedIn (like the platform,
/// PLATFORMS.md §2) has no per-member post count limit, only a 24-hour duplicate check (every
/// post's text is distinct here); X allows 100 posts per user per 24 hours and Instagram 50,
/// and the sandbox has two accounts per platform. The targets are spread over `workspaces × 2`
/// connections (one per LinkedIn member per workspace), so the dispatcher's one-at-a-time
/// limit per connection is not what is measured.
async fn publish(args: PublishArgs) -> anyhow::Result<ExitCode> {
    let stack = Stack::start_on(None, None, None, false, args.database_url.clone()).await?;
    let state = &stack.state;
    let targets = args.targets.max(1) as usize;
    let workspaces = args.workspaces.clamp(1, args.targets.max(1)) as usize;

    // Baseline: the sandbox's own publish capacity, 32 clients posting straight to
    // `POST /rest/posts` with minted tokens of one member.
    let (member_account, member_id) = LINKEDIN_MEMBERS[0];
    let tokens = mint(
        &stack,
        "linkedin",
        Some(member_account),
        32,
        &LINKEDIN_SCOPES,
    )
    .await?;
    let url = format!("{}/api.linkedin.com/rest/posts", stack.sandbox_url);
    let author = format!("urn:li:person:{member_id}");
    // The `LinkedIn-Version` the LinkedIn publisher sends: the one of the stack's catalog.
    let li_version = state
        .catalog()
        .get("linkedin")
        .and_then(|p| p.api_version.clone())
        .unwrap_or_default();
    let calls: Vec<(String, String)> = (0..args.baseline_calls as usize)
        .map(|i| {
            (
                tokens[i % tokens.len().max(1)].0.clone(),
                format!("Baseline post number {i}"),
            )
        })
        .collect();
    let started = Instant::now();
    let baseline_ok = drain(calls, move |client, (token, text)| {
        let (url, author, li_version) = (url.clone(), author.clone(), li_version.clone());
        async move {
            client
                .post(&url)
                .bearer_auth(token)
                .header("LinkedIn-Version", li_version)
                .header("X-Restli-Protocol-Version", "2.0.0")
                .json(&json!({
                    "author": author,
                    "commentary": text,
                    "visibility": "PUBLIC",
                    "distribution": {"feedDistribution": "MAIN_FEED", "targetEntities": [], "thirdPartyDistributionChannels": []},
                    "lifecycleState": "PUBLISHED",
                    "isReshareDisabledByAuthor": false,
                }))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
        }
    })
    .await?;
    let baseline_pps = baseline_ok as f64 / started.elapsed().as_secs_f64();
    let (baseline_items, _) = linkedin_published(&stack).await?;

    // Connections: one per member per workspace, each with its own minted token.
    let seed_started = Instant::now();
    let now = state.now();
    let mut connections = Vec::new();
    let mut grants = Vec::new();
    for (account, _) in LINKEDIN_MEMBERS {
        grants.push(
            mint(
                &stack,
                "linkedin",
                Some(account),
                workspaces as u32,
                &LINKEDIN_SCOPES,
            )
            .await?,
        );
    }
    for w in 0..workspaces {
        let ws = state
            .store()
            .create_workspace(&format!("bench-{w}"), now)
            .await?;
        for ((_, member_id), member_grants) in LINKEDIN_MEMBERS.iter().zip(&grants) {
            let (access, refresh) = &member_grants[w];
            let id = seed_connection(
                state,
                &ws.id,
                SeedConnection {
                    index: connections.len(),
                    platform: "linkedin",
                    owner: format!("owner-{w}"),
                    account_id: member_id.to_string(),
                    scopes: &LINKEDIN_SCOPES,
                    access,
                    refresh,
                    expires_at: now + chrono::Duration::days(60),
                    obtained_at: now,
                },
            )
            .await?;
            connections.push((ws.id.clone(), id));
        }
    }

    // The posts, all due at one instant after the seeding: its length estimated from the
    // first posts stored (far in the future, never due), with room to spare.
    let store = state.store();
    let calibrate = 100.min(targets);
    let post = |i: usize, due: chrono::DateTime<chrono::Utc>| {
        let (ws, conn) = &connections[i % connections.len()];
        (
            switchboard_store::posts::Post {
                id: uuid_like(1_000_000 + i),
                workspace_id: ws.clone(),
                campaign_id: Some("bench".into()),
                content: json!({"text": format!("Benchmark post number {i} of {targets}")}),
                publish_at: due,
                time_zone: None,
                created_at: now,
            },
            vec![switchboard_store::posts::NewTarget {
                id: uuid_like(2_000_000 + i),
                connection_id: conn.clone(),
                page_id: None,
                platform: "linkedin".into(),
            }],
        )
    };
    let calibrating = Instant::now();
    let far = now + chrono::Duration::days(365);
    for i in 0..calibrate {
        let (p, t) = post(targets + i, far);
        store.create_post(&p, &t).await?;
    }
    let per_post = calibrating.elapsed() / calibrate as u32;
    let room = per_post * targets as u32 * 2 + Duration::from_secs(1);
    let due = state.now() + chrono::Duration::from_std(room)?;
    for i in 0..targets {
        let (p, t) = post(i, due);
        store.create_post(&p, &t).await?;
    }
    let seed_secs = seed_started.elapsed().as_secs_f64();
    let wait = (due - state.now()).to_std().unwrap_or_default();
    let seed_overran = wait.is_zero();
    tokio::time::sleep(wait).await;

    // Dispatcher rounds back to back from the due instant until nothing is left to claim.
    let started = Instant::now();
    let mut handled = 0;
    loop {
        let n = switchboard_server::workers::publish::tick(state).await?;
        if n == 0 {
            break;
        }
        handled += n;
    }
    let secs = started.elapsed().as_secs_f64();

    // Lateness and exactly-once, target by target.
    let mut lateness = Histogram::<u64>::new_with_bounds(1, 3_600_000, 3)?;
    let mut published = 0u64;
    let mut statuses: std::collections::BTreeMap<String, u64> = Default::default();
    let (items, by_account) = linkedin_published(&stack).await?;
    let mut once_each = true;
    let mut expected_by_member: HashMap<String, u64> = HashMap::new();
    for i in 0..targets {
        let Some(t) = store.get_target(&uuid_like(2_000_000 + i)).await? else {
            once_each = false;
            continue;
        };
        *statuses.entry(t.status.clone()).or_default() += 1;
        if let (Some(at), Some(pid)) = (t.published_at, t.platform_post_id.as_deref()) {
            published += 1;
            let _ = lateness.record((at - t.due_at).num_milliseconds().max(1) as u64);
            once_each &= items.get(pid) == Some(&1) && !baseline_items.contains_key(pid);
        }
        let member = LINKEDIN_MEMBERS[(i % connections.len()) % 2].1;
        *expected_by_member.entry(member.to_string()).or_default() += 1;
    }
    let baseline_by_member = baseline_ok;
    expected_by_member
        .entry(member_id.to_string())
        .and_modify(|n| *n += baseline_by_member)
        .or_insert(baseline_by_member);
    once_each &= published == targets as u64 && by_account == expected_by_member;
    stack.stop();

    let pps = published as f64 / secs;
    let report = json!({
        "database": state.store().backend(),
        "targets": targets,
        "connections": connections.len(),
        "workspaces": workspaces,
        "platform": "linkedin",
        "seed_seconds": (seed_secs * 100.0).round() / 100.0,
        "seeding_overran_due_instant": seed_overran,
        "dispatcher": {
            "handled": handled,
            "statuses": statuses,
            "seconds_until_all_published": (secs * 100.0).round() / 100.0,
            "publishes_per_sec": pps.round(),
            "lateness_p50_ms": lateness.value_at_quantile(0.50),
            "lateness_p99_ms": lateness.value_at_quantile(0.99),
            "lateness_max_ms": lateness.max(),
        },
        "sandbox_baseline": {"calls": args.baseline_calls, "ok": baseline_ok, "publishes_per_sec": baseline_pps.round()},
        "ratio_dispatcher_over_sandbox": ((pps / baseline_pps) * 1000.0).round() / 1000.0,
        "each_published_exactly_once": once_each,
    });
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "{targets} LinkedIn targets due at the same instant over {} connections ({workspaces} workspaces), {} database",
            connections.len(),
            state.store().backend()
        );
        println!(
            "seeded in {seed_secs:.2} s{}",
            if seed_overran {
                " (overran the due instant: lateness includes it)"
            } else {
                ""
            }
        );
        println!("sandbox publish endpoint alone: {baseline_pps:.0} publishes/s ({baseline_ok} of {} calls ok, 32 clients)", args.baseline_calls);
        println!("dispatcher:                     {pps:.0} publishes/s ({published} published in {secs:.2} s after the due instant)");
        println!(
            "lateness (published_at - due_at): p50 {} ms, p99 {} ms, max {} ms",
            lateness.value_at_quantile(0.50),
            lateness.value_at_quantile(0.99),
            lateness.max()
        );
        println!("statuses: {statuses:?}");
        println!("ratio dispatcher/sandbox: {:.3}", pps / baseline_pps);
        println!("each target published exactly once: {once_each}");
    }
    Ok(
        if once_each && baseline_ok == u64::from(args.baseline_calls) {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        },
    )
}
