//! What both backends' pools guarantee about the connections they hand out, and the one way
//! every multi-statement write runs ([`Tx`]).
//!
//! A write is acknowledged only once it is durable, so a connection must never be handed out
//! while it is still inside a transaction left over from an earlier, failed write. That
//! happens: SQLite rolls a whole transaction back by itself on some errors (`SQLITE_FULL`,
//! `SQLITE_IOERR`), after which sqlx's `ROLLBACK` fails ("no transaction is active") and sqlx
//! keeps counting the transaction as open; the next `begin` on that connection is then a
//! `SAVEPOINT`, the next failed write a `ROLLBACK TO` that leaves a real transaction open, and
//! every later "commit" on the connection only a `RELEASE` inside it: answered as stored,
//! visible to no one else, gone at the next restart (and holding the write lock meanwhile).
//!
//! So:
//! - on return to the pool and again before being handed out ([`guard_sqlite`],
//!   [`guard_postgres`]), a connection that is inside a transaction, by sqlx's count or (for
//!   SQLite) by the database's own autocommit flag, is closed instead of reused; closing ends
//!   whatever transaction it held without committing it;
//! - a SQLite connection that opened the database read-only (SQLite silently falls back to
//!   read-only when the file cannot be opened for writing) is not kept either: reads go on,
//!   writes fail with `SQLITE_READONLY`, and once the file can be written again the next
//!   connection made writes, with no restart;
//! - a failed `COMMIT` or `ROLLBACK` retires its connection ([`Tx::commit`],
//!   [`Tx::rollback`]): its state is unknown;
//! - acquiring a connection waits at most [`ACQUIRE_TIMEOUT`], so a database that does not
//!   answer fails requests quickly rather than holding them.

use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use sqlx::pool::{PoolConnection, PoolOptions};
use sqlx::postgres::PgConnection;
use sqlx::sqlite::SqliteConnection;
use sqlx::{Connection, Database, Pool, TransactionManager};

/// How long a request waits for a pooled connection (5 s) before failing with
/// [`sqlx::Error::PoolTimedOut`] (mapped to "the database did not answer").
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// Fault injection for the crash tests (`crates/cli/tests/crash_safety.rs`): with this
/// environment variable set to `N`, the process aborts (no cleanup and nothing more written, as
/// under `kill -9`) when its SQLite connections are about to change their `N`-th row, counted
/// from the first connection made: the write in progress and everything after it are lost,
/// everything committed before stays. Unset (always, outside those tests): no hook.
pub const ABORT_AT_ROW_ENV: &str = "SWITCHBOARD_FAULT_ABORT_AT_ROW";

static ROWS_CHANGED: AtomicU64 = AtomicU64::new(0);

fn abort_at_row() -> Option<u64> {
    static AT: OnceLock<Option<u64>> = OnceLock::new();
    *AT.get_or_init(|| {
        std::env::var(ABORT_AT_ROW_ENV)
            .ok()
            .and_then(|v| v.parse().ok())
    })
}

/// The SQLite pool's hooks: a connection left inside a transaction, or (when `writable`, the
/// URL not asking for `?mode=ro`) one that SQLite could only open read-only, is closed on
/// release and before acquire.
pub(crate) fn guard_sqlite(
    options: PoolOptions<sqlx::Sqlite>,
    writable: bool,
) -> PoolOptions<sqlx::Sqlite> {
    options
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .after_connect(|conn, _meta| {
            Box::pin(async move {
                if let Some(at) = abort_at_row() {
                    conn.lock_handle().await?.set_update_hook(move |change| {
                        if ROWS_CHANGED.fetch_add(1, Ordering::SeqCst) + 1 == at {
                            eprintln!(
                                "{ABORT_AT_ROW_ENV}={at}: aborting before changing a row of {}",
                                change.table
                            );
                            std::process::abort();
                        }
                    });
                }
                Ok(())
            })
        })
        .after_release(move |conn, _meta| {
            Box::pin(async move { sqlite_reusable(conn, writable).await })
        })
        .before_acquire(move |conn, _meta| {
            Box::pin(async move { sqlite_reusable(conn, writable).await })
        })
}

/// The PostgreSQL pool's hooks: a connection inside a transaction, by sqlx's count or by the
/// server's own (a raw `BEGIN` that sqlx never counted), is closed on release; before acquire,
/// sqlx's count is checked again. A connection whose check fails (its transaction aborted, or the
/// connection broken) is closed too.
pub(crate) fn guard_postgres(options: PoolOptions<sqlx::Postgres>) -> PoolOptions<sqlx::Postgres> {
    options
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .after_release(|conn, _meta| Box::pin(async move { postgres_reusable(conn).await }))
        .before_acquire(|conn, _meta| Box::pin(async move { Ok(!conn.is_in_transaction()) }))
}

async fn postgres_reusable(conn: &mut PgConnection) -> Result<bool, sqlx::Error> {
    let counted = conn.is_in_transaction();
    // `transaction_timestamp() = statement_timestamp()` holds exactly when this statement began
    // its own transaction, but only under the simple query protocol: under the
    // extended protocol every `Execute` message moves `statement_timestamp()` past the
    // transaction's start, and the probe would close every connection. Runs after any rollback
    // a dropped transaction queued.
    const PROBE: &str = "SELECT transaction_timestamp() = statement_timestamp()";
    // A bare `&str` has no arguments, so sqlx sends it as a simple query.
    let row = sqlx::Executor::fetch_one(&mut *conn, PROBE).await?;
    let own_transaction: bool = sqlx::Row::try_get(&row, 0)?;
    if counted || !own_transaction {
        tracing::warn!(
            sqlx_counts_transaction = counted,
            "a PostgreSQL connection left inside a transaction was closed"
        );
        return Ok(false);
    }
    Ok(true)
}

/// True when the connection is outside any transaction, both by sqlx's count and by SQLite's
/// autocommit flag (the database's own word: `sqlite3_get_autocommit`), and, when `writable`,
/// can write.
async fn sqlite_reusable(conn: &mut SqliteConnection, writable: bool) -> Result<bool, sqlx::Error> {
    let counted = conn.is_in_transaction();
    // The handle is reached through the connection's worker, after every command queued
    // before (a rollback queued by a dropped transaction included).
    let mut handle = conn.lock_handle().await?;
    let raw = handle.as_raw_handle();
    // SAFETY: `raw` is the open database handle of this connection, held exclusively through
    // `handle` for the duration of the call; sqlite3_get_autocommit only reads a flag.
    let autocommit = unsafe { libsqlite3_sys::sqlite3_get_autocommit(raw.as_ptr()) } != 0;
    if counted || !autocommit {
        tracing::warn!(
            sqlx_counts_transaction = counted,
            sqlite_autocommit = autocommit,
            "a SQLite connection left inside a transaction was closed"
        );
        return Ok(false);
    }
    if writable && read_only_handle(raw) {
        // Opened while the file could not be written: the next connection gets another try.
        tracing::warn!("a SQLite connection that opened the database read-only was closed");
        return Ok(false);
    }
    Ok(true)
}

/// Whether SQLite opened the connection's main database read-only (it falls back to that,
/// silently, when the file cannot be opened for writing).
pub(crate) async fn sqlite_read_only(conn: &mut SqliteConnection) -> Result<bool, sqlx::Error> {
    let mut handle = conn.lock_handle().await?;
    Ok(read_only_handle(handle.as_raw_handle()))
}

fn read_only_handle(raw: std::ptr::NonNull<libsqlite3_sys::sqlite3>) -> bool {
    // SAFETY: `raw` is an open database handle held through its connection's lock;
    // sqlite3_db_readonly reads the open mode of the named database.
    unsafe { libsqlite3_sys::sqlite3_db_readonly(raw.as_ptr(), c"main".as_ptr()) == 1 }
}

/// A transaction on a connection of the pool: `&mut *tx` is the connection to run statements
/// on; [`Tx::commit`] or [`Tx::rollback`] ends it; dropped without either, it is rolled back
/// (as sqlx's own transactions are). Unlike sqlx's transaction it keeps hold of the pooled
/// connection, so that a failed `COMMIT` or `ROLLBACK` can retire it instead of returning it
/// to the pool in an unknown state.
pub(crate) struct Tx<DB: Database> {
    conn: Option<PoolConnection<DB>>,
}

impl<DB: Database> Tx<DB> {
    /// Acquires a connection and begins a transaction on it.
    pub(crate) async fn begin(pool: &Pool<DB>) -> Result<Self, sqlx::Error> {
        let mut conn = pool.acquire().await?;
        if let Err(error) = DB::TransactionManager::begin(&mut *conn, None).await {
            conn.close_on_drop();
            return Err(error);
        }
        Ok(Tx { conn: Some(conn) })
    }

    /// Commits. When the `COMMIT` fails, the connection is closed (its transaction ends
    /// uncommitted) and the error returned: nothing of the transaction is stored.
    pub(crate) async fn commit(mut self) -> Result<(), sqlx::Error> {
        let mut conn = self.conn.take().expect("a transaction ends once");
        match DB::TransactionManager::commit(&mut *conn).await {
            Ok(()) => Ok(()),
            Err(error) => {
                tracing::warn!(%error, "COMMIT failed; the connection is retired");
                conn.close_on_drop();
                Err(error)
            }
        }
    }

    /// Rolls back. When the `ROLLBACK` fails, the connection is closed, which rolls back too.
    pub(crate) async fn rollback(mut self) -> Result<(), sqlx::Error> {
        let mut conn = self.conn.take().expect("a transaction ends once");
        match DB::TransactionManager::rollback(&mut *conn).await {
            Ok(()) => Ok(()),
            Err(error) => {
                tracing::warn!(%error, "ROLLBACK failed; the connection is retired");
                conn.close_on_drop();
                Err(error)
            }
        }
    }
}

impl<DB: Database> Drop for Tx<DB> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.as_mut() {
            // Queued; runs before the connection's next use, which is the pool's check.
            DB::TransactionManager::start_rollback(&mut **conn);
        }
    }
}

impl<DB: Database> Deref for Tx<DB> {
    type Target = DB::Connection;

    fn deref(&self) -> &Self::Target {
        self.conn.as_ref().expect("an open transaction")
    }
}

impl<DB: Database> DerefMut for Tx<DB> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        self.conn.as_mut().expect("an open transaction")
    }
}
