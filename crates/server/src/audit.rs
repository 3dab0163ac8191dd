//! The audit log: who changed what on each connection (and on the workspace's webhooks).
//!
//! Actors: `api_key:<key id>` for API calls ([`crate::extract::WorkspaceAuth::actor`]),
//! [`OAUTH_CALLBACK`] for a person finishing a connect, [`SYSTEM_REFRESH`] for renewals
//! Switchboard makes on its own. Details never hold tokens or secrets.

use serde_json::Value;
use switchboard_store::webhooks::AuditEntry;

use crate::AppState;

/// Actor of a person finishing a connect at the OAuth callback.
pub const OAUTH_CALLBACK: &str = "oauth_callback";
/// Actor of refreshes Switchboard makes on its own (on demand or in the background).
pub const SYSTEM_REFRESH: &str = "system:refresh";

/// Audit actions.
pub mod action {
    /// A connection was made.
    pub const CONNECTION_CREATED: &str = "connection.created";
    /// An existing connection was connected again.
    pub const CONNECTION_RECONNECTED: &str = "connection.reconnected";
    /// A connection's access token was renewed.
    pub const CONNECTION_REFRESHED: &str = "connection.refreshed";
    /// A connection was deleted.
    pub const CONNECTION_DELETED: &str = "connection.deleted";
    /// A connection was marked revoked because the person removed the app at the platform.
    pub const CONNECTION_REVOKED: &str = "connection.revoked";
    /// A webhook endpoint was added.
    pub const WEBHOOK_CREATED: &str = "webhook.created";
    /// A webhook endpoint was removed.
    pub const WEBHOOK_DELETED: &str = "webhook.deleted";
}

/// The actor of an API call made with the key `key_id`: `api_key:<key id>`.
pub fn api_key_actor(key_id: &str) -> String {
    format!("api_key:{key_id}")
}

/// Appends an entry. A failure to record is logged, never returned: the change it describes has
/// already happened.
pub async fn record(
    state: &AppState,
    workspace_id: &str,
    connection_id: Option<&str>,
    actor: &str,
    action: &str,
    details: Value,
) {
    let entry = AuditEntry {
        id: uuid::Uuid::now_v7().to_string(),
        workspace_id: workspace_id.to_string(),
        connection_id: connection_id.map(str::to_string),
        actor: actor.to_string(),
        action: action.to_string(),
        details,
        created_at: state.now(),
    };
    if let Err(e) = state.store().insert_audit(&entry).await {
        tracing::error!(error = %e, action, "audit entry could not be recorded");
    }
}
