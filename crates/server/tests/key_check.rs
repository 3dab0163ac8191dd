//! The server refuses to start when a stored secret names an encryption key it does not have,
//! and says which key and how many rows; with the key back (even as a non-active one) it starts.
//! On SQLite and PostgreSQL.

use std::sync::Arc;

use switchboard_core::SystemClock;
use switchboard_server::{AppState, Config, StartError};
use switchboard_vault::generate_key_spec;

fn config(database_url: &str, keys: Option<&str>, active: Option<&str>) -> Config {
    Config {
        database_url: database_url.to_string(),
        keys: keys.map(|k| secrecy::SecretString::from(k.to_string())),
        active_key: active.map(str::to_string),
        workers: false,
        ..Config::default()
    }
}

fn key_id(spec: &str) -> String {
    spec.split(':').next().unwrap().to_string()
}

/// Stores a connection sealed with the state's active key.
async fn seed(state: &AppState) {
    let now = chrono::Utc::now();
    let (ws, _key) = switchboard_server::create_workspace(state.store().as_ref(), "k", now)
        .await
        .unwrap();
    let id = uuid::Uuid::now_v7().to_string();
    let mut tokens = switchboard_core::TokenSet::bearer("access-1");
    tokens.refresh_token = Some(secrecy::SecretString::from("refresh-1".to_string()));
    let (access, refresh) = switchboard_server::vaulted::seal_tokens(state.keyring(), &id, &tokens);
    state
        .store()
        .upsert_connection(&switchboard_store::Connection {
            id,
            workspace_id: ws.id.clone(),
            platform: "twitter".into(),
            owner: "o".into(),
            account_id: "a1".into(),
            account_name: None,
            username: None,
            avatar_url: None,
            scopes: vec![],
            status: "healthy".into(),
            access_token_sealed: access,
            refresh_token_sealed: refresh,
            token_type: "Bearer".into(),
            expires_at: None,
            refresh_expires_at: None,
            token_obtained_at: now,
            last_refreshed_at: None,
            last_error: None,
            metadata: serde_json::json!({}),
            version: 1,
            created_at: now,
            updated_at: now,
        })
        .await
        .unwrap();
}

async fn refuses_without_the_key(database_url: String) {
    let old = generate_key_spec();
    let new = generate_key_spec();
    let (old_id, new_id) = (key_id(&old), key_id(&new));
    let clock = Arc::new(SystemClock);

    let first = AppState::build(config(&database_url, Some(&old), None), clock.clone())
        .await
        .expect("an empty database starts with any key");
    seed(&first).await;
    drop(first);

    // Only the new key: refused, naming the old key, its rows and columns.
    let err = AppState::build(config(&database_url, Some(&new), None), clock.clone())
        .await
        .expect_err("a stored secret names a key this instance lacks");
    assert!(matches!(err, StartError::MissingKeys(_)), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains(&format!("key {old_id:?}: 2 rows")),
        "{message}"
    );
    assert!(
        message.contains("1 in connections.access_token_sealed")
            && message.contains("1 in connections.refresh_token_sealed"),
        "{message}"
    );
    assert!(message.contains("SWITCHBOARD_KEYS"), "{message}");
    assert!(
        !message.contains(old.split(':').nth(1).unwrap()),
        "no key material: {message}"
    );

    // Both keys, the new one active: starts (rotation comes next).
    let both = format!("{old},{new}");
    let state = AppState::build(
        config(&database_url, Some(&both), Some(&new_id)),
        clock.clone(),
    )
    .await
    .expect("the old key is still configured");
    assert_eq!(state.keyring().active_id(), new_id);
    drop(state);

    // Development mode without keys: warns but starts (its ephemeral key opens nothing anyway).
    let mut dev = config(&database_url, None, None);
    dev.dev = true;
    AppState::build(dev, clock)
        .await
        .expect("dev mode only warns");
}

#[tokio::test]
async fn sqlite_refuses_to_start_without_a_key_in_use() {
    let dir = tempfile::tempdir().unwrap();
    refuses_without_the_key(switchboard_store::testing::fresh_sqlite_url(dir.path())).await;
}

#[tokio::test]
async fn postgres_refuses_to_start_without_a_key_in_use() {
    let url = switchboard_store::testing::fresh_postgres_url().await;
    refuses_without_the_key(url.clone()).await;
    switchboard_store::testing::drop_test_database(&url)
        .await
        .unwrap();
}
