//! TikTok publishing: creator info, video init (file upload in ordered chunks, pull from URL),
//! photo posts, status polling to PUBLISH_COMPLETE exactly once, privacy and unaudited-app
//! rules, the init rate limit, faults, stats and the video query metrics.

use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::{json, Value};
use switchboard_sandbox::SandboxConfig;

use crate::common::*;

const AUTH: &str = "/www.tiktok.com/v2/auth/authorize/";
const TOKEN: &str = "/open.tiktokapis.com/v2/oauth/token/";
const CREATOR_INFO: &str = "/open.tiktokapis.com/v2/post/publish/creator_info/query/";
const VIDEO_INIT: &str = "/open.tiktokapis.com/v2/post/publish/video/init/";
const CONTENT_INIT: &str = "/open.tiktokapis.com/v2/post/publish/content/init/";
const STATUS: &str = "/open.tiktokapis.com/v2/post/publish/status/fetch/";
const QUERY: &str = "/open.tiktokapis.com/v2/video/query/?fields=id,view_count,like_count,comment_count,share_count";
const SCOPES: &str = "user.info.basic,video.publish,video.list";
const ADA_UNION: &str = "sbx-union-ada-0001";
const MIB: u64 = 1024 * 1024;

/// An access token of `account` with `scope`.
async fn token_for(sb: &TestSandbox, account: &str, scope: &str) -> String {
    let (verifier, challenge) = pkce();
    let params = [
        ("client_key", "sandbox-tiktok-client"),
        ("response_type", "code"),
        ("scope", scope),
        ("redirect_uri", REDIRECT),
        ("state", "st-tt"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let code = sb.code_for(AUTH, &params, account).await;
    let r = sb
        .http
        .post(sb.url(TOKEN))
        .form(&[
            ("client_key", "sandbox-tiktok-client"),
            ("client_secret", "sandbox-tiktok-secret"),
            ("code", code.as_str()),
            ("grant_type", "authorization_code"),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier.as_str()),
        ])
        .send()
        .await
        .unwrap();
    let (s, v) = json_of(r).await;
    assert_eq!(s, 200, "{v}");
    v["access_token"].as_str().unwrap().to_string()
}

async fn api(sb: &TestSandbox, token: &str, path: &str, body: Value) -> (StatusCode, Value) {
    let r = sb
        .http
        .post(sb.url(path))
        .bearer_auth(token)
        .header("content-type", "application/json; charset=UTF-8")
        .json(&body)
        .send()
        .await
        .unwrap();
    json_of(r).await
}

fn assert_api_error(v: &Value, code: &str) {
    assert_eq!(v["error"]["code"], code, "{v}");
    assert!(v["error"]["message"].is_string(), "{v}");
    assert!(v["error"]["log_id"].is_string(), "{v}");
    assert_eq!(v["data"], json!({}), "{v}");
}

fn file_init(privacy: &str, size: u64, chunk: u64, count: u64) -> Value {
    json!({
        "post_info": { "title": "Sourdough timelapse #bread", "privacy_level": privacy,
            "disable_comment": false, "disable_duet": false, "disable_stitch": true },
        "source_info": { "source": "FILE_UPLOAD", "video_size": size, "chunk_size": chunk,
            "total_chunk_count": count },
    })
}

async fn init_ok(sb: &TestSandbox, token: &str, body: Value) -> Value {
    let (s, v) = api(sb, token, VIDEO_INIT, body).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["error"]["code"], "ok", "{v}");
    v["data"].clone()
}

async fn put_chunk(sb: &TestSandbox, url: &str, from: u64, to: u64, total: u64) -> StatusCode {
    sb.http
        .put(url)
        .header("content-type", "video/mp4")
        .header("content-range", format!("bytes {from}-{to}/{total}"))
        .body(vec![7u8; (to - from + 1) as usize])
        .send()
        .await
        .unwrap()
        .status()
}

async fn status(sb: &TestSandbox, token: &str, publish_id: &str) -> Value {
    let (s, v) = api(sb, token, STATUS, json!({ "publish_id": publish_id })).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["error"]["code"], "ok", "{v}");
    v["data"].clone()
}

async fn published(sb: &TestSandbox) -> Vec<Value> {
    let r = sb
        .http
        .get(sb.url("/__sandbox/published?platform=tiktok"))
        .send()
        .await
        .unwrap();
    json_of(r).await.1["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn chunked_upload_in_order_then_publish_complete_exactly_once() {
    let sb = start().await;
    let token = token_for(&sb, "tt-ada", SCOPES).await;
    let (s, info) = api(&sb, &token, CREATOR_INFO, json!({})).await;
    assert_eq!(s, 200, "{info}");
    let level = info["data"]["privacy_level_options"][0]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(level, "PUBLIC_TO_EVERYONE");

    // 10 MiB + 123 bytes in 5 MiB chunks: two chunks, the last one takes the remainder.
    let size = 10 * MIB + 123;
    let data = init_ok(&sb, &token, file_init(&level, size, 5 * MIB, 2)).await;
    let publish_id = data["publish_id"].as_str().unwrap().to_string();
    let url = data["upload_url"].as_str().unwrap().to_string();
    assert!(
        url.starts_with(&sb.url("/open-upload.tiktokapis.com/video/?upload_id=")),
        "{url}"
    );
    assert_eq!(
        status(&sb, &token, &publish_id).await["status"],
        "PROCESSING_UPLOAD"
    );

    // Out of order: the second chunk first.
    assert_eq!(put_chunk(&sb, &url, 5 * MIB, size - 1, size).await, 416);
    assert_eq!(put_chunk(&sb, &url, 0, 5 * MIB - 1, size).await, 206);
    let st = status(&sb, &token, &publish_id).await;
    assert_eq!(st["status"], "PROCESSING_UPLOAD");
    assert_eq!(st["uploaded_bytes"], 5 * MIB);
    // The same chunk again is not the next one.
    assert_eq!(put_chunk(&sb, &url, 0, 5 * MIB - 1, size).await, 416);
    // A body shorter than its Content-Range.
    let r = sb
        .http
        .put(&url)
        .header("content-type", "video/mp4")
        .header(
            "content-range",
            format!("bytes {}-{}/{size}", 5 * MIB, size - 1),
        )
        .body(vec![0u8; 10])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(put_chunk(&sb, &url, 5 * MIB, size - 1, size).await, 201);
    let st = status(&sb, &token, &publish_id).await;
    assert_eq!(st["status"], "PROCESSING_UPLOAD", "still processing: {st}");
    assert_eq!(st["uploaded_bytes"], size);
    assert!(published(&sb).await.is_empty());

    sb.advance(11);
    let st = status(&sb, &token, &publish_id).await;
    assert_eq!(st["status"], "PUBLISH_COMPLETE", "{st}");
    let post_id = st["publicaly_available_post_id"][0]
        .as_u64()
        .expect("post id");
    // Polling again reports the same post and publishes nothing more.
    let again = status(&sb, &token, &publish_id).await;
    assert_eq!(again["publicaly_available_post_id"], json!([post_id]));
    let items = published(&sb).await;
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0]["id"], post_id.to_string());
    assert_eq!(items[0]["account_id"], ADA_UNION);
    assert_eq!(items[0]["kind"], "video");
    assert_eq!(items[0]["text"], "Sourdough timelapse #bread");
    let stats = sb.stats("tiktok").await;
    assert_eq!(stats["published"], 1, "{stats}");
    assert_eq!(stats["published_by_account"][ADA_UNION], 1, "{stats}");

    // Metrics grow after the clock moves.
    let query = json!({ "filters": { "video_ids": [post_id.to_string(), "7999999999999999999"] } });
    let (s, first) = api(&sb, &token, QUERY, query.clone()).await;
    assert_eq!(s, 200, "{first}");
    let videos = first["data"]["videos"].as_array().unwrap();
    assert_eq!(
        videos.len(),
        1,
        "only the caller's published videos: {first}"
    );
    assert_eq!(videos[0]["id"], post_id.to_string());
    let r = sb
        .http
        .post(sb.url("/__sandbox/clock"))
        .json(&json!({ "advance_secs": 3600 }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (_, later) = api(&sb, &token, QUERY, query.clone()).await;
    let (_, same) = api(&sb, &token, QUERY, query).await;
    assert_eq!(later["data"], same["data"], "deterministic");
    for k in ["view_count", "like_count", "comment_count", "share_count"] {
        let (a, b) = (
            first["data"]["videos"][0][k].as_u64().unwrap(),
            later["data"]["videos"][0][k].as_u64().unwrap(),
        );
        assert!(b > a, "{k}: {a} -> {b}");
    }
    assert_eq!(sb.stats("tiktok").await["metrics_calls"], 3);
}

#[tokio::test]
async fn chunk_plans_follow_the_media_transfer_rules() {
    let sb = start().await;
    let token = token_for(&sb, "tt-ada", SCOPES).await;
    // A small video is one chunk of its own size.
    let data = init_ok(&sb, &token, file_init("SELF_ONLY", 1000, 1000, 1)).await;
    let url = data["upload_url"].as_str().unwrap().to_string();
    let r = sb
        .http
        .put(&url)
        .header("content-type", "image/png")
        .header("content-range", "bytes 0-999/1000")
        .body(vec![0u8; 1000])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "a video content type is required");
    assert_eq!(put_chunk(&sb, &url, 0, 999, 1001).await, 400, "wrong total");
    assert_eq!(put_chunk(&sb, &url, 0, 999, 1000).await, 201);
    assert_eq!(
        put_chunk(&sb, &url, 0, 999, 1000).await,
        416,
        "nothing more to send"
    );
    let r = sb
        .http
        .put(sb.url("/open-upload.tiktokapis.com/video/?upload_id=nope&upload_token=x"))
        .header("content-type", "video/mp4")
        .header("content-range", "bytes 0-9/10")
        .body(vec![0u8; 10])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    let bad_plans = [
        (1000, 500, 2),              // small videos are not split
        (20 * MIB, 4 * MIB, 5),      // chunk under 5 MiB
        (200 * MIB, 65 * MIB, 3),    // chunk over 64 MiB
        (20 * MIB, 5 * MIB, 3),      // count is not size / chunk
        (200 * MIB, 5 * MIB + 1, 1), // count 1 leaves a last chunk over 128 MiB
        (0, 0, 1),                   // empty
    ];
    for (size, chunk, count) in bad_plans {
        let (s, v) = api(
            &sb,
            &token,
            VIDEO_INIT,
            file_init("SELF_ONLY", size, chunk, count),
        )
        .await;
        assert_eq!(s, 400, "{size}/{chunk}/{count}: {v}");
        assert_api_error(&v, "invalid_params");
        sb.advance(61); // stay under the init rate limit
    }
    // 20 MiB in 6 MiB chunks: 3 chunks, the last 8 MiB.
    init_ok(&sb, &token, file_init("SELF_ONLY", 20 * MIB, 6 * MIB, 3)).await;

    // An upload URL lasts an hour.
    let data = init_ok(&sb, &token, file_init("SELF_ONLY", 1000, 1000, 1)).await;
    let url = data["upload_url"].as_str().unwrap().to_string();
    sb.advance(3601);
    assert_eq!(put_chunk(&sb, &url, 0, 999, 1000).await, 403);
}

#[tokio::test]
async fn privacy_levels_scopes_and_the_init_rate_limit() {
    let sb = start().await;
    let private = token_for(&sb, "tt-private", SCOPES).await;
    let (s, v) = api(
        &sb,
        &private,
        VIDEO_INIT,
        file_init("PUBLIC_TO_EVERYONE", 1000, 1000, 1),
    )
    .await;
    assert_eq!(s, 400);
    assert_api_error(&v, "privacy_level_option_mismatch");
    init_ok(
        &sb,
        &private,
        file_init("FOLLOWER_OF_CREATOR", 1000, 1000, 1),
    )
    .await;

    let no_publish = token_for(&sb, "tt-ada", "user.info.basic").await;
    let (s, v) = api(
        &sb,
        &no_publish,
        VIDEO_INIT,
        file_init("SELF_ONLY", 1000, 1000, 1),
    )
    .await;
    assert_eq!(s, 401);
    assert_api_error(&v, "scope_not_authorized");
    let (s, v) = api(
        &sb,
        "sbx-tiktok-at-nope",
        VIDEO_INIT,
        file_init("SELF_ONLY", 1000, 1000, 1),
    )
    .await;
    assert_eq!(s, 401);
    assert_api_error(&v, "access_token_invalid");

    // Six init requests per minute per token; the seventh is refused until the minute passes.
    let token = token_for(&sb, "tt-ada", SCOPES).await;
    for _ in 0..6 {
        init_ok(&sb, &token, file_init("SELF_ONLY", 1000, 1000, 1)).await;
    }
    let (s, v) = api(
        &sb,
        &token,
        VIDEO_INIT,
        file_init("SELF_ONLY", 1000, 1000, 1),
    )
    .await;
    assert_eq!(s, 429);
    assert_api_error(&v, "rate_limit_exceeded");
    // Another token of another user is not affected.
    init_ok(&sb, &private, file_init("SELF_ONLY", 1000, 1000, 1)).await;
    sb.advance(61);
    init_ok(&sb, &token, file_init("SELF_ONLY", 1000, 1000, 1)).await;
}

#[tokio::test]
async fn unaudited_apps_post_self_only_to_private_accounts() {
    let sb = start_with(SandboxConfig {
        unaudited_apps: BTreeSet::from(["tiktok".to_string()]),
        ..SandboxConfig::default()
    })
    .await;
    let ada = token_for(&sb, "tt-ada", SCOPES).await;
    let (_, info) = api(&sb, &ada, CREATOR_INFO, json!({})).await;
    assert_eq!(info["data"]["privacy_level_options"], json!(["SELF_ONLY"]));
    let (s, v) = api(&sb, &ada, VIDEO_INIT, file_init("SELF_ONLY", 1000, 1000, 1)).await;
    assert_eq!(s, 403);
    assert_api_error(&v, "unaudited_client_can_only_post_to_private_accounts");

    let private = token_for(&sb, "tt-private", SCOPES).await;
    let (s, v) = api(
        &sb,
        &private,
        VIDEO_INIT,
        file_init("FOLLOWER_OF_CREATOR", 1000, 1000, 1),
    )
    .await;
    assert_eq!(s, 400);
    assert_api_error(&v, "privacy_level_option_mismatch");
    init_ok(&sb, &private, file_init("SELF_ONLY", 1000, 1000, 1)).await;
}

#[tokio::test]
async fn pulled_videos_and_photos_download_then_publish_or_fail() {
    // The app's verified URL properties: a domain (subdomains included) and a URL prefix.
    let sb = start_with(SandboxConfig {
        tiktok_verified_domains: vec!["example.com".into(), "https://cdn.example.org/tt/".into()],
        ..SandboxConfig::default()
    })
    .await;
    let token = token_for(&sb, "tt-ada", SCOPES).await;
    let pull = |url: &str| {
        json!({
            "post_info": { "title": "Pulled", "privacy_level": "SELF_ONLY" },
            "source_info": { "source": "PULL_FROM_URL", "video_url": url },
        })
    };
    // TikTok pulls only from verified domains and URL prefixes (media transfer guide). (Another
    // token: each has 6 inits a minute.)
    let other = token_for(&sb, "tt-ada", SCOPES).await;
    for unverified in [
        "https://media.example.net/v/loaf.mp4",
        "https://cdn.example.org/other/loaf.mp4",
        "http://media.example.com/v/loaf.mp4",
    ] {
        let (s, v) = api(&sb, &other, VIDEO_INIT, pull(unverified)).await;
        assert_eq!(s, 403, "{unverified}: {v}");
        assert_api_error(&v, "url_ownership_unverified");
    }
    init_ok(&sb, &other, pull("https://cdn.example.org/tt/loaf.mp4")).await;
    // Branded content cannot be private.
    let mut branded = pull("https://media.example.com/v/loaf.mp4");
    branded["post_info"]["brand_content_toggle"] = json!(true);
    let (s, v) = api(&sb, &other, VIDEO_INIT, branded).await;
    assert_eq!(s, 400, "{v}");
    assert_api_error(&v, "invalid_params");
    let good = init_ok(&sb, &token, pull("https://media.example.com/v/loaf.mp4")).await;
    let good = good["publish_id"].as_str().unwrap().to_string();
    let bad = init_ok(
        &sb,
        &token,
        pull("https://media.example.com/v/sandbox-bad-media.mp4"),
    )
    .await;
    let bad = bad["publish_id"].as_str().unwrap().to_string();
    assert!(status(&sb, &token, &good).await.get("upload_url").is_none());
    assert_eq!(
        status(&sb, &token, &good).await["status"],
        "PROCESSING_DOWNLOAD"
    );

    let photo = |post_mode: &str, images: Value| {
        json!({
            "media_type": "PHOTO", "post_mode": post_mode,
            "post_info": { "title": "Crumb shots", "description": "Three loaves", "privacy_level": "PUBLIC_TO_EVERYONE" },
            "source_info": { "source": "PULL_FROM_URL", "photo_images": images, "photo_cover_index": 1 },
        })
    };
    let (s, v) = api(
        &sb,
        &token,
        CONTENT_INIT,
        photo(
            "DIRECT_POST",
            json!([
                "https://m.example.com/a.jpg",
                "https://m.example.com/b.webp"
            ]),
        ),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let photos = v["data"]["publish_id"].as_str().unwrap().to_string();
    let (s, v) = api(
        &sb,
        &token,
        CONTENT_INIT,
        photo(
            "DIRECT_POST",
            json!([
                "https://m.example.com/a.jpg",
                "https://m.example.com/logo.png"
            ]),
        ),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let png = v["data"]["publish_id"].as_str().unwrap().to_string();
    let (s, v) = api(
        &sb,
        &token,
        CONTENT_INIT,
        photo(
            "DIRECT_POST",
            json!([
                "https://m.example.com/a.jpg",
                "https://photos.example.net/b.jpg"
            ]),
        ),
    )
    .await;
    assert_eq!(s, 403, "photos are pulled from verified domains only: {v}");
    assert_api_error(&v, "url_ownership_unverified");
    let (s, v) = api(
        &sb,
        &token,
        CONTENT_INIT,
        photo("DIRECT_POST", json!(["https://m.example.com/a.jpg"])),
    )
    .await;
    assert_eq!(s, 400, "cover index out of range");
    assert_api_error(&v, "invalid_params");
    // Inbox drafts need video.upload, and are not published.
    let (s, v) = api(
        &sb,
        &token,
        CONTENT_INIT,
        photo(
            "MEDIA_UPLOAD",
            json!(["https://m.example.com/a.jpg", "https://m.example.com/b.jpg"]),
        ),
    )
    .await;
    assert_eq!(s, 401);
    assert_api_error(&v, "scope_not_authorized");
    let uploader = token_for(&sb, "tt-ada", "user.info.basic,video.upload").await;
    let (s, v) = api(
        &sb,
        &uploader,
        CONTENT_INIT,
        photo(
            "MEDIA_UPLOAD",
            json!(["https://m.example.com/a.jpg", "https://m.example.com/b.jpg"]),
        ),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let draft = v["data"]["publish_id"].as_str().unwrap().to_string();

    sb.advance(11);
    assert_eq!(
        status(&sb, &token, &good).await["status"],
        "PUBLISH_COMPLETE"
    );
    let failed = status(&sb, &token, &bad).await;
    assert_eq!(failed["status"], "FAILED");
    assert_eq!(failed["fail_reason"], "file_format_check_failed");
    assert_eq!(failed["publicaly_available_post_id"], json!([]));
    assert_eq!(
        status(&sb, &token, &photos).await["status"],
        "PUBLISH_COMPLETE"
    );
    assert_eq!(status(&sb, &token, &png).await["status"], "FAILED");
    assert_eq!(
        status(&sb, &uploader, &draft).await["status"],
        "SEND_TO_USER_INBOX"
    );
    // Another user's publish id is not found.
    let grace = token_for(&sb, "tt-private", SCOPES).await;
    let (s, v) = api(&sb, &grace, STATUS, json!({ "publish_id": good })).await;
    assert_eq!(s, 400);
    assert_api_error(&v, "invalid_params");

    let items = published(&sb).await;
    let kinds: Vec<&str> = items.iter().map(|i| i["kind"].as_str().unwrap()).collect();
    // The video pulled from the verified URL prefix, the good one, the photos.
    assert_eq!(kinds, ["video", "video", "photo"], "{items:?}");
    assert_eq!(items[2]["media"].as_array().unwrap().len(), 2);
    assert_eq!(
        sb.stats("tiktok").await["published_by_account"][ADA_UNION],
        3
    );
}

#[tokio::test]
async fn faults_on_publish_and_upload_publish_nothing() {
    let sb = start().await;
    let token = token_for(&sb, "tt-ada", SCOPES).await;
    sb.fault(json!({ "platform": "tiktok", "endpoint": "publish", "status": 500,
        "body": "{\"data\":{},\"error\":{\"code\":\"internal_error\",\"message\":\"x\",\"log_id\":\"1\"}}" }))
        .await;
    let (s, v) = api(
        &sb,
        &token,
        VIDEO_INIT,
        file_init("SELF_ONLY", 1000, 1000, 1),
    )
    .await;
    assert_eq!(s, 500);
    assert_api_error(&v, "internal_error");
    let data = init_ok(&sb, &token, file_init("SELF_ONLY", 1000, 1000, 1)).await;
    let url = data["upload_url"].as_str().unwrap().to_string();
    sb.fault(json!({ "platform": "tiktok", "endpoint": "upload", "status": 503, "body": "" }))
        .await;
    assert_eq!(put_chunk(&sb, &url, 0, 999, 1000).await, 503);
    // The faulted chunk was not taken: the same chunk goes through next.
    assert_eq!(put_chunk(&sb, &url, 0, 999, 1000).await, 201);
    sb.advance(11);
    let id = data["publish_id"].as_str().unwrap();
    assert_eq!(status(&sb, &token, id).await["status"], "PUBLISH_COMPLETE");
    let stats = sb.stats("tiktok").await;
    assert_eq!(stats["published"], 1, "{stats}");
    assert_eq!(stats["faults_served"], 2, "{stats}");
    assert_eq!(published(&sb).await.len(), 1);
}
