//! The LinkedIn publisher against the sandbox: text (little-format escaping), one and several
//! images, a multi-part video polled to AVAILABLE with resume, errors, faults, unknown outcome,
//! metrics.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{json, Value};
use switchboard_core::post::MediaKind;
use switchboard_core::Category;
use switchboard_publish::linkedin::{LinkedInProgress, LinkedInPublisher};
use switchboard_publish::{publisher_for, PublishError, Publisher, Step};

const SCOPES: &[&str] = &["openid", "profile", "email", "w_member_social"];

#[tokio::test]
async fn text_post_is_escaped_and_published_once() {
    let env = start().await;
    let g = env.grant("linkedin", None, SCOPES).await;
    let mut content = text("Ship it (today) @ 5 #1 *bold*");
    content.hashtags = vec!["rust".into()];
    let t = target(env.spec("linkedin"), &g, &g.account_id, &content);
    let p = publisher_for("linkedin").expect("registered");
    let (done, steps) = drive(&env, p, &env.http, &t, Value::Null).await.unwrap();
    assert!(steps.is_empty());
    assert!(
        done.post_id.starts_with("urn:li:share:"),
        "{}",
        done.post_id
    );
    assert_eq!(
        done.url.as_deref(),
        Some(format!("https://www.linkedin.com/feed/update/{}", done.post_id).as_str())
    );
    let items = env.published("linkedin").await;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], done.post_id.as_str());
    assert_eq!(items[0]["kind"], "text");
    assert_eq!(
        items[0]["text"],
        r"Ship it \(today\) \@ 5 \#1 \*bold\*

{hashtag|\#|rust}"
    );
    let again = p.step(&env.http, &t, &done.progress).await.unwrap();
    assert!(matches!(again, Step::Done(_)));
    assert_eq!(env.published("linkedin").await.len(), 1);
}

#[tokio::test]
async fn one_image_then_several_images() {
    let env = start().await;
    let g = env.grant("linkedin", None, SCOPES).await;
    let spec = env.spec("linkedin");

    let mut one = text("one picture");
    one.media = vec![env.media("a.jpg", MediaKind::Image, 5000)];
    let t = target(spec, &g, &g.account_id, &one);
    let (_, steps) = drive(&env, &LinkedInPublisher, &env.http, &t, Value::Null)
        .await
        .unwrap();
    assert_eq!(steps.len(), 2, "initializeUpload + PUT");

    let mut three = text("three pictures");
    three.media = vec![
        env.media("a.jpg", MediaKind::Image, 5000),
        env.media("b.png", MediaKind::Image, 6000),
        env.media("c.gif", MediaKind::Gif, 7000),
    ];
    let t = target(spec, &g, &g.account_id, &three);
    let (done, steps) = drive(&env, &LinkedInPublisher, &env.http, &t, Value::Null)
        .await
        .unwrap();
    assert_eq!(steps.len(), 6);
    let last: LinkedInProgress = serde_json::from_value(done.progress).unwrap();
    let items = env.published("linkedin").await;
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["kind"], "image");
    assert_eq!(items[1]["kind"], "images");
    assert_eq!(items[1]["media"], json!(last.media_urns));
}

#[tokio::test]
async fn video_parts_finalize_poll_and_resume_without_a_second_upload() {
    let env = start().await;
    let g = env.grant("linkedin", None, SCOPES).await;
    let mut content = text("a video");
    content.media = vec![env.media("v.mp4", MediaKind::Video, 4 * 1024 * 1024 + 1000)];
    let t = target(env.spec("linkedin"), &g, &g.account_id, &content);

    // initializeUpload and the first part, then "crash".
    let mut progress = Value::Null;
    for _ in 0..2 {
        match LinkedInPublisher
            .step(&env.http, &t, &progress)
            .await
            .unwrap()
        {
            Step::Continue { progress: p, .. } => progress = p,
            Step::Done(d) => panic!("done too early: {d:?}"),
        }
    }
    let stored = serde_json::to_string(&progress).unwrap();
    let mid: LinkedInProgress = serde_json::from_str(&stored).unwrap();
    let video = mid.video.clone().expect("video upload under way");
    assert_eq!((video.etags.len(), video.instructions.len()), (1, 2));

    let (done, steps) = drive(
        &env,
        &LinkedInPublisher,
        &env.http,
        &t,
        serde_json::from_str(&stored).unwrap(),
    )
    .await
    .unwrap();
    assert!(
        steps.iter().any(|s| s["stage"] == "processing"),
        "{steps:?}"
    );
    let items = env.published("linkedin").await;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["kind"], "video");
    assert_eq!(items[0]["media"], json!([video.urn]));
    assert_eq!(items[0]["id"], done.post_id.as_str());
}

/// With the media item's `size_bytes` known (uploaded media always carry it), the file is not
/// downloaded to learn its size: a host that honours `Range` serves each part once, the file
/// once in all. Without it (and `HEAD` refused) the file is downloaded once more for its size.
#[tokio::test]
async fn a_video_of_known_size_is_fetched_once_part_by_part() {
    let env = start().await;
    let g = env.grant("linkedin", None, SCOPES).await;
    let size = 4 * 1024 * 1024 + 1000;
    for (known, served) in [(Some(size as u64), size as u64), (None, 2 * size as u64)] {
        let host = RangeHost::start("v.mp4", varied_bytes(size), Head::Refused).await;
        let http = env.http_allowing(&host.url);
        let mut content = text(&format!("a video, size_bytes {known:?}"));
        let mut media = env.media("v.mp4", MediaKind::Video, 1);
        media.url = host.url.clone();
        media.size_bytes = known;
        content.media = vec![media];
        let t = target(env.spec("linkedin"), &g, &g.account_id, &content);
        drive(&env, &LinkedInPublisher, &http, &t, Value::Null)
            .await
            .unwrap();
        assert_eq!(host.heads(), u64::from(known.is_none()));
        assert_eq!(host.served(), served, "size_bytes {known:?}");
    }
    let items = env.published("linkedin").await;
    assert_eq!(items.len(), 2);
    assert!(items.iter().all(|i| i["kind"] == "video"), "{items:?}");
}

#[tokio::test]
async fn too_long_commentary_is_refused_not_retryable() {
    let env = start().await;
    let g = env.grant("linkedin", None, SCOPES).await;
    let content = text(&"x".repeat(3001));
    let t = target(env.spec("linkedin"), &g, &g.account_id, &content);
    let d = failed(LinkedInPublisher.step(&env.http, &t, &Value::Null).await);
    assert!(!d.retryable, "{d:?}");
    assert_eq!(d.http_status, Some(422));
    assert_eq!(d.category, Category::ContentRejected, "{d:?}");
    assert!(env.published("linkedin").await.is_empty());
}

#[tokio::test]
async fn throttled_and_unavailable_are_retryable() {
    let env = start().await;
    let g = env.grant("linkedin", None, SCOPES).await;
    let content = text("later please");
    let t = target(env.spec("linkedin"), &g, &g.account_id, &content);
    for (status, code) in [(429, "TOO_MANY_REQUESTS"), (503, "SERVICE_UNAVAILABLE")] {
        env.fault(json!({ "platform": "linkedin", "endpoint": "publish", "status": status,
            "headers": { "retry-after": "120" },
            "body": json!({ "status": status, "serviceErrorCode": 0, "code": code, "message": code }).to_string(),
            "times": 1 }))
            .await;
        let d = failed(LinkedInPublisher.step(&env.http, &t, &Value::Null).await);
        assert!(d.retryable, "{d:?}");
        assert_eq!(d.retry_after_secs, Some(120));
        let want = if status == 429 {
            Category::RateLimited
        } else {
            Category::PlatformUnavailable
        };
        assert_eq!(d.category, want, "{d:?}");
    }
    assert!(env.published("linkedin").await.is_empty());
}

#[tokio::test]
async fn timeout_on_create_is_unknown() {
    let env = start().await;
    let g = env.grant("linkedin", None, SCOPES).await;
    let content = text("slow");
    let t = target(env.spec("linkedin"), &g, &g.account_id, &content);
    env.fault(
        json!({ "platform": "linkedin", "endpoint": "publish", "delay_ms": 1500, "times": 1 }),
    )
    .await;
    let http = env.http_with_timeout(Duration::from_millis(500));
    match LinkedInPublisher.step(&http, &t, &Value::Null).await {
        Err(PublishError::Unknown(d)) => assert_eq!(d.category, Category::Network),
        other => panic!("expected Unknown, got {other:?}"),
    }
    // Without `r_member_social` LinkedIn refuses the author finder: the client cannot look.
    assert!(matches!(
        LinkedInPublisher
            .check(&env.http, &t, &Value::Null, env.now())
            .await,
        Err(PublishError::Unknown(_))
    ));
}

#[tokio::test]
async fn check_finds_the_post_with_the_author_finder() {
    let env = start().await;
    let scopes = [SCOPES, &["r_member_social"]].concat();
    let g = env.grant("linkedin", None, &scopes).await;
    let other = env.grant("linkedin", Some("li-grace"), &scopes).await;
    let content = text("find me (escaped) #here");
    let spec = env.spec("linkedin");
    let t = target(spec, &g, &g.account_id, &content);
    let sent_at = env.now();
    assert!(LinkedInPublisher.next_is_create(&t, &Value::Null));
    assert_eq!(
        check(&env, &LinkedInPublisher, &t, &Value::Null, sent_at).await,
        None,
        "nothing posted yet"
    );
    let (done, _) = drive(&env, &LinkedInPublisher, &env.http, &t, Value::Null)
        .await
        .unwrap();
    let Some(Step::Done(found)) = check(&env, &LinkedInPublisher, &t, &Value::Null, sent_at).await
    else {
        panic!("the post exists");
    };
    assert_eq!(found.post_id, done.post_id);
    assert_eq!(found.url, done.url);
    let different = text("find me, not");
    assert_eq!(
        check(
            &env,
            &LinkedInPublisher,
            &target(spec, &g, &g.account_id, &different),
            &Value::Null,
            sent_at
        )
        .await,
        None
    );
    assert_eq!(
        check(
            &env,
            &LinkedInPublisher,
            &target(spec, &other, &other.account_id, &content),
            &Value::Null,
            sent_at
        )
        .await,
        None
    );
    env.sandbox
        .clock()
        .advance(chrono::Duration::try_hours(1).unwrap());
    assert_eq!(
        check(&env, &LinkedInPublisher, &t, &Value::Null, env.now()).await,
        None,
        "a post older than the call is not its result"
    );
    assert!(!LinkedInPublisher.next_is_create(&t, &done.progress));
}

#[tokio::test]
async fn metrics_from_social_actions() {
    let env = start().await;
    let g = env.grant("linkedin", None, SCOPES).await;
    let content = text("count me");
    let t = target(env.spec("linkedin"), &g, &g.account_id, &content);
    let (done, _) = drive(&env, &LinkedInPublisher, &env.http, &t, Value::Null)
        .await
        .unwrap();
    env.sandbox
        .clock()
        .advance(chrono::Duration::try_days(2).unwrap());
    let m = LinkedInPublisher
        .metrics(&env.http, &t, &done)
        .await
        .unwrap();
    assert_eq!(m.raw["target"], done.post_id.as_str());
    assert_eq!(
        m.likes,
        m.raw["likesSummary"]["aggregatedTotalLikes"].as_u64()
    );
    assert!(m.likes.is_some() && m.comments.is_some());
    assert_eq!(env.stats("linkedin")["metrics_calls"], 1);
}
