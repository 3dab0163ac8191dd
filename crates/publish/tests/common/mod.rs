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
    start_with(SandboxConfig::default()).await
}

/// [`start`] with a sandbox of this configuration (an unaudited app...).
pub async fn start_with(config: SandboxConfig) -> Env {
    let sandbox = Sandbox::new(config);
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
        local_media: &[],
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

/// How [`RangeHost`] answers `HEAD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Head {
    /// `200` with the file's `Content-Length`.
    Length,
    /// `405 Method Not Allowed` (no size: the publisher must download the file to learn it).
    Refused,
}

/// A media host on 127.0.0.1 that honours `Range` (`206` with `Content-Range`), counting the
/// body bytes it serves and the `HEAD` requests it answers.
pub struct RangeHost {
    /// `http://127.0.0.1:port/<name>`.
    pub url: String,
    served: Arc<std::sync::atomic::AtomicU64>,
    heads: Arc<std::sync::atomic::AtomicU64>,
}

impl RangeHost {
    /// Serves `file` at `/<name>` (any query accepted), `HEAD` answered as `head` says.
    pub async fn start(name: &str, file: Vec<u8>, head: Head) -> RangeHost {
        use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
        let file = Arc::new(file);
        let served = Arc::new(AtomicU64::new(0));
        let heads = Arc::new(AtomicU64::new(0));
        let (get_file, get_served) = (file.clone(), served.clone());
        let (head_len, head_count) = (file.len() as u64, heads.clone());
        let get = move |headers: axum::http::HeaderMap| {
            let (file, sent) = (get_file.clone(), get_served.clone());
            async move {
                let len = file.len() as u64;
                let range = headers
                    .get("range")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|r| r.strip_prefix("bytes="))
                    .and_then(|r| r.split_once('-'))
                    .and_then(|(a, b)| Some((a.parse::<u64>().ok()?, b.parse::<u64>().ok()?)));
                let (status, from, to) = match range {
                    Some((a, b)) if a <= b && b < len => (206, a, b + 1),
                    _ => (200, 0, len),
                };
                sent.fetch_add(to - from, SeqCst);
                let mut r = axum::http::Response::builder()
                    .status(status)
                    .header("content-type", "video/mp4");
                if status == 206 {
                    r = r.header("content-range", format!("bytes {from}-{}/{len}", to - 1));
                }
                r.body(axum::body::Body::from(
                    file[from as usize..to as usize].to_vec(),
                ))
                .unwrap()
            }
        };
        let head_handler = move || {
            let count = head_count.clone();
            async move {
                count.fetch_add(1, SeqCst);
                let r = axum::http::Response::builder();
                match head {
                    Head::Length => r
                        .status(200)
                        .header("content-type", "video/mp4")
                        .header("content-length", head_len.to_string()),
                    Head::Refused => r.status(405),
                }
                .body(axum::body::Body::empty())
                .unwrap()
            }
        };
        let app = axum::Router::new().route(
            &format!("/{name}"),
            axum::routing::get(get).head(head_handler),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        RangeHost {
            url: format!("http://{addr}/{name}"),
            served,
            heads,
        }
    }

    /// Body bytes served so far (`GET`s, ranges included).
    pub fn served(&self) -> u64 {
        self.served.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// `HEAD` requests answered so far.
    pub fn heads(&self) -> u64 {
        self.heads.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// `n` bytes that are not periodic (a 64-bit LCG's high bytes), so that a segment sent out of
/// place changes the file's hash.
pub fn varied_bytes(n: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..n)
        .map(|_| {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (x >> 56) as u8
        })
        .collect()
}
