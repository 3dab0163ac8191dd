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

/// What kind of failure it is. Stable names: API clients switch on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

/// Maps a platform's error answer to a diagnosis.
///
/// `http_status` is the HTTP status when known; `body` is the raw response body or a message.
/// Shapes that are not recognised give [`Category::Unknown`] with the body kept (truncated to 2,000
/// characters) in `platform_message`.
pub fn diagnose(platform: &str, http_status: Option<u16>, body: &str) -> Diagnosis {
    let json: Option<Value> = serde_json::from_str(body.trim()).ok();
    let mut d = json
        .as_ref()
        .and_then(|v| classify_json(v, http_status))
        .unwrap_or_else(|| {
            let mut d = Diagnosis::new(category_from_status(http_status));
            d.platform_message = Some(truncate(body, 2000));
            d
        });
    d.platform = Some(platform.to_string());
    d.http_status = http_status;
    d
}

fn truncate(s: &str, max_chars: usize) -> String {
    if s.chars().count() <= max_chars {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max_chars).collect();
        t.push('…');
        t
    }
}

fn category_from_status(status: Option<u16>) -> Category {
    match status {
        Some(401) => Category::TokenExpired,
        Some(403) => Category::InsufficientScope,
        Some(429) => Category::RateLimited,
        Some(s) if s >= 500 => Category::PlatformUnavailable,
        _ => Category::Unknown,
    }
}

fn str_at<'a>(v: &'a Value, ptr: &str) -> Option<&'a str> {
    v.pointer(ptr).and_then(Value::as_str)
}

fn int_at(v: &Value, ptr: &str) -> Option<i64> {
    let x = v.pointer(ptr)?;
    x.as_i64()
        .or_else(|| x.as_str().and_then(|s| s.parse().ok()))
}

fn with_code(mut d: Diagnosis, code: impl Into<String>, msg: Option<&str>) -> Diagnosis {
    d.platform_code = Some(code.into());
    d.platform_message = msg.map(|m| truncate(m, 2000));
    d
}

fn classify_json(v: &Value, status: Option<u16>) -> Option<Diagnosis> {
    // Meta Graph envelope: {"error":{"message","type","code","error_subcode"}}.
    if let Some(code) = int_at(v, "/error/code") {
        if v.pointer("/error/type").is_some() || v.pointer("/error/fbtrace_id").is_some() {
            let sub = int_at(v, "/error/error_subcode");
            let msg = str_at(v, "/error/error_user_msg").or(str_at(v, "/error/message"));
            let cat = meta_category(code, sub, msg.unwrap_or_default());
            let code_s = match sub {
                Some(s) => format!("{code}/{s}"),
                None => code.to_string(),
            };
            return Some(with_code(Diagnosis::new(cat), code_s, msg));
        }
        // Google: {"error":{"code":403,"message","errors":[{"reason"}],"status"}}.
        if let Some(reason) = str_at(v, "/error/errors/0/reason") {
            let cat = google_category(reason, code);
            return Some(with_code(
                Diagnosis::new(cat),
                reason,
                str_at(v, "/error/message"),
            ));
        }
    }
    // TikTok envelope: {"error":{"code":"access_token_invalid","message","log_id"}}.
    if let Some(code) = str_at(v, "/error/code") {
        if code == "ok" {
            return None;
        }
        let cat = tiktok_category(code);
        return Some(with_code(
            Diagnosis::new(cat),
            code,
            str_at(v, "/error/message"),
        ));
    }
    // Instagram Login's legacy OAuth endpoint: {"error_type":"OAuthException","code":400,
    // "error_message":"..."}.
    if let (Some(t), Some(msg)) = (str_at(v, "/error_type"), str_at(v, "/error_message")) {
        let lower = msg.to_ascii_lowercase();
        let cat = if lower.contains("client secret") || lower.contains("client_id") {
            Category::InvalidClient
        } else if lower.contains("redirect") {
            Category::RedirectUriMismatch
        } else if lower.contains("code") {
            Category::TokenRevoked
        } else {
            category_from_status(status)
        };
        return Some(with_code(Diagnosis::new(cat), t, Some(msg)));
    }
    // RFC 6749 §5.2: {"error":"invalid_grant","error_description":"..."}.
    if let Some(code) = str_at(v, "/error") {
        let desc = str_at(v, "/error_description").or(str_at(v, "/message"));
        let cat = oauth_category(code, desc.unwrap_or_default(), status);
        return Some(with_code(Diagnosis::new(cat), code, desc));
    }
    // LinkedIn: {"status":401,"serviceErrorCode":65600,"code":"INVALID_ACCESS_TOKEN","message"}.
    if let Some(sec) = int_at(v, "/serviceErrorCode") {
        let code = str_at(v, "/code").unwrap_or_default();
        let cat = linkedin_category(sec, code, status.or(int_at(v, "/status").map(|s| s as u16)));
        let c = if code.is_empty() {
            sec.to_string()
        } else {
            format!("{code}/{sec}")
        };
        return Some(with_code(Diagnosis::new(cat), c, str_at(v, "/message")));
    }
    // X problem document: {"title","detail","type":"https://api.x.com/2/problems/..."}.
    if let Some(t) = str_at(v, "/type").filter(|t| t.contains("/problems/")) {
        let kind = t.rsplit('/').next().unwrap_or(t);
        let cat = x_problem_category(kind, status);
        return Some(with_code(
            Diagnosis::new(cat),
            kind,
            str_at(v, "/detail").or(str_at(v, "/title")),
        ));
    }
    // Pinterest: {"code":<int>,"message":"..."}; also LinkedIn {"status","code":"ILLEGAL_ARGUMENT"}.
    if let Some(msg) = str_at(v, "/message") {
        if let Some(code) = int_at(v, "/code") {
            let cat = pinterest_category(code, status);
            return Some(with_code(Diagnosis::new(cat), code.to_string(), Some(msg)));
        }
        let cat = category_from_status(status.or(int_at(v, "/status").map(|s| s as u16)));
        let cat = if cat == Category::Unknown && status.is_some_and(|s| (400..500).contains(&s)) {
            Category::ContentRejected
        } else {
            cat
        };
        let code = str_at(v, "/code").map(str::to_string);
        let mut d = Diagnosis::new(cat);
        d.platform_code = code;
        d.platform_message = Some(truncate(msg, 2000));
        return Some(d);
    }
    None
}

fn oauth_category(code: &str, desc: &str, status: Option<u16>) -> Category {
    let d = desc.to_ascii_lowercase();
    match code {
        "invalid_grant" => {
            if d.contains("redirect") {
                Category::RedirectUriMismatch
            } else {
                Category::TokenRevoked
            }
        }
        "invalid_client" | "unauthorized_client" => Category::InvalidClient,
        "access_denied" => Category::AccessDenied,
        "invalid_scope" | "insufficient_scope" => Category::InsufficientScope,
        "redirect_uri_mismatch" => Category::RedirectUriMismatch,
        "temporarily_unavailable" | "server_error" => Category::PlatformUnavailable,
        "rate_limit_exceeded" | "slow_down" => Category::RateLimited,
        "invalid_token" | "expired_token" => Category::TokenExpired,
        "invalid_request" if d.contains("redirect") => Category::RedirectUriMismatch,
        "invalid_request" if d.contains("authorization code") || d.contains("code_verifier") => {
            Category::TokenRevoked
        }
        "invalid_request" => Category::InvalidRequest,
        _ => category_from_status(status),
    }
}

fn meta_category(code: i64, sub: Option<i64>, msg: &str) -> Category {
    let lower = msg.to_ascii_lowercase();
    // Meta reports a bad app secret as code 1 (otherwise "unknown error, retry").
    if lower.contains("client secret") || lower.contains("invalid client_id") {
        return Category::InvalidClient;
    }
    if lower.contains("redirect_uri") {
        return Category::RedirectUriMismatch;
    }
    match (code, sub) {
        (190, Some(463)) => Category::TokenExpired,
        (190, _) => Category::TokenRevoked,
        (102, _) => Category::TokenRevoked,
        (4 | 17 | 32 | 613 | 80001..=80009, _) => Category::RateLimited,
        (10, _) | (200..=299, _) => {
            if msg.to_ascii_lowercase().contains("review") {
                Category::AppNotApproved
            } else {
                Category::InsufficientScope
            }
        }
        (368, _) => Category::ContentRejected,
        (506, _) => Category::DuplicateContent,
        (1 | 2, _) => Category::PlatformUnavailable,
        (191, _) => Category::RedirectUriMismatch,
        (101, _) => Category::InvalidClient,
        (9004 | 9007 | 36000..=36003, _) => Category::ContentRejected,
        (_, Some(2207042)) => Category::RateLimited,
        (_, Some(2207050 | 2207081)) => Category::AccountNotEligible,
        (_, Some(s)) if (2207000..2208000).contains(&s) => Category::ContentRejected,
        (100, _) => Category::ContentRejected,
        _ => Category::Unknown,
    }
}

fn google_category(reason: &str, code: i64) -> Category {
    match reason {
        "quotaExceeded" | "rateLimitExceeded" | "userRateLimitExceeded" | "uploadLimitExceeded" => {
            Category::RateLimited
        }
        "authError" | "invalidCredentials" => Category::TokenExpired,
        "insufficientPermissions" | "forbidden" => Category::InsufficientScope,
        "youtubeSignupRequired" | "channelNotFound" => Category::AccountNotEligible,
        "backendError" | "internalError" => Category::PlatformUnavailable,
        "invalidTitle" | "invalidDescription" | "invalidTags" | "mediaBodyRequired" => {
            Category::ContentRejected
        }
        _ => category_from_status(u16::try_from(code).ok()),
    }
}

fn tiktok_category(code: &str) -> Category {
    match code {
        "access_token_invalid" => Category::TokenExpired,
        "scope_not_authorized" | "scope_permission_missed" => Category::InsufficientScope,
        "rate_limit_exceeded" => Category::RateLimited,
        "spam_risk_too_many_posts" | "spam_risk_user_banned_from_posting" => Category::RateLimited,
        "unaudited_client_can_only_post_to_private_accounts" | "privacy_level_option_mismatch" => {
            Category::AccountNotEligible
        }
        "invalid_params"
        | "file_format_check_failed"
        | "duration_check_failed"
        | "frame_rate_check_failed"
        | "picture_size_check_failed" => Category::ContentRejected,
        "internal_error" => Category::PlatformUnavailable,
        "invalid_grant" => Category::TokenRevoked,
        "invalid_client" => Category::InvalidClient,
        _ => Category::Unknown,
    }
}

fn linkedin_category(sec: i64, code: &str, status: Option<u16>) -> Category {
    match (sec, code) {
        (65600..=65602, _) | (_, "INVALID_ACCESS_TOKEN") => Category::TokenExpired,
        (_, "REVOKED_ACCESS_TOKEN") => Category::TokenRevoked,
        (100, _) | (_, "ACCESS_DENIED") => Category::InsufficientScope,
        (_, "DUPLICATE_POST") => Category::DuplicateContent,
        (_, "ILLEGAL_ARGUMENT") => Category::ContentRejected,
        _ => category_from_status(status),
    }
}

fn x_problem_category(kind: &str, status: Option<u16>) -> Category {
    match kind {
        "usage-capped" | "rate-limit-exceeded" => Category::RateLimited,
        "client-forbidden" => Category::AppNotApproved,
        "unsupported-authentication" | "not-authorized-for-resource" => Category::InsufficientScope,
        "duplicate" => Category::DuplicateContent,
        "invalid-request" => Category::ContentRejected,
        _ => category_from_status(status),
    }
}

fn pinterest_category(code: i64, status: Option<u16>) -> Category {
    match (code, status) {
        (_, Some(429)) | (8 | 429, _) => Category::RateLimited,
        (2 | 3, _) | (_, Some(401)) => Category::TokenExpired,
        (_, Some(403)) => Category::InsufficientScope,
        (_, Some(s)) if s >= 500 => Category::PlatformUnavailable,
        (_, Some(400 | 404 | 409 | 422)) => Category::ContentRejected,
        _ => Category::Unknown,
    }
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
