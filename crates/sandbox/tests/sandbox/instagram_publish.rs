//! Instagram publishing: containers, their processing states, `media_publish` exactly once,
//! the publishing quota, the documented 2207xxx errors, faults, stats and insights.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common::*;

const AUTH: &str = "/www.instagram.com/oauth/authorize";
const TOKEN: &str = "/api.instagram.com/oauth/access_token";
const GRAPH: &str = "/graph.instagram.com/v22.0";
const BUSINESS: &str = "17841400000000001";
const PERSONAL: &str = "17841400000000003";
const JPEG: &str = "https://cdn.example.com/photos/cake.jpg";
const SCOPES: &str = "instagram_business_basic,instagram_business_content_publish,instagram_business_manage_insights";

/// A long-lived token of `account` with `scope`.
async fn token_for(sb: &TestSandbox, account: &str, scope: &str) -> String {
    let params = [
        ("client_id", "sandbox-instagram-client"),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
        ("scope", scope),
        ("state", "st-ig"),
    ];
    let code = sb.code_for(AUTH, &params, account).await;
    let r = sb
        .http
        .post(sb.url(TOKEN))
        .form(&[
            ("client_id", "sandbox-instagram-client"),
            ("client_secret", "sandbox-instagram-secret"),
            ("grant_type", "authorization_code"),
            ("redirect_uri", REDIRECT),
            ("code", code.as_str()),
        ])
        .send()
        .await
        .unwrap();
    let (s, v) = json_of(r).await;
    assert_eq!(s, 200, "{v}");
    let short = v["access_token"].as_str().unwrap();
    // The 60-day token, so moving the clock a day does not end the session.
    let r = sb
        .http
        .get(sb.url("/graph.instagram.com/access_token"))
        .query(&[
            ("grant_type", "ig_exchange_token"),
            ("client_secret", "sandbox-instagram-secret"),
            ("access_token", short),
        ])
        .send()
        .await
        .unwrap();
    let (s, v) = json_of(r).await;
    assert_eq!(s, 200, "{v}");
    v["access_token"].as_str().unwrap().to_string()
}

async fn post(
    sb: &TestSandbox,
    token: &str,
    path: &str,
    form: &[(&str, &str)],
) -> (StatusCode, Value) {
    let r = sb
        .http
        .post(sb.url(&format!("{GRAPH}{path}")))
        .bearer_auth(token)
        .form(form)
        .send()
        .await
        .unwrap();
    json_of(r).await
}

async fn get(sb: &TestSandbox, token: &str, path: &str) -> (StatusCode, Value) {
    let r = sb
        .http
        .get(sb.url(&format!("{GRAPH}{path}")))
        .query(&[("access_token", token)])
        .send()
        .await
        .unwrap();
    json_of(r).await
}

async fn container(sb: &TestSandbox, token: &str, form: &[(&str, &str)]) -> String {
    let (s, v) = post(sb, token, &format!("/{BUSINESS}/media"), form).await;
    assert_eq!(s, 200, "{v}");
    v["id"].as_str().unwrap().to_string()
}

async fn status(sb: &TestSandbox, token: &str, id: &str) -> String {
    let (s, v) = get(sb, token, &format!("/{id}?fields=status_code,status")).await;
    assert_eq!(s, 200, "{v}");
    assert!(v["status"].is_string(), "{v}");
    v["status_code"].as_str().unwrap().to_string()
}

async fn publish(sb: &TestSandbox, token: &str, creation_id: &str) -> (StatusCode, Value) {
    post(
        sb,
        token,
        &format!("/{BUSINESS}/media_publish?creation_id={creation_id}"),
        &[],
    )
    .await
}

fn assert_graph_error(v: &Value, code: i64, subcode: Option<i64>) {
    assert_eq!(v["error"]["code"], code, "{v}");
    assert_eq!(v["error"]["error_subcode"].as_i64(), subcode, "{v}");
    assert!(v["error"]["message"].is_string(), "{v}");
    assert!(v["error"]["fbtrace_id"].is_string(), "{v}");
}

async fn published(sb: &TestSandbox) -> Vec<Value> {
    let r = sb
        .http
        .get(sb.url("/__sandbox/published?platform=instagram"))
        .send()
        .await
        .unwrap();
    json_of(r).await.1["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn image_container_progresses_then_publishes_exactly_once() {
    let sb = start().await;
    let token = token_for(&sb, "ig-business", SCOPES).await;
    let id = container(
        &sb,
        &token,
        &[("image_url", JPEG), ("caption", "Fresh bread #bakery")],
    )
    .await;
    assert_eq!(status(&sb, &token, &id).await, "IN_PROGRESS");

    // Not finished yet: 9007 / 2207027, nothing published.
    let (s, v) = publish(&sb, &token, &id).await;
    assert_eq!(s, 400);
    assert_graph_error(&v, 9007, Some(2_207_027));
    assert!(published(&sb).await.is_empty());

    sb.advance(5);
    assert_eq!(status(&sb, &token, &id).await, "FINISHED");
    let (s, v) = publish(&sb, &token, &id).await;
    assert_eq!(s, 200, "{v}");
    let media_id = v["id"].as_str().unwrap().to_string();
    assert_ne!(media_id, id);
    assert_eq!(status(&sb, &token, &id).await, "PUBLISHED");

    // Publishing the same container again is refused and publishes nothing.
    let (s, v) = publish(&sb, &token, &id).await;
    assert_eq!(s, 400);
    assert_graph_error(&v, 100, None);

    let items = published(&sb).await;
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0]["id"], media_id.as_str());
    assert_eq!(items[0]["account_id"], BUSINESS);
    assert_eq!(items[0]["kind"], "image");
    assert_eq!(items[0]["text"], "Fresh bread #bakery");
    assert_eq!(items[0]["media"], json!([JPEG]));
    let stats = sb.stats("instagram").await;
    assert_eq!(stats["published"], 1, "{stats}");
    assert_eq!(stats["published_by_account"][BUSINESS], 1, "{stats}");

    let (s, v) = get(
        &sb,
        &token,
        &format!("/{media_id}?fields=id,caption,media_type,permalink"),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["media_type"], "IMAGE");
    assert_eq!(v["caption"], "Fresh bread #bakery");
}

#[tokio::test]
async fn reels_take_longer_and_carousels_wait_for_their_children() {
    let sb = start().await;
    let token = token_for(&sb, "ig-business", SCOPES).await;
    let reel = container(
        &sb,
        &token,
        &[
            ("media_type", "REELS"),
            ("video_url", "https://cdn.example.com/v/clip.mp4"),
            ("caption", "Reel"),
        ],
    )
    .await;
    let a = container(
        &sb,
        &token,
        &[("image_url", JPEG), ("is_carousel_item", "true")],
    )
    .await;
    let b = container(
        &sb,
        &token,
        &[
            ("media_type", "VIDEO"),
            ("video_url", "https://cdn.example.com/v/b.mp4"),
            ("is_carousel_item", "true"),
        ],
    )
    .await;
    let children = format!("{a},{b}");
    let carousel = container(
        &sb,
        &token,
        &[
            ("media_type", "CAROUSEL"),
            ("children", children.as_str()),
            ("caption", "Two"),
        ],
    )
    .await;
    sb.advance(5);
    assert_eq!(status(&sb, &token, &a).await, "FINISHED");
    assert_eq!(status(&sb, &token, &reel).await, "IN_PROGRESS");
    assert_eq!(status(&sb, &token, &carousel).await, "IN_PROGRESS");
    // A carousel item is never published on its own.
    let (s, v) = publish(&sb, &token, &a).await;
    assert_eq!(s, 400);
    assert_graph_error(&v, 100, None);
    sb.advance(30);
    assert_eq!(status(&sb, &token, &reel).await, "FINISHED");
    assert_eq!(status(&sb, &token, &carousel).await, "FINISHED");
    assert_eq!(publish(&sb, &token, &reel).await.0, 200);
    assert_eq!(publish(&sb, &token, &carousel).await.0, 200);
    let items = published(&sb).await;
    let kinds: Vec<&str> = items.iter().map(|i| i["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["video", "carousel"]);
    assert_eq!(items[1]["media"].as_array().unwrap().len(), 2);

    // One child alone is not a carousel.
    let (s, v) = post(
        &sb,
        &token,
        &format!("/{BUSINESS}/media"),
        &[("media_type", "CAROUSEL"), ("children", a.as_str())],
    )
    .await;
    assert_eq!(s, 400);
    assert_graph_error(&v, 100, Some(2_207_028));
}

#[tokio::test]
async fn personal_accounts_png_and_caption_limits_are_refused() {
    let sb = start().await;
    let personal = token_for(&sb, "ig-personal", SCOPES).await;
    let (s, v) = post(
        &sb,
        &personal,
        &format!("/{PERSONAL}/media"),
        &[("image_url", JPEG)],
    )
    .await;
    assert_eq!(s, 400);
    assert_graph_error(&v, 10, None);

    let token = token_for(&sb, "ig-business", SCOPES).await;
    let media = format!("/{BUSINESS}/media");
    let (s, v) = post(
        &sb,
        &token,
        &media,
        &[("image_url", "https://cdn.example.com/a/logo.PNG")],
    )
    .await;
    assert_eq!(s, 400);
    assert_graph_error(&v, 36001, Some(2_207_005));
    assert!(v["error"]["error_user_msg"]
        .as_str()
        .unwrap()
        .contains("JPEG"));

    let long = "a".repeat(2201);
    let (s, v) = post(
        &sb,
        &token,
        &media,
        &[("image_url", JPEG), ("caption", long.as_str())],
    )
    .await;
    assert_eq!(s, 400);
    assert_graph_error(&v, 100, Some(2_207_010));
    let exactly = "é".repeat(2200);
    let (s, v) = post(
        &sb,
        &token,
        &media,
        &[("image_url", JPEG), ("caption", exactly.as_str())],
    )
    .await;
    assert_eq!(s, 200, "2,200 characters are allowed: {v}");

    let tags: Vec<String> = (0..31).map(|i| format!("#t{i}")).collect();
    let tags = tags.join(" ");
    let (s, v) = post(
        &sb,
        &token,
        &media,
        &[("image_url", JPEG), ("caption", tags.as_str())],
    )
    .await;
    assert_eq!(s, 400);
    assert_graph_error(&v, 100, Some(2_207_010));
    let thirty = tags.rsplit_once(' ').unwrap().0;
    assert_eq!(
        post(
            &sb,
            &token,
            &media,
            &[("image_url", JPEG), ("caption", thirty)]
        )
        .await
        .0,
        200
    );

    // Someone else's user id, a token without the publishing scope, a dead token.
    let (s, v) = post(
        &sb,
        &token,
        &format!("/{PERSONAL}/media"),
        &[("image_url", JPEG)],
    )
    .await;
    assert_eq!(s, 400);
    assert_graph_error(&v, 100, Some(33));
    let basic = token_for(&sb, "ig-business", "instagram_business_basic").await;
    let (s, v) = post(&sb, &basic, &media, &[("image_url", JPEG)]).await;
    assert_eq!(s, 400);
    assert_graph_error(&v, 10, None);
    let (s, v) = post(&sb, "sbx-instagram-at-nope", &media, &[("image_url", JPEG)]).await;
    assert_eq!(s, 400);
    assert_eq!(v["error"]["code"], 190, "{v}");
}

#[tokio::test]
async fn bad_media_errors_and_containers_expire_after_a_day() {
    let sb = start().await;
    let token = token_for(&sb, "ig-business", SCOPES).await;
    let bad = container(
        &sb,
        &token,
        &[("image_url", "https://cdn.example.com/sandbox-bad-media.jpg")],
    )
    .await;
    let late = container(&sb, &token, &[("image_url", JPEG)]).await;
    sb.advance(10);
    assert_eq!(status(&sb, &token, &bad).await, "ERROR");
    let (s, v) = publish(&sb, &token, &bad).await;
    assert_eq!(s, 400);
    assert_graph_error(&v, -1, Some(2_207_032));
    sb.advance(86_400);
    assert_eq!(status(&sb, &token, &late).await, "EXPIRED");
    let (s, v) = publish(&sb, &token, &late).await;
    assert_eq!(s, 400);
    assert_graph_error(&v, -2, Some(2_207_020));
    let (s, v) = publish(&sb, &token, "17889999999999999").await;
    assert_eq!(s, 400);
    assert_graph_error(&v, 24, Some(2_207_006));
    assert!(published(&sb).await.is_empty());
}

#[tokio::test]
async fn the_51st_publish_in_24_hours_hits_the_daily_cap() {
    let sb = start().await;
    let token = token_for(&sb, "ig-business", SCOPES).await;
    let limit = format!("/{BUSINESS}/content_publishing_limit?fields=quota_usage,config");
    let mut ids = Vec::new();
    for _ in 0..51 {
        ids.push(container(&sb, &token, &[("image_url", JPEG)]).await);
    }
    sb.advance(5);
    for id in &ids[..50] {
        let (s, v) = publish(&sb, &token, id).await;
        assert_eq!(s, 200, "{v}");
    }
    let (s, v) = get(&sb, &token, &limit).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        v,
        json!({ "data": [{ "quota_usage": 50, "config": { "quota_total": 50, "quota_duration": 86400 } }] })
    );
    let (s, v) = publish(&sb, &token, &ids[50]).await;
    assert_eq!(s, 400);
    assert_graph_error(&v, 9, Some(2_207_042));
    assert_eq!(sb.stats("instagram").await["published"], 50);

    // The window rolls: a day later the usage is back to zero and a new container publishes.
    sb.advance(86_400);
    let (_, v) = get(&sb, &token, &limit).await;
    assert_eq!(v["data"][0]["quota_usage"], 0);
    let fresh = container(&sb, &token, &[("image_url", JPEG)]).await;
    sb.advance(5);
    assert_eq!(publish(&sb, &token, &fresh).await.0, 200);
}

#[tokio::test]
async fn faults_on_publish_and_upload_then_insights_grow_with_the_clock() {
    let sb = start().await;
    let token = token_for(&sb, "ig-business", SCOPES).await;
    sb.fault(json!({ "platform": "instagram", "endpoint": "upload", "status": 500,
        "body": "{\"error\":{\"message\":\"An unknown error occurred\",\"type\":\"OAuthException\",\"code\":1,\"is_transient\":true}}" }))
        .await;
    let (s, _) = post(
        &sb,
        &token,
        &format!("/{BUSINESS}/media"),
        &[("image_url", JPEG)],
    )
    .await;
    assert_eq!(s, 500);
    let id = container(&sb, &token, &[("image_url", JPEG), ("caption", "hi")]).await;
    sb.advance(5);
    sb.fault(
        json!({ "platform": "instagram", "endpoint": "publish", "status": 503, "body": "{}" }),
    )
    .await;
    assert_eq!(publish(&sb, &token, &id).await.0, 503);
    assert!(published(&sb).await.is_empty(), "a fault publishes nothing");
    let (s, v) = publish(&sb, &token, &id).await;
    assert_eq!(s, 200, "{v}");
    let media_id = v["id"].as_str().unwrap().to_string();

    let insights = format!("/{media_id}/insights?metric=views,reach,likes,comments,shares,saved");
    let (s, first) = get(&sb, &token, &insights).await;
    assert_eq!(s, 200, "{first}");
    let names: Vec<&str> = first["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["views", "reach", "likes", "comments", "shares", "saved"]
    );
    let r = sb
        .http
        .post(sb.url("/__sandbox/clock"))
        .json(&json!({ "advance_secs": 7200 }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (_, later) = get(&sb, &token, &insights).await;
    let (_, again) = get(&sb, &token, &insights).await;
    assert_eq!(later, again, "deterministic for the same instant");
    for (a, b) in first["data"]
        .as_array()
        .unwrap()
        .iter()
        .zip(later["data"].as_array().unwrap())
    {
        let (a, b) = (
            a["values"][0]["value"].as_u64().unwrap(),
            b["values"][0]["value"].as_u64().unwrap(),
        );
        assert!(b > a, "{a} -> {b}");
    }
    let stats = sb.stats("instagram").await;
    assert_eq!(stats["metrics_calls"], 3, "{stats}");
    // The faulted calls count as faults served, not as calls.
    assert_eq!(stats["upload_calls"], 1, "{stats}");
    assert_eq!(stats["faults_served"], 2, "{stats}");

    // Insights need their scope, and a real metric.
    let no_insights = token_for(
        &sb,
        "ig-business",
        "instagram_business_basic,instagram_business_content_publish",
    )
    .await;
    let (s, v) = get(&sb, &no_insights, &insights).await;
    assert_eq!(s, 400);
    assert_graph_error(&v, 10, None);
    let (s, v) = get(&sb, &token, &format!("/{media_id}/insights?metric=bogus")).await;
    assert_eq!(s, 400);
    assert_graph_error(&v, 100, None);

    // Retired metrics fail the whole call (April 21, 2025, every version), and a metric of
    // another media product type is refused: an image is a FEED post, not a Reel (Instagram
    // Media Insights,
    // https://developers.facebook.com/docs/instagram-platform/reference/instagram-media/insights).
    for retired in ["impressions", "plays", "video_views", "clips_replays_count"] {
        let (s, v) = get(
            &sb,
            &token,
            &format!("/{media_id}/insights?metric=views,reach,{retired}"),
        )
        .await;
        assert_eq!(s, 400, "{retired}: {v}");
        assert_graph_error(&v, 100, None);
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with("(#100) metric[2] must be one of"),
            "{v}"
        );
    }
    let (s, v) = get(
        &sb,
        &token,
        &format!("/{media_id}/insights?metric=views,ig_reels_avg_watch_time"),
    )
    .await;
    assert_eq!(s, 400, "{v}");
    assert_graph_error(&v, 100, None);
    let feed = "views,reach,likes,comments,shares,saved,total_interactions";
    let (s, v) = get(&sb, &token, &format!("/{media_id}/insights?metric={feed}")).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["data"].as_array().unwrap().len(), 7);
}
