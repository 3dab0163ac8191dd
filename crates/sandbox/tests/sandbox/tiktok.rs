//! TikTok: client_key, S256 PKCE, flat token response, rotating refresh tokens, user/info
//! envelope.

use serde_json::Value;

use crate::common::*;

const AUTH: &str = "/www.tiktok.com/v2/auth/authorize/";
const TOKEN: &str = "/open.tiktokapis.com/v2/oauth/token/";
const REVOKE: &str = "/open.tiktokapis.com/v2/oauth/revoke/";
const INFO: &str =
    "/open.tiktokapis.com/v2/user/info/?fields=open_id,union_id,avatar_url,display_name";

fn params(challenge: &str) -> Vec<(&'static str, &str)> {
    vec![
        ("client_key", "sandbox-tiktok-client"),
        ("response_type", "code"),
        ("scope", "user.info.basic,video.publish"),
        ("redirect_uri", REDIRECT),
        ("state", "st-tt"),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ]
}

async fn post(sb: &TestSandbox, path: &str, form: &[(&str, &str)]) -> (reqwest::StatusCode, Value) {
    let r = sb.http.post(sb.url(path)).form(form).send().await.unwrap();
    json_of(r).await
}

async fn exchange(sb: &TestSandbox, code: &str, verifier: &str) -> (reqwest::StatusCode, Value) {
    post(
        sb,
        TOKEN,
        &[
            ("client_key", "sandbox-tiktok-client"),
            ("client_secret", "sandbox-tiktok-secret"),
            ("code", code),
            ("grant_type", "authorization_code"),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
        ],
    )
    .await
}

async fn refresh(sb: &TestSandbox, token: &str) -> (reqwest::StatusCode, Value) {
    post(
        sb,
        TOKEN,
        &[
            ("client_key", "sandbox-tiktok-client"),
            ("client_secret", "sandbox-tiktok-secret"),
            ("grant_type", "refresh_token"),
            ("refresh_token", token),
        ],
    )
    .await
}

#[tokio::test]
async fn client_id_instead_of_client_key_is_refused() {
    let sb = start().await;
    let (verifier, challenge) = pkce();
    // On the authorization page: an error page, never a redirect.
    let mut p = params(&challenge);
    p[0] = ("client_id", "sandbox-tiktok-client");
    let r = sb.authorize_get(AUTH, &p).await;
    assert_eq!(r.status(), 400);
    assert!(r.headers().get("location").is_none());
    let html = r.text().await.unwrap();
    assert!(html.contains("client_key"), "{html}");

    // At the token endpoint: invalid_client.
    let code = sb.code(AUTH, &params(&challenge)).await;
    let (st, body) = post(
        &sb,
        TOKEN,
        &[
            ("client_id", "sandbox-tiktok-client"),
            ("client_secret", "sandbox-tiktok-secret"),
            ("code", &code),
            ("grant_type", "authorization_code"),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(st, 401);
    assert_eq!(body["error"], "invalid_client");
    assert!(body["log_id"].is_string());
    // With client_key the same code works.
    assert_eq!(exchange(&sb, &code, &verifier).await.0, 200);
}

#[tokio::test]
async fn full_flow_with_rotation_and_revocation() {
    let sb = start().await;
    let (verifier, challenge) = pkce();
    let loc = sb.consent(AUTH, &params(&challenge), None, "allow").await;
    assert_eq!(param(&loc, "state").as_deref(), Some("st-tt"));
    let code = param(&loc, "code").unwrap();
    let (st, tok) = exchange(&sb, &code, &verifier).await;
    assert_eq!(st, 200, "{tok}");
    assert_eq!(tok["expires_in"], 7200);
    assert_eq!(tok["refresh_expires_in"], 15_552_000);
    assert_eq!(tok["scope"], "user.info.basic,video.publish");
    assert_eq!(tok["token_type"], "Bearer");
    let open_id = tok["open_id"].as_str().unwrap().to_string();
    let access = tok["access_token"].as_str().unwrap().to_string();
    let rt1 = tok["refresh_token"].as_str().unwrap().to_string();

    let (st, info) = sb.get_bearer(INFO, &access).await;
    assert_eq!(st, 200, "{info}");
    assert_eq!(info["error"]["code"], "ok");
    assert_eq!(info["data"]["user"]["open_id"], open_id.as_str());
    assert_eq!(info["data"]["user"]["display_name"], "Ada Lovelace");
    assert_eq!(info["data"]["user"]["union_id"], "sbx-union-ada-0001");
    // user.info.profile was not granted.
    let (st, body) = sb
        .get_bearer(
            "/open.tiktokapis.com/v2/user/info/?fields=username",
            &access,
        )
        .await;
    assert_eq!(st, 401);
    assert_eq!(body["error"]["code"], "scope_not_authorized");

    sb.advance(86_400);
    let (st, r2) = refresh(&sb, &rt1).await;
    assert_eq!(st, 200, "{r2}");
    let rt2 = r2["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(rt2, rt1, "rotated");
    assert_eq!(r2["open_id"], open_id.as_str());
    assert_eq!(r2["refresh_expires_in"], 15_552_000 - 86_400);
    let (st, body) = refresh(&sb, &rt1).await;
    assert_eq!(st, 400);
    assert_eq!(body["error"], "invalid_grant");
    assert!(body["error_description"].is_string());
    assert!(body["log_id"].is_string());

    let access2 = r2["access_token"].as_str().unwrap().to_string();
    let (st, _) = post(
        &sb,
        REVOKE,
        &[
            ("client_key", "sandbox-tiktok-client"),
            ("client_secret", "sandbox-tiktok-secret"),
            ("token", &access2),
        ],
    )
    .await;
    assert_eq!(st, 200);
    let (st, body) = sb.get_bearer(INFO, &access2).await;
    assert_eq!(st, 401);
    assert_eq!(body["error"]["code"], "access_token_invalid");
    assert_eq!(refresh(&sb, &rt2).await.0, 400);
    let s = sb.stats("tiktok").await;
    assert_eq!(s["token_exchanges"], 1);
    assert_eq!(s["refreshes"], 1);
    assert_eq!(s["refresh_failures"], 2);
    assert_eq!(s["revocations"], 1);
}

#[tokio::test]
async fn pkce_is_s256_only_and_verified() {
    let sb = start().await;
    let (_, challenge) = pkce();
    let mut p = params(&challenge);
    p[6] = ("code_challenge_method", "plain");
    let r = sb.authorize_with(AUTH, &p, "allow", None).await;
    let loc = location(&r);
    assert_eq!(param(&loc, "error").as_deref(), Some("invalid_request"));
    assert_eq!(param(&loc, "state").as_deref(), Some("st-tt"));

    let p: Vec<(&str, &str)> = params(&challenge)
        .into_iter()
        .filter(|(k, _)| !k.starts_with("code_challenge"))
        .collect();
    let r = sb.authorize_with(AUTH, &p, "allow", None).await;
    assert_eq!(
        param(&location(&r), "error").as_deref(),
        Some("invalid_request")
    );

    let code = sb.code(AUTH, &params(&challenge)).await;
    let (st, body) = exchange(&sb, &code, &"x".repeat(50)).await;
    assert_eq!(st, 400);
    assert_eq!(body["error"], "invalid_grant");
}

const CREATOR_INFO: &str = "/open.tiktokapis.com/v2/post/publish/creator_info/query/";

async fn access_for(sb: &TestSandbox, scope: &str, account: &str) -> String {
    let (verifier, challenge) = pkce();
    let mut p = params(&challenge);
    p.retain(|(k, _)| *k != "scope");
    p.push(("scope", scope));
    let code = sb.code_for(AUTH, &p, account).await;
    let (s, v) = exchange(sb, &code, &verifier).await;
    assert_eq!(s, 200, "{v}");
    v["access_token"].as_str().unwrap().to_string()
}

async fn creator_info(sb: &TestSandbox, token: &str) -> (reqwest::StatusCode, Value) {
    let r = sb
        .http
        .post(sb.url(CREATOR_INFO))
        .bearer_auth(token)
        .header("content-type", "application/json; charset=UTF-8")
        .send()
        .await
        .unwrap();
    json_of(r).await
}

#[tokio::test]
async fn creator_info_lists_privacy_levels_per_account() {
    let sb = start().await;
    let ada = access_for(&sb, "user.info.basic,video.publish", "tt-ada").await;
    let (s, v) = creator_info(&sb, &ada).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["error"]["code"], "ok");
    let levels = v["data"]["privacy_level_options"].as_array().unwrap();
    assert!(levels.iter().any(|l| l == "PUBLIC_TO_EVERYONE"));
    assert!(v["data"]["max_video_post_duration_sec"].as_u64().is_some());

    let private = access_for(&sb, "user.info.basic,video.publish", "tt-private").await;
    let (s, v) = creator_info(&sb, &private).await;
    assert_eq!(s, 200, "{v}");
    let levels = v["data"]["privacy_level_options"].as_array().unwrap();
    assert!(!levels.iter().any(|l| l == "PUBLIC_TO_EVERYONE"), "{v}");
    assert!(levels.iter().any(|l| l == "SELF_ONLY"));
}

#[tokio::test]
async fn creator_info_needs_video_publish() {
    let sb = start().await;
    let basic = access_for(&sb, "user.info.basic", "tt-ada").await;
    let (s, v) = creator_info(&sb, &basic).await;
    assert_eq!(s, 401, "{v}");
    assert_eq!(v["error"]["code"], "scope_not_authorized");
    let (s, v) = creator_info(&sb, "bogus").await;
    assert_eq!(s, 401);
    assert_eq!(v["error"]["code"], "access_token_invalid");
}
