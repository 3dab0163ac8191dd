//! The OAuth client proven against an authorization server this project did not write: the
//! OpenID Certified `oidc-provider` from npm (tests/oidc-provider), configured as a custom
//! provider with PKCE S256 required, rotating refresh tokens, revocation and introspection.
//! Install it with `scripts/install-test-deps.sh`.

mod common;

use std::path::PathBuf;
use std::process::Stdio;

use common::{Setup, TestApp};
use reqwest::header::{ACCEPT, LOCATION};
use reqwest::StatusCode;
use serde_json::{json, Value};
use switchboard_core::catalog::{ClientAuth, Pkce};
use switchboard_server::config::ProviderConfig;
use tokio::io::{AsyncBufReadExt, BufReader};

const CLIENT_ID: &str = "switchboard-test";
const CLIENT_SECRET: &str = "switchboard-test-secret";

struct Provider {
    issuer: String,
    _child: tokio::process::Child,
}

async fn start_provider(redirect_uri: &str) -> Provider {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/oidc-provider");
    assert!(
        dir.join("node_modules/oidc-provider").exists(),
        "oidc-provider is not installed: run scripts/install-test-deps.sh (CI does)"
    );
    let mut child = tokio::process::Command::new("node")
        .arg("server.mjs")
        .current_dir(&dir)
        .env("PORT", "0")
        .env("CLIENT_ID", CLIENT_ID)
        .env("CLIENT_SECRET", CLIENT_SECRET)
        .env("REDIRECT_URIS", redirect_uri)
        .env("TOKEN_ENDPOINT_AUTH_METHOD", "client_secret_basic")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("node runs");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(std::time::Duration::from_secs(30), lines.next_line())
        .await
        .expect("oidc-provider ready within 30 s")
        .expect("read")
        .expect("a ready line");
    let issuer = line
        .strip_prefix("OIDC_PROVIDER_READY issuer=")
        .unwrap_or_else(|| panic!("unexpected first line: {line}"))
        .to_string();
    Provider {
        issuer,
        _child: child,
    }
}

async fn introspect(issuer: &str, token: &str) -> Value {
    reqwest::Client::new()
        .post(format!("{issuer}/token/introspection"))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[("token", token)])
        .send()
        .await
        .expect("introspection")
        .json()
        .await
        .expect("introspection json")
}

#[tokio::test]
async fn custom_provider_connects_serves_token_and_revokes_against_oidc_provider() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let api = format!("http://{}", listener.local_addr().unwrap());
    let provider = start_provider(&format!("{api}/v1/oauth/callback/acme")).await;
    let issuer = provider.issuer.clone();
    let app = TestApp::spawn_with(Setup {
        listener: Some(listener),
        config: Box::new(move |c| {
            c.providers.insert(
                "acme".into(),
                ProviderConfig {
                    display_name: Some("Acme ID".into()),
                    authorization_url: format!("{issuer}/auth"),
                    token_url: format!("{issuer}/token"),
                    revocation_url: Some(format!("{issuer}/token/revocation")),
                    userinfo_url: Some(format!("{issuer}/me")),
                    client_id: Some(CLIENT_ID.into()),
                    client_secret: Some(CLIENT_SECRET.into()),
                    client_secret_file: None,
                    client_auth: ClientAuth::ClientSecretBasic,
                    pkce: Pkce::Required,
                    scopes: vec![
                        "openid".into(),
                        "offline_access".into(),
                        "profile".into(),
                        "email".into(),
                    ],
                    scope_separator: " ".into(),
                    rotating_refresh_tokens: true,
                    account_id_pointer: None,
                    authorization_params: Default::default(),
                },
            );
        }),
        ..Setup::default()
    })
    .await;

    let (s, start) = app
        .post(
            "/v1/connect/acme",
            json!({"owner": "user-7", "scopes": ["posts.write"]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{start}");
    let auth_url = start["authorization_url"].as_str().unwrap();
    assert!(auth_url.contains("code_challenge_method=S256"));

    // The provider's own interaction: follow its redirects with a cookie jar, as a browser.
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut url = url::Url::parse(auth_url).unwrap();
    let callback = loop {
        let r = browser.get(url.clone()).send().await.unwrap();
        assert!(
            r.status().is_redirection(),
            "provider answered {}",
            r.status()
        );
        let next = url.join(r.headers()[LOCATION].to_str().unwrap()).unwrap();
        if next
            .as_str()
            .starts_with(&format!("{}/v1/oauth/callback/acme", app.api))
        {
            break next;
        }
        url = next;
    };
    let r = app
        .http
        .get(callback.as_str())
        .header(ACCEPT, "application/json")
        .send()
        .await
        .unwrap();
    let (s, conn) = common::read(r).await;
    assert_eq!(s, StatusCode::CREATED, "{conn}");
    assert_eq!(conn["platform"], "acme");
    assert_eq!(conn["account"]["id"], "alice");
    assert_eq!(conn["has_refresh_token"], true);
    assert!(
        conn["scopes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s == "posts.write"),
        "{conn}"
    );

    let id = conn["id"].as_str().unwrap();
    let (s, tok) = app.get(&format!("/v1/connections/{id}/token")).await;
    assert_eq!(s, StatusCode::OK, "{tok}");
    let access = tok["access_token"].as_str().unwrap().to_string();
    let before = introspect(&provider.issuer, &access).await;
    assert_eq!(before["active"], true, "{before}");
    assert_eq!(before["client_id"], CLIENT_ID);

    let (s, del) = app.delete(&format!("/v1/connections/{id}")).await;
    assert_eq!(s, StatusCode::OK, "{del}");
    assert_eq!(del["revocation"]["status"], "revoked", "{del}");
    let after = introspect(&provider.issuer, &access).await;
    assert_eq!(
        after["active"], false,
        "the provider reports the token inactive: {after}"
    );
}
