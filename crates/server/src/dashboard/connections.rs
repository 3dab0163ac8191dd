//! The home page (`GET /`): every connection of the workspace with its platform, account, avatar,
//! health badge, expiry, last refresh and, when something is wrong, the diagnosis and its fix;
//! the sync status widget on top. One page per connection (`/connections/{id}`) with the
//! permission inspector, and the actions: refresh now, validate, health check, reconnect,
//! disconnect (after a confirmation page).
//!
//! Actions are CSRF-protected POST forms that redirect back (303) with a flash message; they call
//! the same functions as the API ([`crate::lifecycle::refresh`], [`crate::validation::validate`],
//! [`crate::health::check`], [`crate::routes::connections::disconnect`]).

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use chrono::{DateTime, Utc};
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::{json, Value};
use switchboard_core::diagnosis::Diagnosis;
use switchboard_store::{Connection, ConnectionFilter};

use super::layout::{self, badge, flash, page_with, time_el};
use super::session::{csrf_field, Posted, Session};
use crate::AppState;

/// Query of pages that show a flash message after an action.
#[derive(Debug, Default, Deserialize)]
pub struct FlashQuery {
    /// Success message.
    #[serde(default)]
    pub done: Option<String>,
    /// Failure message.
    #[serde(default)]
    pub error: Option<String>,
}

/// Statuses in the order people should look at them (the ones needing a person first).
fn urgency(status: &str) -> u8 {
    match status {
        "needs_reauth" | "expired" | "revoked" => 0,
        "refresh_failing" => 1,
        "pending_selection" => 2,
        "expiring_soon" => 3,
        _ => 4,
    }
}

/// The account's display: `@username`, else the name, else the platform's account id.
pub fn account_label(c: &Connection) -> String {
    c.username
        .as_deref()
        .map(|u| format!("@{u}"))
        .or_else(|| c.account_name.clone())
        .unwrap_or_else(|| c.account_id.clone())
}

/// The stored diagnosis of a connection's last failure, when it parses.
pub fn last_diagnosis(c: &Connection) -> Option<Diagnosis> {
    c.last_error
        .as_ref()
        .and_then(|v| serde_json::from_value::<Diagnosis>(v.clone()).ok())
}

/// What a connection in `status` needs from the person, in one sentence (`None` when healthy).
pub fn what_to_do(status: &str, platform_name: &str) -> Option<String> {
    Some(match status {
        "needs_reauth" => format!("{platform_name} no longer accepts this connection's tokens. Reconnect the account."),
        "expired" => format!("The access token expired and {platform_name} gives no way to renew it without you. Reconnect the account."),
        "revoked" => format!("Access was revoked at {platform_name}. Reconnect the account."),
        "refresh_failing" => "Renewing the token keeps failing; Switchboard retries by itself. If it goes on, check the diagnosis below or reconnect.".to_string(),
        "expiring_soon" => format!("The token runs out soon and {platform_name} cannot renew it without you. Reconnect before it expires."),
        "pending_selection" => "Choose the Facebook Pages Switchboard may publish to.".to_string(),
        _ => return None,
    })
}

/// The diagnosis block: cause, numbered fix, docs link, the platform's own code.
pub fn diagnosis_block(d: &Diagnosis) -> Markup {
    html! {
        div .diagnosis data-testid="diagnosis" data-category=(d.category.as_str()) {
            p {
                strong { "Diagnosis: " } (d.category.as_str().replace('_', " "))
                @if d.retryable { " · retryable" } @else { " · needs action" }
            }
            p { (d.cause) }
            @if !d.fix.is_empty() {
                p .small { strong { "How to fix it" } }
                ol { @for s in &d.fix { li { (s) } } }
            }
            @if let Some(u) = &d.docs_url { p .small { a href=(u) rel="noopener noreferrer" target="_blank" { "Platform documentation" } } }
            @if d.platform_code.is_some() || d.platform_message.is_some() {
                p .small.muted {
                    "Platform said: "
                    @if let Some(c) = &d.platform_code { code { (c) } " " }
                    @if let Some(m) = &d.platform_message { (m) }
                }
            }
        }
    }
}

fn expiry_cell(now: DateTime<Utc>, c: &Connection) -> Markup {
    html! {
        @match c.expires_at {
            Some(e) => (time_el(now, e)),
            None => span .muted { "does not expire" },
        }
    }
}

/// One connection as a card of the home page (`data-testid="connection-card"`, `data-platform`,
/// `data-status`, `id="connection-{id}"`).
fn card(state: &AppState, session: &Session, now: DateTime<Utc>, c: &Connection) -> Markup {
    let spec = state.catalog().get(&c.platform);
    let name = spec.map_or(c.platform.clone(), |s| s.display_name.clone());
    let colour = spec.map_or("#4b5563", |s| layout::safe_colour(&s.brand_color));
    let label = account_label(c);
    let diag = last_diagnosis(c);
    let todo = what_to_do(&c.status, &name);
    let person = matches!(
        c.status.as_str(),
        "needs_reauth" | "expired" | "revoked" | "expiring_soon" | "refresh_failing"
    );
    html! {
        article .card.conn id={"connection-" (c.id)} data-testid="connection-card"
            data-platform=(c.platform) data-status=(c.status) style={"border-left-color:" (colour)} {
            div .conn-head {
                (layout::avatar(c.avatar_url.as_deref(), &label, colour))
                div .conn-who {
                    h2 .h3 { a href={"/connections/" (c.id)} { (label) } }
                    p .muted.small {
                        span .platform-dot style={"background:" (colour)} aria-hidden="true" {}
                        (name)
                        @if let Some(n) = &c.account_name { @if c.username.is_some() { " · " (n) } }
                    }
                }
                (badge(&c.status))
            }
            dl .facts {
                div { dt { "Token expires" } dd data-testid="expires" { (expiry_cell(now, c)) } }
                div { dt { "Last refresh" } dd data-testid="last-refresh" {
                    @match c.last_refreshed_at { Some(t) => (time_el(now, t)), None => span .muted { "never" } }
                } }
                div { dt { "Owner" } dd { (c.owner) } }
            }
            @if let Some(t) = &todo { p .todo data-testid="what-to-do" { span .icon aria-hidden="true" { "→" } " " (t) } }
            @if let Some(d) = &diag { @if c.status != "healthy" { (diagnosis_block(d)) } }
            div .actions {
                @if c.status == "pending_selection" {
                    a .btn.btn-primary href={"/connect/pages/" (c.id)} data-testid="action-select-pages" { "Choose Pages" }
                }
                @if person {
                    a .btn.btn-primary href={"/connect/reconnect/" (c.id)} data-testid="action-reconnect" { "Reconnect" }
                }
                form method="post" action={"/connections/" (c.id) "/refresh"} .inline {
                    (csrf_field(session))
                    button type="submit" .btn data-testid="action-refresh" { "Refresh now" }
                }
                form method="post" action={"/connections/" (c.id) "/validate"} .inline {
                    (csrf_field(session))
                    button type="submit" .btn data-testid="action-validate" { "Validate" }
                }
                a .btn href={"/connections/" (c.id) "#permissions"} data-testid="action-permissions" { "Permissions" }
                @if !person {
                    a .btn href={"/connect/reconnect/" (c.id)} data-testid="action-reconnect" { "Reconnect" }
                }
                a .btn.btn-danger href={"/connections/" (c.id) "/disconnect"} data-testid="action-disconnect" { "Disconnect" }
            }
        }
    }
}

/// The admin's workspace list for the header picker (`None` for API-key sessions).
pub async fn workspaces_for(
    state: &AppState,
    session: &Session,
) -> Option<Vec<switchboard_store::Workspace>> {
    if !session.admin {
        return None;
    }
    state.store().list_workspaces(200).await.ok()
}

/// A summary line of counts per status: "7 connections: 5 healthy, 1 needs reconnect…".
fn summary(rows: &[Connection]) -> Markup {
    let mut counts: std::collections::BTreeMap<u8, (String, usize)> = Default::default();
    for c in rows {
        let e = counts
            .entry(urgency(&c.status))
            .or_insert_with(|| (c.status.clone(), 0));
        e.1 += 1;
    }
    html! {
        p .summary data-testid="connections-summary" {
            (rows.len()) " connection" @if rows.len() != 1 { "s" }
            @if !rows.is_empty() { ": " }
            @for (i, (_, (status, n))) in counts.iter().enumerate() {
                @if i > 0 { ", " }
                (n) " " (layout::status_look(status).2.to_lowercase())
            }
        }
    }
}

/// `GET /`: the home page.
pub async fn home(
    State(state): State<AppState>,
    session: Session,
    Query(q): Query<FlashQuery>,
) -> Response {
    let rows = match state
        .store()
        .list_connections(&session.workspace_id, &ConnectionFilter::default())
        .await
    {
        Ok(r) => r,
        Err(e) => return db_error(&e),
    };
    let mut rows = rows;
    rows.sort_by_key(|c| (urgency(&c.status), c.platform.clone()));
    let now = state.now();
    let widget = super::sync_widget::widget(&state, &session).await;
    let ws = workspaces_for(&state, &session).await;
    let body = html! {
        (flash(q.done.as_deref(), q.error.as_deref()))
        (widget)
        section aria-labelledby="connections-heading" {
            div .section-head {
                h2 #connections-heading { "Accounts" }
                a .btn.btn-primary href="/connect" data-testid="connect-account" { "+ Connect an account" }
            }
            (summary(&rows))
            @if rows.is_empty() {
                div .card.empty data-testid="no-connections" {
                    p { "No account is connected yet." }
                    p { a .btn.btn-primary href="/connect" { "Connect your first account" } }
                }
            } @else {
                div .grid {
                    @for c in &rows { (card(&state, &session, now, c)) }
                }
            }
        }
    };
    page_with("Connections", "connections", &session, ws.as_deref(), body).into_response()
}

/// A 503 page for a database failure (the detail goes to the log only).
pub fn db_error(e: &dyn std::fmt::Display) -> Response {
    tracing::error!(error = %e, "dashboard: database error");
    (
        axum::http::StatusCode::SERVICE_UNAVAILABLE,
        layout::message_page(
            "The database did not answer",
            "Switchboard could not read its database. Try again in a moment; if it goes on, check /readyz and the server log.",
        ),
    )
        .into_response()
}

fn not_found() -> Response {
    (
        axum::http::StatusCode::NOT_FOUND,
        layout::message_page(
            "No such connection",
            "It may have been disconnected, or it belongs to another workspace.",
        ),
    )
        .into_response()
}

/// Loads a connection of the session's workspace, or the 404 page.
pub async fn load(state: &AppState, session: &Session, id: &str) -> Result<Connection, Response> {
    match state
        .store()
        .get_connection(&session.workspace_id, id)
        .await
    {
        Ok(Some(c)) => Ok(c),
        Ok(None) => Err(not_found()),
        Err(e) => Err(db_error(&e)),
    }
}

/// A redirect with a flash message to `path` (`?done=` or `?error=`).
pub fn back(path: &str, result: Result<String, String>) -> Response {
    let (k, v) = match &result {
        Ok(m) => ("done", m),
        Err(m) => ("error", m),
    };
    let sep = if path.contains('?') { '&' } else { '?' };
    let (base, frag) = match path.split_once('#') {
        Some((b, f)) => (b, format!("#{f}")),
        None => (path, String::new()),
    };
    Redirect::to(&format!("{base}{sep}{k}={}{frag}", urlencoding::encode(v))).into_response()
}

/// One live check as shown: name, `pass|warn|fail`, detail, fix.
type CheckRow = (String, String, String, Option<String>);

fn check_rows(checks: &[CheckRow]) -> Markup {
    html! {
        ul .checks {
            @for (name, status, detail, fix) in checks {
                @let (tone, icon, word) = match status.as_str() {
                    "pass" => ("ok", "✓", "Pass"),
                    "warn" => ("warn", "⚠", "Warning"),
                    _ => ("bad", "✗", "Fail"),
                };
                li .check data-testid="check" data-check=(name) data-result=(status) {
                    (layout::tone_badge(tone, icon, word))
                    " " strong { (name.replace('_', " ")) } ": " (detail)
                    @if let Some(f) = fix { div .small { "Fix: " (f) } }
                }
            }
        }
    }
}

/// Query of the connection page.
#[derive(Debug, Default, Deserialize)]
pub struct DetailQuery {
    /// Success message.
    #[serde(default)]
    pub done: Option<String>,
    /// Failure message.
    #[serde(default)]
    pub error: Option<String>,
    /// `validate` or `health`: run that check now and show its report.
    #[serde(default)]
    pub run: Option<String>,
}

/// `GET /connections/{id}`: one connection: status, diagnosis, dates, the permission inspector,
/// and (with `?run=validate` / `?run=health`, which the action buttons lead to) the report of
/// the live checks.
pub async fn detail(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    Query(q): Query<DetailQuery>,
) -> Response {
    let c = match load(&state, &session, &id).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let now = state.now();
    let spec = state.catalog().get(&c.platform);
    let name = spec.map_or(c.platform.clone(), |s| s.display_name.clone());
    let colour = spec.map_or("#4b5563", |s| layout::safe_colour(&s.brand_color));
    let label = account_label(&c);
    // The live checks, run on request only (they call the platform).
    let report: Option<(String, String, Vec<CheckRow>)> = match q.run.as_deref() {
        Some("validate") => match crate::validation::validate(&state, c.clone()).await {
            Ok(r) => {
                let v = serde_json::to_value(&r).unwrap_or(Value::Null);
                Some((
                    "Account validation".into(),
                    str_of(&v["verdict"]),
                    rows_of(&v),
                ))
            }
            Err(e) => Some((
                "Account validation".into(),
                "fail".into(),
                vec![("validation".into(), "fail".into(), e.detail.clone(), None)],
            )),
        },
        Some("health") => match crate::health::check(&state, &c).await {
            Ok(r) => {
                let v = serde_json::to_value(&r).unwrap_or(Value::Null);
                Some(("Health check".into(), str_of(&v["summary"]), rows_of(&v)))
            }
            Err(e) => Some((
                "Health check".into(),
                "fail".into(),
                vec![("health".into(), "fail".into(), e.detail.clone(), None)],
            )),
        },
        _ => None,
    };
    // After a health check the status may have changed: read the row again.
    let c = if report.is_some() {
        load(&state, &session, &id).await.unwrap_or(c)
    } else {
        c
    };
    let perms = spec.map(|s| {
        let granted = crate::routes::permissions::normalised_scopes(s, &c.scopes);
        let (caps, missing) = crate::routes::permissions::capabilities(s, &granted);
        (granted, caps, missing)
    });
    let diag = last_diagnosis(&c);
    let ws = workspaces_for(&state, &session).await;
    let body = html! {
        (flash(q.done.as_deref(), q.error.as_deref()))
        p { a href="/" { "← All connections" } }
        article .card.conn data-testid="connection-detail" data-platform=(c.platform) data-status=(c.status)
            style={"border-left-color:" (colour)} {
            div .conn-head {
                (layout::avatar(c.avatar_url.as_deref(), &label, colour))
                div .conn-who {
                    h2 .h3 { (label) }
                    p .muted.small { (name) " · account id " code { (c.account_id) } }
                }
                (badge(&c.status))
            }
            @if let Some(t) = what_to_do(&c.status, &name) { p .todo data-testid="what-to-do" { span .icon aria-hidden="true" { "→" } " " (t) } }
            @if let Some(d) = &diag { (diagnosis_block(d)) }
            dl .facts {
                div { dt { "Token expires" } dd { (expiry_cell(now, &c)) } }
                div { dt { "Refresh token" } dd {
                    @if c.refresh_token_sealed.is_some() {
                        @match c.refresh_expires_at { Some(t) => { "held, expires " (time_el(now, t)) }, None => "held" }
                    } @else { span .muted { "none" } }
                } }
                div { dt { "Last refresh" } dd { @match c.last_refreshed_at { Some(t) => (time_el(now, t)), None => span .muted { "never" } } } }
                div { dt { "Connected" } dd { (time_el(now, c.created_at)) } }
                div { dt { "Owner" } dd { (c.owner) } }
                div { dt { "Connection id" } dd { code { (c.id) } } }
            }
            div .actions {
                form method="post" action={"/connections/" (c.id) "/refresh"} .inline {
                    (csrf_field(&session))
                    input type="hidden" name="back" value="detail";
                    button type="submit" .btn data-testid="action-refresh" { "Refresh now" }
                }
                form method="post" action={"/connections/" (c.id) "/validate"} .inline {
                    (csrf_field(&session))
                    button type="submit" .btn data-testid="action-validate" { "Validate" }
                }
                form method="post" action={"/connections/" (c.id) "/health"} .inline {
                    (csrf_field(&session))
                    button type="submit" .btn data-testid="action-health" { "Check health" }
                }
                @if c.status == "pending_selection" || c.platform == "facebook" {
                    a .btn href={"/connect/pages/" (c.id)} data-testid="action-select-pages" { "Facebook Pages" }
                }
                a .btn.btn-primary href={"/connect/reconnect/" (c.id)} data-testid="action-reconnect" { "Reconnect" }
                a .btn.btn-danger href={"/connections/" (c.id) "/disconnect"} data-testid="action-disconnect" { "Disconnect" }
            }
        }
        @if let Some((title, verdict, rows)) = &report {
            section .card data-testid="check-report" aria-labelledby="report-heading" {
                h2 #report-heading { (title) }
                p { strong { "Result: " } (verdict) }
                (check_rows(rows))
            }
        }
        @if let Some((granted, caps, missing)) = &perms {
            section .card #permissions data-testid="permissions" aria-labelledby="perm-heading" {
                h2 #perm-heading { "Permissions" }
                p { "Granted: " @for (i, s) in granted.iter().enumerate() { @if i > 0 { ", " } code { (s) } } @if granted.is_empty() { span .muted { "none recorded" } } }
                table .table {
                    thead { tr { th scope="col" { "Capability" } th scope="col" { "Available" } th scope="col" { "Missing scopes" } } }
                    tbody {
                        @if let Some(map) = caps.as_object() {
                            @for (cap, v) in map {
                                tr data-testid="capability" data-capability=(cap) {
                                    td { (cap.replace('_', " ")) }
                                    td {
                                        @if v["supported"] == json!(false) { (layout::tone_badge("muted", "–", "not offered by the platform")) }
                                        @else if v["available"] == json!(true) { (layout::tone_badge("ok", "✓", "yes")) }
                                        @else { (layout::tone_badge("bad", "✗", "no")) }
                                    }
                                    td { @if let Some(m) = v["missing"].as_array() { @for (i, s) in m.iter().enumerate() { @if i > 0 { ", " } code { (s.as_str().unwrap_or_default()) } } } }
                                }
                            }
                        }
                    }
                }
                @if !missing.is_empty() {
                    form method="post" action={"/connect/" (c.platform)} .inline data-connect-form {
                        (csrf_field(&session))
                        input type="hidden" name="owner" value=(c.owner);
                        input type="hidden" name="scopes" value=(missing.join(" "));
                        button type="submit" .btn.btn-primary data-testid="grant-missing" { "Reconnect and grant the missing scopes" }
                    }
                }
            }
        }
    };
    page_with(
        &format!("{name}: {label}"),
        "connections",
        &session,
        ws.as_deref(),
        body,
    )
    .into_response()
}

fn str_of(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

fn rows_of(v: &Value) -> Vec<CheckRow> {
    v["checks"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|c| {
                    (
                        str_of(&c["name"]),
                        str_of(&c["status"]),
                        str_of(&c["detail"]),
                        c["fix"].as_str().map(str::to_string),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Form of the refresh action: `back=detail` returns to the connection page.
#[derive(Debug, Default, Deserialize)]
pub struct ActionForm {
    /// `detail` to come back to the connection's page, else the home page.
    #[serde(default)]
    pub back: Option<String>,
}

fn back_path(id: &str, form: &ActionForm) -> String {
    if form.back.as_deref() == Some("detail") {
        format!("/connections/{id}")
    } else {
        format!("/#connection-{id}")
    }
}

/// `POST /connections/{id}/refresh`: renews the access token now
/// ([`crate::lifecycle::refresh`]); back with "Refreshed" or the diagnosis' summary.
pub async fn refresh(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted<ActionForm>,
) -> Response {
    let c = match load(&state, &posted.session, &id).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let to = back_path(&id, &posted.form);
    let label = account_label(&c);
    match crate::lifecycle::refresh(&state, &c.id, crate::lifecycle::Need::Now).await {
        Ok(n) => {
            crate::audit::record(
                &state,
                &posted.session.workspace_id,
                Some(&n.id),
                &posted.session.actor(),
                crate::audit::action::CONNECTION_REFRESHED,
                json!({"platform": n.platform, "expires_at": n.expires_at, "via": "dashboard"}),
            )
            .await;
            back(&to, Ok(format!("Refreshed {label}: the token is renewed.")))
        }
        Err(f) => back(
            &to,
            Err(format!(
                "Refreshing {label} failed: {} Its status is now: {}.",
                f.diagnosis.cause,
                layout::status_look(&f.connection.status).2.to_lowercase()
            )),
        ),
    }
}

/// `POST /connections/{id}/validate`: leads to the connection page with the validation report.
pub async fn validate(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted<ActionForm>,
) -> Response {
    to_report(&state, &posted.session, &id, "validate").await
}

/// `POST /connections/{id}/health`: leads to the connection page with the health report.
pub async fn health(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted<ActionForm>,
) -> Response {
    to_report(&state, &posted.session, &id, "health").await
}

/// Leads to the connection page with the report of the check `run` (`validate` or `health`),
/// or answers the 404 page when the session cannot see connection `id`.
async fn to_report(state: &AppState, session: &Session, id: &str, run: &str) -> Response {
    match load(state, session, id).await {
        Ok(_) => {
            Redirect::to(&format!("/connections/{id}?run={run}#report-heading")).into_response()
        }
        Err(r) => r,
    }
}

/// `GET /connections/{id}/disconnect`: the confirmation page (what will happen, a red button,
/// a way back).
pub async fn confirm_disconnect(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
) -> Response {
    let c = match load(&state, &session, &id).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let name = state
        .catalog()
        .get(&c.platform)
        .map_or(c.platform.clone(), |s| s.display_name.clone());
    let revokes = state
        .catalog()
        .get(&c.platform)
        .is_some_and(|s| s.endpoints.revocation_url.is_some());
    let label = account_label(&c);
    let body = html! {
        div .card.confirm data-testid="confirm-disconnect" {
            p { "Disconnect " strong { (label) } " on " (name) "?" }
            ul {
                @if revokes { li { "Switchboard asks " (name) " to revoke its access." } }
                @else { li { (name) " has no way to revoke access; the token stays valid at " (name) " until it expires." } }
                li { "The stored tokens are deleted. Posts scheduled for this account can no longer be published." }
                li { "You can connect the account again at any time." }
            }
            div .actions {
                form method="post" action={"/connections/" (c.id) "/disconnect"} .inline {
                    (csrf_field(&session))
                    button type="submit" .btn.btn-danger data-testid="confirm-disconnect-submit" { "Yes, disconnect" }
                }
                a .btn href="/" { "Cancel" }
            }
        }
    };
    page_with(
        &format!("Disconnect {label}"),
        "connections",
        &session,
        None,
        body,
    )
    .into_response()
}

/// `POST /connections/{id}/disconnect`: revokes where the platform can, deletes, back home with
/// what happened to the revocation.
pub async fn disconnect(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted<ActionForm>,
) -> Response {
    let c = match load(&state, &posted.session, &id).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let label = account_label(&c);
    match crate::routes::connections::disconnect(
        &state,
        &posted.session.auth(),
        &posted.session.actor(),
        &c,
    )
    .await
    {
        Ok(revocation) => {
            let how = match revocation["status"].as_str() {
                Some("revoked") => "access revoked at the platform".to_string(),
                Some("not_supported") => {
                    "the platform cannot revoke; the token stays valid until it expires".to_string()
                }
                _ => format!(
                    "revoking at the platform failed ({}); the connection was deleted anyway",
                    revocation["detail"].as_str().unwrap_or("unknown reason")
                ),
            };
            back("/", Ok(format!("Disconnected {label}: {how}.")))
        }
        Err(e) => back(
            "/",
            Err(format!("Could not disconnect {label}: {}", e.detail)),
        ),
    }
}

/// Routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/connections/{id}", get(detail))
        .route("/connections/{id}/refresh", post(refresh))
        .route("/connections/{id}/validate", post(validate))
        .route("/connections/{id}/health", post(health))
        .route(
            "/connections/{id}/disconnect",
            get(confirm_disconnect).post(disconnect),
        )
}
