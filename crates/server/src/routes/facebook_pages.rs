//! Facebook Page selection: the step between authorizing Facebook and a usable connection.
//!
//! Facebook authorizes a person, not a Page (PLATFORMS.md §3). After the code exchange (and the
//! exchange for a long-lived user token), the connection is `pending_selection` and the Pages the
//! person manages are listed with `GET /me/accounts`. The person (or the product's UI) chooses:
//!
//! - `GET /v1/connections/{id}/pages` → `{data: [{id, name, tasks, selected, status}], source,
//!   selection_required, diagnosis?, action}`: the stored list, or the live one when nothing is
//!   stored yet. Never tokens.
//! - `POST /v1/connections/{id}/pages {"page_ids": [...]}`: fetches the list live (fresh Page
//!   tokens), stores each chosen Page's token sealed (context
//!   `page:<connection id>:<page id>:access_token`), and makes the connection usable; records
//!   `connection.pages_selected`.
//! - `GET /v1/connections/{id}/pages/{page_id}/token` → `{access_token, token_type, expires_at:
//!   null, page_id, page_name}`: Page tokens obtained with a long-lived user token do not expire.
//!
//! A Facebook account that manages no Page stays `pending_selection`; the answers carry a
//! diagnosis of category `account_not_eligible` saying the person needs a role on a Page.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use chrono::Duration;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{json, Value};
use switchboard_core::catalog::Flavor;
use switchboard_core::connection::{status_from_expiry, ConnectionStatus};
use switchboard_core::diagnosis::{Category, Diagnosis};
use switchboard_oauth::facebook::{self, ManagedPage};
use switchboard_store::pages::{ConnectionPage, PAGE_AVAILABLE, PAGE_HEALTHY, PAGE_NEEDS_REAUTH};
use switchboard_store::Connection;

use crate::error::{ApiError, ApiResult};
use crate::events::emit;
use crate::extract::{ApiJson, WorkspaceAuth};
use crate::routes::connections::connection_json;
use crate::{vaulted, AppState};

/// Event recorded when the person chose the Pages of a Facebook connection. Payload:
/// `{platform, page_ids, pages: [{id, name}], status}`.
pub const CONNECTION_PAGES_SELECTED: &str = crate::events::kind::CONNECTION_PAGES_SELECTED;

/// Vault context of a Page's access token: `page:<connection id>:<page id>:access_token`.
pub fn page_context(connection_id: &str, page_id: &str) -> String {
    format!("page:{connection_id}:{page_id}:access_token")
}

/// True when the connection's platform authorizes people who then choose Pages (Facebook).
pub fn uses_pages(state: &AppState, conn: &Connection) -> bool {
    state
        .catalog()
        .get(&conn.platform)
        .is_some_and(|s| s.flavor == Flavor::Facebook)
}

/// The diagnosis of a Facebook account that manages no Page (category `account_not_eligible`).
pub fn no_pages_diagnosis(state: &AppState, platform: &str) -> Diagnosis {
    let spec = state.catalog().get(platform);
    let mut d = Diagnosis::new(Category::AccountNotEligible)
        .with_docs(spec.and_then(|s| s.docs.first()).map(|d| d.url.as_str()));
    d.platform = Some(platform.to_string());
    d.cause = "The connected Facebook account manages no Page: Facebook lists Pages only for \
               people who have a role on them, and Switchboard publishes to Pages, not to \
               personal profiles."
        .into();
    d.fix = vec![
        "Have a Page admin give this person a role on the Page (Page settings > Page access), or create a Page.".into(),
        "Then connect again (POST /v1/connect/facebook) and, on Facebook's dialog, tick the Page under 'Edit settings'.".into(),
    ];
    d
}

/// The API view of a Page: never its token.
pub fn page_json(p: &ConnectionPage) -> Value {
    json!({
        "id": p.page_id,
        "name": p.name,
        "tasks": p.tasks,
        "selected": p.selected,
        "status": p.status,
        "last_error": p.last_error,
        "last_checked_at": p.last_checked_at,
    })
}

/// Rows for a freshly listed set of Pages: `chosen` Pages get their new token sealed and status
/// healthy, the others are available without a token.
fn rows(
    state: &AppState,
    conn: &Connection,
    live: &[ManagedPage],
    chosen: impl Fn(&str) -> bool,
) -> Vec<ConnectionPage> {
    let now = state.now();
    live.iter()
        .enumerate()
        .map(|(i, p)| {
            let selected = chosen(&p.id);
            ConnectionPage {
                connection_id: conn.id.clone(),
                page_id: p.id.clone(),
                name: p.name.clone(),
                tasks: p.tasks.clone(),
                position: i as i64,
                selected,
                status: if selected {
                    PAGE_HEALTHY
                } else {
                    PAGE_AVAILABLE
                }
                .to_string(),
                access_token_sealed: selected.then(|| {
                    state.keyring().seal(
                        &page_context(&conn.id, &p.id),
                        p.access_token.expose_secret(),
                    )
                }),
                last_error: None,
                last_checked_at: None,
                created_at: now,
                updated_at: now,
            }
        })
        .collect()
}

/// The status of a Facebook connection whose person chose at least one Page: derived from the
/// user token's expiry (it cannot be refreshed).
fn selected_status(state: &AppState, conn: &Connection) -> ConnectionStatus {
    status_from_expiry(
        state.now(),
        conn.expires_at,
        false,
        Duration::seconds(state.config().expiry_warning_secs as i64),
    )
}

/// Lists the Pages live with the connection's (long-lived) user token.
async fn fetch_live(state: &AppState, conn: &Connection) -> ApiResult<Vec<ManagedPage>> {
    let spec = state.platform(&conn.platform)?;
    let user_token = vaulted::open_access(state.keyring(), conn)?;
    facebook::managed_pages(state.oauth(), spec, &user_token)
        .await
        .map_err(|e| ApiError::platform(&conn.platform, &e))
}

/// Called by the connect callback after a Facebook connection was saved, with the long-lived
/// user token. Lists the Pages; a new connection (or one whose person had chosen no Page) becomes
/// `pending_selection`. On a reconnect, Pages chosen before that are still listed stay chosen
/// with their new tokens (a reconnect is how a person repairs Page tokens a password change
/// killed). Never fails: when the list cannot be fetched, the Pages endpoint fetches it later.
/// Returns the connection as stored afterwards.
pub async fn after_connect(state: &AppState, conn: Connection) -> Connection {
    let store = state.store();
    let previous = store.list_pages(&conn.id).await.unwrap_or_default();
    let was_chosen = |id: &str| previous.iter().any(|p| p.selected && p.page_id == id);
    let any_chosen = match fetch_live(state, &conn).await {
        Ok(live) => {
            let rows = rows(state, &conn, &live, was_chosen);
            let any = rows.iter().any(|r| r.selected);
            if let Err(e) = store.replace_pages(&conn.id, &rows, state.now()).await {
                tracing::error!(connection_id = %conn.id, error = %e, "Pages could not be stored");
                false
            } else {
                any
            }
        }
        Err(e) => {
            tracing::warn!(connection_id = %conn.id, problem = e.kind, detail = %e.detail, "Pages could not be listed at connect");
            false
        }
    };
    let status = if any_chosen {
        selected_status(state, &conn)
    } else {
        ConnectionStatus::PendingSelection
    };
    if conn.status == status.as_str() {
        return conn;
    }
    if let Err(e) = store
        .set_connection_status(&conn.id, status.as_str(), state.now())
        .await
    {
        tracing::error!(connection_id = %conn.id, error = %e, "status could not be stored");
        return conn;
    }
    state.forget_connection(&conn.id);
    Connection {
        status: status.as_str().to_string(),
        ..conn
    }
}

async fn load_facebook(state: &AppState, auth: &WorkspaceAuth, id: &str) -> ApiResult<Connection> {
    let conn = state
        .store()
        .get_connection(&auth.workspace_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("connection"))?;
    if !uses_pages(state, &conn) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "pages-not-applicable",
            "This connection has no Pages",
            format!(
                "connection {} is a {} connection; only Facebook connections choose Pages",
                conn.id, conn.platform
            ),
        ));
    }
    Ok(conn)
}

/// What the person should do next about the Pages of a connection.
fn pages_action(conn: &Connection, pages: &[ConnectionPage]) -> Value {
    if pages.is_empty() {
        json!({
            "kind": "get_page_role",
            "detail": "The Facebook account manages no Page. Get a role on a Page (or create one), then connect again.",
            "method": "POST",
            "path": format!("/v1/connect/{}", conn.platform),
        })
    } else if !pages.iter().any(|p| p.selected) {
        json!({
            "kind": "select_pages",
            "detail": "Choose the Pages Switchboard may use: send their ids.",
            "method": "POST",
            "path": format!("/v1/connections/{}/pages", conn.id),
            "body": {"page_ids": pages.iter().map(|p| p.page_id.clone()).collect::<Vec<_>>()},
        })
    } else {
        json!({"kind": "none", "detail": "Pages are chosen; nothing to do."})
    }
}

/// `GET /v1/connections/{id}/pages` → `{data, source: "stored"|"live", selection_required,
/// diagnosis?, action}`. Lists the stored Pages; when none are stored yet, lists them live (and
/// stores the list, nothing chosen).
///
/// Errors: 404; 409 `pages-not-applicable` for non-Facebook connections; the platform's problem
/// (502/504 with diagnosis) when the live list fails.
#[utoipa::path(
    get,
    path = "/v1/connections/{id}/pages",
    operation_id = "listPages",
    tag = "pages",
    summary = "List the Facebook Pages of a connection",
    params(
        ("id" = String, Path, description = "Connection id"),
    ),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The Pages and what to do next.", body = crate::openapi::PageList),
        (status = 404, description = "`not-found`: no connection with this id in this workspace.", body = crate::openapi::Problem, content_type = "application/problem+json"),
        (status = 409, description = "`pages-not-applicable`: not a Facebook connection.", body = crate::openapi::Problem, content_type = "application/problem+json"),
        (status = 502, description = "`platform-error`: listing the Pages failed; `diagnosis` explains it.", body = crate::openapi::Problem, content_type = "application/problem+json"),
        (status = 504, description = "`platform-unreachable`.", body = crate::openapi::Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn list(
    State(state): State<AppState>,
    auth: WorkspaceAuth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let conn = load_facebook(&state, &auth, &id).await?;
    let mut pages = state.store().list_pages(&conn.id).await?;
    let mut source = "stored";
    if pages.is_empty() {
        let live = fetch_live(&state, &conn).await?;
        pages = rows(&state, &conn, &live, |_| false);
        state
            .store()
            .replace_pages(&conn.id, &pages, state.now())
            .await?;
        source = "live";
    }
    let mut body = json!({
        "connection_id": conn.id,
        "connection_status": conn.status,
        "data": pages.iter().map(page_json).collect::<Vec<_>>(),
        "source": source,
        "selection_required": !pages.iter().any(|p| p.selected),
        "action": pages_action(&conn, &pages),
    });
    if pages.is_empty() {
        body["diagnosis"] = json!(no_pages_diagnosis(&state, &conn.platform));
    }
    Ok(Json(body))
}

/// Body of `POST /v1/connections/{id}/pages`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = SelectPagesRequest)]
pub struct SelectRequest {
    /// Ids of the Pages to use (at least one); the selection replaces the previous one.
    #[schema(min_items = 1)]
    pub page_ids: Vec<String>,
}

/// `POST /v1/connections/{id}/pages {"page_ids": [...]}` → `{connection, data}`. Lists the Pages
/// live (so the stored Page tokens are fresh), stores the chosen ones' tokens sealed, forgets the
/// tokens of Pages no longer chosen, and sets the connection's status from its user token
/// (`healthy` unless it is about to expire). Records `connection.pages_selected`.
///
/// Errors: 404; 409 `pages-not-applicable`; 422 `validation-error` with `field` `page_ids` (empty
/// selection) or `page_ids[i]` (not a Page the account manages); 409 `account-not-eligible` with
/// a diagnosis when the account manages no Page; the platform's problem when the list fails.
#[utoipa::path(
    post,
    path = "/v1/connections/{id}/pages",
    operation_id = "selectPages",
    tag = "pages",
    summary = "Choose the Facebook Pages to publish to",
    params(
        ("id" = String, Path, description = "Connection id"),
    ),
    request_body = SelectRequest,
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The connection and every Page.", body = crate::openapi::PagesSelected),
        (status = 400, description = "`malformed-body`: the body is not JSON.", body = crate::openapi::Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not-found`: no connection with this id in this workspace.", body = crate::openapi::Problem, content_type = "application/problem+json"),
        (status = 409, description = "`pages-not-applicable`, or `account-not-eligible`: the account manages no Page.", body = crate::openapi::Problem, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported-media-type`: the body is not `application/json`.", body = crate::openapi::Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation-error` on `page_ids` (empty) or `page_ids[i]` (not a Page of the account).", body = crate::openapi::Problem, content_type = "application/problem+json"),
        (status = 502, description = "`platform-error`: listing the Pages failed.", body = crate::openapi::Problem, content_type = "application/problem+json"),
        (status = 504, description = "`platform-unreachable`.", body = crate::openapi::Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn select(
    State(state): State<AppState>,
    auth: WorkspaceAuth,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<SelectRequest>,
) -> ApiResult<Json<Value>> {
    if req.page_ids.is_empty() {
        return Err(ApiError::validation(
            "page_ids",
            "choose at least one Page: list them with GET /v1/connections/{id}/pages",
        ));
    }
    for (i, p) in req.page_ids.iter().enumerate() {
        if p.trim().is_empty() || p.len() > 128 {
            return Err(ApiError::validation(
                &format!("page_ids[{i}]"),
                "a Page id is a non-empty string of at most 128 characters",
            ));
        }
    }
    let conn = load_facebook(&state, &auth, &id).await?;
    let live = fetch_live(&state, &conn).await?;
    if live.is_empty() {
        let d = no_pages_diagnosis(&state, &conn.platform);
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "account-not-eligible",
            "The account manages no Page",
            format!(
                "the Facebook account {} manages no Page, so there is nothing to choose; {}",
                conn.account_name.as_deref().unwrap_or(&conn.account_id),
                d.fix.join(" ")
            ),
        )
        .with_diagnosis(&d));
    }
    for (i, p) in req.page_ids.iter().enumerate() {
        if !live.iter().any(|l| &l.id == p) {
            return Err(ApiError::validation(
                &format!("page_ids[{i}]"),
                format!(
                    "{p:?} is not a Page this account manages; its Pages are: {}",
                    live.iter()
                        .map(|l| format!("{} ({})", l.id, l.name))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
    }
    let rows = rows(&state, &conn, &live, |id| {
        req.page_ids.iter().any(|p| p == id)
    });
    let now = state.now();
    state.store().replace_pages(&conn.id, &rows, now).await?;
    let status = selected_status(&state, &conn);
    state
        .store()
        .set_connection_status(&conn.id, status.as_str(), now)
        .await?;
    state.forget_connection(&conn.id);
    let chosen: Vec<&ConnectionPage> = rows.iter().filter(|r| r.selected).collect();
    emit(
        &state,
        &conn.workspace_id,
        Some(&conn.id),
        CONNECTION_PAGES_SELECTED,
        json!({
            "platform": conn.platform,
            "page_ids": chosen.iter().map(|p| p.page_id.clone()).collect::<Vec<_>>(),
            "pages": chosen.iter().map(|p| json!({"id": p.page_id, "name": p.name})).collect::<Vec<_>>(),
            "status": status,
        }),
    )
    .await;
    let saved = state
        .store()
        .get_connection(&auth.workspace_id, &conn.id)
        .await?
        .ok_or_else(|| ApiError::not_found("connection"))?;
    Ok(Json(json!({
        "connection": connection_json(&saved),
        "data": rows.iter().map(page_json).collect::<Vec<_>>(),
    })))
}

/// `GET /v1/connections/{id}/pages/{page_id}/token` → `{access_token, token_type: "bearer",
/// expires_at: null, page_id, page_name}`: the token to publish to the Page with. Page tokens
/// obtained with a long-lived user token do not expire (PLATFORMS.md §3).
///
/// Errors: 404 (connection or Page); 409 `pages-not-applicable`; 409 `page-not-selected`;
/// 409 `page-token-invalid` with the diagnosis when the last check found the token refused
/// (reconnect); 500 `stored-secret-unreadable`.
#[utoipa::path(
    get,
    path = "/v1/connections/{id}/pages/{page_id}/token",
    operation_id = "getPageToken",
    tag = "pages",
    summary = "Get a Page access token",
    params(
        ("id" = String, Path, description = "Connection id"),
        ("page_id" = String, Path, description = "Facebook Page id"),
    ),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The Page token (it does not expire).", body = crate::openapi::PageToken),
        (status = 404, description = "`not-found`: no such connection or Page.", body = crate::openapi::Problem, content_type = "application/problem+json"),
        (status = 409, description = "`pages-not-applicable`, `page-not-selected`, or `page-token-invalid` (reconnect; `diagnosis`).", body = crate::openapi::Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn page_token(
    State(state): State<AppState>,
    auth: WorkspaceAuth,
    Path((id, page_id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let conn = load_facebook(&state, &auth, &id).await?;
    let page = state
        .store()
        .get_page(&conn.id, &page_id)
        .await?
        .ok_or_else(|| ApiError::not_found("Page"))?;
    let sealed = match (&page.access_token_sealed, page.selected) {
        (Some(s), true) => s,
        _ => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "page-not-selected",
                "The Page is not selected",
                format!(
                    "Page {} ({}) was not chosen for this connection; choose it with POST /v1/connections/{}/pages",
                    page.page_id, page.name, conn.id
                ),
            ))
        }
    };
    if page.status == PAGE_NEEDS_REAUTH {
        let mut e = ApiError::new(
            StatusCode::CONFLICT,
            "page-token-invalid",
            "Facebook no longer accepts the Page's token",
            format!(
                "the token of Page {} ({}) was refused at the last health check (a password change or a lost Page role); reconnect with POST /v1/connect/{}",
                page.page_id, page.name, conn.platform
            ),
        );
        if let Some(d) = &page.last_error {
            e = e.with("diagnosis", d.clone());
        }
        return Err(e);
    }
    let token: SecretString = state
        .keyring()
        .open(&page_context(&conn.id, &page.page_id), sealed)
        .map_err(|e| {
            tracing::error!(connection_id = %conn.id, page_id = %page.page_id, error = %e, "stored Page token cannot be opened");
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "stored-secret-unreadable",
                "A stored secret cannot be decrypted",
                format!("the stored token of Page {} cannot be decrypted: {e}", page.page_id),
            )
        })?;
    Ok(Json(json!({
        "access_token": token.expose_secret(),
        "token_type": "bearer",
        "expires_at": null,
        "page_id": page.page_id,
        "page_name": page.name,
    })))
}

/// Routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/connections/{id}/pages", get(list).post(select))
        .route(
            "/v1/connections/{id}/pages/{page_id}/token",
            get(page_token),
        )
}
