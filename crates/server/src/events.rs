//! The event log: every change to a connection is recorded as an event of the workspace.

use serde_json::Value;
use switchboard_store::Event;

use crate::AppState;

/// Event types.
pub mod kind {
    /// A new connection was made.
    pub const CONNECTION_CREATED: &str = "connection.created";
    /// An existing connection was connected again (tokens replaced).
    pub const CONNECTION_RECONNECTED: &str = "connection.reconnected";
    /// A connection that needed the person works again.
    pub const CONNECTION_RECOVERED: &str = "connection.recovered";
    /// The access token was renewed.
    pub const CONNECTION_REFRESHED: &str = "connection.refreshed";
    /// A refresh failed for a reason that may pass.
    pub const CONNECTION_REFRESH_FAILED: &str = "connection.refresh_failed";
    /// The grant is gone: the person must reconnect.
    pub const CONNECTION_NEEDS_REAUTH: &str = "connection.needs_reauth";
    /// An access token that cannot be renewed expires soon: the person must reconnect before.
    pub const CONNECTION_EXPIRING_SOON: &str = "connection.expiring_soon";
    /// A connection was deleted (and revoked where possible), or deleted on the person's
    /// data deletion request at Meta (payload `reason: data_deletion_request`).
    pub const CONNECTION_DISCONNECTED: &str = "connection.disconnected";
    /// The person removed the app at the platform (Meta's deauthorize callback): the
    /// connection is `revoked`. Payload `{platform, owner, account_id, previous_status,
    /// reason}`.
    pub const CONNECTION_REVOKED: &str = "connection.revoked";
    /// A connect attempt failed at the callback.
    pub const CONNECT_FAILED: &str = "connect.failed";
    /// Facebook: the person chose the Pages to use (`routes::facebook_pages`).
    pub const CONNECTION_PAGES_SELECTED: &str = "connection.pages_selected";
    /// A post target was published (`workers::publish`). Payload: `{post_id, target_id,
    /// platform, page_id, platform_post_id, url}`.
    pub const POST_PUBLISHED: &str = "post.published";
    /// A post target failed for good. Payload: `{post_id, target_id, platform, page_id,
    /// diagnosis}`.
    pub const POST_FAILED: &str = "post.failed";
    /// A post target's outcome is unknown (sent, no answer); it is not retried. Payload as
    /// [`POST_FAILED`].
    pub const POST_UNKNOWN: &str = "post.unknown";

    /// Every event type, the list webhook endpoints may subscribe to.
    pub const ALL: &[&str] = &[
        CONNECTION_CREATED,
        CONNECTION_RECONNECTED,
        CONNECTION_RECOVERED,
        CONNECTION_REFRESHED,
        CONNECTION_REFRESH_FAILED,
        CONNECTION_NEEDS_REAUTH,
        CONNECTION_EXPIRING_SOON,
        CONNECTION_DISCONNECTED,
        CONNECTION_REVOKED,
        CONNECT_FAILED,
        CONNECTION_PAGES_SELECTED,
        POST_PUBLISHED,
        POST_FAILED,
        POST_UNKNOWN,
    ];
}

/// Records an event and queues its delivery to every webhook endpoint of the workspace that
/// subscribes to its type, in one transaction (the outbox,
/// `WebhookStore::record_event`; sent by `workers::webhooks`): a recorded event always has its
/// deliveries. A failure to record is logged, never returned: the change it describes has
/// already happened.
pub async fn emit(
    state: &AppState,
    workspace_id: &str,
    connection_id: Option<&str>,
    kind: &str,
    payload: Value,
) {
    let event = Event {
        id: uuid::Uuid::now_v7().to_string(),
        workspace_id: workspace_id.to_string(),
        connection_id: connection_id.map(str::to_string),
        kind: kind.to_string(),
        payload,
        created_at: state.now(),
    };
    let body = crate::webhooks::body(&event);
    match state.store().record_event(&event, &body).await {
        Ok(queued) if !queued.is_empty() => {
            tracing::debug!(event_id = %event.id, kind, deliveries = queued.len(), "event recorded, webhook deliveries queued");
        }
        Ok(_) => {}
        Err(e) => {
            tracing::error!(error = %e, kind, "event could not be recorded");
        }
    }
}
