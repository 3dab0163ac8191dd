//! Backend-specific behaviour the trait cannot show: URL forms and pragmas of SQLite, concurrent
//! migrations on PostgreSQL, the refresh-worker columns, corrupt stored data, and the testing
//! helpers. The trait's semantics are covered once for both backends in `conformance.rs`.

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::json;
use sqlx::Row;
use switchboard_store::postgres::PgStore;
use switchboard_store::sqlite::SqliteStore;
use switchboard_store::{testing, Connection, Store, StoreError, TokenUpdate};

fn at(offset_ms: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 12, 0, 0).unwrap() + Duration::milliseconds(offset_ms)
}

fn connection(workspace_id: &str) -> Connection {
    Connection {
        id: uuid::Uuid::now_v7().to_string(),
        workspace_id: workspace_id.to_string(),
        platform: "x".to_string(),
        owner: "user-1".to_string(),
        account_id: "acct-1".to_string(),
        account_name: None,
        username: None,
        avatar_url: None,
        scopes: vec!["a".to_string()],
        status: "active".to_string(),
        access_token_sealed: "sealed:a".to_string(),
        refresh_token_sealed: Some("sealed:r".to_string()),
        token_type: "Bearer".to_string(),
        expires_at: None,
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

fn token_update() -> TokenUpdate {
    TokenUpdate {
        access_token_sealed: "sealed:b".to_string(),
        refresh_token_sealed: None,
        token_type: "Bearer".to_string(),
        expires_at: None,
        refresh_expires_at: None,
        scopes: None,
        token_obtained_at: at(1),
        status: "active".to_string(),
        refreshed_at: Some(at(1)),
    }
}

// ---------------------------------------------------------------------------------------------
// SQLite

#[tokio::test]
async fn sqlite_url_forms_create_file_and_directories() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().display().to_string();
    let cases = [
        (format!("sqlite://{root}/a/b/one.db"), "a/b/one.db"),
        (format!("sqlite:{root}/c/two.db"), "c/two.db"),
        (format!("{root}/d/e/three.db"), "d/e/three.db"),
        (format!("sqlite://{root}/f/four.db?mode=rwc"), "f/four.db"),
    ];
    for (url, file) in cases {
        let store = switchboard_store::connect(&url).await.unwrap();
        assert_eq!(store.backend(), "sqlite");
        let ws = store.create_workspace("w", at(0)).await.unwrap();
        assert!(dir.path().join(file).is_file(), "{url} created {file}");
        drop(store);

        // Reopening finds the data, and the already-applied migrations are accepted.
        let again = switchboard_store::connect(&url).await.unwrap();
        assert_eq!(again.get_workspace(&ws.id).await.unwrap(), Some(ws));
    }
}

#[tokio::test]
async fn sqlite_file_pragmas() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::connect(&testing::fresh_sqlite_url(dir.path()))
        .await
        .unwrap();
    // Check on several pool connections at once, so more than one connection is looked at.
    let mut conns = Vec::new();
    for _ in 0..3 {
        conns.push(store.pool().acquire().await.unwrap());
    }
    for conn in &mut conns {
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&mut **conn)
            .await
            .unwrap();
        assert_eq!(mode, "wal");
        let timeout: i64 = sqlx::query_scalar("PRAGMA busy_timeout")
            .fetch_one(&mut **conn)
            .await
            .unwrap();
        assert_eq!(timeout, 5_000);
        let foreign_keys: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
            .fetch_one(&mut **conn)
            .await
            .unwrap();
        assert_eq!(foreign_keys, 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_memory_is_one_database_per_store() {
    for url in ["sqlite::memory:", ":memory:"] {
        let store = switchboard_store::connect(url).await.unwrap();
        let ws = store.create_workspace("w", at(0)).await.unwrap();
        // Many concurrent calls: every one must see the workspace (same database).
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let store = store.clone();
                let id = ws.id.clone();
                tokio::spawn(async move { store.get_workspace(&id).await.unwrap() })
            })
            .collect();
        for task in tasks {
            assert_eq!(task.await.unwrap().as_ref(), Some(&ws), "{url}");
        }

        let other = switchboard_store::connect(url).await.unwrap();
        assert_eq!(
            other.get_workspace(&ws.id).await.unwrap(),
            None,
            "a second in-memory store is a separate database"
        );
    }
}

#[tokio::test]
async fn unsupported_urls_are_refused() {
    for url in ["mysql://localhost/db", "sqlite:", "sqlite://", ""] {
        let result = switchboard_store::connect(url).await;
        assert!(
            matches!(result, Err(StoreError::UnsupportedUrl(ref u)) if u == url),
            "{url}: {result:?}"
        );
    }
}

#[tokio::test]
async fn sqlite_corrupt_values_are_reported_as_corrupt() {
    let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
    let ws = store.create_workspace("w", at(0)).await.unwrap();
    let conn = store.upsert_connection(&connection(&ws.id)).await.unwrap();

    for (column, value) in [
        ("metadata", "'{not json'"),
        ("scopes", "'{\"not\": \"a list\"}'"),
        ("last_error", "'nope'"),
    ] {
        sqlx::query(&format!(
            "UPDATE connections SET {column} = {value} WHERE id = $1"
        ))
        .bind(&conn.id)
        .execute(store.pool())
        .await
        .unwrap();
        let result = store.get_connection_by_id(&conn.id).await;
        let Err(StoreError::Corrupt(message)) = result else {
            panic!("{column}: expected Corrupt, got {result:?}");
        };
        assert!(
            message.contains(&format!("connections.{column}")),
            "{message}"
        );
        // Repair for the next case.
        store.upsert_connection(&connection(&ws.id)).await.unwrap();
    }

    sqlx::query("UPDATE connections SET expires_at = $1 WHERE id = $2")
        .bind(i64::MAX)
        .bind(&conn.id)
        .execute(store.pool())
        .await
        .unwrap();
    let result = store.get_connection_by_id(&conn.id).await;
    assert!(
        matches!(&result, Err(StoreError::Corrupt(m)) if m.contains("expires_at")),
        "{result:?}"
    );
}

#[tokio::test]
async fn sqlite_refresh_worker_columns() {
    let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
    refresh_failures_are_counted(&store, |id| {
        let pool = store.pool().clone();
        async move {
            sqlx::query("SELECT refresh_failures FROM connections WHERE id = $1")
                .bind(id)
                .fetch_one(&pool)
                .await
                .unwrap()
                .get::<i64, _>(0)
        }
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL

#[tokio::test]
async fn postgres_url_dispatch() {
    let url = testing::fresh_postgres_url().await;
    assert!(url.contains("/sbtest_"), "{url}");
    let store = switchboard_store::connect(&url).await.unwrap();
    assert_eq!(store.backend(), "postgres");
    store.ping().await.unwrap();
    drop(store);
    testing::drop_test_database(&url).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_concurrent_starts_migrate_once() {
    let url = testing::fresh_postgres_url().await;
    let starts: Vec<_> = (0..6)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move { PgStore::connect(&url).await })
        })
        .collect();
    let mut stores = Vec::new();
    for start in starts {
        stores.push(start.await.unwrap().expect("every process starts"));
    }
    let (applied, distinct): (i64, i64) =
        sqlx::query_as("SELECT count(*), count(DISTINCT version) FROM _sqlx_migrations")
            .fetch_one(stores[0].pool())
            .await
            .unwrap();
    let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/postgres"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "sql"))
        })
        .count() as i64;
    assert_eq!(applied, files, "every migration applied");
    assert_eq!(distinct, applied, "and each exactly once");
    let ws = stores[0].create_workspace("w", at(0)).await.unwrap();
    assert_eq!(stores[5].get_workspace(&ws.id).await.unwrap(), Some(ws));
    drop(stores);
    testing::drop_test_database(&url).await.unwrap();
}

#[tokio::test]
async fn postgres_refresh_worker_columns() {
    let url = testing::fresh_postgres_url().await;
    let store = PgStore::connect(&url).await.unwrap();
    refresh_failures_are_counted(&store, |id| {
        let pool = store.pool().clone();
        async move {
            sqlx::query("SELECT refresh_failures FROM connections WHERE id = $1")
                .bind(id)
                .fetch_one(&pool)
                .await
                .unwrap()
                .get::<i32, _>(0)
                .into()
        }
    })
    .await;
    drop(store);
    testing::drop_test_database(&url).await.unwrap();
}

#[tokio::test]
async fn postgres_timestamps_keep_microseconds() {
    let url = testing::fresh_postgres_url().await;
    let store = PgStore::connect(&url).await.unwrap();
    let now = at(0) + Duration::microseconds(123_456);
    let ws = store.create_workspace("w", now).await.unwrap();
    assert_eq!(ws.created_at, now);
    drop(store);
    testing::drop_test_database(&url).await.unwrap();
}

#[tokio::test]
#[should_panic(expected = "PostgreSQL for tests is unreachable")]
async fn fresh_postgres_url_panics_when_unreachable() {
    // Port 1 on localhost: nothing listens there.
    testing::fresh_postgres_url_on("postgres://postgres@127.0.0.1:1/postgres").await;
}

#[tokio::test]
async fn drop_test_database_refuses_other_databases() {
    let result = testing::drop_test_database("postgres://postgres@127.0.0.1:5432/postgres").await;
    assert!(
        matches!(result, Err(StoreError::UnsupportedUrl(_))),
        "{result:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Shared

/// Errors increment the failure count; a token update and a reconnect (upsert) reset it.
async fn refresh_failures_are_counted<S, F, Fut>(store: &S, failures: F)
where
    S: Store,
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = i64>,
{
    let ws = store.create_workspace("w", at(0)).await.unwrap();
    let conn = store.upsert_connection(&connection(&ws.id)).await.unwrap();
    assert_eq!(failures(conn.id.clone()).await, 0);

    for expected in 1..=3 {
        store
            .record_connection_error(&conn.id, "error", &json!({"n": expected}), at(expected))
            .await
            .unwrap();
        assert_eq!(failures(conn.id.clone()).await, expected);
    }
    store
        .update_tokens(&conn.id, &token_update(), None, at(10))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(failures(conn.id.clone()).await, 0);

    store
        .record_connection_error(&conn.id, "error", &json!({}), at(11))
        .await
        .unwrap();
    assert_eq!(failures(conn.id.clone()).await, 1);
    let reconnected = store.upsert_connection(&connection(&ws.id)).await.unwrap();
    assert_eq!(reconnected.id, conn.id);
    assert_eq!(failures(conn.id.clone()).await, 0);
}

/// Servers open the store inside spawned tasks: the connect futures must be `Send + 'static`
/// for every backend (a migrator borrowing a connection is not).
#[tokio::test]
async fn connect_can_run_in_a_spawned_task() {
    let store = tokio::spawn(switchboard_store::connect("sqlite::memory:"))
        .await
        .unwrap()
        .unwrap();
    store.ping().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = testing::fresh_sqlite_url(dir.path());
    tokio::spawn(async move { SqliteStore::connect(&url).await })
        .await
        .unwrap()
        .unwrap();
}

/// A connection returned to the pool inside a transaction it did not commit (what a failed
/// write on a full disk leaves: SQLite rolled back by itself, sqlx's `ROLLBACK` failed) is
/// closed, not handed out again: later writes are committed for everyone, not swallowed by a
/// transaction that is never committed.
#[tokio::test]
async fn sqlite_a_connection_left_inside_a_transaction_is_never_reused() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("leftover.db").display());
    let store = SqliteStore::connect(&url).await.unwrap();
    {
        let mut conn = store.pool().acquire().await.unwrap();
        // Behind sqlx's back, as SQLite's own rollback-on-error leaves sqlx's count wrong.
        sqlx::query("BEGIN").execute(&mut *conn).await.unwrap();
    }
    for i in 0..20 {
        store
            .create_workspace(&format!("w{i}"), at(i))
            .await
            .unwrap();
    }
    let other = SqliteStore::connect(&url).await.unwrap();
    assert_eq!(
        other.list_workspaces(100).await.unwrap().len(),
        20,
        "every acknowledged write is visible to another connection"
    );
    drop(store);
    // And after the writer is gone (what a restart reads).
    let reopened = SqliteStore::connect(&url).await.unwrap();
    assert_eq!(reopened.list_workspaces(100).await.unwrap().len(), 20);
}

/// The same through sqlx's own transaction count: a transaction dropped while its rollback
/// cannot run is not handed out either.
#[tokio::test]
async fn postgres_a_connection_counted_inside_a_transaction_is_never_reused() {
    let url = testing::fresh_postgres_url().await;
    let store = PgStore::connect(&url).await.unwrap();
    {
        let mut conn = store.pool().acquire().await.unwrap();
        sqlx::query("BEGIN").execute(&mut *conn).await.unwrap();
    }
    for i in 0..5 {
        store
            .create_workspace(&format!("w{i}"), at(i))
            .await
            .unwrap();
    }
    let other = PgStore::connect(&url).await.unwrap();
    assert_eq!(other.list_workspaces(100).await.unwrap().len(), 5);
}

/// Failures say what the database said: a full disk, a read-only file, an unreachable server.
#[tokio::test]
async fn store_errors_name_their_cause() {
    use switchboard_store::Fault;
    let full = StoreError::Database(sqlx::Error::Io(std::io::Error::new(
        std::io::ErrorKind::StorageFull,
        "full",
    )));
    assert_eq!(full.fault(), Fault::DiskFull);
    assert_eq!(
        StoreError::Database(sqlx::Error::PoolTimedOut).fault(),
        Fault::Unreachable
    );
    assert_eq!(StoreError::Corrupt("x".into()).fault(), Fault::Other);

    // SQLITE_READONLY from a real read-only database.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ro.db");
    let url = format!("sqlite://{}", path.display());
    SqliteStore::connect(&url).await.unwrap();
    let ro = SqliteStore::connect(&format!("{url}?mode=ro"))
        .await
        .unwrap();
    let err = ro.create_workspace("w", at(0)).await.unwrap_err();
    assert_eq!(err.fault(), Fault::ReadOnly, "{err}");
}
