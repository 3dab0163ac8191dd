//! Webhooks and the audit log, over HTTP against the real server and sandbox.
//!
//! A test receiver (an axum server on 127.0.0.1:0) verifies each delivery's
//! `Switchboard-Signature` with the endpoint's secret on its own (HMAC-SHA256 over
//! `"<t>.<raw body>"`, constant-time comparison, timestamps older than 5 minutes refused) and
//! records what it got. The delivery worker's `tick` is called directly and time moves with the
//! shared `ManualClock`: nothing sleeps.

mod common;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode as AxumStatus, Uri};
use chrono::Duration;
use common::TestApp;
use hmac::{Hmac, Mac};
use reqwest::header::AUTHORIZATION;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::Sha256;
use switchboard_core::{Clock, ManualClock};
use switchboard_server::workers::webhooks::tick;

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Got {
    path: String,
    content_type: String,
    event_id: String,
    event_type: String,
    signature: String,
    signature_ok: bool,
    raw: Bytes,
    body: Value,
}

struct ReceiverState {
    secret: Mutex<Option<String>>,
    /// Status codes to answer, in order; 200 once empty.
    answers: Mutex<VecDeque<u16>>,
    got: Mutex<Vec<Got>>,
    clock: ManualClock,
}

#[derive(Clone)]
struct Receiver {
    url: String,
    state: Arc<ReceiverState>,
}

impl Receiver {
    async fn start(clock: ManualClock) -> Receiver {
        let state = Arc::new(ReceiverState {
            secret: Mutex::new(None),
            answers: Mutex::new(VecDeque::new()),
            got: Mutex::new(Vec::new()),
            clock,
        });
        let app = axum::Router::new()
            .fallback(axum::routing::post(receive))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { url, state }
    }

    fn set_secret(&self, secret: &str) {
        *self.state.secret.lock().unwrap() = Some(secret.to_string());
    }

    fn answer(&self, codes: &[u16]) {
        self.state.answers.lock().unwrap().extend(codes);
    }

    fn got(&self) -> Vec<Got> {
        self.state.got.lock().unwrap().clone()
    }
}

/// Verifies `t=<unix seconds>,v1=<hex>` the way the README tells receivers to.
fn verify(secret: &str, header: &str, body: &[u8], now_secs: i64) -> bool {
    let (mut t, mut v1) = (None, None);
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", v)) => t = v.parse::<i64>().ok(),
            Some(("v1", v)) => v1 = hex::decode(v).ok(),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else {
        return false;
    };
    if (now_secs - t).abs() > 300 {
        return false;
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    mac.verify_slice(&v1).is_ok()
}

async fn receive(
    State(s): State<Arc<ReceiverState>>,
    uri: Uri,
    headers: HeaderMap,
    raw: Bytes,
) -> AxumStatus {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let signature = header("switchboard-signature");
    let secret = s.secret.lock().unwrap().clone();
    let signature_ok =
        secret.is_some_and(|secret| verify(&secret, &signature, &raw, s.clock.now().timestamp()));
    s.got.lock().unwrap().push(Got {
        path: uri.path().to_string(),
        content_type: header("content-type"),
        event_id: header("switchboard-event-id"),
        event_type: header("switchboard-event-type"),
        signature,
        signature_ok,
        body: serde_json::from_slice(&raw).unwrap_or(Value::Null),
        raw,
    });
    if !signature_ok {
        return AxumStatus::BAD_REQUEST;
    }
    let code = s.answers.lock().unwrap().pop_front().unwrap_or(200);
    AxumStatus::from_u16(code).unwrap()
}

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

async fn deliveries(app: &TestApp, webhook_id: &str) -> Vec<Value> {
    let (s, v) = app
        .get(&format!("/v1/webhooks/{webhook_id}/deliveries"))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["data"].as_array().unwrap().clone()
}

#[test]
fn the_test_verifier_refuses_tampering() {
    let secret = "whsec_abc";
    let body = br#"{"id":"e1"}"#;
    let t = 1_700_000_000;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    let header = format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()));
    assert!(verify(secret, &header, body, t + 10));
    assert!(!verify(secret, &header, br#"{"id":"e2"}"#, t + 10));
    assert!(!verify("whsec_other", &header, body, t + 10));
    assert!(!verify(secret, &header, body, t + 301), "too old");
    assert!(!verify(secret, "v1=00", body, t));
}

#[tokio::test]
async fn connecting_delivers_a_signed_connection_created() {
    let app = TestApp::spawn().await;
    let rx = Receiver::start(app.clock.clone()).await;
    let hook = add_webhook(&app, &format!("{}/hooks/switchboard", rx.url), None).await;
    let secret = hook["secret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_"), "{hook}");
    assert_eq!(secret.len(), "whsec_".len() + 43, "256 bits, base64url");
    assert_eq!(hook["events"], Value::Null, "omitted = every type");
    rx.set_secret(secret);
    let hook_id = hook["id"].as_str().unwrap();

    // The secret is shown once: never listed, and stored sealed.
    let (s, list) = app.get("/v1/webhooks").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    assert!(!list.to_string().contains(secret), "{list}");
    assert!(list["data"][0].get("secret").is_none());
    let stored = app
        .state
        .store()
        .get_webhook_by_id(hook_id)
        .await
        .unwrap()
        .unwrap();
    assert!(!stored.secret_sealed.contains(secret));

    let conn = app.connect("twitter").await;
    let conn_id = conn["id"].as_str().unwrap().to_string();

    assert_eq!(tick(&app.state).await.unwrap(), 1);
    let got = rx.got();
    assert_eq!(got.len(), 1, "{got:?}");
    let g = &got[0];
    assert!(g.signature_ok, "signature did not verify: {g:?}");
    assert_eq!(g.path, "/hooks/switchboard");
    assert_eq!(g.content_type, "application/json");
    assert_eq!(g.event_type, "connection.created");
    assert_eq!(g.body["type"], "connection.created");
    assert_eq!(g.body["id"], g.event_id.as_str());
    assert_eq!(g.body["workspace_id"], app.workspace_id.as_str());
    assert_eq!(g.body["connection_id"], conn_id.as_str());
    assert_eq!(g.body["data"]["platform"], "twitter");
    assert!(g.body["created_at"].is_string());
    let t: i64 = g
        .signature
        .strip_prefix("t=")
        .and_then(|r| r.split(',').next())
        .and_then(|t| t.parse().ok())
        .unwrap();
    assert_eq!(t, app.clock.now().timestamp(), "t comes from the app clock");
    // The event is the one in the event log.
    let (_, events) = app.get("/v1/events").await;
    assert!(events["data"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["id"] == g.event_id.as_str() && e["type"] == "connection.created"));

    let ds = deliveries(&app, hook_id).await;
    assert_eq!(ds.len(), 1);
    assert_eq!(ds[0]["status"], "delivered");
    assert_eq!(ds[0]["attempts"], 1);
    assert_eq!(ds[0]["last_status_code"], 200);
    assert_eq!(
        ds[0]["next_attempt_at"],
        Value::Null,
        "no attempt is coming"
    );
    assert_eq!(ds[0]["event_type"], "connection.created");
    assert_eq!(ds[0]["event_id"], g.event_id.as_str());
    assert!(ds[0]["delivered_at"].is_string());
    assert_eq!(ds[0]["last_error"], Value::Null);

    // Nothing more to send.
    assert_eq!(tick(&app.state).await.unwrap(), 0);
    assert_eq!(rx.got().len(), 1);
}

#[tokio::test]
async fn a_failed_delivery_is_retried_after_the_back_off() {
    let app = TestApp::spawn().await;
    let rx = Receiver::start(app.clock.clone()).await;
    let hook = add_webhook(&app, &rx.url, Some(&["connection.created"])).await;
    rx.set_secret(hook["secret"].as_str().unwrap());
    let hook_id = hook["id"].as_str().unwrap();
    rx.answer(&[500]);

    app.connect("twitter").await;
    let before = app.clock.now();
    assert_eq!(tick(&app.state).await.unwrap(), 1);
    assert_eq!(rx.got().len(), 1);
    let ds = deliveries(&app, hook_id).await;
    assert_eq!(ds[0]["status"], "pending");
    assert_eq!(ds[0]["attempts"], 1);
    assert_eq!(ds[0]["last_status_code"], 500);
    assert!(ds[0]["last_error"].as_str().unwrap().contains("500"));
    let next: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(ds[0]["next_attempt_at"].clone()).unwrap();
    assert!(
        next >= before + Duration::seconds(10) && next <= before + Duration::seconds(12),
        "first back-off is 10 s plus up to 20 % jitter: {next} vs {before}"
    );

    // Not before the back-off ends.
    app.clock.advance(Duration::seconds(9));
    assert_eq!(tick(&app.state).await.unwrap(), 0);
    assert_eq!(rx.got().len(), 1);

    app.clock.advance(Duration::seconds(4));
    assert_eq!(tick(&app.state).await.unwrap(), 1);
    let got = rx.got();
    assert_eq!(got.len(), 2);
    assert!(got.iter().all(|g| g.signature_ok), "{got:?}");
    assert_eq!(got[0].event_id, got[1].event_id, "the same event");
    assert_eq!(got[0].raw, got[1].raw, "the same body bytes");
    assert_ne!(
        got[0].signature, got[1].signature,
        "signed anew at each attempt"
    );

    let ds = deliveries(&app, hook_id).await;
    assert_eq!(ds.len(), 1);
    assert_eq!(ds[0]["status"], "delivered");
    assert_eq!(ds[0]["attempts"], 2);
    assert_eq!(ds[0]["last_status_code"], 200);
}

#[tokio::test]
async fn a_delivery_fails_for_good_after_eight_attempts() {
    let app = TestApp::spawn().await;
    let rx = Receiver::start(app.clock.clone()).await;
    let hook = add_webhook(&app, &rx.url, None).await;
    rx.set_secret(hook["secret"].as_str().unwrap());
    let hook_id = hook["id"].as_str().unwrap();
    rx.answer(&[503; 20]);

    app.connect("twitter").await;
    for attempt in 1..=8 {
        assert_eq!(tick(&app.state).await.unwrap(), 1, "attempt {attempt}");
        // Longer than the longest back-off with jitter (6 h + 20 %).
        app.clock.advance(Duration::hours(8));
    }
    assert_eq!(tick(&app.state).await.unwrap(), 0);
    assert_eq!(rx.got().len(), 8);
    let ds = deliveries(&app, hook_id).await;
    assert_eq!(ds[0]["status"], "failed");
    assert_eq!(ds[0]["attempts"], 8);
    assert_eq!(ds[0]["last_status_code"], 503);
    assert_eq!(ds[0]["delivered_at"], Value::Null);
    assert_eq!(
        ds[0]["next_attempt_at"],
        Value::Null,
        "a failed delivery is not tried again"
    );
}

#[tokio::test]
async fn an_unreachable_endpoint_is_retried_with_the_error_shown() {
    let app = TestApp::spawn().await;
    // A port nobody listens on.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/hook?token=do-not-show", l.local_addr().unwrap())
    };
    let hook = add_webhook(&app, &closed, None).await;
    let hook_id = hook["id"].as_str().unwrap();
    app.connect("twitter").await;
    assert_eq!(tick(&app.state).await.unwrap(), 1);
    let ds = deliveries(&app, hook_id).await;
    assert_eq!(ds[0]["status"], "pending");
    assert_eq!(ds[0]["attempts"], 1);
    assert_eq!(ds[0]["last_status_code"], Value::Null);
    let error = ds[0]["last_error"].as_str().unwrap();
    assert!(!error.is_empty());
    assert!(!error.contains("do-not-show"), "{error}");
}

#[tokio::test]
async fn event_filters_are_respected() {
    let app = TestApp::spawn().await;
    let rx = Receiver::start(app.clock.clone()).await;
    let created = add_webhook(
        &app,
        &format!("{}/created", rx.url),
        Some(&["connection.created"]),
    )
    .await;
    let gone = add_webhook(
        &app,
        &format!("{}/gone", rx.url),
        Some(&["connection.disconnected", "connection.needs_reauth"]),
    )
    .await;
    assert_eq!(
        gone["events"],
        json!(["connection.disconnected", "connection.needs_reauth"])
    );
    // Both secrets differ; the receiver checks each path against its own endpoint's secret.
    assert_ne!(created["secret"], gone["secret"]);

    rx.set_secret(created["secret"].as_str().unwrap());
    let conn = app.connect("twitter").await;
    assert_eq!(tick(&app.state).await.unwrap(), 1);
    let got = rx.got();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].path, "/created");
    assert_eq!(got[0].event_type, "connection.created");
    assert!(got[0].signature_ok);

    rx.set_secret(gone["secret"].as_str().unwrap());
    let id = conn["id"].as_str().unwrap();
    let (s, v) = app.delete(&format!("/v1/connections/{id}")).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(tick(&app.state).await.unwrap(), 1);
    let got = rx.got();
    assert_eq!(got.len(), 2);
    assert_eq!(got[1].path, "/gone");
    assert_eq!(got[1].event_type, "connection.disconnected");
    assert!(
        got[1].signature_ok,
        "signed with the second endpoint's secret"
    );
    assert_eq!(
        deliveries(&app, created["id"].as_str().unwrap())
            .await
            .len(),
        1
    );
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
    // An on-demand refresh by Switchboard itself: the token has expired.
    app.clock.advance(Duration::hours(2) + Duration::minutes(1));
    let (s, v) = app.get(&format!("/v1/connections/{id}/token")).await;
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
        ("connection.refreshed", "system:refresh"),
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
    assert_eq!(all.len(), 5);
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

#[tokio::test]
async fn two_instances_on_postgres_send_each_delivery_once() {
    use common::{Db, Setup};
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
    let rx = Receiver::start(a.clock.clone()).await;
    let hook = add_webhook(&a, &rx.url, Some(&["connection.created"])).await;
    rx.set_secret(hook["secret"].as_str().unwrap());
    let platforms = ["twitter", "linkedin", "tiktok", "pinterest", "youtube"];
    for p in platforms {
        a.connect(p).await;
    }
    let mut sent = 0;
    loop {
        let (x, y) = tokio::join!(tick(&a.state), tick(&b.state));
        let n = x.unwrap() + y.unwrap();
        if n == 0 {
            break;
        }
        sent += n;
    }
    assert_eq!(sent, platforms.len());
    let got = rx.got();
    let ids: std::collections::HashSet<_> = got.iter().map(|g| g.event_id.clone()).collect();
    assert_eq!(got.len(), platforms.len(), "{got:?}");
    assert_eq!(ids.len(), platforms.len());
    assert!(got.iter().all(|g| g.signature_ok));
    let ds = deliveries(&a, hook["id"].as_str().unwrap()).await;
    assert!(ds
        .iter()
        .all(|d| d["status"] == "delivered" && d["attempts"] == 1));
}

/// An app with the production default: webhooks may not reach private networks.
async fn app_refusing_private() -> TestApp {
    TestApp::spawn_with(common::Setup {
        config: Box::new(|c| c.webhooks_allow_private_networks = false),
        ..common::Setup::default()
    })
    .await
}

#[tokio::test]
async fn private_destinations_are_refused_when_added() {
    let app = app_refusing_private().await;
    assert!(!switchboard_server::Config::default().webhooks_allow_private_networks);
    for (url, shown) in [
        (
            "http://127.0.0.1:5432/",
            "127.0.0.1 is a private address (loopback)",
        ),
        (
            "http://169.254.169.254/latest/meta-data/",
            "169.254.169.254 is a private address (link-local",
        ),
        (
            "http://10.0.0.5/hook",
            "10.0.0.5 is a private address (private network",
        ),
        (
            "https://192.168.1.10/hook",
            "192.168.1.10 is a private address",
        ),
        (
            "http://100.64.0.1/hook",
            "100.64.0.1 is a private address (shared",
        ),
        (
            "http://[::1]:8080/hook",
            "::1 is a private address (loopback",
        ),
        (
            "http://[fd00::5]/hook",
            "fd00::5 is a private address (unique local",
        ),
        (
            "http://[::ffff:127.0.0.1]/hook",
            "::ffff:127.0.0.1 is a private address (loopback)",
        ),
        (
            "http://0.0.0.0:8080/hook",
            "0.0.0.0 is a private address (unspecified",
        ),
        // Numeric spellings are normalised before the check.
        ("http://2130706433/hook", "127.0.0.1 is a private address"),
        // A name is resolved and its addresses checked.
        (
            "http://localhost:9/hook",
            "localhost resolves to a private address",
        ),
    ] {
        let (s, v) = app.post("/v1/webhooks", json!({"url": url})).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {v}");
        assert_eq!(v["field"], "url", "{url}: {v}");
        let detail = v["detail"].as_str().unwrap_or_default();
        assert!(detail.contains(shown), "{url}: {v}");
        assert!(
            detail.ends_with("set webhooks_allow_private_networks to allow"),
            "{url}: {v}"
        );
    }
    // Credentials in the URL: refused, and not echoed.
    let (s, v) = app
        .post(
            "/v1/webhooks",
            json!({"url": "https://user:hunter2@hooks.example/x"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["field"], "url");
    assert!(v["detail"].as_str().unwrap().contains("credentials"), "{v}");
    assert!(!v.to_string().contains("hunter2"), "{v}");
    let (s, v) = app
        .post(
            "/v1/webhooks",
            json!({"url": "https://token@hooks.example/x"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    // Nothing was stored; a public address is accepted.
    let (_, list) = app.get("/v1/webhooks").await;
    assert_eq!(list["data"], json!([]));
    add_webhook(&app, "https://8.8.8.8/hook", None).await;
    add_webhook(&app, "https://hooks.example/hook", None).await;

    // The operator's opt-out lets the same addresses through (the harness's default).
    let open = TestApp::spawn().await;
    assert!(open.state.config().webhooks_allow_private_networks);
    add_webhook(&open, "http://127.0.0.1:5432/", None).await;
    add_webhook(&open, "http://localhost:9/hook", None).await;
}

/// Stores an endpoint directly (as one added before the DNS changed, or before the operator
/// turned the opt-out off).
async fn stored_webhook(app: &TestApp, url: &str) -> String {
    let id = uuid::Uuid::now_v7().to_string();
    app.state
        .store()
        .create_webhook(&switchboard_store::webhooks::Webhook {
            secret_sealed: app.state.keyring().seal(
                &switchboard_server::webhooks::secret_context(&id),
                "whsec_stored",
            ),
            id: id.clone(),
            workspace_id: app.workspace_id.clone(),
            url: url.to_string(),
            events: vec![],
            description: None,
            created_at: app.clock.now(),
        })
        .await
        .unwrap();
    id
}

#[tokio::test]
async fn a_private_destination_is_refused_at_delivery_and_not_retried() {
    let app = app_refusing_private().await;
    let rx = Receiver::start(app.clock.clone()).await;
    let port = rx.url.rsplit(':').next().unwrap().to_string();
    // Through DNS (the resolver filters at delivery time) and as an address literal.
    let by_name = stored_webhook(&app, &format!("http://localhost:{port}/hook")).await;
    let by_address = stored_webhook(&app, &format!("{}/hook", rx.url)).await;
    app.connect("twitter").await;
    assert_eq!(tick(&app.state).await.unwrap(), 2);
    assert!(rx.got().is_empty(), "nothing reached the private receiver");
    for (id, shown) in [
        (&by_name, "localhost resolves to a private address"),
        (&by_address, "127.0.0.1 is a private address (loopback)"),
    ] {
        let ds = deliveries(&app, id).await;
        assert_eq!(ds.len(), 1);
        assert_eq!(ds[0]["status"], "failed", "{ds:?}");
        assert_eq!(ds[0]["attempts"], 1);
        let error = ds[0]["last_error"].as_str().unwrap();
        assert!(error.contains(shown), "{error}");
        assert!(
            error.ends_with("set webhooks_allow_private_networks to allow"),
            "{error}"
        );
    }
    // Not retried, however long one waits.
    app.clock.advance(Duration::hours(8));
    assert_eq!(tick(&app.state).await.unwrap(), 0);
    assert!(rx.got().is_empty());
}

/// A receiver that answers 200 after `delay`, counting requests in flight.
#[derive(Clone, Default)]
struct Counting {
    in_flight: Arc<std::sync::atomic::AtomicUsize>,
    max_in_flight: Arc<std::sync::atomic::AtomicUsize>,
    done: Arc<std::sync::atomic::AtomicUsize>,
}

async fn counting_receiver(
    delay: std::time::Duration,
    on_request: Arc<dyn Fn() + Send + Sync>,
) -> (String, Counting) {
    use std::sync::atomic::Ordering::SeqCst;
    let c = Counting::default();
    let state = (c.clone(), on_request);
    let app = axum::Router::new()
        .fallback(axum::routing::post(
            move |State((c, on_request)): State<(Counting, Arc<dyn Fn() + Send + Sync>)>| async move {
                let now = c.in_flight.fetch_add(1, SeqCst) + 1;
                c.max_in_flight.fetch_max(now, SeqCst);
                on_request();
                tokio::time::sleep(delay).await;
                c.in_flight.fetch_sub(1, SeqCst);
                c.done.fetch_add(1, SeqCst);
                AxumStatus::OK
            },
        ))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, c)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_slow_receiver_does_not_hold_every_delivery_slot() {
    use std::sync::atomic::Ordering::SeqCst;
    let app = TestApp::spawn().await;
    let cap = app.state.config().webhook_per_receiver;
    assert_eq!(cap, 4, "the default");
    let (slow_url, slow) =
        counting_receiver(std::time::Duration::from_secs(2), Arc::new(|| {})).await;
    // At each fast delivery: how many slow ones had finished by then.
    let slow_done_at_fast = Arc::new(Mutex::new(Vec::new()));
    let (fast_url, fast) = {
        let seen = slow_done_at_fast.clone();
        let slow = slow.clone();
        counting_receiver(
            std::time::Duration::ZERO,
            Arc::new(move || seen.lock().unwrap().push(slow.done.load(SeqCst))),
        )
        .await
    };
    let slow_hook = add_webhook(&app, &slow_url, Some(&["connection.created"])).await;
    let fast_hook = add_webhook(&app, &fast_url, Some(&["connection.refreshed"])).await;
    // Twelve for the slow receiver, queued first (they come first in due order), then eight
    // for the fast one.
    for i in 0..12 {
        switchboard_server::events::emit(
            &app.state,
            &app.workspace_id,
            None,
            "connection.created",
            json!({"i": i}),
        )
        .await;
    }
    for i in 0..8 {
        switchboard_server::events::emit(
            &app.state,
            &app.workspace_id,
            None,
            "connection.refreshed",
            json!({"i": i}),
        )
        .await;
    }
    let started = std::time::Instant::now();
    let n = tick(&app.state).await.unwrap();
    let took = started.elapsed();
    assert_eq!(n, 20);
    assert_eq!(slow.done.load(SeqCst), 12);
    assert_eq!(fast.done.load(SeqCst), 8);
    // The slow receiver never had more than its cap in flight, and did have that many.
    assert_eq!(
        slow.max_in_flight.load(SeqCst),
        cap,
        "slow receiver's concurrency"
    );
    // Every fast delivery arrived while the slow receiver's first wave was still in flight.
    let seen = slow_done_at_fast.lock().unwrap().clone();
    assert_eq!(seen.len(), 8);
    assert!(
        seen.iter().all(|d| *d == 0),
        "slow deliveries finished before fast ones: {seen:?}"
    );
    // Three waves of four at 2 s each.
    assert!(took >= std::time::Duration::from_secs(6), "{took:?}");
    for hook in [&slow_hook, &fast_hook] {
        let ds = deliveries(&app, hook["id"].as_str().unwrap()).await;
        assert!(
            ds.iter()
                .all(|d| d["status"] == "delivered" && d["attempts"] == 1),
            "{ds:?}"
        );
    }
}
