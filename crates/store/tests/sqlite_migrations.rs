//! SQLite migrations under concurrency: sqlx's SQLite migrator takes no lock, so
//! `SqliteStore::connect` holds an exclusive file lock on `<database>.migrate.lock` while it
//! migrates. Several stores (separate pools, as separate `switchboard serve` processes would
//! have) opening one fresh file at the same moment must all succeed, with every migration
//! applied exactly once.

use switchboard_store::sqlite::{SqliteStore, MIGRATOR};
use switchboard_store::Store;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stores_opening_a_fresh_file_together_migrate_it_once() {
    for round in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        let url = switchboard_store::testing::fresh_sqlite_url(dir.path());
        let opened = futures_join(8, &url).await;
        for (i, r) in opened.iter().enumerate() {
            if let Err(e) = r {
                panic!("round {round}: store {i} failed to open: {e}");
            }
        }
        let store = opened.into_iter().next().unwrap().unwrap();
        let applied: Vec<(i64, bool)> =
            sqlx::query_as("SELECT version, success FROM _sqlx_migrations ORDER BY version")
                .fetch_all(store.pool())
                .await
                .unwrap();
        let expected: Vec<(i64, bool)> = MIGRATOR
            .iter()
            .filter(|m| m.migration_type.is_up_migration())
            .map(|m| (m.version, true))
            .collect();
        assert_eq!(applied, expected, "round {round}: each migration once");
        // The schema is usable.
        let ws = store
            .create_workspace("w", chrono::Utc::now())
            .await
            .unwrap();
        assert!(store.get_workspace(&ws.id).await.unwrap().is_some());
        assert!(
            std::path::Path::new(&format!(
                "{}.migrate.lock",
                url.trim_start_matches("sqlite://")
            ))
            .exists(),
            "the lock file sits next to the database"
        );
    }
}

/// Opens `n` stores on `url` at the same moment, each from its own task.
async fn futures_join(n: usize, url: &str) -> Vec<Result<SqliteStore, String>> {
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(n));
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let url = url.to_string();
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                SqliteStore::connect(&url).await.map_err(|e| e.to_string())
            })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

#[tokio::test]
async fn in_memory_databases_migrate_without_a_lock_file() {
    let before: Vec<_> = std::fs::read_dir(".").unwrap().flatten().collect();
    let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
    store
        .create_workspace("w", chrono::Utc::now())
        .await
        .unwrap();
    let after: Vec<_> = std::fs::read_dir(".").unwrap().flatten().collect();
    assert_eq!(
        before.len(),
        after.len(),
        "no lock file in the working directory"
    );
}
