//! `switchboard`: the one binary. `serve` runs the API, `sandbox` the platform simulators,
//! `demo` both with every platform connected, `doctor`-style helpers print the catalog and make
//! keys, `bench` measures the hot paths.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use switchboard_core::{Catalog, SystemClock};
use switchboard_server::config::{Config, ProcessEnv};
use switchboard_server::AppState;

mod backup;
mod bench;
mod browser;
mod config_check;
mod demo;
mod doctor;
mod keys;

/// Switchboard connects social media accounts over OAuth 2.0 and keeps them connected.
#[derive(Debug, Parser)]
#[command(name = "switchboard", version, about, long_about = None)]
struct Cli {
    /// Log format: `json` (default for serve) or `pretty`.
    #[arg(long, global = true, env = "SWITCHBOARD_LOG_FORMAT")]
    log_format: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP API (and its background work).
    Serve(ServeArgs),
    /// Run the local simulators of the seven platforms (OAuth and APIs).
    Sandbox(SandboxArgs),
    /// Start the sandbox and the server, connect one account on each platform through the real
    /// redirect flow, print the connections, and keep serving.
    Demo(DemoArgs),
    /// Print a new encryption key (`<key id>:<base64 key>`) for SWITCHBOARD_KEYS.
    Keygen,
    /// Print the platform catalog.
    Platforms(PlatformsArgs),
    /// Manage workspaces.
    #[command(subcommand)]
    Workspace(WorkspaceCommand),
    /// Check what connecting needs (credentials, redirect URIs, HTTPS, key, database, clock);
    /// exits non-zero when something blocks connecting.
    Doctor(doctor::DoctorArgs),
    /// Measure the hot paths against baselines taken in the same run.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Encryption keys: which ones the stored secrets use, re-sealing them all with the active
    /// key (online, resumable), whether an old key can be removed.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Take a consistent online backup of the SQLite database to PATH (for PostgreSQL, print
    /// the pg_dump command).
    Backup(backup::BackupArgs),
    /// Bring a SQLite backup back, after checking it (for PostgreSQL, print the pg_restore
    /// command).
    Restore(backup::RestoreArgs),
    /// Inspect the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Validate the configuration (file, `SWITCHBOARD_*` variables, `*_FILE` secrets) and print
    /// the effective settings with secrets redacted; exits 2 naming the setting at fault.
    Check(ConfigArgs),
}

/// Options shared by commands that open the configuration.
#[derive(Debug, Args, Clone)]
struct ConfigArgs {
    /// Configuration file (TOML).
    #[arg(long, env = "SWITCHBOARD_CONFIG")]
    config: Option<PathBuf>,
    /// Database URL: `sqlite://PATH` (default `sqlite://data/switchboard.db`) or `postgres://...`.
    #[arg(long, env = "SWITCHBOARD_DATABASE_URL")]
    database_url: Option<String>,
}

impl ConfigArgs {
    fn load(&self) -> anyhow::Result<Config> {
        let mut c = Config::load(self.config.as_deref(), &ProcessEnv)?;
        if let Some(d) = &self.database_url {
            c.database_url = d.clone();
        }
        Ok(c)
    }
}

#[derive(Debug, Args)]
struct ServeArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// Address to listen on (ADDR:PORT).
    #[arg(long, env = "SWITCHBOARD_LISTEN")]
    listen: Option<SocketAddr>,
    /// Base URL redirect URIs are built from (default: http://<listen>).
    #[arg(long, env = "SWITCHBOARD_PUBLIC_URL")]
    public_url: Option<String>,
    /// Point the built-in platforms at a sandbox (`switchboard sandbox`) at this URL.
    #[arg(long, env = "SWITCHBOARD_SANDBOX_URL")]
    sandbox_url: Option<String>,
    /// Development mode: without SWITCHBOARD_KEYS, use an ephemeral encryption key.
    #[arg(long)]
    dev: bool,
}

#[derive(Debug, Args)]
struct SandboxArgs {
    /// Address to listen on.
    #[arg(
        long,
        default_value = "127.0.0.1:9000",
        env = "SWITCHBOARD_SANDBOX_LISTEN"
    )]
    listen: SocketAddr,
    /// Skip the consent page: authorize at once with each platform's default test account.
    #[arg(long)]
    auto_consent: bool,
    /// Shorten a platform's access-token lifetime, as PLATFORM=SECONDS (repeatable), to watch
    /// refreshes happen.
    #[arg(long = "access-ttl", value_parser = parse_ttl)]
    access_ttl: Vec<(String, i64)>,
}

fn parse_ttl(s: &str) -> Result<(String, i64), String> {
    let (p, secs) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?}: expected PLATFORM=SECONDS"))?;
    let secs: i64 = secs
        .parse()
        .map_err(|_| format!("{secs:?} is not a whole number of seconds"))?;
    if secs < 1 {
        return Err("the lifetime must be at least 1 second".into());
    }
    Ok((p.to_string(), secs))
}

#[derive(Debug, Args)]
struct DemoArgs {
    /// Exit after printing the table: status 0 only if all seven platforms connected.
    #[arg(long)]
    exit: bool,
    /// Address of the API (default: a free port on 127.0.0.1).
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Address of the sandbox (default: a free port on 127.0.0.1).
    #[arg(long)]
    sandbox_listen: Option<SocketAddr>,
    /// Keep the demo database here instead of a temporary directory.
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct PlatformsArgs {
    /// Print JSON (an array of catalog entries) instead of a table.
    #[arg(long)]
    json: bool,
    /// Configuration file, for custom providers and host overrides.
    #[arg(long, env = "SWITCHBOARD_CONFIG")]
    config: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum WorkspaceCommand {
    /// Create a workspace and print its id and first API key (shown once).
    Create {
        /// Workspace name.
        name: String,
        #[command(flatten)]
        config: ConfigArgs,
    },
}

fn init_logging(format: Option<&str>, default_json: bool) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("SWITCHBOARD_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let json = match format {
        Some("json") => true,
        Some(_) => false,
        None => default_json,
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .init();
    } else {
        builder.compact().init();
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        // `serve` starts its logging once the configuration is read (Sentry, OTLP).
        Command::Serve(a) => serve(a, cli.log_format.as_deref()).await,
        Command::Sandbox(a) => {
            init_logging(cli.log_format.as_deref(), true);
            sandbox(a).await
        }
        Command::Demo(a) => {
            std::env::var("SWITCHBOARD_LOG")
                .is_err()
                .then(|| std::env::set_var("SWITCHBOARD_LOG", "warn"));
            init_logging(cli.log_format.as_deref(), false);
            demo::run(a.exit, a.listen, a.sandbox_listen, a.data_dir).await
        }
        Command::Keygen => {
            println!("{}", switchboard_vault::generate_key_spec());
            Ok(ExitCode::SUCCESS)
        }
        Command::Platforms(a) => platforms(a),
        Command::Doctor(a) => Ok(doctor::run(a).await),
        Command::Workspace(WorkspaceCommand::Create { name, config }) => {
            init_logging(cli.log_format.as_deref(), false);
            workspace_create(&name, &config).await
        }
        Command::Config(ConfigCommand::Check(a)) => a.load().map(|c| config_check::run(&c)),
        Command::Keys(a) => {
            quiet_logging(cli.log_format.as_deref());
            keys::run(a).await
        }
        Command::Backup(a) => {
            quiet_logging(cli.log_format.as_deref());
            backup::backup(a).await
        }
        Command::Restore(a) => {
            quiet_logging(cli.log_format.as_deref());
            backup::restore(a).await
        }
        Command::Bench(a) => {
            std::env::var("SWITCHBOARD_LOG")
                .is_err()
                .then(|| std::env::set_var("SWITCHBOARD_LOG", "error"));
            init_logging(cli.log_format.as_deref(), false);
            bench::run(a).await
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("switchboard: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Logging for the maintenance commands: warnings and errors only, unless SWITCHBOARD_LOG says
/// otherwise (their own output is progress and reports).
fn quiet_logging(format: Option<&str>) {
    if std::env::var("SWITCHBOARD_LOG").is_err() {
        std::env::set_var("SWITCHBOARD_LOG", "warn");
    }
    init_logging(format, false);
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

async fn serve(a: ServeArgs, log_format: Option<&str>) -> anyhow::Result<ExitCode> {
    let mut config = a.config.load()?;
    if let Some(l) = a.listen {
        config.listen = l;
        if a.public_url.is_none() && std::env::var("SWITCHBOARD_PUBLIC_URL").is_err() {
            config.public_url = format!("http://{l}");
        }
    }
    if let Some(p) = a.public_url {
        config.public_url = p.trim_end_matches('/').to_string();
    }
    if let Some(s) = a.sandbox_url {
        config.sandbox_url = Some(s);
    }
    config.dev = a.dev;
    // JSON log lines unless `--log-format pretty`; Sentry and OTLP export when configured. The
    // guard flushes both when `serve` returns.
    let settings = switchboard_server::telemetry::TelemetrySettings::from_config(
        &config,
        matches!(log_format, None | Some("json")),
    );
    // The OTLP exporter's HTTP client blocks: built off the async workers.
    let telemetry = tokio::task::block_in_place(|| switchboard_server::telemetry::init(settings))?;
    tracing::info!(
        sentry = telemetry.sentry_enabled(),
        otlp = telemetry.otlp_enabled(),
        metrics_listen = ?config.metrics_listen,
        "observability"
    );
    let listen = config.listen;
    let state = AppState::build(config, Arc::new(SystemClock)).await?;
    let listener = tokio::net::TcpListener::bind(listen).await?;
    tracing::info!(
        listen = %listener.local_addr()?,
        public_url = %state.config().public_url,
        database = state.store().backend(),
        "switchboard serving"
    );
    switchboard_server::serve(listener, state, shutdown_signal()).await?;
    tokio::task::spawn_blocking(move || drop(telemetry)).await?;
    Ok(ExitCode::SUCCESS)
}

async fn sandbox(a: SandboxArgs) -> anyhow::Result<ExitCode> {
    let config = switchboard_sandbox::SandboxConfig {
        auto_consent: a.auto_consent,
        access_ttl_secs: a.access_ttl.into_iter().collect(),
        ..Default::default()
    };
    let sb = switchboard_sandbox::Sandbox::new(config);
    let listener = tokio::net::TcpListener::bind(a.listen).await?;
    let addr = listener.local_addr()?;
    tracing::info!(listen = %addr, "sandbox serving");
    println!("Sandbox of the seven platforms at http://{addr}");
    println!("Point Switchboard at it: switchboard serve --sandbox-url http://{addr}");
    sb.serve(listener, shutdown_signal()).await?;
    Ok(ExitCode::SUCCESS)
}

fn platforms(a: PlatformsArgs) -> anyhow::Result<ExitCode> {
    let config = Config::load(a.config.as_deref(), &ProcessEnv)?;
    let catalog: Catalog = switchboard_server::build_catalog(&config)?;
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&platforms_json(&catalog))?
        );
    } else {
        println!(
            "{:<10} {:<16} {:<20} {:<9} {:<5} REFRESH",
            "ID", "NAME", "CLIENT AUTH", "PKCE", "SEP"
        );
        for p in catalog.all() {
            println!(
                "{:<10} {:<16} {:<20} {:<9} {:<5} {:?}",
                p.id,
                p.display_name,
                p.client_auth.as_str(),
                format!("{:?}", p.pkce).to_lowercase(),
                format!("{:?}", p.scope_separator),
                p.token.refresh
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The JSON array `switchboard platforms --json` prints: every catalog entry with the flat keys
/// tools read (`authorization_url`, `token_url`, `revocation_url`, `client_auth`, `pkce`,
/// `scope_separator`, `api_version`: the version in use, configuration and environment
/// applied, `null` where the platform has none) next to the full entry.
fn platforms_json(catalog: &Catalog) -> serde_json::Value {
    serde_json::Value::Array(
        catalog
            .all()
            .iter()
            .map(|p| {
                let mut v = serde_json::to_value(p).unwrap_or_default();
                if let Some(m) = v.as_object_mut() {
                    m.insert(
                        "authorization_url".into(),
                        p.endpoints.authorization_url.clone().into(),
                    );
                    m.insert("token_url".into(), p.endpoints.token_url.clone().into());
                    m.insert(
                        "revocation_url".into(),
                        p.endpoints.revocation_url.clone().into(),
                    );
                    m.insert("profile_url".into(), p.endpoints.profile_url.clone().into());
                    m.insert("client_auth".into(), p.client_auth.as_str().into());
                }
                v
            })
            .collect(),
    )
}

async fn workspace_create(name: &str, args: &ConfigArgs) -> anyhow::Result<ExitCode> {
    let config = args.load()?;
    let store = switchboard_store::connect(&config.database_url).await?;
    let (ws, key) =
        switchboard_server::create_workspace(store.as_ref(), name, chrono::Utc::now()).await?;
    println!("workspace_id: {}", ws.id);
    println!("api_key:      {key}");
    eprintln!("Keep the API key now: only its hash is stored, it cannot be shown again.");
    Ok(ExitCode::SUCCESS)
}
