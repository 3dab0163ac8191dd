//! Account validation over HTTP (`POST /v1/connections/{id}/validate`) against sandbox accounts
//! set up to fail each check: a personal Instagram account, a Google account without a YouTube
//! channel, a Pinterest account without boards, a Facebook account without Pages, a private
//! TikTok account, a connection missing a publishing scope, a token the platform refuses.

mod common;

use common::TestApp;
use reqwest::header::LOCATION;
use reqwest::StatusCode;
use serde_json::{json, Value};

const YT_READONLY: &str = "https://www.googleapis.com/auth/youtube.readonly";

async fn validate(app: &TestApp, conn: &Value) -> Value {
    let id = conn["id"].as_str().expect("connection id");
    let (s, v) = app
        .post(&format!("/v1/connections/{id}/validate"), json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v
}

fn check<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["name"] == name))
        .unwrap_or_else(|| panic!("no {name} check in {report}"))
}

/// Connects with extra scopes and, optionally, only some scopes granted at the consent page.
async fn connect_with(
    app: &TestApp,
    platform: &str,
    account: &str,
    extra_scopes: &[&str],
    granted: Option<&str>,
) -> Value {
    let (s, start) = app
        .post(
            &format!("/v1/connect/{platform}"),
            json!({"owner": "user-1", "scopes": extra_scopes}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{start}");
    let mut req = app
        .http
        .get(start["authorization_url"].as_str().unwrap())
        .header("X-Sandbox-Consent", "allow")
        .header("X-Sandbox-Account", account);
    if let Some(g) = granted {
        req = req.header("X-Sandbox-Scopes", g);
    }
    let r = req.send().await.unwrap();
    assert!(r.status().is_redirection(), "{}", r.status());
    let loc = r.headers()[LOCATION].to_str().unwrap().to_string();
    let (s, conn) = app.callback(loc.split('#').next().unwrap()).await;
    assert!(s.is_success(), "{s} {conn}");
    conn
}

#[tokio::test]
async fn instagram_personal_account_fails_with_the_fix_and_status_is_kept() {
    let app = TestApp::spawn().await;
    let personal = app.connect_as("instagram", Some("ig-personal")).await;
    let r = validate(&app, &personal).await;
    assert_eq!(r["verdict"], "fail", "{r}");
    assert_eq!(r["connection_id"], personal["id"]);
    let c = check(&r, "account_eligible");
    assert_eq!(c["status"], "fail");
    assert!(c["detail"].as_str().unwrap().contains("PERSONAL"), "{c}");
    assert!(
        c["fix"]
            .as_str()
            .unwrap()
            .contains("Switch to a professional account in the Instagram app"),
        "{c}"
    );
    assert_eq!(c["diagnosis"]["category"], "account_not_eligible");
    assert_eq!(c["diagnosis"]["platform"], "instagram");
    assert_eq!(check(&r, "profile")["status"], "pass");
    assert_eq!(check(&r, "access_token")["status"], "pass");
    assert_eq!(check(&r, "scopes")["status"], "pass");
    // Instagram renews by exchange: no refresh token is fine.
    assert_eq!(check(&r, "refresh_token")["status"], "pass");

    // The grant is fine: the status is not touched, the report is stored.
    let (_, after) = app
        .get(&format!(
            "/v1/connections/{}",
            personal["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(after["status"], personal["status"]);
    assert_eq!(after["last_error"], Value::Null);
    let stored = app
        .state
        .store()
        .last_validation(personal["id"].as_str().unwrap())
        .await
        .unwrap()
        .expect("stored report");
    assert_eq!(stored.verdict, "fail");
    assert_eq!(stored.report["checks"], r["checks"]);

    for account in ["ig-business", "ig-creator"] {
        let pro = app.connect_as("instagram", Some(account)).await;
        let r = validate(&app, &pro).await;
        assert_eq!(check(&r, "account_eligible")["status"], "pass", "{r}");
        assert_eq!(r["verdict"], "pass", "{r}");
    }
}

#[tokio::test]
async fn youtube_without_channel_fails_and_unticked_read_scope_warns() {
    let app = TestApp::spawn().await;
    // The person unticks youtube.readonly at Google's consent screen: the channel cannot be
    // read, a warning naming the scope. (First: Google's incremental authorization keeps the
    // scopes granted earlier, so later connects of this account would bring it back.)
    let upload_only = connect_with(
        &app,
        "youtube",
        "yt-nochannel",
        &[],
        Some("openid email profile https://www.googleapis.com/auth/youtube.upload"),
    )
    .await;
    let r = validate(&app, &upload_only).await;
    let c = check(&r, "account_eligible");
    assert_eq!(c["status"], "warn", "{r}");
    assert!(c["fix"].as_str().unwrap().contains(YT_READONLY));
    assert_eq!(r["verdict"], "warn");
    let none = app.connect_as("youtube", Some("yt-nochannel")).await;
    let r = validate(&app, &none).await;
    let c = check(&r, "account_eligible");
    assert_eq!(c["status"], "fail", "{r}");
    assert_eq!(c["diagnosis"]["category"], "account_not_eligible");
    assert!(c["fix"]
        .as_str()
        .unwrap()
        .contains("Create a YouTube channel"));
    assert_eq!(r["verdict"], "fail");

    let ada = app.connect_as("youtube", Some("yt-ada")).await;
    let r = validate(&app, &ada).await;
    let c = check(&r, "account_eligible");
    assert_eq!(c["status"], "pass", "{r}");
    assert!(c["detail"]
        .as_str()
        .unwrap()
        .contains("Ada Lovelace Sandbox"));
    assert_eq!(r["verdict"], "pass", "{r}");
}

#[tokio::test]
async fn pinterest_without_boards_fails() {
    let app = TestApp::spawn().await;
    let none = app.connect_as("pinterest", Some("pin-noboards")).await;
    let r = validate(&app, &none).await;
    let c = check(&r, "account_eligible");
    assert_eq!(c["status"], "fail", "{r}");
    assert!(c["fix"].as_str().unwrap().contains("board"));
    assert_eq!(c["diagnosis"]["category"], "account_not_eligible");
    let ada = app.connect_as("pinterest", Some("pin-ada")).await;
    let r = validate(&app, &ada).await;
    assert_eq!(check(&r, "account_eligible")["status"], "pass", "{r}");
    assert_eq!(check(&r, "refresh_token")["status"], "pass", "{r}");
}

#[tokio::test]
async fn facebook_without_pages_fails() {
    let app = TestApp::spawn().await;
    let none = app.connect_as("facebook", Some("fb-nopages")).await;
    let r = validate(&app, &none).await;
    let c = check(&r, "account_eligible");
    assert_eq!(c["status"], "fail", "{r}");
    assert_eq!(c["diagnosis"]["category"], "account_not_eligible");
    let ada = app.connect_as("facebook", Some("fb-ada")).await;
    let r = validate(&app, &ada).await;
    let c = check(&r, "account_eligible");
    assert_eq!(c["status"], "pass", "{r}");
    assert!(c["detail"].as_str().unwrap().contains("2 Page"));
    // Facebook issues no refresh token: the person must reconnect in ~60 days.
    assert_eq!(check(&r, "refresh_token")["status"], "warn", "{r}");
}

#[tokio::test]
async fn tiktok_private_account_is_a_warning() {
    let app = TestApp::spawn().await;
    let private = app.connect_as("tiktok", Some("tt-private")).await;
    let r = validate(&app, &private).await;
    let c = check(&r, "account_eligible");
    assert_eq!(c["status"], "warn", "{r}");
    assert!(c["detail"].as_str().unwrap().contains("SELF_ONLY"));
    assert_eq!(r["verdict"], "warn");
    let public = app.connect_as("tiktok", Some("tt-ada")).await;
    let r = validate(&app, &public).await;
    assert_eq!(check(&r, "account_eligible")["status"], "pass", "{r}");
    assert_eq!(r["verdict"], "pass", "{r}");
}

#[tokio::test]
async fn x_and_linkedin_check_the_profile() {
    let app = TestApp::spawn().await;
    for platform in ["twitter", "linkedin"] {
        let conn = app.connect(platform).await;
        let r = validate(&app, &conn).await;
        assert_eq!(check(&r, "profile")["status"], "pass", "{r}");
        assert!(
            r["checks"]
                .as_array()
                .unwrap()
                .iter()
                .all(|c| c["name"] != "account_eligible"),
            "{r}"
        );
        assert_eq!(check(&r, "scopes")["status"], "pass", "{r}");
    }
}

#[tokio::test]
async fn missing_publish_scope_fails_with_insufficient_scope() {
    let app = TestApp::spawn().await;
    // The person unticks tweet.write at the consent page.
    let conn = connect_with(
        &app,
        "twitter",
        "x-ada",
        &[],
        Some("tweet.read users.read offline.access media.write"),
    )
    .await;
    let r = validate(&app, &conn).await;
    let c = check(&r, "scopes");
    assert_eq!(c["status"], "fail", "{r}");
    assert!(c["detail"].as_str().unwrap().contains("tweet.write"));
    assert_eq!(c["diagnosis"]["category"], "insufficient_scope");
    assert_eq!(r["verdict"], "fail");
}

#[tokio::test]
async fn refused_token_fails_the_profile_with_the_platform_diagnosis() {
    let app = TestApp::spawn().await;
    let conn = app.connect("twitter").await;
    // X's documented 401 problem body.
    app.fault(json!({
        "platform": "twitter", "endpoint": "profile", "status": 401, "times": 1,
        "body": "{\"title\":\"Unauthorized\",\"type\":\"about:blank\",\"status\":401,\"detail\":\"Unauthorized\"}",
    }))
    .await;
    let r = validate(&app, &conn).await;
    let c = check(&r, "profile");
    assert_eq!(c["status"], "fail", "{r}");
    assert_eq!(c["diagnosis"]["http_status"], 401);
    assert_eq!(c["diagnosis"]["platform"], "twitter");
    assert!(c["fix"].as_str().is_some_and(|f| !f.is_empty()));
    assert_eq!(r["verdict"], "fail");
}

#[tokio::test]
async fn expiring_refresh_token_warns_and_expired_access_token_fails() {
    let app = TestApp::spawn().await;
    // TikTok refresh tokens live 180 days counted from the first grant (PLATFORMS.md §5).
    let tt = app.connect_as("tiktok", Some("tt-ada")).await;
    let r = validate(&app, &tt).await;
    assert_eq!(check(&r, "refresh_token")["status"], "pass", "{r}");
    // LinkedIn outside the partner programme issues none: a warning, reconnect in 60 days.
    let li = app.connect("linkedin").await;
    let r = validate(&app, &li).await;
    let c = check(&r, "refresh_token");
    assert_eq!(c["status"], "warn", "{r}");
    assert!(c["fix"].as_str().unwrap().contains("Reconnect"));
    // 179.5 days on: the access token has long expired and is renewed first; the refresh token
    // has 12 hours left, inside the one-day warning window.
    app.clock
        .advance(chrono::Duration::days(179) + chrono::Duration::hours(12));
    let r = validate(&app, &tt).await;
    assert_eq!(check(&r, "access_token")["status"], "pass", "{r}");
    assert_eq!(check(&r, "refresh_token")["status"], "warn", "{r}");
    assert_eq!(r["verdict"], "warn", "{r}");
    // Facebook tokens cannot be renewed: 61 days after connecting the access token is expired.
    let fb = app.connect_as("facebook", Some("fb-ada")).await;
    app.clock.advance(chrono::Duration::days(61));
    let r = validate(&app, &fb).await;
    let c = check(&r, "access_token");
    assert_eq!(c["status"], "fail", "{r}");
    assert_eq!(c["diagnosis"]["category"], "token_expired");
    assert_eq!(check(&r, "profile")["status"], "fail", "{r}");
    assert_eq!(r["verdict"], "fail");
}

#[tokio::test]
async fn another_workspace_connection_is_404() {
    let app = TestApp::spawn().await;
    let conn = app.connect("twitter").await;
    let (_, other_key) = switchboard_server::create_workspace(
        app.state.store().as_ref(),
        "Other",
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    let r = app
        .http
        .post(format!(
            "{}/v1/connections/{}/validate",
            app.api,
            conn["id"].as_str().unwrap()
        ))
        .bearer_auth(&other_key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}
