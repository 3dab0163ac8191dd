//! Media fetches are platform calls like any other: traced (a `platform_call` span per fetch,
//! the same one `PlatformHttp::send` records, with its duration sample) without the URL's
//! query. In a test binary of its own: a thread-scoped subscriber set while other tests run on
//! other threads can find the span callsites already disabled.

mod common;

use common::*;
use serde_json::Value;
use switchboard_core::post::MediaKind;
use switchboard_publish::twitter::{TwitterPublisher, SEGMENT_BYTES};

const SCOPES: &[&str] = &["tweet.read", "tweet.write", "users.read", "media.write"];

/// A media download is a platform call like any other: a `platform_call` span (call
/// `media_download`, method, host, path, status, duration) closes for each fetch, and neither
/// the URL's query (a signed URL's signature) nor the full URL shows in the logs.
#[tokio::test]
async fn media_downloads_are_traced_without_the_query() {
    use tracing_subscriber::fmt::format::FmtSpan;
    let logs = Capture::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(logs.clone())
        .with_span_events(FmtSpan::CLOSE)
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let env = start().await;
    let size = SEGMENT_BYTES + 10;
    let host = RangeHost::start("clip.mp4", varied_bytes(size), Head::Length).await;
    let http = env.http_allowing(&host.url);
    let signed = format!("{}?sig=S3CR3T-SIGNATURE", host.url);
    let g = env.grant("twitter", None, SCOPES).await;
    let mut content = text("a clip");
    let mut media = env.media("clip.mp4", MediaKind::Video, 1);
    media.url = signed;
    content.media = vec![media];
    let t = target(env.spec("twitter"), &g, &g.account_id, &content);
    drive(&env, &TwitterPublisher, &http, &t, Value::Null)
        .await
        .unwrap();
    assert_eq!(host.served(), size as u64);

    let text = logs.text();
    let closes = |call: &str| {
        text.lines()
            .filter(|l| l.contains("platform_call") && l.contains(call) && l.contains("close"))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let heads = closes("media_head");
    assert_eq!(heads.len(), 1, "{text}");
    assert!(heads[0].contains("method=HEAD"), "{}", heads[0]);
    let downloads = closes("media_download");
    assert_eq!(downloads.len(), 2, "one per segment: {text}");
    for l in &downloads {
        assert!(l.contains("host=127.0.0.1"), "{l}");
        assert!(l.contains("path=/clip.mp4"), "{l}");
        assert!(l.contains("status=206"), "{l}");
        assert!(l.contains("duration_ms="), "{l}");
    }
    assert!(!text.contains("S3CR3T"), "the signature was logged: {text}");
}

/// A `MakeWriter` that keeps what is written.
#[derive(Clone, Default)]
struct Capture(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Capture {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Capture {
        self.clone()
    }
}
