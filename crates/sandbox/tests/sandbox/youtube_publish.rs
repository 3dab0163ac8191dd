//! YouTube publishing: resumable upload sessions (whole file or 256 KiB chunks, resume query),
//! the video resource created exactly once, metadata errors, the channel-less account, the
//! daily `videos.insert` quota, unaudited apps forced to private, faults, stats and statistics.

use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::{json, Value};
use switchboard_sandbox::SandboxConfig;

use crate::common::*;

const AUTH: &str = "/accounts.google.com/o/oauth2/v2/auth";
const TOKEN: &str = "/oauth2.googleapis.com/token";
const INSERT: &str =
    "/www.googleapis.com/upload/youtube/v3/videos?uploadType=resumable&part=snippet,status";
const VIDEOS: &str = "/www.googleapis.com/youtube/v3/videos";
const UPLOAD: &str = "https://www.googleapis.com/auth/youtube.upload";
const READONLY: &str = "https://www.googleapis.com/auth/youtube.readonly";
const ADA_SUB: &str = "108000000000000000001";
const UNIT: usize = 256 * 1024;

/// An access token of `account` with `scope` (space-separated).
async fn token_for(sb: &TestSandbox, account: &str, scope: &str) -> String {
    let params = [
        ("client_id", "sandbox-youtube-client"),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
        ("scope", scope),
        ("state", "st-yt"),
    ];
    let code = sb.code_for(AUTH, &params, account).await;
    let r = sb
        .http
        .post(sb.url(TOKEN))
        .form(&[
            ("client_id", "sandbox-youtube-client"),
            ("client_secret", "sandbox-youtube-secret"),
            ("grant_type", "authorization_code"),
            ("redirect_uri", REDIRECT),
            ("code", code.as_str()),
        ])
        .send()
        .await
        .unwrap();
    let (s, v) = json_of(r).await;
    assert_eq!(s, 200, "{v}");
    v["access_token"].as_str().unwrap().to_string()
}

fn meta(title: &str, privacy: &str) -> Value {
    json!({
        "snippet": { "title": title, "description": "Crumb and crust", "tags": ["bread"], "categoryId": "26" },
        "status": { "privacyStatus": privacy, "selfDeclaredMadeForKids": false },
    })
}

async fn start_session(
    sb: &TestSandbox,
    token: &str,
    size: usize,
    body: Value,
) -> reqwest::Response {
    sb.http
        .post(sb.url(INSERT))
        .bearer_auth(token)
        .header("x-upload-content-length", size.to_string())
        .header("x-upload-content-type", "video/mp4")
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn session(sb: &TestSandbox, token: &str, size: usize, body: Value) -> String {
    let r = start_session(sb, token, size, body).await;
    assert_eq!(r.status(), 200, "{:?}", r.text().await);
    r.headers()
        .get("location")
        .expect("session URI")
        .to_str()
        .unwrap()
        .to_string()
}

async fn put(
    sb: &TestSandbox,
    uri: &str,
    range: Option<String>,
    bytes: usize,
) -> reqwest::Response {
    let mut rb = sb.http.put(uri).body(vec![1u8; bytes]);
    if let Some(r) = range {
        rb = rb.header("content-range", r);
    }
    rb.send().await.unwrap()
}

fn range_of(r: &reqwest::Response) -> Option<String> {
    r.headers()
        .get("range")
        .map(|v| v.to_str().unwrap().to_string())
}

fn assert_google_error(v: &Value, code: u16, reason: &str) {
    assert_eq!(v["error"]["code"], code, "{v}");
    assert_eq!(v["error"]["errors"][0]["reason"], reason, "{v}");
    assert!(v["error"]["errors"][0]["domain"].is_string(), "{v}");
    assert!(v["error"]["status"].is_string(), "{v}");
    assert!(v["error"]["message"].is_string(), "{v}");
}

async fn published(sb: &TestSandbox) -> Vec<Value> {
    let r = sb
        .http
        .get(sb.url("/__sandbox/published?platform=youtube"))
        .send()
        .await
        .unwrap();
    json_of(r).await.1["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn chunked_resumable_upload_with_resume_queries_creates_one_video() {
    let sb = start().await;
    let token = token_for(&sb, "yt-ada", &format!("openid {UPLOAD} {READONLY}")).await;
    let size = 2 * UNIT + 90_000;
    let uri = session(
        &sb,
        &token,
        size,
        meta("Sourdough, start to finish", "public"),
    )
    .await;
    assert!(
        uri.starts_with(&sb.url("/www.googleapis.com/upload/youtube/v3/videos?")),
        "{uri}"
    );
    assert!(uri.contains("upload_id="), "{uri}");

    // Nothing received yet: 308 without a Range.
    let r = put(&sb, &uri, Some(format!("bytes */{size}")), 0).await;
    assert_eq!(r.status().as_u16(), 308);
    assert_eq!(range_of(&r), None);

    let r = put(
        &sb,
        &uri,
        Some(format!("bytes 0-{}/{size}", UNIT - 1)),
        UNIT,
    )
    .await;
    assert_eq!(r.status().as_u16(), 308);
    assert_eq!(range_of(&r).as_deref(), Some("bytes=0-262143"));
    // Resume query after an interruption reports the same.
    let r = put(&sb, &uri, Some(format!("bytes */{size}")), 0).await;
    assert_eq!(r.status().as_u16(), 308);
    assert_eq!(range_of(&r).as_deref(), Some("bytes=0-262143"));

    // A chunk that is not a multiple of 256 KiB (and not the last), or that skips bytes.
    let (s, v) = json_of(
        put(
            &sb,
            &uri,
            Some(format!("bytes {UNIT}-{}/{size}", UNIT + 999)),
            1000,
        )
        .await,
    )
    .await;
    assert_eq!(s, 400);
    assert_google_error(&v, 400, "badRequest");
    let from = 2 * UNIT;
    let (s, _) = json_of(
        put(
            &sb,
            &uri,
            Some(format!("bytes {from}-{}/{size}", size - 1)),
            size - from,
        )
        .await,
    )
    .await;
    assert_eq!(s, 400);
    assert!(published(&sb).await.is_empty());

    let r = put(
        &sb,
        &uri,
        Some(format!("bytes {UNIT}-{}/{size}", 2 * UNIT - 1)),
        UNIT,
    )
    .await;
    assert_eq!(r.status().as_u16(), 308);
    assert_eq!(range_of(&r), Some(format!("bytes=0-{}", 2 * UNIT - 1)));
    let (s, video) = json_of(
        put(
            &sb,
            &uri,
            Some(format!("bytes {from}-{}/{size}", size - 1)),
            size - from,
        )
        .await,
    )
    .await;
    assert_eq!(s, 201, "{video}");
    assert_eq!(video["kind"], "youtube#video");
    assert_eq!(video["status"]["uploadStatus"], "uploaded");
    assert_eq!(video["status"]["privacyStatus"], "public");
    assert_eq!(video["snippet"]["title"], "Sourdough, start to finish");
    assert_eq!(video["snippet"]["channelId"], "UCsandboxAdaLovelace0001");
    let id = video["id"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 11);

    // Asking again after completion returns the same video, and creates nothing.
    let (s, again) = json_of(put(&sb, &uri, Some(format!("bytes */{size}")), 0).await).await;
    assert_eq!(s, 200);
    assert_eq!(again["id"], id.as_str());
    let items = published(&sb).await;
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0]["id"], id.as_str());
    assert_eq!(items[0]["account_id"], ADA_SUB);
    assert_eq!(items[0]["kind"], "video");
    let stats = sb.stats("youtube").await;
    assert_eq!(stats["published"], 1, "{stats}");
    assert_eq!(stats["published_by_account"][ADA_SUB], 1, "{stats}");

    // Statistics are strings and grow with the clock.
    let list = format!("{VIDEOS}?part=statistics,status&id={id},nosuchvideo1");
    let (s, first) = sb.get_bearer(&list, &token).await;
    assert_eq!(s, 200, "{first}");
    assert_eq!(first["kind"], "youtube#videoListResponse");
    assert_eq!(first["items"].as_array().unwrap().len(), 1, "{first}");
    let r = sb
        .http
        .post(sb.url("/__sandbox/clock"))
        .json(&json!({ "advance_secs": 3600 }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Access tokens last an hour: a fresh one reads the later figures.
    let token = token_for(&sb, "yt-ada", READONLY).await;
    let (_, later) = sb.get_bearer(&list, &token).await;
    let (_, same) = sb.get_bearer(&list, &token).await;
    assert_eq!(later, same, "deterministic");
    for k in ["viewCount", "likeCount", "commentCount"] {
        let a: u64 = first["items"][0]["statistics"][k]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        let b: u64 = later["items"][0]["statistics"][k]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(b > a, "{k}: {a} -> {b}");
    }
    assert_eq!(sb.stats("youtube").await["metrics_calls"], 3);
}

#[tokio::test]
async fn whole_file_upload_and_unaudited_apps_are_forced_private() {
    let sb = start().await;
    let token = token_for(&sb, "yt-ada", UPLOAD).await;
    let uri = session(&sb, &token, 1234, meta("Whole", "unlisted")).await;
    let (s, v) = json_of(put(&sb, &uri, None, 1234).await).await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["status"]["privacyStatus"], "unlisted");
    // A list needs a read scope.
    let (s, v) = sb
        .get_bearer(
            &format!("{VIDEOS}?part=statistics&id={}", v["id"].as_str().unwrap()),
            &token,
        )
        .await;
    assert_eq!(s, 403);
    assert_google_error(&v, 403, "insufficientPermissions");

    let sb = start_with(SandboxConfig {
        unaudited_apps: BTreeSet::from(["youtube".to_string()]),
        ..SandboxConfig::default()
    })
    .await;
    let token = token_for(&sb, "yt-ada", &format!("{UPLOAD} {READONLY}")).await;
    let uri = session(&sb, &token, 1234, meta("Asked public", "public")).await;
    let (s, v) = json_of(put(&sb, &uri, None, 1234).await).await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["status"]["privacyStatus"], "private");
    let id = v["id"].as_str().unwrap().to_string();
    // The owner sees the private video; nobody else does.
    let (_, mine) = sb
        .get_bearer(&format!("{VIDEOS}?part=status&id={id}"), &token)
        .await;
    assert_eq!(
        mine["items"][0]["status"]["privacyStatus"], "private",
        "{mine}"
    );
    let other = token_for(&sb, "yt-nochannel", READONLY).await;
    let (s, theirs) = sb
        .get_bearer(&format!("{VIDEOS}?part=status&id={id}"), &other)
        .await;
    assert_eq!(s, 200);
    assert_eq!(theirs["items"], json!([]), "{theirs}");
}

#[tokio::test]
async fn metadata_channel_scope_and_token_errors() {
    let sb = start().await;
    let token = token_for(&sb, "yt-ada", UPLOAD).await;
    for bad in [
        meta(&"t".repeat(101), "public"),
        meta("Fish <script>", "public"),
        meta("", "public"),
    ] {
        let (s, v) = json_of(start_session(&sb, &token, 100, bad).await).await;
        assert_eq!(s, 400);
        assert_google_error(&v, 400, "invalidTitle");
    }
    let (s, _) =
        json_of(start_session(&sb, &token, 100, meta(&"é".repeat(100), "public")).await).await;
    assert_eq!(s, 200, "100 characters are allowed");
    let mut long = meta("Fine", "public");
    long["snippet"]["description"] = json!("é".repeat(2501)); // 5,002 bytes
    let (s, v) = json_of(start_session(&sb, &token, 100, long).await).await;
    assert_eq!(s, 400);
    assert_google_error(&v, 400, "invalidDescription");
    let (s, v) = json_of(start_session(&sb, &token, 100, meta("Fine", "everyone")).await).await;
    assert_eq!(s, 400);
    assert_google_error(&v, 400, "invalidVideoMetadata");

    let nochannel = token_for(&sb, "yt-nochannel", UPLOAD).await;
    let (s, v) = json_of(start_session(&sb, &nochannel, 100, meta("Fine", "public")).await).await;
    assert_eq!(s, 401);
    assert_google_error(&v, 401, "youtubeSignupRequired");

    let readonly = token_for(&sb, "yt-ada", READONLY).await;
    let (s, v) = json_of(start_session(&sb, &readonly, 100, meta("Fine", "public")).await).await;
    assert_eq!(s, 403);
    assert_google_error(&v, 403, "insufficientPermissions");
    let (s, v) =
        json_of(start_session(&sb, "sbx-youtube-at-nope", 100, meta("Fine", "public")).await).await;
    assert_eq!(s, 401);
    assert_google_error(&v, 401, "authError");

    // An unknown session.
    let r = put(
        &sb,
        &sb.url("/www.googleapis.com/upload/youtube/v3/videos?uploadType=resumable&upload_id=nope"),
        None,
        10,
    )
    .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    // A session lasts a week.
    let uri = session(&sb, &token, 100, meta("Late", "public")).await;
    sb.advance(7 * 86_400);
    assert_eq!(
        put(&sb, &uri, None, 100).await.status(),
        StatusCode::NOT_FOUND
    );
    assert!(published(&sb).await.is_empty());
}

#[tokio::test]
async fn videos_insert_is_limited_per_day() {
    let sb = start().await;
    let token = token_for(&sb, "yt-ada", UPLOAD).await;
    for i in 0..100 {
        let r = start_session(&sb, &token, 10, meta("Daily", "private")).await;
        assert_eq!(r.status(), 200, "insert {i}");
    }
    let (s, v) = json_of(start_session(&sb, &token, 10, meta("Daily", "private")).await).await;
    assert_eq!(s, 403);
    assert_google_error(&v, 403, "quotaExceeded");
    assert_eq!(v["error"]["errors"][0]["domain"], "youtube.quota");
    sb.advance(86_400);
    let token = token_for(&sb, "yt-ada", UPLOAD).await;
    let r = start_session(&sb, &token, 10, meta("Next day", "private")).await;
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn faults_on_publish_and_upload_publish_nothing() {
    let sb = start().await;
    let token = token_for(&sb, "yt-ada", UPLOAD).await;
    sb.fault(json!({ "platform": "youtube", "endpoint": "publish", "status": 503,
        "body": "{\"error\":{\"code\":503,\"message\":\"Backend Error\",\"errors\":[{\"domain\":\"global\",\"reason\":\"backendError\"}],\"status\":\"UNAVAILABLE\"}}" }))
        .await;
    let (s, v) = json_of(start_session(&sb, &token, 100, meta("Fault", "public")).await).await;
    assert_eq!(s, 503);
    assert_google_error(&v, 503, "backendError");
    let uri = session(&sb, &token, 100, meta("Fault", "public")).await;
    sb.fault(json!({ "platform": "youtube", "endpoint": "upload", "status": 500, "body": "" }))
        .await;
    assert_eq!(put(&sb, &uri, None, 100).await.status(), 500);
    // Nothing was received: the resume query says so, and the upload then completes once.
    let r = put(&sb, &uri, Some("bytes */100".into()), 0).await;
    assert_eq!(r.status().as_u16(), 308);
    assert_eq!(range_of(&r), None);
    assert_eq!(put(&sb, &uri, None, 100).await.status(), 201);
    let stats = sb.stats("youtube").await;
    assert_eq!(stats["published"], 1, "{stats}");
    assert_eq!(stats["faults_served"], 2, "{stats}");
}
