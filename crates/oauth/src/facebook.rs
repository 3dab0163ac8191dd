//! Facebook's token quirks (Facebook Login, manual flow). Source: shared/PLATFORMS.md §3,
//! <https://developers.facebook.com/docs/facebook-login/guides/access-tokens/get-long-lived>.
//!
//! - The code exchange is a `GET` with `client_id, redirect_uri, client_secret, code` in the query.
//! - It returns a short-lived user token (hours); Switchboard exchanges it at once for a
//!   long-lived one (`grant_type=fb_exchange_token`, ~60 days). There are no refresh tokens: when
//!   the long-lived token ends, the person reconnects.
//! - Errors use Meta's `{"error":{"code","error_subcode",...}}` envelope, also on OAuth endpoints.
//! - Revocation is `DELETE /me/permissions` with the user token.

use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use switchboard_core::{PlatformSpec, TokenSet};

use crate::{tokens, ClientCredentials, OAuthClient, OAuthError, Revocation};

/// Exchanges a (short-lived) user token for a long-lived one.
///
/// # Errors
/// [`OAuthError::Platform`]: Meta refuses expired tokens (190/463).
pub async fn long_lived(
    oc: &OAuthClient,
    spec: &PlatformSpec,
    creds: &ClientCredentials,
    user_token: &SecretString,
) -> Result<TokenSet, OAuthError> {
    let url = spec
        .endpoints
        .long_lived_url
        .as_deref()
        .unwrap_or(&spec.endpoints.token_url);
    tokens::get_json_token(
        oc,
        spec,
        "exchange",
        url,
        &[
            ("grant_type", "fb_exchange_token"),
            ("client_id", &creds.client_id),
            ("client_secret", creds.secret()),
            ("fb_exchange_token", user_token.expose_secret()),
        ],
    )
    .await
}

pub(crate) async fn exchange_code(
    oc: &OAuthClient,
    spec: &PlatformSpec,
    creds: &ClientCredentials,
    code: &str,
    redirect_uri: &str,
) -> Result<TokenSet, OAuthError> {
    let short = tokens::get_json_token(
        oc,
        spec,
        "token",
        &spec.endpoints.token_url,
        &[
            ("client_id", creds.client_id.as_str()),
            ("redirect_uri", redirect_uri),
            ("client_secret", creds.secret()),
            ("code", code),
        ],
    )
    .await?;
    let mut long = long_lived(oc, spec, creds, &short.access_token).await?;
    if long.scopes.is_empty() {
        long.scopes = short.scopes;
    }
    Ok(long)
}

pub(crate) async fn revoke(
    oc: &OAuthClient,
    spec: &PlatformSpec,
    access_token: &SecretString,
) -> Result<Revocation, OAuthError> {
    let Some(url) = &spec.endpoints.revocation_url else {
        return Ok(Revocation::NotSupported);
    };
    let req = oc
        .http
        .request(Method::DELETE, url)
        .bearer_auth(access_token.expose_secret());
    let raw = oc.http.send(spec, "revoke", req).await?;
    if !raw.status.is_success() {
        return Err(raw.error(spec));
    }
    Ok(Revocation::Revoked)
}

/// Most result pages followed per Graph list (`/me/accounts`, `/me/businesses`, a Business's
/// Pages; 25 items per page by default, so this covers thousands).
const MAX_ACCOUNT_PAGES: usize = 100;

/// A Facebook Page the person manages, as `GET /me/accounts` (or a Business's Page list)
/// lists it.
#[derive(Debug, Clone)]
pub struct ManagedPage {
    /// The Page id.
    pub id: String,
    /// The Page name.
    pub name: String,
    /// What the person may do on the Page (`CREATE_CONTENT`, `MANAGE`, ...).
    pub tasks: Vec<String>,
    /// The Page access token. Obtained with a long-lived user token it does not expire; it is
    /// invalidated by a password change or the loss of the person's role on the Page
    /// (PLATFORMS.md §3).
    pub access_token: SecretString,
}

/// The Graph API root of the catalog entry (`https://graph.facebook.com/vNN.N`).
fn graph_base(spec: &PlatformSpec) -> Result<&str, OAuthError> {
    spec.endpoints
        .api_base_url
        .as_deref()
        .map(|u| u.trim_end_matches('/'))
        .ok_or_else(|| OAuthError::Config(format!("{} has no api_base_url", spec.id)))
}

/// Lists the Pages the person can publish to, with a Page access token each, with the
/// **long-lived** user token (so the Page tokens do not expire), following `paging.next`:
///
/// 1. `GET {graph}/me/accounts?fields=id,name,access_token,tasks`: Pages the person has a role
///    on (PLATFORMS.md §3).
/// 2. Pages reached through a Business portfolio are not in that list: `GET
///    {graph}/me/businesses?fields=id,name`, then for each Business `GET
///    {graph}/{business-id}/owned_pages` and `/client_pages` with the same fields (User and
///    Business node edges, `shared/reference/meta/{User,Business}.json`; Meta requires
///    `business_management` for Pages whose role comes through Business Manager,
///    <https://developers.facebook.com/docs/pages-api/overview>). Without that permission
///    (Graph `(#200)`/`(#100)`/`(#10)` on `/me/businesses`) only the first list counts.
///
/// Pages are deduplicated by id (first seen wins); a Business Page listed without an
/// `access_token` (no task of this person on it) is left out.
///
/// # Errors
/// [`OAuthError::Platform`] with Meta's diagnosis (190 = the user token no longer works,
/// 200 = `pages_show_list` not granted), [`OAuthError::Network`] when Graph does not answer.
pub async fn managed_pages(
    oc: &OAuthClient,
    spec: &PlatformSpec,
    user_token: &SecretString,
) -> Result<Vec<ManagedPage>, OAuthError> {
    let base = graph_base(spec)?;
    let mut out = Vec::new();
    read_pages(
        oc,
        spec,
        user_token,
        format!("{base}/me/accounts?fields={PAGE_FIELDS}"),
        true,
        &mut out,
    )
    .await?;
    for business in businesses(oc, spec, user_token).await? {
        let id: String = url::form_urlencoded::byte_serialize(business.as_bytes()).collect();
        for edge in ["owned_pages", "client_pages"] {
            read_pages(
                oc,
                spec,
                user_token,
                format!("{base}/{id}/{edge}?fields={PAGE_FIELDS}"),
                false,
                &mut out,
            )
            .await?;
        }
    }
    Ok(out)
}

/// The Page fields read from every Page list.
const PAGE_FIELDS: &str = "id,name,access_token,tasks";

/// Whether a Graph error says a permission is missing (`(#10)`, `(#200)`-`(#299)`, or a
/// review-gated one).
fn is_permission_error(d: &switchboard_core::Diagnosis) -> bool {
    matches!(
        d.category,
        switchboard_core::Category::InsufficientScope | switchboard_core::Category::AppNotApproved
    )
}

/// The ids of the Business portfolios the person has a role in (`GET /me/businesses`), or none
/// when `business_management` was not granted.
async fn businesses(
    oc: &OAuthClient,
    spec: &PlatformSpec,
    user_token: &SecretString,
) -> Result<Vec<String>, OAuthError> {
    let mut url = format!("{}/me/businesses?fields=id,name", graph_base(spec)?);
    let mut out = Vec::new();
    for _ in 0..MAX_ACCOUNT_PAGES {
        let req = oc
            .http
            .request(Method::GET, &url)
            .bearer_auth(user_token.expose_secret());
        let raw = oc.http.send(spec, "businesses", req).await?;
        if !raw.status.is_success() {
            return match raw.error(spec) {
                OAuthError::Platform(d) if is_permission_error(&d) => Ok(out),
                e => Err(e),
            };
        }
        let v = raw.json(spec)?;
        let Some(items) = v.get("data").and_then(serde_json::Value::as_array) else {
            return Err(unreadable(spec, "the Business list has no `data` list"));
        };
        out.extend(
            items
                .iter()
                .filter_map(|b| b.get("id").and_then(serde_json::Value::as_str))
                .map(str::to_string),
        );
        match v
            .pointer("/paging/next")
            .and_then(serde_json::Value::as_str)
        {
            Some(next) if !items.is_empty() => url = next.to_string(),
            _ => break,
        }
    }
    out.dedup();
    Ok(out)
}

/// Reads one Graph list of Pages into `out`, following `paging.next`, skipping Pages already
/// there. `token_required`: a listed Page without `access_token` is an unreadable answer
/// (`/me/accounts` always gives one); otherwise it is skipped.
async fn read_pages(
    oc: &OAuthClient,
    spec: &PlatformSpec,
    user_token: &SecretString,
    mut url: String,
    token_required: bool,
    out: &mut Vec<ManagedPage>,
) -> Result<(), OAuthError> {
    for _ in 0..MAX_ACCOUNT_PAGES {
        let req = oc
            .http
            .request(Method::GET, &url)
            .bearer_auth(user_token.expose_secret());
        let raw = oc.http.send(spec, "pages", req).await?;
        if !raw.status.is_success() {
            return Err(raw.error(spec));
        }
        let v = raw.json(spec)?;
        let Some(items) = v.get("data").and_then(serde_json::Value::as_array) else {
            return Err(unreadable(spec, "its answer has no `data` list"));
        };
        for item in items {
            let text = |k: &str| item.get(k).and_then(serde_json::Value::as_str);
            let (Some(id), Some(token)) = (text("id"), text("access_token")) else {
                if token_required {
                    return Err(unreadable(
                        spec,
                        "a listed Page has no `id` or `access_token`",
                    ));
                }
                continue;
            };
            if out.iter().any(|p| p.id == id) {
                continue;
            }
            out.push(ManagedPage {
                id: id.to_string(),
                name: text("name").unwrap_or(id).to_string(),
                tasks: item
                    .get("tasks")
                    .and_then(serde_json::Value::as_array)
                    .map(|t| {
                        t.iter()
                            .filter_map(|x| x.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default(),
                access_token: SecretString::from(token.to_string()),
            });
        }
        match v
            .pointer("/paging/next")
            .and_then(serde_json::Value::as_str)
        {
            Some(next) if !items.is_empty() => url = next.to_string(),
            _ => return Ok(()),
        }
    }
    Ok(())
}

/// Checks a Page access token with a live call: `GET {graph}/{page-id}?fields=id,name` with the
/// Page token. Returns the Page's current name.
///
/// # Errors
/// [`OAuthError::Platform`] with Meta's diagnosis: code 190 (subcode 460 password changed,
/// 467 invalid, 458 app removed) means the token is dead and the person must act;
/// [`OAuthError::Network`] when Graph does not answer. A token that answers for another Page
/// than `page_id` is reported as invalid.
pub async fn check_page_token(
    oc: &OAuthClient,
    spec: &PlatformSpec,
    page_id: &str,
    page_token: &SecretString,
) -> Result<Option<String>, OAuthError> {
    let url = format!(
        "{}/{}?fields=id,name",
        graph_base(spec)?,
        url::form_urlencoded::byte_serialize(page_id.as_bytes()).collect::<String>()
    );
    let req = oc
        .http
        .request(Method::GET, &url)
        .bearer_auth(page_token.expose_secret());
    let raw = oc.http.send(spec, "page", req).await?;
    if !raw.status.is_success() {
        return Err(raw.error(spec));
    }
    let v = raw.json(spec)?;
    if v.get("id").and_then(serde_json::Value::as_str) != Some(page_id) {
        let mut d = switchboard_core::Diagnosis::new(switchboard_core::Category::TokenRevoked);
        d.platform = Some(spec.id.clone());
        d.cause =
            format!("The stored token of Page {page_id} does not belong to that Page any more.");
        return Err(OAuthError::Platform(Box::new(d)));
    }
    Ok(v.get("name")
        .and_then(serde_json::Value::as_str)
        .map(str::to_string))
}

fn unreadable(spec: &PlatformSpec, what: &str) -> OAuthError {
    let mut d = switchboard_core::Diagnosis::new(switchboard_core::Category::Unknown);
    d.platform = Some(spec.id.clone());
    d.cause = format!(
        "{} answered the Pages list in a shape Switchboard does not know: {what}.",
        spec.display_name
    );
    OAuthError::Platform(Box::new(d))
}
