//! YouTube content rules (PLATFORMS.md §6 "Limits", "Publish (video only)"; limits in
//! `catalog/youtube.toml` `[content]`): exactly one video; a title (the override, else the
//! shared text) of at most 100 characters and a description (the override, else the shared text)
//! of at most 5,000 **bytes**, neither containing `<` or `>`; tags (the override's `tags` and the
//! post's hashtags) at most 500 characters in total; `privacy_status` one of `public`,
//! `unlisted`, `private`.

use super::{
    check_forbidden, check_length, check_privacy, platform_text, ContentRules, TextUnit, Violation,
};
use crate::post::PostContent;

/// Title, description, tags and privacy status.
pub fn check(rules: &ContentRules, content: &PostContent, out: &mut Vec<Violation>) {
    let over = content.overrides.get("youtube");
    let text = platform_text("youtube", rules, content);
    let (title_field, title) = match over.and_then(|o| o.title.as_deref()) {
        Some(t) => ("content.overrides.youtube.title".to_string(), t.to_string()),
        None => (text.field.clone(), text.text.clone()),
    };
    if title.trim().is_empty() {
        out.push(Violation::new(
            "content.overrides.youtube.title",
            "required",
            "a YouTube video needs a title: set overrides.youtube.title or the text",
        ));
    }
    check_length(
        &title_field,
        "title",
        &title,
        rules.title_max,
        TextUnit::Chars,
        out,
    );
    check_forbidden(&title_field, "title", &title, rules, out);
    let (desc_field, desc) = match over.and_then(|o| o.description.as_deref()) {
        Some(d) => (
            "content.overrides.youtube.description".to_string(),
            d.to_string(),
        ),
        None => (text.field.clone(), text.text.clone()),
    };
    check_length(
        &desc_field,
        "description",
        &desc,
        rules.description_max,
        rules.description_unit,
        out,
    );
    // When the shared text serves as both, a `<` in it is reported once (with the title).
    if desc_field != title_field || desc != title {
        check_forbidden(&desc_field, "description", &desc, rules, out);
    }
    if let Some(max) = rules.tags_max_total {
        let tags = over.and_then(|o| o.tags.as_deref()).unwrap_or_default();
        let total: u64 = tags
            .iter()
            .map(|t| t.trim())
            .chain(
                content
                    .hashtags
                    .iter()
                    .map(|t| t.trim().trim_start_matches('#')),
            )
            .map(|t| t.chars().count() as u64)
            .sum();
        if total > max {
            out.push(
                Violation::new(
                    "content.overrides.youtube.tags",
                    "too_long",
                    format!(
                        "the tags (with the hashtags) total {total} characters; the limit is {max}"
                    ),
                )
                .figures(max, total),
            );
        }
    }
    check_privacy(
        "content.overrides.youtube.privacy_status",
        over.and_then(|o| o.privacy_status.as_deref()),
        rules,
        out,
    );
}
