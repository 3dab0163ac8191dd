//! `switchboard backup PATH` and `switchboard restore PATH`.
//!
//! SQLite: a consistent online copy with `VACUUM INTO` while the server runs, checked
//! (`integrity_check`, migrations) before it is put in place; a restore checks the backup the
//! same way, refuses a database that any process has open, and moves the replaced one aside
//! (`switchboard_store::maintenance::{backup_sqlite, restore_sqlite}`).
//!
//! PostgreSQL: Switchboard does not copy a server database itself; both commands print the
//! exact `pg_dump` / `pg_restore` command for the configured URL (password left out: give it
//! through `PGPASSWORD` or `~/.pgpass`) and exit 3 without doing anything.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use switchboard_store::maintenance::{backup_sqlite, restore_sqlite, BackupReport};

use crate::ConfigArgs;

/// Exit status when the command only printed what to run (PostgreSQL).
const PRINTED_ONLY: u8 = 3;

/// Options of `switchboard backup`.
#[derive(Debug, Args)]
pub struct BackupArgs {
    /// Where to write the backup (a new SQLite file).
    path: PathBuf,
    #[command(flatten)]
    config: ConfigArgs,
    /// Replace PATH if it exists.
    #[arg(long)]
    force: bool,
    /// Print the report as JSON (`{path, bytes, millis, migration_version, connections}`).
    #[arg(long)]
    json: bool,
}

/// Options of `switchboard restore`.
#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The backup file to bring back.
    path: PathBuf,
    #[command(flatten)]
    config: ConfigArgs,
    /// Replace an existing database (it is moved aside to `<file>.replaced-<unix seconds>`).
    /// A database that a process has open is never replaced.
    #[arg(long)]
    force: bool,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// Single-quotes a word for a POSIX shell.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The URL without its password, and whether it had one.
fn without_password(url: &str) -> (String, bool) {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(None);
            (u.to_string(), true)
        }
        _ => (url.to_string(), false),
    }
}

/// The `pg_dump` command that backs up `url` to `path`: custom format (compressed, restorable
/// table by table), without ownership so it restores under another role.
pub fn pg_dump_command(url: &str, path: &Path) -> String {
    let (url, _) = without_password(url);
    format!(
        "pg_dump --format=custom --no-owner --no-privileges --file={} --dbname={}",
        quote(&path.to_string_lossy()),
        quote(&url)
    )
}

/// The `pg_restore` command that brings `path` back into `url`, in one transaction, dropping
/// the objects it recreates.
pub fn pg_restore_command(url: &str, path: &Path) -> String {
    let (url, _) = without_password(url);
    format!(
        "pg_restore --clean --if-exists --no-owner --no-privileges --single-transaction --exit-on-error --dbname={} {}",
        quote(&url),
        quote(&path.to_string_lossy())
    )
}

fn password_note(url: &str) {
    if without_password(url).1 {
        eprintln!("(The password was left out of the URL: give it with PGPASSWORD or ~/.pgpass.)");
    }
}

fn print_report(verb: &str, r: &BackupReport, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(r)?);
    } else {
        println!(
            "{verb} {} ({} bytes, {} connections, migration {}) in {} ms",
            r.path.display(),
            r.bytes,
            r.connections,
            r.migration_version,
            r.millis
        );
        if let Some(old) = &r.replaced_moved_to {
            println!("The database it replaced was moved to {}", old.display());
        }
    }
    Ok(())
}

/// `switchboard backup PATH`.
///
/// # Errors
/// Configuration errors and every [`switchboard_store::maintenance::BackupError`].
pub async fn backup(a: BackupArgs) -> anyhow::Result<ExitCode> {
    let config = a.config.load()?;
    let url = &config.database_url;
    if is_postgres(url) {
        eprintln!(
            "The database is PostgreSQL: Switchboard does not copy it itself. Take a consistent \
             online backup with pg_dump (docs/OPERATIONS.md, \"Backups\"):"
        );
        println!("{}", pg_dump_command(url, &a.path));
        password_note(url);
        return Ok(ExitCode::from(PRINTED_ONLY));
    }
    let report = backup_sqlite(url, &a.path, a.force).await?;
    print_report("Backed up to", &report, a.json)?;
    if !a.json {
        eprintln!(
            "The backup holds the sealed tokens, not the encryption keys: keep SWITCHBOARD_KEYS \
             (every key it names) somewhere else, or the backup cannot be read."
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `switchboard restore PATH`.
///
/// # Errors
/// Configuration errors and every [`switchboard_store::maintenance::BackupError`].
pub async fn restore(a: RestoreArgs) -> anyhow::Result<ExitCode> {
    let config = a.config.load()?;
    let url = &config.database_url;
    if is_postgres(url) {
        eprintln!(
            "The database is PostgreSQL: restore a pg_dump backup with pg_restore, with every \
             Switchboard instance stopped (docs/OPERATIONS.md, \"Backups\"):"
        );
        println!("{}", pg_restore_command(url, &a.path));
        password_note(url);
        return Ok(ExitCode::from(PRINTED_ONLY));
    }
    let report = restore_sqlite(&a.path, url, a.force).await?;
    print_report("Restored", &report, a.json)?;
    if !a.json {
        eprintln!(
            "Start the server with the keys the backup was sealed with: it refuses to start if \
             one is missing and names it."
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pg_commands_leave_the_password_out_and_quote() {
        let c = pg_dump_command(
            "postgres://sb:s3cret@db.internal:5432/switchboard",
            Path::new("/backups/it's.dump"),
        );
        assert_eq!(
            c,
            "pg_dump --format=custom --no-owner --no-privileges --file='/backups/it'\\''s.dump' --dbname='postgres://sb@db.internal:5432/switchboard'"
        );
        assert!(!c.contains("s3cret"));
        let r = pg_restore_command("postgres://sb@db/switchboard", Path::new("x.dump"));
        assert!(r.starts_with("pg_restore --clean --if-exists"), "{r}");
        assert!(
            r.ends_with("--dbname='postgres://sb@db/switchboard' 'x.dump'"),
            "{r}"
        );
    }
}
