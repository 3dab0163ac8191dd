//! LinkedIn (Posts API) publishing as a member (PLATFORMS.md §2).
//!
//! Every `/rest/` call carries `LinkedIn-Version:` the catalog's API version
//! ([`PlatformSpec::api_version`](switchboard_core::PlatformSpec), a setting) and
//! `X-Restli-Protocol-Version: 2.0.0`. The author is `urn:li:person:{account_id}` (the OIDC
//! `sub`).
//!
//! - Text: `POST /rest/posts {author, commentary, visibility, distribution, lifecycleState,
//!   isReshareDisabledByAuthor}` → 201 with the post URN in `x-restli-id`.
//! - Images (and GIFs): per image, `POST /rest/images?action=initializeUpload` (one step), then
//!   `PUT` the bytes to `value.uploadUrl` (one step); the post carries `content.media.id`, or
//!   `content.multiImage.images[]` for two or more.
//! - Video (one): `POST /rest/videos?action=initializeUpload {owner, fileSizeBytes}`, one
//!   `PUT` per `uploadInstructions[]` entry (its `ETag` kept), `action=finalizeUpload {video,
//!   uploadToken, uploadedPartIds}`, then `GET /rest/videos/{urn}` every
//!   [`VIDEO_POLL_SECS`] until `AVAILABLE`; then the post with `content.media.id`.
//!
//! `POST /rest/posts` is the non-repeatable create ([`Publisher::next_is_create`]; LinkedIn
//! answers a second copy with 422 `DUPLICATE_POST`). Whether a post whose creation got no
//! answer exists is looked up with the author finder `GET /rest/posts?q=author&author=&count=`
//! (newest first): the post with the commentary sent, created since the call. The finder
//! needs `r_member_social`, a restricted permission: request it as an extra scope when the app
//! has it; without it LinkedIn answers 403 and such a target stays `unknown`.
//!
//! The commentary uses LinkedIn's "little" text format: the reserved characters
//! `\ | { } @ [ ] ( ) < > # * _ ~` are escaped with a backslash (else LinkedIn may truncate the
//! text silently), and appended hashtags are written as `{hashtag|\#|tag}` so they stay
//! hashtags.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use reqwest::{Method, RequestBuilder};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use switchboard_core::post::MediaKind;
use switchboard_core::post_rules::platform_text;
use switchboard_core::{Category, PlatformSpec};
use switchboard_oauth::PlatformHttp;

use crate::call::{self, refuse};
use crate::{Checked, Metrics, Progress, PublishError, Published, Publisher, Step, Target};

/// Seconds between two reads of a processing video (LinkedIn gives no hint).
pub const VIDEO_POLL_SECS: u64 = 5;

/// The LinkedIn publisher.
#[derive(Debug, Default, Clone, Copy)]
pub struct LinkedInPublisher;

/// Where a LinkedIn publication stands (the stored [`Progress`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LinkedInProgress {
    /// `start`, `uploading`, `processing` or `posted`.
    pub stage: String,
    /// URNs (`urn:li:image:…`, `urn:li:video:…`) of the media already uploaded, in order.
    #[serde(default)]
    pub media_urns: Vec<String>,
    /// An image initialized and not yet uploaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageUpload>,
    /// The video upload under way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video: Option<VideoUpload>,
    /// The post URN once created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_urn: Option<String>,
}

/// An initialized image upload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageUpload {
    /// `urn:li:image:…`.
    pub urn: String,
    /// Where to `PUT` the bytes.
    pub upload_url: String,
}

/// One `uploadInstructions[]` entry: bytes `first_byte..=last_byte` go to `upload_url`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UploadInstruction {
    /// Where to `PUT` this part.
    pub upload_url: String,
    /// First byte offset (inclusive).
    pub first_byte: u64,
    /// Last byte offset (inclusive).
    pub last_byte: u64,
}

/// An initialized video upload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VideoUpload {
    /// `urn:li:video:…`.
    pub urn: String,
    /// The `uploadToken` finalize needs (may be empty).
    pub upload_token: String,
    /// The parts to upload.
    pub instructions: Vec<UploadInstruction>,
    /// ETags of the parts uploaded so far, in order.
    pub etags: Vec<String>,
    /// True once `finalizeUpload` succeeded (then the video is polled).
    pub finalized: bool,
}

/// Escapes `text` for the "little" text format (PLATFORMS.md §2).
pub fn escape_little(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(
            c,
            '\\' | '|'
                | '{'
                | '}'
                | '@'
                | '['
                | ']'
                | '('
                | ')'
                | '<'
                | '>'
                | '#'
                | '*'
                | '_'
                | '~'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The commentary: the platform text escaped, appended hashtags as hashtag templates.
fn commentary(spec: &PlatformSpec, content: &switchboard_core::post::PostContent) -> String {
    let pt = platform_text(&spec.id, &spec.content, content);
    if pt.appended_hashtags == 0 {
        return escape_little(&pt.text);
    }
    let (body, tags) = match pt.text.rfind("\n\n") {
        Some(i) => (&pt.text[..i], &pt.text[i + 2..]),
        None => ("", pt.text.as_str()),
    };
    let tags: Vec<String> = tags
        .split(' ')
        .map(|t| {
            format!(
                "{{hashtag|\\#|{}}}",
                escape_little(t.trim_start_matches('#'))
            )
        })
        .collect();
    if body.is_empty() {
        tags.join(" ")
    } else {
        format!("{}\n\n{}", escape_little(body), tags.join(" "))
    }
}

/// The `LinkedIn-Version` (`YYYYMM`) of `/rest/` calls: the catalog's API version, which
/// `[platforms.linkedin] api_version` or `SWITCHBOARD_LINKEDIN_API_VERSION` sets (LinkedIn
/// sunsets each version about a year after release and then answers 426).
pub fn linkedin_version(spec: &switchboard_core::PlatformSpec) -> &str {
    spec.api_version.as_deref().unwrap_or_default()
}

fn rest(req: RequestBuilder, t: &Target<'_>) -> RequestBuilder {
    req.bearer_auth(t.access_token.expose_secret())
        .header("LinkedIn-Version", linkedin_version(t.spec))
        .header("X-Restli-Protocol-Version", "2.0.0")
}

fn person(t: &Target<'_>) -> String {
    format!("urn:li:person:{}", t.account_id)
}

fn str_of(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_string)
}

impl LinkedInPublisher {
    async fn upload_step(
        &self,
        http: &PlatformHttp,
        t: &Target<'_>,
        mut p: LinkedInProgress,
    ) -> Result<Step, PublishError> {
        let spec = t.spec;
        let base = call::api_base(spec)?;
        let media = &t.content.media[p.media_urns.len()];
        let mut wait = None;
        if media.kind != MediaKind::Video {
            match p.image.take() {
                None => {
                    let body = json!({ "initializeUploadRequest": { "owner": person(t) } });
                    let req = rest(
                        http.request(Method::POST, &format!("{base}/rest/images"))
                            .query(&[("action", "initializeUpload")]),
                        t,
                    )
                    .json(&body);
                    let v = call::json(spec, call::send(http, spec, "image_init", req).await?)?;
                    p.image = Some(ImageUpload {
                        urn: call::field(spec, &v, "/value/image")?,
                        upload_url: call::field(spec, &v, "/value/uploadUrl")?,
                    });
                }
                Some(up) => {
                    // On disk, stopped at the image limit; streamed into the upload.
                    let file = call::download_image(http, spec, t.local_media, &media.url).await?;
                    let len = file.len();
                    let req = http
                        .request(Method::PUT, &up.upload_url)
                        .bearer_auth(t.access_token.expose_secret())
                        .header(reqwest::header::CONTENT_LENGTH, len)
                        .body(file.into_body(spec).await?);
                    call::ok(spec, call::send(http, spec, "image_put", req).await?)?;
                    p.media_urns.push(up.urn);
                }
            }
        } else {
            match p.video.take() {
                None => {
                    let size = call::known_media_size(http, spec, t.local_media, media).await?;
                    let body = json!({ "initializeUploadRequest": {
                        "owner": person(t),
                        "fileSizeBytes": size,
                        "uploadCaptions": false,
                        "uploadThumbnail": false,
                    }});
                    let req = rest(
                        http.request(Method::POST, &format!("{base}/rest/videos"))
                            .query(&[("action", "initializeUpload")]),
                        t,
                    )
                    .json(&body);
                    let v = call::json(spec, call::send(http, spec, "video_init", req).await?)?;
                    let value = v.get("value").cloned().unwrap_or(Value::Null);
                    let instructions = value
                        .get("uploadInstructions")
                        .and_then(Value::as_array)
                        .map(|a| {
                            a.iter()
                                .filter_map(|i| {
                                    Some(UploadInstruction {
                                        upload_url: str_of(i, "uploadUrl")?,
                                        first_byte: i.get("firstByte")?.as_u64()?,
                                        last_byte: i.get("lastByte")?.as_u64()?,
                                    })
                                })
                                .collect::<Vec<_>>()
                        })
                        .unwrap_or_default();
                    if instructions.is_empty() {
                        return Err(refuse(
                            spec,
                            Category::Unknown,
                            "LinkedIn answered the video upload without uploadInstructions.",
                        ));
                    }
                    p.video = Some(VideoUpload {
                        urn: call::field(spec, &v, "/value/video")?,
                        upload_token: str_of(&value, "uploadToken").unwrap_or_default(),
                        instructions,
                        etags: Vec::new(),
                        finalized: false,
                    });
                }
                Some(mut up) if up.etags.len() < up.instructions.len() => {
                    let ins = &up.instructions[up.etags.len()];
                    let (from, to) = (ins.first_byte, ins.last_byte);
                    if from > to {
                        return Err(refuse(
                            spec,
                            Category::Unknown,
                            "LinkedIn gave an upload instruction with an empty byte range.",
                        ));
                    }
                    // Only this part is fetched (Range) or read from the downloaded file.
                    let (part, total) =
                        call::download_range(http, spec, t.local_media, &media.url, from, to + 1)
                            .await?;
                    if to >= total {
                        return Err(refuse(
                            spec,
                            Category::InvalidRequest,
                            "The media file changed size during the upload.",
                        ));
                    }
                    let req = http
                        .request(Method::PUT, &ins.upload_url)
                        .bearer_auth(t.access_token.expose_secret())
                        .body(part);
                    let resp = call::ok(spec, call::send(http, spec, "video_put", req).await?)?;
                    let etag = resp
                        .headers
                        .get("etag")
                        .and_then(|h| h.to_str().ok())
                        .map(str::to_string)
                        .ok_or_else(|| {
                            refuse(
                                spec,
                                Category::Unknown,
                                "LinkedIn answered a video part upload without an ETag.",
                            )
                        })?;
                    up.etags.push(etag);
                    p.video = Some(up);
                }
                Some(mut up) if !up.finalized => {
                    let body = json!({ "finalizeUploadRequest": {
                        "video": up.urn,
                        "uploadToken": up.upload_token,
                        "uploadedPartIds": up.etags,
                    }});
                    let req = rest(
                        http.request(Method::POST, &format!("{base}/rest/videos"))
                            .query(&[("action", "finalizeUpload")]),
                        t,
                    )
                    .json(&body);
                    call::ok(spec, call::send(http, spec, "video_finalize", req).await?)?;
                    up.finalized = true;
                    p.video = Some(up);
                }
                Some(up) => {
                    let enc: String =
                        url::form_urlencoded::byte_serialize(up.urn.as_bytes()).collect();
                    let req = rest(
                        http.request(Method::GET, &format!("{base}/rest/videos/{enc}")),
                        t,
                    );
                    let v = call::json(spec, call::send(http, spec, "video_status", req).await?)?;
                    match v.get("status").and_then(Value::as_str) {
                        Some("AVAILABLE") => p.media_urns.push(up.urn),
                        Some("PROCESSING_FAILED") => {
                            return Err(refuse(
                                spec,
                                Category::ContentRejected,
                                "LinkedIn could not process the video (PROCESSING_FAILED).",
                            ))
                        }
                        _ => {
                            wait = Some(Duration::from_secs(VIDEO_POLL_SECS));
                            p.video = Some(up);
                        }
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
impl Publisher for LinkedInPublisher {
    fn platform(&self) -> &'static str {
        "linkedin"
    }

    async fn step(
        &self,
        http: &PlatformHttp,
        target: &Target<'_>,
        progress: &Progress,
    ) -> Result<Step, PublishError> {
        let spec = target.spec;
        let mut p: LinkedInProgress = call::read_progress(spec, progress)?;
        if let Some(urn) = p.post_urn.clone() {
            return Ok(Step::Done(published(urn, &p)));
        }
        let media = &target.content.media;
        if media.len() > 1 && media.iter().any(|m| m.kind == MediaKind::Video) {
            return Err(refuse(
                spec,
                Category::ContentRejected,
                "A LinkedIn post carries several images or one video, not both.",
            ));
        }
        if p.media_urns.len() < media.len() {
            return self.upload_step(http, target, p).await;
        }
        let mut body = json!({
            "author": person(target),
            "commentary": commentary(spec, target.content),
            "visibility": "PUBLIC",
            "distribution": {
                "feedDistribution": "MAIN_FEED",
                "targetEntities": [],
                "thirdPartyDistributionChannels": [],
            },
            "lifecycleState": "PUBLISHED",
            "isReshareDisabledByAuthor": false,
        });
        let with_alt = |urn: &String, i: usize| {
            let mut m = json!({ "id": urn });
            if let Some(alt) = media.get(i).and_then(|m| m.alt_text.as_ref()) {
                m["altText"] = Value::from(alt.clone());
            }
            m
        };
        match p.media_urns.len() {
            0 => {}
            1 => body["content"] = json!({ "media": with_alt(&p.media_urns[0], 0) }),
            _ => {
                let images: Vec<Value> = p
                    .media_urns
                    .iter()
                    .enumerate()
                    .map(|(i, u)| with_alt(u, i))
                    .collect();
                body["content"] = json!({ "multiImage": { "images": images } });
            }
        }
        let req = rest(
            http.request(
                Method::POST,
                &format!("{}/rest/posts", call::api_base(spec)?),
            ),
            target,
        )
        .json(&body);
        let resp = call::ok(spec, call::send_once(http, spec, "create_post", req).await?)?;
        let urn = resp
            .headers
            .get("x-restli-id")
            .and_then(|h| h.to_str().ok())
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .ok_or_else(|| {
                // It was created (2xx) but we cannot name it: not a failure to retry.
                PublishError::Unknown(Box::new({
                    let mut d = switchboard_core::Diagnosis::new(Category::Unknown);
                    d.platform = Some(spec.id.clone());
                    d.cause = "LinkedIn accepted the post but sent no x-restli-id.".into();
                    d
                }))
            })?;
        p.stage = "posted".into();
        p.post_urn = Some(urn.clone());
        Ok(Step::Done(published(urn, &p)))
    }

    /// The next step creates the post once every media item is uploaded.
    fn next_is_create(&self, target: &Target<'_>, progress: &Progress) -> bool {
        call::read_progress::<LinkedInProgress>(target.spec, progress)
            .is_ok_and(|p| p.post_urn.is_none() && p.media_urns.len() >= target.content.media.len())
    }

    /// The author finder (`GET /rest/posts?q=author&author={person}&start&count=100&sortBy=CREATED`),
    /// newest first, paged with `start` for at most [`crate::CHECK_MAX_PAGES`] pages: the newest
    /// post with the commentary that was sent, created since `sent_at` (minus the skew) → done
    /// under its URN; a page reaching a post created before that, or the last page, without it →
    /// `NotFound`; the page cap reached → `CannotTell`.
    ///
    /// # Errors
    /// `Failed` (retryable) when LinkedIn is unreachable or answers 5xx/429; `Unknown` when it
    /// refuses the finder (403 without `r_member_social`): the client cannot look.
    async fn check(
        &self,
        http: &PlatformHttp,
        target: &Target<'_>,
        progress: &Progress,
        sent_at: DateTime<Utc>,
    ) -> Result<Checked, PublishError> {
        let spec = target.spec;
        let mut p: LinkedInProgress = call::read_progress(spec, progress)?;
        if let Some(urn) = p.post_urn.clone() {
            return Ok(Checked::Found(Step::Done(published(urn, &p))));
        }
        let sent = commentary(spec, target.content);
        let author = person(target);
        const COUNT: usize = 100;
        for page in 0..crate::CHECK_MAX_PAGES {
            let start = (page * COUNT).to_string();
            let req = rest(
                http.request(
                    Method::GET,
                    &format!("{}/rest/posts", call::api_base(spec)?),
                )
                .query(&[
                    ("q", "author"),
                    ("author", author.as_str()),
                    ("start", start.as_str()),
                    ("count", "100"),
                    ("sortBy", "CREATED"),
                ]),
                target,
            );
            let v = call::json(spec, call::send(http, spec, "find_posts", req).await?)
                .map_err(call::cannot_look)?;
            let elements = v["elements"].as_array().cloned().unwrap_or_default();
            let created = |e: &Value| {
                e["createdAt"]
                    .as_i64()
                    .and_then(DateTime::<Utc>::from_timestamp_millis)
            };
            let found = elements
                .iter()
                .filter(|e| e["commentary"].as_str() == Some(sent.as_str()))
                .filter(|e| call::created_since(created(e), sent_at))
                .max_by_key(|e| e["createdAt"].as_i64())
                .and_then(|e| e["id"].as_str().map(str::to_string));
            if let Some(urn) = found {
                p.stage = "posted".into();
                p.post_urn = Some(urn.clone());
                return Ok(Checked::Found(Step::Done(published(urn, &p))));
            }
            let reached_before = elements
                .iter()
                .any(|e| !call::created_since(created(e), sent_at) && created(e).is_some());
            if reached_before || elements.len() < COUNT {
                return Ok(Checked::NotFound);
            }
        }
        Ok(Checked::CannotTell(format!(
            "the member posted more than {} pages of posts since the send",
            crate::CHECK_MAX_PAGES
        )))
    }

    /// `GET /rest/socialActions/{urn}`: `likesSummary.aggregatedTotalLikes` → likes,
    /// `commentsSummary.aggregatedTotalComments` → comments (no impressions for members).
    async fn metrics(
        &self,
        http: &PlatformHttp,
        target: &Target<'_>,
        published: &Published,
    ) -> Result<Metrics, PublishError> {
        let spec = target.spec;
        let enc: String =
            url::form_urlencoded::byte_serialize(published.post_id.as_bytes()).collect();
        let req = rest(
            http.request(
                Method::GET,
                &format!("{}/rest/socialActions/{enc}", call::api_base(spec)?),
            ),
            target,
        );
        let v = call::json(spec, call::send(http, spec, "social_actions", req).await?)?;
        Ok(Metrics {
            likes: call::count(&v, "/likesSummary/aggregatedTotalLikes")
                .or_else(|| call::count(&v, "/likesSummary/totalLikes")),
            comments: call::count(&v, "/commentsSummary/aggregatedTotalComments")
                .or_else(|| call::count(&v, "/commentsSummary/totalFirstLevelComments")),
            raw: v,
            ..Metrics::default()
        })
    }
}

fn published(urn: String, p: &LinkedInProgress) -> Published {
    Published {
        url: Some(format!("https://www.linkedin.com/feed/update/{urn}")),
        post_id: urn,
        progress: call::write_progress(p),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn little_format_escapes_every_reserved_character() {
        assert_eq!(
            escape_little(r"a\b|c{d}e@f[g]h(i)j<k>l#m*n_o~p"),
            r"a\\b\|c\{d\}e\@f\[g\]h\(i\)j\<k\>l\#m\*n\_o\~p"
        );
        assert_eq!(escape_little("plain text, ok."), "plain text, ok.");
    }
}
