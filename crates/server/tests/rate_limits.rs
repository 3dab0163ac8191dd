//! Abuse protection over HTTP (issue 7 item 6): shared rate limits (429 problem+json with
//! `Retry-After` and `RateLimit-*`), per workspace and per client address, counted together by
//! two server instances on one PostgreSQL database, windows that reset with the clock, trusted
//! proxies, and the 413 problem naming the body limit.

mod common;

use common::{read, Db, Setup, TestApp};
use reqwest::header::{AUTHORIZATION, RETRY_AFTER};
use reqwest::StatusCode;
use serde_json::{json, Value};
use switchboard_server::config::RateLimitConfig;
use switchboard_server::Config;

/// Window of the tests, seconds: long, so that real time passing never ends one mid-test.
const WINDOW: u64 = 3600;

/// Limits that never trigger, with `f` applied.
fn limits(f: impl FnOnce(&mut RateLimitConfig)) -> RateLimitConfig {
    let mut r = RateLimitConfig {
        enabled: true,
        window_secs: WINDOW,
        api_per_workspace: 1_000_000,
        api_per_address: 1_000_000,
        connect_per_workspace: 1_000_000,
        connect_per_address: 1_000_000,
        callback_per_address: 1_000_000,
        sign_in_per_address: 1_000_000,
    };
    f(&mut r);
    r
}

fn with_limits(
    db: Db,
    r: RateLimitConfig,
    extra: impl FnOnce(&mut Config) + Send + 'static,
) -> Setup {
    Setup {
        db,
        config: Box::new(move |c: &mut Config| {
            c.rate_limits = r;
            extra(c);
        }),
        ..Setup::default()
    }
}

/// Moves the app's clock to one second into a fresh window, so a test owns a whole window.
fn align(app: &TestApp) {
    let now = app.state.now().timestamp_millis();
    let w = (WINDOW * 1000) as i64;
    let to_next = w - now.rem_euclid(w);
    app.clock
        .advance(chrono::Duration::milliseconds(to_next + 1000));
}

async fn get_with(app: &TestApp, key: &str, path: &str) -> reqwest::Response {
    app.http
        .get(format!("{}{path}", app.api))
        .header(AUTHORIZATION, format!("Bearer {key}"))
        .send()
        .await
        .expect("request")
}

fn header(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_string())
}

#[tokio::test]
async fn over_the_limit_is_429_with_retry_after_until_the_window_resets() {
    let app = TestApp::spawn_with(with_limits(
        Db::Sqlite,
        limits(|r| r.api_per_workspace = 3),
        |_| {},
    ))
    .await;
    align(&app);
    for i in 0..3u64 {
        let r = get_with(&app, &app.key, "/v1/connections").await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(header(&r, "ratelimit-limit").as_deref(), Some("3"));
        assert_eq!(
            header(&r, "ratelimit-remaining"),
            Some((2 - i).to_string()),
            "request {i}"
        );
        assert_eq!(header(&r, "ratelimit-policy").as_deref(), Some("3;w=3600"));
    }
    let r = get_with(&app, &app.key, "/v1/connections").await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    // One second into the window: 3599 seconds to its end.
    let retry: u64 = header(&r, RETRY_AFTER.as_str()).unwrap().parse().unwrap();
    assert!((3598..=3599).contains(&retry), "Retry-After {retry}");
    assert_eq!(header(&r, "ratelimit-remaining").as_deref(), Some("0"));
    assert_eq!(header(&r, "ratelimit-reset"), Some(retry.to_string()));
    assert_eq!(
        header(&r, "content-type").as_deref(),
        Some("application/problem+json")
    );
    let (_, body) = read(r).await;
    assert_eq!(
        body["type"],
        "https://switchboard.dev/problems/rate-limited"
    );
    assert_eq!(body["status"], 429);
    assert_eq!(body["group"], "api");
    assert_eq!(body["per"], "workspace");
    assert_eq!(body["limit"], 3);
    assert_eq!(body["retry_after_secs"], retry);
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("more than 3 api requests per 3600 s from this workspace"),
        "{body}"
    );
    // Probes are never limited.
    let r = app
        .http
        .get(format!("{}/healthz", app.api))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // The window ends: the workspace may call again.
    app.clock
        .advance(chrono::Duration::seconds(retry as i64 + 1));
    let r = get_with(&app, &app.key, "/v1/connections").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(header(&r, "ratelimit-remaining").as_deref(), Some("2"));
}

#[tokio::test]
async fn workspaces_have_separate_budgets() {
    let app = TestApp::spawn_with(with_limits(
        Db::Sqlite,
        limits(|r| r.api_per_workspace = 2),
        |_| {},
    ))
    .await;
    align(&app);
    let (_, other_key) =
        switchboard_server::create_workspace(app.state.store().as_ref(), "Other", app.state.now())
            .await
            .unwrap();
    for _ in 0..2 {
        assert_eq!(
            get_with(&app, &app.key, "/v1/connections").await.status(),
            StatusCode::OK
        );
    }
    assert_eq!(
        get_with(&app, &app.key, "/v1/connections").await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    // The other workspace, from the same address, still has its own two.
    for _ in 0..2 {
        assert_eq!(
            get_with(&app, &other_key, "/v1/connections").await.status(),
            StatusCode::OK
        );
    }
    assert_eq!(
        get_with(&app, &other_key, "/v1/connections").await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn connect_and_callback_are_limited_per_client_address() {
    let app = TestApp::spawn_with(with_limits(
        Db::Sqlite,
        limits(|r| {
            r.connect_per_address = 2;
            r.callback_per_address = 2;
        }),
        |_| {},
    ))
    .await;
    align(&app);
    // One full connect (one start, one callback), then one more start: the start budget is spent.
    app.connect("twitter").await;
    let (s, _) = app
        .post("/v1/connect/twitter", json!({"owner": "user-1"}))
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, body) = app
        .post("/v1/connect/twitter", json!({"owner": "user-1"}))
        .await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["group"], "connect");
    assert_eq!(body["per"], "client address");
    // Callbacks need no API key and are counted by address: one used, one forged, then 429.
    let forged = format!("{}/v1/oauth/callback/twitter?state=forged&code=x", app.api);
    let (s, _) = app.callback(&forged).await;
    assert_ne!(s, StatusCode::TOO_MANY_REQUESTS);
    let (s, body) = app.callback(&forged).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["group"], "callback");
    // The rest of the API is another group.
    let (s, _) = app.get("/v1/connections").await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn forwarded_for_counts_only_behind_a_trusted_proxy() {
    async fn hit(app: &TestApp, forwarded_for: &str) -> StatusCode {
        app.http
            .get(format!(
                "{}/v1/oauth/callback/twitter?state=forged&code=x",
                app.api
            ))
            .header("X-Forwarded-For", forwarded_for)
            .header("Accept", "application/json")
            .send()
            .await
            .unwrap()
            .status()
    }
    // Without trusted proxies the header is ignored: both "clients" share the peer's budget.
    let app = TestApp::spawn_with(with_limits(
        Db::Sqlite,
        limits(|r| r.callback_per_address = 1),
        |_| {},
    ))
    .await;
    align(&app);
    assert_ne!(
        hit(&app, "198.51.100.1").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        hit(&app, "198.51.100.2").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // Behind a trusted proxy (the test client's 127.0.0.1) each forwarded client has its own.
    let app = TestApp::spawn_with(with_limits(
        Db::Sqlite,
        limits(|r| r.callback_per_address = 1),
        |c| c.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()],
    ))
    .await;
    align(&app);
    assert_ne!(
        hit(&app, "198.51.100.1").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_ne!(
        hit(&app, "198.51.100.2").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        hit(&app, "203.0.113.9, 198.51.100.1").await,
        StatusCode::TOO_MANY_REQUESTS,
        "the right-most untrusted hop is the client"
    );
}

/// Two instances on one PostgreSQL database: the limit holds for the sum of both, one by one
/// and in a concurrent burst, and each then refuses.
#[tokio::test]
async fn two_instances_on_one_postgres_count_together() {
    let limit = 10u64;
    let a = TestApp::spawn_with(with_limits(
        Db::Postgres,
        limits(|r| r.api_per_workspace = limit),
        |_| {},
    ))
    .await;
    let b = TestApp::spawn_with(Setup {
        sandbox_url: Some((a.sandbox.clone(), a.clock.clone())),
        ..with_limits(
            Db::Url(a.database_url.clone()),
            limits(|r| r.api_per_workspace = limit),
            |_| {},
        )
    })
    .await;
    align(&a);
    // Alternating: four each.
    for _ in 0..4 {
        for app in [&a, &b] {
            assert_eq!(
                get_with(app, &a.key, "/v1/connections").await.status(),
                StatusCode::OK
            );
        }
    }
    // A burst of 20 at once over both: exactly the 2 left pass.
    let mut burst = Vec::new();
    for i in 0..20 {
        let app = if i % 2 == 0 { &a } else { &b };
        let (http, url, key) = (
            app.http.clone(),
            format!("{}/v1/connections", app.api),
            a.key.clone(),
        );
        burst.push(tokio::spawn(async move {
            http.get(url)
                .header(AUTHORIZATION, format!("Bearer {key}"))
                .send()
                .await
                .unwrap()
                .status()
        }));
    }
    let mut ok = 0;
    for t in burst {
        match t.await.unwrap() {
            StatusCode::OK => ok += 1,
            StatusCode::TOO_MANY_REQUESTS => {}
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(
        ok, 2,
        "the burst gets exactly what is left of the shared limit"
    );
    for app in [&a, &b] {
        let r = get_with(app, &a.key, "/v1/connections").await;
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(header(&r, RETRY_AFTER.as_str()).is_some());
    }
    // B's own workspace is untouched on both instances.
    assert_eq!(
        get_with(&a, &b.key, "/v1/connections").await.status(),
        StatusCode::OK
    );
    // The next window, on the shared clock, opens on both.
    a.clock.advance(chrono::Duration::seconds(WINDOW as i64));
    for app in [&a, &b] {
        assert_eq!(
            get_with(app, &a.key, "/v1/connections").await.status(),
            StatusCode::OK
        );
    }
}

/// Far from the limit an instance reserves slots in batches, so most requests never touch the
/// database; the shared counter still never grants more than the limit.
#[tokio::test]
async fn reservations_batch_far_from_the_limit() {
    let app = TestApp::spawn_with(with_limits(
        Db::Sqlite,
        limits(|r| r.api_per_workspace = 800),
        |_| {},
    ))
    .await;
    align(&app);
    let mut ok = 0;
    let mut limited = 0;
    for _ in 0..850 {
        match get_with(&app, &app.key, "/v1/platforms").await.status() {
            StatusCode::OK => ok += 1,
            StatusCode::TOO_MANY_REQUESTS => limited += 1,
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(ok, 800);
    assert_eq!(limited, 50);
    // The counter in the store: reservations of an eighth of the headroom, then one by one,
    // then refusals until the limiter saw the window exhausted (far fewer writes than requests).
    let key = format!("api:ws:{}", app.workspace_id);
    let now = app.state.now();
    let start = now.timestamp().div_euclid(WINDOW as i64) * WINDOW as i64;
    let count = app
        .state
        .store()
        .add_to_rate_window(&key, chrono::DateTime::from_timestamp(start, 0).unwrap(), 0)
        .await
        .unwrap();
    assert!((800..=801).contains(&count), "shared count {count}");
}

#[tokio::test]
async fn disabled_limits_add_nothing() {
    let app = TestApp::spawn_with(with_limits(
        Db::Sqlite,
        RateLimitConfig {
            api_per_workspace: 1,
            ..RateLimitConfig::disabled()
        },
        |_| {},
    ))
    .await;
    for _ in 0..3 {
        let r = get_with(&app, &app.key, "/v1/connections").await;
        assert_eq!(r.status(), StatusCode::OK);
        assert!(header(&r, "ratelimit-limit").is_none());
    }
}

#[tokio::test]
async fn a_body_over_the_limit_is_a_413_problem_naming_it() {
    let app = TestApp::spawn_with(with_limits(Db::Sqlite, limits(|_| {}), |c| {
        c.max_body_bytes = 2048
    }))
    .await;
    let big = json!({"text": "x".repeat(4096)});
    // With a Content-Length.
    let (s, body) = app.post("/v1/posts", big.clone()).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    check_413(&body);
    // Chunked, without a Content-Length: cut off while read.
    let bytes = serde_json::to_vec(&big).unwrap();
    let stream = futures::stream::iter(
        bytes
            .chunks(512)
            .map(|c| Ok::<_, std::io::Error>(c.to_vec()))
            .collect::<Vec<_>>(),
    );
    let r = app
        .http
        .post(format!("{}/v1/posts", app.api))
        .header(AUTHORIZATION, format!("Bearer {}", app.key))
        .header("Content-Type", "application/json")
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["content-type"].to_str().unwrap(),
        "application/problem+json"
    );
    let (s, body) = read(r).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    check_413(&body);
    // Under the limit the body is read (and judged on its content).
    let (s, _) = app.post("/v1/posts", json!({"text": "hi"})).await;
    assert_ne!(s, StatusCode::PAYLOAD_TOO_LARGE);
}

fn check_413(body: &Value) {
    assert_eq!(
        body["type"],
        "https://switchboard.dev/problems/body-too-large"
    );
    assert_eq!(body["limit_bytes"], 2048);
    assert!(
        body["detail"].as_str().unwrap().contains("2048 bytes"),
        "{body}"
    );
}

#[tokio::test]
async fn dashboard_sign_in_attempts_are_limited_per_client_address() {
    let app = TestApp::spawn_with(with_limits(
        Db::Sqlite,
        limits(|r| r.sign_in_per_address = 2),
        |_| {},
    ))
    .await;
    align(&app);
    let attempt = || {
        app.http
            .post(format!("{}/sign-in", app.api))
            .form(&[("api_key", "sbk_wrong"), ("password", "wrong")])
            .send()
    };
    for _ in 0..2 {
        let s = attempt().await.unwrap().status();
        assert_ne!(s, StatusCode::TOO_MANY_REQUESTS);
    }
    let r = attempt().await.unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let (_, body) = read(r).await;
    assert_eq!(body["group"], "sign_in", "{body}");
    // The sign-in page itself is not limited.
    let s = app
        .http
        .get(format!("{}/sign-in", app.api))
        .send()
        .await
        .unwrap()
        .status();
    assert_ne!(s, StatusCode::TOO_MANY_REQUESTS);
}
