//! Posts and their targets (issue 4): what to publish, where, and how far each publication got.
//!
//! A post holds the content (JSON of `switchboard_core::post::PostContent`) and the instant it is
//! due; each connection it goes to is a **target** (a Facebook connection gives one target per
//! selected Page). Targets are the unit of work of the publishing dispatcher: they are claimed
//! with a lease (`locked_by`, `locked_until`) so that several instances sharing one database
//! never publish the same target at once, and every state change is conditional on the state it
//! leaves, so a `published` target is never published again.
//!
//! Target states ([`TARGET_STATUSES`]):
//! - `scheduled`: waiting for `next_attempt_at` (its due time, or the end of a back-off);
//! - `publishing`: a publisher has started; `progress` holds its resumable state. Claimed while
//!   the lease runs, or waiting for `next_attempt_at` between steps (a processing poll);
//! - `published` (with `platform_post_id`, `url`), `failed` (with `last_error`, a diagnosis),
//!   `cancelled`, `unknown` (sent, no answer: never retried blindly).
//!
//! A target about to send a non-repeatable create call carries a **create-in-flight marker**
//! ([`CreateInFlight`], migration `0008_publish_in_flight.sql`), stored before the call and
//! cleared by the write that records its result, so that a holder resuming a crashed one's
//! target knows the platform may already hold the item and asks it instead of sending again.
//!
//! Tables `posts` and `post_targets` (migration `0006_posts.sql`). A post's status is not
//! stored: it is derived from its targets' ([`post_status`]), so it cannot drift from them.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::StoreResult;

/// Target status: waiting for its time.
pub const TARGET_SCHEDULED: &str = "scheduled";
/// Target status: publication started (claimed, or between two steps).
pub const TARGET_PUBLISHING: &str = "publishing";
/// Target status: published (final).
pub const TARGET_PUBLISHED: &str = "published";
/// Target status: failed with a diagnosis (final until a retry).
pub const TARGET_FAILED: &str = "failed";
/// Target status: cancelled before publication (final).
pub const TARGET_CANCELLED: &str = "cancelled";
/// Target status: sent and no answer came; the platform may have published (final, never
/// retried blindly).
pub const TARGET_UNKNOWN: &str = "unknown";

/// Every target status, in the order of a publication's life.
pub const TARGET_STATUSES: &[&str] = &[
    TARGET_SCHEDULED,
    TARGET_PUBLISHING,
    TARGET_PUBLISHED,
    TARGET_FAILED,
    TARGET_CANCELLED,
    TARGET_UNKNOWN,
];

/// A post as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Post {
    /// Post id (UUID v7 text).
    pub id: String,
    /// Owning workspace.
    pub workspace_id: String,
    /// Campaign the caller groups it in.
    pub campaign_id: Option<String>,
    /// The content (JSON of `PostContent`).
    pub content: Value,
    /// When it is due (UTC), `publish_at` already resolved in its time zone.
    pub publish_at: DateTime<Utc>,
    /// IANA time zone the caller wrote `publish_at` in, if any.
    pub time_zone: Option<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

/// A target to create with its post.
#[derive(Debug, Clone, PartialEq)]
pub struct NewTarget {
    /// Target id (UUID v7 text).
    pub id: String,
    /// The connection it publishes with.
    pub connection_id: String,
    /// Facebook: the Page it publishes to; `None` elsewhere.
    pub page_id: Option<String>,
    /// Platform id.
    pub platform: String,
}

/// A target as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PostTarget {
    /// Target id.
    pub id: String,
    /// Its post.
    pub post_id: String,
    /// The post's workspace.
    pub workspace_id: String,
    /// Order within the post (the order of `connection_ids`, Pages in their order).
    pub position: i64,
    /// The connection it publishes with.
    pub connection_id: String,
    /// Facebook: the Page it publishes to.
    pub page_id: Option<String>,
    /// Platform id.
    pub platform: String,
    /// One of [`TARGET_STATUSES`].
    pub status: String,
    /// When it is due.
    pub due_at: DateTime<Utc>,
    /// Failed tries so far: each transient failure that was retried, and the final failure
    /// (`failed` or `unknown`). Reset by a retry.
    pub attempts: u32,
    /// Not claimed before this instant (its due time, the end of a back-off or of a wait
    /// between steps).
    pub next_attempt_at: DateTime<Utc>,
    /// The publisher's resumable state (`Null` before the first step).
    pub progress: Value,
    /// The platform's id of the published item.
    pub platform_post_id: Option<String>,
    /// Where a person can see it.
    pub url: Option<String>,
    /// The last failure (a diagnosis as JSON).
    pub last_error: Option<Value>,
    /// Lease holder (an instance's worker id), while claimed.
    pub locked_by: Option<String>,
    /// Lease end, while claimed.
    pub locked_until: Option<DateTime<Utc>>,
    /// When it was published.
    pub published_at: Option<DateTime<Utc>>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Set while a non-repeatable create call may have reached the platform without its result
    /// being stored (see [`PostStore::mark_create_in_flight`]).
    pub create_in_flight: Option<CreateInFlight>,
}

/// The marker of a non-repeatable create call (one that makes the item public) that was about
/// to be sent: the platform may hold the item although the target does not say so.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateInFlight {
    /// The attempt that sent it (1-based: the target's `attempts` + 1 at the time).
    pub attempt: u32,
    /// When the marker was stored, just before the call left (UTC). The item, if created, is
    /// not older than this.
    pub sent_at: DateTime<Utc>,
}

/// Filters for listing posts; `None` does not filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PostFilter {
    /// Only this campaign.
    pub campaign_id: Option<String>,
    /// Only posts having a target in this status.
    pub status: Option<String>,
    /// Only posts having a target on this platform.
    pub platform: Option<String>,
    /// Only posts due at or after this instant.
    pub from: Option<DateTime<Utc>>,
    /// Only posts due before this instant.
    pub to: Option<DateTime<Utc>>,
    /// Keyset paging: only posts after this one in the listing order, i.e. with
    /// `(publish_at, id)` strictly below this key (see [`PostKey`]). `None` starts at the top.
    pub after: Option<PostKey>,
    /// Keyset paging backwards: only posts before this one in the listing order (`(publish_at,
    /// id)` strictly above the key), and of those the `limit` closest to it, still listed
    /// latest first (the page before a page). Combined with `after`, both bounds apply.
    pub before: Option<PostKey>,
    /// At most this many (newest due first).
    pub limit: u32,
}

/// The sort key of a post in a listing: posts are listed by `publish_at` descending, ties (posts
/// due at the same instant) broken by `id` descending, so the order is total and stable and a
/// page can resume strictly after the last post it showed, whatever was inserted meanwhile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostKey {
    /// The post's `publish_at`, exactly as the store returned it.
    pub publish_at: DateTime<Utc>,
    /// The post's id.
    pub id: String,
}

impl PostKey {
    /// The key of a post.
    pub fn of(post: &Post) -> Self {
        PostKey {
            publish_at: post.publish_at,
            id: post.id.clone(),
        }
    }
}

/// How a claimed target's publication ended.
#[derive(Debug, Clone, PartialEq)]
pub enum TargetOutcome {
    /// Published: the platform's id, its URL, the final progress.
    Published {
        /// Platform post id.
        post_id: String,
        /// Public URL.
        url: Option<String>,
        /// Final progress.
        progress: Value,
        /// Published, but not as asked: the warning diagnosis kept as the target's
        /// `last_error` (`None` clears it).
        warning: Option<Value>,
    },
    /// Failed for good (non-retryable, or out of attempts), with the diagnosis.
    Failed(Value),
    /// Outcome unknown (sent, no answer, not checkable), with the diagnosis.
    Unknown(Value),
}

impl TargetOutcome {
    /// The status it leads to.
    pub fn status(&self) -> &'static str {
        match self {
            TargetOutcome::Published { .. } => TARGET_PUBLISHED,
            TargetOutcome::Failed(_) => TARGET_FAILED,
            TargetOutcome::Unknown(_) => TARGET_UNKNOWN,
        }
    }
}

/// Why a claimed target is released before it ends.
#[derive(Debug, Clone, PartialEq)]
pub enum Deferral {
    /// Between two steps (a processing poll): stays `publishing`, progress and any
    /// create-in-flight marker kept.
    Wait,
    /// A transient failure: back to `scheduled`, one more attempt counted, the diagnosis kept,
    /// the create-in-flight marker cleared (the platform certainly did not act).
    Retry(Value),
    /// Looking for an item whose create call may have been sent failed for a transient reason:
    /// stays `publishing` with its create-in-flight marker (the next holder looks again, never
    /// sends), one more attempt counted, the diagnosis kept.
    Recheck(Value),
}

/// Count of targets in one status on one platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SummaryRow {
    /// Platform id.
    pub platform: String,
    /// Target status.
    pub status: String,
    /// Number of targets.
    pub count: u64,
}

/// The status of a post, derived from its targets' statuses: the common status when they all
/// share one; `publishing` while any target is `publishing`; `scheduled` while any is still
/// `scheduled`; otherwise (every target final, in different states) `partially_published` when
/// at least one was published, else `failed` when one failed, else `unknown`.
pub fn post_status<'a>(statuses: impl IntoIterator<Item = &'a str>) -> &'static str {
    let all: Vec<&str> = statuses.into_iter().collect();
    let Some(first) = all.first() else {
        return TARGET_CANCELLED;
    };
    if all.iter().all(|s| s == first) {
        return TARGET_STATUSES
            .iter()
            .copied()
            .find(|s| s == first)
            .unwrap_or(TARGET_UNKNOWN);
    }
    let any = |s: &str| all.contains(&s);
    if any(TARGET_PUBLISHING) {
        TARGET_PUBLISHING
    } else if any(TARGET_SCHEDULED) {
        TARGET_SCHEDULED
    } else if any(TARGET_PUBLISHED) {
        "partially_published"
    } else if any(TARGET_FAILED) {
        TARGET_FAILED
    } else if any(TARGET_UNKNOWN) {
        TARGET_UNKNOWN
    } else {
        TARGET_CANCELLED
    }
}

/// Posts and targets.
#[async_trait]
pub trait PostStore {
    /// Stores a post and its targets in one transaction; every target starts `scheduled`, due
    /// at `post.publish_at`, in the order given.
    async fn create_post(&self, post: &Post, targets: &[NewTarget]) -> StoreResult<()>;

    /// Stores several posts and their targets in ONE transaction (the batch form of
    /// `POST /v1/posts`): all of them, or, on any failure, none.
    async fn create_posts(&self, posts: &[(Post, Vec<NewTarget>)]) -> StoreResult<()>;

    /// A post of a workspace; another workspace's is `None`.
    async fn get_post(&self, workspace_id: &str, id: &str) -> StoreResult<Option<Post>>;

    /// A post's targets in order.
    async fn list_targets(&self, post_id: &str) -> StoreResult<Vec<PostTarget>>;

    /// One target by id (for workers).
    async fn get_target(&self, id: &str) -> StoreResult<Option<PostTarget>>;

    /// A workspace's posts matching `filter`, latest `publish_at` first, ties by `id`
    /// descending; with `filter.after`, only the posts strictly after that key in this order,
    /// with `filter.before` the `limit` posts just before that key (keyset paging: the
    /// `(workspace_id, publish_at, id)` index of migration 0013 serves both the order and the
    /// seek, walked forwards or backwards).
    async fn list_posts(&self, workspace_id: &str, filter: &PostFilter) -> StoreResult<Vec<Post>>;

    /// Claims up to `limit` targets whose `next_attempt_at` has come, that are `scheduled` or
    /// `publishing`, and whose lease is free or expired (a crashed holder's): sets them
    /// `publishing` with the lease `owner` until `lease_until`, earliest first. Targets whose
    /// lease ran out (their holder died: work already started, already late) are claimed before
    /// the freshly due ones (index `post_targets_claim`, migration 0014). One statement;
    /// across processes each target goes to one holder at a time.
    async fn claim_due_targets(
        &self,
        owner: &str,
        lease_until: DateTime<Utc>,
        now: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<PostTarget>>;

    /// Extends the lease of a held `publishing` target, changing nothing else (the progress and
    /// any create-in-flight marker stay). False when `owner` does not hold it.
    async fn renew_lease(
        &self,
        id: &str,
        owner: &str,
        lease_until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// Stores the create-in-flight marker (`attempt`, `sent_at = now`) and extends the lease,
    /// only while `owner` holds the target and it is `publishing`: called right before a
    /// non-repeatable create call is sent, and the call is sent only when this returned true.
    /// The marker stays until [`PostStore::save_progress`], a [`Deferral::Retry`] or
    /// [`PostTarget`]'s end ([`PostStore::finish_target`]) records what came of the call.
    async fn mark_create_in_flight(
        &self,
        id: &str,
        owner: &str,
        attempt: u32,
        lease_until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// Stores a step's progress and extends the lease, only while `owner` holds the target and
    /// it is `publishing`; clears the create-in-flight marker (the progress records the call's
    /// result). False when the lease was lost (do not go on).
    async fn save_progress(
        &self,
        id: &str,
        owner: &str,
        progress: &Value,
        lease_until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// Releases a held `publishing` target until `next_attempt_at` (see [`Deferral`]). False when
    /// `owner` does not hold it.
    async fn defer_target(
        &self,
        id: &str,
        owner: &str,
        deferral: &Deferral,
        next_attempt_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// Ends a held `publishing` target with `outcome` and releases it (a failure or an unknown
    /// outcome counts one more attempt; the create-in-flight marker is cleared). Conditional on the
    /// target being `publishing` and held by `owner`: false otherwise (nothing changes), so a
    /// target is finished once.
    async fn finish_target(
        &self,
        id: &str,
        owner: &str,
        outcome: &TargetOutcome,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// Cancels the post's `scheduled` targets (not claimed ones); returns how many.
    async fn cancel_targets(&self, post_id: &str, now: DateTime<Utc>) -> StoreResult<u64>;

    /// Makes the post's `failed` targets `scheduled` again, due now, with their attempts reset
    /// and their progress kept (never touches published ones); returns how many.
    async fn retry_targets(&self, post_id: &str, now: DateTime<Utc>) -> StoreResult<u64>;

    /// Makes the post's `scheduled` targets due now; returns how many.
    async fn publish_targets_now(&self, post_id: &str, now: DateTime<Utc>) -> StoreResult<u64>;

    /// Target counts of a workspace by platform and status (only non-zero counts).
    async fn target_summary(&self, workspace_id: &str) -> StoreResult<Vec<SummaryRow>>;
}
