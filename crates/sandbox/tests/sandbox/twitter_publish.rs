//! X publishing: posts (text, image, chunked video with STATUS polling), the documented errors
//! (bad token, missing scope, too long, duplicate, media not ready, 24-hour user limit),
//! faults, the published counts and public metrics growing with the sandbox clock.

use reqwest::multipart::{Form, Part};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common::*;

const TWEETS: &str = "/api.x.com/2/tweets";
const UPLOAD: &str = "/api.x.com/2/media/upload";
const ALL: &str = "tweet.read tweet.write users.read media.write offline.access";

/// A token through the sandbox's direct grants (`POST /__sandbox/grants`), as if `account` had
/// consented to `scopes` (space- or comma-separated). The token lives two years, so tests can move
/// the clock by days.
pub async fn mint(sb: &TestSandbox, platform: &str, account: &str, scopes: &str) -> String {
    let scopes: Vec<&str> = scopes.split([' ', ',']).filter(|s| !s.is_empty()).collect();
    let r = sb
        .http
        .post(sb.url("/__sandbox/grants"))
        .json(
            &json!({ "platform": platform, "account": account, "scopes": scopes, "count": 1,
            "access_ttl_secs": 2 * 365 * 86_400 }),
        )
        .send()
        .await
        .unwrap();
    let (st, body) = json_of(r).await;
    assert_eq!(st, 200, "{body}");
    body["grants"][0]["access_token"]
        .as_str()
        .expect("access_token")
        .to_string()
}

/// `GET /__sandbox/published?platform=`.
pub async fn published(sb: &TestSandbox, platform: &str) -> Vec<Value> {
    let r = sb
        .http
        .get(sb.url(&format!("/__sandbox/published?platform={platform}")))
        .send()
        .await
        .unwrap();
    let (st, body) = json_of(r).await;
    assert_eq!(st, 200);
    body["items"].as_array().cloned().unwrap_or_default()
}

/// A token through the real consent page and token endpoint (PKCE, Basic).
async fn consented_token(sb: &TestSandbox) -> String {
    let (verifier, challenge) = pkce();
    let params = [
        ("response_type", "code"),
        ("client_id", "sandbox-twitter-client"),
        ("redirect_uri", REDIRECT),
        ("scope", ALL),
        ("state", "st"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let code = sb.code("/x.com/i/oauth2/authorize", &params).await;
    let r = sb
        .http
        .post(sb.url("/api.x.com/2/oauth2/token"))
        .basic_auth(cid("twitter"), Some(secret("twitter")))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier.as_str()),
        ])
        .send()
        .await
        .unwrap();
    let (st, body) = json_of(r).await;
    assert_eq!(st, 200, "{body}");
    body["access_token"].as_str().unwrap().to_string()
}

async fn tweet(sb: &TestSandbox, token: &str, body: Value) -> reqwest::Response {
    sb.http
        .post(sb.url(TWEETS))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn simple_upload(sb: &TestSandbox, token: &str, bytes: Vec<u8>) -> (StatusCode, Value) {
    let form = Form::new()
        .text("media_category", "tweet_image")
        .part("media", Part::bytes(bytes).file_name("a.png"));
    let r = sb
        .http
        .post(sb.url(UPLOAD))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    json_of(r).await
}

/// initialize + append (in `chunks`) + finalize; returns the media id and the finalize body.
async fn chunked_upload(sb: &TestSandbox, token: &str, chunks: &[usize]) -> (String, Value) {
    let total: usize = chunks.iter().sum();
    let r = sb
        .http
        .post(sb.url(&format!("{UPLOAD}/initialize")))
        .bearer_auth(token)
        .json(&json!({ "media_type": "video/mp4", "total_bytes": total, "media_category": "tweet_video" }))
        .send()
        .await
        .unwrap();
    let (st, init) = json_of(r).await;
    assert_eq!(st, 200, "{init}");
    assert!(init["data"]["expires_after_secs"].as_i64().unwrap() > 0);
    let id = init["data"]["id"].as_str().unwrap().to_string();
    for (i, n) in chunks.iter().enumerate() {
        let form = Form::new()
            .text("segment_index", i.to_string())
            .part("media", Part::bytes(vec![0xffu8; *n]).file_name("v.mp4"));
        let r = sb
            .http
            .post(sb.url(&format!("{UPLOAD}/{id}/append")))
            .bearer_auth(token)
            .multipart(form)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{:?}", r.text().await);
    }
    let r = sb
        .http
        .post(sb.url(&format!("{UPLOAD}/{id}/finalize")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let (st, fin) = json_of(r).await;
    assert_eq!(st, 200, "{fin}");
    (id, fin)
}

async fn status(sb: &TestSandbox, token: &str, id: &str) -> Value {
    let (st, body) = sb
        .get_bearer(&format!("{UPLOAD}?command=STATUS&media_id={id}"), token)
        .await;
    assert_eq!(st, 200, "{body}");
    body["data"]["processing_info"].clone()
}

#[tokio::test]
async fn text_post_with_rate_limit_headers_is_published_once() {
    let sb = start().await;
    let token = consented_token(&sb).await;
    let r = tweet(&sb, &token, json!({ "text": "hello from the sandbox" })).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let h = |n: &str| r.headers().get(n).unwrap().to_str().unwrap().to_string();
    assert_eq!(h("x-user-limit-24hour-limit"), "100");
    assert_eq!(h("x-user-limit-24hour-remaining"), "99");
    assert!(h("x-user-limit-24hour-reset").parse::<i64>().unwrap() > 0);
    assert_eq!(h("x-rate-limit-remaining"), "99");
    assert!(h("x-rate-limit-limit").parse::<u32>().is_ok());
    assert!(h("x-rate-limit-reset").parse::<i64>().is_ok());
    let (_, body) = json_of(r).await;
    assert_eq!(body["data"]["text"], "hello from the sandbox");
    let id = body["data"]["id"].as_str().unwrap();
    assert!(id.parse::<u64>().is_ok());

    let items = published(&sb, "twitter").await;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], id);
    assert_eq!(items[0]["account_id"], "1580000000000000001");
    assert_eq!(items[0]["kind"], "text");
    let stats = sb.stats("twitter").await;
    assert_eq!(stats["published"], 1);
    assert_eq!(stats["published_by_account"]["1580000000000000001"], 1);
}

#[tokio::test]
async fn image_post_via_simple_upload() {
    let sb = start().await;
    let token = mint(&sb, "twitter", "x-grace", ALL).await;
    let (st, up) = simple_upload(&sb, &token, vec![7u8; 2048]).await;
    assert_eq!(st, 200, "{up}");
    assert_eq!(up["data"]["size"], 2048);
    assert!(up["data"].get("processing_info").is_none());
    let media = up["data"]["id"].as_str().unwrap().to_string();
    let r = tweet(
        &sb,
        &token,
        json!({ "text": "a picture", "media": { "media_ids": [media] } }),
    )
    .await;
    assert_eq!(r.status(), 201);
    let items = published(&sb, "twitter").await;
    assert_eq!(items[0]["kind"], "image");
    assert_eq!(items[0]["media"], json!([media]));
    assert_eq!(items[0]["account_id"], "1580000000000000002");
    assert_eq!(sb.stats("twitter").await["upload_calls"], 1);

    // Over 5 MB is refused by the simple upload.
    let (st, body) = simple_upload(&sb, &token, vec![0u8; 5 * 1024 * 1024 + 1]).await;
    assert_eq!(st, 400, "{body}");
    assert_eq!(body["type"], "https://api.x.com/2/problems/invalid-request");
}

#[tokio::test]
async fn chunked_video_polls_pending_in_progress_succeeded_then_posts() {
    let sb = start().await;
    let token = mint(&sb, "twitter", "x-ada", ALL).await;
    let (id, fin) = chunked_upload(&sb, &token, &[1000, 1000, 500]).await;
    assert_eq!(fin["data"]["size"], 2500);
    assert_eq!(fin["data"]["processing_info"]["state"], "pending");
    assert!(
        fin["data"]["processing_info"]["check_after_secs"]
            .as_i64()
            .unwrap()
            >= 1
    );

    // Not ready yet: a post with it is refused, and nothing is published.
    let r = tweet(
        &sb,
        &token,
        json!({ "text": "too soon", "media": { "media_ids": [id] } }),
    )
    .await;
    assert_eq!(r.status(), 400);
    let (_, body) = json_of(r).await;
    assert_eq!(body["errors"][0]["message"], "Your media IDs are invalid.");

    assert_eq!(status(&sb, &token, &id).await["state"], "pending");
    assert_eq!(status(&sb, &token, &id).await["state"], "in_progress");
    assert_eq!(status(&sb, &token, &id).await["state"], "succeeded");

    let r = tweet(
        &sb,
        &token,
        json!({ "text": "a video", "media": { "media_ids": [id] } }),
    )
    .await;
    assert_eq!(r.status(), 201);
    let items = published(&sb, "twitter").await;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["kind"], "video");
}

#[tokio::test]
async fn processing_advances_with_the_sandbox_clock_and_bad_media_fails() {
    let sb = start().await;
    let token = mint(&sb, "twitter", "x-ada", ALL).await;
    let (id, _) = chunked_upload(&sb, &token, &[600]).await;
    sb.advance(60);
    assert_eq!(status(&sb, &token, &id).await["state"], "succeeded");

    // 666 bytes is the sandbox's failing media.
    let (bad, _) = chunked_upload(&sb, &token, &[600, 66]).await;
    sb.advance(60);
    let info = status(&sb, &token, &bad).await;
    assert_eq!(info["state"], "failed", "{info}");
    assert_eq!(info["error"]["name"], "InvalidMedia");
    let r = tweet(
        &sb,
        &token,
        json!({ "text": "broken", "media": { "media_ids": [bad] } }),
    )
    .await;
    assert_eq!(r.status(), 400);
    assert!(published(&sb, "twitter").await.is_empty());
}

#[tokio::test]
async fn finalize_with_missing_bytes_is_refused() {
    let sb = start().await;
    let token = mint(&sb, "twitter", "x-ada", ALL).await;
    let r = sb
        .http
        .post(sb.url(&format!("{UPLOAD}/initialize")))
        .bearer_auth(&token)
        .json(&json!({ "media_type": "video/mp4", "total_bytes": 5000, "media_category": "tweet_video" }))
        .send()
        .await
        .unwrap();
    let id = json_of(r).await.1["data"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = sb
        .http
        .post(sb.url(&format!("{UPLOAD}/{id}/finalize")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn bad_token_and_missing_scopes() {
    let sb = start().await;
    let r = tweet(&sb, "sbx-twitter-at-nope", json!({ "text": "x" })).await;
    assert_eq!(r.status(), 401);
    let (_, body) = json_of(r).await;
    assert_eq!(body["title"], "Unauthorized");

    let read_only = mint(&sb, "twitter", "x-ada", "tweet.read users.read").await;
    let r = tweet(&sb, &read_only, json!({ "text": "x" })).await;
    assert_eq!(r.status(), 403);
    let (st, _) = simple_upload(&sb, &read_only, vec![1u8; 10]).await;
    assert_eq!(st, 403);

    // A token of another platform is not an X token.
    let li = mint(&sb, "linkedin", "li-ada", "w_member_social").await;
    assert_eq!(tweet(&sb, &li, json!({ "text": "x" })).await.status(), 401);
    assert!(published(&sb, "twitter").await.is_empty());
}

#[tokio::test]
async fn too_long_is_403_and_weighting_counts_urls_and_wide_characters() {
    let sb = start().await;
    let token = mint(&sb, "twitter", "x-ada", ALL).await;
    // 280 ASCII characters pass; 281 do not.
    assert_eq!(
        tweet(&sb, &token, json!({ "text": "a".repeat(280) }))
            .await
            .status(),
        201
    );
    let r = tweet(&sb, &token, json!({ "text": "b".repeat(281) })).await;
    assert_eq!(r.status(), 403);
    let (_, body) = json_of(r).await;
    assert!(body["type"]
        .as_str()
        .unwrap()
        .starts_with("https://api.x.com/2/problems/"));
    assert!(body["detail"].as_str().unwrap().contains("281"), "{body}");
    // 141 CJK characters weigh 282.
    assert_eq!(
        tweet(&sb, &token, json!({ "text": "漢".repeat(141) }))
            .await
            .status(),
        403
    );
    assert_eq!(
        tweet(&sb, &token, json!({ "text": "字".repeat(140) }))
            .await
            .status(),
        201
    );
    // A long URL weighs 23: 256 + 1 + 23 = 280.
    let url = format!("https://example.com/{}", "p".repeat(200));
    let text = format!("{} {url}", "c".repeat(256));
    assert_eq!(
        tweet(&sb, &token, json!({ "text": text })).await.status(),
        201
    );
    assert_eq!(published(&sb, "twitter").await.len(), 3);
}

#[tokio::test]
async fn duplicate_text_of_the_same_account_is_403() {
    let sb = start().await;
    let ada = mint(&sb, "twitter", "x-ada", ALL).await;
    let grace = mint(&sb, "twitter", "x-grace", ALL).await;
    assert_eq!(
        tweet(&sb, &ada, json!({ "text": "same words" }))
            .await
            .status(),
        201
    );
    let r = tweet(&sb, &ada, json!({ "text": "same words" })).await;
    assert_eq!(r.status(), 403);
    assert!(r.headers().contains_key("x-user-limit-24hour-remaining"));
    let (_, body) = json_of(r).await;
    assert_eq!(body["type"], "https://api.x.com/2/problems/duplicate");
    assert!(body["detail"]
        .as_str()
        .unwrap()
        .contains("duplicate content"));
    // Another account may say the same; a day later the same account may too.
    assert_eq!(
        tweet(&sb, &grace, json!({ "text": "same words" }))
            .await
            .status(),
        201
    );
    sb.advance(86_401);
    assert_eq!(
        tweet(&sb, &ada, json!({ "text": "same words" }))
            .await
            .status(),
        201
    );
    let stats = sb.stats("twitter").await;
    assert_eq!(stats["published"], 3);
    assert_eq!(stats["published_by_account"]["1580000000000000001"], 2);
    assert_eq!(stats["published_by_account"]["1580000000000000002"], 1);
}

#[tokio::test]
async fn the_24_hour_user_limit_answers_429_until_it_resets() {
    let sb = start().await;
    let token = mint(&sb, "twitter", "x-ada", ALL).await;
    for i in 0..100 {
        // Spread over time so the 15-minute window does not bite first.
        if i > 0 && i % 50 == 0 {
            sb.advance(1000);
        }
        let r = tweet(&sb, &token, json!({ "text": format!("post {i}") })).await;
        assert_eq!(r.status(), 201, "post {i}");
    }
    let r = tweet(&sb, &token, json!({ "text": "one too many" })).await;
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["x-user-limit-24hour-remaining"], "0");
    let reset: i64 = r.headers()["x-user-limit-24hour-reset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(reset > 0);
    assert_eq!(published(&sb, "twitter").await.len(), 100);
    sb.advance(86_400);
    assert_eq!(
        tweet(&sb, &token, json!({ "text": "one too many" }))
            .await
            .status(),
        201
    );
}

#[tokio::test]
async fn faults_on_publish_and_upload_publish_nothing() {
    let sb = start().await;
    let token = mint(&sb, "twitter", "x-ada", ALL).await;
    sb.fault(
        json!({ "platform": "twitter", "endpoint": "publish", "status": 503,
        "body": "{\"title\":\"Service Unavailable\",\"status\":503}" }),
    )
    .await;
    assert_eq!(
        tweet(&sb, &token, json!({ "text": "first try" }))
            .await
            .status(),
        503
    );
    assert!(published(&sb, "twitter").await.is_empty());
    assert_eq!(
        tweet(&sb, &token, json!({ "text": "first try" }))
            .await
            .status(),
        201
    );

    sb.fault(json!({ "platform": "twitter", "endpoint": "upload", "status": 500 }))
        .await;
    let (st, _) = simple_upload(&sb, &token, vec![1u8; 10]).await;
    assert_eq!(st, 500);
    let (st, _) = simple_upload(&sb, &token, vec![1u8; 10]).await;
    assert_eq!(st, 200);
    let stats = sb.stats("twitter").await;
    assert_eq!(stats["published"], 1);
    assert_eq!(stats["faults_served"], 2);
}

#[tokio::test]
async fn public_metrics_grow_with_the_sandbox_clock() {
    let sb = start().await;
    let token = mint(&sb, "twitter", "x-ada", ALL).await;
    let (_, body) = json_of(tweet(&sb, &token, json!({ "text": "measure me" })).await).await;
    let id = body["data"]["id"].as_str().unwrap().to_string();
    let path = format!("{TWEETS}/{id}?tweet.fields=public_metrics");
    let (st, first) = sb.get_bearer(&path, &token).await;
    assert_eq!(st, 200, "{first}");
    let m0 = first["data"]["public_metrics"].clone();
    for k in [
        "retweet_count",
        "reply_count",
        "like_count",
        "quote_count",
        "impression_count",
    ] {
        assert!(m0[k].is_u64(), "{k}: {m0}");
    }
    let r = sb
        .http
        .post(sb.url("/__sandbox/clock"))
        .json(&json!({ "advance_secs": 6 * 3600 }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (_, later) = sb.get_bearer(&path, &token).await;
    let m1 = later["data"]["public_metrics"].clone();
    assert!(
        m1["impression_count"].as_u64() > m0["impression_count"].as_u64(),
        "{m0} {m1}"
    );
    assert!(m1["like_count"].as_u64() > m0["like_count"].as_u64());
    // Deterministic: the same instant gives the same figures.
    let (_, again) = sb.get_bearer(&path, &token).await;
    assert_eq!(
        again["data"]["public_metrics"]["like_count"],
        m1["like_count"]
    );
    // Without tweet.fields, no metrics; an unknown id is X's 200 with errors[].
    let (_, plain) = sb.get_bearer(&format!("{TWEETS}/{id}"), &token).await;
    assert!(plain["data"].get("public_metrics").is_none());
    let (st, missing) = sb.get_bearer(&format!("{TWEETS}/1"), &token).await;
    assert_eq!(st, 200);
    assert_eq!(
        missing["errors"][0]["type"],
        "https://api.x.com/2/problems/resource-not-found"
    );
    assert_eq!(sb.stats("twitter").await["metrics_calls"], 5);
}

#[tokio::test]
async fn concurrent_identical_posts_publish_once() {
    let sb = start().await;
    let token = mint(&sb, "twitter", "x-ada", ALL).await;
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let rb = sb
            .http
            .post(sb.url(TWEETS))
            .bearer_auth(&token)
            .json(&json!({ "text": "only once" }));
        set.spawn(async move { rb.send().await.unwrap().status() });
    }
    let mut statuses = Vec::new();
    while let Some(s) = set.join_next().await {
        statuses.push(s.unwrap());
    }
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::CREATED)
            .count(),
        1
    );
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::FORBIDDEN)
            .count(),
        9
    );
    assert_eq!(published(&sb, "twitter").await.len(), 1);
    assert_eq!(
        sb.stats("twitter").await["published_by_account"]["1580000000000000001"],
        1
    );
}

#[tokio::test]
async fn at_most_four_images_or_one_video_per_post() {
    let sb = start().await;
    let token = mint(&sb, "twitter", "x-ada", ALL).await;
    let mut images = Vec::new();
    for _ in 0..5 {
        let (st, up) = simple_upload(&sb, &token, vec![3u8; 100]).await;
        assert_eq!(st, 200);
        images.push(up["data"]["id"].as_str().unwrap().to_string());
    }
    let r = tweet(
        &sb,
        &token,
        json!({ "text": "five", "media": { "media_ids": images } }),
    )
    .await;
    assert_eq!(r.status(), 400);
    let four = &images[..4];
    let r = tweet(
        &sb,
        &token,
        json!({ "text": "four", "media": { "media_ids": four } }),
    )
    .await;
    assert_eq!(r.status(), 201);
    let (video, _) = chunked_upload(&sb, &token, &[100]).await;
    sb.advance(60);
    assert_eq!(status(&sb, &token, &video).await["state"], "succeeded");
    let r = tweet(
        &sb,
        &token,
        json!({ "text": "mixed", "media": { "media_ids": [video, images[4]] } }),
    )
    .await;
    assert_eq!(r.status(), 400);
    // Someone else's media is not usable either.
    let grace = mint(&sb, "twitter", "x-grace", ALL).await;
    let r = tweet(
        &sb,
        &grace,
        json!({ "text": "not mine", "media": { "media_ids": [images[4]] } }),
    )
    .await;
    assert_eq!(r.status(), 400);
    let items = published(&sb, "twitter").await;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["kind"], "images");
}

/// `GET /__sandbox/exchanges`: the upload is recorded by its shape (fields, file part by size
/// and type), never its bytes nor the token; control calls are not recorded; `?platform=`
/// filters; `DELETE` forgets.
#[tokio::test]
async fn the_recorder_keeps_an_upload_by_its_shape_not_its_bytes() {
    let sb = start().await;
    let token = mint(&sb, "twitter", "x-grace", ALL).await;
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.resize(300_000, 0xAB);
    let (st, up) = simple_upload(&sb, &token, png).await;
    assert_eq!(st, 200, "{up}");
    let get = |q: &'static str| {
        let url = sb.url(&format!("/__sandbox/exchanges{q}"));
        let http = sb.http.clone();
        async move { http.get(url).send().await.unwrap() }
    };
    let r = get("?platform=twitter").await;
    let text = r.text().await.unwrap();
    assert!(
        text.len() < 20_000,
        "the upload's bytes are not kept: {} bytes",
        text.len()
    );
    assert!(!text.contains(&token), "the token is not kept");
    let v: Value = serde_json::from_str(&text).unwrap();
    let all = v["exchanges"].as_array().unwrap();
    let ex = all
        .iter()
        .find(|e| e["path"] == "/2/media/upload")
        .unwrap_or_else(|| panic!("{v}"));
    assert_eq!(ex["platform"], "twitter");
    assert_eq!(ex["method"], "POST");
    assert_eq!(ex["host"], "api.x.com");
    assert_eq!(ex["request"]["form"]["media_category"], "tweet_image");
    assert_eq!(ex["request"]["files"][0]["name"], "media");
    assert_eq!(ex["request"]["files"][0]["size"], 300_000);
    assert_eq!(
        ex["request"]["headers"]["authorization"],
        "Bearer [redacted]"
    );
    assert_eq!(ex["response"]["status"], 200);
    assert_eq!(ex["response"]["json"]["data"]["id"], up["data"]["id"]);
    assert!(
        all.iter()
            .all(|e| !e["path"].as_str().unwrap().contains("__sandbox")),
        "control calls are not recorded: {v}"
    );
    let other: Value = get("?platform=linkedin").await.json().await.unwrap();
    assert_eq!(other["exchanges"], json!([]));
    assert_eq!(get("?platform=myspace").await.status(), 400);
    let cleared = sb
        .http
        .delete(sb.url("/__sandbox/exchanges"))
        .send()
        .await
        .unwrap();
    assert_eq!(cleared.status(), 204);
    let after: Value = get("").await.json().await.unwrap();
    assert_eq!(after["exchanges"], json!([]));
}
