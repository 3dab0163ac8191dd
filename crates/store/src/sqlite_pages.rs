//! [`PageStore`] for [`SqliteStore`] (table of `migrations/sqlite/0003_pages.sql`).
//! Timestamps are unix milliseconds, JSON and the task list are TEXT, `selected` is 0 or 1.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::sqlite::SqliteRow;
use sqlx::Row;

use crate::codec::{from_json, from_json_opt, scopes_to_json};
use crate::pages::{ConnectionPage, PageStore};
use crate::sqlite::SqliteStore;
use crate::{StoreError, StoreResult};

const COLUMNS: &str = "connection_id, page_id, name, tasks, position, selected, status, \
     access_token_sealed, last_error, last_checked_at, created_at, updated_at";

fn from_millis(ms: i64, column: &str) -> StoreResult<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms).ok_or_else(|| {
        StoreError::Corrupt(format!(
            "{column} = {ms} is not a representable unix time in milliseconds"
        ))
    })
}

fn page_from_row(row: &SqliteRow) -> StoreResult<ConnectionPage> {
    let tasks: String = row.try_get("tasks")?;
    let selected: i64 = row.try_get("selected")?;
    let error: Option<String> = row.try_get("last_error")?;
    let checked: Option<i64> = row.try_get("last_checked_at")?;
    Ok(ConnectionPage {
        connection_id: row.try_get("connection_id")?,
        page_id: row.try_get("page_id")?,
        name: row.try_get("name")?,
        tasks: from_json(&tasks, "connection_pages.tasks")?,
        position: row.try_get("position")?,
        selected: selected != 0,
        status: row.try_get("status")?,
        access_token_sealed: row.try_get("access_token_sealed")?,
        last_error: from_json_opt(error.as_deref(), "connection_pages.last_error")?,
        last_checked_at: checked
            .map(|ms| from_millis(ms, "connection_pages.last_checked_at"))
            .transpose()?,
        created_at: from_millis(row.try_get("created_at")?, "connection_pages.created_at")?,
        updated_at: from_millis(row.try_get("updated_at")?, "connection_pages.updated_at")?,
    })
}

#[async_trait]
impl PageStore for SqliteStore {
    async fn replace_pages(
        &self,
        connection_id: &str,
        pages: &[ConnectionPage],
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let keep: Vec<String> = pages.iter().map(|p| p.page_id.clone()).collect();
        let mut tx = crate::pool::Tx::begin(self.pool()).await?;
        sqlx::query(
            "DELETE FROM connection_pages WHERE connection_id = ?1 \
             AND page_id NOT IN (SELECT value FROM json_each(?2))",
        )
        .bind(connection_id)
        .bind(scopes_to_json(&keep))
        .execute(&mut *tx)
        .await?;
        for p in pages {
            sqlx::query(
                "INSERT INTO connection_pages (connection_id, page_id, name, tasks, position, \
                 selected, status, access_token_sealed, last_error, last_checked_at, created_at, \
                 updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11) \
                 ON CONFLICT (connection_id, page_id) DO UPDATE SET name = excluded.name, \
                 tasks = excluded.tasks, position = excluded.position, \
                 selected = excluded.selected, status = excluded.status, \
                 access_token_sealed = excluded.access_token_sealed, \
                 last_error = excluded.last_error, last_checked_at = excluded.last_checked_at, \
                 updated_at = excluded.updated_at",
            )
            .bind(connection_id)
            .bind(&p.page_id)
            .bind(&p.name)
            .bind(scopes_to_json(&p.tasks))
            .bind(p.position)
            .bind(i64::from(p.selected))
            .bind(&p.status)
            .bind(&p.access_token_sealed)
            .bind(p.last_error.as_ref().map(|e| e.to_string()))
            .bind(p.last_checked_at.map(|t| t.timestamp_millis()))
            .bind(now.timestamp_millis())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn list_pages(&self, connection_id: &str) -> StoreResult<Vec<ConnectionPage>> {
        sqlx::query(&format!(
            "SELECT {COLUMNS} FROM connection_pages WHERE connection_id = ?1 \
             ORDER BY position, page_id"
        ))
        .bind(connection_id)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(page_from_row)
        .collect()
    }

    async fn get_page(
        &self,
        connection_id: &str,
        page_id: &str,
    ) -> StoreResult<Option<ConnectionPage>> {
        sqlx::query(&format!(
            "SELECT {COLUMNS} FROM connection_pages WHERE connection_id = ?1 AND page_id = ?2"
        ))
        .bind(connection_id)
        .bind(page_id)
        .fetch_optional(self.pool())
        .await?
        .as_ref()
        .map(page_from_row)
        .transpose()
    }

    async fn record_page_check(
        &self,
        connection_id: &str,
        page_id: &str,
        status: &str,
        error: Option<&serde_json::Value>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE connection_pages SET status = ?3, last_error = ?4, last_checked_at = ?5, \
             updated_at = ?5 WHERE connection_id = ?1 AND page_id = ?2",
        )
        .bind(connection_id)
        .bind(page_id)
        .bind(status)
        .bind(error.map(|e| e.to_string()))
        .bind(now.timestamp_millis())
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn mark_connection_checked(
        &self,
        connection_id: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE connections SET last_checked_at = ?2 WHERE id = ?1")
            .bind(connection_id)
            .bind(now.timestamp_millis())
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn connection_checked_at(
        &self,
        connection_id: &str,
    ) -> StoreResult<Option<DateTime<Utc>>> {
        let ms: Option<Option<i64>> =
            sqlx::query_scalar("SELECT last_checked_at FROM connections WHERE id = ?1")
                .bind(connection_id)
                .fetch_optional(self.pool())
                .await?;
        ms.flatten()
            .map(|ms| from_millis(ms, "connections.last_checked_at"))
            .transpose()
    }
}
