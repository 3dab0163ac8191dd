//! `switchboard doctor`: checks, before anyone clicks connect, that this configuration can
//! connect accounts; prints each check in plain words and exits non-zero when something that
//! blocks connecting is wrong.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use switchboard_core::Catalog;
use switchboard_server::config::ProcessEnv;
use switchboard_server::prerequisites::{self, Check, Status};
use switchboard_server::Config;

/// Options of `switchboard doctor`.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Configuration file (TOML).
    #[arg(long, env = "SWITCHBOARD_CONFIG")]
    config: Option<PathBuf>,
    /// Check only this platform; other configured platforms are reported as warnings.
    #[arg(long)]
    platform: Option<String>,
}

/// How long the database check waits, seconds.
const DATABASE_TIMEOUT_SECS: u64 = 5;

fn catalog(config: &Config) -> Result<Catalog, String> {
    switchboard_server::build_catalog(config).map_err(|e| e.to_string())
}

async fn database(url: &str) -> Result<(), String> {
    let connect = async {
        let store = switchboard_store::connect(url)
            .await
            .map_err(|e| e.to_string())?;
        store.ping().await.map_err(|e| e.to_string())
    };
    match tokio::time::timeout(Duration::from_secs(DATABASE_TIMEOUT_SECS), connect).await {
        Ok(r) => r,
        Err(_) => Err(format!("no answer within {DATABASE_TIMEOUT_SECS} s")),
    }
}

fn print_check(c: &Check) {
    let tag = match c.status {
        Status::Pass => "ok  ",
        Status::Warn => "warn",
        Status::Fail => "FAIL",
    };
    println!("  [{tag}] {}: {}", c.name, c.detail);
    if c.status != Status::Pass {
        if let Some(fix) = &c.fix {
            println!("         fix: {fix}");
        }
    }
}

/// Runs the checks. Exit status 0 when nothing blocks connecting, 1 when something does, 2 when
/// the configuration cannot be read or `--platform` names no platform.
pub async fn run(args: DoctorArgs) -> ExitCode {
    let config = match Config::load(args.config.as_deref(), &ProcessEnv) {
        Ok(c) => c,
        Err(e) => {
            println!("Configuration: FAIL: {e}");
            println!(
                "  fix: correct the setting named above, then run `switchboard doctor` again."
            );
            return ExitCode::from(2);
        }
    };
    let catalog = match catalog(&config) {
        Ok(c) => c,
        Err(e) => {
            println!("Catalog: FAIL: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(p) = &args.platform {
        if catalog.get(p).is_none() {
            println!(
                "There is no platform {p:?}; known platforms: {}",
                catalog.ids().join(", ")
            );
            return ExitCode::from(2);
        }
    }
    // The platforms people will connect: the one asked for, else every configured one (all
    // built-ins when a sandbox stands in for them).
    let asked = |id: &str| match &args.platform {
        Some(p) => p == id,
        None => config.sandbox_url.is_some() || prerequisites::is_configured(&config, id),
    };
    let mut blocking: Vec<String> = Vec::new();

    println!("Switchboard doctor");
    println!("General");
    let first_asked = catalog.all().iter().find(|p| asked(&p.id));
    let remote = match first_asked {
        Some(p) => prerequisites::platform_date(p).await,
        None => None,
    };
    let general = [
        prerequisites::public_url_check(&config),
        prerequisites::key_check(&config),
        prerequisites::database_check(database(&config.database_url).await),
        prerequisites::clock_check(
            chrono::Utc::now(),
            remote.as_ref().map(|(h, d)| (h.as_str(), *d)),
        ),
    ];
    for c in &general {
        print_check(c);
        if c.status == Status::Fail {
            blocking.push(c.name.to_string());
        }
    }

    let mut any_asked = false;
    for spec in catalog.all() {
        let is_asked = asked(&spec.id);
        let configured = prerequisites::is_configured(&config, &spec.id);
        if !is_asked && !configured && args.platform.is_some() {
            continue;
        }
        any_asked |= is_asked;
        println!("{} ({})", spec.display_name, spec.id);
        println!(
            "  redirect URI to register: {}",
            config.redirect_uri(&spec.id)
        );
        if switchboard_server::meta_callbacks::is_meta(&spec.id) {
            // Required for an app in live mode (and for App Review).
            println!(
                "  Deauthorize Callback URL to register: {}",
                config.deauthorize_url(&spec.id)
            );
            println!(
                "  Data Deletion Request Callback URL to register: {}",
                config.data_deletion_url(&spec.id)
            );
        }
        let checks: Vec<Check> = prerequisites::platform_checks(&config, spec)
            .into_iter()
            .filter(|c| c.name != "public_url_https")
            .map(|mut c| {
                // Problems of platforms nobody asked for do not block anything.
                if !is_asked && c.status == Status::Fail {
                    c.status = Status::Warn;
                }
                c
            })
            .collect();
        if !is_asked && !configured {
            println!("  [warn] not configured: connecting {} is not possible until its client id and secret are set", spec.display_name);
            continue;
        }
        for c in &checks {
            print_check(c);
            if c.status == Status::Fail {
                blocking.push(format!("{}.{}", spec.id, c.name));
            }
        }
    }
    if !any_asked {
        println!("No platform is configured: add [platforms.<id>] client_id and client_secret (or SWITCHBOARD_<ID>_CLIENT_ID / _CLIENT_SECRET).");
        blocking.push("platforms".into());
    }

    if blocking.is_empty() {
        println!("Result: ready; nothing blocks connecting.");
        ExitCode::SUCCESS
    } else {
        println!(
            "Result: {} problem(s) block connecting: {}",
            blocking.len(),
            blocking.join(", ")
        );
        ExitCode::from(1)
    }
}
