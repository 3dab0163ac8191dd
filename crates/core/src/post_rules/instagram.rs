//! Instagram content rules (PLATFORMS.md §4 "Limits" and "No text-only posts"; limits in
//! `catalog/instagram.toml` `[content]`): caption ≤2,200 characters with at most 30 hashtags and
//! 20 @-mentions; media required; images JPEG only, ≤8 MiB, aspect ratio 4:5–1.91:1; a carousel
//! holds at most 10 items.
//! Hashtags and mentions are recognised as twitter-text extracts them (a `#` or `@` at a word
//! start followed by letters, digits or `_`).

use super::twitter_text::{extract_hashtags, extract_mentions};
use super::{check_text, platform_text, ContentRules, Violation};
use crate::post::PostContent;

/// Longest caption, in characters, whose hashtags and mentions are counted: a longer one is
/// refused for its length already, and counting stays bounded whatever the body holds.
pub const COUNT_MAX_CHARS: usize = 50_000;

/// The caption length, hashtag count and mention count.
pub fn check(rules: &ContentRules, content: &PostContent, out: &mut Vec<Violation>) {
    let text = platform_text("instagram", rules, content);
    check_text(rules, &text, out);
    if text.text.chars().count() > COUNT_MAX_CHARS {
        return;
    }
    if let Some(max) = rules.max_hashtags {
        let n = extract_hashtags(&text.text).len() as u64;
        if n > max {
            out.push(
                Violation::new(
                    &text.field,
                    "too_many",
                    format!("the caption has {n} hashtags; the limit is {max}"),
                )
                .figures(max, n),
            );
        }
    }
    if let Some(max) = rules.max_mentions {
        let n = extract_mentions(&text.text).len() as u64;
        if n > max {
            out.push(
                Violation::new(
                    &text.field,
                    "too_many",
                    format!("the caption has {n} @-mentions; the limit is {max}"),
                )
                .figures(max, n),
            );
        }
    }
}
