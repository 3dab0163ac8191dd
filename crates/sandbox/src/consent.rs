//! The authorization endpoint (RFC 6749 §4.1.1) and consent page, shared by every platform and
//! parameterised by each platform's [`AuthorizeRules`].
//!
//! Order of checks, as on the real platforms: the client id and the redirect URI first, and any
//! problem with them is an error page, never a redirect (RFC 6749 §4.1.2.1); then
//! `response_type`, scopes, `state` and PKCE, whose problems go back to the redirect URI as
//! `error`, `error_description` and `state` (or, on Google and Facebook, are pages too). Then
//! the consent: a page with one form (`decision=allow|deny`, `account`, optionally
//! `granted_scopes`), the `X-Sandbox-Consent` / `X-Sandbox-Account` / `X-Sandbox-Scopes`
//! request headers, or `auto_consent`.

use std::collections::BTreeMap;

use axum::http::Method;
use axum::response::Response;
use chrono::Duration;

use crate::accounts::{self, Account};
use crate::http::{self, escape_html, Params, Req};
use crate::state::{AuthCode, Challenge, Endpoint, Shared};

/// How request errors after the redirect URI check are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrorStyle {
    /// Redirect to the client with `error` (RFC 6749 §4.1.2.1).
    Redirect,
    /// An error page (Google, Facebook).
    Page,
}

/// The platform's PKCE rule at the authorization endpoint.
#[derive(Debug, Clone, Copy)]
pub(crate) enum PkceRule {
    /// `code_challenge` must be present, with one of these methods (absent method = `plain`).
    Required(&'static [&'static str]),
    /// `code_challenge` may be present, with one of these methods.
    Optional(&'static [&'static str]),
    /// PKCE parameters are ignored (not bound to the code).
    Ignored,
}

/// A request error that the platform reports to the client.
#[derive(Debug, Clone)]
pub(crate) struct Problem {
    /// RFC 6749 error code (`invalid_request`, `invalid_scope`, …).
    pub(crate) error: &'static str,
    pub(crate) description: String,
}

impl Problem {
    pub(crate) fn new(error: &'static str, description: impl Into<String>) -> Self {
        Problem {
            error,
            description: description.into(),
        }
    }
}

/// Errors shown as a page on the platform (never redirected).
#[derive(Debug, Clone)]
pub(crate) enum PageError {
    /// No client id parameter.
    MissingClient,
    /// TikTok: `client_id` sent where `client_key` is required.
    ClientIdNotClientKey,
    /// No app with this client id.
    UnknownClient(String),
    /// No `redirect_uri`.
    MissingRedirect,
    /// `redirect_uri` not registered for the app (or not an absolute http(s) URI).
    RedirectMismatch(String),
    /// A request error on a platform that shows them as pages.
    Request(Problem),
}

/// What a platform's error page says.
#[derive(Debug, Clone)]
pub(crate) struct ErrorPage {
    pub(crate) status: u16,
    pub(crate) title: String,
    pub(crate) message: String,
}

impl ErrorPage {
    pub(crate) fn new(status: u16, title: impl Into<String>, message: impl Into<String>) -> Self {
        ErrorPage {
            status,
            title: title.into(),
            message: message.into(),
        }
    }
}

/// Everything a platform's authorization endpoint does differently.
pub(crate) struct AuthorizeRules {
    pub(crate) platform: &'static str,
    pub(crate) display_name: &'static str,
    pub(crate) brand_color: &'static str,
    /// `client_id`, or `client_key` on TikTok.
    pub(crate) client_param: &'static str,
    /// Characters that separate scopes in `scope`.
    pub(crate) scope_separators: &'static [char],
    /// Scopes granted when `scope` is absent; empty means `scope` is required.
    pub(crate) default_scopes: &'static [&'static str],
    /// Scopes the platform knows; others are refused.
    pub(crate) known_scopes: &'static [&'static str],
    /// The error code for unknown scopes (`invalid_scope`; LinkedIn `unauthorized_scope_error`).
    pub(crate) scope_error: &'static str,
    pub(crate) request_errors: ErrorStyle,
    pub(crate) pkce: PkceRule,
    pub(crate) state_required: bool,
    pub(crate) max_state_len: Option<usize>,
    /// Facebook defaults `response_type` to `code`.
    pub(crate) response_type_optional: bool,
    /// Authorization code lifetime in seconds.
    pub(crate) code_ttl_secs: i64,
    /// Appended to every redirect (`#_` on Instagram, `#_=_` on Facebook).
    pub(crate) fragment: &'static str,
    /// `error_description` when the person denies.
    pub(crate) deny_description: &'static str,
    /// Extra parameters on a denial redirect (`error_reason=user_denied` on Meta).
    pub(crate) deny_extra: &'static [(&'static str, &'static str)],
    /// The platform's wording for error pages.
    pub(crate) page: fn(&PageError) -> ErrorPage,
    /// Platform-specific parameter checks (Google `access_type`, `prompt`).
    pub(crate) check: fn(&Params) -> Result<(), Problem>,
}

/// No extra checks.
pub(crate) fn no_check(_: &Params) -> Result<(), Problem> {
    Ok(())
}

/// A request that passed validation.
#[derive(Debug, Clone)]
struct Validated {
    client_id: String,
    redirect_uri: String,
    scopes: Vec<String>,
    state: Option<String>,
    challenge: Option<Challenge>,
    params: BTreeMap<String, String>,
}

enum Reject {
    Page(PageError),
    Redirect {
        redirect_uri: String,
        state: Option<String>,
        problem: Problem,
    },
}

/// Serves `GET` (validate, then consent page or immediate answer) and `POST` (the consent
/// form) of a platform's authorization endpoint.
pub(crate) async fn authorize(sb: &Shared, rules: &'static AuthorizeRules, req: Req) -> Response {
    if let Some(r) = http::fault(sb, rules.platform, Endpoint::Authorize).await {
        return r;
    }
    let posted = req.method == Method::POST;
    let params = if posted { &req.form } else { &req.query };
    let v = match validate(sb, rules, params) {
        Ok(v) => v,
        Err(Reject::Page(e)) => return error_page(rules, &(rules.page)(&e)),
        Err(Reject::Redirect {
            redirect_uri,
            state,
            problem,
        }) => {
            return redirect_error(rules, &redirect_uri, &problem, state.as_deref(), &[]);
        }
    };

    // The person may grant fewer scopes than asked (Google's consent screen lets them untick
    // boxes): `X-Sandbox-Scopes` on GET, or the form field `granted_scopes` on POST, lists the
    // scopes granted; scopes not asked for are ignored.
    let mut v = v;
    let granted = if posted {
        params.get("granted_scopes").map(str::to_string)
    } else {
        req.header("x-sandbox-scopes").map(str::to_string)
    };
    if let Some(g) = granted {
        let listed: Vec<&str> = g.split([' ', ',']).filter(|s| !s.is_empty()).collect();
        v.scopes.retain(|s| listed.contains(&s.as_str()));
    }

    let (decision, account_id) = if posted {
        (
            params.get("decision").unwrap_or(""),
            params.get("account").map(str::to_string),
        )
    } else if let Some(h) = req.header("x-sandbox-consent") {
        (h, req.header("x-sandbox-account").map(str::to_string))
    } else if sb.config.auto_consent {
        ("allow", None)
    } else {
        return consent_page(rules, &req.path, params, &v);
    };

    let account = match account_id.as_deref().filter(|a| !a.is_empty()) {
        Some(id) => match accounts::find(rules.platform, id) {
            Some(a) => a,
            None => return unknown_account(rules, id),
        },
        None => match accounts::default_for(rules.platform) {
            Some(a) => a,
            None => return unknown_account(rules, ""),
        },
    };

    match decision.trim().to_ascii_lowercase().as_str() {
        "allow" => allow(sb, rules, v, account),
        "deny" => redirect_error(
            rules,
            &v.redirect_uri,
            &Problem::new("access_denied", rules.deny_description),
            v.state.as_deref(),
            rules.deny_extra,
        ),
        other => sandbox_page(
            rules,
            400,
            "Unknown consent decision",
            &format!(
                "The consent decision must be \"allow\" or \"deny\", not \"{other}\" \
                 (form field decision, or the X-Sandbox-Consent header)."
            ),
        ),
    }
}

fn allow(sb: &Shared, rules: &AuthorizeRules, v: Validated, account: &'static Account) -> Response {
    let now = sb.now();
    let code = {
        let mut d = sb.lock();
        d.issue_code(
            AuthCode {
                platform: rules.platform,
                client_id: v.client_id.clone(),
                redirect_uri: v.redirect_uri.clone(),
                challenge: v.challenge.clone(),
                scopes: v.scopes.clone(),
                account,
                params: v.params.clone(),
                expires_at: now + Duration::seconds(rules.code_ttl_secs),
                used: false,
            },
            now,
        )
    };
    tracing::debug!(
        platform = rules.platform,
        account = account.id,
        "sandbox consent allowed"
    );
    let mut pairs = vec![("code", code.as_str())];
    if let Some(s) = v.state.as_deref() {
        pairs.push(("state", s));
    }
    redirect_with(rules, &v.redirect_uri, &pairs)
}

fn validate(sb: &Shared, rules: &AuthorizeRules, p: &Params) -> Result<Validated, Reject> {
    // 1. The client. Problems here are pages.
    let client_id = match p.get(rules.client_param).filter(|c| !c.is_empty()) {
        Some(c) => c.to_string(),
        None if rules.client_param != "client_id" && p.get("client_id").is_some() => {
            return Err(Reject::Page(PageError::ClientIdNotClientKey));
        }
        None => return Err(Reject::Page(PageError::MissingClient)),
    };
    let client = match sb.client(rules.platform) {
        Some(c) if c.client_id == client_id => c,
        _ => return Err(Reject::Page(PageError::UnknownClient(client_id))),
    };
    // 2. The redirect URI. Problems here are pages too.
    let redirect_uri = match p.get("redirect_uri").filter(|r| !r.is_empty()) {
        Some(r) => r.to_string(),
        None => return Err(Reject::Page(PageError::MissingRedirect)),
    };
    if !client.accepts_redirect(&redirect_uri) {
        return Err(Reject::Page(PageError::RedirectMismatch(redirect_uri)));
    }
    let state = p.get("state").filter(|s| !s.is_empty()).map(str::to_string);
    let fail = |problem: Problem| match rules.request_errors {
        ErrorStyle::Page => Reject::Page(PageError::Request(problem)),
        ErrorStyle::Redirect => Reject::Redirect {
            redirect_uri: redirect_uri.clone(),
            state: state.clone(),
            problem,
        },
    };

    // 3. response_type.
    match p.get("response_type") {
        Some("code") => {}
        None | Some("") if rules.response_type_optional => {}
        None | Some("") => {
            return Err(fail(Problem::new(
                "invalid_request",
                "Missing required parameter: response_type",
            )))
        }
        Some(other) => {
            return Err(fail(Problem::new(
                "unsupported_response_type",
                format!("Unsupported response_type: {other}. Only \"code\" is supported."),
            )))
        }
    }

    // 4. Scopes, split on the platform's own separator.
    let raw_scope = p.get("scope").map(str::trim).unwrap_or("");
    let mut scopes: Vec<String> = Vec::new();
    for s in raw_scope
        .split(rules.scope_separators)
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        if !scopes.iter().any(|x| x == s) {
            scopes.push(s.to_string());
        }
    }
    if scopes.is_empty() {
        if rules.default_scopes.is_empty() {
            return Err(fail(Problem::new(
                "invalid_request",
                "Missing required parameter: scope",
            )));
        }
        scopes = rules.default_scopes.iter().map(|s| s.to_string()).collect();
    }
    let unknown: Vec<&str> = scopes
        .iter()
        .map(String::as_str)
        .filter(|s| !rules.known_scopes.contains(s))
        .collect();
    if !unknown.is_empty() {
        let sep = rules.scope_separators.first().copied().unwrap_or(' ');
        return Err(fail(Problem::new(
            rules.scope_error,
            format!(
                "Scope \"{}\" is not valid for this app (scopes are separated by {}).",
                unknown.join("\", \""),
                if sep == ' ' { "spaces" } else { "commas" }
            ),
        )));
    }

    // 5. state.
    if rules.state_required && state.is_none() {
        return Err(fail(Problem::new(
            "invalid_request",
            "Missing required parameter: state",
        )));
    }
    if let (Some(max), Some(s)) = (rules.max_state_len, state.as_deref()) {
        if s.chars().count() > max {
            return Err(fail(Problem::new(
                "invalid_request",
                format!("state must be at most {max} characters"),
            )));
        }
    }

    // 6. PKCE (RFC 7636 §4.3; an absent method means plain).
    let challenge = p.get("code_challenge").filter(|c| !c.is_empty());
    let method = p
        .get("code_challenge_method")
        .filter(|m| !m.is_empty())
        .unwrap_or("plain");
    let challenge = match (rules.pkce, challenge) {
        (PkceRule::Ignored, _) => None,
        (PkceRule::Required(_), None) => {
            return Err(fail(Problem::new(
                "invalid_request",
                "Missing required parameter: code_challenge",
            )))
        }
        (PkceRule::Optional(_), None) => {
            if p.get("code_challenge_method").is_some() {
                return Err(fail(Problem::new(
                    "invalid_request",
                    "code_challenge_method was sent without code_challenge",
                )));
            }
            None
        }
        (PkceRule::Required(methods) | PkceRule::Optional(methods), Some(c)) => {
            if !methods.contains(&method) {
                return Err(fail(Problem::new(
                    "invalid_request",
                    format!(
                        "code_challenge_method must be {} (got {method})",
                        methods.join(" or ")
                    ),
                )));
            }
            let well_formed = (43..=128).contains(&c.len())
                && c.chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || "-._~".contains(ch));
            if !well_formed {
                return Err(fail(Problem::new(
                    "invalid_request",
                    "code_challenge must be 43 to 128 characters of [A-Za-z0-9-._~]",
                )));
            }
            Some(Challenge {
                challenge: c.to_string(),
                method: method.to_string(),
            })
        }
    };

    // 7. The platform's own checks.
    (rules.check)(p).map_err(fail)?;

    let mut params = BTreeMap::new();
    for (k, v) in p.iter() {
        if k != "decision" && k != "account" {
            params.entry(k.to_string()).or_insert_with(|| v.to_string());
        }
    }
    Ok(Validated {
        client_id,
        redirect_uri,
        scopes,
        state,
        challenge,
        params,
    })
}

fn redirect_with(rules: &AuthorizeRules, redirect_uri: &str, pairs: &[(&str, &str)]) -> Response {
    let Ok(mut url) = url::Url::parse(redirect_uri) else {
        return error_page(
            rules,
            &(rules.page)(&PageError::RedirectMismatch(redirect_uri.to_string())),
        );
    };
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in pairs {
            q.append_pair(k, v);
        }
    }
    let mut location = url.to_string();
    location.push_str(rules.fragment);
    http::found(&location)
}

fn redirect_error(
    rules: &AuthorizeRules,
    redirect_uri: &str,
    problem: &Problem,
    state: Option<&str>,
    extra: &[(&str, &str)],
) -> Response {
    let mut pairs: Vec<(&str, &str)> = vec![
        ("error", problem.error),
        ("error_description", &problem.description),
    ];
    pairs.extend_from_slice(extra);
    if let Some(s) = state {
        pairs.push(("state", s));
    }
    redirect_with(rules, redirect_uri, &pairs)
}

fn unknown_account(rules: &AuthorizeRules, id: &str) -> Response {
    let known: Vec<&str> = accounts::for_platform(rules.platform)
        .map(|a| a.id)
        .collect();
    sandbox_page(
        rules,
        400,
        "Unknown sandbox account",
        &format!(
            "There is no {} test account \"{id}\". Known accounts: {}.",
            rules.display_name,
            known.join(", ")
        ),
    )
}

const STYLE: &str = "body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;background:#f3f4f6;color:#111827;margin:0}\
main{max-width:32rem;margin:3rem auto;background:#fff;border-radius:12px;padding:2rem;box-shadow:0 1px 3px rgba(0,0,0,.12)}\
.banner{font-size:.85rem;background:#fef3c7;border:1px solid #f59e0b;border-radius:6px;padding:.5rem .75rem;margin:0 0 1.25rem}\
h1{margin:0 0 1rem;font-size:1.6rem}h2{font-size:1rem;margin:1.25rem 0 .5rem}\
code{background:#f3f4f6;padding:.1rem .3rem;border-radius:4px;word-break:break-all}\
ul{padding-left:1.25rem}select{width:100%;padding:.5rem;font-size:1rem;margin:.25rem 0 1rem}\
.buttons{display:flex;gap:.75rem;justify-content:flex-end;margin-top:1.25rem}\
button{font-size:1rem;padding:.6rem 1.2rem;border-radius:8px;border:1px solid #d1d5db;background:#fff;cursor:pointer}\
button.allow{color:#fff;border:0}.muted{color:#6b7280;font-size:.9rem}.error{font-family:monospace;color:#b91c1c}";

fn shell(rules: &AuthorizeRules, title: &str, content: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{title} · {name} (Switchboard sandbox)</title><style>{STYLE}</style></head>\
<body><main><p class=\"banner\">Switchboard sandbox: this page plays {name}. No real account or \
network is involved.</p><h1 style=\"color:{color}\">{name}</h1>{content}</main></body></html>\n",
        title = escape_html(title),
        name = escape_html(rules.display_name),
        color = escape_html(rules.brand_color),
    )
}

fn consent_page(rules: &AuthorizeRules, path: &str, params: &Params, v: &Validated) -> Response {
    let scopes: String = v
        .scopes
        .iter()
        .map(|s| format!("<li><code>{}</code></li>", escape_html(s)))
        .collect();
    let hidden: String = params
        .iter()
        .filter(|(k, _)| *k != "decision" && *k != "account")
        .map(|(k, val)| {
            format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                escape_html(k),
                escape_html(val)
            )
        })
        .collect();
    let options: String = accounts::for_platform(rules.platform)
        .map(|a| {
            let handle = if a.handle.is_empty() {
                String::new()
            } else {
                format!(" (@{})", a.handle.trim_start_matches('@'))
            };
            format!(
                "<option value=\"{}\"{}>{}{} · {}</option>",
                escape_html(a.id),
                if a.default { " selected" } else { "" },
                escape_html(a.name),
                escape_html(&handle),
                escape_html(a.note)
            )
        })
        .collect();
    let content = format!(
        "<p><strong>{app}</strong> wants to access your {name} account.</p>\
<h2>It asks for</h2><ul>{scopes}</ul>\
<form method=\"post\" action=\"{action}\">{hidden}\
<label for=\"account\">Continue as</label>\
<select name=\"account\" id=\"account\">{options}</select>\
<p class=\"muted\">You will be sent back to <code>{redirect}</code></p>\
<div class=\"buttons\">\
<button type=\"submit\" name=\"decision\" value=\"deny\">Cancel</button>\
<button type=\"submit\" name=\"decision\" value=\"allow\" class=\"allow\" style=\"background:{color}\">Allow</button>\
</div></form>",
        app = escape_html(&v.client_id),
        name = escape_html(rules.display_name),
        action = escape_html(path),
        redirect = escape_html(&v.redirect_uri),
        color = escape_html(rules.brand_color),
    );
    http::html(200, shell(rules, "Authorize app", &content))
}

fn error_page(rules: &AuthorizeRules, page: &ErrorPage) -> Response {
    let content = format!(
        "<h2>{}</h2><p class=\"error\">{}</p><p class=\"muted\">The app sent an authorization \
request {} does not accept, so you were not sent back to it.</p>",
        escape_html(&page.title),
        escape_html(&page.message),
        escape_html(rules.display_name)
    );
    http::html(page.status, shell(rules, &page.title, &content))
}

fn sandbox_page(rules: &AuthorizeRules, status: u16, title: &str, message: &str) -> Response {
    let content = format!(
        "<h2>{}</h2><p class=\"error\">{}</p>",
        escape_html(title),
        escape_html(message)
    );
    http::html(status, shell(rules, title, &content))
}
