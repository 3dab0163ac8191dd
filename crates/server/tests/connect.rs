//! The connect flow over HTTP against the sandbox: every platform, reconnect, disconnect with
//! revocation, the token endpoint, and every bad input the flow must refuse without storing.

mod common;

use common::{Db, Setup, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};
use switchboard_core::catalog::BUILTIN_IDS;
use switchboard_store::TokenUpdate;

fn problem_type(v: &Value) -> &str {
    v["type"]
        .as_str()
        .and_then(|t| t.rsplit('/').next())
        .unwrap_or_default()
}

#[tokio::test]
async fn connects_every_platform_and_serves_its_token() {
    let app = TestApp::spawn().await;
    for platform in BUILTIN_IDS {
        let conn = app.connect(platform).await;
        assert_eq!(conn["platform"], platform);
        assert_eq!(conn["created"], true, "{conn}");
        // Facebook authorizes a person; the Pages to use are chosen next (tests/facebook_pages.rs).
        let expected = if platform == "facebook" {
            "pending_selection"
        } else {
            "healthy"
        };
        assert_eq!(conn["status"], expected, "{platform}: {conn}");
        assert!(
            conn["account"]["id"]
                .as_str()
                .is_some_and(|s| !s.is_empty()),
            "{conn}"
        );
        assert!(
            conn.get("access_token").is_none(),
            "connection JSON must not carry tokens"
        );
        let id = conn["id"].as_str().unwrap();

        let (s, tok) = app.get(&format!("/v1/connections/{id}/token")).await;
        assert_eq!(s, StatusCode::OK, "{tok}");
        assert_eq!(tok["token_type"], "Bearer");
        let access = tok["access_token"].as_str().unwrap();
        let intro = app.introspect(access).await;
        assert_eq!(
            intro["active"], true,
            "{platform}: the served token is live at the platform"
        );
        assert_eq!(intro["platform"], platform);

        // Sealed at rest: the stored row holds no plaintext token.
        let row = app
            .state
            .store()
            .get_connection_by_id(id)
            .await
            .unwrap()
            .unwrap();
        assert!(!row.access_token_sealed.contains(access));
        assert!(row.access_token_sealed.starts_with("sbv1.ktest."));
    }
    let stats = app.sandbox_stats().await;
    for platform in BUILTIN_IDS {
        assert_eq!(
            stats["platforms"][platform]["token_exchanges"], 1,
            "{platform}: {stats}"
        );
    }
    // Facebook and Instagram exchange the short-lived token for a long-lived one at connect.
    assert_eq!(stats["platforms"]["facebook"]["long_lived_exchanges"], 1);
    assert_eq!(stats["platforms"]["instagram"]["long_lived_exchanges"], 1);
    assert_eq!(app.connection_count().await, 7);

    let (s, v) = app.get("/v1/events").await;
    assert_eq!(s, StatusCode::OK);
    let created = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "connection.created")
        .count();
    assert_eq!(created, 7);
}

#[tokio::test]
async fn platform_quirks_reach_the_wire() {
    let app = TestApp::spawn().await;
    let tiktok = app.start("tiktok").await;
    let url = url::Url::parse(tiktok["authorization_url"].as_str().unwrap()).unwrap();
    let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert!(
        q.contains_key("client_key") && !q.contains_key("client_id"),
        "{url}"
    );
    assert_eq!(q["code_challenge_method"], "S256");
    assert!(
        q["scope"].contains(','),
        "TikTok scopes are comma-separated: {}",
        q["scope"]
    );

    let yt = app.start("youtube").await;
    let url = url::Url::parse(yt["authorization_url"].as_str().unwrap()).unwrap();
    let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(q["access_type"], "offline");
    assert_eq!(q["prompt"], "consent");

    let li = app.start("linkedin").await;
    let url = url::Url::parse(li["authorization_url"].as_str().unwrap()).unwrap();
    assert!(
        !url.query_pairs().any(|(k, _)| k == "code_challenge"),
        "LinkedIn takes no PKCE"
    );

    let x = app.start("twitter").await;
    assert!(
        x["state"].as_str().unwrap().len() >= 43,
        "state carries at least 256 bits"
    );
    assert!(x["authorization_url"]
        .as_str()
        .unwrap()
        .contains("offline.access"));
}

#[tokio::test]
async fn reconnecting_the_same_account_updates_the_same_connection() {
    let app = TestApp::spawn().await;
    let first = app.connect("youtube").await;
    let second = app.connect("youtube").await;
    assert_eq!(first["id"], second["id"]);
    assert_eq!(second["created"], false);
    assert_eq!(second["has_refresh_token"], true);
    assert_eq!(app.connection_count().await, 1);
    // Another account on the same platform is another connection.
    let other = app.connect_as("twitter", Some("x-grace")).await;
    let mine = app.connect_as("twitter", Some("x-ada")).await;
    assert_ne!(other["id"], mine["id"]);
    let (_, ev) = app.get("/v1/events").await;
    assert!(ev["data"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["type"] == "connection.reconnected"));
}

#[tokio::test]
async fn disconnect_revokes_at_the_platform_then_deletes() {
    let app = TestApp::spawn().await;
    let conn = app.connect("twitter").await;
    let id = conn["id"].as_str().unwrap();
    let (_, tok) = app.get(&format!("/v1/connections/{id}/token")).await;
    let access = tok["access_token"].as_str().unwrap().to_string();

    let (s, v) = app.delete(&format!("/v1/connections/{id}")).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["revocation"]["status"], "revoked", "{v}");
    assert_eq!(app.introspect(&access).await["active"], false);
    let (s, _) = app.get(&format!("/v1/connections/{id}")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(
        app.sandbox_stats().await["platforms"]["twitter"]["revocations"]
            .as_u64()
            .unwrap()
            >= 1
    );

    // A platform without revocation says so; the connection is deleted all the same.
    let ig = app.connect("instagram").await;
    let (s, v) = app
        .delete(&format!("/v1/connections/{}", ig["id"].as_str().unwrap()))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["revocation"]["status"], "not_supported");

    // A failed revocation is reported, and the deletion still happens.
    let yt = app.connect("youtube").await;
    app.fault(json!({"platform": "youtube", "endpoint": "revoke", "status": 503, "body": "{\"error\":\"server_error\"}", "times": 5}))
        .await;
    let (s, v) = app
        .delete(&format!("/v1/connections/{}", yt["id"].as_str().unwrap()))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["revocation"]["status"], "failed", "{v}");
    assert_eq!(
        v["revocation"]["diagnosis"]["category"],
        "platform_unavailable"
    );
    assert_eq!(app.connection_count().await, 0);
}

#[tokio::test]
async fn api_keys_and_workspaces_are_enforced() {
    let app = TestApp::spawn().await;
    let conn = app.connect("pinterest").await;
    let id = conn["id"].as_str().unwrap();

    let r = app
        .http
        .get(format!("{}/v1/connections", app.api))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.headers().contains_key("www-authenticate"));
    assert_eq!(r.headers()["content-type"], "application/problem+json");

    let r = app
        .http
        .get(format!("{}/v1/connections/{id}/token", app.api))
        .bearer_auth("sbk_not-a-real-key")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    // Another workspace sees a 404 for this connection, and an empty list.
    let (_, other_key) = switchboard_server::create_workspace(
        app.state.store().as_ref(),
        "Other",
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    for path in [
        format!("/v1/connections/{id}"),
        format!("/v1/connections/{id}/token"),
    ] {
        let r = app
            .http
            .get(format!("{}{path}", app.api))
            .bearer_auth(&other_key)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let r = app
        .http
        .delete(format!("{}/v1/connections/{id}", app.api))
        .bearer_auth(&other_key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.connection_count().await, 1);
}

#[tokio::test]
async fn bad_connect_requests_are_refused_with_the_field() {
    let app = TestApp::spawn().await;
    let (s, v) = app.post("/v1/connect/myspace", json!({"owner": "u"})).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(problem_type(&v), "unknown-platform");
    assert_eq!(v["known_platforms"].as_array().unwrap().len(), 7);
    assert!(v["detail"].as_str().unwrap().contains("twitter"));

    let (s, v) = app.post("/v1/connect/twitter", json!({})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["field"], "owner");

    let (s, v) = app
        .post(
            "/v1/connect/twitter",
            json!({"owner": "u", "scopes": ["ok", "bad scope"]}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(v["field"], "scopes[1]");

    let (s, v) = app
        .post(
            "/v1/connect/twitter",
            json!({"owner": "u", "return_to": "https://evil.test/after-connect/"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(v["field"], "return_to");
    let (s, _) = app
        .post(
            "/v1/connect/twitter",
            json!({"owner": "u", "return_to": "http://app.test/elsewhere"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);

    let r = app
        .http
        .post(format!("{}/v1/connect/twitter", app.api))
        .bearer_auth(&app.key)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn return_to_inside_the_allow_list_gets_the_browser_back() {
    let app = TestApp::spawn().await;
    let (s, v) = app
        .post(
            "/v1/connect/linkedin",
            json!({"owner": "u", "return_to": "http://app.test/after-connect/linkedin?tab=2"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let cb = app
        .consent(v["authorization_url"].as_str().unwrap(), "allow", None)
        .await;
    // A browser (no JSON Accept) is sent back to return_to with the outcome.
    let r = app.http.get(&cb).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let loc = r.headers()["location"].to_str().unwrap();
    assert!(loc.starts_with("http://app.test/after-connect/linkedin?tab=2&switchboard_status=connected&connection_id="), "{loc}");
}

#[tokio::test]
async fn forged_expired_and_replayed_states_are_refused() {
    let app = TestApp::spawn().await;
    // Forged.
    let (s, v) = app
        .callback(&format!(
            "{}/v1/oauth/callback/twitter?code=abc&state=forged",
            app.api
        ))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(problem_type(&v), "invalid-state");
    // No state at all, as an HTML page for a person.
    let r = app
        .http
        .get(format!("{}/v1/oauth/callback/twitter?code=abc", app.api))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let page = r.text().await.unwrap();
    assert!(page.contains("Could not connect X (Twitter)"), "{page}");

    // Replayed: the second use of the same callback is refused, one connection exists.
    let start = app.start("twitter").await;
    let cb = app
        .consent(start["authorization_url"].as_str().unwrap(), "allow", None)
        .await;
    let (s, _) = app.callback(&cb).await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, v) = app.callback(&cb).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(problem_type(&v), "state-already-used");
    assert_eq!(app.connection_count().await, 1);

    // Expired: the session outlives its 10 minutes.
    let start = app.start("linkedin").await;
    let cb = app
        .consent(start["authorization_url"].as_str().unwrap(), "allow", None)
        .await;
    app.clock.advance(chrono::Duration::minutes(11));
    let (s, v) = app.callback(&cb).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(problem_type(&v), "expired-state");
    assert_eq!(app.connection_count().await, 1);

    // A state issued for one platform cannot complete another.
    let start = app.start("pinterest").await;
    let cb = app
        .consent(start["authorization_url"].as_str().unwrap(), "allow", None)
        .await;
    let cb = cb.replace("/callback/pinterest", "/callback/youtube");
    let (s, v) = app.callback(&cb).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(app.connection_count().await, 1);
}

#[tokio::test]
async fn a_person_who_denies_gets_a_clear_answer_and_nothing_is_stored() {
    let app = TestApp::spawn().await;
    let start = app.start("facebook").await;
    let cb = app
        .consent(start["authorization_url"].as_str().unwrap(), "deny", None)
        .await;
    assert!(cb.contains("error=access_denied"), "{cb}");
    let (s, v) = app.callback(&cb).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(v["diagnosis"]["category"], "access_denied");
    assert_eq!(app.connection_count().await, 0);
    assert_eq!(
        app.sandbox_stats().await["platforms"]["facebook"]["token_exchanges"],
        0
    );
    let (_, ev) = app.get("/v1/events").await;
    assert_eq!(ev["data"][0]["type"], "connect.failed");
}

/// Runs one connect for `platform` with a fault queued on the token endpoint, and checks the
/// answer's status, diagnosis category and that nothing was stored.
async fn connect_with_fault(
    app: &TestApp,
    platform: &str,
    fault: Value,
    status: StatusCode,
    category: &str,
) -> Value {
    let start = app.start(platform).await;
    let cb = app
        .consent(start["authorization_url"].as_str().unwrap(), "allow", None)
        .await;
    let mut f = fault;
    f["platform"] = json!(platform);
    f["endpoint"] = json!("token");
    app.fault(f).await;
    let (s, v) = app.callback(&cb).await;
    assert_eq!(s, status, "{platform}: {v}");
    assert_eq!(v["diagnosis"]["category"], category, "{platform}: {v}");
    assert_eq!(
        app.connection_count().await,
        0,
        "nothing stored after a failed exchange"
    );
    v
}

#[tokio::test]
async fn token_endpoint_failures_are_diagnosed_and_store_nothing() {
    let app = TestApp::spawn().await;
    let v = connect_with_fault(
        &app,
        "twitter",
        json!({"status": 400, "body": "{\"error\":\"invalid_grant\",\"error_description\":\"Value passed for the authorization code was invalid.\"}"}),
        StatusCode::BAD_GATEWAY,
        "token_revoked",
    )
    .await;
    assert_eq!(v["diagnosis"]["platform_code"], "invalid_grant");
    assert_eq!(v["diagnosis"]["retryable"], false);

    let v = connect_with_fault(
        &app,
        "linkedin",
        json!({"status": 503, "body": "<html>Service Unavailable</html>", "content_type": "text/html"}),
        StatusCode::BAD_GATEWAY,
        "platform_unavailable",
    )
    .await;
    assert_eq!(v["diagnosis"]["retryable"], true);

    connect_with_fault(
        &app,
        "pinterest",
        json!({"status": 200, "body": "this is not json"}),
        StatusCode::BAD_GATEWAY,
        "unknown",
    )
    .await;

    // No answer within the 2-second client timeout.
    connect_with_fault(
        &app,
        "youtube",
        json!({"delay_ms": 3500}),
        StatusCode::GATEWAY_TIMEOUT,
        "network",
    )
    .await;

    connect_with_fault(
        &app,
        "facebook",
        json!({"status": 400, "body": "{\"error\":{\"message\":\"Error validating client secret.\",\"type\":\"OAuthException\",\"code\":1,\"fbtrace_id\":\"A1\"}}"}),
        StatusCode::BAD_GATEWAY,
        "invalid_client",
    )
    .await;
}

#[tokio::test]
async fn wrong_client_secret_is_diagnosed_as_invalid_client() {
    let app = TestApp::spawn_with(Setup {
        config: Box::new(|c| {
            let p = c.platforms.entry("pinterest".into()).or_default();
            p.client_id = Some("sandbox-pinterest-client".into());
            p.client_secret = Some("wrong-secret".into());
        }),
        ..Setup::default()
    })
    .await;
    let start = app.start("pinterest").await;
    let cb = app
        .consent(start["authorization_url"].as_str().unwrap(), "allow", None)
        .await;
    let (s, v) = app.callback(&cb).await;
    assert_eq!(s, StatusCode::BAD_GATEWAY, "{v}");
    assert_eq!(
        v["diagnosis"]["category"], "invalid_client",
        "Pinterest answers 401 code 2 at its token endpoint: {v}"
    );
    let body = v.to_string();
    assert!(
        !body.contains("wrong-secret"),
        "the client secret never appears in errors"
    );
}

#[tokio::test]
async fn a_ciphertext_moved_to_another_row_does_not_open() {
    let app = TestApp::spawn().await;
    let a = app.connect_as("twitter", Some("x-ada")).await;
    let b = app.connect_as("twitter", Some("x-grace")).await;
    let store = app.state.store();
    let row_a = store
        .get_connection_by_id(a["id"].as_str().unwrap())
        .await
        .unwrap()
        .unwrap();
    let row_b = store
        .get_connection_by_id(b["id"].as_str().unwrap())
        .await
        .unwrap()
        .unwrap();
    let (_, tok_a) = app
        .get(&format!("/v1/connections/{}/token", row_a.id))
        .await;
    // Copy A's sealed access token into B's row.
    let moved = TokenUpdate {
        access_token_sealed: row_a.access_token_sealed.clone(),
        refresh_token_sealed: None,
        token_type: row_b.token_type.clone(),
        expires_at: row_b.expires_at,
        refresh_expires_at: None,
        scopes: None,
        token_obtained_at: row_b.token_obtained_at,
        status: row_b.status.clone(),
        refreshed_at: None,
    };
    store
        .update_tokens(&row_b.id, &moved, None, chrono::Utc::now())
        .await
        .unwrap();
    let (s, v) = app
        .get(&format!("/v1/connections/{}/token", row_b.id))
        .await;
    assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR, "{v}");
    assert_eq!(problem_type(&v), "stored-secret-unreadable");
    assert!(!v
        .to_string()
        .contains(tok_a["access_token"].as_str().unwrap()));
    // A's own token is untouched.
    let (s, _) = app
        .get(&format!("/v1/connections/{}/token", row_a.id))
        .await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn platforms_endpoint_lists_the_catalog() {
    let app = TestApp::spawn().await;
    let r = app
        .http
        .get(format!("{}/v1/platforms", app.api))
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    let data = v["data"].as_array().unwrap();
    assert_eq!(data.len(), 7);
    assert!(data.iter().all(|p| p["configured"] == true));
    assert_eq!(
        data[0]["redirect_uri"],
        format!("{}/v1/oauth/callback/twitter", app.api)
    );
    let (s, _) = app.get("/v1/platforms/nope").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, v) = app.get("/healthz").await;
    assert_eq!((s, v["status"].as_str()), (StatusCode::OK, Some("ok")));
}

#[tokio::test]
async fn connect_flow_on_postgres_with_the_callback_on_another_instance() {
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
    // Started on A, the platform redirects to B's callback (another instance behind the same
    // load balancer).
    let start = a.start("tiktok").await;
    let cb = a
        .consent(start["authorization_url"].as_str().unwrap(), "allow", None)
        .await;
    let cb_on_b = cb.replace(&a.api, &b.api);
    let (s, v) = b.callback(&cb_on_b).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    // Replaying on A is refused: the state was consumed once, for both.
    let (s, _) = a.callback(&cb).await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (s, tok) = a
        .get(&format!(
            "/v1/connections/{}/token",
            v["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        a.introspect(tok["access_token"].as_str().unwrap()).await["active"],
        true
    );
    assert_eq!(a.state.store().backend(), "postgres");
}

#[tokio::test]
async fn every_answer_carries_a_request_id() {
    let app = TestApp::spawn().await;
    let r = app
        .http
        .get(format!("{}/healthz", app.api))
        .header("X-Request-ID", "req-from-client-1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "req-from-client-1");
    let r = app
        .http
        .get(format!("{}/v1/platforms", app.api))
        .send()
        .await
        .unwrap();
    let made = r.headers()["x-request-id"].to_str().unwrap().to_string();
    assert_eq!(made.len(), 36, "a UUID is made when none is sent: {made}");
}

#[tokio::test]
async fn return_to_is_matched_as_a_parsed_url_by_whole_path_segments() {
    // The allow-list entry has no trailing slash: `/cb` allows `/cb` and `/cb/...` only.
    let app = TestApp::spawn_with(Setup {
        config: Box::new(|c| {
            c.allowed_return_urls = vec![url::Url::parse("http://app.test/cb").unwrap()]
        }),
        ..Setup::default()
    })
    .await;
    for bad in [
        "http://app.test/cbevil",
        "http://app.test/cb%2f..%2f..%2fadmin",
        "http://app.test/cb%2F..%2Fadmin",
        "http://app.test/cb%5c..%5cadmin",
        "http://app.test/cb/../admin",
        "http://app.test/cb/%2e%2e/admin",
        "http://user:pw@app.test/cb",
        "http://user@app.test/cb",
        "http://app.test/cb/\tx",
        "http://app.test\\@evil.test/cb",
        "http://app.test:8080/cb",
        "https://app.test/cb",
    ] {
        let (s, v) = app
            .post(
                "/v1/connect/twitter",
                json!({"owner": "u", "return_to": bad}),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {v}");
        assert_eq!(v["field"], "return_to", "{bad}: {v}");
    }
    for good in ["http://app.test/cb", "http://app.test/cb/done?x=1"] {
        let (s, v) = app
            .post(
                "/v1/connect/twitter",
                json!({"owner": "u", "return_to": good}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{good}: {v}");
    }
}
