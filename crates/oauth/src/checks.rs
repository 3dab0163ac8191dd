//! Live account checks: is the connected account one the platform lets Switchboard publish for?
//!
//! [`OAuthClient::check_eligibility`] makes one read call per platform with the connection's
//! access token and turns the answer into a [`Check`]. The calls and what they prove
//! (PLATFORMS.md, the platform's section):
//!
//! | platform | call | fails when |
//! |---|---|---|
//! | Instagram (§4A) | `GET {api}/me?fields=user_id,username,account_type` | `account_type` is `PERSONAL` (only `BUSINESS` and `MEDIA_CREATOR` may publish) |
//! | Facebook (§3) | `GET {api}/me/accounts?fields=id,name` | `data` is empty: the person has a role on no Page |
//! | YouTube (§6) | `GET {api}/youtube/v3/channels?part=snippet&mine=true` | `items` is missing or empty: no channel |
//! | Pinterest (§7) | `GET {api}/v5/boards?page_size=1` | `items` is empty: Pins need a board |
//! | TikTok (§5) | `POST {api}/v2/post/publish/creator_info/query/` | the call fails; a warning when `privacy_level_options` lacks `PUBLIC_TO_EVERYONE` (private account or unaudited app: posts stay `SELF_ONLY`/limited) |
//!
//! X and LinkedIn have no account type to check beyond the profile call (`GET /2/users/me`,
//! `userinfo`), which the caller runs with [`OAuthClient::fetch_profile`]; for them and for custom
//! providers [`OAuthClient::check_eligibility`] returns `None`.
//!
//! `{api}` is the catalog's `api_base_url`. A failed call becomes a failing check carrying the
//! diagnosis of the platform's own error body (`switchboard_core::diagnosis::diagnose`).

use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde_json::Value;
use switchboard_core::{Category, Diagnosis, PlatformSpec};

use crate::http::RawResponse;
use crate::{OAuthClient, OAuthError};

/// Outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    /// Fine.
    Pass,
    /// Works, with a limitation a person should know about.
    Warn,
    /// Blocks publishing until a person acts.
    Fail,
}

/// One check of an account, as the validation report shows it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(as = AccountCheck)]
pub struct Check {
    /// Stable name (`profile`, `account_eligible`, `access_token`, `refresh_token`, `scopes`).
    pub name: &'static str,
    /// Pass, warn or fail.
    pub status: CheckStatus,
    /// What was found, in plain words.
    pub detail: String,
    /// What to do about a warning or failure; `None` on a pass.
    pub fix: Option<String>,
    /// The diagnosis of a failed platform call or an ineligible account.
    pub diagnosis: Option<Diagnosis>,
}

impl Check {
    /// A passing check.
    pub fn pass(name: &'static str, detail: impl Into<String>) -> Self {
        Check {
            name,
            status: CheckStatus::Pass,
            detail: detail.into(),
            fix: None,
            diagnosis: None,
        }
    }

    /// A warning with its fix.
    pub fn warn(name: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Check {
            name,
            status: CheckStatus::Warn,
            detail: detail.into(),
            fix: Some(fix.into()),
            diagnosis: None,
        }
    }

    /// A failure explained by a diagnosis; the fix is the diagnosis's first step unless given.
    pub fn fail(
        name: &'static str,
        detail: impl Into<String>,
        fix: Option<String>,
        diagnosis: Diagnosis,
    ) -> Self {
        let fix = fix.or_else(|| diagnosis.fix.first().cloned());
        Check {
            name,
            status: CheckStatus::Fail,
            detail: detail.into(),
            fix,
            diagnosis: Some(diagnosis),
        }
    }

    /// A failure of a platform call: the detail is the diagnosis summary.
    pub fn from_error(name: &'static str, err: &OAuthError) -> Self {
        let d = err.diagnosis();
        Check::fail(name, d.summary(), None, d)
    }
}

/// Name of the eligibility check in reports.
pub const ELIGIBILITY: &str = "account_eligible";

/// Scopes that let YouTube's `channels.list` read the caller's channel (`youtube.upload` alone
/// does not). Google's channels.list authorization, PLATFORMS.md §6.
pub const YOUTUBE_CHANNEL_READ_SCOPES: [&str; 3] = [
    "https://www.googleapis.com/auth/youtube.readonly",
    "https://www.googleapis.com/auth/youtube",
    "https://www.googleapis.com/auth/youtube.force-ssl",
];

/// Instagram `account_type` values that may publish (PLATFORMS.md §4A).
const INSTAGRAM_PROFESSIONAL: [&str; 2] = ["BUSINESS", "MEDIA_CREATOR"];

/// TikTok's privacy level that makes a post public (PLATFORMS.md §5).
const TIKTOK_PUBLIC: &str = "PUBLIC_TO_EVERYONE";

/// An ineligible account: `account_not_eligible` with this platform's cause and fix first.
fn not_eligible(spec: &PlatformSpec, cause: String, fix: &str) -> Diagnosis {
    let mut d = Diagnosis::new(Category::AccountNotEligible)
        .with_docs(spec.docs.first().map(|d| d.url.as_str()));
    d.cause = cause;
    d.fix.insert(0, fix.to_string());
    d.platform = Some(spec.id.clone());
    d
}

impl OAuthClient {
    /// Runs the platform's eligibility check (see the module table) with `access_token`.
    /// `granted` are the connection's scopes (YouTube is only asked when one of
    /// [`YOUTUBE_CHANNEL_READ_SCOPES`] was granted; otherwise the check is a warning saying
    /// which scope to add). `None` for platforms without such a check.
    pub async fn check_eligibility(
        &self,
        spec: &PlatformSpec,
        access_token: &SecretString,
        granted: &[String],
    ) -> Option<Check> {
        let api = spec
            .endpoints
            .api_base_url
            .as_deref()?
            .trim_end_matches('/');
        let check = match spec.id.as_str() {
            "instagram" => instagram(self, spec, api, access_token).await,
            "facebook" => facebook(self, spec, api, access_token).await,
            "youtube" => {
                if !granted
                    .iter()
                    .any(|s| YOUTUBE_CHANNEL_READ_SCOPES.contains(&s.as_str()))
                {
                    return Some(Check::warn(
                        ELIGIBILITY,
                        "not checked: reading the YouTube channel needs one of the scopes youtube.readonly, youtube or youtube.force-ssl, and the connection has none",
                        format!(
                            "Reconnect asking for the extra scope {} so Switchboard can confirm the channel exists.",
                            YOUTUBE_CHANNEL_READ_SCOPES[0]
                        ),
                    ));
                }
                youtube(self, spec, api, access_token).await
            }
            "pinterest" => pinterest(self, spec, api, access_token).await,
            "tiktok" => tiktok(self, spec, api, access_token).await,
            _ => return None,
        };
        Some(check.unwrap_or_else(|e| Check::from_error(ELIGIBILITY, &e)))
    }

    async fn read(
        &self,
        spec: &PlatformSpec,
        what: &'static str,
        method: Method,
        url: &str,
        token: &SecretString,
    ) -> Result<Value, OAuthError> {
        let mut req = self
            .http
            .request(method.clone(), url)
            .bearer_auth(token.expose_secret());
        if method == Method::POST {
            req = req.header("content-type", "application/json; charset=UTF-8");
        }
        let raw: RawResponse = self.http.send(spec, what, req).await?;
        if !raw.status.is_success() {
            return Err(raw.error(spec));
        }
        let v = raw.json(spec)?;
        // TikTok answers 200 with an error envelope when something is wrong.
        if v.pointer("/error/code")
            .and_then(Value::as_str)
            .is_some_and(|c| c != "ok")
        {
            return Err(raw.error(spec));
        }
        Ok(v)
    }
}

async fn instagram(
    oc: &OAuthClient,
    spec: &PlatformSpec,
    api: &str,
    token: &SecretString,
) -> Result<Check, OAuthError> {
    let url = format!("{api}/me?fields=user_id,username,account_type");
    let v = oc
        .read(spec, "account_type", Method::GET, &url, token)
        .await?;
    let kind = v["account_type"].as_str().unwrap_or("unknown");
    if INSTAGRAM_PROFESSIONAL.contains(&kind) {
        return Ok(Check::pass(
            ELIGIBILITY,
            format!("professional account (account_type {kind}): it can publish"),
        ));
    }
    let fix = "Switch to a professional account in the Instagram app (Settings → Account type and tools → Switch to professional account: Business or Creator), then validate again.";
    Ok(Check::fail(
        ELIGIBILITY,
        format!("account_type is {kind}: Instagram lets only professional (Business or Creator) accounts publish through the API"),
        Some(fix.to_string()),
        not_eligible(
            spec,
            format!("The Instagram account is a {kind} account; the API publishes only for Business and Creator accounts."),
            fix,
        ),
    ))
}

async fn facebook(
    oc: &OAuthClient,
    spec: &PlatformSpec,
    api: &str,
    token: &SecretString,
) -> Result<Check, OAuthError> {
    let url = format!("{api}/me/accounts?fields=id,name");
    let v = oc
        .read(spec, "page_roles", Method::GET, &url, token)
        .await?;
    let pages: Vec<&str> = v["data"]
        .as_array()
        .map(|a| a.iter().filter_map(|p| p["name"].as_str()).collect())
        .unwrap_or_default();
    if !pages.is_empty() {
        return Ok(Check::pass(
            ELIGIBILITY,
            format!(
                "has a role on {} Page(s): {}",
                pages.len(),
                pages.join(", ")
            ),
        ));
    }
    let fix = "Ask a Page admin to give this Facebook account a role on the Page (Page settings → Page access), or create a Page, then reconnect and approve the Page.";
    Ok(Check::fail(
        ELIGIBILITY,
        "the account has a role on no Facebook Page (GET /me/accounts is empty): there is nothing to publish to",
        Some(fix.to_string()),
        not_eligible(
            spec,
            "The Facebook account manages no Page, or no Page was approved during consent.".into(),
            fix,
        ),
    ))
}

async fn youtube(
    oc: &OAuthClient,
    spec: &PlatformSpec,
    api: &str,
    token: &SecretString,
) -> Result<Check, OAuthError> {
    let url = format!("{api}/youtube/v3/channels?part=snippet&mine=true");
    let v = oc.read(spec, "channel", Method::GET, &url, token).await?;
    let first = v["items"].as_array().and_then(|a| a.first());
    if let Some(ch) = first {
        let title = ch
            .pointer("/snippet/title")
            .and_then(Value::as_str)
            .unwrap_or("untitled");
        let id = ch["id"].as_str().unwrap_or_default();
        return Ok(Check::pass(
            ELIGIBILITY,
            format!("YouTube channel {title:?} ({id})"),
        ));
    }
    let fix = "Create a YouTube channel for this Google account (youtube.com → profile picture → Create a channel), then validate again.";
    Ok(Check::fail(
        ELIGIBILITY,
        "the Google account has no YouTube channel (channels.list mine=true returned no items): uploads fail",
        Some(fix.to_string()),
        not_eligible(
            spec,
            "The Google account has no YouTube channel to upload to.".into(),
            fix,
        ),
    ))
}

async fn pinterest(
    oc: &OAuthClient,
    spec: &PlatformSpec,
    api: &str,
    token: &SecretString,
) -> Result<Check, OAuthError> {
    let url = format!("{api}/v5/boards?page_size=1");
    let v = oc.read(spec, "boards", Method::GET, &url, token).await?;
    if let Some(b) = v["items"].as_array().and_then(|a| a.first()) {
        let more = if v["bookmark"].is_string() {
            " and more"
        } else {
            ""
        };
        return Ok(Check::pass(
            ELIGIBILITY,
            format!(
                "has boards to pin to: {:?}{more}",
                b["name"].as_str().unwrap_or_default()
            ),
        ));
    }
    let fix = "Create at least one board on Pinterest (Profile → + → Board), then validate again.";
    Ok(Check::fail(
        ELIGIBILITY,
        "the Pinterest account has no board: every Pin needs a board_id",
        Some(fix.to_string()),
        not_eligible(
            spec,
            "The Pinterest account has no board to pin to.".into(),
            fix,
        ),
    ))
}

async fn tiktok(
    oc: &OAuthClient,
    spec: &PlatformSpec,
    api: &str,
    token: &SecretString,
) -> Result<Check, OAuthError> {
    let url = format!("{api}/v2/post/publish/creator_info/query/");
    let v = oc
        .read(spec, "creator_info", Method::POST, &url, token)
        .await?;
    let Some(levels) = v
        .pointer("/data/privacy_level_options")
        .and_then(Value::as_array)
    else {
        let mut d = Diagnosis::new(Category::Unknown);
        d.cause = "TikTok answered creator_info without privacy_level_options.".into();
        d.platform = Some(spec.id.clone());
        return Ok(Check::fail(
            ELIGIBILITY,
            "creator_info has no privacy_level_options",
            None,
            d,
        ));
    };
    let levels: Vec<&str> = levels.iter().filter_map(Value::as_str).collect();
    if levels.is_empty() {
        let fix = "Open TikTok and check the account can post (not banned or restricted), then validate again.";
        return Ok(Check::fail(
            ELIGIBILITY,
            "TikTok offers no privacy level for posts: the account cannot post now",
            Some(fix.to_string()),
            not_eligible(
                spec,
                "TikTok lets this account post with no visibility at all.".into(),
                fix,
            ),
        ));
    }
    if levels.contains(&TIKTOK_PUBLIC) {
        return Ok(Check::pass(
            ELIGIBILITY,
            format!("can post; privacy levels offered: {}", levels.join(", ")),
        ));
    }
    Ok(Check::warn(
        ELIGIBILITY,
        format!(
            "posts cannot be public: TikTok offers only {} (a private account, or an app that has not passed TikTok's audit, posts as SELF_ONLY)",
            levels.join(", ")
        ),
        "Make the TikTok account public (Settings → Privacy → Private account off), and have the app pass TikTok's Content Posting API audit.",
    ))
}
