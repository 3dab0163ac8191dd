//! Bulk connect batches and account validation results (issue 5, items 3 and 7).
//!
//! A [`ConnectBatch`] groups the connect sessions `POST /v1/connect/bulk` starts, one
//! [`BatchSession`] per platform, each tied to its OAuth state by the state's SHA-256 hash. The
//! callback of a session that belongs to a batch records its outcome with
//! [`BulkStore::finish_batch_session`]; the progress report reads the batch back with
//! [`BulkStore::get_batch`].
//!
//! [`BulkStore::record_validation`] keeps the latest live validation report of a connection and
//! stamps the connection's `last_checked_at`. It never changes the connection's status: an
//! account that is not eligible (personal Instagram account, no YouTube channel...) still has a
//! good grant.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::StoreResult;

/// Status of a batch session: waiting for the person.
pub const SESSION_PENDING: &str = "pending";
/// Status of a batch session: the callback saved a connection.
pub const SESSION_CONNECTED: &str = "connected";
/// Status of a batch session: the callback failed (denied, platform error...).
pub const SESSION_FAILED: &str = "failed";

/// A bulk connect batch: several connect sessions started together for one owner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectBatch {
    /// Batch id (UUID text).
    pub id: String,
    /// Owning workspace.
    pub workspace_id: String,
    /// The end user the connections are for.
    pub owner: String,
    /// When the batch was started.
    pub created_at: DateTime<Utc>,
    /// When its last session's state expires.
    pub expires_at: DateTime<Utc>,
}

/// One platform's connect session inside a batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchSession {
    /// The batch it belongs to.
    pub batch_id: String,
    /// Position in the request's `platforms` list (0-based); sessions are read back in order.
    pub position: i64,
    /// Platform id.
    pub platform: String,
    /// SHA-256 (hex) of the session's `state` (the key of `oauth_states`).
    pub state_hash: String,
    /// [`SESSION_PENDING`], [`SESSION_CONNECTED`] or [`SESSION_FAILED`].
    pub status: String,
    /// The connection the callback saved, when connected.
    pub connection_id: Option<String>,
    /// The failure's diagnosis (JSON of `switchboard_core::Diagnosis`), when failed.
    pub diagnosis: Option<serde_json::Value>,
    /// When the session's state expires.
    pub expires_at: DateTime<Utc>,
    /// When the callback recorded the outcome; `None` while pending.
    pub finished_at: Option<DateTime<Utc>>,
    /// The session's authorization URL (it carries the OAuth state), sealed by the vault with
    /// context `bulk_session:<state_hash>:authorization_url`; cleared (`None`) once the outcome
    /// is recorded, so a spent link is not kept.
    pub authorization_url_sealed: Option<String>,
}

/// The latest live validation of a connection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValidationRecord {
    /// The connection checked.
    pub connection_id: String,
    /// Overall verdict: `pass`, `warn` or `fail`.
    pub verdict: String,
    /// The whole report as the API returned it (checks with their details; never tokens).
    pub report: serde_json::Value,
    /// When the checks ran.
    pub checked_at: DateTime<Utc>,
}

/// Persistence of bulk connect batches and validation results.
#[async_trait]
pub trait BulkStore: Send + Sync {
    /// Stores a batch and its sessions together (one transaction: all or nothing).
    async fn insert_batch(
        &self,
        batch: &ConnectBatch,
        sessions: &[BatchSession],
    ) -> StoreResult<()>;

    /// A workspace's batch with its sessions in `position` order; another workspace's batch is
    /// `None`.
    async fn get_batch(
        &self,
        workspace_id: &str,
        id: &str,
    ) -> StoreResult<Option<(ConnectBatch, Vec<BatchSession>)>>;

    /// Records the outcome of the session whose state hash is `state_hash`, only while it is
    /// still pending (a single conditional `UPDATE`: the first outcome wins, across
    /// processes). `status` is [`SESSION_CONNECTED`] or [`SESSION_FAILED`]; the sealed
    /// authorization URL is cleared with it. Returns true when this call recorded it; false when
    /// there is no such session or it was already finished.
    async fn finish_batch_session(
        &self,
        state_hash: &str,
        status: &str,
        connection_id: Option<&str>,
        diagnosis: Option<&serde_json::Value>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// Replaces the latest validation record of a connection and sets the connection's
    /// `last_checked_at` to `record.checked_at`. The connection's status is left alone. An
    /// unknown connection is a no-op.
    async fn record_validation(&self, record: &ValidationRecord) -> StoreResult<()>;

    /// The latest validation record of a connection, if it was ever validated.
    async fn last_validation(&self, connection_id: &str) -> StoreResult<Option<ValidationRecord>>;
}
