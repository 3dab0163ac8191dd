//! X's post length and entities exactly as the official twitter-text counts them.
//!
//! A port of the reference implementation, the npm package `twitter-text` 3.1.0
//! (<https://github.com/twitter/twitter-text>, `js/src/parseTweet.js`, `extractUrlsWithIndices.js`,
//! `extractMentionsOrListsWithIndices.js`, `extractHashtagsWithIndices.js`, `isValidUrl.js`,
//! `lib/idna.js`; Copyright 2018 Twitter, Inc., Apache License 2.0), with its emoji parser
//! `twemoji-parser` 11.0.2 (MIT). The regular expressions are theirs, translated by
//! `tests/twitter-text/gen-regexes.cjs` into [`regexes`]; the code around them follows the
//! JavaScript step by step, in UTF-16 code units where the JavaScript counts in them, quirks
//! included. `crates/core/tests/twitter_text/reference.rs` runs the official conformance cases
//! and compares this module with the npm package over thousands of generated posts.
//!
//! No input panics: every index is checked, and a regular expression that gives up (the
//! backtracking limit of `fancy-regex`) ends that search as if nothing more matched.
//!
//! All indices are UTF-16 code unit offsets, as twitter-text gives them.

mod regexes;

use std::collections::HashMap;
use std::sync::LazyLock;

use fancy_regex::Regex;
use unicode_normalization::UnicodeNormalization;

/// One of twitter-text's regular expressions: `full` as JavaScript has it (look-arounds need
/// `fancy-regex`'s backtracking), and, when it has look-arounds, `prefilter`, the same pattern
/// without them (a superset) for the `regex` crate's linear-time search. No match of `full` can
/// start before the first match of `prefilter`, so each search starts there.
struct JsRegex {
    full: Regex,
    prefilter: Option<regex::Regex>,
}

impl JsRegex {
    fn new(name: &str, pattern: &str, prefilter: Option<&str>) -> Self {
        // The patterns are constants of this crate, compiled by its tests; a failure is a build
        // defect, not an input's doing.
        let full = Regex::new(pattern).unwrap_or_else(|e| panic!("twitter-text {name}: {e}"));
        let prefilter = prefilter.map(|p| {
            regex::RegexBuilder::new(p)
                .size_limit(64 << 20)
                .dfa_size_limit(64 << 20)
                .build()
                .unwrap_or_else(|e| panic!("twitter-text {name} prefilter: {e}"))
        });
        JsRegex { full, prefilter }
    }

    /// Where a match can start at or after `pos`; `None` when none can.
    fn candidate(&self, text: &str, pos: usize) -> Option<usize> {
        match &self.prefilter {
            Some(p) => p.find_at(text, pos).map(|m| m.start()),
            None => Some(pos),
        }
    }

    fn captures_from_pos<'t>(
        &self,
        text: &'t str,
        pos: usize,
    ) -> Option<fancy_regex::Captures<'t, str>> {
        let start = self.candidate(text, pos)?;
        self.full.captures_from_pos(text, start).ok().flatten()
    }

    fn captures<'t>(&self, text: &'t str) -> Option<fancy_regex::Captures<'t, str>> {
        self.captures_from_pos(text, 0)
    }

    fn find<'t>(&self, text: &'t str) -> Option<fancy_regex::Match<'t>> {
        let start = self.candidate(text, 0)?;
        self.full.find_from_pos(text, start).ok().flatten()
    }

    fn is_match(&self, text: &str) -> bool {
        self.find(text).is_some()
    }
}

macro_rules! regex {
    ($name:ident, $pre:ident) => {
        static $name: LazyLock<JsRegex> =
            LazyLock::new(|| JsRegex::new(stringify!($name), regexes::$name, regexes::$pre));
    };
}
regex!(EXTRACT_URL, EXTRACT_URL_PREFILTER);
regex!(VALID_ASCII_DOMAIN, VALID_ASCII_DOMAIN_PREFILTER);
regex!(
    INVALID_URL_WITHOUT_PROTOCOL_PRECEDING_CHARS,
    INVALID_URL_WITHOUT_PROTOCOL_PRECEDING_CHARS_PREFILTER
);
regex!(VALID_TCO_URL, VALID_TCO_URL_PREFILTER);
regex!(VALID_HASHTAG, VALID_HASHTAG_PREFILTER);
regex!(END_HASHTAG_MATCH, END_HASHTAG_MATCH_PREFILTER);
regex!(HASH_SIGNS, HASH_SIGNS_PREFILTER);
regex!(VALID_MENTION_OR_LIST, VALID_MENTION_OR_LIST_PREFILTER);
regex!(END_MENTION_MATCH, END_MENTION_MATCH_PREFILTER);
regex!(AT_SIGNS, AT_SIGNS_PREFILTER);
regex!(VALIDATE_URL_UNENCODED, VALIDATE_URL_UNENCODED_PREFILTER);
regex!(VALIDATE_URL_SCHEME, VALIDATE_URL_SCHEME_PREFILTER);
regex!(
    VALIDATE_URL_UNICODE_AUTHORITY,
    VALIDATE_URL_UNICODE_AUTHORITY_PREFILTER
);
regex!(VALIDATE_URL_PATH, VALIDATE_URL_PATH_PREFILTER);
regex!(VALIDATE_URL_QUERY, VALIDATE_URL_QUERY_PREFILTER);
regex!(VALIDATE_URL_FRAGMENT, VALIDATE_URL_FRAGMENT_PREFILTER);
regex!(EMOJI, EMOJI_PREFILTER);
static VALID_LIST: LazyLock<JsRegex> = LazyLock::new(|| {
    JsRegex::new(
        "VALID_LIST",
        &format!("^{}$", regexes::VALID_MENTION_OR_LIST),
        None,
    )
});

/// A weight range of a twitter-text configuration: code points `start..=end` weigh `weight`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WeightRange {
    /// First code point (inclusive).
    pub start: u32,
    /// Last code point (inclusive).
    pub end: u32,
    /// Weight of each code point in the range, in units of `scale`.
    pub weight: u32,
}

/// A twitter-text configuration (`config/v*.json` upstream).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// The configuration's version.
    pub version: u32,
    /// The limit, in weighted characters.
    pub max_weighted_tweet_length: u32,
    /// Weights are given in units of `1/scale` characters.
    pub scale: u32,
    /// Weight of a code point outside every range (and of an emoji), in units of `1/scale`.
    pub default_weight: u32,
    /// Whether an emoji sequence counts once (`default_weight`) as a whole.
    pub emoji_parsing_enabled: bool,
    /// What any URL counts, in characters, whatever its length.
    pub transformed_url_length: u32,
    /// The discounted ranges.
    pub ranges: &'static [WeightRange],
}

const V2_RANGES: [WeightRange; 4] = [
    WeightRange {
        start: 0,
        end: 4351,
        weight: 100,
    },
    WeightRange {
        start: 8192,
        end: 8205,
        weight: 100,
    },
    WeightRange {
        start: 8208,
        end: 8223,
        weight: 100,
    },
    WeightRange {
        start: 8242,
        end: 8247,
        weight: 100,
    },
];

/// Configuration v1: 140 characters, every code point 1 (twitter-text `configs.version1`).
pub const CONFIG_V1: Config = Config {
    version: 1,
    max_weighted_tweet_length: 140,
    scale: 1,
    default_weight: 1,
    emoji_parsing_enabled: false,
    transformed_url_length: 23,
    ranges: &[],
};

/// Configuration v2: 280 weighted characters, CJK and most other scripts 2 (`configs.version2`).
pub const CONFIG_V2: Config = Config {
    version: 2,
    max_weighted_tweet_length: 280,
    scale: 100,
    default_weight: 200,
    emoji_parsing_enabled: false,
    transformed_url_length: 23,
    ranges: &V2_RANGES,
};

/// Configuration v3, what X uses today: v2 plus every emoji sequence counting 2
/// (`configs.version3`, upstream `config/v3.json`).
pub const CONFIG_V3: Config = Config {
    version: 3,
    emoji_parsing_enabled: true,
    ..CONFIG_V2
};

/// What [`parse`] finds: twitter-text's `parseTweet` result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseResults {
    /// The weighted length in characters (X's limit applies to this).
    pub weighted_length: u64,
    /// Not empty, within the limit, and free of invalid characters (U+FFFE, U+FEFF, U+FFFF).
    pub valid: bool,
    /// `weighted_length` per thousand of the limit, rounded down.
    pub permillage: u64,
    /// Always 0.
    pub valid_range_start: i64,
    /// Last UTF-16 index still within the limit (inclusive).
    pub valid_range_end: i64,
    /// Always 0.
    pub display_range_start: i64,
    /// Last UTF-16 index of the text (inclusive; 0 for an empty text).
    pub display_range_end: i64,
}

/// Length in UTF-16 code units.
fn u16len(s: &str) -> usize {
    s.chars().map(char::len_utf16).sum()
}

/// Maps byte offsets of one text to UTF-16 offsets.
struct Utf16Offsets(Vec<usize>);

impl Utf16Offsets {
    fn new(text: &str) -> Self {
        let mut at = vec![0; text.len() + 1];
        let mut units = 0;
        for (b, c) in text.char_indices() {
            at[b] = units;
            units += c.len_utf16();
        }
        at[text.len()] = units;
        Utf16Offsets(at)
    }

    /// The UTF-16 offset of byte offset `b` (a char boundary).
    fn at(&self, b: usize) -> usize {
        self.0.get(b).copied().unwrap_or(0)
    }
}

/// Every match of `re` in `text` with its groups, as JavaScript's global `exec`/`replace` loop
/// visits them: each search starts where the previous match ended.
fn for_each_captures(re: &JsRegex, text: &str, mut f: impl FnMut(&fancy_regex::Captures<'_, str>)) {
    let mut pos = 0;
    while pos <= text.len() {
        let Some(caps) = re.captures_from_pos(text, pos) else {
            return;
        };
        let Some(m) = caps.get(0) else { return };
        f(&caps);
        pos = if m.end() > m.start() {
            m.end()
        } else {
            // an empty match: step over one character, as JavaScript's `replace` does
            m.end() + text[m.end()..].chars().next().map_or(1, char::len_utf8)
        };
    }
}

fn group<'t>(caps: &fancy_regex::Captures<'t, str>, i: usize) -> &'t str {
    caps.get(i).map_or("", |m| m.as_str())
}

/// True when `re` matches somewhere in `text` (a regex that gives up counts as no match).
fn found(re: &JsRegex, text: &str) -> bool {
    re.is_match(text)
}

/// `text` in Unicode Normalization Form C, as twitter-text counts it and X stores it.
pub fn nfc(text: &str) -> String {
    text.nfc().collect()
}

/// twitter-text's `parseTweet(text, config)`: the weighted length and validity of a post.
///
/// The text is NFC-normalised; each URL found by [`extract_urls`] counts
/// `transformed_url_length`; with emoji parsing each emoji sequence (twemoji) counts
/// `default_weight`; every other code point weighs as its range says (an astral one by its low
/// surrogate, so the default weight).
pub fn parse(text: &str, config: &Config) -> ParseResults {
    let normalized: String = text.nfc().collect();
    let scale = u64::from(config.scale.max(1));
    let mut url_at: HashMap<usize, usize> = HashMap::new();
    for url in extract_urls(&normalized) {
        url_at.insert(url.start, u16len(&url.url));
    }
    let mut emoji_at: HashMap<usize, usize> = HashMap::new();
    if config.emoji_parsing_enabled {
        for (start, len) in extract_emoji(&normalized) {
            emoji_at.insert(start, len);
        }
    }
    let units: Vec<u16> = normalized.encode_utf16().collect();
    let max_scaled = u64::from(config.max_weighted_tweet_length) * scale;
    let mut weighted: u64 = 0;
    let mut valid = true;
    let mut valid_display: i64 = 0;
    let mut i = 0usize;
    while i < units.len() {
        if let Some(&len) = url_at.get(&i) {
            weighted += u64::from(config.transformed_url_length) * scale;
            i += len.saturating_sub(1);
        } else if let Some(&len) = emoji_at.get(&i).filter(|_| config.emoji_parsing_enabled) {
            weighted += u64::from(config.default_weight);
            i += len.saturating_sub(1);
        } else {
            let pair = i + 1 < units.len()
                && (0xD800..=0xDBFF).contains(&units[i])
                && (0xDC00..=0xDFFF).contains(&units[i + 1]);
            if pair {
                i += 1;
            }
            weighted += u64::from(weight_of(units[i], config));
        }
        if valid {
            valid = !matches!(units.get(i), Some(0xFFFE | 0xFEFF | 0xFFFF));
        }
        if valid && weighted <= max_scaled {
            valid_display = i as i64;
        }
        i += 1;
    }
    let weighted_length = weighted / scale;
    let valid = valid
        && weighted_length > 0
        && weighted_length <= u64::from(config.max_weighted_tweet_length);
    let permillage = ((weighted_length as f64) / f64::from(config.max_weighted_tweet_length.max(1))
        * 1000.0)
        .floor() as u64;
    let text_len = u16len(text) as i64;
    let offset = text_len - units.len() as i64;
    ParseResults {
        weighted_length,
        valid,
        permillage,
        valid_range_start: 0,
        valid_range_end: valid_display + offset,
        display_range_start: 0,
        display_range_end: if text_len > 0 { text_len - 1 } else { 0 },
    }
}

fn weight_of(unit: u16, config: &Config) -> u32 {
    let c = u32::from(unit);
    config
        .ranges
        .iter()
        .find(|r| r.start <= c && c <= r.end)
        .map_or(config.default_weight, |r| r.weight)
}

/// The emoji sequences of `text` as twemoji-parser 11.0.2 finds them: `(start, length)` in UTF-16.
pub fn extract_emoji(text: &str) -> Vec<(usize, usize)> {
    let offsets = Utf16Offsets::new(text);
    let mut out = Vec::new();
    for_each_captures(&EMOJI, text, |caps| {
        if let Some(m) = caps.get(0) {
            let start = offsets.at(m.start());
            out.push((start, offsets.at(m.end()) - start));
        }
    });
    out
}

/// A URL found in a text, with its UTF-16 indices (`end` exclusive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlEntity {
    /// The URL as twitter-text reports it.
    pub url: String,
    /// UTF-16 index of its first code unit.
    pub start: usize,
    /// UTF-16 index after its last code unit.
    pub end: usize,
}

const MAX_URL_LENGTH: usize = 4096;
const MAX_TCO_SLUG_LENGTH: usize = 40;
const MAX_DOMAIN_LABEL_LENGTH: usize = 63;

/// twitter-text's `extractUrlsWithIndices(text)` with `extractUrlsWithoutProtocol: true`: URLs
/// with `http(s)://`, and without a protocol when the domain ends in a known TLD and is ASCII.
pub fn extract_urls(text: &str) -> Vec<UrlEntity> {
    let mut urls: Vec<UrlEntity> = Vec::new();
    if text.is_empty() || !text.contains('.') {
        return urls;
    }
    let offsets = Utf16Offsets::new(text);
    for_each_captures(&EXTRACT_URL, text, |caps| {
        let Some(whole) = caps.get(0) else { return };
        let before = group(caps, 2);
        let url = group(caps, 3);
        let protocol = group(caps, 4);
        let domain = group(caps, 5);
        let path = group(caps, 7);
        let end_position = offsets.at(whole.end());
        let start_position = end_position.saturating_sub(u16len(url));
        let protocol_for_length = if protocol.is_empty() {
            "https://"
        } else {
            protocol
        };
        if !is_valid_url_length(url, protocol_for_length, domain) {
            return;
        }
        if protocol.is_empty() {
            if found(&INVALID_URL_WITHOUT_PROTOCOL_PRECEDING_CHARS, before) {
                return;
            }
            let mut last: Option<usize> = None;
            let mut ascii_end = 0usize; // bytes into `domain`
            for_each_captures(&VALID_ASCII_DOMAIN, domain, |ascii_caps| {
                let Some(ascii) = ascii_caps.get(0).map(|m| m.as_str()) else {
                    return;
                };
                // `domain.indexOf(asciiDomain, asciiEndPosition)`
                let Some(found_at) = domain.get(ascii_end..).and_then(|rest| rest.find(ascii))
                else {
                    return;
                };
                let ascii_start = ascii_end + found_at;
                ascii_end = ascii_start + ascii.len();
                let start = start_position + u16len(&domain[..ascii_start]);
                urls.push(UrlEntity {
                    url: ascii.to_string(),
                    start,
                    end: start + u16len(ascii),
                });
                last = Some(urls.len() - 1);
            });
            let Some(last) = last else { return };
            if !path.is_empty() {
                let replaced = url.replacen(domain, &urls[last].url, 1);
                urls[last].url = replaced;
                urls[last].end = end_position;
            }
        } else {
            let mut url = url.to_string();
            let mut end = end_position;
            if let Some(tco) = VALID_TCO_URL.captures(url.as_str()) {
                let slug = group(&tco, 1);
                if u16len(slug) > MAX_TCO_SLUG_LENGTH {
                    return;
                }
                let matched = group(&tco, 0).to_string();
                end = start_position + u16len(&matched);
                url = matched;
            }
            urls.push(UrlEntity {
                url,
                start: start_position,
                end,
            });
        }
    });
    urls
}

/// `isValidUrl` of `extractUrlsWithIndices.js`: the domain passes `idna.toAscii` and the URL
/// with its protocol fits 4,096 UTF-16 units.
fn is_valid_url_length(url: &str, protocol: &str, domain: &str) -> bool {
    if domain.starts_with("xn--") && !found(&VALID_ASCII_DOMAIN, domain) {
        return false;
    }
    // `idna.toAscii` checks each label's punycode length and returns the domain unchanged, so
    // the URL's length is its own.
    if !domain.split('.').all(|label| {
        let n = punycode_to_ascii_len(label);
        (1..=MAX_DOMAIN_LABEL_LENGTH).contains(&n)
    }) {
        return false;
    }
    u16len(protocol) + u16len(url) <= MAX_URL_LENGTH
}

/// The length of punycode.js 1.4.1's `toASCII(label)`: the label split again at the other
/// full stops (U+3002, U+FF0E, U+FF61), each part holding a non-printable-ASCII character
/// encoded as `xn--` + punycode; 0 when the encoding overflows (punycode.js throws there).
fn punycode_to_ascii_len(label: &str) -> usize {
    let dotted: String = label
        .chars()
        .map(|c| match c {
            '\u{3002}' | '\u{FF0E}' | '\u{FF61}' => '.',
            c => c,
        })
        .collect();
    let mut total = 0;
    for (i, part) in dotted.split('.').enumerate() {
        if i > 0 {
            total += 1;
        }
        if part.chars().any(|c| !(' '..='~').contains(&c)) {
            match idna::punycode::encode_str(part) {
                Some(encoded) => total += 4 + encoded.len(),
                None => return 0,
            }
        } else {
            total += part.len();
        }
    }
    total
}

/// An @-mention or @user/list found in a text, with its UTF-16 indices (`end` exclusive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MentionEntity {
    /// The screen name, without the `@`.
    pub screen_name: String,
    /// `/list` for a list, else empty.
    pub list_slug: String,
    /// UTF-16 index of the `@`.
    pub start: usize,
    /// UTF-16 index after the name (or list).
    pub end: usize,
}

/// twitter-text's `extractMentionsOrListsWithIndices(text)`.
pub fn extract_mentions_or_lists(text: &str) -> Vec<MentionEntity> {
    let mut out = Vec::new();
    if text.is_empty() || !found(&AT_SIGNS, text) {
        return out;
    }
    let offsets = Utf16Offsets::new(text);
    for_each_captures(&VALID_MENTION_OR_LIST, text, |caps| {
        let Some(whole) = caps.get(0) else { return };
        if found(&END_MENTION_MATCH, &text[whole.end()..]) {
            return;
        }
        let before = group(caps, 1);
        let screen_name = group(caps, 3);
        let list_slug = group(caps, 4);
        let start = offsets.at(whole.start()) + u16len(before);
        out.push(MentionEntity {
            screen_name: screen_name.to_string(),
            list_slug: list_slug.to_string(),
            start,
            end: start + u16len(screen_name) + u16len(list_slug) + 1,
        });
    });
    out
}

/// twitter-text's `extractMentions(text)`: the screen names of the mentions that are not lists.
pub fn extract_mentions(text: &str) -> Vec<String> {
    extract_mentions_or_lists(text)
        .into_iter()
        .filter(|m| m.list_slug.is_empty())
        .map(|m| m.screen_name)
        .collect()
}

/// A hashtag found in a text, with its UTF-16 indices (`end` exclusive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashtagEntity {
    /// The hashtag, without the `#`.
    pub hashtag: String,
    /// UTF-16 index of the `#`.
    pub start: usize,
    /// UTF-16 index after the hashtag.
    pub end: usize,
}

/// twitter-text's `extractHashtagsWithIndices(text, {checkUrlOverlap})`: with the check, a
/// hashtag overlapping a URL (`example.com/#anchor`) is not one.
pub fn extract_hashtags_with_indices(text: &str, check_url_overlap: bool) -> Vec<HashtagEntity> {
    let mut tags = Vec::new();
    if text.is_empty() || !found(&HASH_SIGNS, text) {
        return tags;
    }
    let offsets = Utf16Offsets::new(text);
    for_each_captures(&VALID_HASHTAG, text, |caps| {
        let Some(whole) = caps.get(0) else { return };
        if found(&END_HASHTAG_MATCH, &text[whole.end()..]) {
            return;
        }
        let before = group(caps, 1);
        let hashtag = group(caps, 3);
        let start = offsets.at(whole.start()) + u16len(before);
        tags.push(HashtagEntity {
            hashtag: hashtag.to_string(),
            start,
            end: start + u16len(hashtag) + 1,
        });
    });
    if check_url_overlap {
        let urls = extract_urls(text);
        if !urls.is_empty() {
            // `removeOverlappingEntities`: a stable sort by start, then each entity starting
            // before the previous kept one ends is dropped.
            let mut entities: Vec<(usize, usize, Option<usize>)> = tags
                .iter()
                .enumerate()
                .map(|(i, t)| (t.start, t.end, Some(i)))
                .chain(urls.iter().map(|u| (u.start, u.end, None)))
                .collect();
            entities.sort_by_key(|e| e.0);
            let mut kept: Vec<(usize, usize, Option<usize>)> = Vec::new();
            for e in entities {
                match kept.last() {
                    Some(prev) if prev.1 > e.0 => {}
                    _ => kept.push(e),
                }
            }
            let keep: Vec<usize> = kept.into_iter().filter_map(|e| e.2).collect();
            tags = keep.into_iter().map(|i| tags[i].clone()).collect();
        }
    }
    tags
}

/// twitter-text's `extractHashtags(text)`: the hashtags, without `#`, URL overlaps removed.
pub fn extract_hashtags(text: &str) -> Vec<String> {
    extract_hashtags_with_indices(text, true)
        .into_iter()
        .map(|t| t.hashtag)
        .collect()
}

/// `text` without its first UTF-16 code unit, when that unit is a whole character.
fn after_first_unit(text: &str) -> Option<&str> {
    let first = text.chars().next()?;
    (first.len_utf16() == 1).then(|| &text[first.len_utf8()..])
}

/// twitter-text's `isValidUsername`: `text` is exactly one @-mention.
pub fn is_valid_username(text: &str) -> bool {
    let names = extract_mentions(text);
    names.len() == 1 && Some(names[0].as_str()) == after_first_unit(text)
}

/// twitter-text's `isValidList`: `text` is exactly one `@user/list`.
pub fn is_valid_list(text: &str) -> bool {
    match VALID_LIST.captures(text) {
        Some(caps) => group(&caps, 1).is_empty() && !group(&caps, 4).is_empty(),
        _ => false,
    }
}

/// twitter-text's `isValidHashtag`: `text` is exactly one hashtag.
pub fn is_valid_hashtag(text: &str) -> bool {
    let tags = extract_hashtags(text);
    tags.len() == 1 && Some(tags[0].as_str()) == after_first_unit(text)
}

/// `isValidMatch`: the first match of `re` in `s` is the whole of `s`; an absent or empty
/// optional part passes.
fn whole_match(re: &JsRegex, s: Option<&str>, optional: bool) -> bool {
    match s {
        None => optional,
        Some("") if optional => true,
        Some(s) => re.find(s).is_some_and(|m| m.as_str() == s),
    }
}

/// twitter-text's `isValidUrl(url)` (Unicode domains allowed, protocol required): an `http` or
/// `https` URL whose parts are valid per RFC 3986 as twitter-text reads it.
pub fn is_valid_url(url: &str) -> bool {
    if url.is_empty() {
        return false;
    }
    let Some(parts) = VALIDATE_URL_UNENCODED.captures(url) else {
        return false;
    };
    if parts.get(0).map(|m| m.as_str()) != Some(url) {
        return false;
    }
    let part = |i| parts.get(i).map(|m| m.as_str());
    let scheme = part(1);
    let scheme_ok = whole_match(&VALIDATE_URL_SCHEME, scheme, false)
        && scheme
            .is_some_and(|s| s.eq_ignore_ascii_case("http") || s.eq_ignore_ascii_case("https"));
    scheme_ok
        && whole_match(&VALIDATE_URL_PATH, part(3), false)
        && whole_match(&VALIDATE_URL_QUERY, part(4), true)
        && whole_match(&VALIDATE_URL_FRAGMENT, part(5), true)
        && whole_match(&VALIDATE_URL_UNICODE_AUTHORITY, part(2), false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pattern_compiles() {
        for re in [
            &EXTRACT_URL,
            &VALID_ASCII_DOMAIN,
            &INVALID_URL_WITHOUT_PROTOCOL_PRECEDING_CHARS,
            &VALID_TCO_URL,
            &VALID_HASHTAG,
            &END_HASHTAG_MATCH,
            &HASH_SIGNS,
            &VALID_MENTION_OR_LIST,
            &END_MENTION_MATCH,
            &AT_SIGNS,
            &VALIDATE_URL_UNENCODED,
            &VALIDATE_URL_SCHEME,
            &VALIDATE_URL_UNICODE_AUTHORITY,
            &VALIDATE_URL_PATH,
            &VALIDATE_URL_QUERY,
            &VALIDATE_URL_FRAGMENT,
            &EMOJI,
            &VALID_LIST,
        ] {
            LazyLock::force(re);
        }
    }

    #[test]
    fn urls_without_protocol_count_23() {
        assert_eq!(parse("example.org", &CONFIG_V3).weighted_length, 23);
        assert_eq!(
            parse("see example.org/a?b=1 now", &CONFIG_V3).weighted_length,
            31
        );
        assert_eq!(parse("example.notatld", &CONFIG_V3).weighted_length, 15);
    }

    #[test]
    fn emoji_before_a_mention_does_not_panic() {
        let r = parse("😀@user #tag $CASH 👨‍👩‍👧 example.com", &CONFIG_V3);
        assert!(r.valid);
        assert_eq!(extract_mentions("😀@user"), vec!["user".to_string()]);
    }
}
