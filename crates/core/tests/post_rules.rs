//! One test per content rule of PLATFORMS.md, through the catalog's `[content]` tables, plus the
//! twitter-text weighting cases and the post model's parsing.

use chrono::{TimeZone, Utc};
use serde_json::json;
use switchboard_core::post::{PostContent, PostRequest, PublishAt};
use switchboard_core::post_rules::{twitter::weighted_length, validate, Violation};
use switchboard_core::Catalog;

fn content(v: serde_json::Value) -> PostContent {
    serde_json::from_value(v).expect("content parses")
}

fn check(platform: &str, v: serde_json::Value) -> Vec<Violation> {
    let mut catalog = Catalog::builtin().expect("catalog");
    // TikTok: the media of these tests are on a domain the operator verified for the app, and
    // each post chooses SELF_ONLY unless it says otherwise (the rules of both are tested apart).
    catalog.set_verified_domains("tiktok", &["cdn.example.com".to_string()]);
    let mut c = content(v);
    if platform == "tiktok" {
        c.overrides
            .entry("tiktok".into())
            .or_default()
            .privacy_level
            .get_or_insert_with(|| "SELF_ONLY".into());
    }
    validate(catalog.get(platform).expect("platform"), &c)
}

fn codes(vs: &[Violation]) -> Vec<(String, String)> {
    vs.iter()
        .map(|v| (v.field.clone(), v.code.clone()))
        .collect()
}

fn has(vs: &[Violation], field: &str, code: &str) -> bool {
    vs.iter().any(|v| v.field == field && v.code == code)
}

fn image(mime: &str, size: u64) -> serde_json::Value {
    json!({"url": "https://cdn.example.com/a.jpg", "kind": "image", "mime_type": mime, "size_bytes": size})
}

fn video(secs: f64, size: u64) -> serde_json::Value {
    json!({"url": "https://cdn.example.com/v.mp4", "kind": "video", "mime_type": "video/mp4", "duration_secs": secs, "size_bytes": size})
}

// ---- twitter-text weighting (config v3) ----

#[test]
fn x_ascii_280_is_valid_281_is_not() {
    let ok = "a".repeat(280);
    assert_eq!(weighted_length(&ok), 280);
    assert!(check("twitter", json!({"text": ok})).is_empty());
    let long = "a".repeat(281);
    let vs = check("twitter", json!({"text": long}));
    assert_eq!(codes(&vs), vec![("content.text".into(), "too_long".into())]);
    assert_eq!((vs[0].limit, vs[0].actual), (Some(280), Some(281)));
}

#[test]
fn x_cjk_counts_two() {
    assert_eq!(weighted_length("你好"), 4);
    assert_eq!(weighted_length("こんにちは"), 10);
    assert!(check("twitter", json!({"text": "你".repeat(140)})).is_empty());
    let vs = check("twitter", json!({"text": "你".repeat(141)}));
    assert_eq!(vs[0].actual, Some(282));
}

#[test]
fn x_latin_up_to_u10ff_and_general_punctuation_count_one() {
    // U+00E9, U+0416 (Cyrillic), U+2014 (em dash, in 8208..8223) weigh 100.
    assert_eq!(weighted_length("é Ж —"), 5);
    // U+2026 is not in the v3 ranges (8242..8247 is U+2032..U+2037): counts 2.
    assert_eq!(weighted_length("…"), 2);
}

#[test]
fn x_emoji_count_two_including_zwj_sequences_and_skin_tones() {
    assert_eq!(weighted_length("😀"), 2);
    assert_eq!(weighted_length("👍🏽"), 2, "emoji + skin tone modifier");
    assert_eq!(weighted_length("👨‍👩‍👧‍👦"), 2, "family ZWJ sequence");
    assert_eq!(weighted_length("🏳️‍🌈"), 2, "flag ZWJ sequence with VS16");
    assert_eq!(weighted_length("🇫🇷"), 2, "regional indicator pair");
    assert_eq!(weighted_length("hi 👋🏿"), 5);
    assert!(check("twitter", json!({"text": "👨‍👩‍👧‍👦".repeat(140)})).is_empty());
    assert!(!check("twitter", json!({"text": "👨‍👩‍👧‍👦".repeat(141)})).is_empty());
}

#[test]
fn x_every_url_counts_23() {
    assert_eq!(weighted_length("https://x.com"), 23);
    let long = format!("https://example.com/{}", "p".repeat(300));
    assert_eq!(weighted_length(&long), 23);
    assert_eq!(weighted_length(&format!("see {long}")), 27);
    // 256 ASCII + a space + a 320-character URL = 256 + 1 + 23 = 280.
    let text = format!("{} {long}", "a".repeat(256));
    assert_eq!(weighted_length(&text), 280);
    assert!(check("twitter", json!({"text": text})).is_empty());
}

#[test]
fn x_urls_without_protocol_count_23_as_twitter_text_counts_them() {
    // twitter-text wraps `example.org` in t.co too (docs.x.com/fundamentals/counting-characters).
    assert_eq!(weighted_length("example.org"), 23);
    assert_eq!(weighted_length("read example.org/docs?a=1 now"), 32);
    // Not a URL: no such TLD.
    assert_eq!(weighted_length("example.notatld"), 15);
    // 257 + space + example.org (23) = 281: refused, where counting its 11 characters accepted it.
    let text = format!("{} example.org", "a".repeat(257));
    assert_eq!(weighted_length(&text), 281);
    assert!(has(
        &check("twitter", json!({"text": text})),
        "content.text",
        "too_long"
    ));
}

#[test]
fn x_inputs_that_panicked_the_twitter_text_crate_are_counted() {
    // An emoji (a multi-byte character) right before `@user`, `#tag`, `$CASH` or a URL made the
    // `twitter-text` 0.3.1 crate index inside the character and panic.
    for (text, want) in [
        ("😀@user", 7),
        ("👍🏽@user hello", 13),
        ("你好@user", 9),
        ("😀#tag", 6),
        ("😀$CASH", 7),
        ("😀example.com", 25),
    ] {
        assert_eq!(weighted_length(text), want, "{text}");
    }
}

#[test]
fn x_huge_text_is_bounded_and_refused() {
    let text = "a.co ".repeat(200_000);
    let n = weighted_length(&text);
    assert!(n > 280, "{n}");
    assert!(has(
        &check("twitter", json!({"text": text})),
        "content.text",
        "too_long"
    ));
}

#[test]
fn instagram_counts_hashtags_of_a_caption_within_bounds_only() {
    let media = json!([image("image/jpeg", 1000)]);
    let vs = check(
        "instagram",
        json!({"text": "#a ".repeat(31), "media": media}),
    );
    assert!(has(&vs, "content.text", "too_many"), "{vs:?}");
    // Far past the caption limit: refused for its length, its hashtags left uncounted.
    let huge = "#a😀@b ".repeat(10_000);
    let vs = check("instagram", json!({"text": huge, "media": media}));
    assert!(has(&vs, "content.text", "too_long"), "{vs:?}");
    assert!(!has(&vs, "content.text", "too_many"), "{vs:?}");
}

#[test]
fn x_text_is_nfc_normalised_before_counting() {
    let decomposed = "e\u{0301}"; // e + combining acute accent, NFC: U+00E9
    assert_eq!(weighted_length(decomposed), 1);
    let text = decomposed.repeat(280);
    assert_eq!(text.chars().count(), 560);
    assert!(check("twitter", json!({"text": text})).is_empty());
}

#[test]
fn x_hashtags_are_appended_and_counted() {
    // 270 + "\n\n" + "#abcdefgh" (9) = 281
    let vs = check(
        "twitter",
        json!({"text": "a".repeat(270), "hashtags": ["abcdefgh"]}),
    );
    assert_eq!(vs.len(), 1, "{vs:?}");
    assert_eq!(vs[0].actual, Some(281));
    assert!(
        vs[0].message.contains("1 appended hashtags"),
        "{}",
        vs[0].message
    );
}

#[test]
fn x_override_replaces_the_shared_text() {
    let vs = check(
        "twitter",
        json!({"text": "a".repeat(400), "overrides": {"twitter": {"text": "short"}}}),
    );
    assert!(vs.is_empty(), "{vs:?}");
    let vs = check(
        "twitter",
        json!({"text": "ok", "overrides": {"twitter": {"text": "a".repeat(300)}}}),
    );
    assert!(
        has(&vs, "content.overrides.twitter.text", "too_long"),
        "{vs:?}"
    );
}

#[test]
fn x_needs_text_or_media() {
    assert!(has(
        &check("twitter", json!({"text": "  "})),
        "content.text",
        "required"
    ));
    assert!(check("twitter", json!({"media": [image("image/png", 1000)]})).is_empty());
}

#[test]
fn x_media_four_images_or_one_gif_or_one_video() {
    let four: Vec<_> = (0..4).map(|_| image("image/png", 1000)).collect();
    assert!(check("twitter", json!({"text": "t", "media": four})).is_empty());
    let five: Vec<_> = (0..5).map(|_| image("image/png", 1000)).collect();
    let vs = check("twitter", json!({"text": "t", "media": five}));
    assert!(has(&vs, "content.media", "too_many"), "{vs:?}");
    let two_videos = json!([video(10.0, 1000), video(10.0, 1000)]);
    assert!(has(
        &check("twitter", json!({"text": "t", "media": two_videos})),
        "content.media",
        "too_many"
    ));
    let gif = json!({"url": "https://cdn.example.com/a.gif", "kind": "gif"});
    let mixed = json!([image("image/png", 1000), gif]);
    assert!(has(
        &check("twitter", json!({"text": "t", "media": mixed})),
        "content.media",
        "mixed_media"
    ));
}

#[test]
fn x_image_at_most_5_mb_gif_at_most_15_mb() {
    assert!(check(
        "twitter",
        json!({"text": "t", "media": [image("image/png", 5_000_000)]})
    )
    .is_empty());
    let vs = check(
        "twitter",
        json!({"text": "t", "media": [image("image/png", 5_000_001)]}),
    );
    assert!(
        has(&vs, "content.media[0].size_bytes", "too_large"),
        "{vs:?}"
    );
    let gif = |size: u64| json!({"url": "https://cdn.example.com/a.gif", "kind": "gif", "size_bytes": size});
    assert!(check("twitter", json!({"text": "t", "media": [gif(15_000_000)]})).is_empty());
    assert!(has(
        &check("twitter", json!({"text": "t", "media": [gif(15_000_001)]})),
        "content.media[0].size_bytes",
        "too_large"
    ));
}

// ---- LinkedIn, Facebook ----

#[test]
fn linkedin_3000_characters() {
    assert!(check("linkedin", json!({"text": "é".repeat(3000)})).is_empty());
    let vs = check("linkedin", json!({"text": "é".repeat(3001)}));
    assert_eq!(
        (vs[0].code.as_str(), vs[0].limit, vs[0].actual),
        ("too_long", Some(3000), Some(3001))
    );
}

#[test]
fn facebook_63206_characters() {
    assert!(check("facebook", json!({"text": "a".repeat(63206)})).is_empty());
    let vs = check("facebook", json!({"text": "a".repeat(63207)}));
    assert_eq!((vs[0].limit, vs[0].actual), (Some(63206), Some(63207)));
}

// ---- Instagram ----

fn ig_ok() -> serde_json::Value {
    json!([image("image/jpeg", 1000)])
}

#[test]
fn instagram_caption_2200_characters() {
    assert!(check(
        "instagram",
        json!({"text": "a".repeat(2200), "media": ig_ok()})
    )
    .is_empty());
    let vs = check(
        "instagram",
        json!({"text": "a".repeat(2201), "media": ig_ok()}),
    );
    assert!(has(&vs, "content.text", "too_long"), "{vs:?}");
}

#[test]
fn instagram_at_most_30_hashtags_counting_appended_ones() {
    let tags: Vec<String> = (0..30).map(|i| format!("tag{i}")).collect();
    assert!(check(
        "instagram",
        json!({"text": "hi", "hashtags": tags, "media": ig_ok()})
    )
    .is_empty());
    let vs = check(
        "instagram",
        json!({"text": "hi #extra", "hashtags": tags, "media": ig_ok()}),
    );
    assert_eq!(vs.len(), 1, "{vs:?}");
    assert_eq!((vs[0].code.as_str(), vs[0].actual), ("too_many", Some(31)));
}

#[test]
fn instagram_at_most_20_mentions() {
    let text = |n: usize| {
        (0..n)
            .map(|i| format!("@user{i}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert!(check("instagram", json!({"text": text(20), "media": ig_ok()})).is_empty());
    let vs = check("instagram", json!({"text": text(21), "media": ig_ok()}));
    assert_eq!((vs[0].code.as_str(), vs[0].actual), ("too_many", Some(21)));
}

#[test]
fn instagram_media_required() {
    let vs = check("instagram", json!({"text": "text only"}));
    assert_eq!(
        codes(&vs),
        vec![("content.media".into(), "required".into())]
    );
}

#[test]
fn instagram_images_jpeg_only_at_most_8_mib() {
    assert!(check(
        "instagram",
        json!({"media": [image("image/jpeg", 8 * 1024 * 1024)]})
    )
    .is_empty());
    let vs = check(
        "instagram",
        json!({"media": [image("image/png", 1000), image("image/jpeg", 8 * 1024 * 1024 + 1)]}),
    );
    assert!(
        has(&vs, "content.media[0].mime_type", "unsupported_type"),
        "{vs:?}"
    );
    assert!(
        has(&vs, "content.media[1].size_bytes", "too_large"),
        "{vs:?}"
    );
}

#[test]
fn instagram_carousel_at_most_10_items_mixed_allowed() {
    let mut items: Vec<_> = (0..9).map(|_| image("image/jpeg", 1000)).collect();
    items.push(video(30.0, 1000));
    assert!(check("instagram", json!({"media": items.clone()})).is_empty());
    items.push(image("image/jpeg", 1000));
    let vs = check("instagram", json!({"media": items}));
    assert_eq!(
        (vs[0].code.as_str(), vs[0].limit, vs[0].actual),
        ("too_many", Some(10), Some(11))
    );
}

// ---- TikTok ----

#[test]
fn tiktok_video_or_photos_required() {
    assert!(has(
        &check("tiktok", json!({"text": "hi"})),
        "content.media",
        "required"
    ));
    let mixed = json!([video(10.0, 1000), image("image/jpeg", 1000)]);
    assert!(has(
        &check("tiktok", json!({"media": mixed})),
        "content.media",
        "mixed_media"
    ));
}

#[test]
fn tiktok_caption_2200_utf16_code_units() {
    // U+1F600 is two UTF-16 code units: 1100 emoji = 2200 units, ok; 1101 = 2202.
    let media = json!([video(10.0, 1000)]);
    assert!(check("tiktok", json!({"text": "😀".repeat(1100), "media": media})).is_empty());
    let vs = check("tiktok", json!({"text": "😀".repeat(1101), "media": media}));
    assert_eq!(
        (vs[0].field.as_str(), vs[0].actual),
        ("content.text", Some(2202))
    );
}

#[test]
fn tiktok_photos_at_most_35_jpg_or_webp() {
    let photos: Vec<_> = (0..35).map(|_| image("image/webp", 1000)).collect();
    assert!(check("tiktok", json!({"media": photos})).is_empty());
    let mut photos: Vec<_> = (0..36).map(|_| image("image/jpeg", 1000)).collect();
    photos[3] = image("image/png", 1000);
    let vs = check("tiktok", json!({"media": photos}));
    assert!(has(&vs, "content.media", "too_many"), "{vs:?}");
    assert!(
        has(&vs, "content.media[3].mime_type", "unsupported_type"),
        "{vs:?}"
    );
}

#[test]
fn tiktok_photo_title_90_description_4000() {
    let photos = json!([image("image/jpeg", 1000)]);
    // a photo post's description may exceed the 2,200 video caption limit
    assert!(check("tiktok", json!({"text": "a".repeat(4000), "media": photos})).is_empty());
    let vs = check(
        "tiktok",
        json!({"media": photos, "overrides": {"tiktok": {"title": "t".repeat(91), "description": "d".repeat(4001)}}}),
    );
    assert!(
        has(&vs, "content.overrides.tiktok.title", "too_long"),
        "{vs:?}"
    );
    assert!(
        has(&vs, "content.overrides.tiktok.description", "too_long"),
        "{vs:?}"
    );
}

#[test]
fn tiktok_video_at_most_4_gb_between_3_s_and_10_min() {
    assert!(check("tiktok", json!({"media": [video(3.0, 4_000_000_000)]})).is_empty());
    assert!(check("tiktok", json!({"media": [video(600.0, 1000)]})).is_empty());
    let vs = check("tiktok", json!({"media": [video(2.5, 4_000_000_001)]}));
    assert!(
        has(&vs, "content.media[0].duration_secs", "too_short"),
        "{vs:?}"
    );
    assert!(
        has(&vs, "content.media[0].size_bytes", "too_large"),
        "{vs:?}"
    );
    let vs = check("tiktok", json!({"media": [video(600.5, 1000)]}));
    assert!(
        has(&vs, "content.media[0].duration_secs", "too_long"),
        "{vs:?}"
    );
}

#[test]
fn tiktok_privacy_level_one_of_four() {
    let media = json!([video(10.0, 1000)]);
    for ok in [
        "PUBLIC_TO_EVERYONE",
        "MUTUAL_FOLLOW_FRIENDS",
        "FOLLOWER_OF_CREATOR",
        "SELF_ONLY",
    ] {
        assert!(check(
            "tiktok",
            json!({"media": media, "overrides": {"tiktok": {"privacy_level": ok}}})
        )
        .is_empty());
    }
    let vs = check(
        "tiktok",
        json!({"media": media, "overrides": {"tiktok": {"privacy_level": "public"}}}),
    );
    assert_eq!(
        codes(&vs),
        vec![(
            "content.overrides.tiktok.privacy_level".into(),
            "invalid_value".into()
        )]
    );
}

/// TikTok's posting rules (content sharing guidelines): no default privacy level, branded
/// content never private, and photos (pulled by TikTok) only from verified domains
/// (media transfer guide), the refusal naming the setting.
#[test]
fn tiktok_privacy_required_branded_not_private_photos_from_verified_domains() {
    let catalog = Catalog::builtin().expect("catalog");
    let spec = catalog.get("tiktok").unwrap();
    let vs = validate(spec, &content(json!({"media": [video(10.0, 1000)]})));
    assert_eq!(
        codes(&vs),
        vec![(
            "content.overrides.tiktok.privacy_level".into(),
            "required".into()
        )]
    );
    let vs = check(
        "tiktok",
        json!({"media": [video(10.0, 1000)], "overrides": {"tiktok": {"privacy_level": "SELF_ONLY", "brand_content_toggle": true}}}),
    );
    assert_eq!(
        codes(&vs),
        vec![(
            "content.overrides.tiktok.brand_content_toggle".into(),
            "invalid_value".into()
        )]
    );
    assert!(check(
        "tiktok",
        json!({"media": [video(10.0, 1000)], "overrides": {"tiktok": {"privacy_level": "FOLLOWER_OF_CREATOR", "brand_content_toggle": true, "brand_organic_toggle": true}}}),
    )
    .is_empty());
    // Photos: none verified → refused naming the setting; a video needs no verified domain.
    let photos = json!({"media": [image("image/jpeg", 1000)], "overrides": {"tiktok": {"privacy_level": "SELF_ONLY"}}});
    let vs = validate(spec, &content(photos.clone()));
    assert_eq!(
        codes(&vs),
        vec![("content.media[0].url".into(), "domain_not_verified".into())]
    );
    assert!(
        vs[0]
            .message
            .contains("[platforms.tiktok] verified_domains"),
        "{}",
        vs[0].message
    );
    let mut listed = spec.clone();
    listed.verified_domains = vec!["other.example.org".into()];
    let vs = validate(&listed, &content(photos.clone()));
    assert!(
        vs[0].message.contains("other.example.org"),
        "{}",
        vs[0].message
    );
    listed.verified_domains = vec!["example.com".into()];
    assert!(validate(&listed, &content(photos)).is_empty());
}

// ---- YouTube ----

fn yt_video() -> serde_json::Value {
    json!([video(60.0, 1000)])
}

#[test]
fn youtube_exactly_one_video() {
    assert!(has(
        &check("youtube", json!({"text": "title"})),
        "content.media",
        "required"
    ));
    let vs = check(
        "youtube",
        json!({"text": "title", "media": [video(1.0, 1), video(1.0, 1)]}),
    );
    assert!(has(&vs, "content.media", "too_many"), "{vs:?}");
    let vs = check(
        "youtube",
        json!({"text": "title", "media": [image("image/jpeg", 1)]}),
    );
    assert!(has(&vs, "content.media", "not_allowed"), "{vs:?}");
    assert!(check("youtube", json!({"text": "title", "media": yt_video()})).is_empty());
}

#[test]
fn youtube_title_100_characters_without_angle_brackets() {
    let ok = json!({"media": yt_video(), "overrides": {"youtube": {"title": "é".repeat(100)}}});
    assert!(check("youtube", ok).is_empty());
    let vs = check(
        "youtube",
        json!({"text": "desc", "media": yt_video(), "overrides": {"youtube": {"title": format!("<{}", "a".repeat(100))}}}),
    );
    assert!(
        has(&vs, "content.overrides.youtube.title", "too_long"),
        "{vs:?}"
    );
    assert!(
        has(
            &vs,
            "content.overrides.youtube.title",
            "forbidden_character"
        ),
        "{vs:?}"
    );
}

#[test]
fn youtube_description_5000_bytes_without_angle_brackets() {
    let title = json!({"title": "A title"});
    let with = |d: String| {
        let mut o = title.clone();
        o["description"] = json!(d);
        json!({"media": yt_video(), "overrides": {"youtube": o}})
    };
    assert!(check("youtube", with("a".repeat(5000))).is_empty());
    // 2,501 "é" are 2,501 characters but 5,002 bytes
    let vs = check("youtube", with("é".repeat(2501)));
    assert_eq!(
        (vs[0].field.as_str(), vs[0].code.as_str(), vs[0].actual),
        (
            "content.overrides.youtube.description",
            "too_long",
            Some(5002)
        )
    );
    let vs = check("youtube", with("a > b".into()));
    assert!(
        has(
            &vs,
            "content.overrides.youtube.description",
            "forbidden_character"
        ),
        "{vs:?}"
    );
}

#[test]
fn youtube_tags_500_characters_in_total_with_hashtags() {
    let tags: Vec<String> = (0..49).map(|_| "abcdefghij".to_string()).collect(); // 490
    let body = |hashtags: Vec<&str>| json!({"text": "t", "hashtags": hashtags, "media": yt_video(), "overrides": {"youtube": {"tags": tags}}});
    assert!(check("youtube", body(vec!["#0123456789"])).is_empty());
    let vs = check("youtube", body(vec!["0123456789", "x"]));
    assert_eq!((vs[0].code.as_str(), vs[0].actual), ("too_long", Some(501)));
}

#[test]
fn youtube_privacy_status_public_unlisted_private() {
    for ok in ["public", "unlisted", "private"] {
        let b = json!({"text": "t", "media": yt_video(), "overrides": {"youtube": {"privacy_status": ok}}});
        assert!(check("youtube", b).is_empty());
    }
    let b = json!({"text": "t", "media": yt_video(), "overrides": {"youtube": {"privacy_status": "secret"}}});
    assert!(has(
        &check("youtube", b),
        "content.overrides.youtube.privacy_status",
        "invalid_value"
    ));
}

// ---- Pinterest ----

#[test]
fn pinterest_numeric_board_id_required() {
    let vs = check(
        "pinterest",
        json!({"text": "t", "media": [image("image/jpeg", 1)]}),
    );
    assert_eq!(
        codes(&vs),
        vec![(
            "content.overrides.pinterest.board_id".into(),
            "required".into()
        )]
    );
    let vs = check(
        "pinterest",
        json!({"text": "t", "media": [image("image/jpeg", 1)], "overrides": {"pinterest": {"board_id": "my-board"}}}),
    );
    assert_eq!(
        codes(&vs),
        vec![(
            "content.overrides.pinterest.board_id".into(),
            "invalid_value".into()
        )]
    );
    let ok = json!({"text": "t", "media": [image("image/jpeg", 1)], "overrides": {"pinterest": {"board_id": "549755885175"}}});
    assert!(check("pinterest", ok).is_empty());
}

#[test]
fn pinterest_media_required_image_or_one_video() {
    let board = json!({"pinterest": {"board_id": "1"}});
    assert!(has(
        &check("pinterest", json!({"text": "t", "overrides": board})),
        "content.media",
        "required"
    ));
    let vs = check(
        "pinterest",
        json!({"overrides": board, "media": [video(5.0, 1), image("image/jpeg", 1)]}),
    );
    assert!(has(&vs, "content.media", "mixed_media"), "{vs:?}");
    let vs = check(
        "pinterest",
        json!({"overrides": board, "media": [video(5.0, 1), video(5.0, 1)]}),
    );
    assert!(has(&vs, "content.media", "too_many"), "{vs:?}");
}

#[test]
fn pinterest_title_100_description_500_alt_text_500() {
    let mut img = image("image/jpeg", 1);
    img["alt_text"] = json!("a".repeat(501));
    let vs = check(
        "pinterest",
        json!({"text": "d".repeat(501), "media": [img], "overrides": {"pinterest": {"board_id": "1", "title": "t".repeat(101)}}}),
    );
    assert!(
        has(&vs, "content.overrides.pinterest.title", "too_long"),
        "{vs:?}"
    );
    assert!(has(&vs, "content.text", "too_long"), "{vs:?}");
    assert!(has(&vs, "content.media[0].alt_text", "too_long"), "{vs:?}");
    assert_eq!(vs.len(), 3);
}

// ---- every violation at once; the model ----

#[test]
fn every_violation_is_listed_at_once() {
    let vs = check(
        "youtube",
        json!({"media": [image("image/png", 1), {"url": "not a url", "kind": "video"}],
               "overrides": {"youtube": {"title": "<b>", "description": "x".repeat(5001), "privacy_status": "nope"}}}),
    );
    for (field, code) in [
        ("content.media[1].url", "invalid_value"),
        ("content.media", "not_allowed"),
        ("content.overrides.youtube.title", "forbidden_character"),
        ("content.overrides.youtube.description", "too_long"),
        ("content.overrides.youtube.privacy_status", "invalid_value"),
    ] {
        assert!(has(&vs, field, code), "missing {field} {code} in {vs:?}");
    }
}

fn request(v: serde_json::Value) -> Result<PostRequest, String> {
    serde_json::from_value(v).map_err(|e| e.to_string())
}

#[test]
fn request_rejects_unknown_fields_and_time_zones() {
    let err = request(json!({"content": {"text": "t", "colour": 1}, "connection_ids": ["c"]}))
        .unwrap_err();
    assert!(err.contains("colour"), "{err}");
    let err = request(
        json!({"content": {"text": "t"}, "connection_ids": ["c"], "time_zone": "Mars/Olympus"}),
    )
    .unwrap_err();
    assert!(err.contains("Mars/Olympus"), "{err}");
    let err = request(
        json!({"content": {"text": "t"}, "connection_ids": ["c"], "publish_at": "tomorrow"}),
    )
    .unwrap_err();
    assert!(err.contains("tomorrow"), "{err}");
}

#[test]
fn publish_at_now_instant_and_local_with_zone() {
    let now = Utc.with_ymd_and_hms(2026, 11, 21, 8, 0, 0).unwrap();
    let r =
        request(json!({"content": {"text": "t"}, "connection_ids": ["c"], "publish_at": "now"}))
            .unwrap();
    assert_eq!(r.publish_at, Some(PublishAt::Now));
    assert_eq!(r.due_at(now).unwrap(), now);
    let r = request(
        json!({"content": {}, "connection_ids": ["c"], "publish_at": "2026-12-01T09:30:00+01:00"}),
    )
    .unwrap();
    assert_eq!(
        r.due_at(now).unwrap(),
        Utc.with_ymd_and_hms(2026, 12, 1, 8, 30, 0).unwrap()
    );
    let r = request(json!({"content": {}, "connection_ids": ["c"], "publish_at": "2026-07-01T09:30:00", "time_zone": "Europe/Paris"})).unwrap();
    assert_eq!(
        r.due_at(now).unwrap(),
        Utc.with_ymd_and_hms(2026, 7, 1, 7, 30, 0).unwrap()
    );
    // a local time without a zone is refused, naming publish_at
    let r = request(
        json!({"content": {}, "connection_ids": ["c"], "publish_at": "2026-07-01T09:30:00"}),
    )
    .unwrap();
    let vs = r.check_request(now);
    assert_eq!(
        codes(&vs),
        vec![("publish_at".into(), "invalid_time".into())]
    );
    // 02:30 on the spring-forward night does not exist in Paris
    let r = request(json!({"content": {}, "connection_ids": ["c"], "publish_at": "2026-03-29T02:30:00", "time_zone": "Europe/Paris"})).unwrap();
    assert!(r
        .due_at(now)
        .unwrap_err()
        .message
        .contains("does not exist"));
}

#[test]
fn request_checks_connections_and_scheduling_options() {
    let now = Utc.with_ymd_and_hms(2026, 11, 21, 8, 0, 0).unwrap();
    let r = request(json!({"content": {}, "connection_ids": ["a", "b", "a"],
        "scheduling_options": {"interval_hours": 0, "start_time": "2026-12-01T09:00:00"}}))
    .unwrap();
    let vs = r.check_request(now);
    assert_eq!(
        codes(&vs),
        vec![
            ("connection_ids[2]".into(), "duplicate".into()),
            (
                "scheduling_options.interval_hours".into(),
                "too_small".into()
            ),
            (
                "scheduling_options.start_time".into(),
                "invalid_time".into()
            ),
        ]
    );
    let r = request(json!({"content": {}, "connection_ids": [],
        "scheduling_options": {"interval_hours": 2, "start_time": "2026-12-01T09:00:00", "time_zone": "Asia/Tokyo"}}))
    .unwrap();
    assert_eq!(
        codes(&r.check_request(now)),
        vec![("connection_ids".into(), "required".into())]
    );
}

#[test]
fn x_rejects_twitter_text_invalid_characters() {
    let vs = check("twitter", json!({"text": "hello\u{FFFE}"}));
    assert_eq!(
        codes(&vs),
        vec![("content.text".into(), "forbidden_character".into())]
    );
    assert!(check("linkedin", json!({"text": "hello\u{FFFE}"})).is_empty());
}

#[test]
fn instagram_aspect_ratio_between_4_5_and_1_91_1() {
    let sized = |w: u32, h: u32| {
        let mut m = image("image/jpeg", 1000);
        m["width"] = json!(w);
        m["height"] = json!(h);
        m
    };
    for (w, h) in [(1080, 1350), (1080, 1080), (1910, 1000)] {
        assert!(
            check("instagram", json!({"media": [sized(w, h)]})).is_empty(),
            "{w}x{h}"
        );
    }
    let vs = check(
        "instagram",
        json!({"media": [sized(1079, 1350), sized(1911, 1000)]}),
    );
    assert!(
        has(&vs, "content.media[0].width", "invalid_value"),
        "{vs:?}"
    );
    assert!(
        has(&vs, "content.media[1].width", "invalid_value"),
        "{vs:?}"
    );
    assert_eq!(vs.len(), 2);
}

#[test]
fn tiktok_video_caption_override_title_counts_as_caption() {
    let media = json!([video(10.0, 1000)]);
    let vs = check(
        "tiktok",
        json!({"text": "short", "media": media, "overrides": {"tiktok": {"title": "😀".repeat(1101)}}}),
    );
    assert_eq!(
        codes(&vs),
        vec![("content.overrides.tiktok.title".into(), "too_long".into())]
    );
    assert_eq!(vs[0].actual, Some(2202));
}

#[test]
fn hashtags_must_be_single_words() {
    let now = Utc.with_ymd_and_hms(2026, 11, 21, 8, 0, 0).unwrap();
    let r = request(
        json!({"content": {"hashtags": ["#ok", "two words", "#", "a#b"]}, "connection_ids": ["c"]}),
    )
    .unwrap();
    assert_eq!(
        codes(&r.check_request(now)),
        vec![
            ("content.hashtags[1]".into(), "invalid_value".into()),
            ("content.hashtags[2]".into(), "invalid_value".into()),
            ("content.hashtags[3]".into(), "invalid_value".into()),
        ]
    );
}

#[test]
fn youtube_title_and_description_default_to_the_text() {
    let vs = check(
        "youtube",
        json!({"text": format!("a <b> {}", "c".repeat(100)), "media": yt_video()}),
    );
    assert_eq!(
        codes(&vs),
        vec![
            ("content.text".into(), "too_long".into()),
            ("content.text".into(), "forbidden_character".into()),
        ],
        "the title rules, once: {vs:?}"
    );
    let vs = check("youtube", json!({"media": yt_video()}));
    assert!(
        has(&vs, "content.overrides.youtube.title", "required"),
        "{vs:?}"
    );
}

// The official conformance cases and the differential test against the npm twitter-text.
#[path = "twitter_text/reference.rs"]
mod twitter_text_reference;
