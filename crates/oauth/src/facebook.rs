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
