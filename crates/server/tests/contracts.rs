//! The platforms' own API descriptions as contracts (issue 11, "Contracts in the test suite").
//!
//! The demo's whole flow runs against the sandbox (connect all seven platforms and choose the
//! Facebook Pages, validate, health, permissions, publish with media on every platform, the
//! video paths: X chunked upload, YouTube resumable upload, Pinterest video, Instagram Reels,
//! Facebook video, LinkedIn video; the "did it post?" lookups after a create's answer was lost; then
//! the analytics sync and a refresh of every connection). Answers of scripted faults
//! (`x-sandbox-fault`) are not the platform's and are not checked.
//! The sandbox records every exchange (`GET /__sandbox/exchanges`), and each is held against
//! what its platform publishes (`../shared/reference/`, see `contract/mod.rs`): every call
//! the clients made, every answer the sandbox gave.
//!
//! A non-conformance fails the test unless it is in [`KNOWN`], which names the finding of
//! issue 11 that fixes it in another change, or the documentation page that decides where a
//! description is silent or wrong.

mod common;
mod contract;

use std::collections::BTreeMap;

use chrono::Duration;
use common::*;
use contract::{discovery::Discovery, fixtures::Fixtures, graph::Graph, openapi::OpenApi};
use contract::{Problem, Report};
use reqwest::StatusCode;
use serde_json::{json, Value};
use switchboard_core::catalog::BUILTIN_IDS;
use switchboard_server::workers::{publish, sync};

/// A non-conformance that is known and left to another change (or decided by a page).
struct Known {
    platform: &'static str,
    /// Part of the call (`METHOD host/template`).
    call: &'static str,
    /// Part of the problem text.
    what: &'static str,
    /// Why it is left: the finding of issue 11 that fixes it, or the page that decides.
    #[allow(dead_code)]
    why: &'static str,
}

const KNOWN: &[Known] = &[
    // Finding 5 (Meta analytics), fixed in another change: Facebook asks for, and the
    // sandbox serves, post metrics Meta retired.
    Known {
        platform: "facebook",
        call: "/insights",
        what: "is retired",
        why: "finding 5 (Meta metrics, `meta-yt`)",
    },
    Known {
        platform: "facebook",
        call: "/insights",
        what: "retired insights metric",
        why: "finding 5 (Meta metrics, `meta-yt`)",
    },
    Known {
        platform: "instagram",
        call: "/insights",
        what: "is retired",
        why: "finding 5 (Meta metrics, `meta-yt`)",
    },
    Known {
        platform: "instagram",
        call: "/insights",
        what: "retired insights metric",
        why: "finding 5 (Meta metrics, `meta-yt`)",
    },
    // Pinterest's continuous refresh is newer than its OpenAPI document (5.23.0): the refresh
    // takes `refresh_on=true` and answers a new refresh token with
    // `response_type: "everlasting_refresh"`. The documentation decides:
    // https://github.com/pinterest/pinterest-python-generated-api-client/blob/main/docs/OauthApi.md
    // (the catalog's source, `crates/core/catalog/pinterest.toml`).
    Known {
        platform: "pinterest",
        call: "POST api.pinterest.com/v5/oauth/token",
        what: "`refresh_on`",
        why: "documentation decides: Pinterest OauthApi.md (continuous refresh)",
    },
    Known {
        platform: "pinterest",
        call: "POST api.pinterest.com/v5/oauth/token",
        what: "everlasting_refresh",
        why: "documentation decides: Pinterest OauthApi.md (continuous refresh)",
    },
    // …whose answer (no schema in the discriminator's mapping) carries the new refresh token.
    Known {
        platform: "pinterest",
        call: "POST api.pinterest.com/v5/oauth/token",
        what: "member `refresh_token",
        why: "documentation decides: Pinterest OauthApi.md (continuous refresh)",
    },
];

fn is_known(p: &Problem) -> Option<&'static Known> {
    KNOWN
        .iter()
        .find(|k| k.platform == p.platform && p.call.contains(k.call) && p.what.contains(k.what))
}

const IMAGE_BYTES: u64 = 120_000;
/// Small, so YouTube's resumable upload is three 256 KiB chunks and X's chunked upload a few
/// appends, and the whole test stays quick.
const VIDEO_BYTES: u64 = 600_000;

fn media(app: &TestApp, name: &str, kind: &str) -> Value {
    let (ext, mime, bytes) = if kind == "video" {
        ("mp4", "video/mp4", VIDEO_BYTES)
    } else {
        ("jpg", "image/jpeg", IMAGE_BYTES)
    };
    json!({
        "url": format!("{}/__sandbox/media/{name}.{ext}?bytes={bytes}", app.sandbox),
        "kind": kind,
        "mime_type": mime,
        "size_bytes": bytes,
        "alt_text": "A sample picture",
    })
}

/// The id of the first board of the Pinterest connection, read from Pinterest with its token.
async fn pinterest_board(app: &TestApp, connection: &str) -> String {
    let (s, token) = app
        .get(&format!("/v1/connections/{connection}/token"))
        .await;
    assert_eq!(s, StatusCode::OK, "{token}");
    let boards: Value = app
        .http
        .get(format!("{}/api.pinterest.com/v5/boards", app.sandbox))
        .bearer_auth(token["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    boards["items"][0]["id"].as_str().unwrap().to_string()
}

/// The content of one post: text, one media item, the overrides its platform needs.
fn content(app: &TestApp, platform: &str, kind: &str, board: &str) -> Value {
    let overrides = match platform {
        "tiktok" => json!({"tiktok": {"privacy_level": "SELF_ONLY", "title": "Contract run"}}),
        "youtube" => json!({"youtube": {"title": "Contract run", "privacy_status": "private"}}),
        "pinterest" => json!({"pinterest": {"board_id": board, "title": "Contract run"}}),
        _ => json!({}),
    };
    json!({
        "text": format!("Contract run on {platform} with a {kind}."),
        "hashtags": ["switchboard"],
        "media": [media(app, &format!("{platform}-{kind}"), kind)],
        "overrides": overrides,
    })
}

/// Runs the publisher (moving the clock 5 s between rounds) until every post's targets are
/// final; returns the targets.
async fn publish_all(app: &TestApp, posts: &[String]) -> Vec<Value> {
    for _ in 0..80 {
        publish::tick(&app.state).await.unwrap();
        let mut targets = Vec::new();
        for id in posts {
            let (_, p) = app.get(&format!("/v1/posts/{id}")).await;
            targets.extend(p["targets"].as_array().cloned().unwrap_or_default());
        }
        let done = targets.iter().all(|t| {
            ["published", "failed", "unknown", "cancelled"]
                .contains(&t["status"].as_str().unwrap_or_default())
        });
        if done {
            return targets;
        }
        app.clock.advance(Duration::seconds(5));
    }
    panic!("the posts did not finish");
}

async fn exchanges(app: &TestApp) -> Vec<Value> {
    let v: Value = app
        .http
        .get(format!("{}/__sandbox/exchanges", app.sandbox))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["exchanges"].as_array().cloned().unwrap_or_default()
}

/// Holds every recorded exchange against its platform's description.
fn check_all(exchanges: &[Value]) -> Report {
    let x = OpenApi::load_with(
        "twitter",
        "x/openapi.json",
        &["api.x.com", "api.twitter.com"],
        contract::openapi::x_documentation_decides,
    );
    let pinterest = OpenApi::load(
        "pinterest",
        "pinterest/openapi.json",
        &["api.pinterest.com", "api-sandbox.pinterest.com"],
    );
    let youtube = Discovery::load();
    let graph = Graph::load();
    let fixtures = Fixtures::load();
    let mut report = Report::default();
    for ex in exchanges {
        let host = ex["host"].as_str().unwrap_or_default();
        let path = ex["path"].as_str().unwrap_or_default();
        let platform = ex["platform"].as_str().unwrap_or_default();
        let browser = path.contains("/authorize")
            || path.contains("/dialog/oauth")
            || path.contains("/auth/authorize")
            || path == "/oauth/v2/authorization"
            || path.contains("/o/oauth2/")
            || (host == "www.pinterest.com" && path.starts_with("/oauth"))
            || host == "x.com";
        if !ex["response"]["headers"]["x-sandbox-fault"].is_null() {
            report.uncovered(
                ex,
                "answered by a scripted fault, not by the platform's simulation",
            );
        } else if browser {
            report.uncovered(
                ex,
                "the consent page a person sees (browser, not an API call)",
            );
        } else if x.serves(host) {
            if path.starts_with("/2/oauth2/") {
                report.uncovered(
                    ex,
                    "OAuth 2.0 token endpoint; not in the OpenAPI document \
                     (https://docs.x.com/resources/fundamentals/authentication/oauth-2-0/user-access-token decides)",
                );
            } else {
                x.check(ex, &mut report);
            }
        } else if pinterest.serves(host) {
            pinterest.check(ex, &mut report);
        } else if youtube.serves(host) && path.starts_with("/youtube/")
            || youtube.serves(host) && path.starts_with("/upload/")
        {
            youtube.check(ex, &mut report);
        } else if graph.serves(host) {
            graph.check(ex, &mut report);
        } else if platform == "linkedin" || platform == "tiktok" {
            fixtures.check(ex, &mut report);
        } else {
            report.uncovered(
                ex,
                "no description covers it (OAuth/OpenID endpoints of Google, Instagram, Pinterest's media upload host)",
            );
        }
    }
    report
}

fn summary(report: &Report) -> String {
    let mut s = String::new();
    s.push_str("platform   calls conforming/checked   answers conforming/checked\n");
    for (p, c) in &report.counts {
        s.push_str(&format!(
            "{p:<10} {:>5}/{:<5}                {:>5}/{:<5}\n",
            c[1], c[0], c[3], c[2]
        ));
    }
    for (p, calls) in &report.calls {
        s.push_str(&format!("{p}: {} distinct calls\n", calls.len()));
        for c in calls {
            s.push_str(&format!("    {c}\n"));
        }
    }
    s.push_str(&format!("uncovered: {}\n", report.uncovered.len()));
    for u in report
        .uncovered
        .iter()
        .collect::<std::collections::BTreeSet<_>>()
    {
        s.push_str(&format!("    {u}\n"));
    }
    s
}

fn problem_lines(problems: &[&Problem]) -> String {
    let mut seen = std::collections::BTreeSet::new();
    for p in problems {
        seen.insert(format!(
            "[{}] {:?} {}: {}",
            p.platform, p.side, p.call, p.what
        ));
    }
    seen.into_iter().collect::<Vec<_>>().join("\n")
}

#[tokio::test]
async fn every_call_and_answer_of_the_whole_flow_keeps_to_the_platforms_descriptions() {
    // A LinkedIn partner app, so that LinkedIn's refresh is exercised too.
    let app = TestApp::spawn_with(Setup {
        sandbox: Box::new(|c| c.linkedin_refresh_tokens = true),
        ..Setup::default()
    })
    .await;

    // Connect every platform; Facebook's Pages are chosen through the API.
    let mut conns: BTreeMap<&str, String> = BTreeMap::new();
    for p in BUILTIN_IDS {
        let c = app.connect(p).await;
        conns.insert(p, c["id"].as_str().expect("connection id").to_string());
    }
    let fb = &conns["facebook"];
    let (s, pages) = app.get(&format!("/v1/connections/{fb}/pages")).await;
    assert_eq!(s, StatusCode::OK, "{pages}");
    let ids: Vec<Value> = pages["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].clone())
        .collect();
    let (s, v) = app
        .post(
            &format!("/v1/connections/{fb}/pages"),
            json!({"page_ids": ids}),
        )
        .await;
    assert!(s.is_success(), "{v}");

    // Health, validation and permissions of every connection.
    for (p, id) in &conns {
        let (s, v) = app.get(&format!("/v1/connections/{id}/health")).await;
        assert_eq!(s, StatusCode::OK, "{p} health: {v}");
        let (s, v) = app
            .post(&format!("/v1/connections/{id}/validate"), json!({}))
            .await;
        assert_eq!(s, StatusCode::OK, "{p} validate: {v}");
        let (s, v) = app.get(&format!("/v1/connections/{id}/permissions")).await;
        assert_eq!(s, StatusCode::OK, "{p} permissions: {v}");
    }

    // One post with media per platform (the demo's), then the video paths.
    let board = pinterest_board(&app, &conns["pinterest"]).await;
    let mut plan: Vec<(&str, &str)> = BUILTIN_IDS
        .iter()
        .map(|p| {
            let kind = if matches!(*p, "tiktok" | "youtube") {
                "video"
            } else {
                "image"
            };
            (*p, kind)
        })
        .collect();
    for p in ["twitter", "pinterest", "instagram", "facebook", "linkedin"] {
        plan.push((p, "video"));
    }
    let mut posts = Vec::new();
    for (platform, kind) in &plan {
        let body = json!({
            "content": content(&app, platform, kind, &board),
            "connection_ids": [conns[platform]],
        });
        let (s, v) = app.post("/v1/posts/validate", body.clone()).await;
        assert_eq!(s, StatusCode::OK, "{platform} {kind}: {v}");
        assert_eq!(v["valid"], true, "{platform} {kind}: {v}");
        let (s, v) = app.post("/v1/posts", body).await;
        assert_eq!(s, StatusCode::CREATED, "{platform} {kind}: {v}");
        posts.push(v["id"].as_str().unwrap().to_string());
    }
    let targets = publish_all(&app, &posts).await;
    for t in &targets {
        assert_eq!(t["status"], "published", "{t}");
    }

    // The "did it post?" lookups: a create whose answer comes after the client gave up (the
    // test server's 2 s timeout) is looked up before anything is sent again.
    let mut lost = Vec::new();
    for platform in ["twitter", "linkedin", "facebook", "pinterest"] {
        app.fault(
            json!({"platform": platform, "endpoint": "publish", "delay_ms": 2500, "times": 1}),
        )
        .await;
        let body = json!({
            "content": content(&app, platform, "image", &board),
            "connection_ids": [conns[platform]],
        });
        let (s, v) = app.post("/v1/posts", body).await;
        assert_eq!(s, StatusCode::CREATED, "{platform}: {v}");
        lost.push(v["id"].as_str().unwrap().to_string());
    }
    publish_all(&app, &lost).await;

    // Metrics, then a refresh of every connection.
    app.clock.advance(Duration::minutes(30));
    let (s, v) = app.post("/v1/sync", json!({})).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    sync::tick(&app.state).await.unwrap();
    let (_, job) = app
        .get(&format!("/v1/sync/jobs/{}", v["id"].as_str().unwrap()))
        .await;
    assert!(job["finished_at"].is_string(), "{job}");
    // Instagram renews a token only once it is a day old.
    app.clock.advance(Duration::hours(25));
    for (p, id) in &conns {
        let (s, v) = app
            .post(&format!("/v1/connections/{id}/refresh"), json!({}))
            .await;
        // Facebook issues no refresh tokens (the person reconnects): refused before any call.
        let no_refresh = *p == "facebook" && s == StatusCode::CONFLICT;
        assert!(s.is_success() || no_refresh, "{p} refresh: {s} {v}");
    }

    let all = exchanges(&app).await;
    let report = check_all(&all);
    let summary = summary(&report);
    eprintln!("{summary}");
    let (known, unexpected): (Vec<&Problem>, Vec<&Problem>) =
        report.problems.iter().partition(|p| is_known(p).is_some());
    eprintln!("known gaps ({}):\n{}", known.len(), problem_lines(&known));
    eprintln!(
        "unexpected ({}):\n{}",
        unexpected.len(),
        problem_lines(&unexpected)
    );

    // The flow exercised what it is meant to: every platform's calls were checked, the video
    // paths among them.
    for p in BUILTIN_IDS {
        assert!(
            report.counts.get(p).is_some_and(|c| c[0] > 0 && c[2] > 0),
            "no {p} call was checked:\n{summary}"
        );
    }
    let called = |platform: &str, needle: &str| {
        report
            .calls
            .get(platform)
            .is_some_and(|c| c.iter().any(|x| x.contains(needle)))
    };
    for (platform, needle) in [
        ("twitter", "POST api.x.com/2/media/upload/initialize"),
        ("twitter", "/append"),
        ("twitter", "/finalize"),
        ("twitter", "POST api.x.com/2/tweets"),
        ("twitter", "GET api.x.com/2/tweets/{id}"),
        ("youtube", "resumable upload: PUT session URI"),
        ("youtube", "youtube.videos.list"),
        ("pinterest", "POST api.pinterest.com/v5/media"),
        ("pinterest", "GET api.pinterest.com/v5/media/{media_id}"),
        ("pinterest", "POST api.pinterest.com/v5/pins"),
        ("pinterest", "/analytics"),
        ("instagram", "POST graph.instagram.com/{IGUser}/media"),
        ("instagram", "media_publish"),
        ("instagram", "/insights"),
        ("facebook", "POST graph.facebook.com/{Page}/videos"),
        ("facebook", "POST graph.facebook.com/{Page}/photos"),
        ("facebook", "GET graph.facebook.com/{User}/accounts"),
        ("linkedin", "POST api.linkedin.com/rest/posts"),
        ("linkedin", "POST api.linkedin.com/rest/videos"),
        ("linkedin", "GET api.linkedin.com/rest/socialActions/{urn}"),
        (
            "tiktok",
            "POST open.tiktokapis.com/v2/post/publish/video/init/",
        ),
        ("tiktok", "PUT open-upload.tiktokapis.com/video/"),
        (
            "tiktok",
            "POST open.tiktokapis.com/v2/post/publish/status/fetch/",
        ),
        ("twitter", "GET api.x.com/2/users/{id}/tweets"),
        ("linkedin", "GET api.linkedin.com/rest/posts"),
        ("facebook", "GET graph.facebook.com/{Page}/feed"),
        (
            "pinterest",
            "GET api.pinterest.com/v5/boards/{board_id}/pins",
        ),
    ] {
        assert!(
            called(platform, needle),
            "no {platform} call {needle}:\n{summary}"
        );
    }
    assert!(
        unexpected.is_empty(),
        "{} non-conformance(s) against the platforms' descriptions:\n{}\n\n{summary}",
        unexpected.len(),
        problem_lines(&unexpected)
    );
}

/// The checkers are not blind: answers and calls that break the descriptions in the ways the
/// issue found are reported (an X media upload with `media_type`, X `public_metrics` without
/// `bookmark_count`, an unknown X query parameter, a Pinterest `data_status` outside its enum,
/// an undocumented TikTok member, a Graph field no node has, a YouTube call without its
/// required `part`).
#[test]
fn the_checkers_report_what_breaks_a_description() {
    let ex = |platform: &str,
              method: &str,
              host: &str,
              path: &str,
              query: Value,
              request: Value,
              status: u16,
              response: Value| {
        json!({
            "platform": platform, "method": method, "host": host, "path": path, "query": query,
            "request": request,
            "response": {"status": status, "headers": {}, "content_type": "application/json", "size": 10, "json": response},
        })
    };
    let multipart = |fields: Value| json!({"headers": {"content-type": "multipart/form-data; boundary=x"}, "content_type": "multipart/form-data; boundary=x", "size": 100, "json": null, "form": fields, "files": [{"name": "media", "content_type": "image/jpeg", "size": 90}]});
    let none = json!({"headers": {}, "content_type": null, "size": 0, "json": null, "form": null, "files": []});
    let samples = vec![
        ex(
            "twitter",
            "POST",
            "api.x.com",
            "/2/media/upload",
            json!([]),
            multipart(json!({"media_category": "tweet_image", "media_type": "image/jpeg"})),
            200,
            json!({"data": {"id": "1"}}),
        ),
        ex(
            "twitter",
            "GET",
            "api.x.com",
            "/2/tweets/1",
            json!([["tweet.fields", "public_metrics"], ["tweet_fields", "x"]]),
            none.clone(),
            200,
            json!({"data": {"id": "1", "text": "x", "public_metrics": {"retweet_count": 1, "reply_count": 1, "like_count": 1, "quote_count": 1, "impression_count": 1}}}),
        ),
        ex(
            "pinterest",
            "GET",
            "api.pinterest.com",
            "/v5/pins/1/analytics",
            json!([
                ["start_date", "2026-12-01"],
                ["end_date", "2026-12-07"],
                ["metric_types", "IMPRESSION"]
            ]),
            none.clone(),
            200,
            json!({"all": {"daily_metrics": [{"date": "2026-12-01", "data_status": "NOT_A_STATUS", "metrics": {"IMPRESSION": 1}}]}}),
        ),
        ex(
            "tiktok",
            "POST",
            "open.tiktokapis.com",
            "/v2/post/publish/status/fetch/",
            json!([]),
            json!({"headers": {"authorization": "Bearer [redacted]"}, "content_type": "application/json", "size": 20, "json": {"publish_id": "p"}, "form": null, "files": []}),
            200,
            json!({"data": {"status": "PUBLISH_COMPLETE", "invented": 1}, "error": {"code": "ok", "message": "", "log_id": "1"}}),
        ),
        ex(
            "youtube",
            "GET",
            "www.googleapis.com",
            "/youtube/v3/videos",
            json!([["id", "1"]]),
            none.clone(),
            200,
            json!({"kind": "youtube#videoListResponse", "items": [{"id": "1", "statistics": {"viewCount": "1", "invented": 2}}]}),
        ),
        ex(
            "facebook",
            "GET",
            "graph.facebook.com",
            "/v26.0/me",
            json!([["fields", "id,name,not_a_field"]]),
            none,
            200,
            json!({"id": "1", "name": "n"}),
        ),
    ];
    let report = check_all(&samples);
    let found = |platform: &str, needle: &str| {
        report
            .problems
            .iter()
            .any(|p| p.platform == platform && p.what.contains(needle))
    };
    let all = problem_lines(&report.problems.iter().collect::<Vec<_>>());
    assert!(found("twitter", "media_type"), "{all}");
    assert!(
        found("twitter", "unknown query parameter `tweet_fields`"),
        "{all}"
    );
    assert!(
        !found("twitter", "`tweet.fields`"),
        "the documentation's name is accepted: {all}"
    );
    assert!(found("twitter", "bookmark_count"), "{all}");
    assert!(found("pinterest", "NOT_A_STATUS"), "{all}");
    assert!(found("tiktok", "invented"), "{all}");
    assert!(found("youtube", "required parameter `part`"), "{all}");
    assert!(found("youtube", "invented"), "{all}");
    assert!(found("facebook", "not_a_field"), "{all}");
}
