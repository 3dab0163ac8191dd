//! Analytics sync (issue 4 item 6): sync jobs, per-target metric snapshots, and the last sync
//! outcome per platform.
//!
//! A **job** reads the metrics of every published target of one workspace. At most one job per
//! workspace is `queued` or `running` at a time (a partial unique index), so asking for a sync
//! while one runs returns that one. Jobs are claimed with a lease (`locked_by`, `locked_until`)
//! in one statement (`FOR UPDATE SKIP LOCKED` on PostgreSQL), so of several instances sharing
//! the database one runs each job; a crashed holder's job is taken over once its lease ends and
//! goes on from the targets it has not recorded yet.
//!
//! Job states ([`SYNC_STATUSES`]): `queued` → `running` → `succeeded` (every target read),
//! `partial` (some failed, each with its diagnosis in `errors`) or `failed` (all failed).
//!
//! Tables `sync_jobs`, `metric_snapshots`, `platform_sync` (migration `0007_sync.sql`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::StoreResult;

/// Job status: waiting to be claimed.
pub const SYNC_QUEUED: &str = "queued";
/// Job status: claimed, reading metrics.
pub const SYNC_RUNNING: &str = "running";
/// Job status: every target's metrics were read (final).
pub const SYNC_SUCCEEDED: &str = "succeeded";
/// Job status: some targets failed, the others were read (final).
pub const SYNC_PARTIAL: &str = "partial";
/// Job status: every target failed (final).
pub const SYNC_FAILED: &str = "failed";

/// Every job status, in the order of a job's life.
pub const SYNC_STATUSES: &[&str] = &[
    SYNC_QUEUED,
    SYNC_RUNNING,
    SYNC_SUCCEEDED,
    SYNC_PARTIAL,
    SYNC_FAILED,
];

/// A sync job as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncJob {
    /// Job id (UUID v7 text).
    pub id: String,
    /// Workspace whose published targets it reads.
    pub workspace_id: String,
    /// One of [`SYNC_STATUSES`].
    pub status: String,
    /// Targets to read (set when the job starts).
    pub steps_total: u32,
    /// Targets read or failed so far.
    pub steps_done: u32,
    /// Failures, one JSON object per failed target (`{target_id, post_id, platform,
    /// diagnosis}`), in order.
    pub errors: Vec<Value>,
    /// Lease holder while claimed.
    pub locked_by: Option<String>,
    /// Lease end while claimed.
    pub locked_until: Option<DateTime<Utc>>,
    /// When it was queued.
    pub created_at: DateTime<Utc>,
    /// When it was first claimed.
    pub started_at: Option<DateTime<Utc>>,
    /// When it ended.
    pub finished_at: Option<DateTime<Utc>>,
}

/// The metrics of one target read by one job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricSnapshot {
    /// Snapshot id (UUID v7 text).
    pub id: String,
    /// The job that read it.
    pub job_id: String,
    /// The target's workspace.
    pub workspace_id: String,
    /// The post target.
    pub target_id: String,
    /// Platform id.
    pub platform: String,
    /// When it was read.
    pub fetched_at: DateTime<Utc>,
    /// JSON of `switchboard_publish::Metrics`.
    pub metrics: Value,
}

/// What one step of a job recorded: a snapshot, or a failure.
#[derive(Debug, Clone, PartialEq)]
pub enum SyncStep {
    /// The target's metrics were read.
    Read(MetricSnapshot),
    /// The target's metrics could not be read: `{target_id, post_id, platform, diagnosis}`.
    Failed(Value),
}

/// The last sync outcome of one platform in a workspace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlatformSync {
    /// Workspace.
    pub workspace_id: String,
    /// Platform id.
    pub platform: String,
    /// The job it comes from.
    pub job_id: String,
    /// `succeeded`, `partial` or `failed` (as a job's, for this platform's targets alone).
    pub status: String,
    /// The first failure's summary, when one failed.
    pub message: Option<String>,
    /// When that job ended.
    pub last_synced_at: DateTime<Utc>,
}

/// Sync jobs, snapshots and per-platform status.
#[async_trait]
pub trait SyncStore {
    /// Queues a job `id` for the workspace, unless one is already `queued` or `running` there, or
    /// (with `not_since`) one was created after `not_since`. One statement: of concurrent calls
    /// (in any process) at most one queues. `None` when nothing was queued.
    async fn enqueue_sync_job(
        &self,
        workspace_id: &str,
        id: &str,
        now: DateTime<Utc>,
        not_since: Option<DateTime<Utc>>,
    ) -> StoreResult<Option<SyncJob>>;

    /// The workspace's `queued` or `running` job, if any.
    async fn active_sync_job(&self, workspace_id: &str) -> StoreResult<Option<SyncJob>>;

    /// A job of a workspace; another workspace's is `None`.
    async fn get_sync_job(&self, workspace_id: &str, id: &str) -> StoreResult<Option<SyncJob>>;

    /// A workspace's jobs, newest first, at most `limit`.
    async fn list_sync_jobs(&self, workspace_id: &str, limit: u32) -> StoreResult<Vec<SyncJob>>;

    /// Claims the oldest job that is `queued`, or `running` with an expired lease (a crashed
    /// holder's): `running`, held by `owner` until `lease_until`, `started_at` set on the first
    /// claim. One statement; a job goes to one holder at a time.
    async fn claim_sync_job(
        &self,
        owner: &str,
        lease_until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<SyncJob>>;

    /// Sets the job's `steps_total` and extends the lease, only while `owner` holds it running.
    /// False when the lease was lost.
    async fn set_sync_total(
        &self,
        id: &str,
        owner: &str,
        steps_total: u32,
        lease_until: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// Records one step (one more `steps_done`; a snapshot stored, or the failure appended to
    /// `errors`) and extends the lease, in one transaction, only while `owner` holds the job
    /// running. False when the lease was lost (nothing is stored).
    async fn record_sync_step(
        &self,
        id: &str,
        owner: &str,
        step: &SyncStep,
        lease_until: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// Ends a held running job with `status` (one of the final ones) and releases it. False when
    /// `owner` does not hold it.
    async fn finish_sync_job(
        &self,
        id: &str,
        owner: &str,
        status: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// The snapshots a job stored, in order.
    async fn job_snapshots(&self, job_id: &str) -> StoreResult<Vec<MetricSnapshot>>;

    /// The latest snapshot of each of a post's targets that has one.
    async fn latest_post_snapshots(&self, post_id: &str) -> StoreResult<Vec<MetricSnapshot>>;

    /// Ids of the workspace's `published` targets (with a platform post id), oldest first.
    async fn published_target_ids(&self, workspace_id: &str) -> StoreResult<Vec<String>>;

    /// Workspaces having at least one `published` target.
    async fn workspaces_with_published_targets(&self) -> StoreResult<Vec<String>>;

    /// Stores (inserting or replacing) the last sync outcome of a platform.
    async fn upsert_platform_sync(&self, status: &PlatformSync) -> StoreResult<()>;

    /// A workspace's per-platform sync outcomes, by platform id.
    async fn list_platform_sync(&self, workspace_id: &str) -> StoreResult<Vec<PlatformSync>>;
}
