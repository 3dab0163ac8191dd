//! Meta's `signed_request`: what Facebook Login and Instagram (with Instagram Login) POST to an
//! app's Deauthorize Callback URL and Data Deletion Request Callback URL, both required for an
//! app in live mode. Sources:
//! <https://developers.facebook.com/docs/facebook-login/guides/advanced/manual-flow> ("signed
//! request"), <https://developers.facebook.com/docs/development/create-an-app/app-dashboard/data-deletion-callback>
//! and <https://developers.facebook.com/docs/instagram-platform/instagram-api-with-instagram-login/business-login>
//! (Deauthorize and Data Deletion callbacks).
//!
//! The form field `signed_request` is `<signature>.<payload>`, both base64url (Meta leaves the
//! `=` padding out): the payload is JSON `{"algorithm":"HMAC-SHA256","issued_at":…,
//! "user_id":"…"}`, the signature HMAC-SHA256 of the **encoded** payload with the app secret.
//! `user_id` is the app-scoped id the platform gave the person: the `account_id` of their
//! Switchboard connection (Facebook `/me` `id`, Instagram `user_id`).
//!
//! The routes are in [`crate::routes::meta_callbacks`].

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

/// The platforms that send Meta's callbacks.
pub const META_PLATFORMS: [&str; 2] = ["facebook", "instagram"];

/// The only `algorithm` Meta signs with.
pub const ALGORITHM: &str = "HMAC-SHA256";

/// Longest `signed_request` accepted, bytes (Meta's are a few hundred; checked before any work).
pub const MAX_SIGNED_REQUEST_BYTES: usize = 8 * 1024;

/// Whether `platform` is one of Meta's (deauthorize and data deletion callbacks apply).
pub fn is_meta(platform: &str) -> bool {
    META_PLATFORMS.contains(&platform)
}

/// A verified `signed_request`.
#[derive(Debug, Clone, PartialEq)]
pub struct SignedRequest {
    /// The person's app-scoped id (`user_id`).
    pub user_id: String,
    /// When Meta issued it (`issued_at`, Unix seconds), when present.
    pub issued_at: Option<i64>,
    /// The whole decoded payload.
    pub payload: Value,
}

/// Why a `signed_request` is refused; each is a 400 naming the field `signed_request`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignedRequestError {
    /// No `signed_request`, or an empty one.
    #[error("signed_request is missing")]
    Missing,
    /// Longer than [`MAX_SIGNED_REQUEST_BYTES`].
    #[error("signed_request is longer than {MAX_SIGNED_REQUEST_BYTES} bytes")]
    TooLong,
    /// Not `<base64url>.<base64url>` with a JSON object payload.
    #[error("signed_request is malformed: {0}")]
    Malformed(&'static str),
    /// `algorithm` is not `HMAC-SHA256`.
    #[error("signed_request algorithm {0:?} is not HMAC-SHA256")]
    Algorithm(String),
    /// The signature does not match the payload and this app's secret.
    #[error("signed_request signature does not match this app's secret")]
    Signature,
    /// The payload has no `user_id`.
    #[error("signed_request payload has no user_id")]
    NoUserId,
}

/// Decodes base64url with or without `=` padding.
fn b64(s: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok()
}

/// Verifies a `signed_request` with the app secret: the signature first (constant-time, over
/// the encoded payload, before the payload is read as JSON), then the algorithm and
/// `user_id`.
///
/// # Errors
/// [`SignedRequestError`], saying what is wrong.
pub fn verify(
    signed_request: &str,
    app_secret: &[u8],
) -> Result<SignedRequest, SignedRequestError> {
    let sr = signed_request.trim();
    if sr.is_empty() {
        return Err(SignedRequestError::Missing);
    }
    if sr.len() > MAX_SIGNED_REQUEST_BYTES {
        return Err(SignedRequestError::TooLong);
    }
    let (sig, payload) = sr.split_once('.').ok_or(SignedRequestError::Malformed(
        "no '.' between signature and payload",
    ))?;
    let sig = b64(sig).ok_or(SignedRequestError::Malformed(
        "the signature is not base64url",
    ))?;
    let body = b64(payload).ok_or(SignedRequestError::Malformed(
        "the payload is not base64url",
    ))?;
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(app_secret).expect("HMAC takes any key length");
    mac.update(payload.as_bytes());
    // `verify_slice` compares in constant time.
    let signature_ok = mac.verify_slice(&sig).is_ok();
    let json: Value = serde_json::from_slice(&body)
        .map_err(|_| SignedRequestError::Malformed("the payload is not JSON"))?;
    if !json.is_object() {
        return Err(SignedRequestError::Malformed(
            "the payload is not a JSON object",
        ));
    }
    // The algorithm is read first so that a payload signed some other way says so, but nothing
    // in it is trusted before the signature matched.
    match json.get("algorithm").and_then(Value::as_str) {
        Some(a) if a.eq_ignore_ascii_case(ALGORITHM) => {}
        Some(a) => return Err(SignedRequestError::Algorithm(a.chars().take(40).collect())),
        None => return Err(SignedRequestError::Algorithm(String::new())),
    }
    if !signature_ok {
        return Err(SignedRequestError::Signature);
    }
    let user_id = match json.get("user_id") {
        Some(Value::String(s)) if !s.is_empty() && s.len() <= 128 => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => return Err(SignedRequestError::NoUserId),
    };
    Ok(SignedRequest {
        user_id,
        issued_at: json.get("issued_at").and_then(Value::as_i64),
        payload: json,
    })
}

/// Signs `payload` as Meta does (for tests and tools): `base64url(HMAC-SHA256(secret,
/// encoded)) + "." + encoded`, `encoded = base64url(JSON)`, no padding.
pub fn sign(payload: &Value, app_secret: &[u8]) -> String {
    let encoded = URL_SAFE_NO_PAD.encode(payload.to_string());
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(app_secret).expect("HMAC takes any key length");
    mac.update(encoded.as_bytes());
    format!(
        "{}.{encoded}",
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SECRET: &[u8] = b"app-secret";

    #[test]
    fn a_request_signed_with_the_secret_passes() {
        let sr = sign(
            &json!({"algorithm": "HMAC-SHA256", "issued_at": 1_700_000_000, "user_id": "1015"}),
            SECRET,
        );
        let v = verify(&sr, SECRET).unwrap();
        assert_eq!(v.user_id, "1015");
        assert_eq!(v.issued_at, Some(1_700_000_000));
        // Padding left on the signature is accepted too (the payload is signed as sent).
        let (s, p) = sr.split_once('.').unwrap();
        let padded = format!("{s}=.{p}");
        assert_eq!(verify(&padded, SECRET).unwrap().user_id, "1015");
    }

    #[test]
    fn every_bad_request_is_refused_with_its_reason() {
        let good = json!({"algorithm": "HMAC-SHA256", "user_id": "1015"});
        assert_eq!(verify("", SECRET), Err(SignedRequestError::Missing));
        assert_eq!(
            verify(&"a".repeat(MAX_SIGNED_REQUEST_BYTES + 1), SECRET),
            Err(SignedRequestError::TooLong)
        );
        assert!(matches!(
            verify("nodot", SECRET),
            Err(SignedRequestError::Malformed(_))
        ));
        assert!(matches!(
            verify("!!.??", SECRET),
            Err(SignedRequestError::Malformed(_))
        ));
        // Another app's secret.
        assert_eq!(
            verify(&sign(&good, b"other"), SECRET),
            Err(SignedRequestError::Signature)
        );
        // A payload changed after signing (another user id).
        let sr = sign(&good, SECRET);
        let (sig, _) = sr.split_once('.').unwrap();
        let forged =
            URL_SAFE_NO_PAD.encode(json!({"algorithm": "HMAC-SHA256", "user_id": "1"}).to_string());
        assert_eq!(
            verify(&format!("{sig}.{forged}"), SECRET),
            Err(SignedRequestError::Signature)
        );
        assert_eq!(
            verify(
                &sign(&json!({"algorithm": "none", "user_id": "1"}), SECRET),
                SECRET
            ),
            Err(SignedRequestError::Algorithm("none".into()))
        );
        assert_eq!(
            verify(&sign(&json!({"user_id": "1"}), SECRET), SECRET),
            Err(SignedRequestError::Algorithm(String::new()))
        );
        assert_eq!(
            verify(&sign(&json!({"algorithm": "HMAC-SHA256"}), SECRET), SECRET),
            Err(SignedRequestError::NoUserId)
        );
        assert!(matches!(
            verify(&sign(&json!([1, 2]), SECRET), SECRET),
            Err(SignedRequestError::Malformed(_))
        ));
    }
}
