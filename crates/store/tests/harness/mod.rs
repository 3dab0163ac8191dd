//! The harness every conformance file shares: a fresh database per test on each backend, and
//! the `conformance!` macro that turns one async test function into a SQLite and a PostgreSQL
//! `#[tokio::test]`.

#![allow(dead_code)]

use std::sync::Arc;

use switchboard_store::Store;

/// Re-raises the panic of a test body that ran as a task (after its database was cleaned up).
pub fn rethrow(outcome: Result<(), tokio::task::JoinError>) {
    if let Err(error) = outcome {
        match error.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(error) => panic!("test task failed: {error}"),
        }
    }
}

/// A SQLite database in a temporary directory, and stores on it.
pub struct SqliteDb {
    _dir: tempfile::TempDir,
    url: String,
}

impl SqliteDb {
    pub async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = switchboard_store::testing::fresh_sqlite_url(dir.path());
        Self { _dir: dir, url }
    }

    pub async fn store(&self) -> Arc<dyn Store> {
        let store = switchboard_store::sqlite::SqliteStore::connect(&self.url)
            .await
            .unwrap();
        assert_eq!(store.backend(), "sqlite");
        Arc::new(store)
    }

    pub async fn finish(self) {}
}

/// A fresh PostgreSQL database, and stores on it; dropped by `finish`.
pub struct PgDb {
    url: String,
}

impl PgDb {
    pub async fn new() -> Self {
        Self {
            url: switchboard_store::testing::fresh_postgres_url().await,
        }
    }

    pub async fn store(&self) -> Arc<dyn Store> {
        let store = switchboard_store::postgres::PgStore::connect(&self.url)
            .await
            .unwrap();
        assert_eq!(store.backend(), "postgres");
        Arc::new(store)
    }

    pub async fn finish(self) {
        switchboard_store::testing::drop_test_database(&self.url)
            .await
            .unwrap();
    }
}

/// Generates `sqlite::<name>` and `postgres::<name>` tests; `single` tests take one store,
/// `pair` tests two stores on the same database (two pools, as two processes).
macro_rules! conformance {
    (single: [$($single:ident),* $(,)?], pair: [$($pair:ident),* $(,)?] $(,)?) => {
        conformance!(@backend sqlite, SqliteDb, [$($single),*], [$($pair),*]);
        conformance!(@backend postgres, PgDb, [$($single),*], [$($pair),*]);
    };
    (@backend $module:ident, $db:ident, [$($single:ident),*], [$($pair:ident),*]) => {
        mod $module {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $single() {
                    let db = $db::new().await;
                    let store = db.store().await;
                    let outcome = tokio::spawn(super::$single(store)).await;
                    db.finish().await;
                    rethrow(outcome);
                }
            )*
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $pair() {
                    let db = $db::new().await;
                    let a = db.store().await;
                    let b = db.store().await;
                    let outcome = tokio::spawn(super::$pair(a, b)).await;
                    db.finish().await;
                    rethrow(outcome);
                }
            )*
        }
    };
}

pub(crate) use conformance;
