//! `POST /v1/troubleshoot`: pasted platform errors explained with the same diagnosis the flows
//! attach to their failures.

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn pasted_errors_are_diagnosed_per_platform_shape() {
    let app = TestApp::spawn().await;
    // (platform, status, body, category, retryable, platform_code): bodies as documented
    // (PLATFORMS.md sources; see crates/core/tests/diagnosis_table.rs for the full table).
    let cases = [
        (
            "facebook",
            Some(400),
            r#"{"error":{"message":"Error validating access token: Session has expired","type":"OAuthException","code":190,"error_subcode":463,"fbtrace_id":"A"}}"#,
            "token_expired",
            false,
            "190/463",
        ),
        (
            "instagram",
            Some(400),
            r#"{"error":{"message":"Application request limit reached","type":"OAuthException","code":9,"error_subcode":2207042,"fbtrace_id":"B"}}"#,
            "rate_limited",
            true,
            "9/2207042",
        ),
        (
            "tiktok",
            Some(403),
            r#"{"error":{"code":"unaudited_client_can_only_post_to_private_accounts","message":"Please review our integration guidelines","log_id":"1"}}"#,
            "account_not_eligible",
            false,
            "unaudited_client_can_only_post_to_private_accounts",
        ),
        (
            "youtube",
            Some(403),
            r#"{"error":{"code":403,"message":"quota","errors":[{"domain":"youtube.quota","reason":"quotaExceeded"}]}}"#,
            "rate_limited",
            true,
            "quotaExceeded",
        ),
        (
            "linkedin",
            Some(400),
            r#"{"error":"invalid_request","error_description":"Unable to retrieve access token: appid/redirect uri/code verifier does not match authorization code. Or authorization code expired. Or external member binding exists"}"#,
            "token_revoked",
            false,
            "invalid_request",
        ),
        (
            "twitter",
            Some(403),
            r#"{"detail":"You are not allowed to create a Tweet with duplicate content.","type":"about:blank","title":"Forbidden","status":403}"#,
            "duplicate_content",
            false,
            "Forbidden",
        ),
        (
            "pinterest",
            Some(429),
            r#"{"code":8,"message":"You have exceeded your rate limit. Try again later."}"#,
            "rate_limited",
            true,
            "8",
        ),
    ];
    for (platform, status, body, category, retryable, code) in cases {
        let (s, v) = app
            .post(
                "/v1/troubleshoot",
                json!({"platform": platform, "http_status": status, "error": body}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_eq!(v["category"], category, "{platform}: {v}");
        assert_eq!(v["retryable"], retryable, "{platform}: {v}");
        assert_eq!(v["platform_code"], code, "{platform}: {v}");
        assert_eq!(v["platform"], platform);
        assert!(v["cause"].as_str().is_some_and(|c| !c.is_empty()));
        assert!(v["fix"].as_array().is_some_and(|f| !f.is_empty()), "{v}");
        assert!(
            v["docs_url"]
                .as_str()
                .is_some_and(|u| u.starts_with("https://")),
            "{v}"
        );
        assert!(["info", "warning", "error"].contains(&v["severity"].as_str().unwrap_or("")));
    }
}

#[tokio::test]
async fn the_call_kind_tells_pinterest_token_errors_apart() {
    let app = TestApp::spawn().await;
    let body = r#"{"code":2,"message":"Authentication failed."}"#;
    let (_, v) = app
        .post(
            "/v1/troubleshoot",
            json!({"platform": "pinterest", "http_status": 401, "error": body, "call": "token"}),
        )
        .await;
    assert_eq!(v["category"], "invalid_client", "{v}");
    let (_, v) = app
        .post(
            "/v1/troubleshoot",
            json!({"platform": "pinterest", "http_status": 401, "error": body}),
        )
        .await;
    assert_eq!(v["category"], "token_expired", "{v}");
}

#[tokio::test]
async fn unknown_shapes_keep_the_raw_error_and_json_objects_are_accepted() {
    let app = TestApp::spawn().await;
    let (s, v) = app
        .post(
            "/v1/troubleshoot",
            json!({"platform": "twitter", "error": "the spinner never stops"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["category"], "unknown");
    assert_eq!(v["platform_message"], "the spinner never stops");
    // A body pasted as a JSON object rather than a string.
    let (s, v) = app
        .post(
            "/v1/troubleshoot",
            json!({"platform": "tiktok", "http_status": 401, "error": {"data":{},"error":{"code":"scope_not_authorized","message":"m","log_id":"x"}}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["category"], "insufficient_scope");
}

#[tokio::test]
async fn bad_requests_name_the_problem() {
    let app = TestApp::spawn().await;
    let (s, v) = app
        .post(
            "/v1/troubleshoot",
            json!({"platform": "myspace", "error": "x"}),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(v["known_platforms"]
        .as_array()
        .is_some_and(|k| k.iter().any(|p| p == "linkedin")));
    let (s, v) = app
        .post("/v1/troubleshoot", json!({"platform": "linkedin"}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["field"], "error");
    let (s, v) = app
        .post(
            "/v1/troubleshoot",
            json!({"platform": "linkedin", "error": "  "}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["field"], "error");
    let r = app
        .http
        .post(format!("{}/v1/troubleshoot", app.api))
        .json(&json!({"platform": "linkedin", "error": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_failed_connect_carries_the_same_diagnosis_as_the_troubleshooter() {
    let app = TestApp::spawn().await;
    // The documented Meta throttling body, served by the sandbox's token endpoint.
    let body = r#"{"error":{"message":"(#4) Application request limit reached","type":"OAuthException","is_transient":true,"code":4,"fbtrace_id":"F1"}}"#;
    let start = app.start("facebook").await;
    app.fault(json!({"platform": "facebook", "endpoint": "token", "status": 400, "body": body}))
        .await;
    let cb = app
        .consent(start["authorization_url"].as_str().unwrap(), "allow", None)
        .await;
    let (_, failed) = app.callback(&cb).await;
    let (_, pasted) = app
        .post(
            "/v1/troubleshoot",
            json!({"platform": "facebook", "http_status": 400, "error": body}),
        )
        .await;
    assert_eq!(failed["diagnosis"]["category"], "rate_limited", "{failed}");
    for field in [
        "category",
        "retryable",
        "platform_code",
        "docs_url",
        "cause",
    ] {
        assert_eq!(failed["diagnosis"][field], pasted[field], "{field}");
    }
}
