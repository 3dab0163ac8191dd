//! TikTok direct posts through the Content Posting API (PLATFORMS.md §5).
//!
//! Steps:
//! 1. `POST /v2/post/publish/creator_info/query/` ([`query_creator_info`]): the privacy levels
//!    and interaction settings of this creator. The level is
//!    `content.overrides.tiktok.privacy_level`, chosen by the person: there is **no default**
//!    (TikTok's audit forbids one, <https://developers.tiktok.com/doc/content-sharing-guidelines>),
//!    so a post without one fails here, as does a level not among `privacy_level_options`
//!    (`account_not_eligible`, naming the options) and a video longer than
//!    `max_video_post_duration_sec` (when the post gives its duration).
//! 2. The init call, which is the one that may make something public (sent once). `post_info`
//!    carries the person's choices: `disable_comment` / `disable_duet` / `disable_stitch`
//!    (absent: disabled, and always disabled where the creator's settings disable them) and the
//!    commercial content disclosure `brand_content_toggle` / `brand_organic_toggle`.
//!    - photos: `POST /v2/post/publish/content/init/` (`media_type=PHOTO`, `DIRECT_POST`,
//!      `PULL_FROM_URL`; photos are pull-only, from verified domains: post validation refuses
//!      others);
//!    - a video whose URL is on a domain the operator verified for the app
//!      (`[platforms.tiktok] verified_domains`, see [`pull_allowed`]):
//!      `POST /v2/post/publish/video/init/` with `PULL_FROM_URL`. TikTok pulls only from
//!      verified domains or URL prefixes and answers `url_ownership_unverified` otherwise
//!      (<https://developers.tiktok.com/doc/content-posting-api-media-transfer-guide>);
//!    - any other video (the default): `video/init/` with `FILE_UPLOAD` and the chunk plan of
//!      [`chunk_plan`].
//! 3. `FILE_UPLOAD` only: one `PUT upload_url` per chunk with `Content-Range: bytes a-b/total`
//!    (chunks in order; each step downloads the media again and sends its slice, nothing but
//!    offsets is kept in the progress). A chunk TikTok says is out of order (416, e.g. after a
//!    lost answer) makes the step read `uploaded_bytes` from the status and go on from there.
//!    An expired `upload_url` (403, after an hour) starts the upload over with a new init, at
//!    most [`MAX_UPLOAD_RESTARTS`] times (the abandoned `publish_id` publishes nothing).
//! 4. `POST /v2/post/publish/status/fetch/` until `PUBLISH_COMPLETE` (post id from
//!    `publicaly_available_post_id`, sic) or `FAILED` (`fail_reason`). A completed publish
//!    without a public post id is reported under its `publish_id` (no URL, no metrics).
//!
//! The pull inits (photos, `PULL_FROM_URL` video) are non-repeatable creates
//! ([`Publisher::next_is_create`]): TikTok publishes from them alone. A `FILE_UPLOAD` init is
//! not: it publishes nothing until its chunks arrive, and a lost one is simply opened again.
//! Whether a pull whose `publish_id` never arrived was published is looked up in the creator's
//! posts, `POST /v2/video/list/` (`video.list`, newest first): the post with the title (and for
//! photos the description) sent, published since the call. One still processing is not listed
//! yet, so it is not found (the target stays `unknown`).
//!
//! The URL is `https://www.tiktok.com/@{creator_username}/video/{post id}`. Metrics come from
//! `POST /v2/video/query/` (scope `video.list`).

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use reqwest::Method;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use switchboard_core::post::MediaKind;
use switchboard_core::post_rules::platform_text;
use switchboard_core::{Category, Diagnosis, PlatformSpec};
use switchboard_oauth::PlatformHttp;

use crate::call::{self, refuse};
use crate::{Checked, Metrics, Progress, PublishError, Published, Publisher, Step, Target};

const MIB: u64 = 1024 * 1024;
/// Smallest chunk; a video under this size is sent whole as one chunk (PLATFORMS.md §5:
/// 5–64 MB chunks; the sandbox and TikTok's media transfer guide count in MiB).
pub const MIN_CHUNK_BYTES: u64 = 5 * MIB;
/// Largest chunk but the last.
pub const MAX_CHUNK_BYTES: u64 = 64 * MIB;
/// The chunk size of the registered publisher (10 MiB).
pub const DEFAULT_CHUNK_BYTES: u64 = 10 * MIB;
/// Wait between status polls (seconds).
const POLL_SECS: u64 = 5;

/// The TikTok publisher; `chunk_bytes` is the `FILE_UPLOAD` chunk size (clamped to
/// [`MIN_CHUNK_BYTES`]..=[`MAX_CHUNK_BYTES`]).
#[derive(Debug, Clone, Copy)]
pub struct TikTokPublisher {
    /// Chunk size in bytes.
    pub chunk_bytes: u64,
}

impl TikTokPublisher {
    /// The publisher in the registry ([`DEFAULT_CHUNK_BYTES`] chunks).
    pub const STANDARD: TikTokPublisher = TikTokPublisher {
        chunk_bytes: DEFAULT_CHUNK_BYTES,
    };
}

impl Default for TikTokPublisher {
    fn default() -> Self {
        Self::STANDARD
    }
}

/// How the media reaches TikTok.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// `FILE_UPLOAD`: Switchboard PUTs the chunks.
    File,
    /// `PULL_FROM_URL` video: TikTok downloads it.
    PullVideo,
    /// `PULL_FROM_URL` photos.
    Photos,
}

/// Where a TikTok publication stands (the stored [`Progress`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TikTokProgress {
    /// The privacy level checked against `creator_info` (set by step 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub privacy_level: Option<String>,
    /// The creator's username, for the post URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creator_username: Option<String>,
    /// The creator's settings turn comments off (`comment_disabled` of creator_info): the post
    /// is sent with `disable_comment: true` whatever it asked.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub comment_disabled: bool,
    /// The creator's settings turn Duet off (`duet_disabled`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub duet_disabled: bool,
    /// The creator's settings turn Stitch off (`stitch_disabled`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stitch_disabled: bool,
    /// The source chosen at init.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Source>,
    /// TikTok's `publish_id`, once init answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publish_id: Option<String>,
    /// The upload URL of a `FILE_UPLOAD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload_url: Option<String>,
    /// Video size in bytes (`FILE_UPLOAD`).
    #[serde(default)]
    pub video_size: u64,
    /// Chunk size in bytes (`FILE_UPLOAD`).
    #[serde(default)]
    pub chunk_size: u64,
    /// Number of chunks (`FILE_UPLOAD`).
    #[serde(default)]
    pub chunks: u64,
    /// Chunks TikTok acknowledged (206/201).
    #[serde(default)]
    pub chunks_sent: u64,
    /// How many times an expired `upload_url` (403) made the upload start over with a new
    /// init; at most [`MAX_UPLOAD_RESTARTS`].
    #[serde(default)]
    pub upload_restarts: u32,
}

/// Times a `FILE_UPLOAD` starts over after its `upload_url` expired (TikTok answers 403 once
/// the URL is an hour old) before the target fails.
pub const MAX_UPLOAD_RESTARTS: u32 = 2;

/// The chunk plan TikTok accepts for a video of `size` bytes with a preferred chunk size:
/// `(chunk_size, total_chunk_count)`. Under [`MIN_CHUNK_BYTES`] the video is one chunk of its
/// own size; otherwise the chunk is `preferred` clamped to 5–64 MiB (and to the size), the
/// count is `size / chunk` rounded down and the last chunk takes the remainder (below
/// 2 × 64 MiB, within TikTok's 128 MB for the last chunk).
pub fn chunk_plan(size: u64, preferred: u64) -> (u64, u64) {
    if size < MIN_CHUNK_BYTES {
        return (size, 1);
    }
    let chunk = preferred.clamp(MIN_CHUNK_BYTES, MAX_CHUNK_BYTES).min(size);
    (chunk, size / chunk)
}

/// Whether TikTok may pull `url` itself (`PULL_FROM_URL`): only from a domain or URL prefix
/// the operator verified for the app and listed in `[platforms.tiktok] verified_domains`
/// ([`PlatformSpec::pull_verified`]: `https` only, domain names only). TikTok refuses any other
/// URL with `url_ownership_unverified`, so other videos are uploaded (`FILE_UPLOAD`).
pub fn pull_allowed(spec: &PlatformSpec, url: &str) -> bool {
    spec.pull_verified(url)
}

/// What TikTok says a creator may do (`POST /v2/post/publish/creator_info/query/`, scope
/// `video.publish`), shown to the person before a post and checked at publish time
/// (<https://developers.tiktok.com/doc/content-posting-api-reference-query-creator-info>).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CreatorInfo {
    /// Avatar image URL.
    #[serde(default)]
    pub creator_avatar_url: Option<String>,
    /// The creator's @handle.
    #[serde(default)]
    pub creator_username: Option<String>,
    /// The creator's nickname, which TikTok's posting rules require shown before posting.
    #[serde(default)]
    pub creator_nickname: Option<String>,
    /// The privacy levels this creator may post with now (a private account is not offered
    /// `PUBLIC_TO_EVERYONE`; an unaudited app only `SELF_ONLY`).
    #[serde(default)]
    pub privacy_level_options: Vec<String>,
    /// Comments are off in the creator's settings: the option must be shown disabled.
    #[serde(default)]
    pub comment_disabled: bool,
    /// Duet is off in the creator's settings.
    #[serde(default)]
    pub duet_disabled: bool,
    /// Stitch is off in the creator's settings.
    #[serde(default)]
    pub stitch_disabled: bool,
    /// Longest video this creator may post, seconds.
    #[serde(default)]
    pub max_video_post_duration_sec: Option<u64>,
}

/// Reads the creator info of the account behind `access_token`.
///
/// # Errors
/// [`PublishError::Failed`] with TikTok's diagnosis (`access_token_invalid`,
/// `scope_not_authorized`, `spam_risk_user_banned_from_posting`...).
pub async fn query_creator_info(
    http: &PlatformHttp,
    spec: &PlatformSpec,
    access_token: &str,
) -> Result<CreatorInfo, PublishError> {
    let base = call::api_base(spec)?;
    let req = api_post(
        http,
        base,
        "/v2/post/publish/creator_info/query/",
        access_token,
        &json!({}),
    );
    let d = data(spec, call::send(http, spec, "creator_info", req).await?)?;
    serde_json::from_value(d).map_err(|e| {
        refuse(
            spec,
            Category::Unknown,
            format!("TikTok's creator info has an unexpected shape: {e}"),
        )
    })
}

/// The `data` of a TikTok answer, or the diagnosed error (TikTok also reports errors with a
/// 200 and a non-`ok` `error.code`).
fn data(
    spec: &PlatformSpec,
    resp: switchboard_oauth::http::RawResponse,
) -> Result<Value, PublishError> {
    let status = resp.status.as_u16();
    let text = resp.text();
    let v = call::json(spec, resp)?;
    match v.pointer("/error/code").and_then(Value::as_str) {
        None | Some("ok") => Ok(v["data"].clone()),
        Some(_) => Err(call::failed(switchboard_core::diagnosis::diagnose_call(
            &spec.id,
            switchboard_core::diagnosis::CallKind::Api,
            Some(status),
            &text,
        ))),
    }
}

fn api_post(
    http: &PlatformHttp,
    base: &str,
    path: &str,
    token: &str,
    body: &Value,
) -> reqwest::RequestBuilder {
    http.request(Method::POST, &format!("{base}{path}"))
        .bearer_auth(token)
        .json(body)
}

fn post_url(p: &TikTokProgress, post_id: &str) -> Option<String> {
    p.creator_username
        .as_deref()
        .filter(|u| !u.is_empty())
        .map(|u| format!("https://www.tiktok.com/@{u}/video/{post_id}"))
}

impl TikTokPublisher {
    async fn creator_info(
        &self,
        http: &PlatformHttp,
        t: &Target<'_>,
        p: &mut TikTokProgress,
    ) -> Result<(), PublishError> {
        let spec = t.spec;
        let over = t.content.overrides.get("tiktok");
        // No default: the person chooses (TikTok content sharing guidelines).
        let Some(wanted) = over.and_then(|o| o.privacy_level.clone()) else {
            let mut diag = Diagnosis::new(Category::InvalidRequest);
            diag.platform = Some(spec.id.clone());
            diag.cause = "The post names no TikTok privacy level, and TikTok forbids choosing one \
                          for the person."
                .to_string();
            diag.fix = vec![
                "Set content.overrides.tiktok.privacy_level to one of the account's \
                 privacy_level_options (GET /v1/connections/{id}/tiktok/creator-info)."
                    .to_string(),
            ];
            return Err(call::failed(diag));
        };
        let info = query_creator_info(http, spec, t.access_token.expose_secret()).await?;
        let options = &info.privacy_level_options;
        if !options.contains(&wanted) {
            let mut diag = Diagnosis::new(Category::AccountNotEligible);
            diag.platform = Some(spec.id.clone());
            diag.platform_code = Some("privacy_level_option_mismatch".to_string());
            diag.cause = format!(
                "This TikTok account cannot post with privacy level {wanted}: it offers {}.",
                if options.is_empty() {
                    "none".to_string()
                } else {
                    options.join(", ")
                }
            );
            diag.fix = vec![format!(
                "Set content.overrides.tiktok.privacy_level to one of: {}.",
                options.join(", ")
            )];
            return Err(call::failed(diag));
        }
        let longest = t
            .content
            .media
            .iter()
            .filter(|m| m.kind == MediaKind::Video)
            .filter_map(|m| m.duration_secs)
            .fold(0.0_f64, f64::max);
        if let Some(max) = info.max_video_post_duration_sec {
            if longest > max as f64 {
                return Err(refuse(
                    spec,
                    Category::ContentRejected,
                    format!(
                        "The video lasts {longest} s and this TikTok account may post videos of \
                         at most {max} s (max_video_post_duration_sec)."
                    ),
                ));
            }
        }
        p.privacy_level = Some(wanted);
        p.creator_username = info.creator_username;
        p.comment_disabled = info.comment_disabled;
        p.duet_disabled = info.duet_disabled;
        p.stitch_disabled = info.stitch_disabled;
        Ok(())
    }

    /// The init call (sent once).
    async fn init(
        &self,
        http: &PlatformHttp,
        t: &Target<'_>,
        p: &mut TikTokProgress,
    ) -> Result<(), PublishError> {
        let spec = t.spec;
        let base = call::api_base(spec)?;
        let token = t.access_token.expose_secret();
        let media = &t.content.media;
        let privacy = p.privacy_level.clone().unwrap_or_default();
        let text = platform_text(&spec.id, &spec.content, t.content).text;
        let over = t.content.overrides.get("tiktok");
        let video = media.iter().find(|m| m.kind == MediaKind::Video);
        // Interactions stay off unless the person turned them on and the creator allows them.
        let disabled = |asked: Option<bool>, creator_off: bool| creator_off || asked != Some(false);
        let disable_comment = disabled(over.and_then(|o| o.disable_comment), p.comment_disabled);
        let brand_content = over.and_then(|o| o.brand_content_toggle).unwrap_or(false);
        let brand_organic = over.and_then(|o| o.brand_organic_toggle).unwrap_or(false);
        let (path, body, source) = if let Some(v) = video {
            let post_info = json!({
                "title": text,
                "privacy_level": privacy,
                "disable_comment": disable_comment,
                "disable_duet": disabled(over.and_then(|o| o.disable_duet), p.duet_disabled),
                "disable_stitch": disabled(over.and_then(|o| o.disable_stitch), p.stitch_disabled),
                "brand_content_toggle": brand_content,
                "brand_organic_toggle": brand_organic,
            });
            if pull_allowed(spec, &v.url) {
                let body = json!({
                    "post_info": post_info,
                    "source_info": { "source": "PULL_FROM_URL", "video_url": v.url },
                });
                ("/v2/post/publish/video/init/", body, Source::PullVideo)
            } else {
                let size = match v.size_bytes {
                    Some(n) if n > 0 => n,
                    _ => call::media_size(http, spec, t.local_media, &v.url).await?,
                };
                let (chunk, chunks) = chunk_plan(size, self.chunk_bytes);
                p.video_size = size;
                p.chunk_size = chunk;
                p.chunks = chunks;
                let body = json!({
                    "post_info": post_info,
                    "source_info": {
                        "source": "FILE_UPLOAD",
                        "video_size": size,
                        "chunk_size": chunk,
                        "total_chunk_count": chunks,
                    },
                });
                ("/v2/post/publish/video/init/", body, Source::File)
            }
        } else {
            let images: Vec<&str> = media.iter().map(|m| m.url.as_str()).collect();
            if images.is_empty() {
                return Err(refuse(
                    spec,
                    Category::ContentRejected,
                    "TikTok has no text-only posts: add a video or photos.",
                ));
            }
            let title = over.and_then(|o| o.title.clone()).unwrap_or_default();
            let description = over.and_then(|o| o.description.clone()).unwrap_or(text);
            let body = json!({
                "media_type": "PHOTO",
                "post_mode": "DIRECT_POST",
                "post_info": {
                    "title": title,
                    "description": description,
                    "privacy_level": privacy,
                    "disable_comment": disable_comment,
                    "brand_content_toggle": brand_content,
                    "brand_organic_toggle": brand_organic,
                },
                "source_info": {
                    "source": "PULL_FROM_URL",
                    "photo_images": images,
                    "photo_cover_index": 0,
                },
            });
            ("/v2/post/publish/content/init/", body, Source::Photos)
        };
        let req = api_post(http, base, path, token, &body);
        let resp = match call::send_once(http, spec, "publish_init", req).await {
            // An upload init that got no answer published nothing: no bytes were sent.
            Err(PublishError::Unknown(d)) if source == Source::File => {
                let mut d = *d;
                d.retryable = true;
                return Err(call::failed(d));
            }
            other => other?,
        };
        let d = data(spec, resp)?;
        p.publish_id = Some(call::field(spec, &d, "/publish_id")?);
        p.upload_url = d["upload_url"].as_str().map(str::to_string);
        p.source = Some(source);
        Ok(())
    }

    async fn status(
        &self,
        http: &PlatformHttp,
        t: &Target<'_>,
        publish_id: &str,
    ) -> Result<Value, PublishError> {
        let spec = t.spec;
        let base = call::api_base(spec)?;
        let req = api_post(
            http,
            base,
            "/v2/post/publish/status/fetch/",
            t.access_token.expose_secret(),
            &json!({ "publish_id": publish_id }),
        );
        data(spec, call::send(http, spec, "status_fetch", req).await?)
    }

    /// Sends the next chunk.
    async fn put_chunk(
        &self,
        http: &PlatformHttp,
        t: &Target<'_>,
        p: &mut TikTokProgress,
        publish_id: &str,
    ) -> Result<(), PublishError> {
        let spec = t.spec;
        let Some(upload_url) = p.upload_url.clone() else {
            return Err(refuse(
                spec,
                Category::Unknown,
                "TikTok gave no upload_url for the FILE_UPLOAD.",
            ));
        };
        let Some(video) = t.content.media.iter().find(|m| m.kind == MediaKind::Video) else {
            return Err(refuse(
                spec,
                Category::InvalidRequest,
                "The post has no video.",
            ));
        };
        let start = p.chunks_sent * p.chunk_size;
        let end = if p.chunks_sent + 1 == p.chunks {
            p.video_size
        } else {
            start + p.chunk_size
        };
        // Only this chunk is fetched (Range) or read from the downloaded file.
        let (chunk, total) =
            call::download_range(http, spec, t.local_media, &video.url, start, end).await?;
        if total != p.video_size {
            return Err(refuse(
                spec,
                Category::ContentRejected,
                format!(
                    "The video at its URL changed size ({total} bytes, {} announced to TikTok).",
                    p.video_size
                ),
            ));
        }
        let content_type = video
            .mime_type
            .clone()
            .unwrap_or_else(|| "video/mp4".to_string());
        let req = http
            .request(Method::PUT, &upload_url)
            .header("content-type", content_type)
            .header(
                "content-range",
                format!("bytes {start}-{}/{}", end - 1, p.video_size),
            )
            .body(chunk);
        let resp = call::send(http, spec, "upload_chunk", req).await?;
        if resp.status.as_u16() == 403 && p.upload_restarts < MAX_UPLOAD_RESTARTS {
            // The upload URL expired. A FILE_UPLOAD publishes nothing until all its chunks
            // arrive, so the abandoned one never goes public: start over with a new init.
            p.upload_restarts += 1;
            p.publish_id = None;
            p.upload_url = None;
            p.source = None;
            p.chunks_sent = 0;
            return Ok(());
        }
        if resp.status.as_u16() == 416 {
            // Not the chunk TikTok expects (a previous answer was lost): ask how far it got.
            let s = self.status(http, t, publish_id).await?;
            let uploaded = call::count(&s, "/uploaded_bytes").unwrap_or(0);
            p.chunks_sent = if uploaded >= p.video_size {
                p.chunks
            } else {
                uploaded / p.chunk_size.max(1)
            };
            return Ok(());
        }
        call::ok(spec, resp)?;
        p.chunks_sent += 1;
        Ok(())
    }
}

#[async_trait]
impl Publisher for TikTokPublisher {
    fn platform(&self) -> &'static str {
        "tiktok"
    }

    async fn step(
        &self,
        http: &PlatformHttp,
        t: &Target<'_>,
        progress: &Progress,
    ) -> Result<Step, PublishError> {
        let spec = t.spec;
        let mut p: TikTokProgress = call::read_progress(spec, progress)?;
        let cont = |p: &TikTokProgress, wait: Option<Duration>| Step::Continue {
            progress: call::write_progress(p),
            wait,
        };
        if p.privacy_level.is_none() {
            self.creator_info(http, t, &mut p).await?;
            return Ok(cont(&p, None));
        }
        let Some(publish_id) = p.publish_id.clone() else {
            self.init(http, t, &mut p).await?;
            let wait = (p.source != Some(Source::File)).then(|| Duration::from_secs(POLL_SECS));
            return Ok(cont(&p, wait));
        };
        if p.source == Some(Source::File) && p.chunks_sent < p.chunks {
            self.put_chunk(http, t, &mut p, &publish_id).await?;
            let wait = (p.publish_id.is_some() && p.chunks_sent == p.chunks)
                .then(|| Duration::from_secs(POLL_SECS));
            return Ok(cont(&p, wait));
        }
        let s = self.status(http, t, &publish_id).await?;
        match s["status"].as_str().unwrap_or_default() {
            "PUBLISH_COMPLETE" | "SEND_TO_USER_INBOX" => {
                let post_id = s["publicaly_available_post_id"]
                    .as_array()
                    .and_then(|a| a.first())
                    .and_then(|v| {
                        v.as_str()
                            .map(str::to_string)
                            .or_else(|| v.as_u64().map(|n| n.to_string()))
                    });
                let url = post_id.as_deref().and_then(|id| post_url(&p, id));
                Ok(Step::Done(Published {
                    post_id: post_id.unwrap_or(publish_id),
                    url,
                    progress: call::write_progress(&p),
                }))
            }
            "FAILED" => {
                let reason = s["fail_reason"].as_str().unwrap_or("unknown").to_string();
                let mut d = Diagnosis::new(Category::ContentRejected);
                d.platform = Some(spec.id.clone());
                d.cause = format!("TikTok could not publish the media ({reason}).");
                d.platform_code = Some(reason);
                Err(call::failed(d))
            }
            _ => Ok(cont(&p, Some(Duration::from_secs(POLL_SECS)))),
        }
    }

    /// The next step is a pull init (photos, or a video TikTok can fetch).
    fn next_is_create(&self, t: &Target<'_>, progress: &Progress) -> bool {
        let Ok(p) = call::read_progress::<TikTokProgress>(t.spec, progress) else {
            return false;
        };
        if p.privacy_level.is_none() || p.publish_id.is_some() {
            return false;
        }
        match t.content.media.iter().find(|m| m.kind == MediaKind::Video) {
            Some(v) => pull_allowed(t.spec, &v.url),
            None => !t.content.media.is_empty(),
        }
    }

    /// Looks in the creator's posts (`POST /v2/video/list/`, 20 per page, newest first, paged
    /// with `cursor` while `has_more`, at most [`crate::CHECK_MAX_PAGES`] pages) for the newest
    /// with the title sent (and, for photos, the description), published since `sent_at` minus
    /// the skew → done under its id; a page reaching an older post, or the last page, without it
    /// → `NotFound`; the page cap reached → `CannotTell`.
    async fn check(
        &self,
        http: &PlatformHttp,
        t: &Target<'_>,
        progress: &Progress,
        sent_at: DateTime<Utc>,
    ) -> Result<Checked, PublishError> {
        let spec = t.spec;
        let p: TikTokProgress = call::read_progress(spec, progress)?;
        if p.publish_id.is_some() {
            // The init's answer was stored: the status says where it stands.
            return Ok(Checked::Found(Step::Continue {
                progress: progress.clone(),
                wait: None,
            }));
        }
        let text = platform_text(&spec.id, &spec.content, t.content).text;
        let over = t.content.overrides.get("tiktok");
        let photos = !t.content.media.iter().any(|m| m.kind == MediaKind::Video);
        let (title, description) = if photos {
            (
                over.and_then(|o| o.title.clone()).unwrap_or_default(),
                Some(over.and_then(|o| o.description.clone()).unwrap_or(text)),
            )
        } else {
            (text, None)
        };
        let base = call::api_base(spec)?;
        let created = |v: &Value| {
            v["create_time"]
                .as_i64()
                .and_then(|s| DateTime::<Utc>::from_timestamp(s, 0))
        };
        let mut cursor: Option<i64> = None;
        for _ in 0..crate::CHECK_MAX_PAGES {
            let mut body = json!({ "max_count": 20 });
            if let Some(c) = cursor {
                body["cursor"] = Value::from(c);
            }
            let req = http
                .request(Method::POST, &format!("{base}/v2/video/list/"))
                .query(&[("fields", "id,title,video_description,create_time")])
                .bearer_auth(t.access_token.expose_secret())
                .json(&body);
            let d = data(spec, call::send(http, spec, "video_list", req).await?)
                .map_err(call::cannot_look)?;
            let videos = d["videos"].as_array().cloned().unwrap_or_default();
            let found = videos
                .iter()
                .filter(|v| v["title"].as_str().unwrap_or_default() == title)
                .filter(|v| {
                    description.as_deref().is_none_or(|want| {
                        v["video_description"].as_str().unwrap_or_default() == want
                    })
                })
                .filter(|v| call::created_since(created(v), sent_at))
                .max_by_key(|v| created(v))
                .and_then(|v| {
                    v["id"]
                        .as_str()
                        .map(str::to_string)
                        .or_else(|| v["id"].as_u64().map(|n| n.to_string()))
                });
            if let Some(id) = found {
                return Ok(Checked::Found(Step::Done(Published {
                    url: post_url(&p, &id),
                    post_id: id,
                    progress: call::write_progress(&p),
                })));
            }
            let reached_before = videos.iter().any(|v| {
                let c = created(v);
                c.is_some() && !call::created_since(c, sent_at)
            });
            if reached_before || !d["has_more"].as_bool().unwrap_or(false) {
                return Ok(Checked::NotFound);
            }
            match d["cursor"].as_i64() {
                Some(c) if cursor != Some(c) => cursor = Some(c),
                _ => {
                    return Ok(Checked::CannotTell(
                        "TikTok said there are more posts but gave no new cursor".into(),
                    ))
                }
            }
        }
        Ok(Checked::CannotTell(format!(
            "the creator published more than {} pages of posts since the send",
            crate::CHECK_MAX_PAGES
        )))
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
            .request(Method::POST, &format!("{base}/v2/video/query/"))
            .query(&[(
                "fields",
                "id,view_count,like_count,comment_count,share_count",
            )])
            .bearer_auth(t.access_token.expose_secret())
            .json(&json!({ "filters": { "video_ids": [published.post_id] } }));
        let d = data(spec, call::send(http, spec, "video_query", req).await?)?;
        let video = d["videos"]
            .as_array()
            .and_then(|a| a.iter().find(|v| v["id"] == published.post_id.as_str()))
            .cloned()
            .unwrap_or(Value::Null);
        Ok(Metrics {
            impressions: None,
            engagements: None,
            likes: call::count(&video, "/like_count"),
            comments: call::count(&video, "/comment_count"),
            shares: call::count(&video, "/share_count"),
            views: call::count(&video, "/view_count"),
            raw: d,
        })
    }
}
