//! [`PageStore`] for [`PgStore`] (table of `migrations/postgres/0003_pages.sql`).
//! Timestamps are `timestamptz`, the task list `text[]`, the diagnosis `jsonb`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::Row;

use crate::codec::from_json_opt;
use crate::pages::{ConnectionPage, PageStore};
use crate::postgres::PgStore;
use crate::StoreResult;

const COLUMNS: &str = "connection_id, page_id, name, tasks, position, selected, status, \
     access_token_sealed, last_error::text AS last_error, last_checked_at, created_at, updated_at";

fn page_from_row(row: &PgRow) -> StoreResult<ConnectionPage> {
    let error: Option<String> = row.try_get("last_error")?;
    Ok(ConnectionPage {
        connection_id: row.try_get("connection_id")?,
        page_id: row.try_get("page_id")?,
        name: row.try_get("name")?,
        tasks: row.try_get("tasks")?,
        position: row.try_get("position")?,
        selected: row.try_get("selected")?,
        status: row.try_get("status")?,
        access_token_sealed: row.try_get("access_token_sealed")?,
        last_error: from_json_opt(error.as_deref(), "connection_pages.last_error")?,
        last_checked_at: row.try_get("last_checked_at")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

#[async_trait]
impl PageStore for PgStore {
    async fn replace_pages(
        &self,
        connection_id: &str,
        pages: &[ConnectionPage],
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let keep: Vec<String> = pages.iter().map(|p| p.page_id.clone()).collect();
        let mut tx = crate::pool::Tx::begin(self.pool()).await?;
        sqlx::query(
            "DELETE FROM connection_pages WHERE connection_id = $1 AND NOT (page_id = ANY($2))",
        )
        .bind(connection_id)
        .bind(&keep)
        .execute(&mut *tx)
        .await?;
        for p in pages {
            sqlx::query(
                "INSERT INTO connection_pages (connection_id, page_id, name, tasks, position, \
                 selected, status, access_token_sealed, last_error, last_checked_at, created_at, \
                 updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10, $11, $11) \
                 ON CONFLICT (connection_id, page_id) DO UPDATE SET name = EXCLUDED.name, \
                 tasks = EXCLUDED.tasks, position = EXCLUDED.position, \
                 selected = EXCLUDED.selected, status = EXCLUDED.status, \
                 access_token_sealed = EXCLUDED.access_token_sealed, \
                 last_error = EXCLUDED.last_error, last_checked_at = EXCLUDED.last_checked_at, \
                 updated_at = EXCLUDED.updated_at",
            )
            .bind(connection_id)
            .bind(&p.page_id)
            .bind(&p.name)
            .bind(&p.tasks)
            .bind(p.position)
            .bind(p.selected)
            .bind(&p.status)
            .bind(&p.access_token_sealed)
            .bind(p.last_error.as_ref().map(|e| e.to_string()))
            .bind(p.last_checked_at)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn list_pages(&self, connection_id: &str) -> StoreResult<Vec<ConnectionPage>> {
        sqlx::query(&format!(
            "SELECT {COLUMNS} FROM connection_pages WHERE connection_id = $1 \
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
            "SELECT {COLUMNS} FROM connection_pages WHERE connection_id = $1 AND page_id = $2"
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
            "UPDATE connection_pages SET status = $3, last_error = $4::jsonb, \
             last_checked_at = $5, updated_at = $5 WHERE connection_id = $1 AND page_id = $2",
        )
        .bind(connection_id)
        .bind(page_id)
        .bind(status)
        .bind(error.map(|e| e.to_string()))
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn mark_connection_checked(
        &self,
        connection_id: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE connections SET last_checked_at = $2 WHERE id = $1")
            .bind(connection_id)
            .bind(now)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn connection_checked_at(
        &self,
        connection_id: &str,
    ) -> StoreResult<Option<DateTime<Utc>>> {
        let at: Option<Option<DateTime<Utc>>> =
            sqlx::query_scalar("SELECT last_checked_at FROM connections WHERE id = $1")
                .bind(connection_id)
                .fetch_optional(self.pool())
                .await?;
        Ok(at.flatten())
    }
}
