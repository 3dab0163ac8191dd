//! Pinterest (API v5) publishing (PLATFORMS.md §7).
//!
//! A Pin goes to the board `content.overrides.pinterest.board_id` (required); `title` from the
//! override, `description` from the override or the platform text, `link` from the override,
//! `alt_text` from the first media item.
//!
//! - Image (or GIF): `POST /v5/pins` with `media_source {source_type:"image_url", url}`; 2 to 5
//!   images: `{source_type:"multiple_image_urls", items:[{url}]}`. Pinterest fetches them.
//! - Video: `POST /v5/media {"media_type":"video"}` → `{media_id, upload_url,
//!   upload_parameters}`; a multipart `POST` of the parameters plus `file` (the bytes) to
//!   `upload_url`; `GET /v5/media/{id}` every [`MEDIA_POLL_SECS`] until `succeeded`; then the
//!   Pin with `{source_type:"video_id", media_id, cover_image_url}` (the first image of the
//!   content as cover, else `cover_image_key_frame_time: 0`).
//!
//! Pinterest has no text-only Pins: content without media is refused before any call.
//!
//! `POST /v5/pins` is the non-repeatable create ([`Publisher::next_is_create`]). Whether a Pin
//! whose creation got no answer exists is looked up on its board,
//! `GET /v5/boards/{board_id}/pins?page_size=100` (newest first): the Pin with the title and
//! description sent, created since the call.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use reqwest::multipart::{Form, Part};
use reqwest::Method;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use switchboard_core::post::MediaKind;
use switchboard_core::post_rules::platform_text;
use switchboard_core::Category;
use switchboard_oauth::PlatformHttp;

use crate::call::{self, refuse};
use crate::{Checked, Metrics, Progress, PublishError, Published, Publisher, Step, Target};

/// Seconds between two reads of a processing video.
pub const MEDIA_POLL_SECS: u64 = 5;

/// The analytics read by [`PinterestPublisher::metrics`].
pub const METRIC_TYPES: &str = "IMPRESSION,SAVE,PIN_CLICK,OUTBOUND_CLICK";

/// The Pinterest publisher.
#[derive(Debug, Default, Clone, Copy)]
pub struct PinterestPublisher;

/// Where a Pinterest publication stands (the stored [`Progress`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PinterestProgress {
    /// `start`, `uploading`, `processing` or `posted`.
    pub stage: String,
    /// The registered video upload, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video: Option<VideoUpload>,
    /// The Pin id once created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin_id: Option<String>,
    /// The Pin's `created_at` date (`YYYY-MM-DD`, UTC), the start of the analytics range.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_on: Option<String>,
}

/// A video registered with `POST /v5/media`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VideoUpload {
    /// Pinterest's media id.
    pub media_id: String,
    /// Where the file is posted (a pre-signed storage URL).
    pub upload_url: String,
    /// The form fields to post with the file.
    pub upload_parameters: Map<String, Value>,
    /// True once the file was posted.
    pub uploaded: bool,
    /// True once `GET /v5/media/{id}` said `succeeded`.
    pub ready: bool,
}

fn published(id: String, p: &PinterestProgress) -> Published {
    Published {
        url: Some(format!("https://www.pinterest.com/pin/{id}/")),
        post_id: id,
        progress: call::write_progress(p),
    }
}

impl PinterestPublisher {
    async fn video_step(
        &self,
        http: &PlatformHttp,
        t: &Target<'_>,
        mut p: PinterestProgress,
        video_url: &str,
    ) -> Result<Step, PublishError> {
        let spec = t.spec;
        let base = call::api_base(spec)?;
        let token = t.access_token.expose_secret();
        let mut wait = None;
        match p.video.take() {
            None => {
                let req = http
                    .request(Method::POST, &format!("{base}/v5/media"))
                    .bearer_auth(token)
                    .json(&json!({ "media_type": "video" }));
                let v = call::json(spec, call::send(http, spec, "media_register", req).await?)?;
                p.video = Some(VideoUpload {
                    media_id: call::field(spec, &v, "/media_id")?,
                    upload_url: call::field(spec, &v, "/upload_url")?,
                    upload_parameters: v
                        .get("upload_parameters")
                        .and_then(Value::as_object)
                        .cloned()
                        .unwrap_or_default(),
                    uploaded: false,
                    ready: false,
                });
            }
            Some(mut up) if !up.uploaded => {
                // Streamed from the temporary file into the multipart body.
                let file = call::download_file(http, spec, t.local_media, video_url).await?;
                let len = file.len();
                let mut form = Form::new();
                for (k, v) in &up.upload_parameters {
                    let v = v
                        .as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| v.to_string());
                    form = form.text(k.clone(), v);
                }
                form = form.part(
                    "file",
                    Part::stream_with_length(file.into_body(spec).await?, len)
                        .file_name("video.mp4"),
                );
                // The pre-signed URL takes no bearer token.
                let req = http.request(Method::POST, &up.upload_url).multipart(form);
                call::ok(spec, call::send(http, spec, "media_upload", req).await?)?;
                up.uploaded = true;
                p.video = Some(up);
            }
            Some(mut up) => {
                let req = http
                    .request(Method::GET, &format!("{base}/v5/media/{}", up.media_id))
                    .bearer_auth(token);
                let v = call::json(spec, call::send(http, spec, "media_status", req).await?)?;
                match v.get("status").and_then(Value::as_str) {
                    Some("succeeded") => up.ready = true,
                    Some("failed") => {
                        return Err(refuse(
                            spec,
                            Category::ContentRejected,
                            "Pinterest could not process the video (status failed).",
                        ))
                    }
                    _ => wait = Some(Duration::from_secs(MEDIA_POLL_SECS)),
                }
                p.video = Some(up);
            }
        }
        p.stage = if wait.is_some() {
            "processing"
        } else {
            "uploading"
        }
        .into();
        Ok(Step::Continue {
            progress: call::write_progress(&p),
            wait,
        })
    }
}

#[async_trait]
impl Publisher for PinterestPublisher {
    fn platform(&self) -> &'static str {
        "pinterest"
    }

    async fn step(
        &self,
        http: &PlatformHttp,
        target: &Target<'_>,
        progress: &Progress,
    ) -> Result<Step, PublishError> {
        let spec = target.spec;
        let mut p: PinterestProgress = call::read_progress(spec, progress)?;
        if let Some(id) = p.pin_id.clone() {
            return Ok(Step::Done(published(id, &p)));
        }
        let content = target.content;
        let over = content.overrides.get(&spec.id).cloned().unwrap_or_default();
        let Some(board_id) = over.board_id.clone().filter(|b| !b.is_empty()) else {
            return Err(refuse(
                spec,
                Category::InvalidRequest,
                "A Pin needs a board: set content.overrides.pinterest.board_id.",
            ));
        };
        let media = &content.media;
        let video = media.iter().find(|m| m.kind == MediaKind::Video);
        let media_source = match video {
            Some(v) => {
                if !p.video.as_ref().is_some_and(|u| u.ready) {
                    let url = v.url.clone();
                    return self.video_step(http, target, p, &url).await;
                }
                let media_id = p.video.as_ref().map(|u| u.media_id.clone());
                let mut src = json!({ "source_type": "video_id", "media_id": media_id });
                match media.iter().find(|m| m.kind != MediaKind::Video) {
                    Some(cover) => src["cover_image_url"] = Value::from(cover.url.clone()),
                    // `PinMediaSourceVideoID.cover_image_key_frame_time` (seconds) in
                    // Pinterest's OpenAPI description; there is no `key_frame_time`.
                    None => src["cover_image_key_frame_time"] = Value::from(0),
                }
                src
            }
            None => match media.len() {
                0 => {
                    return Err(refuse(
                        spec,
                        Category::ContentRejected,
                        "A Pin needs an image or a video.",
                    ))
                }
                1 => json!({ "source_type": "image_url", "url": media[0].url }),
                _ => {
                    let items: Vec<Value> = media.iter().map(|m| json!({ "url": m.url })).collect();
                    json!({ "source_type": "multiple_image_urls", "items": items })
                }
            },
        };
        let description = over
            .description
            .clone()
            .unwrap_or_else(|| platform_text(&spec.id, &spec.content, content).text);
        let mut body = json!({
            "board_id": board_id,
            "description": description,
            "media_source": media_source,
        });
        if let Some(title) = &over.title {
            body["title"] = Value::from(title.clone());
        }
        if let Some(link) = &over.link {
            body["link"] = Value::from(link.clone());
        }
        if let Some(alt) = media.first().and_then(|m| m.alt_text.clone()) {
            body["alt_text"] = Value::from(alt);
        }
        let req = http
            .request(Method::POST, &format!("{}/v5/pins", call::api_base(spec)?))
            .bearer_auth(target.access_token.expose_secret())
            .json(&body);
        let v = call::json(spec, call::send_once(http, spec, "create_pin", req).await?)?;
        let id = call::field(spec, &v, "/id")?;
        p.created_on = v
            .get("created_at")
            .and_then(Value::as_str)
            .and_then(|s| s.get(..10))
            .map(str::to_string);
        p.stage = "posted".into();
        p.pin_id = Some(id.clone());
        Ok(Step::Done(published(id, &p)))
    }

    /// The next step creates the Pin: no Pin yet and, for a video, the upload is ready.
    fn next_is_create(&self, target: &Target<'_>, progress: &Progress) -> bool {
        let video = target
            .content
            .media
            .iter()
            .any(|m| m.kind == MediaKind::Video);
        call::read_progress::<PinterestProgress>(target.spec, progress).is_ok_and(|p| {
            p.pin_id.is_none() && (!video || p.video.as_ref().is_some_and(|u| u.ready))
        })
    }

    /// Looks on the board (`GET /v5/boards/{board_id}/pins?page_size=100`, newest first,
    /// following `bookmark` for at most [`crate::CHECK_MAX_PAGES`] pages) for the newest Pin
    /// with the title and description that were sent, created since `sent_at` (minus the skew;
    /// Pinterest's `created_at` is UTC without an offset) → done under its id; a page reaching an
    /// older Pin, or the last page, without it → `NotFound`; the page cap reached →
    /// `CannotTell`; no board → `CannotTell`.
    async fn check(
        &self,
        http: &PlatformHttp,
        target: &Target<'_>,
        progress: &Progress,
        sent_at: DateTime<Utc>,
    ) -> Result<Checked, PublishError> {
        let spec = target.spec;
        let mut p: PinterestProgress = call::read_progress(spec, progress)?;
        if let Some(id) = p.pin_id.clone() {
            return Ok(Checked::Found(Step::Done(published(id, &p))));
        }
        let content = target.content;
        let over = content.overrides.get(&spec.id).cloned().unwrap_or_default();
        let Some(board_id) = over.board_id.clone().filter(|b| !b.is_empty()) else {
            return Ok(Checked::CannotTell(
                "the Pin names no board to look on".into(),
            ));
        };
        let description = over
            .description
            .clone()
            .unwrap_or_else(|| platform_text(&spec.id, &spec.content, content).text);
        let title = over.title.clone().unwrap_or_default();
        let enc: String = url::form_urlencoded::byte_serialize(board_id.as_bytes()).collect();
        let url = format!("{}/v5/boards/{enc}/pins", call::api_base(spec)?);
        let created = |pin: &Value| {
            pin["created_at"]
                .as_str()
                .and_then(|s| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S").ok())
                .map(|n| n.and_utc())
                .or_else(|| call::time_of(pin, "/created_at"))
        };
        let mut bookmark: Option<String> = None;
        for _ in 0..crate::CHECK_MAX_PAGES {
            let mut query = vec![("page_size", "100".to_string())];
            if let Some(b) = &bookmark {
                query.push(("bookmark", b.clone()));
            }
            let req = http
                .request(Method::GET, &url)
                .query(&query)
                .bearer_auth(target.access_token.expose_secret());
            let v = call::json(spec, call::send(http, spec, "board_pins", req).await?)
                .map_err(call::cannot_look)?;
            let items = v["items"].as_array().cloned().unwrap_or_default();
            let found = items
                .iter()
                .filter(|pin| pin["description"].as_str().unwrap_or_default() == description)
                .filter(|pin| pin["title"].as_str().unwrap_or_default() == title)
                .filter(|pin| call::created_since(created(pin), sent_at))
                .max_by_key(|pin| created(pin))
                .and_then(|pin| Some((pin["id"].as_str()?.to_string(), pin.clone())));
            if let Some((id, pin)) = found {
                p.created_on = pin["created_at"]
                    .as_str()
                    .and_then(|s| s.get(..10))
                    .map(str::to_string);
                p.stage = "posted".into();
                p.pin_id = Some(id.clone());
                return Ok(Checked::Found(Step::Done(published(id, &p))));
            }
            let reached_before = items.iter().any(|pin| {
                let c = created(pin);
                c.is_some() && !call::created_since(c, sent_at)
            });
            match v["bookmark"].as_str().filter(|b| !b.is_empty()) {
                _ if reached_before => return Ok(Checked::NotFound),
                None => return Ok(Checked::NotFound),
                Some(b) => bookmark = Some(b.to_string()),
            }
        }
        Ok(Checked::CannotTell(format!(
            "more than {} pages of Pins were saved to the board since the send",
            crate::CHECK_MAX_PAGES
        )))
    }

    /// `GET /v5/pins/{id}/analytics?start_date&end_date&metric_types=`[`METRIC_TYPES`] (needs
    /// `pins:read`) over the 90 days from the Pin's creation date (the longest range Pinterest
    /// allows): `lifetime_metrics.IMPRESSION` → impressions, `SAVE` → shares, `PIN_CLICK +
    /// OUTBOUND_CLICK` → engagements.
    async fn metrics(
        &self,
        http: &PlatformHttp,
        target: &Target<'_>,
        published: &Published,
    ) -> Result<Metrics, PublishError> {
        let spec = target.spec;
        let p: PinterestProgress = call::read_progress(spec, &published.progress)?;
        let start = p
            .created_on
            .as_deref()
            .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            .unwrap_or_else(|| chrono::Utc::now().date_naive());
        let end = start + chrono::Duration::days(89);
        let url = format!(
            "{}/v5/pins/{}/analytics",
            call::api_base(spec)?,
            published.post_id
        );
        let req = http
            .request(Method::GET, &url)
            .query(&[
                ("start_date", start.to_string()),
                ("end_date", end.to_string()),
                ("metric_types", METRIC_TYPES.to_string()),
            ])
            .bearer_auth(target.access_token.expose_secret());
        let v = call::json(spec, call::send(http, spec, "pin_analytics", req).await?)?;
        let life = |m: &str| call::count(&v, &format!("/all/lifetime_metrics/{m}"));
        let engagements = match (life("PIN_CLICK"), life("OUTBOUND_CLICK")) {
            (None, None) => None,
            (a, b) => Some(a.unwrap_or(0) + b.unwrap_or(0)),
        };
        Ok(Metrics {
            impressions: life("IMPRESSION"),
            engagements,
            shares: life("SAVE"),
            raw: v,
            ..Metrics::default()
        })
    }
}
