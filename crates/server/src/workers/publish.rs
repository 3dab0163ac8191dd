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
//!    answer) → [`Publisher::check`] at the safe time (see below): published → `published`; the platform says where it
//!    stands → go on from there; it says it refused → `failed`; still unknown → `unknown`
//!    (event `post.unknown`), never retried (PLATFORMS.md, lessons: "must not be retried
//!    blindly").
//!
//! **Exactly once across crashes.** Before a step that sends a non-repeatable create call
//! ([`Publisher::next_is_create`]: a tweet, a LinkedIn post, a Page post, `media_publish`, a
//! TikTok pull init, a Pin) the dispatcher durably stores a create-in-flight marker with the
//! attempt (`PostStore::mark_create_in_flight`) and sends only once that is stored; the write
//! that records the call's result clears it. A target claimed with the marker still set (its
//! holder died between sending and storing) is never stepped again: [`Publisher::check`] looks
//! for the item at the platform, paging back past the send time: found → `published` under the
//! platform's id; the platform says where it stands (an Instagram container not yet published)
//! → go on from there; authoritatively not found ([`Checked::NotFound`]) once the send can no
//! longer be in flight (`sent_at` + [`PublishSettings::settle`]; before that the target waits
//! with the marker kept) → the marker cleared and the post sent again (one more attempt, within
//! the attempts); cannot tell → `unknown`. A check that fails transiently is tried again later with the
//! marker kept (`Deferral::Recheck`, counted against the attempts), then `unknown`. The same
//! resolution follows a create call sent in this process that got no answer.
//!
//! Every state change is conditional in the store (`PostStore`): a target is finished once, and a
//! `published` one is never published again, whatever other instances do.
//!
//! Outbound publishing is limited per platform and per account in each process
//! ([`PublishSettings::per_platform`], [`PublishSettings::per_account`] targets at once;
//! configuration `publish_per_platform`, `publish_per_account`).
//!
//! **A continuous pipeline.** A round ([`tick`]) does not publish a batch and wait for all of
//! it: it keeps up to [`PublishSettings::batch`] targets claimed and in flight, claiming more as
//! soon as some finish, until nothing is due and nothing is in flight. A target already in
//! flight in this process is never started twice (a claim that renewed an expired lease of
//! one's own leaves it to the task that holds it).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration as StdDuration;

use chrono::Duration;
use rand::Rng;
use secrecy::SecretString;
use serde_json::{json, Value};
use switchboard_core::post::PostContent;
use switchboard_core::{Category, Diagnosis};
use switchboard_publish::{
    publisher_for, Checked, Progress, PublishError, Published, Step, Target,
};
use switchboard_store::posts::{CreateInFlight, Deferral, PostTarget, TargetOutcome};
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
    /// Targets claimed and in flight at once in a round (default 100); more are claimed as
    /// these finish.
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
    /// How long after a create call was sent its request can still reach the platform: the
    /// HTTP timeout (`http_timeout_secs`) plus `publish_settle_margin_secs` (default 10 + 30 s,
    /// [`SETTLE_MARGIN_SECS`]). A
    /// check that finds nothing is acted on (the post sent again) only after this.
    pub settle: StdDuration,
}

/// Default seconds added to the HTTP timeout before a create call that got no answer can no longer be
/// in flight (queues, retransmissions, the platform's own processing).
pub const SETTLE_MARGIN_SECS: u64 = 30;

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
            settle: StdDuration::from_secs(10 + SETTLE_MARGIN_SECS),
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
    let config = state.config();
    let settings = PublishSettings {
        max_attempts: config.publish_max_attempts.max(1),
        lease: StdDuration::from_secs(config.publish_lease_secs.max(1)),
        per_platform: config.publish_per_platform.max(1),
        per_account: config.publish_per_account.max(1),
        settle: StdDuration::from_secs(
            config.http_timeout_secs + config.publish_settle_margin_secs,
        ),
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
    let capacity = settings.batch.max(1) as usize;
    let mut set = JoinSet::new();
    let mut seen: HashSet<String> = HashSet::new();
    let mut handled = 0;
    // False once a claim came back empty while nothing was in flight, or brought back a target
    // this round already handled (deferred to now): the round then drains and ends.
    let mut claiming = true;
    loop {
        if claiming && set.len() < capacity {
            let now = state.now();
            let room = (capacity - set.len()) as u32;
            let claimed = state
                .store()
                .claim_due_targets(&owner, now + lease(settings), now, room)
                .await?;
            if claimed.is_empty() && set.is_empty() {
                break;
            }
            let empty = claimed.is_empty();
            for target in claimed {
                if !seen.insert(target.id.clone()) {
                    claiming = false;
                }
                handled += 1;
                let Some(guard) = InFlight::enter(&target.id) else {
                    // Our own task still holds it (its lease ran out while it waited for its
                    // account's turn and this claim renewed it): leave it to that task.
                    continue;
                };
                let state = state.clone();
                let settings = settings.clone();
                let owner = owner.clone();
                set.spawn(async move {
                    let _guard = guard;
                    run_one(&state, &settings, &owner, target).await;
                });
            }
            if empty {
                // Nothing due right now: wait for a task to finish or a short while, then look
                // again (targets fall due while others are in flight).
                tokio::select! {
                    joined = set.join_next() => log_join(joined),
                    _ = tokio::time::sleep(IDLE_POLL) => {}
                }
            }
            continue;
        }
        match set.join_next().await {
            Some(joined) => log_join(Some(joined)),
            None => break,
        }
    }
    Ok(handled)
}

/// How long a round with targets in flight waits before claiming again when nothing was due.
const IDLE_POLL: StdDuration = StdDuration::from_millis(100);

fn log_join(joined: Option<Result<(), tokio::task::JoinError>>) {
    if let Some(Err(e)) = joined {
        tracing::error!(error = %e, "publishing task panicked");
    }
}

/// One claimed target: its account's turn, then its platform's, then [`publish_target`].
async fn run_one(state: &AppState, settings: &PublishSettings, owner: &str, target: PostTarget) {
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
    // Every log line and platform call of this target names it, its post, workspace and
    // connection.
    let span = tracing::info_span!(
        "publish_target",
        target_id = %target.id,
        post_id = %target.post_id,
        workspace_id = %target.workspace_id,
        connection_id = %target.connection_id,
        platform = %target.platform,
    );
    let published = publish_target(state, settings, owner, target);
    if let Err(e) = tracing::Instrument::instrument(published, span).await {
        tracing::error!(target_id = %id, error = %e, "publishing a target failed");
    }
}

/// The ids of targets being published by a task of this process: a target is never in two
/// tasks at once, whatever the claims say.
struct InFlight(String);

impl InFlight {
    fn ids() -> &'static Mutex<HashSet<String>> {
        static IDS: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
        IDS.get_or_init(Default::default)
    }

    fn enter(id: &str) -> Option<InFlight> {
        let mut ids = Self::ids().lock().unwrap_or_else(|p| p.into_inner());
        ids.insert(id.to_string()).then(|| InFlight(id.to_string()))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut ids = Self::ids().lock().unwrap_or_else(|p| p.into_inner());
        ids.remove(&self.0);
    }
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
    // cannot lead two holders to publish. The create-in-flight marker stays.
    let now = state.now();
    if !store
        .renew_lease(&target.id, owner, now + lease(settings), now)
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
        return failure(state, settings, owner, &target, d).await;
    };
    // Uploads (`media_id`) get a URL signed now: the current `public_url` and active key; the
    // publishers read their files from `media_dir` (platforms that pull by URL get the URL).
    let mut content = content;
    let local_media =
        match crate::routes::media::sign_for_publish(state, &target.workspace_id, &mut content)
            .await?
        {
            Ok(local) => local,
            Err(missing) => {
                let mut d = own_diagnosis(&platform, Category::InvalidRequest, missing.to_string());
                d.retryable = false;
                return failure(state, settings, owner, &target, d).await;
            }
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
        local_media: &local_media,
    };
    let http = state.oauth().http();
    let mut progress: Progress = target.progress.clone();
    if let Some(in_flight) = target.create_in_flight {
        // The previous holder may have sent the create call: look, never send again.
        tracing::info!(target_id = %target.id, platform = %platform, attempt = in_flight.attempt, "resuming a target whose create call may have been sent; checking the platform");
        return resolve_in_flight(
            state, settings, owner, &target, publisher, &t, &progress, in_flight, None,
        )
        .await;
    }
    for _ in 0..settings.max_steps_per_claim {
        let mut in_flight = None;
        if publisher.next_is_create(&t, &progress) {
            let now = state.now();
            let attempt = target.attempts.saturating_add(1);
            if !store
                .mark_create_in_flight(&target.id, owner, attempt, now + lease(settings), now)
                .await?
            {
                tracing::warn!(target_id = %target.id, "lease lost before the create call; another holder goes on");
                return Ok(());
            }
            in_flight = Some(CreateInFlight {
                attempt,
                sent_at: now,
            });
        }
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
                // Sent, no answer: the same resolution as after a crash, with the marker stored
                // (a publisher may send once outside a step it announced as a create).
                let in_flight = match in_flight {
                    Some(f) => f,
                    None => {
                        let now = state.now();
                        let attempt = target.attempts.saturating_add(1);
                        if !store
                            .mark_create_in_flight(
                                &target.id,
                                owner,
                                attempt,
                                now + lease(settings),
                                now,
                            )
                            .await?
                        {
                            return Ok(());
                        }
                        CreateInFlight {
                            attempt,
                            sent_at: now,
                        }
                    }
                };
                return resolve_in_flight(
                    state,
                    settings,
                    owner,
                    &target,
                    publisher,
                    &t,
                    &progress,
                    in_flight,
                    Some(*d),
                )
                .await;
            }
        }
    }
    let now = state.now();
    store
        .defer_target(&target.id, owner, &Deferral::Wait, now, now)
        .await?;
    Ok(())
}

/// A create call may have reached the platform (`in_flight`) and its result is not stored:
/// asks the platform ([`Publisher::check`]) and ends or goes on accordingly, never sending the
/// call again. `lost` is the diagnosis of the call that got no answer in this process (`None`
/// when resuming a crashed holder's target).
#[allow(clippy::too_many_arguments)]
async fn resolve_in_flight(
    state: &AppState,
    settings: &PublishSettings,
    owner: &str,
    target: &PostTarget,
    publisher: &dyn switchboard_publish::Publisher,
    t: &Target<'_>,
    progress: &Progress,
    in_flight: CreateInFlight,
    lost: Option<Diagnosis>,
) -> anyhow::Result<()> {
    let store = state.store();
    let http = state.oauth().http();
    let not_found = |looked: bool| {
        let mut d = lost
            .clone()
            .unwrap_or_else(|| own_diagnosis(&target.platform, Category::Unknown, String::new()));
        let why = match &lost {
            Some(_) => "the create call was sent and no answer came",
            None => "the process that sent the create call stopped before storing its answer",
        };
        let looked = if looked {
            format!("looking for it at {} found nothing", t.spec.display_name)
        } else {
            "looking for it did not succeed".to_string()
        };
        d.cause = format!(
            "{} may or may not have published this (attempt {}, sent at {}): {why}, and {looked}. \
             It is not sent again, so that it cannot appear twice; look at the account, then \
             publish it again yourself if it is missing.",
            t.spec.display_name,
            in_flight.attempt,
            in_flight.sent_at.to_rfc3339(),
        );
        d.retryable = false;
        d
    };
    // Until the sent request can no longer reach the platform, "not there" proves nothing.
    let safe_at =
        in_flight.sent_at + Duration::from_std(settings.settle).unwrap_or(Duration::minutes(1));
    let wait_until_safe = || async {
        let now = state.now();
        tracing::info!(target_id = %target.id, platform = %target.platform, attempt = in_flight.attempt, check_at = %safe_at.to_rfc3339(), "create call may still be in flight; checking the platform once it cannot be");
        store
            .defer_target(&target.id, owner, &Deferral::Wait, safe_at, now)
            .await?;
        anyhow::Ok(())
    };
    if lost.is_some() && state.now() < safe_at {
        // A timeout in this process: no immediate check, look at the safe time.
        return wait_until_safe().await;
    }
    match publisher.check(http, t, progress, in_flight.sent_at).await {
        Ok(Checked::Found(Step::Done(published))) => {
            publish_done(state, owner, target, published).await
        }
        Ok(Checked::Found(Step::Continue { .. }) | Checked::NotFound) if state.now() < safe_at => {
            wait_until_safe().await
        }
        Ok(Checked::Found(Step::Continue { progress: next, .. })) => {
            // The platform says where it stands (not public): go on from there next tick.
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
        Ok(Checked::NotFound) => {
            // Read back past the send time, and the send can no longer land: it did not
            // publish. Send again (one more attempt), within the attempts.
            let tries = target.attempts + 1;
            let mut d = lost.clone().unwrap_or_else(|| {
                own_diagnosis(&target.platform, Category::Unknown, String::new())
            });
            d.cause = format!(
                "{} did not publish the create call of attempt {} (sent at {}): looking for it \
                 after it could no longer be in flight found nothing",
                t.spec.display_name,
                in_flight.attempt,
                in_flight.sent_at.to_rfc3339(),
            );
            if tries < settings.max_attempts {
                d.retryable = true;
                let now = state.now();
                store
                    .defer_target(
                        &target.id,
                        owner,
                        &Deferral::Retry(diagnosis_json(&d)),
                        now,
                        now,
                    )
                    .await?;
                crate::metrics::publish(&target.platform, "retry");
                tracing::info!(target_id = %target.id, platform = %target.platform, attempt = in_flight.attempt, "the create call did not publish; sending again");
                return Ok(());
            }
            d.retryable = false;
            fail(state, owner, target, &d).await
        }
        Ok(Checked::CannotTell(why)) => {
            let mut d = not_found(false);
            d.cause = format!("{} ({why}).", d.cause.trim_end_matches('.'));
            unknown(state, owner, target, &d).await
        }
        // The platform says it did not publish, for a reason retrying cannot fix.
        Err(PublishError::Failed(f)) if !f.retryable => fail(state, owner, target, &f).await,
        Err(PublishError::Failed(f)) => {
            // Looking failed for a transient reason: look again later, marker kept.
            let tries = target.attempts + 1;
            if tries < settings.max_attempts {
                let delay = backoff(settings.base_backoff, tries, f.retry_after_secs);
                let now = state.now();
                let at = now + Duration::from_std(delay).unwrap_or(Duration::hours(1));
                store
                    .defer_target(
                        &target.id,
                        owner,
                        &Deferral::Recheck(diagnosis_json(&f)),
                        at,
                        now,
                    )
                    .await?;
                return Ok(());
            }
            let mut d = not_found(false);
            d.cause = format!(
                "{} (looking for it failed: {})",
                d.cause.trim_end_matches('.'),
                f.summary()
            );
            unknown(state, owner, target, &d).await
        }
        Err(PublishError::Unknown(f)) => {
            let mut d = not_found(false);
            d.cause = format!(
                "{} (looking for it failed: {})",
                d.cause.trim_end_matches('.'),
                f.summary()
            );
            unknown(state, owner, target, &d).await
        }
    }
}

async fn publish_done(
    state: &AppState,
    owner: &str,
    target: &PostTarget,
    published: Published,
) -> anyhow::Result<()> {
    let warning = published.warning();
    let outcome = TargetOutcome::Published {
        post_id: published.post_id.clone(),
        url: published.url.clone(),
        progress: published.progress.clone(),
        warning: warning.as_ref().map(diagnosis_json),
    };
    if state
        .store()
        .finish_target(&target.id, owner, &outcome, state.now())
        .await?
    {
        crate::metrics::publish(&target.platform, "published");
        let late = state.now() - target.due_at;
        crate::metrics::publish_lateness(&target.platform, late.num_milliseconds() as f64 / 1000.0);
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
                "warning": warning.as_ref().map(diagnosis_json),
            }),
        )
        .await;
        if let Some(w) = &warning {
            tracing::warn!(target_id = %target.id, platform = %target.platform, cause = %w.cause, "published, but not as asked");
        }
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
    if let Some(in_flight) = target.create_in_flight {
        // A create call may be live: never clear the marker on the way to a retry.
        if d.retryable && tries < settings.max_attempts {
            let delay = backoff(settings.base_backoff, tries, d.retry_after_secs);
            let now = state.now();
            let at = now + Duration::from_std(delay).unwrap_or(Duration::hours(1));
            state
                .store()
                .defer_target(
                    &target.id,
                    owner,
                    &Deferral::Recheck(diagnosis_json(&d)),
                    at,
                    now,
                )
                .await?;
            return Ok(());
        }
        let mut d = d;
        d.cause = format!(
            "{} The create call of attempt {} (sent at {}) may have published it; it is not sent \
             again.",
            d.cause,
            in_flight.attempt,
            in_flight.sent_at.to_rfc3339()
        );
        return unknown(state, owner, target, &d).await;
    }
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
        crate::metrics::publish(&target.platform, "retry");
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
        crate::metrics::publish(
            &target.platform,
            if matches!(outcome, TargetOutcome::Unknown(_)) {
                "unknown"
            } else {
                "failed"
            },
        );
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
