//! Pinterest publishing: image, base64, multi-image and video Pins (media register, upload to
//! the upload URL, status), the errors (bad token, missing scope, unknown or someone else's
//! board, title and description limits, media not ready, rate limit), faults, published counts
//! and Pin analytics growing with the sandbox clock.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::{Duration, Utc};
use reqwest::multipart::{Form, Part};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common::*;
use crate::twitter_publish::{mint, published};

const API: &str = "/api.pinterest.com/v5";
const BOARD: &str = "1150000000000100001";
const ADA: &str = "1150000000000000001";
const SCOPES: &str = "user_accounts:read,boards:read,pins:read,pins:write";

async fn pin(sb: &TestSandbox, token: &str, body: Value) -> reqwest::Response {
    sb.http
        .post(sb.url(&format!("{API}/pins")))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

fn image_pin(title: &str) -> Value {
    json!({
        "board_id": BOARD,
        "title": title,
        "description": "A description",
        "link": "https://example.com/recipe",
        "alt_text": "bread",
        "media_source": { "source_type": "image_url", "url": "https://example.com/bread.jpg" },
    })
}

/// A token through the real consent page and token endpoint (HTTP Basic).
async fn consented_token(sb: &TestSandbox) -> String {
    let params = [
        ("client_id", "sandbox-pinterest-client"),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
        ("scope", SCOPES),
        ("state", "st"),
    ];
    let code = sb.code("/www.pinterest.com/oauth/", &params).await;
    let r = sb
        .http
        .post(sb.url(&format!("{API}/oauth/token")))
        .basic_auth(cid("pinterest"), Some(secret("pinterest")))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
        ])
        .send()
        .await
        .unwrap();
    let (st, body) = json_of(r).await;
    assert_eq!(st, 200, "{body}");
    body["access_token"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn image_pin_is_created_with_rate_limit_headers_and_counted() {
    let sb = start().await;
    let token = consented_token(&sb).await;
    // The boards endpoint lists the board we pin to.
    let (st, boards) = sb.get_bearer(&format!("{API}/boards"), &token).await;
    assert_eq!(st, 200);
    assert_eq!(boards["items"][0]["id"], BOARD);
    let r = pin(&sb, &token, image_pin("Sourdough")).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(r.headers()["x-ratelimit-limit"], "100");
    assert!(
        r.headers()["x-ratelimit-remaining"]
            .to_str()
            .unwrap()
            .parse::<u32>()
            .unwrap()
            < 100
    );
    let (_, body) = json_of(r).await;
    assert_eq!(body["board_id"], BOARD);
    assert_eq!(body["title"], "Sourdough");
    assert_eq!(body["media"]["media_type"], "image");
    let id = body["id"].as_str().unwrap();
    let items = published(&sb, "pinterest").await;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], id);
    assert_eq!(items[0]["kind"], "pin");
    assert_eq!(items[0]["account_id"], ADA);
    let stats = sb.stats("pinterest").await;
    assert_eq!(stats["published"], 1);
    assert_eq!(stats["published_by_account"][ADA], 1);
}

#[tokio::test]
async fn base64_and_multiple_image_pins() {
    let sb = start().await;
    let token = mint(&sb, "pinterest", "pin-ada", SCOPES).await;
    let body = json!({ "board_id": BOARD, "media_source": {
        "source_type": "image_base64", "content_type": "image/png", "data": STANDARD.encode([137u8, 80, 78, 71]) } });
    assert_eq!(pin(&sb, &token, body).await.status(), 201);
    let bad = json!({ "board_id": BOARD, "media_source": {
        "source_type": "image_base64", "content_type": "image/png", "data": "***" } });
    assert_eq!(pin(&sb, &token, bad).await.status(), 400);
    let multi = json!({ "board_id": BOARD, "title": "two", "media_source": {
        "source_type": "multiple_image_urls",
        "items": [{ "url": "https://example.com/1.jpg", "title": "1" }, { "url": "https://example.com/2.jpg" }] } });
    let (st, body) = json_of(pin(&sb, &token, multi).await).await;
    assert_eq!(st, 201, "{body}");
    assert_eq!(body["media"]["media_type"], "multiple_images");
    let one = json!({ "board_id": BOARD, "media_source": {
        "source_type": "multiple_image_urls", "items": [{ "url": "https://example.com/1.jpg" }] } });
    assert_eq!(pin(&sb, &token, one).await.status(), 400);
    let items = published(&sb, "pinterest").await;
    assert_eq!(items.len(), 2);
    assert_eq!(items[1]["media"].as_array().unwrap().len(), 2);
}

async fn media_status(sb: &TestSandbox, token: &str, id: &str) -> String {
    let (st, body) = sb.get_bearer(&format!("{API}/media/{id}"), token).await;
    assert_eq!(st, 200, "{body}");
    body["status"].as_str().unwrap().to_string()
}

/// Registers a video and uploads `bytes` to its upload URL; returns the media id.
async fn upload_video(sb: &TestSandbox, token: &str, bytes: usize) -> String {
    let r = sb
        .http
        .post(sb.url(&format!("{API}/media")))
        .bearer_auth(token)
        .json(&json!({ "media_type": "video" }))
        .send()
        .await
        .unwrap();
    let (st, reg) = json_of(r).await;
    assert_eq!(st, 201, "{reg}");
    let id = reg["media_id"].as_str().unwrap().to_string();
    assert_eq!(media_status(sb, token, &id).await, "registered");
    let url = reg["upload_url"].as_str().unwrap();
    assert!(url.starts_with(&sb.base), "{url}");
    let mut form = Form::new();
    for (k, v) in reg["upload_parameters"].as_object().unwrap() {
        form = form.text(k.clone(), v.as_str().unwrap().to_string());
    }
    // A forged signature is refused like S3 does.
    let mut forged = Form::new();
    for (k, v) in reg["upload_parameters"].as_object().unwrap() {
        let v = if k == "x-amz-signature" {
            "forged".to_string()
        } else {
            v.as_str().unwrap().to_string()
        };
        forged = forged.text(k.clone(), v);
    }
    forged = forged.part("file", Part::bytes(vec![0u8; 10]).file_name("v.mp4"));
    assert_eq!(
        sb.http
            .post(url)
            .multipart(forged)
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
    form = form.part("file", Part::bytes(vec![0u8; bytes]).file_name("v.mp4"));
    let r = sb.http.post(url).multipart(form).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    id
}

#[tokio::test]
async fn video_pin_after_register_upload_and_processing() {
    let sb = start().await;
    let token = mint(&sb, "pinterest", "pin-ada", SCOPES).await;
    let id = upload_video(&sb, &token, 4096).await;
    let body = json!({ "board_id": BOARD, "title": "video", "media_source": {
        "source_type": "video_id", "media_id": id, "cover_image_url": "https://example.com/c.jpg" } });
    // Still processing: refused, nothing published.
    let (st, err) = json_of(pin(&sb, &token, body.clone()).await).await;
    assert_eq!(st, 400);
    assert!(
        err["message"].as_str().unwrap().contains("not succeeded"),
        "{err}"
    );
    assert_eq!(media_status(&sb, &token, &id).await, "processing");
    assert_eq!(media_status(&sb, &token, &id).await, "succeeded");
    let (st, created) = json_of(pin(&sb, &token, body).await).await;
    assert_eq!(st, 201, "{created}");
    assert_eq!(created["media"]["media_type"], "video");
    assert_eq!(published(&sb, "pinterest").await.len(), 1);

    let bad = upload_video(&sb, &token, 666).await;
    sb.advance(30);
    assert_eq!(media_status(&sb, &token, &bad).await, "failed");
}

#[tokio::test]
async fn boards_scopes_tokens_and_lengths() {
    let sb = start().await;
    let token = mint(&sb, "pinterest", "pin-ada", SCOPES).await;
    let (st, body) = json_of(pin(&sb, "sbx-pinterest-at-nope", image_pin("x")).await).await;
    assert_eq!(st, 401);
    assert_eq!(body["code"], 2);
    let no_write = mint(&sb, "pinterest", "pin-ada", "boards:read,pins:read").await;
    let (st, body) = json_of(pin(&sb, &no_write, image_pin("x")).await).await;
    assert_eq!(st, 403);
    assert!(body["message"].as_str().unwrap().contains("pins:write"));

    let mut unknown = image_pin("x");
    unknown["board_id"] = json!("999");
    let (st, body) = json_of(pin(&sb, &token, unknown).await).await;
    assert_eq!(st, 404);
    assert!(body["code"].is_i64());
    assert_eq!(body["message"], "Board not found.");
    // Someone else's board.
    let other = mint(&sb, "pinterest", "pin-noboards", SCOPES).await;
    let (st, body) = json_of(pin(&sb, &other, image_pin("x")).await).await;
    assert_eq!(st, 403, "{body}");

    assert_eq!(
        pin(&sb, &token, image_pin(&"t".repeat(100))).await.status(),
        201
    );
    let (st, body) = json_of(pin(&sb, &token, image_pin(&"t".repeat(101))).await).await;
    assert_eq!(st, 400);
    assert!(body["message"].as_str().unwrap().contains("title"));
    let mut long = image_pin("ok");
    long["description"] = json!("d".repeat(501));
    let (st, body) = json_of(pin(&sb, &token, long).await).await;
    assert_eq!(st, 400);
    assert!(body["message"].as_str().unwrap().contains("description"));
    let mut no_board = image_pin("ok");
    no_board.as_object_mut().unwrap().remove("board_id");
    assert_eq!(pin(&sb, &token, no_board).await.status(), 400);
    assert_eq!(published(&sb, "pinterest").await.len(), 1);
}

#[tokio::test]
async fn more_than_100_requests_in_a_second_get_429() {
    let sb = start().await;
    let token = mint(&sb, "pinterest", "pin-ada", SCOPES).await;
    let r = sb
        .http
        .post(sb.url(&format!("{API}/media")))
        .bearer_auth(&token)
        .json(&json!({ "media_type": "video" }))
        .send()
        .await
        .unwrap();
    let id = json_of(r).await.1["media_id"].as_str().unwrap().to_string();
    let url = sb.url(&format!("{API}/media/{id}"));
    // Bursts of 150 concurrent reads: at most 100 per second pass.
    let mut limited = None;
    for _ in 0..5 {
        let mut burst = tokio::task::JoinSet::new();
        for _ in 0..150 {
            let rb = sb.http.get(&url).bearer_auth(&token);
            burst.spawn(async move { rb.send().await.unwrap() });
        }
        let mut answers = Vec::new();
        while let Some(r) = burst.join_next().await {
            answers.push(r.unwrap());
        }
        if let Some(r) = answers.into_iter().find(|r| r.status() == 429) {
            limited = Some(r);
            break;
        }
    }
    let r = limited.expect("a burst of 150 requests got no 429");
    assert_eq!(r.headers()["x-ratelimit-remaining"], "0");
    let (_, body) = json_of(r).await;
    assert_eq!(body["code"], 8);
    // Another account has its own allowance.
    let other = mint(&sb, "pinterest", "pin-noboards", SCOPES).await;
    let (st, _) = sb.get_bearer(&format!("{API}/media/{id}"), &other).await;
    assert_eq!(
        st, 404,
        "another user's media is not found, but not rate limited"
    );
}

#[tokio::test]
async fn faults_on_publish_and_upload() {
    let sb = start().await;
    let token = mint(&sb, "pinterest", "pin-ada", SCOPES).await;
    sb.fault(
        json!({ "platform": "pinterest", "endpoint": "publish", "status": 503,
        "body": "{\"code\":4,\"message\":\"Service unavailable\"}" }),
    )
    .await;
    let (st, body) = json_of(pin(&sb, &token, image_pin("flaky")).await).await;
    assert_eq!(st, 503);
    assert_eq!(body["code"], 4);
    assert!(published(&sb, "pinterest").await.is_empty());
    assert_eq!(pin(&sb, &token, image_pin("flaky")).await.status(), 201);
    sb.fault(json!({ "platform": "pinterest", "endpoint": "upload", "status": 500 }))
        .await;
    let r = sb
        .http
        .post(sb.url(&format!("{API}/media")))
        .bearer_auth(&token)
        .json(&json!({ "media_type": "video" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 500);
    assert_eq!(sb.stats("pinterest").await["published"], 1);
}

#[tokio::test]
async fn analytics_grow_with_the_sandbox_clock() {
    let sb = start().await;
    let token = mint(&sb, "pinterest", "pin-ada", SCOPES).await;
    let (_, body) = json_of(pin(&sb, &token, image_pin("measure")).await).await;
    let id = body["id"].as_str().unwrap().to_string();
    let today = Utc::now().date_naive();
    let path = |end: chrono::NaiveDate| {
        format!(
            "{API}/pins/{id}/analytics?start_date={}&end_date={end}&metric_types=IMPRESSION,SAVE,PIN_CLICK,OUTBOUND_CLICK",
            today - Duration::days(1)
        )
    };
    let (st, first) = sb
        .get_bearer(&path(today + Duration::days(5)), &token)
        .await;
    assert_eq!(st, 200, "{first}");
    assert_eq!(first["all"]["daily_metrics"].as_array().unwrap().len(), 7);
    let life0 = first["all"]["lifetime_metrics"].clone();
    let r = sb
        .http
        .post(sb.url("/__sandbox/clock"))
        .json(&json!({ "advance_secs": 72 * 3600 }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (_, later) = sb
        .get_bearer(&path(today + Duration::days(5)), &token)
        .await;
    let life1 = later["all"]["lifetime_metrics"].clone();
    for m in ["IMPRESSION", "SAVE", "PIN_CLICK", "OUTBOUND_CLICK"] {
        assert!(
            life1[m].as_u64().unwrap() > life0[m].as_u64().unwrap(),
            "{m}: {life0} {life1}"
        );
    }
    // The daily figures add up to the summary, and the days after "now" are still PROCESSING
    // (Pinterest's `DataStatus` enum has no other value for them).
    let daily = later["all"]["daily_metrics"].as_array().unwrap();
    let sum: u64 = daily
        .iter()
        .map(|d| d["metrics"]["IMPRESSION"].as_u64().unwrap())
        .sum();
    assert_eq!(
        later["all"]["summary_metrics"]["IMPRESSION"]
            .as_u64()
            .unwrap(),
        sum
    );
    assert_eq!(daily[6]["data_status"], "PROCESSING");
    // Bad ranges and unknown pins.
    let (st, _) = sb
        .get_bearer(
            &format!("{API}/pins/{id}/analytics?start_date={today}"),
            &token,
        )
        .await;
    assert_eq!(st, 400);
    let (st, _) = sb
        .get_bearer(
            &format!(
                "{API}/pins/{id}/analytics?start_date={today}&end_date={}",
                today + Duration::days(120)
            ),
            &token,
        )
        .await;
    assert_eq!(st, 400);
    let (st, body) = sb
        .get_bearer(
            &format!("{API}/pins/1/analytics?start_date={today}&end_date={today}"),
            &token,
        )
        .await;
    assert_eq!(st, 404);
    assert!(body["code"].is_i64());
    assert_eq!(sb.stats("pinterest").await["metrics_calls"], 5);
}
