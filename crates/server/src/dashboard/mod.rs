//! The dashboard: server-rendered HTML (`maud`) for people who never want to write curl, served
//! by `switchboard serve` at `/`, every asset embedded in the binary.
//!
//! One module per page; each exposes `routes()` merged here. The pages call the same functions
//! as the API (store, [`crate::lifecycle`], [`crate::health`], [`crate::validation`],
//! [`crate::prerequisites`], the diagnosis parser) rather than the API over HTTP.
//!
//! - [`session`]: sign-in (workspace API key or admin password), the sealed session cookie, CSRF,
//!   sign-out; [`session::Session`] is the extractor of every page, [`session::Posted`] of every
//!   form.
//! - [`layout`]: the frame ([`layout::page`]), status badges (icon and words), times.
//! - [`connections`]: the home page: connections with health, diagnosis and actions, and the
//!   sync status widget ([`sync_widget`]).
//! - [`connect`]: quick-connect cards, popup or redirect consent, the result page, Facebook Page
//!   selection, the reconnect wizard, bulk connect.
//! - [`troubleshoot`]: paste an error, get the diagnosis.
//!
//! Paths: `/`, `/sign-in`, `/sign-out`, `/workspace`, `/connections/...`, `/connect/...`,
//! `/troubleshoot`, `/sync/...`, `/posts/...` (the posts pages) and `/assets/...`; none clash with
//! `/v1`, `/healthz` or `/readyz`. See `/tmp/notes/dashboard-contract.md`-style conventions in
//! [`layout`] for test ids.

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use crate::AppState;

pub mod connect;
pub mod connections;
pub mod layout;
pub mod media;
pub mod posts;
pub mod posts_calendar;
pub mod posts_form;
pub mod posts_view;
pub mod session;
pub mod sync_widget;
pub mod troubleshoot;

/// The stylesheet, embedded.
pub const CSS: &str = include_str!("../../assets/dashboard.css");
/// The script, embedded (vanilla JavaScript, no dependencies).
pub const JS: &str = include_str!("../../assets/dashboard.js");
/// Path of the stylesheet (the version in the query busts caches across upgrades).
pub const CSS_PATH: &str = concat!("/assets/dashboard.css?v=", env!("CARGO_PKG_VERSION"));
/// Path of the script.
pub const JS_PATH: &str = concat!("/assets/dashboard.js?v=", env!("CARGO_PKG_VERSION"));

async fn css() -> Response {
    asset(CSS, "text/css; charset=utf-8")
}

async fn js() -> Response {
    asset(JS, "text/javascript; charset=utf-8")
}

fn asset(body: &'static str, content_type: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

/// Security headers of every dashboard answer: no framing (clickjacking), a content security
/// policy allowing only this origin's script and styles (inline `style` attributes carry brand
/// colours), no referrer leaking to platforms, no MIME sniffing.
async fn security_headers(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
             img-src 'self' data: https: http:; connect-src 'self'; frame-ancestors 'none'; \
             form-action 'self' http: https:; base-uri 'none'",
        ),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    r
}

/// Every dashboard route, merged into [`crate::router`].
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/sign-in",
            get(session::sign_in_page).post(session::sign_in),
        )
        .route("/sign-out", post(session::sign_out))
        .route("/workspace", post(session::switch_workspace))
        .route("/assets/dashboard.css", get(css))
        .route("/assets/dashboard.js", get(js))
        .merge(connections::routes())
        .merge(connect::routes())
        .merge(posts::routes())
        .merge(media::routes())
        .merge(sync_widget::routes())
        .merge(troubleshoot::routes())
        .layer(axum::middleware::map_response(security_headers))
}
