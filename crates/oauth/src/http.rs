//! The one place platform HTTP calls go through (OAuth, profile, health, validation and
//! publishing calls alike): a reqwest client with redirects off and timeouts, a tracing span per
//! call (platform, call, method, host, path template, status, duration; never the query, which
//! may hold secrets on Meta and Instagram, nor headers or bodies), a
//! [`PLATFORM_CALL_DURATION`] histogram sample per call, and the mapping of failures to
//! diagnoses.

use std::time::{Duration, Instant};

use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::Value;
use switchboard_core::diagnosis::{diagnose, diagnose_call, CallKind, Category, Diagnosis};
use switchboard_core::PlatformSpec;
use tracing::Instrument;

use crate::OAuthError;

/// The Prometheus histogram of platform call durations, seconds, labelled `platform`, `call`
/// (`token`, `refresh`, `profile`, `publish`...), `host` and `status` (the HTTP status, or
/// `error` when no answer came). Recorded through the `metrics` facade: a no-op until the server
/// installs a recorder.
pub const PLATFORM_CALL_DURATION: &str = "switchboard_platform_call_duration_seconds";

/// The path of a platform URL as a template for logs: segments that look like ids (4 or more
/// digits, 20 or more characters, or URNs and other encoded values) become `{id}`, so `/v19.0/1789000001/media_publish` reads `/v19.0/{id}/media_publish`. Never
/// contains the query.
pub fn path_template(path: &str) -> String {
    path.split('/')
        .map(|seg| {
            let digits = seg.chars().filter(char::is_ascii_digit).count();
            let encoded = seg.contains(':') || seg.contains('%');
            if digits >= 4 || seg.len() >= 20 || (encoded && seg.len() > 1) {
                "{id}"
            } else {
                seg
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// A platform's answer, read whole.
#[derive(Debug, Clone)]
pub struct RawResponse {
    /// HTTP status.
    pub status: StatusCode,
    /// Response headers.
    pub headers: reqwest::header::HeaderMap,
    /// Body bytes.
    pub body: Vec<u8>,
    /// When the answer arrived (the app clock).
    pub received_at: chrono::DateTime<chrono::Utc>,
    /// Which call it answered (`token`, `refresh`, `exchange`, `revoke`, `profile`, ...).
    pub call: &'static str,
}

impl RawResponse {
    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON, or an [`OAuthError::Platform`] saying the answer was unreadable.
    pub fn json(&self, platform: &PlatformSpec) -> Result<Value, OAuthError> {
        serde_json::from_slice(&self.body).map_err(|e| {
            let mut d = diagnose(&platform.id, Some(self.status.as_u16()), &self.text());
            if d.category == Category::Unknown {
                d.cause = format!(
                    "{} answered with a body that is not the JSON its API documents ({e}).",
                    platform.display_name
                );
            }
            OAuthError::platform(platform, d)
        })
    }

    /// An error diagnosis of this answer, with how long the platform asked to wait.
    pub fn error(&self, platform: &PlatformSpec) -> OAuthError {
        // Token-endpoint answers read differently (Pinterest's `code 2` there is a bad client).
        let kind = match self.call {
            "token" | "refresh" | "exchange" | "revoke" => CallKind::Token,
            "" => CallKind::Unspecified,
            _ => CallKind::Api,
        };
        let mut d = diagnose_call(&platform.id, kind, Some(self.status.as_u16()), &self.text());
        d.retry_after_secs = crate::rate_limit::retry_after_secs(&self.headers, self.received_at);
        OAuthError::platform(platform, d)
    }
}

/// The HTTP client for platform calls. Redirects are never followed: a token endpoint that
/// redirects is an error, and following it could send credentials elsewhere.
#[derive(Debug, Clone)]
pub struct PlatformHttp {
    client: reqwest::Client,
    timeout: Duration,
    clock: std::sync::Arc<dyn switchboard_core::Clock>,
    outbound: crate::outbound::OutboundPolicy,
}

impl PlatformHttp {
    /// A client whose calls time out after `timeout` (connect: at most 5 s); `clock` stamps
    /// each answer.
    pub fn new(timeout: Duration, clock: std::sync::Arc<dyn switchboard_core::Clock>) -> Self {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .user_agent(concat!("Switchboard/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("reqwest client with static settings builds");
        PlatformHttp {
            client,
            timeout,
            clock,
            outbound: Self::outbound_policy(timeout, Default::default()),
        }
    }

    fn outbound_policy(
        timeout: Duration,
        allowed: crate::outbound::AllowedOrigins,
    ) -> crate::outbound::OutboundPolicy {
        crate::outbound::OutboundPolicy::new(
            allowed,
            &crate::outbound::ClientSettings {
                timeout,
                connect_timeout: timeout.min(Duration::from_secs(5)),
                user_agent: concat!("Switchboard/", env!("CARGO_PKG_VERSION")),
                follow_redirects: true,
                advice: crate::outbound::ALLOW_ORIGINS_ADVICE,
            },
        )
    }

    /// The same client, with user-given URLs (media) allowed to reach `allowed` although
    /// private ([`crate::outbound`]).
    pub fn with_allowed_origins(mut self, allowed: crate::outbound::AllowedOrigins) -> Self {
        self.outbound = Self::outbound_policy(self.timeout, allowed);
        self
    }

    /// The policy for URLs chosen by a user (media URLs): see [`crate::outbound`].
    pub fn outbound(&self) -> &crate::outbound::OutboundPolicy {
        &self.outbound
    }

    /// Starts a request to a URL chosen by a user (a post's media URL): on the client that
    /// reaches only public addresses and the allowed origins ([`crate::outbound`]). Send it
    /// with [`PlatformHttp::send_streamed`].
    ///
    /// # Errors
    /// [`crate::outbound::Refused`] for a URL that is not `http(s)` or names a non-public
    /// address.
    pub fn user_request(
        &self,
        method: Method,
        url: &str,
    ) -> Result<RequestBuilder, crate::outbound::Refused> {
        self.outbound.request(method, url)
    }

    /// The configured timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Starts a request.
    pub fn request(&self, method: Method, url: &str) -> RequestBuilder {
        self.client.request(method, url)
    }

    /// Sends a request and reads the whole answer. Transport failures (connect, DNS, timeout,
    /// broken body) become [`OAuthError::Network`]; any HTTP status is returned as is.
    pub async fn send(
        &self,
        platform: &PlatformSpec,
        what: &'static str,
        req: RequestBuilder,
    ) -> Result<RawResponse, OAuthError> {
        self.send_tracked(platform, what, req)
            .await
            .map_err(|e| match e {
                SendError::NotSent(e) | SendError::NoAnswer(e) => e,
            })
    }

    /// As [`PlatformHttp::send`], telling apart a request that certainly did not reach the
    /// platform ([`SendError::NotSent`]: it could not connect, or the request could not be
    /// built) from one that was sent and got no (whole) answer ([`SendError::NoAnswer`]: a
    /// timeout or a broken answer, after which the platform may have acted). Publishing calls
    /// that must not be repeated blindly use it.
    ///
    /// # Errors
    /// [`SendError`].
    pub async fn send_tracked(
        &self,
        platform: &PlatformSpec,
        what: &'static str,
        req: RequestBuilder,
    ) -> Result<RawResponse, SendError> {
        let req = req.build().map_err(|e| {
            SendError::NotSent(OAuthError::Config(format!(
                "could not build the {what} request: {e}"
            )))
        })?;
        let record = CallRecord::start(platform, what, &req);
        let span = record.span.clone();
        let timeout = self.timeout;
        let call = async {
            let mut record = record;
            let resp = self.client.execute(req).await.map_err(|e| {
                let msg = transport_message(&e, timeout);
                record.finish(None, Some(&msg));
                tracing::warn!(error = %msg, "platform call failed");
                let err = OAuthError::network(platform, msg);
                if e.is_connect() || e.is_builder() {
                    SendError::NotSent(err)
                } else {
                    SendError::NoAnswer(err)
                }
            })?;
            let status = resp.status();
            let headers = resp.headers().clone();
            let body = resp.bytes().await.map_err(|e| {
                let msg = transport_message(&e, timeout);
                record.finish(None, Some(&msg));
                tracing::warn!(error = %msg, "platform call broke while reading the answer");
                SendError::NoAnswer(OAuthError::network(platform, msg))
            })?;
            record.finish(Some(status), None);
            tracing::debug!("platform call answered");
            Ok(RawResponse {
                status,
                headers,
                body: body.to_vec(),
                received_at: self.clock.now(),
                call: what,
            })
        };
        call.instrument(span).await
    }
}

impl PlatformHttp {
    /// Sends a request whose answer is read as it arrives (a media file, too large to hold in
    /// memory), with the same span and [`PLATFORM_CALL_DURATION`] sample as
    /// [`PlatformHttp::send`]: the span stays open, and the duration runs, until the answer is
    /// read whole or dropped; the status recorded is the HTTP status, or `error` when the
    /// answer broke off while being read.
    ///
    /// # Errors
    /// [`OAuthError::Network`] when no answer (head) came.
    pub async fn send_streamed(
        &self,
        platform: &PlatformSpec,
        what: &'static str,
        req: RequestBuilder,
    ) -> Result<StreamedResponse, OAuthError> {
        // The builder's own client: a user-given URL's request comes from the outbound policy.
        let (client, req) = req.build_split();
        let req = req
            .map_err(|e| OAuthError::Config(format!("could not build the {what} request: {e}")))?;
        let mut record = CallRecord::start(platform, what, &req);
        let span = record.span.clone();
        let timeout = self.timeout;
        match client.execute(req).instrument(span.clone()).await {
            Ok(resp) => {
                record.status = Some(resp.status());
                Ok(StreamedResponse {
                    resp,
                    record,
                    platform: platform.clone(),
                    timeout,
                })
            }
            Err(e) => {
                let msg = transport_message(&e, timeout);
                record.finish(None, Some(&msg));
                span.in_scope(|| tracing::warn!(error = %msg, "platform call failed"));
                // Refused by the outbound policy (a name resolving, or a redirect leading, to a
                // private address): final, and said as such.
                if let Some(r) = crate::outbound::refusal_in(&e) {
                    return Err(OAuthError::NotPossible(r.to_string()));
                }
                Err(OAuthError::network(platform, msg))
            }
        }
    }
}

/// An answer read as it arrives ([`PlatformHttp::send_streamed`]). Its call is recorded (span
/// closed, duration sampled) when the body has been read whole, broke off, or the answer is
/// dropped.
#[derive(Debug)]
pub struct StreamedResponse {
    resp: reqwest::Response,
    record: CallRecord,
    platform: PlatformSpec,
    timeout: Duration,
}

impl StreamedResponse {
    /// HTTP status.
    pub fn status(&self) -> StatusCode {
        self.resp.status()
    }

    /// Response headers.
    pub fn headers(&self) -> &reqwest::header::HeaderMap {
        self.resp.headers()
    }

    /// The `Content-Length` the answer announced, if any (read from the header: a `HEAD`
    /// answer has an empty body yet announces the size of the resource).
    pub fn content_length(&self) -> Option<u64> {
        self.resp
            .headers()
            .get(reqwest::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok())
    }

    /// The next piece of the body, `None` once it has been read whole (the call is then
    /// recorded).
    ///
    /// # Errors
    /// [`OAuthError::Network`] when the answer broke off (recorded with status `error`).
    pub async fn chunk(&mut self) -> Result<Option<Vec<u8>>, OAuthError> {
        let span = self.record.span.clone();
        match self.resp.chunk().instrument(span.clone()).await {
            Ok(Some(b)) => Ok(Some(Vec::from(b))),
            Ok(None) => {
                let status = self.record.status;
                self.record.finish(status, None);
                Ok(None)
            }
            Err(e) => {
                let msg = transport_message(&e, self.timeout);
                self.record.finish(None, Some(&msg));
                span.in_scope(
                    || tracing::warn!(error = %msg, "platform call broke while reading the answer"),
                );
                Err(OAuthError::network(&self.platform, msg))
            }
        }
    }
}

/// The one record of a platform call: its `platform_call` span (platform, call, method, host,
/// path template; then status, duration, error) and its [`PLATFORM_CALL_DURATION`] sample,
/// taken once ([`CallRecord::finish`], or on drop once an answer's head came).
#[derive(Debug)]
struct CallRecord {
    span: tracing::Span,
    started: Instant,
    platform: String,
    what: &'static str,
    host: String,
    /// The answer's status once its head came.
    status: Option<StatusCode>,
    done: bool,
}

impl CallRecord {
    fn start(platform: &PlatformSpec, what: &'static str, req: &reqwest::Request) -> Self {
        let method = req.method().clone();
        let host = req.url().host_str().unwrap_or_default().to_string();
        let path = path_template(req.url().path());
        let span = tracing::info_span!(
            "platform_call",
            platform = %platform.id,
            call = what,
            %method,
            %host,
            %path,
            status = tracing::field::Empty,
            duration_ms = tracing::field::Empty,
            error = tracing::field::Empty,
        );
        CallRecord {
            span,
            started: Instant::now(),
            platform: platform.id.clone(),
            what,
            host,
            status: None,
            done: false,
        }
    }

    /// Records the outcome (`None`: no whole answer, with the `error` words) once.
    fn finish(&mut self, status: Option<StatusCode>, error: Option<&str>) {
        if std::mem::replace(&mut self.done, true) {
            return;
        }
        let elapsed = self.started.elapsed();
        self.span.record("duration_ms", elapsed.as_millis() as u64);
        if let Some(msg) = error {
            self.span.record("error", msg);
        }
        let status = match status {
            Some(s) => {
                self.span.record("status", s.as_u16());
                s.as_u16().to_string()
            }
            None => "error".to_string(),
        };
        metrics::histogram!(
            PLATFORM_CALL_DURATION,
            "platform" => self.platform.clone(),
            "call" => self.what,
            "host" => self.host.clone(),
            "status" => status,
        )
        .record(elapsed.as_secs_f64());
    }
}

impl Drop for CallRecord {
    fn drop(&mut self) {
        // An answer dropped before it was read whole: its status is what the call got. (A call
        // abandoned before any answer, its future dropped, records nothing.)
        if let Some(status) = self.status {
            self.finish(Some(status), None);
        }
    }
}

/// A transport failure, by whether the platform may have received the request.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The request certainly did not reach the platform (connect error, unbuildable request).
    #[error("{0}")]
    NotSent(OAuthError),
    /// The request was sent and no whole answer came back: the platform may have acted.
    #[error("{0}")]
    NoAnswer(OAuthError),
}

/// Words for a transport failure, without the URL (which may carry secrets in its query).
fn transport_message(e: &reqwest::Error, timeout: Duration) -> String {
    if e.is_timeout() {
        format!("no answer within {} s (timed out)", timeout.as_secs_f32())
    } else if e.is_connect() {
        "could not connect".to_string()
    } else if e.is_body() || e.is_decode() {
        "the connection broke while reading the answer".to_string()
    } else {
        "the request failed before an answer came".to_string()
    }
}

impl OAuthError {
    pub(crate) fn platform(platform: &PlatformSpec, d: Diagnosis) -> Self {
        OAuthError::Platform(Box::new(
            d.with_docs(platform.docs.first().map(|d| d.url.as_str())),
        ))
    }

    pub(crate) fn network(platform: &PlatformSpec, message: String) -> Self {
        OAuthError::Network(Box::new(
            Diagnosis::network(&platform.id, message)
                .with_docs(platform.docs.first().map(|d| d.url.as_str())),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::path_template;

    #[test]
    fn path_templates_hide_ids_and_keep_words() {
        assert_eq!(path_template("/2/tweets"), "/2/tweets");
        assert_eq!(
            path_template("/v19.0/1789000001/media_publish"),
            "/v19.0/{id}/media_publish"
        );
        assert_eq!(
            path_template("/rest/posts/urn%3Ali%3Ashare%3A7"),
            "/rest/posts/{id}"
        );
        assert_eq!(
            path_template("/upload/AbCdEfGhIjKlMnOpQrStUvWx"),
            "/upload/{id}"
        );
        assert_eq!(path_template("/v5/pins"), "/v5/pins");
        assert_eq!(path_template("/2/oauth2/token"), "/2/oauth2/token");
        assert_eq!(path_template("/v19.0/me/accounts"), "/v19.0/me/accounts");
    }
}
