//! Helpers for tests (of this crate and of others) that need a real database.
//!
//! PostgreSQL tests get a brand-new empty database each, `sbtest_<32 hex digits>`, on the
//! server named by [`TEST_POSTGRES_URL_ENV`]. An unreachable server makes the test **panic**:
//! CI must fail rather than silently skip the PostgreSQL half of a suite.
//!
//! Databases of tests that finished normally can be dropped with [`drop_test_database`]; those of
//! aborted runs are swept by [`drop_stale_test_databases`] (for the CI script, when no test runs).

use std::path::Path;
use std::time::Duration;

use sqlx::postgres::PgConnection;
use sqlx::{Connection as _, Row};
use url::Url;

use crate::{StoreError, StoreResult};

/// Environment variable naming the PostgreSQL server for tests: the URL of a database the test
/// user can connect to and run `CREATE DATABASE` from (an "admin" database).
pub const TEST_POSTGRES_URL_ENV: &str = "SWITCHBOARD_TEST_POSTGRES_URL";

/// The server used when [`TEST_POSTGRES_URL_ENV`] is not set.
pub const DEFAULT_TEST_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// Prefix of every database [`fresh_postgres_url`] creates.
pub const TEST_DATABASE_PREFIX: &str = "sbtest_";

/// How long to wait for the test server before giving up.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The admin URL of the test server: [`TEST_POSTGRES_URL_ENV`], or
/// [`DEFAULT_TEST_POSTGRES_URL`] when unset or empty.
pub fn test_postgres_admin_url() -> String {
    std::env::var(TEST_POSTGRES_URL_ENV)
        .ok()
        .filter(|url| !url.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_TEST_POSTGRES_URL.to_string())
}

/// Creates a brand-new empty database `sbtest_<random hex>` on the test server and returns its
/// URL (the admin URL with the database name replaced). No migrations are applied.
///
/// # Panics
/// When the server is unreachable (within 10 s) or refuses to create the database, with a
/// message naming the URL and [`TEST_POSTGRES_URL_ENV`]. Tests must fail, never skip.
pub async fn fresh_postgres_url() -> String {
    fresh_postgres_url_on(&test_postgres_admin_url()).await
}

/// As [`fresh_postgres_url`], on the server `admin_url` names instead of the environment's.
///
/// # Panics
/// As [`fresh_postgres_url`].
pub async fn fresh_postgres_url_on(admin_url: &str) -> String {
    let name = format!("{TEST_DATABASE_PREFIX}{:032x}", rand::random::<u128>());
    let url = match database_url(admin_url, &name) {
        Ok(url) => url,
        Err(error) => panic!("test PostgreSQL URL {admin_url:?} is not a usable URL: {error}"),
    };

    let mut conn = admin_connection(admin_url).await.unwrap_or_else(|error| {
        panic!(
            "PostgreSQL for tests is unreachable at {admin_url} ({error}). Start it, or point \
             {TEST_POSTGRES_URL_ENV} at a server where this user may CREATE DATABASE."
        )
    });
    // The name is generated above from hex digits: safe to splice.
    if let Err(error) = sqlx::query(&format!("CREATE DATABASE \"{name}\""))
        .execute(&mut conn)
        .await
    {
        panic!("could not create test database {name} on {admin_url}: {error}");
    }
    let _ = conn.close().await;
    url
}

/// A URL for a new SQLite database file (not yet created) inside `dir`, e.g. a `tempfile`
/// directory: `sqlite://<dir>/switchboard-<random hex>.db`.
pub fn fresh_sqlite_url(dir: &Path) -> String {
    let file = dir.join(format!("switchboard-{:016x}.db", rand::random::<u64>()));
    format!("sqlite://{}", file.display())
}

/// Drops the test database `url` names (one [`fresh_postgres_url`] returned), disconnecting
/// whoever still uses it (`DROP DATABASE ... WITH (FORCE)`). Connects to the same server, to the
/// admin database named by [`test_postgres_admin_url`].
///
/// # Errors
/// [`StoreError::UnsupportedUrl`] when `url` does not name an `sbtest_` database,
/// [`StoreError::Database`] when the server refuses.
pub async fn drop_test_database(url: &str) -> StoreResult<()> {
    let unsupported = || StoreError::UnsupportedUrl(url.to_string());
    let parsed = Url::parse(url).map_err(|_| unsupported())?;
    let name = parsed.path().trim_start_matches('/');
    if !is_test_database_name(name) {
        return Err(unsupported());
    }
    let admin_path = Url::parse(&test_postgres_admin_url())
        .map(|admin| admin.path().to_string())
        .unwrap_or_else(|_| "/postgres".to_string());
    let mut admin = parsed.clone();
    admin.set_path(&admin_path);

    let mut conn = admin_connection(admin.as_str()).await?;
    let dropped = drop_database(&mut conn, name).await;
    let _ = conn.close().await;
    dropped
}

/// Drops every `sbtest_%` database on the server `admin_url` names (leftovers of aborted test
/// runs), forcibly disconnecting their sessions. Returns the names dropped.
///
/// Tests running at the same time lose their database: call it only when no test runs (before
/// or after the test step in CI).
///
/// # Errors
/// [`StoreError::Database`] when the server is unreachable or refuses a drop.
pub async fn drop_stale_test_databases(admin_url: &str) -> StoreResult<Vec<String>> {
    let mut conn = admin_connection(admin_url).await?;
    let result = async {
        let names: Vec<String> =
            sqlx::query("SELECT datname FROM pg_database WHERE starts_with(datname, $1)")
                .bind(TEST_DATABASE_PREFIX)
                .fetch_all(&mut conn)
                .await?
                .iter()
                .map(|row| row.try_get("datname"))
                .collect::<Result<_, _>>()?;
        let mut dropped = Vec::new();
        for name in names.into_iter().filter(|name| is_test_database_name(name)) {
            drop_database(&mut conn, &name).await?;
            dropped.push(name);
        }
        Ok(dropped)
    }
    .await;
    let _ = conn.close().await;
    result
}

/// `sbtest_` followed by lowercase hex digits only (so it can be spliced into SQL).
fn is_test_database_name(name: &str) -> bool {
    name.strip_prefix(TEST_DATABASE_PREFIX).is_some_and(|rest| {
        !rest.is_empty()
            && rest
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// `DROP DATABASE IF EXISTS "<name>" WITH (FORCE)`; `name` must pass [`is_test_database_name`].
async fn drop_database(conn: &mut PgConnection, name: &str) -> StoreResult<()> {
    sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .execute(conn)
        .await?;
    Ok(())
}

/// Connects to `admin_url`, giving up after [`CONNECT_TIMEOUT`].
async fn admin_connection(admin_url: &str) -> StoreResult<PgConnection> {
    match tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect(admin_url)).await {
        Ok(conn) => Ok(conn?),
        Err(_) => Err(StoreError::Database(sqlx::Error::Io(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("no answer from {admin_url} within {CONNECT_TIMEOUT:?}"),
        )))),
    }
}

/// `admin_url` with its path replaced by `/<name>`.
fn database_url(admin_url: &str, name: &str) -> Result<String, url::ParseError> {
    let mut url = Url::parse(admin_url)?;
    url.set_path(&format!("/{name}"));
    Ok(url.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_database_names_are_recognised_strictly() {
        assert!(is_test_database_name("sbtest_0123abcdef"));
        assert!(!is_test_database_name("sbtest_"));
        assert!(!is_test_database_name("sbtest_ABC"));
        assert!(!is_test_database_name("sbtest_1\"; DROP"));
        assert!(!is_test_database_name("postgres"));
    }

    #[test]
    fn database_url_replaces_only_the_path() {
        assert_eq!(
            database_url(
                "postgres://u:p@db.example:5433/postgres?sslmode=disable",
                "sbtest_ab"
            )
            .unwrap(),
            "postgres://u:p@db.example:5433/sbtest_ab?sslmode=disable"
        );
    }

    #[test]
    fn sqlite_urls_point_inside_the_directory() {
        let url = fresh_sqlite_url(Path::new("/tmp/x"));
        assert!(url.starts_with("sqlite:///tmp/x/switchboard-"), "{url}");
        assert_ne!(url, fresh_sqlite_url(Path::new("/tmp/x")));
    }
}
