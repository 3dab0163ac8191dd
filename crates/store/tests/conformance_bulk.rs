//! Conformance of [`BulkStore`] (bulk connect batches, validation records), written once and run
//! against SQLite and a fresh PostgreSQL database (same macro pattern as `conformance.rs`).

mod harness;

use harness::{conformance, rethrow, PgDb, SqliteDb};
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::json;
use switchboard_store::bulk::{
    BatchSession, ConnectBatch, ValidationRecord, SESSION_CONNECTED, SESSION_FAILED,
    SESSION_PENDING,
};
use switchboard_store::maintenance::SealedColumn;
use switchboard_store::{Connection, Store};

/// A fixed instant plus `offset_ms` milliseconds (whole milliseconds compare equal on both
/// backends).
fn at(offset_ms: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 12, 0, 0).unwrap() + Duration::milliseconds(offset_ms)
}

fn random_hex() -> String {
    format!("{:032x}", rand::random::<u128>())
}

async fn workspace(store: &Arc<dyn Store>, name: &str) -> String {
    store.create_workspace(name, at(0)).await.unwrap().id
}

fn batch(workspace_id: &str, platforms: &[&str]) -> (ConnectBatch, Vec<BatchSession>) {
    let id = uuid::Uuid::now_v7().to_string();
    let sessions = platforms
        .iter()
        .enumerate()
        .map(|(i, p)| BatchSession {
            batch_id: id.clone(),
            position: i as i64,
            platform: p.to_string(),
            state_hash: random_hex(),
            status: SESSION_PENDING.to_string(),
            connection_id: None,
            diagnosis: None,
            expires_at: at(600_000),
            finished_at: None,
            authorization_url_sealed: Some(format!("sbv1.k1.link-{i}")),
        })
        .collect();
    (
        ConnectBatch {
            id,
            workspace_id: workspace_id.to_string(),
            owner: "user-42".to_string(),
            created_at: at(0),
            expires_at: at(600_000),
        },
        sessions,
    )
}

fn connection(workspace_id: &str) -> Connection {
    Connection {
        id: uuid::Uuid::now_v7().to_string(),
        workspace_id: workspace_id.to_string(),
        platform: "instagram".to_string(),
        owner: "user-42".to_string(),
        account_id: random_hex(),
        account_name: None,
        username: None,
        avatar_url: None,
        scopes: vec!["a".to_string()],
        status: "healthy".to_string(),
        access_token_sealed: "sealed:access".to_string(),
        refresh_token_sealed: None,
        token_type: "Bearer".to_string(),
        expires_at: Some(at(3_600_000)),
        refresh_expires_at: None,
        token_obtained_at: at(0),
        last_refreshed_at: None,
        last_error: None,
        metadata: json!({}),
        version: 1,
        created_at: at(0),
        updated_at: at(0),
    }
}

async fn batch_round_trips_in_order(store: Arc<dyn Store>) {
    let ws = workspace(&store, "A").await;
    let (b, sessions) = batch(&ws, &["twitter", "linkedin", "pinterest"]);
    store.insert_batch(&b, &sessions).await.unwrap();
    let (got, got_sessions) = store.get_batch(&ws, &b.id).await.unwrap().expect("batch");
    assert_eq!(got, b);
    assert_eq!(got_sessions, sessions);
    assert_eq!(
        got_sessions
            .iter()
            .map(|s| s.platform.as_str())
            .collect::<Vec<_>>(),
        ["twitter", "linkedin", "pinterest"]
    );
}

async fn batch_is_workspace_scoped(store: Arc<dyn Store>) {
    let a = workspace(&store, "A").await;
    let b = workspace(&store, "B").await;
    let (batch_a, sessions) = batch(&a, &["twitter"]);
    store.insert_batch(&batch_a, &sessions).await.unwrap();
    assert!(store.get_batch(&b, &batch_a.id).await.unwrap().is_none());
    assert!(store
        .get_batch(&a, "no-such-batch")
        .await
        .unwrap()
        .is_none());
    assert!(store.get_batch(&a, &batch_a.id).await.unwrap().is_some());
}

async fn batch_insert_is_all_or_nothing(store: Arc<dyn Store>) {
    let ws = workspace(&store, "A").await;
    let (b, mut sessions) = batch(&ws, &["twitter", "linkedin"]);
    // Two sessions with the same state hash: the second insert fails, and so does the batch.
    sessions[1].state_hash = sessions[0].state_hash.clone();
    assert!(store.insert_batch(&b, &sessions).await.is_err());
    assert!(store.get_batch(&ws, &b.id).await.unwrap().is_none());
}

async fn finish_session_first_outcome_wins(store: Arc<dyn Store>) {
    let ws = workspace(&store, "A").await;
    let (b, sessions) = batch(&ws, &["twitter", "linkedin", "pinterest"]);
    store.insert_batch(&b, &sessions).await.unwrap();
    let diag = json!({"category": "access_denied", "fix": ["Try again"]});
    assert!(store
        .finish_batch_session(
            &sessions[0].state_hash,
            SESSION_CONNECTED,
            Some("conn-1"),
            None,
            at(5_000)
        )
        .await
        .unwrap());
    assert!(store
        .finish_batch_session(
            &sessions[1].state_hash,
            SESSION_FAILED,
            None,
            Some(&diag),
            at(7_000)
        )
        .await
        .unwrap());
    // A second outcome for a finished session is refused and changes nothing.
    assert!(!store
        .finish_batch_session(
            &sessions[0].state_hash,
            SESSION_FAILED,
            None,
            Some(&diag),
            at(9_000)
        )
        .await
        .unwrap());
    // An unknown state hash is not a session.
    assert!(!store
        .finish_batch_session(&random_hex(), SESSION_CONNECTED, Some("x"), None, at(9_000))
        .await
        .unwrap());
    let (_, got) = store.get_batch(&ws, &b.id).await.unwrap().unwrap();
    assert_eq!(got[0].status, SESSION_CONNECTED);
    assert_eq!(got[0].connection_id.as_deref(), Some("conn-1"));
    assert_eq!(got[0].diagnosis, None);
    assert_eq!(got[0].finished_at, Some(at(5_000)));
    assert_eq!(got[1].status, SESSION_FAILED);
    assert_eq!(got[1].diagnosis.as_ref(), Some(&diag));
    assert_eq!(got[1].finished_at, Some(at(7_000)));
    assert_eq!(got[2].status, SESSION_PENDING);
    assert_eq!(got[2].finished_at, None);
    // A recorded outcome clears the session's sealed link; a pending one keeps it.
    assert_eq!(got[0].authorization_url_sealed, None);
    assert_eq!(got[1].authorization_url_sealed, None);
    assert_eq!(
        got[2].authorization_url_sealed.as_deref(),
        Some("sbv1.k1.link-2")
    );
    let usage = store.sealed_key_usage().await.unwrap();
    let links: Vec<_> = usage
        .iter()
        .filter(|u| u.column == SealedColumn::BulkSessionAuthorizationUrl)
        .map(|u| (u.key_id.as_str(), u.rows))
        .collect();
    assert_eq!(links, [("k1", 1)], "key status sees the sealed links");
}

async fn finish_session_once_across_stores(a: Arc<dyn Store>, b: Arc<dyn Store>) {
    let ws = workspace(&a, "A").await;
    let (batch, sessions) = batch(&ws, &["twitter"]);
    a.insert_batch(&batch, &sessions).await.unwrap();
    let hash = sessions[0].state_hash.clone();
    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = if i % 2 == 0 { a.clone() } else { b.clone() };
        let hash = hash.clone();
        tasks.push(tokio::spawn(async move {
            let id = format!("conn-{i}");
            store
                .finish_batch_session(&hash, SESSION_CONNECTED, Some(&id), None, at(i))
                .await
                .unwrap()
        }));
    }
    let mut wins = 0;
    for t in tasks {
        if t.await.unwrap() {
            wins += 1;
        }
    }
    assert_eq!(wins, 1);
}

async fn validation_record_replaces_and_stamps_connection(store: Arc<dyn Store>) {
    let ws = workspace(&store, "A").await;
    let conn = store.upsert_connection(&connection(&ws)).await.unwrap();
    assert!(store.last_validation(&conn.id).await.unwrap().is_none());
    let first = ValidationRecord {
        connection_id: conn.id.clone(),
        verdict: "fail".to_string(),
        report: json!({"verdict": "fail", "checks": [{"name": "account_type", "status": "fail"}]}),
        checked_at: at(10_000),
    };
    store.record_validation(&first).await.unwrap();
    assert_eq!(store.last_validation(&conn.id).await.unwrap(), Some(first));
    let second = ValidationRecord {
        connection_id: conn.id.clone(),
        verdict: "pass".to_string(),
        report: json!({"verdict": "pass", "checks": []}),
        checked_at: at(20_000),
    };
    store.record_validation(&second).await.unwrap();
    assert_eq!(store.last_validation(&conn.id).await.unwrap(), Some(second));
    // The connection's status and error are untouched.
    let after = store.get_connection(&ws, &conn.id).await.unwrap().unwrap();
    assert_eq!(after.status, "healthy");
    assert_eq!(after.last_error, None);
    // An unknown connection is a no-op, not an error.
    let ghost = ValidationRecord {
        connection_id: "no-such-connection".to_string(),
        verdict: "pass".to_string(),
        report: json!({}),
        checked_at: at(0),
    };
    store.record_validation(&ghost).await.unwrap();
    assert!(store
        .last_validation("no-such-connection")
        .await
        .unwrap()
        .is_none());
    // Deleting the connection deletes its record.
    assert!(store.delete_connection(&ws, &conn.id).await.unwrap());
    assert!(store.last_validation(&conn.id).await.unwrap().is_none());
}

conformance! {
    single: [
        batch_round_trips_in_order,
        batch_is_workspace_scoped,
        batch_insert_is_all_or_nothing,
        finish_session_first_outcome_wins,
        validation_record_replaces_and_stamps_connection,
    ],
    pair: [
        finish_session_once_across_stores,
    ],
}
