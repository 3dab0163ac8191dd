//! Test helpers: start a sandbox, walk the consent page, read redirects.

#![allow(dead_code)]

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use reqwest::{Client, Response, StatusCode};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use switchboard_sandbox::{Sandbox, SandboxConfig};
use tokio::sync::oneshot;
use url::Url;

/// The redirect URI the tests' app uses.
pub const REDIRECT: &str = "http://127.0.0.1:7777/callback";

/// A sandbox serving on a random port, stopped when dropped.
pub struct TestSandbox {
    pub base: String,
    pub http: Client,
    pub sandbox: Sandbox,
    _stop: oneshot::Sender<()>,
}

pub async fn start() -> TestSandbox {
    start_with(SandboxConfig::default()).await
}

pub async fn start_with(config: SandboxConfig) -> TestSandbox {
    let sandbox = Sandbox::new(config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(sandbox.clone().serve(listener, async move {
        let _ = rx.await;
    }));
    TestSandbox {
        base: format!("http://{addr}"),
        http: client(None),
        sandbox,
        _stop: tx,
    }
}

/// A reqwest client with redirects disabled, as provider calls are made.
pub fn client(timeout: Option<Duration>) -> Client {
    let mut b = Client::builder().redirect(reqwest::redirect::Policy::none());
    if let Some(t) = timeout {
        b = b.timeout(t);
    }
    b.build().expect("client")
}

/// The default app of a platform.
pub fn cid(platform: &str) -> String {
    format!("sandbox-{platform}-client")
}

pub fn secret(platform: &str) -> String {
    format!("sandbox-{platform}-secret")
}

/// A PKCE verifier and its S256 challenge.
pub fn pkce() -> (String, String) {
    let verifier = format!("verifier-{}", "k".repeat(50));
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

/// A query parameter of a URL.
pub fn param(url: &Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Status and JSON body.
pub async fn json_of(r: Response) -> (StatusCode, Value) {
    let status = r.status();
    let text = r.text().await.expect("body");
    let v = serde_json::from_str(&text).unwrap_or_else(|_| json!({ "_raw": text }));
    (status, v)
}

/// The `Location` of a redirect, parsed.
pub fn location(r: &Response) -> Url {
    assert_eq!(r.status(), StatusCode::FOUND, "expected a redirect");
    let loc = r
        .headers()
        .get("location")
        .expect("location header")
        .to_str()
        .expect("ascii location");
    Url::parse(loc).expect("absolute location")
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The value of `attr="…"` inside a tag.
fn attr(tag: &str, attr: &str) -> Option<String> {
    let key = format!("{attr}=\"");
    let i = tag.find(&key)? + key.len();
    let j = tag[i..].find('"')?;
    Some(unescape(&tag[i..i + j]))
}

/// A parsed consent page: the form's action and hidden fields, and the accounts offered.
#[derive(Debug)]
pub struct ConsentForm {
    pub html: String,
    pub action: String,
    pub hidden: Vec<(String, String)>,
    pub accounts: Vec<String>,
    pub selected: Option<String>,
}

pub fn parse_consent(html: &str) -> ConsentForm {
    assert_eq!(html.matches("<form").count(), 1, "exactly one form");
    let form_tag = &html[html.find("<form").expect("form")..];
    let form_tag = &form_tag[..form_tag.find('>').expect("form tag end")];
    assert_eq!(attr(form_tag, "method").as_deref(), Some("post"));
    let action = attr(form_tag, "action").expect("form action");
    let mut hidden = Vec::new();
    for part in html.split("<input").skip(1) {
        let tag = &part[..part.find('>').expect("input end")];
        if attr(tag, "type").as_deref() == Some("hidden") {
            hidden.push((
                attr(tag, "name").expect("name"),
                attr(tag, "value").unwrap_or_default(),
            ));
        }
    }
    let mut accounts = Vec::new();
    let mut selected = None;
    for part in html.split("<option").skip(1) {
        let tag = &part[..part.find('>').expect("option end")];
        let v = attr(tag, "value").expect("option value");
        if tag.contains(" selected") {
            selected = Some(v.clone());
        }
        accounts.push(v);
    }
    ConsentForm {
        html: html.to_string(),
        action,
        hidden,
        accounts,
        selected,
    }
}

impl TestSandbox {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// GET on an authorization endpoint.
    pub async fn authorize_get(&self, path: &str, params: &[(&str, &str)]) -> Response {
        self.http
            .get(self.url(path))
            .query(params)
            .send()
            .await
            .expect("authorize GET")
    }

    /// GET on an authorization endpoint that skips the page with `X-Sandbox-Consent`.
    pub async fn authorize_with(
        &self,
        path: &str,
        params: &[(&str, &str)],
        decision: &str,
        account: Option<&str>,
    ) -> Response {
        let mut rb = self
            .http
            .get(self.url(path))
            .query(params)
            .header("X-Sandbox-Consent", decision);
        if let Some(a) = account {
            rb = rb.header("X-Sandbox-Account", a);
        }
        rb.send().await.expect("authorize GET")
    }

    /// Loads the consent page and parses its form.
    pub async fn consent_page(&self, path: &str, params: &[(&str, &str)]) -> ConsentForm {
        let r = self.authorize_get(path, params).await;
        assert_eq!(r.status(), StatusCode::OK, "consent page");
        assert!(r
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|c| c.starts_with("text/html")));
        parse_consent(&r.text().await.expect("html"))
    }

    /// Walks the consent page like a browser: loads it, submits its form with `decision` and
    /// `account` (or the preselected one), returns the redirect.
    pub async fn consent(
        &self,
        path: &str,
        params: &[(&str, &str)],
        account: Option<&str>,
        decision: &str,
    ) -> Url {
        let form = self.consent_page(path, params).await;
        let mut fields = form.hidden.clone();
        let acct = account
            .map(str::to_string)
            .or(form.selected.clone())
            .expect("an account");
        fields.push(("account".into(), acct));
        fields.push(("decision".into(), decision.into()));
        let r = self
            .http
            .post(self.url(&form.action))
            .form(&fields)
            .send()
            .await
            .expect("consent POST");
        location(&r)
    }

    /// A code through the consent page with the default account.
    pub async fn code(&self, path: &str, params: &[(&str, &str)]) -> String {
        let loc = self.consent(path, params, None, "allow").await;
        param(&loc, "code").unwrap_or_else(|| panic!("no code in {loc}"))
    }

    /// A code through the `X-Sandbox-Consent` header with an account.
    pub async fn code_for(&self, path: &str, params: &[(&str, &str)], account: &str) -> String {
        let r = self
            .authorize_with(path, params, "allow", Some(account))
            .await;
        let loc = location(&r);
        param(&loc, "code").unwrap_or_else(|| panic!("no code in {loc}"))
    }

    pub async fn introspect(&self, token: &str) -> Value {
        let r = self
            .http
            .post(self.url("/__sandbox/introspect"))
            .json(&json!({ "token": token }))
            .send()
            .await
            .expect("introspect");
        json_of(r).await.1
    }

    pub async fn stats(&self, platform: &str) -> Value {
        let r = self
            .http
            .get(self.url("/__sandbox/stats"))
            .send()
            .await
            .expect("stats");
        json_of(r).await.1["platforms"][platform].clone()
    }

    pub async fn fault(&self, spec: Value) {
        let r = self
            .http
            .post(self.url("/__sandbox/faults"))
            .json(&spec)
            .send()
            .await
            .expect("fault");
        assert_eq!(r.status(), StatusCode::CREATED, "{:?}", r.text().await);
    }

    pub fn advance(&self, secs: i64) {
        self.sandbox
            .clock()
            .advance(chrono::Duration::seconds(secs));
    }

    /// GET with a bearer token.
    pub async fn get_bearer(&self, path: &str, token: &str) -> (StatusCode, Value) {
        let r = self
            .http
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("GET");
        json_of(r).await
    }
}
