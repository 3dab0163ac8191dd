//! The sync status widget on the home page: the overall status of the analytics sync as a badge
//! (icon and words), when it last synced ("5 minutes ago"), per-platform details in a
//! `<details>` each, and "Sync now" with progress.
//!
//! Without JavaScript, "Sync now" is a form that queues a job and comes back to the page. With
//! it (`assets/dashboard.js`, `data-sync-widget`), the button posts with `fetch`, and the widget
//! replaces itself with `GET /sync/widget` every 30 seconds, every 2 seconds while a job runs.
//! The data is the API's own: [`crate::routes::sync::status`] and [`crate::routes::sync::trigger`]
//! are called directly.

use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use maud::{html, Markup};
use serde_json::Value;

use super::layout::{time_el, tone_badge};
use super::session::{csrf_field, Posted, Session};
use crate::AppState;

/// Seconds between two refreshes of the widget by the script.
pub const REFRESH_SECS: u32 = 30;

fn overall(status: &str) -> (&'static str, &'static str, &'static str) {
    match status {
        "succeeded" => ("ok", "✓", "Synced"),
        "partial" => ("warn", "⚠", "Partly synced"),
        "failed" => ("bad", "✗", "Sync failed"),
        "queued" => ("info", "…", "Sync queued"),
        "running" => ("info", "↻", "Syncing"),
        _ => ("muted", "–", "Never synced"),
    }
}

fn platform_status(status: &str) -> (&'static str, &'static str, &'static str) {
    match status {
        "ok" | "succeeded" | "synced" => ("ok", "✓", "OK"),
        "partial" => ("warn", "⚠", "Partly"),
        "failed" | "error" => ("bad", "✗", "Failed"),
        "never" => ("muted", "–", "Never"),
        _ => ("info", "•", "Pending"),
    }
}

fn ts(v: &Value) -> Option<DateTime<Utc>> {
    v.as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|d| d.with_timezone(&Utc))
}

/// The widget's markup for the session's workspace. A database failure shows as such inside the
/// widget (the rest of the page still renders).
pub async fn widget(state: &AppState, session: &Session) -> Markup {
    let data = crate::routes::sync::status(State(state.clone()), session.auth()).await;
    let now = state.now();
    let Ok(Json(v)) = data else {
        return html! {
            section #sync-widget .card.sync data-testid="sync-widget" data-sync-widget
                data-refresh-secs=(REFRESH_SECS) aria-labelledby="sync-heading" {
                h2 #sync-heading { "Analytics sync" }
                (tone_badge("bad", "✗", "Sync status unavailable: the database did not answer"))
            }
        };
    };
    let status = v["status"].as_str().unwrap_or("never").to_string();
    let (tone, icon, word) = overall(&status);
    let job = &v["last_job"];
    let running = matches!(status.as_str(), "queued" | "running");
    let last_synced = ts(&job["finished_at"]);
    let platforms = v["platforms"].as_array().cloned().unwrap_or_default();
    html! {
        section #sync-widget .card.sync data-testid="sync-widget" data-sync-widget
            data-refresh-secs=(REFRESH_SECS) data-sync-status=(status) data-running=(running)
            aria-labelledby="sync-heading" aria-live="polite" {
            div .section-head {
                h2 #sync-heading { "Analytics sync" }
                span data-testid="sync-status" data-status=(status) { (tone_badge(tone, icon, word)) }
            }
            p .small data-testid="sync-last" {
                @match last_synced {
                    Some(t) => { "Last synced " (time_el(now, t)) "." }
                    None if running => "A sync is under way.",
                    None => "Metrics have not been read yet; they are read after posts are published.",
                }
                @if let Some(errors) = job["errors"].as_array() {
                    @if !errors.is_empty() { " " (errors.len()) " target" @if errors.len() != 1 { "s" } " could not be read." }
                }
            }
            @if running {
                @let pct = job["percent"].as_u64().unwrap_or(0);
                div .progress-row {
                    label for="sync-progress" { "Progress" }
                    progress #sync-progress max="100" value=(pct) data-testid="sync-progress" { (pct) "%" }
                    span .small { (pct) "% · " (job["steps_done"]) " of " (job["steps_total"]) " read"
                        @if let Some(s) = job["estimated_seconds_left"].as_u64() { " · about " (s) " s left" } }
                }
            }
            @if !platforms.is_empty() {
                div .sync-platforms {
                    @for p in &platforms {
                        @let pid = p["platform"].as_str().unwrap_or_default();
                        @let name = state.catalog().get(pid).map_or(pid.to_string(), |s| s.display_name.clone());
                        @let (pt, pi, pw) = platform_status(p["status"].as_str().unwrap_or("never"));
                        details .sync-platform data-testid="sync-platform" data-platform=(pid) {
                            summary {
                                span .sync-name { (name) } " "
                                (tone_badge(pt, pi, pw))
                                @if let Some(t) = ts(&p["last_synced_at"]) { " " span .small.muted { (time_el(now, t)) } }
                            }
                            dl .facts {
                                div { dt { "Last synced" } dd { @match ts(&p["last_synced_at"]) { Some(t) => (time_el(now, t)), None => "never" } } }
                                div { dt { "Status" } dd { (p["status"].as_str().unwrap_or("never")) } }
                                @if let Some(m) = p["message"].as_str() { div { dt { "Message" } dd { (m) } } }
                                div { dt { "Earliest token expiry" } dd { @match ts(&p["token_expires_at"]) { Some(t) => (time_el(now, t)), None => "does not expire" } } }
                            }
                        }
                    }
                }
            }
            form method="post" action="/sync" .inline data-sync-now {
                (csrf_field(session))
                button type="submit" .btn data-testid="sync-now" disabled[running] {
                    @if running { "Syncing…" } @else { "Sync now" }
                }
            }
            p .small.muted { "Refreshes by itself every " (REFRESH_SECS) " seconds." }
        }
    }
}

/// `GET /sync/widget`: the widget alone (the script swaps it in).
pub async fn fragment(State(state): State<AppState>, session: Session) -> Response {
    (
        [(header::CACHE_CONTROL, "no-store")],
        widget(&state, &session).await,
    )
        .into_response()
}

/// `POST /sync`: queues a sync job now (or finds the running one). A `fetch` (header
/// `X-CSRF-Token`, `Accept: application/json`) gets the API's job JSON; a form submission comes
/// back to the home page with a message.
pub async fn sync_now(
    State(state): State<AppState>,
    headers: HeaderMap,
    posted: Posted<std::collections::HashMap<String, String>>,
) -> Response {
    let wants_json = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/json"));
    let r = crate::routes::sync::trigger(State(state.clone()), posted.session.auth()).await;
    match (r, wants_json) {
        (Ok(ok), true) => ok.into_response(),
        (Err(e), true) => e.into_response(),
        (Ok((_, Json(v))), false) => {
            let msg = if v["existing"] == Value::Bool(true) {
                "A sync was already under way; it goes on."
            } else {
                "Sync queued: metrics are being read."
            };
            super::connections::back("/#sync-widget", Ok(msg.into()))
        }
        (Err(e), false) => super::connections::back("/#sync-widget", Err(e.detail)),
    }
}

/// Routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/sync", post(sync_now))
        .route("/sync/widget", get(fragment))
}
