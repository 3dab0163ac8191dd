//! API errors as RFC 9457 problem details (`application/problem+json`), mapped to status codes in
//! this one place. Every problem has a stable `type` URI; validation problems name the `field`;
//! platform failures carry their `diagnosis`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};
use switchboard_core::diagnosis::{Category, Diagnosis};
use switchboard_oauth::OAuthError;
use switchboard_store::{Fault, StoreError};

/// Base of every problem `type` URI.
pub const PROBLEM_BASE: &str = "https://switchboard.dev/problems/";

/// An error answer of the API.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Slug of the problem type (`unknown-platform`, `invalid-state`...).
    pub kind: &'static str,
    /// Short, stable summary of the problem type.
    pub title: &'static str,
    /// What happened in this case, in plain words.
    pub detail: String,
    /// Extension members (`field`, `diagnosis`, `known_platforms`...).
    pub extra: Map<String, Value>,
    /// Extra response headers.
    pub headers: Vec<(header::HeaderName, HeaderValue)>,
}

impl ApiError {
    /// A problem of the given status and type.
    pub fn new(
        status: StatusCode,
        kind: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        ApiError {
            status,
            kind,
            title,
            detail: detail.into(),
            extra: Map::new(),
            headers: Vec::new(),
        }
    }

    /// Adds an extension member.
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.extra.insert(key.to_string(), value.into());
        self
    }

    /// 422 naming the field at fault.
    pub fn validation(field: &str, detail: impl Into<String>) -> Self {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation-error",
            "The request is not valid",
            detail,
        )
        .with("field", field)
    }

    /// 400 for a body that is not JSON of the expected shape.
    pub fn bad_body(detail: impl Into<String>) -> Self {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed-body",
            "The request body cannot be read",
            detail,
        )
    }

    /// 404 for a resource that does not exist in this workspace.
    pub fn not_found(what: &str) -> Self {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not-found",
            "Not found",
            format!("no {what} with this id in this workspace"),
        )
    }

    /// 404 for an unknown platform id, listing the known ones.
    pub fn unknown_platform(id: &str, known: Vec<String>) -> Self {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown-platform",
            "Unknown platform",
            format!(
                "there is no platform {id:?}; known platforms: {}",
                known.join(", ")
            ),
        )
        .with("known_platforms", known)
    }

    /// 401 with `WWW-Authenticate: Bearer`.
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        let mut e = ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Authentication required",
            detail,
        );
        e.headers.push((
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"switchboard\""),
        ));
        e
    }

    /// A failed platform call: 502 when the platform answered with an error, 504 when it did not
    /// answer, 409 when the platform cannot do it; the diagnosis is attached.
    pub fn platform(platform: &str, err: &OAuthError) -> Self {
        let d = err.diagnosis();
        let (status, kind, title) = match err {
            OAuthError::Network(_) => (
                StatusCode::GATEWAY_TIMEOUT,
                "platform-unreachable",
                "The platform did not answer",
            ),
            OAuthError::Platform(_) if d.category == Category::RateLimited => (
                StatusCode::SERVICE_UNAVAILABLE,
                "platform-rate-limited",
                "The platform is throttling requests",
            ),
            OAuthError::Platform(_) => (
                StatusCode::BAD_GATEWAY,
                "platform-error",
                "The platform refused the request",
            ),
            OAuthError::Config(_) => (
                StatusCode::CONFLICT,
                "platform-not-configured",
                "The platform is not configured",
            ),
            OAuthError::NotPossible(_) => (
                StatusCode::CONFLICT,
                "not-possible",
                "The platform cannot do this",
            ),
        };
        ApiError::new(status, kind, title, format!("{platform}: {}", d.summary()))
            .with_diagnosis(&d)
    }

    /// Attaches a diagnosis.
    pub fn with_diagnosis(self, d: &Diagnosis) -> Self {
        let v = serde_json::to_value(d).unwrap_or(Value::Null);
        self.with("diagnosis", v)
    }

    /// 500 for a failure inside Switchboard. The cause is logged, not returned.
    pub fn internal(context: &str, err: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %err, "{context}");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal-error",
            "Internal error",
            format!("{context}; the server log has the cause"),
        )
    }
}

impl From<StoreError> for ApiError {
    /// A failed store call, named by its cause ([`StoreError::fault`]): a full disk is 507
    /// `insufficient-storage`; a read-only database, an I/O error, a database that did not
    /// answer or was busy are 503 with their own types. Each says nothing was stored, which
    /// holds: a write is one statement or one transaction, and a failed one leaves nothing.
    /// The extension member `cause` repeats the cause as a word (`disk_full`, `read_only`,
    /// `io_error`, `unreachable`, `busy`). Other store failures are 500s.
    fn from(e: StoreError) -> Self {
        let (status, kind, title, detail, cause) = match e.fault() {
            Fault::DiskFull => (
                StatusCode::INSUFFICIENT_STORAGE,
                "insufficient-storage",
                "The database's disk is full",
                "the database could not write: its disk is full; nothing was stored. \
                 Free space on the database's filesystem; the service recovers by itself",
                "disk_full",
            ),
            Fault::ReadOnly => (
                StatusCode::SERVICE_UNAVAILABLE,
                "database-read-only",
                "The database cannot be written",
                "the database is read-only (file permissions, a read-only filesystem or a \
                 standby server); nothing was stored",
                "read_only",
            ),
            Fault::Io => (
                StatusCode::SERVICE_UNAVAILABLE,
                "database-io-error",
                "The database met an I/O error",
                "the database could not read or write its files (an I/O error); nothing was \
                 stored",
                "io_error",
            ),
            Fault::Busy => (
                StatusCode::SERVICE_UNAVAILABLE,
                "database-busy",
                "The database is busy",
                "the database was busy and the request gave up waiting; nothing was changed",
                "busy",
            ),
            Fault::Unreachable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "database-unavailable",
                "The database is unavailable",
                "the database did not answer; nothing was changed",
                "unreachable",
            ),
            Fault::Other => return ApiError::internal("storage failure", &e),
        };
        tracing::error!(error = %e, cause, "database error");
        let mut problem = ApiError::new(status, kind, title, detail).with("cause", cause);
        if status == StatusCode::SERVICE_UNAVAILABLE {
            // Each of these passes (or is fixed) without a restart.
            problem
                .headers
                .push((header::RETRY_AFTER, HeaderValue::from_static("5")));
        }
        problem
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({
            "type": format!("{PROBLEM_BASE}{}", self.kind),
            "title": self.title,
            "status": self.status.as_u16(),
            "detail": self.detail,
        });
        if let Value::Object(ref mut m) = body {
            m.extend(self.extra);
        }
        let mut resp = (self.status, axum::Json(body)).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        for (k, v) in self.headers {
            resp.headers_mut().insert(k, v);
        }
        resp
    }
}

/// Result alias for handlers.
pub type ApiResult<T> = Result<T, ApiError>;

/// The answer to a handler that panicked (`tower_http::catch_panic::CatchPanicLayer` in
/// [`crate::router`], around every API and dashboard route): a 500 `internal-error` problem,
/// the panic logged once here with its message (never sent to the client), so one bad input
/// cannot drop the connection or leave the client without an answer.
pub fn panic_response(err: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let message = err
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| err.downcast_ref::<&str>().copied())
        .unwrap_or("(no message)");
    tracing::error!(panic = %message, "a request handler panicked");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal-error",
        "Internal error",
        "the request could not be handled; the server log has the cause",
    )
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn io(kind: std::io::ErrorKind) -> StoreError {
        StoreError::Database(sqlx::Error::Io(std::io::Error::new(kind, "test")))
    }

    /// The answer names what the database said, not "did not answer" for everything.
    #[test]
    fn store_failures_are_answered_by_their_cause() {
        let full = ApiError::from(io(std::io::ErrorKind::StorageFull));
        assert_eq!(full.status, StatusCode::INSUFFICIENT_STORAGE);
        assert_eq!(full.kind, "insufficient-storage");
        assert_eq!(full.extra["cause"], "disk_full");

        let ro = ApiError::from(io(std::io::ErrorKind::ReadOnlyFilesystem));
        assert_eq!(ro.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(ro.kind, "database-read-only");

        let gone = ApiError::from(StoreError::Database(sqlx::Error::PoolTimedOut));
        assert_eq!(gone.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(gone.kind, "database-unavailable");
        assert!(gone
            .headers
            .iter()
            .any(|(k, v)| k == header::RETRY_AFTER && v == "5"));

        let corrupt = ApiError::from(StoreError::Corrupt("bad json".into()));
        assert_eq!(corrupt.status, StatusCode::INTERNAL_SERVER_ERROR);
    }
}
