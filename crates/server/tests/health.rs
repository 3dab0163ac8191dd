//! `GET /v1/connections/{id}/health` against the sandbox: a healthy X connection passes every
//! check; a grant revoked at the platform behind Switchboard's back fails the live check and
//! needs the person; LinkedIn's unrenewable token warns before it expires and fails after;
//! a scope the person did not grant is listed.

mod common;

use chrono::Duration;
use common::TestApp;
use reqwest::StatusCode;
use serde_json::Value;

fn check<'a>(h: &'a Value, name: &str) -> &'a Value {
    h["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no {name} check in {h}"))
}

async fn health(app: &TestApp, id: &str) -> Value {
    let (s, h) = app.get(&format!("/v1/connections/{id}/health")).await;
    assert_eq!(s, StatusCode::OK, "{h}");
    h
}

#[tokio::test]
async fn healthy_x_connection_passes_every_check() {
    let app = TestApp::spawn().await;
    let conn = app.connect("twitter").await;
    let id = conn["id"].as_str().unwrap();
    let before = app.sandbox_stats().await;
    let h = health(&app, id).await;
    assert_eq!(h["status"], "healthy", "{h}");
    let names: Vec<&str> = h["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "access_token",
            "refresh_token",
            "last_refresh",
            "live_profile",
            "scopes"
        ]
    );
    for c in h["checks"].as_array().unwrap() {
        assert_eq!(c["status"], "pass", "{c}");
    }
    assert_eq!(h["action"]["kind"], "none");
    assert!(h["summary"]
        .as_str()
        .unwrap()
        .starts_with("healthy: 5 passed"));
    // The profile call was live.
    let after = app.sandbox_stats().await;
    assert_ne!(
        before, after,
        "the health check made no call to the platform"
    );
    // The check is recorded.
    let checked = app.state.store().connection_checked_at(id).await.unwrap();
    assert_eq!(
        checked.map(|t| t.timestamp()),
        Some(app.state.now().timestamp())
    );

    let (s, _) = app.get("/v1/connections/nope/health").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn grant_revoked_behind_our_back_fails_and_needs_reauth() {
    let app = TestApp::spawn().await;
    let conn = app.connect("twitter").await;
    let id = conn["id"].as_str().unwrap();
    let (_, tok) = app.get(&format!("/v1/connections/{id}/token")).await;
    let token = tok["access_token"].as_str().unwrap().to_string();

    // The app's grant is revoked at X directly: Switchboard's store still says healthy.
    let spec = app.state.platform("twitter").unwrap().clone();
    let creds = app.state.credentials("twitter").unwrap();
    app.state
        .oauth()
        .revoke(
            &spec,
            &creds,
            &secrecy::SecretString::from(token.clone()),
            None,
        )
        .await
        .unwrap();
    assert_eq!(app.introspect(&token).await["active"], false);
    let (_, one) = app.get(&format!("/v1/connections/{id}")).await;
    assert_eq!(one["status"], "healthy");

    let h = health(&app, id).await;
    assert_eq!(h["status"], "needs_reauth", "{h}");
    assert_eq!(h["previous_status"], "healthy");
    let live = check(&h, "live_profile");
    assert_eq!(live["status"], "fail", "{live}");
    // X answers a revoked token like an expired one; the refresh that tells them apart is
    // refused too, and the failure is one only a person can fix.
    assert_eq!(live["diagnosis"]["retryable"], false, "{live}");
    assert_eq!(live["diagnosis"]["platform"], "twitter", "{live}");
    assert_eq!(h["action"]["kind"], "reconnect");
    assert_eq!(h["action"]["path"], "/v1/connect/twitter");

    let (_, one) = app.get(&format!("/v1/connections/{id}")).await;
    assert_eq!(one["status"], "needs_reauth");
    assert_eq!(one["last_error"]["retryable"], false, "{one}");
    let (_, events) = app.get("/v1/events").await;
    let reauth = events["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "connection.needs_reauth")
        .count();
    assert_eq!(reauth, 1, "{events}");

    // A second check finds the same and records no second event.
    let h = health(&app, id).await;
    assert_eq!(h["status"], "needs_reauth");
    let (_, events) = app.get("/v1/events").await;
    assert_eq!(
        events["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["type"] == "connection.needs_reauth")
            .count(),
        1
    );
}

#[tokio::test]
async fn linkedin_warns_inside_the_window_then_fails_once_expired() {
    let app = TestApp::spawn().await;
    let conn = app.connect("linkedin").await;
    let id = conn["id"].as_str().unwrap();
    assert_eq!(conn["has_refresh_token"], false, "{conn}");
    assert_eq!(health(&app, id).await["status"], "healthy");

    let expires: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(conn["expires_at"].clone()).unwrap();
    // 12 hours before the end: inside the 24-hour warning window.
    app.clock
        .advance(expires - app.state.now() - Duration::hours(12));
    let h = health(&app, id).await;
    assert_eq!(h["status"], "expiring_soon", "{h}");
    let c = check(&h, "access_token");
    assert_eq!(c["status"], "warn", "{c}");
    assert!(c["detail"].as_str().unwrap().contains("in 12 hours"), "{c}");
    assert_eq!(check(&h, "live_profile")["status"], "pass");
    assert_eq!(h["action"]["kind"], "reconnect");
    assert_eq!(h["action"]["path"], "/v1/connect/linkedin");
    let (_, one) = app.get(&format!("/v1/connections/{id}")).await;
    assert_eq!(one["status"], "expiring_soon");
    let (_, events) = app.get("/v1/events").await;
    assert!(
        events["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["type"] == "connection.expiring_soon"),
        "{events}"
    );

    app.clock.advance(Duration::hours(13));
    let h = health(&app, id).await;
    assert_eq!(h["status"], "expired", "{h}");
    assert_eq!(check(&h, "access_token")["status"], "fail");
    assert_eq!(check(&h, "live_profile")["status"], "fail");
}

#[tokio::test]
async fn missing_scope_warns_listing_it() {
    let app = TestApp::spawn().await;
    let start = app.start("twitter").await;
    let asked: Vec<String> = start["scopes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect();
    assert!(asked.iter().any(|s| s == "tweet.write"));
    // The person unticks tweet.write on the consent page.
    let granted: Vec<&str> = asked
        .iter()
        .map(String::as_str)
        .filter(|s| *s != "tweet.write")
        .collect();
    let r = app
        .http
        .get(start["authorization_url"].as_str().unwrap())
        .header("X-Sandbox-Consent", "allow")
        .header("X-Sandbox-Scopes", granted.join(" "))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_redirection(), "{}", r.status());
    let cb = r.headers()["location"].to_str().unwrap().to_string();
    let (s, conn) = app.callback(&cb).await;
    assert!(s.is_success(), "{conn}");
    let id = conn["id"].as_str().unwrap();
    assert!(!conn["scopes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s == "tweet.write"));

    let h = health(&app, id).await;
    let c = check(&h, "scopes");
    assert_eq!(c["status"], "warn", "{c}");
    assert!(c["detail"].as_str().unwrap().contains("tweet.write"), "{c}");
    assert_eq!(c["data"]["missing"], serde_json::json!(["tweet.write"]));
    assert_eq!(
        c["data"]["missing_by_capability"]["publish_text"],
        serde_json::json!(["tweet.write"])
    );
    assert!(c["fix"].as_str().unwrap().contains("/v1/connect/twitter"));
    // A warning does not change the status.
    assert_eq!(h["status"], "healthy");
}

#[tokio::test]
async fn scopes_google_reports_under_other_names_count_as_granted() {
    let app = TestApp::spawn().await;
    let conn = app.connect("youtube").await;
    let id = conn["id"].as_str().unwrap();
    // Google reports `email` and `profile` as userinfo URLs.
    assert!(
        conn["scopes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s.as_str().unwrap().ends_with("userinfo.email")),
        "{conn}"
    );
    let h = health(&app, id).await;
    assert_eq!(check(&h, "scopes")["status"], "pass", "{h}");
    assert_eq!(h["status"], "healthy", "{h}");
}
