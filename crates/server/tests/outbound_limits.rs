//! Outbound calls under abuse protection (issue 7 item 6): the configured timeout ends a call to
//! a platform that does not answer, and a slow platform holds back only its own refreshes.

mod common;

use chrono::Duration;
use common::{Setup, TestApp};
use serde_json::json;
use switchboard_server::Config;

/// A platform that never answers in time: the call ends at `http_timeout_secs` and the failure
/// says so (the connection keeps its still-valid token).
#[tokio::test]
async fn a_platform_call_ends_at_the_configured_timeout() {
    let app = TestApp::spawn_with(Setup {
        config: Box::new(|c: &mut Config| c.http_timeout_secs = 1),
        ..Setup::default()
    })
    .await;
    let conn = app.connect("twitter").await;
    let id = conn["id"].as_str().unwrap();
    app.fault(json!({"platform": "twitter", "endpoint": "refresh", "delay_ms": 4000, "times": 1}))
        .await;
    let (s, body) = app
        .post(&format!("/v1/connections/{id}/refresh"), json!({}))
        .await;
    assert!(s.is_server_error(), "{s} {body}");
    let text = body.to_string();
    assert!(
        text.contains("no answer within 1 s (timed out)"),
        "the problem names the timeout: {body}"
    );
    let (_, c) = app.get(&format!("/v1/connections/{id}")).await;
    assert_ne!(c["status"], "needs_reauth", "a timeout is transient: {c}");
}

/// The refresh worker works every platform side by side: while X's token endpoint takes three
/// seconds to answer, YouTube's due connection is refreshed, before X's call has returned.
#[tokio::test]
async fn a_slow_platform_does_not_hold_back_the_others_refreshes() {
    let app = TestApp::spawn_with(Setup {
        config: Box::new(|c: &mut Config| c.http_timeout_secs = 10),
        ..Setup::default()
    })
    .await;
    // X comes first in the catalog: a worker going platform by platform would wait for it.
    let x = app.connect("twitter").await;
    let yt = app.connect("youtube").await;
    let (x_id, yt_id) = (
        x["id"].as_str().unwrap().to_string(),
        yt["id"].as_str().unwrap().to_string(),
    );
    // X's two-hour token is within its buffer, YouTube's hour is over: both are due.
    app.clock.advance(Duration::minutes(110));
    app.fault(json!({"platform": "twitter", "endpoint": "refresh", "delay_ms": 3000, "times": 1}))
        .await;
    let store = app.state.store().clone();
    let version = |id: String| {
        let store = store.clone();
        async move {
            store
                .get_connection_by_id(&id)
                .await
                .unwrap()
                .unwrap()
                .version
        }
    };
    let (x_before, yt_before) = (version(x_id.clone()).await, version(yt_id.clone()).await);
    let state = app.state.clone();
    let tick =
        tokio::spawn(async move { switchboard_server::workers::refresh::tick(&state).await });
    let mut yt_done_while_x_waited = None;
    while !tick.is_finished() {
        if version(yt_id.clone()).await != yt_before {
            yt_done_while_x_waited = Some(version(x_id.clone()).await == x_before);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let handled = tick.await.unwrap().unwrap();
    assert!(handled >= 2, "both refreshed: {handled}");
    assert_eq!(
        yt_done_while_x_waited,
        Some(true),
        "YouTube's refresh finished while X's call was still outstanding"
    );
    assert_ne!(version(x_id).await, x_before, "X refreshed in the end");
}
