//! The Instagram publisher against the sandbox: image, Reel and carousel containers step by
//! step, resume from stored progress, publish-twice protection, platform errors, faults, an
//! unknown `media_publish` then `check`, insights.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{json, Value};
use switchboard_core::post::{MediaKind, PostContent};
use switchboard_core::Category;
use switchboard_publish::instagram::{InstagramProgress, InstagramPublisher};
use switchboard_publish::{publisher_for, PublishError, Publisher, Step};

const SCOPES: &[&str] = &[
    "instagram_business_basic",
    "instagram_business_content_publish",
    "instagram_business_manage_insights",
];

fn post(env: &Env, media: &[(&str, MediaKind)]) -> PostContent {
    let mut c = text("Fresh bread");
    c.hashtags = vec!["bakery".into()];
    c.media = media
        .iter()
        .map(|(name, kind)| env.media(name, *kind, 20_000))
        .collect();
    c
}

fn progress_of(step: &Step) -> InstagramProgress {
    match step {
        Step::Continue { progress, .. } => serde_json::from_value(progress.clone()).unwrap(),
        Step::Done(p) => serde_json::from_value(p.progress.clone()).unwrap(),
    }
}

#[tokio::test]
async fn single_image_goes_container_poll_publish_once() {
    let env = start().await;
    let g = env.grant("instagram", None, SCOPES).await;
    let content = post(&env, &[("cake.jpg", MediaKind::Image)]);
    let t = target(env.spec("instagram"), &g, &g.account_id, &content);
    let ig = publisher_for("instagram").expect("registered");

    // Step 1: the container, nothing published.
    let s1 = ig.step(&env.http, &t, &Value::Null).await.unwrap();
    let p1 = progress_of(&s1);
    assert!(p1.container.is_some(), "{p1:?}");
    assert!(env.published("instagram").await.is_empty());
    // Step 2: still IN_PROGRESS: wait the poll interval.
    let s2 = ig
        .step(&env.http, &t, &serde_json::to_value(&p1).unwrap())
        .await
        .unwrap();
    match &s2 {
        Step::Continue { wait, .. } => assert_eq!(*wait, Some(Duration::from_secs(3))),
        other => panic!("expected a poll, got {other:?}"),
    }
    env.sandbox.clock().advance(chrono::Duration::seconds(3));
    let Step::Done(done) = ig
        .step(&env.http, &t, &serde_json::to_value(&p1).unwrap())
        .await
        .unwrap()
    else {
        panic!("expected Done");
    };
    let items = env.published("instagram").await;
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0]["id"], done.post_id.as_str());
    assert_eq!(items[0]["kind"], "image");
    assert_eq!(items[0]["text"], "Fresh bread\n\n#bakery");
    assert_eq!(
        done.url.as_deref(),
        Some(format!("https://www.instagram.com/p/sbx{}/", done.post_id).as_str())
    );
}

#[tokio::test]
async fn reel_and_carousel_publish_once_each() {
    let env = start().await;
    let g = env.grant("instagram", None, SCOPES).await;
    let spec = env.spec("instagram");

    let reel = post(&env, &[("clip.mp4", MediaKind::Video)]);
    let t = target(spec, &g, &g.account_id, &reel);
    let (done, seen) = drive(&env, &InstagramPublisher, &env.http, &t, Value::Null)
        .await
        .unwrap();
    // Container, then polls while the 30 s of video processing pass (10 s each).
    assert!(seen.len() >= 3, "{seen:?}");
    let items = env.published("instagram").await;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], done.post_id.as_str());
    assert_eq!(items[0]["kind"], "video");

    let carousel = post(
        &env,
        &[
            ("a.jpg", MediaKind::Image),
            ("b.jpg", MediaKind::Image),
            ("c.mp4", MediaKind::Video),
        ],
    );
    let t = target(spec, &g, &g.account_id, &carousel);
    let (done, seen) = drive(&env, &InstagramPublisher, &env.http, &t, Value::Null)
        .await
        .unwrap();
    // One step per child, then the parent.
    let counts: Vec<(usize, bool)> = seen
        .iter()
        .map(|p| {
            let p: InstagramProgress = serde_json::from_value(p.clone()).unwrap();
            (p.children.len(), p.container.is_some())
        })
        .collect();
    assert_eq!(
        &counts[..4],
        &[(1, false), (2, false), (3, false), (3, true)]
    );
    let items = env.published("instagram").await;
    assert_eq!(items.len(), 2);
    assert_eq!(items[1]["id"], done.post_id.as_str());
    assert_eq!(items[1]["kind"], "carousel");
    assert_eq!(items[1]["media"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn resume_reuses_the_container_and_never_publishes_twice() {
    let env = start().await;
    let g = env.grant("instagram", None, SCOPES).await;
    let content = post(&env, &[("cake.jpg", MediaKind::Image)]);
    let t = target(env.spec("instagram"), &g, &g.account_id, &content);

    let first = InstagramPublisher
        .step(&env.http, &t, &Value::Null)
        .await
        .unwrap();
    let Step::Continue { progress, .. } = first else {
        panic!("expected Continue");
    };
    // Stored as text, read back after a "crash".
    let stored = progress.to_string();
    let resumed: Value = serde_json::from_str(&stored).unwrap();
    let uploads_before = env.stats("instagram")["upload_calls"].as_u64().unwrap();
    env.sandbox.clock().advance(chrono::Duration::seconds(5));
    let (done, seen) = drive(&env, &InstagramPublisher, &env.http, &t, resumed.clone())
        .await
        .unwrap();
    assert!(seen.is_empty(), "FINISHED at once: one step that publishes");
    let final_p: InstagramProgress = serde_json::from_value(done.progress.clone()).unwrap();
    let mid: InstagramProgress = serde_json::from_value(resumed.clone()).unwrap();
    assert_eq!(final_p.container, mid.container, "the same container");
    // One status read and the permalink read, no new container.
    assert_eq!(
        env.stats("instagram")["upload_calls"].as_u64().unwrap(),
        uploads_before + 2
    );
    assert_eq!(env.published("instagram").await.len(), 1);

    // The dispatcher crashed before storing Done and resumes from the older progress: the
    // status read sees PUBLISHED and nothing is published again.
    let again = InstagramPublisher
        .step(&env.http, &t, &resumed)
        .await
        .unwrap();
    let Step::Done(again) = again else {
        panic!("expected Done");
    };
    assert_eq!(
        again.post_id, done.post_id,
        "reported under the media it became, found among the user's media"
    );
    assert_ne!(Some(again.post_id), mid.container);
    assert_eq!(env.published("instagram").await.len(), 1);
    // And from the Done progress: the media id is kept.
    let Step::Done(third) = InstagramPublisher
        .step(&env.http, &t, &done.progress)
        .await
        .unwrap()
    else {
        panic!("expected Done");
    };
    assert_eq!(third.post_id, done.post_id);
    assert_eq!(third.url, done.url);
    assert!(third.url.is_some());
    assert_eq!(env.published("instagram").await.len(), 1);
}

#[tokio::test]
async fn platform_errors_fail_with_their_category() {
    let env = start().await;
    let spec = env.spec("instagram");

    // PNG: refused at container creation (36001 / 2207005).
    let g = env.grant("instagram", None, SCOPES).await;
    let png = post(&env, &[("cake.png", MediaKind::Image)]);
    let t = target(spec, &g, &g.account_id, &png);
    let d = failed(InstagramPublisher.step(&env.http, &t, &Value::Null).await);
    assert_eq!(d.category, Category::ContentRejected, "{d:?}");
    assert!(!d.retryable);

    // A personal account cannot publish (code 10).
    let personal = env.grant("instagram", Some("ig-personal"), SCOPES).await;
    let jpg = post(&env, &[("cake.jpg", MediaKind::Image)]);
    let t = target(spec, &personal, &personal.account_id, &jpg);
    let d = failed(InstagramPublisher.step(&env.http, &t, &Value::Null).await);
    assert_eq!(d.category, Category::AccountNotEligible, "{d:?}");
    assert!(!d.retryable);

    // Media Meta cannot fetch: the container ends in ERROR.
    let mut bad = post(&env, &[("cake.jpg", MediaKind::Image)]);
    bad.media[0].url = "https://cdn.example.com/sandbox-bad-media/cake.jpg".into();
    let t = target(spec, &g, &g.account_id, &bad);
    let r = drive(&env, &InstagramPublisher, &env.http, &t, Value::Null).await;
    let d = failed(r.map(|_| ()));
    assert_eq!(d.category, Category::ContentRejected, "{d:?}");
    assert_eq!(d.platform_code.as_deref(), Some("ERROR"));

    // No text-only posts.
    let none = text("just words");
    let t = target(spec, &g, &g.account_id, &none);
    let d = failed(InstagramPublisher.step(&env.http, &t, &Value::Null).await);
    assert_eq!(d.category, Category::ContentRejected);
    assert!(env.published("instagram").await.is_empty());
}

#[tokio::test]
async fn unavailable_publish_is_retryable_then_succeeds_once() {
    let env = start().await;
    let g = env.grant("instagram", None, SCOPES).await;
    let content = post(&env, &[("cake.jpg", MediaKind::Image)]);
    let t = target(env.spec("instagram"), &g, &g.account_id, &content);
    let Step::Continue { progress, .. } = InstagramPublisher
        .step(&env.http, &t, &Value::Null)
        .await
        .unwrap()
    else {
        panic!("expected Continue");
    };
    env.sandbox.clock().advance(chrono::Duration::seconds(5));
    for status in [503, 429] {
        env.fault(
            json!({ "platform": "instagram", "endpoint": "publish", "status": status,
            "headers": { "retry-after": "60" },
            "body": json!({ "error": { "message": "Please retry", "type": "OAuthException",
                "code": if status == 429 { 4 } else { 2 }, "is_transient": true,
                "fbtrace_id": "sbx" } }).to_string(),
            "times": 1 }),
        )
        .await;
        let d = failed(InstagramPublisher.step(&env.http, &t, &progress).await);
        assert!(d.retryable, "{status}: {d:?}");
        assert_eq!(d.retry_after_secs, Some(60));
        assert!(env.published("instagram").await.is_empty());
    }
    let (done, _) = drive(&env, &InstagramPublisher, &env.http, &t, progress)
        .await
        .unwrap();
    let items = env.published("instagram").await;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], done.post_id.as_str());
}

#[tokio::test]
async fn timeout_on_media_publish_is_unknown_then_check_reads_the_container() {
    let env = start().await;
    let g = env.grant("instagram", None, SCOPES).await;
    let content = post(&env, &[("cake.jpg", MediaKind::Image)]);
    let t = target(env.spec("instagram"), &g, &g.account_id, &content);
    let Step::Continue { progress, .. } = InstagramPublisher
        .step(&env.http, &t, &Value::Null)
        .await
        .unwrap()
    else {
        panic!("expected Continue");
    };
    env.sandbox.clock().advance(chrono::Duration::seconds(5));
    // The answer comes after the client gave up, and the platform did not act (the fault
    // answers instead of the handler): the outcome is unknown to the client.
    env.fault(
        json!({ "platform": "instagram", "endpoint": "publish", "delay_ms": 1500,
        "status": 504, "body": "", "times": 1 }),
    )
    .await;
    let slow = env.http_with_timeout(Duration::from_millis(500));
    match InstagramPublisher.step(&slow, &t, &progress).await {
        Err(PublishError::Unknown(d)) => assert_eq!(d.category, Category::Network),
        other => panic!("expected Unknown, got {other:?}"),
    }
    // `check` reads the container: FINISHED, not published, so publishing may go on.
    let checked = check(&env, &InstagramPublisher, &t, &progress, chrono::Utc::now())
        .await
        .expect("Instagram lets the client check a container");
    let Step::Continue { progress: next, .. } = checked else {
        panic!("expected Continue, got {checked:?}");
    };
    assert!(env.published("instagram").await.is_empty());
    drive(&env, &InstagramPublisher, &env.http, &t, next)
        .await
        .unwrap();
    assert_eq!(env.published("instagram").await.len(), 1);
    // Checked again (as after an unknown answer of a publish that did happen): PUBLISHED.
    let Some(Step::Done(done)) =
        check(&env, &InstagramPublisher, &t, &progress, chrono::Utc::now()).await
    else {
        panic!("expected Done");
    };
    // The media it became is found among the user's media (same caption, since the call).
    let items = env.published("instagram").await;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], done.post_id.as_str());
    assert!(done.url.is_some(), "{done:?}");
    // A call sent long after any media with that caption: the container id stands in.
    let later = env.now() + chrono::Duration::hours(2);
    let Some(Step::Done(by_container)) =
        check(&env, &InstagramPublisher, &t, &progress, later).await
    else {
        panic!("expected Done");
    };
    let mid: InstagramProgress = serde_json::from_value(progress.clone()).unwrap();
    assert_eq!(Some(by_container.post_id), mid.container);
    assert_eq!(env.published("instagram").await.len(), 1);
    // Without a container there is nothing to check: the client cannot tell.
    assert!(matches!(
        InstagramPublisher
            .check(&env.http, &t, &Value::Null, chrono::Utc::now())
            .await,
        Ok(switchboard_publish::Checked::CannotTell(_))
    ));
}

#[tokio::test]
async fn insights_after_publishing() {
    let env = start().await;
    let g = env.grant("instagram", None, SCOPES).await;
    let content = post(&env, &[("cake.jpg", MediaKind::Image)]);
    let t = target(env.spec("instagram"), &g, &g.account_id, &content);
    let (done, _) = drive(&env, &InstagramPublisher, &env.http, &t, Value::Null)
        .await
        .unwrap();
    env.sandbox.clock().advance(chrono::Duration::hours(6));
    let m = InstagramPublisher
        .metrics(&env.http, &t, &done)
        .await
        .unwrap();
    for (name, v) in [
        ("impressions", m.impressions),
        ("engagements", m.engagements),
        ("likes", m.likes),
        ("comments", m.comments),
        ("shares", m.shares),
        ("views", m.views),
    ] {
        assert!(v.is_some(), "{name} missing: {m:?}");
    }
    assert!(m.impressions.unwrap() > 0, "{m:?}");
    // The current FEED metrics, none of the retired ones (`impressions`, `plays`): the sandbox
    // refuses the whole call for one retired metric, as Meta does.
    let names: Vec<&str> = m.raw["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "views",
            "reach",
            "likes",
            "comments",
            "shares",
            "saved",
            "total_interactions"
        ]
    );
}

/// A video is published as a Reel, whose insights take `ig_reels_avg_watch_time` on top of the
/// feed metrics (media product type `REELS`, Instagram Media Insights).
#[tokio::test]
async fn reel_insights_are_asked_for_as_a_reel() {
    let env = start().await;
    let g = env.grant("instagram", None, SCOPES).await;
    let content = post(&env, &[("clip.mp4", MediaKind::Video)]);
    let t = target(env.spec("instagram"), &g, &g.account_id, &content);
    let (done, _) = drive(&env, &InstagramPublisher, &env.http, &t, Value::Null)
        .await
        .unwrap();
    env.sandbox.clock().advance(chrono::Duration::hours(6));
    let m = InstagramPublisher
        .metrics(&env.http, &t, &done)
        .await
        .unwrap();
    assert!(m.views.is_some_and(|v| v > 0), "{m:?}");
    let names: Vec<&str> = m.raw["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"ig_reels_avg_watch_time"), "{names:?}");
    assert!(!names.contains(&"plays") && !names.contains(&"impressions"));
}

#[tokio::test]
async fn publishing_quota_is_rate_limited() {
    let env = start().await;
    let g = env.grant("instagram", None, SCOPES).await;
    let content = post(&env, &[("cake.jpg", MediaKind::Image)]);
    let t = target(env.spec("instagram"), &g, &g.account_id, &content);
    // 50 publishes per rolling 24 h (`content_publishing_limit`).
    for _ in 0..50 {
        drive(&env, &InstagramPublisher, &env.http, &t, Value::Null)
            .await
            .unwrap();
    }
    let d = failed(
        drive(&env, &InstagramPublisher, &env.http, &t, Value::Null)
            .await
            .map(|_| ()),
    );
    assert_eq!(d.category, Category::RateLimited, "{d:?}");
    assert!(d.retryable);
    assert_eq!(env.published("instagram").await.len(), 50);
}
