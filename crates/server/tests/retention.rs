//! The retention worker end to end on SQLite and PostgreSQL, with the moved clock: accounts
//! connected through the sandbox, one of them revoked; states, events and audit age; each run
//! purges exactly what is past its retention; the worker's tick honours `interval_secs`.

mod common;

use chrono::Duration;
use common::*;
use reqwest::StatusCode;
use switchboard_server::workers::retention::{run_once, Retention};
use switchboard_store::Event;

async fn purges_what_is_past_retention(db: Db) {
    let app = TestApp::spawn_with(Setup {
        db,
        ..Setup::default()
    })
    .await;
    let store = app.state.store().clone();
    let revoked = app.connect("twitter").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let healthy = app.connect("linkedin").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    store
        .set_connection_status(&revoked, "revoked", app.state.now())
        .await
        .unwrap();
    // A connect session nobody finished.
    app.start("tiktok").await;
    let events_at_start = store
        .list_events(&app.workspace_id, 100)
        .await
        .unwrap()
        .len();
    assert!(events_at_start >= 2, "the connects were recorded");

    // 9 minutes after the states expired (they live 10 minutes): nothing goes yet.
    app.clock.advance(Duration::minutes(19));
    let r = run_once(&app.state).await.unwrap();
    assert_eq!(r.deleted["oauth_states"], 0, "{r:?}");
    // 11 minutes after: the three states (two consumed, one pending) go; nothing else.
    app.clock.advance(Duration::minutes(2));
    let r = run_once(&app.state).await.unwrap();
    assert_eq!(r.deleted["oauth_states"], 3, "{r:?}");
    assert_eq!(r.total(), 3, "{r:?}");

    // 89 days of inactivity: the revoked connection stays.
    app.clock.advance(Duration::days(89));
    let r = run_once(&app.state).await.unwrap();
    assert_eq!(r.deleted["connections"], 0, "{r:?}");
    assert_eq!(
        app.get(&format!("/v1/connections/{revoked}")).await.0,
        StatusCode::OK
    );

    // 91 days: it goes (through the API too); the healthy one stays; the events and audit of
    // the connects are past 90 days and go as well.
    app.clock.advance(Duration::days(2));
    let r = run_once(&app.state).await.unwrap();
    assert_eq!(r.deleted["connections"], 1, "{r:?}");
    assert_eq!(r.deleted["events"] as usize, events_at_start, "{r:?}");
    assert!(r.deleted["audit"] >= 2, "{r:?}");
    assert_eq!(
        app.get(&format!("/v1/connections/{revoked}")).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get(&format!("/v1/connections/{healthy}")).await.0,
        StatusCode::OK
    );
    let trail = store
        .list_audit(&app.workspace_id, Some(&revoked), 10)
        .await
        .unwrap();
    assert_eq!(trail.len(), 1, "only the purge remains: {trail:?}");
    assert_eq!(trail[0].action, "connection.purged");
    assert_eq!(trail[0].actor, "system:retention");
    assert!(store
        .list_events(&app.workspace_id, 100)
        .await
        .unwrap()
        .is_empty());
    assert!(store
        .sealed_key_usage()
        .await
        .unwrap()
        .iter()
        .all(|u| u.column.table() != "oauth_states"));

    // The worker's tick runs at most every interval_secs (default an hour) on the app clock.
    let worker = Retention::default();
    worker.tick(&app.state).await.unwrap();
    let old_event = Event {
        id: uuid::Uuid::now_v7().to_string(),
        workspace_id: app.workspace_id.clone(),
        connection_id: None,
        kind: "connection.created".into(),
        payload: serde_json::json!({}),
        created_at: app.state.now() - Duration::days(100),
    };
    store.insert_event(&old_event).await.unwrap();
    assert_eq!(worker.tick(&app.state).await.unwrap(), 0, "not due yet");
    assert_eq!(
        store
            .list_events(&app.workspace_id, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    app.clock.advance(Duration::minutes(61));
    assert_eq!(worker.tick(&app.state).await.unwrap(), 1);
    assert!(store
        .list_events(&app.workspace_id, 10)
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn sqlite_retention() {
    purges_what_is_past_retention(Db::Sqlite).await;
}

#[tokio::test]
async fn postgres_retention() {
    purges_what_is_past_retention(Db::Postgres).await;
}

/// Kinds set to 0 are kept forever; the configuration reaches the worker.
#[tokio::test]
async fn zero_keeps_forever() {
    let app = TestApp::spawn_with(Setup {
        config: Box::new(|c| {
            c.retention.events_days = 0;
            c.retention.connections_days = 0;
        }),
        ..Setup::default()
    })
    .await;
    let id = app.connect("twitter").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.state
        .store()
        .set_connection_status(&id, "needs_reauth", app.state.now())
        .await
        .unwrap();
    app.clock.advance(Duration::days(400));
    let r = run_once(&app.state).await.unwrap();
    assert!(!r.deleted.contains_key("events") && !r.deleted.contains_key("connections"));
    assert!(r.deleted["audit"] >= 1);
    assert_eq!(
        app.get(&format!("/v1/connections/{id}")).await.0,
        StatusCode::OK
    );
    assert!(!app
        .state
        .store()
        .list_events(&app.workspace_id, 10)
        .await
        .unwrap()
        .is_empty());
}
