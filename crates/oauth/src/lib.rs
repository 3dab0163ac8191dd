//! The OAuth 2.0 client of Switchboard.
//!
//! [`OAuthClient`] runs every token-related call for every platform in the catalog: the
//! authorization URL with `state` and PKCE (RFC 7636, S256), the authorization_code exchange,
//! refresh, revocation (RFC 7009) and the profile call that identifies the connected account.
//!
//! Standards-compliant platforms and custom providers go through the `oauth2` crate
//! ([`standard`]). Platforms that depart from RFC 6749 have one module each, holding all of that
//! platform's token quirks: [`tiktok`] (`client_key`, nested responses), [`facebook`] (GET code
//! exchange, long-lived user tokens), [`instagram`] (`ig_exchange_token`, `ig_refresh_token`).
//!
//! Every failure is an [`OAuthError`] carrying a [`Diagnosis`]; no error message contains a
//! token, a client secret or a URL query.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use switchboard_core::catalog::{Flavor, RefreshKind};
use switchboard_core::{Clock, Diagnosis, PlatformSpec, TokenSet};

pub mod checks;
pub mod facebook;
pub mod http;
pub mod instagram;
pub mod outbound;
pub mod profile;
pub mod rate_limit;
pub mod standard;
pub mod tiktok;
pub mod tokens;

pub use http::PlatformHttp;
pub use profile::Profile;

/// A platform app's credentials. The secret never shows in `Debug` output.
#[derive(Debug, Clone)]
pub struct ClientCredentials {
    /// The client identifier (`client_key` on TikTok).
    pub client_id: String,
    /// The client secret; `None` for public clients.
    pub client_secret: Option<SecretString>,
}

impl ClientCredentials {
    /// Credentials with a secret.
    pub fn new(client_id: impl Into<String>, client_secret: impl Into<String>) -> Self {
        ClientCredentials {
            client_id: client_id.into(),
            client_secret: Some(SecretString::from(client_secret.into())),
        }
    }

    pub(crate) fn secret(&self) -> &str {
        self.client_secret
            .as_ref()
            .map(|s| s.expose_secret())
            .unwrap_or_default()
    }
}

/// The start of an authorization: the URL to send the browser to, and the values that must be
/// kept server-side until the callback.
#[derive(Debug)]
pub struct AuthorizationStart {
    /// The platform's authorization URL with every parameter.
    pub url: String,
    /// The `state` value (256 random bits, base64url).
    pub state: SecretString,
    /// The PKCE code_verifier, when the platform takes PKCE. Never sent to the browser.
    pub code_verifier: Option<SecretString>,
}

/// The tokens a refresh starts from.
#[derive(Debug)]
pub struct CurrentTokens<'a> {
    /// The current access token (Instagram refreshes with it).
    pub access_token: &'a SecretString,
    /// The current refresh token, when there is one.
    pub refresh_token: Option<&'a SecretString>,
    /// When the current access token was issued.
    pub obtained_at: DateTime<Utc>,
}

/// The outcome of a revocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revocation {
    /// The platform confirmed the revocation.
    Revoked,
    /// The platform has no revocation endpoint; the tokens stay valid until they expire.
    NotSupported,
}

/// A failed OAuth call, with its diagnosis.
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    /// The platform answered, with an error or with a body that cannot be read.
    #[error("{}", .0.summary())]
    Platform(Box<Diagnosis>),
    /// No answer: connection refused, DNS, timeout, broken body.
    #[error("{}", .0.summary())]
    Network(Box<Diagnosis>),
    /// Switchboard's own configuration is wrong (bad endpoint URL, missing credentials).
    #[error("configuration error: {0}")]
    Config(String),
    /// The platform cannot do what was asked (refresh with no refresh token, too early...).
    #[error("{0}")]
    NotPossible(String),
}

impl OAuthError {
    /// The diagnosis of this failure.
    pub fn diagnosis(&self) -> Diagnosis {
        match self {
            OAuthError::Platform(d) | OAuthError::Network(d) => (**d).clone(),
            OAuthError::Config(msg) => {
                let mut d = Diagnosis::new(switchboard_core::Category::InvalidClient);
                d.cause =
                    format!("Switchboard's configuration for this platform is incomplete: {msg}");
                d
            }
            OAuthError::NotPossible(msg) => {
                let mut d = Diagnosis::new(switchboard_core::Category::InvalidRequest);
                d.cause = msg.clone();
                d
            }
        }
    }

    /// True for failures worth retrying later (network, 5xx, rate limits).
    pub fn is_transient(&self) -> bool {
        match self {
            OAuthError::Platform(d) | OAuthError::Network(d) => d.retryable,
            _ => false,
        }
    }
}

/// The OAuth 2.0 client for all platforms.
#[derive(Debug, Clone)]
pub struct OAuthClient {
    pub(crate) http: PlatformHttp,
    pub(crate) clock: Arc<dyn Clock>,
}

impl OAuthClient {
    /// A client whose platform calls time out after `timeout`.
    pub fn new(timeout: Duration, clock: Arc<dyn Clock>) -> Self {
        OAuthClient {
            http: PlatformHttp::new(timeout, clock.clone()),
            clock,
        }
    }

    /// The same client, with user-given URLs (media) allowed to reach `allowed` although
    /// private ([`outbound`]).
    pub fn with_allowed_origins(mut self, allowed: outbound::AllowedOrigins) -> Self {
        self.http = self.http.with_allowed_origins(allowed);
        self
    }

    /// The HTTP client, shared with the publishing clients.
    pub fn http(&self) -> &PlatformHttp {
        &self.http
    }

    /// Builds the authorization URL with a fresh `state` and, where the platform takes PKCE, a
    /// fresh S256 code challenge. `scopes` are joined with the platform's separator.
    ///
    /// # Errors
    /// [`OAuthError::Config`] when an endpoint URL or the redirect URI is not a valid URL.
    pub fn authorization_start(
        &self,
        spec: &PlatformSpec,
        creds: &ClientCredentials,
        redirect_uri: &str,
        scopes: &[String],
    ) -> Result<AuthorizationStart, OAuthError> {
        standard::authorization_start(spec, creds, redirect_uri, scopes)
    }

    /// Exchanges an authorization code for tokens. On Facebook and Instagram the short-lived
    /// token is exchanged for a long-lived one before returning.
    ///
    /// # Errors
    /// [`OAuthError::Platform`] with the platform's error diagnosed, [`OAuthError::Network`].
    pub async fn exchange_code(
        &self,
        spec: &PlatformSpec,
        creds: &ClientCredentials,
        code: &str,
        redirect_uri: &str,
        code_verifier: Option<&SecretString>,
    ) -> Result<TokenSet, OAuthError> {
        match spec.flavor {
            Flavor::Standard => {
                standard::exchange_code(self, spec, creds, code, redirect_uri, code_verifier).await
            }
            Flavor::Tiktok => {
                tiktok::exchange_code(self, spec, creds, code, redirect_uri, code_verifier).await
            }
            Flavor::Facebook => {
                facebook::exchange_code(self, spec, creds, code, redirect_uri).await
            }
            Flavor::Instagram => {
                instagram::exchange_code(self, spec, creds, code, redirect_uri).await
            }
        }
    }

    /// Renews the access token. A response without a new refresh token leaves
    /// `refresh_token` as `None`: the caller keeps the stored one.
    ///
    /// # Errors
    /// [`OAuthError::NotPossible`] when the platform cannot refresh this connection (no refresh
    /// token, or Instagram's 24-hour minimum age); otherwise as [`OAuthClient::exchange_code`].
    pub async fn refresh(
        &self,
        spec: &PlatformSpec,
        creds: &ClientCredentials,
        current: &CurrentTokens<'_>,
    ) -> Result<TokenSet, OAuthError> {
        match spec.token.refresh {
            RefreshKind::None => {
                return Err(OAuthError::NotPossible(format!(
                    "{} issues no refresh tokens: the person must reconnect when the access token expires",
                    spec.display_name
                )))
            }
            RefreshKind::Static | RefreshKind::Rotating if current.refresh_token.is_none() => {
                return Err(OAuthError::NotPossible(format!(
                    "{} did not issue a refresh token for this connection: the person must reconnect when the access token expires",
                    spec.display_name
                )))
            }
            _ => {}
        }
        match spec.flavor {
            Flavor::Standard => standard::refresh(self, spec, creds, current).await,
            Flavor::Tiktok => tiktok::refresh(self, spec, creds, current).await,
            Flavor::Instagram => instagram::refresh(self, spec, current).await,
            Flavor::Facebook => Err(OAuthError::NotPossible(
                "Facebook user tokens cannot be refreshed; the person must reconnect".into(),
            )),
        }
    }

    /// Revokes the grant at the platform, where the platform has a revocation endpoint.
    ///
    /// # Errors
    /// As [`OAuthClient::exchange_code`].
    pub async fn revoke(
        &self,
        spec: &PlatformSpec,
        creds: &ClientCredentials,
        access_token: &SecretString,
        refresh_token: Option<&SecretString>,
    ) -> Result<Revocation, OAuthError> {
        if spec.endpoints.revocation_url.is_none() {
            return Ok(Revocation::NotSupported);
        }
        match spec.flavor {
            Flavor::Standard => {
                standard::revoke(self, spec, creds, access_token, refresh_token).await
            }
            Flavor::Tiktok => tiktok::revoke(self, spec, creds, access_token).await,
            Flavor::Facebook => facebook::revoke(self, spec, access_token).await,
            Flavor::Instagram => Ok(Revocation::NotSupported),
        }
    }

    /// Identifies the account the access token belongs to.
    ///
    /// # Errors
    /// As [`OAuthClient::exchange_code`]; also [`OAuthError::Platform`] when the answer lacks the
    /// account id at the catalog's pointer.
    pub async fn fetch_profile(
        &self,
        spec: &PlatformSpec,
        access_token: &SecretString,
    ) -> Result<Profile, OAuthError> {
        profile::fetch(self, spec, access_token).await
    }

    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }
}
