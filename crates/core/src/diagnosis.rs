//! The diagnosis taxonomy: every failed platform call (connect, refresh, publish, sync) becomes a
//! [`Diagnosis`] that says in plain words what happened and how to fix it.
//!
//! [`diagnose`] reads the platforms' own error shapes (see `shared/PLATFORMS.md`):
//! RFC 6749 token errors `{"error","error_description"}`, Meta's `{"error":{"code","error_subcode"}}`,
//! TikTok's `{"error":{"code","message","log_id"}}`, Google's `{"error":{"errors":[{"reason"}]}}`,
//! X's problem documents `{"title","detail","type"}`, LinkedIn's `{"serviceErrorCode","code"}` and
//! Pinterest's `{"code","message"}`.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

mod parse;

/// What kind of failure it is. Stable names: API clients switch on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// The access token expired.
    TokenExpired,
    /// The grant was revoked or the refresh token is no longer valid (`invalid_grant`).
    TokenRevoked,
    /// A scope the call needs was not granted.
    InsufficientScope,
    /// The platform throttled the call.
    RateLimited,
    /// The client id or secret is wrong, or the client may not use this grant.
    InvalidClient,
    /// The redirect URI does not match the one registered with the platform.
    RedirectUriMismatch,
    /// The account cannot do this (personal Instagram account, no YouTube channel, unaudited app).
    AccountNotEligible,
    /// The platform app lacks the review or product approval the call needs.
    AppNotApproved,
    /// The platform app's paid API access does not cover the call: its prepaid credits are used
    /// up or it reached its plan's usage cap (X pay-per-use: 402 `CreditsDepleted`, 429
    /// `UsageCapExceeded`). A person has to add credits or wait for the cap to reset.
    BillingLimit,
    /// The platform refused the content (policy, format, size).
    ContentRejected,
    /// The platform refused the content as a duplicate.
    DuplicateContent,
    /// The platform answered 5xx or said it is unavailable.
    PlatformUnavailable,
    /// The call did not reach the platform or no answer came back (DNS, connect, timeout).
    Network,
    /// The person declined consent on the platform's page.
    AccessDenied,
    /// Switchboard's own request was malformed or the flow state is invalid.
    InvalidRequest,
    /// Nothing recognisable; the raw error is kept.
    Unknown,
}

impl Category {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::TokenExpired => "token_expired",
            Category::TokenRevoked => "token_revoked",
            Category::InsufficientScope => "insufficient_scope",
            Category::RateLimited => "rate_limited",
            Category::InvalidClient => "invalid_client",
            Category::RedirectUriMismatch => "redirect_uri_mismatch",
            Category::AccountNotEligible => "account_not_eligible",
            Category::AppNotApproved => "app_not_approved",
            Category::BillingLimit => "billing_limit",
            Category::ContentRejected => "content_rejected",
            Category::DuplicateContent => "duplicate_content",
            Category::PlatformUnavailable => "platform_unavailable",
            Category::Network => "network",
            Category::AccessDenied => "access_denied",
            Category::InvalidRequest => "invalid_request",
            Category::Unknown => "unknown",
        }
    }

    /// Whether trying the same call again later can succeed without a person acting.
    pub fn retryable(self) -> bool {
        matches!(
            self,
            Category::RateLimited | Category::PlatformUnavailable | Category::Network
        )
    }

    fn severity(self) -> Severity {
        match self {
            Category::RateLimited | Category::PlatformUnavailable | Category::Network => {
                Severity::Warning
            }
            Category::AccessDenied | Category::DuplicateContent => Severity::Info,
            _ => Severity::Error,
        }
    }

    fn cause_and_fix(self) -> (&'static str, &'static [&'static str]) {
        match self {
            Category::TokenExpired => (
                "The access token has expired.",
                &[
                    "Refresh the connection (Switchboard does this on its own when the platform issued a refresh token).",
                    "If the platform gives no refresh token, reconnect the account.",
                ],
            ),
            Category::TokenRevoked => (
                "The platform no longer accepts this grant: the person revoked access, changed their password, or the refresh token expired or was already used.",
                &[
                    "Reconnect the account: open the reconnect link and approve access again.",
                    "If it keeps happening, check that no other tool uses the same app credentials to refresh this account (rotating refresh tokens are single-use).",
                ],
            ),
            Category::InsufficientScope => (
                "The connection lacks a permission (scope) this action needs.",
                &[
                    "Reconnect the account and approve every requested permission.",
                    "Make sure the platform app has the product or permission enabled.",
                ],
            ),
            Category::RateLimited => (
                "The platform is throttling requests for this app or account.",
                &[
                    "Wait: Switchboard retries after the time the platform asks for.",
                    "If it persists, spread posts out or request a higher limit from the platform.",
                ],
            ),
            Category::InvalidClient => (
                "The platform rejected the app's client id or client secret.",
                &[
                    "Copy the client id and client secret again from the platform's developer console into Switchboard's configuration.",
                    "Check that the secret was not regenerated on the platform since.",
                    "Restart Switchboard and run `switchboard doctor`.",
                ],
            ),
            Category::RedirectUriMismatch => (
                "The redirect URI Switchboard sent is not registered on the platform app.",
                &[
                    "Open the platform's developer console and register the exact redirect URI shown by `switchboard doctor` (scheme, host, port and path must match).",
                    "Check `public_url` in Switchboard's configuration.",
                ],
            ),
            Category::AccountNotEligible => (
                "The account cannot do this on the platform (for example a personal Instagram account, a Google account without a YouTube channel, or an unaudited TikTok app).",
                &[
                    "Switch the account to the type the platform requires (Instagram: Business or Creator).",
                    "Create what is missing (a YouTube channel, a Pinterest board) and try again.",
                ],
            ),
            Category::AppNotApproved => (
                "The platform app has not been approved for this permission or product.",
                &[
                    "Submit the app for the platform's review for the listed permission.",
                    "Until then, only accounts with a role on the app can connect.",
                ],
            ),
            Category::BillingLimit => (
                "The platform app has run out of paid API access: its prepaid credits are used up or it reached its plan's usage cap.",
                &[
                    "Add credits (or raise the spending limit) for the app in the platform's developer console.",
                    "Then retry the failed posts; nothing was published.",
                ],
            ),
            Category::ContentRejected => (
                "The platform refused the content.",
                &[
                    "Read the platform's message below and change the post accordingly.",
                    "Check the platform's limits for text length, media type and size.",
                ],
            ),
            Category::DuplicateContent => (
                "The platform refused the post because an identical one was published recently.",
                &["Change the text or media, or check whether the post already appeared."],
            ),
            Category::PlatformUnavailable => (
                "The platform answered with a server error; this is usually temporary.",
                &["Nothing to do: Switchboard retries with back-off.", "Check the platform's status page if it lasts."],
            ),
            Category::Network => (
                "The request did not reach the platform, or no answer came back in time.",
                &[
                    "Check that this server can reach the platform (DNS, firewall, proxy).",
                    "Switchboard retries transient failures on its own.",
                ],
            ),
            Category::AccessDenied => (
                "The person declined access on the platform's consent page.",
                &["Start the connection again and choose Allow on the platform's page."],
            ),
            Category::InvalidRequest => (
                "The request was not valid.",
                &["Read the message below; start the connection again if it came from an old or reused link."],
            ),
            Category::Unknown => (
                "The platform returned an error Switchboard does not recognise.",
                &["Read the raw error below.", "Paste it into the troubleshooter or report it to the Switchboard maintainers."],
            ),
        }
    }
}

impl std::fmt::Display for Category {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How urgent a diagnosis is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// For information; nothing failed that matters.
    Info,
    /// Transient; Switchboard handles it.
    Warning,
    /// A person has to act.
    Error,
}

/// A failure explained: what it is, why it likely happened and the numbered steps to fix it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Diagnosis {
    /// Stable category.
    pub category: Category,
    /// How urgent.
    pub severity: Severity,
    /// Whether retrying later can succeed without a person acting.
    pub retryable: bool,
    /// The likely cause in plain words.
    pub cause: String,
    /// Steps to fix it, in order.
    pub fix: Vec<String>,
    /// The platform's documentation page for this kind of error, where known.
    pub docs_url: Option<String>,
    /// The platform this came from, when known.
    pub platform: Option<String>,
    /// HTTP status of the platform's answer, when there was one.
    pub http_status: Option<u16>,
    /// The platform's own error code (`invalid_grant`, `190/463`, `access_token_invalid`...).
    pub platform_code: Option<String>,
    /// The platform's own message, verbatim (already free of tokens: platforms do not echo them).
    pub platform_message: Option<String>,
    /// How long the platform asked to wait before trying again, seconds (from `Retry-After` or
    /// the platform's rate-limit headers), when it said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_secs: Option<u64>,
}

impl Diagnosis {
    /// A diagnosis of `category` with the standard cause and fix.
    pub fn new(category: Category) -> Self {
        let (cause, fix) = category.cause_and_fix();
        Diagnosis {
            category,
            severity: category.severity(),
            retryable: category.retryable(),
            cause: cause.to_string(),
            fix: fix.iter().map(|s| s.to_string()).collect(),
            docs_url: None,
            platform: None,
            http_status: None,
            platform_code: None,
            platform_message: None,
            retry_after_secs: None,
        }
    }

    /// A network failure (connect error, DNS, timeout) talking to `platform`.
    pub fn network(platform: &str, message: impl Into<String>) -> Self {
        let mut d = Diagnosis::new(Category::Network);
        d.platform = Some(platform.to_string());
        d.platform_message = Some(message.into());
        d
    }

    /// Sets the documentation link.
    pub fn with_docs(mut self, url: Option<&str>) -> Self {
        if self.docs_url.is_none() {
            self.docs_url = url.map(str::to_string);
        }
        self
    }

    /// A one-line summary for logs and problem+json `detail`.
    pub fn summary(&self) -> String {
        match (&self.platform_code, &self.platform_message) {
            (Some(c), Some(m)) => format!("{} ({c}: {m})", self.cause),
            (Some(c), None) => format!("{} ({c})", self.cause),
            (None, Some(m)) => format!("{} ({m})", self.cause),
            (None, None) => self.cause.clone(),
        }
    }
}

/// Which kind of call failed. Some platforms use one code for different things depending on the
/// endpoint: Pinterest answers `{"code":2,"message":"Authentication failed."}` both for a bad
/// access token on the API and for missing or wrong app credentials (HTTP Basic) on the token
/// endpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CallKind {
    /// Not known; the body alone decides.
    #[default]
    Unspecified,
    /// The token endpoint (code exchange, refresh, long-lived exchange).
    Token,
    /// Any other API call with a user's access token.
    Api,
}

/// Maps a platform's error answer to a diagnosis.
///
/// `http_status` is the HTTP status when known; `body` is the raw response body or a message
/// (JSON, or an RFC 6749 `error=…&error_description=…` query string). Shapes that are not
/// recognised give [`Category::Unknown`] with the body kept (truncated to 2,000 characters) in
/// `platform_message`. The `docs_url` comes from the built-in catalog's `[guide]`.
pub fn diagnose(platform: &str, http_status: Option<u16>, body: &str) -> Diagnosis {
    diagnose_call(platform, CallKind::Unspecified, http_status, body)
}

/// [`diagnose`], told which kind of call failed (see [`CallKind`]).
pub fn diagnose_call(
    platform: &str,
    kind: CallKind,
    http_status: Option<u16>,
    body: &str,
) -> Diagnosis {
    let trimmed = body.trim();
    let json: Option<Value> = serde_json::from_str(trimmed)
        .ok()
        .or_else(|| query_error(trimmed));
    let mut d = json
        .as_ref()
        .and_then(|v| parse::classify(v, http_status, kind))
        .unwrap_or_else(|| {
            let mut d = Diagnosis::new(parse::category_from_status(http_status));
            d.platform_message = Some(parse::truncate(body, parse::MAX_MESSAGE_CHARS));
            d
        });
    d.platform = Some(platform.to_string());
    d.http_status = http_status;
    d.docs_url = docs_url(platform, d.category);
    d
}

/// An RFC 6749 §4.1.2.1 error as a query string (`error=access_denied&error_description=…`,
/// possibly a whole redirect URL) turned into `{"error","error_description"}`.
fn query_error(s: &str) -> Option<Value> {
    let query = match url::Url::parse(s) {
        Ok(u) => u.query().unwrap_or_default().to_string(),
        Err(_) => s.trim_start_matches('?').to_string(),
    };
    let pairs: serde_json::Map<String, Value> = url::form_urlencoded::parse(query.as_bytes())
        .filter(|(k, _)| matches!(k.as_ref(), "error" | "error_description"))
        .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
        .collect();
    pairs.contains_key("error").then_some(Value::Object(pairs))
}

/// The documentation page for a category on a built-in platform: the category's own page, else
/// the platform's error-code page (catalog `[guide]`). `None` for custom providers.
pub fn docs_url(platform: &str, category: Category) -> Option<String> {
    static BUILTIN: std::sync::OnceLock<Option<crate::Catalog>> = std::sync::OnceLock::new();
    BUILTIN
        .get_or_init(|| crate::Catalog::builtin().ok())
        .as_ref()?
        .get(platform)?
        .guide
        .docs_for(category.as_str())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6749_invalid_grant_needs_reconnect() {
        let d = diagnose(
            "youtube",
            Some(400),
            r#"{"error":"invalid_grant","error_description":"Token has been expired or revoked."}"#,
        );
        assert_eq!(d.category, Category::TokenRevoked);
        assert!(!d.retryable);
        assert_eq!(d.platform_code.as_deref(), Some("invalid_grant"));
    }

    #[test]
    fn meta_expired_token_subcode() {
        let d = diagnose(
            "facebook",
            Some(400),
            r#"{"error":{"message":"Error validating access token: Session has expired","type":"OAuthException","code":190,"error_subcode":463,"fbtrace_id":"A"}}"#,
        );
        assert_eq!(d.category, Category::TokenExpired);
        assert_eq!(d.platform_code.as_deref(), Some("190/463"));
    }

    #[test]
    fn server_errors_and_garbage() {
        let d = diagnose("twitter", Some(503), "<html>Service Unavailable</html>");
        assert_eq!(d.category, Category::PlatformUnavailable);
        assert!(d.retryable);
        let d = diagnose("twitter", Some(200), "not json at all");
        assert_eq!(d.category, Category::Unknown);
        assert_eq!(d.platform_message.as_deref(), Some("not json at all"));
    }

    #[test]
    fn instagram_legacy_oauth_shape() {
        let d = diagnose(
            "instagram",
            Some(400),
            r#"{"error_type":"OAuthException","code":400,"error_message":"Invalid client secret"}"#,
        );
        assert_eq!(d.category, Category::InvalidClient);
        assert_eq!(d.platform_code.as_deref(), Some("OAuthException"));
    }

    #[test]
    fn tiktok_and_x_shapes() {
        let d = diagnose(
            "tiktok",
            Some(401),
            r#"{"data":{},"error":{"code":"access_token_invalid","message":"The access token is invalid or not found in the request.","log_id":"x"}}"#,
        );
        assert_eq!(d.category, Category::TokenExpired);
        let d = diagnose(
            "twitter",
            Some(401),
            r#"{"error":"unauthorized_client","error_description":"Missing valid authorization header"}"#,
        );
        assert_eq!(d.category, Category::InvalidClient);
    }
}
