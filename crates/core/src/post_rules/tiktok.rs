//! TikTok content rules (PLATFORMS.md §5 "Limits", "Photos", "No text-only posts"; limits in
//! `catalog/tiktok.toml` `[content]`): a video or photos are required (no text-only posts, never
//! both); a video post's caption (`title`: the override's title, else the text with its
//! hashtags) ≤2,200 UTF-16 code units; a photo post holds ≤35
//! JPG/WEBP photos with a title ≤90 and a description ≤4,000 characters; a video ≤4 GB lasting
//! 3 s–10 min; `privacy_level`, when given, one of `PUBLIC_TO_EVERYONE`,
//! `MUTUAL_FOLLOW_FRIENDS`, `FOLLOWER_OF_CREATOR`, `SELF_ONLY` (the account's
//! `creator_info` may narrow this at publish time).
//!
//! TikTok's posting rules (<https://developers.tiktok.com/doc/content-sharing-guidelines>,
//! <https://developers.tiktok.com/doc/content-posting-api-reference-direct-post>): the person
//! chooses `privacy_level` for every post, with no default, so it is **required**; branded
//! content (`brand_content_toggle`) cannot be `SELF_ONLY`; photos are only ever pulled by TikTok
//! from a domain or URL prefix verified for the app, so each photo's URL must be covered by
//! `[platforms.tiktok] verified_domains` ([`PlatformSpec::pull_verified`]).

use super::{
    check_length, check_privacy, check_text, platform_text, ContentRules, TextUnit, Violation,
};
use crate::post::{MediaKind, PostContent};
use crate::PlatformSpec;

/// The setting that lists the domains TikTok may pull from, as named in violations.
pub const VERIFIED_DOMAINS_SETTING: &str = "[platforms.tiktok] verified_domains";

/// Every TikTok rule, including the photo URLs against the configured verified domains.
pub fn check_spec(spec: &PlatformSpec, content: &PostContent, out: &mut Vec<Violation>) {
    check(&spec.content, content, out);
    let is_photo_post =
        !content.media.is_empty() && content.media.iter().all(|m| m.kind == MediaKind::Image);
    if !is_photo_post {
        return;
    }
    for (i, m) in content.media.iter().enumerate() {
        if spec.pull_verified(&m.url) {
            continue;
        }
        let host = url::Url::parse(&m.url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_default();
        let message = if spec.verified_domains.is_empty() {
            format!(
                "TikTok photo posts are pulled by TikTok from a domain verified for the app, and \
                 none is configured: verify the domain of the media ({host}) in the TikTok \
                 developer portal and list it in {VERIFIED_DOMAINS_SETTING} \
                 (SWITCHBOARD_TIKTOK_VERIFIED_DOMAINS)"
            )
        } else {
            format!(
                "TikTok pulls photos only from the domains verified for the app, and {host} is \
                 not among {VERIFIED_DOMAINS_SETTING} ({})",
                spec.verified_domains.join(", ")
            )
        };
        out.push(Violation::new(
            &format!("content.media[{i}].url"),
            "domain_not_verified",
            message,
        ));
    }
}

/// Caption or photo title and description, the privacy level (required) and the commercial
/// content disclosure.
pub fn check(rules: &ContentRules, content: &PostContent, out: &mut Vec<Violation>) {
    let text = platform_text("tiktok", rules, content);
    let over = content.overrides.get("tiktok");
    let is_photo_post =
        !content.media.is_empty() && content.media.iter().all(|m| m.kind == MediaKind::Image);
    if is_photo_post {
        if let Some(title) = over.and_then(|o| o.title.as_deref()) {
            check_length(
                "content.overrides.tiktok.title",
                "photo post title",
                title,
                rules.photo_title_max,
                TextUnit::Chars,
                out,
            );
        }
        match over.and_then(|o| o.description.as_deref()) {
            Some(d) => check_length(
                "content.overrides.tiktok.description",
                "photo post description",
                d,
                rules.photo_description_max,
                TextUnit::Chars,
                out,
            ),
            None => check_length(
                &text.field,
                "photo post description",
                &text.text,
                rules.photo_description_max,
                TextUnit::Chars,
                out,
            ),
        }
    } else if let Some(title) = over.and_then(|o| o.title.as_deref()) {
        // A video's caption is its `title`: the override's title, when given, is the caption.
        check_length(
            "content.overrides.tiktok.title",
            "caption",
            title,
            rules.text_max,
            rules.text_unit,
            out,
        );
    } else {
        check_text(rules, &text, out);
    }
    let privacy = over.and_then(|o| o.privacy_level.as_deref());
    match privacy {
        None => out.push(Violation::new(
            "content.overrides.tiktok.privacy_level",
            "required",
            format!(
                "TikTok needs the privacy level chosen for each post (TikTok forbids a default): \
                 one of {} that the account offers (GET /v1/connections/{{id}}/tiktok/creator-info)",
                rules.privacy_values.join(", ")
            ),
        )),
        Some(_) => check_privacy(
            "content.overrides.tiktok.privacy_level",
            privacy,
            rules,
            out,
        ),
    }
    if privacy == Some("SELF_ONLY") && over.and_then(|o| o.brand_content_toggle) == Some(true) {
        out.push(Violation::new(
            "content.overrides.tiktok.brand_content_toggle",
            "invalid_value",
            "branded content cannot be private on TikTok: choose a privacy level other than \
             SELF_ONLY, or turn brand_content_toggle off",
        ));
    }
}
