//! Bulk connect over HTTP: `POST /v1/connect/bulk`, the callbacks of its sessions through the
//! sandbox, and `GET /v1/connect/bulk/{id}`.

mod common;

use chrono::Duration;
use common::{Db, Setup, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn start_bulk(app: &TestApp, platforms: &[&str]) -> Value {
    let (s, v) = app
        .post(
            "/v1/connect/bulk",
            json!({"owner": "user-1", "platforms": platforms}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v
}

fn session<'a>(batch: &'a Value, platform: &str) -> &'a Value {
    batch["sessions"]
        .as_array()
        .and_then(|a| a.iter().find(|s| s["platform"] == platform))
        .unwrap_or_else(|| panic!("no {platform} session in {batch}"))
}

async fn progress(app: &TestApp, id: &str) -> Value {
    let (s, v) = app.get(&format!("/v1/connect/bulk/{id}")).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v
}

/// Three platforms: one allowed, one denied, one left pending; then the pending one expires.
async fn three_platforms_two_done(app: TestApp) {
    let started = start_bulk(&app, &["twitter", "linkedin", "pinterest"]).await;
    let batch_id = started["batch_id"].as_str().expect("batch_id").to_string();
    let platforms: Vec<&str> = started["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["platform"].as_str().unwrap())
        .collect();
    assert_eq!(platforms, ["twitter", "linkedin", "pinterest"]);
    for s in started["sessions"].as_array().unwrap() {
        assert!(s["authorization_url"].as_str().unwrap().starts_with("http"));
        assert!(s["state"].as_str().is_some_and(|v| !v.is_empty()));
        assert!(s["expires_at"].is_string());
    }

    let p = progress(&app, &batch_id).await;
    assert_eq!(p["percent"], 0);
    assert_eq!(p["estimated_seconds_left"], Value::Null);
    assert!(p["expires_at"].is_string());
    assert!(p["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["status"] == "pending"));
    // The links are given again, the very same ones, to a person who lost them...
    for pl in ["twitter", "linkedin", "pinterest"] {
        assert_eq!(
            session(&p, pl)["authorization_url"],
            session(&started, pl)["authorization_url"],
            "{pl}"
        );
    }
    // ...and stored sealed by the vault, never in clear (the link carries the state).
    let (_, stored) = app
        .state
        .store()
        .get_batch(&app.workspace_id, &batch_id)
        .await
        .unwrap()
        .expect("the batch");
    for (s, st) in stored.iter().zip(started["sessions"].as_array().unwrap()) {
        let sealed = s
            .authorization_url_sealed
            .as_deref()
            .expect("a sealed link");
        assert!(sealed.starts_with("sbv1."), "{sealed}");
        assert!(!sealed.contains(st["state"].as_str().unwrap()));
        assert!(!sealed.contains("http"));
    }

    // 30 s later the person allows X...
    app.clock.advance(Duration::seconds(30));
    let cb = app
        .consent(
            session(&started, "twitter")["authorization_url"]
                .as_str()
                .unwrap(),
            "allow",
            None,
        )
        .await;
    let (s, conn) = app.callback(&cb).await;
    assert!(s.is_success(), "{s} {conn}");
    // ...and 30 s after that denies LinkedIn.
    app.clock.advance(Duration::seconds(30));
    let cb = app
        .consent(
            session(&started, "linkedin")["authorization_url"]
                .as_str()
                .unwrap(),
            "deny",
            None,
        )
        .await;
    let (s, denied) = app.callback(&cb).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{denied}");

    let p = progress(&app, &batch_id).await;
    let x = session(&p, "twitter");
    assert_eq!(x["status"], "connected");
    assert_eq!(x["authorization_url"], Value::Null, "a used link is gone");
    assert_eq!(x["connection_id"], conn["id"]);
    assert_eq!(x["diagnosis"], Value::Null);
    let li = session(&p, "linkedin");
    assert_eq!(li["status"], "failed");
    assert_eq!(li["authorization_url"], Value::Null);
    assert_eq!(li["connection_id"], Value::Null);
    assert_eq!(li["reason"], "access_denied");
    assert_eq!(li["diagnosis"]["category"], "access_denied");
    assert_eq!(li["diagnosis"]["platform"], "linkedin");
    assert!(li["diagnosis"]["fix"]
        .as_array()
        .is_some_and(|f| !f.is_empty()));
    assert_eq!(session(&p, "pinterest")["status"], "pending");
    assert_eq!(
        session(&p, "pinterest")["authorization_url"],
        session(&started, "pinterest")["authorization_url"],
        "the unused link is still offered"
    );
    // The used links are not kept, even sealed.
    let (_, stored) = app
        .state
        .store()
        .get_batch(&app.workspace_id, &batch_id)
        .await
        .unwrap()
        .unwrap();
    let kept: Vec<bool> = stored
        .iter()
        .map(|s| s.authorization_url_sealed.is_some())
        .collect();
    assert_eq!(kept, [false, false, true]);
    assert_eq!(
        (p["done"].clone(), p["total"].clone()),
        (json!(2), json!(3))
    );
    let percent = p["percent"].as_i64().unwrap();
    assert!(percent == 66 || percent == 67, "{p}");
    // Finished after 30 s and 60 s: 45 s on average for the one pending (the manual clock also
    // moves with real time, so allow the rounding up of a few milliseconds).
    let left = p["estimated_seconds_left"].as_i64().expect("an estimate");
    assert!((45..=46).contains(&left), "{p}");

    // A replayed callback does not change the recorded outcome.
    let (s, _) = app.callback(&cb).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(
        session(&progress(&app, &batch_id).await, "linkedin")["reason"],
        "access_denied"
    );

    // Past the state expiry the pending one is expired, and its link is no longer offered.
    app.clock.advance(Duration::seconds(600));
    let p = progress(&app, &batch_id).await;
    let pin = session(&p, "pinterest");
    assert_eq!(pin["status"], "expired");
    assert_eq!(pin["authorization_url"], Value::Null);
    assert_eq!(pin["reason"], "expired");
    assert!(pin["diagnosis"]["cause"]
        .as_str()
        .is_some_and(|c| c.contains("expired")));
    assert_eq!(p["percent"], 100);
    assert_eq!(p["estimated_seconds_left"], 0);
    // The finished ones keep their outcome.
    assert_eq!(session(&p, "twitter")["status"], "connected");
    assert_eq!(session(&p, "linkedin")["status"], "failed");
}

#[tokio::test]
async fn three_platforms_two_done_sqlite() {
    three_platforms_two_done(TestApp::spawn().await).await;
}

#[tokio::test]
async fn three_platforms_two_done_postgres() {
    three_platforms_two_done(
        TestApp::spawn_with(Setup {
            db: Db::Postgres,
            ..Setup::default()
        })
        .await,
    )
    .await;
}

#[tokio::test]
async fn unknown_repeated_or_no_platform_is_422_naming_the_entry() {
    let app = TestApp::spawn().await;
    let (s, v) = app
        .post(
            "/v1/connect/bulk",
            json!({"owner": "user-1", "platforms": ["twitter", "myspace", "linkedin"]}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["field"], "platforms[1]");
    assert!(v["detail"].as_str().unwrap().contains("myspace"));
    assert!(v["known_platforms"]
        .as_array()
        .is_some_and(|k| k.iter().any(|p| p == "twitter")));

    let (s, v) = app
        .post(
            "/v1/connect/bulk",
            json!({"owner": "user-1", "platforms": ["twitter", "twitter"]}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["field"], "platforms[1]");

    let (s, v) = app
        .post(
            "/v1/connect/bulk",
            json!({"owner": "user-1", "platforms": []}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["field"], "platforms");

    // The single-connect checks apply too.
    let (s, v) = app
        .post(
            "/v1/connect/bulk",
            json!({"owner": " ", "platforms": ["twitter"]}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["field"], "owner");
    let (s, v) = app
        .post(
            "/v1/connect/bulk",
            json!({"owner": "u", "platforms": ["twitter"], "return_to": "https://evil.example/"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["field"], "return_to");
}

#[tokio::test]
async fn unconfigured_platform_is_422() {
    // A custom provider without credentials is not configured (built-ins fall back to the
    // sandbox's clients).
    let app = TestApp::spawn_with(Setup {
        config: Box::new(|c| {
            c.sandbox_url = None;
        }),
        ..Setup::default()
    })
    .await;
    let (s, v) = app
        .post(
            "/v1/connect/bulk",
            json!({"owner": "user-1", "platforms": ["twitter"]}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["field"], "platforms[0]");
    assert!(v["detail"].as_str().unwrap().contains("not configured"));
}

#[tokio::test]
async fn another_workspace_batch_is_404() {
    let app = TestApp::spawn().await;
    let started = start_bulk(&app, &["twitter", "youtube"]).await;
    let id = started["batch_id"].as_str().unwrap();
    let (_, other_key) = switchboard_server::create_workspace(
        app.state.store().as_ref(),
        "Other",
        chrono::Utc::now(),
    )
    .await
    .expect("workspace");
    let r = app
        .http
        .get(format!("{}/v1/connect/bulk/{id}", app.api))
        .bearer_auth(&other_key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let body = r.text().await.unwrap();
    assert!(
        !body.contains("authorization_url") && !body.contains("state="),
        "no link leaks to another workspace: {body}"
    );
    let (s, _) = app.get("/v1/connect/bulk/no-such-batch").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // The owner still sees it.
    assert_eq!(progress(&app, id).await["total"], 2);
}

#[tokio::test]
async fn single_connect_is_unchanged_and_not_tracked() {
    let app = TestApp::spawn().await;
    let started = start_bulk(&app, &["twitter"]).await;
    // A single connect of the same platform, completed, does not touch the batch.
    let conn = app.connect("twitter").await;
    assert_eq!(conn["platform"], "twitter");
    let p = progress(&app, started["batch_id"].as_str().unwrap()).await;
    assert_eq!(session(&p, "twitter")["status"], "pending");
    assert_eq!(p["percent"], 0);
}
