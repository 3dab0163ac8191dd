//! Analytics sync end to end: posts published to the sandbox's X and LinkedIn by the dispatcher
//! (`workers::publish::tick`), then the sync worker (`workers::sync::tick`, driven by hand with
//! the moved clock) reading their metrics, and the `/v1/sync` endpoints. Metric reads are
//! counted at the sandbox (`metrics_calls`).

mod common;

use chrono::Duration;
use common::*;
use reqwest::header::AUTHORIZATION;
use reqwest::StatusCode;
use serde_json::{json, Value};
use switchboard_server::workers::{publish, sync};

/// Connects X and LinkedIn, publishes one post to both; returns (post id, x target id,
/// linkedin target id).
async fn published_post(app: &TestApp) -> (String, String, String) {
    let x = app.connect_as("twitter", Some("x-ada")).await["id"]
        .as_str()
        .expect("x connection")
        .to_string();
    let li = app.connect("linkedin").await["id"]
        .as_str()
        .expect("linkedin connection")
        .to_string();
    let (s, created) = app
        .post(
            "/v1/posts",
            json!({"content": {"text": "Fresh bread today"}, "connection_ids": [x, li]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    assert_eq!(publish::tick(&app.state).await.unwrap(), 2);
    let id = created["id"].as_str().unwrap().to_string();
    let p = post(app, &id).await;
    assert_eq!(p["status"], "published", "{p}");
    let target = |platform: &str| {
        p["targets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["platform"] == platform)
            .and_then(|t| t["id"].as_str())
            .expect("target")
            .to_string()
    };
    (id.clone(), target("twitter"), target("linkedin"))
}

async fn post(app: &TestApp, id: &str) -> Value {
    let (s, v) = app.get(&format!("/v1/posts/{id}")).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v
}

fn target_metrics<'a>(post: &'a Value, target_id: &str) -> &'a Value {
    &post["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == target_id)
        .expect("target")["metrics"]
}

/// The sum of a snapshot's numeric figures.
fn figure_sum(metrics: &Value) -> u64 {
    [
        "impressions",
        "engagements",
        "likes",
        "comments",
        "shares",
        "views",
    ]
    .iter()
    .filter_map(|f| metrics["values"][f].as_u64())
    .sum()
}

async fn trigger(app: &TestApp) -> Value {
    let (s, v) = app.post("/v1/sync", json!({})).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    v
}

async fn job(app: &TestApp, id: &str) -> Value {
    let (s, v) = app.get(&format!("/v1/sync/jobs/{id}")).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v
}

fn metrics_calls(stats: &Value, platform: &str) -> u64 {
    stats["platforms"][platform]["metrics_calls"]
        .as_u64()
        .unwrap_or(0)
}

fn platform<'a>(status: &'a Value, id: &str) -> &'a Value {
    status["platforms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["platform"] == id)
        .unwrap_or_else(|| panic!("platform {id} in {status}"))
}

#[tokio::test]
async fn a_triggered_sync_reads_every_target_and_metrics_grow_with_time() {
    let app = TestApp::spawn().await;
    let (post_id, x, li) = published_post(&app).await;
    let (_, status) = app.get("/v1/sync/status").await;
    assert_eq!(status["status"], "never", "{status}");
    assert_eq!(platform(&status, "twitter")["status"], "never");
    app.clock.advance(Duration::minutes(30));

    let queued = trigger(&app).await;
    assert_eq!(queued["status"], "queued");
    assert_eq!(queued["existing"], false);
    assert_eq!(queued["percent"], 0);
    let again = trigger(&app).await;
    assert_eq!(again["id"], queued["id"], "one job at a time");
    assert_eq!(again["existing"], true);
    let job_id = queued["id"].as_str().unwrap().to_string();

    assert_eq!(sync::tick(&app.state).await.unwrap(), 1, "one job run");
    let done = job(&app, &job_id).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(
        (done["steps_total"].as_u64(), done["steps_done"].as_u64()),
        (Some(2), Some(2))
    );
    assert_eq!(done["percent"], 100);
    assert_eq!(done["estimated_seconds_left"], Value::Null);
    assert_eq!(done["errors"], json!([]));
    let stats = app.sandbox_stats().await;
    assert_eq!(metrics_calls(&stats, "twitter"), 1, "{stats}");
    assert_eq!(metrics_calls(&stats, "linkedin"), 1, "{stats}");

    let p = post(&app, &post_id).await;
    let first_x = target_metrics(&p, &x).clone();
    let first_li = target_metrics(&p, &li).clone();
    assert!(
        first_x["values"]["impressions"].as_u64().unwrap() > 0,
        "{first_x}"
    );
    assert!(figure_sum(&first_li) > 0, "{first_li}");

    let (_, status) = app.get("/v1/sync/status").await;
    assert_eq!(status["status"], "succeeded", "{status}");
    for id in ["twitter", "linkedin"] {
        let pl = platform(&status, id);
        assert_eq!(pl["status"], "succeeded", "{status}");
        assert_eq!(pl["message"], Value::Null);
        assert!(pl["last_synced_at"].is_string(), "{status}");
    }
    assert!(
        platform(&status, "twitter")["token_expires_at"].is_string(),
        "X access tokens expire (2 h): {status}"
    );

    // Two hours later, a second sync reads larger figures.
    app.clock.advance(Duration::hours(2));
    let second = trigger(&app).await;
    assert_ne!(second["id"], queued["id"]);
    assert_eq!(sync::tick(&app.state).await.unwrap(), 1);
    let p = post(&app, &post_id).await;
    let later_x = target_metrics(&p, &x);
    assert!(
        later_x["values"]["impressions"].as_u64() > first_x["values"]["impressions"].as_u64(),
        "{first_x} then {later_x}"
    );
    assert!(figure_sum(target_metrics(&p, &li)) > figure_sum(&first_li));
    assert_ne!(later_x["fetched_at"], first_x["fetched_at"]);

    let (s, history) = app.get("/v1/sync/history?limit=5").await;
    assert_eq!(s, StatusCode::OK, "{history}");
    let jobs = history["data"].as_array().unwrap();
    assert_eq!(jobs.len(), 2);
    assert_eq!(jobs[0]["id"], second["id"], "newest first");
    assert_eq!(jobs[0]["targets_read"], 2);
    assert!(
        jobs[0]["totals"]["impressions"].as_u64() > jobs[1]["totals"]["impressions"].as_u64(),
        "{history}"
    );
    let (s, _) = app.get("/v1/sync/history?limit=0").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn a_metrics_fault_makes_the_job_partial_and_keeps_the_other_targets() {
    let app = TestApp::spawn().await;
    let (post_id, x, li) = published_post(&app).await;
    app.clock.advance(Duration::minutes(10));
    // X's rate limit answer (PLATFORMS.md §1: 429, RFC 7807 style body).
    app.fault(json!({
        "platform": "twitter", "endpoint": "metrics", "status": 429, "times": 1,
        "body": json!({"title": "Too Many Requests", "type": "about:blank",
                 "detail": "Too Many Requests", "status": 429}).to_string()
    }))
    .await;
    let queued = trigger(&app).await;
    assert_eq!(sync::tick(&app.state).await.unwrap(), 1);
    let done = job(&app, queued["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "partial", "{done}");
    assert_eq!(done["steps_done"], 2, "the failure did not stop the job");
    let errors = done["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{done}");
    assert_eq!(errors[0]["target_id"], x.as_str());
    assert_eq!(errors[0]["platform"], "twitter");
    assert_eq!(errors[0]["diagnosis"]["http_status"], 429, "{done}");
    assert_eq!(errors[0]["diagnosis"]["retryable"], true, "{done}");
    assert_eq!(errors[0]["diagnosis"]["platform"], "twitter");

    let p = post(&app, &post_id).await;
    assert_eq!(target_metrics(&p, &x), &Value::Null, "{p}");
    assert!(target_metrics(&p, &li)["values"].is_object(), "{p}");

    let (_, status) = app.get("/v1/sync/status").await;
    assert_eq!(status["status"], "partial");
    let tw = platform(&status, "twitter");
    assert_eq!(tw["status"], "failed", "{status}");
    assert_eq!(
        tw["message"].as_str(),
        Some(
            serde_json::from_value::<switchboard_core::Diagnosis>(errors[0]["diagnosis"].clone())
                .unwrap()
                .summary()
                .as_str()
        ),
        "the message is the failure's summary: {status}"
    );
    assert_eq!(platform(&status, "linkedin")["status"], "succeeded");

    let (_, history) = app.get("/v1/sync/history").await;
    assert_eq!(history["data"][0]["errors"][0]["target_id"], x.as_str());
    assert_eq!(history["data"][0]["targets_read"], 1);

    // The next sync, without the fault, reads X again.
    trigger(&app).await;
    sync::tick(&app.state).await.unwrap();
    let p = post(&app, &post_id).await;
    assert!(target_metrics(&p, &x)["values"].is_object(), "{p}");
}

#[tokio::test]
async fn the_periodic_enqueue_respects_the_interval() {
    let app = TestApp::spawn_with(Setup {
        config: Box::new(|c| c.sync_interval_secs = 900),
        ..Setup::default()
    })
    .await;
    assert_eq!(
        sync::tick(&app.state).await.unwrap(),
        0,
        "nothing published yet"
    );
    published_post(&app).await;
    assert_eq!(
        sync::tick(&app.state).await.unwrap(),
        2,
        "one job queued and run"
    );
    assert_eq!(sync::tick(&app.state).await.unwrap(), 0);
    app.clock.advance(Duration::minutes(14));
    assert_eq!(
        sync::tick(&app.state).await.unwrap(),
        0,
        "the interval has not passed"
    );
    app.clock.advance(Duration::minutes(2));
    assert_eq!(sync::tick(&app.state).await.unwrap(), 2, "due again");
    let (_, history) = app.get("/v1/sync/history").await;
    assert_eq!(history["data"].as_array().unwrap().len(), 2, "{history}");
    let stats = app.sandbox_stats().await;
    assert_eq!(metrics_calls(&stats, "twitter"), 2);
}

#[tokio::test]
async fn two_instances_on_postgres_run_a_job_once() {
    let a = TestApp::spawn_with(Setup {
        db: Db::Postgres,
        ..Setup::default()
    })
    .await;
    let b = TestApp::spawn_with(Setup {
        db: Db::Url(a.database_url.clone()),
        sandbox_url: Some((a.sandbox.clone(), a.clock.clone())),
        ..Setup::default()
    })
    .await;
    let (post_id, x, _) = published_post(&a).await;
    let queued = trigger(&a).await;
    let job_id = queued["id"].as_str().unwrap().to_string();
    let (ra, rb) = tokio::join!(sync::tick(&a.state), sync::tick(&b.state));
    assert_eq!(ra.unwrap() + rb.unwrap(), 1, "one instance ran the job");
    let done = job(&a, &job_id).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["steps_done"], 2);
    let stats = a.sandbox_stats().await;
    assert_eq!(metrics_calls(&stats, "twitter"), 1, "{stats}");
    assert_eq!(metrics_calls(&stats, "linkedin"), 1, "{stats}");
    assert!(target_metrics(&post(&a, &post_id).await, &x)["values"].is_object());

    // Another workspace (b's) does not see a's job.
    let r = b
        .http
        .get(format!("{}/v1/sync/jobs/{job_id}", b.api))
        .header(AUTHORIZATION, format!("Bearer {}", b.key))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_job_left_by_a_crashed_holder_is_taken_over_and_skips_the_targets_done() {
    use switchboard_store::sync::{MetricSnapshot, SyncStep};
    let app = TestApp::spawn().await;
    let (post_id, x, li) = published_post(&app).await;
    let queued = trigger(&app).await;
    let job_id = queued["id"].as_str().unwrap().to_string();
    // Another instance claims the job, reads X, and dies.
    let store = app.state.store();
    let now = app.state.now();
    let held = store
        .claim_sync_job("dead:sync", now + Duration::seconds(120), now)
        .await
        .unwrap()
        .expect("claimed");
    assert_eq!(held.id, job_id);
    assert!(store
        .set_sync_total(&job_id, "dead:sync", 2, now + Duration::seconds(120))
        .await
        .unwrap());
    let snapshot = MetricSnapshot {
        id: uuid::Uuid::now_v7().to_string(),
        job_id: job_id.clone(),
        workspace_id: app.workspace_id.clone(),
        target_id: x.clone(),
        platform: "twitter".into(),
        fetched_at: now,
        metrics: json!({"impressions": 7}),
    };
    assert!(store
        .record_sync_step(
            &job_id,
            "dead:sync",
            &SyncStep::Read(snapshot),
            now + Duration::seconds(120)
        )
        .await
        .unwrap());
    let mid = job(&app, &job_id).await;
    assert_eq!(mid["status"], "running");
    assert_eq!(mid["percent"], 50, "{mid}");
    assert_eq!(sync::tick(&app.state).await.unwrap(), 0, "still held");

    app.clock.advance(Duration::minutes(3));
    assert_eq!(sync::tick(&app.state).await.unwrap(), 1, "taken over");
    let done = job(&app, &job_id).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["steps_done"], 2, "X was not read twice: {done}");
    let stats = app.sandbox_stats().await;
    assert_eq!(metrics_calls(&stats, "twitter"), 0, "{stats}");
    assert_eq!(metrics_calls(&stats, "linkedin"), 1, "{stats}");
    let p = post(&app, &post_id).await;
    assert_eq!(target_metrics(&p, &x)["values"]["impressions"], 7);
    assert!(target_metrics(&p, &li)["values"].is_object());
}
