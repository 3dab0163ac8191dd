//! The dashboard in a real browser: Debian's headless Chromium, driven by `playwright-core`
//! (`tests/e2e/`, installed by `scripts/install-test-deps.sh`), against the built binary run as
//! `switchboard sandbox` and `switchboard serve` on a fresh SQLite database.
//!
//! `tests/e2e/dashboard.spec.mjs` plays the scenarios in order: sign in, connect an account by
//! clicking through the sandbox consent page, see it healthy, schedule a post and see it
//! published, make the connection fail and see its diagnosis, sign out; axe-core checks the
//! main pages for serious or critical accessibility violations. Every scenario saves a
//! screenshot in `target/e2e-screenshots/` (a failing one is named `...-FAILED.png`); the paths
//! are printed in the output.
//!
//! Missing Chromium or Node packages fail the test (never a silent skip): run
//! `scripts/install-test-deps.sh`, as CI does.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{free_port, start_sandbox, start_server, wait_healthy, BIN};

mod support;

/// The longest the browser scenarios may take (they take about 30 s).
const SPEC_TIMEOUT: Duration = Duration::from_secs(300);

/// The repository root.
fn repo_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root)
}

/// The Chromium binary: `SWITCHBOARD_CHROMIUM` or Debian's `/usr/bin/chromium`.
fn chromium() -> PathBuf {
    std::env::var_os("SWITCHBOARD_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"))
}

/// Panics with the fix when the browser, Node or the test's npm packages are missing.
fn require_tools(e2e: &Path) {
    let chromium = chromium();
    assert!(
        chromium.exists(),
        "{} is missing: the dashboard's browser tests need Debian's chromium; run \
         scripts/install-test-deps.sh (CI does) or set SWITCHBOARD_CHROMIUM",
        chromium.display()
    );
    let node = Command::new("node").arg("--version").output();
    assert!(
        node.is_ok_and(|o| o.status.success()),
        "node is not installed (Node.js >= 20 is needed by tests/e2e)"
    );
    for package in ["playwright-core", "axe-core"] {
        assert!(
            e2e.join("node_modules").join(package).exists(),
            "{package} is not installed in tests/e2e: run scripts/install-test-deps.sh (CI does)"
        );
    }
}

/// Creates a workspace in `database_url` with the CLI and returns its first API key.
fn create_workspace(database_url: &str) -> String {
    let out = Command::new(BIN)
        .args(["workspace", "create", "e2e", "--database-url", database_url])
        .env("SWITCHBOARD_KEYS", support::KEYS)
        .output()
        .expect("switchboard workspace create");
    assert!(
        out.status.success(),
        "workspace create: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("api_key:"))
        .map(|k| k.trim().to_string())
        .expect("api key printed")
}

/// Runs `node tests/e2e/<spec>` against `base` and `sandbox`; returns whether it passed, with
/// its output printed (it names every screenshot).
fn run_spec(spec: &str, base: &str, sandbox: &str, key: &str, admin_password: &str) -> bool {
    let root = repo_root();
    let e2e = root.join("tests/e2e");
    let screenshots = root.join("target/e2e-screenshots");
    let started = Instant::now();
    let mut child = Command::new("node")
        .arg(e2e.join(spec))
        .current_dir(&e2e)
        .env("SWITCHBOARD_URL", base)
        .env("SANDBOX_URL", sandbox)
        .env("SWITCHBOARD_API_KEY", key)
        .env("SWITCHBOARD_ADMIN_PASSWORD", admin_password)
        .env("E2E_SCREENSHOTS", &screenshots)
        .env("CHROMIUM", chromium())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node runs");
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = r.read_to_string(&mut s);
            s
        })
    };
    let stdout = drain(Box::new(child.stdout.take().expect("stdout")));
    let stderr = drain(Box::new(child.stderr.take().expect("stderr")));
    // A browser that hangs must not hang the suite.
    let status = loop {
        if let Some(status) = child.try_wait().expect("node status") {
            break Some(status);
        }
        if started.elapsed() > SPEC_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    println!(
        "--- node tests/e2e/{spec}: {} in {:.1} s; screenshots in {}",
        status.map_or_else(
            || format!("killed after {} s", SPEC_TIMEOUT.as_secs()),
            |s| s.to_string()
        ),
        started.elapsed().as_secs_f64(),
        screenshots.display()
    );
    println!("{}", stdout.join().unwrap_or_default());
    eprintln!("{}", stderr.join().unwrap_or_default());
    status.is_some_and(|s| s.success())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_works_in_a_real_browser() {
    let e2e = repo_root().join("tests/e2e");
    require_tools(&e2e);

    let dir = tempfile::tempdir().expect("temp dir");
    let database_url = format!("sqlite://{}", dir.path().join("e2e.db").display());
    let (_sandbox, sandbox) = start_sandbox(&[]);
    let key = create_workspace(&database_url);
    let admin_password = "e2e admin password, not a secret";
    let port = free_port();
    let _server = start_server(
        port,
        &database_url,
        &sandbox,
        &[],
        &[("SWITCHBOARD_ADMIN_PASSWORD", admin_password)],
    );
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    wait_healthy(&http, &base).await;

    let passed = tokio::task::spawn_blocking(move || {
        run_spec("dashboard.spec.mjs", &base, &sandbox, &key, admin_password)
    })
    .await
    .expect("spec thread");
    assert!(
        passed,
        "the browser scenarios failed: see the output above and target/e2e-screenshots/*-FAILED.png"
    );
}
