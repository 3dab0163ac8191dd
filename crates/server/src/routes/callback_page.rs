//! The pages a person sees at the end of the OAuth callback. Self-contained HTML (no external
//! assets), escaped by `maud`.

use maud::{html, Markup, DOCTYPE};
use serde_json::Value;
use switchboard_store::Connection;

use crate::error::ApiError;

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;line-height:1.5;color:#111}\
h1{font-size:1.5rem}.ok{color:#065f46}.bad{color:#991b1b}code{background:#f3f4f6;padding:0 .25rem}\
.box{border:1px solid #d1d5db;border-radius:.5rem;padding:1rem;margin:1rem 0}";

/// A self-contained page with `title` around `body` (also the data deletion status page).
pub(crate) fn page(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Switchboard" }
                style { (STYLE) }
            }
            body { main { (body) } }
        }
    }
}

/// "Connected" page.
pub fn connected(platform_name: &str, conn: &Connection) -> Markup {
    let who = conn
        .username
        .as_deref()
        .map(|u| format!("@{u}"))
        .or_else(|| conn.account_name.clone())
        .unwrap_or_else(|| conn.account_id.clone());
    page(
        &format!("Connected to {platform_name}"),
        html! {
            @if conn.status == "pending_selection" {
                h1 .ok { "✓ Authorized on " (platform_name) ", one step left" }
                p {
                    "The account " strong { (who) } " is authorized. Next, choose the Pages "
                    "Switchboard may publish to (in the app that sent you here, or with "
                    code { "POST /v1/connections/" (conn.id) "/pages" } ")."
                }
            } @else {
                h1 .ok { "✓ Connected to " (platform_name) }
                p { "The account " strong { (who) } " is connected. You can close this window." }
            }
            div .box {
                p { "Connection id: " code { (conn.id) } }
                p { "Status: " strong { (conn.status) } }
                @if let Some(e) = conn.expires_at {
                    p { "Access token valid until " (e.to_rfc3339()) }
                }
            }
        },
    )
}

/// "Could not connect" page with the cause and the numbered fix.
pub fn failed(platform_name: &str, err: &ApiError) -> Markup {
    let diagnosis = err.extra.get("diagnosis");
    let cause = diagnosis
        .and_then(|d| d.get("cause"))
        .and_then(Value::as_str);
    let steps: Vec<String> = diagnosis
        .and_then(|d| d.get("fix"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let docs = diagnosis
        .and_then(|d| d.get("docs_url"))
        .and_then(Value::as_str);
    page(
        &format!("Could not connect {platform_name}"),
        html! {
            h1 .bad { "✗ Could not connect " (platform_name) }
            p { strong { (err.title) } }
            p { (err.detail) }
            @if let Some(c) = cause { div .box { p { (c) } } }
            @if !steps.is_empty() {
                h2 { "How to fix it" }
                ol { @for s in &steps { li { (s) } } }
            }
            @if let Some(d) = docs { p { "Documentation: " a href=(d) { (d) } } }
            p { small { "Problem type: " code { (err.kind) } } }
        },
    )
}
