//! The refresh worker, driven tick by tick with a moved clock: renews before expiry, backs off
//! on transient failures (honouring Retry-After), stops on a dead grant, warns before a token
//! that cannot be renewed expires, and shares the work between instances.

mod common;

use chrono::Duration;
use common::{Db, Setup, TestApp};
use serde_json::{json, Value};
use switchboard_core::Clock;
use switchboard_server::workers::refresh::tick;

fn stat(stats: &Value, platform: &str, key: &str) -> u64 {
    stats["platforms"][platform][key].as_u64().unwrap_or(0)
}

async fn status(app: &TestApp, id: &str) -> Value {
    app.get(&format!("/v1/connections/{id}")).await.1
}

#[tokio::test]
async fn renews_each_platform_inside_its_buffer_and_only_then() {
    let app = TestApp::spawn().await;
    let x = app.connect("twitter").await;
    let yt = app.connect("youtube").await;
    app.connect("pinterest").await;
    assert_eq!(
        tick(&app.state).await.unwrap(),
        0,
        "nothing is due right after connecting"
    );
    // X tokens last 2 h (buffer 30 min), YouTube's 1 h (buffer 15 min).
    app.clock.advance(Duration::minutes(50));
    tick(&app.state).await.unwrap();
    let s = app.sandbox_stats().await;
    assert_eq!(stat(&s, "youtube", "refreshes"), 1, "{s}");
    assert_eq!(stat(&s, "twitter", "refreshes"), 0);
    app.clock.advance(Duration::minutes(45));
    tick(&app.state).await.unwrap();
    tick(&app.state).await.unwrap();
    let s = app.sandbox_stats().await;
    assert_eq!(stat(&s, "twitter", "refreshes"), 1, "{s}");
    assert_eq!(stat(&s, "youtube", "refreshes"), 2, "{s}");
    assert_eq!(stat(&s, "pinterest", "refreshes"), 0);
    for c in [&x, &yt] {
        let v = status(&app, c["id"].as_str().unwrap()).await;
        assert_eq!(v["status"], "healthy");
        let expires =
            chrono::DateTime::parse_from_rfc3339(v["expires_at"].as_str().unwrap()).unwrap();
        assert!(expires > app.clock.now() + Duration::minutes(15), "{v}");
    }
}

#[tokio::test]
async fn a_rate_limited_refresh_waits_for_retry_after() {
    let app = TestApp::spawn().await;
    let x = app.connect("twitter").await;
    let id = x["id"].as_str().unwrap();
    app.clock.advance(Duration::minutes(95));
    app.fault(json!({"platform": "twitter", "endpoint": "refresh", "status": 429,
        "headers": {"Retry-After": "600"},
        "body": "{\"title\":\"Too Many Requests\",\"detail\":\"Too Many Requests\",\"type\":\"about:blank\",\"status\":429}",
        "times": 1}))
        .await;
    tick(&app.state).await.unwrap();
    let v = status(&app, id).await;
    assert_eq!(
        v["status"], "healthy",
        "one throttled refresh with 25 minutes left: {v}"
    );
    assert_eq!(v["last_error"]["category"], "rate_limited");
    assert_eq!(v["last_error"]["retry_after_secs"], 600);
    // Neither the next tick nor one five minutes later calls the platform again.
    tick(&app.state).await.unwrap();
    app.clock.advance(Duration::minutes(5));
    tick(&app.state).await.unwrap();
    let s = app.sandbox_stats().await;
    assert_eq!(stat(&s, "twitter", "faults_served"), 1);
    assert_eq!(stat(&s, "twitter", "refreshes"), 0);
    // The access token still works meanwhile.
    let (code, _) = app.get(&format!("/v1/connections/{id}/token")).await;
    assert_eq!(code, reqwest::StatusCode::OK);
    app.clock.advance(Duration::minutes(6));
    tick(&app.state).await.unwrap();
    let s = app.sandbox_stats().await;
    assert_eq!(stat(&s, "twitter", "refreshes"), 1, "{s}");
    assert_eq!(status(&app, id).await["status"], "healthy");
}

#[tokio::test]
async fn a_dead_grant_is_tried_once() {
    let app = TestApp::spawn().await;
    let t = app.connect("tiktok").await;
    app.clock.advance(Duration::minutes(100));
    app.fault(json!({"platform": "tiktok", "endpoint": "refresh", "status": 400,
        "body": "{\"error\":\"invalid_grant\",\"error_description\":\"Refresh token is invalid or expired.\",\"log_id\":\"L1\"}",
        "times": 10}))
        .await;
    for _ in 0..3 {
        tick(&app.state).await.unwrap();
        app.clock.advance(Duration::minutes(30));
    }
    assert_eq!(
        stat(&app.sandbox_stats().await, "tiktok", "faults_served"),
        1
    );
    assert_eq!(
        status(&app, t["id"].as_str().unwrap()).await["status"],
        "needs_reauth"
    );
}

#[tokio::test]
async fn transient_failures_back_off_exponentially() {
    let app = TestApp::spawn().await;
    app.connect("youtube").await;
    app.clock.advance(Duration::minutes(50));
    app.fault(
        json!({"platform": "youtube", "endpoint": "refresh", "status": 503,
        "body": "{\"error\":\"server_error\"}", "times": 100}),
    )
    .await;
    // Over 20 minutes of ticks every 10 seconds, the attempts follow the back-off (30 s, 60 s,
    // 120 s, 240 s, 480 s, each with jitter), not the tick rate.
    for _ in 0..120 {
        tick(&app.state).await.unwrap();
        app.clock.advance(Duration::seconds(10));
    }
    let served = stat(&app.sandbox_stats().await, "youtube", "faults_served");
    assert!(
        (4..=8).contains(&served),
        "attempts in 20 minutes: {served}"
    );
}

#[tokio::test]
async fn warns_before_an_unrenewable_token_expires_then_marks_it_expired() {
    let app = TestApp::spawn().await;
    let li = app.connect("linkedin").await;
    let id = li["id"].as_str().unwrap();
    app.clock.advance(Duration::days(58));
    tick(&app.state).await.unwrap();
    assert_eq!(
        status(&app, id).await["status"],
        "healthy",
        "60-day token, 2 days left: not yet"
    );
    app.clock.advance(Duration::days(1) + Duration::hours(1));
    tick(&app.state).await.unwrap();
    tick(&app.state).await.unwrap();
    assert_eq!(status(&app, id).await["status"], "expiring_soon");
    let (_, ev) = app.get("/v1/events").await;
    let warnings = ev["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "connection.expiring_soon")
        .count();
    assert_eq!(warnings, 1, "warned once");
    app.clock.advance(Duration::days(1));
    tick(&app.state).await.unwrap();
    assert_eq!(status(&app, id).await["status"], "expired");
    let (_, ev) = app.get("/v1/events").await;
    assert_eq!(ev["data"][0]["type"], "connection.needs_reauth");
    // Reconnecting brings it back.
    let again = app.connect("linkedin").await;
    assert_eq!(again["id"], li["id"]);
    assert_eq!(again["status"], "healthy");
}

#[tokio::test]
async fn two_instances_share_the_due_refreshes() {
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
    for (platform, account) in [
        ("twitter", "x-ada"),
        ("twitter", "x-grace"),
        ("tiktok", "tt-ada"),
        ("youtube", "yt-ada"),
    ] {
        a.connect_as(platform, Some(account)).await;
    }
    a.clock.advance(Duration::minutes(100));
    let (ra, rb) = tokio::join!(tick(&a.state), tick(&b.state));
    assert_eq!(
        ra.unwrap() + rb.unwrap(),
        4,
        "each due connection handled by one instance"
    );
    let s = a.sandbox_stats().await;
    assert_eq!(stat(&s, "twitter", "refreshes"), 2);
    assert_eq!(stat(&s, "tiktok", "refreshes"), 1);
    assert_eq!(stat(&s, "youtube", "refreshes"), 1);
    assert_eq!(stat(&s, "twitter", "refresh_failures"), 0);
}

/// A claim that ran out while its holder worked through its batch, and that another holder
/// took meanwhile, is left to that holder: the first one does not call the platform (two holders
/// sending one rotating refresh token would kill the grant). Once the other's claim ends, the
/// first renews it, and refreshes only if nobody did meanwhile.
#[tokio::test]
async fn a_claim_taken_over_by_another_holder_is_left_to_it() {
    use switchboard_server::lifecycle::{refresh_claimed, ClaimedRefresh, Need};
    let app = TestApp::spawn_with(Setup {
        db: Db::Postgres,
        ..Setup::default()
    })
    .await;
    let x = app.connect("twitter").await;
    let id = x["id"].as_str().unwrap();
    app.clock.advance(Duration::minutes(100));
    let store = app.state.store();
    let seen = store.get_connection_by_id(id).await.unwrap().unwrap();
    let need = Need::expiring_within(Duration::minutes(30), &seen);
    let lease = Duration::seconds(60);
    // Another instance holds the claim now.
    let now = app.clock.now();
    assert!(store
        .try_lock_refresh(id, "other-instance", now + lease, now)
        .await
        .unwrap());
    let r = refresh_claimed(&app.state, id, need, lease).await.unwrap();
    assert!(matches!(r, ClaimedRefresh::HeldElsewhere), "{r:?}");
    assert_eq!(stat(&app.sandbox_stats().await, "twitter", "refreshes"), 0);
    // Its claim ran out without a refresh: this instance renews it and refreshes.
    app.clock.advance(Duration::seconds(61));
    let r = refresh_claimed(&app.state, id, need, lease).await.unwrap();
    let ClaimedRefresh::Refreshed(c) = r else {
        panic!("{r:?}");
    };
    assert_eq!(c.version, seen.version + 1);
    assert_eq!(stat(&app.sandbox_stats().await, "twitter", "refreshes"), 1);
    // A holder that decided on the old version finds the new tokens and does nothing.
    let r = refresh_claimed(&app.state, id, need, lease).await.unwrap();
    assert!(matches!(r, ClaimedRefresh::NotNeeded(_)), "{r:?}");
    let s = app.sandbox_stats().await;
    assert_eq!(stat(&s, "twitter", "refreshes"), 1);
    assert_eq!(stat(&s, "twitter", "refresh_failures"), 0);
}

#[tokio::test]
async fn readiness_reports_the_running_workers() {
    let app = TestApp::spawn_with(Setup {
        config: Box::new(|c| {
            c.workers = true;
            c.worker_interval_ms = 20;
        }),
        ..Setup::default()
    })
    .await;
    let mut last = Value::Null;
    for _ in 0..100 {
        let (code, v) = app.get("/readyz").await;
        last = v;
        if code == reqwest::StatusCode::OK
            && last["checks"]["workers"]["refresh"]["ticks"].as_u64() > Some(0)
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(last["status"], "ready", "{last}");
    assert_eq!(last["checks"]["database"], "ok");
    for w in ["refresh", "webhooks"] {
        assert_eq!(last["checks"]["workers"][w]["ok"], true, "{last}");
    }
}
