//! The webhook delivery worker: sends queued events to the workspace's endpoints, signed, and
//! retries failures with exponential back-off and jitter.
//!
//! A delivery is queued by [`crate::webhooks::enqueue`] (called from `events::emit`) for every
//! endpoint that subscribes to the event's type. Each [`tick`] leases up to [`BATCH`] due deliveries (one
//! statement; several instances never send the same delivery at once) and POSTs each:
//!
//! - body: `{"id","type","created_at","workspace_id","connection_id","data"}`, the same bytes
//!   on every attempt;
//! - headers: `Content-Type: application/json`, `Switchboard-Event-Id`,
//!   `Switchboard-Event-Type`, `Switchboard-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>`
//!   (see [`crate::webhooks`]);
//! - a [`TIMEOUT`] of 10 s, redirects not followed (a 3xx is a failure).
//!
//! A 2xx answer marks it delivered. Anything else (another status, a timeout, a refused
//! connection) schedules the next attempt after [`BACKOFF_SECS`] plus up to 20 % jitter, on the
//! app clock; after [`MAX_ATTEMPTS`] attempts it is marked failed. Logs name the delivery, the
//! endpoint and the outcome, never the secret or the signature.

use std::sync::OnceLock;
use std::time::Duration;

use futures::StreamExt;
use rand::Rng;
use reqwest::header::CONTENT_TYPE;
use switchboard_store::webhooks::{DeliveryAttempt, DeliveryStatus, WebhookDelivery};

use crate::webhooks::{
    secret_context, signature_header, EVENT_ID_HEADER, EVENT_TYPE_HEADER, SIGNATURE_HEADER,
};
use crate::AppState;

/// Attempts before a delivery is marked failed.
pub const MAX_ATTEMPTS: u32 = 8;

/// Wait before attempt `n + 1` after `n` failed attempts, seconds (index `n - 1`): 10 s, 30 s,
/// 2 min, 10 min, 1 h, 3 h, 6 h. Each gets up to 20 % jitter on top.
pub const BACKOFF_SECS: [i64; 7] = [10, 30, 120, 600, 3_600, 10_800, 21_600];

/// How long one POST may take, connecting included.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// How long connecting to a receiver may take (an address that swallows SYNs fails fast).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Deliveries leased per tick.
pub const BATCH: u32 = 32;

/// Deliveries sent at the same time within a tick.
const CONCURRENCY: usize = 8;

/// Lease length, seconds: longer than a whole batch takes ([`BATCH`] / [`CONCURRENCY`] rounds
/// of at most [`TIMEOUT`]), so a lease only lapses when its holder died.
const LEASE_SECS: i64 = 120;

/// The delay before the next attempt after `attempts` failed ones, jitter included (0–20 %
/// added, so receivers that failed together do not all come back at the same second).
pub fn backoff(attempts: u32) -> chrono::Duration {
    let index = (attempts.max(1) as usize - 1).min(BACKOFF_SECS.len() - 1);
    let base_ms = BACKOFF_SECS[index] * 1000;
    let jitter_ms = rand::thread_rng().gen_range(0..=base_ms / 5);
    chrono::Duration::milliseconds(base_ms + jitter_ms)
}

fn client() -> anyhow::Result<&'static reqwest::Client> {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    if let Some(c) = CLIENT.get() {
        return Ok(c);
    }
    let c = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .connect_timeout(CONNECT_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("Switchboard-Webhooks/", env!("CARGO_PKG_VERSION")))
        .build()?;
    Ok(CLIENT.get_or_init(|| c))
}

/// One pass: leases the due deliveries and sends each once. Returns how many were attempted.
///
/// # Errors
/// Database failures while claiming, or an HTTP client that cannot be built.
pub async fn tick(state: &AppState) -> anyhow::Result<usize> {
    let client = client()?;
    let now = state.now();
    let claimed = state
        .store()
        .claim_deliveries(
            state.instance_id(),
            now + chrono::Duration::seconds(LEASE_SECS),
            now,
            BATCH,
        )
        .await?;
    let n = claimed.len();
    futures::stream::iter(claimed)
        .for_each_concurrent(CONCURRENCY, |d| {
            let span = tracing::info_span!(
                "webhook_delivery",
                delivery_id = %d.id,
                webhook_id = %d.webhook_id,
                workspace_id = %d.workspace_id,
            );
            tracing::Instrument::instrument(deliver(state, client, d), span)
        })
        .await;
    Ok(n)
}

/// Sends one leased delivery and records the attempt.
async fn deliver(state: &AppState, client: &reqwest::Client, d: WebhookDelivery) {
    let store = state.store();
    let webhook = match store.get_webhook_by_id(&d.webhook_id).await {
        Ok(Some(w)) => w,
        // Deleted meanwhile: its deliveries went with it.
        Ok(None) => return,
        Err(e) => {
            tracing::error!(delivery_id = %d.id, error = %e, "webhook endpoint could not be read; the lease will lapse and the delivery be retried");
            return;
        }
    };
    let (status_code, error) = match state
        .keyring()
        .open(&secret_context(&webhook.id), &webhook.secret_sealed)
    {
        Err(e) => (
            None,
            Some(format!("the signing secret cannot be decrypted: {e}")),
        ),
        Ok(secret) => {
            let timestamp = state.now().timestamp();
            let signature = signature_header(&secret, timestamp, d.body.as_bytes());
            let sent = client
                .post(&webhook.url)
                .header(CONTENT_TYPE, "application/json")
                .header(EVENT_ID_HEADER, &d.event_id)
                .header(EVENT_TYPE_HEADER, &d.event_type)
                .header(SIGNATURE_HEADER, signature)
                .body(d.body.clone())
                .send()
                .await;
            match sent {
                Ok(r) if r.status().is_success() => (Some(r.status().as_u16()), None),
                Ok(r) => (
                    Some(r.status().as_u16()),
                    Some(format!("the endpoint answered {}", r.status())),
                ),
                Err(e) => (None, Some(describe(e))),
            }
        }
    };
    let at = state.now();
    let attempts = d.attempts + 1;
    let attempt = match error {
        None => DeliveryAttempt {
            status: DeliveryStatus::Delivered,
            status_code,
            error: None,
            next_attempt_at: None,
            at,
        },
        Some(error) if attempts >= MAX_ATTEMPTS => DeliveryAttempt {
            status: DeliveryStatus::Failed,
            status_code,
            error: Some(error),
            next_attempt_at: None,
            at,
        },
        Some(error) => DeliveryAttempt {
            status: DeliveryStatus::Pending,
            status_code,
            error: Some(error),
            next_attempt_at: Some(at + backoff(attempts)),
            at,
        },
    };
    match store
        .record_delivery_attempt(&d.id, state.instance_id(), &attempt)
        .await
    {
        Ok(Some(saved)) => {
            crate::metrics::webhook_delivery(match saved.status {
                DeliveryStatus::Delivered => "delivered",
                DeliveryStatus::Failed => "failed",
                DeliveryStatus::Pending => "retry",
            });
            tracing::info!(
            delivery_id = %saved.id,
            webhook_id = %saved.webhook_id,
            event_type = %saved.event_type,
            status = saved.status.as_str(),
            attempts = saved.attempts,
            status_code = ?saved.last_status_code,
            "webhook delivery attempted"
            )
        }
        Ok(None) => {
            tracing::warn!(delivery_id = %d.id, "webhook delivery lease lapsed before the attempt was recorded")
        }
        Err(e) => {
            tracing::error!(delivery_id = %d.id, error = %e, "webhook delivery attempt could not be recorded")
        }
    }
}

/// A failed request in words, without the URL (it may carry the receiver's own credentials).
fn describe(e: reqwest::Error) -> String {
    if e.is_timeout() {
        return format!("no answer within {} s", TIMEOUT.as_secs());
    }
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_bounded_jitter() {
        for (i, base) in BACKOFF_SECS.iter().enumerate() {
            for _ in 0..50 {
                let d = backoff(i as u32 + 1).num_milliseconds();
                assert!(d >= base * 1000 && d <= base * 1200, "{i}: {d}");
            }
        }
        // Past the table, the last step repeats.
        let d = backoff(20).num_milliseconds();
        assert!((21_600_000..=25_920_000).contains(&d));
    }
}
