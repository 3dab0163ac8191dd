//! LinkedIn publishing: text, image and video posts through `/rest/`, the version headers, the
//! member checks, the 422 commentary errors, media not ready, faults, published counts and
//! socialActions growing with the sandbox clock.

use chrono::{Datelike, Utc};
use reqwest::{RequestBuilder, StatusCode};
use serde_json::{json, Value};

use crate::common::*;
use crate::twitter_publish::{mint, published};

const API: &str = "/api.linkedin.com/rest";
/// Ada's member URN (`sub` of li-ada).
const ADA: &str = "urn:li:person:aDa1LoVe9x";

/// The current monthly version, on the real clock (the sandbox clock starts there).
fn version() -> String {
    let now = Utc::now();
    format!("{:04}{:02}", now.year(), now.month())
}

fn rest(rb: RequestBuilder, token: &str) -> RequestBuilder {
    rb.bearer_auth(token)
        .header("LinkedIn-Version", version())
        .header("X-Restli-Protocol-Version", "2.0.0")
}

fn post_body(author: &str, commentary: &str) -> Value {
    json!({
        "author": author,
        "commentary": commentary,
        "visibility": "PUBLIC",
        "distribution": { "feedDistribution": "MAIN_FEED", "targetEntities": [], "thirdPartyDistributionChannels": [] },
        "lifecycleState": "PUBLISHED",
        "isReshareDisabledByAuthor": false,
    })
}

async fn create(sb: &TestSandbox, token: &str, body: Value) -> reqwest::Response {
    rest(sb.http.post(sb.url(&format!("{API}/posts"))), token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// A token through the real consent page and token endpoint.
async fn consented_token(sb: &TestSandbox) -> String {
    let params = [
        ("response_type", "code"),
        ("client_id", "sandbox-linkedin-client"),
        ("redirect_uri", REDIRECT),
        ("scope", "openid profile w_member_social"),
        ("state", "st"),
    ];
    let code = sb
        .code("/www.linkedin.com/oauth/v2/authorization", &params)
        .await;
    let r = sb
        .http
        .post(sb.url("/www.linkedin.com/oauth/v2/accessToken"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("client_id", "sandbox-linkedin-client"),
            ("client_secret", "sandbox-linkedin-secret"),
        ])
        .send()
        .await
        .unwrap();
    let (st, body) = json_of(r).await;
    assert_eq!(st, 200, "{body}");
    body["access_token"].as_str().unwrap().to_string()
}

async fn upload_image(sb: &TestSandbox, token: &str, put: bool) -> String {
    let r = rest(
        sb.http
            .post(sb.url(&format!("{API}/images?action=initializeUpload"))),
        token,
    )
    .json(&json!({ "initializeUploadRequest": { "owner": ADA } }))
    .send()
    .await
    .unwrap();
    let (st, body) = json_of(r).await;
    assert_eq!(st, 200, "{body}");
    let image = body["value"]["image"].as_str().unwrap().to_string();
    assert!(image.starts_with("urn:li:image:"));
    assert!(body["value"]["uploadUrlExpiresAt"].as_i64().unwrap() > 0);
    if put {
        let url = body["value"]["uploadUrl"].as_str().unwrap();
        assert!(url.starts_with(&sb.base), "{url}");
        let r = sb
            .http
            .put(url)
            .bearer_auth(token)
            .body(vec![9u8; 1234])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
    }
    image
}

#[tokio::test]
async fn text_post_returns_the_urn_in_x_restli_id_and_is_counted() {
    let sb = start().await;
    let token = consented_token(&sb).await;
    let r = create(&sb, &token, post_body(ADA, "Hello LinkedIn")).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let urn = r.headers()["x-restli-id"].to_str().unwrap().to_string();
    assert!(urn.starts_with("urn:li:share:"), "{urn}");
    let items = published(&sb, "linkedin").await;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], urn);
    assert_eq!(items[0]["kind"], "text");
    assert_eq!(items[0]["account_id"], "aDa1LoVe9x");
    let stats = sb.stats("linkedin").await;
    assert_eq!(stats["published"], 1);
    assert_eq!(stats["published_by_account"]["aDa1LoVe9x"], 1);
}

#[tokio::test]
async fn version_headers_are_required_and_must_be_active() {
    let sb = start().await;
    let token = mint(&sb, "linkedin", "li-ada", "openid w_member_social").await;
    let url = sb.url(&format!("{API}/posts"));
    let body = post_body(ADA, "versioned");
    let r = sb
        .http
        .post(&url)
        .bearer_auth(&token)
        .header("X-Restli-Protocol-Version", "2.0.0")
        .json(&body)
        .send()
        .await
        .unwrap();
    let (st, err) = json_of(r).await;
    assert_eq!(st, 400);
    assert_eq!(err["code"], "VERSION_MISSING");
    let r = sb
        .http
        .post(&url)
        .bearer_auth(&token)
        .header("LinkedIn-Version", "202001")
        .header("X-Restli-Protocol-Version", "2.0.0")
        .json(&body)
        .send()
        .await
        .unwrap();
    let (st, err) = json_of(r).await;
    assert_eq!(st, 426);
    assert_eq!(err["code"], "NONEXISTENT_VERSION");
    assert_eq!(err["status"], 426);
    let r = sb
        .http
        .post(&url)
        .bearer_auth(&token)
        .header("LinkedIn-Version", "2024-01")
        .header("X-Restli-Protocol-Version", "2.0.0")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = sb
        .http
        .post(&url)
        .bearer_auth(&token)
        .header("LinkedIn-Version", version())
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // A year on the sandbox clock retires the version.
    assert_eq!(create(&sb, &token, body.clone()).await.status(), 201);
    sb.advance(366 * 86_400);
    assert_eq!(
        create(&sb, &token, post_body(ADA, "later")).await.status(),
        426
    );
    assert_eq!(published(&sb, "linkedin").await.len(), 1);
}

#[tokio::test]
async fn bad_token_missing_scope_and_someone_elses_author() {
    let sb = start().await;
    let r = create(&sb, "sbx-linkedin-at-nope", post_body(ADA, "x")).await;
    let (st, err) = json_of(r).await;
    assert_eq!(st, 401);
    assert_eq!(err["code"], "INVALID_ACCESS_TOKEN");
    assert_eq!(err["serviceErrorCode"], 65600);

    let no_scope = mint(&sb, "linkedin", "li-ada", "openid profile").await;
    let (st, err) = json_of(create(&sb, &no_scope, post_body(ADA, "x")).await).await;
    assert_eq!(st, 403);
    assert_eq!(err["code"], "ACCESS_DENIED");

    let token = mint(&sb, "linkedin", "li-ada", "openid w_member_social").await;
    let grace = "urn:li:person:gRaCe2HoP7";
    let (st, err) = json_of(create(&sb, &token, post_body(grace, "x")).await).await;
    assert_eq!(st, 403);
    assert_eq!(err["code"], "ACCESS_DENIED");
    assert!(published(&sb, "linkedin").await.is_empty());
}

#[tokio::test]
async fn commentary_over_3000_and_missing_fields_are_422() {
    let sb = start().await;
    let token = mint(&sb, "linkedin", "li-ada", "openid w_member_social").await;
    assert_eq!(
        create(&sb, &token, post_body(ADA, &"é".repeat(3000)))
            .await
            .status(),
        201
    );
    let (st, err) = json_of(create(&sb, &token, post_body(ADA, &"a".repeat(3001))).await).await;
    assert_eq!(st, 422);
    assert_eq!(err["status"], 422);
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .starts_with("ERROR :: /commentary :: "),
        "{err}"
    );
    let mut body = post_body(ADA, "no commentary");
    body.as_object_mut().unwrap().remove("commentary");
    let (st, err) = json_of(create(&sb, &token, body).await).await;
    assert_eq!(st, 422);
    assert!(err["message"]
        .as_str()
        .unwrap()
        .contains("/commentary :: field is required"));
    // Duplicate commentary of the same member.
    let (st, err) = json_of(create(&sb, &token, post_body(ADA, &"é".repeat(3000))).await).await;
    assert_eq!(st, 422);
    assert_eq!(err["code"], "DUPLICATE_POST");
    assert_eq!(published(&sb, "linkedin").await.len(), 1);
}

#[tokio::test]
async fn image_posts_need_the_bytes_uploaded_first() {
    let sb = start().await;
    let token = mint(&sb, "linkedin", "li-ada", "openid w_member_social").await;
    let waiting = upload_image(&sb, &token, false).await;
    let mut body = post_body(ADA, "with a picture");
    body["content"] = json!({ "media": { "id": waiting } });
    let (st, err) = json_of(create(&sb, &token, body.clone()).await).await;
    assert_eq!(st, 400, "{err}");
    assert_eq!(err["code"], "ILLEGAL_ARGUMENT");
    let (st, img) = sb
        .http
        .get(sb.url(&format!("{API}/images/{}", urlencoding::encode(&waiting))))
        .bearer_auth(&token)
        .header("LinkedIn-Version", version())
        .header("X-Restli-Protocol-Version", "2.0.0")
        .send()
        .await
        .map(|r| (r.status(), r))
        .unwrap();
    assert_eq!(st, 200);
    assert_eq!(json_of(img).await.1["status"], "WAITING_UPLOAD");

    let image = upload_image(&sb, &token, true).await;
    body["content"] = json!({ "media": { "id": image } });
    assert_eq!(create(&sb, &token, body).await.status(), 201);

    // Several images: multiImage.
    let a = upload_image(&sb, &token, true).await;
    let b = upload_image(&sb, &token, true).await;
    let mut multi = post_body(ADA, "two pictures");
    multi["content"] = json!({ "multiImage": { "images": [{ "id": a, "altText": "a" }, { "id": b, "altText": "b" }] } });
    assert_eq!(create(&sb, &token, multi).await.status(), 201);
    let items = published(&sb, "linkedin").await;
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["kind"], "image");
    assert_eq!(items[1]["kind"], "images");
    assert_eq!(items[1]["media"], json!([a, b]));
}

async fn get_video(sb: &TestSandbox, token: &str, urn: &str) -> String {
    let r = rest(
        sb.http
            .get(sb.url(&format!("{API}/videos/{}", urlencoding::encode(urn)))),
        token,
    )
    .send()
    .await
    .unwrap();
    let (st, body) = json_of(r).await;
    assert_eq!(st, 200, "{body}");
    body["status"].as_str().unwrap().to_string()
}

/// initializeUpload, PUT every part, finalizeUpload; returns the video URN.
async fn upload_video(sb: &TestSandbox, token: &str, size: u64) -> String {
    let r = rest(sb.http.post(sb.url(&format!("{API}/videos?action=initializeUpload"))), token)
        .json(&json!({ "initializeUploadRequest": { "owner": ADA, "fileSizeBytes": size, "uploadCaptions": false, "uploadThumbnail": false } }))
        .send()
        .await
        .unwrap();
    let (st, init) = json_of(r).await;
    assert_eq!(st, 200, "{init}");
    let video = init["value"]["video"].as_str().unwrap().to_string();
    let upload_token = init["value"]["uploadToken"].as_str().unwrap().to_string();
    assert_eq!(get_video(sb, token, &video).await, "WAITING_UPLOAD");
    let mut etags = Vec::new();
    for ins in init["value"]["uploadInstructions"].as_array().unwrap() {
        let n = ins["lastByte"].as_u64().unwrap() - ins["firstByte"].as_u64().unwrap() + 1;
        let r = sb
            .http
            .put(ins["uploadUrl"].as_str().unwrap())
            .bearer_auth(token)
            .body(vec![1u8; n as usize])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        etags.push(r.headers()["etag"].to_str().unwrap().to_string());
    }
    // Parts out of order are refused.
    if etags.len() > 1 {
        let mut wrong = etags.clone();
        wrong.reverse();
        let r = rest(sb.http.post(sb.url(&format!("{API}/videos?action=finalizeUpload"))), token)
            .json(&json!({ "finalizeUploadRequest": { "video": video, "uploadToken": upload_token, "uploadedPartIds": wrong } }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
    }
    let r = rest(sb.http.post(sb.url(&format!("{API}/videos?action=finalizeUpload"))), token)
        .json(&json!({ "finalizeUploadRequest": { "video": video, "uploadToken": upload_token, "uploadedPartIds": etags } }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    video
}

#[tokio::test]
async fn video_upload_in_parts_processes_then_posts() {
    let sb = start().await;
    let token = mint(&sb, "linkedin", "li-ada", "openid w_member_social").await;
    // 4 MB parts: 9 MB is three parts.
    let video = upload_video(&sb, &token, 9 * 1024 * 1024).await;
    let mut body = post_body(ADA, "a video");
    body["content"] = json!({ "media": { "id": video, "title": "clip" } });
    assert_eq!(create(&sb, &token, body.clone()).await.status(), 400);
    assert_eq!(get_video(&sb, &token, &video).await, "PROCESSING");
    assert_eq!(get_video(&sb, &token, &video).await, "AVAILABLE");
    assert_eq!(create(&sb, &token, body).await.status(), 201);
    let items = published(&sb, "linkedin").await;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["kind"], "video");

    let bad = upload_video(&sb, &token, 666).await;
    sb.advance(30);
    assert_eq!(get_video(&sb, &token, &bad).await, "PROCESSING_FAILED");
}

#[tokio::test]
async fn faults_on_publish_and_upload() {
    let sb = start().await;
    let token = mint(&sb, "linkedin", "li-ada", "openid w_member_social").await;
    sb.fault(
        json!({ "platform": "linkedin", "endpoint": "publish", "status": 500,
        "body": "{\"status\":500,\"message\":\"Internal Server Error\"}" }),
    )
    .await;
    assert_eq!(
        create(&sb, &token, post_body(ADA, "retry me"))
            .await
            .status(),
        500
    );
    assert!(published(&sb, "linkedin").await.is_empty());
    assert_eq!(
        create(&sb, &token, post_body(ADA, "retry me"))
            .await
            .status(),
        201
    );
    sb.fault(json!({ "platform": "linkedin", "endpoint": "upload", "status": 429 }))
        .await;
    let r = rest(
        sb.http
            .post(sb.url(&format!("{API}/images?action=initializeUpload"))),
        &token,
    )
    .json(&json!({ "initializeUploadRequest": { "owner": ADA } }))
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 429);
    upload_image(&sb, &token, true).await;
    assert_eq!(sb.stats("linkedin").await["published"], 1);
}

#[tokio::test]
async fn social_actions_grow_with_the_sandbox_clock() {
    let sb = start().await;
    let token = mint(&sb, "linkedin", "li-ada", "openid w_member_social").await;
    let r = create(&sb, &token, post_body(ADA, "count my likes")).await;
    let urn = r.headers()["x-restli-id"].to_str().unwrap().to_string();
    let path = format!("{API}/socialActions/{}", urlencoding::encode(&urn));
    let read = || async {
        let r = rest(sb.http.get(sb.url(&path)), &token)
            .send()
            .await
            .unwrap();
        json_of(r).await
    };
    let (st, first) = read().await;
    assert_eq!(st, 200, "{first}");
    assert_eq!(first["target"], urn);
    let likes0 = first["likesSummary"]["totalLikes"].as_u64().unwrap();
    let comments0 = first["commentsSummary"]["totalFirstLevelComments"]
        .as_u64()
        .unwrap();
    let r = sb
        .http
        .post(sb.url("/__sandbox/clock"))
        .json(&json!({ "advance_secs": 48 * 3600 }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (_, later) = read().await;
    assert!(
        later["likesSummary"]["totalLikes"].as_u64().unwrap() > likes0,
        "{later}"
    );
    assert!(
        later["commentsSummary"]["totalFirstLevelComments"]
            .as_u64()
            .unwrap()
            > comments0
    );
    let (st, missing) = json_of(
        rest(
            sb.http
                .get(sb.url(&format!("{API}/socialActions/urn%3Ali%3Ashare%3A1"))),
            &token,
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(st, 404);
    assert_eq!(missing["status"], 404);
    assert_eq!(sb.stats("linkedin").await["metrics_calls"], 3);
}
