//! The SQLite implementation of [`Store`], the embedded default.
//!
//! Storage conventions (see `migrations/sqlite/`):
//! - ids are UUID text;
//! - timestamps are `INTEGER` unix **milliseconds** (UTC), so values read back are truncated to
//!   whole milliseconds;
//! - JSON values (`metadata`, `last_error`, event `payload`) and scope lists (a JSON array of
//!   strings) are `TEXT` holding JSON; text that does not decode is [`StoreError::Corrupt`].
//!
//! Files are opened in WAL journal mode with a 5 s busy timeout and foreign keys on. Every
//! operation that must be atomic is a single statement (`UPDATE ... RETURNING`,
//! `INSERT ... ON CONFLICT ... RETURNING`): SQLite runs each statement under the database write
//! lock, so the guarantees of the [`Store`] trait hold across every pool (and process) that opens
//! the same file. Migrations, which sqlx's SQLite migrator does not serialize, run under an
//! exclusive file lock on `<database>.migrate.lock` ([`migrate_lock_path`]), so processes
//! starting together on a new file apply them once.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::migrate::Migrator;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
};
use sqlx::Row;

use crate::codec::{from_json, from_json_opt, scopes_to_json};
use crate::{
    ApiKey, Connection, ConnectionFilter, ConsumeOutcome, Event, OAuthState, Store, StoreError,
    StoreResult, TokenUpdate, Workspace,
};

/// The SQLite migrations (`crates/store/migrations/sqlite`), applied by [`SqliteStore::connect`].
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");

/// How long a statement waits for another connection's write lock before failing.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Pool size for file databases. Readers run in parallel under WAL; writers queue on the busy
/// timeout.
const MAX_FILE_CONNECTIONS: u32 = 8;

/// Columns of `connections` that make up a [`Connection`], in table order.
macro_rules! connection_columns {
    () => {
        "id, workspace_id, platform, owner, account_id, account_name, username, avatar_url, \
         scopes, status, access_token_sealed, refresh_token_sealed, token_type, expires_at, \
         refresh_expires_at, token_obtained_at, last_refreshed_at, last_error, metadata, \
         version, created_at, updated_at"
    };
}

/// Columns of `oauth_states` that make up an [`OAuthState`].
macro_rules! oauth_state_columns {
    () => {
        "state_hash, workspace_id, platform, owner, redirect_uri, scopes, return_to, \
         code_verifier_sealed, connection_id, metadata, created_at, expires_at, consumed_at"
    };
}

/// A [`Store`] on one SQLite database file (or an in-memory database).
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// False when the URL asked for a read-only database (`?mode=ro`).
    writable: bool,
}

impl SqliteStore {
    /// Opens (creating when missing) the database `url` names and applies the migrations.
    ///
    /// Accepted forms: `sqlite://PATH`, `sqlite:PATH` (both may carry SQLite URI parameters such
    /// as `?mode=ro`), a plain file path, and `sqlite::memory:` (or `:memory:`). A missing file
    /// and its missing parent directories are created. File databases use WAL journal mode,
    /// a [`BUSY_TIMEOUT`] of 5 s, and foreign keys on.
    ///
    /// An in-memory database lives as long as the store: its pool holds exactly one connection
    /// that is never closed, so every call sees the same database.
    ///
    /// # Errors
    /// [`StoreError::UnsupportedUrl`] for a URL that names no database,
    /// [`StoreError::Database`] when the directory, the file or its migration lock file
    /// ([`migrate_lock_path`]; file databases migrate under it) cannot be created or opened,
    /// [`StoreError::Migrate`] when the migrations fail.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let (options, in_memory) = connect_options(url)?;
        let writable = !url.split_once('?').is_some_and(|(_, query)| {
            url::form_urlencoded::parse(query.as_bytes())
                .any(|(key, value)| key == "mode" && value == "ro")
        });
        let options = options.foreign_keys(true).busy_timeout(BUSY_TIMEOUT);

        let pool = if in_memory {
            crate::pool::guard_sqlite(SqlitePoolOptions::new(), writable)
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .connect_with(options)
                .await?
        } else {
            if let Some(parent) = options.get_filename().parent() {
                if !parent.as_os_str().is_empty() {
                    tokio::fs::create_dir_all(parent)
                        .await
                        .map_err(|error| StoreError::Database(sqlx::Error::Io(error)))?;
                }
            }
            let options = options
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal);
            crate::pool::guard_sqlite(SqlitePoolOptions::new(), writable)
                .max_connections(MAX_FILE_CONNECTIONS)
                .connect_with(options)
                .await?
        };

        if in_memory {
            // Private to this pool: nobody else can be migrating it.
            MIGRATOR.run(&pool).await?;
        } else {
            migrate_locked(&pool, options_path(&pool)).await?;
        }
        Ok(Self { pool, writable })
    }

    /// The underlying connection pool (for diagnostics and backend-specific tests).
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

fn options_path(pool: &SqlitePool) -> PathBuf {
    pool.connect_options().get_filename().to_path_buf()
}

/// The lock file serialising migrations of the database file `db`: `<db>.migrate.lock`.
pub fn migrate_lock_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_os_string();
    name.push(".migrate.lock");
    PathBuf::from(name)
}

/// Runs the migrations while holding an exclusive lock on [`migrate_lock_path`]. sqlx's SQLite
/// migrator takes no lock (PostgreSQL's takes an advisory one): two processes opening a fresh
/// file together would both see a migration as missing and both apply it, and one of them would
/// fail (`table ... already exists`). With the lock the second waits, then finds everything
/// applied. The lock is an OS file lock (`flock` / `LockFileEx`): a process that dies while
/// holding it releases it. The empty lock file stays next to the database.
async fn migrate_locked(pool: &SqlitePool, db: PathBuf) -> StoreResult<()> {
    let lock_path = migrate_lock_path(&db);
    let io = |error: std::io::Error| StoreError::Database(sqlx::Error::Io(error));
    let lock = tokio::task::spawn_blocking(move || -> std::io::Result<std::fs::File> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&lock_path)?;
        // The trait's method, by path: std's inherent `File::lock` needs Rust 1.89.
        fs4::FileExt::lock(&file)?;
        Ok(file)
    })
    .await
    .map_err(|e| io(std::io::Error::other(e)))?
    .map_err(io)?;
    let outcome = MIGRATOR.run(pool).await;
    // Closing the file releases the lock too; unlocking first makes the order explicit.
    let _ = fs4::FileExt::unlock(&lock);
    drop(lock);
    outcome?;
    Ok(())
}

/// Turns a URL or path into connect options, and tells whether it is an in-memory database.
fn connect_options(url: &str) -> StoreResult<(SqliteConnectOptions, bool)> {
    let unsupported = || StoreError::UnsupportedUrl(url.to_string());

    let Some(rest) = url.strip_prefix("sqlite:") else {
        // A plain file path.
        return match url {
            "" => Err(unsupported()),
            ":memory:" => connect_options("sqlite::memory:"),
            path => Ok((SqliteConnectOptions::new().filename(Path::new(path)), false)),
        };
    };

    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let (path, query) = match rest.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (rest, None),
    };
    let memory_mode = query.is_some_and(|query| {
        url::form_urlencoded::parse(query.as_bytes())
            .any(|(key, value)| key == "mode" && value == "memory")
    });
    let in_memory = path == ":memory:" || memory_mode;
    if path.is_empty() && !in_memory {
        return Err(unsupported());
    }

    let options = SqliteConnectOptions::from_str(url).map_err(|_| unsupported())?;
    Ok((options, in_memory))
}

/// Milliseconds since the unix epoch, the stored form of a timestamp.
fn to_millis(time: DateTime<Utc>) -> i64 {
    time.timestamp_millis()
}

/// Reads a timestamp column (unix milliseconds).
fn time(row: &SqliteRow, column: &str) -> StoreResult<DateTime<Utc>> {
    let millis: i64 = row.try_get(column)?;
    DateTime::from_timestamp_millis(millis).ok_or_else(|| {
        StoreError::Corrupt(format!(
            "{column} = {millis} is not a representable unix time in milliseconds"
        ))
    })
}

/// Reads a nullable timestamp column (unix milliseconds).
fn time_opt(row: &SqliteRow, column: &str) -> StoreResult<Option<DateTime<Utc>>> {
    let millis: Option<i64> = row.try_get(column)?;
    millis
        .map(|millis| {
            DateTime::from_timestamp_millis(millis).ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "{column} = {millis} is not a representable unix time in milliseconds"
                ))
            })
        })
        .transpose()
}

fn workspace_from_row(row: &SqliteRow) -> StoreResult<Workspace> {
    Ok(Workspace {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        created_at: time(row, "created_at")?,
    })
}

fn api_key_from_row(row: &SqliteRow) -> StoreResult<ApiKey> {
    Ok(ApiKey {
        id: row.try_get("id")?,
        workspace_id: row.try_get("workspace_id")?,
        prefix: row.try_get("prefix")?,
        created_at: time(row, "created_at")?,
    })
}

fn oauth_state_from_row(row: &SqliteRow) -> StoreResult<OAuthState> {
    Ok(OAuthState {
        state_hash: row.try_get("state_hash")?,
        workspace_id: row.try_get("workspace_id")?,
        platform: row.try_get("platform")?,
        owner: row.try_get("owner")?,
        redirect_uri: row.try_get("redirect_uri")?,
        scopes: from_json(row.try_get("scopes")?, "oauth_states.scopes")?,
        return_to: row.try_get("return_to")?,
        code_verifier_sealed: row.try_get("code_verifier_sealed")?,
        connection_id: row.try_get("connection_id")?,
        metadata: from_json(row.try_get("metadata")?, "oauth_states.metadata")?,
        created_at: time(row, "created_at")?,
        expires_at: time(row, "expires_at")?,
        consumed_at: time_opt(row, "consumed_at")?,
    })
}

fn connection_from_row(row: &SqliteRow) -> StoreResult<Connection> {
    Ok(Connection {
        id: row.try_get("id")?,
        workspace_id: row.try_get("workspace_id")?,
        platform: row.try_get("platform")?,
        owner: row.try_get("owner")?,
        account_id: row.try_get("account_id")?,
        account_name: row.try_get("account_name")?,
        username: row.try_get("username")?,
        avatar_url: row.try_get("avatar_url")?,
        scopes: from_json(row.try_get("scopes")?, "connections.scopes")?,
        status: row.try_get("status")?,
        access_token_sealed: row.try_get("access_token_sealed")?,
        refresh_token_sealed: row.try_get("refresh_token_sealed")?,
        token_type: row.try_get("token_type")?,
        expires_at: time_opt(row, "expires_at")?,
        refresh_expires_at: time_opt(row, "refresh_expires_at")?,
        token_obtained_at: time(row, "token_obtained_at")?,
        last_refreshed_at: time_opt(row, "last_refreshed_at")?,
        last_error: from_json_opt(row.try_get("last_error")?, "connections.last_error")?,
        metadata: from_json(row.try_get("metadata")?, "connections.metadata")?,
        version: row.try_get("version")?,
        created_at: time(row, "created_at")?,
        updated_at: time(row, "updated_at")?,
    })
}

fn event_from_row(row: &SqliteRow) -> StoreResult<Event> {
    Ok(Event {
        id: row.try_get("id")?,
        workspace_id: row.try_get("workspace_id")?,
        connection_id: row.try_get("connection_id")?,
        kind: row.try_get("kind")?,
        payload: from_json(row.try_get("payload")?, "events.payload")?,
        created_at: time(row, "created_at")?,
    })
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    /// `SELECT 1`, and a connection that could only open the database read-only (unless the
    /// URL asked for `?mode=ro`) is an error of kind `ReadOnlyFilesystem`
    /// ([`crate::Fault::ReadOnly`]).
    async fn ping(&self) -> StoreResult<()> {
        let mut conn = self.pool.acquire().await?;
        sqlx::query("SELECT 1").execute(&mut *conn).await?;
        if self.writable && crate::pool::sqlite_read_only(&mut conn).await? {
            return Err(StoreError::Database(sqlx::Error::Io(std::io::Error::new(
                std::io::ErrorKind::ReadOnlyFilesystem,
                "the database file could only be opened read-only: check its permissions and \
                 its filesystem",
            ))));
        }
        Ok(())
    }

    /// Creates a workspace with a fresh UUID v7 id.
    async fn create_workspace(&self, name: &str, now: DateTime<Utc>) -> StoreResult<Workspace> {
        let row = sqlx::query(
            "INSERT INTO workspaces (id, name, created_at) VALUES ($1, $2, $3)
             RETURNING id, name, created_at",
        )
        .bind(uuid::Uuid::now_v7().to_string())
        .bind(name)
        .bind(to_millis(now))
        .fetch_one(&self.pool)
        .await?;
        workspace_from_row(&row)
    }

    async fn get_workspace(&self, id: &str) -> StoreResult<Option<Workspace>> {
        sqlx::query("SELECT id, name, created_at FROM workspaces WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .map(|row| workspace_from_row(&row))
            .transpose()
    }

    async fn list_workspaces(&self, limit: u32) -> StoreResult<Vec<Workspace>> {
        sqlx::query("SELECT id, name, created_at FROM workspaces ORDER BY created_at, id LIMIT $1")
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(workspace_from_row)
            .collect()
    }

    async fn sign_out_session(
        &self,
        session_hash: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        sqlx::query("DELETE FROM dashboard_signed_out WHERE expires_at < $1")
            .bind(to_millis(now))
            .execute(&self.pool)
            .await?;
        sqlx::query(
            "INSERT INTO dashboard_signed_out (session_hash, expires_at) VALUES ($1, $2)
             ON CONFLICT (session_hash) DO NOTHING",
        )
        .bind(session_hash)
        .bind(to_millis(expires_at))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn is_signed_out(&self, session_hash: &str) -> StoreResult<bool> {
        let row = sqlx::query("SELECT 1 FROM dashboard_signed_out WHERE session_hash = $1")
            .bind(session_hash)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }

    /// Stores an API key with a fresh UUID v7 id. A `key_hash` already stored, or an unknown
    /// workspace, is a [`StoreError::Database`] (constraint violation).
    async fn create_api_key(
        &self,
        workspace_id: &str,
        key_hash: &str,
        prefix: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<ApiKey> {
        let row = sqlx::query(
            "INSERT INTO api_keys (id, workspace_id, key_hash, prefix, created_at)
             VALUES ($1, $2, $3, $4, $5)
             RETURNING id, workspace_id, prefix, created_at",
        )
        .bind(uuid::Uuid::now_v7().to_string())
        .bind(workspace_id)
        .bind(key_hash)
        .bind(prefix)
        .bind(to_millis(now))
        .fetch_one(&self.pool)
        .await?;
        api_key_from_row(&row)
    }

    async fn find_api_key(&self, key_hash: &str) -> StoreResult<Option<ApiKey>> {
        sqlx::query("SELECT id, workspace_id, prefix, created_at FROM api_keys WHERE key_hash = $1")
            .bind(key_hash)
            .fetch_optional(&self.pool)
            .await?
            .map(|row| api_key_from_row(&row))
            .transpose()
    }

    async fn insert_oauth_state(&self, state: &OAuthState) -> StoreResult<()> {
        sqlx::query(concat!(
            "INSERT INTO oauth_states (",
            oauth_state_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
        ))
        .bind(&state.state_hash)
        .bind(&state.workspace_id)
        .bind(&state.platform)
        .bind(&state.owner)
        .bind(&state.redirect_uri)
        .bind(scopes_to_json(&state.scopes))
        .bind(&state.return_to)
        .bind(&state.code_verifier_sealed)
        .bind(&state.connection_id)
        .bind(state.metadata.to_string())
        .bind(to_millis(state.created_at))
        .bind(to_millis(state.expires_at))
        .bind(state.consumed_at.map(to_millis))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// One conditional `UPDATE ... RETURNING` marks the state consumed when it is unconsumed and
    /// `expires_at > now`; SQLite serializes writers, so exactly one caller sees the row come
    /// back ([`ConsumeOutcome::Consumed`], with `consumed_at = now`). Only when no row changed,
    /// a `SELECT` tells the rest apart: consumed before ([`ConsumeOutcome::AlreadyUsed`], even
    /// if it has expired since), `expires_at <= now` ([`ConsumeOutcome::Expired`], left
    /// unconsumed), or no such hash ([`ConsumeOutcome::NotFound`]).
    async fn consume_oauth_state(
        &self,
        state_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<ConsumeOutcome> {
        let now_ms = to_millis(now);
        // Two rounds: a state inserted between the UPDATE and the SELECT is retried once.
        for _ in 0..2 {
            let consumed = sqlx::query(concat!(
                "UPDATE oauth_states SET consumed_at = $2
                 WHERE state_hash = $1 AND consumed_at IS NULL AND expires_at > $2
                 RETURNING ",
                oauth_state_columns!()
            ))
            .bind(state_hash)
            .bind(now_ms)
            .fetch_optional(&self.pool)
            .await?;
            if let Some(row) = consumed {
                return Ok(ConsumeOutcome::Consumed(oauth_state_from_row(&row)?));
            }

            let existing = sqlx::query(concat!(
                "SELECT ",
                oauth_state_columns!(),
                " FROM oauth_states WHERE state_hash = $1"
            ))
            .bind(state_hash)
            .fetch_optional(&self.pool)
            .await?;
            let Some(row) = existing else {
                return Ok(ConsumeOutcome::NotFound);
            };
            let state = oauth_state_from_row(&row)?;
            if state.consumed_at.is_some() {
                return Ok(ConsumeOutcome::AlreadyUsed(state));
            }
            if to_millis(state.expires_at) <= now_ms {
                return Ok(ConsumeOutcome::Expired(state));
            }
        }
        Err(StoreError::Corrupt(format!(
            "oauth state {state_hash} is pending and unexpired but could not be consumed"
        )))
    }

    async fn find_connections_by_platform_account(
        &self,
        platform: &str,
        account_id: &str,
    ) -> StoreResult<Vec<Connection>> {
        sqlx::query(concat!(
            "SELECT ",
            connection_columns!(),
            " FROM connections WHERE platform = $1 AND account_id = $2 ORDER BY created_at, id"
        ))
        .bind(platform)
        .bind(account_id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(connection_from_row)
        .collect()
    }

    async fn find_connection_by_account(
        &self,
        workspace_id: &str,
        platform: &str,
        account_id: &str,
    ) -> StoreResult<Option<Connection>> {
        sqlx::query(concat!(
            "SELECT ",
            connection_columns!(),
            " FROM connections WHERE workspace_id = $1 AND platform = $2 AND account_id = $3"
        ))
        .bind(workspace_id)
        .bind(platform)
        .bind(account_id)
        .fetch_optional(&self.pool)
        .await?
        .map(|row| connection_from_row(&row))
        .transpose()
    }

    /// One `INSERT ... ON CONFLICT (workspace_id, platform, account_id) DO UPDATE ... RETURNING`.
    ///
    /// A new row starts at version 1 (`conn.version` is ignored). On conflict the stored row
    /// keeps its `id` and `created_at`, keeps its `refresh_token_sealed` / `refresh_expires_at`
    /// when the new ones are `None` (each independently), takes every other [`Connection`]
    /// field from `conn`, gets `version + 1`, and has its refresh failure count reset to 0 (the
    /// tokens are new). The refresh lock columns are left alone.
    async fn upsert_connection(&self, conn: &Connection) -> StoreResult<Connection> {
        let row = sqlx::query(concat!(
            "INSERT INTO connections (",
            connection_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
                       $17, $18, $19, 1, $20, $21)
             ON CONFLICT (workspace_id, platform, account_id) DO UPDATE SET
                 owner                = excluded.owner,
                 account_name         = excluded.account_name,
                 username             = excluded.username,
                 avatar_url           = excluded.avatar_url,
                 scopes               = excluded.scopes,
                 status               = excluded.status,
                 access_token_sealed  = excluded.access_token_sealed,
                 refresh_token_sealed = COALESCE(excluded.refresh_token_sealed,
                                                 connections.refresh_token_sealed),
                 token_type           = excluded.token_type,
                 expires_at           = excluded.expires_at,
                 refresh_expires_at   = CASE WHEN excluded.refresh_token_sealed IS NULL
                                         THEN connections.refresh_expires_at
                                         ELSE excluded.refresh_expires_at END,
                 token_obtained_at    = excluded.token_obtained_at,
                 last_refreshed_at    = excluded.last_refreshed_at,
                 last_error           = excluded.last_error,
                 metadata             = excluded.metadata,
                 version              = connections.version + 1,
                 updated_at           = excluded.updated_at,
                 refresh_failures     = 0
             RETURNING ",
            connection_columns!()
        ))
        .bind(&conn.id)
        .bind(&conn.workspace_id)
        .bind(&conn.platform)
        .bind(&conn.owner)
        .bind(&conn.account_id)
        .bind(&conn.account_name)
        .bind(&conn.username)
        .bind(&conn.avatar_url)
        .bind(scopes_to_json(&conn.scopes))
        .bind(&conn.status)
        .bind(&conn.access_token_sealed)
        .bind(&conn.refresh_token_sealed)
        .bind(&conn.token_type)
        .bind(conn.expires_at.map(to_millis))
        .bind(conn.refresh_expires_at.map(to_millis))
        .bind(to_millis(conn.token_obtained_at))
        .bind(conn.last_refreshed_at.map(to_millis))
        .bind(conn.last_error.as_ref().map(|error| error.to_string()))
        .bind(conn.metadata.to_string())
        .bind(to_millis(conn.created_at))
        .bind(to_millis(conn.updated_at))
        .fetch_one(&self.pool)
        .await?;
        connection_from_row(&row)
    }

    async fn get_connection(
        &self,
        workspace_id: &str,
        id: &str,
    ) -> StoreResult<Option<Connection>> {
        sqlx::query(concat!(
            "SELECT ",
            connection_columns!(),
            " FROM connections WHERE workspace_id = $1 AND id = $2"
        ))
        .bind(workspace_id)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .map(|row| connection_from_row(&row))
        .transpose()
    }

    async fn get_connections(
        &self,
        workspace_id: &str,
        ids: &[String],
    ) -> StoreResult<Vec<Connection>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        sqlx::query(concat!(
            "SELECT ",
            connection_columns!(),
            " FROM connections WHERE workspace_id = $1 AND id IN (SELECT value FROM json_each($2))"
        ))
        .bind(workspace_id)
        .bind(serde_json::to_string(ids).unwrap_or_default())
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(connection_from_row)
        .collect()
    }

    async fn get_connection_by_id(&self, id: &str) -> StoreResult<Option<Connection>> {
        sqlx::query(concat!(
            "SELECT ",
            connection_columns!(),
            " FROM connections WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .map(|row| connection_from_row(&row))
        .transpose()
    }

    /// Ordered by `created_at`, then `id`; each `Some` filter must match exactly.
    async fn list_connections(
        &self,
        workspace_id: &str,
        filter: &ConnectionFilter,
    ) -> StoreResult<Vec<Connection>> {
        sqlx::query(concat!(
            "SELECT ",
            connection_columns!(),
            " FROM connections
              WHERE workspace_id = $1
                AND ($2 IS NULL OR platform = $2)
                AND ($3 IS NULL OR owner = $3)
                AND ($4 IS NULL OR status = $4)
              ORDER BY created_at, id"
        ))
        .bind(workspace_id)
        .bind(&filter.platform)
        .bind(&filter.owner)
        .bind(&filter.status)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(connection_from_row)
        .collect()
    }

    /// One conditional `UPDATE ... RETURNING`. `None` refresh token, refresh expiry, scopes and
    /// `refreshed_at` keep the stored values; `last_error` is cleared, the refresh failure count
    /// reset to 0, `version` incremented and `updated_at` set to `now`.
    async fn update_tokens(
        &self,
        id: &str,
        update: &TokenUpdate,
        expected_version: Option<i64>,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Connection>> {
        sqlx::query(concat!(
            "UPDATE connections SET
                 access_token_sealed  = $2,
                 refresh_token_sealed = COALESCE($3, refresh_token_sealed),
                 token_type           = $4,
                 expires_at           = $5,
                 refresh_expires_at   = CASE WHEN $3 IS NULL THEN refresh_expires_at ELSE $6 END,
                 scopes               = COALESCE($7, scopes),
                 token_obtained_at    = $8,
                 status               = $9,
                 last_refreshed_at    = COALESCE($10, last_refreshed_at),
                 last_error           = NULL,
                 refresh_failures     = 0,
                 next_refresh_at      = NULL,
                 refresh_locked_by    = NULL,
                 refresh_locked_until = NULL,
                 version              = version + 1,
                 updated_at           = $11
             WHERE id = $1 AND ($12 IS NULL OR version = $12)
             RETURNING ",
            connection_columns!()
        ))
        .bind(id)
        .bind(&update.access_token_sealed)
        .bind(&update.refresh_token_sealed)
        .bind(&update.token_type)
        .bind(update.expires_at.map(to_millis))
        .bind(update.refresh_expires_at.map(to_millis))
        .bind(update.scopes.as_deref().map(scopes_to_json))
        .bind(to_millis(update.token_obtained_at))
        .bind(&update.status)
        .bind(update.refreshed_at.map(to_millis))
        .bind(to_millis(now))
        .bind(expected_version)
        .fetch_optional(&self.pool)
        .await?
        .map(|row| connection_from_row(&row))
        .transpose()
    }

    /// Sets `status`, `last_error` and `updated_at`, and increments the refresh failure count.
    /// The version is unchanged (the tokens are). An unknown id is a no-op.
    async fn record_connection_error(
        &self,
        id: &str,
        status: &str,
        error: &serde_json::Value,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE connections
             SET status = $2, last_error = $3, refresh_failures = refresh_failures + 1,
                 updated_at = $4
             WHERE id = $1",
        )
        .bind(id)
        .bind(status)
        .bind(error.to_string())
        .bind(to_millis(now))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Sets `status` and `updated_at`. An unknown id is a no-op.
    async fn set_connection_status(
        &self,
        id: &str,
        status: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        sqlx::query("UPDATE connections SET status = $2, updated_at = $3 WHERE id = $1")
            .bind(id)
            .bind(status)
            .bind(to_millis(now))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Events of the connection stay (they are not linked by a foreign key).
    async fn delete_connection(&self, workspace_id: &str, id: &str) -> StoreResult<bool> {
        let result = sqlx::query("DELETE FROM connections WHERE workspace_id = $1 AND id = $2")
            .bind(workspace_id)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(result.rows_affected() > 0)
    }

    /// One conditional `UPDATE`: taken when the lock is free, expired (`locked_until <= now`),
    /// or already held by `owner` (which extends it to `until`). False for an unknown id.
    async fn try_lock_refresh(
        &self,
        id: &str,
        owner: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let result = sqlx::query(
            "UPDATE connections SET refresh_locked_by = $2, refresh_locked_until = $3
             WHERE id = $1
               AND (refresh_locked_by IS NULL
                    OR refresh_locked_until IS NULL
                    OR refresh_locked_until <= $4
                    OR refresh_locked_by = $2)",
        )
        .bind(id)
        .bind(owner)
        .bind(to_millis(until))
        .bind(to_millis(now))
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() > 0)
    }

    /// Clears the lock only when `owner` holds it; otherwise a no-op.
    async fn unlock_refresh(&self, id: &str, owner: &str) -> StoreResult<()> {
        sqlx::query(
            "UPDATE connections SET refresh_locked_by = NULL, refresh_locked_until = NULL
             WHERE id = $1 AND refresh_locked_by = $2",
        )
        .bind(id)
        .bind(owner)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn insert_event(&self, event: &Event) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO events (id, workspace_id, connection_id, kind, payload, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&event.id)
        .bind(&event.workspace_id)
        .bind(&event.connection_id)
        .bind(&event.kind)
        .bind(event.payload.to_string())
        .bind(to_millis(event.created_at))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Ordered by `created_at` descending, then `id` descending.
    async fn list_events(&self, workspace_id: &str, limit: u32) -> StoreResult<Vec<Event>> {
        sqlx::query(
            "SELECT id, workspace_id, connection_id, kind, payload, created_at
             FROM events
             WHERE workspace_id = $1
             ORDER BY created_at DESC, id DESC
             LIMIT $2",
        )
        .bind(workspace_id)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(event_from_row)
        .collect()
    }
}

#[path = "sqlite_refresh_queue.rs"]
mod refresh_queue;
