//! Pinterest: HTTP Basic required, refresh_on rotation, user_account.

use serde_json::{json, Value};

use crate::common::*;

const AUTH: &str = "/www.pinterest.com/oauth/";
const TOKEN: &str = "/api.pinterest.com/v5/oauth/token";
const ACCOUNT: &str = "/api.pinterest.com/v5/user_account";

const PARAMS: [(&str, &str); 5] = [
    ("client_id", "sandbox-pinterest-client"),
    ("redirect_uri", REDIRECT),
    ("response_type", "code"),
    (
        "scope",
        "user_accounts:read,boards:read,pins:read,pins:write",
    ),
    ("state", "st-pin"),
];

async fn token(sb: &TestSandbox, form: &[(&str, &str)]) -> (reqwest::StatusCode, Value) {
    let r = sb
        .http
        .post(sb.url(TOKEN))
        .basic_auth("sandbox-pinterest-client", Some("sandbox-pinterest-secret"))
        .form(form)
        .send()
        .await
        .unwrap();
    json_of(r).await
}

async fn exchange(sb: &TestSandbox, code: &str) -> (reqwest::StatusCode, Value) {
    token(
        sb,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await
}

#[tokio::test]
async fn basic_auth_is_required() {
    let sb = start().await;
    let code = sb.code(AUTH, &PARAMS).await;
    let r = sb
        .http
        .post(sb.url(TOKEN))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("client_id", "sandbox-pinterest-client"),
            ("client_secret", "sandbox-pinterest-secret"),
        ])
        .send()
        .await
        .unwrap();
    let (st, body) = json_of(r).await;
    assert_eq!(st, 401);
    assert!(body["code"].is_i64(), "{body}");
    assert!(body["message"].is_string());
    assert_eq!(exchange(&sb, &code).await.0, 200);
}

#[tokio::test]
async fn full_flow_and_refresh_with_and_without_refresh_on() {
    let sb = start().await;
    let loc = sb.consent(AUTH, &PARAMS, None, "allow").await;
    assert_eq!(param(&loc, "state").as_deref(), Some("st-pin"));
    let (st, tok) = exchange(&sb, &param(&loc, "code").unwrap()).await;
    assert_eq!(st, 200, "{tok}");
    assert_eq!(tok["expires_in"], 2_592_000);
    assert_eq!(tok["refresh_token_expires_in"], 31_536_000);
    assert!(tok["refresh_token_expires_at"].is_i64());
    assert_eq!(tok["token_type"], "bearer");
    assert_eq!(
        tok["scope"],
        "user_accounts:read,boards:read,pins:read,pins:write"
    );
    let access = tok["access_token"].as_str().unwrap().to_string();
    let rt1 = tok["refresh_token"].as_str().unwrap().to_string();

    let (st, me) = sb.get_bearer(ACCOUNT, &access).await;
    assert_eq!(st, 200, "{me}");
    assert_eq!(me["id"], "1150000000000000001");
    assert_eq!(me["username"], "adasbakerysandbox");
    assert_eq!(me["account_type"], "BUSINESS");
    assert_eq!(me["business_name"], "Ada's Bakery");
    assert_eq!(me["board_count"], 2);
    assert!(me["profile_image"]
        .as_str()
        .unwrap()
        .ends_with("pin-ada.svg"));

    // Without refresh_on: a new access token, no new refresh token, the old one lives on.
    let (st, r1) = token(
        &sb,
        &[("grant_type", "refresh_token"), ("refresh_token", &rt1)],
    )
    .await;
    assert_eq!(st, 200, "{r1}");
    assert!(r1.get("refresh_token").is_none(), "{r1}");
    assert_eq!(r1["response_type"], "refresh_token");
    // With refresh_on=true: a new refresh token, the old one dies.
    let (st, r2) = token(
        &sb,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &rt1),
            ("refresh_on", "true"),
        ],
    )
    .await;
    assert_eq!(st, 200, "{r2}");
    assert_eq!(r2["response_type"], "everlasting_refresh");
    assert_eq!(r2["refresh_token_expires_in"], 31_536_000);
    assert!(r2["refresh_token_expires_at"].is_i64());
    let rt2 = r2["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(rt2, rt1);
    let (st, body) = token(
        &sb,
        &[("grant_type", "refresh_token"), ("refresh_token", &rt1)],
    )
    .await;
    assert_eq!(st, 400);
    assert_eq!(
        body,
        json!({"code":283,"message":"The authorization grant is invalid"})
    );
    assert_eq!(
        token(
            &sb,
            &[("grant_type", "refresh_token"), ("refresh_token", &rt2)]
        )
        .await
        .0,
        200
    );

    let (st, body) = sb.get_bearer(ACCOUNT, "sbx-pinterest-at-nope").await;
    assert_eq!(st, 401);
    assert_eq!(body, json!({"code":2,"message":"Authentication failed."}));
    let s = sb.stats("pinterest").await;
    assert_eq!(s["refreshes"], 3);
    assert_eq!(s["refresh_failures"], 1);
    assert_eq!(s["profile_calls"], 2);
}

#[tokio::test]
async fn account_without_boards() {
    let sb = start().await;
    let code = sb.code_for(AUTH, &PARAMS, "pin-noboards").await;
    let (_, tok) = exchange(&sb, &code).await;
    let (st, me) = sb
        .get_bearer(ACCOUNT, tok["access_token"].as_str().unwrap())
        .await;
    assert_eq!(st, 200);
    assert_eq!(me["board_count"], 0);
    assert_eq!(me["account_type"], "PINNER");
}

const BOARDS: &str = "/api.pinterest.com/v5/boards";

async fn access_for(sb: &TestSandbox, scope: &str, account: &str) -> String {
    let mut p = PARAMS.to_vec();
    p.retain(|(k, _)| *k != "scope");
    p.push(("scope", scope));
    let code = sb.code_for(AUTH, &p, account).await;
    let (s, v) = exchange(sb, &code).await;
    assert_eq!(s, 200, "{v}");
    v["access_token"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn boards_are_listed_and_paged() {
    let sb = start().await;
    let scope = "user_accounts:read,boards:read,pins:read,pins:write";
    let ada = access_for(&sb, scope, "pin-ada").await;
    let (s, v) = sb.get_bearer(BOARDS, &ada).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["items"].as_array().unwrap().len(), 2);
    assert_eq!(v["items"][0]["name"], "Cakes");
    assert_eq!(v["bookmark"], Value::Null);
    let (_, page) = sb.get_bearer(&format!("{BOARDS}?page_size=1"), &ada).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    let bookmark = page["bookmark"].as_str().expect("a bookmark").to_string();
    let (_, next) = sb
        .get_bearer(&format!("{BOARDS}?page_size=1&bookmark={bookmark}"), &ada)
        .await;
    assert_eq!(next["items"][0]["name"], "Bread");
    assert_eq!(next["bookmark"], Value::Null);

    let charles = access_for(&sb, scope, "pin-noboards").await;
    let (s, v) = sb.get_bearer(BOARDS, &charles).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["items"], json!([]));
}

#[tokio::test]
async fn boards_need_boards_read() {
    let sb = start().await;
    let token = access_for(&sb, "user_accounts:read,pins:write", "pin-ada").await;
    let (s, v) = sb.get_bearer(BOARDS, &token).await;
    assert_eq!(s, 403, "{v}");
    assert_eq!(v["code"], 1);
    let (s, v) = sb.get_bearer(BOARDS, "nope").await;
    assert_eq!(s, 401);
    assert_eq!(v, json!({"code": 2, "message": "Authentication failed."}));
}
