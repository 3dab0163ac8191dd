//! Reading token endpoint responses into a [`TokenSet`], whatever their shape.
//!
//! RFC 6749 §5.1 fields (`access_token`, `token_type`, `expires_in`, `refresh_token`, `scope`)
//! plus the platforms' additions: `refresh_expires_in` (TikTok), `refresh_token_expires_in`
//! (LinkedIn, Pinterest), `refresh_token_expires_at` (Pinterest, epoch seconds), numeric strings
//! for numbers, and `scope` as a string with either separator or as an array.

use chrono::{DateTime, TimeZone, Utc};
use secrecy::SecretString;
use serde_json::{Map, Value};
use switchboard_core::token::seconds_field;
use switchboard_core::{PlatformSpec, TokenSet};

use crate::http::RawResponse;
use crate::OAuthError;

/// Fields never copied into [`TokenSet::extra`]: secrets, and what is already parsed.
const NOT_EXTRA: [&str; 10] = [
    "access_token",
    "refresh_token",
    "id_token",
    "token_type",
    "expires_in",
    "scope",
    "refresh_expires_in",
    "refresh_token_expires_in",
    "refresh_token_expires_at",
    "client_secret",
];

/// Parses a token response object (already unwrapped from any envelope).
///
/// # Errors
/// [`OAuthError::Platform`] when there is no `access_token` string.
pub fn parse(
    spec: &PlatformSpec,
    raw: &RawResponse,
    obj: &Value,
    now: DateTime<Utc>,
) -> Result<TokenSet, OAuthError> {
    let Some(access) = obj
        .get("access_token")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    else {
        return Err(raw.error(spec));
    };
    let refresh_expires_at = seconds_field(obj.get("refresh_token_expires_at"))
        .and_then(|s| Utc.timestamp_opt(s, 0).single())
        .or_else(|| {
            TokenSet::expiry_from(
                now,
                seconds_field(obj.get("refresh_expires_in"))
                    .or_else(|| seconds_field(obj.get("refresh_token_expires_in"))),
            )
        });
    let scopes = match obj.get("scope") {
        Some(Value::String(s)) => PlatformSpec::split_scopes(s),
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    };
    let extra: Map<String, Value> = obj
        .as_object()
        .map(|m| {
            m.iter()
                .filter(|(k, _)| !NOT_EXTRA.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    Ok(TokenSet {
        access_token: SecretString::from(access.to_string()),
        token_type: obj
            .get("token_type")
            .and_then(Value::as_str)
            .map(normalise_token_type)
            .unwrap_or_else(|| "Bearer".to_string()),
        refresh_token: obj
            .get("refresh_token")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(|s| SecretString::from(s.to_string())),
        expires_at: TokenSet::expiry_from(now, seconds_field(obj.get("expires_in"))),
        refresh_expires_at,
        scopes,
        extra,
    })
}

/// A token call made as a `GET` with the parameters in the query (Meta's code and
/// `fb_exchange_token` exchanges, Instagram's `ig_exchange_token` and `ig_refresh_token`).
///
/// # Errors
/// The platform's error diagnosed, or [`OAuthError::Network`].
pub(crate) async fn get_json_token(
    oc: &crate::OAuthClient,
    spec: &PlatformSpec,
    what: &'static str,
    url: &str,
    query: &[(&str, &str)],
) -> Result<TokenSet, OAuthError> {
    let req = oc.http.request(reqwest::Method::GET, url).query(query);
    let raw = oc.http.send(spec, what, req).await?;
    if !raw.status.is_success() {
        return Err(raw.error(spec));
    }
    let v = raw.json(spec)?;
    parse(spec, &raw, &v, oc.now())
}

/// `bearer` and `BEARER` are `Bearer` (RFC 6750 names it so; platforms vary the case).
fn normalise_token_type(t: &str) -> String {
    if t.eq_ignore_ascii_case("bearer") {
        "Bearer".to_string()
    } else {
        t.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;
    use switchboard_core::Catalog;

    fn raw(body: &str) -> RawResponse {
        RawResponse {
            status: reqwest::StatusCode::OK,
            headers: Default::default(),
            body: body.as_bytes().to_vec(),
            received_at: Utc::now(),
            call: "token",
        }
    }

    #[test]
    fn reads_pinterest_continuous_refresh_shape() {
        let c = Catalog::builtin().unwrap();
        let spec = c.get("pinterest").unwrap();
        let body = r#"{"access_token":"pina_x","refresh_token":"pinr_y","response_type":"everlasting_refresh","token_type":"bearer","expires_in":2592000,"refresh_token_expires_in":31536000,"refresh_token_expires_at":1900000000,"scope":"boards:read,pins:read"}"#;
        let v: Value = serde_json::from_str(body).unwrap();
        let now = Utc::now();
        let t = parse(spec, &raw(body), &v, now).unwrap();
        assert_eq!(t.token_type, "Bearer");
        assert_eq!(t.refresh_token.unwrap().expose_secret(), "pinr_y");
        assert_eq!(t.refresh_expires_at.unwrap().timestamp(), 1_900_000_000);
        assert_eq!(t.scopes, vec!["boards:read", "pins:read"]);
        assert_eq!(t.extra.get("response_type").unwrap(), "everlasting_refresh");
        assert!(!t.extra.contains_key("access_token"));
    }

    #[test]
    fn missing_access_token_is_a_platform_error() {
        let c = Catalog::builtin().unwrap();
        let spec = c.get("twitter").unwrap();
        let body = r#"{"error":"invalid_request","error_description":"Value passed for the authorization code was invalid."}"#;
        let v: Value = serde_json::from_str(body).unwrap();
        let err = parse(spec, &raw(body), &v, Utc::now()).unwrap_err();
        assert!(matches!(err, OAuthError::Platform(_)));
    }
}
