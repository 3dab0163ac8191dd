//! `POST /v1/posts/validate` over HTTP: per-target verdicts against each connection's platform
//! rules, every violation at once, unknown connections, unparseable bodies, and nothing stored.

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

const PATH: &str = "/v1/posts/validate";

fn violations(target: &Value) -> Vec<(String, String)> {
    target["violations"]
        .as_array()
        .expect("violations")
        .iter()
        .map(|v| {
            (
                v["field"].as_str().unwrap_or_default().to_string(),
                v["code"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn three_targets_get_their_own_verdicts() {
    let app = TestApp::spawn().await;
    let x = app.connect("twitter").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let ig = app.connect("instagram").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let yt = app.connect("youtube").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let body = json!({
        "content": {
            "text": "Launch day! https://example.com/a/very/long/path/that/x/counts/as/twenty/three",
            "hashtags": ["launch"],
            "overrides": {"youtube": {"title": "Launch <live>", "privacy_status": "public"}}
        },
        "connection_ids": [x, ig, yt],
        "publish_at": "2026-12-01T09:30:00",
        "time_zone": "Europe/Paris"
    });
    let (s, v) = app.post(PATH, body).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["valid"], false);
    let targets = v["targets"].as_array().unwrap();
    assert_eq!(targets.len(), 3);

    assert_eq!(targets[0]["connection_id"], x.as_str());
    assert_eq!(targets[0]["platform"], "twitter");
    assert_eq!(targets[0]["valid"], true, "{}", targets[0]);
    assert_eq!(targets[0]["violations"], json!([]));

    assert_eq!(targets[1]["platform"], "instagram");
    assert_eq!(targets[1]["valid"], false);
    assert_eq!(
        violations(&targets[1]),
        vec![("content.media".to_string(), "required".to_string())]
    );

    assert_eq!(targets[2]["platform"], "youtube");
    assert_eq!(targets[2]["valid"], false);
    let yt_v = violations(&targets[2]);
    assert!(
        yt_v.contains(&(
            "content.overrides.youtube.title".into(),
            "forbidden_character".into()
        )),
        "{yt_v:?}"
    );
    assert!(
        yt_v.contains(&("content.media".into(), "required".into())),
        "{yt_v:?}"
    );
    assert_eq!(yt_v.len(), 2, "{yt_v:?}");
}

#[tokio::test]
async fn every_violation_of_a_target_is_listed_at_once() {
    let app = TestApp::spawn().await;
    let tt = app.connect("tiktok").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let body = json!({
        "content": {
            "text": "😀".repeat(1101),
            "media": [
                {"url": "https://cdn.example.com/v.mp4", "kind": "video", "duration_secs": 1.5, "size_bytes": 5_000_000_000u64},
                {"url": "https://cdn.example.com/p.png", "kind": "image", "mime_type": "image/png"}
            ],
            "overrides": {"tiktok": {"privacy_level": "EVERYONE"}}
        },
        "connection_ids": [tt]
    });
    let (s, v) = app.post(PATH, body).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let t = &v["targets"][0];
    assert_eq!(t["valid"], false);
    let found = violations(t);
    for expected in [
        ("content.media", "mixed_media"),
        ("content.media[1].mime_type", "unsupported_type"),
        ("content.media[0].size_bytes", "too_large"),
        ("content.media[0].duration_secs", "too_short"),
        ("content.text", "too_long"),
        ("content.overrides.tiktok.privacy_level", "invalid_value"),
    ] {
        assert!(
            found.contains(&(expected.0.to_string(), expected.1.to_string())),
            "missing {expected:?} in {found:?}"
        );
    }
    assert_eq!(found.len(), 6, "{found:?}");
    let text = t["violations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["field"] == "content.text")
        .unwrap();
    assert_eq!(
        (text["limit"].as_u64(), text["actual"].as_u64()),
        (Some(2200), Some(2202))
    );
}

#[tokio::test]
async fn an_unknown_connection_is_a_violation_on_its_index() {
    let app = TestApp::spawn().await;
    let li = app.connect("linkedin").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let body = json!({
        "content": {"text": "Hello LinkedIn"},
        "connection_ids": [li, "conn_does_not_exist"]
    });
    let (s, v) = app.post(PATH, body).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["valid"], false);
    assert_eq!(v["targets"][0]["valid"], true);
    assert_eq!(v["targets"][1]["connection_id"], "conn_does_not_exist");
    assert_eq!(v["targets"][1]["platform"], Value::Null);
    assert_eq!(
        violations(&v["targets"][1]),
        vec![(
            "connection_ids[1]".to_string(),
            "unknown_connection".to_string()
        )]
    );

    // All valid: the verdict says so.
    let (s, v) = app
        .post(
            PATH,
            json!({"content": {"text": "Hello"}, "connection_ids": [li]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["valid"], true, "{v}");
}

#[tokio::test]
async fn bodies_that_do_not_parse_name_the_field() {
    let app = TestApp::spawn().await;
    let li = app.connect("linkedin").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let cases = [
        (
            json!({"content": {"text": "t"}, "connection_ids": [li], "time_zone": "Europe/Atlantis"}),
            "time_zone",
        ),
        (
            json!({"content": {"text": "t"}, "connection_ids": [li], "publish_at": "next tuesday"}),
            "publish_at",
        ),
        (
            json!({"content": {"text": "t", "font": "bold"}, "connection_ids": [li]}),
            "content.font",
        ),
        (
            json!({"content": {"text": "t", "media": [{"url": "https://a.example/x", "kind": "sticker"}]}, "connection_ids": [li]}),
            "content.media[0].kind",
        ),
        // A local time needs a zone: a request-level problem, named too.
        (
            json!({"content": {"text": "t"}, "connection_ids": [li], "publish_at": "2026-12-01T09:30:00"}),
            "publish_at",
        ),
        (json!({"content": {"text": "t"}}), "connection_ids"),
        (
            json!({"content": {"text": "t", "overrides": {"youtub": {"title": "x"}}}, "connection_ids": [li]}),
            "content.overrides.youtub",
        ),
    ];
    for (body, field) in cases {
        let (s, v) = app.post(PATH, body.clone()).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body} → {v}");
        assert_eq!(v["field"], field, "{body} → {v}");
        assert_eq!(
            v["type"],
            "https://switchboard.dev/problems/validation-error"
        );
    }
    let (s, v) = app
        .post(
            PATH,
            json!({"content": {"text": "t", "font": "bold"}, "connection_ids": [li]}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(v["detail"].as_str().unwrap().contains("font"), "{v}");
}

#[tokio::test]
async fn validation_stores_nothing_and_calls_no_platform() {
    let app = TestApp::spawn().await;
    let x = app.connect("twitter").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let before = (
        app.get("/v1/events").await.1,
        app.get("/v1/audit").await.1,
        app.get("/v1/connections").await.1,
        app.sandbox_stats().await,
    );
    for text in ["fine", &"a".repeat(400)] {
        let (s, _) = app
            .post(
                PATH,
                json!({"content": {"text": text}, "connection_ids": [x]}),
            )
            .await;
        assert_eq!(s, StatusCode::OK);
    }
    let after = (
        app.get("/v1/events").await.1,
        app.get("/v1/audit").await.1,
        app.get("/v1/connections").await.1,
        app.sandbox_stats().await,
    );
    assert_eq!(before, after);
}

#[tokio::test]
async fn validation_needs_the_api_key() {
    let app = TestApp::spawn().await;
    let r = app
        .http
        .post(format!("{}{PATH}", app.api))
        .json(&json!({"content": {"text": "t"}, "connection_ids": ["c"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

/// TikTok's posting rules at validation: the privacy level is required (TikTok forbids a
/// default), branded content cannot be private, and a photo post, which TikTok can only pull,
/// needs its URLs on a domain listed in `[platforms.tiktok] verified_domains` (media transfer
/// guide); a refusal names the setting. `POST /v1/posts` refuses the same with 422.
#[tokio::test]
async fn tiktok_privacy_is_required_and_photos_need_a_verified_domain() {
    let app = TestApp::spawn().await;
    let tt = app.connect("tiktok").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let photo = json!({"url": "https://photos.example.net/a.jpg", "kind": "image", "mime_type": "image/jpeg"});
    let body = json!({
        "content": {"text": "photos", "media": [photo]},
        "connection_ids": [tt]
    });
    let (s, v) = app.post(PATH, body.clone()).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let t = &v["targets"][0];
    let found = violations(t);
    assert!(
        found.contains(&(
            "content.overrides.tiktok.privacy_level".into(),
            "required".into()
        )),
        "{found:?}"
    );
    assert!(
        found.contains(&("content.media[0].url".into(), "domain_not_verified".into())),
        "{found:?}"
    );
    let msg = t["violations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["field"] == "content.media[0].url")
        .unwrap()["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(msg.contains("[platforms.tiktok] verified_domains"), "{msg}");
    assert!(msg.contains("photos.example.net"), "{msg}");
    let (s, v) = app.post("/v1/posts", body).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(v.to_string().contains("verified_domains"), "{v}");

    let branded = json!({
        "content": {"text": "a video", "media": [{"url": "https://v.example.net/a.mp4", "kind": "video"}],
            "overrides": {"tiktok": {"privacy_level": "SELF_ONLY", "brand_content_toggle": true}}},
        "connection_ids": [tt]
    });
    let (_, v) = app.post(PATH, branded).await;
    assert_eq!(
        violations(&v["targets"][0]),
        vec![(
            "content.overrides.tiktok.brand_content_toggle".to_string(),
            "invalid_value".to_string()
        )]
    );

    // With the domain listed, the same photo post (with a privacy level) is valid.
    let app = TestApp::spawn_with(Setup {
        config: Box::new(|c| {
            c.platforms
                .entry("tiktok".into())
                .or_default()
                .verified_domains = vec!["example.net".into()];
        }),
        ..Setup::default()
    })
    .await;
    let tt = app.connect("tiktok").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, v) = app
        .post(
            PATH,
            json!({
                "content": {"text": "photos", "media": [photo],
                    "overrides": {"tiktok": {"privacy_level": "SELF_ONLY", "disable_comment": false}}},
                "connection_ids": [tt]
            }),
        )
        .await;
    assert_eq!(v["targets"][0]["valid"], true, "{v}");
}

/// `GET /v1/connections/{id}/tiktok/creator-info`: what TikTok's creator_info says, live, for
/// the posting screen; an unaudited app is offered SELF_ONLY alone; another platform's
/// connection is a 409. The Pinterest API base setting moves Pinterest's content API only.
#[tokio::test]
async fn tiktok_creator_info_is_exposed_and_api_base_is_per_platform() {
    let app = TestApp::spawn_with(Setup {
        sandbox: Box::new(|sc| {
            sc.unaudited_apps.insert("tiktok".into());
        }),
        config: Box::new(|c| {
            c.platforms.entry("pinterest".into()).or_default().api_base =
                Some("https://api-sandbox.pinterest.com".into());
        }),
        ..Setup::default()
    })
    .await;
    let tt = app.connect("tiktok").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (s, v) = app
        .get(&format!("/v1/connections/{tt}/tiktok/creator-info"))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["connection_id"], tt.as_str());
    assert_eq!(v["creator_nickname"], "Ada Lovelace");
    assert_eq!(v["creator_username"], "ada.sandbox");
    assert_eq!(v["privacy_level_options"], json!(["SELF_ONLY"]));
    assert_eq!(v["stitch_disabled"], true);
    assert_eq!(v["comment_disabled"], false);
    assert_eq!(v["max_video_post_duration_sec"], 600);

    let x = app.connect("twitter").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (s, v) = app
        .get(&format!("/v1/connections/{x}/tiktok/creator-info"))
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert_eq!(
        v["type"].as_str().unwrap_or_default().rsplit('/').next(),
        Some("not-tiktok"),
        "{v}"
    );
    let (s, _) = app.get("/v1/connections/nope/tiktok/creator-info").await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    let pin = app.state.catalog().get("pinterest").unwrap();
    assert_eq!(
        pin.endpoints.api_base_url.as_deref(),
        Some(format!("{}/api-sandbox.pinterest.com", app.sandbox).as_str())
    );
    assert_eq!(
        pin.endpoints.token_url,
        format!("{}/api.pinterest.com/v5/oauth/token", app.sandbox)
    );
}

/// Texts on which the `twitter-text` 0.3.1 crate panicked (a byte index inside the emoji right
/// before `@`, `#` or `$`), which dropped the connection: each gets its verdict, with X's weighted
/// count as the official twitter-text gives it, and Instagram's mention and hashtag counts.
#[tokio::test]
async fn texts_that_panicked_the_length_count_get_a_verdict() {
    let app = TestApp::spawn().await;
    let x = app.connect("twitter").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let ig = app.connect("instagram").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let pad = "a".repeat(275);
    // (text, X's weighted length: emoji 2, CJK 2, every URL 23, the rest 1)
    let cases = [
        (format!("😀@user {pad}"), 283),
        (format!("👍🏽@user {pad}"), 283),
        (format!("你好@user {pad}"), 285),
        (format!("😀#tag {pad}"), 282),
        (format!("😀$CASH {pad}"), 283),
        (format!("😀example.com {pad}"), 301),
    ];
    for (text, weighted) in cases {
        let body = json!({"content": {"text": text}, "connection_ids": [x, ig]});
        let (s, v) = app.post(PATH, body).await;
        assert_eq!(s, StatusCode::OK, "{text}: {v}");
        let target = &v["targets"][0];
        assert_eq!(
            violations(target),
            vec![("content.text".to_string(), "too_long".to_string())],
            "{text}: {target}"
        );
        assert_eq!(target["violations"][0]["actual"], weighted, "{text}");
        assert_eq!(target["violations"][0]["limit"], 280, "{text}");
        assert_eq!(v["targets"][1]["platform"], "instagram");
    }
}
