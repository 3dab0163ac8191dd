//! X (Twitter) content rules (PLATFORMS.md §1; limits in `catalog/twitter.toml` `[content]`).
//!
//! The text limit is 280 *weighted* characters as X counts them: the official twitter-text
//! configuration v3 (the `twitter-text` crate, a port of twitter/twitter-text whose v3 config is
//! byte-identical to upstream). The text is NFC-normalised first; code points in the config's
//! ranges (U+0000–U+10FF, U+2000–U+200D, U+2010–U+201F, U+2032–U+2037) weigh 100 and count 1,
//! every other code point weighs 200 and counts 2; an emoji sequence (ZWJ sequences, skin tones,
//! flags) counts 2 as a whole; every URL counts 23 (`transformedURLLength`) whatever its length.
//! A text holding one of twitter-text's invalid characters is refused.
//!
//! Media: at most 4 images, or 1 GIF, or 1 video, never mixed; images ≤5 MB, GIFs ≤15 MB
//! (PLATFORMS.md §1, "Publish media").

use super::{check_text, platform_text, ContentRules, Violation};
use crate::post::PostContent;

/// X's weighted length of `text` (twitter-text config v3; see the module documentation).
pub fn weighted_length(text: &str) -> usize {
    let results = twitter_text::parse(text, twitter_text_config::config_v3(), true);
    usize::try_from(results.weighted_length).unwrap_or(0)
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
