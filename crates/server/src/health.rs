//! The health check of a connection: the checks behind its status, and what the person must do.
//!
//! [`check`] runs, in order:
//! - `access_token`: fail when expired and not renewable; warn inside the warning window
//!   (`config.expiry_warning_secs`, default 24 h) when it cannot be renewed;
//! - `refresh_token`: fail when expired, warn when it ends within [`REFRESH_WARNING_DAYS`] days;
//! - `last_refresh`: fail when the stored failure (`last_error`) needs a person, warn when it is
//!   transient;
//! - `live_profile`: a live profile call with the current access token; fail with the platform's
//!   diagnosis when the platform refuses it (revoked behind Switchboard's back);
//! - `scopes`: granted against the catalog's scopes per capability; warn listing missing ones;
//! - `pages` (Facebook): Pages chosen, and a live call per chosen Page with its token
//!   (PLATFORMS.md §3: Page tokens die with a password change or a lost Page role); a refused
//!   token marks that Page `needs_reauth`.
//!
//! The overall status is derived from the checks and stored when it changed; a live check that
//! finds the grant dead stores `needs_reauth` with the diagnosis and records
//! `connection.needs_reauth`. `connections.last_checked_at` records the run.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use serde_json::{json, Value};
use switchboard_core::catalog::RefreshKind;
use switchboard_core::connection::ConnectionStatus;
use switchboard_core::diagnosis::{Category, Diagnosis};
use switchboard_core::PlatformSpec;
use switchboard_oauth::facebook;
use switchboard_store::pages::{PAGE_HEALTHY, PAGE_NEEDS_REAUTH};
use switchboard_store::Connection;

use crate::error::ApiError;
use crate::events::{emit, kind};
use crate::routes::facebook_pages::{no_pages_diagnosis, page_context, uses_pages};
use crate::{vaulted, AppState};

/// A refresh token that ends within this many days raises a warning.
pub const REFRESH_WARNING_DAYS: i64 = 7;

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, utoipa::ToSchema)]
#[schema(as = HealthCheckStatus)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    /// Nothing wrong.
    Pass,
    /// Works now, but needs attention (soon, or transient).
    Warn,
    /// Broken: the person must act.
    Fail,
}

/// One check of a health report.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = HealthCheck)]
pub struct Check {
    /// `access_token`, `refresh_token`, `last_refresh`, `live_profile`, `scopes` or `pages`.
    pub name: &'static str,
    /// Outcome.
    pub status: CheckStatus,
    /// What was found, in plain words.
    pub detail: String,
    /// What to do about it, when something is to be done.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
    /// The platform's failure, explained, when the check saw one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diagnosis: Option<Diagnosis>,
    /// Check-specific data (missing scopes per capability, Pages checked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

impl Check {
    fn new(name: &'static str, status: CheckStatus, detail: impl Into<String>) -> Self {
        Check {
            name,
            status,
            detail: detail.into(),
            fix: None,
            diagnosis: None,
            data: None,
        }
    }
    fn fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = Some(fix.into());
        self
    }
    fn diagnosis(mut self, d: Diagnosis) -> Self {
        self.diagnosis = Some(d);
        self
    }
    fn data(mut self, v: Value) -> Self {
        self.data = Some(v);
        self
    }
}

/// The answer of `GET /v1/connections/{id}/health`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = HealthReport)]
pub struct Report {
    /// The connection.
    pub connection_id: String,
    /// Its status after this check (stored when it changed).
    pub status: ConnectionStatus,
    /// Its status before this check.
    pub previous_status: String,
    /// When the check ran.
    pub checked_at: DateTime<Utc>,
    /// The checks, in a fixed order.
    pub checks: Vec<Check>,
    /// One sentence: the status and the counts, with the first failure or warning.
    pub summary: String,
    /// What the person must do: `{kind: none|wait|reconnect|select_pages|get_page_role, detail,
    /// method?, path?}`.
    #[schema(value_type = crate::openapi::NextAction)]
    pub action: Value,
}

/// What the checks found that decides the status.
#[derive(Default)]
struct Findings {
    /// The live profile call was refused for a reason a person must fix.
    live_refused: Option<Diagnosis>,
    /// The access token has expired and cannot be renewed.
    expired: bool,
    /// Inside the warning window and not renewable.
    expiring: bool,
    /// The stored last failure needs a person.
    last_error_fatal: bool,
    /// The stored last failure is transient.
    last_error_transient: bool,
    /// Facebook: no Page chosen (and whether the account has any).
    pages_unchosen: Option<bool>,
    /// Facebook: chosen Pages whose tokens were refused.
    pages_refused: Vec<String>,
}

fn reconnect_fix(conn: &Connection) -> String {
    format!(
        "Reconnect the account: POST /v1/connect/{} with owner {:?}, then open the authorization_url and approve access.",
        conn.platform, conn.owner
    )
}

/// Whether the access token can be renewed without the person, and how (for the words).
fn renewal(spec: &PlatformSpec, conn: &Connection, expired: bool) -> Option<&'static str> {
    // A dead grant is not retried: the person must reconnect.
    if matches!(
        ConnectionStatus::parse(&conn.status),
        Some(ConnectionStatus::NeedsReauth | ConnectionStatus::Revoked)
    ) {
        return None;
    }
    match spec.token.refresh {
        RefreshKind::Static | RefreshKind::Rotating if conn.refresh_token_sealed.is_some() => {
            Some("with the refresh token")
        }
        // Instagram exchanges the access token itself, which only works while it is valid.
        RefreshKind::Exchange if !expired => Some("by exchanging the access token"),
        _ => None,
    }
}

fn human_in(now: DateTime<Utc>, t: DateTime<Utc>) -> String {
    // Rounded to the nearest unit: "in 12 hours" for 11 h 59 min.
    let minutes = (t - now).num_seconds().max(0).saturating_add(30) / 60;
    let hours = (minutes + 30) / 60;
    if hours >= 48 {
        format!("in {} days", (hours + 12) / 24)
    } else if hours >= 1 {
        format!("in {hours} hours")
    } else {
        format!("in {minutes} minutes")
    }
}

fn access_check(
    state: &AppState,
    spec: &PlatformSpec,
    conn: &Connection,
    f: &mut Findings,
) -> Check {
    let now = state.now();
    let warn = Duration::seconds(state.config().expiry_warning_secs as i64);
    let Some(exp) = conn.expires_at else {
        return Check::new(
            "access_token",
            CheckStatus::Pass,
            "the access token does not expire",
        );
    };
    let expired = exp <= now;
    match (expired, renewal(spec, conn, expired)) {
        (true, Some(how)) => Check::new(
            "access_token",
            CheckStatus::Pass,
            format!(
                "expired at {}; Switchboard renews it {how} at the next use",
                exp.to_rfc3339()
            ),
        ),
        (true, None) => {
            f.expired = true;
            Check::new(
                "access_token",
                CheckStatus::Fail,
                format!(
                    "expired at {} and {} gives no way to renew it",
                    exp.to_rfc3339(),
                    spec.display_name
                ),
            )
            .fix(reconnect_fix(conn))
        }
        (false, None) if exp <= now + warn => {
            f.expiring = true;
            Check::new(
                "access_token",
                CheckStatus::Warn,
                format!(
                    "expires at {} ({}) and {} gives no way to renew it",
                    exp.to_rfc3339(),
                    human_in(now, exp),
                    spec.display_name
                ),
            )
            .fix(format!("Before it expires: {}", reconnect_fix(conn)))
        }
        (false, how) => Check::new(
            "access_token",
            CheckStatus::Pass,
            match how {
                Some(how) => format!(
                    "valid until {} ({}); renewed {how} before then",
                    exp.to_rfc3339(),
                    human_in(now, exp)
                ),
                None => format!(
                    "valid until {} ({}); a warning is raised {} hours before",
                    exp.to_rfc3339(),
                    human_in(now, exp),
                    warn.num_hours()
                ),
            },
        ),
    }
}

fn refresh_token_check(spec: &PlatformSpec, conn: &Connection, now: DateTime<Utc>) -> Check {
    if conn.refresh_token_sealed.is_none() {
        let why = match spec.token.refresh {
            RefreshKind::Exchange => "none needed: the access token itself is exchanged for a new one",
            RefreshKind::None => "none: the platform issues no refresh token; the person reconnects when the access token ends",
            _ => "none was granted; the person reconnects when the access token ends",
        };
        return Check::new("refresh_token", CheckStatus::Pass, why);
    }
    match conn.refresh_expires_at {
        None => Check::new(
            "refresh_token",
            CheckStatus::Pass,
            "present, with no announced expiry",
        ),
        Some(e) if e <= now => Check::new(
            "refresh_token",
            CheckStatus::Fail,
            format!("the refresh token expired at {}", e.to_rfc3339()),
        )
        .fix(reconnect_fix(conn)),
        Some(e) if e <= now + Duration::days(REFRESH_WARNING_DAYS) => Check::new(
            "refresh_token",
            CheckStatus::Warn,
            format!(
                "the refresh token expires at {} ({}); after that the person must reconnect",
                e.to_rfc3339(),
                human_in(now, e)
            ),
        )
        .fix(format!("Before it expires: {}", reconnect_fix(conn))),
        Some(e) => Check::new(
            "refresh_token",
            CheckStatus::Pass,
            format!("valid until {} ({})", e.to_rfc3339(), human_in(now, e)),
        ),
    }
}

fn last_refresh_check(conn: &Connection, f: &mut Findings) -> Check {
    let Some(err) = &conn.last_error else {
        return Check::new(
            "last_refresh",
            CheckStatus::Pass,
            match conn.last_refreshed_at {
                Some(t) => format!("last refreshed at {}; no failure since", t.to_rfc3339()),
                None => "no failure recorded".to_string(),
            },
        );
    };
    let d: Option<Diagnosis> = serde_json::from_value(err.clone()).ok();
    let retryable = d
        .as_ref()
        .map(|d| d.retryable)
        .or_else(|| err.get("retryable").and_then(Value::as_bool))
        .unwrap_or(false);
    let summary = d
        .as_ref()
        .map(Diagnosis::summary)
        .unwrap_or_else(|| err.to_string());
    let fix = d
        .as_ref()
        .map(|d| d.fix.join(" "))
        .filter(|s| !s.is_empty());
    let mut c = if retryable {
        f.last_error_transient = true;
        Check::new(
            "last_refresh",
            CheckStatus::Warn,
            format!("the last attempt failed for a transient reason: {summary}"),
        )
        .fix(fix.unwrap_or_else(|| "Nothing to do: Switchboard retries with back-off.".into()))
    } else {
        f.last_error_fatal = true;
        Check::new(
            "last_refresh",
            CheckStatus::Fail,
            format!("the last attempt failed and will not be retried: {summary}"),
        )
        .fix(fix.unwrap_or_else(|| reconnect_fix(conn)))
    };
    if let Some(d) = d {
        c = c.diagnosis(d);
    }
    c
}

async fn live_check(
    state: &AppState,
    spec: &PlatformSpec,
    conn: &Connection,
    f: &mut Findings,
) -> Check {
    if spec.endpoints.profile_url.is_none() {
        return Check::new(
            "live_profile",
            CheckStatus::Pass,
            format!("not checked: {} has no profile endpoint", spec.display_name),
        );
    }
    let now = state.now();
    if conn.expires_at.is_some_and(|e| e <= now) {
        return if f.expired {
            Check::new(
                "live_profile",
                CheckStatus::Fail,
                "not attempted: the access token has expired",
            )
            .fix(reconnect_fix(conn))
        } else {
            Check::new(
                "live_profile",
                CheckStatus::Warn,
                "not attempted: the access token has expired; it is renewed at the next use",
            )
        };
    }
    let token = match vaulted::open_access(state.keyring(), conn) {
        Ok(t) => t,
        Err(e) => {
            return Check::new("live_profile", CheckStatus::Fail, e.detail).fix(
                "The encryption key that sealed this token is missing: restore it (SWITCHBOARD_KEYS), or reconnect the account.",
            )
        }
    };
    match state.oauth().fetch_profile(spec, &token).await {
        Ok(p) if p.id == conn.account_id => Check::new(
            "live_profile",
            CheckStatus::Pass,
            format!(
                "{} accepted the access token for account {}",
                spec.display_name,
                p.name.as_deref().unwrap_or(&p.id)
            ),
        ),
        Ok(p) => {
            let mut d = Diagnosis::new(Category::TokenRevoked);
            d.platform = Some(conn.platform.clone());
            d.cause = format!(
                "The access token now answers for account {}, not {}.",
                p.id, conn.account_id
            );
            f.live_refused = Some(d.clone());
            Check::new("live_profile", CheckStatus::Fail, d.cause.clone())
                .fix(reconnect_fix(conn))
                .diagnosis(d)
        }
        Err(e)
            if e.diagnosis().category == Category::TokenExpired
                && renewal(spec, conn, false).is_some() =>
        {
            // Some platforms (X) answer a revoked token like an expired one. A refresh tells
            // them apart: it works for an expired token and is refused for a dead grant (the
            // refresh path then stores needs_reauth and records the event).
            match crate::lifecycle::refresh(state, &conn.id, crate::lifecycle::Need::Now).await {
                Ok(fresh) => {
                    let retried = match vaulted::open_access(state.keyring(), &fresh) {
                        Ok(t) => state
                            .oauth()
                            .fetch_profile(spec, &t)
                            .await
                            .map_err(|e| e.diagnosis()),
                        Err(e) => Err(Diagnosis::network(&conn.platform, e.detail)),
                    };
                    match retried {
                        Ok(p) => Check::new(
                            "live_profile",
                            CheckStatus::Pass,
                            format!(
                                "{} refused the stored access token as expired; it was refreshed and the new one is accepted for account {}",
                                spec.display_name,
                                p.name.as_deref().unwrap_or(&p.id)
                            ),
                        ),
                        Err(d) => refused(spec, conn, d, f),
                    }
                }
                Err(failure) => refused(spec, conn, failure.diagnosis, f),
            }
        }
        Err(e) => {
            let d = e.diagnosis();
            if d.retryable {
                Check::new(
                    "live_profile",
                    CheckStatus::Warn,
                    format!("could not check: {}", d.summary()),
                )
                .fix("Nothing to do: this is usually temporary; check again later.")
                .diagnosis(d)
            } else {
                f.live_refused = Some(d.clone());
                Check::new(
                    "live_profile",
                    CheckStatus::Fail,
                    format!(
                        "{} refused the access token: {}",
                        spec.display_name,
                        d.summary()
                    ),
                )
                .fix(reconnect_fix(conn))
                .diagnosis(d)
            }
        }
    }
}

/// The live check's failure when the platform refuses the connection's grant.
fn refused(spec: &PlatformSpec, conn: &Connection, d: Diagnosis, f: &mut Findings) -> Check {
    if d.retryable {
        return Check::new(
            "live_profile",
            CheckStatus::Warn,
            format!("could not check: {}", d.summary()),
        )
        .diagnosis(d);
    }
    f.live_refused = Some(d.clone());
    Check::new(
        "live_profile",
        CheckStatus::Fail,
        format!(
            "{} refused the connection's grant: {}",
            spec.display_name,
            d.summary()
        ),
    )
    .fix(reconnect_fix(conn))
    .diagnosis(d)
}

/// Whether `required` was granted, allowing for the names under which a platform reports a
/// granted scope (the catalog's `[guide] scope_aliases`, e.g. Google reports `email` as
/// `https://www.googleapis.com/auth/userinfo.email`).
fn granted(spec: &PlatformSpec, conn: &Connection, required: &str) -> bool {
    conn.scopes
        .iter()
        .any(|g| spec.guide.normalise_scope(g) == required)
}

fn scopes_check(spec: &PlatformSpec, conn: &Connection) -> Check {
    let mut missing_by_cap = serde_json::Map::new();
    let mut missing_all: Vec<String> = Vec::new();
    let mut required = 0usize;
    for (cap, scopes) in spec.scopes.capabilities() {
        let missing: Vec<String> = scopes
            .iter()
            .filter(|s| !granted(spec, conn, s))
            .cloned()
            .collect();
        required += scopes.len();
        for m in &missing {
            if !missing_all.contains(m) {
                missing_all.push(m.clone());
            }
        }
        if !missing.is_empty() {
            missing_by_cap.insert(cap.to_string(), json!(missing));
        }
    }
    if missing_all.is_empty() {
        return Check::new(
            "scopes",
            CheckStatus::Pass,
            format!("every scope the capabilities need is granted ({required} required)"),
        );
    }
    let detail = missing_by_cap
        .iter()
        .map(|(cap, m)| {
            let names: Vec<&str> = m
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            format!("{cap} needs {}", names.join(", "))
        })
        .collect::<Vec<_>>()
        .join("; ");
    Check::new(
        "scopes",
        CheckStatus::Warn,
        format!("missing scopes: {}: {detail}", missing_all.join(", ")),
    )
    .fix(format!(
        "{} Approve every permission on the platform's page.",
        reconnect_fix(conn)
    ))
    .data(json!({"missing": missing_all, "missing_by_capability": missing_by_cap}))
}

async fn pages_check(
    state: &AppState,
    spec: &PlatformSpec,
    conn: &Connection,
    f: &mut Findings,
) -> Result<Check, ApiError> {
    let store = state.store();
    let mut pages = store.list_pages(&conn.id).await?;
    if pages.is_empty() {
        // Nothing stored yet: ask Facebook whether the account has Pages at all.
        let token = vaulted::open_access(state.keyring(), conn)?;
        match facebook::managed_pages(state.oauth(), spec, &token).await {
            Ok(live) if live.is_empty() => {
                f.pages_unchosen = Some(false);
                let d = no_pages_diagnosis(state, &conn.platform);
                return Ok(Check::new(
                    "pages",
                    CheckStatus::Fail,
                    "the Facebook account manages no Page, so there is nothing to publish to",
                )
                .fix(d.fix.join(" "))
                .diagnosis(d));
            }
            Ok(_) => {}
            Err(e) => {
                f.pages_unchosen = Some(true);
                return Ok(Check::new(
                    "pages",
                    CheckStatus::Fail,
                    format!(
                        "no Page chosen, and the Pages could not be listed: {}",
                        e.diagnosis().summary()
                    ),
                )
                .diagnosis(e.diagnosis()));
            }
        }
    }
    let chosen: Vec<_> = pages.iter_mut().filter(|p| p.selected).collect();
    if chosen.is_empty() {
        f.pages_unchosen = Some(true);
        return Ok(Check::new(
            "pages",
            CheckStatus::Fail,
            "authorized, but no Page is chosen yet",
        )
        .fix(format!(
            "Choose the Pages: GET /v1/connections/{0}/pages, then POST /v1/connections/{0}/pages {{\"page_ids\": [...]}}.",
            conn.id
        )));
    }
    let now = state.now();
    let mut results = Vec::new();
    let mut refused: Vec<(String, Diagnosis)> = Vec::new();
    let mut unsure = 0usize;
    for p in chosen {
        let outcome = match p
            .access_token_sealed
            .as_deref()
            .map(|s| state.keyring().open(&page_context(&conn.id, &p.page_id), s))
        {
            Some(Ok(token)) => facebook::check_page_token(state.oauth(), spec, &p.page_id, &token)
                .await
                .map_err(|e| e.diagnosis()),
            _ => {
                let mut d = Diagnosis::new(Category::TokenRevoked);
                d.platform = Some(conn.platform.clone());
                d.cause = "Switchboard holds no readable token for this Page.".into();
                Err(d)
            }
        };
        match outcome {
            Ok(_) => {
                store
                    .record_page_check(&conn.id, &p.page_id, PAGE_HEALTHY, None, now)
                    .await?;
                results.push(json!({"id": p.page_id, "name": p.name, "status": PAGE_HEALTHY}));
            }
            Err(d) if d.retryable => {
                unsure += 1;
                results.push(
                    json!({"id": p.page_id, "name": p.name, "status": p.status, "diagnosis": d}),
                );
            }
            Err(d) => {
                let dj = json!(d);
                store
                    .record_page_check(&conn.id, &p.page_id, PAGE_NEEDS_REAUTH, Some(&dj), now)
                    .await?;
                results.push(json!({"id": p.page_id, "name": p.name, "status": PAGE_NEEDS_REAUTH, "diagnosis": dj}));
                refused.push((format!("{} ({})", p.name, p.page_id), d));
            }
        }
    }
    let data = json!({"pages": results});
    if let Some((_, first)) = refused.first() {
        let names: Vec<String> = refused.iter().map(|(n, _)| n.clone()).collect();
        f.pages_refused = names.clone();
        return Ok(Check::new(
            "pages",
            CheckStatus::Fail,
            format!(
                "Facebook refused the token of Page {}: {}",
                names.join(", "),
                first.summary()
            ),
        )
        .fix(format!(
            "Reconnect (POST /v1/connect/{}) as a person who still has a role on the Page: a password change or a lost Page role invalidates Page tokens; Pages chosen before stay chosen with new tokens.",
            conn.platform
        ))
        .diagnosis(first.clone())
        .data(data));
    }
    if unsure > 0 {
        return Ok(Check::new(
            "pages",
            CheckStatus::Warn,
            format!("{unsure} Page token(s) could not be checked (Facebook did not answer clearly); the others work"),
        )
        .data(data));
    }
    Ok(Check::new(
        "pages",
        CheckStatus::Pass,
        format!(
            "the token of each chosen Page works ({} checked)",
            results.len()
        ),
    )
    .data(data))
}

/// The status the findings lead to. `stored` is kept where the checks cannot tell better
/// (a transient refresh failure stays `refresh_failing`).
fn derive(stored: Option<ConnectionStatus>, f: &Findings) -> ConnectionStatus {
    if f.live_refused.is_some() {
        return if stored == Some(ConnectionStatus::Revoked) {
            ConnectionStatus::Revoked
        } else {
            ConnectionStatus::NeedsReauth
        };
    }
    if f.expired {
        return ConnectionStatus::Expired;
    }
    if f.last_error_fatal {
        return ConnectionStatus::NeedsReauth;
    }
    if !f.pages_refused.is_empty() {
        return ConnectionStatus::NeedsReauth;
    }
    if f.pages_unchosen.is_some() {
        return ConnectionStatus::PendingSelection;
    }
    if f.last_error_transient && stored == Some(ConnectionStatus::RefreshFailing) {
        return ConnectionStatus::RefreshFailing;
    }
    if f.expiring {
        return ConnectionStatus::ExpiringSoon;
    }
    ConnectionStatus::Healthy
}

fn action(conn: &Connection, status: ConnectionStatus, f: &Findings) -> Value {
    let reconnect = |detail: String| {
        json!({
            "kind": "reconnect",
            "detail": detail,
            "method": "POST",
            "path": format!("/v1/connect/{}", conn.platform),
            "body": {"owner": conn.owner},
        })
    };
    match status {
        ConnectionStatus::Healthy => json!({"kind": "none", "detail": "Nothing to do: the connection works."}),
        ConnectionStatus::RefreshFailing => json!({
            "kind": "wait",
            "detail": "Nothing to do yet: the platform failed for a transient reason and Switchboard retries with back-off; the current token keeps working until it expires.",
        }),
        ConnectionStatus::ExpiringSoon => reconnect(format!(
            "Reconnect before {}: the platform gives no way to renew this token. Start with POST /v1/connect/{} and send the person to the authorization_url; the connection keeps its id.",
            conn.expires_at.map(|e| e.to_rfc3339()).unwrap_or_default(),
            conn.platform
        )),
        ConnectionStatus::PendingSelection if f.pages_unchosen == Some(false) => json!({
            "kind": "get_page_role",
            "detail": "The Facebook account manages no Page: get a role on a Page (or create one), then connect again with POST /v1/connect/facebook.",
            "method": "POST",
            "path": format!("/v1/connect/{}", conn.platform),
        }),
        ConnectionStatus::PendingSelection => json!({
            "kind": "select_pages",
            "detail": "Choose the Pages Switchboard may use: list them with GET, then POST their ids.",
            "method": "POST",
            "path": format!("/v1/connections/{}/pages", conn.id),
        }),
        ConnectionStatus::NeedsReauth if f.live_refused.is_none() && !f.pages_refused.is_empty() => reconnect(format!(
            "Facebook no longer accepts the token of Page {}: reconnect with POST /v1/connect/{} as a person who still has a role on it (a password change or a lost role invalidates Page tokens).",
            f.pages_refused.join(", "),
            conn.platform
        )),
        _ => reconnect(format!(
            "The platform no longer accepts this connection's grant: reconnect with POST /v1/connect/{} and send the person to the authorization_url; the connection keeps its id.",
            conn.platform
        )),
    }
}

/// Runs every check on `conn`, stores the derived status when it changed (recording
/// `connection.needs_reauth` when the grant turned out dead, `connection.recovered` when it
/// works again), records `last_checked_at`, and returns the report.
///
/// # Errors
/// The platform being unknown to the catalog; database failures.
pub async fn check(state: &AppState, conn: &Connection) -> Result<Report, ApiError> {
    let spec = state.platform(&conn.platform)?.clone();
    let now = state.now();
    let mut f = Findings::default();
    let mut checks = vec![
        access_check(state, &spec, conn, &mut f),
        refresh_token_check(&spec, conn, now),
        last_refresh_check(conn, &mut f),
    ];
    checks.push(live_check(state, &spec, conn, &mut f).await);
    checks.push(scopes_check(&spec, conn));
    if uses_pages(state, conn) {
        checks.push(pages_check(state, &spec, conn, &mut f).await?);
    }
    let store = state.store();
    // Re-read: a refresh attempted by the live check may have stored a new status already.
    let current = store
        .get_connection_by_id(&conn.id)
        .await?
        .ok_or_else(|| ApiError::not_found("connection"))?;
    let stored = ConnectionStatus::parse(&current.status);
    let status = derive(stored, &f);
    if stored != Some(status) {
        match (&f.live_refused, status) {
            (Some(d), ConnectionStatus::NeedsReauth | ConnectionStatus::Revoked) => {
                store
                    .record_connection_error(&conn.id, status.as_str(), &json!(d), now)
                    .await?;
            }
            _ => {
                store
                    .set_connection_status(&conn.id, status.as_str(), now)
                    .await?
            }
        }
        state.forget_connection(&conn.id);
        let event = match status {
            ConnectionStatus::NeedsReauth | ConnectionStatus::Revoked => {
                Some(kind::CONNECTION_NEEDS_REAUTH)
            }
            ConnectionStatus::ExpiringSoon => Some(kind::CONNECTION_EXPIRING_SOON),
            ConnectionStatus::Healthy if stored.is_some_and(ConnectionStatus::needs_person) => {
                Some(kind::CONNECTION_RECOVERED)
            }
            _ => None,
        };
        if let Some(event) = event {
            emit(
                state,
                &conn.workspace_id,
                Some(&conn.id),
                event,
                json!({
                    "platform": conn.platform,
                    "previous_status": conn.status,
                    "status": status,
                    "source": "health_check",
                    "diagnosis": f.live_refused,
                    "pages_refused": f.pages_refused,
                }),
            )
            .await;
        }
        tracing::info!(connection_id = %conn.id, from = %conn.status, to = %status, "health check changed the status");
    }
    store.mark_connection_checked(&conn.id, now).await?;
    let count = |s: CheckStatus| checks.iter().filter(|c| c.status == s).count();
    let worst = checks
        .iter()
        .filter(|c| c.status != CheckStatus::Pass)
        .max_by_key(|c| c.status);
    let summary = format!(
        "{status}: {} passed, {} warning(s), {} failure(s){}",
        count(CheckStatus::Pass),
        count(CheckStatus::Warn),
        count(CheckStatus::Fail),
        worst
            .map(|c| format!("; {}: {}", c.name, c.detail))
            .unwrap_or_default()
    );
    let action = action(conn, status, &f);
    Ok(Report {
        connection_id: conn.id.clone(),
        status,
        previous_status: conn.status.clone(),
        checked_at: now,
        checks,
        summary,
        action,
    })
}
