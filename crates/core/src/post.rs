//! The post model: what a person asks Switchboard to publish, to which connections, and when.
//!
//! [`PostRequest`] is the JSON body of `POST /v1/posts` and of `POST /v1/posts/validate`. It is
//! deserialized strictly: unknown fields are rejected (the deserializer's error names the field),
//! `time_zone` must be an IANA name known to `chrono-tz`, and `publish_at` must be `"now"`, an
//! RFC 3339 instant, or a local date-time (`2026-12-01T09:30:00`) that needs a `time_zone`.
//! Per-platform content rules live in [`crate::post_rules`].

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, LocalResult, NaiveDateTime, TimeZone as _, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use utoipa::ToSchema;

use crate::post_rules::Violation;

/// Most connections one post may target (`connection_ids`): more is a 422 before any work. Fifty
/// covers a workspace's accounts on every platform several times over; each id is a database
/// row and a rule check, so the bound keeps one request's work small.
pub const MAX_CONNECTION_IDS: usize = 50;

/// Longest `scheduling_options.interval_hours`: one year (8760 h). A batch of at most
/// `MAX_BATCH_POSTS` posts then ends within a century, far inside the dates the store keeps.
pub const MAX_INTERVAL_HOURS: u32 = 8760;

/// Body of `POST /v1/posts` and `POST /v1/posts/validate`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PostRequest {
    /// What to publish, shared by every target, with per-platform overrides.
    pub content: PostContent,
    /// The workspace connections to publish to; each becomes one target (at most 50).
    #[schema(min_items = 1, max_items = 50)]
    pub connection_ids: Vec<String>,
    /// When to publish: `"now"` (the default when absent), an RFC 3339 instant, or a local
    /// date-time read in [`PostRequest::time_zone`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, example = "2026-12-01T09:30:00")]
    pub publish_at: Option<PublishAt>,
    /// IANA time zone (`Europe/Paris`) for a local `publish_at`; UTC when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, example = "Europe/Paris")]
    pub time_zone: Option<IanaTimeZone>,
    /// Groups posts of one campaign (free-form id chosen by the caller).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign_id: Option<String>,
    /// Spreads a batch of posts over time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduling_options: Option<SchedulingOptions>,
}

/// The content of a post.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PostContent {
    /// The shared text (caption, message, description, depending on the platform).
    #[serde(default)]
    pub text: String,
    /// Hashtags, with or without the leading `#`. Platforms that carry hashtags in the text get
    /// them appended as `#tag` (see [`crate::post_rules::ContentRules::hashtags_in_text`]).
    #[serde(default)]
    pub hashtags: Vec<String>,
    /// Media by public URL or by uploaded file (`media_id`), in display order.
    #[serde(default)]
    pub media: Vec<Media>,
    /// Per-platform replacements, keyed by platform id (`youtube`, `pinterest`...).
    #[serde(default)]
    pub overrides: BTreeMap<String, PlatformOverride>,
}

/// The kind of a media item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MediaKind {
    /// A still image (JPEG, PNG, WEBP...).
    Image,
    /// A video.
    Video,
    /// An animated GIF (X treats it apart from images).
    Gif,
}

impl MediaKind {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            MediaKind::Image => "image",
            MediaKind::Video => "video",
            MediaKind::Gif => "gif",
        }
    }
}

/// One media item: a file at a public `url`, or one uploaded with `POST /v1/media` named by
/// `media_id` (exactly one of the two in a request). What is not given is not checked (the
/// publisher checks the fetched file).
///
/// An uploaded file is resolved when the post is validated or created: `kind`, `mime_type` and
/// `size_bytes` become the upload's, and `url` its signed public URL
/// (`{public_url}/media/{id}/{token}`) for the platform rules. The stored content keeps
/// `media_id` without the URL; the dispatcher signs a fresh one right before publishing, so every
/// publisher reads `url` as for any other media.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(try_from = "MediaWire")]
pub struct Media {
    /// Public URL of the file (Instagram and TikTok photos are pulled from it by the platform).
    /// Give it, or `media_id`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[schema(required = false)]
    pub url: String,
    /// Id of a file uploaded with `POST /v1/media` in this workspace, instead of `url`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_id: Option<String>,
    /// Image, video or GIF. Required with `url`; with `media_id` the upload's kind is used.
    #[schema(required = false)]
    pub kind: MediaKind,
    /// MIME type (`image/jpeg`, `video/mp4`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
    /// File size in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_bytes: Option<u64>,
    /// Video duration in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_secs: Option<f64>,
    /// Width in pixels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    /// Height in pixels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    /// Text alternative for people using screen readers (Pinterest `alt_text`, X alt text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alt_text: Option<String>,
}

/// The wire form of [`Media`]: `kind` may be left out when `media_id` names an upload.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MediaWire {
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    media_id: Option<String>,
    #[serde(default)]
    kind: Option<MediaKind>,
    #[serde(default)]
    mime_type: Option<String>,
    #[serde(default)]
    size_bytes: Option<u64>,
    #[serde(default)]
    duration_secs: Option<f64>,
    #[serde(default)]
    width: Option<u32>,
    #[serde(default)]
    height: Option<u32>,
    #[serde(default)]
    alt_text: Option<String>,
}

impl TryFrom<MediaWire> for Media {
    type Error = String;

    fn try_from(w: MediaWire) -> Result<Self, Self::Error> {
        let url = w.url.unwrap_or_default();
        if url.is_empty() && w.media_id.is_none() {
            return Err(
                "give `url` (a public URL of the file) or `media_id` (a file uploaded with POST /v1/media)"
                    .into(),
            );
        }
        let kind = match (w.kind, &w.media_id) {
            (Some(k), _) => k,
            // Replaced by the upload's kind when the media id is resolved.
            (None, Some(_)) => MediaKind::Image,
            // Worded as serde's own, so the field is named `...kind`.
            (None, None) => return Err("missing field `kind`".into()),
        };
        Ok(Media {
            url,
            media_id: w.media_id,
            kind,
            mime_type: w.mime_type,
            size_bytes: w.size_bytes,
            duration_secs: w.duration_secs,
            width: w.width,
            height: w.height,
            alt_text: w.alt_text,
        })
    }
}

/// What one platform gets instead of (or beside) the shared content.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlatformOverride {
    /// Replaces the shared text on this platform.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Title (YouTube video, Pinterest pin, TikTok photo post).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Description (YouTube, Pinterest, TikTok photo post); the text when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Pinterest board id (a numeric string).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub board_id: Option<String>,
    /// TikTok `privacy_level`, chosen by the person for each post: **required** for a TikTok
    /// target (TikTok's audit forbids a default), one of the creator's `privacy_level_options`
    /// (`GET /v1/connections/{id}/tiktok/creator-info`), checked again at publish time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub privacy_level: Option<String>,
    /// TikTok: turn comments off for this post. Absent means off too: TikTok's audit wants the
    /// interaction settings off until the person turns them on, and a creator whose settings
    /// disable comments (`comment_disabled`) cannot turn them on
    /// (<https://developers.tiktok.com/doc/content-sharing-guidelines>).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_comment: Option<bool>,
    /// TikTok videos: turn Duet off (absent: off, as [`PlatformOverride::disable_comment`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_duet: Option<bool>,
    /// TikTok videos: turn Stitch off (absent: off, as [`PlatformOverride::disable_comment`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_stitch: Option<bool>,
    /// TikTok commercial content disclosure, "Branded content": a paid partnership promoting a
    /// third party (`brand_content_toggle`). Branded content cannot be private: refused with
    /// `privacy_level` `SELF_ONLY`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub brand_content_toggle: Option<bool>,
    /// TikTok commercial content disclosure, "Your brand": the creator promotes their own
    /// business (`brand_organic_toggle`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub brand_organic_toggle: Option<bool>,
    /// YouTube `privacyStatus`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub privacy_status: Option<String>,
    /// Destination link (Pinterest `link`, Facebook `link`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// YouTube tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    /// YouTube `selfDeclaredMadeForKids`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub made_for_kids: Option<bool>,
}

/// Spreads a batch of posts over time: the n-th post of the batch is due at
/// `start_time + n × interval_hours`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SchedulingOptions {
    /// Hours between two consecutive posts of the batch (1 to 8760, one year).
    #[schema(minimum = 1, maximum = 8760)]
    pub interval_hours: u32,
    /// When the first post is due, read like [`PostRequest::publish_at`].
    #[schema(value_type = String, example = "2026-12-01T09:00:00")]
    pub start_time: PublishAt,
    /// IANA time zone for a local `start_time`; UTC when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, example = "Europe/Paris")]
    pub time_zone: Option<IanaTimeZone>,
}

/// A `publish_at` value as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublishAt {
    /// `"now"`.
    Now,
    /// An RFC 3339 instant (`2026-12-01T09:30:00Z`, `2026-12-01T09:30:00+01:00`).
    Instant(DateTime<Utc>),
    /// A local date-time without offset (`2026-12-01T09:30:00`), meaningful only with a time zone.
    Local(NaiveDateTime),
}

impl FromStr for PublishAt {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("now") {
            return Ok(PublishAt::Now);
        }
        if let Ok(t) = DateTime::parse_from_rfc3339(s) {
            return Ok(PublishAt::Instant(t.with_timezone(&Utc)));
        }
        for fmt in [
            "%Y-%m-%dT%H:%M:%S%.f",
            "%Y-%m-%dT%H:%M",
            "%Y-%m-%d %H:%M:%S%.f",
            "%Y-%m-%d %H:%M",
        ] {
            if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
                return Ok(PublishAt::Local(t));
            }
        }
        Err(format!(
            "{s:?} is not \"now\", an RFC 3339 date-time (2026-12-01T09:30:00Z) or a local date-time (2026-12-01T09:30:00) with time_zone"
        ))
    }
}

impl fmt::Display for PublishAt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PublishAt::Now => f.write_str("now"),
            PublishAt::Instant(t) => f.write_str(&t.to_rfc3339()),
            PublishAt::Local(t) => write!(f, "{}", t.format("%Y-%m-%dT%H:%M:%S%.f")),
        }
    }
}

impl Serialize for PublishAt {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PublishAt {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl PublishAt {
    /// The instant this value names: `now` for [`PublishAt::Now`], a local date-time read in
    /// `zone`.
    ///
    /// # Errors
    /// A message when a local date-time comes without a zone, or does not exist in it (skipped by
    /// a daylight-saving change). An ambiguous local time (repeated by the change back) is the
    /// earlier of its two instants.
    pub fn resolve(
        &self,
        zone: Option<&IanaTimeZone>,
        now: DateTime<Utc>,
    ) -> Result<DateTime<Utc>, String> {
        match self {
            PublishAt::Now => Ok(now),
            PublishAt::Instant(t) => Ok(*t),
            PublishAt::Local(local) => {
                let Some(zone) = zone else {
                    return Err(format!(
                        "{self} has no UTC offset; give time_zone (an IANA name such as Europe/Paris) or an RFC 3339 offset"
                    ));
                };
                match zone.0.from_local_datetime(local) {
                    LocalResult::Single(t) => Ok(t.with_timezone(&Utc)),
                    LocalResult::Ambiguous(earlier, _) => Ok(earlier.with_timezone(&Utc)),
                    LocalResult::None => Err(format!(
                        "{self} does not exist in {} (skipped by a daylight-saving change)",
                        zone.0.name()
                    )),
                }
            }
        }
    }
}

/// An IANA time zone name known to the tz database (`chrono-tz`), such as `America/New_York`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IanaTimeZone(pub chrono_tz::Tz);

impl FromStr for IanaTimeZone {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse::<chrono_tz::Tz>().map(IanaTimeZone).map_err(|_| {
            format!("{s:?} is not an IANA time zone name (for example Europe/Paris or UTC)")
        })
    }
}

impl Serialize for IanaTimeZone {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0.name())
    }
}

impl<'de> Deserialize<'de> for IanaTimeZone {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl PostRequest {
    /// The instant the post is due: `publish_at` read in `time_zone` (`now` when absent).
    ///
    /// # Errors
    /// A [`Violation`] on `publish_at` (see [`PublishAt::resolve`]).
    pub fn due_at(&self, now: DateTime<Utc>) -> Result<DateTime<Utc>, Violation> {
        self.publish_at
            .unwrap_or(PublishAt::Now)
            .resolve(self.time_zone.as_ref(), now)
            .map_err(|m| Violation::new("publish_at", "invalid_time", m))
    }

    /// Checks of the request that do not depend on a target's platform: at least one connection,
    /// no connection twice, hashtags that are single words, a resolvable `publish_at`, sane
    /// `scheduling_options`. Every problem is listed.
    pub fn check_request(&self, now: DateTime<Utc>) -> Vec<Violation> {
        let mut out = Vec::new();
        if self.connection_ids.is_empty() {
            out.push(Violation::new(
                "connection_ids",
                "required",
                "give at least one connection id to publish to",
            ));
        }
        // One pass with a set: work proportional to the ids, never quadratic.
        let mut seen = std::collections::HashSet::with_capacity(self.connection_ids.len());
        for (i, id) in self.connection_ids.iter().enumerate() {
            if !seen.insert(id.as_str()) {
                out.push(Violation::new(
                    &format!("connection_ids[{i}]"),
                    "duplicate",
                    format!("connection {id} is listed more than once"),
                ));
            }
        }
        for (i, tag) in self.content.hashtags.iter().enumerate() {
            let bare = tag.trim().trim_start_matches('#');
            if bare.is_empty() || bare.contains(|c: char| c.is_whitespace() || c == '#') {
                out.push(Violation::new(
                    &format!("content.hashtags[{i}]"),
                    "invalid_value",
                    format!("{tag:?} is not a hashtag: one word, with or without the leading #"),
                ));
            }
        }
        if let Err(v) = self.due_at(now) {
            out.push(v);
        }
        if let Some(opts) = &self.scheduling_options {
            if opts.interval_hours == 0 {
                out.push(Violation::new(
                    "scheduling_options.interval_hours",
                    "too_small",
                    "interval_hours must be at least 1",
                ));
            }
            if opts.interval_hours > MAX_INTERVAL_HOURS {
                out.push(Violation::new(
                    "scheduling_options.interval_hours",
                    "too_large",
                    format!("interval_hours must be at most {MAX_INTERVAL_HOURS} (one year)"),
                ));
            }
            let zone = opts.time_zone.as_ref().or(self.time_zone.as_ref());
            if let Err(m) = opts.start_time.resolve(zone, now) {
                out.push(Violation::new(
                    "scheduling_options.start_time",
                    "invalid_time",
                    m,
                ));
            }
        }
        out
    }
}

#[cfg(test)]
mod media_tests {
    use super::*;

    fn media(v: serde_json::Value) -> Result<Media, String> {
        serde_json::from_value(v).map_err(|e| e.to_string())
    }

    #[test]
    fn media_by_url_needs_a_kind_and_media_by_upload_does_not() {
        let m =
            media(serde_json::json!({"url": "https://a.example/x.jpg", "kind": "image"})).unwrap();
        assert_eq!(m.media_id, None);
        let err = media(serde_json::json!({"url": "https://a.example/x.jpg"})).unwrap_err();
        assert!(err.contains("missing field `kind`"), "{err}");
        let m = media(serde_json::json!({"media_id": "0190"})).unwrap();
        assert_eq!(m.media_id.as_deref(), Some("0190"));
        assert_eq!(m.url, "");
        let err = media(serde_json::json!({"kind": "image"})).unwrap_err();
        assert!(err.contains("`media_id`"), "{err}");
        assert!(media(serde_json::json!({"media_id": "1", "colour": "red"})).is_err());
        // The stored form (resolved: both) reads back, and an empty url is not written.
        let stored = serde_json::json!({"url": "https://sb.example/media/1/t", "media_id": "1", "kind": "video"});
        let m = media(stored.clone()).unwrap();
        assert_eq!(serde_json::to_value(&m).unwrap(), stored);
        let unresolved = media(serde_json::json!({"media_id": "1"})).unwrap();
        assert!(serde_json::to_value(&unresolved)
            .unwrap()
            .get("url")
            .is_none());
    }
}
