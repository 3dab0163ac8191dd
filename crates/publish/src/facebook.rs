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

use async_trait::async_trait;
use reqwest::Method;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use switchboard_core::post::MediaKind;
use switchboard_core::post_rules::platform_text;
use switchboard_core::Category;
use switchboard_oauth::PlatformHttp;

use crate::call::{self, refuse};
use crate::{Metrics, Progress, PublishError, Published, Publisher, Step, Target};

/// The insights read by [`FacebookPublisher::metrics`] (`GET /{post-id}/insights?metric=`).
pub const INSIGHT_METRICS: &str =
    "post_impressions,post_engaged_users,post_reactions_by_type_total";

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

    /// The sandbox serves no read of a Page's feed to look for a post whose creation got no
    /// answer (and a Page may hold the same message legitimately), so this answers `Ok(None)`:
    /// the target stays `unknown`.
    async fn check(
        &self,
        _http: &PlatformHttp,
        _target: &Target<'_>,
        _progress: &Progress,
    ) -> Result<Option<Step>, PublishError> {
        Ok(None)
    }

    /// `GET /{post-id}/insights?metric=`[`INSIGHT_METRICS`] (needs `read_insights`):
    /// `post_impressions` → impressions, `post_engaged_users` → engagements, the sum of
    /// `post_reactions_by_type_total` → likes.
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
        Ok(Metrics {
            impressions: value("post_impressions").and_then(|v| v.as_u64()),
            engagements: value("post_engaged_users").and_then(|v| v.as_u64()),
            likes,
            raw: v,
            ..Metrics::default()
        })
    }
}
