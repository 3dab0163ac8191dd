//! Conformance of [`MaintenanceStore`] (key ids of sealed columns, online re-sealing, retention
//! purges), run against SQLite and a fresh PostgreSQL database with the same test bodies.
//!
//! The "ciphertexts" here are fake `sbv1.<key id>.<data>` strings: the store only reads the key
//! id; real sealing is tested in the CLI's rotation test.

mod harness;

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use harness::{conformance, rethrow, PgDb, SqliteDb};
use serde_json::json;
use switchboard_store::maintenance::{
    rotate_keys, KeyUsage, Purge, RotateOptions, SealedColumn, SealedRow,
};
use switchboard_store::pages::ConnectionPage;
use switchboard_store::webhooks::{
    AuditEntry, DeliveryAttempt, DeliveryStatus, NewDeliveries, Webhook,
};
use switchboard_store::{Connection, Event, OAuthState, Store, TokenUpdate};

fn at(offset_ms: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 12, 0, 0).unwrap() + Duration::milliseconds(offset_ms)
}

fn days(n: i64) -> i64 {
    n * 86_400_000
}

fn id() -> String {
    uuid::Uuid::now_v7().to_string()
}

fn connection(ws: &str, account: &str, key: &str, refresh: bool) -> Connection {
    Connection {
        id: id(),
        workspace_id: ws.to_string(),
        platform: "twitter".into(),
        owner: "u".into(),
        account_id: account.into(),
        account_name: None,
        username: None,
        avatar_url: None,
        scopes: vec![],
        status: "healthy".into(),
        access_token_sealed: format!("sbv1.{key}.access-{account}"),
        refresh_token_sealed: refresh.then(|| format!("sbv1.{key}.refresh-{account}")),
        token_type: "Bearer".into(),
        expires_at: Some(at(days(1))),
        refresh_expires_at: None,
        token_obtained_at: at(0),
        last_refreshed_at: None,
        last_error: None,
        metadata: json!({}),
        version: 1,
        created_at: at(0),
        updated_at: at(0),
    }
}

fn state(ws: &str, key: Option<&str>, expires: DateTime<Utc>) -> OAuthState {
    let hash = id();
    OAuthState {
        code_verifier_sealed: key.map(|k| format!("sbv1.{k}.verifier-{hash}")),
        state_hash: hash,
        workspace_id: ws.to_string(),
        platform: "twitter".into(),
        owner: "u".into(),
        redirect_uri: "http://x/cb".into(),
        scopes: vec![],
        return_to: None,
        connection_id: None,
        metadata: json!({}),
        created_at: expires - Duration::minutes(10),
        expires_at: expires,
        consumed_at: None,
    }
}

fn usage(u: &[KeyUsage], column: SealedColumn, key: &str) -> u64 {
    u.iter()
        .filter(|x| x.column == column && x.key_id == key)
        .map(|x| x.rows)
        .sum()
}

/// A workspace with, on key `kold`: 3 connections (2 with refresh tokens), one Page of the
/// first, one webhook, one pending state; plus one connection on `knew` and one state without
/// verifier. Returns (workspace, connections).
async fn seeded(store: &Arc<dyn Store>) -> (String, Vec<Connection>) {
    let ws = store.create_workspace("keys", at(0)).await.unwrap().id;
    let mut conns = Vec::new();
    for (i, (key, refresh)) in [
        ("kold", true),
        ("kold", true),
        ("kold", false),
        ("knew", true),
    ]
    .into_iter()
    .enumerate()
    {
        let c = store
            .upsert_connection(&connection(&ws, &format!("acct{i}"), key, refresh))
            .await
            .unwrap();
        conns.push(c);
    }
    let page = ConnectionPage {
        connection_id: conns[0].id.clone(),
        page_id: "p1".into(),
        name: "Page".into(),
        tasks: vec![],
        position: 0,
        selected: true,
        status: "ok".into(),
        access_token_sealed: Some("sbv1.kold.page".into()),
        last_error: None,
        last_checked_at: None,
        created_at: at(0),
        updated_at: at(0),
    };
    store
        .replace_pages(&conns[0].id, &[page], at(0))
        .await
        .unwrap();
    store
        .create_webhook(&Webhook {
            id: id(),
            workspace_id: ws.clone(),
            url: "https://hooks.example/x".into(),
            events: vec![],
            description: None,
            secret_sealed: "sbv1.kold.secret".into(),
            created_at: at(0),
        })
        .await
        .unwrap();
    store
        .insert_oauth_state(&state(&ws, Some("kold"), at(days(1))))
        .await
        .unwrap();
    store
        .insert_oauth_state(&state(&ws, None, at(days(1))))
        .await
        .unwrap();
    (ws, conns)
}

async fn key_usage_and_unknown_keys(store: Arc<dyn Store>) {
    let (_ws, conns) = seeded(&store).await;
    let u = store.sealed_key_usage().await.unwrap();
    assert_eq!(usage(&u, SealedColumn::ConnectionAccessToken, "kold"), 3);
    assert_eq!(usage(&u, SealedColumn::ConnectionAccessToken, "knew"), 1);
    assert_eq!(usage(&u, SealedColumn::ConnectionRefreshToken, "kold"), 2);
    assert_eq!(usage(&u, SealedColumn::PageAccessToken, "kold"), 1);
    assert_eq!(usage(&u, SealedColumn::WebhookSecret, "kold"), 1);
    assert_eq!(usage(&u, SealedColumn::OAuthStateCodeVerifier, "kold"), 1);
    assert_eq!(
        u.iter().map(|x| x.rows).sum::<u64>(),
        10,
        "NULLs are not counted: {u:?}"
    );

    let both = store
        .sealed_outside_keys(&["knew".into(), "kold".into()])
        .await
        .unwrap();
    assert!(both.is_empty(), "{both:?}");
    let only_new = store.sealed_outside_keys(&["knew".into()]).await.unwrap();
    assert_eq!(only_new.iter().map(|x| x.rows).sum::<u64>(), 8);
    assert!(only_new.iter().all(|x| x.key_id == "kold"));
    // Ids sorting on either side of the unknown one, and no key at all.
    let around = store
        .sealed_outside_keys(&["ka".into(), "kz".into()])
        .await
        .unwrap();
    assert_eq!(around.iter().map(|x| x.rows).sum::<u64>(), 10);
    assert_eq!(
        store
            .sealed_outside_keys(&[])
            .await
            .unwrap()
            .iter()
            .map(|x| x.rows)
            .sum::<u64>(),
        10
    );

    // A value that is not a vault ciphertext shows as key "".
    let mut bad = connection(&conns[0].workspace_id, "plain", "x", false);
    bad.access_token_sealed = "not-sealed".into();
    store.upsert_connection(&bad).await.unwrap();
    let outside = store
        .sealed_outside_keys(&["knew".into(), "kold".into()])
        .await
        .unwrap();
    assert_eq!(
        outside,
        vec![KeyUsage {
            column: SealedColumn::ConnectionAccessToken,
            key_id: String::new(),
            rows: 1
        }]
    );
}

/// A fake re-seal: swaps the key id, keeps the data; fails for data containing "poison".
fn fake_reseal(row: &SealedRow) -> Result<String, String> {
    if row.sealed.contains("poison") {
        return Err("stored secret failed authentication".into());
    }
    let data = row.sealed.splitn(3, '.').nth(2).unwrap();
    Ok(format!("sbv1.knew.{data}"))
}

async fn rotation_is_batched_resumable_and_skips_failures(store: Arc<dyn Store>) {
    let (ws, _conns) = seeded(&store).await;
    let mut poisoned = connection(&ws, "poison", "kold", false);
    poisoned.access_token_sealed = "sbv1.kold.poison".into();
    let poisoned = store.upsert_connection(&poisoned).await.unwrap();

    // Interrupted after 3 rows.
    let mut seen = Vec::new();
    let first = rotate_keys(
        store.as_ref(),
        "knew",
        RotateOptions {
            batch_size: 2,
            limit: Some(3),
        },
        fake_reseal,
        |p| seen.push((p.column.clone(), p.rotated)),
    )
    .await
    .unwrap();
    assert!(first.stopped_at_limit);
    assert_eq!(first.rotated(), 3);
    assert_eq!(first.remaining, 9 - 3);
    assert_eq!(
        first.columns[0].total, 4,
        "3 old access tokens + the poisoned one"
    );
    assert!(!seen.is_empty(), "progress after each batch");

    // Resumed: the rest, except the row that cannot be opened.
    let second = rotate_keys(
        store.as_ref(),
        "knew",
        RotateOptions::default(),
        fake_reseal,
        |_| {},
    )
    .await
    .unwrap();
    assert!(!second.stopped_at_limit);
    assert_eq!(second.rotated(), 5);
    assert_eq!(second.failed(), 1);
    assert_eq!(second.columns[0].failed_rows, vec![poisoned.id.clone()]);
    assert_eq!(second.remaining, 1);
    let u = store.sealed_key_usage().await.unwrap();
    assert_eq!(
        u.iter()
            .filter(|x| x.key_id == "kold")
            .map(|x| x.rows)
            .sum::<u64>(),
        1
    );
    // Values kept their data, versions and updated_at are untouched.
    for c in store
        .list_connections(&ws, &Default::default())
        .await
        .unwrap()
    {
        if c.id == poisoned.id {
            continue;
        }
        assert!(
            c.access_token_sealed.starts_with("sbv1.knew.access-"),
            "{c:?}"
        );
        assert_eq!(c.version, 1);
        assert_eq!(c.updated_at, at(0));
    }
    let pages = store.list_pages(&_conns[0].id).await.unwrap();
    assert_eq!(
        pages[0].access_token_sealed.as_deref(),
        Some("sbv1.knew.page")
    );
    let hooks = store.list_webhooks(&ws).await.unwrap();
    assert_eq!(hooks[0].secret_sealed, "sbv1.knew.secret");

    // Nothing left to do: a third run reads nothing but the poisoned row.
    let third = rotate_keys(
        store.as_ref(),
        "knew",
        RotateOptions::default(),
        fake_reseal,
        |_| {},
    )
    .await
    .unwrap();
    assert_eq!(third.rotated(), 0);
    assert_eq!(third.failed(), 1);
}

fn refreshed(access: &str, refresh: &str) -> TokenUpdate {
    TokenUpdate {
        access_token_sealed: access.into(),
        refresh_token_sealed: Some(refresh.into()),
        token_type: "Bearer".into(),
        expires_at: Some(at(days(2))),
        refresh_expires_at: None,
        scopes: None,
        token_obtained_at: at(1000),
        status: "healthy".into(),
        refreshed_at: Some(at(1000)),
    }
}

/// Rotation racing a refresh, in both orders: the refresh's rotated refresh token is never
/// lost, and the refresh's optimistic version check still passes after a rotation.
async fn rotation_never_overwrites_a_concurrent_refresh(store: Arc<dyn Store>) {
    let (_ws, conns) = seeded(&store).await;
    let c0 = &conns[0];
    let c1 = &conns[1];

    // Rotation reads, then a refresh writes, then the rotation writes what it read.
    let read = store
        .sealed_batch(SealedColumn::ConnectionRefreshToken, "knew", None, 10)
        .await
        .unwrap();
    assert_eq!(read.len(), 2);
    let updated = store
        .update_tokens(
            &c0.id,
            &refreshed("sbv1.knew.access-after", "sbv1.knew.refresh-after"),
            Some(c0.version),
            at(1000),
        )
        .await
        .unwrap()
        .expect("the refresh wins its version check");
    assert_eq!(updated.version, c0.version + 1);
    let replacements: Vec<(SealedRow, String)> = read
        .into_iter()
        .map(|r| {
            let new = fake_reseal(&r).unwrap();
            (r, new)
        })
        .collect();
    assert_eq!(
        store.replace_sealed(&replacements).await.unwrap(),
        1,
        "only the row nobody changed"
    );
    let c0_now = store.get_connection_by_id(&c0.id).await.unwrap().unwrap();
    assert_eq!(
        c0_now.refresh_token_sealed.as_deref(),
        Some("sbv1.knew.refresh-after"),
        "the refreshed token survives"
    );

    // The rotation writes first; a refresh that read the row before still commits.
    let before = store.get_connection_by_id(&c1.id).await.unwrap().unwrap();
    assert_eq!(
        before.refresh_token_sealed.as_deref(),
        Some("sbv1.knew.refresh-acct1"),
        "rotated above"
    );
    let access = store
        .sealed_batch(SealedColumn::ConnectionAccessToken, "knew", None, 10)
        .await
        .unwrap();
    let mine: Vec<(SealedRow, String)> = access
        .into_iter()
        .filter(|r| r.id == c1.id)
        .map(|r| {
            let new = fake_reseal(&r).unwrap();
            (r, new)
        })
        .collect();
    assert_eq!(store.replace_sealed(&mine).await.unwrap(), 1);
    let after = store
        .update_tokens(
            &c1.id,
            &refreshed("sbv1.knew.a2", "sbv1.knew.r2"),
            Some(before.version),
            at(2000),
        )
        .await
        .unwrap()
        .expect("rotation does not move the version");
    assert_eq!(after.refresh_token_sealed.as_deref(), Some("sbv1.knew.r2"));
}

async fn retention_purges_only_what_is_old_enough(store: Arc<dyn Store>) {
    let ws = store.create_workspace("retention", at(0)).await.unwrap().id;
    let now = at(days(200));

    // Connections: dead and idle for 100 days, dead but touched recently, healthy and idle.
    let mut ids = Vec::new();
    for (i, (status, updated)) in [
        ("revoked", days(100)),
        ("needs_reauth", days(100)),
        ("revoked", days(150)),
        ("healthy", days(1)),
    ]
    .into_iter()
    .enumerate()
    {
        let mut c = connection(&ws, &format!("r{i}"), "k", true);
        c.status = status.into();
        c.updated_at = at(updated);
        ids.push(store.upsert_connection(&c).await.unwrap().id);
    }
    let cutoff = now - Duration::days(90);
    let first = store
        .purge_connections(&["revoked", "needs_reauth", "expired"], cutoff, 1)
        .await
        .unwrap();
    assert_eq!(first.len(), 1, "batched");
    let second = store
        .purge_connections(&["revoked", "needs_reauth", "expired"], cutoff, 100)
        .await
        .unwrap();
    let mut purged: Vec<String> = first.iter().chain(&second).map(|p| p.id.clone()).collect();
    purged.sort();
    let mut expected = vec![ids[0].clone(), ids[1].clone()];
    expected.sort();
    assert_eq!(purged, expected);
    assert_eq!(first[0].workspace_id, ws);
    assert!(store.get_connection_by_id(&ids[2]).await.unwrap().is_some());
    assert!(store.get_connection_by_id(&ids[3]).await.unwrap().is_some());
    assert!(store
        .purge_connections(&[], cutoff, 100)
        .await
        .unwrap()
        .is_empty());

    // OAuth states: expired 20 minutes ago vs 5 minutes ago.
    let old_state = state(&ws, Some("k"), now - Duration::minutes(20));
    let fresh_state = state(&ws, Some("k"), now - Duration::minutes(5));
    store.insert_oauth_state(&old_state).await.unwrap();
    store.insert_oauth_state(&fresh_state).await.unwrap();
    assert_eq!(
        store
            .purge(Purge::OAuthStates, now - Duration::minutes(10), 100)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .consume_oauth_state(&old_state.state_hash, now)
            .await
            .unwrap(),
        switchboard_store::ConsumeOutcome::NotFound
    );
    assert!(matches!(
        store
            .consume_oauth_state(&fresh_state.state_hash, now)
            .await
            .unwrap(),
        switchboard_store::ConsumeOutcome::Expired(_)
    ));

    // Events and audit: 5 old, 2 recent each; purged in batches of 2.
    for i in 0..7 {
        let created = if i < 5 {
            at(days(10) + i)
        } else {
            now - Duration::days(1)
        };
        store
            .insert_event(&Event {
                id: id(),
                workspace_id: ws.clone(),
                connection_id: None,
                kind: "connection.created".into(),
                payload: json!({}),
                created_at: created,
            })
            .await
            .unwrap();
        store
            .insert_audit(&AuditEntry {
                id: id(),
                workspace_id: ws.clone(),
                connection_id: None,
                actor: "system:refresh".into(),
                action: "connection.refreshed".into(),
                details: json!({}),
                created_at: created,
            })
            .await
            .unwrap();
    }
    for what in [Purge::Events, Purge::Audit] {
        let mut total = 0;
        loop {
            let n = store.purge(what, cutoff, 2).await.unwrap();
            assert!(n <= 2);
            total += n;
            if n < 2 {
                break;
            }
        }
        assert_eq!(total, 5, "{what:?}");
    }
    assert_eq!(store.list_events(&ws, 100).await.unwrap().len(), 2);

    // Webhook deliveries: one delivered long ago, one delivered recently, one failed long
    // ago, one pending long ago (never purged).
    let hook = Webhook {
        id: id(),
        workspace_id: ws.clone(),
        url: "https://hooks.example/x".into(),
        events: vec![],
        description: None,
        secret_sealed: "sbv1.k.s".into(),
        created_at: at(0),
    };
    store.create_webhook(&hook).await.unwrap();
    let mut outcomes = Vec::new();
    for (i, (status, when)) in [
        (Some(DeliveryStatus::Delivered), at(days(10))),
        (Some(DeliveryStatus::Delivered), now - Duration::days(1)),
        (Some(DeliveryStatus::Failed), at(days(10))),
        (None, at(days(10))),
    ]
    .into_iter()
    .enumerate()
    {
        let event_id = format!("e{i}");
        let d = store
            .enqueue_deliveries(&NewDeliveries {
                workspace_id: &ws,
                event_id: &event_id,
                event_type: "connection.created",
                body: "{}",
                now: when,
            })
            .await
            .unwrap();
        assert_eq!(d.len(), 1);
        if let Some(status) = status {
            let claimed = store
                .claim_deliveries("w", when + Duration::minutes(1), when, 10)
                .await
                .unwrap();
            assert_eq!(claimed.len(), 1);
            store
                .record_delivery_attempt(
                    &claimed[0].id,
                    "w",
                    &DeliveryAttempt {
                        status,
                        status_code: Some(200),
                        error: None,
                        next_attempt_at: None,
                        at: when,
                    },
                )
                .await
                .unwrap()
                .unwrap();
        }
        outcomes.push(d[0].id.clone());
    }
    let delivered_cut = now - Duration::days(30);
    assert_eq!(
        store
            .purge(Purge::DeliveredWebhookDeliveries, delivered_cut, 100)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .purge(Purge::FailedWebhookDeliveries, delivered_cut, 100)
            .await
            .unwrap(),
        1
    );
    let left: Vec<String> = store
        .list_deliveries(&ws, &hook.id, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(left.len(), 2);
    assert!(left.contains(&outcomes[1]) && left.contains(&outcomes[3]));

    // Nothing else is old enough: every purge is now a no-op.
    for what in Purge::ALL {
        assert_eq!(store.purge(what, cutoff, 100).await.unwrap(), 0, "{what:?}");
    }
}

conformance!(
    single: [
        key_usage_and_unknown_keys,
        rotation_is_batched_resumable_and_skips_failures,
        rotation_never_overwrites_a_concurrent_refresh,
        retention_purges_only_what_is_old_enough,
    ],
    pair: [],
);

/// The start-up check reads the key id indexes: the expression in the Rust code is the one the
/// migration indexed (otherwise the check would scan every row).
#[tokio::test]
async fn sqlite_key_id_queries_use_the_indexes() {
    let dir = tempfile::tempdir().unwrap();
    let url = switchboard_store::testing::fresh_sqlite_url(dir.path());
    let store = switchboard_store::sqlite::SqliteStore::connect(&url)
        .await
        .unwrap();
    for column in SealedColumn::ALL {
        let expr = switchboard_store::maintenance::sqlite_key_id_expr(column.column());
        let plan: Vec<(i64, i64, i64, String)> = sqlx::query_as(&format!(
            "EXPLAIN QUERY PLAN SELECT {expr}, COUNT(*) FROM {} WHERE {expr} >= '' AND {expr} < 'k1' GROUP BY {expr}",
            column.table()
        ))
        .fetch_all(store.pool())
        .await
        .unwrap();
        let detail: Vec<String> = plan.into_iter().map(|p| p.3).collect();
        assert!(
            detail.iter().any(|d| d.contains("_key_id")),
            "{}: {detail:?}",
            column.name()
        );
    }
}

#[tokio::test]
async fn postgres_key_id_queries_use_the_indexes() {
    let url = switchboard_store::testing::fresh_postgres_url().await;
    let store = switchboard_store::postgres::PgStore::connect(&url)
        .await
        .unwrap();
    let mut conn = store.pool().acquire().await.unwrap();
    sqlx::query("SET enable_seqscan = off")
        .execute(&mut *conn)
        .await
        .unwrap();
    for column in SealedColumn::ALL {
        let expr = switchboard_store::maintenance::postgres_key_id_expr(column.column());
        let plan: Vec<String> = sqlx::query_scalar(&format!(
            "EXPLAIN SELECT {expr}, COUNT(*) FROM {} WHERE {expr} >= '' AND {expr} < 'k1' GROUP BY 1",
            column.table()
        ))
        .fetch_all(&mut *conn)
        .await
        .unwrap();
        assert!(
            plan.iter().any(|d| d.contains("_key_id")),
            "{}: {plan:?}",
            column.name()
        );
    }
    drop(conn);
    store.pool().close().await;
    switchboard_store::testing::drop_test_database(&url)
        .await
        .unwrap();
}
