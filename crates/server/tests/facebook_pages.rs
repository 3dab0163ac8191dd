//! Facebook Page selection against the sandbox: connect → `pending_selection` → list Pages →
//! select → healthy → Page token served; validation of the selection; an account without Pages;
//! a Page token invalidated at the platform and found by the health check.

mod common;

use common::TestApp;
use reqwest::StatusCode;
use serde_json::{json, Value};

const ENGINES: &str = "102000000000001";
const BAKERY: &str = "102000000000002";

/// True when any object in `v`, at any depth, has an `access_token` member.
fn has_token_member(v: &Value) -> bool {
    match v {
        Value::Object(m) => m.contains_key("access_token") || m.values().any(has_token_member),
        Value::Array(a) => a.iter().any(has_token_member),
        _ => false,
    }
}

async fn event_kinds(app: &TestApp) -> Vec<String> {
    let (s, v) = app.get("/v1/events").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test]
async fn connect_lists_pages_then_selection_makes_it_healthy_and_serves_page_token() {
    let app = TestApp::spawn().await;
    let conn = app.connect("facebook").await;
    let id = conn["id"].as_str().unwrap();
    assert_eq!(conn["status"], "pending_selection", "{conn}");

    let (s, pages) = app.get(&format!("/v1/connections/{id}/pages")).await;
    assert_eq!(s, StatusCode::OK, "{pages}");
    assert_eq!(pages["selection_required"], true);
    assert_eq!(pages["action"]["kind"], "select_pages");
    let ids: Vec<&str> = pages["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [ENGINES, BAKERY]);
    assert_eq!(pages["data"][0]["name"], "Analytical Engines Ltd");
    assert_eq!(pages["data"][0]["selected"], false);
    assert!(!has_token_member(&pages), "Page list leaks tokens: {pages}");

    let (s, sel) = app
        .post(
            &format!("/v1/connections/{id}/pages"),
            json!({"page_ids": [ENGINES]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{sel}");
    assert_eq!(sel["connection"]["status"], "healthy");
    assert!(
        !has_token_member(&sel),
        "selection answer leaks tokens: {sel}"
    );

    let (_, one) = app.get(&format!("/v1/connections/{id}")).await;
    assert_eq!(one["status"], "healthy");
    let (_, pages) = app.get(&format!("/v1/connections/{id}/pages")).await;
    assert_eq!(pages["source"], "stored");
    assert_eq!(pages["selection_required"], false);
    assert_eq!(pages["data"][0]["selected"], true);
    assert_eq!(pages["data"][0]["status"], "healthy");
    assert_eq!(pages["data"][1]["selected"], false);
    assert_eq!(pages["data"][1]["status"], "available");

    let (s, tok) = app
        .get(&format!("/v1/connections/{id}/pages/{ENGINES}/token"))
        .await;
    assert_eq!(s, StatusCode::OK, "{tok}");
    assert_eq!(tok["expires_at"], Value::Null);
    assert_eq!(tok["page_id"], ENGINES);
    let info = app.introspect(tok["access_token"].as_str().unwrap()).await;
    assert_eq!(info["active"], true, "{info}");
    assert_eq!(info["page_id"], ENGINES);
    assert_eq!(
        info["expires_at"],
        Value::Null,
        "Page token must not expire: {info}"
    );

    let (s, p) = app
        .get(&format!("/v1/connections/{id}/pages/{BAKERY}/token"))
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{p}");
    assert!(p["type"].as_str().unwrap().ends_with("page-not-selected"));
    let (s, _) = app
        .get(&format!("/v1/connections/{id}/pages/999/token"))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    assert!(event_kinds(&app)
        .await
        .contains(&"connection.pages_selected".to_string()));

    // The health check agrees: every check passes, Pages included.
    let (s, h) = app.get(&format!("/v1/connections/{id}/health")).await;
    assert_eq!(s, StatusCode::OK, "{h}");
    assert_eq!(h["status"], "healthy", "{h}");
    let pages_check = h["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "pages")
        .expect("pages check");
    assert_eq!(pages_check["status"], "pass", "{h}");
}

#[tokio::test]
async fn unknown_or_empty_selection_is_422_naming_the_field() {
    let app = TestApp::spawn().await;
    let conn = app.connect("facebook").await;
    let id = conn["id"].as_str().unwrap();
    let path = format!("/v1/connections/{id}/pages");

    let (s, p) = app
        .post(&path, json!({"page_ids": [ENGINES, "999999"]}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    assert_eq!(p["field"], "page_ids[1]", "{p}");
    assert!(p["detail"].as_str().unwrap().contains(ENGINES), "{p}");

    let (s, p) = app.post(&path, json!({"page_ids": []})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    assert_eq!(p["field"], "page_ids");

    let (_, one) = app.get(&format!("/v1/connections/{id}")).await;
    assert_eq!(
        one["status"], "pending_selection",
        "a refused selection changes nothing"
    );

    // Pages are a Facebook matter.
    let x = app.connect("twitter").await;
    let (s, p) = app
        .get(&format!(
            "/v1/connections/{}/pages",
            x["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{p}");
    assert_eq!(x["status"], "healthy");
}

#[tokio::test]
async fn account_without_pages_stays_pending_and_says_why() {
    let app = TestApp::spawn().await;
    let conn = app.connect_as("facebook", Some("fb-nopages")).await;
    let id = conn["id"].as_str().unwrap();
    assert_eq!(conn["status"], "pending_selection");

    let (s, pages) = app.get(&format!("/v1/connections/{id}/pages")).await;
    assert_eq!(s, StatusCode::OK, "{pages}");
    assert_eq!(pages["data"], json!([]));
    assert_eq!(
        pages["diagnosis"]["category"], "account_not_eligible",
        "{pages}"
    );
    assert!(pages["diagnosis"]["fix"][0]
        .as_str()
        .unwrap()
        .contains("role on the Page"));
    assert_eq!(pages["action"]["kind"], "get_page_role");

    let (s, p) = app
        .post(
            &format!("/v1/connections/{id}/pages"),
            json!({"page_ids": [ENGINES]}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{p}");
    assert_eq!(p["diagnosis"]["category"], "account_not_eligible");

    let (s, h) = app.get(&format!("/v1/connections/{id}/health")).await;
    assert_eq!(s, StatusCode::OK, "{h}");
    assert_eq!(h["status"], "pending_selection", "{h}");
    assert_eq!(h["action"]["kind"], "get_page_role");
    let c = h["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "pages")
        .unwrap();
    assert_eq!(c["status"], "fail");
    assert_eq!(c["diagnosis"]["category"], "account_not_eligible");
    let (_, one) = app.get(&format!("/v1/connections/{id}")).await;
    assert_eq!(one["status"], "pending_selection");
}

#[tokio::test]
async fn page_token_invalidated_at_the_platform_is_marked_by_the_health_check() {
    let app = TestApp::spawn().await;
    let conn = app.connect("facebook").await;
    let id = conn["id"].as_str().unwrap();
    let (s, _) = app
        .post(
            &format!("/v1/connections/{id}/pages"),
            json!({"page_ids": [ENGINES, BAKERY]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, page_tok) = app
        .get(&format!("/v1/connections/{id}/pages/{ENGINES}/token"))
        .await;
    let page_token = page_tok["access_token"].as_str().unwrap().to_string();

    // The person removes the app on Facebook: DELETE /me/permissions with the user token kills
    // every token of the grant, Page tokens included. Switchboard is not told.
    let (_, user) = app.get(&format!("/v1/connections/{id}/token")).await;
    let r = app
        .http
        .delete(format!(
            "{}/graph.facebook.com/v22.0/me/permissions",
            app.sandbox
        ))
        .bearer_auth(user["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    assert_eq!(app.introspect(&page_token).await["active"], false);

    let (s, h) = app.get(&format!("/v1/connections/{id}/health")).await;
    assert_eq!(s, StatusCode::OK, "{h}");
    assert_eq!(h["status"], "needs_reauth", "{h}");
    assert_eq!(h["action"]["kind"], "reconnect");
    let c = h["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "pages")
        .unwrap();
    assert_eq!(c["status"], "fail", "{h}");
    assert_eq!(
        c["diagnosis"]["platform_code"]
            .as_str()
            .map(|s| s.starts_with("190")),
        Some(true),
        "{c}"
    );

    let (_, pages) = app.get(&format!("/v1/connections/{id}/pages")).await;
    for p in pages["data"].as_array().unwrap() {
        assert_eq!(p["status"], "needs_reauth", "{pages}");
        assert_eq!(p["selected"], true);
    }
    let (s, p) = app
        .get(&format!("/v1/connections/{id}/pages/{ENGINES}/token"))
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{p}");
    assert!(p["type"].as_str().unwrap().ends_with("page-token-invalid"));
    let (_, one) = app.get(&format!("/v1/connections/{id}")).await;
    assert_eq!(one["status"], "needs_reauth");
    assert!(event_kinds(&app)
        .await
        .contains(&"connection.needs_reauth".to_string()));

    // Reconnecting repairs it: the chosen Pages stay chosen, with new working tokens.
    let again = app.connect("facebook").await;
    assert_eq!(again["id"], id);
    assert_eq!(again["status"], "healthy", "{again}");
    let (s, tok) = app
        .get(&format!("/v1/connections/{id}/pages/{ENGINES}/token"))
        .await;
    assert_eq!(s, StatusCode::OK, "{tok}");
    assert_ne!(tok["access_token"], page_token);
    assert_eq!(
        app.introspect(tok["access_token"].as_str().unwrap()).await["active"],
        true
    );
}

#[tokio::test]
async fn one_page_token_refused_marks_that_page_and_reselection_recovers() {
    let app = TestApp::spawn().await;
    let conn = app.connect("facebook").await;
    let id = conn["id"].as_str().unwrap();
    let path = format!("/v1/connections/{id}/pages");
    let (s, _) = app
        .post(&path, json!({"page_ids": [ENGINES, BAKERY]}))
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, tok) = app
        .get(&format!("/v1/connections/{id}/pages/{ENGINES}/token"))
        .await;

    // The person loses their role on one Page: only that Page's token stops working.
    let r = app
        .http
        .post(format!("{}/__sandbox/invalidate", app.sandbox))
        .json(&json!({"token": tok["access_token"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(common::read(r).await.1["invalidated"], true);

    let (s, h) = app.get(&format!("/v1/connections/{id}/health")).await;
    assert_eq!(s, StatusCode::OK, "{h}");
    let by_name = |n: &str| {
        h["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == n)
            .unwrap()
            .clone()
    };
    assert_eq!(by_name("live_profile")["status"], "pass", "{h}");
    let pages_check = by_name("pages");
    assert_eq!(pages_check["status"], "fail", "{h}");
    assert_eq!(pages_check["diagnosis"]["platform_code"], "190/467", "{h}");
    assert!(pages_check["detail"].as_str().unwrap().contains(ENGINES));
    assert_eq!(h["status"], "needs_reauth");
    assert_eq!(h["action"]["kind"], "reconnect");
    assert!(h["action"]["detail"].as_str().unwrap().contains(ENGINES));

    let (_, pages) = app.get(&path).await;
    assert_eq!(pages["data"][0]["status"], "needs_reauth", "{pages}");
    assert_eq!(pages["data"][1]["status"], "healthy", "{pages}");
    let (s, _) = app
        .get(&format!("/v1/connections/{id}/pages/{BAKERY}/token"))
        .await;
    assert_eq!(s, StatusCode::OK, "the other Page still works");

    // Choosing again (here: only the Page still managed) makes the connection usable.
    let (s, sel) = app.post(&path, json!({"page_ids": [BAKERY]})).await;
    assert_eq!(s, StatusCode::OK, "{sel}");
    assert_eq!(sel["connection"]["status"], "healthy");
    let (_, h) = app.get(&format!("/v1/connections/{id}/health")).await;
    assert_eq!(h["status"], "healthy", "{h}");
}

// ---- Pages reached through a Business portfolio (issue 11, finding 7) ----

/// Pages whose role comes through a Business portfolio are not in `/me/accounts`: they are
/// read from `/me/businesses` → `/{business-id}/owned_pages` and `/client_pages`
/// (`business_management`), deduplicated with the person's own Pages. The sandbox's
/// `fb-business` manages one Page directly (also owned by her Business), a second only through
/// the Business, and a client Page.
#[tokio::test]
async fn pages_owned_through_a_business_portfolio_are_found_once() {
    let app = TestApp::spawn().await;
    let start = app.start("facebook").await;
    assert!(
        start["authorization_url"]
            .as_str()
            .unwrap()
            .contains("business_management"),
        "business_management is asked for: {start}"
    );
    let conn = app.connect_as("facebook", Some("fb-business")).await;
    let id = conn["id"].as_str().unwrap();
    let (s, pages) = app.get(&format!("/v1/connections/{id}/pages")).await;
    assert_eq!(s, StatusCode::OK, "{pages}");
    let ids: Vec<&str> = pages["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        ["102000000000011", "102000000000012", "102000000000013"],
        "{pages}"
    );
    // A Business Page is usable like any other: selected, its Page token served.
    let (s, sel) = app
        .post(
            &format!("/v1/connections/{id}/pages"),
            json!({"page_ids": ["102000000000012"]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{sel}");
    let (s, tok) = app
        .get(&format!("/v1/connections/{id}/pages/102000000000012/token"))
        .await;
    assert_eq!(s, StatusCode::OK, "{tok}");
    let token = tok["access_token"].as_str().unwrap();
    assert_eq!(app.introspect(token).await["page_id"], "102000000000012");
}

// ---- Meta's Deauthorize and Data Deletion callbacks (issue 11, finding 12) ----

/// Has the sandbox send Meta's callback (`kind`) for `account` to this app's URL; returns the
/// app's answer `(status, body)`.
async fn meta_callback(app: &TestApp, platform: &str, account: &str, kind: &str) -> (u16, Value) {
    let path = if kind == "deauthorize" {
        "deauthorize"
    } else {
        "data-deletion"
    };
    let v: Value = app
        .http
        .post(format!("{}/__sandbox/meta/callbacks", app.sandbox))
        .json(&json!({
            "platform": platform,
            "account": account,
            "kind": kind,
            "url": format!("{}/v1/meta/{platform}/{path}", app.api),
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (v["status"].as_u64().unwrap() as u16, v["body"].clone())
}

/// A person who removes the app at Meta: Meta POSTs a `signed_request` to the Deauthorize
/// Callback URL; the connection is marked revoked at once, with its event.
#[tokio::test]
async fn deauthorize_callback_revokes_the_persons_connection_with_an_event() {
    let app = TestApp::spawn().await;
    let fb = app.connect("facebook").await;
    let fb_id = fb["id"].as_str().unwrap();
    let other = app.connect_as("facebook", Some("fb-nopages")).await;
    let (status, body) = meta_callback(&app, "facebook", "fb-ada", "deauthorize").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["revoked"], 1);
    let (_, one) = app.get(&format!("/v1/connections/{fb_id}")).await;
    assert_eq!(one["status"], "revoked", "{one}");
    let (_, two) = app
        .get(&format!(
            "/v1/connections/{}",
            other["id"].as_str().unwrap()
        ))
        .await;
    assert_ne!(
        two["status"], "revoked",
        "another person's connection is untouched"
    );
    assert!(event_kinds(&app)
        .await
        .contains(&"connection.revoked".to_string()));
    // Meta may send it again: nothing more to revoke.
    let (status, body) = meta_callback(&app, "facebook", "fb-ada", "deauthorize").await;
    assert_eq!((status, body["revoked"].as_u64()), (200, Some(0)));
}

/// A data deletion request: the person's connection is deleted and Meta gets `{url,
/// confirmation_code}`; the URL is a status page saying it is done.
#[tokio::test]
async fn data_deletion_callback_deletes_and_answers_a_status_url() {
    let app = TestApp::spawn().await;
    let ig = app.connect("instagram").await;
    let ig_id = ig["id"].as_str().unwrap();
    let (status, body) = meta_callback(&app, "instagram", "ig-business", "data_deletion").await;
    assert_eq!(status, 200, "{body}");
    let code = body["confirmation_code"].as_str().unwrap();
    let url = body["url"].as_str().unwrap();
    assert_eq!(
        url,
        format!("{}/v1/meta/instagram/data-deletion/{code}", app.api)
    );
    let (s, _) = app.get(&format!("/v1/connections/{ig_id}")).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "the connection is deleted");

    let page = app.http.get(url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("complete"));
    let v: Value = app
        .http
        .get(url)
        .header("accept", "application/json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["status"], "completed");
    assert_eq!(v["connections_deleted"], 1);
    // A made-up or altered code, or another platform's, is not found.
    for bad in [
        format!("{}/v1/meta/instagram/data-deletion/{code}x", app.api),
        format!("{}/v1/meta/facebook/data-deletion/{code}", app.api),
        format!("{}/v1/meta/instagram/data-deletion/nope", app.api),
    ] {
        let r = app.http.get(&bad).send().await.unwrap();
        assert_eq!(r.status(), 404, "{bad}");
    }
}

/// Signature failures: every `signed_request` that does not verify is a 400 problem naming the
/// field, and changes nothing.
#[tokio::test]
async fn signed_requests_that_do_not_verify_are_refused_and_change_nothing() {
    let app = TestApp::spawn().await;
    let fb = app.connect("facebook").await;
    let fb_id = fb["id"].as_str().unwrap();
    let user_id = fb["account"]["id"]
        .as_str()
        .or(fb["account_id"].as_str())
        .unwrap()
        .to_string();
    let secret = b"sandbox-facebook-secret";
    let sign = switchboard_server::meta_callbacks::sign;
    let good = json!({"algorithm": "HMAC-SHA256", "issued_at": 1, "user_id": user_id});
    let cases: Vec<(String, &str)> = vec![
        (String::new(), "missing"),
        ("signed_request=".into(), "missing"),
        ("signed_request=abc".into(), "malformed"),
        (
            format!("signed_request={}", sign(&good, b"another-app-secret")),
            "signature",
        ),
        (
            format!(
                "signed_request={}",
                sign(
                    &json!({"algorithm": "HMAC-SHA1", "user_id": user_id}),
                    secret
                )
            ),
            "HMAC-SHA256",
        ),
        (
            format!(
                "signed_request={}",
                sign(&json!({"algorithm": "HMAC-SHA256"}), secret)
            ),
            "user_id",
        ),
    ];
    for (body, why) in cases {
        for path in ["deauthorize", "data-deletion"] {
            let r = app
                .http
                .post(format!("{}/v1/meta/facebook/{path}", app.api))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body.clone())
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 400, "{path} {body}");
            assert_eq!(
                r.headers()["content-type"],
                "application/problem+json",
                "{path}"
            );
            let v: Value = r.json().await.unwrap();
            assert_eq!(v["field"], "signed_request", "{v}");
            assert!(v["detail"].as_str().unwrap().contains(why), "{why}: {v}");
        }
    }
    let (_, one) = app.get(&format!("/v1/connections/{fb_id}")).await;
    assert_ne!(one["status"], "revoked", "{one}");
    // Not one of Meta's platforms.
    let r = app
        .http
        .post(format!("{}/v1/meta/twitter/deauthorize", app.api))
        .body(format!("signed_request={}", sign(&good, secret)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // The same request, signed with the app's secret, works.
    let r = app
        .http
        .post(format!("{}/v1/meta/facebook/deauthorize", app.api))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("signed_request={}", sign(&good, secret)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (_, one) = app.get(&format!("/v1/connections/{fb_id}")).await;
    assert_eq!(one["status"], "revoked", "{one}");
}
