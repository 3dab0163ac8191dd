//! Conformance of the dashboard's store calls (workspace list, signed-out sessions), run against
//! SQLite and a fresh PostgreSQL database with the same test bodies.

mod harness;

use harness::{conformance, rethrow, PgDb, SqliteDb};
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use switchboard_store::Store;

fn at(offset_secs: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 12, 0, 0).unwrap() + Duration::seconds(offset_secs)
}

/// Workspaces come oldest first, at most `limit`.
async fn workspaces_oldest_first(store: Arc<dyn Store>) {
    assert!(store.list_workspaces(10).await.unwrap().is_empty());
    let b = store.create_workspace("B", at(10)).await.unwrap();
    let a = store.create_workspace("A", at(0)).await.unwrap();
    let c = store.create_workspace("C", at(20)).await.unwrap();
    let all = store.list_workspaces(10).await.unwrap();
    assert_eq!(all, vec![a.clone(), b, c]);
    assert_eq!(store.list_workspaces(1).await.unwrap(), vec![a]);
}

/// A signed-out session is known as such by every instance, recording it twice is fine, and
/// the record is forgotten once it has expired (at the next sign-out).
async fn signed_out_sessions(a: Arc<dyn Store>, b: Arc<dyn Store>) {
    assert!(!a.is_signed_out("s1").await.unwrap());
    a.sign_out_session("s1", at(100), at(0)).await.unwrap();
    a.sign_out_session("s1", at(100), at(1)).await.unwrap();
    assert!(b.is_signed_out("s1").await.unwrap());
    assert!(!b.is_signed_out("s2").await.unwrap());
    b.sign_out_session("s2", at(300), at(200)).await.unwrap();
    assert!(
        !a.is_signed_out("s1").await.unwrap(),
        "expired records are purged"
    );
    assert!(a.is_signed_out("s2").await.unwrap());
}

conformance! {
    single: [workspaces_oldest_first],
    pair: [signed_out_sessions],
}
