//! Posts end to end: `POST /v1/posts`, the publishing dispatcher (`workers::publish::tick`,
//! driven by hand with the moved clock), and the post endpoints, against the sandbox's X.
//! "Published once" is checked at the sandbox (`/__sandbox/published`, `published_by_account`).

mod common;

use chrono::Duration;
use common::*;
use reqwest::StatusCode;
use secrecy::SecretString;
use serde_json::{json, Value};
use switchboard_server::workers::publish::tick;

const ADA: &str = "1580000000000000001";
const GRACE: &str = "1580000000000000002";

async fn connection(app: &TestApp, account: &str) -> String {
    app.connect_as("twitter", Some(account)).await["id"]
        .as_str()
        .expect("connection id")
        .to_string()
}

/// Creates a post; returns its JSON (201 asserted).
async fn create(app: &TestApp, body: Value) -> Value {
    let (s, v) = app.post("/v1/posts", body).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v
}

/// Creates a post; returns its id.
async fn create_id(app: &TestApp, body: Value) -> String {
    create(app, body).await["id"]
        .as_str()
        .expect("post id")
        .to_string()
}

/// The next `times` publish calls to X answer 503 with X's problem body.
async fn x_unavailable(app: &TestApp, times: u32) {
    app.fault(json!({
        "platform": "twitter", "endpoint": "publish", "status": 503, "times": times,
        "body": json!({"title": "Service Unavailable", "detail": "Service Unavailable", "type": "about:blank", "status": 503}).to_string()
    }))
    .await;
}

async fn post(app: &TestApp, id: &str) -> Value {
    let (s, v) = app.get(&format!("/v1/posts/{id}")).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v
}

async fn published_items(app: &TestApp) -> Vec<Value> {
    let v: Value = app
        .http
        .get(format!(
            "{}/__sandbox/published?platform=twitter",
            app.sandbox
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["items"].as_array().cloned().unwrap_or_default()
}

fn published_by(stats: &Value, account: &str) -> u64 {
    stats["platforms"]["twitter"]["published_by_account"][account]
        .as_u64()
        .unwrap_or(0)
}

fn statuses(post: &Value) -> Vec<String> {
    post["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["status"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_text_post_to_x_is_published_exactly_once_with_its_url() {
    let app = TestApp::spawn().await;
    let x = connection(&app, "x-ada").await;
    let created = create(
        &app,
        json!({"content": {"text": "Hello from Switchboard", "hashtags": ["launch"]}, "connection_ids": [x], "campaign_id": "spring"}),
    )
    .await;
    assert_eq!(created["status"], "scheduled");
    assert_eq!(created["targets"][0]["platform"], "twitter");
    assert_eq!(created["targets"][0]["connection_id"], x.as_str());
    let id = created["id"].as_str().unwrap();

    assert_eq!(tick(&app.state).await.unwrap(), 1);
    let p = post(&app, id).await;
    assert_eq!(p["status"], "published", "{p}");
    let t = &p["targets"][0];
    let tweet = t["platform_post_id"].as_str().expect("tweet id");
    assert!(
        t["url"].as_str().expect("url").ends_with(tweet),
        "the URL points at the tweet: {t}"
    );
    assert_eq!(t["diagnosis"], Value::Null);

    // Ticking again publishes nothing more.
    assert_eq!(tick(&app.state).await.unwrap(), 0);
    app.clock.advance(Duration::hours(3));
    assert_eq!(tick(&app.state).await.unwrap(), 0);
    let items = published_items(&app).await;
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0]["text"], "Hello from Switchboard\n\n#launch");
    assert_eq!(items[0]["id"], tweet);
    let stats = app.sandbox_stats().await;
    assert_eq!(published_by(&stats, ADA), 1);

    // The event log says so.
    let events = app
        .state
        .store()
        .list_events(&app.workspace_id, 50)
        .await
        .unwrap();
    let ev = events
        .iter()
        .find(|e| e.kind == "post.published")
        .expect("post.published event");
    assert_eq!(ev.payload["platform_post_id"], tweet);

    // Listing and the summary agree.
    let (s, list) = app
        .get("/v1/posts?campaign_id=spring&status=published&platform=twitter")
        .await;
    assert_eq!(s, StatusCode::OK, "{list}");
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    let (_, list) = app.get("/v1/posts?campaign_id=autumn").await;
    assert_eq!(list["data"], json!([]));
    let (s, summary) = app.get("/v1/posts/summary").await;
    assert_eq!(s, StatusCode::OK, "{summary}");
    assert_eq!(summary["total"], 1);
    assert_eq!(summary["by_status"]["published"], 1);
    assert_eq!(summary["by_platform"]["twitter"]["published"], 1);
}

#[tokio::test]
async fn a_scheduled_post_waits_for_its_time_in_its_time_zone() {
    let app = TestApp::spawn().await;
    let x = connection(&app, "x-ada").await;
    // One hour from now, written as a local time in New York.
    let zone: switchboard_core::post::IanaTimeZone = "America/New_York".parse().unwrap();
    let due = (app.state.now() + Duration::hours(1))
        .with_timezone(&zone.0)
        .naive_local()
        .format("%Y-%m-%dT%H:%M:%S")
        .to_string();
    let created = create(
        &app,
        json!({"content": {"text": "Later"}, "connection_ids": [x], "publish_at": due, "time_zone": "America/New_York"}),
    )
    .await;
    let id = created["id"].as_str().unwrap();
    assert_eq!(created["time_zone"], "America/New_York");
    assert_eq!(tick(&app.state).await.unwrap(), 0);
    app.clock.advance(Duration::minutes(59));
    assert_eq!(tick(&app.state).await.unwrap(), 0);
    assert!(published_items(&app).await.is_empty());
    assert_eq!(post(&app, id).await["status"], "scheduled");
    app.clock.advance(Duration::minutes(1));
    assert_eq!(tick(&app.state).await.unwrap(), 1);
    assert_eq!(post(&app, id).await["status"], "published");
    assert_eq!(published_items(&app).await.len(), 1);

    // A post listed by time range.
    let from = (app.state.now() - Duration::minutes(5)).to_rfc3339();
    let (s, list) = app
        .get(&format!("/v1/posts?from={}", urlencode(&from)))
        .await;
    assert_eq!(s, StatusCode::OK, "{list}");
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    let (s, bad) = app.get("/v1/posts?from=yesterday").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    assert_eq!(bad["field"], "from");
}

fn urlencode(s: &str) -> String {
    s.replace('+', "%2B").replace(':', "%3A")
}

#[tokio::test]
async fn cancel_stops_scheduled_targets_and_publish_now_brings_them_forward() {
    let app = TestApp::spawn().await;
    let x = connection(&app, "x-ada").await;
    let later = (app.state.now() + Duration::hours(2)).to_rfc3339();
    let a = create(
        &app,
        json!({"content": {"text": "Cancelled"}, "connection_ids": [x], "publish_at": later}),
    )
    .await;
    let b = create(
        &app,
        json!({"content": {"text": "Brought forward"}, "connection_ids": [x], "publish_at": later}),
    )
    .await;
    let (s, v) = app
        .post(
            &format!("/v1/posts/{}/cancel", a["id"].as_str().unwrap()),
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        (v["changed"].as_u64(), v["status"].as_str()),
        (Some(1), Some("cancelled"))
    );
    let (s, v) = app
        .post(
            &format!("/v1/posts/{}/publish", b["id"].as_str().unwrap()),
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["changed"], 1);
    assert_eq!(tick(&app.state).await.unwrap(), 1);
    assert_eq!(
        post(&app, b["id"].as_str().unwrap()).await["status"],
        "published"
    );
    // Cancelling a published post changes nothing.
    let (_, v) = app
        .post(
            &format!("/v1/posts/{}/cancel", b["id"].as_str().unwrap()),
            json!({}),
        )
        .await;
    assert_eq!(
        (v["changed"].as_u64(), v["status"].as_str()),
        (Some(0), Some("published"))
    );
    app.clock.advance(Duration::hours(3));
    assert_eq!(tick(&app.state).await.unwrap(), 0);
    let items = published_items(&app).await;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["text"], "Brought forward");
}

#[tokio::test]
async fn one_permanent_failure_leaves_the_others_published_and_retry_reruns_only_it() {
    let app = TestApp::spawn().await;
    let ada = connection(&app, "x-ada").await;
    let grace = connection(&app, "x-grace").await;
    // X's answer to an over-long text (PLATFORMS.md §1: 403 problem), forced past validation.
    app.fault(json!({
        "platform": "twitter", "endpoint": "publish", "status": 403, "times": 1,
        "body": json!({"title": "Forbidden", "type": "https://api.x.com/2/problems/invalid-request",
                 "detail": "Your Tweet text is too long.", "status": 403}).to_string()
    }))
    .await;
    let created = create(
        &app,
        json!({"content": {"text": "Two accounts"}, "connection_ids": [ada, grace]}),
    )
    .await;
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(tick(&app.state).await.unwrap(), 2);
    let p = post(&app, &id).await;
    let mut st = statuses(&p);
    st.sort();
    assert_eq!(st, ["failed", "published"], "{p}");
    assert_eq!(p["status"], "partially_published");
    let failed = p["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["status"] == "failed")
        .unwrap()
        .clone();
    assert_eq!(failed["diagnosis"]["http_status"], 403, "{failed}");
    assert_eq!(failed["diagnosis"]["retryable"], false);
    assert_eq!(failed["attempts"], 1, "a permanent failure is tried once");
    let (_, summary) = app.get("/v1/posts/summary").await;
    assert_eq!(
        summary["by_platform"]["twitter"]["published"], 1,
        "{summary}"
    );
    assert_eq!(summary["by_platform"]["twitter"]["failed"], 1);
    assert_eq!(summary["total"], 2);
    let events = app
        .state
        .store()
        .list_events(&app.workspace_id, 50)
        .await
        .unwrap();
    assert!(events.iter().any(|e| e.kind == "post.failed"));

    // Nothing happens by itself.
    app.clock.advance(Duration::hours(1));
    assert_eq!(tick(&app.state).await.unwrap(), 0);

    let (s, v) = app.post(&format!("/v1/posts/{id}/retry"), json!({})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["changed"], 1, "only the failed target");
    assert_eq!(tick(&app.state).await.unwrap(), 1);
    let p = post(&app, &id).await;
    assert_eq!(statuses(&p), ["published", "published"], "{p}");
    let stats = app.sandbox_stats().await;
    assert_eq!(published_by(&stats, ADA), 1);
    assert_eq!(published_by(&stats, GRACE), 1);
    let (_, v) = app.post(&format!("/v1/posts/{id}/retry"), json!({})).await;
    assert_eq!(v["changed"], 0);
}

#[tokio::test]
async fn a_503_is_retried_after_a_back_off_then_published_once() {
    let app = TestApp::spawn().await;
    let x = connection(&app, "x-ada").await;
    x_unavailable(&app, 1).await;
    let id = create_id(
        &app,
        json!({"content": {"text": "Retry me"}, "connection_ids": [x]}),
    )
    .await;
    assert_eq!(tick(&app.state).await.unwrap(), 1);
    let p = post(&app, &id).await;
    let t = &p["targets"][0];
    assert_eq!(t["status"], "scheduled", "{p}");
    assert_eq!(t["attempts"], 1);
    assert_eq!(t["diagnosis"]["http_status"], 503);
    assert_eq!(tick(&app.state).await.unwrap(), 0, "backing off");
    app.clock.advance(Duration::seconds(31));
    assert_eq!(tick(&app.state).await.unwrap(), 1);
    let p = post(&app, &id).await;
    assert_eq!(p["targets"][0]["status"], "published", "{p}");
    assert_eq!(published_items(&app).await.len(), 1);
}

#[tokio::test]
async fn transient_failures_stop_after_three_attempts() {
    let app = TestApp::spawn().await;
    let x = connection(&app, "x-ada").await;
    x_unavailable(&app, 10).await;
    let id = create_id(
        &app,
        json!({"content": {"text": "Never"}, "connection_ids": [x]}),
    )
    .await;
    let mut handled = 0;
    for _ in 0..10 {
        handled += tick(&app.state).await.unwrap();
        app.clock.advance(Duration::minutes(10));
    }
    assert_eq!(handled, 3, "three tries, then it stops");
    let p = post(&app, &id).await;
    assert_eq!(p["targets"][0]["status"], "failed", "{p}");
    assert_eq!(p["targets"][0]["attempts"], 3);
    let faults_served = app.sandbox_stats().await["platforms"]["twitter"]["faults_served"]
        .as_u64()
        .unwrap();
    assert_eq!(faults_served, 3);
}

#[tokio::test]
async fn the_attempt_bound_is_configurable() {
    let app = TestApp::spawn_with(Setup {
        config: Box::new(|c| c.publish_max_attempts = 1),
        ..Setup::default()
    })
    .await;
    let x = connection(&app, "x-ada").await;
    x_unavailable(&app, 5).await;
    let id = create_id(
        &app,
        json!({"content": {"text": "Once"}, "connection_ids": [x]}),
    )
    .await;
    assert_eq!(tick(&app.state).await.unwrap(), 1);
    let p = post(&app, &id).await;
    assert_eq!(p["targets"][0]["status"], "failed", "{p}");
    assert_eq!(
        p["targets"][0]["diagnosis"]["retryable"], true,
        "transient, but out of tries"
    );
    app.clock.advance(Duration::hours(1));
    assert_eq!(tick(&app.state).await.unwrap(), 0);
}

#[tokio::test]
async fn a_timeout_on_the_publish_call_is_checked_at_the_safe_time_never_sent_twice() {
    let app = TestApp::spawn().await;
    let x = connection(&app, "x-ada").await;
    // The test stack's HTTP timeout is 2 s: X answers too late (and publishes).
    app.fault(json!({"platform": "twitter", "endpoint": "publish", "delay_ms": 3500, "times": 1}))
        .await;
    let id = create_id(
        &app,
        json!({"content": {"text": "Did it?"}, "connection_ids": [x]}),
    )
    .await;
    assert_eq!(tick(&app.state).await.unwrap(), 1);
    // No immediate check: the request may still land; it waits, marker kept.
    let p = post(&app, &id).await;
    assert_eq!(p["targets"][0]["status"], "publishing", "{p}");
    assert_eq!(
        tick(&app.state).await.unwrap(),
        0,
        "waits for the safe time"
    );
    // Let the late request land at the sandbox (real time), then reach the safe time.
    tokio::time::sleep(std::time::Duration::from_millis(2000)).await;
    app.clock.advance(Duration::seconds(60));
    tick(&app.state).await.unwrap();
    let p = post(&app, &id).await;
    assert_eq!(p["targets"][0]["status"], "published", "{p}");
    app.clock.advance(Duration::days(1));
    assert_eq!(tick(&app.state).await.unwrap(), 0, "never sent again");
    assert_eq!(published_items(&app).await.len(), 1);
}

#[tokio::test]
async fn a_create_not_found_before_the_safe_time_waits_then_is_sent_again_once() {
    use switchboard_server::workers::publish::{tick_with, PublishSettings};
    let app = TestApp::spawn().await;
    // A send could stay in flight for 300 s: longer than the crashed holder's lease.
    let settings = PublishSettings {
        settle: std::time::Duration::from_secs(300),
        ..PublishSettings::default()
    };
    let x = connection(&app, "x-ada").await;
    let lost = create(
        &app,
        json!({"content": {"text": "Never left"}, "connection_ids": [x]}),
    )
    .await;
    let id = lost["id"].as_str().unwrap().to_string();
    crashed_claim(&app, 1).await;
    let token = token_of(&app, &x, None).await;
    // The holder stored the marker and died before sending.
    crash_at_create(&app, &lost, 0, &token, ADA, false).await;
    // Its lease runs out, but the send could still be in flight: nothing found, it waits.
    app.clock.advance(Duration::seconds(121));
    assert_eq!(tick_with(&app.state, &settings).await.unwrap(), 1);
    let p = post(&app, &id).await;
    assert_eq!(p["targets"][0]["status"], "publishing", "waits: {p}");
    assert_eq!(p["targets"][0]["attempts"], 0, "{p}");
    app.clock.advance(Duration::seconds(120));
    assert_eq!(
        tick_with(&app.state, &settings).await.unwrap(),
        0,
        "not yet"
    );
    assert_eq!(published_items(&app).await.len(), 0);
    // After the safe time NotFound is authoritative: the marker is cleared and it is sent
    // again (one more attempt), published exactly once.
    app.clock.advance(Duration::seconds(61));
    for _ in 0..3 {
        tick_with(&app.state, &settings).await.unwrap();
    }
    let p = post(&app, &id).await;
    assert_eq!(p["targets"][0]["status"], "published", "{p}");
    assert_eq!(published_items(&app).await.len(), 1);
    app.clock.advance(Duration::days(1));
    assert_eq!(tick_with(&app.state, &settings).await.unwrap(), 0);
    assert_eq!(published_items(&app).await.len(), 1);
}

#[tokio::test]
async fn invalid_posts_are_refused_with_every_target_verdict_and_other_workspaces_see_404() {
    let app = TestApp::spawn().await;
    let x = connection(&app, "x-ada").await;
    let (s, v) = app
        .post(
            "/v1/posts",
            json!({"content": {"text": "a".repeat(281)}, "connection_ids": [x]}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(
        v["type"].as_str().map(|t| t.ends_with("validation-error")),
        Some(true),
        "{v}"
    );
    assert_eq!(v["targets"][0]["valid"], false);
    let (_, list) = app.get("/v1/posts").await;
    assert_eq!(list["data"], json!([]), "nothing stored");

    let id = create_id(
        &app,
        json!({"content": {"text": "Mine"}, "connection_ids": [x]}),
    )
    .await;
    let (_, other_key) =
        switchboard_server::create_workspace(app.state.store().as_ref(), "other", app.state.now())
            .await
            .unwrap();
    for (method, path) in [
        ("GET", format!("/v1/posts/{id}")),
        ("POST", format!("/v1/posts/{id}/cancel")),
        ("POST", format!("/v1/posts/{id}/publish")),
        ("POST", format!("/v1/posts/{id}/retry")),
    ] {
        let url = format!("{}{path}", app.api);
        let req = if method == "GET" {
            app.http.get(url)
        } else {
            app.http.post(url).json(&json!({}))
        };
        let r = req.bearer_auth(&other_key).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{method} {path}");
    }
    assert_eq!(post(&app, &id).await["status"], "scheduled");
}

#[tokio::test]
async fn two_instances_on_postgres_publish_each_target_once() {
    let a = TestApp::spawn_with(Setup {
        db: Db::Postgres,
        ..Setup::default()
    })
    .await;
    let b = TestApp::spawn_with(Setup {
        db: Db::Url(a.database_url.clone()),
        sandbox_url: Some((a.sandbox.clone(), a.clock.clone())),
        ..Setup::default()
    })
    .await;
    let ada = connection(&a, "x-ada").await;
    let grace = connection(&a, "x-grace").await;
    let mut ids = Vec::new();
    for i in 0..6 {
        let v = create(
            &a,
            json!({"content": {"text": format!("Post number {i}")}, "connection_ids": [ada, grace]}),
        )
        .await;
        ids.push(v["id"].as_str().unwrap().to_string());
    }
    let (ra, rb) = tokio::join!(tick(&a.state), tick(&b.state));
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    let (ra2, rb2) = tokio::join!(tick(&a.state), tick(&b.state));
    assert_eq!(
        ra + rb + ra2.unwrap() + rb2.unwrap(),
        12,
        "each target handled once"
    );
    for id in &ids {
        assert_eq!(post(&a, id).await["status"], "published");
    }
    let stats = a.sandbox_stats().await;
    assert_eq!(published_by(&stats, ADA), 6);
    assert_eq!(published_by(&stats, GRACE), 6);
    assert_eq!(published_items(&a).await.len(), 12);
}

#[tokio::test]
async fn a_target_resumes_from_its_stored_progress_without_a_second_upload() {
    let app = TestApp::spawn().await;
    let x = connection(&app, "x-ada").await;
    let image = format!("{}/__sandbox/media/photo.jpg", app.sandbox);
    let created = create(
        &app,
        json!({"content": {"text": "With a picture", "media": [{"url": image, "kind": "image", "mime_type": "image/jpeg"}]}, "connection_ids": [x]}),
    )
    .await;
    let post_id = created["id"].as_str().unwrap().to_string();
    let target_id = created["targets"][0]["id"].as_str().unwrap().to_string();

    // An instance claims the target, uploads the image (first step), stores the progress, and
    // dies before the next step.
    let store = app.state.store().clone();
    let now = app.state.now();
    let claimed = store
        .claim_due_targets("crashed-instance", now + Duration::seconds(120), now, 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    let (s, tok) = app.get(&format!("/v1/connections/{x}/token")).await;
    assert_eq!(s, StatusCode::OK, "{tok}");
    let token = SecretString::from(tok["access_token"].as_str().unwrap().to_string());
    let content: switchboard_core::post::PostContent =
        serde_json::from_value(created["content"].clone()).unwrap();
    let publisher = switchboard_publish::publisher_for("twitter").unwrap();
    let spec = app.state.catalog().get("twitter").unwrap();
    let target = switchboard_publish::Target {
        spec,
        access_token: &token,
        account_id: ADA,
        content: &content,
        local_media: &[],
    };
    let step = publisher
        .step(app.state.oauth().http(), &target, &Value::Null)
        .await
        .unwrap();
    let switchboard_publish::Step::Continue { progress, .. } = step else {
        panic!("an image post takes more than one step: {step:?}");
    };
    assert!(store
        .save_progress(
            &target_id,
            "crashed-instance",
            &progress,
            now + Duration::seconds(120),
            now
        )
        .await
        .unwrap());
    let uploads = |s: &Value| {
        s["platforms"]["twitter"]["upload_calls"]
            .as_u64()
            .unwrap_or(0)
    };
    let before = uploads(&app.sandbox_stats().await);
    assert!(before >= 1, "the image was uploaded");

    // While the lease runs nobody touches it; once it expires, this instance resumes.
    assert_eq!(tick(&app.state).await.unwrap(), 0);
    app.clock.advance(Duration::seconds(121));
    assert_eq!(tick(&app.state).await.unwrap(), 1);
    let p = post(&app, &post_id).await;
    assert_eq!(p["targets"][0]["status"], "published", "{p}");
    let stats = app.sandbox_stats().await;
    assert_eq!(uploads(&stats), before, "no second upload");
    assert_eq!(published_by(&stats, ADA), 1);
    let items = published_items(&app).await;
    assert_eq!(items.len(), 1);
    assert_eq!(
        items[0]["media"].as_array().map(Vec::len),
        Some(1),
        "{items:?}"
    );
    // The crashed instance's late write does nothing.
    assert!(!store
        .save_progress(&target_id, "crashed-instance", &json!({}), now, now)
        .await
        .unwrap());
}

#[tokio::test]
async fn an_expired_token_is_refreshed_before_publishing() {
    let app = TestApp::spawn().await;
    let x = connection(&app, "x-ada").await;
    // X access tokens live 2 h (PLATFORMS.md §1).
    app.clock.advance(Duration::hours(3));
    let id = create_id(
        &app,
        json!({"content": {"text": "Fresh token"}, "connection_ids": [x]}),
    )
    .await;
    assert_eq!(tick(&app.state).await.unwrap(), 1);
    let p = post(&app, &id).await;
    assert_eq!(p["targets"][0]["status"], "published", "{p}");
    let stats = app.sandbox_stats().await;
    assert_eq!(stats["platforms"]["twitter"]["refreshes"], 1, "{stats}");
    assert_eq!(published_by(&stats, ADA), 1);
}

#[tokio::test]
async fn a_facebook_connection_publishes_to_each_selected_page() {
    const ENGINES: &str = "102000000000001";
    const BAKERY: &str = "102000000000002";
    let app = TestApp::spawn().await;
    let fb = app.connect("facebook").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (s, v) = app
        .post(
            &format!("/v1/connections/{fb}/pages"),
            json!({"page_ids": [ENGINES, BAKERY]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let x = connection(&app, "x-ada").await;
    let created = create(
        &app,
        json!({"content": {"text": "To both Pages and X"}, "connection_ids": [fb, x]}),
    )
    .await;
    let targets = created["targets"].as_array().unwrap();
    let pages: Vec<_> = targets.iter().map(|t| t["page_id"].clone()).collect();
    assert_eq!(pages, [json!(ENGINES), json!(BAKERY), Value::Null]);
    assert_eq!(tick(&app.state).await.unwrap(), 3);
    let p = post(&app, created["id"].as_str().unwrap()).await;
    assert_eq!(statuses(&p), ["published", "published", "published"], "{p}");
    for t in p["targets"].as_array().unwrap() {
        assert!(t["platform_post_id"].is_string(), "{t}");
    }
    let stats = app.sandbox_stats().await;
    let fb_by = &stats["platforms"]["facebook"]["published_by_account"];
    assert_eq!(
        (fb_by[ENGINES].as_u64(), fb_by[BAKERY].as_u64()),
        (Some(1), Some(1)),
        "{stats}"
    );
    assert_eq!(published_by(&stats, ADA), 1);
}

#[tokio::test]
async fn an_unknown_pinterest_board_fails_that_target_alone_and_retry_reruns_only_it() {
    let app = TestApp::spawn().await;
    let x = connection(&app, "x-ada").await;
    let pin = app.connect_as("pinterest", Some("pin-ada")).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let image = format!("{}/__sandbox/media/cake.jpg", app.sandbox);
    let created = create(
        &app,
        json!({"content": {
            "text": "Fresh bread",
            "media": [{"url": image, "kind": "image", "mime_type": "image/jpeg"}],
            "overrides": {"pinterest": {"board_id": "1150000000000999999", "title": "Bread"}}
        }, "connection_ids": [x, pin]}),
    )
    .await;
    let id = created["id"].as_str().unwrap().to_string();
    for _ in 0..5 {
        tick(&app.state).await.unwrap();
        app.clock.advance(Duration::seconds(10));
    }
    let p = post(&app, &id).await;
    assert_eq!(statuses(&p), ["published", "failed"], "{p}");
    assert_eq!(p["targets"][1]["diagnosis"]["http_status"], 404, "{p}");
    let (_, summary) = app.get("/v1/posts/summary").await;
    assert_eq!(
        summary["by_platform"]["twitter"]["published"], 1,
        "{summary}"
    );
    assert_eq!(summary["by_platform"]["pinterest"]["failed"], 1);

    let (_, v) = app.post(&format!("/v1/posts/{id}/retry"), json!({})).await;
    assert_eq!(v["changed"], 1);
    assert_eq!(statuses(&v), ["published", "scheduled"]);
    for _ in 0..5 {
        tick(&app.state).await.unwrap();
        app.clock.advance(Duration::seconds(10));
    }
    let p = post(&app, &id).await;
    assert_eq!(statuses(&p), ["published", "failed"], "{p}");
    let stats = app.sandbox_stats().await;
    assert_eq!(
        published_by(&stats, ADA),
        1,
        "the X post was not published again"
    );
    assert_eq!(stats["platforms"]["pinterest"]["published"], 0);
}

#[tokio::test]
async fn a_batch_is_spread_over_time_by_scheduling_options() {
    let app = TestApp::spawn().await;
    let x = connection(&app, "x-ada").await;
    let start = app.state.now() + Duration::hours(1);
    let posts: Vec<Value> = (0..3)
        .map(|i| json!({"content": {"text": format!("Drip {i}")}, "connection_ids": [x]}))
        .collect();
    // One invalid post refuses the whole batch, naming it.
    let mut bad = posts.clone();
    bad[1]["content"]["text"] = json!("b".repeat(300));
    let (s, v) = app
        .post("/v1/posts", json!({"posts": bad, "campaign_id": "drip"}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(v["field"].as_str().unwrap().starts_with("posts[1]."), "{v}");
    assert_eq!(v["posts"][0]["index"], 1);
    assert_eq!(
        app.get("/v1/posts").await.1["data"],
        json!([]),
        "nothing stored"
    );

    let (s, v) = app
        .post(
            "/v1/posts",
            json!({"posts": posts, "campaign_id": "drip",
                   "scheduling_options": {"interval_hours": 2, "start_time": start.to_rfc3339()}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let data = v["data"].as_array().unwrap();
    assert_eq!(data.len(), 3);
    for (i, p) in data.iter().enumerate() {
        let at: chrono::DateTime<chrono::Utc> =
            serde_json::from_value(p["publish_at"].clone()).unwrap();
        assert_eq!(at, start + Duration::hours(2 * i as i64), "{p}");
        assert_eq!(p["campaign_id"], "drip");
    }
    let mut published = Vec::new();
    for _ in 0..6 {
        app.clock.advance(Duration::hours(1));
        tick(&app.state).await.unwrap();
        published.push(published_items(&app).await.len());
    }
    assert_eq!(published, [1, 1, 2, 2, 3, 3], "one post every two hours");
}

#[tokio::test]
async fn an_instagram_post_waits_for_its_container_between_ticks_and_publishes_once() {
    let app = TestApp::spawn().await;
    let ig = app.connect("instagram").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let image = format!("{}/__sandbox/media/cake.jpg", app.sandbox);
    let created = create(
        &app,
        json!({"content": {"text": "Crumb shot", "media": [{"url": image, "kind": "image", "mime_type": "image/jpeg"}]},
               "connection_ids": [ig]}),
    )
    .await;
    let id = created["id"].as_str().unwrap().to_string();
    // First tick: the container is created and still IN_PROGRESS, so the target waits.
    assert_eq!(tick(&app.state).await.unwrap(), 1);
    let p = post(&app, &id).await;
    assert_eq!(p["targets"][0]["status"], "publishing", "{p}");
    assert_eq!(
        tick(&app.state).await.unwrap(),
        0,
        "waiting, not busy-polling"
    );
    let mut ticks = 0;
    while post(&app, &id).await["targets"][0]["status"] == "publishing" && ticks < 20 {
        app.clock.advance(Duration::seconds(5));
        tick(&app.state).await.unwrap();
        ticks += 1;
    }
    let p = post(&app, &id).await;
    assert_eq!(p["targets"][0]["status"], "published", "{p}");
    assert!(p["targets"][0]["url"].is_string(), "{p}");
    let stats = app.sandbox_stats().await;
    assert_eq!(stats["platforms"]["instagram"]["published"], 1, "{stats}");
    app.clock.advance(Duration::hours(1));
    assert_eq!(tick(&app.state).await.unwrap(), 0);
    assert_eq!(
        app.sandbox_stats().await["platforms"]["instagram"]["published"],
        1
    );
}

#[tokio::test]
async fn the_dispatcher_runs_inside_serve_and_shows_in_readiness() {
    let app = TestApp::spawn_with(Setup {
        config: Box::new(|c| {
            c.workers = true;
            c.worker_interval_ms = 20;
        }),
        ..Setup::default()
    })
    .await;
    let x = connection(&app, "x-ada").await;
    let id = create_id(
        &app,
        json!({"content": {"text": "By the loop"}, "connection_ids": [x]}),
    )
    .await;
    // Wait for the background loop (not for time: the clock does not move).
    let mut status = Value::Null;
    for _ in 0..400 {
        status = post(&app, &id).await["status"].clone();
        if status == "published" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(status, "published");
    assert_eq!(published_items(&app).await.len(), 1);
    let r = app
        .http
        .get(format!("{}/readyz", app.api))
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["checks"]["workers"]["publish"]["ok"], true, "{v}");
}

// ---- exactly once across crashes: the create-in-flight marker ----

/// A connection made with `extra_scopes` besides the catalog's defaults (as `account`).
async fn connect_with_scopes(
    app: &TestApp,
    platform: &str,
    account: Option<&str>,
    extra_scopes: &[&str],
) -> Value {
    let (s, start) = app
        .post(
            &format!("/v1/connect/{platform}"),
            json!({"owner": "user-1", "scopes": extra_scopes}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{start}");
    let cb = app
        .consent(
            start["authorization_url"].as_str().unwrap(),
            "allow",
            account,
        )
        .await;
    let (s, v) = app.callback(&cb).await;
    assert!(s.is_success(), "{v}");
    v
}

/// The access token Switchboard publishes a connection's target with (a Page's for Facebook).
async fn token_of(app: &TestApp, connection: &str, page: Option<&str>) -> String {
    let path = match page {
        Some(p) => format!("/v1/connections/{connection}/pages/{p}/token"),
        None => format!("/v1/connections/{connection}/token"),
    };
    let (s, v) = app.get(&path).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["access_token"]
        .as_str()
        .expect("access_token")
        .to_string()
}

/// What a holder that died at the create call leaves behind: target `index` of `created`,
/// already claimed by `crashed-instance`, is stepped (with the platform's real calls) up to its
/// non-repeatable create, that progress is stored, and the create-in-flight marker is set. With
/// `send`, the create call then reaches the platform and its answer is lost with the process.
async fn crash_at_create(
    app: &TestApp,
    created: &Value,
    index: usize,
    token: &str,
    account_id: &str,
    send: bool,
) {
    use switchboard_publish::{publisher_for, Step, Target};
    let target = &created["targets"][index];
    let target_id = target["id"].as_str().unwrap();
    let platform = target["platform"].as_str().unwrap();
    let store = app.state.store().clone();
    let content: switchboard_core::post::PostContent =
        serde_json::from_value(created["content"].clone()).unwrap();
    let publisher = publisher_for(platform).unwrap();
    let spec = app.state.catalog().get(platform).unwrap();
    let token = SecretString::from(token.to_string());
    let t = Target {
        spec,
        access_token: &token,
        account_id,
        content: &content,
        local_media: &[],
    };
    let http = app.state.oauth().http();
    let advance = |wait: Option<std::time::Duration>| {
        if let Some(w) = wait {
            app.clock.advance(Duration::from_std(w).unwrap());
        }
    };
    let mut progress = Value::Null;
    for _ in 0..20 {
        if publisher.next_is_create(&t, &progress) {
            break;
        }
        match publisher.step(http, &t, &progress).await.unwrap() {
            Step::Continue { progress: p, wait } => {
                advance(wait);
                progress = p;
            }
            Step::Done(d) => panic!("{platform}: done before any create: {d:?}"),
        }
    }
    assert!(publisher.next_is_create(&t, &progress), "{platform}");
    let now = app.state.now();
    let lease = now + Duration::seconds(120);
    assert!(store
        .save_progress(target_id, "crashed-instance", &progress, lease, now)
        .await
        .unwrap());
    assert!(store
        .mark_create_in_flight(target_id, "crashed-instance", 1, lease, now)
        .await
        .unwrap());
    let stored = store.get_target(target_id).await.unwrap().unwrap();
    assert_eq!(stored.create_in_flight.map(|f| f.attempt), Some(1));
    if send {
        let mut p = progress;
        for _ in 0..20 {
            match publisher.step(http, &t, &p).await.unwrap() {
                Step::Done(_) => break,
                Step::Continue { progress: n, wait } => {
                    advance(wait);
                    if !publisher.next_is_create(&t, &n) {
                        break; // a TikTok init answered with its publish_id: lost too
                    }
                    p = n;
                }
            }
        }
    }
}

/// Claims every due target for `crashed-instance` (a process about to die).
async fn crashed_claim(app: &TestApp, n: usize) {
    let now = app.state.now();
    let claimed = app
        .state
        .store()
        .claim_due_targets("crashed-instance", now + Duration::seconds(120), now, 50)
        .await
        .unwrap();
    assert_eq!(claimed.len(), n);
}

fn published_count(stats: &Value, platform: &str) -> u64 {
    stats["platforms"][platform]["published"]
        .as_u64()
        .unwrap_or(0)
}

/// The crashed holder's lease runs out; this instance resumes (ticking a few times for the
/// platforms that wait between steps).
async fn resume(app: &TestApp) {
    app.clock.advance(Duration::seconds(121));
    for _ in 0..10 {
        tick(&app.state).await.unwrap();
        app.clock.advance(Duration::seconds(15));
    }
}

/// The checks every platform's resume shares: `found` published once under the sandbox's item
/// id (found by the check, not sent again); `lost` (never sent) authoritatively not found after
/// the send could no longer be in flight, so sent again and published exactly once; nothing
/// else published, and nothing is ever sent again afterwards.
/// The resume scenario shared by the per-platform tests: two posts to `conn` (Page `page` on
/// Facebook), both claimed by a holder that crashed with its create call in flight; the first
/// reached the platform as `account`, the second never left. On resume the first must be found
/// and the second sent again, each published once.
async fn found_and_lost_after_a_crash(
    app: &TestApp,
    platform: &str,
    conn: &str,
    page: Option<&str>,
    account: &str,
    found_body: Value,
    lost_body: Value,
) {
    let found = create(app, found_body).await;
    let lost = create(app, lost_body).await;
    crashed_claim(app, 2).await;
    let token = token_of(app, conn, page).await;
    crash_at_create(app, &found, 0, &token, account, true).await;
    crash_at_create(app, &lost, 0, &token, account, false).await;
    resume(app).await;
    let id = |v: &Value| v["id"].as_str().unwrap().to_string();
    assert_resolved(app, platform, &id(&found), &id(&lost)).await;
}

async fn assert_resolved(app: &TestApp, platform: &str, found: &str, lost: &str) {
    let items = |app: &TestApp| {
        let url = format!("{}/__sandbox/published?platform={platform}", app.sandbox);
        let http = app.http.clone();
        async move {
            http.get(url)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()["items"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        }
    };
    let pf = post(app, found).await;
    let tf = &pf["targets"][0];
    assert_eq!(tf["status"], "published", "{pf}");
    let pl = post(app, lost).await;
    let tl = &pl["targets"][0];
    assert_eq!(tl["status"], "published", "sent again after NotFound: {pl}");
    let all = items(app).await;
    assert_eq!(all.len(), 2, "{platform}: {all:?}");
    let ids: Vec<&Value> = all.iter().map(|i| &i["id"]).collect();
    assert!(ids.contains(&&tf["platform_post_id"]), "{pf} {all:?}");
    assert!(ids.contains(&&tl["platform_post_id"]), "{pl} {all:?}");
    assert_ne!(tf["platform_post_id"], tl["platform_post_id"]);
    app.clock.advance(Duration::days(1));
    assert_eq!(tick(&app.state).await.unwrap(), 0);
    assert_eq!(published_count(&app.sandbox_stats().await, platform), 2);
    assert_eq!(items(app).await.len(), 2, "nothing published twice");
}

#[tokio::test]
async fn x_resumed_with_a_create_in_flight_is_checked_not_sent_again() {
    x_resume_with_create_in_flight(TestApp::spawn().await).await;
}

#[tokio::test]
async fn x_resumed_with_a_create_in_flight_on_postgres() {
    let app = TestApp::spawn_with(Setup {
        db: Db::Postgres,
        ..Setup::default()
    })
    .await;
    x_resume_with_create_in_flight(app).await;
}

async fn x_resume_with_create_in_flight(app: TestApp) {
    let x = connection(&app, "x-ada").await;
    let found = create(
        &app,
        json!({"content": {"text": "Sent before the crash"}, "connection_ids": [x]}),
    )
    .await;
    let lost = create(
        &app,
        json!({"content": {"text": "Never left before the crash"}, "connection_ids": [x]}),
    )
    .await;
    crashed_claim(&app, 2).await;
    let token = token_of(&app, &x, None).await;
    crash_at_create(&app, &found, 0, &token, ADA, true).await;
    crash_at_create(&app, &lost, 0, &token, ADA, false).await;
    // While the crashed holder's lease runs, nobody looks.
    assert_eq!(tick(&app.state).await.unwrap(), 0);
    resume(&app).await;
    let id = |v: &Value| v["id"].as_str().unwrap().to_string();
    assert_resolved(&app, "twitter", &id(&found), &id(&lost)).await;
    let stats = app.sandbox_stats().await;
    assert_eq!(
        published_by(&stats, ADA),
        2,
        "found once, the lost one sent again once"
    );
}

#[tokio::test]
async fn a_check_that_fails_transiently_keeps_the_marker_and_looks_again() {
    let app = TestApp::spawn().await;
    let x = connection(&app, "x-ada").await;
    let found = create(
        &app,
        json!({"content": {"text": "Look twice"}, "connection_ids": [x]}),
    )
    .await;
    crashed_claim(&app, 1).await;
    let token = token_of(&app, &x, None).await;
    crash_at_create(&app, &found, 0, &token, ADA, true).await;
    // The timeline read answers 503 once: the target waits with its marker, never re-sent.
    app.fault(json!({"platform": "twitter", "endpoint": "metrics", "status": 503, "times": 1}))
        .await;
    app.clock.advance(Duration::seconds(121));
    assert_eq!(tick(&app.state).await.unwrap(), 1);
    let id = found["id"].as_str().unwrap();
    let p = post(&app, id).await;
    assert_eq!(p["targets"][0]["status"], "publishing", "{p}");
    let target_id = p["targets"][0]["id"].as_str().unwrap();
    let stored = app
        .state
        .store()
        .get_target(target_id)
        .await
        .unwrap()
        .unwrap();
    assert!(stored.create_in_flight.is_some(), "the marker stays");
    assert_eq!(stored.attempts, 1);
    app.clock.advance(Duration::hours(1));
    assert_eq!(tick(&app.state).await.unwrap(), 1);
    let p = post(&app, id).await;
    assert_eq!(p["targets"][0]["status"], "published", "{p}");
    let stats = app.sandbox_stats().await;
    assert_eq!(published_by(&stats, ADA), 1);
}

#[tokio::test]
async fn linkedin_resumed_with_a_create_in_flight_is_found_with_the_author_finder() {
    let app = TestApp::spawn().await;
    let conn = connect_with_scopes(&app, "linkedin", None, &["r_member_social"]).await;
    let li = conn["id"].as_str().unwrap().to_string();
    let member = conn["account"]["id"].as_str().unwrap().to_string();
    found_and_lost_after_a_crash(
        &app,
        "linkedin",
        &li,
        None,
        &member,
        json!({"content": {"text": "LinkedIn, sent (then the crash)"}, "connection_ids": [li]}),
        json!({"content": {"text": "LinkedIn, never sent"}, "connection_ids": [li]}),
    )
    .await;
}

#[tokio::test]
async fn linkedin_without_the_finder_permission_stays_unknown_and_is_never_refused_as_a_duplicate()
{
    let app = TestApp::spawn().await;
    let conn = app.connect("linkedin").await;
    let li = conn["id"].as_str().unwrap().to_string();
    let member = conn["account"]["id"].as_str().unwrap().to_string();
    let sent = create(
        &app,
        json!({"content": {"text": "Sent, then the crash"}, "connection_ids": [li]}),
    )
    .await;
    crashed_claim(&app, 1).await;
    let token = token_of(&app, &li, None).await;
    crash_at_create(&app, &sent, 0, &token, &member, true).await;
    resume(&app).await;
    let p = post(&app, sent["id"].as_str().unwrap()).await;
    let t = &p["targets"][0];
    // Before the marker, the restart re-sent the post and LinkedIn refused it as a duplicate
    // (`failed` while it was live). Now it is `unknown`, and nothing was sent twice.
    assert_eq!(t["status"], "unknown", "{p}");
    assert!(
        t["diagnosis"]["cause"]
            .as_str()
            .unwrap_or_default()
            .contains("looking for it failed"),
        "{t}"
    );
    let stats = app.sandbox_stats().await;
    assert_eq!(published_count(&stats, "linkedin"), 1);
    assert_ne!(t["diagnosis"]["category"], "duplicate_content", "{t}");
}

#[tokio::test]
async fn facebook_resumed_with_a_create_in_flight_is_found_in_the_page_feed() {
    const ENGINES: &str = "102000000000001";
    let app = TestApp::spawn().await;
    let fb = app.connect("facebook").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (s, v) = app
        .post(
            &format!("/v1/connections/{fb}/pages"),
            json!({"page_ids": [ENGINES]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let image = format!("{}/__sandbox/media/engine.jpg", app.sandbox);
    found_and_lost_after_a_crash(
        &app,
        "facebook",
        &fb,
        Some(ENGINES),
        ENGINES,
        json!({"content": {"text": "A photo, sent", "media": [{"url": image, "kind": "image", "mime_type": "image/jpeg"}]},
               "connection_ids": [fb]}),
        json!({"content": {"text": "Page post, never sent"}, "connection_ids": [fb]}),
    )
    .await;
}

#[tokio::test]
async fn pinterest_resumed_with_a_create_in_flight_is_found_on_its_board() {
    let app = TestApp::spawn().await;
    let conn = app.connect_as("pinterest", Some("pin-ada")).await;
    let pin = conn["id"].as_str().unwrap().to_string();
    let user = conn["account"]["id"].as_str().unwrap().to_string();
    let image = format!("{}/__sandbox/media/cake.jpg", app.sandbox);
    let body = |title: &str| {
        json!({"content": {
            "text": format!("{title} on the board"),
            "media": [{"url": image, "kind": "image", "mime_type": "image/jpeg"}],
            "overrides": {"pinterest": {"board_id": "1150000000000100001", "title": title}}
        }, "connection_ids": [pin]})
    };
    found_and_lost_after_a_crash(
        &app,
        "pinterest",
        &pin,
        None,
        &user,
        body("Sent"),
        body("Lost"),
    )
    .await;
}

#[tokio::test]
async fn tiktok_resumed_with_a_pull_init_in_flight_is_found_among_the_creators_posts() {
    // Photos are pulled by TikTok from a domain verified for the app (the sandbox's app and
    // Switchboard's configuration list the same one; the sandbox does not fetch photos).
    let app = TestApp::spawn_with(Setup {
        sandbox: Box::new(|sc| sc.tiktok_verified_domains = vec!["cdn.example.com".into()]),
        config: Box::new(|c| {
            c.platforms
                .entry("tiktok".into())
                .or_default()
                .verified_domains = vec!["cdn.example.com".into()];
        }),
        ..Setup::default()
    })
    .await;
    let conn = app.connect("tiktok").await;
    let tt = conn["id"].as_str().unwrap().to_string();
    let open_id = conn["account"]["id"].as_str().unwrap().to_string();
    let image = "https://cdn.example.com/photos/dance.jpg";
    let body = |title: &str| {
        json!({"content": {
            "text": format!("{title} photos"),
            "media": [{"url": image, "kind": "image", "mime_type": "image/jpeg"}],
            "overrides": {"tiktok": {"title": title, "privacy_level": "SELF_ONLY"}}
        }, "connection_ids": [tt]})
    };
    found_and_lost_after_a_crash(
        &app,
        "tiktok",
        &tt,
        None,
        &open_id,
        body("Sent"),
        body("Lost"),
    )
    .await;
}

#[tokio::test]
async fn instagram_resumed_with_media_publish_in_flight_reads_the_container() {
    let app = TestApp::spawn().await;
    let conn = app.connect("instagram").await;
    let ig = conn["id"].as_str().unwrap().to_string();
    let user = conn["account"]["id"].as_str().unwrap().to_string();
    let image = format!("{}/__sandbox/media/cake.jpg", app.sandbox);
    let body = |text: &str| {
        json!({"content": {"text": text, "media": [{"url": image, "kind": "image", "mime_type": "image/jpeg"}]},
               "connection_ids": [ig]})
    };
    let sent = create(&app, body("Published before the crash")).await;
    let unsent = create(&app, body("Container ready, never published")).await;
    crashed_claim(&app, 2).await;
    let token = token_of(&app, &ig, None).await;
    crash_at_create(&app, &sent, 0, &token, &user, true).await;
    crash_at_create(&app, &unsent, 0, &token, &user, false).await;
    resume(&app).await;
    // The container says PUBLISHED for the first: published, not again. For the second it says
    // it was not published: that one goes on from its container, once.
    for v in [&sent, &unsent] {
        let p = post(&app, v["id"].as_str().unwrap()).await;
        assert_eq!(p["targets"][0]["status"], "published", "{p}");
    }
    let stats = app.sandbox_stats().await;
    assert_eq!(published_count(&stats, "instagram"), 2, "{stats}");
}

#[tokio::test]
async fn one_round_keeps_claiming_as_targets_finish_beyond_one_batch() {
    let app = TestApp::spawn().await;
    let ada = connection(&app, "x-ada").await;
    let grace = connection(&app, "x-grace").await;
    // 130 targets, more than the 100 a round holds in flight at once.
    let mut ids = Vec::new();
    for i in 0..65 {
        for (c, who) in [(&ada, "Ada"), (&grace, "Grace")] {
            ids.push(
                create_id(
                    &app,
                    json!({"content": {"text": format!("{who}'s pipelined post {i}")}, "connection_ids": [c]}),
                )
                .await,
            );
        }
    }
    assert_eq!(
        tick(&app.state).await.unwrap(),
        130,
        "one round, no batch barrier"
    );
    let (_, summary) = app.get("/v1/posts/summary").await;
    assert_eq!(
        summary["by_platform"]["twitter"]["published"], 130,
        "{summary}"
    );
    let stats = app.sandbox_stats().await;
    assert_eq!(published_by(&stats, ADA), 65);
    assert_eq!(published_by(&stats, GRACE), 65);
    assert_eq!(tick(&app.state).await.unwrap(), 0);
}

/// Publishes `n` text posts `"{prefix} {i}"` straight through `platform`'s publisher as
/// `account_id` (the busy account's other traffic, not through Switchboard).
async fn publish_directly(
    app: &TestApp,
    platform: &str,
    token: &str,
    account_id: &str,
    prefix: &str,
    n: usize,
) {
    use switchboard_publish::{publisher_for, Step, Target};
    let publisher = publisher_for(platform).unwrap();
    let spec = app.state.catalog().get(platform).unwrap();
    let token = SecretString::from(token.to_string());
    let http = app.state.oauth().http();
    for i in 0..n {
        let content: switchboard_core::post::PostContent =
            serde_json::from_value(json!({"text": format!("{prefix} {i}")})).unwrap();
        let t = Target {
            spec,
            access_token: &token,
            account_id,
            content: &content,
            local_media: &[],
        };
        let mut progress = Value::Null;
        for _ in 0..10 {
            match publisher.step(http, &t, &progress).await.unwrap() {
                Step::Done(_) => break,
                Step::Continue { progress: p, .. } => progress = p,
            }
        }
    }
}

#[tokio::test]
async fn x_busy_account_with_over_100_newer_tweets_is_found_on_a_later_page() {
    let app = TestApp::spawn().await;
    let x = connection(&app, "x-ada").await;
    let found = create(
        &app,
        json!({"content": {"text": "Sent before a busy day"}, "connection_ids": [x]}),
    )
    .await;
    crashed_claim(&app, 1).await;
    let token = token_of(&app, &x, None).await;
    crash_at_create(&app, &found, 0, &token, ADA, true).await;
    // A day later (fresh per-user limits) the account has posted 100 newer tweets: the one
    // looked for is on the second page of the timeline.
    app.clock.advance(Duration::days(1));
    let token = token_of(&app, &x, None).await;
    publish_directly(&app, "twitter", &token, ADA, "Busy", 100).await;
    assert_eq!(tick(&app.state).await.unwrap(), 1);
    let p = post(&app, found["id"].as_str().unwrap()).await;
    assert_eq!(
        p["targets"][0]["status"], "published",
        "found by paging: {p}"
    );
    app.clock.advance(Duration::days(1));
    tick(&app.state).await.unwrap();
    let stats = app.sandbox_stats().await;
    assert_eq!(published_by(&stats, ADA), 101, "nothing sent again");
}

/// A LinkedIn member with the create-in-flight post sent, then `newer` posts of its own.
async fn linkedin_busy(newer: usize) -> (TestApp, String) {
    let app = TestApp::spawn().await;
    let conn = connect_with_scopes(&app, "linkedin", None, &["r_member_social"]).await;
    let li = conn["id"].as_str().unwrap().to_string();
    let member = conn["account"]["id"].as_str().unwrap().to_string();
    let found = create(
        &app,
        json!({"content": {"text": "LinkedIn, sent before a busy hour"}, "connection_ids": [li]}),
    )
    .await;
    crashed_claim(&app, 1).await;
    let token = token_of(&app, &li, None).await;
    crash_at_create(&app, &found, 0, &token, &member, true).await;
    app.clock.advance(Duration::seconds(1));
    publish_directly(&app, "linkedin", &token, &member, "Busy", newer).await;
    app.clock.advance(Duration::seconds(121));
    assert_eq!(tick(&app.state).await.unwrap(), 1);
    (app, found["id"].as_str().unwrap().to_string())
}

#[tokio::test]
async fn linkedin_busy_member_with_over_100_newer_posts_is_found_on_a_later_page() {
    let (app, id) = linkedin_busy(250).await;
    let p = post(&app, &id).await;
    assert_eq!(
        p["targets"][0]["status"], "published",
        "found by paging: {p}"
    );
    app.clock.advance(Duration::days(1));
    tick(&app.state).await.unwrap();
    assert_eq!(
        published_count(&app.sandbox_stats().await, "linkedin"),
        251,
        "nothing sent again"
    );
}

#[tokio::test]
async fn linkedin_check_past_the_page_cap_cannot_tell_and_ends_unknown() {
    // More newer posts than CHECK_MAX_PAGES pages of 100 hold.
    let (app, id) = linkedin_busy(switchboard_publish::CHECK_MAX_PAGES * 100).await;
    let p = post(&app, &id).await;
    let t = &p["targets"][0];
    assert_eq!(t["status"], "unknown", "{p}");
    let cause = t["diagnosis"]["cause"].as_str().unwrap_or_default();
    assert!(cause.contains("pages"), "{cause}");
    assert!(cause.contains("not sent again"), "{cause}");
    app.clock.advance(Duration::days(1));
    assert_eq!(tick(&app.state).await.unwrap(), 0);
}

/// Follows `next_cursor` from `first` (a path with its query) to the last page; checks that the
/// `Link: rel="next"` header names the same next page; returns every post id in the order read
/// and the number of pages.
async fn page_through(app: &TestApp, first: &str) -> (Vec<String>, usize) {
    let mut url = format!("{}{first}", app.api);
    let mut ids = Vec::new();
    let mut pages = 0;
    loop {
        let r = app
            .http
            .get(&url)
            .header("authorization", format!("Bearer {}", app.key))
            .send()
            .await
            .unwrap();
        let link = r
            .headers()
            .get("link")
            .map(|v| v.to_str().unwrap().to_string());
        let (s, v) = read(r).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        pages += 1;
        ids.extend(
            v["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["id"].as_str().unwrap().to_string()),
        );
        match v["next_cursor"].as_str() {
            None => {
                assert_eq!(v["next_cursor"], Value::Null, "{v}");
                assert_eq!(link, None, "no Link on the last page");
                return (ids, pages);
            }
            Some(cursor) => {
                let link = link.expect("a Link header when another page follows");
                let next = link
                    .strip_prefix('<')
                    .and_then(|l| l.strip_suffix(">; rel=\"next\""))
                    .unwrap_or_else(|| panic!("RFC 8288 link: {link}"));
                let parsed = url::Url::parse(next).unwrap();
                let cursor_in_link = parsed
                    .query_pairs()
                    .find(|(k, _)| k == "cursor")
                    .map(|(_, v)| v.to_string());
                assert_eq!(cursor_in_link.as_deref(), Some(cursor));
                url = next.to_string();
            }
        }
        assert!(pages < 500, "paging does not end");
    }
}

async fn listing_pages_through_posts_due_at_the_same_instant(app: TestApp) {
    let x = connection(&app, "x-ada").await;
    // 45 posts due at the very same instant, every third in a campaign, and 3 a day later.
    let due = (app.state.now() + Duration::days(2))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let posts: Vec<Value> = (0..45)
        .map(|i| {
            let mut p = json!({"content": {"text": format!("tie {i}")}, "connection_ids": [x], "publish_at": due});
            if i % 3 == 0 {
                p["campaign_id"] = json!("launch");
            }
            p
        })
        .collect();
    let made = create(&app, json!({"posts": posts})).await;
    let later = (app.state.now() + Duration::days(3))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    for i in 0..3 {
        create(
            &app,
            json!({"content": {"text": format!("later {i}")}, "connection_ids": [x], "publish_at": later}),
        )
        .await;
    }
    let (s, everything) = app.get("/v1/posts?limit=200").await;
    assert_eq!(s, StatusCode::OK, "{everything}");
    assert_eq!(everything["next_cursor"], Value::Null);
    let all: Vec<String> = everything["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(all.len(), 48);
    let mut tied: Vec<String> = made["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_string())
        .collect();
    tied.sort_by(|a, b| b.cmp(a));
    assert_eq!(all[3..], tied[..], "ties listed by id, latest id first");

    for limit in [1, 4, 7, 48] {
        let (seen, pages) = page_through(&app, &format!("/v1/posts?limit={limit}")).await;
        assert_eq!(seen, all, "limit {limit}: no duplicate, no gap");
        // One post more is read than shown, so the last page is never an empty one.
        assert_eq!(pages, 48_usize.div_ceil(limit), "limit {limit}");
    }
    // The default page is 50.
    let (s, v) = app.get("/v1/posts").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["data"].as_array().unwrap().len(), 48);
    assert_eq!(v["next_cursor"], Value::Null);

    // Filters carry over to the next pages through the Link header.
    let campaign: Vec<String> = tied
        .iter()
        .filter(|id| {
            made["data"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["id"] == id.as_str() && p["campaign_id"] == "launch")
        })
        .cloned()
        .collect();
    assert_eq!(campaign.len(), 15);
    let (seen, pages) = page_through(
        &app,
        "/v1/posts?campaign_id=launch&status=scheduled&platform=twitter&limit=4",
    )
    .await;
    assert_eq!(seen, campaign);
    assert_eq!(pages, 4);
    let from = urlencode(&due);
    let (seen, _) = page_through(
        &app,
        &format!("/v1/posts?to={}&from={from}&limit=10", urlencode(&later)),
    )
    .await;
    assert_eq!(seen, tied, "the time range with paging");
}

#[tokio::test]
async fn listing_pages_through_ties_on_sqlite() {
    listing_pages_through_posts_due_at_the_same_instant(TestApp::spawn().await).await;
}

#[tokio::test]
async fn listing_pages_through_ties_on_postgres() {
    let app = TestApp::spawn_with(Setup {
        db: Db::Postgres,
        ..Setup::default()
    })
    .await;
    listing_pages_through_posts_due_at_the_same_instant(app).await;
}

#[tokio::test]
async fn listing_refuses_a_bad_limit_or_cursor_and_stores_nothing() {
    let app = TestApp::spawn().await;
    let x = connection(&app, "x-ada").await;
    create_id(
        &app,
        json!({"content": {"text": "one"}, "connection_ids": [x]}),
    )
    .await;
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("limit=-3", "limit"),
        ("limit=many", "limit"),
        ("cursor=***", "cursor"),
        ("cursor=bm90LWEtY3Vyc29y", "cursor"), // base64url of "not-a-cursor"
        ("cursor=djF8eWVzdGVyZGF5fGFiYw", "cursor"), // "v1|yesterday|abc"
        ("cursor=djF8MjAyNi0wMS0wMVQwMDowMDowMFp8", "cursor"), // "v1|2026-01-01T00:00:00Z|"
    ] {
        let r = app
            .http
            .get(format!("{}/v1/posts?{query}", app.api))
            .header("authorization", format!("Bearer {}", app.key))
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.headers()["content-type"],
            "application/problem+json",
            "{query}"
        );
        let (s, v) = read(r).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{query}: {v}");
        assert_eq!(v["field"], field, "{query}: {v}");
        assert_eq!(
            v["type"],
            "https://switchboard.dev/problems/validation-error"
        );
    }
    let (s, v) = app.get("/v1/posts?limit=200").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["data"].as_array().unwrap().len(), 1, "nothing lost");
}

/// A loopback listener that counts the connections it accepts (and answers nothing useful).
async fn counting_listener() -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let h = hits.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            h.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            use tokio::io::AsyncWriteExt;
            let _ = s
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nGIF8")
                .await;
        }
    });
    (port, hits)
}

#[tokio::test]
async fn media_urls_leading_to_private_addresses_are_refused_and_never_fetched() {
    let (port, hits) = counting_listener().await;
    // A server of an allowed origin (the operator's) that redirects to the listener.
    let redirector = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let redirector_origin = format!("http://{}", redirector.local_addr().unwrap());
    let to = format!("http://127.0.0.1:{port}/secret");
    let router = axum::Router::new().fallback(move || {
        let to = to.clone();
        async move { axum::response::Redirect::temporary(&to) }
    });
    tokio::spawn(async move { axum::serve(redirector, router).await });
    let allowed = url::Url::parse(&redirector_origin).unwrap();
    let app = TestApp::spawn_with(Setup {
        config: Box::new(move |c| c.outbound_allow_origins = vec![allowed]),
        ..Setup::default()
    })
    .await;
    let x = connection(&app, "x-ada").await;
    for url in [
        format!("http://127.0.0.1:{port}/a.jpg"),
        format!("http://2130706433:{port}/a.jpg"),
        format!("http://0x7f000001:{port}/a.jpg"),
        format!("http://0x7f.1:{port}/a.jpg"),
        format!("http://[::ffff:7f00:1]:{port}/a.jpg"),
        format!("http://localhost:{port}/a.jpg"),
        "http://169.254.169.254/latest/meta-data/".to_string(),
    ] {
        for path in ["/v1/posts", "/v1/posts/validate"] {
            let (s, v) = app
                .post(
                    path,
                    json!({"content": {"text": "t", "media": [{"url": url, "kind": "image"}]}, "connection_ids": [x]}),
                )
                .await;
            assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {v}");
            assert_eq!(v["field"], "content.media[0].url", "{url}: {v}");
            assert!(
                v["detail"].as_str().unwrap().contains("private address"),
                "{url}: {v}"
            );
        }
    }
    let (_, listed) = app.get("/v1/posts").await;
    assert_eq!(
        listed["data"].as_array().unwrap().len(),
        0,
        "nothing stored"
    );

    // At publishing time (a post stored before, or a name that changed its answer since), the
    // publisher refuses the same URLs without connecting, with a final diagnosis saying why.
    let (s, tok) = app.get(&format!("/v1/connections/{x}/token")).await;
    assert_eq!(s, StatusCode::OK, "{tok}");
    let token = SecretString::from(tok["access_token"].as_str().unwrap().to_string());
    let publisher = switchboard_publish::publisher_for("twitter").unwrap();
    let spec = app.state.catalog().get("twitter").unwrap();
    for url in [
        format!("http://2130706433:{port}/a.jpg"),
        format!("http://localhost:{port}/a.jpg"),
        // The allowed origin itself is fetched, but its redirect is not followed.
        format!("{redirector_origin}/a.jpg"),
    ] {
        let content: switchboard_core::post::PostContent = serde_json::from_value(
            json!({"text": "t", "media": [{"url": url, "kind": "image", "mime_type": "image/jpeg"}]}),
        )
        .unwrap();
        let target = switchboard_publish::Target {
            spec,
            access_token: &token,
            account_id: ADA,
            content: &content,
            local_media: &[],
        };
        let err = publisher
            .step(app.state.oauth().http(), &target, &Value::Null)
            .await
            .expect_err("refused");
        let switchboard_publish::PublishError::Failed(d) = err else {
            panic!("{url}: {err:?}");
        };
        assert!(!d.retryable, "{url}: {d:?}");
        assert!(
            d.cause.contains("private address") || d.cause.contains("HTTP 307"),
            "{url}: {d:?}"
        );
    }
    assert_eq!(
        hits.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "the loopback listener was never reached"
    );
}

/// `n` distinct ids of three characters each (a body of about 6 bytes per id).
fn short_ids(n: usize) -> Vec<String> {
    const A: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    (0..n)
        .map(|i| {
            let d = |k: usize| A[(i / 62usize.pow(k as u32)) % 62] as char;
            [d(2), d(1), d(0)].iter().collect()
        })
        .collect()
}

#[tokio::test]
async fn a_huge_id_list_is_refused_at_once_and_the_service_stays_responsive() {
    let app = TestApp::spawn().await;
    let ids = short_ids(160_000);
    let body = json!({"content": {"text": "t"}, "connection_ids": ids}).to_string();
    assert!(
        body.len() < 1024 * 1024,
        "under the body limit: {}",
        body.len()
    );
    // Three at once, as an attacker would; /healthz must keep answering meanwhile.
    let send = |path: &'static str| {
        let (http, api, key, body) = (
            app.http.clone(),
            app.api.clone(),
            app.key.clone(),
            body.clone(),
        );
        tokio::spawn(async move {
            let r = http
                .post(format!("{api}{path}"))
                .header("authorization", format!("Bearer {key}"))
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            read(r).await
        })
    };
    let sent = [
        send("/v1/posts"),
        send("/v1/posts/validate"),
        send("/v1/posts"),
    ];
    for _ in 0..5 {
        let r = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            app.http.get(format!("{}/healthz", app.api)).send(),
        )
        .await
        .expect("/healthz answers while the big requests are handled")
        .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }
    for s in sent {
        let (status, v) = tokio::time::timeout(std::time::Duration::from_secs(30), s)
            .await
            .expect("answered within a bounded wait")
            .unwrap();
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
        assert_eq!(v["field"], "connection_ids", "{v}");
        assert_eq!(v["limit"], 50, "{v}");
        assert_eq!(v["actual"], 160_000, "{v}");
    }
}

#[tokio::test]
async fn every_collection_of_a_post_request_is_bounded() {
    let app = TestApp::spawn().await;
    let x = connection(&app, "x-ada").await;
    let image = |i: usize| json!({"url": format!("https://cdn.example/{i}.jpg"), "kind": "image"});
    let post = |content: Value| json!({"content": content, "connection_ids": [x]});
    let cases = [
        (
            json!({"content": {"text": "t"}, "connection_ids": short_ids(51)}),
            "connection_ids",
            50,
        ),
        // TikTok's photo posts take the most media of any platform (35).
        (
            post(json!({"text": "t", "media": (0..36).map(image).collect::<Vec<_>>()})),
            "content.media",
            35,
        ),
        // Instagram's 30 is the only documented hashtag maximum.
        (
            post(
                json!({"text": "t", "hashtags": (0..31).map(|i| format!("tag{i}")).collect::<Vec<_>>()}),
            ),
            "content.hashtags",
            30,
        ),
        (
            json!({"content": {"text": "t"}, "connection_ids": [x], "scheduling_options": {"interval_hours": 8761, "start_time": "now"}}),
            "scheduling_options.interval_hours",
            8760,
        ),
        (
            json!({"posts": vec![post(json!({"text": "t"})); 101]}),
            "posts",
            100,
        ),
        (
            json!({"posts": [post(json!({"text": "t"})), {"content": {"text": "t"}, "connection_ids": short_ids(51)}]}),
            "posts[1].connection_ids",
            50,
        ),
        (
            json!({"posts": [post(json!({"text": "t"}))], "scheduling_options": {"interval_hours": 8761, "start_time": "now"}}),
            "scheduling_options.interval_hours",
            8760,
        ),
    ];
    for (body, field, limit) in cases {
        for path in ["/v1/posts", "/v1/posts/validate"] {
            if path.ends_with("validate") && body.get("posts").is_some() {
                continue;
            }
            let (s, v) = app.post(path, body.clone()).await;
            assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{path} {field}: {v}");
            assert_eq!(v["field"], field, "{path}: {v}");
            assert_eq!(v["limit"], limit, "{path} {field}: {v}");
        }
    }
    // At the limits, accepted.
    let (s, v) = app
        .post(
            "/v1/posts",
            json!({"posts": vec![post(json!({"text": "t"})); 100], "scheduling_options": {"interval_hours": 8760, "start_time": "now"}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["data"].as_array().unwrap().len(), 100);
}

#[tokio::test]
async fn a_batch_interval_that_overflows_a_date_is_a_422_not_a_dropped_connection() {
    let app = TestApp::spawn().await;
    let x = connection(&app, "x-ada").await;
    let p = json!({"content": {"text": "t"}, "connection_ids": [x]});
    for body in [
        json!({"posts": [p, p], "scheduling_options": {"interval_hours": 4294967295u32, "start_time": "now"}}),
    ] {
        let (s, v) = app.post("/v1/posts", body.clone()).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {v}");
        assert_eq!(v["field"], "scheduling_options.interval_hours", "{v}");
    }
    let (_, listed) = app.get("/v1/posts").await;
    assert_eq!(
        listed["data"].as_array().unwrap().len(),
        0,
        "nothing stored"
    );
}

#[tokio::test]
async fn a_panicking_handler_answers_a_problem_and_is_logged_once() {
    let app = TestApp::spawn().await;
    // A route behind the very layers of every API and dashboard route.
    let routes = axum::Router::new().route(
        "/v1/boom",
        axum::routing::get(|| async {
            if std::hint::black_box(true) {
                panic!("handler-panic-marker");
            }
            "unreachable"
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = switchboard_server::with_layers(routes, app.state.clone());
    tokio::spawn(async move { axum::serve(listener, router).await });
    let from = std::fs::metadata(log_capture()).unwrap().len();
    let r = app
        .http
        .get(format!("http://{addr}/v1/boom"))
        .send()
        .await
        .expect("an answer, not a dropped connection");
    assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    assert!(r.headers().contains_key("x-request-id"));
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        v["type"], "https://switchboard.dev/problems/internal-error",
        "{v}"
    );
    assert!(
        !v.to_string().contains("handler-panic-marker"),
        "the panic text is not sent: {v}"
    );
    // The server keeps serving.
    let (s, _) = app.get("/healthz").await;
    assert_eq!(s, StatusCode::OK);
    let logged = read_capture(from)
        .lines()
        .filter(|l| l.contains("handler-panic-marker"))
        .count();
    assert_eq!(logged, 1, "logged once");
}

/// YouTube locks every upload of an unverified API project created after 28 July 2020 as
/// private (https://developers.google.com/youtube/v3/docs/videos/insert). With the sandbox's
/// app unaudited, a public upload ends `published` (the video exists) with the warning as the
/// target's diagnosis and in the `post.published` event, saying the project needs YouTube's
/// audit.
#[tokio::test]
async fn a_youtube_upload_kept_private_is_published_with_a_warning() {
    let app = TestApp::spawn_with(Setup {
        sandbox: Box::new(|s| {
            s.unaudited_apps.insert("youtube".to_string());
        }),
        ..Default::default()
    })
    .await;
    let yt = app.connect("youtube").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let video = format!("{}/__sandbox/media/clip.mp4?bytes=300000", app.sandbox);
    let id = create_id(
        &app,
        json!({"content": {"text": "How we bake",
            "media": [{"url": video, "kind": "video", "mime_type": "video/mp4", "size_bytes": 300000}],
            "overrides": {"youtube": {"title": "Baking day", "privacy_status": "public"}}},
            "connection_ids": [yt]}),
    )
    .await;
    for _ in 0..10 {
        tick(&app.state).await.unwrap();
        if post(&app, &id).await["targets"][0]["status"] == "published" {
            break;
        }
        app.clock.advance(Duration::seconds(30));
    }
    let p = post(&app, &id).await;
    let t = &p["targets"][0];
    assert_eq!(t["status"], "published", "{p}");
    assert!(t["platform_post_id"].is_string());
    assert_eq!(t["diagnosis"]["category"], "app_not_approved", "{t}");
    assert_eq!(t["diagnosis"]["severity"], "warning", "{t}");
    assert!(
        t["diagnosis"]["cause"]
            .as_str()
            .unwrap()
            .contains("private"),
        "{t}"
    );
    let events = app
        .state
        .store()
        .list_events(&app.workspace_id, 50)
        .await
        .unwrap();
    let ev = events
        .iter()
        .find(|e| e.kind == "post.published")
        .expect("post.published");
    assert_eq!(ev.payload["warning"]["category"], "app_not_approved");
}
