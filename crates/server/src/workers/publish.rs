//! The publishing dispatcher: claims due post targets with a lease and publishes each through
//! its platform's [`Publisher`], one step at a time, storing the progress after every step.
//!
//! Per claimed target:
//! 1. a usable token first: the connection's, refreshed when needed
//!    ([`crate::lifecycle::usable_token`], single flight), or for a Facebook target the selected
//!    Page's token (`routes::facebook_pages`);
//! 2. [`Publisher::step`] in a loop, the returned progress stored (under the lease holder check)
//!    before the next step. A step asking to wait (a processing poll) releases the target until
//!    then instead of sleeping; a crash between steps resumes from the stored progress once the
//!    lease expires, so a container or upload is never created twice;
//! 3. the end: `published` with the platform's post id and URL (event `post.published`);
//!    [`PublishError::Failed`] retryable → back-off with jitter, at least the platform's
//!    `retry_after_secs`, at most [`PublishSettings::max_attempts`] tries, then `failed`;
//!    non-retryable → `failed` at once (event `post.failed`); [`PublishError::Unknown`] (sent, no
//!    answer) → [`Publisher::check`] once: published → `published`; the platform says where it
//!    stands → go on from there; it says it refused → `failed`; still unknown → `unknown`
//!    (event `post.unknown`), never retried (PLATFORMS.md, lessons: "must not be retried
//!    blindly").
//!
//! Every state change is conditional in the store (`PostStore`): a target is finished once, and a
//! `published` one is never published again, whatever other instances do.
//!
//! Outbound publishing is limited per platform and per account in each process
//! ([`PublishSettings::per_platform`], [`PublishSettings::per_account`] targets at once).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration as StdDuration;

use chrono::Duration;
use rand::Rng;
use secrecy::SecretString;
use serde_json::{json, Value};
use switchboard_core::post::PostContent;
use switchboard_core::{Category, Diagnosis};
use switchboard_publish::{publisher_for, Progress, PublishError, Published, Step, Target};
use switchboard_store::posts::{Deferral, PostTarget, TargetOutcome};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::events::{self, kind};
use crate::routes::facebook_pages::page_context;
use crate::AppState;

/// How the dispatcher works. [`tick`] uses [`PublishSettings::default`] with the configured
/// `publish_max_attempts` and `publish_lease_secs`.
#[derive(Debug, Clone)]
pub struct PublishSettings {
    /// Tries of a target that fails for a transient reason, the first included (default 3).
    pub max_attempts: u32,
    /// How long a claim lasts without news from its holder (default 120 s); every stored step
    /// extends it.
    pub lease: StdDuration,
    /// Targets claimed per tick (default 100).
    pub batch: u32,
    /// First back-off after a transient failure (default 30 s); doubles per attempt, capped at
    /// one hour, with jitter (half fixed, half random).
    pub base_backoff: StdDuration,
    /// Targets publishing at once per platform in this process (default 8).
    pub per_platform: usize,
    /// Targets publishing at once per account (connection, or Facebook Page) in this process
    /// (default 1: one account's posts go out one after the other, as platforms' per-user
    /// limits expect).
    pub per_account: usize,
    /// Steps done for one target within one claim before it is released for the next tick
    /// (default 64), so that a publisher that never finishes cannot hold a worker.
    pub max_steps_per_claim: u32,
}

impl Default for PublishSettings {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            lease: StdDuration::from_secs(120),
            batch: 100,
            base_backoff: StdDuration::from_secs(30),
            per_platform: 8,
            per_account: 1,
            max_steps_per_claim: 64,
        }
    }
}

/// One dispatcher round: claims the due targets and publishes them, with the default settings
/// but `max_attempts` and `lease` from the configuration (`publish_max_attempts`,
/// `publish_lease_secs`). Returns how many targets were handled.
///
/// # Errors
/// Store failures while claiming. Failures of single targets are recorded on the target.
pub async fn tick(state: &AppState) -> anyhow::Result<usize> {
    let settings = PublishSettings {
        max_attempts: state.config().publish_max_attempts.max(1),
        lease: StdDuration::from_secs(state.config().publish_lease_secs.max(1)),
        ..PublishSettings::default()
    };
    tick_with(state, &settings).await
}

/// [`tick`] with explicit settings.
///
/// # Errors
/// As [`tick`].
pub async fn tick_with(state: &AppState, settings: &PublishSettings) -> anyhow::Result<usize> {
    let owner = holder(state);
    let now = state.now();
    let claimed = state
        .store()
        .claim_due_targets(&owner, now + lease(settings), now, settings.batch)
        .await?;
    let n = claimed.len();
    let mut set = JoinSet::new();
    for target in claimed {
        let state = state.clone();
        let settings = settings.clone();
        let owner = owner.clone();
        set.spawn(async move {
            // The account first, so that a task waiting for its account holds no platform slot.
            let account = format!(
                "{}/{}/{}",
                target.platform,
                target.connection_id,
                target.page_id.as_deref().unwrap_or("")
            );
            let Ok(_account) = limit(&account, settings.per_account).acquire_owned().await else {
                return;
            };
            let Ok(_platform) = limit(&target.platform, settings.per_platform)
                .acquire_owned()
                .await
            else {
                return;
            };
            let id = target.id.clone();
            if let Err(e) = publish_target(&state, &settings, &owner, target).await {
                tracing::error!(target_id = %id, error = %e, "publishing a target failed");
            }
        });
    }
    while let Some(joined) = set.join_next().await {
        if let Err(e) = joined {
            tracing::error!(error = %e, "publishing task panicked");
        }
    }
    Ok(n)
}

/// The lease holder name of this instance's dispatcher.
fn holder(state: &AppState) -> String {
    format!("{}:publish", state.instance_id())
}

fn lease(settings: &PublishSettings) -> Duration {
    Duration::from_std(settings.lease).unwrap_or(Duration::seconds(120))
}

/// The semaphore of `key` (a platform id, or `platform/connection/page` for an account) in this
/// process, created with `permits` on first use. Entries are small and keyed by accounts that
/// publish, so the map is not pruned.
fn limit(key: &str, permits: usize) -> Arc<Semaphore> {
    static LIMITS: OnceLock<Mutex<HashMap<String, Arc<Semaphore>>>> = OnceLock::new();
    let mut map = LIMITS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    map.entry(key.to_string())
        .or_insert_with(|| Arc::new(Semaphore::new(permits.max(1))))
        .clone()
}

/// The delay before try number `attempts + 1` after a transient failure: `base × 2^(attempts-1)`
/// capped at one hour, half of it fixed and half random (jitter), and never less than the
/// platform's `retry_after_secs`.
pub fn backoff(base: StdDuration, attempts: u32, retry_after_secs: Option<u64>) -> StdDuration {
    let exp = attempts.saturating_sub(1).min(16);
    let full = base
        .saturating_mul(1u32 << exp)
        .min(StdDuration::from_secs(3600));
    let half = full / 2;
    let jitter = rand::thread_rng().gen_range(0..=half.as_millis().max(1) as u64);
    let delay = half + StdDuration::from_millis(jitter);
    delay.max(StdDuration::from_secs(retry_after_secs.unwrap_or(0)))
}

/// A diagnosis for a failure found by the dispatcher itself (no platform answer).
fn own_diagnosis(platform: &str, category: Category, cause: String) -> Diagnosis {
    let mut d = Diagnosis::new(category);
    d.platform = Some(platform.to_string());
    d.cause = cause;
    d
}

fn diagnosis_json(d: &Diagnosis) -> Value {
    serde_json::to_value(d).unwrap_or_else(|_| json!({"cause": d.cause}))
}

/// A token to publish with and the account to publish to, or the reason there is none (also
/// used by `workers::sync` to read metrics).
pub(crate) async fn credentials(
    state: &AppState,
    target: &PostTarget,
) -> Result<(SecretString, String), Diagnosis> {
    let platform = target.platform.as_str();
    let conn = match state
        .store()
        .get_connection_by_id(&target.connection_id)
        .await
    {
        Ok(Some(c)) => c,
        Ok(None) => {
            return Err(own_diagnosis(
                platform,
                Category::AccessDenied,
                format!(
                    "connection {} no longer exists (it was disconnected); nothing was published",
                    target.connection_id
                ),
            ))
        }
        Err(e) => {
            let mut d = own_diagnosis(
                platform,
                Category::PlatformUnavailable,
                format!("the database could not be read: {e}"),
            );
            d.retryable = true;
            return Err(d);
        }
    };
    if let Some(page_id) = &target.page_id {
        let page = state
            .store()
            .get_page(&conn.id, page_id)
            .await
            .map_err(|e| {
                let mut d = own_diagnosis(
                    platform,
                    Category::PlatformUnavailable,
                    format!("the database could not be read: {e}"),
                );
                d.retryable = true;
                d
            })?;
        let sealed = page
            .as_ref()
            .filter(|p| p.selected)
            .and_then(|p| p.access_token_sealed.clone());
        let Some(sealed) = sealed else {
            return Err(own_diagnosis(
                platform,
                Category::AccessDenied,
                format!(
                    "Page {page_id} is no longer selected on connection {}; choose it again with POST /v1/connections/{}/pages",
                    conn.id, conn.id
                ),
            ));
        };
        let token = state
            .keyring()
            .open(&page_context(&conn.id, page_id), &sealed)
            .map_err(|e| {
                own_diagnosis(
                    platform,
                    Category::InvalidClient,
                    format!("the stored token of Page {page_id} cannot be decrypted: {e}"),
                )
            })?;
        return Ok((token, page_id.clone()));
    }
    let account = conn.account_id.clone();
    match crate::lifecycle::usable_token(state, conn).await {
        Ok((_, token)) => Ok((token, account)),
        Err(e) => {
            let d = e
                .extra
                .get("diagnosis")
                .and_then(|d| serde_json::from_value::<Diagnosis>(d.clone()).ok())
                .unwrap_or_else(|| own_diagnosis(platform, Category::TokenExpired, e.detail));
            Err(d)
        }
    }
}

/// Publishes one claimed target as far as it goes in this claim.
async fn publish_target(
    state: &AppState,
    settings: &PublishSettings,
    owner: &str,
    target: PostTarget,
) -> anyhow::Result<()> {
    let store = state.store();
    let platform = target.platform.clone();
    // The claim may have waited for its account's or platform's turn: renew the lease (and
    // check it is still ours) before any platform call, so that a lease that ran out meanwhile
    // cannot lead two holders to publish.
    let now = state.now();
    if !store
        .save_progress(
            &target.id,
            owner,
            &target.progress,
            now + lease(settings),
            now,
        )
        .await?
    {
        tracing::warn!(target_id = %target.id, "lease lost before publishing; another holder has it");
        return Ok(());
    }
    let post = store
        .get_post(&target.workspace_id, &target.post_id)
        .await?;
    let content = post
        .map(|p| serde_json::from_value::<PostContent>(p.content))
        .transpose();
    let (Ok(Some(content)), Some(publisher), Some(spec)) = (
        content,
        publisher_for(&platform),
        state.catalog().get(&platform),
    ) else {
        let d = own_diagnosis(
            &platform,
            Category::InvalidRequest,
            format!(
                "no publisher for platform {platform:?}, or the post's stored content is unreadable"
            ),
        );
        return fail(state, owner, &target, &d).await;
    };
    let (token, account_id) = match credentials(state, &target).await {
        Ok(c) => c,
        Err(d) => return failure(state, settings, owner, &target, d).await,
    };
    let t = Target {
        spec,
        access_token: &token,
        account_id: &account_id,
        content: &content,
    };
    let http = state.oauth().http();
    let mut progress: Progress = target.progress.clone();
    for _ in 0..settings.max_steps_per_claim {
        match publisher.step(http, &t, &progress).await {
            Ok(Step::Continue {
                progress: next,
                wait,
            }) => {
                let now = state.now();
                if !store
                    .save_progress(&target.id, owner, &next, now + lease(settings), now)
                    .await?
                {
                    tracing::warn!(target_id = %target.id, "lease lost between steps; another holder goes on");
                    return Ok(());
                }
                progress = next;
                if let Some(wait) = wait.filter(|w| !w.is_zero()) {
                    let until = now + Duration::from_std(wait).unwrap_or(Duration::seconds(5));
                    store
                        .defer_target(&target.id, owner, &Deferral::Wait, until, now)
                        .await?;
                    return Ok(());
                }
            }
            Ok(Step::Done(published)) => {
                return publish_done(state, owner, &target, published).await
            }
            Err(PublishError::Failed(d)) => {
                return failure(state, settings, owner, &target, *d).await
            }
            Err(PublishError::Unknown(d)) => {
                return match publisher.check(http, &t, &progress).await {
                    Ok(Some(Step::Done(published))) => {
                        publish_done(state, owner, &target, published).await
                    }
                    Ok(Some(Step::Continue { progress: next, .. })) => {
                        // The platform says where it stands: go on from there next tick.
                        let now = state.now();
                        if store
                            .save_progress(&target.id, owner, &next, now + lease(settings), now)
                            .await?
                        {
                            store
                                .defer_target(&target.id, owner, &Deferral::Wait, now, now)
                                .await?;
                        }
                        Ok(())
                    }
                    // The platform says it did not publish, for a reason retrying cannot fix.
                    Err(PublishError::Failed(f)) if !f.retryable => {
                        fail(state, owner, &target, &f).await
                    }
                    Ok(None) | Err(_) => unknown(state, owner, &target, &d).await,
                };
            }
        }
    }
    let now = state.now();
    store
        .defer_target(&target.id, owner, &Deferral::Wait, now, now)
        .await?;
    Ok(())
}

async fn publish_done(
    state: &AppState,
    owner: &str,
    target: &PostTarget,
    published: Published,
) -> anyhow::Result<()> {
    let outcome = TargetOutcome::Published {
        post_id: published.post_id.clone(),
        url: published.url.clone(),
        progress: published.progress,
    };
    if state
        .store()
        .finish_target(&target.id, owner, &outcome, state.now())
        .await?
    {
        events::emit(
            state,
            &target.workspace_id,
            Some(&target.connection_id),
            kind::POST_PUBLISHED,
            json!({
                "post_id": target.post_id,
                "target_id": target.id,
                "platform": target.platform,
                "page_id": target.page_id,
                "platform_post_id": published.post_id,
                "url": published.url,
            }),
        )
        .await;
    }
    Ok(())
}

/// A failure: retried later when retryable and attempts remain, else final.
async fn failure(
    state: &AppState,
    settings: &PublishSettings,
    owner: &str,
    target: &PostTarget,
    d: Diagnosis,
) -> anyhow::Result<()> {
    let tries = target.attempts + 1;
    if d.retryable && tries < settings.max_attempts {
        let delay = backoff(settings.base_backoff, tries, d.retry_after_secs);
        let now = state.now();
        let at = now + Duration::from_std(delay).unwrap_or(Duration::hours(1));
        state
            .store()
            .defer_target(
                &target.id,
                owner,
                &Deferral::Retry(diagnosis_json(&d)),
                at,
                now,
            )
            .await?;
        tracing::info!(target_id = %target.id, platform = %target.platform, attempt = tries, retry_in_ms = delay.as_millis() as u64, "transient publishing failure; retrying later");
        return Ok(());
    }
    fail(state, owner, target, &d).await
}

async fn fail(
    state: &AppState,
    owner: &str,
    target: &PostTarget,
    d: &Diagnosis,
) -> anyhow::Result<()> {
    end(
        state,
        owner,
        target,
        TargetOutcome::Failed(diagnosis_json(d)),
        kind::POST_FAILED,
    )
    .await
}

async fn unknown(
    state: &AppState,
    owner: &str,
    target: &PostTarget,
    d: &Diagnosis,
) -> anyhow::Result<()> {
    end(
        state,
        owner,
        target,
        TargetOutcome::Unknown(diagnosis_json(d)),
        kind::POST_UNKNOWN,
    )
    .await
}

async fn end(
    state: &AppState,
    owner: &str,
    target: &PostTarget,
    outcome: TargetOutcome,
    event: &str,
) -> anyhow::Result<()> {
    let diagnosis = match &outcome {
        TargetOutcome::Failed(d) | TargetOutcome::Unknown(d) => d.clone(),
        TargetOutcome::Published { .. } => Value::Null,
    };
    if state
        .store()
        .finish_target(&target.id, owner, &outcome, state.now())
        .await?
    {
        events::emit(
            state,
            &target.workspace_id,
            Some(&target.connection_id),
            event,
            json!({
                "post_id": target.post_id,
                "target_id": target.id,
                "platform": target.platform,
                "page_id": target.page_id,
                "diagnosis": diagnosis,
            }),
        )
        .await;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_jitter_and_honours_retry_after() {
        let base = StdDuration::from_secs(30);
        for _ in 0..50 {
            let first = backoff(base, 1, None);
            assert!(first >= StdDuration::from_secs(15) && first <= StdDuration::from_secs(30));
            let second = backoff(base, 2, None);
            assert!(second >= StdDuration::from_secs(30) && second <= StdDuration::from_secs(60));
            let capped = backoff(base, 30, None);
            assert!(capped <= StdDuration::from_secs(3600));
        }
        assert!(backoff(base, 1, Some(900)) >= StdDuration::from_secs(900));
    }
}
