//! Account validation: live checks of a connection against its platform, behind
//! `POST /v1/connections/{id}/validate`.
//!
//! Checks, in report order:
//! - `access_token`: expiry of the access token (a token expiring within a minute is renewed
//!   first, as `GET /token` does); fails when expired and not renewable.
//! - `profile`: the platform's profile call answers with the connection's token (X
//!   `GET /2/users/me`, LinkedIn `userinfo`, ...), for the same account id.
//! - `account_eligible`: the platform's account-type check
//!   (`switchboard_oauth::checks`: Instagram professional account, Facebook Page role, YouTube
//!   channel, Pinterest board, TikTok `creator_info`); absent for X, LinkedIn and custom
//!   providers, where the profile check is all there is.
//! - `refresh_token`: whether and until when the connection can be renewed without the person.
//! - `scopes`: granted scopes against the catalog's publish scopes (`publish_text` and
//!   `publish_media`).
//!
//! The verdict is the worst status. The report is stored (`BulkStore::record_validation`, which
//! stamps `last_checked_at`). Validation never changes the connection's status and never calls
//! `record_connection_error`: an ineligible account (personal Instagram, no channel...) has a
//! valid grant, reconnecting would not help, and the refresh bookkeeping (failure count, back-off)
//! must not move for it. Token failures found here are left to the refresh path, which owns the
//! status.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use serde_json::Value;
use switchboard_core::catalog::RefreshKind;
use switchboard_core::diagnosis::{Category, Diagnosis};
use switchboard_core::PlatformSpec;
use switchboard_oauth::checks::{Check, CheckStatus};
use switchboard_store::bulk::ValidationRecord;
use switchboard_store::Connection;

use crate::error::ApiError;
use crate::{lifecycle, AppState};

/// The validation report of one connection.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = ValidationReport)]
pub struct Report {
    /// The connection checked.
    pub connection_id: String,
    /// Its platform.
    pub platform: String,
    /// The worst status of the checks.
    pub verdict: CheckStatus,
    /// When the checks ran.
    pub checked_at: DateTime<Utc>,
    /// The checks, in the order of the module docs.
    pub checks: Vec<Check>,
}

fn verdict_name(s: CheckStatus) -> &'static str {
    match s {
        CheckStatus::Pass => "pass",
        CheckStatus::Warn => "warn",
        CheckStatus::Fail => "fail",
    }
}

fn rank(s: CheckStatus) -> u8 {
    match s {
        CheckStatus::Pass => 0,
        CheckStatus::Warn => 1,
        CheckStatus::Fail => 2,
    }
}

fn with_platform(mut d: Diagnosis, spec: &PlatformSpec) -> Diagnosis {
    d.platform = Some(spec.id.clone());
    d.with_docs(spec.docs.first().map(|d| d.url.as_str()))
}

/// The diagnosis an [`ApiError`] carries, or one of `category` with its detail as the cause.
fn diagnosis_of(e: &ApiError, category: Category, spec: &PlatformSpec) -> Diagnosis {
    e.extra
        .get("diagnosis")
        .and_then(|d| serde_json::from_value::<Diagnosis>(d.clone()).ok())
        .unwrap_or_else(|| {
            let mut d = Diagnosis::new(category);
            d.cause = e.detail.clone();
            with_platform(d, spec)
        })
}

fn can_renew(spec: &PlatformSpec, conn: &Connection) -> bool {
    conn.refresh_token_sealed.is_some() || spec.token.refresh == RefreshKind::Exchange
}

fn access_token_check(
    spec: &PlatformSpec,
    conn: &Connection,
    now: DateTime<Utc>,
    warning: Duration,
) -> Check {
    const NAME: &str = "access_token";
    let Some(exp) = conn.expires_at else {
        return Check::pass(NAME, "does not expire");
    };
    if exp <= now {
        let mut d = with_platform(Diagnosis::new(Category::TokenExpired), spec);
        d.cause = format!("The access token expired at {}.", exp.to_rfc3339());
        return Check::fail(
            NAME,
            format!("expired at {}", exp.to_rfc3339()),
            Some("Reconnect the account.".into()),
            d,
        );
    }
    if exp - now > warning {
        return Check::pass(NAME, format!("valid until {}", exp.to_rfc3339()));
    }
    if can_renew(spec, conn) {
        Check::pass(
            NAME,
            format!(
                "expires at {}; Switchboard renews it before then",
                exp.to_rfc3339()
            ),
        )
    } else {
        Check::warn(
            NAME,
            format!(
                "expires at {} and {} cannot renew it",
                exp.to_rfc3339(),
                spec.display_name
            ),
            "Reconnect the account before the access token expires.",
        )
    }
}

fn refresh_token_check(
    spec: &PlatformSpec,
    conn: &Connection,
    now: DateTime<Utc>,
    warning: Duration,
) -> Check {
    const NAME: &str = "refresh_token";
    match spec.token.refresh {
        RefreshKind::Exchange => {
            return Check::pass(
                NAME,
                format!(
                    "not used: {} renews the access token by exchanging it",
                    spec.display_name
                ),
            )
        }
        RefreshKind::None if conn.expires_at.is_none() => {
            return Check::pass(NAME, "not needed: the access token does not expire")
        }
        RefreshKind::None => {
            return Check::warn(
                NAME,
                format!(
                    "{} issues no refresh tokens: the person must reconnect when the access token expires",
                    spec.display_name
                ),
                "Reconnect the account before the access token expires.",
            )
        }
        RefreshKind::Static | RefreshKind::Rotating => {}
    }
    if conn.refresh_token_sealed.is_none() {
        if conn.expires_at.is_none() {
            return Check::pass(NAME, "not needed: the access token does not expire");
        }
        let fix = if spec.scopes.offline.is_empty() {
            "Reconnect the account before the access token expires.".to_string()
        } else {
            format!(
                "Reconnect and approve offline access (scope {}).",
                spec.scopes.offline.join(", ")
            )
        };
        return Check::warn(
            NAME,
            format!(
                "{} issued no refresh token: the person must reconnect when the access token expires",
                spec.display_name
            ),
            fix,
        );
    }
    let Some(exp) = conn.refresh_expires_at else {
        return Check::pass(NAME, "present; the platform reported no expiry");
    };
    if exp <= now {
        let mut d = with_platform(Diagnosis::new(Category::TokenRevoked), spec);
        d.cause = format!("The refresh token expired at {}.", exp.to_rfc3339());
        return Check::fail(
            NAME,
            format!("expired at {}", exp.to_rfc3339()),
            Some("Reconnect the account.".into()),
            d,
        );
    }
    if exp - now <= warning {
        return Check::warn(
            NAME,
            format!(
                "expires at {}: after that the person must reconnect",
                exp.to_rfc3339()
            ),
            "Reconnect the account before the refresh token expires.",
        );
    }
    Check::pass(NAME, format!("valid until {}", exp.to_rfc3339()))
}

fn scopes_check(spec: &PlatformSpec, conn: &Connection) -> Check {
    const NAME: &str = "scopes";
    let mut needed: Vec<&String> = Vec::new();
    for s in spec
        .scopes
        .publish_text
        .iter()
        .chain(&spec.scopes.publish_media)
    {
        if !needed.contains(&s) {
            needed.push(s);
        }
    }
    let missing: Vec<&str> = needed
        .iter()
        .filter(|s| !conn.scopes.contains(s))
        .map(|s| s.as_str())
        .collect();
    if missing.is_empty() {
        return Check::pass(
            NAME,
            if needed.is_empty() {
                "the catalog lists no publishing scopes for this platform".to_string()
            } else {
                format!("every publishing scope is granted ({})", needed.len())
            },
        );
    }
    let mut d = with_platform(Diagnosis::new(Category::InsufficientScope), spec);
    d.cause = format!(
        "The connection lacks the publishing scope(s) {}.",
        missing.join(", ")
    );
    Check::fail(
        NAME,
        format!("missing publishing scope(s): {}", missing.join(", ")),
        Some(format!(
            "Reconnect the account and approve every requested permission ({}).",
            missing.join(", ")
        )),
        d,
    )
}

/// Runs every check of `conn` (see the module docs), stores the report, and returns it.
///
/// # Errors
/// Unknown platform (a connection of a platform no longer in the catalog); store failures.
/// Platform failures are not errors: they are failing checks with their diagnosis.
pub async fn validate(state: &AppState, conn: Connection) -> Result<Report, ApiError> {
    let spec = state.platform(&conn.platform)?.clone();
    let warning = Duration::seconds(state.config().expiry_warning_secs as i64);
    let mut checks = Vec::new();
    let (conn, token) = match lifecycle::usable_token(state, conn.clone()).await {
        Ok((c, t)) => (c, Some(t)),
        Err(e) => {
            let d = diagnosis_of(&e, Category::TokenExpired, &spec);
            checks.push(Check::fail(
                "access_token",
                format!("no usable access token: {}", e.detail),
                None,
                d,
            ));
            // The row may have changed (a failed renewal records its status).
            let fresh = state
                .store()
                .get_connection(&conn.workspace_id, &conn.id)
                .await?
                .unwrap_or(conn);
            (fresh, None)
        }
    };
    let now = state.now();
    match &token {
        Some(token) => {
            checks.push(access_token_check(&spec, &conn, now, warning));
            let oauth = state.oauth();
            if spec.endpoints.profile_url.is_some() {
                checks.push(match oauth.fetch_profile(&spec, token).await {
                    Ok(p) if p.id == conn.account_id => Check::pass(
                        "profile",
                        format!(
                            "reachable: {} (account id {})",
                            p.username.or(p.name).unwrap_or_else(|| p.id.clone()),
                            p.id
                        ),
                    ),
                    Ok(p) => Check::warn(
                        "profile",
                        format!(
                            "the token now identifies account {} instead of {}",
                            p.id, conn.account_id
                        ),
                        "Reconnect with the account this connection was made for.",
                    ),
                    Err(e) => Check::from_error("profile", &e),
                });
            } else {
                checks.push(Check::warn(
                    "profile",
                    "not checked: the provider has no profile (userinfo) URL configured",
                    "Set the provider's profile_url to let Switchboard check the account.",
                ));
            }
            if let Some(c) = oauth.check_eligibility(&spec, token, &conn.scopes).await {
                checks.push(c);
            }
        }
        None => {
            let mut d = with_platform(Diagnosis::new(Category::TokenExpired), &spec);
            d.cause = "There is no usable access token to call the platform with.".into();
            checks.push(Check::fail(
                "profile",
                "not run: no usable access token (see access_token)",
                Some("Reconnect the account.".into()),
                d,
            ));
        }
    }
    checks.push(refresh_token_check(&spec, &conn, now, warning));
    checks.push(scopes_check(&spec, &conn));
    let verdict = checks
        .iter()
        .map(|c| c.status)
        .max_by_key(|s| rank(*s))
        .unwrap_or(CheckStatus::Pass);
    let report = Report {
        connection_id: conn.id.clone(),
        platform: conn.platform.clone(),
        verdict,
        checked_at: now,
        checks,
    };
    let json = serde_json::to_value(&report).unwrap_or(Value::Null);
    state
        .store()
        .record_validation(&ValidationRecord {
            connection_id: conn.id.clone(),
            verdict: verdict_name(verdict).to_string(),
            report: json,
            checked_at: now,
        })
        .await?;
    Ok(report)
}
