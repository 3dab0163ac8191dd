//! Facebook Pages publishing: feed posts, photos (single and multi-photo), videos, the Graph
//! errors (190/463 expired, #200 user token or missing permission, #506 duplicate, #368
//! policy), usage headers, faults, published counts and insights growing with the clock.

use reqwest::multipart::{Form, Part};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common::*;
use crate::twitter_publish::{mint, published};

const GRAPH: &str = "/graph.facebook.com/v22.0";
const PAGE: &str = "102000000000001";
const OTHER_PAGE: &str = "102000000000002";
const SCOPES: &str = "pages_show_list,pages_manage_posts,pages_read_engagement,read_insights";

/// The user token and the Page tokens of `/me/accounts`, by Page id.
async fn tokens(sb: &TestSandbox, scopes: &str) -> (String, Value) {
    let user = mint(sb, "facebook", "fb-ada", scopes).await;
    let (st, body) = sb.get_bearer(&format!("{GRAPH}/me/accounts"), &user).await;
    assert_eq!(st, 200, "{body}");
    let mut pages = serde_json::Map::new();
    for p in body["data"].as_array().unwrap() {
        pages.insert(p["id"].as_str().unwrap().into(), p["access_token"].clone());
    }
    (user, Value::Object(pages))
}

async fn page_token(sb: &TestSandbox) -> String {
    tokens(sb, SCOPES).await.1[PAGE]
        .as_str()
        .unwrap()
        .to_string()
}

async fn feed(sb: &TestSandbox, token: &str, form: &[(&str, &str)]) -> reqwest::Response {
    sb.http
        .post(sb.url(&format!("{GRAPH}/{PAGE}/feed")))
        .query(&[("access_token", token)])
        .form(form)
        .send()
        .await
        .unwrap()
}

fn assert_graph_error(body: &Value, code: i64) {
    assert_eq!(body["error"]["code"], code, "{body}");
    assert_eq!(body["error"]["type"], "OAuthException");
    assert!(body["error"]["fbtrace_id"].is_string());
}

#[tokio::test]
async fn feed_post_with_the_page_token_and_usage_headers() {
    let sb = start().await;
    let token = page_token(&sb).await;
    let r = feed(
        &sb,
        &token,
        &[("message", "Hello Page"), ("link", "https://example.com/a")],
    )
    .await;
    assert_eq!(r.status(), 200);
    let app: Value = serde_json::from_str(r.headers()["x-app-usage"].to_str().unwrap()).unwrap();
    assert!(app["call_count"].is_u64());
    let buc: Value =
        serde_json::from_str(r.headers()["x-business-use-case-usage"].to_str().unwrap()).unwrap();
    assert_eq!(buc[PAGE][0]["type"], "pages");
    assert!(buc[PAGE][0]["estimated_time_to_regain_access"].is_u64());
    let (_, body) = json_of(r).await;
    let id = body["id"].as_str().unwrap();
    assert!(id.starts_with(&format!("{PAGE}_")), "{id}");
    let items = published(&sb, "facebook").await;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], id);
    assert_eq!(items[0]["kind"], "link");
    assert_eq!(items[0]["account_id"], PAGE);
    let stats = sb.stats("facebook").await;
    assert_eq!(stats["published"], 1);
    assert_eq!(stats["published_by_account"][PAGE], 1);
}

#[tokio::test]
async fn user_token_other_page_token_and_missing_permission_are_200_errors() {
    let sb = start().await;
    let (user, pages) = tokens(&sb, SCOPES).await;
    let (st, body) = json_of(feed(&sb, &user, &[("message", "as a user")]).await).await;
    assert_eq!(st, 403);
    assert_graph_error(&body, 200);
    let other = pages[OTHER_PAGE].as_str().unwrap();
    let (st, body) = json_of(feed(&sb, other, &[("message", "wrong page")]).await).await;
    assert_eq!(st, 403);
    assert_graph_error(&body, 200);
    let (_, weak) = tokens(&sb, "pages_show_list,pages_read_engagement").await;
    let weak = weak[PAGE].as_str().unwrap();
    let (st, body) = json_of(feed(&sb, weak, &[("message", "no manage")]).await).await;
    assert_eq!(st, 403);
    assert_graph_error(&body, 200);
    // A Page this person does not manage.
    let token = pages[PAGE].as_str().unwrap();
    let r = sb
        .http
        .post(sb.url(&format!("{GRAPH}/999/feed")))
        .bearer_auth(token)
        .form(&[("message", "x")])
        .send()
        .await
        .unwrap();
    let (st, body) = json_of(r).await;
    assert_eq!(st, 400);
    assert_graph_error(&body, 100);
    assert!(published(&sb, "facebook").await.is_empty());
}

#[tokio::test]
async fn bad_and_expired_tokens_are_190() {
    let sb = start().await;
    let (st, body) = json_of(feed(&sb, "sbx-facebook-page-nope", &[("message", "x")]).await).await;
    assert_eq!(st, 400);
    assert_graph_error(&body, 190);
    assert_eq!(body["error"]["error_subcode"], 467);
    // A Page token from a short-lived user token dies with it.
    let r = sb
        .http
        .post(sb.url("/__sandbox/grants"))
        .json(
            &json!({ "platform": "facebook", "account": "fb-ada", "count": 1,
            "scopes": ["pages_show_list", "pages_manage_posts", "pages_read_engagement"],
            "access_ttl_secs": 3600 }),
        )
        .send()
        .await
        .unwrap();
    let user = json_of(r).await.1["grants"][0]["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, accounts) = sb.get_bearer(&format!("{GRAPH}/me/accounts"), &user).await;
    let token = accounts["data"][0]["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    sb.advance(3601);
    let (st, body) = json_of(feed(&sb, &token, &[("message", "too late")]).await).await;
    assert_eq!(st, 400);
    assert_graph_error(&body, 190);
    assert_eq!(body["error"]["error_subcode"], 463);
}

#[tokio::test]
async fn duplicate_policy_and_length_errors() {
    let sb = start().await;
    let token = page_token(&sb).await;
    assert_eq!(
        feed(&sb, &token, &[("message", "once only")])
            .await
            .status(),
        200
    );
    let (st, body) = json_of(feed(&sb, &token, &[("message", "once only")]).await).await;
    assert_eq!(st, 400);
    assert_graph_error(&body, 506);
    let (st, body) = json_of(
        feed(
            &sb,
            &token,
            &[("message", "bad #sandbox-policy-block words")],
        )
        .await,
    )
    .await;
    assert_eq!(st, 400);
    assert_graph_error(&body, 368);
    let long = "m".repeat(63_207);
    let (st, body) = json_of(feed(&sb, &token, &[("message", long.as_str())]).await).await;
    assert_eq!(st, 400);
    assert_graph_error(&body, 100);
    let (st, body) = json_of(feed(&sb, &token, &[]).await).await;
    assert_eq!(st, 400);
    assert_graph_error(&body, 100);
    assert_eq!(published(&sb, "facebook").await.len(), 1);
    // A day later the same message is welcome again.
    sb.advance(86_401);
    assert_eq!(
        feed(&sb, &token, &[("message", "once only")])
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn photos_by_url_and_upload_and_multi_photo_posts() {
    let sb = start().await;
    let token = page_token(&sb).await;
    let photos = sb.url(&format!("{GRAPH}/{PAGE}/photos"));
    let r = sb
        .http
        .post(&photos)
        .bearer_auth(&token)
        .form(&[("url", "https://example.com/cat.jpg"), ("caption", "a cat")])
        .send()
        .await
        .unwrap();
    let (st, body) = json_of(r).await;
    assert_eq!(st, 200, "{body}");
    assert!(body["id"].is_string());
    assert!(body["post_id"].as_str().unwrap().starts_with(PAGE));

    let form = Form::new()
        .text("message", "uploaded")
        .part("source", Part::bytes(vec![0xd8u8; 3000]).file_name("p.jpg"));
    let r = sb
        .http
        .post(&photos)
        .bearer_auth(&token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let (st, body) = json_of(r).await;
    assert_eq!(st, 200, "{body}");
    assert!(body["post_id"].is_string());

    // Neither url nor source.
    let r = sb
        .http
        .post(&photos)
        .bearer_auth(&token)
        .form(&[("caption", "x")])
        .send()
        .await
        .unwrap();
    let (st, body) = json_of(r).await;
    assert_eq!(st, 400);
    assert_graph_error(&body, 324);

    // Multi-photo: unpublished photos, then /feed with attached_media.
    let mut ids = Vec::new();
    for n in 0..3 {
        let r = sb
            .http
            .post(&photos)
            .bearer_auth(&token)
            .form(&[
                ("url", format!("https://example.com/{n}.jpg").as_str()),
                ("published", "false"),
            ])
            .send()
            .await
            .unwrap();
        let (st, body) = json_of(r).await;
        assert_eq!(st, 200);
        assert!(body.get("post_id").is_none(), "{body}");
        ids.push(body["id"].as_str().unwrap().to_string());
    }
    assert_eq!(
        published(&sb, "facebook").await.len(),
        2,
        "unpublished photos are not posts"
    );
    let mut form: Vec<(String, String)> = vec![("message".into(), "three photos".into())];
    for (i, id) in ids.iter().enumerate() {
        form.push((
            format!("attached_media[{i}]"),
            json!({ "media_fbid": id }).to_string(),
        ));
    }
    let r = sb
        .http
        .post(sb.url(&format!("{GRAPH}/{PAGE}/feed")))
        .bearer_auth(&token)
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let items = published(&sb, "facebook").await;
    assert_eq!(items.len(), 3);
    assert_eq!(items[2]["kind"], "photos");
    assert_eq!(items[2]["media"], json!(ids));
    // The same photos cannot be attached twice.
    let (st, body) = json_of(
        sb.http
            .post(sb.url(&format!("{GRAPH}/{PAGE}/feed")))
            .bearer_auth(&token)
            .form(&[
                ("message", "again"),
                (
                    "attached_media[0]",
                    &json!({ "media_fbid": ids[0] }).to_string(),
                ),
            ])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(st, 400);
    assert_graph_error(&body, 100);
}

#[tokio::test]
async fn videos_by_file_url() {
    let sb = start().await;
    let token = page_token(&sb).await;
    let url = sb.url(&format!("{GRAPH}/{PAGE}/videos"));
    let r = sb
        .http
        .post(&url)
        .bearer_auth(&token)
        .form(&[
            ("file_url", "https://example.com/v.mp4"),
            ("description", "a clip"),
        ])
        .send()
        .await
        .unwrap();
    let (st, body) = json_of(r).await;
    assert_eq!(st, 200, "{body}");
    let id = body["id"].as_str().unwrap();
    let items = published(&sb, "facebook").await;
    assert_eq!(items[0]["kind"], "video");
    assert_eq!(items[0]["id"], format!("{PAGE}_{id}"));
    let r = sb
        .http
        .post(&url)
        .bearer_auth(&token)
        .form(&[("description", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn faults_on_publish_and_upload() {
    let sb = start().await;
    let token = page_token(&sb).await;
    sb.fault(json!({ "platform": "facebook", "endpoint": "publish", "status": 500,
        "body": "{\"error\":{\"message\":\"An unknown error has occurred.\",\"type\":\"OAuthException\",\"code\":1}}" }))
        .await;
    let (st, body) = json_of(feed(&sb, &token, &[("message", "flaky")]).await).await;
    assert_eq!(st, 500);
    assert_eq!(body["error"]["code"], 1);
    assert!(published(&sb, "facebook").await.is_empty());
    assert_eq!(
        feed(&sb, &token, &[("message", "flaky")]).await.status(),
        200
    );
    // Unpublished photo uploads are `upload` calls.
    sb.fault(json!({ "platform": "facebook", "endpoint": "upload", "status": 503 }))
        .await;
    let r = sb
        .http
        .post(sb.url(&format!("{GRAPH}/{PAGE}/photos")))
        .bearer_auth(&token)
        .form(&[("url", "https://example.com/x.jpg"), ("published", "false")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(sb.stats("facebook").await["published"], 1);
}

#[tokio::test]
async fn insights_grow_with_the_sandbox_clock() {
    let sb = start().await;
    let token = page_token(&sb).await;
    let (_, body) = json_of(feed(&sb, &token, &[("message", "measure")]).await).await;
    let post = body["id"].as_str().unwrap().to_string();
    let path = format!(
        "{GRAPH}/{post}/insights?metric=post_media_view,post_total_media_view_unique,post_reactions_by_type_total"
    );
    let (st, first) = sb.get_bearer(&path, &token).await;
    assert_eq!(st, 200, "{first}");
    let data = first["data"].as_array().unwrap();
    assert_eq!(data.len(), 3);
    assert_eq!(data[0]["name"], "post_media_view");
    assert_eq!(data[0]["period"], "lifetime");
    assert!(data[2]["values"][0]["value"]["like"].is_u64());
    let r = sb
        .http
        .post(sb.url("/__sandbox/clock"))
        .json(&json!({ "advance_secs": 24 * 3600 }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (_, later) = sb.get_bearer(&path, &token).await;
    let v = |b: &Value, i: usize| b["data"][i]["values"][0]["value"].as_u64().unwrap();
    assert!(v(&later, 0) > v(&first, 0), "{first} {later}");
    assert!(v(&later, 1) > v(&first, 1));
    assert!(
        later["data"][2]["values"][0]["value"]["like"].as_u64()
            > first["data"][2]["values"][0]["value"]["like"].as_u64()
    );
    // Without read_insights: #200.
    let (_, weak) = tokens(
        &sb,
        "pages_show_list,pages_manage_posts,pages_read_engagement",
    )
    .await;
    let (st, body) = sb.get_bearer(&path, weak[PAGE].as_str().unwrap()).await;
    assert_eq!(st, 403);
    assert_graph_error(&body, 200);
    let (st, body) = sb
        .get_bearer(&format!("{GRAPH}/{post}/insights?metric=page_fans"), &token)
        .await;
    assert_eq!(st, 400);
    assert_graph_error(&body, 100);
}

/// Meta retired `post_engaged_users` (March 2024) and `post_impressions*` (replaced by the
/// "views" metrics); one retired name fails the whole insights call with `(#100)`, the current
/// metrics next to it included (Page Insights,
/// https://developers.facebook.com/docs/graph-api/reference/insights).
#[tokio::test]
async fn retired_post_metrics_fail_the_whole_call() {
    let sb = start().await;
    let token = page_token(&sb).await;
    let (_, body) = json_of(feed(&sb, &token, &[("message", "retired")]).await).await;
    let post = body["id"].as_str().unwrap().to_string();
    for retired in [
        "post_impressions",
        "post_engaged_users",
        "post_impressions_unique",
    ] {
        let path = format!("{GRAPH}/{post}/insights?metric=post_media_view,{retired}");
        let (st, body) = sb.get_bearer(&path, &token).await;
        assert_eq!(st, 400, "{retired}: {body}");
        assert_graph_error(&body, 100);
        assert!(
            body["error"]["message"].as_str().unwrap().contains(retired),
            "{body}"
        );
        assert!(body.get("data").is_none(), "{body}");
    }
    // No metric at all: 3001 / 1504028.
    let (st, body) = sb
        .get_bearer(&format!("{GRAPH}/{post}/insights"), &token)
        .await;
    assert_eq!(st, 400);
    assert_graph_error(&body, 3001);
    assert_eq!(body["error"]["error_subcode"], 1_504_028);
    // The current post metrics are served.
    let path = format!(
        "{GRAPH}/{post}/insights?metric=post_media_view,post_total_media_view_unique,post_reactions_by_type_total,post_clicks"
    );
    let (st, body) = sb.get_bearer(&path, &token).await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(body["data"].as_array().unwrap().len(), 4);
}

#[tokio::test]
async fn json_bodies_and_concurrent_duplicates_publish_once() {
    let sb = start().await;
    let token = page_token(&sb).await;
    let photos = sb.url(&format!("{GRAPH}/{PAGE}/photos"));
    let r = sb
        .http
        .post(&photos)
        .bearer_auth(&token)
        .json(&json!({ "url": "https://example.com/a.jpg", "published": false }))
        .send()
        .await
        .unwrap();
    let (st, body) = json_of(r).await;
    assert_eq!(st, 200, "{body}");
    let photo = body["id"].as_str().unwrap().to_string();
    let r = sb
        .http
        .post(sb.url(&format!("{GRAPH}/{PAGE}/feed")))
        .bearer_auth(&token)
        .json(&json!({ "message": "json post", "attached_media": [{ "media_fbid": photo }] }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    let mut set = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let rb = sb
            .http
            .post(sb.url(&format!("{GRAPH}/{PAGE}/feed")))
            .bearer_auth(&token)
            .form(&[("message", "at the same time")]);
        set.spawn(async move { rb.send().await.unwrap().status() });
    }
    let mut ok = 0;
    while let Some(s) = set.join_next().await {
        if s.unwrap() == StatusCode::OK {
            ok += 1;
        }
    }
    assert_eq!(ok, 1);
    let items = published(&sb, "facebook").await;
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["media"], json!([photo]));
    assert_eq!(sb.stats("facebook").await["published_by_account"][PAGE], 2);
}
