//! Background work inside `serve`. Each worker is a loop that runs one `tick` every
//! `worker_interval_ms` until shutdown; a tick claims its rows with a lease so that several
//! instances sharing a database share the work. Tests call the ticks directly with a moved clock.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::AppState;

pub mod publish;
pub mod refresh;
pub mod retention;
pub mod sync;
pub mod webhooks;

/// Starts every worker unless `config.workers` is off. They stop when `shutdown` turns true or
/// its sender is dropped.
pub fn spawn_all(state: &AppState, shutdown: watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
    if !state.config().workers {
        return Vec::new();
    }
    let period = Duration::from_millis(state.config().worker_interval_ms.max(10));
    let beats = state.heartbeats().clone();
    beats.expect(
        &["refresh", "webhooks", "publish", "sync", "retention"],
        period,
    );
    let s = state.clone();
    let mut handles = vec![spawn_loop(
        "refresh",
        period,
        shutdown.clone(),
        beats.clone(),
        move || {
            let s = s.clone();
            async move { refresh::tick(&s).await }
        },
    )];
    let s = state.clone();
    handles.push(spawn_loop(
        "webhooks",
        period,
        shutdown.clone(),
        beats.clone(),
        move || {
            let s = s.clone();
            async move { webhooks::tick(&s).await }
        },
    ));
    let s = state.clone();
    handles.push(spawn_loop(
        "publish",
        period,
        shutdown.clone(),
        beats.clone(),
        move || {
            let s = s.clone();
            async move { publish::tick(&s).await }
        },
    ));
    let s = state.clone();
    let retention = retention::Retention::default();
    handles.push(spawn_loop(
        "retention",
        period,
        shutdown.clone(),
        beats.clone(),
        move || {
            let s = s.clone();
            let r = retention.clone();
            async move { r.tick(&s).await }
        },
    ));
    let s = state.clone();
    handles.push(spawn_loop("sync", period, shutdown, beats, move || {
        let s = s.clone();
        async move { sync::tick(&s).await }
    }));
    handles
}

/// Runs `tick` every `period` until shutdown. A tick's error is logged and the loop goes on.
pub fn spawn_loop<F, Fut>(
    name: &'static str,
    period: Duration,
    mut shutdown: watch::Receiver<bool>,
    beats: Heartbeats,
    tick: F,
) -> JoinHandle<()>
where
    F: Fn() -> Fut + Send + 'static,
    Fut: Future<Output = anyhow::Result<usize>> + Send,
{
    tokio::spawn(async move {
        tracing::info!(worker = name, "worker started");
        loop {
            beats.started(name);
            match tick().await {
                Ok(n) => {
                    beats.finished(name, None);
                    if n > 0 {
                        tracing::debug!(worker = name, handled = n, "worker tick");
                    }
                }
                Err(e) => {
                    tracing::error!(worker = name, error = %e, "worker tick failed");
                    beats.finished(name, Some(e.to_string()));
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(period) => {}
                r = shutdown.wait_for(|s| *s) => {
                    let _ = r;
                    break;
                }
            }
        }
        tracing::info!(worker = name, "worker stopped");
    })
}

/// A tick may run this long (a large batch) before its worker counts as stuck.
const LONGEST_TICK: Duration = Duration::from_secs(300);

/// What each worker last did, for readiness: an instance whose workers stopped making progress
/// must not report ready (posts and refreshes would otherwise sit silently in the queue).
#[derive(Debug, Clone, Default)]
pub struct Heartbeats(Arc<Mutex<HeartbeatsInner>>);

#[derive(Debug, Default)]
struct HeartbeatsInner {
    period: Duration,
    since: Option<Instant>,
    workers: BTreeMap<&'static str, Beat>,
}

#[derive(Debug, Default, Clone)]
struct Beat {
    tick_started: Option<Instant>,
    last_success: Option<Instant>,
    last_error: Option<String>,
    ticks: u64,
}

impl Heartbeats {
    fn inner(&self) -> std::sync::MutexGuard<'_, HeartbeatsInner> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Declares the workers that must keep ticking every `period`.
    pub fn expect(&self, names: &[&'static str], period: Duration) {
        let mut i = self.inner();
        i.period = period;
        i.since = Some(Instant::now());
        for n in names {
            i.workers.entry(n).or_default();
        }
    }

    fn started(&self, name: &'static str) {
        self.inner().workers.entry(name).or_default().tick_started = Some(Instant::now());
    }

    fn finished(&self, name: &'static str, error: Option<String>) {
        let mut i = self.inner();
        let b = i.workers.entry(name).or_default();
        b.tick_started = None;
        b.ticks += 1;
        match error {
            None => {
                b.last_success = Some(Instant::now());
                b.last_error = None;
            }
            Some(e) => b.last_error = Some(e),
        }
    }

    /// `(ready, details)`: not ready when a declared worker has not finished a tick successfully
    /// within ten periods (at least 30 s), or one tick has run longer than five minutes.
    pub fn readiness(&self, now: Instant) -> (bool, Value) {
        let i = self.inner();
        if i.workers.is_empty() {
            return (true, json!("disabled"));
        }
        let stale_after = (i.period * 10).max(Duration::from_secs(30));
        let mut ready = true;
        let mut details = serde_json::Map::new();
        for (name, b) in &i.workers {
            let reference = b.last_success.or(i.since).unwrap_or(now);
            let idle = now.saturating_duration_since(reference);
            let stuck = b
                .tick_started
                .is_some_and(|t| now.saturating_duration_since(t) > LONGEST_TICK);
            let ok = !stuck && (b.tick_started.is_some() || idle <= stale_after);
            ready &= ok;
            details.insert(
                name.to_string(),
                json!({
                    "ok": ok,
                    "ticks": b.ticks,
                    "seconds_since_last_success": b.last_success.map(|t| now.saturating_duration_since(t).as_secs()),
                    "in_tick": b.tick_started.is_some(),
                    "last_error": b.last_error,
                }),
            );
        }
        (ready, Value::Object(details))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_worker_that_stops_ticking_makes_the_instance_unready() {
        let beats = Heartbeats::default();
        assert!(
            beats.readiness(Instant::now()).0,
            "no workers: nothing to wait for"
        );
        beats.expect(&["refresh"], Duration::from_secs(1));
        beats.started("refresh");
        beats.finished("refresh", None);
        let now = Instant::now();
        assert!(beats.readiness(now).0);
        assert!(
            !beats.readiness(now + Duration::from_secs(31)).0,
            "silent for 31 s"
        );
        // Failing ticks do not count as progress.
        beats.started("refresh");
        beats.finished("refresh", Some("database unavailable".into()));
        let (ready, details) = beats.readiness(now + Duration::from_secs(31));
        assert!(!ready);
        assert_eq!(details["refresh"]["last_error"], "database unavailable");
        // A long batch in progress is fine, up to five minutes.
        beats.started("refresh");
        assert!(beats.readiness(now + Duration::from_secs(60)).0);
        assert!(!beats.readiness(now + Duration::from_secs(400)).0);
    }
}
