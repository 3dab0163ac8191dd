//! Instagram: `#_` on the redirect, flat token response, ig_exchange_token, the 24-hour
//! refresh rule, account types.

use serde_json::{json, Value};

use crate::common::*;

const AUTH: &str = "/www.instagram.com/oauth/authorize";
const TOKEN: &str = "/api.instagram.com/oauth/access_token";
const EXCHANGE: &str = "/graph.instagram.com/access_token";
const REFRESH: &str = "/graph.instagram.com/refresh_access_token";
const ME: &str =
    "/graph.instagram.com/me?fields=user_id,username,name,profile_picture_url,account_type";

const PARAMS: [(&str, &str); 5] = [
    ("client_id", "sandbox-instagram-client"),
    ("redirect_uri", REDIRECT),
    ("response_type", "code"),
    (
        "scope",
        "instagram_business_basic,instagram_business_content_publish",
    ),
    ("state", "st-ig"),
];

async fn exchange_code(sb: &TestSandbox, code: &str) -> (reqwest::StatusCode, Value) {
    let r = sb
        .http
        .post(sb.url(TOKEN))
        .form(&[
            ("client_id", "sandbox-instagram-client"),
            ("client_secret", "sandbox-instagram-secret"),
            ("grant_type", "authorization_code"),
            ("redirect_uri", REDIRECT),
            ("code", code),
        ])
        .send()
        .await
        .unwrap();
    json_of(r).await
}

async fn graph_get(
    sb: &TestSandbox,
    path: &str,
    query: &[(&str, &str)],
) -> (reqwest::StatusCode, Value) {
    let r = sb.http.get(sb.url(path)).query(query).send().await.unwrap();
    json_of(r).await
}

async fn long_lived(sb: &TestSandbox, short: &str) -> String {
    let (st, body) = graph_get(
        sb,
        EXCHANGE,
        &[
            ("grant_type", "ig_exchange_token"),
            ("client_secret", "sandbox-instagram-secret"),
            ("access_token", short),
        ],
    )
    .await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 5_183_944);
    body["access_token"].as_str().unwrap().to_string()
}

async fn refresh(sb: &TestSandbox, token: &str) -> (reqwest::StatusCode, Value) {
    graph_get(
        sb,
        REFRESH,
        &[("grant_type", "ig_refresh_token"), ("access_token", token)],
    )
    .await
}

#[tokio::test]
async fn full_flow_with_hash_suffix_exchange_and_profile() {
    let sb = start().await;
    let loc = sb.consent(AUTH, &PARAMS, None, "allow").await;
    assert!(loc.as_str().ends_with("#_"), "{loc}");
    let code = param(&loc, "code").unwrap();
    assert!(!code.contains('#'));

    let (st, tok) = exchange_code(&sb, &code).await;
    assert_eq!(st, 200, "{tok}");
    assert_eq!(tok["user_id"], json!(17_841_400_000_000_001_u64));
    assert_eq!(
        tok["permissions"],
        json!([
            "instagram_business_basic",
            "instagram_business_content_publish"
        ])
    );
    let short = tok["access_token"].as_str().unwrap().to_string();
    let info = sb.introspect(&short).await;
    assert_eq!(info["active"], true);

    let (st, body) = exchange_code(&sb, &code).await;
    assert_eq!(st, 400);
    assert_eq!(
        body,
        json!({"error_type":"OAuthException","code":400,"error_message":"This authorization code has been used"})
    );

    let long = long_lived(&sb, &short).await;
    let (st, me) = sb.get_bearer(ME, &long).await;
    assert_eq!(st, 200, "{me}");
    assert_eq!(me["user_id"], "17841400000000001");
    assert_eq!(me["username"], "adas_bakery_sandbox");
    assert_eq!(me["account_type"], "BUSINESS");
    assert!(me["profile_picture_url"]
        .as_str()
        .unwrap()
        .ends_with("ig-business.svg"));
    // access_token as a query parameter works too.
    let (st, _) = graph_get(&sb, "/graph.instagram.com/me", &[("access_token", &long)]).await;
    assert_eq!(st, 200);
    let s = sb.stats("instagram").await;
    assert_eq!(s["token_exchanges"], 1);
    assert_eq!(s["long_lived_exchanges"], 1);
    assert_eq!(s["profile_calls"], 2);
}

#[tokio::test]
async fn token_endpoint_accepts_multipart() {
    let sb = start().await;
    let code = sb.code(AUTH, &PARAMS).await;
    let form = reqwest::multipart::Form::new()
        .text("client_id", "sandbox-instagram-client")
        .text("client_secret", "sandbox-instagram-secret")
        .text("grant_type", "authorization_code")
        .text("redirect_uri", REDIRECT)
        .text("code", code);
    let r = sb
        .http
        .post(sb.url(TOKEN))
        .multipart(form)
        .send()
        .await
        .unwrap();
    let (st, body) = json_of(r).await;
    assert_eq!(st, 200, "{body}");
    assert!(body["access_token"].is_string());
}

#[tokio::test]
async fn refresh_needs_a_long_lived_token_at_least_a_day_old_and_unexpired() {
    let sb = start().await;
    let code = sb.code(AUTH, &PARAMS).await;
    let (_, tok) = exchange_code(&sb, &code).await;
    let short = tok["access_token"].as_str().unwrap().to_string();

    // Short-lived tokens cannot be refreshed.
    let (st, body) = refresh(&sb, &short).await;
    assert_eq!(st, 400);
    assert_eq!(body["error"]["code"], 100);

    let long = long_lived(&sb, &short).await;
    let (st, body) = refresh(&sb, &long).await;
    assert_eq!(st, 400, "too young: {body}");
    assert_eq!(body["error"]["type"], "OAuthException");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("24 hours"));

    sb.advance(25 * 3600);
    let (st, body) = refresh(&sb, &long).await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(body["expires_in"], 5_183_944);
    let renewed = body["access_token"].as_str().unwrap().to_string();
    assert_ne!(renewed, long);
    assert_eq!(sb.get_bearer(ME, &renewed).await.0, 200);

    // Past 60 days the old token is expired and cannot be refreshed.
    sb.advance(60 * 86_400);
    let (st, body) = refresh(&sb, &long).await;
    assert_eq!(st, 400);
    assert_eq!(body["error"]["code"], 190);
    assert_eq!(body["error"]["error_subcode"], 463);
    let s = sb.stats("instagram").await;
    assert_eq!(s["refreshes"], 1);
    assert_eq!(s["refresh_failures"], 3);
}

#[tokio::test]
async fn personal_account_connects_and_says_so() {
    let sb = start().await;
    let code = sb.code_for(AUTH, &PARAMS, "ig-personal").await;
    let (_, tok) = exchange_code(&sb, &code).await;
    let (st, me) = sb
        .get_bearer(ME, tok["access_token"].as_str().unwrap())
        .await;
    assert_eq!(st, 200);
    assert_eq!(me["account_type"], "PERSONAL");

    // The deprecated scope names are refused.
    let mut p = PARAMS;
    p[3] = ("scope", "business_basic");
    let r = sb.authorize_with(AUTH, &p, "allow", None).await;
    let loc = location(&r);
    assert_eq!(param(&loc, "error").as_deref(), Some("invalid_scope"));
    assert!(loc.as_str().ends_with("#_"));

    // A denial carries Meta's error_reason.
    let r = sb.authorize_with(AUTH, &PARAMS, "deny", None).await;
    let loc = location(&r);
    assert_eq!(param(&loc, "error").as_deref(), Some("access_denied"));
    assert_eq!(param(&loc, "error_reason").as_deref(), Some("user_denied"));
}
