//! Webhook signing secrets, signatures, and queueing an event for the endpoints.
//!
//! Every delivery carries `Switchboard-Signature: t=<unix seconds>,v1=<hex>`, where `<hex>` is
//! the lowercase hex HMAC-SHA256, keyed with the endpoint's secret (the whole `whsec_...` string
//! as UTF-8 bytes), of `"<t>.<raw body>"`. A receiver recomputes it over the exact bytes it
//! received, compares in constant time, and rejects timestamps older than a few minutes
//! (README, "Webhooks").

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use sha2::Sha256;
use switchboard_store::webhooks::NewDeliveries;
use switchboard_store::Event;

use crate::AppState;

/// Prefix of webhook signing secrets.
pub const SECRET_PREFIX: &str = "whsec_";

/// Header naming the event id.
pub const EVENT_ID_HEADER: &str = "Switchboard-Event-Id";
/// Header naming the event type.
pub const EVENT_TYPE_HEADER: &str = "Switchboard-Event-Type";
/// Header carrying the signature, `t=<unix seconds>,v1=<hex HMAC-SHA256>`.
pub const SIGNATURE_HEADER: &str = "Switchboard-Signature";

/// The vault context of an endpoint's secret: `webhook:<id>:secret`.
pub fn secret_context(webhook_id: &str) -> String {
    format!("webhook:{webhook_id}:secret")
}

/// A new signing secret: `whsec_` and 256 random bits, base64url without padding (43
/// characters).
pub fn new_secret() -> SecretString {
    use base64::Engine;
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    SecretString::from(format!(
        "{SECRET_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    ))
}

/// The lowercase hex HMAC-SHA256 of `"<timestamp>.<body>"` keyed with `secret`.
pub fn signature(secret: &SecretString, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose_secret().as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// The `Switchboard-Signature` header value: `t=<timestamp>,v1=<signature>`.
pub fn signature_header(secret: &SecretString, timestamp: i64, body: &[u8]) -> String {
    format!("t={timestamp},v1={}", signature(secret, timestamp, body))
}

/// The JSON body sent for an event.
pub fn body(event: &Event) -> String {
    json!({
        "id": event.id,
        "type": event.kind,
        "created_at": event.created_at,
        "workspace_id": event.workspace_id,
        "connection_id": event.connection_id,
        "data": event.payload,
    })
    .to_string()
}

/// Queues an event for every endpoint of its workspace that subscribes to its type. Failures
/// are logged: the event itself is already recorded.
pub async fn enqueue(state: &AppState, event: &Event) {
    let body = body(event);
    let new = NewDeliveries {
        workspace_id: &event.workspace_id,
        event_id: &event.id,
        event_type: &event.kind,
        body: &body,
        now: event.created_at,
    };
    match state.store().enqueue_deliveries(&new).await {
        Ok(queued) if !queued.is_empty() => {
            tracing::debug!(event_id = %event.id, kind = %event.kind, deliveries = queued.len(), "webhook deliveries queued");
        }
        Ok(_) => {}
        Err(e) => {
            tracing::error!(event_id = %event.id, kind = %event.kind, error = %e, "webhook deliveries could not be queued");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_prefixed_256_bit_and_distinct() {
        let a = new_secret();
        let b = new_secret();
        assert!(a.expose_secret().starts_with(SECRET_PREFIX));
        assert_eq!(a.expose_secret().len(), SECRET_PREFIX.len() + 43);
        assert_ne!(a.expose_secret(), b.expose_secret());
    }

    #[test]
    fn signature_matches_a_known_hmac_sha256() {
        // Computed independently over the documented input "<t>.<body>".
        let secret = SecretString::from("whsec_test".to_string());
        let sig = signature(&secret, 1_700_000_000, br#"{"a":1}"#);
        let mut mac = Hmac::<Sha256>::new_from_slice(b"whsec_test").unwrap();
        mac.update(br#"1700000000.{"a":1}"#);
        assert_eq!(sig, hex::encode(mac.finalize().into_bytes()));
        assert_eq!(sig.len(), 64);
        assert_eq!(
            signature_header(&secret, 1_700_000_000, br#"{"a":1}"#),
            format!("t=1700000000,v1={sig}")
        );
        assert_ne!(sig, signature(&secret, 1_700_000_001, br#"{"a":1}"#));
    }
}
