//! X (API v2) publishing (PLATFORMS.md §1).
//!
//! - Text: `POST /2/tweets {"text"}` → 201 `{"data":{"id","text"}}`.
//! - Images (up to 4): one simple upload `POST /2/media/upload` (multipart `media`,
//!   `media_category=tweet_image`) per image, one step each, then the tweet with
//!   `media.media_ids`.
//! - Video or GIF (one): `POST /2/media/upload/initialize {media_type,total_bytes,media_category}`,
//!   one `POST /2/media/upload/{id}/append` per segment of [`SEGMENT_BYTES`] (multipart
//!   `segment_index`, `media`), `POST /2/media/upload/{id}/finalize`, then
//!   `GET /2/media/upload?command=STATUS&media_id=` while `processing_info.state` is `pending` or
//!   `in_progress`, waiting `check_after_secs` between polls; then the tweet.
//!
//! `POST /2/tweets` is the non-repeatable create ([`Publisher::next_is_create`]); whether a tweet
//! whose creation got no answer exists is looked up in the author's timeline
//! `GET /2/users/{id}/tweets?start_time&max_results=100&tweet.fields=created_at` (needs
//! `tweet.read users.read`): the newest tweet with the text sent, created since the call.
//!
//! The text is [`switchboard_core::post_rules::platform_text`] (the override or the shared text
//! with the hashtags appended). Each media step downloads the file from its public URL again (a
//! step keeps no bytes between calls).

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Duration as ChronoDuration, SecondsFormat, Utc};
use reqwest::multipart::{Form, Part};
use reqwest::Method;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use switchboard_core::post::MediaKind;
use switchboard_core::post_rules::platform_text;
use switchboard_core::Category;
use switchboard_oauth::PlatformHttp;

use crate::call::{self, refuse};
use crate::{
    Checked, Metrics, Progress, PublishError, Published, Publisher, Step, Target, CHECK_SKEW_SECS,
};

/// Bytes per `append` segment (1 MiB; X accepts segments up to 5 MB, PLATFORMS.md §1).
pub const SEGMENT_BYTES: usize = 1024 * 1024;

/// Wait between STATUS polls when X gives no `check_after_secs` (seconds).
const DEFAULT_CHECK_AFTER_SECS: u64 = 5;

/// The X publisher.
#[derive(Debug, Default, Clone, Copy)]
pub struct TwitterPublisher;

/// Where an X publication stands (the stored [`Progress`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct XProgress {
    /// `start`, `uploading` (images/video being uploaded), `processing` (waiting on STATUS),
    /// `posted`.
    pub stage: String,
    /// Media ids of the content's media already uploaded and ready, in order.
    #[serde(default)]
    pub media_ids: Vec<String>,
    /// The chunked upload under way (video or GIF), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunked: Option<ChunkedUpload>,
    /// The tweet id once posted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tweet_id: Option<String>,
}

/// A chunked (initialize/append/finalize) upload in progress.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChunkedUpload {
    /// X's media id from `initialize`.
    pub media_id: String,
    /// The file size, bytes.
    pub total_bytes: u64,
    /// The next segment to append (0-based); equal to `segments` once all are sent.
    pub segment: u32,
    /// How many segments of [`SEGMENT_BYTES`] the file has.
    pub segments: u32,
    /// True once `finalize` was called (then STATUS is polled).
    pub finalized: bool,
}

fn media_type(kind: MediaKind, mime: Option<&str>) -> String {
    mime.map(str::to_string).unwrap_or_else(|| {
        match kind {
            MediaKind::Image => "image/jpeg",
            MediaKind::Video => "video/mp4",
            MediaKind::Gif => "image/gif",
        }
        .to_string()
    })
}

/// What a `processing_info` says: `Ok(None)` ready, `Ok(Some(wait))` poll again after `wait`.
fn processing(
    spec: &switchboard_core::PlatformSpec,
    data: &Value,
) -> Result<Option<Duration>, PublishError> {
    let Some(info) = data.get("processing_info") else {
        return Ok(None);
    };
    match info.get("state").and_then(Value::as_str) {
        Some("succeeded") | None => Ok(None),
        Some("failed") => {
            let msg = info
                .pointer("/error/message")
                .and_then(Value::as_str)
                .unwrap_or("processing failed");
            Err(refuse(
                spec,
                Category::ContentRejected,
                format!("X could not process the media: {msg}."),
            ))
        }
        Some(_) => Ok(Some(Duration::from_secs(
            info.get("check_after_secs")
                .and_then(Value::as_u64)
                .unwrap_or(DEFAULT_CHECK_AFTER_SECS),
        ))),
    }
}

impl TwitterPublisher {
    async fn upload_step(
        &self,
        http: &PlatformHttp,
        t: &Target<'_>,
        mut p: XProgress,
    ) -> Result<Step, PublishError> {
        let spec = t.spec;
        let base = call::api_base(spec)?;
        let token = t.access_token.expose_secret();
        let index = p.media_ids.len();
        let media = &t.content.media[index];
        let upload = format!("{base}/2/media/upload");
        let mut wait = None;
        match (media.kind, p.chunked.clone()) {
            (MediaKind::Image, _) => {
                // On disk, stopped at X's image limit; streamed into the form.
                let file = call::download_image(http, spec, t.local_media, &media.url).await?;
                let len = file.len();
                let body = file.into_body(spec).await?;
                let mime = media_type(media.kind, media.mime_type.as_deref());
                let form = Form::new()
                    .text("media_category", "tweet_image")
                    .text("media_type", mime)
                    .part(
                        "media",
                        Part::stream_with_length(body, len).file_name("media"),
                    );
                let req = http
                    .request(Method::POST, &upload)
                    .bearer_auth(token)
                    .multipart(form);
                let v = call::json(spec, call::send(http, spec, "media_upload", req).await?)?;
                p.media_ids.push(call::field(spec, &v, "/data/id")?);
            }
            (_, None) => {
                let total = call::known_media_size(http, spec, t.local_media, media).await?;
                let category = if media.kind == MediaKind::Gif {
                    "tweet_gif"
                } else {
                    "tweet_video"
                };
                let body = json!({
                    "media_type": media_type(media.kind, media.mime_type.as_deref()),
                    "total_bytes": total,
                    "media_category": category,
                });
                let req = http
                    .request(Method::POST, &format!("{upload}/initialize"))
                    .bearer_auth(token)
                    .json(&body);
                let v = call::json(spec, call::send(http, spec, "media_initialize", req).await?)?;
                p.chunked = Some(ChunkedUpload {
                    media_id: call::field(spec, &v, "/data/id")?,
                    total_bytes: total,
                    segment: 0,
                    segments: total.div_ceil(SEGMENT_BYTES as u64).max(1) as u32,
                    finalized: false,
                });
            }
            (_, Some(mut c)) if c.segment < c.segments => {
                // Only this segment is fetched (Range) or read from the downloaded file.
                let from = u64::from(c.segment) * SEGMENT_BYTES as u64;
                let to = (from + SEGMENT_BYTES as u64).min(c.total_bytes);
                let (segment, total) =
                    call::download_range(http, spec, t.local_media, &media.url, from, to).await?;
                if total != c.total_bytes {
                    return Err(refuse(
                        spec,
                        Category::InvalidRequest,
                        "The media file changed size during the upload.",
                    ));
                }
                let form = Form::new()
                    .text("segment_index", c.segment.to_string())
                    .part("media", Part::bytes(segment).file_name("media"));
                let req = http
                    .request(Method::POST, &format!("{upload}/{}/append", c.media_id))
                    .bearer_auth(token)
                    .multipart(form);
                call::ok(spec, call::send(http, spec, "media_append", req).await?)?;
                c.segment += 1;
                p.chunked = Some(c);
            }
            (_, Some(mut c)) => {
                let v = if c.finalized {
                    let req = http
                        .request(Method::GET, &upload)
                        .query(&[("command", "STATUS"), ("media_id", c.media_id.as_str())])
                        .bearer_auth(token);
                    call::json(spec, call::send(http, spec, "media_status", req).await?)?
                } else {
                    let req = http
                        .request(Method::POST, &format!("{upload}/{}/finalize", c.media_id))
                        .bearer_auth(token);
                    call::json(spec, call::send(http, spec, "media_finalize", req).await?)?
                };
                c.finalized = true;
                match processing(spec, v.get("data").unwrap_or(&Value::Null))? {
                    Some(w) => {
                        wait = Some(w);
                        p.chunked = Some(c);
                    }
                    None => {
                        p.media_ids.push(c.media_id);
                        p.chunked = None;
                    }
                }
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
impl Publisher for TwitterPublisher {
    fn platform(&self) -> &'static str {
        "twitter"
    }

    async fn step(
        &self,
        http: &PlatformHttp,
        target: &Target<'_>,
        progress: &Progress,
    ) -> Result<Step, PublishError> {
        let spec = target.spec;
        let mut p: XProgress = call::read_progress(spec, progress)?;
        if let Some(id) = p.tweet_id.clone() {
            return Ok(Step::Done(published(id, &p)));
        }
        if p.media_ids.len() < target.content.media.len() {
            return self.upload_step(http, target, p).await;
        }
        let text = platform_text(&spec.id, &spec.content, target.content).text;
        let mut body = json!({ "text": text });
        if !p.media_ids.is_empty() {
            body["media"] = json!({ "media_ids": p.media_ids });
        }
        let req = http
            .request(Method::POST, &format!("{}/2/tweets", call::api_base(spec)?))
            .bearer_auth(target.access_token.expose_secret())
            .json(&body);
        let v = call::json(
            spec,
            call::send_once(http, spec, "create_tweet", req).await?,
        )?;
        let id = call::field(spec, &v, "/data/id")?;
        p.stage = "posted".into();
        p.tweet_id = Some(id.clone());
        Ok(Step::Done(published(id, &p)))
    }

    /// The next step creates the tweet once every media item is uploaded.
    fn next_is_create(&self, target: &Target<'_>, progress: &Progress) -> bool {
        call::read_progress::<XProgress>(target.spec, progress)
            .is_ok_and(|p| p.tweet_id.is_none() && p.media_ids.len() >= target.content.media.len())
    }

    /// Looks in the author's timeline (`GET /2/users/{id}/tweets`, from `sent_at` minus the
    /// skew, 100 per page, following `meta.next_token` as `pagination_token` for at most
    /// [`crate::CHECK_MAX_PAGES`] pages) for the newest tweet with exactly the text that was
    /// sent: found → done under its id; every page read and none → `NotFound`; the page cap
    /// reached → `CannotTell`.
    async fn check(
        &self,
        http: &PlatformHttp,
        target: &Target<'_>,
        progress: &Progress,
        sent_at: DateTime<Utc>,
    ) -> Result<Checked, PublishError> {
        let spec = target.spec;
        let mut p: XProgress = call::read_progress(spec, progress)?;
        if let Some(id) = p.tweet_id.clone() {
            return Ok(Checked::Found(Step::Done(published(id, &p))));
        }
        let text = platform_text(&spec.id, &spec.content, target.content).text;
        let start = (sent_at - ChronoDuration::seconds(CHECK_SKEW_SECS))
            .to_rfc3339_opts(SecondsFormat::Secs, true);
        let url = format!(
            "{}/2/users/{}/tweets",
            call::api_base(spec)?,
            target.account_id
        );
        let mut token: Option<String> = None;
        for _ in 0..crate::CHECK_MAX_PAGES {
            let mut query = vec![
                ("start_time", start.clone()),
                ("max_results", "100".to_string()),
                ("tweet.fields", "created_at".to_string()),
            ];
            if let Some(t) = &token {
                query.push(("pagination_token", t.clone()));
            }
            let req = http
                .request(Method::GET, &url)
                .query(&query)
                .bearer_auth(target.access_token.expose_secret());
            let v = call::json(spec, call::send(http, spec, "user_tweets", req).await?)
                .map_err(call::cannot_look)?;
            let found = v["data"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|t| t["text"].as_str() == Some(text.as_str()))
                .filter(|t| call::created_since(call::time_of(t, "/created_at"), sent_at))
                .max_by_key(|t| call::time_of(t, "/created_at"))
                .and_then(|t| t["id"].as_str().map(str::to_string));
            if let Some(id) = found {
                p.stage = "posted".into();
                p.tweet_id = Some(id.clone());
                return Ok(Checked::Found(Step::Done(published(id, &p))));
            }
            match v.pointer("/meta/next_token").and_then(Value::as_str) {
                Some(next) => token = Some(next.to_string()),
                None => return Ok(Checked::NotFound),
            }
        }
        Ok(Checked::CannotTell(format!(
            "more than {} pages of the account's tweets were posted since the send",
            crate::CHECK_MAX_PAGES
        )))
    }

    /// `GET /2/tweets/{id}?tweet.fields=public_metrics`: `impression_count` → impressions,
    /// `like_count` → likes, `reply_count` → comments, `retweet_count + quote_count` → shares.
    async fn metrics(
        &self,
        http: &PlatformHttp,
        target: &Target<'_>,
        published: &Published,
    ) -> Result<Metrics, PublishError> {
        let spec = target.spec;
        let url = format!("{}/2/tweets/{}", call::api_base(spec)?, published.post_id);
        let req = http
            .request(Method::GET, &url)
            .query(&[("tweet.fields", "public_metrics")])
            .bearer_auth(target.access_token.expose_secret());
        let v = call::json(spec, call::send(http, spec, "tweet_metrics", req).await?)?;
        let Some(m) = v.pointer("/data/public_metrics") else {
            // X answers 200 with `errors[]` for a tweet it cannot find.
            let body = serde_json::to_string(&v).unwrap_or_default();
            let d = switchboard_core::diagnosis::diagnose_call(
                &spec.id,
                switchboard_core::diagnosis::CallKind::Api,
                Some(200),
                &body,
            );
            return Err(call::failed(d));
        };
        let shares = match (
            call::count(m, "/retweet_count"),
            call::count(m, "/quote_count"),
        ) {
            (None, None) => None,
            (a, b) => Some(a.unwrap_or(0) + b.unwrap_or(0)),
        };
        Ok(Metrics {
            impressions: call::count(m, "/impression_count"),
            engagements: None,
            likes: call::count(m, "/like_count"),
            comments: call::count(m, "/reply_count"),
            shares,
            views: None,
            raw: v,
        })
    }
}

fn published(id: String, p: &XProgress) -> Published {
    Published {
        url: Some(format!("https://x.com/i/web/status/{id}")),
        post_id: id,
        progress: call::write_progress(p),
    }
}
