//! Conformance of [`WebhookStore`] and [`AuditStore`], run against SQLite and a fresh
//! PostgreSQL database (same pattern as `conformance.rs`: the `conformance!` macro generates a
//! `sqlite::<test>` and a `postgres::<test>` for each function below).
//!
//! Timestamps are whole milliseconds so values compare equal on both backends.

mod harness;

use harness::{conformance, rethrow, PgDb, SqliteDb};
use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::json;
use switchboard_store::webhooks::{
    AuditEntry, DeliveryAttempt, DeliveryStatus, NewDeliveries, Webhook,
};
use switchboard_store::Store;

fn at(offset_ms: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 12, 0, 0).unwrap() + Duration::milliseconds(offset_ms)
}

async fn workspace(store: &Arc<dyn Store>, name: &str) -> String {
    store.create_workspace(name, at(0)).await.unwrap().id
}

fn webhook(workspace_id: &str, events: &[&str], created: i64) -> Webhook {
    Webhook {
        id: uuid::Uuid::now_v7().to_string(),
        workspace_id: workspace_id.to_string(),
        url: "https://receiver.example/hooks?x=1".to_string(),
        events: events.iter().map(|e| e.to_string()).collect(),
        description: Some("CRM sync".to_string()),
        secret_sealed: "sealed:secret".to_string(),
        created_at: at(created),
    }
}

async fn enqueue(
    store: &Arc<dyn Store>,
    workspace_id: &str,
    event_id: &str,
    event_type: &str,
    now: i64,
) -> Vec<switchboard_store::webhooks::WebhookDelivery> {
    let body = json!({"id": event_id, "type": event_type}).to_string();
    store
        .enqueue_deliveries(&NewDeliveries {
            workspace_id,
            event_id,
            event_type,
            body: &body,
            now: at(now),
        })
        .await
        .unwrap()
}

fn retry(at_ms: i64, next_ms: i64) -> DeliveryAttempt {
    DeliveryAttempt {
        status: DeliveryStatus::Pending,
        status_code: Some(500),
        error: Some("receiver answered 500".to_string()),
        next_attempt_at: Some(at(next_ms)),
        at: at(at_ms),
    }
}

// ---------------------------------------------------------------------------------------------

async fn webhooks_round_trip_and_are_workspace_scoped(store: Arc<dyn Store>) {
    let ws = workspace(&store, "A").await;
    let other = workspace(&store, "B").await;
    let first = webhook(&ws, &["connection.created"], 1);
    let second = webhook(&ws, &[], 2);
    store.create_webhook(&second).await.unwrap();
    store.create_webhook(&first).await.unwrap();

    assert_eq!(
        store.list_webhooks(&ws).await.unwrap(),
        vec![first.clone(), second.clone()],
        "oldest first"
    );
    assert!(store.list_webhooks(&other).await.unwrap().is_empty());
    assert_eq!(
        store.get_webhook(&ws, &first.id).await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(store.get_webhook(&other, &first.id).await.unwrap(), None);
    assert_eq!(
        store.get_webhook_by_id(&second.id).await.unwrap(),
        Some(second.clone())
    );

    assert!(!store.delete_webhook(&other, &first.id).await.unwrap());
    assert!(store.delete_webhook(&ws, &first.id).await.unwrap());
    assert!(!store.delete_webhook(&ws, &first.id).await.unwrap());
    assert_eq!(store.list_webhooks(&ws).await.unwrap(), vec![second]);
}

async fn webhook_debug_hides_the_sealed_secret(store: Arc<dyn Store>) {
    let ws = workspace(&store, "A").await;
    let w = webhook(&ws, &[], 1);
    store.create_webhook(&w).await.unwrap();
    let read = store.get_webhook_by_id(&w.id).await.unwrap().unwrap();
    assert!(!format!("{read:?}").contains("sealed:secret"));
}

async fn enqueue_follows_event_filters_and_workspaces(store: Arc<dyn Store>) {
    let ws = workspace(&store, "A").await;
    let other = workspace(&store, "B").await;
    let all = webhook(&ws, &[], 1);
    let created_only = webhook(&ws, &["connection.created"], 2);
    let refreshed_only = webhook(&ws, &["connection.refreshed", "connection.needs_reauth"], 3);
    let elsewhere = webhook(&other, &[], 4);
    for w in [&all, &created_only, &refreshed_only, &elsewhere] {
        store.create_webhook(w).await.unwrap();
    }

    let queued = enqueue(&store, &ws, "ev-1", "connection.created", 10).await;
    let targets: HashSet<_> = queued.iter().map(|d| d.webhook_id.clone()).collect();
    assert_eq!(
        targets,
        HashSet::from([all.id.clone(), created_only.id.clone()])
    );
    for d in &queued {
        assert_eq!(d.status, DeliveryStatus::Pending);
        assert_eq!(d.attempts, 0);
        assert_eq!(d.next_attempt_at, at(10));
        assert_eq!(d.created_at, at(10));
        assert_eq!(d.event_id, "ev-1");
        assert_eq!(d.event_type, "connection.created");
        assert_eq!(d.workspace_id, ws);
        assert_eq!(d.last_status_code, None);
        assert_eq!(d.delivered_at, None);
        assert_eq!(
            d.body,
            json!({"id": "ev-1", "type": "connection.created"}).to_string()
        );
    }

    let queued = enqueue(&store, &ws, "ev-2", "connection.needs_reauth", 11).await;
    let targets: HashSet<_> = queued.iter().map(|d| d.webhook_id.clone()).collect();
    assert_eq!(targets, HashSet::from([all.id.clone(), refreshed_only.id]));

    // The same event again queues nothing new.
    assert!(enqueue(&store, &ws, "ev-1", "connection.created", 12)
        .await
        .is_empty());
    assert_eq!(
        store.list_deliveries(&ws, &all.id, 50).await.unwrap().len(),
        2
    );
    // A workspace without endpoints queues nothing.
    let empty = workspace(&store, "C").await;
    assert!(enqueue(&store, &empty, "ev-3", "connection.created", 13)
        .await
        .is_empty());
}

async fn claim_takes_due_deliveries_under_a_lease(store: Arc<dyn Store>) {
    let ws = workspace(&store, "A").await;
    let w = webhook(&ws, &[], 1);
    store.create_webhook(&w).await.unwrap();
    enqueue(&store, &ws, "ev-1", "connection.created", 100).await;
    enqueue(&store, &ws, "ev-2", "connection.created", 200).await;
    enqueue(&store, &ws, "ev-3", "connection.created", 5_000).await;

    // Not yet due.
    assert!(store
        .claim_deliveries("a", at(10_000), at(50), 10)
        .await
        .unwrap()
        .is_empty());
    // Limit 1 takes the earliest due.
    let first = store
        .claim_deliveries("a", at(60_000), at(1_000), 1)
        .await
        .unwrap();
    assert_eq!(
        first
            .iter()
            .map(|d| d.event_id.as_str())
            .collect::<Vec<_>>(),
        ["ev-1"]
    );
    let rest = store
        .claim_deliveries("b", at(60_000), at(1_000), 10)
        .await
        .unwrap();
    assert_eq!(
        rest.iter().map(|d| d.event_id.as_str()).collect::<Vec<_>>(),
        ["ev-2"],
        "leased and not-yet-due deliveries are not claimed"
    );
    // While leased, nobody else gets them.
    assert!(store
        .claim_deliveries("c", at(70_000), at(30_000), 10)
        .await
        .unwrap()
        .iter()
        .all(|d| d.event_id == "ev-3"));
    // After the lease expires, they can be claimed again (a crashed worker's work resumes).
    let again = store
        .claim_deliveries("d", at(200_000), at(100_000), 10)
        .await
        .unwrap();
    let ids: HashSet<_> = again.iter().map(|d| d.event_id.as_str()).collect();
    assert_eq!(ids, HashSet::from(["ev-1", "ev-2", "ev-3"]));
}

async fn claim_can_skip_endpoints(store: Arc<dyn Store>) {
    let ws = workspace(&store, "A").await;
    let slow = webhook(&ws, &["connection.created"], 1);
    let fast = webhook(&ws, &["connection.refreshed"], 2);
    let third = webhook(&ws, &["connection.created"], 3);
    for w in [&slow, &fast, &third] {
        store.create_webhook(w).await.unwrap();
    }
    // The skipped endpoints' deliveries come first in due order.
    for i in 0..5 {
        enqueue(&store, &ws, &format!("c-{i}"), "connection.created", i).await;
    }
    enqueue(&store, &ws, "r-1", "connection.refreshed", 100).await;
    let skip = vec![slow.id.clone(), third.id.clone()];
    let got = store
        .claim_deliveries_except("a", at(60_000), at(1_000), 2, &skip)
        .await
        .unwrap();
    assert_eq!(
        got.iter()
            .map(|d| (d.webhook_id.as_str(), d.event_id.as_str()))
            .collect::<Vec<_>>(),
        [(fast.id.as_str(), "r-1")]
    );
    // Skipping one leaves the other's.
    let got = store
        .claim_deliveries_except(
            "a",
            at(60_000),
            at(1_000),
            3,
            std::slice::from_ref(&slow.id),
        )
        .await
        .unwrap();
    assert_eq!(got.len(), 3);
    assert!(got.iter().all(|d| d.webhook_id == third.id), "{got:?}");
    // Nothing skipped: the rest, earliest first.
    let got = store
        .claim_deliveries_except("a", at(60_000), at(1_000), 100, &[])
        .await
        .unwrap();
    assert_eq!(got.len(), 7, "5 for slow, 2 left for third");
}

async fn attempts_are_recorded_only_by_the_lease_holder(store: Arc<dyn Store>) {
    let ws = workspace(&store, "A").await;
    let w = webhook(&ws, &[], 1);
    store.create_webhook(&w).await.unwrap();
    enqueue(&store, &ws, "ev-1", "connection.created", 0).await;
    let claimed = store
        .claim_deliveries("a", at(60_000), at(0), 10)
        .await
        .unwrap();
    let id = claimed[0].id.clone();

    // Someone else's attempt changes nothing.
    assert_eq!(
        store
            .record_delivery_attempt(&id, "b", &retry(1_000, 11_000))
            .await
            .unwrap(),
        None
    );
    let after = store
        .record_delivery_attempt(&id, "a", &retry(1_000, 11_000))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after.attempts, 1);
    assert_eq!(after.status, DeliveryStatus::Pending);
    assert_eq!(after.last_status_code, Some(500));
    assert_eq!(after.last_error.as_deref(), Some("receiver answered 500"));
    assert_eq!(after.next_attempt_at, at(11_000));
    // The lease is released: recording again without a claim does nothing.
    assert_eq!(
        store
            .record_delivery_attempt(&id, "a", &retry(1_000, 11_000))
            .await
            .unwrap(),
        None
    );
    // Not due before the back-off ends, due after.
    assert!(store
        .claim_deliveries("a", at(70_000), at(10_999), 10)
        .await
        .unwrap()
        .is_empty());
    let claimed = store
        .claim_deliveries("a", at(70_000), at(11_000), 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    let delivered = store
        .record_delivery_attempt(
            &id,
            "a",
            &DeliveryAttempt {
                status: DeliveryStatus::Delivered,
                status_code: Some(204),
                error: None,
                next_attempt_at: None,
                at: at(12_000),
            },
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(delivered.attempts, 2);
    assert_eq!(delivered.status, DeliveryStatus::Delivered);
    assert_eq!(delivered.delivered_at, Some(at(12_000)));
    assert_eq!(delivered.last_status_code, Some(204));
    assert_eq!(delivered.last_error, None);
    // Delivered and failed deliveries are never claimed again.
    assert!(store
        .claim_deliveries("a", at(999_000), at(900_000), 10)
        .await
        .unwrap()
        .is_empty());

    enqueue(&store, &ws, "ev-2", "connection.created", 0).await;
    let claimed = store
        .claim_deliveries("a", at(999_000), at(900_000), 10)
        .await
        .unwrap();
    let failed = store
        .record_delivery_attempt(
            &claimed[0].id,
            "a",
            &DeliveryAttempt {
                status: DeliveryStatus::Failed,
                status_code: None,
                error: Some("connection refused".to_string()),
                next_attempt_at: None,
                at: at(900_001),
            },
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(failed.status, DeliveryStatus::Failed);
    assert_eq!(failed.delivered_at, None);
    assert!(store
        .claim_deliveries("a", at(9_999_000), at(9_000_000), 10)
        .await
        .unwrap()
        .is_empty());
}

async fn deliveries_list_newest_first_scoped_and_go_with_their_webhook(store: Arc<dyn Store>) {
    let ws = workspace(&store, "A").await;
    let other = workspace(&store, "B").await;
    let w = webhook(&ws, &[], 1);
    store.create_webhook(&w).await.unwrap();
    for (i, t) in [(1, 10), (2, 30), (3, 20)] {
        enqueue(&store, &ws, &format!("ev-{i}"), "connection.created", t).await;
    }
    let listed = store.list_deliveries(&ws, &w.id, 50).await.unwrap();
    assert_eq!(
        listed
            .iter()
            .map(|d| d.event_id.as_str())
            .collect::<Vec<_>>(),
        ["ev-2", "ev-3", "ev-1"]
    );
    assert_eq!(store.list_deliveries(&ws, &w.id, 2).await.unwrap().len(), 2);
    assert!(store
        .list_deliveries(&other, &w.id, 50)
        .await
        .unwrap()
        .is_empty());

    assert!(store.delete_webhook(&ws, &w.id).await.unwrap());
    assert!(store
        .list_deliveries(&ws, &w.id, 50)
        .await
        .unwrap()
        .is_empty());
    assert!(store
        .claim_deliveries("a", at(999_000), at(900_000), 10)
        .await
        .unwrap()
        .is_empty());
}

async fn audit_log_newest_first_filtered_and_scoped(store: Arc<dyn Store>) {
    let ws = workspace(&store, "A").await;
    let other = workspace(&store, "B").await;
    let entry = |id: &str, conn: Option<&str>, t: i64, action: &str| AuditEntry {
        id: id.to_string(),
        workspace_id: ws.clone(),
        connection_id: conn.map(str::to_string),
        actor: "api_key:k-1".to_string(),
        action: action.to_string(),
        details: json!({"platform": "x", "nested": {"n": 1}}),
        created_at: at(t),
    };
    let entries = [
        entry("a1", Some("c-1"), 10, "connection.created"),
        entry("a2", Some("c-2"), 20, "connection.created"),
        entry("a3", None, 30, "webhook.created"),
        entry("a4", Some("c-1"), 40, "connection.deleted"),
    ];
    for e in &entries {
        store.insert_audit(e).await.unwrap();
    }
    assert_eq!(
        store.list_audit(&ws, None, 50).await.unwrap(),
        vec![
            entries[3].clone(),
            entries[2].clone(),
            entries[1].clone(),
            entries[0].clone()
        ]
    );
    assert_eq!(
        store.list_audit(&ws, Some("c-1"), 50).await.unwrap(),
        vec![entries[3].clone(), entries[0].clone()]
    );
    assert_eq!(
        store.list_audit(&ws, None, 1).await.unwrap(),
        vec![entries[3].clone()]
    );
    assert!(store.list_audit(&other, None, 50).await.unwrap().is_empty());
    assert!(store
        .list_audit(&ws, Some("c-9"), 50)
        .await
        .unwrap()
        .is_empty());
}

/// Two stores (as two processes) claim in parallel: every delivery is leased exactly once.
async fn claims_are_exclusive_across_stores(a: Arc<dyn Store>, b: Arc<dyn Store>) {
    let ws = workspace(&a, "A").await;
    let w1 = webhook(&ws, &[], 1);
    let w2 = webhook(&ws, &[], 2);
    a.create_webhook(&w1).await.unwrap();
    a.create_webhook(&w2).await.unwrap();
    for i in 0..30 {
        enqueue(&a, &ws, &format!("ev-{i}"), "connection.created", i).await;
    }
    let claimer = |store: Arc<dyn Store>, owner: &'static str| {
        tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let got = store
                    .claim_deliveries(owner, at(600_000), at(1_000), 3)
                    .await
                    .unwrap();
                if got.is_empty() {
                    break;
                }
                mine.extend(got.into_iter().map(|d| d.id));
            }
            mine
        })
    };
    let tasks = [
        claimer(a.clone(), "a1"),
        claimer(a.clone(), "a2"),
        claimer(b.clone(), "b1"),
        claimer(b.clone(), "b2"),
    ];
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let unique: HashSet<_> = all.iter().cloned().collect();
    assert_eq!(all.len(), 60, "each of 60 deliveries claimed once");
    assert_eq!(unique.len(), 60);
}

/// The outbox: an event and its deliveries are stored by one call in one transaction; an event
/// that cannot be stored (its id taken) queues nothing.
async fn record_event_stores_the_event_with_its_deliveries(store: Arc<dyn Store>) {
    let ws = workspace(&store, "A").await;
    let all = webhook(&ws, &[], 1);
    let other_type = webhook(&ws, &["post.published"], 2);
    store.create_webhook(&all).await.unwrap();
    store.create_webhook(&other_type).await.unwrap();
    let event = switchboard_store::Event {
        id: uuid::Uuid::now_v7().to_string(),
        workspace_id: ws.clone(),
        connection_id: None,
        kind: "connection.created".to_string(),
        payload: json!({"n": 1}),
        created_at: at(10),
    };
    let queued = store.record_event(&event, "{\"n\":1}").await.unwrap();
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].webhook_id, all.id);
    assert_eq!(queued[0].event_id, event.id);
    assert_eq!(queued[0].body, "{\"n\":1}");
    assert_eq!(
        store.list_events(&ws, 10).await.unwrap(),
        vec![event.clone()]
    );

    // The same event again: refused whole, no second delivery and no second event.
    assert!(store.record_event(&event, "{}").await.is_err());
    assert_eq!(
        store.list_deliveries(&ws, &all.id, 10).await.unwrap().len(),
        1
    );
    assert!(store
        .list_deliveries(&ws, &other_type.id, 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(store.list_events(&ws, 10).await.unwrap().len(), 1);
}

conformance! {
    single: [
        webhooks_round_trip_and_are_workspace_scoped,
        webhook_debug_hides_the_sealed_secret,
        enqueue_follows_event_filters_and_workspaces,
        claim_takes_due_deliveries_under_a_lease,
        claim_can_skip_endpoints,
        attempts_are_recorded_only_by_the_lease_holder,
        deliveries_list_newest_first_scoped_and_go_with_their_webhook,
        audit_log_newest_first_filtered_and_scoped,
        record_event_stores_the_event_with_its_deliveries,
    ],
    pair: [
        claims_are_exclusive_across_stores,
    ],
}
