//! Google: refresh tokens only offline and at first consent (or prompt=consent), not rotated,
//! revocation, userinfo, error pages.

use serde_json::{json, Value};
use switchboard_sandbox::{default_client, SandboxConfig};

use crate::common::*;

const AUTH: &str = "/accounts.google.com/o/oauth2/v2/auth";
const TOKEN: &str = "/oauth2.googleapis.com/token";
const REVOKE: &str = "/oauth2.googleapis.com/revoke";
const USERINFO: &str = "/openidconnect.googleapis.com/v1/userinfo";
const SCOPE: &str = "openid email profile https://www.googleapis.com/auth/youtube.upload";

fn params<'a>(extra: &[(&'static str, &'a str)]) -> Vec<(&'static str, &'a str)> {
    let mut p = vec![
        ("client_id", "sandbox-youtube-client"),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
        ("scope", SCOPE),
        ("state", "st-yt"),
    ];
    p.extend_from_slice(extra);
    p
}

async fn exchange(sb: &TestSandbox, code: &str) -> (reqwest::StatusCode, Value) {
    let r = sb
        .http
        .post(sb.url(TOKEN))
        .form(&[
            ("client_id", "sandbox-youtube-client"),
            ("client_secret", "sandbox-youtube-secret"),
            ("grant_type", "authorization_code"),
            ("redirect_uri", REDIRECT),
            ("code", code),
        ])
        .send()
        .await
        .unwrap();
    json_of(r).await
}

async fn refresh(sb: &TestSandbox, token: &str) -> (reqwest::StatusCode, Value) {
    // Basic is accepted as well as the body.
    let r = sb
        .http
        .post(sb.url(TOKEN))
        .basic_auth("sandbox-youtube-client", Some("sandbox-youtube-secret"))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", token)])
        .send()
        .await
        .unwrap();
    json_of(r).await
}

#[tokio::test]
async fn refresh_token_only_offline_and_at_first_consent_or_prompt_consent() {
    let sb = start().await;
    // access_type=online: never a refresh token.
    let code = sb.code(AUTH, &params(&[("access_type", "online")])).await;
    let (st, tok) = exchange(&sb, &code).await;
    assert_eq!(st, 200);
    assert!(tok.get("refresh_token").is_none());

    // A second account's first consent, offline: a refresh token.
    let code = sb
        .code_for(AUTH, &params(&[("access_type", "offline")]), "yt-nochannel")
        .await;
    let (_, tok) = exchange(&sb, &code).await;
    assert!(tok["refresh_token"].is_string(), "{tok}");
    // The same account again, offline without prompt=consent: none.
    let code = sb
        .code_for(AUTH, &params(&[("access_type", "offline")]), "yt-nochannel")
        .await;
    let (_, tok) = exchange(&sb, &code).await;
    assert!(tok.get("refresh_token").is_none(), "{tok}");
    // With prompt=consent: one again.
    let code = sb
        .code_for(
            AUTH,
            &params(&[("access_type", "offline"), ("prompt", "consent")]),
            "yt-nochannel",
        )
        .await;
    let (_, tok) = exchange(&sb, &code).await;
    assert!(tok["refresh_token"].is_string(), "{tok}");

    // The default account consented online above; its first offline consent still brings one.
    let code = sb.code(AUTH, &params(&[("access_type", "offline")])).await;
    let (_, tok) = exchange(&sb, &code).await;
    assert!(tok["refresh_token"].is_string(), "{tok}");
}

#[tokio::test]
async fn full_flow_refresh_not_rotated_then_revoke() {
    let sb = start().await;
    let p = params(&[("access_type", "offline"), ("prompt", "consent")]);
    let loc = sb.consent(AUTH, &p, None, "allow").await;
    let code = param(&loc, "code").unwrap();
    let (st, tok) = exchange(&sb, &code).await;
    assert_eq!(st, 200, "{tok}");
    assert_eq!(tok["expires_in"], 3599);
    assert_eq!(tok["token_type"], "Bearer");
    let scope = tok["scope"].as_str().unwrap();
    assert!(
        scope.contains("https://www.googleapis.com/auth/userinfo.email"),
        "{scope}"
    );
    assert!(scope.contains("https://www.googleapis.com/auth/youtube.upload"));
    let access = tok["access_token"].as_str().unwrap().to_string();
    let rt = tok["refresh_token"].as_str().unwrap().to_string();

    let (st, me) = sb.get_bearer(USERINFO, &access).await;
    assert_eq!(st, 200);
    assert_eq!(me["sub"], "108000000000000000001");
    assert_eq!(me["email"], "ada.sandbox@gmail.example");
    assert_eq!(me["name"], "Ada Lovelace");
    assert!(me["picture"].is_string());

    let (st, r1) = refresh(&sb, &rt).await;
    assert_eq!(st, 200, "{r1}");
    assert!(r1.get("refresh_token").is_none(), "not rotated: {r1}");
    assert_eq!(r1["expires_in"], 3599);
    let (st, r2) = refresh(&sb, &rt).await;
    assert_eq!(st, 200, "the same refresh token keeps working");
    assert_ne!(r1["access_token"], r2["access_token"]);

    let r = sb
        .http
        .post(sb.url(REVOKE))
        .query(&[("token", rt.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (st, body) = refresh(&sb, &rt).await;
    assert_eq!(st, 400);
    assert_eq!(
        body,
        json!({"error":"invalid_grant","error_description":"Token has been expired or revoked."})
    );
    let (st, body) = sb.get_bearer(USERINFO, &access).await;
    assert_eq!(st, 401);
    assert_eq!(body["error"]["code"], 401);
    assert_eq!(body["error"]["status"], "UNAUTHENTICATED");
    assert_eq!(body["error"]["errors"][0]["reason"], "authError");
    // Revoking again: invalid_token.
    let r = sb
        .http
        .post(sb.url(REVOKE))
        .query(&[("token", rt.as_str())])
        .send()
        .await
        .unwrap();
    let (st, body) = json_of(r).await;
    assert_eq!(st, 400);
    assert_eq!(body["error"], "invalid_token");

    // Revocation forgot the consent: the next offline consent is a first one again.
    let code = sb.code(AUTH, &params(&[("access_type", "offline")])).await;
    let (_, tok) = exchange(&sb, &code).await;
    assert!(tok["refresh_token"].is_string(), "{tok}");
    let s = sb.stats("youtube").await;
    assert_eq!(s["refreshes"], 2);
    assert_eq!(s["refresh_failures"], 1);
    assert_eq!(s["revocations"], 1);
}

#[tokio::test]
async fn redirect_mismatch_is_an_error_page() {
    let mut config = SandboxConfig::default();
    let mut client = default_client("youtube");
    client.redirect_uris = vec![REDIRECT.to_string()];
    config.clients.insert("youtube".into(), client);
    let sb = start_with(config).await;
    let mut p = params(&[]);
    p[1] = ("redirect_uri", "http://127.0.0.1:7777/elsewhere");
    let r = sb.authorize_with(AUTH, &p, "allow", None).await;
    assert_eq!(r.status(), 400);
    assert!(r.headers().get("location").is_none());
    let html = r.text().await.unwrap();
    assert!(html.contains("Error 400: redirect_uri_mismatch"), "{html}");
    // The registered one works.
    let r = sb.authorize_with(AUTH, &params(&[]), "allow", None).await;
    assert!(param(&location(&r), "code").is_some());
    // An unknown client: Error 401: invalid_client.
    let mut p = params(&[]);
    p[0] = ("client_id", "nobody");
    let r = sb.authorize_get(AUTH, &p).await;
    assert_eq!(r.status(), 401);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("Error 401: invalid_client"));
}

#[tokio::test]
async fn optional_pkce_is_enforced_once_sent() {
    let sb = start().await;
    let (verifier, challenge) = pkce();
    let p = params(&[
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
    ]);
    let code = sb.code(AUTH, &p).await;
    let (st, body) = exchange(&sb, &code).await;
    assert_eq!(st, 400);
    assert_eq!(
        body,
        json!({"error":"invalid_grant","error_description":"Missing code verifier."})
    );
    let r = sb
        .http
        .post(sb.url(TOKEN))
        .form(&[
            ("client_id", "sandbox-youtube-client"),
            ("client_secret", "sandbox-youtube-secret"),
            ("grant_type", "authorization_code"),
            ("redirect_uri", REDIRECT),
            ("code", code.as_str()),
            ("code_verifier", verifier.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

const CHANNELS: &str = "/www.googleapis.com/youtube/v3/channels?part=snippet&mine=true";
const READONLY: &str = "https://www.googleapis.com/auth/youtube.readonly";

async fn access_for(sb: &TestSandbox, scope: &str, account: &str) -> String {
    let mut p = params(&[]);
    p.retain(|(k, _)| *k != "scope");
    p.push(("scope", scope));
    let code = sb.code_for(AUTH, &p, account).await;
    let (s, v) = exchange(sb, &code).await;
    assert_eq!(s, 200, "{v}");
    v["access_token"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn channels_mine_lists_the_channel_or_none() {
    let sb = start().await;
    let scope = format!("{SCOPE} {READONLY}");
    let ada = access_for(&sb, &scope, "yt-ada").await;
    let (s, v) = sb.get_bearer(CHANNELS, &ada).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["kind"], "youtube#channelListResponse");
    assert_eq!(v["pageInfo"]["totalResults"], 1);
    assert_eq!(v["items"][0]["id"], "UCsandboxAdaLovelace0001");
    assert_eq!(v["items"][0]["snippet"]["title"], "Ada Lovelace Sandbox");

    let charles = access_for(&sb, &scope, "yt-nochannel").await;
    let (s, v) = sb.get_bearer(CHANNELS, &charles).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["pageInfo"]["totalResults"], 0);
    assert!(v.get("items").is_none(), "{v}");
}

#[tokio::test]
async fn channels_need_a_read_scope_and_a_valid_token() {
    let sb = start().await;
    // youtube.upload alone may not read the channel, as at Google.
    let upload_only = access_for(&sb, SCOPE, "yt-ada").await;
    let (s, v) = sb.get_bearer(CHANNELS, &upload_only).await;
    assert_eq!(s, 403, "{v}");
    assert_eq!(v["error"]["errors"][0]["reason"], "insufficientPermissions");
    let (s, v) = sb.get_bearer(CHANNELS, "not-a-token").await;
    assert_eq!(s, 401);
    assert_eq!(v["error"]["errors"][0]["reason"], "authError");
    let readonly = access_for(&sb, &format!("{SCOPE} {READONLY}"), "yt-ada").await;
    let (s, v) = sb
        .get_bearer(
            "/www.googleapis.com/youtube/v3/channels?part=snippet",
            &readonly,
        )
        .await;
    assert_eq!(s, 400, "{v}");
    assert_eq!(
        v["error"]["errors"][0]["reason"],
        "missingRequiredParameter"
    );
}
