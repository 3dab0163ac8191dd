//! X (API v2) publishing (PLATFORMS.md §1).
//!
//! - Text: `POST /2/tweets {"text"}` → 201 `{"data":{"id","text"}}`.
//! - Images (up to 4): one simple upload `POST /2/media/upload` (multipart `media` with the
//!   image's type as the part's `Content-Type`, `media_category=tweet_image`) per image, one
//!   step each, then the tweet with `media.media_ids`.
//! - Video or GIF (one): `POST /2/media/upload/initialize {media_type,total_bytes,media_category}`,
//!   one `POST /2/media/upload/{id}/append` per segment of [`SEGMENT_BYTES`] (multipart
//!   `segment_index`, `media`), `POST /2/media/upload/{id}/finalize`, then
//!   `GET /2/media/upload?command=STATUS&media_id=` while `processing_info.state` is `pending` or
//!   `in_progress`, waiting `check_after_secs` between polls; then the tweet.
//!
//! `POST /2/tweets` is the non-repeatable create ([`Publisher::next_is_create`]); whether a tweet
//! whose creation got no answer exists is looked up in the author's timeline
//! `GET /2/users/{id}/tweets?start_time&max_results=100&tweet.fields=created_at,entities` (needs
//! `tweet.read users.read`): the newest tweet created since the call whose text is the one sent
//! as X rewrites it ([`is_sent_text`]: links wrapped in t.co, `& < >` HTML-escaped, a link to
//! the media appended).
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
                // `media_type` is not a field of the one-shot upload (X's OpenAPI
                // `MediaUploadRequest`, docs.x.com/x-api/media/image-or-subtitle-media-upload:
                // `media`, `media_category`, `additional_owners`): the type rides on the part.
                let part = Part::stream_with_length(body, len)
                    .file_name("media")
                    .mime_str(&mime)
                    .map_err(|e| {
                        refuse(
                            spec,
                            Category::InvalidRequest,
                            format!("The media type {mime:?} is not a valid MIME type: {e}"),
                        )
                    })?;
                let form = Form::new()
                    .text("media_category", "tweet_image")
                    .part("media", part);
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
    /// [`crate::CHECK_MAX_PAGES`] pages) for the newest tweet whose text is the one sent as X
    /// stores it ([`is_sent_text`]): found → done under its id; every page read and none →
    /// `NotFound`; the page cap reached → `CannotTell`.
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
                ("tweet.fields", "created_at,entities".to_string()),
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
                .filter(|t| is_sent_text(&text, t))
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
    /// `like_count` → likes, `reply_count` → comments, reposts + `quote_count` → shares.
    /// Reposts are `retweet_count` in X's documentation (docs.x.com/x-api/fundamentals/metrics)
    /// and `repost_count` in its OpenAPI document; whichever the answer has is read.
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
        let reposts = call::count(m, "/retweet_count").or_else(|| call::count(m, "/repost_count"));
        let shares = match (reposts, call::count(m, "/quote_count")) {
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

/// Whether `tweet` (a post object of X's answers: `text`, and `entities.urls` when asked for)
/// holds the text `sent`. X does not return the text as sent (<https://developer.x.com/en/docs/tco>,
/// `entities.urls` in X's OpenAPI): every link twitter-text finds is replaced by a t.co link whose
/// `expanded_url` is the link sent (`http://` added when it had no protocol), a t.co link to the
/// attached media (an entity with `media_key`, `display_url` `pic.x.com/…`) is appended, and
/// `&`, `<`, `>` come back HTML-escaped. So the t.co links are put back (media links dropped),
/// the escapes undone, and both texts compared NFC-normalised and trimmed, each link in its
/// canonical form (no protocol, lower-case host, no trailing `/`). Without `entities` a text
/// matches when it is the one sent with every link anywhere in either text taken as equal.
pub fn is_sent_text(sent: &str, tweet: &Value) -> bool {
    let Some(text) = tweet["text"].as_str() else {
        return false;
    };
    let entities = tweet.pointer("/entities/urls").and_then(Value::as_array);
    let mut restored = text.to_string();
    for u in entities.into_iter().flatten() {
        let Some(tco) = u["url"].as_str().filter(|t| !t.is_empty()) else {
            continue;
        };
        let display = u["display_url"].as_str().unwrap_or_default();
        let is_media = u.get("media_key").is_some_and(|k| !k.is_null())
            || display.starts_with("pic.x.com/")
            || display.starts_with("pic.twitter.com/");
        if is_media {
            restored = restored.replacen(tco, "", 1);
        } else if let Some(expanded) = u["expanded_url"].as_str() {
            restored = restored.replacen(tco, expanded, 1);
        }
    }
    let restored = unescape_html(&restored);
    if entities.is_some() {
        return canonical_text(&restored, false) == canonical_text(sent, false);
    }
    let want = canonical_text(sent, true);
    // Without entities the appended media link cannot be told from a link sent: try both.
    let without_media_link = restored
        .trim_end()
        .rsplit_once(char::is_whitespace)
        .filter(|(_, last)| last.starts_with("https://t.co/"))
        .map(|(before, _)| before);
    canonical_text(&restored, true) == want
        || without_media_link.is_some_and(|r| canonical_text(r, true) == want)
}

/// Undoes X's HTML escaping of `&`, `<` and `>` (`&amp;` last, so `&amp;lt;` stays `&lt;`).
fn unescape_html(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// `text` NFC-normalised and trimmed, each link (as twitter-text finds them) in canonical form,
/// or replaced by U+FFFC when `any_link`.
fn canonical_text(text: &str, any_link: bool) -> String {
    use switchboard_core::post_rules::twitter_text::{extract_urls, nfc};
    let text = nfc(text);
    let text = text.trim();
    let units: Vec<u16> = text.encode_utf16().collect();
    let mut out = String::new();
    let mut last = 0;
    for u in extract_urls(text) {
        if u.start < last || u.end > units.len() || u.start >= u.end {
            continue;
        }
        out.push_str(&String::from_utf16_lossy(&units[last..u.start]));
        let link = String::from_utf16_lossy(&units[u.start..u.end]);
        if any_link {
            out.push('\u{FFFC}');
        } else {
            out.push_str(&canonical_link(&link));
        }
        last = u.end;
    }
    out.push_str(&String::from_utf16_lossy(&units[last..]));
    out.trim().to_string()
}

/// A link without its protocol, its host in lower case, without a trailing `/`.
fn canonical_link(link: &str) -> String {
    let rest = match link.find("://") {
        Some(i)
            if link[..i].eq_ignore_ascii_case("http")
                || link[..i].eq_ignore_ascii_case("https") =>
        {
            &link[i + 3..]
        }
        _ => link,
    };
    let host_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let mut out = rest[..host_end].to_lowercase();
    out.push_str(&rest[host_end..]);
    if out.ends_with('/') {
        out.pop();
    }
    out
}

fn published(id: String, p: &XProgress) -> Published {
    Published {
        url: Some(format!("https://x.com/i/web/status/{id}")),
        post_id: id,
        progress: call::write_progress(p),
    }
}

#[cfg(test)]
mod tests {
    use super::is_sent_text;
    use serde_json::json;

    #[test]
    fn text_as_x_returns_it_matches_the_text_sent() {
        let sent = "Q&A <today> at example.org/q & https://Example.com/a/?b=1";
        let tweet = json!({
            "text": "Q&amp;A &lt;today&gt; at https://t.co/aaaaaaaaaa &amp; https://t.co/bbbbbbbbbb https://t.co/cccccccccc",
            "entities": {"urls": [
                {"start": 25, "end": 48, "url": "https://t.co/aaaaaaaaaa", "expanded_url": "http://example.org/q", "display_url": "example.org/q"},
                {"start": 55, "end": 78, "url": "https://t.co/bbbbbbbbbb", "expanded_url": "https://example.com/a/?b=1", "display_url": "example.com/a/?b=1"},
                {"start": 79, "end": 102, "url": "https://t.co/cccccccccc", "expanded_url": "https://x.com/i/web/status/1/photo/1", "display_url": "pic.x.com/cccccccccc", "media_key": "3_1"}
            ]}
        });
        assert!(is_sent_text(sent, &tweet));
        assert!(!is_sent_text(
            "Q&A <today> at example.org/other & https://Example.com/a/?b=1",
            &tweet
        ));
        // A literal `&amp;` comes back escaped once more.
        assert!(is_sent_text("Q&amp;A", &json!({"text": "Q&amp;amp;A"})));
        assert!(!is_sent_text("Q&A", &json!({"text": "Q&amp;amp;A"})));
        // Without entities: the same text apart from its links.
        let bare = json!({"text": "Q&amp;A &lt;today&gt; at https://t.co/aaaaaaaaaa &amp; https://t.co/bbbbbbbbbb https://t.co/cccccccccc"});
        assert!(is_sent_text(sent, &bare));
        assert!(!is_sent_text(
            "Q&A <tomorrow> at example.org/q & https://Example.com/a/?b=1",
            &bare
        ));
        assert!(is_sent_text("plain text", &json!({"text": "plain text"})));
        assert!(!is_sent_text("plain text", &json!({"text": "plain text!"})));
    }
}
