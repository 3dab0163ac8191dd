//! Real processes: one `switchboard sandbox` and two `switchboard serve` sharing one PostgreSQL
//! database. A connection started on one instance completes on the other, and 50 simultaneous
//! `GET /token` calls spread over both instances, on a token about to expire, cause exactly one
//! refresh at the platform and all get the same token.
//!
//! The servers run on the system clock, so the sandbox issues X tokens for 8 seconds: they are
//! due for an on-demand refresh in their last quarter (2 seconds), after six real seconds. The
//! background workers are off (`SWITCHBOARD_WORKERS=0`): this is about reads racing.

use std::time::Duration;

use serde_json::Value;
use support::{allowed_callback, create_workspace, start_sandbox, start_two_servers};

mod support;

#[tokio::test]
async fn two_server_processes_share_state_and_refresh_once() {
    let database_url = switchboard_store::testing::fresh_postgres_url().await;
    let (_sandbox, sandbox) = start_sandbox(&["--access-ttl", "twitter=8"]);

    let key = create_workspace("multi", &database_url);
    let (_servers, (a, b), http) =
        start_two_servers(&database_url, &sandbox, &[("SWITCHBOARD_WORKERS", "0")]).await;

    // Start on A; the platform sends the browser back to B.
    let callback = allowed_callback(&http, &a, &key, "twitter", "u")
        .await
        .replace(&a, &b);
    let conn: Value = http
        .get(&callback)
        .header("Accept", "application/json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = conn["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{conn}"))
        .to_string();

    // Let the 8-second token come within its last quarter.
    tokio::time::sleep(Duration::from_millis(6500)).await;
    let before: Value = http
        .get(format!("{sandbox}/__sandbox/stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let calls = (0..50).map(|i| {
        let http = http.clone();
        let base = if i % 2 == 0 { a.clone() } else { b.clone() };
        let (key, id) = (key.clone(), id.clone());
        tokio::spawn(async move {
            let r = http
                .get(format!("{base}/v1/connections/{id}/token"))
                .bearer_auth(&key)
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success(), "{}", r.status());
            let v: Value = r.json().await.unwrap();
            v["access_token"].as_str().unwrap().to_string()
        })
    });
    let tokens: std::collections::HashSet<String> = futures::future::join_all(calls)
        .await
        .into_iter()
        .map(|t| t.unwrap())
        .collect();
    let after: Value = http
        .get(format!("{sandbox}/__sandbox/stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let refreshes = |v: &Value| v["platforms"]["twitter"]["refreshes"].as_u64().unwrap_or(0);
    assert_eq!(
        refreshes(&after) - refreshes(&before),
        1,
        "exactly one refresh: {after}"
    );
    assert_eq!(
        tokens.len(),
        1,
        "every caller on both instances got the same token"
    );
    let _ = switchboard_store::testing::drop_test_database(&database_url).await;
}
