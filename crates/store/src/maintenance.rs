//! Maintenance of the stored data: which encryption keys the sealed columns use and re-sealing
//! them with the active key ([`rotate_keys`]), retention purges ([`MaintenanceStore::purge`]),
//! and SQLite backups ([`backup_sqlite`], [`restore_sqlite`]). Both backends implement
//! [`MaintenanceStore`] (`sqlite_maintenance.rs`, `postgres_maintenance.rs`; indexes in
//! `migrations/<backend>/0009_keys_retention.sql`).
//!
//! Key ids are read from the ciphertexts themselves (`sbv1.<key id>.<data>`, see
//! `switchboard-vault`): every sealed column has an index on that key id, so no separate
//! bookkeeping can drift from the data, and a rotation that stops half-way resumes by simply
//! looking for the rows not yet on the active key.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::StoreResult;

pub use crate::sqlite_maintenance::{
    backup_sqlite, restore_sqlite, sqlite_file, BackupError, BackupReport,
};

/// A column holding vault ciphertexts. Every one Switchboard stores is listed in [`Self::ALL`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SealedColumn {
    /// `connections.access_token_sealed`, context `connection:<id>:access_token`.
    ConnectionAccessToken,
    /// `connections.refresh_token_sealed`, context `connection:<id>:refresh_token`.
    ConnectionRefreshToken,
    /// `connection_pages.access_token_sealed`, context
    /// `page:<connection id>:<page id>:access_token`.
    PageAccessToken,
    /// `oauth_states.code_verifier_sealed`, context `oauth_state:<state hash>:code_verifier`.
    OAuthStateCodeVerifier,
    /// `webhooks.secret_sealed`, context `webhook:<id>:secret`.
    WebhookSecret,
    /// `connect_batch_sessions.authorization_url_sealed`, context
    /// `bulk_session:<state hash>:authorization_url` (migration 0013).
    BulkSessionAuthorizationUrl,
}

impl SealedColumn {
    /// Every sealed column.
    pub const ALL: [SealedColumn; 6] = [
        SealedColumn::ConnectionAccessToken,
        SealedColumn::ConnectionRefreshToken,
        SealedColumn::PageAccessToken,
        SealedColumn::OAuthStateCodeVerifier,
        SealedColumn::WebhookSecret,
        SealedColumn::BulkSessionAuthorizationUrl,
    ];

    /// The table.
    pub fn table(self) -> &'static str {
        match self {
            SealedColumn::ConnectionAccessToken | SealedColumn::ConnectionRefreshToken => {
                "connections"
            }
            SealedColumn::PageAccessToken => "connection_pages",
            SealedColumn::OAuthStateCodeVerifier => "oauth_states",
            SealedColumn::WebhookSecret => "webhooks",
            SealedColumn::BulkSessionAuthorizationUrl => "connect_batch_sessions",
        }
    }

    /// The column.
    pub fn column(self) -> &'static str {
        match self {
            SealedColumn::ConnectionAccessToken | SealedColumn::PageAccessToken => {
                "access_token_sealed"
            }
            SealedColumn::ConnectionRefreshToken => "refresh_token_sealed",
            SealedColumn::OAuthStateCodeVerifier => "code_verifier_sealed",
            SealedColumn::WebhookSecret => "secret_sealed",
            SealedColumn::BulkSessionAuthorizationUrl => "authorization_url_sealed",
        }
    }

    /// `table.column`, as reports name it.
    pub fn name(self) -> &'static str {
        match self {
            SealedColumn::ConnectionAccessToken => "connections.access_token_sealed",
            SealedColumn::ConnectionRefreshToken => "connections.refresh_token_sealed",
            SealedColumn::PageAccessToken => "connection_pages.access_token_sealed",
            SealedColumn::OAuthStateCodeVerifier => "oauth_states.code_verifier_sealed",
            SealedColumn::WebhookSecret => "webhooks.secret_sealed",
            SealedColumn::BulkSessionAuthorizationUrl => {
                "connect_batch_sessions.authorization_url_sealed"
            }
        }
    }

    /// The primary key: `(first column, second column if the key has two)`.
    pub(crate) fn key_columns(self) -> (&'static str, Option<&'static str>) {
        match self {
            SealedColumn::ConnectionAccessToken
            | SealedColumn::ConnectionRefreshToken
            | SealedColumn::WebhookSecret => ("id", None),
            SealedColumn::PageAccessToken => ("connection_id", Some("page_id")),
            SealedColumn::OAuthStateCodeVerifier | SealedColumn::BulkSessionAuthorizationUrl => {
                ("state_hash", None)
            }
        }
    }
}

/// One stored ciphertext and the row holding it.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedRow {
    /// The column.
    pub column: SealedColumn,
    /// The row's id: connection id, webhook id, state hash (OAuth states and bulk sessions);
    /// for a Page, its connection's id.
    pub id: String,
    /// The Page id, for [`SealedColumn::PageAccessToken`].
    pub page_id: Option<String>,
    /// The ciphertext as stored.
    pub sealed: String,
}

impl std::fmt::Debug for SealedRow {
    /// Names the row and the key id, never the ciphertext.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedRow")
            .field("column", &self.column.name())
            .field("id", &self.id)
            .field("page_id", &self.page_id)
            .field("key_id", &key_id_of(&self.sealed))
            .finish_non_exhaustive()
    }
}

/// The key id a ciphertext names (`sbv1.<key id>.…`), `""` for a value that is not one. The
/// same rule as the SQL expressions of the key id indexes.
pub fn key_id_of(sealed: &str) -> &str {
    match sealed.strip_prefix("sbv1.") {
        Some(rest) => rest.split('.').next().unwrap_or(""),
        None => "",
    }
}

/// How many rows of a sealed column name a key id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyUsage {
    /// The column.
    pub column: SealedColumn,
    /// The key id the ciphertexts name; `""` for values that are not vault ciphertexts.
    pub key_id: String,
    /// Rows.
    pub rows: u64,
}

/// What a retention purge removes (see `workers/retention.rs` for the policy and defaults).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Purge {
    /// OAuth states (pending connect sessions) that expired before the cut-off, consumed or
    /// not.
    OAuthStates,
    /// Events created before the cut-off.
    Events,
    /// Audit entries created before the cut-off.
    Audit,
    /// Webhook deliveries delivered before the cut-off.
    DeliveredWebhookDeliveries,
    /// Webhook deliveries that failed for good, created before the cut-off.
    FailedWebhookDeliveries,
    /// Bulk connect batches that expired before the cut-off (with their sessions).
    ConnectBatches,
    /// Metric snapshots fetched before the cut-off, except the newest of each target (which
    /// `GET /v1/posts/{id}` shows).
    MetricSnapshots,
    /// Finished sync jobs that ended before the cut-off and no longer hold a snapshot.
    SyncJobs,
}

impl Purge {
    /// Every purge, in the order the retention worker runs them (snapshots before their jobs).
    pub const ALL: [Purge; 8] = [
        Purge::OAuthStates,
        Purge::Events,
        Purge::Audit,
        Purge::DeliveredWebhookDeliveries,
        Purge::FailedWebhookDeliveries,
        Purge::ConnectBatches,
        Purge::MetricSnapshots,
        Purge::SyncJobs,
    ];

    /// The name used in logs and reports (`oauth_states`, `events`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Purge::OAuthStates => "oauth_states",
            Purge::Events => "events",
            Purge::Audit => "audit",
            Purge::DeliveredWebhookDeliveries => "delivered_webhook_deliveries",
            Purge::FailedWebhookDeliveries => "failed_webhook_deliveries",
            Purge::ConnectBatches => "connect_batches",
            Purge::MetricSnapshots => "metric_snapshots",
            Purge::SyncJobs => "sync_jobs",
        }
    }
}

/// A connection removed by retention.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PurgedConnection {
    /// Connection id.
    pub id: String,
    /// Its workspace.
    pub workspace_id: String,
    /// Its platform.
    pub platform: String,
    /// Its status when purged.
    pub status: String,
}

/// Maintenance operations both backends implement.
#[async_trait]
pub trait MaintenanceStore {
    /// Rows per sealed column and key id (NULL values are not counted), ordered by column and
    /// key id. Reads the key id indexes.
    async fn sealed_key_usage(&self) -> StoreResult<Vec<KeyUsage>>;

    /// The rows whose ciphertext names a key id not in `key_ids` (`""` stands for values that
    /// are not vault ciphertexts), per column and key id. Cheap when there are none: a few
    /// index range scans between the known ids, whatever the number of rows.
    async fn sealed_outside_keys(&self, key_ids: &[String]) -> StoreResult<Vec<KeyUsage>>;

    /// Up to `limit` rows of `column` whose ciphertext names another key than `except_key`,
    /// ordered by primary key, after `after` (`(id, page id)`; `None`: from the start).
    async fn sealed_batch(
        &self,
        column: SealedColumn,
        except_key: &str,
        after: Option<(&str, Option<&str>)>,
        limit: u32,
    ) -> StoreResult<Vec<SealedRow>>;

    /// Replaces ciphertexts, in one transaction: each row's value becomes the new one only if
    /// it still holds exactly `row.sealed` (a token refreshed meanwhile is left alone: it was
    /// sealed afresh anyway). Touches nothing else (no `version`, no `updated_at`): an
    /// optimistic token update that read the row before keeps working. Returns how many rows
    /// were replaced.
    async fn replace_sealed(&self, replacements: &[(SealedRow, String)]) -> StoreResult<u64>;

    /// Deletes up to `limit` connections whose status is one of `statuses` and that have not
    /// changed (`updated_at`: tokens, status, errors) since `inactive_before`. Pages and
    /// validations go with them; events, audit and post history stay.
    async fn purge_connections(
        &self,
        statuses: &[&str],
        inactive_before: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<PurgedConnection>>;

    /// Deletes up to `limit` rows of one kind older than `before` (see [`Purge`]); returns how
    /// many.
    async fn purge(&self, what: Purge, before: DateTime<Utc>, limit: u32) -> StoreResult<u64>;
}

/// Options of [`rotate_keys`].
#[derive(Debug, Clone, Copy)]
pub struct RotateOptions {
    /// Rows read and rewritten per transaction (at least 1).
    pub batch_size: u32,
    /// Stop after rewriting this many rows in all (`None`: until done). The next run resumes.
    pub limit: Option<u64>,
}

impl Default for RotateOptions {
    fn default() -> Self {
        RotateOptions {
            batch_size: 500,
            limit: None,
        }
    }
}

/// Progress of one column during [`rotate_keys`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ColumnProgress {
    /// `table.column`.
    pub column: String,
    /// Rows on another key than the active one when the run started.
    pub total: u64,
    /// Rows re-sealed with the active key by this run.
    pub rotated: u64,
    /// Rows whose value changed between reading and rewriting (a refresh wrote new tokens):
    /// left as the writer left them.
    pub changed_meanwhile: u64,
    /// Rows that could not be opened, by reason (`key "k1" is not configured`, ...).
    pub failed: BTreeMap<String, u64>,
    /// Up to ten rows that failed, as `id` or `id/page id`.
    pub failed_rows: Vec<String>,
}

/// The outcome of [`rotate_keys`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RotateReport {
    /// The key everything was re-sealed with.
    pub active_key: String,
    /// Per column, in [`SealedColumn::ALL`] order.
    pub columns: Vec<ColumnProgress>,
    /// True when the run stopped at [`RotateOptions::limit`].
    pub stopped_at_limit: bool,
    /// Rows still on another key when the run ended (failed rows, rows written meanwhile by an
    /// instance with another active key, or the rest after a limit).
    pub remaining: u64,
}

impl RotateReport {
    /// Rows rotated in all.
    pub fn rotated(&self) -> u64 {
        self.columns.iter().map(|c| c.rotated).sum()
    }
    /// Rows that failed to open in all.
    pub fn failed(&self) -> u64 {
        self.columns.iter().flat_map(|c| c.failed.values()).sum()
    }
}

/// Re-seals every stored secret that is not on `active_key`, online: batch by batch, each
/// batch one transaction of conditional updates ([`MaintenanceStore::replace_sealed`]), so the
/// service keeps running and a concurrent refresh is never overwritten. Resumable: an
/// interrupted run leaves every row either on its old key or on the active one, and the next
/// run only reads the rows not on the active key.
///
/// `reseal(row)` opens the ciphertext for its row's context and seals it with the active key;
/// its error is a reason without secret material (rows it fails for are counted and skipped).
/// `progress` is called after every batch with the column's running totals.
///
/// # Errors
/// Database failures (the rows done so far stay done).
pub async fn rotate_keys<S, R, P>(
    store: &S,
    active_key: &str,
    options: RotateOptions,
    reseal: R,
    mut progress: P,
) -> StoreResult<RotateReport>
where
    S: MaintenanceStore + ?Sized,
    R: Fn(&SealedRow) -> Result<String, String>,
    P: FnMut(&ColumnProgress),
{
    let usage = store.sealed_key_usage().await?;
    let mut report = RotateReport {
        active_key: active_key.to_string(),
        ..RotateReport::default()
    };
    let batch_size = options.batch_size.max(1);
    let mut budget = options.limit;
    for column in SealedColumn::ALL {
        let mut p = ColumnProgress {
            column: column.name().to_string(),
            total: usage
                .iter()
                .filter(|u| u.column == column && u.key_id != active_key)
                .map(|u| u.rows)
                .sum(),
            ..ColumnProgress::default()
        };
        let mut cursor: Option<(String, Option<String>)> = None;
        while !report.stopped_at_limit && p.total > 0 {
            let take = match budget {
                Some(0) => {
                    report.stopped_at_limit = true;
                    break;
                }
                Some(b) => batch_size.min(u32::try_from(b).unwrap_or(u32::MAX)),
                None => batch_size,
            };
            let after = cursor.as_ref().map(|(a, b)| (a.as_str(), b.as_deref()));
            let rows = store.sealed_batch(column, active_key, after, take).await?;
            let Some(last) = rows.last() else { break };
            cursor = Some((last.id.clone(), last.page_id.clone()));
            let mut replacements = Vec::with_capacity(rows.len());
            for row in rows {
                match reseal(&row) {
                    Ok(new) => replacements.push((row, new)),
                    Err(reason) => {
                        *p.failed.entry(reason).or_default() += 1;
                        if p.failed_rows.len() < 10 {
                            p.failed_rows.push(match &row.page_id {
                                Some(page) => format!("{}/{page}", row.id),
                                None => row.id.clone(),
                            });
                        }
                    }
                }
            }
            let tried = replacements.len() as u64;
            let done = if replacements.is_empty() {
                0
            } else {
                store.replace_sealed(&replacements).await?
            };
            p.rotated += done;
            p.changed_meanwhile += tried - done;
            if let Some(b) = budget.as_mut() {
                *b = b.saturating_sub(done);
            }
            progress(&p);
        }
        report.columns.push(p);
    }
    report.remaining = store
        .sealed_key_usage()
        .await?
        .iter()
        .filter(|u| u.key_id != active_key)
        .map(|u| u.rows)
        .sum();
    Ok(report)
}

/// The gaps between sorted, distinct key ids: `(lower bound exclusive, upper bound exclusive)`,
/// `None` for an open end. A key id outside every known one falls in exactly one gap.
pub(crate) fn key_gaps(key_ids: &[String]) -> Vec<(Option<String>, Option<String>)> {
    let mut ids: Vec<String> = key_ids.to_vec();
    ids.sort();
    ids.dedup();
    let mut gaps = Vec::with_capacity(ids.len() + 1);
    let mut lower = None;
    for id in ids {
        gaps.push((lower.take(), Some(id.clone())));
        lower = Some(id);
    }
    gaps.push((lower, None));
    gaps
}

/// The SQL expression of the key id a column's ciphertext names, exactly as the SQLite index
/// of `0009_keys_retention.sql` spells it (SQLite uses an expression index only for the same
/// expression).
pub fn sqlite_key_id_expr(column: &str) -> String {
    format!(
        "(CASE WHEN substr({column}, 1, 5) = 'sbv1.' \
         THEN substr({column}, 6, instr(substr({column}, 6), '.') - 1) \
         WHEN {column} IS NOT NULL THEN '' END)"
    )
}

/// The PostgreSQL twin of [`sqlite_key_id_expr`].
pub fn postgres_key_id_expr(column: &str) -> String {
    format!(
        "(CASE WHEN left({column}, 5) = 'sbv1.' THEN split_part({column}, '.', 2) \
         WHEN {column} IS NOT NULL THEN '' END)"
    )
}

/// `(table, primary key, condition on alias x with $1 the cut-off)` of a purge. The SQL is the
/// same on both backends.
pub(crate) fn purge_sql(what: Purge) -> (&'static str, &'static str, &'static str) {
    match what {
        Purge::OAuthStates => ("oauth_states", "state_hash", "x.expires_at < $1"),
        Purge::Events => ("events", "id", "x.created_at < $1"),
        Purge::Audit => ("audit_log", "id", "x.created_at < $1"),
        Purge::DeliveredWebhookDeliveries => (
            "webhook_deliveries",
            "id",
            "x.status = 'delivered' AND x.delivered_at < $1",
        ),
        Purge::FailedWebhookDeliveries => (
            "webhook_deliveries",
            "id",
            "x.status = 'failed' AND x.created_at < $1",
        ),
        Purge::ConnectBatches => ("connect_batches", "id", "x.expires_at < $1"),
        Purge::MetricSnapshots => (
            "metric_snapshots",
            "id",
            "x.fetched_at < $1 AND EXISTS (SELECT 1 FROM metric_snapshots n \
             WHERE n.target_id = x.target_id AND n.fetched_at > x.fetched_at)",
        ),
        Purge::SyncJobs => (
            "sync_jobs",
            "id",
            "x.finished_at < $1 AND NOT EXISTS (SELECT 1 FROM metric_snapshots s \
             WHERE s.job_id = x.id)",
        ),
    }
}

/// Explains rows naming keys an instance lacks (the output of
/// [`MaintenanceStore::sealed_outside_keys`]), per key id with the rows per column, and what
/// to do. Empty input gives an empty string.
pub fn describe_unknown_keys(outside: &[KeyUsage]) -> String {
    let mut by_key: BTreeMap<&str, Vec<&KeyUsage>> = BTreeMap::new();
    for u in outside {
        by_key.entry(u.key_id.as_str()).or_default().push(u);
    }
    let parts: Vec<String> = by_key
        .iter()
        .map(|(key, uses)| {
            let total: u64 = uses.iter().map(|u| u.rows).sum();
            let detail: Vec<String> = uses
                .iter()
                .map(|u| format!("{} in {}", u.rows, u.column.name()))
                .collect();
            let who = if key.is_empty() {
                "values that are not vault ciphertexts".to_string()
            } else {
                format!("key {key:?}")
            };
            format!("{who}: {total} rows ({})", detail.join(", "))
        })
        .collect();
    if parts.is_empty() {
        return String::new();
    }
    format!(
        "stored secrets were sealed with encryption keys this instance does not have: {}. \
         Add the missing keys to SWITCHBOARD_KEYS (keep the active key as it is); a key can be \
         dropped only after `switchboard keys rotate` has moved every secret off it \
         (`switchboard keys remove-check KEY_ID` tells)",
        parts.join("; ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_ids_are_read_like_the_sql_expressions() {
        assert_eq!(key_id_of("sbv1.k12ab.AAAA"), "k12ab");
        assert_eq!(key_id_of("plain"), "");
        assert_eq!(key_id_of("sbv1.k1"), "k1");
    }

    #[test]
    fn gaps_cover_everything_but_the_known_ids() {
        let g = key_gaps(&["b".into(), "a".into(), "b".into()]);
        assert_eq!(
            g,
            vec![
                (None, Some("a".into())),
                (Some("a".into()), Some("b".into())),
                (Some("b".into()), None)
            ]
        );
        assert_eq!(key_gaps(&[]), vec![(None, None)]);
    }
}
