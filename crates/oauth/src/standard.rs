//! RFC 6749 platforms through the `oauth2` crate: X, LinkedIn, YouTube (Google), Pinterest and
//! every custom provider. The authorization URL of every platform is built here too; TikTok's
//! `client_key` is the catalog's `client_id_param`, applied as a rename.

use std::sync::Mutex;

use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
    BasicTokenType,
};
use oauth2::{
    AccessToken, AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken,
    EndpointMaybeSet, EndpointNotSet, EndpointSet, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, RefreshToken, RequestTokenError, RevocationUrl, Scope, StandardRevocableToken,
    TokenUrl,
};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use switchboard_core::catalog::ClientAuth;
use switchboard_core::{PlatformSpec, TokenSet};

use crate::http::RawResponse;
use crate::{
    tokens, AuthorizationStart, ClientCredentials, CurrentTokens, OAuthClient, OAuthError,
    Revocation,
};

/// A token endpoint's answer as the platform sent it: every field kept for [`tokens::parse`].
///
/// The `oauth2` crate's `StandardTokenResponse` requires `token_type` (RFC 6749 §5.1), but
/// LinkedIn leaves it out of both the code exchange and the refresh answers (the examples of
/// <https://learn.microsoft.com/en-us/linkedin/shared/authentication/authorization-code-flow>
/// and <https://learn.microsoft.com/en-us/linkedin/shared/authentication/programmatic-refresh-tokens>
/// are `{access_token, expires_in, [refresh_token, refresh_token_expires_in,] scope}`). Only a
/// non-empty `access_token` string is required here; an absent `token_type` reads as `Bearer`,
/// the only kind these platforms issue. Serializing gives back the fields as received.
#[derive(Clone, Serialize, Deserialize)]
#[serde(
    try_from = "serde_json::Map<String, serde_json::Value>",
    into = "serde_json::Map<String, serde_json::Value>"
)]
pub struct TokenResponse {
    fields: serde_json::Map<String, serde_json::Value>,
    access_token: AccessToken,
    token_type: BasicTokenType,
}

/// Field names only: the values hold the tokens.
impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("fields", &self.fields.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl TryFrom<serde_json::Map<String, serde_json::Value>> for TokenResponse {
    type Error = String;

    fn try_from(fields: serde_json::Map<String, serde_json::Value>) -> Result<Self, String> {
        let access_token = match fields.get("access_token") {
            Some(serde_json::Value::String(s)) if !s.is_empty() => AccessToken::new(s.clone()),
            _ => return Err("the token response has no access_token string".into()),
        };
        let token_type = match fields.get("token_type").and_then(|t| t.as_str()) {
            None => BasicTokenType::Bearer,
            Some(t) if t.eq_ignore_ascii_case("bearer") => BasicTokenType::Bearer,
            Some(t) if t.eq_ignore_ascii_case("mac") => BasicTokenType::Mac,
            Some(t) => BasicTokenType::Extension(t.to_string()),
        };
        Ok(TokenResponse {
            fields,
            access_token,
            token_type,
        })
    }
}

impl From<TokenResponse> for serde_json::Map<String, serde_json::Value> {
    fn from(r: TokenResponse) -> Self {
        r.fields
    }
}

impl oauth2::TokenResponse for TokenResponse {
    type TokenType = BasicTokenType;

    fn access_token(&self) -> &AccessToken {
        &self.access_token
    }
    fn token_type(&self) -> &BasicTokenType {
        &self.token_type
    }
    // Lifetimes, refresh token and scopes are read by `tokens::parse` from the fields, in every
    // shape the platforms use; the crate needs none of them.
    fn expires_in(&self) -> Option<std::time::Duration> {
        None
    }
    fn refresh_token(&self) -> Option<&RefreshToken> {
        None
    }
    fn scopes(&self) -> Option<&Vec<Scope>> {
        None
    }
}

type TokenClient = oauth2::Client<
    BasicErrorResponse,
    TokenResponse,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointSet,
>;

fn config_err(what: &str, e: impl std::fmt::Display) -> OAuthError {
    OAuthError::Config(format!("{what}: {e}"))
}

/// Builds the authorization URL for any platform (see [`OAuthClient::authorization_start`]).
pub(crate) fn authorization_start(
    spec: &PlatformSpec,
    creds: &ClientCredentials,
    redirect_uri: &str,
    scopes: &[String],
) -> Result<AuthorizationStart, OAuthError> {
    let client = oauth2::basic::BasicClient::new(ClientId::new(creds.client_id.clone()))
        .set_auth_uri(
            AuthUrl::new(spec.endpoints.authorization_url.clone())
                .map_err(|e| config_err("authorization_url", e))?,
        )
        .set_redirect_uri(
            RedirectUrl::new(redirect_uri.to_string())
                .map_err(|e| config_err("redirect_uri", e))?,
        );
    let mut req = client.authorize_url(|| CsrfToken::new_random_len(32));
    if !scopes.is_empty() {
        // One pre-joined scope keeps the platform's separator (the crate joins with spaces).
        req = req.add_scope(Scope::new(spec.join_scopes(scopes)));
    }
    let mut verifier = None;
    if spec.pkce.is_sent() {
        let (challenge, v) = PkceCodeChallenge::new_random_sha256();
        req = req.set_pkce_challenge(challenge);
        verifier = Some(SecretString::from(v.secret().clone()));
    }
    for (k, v) in &spec.authorization_params {
        req = req.add_extra_param(k.clone(), v.clone());
    }
    let (mut url, state) = req.url();
    if spec.client_id_param != "client_id" {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| {
                let k = if k == "client_id" {
                    spec.client_id_param.clone()
                } else {
                    k.into_owned()
                };
                (k, v.into_owned())
            })
            .collect();
        url.query_pairs_mut().clear().extend_pairs(pairs);
    }
    Ok(AuthorizationStart {
        url: url.to_string(),
        state: SecretString::from(state.secret().clone()),
        code_verifier: verifier,
    })
}

fn token_client(
    spec: &PlatformSpec,
    creds: &ClientCredentials,
    redirect_uri: Option<&str>,
) -> Result<TokenClient, OAuthError> {
    let mut client = oauth2::Client::new(ClientId::new(creds.client_id.clone()))
        .set_token_uri(
            TokenUrl::new(spec.endpoints.token_url.clone())
                .map_err(|e| config_err("token_url", e))?,
        )
        .set_revocation_url_option(
            spec.endpoints
                .revocation_url
                .clone()
                .map(RevocationUrl::new)
                .transpose()
                .map_err(|e| config_err("revocation_url", e))?,
        )
        .set_auth_type(match spec.client_auth {
            ClientAuth::ClientSecretBasic => AuthType::BasicAuth,
            _ => AuthType::RequestBody,
        });
    if let Some(secret) = &creds.client_secret {
        if spec.client_auth != ClientAuth::None {
            client =
                client.set_client_secret(ClientSecret::new(secret.expose_secret().to_string()));
        }
    }
    if let Some(r) = redirect_uri {
        client = client.set_redirect_uri(
            RedirectUrl::new(r.to_string()).map_err(|e| config_err("redirect_uri", e))?,
        );
    }
    Ok(client)
}

/// Sends the `oauth2` crate's requests through [`crate::PlatformHttp`] and keeps the last raw
/// answer, so that an error is diagnosed from the platform's own status and body rather than
/// from the crate's parse error.
struct Recorder<'a> {
    oc: &'a OAuthClient,
    spec: &'a PlatformSpec,
    what: &'static str,
    last: Mutex<Option<RawResponse>>,
}

impl<'a> Recorder<'a> {
    fn new(oc: &'a OAuthClient, spec: &'a PlatformSpec, what: &'static str) -> Self {
        Recorder {
            oc,
            spec,
            what,
            last: Mutex::new(None),
        }
    }

    async fn send(&self, req: oauth2::HttpRequest) -> Result<oauth2::HttpResponse, OAuthError> {
        let (parts, body) = req.into_parts();
        let rb = self
            .oc
            .http
            .request(parts.method, &parts.uri.to_string())
            .headers(parts.headers)
            .body(body);
        let raw = self.oc.http.send(self.spec, self.what, rb).await?;
        let mut builder = http::Response::builder().status(raw.status);
        for (k, v) in &raw.headers {
            builder = builder.header(k, v);
        }
        let resp = builder
            .body(raw.body.clone())
            .map_err(|e| OAuthError::Config(format!("response conversion: {e}")))?;
        if let Ok(mut slot) = self.last.lock() {
            *slot = Some(raw);
        }
        Ok(resp)
    }

    fn error<TE: oauth2::ErrorResponse>(&self, e: RequestTokenError<OAuthError, TE>) -> OAuthError {
        match e {
            RequestTokenError::Request(e) => e,
            other => match self.last.lock().ok().and_then(|mut s| s.take()) {
                Some(raw) => raw.error(self.spec),
                None => OAuthError::Config(format!("{}: {other}", self.what)),
            },
        }
    }
}

/// A concrete client type (rather than a closure) keeps the futures provably `Send`.
impl<'c> oauth2::AsyncHttpClient<'c> for Recorder<'_> {
    type Error = OAuthError;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<oauth2::HttpResponse, OAuthError>> + Send + 'c>,
    >;

    fn call(&'c self, request: oauth2::HttpRequest) -> Self::Future {
        Box::pin(self.send(request))
    }
}

fn to_token_set(
    oc: &OAuthClient,
    spec: &PlatformSpec,
    resp: &TokenResponse,
) -> Result<TokenSet, OAuthError> {
    let value = serde_json::to_value(resp)
        .map_err(|e| OAuthError::Config(format!("token response conversion: {e}")))?;
    let raw = RawResponse {
        status: reqwest::StatusCode::OK,
        headers: Default::default(),
        body: Vec::new(),
        received_at: oc.now(),
        call: "token",
    };
    tokens::parse(spec, &raw, &value, oc.now())
}

pub(crate) async fn exchange_code(
    oc: &OAuthClient,
    spec: &PlatformSpec,
    creds: &ClientCredentials,
    code: &str,
    redirect_uri: &str,
    code_verifier: Option<&SecretString>,
) -> Result<TokenSet, OAuthError> {
    let client = token_client(spec, creds, Some(redirect_uri))?;
    let rec = Recorder::new(oc, spec, "token");
    let mut req = client.exchange_code(AuthorizationCode::new(code.to_string()));
    if let Some(v) = code_verifier {
        req = req.set_pkce_verifier(PkceCodeVerifier::new(v.expose_secret().to_string()));
    }
    let resp = req.request_async(&rec).await.map_err(|e| rec.error(e))?;
    to_token_set(oc, spec, &resp)
}

pub(crate) async fn refresh(
    oc: &OAuthClient,
    spec: &PlatformSpec,
    creds: &ClientCredentials,
    current: &CurrentTokens<'_>,
) -> Result<TokenSet, OAuthError> {
    let Some(rt) = current.refresh_token else {
        return Err(OAuthError::NotPossible("no refresh token".into()));
    };
    let client = token_client(spec, creds, None)?;
    let rt = RefreshToken::new(rt.expose_secret().to_string());
    let rec = Recorder::new(oc, spec, "refresh");
    let mut req = client.exchange_refresh_token(&rt);
    for (k, v) in &spec.token.refresh_params {
        req = req.add_extra_param(k.clone(), v.clone());
    }
    let resp = req.request_async(&rec).await.map_err(|e| rec.error(e))?;
    to_token_set(oc, spec, &resp)
}

/// RFC 7009 revocation. Written here rather than with the `oauth2` crate, which refuses
/// non-HTTPS revocation endpoints (the sandbox and local test servers are plain HTTP).
pub(crate) async fn revoke(
    oc: &OAuthClient,
    spec: &PlatformSpec,
    creds: &ClientCredentials,
    access_token: &SecretString,
    refresh_token: Option<&SecretString>,
) -> Result<Revocation, OAuthError> {
    let Some(url) = &spec.endpoints.revocation_url else {
        return Ok(Revocation::NotSupported);
    };
    // Revoking the refresh token ends the grant (RFC 7009 §2.1); the access token is revoked too
    // because some platforms keep it valid until it expires otherwise.
    let mut tokens = Vec::new();
    if let Some(rt) = refresh_token {
        tokens.push((rt, "refresh_token"));
    }
    tokens.push((access_token, "access_token"));
    for (i, (token, hint)) in tokens.into_iter().enumerate() {
        let mut form = vec![("token", token.expose_secret()), ("token_type_hint", hint)];
        let mut req = oc.http.request(reqwest::Method::POST, url);
        match spec.client_auth {
            ClientAuth::ClientSecretBasic => {
                // RFC 6749 §2.3.1: both parts are form-urlencoded before base64.
                let user = form_urlencode(&creds.client_id);
                let pass = form_urlencode(creds.secret());
                req = req.basic_auth(user, Some(pass));
            }
            ClientAuth::None => form.push(("client_id", creds.client_id.as_str())),
            _ => {
                form.push(("client_id", creds.client_id.as_str()));
                form.push(("client_secret", creds.secret()));
            }
        }
        let raw = oc.http.send(spec, "revoke", req.form(&form)).await?;
        if !raw.status.is_success() {
            let err = raw.error(spec);
            if i == 0 {
                return Err(err);
            }
            // The first revocation decides: many platforms end the whole grant with it and then
            // refuse the second token as already invalid.
            tracing::debug!(platform = %spec.id, error = %err, "second revocation refused after the grant ended");
        }
    }
    Ok(Revocation::Revoked)
}

fn form_urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use oauth2::TokenResponse as _;

    #[test]
    fn token_answers_without_token_type_are_read() {
        // LinkedIn's example answers (authorization-code-flow, programmatic-refresh-tokens).
        for body in [
            r#"{"access_token":"AQUvlL_DYEzvT2wz1QJiEPeLioeA","expires_in":5184000,"scope":"r_basicprofile"}"#,
            r#"{"access_token":"BBBB","expires_in":86400,"refresh_token":"CCCC","refresh_token_expires_in":525600,"scope":"r_basicprofile"}"#,
        ] {
            let r: TokenResponse = serde_json::from_str(body).expect(body);
            assert_eq!(r.token_type(), &BasicTokenType::Bearer);
            // The fields go on to `tokens::parse` as received, token_type still absent.
            let back = serde_json::to_value(&r).unwrap();
            assert_eq!(
                back,
                serde_json::from_str::<serde_json::Value>(body).unwrap()
            );
        }
        let r: TokenResponse =
            serde_json::from_str(r#"{"access_token":"a","token_type":"bearer"}"#).unwrap();
        assert_eq!(r.access_token().secret(), "a");
        assert_eq!(r.token_type(), &BasicTokenType::Bearer);
        for bad in [
            r#"{"expires_in":5}"#,
            r#"{"access_token":""}"#,
            r#"{"access_token":7}"#,
        ] {
            assert!(serde_json::from_str::<TokenResponse>(bad).is_err(), "{bad}");
        }
    }
}
