//! TikTok's token quirks (Login Kit v2). Source: shared/PLATFORMS.md §5,
//! <https://developers.tiktok.com/doc/oauth-user-access-token-management>.
//!
//! - The client identifier is `client_key`, in the form body next to `client_secret`
//!   (the authorization URL rename is the catalog's `client_id_param`).
//! - Responses are flat (`{access_token, open_id, refresh_token, refresh_expires_in, ...}`) on v2,
//!   and have been nested under `data` (v1, and some gateways): both are read.
//! - Refresh tokens rotate: each refresh returns a new one and the old one stops working.
//! - Revocation is `POST /v2/oauth/revoke/` with `client_key`, `client_secret`, `token`.

use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use switchboard_core::{PlatformSpec, TokenSet};

use crate::http::RawResponse;
use crate::{tokens, ClientCredentials, CurrentTokens, OAuthClient, OAuthError, Revocation};

/// The token object of a TikTok answer: the body itself, or its `data` when nested.
fn token_object(v: &Value) -> &Value {
    match v.get("data") {
        Some(d) if d.get("access_token").is_some() => d,
        _ => v,
    }
}

async fn post_token(
    oc: &OAuthClient,
    spec: &PlatformSpec,
    what: &'static str,
    form: &[(&str, &str)],
) -> Result<TokenSet, OAuthError> {
    let req = oc
        .http
        .request(Method::POST, &spec.endpoints.token_url)
        .header("Cache-Control", "no-cache")
        .form(form);
    let raw: RawResponse = oc.http.send(spec, what, req).await?;
    if !raw.status.is_success() {
        return Err(raw.error(spec));
    }
    let v = raw.json(spec)?;
    tokens::parse(spec, &raw, token_object(&v), oc.now())
}

pub(crate) async fn exchange_code(
    oc: &OAuthClient,
    spec: &PlatformSpec,
    creds: &ClientCredentials,
    code: &str,
    redirect_uri: &str,
    code_verifier: Option<&SecretString>,
) -> Result<TokenSet, OAuthError> {
    let mut form = vec![
        ("client_key", creds.client_id.as_str()),
        ("client_secret", creds.secret()),
        ("code", code),
        ("grant_type", "authorization_code"),
        ("redirect_uri", redirect_uri),
    ];
    if let Some(v) = code_verifier {
        form.push(("code_verifier", v.expose_secret()));
    }
    post_token(oc, spec, "token", &form).await
}

pub(crate) async fn refresh(
    oc: &OAuthClient,
    spec: &PlatformSpec,
    creds: &ClientCredentials,
    current: &CurrentTokens<'_>,
) -> Result<TokenSet, OAuthError> {
    let rt = current
        .refresh_token
        .ok_or_else(|| OAuthError::NotPossible("no refresh token".into()))?;
    let form = [
        ("client_key", creds.client_id.as_str()),
        ("client_secret", creds.secret()),
        ("grant_type", "refresh_token"),
        ("refresh_token", rt.expose_secret()),
    ];
    post_token(oc, spec, "refresh", &form).await
}

pub(crate) async fn revoke(
    oc: &OAuthClient,
    spec: &PlatformSpec,
    creds: &ClientCredentials,
    access_token: &SecretString,
) -> Result<Revocation, OAuthError> {
    let Some(url) = &spec.endpoints.revocation_url else {
        return Ok(Revocation::NotSupported);
    };
    let form = [
        ("client_key", creds.client_id.as_str()),
        ("client_secret", creds.secret()),
        ("token", access_token.expose_secret()),
    ];
    let req = oc.http.request(Method::POST, url).form(&form);
    let raw = oc.http.send(spec, "revoke", req).await?;
    if !raw.status.is_success() {
        return Err(raw.error(spec));
    }
    // TikTok can answer 200 with an error envelope.
    if let Ok(v) = serde_json::from_slice::<Value>(&raw.body) {
        let code = v.pointer("/error/code").and_then(Value::as_str);
        if v.get("error").and_then(Value::as_str).is_some() || code.is_some_and(|c| c != "ok") {
            return Err(raw.error(spec));
        }
    }
    Ok(Revocation::Revoked)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_and_flat_shapes() {
        let flat: Value = serde_json::json!({"access_token":"a","open_id":"o"});
        assert_eq!(token_object(&flat), &flat);
        let nested: Value = serde_json::json!({"data":{"access_token":"a"},"message":"success"});
        assert_eq!(token_object(&nested)["access_token"], "a");
    }
}
