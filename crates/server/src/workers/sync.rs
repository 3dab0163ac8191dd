//! The analytics sync worker: reads the metrics of every published post target into
//! [`MetricSnapshot`]s, one sync job per workspace at a time.
//!
//! Each [`tick`]:
//! 1. **enqueues** a job for every workspace with published targets whose last job was created
//!    more than `sync_interval_secs` ago (default 900 s; the store queues at most one active job
//!    per workspace, whatever other instances do);
//! 2. **runs** jobs: claims one with a lease (one instance runs each job), sets `steps_total` to
//!    the workspace's published targets, then per target a usable token (the connection's,
//!    refreshed when needed, or the Facebook Page's: [`super::publish::credentials`]) and
//!    [`Publisher::metrics`], storing a snapshot; a failure is recorded with its diagnosis and
//!    the job goes on (it ends `partial`, or `failed` when every target failed). Progress is
//!    stored after each step, so a job taken over after a crash skips the targets already done.
//!    At the end each platform's outcome is stored for `GET /v1/sync/status`.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration as StdDuration;

use chrono::Duration;
use serde_json::{json, Value};
use switchboard_core::post::PostContent;
use switchboard_core::{Category, Diagnosis};
use switchboard_publish::{publisher_for, Published, Target};
use switchboard_store::posts::PostTarget;
use switchboard_store::sync::{
    MetricSnapshot, PlatformSync, SyncJob, SyncStep, SYNC_FAILED, SYNC_PARTIAL, SYNC_SUCCEEDED,
};

use crate::AppState;

/// How long a claim of a job lasts without a recorded step (every step extends it).
pub const LEASE: StdDuration = StdDuration::from_secs(120);

/// Jobs run per tick at most, so that one tick ends in bounded time.
const JOBS_PER_TICK: usize = 20;

/// One round: enqueues the due jobs, then runs queued jobs (and those of crashed holders).
/// Returns how many jobs were queued plus how many were run.
///
/// # Errors
/// Store failures while enqueueing, claiming or recording. A target's failure is recorded on
/// the job, not returned.
pub async fn tick(state: &AppState) -> anyhow::Result<usize> {
    let queued = enqueue_due(state).await?;
    let mut ran = 0;
    while ran < JOBS_PER_TICK {
        let now = state.now();
        let Some(job) = state
            .store()
            .claim_sync_job(&holder(state), now + lease(), now)
            .await?
        else {
            break;
        };
        run_job(state, job).await?;
        ran += 1;
    }
    Ok(queued + ran)
}

/// Queues a job for each workspace with published targets whose last job is older than the
/// configured interval. Returns how many were queued.
///
/// # Errors
/// Store failures.
pub async fn enqueue_due(state: &AppState) -> anyhow::Result<usize> {
    let now = state.now();
    let interval = Duration::seconds(
        i64::try_from(state.config().sync_interval_secs.max(60)).unwrap_or(i64::MAX / 2_000),
    );
    let mut n = 0;
    for ws in state.store().workspaces_with_published_targets().await? {
        let id = uuid::Uuid::now_v7().to_string();
        if state
            .store()
            .enqueue_sync_job(&ws, &id, now, Some(now - interval))
            .await?
            .is_some()
        {
            n += 1;
        }
    }
    Ok(n)
}

/// The lease holder name of this instance's sync worker.
fn holder(state: &AppState) -> String {
    format!("{}:sync", state.instance_id())
}

fn lease() -> Duration {
    Duration::from_std(LEASE).unwrap_or(Duration::seconds(120))
}

fn diagnosis(platform: &str, category: Category, cause: String) -> Diagnosis {
    let mut d = Diagnosis::new(category);
    d.platform = Some(platform.to_string());
    d.cause = cause;
    d
}

/// Runs a claimed job to its end (or until its lease is lost).
async fn run_job(state: &AppState, job: SyncJob) -> anyhow::Result<()> {
    let store = state.store();
    let owner = holder(state);
    let ids = store.published_target_ids(&job.workspace_id).await?;
    let total = u32::try_from(ids.len()).unwrap_or(u32::MAX);
    if !store
        .set_sync_total(&job.id, &owner, total, state.now() + lease())
        .await?
    {
        return Ok(());
    }
    // A job taken over from a crashed holder skips the targets it already recorded.
    let mut done: HashSet<String> = store
        .job_snapshots(&job.id)
        .await?
        .into_iter()
        .map(|s| s.target_id)
        .collect();
    done.extend(
        job.errors
            .iter()
            .filter_map(|e| e["target_id"].as_str().map(str::to_string)),
    );
    // Per platform: (targets read, first failure's summary, failures).
    let mut platforms: BTreeMap<String, (u32, Option<String>, u32)> = BTreeMap::new();
    for id in ids.iter().filter(|id| !done.contains(*id)) {
        let Some(target) = store.get_target(id).await? else {
            continue;
        };
        let entry = platforms.entry(target.platform.clone()).or_default();
        let step = match read_metrics(state, &target).await {
            Ok(metrics) => {
                entry.0 += 1;
                SyncStep::Read(MetricSnapshot {
                    id: uuid::Uuid::now_v7().to_string(),
                    job_id: job.id.clone(),
                    workspace_id: job.workspace_id.clone(),
                    target_id: target.id.clone(),
                    platform: target.platform.clone(),
                    fetched_at: state.now(),
                    metrics,
                })
            }
            Err(d) => {
                entry.2 += 1;
                if entry.1.is_none() {
                    entry.1 = Some(d.summary());
                }
                tracing::info!(target_id = %target.id, platform = %target.platform, cause = %d.summary(), "metrics sync of a target failed");
                SyncStep::Failed(json!({
                    "target_id": target.id,
                    "post_id": target.post_id,
                    "platform": target.platform,
                    "diagnosis": serde_json::to_value(&d).unwrap_or_else(|_| json!({"cause": d.cause})),
                }))
            }
        };
        if !store
            .record_sync_step(&job.id, &owner, &step, state.now() + lease())
            .await?
        {
            tracing::warn!(job_id = %job.id, "sync lease lost; another holder goes on");
            return Ok(());
        }
    }
    let Some(current) = store.get_sync_job(&job.workspace_id, &job.id).await? else {
        return Ok(());
    };
    let failures = u32::try_from(current.errors.len()).unwrap_or(u32::MAX);
    let status = if failures == 0 {
        SYNC_SUCCEEDED
    } else if failures >= current.steps_done {
        SYNC_FAILED
    } else {
        SYNC_PARTIAL
    };
    let now = state.now();
    if !store.finish_sync_job(&job.id, &owner, status, now).await? {
        return Ok(());
    }
    for (platform, (read, message, failed)) in platforms {
        let status = match (read, failed) {
            (_, 0) => SYNC_SUCCEEDED,
            (0, _) => SYNC_FAILED,
            _ => SYNC_PARTIAL,
        };
        store
            .upsert_platform_sync(&PlatformSync {
                workspace_id: job.workspace_id.clone(),
                platform,
                job_id: job.id.clone(),
                status: status.to_string(),
                message,
                last_synced_at: now,
            })
            .await?;
    }
    Ok(())
}

/// The metrics of one published target as JSON of `switchboard_publish::Metrics`, or the
/// diagnosis of why they could not be read.
async fn read_metrics(state: &AppState, target: &PostTarget) -> Result<Value, Diagnosis> {
    let platform = target.platform.as_str();
    let unreadable = |cause: String| diagnosis(platform, Category::InvalidRequest, cause);
    let (Some(publisher), Some(spec), Some(post_id)) = (
        publisher_for(platform),
        state.catalog().get(platform),
        target.platform_post_id.clone(),
    ) else {
        return Err(unreadable(format!(
            "no metrics reader for platform {platform:?}, or the target has no platform post id"
        )));
    };
    let post = state
        .store()
        .get_post(&target.workspace_id, &target.post_id)
        .await
        .map_err(|e| {
            diagnosis(
                platform,
                Category::PlatformUnavailable,
                format!("the database could not be read: {e}"),
            )
        })?
        .ok_or_else(|| unreadable(format!("post {} no longer exists", target.post_id)))?;
    let content: PostContent = serde_json::from_value(post.content)
        .map_err(|e| unreadable(format!("the post's stored content is unreadable: {e}")))?;
    let (token, account_id) = super::publish::credentials(state, target).await?;
    let t = Target {
        spec,
        access_token: &token,
        account_id: &account_id,
        content: &content,
        local_media: &[],
    };
    let published = Published {
        post_id,
        url: target.url.clone(),
        progress: target.progress.clone(),
    };
    let metrics = publisher
        .metrics(state.oauth().http(), &t, &published)
        .await
        .map_err(|e| e.diagnosis().clone())?;
    serde_json::to_value(&metrics)
        .map_err(|e| unreadable(format!("the metrics could not be encoded: {e}")))
}
