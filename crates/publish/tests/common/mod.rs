//! Test helpers for the publishers: an in-process sandbox on 127.0.0.1:0, the catalog pointed
//! at it, grants, faults, media URLs, and a driver that calls `step` until `Done`.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;
use serde_json::{json, Value};
use switchboard_core::post::{Media, MediaKind, PostContent};
use switchboard_core::{Catalog, PlatformSpec};
use switchboard_oauth::PlatformHttp;
use switchboard_publish::{Progress, PublishError, Published, Publisher, Step, Target};
use switchboard_sandbox::{Sandbox, SandboxConfig};
use tokio::sync::oneshot;

/// The client timeout of [`Env::http`].
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// A running sandbox with the catalog pointed at it, stopped when dropped.
pub struct Env {
    pub base: String,
    pub sandbox: Sandbox,
    pub catalog: Catalog,
    pub http: PlatformHttp,
    pub client: reqwest::Client,
    _stop: oneshot::Sender<()>,
}

/// A granted account: its token and platform account id.
pub struct Grant {
    pub token: SecretString,
    pub account_id: String,
}

pub async fn start() -> Env {
    let sandbox = Sandbox::new(SandboxConfig::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(sandbox.clone().serve(listener, async move {
        let _ = rx.await;
    }));
    let base = format!("http://{addr}");
    let mut catalog = Catalog::builtin().expect("catalog");
    catalog.use_sandbox(&base);
    let http = PlatformHttp::new(TIMEOUT, Arc::new(sandbox.clock().clone()));
    Env {
        base,
        sandbox,
        catalog,
        http,
        client: reqwest::Client::new(),
        _stop: tx,
    }
}

impl Env {
    pub fn spec(&self, platform: &str) -> &PlatformSpec {
        self.catalog.get(platform).expect("platform")
    }

    /// A client with a short timeout (for the `Unknown` tests).
    pub fn http_with_timeout(&self, t: Duration) -> PlatformHttp {
        PlatformHttp::new(t, Arc::new(self.sandbox.clock().clone()))
    }

    /// `POST /__sandbox/grants`.
    pub async fn grant(&self, platform: &str, account: Option<&str>, scopes: &[&str]) -> Grant {
        let mut body = json!({ "platform": platform, "scopes": scopes, "count": 1,
            "access_ttl_secs": 365 * 86_400 });
        if let Some(a) = account {
            body["account"] = Value::from(a);
        }
        let v = self.post_json("/__sandbox/grants", &body).await;
        let g = &v["grants"][0];
        Grant {
            token: SecretString::from(g["access_token"].as_str().expect("token").to_string()),
            account_id: g["account_id"].as_str().expect("account_id").to_string(),
        }
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Value {
        let r = self
            .client
            .post(format!("{}{path}", self.base))
            .json(body)
            .send()
            .await
            .expect("sandbox call");
        let status = r.status();
        let v: Value = r.json().await.expect("json");
        assert!(status.is_success(), "{path}: {status} {v}");
        v
    }

    /// `GET /__sandbox/published?platform=`.
    pub async fn published(&self, platform: &str) -> Vec<Value> {
        let r = self
            .client
            .get(format!(
                "{}/__sandbox/published?platform={platform}",
                self.base
            ))
            .send()
            .await
            .expect("published");
        let v: Value = r.json().await.expect("json");
        v["items"].as_array().cloned().unwrap_or_default()
    }

    /// [`Env::published`] once it holds at least `n` items, or after five seconds (a call whose
    /// client gave up may still be finishing at the sandbox).
    pub async fn wait_published(&self, platform: &str, n: usize) -> Vec<Value> {
        for _ in 0..50 {
            let items = self.published(platform).await;
            if items.len() >= n {
                return items;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.published(platform).await
    }

    /// The sandbox clock's now (the `sent_at` of a check).
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        switchboard_core::Clock::now(self.sandbox.clock())
    }

    /// `POST /__sandbox/faults`.
    pub async fn fault(&self, fault: Value) {
        self.post_json("/__sandbox/faults", &fault).await;
    }

    /// The platform's counters from `GET /__sandbox/stats`.
    pub fn stats(&self, platform: &str) -> Value {
        self.sandbox.stats()["platforms"][platform].clone()
    }

    /// A public media URL the sandbox serves (`name` with its extension).
    pub fn media_url(&self, name: &str, bytes: usize) -> String {
        format!("{}/__sandbox/media/{name}?bytes={bytes}", self.base)
    }

    pub fn media(&self, name: &str, kind: MediaKind, bytes: usize) -> Media {
        Media {
            url: self.media_url(name, bytes),
            media_id: None,
            kind,
            mime_type: None,
            size_bytes: None,
            duration_secs: None,
            width: None,
            height: None,
            alt_text: None,
        }
    }
}

pub fn text(t: &str) -> PostContent {
    PostContent {
        text: t.to_string(),
        ..PostContent::default()
    }
}

pub fn target<'a>(
    spec: &'a PlatformSpec,
    grant: &'a Grant,
    account_id: &'a str,
    content: &'a PostContent,
) -> Target<'a> {
    Target {
        spec,
        access_token: &grant.token,
        account_id,
        content,
    }
}

/// Steps from `progress` until `Done`, advancing the sandbox clock by each `wait` (never
/// sleeping). Returns the published item and every intermediate progress.
pub async fn drive(
    env: &Env,
    publisher: &dyn Publisher,
    http: &PlatformHttp,
    target: &Target<'_>,
    mut progress: Progress,
) -> Result<(Published, Vec<Progress>), PublishError> {
    let mut seen = Vec::new();
    for _ in 0..50 {
        match publisher.step(http, target, &progress).await? {
            Step::Continue { progress: p, wait } => {
                if let Some(w) = wait {
                    env.sandbox
                        .clock()
                        .advance(chrono::Duration::from_std(w).expect("wait fits"));
                }
                seen.push(p.clone());
                progress = p;
            }
            Step::Done(p) => return Ok((p, seen)),
        }
    }
    panic!("no Done after 50 steps; last progress {progress}");
}

/// `publisher.check(&env.http, target, progress, sent_at)`, which must answer: the post it
/// found (`Some(Step::Done)`), or `None` when the platform holds no such post
/// (`Checked::NotFound`; a `CannotTell` panics).
pub async fn check(
    env: &Env,
    publisher: &dyn Publisher,
    target: &Target<'_>,
    progress: &Progress,
    sent_at: chrono::DateTime<chrono::Utc>,
) -> Option<Step> {
    match publisher
        .check(&env.http, target, progress, sent_at)
        .await
        .expect("check answers")
    {
        switchboard_publish::Checked::Found(step) => Some(step),
        switchboard_publish::Checked::NotFound => None,
        switchboard_publish::Checked::CannotTell(why) => panic!("check cannot tell: {why}"),
    }
}

/// Unwraps a `Failed`.
pub fn failed(r: Result<impl std::fmt::Debug, PublishError>) -> switchboard_core::Diagnosis {
    match r {
        Err(PublishError::Failed(d)) => *d,
        other => panic!("expected Failed, got {other:?}"),
    }
}
