//! Conformance of [`MediaStore`] (uploaded media metadata and the post references that keep a
//! file), run against SQLite and a fresh PostgreSQL database with the same test bodies.
//!
//! Timestamps are whole milliseconds so values read back compare equal on both backends.

mod harness;

use harness::{conformance, rethrow, PgDb, SqliteDb};
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::json;
use switchboard_store::media::{MediaDelete, MediaFile};
use switchboard_store::posts::{NewTarget, Post};
use switchboard_store::Store;

fn at(offset_ms: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 12, 0, 0).unwrap() + Duration::milliseconds(offset_ms)
}

fn id() -> String {
    uuid::Uuid::now_v7().to_string()
}

fn media(ws: &str, created_ms: i64) -> MediaFile {
    MediaFile {
        id: id(),
        workspace_id: ws.into(),
        filename: Some("cake.jpg".into()),
        content_type: "image/jpeg".into(),
        kind: "image".into(),
        size_bytes: 12_345,
        sha256: "ab".repeat(32),
        created_at: at(created_ms),
    }
}

/// A post of workspace `ws` whose content names `media_ids`, with one target on X.
async fn post_using(store: &Arc<dyn Store>, ws: &str, media_ids: &[&str]) -> Post {
    let items: Vec<_> = media_ids
        .iter()
        .map(|m| json!({"url": format!("https://sb.example/media/{m}/t"), "media_id": m, "kind": "image"}))
        .collect();
    let p = Post {
        id: id(),
        workspace_id: ws.into(),
        campaign_id: None,
        content: json!({"text": "hello", "hashtags": [], "media": items, "overrides": {}}),
        publish_at: at(1000),
        time_zone: None,
        created_at: at(0),
    };
    let t = NewTarget {
        id: id(),
        connection_id: "conn-x".into(),
        page_id: None,
        platform: "twitter".into(),
    };
    store.create_post(&p, &[t]).await.unwrap();
    p
}

async fn workspace(store: &Arc<dyn Store>) -> String {
    store.create_workspace("media", at(0)).await.unwrap().id
}

/// Inserted media read back per workspace, newest first, and never across workspaces.
async fn insert_get_and_list(store: Arc<dyn Store>) {
    let ws = workspace(&store).await;
    let other = workspace(&store).await;
    let old = media(&ws, 0);
    let mut new = media(&ws, 5000);
    new.filename = None;
    new.kind = "video".into();
    new.content_type = "video/mp4".into();
    new.size_bytes = 600 * 1024 * 1024;
    store.insert_media(&old).await.unwrap();
    store.insert_media(&new).await.unwrap();
    assert_eq!(
        store.get_media(&ws, &old.id).await.unwrap(),
        Some(old.clone())
    );
    assert_eq!(store.get_media(&other, &old.id).await.unwrap(), None);
    assert_eq!(
        store.get_media_by_id(&new.id).await.unwrap(),
        Some(new.clone())
    );
    assert_eq!(store.get_media_by_id("nope").await.unwrap(), None);
    let listed = store.list_media(&ws, 10).await.unwrap();
    assert_eq!(listed, vec![new.clone(), old.clone()]);
    assert_eq!(store.list_media(&ws, 1).await.unwrap(), vec![new]);
    assert!(store.list_media(&other, 10).await.unwrap().is_empty());
    // A duplicate id is refused.
    assert!(store.insert_media(&old).await.is_err());
}

/// Delete refuses while an unfinished target's post names the file, says which targets, and
/// deletes once they are finished; another workspace's id is not found.
async fn delete_refuses_while_in_use(store: Arc<dyn Store>) {
    let ws = workspace(&store).await;
    let other = workspace(&store).await;
    let used = media(&ws, 0);
    let free = media(&ws, 0);
    store.insert_media(&used).await.unwrap();
    store.insert_media(&free).await.unwrap();
    let p = post_using(&store, &ws, &[&used.id]).await;
    let targets = store.list_targets(&p.id).await.unwrap();

    assert_eq!(
        store.delete_media(&other, &used.id).await.unwrap(),
        MediaDelete::NotFound
    );
    assert_eq!(
        store.delete_media(&ws, &used.id).await.unwrap(),
        MediaDelete::InUse(vec![targets[0].id.clone()])
    );
    assert!(store.get_media(&ws, &used.id).await.unwrap().is_some());
    assert_eq!(
        store.delete_media(&ws, &free.id).await.unwrap(),
        MediaDelete::Deleted
    );
    assert_eq!(
        store.delete_media(&ws, &free.id).await.unwrap(),
        MediaDelete::NotFound
    );
    // Cancelled: the post is finished with the file.
    assert_eq!(store.cancel_targets(&p.id, at(2000)).await.unwrap(), 1);
    assert_eq!(
        store.delete_media(&ws, &used.id).await.unwrap(),
        MediaDelete::Deleted
    );
    assert_eq!(store.get_media(&ws, &used.id).await.unwrap(), None);
}

/// Retention purges media older than the cut-off that no post names, in batches, and returns
/// them; a referenced file stays whatever its age, as does a recent one.
async fn purge_keeps_referenced_and_recent(store: Arc<dyn Store>) {
    let ws = workspace(&store).await;
    let other = workspace(&store).await;
    let referenced = media(&ws, 0);
    let orphan_a = media(&ws, 0);
    let orphan_b = media(&other, 0);
    let recent = media(&ws, 10_000);
    for m in [&referenced, &orphan_a, &orphan_b, &recent] {
        store.insert_media(m).await.unwrap();
    }
    let p = post_using(&store, &ws, &[&referenced.id]).await;
    store.cancel_targets(&p.id, at(1)).await.unwrap();
    // A post of another workspace naming the same id does not keep it.
    post_using(&store, &other, &[&orphan_a.id]).await;

    let first = store.purge_unreferenced_media(at(5000), 1).await.unwrap();
    assert_eq!(first.len(), 1);
    let second = store.purge_unreferenced_media(at(5000), 10).await.unwrap();
    assert_eq!(second.len(), 1);
    let mut gone: Vec<String> = first.into_iter().chain(second).map(|m| m.id).collect();
    gone.sort();
    let mut expected = vec![orphan_a.id.clone(), orphan_b.id.clone()];
    expected.sort();
    assert_eq!(gone, expected);
    assert!(store
        .purge_unreferenced_media(at(5000), 10)
        .await
        .unwrap()
        .is_empty());
    assert!(store
        .get_media(&ws, &referenced.id)
        .await
        .unwrap()
        .is_some());
    assert!(store.get_media(&ws, &recent.id).await.unwrap().is_some());
}

conformance! {
    single: [insert_get_and_list, delete_refuses_while_in_use, purge_keeps_referenced_and_recent],
    pair: [],
}
