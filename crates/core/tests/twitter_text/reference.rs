//! X's post length against the reference implementation, twitter-text (included by
//! `post_rules.rs`).
//!
//! 1. The official conformance cases (`tests/data/twitter-text/validate.yml`, twitter-text at
//!    30e2430; see the README there): lengths and validity under configs v1–v3, usernames,
//!    lists, hashtags, URLs with and without a protocol.
//! 2. Differential: the npm package `twitter-text` 3.1.0 (`tests/twitter-text`, installed by
//!    `scripts/install-test-deps.sh`) and Switchboard judge the same thousands of generated posts
//!    near the limit; weighted length, validity and the URLs, mentions and hashtags found must be
//!    equal for every one.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use switchboard_core::post_rules::twitter_text::{
    extract_hashtags_with_indices, extract_mentions_or_lists, extract_urls, is_valid_hashtag,
    is_valid_list, is_valid_url, is_valid_username, parse, Config, CONFIG_V1, CONFIG_V2, CONFIG_V3,
};
use yaml_rust2::{Yaml, YamlLoader};

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn conformance() -> Yaml {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/twitter-text/validate.yml");
    let text = std::fs::read_to_string(&path).expect("validate.yml");
    YamlLoader::load_from_str(&text)
        .expect("validate.yml parses")
        .remove(0)
}

fn cases<'a>(doc: &'a Yaml, section: &str) -> &'a [Yaml] {
    let cases = doc["tests"][section]
        .as_vec()
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    assert!(!cases.is_empty(), "section {section} has cases");
    cases
}

/// A twitter-text validity function (`isValidUsername`, …).
type Validity = fn(&str) -> bool;

fn text(case: &Yaml) -> &str {
    case["text"].as_str().expect("text")
}

#[test]
fn config_v3_is_the_official_one() {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/twitter-text/config-v3.json");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("config")).expect("json");
    let c = CONFIG_V3;
    assert_eq!(json["version"], c.version);
    assert_eq!(json["maxWeightedTweetLength"], c.max_weighted_tweet_length);
    assert_eq!(json["scale"], c.scale);
    assert_eq!(json["defaultWeight"], c.default_weight);
    assert_eq!(json["emojiParsingEnabled"], c.emoji_parsing_enabled);
    assert_eq!(json["transformedURLLength"], c.transformed_url_length);
    let ranges: Vec<(u64, u64, u64)> = json["ranges"]
        .as_array()
        .expect("ranges")
        .iter()
        .map(|r| {
            (
                r["start"].as_u64().unwrap(),
                r["end"].as_u64().unwrap(),
                r["weight"].as_u64().unwrap(),
            )
        })
        .collect();
    let ours: Vec<(u64, u64, u64)> = c
        .ranges
        .iter()
        .map(|r| (r.start.into(), r.end.into(), r.weight.into()))
        .collect();
    assert_eq!(ranges, ours);
}

#[test]
fn conformance_validity_usernames_lists_hashtags_urls() {
    let doc = conformance();
    let mut failures = Vec::new();
    let mut count = 0;
    // `tweets` is the 140-character validity of config v1 (twitter-text's own runner uses it).
    for case in cases(&doc, "tweets") {
        count += 1;
        if parse(text(case), &CONFIG_V1).valid != case["expected"].as_bool().unwrap() {
            failures.push(format!("tweets: {}", case["description"].as_str().unwrap()));
        }
    }
    let checks: [(&str, Validity); 5] = [
        ("usernames", is_valid_username),
        ("lists", is_valid_list),
        ("hashtags", is_valid_hashtag),
        ("urls", is_valid_url),
        // A URL without protocol is valid when twitter-text extracts it whole.
        (
            "urls_without_protocol",
            |t| matches!(extract_urls(t).as_slice(), [u] if u.url == t),
        ),
    ];
    for (section, check) in checks {
        for case in cases(&doc, section) {
            count += 1;
            if check(text(case)) != case["expected"].as_bool().unwrap() {
                failures.push(format!(
                    "{section}: {} ({:?})",
                    case["description"].as_str().unwrap(),
                    text(case)
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {count} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn conformance_weighted_lengths() {
    let doc = conformance();
    let sections: [(&str, Config); 3] = [
        ("WeightedTweetsCounterTest", CONFIG_V2),
        ("WeightedTweetsWithDiscountedEmojiCounterTest", CONFIG_V3),
        ("UnicodeDirectionalMarkerCounterTest", CONFIG_V3),
    ];
    let mut failures = Vec::new();
    let mut count = 0;
    for (section, config) in sections {
        for case in cases(&doc, section) {
            count += 1;
            let r = parse(text(case), &config);
            let e = &case["expected"];
            let want = (
                e["weightedLength"].as_i64().unwrap(),
                e["valid"].as_bool().unwrap(),
                e["permillage"].as_i64().unwrap(),
                e["displayRangeStart"].as_i64().unwrap(),
                e["displayRangeEnd"].as_i64().unwrap(),
                e["validRangeStart"].as_i64().unwrap(),
                e["validRangeEnd"].as_i64().unwrap(),
            );
            let got = (
                r.weighted_length as i64,
                r.valid,
                r.permillage as i64,
                r.display_range_start,
                r.display_range_end,
                r.valid_range_start,
                r.valid_range_end,
            );
            if got != want {
                failures.push(format!(
                    "{section}: {}: got {got:?}, want {want:?}",
                    case["description"].as_str().unwrap()
                ));
            }
        }
    }
    assert!(count > 40, "only {count} weighted cases");
    assert!(
        failures.is_empty(),
        "{} of {count} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

// ---- differential against the npm package ----

/// splitmix64: a fixed, seeded sequence, so every run judges the same posts.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const WORDS: &[&str] = &[
    "hello",
    "launch",
    "today",
    "a",
    "I",
    "RT",
    "rt",
    "ok",
    "Über",
    "café",
    "naïve",
    "señor",
    "straße",
    "ſtar",
    "K",
    "Å",
    "İstanbul",
    "ıi",
    "über",
];
const CJK: &[&str] = &[
    "你好",
    "世界",
    "こんにちは",
    "カタカナ",
    "한국어",
    "漢字",
    "ｶﾀｶﾅ",
    "１２３",
];
const RTL: &[&str] = &[
    "مرحبا",
    "שלום",
    "العربية",
    "\u{200F}",
    "\u{200E}",
    "\u{202B}",
    "\u{202C}",
    "\u{2067}",
    "\u{2069}",
    "\u{061C}",
];
const MARKS: &[&str] = &[
    "e\u{301}",
    "a\u{308}",
    "n\u{303}",
    "\u{301}",
    "o\u{302}\u{323}",
    "\u{1100}\u{1161}\u{11A8}",
    "\u{0915}\u{094D}\u{0937}",
    "ก\u{0E31}",
    "Z\u{0351}\u{0352}\u{0357}",
    "\u{212B}",
    "\u{2126}",
];
const EMOJI: &[&str] = &[
    "😀",
    "👍",
    "👍🏽",
    "👨‍👩‍👧‍👦",
    "👩‍💻",
    "🏳️‍🌈",
    "🏴‍☠️",
    "🇫🇷",
    "🇯🇵",
    "🇺🇳",
    "🇦",
    "❤️",
    "❤",
    "❤\u{FE0E}",
    "☺",
    "☺️",
    "#️⃣",
    "1️⃣",
    "*⃣",
    "🧑🏿‍🦱",
    "🫠",
    "🥹",
    "🫶🏼",
    "👁️‍🗨️",
    "🏃‍♀️",
    "🏃🏻‍♂️",
    "🧔‍♀️",
    "🐱",
    "🦄",
    "🏴󠁧󠁢󠁳󠁣󠁴󠁿",
    "©",
    "©️",
    "™",
    "\u{200D}",
    "\u{FE0F}",
    "🏻",
    "😀\u{200D}😀",
];
const URLS: &[&str] = &[
    "https://example.com",
    "http://example.com/path?q=1&r=2#frag",
    "https://www.example.co.uk/a/b_(c)",
    "example.org",
    "example.org/path",
    "www.example.com",
    "foo.co.jp",
    "t.co",
    "https://t.co/abc123",
    "https://t.co/abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGH",
    "http://t.co/abc?x=1",
    "example.notatld",
    "example.com.",
    "sub.example.museum",
    "https://例え.jp/パス",
    "例え.jp",
    "http://☃.net/",
    "xn--bcher-kva.example",
    "https://bücher.de/x",
    "bücher.de",
    "HTTPS://EXAMPLE.COM/UPPER",
    "http://localhost:8080",
    "https://example.com:8443/p",
    "http://192.168.0.1/",
    "ftp://example.com",
    "https://example.com/Русские_слова",
    "https://example.com/?q=a+b",
    "a.b.c.d.example.io",
    "mailto:me@example.com",
    "me@example.com",
    "https://example.com/😀",
    "example.com/#anchor",
    "https://x.com/user/status/1234567890",
    "test.-twitter.com",
    "http://www.-domain.com/",
    "example.рф",
    "https://example.рус/путь",
    "example.ελ",
    "https://en.wikipedia.org/wiki/Rust_(programming_language)",
];
const MENTIONS: &[&str] = &[
    "@user",
    "@user_name",
    "@12345",
    "@a",
    "@toolongusername_over20chars",
    "@user/list",
    "@user/list-name",
    "＠fullwidth",
    "@user@",
    "@é",
    "@user:",
    "RT @user:",
    "rt@user",
    "@user.",
    "email@example.com",
];
const TAGS: &[&str] = &[
    "#tag",
    "#Tag2",
    "#123",
    "#1st",
    "＃全角",
    "#日本語",
    "#한국어",
    "#ашок",
    "#tag_with_under",
    "#café",
    "#ñ",
    "#تاغ",
    "#tag#tag",
    "#️⃣",
    "#\u{FE0F}",
    "$AAPL",
    "$aapl",
    "$BRK.A",
    "$123",
    "$TOOLONGCASH",
    "#tag!",
    "#x\u{301}",
];
const PUNCT: &[&str] = &[
    ".", ",", "!", "?", ":", ";", "\"", "'", "(", ")", "[", "]", "/", "-", "_", "…", "—", "“", "”",
    "«", "»", "。", "、", "·", "&", "<", ">", "*", "~", "|", "%", "+", "=",
];
const SPACES: &[&str] = &[" ", " ", " ", "\n", "\u{3000}", "\u{00A0}", "\t", ""];
const RARE: &[&str] = &[
    "\u{FFFE}",
    "\u{FEFF}",
    "\u{FFFF}",
    "\u{1F600}",
    "\u{10FFFF}",
    "\u{E000}",
];

/// One post: pieces of every kind, glued with or without spaces and punctuation, grown until
/// it is near X's limit (weighted 250–300) or, sometimes, short.
fn generate(rng: &mut Rng) -> String {
    let target = if rng.below(10) == 0 {
        rng.below(60)
    } else {
        250 + rng.below(51)
    };
    let mut s = String::new();
    let mut estimate = 0;
    let mut guard = 0;
    while guard < 400 {
        guard += 1;
        let piece = match rng.below(20) {
            0..=4 => rng.pick(WORDS),
            5..=6 => rng.pick(CJK),
            7 => rng.pick(RTL),
            8 => rng.pick(MARKS),
            9..=11 => rng.pick(EMOJI),
            12..=13 => rng.pick(URLS),
            14..=15 => rng.pick(MENTIONS),
            16..=17 => rng.pick(TAGS),
            18 => rng.pick(PUNCT),
            _ => {
                if rng.below(8) == 0 {
                    rng.pick(RARE)
                } else {
                    rng.pick(PUNCT)
                }
            }
        };
        if rng.below(4) == 0 {
            let p = rng.pick(PUNCT);
            estimate += estimate_weight(p);
            s.push_str(p);
        }
        s.push_str(piece);
        if rng.below(3) != 0 {
            let sp = rng.pick(SPACES);
            estimate += estimate_weight(sp);
            s.push_str(sp);
        }
        // A cheap estimate steers the length; the judges below count exactly.
        estimate += if URLS.contains(&piece) {
            23
        } else if EMOJI.contains(&piece) {
            2
        } else {
            estimate_weight(piece)
        };
        if estimate >= target {
            break;
        }
    }
    s
}

/// Config v3's weight of `s` without its URL and emoji rules (a generator's estimate only).
fn estimate_weight(s: &str) -> usize {
    s.chars()
        .map(|c| match c as u32 {
            0..=0x10FF | 0x2000..=0x200D | 0x2010..=0x201F | 0x2032..=0x2037 => 1,
            _ => 2,
        })
        .sum()
}

type Entities = Vec<(String, usize, usize)>;

fn ours(text: &str) -> serde_json::Value {
    let r = parse(text, &CONFIG_V3);
    let urls: Entities = extract_urls(text)
        .into_iter()
        .map(|u| (u.url, u.start, u.end))
        .collect();
    let mentions: Entities = extract_mentions_or_lists(text)
        .into_iter()
        .map(|m| (format!("{}{}", m.screen_name, m.list_slug), m.start, m.end))
        .collect();
    let hashtags: Entities = extract_hashtags_with_indices(text, true)
        .into_iter()
        .map(|h| (h.hashtag, h.start, h.end))
        .collect();
    serde_json::json!({
        "weightedLength": r.weighted_length,
        "valid": r.valid,
        "permillage": r.permillage,
        "validRangeEnd": r.valid_range_end,
        "urls": urls,
        "mentions": mentions,
        "hashtags": hashtags,
    })
}

/// The posts of the differential test: the hand-picked ones that broke before (the emoji right
/// before `@user` that panicked the `twitter-text` crate, protocol-less URLs), then generated ones.
fn differential_posts() -> Vec<String> {
    let mut posts: Vec<String> = vec![
        "😀@user".into(),
        "👍🏽@user hello".into(),
        "你好@user".into(),
        "é@user".into(),
        "😀#tag".into(),
        "😀$CASH".into(),
        "😀example.com".into(),
        "visit example.org".into(),
        "example.org".into(),
        format!("{} example.org", "a".repeat(257)),
        format!("{} example.org", "a".repeat(258)),
    ];
    let mut rng = Rng(0x5157_C4B0_A2D0_0011);
    while posts.len() < 4000 {
        posts.push(generate(&mut rng));
    }
    posts
}

#[test]
fn differential_against_npm_twitter_text() {
    let dir = repo_root().join("tests/twitter-text");
    assert!(
        dir.join("node_modules/twitter-text/package.json").exists(),
        "the reference implementation is not installed: run scripts/install-test-deps.sh \
         (npm ci in tests/twitter-text)"
    );
    let posts = differential_posts();
    let mut input = String::new();
    for p in &posts {
        input.push_str(&serde_json::to_string(p).unwrap());
        input.push('\n');
    }
    let mut child = Command::new("node")
        .arg("judge.cjs")
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("node runs (Node.js >= 20)");
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let output = child.wait_with_output().expect("node finishes");
    writer.join().unwrap().expect("posts written to node");
    assert!(output.status.success(), "judge.cjs failed");
    let theirs: Vec<serde_json::Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("judge output"))
        .collect();
    assert_eq!(theirs.len(), posts.len());

    let started = std::time::Instant::now();
    let mut near_limit = 0;
    let mut over = 0;
    let mut disagreements = Vec::new();
    for (post, want) in posts.iter().zip(&theirs) {
        assert!(
            want.get("error").is_none(),
            "twitter-text threw on {post:?}: {want}"
        );
        let wl = want["weightedLength"].as_u64().unwrap();
        if (250..=310).contains(&wl) {
            near_limit += 1;
        }
        if !want["valid"].as_bool().unwrap() {
            over += 1;
        }
        // A panic here fails the test with the post in the message.
        let got = std::panic::catch_unwind(|| ours(post))
            .unwrap_or_else(|_| panic!("Switchboard panicked on {post:?}"));
        if &got != want {
            disagreements.push(format!(
                "{post:?}\n  twitter-text: {want}\n  Switchboard:  {got}"
            ));
        }
    }
    eprintln!(
        "judged {} posts ({near_limit} near the limit, {over} invalid) in {:?}",
        posts.len(),
        started.elapsed()
    );
    assert!(near_limit >= 2800, "only {near_limit} posts near the limit");
    assert!(over >= 300, "only {over} invalid posts");
    assert!(
        disagreements.is_empty(),
        "{} of {} posts judged differently, e.g.:\n{}",
        disagreements.len(),
        posts.len(),
        disagreements
            .iter()
            .take(10)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}
