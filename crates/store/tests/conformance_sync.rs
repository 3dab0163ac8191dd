//! Conformance of [`SyncStore`] (sync jobs, their lease, snapshots, per-platform status), run
//! against SQLite and a fresh PostgreSQL database with the same test bodies.
//!
//! Timestamps are whole milliseconds so values read back compare equal on both backends.

mod harness;

use harness::{conformance, rethrow, PgDb, SqliteDb};
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::json;
use switchboard_store::posts::{NewTarget, Post, TargetOutcome};
use switchboard_store::sync::{MetricSnapshot, PlatformSync, SyncStep};
use switchboard_store::Store;

fn at(offset_ms: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 12, 0, 0).unwrap() + Duration::milliseconds(offset_ms)
}

fn id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// A workspace with one post whose targets on `platforms` are published; returns (workspace,
/// post id, target ids).
async fn published(store: &Arc<dyn Store>, platforms: &[&str]) -> (String, String, Vec<String>) {
    let ws = store.create_workspace("sync", at(0)).await.unwrap().id;
    let p = Post {
        id: id(),
        workspace_id: ws.clone(),
        campaign_id: None,
        content: json!({"text": "hello"}),
        publish_at: at(0),
        time_zone: None,
        created_at: at(0),
    };
    let targets: Vec<NewTarget> = platforms
        .iter()
        .map(|pl| NewTarget {
            id: id(),
            connection_id: format!("conn-{pl}"),
            page_id: None,
            platform: pl.to_string(),
        })
        .collect();
    store.create_post(&p, &targets).await.unwrap();
    let claimed = store
        .claim_due_targets("pub", at(60_000), at(1), 100)
        .await
        .unwrap();
    for t in &claimed {
        let outcome = TargetOutcome::Published {
            post_id: format!("pp-{}", t.id),
            url: None,
            progress: json!(null),
            warning: None,
        };
        assert!(store
            .finish_target(&t.id, "pub", &outcome, at(2))
            .await
            .unwrap());
    }
    (ws, p.id, targets.into_iter().map(|t| t.id).collect())
}

async fn one_active_job_per_workspace_and_interval(store: Arc<dyn Store>) {
    let (ws, _, _) = published(&store, &["twitter"]).await;
    assert_eq!(
        store.workspaces_with_published_targets().await.unwrap(),
        vec![ws.clone()]
    );
    let first = store
        .enqueue_sync_job(&ws, &id(), at(1000), None)
        .await
        .unwrap()
        .expect("queued");
    assert_eq!(first.status, "queued");
    assert_eq!(first.created_at, at(1000));
    assert!(
        store
            .enqueue_sync_job(&ws, &id(), at(2000), None)
            .await
            .unwrap()
            .is_none(),
        "one queued job at a time"
    );
    assert_eq!(
        store.active_sync_job(&ws).await.unwrap(),
        Some(first.clone())
    );
    // Run it to the end; then the interval rule decides.
    let job = store
        .claim_sync_job("a", at(60_000), at(3000))
        .await
        .unwrap()
        .expect("claimed");
    assert_eq!(job.id, first.id);
    assert!(store
        .finish_sync_job(&job.id, "a", "succeeded", at(4000))
        .await
        .unwrap());
    assert_eq!(store.active_sync_job(&ws).await.unwrap(), None);
    assert!(
        store
            .enqueue_sync_job(&ws, &id(), at(5000), Some(at(999)))
            .await
            .unwrap()
            .is_none(),
        "the last job is not older than the interval"
    );
    let second = store
        .enqueue_sync_job(&ws, &id(), at(5000), Some(at(1000)))
        .await
        .unwrap()
        .expect("older than the interval");
    let jobs = store.list_sync_jobs(&ws, 10).await.unwrap();
    assert_eq!(
        jobs.iter().map(|j| j.id.as_str()).collect::<Vec<_>>(),
        vec![second.id.as_str(), first.id.as_str()]
    );
    let other = store.create_workspace("other", at(0)).await.unwrap().id;
    assert_eq!(store.get_sync_job(&other, &first.id).await.unwrap(), None);
    let got = store.get_sync_job(&ws, &first.id).await.unwrap().unwrap();
    assert_eq!(got.status, "succeeded");
    assert_eq!(got.started_at, Some(at(3000)));
    assert_eq!(got.finished_at, Some(at(4000)));
}

async fn steps_snapshots_errors_and_lease(store: Arc<dyn Store>) {
    let (ws, post, targets) = published(&store, &["twitter", "pinterest"]).await;
    assert_eq!(store.published_target_ids(&ws).await.unwrap().len(), 2);
    let job = store
        .enqueue_sync_job(&ws, &id(), at(0), None)
        .await
        .unwrap()
        .unwrap();
    let held = store
        .claim_sync_job("a", at(10_000), at(100))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(held.status, "running");
    assert_eq!(held.locked_by.as_deref(), Some("a"));
    assert!(
        store
            .claim_sync_job("b", at(20_000), at(200))
            .await
            .unwrap()
            .is_none(),
        "held"
    );
    assert!(store
        .set_sync_total(&job.id, "a", 2, at(10_000))
        .await
        .unwrap());
    let snap = |n: u64, t: i64| MetricSnapshot {
        id: id(),
        job_id: job.id.clone(),
        workspace_id: ws.clone(),
        target_id: targets[0].clone(),
        platform: "twitter".into(),
        fetched_at: at(t),
        metrics: json!({"likes": n}),
    };
    assert!(store
        .record_sync_step(&job.id, "a", &SyncStep::Read(snap(3, 300)), at(10_000))
        .await
        .unwrap());
    let failure =
        json!({"target_id": targets[1], "platform": "pinterest", "diagnosis": {"cause": "down"}});
    assert!(
        !store
            .record_sync_step(&job.id, "b", &SyncStep::Failed(failure.clone()), at(10_000))
            .await
            .unwrap(),
        "not the holder"
    );
    // The lease runs out: another holder takes over and goes on.
    let taken = store
        .claim_sync_job("b", at(40_000), at(10_001))
        .await
        .unwrap()
        .expect("expired lease");
    assert_eq!(taken.steps_done, 1);
    assert_eq!(taken.started_at, Some(at(100)), "first start kept");
    assert!(
        !store
            .record_sync_step(&job.id, "a", &SyncStep::Read(snap(9, 301)), at(10_000))
            .await
            .unwrap(),
        "the old holder lost it"
    );
    assert!(store
        .record_sync_step(&job.id, "b", &SyncStep::Failed(failure.clone()), at(40_000))
        .await
        .unwrap());
    assert!(!store
        .finish_sync_job(&job.id, "a", "partial", at(500))
        .await
        .unwrap());
    assert!(store
        .finish_sync_job(&job.id, "b", "partial", at(500))
        .await
        .unwrap());
    let done = store.get_sync_job(&ws, &job.id).await.unwrap().unwrap();
    assert_eq!((done.steps_total, done.steps_done), (2, 2));
    assert_eq!(done.errors, vec![failure]);
    assert_eq!(done.status, "partial");
    assert_eq!(done.locked_by, None);
    let snaps = store.job_snapshots(&job.id).await.unwrap();
    assert_eq!(snaps.len(), 1);
    assert_eq!(snaps[0].metrics, json!({"likes": 3}));

    // A later job's snapshot is the latest of that target.
    let job2 = store
        .enqueue_sync_job(&ws, &id(), at(1000), None)
        .await
        .unwrap()
        .unwrap();
    store
        .claim_sync_job("a", at(90_000), at(1000))
        .await
        .unwrap()
        .unwrap();
    let mut later = snap(7, 2000);
    later.job_id = job2.id.clone();
    assert!(store
        .record_sync_step(&job2.id, "a", &SyncStep::Read(later.clone()), at(90_000))
        .await
        .unwrap());
    assert_eq!(
        store.latest_post_snapshots(&post).await.unwrap(),
        vec![later]
    );

    // Per-platform status is replaced, not appended.
    for (status, message) in [("failed", Some("down".to_string())), ("succeeded", None)] {
        store
            .upsert_platform_sync(&PlatformSync {
                workspace_id: ws.clone(),
                platform: "pinterest".into(),
                job_id: job.id.clone(),
                status: status.into(),
                message,
                last_synced_at: at(500),
            })
            .await
            .unwrap();
    }
    let ps = store.list_platform_sync(&ws).await.unwrap();
    assert_eq!(ps.len(), 1);
    assert_eq!(ps[0].status, "succeeded");
    assert_eq!(ps[0].message, None);
}

async fn a_job_is_claimed_by_one_of_two_stores(a: Arc<dyn Store>, b: Arc<dyn Store>) {
    let (ws, _, _) = published(&a, &["twitter"]).await;
    for _ in 0..5 {
        let job = a
            .enqueue_sync_job(&ws, &id(), at(0), None)
            .await
            .unwrap()
            .unwrap();
        let (x, y) = tokio::join!(
            a.claim_sync_job("a", at(60_000), at(1)),
            b.claim_sync_job("b", at(60_000), at(1))
        );
        let got: Vec<_> = [x.unwrap(), y.unwrap()].into_iter().flatten().collect();
        assert_eq!(got.len(), 1, "exactly one claim: {got:?}");
        assert_eq!(got[0].id, job.id);
        let owner = got[0].locked_by.clone().unwrap();
        assert!(a
            .finish_sync_job(&job.id, &owner, "succeeded", at(2))
            .await
            .unwrap());
    }
}

conformance! {
    single: [
        one_active_job_per_workspace_and_interval,
        steps_snapshots_errors_and_lease,
    ],
    pair: [a_job_is_claimed_by_one_of_two_stores],
}
