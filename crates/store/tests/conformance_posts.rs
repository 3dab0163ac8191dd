//! Conformance of [`PostStore`] (posts, targets, the publishing lease), run against SQLite and a
//! fresh PostgreSQL database with the same test bodies.
//!
//! Timestamps are whole milliseconds so values read back compare equal on both backends.

mod harness;

use harness::{conformance, rethrow, PgDb, SqliteDb};
use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::json;
use switchboard_store::posts::{
    post_status, Deferral, NewTarget, Post, PostFilter, PostKey, SummaryRow, TargetOutcome,
};
use switchboard_store::Store;

fn at(offset_ms: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 12, 0, 0).unwrap() + Duration::milliseconds(offset_ms)
}

fn id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// A post due at `at(due_ms)` with one target per platform; returns the post.
async fn post(
    store: &Arc<dyn Store>,
    ws: &str,
    campaign: Option<&str>,
    due_ms: i64,
    platforms: &[&str],
) -> Post {
    let p = Post {
        id: id(),
        workspace_id: ws.into(),
        campaign_id: campaign.map(str::to_string),
        content: json!({"text": "hello", "hashtags": ["a"]}),
        publish_at: at(due_ms),
        time_zone: Some("Europe/Paris".into()),
        created_at: at(0),
    };
    let targets: Vec<NewTarget> = platforms
        .iter()
        .map(|pl| NewTarget {
            id: id(),
            connection_id: format!("conn-{pl}"),
            page_id: (*pl == "facebook").then(|| "page-1".to_string()),
            platform: pl.to_string(),
        })
        .collect();
    store.create_post(&p, &targets).await.unwrap();
    p
}

async fn workspace(store: &Arc<dyn Store>) -> String {
    store.create_workspace("posts", at(0)).await.unwrap().id
}

async fn create_then_read_back(store: Arc<dyn Store>) {
    let ws = workspace(&store).await;
    let other = workspace(&store).await;
    let p = post(&store, &ws, Some("spring"), 1000, &["x", "facebook"]).await;
    assert_eq!(store.get_post(&ws, &p.id).await.unwrap(), Some(p.clone()));
    assert_eq!(store.get_post(&other, &p.id).await.unwrap(), None);
    let targets = store.list_targets(&p.id).await.unwrap();
    assert_eq!(targets.len(), 2);
    assert_eq!(targets[0].platform, "x");
    assert_eq!(targets[0].position, 0);
    assert_eq!(targets[0].page_id, None);
    assert_eq!(targets[1].platform, "facebook");
    assert_eq!(targets[1].page_id.as_deref(), Some("page-1"));
    for t in &targets {
        assert_eq!(t.status, "scheduled");
        assert_eq!(t.due_at, at(1000));
        assert_eq!(t.next_attempt_at, at(1000));
        assert_eq!(t.attempts, 0);
        assert_eq!(t.progress, json!(null));
        assert_eq!(t.workspace_id, ws);
        assert_eq!(t.locked_by, None);
    }
    assert_eq!(
        store.get_target(&targets[1].id).await.unwrap().as_ref(),
        Some(&targets[1])
    );
    assert_eq!(store.get_target("missing").await.unwrap(), None);
}

async fn list_filters(store: Arc<dyn Store>) {
    let ws = workspace(&store).await;
    let a = post(&store, &ws, Some("spring"), 1000, &["x"]).await;
    let b = post(&store, &ws, Some("summer"), 5000, &["linkedin", "x"]).await;
    let c = post(&store, &ws, None, 9000, &["pinterest"]).await;
    let other = workspace(&store).await;
    post(&store, &other, Some("spring"), 1000, &["x"]).await;
    let ids = |posts: Vec<Post>| posts.into_iter().map(|p| p.id).collect::<Vec<_>>();
    let all = PostFilter {
        limit: 100,
        ..Default::default()
    };
    assert_eq!(
        ids(store.list_posts(&ws, &all).await.unwrap()),
        vec![c.id.clone(), b.id.clone(), a.id.clone()],
        "latest publish_at first, this workspace only"
    );
    let f = PostFilter {
        campaign_id: Some("spring".into()),
        ..all.clone()
    };
    assert_eq!(
        ids(store.list_posts(&ws, &f).await.unwrap()),
        vec![a.id.clone()]
    );
    let f = PostFilter {
        platform: Some("x".into()),
        ..all.clone()
    };
    assert_eq!(
        ids(store.list_posts(&ws, &f).await.unwrap()),
        vec![b.id.clone(), a.id.clone()]
    );
    let f = PostFilter {
        from: Some(at(1000)),
        to: Some(at(9000)),
        ..all.clone()
    };
    assert_eq!(
        ids(store.list_posts(&ws, &f).await.unwrap()),
        vec![b.id.clone(), a.id.clone()],
        "from inclusive, to exclusive"
    );
    store.cancel_targets(&c.id, at(10)).await.unwrap();
    let f = PostFilter {
        status: Some("cancelled".into()),
        ..all.clone()
    };
    assert_eq!(
        ids(store.list_posts(&ws, &f).await.unwrap()),
        vec![c.id.clone()]
    );
    let f = PostFilter {
        status: Some("scheduled".into()),
        platform: Some("pinterest".into()),
        ..all.clone()
    };
    assert!(store.list_posts(&ws, &f).await.unwrap().is_empty());
    let f = PostFilter { limit: 1, ..all };
    assert_eq!(ids(store.list_posts(&ws, &f).await.unwrap()), vec![c.id]);
}

/// Pages through `filter` `page` posts at a time, resuming after the last post of each page;
/// returns the ids in the order read and the number of pages.
async fn page_through(
    store: &Arc<dyn Store>,
    ws: &str,
    filter: &PostFilter,
    page: u32,
) -> (Vec<String>, usize) {
    let mut seen = Vec::new();
    let mut after = None;
    let mut pages = 0;
    loop {
        let f = PostFilter {
            after: after.clone(),
            limit: page,
            ..filter.clone()
        };
        let got = store.list_posts(ws, &f).await.unwrap();
        pages += 1;
        assert!(got.len() <= page as usize);
        seen.extend(got.iter().map(|p| p.id.clone()));
        match got.last() {
            Some(last) if got.len() == page as usize => after = Some(PostKey::of(last)),
            _ => return (seen, pages),
        }
        assert!(pages < 1000, "paging does not end");
    }
}

async fn keyset_paging_is_stable_with_ties(store: Arc<dyn Store>) {
    let ws = workspace(&store).await;
    let other = workspace(&store).await;
    // 40 posts due at the very same instant (ids inserted out of order), 5 before, 5 after;
    // every third one also on LinkedIn and in a campaign.
    let mut expected: Vec<(DateTime<Utc>, String, bool)> = Vec::new();
    let mut ids_made: Vec<String> = (0..50).map(|_| id()).collect();
    ids_made.reverse();
    for (i, pid) in ids_made.iter().enumerate() {
        let due_ms = match i {
            0..=4 => 1_000 + i as i64,
            5..=9 => 90_000 + i as i64,
            _ => 50_000,
        };
        let linked = i % 3 == 0;
        let p = Post {
            id: pid.clone(),
            workspace_id: ws.clone(),
            campaign_id: linked.then(|| "launch".to_string()),
            content: json!({"text": format!("post {i}")}),
            publish_at: at(due_ms),
            time_zone: None,
            created_at: at(0),
        };
        let mut targets = vec![NewTarget {
            id: id(),
            connection_id: "conn-x".into(),
            page_id: None,
            platform: "x".into(),
        }];
        if linked {
            targets.push(NewTarget {
                id: id(),
                connection_id: "conn-linkedin".into(),
                page_id: None,
                platform: "linkedin".into(),
            });
        }
        store.create_post(&p, &targets).await.unwrap();
        expected.push((p.publish_at, p.id, linked));
    }
    // Another workspace's posts at the same instant never show.
    for _ in 0..5 {
        post(&store, &other, Some("launch"), 50_000, &["x", "linkedin"]).await;
    }
    expected.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)));
    let all_ids: Vec<String> = expected.iter().map(|e| e.1.clone()).collect();
    let linked_ids: Vec<String> = expected
        .iter()
        .filter(|e| e.2)
        .map(|e| e.1.clone())
        .collect();

    let all = PostFilter {
        limit: 200,
        ..Default::default()
    };
    assert_eq!(
        ids_of(store.list_posts(&ws, &all).await.unwrap()),
        all_ids,
        "latest first, ties by id descending"
    );
    for page in [1, 3, 7, 40, 50, 51] {
        let (seen, pages) = page_through(&store, &ws, &all, page).await;
        assert_eq!(seen, all_ids, "page size {page}: no duplicate, no gap");
        assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 50);
        assert_eq!(pages, 50 / page as usize + 1, "page size {page}");
    }
    // Filters combine with paging: platform, campaign, time range.
    let (seen, _) = page_through(
        &store,
        &ws,
        &PostFilter {
            platform: Some("linkedin".into()),
            ..all.clone()
        },
        4,
    )
    .await;
    assert_eq!(seen, linked_ids);
    let (seen, _) = page_through(
        &store,
        &ws,
        &PostFilter {
            campaign_id: Some("launch".into()),
            status: Some("scheduled".into()),
            ..all.clone()
        },
        2,
    )
    .await;
    assert_eq!(seen, linked_ids);
    let (seen, _) = page_through(
        &store,
        &ws,
        &PostFilter {
            from: Some(at(50_000)),
            to: Some(at(50_001)),
            ..all.clone()
        },
        6,
    )
    .await;
    let tied: Vec<String> = expected
        .iter()
        .filter(|e| e.0 == at(50_000))
        .map(|e| e.1.clone())
        .collect();
    assert_eq!(tied.len(), 40);
    assert_eq!(seen, tied);

    // Backwards: from the end, the page before each page, back to the top.
    let mut back: Vec<String> = Vec::new();
    let mut before = Some(PostKey {
        publish_at: at(-1),
        id: String::new(),
    });
    let mut before_pages = 0;
    while let Some(key) = before.take() {
        let got = store
            .list_posts(
                &ws,
                &PostFilter {
                    before: Some(key),
                    limit: 7,
                    ..all.clone()
                },
            )
            .await
            .unwrap();
        before_pages += 1;
        let mut ids = ids_of(got.clone());
        ids.extend(back);
        back = ids;
        if got.len() == 7 {
            before = got.first().map(PostKey::of);
        }
    }
    assert_eq!(back, all_ids, "paging backwards meets every post once");
    assert_eq!(before_pages, 8);
    let page2 = store
        .list_posts(
            &ws,
            &PostFilter {
                after: Some(PostKey::of(
                    &store
                        .list_posts(
                            &ws,
                            &PostFilter {
                                limit: 7,
                                ..all.clone()
                            },
                        )
                        .await
                        .unwrap()[6],
                )),
                limit: 7,
                ..all.clone()
            },
        )
        .await
        .unwrap();
    let page1_again = store
        .list_posts(
            &ws,
            &PostFilter {
                before: Some(PostKey::of(&page2[0])),
                limit: 7,
                ..all.clone()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        ids_of(page1_again),
        all_ids[..7],
        "the page before page 2 is page 1"
    );

    // A post scheduled while someone pages, above their position, does not shift the pages
    // still to come.
    let first = store
        .list_posts(
            &ws,
            &PostFilter {
                limit: 12,
                ..all.clone()
            },
        )
        .await
        .unwrap();
    post(&store, &ws, None, 95_000, &["x"]).await;
    let rest = store
        .list_posts(
            &ws,
            &PostFilter {
                after: Some(PostKey::of(first.last().unwrap())),
                ..all.clone()
            },
        )
        .await
        .unwrap();
    let mut joined = ids_of(first);
    joined.extend(ids_of(rest));
    assert_eq!(joined, all_ids);
}

fn ids_of(posts: Vec<Post>) -> Vec<String> {
    posts.into_iter().map(|p| p.id).collect()
}

async fn claim_only_due_and_free(store: Arc<dyn Store>) {
    let ws = workspace(&store).await;
    let due = post(&store, &ws, None, 1000, &["x", "linkedin"]).await;
    let later = post(&store, &ws, None, 60_000, &["x"]).await;
    assert!(store
        .claim_due_targets("w1", at(30_000), at(999), 10)
        .await
        .unwrap()
        .is_empty());
    let claimed = store
        .claim_due_targets("w1", at(31_000), at(1000), 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 2);
    for t in &claimed {
        assert_eq!(t.post_id, due.id);
        assert_eq!(t.status, "publishing");
        assert_eq!(t.locked_by.as_deref(), Some("w1"));
        assert_eq!(t.locked_until, Some(at(31_000)));
    }
    // Held: nobody else gets them until the lease ends.
    assert!(store
        .claim_due_targets("w2", at(40_000), at(20_000), 10)
        .await
        .unwrap()
        .is_empty());
    // A crashed holder's lease expires: the target is claimed again, progress intact.
    assert!(store
        .save_progress(
            &claimed[0].id,
            "w1",
            &json!({"step": 2}),
            at(31_000),
            at(1500)
        )
        .await
        .unwrap());
    let again = store
        .claim_due_targets("w2", at(90_000), at(31_000), 1)
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].locked_by.as_deref(), Some("w2"));
    // The old holder lost it: its writes do nothing.
    let lost = if again[0].id == claimed[0].id {
        &claimed[0]
    } else {
        &claimed[1]
    };
    assert!(!store
        .save_progress(&lost.id, "w1", &json!({"step": 3}), at(99_000), at(31_001))
        .await
        .unwrap());
    let outcome = TargetOutcome::Failed(json!({"category": "x"}));
    assert!(!store
        .finish_target(&lost.id, "w1", &outcome, at(31_001))
        .await
        .unwrap());
    if again[0].id == claimed[0].id {
        assert_eq!(again[0].progress, json!({"step": 2}));
    }
    // The later post is not due yet.
    let rest = store
        .claim_due_targets("w3", at(100_000), at(59_999), 10)
        .await
        .unwrap();
    assert!(rest.iter().all(|t| t.post_id != later.id));
}

async fn progress_defer_and_finish(store: Arc<dyn Store>) {
    let ws = workspace(&store).await;
    let p = post(&store, &ws, None, 0, &["instagram"]).await;
    let t = store
        .claim_due_targets("w", at(60_000), at(0), 10)
        .await
        .unwrap()
        .remove(0);
    assert!(store
        .save_progress(&t.id, "w", &json!({"container": "c1"}), at(70_000), at(10))
        .await
        .unwrap());
    assert!(!store
        .save_progress(&t.id, "someone-else", &json!({}), at(70_000), at(10))
        .await
        .unwrap());
    let got = store.get_target(&t.id).await.unwrap().unwrap();
    assert_eq!(got.progress, json!({"container": "c1"}));
    assert_eq!(got.locked_until, Some(at(70_000)));
    // A wait between steps: stays publishing, released, not claimable before its time.
    assert!(store
        .defer_target(&t.id, "w", &Deferral::Wait, at(5000), at(20))
        .await
        .unwrap());
    let got = store.get_target(&t.id).await.unwrap().unwrap();
    assert_eq!(got.status, "publishing");
    assert_eq!(got.locked_by, None);
    assert_eq!(got.attempts, 0);
    assert_eq!(got.next_attempt_at, at(5000));
    assert!(
        !store
            .defer_target(&t.id, "w", &Deferral::Wait, at(5000), at(21))
            .await
            .unwrap(),
        "not held any more"
    );
    assert!(store
        .claim_due_targets("w", at(60_000), at(4999), 10)
        .await
        .unwrap()
        .is_empty());
    let t = store
        .claim_due_targets("w", at(60_000), at(5000), 10)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(t.progress, json!({"container": "c1"}));
    // A transient failure: back to scheduled, one attempt counted, the diagnosis kept.
    let d = json!({"category": "platform_unavailable", "retryable": true});
    assert!(store
        .defer_target(&t.id, "w", &Deferral::Retry(d.clone()), at(9000), at(5001))
        .await
        .unwrap());
    let got = store.get_target(&t.id).await.unwrap().unwrap();
    assert_eq!(
        (got.status.as_str(), got.attempts, got.last_error.as_ref()),
        ("scheduled", 1, Some(&d))
    );
    assert_eq!(
        got.progress,
        json!({"container": "c1"}),
        "progress survives"
    );
    let t = store
        .claim_due_targets("w", at(60_000), at(9000), 10)
        .await
        .unwrap()
        .remove(0);
    let outcome = TargetOutcome::Published {
        post_id: "17890".into(),
        url: Some("https://instagram.com/p/abc".into()),
        progress: json!({"container": "c1", "published": "17890"}),
        warning: None,
    };
    assert!(store
        .finish_target(&t.id, "w", &outcome, at(9100))
        .await
        .unwrap());
    let got = store.get_target(&t.id).await.unwrap().unwrap();
    assert_eq!(got.status, "published");
    assert_eq!(got.platform_post_id.as_deref(), Some("17890"));
    assert_eq!(got.url.as_deref(), Some("https://instagram.com/p/abc"));
    assert_eq!(got.published_at, Some(at(9100)));
    assert_eq!(got.last_error, None);
    assert_eq!(got.locked_by, None);
    assert_eq!(got.progress["published"], "17890");
    // Published is final: no second finish, no claim, no retry, no cancel.
    assert!(!store
        .finish_target(&t.id, "w", &outcome, at(9200))
        .await
        .unwrap());
    assert!(store
        .claim_due_targets("w", at(99_000), at(99_000), 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(store.retry_targets(&p.id, at(9300)).await.unwrap(), 0);
    assert_eq!(store.cancel_targets(&p.id, at(9300)).await.unwrap(), 0);
    assert_eq!(
        store.get_target(&t.id).await.unwrap().unwrap().status,
        "published"
    );
}

async fn cancel_retry_publish_now_and_summary(store: Arc<dyn Store>) {
    let ws = workspace(&store).await;
    let p = post(&store, &ws, None, 0, &["x", "linkedin", "pinterest"]).await;
    let claimed = store
        .claim_due_targets("w", at(60_000), at(0), 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 3);
    let by = |pl: &str| {
        claimed
            .iter()
            .find(|t| t.platform == pl)
            .unwrap()
            .id
            .clone()
    };
    // Published with a warning (not as asked): the warning is kept as the diagnosis.
    let warning = json!({"category": "app_not_approved", "severity": "warning"});
    let published = TargetOutcome::Published {
        post_id: "1".into(),
        url: None,
        progress: json!(null),
        warning: Some(warning.clone()),
    };
    let failure = json!({"category": "invalid_request", "retryable": false});
    store
        .finish_target(&by("x"), "w", &published, at(1))
        .await
        .unwrap();
    let x = store.get_target(&by("x")).await.unwrap().unwrap();
    assert_eq!(x.status, "published");
    assert_eq!(x.last_error, Some(warning));
    store
        .finish_target(
            &by("linkedin"),
            "w",
            &TargetOutcome::Failed(failure.clone()),
            at(1),
        )
        .await
        .unwrap();
    store
        .finish_target(
            &by("pinterest"),
            "w",
            &TargetOutcome::Unknown(failure.clone()),
            at(1),
        )
        .await
        .unwrap();
    let statuses = |ts: Vec<switchboard_store::posts::PostTarget>| {
        ts.into_iter()
            .map(|t| (t.platform, t.status))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        statuses(store.list_targets(&p.id).await.unwrap()),
        vec![
            ("x".to_string(), "published".to_string()),
            ("linkedin".into(), "failed".into()),
            ("pinterest".into(), "unknown".into())
        ]
    );
    let mut summary = store.target_summary(&ws).await.unwrap();
    summary.sort_by(|a, b| a.platform.cmp(&b.platform));
    let row = |platform: &str, status: &str| SummaryRow {
        platform: platform.into(),
        status: status.into(),
        count: 1,
    };
    assert_eq!(
        summary,
        vec![
            row("linkedin", "failed"),
            row("pinterest", "unknown"),
            row("x", "published")
        ]
    );
    // A final failure counts as an attempt; a publication does not.
    let attempts = |t: Option<switchboard_store::posts::PostTarget>| t.unwrap().attempts;
    assert_eq!(
        attempts(store.get_target(&by("linkedin")).await.unwrap()),
        1
    );
    assert_eq!(
        attempts(store.get_target(&by("pinterest")).await.unwrap()),
        1
    );
    assert_eq!(attempts(store.get_target(&by("x")).await.unwrap()), 0);
    // Retry: only the failed one, due now, attempts reset; unknown is never retried.
    assert_eq!(store.retry_targets(&p.id, at(500)).await.unwrap(), 1);
    let li = store.get_target(&by("linkedin")).await.unwrap().unwrap();
    assert_eq!((li.status.as_str(), li.attempts), ("scheduled", 0));
    assert_eq!(li.next_attempt_at, at(500));
    let again = store
        .claim_due_targets("w", at(60_000), at(500), 10)
        .await
        .unwrap();
    assert_eq!(
        again.iter().map(|t| t.id.clone()).collect::<Vec<_>>(),
        vec![by("linkedin")]
    );

    // Cancel and publish-now touch scheduled targets only.
    let later = post(&store, &ws, None, 3_600_000, &["x", "youtube"]).await;
    assert_eq!(
        store.publish_targets_now(&later.id, at(600)).await.unwrap(),
        2
    );
    let ts = store.list_targets(&later.id).await.unwrap();
    assert!(ts
        .iter()
        .all(|t| t.due_at == at(600) && t.next_attempt_at == at(600)));
    let yt = store
        .claim_due_targets("w", at(60_000), at(600), 1)
        .await
        .unwrap();
    assert_eq!(yt.len(), 1);
    assert_eq!(store.cancel_targets(&later.id, at(700)).await.unwrap(), 1);
    let ts = store.list_targets(&later.id).await.unwrap();
    let cancelled: Vec<_> = ts.iter().filter(|t| t.status == "cancelled").collect();
    assert_eq!(cancelled.len(), 1);
    assert_ne!(
        cancelled[0].id, yt[0].id,
        "the claimed target is not cancelled"
    );
    assert_eq!(
        store.publish_targets_now(&later.id, at(800)).await.unwrap(),
        0
    );
    let reclaimed = store
        .claim_due_targets("w", at(99_000), at(61_000), 10)
        .await
        .unwrap();
    assert!(
        reclaimed.iter().all(|t| t.id != cancelled[0].id),
        "a cancelled target is never claimed"
    );
}

async fn post_status_is_derived_honestly(_store: Arc<dyn Store>) {
    assert_eq!(post_status(["published", "published"]), "published");
    assert_eq!(post_status(["published", "failed"]), "partially_published");
    assert_eq!(post_status(["failed", "scheduled"]), "scheduled");
    assert_eq!(post_status(["published", "publishing"]), "publishing");
    assert_eq!(post_status(["failed", "cancelled"]), "failed");
    assert_eq!(post_status(["unknown", "cancelled"]), "unknown");
    assert_eq!(post_status(["cancelled"]), "cancelled");
}

/// Two stores (two pools, as two processes) claiming at once never share a target.
async fn claims_are_exclusive_across_stores(a: Arc<dyn Store>, b: Arc<dyn Store>) {
    let ws = workspace(&a).await;
    let mut all = HashSet::new();
    for _ in 0..20 {
        let p = post(&a, &ws, None, 0, &["x", "linkedin", "pinterest"]).await;
        for t in a.list_targets(&p.id).await.unwrap() {
            all.insert(t.id);
        }
    }
    let mut tasks = Vec::new();
    for (i, store) in [a.clone(), b.clone(), a.clone(), b.clone()]
        .into_iter()
        .enumerate()
    {
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let got = store
                    .claim_due_targets(&format!("w{i}"), at(60_000), at(10), 4)
                    .await
                    .unwrap();
                if got.is_empty() {
                    break;
                }
                mine.extend(got.into_iter().map(|t| t.id));
            }
            mine
        }));
    }
    let mut seen = Vec::new();
    for t in tasks {
        seen.extend(t.await.unwrap());
    }
    assert_eq!(seen.len(), all.len(), "each target claimed exactly once");
    assert_eq!(seen.into_iter().collect::<HashSet<_>>(), all);
}

/// A batch is stored in one transaction: when a later post fails (here a target id already
/// taken), none of the batch is stored; a good batch is stored whole.
async fn a_batch_is_stored_whole_or_not_at_all(store: Arc<dyn Store>) {
    let ws = workspace(&store).await;
    let new = |target_id: String| {
        let p = Post {
            id: id(),
            workspace_id: ws.clone(),
            campaign_id: None,
            content: json!({"text": "batch"}),
            publish_at: at(1000),
            time_zone: None,
            created_at: at(0),
        };
        let t = NewTarget {
            id: target_id,
            connection_id: "conn-x".into(),
            page_id: None,
            platform: "x".into(),
        };
        (p, vec![t])
    };
    let taken = id();
    let first = new(taken.clone());
    let second = new(id());
    let clash = new(taken);
    let err = store.create_posts(&[second.clone(), clash.clone()]).await;
    assert!(err.is_ok(), "the clash is with a later batch: {err:?}");
    // The batch's first post is fine; its second cannot be stored.
    let fine = new(id());
    let err = store.create_posts(&[fine.clone(), first.clone()]).await;
    assert!(
        err.is_err(),
        "a target id already stored must fail the batch"
    );
    assert_eq!(
        store.get_post(&ws, &fine.0.id).await.unwrap(),
        None,
        "nothing of a failed batch is kept"
    );
    for (p, _) in [&second, &clash] {
        assert!(
            store.get_post(&ws, &p.id).await.unwrap().is_some(),
            "the good batch, whole"
        );
    }
}

conformance! {
    single: [
        create_then_read_back,
        a_batch_is_stored_whole_or_not_at_all,
        list_filters,
        keyset_paging_is_stable_with_ties,
        claim_only_due_and_free,
        progress_defer_and_finish,
        cancel_retry_publish_now_and_summary,
        post_status_is_derived_honestly,
    ],
    pair: [claims_are_exclusive_across_stores],
}
