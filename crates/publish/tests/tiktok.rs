//! The TikTok publisher against the sandbox: creator info and privacy levels, FILE_UPLOAD in
//! chunks, PULL_FROM_URL videos and photos, status polls, resume, errors, faults, an unknown
//! init, metrics.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{json, Value};
use switchboard_core::post::{MediaKind, PlatformOverride, PostContent};
use switchboard_core::Category;
use switchboard_publish::tiktok::{
    chunk_plan, pull_allowed, Source, TikTokProgress, TikTokPublisher, MIN_CHUNK_BYTES,
};
use switchboard_publish::{publisher_for, PublishError, Publisher, Step};
use switchboard_sandbox::SandboxConfig;

const SCOPES: &[&str] = &["user.info.basic", "video.publish", "video.list"];
const MIB: usize = 1024 * 1024;

fn with_privacy(mut c: PostContent, level: &str) -> PostContent {
    c.overrides.insert(
        "tiktok".into(),
        PlatformOverride {
            privacy_level: Some(level.into()),
            ..PlatformOverride::default()
        },
    );
    c
}

fn video(env: &Env, name: &str, bytes: usize) -> PostContent {
    let mut c = text("A day at the bakery");
    c.hashtags = vec!["bread".into()];
    c.media = vec![env.media(name, MediaKind::Video, bytes)];
    with_privacy(c, "SELF_ONLY")
}

/// The domain verified for the TikTok app in these tests, at TikTok (the sandbox) and in
/// Switchboard's configuration (the catalog's `verified_domains`).
const VERIFIED: &str = "cdn.example.com";

/// A sandbox whose TikTok app has [`VERIFIED`] verified, and the catalog listing it.
async fn tt_start() -> Env {
    tt_start_with(SandboxConfig::default()).await
}

async fn tt_start_with(mut config: SandboxConfig) -> Env {
    config.tiktok_verified_domains = vec![VERIFIED.to_string()];
    let mut env = start_with(config).await;
    env.catalog
        .set_verified_domains("tiktok", &[VERIFIED.to_string()]);
    env
}

/// A photo on the verified domain (TikTok pulls photos; the sandbox does not fetch them).
fn photo(name: &str) -> switchboard_core::post::Media {
    remote(
        &format!("https://{VERIFIED}/photos/{name}"),
        MediaKind::Image,
    )
}

fn remote(url: &str, kind: MediaKind) -> switchboard_core::post::Media {
    switchboard_core::post::Media {
        url: url.into(),
        media_id: None,
        kind,
        mime_type: None,
        size_bytes: None,
        duration_secs: None,
        width: None,
        height: None,
        alt_text: None,
    }
}

fn tp(v: &Value) -> TikTokProgress {
    serde_json::from_value(v.clone()).unwrap()
}

#[test]
fn chunk_plan_follows_the_media_transfer_guide() {
    assert_eq!(chunk_plan(1_000, 10 * MIB as u64), (1_000, 1));
    let five = MIN_CHUNK_BYTES;
    assert_eq!(chunk_plan(11 * MIB as u64, five), (five, 2));
    assert_eq!(
        chunk_plan(7 * MIB as u64, 10 * MIB as u64),
        (7 * MIB as u64, 1)
    );
    assert_eq!(chunk_plan(100 * MIB as u64, 1), (five, 20));
    assert_eq!(chunk_plan(1 << 30, 1 << 40), (64 * MIB as u64, 16));
    // TikTok pulls only from domains verified for the app: with none configured, nothing is
    // pulled (every video is uploaded), however public its URL.
    let mut spec = switchboard_core::Catalog::builtin()
        .unwrap()
        .get("tiktok")
        .unwrap()
        .clone();
    assert!(!pull_allowed(&spec, "https://cdn.example.com/v.mp4"));
    assert!(!pull_allowed(&spec, "https://93.184.216.34/v.mp4"));
    spec.verified_domains = vec!["cdn.example.com".into()];
    assert!(pull_allowed(&spec, "https://cdn.example.com/v.mp4"));
    assert!(pull_allowed(&spec, "https://eu.cdn.example.com/v.mp4"));
    assert!(!pull_allowed(&spec, "https://other.example.com/v.mp4"));
    assert!(!pull_allowed(&spec, "http://cdn.example.com/v.mp4"));
    assert!(!pull_allowed(&spec, "https://127.0.0.1:8080/v.mp4"));
    assert!(!pull_allowed(&spec, "https://10.1.2.3/v.mp4"));
    assert!(!pull_allowed(&spec, "https://100.64.0.9/v.mp4"));
    assert!(!pull_allowed(&spec, "https://169.254.169.254/v.mp4"));
    assert!(!pull_allowed(&spec, "https://[fd00::1]/v.mp4"));
    assert!(!pull_allowed(&spec, "https://93.184.216.34/v.mp4"));
    assert!(!pull_allowed(&spec, "https://localhost/v.mp4"));
}

#[tokio::test]
async fn chunked_file_upload_step_by_step_publishes_once() {
    let env = tt_start().await;
    let g = env.grant("tiktok", None, SCOPES).await;
    let content = with_privacy(video(&env, "clip.mp4", 11 * MIB), "PUBLIC_TO_EVERYONE");
    let t = target(env.spec("tiktok"), &g, &g.account_id, &content);
    let pubr = TikTokPublisher {
        chunk_bytes: MIN_CHUNK_BYTES,
    };
    let (done, seen) = drive(&env, &pubr, &env.http, &t, Value::Null)
        .await
        .unwrap();
    let steps: Vec<TikTokProgress> = seen.iter().map(tp).collect();
    // creator_info, init, chunk 1, chunk 2, then status polls.
    assert_eq!(
        steps[0].privacy_level.as_deref(),
        Some("PUBLIC_TO_EVERYONE")
    );
    assert!(steps[0].publish_id.is_none());
    assert_eq!(steps[1].source, Some(Source::File));
    assert_eq!((steps[1].chunks, steps[1].chunks_sent), (2, 0));
    assert_eq!(steps[1].video_size, 11 * MIB as u64);
    assert_eq!(steps[2].chunks_sent, 1);
    assert_eq!(steps[3].chunks_sent, 2);
    let items = env.published("tiktok").await;
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0]["id"], done.post_id.as_str());
    assert_eq!(items[0]["text"], "A day at the bakery\n\n#bread");
    assert_eq!(
        done.url.as_deref(),
        Some(format!("https://www.tiktok.com/@ada.sandbox/video/{}", done.post_id).as_str())
    );
}

#[tokio::test]
async fn resume_mid_upload_and_after_a_lost_chunk_answer() {
    let env = tt_start().await;
    let g = env.grant("tiktok", None, SCOPES).await;
    let content = video(&env, "clip.mp4", 11 * MIB);
    let t = target(env.spec("tiktok"), &g, &g.account_id, &content);
    let pubr = TikTokPublisher {
        chunk_bytes: MIN_CHUNK_BYTES,
    };
    let mut p = Value::Null;
    for _ in 0..2 {
        let Step::Continue { progress, .. } = pubr.step(&env.http, &t, &p).await.unwrap() else {
            panic!("expected Continue");
        };
        p = progress;
    }
    // After init, stored and read back: no second init.
    let stored: Value = serde_json::from_str(&p.to_string()).unwrap();
    let publish_id = tp(&stored).publish_id.clone().unwrap();
    // Chunk 1 is sent but its answer "lost": the dispatcher resumes from the older progress.
    let Step::Continue { .. } = pubr.step(&env.http, &t, &stored).await.unwrap() else {
        panic!("expected Continue");
    };
    let Step::Continue { progress, .. } = pubr.step(&env.http, &t, &stored).await.unwrap() else {
        panic!("expected Continue");
    };
    assert_eq!(
        tp(&progress).chunks_sent,
        1,
        "416 → offset read from the status"
    );
    let (done, _) = drive(&env, &pubr, &env.http, &t, progress).await.unwrap();
    assert_eq!(
        tp(&done.progress).publish_id.as_deref(),
        Some(publish_id.as_str())
    );
    assert_eq!(env.published("tiktok").await.len(), 1);
    // Stepping again from the last stored progress reads the status: nothing new is published.
    let last = tp(&done.progress);
    let Step::Done(again) = pubr
        .step(&env.http, &t, &serde_json::to_value(&last).unwrap())
        .await
        .unwrap()
    else {
        panic!("expected Done");
    };
    assert_eq!(again.post_id, done.post_id);
    assert_eq!(env.published("tiktok").await.len(), 1);
}

#[tokio::test]
async fn pulled_video_and_photos_publish_once_each() {
    let env = tt_start().await;
    let g = env.grant("tiktok", None, SCOPES).await;
    let spec = env.spec("tiktok");
    let mut pulled = with_privacy(text("pulled"), "PUBLIC_TO_EVERYONE");
    pulled.media = vec![remote(
        &format!("https://{VERIFIED}/videos/clip.mp4"),
        MediaKind::Video,
    )];
    let t = target(spec, &g, &g.account_id, &pulled);
    let (done, seen) = drive(&env, &TikTokPublisher::STANDARD, &env.http, &t, Value::Null)
        .await
        .unwrap();
    assert_eq!(tp(&seen[1]).source, Some(Source::PullVideo));
    let items = env.published("tiktok").await;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], done.post_id.as_str());

    let mut photos = with_privacy(text("photos"), "SELF_ONLY");
    photos.media = vec![photo("a.jpg"), photo("b.jpg")];
    let t = target(spec, &g, &g.account_id, &photos);
    let tk = publisher_for("tiktok").expect("registered");
    let (done, seen) = drive(&env, tk, &env.http, &t, Value::Null).await.unwrap();
    assert_eq!(tp(&seen[1]).source, Some(Source::Photos));
    let items = env.published("tiktok").await;
    assert_eq!(items.len(), 2);
    assert_eq!(items[1]["id"], done.post_id.as_str());
    assert_eq!(items[1]["kind"], "photo");
}

#[tokio::test]
async fn privacy_and_media_errors() {
    let env = tt_start().await;
    let spec = env.spec("tiktok");
    // A private account is not offered PUBLIC_TO_EVERYONE: refused before any init.
    let private = env.grant("tiktok", Some("tt-private"), SCOPES).await;
    let content = with_privacy(video(&env, "clip.mp4", 100_000), "PUBLIC_TO_EVERYONE");
    let t = target(spec, &private, &private.account_id, &content);
    let d = failed(
        TikTokPublisher::STANDARD
            .step(&env.http, &t, &Value::Null)
            .await,
    );
    assert_eq!(d.category, Category::AccountNotEligible, "{d:?}");
    assert!(!d.retryable);
    assert!(
        d.cause.contains("FOLLOWER_OF_CREATOR, SELF_ONLY"),
        "{}",
        d.cause
    );
    assert_eq!(env.stats("tiktok")["upload_calls"], 0);

    // A PNG photo: TikTok's pull fails (file_format_check_failed).
    let g = env.grant("tiktok", None, SCOPES).await;
    let mut png = with_privacy(text("png"), "SELF_ONLY");
    png.media = vec![photo("a.png")];
    let t = target(spec, &g, &g.account_id, &png);
    let d = failed(
        drive(&env, &TikTokPublisher::STANDARD, &env.http, &t, Value::Null)
            .await
            .map(|_| ()),
    );
    assert_eq!(d.category, Category::ContentRejected, "{d:?}");
    assert_eq!(d.platform_code.as_deref(), Some("file_format_check_failed"));

    // The scope is missing.
    let reader = env.grant("tiktok", None, &["user.info.basic"]).await;
    let content = video(&env, "clip.mp4", 100_000);
    let t = target(spec, &reader, &reader.account_id, &content);
    let d = failed(
        TikTokPublisher::STANDARD
            .step(&env.http, &t, &Value::Null)
            .await,
    );
    assert_eq!(d.category, Category::InsufficientScope, "{d:?}");
    assert!(env.published("tiktok").await.is_empty());
}

#[tokio::test]
async fn rate_limit_and_unavailable_are_retryable() {
    let env = tt_start().await;
    let g = env.grant("tiktok", None, SCOPES).await;
    let content = video(&env, "clip.mp4", 100_000);
    let t = target(env.spec("tiktok"), &g, &g.account_id, &content);
    let Step::Continue { progress, .. } = TikTokPublisher::STANDARD
        .step(&env.http, &t, &Value::Null)
        .await
        .unwrap()
    else {
        panic!("expected Continue");
    };
    for (status, code) in [(429, "rate_limit_exceeded"), (503, "internal_error")] {
        env.fault(
            json!({ "platform": "tiktok", "endpoint": "publish", "status": status,
            "body": json!({ "data": {}, "error": { "code": code, "message": "try later",
                "log_id": "sbx" } }).to_string(),
            "times": 1 }),
        )
        .await;
        let d = failed(
            TikTokPublisher::STANDARD
                .step(&env.http, &t, &progress)
                .await,
        );
        assert!(d.retryable, "{status}: {d:?}");
    }
    drive(&env, &TikTokPublisher::STANDARD, &env.http, &t, progress)
        .await
        .unwrap();
    assert_eq!(env.published("tiktok").await.len(), 1);
}

#[tokio::test]
async fn timeout_on_a_pull_init_is_unknown_but_on_an_upload_init_retryable() {
    let env = tt_start().await;
    let g = env.grant("tiktok", None, SCOPES).await;
    let spec = env.spec("tiktok");
    let slow = env.http_with_timeout(Duration::from_millis(500));
    let mut photos = with_privacy(text("photos"), "SELF_ONLY");
    photos.media = vec![photo("a.jpg")];
    let t = target(spec, &g, &g.account_id, &photos);
    let Step::Continue { progress, .. } = TikTokPublisher::STANDARD
        .step(&env.http, &t, &Value::Null)
        .await
        .unwrap()
    else {
        panic!("expected Continue");
    };
    env.fault(json!({ "platform": "tiktok", "endpoint": "publish", "delay_ms": 1500, "times": 1 }))
        .await;
    assert!(TikTokPublisher::STANDARD.next_is_create(&t, &progress));
    let sent_at = env.now();
    match TikTokPublisher::STANDARD.step(&slow, &t, &progress).await {
        Err(PublishError::Unknown(d)) => assert_eq!(d.category, Category::Network),
        other => panic!("expected Unknown, got {other:?}"),
    }
    // Whether the init reached TikTok shows in the creator's posts once processed.
    tokio::time::sleep(Duration::from_millis(1600)).await;
    env.sandbox.clock().advance(chrono::Duration::minutes(10));
    let checked = check(&env, &TikTokPublisher::STANDARD, &t, &progress, sent_at).await;
    match (env.published("tiktok").await.first(), checked) {
        (Some(item), Some(Step::Done(d))) => assert_eq!(item["id"], d.post_id.as_str()),
        (None, None) => {}
        (item, checked) => panic!("sandbox holds {item:?}, check said {checked:?}"),
    }

    let content = video(&env, "clip.mp4", 100_000);
    let t = target(spec, &g, &g.account_id, &content);
    // An upload init publishes nothing by itself: not a create.
    assert!(!TikTokPublisher::STANDARD.next_is_create(&t, &progress));
    env.fault(json!({ "platform": "tiktok", "endpoint": "publish", "delay_ms": 1500, "times": 1 }))
        .await;
    let d = failed(TikTokPublisher::STANDARD.step(&slow, &t, &progress).await);
    assert!(d.retryable, "{d:?}");
}

#[tokio::test]
async fn check_finds_a_processed_photo_post_by_title_and_description() {
    let env = tt_start().await;
    let g = env.grant("tiktok", None, SCOPES).await;
    let spec = env.spec("tiktok");
    let mut photos = with_privacy(text("photos to find"), "SELF_ONLY");
    photos.media = vec![photo("a.jpg")];
    let t = target(spec, &g, &g.account_id, &photos);
    let Step::Continue { progress, .. } = TikTokPublisher::STANDARD
        .step(&env.http, &t, &Value::Null)
        .await
        .unwrap()
    else {
        panic!("expected Continue");
    };
    let sent_at = env.now();
    assert_eq!(
        check(&env, &TikTokPublisher::STANDARD, &t, &progress, sent_at).await,
        None
    );
    let (done, _) = drive(
        &env,
        &TikTokPublisher::STANDARD,
        &env.http,
        &t,
        progress.clone(),
    )
    .await
    .unwrap();
    let Some(Step::Done(found)) =
        check(&env, &TikTokPublisher::STANDARD, &t, &progress, sent_at).await
    else {
        panic!("the post exists");
    };
    assert_eq!(found.post_id, done.post_id);
    assert_eq!(found.url, done.url);
    let mut other = text("other photos");
    other.media = photos.media.clone();
    assert_eq!(
        check(
            &env,
            &TikTokPublisher::STANDARD,
            &target(spec, &g, &g.account_id, &other),
            &progress,
            sent_at
        )
        .await,
        None
    );
}

#[tokio::test]
async fn video_metrics_after_publishing() {
    let env = tt_start().await;
    let g = env.grant("tiktok", None, SCOPES).await;
    let content = video(&env, "clip.mp4", 100_000);
    let t = target(env.spec("tiktok"), &g, &g.account_id, &content);
    let (done, _) = drive(&env, &TikTokPublisher::STANDARD, &env.http, &t, Value::Null)
        .await
        .unwrap();
    env.sandbox.clock().advance(chrono::Duration::hours(5));
    let m = TikTokPublisher::STANDARD
        .metrics(&env.http, &t, &done)
        .await
        .unwrap();
    assert!(m.views.is_some_and(|v| v > 0), "{m:?}");
    assert!(
        m.likes.is_some() && m.comments.is_some() && m.shares.is_some(),
        "{m:?}"
    );
    assert_eq!(m.raw["videos"][0]["id"], done.post_id.as_str());
}

#[tokio::test]
async fn an_expired_upload_url_starts_the_upload_over_and_publishes_once() {
    let env = tt_start().await;
    let g = env.grant("tiktok", None, SCOPES).await;
    let content = video(&env, "clip.mp4", 100_000);
    let t = target(env.spec("tiktok"), &g, &g.account_id, &content);
    let p = TikTokPublisher::STANDARD;
    let Step::Continue { progress, .. } = p.step(&env.http, &t, &Value::Null).await.unwrap() else {
        panic!("creator_info");
    };
    let Step::Continue { progress, .. } = p.step(&env.http, &t, &progress).await.unwrap() else {
        panic!("init");
    };
    let first = tp(&progress).publish_id.clone();
    assert!(first.is_some());
    // An hour later the upload URL answers 403: start over with a new init.
    env.sandbox.clock().advance(chrono::Duration::seconds(3601));
    let Step::Continue { progress, .. } = p.step(&env.http, &t, &progress).await.unwrap() else {
        panic!("expected a restart");
    };
    let restarted = tp(&progress);
    assert_eq!(
        (restarted.publish_id.clone(), restarted.upload_restarts),
        (None, 1)
    );
    let (done, _) = drive(&env, &p, &env.http, &t, progress).await.unwrap();
    assert_ne!(tp(&done.progress).publish_id, first);
    assert_eq!(env.published("tiktok").await.len(), 1);
}

/// A file on disk (an upload in `media_dir`) served publicly under `url`.
fn on_disk(
    url: &str,
    bytes: usize,
) -> (
    tempfile::NamedTempFile,
    Vec<switchboard_publish::LocalMedia>,
) {
    use std::io::Write as _;
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(&vec![7u8; bytes]).unwrap();
    let local = vec![switchboard_publish::LocalMedia {
        url: url.to_string(),
        path: f.path().to_path_buf(),
    }];
    (f, local)
}

/// Finding: a video at any public https URL was sent as PULL_FROM_URL, and TikTok pulls only
/// from domains verified for the app (media transfer guide), answering
/// `url_ownership_unverified`, which the sandbox now does too. A video on a domain nobody
/// verified is uploaded (FILE_UPLOAD, chunked); one on a verified domain is pulled; a domain the
/// configuration lists but TikTok has not verified is refused by TikTok and diagnosed with the
/// setting to fix.
#[tokio::test]
async fn videos_are_uploaded_unless_on_a_verified_domain_and_unverified_pulls_are_diagnosed() {
    let env = tt_start().await;
    let g = env.grant("tiktok", None, SCOPES).await;
    let spec = env.spec("tiktok");
    // An upload served from Switchboard's own public URL: public https, never verified.
    let url = "https://switchboard.example.org/media/m1/token";
    let (_file, local) = on_disk(url, 6 * MIB);
    let mut c = with_privacy(text("uploaded"), "SELF_ONLY");
    c.media = vec![remote(url, MediaKind::Video)];
    let mut t = target(spec, &g, &g.account_id, &c);
    t.local_media = &local;
    let pubr = TikTokPublisher {
        chunk_bytes: MIN_CHUNK_BYTES,
    };
    let (done, seen) = drive(&env, &pubr, &env.http, &t, Value::Null)
        .await
        .expect("uploaded and published");
    assert_eq!(tp(&seen[1]).source, Some(Source::File));
    assert_eq!(tp(&seen[1]).video_size, 6 * MIB as u64);
    assert_eq!(
        tp(&seen[1]).chunks,
        1,
        "6 MiB at 5 MiB chunks: one chunk of 6 MiB"
    );
    let items = env.published("tiktok").await;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], done.post_id.as_str());

    // The configuration lists a domain TikTok has not verified for the app: TikTok refuses.
    let mut lying = spec.clone();
    lying.verified_domains = vec!["switchboard.example.org".into()];
    let mut t = target(&lying, &g, &g.account_id, &c);
    t.local_media = &local;
    let d = failed(
        drive(&env, &pubr, &env.http, &t, Value::Null)
            .await
            .map(|_| ()),
    );
    assert_eq!(
        d.platform_code.as_deref(),
        Some("url_ownership_unverified"),
        "{d:?}"
    );
    assert_eq!(d.category, Category::AppNotApproved);
    assert!(!d.retryable);
    assert!(d.cause.contains("verified"), "{}", d.cause);
    assert!(
        d.fix
            .iter()
            .any(|f| f.contains("[platforms.tiktok] verified_domains")),
        "{:?}",
        d.fix
    );
    assert_eq!(env.published("tiktok").await.len(), 1);
}

/// Finding: the privacy level defaulted to SELF_ONLY and the interaction settings were sent
/// hard-coded. Now the post must name the level (no call is made without one), the creator's
/// disabled settings are kept, a video longer than the creator may post is refused, and the
/// sandbox refuses branded content that is private as TikTok's rules say.
#[tokio::test]
async fn no_privacy_default_creator_settings_and_branded_content() {
    let env = tt_start().await;
    let g = env.grant("tiktok", None, SCOPES).await;
    let spec = env.spec("tiktok");
    let mut c = video(&env, "clip.mp4", 100_000);
    c.overrides.clear();
    let t = target(spec, &g, &g.account_id, &c);
    let d = failed(
        TikTokPublisher::STANDARD
            .step(&env.http, &t, &Value::Null)
            .await,
    );
    assert_eq!(d.category, Category::InvalidRequest, "{d:?}");
    assert!(d.fix[0].contains("privacy_level"), "{:?}", d.fix);
    assert_eq!(
        env.stats("tiktok")["profile_calls"],
        0,
        "refused before any call"
    );

    // The sandbox's default creator has Stitch off in their settings: kept off.
    let c = with_privacy(video(&env, "clip.mp4", 100_000), "PUBLIC_TO_EVERYONE");
    let t = target(spec, &g, &g.account_id, &c);
    let Step::Continue { progress, .. } = TikTokPublisher::STANDARD
        .step(&env.http, &t, &Value::Null)
        .await
        .unwrap()
    else {
        panic!("expected Continue");
    };
    let p = tp(&progress);
    assert!(
        p.stitch_disabled && !p.comment_disabled && !p.duet_disabled,
        "{p:?}"
    );

    // Longer than max_video_post_duration_sec (600 s for this creator).
    let mut long = with_privacy(video(&env, "clip.mp4", 100_000), "SELF_ONLY");
    long.media[0].duration_secs = Some(601.0);
    let t = target(spec, &g, &g.account_id, &long);
    let d = failed(
        TikTokPublisher::STANDARD
            .step(&env.http, &t, &Value::Null)
            .await,
    );
    assert_eq!(d.category, Category::ContentRejected, "{d:?}");
    assert!(d.cause.contains("600"), "{}", d.cause);

    // Branded content, private: TikTok refuses it (validation refuses it first in the API).
    let mut branded = video(&env, "clip.mp4", 100_000);
    branded
        .overrides
        .get_mut("tiktok")
        .unwrap()
        .brand_content_toggle = Some(true);
    let t = target(spec, &g, &g.account_id, &branded);
    let d = failed(
        drive(&env, &TikTokPublisher::STANDARD, &env.http, &t, Value::Null)
            .await
            .map(|_| ()),
    );
    assert_eq!(d.platform_code.as_deref(), Some("invalid_params"), "{d:?}");
    assert!(env.published("tiktok").await.is_empty());
}

/// Finding: unaudited apps may post only to private accounts, only SELF_ONLY, and for at most 5
/// users in 24 hours (content sharing guidelines). The sandbox plays an unaudited app; each
/// refusal is diagnosed in words with what to do.
#[tokio::test]
async fn unaudited_app_private_accounts_only_and_five_users_a_day() {
    let env = tt_start_with(SandboxConfig {
        unaudited_apps: ["tiktok".to_string()].into(),
        ..SandboxConfig::default()
    })
    .await;
    let spec = env.spec("tiktok");
    // A public account: creator_info offers SELF_ONLY only, and the init is refused.
    let ada = env.grant("tiktok", None, SCOPES).await;
    let c = video(&env, "clip.mp4", 100_000);
    let t = target(spec, &ada, &ada.account_id, &c);
    let d = failed(
        drive(&env, &TikTokPublisher::STANDARD, &env.http, &t, Value::Null)
            .await
            .map(|_| ()),
    );
    assert_eq!(
        d.platform_code.as_deref(),
        Some("unaudited_client_can_only_post_to_private_accounts"),
        "{d:?}"
    );
    assert_eq!(d.category, Category::AccountNotEligible);
    assert!(d.cause.contains("audit"), "{}", d.cause);
    assert!(d.fix.iter().any(|f| f.contains("private")), "{:?}", d.fix);
    // PUBLIC_TO_EVERYONE is not offered to an unaudited app.
    let c = with_privacy(video(&env, "clip.mp4", 100_000), "PUBLIC_TO_EVERYONE");
    let t = target(spec, &ada, &ada.account_id, &c);
    let d = failed(
        TikTokPublisher::STANDARD
            .step(&env.http, &t, &Value::Null)
            .await,
    );
    assert!(d.cause.contains("offers SELF_ONLY."), "{}", d.cause);

    // Five private accounts post; a sixth user in the same 24 hours is refused.
    let accounts = [
        "tt-private",
        "tt-private-3",
        "tt-private-4",
        "tt-private-5",
        "tt-private-6",
    ];
    let c = video(&env, "clip.mp4", 100_000);
    for a in accounts {
        let g = env.grant("tiktok", Some(a), SCOPES).await;
        let t = target(spec, &g, &g.account_id, &c);
        drive(&env, &TikTokPublisher::STANDARD, &env.http, &t, Value::Null)
            .await
            .unwrap_or_else(|e| panic!("{a}: {e}"));
    }
    let sixth = env.grant("tiktok", Some("tt-private-7"), SCOPES).await;
    let t = target(spec, &sixth, &sixth.account_id, &c);
    let d = failed(
        drive(&env, &TikTokPublisher::STANDARD, &env.http, &t, Value::Null)
            .await
            .map(|_| ()),
    );
    assert_eq!(
        d.platform_code.as_deref(),
        Some("reached_active_user_cap"),
        "{d:?}"
    );
    assert_eq!(d.category, Category::RateLimited);
    assert!(d.retryable);
    assert!(d.cause.contains("24 hours"), "{}", d.cause);
    // One of the five posts again: not a new user.
    let again = env.grant("tiktok", Some("tt-private-3"), SCOPES).await;
    let t = target(spec, &again, &again.account_id, &c);
    drive(&env, &TikTokPublisher::STANDARD, &env.http, &t, Value::Null)
        .await
        .expect("a user of the window posts again");
    // A day later the window has room.
    env.sandbox.clock().advance(chrono::Duration::hours(25));
    let sixth = env.grant("tiktok", Some("tt-private-7"), SCOPES).await;
    let t = target(spec, &sixth, &sixth.account_id, &c);
    drive(&env, &TikTokPublisher::STANDARD, &env.http, &t, Value::Null)
        .await
        .expect("a new window");
    assert_eq!(env.published("tiktok").await.len(), 7);
}
