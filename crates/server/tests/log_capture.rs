//! The log-capture proof: every log line written while the suite runs (each test binary's
//! capture in `target/log-capture/`, TRACE for Switchboard's crates, span closes with their
//! fields) holds no access token, refresh token, Page token, authorization code, client
//! secret, encryption key, API key or webhook secret issued during it.
//!
//! Every `TestApp` checks the capture written since it started when it is dropped
//! (`common::TestApp::assert_no_secrets_logged`), so the proof covers every server test. This
//! file adds one test that walks the whole life of connections on all seven platforms with
//! failures on the way, and checks that the capture really holds those flows (a check over an
//! empty capture would prove nothing).

mod common;

use chrono::Duration;
use common::{Setup, TestApp};
use reqwest::StatusCode;
use serde_json::json;
use switchboard_core::catalog::BUILTIN_IDS;

/// A webhook receiver that answers 200.
async fn receiver() -> String {
    let app = axum::Router::new().fallback(axum::routing::post(|| async { "ok" }));
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await });
    url
}

#[tokio::test]
async fn a_whole_life_of_connections_logs_no_secret() {
    let app = TestApp::spawn_with(Setup {
        // Workers on, ticking fast: their loops log too.
        config: Box::new(|c| {
            c.workers = true;
            c.worker_interval_ms = 50;
        }),
        ..Setup::default()
    })
    .await;
    let mut secrets = Vec::new();

    // A webhook endpoint (its signing secret is shown once).
    let (s, hook) = app
        .post("/v1/webhooks", json!({"url": receiver().await}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{hook}");
    secrets.push(hook["secret"].as_str().expect("webhook secret").to_string());

    // Connect every platform through the real redirect flow, and read each token.
    let mut ids = Vec::new();
    for p in BUILTIN_IDS {
        let conn = app.connect(p).await;
        let id = conn["id"].as_str().unwrap().to_string();
        if p == "facebook" {
            let (_, pages) = app.get(&format!("/v1/connections/{id}/pages")).await;
            let page = pages["data"][0]["id"].as_str().unwrap().to_string();
            let (s, v) = app
                .post(
                    &format!("/v1/connections/{id}/pages"),
                    json!({"page_ids": [page]}),
                )
                .await;
            assert_eq!(s, StatusCode::OK, "{v}");
            let (s, v) = app
                .get(&format!("/v1/connections/{id}/pages/{page}/token"))
                .await;
            assert_eq!(s, StatusCode::OK, "{v}");
            secrets.push(v["access_token"].as_str().unwrap().to_string());
        }
        let (s, v) = app.get(&format!("/v1/connections/{id}/token")).await;
        assert_eq!(s, StatusCode::OK, "{p}: {v}");
        secrets.push(v["access_token"].as_str().unwrap().to_string());
        ids.push((p, id));
    }

    // Forced refreshes, health checks, permissions and live validation of each.
    for (p, id) in &ids {
        let (s, v) = app
            .post(&format!("/v1/connections/{id}/refresh"), json!({}))
            .await;
        assert!(s != StatusCode::INTERNAL_SERVER_ERROR, "{p}: {v}");
        for path in ["health", "permissions"] {
            let (s, v) = app.get(&format!("/v1/connections/{id}/{path}")).await;
            assert_eq!(s, StatusCode::OK, "{p} {path}: {v}");
        }
        let (s, v) = app
            .post(&format!("/v1/connections/{id}/validate"), json!({}))
            .await;
        assert!(s != StatusCode::INTERNAL_SERVER_ERROR, "{p}: {v}");
    }

    // Failures: a refresh refused as invalid_grant, a platform outage, a replayed callback.
    let (_, x) = ids.iter().find(|(p, _)| *p == "twitter").unwrap().clone();
    app.fault(json!({"platform": "linkedin", "endpoint": "refresh", "status": 503, "times": 1}))
        .await;
    let (_, li) = ids.iter().find(|(p, _)| *p == "linkedin").unwrap().clone();
    let (s, _) = app
        .post(&format!("/v1/connections/{li}/refresh"), json!({}))
        .await;
    assert!(!s.is_success());
    let start = app.start("pinterest").await;
    let cb = app
        .consent(start["authorization_url"].as_str().unwrap(), "allow", None)
        .await;
    let (s, _) = app.callback(&cb).await;
    assert!(s.is_success());
    let (s, _) = app.callback(&cb).await;
    assert!(!s.is_success(), "a replayed callback is refused");

    // Publish on X (the dispatcher runs inside serve), then let the background refresh renew
    // tokens that are about to expire.
    let (s, post) = app
        .post(
            "/v1/posts",
            json!({"content": {"text": "log capture"}, "connection_ids": [x]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{post}");
    let post_id = post["id"].as_str().unwrap().to_string();
    let mut published = false;
    for _ in 0..200 {
        let (_, p) = app.get(&format!("/v1/posts/{post_id}")).await;
        if p["status"] == "published" {
            published = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert!(published, "the post was published");
    app.fault(json!({
        "platform": "youtube", "endpoint": "refresh", "status": 400,
        "body": json!({"error": "invalid_grant", "error_description": "Token has been expired or revoked."}).to_string()
    }))
    .await;
    app.clock.advance(Duration::hours(3));
    let refreshed = switchboard_server::workers::refresh::tick(&app.state)
        .await
        .unwrap();
    assert!(refreshed > 0, "the background refresh ran");
    let (s, v) = app.get(&format!("/v1/connections/{x}/token")).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    secrets.push(v["access_token"].as_str().unwrap().to_string());

    // Disconnect one (revocation at the platform).
    let (s, _) = app.delete(&format!("/v1/connections/{li}")).await;
    assert!(s.is_success());
    // Let the webhook worker deliver what the events queued.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;

    // The capture holds these flows: spans of platform calls, request ids, workspace ids.
    let text = common::read_capture(0);
    for needle in [
        "\"platform_call\"",
        "\"call\":\"token\"",
        "\"call\":\"refresh\"",
        "\"request_id\"",
        &format!("\"workspace_id\":\"{}\"", app.workspace_id),
        &format!("\"connection_id\":\"{x}\""),
        "\"publish_target\"",
    ] {
        assert!(text.contains(needle), "the capture lacks {needle}");
    }
    // The check finds a real secret of this run when one is there.
    let issued = app.secrets();
    assert!(issued.iter().filter(|s| s.starts_with("sbx-")).count() > 14);
    let planted = format!("{text}\n{{\"leak\":\"{}\"}}\n", secrets[1]);
    assert_eq!(
        switchboard_sandbox::leaks::find_leaks(&planted, &[]).len(),
        1,
        "a planted token is found"
    );

    // And none is there: every issued token, code and client secret, the keys, the API key,
    // the webhook secret and every token the API handed out.
    secrets.extend(issued);
    common::assert_no_leaks(0, &secrets);
}
