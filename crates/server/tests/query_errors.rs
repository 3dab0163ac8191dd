//! A query string that does not parse is a problem+json naming the parameter on every route that
//! reads one (`extract::ApiQuery`), never axum's plain-text 400; nothing is changed by it.

mod common;

use common::*;
use reqwest::StatusCode;

/// `GET path` (with the API key when `auth`); asserts a 422 problem+json naming `field`.
async fn refused(app: &TestApp, path: &str, auth: bool, field: &str) {
    let mut req = app.http.get(format!("{}{path}", app.api));
    if auth {
        req = req.header("authorization", format!("Bearer {}", app.key));
    }
    let r = req.send().await.unwrap();
    assert_eq!(
        r.headers().get("content-type").map(|v| v.to_str().unwrap()),
        Some("application/problem+json"),
        "{path}"
    );
    let (s, v) = read(r).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{path}: {v}");
    assert_eq!(
        v["type"], "https://switchboard.dev/problems/validation-error",
        "{path}: {v}"
    );
    assert_eq!(v["field"], field, "{path}: {v}");
    assert!(v["detail"].as_str().is_some_and(|d| !d.is_empty()), "{v}");
}

#[tokio::test]
async fn reconnect_guide_names_the_bad_parameter() {
    let app = TestApp::spawn().await;
    // The guide needs no API key without `connection_id`: the query is still checked.
    refused(
        &app,
        "/v1/platforms/twitter/reconnect-guide?connection=abc",
        false,
        "connection",
    )
    .await;
    refused(
        &app,
        "/v1/platforms/twitter/reconnect-guide?connection_id=a&connection_id=b",
        true,
        "connection_id",
    )
    .await;
    // A good query still answers.
    let (s, v) = app.get("/v1/platforms/twitter/reconnect-guide").await;
    assert_eq!(s, StatusCode::OK, "{v}");
}

#[tokio::test]
async fn every_route_with_a_query_names_the_bad_parameter() {
    let app = TestApp::spawn().await;
    for (path, field) in [
        ("/v1/posts?limit=lots", "limit"),
        ("/v1/posts?page=2", "page"),
        ("/v1/connections?colour=blue", "colour"),
        ("/v1/events?limit=-1", "limit"),
        ("/v1/events?type=connection.created", "type"),
        ("/v1/audit?limit=ten", "limit"),
        ("/v1/audit?who=me", "who"),
        ("/v1/sync/history?limit=1.5", "limit"),
        ("/v1/sync/history?platform=x", "platform"),
        ("/v1/webhooks/any-id/deliveries?limit=x", "limit"),
        ("/v1/webhooks/any-id/deliveries?since=today", "since"),
    ] {
        refused(&app, path, true, field).await;
    }
}
