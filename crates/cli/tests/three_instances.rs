//! Several `switchboard serve` processes sharing one PostgreSQL database (issue 7, "several
//! instances, one PostgreSQL").
//!
//! `three_instances_share_the_work_and_survive_a_kill`: 5,000 post targets due now (LinkedIn
//! text posts, X text posts, Pinterest image pins, over the sandbox's accounts) and 2,000
//! connections whose access tokens expire within minutes (X and TikTok: rotating refresh
//! tokens; LinkedIn and YouTube: static ones), all seeded straight into the database with
//! grants the sandbox issued (`POST /__sandbox/grants`). Three servers start on the database;
//! once a third of the posts are out, one is killed with SIGKILL. The other two take over its
//! leases (`publish_lease_secs`, `refresh_lease_secs`: 3 s here) and finish. Then:
//!
//! - no text was published twice at the sandbox and every item there is one target's (the
//!   texts are unique); every target is `published` in the database under its item's id, or
//!   `unknown` only if the killed process held it at the kill (it may have sent the create call:
//!   the dispatcher then looks at the platform and never re-sends blindly; what it cannot find
//!   stays `unknown`). The test prints those, split into "went out once" and "never went out",
//!   and the sandbox holds exactly one item per target that went out;
//! - every connection's grant was refreshed exactly once at the sandbox
//!   (`GET /__sandbox/refreshes`), with no refused use, and the connection holds the new
//!   tokens (`healthy`, one version later);
//!
//! except for what the kill itself may leave, counted exactly: a refresh the platform carried
//! out whose answer the killed process had not stored yet (the answer was on its way, or waiting
//! for the process to be scheduled). The platform has then renewed the grant and nobody knows
//! its new tokens: with a rotating refresh token the next use of the stored one is refused
//! (`refreshes: 1, refused: 1`; the connection ends `needs_reauth`: the person must reconnect,
//! nothing can avoid it), with a static one it is simply refreshed again (`refreshes: 2`). Such
//! a connection must have been claimed by the killed process at the kill, and there are at most
//! as many as it had refreshes in flight (16). The test prints how many there were.
//!
//! The sandbox answers every refresh after 600 ms and every Pinterest pin after 40 ms (delay
//! faults), so refreshes are in flight when the kill lands and the Pinterest account stays
//! below its 100 requests per second. (A call still waiting in its delay when the client dies
//! is dropped by the sandbox's HTTP server with the connection: it never happens.)
//!
//! `a_callback_completes_on_another_instance_once`: a connect flow started on instance A
//! whose callback reaches instance B creates the connection once; the same callback replayed
//! on A (or B) is refused with `409 state-already-used`.
//!
//! `measure_one_and_three_instances` (ignored; `cargo test -p switchboard --test
//! three_instances -- --ignored --nocapture`): the same work without a kill on one instance and
//! on three, printing publishes/s and refreshes/s.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use futures::StreamExt;
use serde_json::{json, Value};
use sqlx::Row;
use support::{
    allowed_callback, create_workspace, delay_sandbox, free_port, get_json, start_sandbox,
    start_server, start_two_servers, Proc, KEYS,
};
use switchboard_store::posts::{NewTarget, Post};
use switchboard_store::{Connection, Store};

mod support;

/// LinkedIn text posts, spread over the two sandbox members.
const LINKEDIN_POSTS: usize = 4_640;
/// X text posts per sandbox account (X allows 100 posts per user per 15 minutes and per 24 h).
const X_POSTS_PER_ACCOUNT: usize = 90;
/// Pinterest image pins on `pin-ada`'s board.
const PINTEREST_POSTS: usize = 180;
const TOTAL_POSTS: usize = LINKEDIN_POSTS + 2 * X_POSTS_PER_ACCOUNT + PINTEREST_POSTS;
/// Connections due for a refresh, per platform.
/// The worker refreshes the platforms side by side; with the most TikTok connections, the kill
/// usually lands among TikTok's refreshes too: the rotating case of a lost answer.
const REFRESHING: [(&str, usize); 4] = [
    ("twitter", 300),
    ("linkedin", 300),
    ("tiktok", 1000),
    ("youtube", 400),
];
/// Workspaces the publishing connections are spread over (one connection per account each):
/// the dispatcher publishes one target per connection at a time.
const LINKEDIN_WORKSPACES: usize = 40;
const X_WORKSPACES: usize = 3;
/// A board of the sandbox's `pin-ada` account.
const BOARD: &str = "1150000000000100001";

/// Scopes of the minted grants, per platform.
fn scopes(platform: &str) -> &'static [&'static str] {
    match platform {
        "twitter" => &["tweet.read", "tweet.write", "users.read", "offline.access"],
        // `r_member_social` lets the dispatcher look for a post whose creation got no answer.
        "linkedin" => &[
            "openid",
            "profile",
            "email",
            "w_member_social",
            "r_member_social",
        ],
        "pinterest" => &[
            "boards:read",
            "pins:read",
            "pins:write",
            "user_accounts:read",
        ],
        "tiktok" => &["user.info.basic", "video.publish"],
        "youtube" => &[
            "openid",
            "https://www.googleapis.com/auth/youtube.upload",
            "https://www.googleapis.com/auth/youtube.readonly",
        ],
        _ => &[],
    }
}

/// A grant the sandbox issued (`POST /__sandbox/grants`).
struct Grant {
    id: u64,
    access: String,
    refresh: String,
    account_id: String,
}

async fn mint(
    http: &reqwest::Client,
    sandbox: &str,
    platform: &str,
    account: Option<&str>,
    count: usize,
) -> Vec<Grant> {
    let r = http
        .post(format!("{sandbox}/__sandbox/grants"))
        .json(&json!({"platform": platform, "account": account, "count": count, "scopes": scopes(platform)}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "mint {platform}: {}", r.status());
    let v: Value = r.json().await.unwrap();
    v["grants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| Grant {
            id: g["grant_id"].as_u64().expect("grant_id"),
            access: g["access_token"].as_str().unwrap().to_string(),
            refresh: g["refresh_token"].as_str().unwrap().to_string(),
            account_id: g["account_id"].as_str().unwrap().to_string(),
        })
        .collect()
}

/// A UUID-shaped id: `kind` tells seeded rows apart (1 connection, 2 post, 3 target).
fn id(kind: u32, i: usize) -> String {
    format!("00000000-0000-7000-800{kind}-{i:012}")
}

/// A healthy connection holding `grant`'s tokens (sealed as the server seals them), whose
/// access token expires at `expires_at` and was obtained at `obtained_at`.
fn connection(
    keyring: &switchboard_vault::Keyring,
    (id, workspace_id): (String, &str),
    platform: &str,
    account_id: &str,
    grant: &Grant,
    (expires_at, obtained_at): (chrono::DateTime<Utc>, chrono::DateTime<Utc>),
) -> Connection {
    let now = Utc::now();
    Connection {
        access_token_sealed: keyring.seal(&format!("connection:{id}:access_token"), &grant.access),
        refresh_token_sealed: Some(
            keyring.seal(&format!("connection:{id}:refresh_token"), &grant.refresh),
        ),
        id,
        workspace_id: workspace_id.to_string(),
        platform: platform.into(),
        owner: format!("owner-{account_id}"),
        account_id: account_id.to_string(),
        account_name: None,
        username: None,
        avatar_url: None,
        scopes: scopes(platform).iter().map(|s| s.to_string()).collect(),
        status: "healthy".into(),
        token_type: "Bearer".into(),
        expires_at: Some(expires_at),
        refresh_expires_at: None,
        token_obtained_at: obtained_at,
        last_refreshed_at: None,
        last_error: None,
        metadata: json!({}),
        version: 0,
        created_at: now,
        updated_at: now,
    }
}

/// What was seeded.
struct Seeded {
    /// Target id → (platform, the platform's account id it publishes to, the text the
    /// platform records: the post's text, a Pin's title).
    targets: HashMap<String, (String, String, String)>,
    /// Refreshing connection id → (platform, sandbox grant id, version as stored).
    refreshing: HashMap<String, (String, u64, i64)>,
}

/// Seeds the publishing connections and their posts (due now) and the refreshing connections.
async fn seed(store: Arc<dyn Store>, http: &reqwest::Client, sandbox: &str) -> Seeded {
    let keyring = switchboard_vault::Keyring::parse(KEYS, None).unwrap();
    let now = Utc::now();
    let long = (
        now + chrono::Duration::days(30),
        now - chrono::Duration::minutes(1),
    );
    let mut connections = Vec::new();
    // Publishing connections per platform: (connection id, account id, workspace id).
    let mut publishing: BTreeMap<&str, Vec<(String, String, String)>> = BTreeMap::new();
    let mut next = 0;
    for (platform, accounts, workspaces) in [
        ("linkedin", &["li-ada", "li-grace"][..], LINKEDIN_WORKSPACES),
        ("twitter", &["x-ada", "x-grace"][..], X_WORKSPACES),
        ("pinterest", &["pin-ada"][..], 1),
    ] {
        for account in accounts {
            let grants = mint(http, sandbox, platform, Some(account), workspaces).await;
            for g in &grants {
                let ws = store
                    .create_workspace(&format!("{platform}-{account}-{next}"), now)
                    .await
                    .unwrap();
                let c = connection(
                    &keyring,
                    (id(1, next), &ws.id),
                    platform,
                    &g.account_id,
                    g,
                    long,
                );
                next += 1;
                publishing.entry(platform).or_default().push((
                    c.id.clone(),
                    g.account_id.clone(),
                    ws.id.clone(),
                ));
                connections.push(c);
            }
        }
    }
    // Refreshing connections: tokens with an hour's life, five minutes left (inside every
    // platform's refresh buffer), in one workspace.
    let ws = store.create_workspace("refreshing", now).await.unwrap();
    let mut refreshing = HashMap::new();
    for (platform, n) in REFRESHING {
        for (i, g) in mint(http, sandbox, platform, None, n)
            .await
            .iter()
            .enumerate()
        {
            let c = connection(
                &keyring,
                (id(1, next), &ws.id),
                platform,
                &format!("{platform}-refresh-{i}"),
                g,
                (
                    now + chrono::Duration::minutes(5),
                    now - chrono::Duration::minutes(55),
                ),
            );
            next += 1;
            refreshing.insert(c.id.clone(), (platform.to_string(), g.id));
            connections.push(c);
        }
    }
    let stored: Vec<Connection> = futures::stream::iter(connections)
        .map(|c| {
            let store = store.clone();
            async move { store.upsert_connection(&c).await.unwrap() }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    let versions: HashMap<String, i64> = stored.into_iter().map(|c| (c.id, c.version)).collect();
    let refreshing = refreshing
        .into_iter()
        .map(|(id, (platform, grant))| {
            let version = versions[&id];
            (id, (platform, grant, version))
        })
        .collect();

    // The posts, each with one target, due now.
    let image = format!("{sandbox}/__sandbox/media/pin.jpg?bytes=2000");
    let mut posts = Vec::new();
    let mut plan = Vec::new();
    let linkedin = &publishing["linkedin"];
    for i in 0..LINKEDIN_POSTS {
        let text = format!("Three instances, LinkedIn post number {i}");
        plan.push((
            "linkedin",
            &linkedin[i % linkedin.len()],
            text.clone(),
            json!({ "text": text }),
        ));
    }
    let x = &publishing["twitter"];
    for i in 0..2 * X_POSTS_PER_ACCOUNT {
        let text = format!("Three instances, X post number {i}");
        plan.push((
            "twitter",
            &x[i % x.len()],
            text.clone(),
            json!({ "text": text }),
        ));
    }
    let pin = &publishing["pinterest"][0];
    for i in 0..PINTEREST_POSTS {
        plan.push((
            "pinterest",
            pin,
            format!("Pin {i}"),
            json!({
                "text": format!("Three instances, pin number {i}"),
                "media": [{"url": image, "kind": "image", "mime_type": "image/jpeg"}],
                "overrides": {"pinterest": {"board_id": BOARD, "title": format!("Pin {i}")}},
            }),
        ));
    }
    let mut targets = HashMap::new();
    for (i, (platform, (conn, account, workspace), text, content)) in plan.into_iter().enumerate() {
        let post = Post {
            id: id(2, i),
            workspace_id: workspace.clone(),
            campaign_id: Some("three-instances".into()),
            content,
            publish_at: now,
            time_zone: None,
            created_at: now,
        };
        let target = NewTarget {
            id: id(3, i),
            connection_id: conn.clone(),
            page_id: None,
            platform: platform.into(),
        };
        targets.insert(
            target.id.clone(),
            (platform.to_string(), account.clone(), text),
        );
        posts.push((post, target));
    }
    assert_eq!(posts.len(), TOTAL_POSTS);
    futures::stream::iter(posts)
        .map(|(p, t)| {
            let store = store.clone();
            async move { store.create_post(&p, &[t]).await.unwrap() }
        })
        .buffer_unordered(8)
        .collect::<Vec<_>>()
        .await;
    Seeded {
        targets,
        refreshing,
    }
}

/// Totals at the sandbox: (items published, successful refreshes).
async fn sandbox_totals(http: &reqwest::Client, sandbox: &str) -> (u64, u64) {
    let stats = get_json(http, &format!("{sandbox}/__sandbox/stats")).await;
    let mut published = 0;
    let mut refreshes = 0;
    for p in stats["platforms"].as_object().unwrap().values() {
        published += p["published"].as_u64().unwrap_or(0);
        refreshes += p["refreshes"].as_u64().unwrap_or(0);
    }
    (published, refreshes)
}

/// Rows still held by the process `pid` (instance ids start with the pid): unfinished targets
/// and connections under its refresh claim.
async fn held_by(db: &sqlx::PgPool, pid: u32) -> (i64, i64) {
    let prefix = format!("{pid}-%");
    let targets: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM post_targets WHERE locked_by LIKE $1 \
         AND status IN ('scheduled', 'publishing')",
    )
    .bind(&prefix)
    .fetch_one(db)
    .await
    .unwrap();
    let connections: i64 =
        sqlx::query_scalar("SELECT count(*) FROM connections WHERE refresh_locked_by LIKE $1")
            .bind(&prefix)
            .fetch_one(db)
            .await
            .unwrap();
    (targets, connections)
}

/// A run's figures.
#[derive(Debug, Default)]
struct Run {
    /// Seconds from the servers' start until no target was left to publish.
    publish_secs: f64,
    /// Seconds from the servers' start until every connection was refreshed.
    refresh_secs: f64,
    /// Seconds from the start until everything was final in the database.
    total_secs: f64,
    /// (published, refreshes) at the sandbox when the instance was killed.
    at_kill: Option<(u64, u64)>,
    /// (targets, connections) the killed instance held at the kill.
    held_at_kill: (i64, i64),
    /// Connections under the killed instance's refresh claim at the kill.
    claimed_at_kill: HashSet<String>,
    /// Unfinished targets the killed instance held at the kill.
    targets_held_at_kill: HashSet<String>,
    /// Seconds from the kill until another instance first took one of its rows.
    first_takeover_secs: Option<f64>,
    /// Seconds from the kill until every one of its targets, and every one of its connections,
    /// was held by another instance or finished.
    takeover_targets_secs: Option<f64>,
    takeover_connections_secs: Option<f64>,
    /// Seconds from the kill until another instance held every one of them.
    takeover_secs: Option<f64>,
}

/// Seeds the database, starts `instances` servers, kills the first once a third of the posts
/// are out when `kill`, and waits until every target is final and every connection refreshed.
/// Every refresh call is answered `refresh_delay_ms` later; the servers log at `log` (`None`:
/// the support module's capture level).
async fn run(
    instances: usize,
    kill: bool,
    refresh_delay_ms: u64,
    log: Option<&str>,
    dir: &Path,
) -> (Run, Seeded, String, String, Proc) {
    let database_url = switchboard_store::testing::fresh_postgres_url().await;
    let (sandbox_proc, sandbox) = start_sandbox(&[]);
    let http = reqwest::Client::new();
    if refresh_delay_ms > 0 {
        for platform in ["twitter", "tiktok", "linkedin", "youtube"] {
            delay_sandbox(
                &http,
                &sandbox,
                platform,
                "refresh",
                refresh_delay_ms,
                100_000,
            )
            .await;
        }
    }
    delay_sandbox(&http, &sandbox, "pinterest", "publish", 40, 100_000).await;

    let store = switchboard_store::connect(&database_url).await.unwrap();
    let seeding = Instant::now();
    let seeded = seed(store.clone(), &http, &sandbox).await;
    println!(
        "{instances} instance(s): seeded {} targets and {} refreshing connections in {:.1} s",
        seeded.targets.len(),
        seeded.refreshing.len(),
        seeding.elapsed().as_secs_f64()
    );
    let db = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect(&database_url)
        .await
        .unwrap();

    let config = dir.join(format!("switchboard-{instances}.toml"));
    std::fs::write(
        &config,
        "worker_interval_ms = 50\npublish_lease_secs = 3\nrefresh_lease_secs = 3\n",
    )
    .unwrap();
    let mut env = vec![("SWITCHBOARD_WORKERS", "1")];
    if let Some(level) = log {
        env.push(("SWITCHBOARD_LOG", level));
    }
    let started = Instant::now();
    let mut servers: Vec<Proc> = (0..instances)
        .map(|_| {
            start_server(
                free_port(),
                &database_url,
                &sandbox,
                &["--config", config.to_str().unwrap()],
                &env,
            )
        })
        .collect();

    let mut figures = Run::default();
    let mut killed: Option<(u32, Instant)> = None;
    let deadline = started + Duration::from_secs(100);
    loop {
        let (published, refreshes) = sandbox_totals(&http, &sandbox).await;
        if kill && killed.is_none() && published >= TOTAL_POSTS as u64 / 3 {
            let victim = &mut servers[0];
            let pid = victim.0.id();
            victim.0.kill().expect("SIGKILL");
            let _ = victim.0.wait();
            killed = Some((pid, Instant::now()));
            figures.at_kill = Some((published, refreshes));
            figures.held_at_kill = held_by(&db, pid).await;
            figures.claimed_at_kill =
                sqlx::query("SELECT id FROM connections WHERE refresh_locked_by LIKE $1")
                    .bind(format!("{pid}-%"))
                    .fetch_all(&db)
                    .await
                    .unwrap()
                    .iter()
                    .map(|r| r.get::<String, _>("id"))
                    .collect();
            figures.targets_held_at_kill = sqlx::query(
                "SELECT id FROM post_targets WHERE locked_by LIKE $1 \
                 AND status IN ('scheduled', 'publishing')",
            )
            .bind(format!("{pid}-%"))
            .fetch_all(&db)
            .await
            .unwrap()
            .iter()
            .map(|r| r.get::<String, _>("id"))
            .collect();
        }
        if let (Some((pid, at)), None) = (killed, figures.takeover_secs) {
            let held = held_by(&db, pid).await;
            let since = at.elapsed().as_secs_f64();
            if figures.first_takeover_secs.is_none() && held != figures.held_at_kill {
                figures.first_takeover_secs = Some(since);
            }
            if held.0 == 0 {
                figures.takeover_targets_secs.get_or_insert(since);
            }
            if held.1 == 0 {
                figures.takeover_connections_secs.get_or_insert(since);
            }
            if held == (0, 0) {
                figures.takeover_secs = Some(at.elapsed().as_secs_f64());
            }
        }
        let pending: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM post_targets WHERE status IN ('scheduled', 'publishing')",
        )
        .fetch_one(&db)
        .await
        .unwrap();
        let unrefreshed: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM connections WHERE last_refreshed_at IS NULL \
             AND status NOT IN ('needs_reauth', 'refresh_failing') AND expires_at < $1",
        )
        .bind(Utc::now() + chrono::Duration::minutes(10))
        .fetch_one(&db)
        .await
        .unwrap();
        if pending == 0 && figures.publish_secs == 0.0 {
            figures.publish_secs = started.elapsed().as_secs_f64();
        }
        if unrefreshed == 0 && figures.refresh_secs == 0.0 {
            figures.refresh_secs = started.elapsed().as_secs_f64();
        }
        if pending == 0 && unrefreshed == 0 && (!kill || figures.takeover_secs.is_some()) {
            figures.total_secs = started.elapsed().as_secs_f64();
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not finished after 100 s: {pending} targets pending, {unrefreshed} connections not refreshed, {figures:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(servers);
    db.close().await;
    (figures, seeded, database_url, sandbox, sandbox_proc)
}

#[tokio::test]
async fn three_instances_share_the_work_and_survive_a_kill() {
    let dir = tempfile::tempdir().unwrap();
    let (figures, seeded, database_url, sandbox, _sandbox_proc) =
        run(3, true, 600, None, dir.path()).await;
    let http = reqwest::Client::new();
    let db = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect(&database_url)
        .await
        .unwrap();
    let (at_kill_published, at_kill_refreshes) = figures.at_kill.unwrap();
    println!(
        "killed one of 3 instances at {at_kill_published} published, {at_kill_refreshes} refreshed; it held {} targets and {} connections; first taken over after {:.2} s, all its targets after {:.2} s, all its connections after {:.2} s",
        figures.held_at_kill.0,
        figures.held_at_kill.1,
        figures.first_takeover_secs.unwrap_or(-1.0),
        figures.takeover_targets_secs.unwrap_or(-1.0),
        figures.takeover_connections_secs.unwrap_or(-1.0)
    );

    // Posts. At the sandbox, every item is one target's (its text is unique) and no text was
    // published twice.
    let items = get_json(&http, &format!("{sandbox}/__sandbox/published")).await;
    let mut at_sandbox: HashMap<(String, String), Vec<String>> = HashMap::new();
    for it in items["items"].as_array().unwrap() {
        at_sandbox
            .entry((
                it["platform"].as_str().unwrap().to_string(),
                it["text"].as_str().unwrap().to_string(),
            ))
            .or_default()
            .push(it["id"].as_str().unwrap().to_string());
    }
    let twice: Vec<_> = at_sandbox.iter().filter(|(_, ids)| ids.len() > 1).collect();
    assert!(twice.is_empty(), "published more than once: {twice:?}");
    let texts: HashSet<(String, String)> = seeded
        .targets
        .values()
        .map(|(platform, _, text)| (platform.clone(), text.clone()))
        .collect();
    let strangers: Vec<_> = at_sandbox.keys().filter(|k| !texts.contains(k)).collect();
    assert!(strangers.is_empty(), "items of no target: {strangers:?}");
    // In the database: `published` under the item's id; or `unknown` (never anything else),
    // only for a target the killed process held, whose create call it may have sent.
    let rows = sqlx::query("SELECT id, status, platform_post_id FROM post_targets")
        .fetch_all(&db)
        .await
        .unwrap();
    assert_eq!(rows.len(), TOTAL_POSTS);
    let mut unknown_out = Vec::new();
    let mut unknown_not_out = Vec::new();
    for row in &rows {
        let id: String = row.get("id");
        let status: String = row.get("status");
        let (platform, _, text) = &seeded.targets[&id];
        let item = at_sandbox.get(&(platform.clone(), text.clone()));
        match status.as_str() {
            "published" => {
                let pid: Option<String> = row.get("platform_post_id");
                assert_eq!(
                    item.map(|ids| ids.as_slice()),
                    Some(pid.as_slice()),
                    "target {id} ({platform}) is published under the sandbox item's id"
                );
            }
            "unknown" => {
                assert!(
                    figures.targets_held_at_kill.contains(&id),
                    "{id} ({platform}) ended unknown but the killed process did not hold it"
                );
                if item.is_some() {
                    unknown_out.push(id);
                } else {
                    unknown_not_out.push(id);
                }
            }
            other => panic!("target {id} ({platform}) ended {other}"),
        }
    }
    println!(
        "targets: {} published once; unknown after the kill: {} went out once {unknown_out:?}, {} never went out {unknown_not_out:?}",
        TOTAL_POSTS - unknown_out.len() - unknown_not_out.len(),
        unknown_out.len(),
        unknown_not_out.len()
    );
    assert_eq!(
        at_sandbox.len(),
        TOTAL_POSTS - unknown_not_out.len(),
        "the sandbox holds one item per target that went out"
    );
    // The checks page back past the send time: a post that went out is always found.
    assert!(
        unknown_out.is_empty(),
        "unknown although it went out (a check missed it): {unknown_out:?}"
    );

    // Refreshes: per grant at the sandbox, and the connection in the database.
    let refreshes = get_json(&http, &format!("{sandbox}/__sandbox/refreshes")).await;
    let by_grant: HashMap<u64, (u64, u64)> = refreshes["grants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["grant_id"].as_u64().unwrap(),
                (
                    g["refreshes"].as_u64().unwrap(),
                    g["refused"].as_u64().unwrap(),
                ),
            )
        })
        .collect();
    let rows = sqlx::query(
        "SELECT id, status, version, last_refreshed_at IS NOT NULL AS refreshed FROM connections",
    )
    .fetch_all(&db)
    .await
    .unwrap();
    let mut lost_answers: Vec<(String, String, (u64, u64), String)> = Vec::new();
    let mut once = 0;
    for row in &rows {
        let id: String = row.get("id");
        let Some((platform, grant, seeded_version)) = seeded.refreshing.get(&id) else {
            continue;
        };
        let counts = by_grant.get(grant).copied().unwrap_or((0, 0));
        let status: String = row.get("status");
        let version: i64 = row.get("version");
        let refreshed: bool = row.get("refreshed");
        if counts == (1, 0) && status == "healthy" && refreshed {
            once += 1;
            assert_eq!(version, seeded_version + 1, "{id}: one stored refresh");
            continue;
        }
        lost_answers.push((id, platform.clone(), counts, status));
    }
    println!(
        "{once} connections refreshed exactly once; {} refreshes whose answer the kill lost: {lost_answers:?}",
        lost_answers.len()
    );
    for (id, platform, counts, status) in &lost_answers {
        assert!(
            figures.claimed_at_kill.contains(id),
            "{id} ({platform}): {counts:?}, {status}, but not claimed by the killed instance"
        );
        let rotating = matches!(platform.as_str(), "twitter" | "tiktok");
        if rotating {
            assert_eq!(
                (*counts, status.as_str()),
                ((1, 1), "needs_reauth"),
                "{id} ({platform}): the rotated refresh token died with the killed process"
            );
        } else {
            assert_eq!(
                (*counts, status.as_str()),
                ((2, 0), "healthy"),
                "{id} ({platform}): a static refresh token is used again"
            );
        }
    }
    // The killed instance had at most its per-platform concurrency in flight on each platform.
    let mut lost_per_platform: HashMap<&str, usize> = HashMap::new();
    for (_, platform, _, _) in &lost_answers {
        *lost_per_platform.entry(platform.as_str()).or_default() += 1;
    }
    for (platform, lost) in &lost_per_platform {
        assert!(
            *lost <= switchboard_server::workers::refresh::CONCURRENCY,
            "{platform}: {lost} lost answers, more than the killed instance had in flight: {lost_answers:?}"
        );
    }
    assert_eq!(once + lost_answers.len(), seeded.refreshing.len());
    println!(
        "3 instances: all {TOTAL_POSTS} published after {:.1} s ({:.0}/s), {} refreshes after {:.1} s ({:.0}/s), all final after {:.1} s",
        figures.publish_secs,
        TOTAL_POSTS as f64 / figures.publish_secs,
        seeded.refreshing.len(),
        figures.refresh_secs,
        seeded.refreshing.len() as f64 / figures.refresh_secs,
        figures.total_secs
    );
    db.close().await;
    let _ = switchboard_store::testing::drop_test_database(&database_url).await;
}

#[tokio::test]
#[ignore = "a measurement (about a minute): run with --ignored --nocapture"]
async fn measure_one_and_three_instances() {
    let dir = tempfile::tempdir().unwrap();
    let mut lines = Vec::new();
    for instances in [1, 3] {
        let (f, seeded, database_url, _, _sandbox) =
            run(instances, false, 0, Some("warn"), dir.path()).await;
        lines.push(format!(
            "{instances} instance(s): {TOTAL_POSTS} posts in {:.1} s ({:.0}/s), {} refreshes in {:.1} s ({:.0}/s), all final after {:.1} s",
            f.publish_secs,
            TOTAL_POSTS as f64 / f.publish_secs,
            seeded.refreshing.len(),
            f.refresh_secs,
            seeded.refreshing.len() as f64 / f.refresh_secs,
            f.total_secs
        ));
        let _ = switchboard_store::testing::drop_test_database(&database_url).await;
    }
    for l in lines {
        println!("{l}");
    }
}

#[tokio::test]
async fn a_callback_completes_on_another_instance_once() {
    let database_url = switchboard_store::testing::fresh_postgres_url().await;
    let (_sandbox, sandbox) = start_sandbox(&[]);
    let key = create_workspace("callback", &database_url);
    let (_servers, (a, b), http) =
        start_two_servers(&database_url, &sandbox, &[("SWITCHBOARD_WORKERS", "0")]).await;

    let on_a = allowed_callback(&http, &a, &key, "linkedin", "across").await;
    assert!(on_a.starts_with(&a), "the callback goes to A: {on_a}");
    let on_b = on_a.replacen(&a, &b, 1);

    let r = http
        .get(&on_b)
        .header("Accept", "application/json")
        .send()
        .await
        .unwrap();
    assert!(
        r.status().is_success(),
        "B completes A's flow: {}",
        r.status()
    );
    let conn: Value = r.json().await.unwrap();
    let id = conn["id"].as_str().unwrap_or_else(|| panic!("{conn}"));

    for (name, url) in [("A", &on_a), ("B", &on_b)] {
        let r = http
            .get(url.as_str())
            .header("Accept", "application/json")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 409, "replayed on {name}");
        let body = r.text().await.unwrap();
        assert!(body.contains("state-already-used"), "{name}: {body}");
    }
    let list = get_json_auth(&http, &format!("{a}/v1/connections"), &key).await;
    let ids: Vec<&str> = list["data"]
        .as_array()
        .or_else(|| list["connections"].as_array())
        .unwrap_or_else(|| panic!("{list}"))
        .iter()
        .filter_map(|c| c["id"].as_str())
        .collect();
    assert_eq!(ids, [id], "one connection, seen from A");
    let stats = get_json(&http, &format!("{sandbox}/__sandbox/stats")).await;
    assert_eq!(
        stats["platforms"]["linkedin"]["token_exchanges"], 1,
        "the code was exchanged once: {stats}"
    );
    let _ = switchboard_store::testing::drop_test_database(&database_url).await;
}

async fn get_json_auth(http: &reqwest::Client, url: &str, key: &str) -> Value {
    let r = http.get(url).bearer_auth(key).send().await.unwrap();
    assert!(r.status().is_success(), "{url}: {}", r.status());
    r.json().await.unwrap()
}
