//! Prometheus metrics: `serve` starts the exporter on `metrics_listen`; after real traffic
//! (connect, refresh, a failing refresh, a publish, webhook deliveries, an unknown route) the
//! scrape shows each series with its labels and counts. One test per binary: the recorder is
//! process-wide, so nothing else here records meanwhile.

mod common;

use std::collections::BTreeMap;

use chrono::Duration;
use common::{Setup, TestApp};
use reqwest::StatusCode;
use serde_json::json;

/// One sample of the scrape: metric name, labels, value.
#[derive(Debug, Clone)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

fn parse(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            let (name, labels) = match series.split_once('{') {
                Some((n, rest)) => (n, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            let labels = labels
                .split("\",")
                .filter(|p| !p.is_empty())
                .filter_map(|p| {
                    let (k, v) = p.split_once('=')?;
                    Some((k.to_string(), v.trim_matches('"').to_string()))
                })
                .collect();
            Some(Sample {
                name: name.to_string(),
                labels,
                value: value.parse().ok()?,
            })
        })
        .collect()
}

/// The value of the one series of `name` whose labels include `labels` (0 when absent).
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    let found: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.name == name)
        .filter(|s| {
            labels
                .iter()
                .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .collect();
    assert!(found.len() <= 1, "{name} {labels:?} matches {found:#?}");
    found.first().map(|s| s.value).unwrap_or(0.0)
}

async fn scrape(http: &reqwest::Client, base: &str) -> (String, Vec<Sample>) {
    let r = http.get(format!("{base}/metrics")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = r.text().await.unwrap();
    let samples = parse(&text);
    (text, samples)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap()
}

/// A webhook receiver answering `codes` in turn (then 200).
async fn receiver(codes: Vec<u16>) -> String {
    let codes = std::sync::Arc::new(std::sync::Mutex::new(std::collections::VecDeque::from(
        codes,
    )));
    let app = axum::Router::new().fallback(axum::routing::post(move || {
        let codes = codes.clone();
        async move {
            let c = codes.lock().unwrap().pop_front().unwrap_or(200);
            axum::http::StatusCode::from_u16(c).unwrap()
        }
    }));
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await });
    url
}

#[tokio::test]
async fn the_exporter_serves_every_series_with_its_labels_after_traffic() {
    let port = free_port();
    let app = TestApp::spawn_with(Setup {
        config: Box::new(move |c| c.metrics_listen = Some(([127, 0, 0, 1], port).into())),
        ..Setup::default()
    })
    .await;
    let base = format!("http://127.0.0.1:{port}");
    // The exporter is up as soon as `serve` runs; the API address does not serve metrics.
    let mut up = false;
    for _ in 0..200 {
        if app.http.get(format!("{base}/metrics")).send().await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(up, "metrics listener on {base}");
    let (s, _) = app.get("/metrics").await;
    assert_eq!(s, StatusCode::NOT_FOUND, "not on the public API");

    // Traffic: a connect flow, token reads, a 404, a forced refresh and a failing one.
    let conn = app.connect("twitter").await;
    let id = conn["id"].as_str().unwrap().to_string();
    for _ in 0..3 {
        let (s, v) = app.get(&format!("/v1/connections/{id}/token")).await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }
    let (s, _) = app.get("/v1/no-such-thing/123").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, v) = app
        .post(&format!("/v1/connections/{id}/refresh"), json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    app.fault(json!({"platform": "twitter", "endpoint": "refresh", "status": 503, "times": 1}))
        .await;
    let (s, _) = app
        .post(&format!("/v1/connections/{id}/refresh"), json!({}))
        .await;
    assert!(!s.is_success(), "the injected 503 fails the refresh");

    // A webhook delivered once, another attempt answered 500 (retried later).
    let hook_url = receiver(vec![200, 500]).await;
    let (s, v) = app
        .post(
            "/v1/webhooks",
            json!({"url": hook_url, "events": ["post.published"]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");

    // Two posts due now: the queue depth shows them before the dispatcher runs.
    for text in ["metrics one", "metrics two"] {
        let (s, v) = app
            .post(
                "/v1/posts",
                json!({"content": {"text": text}, "connection_ids": [id]}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
    }
    let depth = switchboard_server::metrics::sample_queue_depth(&app.state)
        .await
        .unwrap();
    assert_eq!(depth.publish_due, 2, "{depth:?}");
    assert_eq!(depth.publish_in_flight, 0, "{depth:?}");
    let (_, samples) = scrape(&app.http, &base).await;
    assert_eq!(
        value(
            &samples,
            "switchboard_queue_depth",
            &[("queue", "publish_due")]
        ),
        2.0
    );

    // Publish them 90 s late (the clock moves), then deliver the webhooks.
    app.clock.advance(Duration::seconds(90));
    let handled = switchboard_server::workers::publish::tick(&app.state)
        .await
        .unwrap();
    assert_eq!(handled, 2);
    for _ in 0..2 {
        switchboard_server::workers::webhooks::tick(&app.state)
            .await
            .unwrap();
    }
    let depth = switchboard_server::metrics::sample_queue_depth(&app.state)
        .await
        .unwrap();
    assert_eq!(depth.publish_due, 0, "{depth:?}");
    assert_eq!(
        depth.webhooks_pending, 0,
        "the retry waits for its back-off: {depth:?}"
    );
    let (text, samples) = scrape(&app.http, &base).await;
    let http = "switchboard_http_request_duration_seconds_count";
    assert_eq!(
        value(
            &samples,
            http,
            &[
                ("route", "/v1/connections/{id}/token"),
                ("method", "GET"),
                ("status", "2xx")
            ]
        ),
        3.0,
        "{text}"
    );
    assert_eq!(
        value(
            &samples,
            http,
            &[
                ("route", "/v1/connect/{platform}"),
                ("method", "POST"),
                ("status", "2xx")
            ]
        ),
        1.0,
        "{text}"
    );
    assert_eq!(
        value(
            &samples,
            http,
            &[("route", "unmatched"), ("method", "GET"), ("status", "4xx")]
        ),
        2.0,
        "/metrics and /v1/no-such-thing/123 on the API address: {text}"
    );
    assert!(
        !text.contains(&id),
        "no series is labelled with a connection id"
    );
    assert!(
        text.contains("switchboard_http_request_duration_seconds_bucket{"),
        "latency is a histogram with buckets"
    );

    let refreshes = "switchboard_refreshes_total";
    assert_eq!(
        value(
            &samples,
            refreshes,
            &[("platform", "twitter"), ("outcome", "success")]
        ),
        1.0,
        "{text}"
    );
    assert_eq!(
        value(
            &samples,
            refreshes,
            &[("platform", "twitter"), ("outcome", "retryable_failure")]
        ),
        1.0,
        "{text}"
    );

    assert_eq!(
        value(
            &samples,
            "switchboard_publishes_total",
            &[("platform", "twitter"), ("outcome", "published")]
        ),
        2.0,
        "{text}"
    );
    let lateness_count = value(
        &samples,
        "switchboard_publish_lateness_seconds_count",
        &[("platform", "twitter")],
    );
    assert_eq!(lateness_count, 2.0, "{text}");
    let lateness_sum = value(
        &samples,
        "switchboard_publish_lateness_seconds_sum",
        &[("platform", "twitter")],
    );
    assert!(
        (180.0..200.0).contains(&lateness_sum),
        "two posts, each about 90 s late: {lateness_sum}"
    );
    assert_eq!(
        value(
            &samples,
            "switchboard_publish_lateness_seconds_bucket",
            &[("platform", "twitter"), ("le", "60")]
        ),
        0.0
    );
    assert_eq!(
        value(
            &samples,
            "switchboard_publish_lateness_seconds_bucket",
            &[("platform", "twitter"), ("le", "120")]
        ),
        2.0
    );

    let webhooks = "switchboard_webhook_deliveries_total";
    assert_eq!(
        value(&samples, webhooks, &[("outcome", "delivered")]),
        1.0,
        "{text}"
    );
    assert_eq!(
        value(&samples, webhooks, &[("outcome", "retry")]),
        1.0,
        "{text}"
    );

    let calls = "switchboard_platform_call_duration_seconds_count";
    let sandbox_host = url::Url::parse(&app.sandbox)
        .unwrap()
        .host_str()
        .unwrap()
        .to_string();
    for (call, status, n) in [
        ("token", "200", 1.0),
        ("refresh", "200", 1.0),
        ("refresh", "503", 1.0),
    ] {
        assert_eq!(
            value(
                &samples,
                calls,
                &[
                    ("platform", "twitter"),
                    ("call", call),
                    ("host", &sandbox_host),
                    ("status", status)
                ]
            ),
            n,
            "{call} {status}: {text}"
        );
    }
    let publish_calls: f64 = samples
        .iter()
        .filter(|s| {
            s.name == calls && s.labels.get("platform").map(String::as_str) == Some("twitter")
        })
        .filter(|s| {
            !matches!(
                s.labels.get("call").map(String::as_str),
                Some("token" | "refresh" | "profile")
            )
        })
        .map(|s| s.value)
        .sum();
    assert!(
        publish_calls >= 2.0,
        "the publishing calls are timed too: {text}"
    );
    assert!(
        text.contains("# TYPE switchboard_queue_depth gauge"),
        "{text}"
    );
    assert!(
        text.contains("# HELP switchboard_refreshes_total"),
        "{text}"
    );
}
