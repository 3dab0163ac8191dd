//! Request extractors whose failures are problem+json: JSON bodies and query strings that name
//! the field at fault, and the workspace API key.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{header, request::Parts};
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::AppState;

/// A JSON body. A body that is not JSON, or not of the expected shape, is a 400/422 problem
/// naming the JSON path at fault (`scopes[1]`, `owner`).
#[derive(Debug, Clone)]
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let ct = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                // Reworded with the configured limit by `rate_limit::middleware`.
                ApiError::new(
                    e.status(),
                    "body-too-large",
                    "Request body too large",
                    "the request body exceeds the limit",
                )
            } else {
                ApiError::bad_body(format!("cannot read the body: {e}"))
            }
        })?;
        if bytes.is_empty() {
            return parse_value(serde_json::Value::Object(Default::default()));
        }
        if !ct.is_empty() && !ct.starts_with("application/json") && !ct.contains("+json") {
            return Err(ApiError::new(
                axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "The body must be JSON",
                format!("Content-Type is {ct:?}; send application/json"),
            ));
        }
        let value: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::bad_body(format!("the body is not valid JSON: {e}")))?;
        parse_value(value)
    }
}

fn parse_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<ApiJson<T>, ApiError> {
    serde_path_to_error::deserialize(value)
        .map(ApiJson)
        .map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner().to_string();
            // "missing field `owner`" is about the field inside the path.
            let field = match inner.split('`').nth(1) {
                Some(f) if inner.starts_with("missing field") => {
                    if path == "." {
                        f.to_string()
                    } else {
                        format!("{path}.{f}")
                    }
                }
                _ => path,
            };
            ApiError::validation(&field, inner)
        })
}

/// A query string. One that does not parse (an unknown parameter, a missing one, a value of the
/// wrong type) is a 422 `validation-error` problem naming the parameter at fault in `field`, as
/// [`ApiJson`] does for bodies; every handler of `routes/` reads its query through this, never
/// through axum's `Query` (whose rejection is a plain-text 400).
#[derive(Debug, Clone)]
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::try_from_uri(&parts.uri)
            .map(|q| ApiQuery(q.0))
            .map_err(|e| {
                let text = e.body_text();
                // "Failed to deserialize query string: limit: invalid digit found in string"
                let detail = text
                    .strip_prefix("Failed to deserialize query string: ")
                    .unwrap_or(&text);
                ApiError::validation(query_field(detail), detail.to_string())
            })
    }
}

/// The parameter a query-string deserialization error is about: the named field of an unknown,
/// missing or repeated field, else the path serde reports before `": "`, else `query`.
fn query_field(detail: &str) -> &str {
    for lead in ["unknown field `", "missing field `", "duplicate field `"] {
        if let Some(rest) = detail.split(lead).nth(1) {
            if let Some((name, _)) = rest.split_once('`') {
                return name;
            }
        }
    }
    match detail.split_once(": ") {
        Some((p, _)) if !p.is_empty() && p != "." && !p.contains(' ') => p,
        _ => "query",
    }
}

/// The workspace an API key belongs to.
#[derive(Debug, Clone)]
pub struct WorkspaceAuth {
    /// Workspace id.
    pub workspace_id: String,
    /// Id of the API key presented (never the key itself).
    pub api_key_id: String,
}

impl WorkspaceAuth {
    /// The audit actor of this request: `api_key:<key id>`.
    pub fn actor(&self) -> String {
        crate::audit::api_key_actor(&self.api_key_id)
    }
}

/// SHA-256 hex of an API key, the form keys are stored and looked up in. Keys carry 256 random
/// bits, so a plain hash is enough (no password hashing needed).
pub fn hash_api_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

impl FromRequestParts<AppState> for WorkspaceAuth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
            return Err(ApiError::unauthorized(
                "missing Authorization header; send `Authorization: Bearer <workspace API key>`",
            ));
        };
        let value = value.to_str().unwrap_or_default();
        let key = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .ok_or_else(|| {
                ApiError::unauthorized("Authorization must be `Bearer <workspace API key>`")
            })?;
        match state.api_keys().lookup(state, key).await? {
            Some(k) => {
                // Every log line of the request names its workspace from here on.
                tracing::Span::current().record("workspace_id", k.workspace_id.as_str());
                Ok(WorkspaceAuth {
                    workspace_id: k.workspace_id,
                    api_key_id: k.id,
                })
            }
            None => Err(ApiError::unauthorized("the API key is not valid")),
        }
    }
}
