//! Connecting accounts from the dashboard.
//!
//! - `GET /connect`: a quick-connect card per platform of the catalog: brand colour, difficulty,
//!   setup time, features, requirements, and whether it is configured, or what is missing (the
//!   checks of `GET /v1/platforms/{p}/prerequisites`, [`crate::prerequisites::platform_checks`]).
//!   Bulk connect: tick several platforms, start them at once.
//! - `POST /connect/{platform}` (CSRF): starts a connect session exactly as
//!   `POST /v1/connect/{platform}` does ([`crate::routes::connect::start_session`]) with
//!   `return_to` = [`RESULT_PATH`], and answers 303 to the platform's consent page. With
//!   JavaScript the form targets a popup window; without, the page itself goes.
//! - `GET /connect/done`: where the callback sends the browser back: a clear success (the
//!   account, its status, what next) or failure (the diagnosis and its fix) view. In a popup it
//!   tells the opener, which moves on, and closes.
//! - `GET|POST /connect/pages/{id}`: Facebook Page selection ([`crate::routes::facebook_pages`]).
//! - `GET /connect/reconnect/{id}`: the reconnect wizard: why, what to grant and why, the
//!   platform's steps (the reconnect guide, [`crate::routes::guides::reconnect_guide`]), then the
//!   button.
//! - `POST /connect/bulk`, `GET /connect/bulk/{id}`: bulk connect with progress
//!   ([`crate::routes::bulk`]).

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::Value;
use switchboard_core::diagnosis::{Category, Diagnosis};
use switchboard_core::PlatformSpec;
use switchboard_store::ConnectionFilter;

use super::connections::{
    account_label, back, db_error, diagnosis_block, load, workspaces_for, FlashQuery,
};
use super::layout::{self, badge, flash, page_with, tone_badge};
use super::session::{csrf_field, Posted, Session};
use crate::extract::ApiJson;
use crate::prerequisites::{self, Status};
use crate::routes::connect::{start_session, ConnectRequest};
use crate::AppState;

/// Path of the page the OAuth callback returns to (always an allowed `return_to`).
pub const RESULT_PATH: &str = "/connect/done";

/// The owner new connections get when the form does not say: the workspace's most frequent
/// owner, else `"me"`.
async fn default_owner(state: &AppState, session: &Session) -> String {
    let rows = state
        .store()
        .list_connections(&session.workspace_id, &ConnectionFilter::default())
        .await
        .unwrap_or_default();
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for c in &rows {
        *counts.entry(c.owner.as_str()).or_default() += 1;
    }
    counts
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(a.0)))
        .map_or_else(|| "me".to_string(), |(o, _)| o.to_string())
}

fn difficulty_badge(d: &str) -> Markup {
    let (tone, icon) = match d {
        "easy" => ("ok", "●"),
        "medium" => ("warn", "◐"),
        _ => ("bad", "◆"),
    };
    tone_badge(tone, icon, &format!("{} setup", d))
}

/// A connect button: a CSRF form posting to `/connect/{platform}`; with JavaScript the consent
/// opens in a popup (`data-connect-form`).
pub fn connect_button(
    session: &Session,
    platform: &str,
    owner: &str,
    scopes: &[String],
    label: &str,
    primary: bool,
) -> Markup {
    html! {
        form method="post" action={"/connect/" (platform)} .inline data-connect-form {
            (csrf_field(session))
            input type="hidden" name="owner" value=(owner);
            input type="hidden" name="mode" value="redirect";
            @if !scopes.is_empty() { input type="hidden" name="scopes" value=(scopes.join(" ")); }
            button type="submit" class={"btn" @if primary { " btn-primary" }}
                data-testid={"connect-" (platform)} { (label) }
        }
    }
}

fn platform_card(
    state: &AppState,
    session: &Session,
    spec: &PlatformSpec,
    owner: &str,
    connected: usize,
) -> Markup {
    let colour = layout::safe_colour(&spec.brand_color);
    let checks = prerequisites::platform_checks(state.config(), spec);
    let blocking: Vec<_> = checks.iter().filter(|c| c.status == Status::Fail).collect();
    let warnings: Vec<_> = checks.iter().filter(|c| c.status == Status::Warn).collect();
    let ready = blocking.is_empty();
    html! {
        article .card.platform-card data-testid="platform-card" data-platform=(spec.id)
            data-configured=(ready) style={"border-top-color:" (colour)} {
            h2 {
                span .platform-dot style={"background:" (colour)} aria-hidden="true" {}
                (spec.display_name)
            }
            div .meta {
                (difficulty_badge(&spec.difficulty))
                (tone_badge("muted", "◷", &format!("about {} min", spec.setup_minutes)))
                @if ready { span data-testid="configured" { (tone_badge("ok", "✓", "Configured")) } }
                @else { span data-testid="not-configured" { (tone_badge("bad", "✗", "Not configured")) } }
                @if connected > 0 { (tone_badge("info", "⇄", &format!("{connected} connected"))) }
            }
            @if !spec.features.is_empty() {
                p .small.muted { "Features" }
                ul .small { @for f in &spec.features { li { (f) } } }
            }
            @if !spec.requirements.is_empty() {
                p .small.muted { "Requirements" }
                ul .small { @for r in &spec.requirements { li { (r) } } }
            }
            @if !blocking.is_empty() {
                div .alert.alert-bad data-testid="missing" {
                    p { strong { "Missing before you can connect:" } }
                    ul { @for c in &blocking {
                        li { (c.detail) @if let Some(f) = &c.fix { br; span .small { "Fix: " (f) } } }
                    } }
                }
            }
            @if ready && !warnings.is_empty() {
                details .small {
                    summary { (tone_badge("warn", "⚠", &format!("{} note{}", warnings.len(), if warnings.len() == 1 { "" } else { "s" }))) }
                    ul { @for c in &warnings { li { (c.detail) @if let Some(f) = &c.fix { " " (f) } } } }
                }
            }
            div .actions {
                @if ready {
                    (connect_button(session, &spec.id, owner, &[], &format!("Connect {}", spec.display_name), true))
                } @else {
                    button type="button" .btn disabled aria-disabled="true" data-testid={"connect-" (spec.id)} { "Connect " (spec.display_name) }
                }
            }
        }
    }
}

/// `GET /connect`: the quick-connect cards and bulk connect.
pub async fn page(
    State(state): State<AppState>,
    session: Session,
    Query(q): Query<FlashQuery>,
) -> Response {
    let owner = default_owner(&state, &session).await;
    let rows = match state
        .store()
        .list_connections(&session.workspace_id, &ConnectionFilter::default())
        .await
    {
        Ok(r) => r,
        Err(e) => return db_error(&e),
    };
    let mut specs: Vec<&PlatformSpec> = state
        .catalog()
        .ids()
        .iter()
        .filter_map(|id| state.catalog().get(id))
        .collect();
    specs.sort_by_key(|s| (s.custom, s.display_name.clone()));
    let ready: Vec<&&PlatformSpec> = specs
        .iter()
        .filter(|s| prerequisites::passes(&prerequisites::platform_checks(state.config(), s)))
        .collect();
    let ws = workspaces_for(&state, &session).await;
    let body = html! {
        (flash(q.done.as_deref(), q.error.as_deref()))
        p { "Pick a platform. Its consent page opens in a small window (or this tab, without JavaScript); "
            "you come back here when it is done. New accounts are connected for owner " strong { (owner) } "." }
        div .grid {
            @for s in &specs {
                @let n = rows.iter().filter(|c| c.platform == s.id).count();
                (platform_card(&state, &session, s, &owner, n))
            }
        }
        @if ready.len() > 1 {
            section .card #bulk aria-labelledby="bulk-heading" {
                h2 #bulk-heading { "Connect several at once" }
                form method="post" action="/connect/bulk" #bulk-form {
                    (csrf_field(&session))
                    fieldset {
                        legend { "Platforms" }
                        @for s in &ready {
                            label .check-label {
                                input type="checkbox" name="platform" value=(s.id) data-testid={"bulk-" (s.id)};
                                (s.display_name)
                            }
                        }
                    }
                    div .field {
                        label for="bulk-owner" { "Owner" }
                        input #bulk-owner name="owner" value=(owner) required maxlength="256";
                        p .hint { "The person in your app these accounts belong to." }
                    }
                    button type="submit" .btn.btn-primary data-testid="bulk-submit" { "Start bulk connect" }
                }
            }
        }
    };
    page_with(
        "Connect an account",
        "connect",
        &session,
        ws.as_deref(),
        body,
    )
    .into_response()
}

/// Fields of `POST /connect/{platform}`.
#[derive(Debug, Deserialize)]
pub struct ConnectForm {
    /// The owner (default: the workspace's usual owner).
    #[serde(default)]
    pub owner: String,
    /// Extra scopes, separated by spaces.
    #[serde(default)]
    pub scopes: String,
    /// `popup` or `redirect` (how the result page behaves).
    #[serde(default)]
    pub mode: String,
}

/// The absolute URL of the result page, with `extra` in the query.
fn result_url(state: &AppState, extra: &[(&str, &str)]) -> String {
    let mut u = url::Url::parse(&format!("{}{RESULT_PATH}", state.config().public_url))
        .expect("public_url is a valid URL (checked at start)");
    if !extra.is_empty() {
        u.query_pairs_mut().extend_pairs(extra);
    }
    u.to_string()
}

/// `POST /connect/{platform}`: starts the session and sends the browser to the consent page.
pub async fn start(
    State(state): State<AppState>,
    Path(platform): Path<String>,
    posted: Posted<ConnectForm>,
) -> Response {
    let session = &posted.session;
    let owner = match posted.form.owner.trim() {
        "" => default_owner(&state, session).await,
        o => o.to_string(),
    };
    let scopes: Vec<String> = posted
        .form
        .scopes
        .split_whitespace()
        .map(str::to_string)
        .collect();
    let mode = if posted.form.mode == "popup" {
        "popup"
    } else {
        "redirect"
    };
    let req = ConnectRequest {
        owner,
        scopes,
        return_to: Some(result_url(&state, &[("mode", mode)])),
    };
    match start_session(&state, &session.workspace_id, &platform, &req, None).await {
        Ok(v) => match v["authorization_url"].as_str() {
            Some(u) => Redirect::to(u).into_response(),
            None => back(
                "/connect",
                Err("The platform gave no authorization URL.".into()),
            ),
        },
        Err(e) => {
            let name = state
                .catalog()
                .get(&platform)
                .map_or(platform.clone(), |s| s.display_name.clone());
            result_page(
                &state,
                session,
                e.status,
                ResultView::Failed {
                    platform: name,
                    title: e.title.to_string(),
                    detail: e.detail.clone(),
                    diagnosis: e
                        .extra
                        .get("diagnosis")
                        .and_then(|d| serde_json::from_value(d.clone()).ok())
                        .map(Box::new),
                },
                mode,
            )
            .await
        }
    }
}

/// Query the callback adds to [`RESULT_PATH`].
#[derive(Debug, Default, Deserialize)]
pub struct ResultQuery {
    /// `connected` or `error`.
    #[serde(default)]
    pub switchboard_status: Option<String>,
    /// The connection, when connected.
    #[serde(default)]
    pub connection_id: Option<String>,
    /// The platform.
    #[serde(default)]
    pub platform: Option<String>,
    /// Diagnosis category (or problem type) when failed.
    #[serde(default)]
    pub error: Option<String>,
    /// Detail when failed.
    #[serde(default)]
    pub error_description: Option<String>,
    /// `popup` when the consent ran in a popup.
    #[serde(default)]
    pub mode: Option<String>,
}

enum ResultView {
    Connected(Box<switchboard_store::Connection>),
    Failed {
        platform: String,
        title: String,
        detail: String,
        diagnosis: Option<Box<Diagnosis>>,
    },
}

async fn result_page(
    state: &AppState,
    session: &Session,
    code: StatusCode,
    view: ResultView,
    mode: &str,
) -> Response {
    let (status, opener) = match &view {
        ResultView::Connected(c) if c.status == "pending_selection" => {
            ("connected", format!("/connect/pages/{}", c.id))
        }
        ResultView::Connected(c) => ("connected", format!("/connections/{}", c.id)),
        ResultView::Failed { .. } => ("failed", "/connect".to_string()),
    };
    let body = html! {
        div .card data-testid="connect-result" data-connect-result=(status)
            data-opener-location=(opener) data-mode=(mode) role="status" {
            @match &view {
                ResultView::Connected(c) => {
                    @let name = state.catalog().get(&c.platform).map_or(c.platform.clone(), |s| s.display_name.clone());
                    @let colour = state.catalog().get(&c.platform).map_or("#4b5563", |s| layout::safe_colour(&s.brand_color));
                    @let label = account_label(c);
                    p .result-icon aria-hidden="true" { "✓" }
                    h2 { "Connected to " (name) }
                    div .conn-head {
                        (layout::avatar(c.avatar_url.as_deref(), &label, colour))
                        div .conn-who { strong { (label) } p .small.muted { (name) } }
                        (badge(&c.status))
                    }
                    @if c.status == "pending_selection" {
                        p .todo { "One step left: choose the Facebook Pages Switchboard may publish to." }
                        p { a .btn.btn-primary href={"/connect/pages/" (c.id)} data-testid="choose-pages" { "Choose Pages" } }
                    } @else {
                        p { "The account is connected and Switchboard keeps it connected." }
                        p .actions {
                            a .btn.btn-primary href={"/connections/" (c.id)} { "See the connection" }
                            a .btn href="/" { "All connections" }
                            a .btn href="/connect" { "Connect another" }
                        }
                    }
                }
                ResultView::Failed { platform, title, detail, diagnosis } => {
                    p .result-icon aria-hidden="true" { "✗" }
                    h2 { "Could not connect " (platform) }
                    p { strong { (title) } }
                    p data-testid="connect-error" { (detail) }
                    @if let Some(d) = diagnosis { (diagnosis_block(d)) }
                    p .actions {
                        a .btn.btn-primary href="/connect" { "Try again" }
                        a .btn href="/troubleshoot" { "Troubleshoot" }
                    }
                }
            }
        }
    };
    let title = if status == "connected" {
        "Connected"
    } else {
        "Could not connect"
    };
    (code, layout::page(title, "connect", session, body)).into_response()
}

/// `GET /connect/done`: the result of a connect, from the callback's redirect.
pub async fn done(
    State(state): State<AppState>,
    session: Session,
    Query(q): Query<ResultQuery>,
) -> Response {
    let mode = q.mode.as_deref().unwrap_or("redirect").to_string();
    let platform_id = q.platform.clone().unwrap_or_default();
    let platform_name = state
        .catalog()
        .get(&platform_id)
        .map_or_else(|| "the platform".to_string(), |s| s.display_name.clone());
    match (q.switchboard_status.as_deref(), &q.connection_id) {
        (Some("connected"), Some(id)) => match load(&state, &session, id).await {
            Ok(c) => {
                result_page(
                    &state,
                    &session,
                    StatusCode::OK,
                    ResultView::Connected(Box::new(c)),
                    &mode,
                )
                .await
            }
            Err(r) => r,
        },
        (Some("error"), _) => {
            let category = q.error.clone().unwrap_or_default();
            let diagnosis = serde_json::from_value::<Category>(Value::String(category.clone()))
                .ok()
                .map(|c| {
                    let mut d = Diagnosis::new(c);
                    if let Some(p) = state.catalog().get(&platform_id) {
                        d.docs_url = p.guide.docs_for(c.as_str()).map(str::to_string);
                    }
                    Box::new(d)
                });
            result_page(
                &state,
                &session,
                StatusCode::OK,
                ResultView::Failed {
                    platform: platform_name,
                    title: category.replace(['_', '-'], " "),
                    detail: q.error_description.clone().unwrap_or_default(),
                    diagnosis,
                },
                &mode,
            )
            .await
        }
        _ => Redirect::to("/connect").into_response(),
    }
}

/// `GET /connect/pages/{id}`: the Pages of a Facebook connection, to tick.
pub async fn pages(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    Query(q): Query<FlashQuery>,
) -> Response {
    let c = match load(&state, &session, &id).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let listed =
        crate::routes::facebook_pages::list(State(state.clone()), session.auth(), Path(id.clone()))
            .await;
    let label = account_label(&c);
    let ws = workspaces_for(&state, &session).await;
    let body = html! {
        (flash(q.done.as_deref(), q.error.as_deref()))
        p { a href="/" { "← All connections" } }
        @match listed {
            Ok(Json(v)) => {
                @let data = v["data"].as_array().cloned().unwrap_or_default();
                p { "Facebook authorized " strong { (label) } ". Choose the Pages Switchboard may publish to; you can change this later." }
                @if let Some(d) = v.get("diagnosis").and_then(|d| serde_json::from_value::<Diagnosis>(d.clone()).ok()) { (diagnosis_block(&d)) }
                @if !data.is_empty() {
                    form method="post" action={"/connect/pages/" (c.id)} .card #pages-form {
                        (csrf_field(&session))
                        fieldset {
                            legend { "Pages" }
                            @for p in &data {
                                @let pid = p["id"].as_str().unwrap_or_default();
                                label .check-label {
                                    input type="checkbox" name="page_id" value=(pid) checked[p["selected"] == Value::Bool(true)] data-testid="page-checkbox";
                                    span { strong { (p["name"].as_str().unwrap_or(pid)) }
                                        @if let Some(t) = p["tasks"].as_array() { " " span .small.muted { "(" (t.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", ")) ")" } } }
                                }
                            }
                        }
                        button type="submit" .btn.btn-primary data-testid="pages-submit" { "Use these Pages" }
                    }
                }
            }
            Err(e) => {
                div .alert.alert-bad role="alert" { span .icon aria-hidden="true" { "✗" } " " (e.detail) }
                @if let Some(d) = e.extra.get("diagnosis").and_then(|d| serde_json::from_value::<Diagnosis>(d.clone()).ok()) { (diagnosis_block(&d)) }
            }
        }
    };
    page_with(
        "Choose Facebook Pages",
        "connections",
        &session,
        ws.as_deref(),
        body,
    )
    .into_response()
}

/// Every value of the repeated form field `name`, in the order posted.
fn every(form: &[(String, String)], name: &str) -> Vec<String> {
    form.iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .collect()
}

/// `POST /connect/pages/{id}` (`page_id` repeated): stores the choice.
pub async fn select_pages(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted<Vec<(String, String)>>,
) -> Response {
    let page_ids = every(&posted.form, "page_id");
    if page_ids.is_empty() {
        return back(
            &format!("/connect/pages/{id}"),
            Err("Tick at least one Page.".into()),
        );
    }
    let n = page_ids.len();
    match crate::routes::facebook_pages::select(
        State(state.clone()),
        posted.session.auth(),
        Path(id.clone()),
        ApiJson(crate::routes::facebook_pages::SelectRequest { page_ids }),
    )
    .await
    {
        Ok(_) => back(
            &format!("/connections/{id}"),
            Ok(format!(
                "{n} Page{} selected: the connection is ready.",
                if n == 1 { "" } else { "s" }
            )),
        ),
        Err(e) => back(&format!("/connect/pages/{id}"), Err(e.detail)),
    }
}

/// `GET /connect/reconnect/{id}`: the reconnect wizard.
pub async fn reconnect(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
) -> Response {
    let c = match load(&state, &session, &id).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let guide = crate::routes::guides::reconnect_guide(
        State(state.clone()),
        Path(c.platform.clone()),
        crate::extract::ApiQuery(crate::routes::guides::GuideQuery {
            connection_id: Some(c.id.clone()),
        }),
        Ok(session.auth()),
    )
    .await;
    let g = match guide {
        Ok(Json(v)) => v,
        Err(e) => return back(&format!("/connections/{id}"), Err(e.detail)),
    };
    let name = g["display_name"]
        .as_str()
        .unwrap_or(&c.platform)
        .to_string();
    let label = account_label(&c);
    let conn = &g["connection"];
    let missing: Vec<String> =
        serde_json::from_value(conn["missing_scopes"].clone()).unwrap_or_default();
    let ws = workspaces_for(&state, &session).await;
    let body = html! {
        p { a href={"/connections/" (c.id)} { "← " (label) } }
        ol .steps data-testid="reconnect-wizard" {
            li data-testid="wizard-why" {
                h2 .h3 { "Why reconnect" }
                p { (badge(&c.status)) " " (conn["reason"].as_str().unwrap_or_default()) }
                @if conn["needs_reconnect"] == Value::Bool(false) {
                    p .small.muted { "Reconnecting is not needed now, but it does no harm: the connection keeps its id." }
                }
                @if let Some(d) = conn.get("diagnosis").and_then(|d| serde_json::from_value::<Diagnosis>(d.clone()).ok()) { (diagnosis_block(&d)) }
            }
            li data-testid="wizard-permissions" {
                h2 .h3 { "What you will be asked to grant" }
                ul {
                    @for p in g["permissions"].as_array().cloned().unwrap_or_default() {
                        @let scope = p["scope"].as_str().unwrap_or_default().to_string();
                        li {
                            code { (scope) } ": " (p["why"].as_str().unwrap_or_default())
                            @if missing.contains(&scope) { " " (tone_badge("warn", "!", "missing now")) }
                        }
                    }
                }
            }
            li data-testid="wizard-steps" {
                h2 .h3 { "On " (name) }
                ol { @for s in g["steps"].as_array().cloned().unwrap_or_default() { li { (s.as_str().unwrap_or_default()) } } }
                p .small.muted { "Redirect URI registered with " (name) ": " code { (g["redirect_uri"].as_str().unwrap_or_default()) } }
            }
            li data-testid="wizard-go" {
                h2 .h3 { "Reconnect" }
                p { "Sign in as " strong { (label) } " when " (name) " asks; the connection keeps its id and its posts." }
                (connect_button(&session, &c.platform, &c.owner, &missing, &format!("Reconnect {label} on {name}"), true))
            }
        }
    };
    page_with(
        &format!("Reconnect {label}"),
        "connections",
        &session,
        ws.as_deref(),
        body,
    )
    .into_response()
}

/// `POST /connect/bulk` (`platform` repeated, `owner`): starts a session per platform, then 303
/// to the batch's own page (`GET /connect/bulk/{id}`), whose address keeps showing the links
/// and the progress for as long as they last.
pub async fn bulk_start(
    State(state): State<AppState>,
    posted: Posted<Vec<(String, String)>>,
) -> Response {
    let platforms = every(&posted.form, "platform");
    let owner = posted
        .form
        .iter()
        .find(|(k, _)| k == "owner")
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_default();
    if platforms.is_empty() {
        return back("/connect#bulk", Err("Tick at least one platform.".into()));
    }
    let req = crate::routes::bulk::BulkRequest {
        owner,
        platforms,
        return_to: Some(result_url(&state, &[("mode", "bulk")])),
    };
    let started =
        crate::routes::bulk::start_bulk(State(state.clone()), posted.session.auth(), ApiJson(req))
            .await;
    let v = match started {
        Ok((_, Json(v))) => v,
        Err(e) => {
            let field = e.extra.get("field").and_then(Value::as_str).unwrap_or("");
            return back("/connect#bulk", Err(format!("{field}: {}", e.detail)));
        }
    };
    let batch_id = v["batch_id"].as_str().unwrap_or_default();
    Redirect::to(&format!("/connect/bulk/{}", urlencoding::encode(batch_id))).into_response()
}

async fn bulk_progress(state: &AppState, session: &Session, batch_id: &str) -> Option<Markup> {
    let r = crate::routes::bulk::progress(
        State(state.clone()),
        session.auth(),
        Path(batch_id.to_string()),
    )
    .await;
    let Ok(Json(v)) = r else { return None };
    let done = v["done"] == v["total"];
    let pct = v["percent"].as_u64().unwrap_or(0);
    Some(html! {
        section .card data-bulk-progress data-poll-url={"/connect/bulk/" (batch_id) "?fragment=1"}
            data-done=(done) data-testid="bulk-progress" aria-live="polite" aria-labelledby="bulk-progress-heading" {
            h2 #bulk-progress-heading { "Progress" }
            div .progress-row {
                progress max="100" value=(pct) aria-labelledby="bulk-progress-heading" { (pct) "%" }
                " " span data-testid="bulk-percent" { (pct) "%" } " · " (v["done"]) " of " (v["total"]) " done"
                @if let Some(s) = v["estimated_seconds_left"].as_u64() { @if !done { " · about " (s) " s left" } }
            }
            ul .checks {
                @for s in v["sessions"].as_array().cloned().unwrap_or_default() {
                    @let pid = s["platform"].as_str().unwrap_or_default();
                    @let name = state.catalog().get(pid).map_or(pid.to_string(), |x| x.display_name.clone());
                    @let st = s["status"].as_str().unwrap_or("pending");
                    li .check data-testid="bulk-session" data-platform=(pid) data-status=(st) {
                        @match st {
                            "connected" => (tone_badge("ok", "✓", "Connected")),
                            "failed" => (tone_badge("bad", "✗", "Failed")),
                            "expired" => (tone_badge("bad", "⌛", "Expired")),
                            _ => (tone_badge("info", "…", "Waiting for consent")),
                        }
                        " " strong { (name) }
                        // The consent link, for as long as its state can be used: shown again
                        // on every visit, gone once consumed or expired.
                        @if let Some(u) = s["authorization_url"].as_str() {
                            " · " a href=(u) target="_blank" rel="opener" data-testid={"bulk-link-" (pid)} { "Open " (name) "'s consent page" }
                        }
                        @if let Some(cid) = s["connection_id"].as_str() { " · " a href={"/connections/" (cid)} { "see the connection" } }
                        @if let Some(d) = s.get("diagnosis").and_then(|d| serde_json::from_value::<Diagnosis>(d.clone()).ok()) {
                            div .small { (d.cause) }
                        }
                    }
                }
            }
            @if done { p { a .btn.btn-primary href="/" { "All connections" } } }
        }
    })
}

async fn bulk_page(state: &AppState, session: &Session, batch_id: &str) -> Response {
    let Some(progress) = bulk_progress(state, session, batch_id).await else {
        return (
            StatusCode::NOT_FOUND,
            layout::message_page(
                "No such bulk connect",
                "It may belong to another workspace.",
            ),
        )
            .into_response();
    };
    let body = html! {
        section .card aria-labelledby="bulk-links-heading" {
            h2 #bulk-links-heading { "Give consent on each platform" }
            p { "Open each platform's consent link below (a new tab each), approve, and come back: this page follows along. "
                "The links stay here, on this page's address, until each is used or expires; an expired one can be started again from the "
                a href="/connect" { "Connect page" } "." }
        }
        (progress)
    };
    layout::page("Bulk connect", "connect", session, body).into_response()
}

/// Query of `GET /connect/bulk/{id}`.
#[derive(Debug, Default, Deserialize)]
pub struct BulkQuery {
    /// `1`: the progress section only (what the script polls).
    #[serde(default)]
    pub fragment: Option<String>,
}

/// `GET /connect/bulk/{id}`: each platform's consent link while it can be used and the progress
/// (the page, or with `?fragment=1` the progress section alone, links included).
pub async fn bulk_status(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    Query(q): Query<BulkQuery>,
) -> Response {
    if q.fragment.is_some() {
        return match bulk_progress(&state, &session, &id).await {
            Some(m) => m.into_response(),
            None => StatusCode::NOT_FOUND.into_response(),
        };
    }
    bulk_page(&state, &session, &id).await
}

/// Routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/connect", get(page))
        .route(RESULT_PATH, get(done))
        .route("/connect/bulk", post(bulk_start))
        .route("/connect/bulk/{id}", get(bulk_status))
        .route("/connect/pages/{id}", get(pages).post(select_pages))
        .route("/connect/reconnect/{id}", get(reconnect))
        .route("/connect/{platform}", post(start))
}
