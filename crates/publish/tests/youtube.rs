//! The YouTube publisher against the sandbox: a resumable session, chunks of 256 KiB multiples,
//! resume from stored progress and after a lost chunk answer, errors, quota, faults, metrics.

mod common;

use common::*;
use serde_json::{json, Value};
use switchboard_core::post::{MediaKind, PlatformOverride, PostContent};
use switchboard_core::Category;
use switchboard_publish::youtube::{YouTubeProgress, YouTubePublisher, CHUNK_UNIT};
use switchboard_publish::{publisher_for, Publisher, Step};

const SCOPES: &[&str] = &[
    "https://www.googleapis.com/auth/youtube.upload",
    "https://www.googleapis.com/auth/youtube.readonly",
];
/// 2.5 chunks of 256 KiB.
const SIZE: usize = 5 * 128 * 1024;

fn clip(env: &Env) -> PostContent {
    let mut c = text("How we bake");
    c.media = vec![env.media("clip.mp4", MediaKind::Video, SIZE)];
    c.overrides.insert(
        "youtube".into(),
        PlatformOverride {
            title: Some("Baking day".into()),
            tags: Some(vec!["bread".into()]),
            privacy_status: Some("unlisted".into()),
            ..PlatformOverride::default()
        },
    );
    c
}

fn small() -> YouTubePublisher {
    YouTubePublisher {
        chunk_bytes: CHUNK_UNIT,
    }
}

fn yp(v: &Value) -> YouTubeProgress {
    serde_json::from_value(v.clone()).unwrap()
}

async fn video_resource(env: &Env, g: &Grant, id: &str) -> Value {
    let r = env
        .client
        .get(format!("{}/www.googleapis.com/youtube/v3/videos", env.base))
        .query(&[("part", "snippet,status"), ("id", id)])
        .bearer_auth(secrecy::ExposeSecret::expose_secret(&g.token))
        .send()
        .await
        .unwrap();
    r.json::<Value>().await.unwrap()["items"][0].clone()
}

#[tokio::test]
async fn session_then_chunks_publish_one_video() {
    let env = start().await;
    let g = env.grant("youtube", None, SCOPES).await;
    let content = clip(&env);
    let t = target(env.spec("youtube"), &g, &g.account_id, &content);
    let (done, seen) = drive(&env, &small(), &env.http, &t, Value::Null)
        .await
        .unwrap();
    let offsets: Vec<u64> = seen.iter().map(|p| yp(p).offset).collect();
    assert_eq!(offsets, vec![0, CHUNK_UNIT, 2 * CHUNK_UNIT]);
    assert!(yp(&seen[0]).session_uri.is_some());
    let items = env.published("youtube").await;
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0]["id"], done.post_id.as_str());
    assert_eq!(
        done.url.as_deref(),
        Some(format!("https://www.youtube.com/watch?v={}", done.post_id).as_str())
    );
    let v = video_resource(&env, &g, &done.post_id).await;
    assert_eq!(v["snippet"]["title"], "Baking day");
    assert_eq!(v["snippet"]["description"], "How we bake");
    assert_eq!(v["snippet"]["tags"], json!(["bread"]));
    assert_eq!(v["status"]["privacyStatus"], "unlisted");
    assert_eq!(v["status"]["selfDeclaredMadeForKids"], false);
    // The privacy asked for was kept: no warning.
    assert_eq!(done.warning(), None);
}

/// "All videos uploaded via the videos.insert endpoint from unverified API projects created
/// after 28 July 2020 will be restricted to private viewing mode"
/// (https://developers.google.com/youtube/v3/docs/videos/insert): the sandbox's unaudited app
/// gets its upload locked private, and the publisher reads `status.privacyStatus` back and
/// ends published with the warning saying why.
#[tokio::test]
async fn an_unaudited_projects_upload_is_published_private_with_a_warning() {
    let env = start_with(switchboard_sandbox::SandboxConfig {
        unaudited_apps: std::collections::BTreeSet::from(["youtube".to_string()]),
        ..Default::default()
    })
    .await;
    let g = env.grant("youtube", None, SCOPES).await;
    let content = clip(&env);
    let t = target(env.spec("youtube"), &g, &g.account_id, &content);
    let (done, _) = drive(&env, &small(), &env.http, &t, Value::Null)
        .await
        .unwrap();
    assert_eq!(env.published("youtube").await.len(), 1);
    let v = video_resource(&env, &g, &done.post_id).await;
    assert_eq!(v["status"]["privacyStatus"], "private");
    let w = done
        .warning()
        .expect("a warning: asked unlisted, got private");
    assert_eq!(w.category, Category::AppNotApproved);
    assert_eq!(w.severity, switchboard_core::Severity::Warning);
    assert_eq!(w.platform.as_deref(), Some("youtube"));
    assert!(
        w.cause.contains("private") && w.cause.contains("unlisted"),
        "{}",
        w.cause
    );
    assert!(w.fix.iter().any(|f| f.contains("audit")), "{:?}", w.fix);
    assert_eq!(yp(&done.progress).privacy.as_deref(), Some("unlisted"));
}

#[tokio::test]
async fn resume_and_lost_chunk_answers_reuse_the_session() {
    let env = start().await;
    let g = env.grant("youtube", None, SCOPES).await;
    let content = clip(&env);
    let t = target(env.spec("youtube"), &g, &g.account_id, &content);
    let yt = small();
    let Step::Continue { progress, .. } = yt.step(&env.http, &t, &Value::Null).await.unwrap()
    else {
        panic!("expected Continue");
    };
    let Step::Continue { progress, .. } = yt.step(&env.http, &t, &progress).await.unwrap() else {
        panic!("expected Continue");
    };
    // Stored after the first chunk, read back after a "crash".
    let stored: Value = serde_json::from_str(&progress.to_string()).unwrap();
    let session = yp(&stored).session_uri.unwrap();
    // The second chunk is sent but its answer lost: resuming from the stored progress asks
    // YouTube for the offset and goes on from there.
    let Step::Continue { .. } = yt.step(&env.http, &t, &stored).await.unwrap() else {
        panic!("expected Continue");
    };
    let Step::Continue { progress, .. } = yt.step(&env.http, &t, &stored).await.unwrap() else {
        panic!("expected Continue");
    };
    let p = yp(&progress);
    assert_eq!((p.offset, p.offset_queries), (2 * CHUNK_UNIT, 1));
    assert_eq!(p.session_uri.as_deref(), Some(session.as_str()));
    let Step::Done(done) = yt.step(&env.http, &t, &progress).await.unwrap() else {
        panic!("expected Done");
    };
    assert_eq!(env.published("youtube").await.len(), 1);
    // The last answer lost too: the same step again finds the finished video.
    let Step::Done(again) = yt.step(&env.http, &t, &progress).await.unwrap() else {
        panic!("expected Done");
    };
    assert_eq!(again.post_id, done.post_id);
    assert_eq!(env.published("youtube").await.len(), 1);
}

#[tokio::test]
async fn no_channel_and_quota_exceeded() {
    let env = start().await;
    let spec = env.spec("youtube");
    let yt = publisher_for("youtube").expect("registered");
    let nochannel = env.grant("youtube", Some("yt-nochannel"), SCOPES).await;
    let content = clip(&env);
    let t = target(spec, &nochannel, &nochannel.account_id, &content);
    let d = failed(yt.step(&env.http, &t, &Value::Null).await);
    assert_eq!(d.category, Category::AccountNotEligible, "{d:?}");
    assert!(!d.retryable);
    assert_eq!(d.platform_code.as_deref(), Some("youtubeSignupRequired"));

    // A title with `<` is refused.
    let g = env.grant("youtube", None, SCOPES).await;
    let mut bad = clip(&env);
    bad.overrides.get_mut("youtube").unwrap().title = Some("a <b>".into());
    let t = target(spec, &g, &g.account_id, &bad);
    let d = failed(yt.step(&env.http, &t, &Value::Null).await);
    assert_eq!(d.category, Category::ContentRejected, "{d:?}");

    // 100 sessions a day per app, then quotaExceeded (rate_limited, retryable tomorrow).
    let t = target(spec, &g, &g.account_id, &content);
    for _ in 0..100 {
        yt.step(&env.http, &t, &Value::Null).await.unwrap();
    }
    let d = failed(yt.step(&env.http, &t, &Value::Null).await);
    assert_eq!(d.category, Category::RateLimited, "{d:?}");
    assert!(d.retryable);
    assert_eq!(d.platform_code.as_deref(), Some("quotaExceeded"));
    assert!(env.published("youtube").await.is_empty());
}

#[tokio::test]
async fn faults_are_retryable_and_do_not_duplicate() {
    let env = start().await;
    let g = env.grant("youtube", None, SCOPES).await;
    let content = clip(&env);
    let t = target(env.spec("youtube"), &g, &g.account_id, &content);
    let yt = small();
    let google = |code: u16, reason: &str| {
        json!({ "error": { "code": code, "message": "try later",
            "errors": [{ "domain": "global", "reason": reason, "message": "try later" }],
            "status": "UNAVAILABLE" } })
        .to_string()
    };
    env.fault(
        json!({ "platform": "youtube", "endpoint": "publish", "status": 503,
        "body": google(503, "backendError"), "headers": { "retry-after": "20" }, "times": 1 }),
    )
    .await;
    let d = failed(yt.step(&env.http, &t, &Value::Null).await);
    assert!(d.retryable, "{d:?}");
    assert_eq!(d.retry_after_secs, Some(20));
    let Step::Continue { progress, .. } = yt.step(&env.http, &t, &Value::Null).await.unwrap()
    else {
        panic!("expected Continue");
    };
    // A chunk answered 503: retryable; the retry continues the same session.
    env.fault(
        json!({ "platform": "youtube", "endpoint": "upload", "status": 503,
        "body": google(503, "backendError"), "times": 1 }),
    )
    .await;
    let d = failed(yt.step(&env.http, &t, &progress).await);
    assert!(d.retryable, "{d:?}");
    let (done, _) = drive(&env, &yt, &env.http, &t, progress).await.unwrap();
    let items = env.published("youtube").await;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], done.post_id.as_str());
}

#[tokio::test]
async fn statistics_after_publishing() {
    let env = start().await;
    let g = env.grant("youtube", None, SCOPES).await;
    let content = clip(&env);
    let t = target(env.spec("youtube"), &g, &g.account_id, &content);
    let (done, _) = drive(
        &env,
        &YouTubePublisher::STANDARD,
        &env.http,
        &t,
        Value::Null,
    )
    .await
    .unwrap();
    env.sandbox.clock().advance(chrono::Duration::hours(3));
    let m = YouTubePublisher::STANDARD
        .metrics(&env.http, &t, &done)
        .await
        .unwrap();
    assert!(m.views.is_some_and(|v| v > 0), "{m:?}");
    assert!(m.likes.is_some() && m.comments.is_some(), "{m:?}");
    assert_eq!(m.raw["items"][0]["id"], done.post_id.as_str());
}

#[tokio::test]
async fn an_expired_session_is_replaced_and_publishes_one_video() {
    let env = start().await;
    let g = env.grant("youtube", None, SCOPES).await;
    let content = clip(&env);
    let t = target(env.spec("youtube"), &g, &g.account_id, &content);
    let p = small();
    let Step::Continue { progress, .. } = p.step(&env.http, &t, &Value::Null).await.unwrap() else {
        panic!("expected the session");
    };
    let Step::Continue { progress, .. } = p.step(&env.http, &t, &progress).await.unwrap() else {
        panic!("expected a 308");
    };
    assert!(yp(&progress).offset > 0);
    // A week later the session is gone (404): a new one, from the start, not a failure.
    env.sandbox.clock().advance(chrono::Duration::days(8));
    let Step::Continue { progress, .. } = p.step(&env.http, &t, &progress).await.unwrap() else {
        panic!("expected a restart");
    };
    let restarted = yp(&progress);
    assert_eq!(restarted.session_uri, None);
    assert_eq!((restarted.offset, restarted.session_restarts), (0, 1));
    drive(&env, &p, &env.http, &t, progress).await.unwrap();
    assert_eq!(env.published("youtube").await.len(), 1);
}
