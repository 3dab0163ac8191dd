//! Webhooks and the audit log, over HTTP against the real server and sandbox.

mod common;

use common::TestApp;
use reqwest::header::AUTHORIZATION;
use reqwest::StatusCode;
use serde_json::{json, Value};

/// Creates an endpoint; returns its JSON (with the secret).
async fn add_webhook(app: &TestApp, url: &str, events: Option<&[&str]>) -> Value {
    let mut body = json!({"url": url, "description": "test receiver"});
    if let Some(events) = events {
        body["events"] = json!(events);
    }
    let (s, v) = app.post("/v1/webhooks", body).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v
}

#[tokio::test]
async fn bad_input_is_refused_and_other_workspaces_see_nothing() {
    let app = TestApp::spawn().await;
    for (body, field) in [
        (json!({"url": "not a url"}), "url"),
        (json!({"url": "/relative/hook"}), "url"),
        (json!({"url": "ftp://example.com/hook"}), "url"),
        (json!({"url": "javascript:alert(1)"}), "url"),
        (json!({}), "url"),
        (
            json!({"url": "https://example.com/h", "events": ["connection.nope"]}),
            "events[0]",
        ),
        (
            json!({"url": "https://example.com/h", "events": ["connection.created", "bogus"]}),
            "events[1]",
        ),
        (
            json!({"url": "https://example.com/h", "events": []}),
            "events",
        ),
    ] {
        let (s, v) = app.post("/v1/webhooks", body.clone()).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {v}");
        assert_eq!(v["field"], field, "{body}: {v}");
    }
    let (_, list) = app.get("/v1/webhooks").await;
    assert_eq!(list["data"], json!([]));

    let hook = add_webhook(&app, "https://example.com/hook", None).await;
    let id = hook["id"].as_str().unwrap();

    // Another workspace.
    let (_, other_key) = switchboard_server::create_workspace(
        app.state.store().as_ref(),
        "Other",
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    let as_other = |method: reqwest::Method, path: &str| {
        app.http
            .request(method, format!("{}{path}", app.api))
            .header(AUTHORIZATION, format!("Bearer {other_key}"))
            .send()
    };
    let r = as_other(
        reqwest::Method::GET,
        &format!("/v1/webhooks/{id}/deliveries"),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = as_other(reqwest::Method::DELETE, &format!("/v1/webhooks/{id}"))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = as_other(reqwest::Method::GET, "/v1/webhooks")
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["data"], json!([]));
    let r = as_other(reqwest::Method::GET, "/v1/audit").await.unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["data"], json!([]), "audit is per workspace");

    // Still there for its owner, then gone.
    let (s, _) = app.delete(&format!("/v1/webhooks/{id}")).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = app.delete(&format!("/v1/webhooks/{id}")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = app.get(&format!("/v1/webhooks/{id}/deliveries")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, v) = app.get("/v1/audit?limit=0").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(v["field"], "limit");
}

#[tokio::test]
async fn the_audit_log_says_who_changed_what() {
    let app = TestApp::spawn().await;
    let key = app
        .state
        .store()
        .find_api_key(&switchboard_server::extract::hash_api_key(&app.key))
        .await
        .unwrap()
        .unwrap();
    let api_actor = format!("api_key:{}", key.id);

    let conn = app.connect("twitter").await;
    let id = conn["id"].as_str().unwrap().to_string();
    let (s, v) = app
        .post(&format!("/v1/connections/{id}/refresh"), json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let hook = add_webhook(&app, "https://example.com/hook", None).await;
    let (s, v) = app.delete(&format!("/v1/connections/{id}")).await;
    assert_eq!(s, StatusCode::OK, "{v}");

    let (s, v) = app.get(&format!("/v1/audit?connection_id={id}")).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let entries: Vec<(String, String)> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            assert_eq!(e["connection_id"], id.as_str());
            (
                e["action"].as_str().unwrap().to_string(),
                e["actor"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected = [
        ("connection.deleted", api_actor.as_str()),
        ("connection.refreshed", api_actor.as_str()),
        ("connection.created", "oauth_callback"),
    ];
    assert_eq!(
        entries,
        expected
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect::<Vec<_>>(),
        "newest first"
    );

    // The whole workspace: the webhook too, and no secret anywhere.
    let (_, all) = app.get("/v1/audit").await;
    let all = all["data"].as_array().unwrap().clone();
    assert_eq!(all.len(), 4);
    let created = all
        .iter()
        .find(|e| e["action"] == "webhook.created")
        .unwrap();
    assert_eq!(created["actor"], api_actor.as_str());
    assert_eq!(created["details"]["webhook_id"], hook["id"]);
    assert!(!Value::Array(all.clone())
        .to_string()
        .contains(hook["secret"].as_str().unwrap()));
    let (_, one) = app.get("/v1/audit?limit=1").await;
    assert_eq!(one["data"].as_array().unwrap().len(), 1);
    assert_eq!(one["data"][0]["action"], "connection.deleted");
}
