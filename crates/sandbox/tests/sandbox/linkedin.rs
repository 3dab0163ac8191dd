//! LinkedIn: secret in the body, 60-day tokens, refresh tokens only for partner apps with a
//! lifetime fixed at the first grant, revocation.

use serde_json::json;
use switchboard_sandbox::SandboxConfig;

use crate::common::*;

const AUTH: &str = "/www.linkedin.com/oauth/v2/authorization";
const TOKEN: &str = "/www.linkedin.com/oauth/v2/accessToken";
const REVOKE: &str = "/www.linkedin.com/oauth/v2/revoke";
const USERINFO: &str = "/api.linkedin.com/v2/userinfo";

const PARAMS: [(&str, &str); 5] = [
    ("response_type", "code"),
    ("client_id", "sandbox-linkedin-client"),
    ("redirect_uri", REDIRECT),
    ("scope", "openid profile email w_member_social"),
    ("state", "st-li"),
];

async fn exchange(sb: &TestSandbox, code: &str) -> (reqwest::StatusCode, serde_json::Value) {
    let r = sb
        .http
        .post(sb.url(TOKEN))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("client_id", "sandbox-linkedin-client"),
            ("client_secret", "sandbox-linkedin-secret"),
        ])
        .send()
        .await
        .unwrap();
    json_of(r).await
}

async fn refresh(sb: &TestSandbox, token: &str) -> (reqwest::StatusCode, serde_json::Value) {
    let r = sb
        .http
        .post(sb.url(TOKEN))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", token),
            ("client_id", "sandbox-linkedin-client"),
            ("client_secret", "sandbox-linkedin-secret"),
        ])
        .send()
        .await
        .unwrap();
    json_of(r).await
}

#[tokio::test]
async fn full_flow_without_refresh_tokens() {
    let sb = start().await;
    let code = sb.code(AUTH, &PARAMS).await;
    let (st, tok) = exchange(&sb, &code).await;
    assert_eq!(st, 200, "{tok}");
    assert_eq!(tok["expires_in"], 5_184_000);
    assert_eq!(tok["scope"], "openid,profile,email,w_member_social");
    // LinkedIn's answer has no token_type (authorization-code-flow page, step 3 example).
    assert!(tok.get("token_type").is_none(), "{tok}");
    assert!(tok.get("refresh_token").is_none(), "{tok}");
    let access = tok["access_token"].as_str().unwrap().to_string();

    let (st, me) = sb.get_bearer(USERINFO, &access).await;
    assert_eq!(st, 200);
    assert_eq!(me["sub"], "aDa1LoVe9x");
    assert_eq!(me["name"], "Ada Lovelace");
    assert_eq!(me["given_name"], "Ada");
    assert_eq!(me["family_name"], "Lovelace");
    assert_eq!(me["email"], "ada@sandbox.example");
    assert_eq!(me["email_verified"], true);
    assert!(me["picture"]
        .as_str()
        .unwrap()
        .contains("/__sandbox/avatars/li-ada.svg"));

    // The code is single use, with LinkedIn's catch-all message.
    let (st, body) = exchange(&sb, &code).await;
    assert_eq!(st, 400);
    assert_eq!(body["error"], "invalid_request");
    assert!(body["error_description"]
        .as_str()
        .unwrap()
        .starts_with("Unable to retrieve access token"));

    // No refresh token exists; using the access token as one fails.
    let (st, body) = refresh(&sb, &access).await;
    assert_eq!(st, 400);
    assert_eq!(body["error"], "invalid_grant");
    assert_eq!(sb.stats("linkedin").await["refresh_failures"], 1);

    let r = sb
        .http
        .post(sb.url(REVOKE))
        .form(&[
            ("client_id", "sandbox-linkedin-client"),
            ("client_secret", "sandbox-linkedin-secret"),
            ("token", access.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (st, body) = sb.get_bearer(USERINFO, &access).await;
    assert_eq!(st, 401);
    assert_eq!(
        body,
        json!({"status":401,"serviceErrorCode":65600,"code":"INVALID_ACCESS_TOKEN","message":"Invalid access token"})
    );
    assert_eq!(sb.stats("linkedin").await["revocations"], 1);
}

#[tokio::test]
async fn secret_goes_in_the_body() {
    let sb = start().await;
    let code = sb.code(AUTH, &PARAMS).await;
    // Basic alone is not LinkedIn's way.
    let r = sb
        .http
        .post(sb.url(TOKEN))
        .basic_auth("sandbox-linkedin-client", Some("sandbox-linkedin-secret"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
        ])
        .send()
        .await
        .unwrap();
    let (st, body) = json_of(r).await;
    assert_eq!(st, 400);
    assert_eq!(
        body["error_description"],
        "A required parameter \"client_id\" is missing"
    );
    let r = sb
        .http
        .post(sb.url(TOKEN))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("client_id", "sandbox-linkedin-client"),
            ("client_secret", "nope"),
        ])
        .send()
        .await
        .unwrap();
    let (st, body) = json_of(r).await;
    assert_eq!(st, 401);
    assert_eq!(body["error"], "invalid_client");
}

#[tokio::test]
async fn partner_refresh_tokens_count_down_from_the_first_grant() {
    let sb = start_with(SandboxConfig {
        linkedin_refresh_tokens: true,
        ..SandboxConfig::default()
    })
    .await;
    let code = sb.code(AUTH, &PARAMS).await;
    let (st, tok) = exchange(&sb, &code).await;
    assert_eq!(st, 200);
    assert_eq!(tok["refresh_token_expires_in"], 31_536_000);
    let rt = tok["refresh_token"].as_str().unwrap().to_string();

    sb.advance(10 * 86_400);
    let (st, r1) = refresh(&sb, &rt).await;
    assert_eq!(st, 200, "{r1}");
    assert_eq!(r1["refresh_token"], rt.as_str(), "not rotated");
    assert_eq!(r1["refresh_token_expires_in"], 31_536_000 - 10 * 86_400);
    assert_eq!(r1["expires_in"], 5_184_000);
    assert!(r1.get("token_type").is_none(), "{r1}");
    assert_ne!(r1["access_token"], tok["access_token"]);
    // Still usable: no rotation.
    assert_eq!(refresh(&sb, &rt).await.0, 200);

    // A new authorization does not restart the refresh token's year.
    let code = sb.code(AUTH, &PARAMS).await;
    let (_, tok2) = exchange(&sb, &code).await;
    assert_eq!(tok2["refresh_token_expires_in"], 31_536_000 - 10 * 86_400);

    // After the year, refreshing fails.
    sb.advance(356 * 86_400);
    let (st, body) = refresh(&sb, &rt).await;
    assert_eq!(st, 400);
    assert_eq!(body["error"], "invalid_grant");
}
