//! The PostgreSQL implementation of [`Store`], for several server processes sharing one database.
//!
//! Storage conventions (see `migrations/postgres/`):
//! - ids are UUID text;
//! - timestamps are `timestamptz` (microsecond precision, so values read back are truncated to
//!   whole microseconds);
//! - JSON values (`metadata`, `last_error`, event `payload`) are `jsonb`, read back as text and
//!   decoded here; scope lists are `text[]`.
//!
//! Cross-process guarantees rest on single statements, never on read-then-write sequences:
//! consuming a state is one conditional `UPDATE ... RETURNING`, the upsert is one
//! `INSERT ... ON CONFLICT ... DO UPDATE ... RETURNING`, the optimistic token update and the
//! refresh lock are conditional `UPDATE`s. Under READ COMMITTED a concurrent writer of the same
//! row waits for the first and then re-checks the `WHERE` clause against the committed row, so
//! at most one caller wins.
//!
//! Migrations run on a dedicated connection under the advisory lock sqlx's migrator takes on
//! PostgreSQL (`pg_advisory_lock`, keyed by database name, taken before it even creates
//! `_sqlx_migrations`), so processes starting together apply them once; the connection is closed
//! afterwards, which also releases the lock if a migration failed halfway.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::Row;

use crate::codec::{from_json, from_json_opt};
use crate::{
    ApiKey, Connection, ConnectionFilter, ConsumeOutcome, Event, OAuthState, Store, StoreError,
    StoreResult, TokenUpdate, Workspace,
};

/// The PostgreSQL migrations (`crates/store/migrations/postgres`), applied on connect.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// Pool size used by [`PgStore::connect`].
pub const DEFAULT_MAX_CONNECTIONS: u32 = 10;

/// Columns of `connections` that make up a [`Connection`] (JSON read back as text).
macro_rules! connection_columns {
    () => {
        "id, workspace_id, platform, owner, account_id, account_name, username, avatar_url, \
         scopes, status, access_token_sealed, refresh_token_sealed, token_type, expires_at, \
         refresh_expires_at, token_obtained_at, last_refreshed_at, \
         last_error::text AS last_error, metadata::text AS metadata, \
         version, created_at, updated_at"
    };
}

/// Columns of `oauth_states` that make up an [`OAuthState`] (JSON read back as text).
macro_rules! oauth_state_columns {
    () => {
        "state_hash, workspace_id, platform, owner, redirect_uri, scopes, return_to, \
         code_verifier_sealed, connection_id, metadata::text AS metadata, created_at, \
         expires_at, consumed_at"
    };
}

/// A [`Store`] on a PostgreSQL database; any number of them (in any number of processes) may
/// share the database.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects to a `postgres://` or `postgresql://` URL with a pool of at most
    /// [`DEFAULT_MAX_CONNECTIONS`] and applies the migrations (see the module docs for how
    /// concurrent starts are serialized).
    ///
    /// # Errors
    /// [`StoreError::Database`] when the URL is malformed or the server unreachable,
    /// [`StoreError::Migrate`] when the migrations fail.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let options: PgConnectOptions = url.parse()?;
        let pool = crate::pool::guard_postgres(PgPoolOptions::new())
            .max_connections(DEFAULT_MAX_CONNECTIONS)
            .connect_with(options)
            .await?;
        Self::from_pool(pool).await
    }

    /// Wraps an existing pool (configured by the caller) and applies the migrations.
    ///
    /// # Errors
    /// As [`PgStore::connect`].
    pub async fn from_pool(pool: PgPool) -> StoreResult<Self> {
        // A separate single-connection pool, closed afterwards: ending the session releases the
        // migrator's advisory lock even when a migration failed halfway.
        let migration_pool = PgPoolOptions::new()
            .max_connections(1)
            .connect_with((*pool.connect_options()).clone())
            .await?;
        let migrated = MIGRATOR.run(&migration_pool).await;
        migration_pool.close().await;
        migrated?;
        Ok(Self { pool })
    }

    /// The underlying connection pool (for diagnostics and backend-specific tests).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

fn workspace_from_row(row: &PgRow) -> StoreResult<Workspace> {
    Ok(Workspace {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        created_at: row.try_get("created_at")?,
    })
}

fn api_key_from_row(row: &PgRow) -> StoreResult<ApiKey> {
    Ok(ApiKey {
        id: row.try_get("id")?,
        workspace_id: row.try_get("workspace_id")?,
        prefix: row.try_get("prefix")?,
        created_at: row.try_get("created_at")?,
    })
}

fn oauth_state_from_row(row: &PgRow) -> StoreResult<OAuthState> {
    Ok(OAuthState {
        state_hash: row.try_get("state_hash")?,
        workspace_id: row.try_get("workspace_id")?,
        platform: row.try_get("platform")?,
        owner: row.try_get("owner")?,
        redirect_uri: row.try_get("redirect_uri")?,
        scopes: row.try_get("scopes")?,
        return_to: row.try_get("return_to")?,
        code_verifier_sealed: row.try_get("code_verifier_sealed")?,
        connection_id: row.try_get("connection_id")?,
        metadata: from_json(row.try_get("metadata")?, "oauth_states.metadata")?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        consumed_at: row.try_get("consumed_at")?,
    })
}

fn connection_from_row(row: &PgRow) -> StoreResult<Connection> {
    Ok(Connection {
        id: row.try_get("id")?,
        workspace_id: row.try_get("workspace_id")?,
        platform: row.try_get("platform")?,
        owner: row.try_get("owner")?,
        account_id: row.try_get("account_id")?,
        account_name: row.try_get("account_name")?,
        username: row.try_get("username")?,
        avatar_url: row.try_get("avatar_url")?,
        scopes: row.try_get("scopes")?,
        status: row.try_get("status")?,
        access_token_sealed: row.try_get("access_token_sealed")?,
        refresh_token_sealed: row.try_get("refresh_token_sealed")?,
        token_type: row.try_get("token_type")?,
        expires_at: row.try_get("expires_at")?,
        refresh_expires_at: row.try_get("refresh_expires_at")?,
        token_obtained_at: row.try_get("token_obtained_at")?,
        last_refreshed_at: row.try_get("last_refreshed_at")?,
        last_error: from_json_opt(row.try_get("last_error")?, "connections.last_error")?,
        metadata: from_json(row.try_get("metadata")?, "connections.metadata")?,
        version: row.try_get("version")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn event_from_row(row: &PgRow) -> StoreResult<Event> {
    Ok(Event {
        id: row.try_get("id")?,
        workspace_id: row.try_get("workspace_id")?,
        connection_id: row.try_get("connection_id")?,
        kind: row.try_get("kind")?,
        payload: from_json(row.try_get("payload")?, "events.payload")?,
        created_at: row.try_get("created_at")?,
    })
}

#[async_trait]
impl Store for PgStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
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
        .bind(now)
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
            .bind(now)
            .execute(&self.pool)
            .await?;
        sqlx::query(
            "INSERT INTO dashboard_signed_out (session_hash, expires_at) VALUES ($1, $2)
             ON CONFLICT (session_hash) DO NOTHING",
        )
        .bind(session_hash)
        .bind(expires_at)
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
        .bind(now)
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
        sqlx::query(
            "INSERT INTO oauth_states (state_hash, workspace_id, platform, owner, redirect_uri,
                 scopes, return_to, code_verifier_sealed, connection_id, metadata, created_at,
                 expires_at, consumed_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb, $11, $12, $13)",
        )
        .bind(&state.state_hash)
        .bind(&state.workspace_id)
        .bind(&state.platform)
        .bind(&state.owner)
        .bind(&state.redirect_uri)
        .bind(&state.scopes)
        .bind(&state.return_to)
        .bind(&state.code_verifier_sealed)
        .bind(&state.connection_id)
        .bind(state.metadata.to_string())
        .bind(state.created_at)
        .bind(state.expires_at)
        .bind(state.consumed_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// One conditional `UPDATE ... RETURNING` marks the state consumed when it is unconsumed and
    /// `expires_at > now`. Concurrent callers (in any process) queue on the row lock and
    /// re-check the condition against the committed row, so exactly one sees the row come back
    /// ([`ConsumeOutcome::Consumed`], with `consumed_at = now`). Only when no row changed, a
    /// `SELECT` tells the rest apart: consumed before ([`ConsumeOutcome::AlreadyUsed`], even if
    /// it has expired since), `expires_at <= now` ([`ConsumeOutcome::Expired`], left
    /// unconsumed), or no such hash ([`ConsumeOutcome::NotFound`]).
    async fn consume_oauth_state(
        &self,
        state_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<ConsumeOutcome> {
        // Two rounds: a state inserted between the UPDATE and the SELECT is retried once.
        for _ in 0..2 {
            let consumed = sqlx::query(concat!(
                "UPDATE oauth_states SET consumed_at = $2
                 WHERE state_hash = $1 AND consumed_at IS NULL AND expires_at > $2
                 RETURNING ",
                oauth_state_columns!()
            ))
            .bind(state_hash)
            .bind(now)
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
            if state.expires_at <= now {
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

    /// One `INSERT ... ON CONFLICT (workspace_id, platform, account_id) DO UPDATE ... RETURNING`,
    /// atomic across processes: of racing inserts one creates the row and the others update it.
    ///
    /// A new row starts at version 1 (`conn.version` is ignored). On conflict the stored row
    /// keeps its `id` and `created_at`, keeps its `refresh_token_sealed` / `refresh_expires_at`
    /// when the new ones are `None` (each independently), takes every other [`Connection`]
    /// field from `conn`, gets `version + 1`, and has its refresh failure count reset to 0 (the
    /// tokens are new). The refresh lock columns are left alone.
    async fn upsert_connection(&self, conn: &Connection) -> StoreResult<Connection> {
        let row = sqlx::query(concat!(
            "INSERT INTO connections (id, workspace_id, platform, owner, account_id, account_name,
                 username, avatar_url, scopes, status, access_token_sealed, refresh_token_sealed,
                 token_type, expires_at, refresh_expires_at, token_obtained_at, last_refreshed_at,
                 last_error, metadata, version, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
                     $18::jsonb, $19::jsonb, 1, $20, $21)
             ON CONFLICT (workspace_id, platform, account_id) DO UPDATE SET
                 owner                = EXCLUDED.owner,
                 account_name         = EXCLUDED.account_name,
                 username             = EXCLUDED.username,
                 avatar_url           = EXCLUDED.avatar_url,
                 scopes               = EXCLUDED.scopes,
                 status               = EXCLUDED.status,
                 access_token_sealed  = EXCLUDED.access_token_sealed,
                 refresh_token_sealed = COALESCE(EXCLUDED.refresh_token_sealed,
                                                 connections.refresh_token_sealed),
                 token_type           = EXCLUDED.token_type,
                 expires_at           = EXCLUDED.expires_at,
                 refresh_expires_at   = CASE WHEN EXCLUDED.refresh_token_sealed IS NULL
                                         THEN connections.refresh_expires_at
                                         ELSE EXCLUDED.refresh_expires_at END,
                 token_obtained_at    = EXCLUDED.token_obtained_at,
                 last_refreshed_at    = EXCLUDED.last_refreshed_at,
                 last_error           = EXCLUDED.last_error,
                 metadata             = EXCLUDED.metadata,
                 version              = connections.version + 1,
                 updated_at           = EXCLUDED.updated_at,
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
        .bind(&conn.scopes)
        .bind(&conn.status)
        .bind(&conn.access_token_sealed)
        .bind(&conn.refresh_token_sealed)
        .bind(&conn.token_type)
        .bind(conn.expires_at)
        .bind(conn.refresh_expires_at)
        .bind(conn.token_obtained_at)
        .bind(conn.last_refreshed_at)
        .bind(conn.last_error.as_ref().map(|error| error.to_string()))
        .bind(conn.metadata.to_string())
        .bind(conn.created_at)
        .bind(conn.updated_at)
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
            " FROM connections WHERE workspace_id = $1 AND id = ANY($2)"
        ))
        .bind(workspace_id)
        .bind(ids)
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
                AND ($2::text IS NULL OR platform = $2)
                AND ($3::text IS NULL OR owner = $3)
                AND ($4::text IS NULL OR status = $4)
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

    /// One conditional `UPDATE ... RETURNING`; with `expected_version`, of concurrent updates
    /// expecting the same version at most one succeeds. `None` refresh token, refresh expiry,
    /// scopes and `refreshed_at` keep the stored values; `last_error` is cleared, the refresh
    /// failure count reset to 0, `version` incremented and `updated_at` set to `now`.
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
             WHERE id = $1 AND ($12::bigint IS NULL OR version = $12)
             RETURNING ",
            connection_columns!()
        ))
        .bind(id)
        .bind(&update.access_token_sealed)
        .bind(&update.refresh_token_sealed)
        .bind(&update.token_type)
        .bind(update.expires_at)
        .bind(update.refresh_expires_at)
        .bind(update.scopes.as_deref())
        .bind(update.token_obtained_at)
        .bind(&update.status)
        .bind(update.refreshed_at)
        .bind(now)
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
             SET status = $2, last_error = $3::jsonb, refresh_failures = refresh_failures + 1,
                 updated_at = $4
             WHERE id = $1",
        )
        .bind(id)
        .bind(status)
        .bind(error.to_string())
        .bind(now)
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
            .bind(now)
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
    /// or already held by `owner` (which extends it to `until`). A concurrent taker waits on the
    /// row lock and then re-checks against the committed holder, so at most one wins. False for
    /// an unknown id.
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
        .bind(until)
        .bind(now)
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
             VALUES ($1, $2, $3, $4, $5::jsonb, $6)",
        )
        .bind(&event.id)
        .bind(&event.workspace_id)
        .bind(&event.connection_id)
        .bind(&event.kind)
        .bind(event.payload.to_string())
        .bind(event.created_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Ordered by `created_at` descending, then `id` descending.
    async fn list_events(&self, workspace_id: &str, limit: u32) -> StoreResult<Vec<Event>> {
        sqlx::query(
            "SELECT id, workspace_id, connection_id, kind, payload::text AS payload, created_at
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

#[path = "postgres_refresh_queue.rs"]
mod refresh_queue;
