//! Instagram's token quirks (Instagram API with Instagram Login). Source: shared/PLATFORMS.md §4A,
//! <https://developers.facebook.com/docs/instagram-platform/reference/refresh_access_token>.
//!
//! - The code exchange (`POST api.instagram.com/oauth/access_token`, secret in the body) returns
//!   `{access_token, user_id, permissions}` without `token_type` or `expires_in`, sometimes
//!   wrapped in `data[]`; the token lasts one hour.
//! - Switchboard exchanges it at once for a long-lived token (`ig_exchange_token`, 60 days).
//! - There is no refresh token: `ig_refresh_token` exchanges the long-lived access token itself
//!   for a new one, only once it is at least 24 hours old and before it expires.
//! - There is no revocation endpoint.

use chrono::Duration;
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use switchboard_core::{PlatformSpec, TokenSet};

use crate::{tokens, ClientCredentials, CurrentTokens, OAuthClient, OAuthError};

/// The token object: the body, or the first element of its `data` array.
fn token_object(v: &Value) -> &Value {
    match v.pointer("/data/0") {
        Some(d) if d.get("access_token").is_some() => d,
        _ => v,
    }
}

pub(crate) async fn exchange_code(
    oc: &OAuthClient,
    spec: &PlatformSpec,
    creds: &ClientCredentials,
    code: &str,
    redirect_uri: &str,
) -> Result<TokenSet, OAuthError> {
    let form = [
        ("client_id", creds.client_id.as_str()),
        ("client_secret", creds.secret()),
        ("grant_type", "authorization_code"),
        ("redirect_uri", redirect_uri),
        ("code", code),
    ];
    let req = oc
        .http
        .request(Method::POST, &spec.endpoints.token_url)
        .form(&form);
    let raw = oc.http.send(spec, "token", req).await?;
    if !raw.status.is_success() {
        return Err(raw.error(spec));
    }
    let v = raw.json(spec)?;
    let obj = token_object(&v);
    let short = tokens::parse(spec, &raw, obj, oc.now())?;
    let permissions: Vec<String> = match obj.get("permissions") {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        Some(Value::String(s)) => PlatformSpec::split_scopes(s),
        _ => Vec::new(),
    };
    let url = spec
        .endpoints
        .long_lived_url
        .as_deref()
        .ok_or_else(|| OAuthError::Config("instagram long_lived_url missing".into()))?;
    let mut long = tokens::get_json_token(
        oc,
        spec,
        "exchange",
        url,
        &[
            ("grant_type", "ig_exchange_token"),
            ("client_secret", creds.secret()),
            ("access_token", short.access_token.expose_secret()),
        ],
    )
    .await?;
    if long.scopes.is_empty() {
        long.scopes = permissions;
    }
    for (k, v) in short.extra {
        long.extra.entry(k).or_insert(v);
    }
    Ok(long)
}

pub(crate) async fn refresh(
    oc: &OAuthClient,
    spec: &PlatformSpec,
    current: &CurrentTokens<'_>,
) -> Result<TokenSet, OAuthError> {
    if let Some(min) = spec.token.min_refresh_age_secs {
        let ready_at = current.obtained_at + Duration::seconds(min as i64);
        if oc.now() < ready_at {
            return Err(OAuthError::NotPossible(format!(
                "{} refreshes a token only once it is at least {} hours old; this one can be refreshed from {}",
                spec.display_name,
                min / 3600,
                ready_at.to_rfc3339()
            )));
        }
    }
    let url = spec
        .endpoints
        .refresh_url
        .as_deref()
        .ok_or_else(|| OAuthError::Config("instagram refresh_url missing".into()))?;
    let token: &SecretString = current.access_token;
    tokens::get_json_token(
        oc,
        spec,
        "refresh",
        url,
        &[
            ("grant_type", "ig_refresh_token"),
            ("access_token", token.expose_secret()),
        ],
    )
    .await
}
