//! Conformance of [`PageStore`] (Facebook Pages of a connection, and the health-check
//! bookkeeping), run against SQLite and a fresh PostgreSQL database with the same test bodies.
//!
//! Timestamps are whole milliseconds so values read back compare equal on both backends.

mod harness;

use harness::{conformance, rethrow, PgDb, SqliteDb};
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::json;
use switchboard_store::pages::{ConnectionPage, PAGE_AVAILABLE, PAGE_HEALTHY, PAGE_NEEDS_REAUTH};
use switchboard_store::{Connection, Store};

fn at(offset_ms: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 12, 0, 0).unwrap() + Duration::milliseconds(offset_ms)
}

/// A workspace with one Facebook connection; returns the connection id.
async fn facebook_connection(store: &Arc<dyn Store>) -> String {
    let ws = store.create_workspace("pages", at(0)).await.unwrap();
    let conn = Connection {
        id: uuid::Uuid::now_v7().to_string(),
        workspace_id: ws.id.clone(),
        platform: "facebook".into(),
        owner: "user-1".into(),
        account_id: format!("fb-{}", rand::random::<u32>()),
        account_name: Some("Ada".into()),
        username: None,
        avatar_url: None,
        scopes: vec!["pages_show_list".into()],
        status: "pending_selection".into(),
        access_token_sealed: "sealed:user".into(),
        refresh_token_sealed: None,
        token_type: "bearer".into(),
        expires_at: Some(at(5_183_944_000)),
        refresh_expires_at: None,
        token_obtained_at: at(0),
        last_refreshed_at: None,
        last_error: None,
        metadata: json!({}),
        version: 0,
        created_at: at(0),
        updated_at: at(0),
    };
    store.upsert_connection(&conn).await.unwrap().id
}

fn page(connection_id: &str, id: &str, position: i64, selected: bool) -> ConnectionPage {
    ConnectionPage {
        connection_id: connection_id.into(),
        page_id: id.into(),
        name: format!("Page {id}"),
        tasks: vec!["CREATE_CONTENT".into(), "MANAGE".into()],
        position,
        selected,
        status: if selected {
            PAGE_HEALTHY
        } else {
            PAGE_AVAILABLE
        }
        .into(),
        access_token_sealed: selected.then(|| format!("sealed:page:{id}")),
        last_error: None,
        last_checked_at: None,
        created_at: at(0),
        updated_at: at(0),
    }
}

async fn replace_then_list_in_order(store: Arc<dyn Store>) {
    let c = facebook_connection(&store).await;
    assert!(store.list_pages(&c).await.unwrap().is_empty());
    let pages = vec![page(&c, "222", 0, false), page(&c, "111", 1, true)];
    store.replace_pages(&c, &pages, at(10)).await.unwrap();
    let got = store.list_pages(&c).await.unwrap();
    assert_eq!(
        got.iter().map(|p| p.page_id.as_str()).collect::<Vec<_>>(),
        ["222", "111"],
        "listing order is the platform's, not the id order"
    );
    let one = &got[1];
    assert_eq!(one.name, "Page 111");
    assert_eq!(one.tasks, ["CREATE_CONTENT", "MANAGE"]);
    assert!(one.selected);
    assert_eq!(one.status, PAGE_HEALTHY);
    assert_eq!(one.access_token_sealed.as_deref(), Some("sealed:page:111"));
    assert_eq!(one.created_at, at(10));
    assert_eq!(one.updated_at, at(10));
    assert!(!got[0].selected);
    assert_eq!(got[0].access_token_sealed, None);
    assert_eq!(store.get_page(&c, "111").await.unwrap().as_ref(), Some(one));
    assert_eq!(store.get_page(&c, "nope").await.unwrap(), None);
}

async fn replace_drops_missing_and_keeps_created_at(store: Arc<dyn Store>) {
    let c = facebook_connection(&store).await;
    store
        .replace_pages(
            &c,
            &[page(&c, "1", 0, true), page(&c, "2", 1, true)],
            at(10),
        )
        .await
        .unwrap();
    // Second selection: page 1 deselected, page 2 gone, page 3 new.
    store
        .replace_pages(
            &c,
            &[page(&c, "1", 0, false), page(&c, "3", 1, true)],
            at(20),
        )
        .await
        .unwrap();
    let got = store.list_pages(&c).await.unwrap();
    assert_eq!(
        got.iter().map(|p| p.page_id.as_str()).collect::<Vec<_>>(),
        ["1", "3"]
    );
    assert!(!got[0].selected);
    assert_eq!(
        got[0].access_token_sealed, None,
        "a deselected Page keeps no token"
    );
    assert_eq!(got[0].created_at, at(10));
    assert_eq!(got[0].updated_at, at(20));
    assert_eq!(got[1].created_at, at(20));
    // An empty list empties the connection's Pages.
    store.replace_pages(&c, &[], at(30)).await.unwrap();
    assert!(store.list_pages(&c).await.unwrap().is_empty());
}

async fn pages_are_per_connection_and_cascade(store: Arc<dyn Store>) {
    let a = facebook_connection(&store).await;
    let b = facebook_connection(&store).await;
    store
        .replace_pages(&a, &[page(&a, "1", 0, true)], at(10))
        .await
        .unwrap();
    store
        .replace_pages(&b, &[page(&b, "1", 0, false)], at(10))
        .await
        .unwrap();
    // Replacing b's list leaves a's alone.
    store.replace_pages(&b, &[], at(20)).await.unwrap();
    assert_eq!(store.list_pages(&a).await.unwrap().len(), 1);
    let ws = store
        .get_connection_by_id(&a)
        .await
        .unwrap()
        .unwrap()
        .workspace_id;
    assert!(store.delete_connection(&ws, &a).await.unwrap());
    assert!(
        store.list_pages(&a).await.unwrap().is_empty(),
        "Pages go away with their connection"
    );
}

async fn page_check_records_status_and_error(store: Arc<dyn Store>) {
    let c = facebook_connection(&store).await;
    store
        .replace_pages(&c, &[page(&c, "1", 0, true)], at(10))
        .await
        .unwrap();
    let diag = json!({"category": "token_revoked", "platform_code": "190/460"});
    assert!(store
        .record_page_check(&c, "1", PAGE_NEEDS_REAUTH, Some(&diag), at(20))
        .await
        .unwrap());
    let p = store.get_page(&c, "1").await.unwrap().unwrap();
    assert_eq!(p.status, PAGE_NEEDS_REAUTH);
    assert_eq!(p.last_error, Some(diag));
    assert_eq!(p.last_checked_at, Some(at(20)));
    assert!(p.selected, "a failed check does not deselect");
    assert!(store
        .record_page_check(&c, "1", PAGE_HEALTHY, None, at(30))
        .await
        .unwrap());
    let p = store.get_page(&c, "1").await.unwrap().unwrap();
    assert_eq!((p.status.as_str(), p.last_error), (PAGE_HEALTHY, None));
    assert!(!store
        .record_page_check(&c, "missing", PAGE_HEALTHY, None, at(30))
        .await
        .unwrap());
}

async fn connection_checked_at_round_trips(store: Arc<dyn Store>) {
    let c = facebook_connection(&store).await;
    assert_eq!(store.connection_checked_at(&c).await.unwrap(), None);
    assert!(store.mark_connection_checked(&c, at(1234)).await.unwrap());
    assert_eq!(
        store.connection_checked_at(&c).await.unwrap(),
        Some(at(1234))
    );
    assert!(!store
        .mark_connection_checked("missing", at(1))
        .await
        .unwrap());
    assert_eq!(store.connection_checked_at("missing").await.unwrap(), None);
}

conformance! {
    single: [
        replace_then_list_in_order,
        replace_drops_missing_and_keeps_created_at,
        pages_are_per_connection_and_cascade,
        page_check_records_status_and_error,
        connection_checked_at_round_trips,
    ],
    pair: [],
}
