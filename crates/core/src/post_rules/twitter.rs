//! X (Twitter) content rules (PLATFORMS.md §1; limits in `catalog/twitter.toml` `[content]`).
//!
//! The text limit is 280 *weighted* characters as X counts them: the official twitter-text
//! (npm `twitter-text` 3.1.0, the reference implementation) with configuration v3, ported in
//! [`super::twitter_text`] and checked against the npm package itself by
//! `crates/core/tests/twitter_text/reference.rs`. The text is NFC-normalised first; code points
//! in the config's ranges (U+0000–U+10FF, U+2000–U+200D, U+2010–U+201F, U+2032–U+2037) weigh 100
//! and count 1, every other code point weighs 200 and counts 2; an emoji sequence (ZWJ
//! sequences, skin tones, flags; twemoji's list) counts 2 as a whole; every URL counts 23
//! (`transformedURLLength`) whatever its length, with or without `https://` (`example.org`
//! counts when its TLD is a real one). A text holding one of twitter-text's invalid characters
//! is refused.
//!
//! Media: at most 4 images, or 1 GIF, or 1 video, never mixed; images ≤5 MB, GIFs ≤15 MB
//! (PLATFORMS.md §1, "Publish media").

use super::{check_text, platform_text, ContentRules, Violation};
use crate::post::PostContent;

/// Longest text, in UTF-16 code units, whose weighted length is counted exactly. Nothing counts
/// less than a URL's 23 per 4,096 units (twitter-text's longest URL), so a longer text is far
/// past any limit; its work stays bounded.
pub const EXACT_COUNT_MAX_UNITS: usize = 280 * 4096 / 23;

/// X's weighted length of `text` in characters (twitter-text config v3; see the module
/// documentation). Never panics. For a text longer than [`EXACT_COUNT_MAX_UNITS`] UTF-16 units
/// this is a lower bound (units × 23 / 4,096, above 280), not the exact count.
pub fn weighted_length(text: &str) -> usize {
    let units: usize = text.chars().map(char::len_utf16).sum();
    if units > EXACT_COUNT_MAX_UNITS {
        return (units * 23 / 4096).max(281);
    }
    let results = super::twitter_text::parse(text, &super::twitter_text::CONFIG_V3);
    usize::try_from(results.weighted_length).unwrap_or(usize::MAX)
}

/// The characters twitter-text refuses in a post whatever its length (its grammar's
/// `invalid_char`: U+FFFE, U+FEFF, U+FFFF).
pub const INVALID_CHARACTERS: [char; 3] = ['\u{FFFE}', '\u{FEFF}', '\u{FFFF}'];

/// True when `text` holds one of [`INVALID_CHARACTERS`].
pub fn has_invalid_characters(text: &str) -> bool {
    text.contains(INVALID_CHARACTERS)
}

/// X's own checks: the weighted text length, and a post needs text or media.
pub fn check(rules: &ContentRules, content: &PostContent, out: &mut Vec<Violation>) {
    let text = platform_text("twitter", rules, content);
    check_text(rules, &text, out);
    if has_invalid_characters(&text.text) {
        out.push(Violation::new(
            &text.field,
            "forbidden_character",
            "the text holds a character X rejects (U+FFFE, U+FEFF or U+FFFF)",
        ));
    }
    if text.text.trim().is_empty() && content.media.is_empty() {
        out.push(Violation::new(
            &text.field,
            "required",
            "a post on X needs text or media",
        ));
    }
}
