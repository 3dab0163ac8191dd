//! Conformance of [`QueueDepthStore`] (the numbers behind `switchboard_queue_depth`), run against
//! SQLite and a fresh PostgreSQL database with the same test bodies.

mod harness;

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use harness::{conformance, rethrow, PgDb, SqliteDb};
use serde_json::json;
use switchboard_store::posts::{NewTarget, Post};
use switchboard_store::queue_depth::QueueDepth;
use switchboard_store::{Connection, Store};

fn at(offset_secs: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 12, 0, 0).unwrap() + Duration::seconds(offset_secs)
}

fn id() -> String {
    uuid::Uuid::now_v7().to_string()
}

fn connection(
    ws: &str,
    platform: &str,
    account: &str,
    expires_in: i64,
    status: &str,
) -> Connection {
    Connection {
        id: id(),
        workspace_id: ws.to_string(),
        platform: platform.to_string(),
        owner: "user-1".to_string(),
        account_id: account.to_string(),
        account_name: None,
        username: None,
        avatar_url: None,
        scopes: vec![],
        status: status.to_string(),
        access_token_sealed: "sealed:a".to_string(),
        refresh_token_sealed: Some("sealed:r".to_string()),
        token_type: "Bearer".to_string(),
        expires_at: Some(at(expires_in)),
        refresh_expires_at: None,
        token_obtained_at: at(-7200),
        last_refreshed_at: None,
        last_error: None,
        metadata: json!({}),
        version: 1,
        created_at: at(-7200),
        updated_at: at(-7200),
    }
}

/// A post on `connection_id` due `due_in` seconds from `at(0)`, one target; returns the target
/// id.
async fn target(store: &Arc<dyn Store>, ws: &str, connection_id: &str, due_in: i64) -> String {
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
        connection_id: connection_id.to_string(),
        page_id: None,
        platform: "twitter".into(),
    };
    store
        .create_post(&p, std::slice::from_ref(&t))
        .await
        .unwrap();
    t.id
}

async fn counts_each_queue(store: Arc<dyn Store>) {
    let now = at(0);
    let empty = store.queue_depth(&[], now).await.unwrap();
    assert_eq!(empty, QueueDepth::default());

    let ws = store.create_workspace("q", at(-7200)).await.unwrap().id;
    // Refresh: due within the buffer, not due, dead grant, another platform not asked about.
    let due = connection(&ws, "twitter", "a1", 600, "healthy");
    store.upsert_connection(&due).await.unwrap();
    store
        .upsert_connection(&connection(&ws, "twitter", "a2", 86_400, "healthy"))
        .await
        .unwrap();
    store
        .upsert_connection(&connection(&ws, "twitter", "a3", 600, "needs_reauth"))
        .await
        .unwrap();
    store
        .upsert_connection(&connection(&ws, "linkedin", "a4", 600, "healthy"))
        .await
        .unwrap();
    let buffer = vec![("twitter".to_string(), now + Duration::seconds(1800))];
    let d = store.queue_depth(&buffer, now).await.unwrap();
    assert_eq!(d.refresh_due, 1, "{d:?}");
    let both = vec![
        ("twitter".to_string(), now + Duration::seconds(1800)),
        ("linkedin".to_string(), now + Duration::seconds(1800)),
    ];
    assert_eq!(store.queue_depth(&both, now).await.unwrap().refresh_due, 2);

    // Publishing: two due, one in the future; then one claimed (in flight).
    target(&store, &ws, &due.id, -30).await;
    target(&store, &ws, &due.id, -10).await;
    target(&store, &ws, &due.id, 3600).await;
    let d = store.queue_depth(&[], now).await.unwrap();
    assert_eq!((d.publish_due, d.publish_in_flight), (2, 0), "{d:?}");
    let claimed = store
        .claim_due_targets("i-1", now + Duration::seconds(120), now, 1)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    let d = store.queue_depth(&[], now).await.unwrap();
    assert_eq!((d.publish_due, d.publish_in_flight), (1, 1), "{d:?}");
    // A lease that ran out counts as due again.
    let later = now + Duration::seconds(121);
    let d = store.queue_depth(&[], later).await.unwrap();
    assert_eq!((d.publish_due, d.publish_in_flight), (2, 0), "{d:?}");
    assert_eq!(d.webhooks_pending, 0);
}

conformance!(single: [counts_each_queue], pair: []);
