//! [`MaintenanceStore`] for [`PgStore`].
//!
//! Key ids are read through the expression indexes of `0009_keys_retention.sql`
//! ([`postgres_key_id_expr`] spells the same expression). Re-sealing is one conditional
//! `UPDATE ... FROM unnest($1::text[], $2::text[], $3::text[])` per batch (keys, ciphertexts
//! read, new ciphertexts): under READ COMMITTED a concurrent token update of the same row either
//! commits first (then the ciphertext no longer matches and the row is left alone) or waits for
//! the batch and then applies on top (its own `version` check still holds: the rotation does
//! not bump it). Purges delete at most `limit` rows per statement.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Row;

use crate::maintenance::{
    key_gaps, postgres_key_id_expr, purge_sql, KeyUsage, MaintenanceStore, Purge, PurgedConnection,
    SealedColumn, SealedRow,
};
use crate::postgres::PgStore;
use crate::StoreResult;

const GROUP_BY: &str = " GROUP BY 1 ORDER BY 1";

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

#[async_trait]
impl MaintenanceStore for PgStore {
    async fn sealed_key_usage(&self) -> StoreResult<Vec<KeyUsage>> {
        let mut out = Vec::new();
        for column in SealedColumn::ALL {
            let expr = postgres_key_id_expr(column.column());
            let rows = sqlx::query(&format!(
                "SELECT {expr} AS key_id, COUNT(*) AS n FROM {} WHERE {expr} IS NOT NULL \
                 GROUP BY 1 ORDER BY 1",
                column.table()
            ))
            .fetch_all(self.pool())
            .await?;
            for r in rows {
                out.push(KeyUsage {
                    column,
                    key_id: r.try_get("key_id")?,
                    rows: count(r.try_get("n")?),
                });
            }
        }
        Ok(out)
    }

    async fn sealed_outside_keys(&self, key_ids: &[String]) -> StoreResult<Vec<KeyUsage>> {
        let mut out = Vec::new();
        for column in SealedColumn::ALL {
            let expr = postgres_key_id_expr(column.column());
            for (lower, upper) in key_gaps(key_ids) {
                let mut sql = format!(
                    "SELECT {expr} AS key_id, COUNT(*) AS n FROM {} WHERE {expr} >= ''",
                    column.table()
                );
                let bounds: Vec<(&str, String)> = [(">", lower), ("<", upper)]
                    .into_iter()
                    .filter_map(|(op, b)| b.map(|b| (op, b)))
                    .collect();
                for (i, (op, _)) in bounds.iter().enumerate() {
                    sql.push_str(&format!(" AND {expr} {op} ${}", i + 1));
                }
                sql.push_str(GROUP_BY);
                let mut q = sqlx::query(&sql);
                for (_, b) in bounds {
                    q = q.bind(b);
                }
                let rows = q.fetch_all(self.pool()).await?;
                for r in rows {
                    out.push(KeyUsage {
                        column,
                        key_id: r.try_get("key_id")?,
                        rows: count(r.try_get("n")?),
                    });
                }
            }
        }
        Ok(out)
    }

    async fn sealed_batch(
        &self,
        column: SealedColumn,
        except_key: &str,
        after: Option<(&str, Option<&str>)>,
        limit: u32,
    ) -> StoreResult<Vec<SealedRow>> {
        let expr = postgres_key_id_expr(column.column());
        let (k1, k2) = column.key_columns();
        let (table, col) = (column.table(), column.column());
        let (a1, a2) = after.unwrap_or(("", None));
        let sql = match k2 {
            None => format!(
                "SELECT {k1}, NULL::text, {col} FROM {table} \
                 WHERE {expr} <> $1 AND {k1} > $2 ORDER BY {k1} LIMIT $3"
            ),
            Some(k2) => format!(
                "SELECT {k1}, {k2}, {col} FROM {table} \
                 WHERE {expr} <> $1 AND ({k1}, {k2}) > ($2, $4) \
                 ORDER BY {k1}, {k2} LIMIT $3"
            ),
        };
        let mut q = sqlx::query_as::<_, (String, Option<String>, String)>(&sql)
            .bind(except_key)
            .bind(a1)
            .bind(i64::from(limit));
        if k2.is_some() {
            q = q.bind(a2.unwrap_or(""));
        }
        let rows = q.fetch_all(self.pool()).await?;
        Ok(rows
            .into_iter()
            .map(|(id, page_id, sealed)| SealedRow {
                column,
                id,
                page_id,
                sealed,
            })
            .collect())
    }

    /// One `UPDATE ... FROM unnest(keys, old, new)` per column in the batch (a batch of
    /// `rotate_keys` is one column), in one transaction: a round trip per batch instead of per
    /// row. The join keeps the per-row condition `column = old`, so a row whose ciphertext
    /// changed since it was read is left alone (under READ COMMITTED the statement re-checks
    /// it against a concurrent update that committed first).
    async fn replace_sealed(&self, replacements: &[(SealedRow, String)]) -> StoreResult<u64> {
        let mut tx = crate::pool::Tx::begin(self.pool()).await?;
        let mut done = 0;
        for column in SealedColumn::ALL {
            let rows: Vec<&(SealedRow, String)> = replacements
                .iter()
                .filter(|(row, _)| row.column == column)
                .collect();
            if rows.is_empty() {
                continue;
            }
            let (k1, k2) = column.key_columns();
            let (table, col) = (column.table(), column.column());
            let keys: Vec<&str> = rows.iter().map(|(r, _)| r.id.as_str()).collect();
            let old: Vec<&str> = rows.iter().map(|(r, _)| r.sealed.as_str()).collect();
            let new: Vec<&str> = rows.iter().map(|(_, n)| n.as_str()).collect();
            let sql = match k2 {
                None => format!(
                    "UPDATE {table} AS t SET {col} = u.new \
                     FROM unnest($1::text[], $2::text[], $3::text[]) AS u(k1, old, new) \
                     WHERE t.{k1} = u.k1 AND t.{col} = u.old"
                ),
                Some(k2) => format!(
                    "UPDATE {table} AS t SET {col} = u.new \
                     FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) \
                          AS u(k1, old, new, k2) \
                     WHERE t.{k1} = u.k1 AND t.{k2} = u.k2 AND t.{col} = u.old"
                ),
            };
            let mut q = sqlx::query(&sql).bind(&keys).bind(&old).bind(&new);
            if k2.is_some() {
                let second: Vec<&str> = rows
                    .iter()
                    .map(|(r, _)| r.page_id.as_deref().unwrap_or_default())
                    .collect();
                q = q.bind(second);
            }
            done += q.execute(&mut *tx).await?.rows_affected();
        }
        tx.commit().await?;
        Ok(done)
    }

    async fn purge_connections(
        &self,
        statuses: &[&str],
        inactive_before: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<PurgedConnection>> {
        if statuses.is_empty() {
            return Ok(Vec::new());
        }
        let statuses: Vec<String> = statuses.iter().map(|s| s.to_string()).collect();
        sqlx::query(
            "DELETE FROM connections WHERE id IN (
                 SELECT id FROM connections
                 WHERE status = ANY($3) AND updated_at < $1
                 ORDER BY updated_at LIMIT $2
                 FOR UPDATE SKIP LOCKED)
             RETURNING id, workspace_id, platform, status",
        )
        .bind(inactive_before)
        .bind(i64::from(limit))
        .bind(&statuses)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(|r| {
            Ok(PurgedConnection {
                id: r.try_get("id")?,
                workspace_id: r.try_get("workspace_id")?,
                platform: r.try_get("platform")?,
                status: r.try_get("status")?,
            })
        })
        .collect()
    }

    async fn purge(&self, what: Purge, before: DateTime<Utc>, limit: u32) -> StoreResult<u64> {
        let (table, pk, cond) = purge_sql(what);
        let sql = format!(
            "DELETE FROM {table} WHERE {pk} IN (SELECT x.{pk} FROM {table} AS x WHERE {cond} \
             LIMIT $2 FOR UPDATE SKIP LOCKED)"
        );
        Ok(sqlx::query(&sql)
            .bind(before)
            .bind(i64::from(limit))
            .execute(self.pool())
            .await?
            .rows_affected())
    }
}
