//! Facebook Pages (Graph API) publishing (PLATFORMS.md §3).
//!
//! The target's `access_token` is the **Page** access token and `account_id` the Page id; calls
//! go to `{api_base_url}` (`https://graph.facebook.com/{graph_version}`) with JSON bodies.
//!
//! - Text: `POST /{page-id}/feed {message, link?}` → `{"id":"{page}_{post}"}` (`link` from
//!   `content.overrides.facebook.link`).
//! - One photo (image or GIF): `POST /{page-id}/photos {url, caption}` → `{id, post_id}`.
//! - Several photos: one step per photo `POST /{page-id}/photos {url, published:false}` →
//!   `{id}`, then `POST /{page-id}/feed {message, attached_media:[{media_fbid}]}`.
//! - Video (alone): `POST /{page-id}/videos {file_url, description}` → `{id}`; its post is
//!   `{page}_{id}`.
//!
//! Facebook fetches the files from their public URLs itself; nothing is downloaded here.
//!
//! The call that makes the post public (`/feed`, a published `/photos`, `/videos`) is the
//! non-repeatable create ([`Publisher::next_is_create`]). Whether a post whose creation got no
//! answer exists is looked up in the Page's feed, `GET /{page-id}/feed?fields=id,message,
//! created_time&limit=100` (newest first; photo and video posts appear there with their caption
//! or description as `message`): the post with the message sent, created since the call.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use reqwest::Method;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use switchboard_core::post::MediaKind;
use switchboard_core::post_rules::platform_text;
use switchboard_core::Category;
use switchboard_oauth::PlatformHttp;

use crate::call::{self, refuse};
use crate::{Checked, Metrics, Progress, PublishError, Published, Publisher, Step, Target};

/// The Page post insights read by [`FacebookPublisher::metrics`] (`GET /{post-id}/insights?metric=`).
///
/// Meta retired `post_engaged_users` (March 14, 2024) and the `post_impressions*` metrics
/// (replaced by the "views" family, `post_media_view` and `post_total_media_view_unique`); one
/// retired name in `metric=` fails the whole call with `(#100)`. Source: Page Insights,
/// <https://developers.facebook.com/docs/graph-api/reference/insights> ("Page Post Impressions"
/// and "Page Post Engagement" tables). Every Page post type (text, photo, video) takes the
/// same post metrics there, so one list serves them all.
pub const INSIGHT_METRICS: &str =
    "post_media_view,post_total_media_view_unique,post_reactions_by_type_total,post_clicks";

/// The Facebook Pages publisher.
#[derive(Debug, Default, Clone, Copy)]
pub struct FacebookPublisher;

/// Where a Facebook publication stands (the stored [`Progress`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FacebookProgress {
    /// `start`, `uploading` (unpublished photos being added) or `posted`.
    pub stage: String,
    /// Ids of the unpublished photos already uploaded (several-photo posts), in order.
    #[serde(default)]
    pub photo_ids: Vec<String>,
    /// The post id (`{page}_{post}`) once published.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_id: Option<String>,
}

fn published(id: String, p: &FacebookProgress) -> Published {
    Published {
        url: Some(format!("https://www.facebook.com/{id}")),
        post_id: id,
        progress: call::write_progress(p),
    }
}

#[async_trait]
impl Publisher for FacebookPublisher {
    fn platform(&self) -> &'static str {
        "facebook"
    }

    async fn step(
        &self,
        http: &PlatformHttp,
        target: &Target<'_>,
        progress: &Progress,
    ) -> Result<Step, PublishError> {
        let spec = target.spec;
        let mut p: FacebookProgress = call::read_progress(spec, progress)?;
        if let Some(id) = p.post_id.clone() {
            return Ok(Step::Done(published(id, &p)));
        }
        let base = call::api_base(spec)?;
        let page = target.account_id;
        let token = target.access_token.expose_secret();
        let media = &target.content.media;
        let message = platform_text(&spec.id, &spec.content, target.content).text;
        let link = target
            .content
            .overrides
            .get(&spec.id)
            .and_then(|o| o.link.clone());
        let videos = media.iter().filter(|m| m.kind == MediaKind::Video).count();
        if videos > 0 && media.len() > 1 {
            return Err(refuse(
                spec,
                Category::ContentRejected,
                "A Facebook Page post carries photos or one video, not both.",
            ));
        }

        // Several photos: upload each unpublished first, one per step.
        if media.len() > 1 && p.photo_ids.len() < media.len() {
            let m = &media[p.photo_ids.len()];
            let req = http
                .request(Method::POST, &format!("{base}/{page}/photos"))
                .bearer_auth(token)
                .json(&json!({ "url": m.url, "published": false }));
            let v = call::json(spec, call::send(http, spec, "photo_upload", req).await?)?;
            p.photo_ids.push(call::field(spec, &v, "/id")?);
            p.stage = "uploading".into();
            return Ok(Step::Continue {
                progress: call::write_progress(&p),
                wait: None,
            });
        }

        let (what, path, body) = match media.first() {
            None => {
                let mut b = json!({ "message": message });
                if let Some(l) = link {
                    b["link"] = Value::from(l);
                }
                ("create_feed_post", "feed", b)
            }
            Some(m) if media.len() == 1 && m.kind == MediaKind::Video => (
                "create_video",
                "videos",
                json!({ "file_url": m.url, "description": message }),
            ),
            Some(m) if media.len() == 1 => (
                "create_photo",
                "photos",
                json!({ "url": m.url, "caption": message }),
            ),
            Some(_) => {
                let attached: Vec<Value> = p
                    .photo_ids
                    .iter()
                    .map(|id| json!({ "media_fbid": id }))
                    .collect();
                (
                    "create_feed_post",
                    "feed",
                    json!({ "message": message, "attached_media": attached }),
                )
            }
        };
        let req = http
            .request(Method::POST, &format!("{base}/{page}/{path}"))
            .bearer_auth(token)
            .json(&body);
        let v = call::json(spec, call::send_once(http, spec, what, req).await?)?;
        let id = match path {
            "photos" => call::field(spec, &v, "/post_id")?,
            "videos" => format!("{page}_{}", call::field(spec, &v, "/id")?),
            _ => call::field(spec, &v, "/id")?,
        };
        p.stage = "posted".into();
        p.post_id = Some(id.clone());
        Ok(Step::Done(published(id, &p)))
    }

    /// The next step publishes: no post yet, and the unpublished photos of a several-photo post
    /// are all uploaded.
    fn next_is_create(&self, target: &Target<'_>, progress: &Progress) -> bool {
        let media = target.content.media.len();
        call::read_progress::<FacebookProgress>(target.spec, progress)
            .is_ok_and(|p| p.post_id.is_none() && (media <= 1 || p.photo_ids.len() >= media))
    }

    /// Looks in the Page's feed (`GET /{page-id}/feed?limit=100`, newest first, following
    /// `paging.cursors.after` while `paging.next` is set, at most [`crate::CHECK_MAX_PAGES`]
    /// pages) for the newest post with the message that was sent (the caption or description
    /// for a photo or video), created since `sent_at` (minus the skew) → done under its id; a
    /// page reaching an older post, or the last page, without it → `NotFound`; the page cap
    /// reached → `CannotTell`. (A Page refuses the same
    /// message twice within a day, `#506`, so the message names one post in that window.)
    async fn check(
        &self,
        http: &PlatformHttp,
        target: &Target<'_>,
        progress: &Progress,
        sent_at: DateTime<Utc>,
    ) -> Result<Checked, PublishError> {
        let spec = target.spec;
        let mut p: FacebookProgress = call::read_progress(spec, progress)?;
        if let Some(id) = p.post_id.clone() {
            return Ok(Checked::Found(Step::Done(published(id, &p))));
        }
        let message = platform_text(&spec.id, &spec.content, target.content).text;
        let url = format!("{}/{}/feed", call::api_base(spec)?, target.account_id);
        let mut after: Option<String> = None;
        for _ in 0..crate::CHECK_MAX_PAGES {
            let mut query = vec![
                ("fields", "id,message,created_time".to_string()),
                ("limit", "100".to_string()),
            ];
            if let Some(a) = &after {
                query.push(("after", a.clone()));
            }
            let req = http
                .request(Method::GET, &url)
                .query(&query)
                .bearer_auth(target.access_token.expose_secret());
            let v = call::json(spec, call::send(http, spec, "page_feed", req).await?)
                .map_err(call::cannot_look)?;
            let data = v["data"].as_array().cloned().unwrap_or_default();
            let found = data
                .iter()
                .filter(|post| post["message"].as_str().unwrap_or_default() == message)
                .filter(|post| call::created_since(call::time_of(post, "/created_time"), sent_at))
                .max_by_key(|post| call::time_of(post, "/created_time"))
                .and_then(|post| post["id"].as_str().map(str::to_string));
            if let Some(id) = found {
                p.stage = "posted".into();
                p.post_id = Some(id.clone());
                return Ok(Checked::Found(Step::Done(published(id, &p))));
            }
            let reached_before = data.iter().any(|post| {
                let c = call::time_of(post, "/created_time");
                c.is_some() && !call::created_since(c, sent_at)
            });
            let next = v.pointer("/paging/next").and_then(Value::as_str).is_some();
            match v.pointer("/paging/cursors/after").and_then(Value::as_str) {
                _ if reached_before || !next => return Ok(Checked::NotFound),
                Some(a) => after = Some(a.to_string()),
                None => {
                    return Ok(Checked::CannotTell(
                        "the Page feed has a next page but no `after` cursor".into(),
                    ))
                }
            }
        }
        Ok(Checked::CannotTell(format!(
            "the Page posted more than {} pages of posts since the send",
            crate::CHECK_MAX_PAGES
        )))
    }

    /// `GET /{post-id}/insights?metric=`[`INSIGHT_METRICS`] (needs `read_insights`):
    /// `post_media_view` → impressions and views (Meta's "views" replaced impressions), the
    /// sum of `post_reactions_by_type_total` → likes, that sum plus `post_clicks` →
    /// engagements (the interactions the post insights still count); reach
    /// (`post_total_media_view_unique`) stays in `raw`.
    async fn metrics(
        &self,
        http: &PlatformHttp,
        target: &Target<'_>,
        published: &Published,
    ) -> Result<Metrics, PublishError> {
        let spec = target.spec;
        let url = format!("{}/{}/insights", call::api_base(spec)?, published.post_id);
        let req = http
            .request(Method::GET, &url)
            .query(&[("metric", INSIGHT_METRICS)])
            .bearer_auth(target.access_token.expose_secret());
        let v = call::json(spec, call::send(http, spec, "post_insights", req).await?)?;
        let value = |name: &str| {
            v.get("data")
                .and_then(Value::as_array)
                .and_then(|d| d.iter().find(|m| m["name"] == name))
                .and_then(|m| m.pointer("/values/0/value"))
                .cloned()
        };
        let likes = value("post_reactions_by_type_total").and_then(|r| {
            r.as_object()
                .map(|o| o.values().filter_map(Value::as_u64).sum::<u64>())
        });
        let clicks = value("post_clicks").and_then(|v| v.as_u64());
        let views = value("post_media_view").and_then(|v| v.as_u64());
        let engagements = match (likes, clicks) {
            (None, None) => None,
            (a, b) => Some(a.unwrap_or(0) + b.unwrap_or(0)),
        };
        Ok(Metrics {
            impressions: views,
            engagements,
            likes,
            views,
            raw: v,
            ..Metrics::default()
        })
    }
}
