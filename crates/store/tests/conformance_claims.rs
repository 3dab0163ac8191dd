//! Claim order of the publishing and refresh queues, on SQLite and PostgreSQL: a row whose lease
//! ran out (its holder died mid-work) is claimed before freshly due rows, even when the backlog
//! is larger than one claim and the fresh rows were due earlier.

mod harness;

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use harness::{conformance, rethrow, PgDb, SqliteDb};
use serde_json::json;
use switchboard_store::posts::{NewTarget, Post};
use switchboard_store::refresh_queue::DueRefreshes;
use switchboard_store::{Connection, Store};

fn at(offset_secs: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 12, 0, 0).unwrap() + Duration::seconds(offset_secs)
}

fn id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// A connection in the last quarter of its token's life, expiring at `expires`.
fn connection(ws: &str, account: &str, expires: DateTime<Utc>) -> Connection {
    Connection {
        id: id(),
        workspace_id: ws.to_string(),
        platform: "x".to_string(),
        owner: "user-1".to_string(),
        account_id: account.to_string(),
        account_name: None,
        username: None,
        avatar_url: None,
        scopes: vec![],
        status: "healthy".to_string(),
        access_token_sealed: "sealed:a".to_string(),
        refresh_token_sealed: Some("sealed:r".to_string()),
        token_type: "Bearer".to_string(),
        expires_at: Some(expires),
        refresh_expires_at: None,
        token_obtained_at: at(-100 * 86_400),
        last_refreshed_at: None,
        last_error: None,
        metadata: json!({}),
        version: 1,
        created_at: at(-7200),
        updated_at: at(-7200),
    }
}

/// A one-target post due `due_in` seconds from `at(0)`; returns the target id.
async fn target(store: &Arc<dyn Store>, ws: &str, due_in: i64) -> String {
    let p = Post {
        id: id(),
        workspace_id: ws.into(),
        campaign_id: None,
        content: json!({"text": "hello"}),
        publish_at: at(due_in),
        time_zone: None,
        created_at: at(-60),
    };
    let t = NewTarget {
        id: id(),
        connection_id: "conn-1".to_string(),
        page_id: None,
        platform: "twitter".into(),
    };
    store
        .create_post(&p, std::slice::from_ref(&t))
        .await
        .unwrap();
    t.id
}

async fn an_expired_post_target_lease_is_claimed_first(store: Arc<dyn Store>) {
    let ws = store.create_workspace("w", at(-7200)).await.unwrap().id;
    // Claimed at 100 by an instance that then dies; its lease ends at 160.
    let stale = target(&store, &ws, 100).await;
    let held = store
        .claim_due_targets("dead", at(160), at(100), 10)
        .await
        .unwrap();
    assert_eq!(held.len(), 1);
    assert_eq!(held[0].id, stale);
    // A backlog due earlier than it, larger than one claim.
    for i in 0..10 {
        target(&store, &ws, i).await;
    }
    // While the lease holds, only fresh rows are claimed (these two stay held past 200).
    let during = store
        .claim_due_targets("alive", at(1_000), at(120), 2)
        .await
        .unwrap();
    assert_eq!(during.len(), 2);
    assert!(during.iter().all(|t| t.id != stale));
    // Once it ran out, the stale row comes in the first batch although 8 fresh ones were due
    // before it; ordering by due time alone would leave it for the fifth batch.
    let first = store
        .claim_due_targets("alive", at(400), at(200), 2)
        .await
        .unwrap();
    assert_eq!(first.len(), 2);
    let ids: Vec<&str> = first.iter().map(|t| t.id.as_str()).collect();
    assert!(ids.contains(&stale.as_str()), "{ids:?} lacks {stale}");
    let s = first.iter().find(|t| t.id == stale).unwrap();
    assert_eq!(s.locked_by.as_deref(), Some("alive"));
    assert_eq!(s.locked_until, Some(at(400)));
    // The other one is the earliest fresh row that was not taken yet.
    let rest = store
        .claim_due_targets("alive", at(400), at(200), 100)
        .await
        .unwrap();
    assert_eq!(rest.len(), 7, "10 fresh - 2 - 1 = 7, each once");
    assert!(rest.iter().all(|t| t.id != stale));
}

async fn an_expired_refresh_lease_is_claimed_first(store: Arc<dyn Store>) {
    let ws = store.create_workspace("w", at(-7200)).await.unwrap().id;
    let due = |limit| DueRefreshes {
        platform: "x",
        due_before: at(86_400),
        needs_refresh_token: true,
        obtained_before: None,
        limit,
        day: 20_000,
    };
    // Expires last, claimed by an instance that then dies (lease until 60).
    let stale = store
        .upsert_connection(&connection(&ws, "stale", at(7200)))
        .await
        .unwrap()
        .id;
    let held = store
        .claim_due_refreshes(&due(10), "dead", at(60), at(0))
        .await
        .unwrap();
    assert_eq!(held.len(), 1);
    // Ten connections expiring sooner than it.
    for i in 0..10 {
        store
            .upsert_connection(&connection(&ws, &format!("fresh-{i}"), at(3600 + i)))
            .await
            .unwrap();
    }
    let first = store
        .claim_due_refreshes(&due(3), "alive", at(200), at(100))
        .await
        .unwrap();
    assert_eq!(first.len(), 3);
    let ids: Vec<&str> = first.iter().map(|c| c.connection.id.as_str()).collect();
    assert!(ids.contains(&stale.as_str()), "{ids:?} lacks {stale}");
    let s = first.iter().find(|c| c.connection.id == stale).unwrap();
    assert_eq!(s.attempts_today, 2, "the dead holder's attempt counts");
    let accounts: Vec<&str> = first
        .iter()
        .filter(|c| c.connection.id != stale)
        .map(|c| c.connection.account_id.as_str())
        .collect();
    assert_eq!(accounts, ["fresh-0", "fresh-1"], "then soonest expiry");
}

conformance!(
    single: [
        an_expired_post_target_lease_is_claimed_first,
        an_expired_refresh_lease_is_claimed_first,
    ],
    pair: [],
);
