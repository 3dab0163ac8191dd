//! The compose form of the dashboard's posts page, read into a [`PostRequest`].
//!
//! The browser sends the form as `application/x-www-form-urlencoded` both when it is submitted
//! (`POST /posts`) and, for live validation, on every change (`POST /posts/validate`, by
//! `assets/posts.js`); both read it with [`Draft::from_form`], so the live verdict and the
//! stored post come from the same request. A [`Draft`] keeps every field as typed, so that a
//! refused form is shown again with nothing lost.
//!
//! Field names (repeated names keep their order):
//! - `text`, `hashtags` (words separated by spaces or commas, `#` optional), `campaign_id`;
//! - `media_url`, `media_kind` (`image`, `video`, `gif`), `media_alt`, `media_id` (a file
//!   uploaded from the page, `dashboard::media`; it replaces the URL): one media item per
//!   position, a row with neither URL nor uploaded file is skipped;
//! - `connection_id`: the accounts to publish to (checkboxes);
//! - `when` (`now` or `at`), `publish_at` (the `datetime-local` value `2026-12-01T09:30`, a
//!   wall-clock time in `time_zone`), `time_zone` (an IANA name);
//! - `override.<platform>.<name>` with `<name>` one of [`OVERRIDE_FIELDS`]
//!   (`override.youtube.title`, `override.pinterest.board_id`, `override.tiktok.privacy_level`),
//!   `override.youtube.made_for_kids` (`true` when checked), and TikTok's checkboxes
//!   `override.tiktok.allow_comment` / `allow_duet` / `allow_stitch` (ticked: that interaction
//!   is on; unticked: off, TikTok's rule) and `brand_organic_toggle` / `brand_content_toggle`.
//!
//! Anything else (the CSRF token) is ignored here.

use std::collections::BTreeMap;

use switchboard_core::post::{
    IanaTimeZone, Media, MediaKind, PlatformOverride, PostContent, PostRequest, PublishAt,
};
use switchboard_core::post_rules::Violation;

/// The text fields a platform override may carry in the form.
pub const OVERRIDE_FIELDS: &[&str] = &[
    "text",
    "title",
    "description",
    "board_id",
    "privacy_level",
    "privacy_status",
    "link",
];

/// One media row of the form, as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MediaRow {
    /// Public URL of the file.
    pub url: String,
    /// `image`, `video` or `gif`.
    pub kind: String,
    /// Text alternative.
    pub alt: String,
    /// Id of a file uploaded from the page (`POST /posts/media`), instead of the URL.
    pub media_id: String,
}

/// The compose form as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Draft {
    /// Shared text.
    pub text: String,
    /// Hashtags as typed (`launch, #news`).
    pub hashtags: String,
    /// Media rows, in order (rows with an empty URL included, as typed).
    pub media: Vec<MediaRow>,
    /// Chosen connection ids, in form order.
    pub connection_ids: Vec<String>,
    /// `now` or `at`.
    pub when: String,
    /// The `datetime-local` value (`2026-12-01T09:30`), wall-clock time in `time_zone`.
    pub publish_at: String,
    /// IANA time zone name.
    pub time_zone: String,
    /// Campaign id.
    pub campaign_id: String,
    /// `(platform, field)` → value, non-empty values only.
    pub overrides: BTreeMap<(String, String), String>,
}

impl Draft {
    /// Reads an `application/x-www-form-urlencoded` body.
    pub fn from_form(body: &[u8]) -> Draft {
        Draft::from_pairs(url::form_urlencoded::parse(body).into_owned())
    }

    /// Reads the form's `(name, value)` pairs in order.
    pub fn from_pairs(pairs: impl IntoIterator<Item = (String, String)>) -> Draft {
        let mut d = Draft::default();
        let (mut urls, mut kinds, mut alts, mut ids) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (k, v) in pairs {
            match k.as_str() {
                "text" => d.text = v,
                "hashtags" => d.hashtags = v,
                "campaign_id" => d.campaign_id = v,
                "media_url" => urls.push(v),
                "media_kind" => kinds.push(v),
                "media_alt" => alts.push(v),
                "media_id" => ids.push(v),
                "connection_id" => {
                    if !v.is_empty() {
                        d.connection_ids.push(v);
                    }
                }
                "when" => d.when = v,
                "publish_at" => d.publish_at = v,
                "time_zone" => d.time_zone = v,
                other => {
                    if let Some(rest) = other.strip_prefix("override.") {
                        if let Some((platform, field)) = rest.split_once('.') {
                            if !v.trim().is_empty() {
                                d.overrides
                                    .insert((platform.to_string(), field.to_string()), v);
                            }
                        }
                    }
                }
            }
        }
        let rows = urls.len().max(kinds.len()).max(alts.len()).max(ids.len());
        d.media = (0..rows)
            .map(|i| MediaRow {
                url: urls.get(i).cloned().unwrap_or_default(),
                kind: kinds.get(i).cloned().unwrap_or_default(),
                alt: alts.get(i).cloned().unwrap_or_default(),
                media_id: ids.get(i).map(|v| v.trim().to_string()).unwrap_or_default(),
            })
            .collect();
        d
    }

    /// The override value typed for `platform`'s `field`, or "".
    pub fn override_value(&self, platform: &str, field: &str) -> &str {
        self.overrides
            .get(&(platform.to_string(), field.to_string()))
            .map_or("", String::as_str)
    }

    /// The hashtags as a list: words split on spaces and commas.
    pub fn hashtag_list(&self) -> Vec<String> {
        self.hashtags
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .collect()
    }

    /// The request this form asks for, or every problem of the form itself (see [`Draft::read`]).
    pub fn to_request(&self) -> Result<PostRequest, Vec<Violation>> {
        let (req, problems) = self.read();
        if problems.is_empty() {
            Ok(req)
        } else {
            Err(problems)
        }
    }

    /// The request this form asks for, with every problem of the form itself (a media kind that
    /// is not one, a URL that is not http(s), a time that is missing or not a time, an unknown
    /// time zone, an override field the form does not offer), each a [`Violation`] on the
    /// request's JSON path (`content.media[1].kind`, `publish_at`, `time_zone`). The parts at
    /// fault are left out of the request, so that the rest can still be checked live. Platform
    /// rules are not checked here: that is `routes::posts::verdict`.
    pub fn read(&self) -> (PostRequest, Vec<Violation>) {
        let mut errors = Vec::new();
        let mut media = Vec::new();
        for row in self
            .media
            .iter()
            .filter(|r| !r.url.trim().is_empty() || !r.media_id.is_empty())
        {
            let i = media.len();
            if !row.media_id.is_empty() {
                // An uploaded file: kind, type and size are the upload's (resolved on check).
                media.push(Media {
                    url: String::new(),
                    media_id: Some(row.media_id.clone()),
                    kind: MediaKind::Image,
                    mime_type: None,
                    size_bytes: None,
                    duration_secs: None,
                    width: None,
                    height: None,
                    alt_text: Some(row.alt.trim().to_string()).filter(|a| !a.is_empty()),
                });
                continue;
            }
            let kind = match row.kind.as_str() {
                "image" => MediaKind::Image,
                "video" => MediaKind::Video,
                "gif" => MediaKind::Gif,
                other => {
                    errors.push(Violation::new(
                        &format!("content.media[{i}].kind"),
                        "invalid_value",
                        format!("{other:?} is not a media kind: choose image, video or GIF"),
                    ));
                    MediaKind::Image
                }
            };
            let url = row.url.trim();
            if url::Url::parse(url).map_or(true, |u| !matches!(u.scheme(), "http" | "https")) {
                errors.push(Violation::new(
                    &format!("content.media[{i}].url"),
                    "invalid_value",
                    format!("{url:?} is not an http(s) URL the platform can fetch"),
                ));
            }
            media.push(Media {
                url: url.to_string(),
                media_id: None,
                kind,
                mime_type: None,
                size_bytes: None,
                duration_secs: None,
                width: None,
                height: None,
                alt_text: Some(row.alt.trim().to_string()).filter(|a| !a.is_empty()),
            });
        }

        let mut overrides = BTreeMap::<String, PlatformOverride>::new();
        for ((platform, field), value) in &self.overrides {
            let o = overrides.entry(platform.clone()).or_default();
            let v = Some(value.clone());
            match field.as_str() {
                "text" => o.text = v,
                "title" => o.title = v,
                "description" => o.description = v,
                "board_id" => o.board_id = Some(value.trim().to_string()),
                "privacy_level" => o.privacy_level = v,
                "privacy_status" => o.privacy_status = v,
                "link" => o.link = Some(value.trim().to_string()),
                "made_for_kids" => o.made_for_kids = Some(value == "true"),
                // TikTok's interaction settings: a ticked "Allow …" box turns one on.
                "allow_comment" => o.disable_comment = Some(value != "true"),
                "allow_duet" => o.disable_duet = Some(value != "true"),
                "allow_stitch" => o.disable_stitch = Some(value != "true"),
                "brand_content_toggle" => o.brand_content_toggle = Some(value == "true"),
                "brand_organic_toggle" => o.brand_organic_toggle = Some(value == "true"),
                other => errors.push(Violation::new(
                    &format!("content.overrides.{platform}.{other}"),
                    "invalid_value",
                    format!("{other:?} is not a field the form offers for {platform}"),
                )),
            }
        }

        let time_zone = match self.time_zone.trim() {
            "" => None,
            z => match z.parse::<IanaTimeZone>() {
                Ok(z) => Some(z),
                Err(m) => {
                    errors.push(Violation::new("time_zone", "invalid_value", m));
                    None
                }
            },
        };
        let publish_at = match self.when.as_str() {
            "" | "now" => None,
            "at" => match self.publish_at.trim() {
                "" => {
                    errors.push(Violation::new(
                        "publish_at",
                        "required",
                        "choose the date and time to publish at, or publish now",
                    ));
                    None
                }
                t => match t.parse::<PublishAt>() {
                    // The picker gives a wall-clock time: it is read in the zone shown beside it.
                    Ok(p @ PublishAt::Local(_)) => Some(p),
                    Ok(_) | Err(_) => {
                        errors.push(Violation::new(
                            "publish_at",
                            "invalid_time",
                            format!("{t:?} is not a date and time (2026-12-01T09:30)"),
                        ));
                        None
                    }
                },
            },
            other => {
                errors.push(Violation::new(
                    "when",
                    "invalid_value",
                    format!("{other:?} is neither now nor at"),
                ));
                None
            }
        };
        if publish_at.is_some()
            && time_zone.is_none()
            && !errors.iter().any(|e| e.field == "time_zone")
        {
            errors.push(Violation::new(
                "time_zone",
                "required",
                "choose the time zone the date and time are in",
            ));
        }
        let publish_at = publish_at.filter(|_| time_zone.is_some());
        let req = PostRequest {
            content: PostContent {
                text: self.text.clone(),
                hashtags: self.hashtag_list(),
                media,
                overrides,
            },
            connection_ids: self.connection_ids.clone(),
            publish_at,
            time_zone,
            campaign_id: Some(self.campaign_id.trim().to_string()).filter(|c| !c.is_empty()),
            scheduling_options: None,
        };
        (req, errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> Vec<u8> {
        url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish()
            .into_bytes()
    }

    #[test]
    fn a_full_form_reads_into_the_request_it_names() {
        let d = Draft::from_form(&form(&[
            ("csrf", "x"),
            ("text", "Hello"),
            ("hashtags", "launch, #news  rust"),
            ("media_url", "https://cdn.example/a.jpg"),
            ("media_kind", "image"),
            ("media_alt", "A cat"),
            ("media_url", ""),
            ("media_kind", "video"),
            ("media_alt", ""),
            ("connection_id", "c1"),
            ("connection_id", "c2"),
            ("when", "at"),
            ("publish_at", "2026-12-01T09:30"),
            ("time_zone", "Europe/Paris"),
            ("override.youtube.title", "My video"),
            ("override.pinterest.board_id", " 123 "),
            ("override.tiktok.privacy_level", ""),
            ("override.youtube.made_for_kids", "true"),
        ]));
        assert_eq!(d.media.len(), 2, "rows as typed are kept");
        let r = d.to_request().unwrap();
        assert_eq!(r.content.text, "Hello");
        assert_eq!(r.content.hashtags, ["launch", "#news", "rust"]);
        assert_eq!(r.content.media.len(), 1, "the empty row is skipped");
        assert_eq!(r.content.media[0].alt_text.as_deref(), Some("A cat"));
        assert_eq!(r.connection_ids, ["c1", "c2"]);
        assert_eq!(r.time_zone.unwrap().0.name(), "Europe/Paris");
        assert_eq!(
            r.publish_at.unwrap().to_string(),
            "2026-12-01T09:30:00",
            "a wall-clock time"
        );
        let yt = &r.content.overrides["youtube"];
        assert_eq!(yt.title.as_deref(), Some("My video"));
        assert_eq!(yt.made_for_kids, Some(true));
        assert_eq!(
            r.content.overrides["pinterest"].board_id.as_deref(),
            Some("123")
        );
        assert!(
            !r.content.overrides.contains_key("tiktok"),
            "empty values are no override"
        );
    }

    #[test]
    fn now_needs_no_time_and_every_form_problem_is_listed() {
        let r = Draft::from_form(&form(&[("text", "x"), ("when", "now")]))
            .to_request()
            .unwrap();
        assert!(r.publish_at.is_none());

        let errs = Draft::from_form(&form(&[
            ("media_url", "ftp://x/a.jpg"),
            ("media_kind", "sound"),
            ("when", "at"),
            ("publish_at", "tomorrow"),
            ("time_zone", "Mars/Olympus"),
            ("override.x.colour", "red"),
        ]))
        .to_request()
        .unwrap_err();
        let fields: Vec<_> = errs.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "content.media[0].kind",
                "content.media[0].url",
                "content.overrides.x.colour",
                "time_zone",
                "publish_at"
            ]
        );

        let errs = Draft::from_form(&form(&[("when", "at"), ("publish_at", "")]))
            .to_request()
            .unwrap_err();
        assert_eq!(errs[0].field, "publish_at");
        assert_eq!(errs[0].code, "required");

        let errs = Draft::from_form(&form(&[("when", "at"), ("publish_at", "2026-12-01T09:30")]))
            .to_request()
            .unwrap_err();
        assert_eq!(
            errs[0].field, "time_zone",
            "a wall-clock time needs its zone"
        );
    }
}
