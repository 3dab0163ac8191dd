//! Facebook: GET code exchange, long-lived exchange, Page tokens, de-authorization, Graph
//! error envelope.

use serde_json::{json, Value};

use crate::common::*;

const AUTH: &str = "/www.facebook.com/v22.0/dialog/oauth";
const TOKEN: &str = "/graph.facebook.com/v22.0/oauth/access_token";
const ME: &str = "/graph.facebook.com/v22.0/me?fields=id,name,picture";
const ACCOUNTS: &str = "/graph.facebook.com/v22.0/me/accounts?fields=id,name,access_token";
const PERMISSIONS: &str = "/graph.facebook.com/v22.0/me/permissions";

const PARAMS: [(&str, &str); 4] = [
    ("client_id", "sandbox-facebook-client"),
    ("redirect_uri", REDIRECT),
    ("state", "st-fb"),
    (
        "scope",
        "public_profile,pages_show_list,pages_read_engagement,pages_manage_posts",
    ),
];

async fn exchange(sb: &TestSandbox, code: &str) -> (reqwest::StatusCode, Value) {
    let r = sb
        .http
        .get(sb.url(TOKEN))
        .query(&[
            ("client_id", "sandbox-facebook-client"),
            ("redirect_uri", REDIRECT),
            ("client_secret", "sandbox-facebook-secret"),
            ("code", code),
        ])
        .send()
        .await
        .unwrap();
    json_of(r).await
}

async fn long_lived(sb: &TestSandbox, token: &str) -> (reqwest::StatusCode, Value) {
    let r = sb
        .http
        .get(sb.url(TOKEN))
        .query(&[
            ("grant_type", "fb_exchange_token"),
            ("client_id", "sandbox-facebook-client"),
            ("client_secret", "sandbox-facebook-secret"),
            ("fb_exchange_token", token),
        ])
        .send()
        .await
        .unwrap();
    json_of(r).await
}

fn assert_graph_error(body: &Value, code: i64, subcode: Option<i64>) {
    assert_eq!(body["error"]["type"], "OAuthException", "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    match subcode {
        Some(s) => assert_eq!(body["error"]["error_subcode"], s, "{body}"),
        None => assert!(body["error"].get("error_subcode").is_none(), "{body}"),
    }
    assert!(body["error"]["fbtrace_id"].is_string());
    assert!(body["error"]["message"].is_string());
}

#[tokio::test]
async fn code_exchange_long_lived_page_tokens_and_deauthorization() {
    let sb = start().await;
    let loc = sb.consent(AUTH, &PARAMS, None, "allow").await;
    assert_eq!(loc.fragment(), Some("_=_"), "Facebook appends #_=_: {loc}");
    assert_eq!(param(&loc, "state").as_deref(), Some("st-fb"));
    let code = param(&loc, "code").unwrap();

    let (st, short) = exchange(&sb, &code).await;
    assert_eq!(st, 200, "{short}");
    assert_eq!(short["token_type"], "bearer");
    assert_eq!(short["expires_in"], 5400);
    let short_token = short["access_token"].as_str().unwrap().to_string();

    let (st, body) = exchange(&sb, &code).await;
    assert_eq!(st, 400);
    assert_graph_error(&body, 100, Some(36009));

    let (st, me) = sb.get_bearer(ME, &short_token).await;
    assert_eq!(st, 200);
    assert_eq!(me["id"], "10150000000000001");
    assert_eq!(me["name"], "Ada Lovelace");
    assert!(me["picture"]["data"]["url"]
        .as_str()
        .unwrap()
        .ends_with("/__sandbox/avatars/fb-ada.svg"));
    // The access_token query parameter works too.
    let r = sb
        .http
        .get(sb.url("/graph.facebook.com/v22.0/me"))
        .query(&[("access_token", short_token.as_str())])
        .send()
        .await
        .unwrap();
    let (st, me2) = json_of(r).await;
    assert_eq!(st, 200);
    assert_eq!(me2, json!({"id":"10150000000000001","name":"Ada Lovelace"}));

    // Page tokens from the short-lived token expire with it.
    let (st, pages) = sb.get_bearer(ACCOUNTS, &short_token).await;
    assert_eq!(st, 200, "{pages}");
    let data = pages["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    let short_page = data[0]["access_token"].as_str().unwrap().to_string();
    let short_info = sb.introspect(&short_token).await;
    let page_info = sb.introspect(&short_page).await;
    assert_eq!(page_info["page_id"], data[0]["id"]);
    assert_eq!(page_info["expires_at"], short_info["expires_at"]);
    assert!(page_info["expires_at"].is_string());

    // Long-lived user token, then Page tokens that never expire.
    let (st, long) = long_lived(&sb, &short_token).await;
    assert_eq!(st, 200, "{long}");
    assert_eq!(long["expires_in"], 5_183_944);
    assert_eq!(long["token_type"], "bearer");
    let long_token = long["access_token"].as_str().unwrap().to_string();
    let (_, pages) = sb.get_bearer(ACCOUNTS, &long_token).await;
    let page_token = pages["data"][1]["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(pages["data"][1]["name"], "Ada's Bakery");
    let info = sb.introspect(&page_token).await;
    assert_eq!(info["active"], true);
    assert!(info["expires_at"].is_null(), "{info}");
    // The same Page token comes back on the next call.
    let (_, again) = sb.get_bearer(ACCOUNTS, &long_token).await;
    assert_eq!(again["data"][1]["access_token"], page_token.as_str());
    // A Page token reads the Page.
    let (st, page) = sb
        .get_bearer("/graph.facebook.com/v22.0/me", &page_token)
        .await;
    assert_eq!(st, 200);
    assert_eq!(page["id"], "102000000000002");

    // Long after the user token would have expired, the Page token still works.
    sb.advance(90 * 86_400);
    assert_eq!(
        sb.get_bearer("/graph.facebook.com/v22.0/me", &page_token)
            .await
            .0,
        200
    );
    let (st, body) = sb.get_bearer(ME, &long_token).await;
    assert_eq!(st, 400);
    assert_graph_error(&body, 190, Some(463));

    // De-authorizing kills every token of the account, Page tokens included.
    let code = sb.code(AUTH, &PARAMS).await;
    let (_, fresh) = exchange(&sb, &code).await;
    let fresh = fresh["access_token"].as_str().unwrap().to_string();
    let r = sb
        .http
        .delete(sb.url(PERMISSIONS))
        .bearer_auth(&fresh)
        .send()
        .await
        .unwrap();
    let (st, body) = json_of(r).await;
    assert_eq!((st.as_u16(), body), (200, json!({ "success": true })));
    let (st, body) = sb.get_bearer(ME, &fresh).await;
    assert_eq!(st, 400);
    assert_graph_error(&body, 190, Some(458));
    assert_eq!(
        sb.get_bearer("/graph.facebook.com/v22.0/me", &page_token)
            .await
            .0,
        400
    );
    assert_eq!(sb.introspect(&page_token).await["active"], false);
    let s = sb.stats("facebook").await;
    assert_eq!(s["token_exchanges"], 2);
    assert_eq!(s["long_lived_exchanges"], 1);
    assert_eq!(s["revocations"], 1);
}

#[tokio::test]
async fn expired_token_cannot_be_exchanged() {
    let sb = start().await;
    let code = sb.code(AUTH, &PARAMS).await;
    let (_, short) = exchange(&sb, &code).await;
    let short = short["access_token"].as_str().unwrap().to_string();
    sb.advance(5401);
    let (st, body) = long_lived(&sb, &short).await;
    assert_eq!(st, 400);
    assert_graph_error(&body, 190, Some(463));
    let (st, body) = long_lived(&sb, "not-a-token").await;
    assert_eq!(st, 400);
    assert_graph_error(&body, 190, Some(467));
}

#[tokio::test]
async fn bad_client_secret_and_parameters_use_the_graph_envelope() {
    let sb = start().await;
    let code = sb.code(AUTH, &PARAMS).await;
    let r = sb
        .http
        .get(sb.url(TOKEN))
        .query(&[
            ("client_id", "sandbox-facebook-client"),
            ("redirect_uri", REDIRECT),
            ("client_secret", "wrong"),
            ("code", code.as_str()),
        ])
        .send()
        .await
        .unwrap();
    let (st, body) = json_of(r).await;
    assert_eq!(st, 400);
    assert_graph_error(&body, 101, Some(1));

    let r = sb
        .http
        .get(sb.url(TOKEN))
        .query(&[
            ("client_id", "sandbox-facebook-client"),
            ("redirect_uri", "http://127.0.0.1:7777/other"),
            ("client_secret", "sandbox-facebook-secret"),
            ("code", code.as_str()),
        ])
        .send()
        .await
        .unwrap();
    let (st, body) = json_of(r).await;
    assert_eq!(st, 400);
    assert_graph_error(&body, 100, Some(36008));

    // Any Graph version is accepted; a malformed one is not.
    let (st, body) = sb
        .get_bearer("/graph.facebook.com/v19.0/me", "whatever")
        .await;
    assert_eq!(st, 400);
    assert_graph_error(&body, 190, Some(467));
    let (st, body) = sb
        .get_bearer("/graph.facebook.com/latest/me", "whatever")
        .await;
    assert_eq!(st, 400);
    assert_graph_error(&body, 2500, None);
    let r = sb
        .authorize_with(
            "/www.facebook.com/v20.0/dialog/oauth",
            &PARAMS,
            "allow",
            None,
        )
        .await;
    assert!(param(&location(&r), "code").is_some());
    let r = sb
        .authorize_with(
            "/www.facebook.com/latest/dialog/oauth",
            &PARAMS,
            "allow",
            None,
        )
        .await;
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn account_without_pages_lists_none_and_denial_is_meta_style() {
    let sb = start().await;
    let code = sb.code_for(AUTH, &PARAMS, "fb-nopages").await;
    let (_, short) = exchange(&sb, &code).await;
    let token = short["access_token"].as_str().unwrap();
    let (st, pages) = sb.get_bearer(ACCOUNTS, token).await;
    assert_eq!(st, 200);
    assert_eq!(pages["data"], json!([]));

    let r = sb.authorize_with(AUTH, &PARAMS, "deny", None).await;
    let loc = location(&r);
    assert_eq!(param(&loc, "error").as_deref(), Some("access_denied"));
    assert_eq!(param(&loc, "error_reason").as_deref(), Some("user_denied"));
    assert_eq!(param(&loc, "state").as_deref(), Some("st-fb"));
    assert!(param(&loc, "code").is_none());

    // Without pages_show_list, /me/accounts is a permission error.
    let mut p = PARAMS;
    p[3] = ("scope", "public_profile");
    let code = sb.code(AUTH, &p).await;
    let (_, short) = exchange(&sb, &code).await;
    let (st, body) = sb
        .get_bearer(ACCOUNTS, short["access_token"].as_str().unwrap())
        .await;
    assert_eq!(st, 400);
    assert_graph_error(&body, 200, None);
}

#[tokio::test]
async fn a_page_node_is_read_with_its_own_page_token() {
    let sb = start().await;
    let code = sb.code(AUTH, &PARAMS).await;
    let (_, short) = exchange(&sb, &code).await;
    let (_, long) = long_lived(&sb, short["access_token"].as_str().unwrap()).await;
    let user = long["access_token"].as_str().unwrap().to_string();
    let (_, pages) = sb.get_bearer(ACCOUNTS, &user).await;
    let engines = pages["data"][0]["id"].as_str().unwrap().to_string();
    let bakery = pages["data"][1]["id"].as_str().unwrap().to_string();
    let engines_token = pages["data"][0]["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let node = |id: &str| format!("/graph.facebook.com/v22.0/{id}?fields=id,name");

    let (st, body) = sb.get_bearer(&node(&engines), &engines_token).await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(
        body,
        json!({"id": engines, "name": "Analytical Engines Ltd"})
    );
    // The manager's user token reads it too; another Page's token does not.
    let (st, _) = sb.get_bearer(&node(&bakery), &user).await;
    assert_eq!(st, 200);
    let (st, body) = sb.get_bearer(&node(&bakery), &engines_token).await;
    assert_eq!(st, 400);
    assert_graph_error(&body, 100, Some(33));
    let (st, body) = sb.get_bearer(&node("42"), &user).await;
    assert_eq!(st, 400);
    assert_graph_error(&body, 100, Some(33));

    // De-authorizing the app kills the Page token: Graph's 190.
    let r = sb
        .http
        .delete(sb.url(PERMISSIONS))
        .bearer_auth(&user)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let (st, body) = sb.get_bearer(&node(&engines), &engines_token).await;
    assert_eq!(st, 400);
    assert_eq!(body["error"]["code"], 190, "{body}");
}

/// Graph versions as Meta serves them (https://developers.facebook.com/docs/graph-api/changelog/versions/
/// and https://developers.facebook.com/docs/graph-api/guides/versioning): a released version
/// answers, a version past its "available until" date too (served by the oldest available one),
/// a version never released is `(#2500) Unknown path components`.
#[tokio::test]
async fn graph_versions_are_the_released_ones() {
    let sb = start().await;
    let code = sb.code(AUTH, &PARAMS).await;
    let (_, short) = exchange(&sb, &code).await;
    let token = short["access_token"].as_str().unwrap().to_string();
    for v in ["v26.0", "v25.0", "v22.0", "v16.0", "v2.8"] {
        let (st, me) = sb
            .get_bearer(&format!("/graph.facebook.com/{v}/me"), &token)
            .await;
        assert_eq!(st, 200, "{v}: {me}");
    }
    for v in ["v27.0", "v99.0", "v22.5", "22.0", "vX"] {
        let (st, body) = sb
            .get_bearer(&format!("/graph.facebook.com/{v}/me"), &token)
            .await;
        assert_eq!(st, 400, "{v}: {body}");
        assert_graph_error(&body, 2500, None);
        assert_eq!(body["error"]["message"], "Unknown path components: /me");
    }
}

/// `fb-business` reaches two Pages only through her Business portfolio: `/me/accounts` lists
/// her own Page, `/me/businesses` (with `business_management`) her Business, whose
/// `owned_pages` and `client_pages` list the rest with Page tokens that publish.
#[tokio::test]
async fn business_pages_need_business_management_and_are_not_in_me_accounts() {
    let sb = start().await;
    let mut params = PARAMS;
    params[3].1 = "public_profile,pages_show_list,pages_read_engagement,pages_manage_posts,business_management";
    let code = sb.code_for(AUTH, &params, "fb-business").await;
    let (_, short) = exchange(&sb, &code).await;
    let (_, long) = long_lived(&sb, short["access_token"].as_str().unwrap()).await;
    let user = long["access_token"].as_str().unwrap().to_string();
    let ids = |v: &Value| -> Vec<String> {
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_str().unwrap().to_string())
            .collect()
    };
    let (st, mine) = sb.get_bearer(ACCOUNTS, &user).await;
    assert_eq!(st, 200, "{mine}");
    assert_eq!(ids(&mine), ["102000000000011"]);
    let (st, b) = sb
        .get_bearer(
            "/graph.facebook.com/v26.0/me/businesses?fields=id,name",
            &user,
        )
        .await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(ids(&b), ["201000000000001"]);
    assert_eq!(b["data"][0]["name"], "Somerville Holdings");
    let (st, owned) = sb
        .get_bearer(
            "/graph.facebook.com/v26.0/201000000000001/owned_pages?fields=id,name,access_token,tasks",
            &user,
        )
        .await;
    assert_eq!(st, 200, "{owned}");
    assert_eq!(ids(&owned), ["102000000000011", "102000000000012"]);
    let (st, client) = sb
        .get_bearer(
            "/graph.facebook.com/v26.0/201000000000001/client_pages?fields=id,access_token",
            &user,
        )
        .await;
    assert_eq!(st, 200, "{client}");
    assert_eq!(ids(&client), ["102000000000013"]);
    // A Business Page's token reads that Page.
    let page_token = owned["data"][1]["access_token"].as_str().unwrap();
    let (st, page) = sb
        .get_bearer("/graph.facebook.com/v26.0/me?fields=id,name", page_token)
        .await;
    assert_eq!(st, 200, "{page}");
    assert_eq!(page["name"], "Connexion of the Sciences");
    // Another Business id is not hers.
    let (st, body) = sb
        .get_bearer(
            "/graph.facebook.com/v26.0/201000000000999/owned_pages",
            &user,
        )
        .await;
    assert_eq!(st, 400);
    assert_graph_error(&body, 100, Some(33));

    // Without business_management: (#200) on the Business edges.
    let code = sb.code_for(AUTH, &PARAMS, "fb-business").await;
    let (_, short) = exchange(&sb, &code).await;
    let weak = short["access_token"].as_str().unwrap();
    let (st, body) = sb
        .get_bearer("/graph.facebook.com/v26.0/me/businesses", weak)
        .await;
    assert_eq!(st, 400);
    assert_graph_error(&body, 200, None);
    let (st, body) = sb
        .get_bearer(
            "/graph.facebook.com/v26.0/201000000000001/owned_pages",
            weak,
        )
        .await;
    assert_eq!(st, 400);
    assert_graph_error(&body, 200, None);
}
