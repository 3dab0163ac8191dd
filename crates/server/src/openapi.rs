//! The OpenAPI 3.1 description of the REST API, generated from the code with `utoipa` and served
//! at `GET /openapi.json` (no API key).
//!
//! Each handler in `routes/` carries a `#[utoipa::path]` (method, path, parameters, request body,
//! every status it answers and its body); request types and the types handlers serialize derive
//! `ToSchema` where they are defined (`core::post::PostRequest`, `core::diagnosis::Diagnosis`,
//! `health::Report`...). Answers that handlers build as JSON values are described here by
//! schema-only types ([`ConnectionView`], [`PostView`]...). [`ApiDoc`] lists every operation;
//! `CommonResponses` adds the answers every operation can give (401 where an API key is needed,
//! 429, 500, 503) and the `X-Request-ID` header.
//!
//! `crates/server/tests/openapi.rs` keeps this in step: every route `router()` serves is
//! described and every described operation is served, and real answers of a whole flow validate
//! against the schemas (which are closed there: an undocumented field fails).

use std::collections::BTreeMap;

use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde_json::Value;
use switchboard_core::catalog::{DocLink, Pkce, RefreshKind};
use switchboard_core::connection::ConnectionStatus;
use switchboard_core::diagnosis::Diagnosis;
use switchboard_core::post::PostContent;
use switchboard_core::post_rules::{TargetVerdict, Violation};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, HeaderBuilder, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi, ToSchema};

use crate::routes;
use crate::AppState;

/// Name of the security scheme: a workspace API key sent as `Authorization: Bearer <key>`.
pub const API_KEY: &str = "api_key";

/// Content type of every error answer (RFC 9457).
pub const PROBLEM_JSON: &str = "application/problem+json";

/// The OpenAPI document of the whole REST API.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Switchboard API",
        description = "Connect social accounts over OAuth 2.0, keep their tokens alive and publish posts.\n\n\
Every `/v1` call except the platform catalog and the OAuth callback needs a workspace API key: \
`Authorization: Bearer <key>`. Errors are RFC 9457 problem documents (`application/problem+json`) \
with a stable `type`, the `field` at fault for validation errors and a `diagnosis` for platform \
failures. Every answer carries `X-Request-ID` (the one sent, or a new one).",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    paths(
        routes::probes::healthz,
        routes::probes::readyz,
        openapi_json,
        routes::platforms::list,
        routes::platforms::get_one,
        routes::platforms::prerequisites_of,
        routes::guides::reconnect_guide,
        routes::connect::start,
        routes::connect::callback,
        routes::meta_callbacks::deauthorize,
        routes::meta_callbacks::data_deletion,
        routes::meta_callbacks::deletion_status,
        routes::bulk::start_bulk,
        routes::bulk::progress,
        routes::connections::list,
        routes::connections::get_one,
        routes::connections::delete,
        routes::connections::token,
        routes::connections::refresh,
        routes::validate::validate_connection,
        routes::health_check::health_of,
        routes::permissions::permissions,
        routes::facebook_pages::list,
        routes::facebook_pages::select,
        routes::facebook_pages::page_token,
        routes::tiktok::creator_info,
        routes::events::list,
        routes::audit::list,
        routes::troubleshoot::troubleshoot,
        routes::webhooks::create,
        routes::webhooks::list,
        routes::webhooks::remove,
        routes::webhooks::deliveries,
        routes::posts::validate,
        routes::posts::create,
        routes::posts::list,
        routes::posts::summary,
        routes::posts::get_one,
        routes::posts::publish_now,
        routes::posts::cancel,
        routes::posts::retry,
        routes::media::upload,
        routes::media::list,
        routes::media::get_one,
        routes::media::delete,
        routes::media::public_file,
        routes::sync::trigger,
        routes::sync::status,
        routes::sync::history,
        routes::sync::job,
    ),
    components(schemas(Problem)),
    modifiers(&CommonResponses),
    tags(
        (name = "probes", description = "Liveness, readiness and this description."),
        (name = "platforms", description = "The platform catalog, prerequisites and reconnect guides."),
        (name = "connect", description = "Connecting accounts: the OAuth 2.0 authorization code flow."),
        (name = "connections", description = "Connected accounts, their tokens and their health."),
        (name = "pages", description = "Facebook Page selection."),
        (name = "posts", description = "Validating, scheduling and publishing posts."),
        (name = "media", description = "Uploaded media files for posts, and their signed public URLs."),
        (name = "sync", description = "Analytics sync."),
        (name = "webhooks", description = "Signed event deliveries."),
        (name = "logs", description = "The event log and the audit log."),
        (name = "troubleshooting", description = "Platform errors explained."),
    ),
)]
pub struct ApiDoc;

/// The document as served.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// The OpenAPI 3.1 description of this API (this document).
#[utoipa::path(
    get,
    path = "/openapi.json",
    operation_id = "getOpenApi",
    tag = "probes",
    summary = "This API description",
    responses((status = 200, description = "The OpenAPI 3.1 document.", body = Object)),
)]
pub async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(document())
}

/// Routes of this module: `GET /openapi.json`.
pub fn routes() -> Router<AppState> {
    Router::new().route("/openapi.json", get(openapi_json))
}

/// Adds what every operation shares: the API key scheme; 401 on the operations that need a key;
/// 429, 500 and 503 problems; the `X-Request-ID` header on every answer.
struct CommonResponses;

impl Modify for CommonResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            API_KEY,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("sbk_...")
                    .description(Some(
                        "A workspace API key (`switchboard workspace create` prints the first one).",
                    ))
                    .build(),
            ),
        );
        let problem = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    PROBLEM_JSON,
                    ContentBuilder::new()
                        .schema(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(
                            "Problem",
                        ))))
                        .build(),
                )
                .build()
        };
        let request_id = HeaderBuilder::new()
            .schema(<String as utoipa::PartialSchema>::schema())
            .description(Some(
                "The request's id: the `X-Request-ID` sent, or a new UUID. Log lines carry it.",
            ))
            .build();
        let retry_after = HeaderBuilder::new()
            .schema(<u64 as utoipa::PartialSchema>::schema())
            .description(Some("Seconds to wait before trying again."))
            .build();
        for item in openapi.paths.paths.values_mut() {
            for op in operations(item) {
                let secured = op.security.as_ref().is_some_and(|reqs| {
                    reqs.iter().any(|r| {
                        serde_json::to_value(r)
                            .ok()
                            .and_then(|v| v.as_object().map(|o| o.contains_key(API_KEY)))
                            .unwrap_or(false)
                    })
                });
                let responses = &mut op.responses.responses;
                if op.request_body.is_some() {
                    responses.entry("413".into()).or_insert_with(|| {
                        RefOr::T(problem(
                            "`body-too-large`: the body exceeds `max_body_bytes` (`limit_bytes`).",
                        ))
                    });
                }
                if secured {
                    responses.entry("401".into()).or_insert_with(|| {
                        RefOr::T(problem(
                            "`unauthorized`: no API key, or not a valid one (`WWW-Authenticate: Bearer`).",
                        ))
                    });
                }
                responses.entry("429".into()).or_insert_with(|| {
                    let mut r = problem(
                        "`rate-limited`: too many requests; `Retry-After` says how many seconds to wait.",
                    );
                    r.headers.insert("Retry-After".into(), retry_after.clone());
                    RefOr::T(r)
                });
                responses.entry("500".into()).or_insert_with(|| {
                    RefOr::T(problem(
                        "`internal-error` (the server log has the cause) or `stored-secret-unreadable`.",
                    ))
                });
                if !matches!(op.operation_id.as_deref(), Some("healthz" | "readyz")) {
                    responses.entry("503".into()).or_insert_with(|| {
                        RefOr::T(problem(
                            "The database failed, named by `type` and `cause`: `database-unavailable` (did not answer), `database-read-only`, `database-io-error`, `database-busy`; nothing was changed. `Retry-After` suggests when to try again.",
                        ))
                    });
                    responses.entry("507".into()).or_insert_with(|| {
                        RefOr::T(problem(
                            "`insufficient-storage` (`cause`: `disk_full`): the database's disk is full; nothing was stored.",
                        ))
                    });
                }
                for r in responses.values_mut() {
                    if let RefOr::T(r) = r {
                        r.headers
                            .entry("X-Request-ID".into())
                            .or_insert_with(|| request_id.clone());
                    }
                }
            }
        }
    }
}

fn operations(item: &mut utoipa::openapi::PathItem) -> Vec<&mut utoipa::openapi::path::Operation> {
    [
        item.get.as_mut(),
        item.put.as_mut(),
        item.post.as_mut(),
        item.delete.as_mut(),
        item.options.as_mut(),
        item.head.as_mut(),
        item.patch.as_mut(),
        item.trace.as_mut(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

// ---------------------------------------------------------------------------------------------
// Schemas of answers the handlers build as JSON values. Field docs are the API documentation.
// ---------------------------------------------------------------------------------------------

/// An RFC 9457 problem document, the body of every error answer (`application/problem+json`).
#[derive(ToSchema)]
pub struct Problem {
    /// Stable problem type URI: `https://switchboard.dev/problems/<slug>` (`not-found`,
    /// `validation-error`, `unknown-platform`, `platform-error`...).
    #[schema(
        rename = "type",
        example = "https://switchboard.dev/problems/validation-error"
    )]
    pub kind: String,
    /// Short summary of the problem type.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What happened in this case, in plain words.
    pub detail: String,
    /// Validation errors: the JSON path of the field at fault (`owner`, `scopes[1]`,
    /// `content.text`, `posts[2].connection_ids[0]`).
    pub field: Option<String>,
    /// Platform failures: the failure explained.
    pub diagnosis: Option<Diagnosis>,
    /// `unknown-platform`: the platform ids this instance knows.
    pub known_platforms: Option<Vec<String>>,
    /// Unknown webhook event type: the event types there are.
    pub known_events: Option<Vec<String>>,
    /// Request-level post problems, every one listed.
    pub violations: Option<Vec<Violation>>,
    /// A post that breaks a platform's rules: the whole verdict, one entry per target.
    pub targets: Option<Vec<TargetVerdict>>,
    /// Batch form of `POST /v1/posts`: every invalid post with its targets' verdicts.
    pub posts: Option<Vec<InvalidBatchPost>>,
    /// A failed forced refresh: the status the connection is left in.
    pub connection_status: Option<String>,
    /// `rate-limited`: which limit (`api`, `connect`, `callback`).
    pub group: Option<String>,
    /// `rate-limited`: what it counts per (`workspace`, `client address`).
    pub per: Option<String>,
    /// `rate-limited`: requests allowed per window.
    pub limit: Option<u64>,
    /// `rate-limited`: the window, seconds.
    pub window_secs: Option<u64>,
    /// `rate-limited`: seconds until a request is allowed again (also `Retry-After`).
    pub retry_after_secs: Option<u64>,
    /// `body-too-large`: the largest body accepted, bytes (`max_body_bytes`).
    pub limit_bytes: Option<u64>,
}

/// The status of a post's target.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum TargetStatus {
    /// Waiting until it is due.
    Scheduled,
    /// Being published (a platform may be processing it).
    Publishing,
    /// Published: `platform_post_id` and `url` are set.
    Published,
    /// Failed; `diagnosis` says why (`retry` schedules it again).
    Failed,
    /// Cancelled before it was published.
    Cancelled,
    /// A create call got no answer and the platform could not confirm it: never retried.
    Unknown,
}

/// One invalid post of a batch.
#[derive(ToSchema)]
pub struct InvalidBatchPost {
    /// Its position in `posts`, from 0.
    pub index: u32,
    /// The verdict for each of its targets.
    pub targets: Vec<TargetVerdict>,
}

/// `GET /healthz`.
#[derive(ToSchema)]
pub struct Liveness {
    /// Always `ok`.
    #[schema(example = "ok")]
    pub status: String,
}

/// `GET /readyz`.
#[derive(ToSchema)]
pub struct Readiness {
    /// `ready` or `not_ready`.
    #[schema(example = "ready")]
    pub status: String,
    /// The checks behind it.
    pub checks: ReadinessChecks,
    /// What will soon fail though the instance is ready: a filesystem below
    /// `disk_free_warning_bytes` of free space.
    pub warnings: Vec<String>,
}

/// The checks of `GET /readyz`.
#[derive(ToSchema)]
pub struct ReadinessChecks {
    /// `ok`, or why the database did not answer.
    pub database: String,
    /// `"disabled"` when this instance runs no workers; otherwise each worker's progress by
    /// name (`refresh`, `publish`, `sync`, `webhooks`...).
    pub workers: WorkersReadiness,
    /// Free space of each filesystem Switchboard writes to (`database`: the SQLite file's
    /// directory, `media`), by name.
    pub disk: BTreeMap<String, DiskReadiness>,
}

/// Free space of one filesystem in `GET /readyz`.
#[derive(ToSchema)]
pub struct DiskReadiness {
    /// Bytes available.
    pub free_bytes: u64,
    /// `disk_free_warning_bytes`: below it, a warning.
    pub warning_below_bytes: u64,
    /// Whether `free_bytes` is at least `warning_below_bytes`.
    pub ok: bool,
}

/// The workers' part of readiness.
#[derive(ToSchema)]
#[serde(untagged)]
pub enum WorkersReadiness {
    /// `disabled`: no workers run in this process.
    Disabled(String),
    /// Each worker by name.
    Running(BTreeMap<String, WorkerReadiness>),
}

/// One worker's progress.
#[derive(ToSchema)]
pub struct WorkerReadiness {
    /// False when the worker is stuck in a tick or has not finished one lately.
    pub ok: bool,
    /// Ticks finished since start.
    pub ticks: u64,
    /// Seconds since its last successful tick; `null` before the first.
    pub seconds_since_last_success: Option<u64>,
    /// Whether a tick is running now.
    pub in_tick: bool,
    /// The last tick's failure, when it failed.
    pub last_error: Option<String>,
}

/// `GET /v1/platforms`.
#[derive(ToSchema)]
pub struct PlatformList {
    /// The catalog, custom providers included.
    pub data: Vec<PlatformView>,
}

/// A platform of the catalog as this instance sees it. Never a secret.
#[derive(ToSchema)]
pub struct PlatformView {
    /// Stable id used in every path (`twitter`, `linkedin`, `facebook`, `instagram`, `tiktok`,
    /// `youtube`, `pinterest`, or a custom provider's id).
    pub id: String,
    /// Name for people.
    pub display_name: String,
    /// Brand colour, `#rrggbb`.
    pub brand_color: String,
    /// How hard the developer-app setup is (`easy`, `medium`, `hard`).
    pub difficulty: String,
    /// Typical setup time, minutes.
    pub setup_minutes: u32,
    /// What Switchboard can do on it.
    pub features: Vec<String>,
    /// What the account or app needs (business account, app review...).
    pub requirements: Vec<String>,
    /// True for a custom OAuth 2.0 provider from the configuration.
    pub custom: bool,
    /// True when app credentials are configured.
    pub configured: bool,
    /// True when every configuration prerequisite passes.
    pub ready: bool,
    /// The failing configuration prerequisites.
    pub missing: Vec<MissingPrerequisite>,
    /// The redirect URI to register with the platform, exactly.
    pub redirect_uri: String,
    /// The platform's authorization endpoint.
    pub authorization_url: String,
    /// The platform's token endpoint.
    pub token_url: String,
    /// The platform's RFC 7009 revocation endpoint, when it has one.
    pub revocation_url: Option<String>,
    /// How the client authenticates at the token endpoint (`client_secret_basic`,
    /// `client_secret_post`...).
    pub client_auth: String,
    /// Whether PKCE is used.
    pub pkce: Pkce,
    /// Separator between scopes in the authorization request.
    pub scope_separator: String,
    /// Scopes requested by default.
    pub default_scopes: Vec<String>,
    /// How a connection is kept alive.
    pub refresh: RefreshKind,
    /// Lifetime of an access token, seconds, when the platform says.
    pub access_lifetime_secs: Option<u64>,
    /// The platform's documentation backing the catalog entry.
    pub docs: Vec<DocLink>,
}

/// A failing configuration prerequisite.
#[derive(ToSchema)]
pub struct MissingPrerequisite {
    /// Stable check name (`client_id`, `client_secret`, `public_url_https`).
    pub name: String,
    /// What was found.
    pub detail: String,
    /// What to do.
    pub fix: Option<String>,
}

/// `GET /v1/platforms/{platform}/prerequisites`.
#[derive(ToSchema)]
pub struct Prerequisites {
    /// The platform id.
    pub platform: String,
    /// Its name for people.
    pub display_name: String,
    /// The redirect URI to register, exactly.
    pub redirect_uri: String,
    /// False when any check fails.
    pub ready: bool,
    /// The checks, in order.
    pub checks: Vec<crate::prerequisites::Check>,
}

/// `GET /v1/platforms/{platform}/reconnect-guide`.
#[derive(ToSchema)]
pub struct ReconnectGuide {
    /// The platform id.
    pub platform: String,
    /// Its name for people.
    pub display_name: String,
    /// The steps a person takes, in order.
    pub steps: Vec<String>,
    /// Every scope asked for, and why.
    pub permissions: Vec<ScopeExplained>,
    /// The redirect URI registered with the platform.
    pub redirect_uri: String,
    /// The call that starts reconnecting (asks for the missing scopes of the connection given).
    pub start: ApiCall,
    /// With `connection_id`: why that connection needs reconnecting.
    pub connection: Option<ReconnectReason>,
}

/// A scope and why Switchboard asks for it.
#[derive(ToSchema)]
pub struct ScopeExplained {
    /// The scope, as the platform names it.
    pub scope: String,
    /// Why, in words.
    pub why: String,
    /// The capabilities using it (`profile`, `publish_text`, `publish_media`, `analytics`).
    pub capabilities: Vec<String>,
}

/// Why a connection needs reconnecting.
#[derive(ToSchema)]
pub struct ReconnectReason {
    /// The connection id.
    pub id: String,
    /// Its status.
    pub status: ConnectionStatus,
    /// False for a working connection holding every scope.
    pub needs_reconnect: bool,
    /// Why, in words.
    pub reason: String,
    /// Its last failure, explained.
    pub diagnosis: Option<Diagnosis>,
    /// Scopes a capability needs that were not granted.
    pub missing_scopes: Vec<String>,
}

/// An API call to make next.
#[derive(ToSchema)]
pub struct ApiCall {
    /// HTTP method.
    #[schema(example = "POST")]
    pub method: String,
    /// Path.
    #[schema(example = "/v1/connect/twitter")]
    pub path: String,
    /// JSON body to send.
    #[schema(value_type = Object)]
    pub body: Value,
}

/// What the person should do next (health report, Facebook Pages).
#[derive(ToSchema)]
pub struct NextAction {
    /// `none`, `wait`, `reconnect`, `select_pages` or `get_page_role`.
    #[schema(example = "reconnect")]
    pub kind: String,
    /// What to do, in words.
    pub detail: String,
    /// The call to make, when there is one.
    pub method: Option<String>,
    /// Its path.
    pub path: Option<String>,
    /// Its JSON body.
    #[schema(value_type = Option<Object>)]
    pub body: Option<Value>,
}

/// `POST /v1/connect/{platform}` → 201: where to send the person.
#[derive(ToSchema)]
pub struct ConnectSession {
    /// The platform id.
    pub platform: String,
    /// The platform's consent page, with `state` and the PKCE challenge: send the person's
    /// browser there.
    pub authorization_url: String,
    /// The one-time `state` (256 random bits) bound to this session.
    pub state: String,
    /// When the session ends (`state_ttl_secs` after it started).
    pub expires_at: DateTime<Utc>,
    /// The redirect URI the platform sends the person back to.
    pub redirect_uri: String,
    /// Every scope requested.
    pub scopes: Vec<String>,
}

/// `POST /v1/connect/bulk` → 201.
#[derive(ToSchema)]
pub struct BulkSessions {
    /// The batch id, for `GET /v1/connect/bulk/{id}`.
    pub batch_id: String,
    /// The end user the connections are for.
    pub owner: String,
    /// When the last session ends.
    pub expires_at: DateTime<Utc>,
    /// One session per platform, in the order asked.
    pub sessions: Vec<BulkSession>,
}

/// One session of a bulk connect.
#[derive(ToSchema)]
pub struct BulkSession {
    /// The platform id.
    pub platform: String,
    /// Where to send the person for this platform.
    pub authorization_url: String,
    /// The session's one-time `state`.
    pub state: String,
    /// When it ends.
    pub expires_at: DateTime<Utc>,
}

/// `GET /v1/connect/bulk/{id}`.
#[derive(ToSchema)]
pub struct BulkProgress {
    /// The batch id.
    pub batch_id: String,
    /// The end user.
    pub owner: String,
    /// When it started.
    pub created_at: DateTime<Utc>,
    /// When its last session ends.
    pub expires_at: DateTime<Utc>,
    /// Sessions in the batch.
    pub total: u32,
    /// Sessions connected, failed or expired.
    pub done: u32,
    /// done / total × 100, rounded.
    pub percent: u32,
    /// Seconds left, estimated from the sessions finished so far; `null` before the first, 0
    /// when none is pending.
    pub estimated_seconds_left: Option<u64>,
    /// Each platform's session.
    pub sessions: Vec<BulkSessionProgress>,
}

/// The state of one session of a bulk connect.
#[derive(ToSchema)]
pub struct BulkSessionProgress {
    /// The platform id.
    pub platform: String,
    /// `pending`, `connected`, `failed` or `expired` (the state expired before consent).
    #[schema(example = "connected")]
    pub status: String,
    /// The consent link again, while `pending` (its state neither consumed nor expired);
    /// `null` otherwise.
    pub authorization_url: Option<String>,
    /// The connection saved, when connected.
    pub connection_id: Option<String>,
    /// Why it failed: `expired` or the diagnosis category.
    pub reason: Option<String>,
    /// The failure, explained.
    pub diagnosis: Option<Diagnosis>,
    /// When its callback came.
    pub finished_at: Option<DateTime<Utc>>,
}

/// A connected account. Never a token.
#[derive(ToSchema)]
pub struct ConnectionView {
    /// Connection id (UUID v7); kept across reconnects of the same account.
    pub id: String,
    /// Platform id.
    pub platform: String,
    /// The end user in the product's app it belongs to.
    pub owner: String,
    /// The platform account.
    pub account: Account,
    /// Scopes granted.
    pub scopes: Vec<String>,
    /// Its health.
    pub status: ConnectionStatus,
    /// When the access token expires; `null` when it does not.
    pub expires_at: Option<DateTime<Utc>>,
    /// When the refresh token expires, when the platform says.
    pub refresh_expires_at: Option<DateTime<Utc>>,
    /// Whether a refresh token is stored.
    pub has_refresh_token: bool,
    /// When the current token was obtained.
    pub token_obtained_at: DateTime<Utc>,
    /// When it was last refreshed.
    pub last_refreshed_at: Option<DateTime<Utc>>,
    /// The last failure, explained.
    pub last_error: Option<Diagnosis>,
    /// When it was first connected.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// The platform account of a connection.
#[derive(ToSchema)]
pub struct Account {
    /// The platform's account id.
    pub id: String,
    /// Display name.
    pub name: Option<String>,
    /// Handle.
    pub username: Option<String>,
    /// Avatar URL.
    pub avatar_url: Option<String>,
}

/// `GET /v1/oauth/callback/{platform}` with `Accept: application/json`: the connection saved
/// (every field of [`ConnectionView`], and two more).
#[derive(ToSchema)]
pub struct ConnectedAccount {
    /// The connection saved.
    #[serde(flatten)]
    pub connection: ConnectionView,
    /// True for a new connection (201), false for a reconnect of the same account (200).
    pub created: bool,
    /// The `return_to` of the connect request, when it gave one.
    pub return_to: Option<String>,
}

/// `GET /v1/connections`.
#[derive(ToSchema)]
pub struct ConnectionList {
    /// The workspace's connections, oldest first.
    pub data: Vec<ConnectionView>,
}

/// `GET /v1/connections/{id}/token`: the access token for the product's own platform calls.
#[derive(ToSchema)]
pub struct AccessToken {
    /// The access token. Keep it out of logs.
    pub access_token: String,
    /// Usually `bearer`.
    pub token_type: Option<String>,
    /// When it expires; `null` when it does not.
    pub expires_at: Option<DateTime<Utc>>,
    /// Scopes granted.
    pub scopes: Vec<String>,
}

/// `POST /v1/connections/{id}/refresh`.
#[derive(ToSchema)]
pub struct Refreshed {
    /// Always `refreshed`.
    #[schema(example = "refreshed")]
    pub outcome: String,
    /// The connection afterwards.
    pub connection: ConnectionView,
}

/// `DELETE /v1/connections/{id}`.
#[derive(ToSchema)]
pub struct ConnectionDeleted {
    /// The connection id.
    pub id: String,
    /// Always true.
    pub deleted: bool,
    /// What revoking the grant at the platform gave.
    pub revocation: Revocation,
}

/// The outcome of revoking a grant (RFC 7009).
#[derive(ToSchema)]
pub struct Revocation {
    /// `revoked`, `not_supported` (no revocation endpoint) or `failed`.
    #[schema(example = "revoked")]
    pub status: String,
    /// Why it is not `revoked`.
    pub detail: Option<String>,
    /// A failed revocation, explained.
    pub diagnosis: Option<Diagnosis>,
}

/// `GET /v1/connections/{id}/permissions`.
#[derive(ToSchema)]
pub struct Permissions {
    /// The connection id.
    pub connection_id: String,
    /// Platform id.
    pub platform: String,
    /// Granted scopes under the catalog's names.
    pub granted: Vec<String>,
    /// Granted scopes as the platform returned them.
    pub granted_raw: Vec<String>,
    /// Each capability (`profile`, `publish_text`, `publish_media`, `analytics`).
    pub capabilities: BTreeMap<String, Capability>,
    /// Every missing scope, in catalog order.
    pub missing: Vec<String>,
    /// The reconnect call asking for exactly the missing scopes; `null` when none is missing.
    pub reconnect: Option<ApiCall>,
}

/// What one capability needs and whether the connection has it.
#[derive(ToSchema)]
pub struct Capability {
    /// Supported by the platform and every scope granted.
    pub available: bool,
    /// Whether the platform offers it at all.
    pub supported: bool,
    /// Scopes it needs.
    pub required: Vec<String>,
    /// Scopes it needs that were not granted.
    pub missing: Vec<String>,
}

/// A Facebook Page. Never its token.
#[derive(ToSchema)]
pub struct PageView {
    /// The Page id.
    pub id: String,
    /// The Page name.
    pub name: String,
    /// The person's tasks on the Page (`CREATE_CONTENT`, `MANAGE`...).
    pub tasks: Vec<String>,
    /// Chosen for publishing.
    pub selected: bool,
    /// `available`, `healthy` or `needs_reauth`.
    pub status: String,
    /// The last failure of its token, explained.
    pub last_error: Option<Diagnosis>,
    /// When its token was last checked.
    pub last_checked_at: Option<DateTime<Utc>>,
}

/// `GET /v1/connections/{id}/pages`.
#[derive(ToSchema)]
pub struct PageList {
    /// The connection id.
    pub connection_id: String,
    /// Its status.
    pub connection_status: ConnectionStatus,
    /// The Pages the person manages.
    pub data: Vec<PageView>,
    /// `stored` or `live` (listed now at Facebook).
    pub source: String,
    /// True while no Page is chosen.
    pub selection_required: bool,
    /// What to do next.
    pub action: NextAction,
    /// The account manages no Page: why and what to do.
    pub diagnosis: Option<Diagnosis>,
}

/// `POST /v1/connections/{id}/pages`.
#[derive(ToSchema)]
pub struct PagesSelected {
    /// The connection afterwards.
    pub connection: ConnectionView,
    /// Every Page, chosen or not.
    pub data: Vec<PageView>,
}

/// `GET /v1/connections/{id}/pages/{page_id}/token`.
#[derive(ToSchema)]
pub struct PageToken {
    /// The Page access token. Keep it out of logs.
    pub access_token: String,
    /// Always `bearer`.
    pub token_type: String,
    /// Always `null`: Page tokens from a long-lived user token do not expire.
    pub expires_at: Option<DateTime<Utc>>,
    /// The Page id.
    pub page_id: String,
    /// The Page name.
    pub page_name: String,
}

/// `GET /v1/events`.
#[derive(ToSchema)]
pub struct EventList {
    /// Newest first.
    pub data: Vec<EventView>,
}

/// An event of the workspace.
#[derive(ToSchema)]
pub struct EventView {
    /// Event id.
    pub id: String,
    /// Event type (`connection.created`, `connection.refresh_failed`, `post.published`...).
    #[schema(rename = "type")]
    pub kind: String,
    /// The connection it is about.
    pub connection_id: Option<String>,
    /// Type-specific data.
    #[schema(value_type = Object)]
    pub payload: Value,
    /// When it happened.
    pub created_at: DateTime<Utc>,
}

/// `GET /v1/audit`.
#[derive(ToSchema)]
pub struct AuditList {
    /// Newest first.
    pub data: Vec<AuditEntry>,
}

/// Who changed what.
#[derive(ToSchema)]
pub struct AuditEntry {
    /// Entry id.
    pub id: String,
    /// The connection changed, when one was.
    pub connection_id: Option<String>,
    /// `api_key:<key id>`, `oauth_callback` or `system:refresh`.
    pub actor: String,
    /// What was done (`connection.created`, `webhook.deleted`...).
    pub action: String,
    /// Action-specific details (never a secret).
    #[schema(value_type = Object)]
    pub details: Value,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// A webhook endpoint, without its secret.
#[derive(ToSchema)]
pub struct WebhookView {
    /// Endpoint id.
    pub id: String,
    /// Where deliveries are POSTed.
    pub url: String,
    /// Event types delivered; `null` for every type.
    pub events: Option<Vec<String>>,
    /// Free text.
    pub description: Option<String>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// `POST /v1/webhooks` → 201: the endpoint (every field of [`WebhookView`]) and its signing
/// secret, shown only here.
#[derive(ToSchema)]
pub struct WebhookCreated {
    /// The endpoint.
    #[serde(flatten)]
    pub webhook: WebhookView,
    /// The signing secret (`whsec_...`): `Switchboard-Signature: t=<unix seconds>,v1=<hex
    /// HMAC-SHA256(secret, "<t>.<body>")>`.
    pub secret: String,
}

/// `GET /v1/webhooks`.
#[derive(ToSchema)]
pub struct WebhookList {
    /// Oldest first.
    pub data: Vec<WebhookView>,
}

/// A deletion.
#[derive(ToSchema)]
pub struct Deleted {
    /// The id deleted.
    pub id: String,
    /// Always true.
    pub deleted: bool,
}

/// `GET /v1/webhooks/{id}/deliveries`.
#[derive(ToSchema)]
pub struct DeliveryList {
    /// Newest first.
    pub data: Vec<DeliveryView>,
}

/// One delivery of an event to an endpoint.
#[derive(ToSchema)]
pub struct DeliveryView {
    /// Delivery id.
    pub id: String,
    /// The endpoint.
    pub webhook_id: String,
    /// The event delivered.
    pub event_id: String,
    /// Its type.
    pub event_type: String,
    /// `pending`, `delivered` or `failed`.
    pub status: String,
    /// Attempts made.
    pub attempts: u32,
    /// HTTP status of the last attempt.
    pub last_status_code: Option<u16>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When the next attempt is due; `null` once delivered or failed (no attempt is coming).
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// When it was delivered.
    pub delivered_at: Option<DateTime<Utc>>,
    /// When it was queued.
    pub created_at: DateTime<Utc>,
}

/// A post with its targets.
#[derive(ToSchema)]
pub struct PostView {
    /// Post id.
    pub id: String,
    /// Campaign it belongs to.
    pub campaign_id: Option<String>,
    /// What is published.
    pub content: PostContent,
    /// When it is due (UTC).
    pub publish_at: DateTime<Utc>,
    /// The IANA time zone it was scheduled in.
    pub time_zone: Option<String>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// Derived from its targets': `scheduled`, `publishing`, `published`, `partial`, `failed`,
    /// `cancelled` or `unknown`.
    pub status: String,
    /// Targets by status.
    pub counts: BTreeMap<String, u64>,
    /// One per connection (per selected Page for Facebook).
    pub targets: Vec<TargetView>,
    /// `publish`, `cancel`, `retry`: the number of targets changed.
    pub changed: Option<u64>,
}

/// One target of a post: one connection (or Facebook Page).
#[derive(ToSchema)]
pub struct TargetView {
    /// Target id.
    pub id: String,
    /// The connection.
    pub connection_id: String,
    /// The Facebook Page, for Facebook targets.
    pub page_id: Option<String>,
    /// Platform id.
    pub platform: String,
    /// Where it is.
    pub status: TargetStatus,
    /// When it is due.
    pub due_at: DateTime<Utc>,
    /// Attempts made.
    pub attempts: u32,
    /// When it is tried next (scheduled or publishing targets).
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// The platform's id of the published item.
    pub platform_post_id: Option<String>,
    /// Its URL.
    pub url: Option<String>,
    /// Why it failed, explained.
    pub diagnosis: Option<Diagnosis>,
    /// When it was published.
    pub published_at: Option<DateTime<Utc>>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// `GET /v1/posts/{id}` only: the latest metrics read, `null` before the first sync.
    pub metrics: Option<TargetMetrics>,
}

/// The latest metrics of a target.
#[derive(ToSchema)]
pub struct TargetMetrics {
    /// When they were read.
    pub fetched_at: DateTime<Utc>,
    /// `impressions`, `engagements`, `likes`, `comments`, `shares`, `views` (counts, when the
    /// platform offers them) and the platform's raw figures.
    #[schema(value_type = Object)]
    pub values: Value,
}

/// A list of posts.
#[derive(ToSchema)]
pub struct PostList {
    /// In request order.
    pub data: Vec<PostView>,
}

/// `GET /v1/posts`: one page of posts.
#[derive(ToSchema)]
pub struct PostPage {
    /// Latest `publish_at` first, posts due at the same instant by id descending.
    pub data: Vec<PostView>,
    /// Opaque cursor of the next page (pass it as `cursor` with the same filters); `null` on
    /// the last page.
    pub next_cursor: Option<String>,
}

/// `POST /v1/posts` → 201: the post, or with the batch form the posts.
#[derive(ToSchema)]
#[serde(untagged)]
pub enum PostCreated {
    /// The single form.
    Post(Box<PostView>),
    /// The batch form.
    Batch(PostList),
}

/// Body of `POST /v1/posts`: one post, or a batch.
#[derive(ToSchema)]
#[serde(untagged)]
pub enum CreatePosts {
    /// One post.
    Post(switchboard_core::post::PostRequest),
    /// Several, spread over time.
    Batch(routes::posts::BatchRequest),
}

/// `GET /v1/posts/summary`.
#[derive(ToSchema)]
pub struct PostSummary {
    /// Targets in the workspace.
    pub total: u64,
    /// Targets by status (every status listed, zeros included).
    pub by_status: BTreeMap<String, u64>,
    /// Per platform, targets by status.
    pub by_platform: BTreeMap<String, BTreeMap<String, u64>>,
}

/// A sync job with its progress.
#[derive(ToSchema)]
pub struct SyncJobView {
    /// Job id.
    pub id: String,
    /// `queued`, `running`, `succeeded`, `partial` or `failed`.
    pub status: String,
    /// Targets to read.
    pub steps_total: u32,
    /// Targets read or failed.
    pub steps_done: u32,
    /// 0 to 100 (100 once ended).
    pub percent: u32,
    /// Seconds left, from the average step time; `null` before the first step or once ended.
    pub estimated_seconds_left: Option<u64>,
    /// When it was queued.
    pub created_at: DateTime<Utc>,
    /// When it started.
    pub started_at: Option<DateTime<Utc>>,
    /// When it ended.
    pub finished_at: Option<DateTime<Utc>>,
    /// The targets that failed, each with its diagnosis.
    #[schema(value_type = Vec<Object>)]
    pub errors: Vec<Value>,
    /// History and job answers: sums of the metrics read.
    pub totals: Option<BTreeMap<String, u64>>,
    /// History: targets read.
    pub targets_read: Option<u64>,
    /// `POST /v1/sync`: true when the job was already queued or running.
    pub existing: Option<bool>,
}

/// `GET /v1/sync/status`.
#[derive(ToSchema)]
pub struct SyncStatus {
    /// The latest job's status; `never` without one.
    pub status: String,
    /// The latest job.
    pub last_job: Option<SyncJobView>,
    /// Each platform with connections or syncs.
    pub platforms: Vec<PlatformSync>,
}

/// The sync state of one platform.
#[derive(ToSchema)]
pub struct PlatformSync {
    /// Platform id.
    pub platform: String,
    /// When its metrics were last read.
    pub last_synced_at: Option<DateTime<Utc>>,
    /// Its last sync's status; `never` without one.
    pub status: String,
    /// The first failure's summary, when one failed.
    pub message: Option<String>,
    /// The job that last read it.
    pub job_id: Option<String>,
    /// Earliest access-token expiry among its connections; `null` when none expires.
    pub token_expires_at: Option<DateTime<Utc>>,
}

/// `GET /v1/sync/history`.
#[derive(ToSchema)]
pub struct SyncHistory {
    /// Newest first.
    pub data: Vec<SyncJobView>,
}
