//! Crash safety with real processes: one `switchboard sandbox` (it outlives the servers: it
//! holds what was published) and a `switchboard serve` on a SQLite file that publishes about a
//! hundred targets over X (text, and images: media upload), LinkedIn (text, and image upload),
//! Instagram (container, status poll, `media_publish`) and Pinterest (image pin on a board). The
//! posts fall due one after the other over seven seconds; the server is killed with SIGKILL
//! (`Child::kill`) at random points (100–1,500 ms apart), five times, each time restarted on
//! the same database, then left to finish.
//!
//! Then every target is checked through `GET /v1/posts/{id}`: `published` with a platform post id
//! that the sandbox published exactly once (`/__sandbox/published`); or `failed` with a
//! diagnosis; or `unknown`. None is left `scheduled` or `publishing`. Nothing was published
//! twice: per account, the sandbox's `published_by_account` is the published targets' count,
//! plus at most one per target that may have gone out unbeknown to Switchboard: `unknown`, or
//! `failed` because the platform refused a re-sent call as a duplicate of the copy the killed
//! process had sent (that copy is live: the target's status is then not the truth, see the
//! printed count).
//!
//! Every publish call at the sandbox answers after 200 ms (a delay fault), so that kills land
//! while claims are held and calls are in flight.
//!
//! The server runs its workers every 50 ms with a 2-second publishing lease
//! (`worker_interval_ms`, `publish_lease_secs` in its configuration file), so that the
//! restarted process resumes a killed one's claims within seconds.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::{free_port, start_sandbox, start_server, wait_healthy, Proc, BIN, KEYS};

mod support;

/// Posts created; each goes to X and LinkedIn, every other one (with an image) also to
/// Instagram, every eighth also to Pinterest.
const POSTS: usize = 40;
const KILLS: usize = 5;
/// A board of the sandbox's `pin-ada` account.
const BOARD: &str = "1150000000000100001";

/// A small xorshift generator: the run's random kill points, reproducible from the printed seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Uniform in `lo..=hi`.
    fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}

/// A server with its workers on and the test's configuration file (short ticks and leases).
fn serve(port: u16, database_url: &str, sandbox: &str, config: &Path) -> Proc {
    let config = config.to_str().expect("utf-8 path");
    start_server(
        port,
        database_url,
        sandbox,
        &["--config", config],
        &[("SWITCHBOARD_WORKERS", "1")],
    )
}

/// Connects the sandbox account `account` of `platform`; returns the connection id and records
/// the platform's user id of the connection in `accounts`.
async fn connect(
    http: &reqwest::Client,
    base: &str,
    key: &str,
    (platform, account): (&str, &str),
    accounts: &mut HashMap<String, String>,
) -> String {
    let start: Value = http
        .post(format!("{base}/v1/connect/{platform}"))
        .bearer_auth(key)
        .json(&json!({"owner": "crash"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let url = start["authorization_url"]
        .as_str()
        .unwrap_or_else(|| panic!("{start}"));
    let r = http
        .get(url)
        .header("X-Sandbox-Consent", "allow")
        .header("X-Sandbox-Account", account)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_redirection(), "{platform}: {}", r.status());
    let callback = r.headers()["location"].to_str().unwrap().to_string();
    // A browser drops the fragment (Instagram appends `#_`).
    let callback = callback.split('#').next().unwrap_or_default();
    let conn: Value = http
        .get(callback)
        .header("Accept", "application/json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = conn["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{platform} connection: {conn}"))
        .to_string();
    let user = conn["account"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{platform} account id: {conn}"));
    accounts.insert(id.clone(), user.to_string());
    id
}

async fn get_json(http: &reqwest::Client, url: &str, key: Option<&str>) -> Value {
    let mut req = http.get(url);
    if let Some(k) = key {
        req = req.bearer_auth(k);
    }
    let r = req.send().await.unwrap();
    assert!(r.status().is_success(), "{url}: {}", r.status());
    r.json().await.unwrap()
}

/// Every target of every post, as `GET /v1/posts/{id}` shows it.
async fn targets(http: &reqwest::Client, base: &str, key: &str, posts: &[String]) -> Vec<Value> {
    let mut all = Vec::new();
    for id in posts {
        let p = get_json(http, &format!("{base}/v1/posts/{id}"), Some(key)).await;
        all.extend(p["targets"].as_array().cloned().unwrap_or_default());
    }
    all
}

fn pending(targets: &[Value]) -> usize {
    targets
        .iter()
        .filter(|t| matches!(t["status"].as_str(), Some("scheduled" | "publishing")))
        .count()
}

#[tokio::test]
async fn killed_and_restarted_servers_publish_every_target_at_most_once() {
    let dir = tempfile::tempdir().unwrap();
    let database_url = format!("sqlite://{}", dir.path().join("crash.db").display());
    let config = dir.path().join("switchboard.toml");
    std::fs::write(&config, "worker_interval_ms = 50\npublish_lease_secs = 2\n").unwrap();
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1)
        | 1;
    println!("kill-point seed: {seed}");
    let mut rng = Rng(seed);
    let started = Instant::now();

    let (_sandbox, sandbox) = start_sandbox(&[]);
    let out = Command::new(BIN)
        .args([
            "workspace",
            "create",
            "crash",
            "--database-url",
            &database_url,
        ])
        .env("SWITCHBOARD_KEYS", KEYS)
        .output()
        .expect("workspace create");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let key = stdout
        .lines()
        .find_map(|l| l.strip_prefix("api_key:"))
        .map(str::trim)
        .expect("api key printed")
        .to_string();

    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut server = serve(port, &database_url, &sandbox, &config);
    wait_healthy(&http, &base).await;

    let mut accounts = HashMap::new();
    let x = [
        connect(&http, &base, &key, ("twitter", "x-ada"), &mut accounts).await,
        connect(&http, &base, &key, ("twitter", "x-grace"), &mut accounts).await,
    ];
    let li = [
        connect(&http, &base, &key, ("linkedin", "li-ada"), &mut accounts).await,
        connect(&http, &base, &key, ("linkedin", "li-grace"), &mut accounts).await,
    ];
    let ig = connect(
        &http,
        &base,
        &key,
        ("instagram", "ig-business"),
        &mut accounts,
    )
    .await;
    let pin = connect(&http, &base, &key, ("pinterest", "pin-ada"), &mut accounts).await;

    // Every publish call answers after 200 ms, so that a kill often lands while a claim is held
    // and a call is in flight (sent, not yet answered).
    for platform in ["twitter", "linkedin", "instagram", "pinterest"] {
        let r = http
            .post(format!("{sandbox}/__sandbox/faults"))
            .json(&json!({"platform": platform, "endpoint": "publish", "delay_ms": 200, "times": 1000}))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "fault: {}", r.status());
    }

    // The posts, due one after the other over seven seconds (150 ms apart from one second on),
    // so that the kills land while the dispatcher is at work.
    let image = format!("{sandbox}/__sandbox/media/photo.jpg");
    let first_due = chrono::Utc::now() + chrono::Duration::seconds(1);
    let mut posts = Vec::new();
    for i in 0..POSTS {
        let due = (first_due + chrono::Duration::milliseconds(150 * i as i64))
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let mut content =
            json!({"text": format!("Crash-safety post number {i}: still here after the restart")});
        let mut ids = vec![x[i % 2].clone(), li[i % 2].clone()];
        if i % 2 == 0 {
            content["media"] = json!([{"url": image, "kind": "image", "mime_type": "image/jpeg"}]);
            ids.push(ig.clone());
        }
        if i % 8 == 0 {
            content["overrides"] =
                json!({"pinterest": {"board_id": BOARD, "title": format!("Pin {i}")}});
            ids.push(pin.clone());
        }
        let r = http
            .post(format!("{base}/v1/posts"))
            .bearer_auth(&key)
            .json(&json!({"content": content, "connection_ids": ids, "publish_at": due}))
            .send()
            .await
            .unwrap();
        let status = r.status();
        let v: Value = r.json().await.unwrap();
        assert_eq!(status, reqwest::StatusCode::CREATED, "{v}");
        posts.push(v["id"].as_str().unwrap().to_string());
    }
    let total = targets(&http, &base, &key, &posts).await.len();
    assert_eq!(total, POSTS * 2 + POSTS / 2 + POSTS / 8);

    // Kill at random points, restart on the same database.
    let mut pending_at_kill = Vec::new();
    for _ in 0..KILLS {
        tokio::time::sleep(Duration::from_millis(rng.between(100, 1500))).await;
        server.0.kill().expect("SIGKILL");
        let _ = server.0.wait();
        server = serve(port, &database_url, &sandbox, &config);
        wait_healthy(&http, &base).await;
        pending_at_kill.push(pending(&targets(&http, &base, &key, &posts).await));
    }
    println!("targets still pending after each restart: {pending_at_kill:?}");
    // The first three kills come at most 3 × (1.5 s + a restart) after the posts were created,
    // before the last ones are due: they interrupted work.
    assert!(
        pending_at_kill[..3].iter().all(|&n| n > 0),
        "a kill came after everything was done: {pending_at_kill:?}"
    );

    // Let the last server finish (a killed holder's lease runs out after 2 s).
    let deadline = Instant::now() + Duration::from_secs(40);
    let all = loop {
        let all = targets(&http, &base, &key, &posts).await;
        if pending(&all) == 0 {
            break all;
        }
        assert!(
            Instant::now() < deadline,
            "targets left pending: {:?}",
            all.iter()
                .filter(|t| matches!(t["status"].as_str(), Some("scheduled" | "publishing")))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    drop(server);

    let items = get_json(&http, &format!("{sandbox}/__sandbox/published"), None).await;
    let items = items["items"].as_array().cloned().unwrap_or_default();
    let mut at_sandbox: HashMap<(String, String), usize> = HashMap::new();
    for it in &items {
        let k = (
            it["platform"].as_str().unwrap_or_default().to_string(),
            it["id"].as_str().unwrap_or_default().to_string(),
        );
        *at_sandbox.entry(k).or_default() += 1;
    }
    let stats = get_json(&http, &format!("{sandbox}/__sandbox/stats"), None).await;

    let mut by_status: BTreeMap<String, usize> = BTreeMap::new();
    // Per (platform, account): targets published, and targets that may have reached the
    // platform without Switchboard knowing (`unknown`, or `failed` because the platform refused
    // a second copy as a duplicate of the first: a restart re-sent a call the killed process had
    // sent).
    let mut published_by_account: BTreeMap<(String, String), u64> = BTreeMap::new();
    let mut maybe_live_by_account: BTreeMap<(String, String), u64> = BTreeMap::new();
    let mut refused_as_duplicate = 0;
    for t in &all {
        let status = t["status"].as_str().unwrap_or_default().to_string();
        *by_status.entry(status.clone()).or_default() += 1;
        let platform = t["platform"].as_str().unwrap_or_default().to_string();
        let account = accounts
            .get(t["connection_id"].as_str().unwrap_or_default())
            .cloned()
            .unwrap_or_else(|| panic!("a target of an unknown connection: {t}"));
        let key = (platform.clone(), account);
        match status.as_str() {
            "published" => {
                let pid = t["platform_post_id"]
                    .as_str()
                    .unwrap_or_else(|| panic!("published without a post id: {t}"))
                    .to_string();
                assert_eq!(
                    at_sandbox.get(&(platform, pid)).copied(),
                    Some(1),
                    "published exactly once at the sandbox: {t}"
                );
                *published_by_account.entry(key).or_default() += 1;
            }
            "failed" | "unknown" => {
                assert!(
                    t["diagnosis"].is_object(),
                    "a {status} target carries its reason: {t}"
                );
                let duplicate = t["diagnosis"]["category"] == "duplicate_content";
                if status == "unknown" || duplicate {
                    *maybe_live_by_account.entry(key).or_default() += 1;
                }
                if duplicate {
                    refused_as_duplicate += 1;
                }
            }
            other => panic!("target ended {other}: {t}"),
        }
    }
    println!(
        "{total} targets after {KILLS} kills in {:.1} s: {by_status:?} ({refused_as_duplicate} failed as a duplicate of the copy the killed process had sent)",
        started.elapsed().as_secs_f64()
    );
    // Nothing published twice: per account, the sandbox holds every published target's item and
    // at most one more item per target that may have reached it.
    let mut accounts_seen: Vec<(String, String)> = published_by_account.keys().cloned().collect();
    for (platform, p) in stats["platforms"].as_object().cloned().unwrap_or_default() {
        for (account, n) in p["published_by_account"]
            .as_object()
            .cloned()
            .unwrap_or_default()
        {
            let n = n.as_u64().unwrap_or(0);
            let key = (platform.clone(), account);
            let published = published_by_account.get(&key).copied().unwrap_or(0);
            let maybe = maybe_live_by_account.get(&key).copied().unwrap_or(0);
            assert!(
                n >= published && n <= published + maybe,
                "{key:?}: the sandbox published {n} items for {published} published targets and {maybe} that may have gone out: {:?}",
                all.iter()
                    .filter(|t| t["status"] != "published")
                    .collect::<Vec<_>>()
            );
            accounts_seen.retain(|k| *k != key);
        }
    }
    assert!(
        accounts_seen.is_empty(),
        "published targets on accounts the sandbox has no items for: {accounts_seen:?}"
    );
    assert!(
        by_status.get("published").copied().unwrap_or(0) >= total * 9 / 10,
        "most targets are published (the sandbox has no failing faults here): {by_status:?}"
    );
}
