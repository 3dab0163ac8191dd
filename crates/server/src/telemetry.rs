//! Logging, error reporting and trace export for the `serve` process: one `tracing` subscriber
//! with
//!
//! - the log lines (JSON by default: one object per line with the request span's `request_id`,
//!   `workspace_id`, `connection_id`, and each platform call's span), filtered by
//!   `SWITCHBOARD_LOG` / `RUST_LOG` (default `info`);
//! - optionally **Sentry** (`sentry_dsn`): `ERROR` events and panics become Sentry events,
//!   `WARN`/`INFO` lines their breadcrumbs. `send_default_pii` is off and [`scrub_event`] strips
//!   query strings, cookies, headers and bodies from every event before it leaves;
//! - optionally **OpenTelemetry** (`otlp_endpoint`): every span (API requests, platform calls,
//!   worker items) is exported over OTLP/HTTP (protobuf) to `{otlp_endpoint}/v1/traces` by a
//!   batch processor, service name `switchboard`.
//!
//! Without a DSN or an endpoint nothing of either is started: no client, no thread, no
//! connection ([`Telemetry::sentry_enabled`], [`Telemetry::otlp_enabled`]).

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use secrecy::{ExposeSecret, SecretString};
use tracing_subscriber::fmt::writer::BoxMakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer as _;

/// What to set up.
pub struct TelemetrySettings {
    /// One JSON object per log line (otherwise compact text).
    pub json: bool,
    /// `tracing` filter directives (`info`, `switchboard_server=debug,info`...).
    pub filter: String,
    /// Where log lines go (standard error for `serve`).
    pub writer: BoxMakeWriter,
    /// Report errors and panics to this Sentry DSN.
    pub sentry_dsn: Option<SecretString>,
    /// Export spans to this OTLP/HTTP collector base URL.
    pub otlp_endpoint: Option<String>,
}

impl std::fmt::Debug for TelemetrySettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelemetrySettings")
            .field("json", &self.json)
            .field("filter", &self.filter)
            .field("sentry", &self.sentry_dsn.is_some())
            .field("otlp_endpoint", &self.otlp_endpoint)
            .finish_non_exhaustive()
    }
}

impl TelemetrySettings {
    /// Settings for `serve`: the configuration's DSN and endpoint, the filter from
    /// `SWITCHBOARD_LOG`, then `RUST_LOG`, else `info`; lines to standard error.
    pub fn from_config(config: &crate::Config, json: bool) -> Self {
        let filter = std::env::var("SWITCHBOARD_LOG")
            .or_else(|_| std::env::var("RUST_LOG"))
            .ok()
            .filter(|f| !f.trim().is_empty())
            .unwrap_or_else(|| "info".to_string());
        TelemetrySettings {
            json,
            filter,
            writer: BoxMakeWriter::new(std::io::stderr),
            sentry_dsn: config.sentry_dsn.clone(),
            otlp_endpoint: config.otlp_endpoint.clone(),
        }
    }
}

/// Why telemetry could not start.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// The log filter does not parse.
    #[error("setting SWITCHBOARD_LOG: {0}")]
    Filter(String),
    /// The Sentry DSN does not parse.
    #[error("setting sentry_dsn: not a Sentry DSN ({0})")]
    Dsn(String),
    /// The OTLP exporter could not be built.
    #[error("setting otlp_endpoint: {0}")]
    Otlp(String),
    /// A global subscriber is already installed.
    #[error("logging is already initialised")]
    AlreadySet,
}

/// Keeps error reporting and trace export running; dropping it flushes both (at most a few
/// seconds) and stops them.
#[must_use = "dropping Telemetry stops Sentry and OTLP export"]
pub struct Telemetry {
    sentry: Option<sentry::ClientInitGuard>,
    tracer_provider: Option<opentelemetry_sdk::trace::SdkTracerProvider>,
}

impl std::fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Telemetry")
            .field("sentry", &self.sentry_enabled())
            .field("otlp", &self.otlp_enabled())
            .finish()
    }
}

impl Telemetry {
    /// Whether a Sentry client was started.
    pub fn sentry_enabled(&self) -> bool {
        self.sentry.as_ref().is_some_and(|g| g.is_enabled())
    }

    /// Whether spans are exported over OTLP.
    pub fn otlp_enabled(&self) -> bool {
        self.tracer_provider.is_some()
    }

    /// Sends what is buffered now (spans, events), waiting at most `timeout` for Sentry.
    /// Blocking: call it off the async runtime's threads (`spawn_blocking`).
    pub fn flush(&self, timeout: Duration) {
        if let Some(p) = &self.tracer_provider {
            if let Err(e) = p.force_flush() {
                eprintln!("switchboard: OTLP span export failed: {e}");
            }
        }
        if let Some(g) = &self.sentry {
            g.flush(Some(timeout));
        }
    }
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(p) = self.tracer_provider.take() {
            let _ = p.shutdown();
        }
        if let Some(g) = self.sentry.take() {
            g.close(Some(Duration::from_secs(2)));
        }
    }
}

/// Builds the subscriber without installing it (tests use it with
/// `tracing::dispatcher::with_default`), and starts Sentry and the OTLP exporter when
/// configured.
///
/// # Errors
/// [`TelemetryError`] naming the setting at fault.
pub fn build(
    settings: TelemetrySettings,
) -> Result<(tracing::Dispatch, Telemetry), TelemetryError> {
    let filter =
        EnvFilter::try_new(&settings.filter).map_err(|e| TelemetryError::Filter(e.to_string()))?;
    let sentry = settings.sentry_dsn.as_ref().map(start_sentry).transpose()?;
    let tracer_provider = settings
        .otlp_endpoint
        .as_deref()
        .map(start_otlp)
        .transpose()?;
    let fmt = if settings.json {
        tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_writer(settings.writer)
            .boxed()
    } else {
        tracing_subscriber::fmt::layer()
            .compact()
            .with_writer(settings.writer)
            .boxed()
    };
    let otel = tracer_provider
        .as_ref()
        .map(|p| tracing_opentelemetry::layer().with_tracer(p.tracer("switchboard")));
    let sentry_layer = sentry
        .as_ref()
        .map(|_| sentry::integrations::tracing::layer());
    let subscriber = tracing_subscriber::registry()
        .with(filter)
        .with(fmt)
        .with(otel)
        .with(sentry_layer);
    Ok((
        tracing::Dispatch::new(subscriber),
        Telemetry {
            sentry,
            tracer_provider,
        },
    ))
}

/// [`build`], installed as the process's global subscriber.
///
/// # Errors
/// As [`build`], or [`TelemetryError::AlreadySet`].
pub fn init(settings: TelemetrySettings) -> Result<Telemetry, TelemetryError> {
    let (dispatch, telemetry) = build(settings)?;
    tracing::dispatcher::set_global_default(dispatch).map_err(|_| TelemetryError::AlreadySet)?;
    Ok(telemetry)
}

fn start_sentry(dsn: &SecretString) -> Result<sentry::ClientInitGuard, TelemetryError> {
    let dsn: sentry::types::Dsn = dsn
        .expose_secret()
        .parse()
        .map_err(|e: sentry::types::ParseDsnError| TelemetryError::Dsn(e.to_string()))?;
    let options = sentry::ClientOptions {
        dsn: Some(dsn),
        release: sentry::release_name!(),
        send_default_pii: false,
        attach_stacktrace: true,
        before_send: Some(Arc::new(|event| Some(scrub_event(event)))),
        before_breadcrumb: Some(Arc::new(|mut b| {
            b.message = b.message.map(|m| strip_query_strings(&m));
            for v in b.data.values_mut() {
                if let sentry::protocol::Value::String(s) = v {
                    *s = strip_query_strings(s);
                }
            }
            Some(b)
        })),
        ..Default::default()
    };
    Ok(sentry::init(options))
}

fn start_otlp(
    endpoint: &str,
) -> Result<opentelemetry_sdk::trace::SdkTracerProvider, TelemetryError> {
    use opentelemetry_otlp::WithExportConfig;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_endpoint(format!("{}/v1/traces", endpoint.trim_end_matches('/')))
        .with_timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| TelemetryError::Otlp(e.to_string()))?;
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name("switchboard")
        .build();
    Ok(opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build())
}

/// Removes from a Sentry event what could carry a token or personal data: the request's query
/// string, cookies, headers and body, and the query of every URL in the message, exception
/// values and breadcrumbs.
pub fn scrub_event(
    mut event: sentry::protocol::Event<'static>,
) -> sentry::protocol::Event<'static> {
    if let Some(req) = event.request.as_mut() {
        req.query_string = None;
        req.cookies = None;
        req.data = None;
        req.headers.clear();
        req.env.clear();
        if let Some(u) = req.url.as_mut() {
            u.set_query(None);
            u.set_fragment(None);
        }
    }
    event.message = event.message.map(|m| strip_query_strings(&m));
    if let Some(l) = event.logentry.as_mut() {
        l.message = strip_query_strings(&l.message);
    }
    for e in event.exception.values.iter_mut() {
        e.value = e.value.as_deref().map(strip_query_strings);
    }
    for b in event.breadcrumbs.values.iter_mut() {
        b.message = b.message.as_deref().map(strip_query_strings);
    }
    // Log fields travel as extra data or a context of their own.
    for v in event.extra.values_mut() {
        scrub_value(v);
    }
    for c in event.contexts.values_mut() {
        if let sentry::protocol::Context::Other(map) = c {
            for v in map.values_mut() {
                scrub_value(v);
            }
        }
    }
    event.user = None;
    event.server_name = event.server_name.map(|_| Cow::Borrowed("switchboard"));
    event
}

fn scrub_value(v: &mut sentry::protocol::Value) {
    use sentry::protocol::Value;
    match v {
        Value::String(s) => *s = strip_query_strings(s),
        Value::Array(a) => a.iter_mut().for_each(scrub_value),
        Value::Object(o) => o.values_mut().for_each(scrub_value),
        _ => {}
    }
}

/// `text` with the query string (and fragment) cut from every `http://` / `https://` URL in it.
pub fn strip_query_strings(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("http://").or_else(|| rest.find("https://")) {
        // Take whichever scheme comes first.
        let at = match (rest.find("http://"), rest.find("https://")) {
            (Some(a), Some(b)) => a.min(b),
            _ => at,
        };
        out.push_str(&rest[..at]);
        let url = &rest[at..];
        let end = url
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | ')'))
            .unwrap_or(url.len());
        let (u, tail) = url.split_at(end);
        let cut = u.find(['?', '#']).unwrap_or(u.len());
        out.push_str(&u[..cut]);
        rest = tail;
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    fn settings(sentry: Option<&str>, otlp: Option<String>) -> TelemetrySettings {
        TelemetrySettings {
            json: true,
            filter: "info".into(),
            writer: BoxMakeWriter::new(std::io::sink),
            sentry_dsn: sentry.map(|d| SecretString::from(d.to_string())),
            otlp_endpoint: otlp,
        }
    }

    #[test]
    fn without_a_dsn_or_endpoint_nothing_starts() {
        let (_dispatch, t) = build(settings(None, None)).unwrap();
        assert!(!t.sentry_enabled());
        assert!(!t.otlp_enabled());
    }

    /// A tiny Sentry receiver: an `ERROR` line arrives as an event, its URLs without queries.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn errors_reach_sentry_without_query_strings() {
        let received: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
        let store = received.clone();
        let app =
            axum::Router::new().fallback(axum::routing::post(move |body: axum::body::Bytes| {
                let store = store.clone();
                async move {
                    store.lock().unwrap().push(body.to_vec());
                    axum::http::StatusCode::OK
                }
            }));
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let dsn = format!("http://publickey@{}/42", l.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(l, app).await });

        let (dispatch, t) = tokio::task::spawn_blocking(move || build(settings(Some(&dsn), None)))
            .await
            .unwrap()
            .unwrap();
        assert!(t.sentry_enabled() && !t.otlp_enabled());
        tracing::dispatcher::with_default(&dispatch, || {
            tracing::error!(
                url = "https://graph.test/me?access_token=sbx-facebook-at-FIELDSECRET",
                "platform call https://graph.test/me?access_token=sbx-facebook-at-MSGSECRET failed"
            );
        });
        let t = tokio::task::spawn_blocking(move || {
            t.flush(Duration::from_secs(5));
            t
        })
        .await
        .unwrap();
        let all = String::from_utf8_lossy(&received.lock().unwrap().concat()).into_owned();
        assert!(
            all.contains("platform call https://graph.test/me failed"),
            "{all}"
        );
        assert!(!all.contains("SECRET"), "{all}");
        tokio::task::spawn_blocking(move || drop(t)).await.unwrap();
    }

    #[test]
    fn query_strings_are_stripped() {
        assert_eq!(
            strip_query_strings(
                "GET https://graph.facebook.com/v19.0/me?access_token=EAAB#x failed; see http://a.test/p?q=1 now"
            ),
            "GET https://graph.facebook.com/v19.0/me failed; see http://a.test/p now"
        );
        let mut event = sentry::protocol::Event {
            message: Some("call to https://x.test/a?token=sbx-x-at-SECRET broke".into()),
            ..Default::default()
        };
        event.request = Some(sentry::protocol::Request {
            url: Some(
                "https://sb.test/v1/oauth/callback/x?code=c&state=s"
                    .parse()
                    .unwrap(),
            ),
            query_string: Some("code=c&state=s".into()),
            ..Default::default()
        });
        let scrubbed = serde_json::to_string(&scrub_event(event)).unwrap();
        assert!(!scrubbed.contains("SECRET"), "{scrubbed}");
        assert!(!scrubbed.contains("code=c"), "{scrubbed}");
        assert!(
            scrubbed.contains("https://sb.test/v1/oauth/callback/x"),
            "{scrubbed}"
        );
    }

    /// A tiny OTLP/HTTP receiver: spans emitted under the subscriber arrive at `/v1/traces`.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn spans_arrive_at_an_otlp_endpoint() {
        let received: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
        let store = received.clone();
        let app = axum::Router::new().route(
            "/v1/traces",
            axum::routing::post(move |body: axum::body::Bytes| {
                let store = store.clone();
                async move {
                    store.lock().unwrap().push(body.to_vec());
                    axum::http::StatusCode::OK
                }
            }),
        );
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", l.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(l, app).await });

        let (dispatch, t) =
            tokio::task::spawn_blocking(move || build(settings(None, Some(endpoint))))
                .await
                .unwrap()
                .unwrap();
        assert!(t.otlp_enabled() && !t.sentry_enabled());
        tracing::dispatcher::with_default(&dispatch, || {
            let span = tracing::info_span!("otlp_test_span", platform = "twitter");
            let _e = span.enter();
            tracing::info!("inside the test span");
        });
        let t = tokio::task::spawn_blocking(move || {
            t.flush(Duration::from_secs(5));
            t
        })
        .await
        .unwrap();
        let bodies = received.lock().unwrap().clone();
        assert!(!bodies.is_empty(), "the collector received no export");
        let all: Vec<u8> = bodies.concat();
        let contains = |needle: &[u8]| all.windows(needle.len()).any(|w| w == needle);
        assert!(
            contains(b"otlp_test_span"),
            "the span name is in the export"
        );
        assert!(
            contains(b"switchboard"),
            "the service name is in the export"
        );
        tokio::task::spawn_blocking(move || drop(t)).await.unwrap();
    }
}
