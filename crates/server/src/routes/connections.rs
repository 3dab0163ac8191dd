//! Connections: list, read, the access token for the product's own API calls, and disconnect.

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::Json;
use axum::Router;
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::{json, Value};
use switchboard_core::connection::ConnectionStatus;
use switchboard_oauth::Revocation;
use switchboard_store::{Connection, ConnectionFilter};

use crate::error::{ApiError, ApiResult};
use crate::events::{emit, kind};
use crate::extract::{ApiQuery, WorkspaceAuth};
use crate::{lifecycle, vaulted, AppState};

/// The API view of a connection. Never contains tokens.
pub fn connection_json(c: &Connection) -> Value {
    json!({
        "id": c.id,
        "platform": c.platform,
        "owner": c.owner,
        "account": {
            "id": c.account_id,
            "name": c.account_name,
            "username": c.username,
            "avatar_url": c.avatar_url,
        },
        "scopes": c.scopes,
        "status": c.status,
        "expires_at": c.expires_at,
        "refresh_expires_at": c.refresh_expires_at,
        "has_refresh_token": c.refresh_token_sealed.is_some(),
        "token_obtained_at": c.token_obtained_at,
        "last_refreshed_at": c.last_refreshed_at,
        "last_error": c.last_error,
        "created_at": c.created_at,
        "updated_at": c.updated_at,
    })
}

/// Query of `GET /v1/connections`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only this platform.
    pub platform: Option<String>,
    /// Only this owner.
    pub owner: Option<String>,
    /// Only this status.
    #[param(value_type = Option<switchboard_core::connection::ConnectionStatus>)]
    pub status: Option<String>,
}

/// `GET /v1/connections?platform=&owner=&status=` → `{"data":[connection...]}`, oldest first.
#[utoipa::path(
    get,
    path = "/v1/connections",
    operation_id = "listConnections",
    tag = "connections",
    summary = "List connections",
    params(
        ListQuery,
    ),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The workspace's connections, oldest first.", body = crate::openapi::ConnectionList),
        (status = 404, description = "`unknown-platform`: no such platform; `known_platforms` lists them.", body = crate::openapi::Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation-error` on `status` (not a connection status) or an unknown parameter.", body = crate::openapi::Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn list(
    State(state): State<AppState>,
    auth: WorkspaceAuth,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<Value>> {
    if let Some(p) = &q.platform {
        state.platform(p)?;
    }
    if let Some(s) = &q.status {
        if ConnectionStatus::parse(s).is_none() {
            return Err(ApiError::validation(
                "status",
                format!("{s:?} is not a status; use healthy, expiring_soon, refresh_failing, expired, needs_reauth, revoked or pending_selection"),
            ));
        }
    }
    let filter = ConnectionFilter {
        platform: q.platform,
        owner: q.owner,
        status: q.status,
    };
    let rows = state
        .store()
        .list_connections(&auth.workspace_id, &filter)
        .await?;
    Ok(Json(
        json!({ "data": rows.iter().map(connection_json).collect::<Vec<_>>() }),
    ))
}

async fn load(state: &AppState, auth: &WorkspaceAuth, id: &str) -> ApiResult<Connection> {
    state
        .store()
        .get_connection(&auth.workspace_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("connection"))
}

/// `GET /v1/connections/{id}`. Another workspace's connection is a 404.
#[utoipa::path(
    get,
    path = "/v1/connections/{id}",
    operation_id = "getConnection",
    tag = "connections",
    summary = "Get a connection",
    params(
        ("id" = String, Path, description = "Connection id"),
    ),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The connection (never a token).", body = crate::openapi::ConnectionView),
        (status = 404, description = "`not-found`: no connection with this id in this workspace.", body = crate::openapi::Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn get_one(
    State(state): State<AppState>,
    auth: WorkspaceAuth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(connection_json(&load(&state, &auth, &id).await?)))
}

/// `GET /v1/connections/{id}/token` → `{access_token, token_type, expires_at, scopes}`: the
/// current access token for the product's own calls to the platform. A token that expires within
/// a minute is refreshed first (one refresh however many callers ask at once).
///
/// Errors: 404; 409 `token-expired` with a diagnosis when the token has expired and cannot be
/// renewed; the platform's problem when renewing failed; 500 `stored-secret-unreadable` when the
/// stored ciphertext does not open.
#[utoipa::path(
    get,
    path = "/v1/connections/{id}/token",
    operation_id = "getConnectionToken",
    tag = "connections",
    summary = "Get a usable access token",
    params(
        ("id" = String, Path, description = "Connection id"),
    ),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The access token, refreshed first when it expires within a minute.", body = crate::openapi::AccessToken),
        (status = 404, description = "`not-found`: no connection with this id in this workspace.", body = crate::openapi::Problem, content_type = "application/problem+json"),
        (status = 409, description = "`token-expired`: the token expired and cannot be renewed; `diagnosis` says what to do.", body = crate::openapi::Problem, content_type = "application/problem+json"),
        (status = 502, description = "`platform-error`: the platform refused the call; `diagnosis` explains it.", body = crate::openapi::Problem, content_type = "application/problem+json"),
        (status = 503, description = "`platform-rate-limited` (the platform throttles; `diagnosis.retry_after_secs`) or `database-unavailable`.", body = crate::openapi::Problem, content_type = "application/problem+json"),
        (status = 504, description = "`platform-unreachable`: the platform did not answer; `diagnosis` explains it.", body = crate::openapi::Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn token(
    State(state): State<AppState>,
    auth: WorkspaceAuth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let conn = state
        .cached_connection(&auth.workspace_id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("connection"))?;
    let (conn, access) = lifecycle::usable_token(&state, conn).await?;
    Ok(Json(json!({
        "access_token": access.expose_secret(),
        "token_type": conn.token_type,
        "expires_at": conn.expires_at,
        "scopes": conn.scopes,
    })))
}

/// `POST /v1/connections/{id}/refresh`: renews the access token now. Answers
/// `{outcome: "refreshed", connection}`, or the platform's problem with its diagnosis and the
/// status the connection is left in (`connection_status`).
#[utoipa::path(
    post,
    path = "/v1/connections/{id}/refresh",
    operation_id = "refreshConnection",
    tag = "connections",
    summary = "Refresh the access token now",
    params(
        ("id" = String, Path, description = "Connection id"),
    ),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "Refreshed.", body = crate::openapi::Refreshed),
        (status = 404, description = "`not-found`: no connection with this id in this workspace.", body = crate::openapi::Problem, content_type = "application/problem+json"),
        (status = 409, description = "`not-possible` (the platform has no refresh) or `platform-not-configured`; `connection_status` is the status left.", body = crate::openapi::Problem, content_type = "application/problem+json"),
        (status = 502, description = "`platform-error` (`invalid_grant`...): `diagnosis` explains it, `connection_status` is the status left.", body = crate::openapi::Problem, content_type = "application/problem+json"),
        (status = 503, description = "`platform-rate-limited` or `database-unavailable`.", body = crate::openapi::Problem, content_type = "application/problem+json"),
        (status = 504, description = "`platform-unreachable`.", body = crate::openapi::Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn refresh(
    State(state): State<AppState>,
    auth: WorkspaceAuth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let conn = load(&state, &auth, &id).await?;
    match lifecycle::refresh(&state, &conn.id, lifecycle::Need::Now).await {
        Ok(c) => {
            crate::audit::record(
                &state,
                &auth.workspace_id,
                Some(&c.id),
                &auth.actor(),
                crate::audit::action::CONNECTION_REFRESHED,
                json!({"platform": c.platform, "expires_at": c.expires_at}),
            )
            .await;
            Ok(Json(
                json!({"outcome": "refreshed", "connection": connection_json(&c)}),
            ))
        }
        Err(f) => Err(ApiError::platform(&conn.platform, &f.error)
            .with("connection_status", f.connection.status.clone())),
    }
}

/// `DELETE /v1/connections/{id}`: revokes the grant at the platform where it has a revocation
/// endpoint, then deletes the connection. A failed revocation is reported in the answer
/// (`revocation.status = "failed"` with its diagnosis); the deletion happens regardless.
#[utoipa::path(
    delete,
    path = "/v1/connections/{id}",
    operation_id = "deleteConnection",
    tag = "connections",
    summary = "Disconnect",
    params(
        ("id" = String, Path, description = "Connection id"),
    ),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "Deleted; `revocation` says whether the platform revoked the grant.", body = crate::openapi::ConnectionDeleted),
        (status = 404, description = "`not-found`: no connection with this id in this workspace.", body = crate::openapi::Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn delete(
    State(state): State<AppState>,
    auth: WorkspaceAuth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let conn = load(&state, &auth, &id).await?;
    let revocation = disconnect(&state, &auth, &auth.actor(), &conn).await?;
    Ok(Json(json!({
        "id": conn.id,
        "deleted": true,
        "revocation": revocation,
    })))
}

/// Revokes `conn`'s grant where the platform can, deletes it, records the event and the audit
/// entry (as `actor`). Returns the revocation outcome `{status: revoked|not_supported|failed,
/// detail?, diagnosis?}`; shared by `DELETE /v1/connections/{id}` and the dashboard.
///
/// # Errors
/// Database failures.
pub(crate) async fn disconnect(
    state: &AppState,
    auth: &WorkspaceAuth,
    actor: &str,
    conn: &Connection,
) -> ApiResult<Value> {
    let revocation = revoke(state, conn).await;
    state
        .store()
        .delete_connection(&auth.workspace_id, &conn.id)
        .await?;
    emit(
        state,
        &auth.workspace_id,
        Some(&conn.id),
        kind::CONNECTION_DISCONNECTED,
        json!({
            "platform": conn.platform,
            "owner": conn.owner,
            "account_id": conn.account_id,
            "revocation": revocation,
        }),
    )
    .await;
    crate::audit::record(
        state,
        &auth.workspace_id,
        Some(&conn.id),
        actor,
        crate::audit::action::CONNECTION_DELETED,
        json!({
            "platform": conn.platform,
            "owner": conn.owner,
            "account_id": conn.account_id,
            "revocation": revocation["status"],
        }),
    )
    .await;
    Ok(revocation)
}

/// Revokes a connection's grant; returns `{status: revoked|not_supported|failed, diagnosis?}`.
async fn revoke(state: &AppState, conn: &Connection) -> Value {
    let spec = match state.platform(&conn.platform) {
        Ok(s) => s,
        Err(_) => return json!({"status": "failed", "detail": "platform no longer configured"}),
    };
    let Some(creds) = state.credentials(&conn.platform) else {
        return json!({"status": "failed", "detail": "platform has no client credentials configured"});
    };
    let tokens = vaulted::open_access(state.keyring(), conn)
        .and_then(|a| Ok((a, vaulted::open_refresh(state.keyring(), conn)?)));
    let (access, refresh) = match tokens {
        Ok(t) => t,
        Err(e) => return json!({"status": "failed", "detail": e.detail}),
    };
    match state
        .oauth()
        .revoke(spec, &creds, &access, refresh.as_ref())
        .await
    {
        Ok(Revocation::Revoked) => json!({"status": "revoked"}),
        Ok(Revocation::NotSupported) => json!({
            "status": "not_supported",
            "detail": format!("{} has no revocation endpoint; the token stays valid until it expires", spec.display_name),
        }),
        Err(e) => json!({
            "status": "failed",
            "detail": e.to_string(),
            "diagnosis": e.diagnosis(),
        }),
    }
}

/// Routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/connections", get(list))
        .route("/v1/connections/{id}", get(get_one).delete(delete))
        .route("/v1/connections/{id}/token", get(token))
        .route("/v1/connections/{id}/refresh", post(refresh))
}
