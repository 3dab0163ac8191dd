//! The shared authorization endpoint: consent page, headers, auto-consent, denials, error pages,
//! and the catalog's endpoints all being served.

use std::collections::BTreeMap;

use switchboard_core::Catalog;
use switchboard_sandbox::{default_client, SandboxConfig};

use crate::common::*;

const LI_AUTH: &str = "/www.linkedin.com/oauth/v2/authorization";

fn li_params(state: &str) -> Vec<(&'static str, &str)> {
    vec![
        ("response_type", "code"),
        ("client_id", "sandbox-linkedin-client"),
        ("redirect_uri", REDIRECT),
        ("scope", "openid profile"),
        ("state", state),
    ]
}

#[tokio::test]
async fn consent_page_is_a_plain_form_carrying_the_request() {
    let sb = start().await;
    let state = "s <&> \"q\"";
    let form = sb.consent_page(LI_AUTH, &li_params(state)).await;
    let html = &form.html;
    assert!(html.contains("LinkedIn"));
    assert!(html.contains("sandbox-linkedin-client"));
    assert!(html.contains("<code>openid</code>") && html.contains("<code>profile</code>"));
    assert!(html.contains("<select name=\"account\""));
    assert!(html.contains("<button type=\"submit\" name=\"decision\" value=\"allow\""));
    assert!(html.contains("<button type=\"submit\" name=\"decision\" value=\"deny\""));
    assert_eq!(form.action, LI_AUTH);
    assert_eq!(form.accounts, vec!["li-ada", "li-grace"]);
    assert_eq!(form.selected.as_deref(), Some("li-ada"));
    let hidden: BTreeMap<_, _> = form.hidden.iter().cloned().collect();
    assert_eq!(hidden.get("state").map(String::as_str), Some(state));
    assert_eq!(
        hidden.get("redirect_uri").map(String::as_str),
        Some(REDIRECT)
    );
    // No external assets.
    for needle in ["<script", "<link", "src=", "http://fonts", "https://"] {
        assert!(!html.contains(needle), "{needle} in consent page");
    }
    // Submitting the form with another account.
    let loc = sb
        .consent(LI_AUTH, &li_params(state), Some("li-grace"), "allow")
        .await;
    assert_eq!(param(&loc, "state").as_deref(), Some(state));
    let code = param(&loc, "code").unwrap();
    let i = sb.introspect(&code).await;
    assert_eq!(i["active"], false, "codes are not tokens");
}

#[tokio::test]
async fn deny_redirects_with_access_denied_and_state() {
    let sb = start().await;
    let loc = sb
        .consent(LI_AUTH, &li_params("st-deny"), None, "deny")
        .await;
    assert!(loc.as_str().starts_with(REDIRECT));
    assert_eq!(param(&loc, "error").as_deref(), Some("access_denied"));
    assert!(param(&loc, "error_description").is_some());
    assert_eq!(param(&loc, "state").as_deref(), Some("st-deny"));
    assert!(param(&loc, "code").is_none());
    // The header does the same without the page.
    let r = sb
        .authorize_with(LI_AUTH, &li_params("st-h"), "deny", None)
        .await;
    assert_eq!(
        param(&location(&r), "error").as_deref(),
        Some("access_denied")
    );
    assert_eq!(sb.stats("linkedin").await["authorizations"], 0);
}

#[tokio::test]
async fn header_consent_picks_the_account_and_rejects_unknown_ones() {
    let sb = start().await;
    let code = sb.code_for(LI_AUTH, &li_params("a"), "li-grace").await;
    let r = sb
        .http
        .post(sb.url("/www.linkedin.com/oauth/v2/accessToken"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("client_id", "sandbox-linkedin-client"),
            ("client_secret", "sandbox-linkedin-secret"),
        ])
        .send()
        .await
        .unwrap();
    let (_, tok) = json_of(r).await;
    let i = sb.introspect(tok["access_token"].as_str().unwrap()).await;
    assert_eq!(i["account_id"], "li-grace");
    assert_eq!(i["platform"], "linkedin");
    assert_eq!(i["active"], true);

    let r = sb
        .authorize_with(LI_AUTH, &li_params("a"), "allow", Some("x-ada"))
        .await;
    assert_eq!(r.status(), 400, "an X account is not a LinkedIn account");
    assert!(r.headers().get("location").is_none());
    let r = sb
        .authorize_with(LI_AUTH, &li_params("a"), "maybe", None)
        .await;
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn auto_consent_redirects_at_once_with_the_default_account() {
    let sb = start_with(SandboxConfig {
        auto_consent: true,
        ..SandboxConfig::default()
    })
    .await;
    let r = sb.authorize_get(LI_AUTH, &li_params("auto")).await;
    let loc = location(&r);
    assert!(param(&loc, "code").is_some());
    assert_eq!(param(&loc, "state").as_deref(), Some("auto"));
    assert_eq!(sb.stats("linkedin").await["authorizations"], 1);
}

#[tokio::test]
async fn client_and_redirect_problems_are_pages_never_redirects() {
    let mut config = SandboxConfig::default();
    let mut x = default_client("twitter");
    x.redirect_uris = vec![REDIRECT.to_string()];
    config.clients.insert("twitter".into(), x);
    let sb = start_with(config).await;
    let (_, challenge) = pkce();
    let base = [
        ("response_type", "code"),
        ("client_id", "sandbox-twitter-client"),
        ("redirect_uri", REDIRECT),
        ("scope", "tweet.read users.read"),
        ("state", "s"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let cases: [(&str, &str); 3] = [
        ("redirect_uri", "http://127.0.0.1:7777/evil"),
        ("client_id", "someone-else"),
        ("redirect_uri", "not a url"),
    ];
    for (k, v) in cases {
        let p: Vec<(&str, &str)> = base
            .iter()
            .map(|(pk, pv)| if *pk == k { (*pk, v) } else { (*pk, *pv) })
            .collect();
        let r = sb
            .authorize_with("/x.com/i/oauth2/authorize", &p, "allow", None)
            .await;
        assert_eq!(r.status(), 400, "{k}={v}");
        assert!(r.headers().get("location").is_none(), "{k}={v}");
        assert!(r.text().await.unwrap().contains("<html"));
    }
    // Missing redirect_uri on LinkedIn: a page too.
    let p: Vec<(&str, &str)> = li_params("s")
        .into_iter()
        .filter(|(k, _)| *k != "redirect_uri")
        .collect();
    let r = sb.authorize_get(LI_AUTH, &p).await;
    assert_eq!(r.status(), 400);
    assert!(r.headers().get("location").is_none());
    // Unsupported response_type goes back to the (valid) redirect URI.
    let mut p = li_params("rt");
    p[0] = ("response_type", "token");
    let r = sb.authorize_with(LI_AUTH, &p, "allow", None).await;
    assert_eq!(
        param(&location(&r), "error").as_deref(),
        Some("unsupported_response_type")
    );
    // LinkedIn reports unknown scopes its own way.
    let mut p = li_params("sc");
    p[3] = ("scope", "r_liteprofile");
    let r = sb.authorize_with(LI_AUTH, &p, "allow", None).await;
    assert_eq!(
        param(&location(&r), "error").as_deref(),
        Some("unauthorized_scope_error")
    );
}

/// Every endpoint URL of the catalog (pointed at the sandbox) is served: a request to it never
/// reaches the sandbox's "no such endpoint" fallback.
#[tokio::test]
async fn every_catalog_endpoint_is_served() {
    let sb = start().await;
    let mut catalog = Catalog::builtin().unwrap();
    catalog.use_sandbox(&sb.base);
    let mut checked = 0;
    for spec in catalog.all() {
        let endpoints = serde_json::to_value(&spec.endpoints).unwrap();
        for (field, url) in endpoints.as_object().unwrap() {
            let Some(url) = url.as_str() else { continue };
            if field == "api_base_url" {
                continue;
            }
            for method in [reqwest::Method::GET, reqwest::Method::POST] {
                let r = sb.http.request(method.clone(), url).send().await.unwrap();
                assert!(
                    r.headers().get("x-sandbox-unknown-path").is_none(),
                    "{} {field} {method} {url} is not served",
                    spec.id
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 7 * 3, "checked {checked}");
    // And the fallback does fire for unknown paths.
    let r = sb
        .http
        .get(sb.url("/api.x.com/2/nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert!(r.headers().get("x-sandbox-unknown-path").is_some());
}

#[tokio::test]
async fn a_person_can_grant_fewer_scopes_than_asked() {
    let sb = start().await;
    let params = vec![
        ("response_type", "code"),
        ("client_id", "sandbox-linkedin-client"),
        ("redirect_uri", REDIRECT),
        ("scope", "openid profile email w_member_social"),
        ("state", "s1"),
    ];
    // X-Sandbox-Scopes: only these are granted; a scope not asked for is not granted either.
    let r = sb
        .http
        .get(sb.url(LI_AUTH))
        .query(&params)
        .header("X-Sandbox-Consent", "allow")
        .header("X-Sandbox-Scopes", "openid profile r_ads")
        .send()
        .await
        .expect("authorize");
    let code = param(&location(&r), "code").expect("code");
    let r = sb
        .http
        .post(sb.url("/www.linkedin.com/oauth/v2/accessToken"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("client_id", &cid("linkedin")),
            ("client_secret", &secret("linkedin")),
        ])
        .send()
        .await
        .expect("token");
    let (status, tok) = json_of(r).await;
    assert!(status.is_success(), "{tok}");
    assert_eq!(tok["scope"], "openid,profile");
    // Without the header everything asked for is granted.
    let code = sb.code_for(LI_AUTH, &params, "li-ada").await;
    let r = sb
        .http
        .post(sb.url("/www.linkedin.com/oauth/v2/accessToken"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("client_id", &cid("linkedin")),
            ("client_secret", &secret("linkedin")),
        ])
        .send()
        .await
        .expect("token");
    let (_, tok) = json_of(r).await;
    assert_eq!(tok["scope"], "openid,profile,email,w_member_social");
}
