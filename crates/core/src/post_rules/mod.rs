//! Per-platform content rules: what each platform accepts in a post, checked before anything is
//! stored, with every violation listed at once.
//!
//! The limits are data, in each catalog file's `[content]` table ([`ContentRules`], facts from
//! `shared/PLATFORMS.md`); the logic is here: [`validate`] runs the checks every platform shares
//! (text length in the platform's unit, media counts, kinds, types, sizes and durations) and then
//! the platform's own module for what only it has (one module per platform that has any:
//! [`twitter`], [`instagram`], [`tiktok`], [`youtube`], [`pinterest`]; LinkedIn and Facebook only
//! have data). Custom OAuth 2.0 providers have an empty `[content]`, so only the shared checks
//! that need no limit apply.
//!
//! The verdict types ([`Violation`], [`TargetVerdict`], [`Verdict`]) are the answer of
//! `POST /v1/posts/validate` and the `targets` of the 422 problem of `POST /v1/posts`.

pub mod instagram;
pub mod pinterest;
pub mod tiktok;
pub mod twitter;
pub mod twitter_text;
pub mod youtube;

use serde::{Deserialize, Serialize};

use crate::catalog::PlatformSpec;
use crate::post::{MediaKind, PostContent};

/// How a platform counts the length of a text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TextUnit {
    /// Unicode scalar values (what most platforms call "characters").
    #[default]
    Chars,
    /// UTF-16 code units (TikTok captions).
    Utf16,
    /// UTF-8 bytes (YouTube descriptions).
    Bytes,
    /// X's weighted length per twitter-text configuration v3 (see [`twitter::weighted_length`]).
    TwitterWeighted,
}

impl TextUnit {
    /// The length of `s` in this unit.
    pub fn measure(self, s: &str) -> u64 {
        let n = match self {
            TextUnit::Chars => s.chars().count(),
            TextUnit::Utf16 => s.encode_utf16().count(),
            TextUnit::Bytes => s.len(),
            TextUnit::TwitterWeighted => twitter::weighted_length(s),
        };
        n as u64
    }

    /// The unit's name in messages (`characters`, `UTF-16 code units`, `bytes`...).
    pub fn noun(self) -> &'static str {
        match self {
            TextUnit::Chars => "characters",
            TextUnit::Utf16 => "UTF-16 code units",
            TextUnit::Bytes => "bytes",
            TextUnit::TwitterWeighted => "weighted characters",
        }
    }
}

/// A platform's content limits: the `[content]` table of its catalog file. Every field is
/// optional; an absent limit is not checked. Sizes are bytes, durations seconds, lengths in the
/// unit named beside them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ContentRules {
    /// Maximum length of the post text (caption, message), in [`ContentRules::text_unit`].
    pub text_max: Option<u64>,
    /// How the text length is counted.
    pub text_unit: TextUnit,
    /// True when the platform carries hashtags in the text: they are appended as `#tag` and
    /// count in its length.
    pub hashtags_in_text: bool,
    /// Maximum number of `#hashtags` in the text.
    pub max_hashtags: Option<u64>,
    /// Maximum number of `@mentions` in the text.
    pub max_mentions: Option<u64>,
    /// True when a post without media is refused (no text-only posts).
    pub media_required: bool,
    /// Maximum number of media items in one post, all kinds together (Instagram carousel).
    pub max_media: Option<u64>,
    /// Maximum number of images (0: images are not accepted).
    pub max_images: Option<u64>,
    /// Maximum number of GIFs (0: GIFs are not accepted).
    pub max_gifs: Option<u64>,
    /// Maximum number of videos (0: videos are not accepted).
    pub max_videos: Option<u64>,
    /// True when one post holds media of one kind only (X: images, or one GIF, or one video).
    pub single_kind: bool,
    /// Accepted image MIME types; empty accepts any.
    pub image_mime_types: Vec<String>,
    /// Maximum image size in bytes.
    pub image_max_bytes: Option<u64>,
    /// Narrowest accepted image shape as `[width, height]` (Instagram `[4, 5]`); checked when a
    /// media item gives `width` and `height`.
    pub image_aspect_ratio_min: Option<[u32; 2]>,
    /// Widest accepted image shape as `[width, height]` (Instagram `[191, 100]`, 1.91:1).
    pub image_aspect_ratio_max: Option<[u32; 2]>,
    /// Maximum GIF size in bytes.
    pub gif_max_bytes: Option<u64>,
    /// Maximum video size in bytes.
    pub video_max_bytes: Option<u64>,
    /// Minimum video duration in seconds.
    pub video_min_secs: Option<u64>,
    /// Maximum video duration in seconds.
    pub video_max_secs: Option<u64>,
    /// Maximum title length in characters.
    pub title_max: Option<u64>,
    /// Maximum description length, in [`ContentRules::description_unit`].
    pub description_max: Option<u64>,
    /// How the description length is counted.
    pub description_unit: TextUnit,
    /// Characters that the title and description may not contain (YouTube: `<>`).
    pub forbidden_chars: String,
    /// Maximum media `alt_text` length in characters.
    pub alt_text_max: Option<u64>,
    /// Maximum total length of all tags, in characters.
    pub tags_max_total: Option<u64>,
    /// Accepted values of the platform's privacy setting (TikTok `privacy_level`, YouTube
    /// `privacy_status`); empty when the platform has none.
    pub privacy_values: Vec<String>,
    /// True when a board id (numeric string) is required (Pinterest).
    pub board_id_required: bool,
    /// Maximum title length of a photo post in characters (TikTok).
    pub photo_title_max: Option<u64>,
    /// Maximum description length of a photo post in characters (TikTok).
    pub photo_description_max: Option<u64>,
}

/// One thing wrong with a post for one target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Violation {
    /// JSON path of the field at fault in the request (`content.text`,
    /// `content.overrides.youtube.title`, `content.media[2].size_bytes`, `connection_ids[1]`).
    pub field: String,
    /// Stable code: `too_long`, `too_many`, `too_few`, `required`, `not_allowed`,
    /// `unsupported_type`, `too_large`, `too_short`, `forbidden_character`, `invalid_value`,
    /// `mixed_media`, `unknown_connection`, `duplicate`, `invalid_time`, `too_small`.
    pub code: String,
    /// What is wrong and how to fix it, in words.
    pub message: String,
    /// The limit broken, in the unit the message names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    /// The value found, in the same unit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actual: Option<u64>,
}

impl Violation {
    /// A violation without figures.
    pub fn new(field: &str, code: &str, message: impl Into<String>) -> Self {
        Violation {
            field: field.to_string(),
            code: code.to_string(),
            message: message.into(),
            limit: None,
            actual: None,
        }
    }

    /// Adds the limit and the value found.
    pub fn figures(mut self, limit: u64, actual: u64) -> Self {
        self.limit = Some(limit);
        self.actual = Some(actual);
        self
    }
}

/// The verdict for one target (one connection).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TargetVerdict {
    /// The connection id as given.
    pub connection_id: String,
    /// The connection's platform; `None` when the connection is unknown.
    pub platform: Option<String>,
    /// True when there is no violation.
    pub valid: bool,
    /// Every violation, in the order checked.
    pub violations: Vec<Violation>,
}

impl TargetVerdict {
    /// A verdict from its violations.
    pub fn new(connection_id: &str, platform: Option<&str>, violations: Vec<Violation>) -> Self {
        TargetVerdict {
            connection_id: connection_id.to_string(),
            platform: platform.map(str::to_string),
            valid: violations.is_empty(),
            violations,
        }
    }
}

/// The verdict for a whole post: valid only when every target is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Verdict {
    /// True when every target is valid.
    pub valid: bool,
    /// One verdict per `connection_ids` entry, in request order.
    pub targets: Vec<TargetVerdict>,
}

impl Verdict {
    /// A verdict from the targets' verdicts.
    pub fn new(targets: Vec<TargetVerdict>) -> Self {
        Verdict {
            valid: targets.iter().all(|t| t.valid),
            targets,
        }
    }
}

/// The text one platform gets: its override or the shared text, with the hashtags appended as
/// `#tag` (separated by a blank line) when the platform carries them in the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformText {
    /// The text as it will be sent.
    pub text: String,
    /// Where to fix it: `content.overrides.<platform>.text` or `content.text`.
    pub field: String,
    /// How many hashtags were appended.
    pub appended_hashtags: usize,
}

/// The text `platform` gets from `content` under `rules` (see [`PlatformText`]).
pub fn platform_text(platform: &str, rules: &ContentRules, content: &PostContent) -> PlatformText {
    let over = content
        .overrides
        .get(platform)
        .and_then(|o| o.text.as_ref());
    let field = if over.is_some() {
        format!("content.overrides.{platform}.text")
    } else {
        "content.text".to_string()
    };
    let mut text = over.unwrap_or(&content.text).clone();
    let tags: Vec<String> = content
        .hashtags
        .iter()
        .map(|t| t.trim().trim_start_matches('#'))
        .filter(|t| !t.is_empty())
        .map(|t| format!("#{t}"))
        .collect();
    let mut appended = 0;
    if rules.hashtags_in_text && !tags.is_empty() {
        if !text.is_empty() {
            text.push_str("\n\n");
        }
        text.push_str(&tags.join(" "));
        appended = tags.len();
    }
    PlatformText {
        text,
        field,
        appended_hashtags: appended,
    }
}

/// Every violation of `content` for a target on `spec`'s platform.
pub fn validate(spec: &PlatformSpec, content: &PostContent) -> Vec<Violation> {
    let rules = &spec.content;
    let mut out = Vec::new();
    check_media(rules, content, &mut out);
    match spec.id.as_str() {
        "twitter" => twitter::check(rules, content, &mut out),
        "instagram" => instagram::check(rules, content, &mut out),
        "tiktok" => tiktok::check_spec(spec, content, &mut out),
        "youtube" => youtube::check(rules, content, &mut out),
        "pinterest" => pinterest::check(rules, content, &mut out),
        // LinkedIn (3,000 characters) and Facebook (63,206): the text limit is all there is
        // (PLATFORMS.md §2, §3); custom providers have no limits.
        id => {
            let text = platform_text(id, rules, content);
            check_text(rules, &text, &mut out);
            if text.text.trim().is_empty() && content.media.is_empty() {
                out.push(Violation::new(
                    &text.field,
                    "required",
                    "the post has neither text nor media",
                ));
            }
        }
    }
    out
}

/// The text length in the platform's unit against `text_max`.
pub fn check_text(rules: &ContentRules, text: &PlatformText, out: &mut Vec<Violation>) {
    let Some(max) = rules.text_max else { return };
    let len = rules.text_unit.measure(&text.text);
    if len > max {
        let tags = if text.appended_hashtags > 0 {
            format!(" (including {} appended hashtags)", text.appended_hashtags)
        } else {
            String::new()
        };
        out.push(
            Violation::new(
                &text.field,
                "too_long",
                format!(
                    "the text is {len} {}{tags}; the limit is {max}",
                    rules.text_unit.noun()
                ),
            )
            .figures(max, len),
        );
    }
}

/// A length limit on one field (title, description, alt text...), in `unit`.
pub fn check_length(
    field: &str,
    what: &str,
    value: &str,
    max: Option<u64>,
    unit: TextUnit,
    out: &mut Vec<Violation>,
) {
    let Some(max) = max else { return };
    let len = unit.measure(value);
    if len > max {
        out.push(
            Violation::new(
                field,
                "too_long",
                format!("the {what} is {len} {}; the limit is {max}", unit.noun()),
            )
            .figures(max, len),
        );
    }
}

/// Each forbidden character found in `value` (one violation naming all of them).
pub fn check_forbidden(
    field: &str,
    what: &str,
    value: &str,
    rules: &ContentRules,
    out: &mut Vec<Violation>,
) {
    let found: Vec<char> = rules
        .forbidden_chars
        .chars()
        .filter(|c| value.contains(*c))
        .collect();
    if !found.is_empty() {
        let list: Vec<String> = found.iter().map(|c| format!("{c:?}")).collect();
        out.push(Violation::new(
            field,
            "forbidden_character",
            format!("the {what} may not contain {}", list.join(" or ")),
        ));
    }
}

/// A value that must be one of the platform's privacy values.
pub fn check_privacy(
    field: &str,
    value: Option<&str>,
    rules: &ContentRules,
    out: &mut Vec<Violation>,
) {
    let Some(value) = value else { return };
    if !rules.privacy_values.is_empty() && !rules.privacy_values.iter().any(|v| v == value) {
        out.push(Violation::new(
            field,
            "invalid_value",
            format!(
                "{value:?} is not one of {}",
                rules.privacy_values.join(", ")
            ),
        ));
    }
}

fn count(content: &PostContent, kind: MediaKind) -> u64 {
    content.media.iter().filter(|m| m.kind == kind).count() as u64
}

/// Media checks every platform shares, driven by [`ContentRules`]: URLs, presence, counts per
/// kind and in total, one kind per post, image types, sizes and video durations.
pub fn check_media(rules: &ContentRules, content: &PostContent, out: &mut Vec<Violation>) {
    let media = &content.media;
    for (i, m) in media.iter().enumerate() {
        let ok = url::Url::parse(&m.url)
            .map(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
            .unwrap_or(false);
        if !ok {
            out.push(Violation::new(
                &format!("content.media[{i}].url"),
                "invalid_value",
                "the media url must be an absolute http(s) URL the platform can fetch",
            ));
        }
    }
    if rules.media_required && media.is_empty() {
        out.push(Violation::new(
            "content.media",
            "required",
            "this platform does not take text-only posts; attach media",
        ));
    }
    if let Some(max) = rules.max_media {
        let n = media.len() as u64;
        if n > max {
            out.push(
                Violation::new(
                    "content.media",
                    "too_many",
                    format!("{n} media items; the limit is {max}"),
                )
                .figures(max, n),
            );
        }
    }
    for (kind, max) in [
        (MediaKind::Image, rules.max_images),
        (MediaKind::Gif, rules.max_gifs),
        (MediaKind::Video, rules.max_videos),
    ] {
        let Some(max) = max else { continue };
        let n = count(content, kind);
        if n > 0 && max == 0 {
            out.push(Violation::new(
                "content.media",
                "not_allowed",
                format!("this platform does not accept {} media", kind.as_str()),
            ));
        } else if n > max {
            out.push(
                Violation::new(
                    "content.media",
                    "too_many",
                    format!("{n} {} items; the limit is {max}", kind.as_str()),
                )
                .figures(max, n),
            );
        }
    }
    if rules.single_kind {
        let kinds = [MediaKind::Image, MediaKind::Gif, MediaKind::Video]
            .into_iter()
            .filter(|k| count(content, *k) > 0)
            .count();
        if kinds > 1 {
            out.push(Violation::new(
                "content.media",
                "mixed_media",
                "one post takes media of one kind only (images, or a GIF, or a video)",
            ));
        }
    }
    for (i, m) in media.iter().enumerate() {
        if m.kind == MediaKind::Image && !rules.image_mime_types.is_empty() {
            if let Some(mime) = &m.mime_type {
                let mime = mime.trim().to_ascii_lowercase();
                if !rules.image_mime_types.contains(&mime) {
                    out.push(Violation::new(
                        &format!("content.media[{i}].mime_type"),
                        "unsupported_type",
                        format!(
                            "{mime} is not accepted; images must be {}",
                            rules.image_mime_types.join(" or ")
                        ),
                    ));
                }
            }
        }
        if m.kind == MediaKind::Image {
            check_aspect_ratio(rules, i, m.width, m.height, out);
        }
        let max_bytes = match m.kind {
            MediaKind::Image => rules.image_max_bytes,
            MediaKind::Gif => rules.gif_max_bytes,
            MediaKind::Video => rules.video_max_bytes,
        };
        if let (Some(max), Some(size)) = (max_bytes, m.size_bytes) {
            if size > max {
                out.push(
                    Violation::new(
                        &format!("content.media[{i}].size_bytes"),
                        "too_large",
                        format!(
                            "the {} is {size} bytes; the limit is {max} bytes",
                            m.kind.as_str()
                        ),
                    )
                    .figures(max, size),
                );
            }
        }
        if m.kind == MediaKind::Video {
            if let Some(d) = m.duration_secs {
                let field = format!("content.media[{i}].duration_secs");
                if !d.is_finite() || d < 0.0 {
                    out.push(Violation::new(
                        &field,
                        "invalid_value",
                        "duration_secs must be a non-negative number of seconds",
                    ));
                    continue;
                }
                let actual = d.ceil() as u64;
                if let Some(min) = rules.video_min_secs.filter(|min| d < *min as f64) {
                    out.push(
                        Violation::new(
                            &field,
                            "too_short",
                            format!("the video lasts {d} s; the minimum is {min} s"),
                        )
                        .figures(min, d.floor() as u64),
                    );
                }
                if let Some(max) = rules.video_max_secs.filter(|max| d > *max as f64) {
                    out.push(
                        Violation::new(
                            &field,
                            "too_long",
                            format!("the video lasts {d} s; the maximum is {max} s"),
                        )
                        .figures(max, actual),
                    );
                }
            }
        }
    }
}

/// An image's width:height against the platform's narrowest and widest shapes, compared exactly
/// in integers (`w × min_h ≥ h × min_w`).
fn check_aspect_ratio(
    rules: &ContentRules,
    i: usize,
    width: Option<u32>,
    height: Option<u32>,
    out: &mut Vec<Violation>,
) {
    let (Some(w), Some(h)) = (width, height) else {
        return;
    };
    let (w, h) = (u64::from(w), u64::from(h));
    let field = format!("content.media[{i}].width");
    if w == 0 || h == 0 {
        out.push(Violation::new(
            &field,
            "invalid_value",
            "width and height must be positive numbers of pixels",
        ));
        return;
    }
    if let Some([mw, mh]) = rules.image_aspect_ratio_min {
        if w * u64::from(mh) < h * u64::from(mw) {
            out.push(Violation::new(
                &field,
                "invalid_value",
                format!("the image is {w}x{h}, narrower than the {mw}:{mh} this platform accepts"),
            ));
        }
    }
    if let Some([mw, mh]) = rules.image_aspect_ratio_max {
        if w * u64::from(mh) > h * u64::from(mw) {
            out.push(Violation::new(
                &field,
                "invalid_value",
                format!("the image is {w}x{h}, wider than the {mw}:{mh} this platform accepts"),
            ));
        }
    }
}
