//! YouTube video uploads through resumable sessions (PLATFORMS.md §6 "Publish").
//!
//! Steps:
//! 1. `POST {api}/upload/youtube/v3/videos?uploadType=resumable&part=snippet,status` with
//!    `X-Upload-Content-Length`, `X-Upload-Content-Type` and `{snippet:{title, description,
//!    tags, categoryId}, status:{privacyStatus, selfDeclaredMadeForKids}}` → the session URI in
//!    `Location`. The title is `content.overrides.youtube.title`; the description its
//!    `description`, else the post's text (override or shared text with hashtags); tags,
//!    `privacy_status` (default `public`) and `made_for_kids` (default false) from the override.
//!    Opening a session publishes nothing (an unused session expires), so a lost answer is a
//!    retryable failure.
//! 2. One `PUT {session}` per chunk with `Content-Range: bytes a-b/N`; chunks are
//!    [`YouTubePublisher::chunk_bytes`] long (a multiple of 256 KiB), the last takes the rest.
//!    Each step downloads the media again and sends its slice (nothing but offsets is kept).
//!    308 with `Range: bytes=0-k` → the next offset is k+1; the last chunk's 200/201 carries the
//!    video resource, whose `id` is the post id. A session completes into one video only, so
//!    chunk PUTs are repeatable.
//!    A session that expired (404/410 on a chunk) is replaced by a new one, from offset 0, at
//!    most [`MAX_SESSION_RESTARTS`] times.
//! 3. When YouTube disputes the offset of a chunk (400 after a lost answer or a resume), the
//!    same step asks `PUT {session}` with `Content-Range: bytes */N` and goes on from the
//!    offset it reports, or finishes if the video already exists.
//!
//! 4. The video resource's `status.privacyStatus` is compared with the privacy asked (read back
//!    with `GET {api}/youtube/v3/videos?part=status&id=` when the answer lacks it): an upload
//!    from an unaudited API project is locked private, and the target ends `published` with a
//!    warning diagnosis saying so ([`privacy_warning`], [`Published::warning`]).
//!
//! URL `https://www.youtube.com/watch?v={id}`. Metrics: `GET {api}/youtube/v3/videos?part=statistics&id=`.

use async_trait::async_trait;
use reqwest::Method;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use switchboard_core::post::MediaKind;
use switchboard_core::post_rules::platform_text;
use switchboard_core::{Category, PlatformSpec};
use switchboard_oauth::http::RawResponse;
use switchboard_oauth::PlatformHttp;

use crate::call::{self, refuse};
use crate::{Metrics, Progress, PublishError, Published, Publisher, Step, Target};

/// Chunks other than the last must be multiples of this many bytes (256 KiB).
pub const CHUNK_UNIT: u64 = 256 * 1024;
/// The chunk size of the registered publisher (8 MiB = 32 × 256 KiB).
pub const DEFAULT_CHUNK_BYTES: u64 = 32 * CHUNK_UNIT;
/// `snippet.categoryId` sent (22, "People & Blogs", YouTube's default).
const CATEGORY_ID: &str = "22";

/// The YouTube publisher; `chunk_bytes` is rounded down to a multiple of [`CHUNK_UNIT`] (at
/// least one unit).
#[derive(Debug, Clone, Copy)]
pub struct YouTubePublisher {
    /// Chunk size in bytes.
    pub chunk_bytes: u64,
}

impl YouTubePublisher {
    /// The publisher in the registry ([`DEFAULT_CHUNK_BYTES`] chunks).
    pub const STANDARD: YouTubePublisher = YouTubePublisher {
        chunk_bytes: DEFAULT_CHUNK_BYTES,
    };

    fn chunk(&self) -> u64 {
        (self.chunk_bytes / CHUNK_UNIT).max(1) * CHUNK_UNIT
    }
}

impl Default for YouTubePublisher {
    fn default() -> Self {
        Self::STANDARD
    }
}

/// Where a YouTube upload stands (the stored [`Progress`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct YouTubeProgress {
    /// The resumable session URI, once opened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_uri: Option<String>,
    /// File size in bytes.
    #[serde(default)]
    pub size: u64,
    /// Bytes YouTube has acknowledged (the next chunk starts here).
    #[serde(default)]
    pub offset: u64,
    /// How many times the offset was asked for (`bytes */N`).
    #[serde(default)]
    pub offset_queries: u32,
    /// How many times an expired session (404 on a chunk) made the upload start over with a
    /// new session; at most [`MAX_SESSION_RESTARTS`].
    #[serde(default)]
    pub session_restarts: u32,
    /// The `status.privacyStatus` asked for when the session was opened (`public`, `unlisted`,
    /// `private`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub privacy: Option<String>,
    /// When YouTube kept the video at another privacy than asked (an unaudited API project's
    /// uploads are locked private): the diagnosis, read by [`Published::warning`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warning: Option<switchboard_core::Diagnosis>,
}

/// Times an upload opens a new resumable session after its session expired (Google answers 404
/// for a session older than about a week) before the target fails.
pub const MAX_SESSION_RESTARTS: u32 = 2;

/// The next offset from a 308's `Range: bytes=0-k` (0 without one).
fn next_offset(resp: &RawResponse) -> u64 {
    resp.headers
        .get("range")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().strip_prefix("bytes=0-"))
        .and_then(|k| k.trim().parse::<u64>().ok())
        .map_or(0, |k| k + 1)
}

fn watch_url(id: &str) -> String {
    format!("https://www.youtube.com/watch?v={id}")
}

/// The upload's last answer (the video resource, `part=snippet,status`): published under its
/// `id`. Its `status.privacyStatus` is read back (from the answer, else `videos.list
/// ?part=status`): YouTube locks every upload of an unverified API project created after
/// 28 July 2020 as `private` whatever was asked
/// (<https://developers.google.com/youtube/v3/docs/videos/insert>), so a privacy other than
/// the one asked ends `published` with [`privacy_warning`] in the progress.
async fn done(
    http: &PlatformHttp,
    t: &Target<'_>,
    p: &mut YouTubeProgress,
    resp: RawResponse,
) -> Result<Step, PublishError> {
    let spec = t.spec;
    let v = call::json(spec, resp)?;
    let id = call::field(spec, &v, "/id")?;
    let actual = match v.pointer("/status/privacyStatus").and_then(Value::as_str) {
        Some(s) => Some(s.to_string()),
        None => read_privacy(http, t, &id).await,
    };
    if let (Some(asked), Some(actual)) = (&p.privacy, &actual) {
        if asked != actual {
            p.warning = Some(privacy_warning(spec, asked, actual));
        }
    }
    Ok(Step::Done(Published {
        url: Some(watch_url(&id)),
        post_id: id,
        progress: call::write_progress(&*p),
    }))
}

/// `GET {api}/youtube/v3/videos?part=status&id=`: the video's `status.privacyStatus`, or
/// `None` when it cannot be read (the video is published either way; this read only decides
/// whether to warn).
async fn read_privacy(http: &PlatformHttp, t: &Target<'_>, id: &str) -> Option<String> {
    let base = call::api_base(t.spec).ok()?;
    let req = http
        .request(Method::GET, &format!("{base}/youtube/v3/videos"))
        .query(&[("part", "status"), ("id", id)])
        .bearer_auth(t.access_token.expose_secret());
    let v = call::json(
        t.spec,
        call::send(http, t.spec, "video_status", req).await.ok()?,
    )
    .ok()?;
    v["items"]
        .as_array()?
        .iter()
        .find(|i| i["id"] == id)?
        .pointer("/status/privacyStatus")?
        .as_str()
        .map(str::to_string)
}

/// The warning of a video YouTube kept at `actual` privacy when `asked` was requested: the
/// API project has not passed YouTube's audit (uploads of unverified projects created after
/// 28 July 2020 are locked private until the project is audited).
pub fn privacy_warning(
    spec: &PlatformSpec,
    asked: &str,
    actual: &str,
) -> switchboard_core::Diagnosis {
    let mut d = switchboard_core::Diagnosis::new(Category::AppNotApproved);
    d.platform = Some(spec.id.clone());
    d.severity = switchboard_core::Severity::Warning;
    d.retryable = false;
    d.platform_code = Some("privacyStatus".into());
    d.platform_message = Some(format!("asked {asked}, YouTube set {actual}"));
    d.cause = format!(
        "The video was uploaded but YouTube made it {actual} instead of {asked}. YouTube locks \
         every upload from an unverified Google API project created after 28 July 2020 as \
         private until the project passes YouTube's API audit."
    );
    d.fix = vec![
        "Ask Google for an audit of the API project that owns this OAuth client (the YouTube \
         API Services audit and quota extension form, \
         https://support.google.com/youtube/contact/yt_api_form)."
            .into(),
        "Until the audit passes, change the video's visibility by hand in YouTube Studio; \
         uploads stay private."
            .into(),
    ];
    d.docs_url = Some("https://developers.google.com/youtube/v3/docs/videos/insert".into());
    d
}

impl YouTubePublisher {
    async fn open_session(
        &self,
        http: &PlatformHttp,
        t: &Target<'_>,
        p: &mut YouTubeProgress,
    ) -> Result<(), PublishError> {
        let spec = t.spec;
        let base = call::api_base(spec)?;
        let Some(video) = t.content.media.iter().find(|m| m.kind == MediaKind::Video) else {
            return Err(refuse(
                spec,
                Category::ContentRejected,
                "YouTube publishes videos only: add a video.",
            ));
        };
        let over = t.content.overrides.get("youtube");
        let title = over.and_then(|o| o.title.clone()).unwrap_or_default();
        let description = over
            .and_then(|o| o.description.clone())
            .unwrap_or_else(|| platform_text(&spec.id, &spec.content, t.content).text);
        let tags = over.and_then(|o| o.tags.clone()).unwrap_or_default();
        let privacy = over
            .and_then(|o| o.privacy_status.clone())
            .unwrap_or_else(|| "public".to_string());
        let kids = over.and_then(|o| o.made_for_kids).unwrap_or(false);
        let size = match video.size_bytes {
            Some(n) if n > 0 => n,
            _ => call::media_size(http, spec, t.local_media, &video.url).await?,
        };
        let content_type = video
            .mime_type
            .clone()
            .unwrap_or_else(|| "video/mp4".to_string());
        let body = json!({
            "snippet": {
                "title": title,
                "description": description,
                "tags": tags,
                "categoryId": CATEGORY_ID,
            },
            "status": { "privacyStatus": privacy, "selfDeclaredMadeForKids": kids },
        });
        let req = http
            .request(Method::POST, &format!("{base}/upload/youtube/v3/videos"))
            .query(&[("uploadType", "resumable"), ("part", "snippet,status")])
            .bearer_auth(t.access_token.expose_secret())
            .header("x-upload-content-length", size.to_string())
            .header("x-upload-content-type", content_type)
            .json(&body);
        let resp = call::ok(spec, call::send(http, spec, "upload_session", req).await?)?;
        let location = resp
            .headers
            .get("location")
            .and_then(|v| v.to_str().ok())
            .filter(|l| !l.is_empty())
            .ok_or_else(|| {
                refuse(
                    spec,
                    Category::Unknown,
                    "YouTube opened no upload session (no Location header).",
                )
            })?;
        p.session_uri = Some(location.to_string());
        p.size = size;
        p.offset = 0;
        p.privacy = Some(privacy);
        Ok(())
    }

    /// `PUT {session}` with `Content-Range: bytes */N`.
    async fn query_offset(
        &self,
        http: &PlatformHttp,
        t: &Target<'_>,
        session: &str,
        size: u64,
    ) -> Result<RawResponse, PublishError> {
        let req = http
            .request(Method::PUT, session)
            .bearer_auth(t.access_token.expose_secret())
            .header("content-range", format!("bytes */{size}"))
            .header("content-length", "0");
        call::send(http, t.spec, "upload_offset", req).await
    }
}

#[async_trait]
impl Publisher for YouTubePublisher {
    fn platform(&self) -> &'static str {
        "youtube"
    }

    async fn step(
        &self,
        http: &PlatformHttp,
        t: &Target<'_>,
        progress: &Progress,
    ) -> Result<Step, PublishError> {
        let spec = t.spec;
        let mut p: YouTubeProgress = call::read_progress(spec, progress)?;
        let Some(session) = p.session_uri.clone() else {
            self.open_session(http, t, &mut p).await?;
            return Ok(Step::Continue {
                progress: call::write_progress(&p),
                wait: None,
            });
        };
        let Some(video) = t.content.media.iter().find(|m| m.kind == MediaKind::Video) else {
            return Err(refuse(
                spec,
                Category::InvalidRequest,
                "The post has no video.",
            ));
        };
        let start = p.offset.min(p.size);
        let end = (start + self.chunk()).min(p.size);
        // Only this chunk is fetched (Range) or read from the downloaded file.
        let (chunk, total) =
            call::download_range(http, spec, t.local_media, &video.url, start, end).await?;
        if total != p.size {
            return Err(refuse(
                spec,
                Category::ContentRejected,
                format!(
                    "The video at its URL changed size ({total} bytes, {} announced to YouTube).",
                    p.size
                ),
            ));
        }
        let content_type = video
            .mime_type
            .clone()
            .unwrap_or_else(|| "video/mp4".to_string());
        let req = http
            .request(Method::PUT, &session)
            .bearer_auth(t.access_token.expose_secret())
            .header("content-type", content_type)
            .header(
                "content-range",
                format!("bytes {start}-{}/{}", end.saturating_sub(1), p.size),
            )
            .body(chunk);
        let resp = call::send(http, spec, "upload_chunk", req).await?;
        match resp.status.as_u16() {
            200 | 201 => done(http, t, &mut p, resp).await,
            404 | 410 if p.session_restarts < MAX_SESSION_RESTARTS => {
                // The session expired. An unfinished session never becomes a video, so opening
                // a new one cannot publish twice.
                p.session_restarts += 1;
                p.session_uri = None;
                p.offset = 0;
                p.offset_queries = 0;
                Ok(Step::Continue {
                    progress: call::write_progress(&p),
                    wait: None,
                })
            }
            308 => {
                p.offset = next_offset(&resp);
                Ok(Step::Continue {
                    progress: call::write_progress(&p),
                    wait: None,
                })
            }
            400 => {
                // The offset is disputed: ask where the session stands.
                let q = self.query_offset(http, t, &session, p.size).await?;
                p.offset_queries += 1;
                match q.status.as_u16() {
                    200 | 201 => done(http, t, &mut p, q).await,
                    308 => {
                        let offset = next_offset(&q);
                        if offset == start {
                            // YouTube agrees on the offset: the chunk itself was refused.
                            return Err(call::failed(call::diagnose(spec, &resp)));
                        }
                        p.offset = offset;
                        Ok(Step::Continue {
                            progress: call::write_progress(&p),
                            wait: None,
                        })
                    }
                    _ => Err(call::failed(call::diagnose(spec, &q))),
                }
            }
            _ => Err(call::failed(call::diagnose(spec, &resp))),
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
            .request(Method::GET, &format!("{base}/youtube/v3/videos"))
            .query(&[("part", "statistics"), ("id", published.post_id.as_str())])
            .bearer_auth(t.access_token.expose_secret());
        let v = call::json(spec, call::send(http, spec, "video_statistics", req).await?)?;
        let stats = v["items"]
            .as_array()
            .and_then(|a| a.iter().find(|i| i["id"] == published.post_id.as_str()))
            .map(|i| i["statistics"].clone())
            .unwrap_or(Value::Null);
        // Google returns the counts as decimal strings.
        let n = |k: &str| -> Option<u64> {
            match &stats[k] {
                Value::String(s) => s.parse().ok(),
                v => v.as_u64(),
            }
        };
        Ok(Metrics {
            impressions: None,
            engagements: None,
            likes: n("likeCount"),
            comments: n("commentCount"),
            shares: None,
            views: n("viewCount"),
            raw: v,
        })
    }
}
