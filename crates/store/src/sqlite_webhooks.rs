//! [`WebhookStore`] and [`AuditStore`] for [`SqliteStore`]. Conventions as in `sqlite.rs`:
//! timestamps are unix milliseconds, JSON is TEXT; the delivery claim is one
//! `UPDATE ... RETURNING` (SQLite runs it under the database write lock, so a delivery is leased
//! to one caller across every pool and process on the file).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::sqlite::SqliteRow;
use sqlx::Row;

use crate::codec::{from_json, scopes_to_json};
use crate::sqlite::SqliteStore;
use crate::webhooks::{
    AuditEntry, AuditStore, DeliveryAttempt, DeliveryStatus, NewDeliveries, Webhook,
    WebhookDelivery, WebhookStore,
};
use crate::{StoreError, StoreResult};

/// Columns of `webhooks` that make up a [`Webhook`].
macro_rules! webhook_columns {
    () => {
        "id, workspace_id, url, events, description, secret_sealed, created_at"
    };
}

/// Columns of `webhook_deliveries` that make up a [`WebhookDelivery`].
macro_rules! delivery_columns {
    () => {
        "id, webhook_id, workspace_id, event_id, event_type, body, status, attempts, \
         last_status_code, last_error, next_attempt_at, delivered_at, created_at"
    };
}

fn to_millis(time: DateTime<Utc>) -> i64 {
    time.timestamp_millis()
}

fn from_millis(millis: i64, column: &str) -> StoreResult<DateTime<Utc>> {
    DateTime::from_timestamp_millis(millis).ok_or_else(|| {
        StoreError::Corrupt(format!(
            "{column} = {millis} is not a representable unix time in milliseconds"
        ))
    })
}

fn time(row: &SqliteRow, column: &str) -> StoreResult<DateTime<Utc>> {
    from_millis(row.try_get(column)?, column)
}

fn time_opt(row: &SqliteRow, column: &str) -> StoreResult<Option<DateTime<Utc>>> {
    let millis: Option<i64> = row.try_get(column)?;
    millis.map(|m| from_millis(m, column)).transpose()
}

fn webhook_from_row(row: &SqliteRow) -> StoreResult<Webhook> {
    Ok(Webhook {
        id: row.try_get("id")?,
        workspace_id: row.try_get("workspace_id")?,
        url: row.try_get("url")?,
        events: from_json(row.try_get("events")?, "webhooks.events")?,
        description: row.try_get("description")?,
        secret_sealed: row.try_get("secret_sealed")?,
        created_at: time(row, "created_at")?,
    })
}

fn delivery_from_row(row: &SqliteRow) -> StoreResult<WebhookDelivery> {
    let status: String = row.try_get("status")?;
    let attempts: i64 = row.try_get("attempts")?;
    let code: Option<i64> = row.try_get("last_status_code")?;
    Ok(WebhookDelivery {
        id: row.try_get("id")?,
        webhook_id: row.try_get("webhook_id")?,
        workspace_id: row.try_get("workspace_id")?,
        event_id: row.try_get("event_id")?,
        event_type: row.try_get("event_type")?,
        body: row.try_get("body")?,
        status: DeliveryStatus::parse(&status).ok_or_else(|| {
            StoreError::Corrupt(format!("webhook_deliveries.status = {status:?}"))
        })?,
        attempts: u32::try_from(attempts).map_err(|_| {
            StoreError::Corrupt(format!("webhook_deliveries.attempts = {attempts}"))
        })?,
        last_status_code: code
            .map(|c| {
                u16::try_from(c).map_err(|_| {
                    StoreError::Corrupt(format!("webhook_deliveries.last_status_code = {c}"))
                })
            })
            .transpose()?,
        last_error: row.try_get("last_error")?,
        next_attempt_at: time(row, "next_attempt_at")?,
        delivered_at: time_opt(row, "delivered_at")?,
        created_at: time(row, "created_at")?,
    })
}

fn audit_from_row(row: &SqliteRow) -> StoreResult<AuditEntry> {
    Ok(AuditEntry {
        id: row.try_get("id")?,
        workspace_id: row.try_get("workspace_id")?,
        connection_id: row.try_get("connection_id")?,
        actor: row.try_get("actor")?,
        action: row.try_get("action")?,
        details: from_json(row.try_get("details")?, "audit_log.details")?,
        created_at: time(row, "created_at")?,
    })
}

/// Sorts claimed or queued rows earliest due first (RETURNING has no defined order).
fn by_due(mut rows: Vec<WebhookDelivery>) -> Vec<WebhookDelivery> {
    rows.sort_by(|a, b| (a.next_attempt_at, &a.id).cmp(&(b.next_attempt_at, &b.id)));
    rows
}

/// Queues `new`'s deliveries on `conn` (inside the caller's transaction, or not).
async fn enqueue_on(
    conn: &mut sqlx::SqliteConnection,
    new: &NewDeliveries<'_>,
) -> StoreResult<Vec<WebhookDelivery>> {
    let ids: Vec<String> = sqlx::query_scalar(
        "SELECT id FROM webhooks
         WHERE workspace_id = $1
           AND (json_array_length(events) = 0
                OR EXISTS (SELECT 1 FROM json_each(webhooks.events) AS e WHERE e.value = $2))
         ORDER BY created_at, id",
    )
    .bind(new.workspace_id)
    .bind(new.event_type)
    .fetch_all(&mut *conn)
    .await?;
    let mut queued = Vec::with_capacity(ids.len());
    for webhook_id in ids {
        let row = sqlx::query(concat!(
            "INSERT INTO webhook_deliveries (id, webhook_id, workspace_id, event_id, event_type,
                 body, status, attempts, next_attempt_at, created_at)
             SELECT $1, id, workspace_id, $3, $4, $5, 'pending', 0, $6, $6
             FROM webhooks WHERE id = $2
             ON CONFLICT (webhook_id, event_id) DO NOTHING
             RETURNING ",
            delivery_columns!()
        ))
        .bind(uuid::Uuid::now_v7().to_string())
        .bind(&webhook_id)
        .bind(new.event_id)
        .bind(new.event_type)
        .bind(new.body)
        .bind(to_millis(new.now))
        .fetch_optional(&mut *conn)
        .await?;
        if let Some(row) = row {
            queued.push(delivery_from_row(&row)?);
        }
    }
    Ok(queued)
}

#[async_trait]
impl WebhookStore for SqliteStore {
    async fn create_webhook(&self, webhook: &Webhook) -> StoreResult<()> {
        sqlx::query(concat!(
            "INSERT INTO webhooks (",
            webhook_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7)"
        ))
        .bind(&webhook.id)
        .bind(&webhook.workspace_id)
        .bind(&webhook.url)
        .bind(scopes_to_json(&webhook.events))
        .bind(&webhook.description)
        .bind(&webhook.secret_sealed)
        .bind(to_millis(webhook.created_at))
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn list_webhooks(&self, workspace_id: &str) -> StoreResult<Vec<Webhook>> {
        sqlx::query(concat!(
            "SELECT ",
            webhook_columns!(),
            " FROM webhooks WHERE workspace_id = $1 ORDER BY created_at, id"
        ))
        .bind(workspace_id)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(webhook_from_row)
        .collect()
    }

    async fn get_webhook(&self, workspace_id: &str, id: &str) -> StoreResult<Option<Webhook>> {
        sqlx::query(concat!(
            "SELECT ",
            webhook_columns!(),
            " FROM webhooks WHERE workspace_id = $1 AND id = $2"
        ))
        .bind(workspace_id)
        .bind(id)
        .fetch_optional(self.pool())
        .await?
        .map(|row| webhook_from_row(&row))
        .transpose()
    }

    async fn get_webhook_by_id(&self, id: &str) -> StoreResult<Option<Webhook>> {
        sqlx::query(concat!(
            "SELECT ",
            webhook_columns!(),
            " FROM webhooks WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(self.pool())
        .await?
        .map(|row| webhook_from_row(&row))
        .transpose()
    }

    /// Deliveries go with it (`ON DELETE CASCADE`; foreign keys are on for every connection).
    async fn delete_webhook(&self, workspace_id: &str, id: &str) -> StoreResult<bool> {
        let result = sqlx::query("DELETE FROM webhooks WHERE workspace_id = $1 AND id = $2")
            .bind(workspace_id)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(result.rows_affected() > 0)
    }

    /// Selects the matching endpoints (`json_each` over `events`), then inserts one row per
    /// endpoint with `INSERT ... SELECT ... ON CONFLICT DO NOTHING`, which inserts nothing for an
    /// endpoint deleted in between.
    async fn enqueue_deliveries(
        &self,
        new: &NewDeliveries<'_>,
    ) -> StoreResult<Vec<WebhookDelivery>> {
        enqueue_on(&mut *self.pool().acquire().await?, new).await
    }

    /// One transaction: the event's `INSERT`, then the deliveries as `enqueue_deliveries`.
    async fn record_event(
        &self,
        event: &crate::Event,
        body: &str,
    ) -> StoreResult<Vec<WebhookDelivery>> {
        let mut tx = crate::pool::Tx::begin(self.pool()).await?;
        sqlx::query(
            "INSERT INTO events (id, workspace_id, connection_id, kind, payload, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&event.id)
        .bind(&event.workspace_id)
        .bind(&event.connection_id)
        .bind(&event.kind)
        .bind(event.payload.to_string())
        .bind(to_millis(event.created_at))
        .execute(&mut *tx)
        .await?;
        let new = NewDeliveries {
            workspace_id: &event.workspace_id,
            event_id: &event.id,
            event_type: &event.kind,
            body,
            now: event.created_at,
        };
        let queued = enqueue_on(&mut tx, &new).await?;
        tx.commit().await?;
        Ok(queued)
    }

    /// One `UPDATE ... WHERE id IN (SELECT ... LIMIT) RETURNING`; the skipped endpoints are
    /// one JSON array parameter.
    async fn claim_deliveries_except(
        &self,
        owner: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
        limit: u32,
        skip_webhooks: &[String],
    ) -> StoreResult<Vec<WebhookDelivery>> {
        let rows = sqlx::query(concat!(
            "UPDATE webhook_deliveries SET locked_by = $1, locked_until = $2
             WHERE id IN (
                 SELECT id FROM webhook_deliveries
                 WHERE status = 'pending' AND next_attempt_at <= $3
                   AND (locked_until IS NULL OR locked_until <= $3)
                   AND webhook_id NOT IN (SELECT value FROM json_each($5))
                 ORDER BY next_attempt_at, id
                 LIMIT $4)
             RETURNING ",
            delivery_columns!()
        ))
        .bind(owner)
        .bind(to_millis(until))
        .bind(to_millis(now))
        .bind(i64::from(limit))
        .bind(serde_json::Value::from(skip_webhooks.to_vec()).to_string())
        .fetch_all(self.pool())
        .await?;
        Ok(by_due(
            rows.iter()
                .map(delivery_from_row)
                .collect::<StoreResult<_>>()?,
        ))
    }

    async fn record_delivery_attempt(
        &self,
        id: &str,
        owner: &str,
        attempt: &DeliveryAttempt,
    ) -> StoreResult<Option<WebhookDelivery>> {
        let delivered_at =
            (attempt.status == DeliveryStatus::Delivered).then(|| to_millis(attempt.at));
        sqlx::query(concat!(
            "UPDATE webhook_deliveries SET
                 attempts         = attempts + 1,
                 status           = $3,
                 last_status_code = $4,
                 last_error       = $5,
                 next_attempt_at  = COALESCE($6, next_attempt_at),
                 delivered_at     = $7,
                 locked_by        = NULL,
                 locked_until     = NULL
             WHERE id = $1 AND locked_by = $2
             RETURNING ",
            delivery_columns!()
        ))
        .bind(id)
        .bind(owner)
        .bind(attempt.status.as_str())
        .bind(attempt.status_code.map(i64::from))
        .bind(&attempt.error)
        .bind(attempt.next_attempt_at.map(to_millis))
        .bind(delivered_at)
        .fetch_optional(self.pool())
        .await?
        .map(|row| delivery_from_row(&row))
        .transpose()
    }

    async fn list_deliveries(
        &self,
        workspace_id: &str,
        webhook_id: &str,
        limit: u32,
    ) -> StoreResult<Vec<WebhookDelivery>> {
        sqlx::query(concat!(
            "SELECT ",
            delivery_columns!(),
            " FROM webhook_deliveries
              WHERE workspace_id = $1 AND webhook_id = $2
              ORDER BY created_at DESC, id DESC
              LIMIT $3"
        ))
        .bind(workspace_id)
        .bind(webhook_id)
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(delivery_from_row)
        .collect()
    }
}

#[async_trait]
impl AuditStore for SqliteStore {
    async fn insert_audit(&self, entry: &AuditEntry) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO audit_log (id, workspace_id, connection_id, actor, action, details,
                                    created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&entry.id)
        .bind(&entry.workspace_id)
        .bind(&entry.connection_id)
        .bind(&entry.actor)
        .bind(&entry.action)
        .bind(entry.details.to_string())
        .bind(to_millis(entry.created_at))
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn list_audit(
        &self,
        workspace_id: &str,
        connection_id: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<AuditEntry>> {
        sqlx::query(
            "SELECT id, workspace_id, connection_id, actor, action, details, created_at
             FROM audit_log
             WHERE workspace_id = $1 AND ($2 IS NULL OR connection_id = $2)
             ORDER BY created_at DESC, id DESC
             LIMIT $3",
        )
        .bind(workspace_id)
        .bind(connection_id)
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(audit_from_row)
        .collect()
    }
}
