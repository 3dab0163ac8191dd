//! Facebook Pages of a connection: the Pages the connected person manages, which of them they
//! chose to use, and each chosen Page's access token (sealed).
//!
//! Facebook (PLATFORMS.md §3) authorizes a person, not a Page: after the code exchange the person
//! picks the Pages Switchboard may use. `GET /me/accounts` lists them with one Page access token
//! each; a Page token obtained with a long-lived user token does not expire, but dies when the
//! person changes their password or loses their role on the Page.
//!
//! Table `connection_pages` (migration `0003_pages.sql`), keyed by `(connection_id, page_id)`;
//! rows go away with their connection (`ON DELETE CASCADE`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::StoreResult;

/// Page status: listed by the platform, not chosen.
pub const PAGE_AVAILABLE: &str = "available";
/// Page status: chosen, and its token passed the last check (or was just issued).
pub const PAGE_HEALTHY: &str = "healthy";
/// Page status: chosen, but the platform refused its token (password changed, role lost).
pub const PAGE_NEEDS_REAUTH: &str = "needs_reauth";

/// One Page a connected account manages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectionPage {
    /// The connection (a Facebook user grant) the Page was listed for.
    pub connection_id: String,
    /// The platform's Page id.
    pub page_id: String,
    /// Page name as the platform lists it.
    pub name: String,
    /// What the person may do on the Page (`CREATE_CONTENT`, `MANAGE`, ...), as listed.
    pub tasks: Vec<String>,
    /// Order in the platform's listing (0-based); lists are returned in this order.
    pub position: i64,
    /// Whether the person chose this Page.
    pub selected: bool,
    /// [`PAGE_AVAILABLE`], [`PAGE_HEALTHY`] or [`PAGE_NEEDS_REAUTH`].
    pub status: String,
    /// The Page access token, sealed by the vault (context
    /// `page:<connection id>:<page id>:access_token`); only chosen Pages have one.
    pub access_token_sealed: Option<String>,
    /// The last failure of this Page's token (a diagnosis as JSON), cleared when it passes.
    pub last_error: Option<serde_json::Value>,
    /// When the Page's token was last checked live.
    pub last_checked_at: Option<DateTime<Utc>>,
    /// When the row was first stored.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// Persistence of Facebook Pages and of the connection health-check bookkeeping.
#[async_trait]
pub trait PageStore: Send + Sync {
    /// Replaces the stored Pages of a connection with `pages` in one transaction: rows not in
    /// `pages` are deleted, the others inserted or overwritten (keeping their `created_at`).
    /// Every element must carry `connection_id`.
    async fn replace_pages(
        &self,
        connection_id: &str,
        pages: &[ConnectionPage],
        now: DateTime<Utc>,
    ) -> StoreResult<()>;

    /// The stored Pages of a connection, in listing order (`position`, then `page_id`).
    async fn list_pages(&self, connection_id: &str) -> StoreResult<Vec<ConnectionPage>>;

    /// One stored Page of a connection.
    async fn get_page(
        &self,
        connection_id: &str,
        page_id: &str,
    ) -> StoreResult<Option<ConnectionPage>>;

    /// Records the outcome of a live check of a Page's token: its status, its failure
    /// (`None` clears it) and `last_checked_at = now`. False when there is no such Page.
    async fn record_page_check(
        &self,
        connection_id: &str,
        page_id: &str,
        status: &str,
        error: Option<&serde_json::Value>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// Sets `connections.last_checked_at` (the last health check). False when there is no such
    /// connection.
    async fn mark_connection_checked(
        &self,
        connection_id: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// `connections.last_checked_at`; `None` when never checked or no such connection.
    async fn connection_checked_at(
        &self,
        connection_id: &str,
    ) -> StoreResult<Option<DateTime<Utc>>>;
}
