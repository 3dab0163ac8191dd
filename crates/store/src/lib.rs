//! Persistence for Switchboard behind the [`Store`] trait.
//!
//! Two implementations, chosen by the database URL at start ([`connect`]):
//! - [`sqlite::SqliteStore`] for `sqlite:` URLs and plain file paths (the embedded default);
//! - [`postgres::PgStore`] for `postgres://` URLs (several instances sharing one database).
//!
//! Each has its own migrations under `migrations/<backend>/`, applied on connect. One conformance
//! suite (`tests/conformance.rs`) runs against both.
//!
//! The store never sees plaintext tokens: fields ending in `_sealed` hold vault ciphertexts
//! (see `switchboard-vault`).

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub mod bulk;
mod codec;
pub mod maintenance;
pub mod media;
pub mod pages;
pub mod pool;
pub mod postgres;
mod postgres_bulk;
mod postgres_maintenance;
mod postgres_media;
mod postgres_pages;
mod postgres_posts;
mod postgres_queue_depth;
mod postgres_rate_limits;
mod postgres_sync;
mod postgres_webhooks;
pub mod posts;
pub mod queue_depth;
pub mod rate_limits;
pub mod refresh_queue;
pub mod sqlite;
mod sqlite_bulk;
mod sqlite_maintenance;
mod sqlite_media;
mod sqlite_pages;
mod sqlite_posts;
mod sqlite_queue_depth;
mod sqlite_rate_limits;
mod sqlite_sync;
mod sqlite_webhooks;
pub mod sync;
pub mod testing;
pub mod webhooks;

/// Store failures.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database URL is not one Switchboard understands.
    #[error("unsupported database URL {0:?}: use sqlite://PATH, a file path, or postgres://...")]
    UnsupportedUrl(String),
    /// The database could not be reached or answered with an error.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Migrations failed.
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A stored value could not be decoded (for example a JSON column).
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

/// What a [`StoreError`] says about the database, for answers that name the cause
/// ([`StoreError::fault`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The database's disk is full (SQLite `SQLITE_FULL`, PostgreSQL SQLSTATE `53100`, or an
    /// I/O error of kind `StorageFull`). Nothing of the failed write was stored.
    DiskFull,
    /// The database cannot be written: SQLite `SQLITE_READONLY` or a file that could only be
    /// opened read-only, PostgreSQL `25006` (read-only transaction: a standby, or
    /// `default_transaction_read_only`).
    ReadOnly,
    /// The database met an I/O error reading or writing its files (SQLite `SQLITE_IOERR`,
    /// `SQLITE_CANTOPEN`, `SQLITE_CORRUPT`, `SQLITE_NOTADB`; PostgreSQL `58030`).
    Io,
    /// The database did not answer: no connection within the acquire timeout, the connection
    /// broke, or the server is shutting down or starting (PostgreSQL classes `08`, `57P`).
    Unreachable,
    /// The database was busy: a lock not granted in time (SQLite `SQLITE_BUSY` /
    /// `SQLITE_LOCKED`, PostgreSQL `40001`, `40P01`, `55P03`).
    Busy,
    /// Anything else (a constraint, a malformed statement, corrupt stored data).
    Other,
}

impl StoreError {
    /// What the failure says about the database (see [`Fault`]).
    pub fn fault(&self) -> Fault {
        match self {
            StoreError::Database(error)
            | StoreError::Migrate(sqlx::migrate::MigrateError::Execute(error))
            | StoreError::Migrate(sqlx::migrate::MigrateError::ExecuteMigration(error, _)) => {
                sqlx_fault(error)
            }
            _ => Fault::Other,
        }
    }
}

fn sqlx_fault(error: &sqlx::Error) -> Fault {
    match error {
        sqlx::Error::Database(db) => {
            if let Some(sqlite) = db.try_downcast_ref::<sqlx::sqlite::SqliteError>() {
                // Primary result code: the low byte of the extended one.
                let code = sqlx::error::DatabaseError::code(sqlite)
                    .and_then(|c| c.parse::<i32>().ok())
                    .unwrap_or(1)
                    & 0xff;
                return match code {
                    13 => Fault::DiskFull,
                    8 => Fault::ReadOnly,
                    10 | 11 | 14 | 26 => Fault::Io,
                    5 | 6 => Fault::Busy,
                    _ => Fault::Other,
                };
            }
            let state = db.code().map(|c| c.into_owned()).unwrap_or_default();
            match state.as_str() {
                "53100" => Fault::DiskFull,
                "25006" => Fault::ReadOnly,
                "58030" => Fault::Io,
                "40001" | "40P01" | "55P03" => Fault::Busy,
                s if s.starts_with("08") || s.starts_with("57P") => Fault::Unreachable,
                _ => Fault::Other,
            }
        }
        sqlx::Error::Io(io) => match io.kind() {
            std::io::ErrorKind::StorageFull => Fault::DiskFull,
            std::io::ErrorKind::ReadOnlyFilesystem => Fault::ReadOnly,
            _ => Fault::Unreachable,
        },
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_) => Fault::Unreachable,
        _ => Fault::Other,
    }
}

/// Result alias for store calls.
pub type StoreResult<T> = Result<T, StoreError>;

/// A workspace: the tenant that owns API keys and connections.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Workspace {
    /// Workspace id (UUID text).
    pub id: String,
    /// Human name.
    pub name: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

/// An API key record. The key itself is never stored, only its SHA-256 (hex).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKey {
    /// Key id (UUID text).
    pub id: String,
    /// Owning workspace.
    pub workspace_id: String,
    /// The first characters of the key, for people to recognise it (`sbk_ab12…`).
    pub prefix: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

/// A pending OAuth authorization: the server-side half of the `state` parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthState {
    /// SHA-256 (hex) of the `state` value sent to the platform; the value itself is not stored.
    pub state_hash: String,
    /// Workspace that started the flow.
    pub workspace_id: String,
    /// Platform id.
    pub platform: String,
    /// The end user (in the product team's app) the connection is for.
    pub owner: String,
    /// Redirect URI sent on the authorization request (must be repeated at the token endpoint).
    pub redirect_uri: String,
    /// Scopes requested.
    pub scopes: Vec<String>,
    /// Where to send the browser after the callback, already checked against the allow-list.
    pub return_to: Option<String>,
    /// The PKCE code_verifier, sealed by the vault (context `oauth_state:<state_hash>:code_verifier`).
    pub code_verifier_sealed: Option<String>,
    /// Connection being reconnected, when the flow is a reconnect.
    pub connection_id: Option<String>,
    /// Free-form non-secret data (bulk connect batch id, ...).
    pub metadata: serde_json::Value,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// After this instant the state is refused.
    pub expires_at: DateTime<Utc>,
    /// When it was consumed; `None` while pending.
    pub consumed_at: Option<DateTime<Utc>>,
}

/// What happened when a callback tried to consume a state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsumeOutcome {
    /// This call consumed it; no other call ever will.
    Consumed(OAuthState),
    /// It exists but expired before use (it is not consumed).
    Expired(OAuthState),
    /// It was consumed before (a replayed callback).
    AlreadyUsed(OAuthState),
    /// No such state: forged, or purged.
    NotFound,
}

/// A connection: one platform account connected in a workspace. Tokens are sealed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Connection {
    /// Connection id (UUID text).
    pub id: String,
    /// Owning workspace.
    pub workspace_id: String,
    /// Platform id.
    pub platform: String,
    /// The end user it belongs to.
    pub owner: String,
    /// The platform's stable account id (X user id, LinkedIn `sub`, TikTok `open_id`...).
    pub account_id: String,
    /// Display name at the platform.
    pub account_name: Option<String>,
    /// Handle at the platform, where it has one.
    pub username: Option<String>,
    /// Avatar URL.
    pub avatar_url: Option<String>,
    /// Scopes granted.
    pub scopes: Vec<String>,
    /// Status name (see `switchboard_core::connection::ConnectionStatus`).
    pub status: String,
    /// Sealed access token (context `connection:<id>:access_token`).
    pub access_token_sealed: String,
    /// Sealed refresh token (context `connection:<id>:refresh_token`), when there is one.
    pub refresh_token_sealed: Option<String>,
    /// Token type, `Bearer`.
    pub token_type: String,
    /// Access token expiry; `None` when it does not expire.
    pub expires_at: Option<DateTime<Utc>>,
    /// Refresh token expiry, when the platform says.
    pub refresh_expires_at: Option<DateTime<Utc>>,
    /// When the current access token was issued (Instagram refuses refreshes in the first 24 h).
    pub token_obtained_at: DateTime<Utc>,
    /// Last successful refresh.
    pub last_refreshed_at: Option<DateTime<Utc>>,
    /// The last failure (a diagnosis as JSON), cleared on success.
    pub last_error: Option<serde_json::Value>,
    /// Non-secret platform data (`open_id`, person URN, ...).
    pub metadata: serde_json::Value,
    /// Incremented on every token change; lets readers detect that a refresh happened.
    pub version: i64,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// New tokens for an existing connection.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenUpdate {
    /// Sealed access token.
    pub access_token_sealed: String,
    /// Sealed refresh token; `None` keeps the stored one (platforms that do not rotate).
    pub refresh_token_sealed: Option<String>,
    /// Token type.
    pub token_type: String,
    /// New access token expiry.
    pub expires_at: Option<DateTime<Utc>>,
    /// Expiry of the new refresh token. It travels with `refresh_token_sealed`: when that is
    /// `None` the stored token and expiry are both kept; when it is `Some`, this value is stored
    /// as is (`None` meaning the platform gave no expiry).
    pub refresh_expires_at: Option<DateTime<Utc>>,
    /// Scopes, when the response reported them; `None` keeps the stored ones.
    pub scopes: Option<Vec<String>>,
    /// Issue time of the new access token.
    pub token_obtained_at: DateTime<Utc>,
    /// New status name.
    pub status: String,
    /// Set as last successful refresh when `Some`.
    pub refreshed_at: Option<DateTime<Utc>>,
}

/// Filters for listing connections; `None` fields do not filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectionFilter {
    /// Only this platform.
    pub platform: Option<String>,
    /// Only this owner.
    pub owner: Option<String>,
    /// Only this status.
    pub status: Option<String>,
}

/// An event in a workspace's log (`connection.created`, ...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Event id (UUID v7 text, so ids sort by time).
    pub id: String,
    /// Workspace.
    pub workspace_id: String,
    /// Connection concerned, if any.
    pub connection_id: Option<String>,
    /// Event type, e.g. `connection.created`.
    pub kind: String,
    /// Event data (never tokens).
    pub payload: serde_json::Value,
    /// When it happened.
    pub created_at: DateTime<Utc>,
}

/// Persistence operations. Implementations must be safe for several processes sharing one
/// database: every "exactly once" below holds across processes.
#[async_trait]
pub trait Store:
    bulk::BulkStore
    + maintenance::MaintenanceStore
    + media::MediaStore
    + pages::PageStore
    + posts::PostStore
    + queue_depth::QueueDepthStore
    + rate_limits::RateLimitStore
    + refresh_queue::RefreshQueue
    + sync::SyncStore
    + webhooks::WebhookStore
    + webhooks::AuditStore
    + Send
    + Sync
    + std::fmt::Debug
    + 'static
{
    /// Backend name, `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;

    /// Checks that the database answers (`SELECT 1`).
    async fn ping(&self) -> StoreResult<()>;

    /// Creates a workspace.
    async fn create_workspace(&self, name: &str, now: DateTime<Utc>) -> StoreResult<Workspace>;

    /// Looks a workspace up.
    async fn get_workspace(&self, id: &str) -> StoreResult<Option<Workspace>>;

    /// Workspaces, oldest first, at most `limit` (the dashboard's workspace picker for the
    /// admin sign-in).
    async fn list_workspaces(&self, limit: u32) -> StoreResult<Vec<Workspace>>;

    /// Records that the dashboard session `session_hash` (SHA-256 hex of its id) was signed
    /// out; kept until `expires_at`, when the session would have ended anyway. Also forgets the
    /// records that expired before `now`. Recording the same session twice is fine.
    async fn sign_out_session(
        &self,
        session_hash: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;

    /// Whether the dashboard session `session_hash` was signed out.
    async fn is_signed_out(&self, session_hash: &str) -> StoreResult<bool>;

    /// Stores an API key by its SHA-256 hex digest.
    async fn create_api_key(
        &self,
        workspace_id: &str,
        key_hash: &str,
        prefix: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<ApiKey>;

    /// Finds the API key with this SHA-256 hex digest.
    async fn find_api_key(&self, key_hash: &str) -> StoreResult<Option<ApiKey>>;

    /// Stores a pending OAuth state.
    async fn insert_oauth_state(&self, state: &OAuthState) -> StoreResult<()>;

    /// Consumes a state atomically: of any number of concurrent calls (in any process) with the
    /// same hash, at most one gets [`ConsumeOutcome::Consumed`]. An expired state is reported as
    /// such and left unconsumed.
    async fn consume_oauth_state(
        &self,
        state_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<ConsumeOutcome>;

    /// Finds a workspace's connection to a given platform account.
    async fn find_connection_by_account(
        &self,
        workspace_id: &str,
        platform: &str,
        account_id: &str,
    ) -> StoreResult<Option<Connection>>;

    /// Every workspace's connection to a given platform account (a platform's callback about a
    /// person, such as Meta's deauthorize and data deletion callbacks, names the account, not
    /// the workspace), oldest first.
    async fn find_connections_by_platform_account(
        &self,
        platform: &str,
        account_id: &str,
    ) -> StoreResult<Vec<Connection>>;

    /// Inserts the connection, or when the workspace already has one for the same platform and
    /// account, updates that one (keeping its id, `created_at`, and its refresh token with its
    /// expiry when the new refresh token is `None`) and bumps its version. Returns the stored row, whose
    /// id may differ from `conn.id` when another writer inserted first.
    async fn upsert_connection(&self, conn: &Connection) -> StoreResult<Connection>;

    /// A connection of a workspace; another workspace's connection is `None`.
    async fn get_connection(&self, workspace_id: &str, id: &str)
        -> StoreResult<Option<Connection>>;

    /// The connections of a workspace among `ids`, in one query (a request's `connection_ids`);
    /// ids that are unknown, or another workspace's, are missing from the answer, whose order
    /// is unspecified.
    async fn get_connections(
        &self,
        workspace_id: &str,
        ids: &[String],
    ) -> StoreResult<Vec<Connection>>;

    /// A connection by id alone (for background workers).
    async fn get_connection_by_id(&self, id: &str) -> StoreResult<Option<Connection>>;

    /// A workspace's connections, oldest first.
    async fn list_connections(
        &self,
        workspace_id: &str,
        filter: &ConnectionFilter,
    ) -> StoreResult<Vec<Connection>>;

    /// Replaces a connection's tokens and bumps its version. New tokens end any refresh lock,
    /// scheduled retry and failure count (one write where the refresh path needs it). With `expected_version`, updates
    /// only when the stored version still equals it. Returns the updated row, or `None` when the
    /// connection is gone or the version moved on.
    async fn update_tokens(
        &self,
        id: &str,
        update: &TokenUpdate,
        expected_version: Option<i64>,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Connection>>;

    /// Records a failure (diagnosis JSON) and the status it leads to.
    async fn record_connection_error(
        &self,
        id: &str,
        status: &str,
        error: &serde_json::Value,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;

    /// Sets a connection's status.
    async fn set_connection_status(
        &self,
        id: &str,
        status: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;

    /// Deletes a connection of a workspace; false when there was none.
    async fn delete_connection(&self, workspace_id: &str, id: &str) -> StoreResult<bool>;

    /// Takes the refresh lock of a connection for `owner` until `until`, if no one else holds an
    /// unexpired lock. True when taken. Across processes at most one holder at a time.
    async fn try_lock_refresh(
        &self,
        id: &str,
        owner: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// Releases the refresh lock if `owner` holds it.
    async fn unlock_refresh(&self, id: &str, owner: &str) -> StoreResult<()>;

    /// Appends an event.
    async fn insert_event(&self, event: &Event) -> StoreResult<()>;

    /// A workspace's events, newest first, at most `limit`.
    async fn list_events(&self, workspace_id: &str, limit: u32) -> StoreResult<Vec<Event>>;
}

/// Opens the store a database URL names and applies its migrations.
///
/// `sqlite://PATH`, `sqlite:PATH` or a plain path open SQLite (the file and its directory are
/// created when missing; `sqlite::memory:` is an in-memory database); `postgres://` or
/// `postgresql://` open PostgreSQL.
///
/// # Errors
/// [`StoreError::UnsupportedUrl`], [`StoreError::Database`] when unreachable,
/// [`StoreError::Migrate`] when migrations fail.
pub async fn connect(url: &str) -> StoreResult<Arc<dyn Store>> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(postgres::PgStore::connect(url).await?))
    } else if url.starts_with("sqlite:") || !url.contains("://") {
        Ok(Arc::new(sqlite::SqliteStore::connect(url).await?))
    } else {
        Err(StoreError::UnsupportedUrl(url.to_string()))
    }
}
