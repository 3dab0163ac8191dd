//! Token sets as a token endpoint returns them, normalised across platforms.

use chrono::{DateTime, Duration, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

/// The tokens of one grant. Secrets are [`SecretString`]s so they never show in `Debug` output.
#[derive(Debug, Clone)]
pub struct TokenSet {
    /// The access token (RFC 6749 §1.4).
    pub access_token: SecretString,
    /// `Bearer` on every platform Switchboard knows.
    pub token_type: String,
    /// The refresh token, when the platform issued one (RFC 6749 §1.5).
    pub refresh_token: Option<SecretString>,
    /// When the access token expires (from `expires_in`, seconds); `None` when it does not.
    pub expires_at: Option<DateTime<Utc>>,
    /// When the refresh token expires (from `refresh_expires_in` / `refresh_token_expires_in`).
    pub refresh_expires_at: Option<DateTime<Utc>>,
    /// Scopes granted, as reported by the token response; empty when it did not say.
    pub scopes: Vec<String>,
    /// Non-secret fields of the response worth keeping (TikTok `open_id`, Instagram `user_id`).
    pub extra: serde_json::Map<String, Value>,
}

impl TokenSet {
    /// A bearer token set with only an access token.
    pub fn bearer(access_token: impl Into<String>) -> Self {
        TokenSet {
            access_token: SecretString::from(access_token.into()),
            token_type: "Bearer".into(),
            refresh_token: None,
            expires_at: None,
            refresh_expires_at: None,
            scopes: Vec::new(),
            extra: serde_json::Map::new(),
        }
    }

    /// Converts an `expires_in` (seconds from `now`) into an instant. Zero or negative values,
    /// which some platforms send for "does not expire", become `None`.
    pub fn expiry_from(now: DateTime<Utc>, expires_in_secs: Option<i64>) -> Option<DateTime<Utc>> {
        expires_in_secs
            .filter(|s| *s > 0)
            .map(|s| now + Duration::seconds(s))
    }

    /// True when the access token is expired at `now`, or will be within `margin`.
    pub fn expires_within(&self, now: DateTime<Utc>, margin: Duration) -> bool {
        self.expires_at.is_some_and(|e| e <= now + margin)
    }

    /// The access token's bytes, for an `Authorization` header. Named so each use is visible.
    pub fn expose_access_token(&self) -> &str {
        self.access_token.expose_secret()
    }
}

/// Reads an integer number of seconds from a JSON value that may be a number or a numeric string
/// (TikTok and Meta have sent both).
pub fn seconds_field(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_tokens() {
        let mut t = TokenSet::bearer("very-secret-access");
        t.refresh_token = Some(SecretString::from("very-secret-refresh".to_string()));
        let dbg = format!("{t:?}");
        assert!(!dbg.contains("very-secret"), "{dbg}");
    }

    #[test]
    fn expiry_ignores_zero_and_reads_strings() {
        let now = Utc::now();
        assert_eq!(TokenSet::expiry_from(now, Some(0)), None);
        assert_eq!(
            TokenSet::expiry_from(now, seconds_field(Some(&Value::from("60")))),
            Some(now + Duration::seconds(60))
        );
    }
}
