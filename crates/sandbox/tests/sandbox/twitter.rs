//! X: PKCE, Basic auth, the 30-second code, rotation and replay, offline.access.

use std::collections::BTreeMap;

use serde_json::json;
use switchboard_sandbox::{SandboxClient, SandboxConfig};

use crate::common::*;

const AUTH: &str = "/x.com/i/oauth2/authorize";
const TOKEN: &str = "/api.x.com/2/oauth2/token";
const REVOKE: &str = "/api.x.com/2/oauth2/revoke";
const ME: &str = "/api.x.com/2/users/me?user.fields=profile_image_url";

fn params<'a>(scope: &'a str, challenge: &'a str) -> Vec<(&'static str, &'a str)> {
    vec![
        ("response_type", "code"),
        ("client_id", "sandbox-twitter-client"),
        ("redirect_uri", REDIRECT),
        ("scope", scope),
        ("state", "st-x"),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ]
}

async fn exchange(sb: &TestSandbox, code: &str, verifier: &str) -> reqwest::Response {
    sb.http
        .post(sb.url(TOKEN))
        .basic_auth(cid("twitter"), Some(secret("twitter")))
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

async fn refresh(sb: &TestSandbox, token: &str) -> (reqwest::StatusCode, serde_json::Value) {
    let r = sb
        .http
        .post(sb.url(TOKEN))
        .basic_auth(cid("twitter"), Some(secret("twitter")))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", token)])
        .send()
        .await
        .unwrap();
    json_of(r).await
}

#[tokio::test]
async fn full_flow_consent_token_profile_refresh_revoke() {
    let sb = start().await;
    let (verifier, challenge) = pkce();
    let p = params("tweet.read users.read offline.access", &challenge);
    let loc = sb.consent(AUTH, &p, Some("x-grace"), "allow").await;
    assert!(loc.as_str().starts_with(REDIRECT), "{loc}");
    assert_eq!(param(&loc, "state").as_deref(), Some("st-x"));
    let code = param(&loc, "code").expect("code");

    let (st, tok) = json_of(exchange(&sb, &code, &verifier).await).await;
    assert_eq!(st, 200, "{tok}");
    assert_eq!(tok["token_type"], "bearer");
    assert_eq!(tok["expires_in"], 7200);
    assert_eq!(tok["scope"], "tweet.read users.read offline.access");
    let access = tok["access_token"].as_str().unwrap().to_string();
    let refresh1 = tok["refresh_token"].as_str().unwrap().to_string();
    assert!(access.starts_with("sbx-twitter-at-"), "{access}");
    assert!(refresh1.starts_with("sbx-twitter-rt-"));

    let (st, me) = sb.get_bearer(ME, &access).await;
    assert_eq!(st, 200, "{me}");
    assert_eq!(me["data"]["id"], "1580000000000000002");
    assert_eq!(me["data"]["username"], "grace_sandbox");
    assert_eq!(me["data"]["name"], "Grace Hopper");
    let avatar = me["data"]["profile_image_url"].as_str().unwrap();
    assert!(
        avatar.ends_with("/__sandbox/avatars/x-grace.svg"),
        "{avatar}"
    );
    let img = sb.http.get(avatar).send().await.unwrap();
    assert_eq!(img.status(), 200);
    assert_eq!(img.headers()["content-type"], "image/svg+xml");
    // Without user.fields, no profile_image_url.
    let (_, me) = sb.get_bearer("/api.x.com/2/users/me", &access).await;
    assert!(me["data"].get("profile_image_url").is_none());

    // Refresh rotates.
    let (st, r2) = refresh(&sb, &refresh1).await;
    assert_eq!(st, 200, "{r2}");
    let refresh2 = r2["refresh_token"].as_str().unwrap().to_string();
    let access2 = r2["access_token"].as_str().unwrap().to_string();
    assert_ne!(refresh2, refresh1);
    assert_ne!(access2, access);
    assert_eq!(r2["expires_in"], 7200);

    // Revoke: the grant dies everywhere.
    let r = sb
        .http
        .post(sb.url(REVOKE))
        .basic_auth(cid("twitter"), Some(secret("twitter")))
        .form(&[
            ("token", access2.as_str()),
            ("token_type_hint", "access_token"),
        ])
        .send()
        .await
        .unwrap();
    let (st, body) = json_of(r).await;
    assert_eq!((st.as_u16(), body), (200, json!({ "revoked": true })));
    let (st, body) = sb.get_bearer(ME, &access2).await;
    assert_eq!(st, 401);
    assert_eq!(
        body,
        json!({"title":"Unauthorized","type":"about:blank","status":401,"detail":"Unauthorized"})
    );
    let (st, _) = refresh(&sb, &refresh2).await;
    assert_eq!(st, 400);
    let i = sb.introspect(&refresh2).await;
    assert_eq!(i["active"], false);
    assert_eq!(i["revoked"], true);
    assert_eq!(i["token_type"], "refresh_token");
    assert_eq!(i["account_id"], "x-grace");
}

#[tokio::test]
async fn token_endpoint_requires_basic_for_confidential_clients() {
    let sb = start().await;
    let (verifier, challenge) = pkce();
    let code = sb
        .code(AUTH, &params("tweet.read users.read", &challenge))
        .await;
    let r = sb
        .http
        .post(sb.url(TOKEN))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier.as_str()),
            ("client_id", "sandbox-twitter-client"),
            ("client_secret", "sandbox-twitter-secret"),
        ])
        .send()
        .await
        .unwrap();
    let (st, body) = json_of(r).await;
    assert_eq!(st, 401);
    assert_eq!(
        body,
        json!({"error":"unauthorized_client","error_description":"Missing valid authorization header"})
    );
    // A wrong secret in Basic is refused the same way.
    let r = sb
        .http
        .post(sb.url(TOKEN))
        .basic_auth(cid("twitter"), Some("wrong"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // The failed attempts did not burn the code.
    assert_eq!(exchange(&sb, &code, &verifier).await.status(), 200);
}

#[tokio::test]
async fn public_client_sends_client_id_in_body() {
    let mut config = SandboxConfig::default();
    config.clients.insert(
        "twitter".into(),
        SandboxClient {
            client_id: "public-x".into(),
            client_secret: String::new(),
            redirect_uris: vec![],
        },
    );
    let sb = start_with(config).await;
    let (verifier, challenge) = pkce();
    let mut p = params("tweet.read users.read", &challenge);
    p[1] = ("client_id", "public-x");
    let code = sb.code(AUTH, &p).await;
    let r = sb
        .http
        .post(sb.url(TOKEN))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier.as_str()),
            ("client_id", "public-x"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn code_expires_after_30_seconds_and_is_single_use() {
    let sb = start().await;
    let (verifier, challenge) = pkce();
    let p = params("tweet.read users.read", &challenge);
    let invalid_code = json!({
        "error": "invalid_request",
        "error_description": "Value passed for the authorization code was invalid.",
    });

    let code = sb.code(AUTH, &p).await;
    sb.advance(31);
    let (st, body) = json_of(exchange(&sb, &code, &verifier).await).await;
    assert_eq!((st.as_u16(), body), (400, invalid_code.clone()));

    let code = sb.code(AUTH, &p).await;
    sb.advance(29);
    assert_eq!(exchange(&sb, &code, &verifier).await.status(), 200);
    let (st, body) = json_of(exchange(&sb, &code, &verifier).await).await;
    assert_eq!((st.as_u16(), body), (400, invalid_code));
}

#[tokio::test]
async fn refresh_token_replay_after_rotation_is_rejected() {
    let sb = start().await;
    let (verifier, challenge) = pkce();
    let code = sb
        .code(
            AUTH,
            &params("tweet.read users.read offline.access", &challenge),
        )
        .await;
    let (_, tok) = json_of(exchange(&sb, &code, &verifier).await).await;
    let old = tok["refresh_token"].as_str().unwrap().to_string();
    let (st, _) = refresh(&sb, &old).await;
    assert_eq!(st, 200);
    let (st, body) = refresh(&sb, &old).await;
    assert_eq!(st, 400);
    assert_eq!(
        body,
        json!({"error":"invalid_request","error_description":"Value passed for the token was invalid."})
    );
    let s = sb.stats("twitter").await;
    assert_eq!(s["refreshes"], 1);
    assert_eq!(s["refresh_failures"], 1);
}

#[tokio::test]
async fn no_refresh_token_without_offline_access() {
    let sb = start().await;
    let (verifier, challenge) = pkce();
    let code = sb
        .code(
            AUTH,
            &params("tweet.read tweet.write users.read", &challenge),
        )
        .await;
    let (st, tok) = json_of(exchange(&sb, &code, &verifier).await).await;
    assert_eq!(st, 200);
    assert!(tok.get("refresh_token").is_none(), "{tok}");
    assert_eq!(tok["scope"], "tweet.read tweet.write users.read");
}

#[tokio::test]
async fn pkce_is_required_and_checked() {
    let sb = start().await;
    let p: Vec<(&str, &str)> = params("tweet.read users.read", "unused")
        .into_iter()
        .filter(|(k, _)| !k.starts_with("code_challenge"))
        .collect();
    let r = sb.authorize_with(AUTH, &p, "allow", None).await;
    let loc = location(&r);
    assert!(loc.as_str().starts_with(REDIRECT));
    assert_eq!(param(&loc, "error").as_deref(), Some("invalid_request"));
    assert!(param(&loc, "error_description")
        .unwrap()
        .contains("code_challenge"));
    assert_eq!(param(&loc, "state").as_deref(), Some("st-x"));
    assert!(param(&loc, "code").is_none());

    let (_, challenge) = pkce();
    let code = sb
        .code(AUTH, &params("tweet.read users.read", &challenge))
        .await;
    let wrong = "w".repeat(60);
    let (st, body) = json_of(exchange(&sb, &code, &wrong).await).await;
    assert_eq!(st, 400);
    assert_eq!(body["error"], "invalid_request");

    // Scopes separated by commas are not X scopes.
    let r = sb
        .authorize_with(
            AUTH,
            &params("tweet.read,users.read", &challenge),
            "allow",
            None,
        )
        .await;
    assert_eq!(
        param(&location(&r), "error").as_deref(),
        Some("invalid_scope")
    );
}

#[tokio::test]
async fn access_token_expires_on_the_sandbox_clock() {
    let mut ttl = BTreeMap::new();
    ttl.insert("twitter".to_string(), 60);
    let sb = start_with(SandboxConfig {
        access_ttl_secs: ttl,
        ..SandboxConfig::default()
    })
    .await;
    let (verifier, challenge) = pkce();
    let code = sb
        .code(AUTH, &params("tweet.read users.read", &challenge))
        .await;
    let (_, tok) = json_of(exchange(&sb, &code, &verifier).await).await;
    assert_eq!(tok["expires_in"], 60);
    let access = tok["access_token"].as_str().unwrap();
    assert_eq!(sb.get_bearer(ME, access).await.0, 200);
    sb.advance(61);
    assert_eq!(sb.get_bearer(ME, access).await.0, 401);
    assert_eq!(sb.introspect(access).await["active"], false);
}
