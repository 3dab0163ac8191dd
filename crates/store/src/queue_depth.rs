//! How much work is waiting: the numbers behind the `switchboard_queue_depth` gauge
//! (`server/src/metrics.rs`), read by a periodic sampler, never per request. Each figure is one
//! `COUNT(*)` over an indexed range of its queue table.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::StoreResult;

/// The backlog of each queue at one instant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueDepth {
    /// Connections whose access token expires before their platform's refresh instant and
    /// that the refresh worker may take now (not backing off, grant not dead), claimed or not.
    pub refresh_due: u64,
    /// Post targets due now (`scheduled` or `publishing` between steps, `next_attempt_at` past)
    /// and not claimed by a dispatcher.
    pub publish_due: u64,
    /// Post targets claimed by a dispatcher right now (lease running).
    pub publish_in_flight: u64,
    /// Webhook deliveries `pending` whose next attempt is due.
    pub webhooks_pending: u64,
}

/// Counting the queues.
#[async_trait]
pub trait QueueDepthStore {
    /// The depth of every queue at `now`. `refresh_due_before` gives, per platform id, the
    /// instant before which an access token counts as due for a refresh (now + that platform's
    /// refresh buffer); platforms not listed are not counted.
    async fn queue_depth(
        &self,
        refresh_due_before: &[(String, DateTime<Utc>)],
        now: DateTime<Utc>,
    ) -> StoreResult<QueueDepth>;
}
