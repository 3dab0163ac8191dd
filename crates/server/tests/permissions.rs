//! The permission inspector (`GET /v1/connections/{id}/permissions`) and the reconnect guide
//! (`GET /v1/platforms/{platform}/reconnect-guide`), on sandbox accounts whose person granted
//! fewer scopes than asked.

mod common;

use common::*;
use reqwest::header::{ACCEPT, LOCATION};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// Connects `platform` with the person granting only `granted` (space-separated) at the
/// sandbox's consent step.
async fn connect_granting(app: &TestApp, platform: &str, body: Value, granted: &str) -> Value {
    let (s, start) = app.post(&format!("/v1/connect/{platform}"), body).await;
    assert_eq!(s, StatusCode::CREATED, "{start}");
    let r = app
        .http
        .get(start["authorization_url"].as_str().unwrap())
        .header("X-Sandbox-Consent", "allow")
        .header("X-Sandbox-Scopes", granted)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_redirection(), "{}", r.status());
    let loc = r.headers()[LOCATION].to_str().unwrap().to_string();
    let r = app
        .http
        .get(loc.split('#').next().unwrap())
        .header(ACCEPT, "application/json")
        .send()
        .await
        .unwrap();
    let (s, v) = read(r).await;
    assert!(s.is_success(), "{s} {v}");
    v
}

const UPLOAD: &str = "https://www.googleapis.com/auth/youtube.upload";
const READONLY: &str = "https://www.googleapis.com/auth/youtube.readonly";

#[tokio::test]
async fn a_youtube_connection_without_upload_lists_what_is_missing_and_how_to_get_it() {
    let app = TestApp::spawn().await;
    let conn = connect_granting(
        &app,
        "youtube",
        json!({"owner": "user-7"}),
        "openid email profile",
    )
    .await;
    let id = conn["id"].as_str().unwrap();
    let (s, p) = app.get(&format!("/v1/connections/{id}/permissions")).await;
    assert_eq!(s, StatusCode::OK, "{p}");
    // Google reports email and profile under their full names; they count as granted.
    let raw: Vec<&str> = p["granted_raw"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        raw.contains(&"https://www.googleapis.com/auth/userinfo.email"),
        "the sandbox reports Google's full names: {raw:?}"
    );
    assert_eq!(p["granted"], json!(["openid", "email", "profile"]));
    let caps = &p["capabilities"];
    assert_eq!(caps["profile"]["available"], true, "{p}");
    assert_eq!(caps["profile"]["missing"], json!([]));
    assert_eq!(caps["publish_media"]["available"], false);
    assert_eq!(caps["publish_media"]["missing"], json!([UPLOAD]));
    assert_eq!(caps["analytics"]["missing"], json!([READONLY]));
    assert_eq!(
        caps["publish_text"]["supported"], false,
        "no text posts on YouTube"
    );
    assert_eq!(caps["publish_text"]["available"], false);
    assert_eq!(p["missing"], json!([UPLOAD, READONLY]));
    assert_eq!(
        p["reconnect"],
        json!({"method": "POST", "path": "/v1/connect/youtube",
               "body": {"owner": "user-7", "scopes": [UPLOAD, READONLY]}})
    );

    // The reconnect guide explains it for this connection.
    let (s, g) = app
        .get(&format!(
            "/v1/platforms/youtube/reconnect-guide?connection_id={id}"
        ))
        .await;
    assert_eq!(s, StatusCode::OK, "{g}");
    assert_eq!(g["connection"]["needs_reconnect"], true, "{g}");
    assert!(g["connection"]["reason"]
        .as_str()
        .is_some_and(|r| r.contains(UPLOAD)));
    assert_eq!(g["start"], p["reconnect"]);

    // Following the reconnect call and granting everything fixes it, on the same connection.
    let again = connect_granting(
        &app,
        "youtube",
        g["start"]["body"].clone(),
        &format!("openid email profile {UPLOAD} {READONLY}"),
    )
    .await;
    assert_eq!(again["id"], conn["id"]);
    let (_, p) = app.get(&format!("/v1/connections/{id}/permissions")).await;
    assert_eq!(p["missing"], json!([]), "{p}");
    assert_eq!(p["capabilities"]["publish_media"]["available"], true);
    assert_eq!(p["reconnect"], Value::Null);
    let (_, g) = app
        .get(&format!(
            "/v1/platforms/youtube/reconnect-guide?connection_id={id}"
        ))
        .await;
    assert_eq!(g["connection"]["needs_reconnect"], false, "{g}");
}

#[tokio::test]
async fn a_linkedin_member_who_refused_posting_can_still_be_identified() {
    let app = TestApp::spawn().await;
    let conn = connect_granting(
        &app,
        "linkedin",
        json!({"owner": "user-1"}),
        "openid profile email",
    )
    .await;
    let id = conn["id"].as_str().unwrap();
    let (_, p) = app.get(&format!("/v1/connections/{id}/permissions")).await;
    assert_eq!(p["capabilities"]["profile"]["available"], true, "{p}");
    for cap in ["publish_text", "publish_media"] {
        assert_eq!(p["capabilities"][cap]["available"], false, "{cap}: {p}");
        assert_eq!(
            p["capabilities"][cap]["missing"],
            json!(["w_member_social"])
        );
    }
    assert_eq!(p["reconnect"]["body"]["scopes"], json!(["w_member_social"]));
}

#[tokio::test]
async fn permissions_of_an_unknown_connection_are_404() {
    let app = TestApp::spawn().await;
    let (s, v) = app
        .get("/v1/connections/00000000-0000-0000-0000-000000000000/permissions")
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    assert_eq!(
        v["type"], "https://switchboard.dev/problems/not-found",
        "{v}"
    );
}

#[tokio::test]
async fn the_reconnect_guide_gives_steps_and_why_each_permission_is_asked() {
    let app = TestApp::spawn().await;
    // Without a connection, no API key is needed.
    let r = app
        .http
        .get(format!("{}/v1/platforms/twitter/reconnect-guide", app.api))
        .send()
        .await
        .unwrap();
    let (s, g) = read(r).await;
    assert_eq!(s, StatusCode::OK, "{g}");
    assert!(g["steps"].as_array().is_some_and(|s| s.len() >= 3), "{g}");
    let perms = g["permissions"].as_array().unwrap();
    let offline = perms
        .iter()
        .find(|p| p["scope"] == "offline.access")
        .expect("offline.access is asked");
    assert!(offline["why"].as_str().unwrap().contains("refresh token"));
    let write = perms.iter().find(|p| p["scope"] == "tweet.write").unwrap();
    assert_eq!(write["capabilities"], json!(["publish_text"]));
    assert!(g.get("connection").is_none());

    let (s, v) = app.get("/v1/platforms/myspace/reconnect-guide").await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
}

#[tokio::test]
async fn the_reconnect_guide_explains_a_revoked_grant_from_its_diagnosis() {
    let app = TestApp::spawn().await;
    let conn = app.connect("twitter").await;
    let id = conn["id"].as_str().unwrap();
    // The documented X answer to a used or revoked refresh token.
    app.fault(json!({"platform": "twitter", "endpoint": "refresh", "status": 400,
        "body": "{\"error\":\"invalid_grant\",\"error_description\":\"Value passed for the token was invalid.\"}"}))
        .await;
    let (s, v) = app
        .post(&format!("/v1/connections/{id}/refresh"), json!({}))
        .await;
    assert!(!s.is_success(), "{v}");
    let (_, g) = app
        .get(&format!(
            "/v1/platforms/twitter/reconnect-guide?connection_id={id}"
        ))
        .await;
    let c = &g["connection"];
    assert_eq!(c["status"], "needs_reauth", "{g}");
    assert_eq!(c["needs_reconnect"], true);
    assert_eq!(c["diagnosis"]["category"], "token_revoked", "{g}");
    assert_eq!(c["reason"], c["diagnosis"]["cause"]);
    assert_eq!(g["start"]["body"]["owner"], "user-1");

    // A connection of another platform is refused, naming the parameter.
    let (s, v) = app
        .get(&format!(
            "/v1/platforms/linkedin/reconnect-guide?connection_id={id}"
        ))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["field"], "connection_id");
}

#[tokio::test]
async fn a_custom_provider_gets_generic_steps_naming_it() {
    let app = TestApp::spawn_with(Setup {
        config: Box::new(|c| {
            let p: switchboard_server::config::ProviderConfig = toml::from_str(
                r#"display_name = "Acme ID"
authorization_url = "https://id.acme.example/authorize"
token_url = "https://id.acme.example/token"
client_id = "acme-client"
client_secret = "acme-secret"
scopes = ["openid", "offline_access"]"#,
            )
            .expect("provider config");
            c.providers.insert("acme".into(), p);
        }),
        ..Setup::default()
    })
    .await;
    let (s, g) = app.get("/v1/platforms/acme/reconnect-guide").await;
    assert_eq!(s, StatusCode::OK, "{g}");
    assert!(g["steps"][0].as_str().unwrap().contains("Acme ID"), "{g}");
    let scopes: Vec<&str> = g["permissions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["scope"].as_str())
        .collect();
    assert_eq!(scopes, vec!["openid", "offline_access"]);
}
