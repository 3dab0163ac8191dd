//! TikTok content rules (PLATFORMS.md §5 "Limits", "Photos", "No text-only posts"; limits in
//! `catalog/tiktok.toml` `[content]`): a video or photos are required (no text-only posts, never
//! both); a video post's caption (`title`: the override's title, else the text with its
//! hashtags) ≤2,200 UTF-16 code units; a photo post holds ≤35
//! JPG/WEBP photos with a title ≤90 and a description ≤4,000 characters; a video ≤4 GB lasting
//! 3 s–10 min; `privacy_level`, when given, one of `PUBLIC_TO_EVERYONE`,
//! `MUTUAL_FOLLOW_FRIENDS`, `FOLLOWER_OF_CREATOR`, `SELF_ONLY` (the account's
//! `creator_info` may narrow this at publish time).

use super::{
    check_length, check_privacy, check_text, platform_text, ContentRules, TextUnit, Violation,
};
use crate::post::{MediaKind, PostContent};

/// Caption or photo title and description, and the privacy level.
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
    check_privacy(
        "content.overrides.tiktok.privacy_level",
        over.and_then(|o| o.privacy_level.as_deref()),
        rules,
        out,
    );
}
