//! Refreshing access tokens: single flight within a process and across instances, failure
//! classification, and each platform's renewal rule, with a moved clock (no sleeping).

mod common;

use chrono::Duration;
use common::{Db, Setup, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn token(app: &TestApp, id: &str) -> (StatusCode, Value) {
    app.get(&format!("/v1/connections/{id}/token")).await
}

fn refreshes(stats: &Value, platform: &str) -> u64 {
    stats["platforms"][platform]["refreshes"]
        .as_u64()
        .unwrap_or(0)
}

#[tokio::test]
async fn fifty_concurrent_reads_of_an_expired_token_refresh_once() {
    let app = TestApp::spawn().await;
    let conn = app.connect("twitter").await;
    let id = conn["id"].as_str().unwrap().to_string();
    app.clock.advance(Duration::hours(2) + Duration::minutes(1));
    let app = std::sync::Arc::new(app);
    let calls = (0..50).map(|_| {
        let app = app.clone();
        let id = id.clone();
        tokio::spawn(async move { token(&app, &id).await })
    });
    let results = futures::future::join_all(calls).await;
    let tokens: std::collections::HashSet<String> = results
        .into_iter()
        .map(|r| {
            let (s, v) = r.unwrap();
            assert_eq!(s, StatusCode::OK, "{v}");
            v["access_token"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(tokens.len(), 1, "all 50 callers get the same token");
    let stats = app.sandbox_stats().await;
    assert_eq!(refreshes(&stats, "twitter"), 1, "{stats}");
    let t = tokens.into_iter().next().unwrap();
    assert_eq!(app.introspect(&t).await["active"], true);
    let (_, c) = app.get(&format!("/v1/connections/{id}")).await;
    assert_eq!(c["status"], "healthy");
    assert!(c["last_refreshed_at"].is_string());
}

#[tokio::test]
async fn two_instances_on_postgres_refresh_once() {
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
    let conn = a.connect("tiktok").await;
    let id = conn["id"].as_str().unwrap().to_string();
    a.clock.advance(Duration::hours(3));
    let (a, b) = (std::sync::Arc::new(a), std::sync::Arc::new(b));
    let mut calls = Vec::new();
    for i in 0..50 {
        let (a, b, id) = (a.clone(), b.clone(), id.clone());
        calls.push(tokio::spawn(async move {
            // Both instances answer with A's key: the workspace lives in the shared database.
            let target = if i % 2 == 0 { &a } else { &b };
            let r = target
                .http
                .get(format!("{}/v1/connections/{id}/token", target.api))
                .bearer_auth(&a.key)
                .send()
                .await
                .unwrap();
            common::read(r).await
        }));
    }
    let mut seen = std::collections::HashSet::new();
    for c in futures::future::join_all(calls).await {
        let (s, v) = c.unwrap();
        assert_eq!(s, StatusCode::OK, "{v}");
        seen.insert(v["access_token"].as_str().unwrap().to_string());
    }
    assert_eq!(
        seen.len(),
        1,
        "one token for every caller on both instances"
    );
    assert_eq!(refreshes(&a.sandbox_stats().await, "tiktok"), 1);
}

#[tokio::test]
async fn invalid_grant_needs_the_person_and_is_not_retried() {
    let app = TestApp::spawn().await;
    let conn = app.connect("pinterest").await;
    let id = conn["id"].as_str().unwrap();
    app.fault(json!({"platform": "pinterest", "endpoint": "refresh", "status": 400,
        "body": "{\"error\":\"invalid_grant\",\"error_description\":\"Refresh token is invalid or expired\"}", "times": 5}))
        .await;
    let (s, v) = app
        .post(&format!("/v1/connections/{id}/refresh"), json!({}))
        .await;
    assert_eq!(s, StatusCode::BAD_GATEWAY, "{v}");
    assert_eq!(v["diagnosis"]["category"], "token_revoked");
    assert_eq!(v["connection_status"], "needs_reauth");
    let (_, c) = app.get(&format!("/v1/connections/{id}")).await;
    assert_eq!(c["status"], "needs_reauth");
    assert_eq!(c["last_error"]["category"], "token_revoked");
    // Expired and dead: reading the token does not hit the platform again.
    app.clock.advance(Duration::days(31));
    let (s, v) = token(&app, id).await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    let stats = app.sandbox_stats().await;
    assert_eq!(
        stats["platforms"]["pinterest"]["faults_served"], 1,
        "one attempt only: {stats}"
    );
    let (_, ev) = app.get("/v1/events").await;
    assert!(ev["data"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["type"] == "connection.needs_reauth"));
}

#[tokio::test]
async fn a_transient_failure_keeps_the_connection_and_recovers() {
    let app = TestApp::spawn().await;
    let conn = app.connect("twitter").await;
    let id = conn["id"].as_str().unwrap();
    app.fault(json!({"platform": "twitter", "endpoint": "refresh", "status": 503, "body": "Service Unavailable", "times": 3}))
        .await;
    let (s, v) = app
        .post(&format!("/v1/connections/{id}/refresh"), json!({}))
        .await;
    assert_eq!(s, StatusCode::BAD_GATEWAY);
    assert_eq!(v["diagnosis"]["category"], "platform_unavailable");
    assert_eq!(v["diagnosis"]["retryable"], true);
    // One passing 503 with two hours left: still healthy, the failure on record.
    assert_eq!(v["connection_status"], "healthy");
    let (_, c) = app.get(&format!("/v1/connections/{id}")).await;
    assert_eq!(c["status"], "healthy");
    assert_eq!(c["last_error"]["category"], "platform_unavailable");
    // The access token is still valid: the product's calls keep working.
    let (s, _) = token(&app, id).await;
    assert_eq!(s, StatusCode::OK);
    // Failing again and again: now it says so.
    for _ in 0..2 {
        app.post(&format!("/v1/connections/{id}/refresh"), json!({}))
            .await;
    }
    let (_, c) = app.get(&format!("/v1/connections/{id}")).await;
    assert_eq!(c["status"], "refresh_failing");
    let (s, v) = app
        .post(&format!("/v1/connections/{id}/refresh"), json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["connection"]["status"], "healthy");
    assert!(v["connection"]["last_error"].is_null());
    let (_, ev) = app.get("/v1/events").await;
    assert!(ev["data"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["type"] == "connection.recovered"));
}

#[tokio::test]
async fn google_refresh_keeps_the_unrotated_refresh_token() {
    let app = TestApp::spawn().await;
    let conn = app.connect("youtube").await;
    let id = conn["id"].as_str().unwrap();
    for _ in 0..3 {
        app.clock.advance(Duration::hours(1));
        let (s, v) = token(&app, id).await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }
    assert_eq!(refreshes(&app.sandbox_stats().await, "youtube"), 3);
    let (_, c) = app.get(&format!("/v1/connections/{id}")).await;
    assert_eq!(c["has_refresh_token"], true);
}

#[tokio::test]
async fn instagram_is_not_refreshed_before_24_hours() {
    let app = TestApp::spawn().await;
    let conn = app.connect("instagram").await;
    let id = conn["id"].as_str().unwrap();
    let (s, v) = app
        .post(&format!("/v1/connections/{id}/refresh"), json!({}))
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert!(v["detail"].as_str().unwrap().contains("24 hours"), "{v}");
    assert_eq!(refreshes(&app.sandbox_stats().await, "instagram"), 0);
    app.clock.advance(Duration::hours(25));
    let (s, v) = app
        .post(&format!("/v1/connections/{id}/refresh"), json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(refreshes(&app.sandbox_stats().await, "instagram"), 1);
}

#[tokio::test]
async fn a_token_that_cannot_be_renewed_says_so_when_it_expires() {
    let app = TestApp::spawn().await;
    let conn = app.connect("linkedin").await;
    let id = conn["id"].as_str().unwrap();
    assert_eq!(conn["has_refresh_token"], false);
    app.clock.advance(Duration::days(61));
    let (s, v) = token(&app, id).await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["diagnosis"]["category"], "token_expired");
    assert_eq!(refreshes(&app.sandbox_stats().await, "linkedin"), 0);
}

#[tokio::test]
async fn rotating_refresh_tokens_are_stored_at_every_rotation() {
    let app = TestApp::spawn().await;
    for platform in ["twitter", "tiktok", "pinterest"] {
        let conn = app.connect(platform).await;
        let id = conn["id"].as_str().unwrap();
        // Each refresh spends the stored refresh token; the next one only works if the rotated
        // token was stored.
        for _ in 0..3 {
            let (s, v) = app
                .post(&format!("/v1/connections/{id}/refresh"), json!({}))
                .await;
            assert_eq!(s, StatusCode::OK, "{platform}: {v}");
        }
        let stats = app.sandbox_stats().await;
        assert_eq!(refreshes(&stats, platform), 3, "{platform}: {stats}");
        assert_eq!(stats["platforms"][platform]["refresh_failures"], 0);
    }
}

#[tokio::test]
async fn timeouts_and_garbage_on_refresh_are_diagnosed_and_nothing_is_lost() {
    let app = TestApp::spawn().await;
    let conn = app.connect("youtube").await;
    let id = conn["id"].as_str().unwrap();
    let (_, before) = token(&app, id).await;

    app.fault(json!({"platform": "youtube", "endpoint": "refresh", "delay_ms": 3500, "times": 1}))
        .await;
    let (s, v) = app
        .post(&format!("/v1/connections/{id}/refresh"), json!({}))
        .await;
    assert_eq!(s, StatusCode::GATEWAY_TIMEOUT, "{v}");
    assert_eq!(v["diagnosis"]["category"], "network");
    assert_eq!(v["diagnosis"]["retryable"], true);

    app.fault(
        json!({"platform": "youtube", "endpoint": "refresh", "status": 200,
        "body": "<html>definitely not a token</html>", "content_type": "text/html", "times": 1}),
    )
    .await;
    let (s, v) = app
        .post(&format!("/v1/connections/{id}/refresh"), json!({}))
        .await;
    assert_eq!(s, StatusCode::BAD_GATEWAY, "{v}");
    assert_eq!(v["diagnosis"]["category"], "unknown");
    assert!(v["diagnosis"]["platform_message"]
        .as_str()
        .unwrap()
        .contains("not a token"));

    // The stored tokens are untouched: the same access token is served, and a later refresh
    // with the kept refresh token works.
    let (_, after) = token(&app, id).await;
    assert_eq!(before["access_token"], after["access_token"]);
    let (s, v) = app
        .post(&format!("/v1/connections/{id}/refresh"), json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
}

#[tokio::test]
async fn a_reconnect_without_a_new_refresh_token_keeps_the_stored_one() {
    // Google issues a refresh token only at the first offline consent unless prompt=consent is
    // sent. A provider configured without prompt=consent (the sandbox's Google, as a custom
    // provider) shows it: the reconnect brings no refresh token, and the stored one must stay.
    let app = TestApp::spawn_with(Setup {
        config: Box::new(|c| {
            let sb = c.sandbox_url.clone().unwrap();
            let mut params = std::collections::BTreeMap::new();
            params.insert("access_type".to_string(), "offline".to_string());
            c.providers.insert(
                "google-offline".into(),
                switchboard_server::config::ProviderConfig {
                    display_name: Some("Google without prompt=consent".into()),
                    authorization_url: format!("{sb}/accounts.google.com/o/oauth2/v2/auth"),
                    token_url: format!("{sb}/oauth2.googleapis.com/token"),
                    revocation_url: None,
                    userinfo_url: Some(format!("{sb}/openidconnect.googleapis.com/v1/userinfo")),
                    client_id: Some("sandbox-youtube-client".into()),
                    client_secret: Some("sandbox-youtube-secret".into()),
                    client_secret_file: None,
                    client_auth: switchboard_core::catalog::ClientAuth::ClientSecretPost,
                    pkce: switchboard_core::catalog::Pkce::Supported,
                    scopes: vec!["openid".into(), "email".into(), "profile".into()],
                    scope_separator: " ".into(),
                    rotating_refresh_tokens: false,
                    account_id_pointer: None,
                    authorization_params: params,
                },
            );
        }),
        ..Setup::default()
    })
    .await;
    let first = app.connect("google-offline").await;
    assert_eq!(first["has_refresh_token"], true, "{first}");
    let sealed = |id: String| {
        let store = app.state.store().clone();
        async move {
            store
                .get_connection_by_id(&id)
                .await
                .unwrap()
                .unwrap()
                .refresh_token_sealed
        }
    };
    let stored_first = sealed(first["id"].as_str().unwrap().to_string()).await;
    let again = app.connect("google-offline").await;
    // The platform sent no refresh token this time: the very same ciphertext is still stored
    // (a new token would have been sealed afresh).
    assert_eq!(
        sealed(again["id"].as_str().unwrap().to_string()).await,
        stored_first
    );
    assert_eq!(again["id"], first["id"]);
    assert_eq!(again["created"], false);
    assert_eq!(
        again["has_refresh_token"], true,
        "the stored refresh token was kept: {again}"
    );
    let id = again["id"].as_str().unwrap();
    let (s, v) = app
        .post(&format!("/v1/connections/{id}/refresh"), json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "the kept refresh token still works: {v}");
    let (_, ev) = app.get("/v1/events").await;
    let kinds: Vec<&str> = ev["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["type"].as_str())
        .collect();
    assert!(
        kinds.contains(&"connection.created") && kinds.contains(&"connection.reconnected"),
        "history kept: {kinds:?}"
    );
}

/// LinkedIn answers the code exchange and the refresh without `token_type` (the examples of
/// https://learn.microsoft.com/en-us/linkedin/shared/authentication/authorization-code-flow and
/// .../programmatic-refresh-tokens); the sandbox answers the same. The `oauth2` crate's standard
/// response type refused such answers, so connecting a LinkedIn account failed.
#[tokio::test]
async fn linkedin_answers_without_token_type_connect_and_refresh() {
    let app = TestApp::spawn_with(Setup {
        sandbox: Box::new(|sc| sc.linkedin_refresh_tokens = true),
        ..Setup::default()
    })
    .await;
    let conn = app.connect("linkedin").await;
    let id = conn["id"].as_str().unwrap();
    assert_eq!(conn["has_refresh_token"], true, "{conn}");
    let (s, v) = token(&app, id).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["token_type"], "Bearer", "{v}");
    for _ in 0..2 {
        let (s, v) = app
            .post(&format!("/v1/connections/{id}/refresh"), json!({}))
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }
    let stats = app.sandbox_stats().await;
    assert_eq!(refreshes(&stats, "linkedin"), 2, "{stats}");
    assert_eq!(stats["platforms"]["linkedin"]["refresh_failures"], 0);
}
