//! Instagram (Instagram API with Instagram Login, `graph.instagram.com`) publishing through media
//! containers (PLATFORMS.md §4 "Publishing").
//!
//! - Single image: `POST /{ig-user-id}/media` (`image_url`, `caption`) → container id; poll
//!   `GET /{container-id}?fields=status_code,status` until `FINISHED`; then
//!   `POST /{ig-user-id}/media_publish?creation_id=` → the media id.
//! - Video: the same with `media_type=REELS&video_url=` (every feed video is a Reel).
//! - Carousel (2–10 items): one child container per item (`is_carousel_item=true`, one step
//!   each, no caption), then the parent `media_type=CAROUSEL&children=a,b,c&caption=`, then poll
//!   and publish as above.
//!
//! Steps: each child, the parent (or single) container, then one step per status read. The step
//! that sees `FINISHED` calls `media_publish` in the same step: the status read just before it is
//! what keeps a resumed publication from publishing a container twice (a container already
//! `PUBLISHED` is never published again). `media_publish` is the only call that makes the post
//! public; it is sent once ([`call::send_once`]).
//!
//! A container already `PUBLISHED` whose media id was never received (the answer of
//! `media_publish` was lost): Instagram does not say which media a container became, so the
//! media is looked up among the user's own, `GET /{ig-user-id}/media?fields=id,caption,
//! timestamp` (newest first), as the newest with the caption sent (published since the call
//! when that is known). Found → published under its media id; otherwise under the **container
//! id** (then the metrics of the post cannot be read).
//! The URL is the media's `permalink` (one `GET /{media-id}?fields=permalink` after publishing;
//! none when that read fails). Metrics come from `GET /{media-id}/insights`.

use std::time::Duration;

use async_trait::async_trait;
use reqwest::Method;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use switchboard_core::post::{Media, MediaKind};
use switchboard_core::post_rules::platform_text;
use switchboard_core::{Category, PlatformSpec};
use switchboard_oauth::PlatformHttp;

use crate::call::{self, refuse};
use crate::{Checked, Metrics, Progress, PublishError, Published, Publisher, Step, Target};

/// Wait between status reads of an image or carousel container (seconds; the processing of an
/// image takes seconds).
const IMAGE_POLL_SECS: u64 = 3;
/// Wait between status reads of a Reels container (seconds; videos take tens of seconds).
const VIDEO_POLL_SECS: u64 = 10;
/// Carousel size (PLATFORMS.md §4: up to 10 items; a carousel has at least 2).
const CAROUSEL_MAX: usize = 10;
/// The insights metrics read for a feed post (image or carousel, media product type `FEED`)
/// (`GET /{media-id}/insights?metric=`).
///
/// Meta retired `impressions`, `plays`, `clips_replays_count`,
/// `ig_reels_aggregated_all_plays_count` (April 21, 2025, all versions) and `video_views`;
/// `views` replaces them, and one retired name fails the whole call with `(#100)`. Which
/// metric a media product type takes is in the metrics table of Instagram Media Insights,
/// <https://developers.facebook.com/docs/instagram-platform/reference/instagram-media/insights>.
pub const FEED_METRICS: &str = "views,reach,likes,comments,shares,saved,total_interactions";
/// The insights metrics read for a Reel (every video is published as a Reel, media product
/// type `REELS`): the feed ones plus `ig_reels_avg_watch_time` (milliseconds), which only
/// Reels take. Source as [`FEED_METRICS`].
pub const REELS_METRICS: &str =
    "views,reach,likes,comments,shares,saved,total_interactions,ig_reels_avg_watch_time";

/// The metrics to ask for the media `content` was published as: a single video is a Reel,
/// anything else (image, carousel) a feed post.
pub fn insight_metrics(content: &switchboard_core::post::PostContent) -> &'static str {
    match content.media.as_slice() {
        [only] if is_video(only) => REELS_METRICS,
        _ => FEED_METRICS,
    }
}

/// The Instagram publisher.
#[derive(Debug, Default, Clone, Copy)]
pub struct InstagramPublisher;

/// Where an Instagram publication stands (the stored [`Progress`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InstagramProgress {
    /// Carousel child containers created so far, in media order.
    #[serde(default)]
    pub children: Vec<String>,
    /// The container to publish (single image, Reel or carousel parent), once created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// The published media id, once `media_publish` answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_id: Option<String>,
    /// The media's permalink, once read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permalink: Option<String>,
    /// How many containers expired (24 h) and were created again.
    #[serde(default)]
    pub expired: u32,
}

/// The container's `status_code`, read from `GET /{container-id}?fields=status_code,status`.
struct ContainerStatus {
    code: String,
    text: String,
}

fn is_video(m: &Media) -> bool {
    m.kind == MediaKind::Video
}

async fn read_status(
    http: &PlatformHttp,
    spec: &PlatformSpec,
    token: &str,
    container: &str,
) -> Result<ContainerStatus, PublishError> {
    let base = call::api_base(spec)?;
    let req = http
        .request(Method::GET, &format!("{base}/{container}"))
        .query(&[("fields", "status_code,status")])
        .bearer_auth(token);
    let v = call::json(spec, call::send(http, spec, "container_status", req).await?)?;
    Ok(ContainerStatus {
        code: call::field(spec, &v, "/status_code")?,
        text: v["status"].as_str().unwrap_or_default().to_string(),
    })
}

/// The diagnosis of a Graph error, with one correction: Instagram answers a personal account's
/// publish attempt with code 10 ("not an Instagram Business or Creator account"), which the
/// generic Graph reading takes for a missing permission; here it is the account that cannot
/// publish.
fn graph_failure(spec: &PlatformSpec, resp: &switchboard_oauth::http::RawResponse) -> PublishError {
    let mut d = call::diagnose(spec, resp);
    let text = resp.text().to_ascii_lowercase();
    if d.category == Category::InsufficientScope
        && (text.contains("business or creator") || text.contains("personal account"))
    {
        let fresh = switchboard_core::Diagnosis::new(Category::AccountNotEligible);
        d.category = fresh.category;
        d.severity = fresh.severity;
        d.retryable = fresh.retryable;
        d.cause = "This Instagram account is a personal account: only Business and Creator \
                   accounts can publish through the API."
            .to_string();
        d.docs_url = switchboard_core::diagnosis::docs_url(&spec.id, d.category).or(d.docs_url);
        d.fix = vec![
            "Switch the account to a Business or Creator account in the Instagram app \
             (Settings → Account type and tools)."
                .to_string(),
            "Then reconnect it in Switchboard.".to_string(),
        ];
    }
    call::failed(d)
}

/// `resp`'s JSON when 2xx, else the diagnosed Graph error.
fn graph_json(
    spec: &PlatformSpec,
    resp: switchboard_oauth::http::RawResponse,
) -> Result<serde_json::Value, PublishError> {
    if !resp.status.is_success() {
        return Err(graph_failure(spec, &resp));
    }
    call::json(spec, resp)
}

impl InstagramPublisher {
    /// Creates one container with `params` (besides the token) and returns its id.
    async fn create_container(
        &self,
        http: &PlatformHttp,
        t: &Target<'_>,
        params: &[(&str, &str)],
    ) -> Result<String, PublishError> {
        let spec = t.spec;
        let base = call::api_base(spec)?;
        let req = http
            .request(Method::POST, &format!("{base}/{}/media", t.account_id))
            .bearer_auth(t.access_token.expose_secret())
            .form(params);
        // Creating a container publishes nothing: a lost answer leaves at most an unused
        // container, which expires on its own; so it is sent as a repeatable call.
        let v = graph_json(spec, call::send(http, spec, "create_container", req).await?)?;
        call::field(spec, &v, "/id")
    }

    /// The media's permalink, when Instagram gives one.
    async fn permalink(
        &self,
        http: &PlatformHttp,
        t: &Target<'_>,
        media_id: &str,
    ) -> Option<String> {
        let base = call::api_base(t.spec).ok()?;
        let req = http
            .request(Method::GET, &format!("{base}/{media_id}"))
            .query(&[("fields", "permalink")])
            .bearer_auth(t.access_token.expose_secret());
        let v = call::json(
            t.spec,
            call::send(http, t.spec, "media_read", req).await.ok()?,
        )
        .ok()?;
        v["permalink"].as_str().map(str::to_string)
    }

    /// A `PUBLISHED` container whose `media_publish` answer was lost: its media looked up among
    /// the user's media (see the module docs), else the container id.
    async fn published_container(
        &self,
        http: &PlatformHttp,
        t: &Target<'_>,
        p: &mut InstagramProgress,
        container: String,
        since: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Step {
        let caption = platform_text(&t.spec.id, &t.spec.content, t.content).text;
        let found = async {
            let base = call::api_base(t.spec).ok()?;
            let req = http
                .request(Method::GET, &format!("{base}/{}/media", t.account_id))
                .query(&[("fields", "id,caption,timestamp"), ("limit", "100")])
                .bearer_auth(t.access_token.expose_secret());
            let v = call::json(
                t.spec,
                call::send(http, t.spec, "user_media", req).await.ok()?,
            )
            .ok()?;
            v["data"]
                .as_array()?
                .iter()
                .filter(|m| m["caption"].as_str().unwrap_or_default() == caption)
                .filter(|m| {
                    since.is_none_or(|s| call::created_since(call::time_of(m, "/timestamp"), s))
                })
                .max_by_key(|m| call::time_of(m, "/timestamp"))
                .and_then(|m| m["id"].as_str().map(str::to_string))
        }
        .await;
        match found {
            Some(media_id) => {
                p.media_id = Some(media_id.clone());
                p.permalink = self.permalink(http, t, &media_id).await;
                Self::published(p, media_id, p.permalink.clone())
            }
            None => Self::published(p, container, None),
        }
    }

    fn published(p: &InstagramProgress, post_id: String, url: Option<String>) -> Step {
        Step::Done(Published {
            post_id,
            url,
            progress: call::write_progress(p),
        })
    }
}

#[async_trait]
impl Publisher for InstagramPublisher {
    fn platform(&self) -> &'static str {
        "instagram"
    }

    async fn step(
        &self,
        http: &PlatformHttp,
        t: &Target<'_>,
        progress: &Progress,
    ) -> Result<Step, PublishError> {
        let spec = t.spec;
        let mut p: InstagramProgress = call::read_progress(spec, progress)?;
        let token = t.access_token.expose_secret();
        let media = &t.content.media;
        if let Some(id) = &p.media_id {
            return Ok(Self::published(&p, id.clone(), p.permalink.clone()));
        }
        if media.is_empty() {
            return Err(refuse(
                spec,
                Category::ContentRejected,
                "Instagram has no text-only posts: add an image or a video.",
            ));
        }
        if media.len() > CAROUSEL_MAX {
            return Err(refuse(
                spec,
                Category::ContentRejected,
                format!("An Instagram carousel holds at most {CAROUSEL_MAX} items."),
            ));
        }
        let caption = platform_text(&spec.id, &spec.content, t.content).text;
        let carousel = media.len() > 1;

        // 1. Carousel children, one per step.
        if carousel && p.container.is_none() && p.children.len() < media.len() {
            let m = &media[p.children.len()];
            let params: Vec<(&str, &str)> = if is_video(m) {
                vec![
                    ("media_type", "VIDEO"),
                    ("video_url", m.url.as_str()),
                    ("is_carousel_item", "true"),
                ]
            } else {
                vec![("image_url", m.url.as_str()), ("is_carousel_item", "true")]
            };
            let id = self.create_container(http, t, &params).await?;
            p.children.push(id);
            return Ok(Step::Continue {
                progress: call::write_progress(&p),
                wait: None,
            });
        }

        // 2. The container to publish.
        let Some(container) = p.container.clone() else {
            let children = p.children.join(",");
            let params: Vec<(&str, &str)> = if carousel {
                vec![
                    ("media_type", "CAROUSEL"),
                    ("children", children.as_str()),
                    ("caption", caption.as_str()),
                ]
            } else if is_video(&media[0]) {
                vec![
                    ("media_type", "REELS"),
                    ("video_url", media[0].url.as_str()),
                    ("caption", caption.as_str()),
                ]
            } else {
                vec![
                    ("image_url", media[0].url.as_str()),
                    ("caption", caption.as_str()),
                ]
            };
            p.container = Some(self.create_container(http, t, &params).await?);
            return Ok(Step::Continue {
                progress: call::write_progress(&p),
                wait: None,
            });
        };

        // 3. Status, and publish once FINISHED.
        let status = read_status(http, spec, token, &container).await?;
        match status.code.as_str() {
            "FINISHED" => {}
            "PUBLISHED" => {
                return Ok(self
                    .published_container(http, t, &mut p, container, None)
                    .await)
            }
            "IN_PROGRESS" => {
                let secs = if media.iter().any(is_video) {
                    VIDEO_POLL_SECS
                } else {
                    IMAGE_POLL_SECS
                };
                return Ok(Step::Continue {
                    progress: call::write_progress(&p),
                    wait: Some(Duration::from_secs(secs)),
                });
            }
            "EXPIRED" => {
                // Never published (else it would read PUBLISHED): safe to start over.
                p.container = None;
                p.children.clear();
                p.expired += 1;
                return Ok(Step::Continue {
                    progress: call::write_progress(&p),
                    wait: None,
                });
            }
            _ => {
                let mut d = switchboard_core::Diagnosis::new(Category::ContentRejected);
                d.platform = Some(spec.id.clone());
                d.cause = "Instagram could not fetch or process the media (the container ended \
                           in ERROR): check that each media URL is public and a JPEG image or \
                           an MP4/MOV video."
                    .to_string();
                d.platform_code = Some(status.code.clone());
                d.platform_message = Some(status.text);
                return Err(call::failed(d));
            }
        }
        let base = call::api_base(spec)?;
        let req = http
            .request(
                Method::POST,
                &format!("{base}/{}/media_publish", t.account_id),
            )
            .query(&[("creation_id", container.as_str())])
            .bearer_auth(token);
        let resp = call::send_once(http, spec, "media_publish", req).await?;
        let v = graph_json(spec, resp)?;
        let media_id = call::field(spec, &v, "/id")?;
        p.media_id = Some(media_id.clone());
        p.permalink = self.permalink(http, t, &media_id).await;
        Ok(Self::published(&p, media_id, p.permalink.clone()))
    }

    /// The step that may send `media_publish` (a container exists, no media id yet). The
    /// container's status is Instagram's own record of whether it was published, which
    /// [`InstagramPublisher::check`] reads.
    fn next_is_create(&self, t: &Target<'_>, progress: &Progress) -> bool {
        call::read_progress::<InstagramProgress>(t.spec, progress)
            .is_ok_and(|p| p.container.is_some() && p.media_id.is_none())
    }

    /// Reads the container's status after an unknown `media_publish` (or a resumed one):
    /// `PUBLISHED` → done (under the container id, see the module docs); `FINISHED` or
    /// `IN_PROGRESS` → not published, the publication may go on; `ERROR`/`EXPIRED` → `Failed`.
    /// `sent_at` bounds the lookup of the media a `PUBLISHED` container became.
    async fn check(
        &self,
        http: &PlatformHttp,
        t: &Target<'_>,
        progress: &Progress,
        sent_at: chrono::DateTime<chrono::Utc>,
    ) -> Result<Checked, PublishError> {
        let mut p: InstagramProgress = call::read_progress(t.spec, progress)?;
        let Some(container) = p.container.clone() else {
            return Ok(Checked::CannotTell("no container was stored".into()));
        };
        let status = read_status(http, t.spec, t.access_token.expose_secret(), &container).await?;
        match status.code.as_str() {
            "PUBLISHED" => Ok(Checked::Found(
                self.published_container(http, t, &mut p, container, Some(sent_at))
                    .await,
            )),
            "FINISHED" | "IN_PROGRESS" => Ok(Checked::Found(Step::Continue {
                progress: call::write_progress(&p),
                wait: None,
            })),
            other => Err(refuse(
                t.spec,
                Category::ContentRejected,
                format!("The Instagram container ended in {other} without being published."),
            )),
        }
    }

    async fn metrics(
        &self,
        http: &PlatformHttp,
        t: &Target<'_>,
        published: &Published,
    ) -> Result<Metrics, PublishError> {
        let spec = t.spec;
        let base = call::api_base(spec)?;
        let req = http
            .request(
                Method::GET,
                &format!("{base}/{}/insights", published.post_id),
            )
            .query(&[("metric", insight_metrics(t.content))])
            .bearer_auth(t.access_token.expose_secret());
        let v = graph_json(spec, call::send(http, spec, "insights", req).await?)?;
        let value = |name: &str| -> Option<u64> {
            v["data"]
                .as_array()?
                .iter()
                .find(|m| m["name"] == name)?
                .pointer("/values/0/value")?
                .as_u64()
        };
        let shares = match (value("shares"), value("saved")) {
            (None, None) => None,
            (a, b) => Some(a.unwrap_or(0) + b.unwrap_or(0)),
        };
        // `views` replaced `impressions` (Meta counts both the same way for feed media).
        Ok(Metrics {
            impressions: value("views"),
            engagements: value("total_interactions"),
            likes: value("likes"),
            comments: value("comments"),
            shares,
            views: value("views"),
            raw: v,
        })
    }
}
