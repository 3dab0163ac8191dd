//! Real processes for the CLI tests: the built `switchboard` binary as a sandbox and as servers.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_switchboard");
/// A fixed test encryption key (not a real secret).
pub const KEYS: &str = "ktest:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

/// A child process killed (SIGKILL on Unix) when dropped. A server's standard error (its log
/// lines) is captured in the file of the second field; once the process is gone, the capture
/// is checked for secrets (the log-capture proof, see `assert_no_secrets_logged`).
pub struct Proc(pub Child, pub Option<PathBuf>);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        if let (Some(path), false) = (&self.1, std::thread::panicking()) {
            assert_no_secrets_logged(path);
        }
    }
}

/// Log level of captured server processes: Switchboard's crates at DEBUG (every platform call
/// logs its span), the rest at INFO. A test's own `SWITCHBOARD_LOG` wins.
pub const CAPTURE_LOG: &str =
    "info,switchboard_server=debug,switchboard_oauth=debug,switchboard_publish=debug";

/// A new capture file `target/log-capture/cli-<test binary>-<pid>-<n>.log`.
pub fn capture_file() -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/log-capture");
    std::fs::create_dir_all(&dir).expect("log capture directory");
    let exe = std::env::current_exe().ok();
    let name = exe
        .as_deref()
        .and_then(Path::file_stem)
        .and_then(|n| n.to_str())
        .unwrap_or("cli")
        .to_string();
    dir.join(format!(
        "cli-{name}-{}-{}.log",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ))
}

/// Panics when a captured log holds a sandbox token or code (by shape) or the test encryption
/// key.
pub fn assert_no_secrets_logged(path: &Path) {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let known: Vec<String> = KEYS
        .split_once(':')
        .map(|(_, k)| vec![k.to_string(), k.trim_end_matches('=').to_string()])
        .unwrap_or_default();
    let leaks = switchboard_sandbox::leaks::find_leaks(&text, &known);
    assert!(
        leaks.is_empty(),
        "secrets in the log capture {}: {leaks:#?}",
        path.display()
    );
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Starts `switchboard sandbox` on a free port with `extra` arguments; returns it and its URL.
pub fn start_sandbox(extra: &[&str]) -> (Proc, String) {
    let mut child = Command::new(BIN)
        .args(["sandbox", "--listen", "127.0.0.1:0"])
        .args(extra)
        .env("SWITCHBOARD_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("sandbox starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut reader = BufReader::new(stdout);
    let mut line = String::new();
    reader.read_line(&mut line).expect("ready line");
    // Keep reading: a closed pipe would end the sandbox at its next line of output.
    std::thread::spawn(move || {
        let mut sink = String::new();
        while reader.read_line(&mut sink).is_ok_and(|n| n > 0) {
            sink.clear();
        }
    });
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL in {line:?}"))
        .to_string();
    (Proc(child, None), url)
}

/// Starts `switchboard serve` on `port` against `database_url` and the sandbox, with `extra`
/// arguments and environment variables.
pub fn start_server(
    port: u16,
    database_url: &str,
    sandbox: &str,
    extra: &[&str],
    env: &[(&str, &str)],
) -> Proc {
    let capture = capture_file();
    let stderr = std::fs::File::create(&capture).expect("log capture file");
    let child = Command::new(BIN)
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--database-url",
            database_url,
            "--sandbox-url",
            sandbox,
        ])
        .args(extra)
        .env("SWITCHBOARD_KEYS", KEYS)
        .env("SWITCHBOARD_LOG", CAPTURE_LOG)
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .expect("server starts");
    Proc(child, Some(capture))
}

/// Waits until `base` answers `/healthz` (at most 10 s).
pub async fn wait_healthy(client: &reqwest::Client, base: &str) {
    for _ in 0..400 {
        if client
            .get(format!("{base}/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{base} did not become healthy");
}

/// `switchboard workspace create NAME --database-url URL`; returns the printed API key.
pub fn create_workspace(name: &str, database_url: &str) -> String {
    let out = Command::new(BIN)
        .args(["workspace", "create", name, "--database-url", database_url])
        .env("SWITCHBOARD_KEYS", KEYS)
        .output()
        .expect("workspace create");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("api_key:"))
        .map(|k| k.trim().to_string())
        .expect("api key printed")
}

/// `GET url` as JSON, asserting a 2xx answer.
pub async fn get_json(client: &reqwest::Client, url: &str) -> serde_json::Value {
    let r = client.get(url).send().await.expect("GET");
    assert!(r.status().is_success(), "{url}: {}", r.status());
    r.json().await.expect("JSON")
}

/// Adds a sandbox fault (`POST /__sandbox/faults`): the next `times` calls of `endpoint` on
/// `platform` answer `delay_ms` later (only delayed: the real handler answers).
pub async fn delay_sandbox(
    client: &reqwest::Client,
    sandbox: &str,
    platform: &str,
    endpoint: &str,
    delay_ms: u64,
    times: u32,
) {
    let r = client
        .post(format!("{sandbox}/__sandbox/faults"))
        .json(&serde_json::json!({"platform": platform, "endpoint": endpoint, "delay_ms": delay_ms, "times": times}))
        .send()
        .await
        .expect("fault");
    assert!(r.status().is_success(), "fault: {}", r.status());
}

/// Two `switchboard serve` processes on free ports sharing `database_url` and the sandbox,
/// with the environment `env`, both answering `/healthz`. Gives the processes, their base URLs
/// (`http://127.0.0.1:PORT`) and a client that does not follow redirects.
pub async fn start_two_servers(
    database_url: &str,
    sandbox: &str,
    env: &[(&str, &str)],
) -> ((Proc, Proc), (String, String), reqwest::Client) {
    let (pa, pb) = (free_port(), free_port());
    let procs = (
        start_server(pa, database_url, sandbox, &[], env),
        start_server(pb, database_url, sandbox, &[], env),
    );
    let (a, b) = (
        format!("http://127.0.0.1:{pa}"),
        format!("http://127.0.0.1:{pb}"),
    );
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    wait_healthy(&http, &a).await;
    wait_healthy(&http, &b).await;
    (procs, (a, b), http)
}

/// Starts a connect session for `platform` and `owner` on the server at `base` (with the API
/// key `key`), allows it at the sandbox's consent page (`X-Sandbox-Consent: allow`) and gives
/// the callback URL the platform redirects the browser to. Panics unless consent redirects.
pub async fn allowed_callback(
    http: &reqwest::Client,
    base: &str,
    key: &str,
    platform: &str,
    owner: &str,
) -> String {
    let start: serde_json::Value = http
        .post(format!("{base}/v1/connect/{platform}"))
        .bearer_auth(key)
        .json(&serde_json::json!({ "owner": owner }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let r = http
        .get(start["authorization_url"].as_str().unwrap())
        .header("X-Sandbox-Consent", "allow")
        .send()
        .await
        .unwrap();
    assert!(r.status().is_redirection(), "{}", r.status());
    r.headers()["location"].to_str().unwrap().to_string()
}
