//! Publishing clients, one module per platform, behind the [`Publisher`] trait.
//!
//! Publishing a post to one connection (a *target*) is a sequence of **steps**. Each call to
//! [`Publisher::step`] does exactly one platform call (or one small group that is safe to repeat)
//! and returns the new [`Progress`], which the dispatcher stores **before** calling the next step.
//! After a crash the dispatcher resumes from the stored progress, so a container, upload or
//! session already created is reused, never created again, and a step already marked published
//! is never published again (PLATFORMS.md, lessons at the top).
//!
//! A step's failure says whether the platform may have acted ([`PublishError::Unknown`]: the
//! request was sent and no answer came) or certainly did not ([`PublishError::Failed`], with a
//! diagnosis saying whether retrying can help). Only the publisher knows which calls are safe to
//! repeat (status polls, chunk uploads with `Content-Range`) and which are not (creating a post).
//!
//! **Exactly once across crashes.** A process can die after a create call reached the platform
//! and before its answer was stored. So the dispatcher asks [`Publisher::next_is_create`] before
//! each step and, when the step is a non-repeatable create, durably stores a create-in-flight
//! marker first. A target resumed with the marker set is never stepped again blindly: the
//! dispatcher calls [`Publisher::check`], which looks for the item at the platform (a status the
//! platform keeps for the call, or the account's recent items matched on the text sent and the
//! time, paging back past the send time): found → published under the platform's id; not
//! found (authoritatively, once the send can no longer be in flight) → sent again; cannot
//! tell → `unknown`.
//! Platforms with a real idempotency mechanism need no marker: a YouTube resumable session
//! completes into one video however often its last chunk is sent, and a TikTok `FILE_UPLOAD`
//! init publishes nothing until its chunks arrive.

pub mod call;
pub mod facebook;
pub mod instagram;
pub mod linkedin;
pub mod pinterest;
pub mod tiktok;
pub mod twitter;
pub mod youtube;

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use switchboard_core::post::PostContent;
use switchboard_core::{Diagnosis, PlatformSpec};
use switchboard_oauth::PlatformHttp;

/// The resumable state of one target's publication, as the publisher defines it (each module
/// has its own serde type). `Value::Null` at the start.
pub type Progress = Value;

/// What a publisher needs to publish one target.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// The platform (endpoints: `api_base_url`, `vars`; content rules).
    pub spec: &'a PlatformSpec,
    /// The access token to publish with (a Facebook **Page** access token for Pages).
    pub access_token: &'a SecretString,
    /// Where to publish: the platform's account id (X user id, LinkedIn `sub`, Instagram
    /// `user_id`, TikTok `open_id`, Facebook Page id, Pinterest user id, YouTube channel owner).
    pub account_id: &'a str,
    /// What to publish, with its per-platform overrides (`content.overrides[spec.id]`).
    pub content: &'a PostContent,
    /// Media items of `content` whose file is on this server's disk (uploads in `media_dir`),
    /// by the URL they carry: the media fetches of [`call`] read these from disk instead of
    /// over HTTP (an instance behind a load balancer may not reach its own public URL).
    /// Platforms that pull by URL still get the URL. Empty (`&[]`) when none.
    pub local_media: &'a [LocalMedia],
}

/// A media item's file on this server's disk: the item's `url` (as in `content.media[].url`)
/// and the file's path. The file is read as the URL would have been fetched (size limit,
/// "changed size" checks included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalMedia {
    /// The media item's URL, as in `content.media[].url` (a signed public URL for uploads).
    pub url: String,
    /// The file's path (in `media_dir`).
    pub path: std::path::PathBuf,
}

/// The outcome of one step.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// More to do: store `progress`, then call [`Publisher::step`] again after `wait` (a
    /// platform's `check_after_secs`, a processing poll interval).
    Continue {
        /// The new progress.
        progress: Progress,
        /// How long to wait before the next step.
        wait: Option<Duration>,
    },
    /// Published.
    Done(Published),
}

/// A published item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Published {
    /// The platform's id of the post (tweet id, post URN, `{page}_{post}`, media id, pin id,
    /// video id, TikTok post id).
    pub post_id: String,
    /// Where a person can see it, when the platform has a public URL for it.
    pub url: Option<String>,
    /// The final progress (kept for audits and metrics).
    pub progress: Progress,
}

impl Published {
    /// A warning the publisher left in the final progress (its `warning` key, a [`Diagnosis`]):
    /// published, but not as asked (YouTube keeping an unaudited project's upload private).
    /// The dispatcher stores it as the target's diagnosis and puts it in the `post.published`
    /// event.
    pub fn warning(&self) -> Option<Diagnosis> {
        serde_json::from_value(self.progress.get("warning")?.clone()).ok()
    }
}

/// Why a step did not complete.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The platform did not act (it refused, or the request never reached it). The diagnosis
    /// says whether trying again later can succeed (`retryable`) and how long to wait
    /// (`retry_after_secs`).
    #[error("{}", .0.summary())]
    Failed(Box<Diagnosis>),
    /// The request was sent and no answer came: the platform may or may not have acted. Never
    /// retried blindly; [`Publisher::check`] may find out.
    #[error("outcome unknown: {}", .0.summary())]
    Unknown(Box<Diagnosis>),
}

impl PublishError {
    /// The diagnosis.
    pub fn diagnosis(&self) -> &Diagnosis {
        match self {
            PublishError::Failed(d) | PublishError::Unknown(d) => d,
        }
    }
}

/// Metrics of a published item, as far as the platform offers them (`None`: not offered).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Times shown.
    pub impressions: Option<u64>,
    /// Interactions of any kind.
    pub engagements: Option<u64>,
    /// Likes / reactions.
    pub likes: Option<u64>,
    /// Comments / replies.
    pub comments: Option<u64>,
    /// Shares / reposts / saves.
    pub shares: Option<u64>,
    /// Video views.
    pub views: Option<u64>,
    /// The platform's answer, for anything else.
    pub raw: Value,
}

/// One platform's publishing client.
#[async_trait]
pub trait Publisher: Send + Sync + std::fmt::Debug {
    /// The platform id it serves.
    fn platform(&self) -> &'static str;

    /// Does the next step of publishing `target`, starting from `progress` (`Null` at first).
    ///
    /// # Errors
    /// [`PublishError::Failed`] when the platform did not act; [`PublishError::Unknown`] when a
    /// non-repeatable call was sent and no answer came.
    async fn step(
        &self,
        http: &PlatformHttp,
        target: &Target<'_>,
        progress: &Progress,
    ) -> Result<Step, PublishError>;

    /// Whether the next [`Publisher::step`] from `progress` sends a **non-repeatable create**:
    /// the call that makes the item public and that the platform would carry out a second time
    /// if it were sent again (no idempotency key, no session that completes once). The
    /// dispatcher stores a create-in-flight marker before such a step, and a target resumed with
    /// the marker goes through [`Publisher::check`] instead of this step. Default: false.
    fn next_is_create(&self, _target: &Target<'_>, _progress: &Progress) -> bool {
        false
    }

    /// After [`PublishError::Unknown`], or when a target is resumed with a create-in-flight
    /// marker (its create call may have reached the platform, see [`Publisher::next_is_create`]),
    /// asks the platform whether the item exists. `progress` is the progress the create step
    /// started from; `sent_at` when the call was (about to be) sent, on the dispatcher's clock:
    /// an item created from it is not older (publishers allow [`CHECK_SKEW_SECS`] of clock skew).
    ///
    /// A check is **complete**: it pages back through the account's items (at most
    /// [`CHECK_MAX_PAGES`] pages) until it reaches items created before `sent_at` minus the skew,
    /// so that a busy account's newer items cannot hide the one looked for. See [`Checked`].
    ///
    /// # Errors
    /// As [`Publisher::step`]; a non-retryable `Failed` means the platform says it refused.
    async fn check(
        &self,
        _http: &PlatformHttp,
        _target: &Target<'_>,
        _progress: &Progress,
        _sent_at: DateTime<Utc>,
    ) -> Result<Checked, PublishError> {
        Ok(Checked::CannotTell(
            "the platform gives the client no way to look for a post".into(),
        ))
    }

    /// Metrics of a published item.
    ///
    /// # Errors
    /// [`PublishError::Failed`] with the platform's diagnosis.
    async fn metrics(
        &self,
        http: &PlatformHttp,
        target: &Target<'_>,
        published: &Published,
    ) -> Result<Metrics, PublishError>;
}

/// What [`Publisher::check`] learnt.
#[derive(Debug, Clone, PartialEq)]
pub enum Checked {
    /// Found: `Step::Done` published under the platform's id; `Step::Continue` the platform
    /// says where the publication stands and that it is not public (Instagram's container
    /// status), so it may go on from there.
    Found(Step),
    /// Authoritatively absent: the account's list was read back past `sent_at` minus the skew
    /// and holds no such item. (The dispatcher still waits until the send can no longer be in
    /// flight before acting on it.)
    NotFound,
    /// The client cannot tell: the page cap was reached, the token may not list, or the
    /// platform cannot list at all. The reason, for the diagnosis.
    CannotTell(String),
}

/// Pages [`Publisher::check`] reads at most before answering [`Checked::CannotTell`].
pub const CHECK_MAX_PAGES: usize = 20;

/// Seconds of clock skew [`Publisher::check`] allows between the dispatcher's `sent_at` and the
/// platform's creation time of the item it looks for.
pub const CHECK_SKEW_SECS: i64 = 120;

/// The publisher of a platform, or `None` for platforms without one (custom providers).
pub fn publisher_for(platform: &str) -> Option<&'static dyn Publisher> {
    PUBLISHERS
        .iter()
        .copied()
        .find(|p| p.platform() == platform)
}

/// Every publisher, one per built-in platform.
static PUBLISHERS: &[&dyn Publisher] = &[
    &twitter::TwitterPublisher,
    &linkedin::LinkedInPublisher,
    &facebook::FacebookPublisher,
    &pinterest::PinterestPublisher,
    &instagram::InstagramPublisher,
    &tiktok::TikTokPublisher::STANDARD,
    &youtube::YouTubePublisher::STANDARD,
];
