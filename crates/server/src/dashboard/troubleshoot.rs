//! The troubleshooter page (`/troubleshoot`): paste a platform's error, get the diagnosis. The
//! answer is the API's own ([`crate::routes::troubleshoot::troubleshoot`], called directly): the
//! same parser every failing platform call goes through.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::Value;
use switchboard_core::diagnosis::CallKind;

use super::connections::{diagnosis_block, workspaces_for};
use super::layout::{page_with, tone_badge};
use super::session::{csrf_field, Posted, Session};
use crate::extract::ApiJson;
use crate::routes::troubleshoot::TroubleshootRequest;
use crate::AppState;

/// Fields of the troubleshooter form.
#[derive(Debug, Default, Deserialize)]
pub struct TroubleshootForm {
    /// Platform id.
    #[serde(default)]
    pub platform: String,
    /// HTTP status, optional (empty = unknown).
    #[serde(default)]
    pub http_status: String,
    /// `api`, `token`, or empty (not known).
    #[serde(default)]
    pub call: String,
    /// The pasted error body or message.
    #[serde(default)]
    pub error: String,
}

fn form(state: &AppState, session: &Session, f: &TroubleshootForm) -> Markup {
    let mut platforms: Vec<(String, String)> = state
        .catalog()
        .ids()
        .into_iter()
        .filter_map(|id| {
            state
                .catalog()
                .get(&id)
                .map(|s| (id.clone(), s.display_name.clone()))
        })
        .collect();
    platforms.sort_by(|a, b| a.1.cmp(&b.1));
    html! {
        form #troubleshoot-form method="post" action="/troubleshoot" .card {
            (csrf_field(session))
            div .field-row {
                div .field {
                    label for="ts-platform" { "Platform" }
                    select #ts-platform name="platform" required {
                        @for (id, name) in &platforms {
                            option value=(id) selected[*id == f.platform] { (name) }
                        }
                    }
                }
                div .field {
                    label for="ts-status" { "HTTP status " span .muted { "(optional)" } }
                    input #ts-status name="http_status" inputmode="numeric" pattern="[1-5][0-9][0-9]"
                        value=(f.http_status) placeholder="401" size="5";
                }
                div .field {
                    label for="ts-call" { "Which call failed" }
                    select #ts-call name="call" {
                        option value="" selected[f.call.is_empty()] { "Not sure" }
                        option value="api" selected[f.call == "api"] { "An API call (publish, profile…)" }
                        option value="token" selected[f.call == "token"] { "The token endpoint (connect, refresh)" }
                    }
                }
            }
            div .field {
                label for="ts-error" { "The error, as the platform sent it" }
                textarea #ts-error name="error" rows="8" required
                    placeholder="{\"error\":{\"message\":\"Error validating access token\",\"type\":\"OAuthException\",\"code\":190,\"error_subcode\":463}}" { (f.error) }
                p .hint { "Paste the response body or the message. Tokens are not needed and are not stored." }
            }
            button type="submit" .btn.btn-primary data-testid="troubleshoot-submit" { "Diagnose" }
        }
    }
}

/// `GET /troubleshoot`: the empty form.
pub async fn page(State(state): State<AppState>, session: Session) -> Response {
    let ws = workspaces_for(&state, &session).await;
    let body = html! {
        p { "Paste an error a platform gave you, and Switchboard says what it means and how to fix it." }
        (form(&state, &session, &TroubleshootForm::default()))
    };
    page_with(
        "Troubleshoot an error",
        "troubleshoot",
        &session,
        ws.as_deref(),
        body,
    )
    .into_response()
}

/// `POST /troubleshoot`: the diagnosis under the form (kept filled in). A form the API refuses
/// (empty error, bad status, unknown platform) is 422 with the reason naming the field.
pub async fn diagnose(State(state): State<AppState>, posted: Posted<TroubleshootForm>) -> Response {
    let f = &posted.form;
    let session = &posted.session;
    let http_status = match f.http_status.trim() {
        "" => Ok(None),
        s => s.parse::<u16>().map(Some).map_err(|_| {
            format!("http_status: {s:?} is not a number; leave it empty when unknown")
        }),
    };
    let result = match http_status {
        Err(m) => Err(m),
        Ok(http_status) => {
            let req = TroubleshootRequest {
                platform: f.platform.clone(),
                http_status,
                error: Value::String(f.error.clone()),
                call: Some(match f.call.as_str() {
                    "token" => CallKind::Token,
                    "api" => CallKind::Api,
                    _ => CallKind::Unspecified,
                }),
            };
            crate::routes::troubleshoot::troubleshoot(
                State(state.clone()),
                session.auth(),
                ApiJson(req),
            )
            .await
            .map(|j| j.0)
            .map_err(|e| {
                let field = e.extra.get("field").and_then(Value::as_str).unwrap_or("");
                if field.is_empty() {
                    e.detail
                } else {
                    format!("{field}: {}", e.detail)
                }
            })
        }
    };
    let ws = workspaces_for(&state, session).await;
    let code = if result.is_ok() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let body = html! {
        (form(&state, session, f))
        section #diagnosis-result aria-labelledby="result-heading" .card data-testid="troubleshoot-result" {
            h2 #result-heading { "Diagnosis" }
            @match &result {
                Ok(d) => {
                    @let severity = serde_json::to_value(d.severity).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
                    p {
                        @let tone = match severity.as_str() { "info" => "info", "warning" => "warn", _ => "bad" };
                        (tone_badge(tone, if d.retryable { "↻" } else { "!" }, &d.category.as_str().replace('_', " ")))
                        " " span .small { "severity " (severity) " · " @if d.retryable { "retrying later can work" } @else { "a person must act" } }
                    }
                    (diagnosis_block(d))
                }
                Err(m) => {
                    div .alert.alert-bad role="alert" data-testid="troubleshoot-error" {
                        span .icon aria-hidden="true" { "✗" } " " (m)
                    }
                }
            }
        }
    };
    (
        code,
        page_with(
            "Troubleshoot an error",
            "troubleshoot",
            session,
            ws.as_deref(),
            body,
        ),
    )
        .into_response()
}

/// Routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new().route("/troubleshoot", get(page).post(diagnose))
}
