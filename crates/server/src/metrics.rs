//! Prometheus metrics, served on a listener of their own (`metrics_listen`, off by default) so
//! that they never show on the public API address.
//!
//! Recording goes through the `metrics` facade everywhere (cheap no-ops until [`install`] sets
//! the process-wide recorder); `metrics-exporter-prometheus` renders the text format at
//! `GET /metrics`. Every name, label and unit is listed in `docs/OBSERVABILITY.md`:
//!
//! | metric | type | labels |
//! |---|---|---|
//! | [`HTTP_REQUEST_DURATION`] | histogram, seconds | `method`, `route` (the route template, e.g. `/v1/connections/{id}/token`; `unmatched` for 404s), `status` (`2xx`...) |
//! | [`REFRESHES`] | counter | `platform`, `outcome` (`success`, `retryable_failure`, `needs_reauth`, `failure`) |
//! | [`PUBLISHES`] | counter | `platform`, `outcome` (`published`, `retry`, `failed`, `unknown`) |
//! | [`PUBLISH_LATENESS`] | histogram, seconds | `platform` |
//! | [`WEBHOOK_DELIVERIES`] | counter | `outcome` (`delivered`, `retry`, `failed`) |
//! | [`PLATFORM_CALL_DURATION`] | histogram, seconds | `platform`, `call`, `host`, `status` (HTTP status or `error`) |
//! | [`QUEUE_DEPTH`] | gauge | `queue` (`refresh_due`, `publish_due`, `publish_in_flight`, `webhooks_pending`) |
//! | [`DISK_FREE`] | gauge, bytes | `volume` (`database`: the SQLite file's directory; `media`) |
//!
//! The queue depth is sampled every [`QUEUE_SAMPLE_SECS`] by one cheap query per queue
//! ([`switchboard_store::queue_depth`]), never per request.

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use switchboard_store::queue_depth::QueueDepth;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::AppState;

/// API request latency, seconds, from the request reaching the router to the response head.
pub const HTTP_REQUEST_DURATION: &str = "switchboard_http_request_duration_seconds";
/// Token refreshes (on demand and in the background) by platform and outcome.
pub const REFRESHES: &str = "switchboard_refreshes_total";
/// Publishing attempts of post targets that ended a claim, by platform and outcome.
pub const PUBLISHES: &str = "switchboard_publishes_total";
/// Seconds between a target's due time and its publication.
pub const PUBLISH_LATENESS: &str = "switchboard_publish_lateness_seconds";
/// Webhook delivery attempts by outcome.
pub const WEBHOOK_DELIVERIES: &str = "switchboard_webhook_deliveries_total";
/// Duration of each call to a platform, seconds (recorded in `switchboard_oauth::http`).
pub const PLATFORM_CALL_DURATION: &str = switchboard_oauth::http::PLATFORM_CALL_DURATION;
/// Work waiting in each queue, sampled periodically.
pub const QUEUE_DEPTH: &str = "switchboard_queue_depth";

/// Free space of the filesystems Switchboard writes to, bytes, sampled with the queue depth
/// and at each `/readyz` (`routes::probes::disk_check`).
pub const DISK_FREE: &str = "switchboard_disk_free_bytes";

/// How often the queue depth is sampled, seconds.
pub const QUEUE_SAMPLE_SECS: u64 = 15;

const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];
const LATENESS_BUCKETS: &[f64] = &[
    0.5, 1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 21600.0, 86400.0,
];

/// Installs the process-wide Prometheus recorder (once; later calls return the same handle).
/// Until it is installed every metric call is a no-op.
pub fn install() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("duration_seconds".into()), LATENCY_BUCKETS)
            .and_then(|b| {
                b.set_buckets_for_metric(Matcher::Full(PUBLISH_LATENESS.into()), LATENESS_BUCKETS)
            })
            .expect("static, non-empty bucket lists");
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        if ::metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("another metrics recorder is installed; /metrics will be empty");
        }
        describe();
        handle
    })
}

fn describe() {
    use ::metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_histogram!(
        HTTP_REQUEST_DURATION,
        Unit::Seconds,
        "API request latency by route template, method and status class"
    );
    describe_counter!(
        REFRESHES,
        "Token refreshes by platform and outcome (success, retryable_failure, needs_reauth, failure)"
    );
    describe_counter!(
        PUBLISHES,
        "Post target publishing outcomes by platform (published, retry, failed, unknown)"
    );
    describe_histogram!(
        PUBLISH_LATENESS,
        Unit::Seconds,
        "Seconds between a post target's due time and its publication"
    );
    describe_counter!(
        WEBHOOK_DELIVERIES,
        "Webhook delivery attempts by outcome (delivered, retry, failed)"
    );
    describe_histogram!(
        PLATFORM_CALL_DURATION,
        Unit::Seconds,
        "Calls to the platforms by platform, call, host and HTTP status (error: no answer)"
    );
    describe_gauge!(
        DISK_FREE,
        Unit::Bytes,
        "Free space of the filesystems Switchboard writes to (database: the SQLite file's directory; media)"
    );
    describe_gauge!(
        QUEUE_DEPTH,
        "Work waiting: refresh_due, publish_due, publish_in_flight, webhooks_pending"
    );
}

/// Binds `addr`, serves `GET /metrics` there and samples the queue depth every
/// [`QUEUE_SAMPLE_SECS`], until `shutdown` turns true. Returns the bound address and the two
/// tasks.
///
/// # Errors
/// The address cannot be bound.
pub async fn start(
    addr: SocketAddr,
    state: &AppState,
    shutdown: watch::Receiver<bool>,
) -> std::io::Result<(SocketAddr, Vec<JoinHandle<()>>)> {
    let handle = install();
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    tracing::info!(listen = %bound, "metrics listening (GET /metrics)");
    let app = Router::new().route(
        "/metrics",
        get(move || async move {
            handle.run_upkeep();
            (
                [(
                    axum::http::header::CONTENT_TYPE,
                    "text/plain; version=0.0.4; charset=utf-8",
                )],
                handle.render(),
            )
                .into_response()
        }),
    );
    let mut stop = shutdown.clone();
    let server = tokio::spawn(async move {
        let result = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stop.wait_for(|s| *s).await;
            })
            .await;
        if let Err(e) = result {
            tracing::error!(error = %e, "metrics listener failed");
        }
    });
    let sampler = tokio::spawn(sample_loop(
        state.clone(),
        shutdown,
        Duration::from_secs(QUEUE_SAMPLE_SECS),
    ));
    Ok((bound, vec![server, sampler]))
}

async fn sample_loop(state: AppState, mut shutdown: watch::Receiver<bool>, period: Duration) {
    loop {
        if let Err(e) = sample_queue_depth(&state).await {
            tracing::warn!(error = %e, "queue depth could not be sampled");
        }
        let (warnings, _) = crate::routes::probes::disk_check(state.config());
        for w in warnings {
            tracing::warn!("{w}");
        }
        tokio::select! {
            _ = tokio::time::sleep(period) => {}
            _ = shutdown.wait_for(|s| *s) => break,
        }
    }
}

/// Reads the queue depth once ([`switchboard_store::queue_depth::QueueDepthStore`]) and sets
/// the [`QUEUE_DEPTH`] gauges. A refresh counts as due when the access token expires within
/// its platform's refresh buffer (`workers::refresh::buffer_for`).
///
/// # Errors
/// Database failures.
pub async fn sample_queue_depth(
    state: &AppState,
) -> Result<QueueDepth, switchboard_store::StoreError> {
    let now = state.now();
    let due: Vec<(String, chrono::DateTime<chrono::Utc>)> = state
        .catalog()
        .all()
        .iter()
        .filter(|p| p.can_refresh())
        .map(|p| {
            (
                p.id.clone(),
                now + crate::workers::refresh::buffer_for(state, p),
            )
        })
        .collect();
    let d = state.store().queue_depth(&due, now).await?;
    for (queue, n) in [
        ("refresh_due", d.refresh_due),
        ("publish_due", d.publish_due),
        ("publish_in_flight", d.publish_in_flight),
        ("webhooks_pending", d.webhooks_pending),
    ] {
        ::metrics::gauge!(QUEUE_DEPTH, "queue" => queue).set(n as f64);
    }
    Ok(d)
}

/// Middleware: times each API request into [`HTTP_REQUEST_DURATION`] by route template (never
/// the raw path, whose ids would make one series per connection), and records the connection id
/// of `/v1/connections/{id}/...` routes into the request span.
pub async fn track_http(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = method_label(req.method());
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string());
    if let Some(template) = &route {
        if let Some(id) = path_param(template, req.uri().path(), "connections") {
            tracing::Span::current().record("connection_id", id);
        }
    }
    let response = next.run(req).await;
    let status = match response.status().as_u16() {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    };
    ::metrics::histogram!(
        HTTP_REQUEST_DURATION,
        "method" => method,
        "route" => route.unwrap_or_else(|| "unmatched".to_string()),
        "status" => status,
    )
    .record(started.elapsed().as_secs_f64());
    response
}

fn method_label(m: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// The raw path segment standing where `template` has `{…}` right after the segment `after`
/// (`/v1/connections/{id}/token`, `/v1/connections/abc/token`, `connections` → `abc`).
fn path_param<'a>(template: &str, path: &'a str, after: &str) -> Option<&'a str> {
    let mut previous = "";
    for (t, p) in template.split('/').zip(path.split('/')) {
        if previous == after && t.starts_with('{') {
            return Some(p);
        }
        previous = t;
    }
    None
}

/// Counts a refresh that ran (the platform was asked, or the attempt failed before it could
/// be): `outcome` is `success`, `retryable_failure`, `needs_reauth` or `failure`.
pub fn refresh(platform: &str, outcome: &'static str) {
    ::metrics::counter!(REFRESHES, "platform" => platform.to_string(), "outcome" => outcome)
        .increment(1);
}

/// Counts the end of a publishing claim: `published`, `retry`, `failed` or `unknown`.
pub fn publish(platform: &str, outcome: &'static str) {
    ::metrics::counter!(PUBLISHES, "platform" => platform.to_string(), "outcome" => outcome)
        .increment(1);
}

/// Records how late a target was published, seconds (negative lateness counts as 0).
pub fn publish_lateness(platform: &str, seconds: f64) {
    ::metrics::histogram!(PUBLISH_LATENESS, "platform" => platform.to_string())
        .record(seconds.max(0.0));
}

/// Counts a webhook delivery attempt: `delivered`, `retry` or `failed`.
pub fn webhook_delivery(outcome: &'static str) {
    ::metrics::counter!(WEBHOOK_DELIVERIES, "outcome" => outcome).increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_param_reads_the_id_after_its_resource() {
        assert_eq!(
            path_param(
                "/v1/connections/{id}/token",
                "/v1/connections/c-1/token",
                "connections"
            ),
            Some("c-1")
        );
        assert_eq!(
            path_param("/v1/connections", "/v1/connections", "connections"),
            None
        );
        assert_eq!(
            path_param("/v1/posts/{id}", "/v1/posts/p-1", "connections"),
            None
        );
    }
}
