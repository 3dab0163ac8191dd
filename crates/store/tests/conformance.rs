//! The conformance suite of the [`Store`] trait, written once and run against both backends.
//!
//! Every test below is an async function taking `Arc<dyn Store>` (or two stores on the same
//! database, standing in for two processes). The `conformance!` macro at the bottom generates a
//! `sqlite::<test>` (temporary file) and a `postgres::<test>` (fresh database from
//! `switchboard_store::testing`) `#[tokio::test]` for each.
//!
//! All timestamps are whole milliseconds so that values read back compare equal on both
//! backends (SQLite stores milliseconds, PostgreSQL microseconds).

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::json;
mod harness;

use harness::{conformance, rethrow, PgDb, SqliteDb};
use switchboard_store::refresh_queue::DueRefreshes;
use switchboard_store::{
    Connection, ConnectionFilter, ConsumeOutcome, Event, OAuthState, Store, StoreError, TokenUpdate,
};

// ---------------------------------------------------------------------------------------------
// Fixtures

/// A fixed instant plus `offset_ms` milliseconds.
fn at(offset_ms: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 12, 0, 0).unwrap() + Duration::milliseconds(offset_ms)
}

fn random_hex() -> String {
    format!("{:032x}", rand::random::<u128>())
}

fn state(workspace_id: &str, hash: &str, created: DateTime<Utc>, ttl_ms: i64) -> OAuthState {
    OAuthState {
        state_hash: hash.to_string(),
        workspace_id: workspace_id.to_string(),
        platform: "x".to_string(),
        owner: "user-42".to_string(),
        redirect_uri: "https://switchboard.example/oauth/x/callback".to_string(),
        scopes: vec!["tweet.read".to_string(), "offline.access".to_string()],
        return_to: Some("https://app.example/done?x=1".to_string()),
        code_verifier_sealed: Some("sealed:verifier".to_string()),
        connection_id: Some("conn-being-reconnected".to_string()),
        metadata: json!({"batch": "b-1", "n": 3, "nested": {"ok": true}}),
        created_at: created,
        expires_at: created + Duration::milliseconds(ttl_ms),
        consumed_at: None,
    }
}

fn connection(workspace_id: &str, platform: &str, account_id: &str) -> Connection {
    Connection {
        id: uuid::Uuid::now_v7().to_string(),
        workspace_id: workspace_id.to_string(),
        platform: platform.to_string(),
        owner: "user-42".to_string(),
        account_id: account_id.to_string(),
        account_name: Some("Ada Lovelace".to_string()),
        username: Some("ada".to_string()),
        avatar_url: Some("https://cdn.example/ada.png".to_string()),
        scopes: vec!["a".to_string(), "b".to_string()],
        status: "active".to_string(),
        access_token_sealed: "sealed:access-1".to_string(),
        refresh_token_sealed: Some("sealed:refresh-1".to_string()),
        token_type: "Bearer".to_string(),
        expires_at: Some(at(3_600_000)),
        refresh_expires_at: Some(at(86_400_000)),
        token_obtained_at: at(0),
        last_refreshed_at: None,
        last_error: None,
        metadata: json!({"open_id": "o-1"}),
        version: 1,
        created_at: at(0),
        updated_at: at(0),
    }
}

fn token_update(access: &str) -> TokenUpdate {
    TokenUpdate {
        access_token_sealed: access.to_string(),
        refresh_token_sealed: Some(format!("{access}:refresh")),
        token_type: "Bearer".to_string(),
        expires_at: Some(at(7_200_000)),
        refresh_expires_at: Some(at(172_800_000)),
        scopes: Some(vec!["c".to_string()]),
        token_obtained_at: at(5_000),
        status: "active".to_string(),
        refreshed_at: Some(at(5_000)),
    }
}

fn event(workspace_id: &str, id: &str, created: DateTime<Utc>) -> Event {
    Event {
        id: id.to_string(),
        workspace_id: workspace_id.to_string(),
        connection_id: None,
        kind: "connection.created".to_string(),
        payload: json!({"id": id, "list": [1, 2, {"deep": null}]}),
        created_at: created,
    }
}

async fn workspace(store: &Arc<dyn Store>, name: &str) -> String {
    store.create_workspace(name, at(0)).await.unwrap().id
}

// ---------------------------------------------------------------------------------------------
// Basics, workspaces, API keys

async fn ping_answers(store: Arc<dyn Store>) {
    store.ping().await.unwrap();
    assert!(["sqlite", "postgres"].contains(&store.backend()));
}

async fn workspace_create_and_get(store: Arc<dyn Store>) {
    let created = store.create_workspace("Acme", at(123)).await.unwrap();
    assert_eq!(created.name, "Acme");
    assert_eq!(created.created_at, at(123));
    let id = uuid::Uuid::parse_str(&created.id).expect("workspace id is a UUID");
    assert_eq!(id.get_version_num(), 7);

    assert_eq!(
        store.get_workspace(&created.id).await.unwrap(),
        Some(created.clone())
    );
    assert_eq!(
        store.get_workspace("no-such-workspace").await.unwrap(),
        None
    );

    let other = store.create_workspace("Acme", at(123)).await.unwrap();
    assert_ne!(other.id, created.id, "each workspace gets its own id");
}

async fn api_key_lookup_by_hash(store: Arc<dyn Store>) {
    let ws = workspace(&store, "keys").await;
    let hash = random_hex();
    let key = store
        .create_api_key(&ws, &hash, "sbk_ab12", at(7))
        .await
        .unwrap();
    assert_eq!(key.workspace_id, ws);
    assert_eq!(key.prefix, "sbk_ab12");
    assert_eq!(key.created_at, at(7));
    uuid::Uuid::parse_str(&key.id).expect("key id is a UUID");

    assert_eq!(store.find_api_key(&hash).await.unwrap(), Some(key.clone()));
    assert_eq!(store.find_api_key(&random_hex()).await.unwrap(), None);

    // The hash is unique.
    let duplicate = store.create_api_key(&ws, &hash, "sbk_zz", at(8)).await;
    assert!(
        matches!(duplicate, Err(StoreError::Database(_))),
        "{duplicate:?}"
    );
    // Keys belong to an existing workspace.
    let orphan = store
        .create_api_key("no-such-workspace", &random_hex(), "sbk_x", at(8))
        .await;
    assert!(matches!(orphan, Err(StoreError::Database(_))), "{orphan:?}");
}

// ---------------------------------------------------------------------------------------------
// OAuth states

async fn state_consumed_once_then_already_used(store: Arc<dyn Store>) {
    let ws = workspace(&store, "states").await;
    let pending = state(&ws, &random_hex(), at(0), 600_000);
    store.insert_oauth_state(&pending).await.unwrap();

    let first = store
        .consume_oauth_state(&pending.state_hash, at(1_000))
        .await
        .unwrap();
    let consumed = OAuthState {
        consumed_at: Some(at(1_000)),
        ..pending.clone()
    };
    assert_eq!(first, ConsumeOutcome::Consumed(consumed.clone()));

    // A replayed callback, before and after expiry: still "already used", never consumed again.
    for now in [at(2_000), at(10_000_000)] {
        let again = store
            .consume_oauth_state(&pending.state_hash, now)
            .await
            .unwrap();
        assert_eq!(again, ConsumeOutcome::AlreadyUsed(consumed.clone()));
    }
}

async fn state_expired_stays_unconsumed(store: Arc<dyn Store>) {
    let ws = workspace(&store, "states").await;
    let pending = state(&ws, &random_hex(), at(0), 60_000);
    store.insert_oauth_state(&pending).await.unwrap();

    // Expired strictly after expires_at and at expires_at itself.
    for now in [at(60_001), at(60_000)] {
        let outcome = store
            .consume_oauth_state(&pending.state_hash, now)
            .await
            .unwrap();
        assert_eq!(outcome, ConsumeOutcome::Expired(pending.clone()));
    }
    // It was left unconsumed: a call from before the expiry (a clock behind) still consumes it.
    let outcome = store
        .consume_oauth_state(&pending.state_hash, at(59_999))
        .await
        .unwrap();
    assert!(
        matches!(&outcome, ConsumeOutcome::Consumed(s) if s.consumed_at == Some(at(59_999))),
        "{outcome:?}"
    );
}

async fn state_unknown_is_not_found(store: Arc<dyn Store>) {
    let ws = workspace(&store, "states").await;
    store
        .insert_oauth_state(&state(&ws, &random_hex(), at(0), 60_000))
        .await
        .unwrap();
    let outcome = store
        .consume_oauth_state(&random_hex(), at(1))
        .await
        .unwrap();
    assert_eq!(outcome, ConsumeOutcome::NotFound);
}

async fn state_optional_fields_round_trip(store: Arc<dyn Store>) {
    let ws = workspace(&store, "states").await;
    let bare = OAuthState {
        scopes: vec![],
        return_to: None,
        code_verifier_sealed: None,
        connection_id: None,
        metadata: json!(null),
        ..state(&ws, &random_hex(), at(0), 60_000)
    };
    store.insert_oauth_state(&bare).await.unwrap();
    let outcome = store
        .consume_oauth_state(&bare.state_hash, at(1))
        .await
        .unwrap();
    assert_eq!(
        outcome,
        ConsumeOutcome::Consumed(OAuthState {
            consumed_at: Some(at(1)),
            ..bare
        })
    );
}

/// 20 concurrent consumers of the same state on one store: exactly one wins.
async fn state_consumed_once_under_concurrency(store: Arc<dyn Store>) {
    consume_race(&[store], 20, 5).await;
}

/// 20 concurrent consumers split over two stores (two pools, as two processes would have).
async fn state_consumed_once_across_stores(a: Arc<dyn Store>, b: Arc<dyn Store>) {
    consume_race(&[a, b], 20, 5).await;
}

async fn consume_race(stores: &[Arc<dyn Store>], consumers: usize, rounds: usize) {
    let ws = workspace(&stores[0], "race").await;
    for round in 0..rounds {
        let pending = state(&ws, &random_hex(), at(0), 600_000);
        stores[0].insert_oauth_state(&pending).await.unwrap();
        let barrier = Arc::new(tokio::sync::Barrier::new(consumers));
        let tasks: Vec<_> = (0..consumers)
            .map(|i| {
                let store = stores[i % stores.len()].clone();
                let hash = pending.state_hash.clone();
                let barrier = barrier.clone();
                tokio::spawn(async move {
                    barrier.wait().await;
                    store.consume_oauth_state(&hash, at(1_000)).await.unwrap()
                })
            })
            .collect();
        let mut consumed = 0;
        let mut already_used = 0;
        for task in tasks {
            match task.await.unwrap() {
                ConsumeOutcome::Consumed(_) => consumed += 1,
                ConsumeOutcome::AlreadyUsed(s) => {
                    assert_eq!(s.consumed_at, Some(at(1_000)));
                    already_used += 1;
                }
                other => panic!("round {round}: unexpected {other:?}"),
            }
        }
        assert_eq!(consumed, 1, "round {round}: exactly one consumer wins");
        assert_eq!(already_used, consumers - 1);
    }
}

// ---------------------------------------------------------------------------------------------
// Connections: upsert, lookups, listing

async fn upsert_inserts_at_version_one(store: Arc<dyn Store>) {
    let ws = workspace(&store, "conns").await;
    let new = Connection {
        version: 42, // ignored: a new row starts at 1
        last_error: Some(json!({"kind": "old"})),
        last_refreshed_at: Some(at(10)),
        ..connection(&ws, "x", "acct-1")
    };
    let stored = store.upsert_connection(&new).await.unwrap();
    assert_eq!(
        stored,
        Connection {
            version: 1,
            ..new.clone()
        }
    );
    assert_eq!(
        store
            .find_connection_by_account(&ws, "x", "acct-1")
            .await
            .unwrap(),
        Some(stored.clone())
    );
    assert_eq!(
        store.get_connection_by_id(&stored.id).await.unwrap(),
        Some(stored.clone())
    );
    assert_eq!(
        store
            .find_connection_by_account(&ws, "x", "acct-2")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .find_connection_by_account(&ws, "linkedin", "acct-1")
            .await
            .unwrap(),
        None
    );
}

async fn upsert_keeps_id_created_at_and_refresh_token(store: Arc<dyn Store>) {
    let ws = workspace(&store, "conns").await;
    let first = store
        .upsert_connection(&connection(&ws, "x", "acct-1"))
        .await
        .unwrap();

    // A reconnect: new id, new tokens but no refresh token, everything else changed too.
    let reconnect = Connection {
        id: uuid::Uuid::now_v7().to_string(),
        owner: "user-43".to_string(),
        account_name: None,
        username: Some("ada2".to_string()),
        avatar_url: None,
        scopes: vec!["z".to_string()],
        status: "active".to_string(),
        access_token_sealed: "sealed:access-2".to_string(),
        refresh_token_sealed: None,
        token_type: "bearer".to_string(),
        expires_at: None,
        refresh_expires_at: None,
        token_obtained_at: at(50_000),
        last_refreshed_at: Some(at(49_000)),
        last_error: Some(json!({"code": "x"})),
        metadata: json!({"open_id": "o-2", "extra": [1]}),
        version: 7,
        created_at: at(50_000),
        updated_at: at(50_000),
        ..first.clone()
    };
    let second = store.upsert_connection(&reconnect).await.unwrap();
    assert_eq!(
        second,
        Connection {
            id: first.id.clone(),
            created_at: first.created_at,
            refresh_token_sealed: first.refresh_token_sealed.clone(),
            refresh_expires_at: first.refresh_expires_at,
            version: 2,
            ..reconnect.clone()
        }
    );
    assert_eq!(
        store.get_connection(&ws, &first.id).await.unwrap(),
        Some(second.clone())
    );
    assert_eq!(
        store.get_connection_by_id(&reconnect.id).await.unwrap(),
        None,
        "the losing id was not stored"
    );

    // A reconnect that does bring a refresh token replaces it.
    let third = store
        .upsert_connection(&Connection {
            refresh_token_sealed: Some("sealed:refresh-3".to_string()),
            refresh_expires_at: Some(at(99_000)),
            updated_at: at(60_000),
            ..reconnect
        })
        .await
        .unwrap();
    assert_eq!(third.id, first.id);
    assert_eq!(third.version, 3);
    assert_eq!(
        third.refresh_token_sealed.as_deref(),
        Some("sealed:refresh-3")
    );
    assert_eq!(third.refresh_expires_at, Some(at(99_000)));
    assert_eq!(third.updated_at, at(60_000));
    assert_eq!(
        store
            .list_connections(&ws, &ConnectionFilter::default())
            .await
            .unwrap()
            .len(),
        1
    );
}

async fn upsert_is_per_workspace_and_platform(store: Arc<dyn Store>) {
    let ws_a = workspace(&store, "a").await;
    let ws_b = workspace(&store, "b").await;
    let a_x = store
        .upsert_connection(&connection(&ws_a, "x", "same"))
        .await
        .unwrap();
    let a_li = store
        .upsert_connection(&connection(&ws_a, "linkedin", "same"))
        .await
        .unwrap();
    let b_x = store
        .upsert_connection(&connection(&ws_b, "x", "same"))
        .await
        .unwrap();
    let ids: HashSet<_> = [&a_x.id, &a_li.id, &b_x.id].into_iter().collect();
    assert_eq!(ids.len(), 3);
    assert!([&a_x, &a_li, &b_x].iter().all(|c| c.version == 1));
    // One platform account across workspaces (Meta's callbacks name the person only).
    let found: HashSet<_> = store
        .find_connections_by_platform_account("x", "same")
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(found, HashSet::from([a_x.id.clone(), b_x.id.clone()]));
    assert!(store
        .find_connections_by_platform_account("x", "other")
        .await
        .unwrap()
        .is_empty());
}

async fn upsert_requires_existing_workspace(store: Arc<dyn Store>) {
    let result = store
        .upsert_connection(&connection("no-such-workspace", "x", "acct"))
        .await;
    assert!(matches!(result, Err(StoreError::Database(_))), "{result:?}");
}

/// Concurrent first connections of the same account (different ids) over two stores: one row,
/// every caller gets it back, and each write bumped the version once.
async fn upsert_race_yields_one_row(a: Arc<dyn Store>, b: Arc<dyn Store>) {
    let ws = workspace(&a, "race").await;
    let writers = 10;
    let barrier = Arc::new(tokio::sync::Barrier::new(writers));
    let tasks: Vec<_> = (0..writers)
        .map(|i| {
            let store = if i % 2 == 0 { a.clone() } else { b.clone() };
            let conn = Connection {
                access_token_sealed: format!("sealed:access-{i}"),
                ..connection(&ws, "x", "contended")
            };
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                store.upsert_connection(&conn).await.unwrap()
            })
        })
        .collect();
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.unwrap());
    }
    let ids: HashSet<_> = results.iter().map(|c| c.id.clone()).collect();
    assert_eq!(ids.len(), 1, "all writers got the same row: {ids:?}");
    let versions: HashSet<_> = results.iter().map(|c| c.version).collect();
    assert_eq!(versions, (1..=writers as i64).collect::<HashSet<_>>());

    let rows = a
        .list_connections(&ws, &ConnectionFilter::default())
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].version, writers as i64);
}

async fn get_connection_is_workspace_scoped(store: Arc<dyn Store>) {
    let ws_a = workspace(&store, "a").await;
    let ws_b = workspace(&store, "b").await;
    let conn = store
        .upsert_connection(&connection(&ws_a, "x", "acct"))
        .await
        .unwrap();
    assert_eq!(
        store.get_connection(&ws_a, &conn.id).await.unwrap(),
        Some(conn.clone())
    );
    assert_eq!(store.get_connection(&ws_b, &conn.id).await.unwrap(), None);
    assert_eq!(
        store
            .find_connection_by_account(&ws_b, "x", "acct")
            .await
            .unwrap(),
        None
    );
    assert!(store
        .list_connections(&ws_b, &ConnectionFilter::default())
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        store.get_connection(&ws_a, "no-such-id").await.unwrap(),
        None
    );
    assert_eq!(
        store.get_connection_by_id("no-such-id").await.unwrap(),
        None
    );
}

async fn list_connections_orders_and_filters(store: Arc<dyn Store>) {
    let ws = workspace(&store, "list").await;
    let other = workspace(&store, "other").await;
    store
        .upsert_connection(&connection(&other, "x", "elsewhere"))
        .await
        .unwrap();

    let make =
        |platform: &str, account: &str, owner: &str, status: &str, id: &str, t: i64| Connection {
            id: id.to_string(),
            owner: owner.to_string(),
            status: status.to_string(),
            created_at: at(t),
            ..connection(&ws, platform, account)
        };
    // Inserted out of order; "b-tie" and "a-tie" share a created_at and sort by id.
    for conn in [
        make("x", "3", "bob", "active", "id-3", 3_000),
        make("linkedin", "1", "ann", "active", "id-1", 1_000),
        make("x", "2", "ann", "expired", "b-tie", 2_000),
        make("tiktok", "4", "ann", "active", "a-tie", 2_000),
    ] {
        store.upsert_connection(&conn).await.unwrap();
    }

    let ids = |conns: Vec<Connection>| conns.into_iter().map(|c| c.id).collect::<Vec<_>>();
    let list = |filter: ConnectionFilter| {
        let store = store.clone();
        let ws = ws.clone();
        async move { ids(store.list_connections(&ws, &filter).await.unwrap()) }
    };

    assert_eq!(
        list(ConnectionFilter::default()).await,
        ["id-1", "a-tie", "b-tie", "id-3"]
    );
    assert_eq!(
        list(ConnectionFilter {
            platform: Some("x".into()),
            ..Default::default()
        })
        .await,
        ["b-tie", "id-3"]
    );
    assert_eq!(
        list(ConnectionFilter {
            owner: Some("ann".into()),
            ..Default::default()
        })
        .await,
        ["id-1", "a-tie", "b-tie"]
    );
    assert_eq!(
        list(ConnectionFilter {
            status: Some("active".into()),
            ..Default::default()
        })
        .await,
        ["id-1", "a-tie", "id-3"]
    );
    assert_eq!(
        list(ConnectionFilter {
            platform: Some("x".into()),
            owner: Some("ann".into()),
            status: Some("expired".into()),
        })
        .await,
        ["b-tie"]
    );
    assert!(list(ConnectionFilter {
        platform: Some("x".into()),
        status: Some("revoked".into()),
        ..Default::default()
    })
    .await
    .is_empty());
}

// ---------------------------------------------------------------------------------------------
// Connections: token updates, errors, status, delete

async fn update_tokens_replaces_tokens(store: Arc<dyn Store>) {
    let ws = workspace(&store, "tokens").await;
    store
        .upsert_connection(&connection(&ws, "x", "acct"))
        .await
        .unwrap();
    let conn = store
        .upsert_connection(&Connection {
            last_error: Some(json!({"kind": "invalid_grant"})),
            status: "needs_reconnect".to_string(),
            ..connection(&ws, "x", "acct")
        })
        .await
        .unwrap();
    assert_eq!(conn.version, 2);

    let update = token_update("sealed:access-9");
    let updated = store
        .update_tokens(&conn.id, &update, Some(2), at(6_000))
        .await
        .unwrap()
        .expect("version matched");
    let expected = Connection {
        access_token_sealed: update.access_token_sealed.clone(),
        refresh_token_sealed: update.refresh_token_sealed.clone(),
        token_type: update.token_type.clone(),
        expires_at: update.expires_at,
        refresh_expires_at: update.refresh_expires_at,
        scopes: vec!["c".to_string()],
        token_obtained_at: update.token_obtained_at,
        status: "active".to_string(),
        last_refreshed_at: Some(at(5_000)),
        last_error: None,
        version: 3,
        updated_at: at(6_000),
        ..conn.clone()
    };
    assert_eq!(updated, expected);
    assert_eq!(
        store.get_connection_by_id(&conn.id).await.unwrap(),
        Some(expected)
    );
}

async fn update_tokens_none_keeps_stored_values(store: Arc<dyn Store>) {
    let ws = workspace(&store, "tokens").await;
    let conn = store
        .upsert_connection(&Connection {
            last_refreshed_at: Some(at(1_000)),
            ..connection(&ws, "x", "acct")
        })
        .await
        .unwrap();
    let update = TokenUpdate {
        refresh_token_sealed: None,
        refresh_expires_at: None,
        scopes: None,
        refreshed_at: None,
        expires_at: None,
        ..token_update("sealed:access-2")
    };
    let updated = store
        .update_tokens(&conn.id, &update, None, at(9_000))
        .await
        .unwrap()
        .expect("no version check");
    assert_eq!(updated.access_token_sealed, "sealed:access-2");
    assert_eq!(updated.refresh_token_sealed, conn.refresh_token_sealed);
    assert_eq!(updated.refresh_expires_at, conn.refresh_expires_at);
    assert_eq!(updated.scopes, conn.scopes);
    assert_eq!(updated.last_refreshed_at, Some(at(1_000)));
    assert_eq!(updated.expires_at, None, "access expiry is always replaced");
    assert_eq!(updated.version, 2);
}

async fn update_tokens_version_conflict(store: Arc<dyn Store>) {
    let ws = workspace(&store, "tokens").await;
    let conn = store
        .upsert_connection(&connection(&ws, "x", "acct"))
        .await
        .unwrap();

    let stale = store
        .update_tokens(&conn.id, &token_update("sealed:stale"), Some(0), at(1))
        .await
        .unwrap();
    assert_eq!(stale, None, "version moved on");
    assert_eq!(
        store.get_connection_by_id(&conn.id).await.unwrap(),
        Some(conn.clone()),
        "a refused update changes nothing"
    );

    let ok = store
        .update_tokens(&conn.id, &token_update("sealed:a"), Some(1), at(2))
        .await
        .unwrap()
        .expect("current version");
    assert_eq!(ok.version, 2);
    let again = store
        .update_tokens(&conn.id, &token_update("sealed:b"), Some(1), at(3))
        .await
        .unwrap();
    assert_eq!(again, None, "the same expected version only works once");

    let gone = store
        .update_tokens("no-such-id", &token_update("sealed:c"), None, at(4))
        .await
        .unwrap();
    assert_eq!(gone, None);
}

/// Concurrent refreshers expecting the same version over two stores: exactly one wins.
async fn update_tokens_one_winner_across_stores(a: Arc<dyn Store>, b: Arc<dyn Store>) {
    let ws = workspace(&a, "tokens").await;
    let conn = a
        .upsert_connection(&connection(&ws, "x", "acct"))
        .await
        .unwrap();
    let writers = 10;
    let barrier = Arc::new(tokio::sync::Barrier::new(writers));
    let tasks: Vec<_> = (0..writers)
        .map(|i| {
            let store = if i % 2 == 0 { a.clone() } else { b.clone() };
            let id = conn.id.clone();
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                store
                    .update_tokens(&id, &token_update(&format!("sealed:{i}")), Some(1), at(9))
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        if let Some(updated) = task.await.unwrap() {
            winners.push(updated);
        }
    }
    assert_eq!(winners.len(), 1);
    let stored = a.get_connection_by_id(&conn.id).await.unwrap().unwrap();
    assert_eq!(stored.version, 2);
    assert_eq!(stored.access_token_sealed, winners[0].access_token_sealed);
}

async fn record_error_and_set_status(store: Arc<dyn Store>) {
    let ws = workspace(&store, "errors").await;
    let conn = store
        .upsert_connection(&connection(&ws, "x", "acct"))
        .await
        .unwrap();
    let diagnosis = json!({"kind": "invalid_grant", "detail": {"status": 400}});
    store
        .record_connection_error(&conn.id, "needs_reconnect", &diagnosis, at(7_000))
        .await
        .unwrap();
    let after_error = store.get_connection_by_id(&conn.id).await.unwrap().unwrap();
    assert_eq!(
        after_error,
        Connection {
            status: "needs_reconnect".to_string(),
            last_error: Some(diagnosis),
            updated_at: at(7_000),
            ..conn.clone()
        },
        "tokens and version untouched"
    );

    store
        .set_connection_status(&conn.id, "revoked", at(8_000))
        .await
        .unwrap();
    let after_status = store.get_connection_by_id(&conn.id).await.unwrap().unwrap();
    assert_eq!(
        after_status,
        Connection {
            status: "revoked".to_string(),
            updated_at: at(8_000),
            ..after_error
        }
    );

    // Success clears the error.
    let refreshed = store
        .update_tokens(&conn.id, &token_update("sealed:new"), None, at(9_000))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(refreshed.last_error, None);

    // Unknown ids are a no-op, not an error.
    store
        .record_connection_error("no-such-id", "x", &json!({}), at(1))
        .await
        .unwrap();
    store
        .set_connection_status("no-such-id", "x", at(1))
        .await
        .unwrap();
}

async fn delete_connection_is_scoped_and_keeps_events(store: Arc<dyn Store>) {
    let ws = workspace(&store, "delete").await;
    let other = workspace(&store, "other").await;
    let conn = store
        .upsert_connection(&connection(&ws, "x", "acct"))
        .await
        .unwrap();
    store
        .insert_event(&Event {
            connection_id: Some(conn.id.clone()),
            ..event(&ws, "ev-1", at(1))
        })
        .await
        .unwrap();

    assert!(!store.delete_connection(&other, &conn.id).await.unwrap());
    assert!(store
        .get_connection_by_id(&conn.id)
        .await
        .unwrap()
        .is_some());

    assert!(store.delete_connection(&ws, &conn.id).await.unwrap());
    assert_eq!(store.get_connection(&ws, &conn.id).await.unwrap(), None);
    assert_eq!(
        store
            .find_connection_by_account(&ws, "x", "acct")
            .await
            .unwrap(),
        None
    );
    assert!(!store.delete_connection(&ws, &conn.id).await.unwrap());

    let events = store.list_events(&ws, 10).await.unwrap();
    assert_eq!(events.len(), 1, "events outlive their connection");
    assert_eq!(events[0].connection_id.as_deref(), Some(conn.id.as_str()));

    // The account can be connected again, as a new row.
    let again = store
        .upsert_connection(&connection(&ws, "x", "acct"))
        .await
        .unwrap();
    assert_ne!(again.id, conn.id);
    assert_eq!(again.version, 1);
}

// ---------------------------------------------------------------------------------------------
// Refresh lock

async fn refresh_lock_is_exclusive_reentrant_and_expires(store: Arc<dyn Store>) {
    let ws = workspace(&store, "lock").await;
    let conn = store
        .upsert_connection(&connection(&ws, "x", "acct"))
        .await
        .unwrap();
    let id = conn.id.as_str();

    assert!(store
        .try_lock_refresh(id, "w1", at(30_000), at(0))
        .await
        .unwrap());
    assert!(!store
        .try_lock_refresh(id, "w2", at(40_000), at(1_000))
        .await
        .unwrap());
    // The holder may take it again (extending it).
    assert!(store
        .try_lock_refresh(id, "w1", at(60_000), at(2_000))
        .await
        .unwrap());
    assert!(!store
        .try_lock_refresh(id, "w2", at(90_000), at(45_000))
        .await
        .unwrap());

    // Only the holder releases it.
    store.unlock_refresh(id, "w2").await.unwrap();
    assert!(!store
        .try_lock_refresh(id, "w2", at(90_000), at(46_000))
        .await
        .unwrap());
    store.unlock_refresh(id, "w1").await.unwrap();
    assert!(store
        .try_lock_refresh(id, "w2", at(90_000), at(47_000))
        .await
        .unwrap());

    // Once expired (locked_until <= now) anyone may take it.
    assert!(!store
        .try_lock_refresh(id, "w3", at(120_000), at(89_999))
        .await
        .unwrap());
    assert!(store
        .try_lock_refresh(id, "w3", at(120_000), at(90_000))
        .await
        .unwrap());

    assert!(!store
        .try_lock_refresh("no-such-id", "w1", at(1), at(0))
        .await
        .unwrap());
    // The lock is not part of the record and does not bump the version.
    assert_eq!(
        store.get_connection_by_id(id).await.unwrap(),
        Some(conn.clone())
    );
}

/// Ten workers on two stores race for the lock: one holder; after expiry another store takes it.
async fn refresh_lock_exclusive_across_stores(a: Arc<dyn Store>, b: Arc<dyn Store>) {
    let ws = workspace(&a, "lock").await;
    let conn = a
        .upsert_connection(&connection(&ws, "x", "acct"))
        .await
        .unwrap();
    let workers = 10;
    let barrier = Arc::new(tokio::sync::Barrier::new(workers));
    let tasks: Vec<_> = (0..workers)
        .map(|i| {
            let store = if i % 2 == 0 { a.clone() } else { b.clone() };
            let id = conn.id.clone();
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                let owner = format!("worker-{i}");
                let taken = store
                    .try_lock_refresh(&id, &owner, at(30_000), at(0))
                    .await
                    .unwrap();
                (owner, taken)
            })
        })
        .collect();
    let mut holders = Vec::new();
    for task in tasks {
        let (owner, taken) = task.await.unwrap();
        if taken {
            holders.push(owner);
        }
    }
    assert_eq!(holders.len(), 1, "{holders:?}");
    let holder = &holders[0];
    let (holder_store, other_store) = if holder.ends_with(['0', '2', '4', '6', '8']) {
        (&a, &b)
    } else {
        (&b, &a)
    };

    assert!(!other_store
        .try_lock_refresh(&conn.id, "late", at(60_000), at(29_999))
        .await
        .unwrap());
    assert!(holder_store
        .try_lock_refresh(&conn.id, holder, at(45_000), at(29_999))
        .await
        .unwrap());
    // Expired: the other process takes over, and the old holder no longer can.
    assert!(other_store
        .try_lock_refresh(&conn.id, "late", at(90_000), at(45_000))
        .await
        .unwrap());
    assert!(!holder_store
        .try_lock_refresh(&conn.id, holder, at(95_000), at(46_000))
        .await
        .unwrap());
    holder_store.unlock_refresh(&conn.id, holder).await.unwrap();
    assert!(!holder_store
        .try_lock_refresh(&conn.id, holder, at(95_000), at(46_000))
        .await
        .unwrap());
}

// ---------------------------------------------------------------------------------------------
// Events

async fn events_newest_first_with_limit(store: Arc<dyn Store>) {
    let ws = workspace(&store, "events").await;
    let other = workspace(&store, "other").await;
    store
        .insert_event(&event(&other, "other-1", at(99_000)))
        .await
        .unwrap();

    // Out of order; "e-tie-b" and "e-tie-a" share a time and sort by id, descending.
    let events = [
        event(&ws, "e-2", at(2_000)),
        event(&ws, "e-5", at(5_000)),
        event(&ws, "e-1", at(1_000)),
        event(&ws, "e-tie-a", at(3_000)),
        Event {
            connection_id: Some("gone-connection".to_string()),
            kind: "connection.deleted".to_string(),
            ..event(&ws, "e-tie-b", at(3_000))
        },
    ];
    for e in &events {
        store.insert_event(e).await.unwrap();
    }

    let all = store.list_events(&ws, 100).await.unwrap();
    let ids: Vec<_> = all.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, ["e-5", "e-tie-b", "e-tie-a", "e-2", "e-1"]);
    assert_eq!(all[1], events[4], "every field round-trips");

    let top = store.list_events(&ws, 2).await.unwrap();
    assert_eq!(top, all[..2].to_vec());
    assert!(store.list_events(&ws, 0).await.unwrap().is_empty());
    assert!(store
        .list_events("no-such-workspace", 10)
        .await
        .unwrap()
        .is_empty());
}

// ---------------------------------------------------------------------------------------------
// The refresh worker's queue

fn due(platform: &str, before: DateTime<Utc>, limit: u32) -> DueRefreshes<'_> {
    DueRefreshes {
        platform,
        due_before: before,
        needs_refresh_token: true,
        obtained_before: None,
        limit,
        day: 20_000,
    }
}

async fn seed_due(
    store: &Arc<dyn Store>,
    ws: &str,
    n: usize,
    expires: DateTime<Utc>,
) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        let mut c = connection(ws, "x", &format!("acct-{i}"));
        c.expires_at = Some(expires);
        c.token_obtained_at = at(-100 * 3_600_000);
        ids.push(store.upsert_connection(&c).await.unwrap().id);
    }
    ids
}

async fn claim_takes_due_connections_once_and_counts_attempts(store: Arc<dyn Store>) {
    let ws = store.create_workspace("w", at(0)).await.unwrap();
    let mut soon = connection(&ws.id, "x", "soon");
    soon.expires_at = Some(at(2 * 3_600_000));
    let mut sooner = connection(&ws.id, "x", "sooner");
    sooner.expires_at = Some(at(3_600_000));
    let mut later = connection(&ws.id, "x", "later");
    later.expires_at = Some(at(10 * 3_600_000));
    let mut dead = connection(&ws.id, "x", "dead");
    dead.expires_at = Some(at(1_000));
    dead.status = "needs_reauth".into();
    let mut other = connection(&ws.id, "y", "other-platform");
    other.expires_at = Some(at(1_000));
    let mut no_refresh = connection(&ws.id, "x", "no-refresh");
    no_refresh.expires_at = Some(at(1_000));
    no_refresh.refresh_token_sealed = None;
    for c in [
        &mut soon,
        &mut sooner,
        &mut later,
        &mut dead,
        &mut other,
        &mut no_refresh,
    ] {
        // Long-lived tokens, well into their last quarter.
        c.token_obtained_at = at(-100 * 3_600_000);
        store.upsert_connection(c).await.unwrap();
    }
    let lease = at(60_000);
    let claimed = store
        .claim_due_refreshes(&due("x", at(3 * 3_600_000), 10), "w1", lease, at(0))
        .await
        .unwrap();
    let accounts: Vec<&str> = claimed
        .iter()
        .map(|c| c.connection.account_id.as_str())
        .collect();
    assert_eq!(
        accounts,
        ["sooner", "soon"],
        "due ones, soonest first, dead and other left out"
    );
    assert!(claimed.iter().all(|c| c.attempts_today == 1));
    // Held: nobody claims them again until the lease ends.
    let again = store
        .claim_due_refreshes(
            &due("x", at(3 * 3_600_000), 10),
            "w2",
            at(120_000),
            at(1_000),
        )
        .await
        .unwrap();
    assert!(again.is_empty());
    let after_lease = store
        .claim_due_refreshes(
            &due("x", at(3 * 3_600_000), 10),
            "w2",
            at(200_000),
            at(61_000),
        )
        .await
        .unwrap();
    assert_eq!(after_lease.len(), 2);
    assert!(after_lease.iter().all(|c| c.attempts_today == 2));
    // Released with a retry time: not claimed before it.
    let first = &after_lease[0].connection.id;
    store
        .release_refresh_claim(first, "w2", Some(at(600_000)))
        .await
        .unwrap();
    store
        .release_refresh_claim(&after_lease[1].connection.id, "w2", None)
        .await
        .unwrap();
    let next = store
        .claim_due_refreshes(
            &due("x", at(3 * 3_600_000), 10),
            "w3",
            at(400_000),
            at(300_000),
        )
        .await
        .unwrap();
    assert_eq!(next.len(), 1);
    assert_ne!(&next[0].connection.id, first);
    // A new day counts from one again.
    store
        .release_refresh_claim(&next[0].connection.id, "w3", None)
        .await
        .unwrap();
    let mut tomorrow = due("x", at(3 * 3_600_000), 10);
    tomorrow.day += 1;
    let t = store
        .claim_due_refreshes(&tomorrow, "w4", at(900_000), at(700_000))
        .await
        .unwrap();
    assert!(t.iter().all(|c| c.attempts_today == 1), "{t:?}");
}

async fn claim_waits_for_the_last_quarter_of_a_short_token(store: Arc<dyn Store>) {
    let ws = store.create_workspace("w", at(0)).await.unwrap();
    let mut c = connection(&ws.id, "x", "short");
    c.token_obtained_at = at(0);
    c.expires_at = Some(at(8_000));
    store.upsert_connection(&c).await.unwrap();
    // Inside an hour-long buffer from the start, but only due in its own last quarter.
    let early = store
        .claim_due_refreshes(&due("x", at(3_600_000), 10), "w", at(60_000), at(1_000))
        .await
        .unwrap();
    assert!(early.is_empty());
    let late = store
        .claim_due_refreshes(&due("x", at(3_600_000), 10), "w", at(60_000), at(6_500))
        .await
        .unwrap();
    assert_eq!(late.len(), 1);
}

async fn update_tokens_ends_the_claim(store: Arc<dyn Store>) {
    let ws = store.create_workspace("w", at(0)).await.unwrap();
    let ids = seed_due(&store, &ws.id, 1, at(1_000)).await;
    let claimed = store
        .claim_due_refreshes(&due("x", at(3_600_000), 10), "w1", at(60_000), at(0))
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    let mut u = token_update("new");
    u.expires_at = Some(at(2_000));
    u.token_obtained_at = at(-3_600_000);
    store
        .update_tokens(&ids[0], &u, None, at(10))
        .await
        .unwrap()
        .unwrap();
    // Still due (short expiry), and no longer held: the new tokens ended the claim.
    let again = store
        .claim_due_refreshes(&due("x", at(3_600_000), 10), "w2", at(60_000), at(20))
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].connection.access_token_sealed, "new");
}

async fn expiry_candidates_are_unrenewable_and_warned_once(store: Arc<dyn Store>) {
    let ws = store.create_workspace("w", at(0)).await.unwrap();
    let mut li = connection(&ws.id, "linkedin", "li");
    li.refresh_token_sealed = None;
    li.refresh_expires_at = None;
    li.expires_at = Some(at(10 * 3_600_000));
    let li = store.upsert_connection(&li).await.unwrap();
    let mut renewable = connection(&ws.id, "linkedin", "with-refresh");
    renewable.expires_at = Some(at(10 * 3_600_000));
    store.upsert_connection(&renewable).await.unwrap();
    let warn_before = at(24 * 3_600_000);
    let c = store
        .expiry_candidates("linkedin", warn_before, at(0), 10)
        .await
        .unwrap();
    assert_eq!(
        c.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
        [li.id.as_str()]
    );
    store.mark_expiry_warned(&li.id, at(1)).await.unwrap();
    assert!(store
        .expiry_candidates("linkedin", warn_before, at(2), 10)
        .await
        .unwrap()
        .is_empty());
    // Once expired it comes back, to be marked expired; then it is left alone.
    let c = store
        .expiry_candidates("linkedin", warn_before, at(11 * 3_600_000), 10)
        .await
        .unwrap();
    assert_eq!(c.len(), 1);
    store
        .set_connection_status(&li.id, "expired", at(11 * 3_600_000))
        .await
        .unwrap();
    assert!(store
        .expiry_candidates("linkedin", warn_before, at(12 * 3_600_000), 10)
        .await
        .unwrap()
        .is_empty());
}

async fn refresh_token_and_its_expiry_travel_together(store: Arc<dyn Store>) {
    let ws = store.create_workspace("w", at(0)).await.unwrap();
    let c = store
        .upsert_connection(&connection(&ws.id, "x", "a"))
        .await
        .unwrap();
    assert!(c.refresh_expires_at.is_some());
    // A new refresh token without an expiry does not inherit the old token's expiry.
    let mut u = token_update("n1");
    u.refresh_expires_at = None;
    let after = store
        .update_tokens(&c.id, &u, None, at(5))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after.refresh_token_sealed.as_deref(), Some("n1:refresh"));
    assert_eq!(after.refresh_expires_at, None);
}

async fn claims_are_exclusive_across_stores(a: Arc<dyn Store>, b: Arc<dyn Store>) {
    let ws = a.create_workspace("w", at(0)).await.unwrap();
    let ids = seed_due(&a, &ws.id, 60, at(1_000)).await;
    let q = due("x", at(3_600_000), 40);
    let (ca, cb) = tokio::join!(
        a.claim_due_refreshes(&q, "instance-a", at(60_000), at(0)),
        b.claim_due_refreshes(&q, "instance-b", at(60_000), at(0)),
    );
    let (ca, cb) = (ca.unwrap(), cb.unwrap());
    let sa: HashSet<String> = ca.iter().map(|c| c.connection.id.clone()).collect();
    let sb: HashSet<String> = cb.iter().map(|c| c.connection.id.clone()).collect();
    assert!(
        sa.is_disjoint(&sb),
        "a connection was claimed by both instances"
    );
    assert_eq!(sa.len() + sb.len(), ids.len().min(80));
}

conformance! {
    single: [
        ping_answers,
        workspace_create_and_get,
        api_key_lookup_by_hash,
        state_consumed_once_then_already_used,
        state_expired_stays_unconsumed,
        state_unknown_is_not_found,
        state_optional_fields_round_trip,
        state_consumed_once_under_concurrency,
        upsert_inserts_at_version_one,
        upsert_keeps_id_created_at_and_refresh_token,
        upsert_is_per_workspace_and_platform,
        upsert_requires_existing_workspace,
        get_connection_is_workspace_scoped,
        list_connections_orders_and_filters,
        update_tokens_replaces_tokens,
        update_tokens_none_keeps_stored_values,
        update_tokens_version_conflict,
        record_error_and_set_status,
        delete_connection_is_scoped_and_keeps_events,
        refresh_lock_is_exclusive_reentrant_and_expires,
        events_newest_first_with_limit,
        claim_takes_due_connections_once_and_counts_attempts,
        update_tokens_ends_the_claim,
        claim_waits_for_the_last_quarter_of_a_short_token,
        expiry_candidates_are_unrenewable_and_warned_once,
        refresh_token_and_its_expiry_travel_together,
    ],
    pair: [
        state_consumed_once_across_stores,
        upsert_race_yields_one_row,
        update_tokens_one_winner_across_stores,
        refresh_lock_exclusive_across_stores,
        claims_are_exclusive_across_stores,
    ],
}
