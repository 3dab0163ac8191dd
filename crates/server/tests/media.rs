//! Media by uploaded file end to end: `POST /v1/media` (multipart and raw), the limits and type
//! checks (nothing stored on refusal: no row, no file), metadata, list, delete (409 while a post
//! not yet finished uses it), the signed public URL (bad token 404, `Range`), posts naming
//! `media_id` (resolved, checked by the platform rules, refused when unknown or foreign), a real
//! publish through the sandbox's Instagram and X, and the retention purge.

mod common;

use base64::Engine as _;
use chrono::Duration;
use common::*;
use reqwest::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, RANGE};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use switchboard_server::workers::publish::tick;
use switchboard_server::workers::retention::run_once;

/// A real 1×1 PNG.
fn png() -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=")
        .unwrap()
}

/// A 1×1 baseline JPEG (JFIF).
fn jpeg() -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode("/9j/4AAQSkZJRgABAQEASABIAAD/2wBDAP//////////////////////////////////////////////////////////////////////////////////////wgALCAABAAEBAREA/8QAFBABAAAAAAAAAAAAAAAAAAAAAP/aAAgBAQABPxA=")
        .unwrap()
}

/// A small MP4: an `ftyp` box (brand `isom`) and an `mdat` box of `payload` bytes.
fn mp4(payload: usize) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&24u32.to_be_bytes());
    v.extend_from_slice(b"ftypisom");
    v.extend_from_slice(&0x200u32.to_be_bytes());
    v.extend_from_slice(b"isomiso2");
    v.extend_from_slice(&(8 + payload as u32).to_be_bytes());
    v.extend_from_slice(b"mdat");
    v.extend((0..payload).map(|i| (i % 251) as u8));
    v
}

fn sha256_hex(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

/// `POST /v1/media` with a raw body.
async fn upload_raw(
    app: &TestApp,
    key: &str,
    bytes: Vec<u8>,
    ct: &str,
    query: &str,
) -> (StatusCode, Value) {
    let r = app
        .http
        .post(format!("{}/v1/media{query}", app.api))
        .header(AUTHORIZATION, format!("Bearer {key}"))
        .header(CONTENT_TYPE, ct)
        .body(bytes)
        .send()
        .await
        .unwrap();
    read(r).await
}

/// `POST /v1/media` as `multipart/form-data`, the file in part `field`.
async fn upload_multipart(
    app: &TestApp,
    field: &str,
    bytes: Vec<u8>,
    name: &str,
    ct: &str,
) -> (StatusCode, Value) {
    let form = reqwest::multipart::Form::new()
        .text("note", "ignored")
        .part(
            field.to_string(),
            reqwest::multipart::Part::bytes(bytes)
                .file_name(name.to_string())
                .mime_str(ct)
                .unwrap(),
        );
    let r = app
        .http
        .post(format!("{}/v1/media", app.api))
        .header(AUTHORIZATION, format!("Bearer {}", app.key))
        .multipart(form)
        .send()
        .await
        .unwrap();
    read(r).await
}

/// Uploads and returns the media JSON (201 asserted).
async fn uploaded(app: &TestApp, bytes: Vec<u8>, ct: &str) -> Value {
    let (s, v) = upload_raw(app, &app.key, bytes, ct, "").await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v
}

/// Every entry of the media directory (files and leftovers), sorted.
fn files_in_media_dir(app: &TestApp) -> Vec<String> {
    let dir = app.state.config().media_dir();
    let mut names: Vec<String> = match std::fs::read_dir(&dir) {
        Ok(rd) => rd
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    };
    names.sort();
    names
}

async fn media_count(app: &TestApp) -> usize {
    let (s, v) = app.get("/v1/media").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["data"].as_array().unwrap().len()
}

/// A second workspace and its key.
async fn other_workspace(app: &TestApp) -> String {
    switchboard_server::create_workspace(app.state.store().as_ref(), "Other", app.state.now())
        .await
        .unwrap()
        .1
}

async fn uploads_are_stored_streamed_and_read_back(db: Db) {
    let media_dir = tempfile::tempdir().unwrap();
    let dir = media_dir.path().join("shared-media");
    let app = TestApp::spawn_with(Setup {
        db,
        config: Box::new(move |c| c.media_dir = Some(dir)),
        ..Setup::default()
    })
    .await;
    // Raw body, file name from the query.
    let (s, raw) = upload_raw(&app, &app.key, png(), "image/png", "?filename=dot.png").await;
    assert_eq!(s, StatusCode::CREATED, "{raw}");
    assert_eq!(raw["kind"], "image");
    assert_eq!(raw["content_type"], "image/png");
    assert_eq!(raw["filename"], "dot.png");
    assert_eq!(raw["size_bytes"], png().len());
    assert_eq!(raw["sha256"], sha256_hex(&png()));
    let id = raw["id"].as_str().unwrap().to_string();
    let url = raw["url"].as_str().unwrap().to_string();
    assert!(
        url.starts_with(&format!("{}/media/{id}/", app.api)),
        "{url}"
    );
    // Multipart: file name and type from the part, other parts ignored; an MP4 is a video.
    let video = mp4(40_000);
    let (s, multi) =
        upload_multipart(&app, "file", video.clone(), "../clip.mp4", "video/mp4").await;
    assert_eq!(s, StatusCode::CREATED, "{multi}");
    assert_eq!(multi["kind"], "video");
    assert_eq!(multi["content_type"], "video/mp4");
    assert_eq!(multi["filename"], "clip.mp4", "no directory part kept");
    assert_eq!(multi["size_bytes"], video.len());
    assert_eq!(multi["sha256"], sha256_hex(&video));
    // A GIF declared as octet-stream is recognised by its bytes.
    let gif = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;".to_vec();
    let g = uploaded(&app, gif, "application/octet-stream").await;
    assert_eq!(
        (g["kind"].as_str(), g["content_type"].as_str()),
        (Some("gif"), Some("image/gif"))
    );

    // Read back, newest first; the files are named by id in media_dir, nothing else there.
    let (s, one) = app.get(&format!("/v1/media/{id}")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(one, raw);
    let (_, list) = app.get("/v1/media?limit=2").await;
    let ids: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [g["id"].as_str().unwrap(), multi["id"].as_str().unwrap()]
    );
    let mut expected = vec![
        id.clone(),
        multi["id"].as_str().unwrap().to_string(),
        g["id"].as_str().unwrap().to_string(),
    ];
    expected.sort();
    assert_eq!(files_in_media_dir(&app), expected);
    assert_eq!(
        std::fs::read(
            app.state
                .config()
                .media_dir()
                .join(multi["id"].as_str().unwrap())
        )
        .unwrap(),
        video
    );

    // Another workspace sees none of it.
    let other = other_workspace(&app).await;
    let r = app
        .http
        .get(format!("{}/v1/media/{id}", app.api))
        .header(AUTHORIZATION, format!("Bearer {other}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = app
        .http
        .delete(format!("{}/v1/media/{id}", app.api))
        .header(AUTHORIZATION, format!("Bearer {other}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    // No key, no upload.
    let r = app
        .http
        .post(format!("{}/v1/media", app.api))
        .header(CONTENT_TYPE, "image/png")
        .body(png())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    // Delete removes the row and the file.
    let (s, _) = app.delete(&format!("/v1/media/{id}")).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get(&format!("/v1/media/{id}")).await.0,
        StatusCode::NOT_FOUND
    );
    assert!(!files_in_media_dir(&app).contains(&id));
    assert_eq!(
        app.get(&format!("/v1/media/{id}")).await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn uploads_are_stored_and_read_back_on_sqlite() {
    uploads_are_stored_streamed_and_read_back(Db::Sqlite).await;
}

#[tokio::test]
async fn uploads_are_stored_and_read_back_on_postgres() {
    uploads_are_stored_streamed_and_read_back(Db::Postgres).await;
}

#[tokio::test]
async fn the_media_limit_is_its_own_and_a_too_large_upload_leaves_nothing() {
    let app = TestApp::spawn_with(Setup {
        config: Box::new(|c| {
            c.max_body_bytes = 4096;
            c.media_max_bytes = 64 * 1024;
        }),
        ..Setup::default()
    })
    .await;
    // Larger than max_body_bytes, within media_max_bytes: accepted.
    let fine = mp4(50_000);
    uploaded(&app, fine, "video/mp4").await;
    let before = files_in_media_dir(&app);
    assert_eq!(before.len(), 1);

    // Announced too large: refused before reading, with the limit.
    let (s, v) = upload_raw(&app, &app.key, mp4(100_000), "video/mp4", "").await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE, "{v}");
    assert_eq!(v["type"], "https://switchboard.dev/problems/body-too-large");
    assert_eq!(v["limit_bytes"], 64 * 1024);
    assert!(
        v["detail"]
            .as_str()
            .unwrap()
            .contains("65536 bytes (media_max_bytes)"),
        "{v}"
    );

    // Streamed without a length (chunked): cut off while writing, the partial file removed.
    let big = mp4(100_000);
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        big.chunks(8192).map(|c| Ok(c.to_vec())).collect();
    let r = app
        .http
        .post(format!("{}/v1/media", app.api))
        .header(AUTHORIZATION, format!("Bearer {}", app.key))
        .header(CONTENT_TYPE, "video/mp4")
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await
        .unwrap();
    assert!(r.headers().get(CONTENT_LENGTH).is_some());
    let (s, v) = read(r).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE, "{v}");
    assert_eq!(v["limit_bytes"], 64 * 1024);

    // Multipart too large: same.
    let (s, v) = upload_multipart(&app, "file", mp4(100_000), "big.mp4", "video/mp4").await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE, "{v}");
    assert_eq!(v["field"], "file");

    // Nothing stored: one row, one file, no leftover temporary file.
    assert_eq!(media_count(&app).await, 1);
    assert_eq!(files_in_media_dir(&app), before);

    // Other routes keep max_body_bytes.
    let (s, v) = app
        .post(
            "/v1/posts/validate",
            json!({"content": {"text": "x".repeat(5000)}, "connection_ids": ["c"]}),
        )
        .await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE, "{v}");
    assert_eq!(v["limit_bytes"], 4096);
}

#[tokio::test]
async fn wrong_or_unsupported_types_are_refused_and_leave_nothing() {
    let app = TestApp::spawn().await;
    // Declared PNG, JPEG bytes: 422 naming the field (raw: the body).
    let (s, v) = upload_raw(&app, &app.key, jpeg(), "image/png", "").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["field"], "body");
    assert!(
        v["detail"]
            .as_str()
            .unwrap()
            .contains("declared as image/png but its content is image/jpeg"),
        "{v}"
    );
    // Multipart: the part.
    let (s, v) = upload_multipart(&app, "file", png(), "x.mp4", "video/mp4").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["field"], "file");
    // A large file whose head is wrong is refused without being read to the end.
    let mut fake = b"not a video at all".to_vec();
    fake.resize(300_000, b'x');
    let (s, v) = upload_raw(&app, &app.key, fake, "video/mp4", "").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    // Unsupported types: 415 naming the field.
    let (s, v) = upload_raw(&app, &app.key, b"hello".to_vec(), "text/plain", "").await;
    assert_eq!(s, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{v}");
    assert_eq!(v["field"], "body");
    assert!(
        v["detail"].as_str().unwrap().contains("image/jpeg"),
        "lists what is accepted: {v}"
    );
    // Unknown bytes without a type; an empty file; a multipart body without a `file` part.
    let (s, v) = upload_raw(&app, &app.key, vec![7; 64], "application/octet-stream", "").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (s, v) = upload_raw(&app, &app.key, Vec::new(), "image/png", "").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(v["detail"].as_str().unwrap().contains("empty"), "{v}");
    let (s, v) = upload_multipart(&app, "upload", png(), "dot.png", "image/png").await;
    assert_eq!(
        (s, v["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("file")),
        "{v}"
    );
    // An unknown query parameter is named.
    let (s, v) = upload_raw(&app, &app.key, png(), "image/png", "?name=x.png").await;
    assert_eq!(
        (s, v["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("name")),
        "{v}"
    );

    assert_eq!(media_count(&app).await, 0);
    assert!(
        files_in_media_dir(&app).is_empty(),
        "{:?}",
        files_in_media_dir(&app)
    );
}

#[tokio::test]
async fn the_public_url_needs_its_token_and_serves_ranges() {
    let app = TestApp::spawn().await;
    let video = mp4(10_000);
    let m = uploaded(&app, video.clone(), "video/mp4").await;
    let id = m["id"].as_str().unwrap();
    let url = m["url"].as_str().unwrap();

    // The whole file, without an API key, with its type.
    let r = app.http.get(url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()[CONTENT_TYPE], "video/mp4");
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert_eq!(r.bytes().await.unwrap().to_vec(), video);
    // A range.
    let r = app
        .http
        .get(url)
        .header(RANGE, "bytes=4-11")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        r.headers()[CONTENT_RANGE],
        format!("bytes 4-11/{}", video.len())
    );
    assert_eq!(r.bytes().await.unwrap().to_vec(), b"ftypisom");

    // Bad tokens: changed, truncated, another id's, an unknown key id, none: all 404.
    let token = url.rsplit('/').next().unwrap();
    let other = uploaded(&app, png(), "image/png").await;
    let other_token = other["url"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    let (kid, sig) = token.split_once('.').unwrap();
    let flipped = format!(
        "{kid}.{}{}",
        &sig[..sig.len() - 1],
        if sig.ends_with('A') { 'B' } else { 'A' }
    );
    for bad in [
        flipped,
        format!("{kid}.{}", &sig[..10]),
        other_token,
        format!("nokey.{sig}"),
        "x".to_string(),
    ] {
        let r = app
            .http
            .get(format!("{}/media/{id}/{bad}", app.api))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{bad}");
        let body = r.text().await.unwrap();
        assert!(!body.contains("ftyp"), "no bytes with a bad token");
    }
    let r = app
        .http
        .get(format!("{}/media/{id}", app.api))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = app
        .http
        .get(format!("{}/media/..%2F..%2Fetc%2Fpasswd/{token}", app.api))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // After delete, the good URL is 404 too.
    assert_eq!(
        app.delete(&format!("/v1/media/{id}")).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.http.get(url).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn posts_name_uploads_by_media_id_checked_like_url_media() {
    let app = TestApp::spawn().await;
    let x = app.connect("twitter").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let ig = app.connect("instagram").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let image = uploaded(&app, png(), "image/png").await;
    let image_id = image["id"].as_str().unwrap();

    // Unknown id: 422 on the item's media_id; nothing stored.
    let (s, v) = app
        .post("/v1/posts", json!({"content": {"text": "t", "media": [{"media_id": "00000000-0000-0000-0000-000000000000"}]}, "connection_ids": [x]}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["field"], "content.media[0].media_id");
    // Another workspace's upload is unknown here.
    let other_key = other_workspace(&app).await;
    let (s, foreign) = upload_raw(&app, &other_key, png(), "image/png", "").await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, v) = app
        .post("/v1/posts/validate", json!({"content": {"text": "t", "media": [{"media_id": image_id}, {"media_id": foreign["id"]}]}, "connection_ids": [x]}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["field"], "content.media[1].media_id");
    // Both url and media_id, or neither: 422 on the item.
    let (s, v) = app
        .post("/v1/posts", json!({"content": {"text": "t", "media": [{"media_id": image_id, "url": "https://cdn.example/a.png", "kind": "image"}]}, "connection_ids": [x]}))
        .await;
    assert_eq!(
        (s, v["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("content.media[0]")),
        "{v}"
    );
    let (s, v) = app
        .post(
            "/v1/posts/validate",
            json!({"content": {"text": "t", "media": [{"kind": "image"}]}, "connection_ids": [x]}),
        )
        .await;
    assert_eq!(
        (s, v["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("content.media[0]")),
        "{v}"
    );
    let (_, posts) = app.get("/v1/posts").await;
    assert_eq!(
        posts["data"].as_array().unwrap().len(),
        0,
        "nothing stored: {posts}"
    );

    // The upload's type reaches the platform rules: Instagram takes JPEG images only.
    let (s, v) = app
        .post("/v1/posts/validate", json!({"content": {"text": "t", "media": [{"media_id": image_id}]}, "connection_ids": [x, ig]}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["targets"][0]["valid"], true, "{v}");
    assert_eq!(v["targets"][1]["valid"], false, "{v}");
    assert_eq!(
        v["targets"][1]["violations"][0]["field"], "content.media[0].mime_type",
        "{v}"
    );

    // Stored: the item carries the id, kind, type and size; no URL (signed when publishing).
    let (s, p) = app
        .post("/v1/posts", json!({"content": {"text": "t", "media": [{"media_id": image_id, "alt_text": "a dot"}]}, "connection_ids": [x], "publish_at": "2099-01-01T00:00:00Z"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{p}");
    let item = &p["content"]["media"][0];
    assert_eq!(item["media_id"], image_id);
    assert!(item.get("url").is_none(), "{item}");
    assert_eq!(item["kind"], "image");
    assert_eq!(item["mime_type"], "image/png");
    assert_eq!(item["size_bytes"], png().len());
    assert_eq!(item["alt_text"], "a dot");

    // In use by a scheduled target: 409 naming it; the file stays; after cancel, delete works.
    let (s, v) = app.delete(&format!("/v1/media/{image_id}")).await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["type"], "https://switchboard.dev/problems/media-in-use");
    assert_eq!(v["target_ids"], json!([p["targets"][0]["id"]]));
    assert!(files_in_media_dir(&app).contains(&image_id.to_string()));
    let post_id = p["id"].as_str().unwrap();
    let (s, _) = app
        .post(&format!("/v1/posts/{post_id}/cancel"), json!({}))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        app.delete(&format!("/v1/media/{image_id}")).await.0,
        StatusCode::NO_CONTENT
    );
    assert!(!files_in_media_dir(&app).contains(&image_id.to_string()));
}

#[tokio::test]
async fn uploaded_media_publish_to_instagram_and_x_through_the_sandbox() {
    let app = TestApp::spawn().await;
    let x = app.connect("twitter").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let ig = app.connect("instagram").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let photo = uploaded(&app, jpeg(), "image/jpeg").await;
    let dot = uploaded(&app, png(), "image/png").await;
    let clip = uploaded(&app, mp4(20_000), "video/mp4").await;
    assert_eq!(clip["kind"], "video");
    // The video is acceptable media for an Instagram reel by the rules.
    let (s, v) = app
        .post("/v1/posts/validate", json!({"content": {"text": "reel", "media": [{"media_id": clip["id"]}]}, "connection_ids": [ig]}))
        .await;
    assert_eq!((s, &v["valid"]), (StatusCode::OK, &json!(true)), "{v}");

    let (s, ig_post) = app
        .post("/v1/posts", json!({"content": {"text": "Crumb shot", "media": [{"media_id": photo["id"]}]}, "connection_ids": [ig]}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{ig_post}");
    let (s, x_post) = app
        .post("/v1/posts", json!({"content": {"text": "A dot", "media": [{"media_id": dot["id"]}]}, "connection_ids": [x]}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{x_post}");
    // The MP4 as an X video: read from media_dir, uploaded in chunks, processed.
    let (s, x_video) = app
        .post(
            "/v1/posts",
            json!({"content": {"text": "A clip", "media": [{"media_id": clip["id"]}]}, "connection_ids": [x]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{x_video}");

    let mut ticks = 0;
    loop {
        tick(&app.state).await.unwrap();
        let a = app
            .get(&format!("/v1/posts/{}", ig_post["id"].as_str().unwrap()))
            .await
            .1;
        let b = app
            .get(&format!("/v1/posts/{}", x_post["id"].as_str().unwrap()))
            .await
            .1;
        let c = app
            .get(&format!("/v1/posts/{}", x_video["id"].as_str().unwrap()))
            .await
            .1;
        let done = |p: &Value| {
            p["targets"][0]["status"] == "published" || p["targets"][0]["status"] == "failed"
        };
        if (done(&a) && done(&b) && done(&c)) || ticks > 60 {
            assert_eq!(a["targets"][0]["status"], "published", "{a}");
            assert_eq!(b["targets"][0]["status"], "published", "{b}");
            assert_eq!(c["targets"][0]["status"], "published", "{c}");
            break;
        }
        app.clock.advance(Duration::seconds(5));
        ticks += 1;
    }
    let stats = app.sandbox_stats().await;
    assert_eq!(stats["platforms"]["instagram"]["published"], 1, "{stats}");
    // X received the uploaded bytes (read from media_dir) and published the tweet with them.
    let published: Value = app
        .http
        .get(format!(
            "{}/__sandbox/published?platform=twitter",
            app.sandbox
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let items = published["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{published}");
    let dot_item = items
        .iter()
        .find(|i| i["text"] == "A dot")
        .expect("the image tweet");
    assert_eq!(
        dot_item["media"].as_array().map(Vec::len),
        Some(1),
        "{published}"
    );
    let clip_item = items
        .iter()
        .find(|i| i["text"] == "A clip")
        .expect("the video tweet");
    assert_eq!(
        clip_item["media"].as_array().map(Vec::len),
        Some(1),
        "{published}"
    );
    assert_eq!(clip_item["kind"], "video", "{published}");
    // Published posts do not hold their media: it can be deleted now.
    assert_eq!(
        app.delete(&format!("/v1/media/{}", dot["id"].as_str().unwrap()))
            .await
            .0,
        StatusCode::NO_CONTENT
    );
}

#[tokio::test]
async fn retention_purges_unreferenced_old_media_with_their_files() {
    let app = TestApp::spawn().await;
    let x = app.connect("twitter").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let kept = uploaded(&app, png(), "image/png").await;
    let orphan = uploaded(&app, jpeg(), "image/jpeg").await;
    let (s, p) = app
        .post("/v1/posts", json!({"content": {"text": "t", "media": [{"media_id": kept["id"]}]}, "connection_ids": [x], "publish_at": "2099-01-01T00:00:00Z"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{p}");
    let kept_id = kept["id"].as_str().unwrap().to_string();
    let orphan_id = orphan["id"].as_str().unwrap().to_string();

    // A partial upload left by a crash: fresh, it stays; a day old, it goes.
    let dir = app.state.config().media_dir();
    std::fs::write(dir.join(".upload-fresh"), b"half").unwrap();
    let old = std::fs::File::create(dir.join(".upload-old")).unwrap();
    old.set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(90_000))
        .unwrap();
    drop(old);

    app.clock.advance(Duration::days(29));
    let r = run_once(&app.state).await.unwrap();
    assert_eq!(r.deleted["media"], 0, "{r:?}");
    assert_eq!(r.deleted["media_partial_uploads"], 1, "{r:?}");
    assert!(dir.join(".upload-fresh").exists());
    assert_eq!(r.deleted["media_orphan_files"], 0, "{r:?}");
    std::fs::remove_file(dir.join(".upload-fresh")).unwrap();
    app.clock.advance(Duration::days(2));
    let r = run_once(&app.state).await.unwrap();
    assert_eq!(r.deleted["media"], 1, "{r:?}");
    assert_eq!(
        app.get(&format!("/v1/media/{orphan_id}")).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get(&format!("/v1/media/{kept_id}")).await.0,
        StatusCode::OK
    );
    assert_eq!(files_in_media_dir(&app), vec![kept_id]);
    // Its public URL is gone too.
    let r = app
        .http
        .get(orphan["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

/// The dashboard: the compose page offers the upload (hidden until the script shows it),
/// `POST /posts/media` takes the session's CSRF token and files over `max_body_bytes`, and the
/// compose form schedules a post with the uploaded file's `media_id`.
#[tokio::test]
async fn the_compose_page_uploads_files_and_posts_them_by_media_id() {
    let app = TestApp::spawn_with(Setup {
        config: Box::new(|c| c.max_body_bytes = 4096),
        ..Setup::default()
    })
    .await;
    let x = app.connect("twitter").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = http
        .post(format!("{}/sign-in", app.api))
        .form(&[("api_key", app.key.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let page = http
        .get(format!("{}/posts/new", app.api))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("class=\"field media-file\" hidden"),
        "the upload waits for the script"
    );
    assert!(page.contains("name=\"media_id\""));
    assert!(
        page.contains("type=\"url\""),
        "the URL field stays for pages without script"
    );
    let csrf = page
        .split("name=\"csrf-token\" content=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_string();

    let upload = |token: Option<String>, body: Vec<u8>| {
        let mut req = http
            .post(format!("{}/posts/media?filename=clip.mp4", app.api))
            .header(CONTENT_TYPE, "video/mp4")
            .body(body);
        if let Some(t) = token {
            req = req.header("x-csrf-token", t);
        }
        req.send()
    };
    // Without the CSRF token: refused, nothing stored.
    let r = upload(None, mp4(1000)).await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = upload(Some("forged".into()), mp4(1000)).await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(media_count(&app).await, 0);
    // With it: a 20 kB file while max_body_bytes is 4 kB.
    let (s, m) = read(upload(Some(csrf.clone()), mp4(20_000)).await.unwrap()).await;
    assert_eq!(s, StatusCode::CREATED, "{m}");
    assert_eq!(m["kind"], "video");
    assert_eq!(m["filename"], "clip.mp4");
    // The same checks as the API: a wrong type is a problem naming the field.
    let (s, v) = read(
        http.post(format!("{}/posts/media", app.api))
            .header(CONTENT_TYPE, "image/png")
            .header("x-csrf-token", &csrf)
            .body(jpeg())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (s, v["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("body")),
        "{v}"
    );

    // The compose form with the uploaded file (no URL): scheduled with the file's signed URL.
    let image = uploaded(&app, png(), "image/png").await;
    // The same form is previewed, then scheduled.
    let form = [
        ("csrf", csrf.as_str()),
        ("text", "From the dashboard"),
        ("media_url", ""),
        ("media_kind", "image"),
        ("media_alt", "a dot"),
        ("media_id", image["id"].as_str().unwrap()),
        ("connection_id", x.as_str()),
        ("when", "now"),
        ("time_zone", "UTC"),
    ];
    // Its preview names the upload by id, never by its signed URL's token.
    let r = http
        .post(format!("{}/posts/validate", app.api))
        .form(&form)
        .send()
        .await
        .unwrap();
    let html = r.text().await.unwrap();
    let token = image["url"].as_str().unwrap().rsplit('/').next().unwrap();
    assert!(
        html.contains(&format!("uploaded file {}", image["id"].as_str().unwrap())),
        "{html}"
    );
    assert!(!html.contains(token), "{html}");
    let r = http
        .post(format!("{}/posts", app.api))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert!(
        r.status().is_redirection(),
        "{}: {}",
        r.status(),
        r.text().await.unwrap()
    );
    let (_, posts) = app.get("/v1/posts").await;
    let item = &posts["data"][0]["content"]["media"][0];
    assert_eq!(item["media_id"], image["id"], "{posts}");
    assert!(item.get("url").is_none(), "signed when publishing: {posts}");
    assert_eq!(item["alt_text"], "a dot");
    // An unknown id comes back as a problem on the form, nothing stored.
    let r = http
        .post(format!("{}/posts", app.api))
        .form(&[
            ("csrf", csrf.as_str()),
            ("text", "Nope"),
            ("media_url", ""),
            ("media_kind", "image"),
            ("media_id", "00000000-0000-0000-0000-000000000000"),
            ("connection_id", x.as_str()),
            ("when", "now"),
            ("time_zone", "UTC"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("no uploaded media"));
    let (_, posts) = app.get("/v1/posts").await;
    assert_eq!(posts["data"].as_array().unwrap().len(), 1);
}

/// The API description says a media item takes `url` or `media_id`, and documents the routes.
#[tokio::test]
async fn the_openapi_document_describes_media_by_id() {
    let app = TestApp::spawn().await;
    let (s, doc) = app.get("/openapi.json").await;
    assert_eq!(s, StatusCode::OK);
    let media = &doc["components"]["schemas"]["Media"];
    let required: Vec<&str> = media["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    assert!(!required.contains(&"url"), "{media}");
    assert!(!required.contains(&"kind"), "{media}");
    assert!(media["properties"]["media_id"].is_object(), "{media}");
    for path in ["/v1/media", "/v1/media/{id}", "/media/{id}/{token}"] {
        assert!(doc["paths"][path].is_object(), "{path}");
    }
}

const OLD_KEY: &str = "kold1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const NEW_KEY: &str = "knew2:HxwdHBsaGRgXFhUUExIREA8ODQwLCgkIBwYFBAMCAQA=";

/// Ticks `app`'s dispatcher (moving the clock) until the post's only target is finished;
/// returns `{status, diagnosis}` read from the store (the post may be another instance's
/// workspace's).
async fn publish_until_done(app: &TestApp, post_id: &str) -> Value {
    for _ in 0..60 {
        tick(&app.state).await.unwrap();
        let t = app.state.store().list_targets(post_id).await.unwrap();
        let status = t[0].status.as_str();
        if status == "published" || status == "failed" {
            return json!({"status": status, "diagnosis": t[0].last_error});
        }
        app.clock.advance(Duration::seconds(5));
    }
    panic!("post {post_id} did not finish");
}

/// A post of an uploaded MP4 (an X video: downloaded, chunked upload) due now, stored by
/// `scheduler` (its own API, key and public URL; its dispatcher never runs in tests) for an X
/// connection made there; returns the post id.
async fn schedule_upload_post(scheduler: &TestApp) -> String {
    let x = scheduler.connect("twitter").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let clip = uploaded(scheduler, mp4(20_000), "video/mp4").await;
    let (s, p) = scheduler
        .post("/v1/posts", json!({"content": {"text": "Later", "media": [{"media_id": clip["id"]}]}, "connection_ids": [x]}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{p}");
    p["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_post_scheduled_under_another_public_url_still_publishes() {
    // The publishing instance owns the sandbox; the scheduling one shares its database and
    // media_dir (beside the SQLite file) but has its own public URL, and is gone at publish time.
    let publisher = TestApp::spawn().await;
    let scheduler = TestApp::spawn_with(Setup {
        db: Db::Url(publisher.database_url.clone()),
        sandbox_url: Some((publisher.sandbox.clone(), publisher.clock.clone())),
        ..Setup::default()
    })
    .await;
    assert_ne!(scheduler.api, publisher.api);
    let post_id = schedule_upload_post(&scheduler).await;
    scheduler.stop();
    drop(scheduler);
    let p = publish_until_done(&publisher, &post_id).await;
    assert_eq!(p["status"], "published", "{p}");
}

#[tokio::test]
async fn a_post_scheduled_before_a_key_rotation_still_publishes_after_the_old_key_is_removed() {
    use switchboard_store::maintenance::{rotate_keys, RotateOptions, SealedColumn};
    // Publishes with the new key only; the post was scheduled (and the account connected) by an
    // instance holding the old key only.
    let publisher = TestApp::spawn_with(Setup {
        config: Box::new(|c| c.keys = Some(secrecy::SecretString::from(NEW_KEY.to_string()))),
        ..Setup::default()
    })
    .await;
    let scheduler = TestApp::spawn_with(Setup {
        db: Db::Url(publisher.database_url.clone()),
        sandbox_url: Some((publisher.sandbox.clone(), publisher.clock.clone())),
        config: Box::new(|c| c.keys = Some(secrecy::SecretString::from(OLD_KEY.to_string()))),
        ..Setup::default()
    })
    .await;
    let post_id = schedule_upload_post(&scheduler).await;
    // A URL signed with the old key is refused by the new-key-only instance.
    let clip_id = {
        let (_, p) = scheduler.get(&format!("/v1/posts/{post_id}")).await;
        p["content"]["media"][0]["media_id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (_, old_media) = scheduler.get(&format!("/v1/media/{clip_id}")).await;
    let old_url = old_media["url"]
        .as_str()
        .unwrap()
        .replace(&scheduler.api, &publisher.api);
    assert!(old_url.contains("/kold1."), "{old_url}");
    assert_eq!(
        publisher.http.get(&old_url).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    // Rotation: the connection's tokens re-sealed with the new key, the old key removed.
    let both =
        switchboard_vault::Keyring::parse(&format!("{OLD_KEY},{NEW_KEY}"), Some("knew2")).unwrap();
    let report = rotate_keys(
        publisher.state.store().as_ref(),
        "knew2",
        RotateOptions::default(),
        |row| {
            let ctx = match row.column {
                SealedColumn::ConnectionAccessToken => {
                    switchboard_server::vaulted::access_context(&row.id)
                }
                SealedColumn::ConnectionRefreshToken => {
                    switchboard_server::vaulted::refresh_context(&row.id)
                }
                SealedColumn::OAuthStateCodeVerifier => {
                    switchboard_server::vaulted::verifier_context(&row.id)
                }
                other => panic!("unexpected sealed column {other:?}"),
            };
            both.reseal(&ctx, &row.sealed)
                .map(|r| r.unwrap_or_else(|| row.sealed.clone()))
                .map_err(|e| e.to_string())
        },
        |_| {},
    )
    .await
    .unwrap();
    assert_eq!(report.failed(), 0, "{report:?}");
    scheduler.stop();
    drop(scheduler);
    let p = publish_until_done(&publisher, &post_id).await;
    assert_eq!(p["status"], "published", "{p}");
}

#[tokio::test]
async fn an_upload_gone_before_publishing_fails_the_target_with_its_diagnosis() {
    let app = TestApp::spawn().await;
    let x = app.connect("twitter").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let dot = uploaded(&app, png(), "image/png").await;
    let id = dot["id"].as_str().unwrap().to_string();
    let (s, p) = app
        .post("/v1/posts", json!({"content": {"text": "A dot", "media": [{"media_id": id}]}, "connection_ids": [x]}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{p}");
    let post_id = p["id"].as_str().unwrap().to_string();
    let expected = format!("the uploaded file {id} no longer exists; upload it again");

    // The file lost from media_dir (its row still there): failed, once, with the diagnosis.
    std::fs::remove_file(app.state.config().media_dir().join(&id)).unwrap();
    let p = publish_until_done(&app, &post_id).await;
    assert_eq!(p["status"], "failed", "{p}");
    assert_eq!(p["diagnosis"]["cause"], expected, "{p}");
    assert_eq!(p["diagnosis"]["retryable"], false, "{p}");

    // The row deleted too (allowed: no unfinished target uses it), then retried: the same.
    assert_eq!(
        app.delete(&format!("/v1/media/{id}")).await.0,
        StatusCode::NO_CONTENT
    );
    let (s, v) = app
        .post(&format!("/v1/posts/{post_id}/retry"), json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let p = publish_until_done(&app, &post_id).await;
    assert_eq!(p["status"], "failed", "{p}");
    assert_eq!(p["diagnosis"]["cause"], expected, "{p}");
    let stats = app.sandbox_stats().await;
    assert_eq!(stats["platforms"]["twitter"]["published"], 0, "{stats}");
}

#[tokio::test]
async fn retention_removes_day_old_files_without_a_row_and_nothing_else() {
    let app = TestApp::spawn().await;
    let kept = uploaded(&app, png(), "image/png").await;
    let kept_id = kept["id"].as_str().unwrap().to_string();
    let dir = app.state.config().media_dir();
    let aged = |name: &str, secs: u64| {
        let f = std::fs::File::create(dir.join(name)).unwrap();
        f.set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(secs))
            .unwrap();
    };
    // A crash between the rename into media_dir and the row insert: a file named by a media id
    // with no row. A day old it goes; a fresh one (an upload finishing now) stays.
    let orphan = uuid::Uuid::now_v7().to_string();
    let fresh = uuid::Uuid::now_v7().to_string();
    aged(&orphan, 90_000);
    aged(&fresh, 60);
    // The stored upload made old by its file time stays: it has its row.
    let f = std::fs::File::options()
        .write(true)
        .open(dir.join(&kept_id))
        .unwrap();
    f.set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(90_000))
        .unwrap();
    drop(f);
    // Not a media id: never touched, however old.
    aged("notes.txt", 90_000);

    let r = run_once(&app.state).await.unwrap();
    assert_eq!(r.deleted["media_orphan_files"], 1, "{r:?}");
    let mut expected = vec![fresh.clone(), kept_id.clone(), "notes.txt".to_string()];
    expected.sort();
    assert_eq!(files_in_media_dir(&app), expected);
    // The kept upload is still served whole.
    let r = app
        .http
        .get(kept["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.bytes().await.unwrap().to_vec(), png());
}

#[tokio::test]
async fn uploads_publish_to_x_when_the_own_public_url_is_unreachable() {
    // Behind a load balancer an instance often cannot reach its own public URL: push-upload
    // publishers read an upload from `media_dir`, not over HTTP. The publishing instance's
    // public URL is port 9 (discard), where nothing listens, so any fetch of a signed URL fails.
    // The scheduling instance (a reachable public URL, for the OAuth callback) shares its
    // database and media_dir, and is gone at publish time.
    let publisher = TestApp::spawn_with(Setup {
        config: Box::new(|c| c.public_url = "http://127.0.0.1:9".to_string()),
        ..Setup::default()
    })
    .await;
    let scheduler = TestApp::spawn_with(Setup {
        db: Db::Url(publisher.database_url.clone()),
        sandbox_url: Some((publisher.sandbox.clone(), publisher.clock.clone())),
        ..Setup::default()
    })
    .await;
    let x = scheduler.connect("twitter").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let dot = uploaded(&scheduler, png(), "image/png").await;
    let clip = uploaded(&scheduler, mp4(20_000), "video/mp4").await;
    let mut ids = Vec::new();
    for (text, m) in [("A dot", &dot), ("A clip", &clip)] {
        let (s, p) = scheduler
            .post("/v1/posts", json!({"content": {"text": text, "media": [{"media_id": m["id"]}]}, "connection_ids": [x]}))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{p}");
        ids.push(p["id"].as_str().unwrap().to_string());
    }
    scheduler.stop();
    drop(scheduler);
    for id in &ids {
        let p = publish_until_done(&publisher, id).await;
        assert_eq!(p["status"], "published", "{p}");
    }
    let published: Value = publisher
        .http
        .get(format!(
            "{}/__sandbox/published?platform=twitter",
            publisher.sandbox
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let items = published["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{published}");
    for text in ["A dot", "A clip"] {
        let item = items.iter().find(|i| i["text"] == text).expect("the tweet");
        assert_eq!(item["media"].as_array().map(Vec::len), Some(1), "{item}");
    }
    assert_eq!(
        items.iter().find(|i| i["text"] == "A clip").unwrap()["kind"],
        "video",
        "{published}"
    );
}

/// A multipart upload's other parts are bounded (count and bytes), and a workspace's uploads
/// stop at its storage quota; nothing is left behind by a refusal.
#[tokio::test]
async fn multipart_parts_and_the_workspace_quota_are_bounded() {
    let app = TestApp::spawn_with(Setup {
        config: Box::new(|c| c.media_quota_bytes = 1024 * 1024),
        ..Setup::default()
    })
    .await;
    let send = |form: reqwest::multipart::Form| {
        let (http, api, key) = (app.http.clone(), app.api.clone(), app.key.clone());
        async move {
            let r = http
                .post(format!("{api}/v1/media"))
                .header(AUTHORIZATION, format!("Bearer {key}"))
                .multipart(form)
                .send()
                .await
                .unwrap();
            read(r).await
        }
    };
    let file = || {
        reqwest::multipart::Part::bytes(png())
            .file_name("a.png")
            .mime_str("image/png")
            .unwrap()
    };
    // Nine parts: refused.
    let mut form = reqwest::multipart::Form::new();
    for i in 0..8 {
        form = form.text(format!("f{i}"), "x");
    }
    let (s, v) = send(form.part("file", file())).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["limit"], 8, "{v}");
    // A large part that is not the file: refused once past 64 KiB.
    let form = reqwest::multipart::Form::new()
        .text("note", "x".repeat(200 * 1024))
        .part("file", file());
    let (s, v) = send(form).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["limit"], 64 * 1024, "{v}");
    assert_eq!(media_count(&app).await, 0);

    // The quota: 1 MiB. A 600 KiB video fits; a second does not.
    let clip = mp4(600 * 1024);
    let (s, v) = upload_raw(&app, &app.key, clip.clone(), "video/mp4", "").await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, v) = upload_raw(&app, &app.key, clip, "video/mp4", "").await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE, "{v}");
    assert!(
        v["detail"].as_str().unwrap().contains("media_quota_bytes"),
        "{v}"
    );
    assert_eq!(
        media_count(&app).await,
        1,
        "the refused upload left nothing"
    );
    assert_eq!(files_in_media_dir(&app).len(), 1);
}
