//! Conformance of [`RateLimitStore`] (shared fixed-window counters), run against SQLite and a
//! fresh PostgreSQL database with the same test bodies.

mod harness;

use harness::{conformance, rethrow, PgDb, SqliteDb};
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use switchboard_store::Store;

fn at(offset_secs: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 12, 0, 0).unwrap() + Duration::seconds(offset_secs)
}

/// Counters add up per (key, window), keys and windows are apart, and purging removes only the
/// windows that started before the bound.
async fn counts_per_key_and_window(store: Arc<dyn Store>) {
    assert_eq!(store.add_to_rate_window("a", at(0), 1).await.unwrap(), 1);
    assert_eq!(store.add_to_rate_window("a", at(0), 1).await.unwrap(), 2);
    assert_eq!(store.add_to_rate_window("a", at(0), 10).await.unwrap(), 12);
    assert_eq!(store.add_to_rate_window("b", at(0), 1).await.unwrap(), 1);
    assert_eq!(store.add_to_rate_window("a", at(60), 1).await.unwrap(), 1);
    assert_eq!(store.purge_rate_windows(at(60)).await.unwrap(), 2);
    // The purged window starts again from zero; the kept one goes on.
    assert_eq!(store.add_to_rate_window("a", at(0), 1).await.unwrap(), 1);
    assert_eq!(store.add_to_rate_window("a", at(60), 1).await.unwrap(), 2);
    assert_eq!(store.purge_rate_windows(at(0)).await.unwrap(), 0);
}

/// Two stores on one database (two instances) adding at the same time: every total is distinct
/// and the last is the sum, so no addition is lost or counted twice.
async fn two_stores_count_together(a: Arc<dyn Store>, b: Arc<dyn Store>) {
    let mut tasks = Vec::new();
    for i in 0..40 {
        let s = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            s.add_to_rate_window("shared", at(0), 1).await.unwrap()
        }));
    }
    let mut totals = Vec::new();
    for t in tasks {
        totals.push(t.await.unwrap());
    }
    totals.sort_unstable();
    assert_eq!(totals, (1..=40).collect::<Vec<u64>>());
    assert_eq!(b.add_to_rate_window("shared", at(0), 0).await.unwrap(), 40);
}

conformance! {
    single: [counts_per_key_and_window],
    pair: [two_stores_count_together],
}
