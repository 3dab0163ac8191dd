//! `switchboard keys status|rotate|remove-check`: which encryption keys the stored secrets use,
//! re-sealing them all with the active key while the service runs, and whether an old key can
//! be dropped.
//!
//! The procedure (docs/OPERATIONS.md, "Rotating the encryption key"):
//! 1. `switchboard keygen`, append the new key to `SWITCHBOARD_KEYS`, set
//!    `SWITCHBOARD_ACTIVE_KEY` to its id, restart the instances one by one (new secrets are now
//!    sealed with it, old ones still open);
//! 2. `switchboard keys rotate` with the same configuration (online, resumable);
//! 3. `switchboard keys remove-check OLD_ID`, then drop the old key and restart.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Instant;

use clap::{Args, Subcommand};
use secrecy::ExposeSecret;
use switchboard_server::routes::facebook_pages::page_context;
use switchboard_server::vaulted::{
    access_context, bulk_url_context, refresh_context, verifier_context,
};
use switchboard_server::webhooks::secret_context;
use switchboard_store::maintenance::{
    rotate_keys, KeyUsage, RotateOptions, SealedColumn, SealedRow,
};
use switchboard_vault::Keyring;

use crate::ConfigArgs;

/// `switchboard keys ...`
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// How many stored secrets each key id seals, per table and column; flags key ids that are
    /// not configured. Exits 1 when some are not.
    Status(StatusArgs),
    /// Re-seal every stored secret with the active key, online and resumable. Progress goes to
    /// stderr; exits 0 when nothing is left on another key (or a --limit was reached).
    Rotate(RotateArgs),
    /// Tell whether a key can be removed from SWITCHBOARD_KEYS: exits 0 when no stored secret
    /// uses it and it is not the active key, 1 otherwise.
    RemoveCheck(RemoveCheckArgs),
}

/// Options of `keys status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// Print JSON (`{active_key, configured_keys, usage: [{column, key_id, rows}], missing}`).
    #[arg(long)]
    json: bool,
}

/// Options of `keys rotate`.
#[derive(Debug, Args)]
pub struct RotateArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// Rows read and rewritten per transaction.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    batch_size: u32,
    /// Stop after re-sealing this many rows (run again to continue).
    #[arg(long)]
    limit: Option<u64>,
    /// Print the final report as JSON on stdout.
    #[arg(long)]
    json: bool,
}

/// Options of `keys remove-check`.
#[derive(Debug, Args)]
pub struct RemoveCheckArgs {
    /// The key id (the part before ':' in SWITCHBOARD_KEYS).
    key_id: String,
    #[command(flatten)]
    config: ConfigArgs,
    /// Print JSON (`{key_id, removable, active, rows, usage}`).
    #[arg(long)]
    json: bool,
}

/// Runs a `keys` subcommand.
///
/// # Errors
/// Configuration, keyring and database failures.
pub async fn run(command: KeysCommand) -> anyhow::Result<ExitCode> {
    match command {
        KeysCommand::Status(a) => status(a).await,
        KeysCommand::Rotate(a) => rotate(a).await,
        KeysCommand::RemoveCheck(a) => remove_check(a).await,
    }
}

/// The configured keyring; `None` when no key is configured.
fn keyring(config: &switchboard_server::Config) -> anyhow::Result<Option<Keyring>> {
    config
        .keys
        .as_ref()
        .map(|k| Keyring::parse(k.expose_secret(), config.active_key.as_deref()))
        .transpose()
        .map_err(Into::into)
}

fn key_label(key: &str) -> &str {
    if key.is_empty() {
        "(not a vault ciphertext)"
    } else {
        key
    }
}

async fn status(a: StatusArgs) -> anyhow::Result<ExitCode> {
    let config = a.config.load()?;
    let keyring = keyring(&config)?;
    let store = switchboard_store::connect(&config.database_url).await?;
    let usage = store.sealed_key_usage().await?;
    let configured = keyring.as_ref().map(Keyring::key_ids).unwrap_or_default();
    let active = keyring.as_ref().map(|k| k.active_id().to_string());
    let mut per_key: BTreeMap<&str, u64> = BTreeMap::new();
    for u in &usage {
        *per_key.entry(u.key_id.as_str()).or_default() += u.rows;
    }
    let missing: Vec<&str> = per_key
        .keys()
        .copied()
        .filter(|k| !configured.iter().any(|c| c == k))
        .collect();
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "active_key": active,
                "configured_keys": configured,
                "usage": usage,
                "rows_per_key": per_key,
                "missing": missing,
            }))?
        );
    } else {
        println!("{:<38} {:<26} {:>10}", "COLUMN", "KEY", "ROWS");
        for u in &usage {
            println!(
                "{:<38} {:<26} {:>10}",
                u.column.name(),
                key_label(&u.key_id),
                u.rows
            );
        }
        println!();
        for (key, rows) in &per_key {
            let note = if Some(*key) == active.as_deref() {
                " (active)"
            } else if configured.iter().any(|c| c == key) {
                " (configured, not active: `switchboard keys rotate` moves these)"
            } else {
                " (NOT CONFIGURED: the server will refuse to start)"
            };
            println!("key {}: {rows} rows{note}", key_label(key));
        }
        for key in configured
            .iter()
            .filter(|k| !per_key.contains_key(k.as_str()))
        {
            let note = if Some(key.as_str()) == active.as_deref() {
                " (active)"
            } else {
                ": `switchboard keys remove-check` to confirm it can go"
            };
            println!("key {key}: 0 rows{note}");
        }
        if keyring.is_none() {
            eprintln!("No SWITCHBOARD_KEYS configured: cannot tell which keys are missing.");
        }
    }
    Ok(if missing.is_empty() || keyring.is_none() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The vault context of a sealed row: the same strings the server seals with.
fn context(row: &SealedRow) -> String {
    match row.column {
        SealedColumn::ConnectionAccessToken => access_context(&row.id),
        SealedColumn::ConnectionRefreshToken => refresh_context(&row.id),
        SealedColumn::PageAccessToken => {
            page_context(&row.id, row.page_id.as_deref().unwrap_or_default())
        }
        SealedColumn::OAuthStateCodeVerifier => verifier_context(&row.id),
        SealedColumn::WebhookSecret => secret_context(&row.id),
        SealedColumn::BulkSessionAuthorizationUrl => bulk_url_context(&row.id),
    }
}

/// Opens a row's ciphertext and seals it with the active key. The error is the vault's reason,
/// which never carries plaintext or key material.
fn reseal(keyring: &Keyring, row: &SealedRow) -> Result<String, String> {
    let ctx = context(row);
    match keyring.reseal(&ctx, &row.sealed) {
        Ok(Some(new)) => Ok(new),
        // Already on the active key (cannot happen: the batch excludes those); keep it.
        Ok(None) => Ok(row.sealed.clone()),
        Err(e) => Err(e.to_string()),
    }
}

async fn rotate(a: RotateArgs) -> anyhow::Result<ExitCode> {
    let config = a.config.load()?;
    let keyring = keyring(&config)?.ok_or_else(|| {
        anyhow::anyhow!(
            "no encryption keys configured: set SWITCHBOARD_KEYS to the old and new keys and \
             SWITCHBOARD_ACTIVE_KEY to the new key's id"
        )
    })?;
    let store = switchboard_store::connect(&config.database_url).await?;
    let active = keyring.active_id().to_string();
    eprintln!(
        "Re-sealing stored secrets with key {active} ({} database, batches of {}{})",
        store.backend(),
        a.batch_size,
        a.limit
            .map(|l| format!(", at most {l} rows"))
            .unwrap_or_default()
    );
    let started = Instant::now();
    let report = rotate_keys(
        store.as_ref(),
        &active,
        RotateOptions {
            batch_size: a.batch_size,
            limit: a.limit,
        },
        |row| reseal(&keyring, row),
        |p| {
            let failed: u64 = p.failed.values().sum();
            eprintln!(
                "{}: {}/{} re-sealed, {} changed meanwhile, {} failed",
                p.column,
                p.rotated + p.changed_meanwhile + failed,
                p.total,
                p.changed_meanwhile,
                failed
            );
        },
    )
    .await?;
    let secs = started.elapsed().as_secs_f64();
    let rotated = report.rotated();
    let rate = if secs > 0.0 {
        rotated as f64 / secs
    } else {
        0.0
    };
    eprintln!();
    for c in &report.columns {
        eprintln!(
            "{:<38} {:>8} on other keys at start, {:>8} re-sealed, {:>4} changed meanwhile",
            c.column, c.total, c.rotated, c.changed_meanwhile
        );
        for (reason, n) in &c.failed {
            eprintln!(
                "    {n} failed: {reason} (rows {})",
                c.failed_rows.join(", ")
            );
        }
    }
    eprintln!(
        "{rotated} secrets re-sealed with key {active} in {secs:.2} s ({rate:.0} rows/s); {} left on other keys",
        report.remaining
    );
    if report.stopped_at_limit {
        eprintln!("Stopped at --limit: run `switchboard keys rotate` again to continue.");
    } else if report.remaining > 0 && report.failed() == 0 {
        eprintln!(
            "Some secrets were written on another key while this ran (an instance whose active \
             key is not {active}?): restart every instance with SWITCHBOARD_ACTIVE_KEY={active}, \
             then run `switchboard keys rotate` again."
        );
    }
    if a.json {
        let mut v = serde_json::to_value(&report)?;
        v["rotated"] = rotated.into();
        v["seconds"] = secs.into();
        v["rows_per_second"] = rate.round().into();
        println!("{}", serde_json::to_string_pretty(&v)?);
    }
    Ok(if report.failed() > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

async fn remove_check(a: RemoveCheckArgs) -> anyhow::Result<ExitCode> {
    let config = a.config.load()?;
    let keyring = keyring(&config)?;
    let store = switchboard_store::connect(&config.database_url).await?;
    let usage: Vec<KeyUsage> = store
        .sealed_key_usage()
        .await?
        .into_iter()
        .filter(|u| u.key_id == a.key_id)
        .collect();
    let rows: u64 = usage.iter().map(|u| u.rows).sum();
    let active = keyring.as_ref().is_some_and(|k| k.active_id() == a.key_id);
    let removable = rows == 0 && !active;
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "key_id": a.key_id,
                "removable": removable,
                "active": active,
                "rows": rows,
                "usage": usage,
            }))?
        );
    } else if active {
        println!(
            "Key {} is the active key: make another key active (SWITCHBOARD_ACTIVE_KEY), restart, \
             run `switchboard keys rotate`, then check again.",
            a.key_id
        );
    } else if rows > 0 {
        let detail: Vec<String> = usage
            .iter()
            .map(|u| format!("{} in {}", u.rows, u.column.name()))
            .collect();
        println!(
            "Key {} still seals {rows} stored secrets ({}): run `switchboard keys rotate` first.",
            a.key_id,
            detail.join(", ")
        );
    } else {
        println!(
            "No stored secret uses key {}: it can be removed from SWITCHBOARD_KEYS once no \
             instance runs with it as the active key.",
            a.key_id
        );
    }
    Ok(if removable {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
