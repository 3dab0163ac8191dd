//! Webhook endpoints, their deliveries, and the audit log: the records and the store traits
//! ([`WebhookStore`], [`AuditStore`]) both backends implement (`sqlite_webhooks.rs`,
//! `postgres_webhooks.rs`; schema in `migrations/<backend>/0002_webhooks_audit.sql`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::StoreResult;

/// A webhook endpoint of a workspace. The signing secret is sealed by the vault.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Webhook {
    /// Endpoint id (UUID text, chosen by the caller: the secret's seal context names it).
    pub id: String,
    /// Owning workspace.
    pub workspace_id: String,
    /// Absolute `http`/`https` URL deliveries are POSTed to.
    pub url: String,
    /// Event types delivered; empty means every type.
    pub events: Vec<String>,
    /// Free text for people.
    pub description: Option<String>,
    /// The signing secret, sealed (context `webhook:<id>:secret`).
    pub secret_sealed: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

impl std::fmt::Debug for Webhook {
    /// Leaves the sealed secret out, like every other secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook")
            .field("id", &self.id)
            .field("workspace_id", &self.workspace_id)
            .field("url", &self.url)
            .field("events", &self.events)
            .field("description", &self.description)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Not delivered yet; the worker will (re)try at `next_attempt_at`.
    Pending,
    /// The receiver answered 2xx.
    Delivered,
    /// Every attempt failed; no more are made.
    Failed,
}

impl DeliveryStatus {
    /// The stored name: `pending`, `delivered`, `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
        }
    }

    /// Parses a stored name; `None` for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(DeliveryStatus::Pending),
            "delivered" => Some(DeliveryStatus::Delivered),
            "failed" => Some(DeliveryStatus::Failed),
            _ => None,
        }
    }
}

/// One event to be sent to one endpoint, with its attempts so far.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookDelivery {
    /// Delivery id (UUID v7 text).
    pub id: String,
    /// The endpoint.
    pub webhook_id: String,
    /// Workspace of the endpoint and the event.
    pub workspace_id: String,
    /// The event (`events.id`).
    pub event_id: String,
    /// The event type, e.g. `connection.created`.
    pub event_type: String,
    /// The exact JSON body POSTed on every attempt.
    pub body: String,
    /// Where it stands.
    pub status: DeliveryStatus,
    /// Attempts made so far.
    pub attempts: u32,
    /// HTTP status of the last attempt, when the receiver answered.
    pub last_status_code: Option<u16>,
    /// Why the last attempt failed (never a secret).
    pub last_error: Option<String>,
    /// When the next attempt is due (while pending).
    pub next_attempt_at: DateTime<Utc>,
    /// When the receiver accepted it.
    pub delivered_at: Option<DateTime<Utc>>,
    /// When it was queued.
    pub created_at: DateTime<Utc>,
}

/// An event to queue for every matching endpoint of its workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDeliveries<'a> {
    /// Workspace of the event.
    pub workspace_id: &'a str,
    /// Event id.
    pub event_id: &'a str,
    /// Event type; endpoints whose `events` is empty or contains it match.
    pub event_type: &'a str,
    /// The JSON body to send.
    pub body: &'a str,
    /// Queue time; also the first attempt's due time.
    pub now: DateTime<Utc>,
}

/// The result of one attempt, as the worker decided it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryAttempt {
    /// The status after this attempt.
    pub status: DeliveryStatus,
    /// The receiver's HTTP status, when it answered.
    pub status_code: Option<u16>,
    /// Why it failed, `None` when delivered.
    pub error: Option<String>,
    /// When to try again (with [`DeliveryStatus::Pending`]); `None` keeps the stored value.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// When the attempt finished (stored as `delivered_at` when delivered).
    pub at: DateTime<Utc>,
}

/// Persistence of webhook endpoints and deliveries. Claims are exclusive across processes.
#[async_trait]
pub trait WebhookStore: Send + Sync {
    /// Stores a new endpoint. An unknown workspace is a database (constraint) error.
    async fn create_webhook(&self, webhook: &Webhook) -> StoreResult<()>;

    /// A workspace's endpoints, oldest first.
    async fn list_webhooks(&self, workspace_id: &str) -> StoreResult<Vec<Webhook>>;

    /// An endpoint of a workspace; another workspace's is `None`.
    async fn get_webhook(&self, workspace_id: &str, id: &str) -> StoreResult<Option<Webhook>>;

    /// An endpoint by id alone (for the delivery worker).
    async fn get_webhook_by_id(&self, id: &str) -> StoreResult<Option<Webhook>>;

    /// Deletes an endpoint of a workspace with its deliveries; false when there was none.
    async fn delete_webhook(&self, workspace_id: &str, id: &str) -> StoreResult<bool>;

    /// Queues one pending delivery (due at `now`, 0 attempts) per endpoint of the workspace
    /// whose `events` is empty or contains the event type. Queuing the same event for the same
    /// endpoint twice queues it once. Returns the deliveries queued.
    async fn enqueue_deliveries(
        &self,
        new: &NewDeliveries<'_>,
    ) -> StoreResult<Vec<WebhookDelivery>>;

    /// Records `event` and queues its deliveries (as [`WebhookStore::enqueue_deliveries`],
    /// with `body` the JSON to send) in one transaction: the outbox. Either both are stored or
    /// neither is, so no crash between them loses a delivery of a recorded event. Returns the
    /// deliveries queued.
    async fn record_event(
        &self,
        event: &crate::Event,
        body: &str,
    ) -> StoreResult<Vec<WebhookDelivery>>;

    /// Leases up to `limit` pending deliveries due at `now` (`next_attempt_at <= now`) whose
    /// lease is free or expired, to `owner` until `until`, earliest due first. A delivery is
    /// leased to at most one caller at a time, across processes.
    async fn claim_deliveries(
        &self,
        owner: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<WebhookDelivery>> {
        self.claim_deliveries_except(owner, until, now, limit, &[])
            .await
    }

    /// [`WebhookStore::claim_deliveries`] leaving out the deliveries of the endpoints listed in
    /// `skip_webhooks` (those the caller already has enough deliveries in flight for), so that
    /// one slow endpoint's backlog does not fill every claim.
    async fn claim_deliveries_except(
        &self,
        owner: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
        limit: u32,
        skip_webhooks: &[String],
    ) -> StoreResult<Vec<WebhookDelivery>>;

    /// Records an attempt of a delivery `owner` leases: attempts + 1, the status, code, error,
    /// next due time, `delivered_at` when delivered; the lease is released. `None` (nothing
    /// changed) when `owner` no longer holds the lease or the delivery is gone.
    async fn record_delivery_attempt(
        &self,
        id: &str,
        owner: &str,
        attempt: &DeliveryAttempt,
    ) -> StoreResult<Option<WebhookDelivery>>;

    /// An endpoint's deliveries in a workspace, newest first, at most `limit`.
    async fn list_deliveries(
        &self,
        workspace_id: &str,
        webhook_id: &str,
        limit: u32,
    ) -> StoreResult<Vec<WebhookDelivery>>;
}

/// One entry of the audit log: who changed what.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Entry id (UUID v7 text, so ids sort by time).
    pub id: String,
    /// Workspace.
    pub workspace_id: String,
    /// Connection concerned, if any.
    pub connection_id: Option<String>,
    /// Who: `api_key:<key id>`, `oauth_callback`, `system:refresh`.
    pub actor: String,
    /// What, e.g. `connection.deleted`, `webhook.created`.
    pub action: String,
    /// Non-secret details.
    pub details: serde_json::Value,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// Persistence of the audit log (append-only).
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Appends an entry.
    async fn insert_audit(&self, entry: &AuditEntry) -> StoreResult<()>;

    /// A workspace's entries, newest first (`created_at`, then `id`, descending), at most
    /// `limit`, only those of `connection_id` when given.
    async fn list_audit(
        &self,
        workspace_id: &str,
        connection_id: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<AuditEntry>>;
}
