//! `/__sandbox/`: faults, stats, clock, introspection, reset; malformed requests.

use std::time::Duration;

use serde_json::{json, Value};

use crate::common::*;

const X_AUTH: &str = "/x.com/i/oauth2/authorize";
const X_TOKEN: &str = "/api.x.com/2/oauth2/token";
const X_ME: &str = "/api.x.com/2/users/me";

/// A fresh X code and its verifier.
async fn x_code(sb: &TestSandbox, scope: &str) -> (String, String) {
    let (verifier, challenge) = pkce();
    let p = [
        ("response_type", "code"),
        ("client_id", "sandbox-twitter-client"),
        ("redirect_uri", REDIRECT),
        ("scope", scope),
        ("state", "s"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    (sb.code_for(X_AUTH, &p, "x-ada").await, verifier)
}

async fn x_exchange(sb: &TestSandbox, code: &str, verifier: &str) -> reqwest::Response {
    sb.http
        .post(sb.url(X_TOKEN))
        .basic_auth("sandbox-twitter-client", Some("sandbox-twitter-secret"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
        ])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn fault_503_once_then_success() {
    let sb = start().await;
    sb.fault(json!({
        "platform": "twitter",
        "endpoint": "token",
        "status": 503,
        "body": "{\"title\":\"Service Unavailable\"}",
        "headers": { "Retry-After": "2" },
        "times": 1,
    }))
    .await;
    let (code, verifier) = x_code(&sb, "tweet.read users.read").await;
    let r = x_exchange(&sb, &code, &verifier).await;
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["retry-after"], "2");
    assert_eq!(r.headers()["content-type"], "application/json");
    assert_eq!(json_of(r).await.1, json!({"title":"Service Unavailable"}));
    // The fault did not consume the code; the retry succeeds.
    let r = x_exchange(&sb, &code, &verifier).await;
    assert_eq!(r.status(), 200);
    let s = sb.stats("twitter").await;
    assert_eq!(s["faults_served"], 1);
    assert_eq!(s["token_exchanges"], 1);
    assert_eq!(s["authorizations"], 1);
}

#[tokio::test]
async fn delay_without_status_times_out_a_short_client_then_answers_normally() {
    let sb = start().await;
    let (code, verifier) = x_code(&sb, "tweet.read users.read").await;
    let tok = json_of(x_exchange(&sb, &code, &verifier).await).await.1;
    let access = tok["access_token"].as_str().unwrap().to_string();
    sb.fault(json!({ "platform": "twitter", "endpoint": "profile", "delay_ms": 1500 }))
        .await;
    let impatient = client(Some(Duration::from_millis(300)));
    let err = impatient
        .get(sb.url(X_ME))
        .bearer_auth(&access)
        .send()
        .await
        .expect_err("times out");
    assert!(err.is_timeout(), "{err}");
    // The fault was used once; the next call is normal and quick.
    let r = impatient
        .get(sb.url(X_ME))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // A patient client gets the real answer after the delay.
    sb.fault(json!({ "platform": "twitter", "endpoint": "*", "delay_ms": 200 }))
        .await;
    let started = std::time::Instant::now();
    let (st, _) = sb.get_bearer(X_ME, &access).await;
    assert_eq!(st, 200);
    assert!(started.elapsed() >= Duration::from_millis(200));
}

#[tokio::test]
async fn refresh_faults_count_as_refresh_failures_and_faults_can_be_cleared() {
    let sb = start().await;
    let (code, verifier) = x_code(&sb, "tweet.read users.read offline.access").await;
    let tok = json_of(x_exchange(&sb, &code, &verifier).await).await.1;
    let rt = tok["refresh_token"].as_str().unwrap().to_string();
    sb.fault(json!({ "platform": "twitter", "endpoint": "refresh", "status": 429, "times": 5 }))
        .await;
    let refresh = || {
        sb.http
            .post(sb.url(X_TOKEN))
            .basic_auth("sandbox-twitter-client", Some("sandbox-twitter-secret"))
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", rt.as_str()),
            ])
            .send()
    };
    assert_eq!(refresh().await.unwrap().status(), 429);
    let listed = sb
        .http
        .get(sb.url("/__sandbox/faults"))
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(listed).await.1["faults"][0]["times"], 4);
    let r = sb
        .http
        .delete(sb.url("/__sandbox/faults"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // The rotating refresh token was not consumed by the fault.
    assert_eq!(refresh().await.unwrap().status(), 200);
    let s = sb.stats("twitter").await;
    assert_eq!(s["refresh_failures"], 1);
    assert_eq!(s["refreshes"], 1);
    assert_eq!(s["faults_served"], 1);
}

#[tokio::test]
async fn bad_fault_specs_are_rejected() {
    let sb = start().await;
    for spec in [
        json!({ "platform": "myspace", "endpoint": "token", "status": 500 }),
        json!({ "platform": "twitter", "endpoint": "launch", "status": 500 }),
        json!({ "platform": "twitter", "endpoint": "token", "status": 1000 }),
        json!({ "platform": "twitter", "endpoint": "token" }),
        json!("not an object"),
    ] {
        let r = sb
            .http
            .post(sb.url("/__sandbox/faults"))
            .json(&spec)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{spec}");
    }
}

#[tokio::test]
async fn stats_list_all_seven_platforms_and_count_a_flow() {
    let sb = start().await;
    let r = sb
        .http
        .get(sb.url("/__sandbox/stats"))
        .send()
        .await
        .unwrap();
    let (_, all) = json_of(r).await;
    let platforms = all["platforms"].as_object().unwrap();
    assert_eq!(platforms.len(), 7);
    for p in [
        "twitter",
        "linkedin",
        "facebook",
        "instagram",
        "tiktok",
        "youtube",
        "pinterest",
    ] {
        let s = &platforms[p];
        for k in [
            "authorizations",
            "token_exchanges",
            "refreshes",
            "refresh_failures",
            "long_lived_exchanges",
            "revocations",
            "profile_calls",
            "faults_served",
        ] {
            assert_eq!(s[k], 0, "{p}.{k}");
        }
    }
    let (code, verifier) = x_code(&sb, "tweet.read users.read").await;
    let tok = json_of(x_exchange(&sb, &code, &verifier).await).await.1;
    let access = tok["access_token"].as_str().unwrap();
    sb.get_bearer(X_ME, access).await;
    sb.get_bearer(X_ME, "bogus").await;
    let s = sb.stats("twitter").await;
    assert_eq!(s["authorizations"], 1);
    assert_eq!(s["token_exchanges"], 1);
    assert_eq!(s["profile_calls"], 2);
    assert_eq!(sb.sandbox.stats()["platforms"]["twitter"], s);
}

#[tokio::test]
async fn clock_introspect_and_reset() {
    let sb = start().await;
    let r = sb
        .http
        .get(sb.url("/__sandbox/clock"))
        .send()
        .await
        .unwrap();
    let before = json_of(r).await.1["now"].as_str().unwrap().to_string();
    let before = chrono::DateTime::parse_from_rfc3339(&before).unwrap();
    let r = sb
        .http
        .post(sb.url("/__sandbox/clock"))
        .json(&json!({ "advance_secs": 3600 }))
        .send()
        .await
        .unwrap();
    let after = json_of(r).await.1["now"].as_str().unwrap().to_string();
    let after = chrono::DateTime::parse_from_rfc3339(&after).unwrap();
    assert!((after - before).num_seconds() >= 3600);

    let (code, verifier) = x_code(&sb, "tweet.read users.read offline.access").await;
    let tok = json_of(x_exchange(&sb, &code, &verifier).await).await.1;
    let access = tok["access_token"].as_str().unwrap().to_string();
    let i = sb.introspect(&access).await;
    assert_eq!(i["active"], true);
    assert_eq!(i["platform"], "twitter");
    assert_eq!(i["token_type"], "access_token");
    assert_eq!(i["account_id"], "x-ada");
    assert_eq!(
        i["scopes"],
        json!(["tweet.read", "users.read", "offline.access"])
    );
    let expires = chrono::DateTime::parse_from_rfc3339(i["expires_at"].as_str().unwrap()).unwrap();
    assert!((expires - after).num_seconds() > 7000);
    assert_eq!(sb.introspect("nothing").await, json!({ "active": false }));

    let r = sb
        .http
        .post(sb.url("/__sandbox/reset"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(sb.introspect(&access).await, json!({ "active": false }));
    assert_eq!(sb.stats("twitter").await["token_exchanges"], 0);
    let r = sb
        .http
        .post(sb.url("/__sandbox/introspect"))
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn accounts_are_listed() {
    let sb = start().await;
    let r = sb
        .http
        .get(sb.url("/__sandbox/accounts"))
        .send()
        .await
        .unwrap();
    let (st, body) = json_of(r).await;
    assert_eq!(st, 200);
    let ig: &Vec<Value> = body["platforms"]["instagram"].as_array().unwrap();
    assert!(ig
        .iter()
        .any(|a| a["id"] == "ig-personal" && a["account_type"] == "PERSONAL"));
    let yt = body["platforms"]["youtube"].as_array().unwrap();
    assert!(yt
        .iter()
        .any(|a| a["id"] == "yt-nochannel" && a["channel"].is_null()));
}

#[tokio::test]
async fn malformed_requests_get_platform_errors_not_panics() {
    let sb = start().await;
    // Garbage Basic credentials at X.
    let r = sb
        .http
        .post(sb.url(X_TOKEN))
        .header("Authorization", "Basic %%%not-base64")
        .body(vec![0xff, 0xfe, 0x00, b'&', b'='])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // JSON where a form is expected, at TikTok.
    let r = sb
        .http
        .post(sb.url("/open.tiktokapis.com/v2/oauth/token/"))
        .json(&json!({ "client_key": "x" }))
        .send()
        .await
        .unwrap();
    let (st, body) = json_of(r).await;
    assert_eq!(st, 401);
    assert_eq!(body["error"], "invalid_client");
    // An empty Graph exchange.
    let r = sb
        .http
        .get(sb.url("/graph.facebook.com/v22.0/oauth/access_token"))
        .send()
        .await
        .unwrap();
    let (st, body) = json_of(r).await;
    assert_eq!(st, 400);
    assert_eq!(body["error"]["type"], "OAuthException");
    // Nonsense on the authorization endpoints: pages, not crashes.
    for path in [
        "/x.com/i/oauth2/authorize?%zz=%%&client_id",
        "/www.tiktok.com/v2/auth/authorize/?client_key=%ff%fe",
        "/accounts.google.com/o/oauth2/v2/auth?scope=%00",
    ] {
        let r = sb.http.get(sb.url(path)).send().await.unwrap();
        assert!(r.status().is_client_error(), "{path}: {}", r.status());
    }
    // The sandbox still answers.
    assert_eq!(
        sb.http
            .get(sb.url("/__sandbox/stats"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn sample_media_files_have_the_asked_size_and_type() {
    let sb = start().await;
    let r = sb
        .http
        .get(sb.url("/__sandbox/media/photo-1.jpg?bytes=1234"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/jpeg");
    let a = r.bytes().await.unwrap();
    assert_eq!(a.len(), 1234);
    let b = sb
        .http
        .get(sb.url("/__sandbox/media/photo-1.jpg?bytes=1234"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(a, b, "deterministic");
    let r = sb
        .http
        .get(sb.url("/__sandbox/media/clip.mp4"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], "video/mp4");
    assert_eq!(r.bytes().await.unwrap().len(), 200_000);
    let r = sb
        .http
        .get(sb.url("/__sandbox/media/notes.txt"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = sb
        .http
        .get(sb.url("/__sandbox/media/a.jpg?bytes=0"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn minted_grants_work_like_consented_ones() {
    let sb = start().await;
    let v: Value = sb
        .http
        .post(sb.url("/__sandbox/grants"))
        .json(&json!({"platform": "twitter", "count": 3, "scopes": ["tweet.read", "users.read", "offline.access"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let grants = v["grants"].as_array().unwrap();
    assert_eq!(grants.len(), 3);
    let r = sb
        .http
        .get(sb.url(X_ME))
        .bearer_auth(grants[0]["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = sb
        .http
        .post(sb.url(X_TOKEN))
        .basic_auth("sandbox-twitter-client", Some("sandbox-twitter-secret"))
        .form(&[
            ("grant_type", "refresh_token"),
            (
                "refresh_token",
                grants[1]["refresh_token"].as_str().unwrap(),
            ),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // X rotates refresh tokens: the used one is refused the second time.
    let again = sb
        .http
        .post(sb.url(X_TOKEN))
        .basic_auth("sandbox-twitter-client", Some("sandbox-twitter-secret"))
        .form(&[
            ("grant_type", "refresh_token"),
            (
                "refresh_token",
                grants[1]["refresh_token"].as_str().unwrap(),
            ),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 400);
    // Per grant: one refresh and one refused use on the second grant, nothing on the others.
    let counts: Value = sb
        .http
        .get(sb.url("/__sandbox/refreshes?platform=twitter"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        counts["grants"],
        json!([{"grant_id": grants[1]["grant_id"], "platform": "twitter",
                "account_id": grants[1]["account_id"],
                "refreshes": 1, "refused": 1}]),
        "{counts}"
    );
    let introspected: Value = sb
        .http
        .post(sb.url("/__sandbox/introspect"))
        .json(&json!({"token": grants[2]["access_token"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(introspected["grant_id"], grants[2]["grant_id"]);
    let none: Value = sb
        .http
        .get(sb.url("/__sandbox/refreshes?platform=linkedin"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(none["grants"], json!([]));
    let bad = sb
        .http
        .post(sb.url("/__sandbox/grants"))
        .json(&json!({"platform": "myspace", "count": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
}
