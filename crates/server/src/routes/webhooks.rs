//! Webhook endpoints of a workspace and their deliveries.
//!
//! - `POST /v1/webhooks {url, events?, description?}` → 201 with the signing secret, shown once;
//! - `GET /v1/webhooks` → `{"data":[webhook...]}` (never a secret);
//! - `DELETE /v1/webhooks/{id}` → `{"id","deleted":true}`;
//! - `GET /v1/webhooks/{id}/deliveries?limit=` → `{"data":[delivery...]}`, newest first.
//!
//! Another workspace's endpoint is a 404. How deliveries are sent and signed:
//! `workers::webhooks` and `crate::webhooks`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::Json;
use axum::Router;
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::{json, Value};
use switchboard_store::webhooks::{Webhook, WebhookDelivery};

use crate::audit::{self, action};
use crate::error::{ApiError, ApiResult};
use crate::events::kind;
use crate::extract::{ApiJson, ApiQuery, WorkspaceAuth};
use crate::webhooks::{check_destination, new_secret, secret_context};
use crate::AppState;

/// Longest accepted endpoint URL, characters.
pub const MAX_URL_CHARS: usize = 2048;
/// Longest accepted description, characters.
pub const MAX_DESCRIPTION_CHARS: usize = 500;

/// Body of `POST /v1/webhooks`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhook {
    /// Absolute `http` or `https` URL without credentials, leading to a public address (unless
    /// the operator set `webhooks_allow_private_networks`).
    #[schema(
        max_length = 2048,
        pattern = "^https?://[^/?#\\s]+",
        example = "https://app.example.com/hooks/switchboard"
    )]
    pub url: String,
    /// Event types to deliver (see `events::kind::ALL`); omitted means every type.
    #[schema(min_items = 1)]
    pub events: Option<Vec<String>>,
    /// Free text for people, at most 500 characters.
    #[schema(max_length = 500)]
    pub description: Option<String>,
}

/// The API view of an endpoint, without its secret. `events` is `null` when it receives every
/// type.
pub fn webhook_json(w: &Webhook) -> Value {
    json!({
        "id": w.id,
        "url": w.url,
        "events": (!w.events.is_empty()).then_some(&w.events),
        "description": w.description,
        "created_at": w.created_at,
    })
}

/// The API view of a delivery (the body sent is not repeated: it is the event).
/// `next_attempt_at` is `null` unless the delivery is pending: a delivered or failed one has no
/// next attempt, whatever time the row last held.
pub fn delivery_json(d: &WebhookDelivery) -> Value {
    let next_attempt_at = (d.status == switchboard_store::webhooks::DeliveryStatus::Pending)
        .then_some(d.next_attempt_at);
    json!({
        "id": d.id,
        "webhook_id": d.webhook_id,
        "event_id": d.event_id,
        "event_type": d.event_type,
        "status": d.status,
        "attempts": d.attempts,
        "last_status_code": d.last_status_code,
        "last_error": d.last_error,
        "next_attempt_at": next_attempt_at,
        "delivered_at": d.delivered_at,
        "created_at": d.created_at,
    })
}

fn check_url(raw: &str) -> Result<url::Url, ApiError> {
    if raw.chars().count() > MAX_URL_CHARS {
        return Err(ApiError::validation(
            "url",
            format!("url is longer than {MAX_URL_CHARS} characters"),
        ));
    }
    let url = url::Url::parse(raw).map_err(|e| {
        ApiError::validation("url", format!("url must be an absolute http(s) URL: {e}"))
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(ApiError::validation(
            "url",
            format!(
                "url must use http or https, not {:?}",
                url.scheme().to_string()
            ),
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(ApiError::validation("url", "url must name a host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        // Never echo the URL: the credentials would land in the answer and in logs.
        return Err(ApiError::validation(
            "url",
            "url must not carry credentials (user:password@); authenticate deliveries with the \
             Switchboard-Signature header instead",
        ));
    }
    Ok(url)
}

/// Refuses an endpoint that is, or resolves to, a non-public address (loopback, private,
/// link-local/cloud metadata...), unless the operator allowed private networks.
async fn check_reachable(state: &AppState, url: &url::Url) -> Result<(), ApiError> {
    if state.config().webhooks_allow_private_networks {
        return Ok(());
    }
    check_destination(state.webhook_outbound(), url)
        .await
        .map_err(|refused| ApiError::validation("url", format!("url host {refused}")))
}

fn check_events(events: Option<Vec<String>>) -> Result<Vec<String>, ApiError> {
    let Some(events) = events else {
        return Ok(Vec::new());
    };
    if events.is_empty() {
        return Err(ApiError::validation(
            "events",
            "events must list at least one event type; omit it to receive every type",
        ));
    }
    let mut out: Vec<String> = Vec::with_capacity(events.len());
    for (i, e) in events.into_iter().enumerate() {
        if !kind::ALL.contains(&e.as_str()) {
            return Err(ApiError::validation(
                &format!("events[{i}]"),
                format!(
                    "{e:?} is not an event type; known types: {}",
                    kind::ALL.join(", ")
                ),
            )
            .with("known_events", kind::ALL));
        }
        if !out.contains(&e) {
            out.push(e);
        }
    }
    Ok(out)
}

/// `POST /v1/webhooks` → 201 `{id, url, events, description, secret, created_at}`. The secret
/// (`whsec_` + 256 random bits) is returned only here; it is stored sealed by the vault.
///
/// Errors: 422 naming `url` (not an absolute http(s) URL, credentials in it, or a host that is
/// or resolves to a non-public address — loopback, private, link-local/cloud metadata, CGNAT,
/// unique-local... — unless `webhooks_allow_private_networks` is set), `events` (empty),
/// `events[i]` (unknown type) or `description` (too long).
#[utoipa::path(
    post,
    path = "/v1/webhooks",
    operation_id = "createWebhook",
    tag = "webhooks",
    summary = "Add a webhook endpoint",
    request_body = CreateWebhook,
    security(("api_key" = [])),
    responses(
        (status = 201, description = "The endpoint with its signing secret, shown only here.", body = crate::openapi::WebhookCreated),
        (status = 400, description = "`malformed-body`: the body is not JSON.", body = crate::openapi::Problem, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported-media-type`: the body is not `application/json`.", body = crate::openapi::Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation-error` on `url` (not http(s), credentials in it, or a non-public destination such as 127.0.0.1, 10.0.0.0/8 or 169.254.169.254 unless `webhooks_allow_private_networks` is set), `events`, `events[i]` (`known_events` lists the types) or `description`.", body = crate::openapi::Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn create(
    State(state): State<AppState>,
    auth: WorkspaceAuth,
    ApiJson(body): ApiJson<CreateWebhook>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let url = check_url(body.url.trim())?;
    let events = check_events(body.events)?;
    check_reachable(&state, &url).await?;
    if body
        .description
        .as_ref()
        .is_some_and(|d| d.chars().count() > MAX_DESCRIPTION_CHARS)
    {
        return Err(ApiError::validation(
            "description",
            format!("description is longer than {MAX_DESCRIPTION_CHARS} characters"),
        ));
    }
    let id = uuid::Uuid::now_v7().to_string();
    let secret = new_secret();
    let webhook = Webhook {
        secret_sealed: state
            .keyring()
            .seal(&secret_context(&id), secret.expose_secret()),
        id,
        workspace_id: auth.workspace_id.clone(),
        url: url.to_string(),
        events,
        description: body.description,
        created_at: state.now(),
    };
    state.store().create_webhook(&webhook).await?;
    audit::record(
        &state,
        &auth.workspace_id,
        None,
        &auth.actor(),
        action::WEBHOOK_CREATED,
        json!({"webhook_id": webhook.id, "url": webhook.url, "events": webhook.events}),
    )
    .await;
    let mut out = webhook_json(&webhook);
    out["secret"] = Value::String(secret.expose_secret().to_string());
    Ok((StatusCode::CREATED, Json(out)))
}

/// `GET /v1/webhooks` → `{"data":[webhook...]}`, oldest first, without secrets.
#[utoipa::path(
    get,
    path = "/v1/webhooks",
    operation_id = "listWebhooks",
    tag = "webhooks",
    summary = "List webhook endpoints",
    security(("api_key" = [])),
    responses(
        (status = 200, description = "Oldest first, without secrets.", body = crate::openapi::WebhookList),
    ),
)]
pub async fn list(State(state): State<AppState>, auth: WorkspaceAuth) -> ApiResult<Json<Value>> {
    let rows = state.store().list_webhooks(&auth.workspace_id).await?;
    Ok(Json(
        json!({"data": rows.iter().map(webhook_json).collect::<Vec<_>>()}),
    ))
}

/// `DELETE /v1/webhooks/{id}` → `{"id","deleted":true}`; pending deliveries are dropped.
#[utoipa::path(
    delete,
    path = "/v1/webhooks/{id}",
    operation_id = "deleteWebhook",
    tag = "webhooks",
    summary = "Remove a webhook endpoint",
    params(
        ("id" = String, Path, description = "Webhook id"),
    ),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "Deleted; its pending deliveries are dropped.", body = crate::openapi::Deleted),
        (status = 404, description = "`not-found`: no webhook with this id in this workspace.", body = crate::openapi::Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn remove(
    State(state): State<AppState>,
    auth: WorkspaceAuth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let Some(webhook) = state.store().get_webhook(&auth.workspace_id, &id).await? else {
        return Err(ApiError::not_found("webhook"));
    };
    if !state
        .store()
        .delete_webhook(&auth.workspace_id, &id)
        .await?
    {
        return Err(ApiError::not_found("webhook"));
    }
    audit::record(
        &state,
        &auth.workspace_id,
        None,
        &auth.actor(),
        action::WEBHOOK_DELETED,
        json!({"webhook_id": webhook.id, "url": webhook.url}),
    )
    .await;
    Ok(Json(json!({"id": id, "deleted": true})))
}

/// Query of `GET /v1/webhooks/{id}/deliveries`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DeliveriesQuery {
    /// At most this many deliveries, newest first (1-500, default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
}

/// `GET /v1/webhooks/{id}/deliveries?limit=` → `{"data":[{id, event_id, event_type, status
/// (pending|delivered|failed), attempts, last_status_code, last_error, next_attempt_at,
/// delivered_at, created_at}]}`, newest first.
#[utoipa::path(
    get,
    path = "/v1/webhooks/{id}/deliveries",
    operation_id = "listWebhookDeliveries",
    tag = "webhooks",
    summary = "List deliveries of an endpoint",
    params(
        ("id" = String, Path, description = "Webhook id"),
        DeliveriesQuery,
    ),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "Newest first.", body = crate::openapi::DeliveryList),
        (status = 404, description = "`not-found`: no webhook with this id in this workspace.", body = crate::openapi::Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation-error` on `limit` or an unknown parameter.", body = crate::openapi::Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn deliveries(
    State(state): State<AppState>,
    auth: WorkspaceAuth,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<DeliveriesQuery>,
) -> ApiResult<Json<Value>> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::validation(
            "limit",
            "limit must be between 1 and 500",
        ));
    }
    if state
        .store()
        .get_webhook(&auth.workspace_id, &id)
        .await?
        .is_none()
    {
        return Err(ApiError::not_found("webhook"));
    }
    let rows = state
        .store()
        .list_deliveries(&auth.workspace_id, &id, limit)
        .await?;
    Ok(Json(
        json!({"data": rows.iter().map(delivery_json).collect::<Vec<_>>()}),
    ))
}

/// Routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/webhooks", get(list).post(create))
        .route("/v1/webhooks/{id}", delete(remove))
        .route("/v1/webhooks/{id}/deliveries", get(deliveries))
}
