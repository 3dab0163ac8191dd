//! The retention worker: deletes what is no longer needed, in small batches, on every backend.
//!
//! What goes, and when (each configurable in `[retention]` or `SWITCHBOARD_RETENTION_*`; 0
//! keeps that kind forever):
//!
//! | kind | purged when | default |
//! |---|---|---|
//! | connections | status `revoked`, `needs_reauth` or `expired` (the account is no longer connected; only the person reconnecting brings it back) **and** inactive: nothing changed on the row (`updated_at`: no refresh, reconnect, status change or recorded error) for `connections_days` | 90 days |
//! | OAuth states | `oauth_states_minutes` after they expired, consumed or not (a consumed state cannot be used again anyway; until then a replayed callback is told "already used") | 10 minutes |
//! | events | created more than `events_days` ago | 90 days |
//! | audit entries | created more than `audit_days` ago | 90 days |
//! | delivered webhook deliveries | delivered more than `delivered_webhooks_days` ago | 30 days |
//! | failed webhook deliveries | created more than `failed_webhooks_days` ago | 90 days |
//! | metric snapshots | fetched more than `sync_history_days` ago, except each target's newest | 90 days |
//! | sync jobs | finished more than `sync_history_days` ago and holding no snapshot | 90 days |
//! | bulk connect batches | expired more than `connect_batches_days` ago | 30 days |
//! | uploaded media (row **and** file in `media_dir`) | uploaded more than `media_days` ago and named by no post of its workspace | 30 days |
//! | partial uploads (`media_dir/.upload-*`, left by an instance that died mid-upload) | last written more than a day ago (file time), in the same runs as media | with media |
//! | orphan media files (`media_dir/<uuid>` with no media row: a crash between the rename and the row insert) | last written more than a day ago (file time), in the same runs as media | with media |
//!
//! Healthy connections are never purged for age. A purged connection's Pages and validation go
//! with it; its events, audit trail and post history stay (until their own retention), and an
//! audit entry `connection.purged` (actor `system:retention`) records it.
//!
//! The worker ticks with the others (heartbeat `retention`) but purges only every
//! `interval_secs` (default 3600) on the app clock. Each purge deletes at most `batch_size`
//! rows per statement (default 1000) and at most [`MAX_BATCHES`] statements per kind per run, so
//! no statement holds a lock for long and one run stays short; what is left goes next run.
//! Instances sharing a database may purge at the same time: deletes are idempotent (and skip
//! rows another instance is deleting on PostgreSQL).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use switchboard_store::maintenance::{MaintenanceStore, Purge};

use crate::config::{ConfigError, Env};
use crate::AppState;

/// Statements per kind in one run (with the default batch size, 100,000 rows).
pub const MAX_BATCHES: u32 = 100;

/// Connection statuses retention may purge: the account is no longer connected.
pub const PURGEABLE_STATUSES: [&str; 3] = ["revoked", "needs_reauth", "expired"];

/// Audit actor of retention.
pub const ACTOR: &str = "system:retention";

/// The `[retention]` table of the configuration file. Every field is optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionFile {
    connections_days: Option<u64>,
    oauth_states_minutes: Option<u64>,
    events_days: Option<u64>,
    audit_days: Option<u64>,
    delivered_webhooks_days: Option<u64>,
    failed_webhooks_days: Option<u64>,
    sync_history_days: Option<u64>,
    connect_batches_days: Option<u64>,
    media_days: Option<u64>,
    interval_secs: Option<u64>,
    batch_size: Option<u32>,
}

/// Retention settings (see the module docs for what each purges). A period of 0 keeps that
/// kind forever.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RetentionConfig {
    /// Dead connections inactive this long are purged, days (default 90).
    pub connections_days: u64,
    /// OAuth states are purged this long after they expire, minutes (default 10).
    pub oauth_states_minutes: u64,
    /// Events older than this are purged, days (default 90).
    pub events_days: u64,
    /// Audit entries older than this are purged, days (default 90).
    pub audit_days: u64,
    /// Delivered webhook deliveries older than this are purged, days (default 30).
    pub delivered_webhooks_days: u64,
    /// Failed webhook deliveries older than this are purged, days (default 90).
    pub failed_webhooks_days: u64,
    /// Metric snapshots (but each target's newest) and finished sync jobs, days (default 90).
    pub sync_history_days: u64,
    /// Expired bulk connect batches, days after expiry (default 30).
    pub connect_batches_days: u64,
    /// Uploaded media no post refers to, days after upload (default 30); the file goes too.
    pub media_days: u64,
    /// Pause between two purge runs, seconds (default 3600, at least 60).
    pub interval_secs: u64,
    /// Rows deleted per statement (default 1000, 1 to 100,000).
    pub batch_size: u32,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig {
            connections_days: 90,
            oauth_states_minutes: 10,
            events_days: 90,
            audit_days: 90,
            delivered_webhooks_days: 30,
            failed_webhooks_days: 90,
            sync_history_days: 90,
            connect_batches_days: 30,
            media_days: 30,
            interval_secs: 3600,
            batch_size: 1000,
        }
    }
}

/// Longest period accepted, days (100 years): beyond it a cut-off is not a representable time.
const MAX_DAYS: u64 = 36_500;

impl RetentionConfig {
    /// The file's `[retention]` table with `SWITCHBOARD_RETENTION_<FIELD>` variables over it
    /// (`SWITCHBOARD_RETENTION_CONNECTIONS_DAYS`, ...), validated.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming `retention.<field>` (or the variable) and the range.
    pub fn resolve(file: RetentionFile, env: &dyn Env) -> Result<Self, ConfigError> {
        let d = RetentionConfig::default();
        let get = |name: &str, file: Option<u64>, default: u64, min: u64, max: u64| {
            let var = format!("SWITCHBOARD_RETENTION_{}", name.to_ascii_uppercase());
            let (value, field) = match env.var(&var) {
                Some(v) => (
                    v.trim().parse::<u64>().map_err(|_| ConfigError::Invalid {
                        field: var.clone(),
                        message: format!("{v:?} is not a whole number"),
                    })?,
                    var,
                ),
                None => (file.unwrap_or(default), format!("retention.{name}")),
            };
            if value < min || value > max {
                return Err(ConfigError::Invalid {
                    field,
                    message: format!("must be between {min} and {max}, got {value}"),
                });
            }
            Ok(value)
        };
        Ok(RetentionConfig {
            connections_days: get(
                "connections_days",
                file.connections_days,
                d.connections_days,
                0,
                MAX_DAYS,
            )?,
            oauth_states_minutes: get(
                "oauth_states_minutes",
                file.oauth_states_minutes,
                d.oauth_states_minutes,
                0,
                MAX_DAYS * 1440,
            )?,
            events_days: get("events_days", file.events_days, d.events_days, 0, MAX_DAYS)?,
            audit_days: get("audit_days", file.audit_days, d.audit_days, 0, MAX_DAYS)?,
            delivered_webhooks_days: get(
                "delivered_webhooks_days",
                file.delivered_webhooks_days,
                d.delivered_webhooks_days,
                0,
                MAX_DAYS,
            )?,
            failed_webhooks_days: get(
                "failed_webhooks_days",
                file.failed_webhooks_days,
                d.failed_webhooks_days,
                0,
                MAX_DAYS,
            )?,
            sync_history_days: get(
                "sync_history_days",
                file.sync_history_days,
                d.sync_history_days,
                0,
                MAX_DAYS,
            )?,
            connect_batches_days: get(
                "connect_batches_days",
                file.connect_batches_days,
                d.connect_batches_days,
                0,
                MAX_DAYS,
            )?,
            media_days: get("media_days", file.media_days, d.media_days, 0, MAX_DAYS)?,
            interval_secs: get(
                "interval_secs",
                file.interval_secs,
                d.interval_secs,
                60,
                86_400 * 30,
            )?,
            batch_size: u32::try_from(get(
                "batch_size",
                file.batch_size.map(u64::from),
                u64::from(d.batch_size),
                1,
                100_000,
            )?)
            .unwrap_or(d.batch_size),
        })
    }

    /// How long a kind is kept; `None` keeps it forever.
    pub fn period(&self, what: Purge) -> Option<Duration> {
        let days = |n: u64| (n > 0).then(|| Duration::days(n as i64));
        match what {
            Purge::OAuthStates => (self.oauth_states_minutes > 0)
                .then(|| Duration::minutes(self.oauth_states_minutes as i64)),
            Purge::Events => days(self.events_days),
            Purge::Audit => days(self.audit_days),
            Purge::DeliveredWebhookDeliveries => days(self.delivered_webhooks_days),
            Purge::FailedWebhookDeliveries => days(self.failed_webhooks_days),
            Purge::ConnectBatches => days(self.connect_batches_days),
            Purge::MetricSnapshots | Purge::SyncJobs => days(self.sync_history_days),
        }
    }
}

/// What one run deleted, per kind (`connections`, `oauth_states`, `events`, ...).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RetentionReport {
    /// Rows deleted per kind (kinds kept forever are absent).
    pub deleted: BTreeMap<&'static str, u64>,
}

impl RetentionReport {
    /// Rows deleted in all.
    pub fn total(&self) -> u64 {
        self.deleted.values().sum()
    }
}

/// Purges everything past its retention now, whatever the interval (tests, and each due run
/// of [`Retention::tick`]).
///
/// # Errors
/// Database failures (what was deleted before stays deleted).
pub async fn run_once(state: &AppState) -> anyhow::Result<RetentionReport> {
    let config = &state.config().retention;
    let store = state.store();
    let now = state.now();
    let batch = config.batch_size.max(1);
    let mut report = RetentionReport::default();

    if config.connections_days > 0 {
        let cutoff = now - Duration::days(config.connections_days as i64);
        let mut n = 0;
        for _ in 0..MAX_BATCHES {
            let purged = MaintenanceStore::purge_connections(
                store.as_ref(),
                &PURGEABLE_STATUSES,
                cutoff,
                batch,
            )
            .await?;
            for p in &purged {
                state.forget_connection(&p.id);
                crate::audit::record(
                    state,
                    &p.workspace_id,
                    Some(&p.id),
                    ACTOR,
                    "connection.purged",
                    serde_json::json!({
                        "platform": p.platform,
                        "status": p.status,
                        "inactive_days": config.connections_days,
                    }),
                )
                .await;
            }
            n += purged.len() as u64;
            if (purged.len() as u32) < batch {
                break;
            }
            tokio::task::yield_now().await;
        }
        report.deleted.insert("connections", n);
    }

    for what in Purge::ALL {
        let Some(period) = config.period(what) else {
            continue;
        };
        let cutoff: DateTime<Utc> = now - period;
        let mut n = 0;
        for _ in 0..MAX_BATCHES {
            let deleted = MaintenanceStore::purge(store.as_ref(), what, cutoff, batch).await?;
            n += deleted;
            if deleted < u64::from(batch) {
                break;
            }
            tokio::task::yield_now().await;
        }
        report.deleted.insert(what.name(), n);
    }

    if config.media_days > 0 {
        let cutoff = now - Duration::days(config.media_days as i64);
        let mut n = 0;
        for _ in 0..MAX_BATCHES {
            let purged = store.purge_unreferenced_media(cutoff, batch).await?;
            for m in &purged {
                crate::routes::media::remove_file(state, &m.id).await;
            }
            n += purged.len() as u64;
            if (purged.len() as u32) < batch {
                break;
            }
            tokio::task::yield_now().await;
        }
        report.deleted.insert("media", n);
        // Partial uploads an instance left when it died mid-upload (a day old by file time).
        let swept = crate::routes::media::sweep_stale_uploads(
            state,
            std::time::Duration::from_secs(86_400),
        )
        .await;
        report.deleted.insert("media_partial_uploads", swept);
        // Files without a row (a crash between the rename and the insert), a day old.
        let orphans =
            crate::routes::media::sweep_orphan_files(state, std::time::Duration::from_secs(86_400))
                .await?;
        report.deleted.insert("media_orphan_files", orphans);
    }
    if report.total() > 0 {
        tracing::info!(deleted = ?report.deleted, "retention purged old data");
    }
    Ok(report)
}

/// The worker's memory between ticks: when it last ran (app clock).
#[derive(Debug, Clone, Default)]
pub struct Retention(Arc<Mutex<Option<DateTime<Utc>>>>);

impl Retention {
    /// One tick: runs [`run_once`] when `interval_secs` passed since the last run (or on the
    /// first tick); otherwise does nothing. Returns rows deleted.
    ///
    /// # Errors
    /// As [`run_once`]; a failed run is retried on the next tick.
    pub async fn tick(&self, state: &AppState) -> anyhow::Result<usize> {
        let now = state.now();
        let interval = Duration::seconds(state.config().retention.interval_secs as i64);
        let due = self
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_none_or(|last| now - last >= interval);
        if !due {
            return Ok(0);
        }
        let report = run_once(state).await?;
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(now);
        Ok(usize::try_from(report.total()).unwrap_or(usize::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_file_env_and_validation() {
        let d = RetentionConfig::resolve(RetentionFile::default(), &env(&[])).unwrap();
        assert_eq!(d, RetentionConfig::default());
        assert_eq!(d.period(Purge::OAuthStates), Some(Duration::minutes(10)));

        let file: RetentionFile =
            toml::from_str("connections_days = 30\nevents_days = 0\nbatch_size = 50").unwrap();
        let c = RetentionConfig::resolve(
            file,
            &env(&[("SWITCHBOARD_RETENTION_CONNECTIONS_DAYS", "7")]),
        )
        .unwrap();
        assert_eq!(c.connections_days, 7, "the variable wins over the file");
        assert_eq!(c.period(Purge::Events), None, "0 keeps forever");
        assert_eq!(c.batch_size, 50);

        let err = RetentionConfig::resolve(toml::from_str("interval_secs = 5").unwrap(), &env(&[]))
            .unwrap_err();
        assert!(err.to_string().contains("retention.interval_secs"), "{err}");
        let err = RetentionConfig::resolve(
            RetentionFile::default(),
            &env(&[("SWITCHBOARD_RETENTION_BATCH_SIZE", "lots")]),
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("SWITCHBOARD_RETENTION_BATCH_SIZE"),
            "{err}"
        );
        assert!(toml::from_str::<RetentionFile>("connection_days = 3").is_err());
    }
}
