//! Pinterest content rules (PLATFORMS.md §7 "Publish image", "No text-only pins", "Limits";
//! limits in `catalog/pinterest.toml` `[content]`): a `board_id` (numeric string) is required;
//! media is required (images, or one video); title ≤100, description (the override, else the
//! shared text with its hashtags) ≤500 and each media `alt_text` ≤500 characters.

use super::{check_length, platform_text, ContentRules, TextUnit, Violation};
use crate::post::PostContent;

/// Board, title, description and alt texts.
pub fn check(rules: &ContentRules, content: &PostContent, out: &mut Vec<Violation>) {
    let over = content.overrides.get("pinterest");
    if rules.board_id_required {
        match over.and_then(|o| o.board_id.as_deref()).map(str::trim) {
            None | Some("") => out.push(Violation::new(
                "content.overrides.pinterest.board_id",
                "required",
                "a pin needs the board to pin to: set overrides.pinterest.board_id",
            )),
            Some(b) if !b.chars().all(|c| c.is_ascii_digit()) => out.push(Violation::new(
                "content.overrides.pinterest.board_id",
                "invalid_value",
                format!("{b:?} is not a Pinterest board id (a numeric string)"),
            )),
            Some(_) => {}
        }
    }
    if let Some(title) = over.and_then(|o| o.title.as_deref()) {
        check_length(
            "content.overrides.pinterest.title",
            "title",
            title,
            rules.title_max,
            TextUnit::Chars,
            out,
        );
    }
    match over.and_then(|o| o.description.as_deref()) {
        Some(d) => check_length(
            "content.overrides.pinterest.description",
            "description",
            d,
            rules.description_max,
            rules.description_unit,
            out,
        ),
        None => {
            let text = platform_text("pinterest", rules, content);
            check_length(
                &text.field,
                "description",
                &text.text,
                rules.description_max,
                rules.description_unit,
                out,
            );
        }
    }
    for (i, m) in content.media.iter().enumerate() {
        if let Some(alt) = &m.alt_text {
            check_length(
                &format!("content.media[{i}].alt_text"),
                "alt text",
                alt,
                rules.alt_text_max,
                TextUnit::Chars,
                out,
            );
        }
    }
}
