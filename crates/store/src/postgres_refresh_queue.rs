//! [`RefreshQueue`] on PostgreSQL: claims take their rows with `FOR UPDATE SKIP LOCKED`, so
//! instances claiming at the same moment never take the same connection.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{connection_from_row, PgStore};
use crate::refresh_queue::{Claimed, DueRefreshes, RefreshQueue};
use crate::{Connection, StoreResult};

#[async_trait]
impl RefreshQueue for PgStore {
    async fn claim_due_refreshes(
        &self,
        due: &DueRefreshes<'_>,
        owner: &str,
        lease_until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<Claimed>> {
        let rows = sqlx::query(concat!(
            "UPDATE connections SET refresh_locked_by = $1, refresh_locked_until = $2,
                 refresh_attempts_today = CASE WHEN refresh_attempts_day = $9
                                               THEN refresh_attempts_today + 1 ELSE 1 END,
                 refresh_attempts_day = $9
             WHERE id IN (
                 SELECT id FROM connections
                 WHERE platform = $3 AND expires_at IS NOT NULL AND expires_at <= $4
                   AND (expires_at - $7) * 4 <= expires_at - token_obtained_at
                   AND status NOT IN ('needs_reauth', 'revoked', 'pending_selection')
                   AND (NOT $5 OR refresh_token_sealed IS NOT NULL)
                   AND ($6::timestamptz IS NULL OR token_obtained_at <= $6)
                   AND (next_refresh_at IS NULL OR next_refresh_at <= $7)
                   AND (refresh_locked_until IS NULL OR refresh_locked_until <= $7)
                 ORDER BY (refresh_locked_until IS NULL), expires_at
                 LIMIT $8
                 FOR UPDATE SKIP LOCKED)
             RETURNING refresh_attempts_today, ",
            connection_columns!()
        ))
        .bind(owner)
        .bind(lease_until)
        .bind(due.platform)
        .bind(due.due_before)
        .bind(due.needs_refresh_token)
        .bind(due.obtained_before)
        .bind(now)
        .bind(i64::from(due.limit))
        .bind(due.day)
        .fetch_all(self.pool())
        .await?;
        let mut out = rows
            .iter()
            .map(|row| {
                let attempts: i32 = row.try_get("refresh_attempts_today")?;
                Ok(Claimed {
                    connection: connection_from_row(row)?,
                    attempts_today: u32::try_from(attempts).unwrap_or(u32::MAX),
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        out.sort_by_key(|c| c.connection.expires_at);
        Ok(out)
    }

    async fn release_refresh_claim(
        &self,
        id: &str,
        owner: &str,
        next_at: Option<DateTime<Utc>>,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE connections SET next_refresh_at = $3,
                 refresh_locked_by = CASE WHEN refresh_locked_by = $2 THEN NULL ELSE refresh_locked_by END,
                 refresh_locked_until = CASE WHEN refresh_locked_by = $2 THEN NULL ELSE refresh_locked_until END
             WHERE id = $1",
        )
        .bind(id)
        .bind(owner)
        .bind(next_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn expiry_candidates(
        &self,
        platform: &str,
        warn_before: DateTime<Utc>,
        now: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<Connection>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            connection_columns!(),
            " FROM connections
             WHERE platform = $1 AND refresh_token_sealed IS NULL
               AND expires_at IS NOT NULL AND expires_at <= $2
               AND status NOT IN ('needs_reauth', 'revoked', 'expired')
               AND (expiry_warned_at IS NULL OR expiry_warned_at < token_obtained_at
                    OR expires_at <= $3)
             ORDER BY expires_at LIMIT $4"
        ))
        .bind(platform)
        .bind(warn_before)
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(connection_from_row).collect()
    }

    async fn refresh_failures(&self, id: &str) -> StoreResult<u32> {
        let n: Option<i64> = sqlx::query_scalar(
            "SELECT CAST(refresh_failures AS BIGINT) FROM connections WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        Ok(u32::try_from(n.unwrap_or(0)).unwrap_or(u32::MAX))
    }

    async fn mark_expiry_warned(&self, id: &str, at: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query("UPDATE connections SET expiry_warned_at = $2 WHERE id = $1")
            .bind(id)
            .bind(at)
            .execute(self.pool())
            .await?;
        Ok(())
    }
}
