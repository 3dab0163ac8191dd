//! The parsers of each platform's error shapes (see `shared/PLATFORMS.md`, "Errors" of each
//! platform). Each parser recognises one shape and maps the platform's own code to a
//! [`Category`]; [`classify`] tries them from the most specific shape to the least.

use serde_json::Value;

use super::{CallKind, Category, Diagnosis};

/// Longest platform message kept, in characters.
pub(super) const MAX_MESSAGE_CHARS: usize = 2000;

pub(super) fn truncate(s: &str, max_chars: usize) -> String {
    if s.chars().count() <= max_chars {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max_chars).collect();
        t.push('…');
        t
    }
}

/// The category an HTTP status alone suggests.
pub(super) fn category_from_status(status: Option<u16>) -> Category {
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
        .or_else(|| x.as_str().and_then(|s| s.trim().parse().ok()))
}

fn status_at(v: &Value, status: Option<u16>) -> Option<u16> {
    status.or_else(|| int_at(v, "/status").and_then(|s| u16::try_from(s).ok()))
}

fn with_code(cat: Category, code: impl Into<String>, msg: Option<&str>) -> Diagnosis {
    let mut d = Diagnosis::new(cat);
    d.platform_code = Some(code.into());
    d.platform_message = msg.map(|m| truncate(m, MAX_MESSAGE_CHARS));
    d
}

/// Tries every known shape. `None` when the body is JSON of no known error shape (or a success
/// envelope such as TikTok's `error.code:"ok"` with nothing else wrong).
pub(super) fn classify(v: &Value, status: Option<u16>, kind: CallKind) -> Option<Diagnosis> {
    meta(v)
        .or_else(|| google(v))
        .or_else(|| tiktok(v))
        .or_else(|| instagram_legacy(v, status))
        .or_else(|| oauth(v, status, kind))
        .or_else(|| linkedin(v, status))
        .or_else(|| x_problem(v, status))
        .or_else(|| x_billing_without_type(v))
        .or_else(|| x_errors(v, status))
        .or_else(|| pinterest(v, status, kind))
        .or_else(|| message_only(v, status))
}

/// Meta Graph envelope (Facebook, Instagram, also from OAuth endpoints):
/// `{"error":{"message","type","code","error_subcode","error_user_title","error_user_msg","fbtrace_id"}}`.
/// Source: developers.facebook.com/docs/graph-api/guides/error-handling and
/// /docs/instagram-platform/instagram-graph-api/reference/error-codes.
fn meta(v: &Value) -> Option<Diagnosis> {
    let code = int_at(v, "/error/code")?;
    if v.pointer("/error/type").is_none() && v.pointer("/error/fbtrace_id").is_none() {
        return None;
    }
    let sub = int_at(v, "/error/error_subcode");
    let msg = str_at(v, "/error/error_user_msg").or(str_at(v, "/error/message"));
    let tech = str_at(v, "/error/message").unwrap_or_default();
    let cat = meta_category(code, sub, &format!("{tech} {}", msg.unwrap_or_default()));
    let code_s = match sub {
        Some(s) => format!("{code}/{s}"),
        None => code.to_string(),
    };
    Some(with_code(cat, code_s, msg))
}

fn meta_category(code: i64, sub: Option<i64>, msg: &str) -> Category {
    let lower = msg.to_ascii_lowercase();
    // Instagram media errors: the subcode says more than the code (2207042 comes with code 9,
    // 2207051 with code 4...).
    if let Some(s) = sub.filter(|s| (2_207_000..2_208_000).contains(s)) {
        return match s {
            // Daily publishing cap of the Content Publishing API.
            2_207_042 => Category::RateLimited,
            // Restricted or ineligible account; 2207081: account not allowed to publish
            // (not a professional account).
            2_207_050 | 2_207_081 => Category::AccountNotEligible,
            // "An unexpected error has occurred. Please retry your request." / temporary
            // failure publishing a container.
            2_207_001 | 2_207_008 => Category::PlatformUnavailable,
            // Action blocked as spam / abusive.
            2_207_051 => Category::ContentRejected,
            _ => Category::ContentRejected,
        };
    }
    // Meta reports a bad app secret as code 1 or 101, a bad redirect as 191 or in the message.
    if lower.contains("client secret") || lower.contains("invalid client_id") {
        return Category::InvalidClient;
    }
    if lower.contains("redirect_uri") || lower.contains("redirect uri") {
        return Category::RedirectUriMismatch;
    }
    match (code, sub) {
        (190, Some(463)) => Category::TokenExpired,
        // 460 password changed, 458 app not installed (revoked), 467 invalid (logged out),
        // 452 session invalidated, 492 no role on the Page anymore.
        (190, _) | (102, _) => Category::TokenRevoked,
        // Code exchange: 36007 code expired, 36009 code already used.
        (100, Some(36007 | 36009)) => Category::TokenRevoked,
        (4 | 17 | 32 | 613, _) | (80_001..=80_014, _) => Category::RateLimited,
        (10, _) | (200..=299, _) => {
            if lower.contains("review") || lower.contains("advanced access") {
                Category::AppNotApproved
            } else if lower.contains("business or creator") || lower.contains("personal account") {
                // Instagram: publishing needs a professional account, not a permission.
                Category::AccountNotEligible
            } else {
                Category::InsufficientScope
            }
        }
        (368, _) => Category::ContentRejected,
        (506, _) => Category::DuplicateContent,
        (1 | 2, _) => Category::PlatformUnavailable,
        (191, _) => Category::RedirectUriMismatch,
        (101, _) => Category::InvalidClient,
        (9004 | 9007 | 36_000..=36_003, _) => Category::ContentRejected,
        (100, _) => Category::ContentRejected,
        _ => Category::Unknown,
    }
}

/// Google APIs: `{"error":{"code":403,"message","errors":[{"domain","reason"}],"status"}}`, and
/// the newer form with `status` and `details[].reason` only.
/// Source: developers.google.com/youtube/v3/docs/errors.
fn google(v: &Value) -> Option<Diagnosis> {
    let code = int_at(v, "/error/code")?;
    let msg = str_at(v, "/error/message");
    if let Some(reason) = str_at(v, "/error/errors/0/reason") {
        return Some(with_code(google_reason(reason, code), reason, msg));
    }
    let status = str_at(v, "/error/status")?;
    let detail = str_at(v, "/error/details/0/reason");
    let cat = match (status, detail) {
        (_, Some("ACCESS_TOKEN_SCOPE_INSUFFICIENT")) => Category::InsufficientScope,
        (_, Some("ACCESS_TOKEN_EXPIRED")) => Category::TokenExpired,
        (_, Some("RATE_LIMIT_EXCEEDED")) => Category::RateLimited,
        ("UNAUTHENTICATED", _) => Category::TokenExpired,
        ("PERMISSION_DENIED", _) => Category::InsufficientScope,
        ("RESOURCE_EXHAUSTED", _) => Category::RateLimited,
        ("UNAVAILABLE" | "INTERNAL" | "DEADLINE_EXCEEDED", _) => Category::PlatformUnavailable,
        ("INVALID_ARGUMENT" | "FAILED_PRECONDITION", _) => Category::ContentRejected,
        _ => category_from_status(u16::try_from(code).ok()),
    };
    Some(with_code(cat, detail.unwrap_or(status), msg))
}

fn google_reason(reason: &str, code: i64) -> Category {
    match reason {
        "quotaExceeded"
        | "rateLimitExceeded"
        | "userRateLimitExceeded"
        | "uploadLimitExceeded"
        | "dailyLimitExceeded" => Category::RateLimited,
        "authError" | "invalidCredentials" | "expiredToken" => Category::TokenExpired,
        "insufficientPermissions" | "forbidden" | "accessNotConfigured" => {
            Category::InsufficientScope
        }
        "youtubeSignupRequired" | "channelNotFound" | "channelClosed" | "channelSuspended" => {
            Category::AccountNotEligible
        }
        "backendError" | "internalError" | "serviceUnavailable" => Category::PlatformUnavailable,
        "invalidTitle"
        | "invalidDescription"
        | "invalidTags"
        | "invalidCategoryId"
        | "invalidVideoMetadata"
        | "mediaBodyRequired"
        | "invalidFilename"
        | "defaultLanguageNotSet"
        | "invalidPublishAt" => Category::ContentRejected,
        _ => category_from_status(u16::try_from(code).ok()),
    }
}

/// TikTok API envelope `{"data":{…},"error":{"code","message","log_id"}}`; `"ok"` is success.
/// Source: developers.tiktok.com/doc/tiktok-api-v2-error-handling and the Content Posting API
/// references.
fn tiktok(v: &Value) -> Option<Diagnosis> {
    let code = str_at(v, "/error/code")?;
    if code == "ok" {
        return None;
    }
    let mut d = with_code(tiktok_category(code), code, str_at(v, "/error/message"));
    tiktok_explain(&mut d, code);
    Some(d)
}

/// Plain words and the fix for the TikTok refusals a new app meets first. Sources:
/// developers.tiktok.com/doc/content-posting-api-reference-direct-post (error codes, "content
/// posted by unaudited clients will be restricted to private viewing mode"),
/// /doc/content-posting-api-media-transfer-guide (pulled URLs must be verified),
/// /doc/content-sharing-guidelines (unaudited clients: 5 users per 24 hours, private accounts).
fn tiktok_explain(d: &mut Diagnosis, code: &str) {
    let (cause, fix): (&str, &[&str]) = match code {
        "url_ownership_unverified" => (
            "TikTok pulls media only from the domains and URL prefixes verified for the app in \
             its developer portal, and this media URL is on neither.",
            &[
                "Verify the media's domain (or a URL prefix) under URL properties in the TikTok \
                 developer portal, then list it in `[platforms.tiktok] verified_domains` \
                 (SWITCHBOARD_TIKTOK_VERIFIED_DOMAINS).",
                "Or remove it from verified_domains: Switchboard then uploads videos itself \
                 (FILE_UPLOAD). Photo posts can only be pulled.",
            ],
        ),
        "unaudited_client_can_only_post_to_private_accounts" => (
            "This TikTok app has not passed TikTok's audit yet: until it does, it may post only \
             to private accounts, and only as SELF_ONLY (visible to the creator alone).",
            &[
                "To test now: set the TikTok account to private in the TikTok app and post with \
                 privacy_level SELF_ONLY.",
                "To post publicly: submit the app for TikTok's Content Posting API audit in the \
                 developer portal.",
            ],
        ),
        "reached_active_user_cap" => (
            "TikTok caps how many people an app may post for in 24 hours (an unaudited app: 5), \
             and this app has reached the cap.",
            &[
                "Try again later, when the 24-hour window has room again.",
                "Passing TikTok's audit raises the cap.",
            ],
        ),
        "spam_risk_too_many_posts" => (
            "This TikTok account has reached TikTok's cap on posts made through apps in 24 hours.",
            &["Try again tomorrow, or spread the posts out."],
        ),
        "privacy_level_option_mismatch" => (
            "The privacy level is not one TikTok offers this account now (creator_info's \
             privacy_level_options).",
            &[
                "Read GET /v1/connections/{id}/tiktok/creator-info and choose one of its \
               privacy_level_options in content.overrides.tiktok.privacy_level.",
            ],
        ),
        _ => return,
    };
    d.cause = cause.to_string();
    d.fix = fix.iter().map(|s| s.to_string()).collect();
}

fn tiktok_category(code: &str) -> Category {
    match code {
        "access_token_invalid" => Category::TokenExpired,
        "scope_not_authorized" | "scope_permission_missed" => Category::InsufficientScope,
        "rate_limit_exceeded" | "spam_risk_too_many_posts" | "reached_active_user_cap" => {
            Category::RateLimited
        }
        "spam_risk_user_banned_from_posting"
        | "unaudited_client_can_only_post_to_private_accounts"
        | "privacy_level_option_mismatch" => Category::AccountNotEligible,
        "url_ownership_unverified" => Category::AppNotApproved,
        "spam_risk_too_many_pending_share" => Category::RateLimited,
        "invalid_params"
        | "invalid_file_upload"
        | "file_format_check_failed"
        | "duration_check_failed"
        | "frame_rate_check_failed"
        | "picture_size_check_failed"
        | "video_pull_failed"
        | "photo_pull_failed" => Category::ContentRejected,
        "internal_error" => Category::PlatformUnavailable,
        "invalid_grant" => Category::TokenRevoked,
        "invalid_client" => Category::InvalidClient,
        _ => Category::Unknown,
    }
}

/// Instagram Login's legacy OAuth shape `{"error_type":"OAuthException","code":400,
/// "error_message":"…"}` (api.instagram.com/oauth/access_token).
fn instagram_legacy(v: &Value, status: Option<u16>) -> Option<Diagnosis> {
    let t = str_at(v, "/error_type")?;
    let msg = str_at(v, "/error_message")?;
    let lower = msg.to_ascii_lowercase();
    let cat = if lower.contains("client secret")
        || lower.contains("client_id")
        || lower.contains("platform app")
    {
        Category::InvalidClient
    } else if lower.contains("authorization code") || lower.contains("matching code") {
        Category::TokenRevoked
    } else if lower.contains("redirect") {
        Category::RedirectUriMismatch
    } else if lower.contains("developer role") || lower.contains("tester") {
        Category::AppNotApproved
    } else if lower.contains("access token") {
        Category::TokenRevoked
    } else {
        category_from_status(
            status_at(v, status).or(int_at(v, "/code").and_then(|c| u16::try_from(c).ok())),
        )
    };
    Some(with_code(cat, t, Some(msg)))
}

/// RFC 6749 §5.2 token errors and §4.1.2.1 authorization errors:
/// `{"error":"invalid_grant","error_description":"…"}` (X, LinkedIn, TikTok, Google, custom).
fn oauth(v: &Value, status: Option<u16>, kind: CallKind) -> Option<Diagnosis> {
    let code = str_at(v, "/error")?;
    let desc = str_at(v, "/error_description").or(str_at(v, "/message"));
    let cat = oauth_category(code, desc.unwrap_or_default(), status, kind);
    Some(with_code(cat, code, desc))
}

fn oauth_category(code: &str, desc: &str, status: Option<u16>, kind: CallKind) -> Category {
    let d = desc.to_ascii_lowercase();
    // A code or refresh token that is bad, expired or used. LinkedIn's catch-all ("appid/redirect
    // uri/code verifier does not match authorization code. Or authorization code expired...")
    // names the redirect URI among other causes: it is a bad code, not a redirect mismatch.
    let bad_grant = d.contains("authorization code")
        || d.contains("refresh token")
        || d.contains("code verifier")
        || d.contains("code_verifier")
        || d.contains("grant")
        || d.contains("expired or revoked")
        // X: "Value passed for the token was invalid." (a refresh token used twice or revoked).
        || d.contains("value passed for the");
    match code {
        "invalid_grant" if bad_grant => Category::TokenRevoked,
        "invalid_grant" if d.contains("redirect") => Category::RedirectUriMismatch,
        "invalid_grant" => Category::TokenRevoked,
        "invalid_client" | "unauthorized_client" => Category::InvalidClient,
        "access_denied" | "user_denied" => Category::AccessDenied,
        "invalid_scope" | "insufficient_scope" => Category::InsufficientScope,
        // LinkedIn: a scope the app's products do not include.
        "unauthorized_scope_error" => Category::AppNotApproved,
        "redirect_uri_mismatch" | "invalid_redirect_uri" => Category::RedirectUriMismatch,
        "temporarily_unavailable" | "server_error" => Category::PlatformUnavailable,
        "rate_limit_exceeded" | "slow_down" => Category::RateLimited,
        "invalid_token" | "expired_token" => Category::TokenExpired,
        "invalid_request" if bad_grant => Category::TokenRevoked,
        "invalid_request" if d.contains("redirect") => Category::RedirectUriMismatch,
        "invalid_request" | "unsupported_grant_type" | "unsupported_response_type" => {
            Category::InvalidRequest
        }
        _ if kind == CallKind::Token && status == Some(401) => Category::InvalidClient,
        _ => category_from_status(status),
    }
}

/// LinkedIn REST errors `{"status","serviceErrorCode","code","message"}`, also without
/// `serviceErrorCode` (`{"status":422,"code":"DUPLICATE_POST",…}`) and the validation form
/// `{"status":422,"message":"ERROR :: /commentary :: …"}`.
/// Source: learn.microsoft.com/linkedin/shared/api-guide/concepts/error-handling and
/// /linkedin/marketing/community-management/shares/posts-api.
fn linkedin(v: &Value, status: Option<u16>) -> Option<Diagnosis> {
    let sec = int_at(v, "/serviceErrorCode");
    let code = str_at(v, "/code").filter(|c| {
        c.chars()
            .all(|ch| ch.is_ascii_uppercase() || ch == '_' || ch.is_ascii_digit())
            && c.chars().any(|ch| ch.is_ascii_uppercase())
    });
    let msg = str_at(v, "/message");
    let validation = msg.is_some_and(|m| m.starts_with("ERROR :: /"));
    if sec.is_none() && code.is_none() && !validation {
        return None;
    }
    let st = status_at(v, status);
    let cat = match (sec, code) {
        (Some(65_601), _) | (_, Some("REVOKED_ACCESS_TOKEN")) => Category::TokenRevoked,
        (Some(65_600 | 65_602), _) | (_, Some("INVALID_ACCESS_TOKEN" | "EXPIRED_ACCESS_TOKEN")) => {
            Category::TokenExpired
        }
        (_, Some("DUPLICATE_POST")) => Category::DuplicateContent,
        (_, Some("TOO_MANY_REQUESTS")) => Category::RateLimited,
        (_, Some("ACCESS_DENIED")) | (Some(100), _) => Category::InsufficientScope,
        (_, Some("ILLEGAL_ARGUMENT" | "UNPROCESSABLE_ENTITY" | "INVALID_VALUE")) => {
            Category::ContentRejected
        }
        _ if validation => Category::ContentRejected,
        _ => match category_from_status(st) {
            Category::Unknown if st.is_some_and(|s| (400..500).contains(&s)) => {
                Category::ContentRejected
            }
            c => c,
        },
    };
    let c = match (code, sec) {
        (Some(c), Some(s)) => format!("{c}/{s}"),
        (Some(c), None) => c.to_string(),
        (None, Some(s)) => s.to_string(),
        (None, None) => st
            .map(|s| s.to_string())
            .unwrap_or_else(|| "validation".into()),
    };
    Some(with_code(cat, c, msg))
}

/// X problem documents (RFC 7807 style): `{"title","detail","type","status"}`, where `type` is
/// `https://api.x.com/2/problems/<kind>` (or `api.twitter.com`) or `about:blank`.
/// Source: docs.x.com/x-api/fundamentals/response-codes-and-errors.
fn x_problem(v: &Value, status: Option<u16>) -> Option<Diagnosis> {
    let t = str_at(v, "/type")?;
    let title = str_at(v, "/title");
    let detail = str_at(v, "/detail");
    let is_problem = t.contains("/problems/") || (t == "about:blank" && title.is_some());
    if !is_problem {
        return None;
    }
    let kind = if t == "about:blank" {
        title.unwrap_or("about:blank")
    } else {
        t.rsplit('/').next().unwrap_or(t)
    };
    let text = detail.unwrap_or_default().to_ascii_lowercase();
    if let Some(d) = x_billing(kind, title, v) {
        let mut d = d;
        d.platform_message = detail.or(title).map(|m| truncate(m, MAX_MESSAGE_CHARS));
        return Some(d);
    }
    let cat = if text.contains("duplicate content") {
        Category::DuplicateContent
    } else {
        x_problem_category(kind, status_at(v, status))
    };
    Some(with_code(cat, kind, detail.or(title)))
}

/// An X pay-per-use refusal that came without its `type` (`{"title":"CreditsDepleted",
/// "detail":…}`, as some X answers and client libraries pass it on).
fn x_billing_without_type(v: &Value) -> Option<Diagnosis> {
    let title = str_at(v, "/title")?;
    let mut d = x_billing("", Some(title), v)?;
    d.platform_message = str_at(v, "/detail")
        .or(Some(title))
        .map(|m| truncate(m, MAX_MESSAGE_CHARS));
    Some(d)
}

/// X pay-per-use refusals (docs.x.com/x-api/getting-started/pricing, /x-api/fundamentals/post-cap):
/// 402 `{"title":"CreditsDepleted","detail":"Your enrolled account [...] does not have any
/// credits to fulfill this request.","type":"https://api.twitter.com/2/problems/credits"}` when
/// the app's credits are used up, and 429 `{"title":"UsageCapExceeded","detail":"Usage cap
/// exceeded: Monthly product cap","period":"Monthly","scope":"Product","type":
/// "https://api.twitter.com/2/problems/usage-capped"}` at a usage cap (answers as X sends them,
/// e.g. github.com/xdevplatform/xdk/issues/25; X's OpenAPI lists neither). Not a rate limit: a
/// person has to add credits or wait for the cap to reset, so neither is retried.
fn x_billing(kind: &str, title: Option<&str>, v: &Value) -> Option<Diagnosis> {
    let credits = kind == "credits" || title == Some("CreditsDepleted");
    let capped = kind == "usage-capped" || title == Some("UsageCapExceeded");
    if credits {
        let mut d = Diagnosis::new(Category::BillingLimit);
        d.platform_code = Some("CreditsDepleted".into());
        d.cause = "X refused the call because the app's pay-per-use credits are used up. Every X API call costs credits (posting one post, more for a post with a link), so nothing can be posted until credits are added.".into();
        d.fix = vec![
            "Open the X Developer Console (console.x.com), select the app's project and buy credits under Billing; turn on auto-recharge so it does not happen again.".into(),
            "Check the monthly spending limit there too: a limit reached stops the calls the same way.".into(),
            "Then retry the failed posts (nothing was published).".into(),
        ];
        return Some(d);
    }
    if capped {
        let period = str_at(v, "/period")
            .unwrap_or("monthly")
            .to_ascii_lowercase();
        let scope = str_at(v, "/scope")
            .unwrap_or("product")
            .to_ascii_lowercase();
        let mut d = Diagnosis::new(Category::BillingLimit);
        d.platform_code = Some("UsageCapExceeded".into());
        d.cause = format!(
            "X refused the call because the app reached its {period} {scope} usage cap. This is not a short rate limit: every call fails the same way until the cap resets."
        );
        d.fix = vec![
            "Open the X Developer Console (console.x.com) and look at the project's Usage page: it shows the cap and the day it resets.".into(),
            "Wait for the reset, or raise the cap (a higher spending limit, or an Enterprise plan for more than the pay-per-use post-read cap).".into(),
            "Then retry the failed posts.".into(),
        ];
        return Some(d);
    }
    None
}

fn x_problem_category(kind: &str, status: Option<u16>) -> Category {
    match kind {
        "rate-limit-exceeded" | "Too Many Requests" => Category::RateLimited,
        "client-forbidden" | "client-not-enrolled" => Category::AppNotApproved,
        "unsupported-authentication" | "not-authorized-for-resource" | "oauth1-permissions" => {
            Category::InsufficientScope
        }
        "duplicate" => Category::DuplicateContent,
        "invalid-request" | "resource-not-found" | "disallowed-resource" => {
            Category::ContentRejected
        }
        "Unauthorized" => Category::TokenExpired,
        "Service Unavailable" | "Internal Server Error" => Category::PlatformUnavailable,
        _ => category_from_status(status),
    }
}

/// X `errors[]` without a top-level problem: partial errors on an HTTP 200
/// (`{"data":…,"errors":[{"title","detail","type"}]}`) and the v1.1 form
/// `{"errors":[{"code":187,"message":"Status is a duplicate."}]}`.
fn x_errors(v: &Value, status: Option<u16>) -> Option<Diagnosis> {
    let first = v.pointer("/errors/0")?;
    if let Some(t) = str_at(first, "/type").filter(|t| t.contains("/problems/")) {
        let kind = t.rsplit('/').next().unwrap_or(t);
        let msg = str_at(first, "/detail").or(str_at(first, "/title"));
        if let Some(mut d) = x_billing(kind, str_at(first, "/title"), first) {
            d.platform_message = msg.map(|m| truncate(m, MAX_MESSAGE_CHARS));
            return Some(d);
        }
        return Some(with_code(x_problem_category(kind, None), kind, msg));
    }
    let code = int_at(first, "/code")?;
    let msg = str_at(first, "/message");
    let cat = match code {
        32 | 89 => Category::TokenRevoked,
        88 | 185 => Category::RateLimited,
        187 => Category::DuplicateContent,
        186 | 226 | 324 | 325 => Category::ContentRejected,
        64 | 326 => Category::AccountNotEligible,
        130 | 131 => Category::PlatformUnavailable,
        220 | 261 => Category::InsufficientScope,
        _ => category_from_status(status),
    };
    Some(with_code(cat, code.to_string(), msg))
}

/// Pinterest v5 `{"code":<int>,"message":"…"}`. On the token endpoint `code` 2
/// ("Authentication failed.") means the app's Basic credentials were refused.
/// Source: developers.pinterest.com/docs/reference/rate-limits and the v5 OpenAPI `Error`.
fn pinterest(v: &Value, status: Option<u16>, kind: CallKind) -> Option<Diagnosis> {
    let msg = str_at(v, "/message")?;
    let code = v.pointer("/code").and_then(Value::as_i64)?;
    let lower = msg.to_ascii_lowercase();
    if code == 29 && lower.contains("trial access") {
        return Some(pinterest_trial(msg));
    }
    let cat = match (code, status) {
        (_, Some(429)) | (8, _) => Category::RateLimited,
        (2, _) if kind == CallKind::Token => Category::InvalidClient,
        _ if lower.contains("redirect") => Category::RedirectUriMismatch,
        _ if lower.contains("authorization code") || lower.contains("refresh token") => {
            Category::TokenRevoked
        }
        (2, _) | (_, Some(401)) => Category::TokenExpired,
        (3, _) | (_, Some(403)) => Category::InsufficientScope,
        (_, Some(s)) if s >= 500 => Category::PlatformUnavailable,
        (1 | 40 | 50 | 283, _) | (_, Some(400 | 404 | 409 | 422)) => Category::ContentRejected,
        _ => Category::Unknown,
    };
    Some(with_code(cat, code.to_string(), Some(msg)))
}

/// Pinterest code 29: an app on Trial access (where every new app starts) tried to create a Pin
/// on `api.pinterest.com`; Pinterest answers "Apps with Trial access may not create Pins in
/// production https://api.pinterest.com - use API Sandbox https://api-sandbox.pinterest.com
/// instead." (gitroomhq/postiz-app#1084; access tiers:
/// developers.pinterest.com/docs/key-concepts/access-tiers). Not retryable: only a setting or
/// Pinterest's upgrade changes it.
fn pinterest_trial(msg: &str) -> Diagnosis {
    let mut d = with_code(Category::AppNotApproved, "29", Some(msg));
    d.cause =
        "This Pinterest app has Trial access, and Pinterest lets Trial apps create Pins only \
               in its API Sandbox (api-sandbox.pinterest.com), not on api.pinterest.com."
            .to_string();
    d.fix = vec![
        "To try it out now: point Switchboard's Pinterest API at the sandbox host with \
         `[platforms.pinterest] api_base = \"https://api-sandbox.pinterest.com\"` (or \
         SWITCHBOARD_PINTEREST_API_BASE) and restart; Pins made there are visible only to you."
            .to_string(),
        "To publish for real: apply for Standard access in the Pinterest developer portal (My \
         apps → your app → Upgrade access, with a video of the OAuth flow and a Pin being \
         created), then remove api_base."
            .to_string(),
    ];
    d
}

/// Anything else with a `message`: judged by the HTTP status.
fn message_only(v: &Value, status: Option<u16>) -> Option<Diagnosis> {
    let msg = str_at(v, "/message")?;
    let st = status_at(v, status);
    let cat = match category_from_status(st) {
        Category::Unknown if st.is_some_and(|s| (400..500).contains(&s)) => {
            Category::ContentRejected
        }
        c => c,
    };
    let mut d = Diagnosis::new(cat);
    d.platform_code = str_at(v, "/code").map(str::to_string);
    d.platform_message = Some(truncate(msg, MAX_MESSAGE_CHARS));
    Some(d)
}
