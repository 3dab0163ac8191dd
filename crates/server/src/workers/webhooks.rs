//! The webhook delivery worker: sends queued events to the workspace's endpoints, signed, and
//! retries failures with exponential back-off and jitter.
//!
//! A delivery is queued with its event, in the same transaction, by `events::emit` for every
//! endpoint that subscribes to the event's type. Each [`tick`] is a pipeline: it leases due
//! deliveries (one statement per claim; several instances never send the same delivery at
//! once), at most [`BATCH`] held at a time, and claims more as sends finish, until nothing is
//! due. At most [`CONCURRENCY`] are sent at once in all, and at most `webhook_per_receiver`
//! (default 4) to one endpoint: the endpoints at that cap are left out of the next claims, so a
//! slow or hanging receiver holds only its own slots while the others' deliveries go on. Each
//! is POSTed:
//!
//! - body: `{"id","type","created_at","workspace_id","connection_id","data"}`, the same bytes
//!   on every attempt;
//! - headers: `Content-Type: application/json`, `Switchboard-Event-Id`,
//!   `Switchboard-Event-Type`, `Switchboard-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>`
//!   (see [`crate::webhooks`]);
//! - a [`TIMEOUT`] of 10 s, redirects not followed (a 3xx is a failure), no proxy;
//! - unless `webhooks_allow_private_networks` is set, only to a public address: a URL naming a
//!   non-public IP address is refused before sending, and a name goes through
//!   [`crate::webhooks::PublicResolver`], which resolves it now and passes on only public
//!   addresses, so the connection goes to an address checked at this delivery.
//!
//! A 2xx answer marks it delivered. A refused destination marks it failed at once, with the
//! reason (`hooks.example resolves to a private address 10.0.0.5 (...); set
//! webhooks_allow_private_networks to allow`): it is not retried. Anything else (another status,
//! a timeout, a refused connection) schedules the next attempt after [`BACKOFF_SECS`] plus up to
//! 20 % jitter, on the app clock; after [`MAX_ATTEMPTS`] attempts it is marked failed. Logs name
//! the delivery, the endpoint and the outcome, never the secret or the signature.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use rand::Rng;
use reqwest::header::CONTENT_TYPE;
use switchboard_store::webhooks::{DeliveryAttempt, DeliveryStatus, WebhookDelivery};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::webhooks::{
    refusal_in, secret_context, signature_header, EVENT_ID_HEADER, EVENT_TYPE_HEADER,
    SIGNATURE_HEADER,
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

/// Deliveries a tick holds at once (leased, sending or waiting for their endpoint's turn).
pub const BATCH: u32 = 32;

/// Deliveries sent at the same time by one tick, all endpoints together.
pub const CONCURRENCY: usize = 16;

/// Lease length, seconds. A held delivery waits at most for its endpoint's earlier deliveries
/// (fewer than two rounds of `webhook_per_receiver`, each at most [`TIMEOUT`]) and for a
/// sending slot ([`BATCH`] / [`CONCURRENCY`] rounds), well under this: a lease only lapses when
/// its holder died.
const LEASE_SECS: i64 = 120;

/// A tick stops claiming after this long (it then finishes what it holds), so that a steady
/// stream of deliveries does not keep one tick running past the readiness check's patience.
const ROUND: Duration = Duration::from_secs(60);

/// How long a tick with deliveries in flight waits before claiming again when nothing was
/// claimable (new events, or an endpoint back under its cap).
const IDLE_POLL: Duration = Duration::from_millis(200);

/// The delay before the next attempt after `attempts` failed ones, jitter included (0–20 %
/// added, so receivers that failed together do not all come back at the same second).
pub fn backoff(attempts: u32) -> chrono::Duration {
    let index = (attempts.max(1) as usize - 1).min(BACKOFF_SECS.len() - 1);
    let base_ms = BACKOFF_SECS[index] * 1000;
    let jitter_ms = rand::thread_rng().gen_range(0..=base_ms / 5);
    chrono::Duration::milliseconds(base_ms + jitter_ms)
}

/// The plain delivery client, for `webhooks_allow_private_networks`; otherwise deliveries go
/// through [`AppState::webhook_outbound`] (public addresses and the allowed origins only).
fn client(allow_private: bool) -> anyhow::Result<Option<&'static reqwest::Client>> {
    static ANY: OnceLock<reqwest::Client> = OnceLock::new();
    if !allow_private {
        return Ok(None);
    }
    if let Some(c) = ANY.get() {
        return Ok(Some(c));
    }
    let c = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .connect_timeout(CONNECT_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("Switchboard-Webhooks/", env!("CARGO_PKG_VERSION")))
        .build()?;
    Ok(Some(ANY.get_or_init(|| c)))
}

/// One round: leases due deliveries and sends each once, claiming more as sends finish, until
/// nothing is due (or [`ROUND`] has passed). Returns how many were attempted.
///
/// # Errors
/// Database failures while claiming, or an HTTP client that cannot be built.
pub async fn tick(state: &AppState) -> anyhow::Result<usize> {
    let config = state.config();
    let client = client(config.webhooks_allow_private_networks)?;
    let per_receiver = config.webhook_per_receiver.max(1);
    let sending = Arc::new(Semaphore::new(CONCURRENCY));
    let mut receivers: HashMap<String, Arc<Semaphore>> = HashMap::new();
    // Deliveries held per endpoint (claimed, not yet finished).
    let mut held: HashMap<String, usize> = HashMap::new();
    let mut set: JoinSet<(String, String)> = JoinSet::new();
    let mut seen: HashSet<String> = HashSet::new();
    // Deliveries whose task has not finished: a claim that brings one back (its lease lapsed
    // while it waited) only renewed our own lease, and must not send it a second time.
    let mut running: HashSet<String> = HashSet::new();
    let started = Instant::now();
    let mut handled = 0;
    let mut claiming = true;
    let mut failure = None;
    loop {
        if claiming && started.elapsed() >= ROUND {
            claiming = false;
        }
        if claiming && set.len() < BATCH as usize {
            let skip: Vec<String> = held
                .iter()
                .filter(|(_, n)| **n >= per_receiver)
                .map(|(id, _)| id.clone())
                .collect();
            // At most one endpoint's cap per claim: an endpoint under its cap can then hold
            // fewer than twice its cap, all of which start within two of its rounds.
            let room = (BATCH as usize - set.len()).min(per_receiver) as u32;
            let now = state.now();
            let claimed = match state
                .store()
                .claim_deliveries_except(
                    state.instance_id(),
                    now + chrono::Duration::seconds(LEASE_SECS),
                    now,
                    room,
                    &skip,
                )
                .await
            {
                Ok(c) => c,
                Err(e) => {
                    // Finish the sends in flight (dropping them would abort requests already
                    // on the wire), then report.
                    failure = Some(e);
                    claiming = false;
                    continue;
                }
            };
            if claimed.is_empty() && set.is_empty() {
                break;
            }
            let empty = claimed.is_empty();
            for d in claimed {
                if !seen.insert(d.id.clone()) {
                    // Back within the same round: finish what is held, then end the round.
                    claiming = false;
                }
                if !running.insert(d.id.clone()) {
                    continue;
                }
                handled += 1;
                *held.entry(d.webhook_id.clone()).or_default() += 1;
                let receiver = receivers
                    .entry(d.webhook_id.clone())
                    .or_insert_with(|| Arc::new(Semaphore::new(per_receiver)))
                    .clone();
                let sending = sending.clone();
                let state = state.clone();
                set.spawn(async move {
                    let ids = (d.webhook_id.clone(), d.id.clone());
                    // The endpoint's turn first, so a delivery waiting for it holds no slot.
                    let _receiver = receiver.acquire_owned().await;
                    let _sending = sending.acquire_owned().await;
                    let span = tracing::info_span!(
                        "webhook_delivery",
                        delivery_id = %d.id,
                        webhook_id = %d.webhook_id,
                        workspace_id = %d.workspace_id,
                    );
                    tracing::Instrument::instrument(deliver(&state, client, d), span).await;
                    ids
                });
            }
            if empty {
                tokio::select! {
                    joined = set.join_next() => finished(joined, &mut held, &mut running),
                    _ = tokio::time::sleep(IDLE_POLL) => {}
                }
            }
            continue;
        }
        match set.join_next().await {
            Some(joined) => finished(Some(joined), &mut held, &mut running),
            None => break,
        }
    }
    match failure {
        Some(e) => Err(e.into()),
        None => Ok(handled),
    }
}

/// Counts a finished delivery off its endpoint and the running set.
fn finished(
    joined: Option<Result<(String, String), tokio::task::JoinError>>,
    held: &mut HashMap<String, usize>,
    running: &mut HashSet<String>,
) {
    match joined {
        Some(Ok((webhook_id, delivery_id))) => {
            running.remove(&delivery_id);
            if let Some(n) = held.get_mut(&webhook_id) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    held.remove(&webhook_id);
                }
            }
        }
        // A panicked send leaves its count: that endpoint gets fewer slots for this round.
        Some(Err(e)) => tracing::error!(error = %e, "webhook delivery task panicked"),
        None => {}
    }
}

/// Sends one leased delivery and records the attempt.
async fn deliver(state: &AppState, client: Option<&reqwest::Client>, d: WebhookDelivery) {
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
    // A URL naming a non-public IP address never reaches the resolver: the policy refuses it
    // before building the request.
    let request = match client {
        Some(c) => Ok(c.post(&webhook.url)),
        None => state
            .webhook_outbound()
            .request(reqwest::Method::POST, &webhook.url),
    };
    // A refused destination is final: retrying would only be refused again.
    let mut refused = request.as_ref().err().map(|r| r.to_string());
    let opened = state
        .keyring()
        .open(&secret_context(&webhook.id), &webhook.secret_sealed);
    let (status_code, error) = match (opened, request) {
        (_, Err(_)) => (None, refused.clone()),
        (Err(e), _) => (
            None,
            Some(format!("the signing secret cannot be decrypted: {e}")),
        ),
        (Ok(secret), Ok(request)) => {
            let timestamp = state.now().timestamp();
            let signature = signature_header(&secret, timestamp, d.body.as_bytes());
            let sent = request
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
                Err(e) => match refusal_in(&e) {
                    Some(r) => {
                        refused = Some(r.to_string());
                        (None, refused.clone())
                    }
                    None => (None, Some(describe(e))),
                },
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
        Some(error) if attempts >= MAX_ATTEMPTS || refused.is_some() => DeliveryAttempt {
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
