//! [`MaintenanceStore`] for [`SqliteStore`], and SQLite backups.
//!
//! Key ids are read through the expression indexes of `0009_keys_retention.sql`
//! ([`sqlite_key_id_expr`] spells the same expression). Purges delete at most `limit` rows per
//! statement (each statement is its own short write transaction), so the write lock is never
//! held for long. Backups are `VACUUM INTO`: a consistent snapshot taken in one read
//! transaction while the server keeps writing (WAL).

use std::path::{Path, PathBuf};
use std::time::Instant;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{ConnectOptions, Connection as _, Row};

use crate::maintenance::{
    key_gaps, purge_sql, sqlite_key_id_expr, KeyUsage, MaintenanceStore, Purge, PurgedConnection,
    SealedColumn, SealedRow,
};
use crate::sqlite::SqliteStore;
use crate::StoreResult;

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

#[async_trait]
impl MaintenanceStore for SqliteStore {
    async fn sealed_key_usage(&self) -> StoreResult<Vec<KeyUsage>> {
        let mut out = Vec::new();
        for column in SealedColumn::ALL {
            let expr = sqlite_key_id_expr(column.column());
            let rows = sqlx::query(&format!(
                "SELECT {expr} AS key_id, COUNT(*) AS n FROM {} WHERE {expr} IS NOT NULL \
                 GROUP BY {expr} ORDER BY {expr}",
                column.table()
            ))
            .fetch_all(self.pool())
            .await?;
            for r in rows {
                out.push(KeyUsage {
                    column,
                    key_id: r.try_get("key_id")?,
                    rows: count(r.try_get("n")?),
                });
            }
        }
        Ok(out)
    }

    async fn sealed_outside_keys(&self, key_ids: &[String]) -> StoreResult<Vec<KeyUsage>> {
        let mut out = Vec::new();
        for column in SealedColumn::ALL {
            let expr = sqlite_key_id_expr(column.column());
            for (lower, upper) in key_gaps(key_ids) {
                let mut sql = format!(
                    "SELECT {expr} AS key_id, COUNT(*) AS n FROM {} WHERE {expr} >= ''",
                    column.table()
                );
                let bounds: Vec<(&str, String)> = [(">", lower), ("<", upper)]
                    .into_iter()
                    .filter_map(|(op, b)| b.map(|b| (op, b)))
                    .collect();
                for (i, (op, _)) in bounds.iter().enumerate() {
                    sql.push_str(&format!(" AND {expr} {op} ${}", i + 1));
                }
                sql.push_str(&format!(" GROUP BY {expr} ORDER BY {expr}"));
                let mut q = sqlx::query(&sql);
                for (_, b) in bounds {
                    q = q.bind(b);
                }
                let rows = q.fetch_all(self.pool()).await?;
                for r in rows {
                    out.push(KeyUsage {
                        column,
                        key_id: r.try_get("key_id")?,
                        rows: count(r.try_get("n")?),
                    });
                }
            }
        }
        Ok(out)
    }

    async fn sealed_batch(
        &self,
        column: SealedColumn,
        except_key: &str,
        after: Option<(&str, Option<&str>)>,
        limit: u32,
    ) -> StoreResult<Vec<SealedRow>> {
        let expr = sqlite_key_id_expr(column.column());
        let (k1, k2) = column.key_columns();
        let (table, col) = (column.table(), column.column());
        let (a1, a2) = after.unwrap_or(("", None));
        let sql = match k2 {
            None => format!(
                "SELECT {k1}, NULL, {col} FROM {table} \
                 WHERE {expr} <> $1 AND {k1} > $2 ORDER BY {k1} LIMIT $3"
            ),
            Some(k2) => format!(
                "SELECT {k1}, {k2}, {col} FROM {table} \
                 WHERE {expr} <> $1 AND ({k1}, {k2}) > ($2, $4) \
                 ORDER BY {k1}, {k2} LIMIT $3"
            ),
        };
        let mut q = sqlx::query_as::<_, (String, Option<String>, String)>(&sql)
            .bind(except_key)
            .bind(a1)
            .bind(i64::from(limit));
        if k2.is_some() {
            q = q.bind(a2.unwrap_or(""));
        }
        let rows = q.fetch_all(self.pool()).await?;
        Ok(rows
            .into_iter()
            .map(|(id, page_id, sealed)| SealedRow {
                column,
                id,
                page_id,
                sealed,
            })
            .collect())
    }

    async fn replace_sealed(&self, replacements: &[(SealedRow, String)]) -> StoreResult<u64> {
        let mut tx = crate::pool::Tx::begin(self.pool()).await?;
        let mut done = 0;
        for (row, new) in replacements {
            let column = row.column;
            let (k1, k2) = column.key_columns();
            let sql = format!(
                "UPDATE {} SET {col} = $1 WHERE {col} = $2 AND {k1} = $3{}",
                column.table(),
                k2.map_or(String::new(), |k2| format!(" AND {k2} = $4")),
                col = column.column(),
            );
            let mut q = sqlx::query(&sql).bind(new).bind(&row.sealed).bind(&row.id);
            if k2.is_some() {
                q = q.bind(row.page_id.as_deref().unwrap_or_default());
            }
            done += q.execute(&mut *tx).await?.rows_affected();
        }
        tx.commit().await?;
        Ok(done)
    }

    async fn purge_connections(
        &self,
        statuses: &[&str],
        inactive_before: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<PurgedConnection>> {
        if statuses.is_empty() {
            return Ok(Vec::new());
        }
        let placeholders: Vec<String> =
            (0..statuses.len()).map(|i| format!("${}", i + 3)).collect();
        let sql = format!(
            "DELETE FROM connections WHERE id IN (
                 SELECT id FROM connections
                 WHERE status IN ({}) AND updated_at < $1
                 ORDER BY updated_at LIMIT $2)
             RETURNING id, workspace_id, platform, status",
            placeholders.join(", ")
        );
        let mut q = sqlx::query(&sql)
            .bind(inactive_before.timestamp_millis())
            .bind(i64::from(limit));
        for s in statuses {
            q = q.bind(*s);
        }
        q.fetch_all(self.pool())
            .await?
            .iter()
            .map(|r| {
                Ok(PurgedConnection {
                    id: r.try_get("id")?,
                    workspace_id: r.try_get("workspace_id")?,
                    platform: r.try_get("platform")?,
                    status: r.try_get("status")?,
                })
            })
            .collect()
    }

    async fn purge(&self, what: Purge, before: DateTime<Utc>, limit: u32) -> StoreResult<u64> {
        let (table, pk, cond) = purge_sql(what);
        let sql = format!(
            "DELETE FROM {table} WHERE {pk} IN (SELECT x.{pk} FROM {table} AS x WHERE {cond} LIMIT $2)"
        );
        Ok(sqlx::query(&sql)
            .bind(before.timestamp_millis())
            .bind(i64::from(limit))
            .execute(self.pool())
            .await?
            .rows_affected())
    }
}

/// Why a backup or restore was not made. Nothing here carries secret material.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The URL names PostgreSQL (use `pg_dump` / `pg_restore`) or an in-memory database.
    #[error("{0}")]
    Unsupported(String),
    /// The destination exists and overwriting was not allowed.
    #[error("{0} already exists: choose another path or pass --force")]
    Exists(PathBuf),
    /// The file to restore from does not exist.
    #[error("{0} does not exist")]
    Missing(PathBuf),
    /// Another process has the database open.
    #[error(
        "{0} is in use by another process (a running server?): stop every process using it, then restore"
    )]
    InUse(PathBuf),
    /// `PRAGMA integrity_check` found a problem.
    #[error("{path} failed the integrity check: {message}")]
    Integrity {
        /// The file checked.
        path: PathBuf,
        /// SQLite's first complaint.
        message: String,
    },
    /// The backup's schema does not fit this binary's migrations.
    #[error("{path}: {message}")]
    Migrations {
        /// The file checked.
        path: PathBuf,
        /// What does not fit.
        message: String,
    },
    /// A file operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// SQLite refused.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

/// What a backup or restore did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BackupReport {
    /// The file written.
    pub path: PathBuf,
    /// Its size, bytes.
    pub bytes: u64,
    /// How long it took, milliseconds.
    pub millis: u64,
    /// The newest migration the file carries.
    pub migration_version: i64,
    /// Connections in the file.
    pub connections: u64,
    /// Restore only: where the database that was replaced was moved to.
    pub replaced_moved_to: Option<PathBuf>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BackupError + '_ {
    move |source| BackupError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The database file a `sqlite:` URL or plain path names.
///
/// # Errors
/// [`BackupError::Unsupported`] for PostgreSQL and in-memory URLs.
pub fn sqlite_file(url: &str) -> Result<PathBuf, BackupError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Err(BackupError::Unsupported(
            "the database is PostgreSQL: back it up with pg_dump (see docs/OPERATIONS.md)".into(),
        ));
    }
    let rest = url.strip_prefix("sqlite:").unwrap_or(url);
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" || url.contains("mode=memory") {
        return Err(BackupError::Unsupported(format!(
            "{url:?} names an in-memory database: there is nothing on disk to back up"
        )));
    }
    Ok(PathBuf::from(path))
}

async fn open(path: &Path, read_only: bool) -> Result<SqliteConnection, BackupError> {
    Ok(SqliteConnectOptions::new()
        .filename(path)
        .read_only(read_only)
        .busy_timeout(crate::sqlite::BUSY_TIMEOUT)
        .connect()
        .await?)
}

/// Checks a database file: `PRAGMA integrity_check` says `ok`, and every migration it records
/// is one of this binary's with the same checksum. Returns `(newest migration, connections)`.
async fn verify(path: &Path) -> Result<(i64, u64), BackupError> {
    let mut conn = open(path, true).await?;
    let problems: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_all(&mut conn)
        .await?;
    if problems.first().map(String::as_str) != Some("ok") {
        return Err(BackupError::Integrity {
            path: path.to_path_buf(),
            message: problems.into_iter().take(3).collect::<Vec<_>>().join("; "),
        });
    }
    let applied = sqlx::query("SELECT version, checksum, success FROM _sqlx_migrations")
        .fetch_all(&mut conn)
        .await
        .map_err(|_| BackupError::Migrations {
            path: path.to_path_buf(),
            message: "not a Switchboard database (no migration history)".into(),
        })?;
    let mut newest = 0;
    for r in &applied {
        let version: i64 = r.try_get("version")?;
        let checksum: Vec<u8> = r.try_get("checksum")?;
        let success: bool = r.try_get("success")?;
        let known = crate::sqlite::MIGRATOR
            .iter()
            .find(|m| m.version == version && !m.migration_type.is_down_migration());
        let message = match known {
            None => Some(format!(
                "it carries migration {version}, which this Switchboard does not know: \
                 restore it with the version that made it (or a newer one)"
            )),
            Some(m) if *m.checksum != checksum[..] => Some(format!(
                "its migration {version} differs from this Switchboard's"
            )),
            Some(_) if !success => Some(format!("its migration {version} did not finish")),
            Some(_) => None,
        };
        if let Some(message) = message {
            return Err(BackupError::Migrations {
                path: path.to_path_buf(),
                message,
            });
        }
        newest = newest.max(version);
    }
    if newest == 0 {
        return Err(BackupError::Migrations {
            path: path.to_path_buf(),
            message: "not a Switchboard database (no migration applied)".into(),
        });
    }
    let connections: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM connections")
        .fetch_one(&mut conn)
        .await?;
    conn.close().await?;
    Ok((newest, count(connections)))
}

fn size(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    path.with_file_name(name)
}

/// Writes a consistent copy of the SQLite database `database_url` names to `dest` while other
/// processes keep using it: `VACUUM INTO` a temporary file next to `dest` (one read
/// transaction: the copy is the database as of one instant), check it (integrity and
/// migrations, as for a restore), then rename it into place. The copy is compact and self-contained (no
/// `-wal` file). It holds the sealed tokens but not the keys: keep the keys elsewhere.
///
/// # Errors
/// [`BackupError::Exists`] when `dest` exists and `overwrite` is false,
/// [`BackupError::Unsupported`] for PostgreSQL or in-memory URLs, and the others on failure
/// (no partial file is left at `dest`).
pub async fn backup_sqlite(
    database_url: &str,
    dest: &Path,
    overwrite: bool,
) -> Result<BackupReport, BackupError> {
    let started = Instant::now();
    let source = sqlite_file(database_url)?;
    if !source.exists() {
        return Err(BackupError::Missing(source));
    }
    if dest.exists() && !overwrite {
        return Err(BackupError::Exists(dest.to_path_buf()));
    }
    if let Some(parent) = dest.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(io(parent))?;
    }
    let tmp = sibling(dest, &format!(".partial-{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let result = async {
        let mut conn = open(&source, true).await?;
        sqlx::query("VACUUM INTO $1")
            .bind(tmp.to_string_lossy().as_ref())
            .execute(&mut conn)
            .await?;
        conn.close().await?;
        let checked = verify(&tmp).await?;
        std::fs::File::open(&tmp)
            .and_then(|f| f.sync_all())
            .map_err(io(&tmp))?;
        std::fs::rename(&tmp, dest).map_err(io(dest))?;
        Ok::<_, BackupError>(checked)
    }
    .await;
    let (migration_version, connections) = match result {
        Ok(v) => v,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
    };
    Ok(BackupReport {
        path: dest.to_path_buf(),
        bytes: size(dest),
        millis: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        migration_version,
        connections,
        replaced_moved_to: None,
    })
}

/// Tells whether any other process has the SQLite file open: takes an exclusive lock with
/// `locking_mode=EXCLUSIVE` without waiting. A process that opened the database in WAL mode
/// holds a shared lock on it for as long as it keeps a connection, so a running server makes
/// this fail. The lock is released when the returned connection closes.
async fn lock_exclusive(path: &Path) -> Result<SqliteConnection, BackupError> {
    let mut conn = SqliteConnectOptions::new()
        .filename(path)
        .busy_timeout(std::time::Duration::ZERO)
        .pragma("locking_mode", "EXCLUSIVE")
        .connect()
        .await
        .map_err(|e| match e {
            sqlx::Error::Database(_) => BackupError::InUse(path.to_path_buf()),
            e => BackupError::Database(e),
        })?;
    match sqlx::query("BEGIN EXCLUSIVE").execute(&mut conn).await {
        Ok(_) => {
            sqlx::query("COMMIT").execute(&mut conn).await?;
            Ok(conn)
        }
        Err(sqlx::Error::Database(_)) => Err(BackupError::InUse(path.to_path_buf())),
        Err(e) => Err(e.into()),
    }
}

/// Brings a backup back as the SQLite database `database_url` names.
///
/// First checks the backup (`PRAGMA integrity_check`, migrations this binary
/// knows with the same checksums; an older backup is fine, the next start migrates it). Then,
/// when a database exists there: refuses unless `force`, and refuses while any process has it
/// open (stop the servers first). The replaced database (with its `-wal`, checkpointed) is
/// moved aside to `<file>.replaced-<unix seconds>`, never deleted; the backup is copied to a
/// temporary file, synced, and renamed into place.
///
/// # Errors
/// [`BackupError::Missing`], [`BackupError::Integrity`], [`BackupError::Migrations`],
/// [`BackupError::Exists`] (no `force`), [`BackupError::InUse`], I/O failures.
pub async fn restore_sqlite(
    backup: &Path,
    database_url: &str,
    force: bool,
) -> Result<BackupReport, BackupError> {
    let started = Instant::now();
    let target = sqlite_file(database_url)?;
    if !backup.exists() {
        return Err(BackupError::Missing(backup.to_path_buf()));
    }
    let (migration_version, connections) = verify(backup).await?;
    let mut moved = None;
    if target.exists() {
        if !force {
            return Err(BackupError::Exists(target.clone()));
        }
        let lock = lock_exclusive(&target).await?;
        // Closing the only connection checkpoints the WAL into the file, so the moved-aside
        // database is whole.
        lock.close().await?;
        let aside = sibling(&target, &format!(".replaced-{}", Utc::now().timestamp()));
        std::fs::rename(&target, &aside).map_err(io(&target))?;
        for suffix in ["-wal", "-shm"] {
            let extra = sibling(&target, suffix);
            if extra.exists() {
                std::fs::rename(&extra, sibling(&aside, suffix)).map_err(io(&extra))?;
            }
        }
        moved = Some(aside);
    } else if let Some(parent) = target.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(io(parent))?;
    }
    let tmp = sibling(&target, &format!(".restoring-{}", std::process::id()));
    std::fs::copy(backup, &tmp).map_err(io(&tmp))?;
    std::fs::File::open(&tmp)
        .and_then(|f| f.sync_all())
        .map_err(io(&tmp))?;
    std::fs::rename(&tmp, &target).map_err(io(&target))?;
    Ok(BackupReport {
        path: target.clone(),
        bytes: size(&target),
        millis: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        migration_version,
        connections,
        replaced_moved_to: moved,
    })
}
