//! `GET /v1/platforms/{platform}/prerequisites` and the `ready` / `missing` of
//! `GET /v1/platforms` (quick connect and discovery).

mod common;

use chrono::Duration;
use common::*;
use reqwest::StatusCode;
use serde_json::Value;

fn check<'a>(v: &'a Value, name: &str) -> &'a Value {
    v["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["name"] == name))
        .unwrap_or_else(|| panic!("no check {name} in {v}"))
}

#[tokio::test]
async fn a_sandboxed_platform_passes_every_prerequisite() {
    let app = TestApp::spawn().await;
    let (s, v) = app.get("/v1/platforms/linkedin/prerequisites").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["ready"], true, "{v}");
    let uri = format!("{}/v1/oauth/callback/linkedin", app.api);
    assert_eq!(v["redirect_uri"], uri.as_str());
    assert!(check(&v, "redirect_uri")["detail"]
        .as_str()
        .unwrap()
        .ends_with(&format!(": {uri}")));
    for name in [
        "client_id",
        "client_secret",
        "redirect_uri",
        "public_url_https",
        "encryption_key",
        "database",
        "clock",
    ] {
        assert_eq!(check(&v, name)["status"], "pass", "{name}: {v}");
    }
    // The clock was compared with the sandbox's Date header.
    assert!(check(&v, "clock")["detail"]
        .as_str()
        .unwrap()
        .contains("Date header"));

    let (s, v) = app.get("/v1/platforms/myspace/prerequisites").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(v["known_platforms"]
        .as_array()
        .is_some_and(|k| k.len() >= 7));
}

#[tokio::test]
async fn a_clock_ten_minutes_off_the_platform_fails() {
    let app = TestApp::spawn().await;
    // The server's clock moves; the sandbox's Date header is the machine's.
    app.clock.advance(Duration::minutes(10));
    let (_, v) = app.get("/v1/platforms/twitter/prerequisites").await;
    let c = check(&v, "clock");
    assert_eq!(c["status"], "fail", "{v}");
    assert!(c["fix"].as_str().is_some_and(|f| f.contains("NTP")));
    assert_eq!(v["ready"], false);
}

#[tokio::test]
async fn platforms_without_credentials_are_not_ready_and_say_what_is_missing() {
    let app = TestApp::spawn_with(Setup {
        config: Box::new(|c| {
            c.sandbox_url = None;
            let p = c.platforms.entry("twitter".into()).or_default();
            p.client_id = Some("x-id".into());
            p.client_secret = Some("x-secret".into());
            let p = c.platforms.entry("pinterest".into()).or_default();
            p.client_id = Some("p-id".into());
        }),
        ..Setup::default()
    })
    .await;
    let (s, v) = app.get("/v1/platforms").await;
    assert_eq!(s, StatusCode::OK);
    let by_id = |id: &str| -> Value {
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == id)
            .cloned()
            .unwrap()
    };
    let x = by_id("twitter");
    assert_eq!(x["ready"], true, "{x}");
    assert_eq!(x["configured"], true);
    assert_eq!(x["missing"].as_array().map(Vec::len), Some(0));
    for field in [
        "display_name",
        "brand_color",
        "difficulty",
        "setup_minutes",
        "features",
        "requirements",
    ] {
        assert!(!x[field].is_null(), "{field}");
    }
    let li = by_id("linkedin");
    assert_eq!(li["ready"], false);
    let missing: Vec<&str> = li["missing"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["name"].as_str())
        .collect();
    assert_eq!(missing, vec!["client_id", "client_secret"], "{li}");
    assert!(li["missing"][0]["fix"]
        .as_str()
        .is_some_and(|f| f.contains("SWITCHBOARD_LINKEDIN_CLIENT_ID")));
    let pin = by_id("pinterest");
    assert_eq!(pin["ready"], false);
    assert_eq!(pin["missing"][0]["name"], "client_secret", "{pin}");

    let (_, v) = app.get("/v1/platforms/linkedin/prerequisites").await;
    assert_eq!(check(&v, "client_id")["status"], "fail");
    assert_eq!(v["ready"], false);
}

#[tokio::test]
async fn a_public_plain_http_url_blocks_every_platform() {
    let app = TestApp::spawn_with(Setup {
        config: Box::new(|c| c.public_url = "http://switchboard.example.com".into()),
        ..Setup::default()
    })
    .await;
    let (_, v) = app.get("/v1/platforms").await;
    for p in v["data"].as_array().unwrap() {
        assert_eq!(p["ready"], false, "{p}");
        assert_eq!(p["missing"][0]["name"], "public_url_https", "{p}");
    }
    let (_, v) = app.get("/v1/platforms/tiktok/prerequisites").await;
    assert_eq!(check(&v, "public_url_https")["status"], "fail");
    assert_eq!(
        v["redirect_uri"],
        "http://switchboard.example.com/v1/oauth/callback/tiktok"
    );
}
