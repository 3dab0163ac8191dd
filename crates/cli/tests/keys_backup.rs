//! Key rotation and backups through the built binary, with a server process running:
//!
//! - `keys rotate` interrupted (once by `--limit`, once by SIGKILL mid-run) and resumed, on
//!   SQLite and PostgreSQL; after every step each connection's token still decrypts through
//!   `GET /v1/connections/{id}/token`; `keys status` / `keys remove-check` tell the truth; the
//!   server then starts with the new key alone and refuses to start with the old key alone.
//! - `backup` of a live SQLite database, `restore` refusing without `--force` and while a
//!   server has the file open, then bringing back the same connections (ids and tokens).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use secrecy::SecretString;
use serde_json::Value;
use switchboard_core::TokenSet;
use switchboard_vault::Keyring;

const BIN: &str = env!("CARGO_BIN_EXE_switchboard");
/// Fixed test keys (not real secrets).
const OLD: &str = "kold1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const NEW: &str = "knew2:HxwdHBsaGRgXFhUUExIREA8ODQwLCgkIBwYFBAMCAQA=";

/// A child process killed when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn serve_command(port: u16, url: &str, keys: &str, active: Option<&str>) -> Command {
    let mut c = Command::new(BIN);
    c.args([
        "serve",
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--database-url",
        url,
    ])
    .env("SWITCHBOARD_KEYS", keys)
    .env("SWITCHBOARD_LOG", "warn")
    .env("SWITCHBOARD_WORKERS", "0")
    .env_remove("SWITCHBOARD_ACTIVE_KEY")
    .env_remove("SWITCHBOARD_CONFIG");
    if let Some(a) = active {
        c.env("SWITCHBOARD_ACTIVE_KEY", a);
    }
    c
}

async fn start_server(url: &str, keys: &str, active: Option<&str>) -> (Proc, String) {
    let port = free_port();
    let server = Proc(
        serve_command(port, url, keys, active)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("server starts"),
    );
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    for _ in 0..400 {
        if http
            .get(format!("{base}/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return (server, base);
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("server on {url} did not become healthy");
}

/// Runs the binary to completion with the given keys.
fn run(args: &[&str], keys: &str, active: Option<&str>) -> Output {
    let mut c = Command::new(BIN);
    c.args(args)
        .env("SWITCHBOARD_KEYS", keys)
        .env_remove("SWITCHBOARD_ACTIVE_KEY")
        .env_remove("SWITCHBOARD_CONFIG")
        .env_remove("SWITCHBOARD_LOG");
    if let Some(a) = active {
        c.env("SWITCHBOARD_ACTIVE_KEY", a);
    }
    c.output().expect("the binary runs")
}

fn json_of(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    })
}

/// A workspace with `n` connections (tokens `access-<i>` / `refresh-<i>`, never expiring), a
/// webhook, a Facebook Page and a pending OAuth state, all sealed with `keys`. Returns the API
/// key and the connection ids.
async fn seed(url: &str, keys: &str, n: usize) -> (String, Vec<String>) {
    let keyring = Keyring::parse(keys, None).unwrap();
    let store = switchboard_store::connect(url).await.unwrap();
    let now = chrono::Utc::now();
    let (ws, api_key) = switchboard_server::create_workspace(store.as_ref(), "rotation", now)
        .await
        .unwrap();
    let mut ids = Vec::new();
    for i in 0..n {
        let id = format!("conn-{i:04}-{}", unique());
        let mut tokens = TokenSet::bearer(format!("access-{i}"));
        tokens.refresh_token = Some(SecretString::from(format!("refresh-{i}")));
        let (access, refresh) = switchboard_server::vaulted::seal_tokens(&keyring, &id, &tokens);
        store
            .upsert_connection(&switchboard_store::Connection {
                id: id.clone(),
                workspace_id: ws.id.clone(),
                platform: if i % 2 == 0 { "linkedin" } else { "twitter" }.into(),
                owner: format!("owner-{i}"),
                account_id: format!("acct-{i}"),
                account_name: None,
                username: None,
                avatar_url: None,
                scopes: vec![],
                status: "healthy".into(),
                access_token_sealed: access,
                refresh_token_sealed: refresh,
                token_type: "Bearer".into(),
                expires_at: None,
                refresh_expires_at: None,
                token_obtained_at: now,
                last_refreshed_at: None,
                last_error: None,
                metadata: serde_json::json!({}),
                version: 1,
                created_at: now,
                updated_at: now,
            })
            .await
            .unwrap();
        ids.push(id);
    }
    let hook = format!("hook-{}", unique());
    store
        .create_webhook(&switchboard_store::webhooks::Webhook {
            id: hook.clone(),
            workspace_id: ws.id.clone(),
            url: "https://hooks.example/x".into(),
            events: vec![],
            description: None,
            secret_sealed: keyring.seal(
                &switchboard_server::webhooks::secret_context(&hook),
                "whsec_x",
            ),
            created_at: now,
        })
        .await
        .unwrap();
    let page = switchboard_store::pages::ConnectionPage {
        connection_id: ids[0].clone(),
        page_id: "p1".into(),
        name: "Page".into(),
        tasks: vec![],
        position: 0,
        selected: true,
        status: "ok".into(),
        access_token_sealed: Some(keyring.seal(
            &switchboard_server::routes::facebook_pages::page_context(&ids[0], "p1"),
            "page-token",
        )),
        last_error: None,
        last_checked_at: None,
        created_at: now,
        updated_at: now,
    };
    store.replace_pages(&ids[0], &[page], now).await.unwrap();
    let hash = "ab".repeat(32);
    store
        .insert_oauth_state(&switchboard_store::OAuthState {
            code_verifier_sealed: Some(keyring.seal(
                &switchboard_server::vaulted::verifier_context(&hash),
                "verifier",
            )),
            state_hash: hash,
            workspace_id: ws.id.clone(),
            platform: "twitter".into(),
            owner: "o".into(),
            redirect_uri: "http://x/cb".into(),
            scopes: vec![],
            return_to: None,
            connection_id: None,
            metadata: serde_json::json!({}),
            created_at: now,
            expires_at: now + chrono::Duration::hours(1),
            consumed_at: None,
        })
        .await
        .unwrap();
    (api_key, ids)
}

/// Every connection's token opens through the API and is the one seeded.
async fn all_tokens_decrypt(base: &str, api_key: &str, ids: &[String]) {
    let http = reqwest::Client::new();
    for (i, id) in ids.iter().enumerate() {
        let r = http
            .get(format!("{base}/v1/connections/{id}/token"))
            .bearer_auth(api_key)
            .send()
            .await
            .unwrap();
        let status = r.status();
        let body: Value = r.json().await.unwrap();
        assert_eq!(status, 200, "connection {id}: {body}");
        assert_eq!(
            body["access_token"],
            format!("access-{i}"),
            "connection {id}"
        );
    }
}

/// A string no other run uses (ids of seeded rows).
fn unique() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{}-{nanos}", std::process::id())
}

fn key_id(spec: &str) -> &str {
    spec.split(':').next().unwrap()
}

async fn rotation(url: String) {
    const N: usize = 120;
    let (api_key, ids) = seed(&url, OLD, N).await;
    let both = format!("{OLD},{NEW}");
    let new_id = key_id(NEW);
    let old_id = key_id(OLD);
    // 2 secrets per connection + webhook + Page + state.
    let total = 2 * N as u64 + 3;

    // The service runs with both keys, the new one active, all along.
    let (server, base) = start_server(&url, &both, Some(new_id)).await;
    all_tokens_decrypt(&base, &api_key, &ids).await;

    // Interrupted by --limit.
    let out = run(
        &[
            "keys",
            "rotate",
            "--database-url",
            &url,
            "--batch-size",
            "7",
            "--limit",
            "50",
            "--json",
        ],
        &both,
        Some(new_id),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = json_of(&out);
    assert_eq!(report["rotated"], 50);
    assert_eq!(report["stopped_at_limit"], true);
    assert_eq!(report["remaining"], total - 50);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("connections.access_token_sealed: 7/120 re-sealed"),
        "progress per batch: {stderr}"
    );
    all_tokens_decrypt(&base, &api_key, &ids).await;

    // Status and remove-check mid-way.
    let out = run(
        &["keys", "status", "--database-url", &url, "--json"],
        &both,
        Some(new_id),
    );
    assert!(out.status.success());
    let status = json_of(&out);
    assert_eq!(status["rows_per_key"][old_id], total - 50);
    assert_eq!(status["rows_per_key"][new_id], 50);
    assert_eq!(status["missing"], serde_json::json!([]));
    let out = run(
        &[
            "keys",
            "remove-check",
            old_id,
            "--database-url",
            &url,
            "--json",
        ],
        &both,
        Some(new_id),
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json_of(&out)["rows"], total - 50);

    // Killed mid-run: one row per batch, SIGKILL after the first progress line.
    let mut child = Command::new(BIN)
        .args([
            "keys",
            "rotate",
            "--database-url",
            &url,
            "--batch-size",
            "1",
        ])
        .env("SWITCHBOARD_KEYS", &both)
        .env("SWITCHBOARD_ACTIVE_KEY", new_id)
        .env_remove("SWITCHBOARD_CONFIG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let first = lines
        .by_ref()
        .map(Result::unwrap)
        .find(|l| l.contains("re-sealed"))
        .expect("a progress line");
    child.kill().unwrap();
    let _ = child.wait();
    assert!(first.contains("re-sealed"), "{first}");
    all_tokens_decrypt(&base, &api_key, &ids).await;

    // Resumed to the end.
    let out = run(
        &["keys", "rotate", "--database-url", &url, "--json"],
        &both,
        Some(new_id),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = json_of(&out);
    assert_eq!(report["remaining"], 0, "{report}");
    assert_eq!(report["stopped_at_limit"], false);
    let resumed = report["rotated"].as_u64().unwrap();
    assert!(
        resumed < total - 50 && resumed > 0,
        "the killed run kept what it did: {resumed}"
    );
    all_tokens_decrypt(&base, &api_key, &ids).await;
    let out = run(
        &["keys", "remove-check", old_id, "--database-url", &url],
        &both,
        Some(new_id),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // A second run finds nothing to do.
    let out = run(
        &["keys", "rotate", "--database-url", &url, "--json"],
        &both,
        Some(new_id),
    );
    assert_eq!(json_of(&out)["rotated"], 0);
    drop(server);

    // The new key alone is enough now.
    let (server, base) = start_server(&url, NEW, None).await;
    all_tokens_decrypt(&base, &api_key, &ids).await;
    drop(server);

    // The old key alone is refused, naming the key in use and its rows.
    let out = serve_command(free_port(), &url, OLD, None)
        .stdout(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("key \"{new_id}\": {total} rows")),
        "{stderr}"
    );
    let out = run(&["keys", "status", "--database-url", &url], OLD, None);
    assert_eq!(out.status.code(), Some(1), "a key in use is not configured");
    assert!(String::from_utf8_lossy(&out.stdout).contains("NOT CONFIGURED"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_rotation_interrupted_and_resumed_while_serving() {
    let dir = tempfile::tempdir().unwrap();
    rotation(switchboard_store::testing::fresh_sqlite_url(dir.path())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_rotation_interrupted_and_resumed_while_serving() {
    let url = switchboard_store::testing::fresh_postgres_url().await;
    rotation(url.clone()).await;
    switchboard_store::testing::drop_test_database(&url)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_backup_while_serving_and_restore() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("data/switchboard.db");
    let url = format!("sqlite://{}", db.display());
    let (api_key, ids) = seed(&url, OLD, 40).await;
    let backup = dir.path().join("backups/sb.db");
    let backup_s = backup.to_str().unwrap();

    let (server, base) = start_server(&url, OLD, None).await;
    let out = run(
        &["backup", backup_s, "--database-url", &url, "--json"],
        OLD,
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = json_of(&out);
    assert_eq!(report["connections"], 40);
    assert!(report["migration_version"].as_i64().unwrap() >= 9);
    // Not over an existing file without --force.
    let out = run(&["backup", backup_s, "--database-url", &url], OLD, None);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--force"));

    // Changes after the backup: a connection deleted, another added.
    let store = switchboard_store::connect(&url).await.unwrap();
    let ws = store
        .get_connection_by_id(&ids[0])
        .await
        .unwrap()
        .unwrap()
        .workspace_id;
    assert!(store.delete_connection(&ws, &ids[0]).await.unwrap());
    drop(store);

    // Restore refuses: the database exists (no --force), then it is in use.
    let out = run(&["restore", backup_s, "--database-url", &url], OLD, None);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--force"));
    let out = run(
        &["restore", backup_s, "--database-url", &url, "--force"],
        OLD,
        None,
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("in use"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    drop(server);

    // A damaged backup is refused before anything is touched.
    let damaged = dir.path().join("damaged.db");
    let mut bytes = std::fs::read(&backup).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid..mid + 4096].fill(0xA5);
    std::fs::write(&damaged, bytes).unwrap();
    let out = run(
        &[
            "restore",
            damaged.to_str().unwrap(),
            "--database-url",
            &url,
            "--force",
        ],
        OLD,
        None,
    );
    assert!(!out.status.success());

    let out = run(
        &[
            "restore",
            backup_s,
            "--database-url",
            &url,
            "--force",
            "--json",
        ],
        OLD,
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let moved = json_of(&out)["replaced_moved_to"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        std::path::Path::new(&moved).exists(),
        "the replaced database is kept"
    );

    let (_server, base2) = start_server(&url, OLD, None).await;
    assert_ne!(base, base2);
    all_tokens_decrypt(&base2, &api_key, &ids).await;
}

#[test]
fn postgres_backup_prints_the_pg_dump_command() {
    let out = run(
        &[
            "backup",
            "/backups/sb.dump",
            "--database-url",
            "postgres://sb:hunter2@db.internal:5432/switchboard",
        ],
        OLD,
        None,
    );
    assert_eq!(out.status.code(), Some(3));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        stdout.trim(),
        "pg_dump --format=custom --no-owner --no-privileges --file='/backups/sb.dump' --dbname='postgres://sb@db.internal:5432/switchboard'"
    );
    assert!(!String::from_utf8_lossy(&out.stderr).contains("hunter2"));
}

/// Figures for docs/OPERATIONS.md, not a check: 10,000 connections (20,000 sealed tokens)
/// re-sealed by `keys rotate` on SQLite and PostgreSQL, and a SQLite backup of them. Run with
/// `cargo test -p switchboard --test keys_backup -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement"]
async fn measure_rotation_and_backup_of_10k_connections() {
    let dir = tempfile::tempdir().unwrap();
    let pg = switchboard_store::testing::fresh_postgres_url().await;
    let both = format!("{OLD},{NEW}");
    for url in [
        switchboard_store::testing::fresh_sqlite_url(dir.path()),
        pg.clone(),
    ] {
        let seeded = std::time::Instant::now();
        seed(&url, OLD, 10_000).await;
        let seeding = seeded.elapsed();
        let out = run(
            &["keys", "rotate", "--database-url", &url, "--json"],
            &both,
            Some(key_id(NEW)),
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let r = json_of(&out);
        println!(
            "{}: seeded in {:.1} s; rotate: {} rows in {:.2} s = {} rows/s, {} left",
            url.split(':').next().unwrap(),
            seeding.as_secs_f64(),
            r["rotated"],
            r["seconds"].as_f64().unwrap(),
            r["rows_per_second"],
            r["remaining"]
        );
        if url.starts_with("sqlite") {
            let path = dir.path().join("backup.db");
            let out = run(
                &[
                    "backup",
                    path.to_str().unwrap(),
                    "--database-url",
                    &url,
                    "--json",
                ],
                &both,
                None,
            );
            assert!(out.status.success());
            let b = json_of(&out);
            println!(
                "sqlite backup: {} bytes, {} connections, {} ms",
                b["bytes"], b["connections"], b["millis"]
            );
        }
    }
    switchboard_store::testing::drop_test_database(&pg)
        .await
        .unwrap();
}
