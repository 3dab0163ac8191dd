//! Posts: validation, scheduling, and the state of each target.
//!
//! - `POST /v1/posts/validate`: the verdict on a post for each of its targets, with every
//!   violation listed, without storing anything. [`verdict`] is the check that `POST /v1/posts`
//!   runs before storing (it answers 422 with the same `targets` when invalid).
//! - `POST /v1/posts` → 201 the stored post with one target per connection (a Facebook
//!   connection: one per selected Page), due at `publish_at` resolved in `time_zone`, or at
//!   `scheduling_options.start_time` when given; a batch form `{"posts": [...],
//!   "scheduling_options"}` spreads several posts over time. `workers::publish` publishes due
//!   targets.
//! - `GET /v1/posts?campaign_id=&status=&platform=&from=&to=&limit=&cursor=` (keyset pages,
//!   `next_cursor` and a `Link: rel="next"` header), `GET /v1/posts/{id}`.
//! - `POST /v1/posts/{id}/publish` (scheduled targets due now), `/cancel` (scheduled targets
//!   only), `/retry` (failed targets only: never published, cancelled or unknown ones).
//! - `GET /v1/posts/summary`: target counts by status and by platform.
//!
//! Another workspace's post is 404.

use std::collections::{BTreeMap, HashMap};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};
use switchboard_core::post::{
    PostRequest, PublishAt, SchedulingOptions, MAX_CONNECTION_IDS, MAX_INTERVAL_HOURS,
};
use switchboard_core::post_rules::{self, TargetVerdict, Verdict, Violation};
use switchboard_store::posts::{post_status, NewTarget, Post, PostFilter, PostKey, PostTarget};
use switchboard_store::Connection;

use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiQuery, WorkspaceAuth};
use crate::routes::facebook_pages::uses_pages;
use crate::AppState;

/// Most posts in the batch form of `POST /v1/posts` (`posts`): more is a 422 before any work.
/// A hundred posts with fifty targets each is the most one request stores (one transaction).
pub const MAX_BATCH_POSTS: usize = 100;

/// 422 on `field`: `actual` items where at most `limit` are taken.
fn too_many(field: &str, limit: u64, actual: usize, message: String) -> ApiError {
    ApiError::validation(field, message)
        .with("limit", json!(limit))
        .with("actual", json!(actual))
}

/// The sizes of a request's collections, checked before any other work (no database, no name
/// resolution, no rule): `connection_ids` (at most [`MAX_CONNECTION_IDS`]), `content.media`
/// and `content.hashtags` (at most what the most generous platform of the catalog takes in one
/// post: [`switchboard_core::Catalog::max_media_per_post`], `max_hashtags`), and
/// `scheduling_options.interval_hours` (at most [`MAX_INTERVAL_HOURS`]).
///
/// # Errors
/// 422 `validation-error` naming the first field over its limit, with `limit` and `actual`.
pub fn check_sizes(state: &AppState, req: &PostRequest) -> ApiResult<()> {
    let n = req.connection_ids.len();
    if n > MAX_CONNECTION_IDS {
        return Err(too_many(
            "connection_ids",
            MAX_CONNECTION_IDS as u64,
            n,
            format!("a post may target at most {MAX_CONNECTION_IDS} connections; {n} given"),
        ));
    }
    let catalog = state.catalog();
    let n = req.content.media.len();
    if let Some((max, platform)) = catalog.max_media_per_post() {
        if n as u64 > max {
            return Err(too_many(
                "content.media",
                max,
                n,
                format!("no platform takes more than {max} media items in one post ({platform}); {n} given"),
            ));
        }
    }
    let n = req.content.hashtags.len();
    if let Some((max, platform)) = catalog.max_hashtags() {
        if n as u64 > max {
            return Err(too_many(
                "content.hashtags",
                max,
                n,
                format!("no platform takes more than {max} hashtags in one post ({platform}); {n} given"),
            ));
        }
    }
    if let Some(o) = &req.scheduling_options {
        check_interval(o.interval_hours)?;
    }
    Ok(())
}

fn check_interval(hours: u32) -> ApiResult<()> {
    if hours > MAX_INTERVAL_HOURS {
        return Err(ApiError::validation(
            "scheduling_options.interval_hours",
            format!(
                "interval_hours must be at most {MAX_INTERVAL_HOURS} (one year); {hours} given"
            ),
        )
        .with("limit", json!(MAX_INTERVAL_HOURS))
        .with("actual", json!(hours)));
    }
    Ok(())
}

/// The workspace's connections among `ids`, by id, in one query.
async fn load_connections(
    state: &AppState,
    workspace_id: &str,
    ids: &[String],
) -> ApiResult<HashMap<String, Connection>> {
    Ok(state
        .store()
        .get_connections(workspace_id, ids)
        .await?
        .into_iter()
        .map(|c| (c.id.clone(), c))
        .collect())
}

/// The verdict on `req` for each of its targets, in `connection_ids` order: the sizes first
/// ([`check_sizes`]), each id resolved to the workspace's connection (one query for all; an
/// unknown id, or another workspace's, is a `unknown_connection` violation on
/// `connection_ids[i]`), then the content checked against the rules of the connection's
/// platform ([`post_rules::validate`]) on a blocking thread, away from the async workers.
/// Reads connections only; writes nothing.
///
/// # Errors
/// 422 `validation-error` when a collection is over its limit ([`check_sizes`]) or the request
/// itself is wrong whatever the platform (no connection ids, one listed twice, an override for
/// an unknown platform id, a `publish_at` that cannot be placed in time, bad
/// `scheduling_options`): `field` names the first, `violations` lists them all. Store failures
/// as [`ApiError`].
pub async fn verdict(
    state: &AppState,
    workspace_id: &str,
    req: &PostRequest,
) -> ApiResult<Verdict> {
    check_sizes(state, req)?;
    let conns = load_connections(state, workspace_id, &req.connection_ids).await?;
    verdict_with(state, req, conns).await
}

/// [`verdict`] with the connections already read. The checks (linear in the request, but
/// weighting text is CPU work) run on a blocking thread.
async fn verdict_with(
    state: &AppState,
    req: &PostRequest,
    conns: HashMap<String, Connection>,
) -> ApiResult<Verdict> {
    let (state, req) = (state.clone(), req.clone());
    tokio::task::spawn_blocking(move || rules_verdict(&state, &req, &conns))
        .await
        .map_err(|e| ApiError::internal("checking a post", &e))?
}

fn rules_verdict(
    state: &AppState,
    req: &PostRequest,
    conns: &HashMap<String, Connection>,
) -> ApiResult<Verdict> {
    let mut request_violations = req.check_request(state.now());
    for key in req.content.overrides.keys() {
        if state.catalog().get(key).is_none() {
            request_violations.push(Violation::new(
                &format!("content.overrides.{key}"),
                "unknown_platform",
                format!(
                    "{key:?} is not a platform id; known platforms: {}",
                    state.catalog().ids().join(", ")
                ),
            ));
        }
    }
    if let Some(first) = request_violations.first() {
        return Err(ApiError::validation(&first.field, first.message.clone())
            .with("violations", json!(request_violations)));
    }
    let mut targets = Vec::with_capacity(req.connection_ids.len());
    for (i, id) in req.connection_ids.iter().enumerate() {
        let Some(conn) = conns.get(id) else {
            targets.push(TargetVerdict::new(
                id,
                None,
                vec![Violation::new(
                    &format!("connection_ids[{i}]"),
                    "unknown_connection",
                    format!("there is no connection {id:?} in this workspace"),
                )],
            ));
            continue;
        };
        let violations = match state.catalog().get(&conn.platform) {
            Some(spec) => post_rules::validate(spec, &req.content),
            // A custom provider removed from the configuration since it was connected.
            None => vec![Violation::new(
                &format!("connection_ids[{i}]"),
                "unknown_platform",
                format!(
                    "connection {id:?} is on platform {:?}, which is no longer configured",
                    conn.platform
                ),
            )],
        };
        targets.push(TargetVerdict::new(id, Some(&conn.platform), violations));
    }
    Ok(Verdict::new(targets))
}

/// `POST /v1/posts/validate` with the body of `POST /v1/posts` →
/// 200 `{valid, targets: [{connection_id, platform, valid, violations: [{field, code, message,
/// limit?, actual?}]}]}`. Stores nothing and calls no platform.
///
/// Errors: 401 without a valid API key; 422 naming the field for a body that does not parse
/// (unknown field, bad `time_zone` or `publish_at`) or a request-level problem (see [`verdict`]).
#[utoipa::path(
    post,
    path = "/v1/posts/validate",
    operation_id = "validatePost",
    tag = "posts",
    summary = "Check a post against every target's rules",
    request_body = PostRequest,
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The verdict for each target, every violation listed; nothing is stored.", body = switchboard_core::post_rules::Verdict),
        (status = 400, description = "`malformed-body`: the body is not JSON.", body = crate::openapi::Problem, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported-media-type`: the body is not `application/json`.", body = crate::openapi::Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation-error`: the body does not parse, or a request-level problem (`violations` lists them all).", body = crate::openapi::Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn validate(
    State(state): State<AppState>,
    auth: WorkspaceAuth,
    ApiJson(req): ApiJson<PostRequest>,
) -> ApiResult<Json<Verdict>> {
    check_sizes(&state, &req)?;
    // Uploaded media (`media_id`) are checked as the URL media they become.
    let req = crate::routes::media::resolve_post_media(&state, &auth.workspace_id, &req).await?;
    Ok(Json(verdict(&state, &auth.workspace_id, &req).await?))
}

/// The API view of a target: never its progress (it may hold upload URLs).
fn target_json(t: &PostTarget) -> Value {
    json!({
        "id": t.id,
        "connection_id": t.connection_id,
        "page_id": t.page_id,
        "platform": t.platform,
        "status": t.status,
        "due_at": t.due_at,
        "attempts": t.attempts,
        "next_attempt_at": (t.status == "scheduled" || t.status == "publishing").then_some(t.next_attempt_at),
        "platform_post_id": t.platform_post_id,
        "url": t.url,
        "diagnosis": t.last_error,
        "published_at": t.published_at,
        "updated_at": t.updated_at,
    })
}

/// The API view of a post with its targets: `{id, campaign_id, content, publish_at, time_zone,
/// created_at, status, counts: {status: n}, targets: [...]}`; `status` is derived from the
/// targets' ([`post_status`]).
fn post_json(p: &Post, targets: &[PostTarget]) -> Value {
    let mut counts = BTreeMap::<&str, u64>::new();
    for t in targets {
        *counts.entry(t.status.as_str()).or_default() += 1;
    }
    json!({
        "id": p.id,
        "campaign_id": p.campaign_id,
        "content": p.content,
        "publish_at": p.publish_at,
        "time_zone": p.time_zone,
        "created_at": p.created_at,
        "status": post_status(targets.iter().map(|t| t.status.as_str())),
        "counts": counts,
        "targets": targets.iter().map(target_json).collect::<Vec<_>>(),
    })
}

/// Body of the batch form of `POST /v1/posts`: several posts, spread over time by
/// `scheduling_options` (the n-th post, counting from 0, is due at `start_time + n ×
/// interval_hours`; each post's own `publish_at` is then ignored).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[schema(as = BatchPostRequest)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    /// The posts, each with the body of the single form (at most 100).
    #[schema(min_items = 1, max_items = 100)]
    pub posts: Vec<PostRequest>,
    /// Spreads the posts over time.
    #[serde(default)]
    pub scheduling_options: Option<SchedulingOptions>,
    /// Campaign of every post that names none itself.
    #[serde(default)]
    pub campaign_id: Option<String>,
}

/// Deserializes a JSON value, naming the path at fault on error (as [`ApiJson`] does).
fn parse<T: serde::de::DeserializeOwned>(value: Value) -> ApiResult<T> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        let field = match inner.split('`').nth(1) {
            Some(f) if inner.starts_with("missing field") && path == "." => f.to_string(),
            Some(f) if inner.starts_with("missing field") => format!("{path}.{f}"),
            _ => path,
        };
        ApiError::validation(&field, inner)
    })
}

/// Prefixes the `field` of a validation error with `posts[i].` (batch form).
fn in_batch(mut e: ApiError, i: usize) -> ApiError {
    if let Some(Value::String(f)) = e.extra.get("field") {
        let f = format!("posts[{i}].{f}");
        e.extra.insert("field".into(), Value::String(f));
    }
    e
}

/// The validated post and its targets, ready to store; `Err` with the verdict's first
/// violation and `targets` when a target breaks a platform rule.
async fn plan(
    state: &AppState,
    workspace_id: &str,
    req: &PostRequest,
    due: Option<(DateTime<Utc>, Option<String>)>,
    campaign_id: Option<&String>,
) -> ApiResult<(Post, Vec<NewTarget>)> {
    check_sizes(state, req)?;
    // Uploaded media (`media_id`) get their signed public URL, kind, type and size: checked like
    // media given by URL (the URL itself is signed again at publishing time).
    let resolved = crate::routes::media::resolve_post_media(state, workspace_id, req).await?;
    let req = &resolved;
    let conns = load_connections(state, workspace_id, &req.connection_ids).await?;
    let v = verdict_with(state, req, conns.clone()).await?;
    if !v.valid {
        let first = v
            .targets
            .iter()
            .flat_map(|t| t.violations.iter())
            .next()
            .map(|x| (x.field.clone(), x.message.clone()))
            .unwrap_or_else(|| ("connection_ids".into(), "a target is not valid".into()));
        return Err(ApiError::validation(&first.0, first.1).with("targets", json!(v.targets)));
    }
    let now = state.now();
    let (due, zone) = match due {
        Some(d) => d,
        None => {
            let zone = req
                .scheduling_options
                .as_ref()
                .and_then(|o| o.time_zone)
                .or(req.time_zone)
                .map(|z| z.0.name().to_string());
            let due = match &req.scheduling_options {
                Some(opts) => opts
                    .start_time
                    .resolve(opts.time_zone.as_ref().or(req.time_zone.as_ref()), now)
                    .map_err(|m| ApiError::validation("scheduling_options.start_time", m))?,
                None => req
                    .due_at(now)
                    .map_err(|v| ApiError::validation(&v.field, v.message))?,
            };
            (due, zone)
        }
    };
    let mut targets = Vec::new();
    for (i, id) in req.connection_ids.iter().enumerate() {
        let conn = conns
            .get(id)
            .ok_or_else(|| ApiError::not_found("connection"))?;
        if uses_pages(state, conn) {
            let pages = state.store().list_pages(&conn.id).await?;
            let chosen: Vec<_> = pages.into_iter().filter(|p| p.selected).collect();
            if chosen.is_empty() {
                return Err(ApiError::validation(
                    &format!("connection_ids[{i}]"),
                    format!(
                        "Facebook connection {id} has no selected Page to publish to; choose Pages with POST /v1/connections/{id}/pages"
                    ),
                ));
            }
            for p in chosen {
                targets.push(NewTarget {
                    id: uuid::Uuid::now_v7().to_string(),
                    connection_id: conn.id.clone(),
                    page_id: Some(p.page_id),
                    platform: conn.platform.clone(),
                });
            }
        } else {
            targets.push(NewTarget {
                id: uuid::Uuid::now_v7().to_string(),
                connection_id: conn.id.clone(),
                page_id: None,
                platform: conn.platform.clone(),
            });
        }
    }
    let post = Post {
        id: uuid::Uuid::now_v7().to_string(),
        workspace_id: workspace_id.to_string(),
        campaign_id: req.campaign_id.clone().or_else(|| campaign_id.cloned()),
        // Uploads are stored by `media_id` alone: the URL is signed when publishing.
        content: serde_json::to_value(crate::routes::media::content_to_store(&req.content))
            .map_err(|e| ApiError::internal("encoding the post content", &e))?,
        publish_at: due,
        time_zone: zone,
        created_at: now,
    };
    Ok((post, targets))
}

/// Validates `req` ([`verdict`]) and stores it with its targets, as the single form of
/// `POST /v1/posts` does (the dashboard's compose form too); returns the post and its stored
/// targets in order.
///
/// # Errors
/// As `POST /v1/posts`: 422 `validation-error` with `targets` when a target breaks a platform
/// rule, `violations` for request-level problems; nothing is stored on error.
pub async fn store_post(
    state: &AppState,
    workspace_id: &str,
    req: &PostRequest,
) -> ApiResult<(Post, Vec<PostTarget>)> {
    let (post, targets) = plan(state, workspace_id, req, None, None).await?;
    state.store().create_post(&post, &targets).await?;
    let stored = state.store().list_targets(&post.id).await?;
    Ok((post, stored))
}

/// `POST /v1/posts` → 201 the stored post (see [`post_json`]), with the body of
/// `/v1/posts/validate`: due at `publish_at` resolved in `time_zone` ("now" when absent), or at
/// `scheduling_options.start_time` when given. A Facebook connection gives one target per
/// selected Page.
///
/// Batch form: `{"posts": [body, ...], "scheduling_options"?, "campaign_id"?}` ([`BatchRequest`])
/// → 201 `{"data": [post, ...]}`; every post is validated before any is stored.
///
/// Errors: 401; 422 `validation-error` for the request-level problems of [`verdict`], or, when a
/// target breaks a platform rule, with `field` the first violation and `targets` the whole
/// verdict (batch: `field` prefixed `posts[i].`, and `posts: [{index, targets}]` for every
/// invalid post); 422 on `connection_ids[i]` for a Facebook connection with no selected Page.
/// Nothing is stored on error.
#[utoipa::path(
    post,
    path = "/v1/posts",
    operation_id = "createPosts",
    tag = "posts",
    summary = "Schedule a post (or a batch)",
    request_body = crate::openapi::CreatePosts,
    security(("api_key" = [])),
    responses(
        (status = 201, description = "The stored post with its targets; the batch form answers `{data: [post...]}`.", body = crate::openapi::PostCreated),
        (status = 400, description = "`malformed-body`: the body is not JSON.", body = crate::openapi::Problem, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported-media-type`: the body is not `application/json`.", body = crate::openapi::Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation-error`: `field` is the first problem; `targets` the whole verdict when a target breaks a platform rule (batch: `posts`). Nothing is stored.", body = crate::openapi::Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn create(
    State(state): State<AppState>,
    auth: WorkspaceAuth,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    if body.get("posts").is_none() {
        let req: PostRequest = parse(body)?;
        let (post, stored) = store_post(&state, &auth.workspace_id, &req).await?;
        return Ok((StatusCode::CREATED, Json(post_json(&post, &stored))));
    }
    let batch: BatchRequest = parse(body)?;
    if batch.posts.is_empty() {
        return Err(ApiError::validation("posts", "give at least one post"));
    }
    // Every size first, before any post is looked at further.
    let n = batch.posts.len();
    if n > MAX_BATCH_POSTS {
        return Err(too_many(
            "posts",
            MAX_BATCH_POSTS as u64,
            n,
            format!("a batch holds at most {MAX_BATCH_POSTS} posts; {n} given"),
        ));
    }
    for (i, req) in batch.posts.iter().enumerate() {
        check_sizes(&state, req).map_err(|e| in_batch(e, i))?;
    }
    let now = state.now();
    let spread = match &batch.scheduling_options {
        Some(opts) => {
            if opts.interval_hours == 0 {
                return Err(ApiError::validation(
                    "scheduling_options.interval_hours",
                    "interval_hours must be at least 1",
                ));
            }
            check_interval(opts.interval_hours)?;
            let start = opts
                .start_time
                .resolve(opts.time_zone.as_ref(), now)
                .map_err(|m| ApiError::validation("scheduling_options.start_time", m))?;
            Some((
                start,
                opts.interval_hours,
                opts.time_zone.map(|z| z.0.name().to_string()),
            ))
        }
        None => None,
    };
    let mut planned = Vec::with_capacity(batch.posts.len());
    let mut invalid = Vec::new();
    let mut first_error = None;
    for (i, req) in batch.posts.iter().enumerate() {
        let due = match spread.as_ref() {
            None => None,
            Some((start, hours, zone)) => {
                // Bounded above (100 posts, a year apart), yet a date near the end of the
                // calendar must be a 422, never an overflow.
                let due = i64::try_from(i)
                    .ok()
                    .and_then(|i| i.checked_mul(i64::from(*hours)))
                    .and_then(chrono::TimeDelta::try_hours)
                    .and_then(|offset| start.checked_add_signed(offset))
                    .ok_or_else(|| {
                        ApiError::validation(
                            "scheduling_options.interval_hours",
                            format!("post {i} of the batch would be due past the last date this server keeps"),
                        )
                    })?;
                Some((due, zone.clone()))
            }
        };
        match plan(
            &state,
            &auth.workspace_id,
            req,
            due,
            batch.campaign_id.as_ref(),
        )
        .await
        {
            Ok(p) => planned.push(p),
            Err(e) => {
                if let Some(t) = e.extra.get("targets") {
                    invalid.push(json!({"index": i, "targets": t}));
                }
                first_error.get_or_insert_with(|| in_batch(e, i));
            }
        }
    }
    if let Some(mut e) = first_error {
        e.extra.remove("targets");
        return Err(e.with("posts", json!(invalid)));
    }
    // All the posts in one transaction: a failure half-way stores none.
    state.store().create_posts(&planned).await?;
    let mut data = Vec::with_capacity(planned.len());
    for (post, _) in &planned {
        let stored = state.store().list_targets(&post.id).await?;
        data.push(post_json(post, &stored));
    }
    Ok((StatusCode::CREATED, Json(json!({ "data": data }))))
}

/// Query of `GET /v1/posts`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only this campaign.
    pub campaign_id: Option<String>,
    /// Only posts with a target in this status.
    #[param(value_type = Option<crate::openapi::TargetStatus>)]
    pub status: Option<String>,
    /// Only posts with a target on this platform.
    pub platform: Option<String>,
    /// Due at or after (RFC 3339, or a `publish_at`-style value read in UTC).
    #[param(format = DateTime)]
    pub from: Option<String>,
    /// Due before.
    #[param(format = DateTime)]
    pub to: Option<String>,
    /// Posts per page, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// Opaque: the `next_cursor` of the previous page (the same filters should be sent with it).
    pub cursor: Option<String>,
}

/// Default page size of `GET /v1/posts`.
pub const DEFAULT_PAGE: u32 = 50;
/// Largest page size of `GET /v1/posts`.
pub const MAX_PAGE: u32 = 200;

/// The page size `limit` asks for: [`DEFAULT_PAGE`] when absent.
///
/// # Errors
/// 422 `validation-error` naming `limit` outside 1..=[`MAX_PAGE`].
pub fn page_size(limit: Option<i64>) -> ApiResult<u32> {
    match limit {
        None => Ok(DEFAULT_PAGE),
        Some(n) if (1..=i64::from(MAX_PAGE)).contains(&n) => Ok(n as u32),
        Some(n) => Err(ApiError::validation(
            "limit",
            format!("limit must be between 1 and {MAX_PAGE}, got {n}"),
        )),
    }
}

/// The opaque cursor of a listing position: base64url (no padding) of
/// `v1|<publish_at RFC 3339 with nanoseconds>|<post id>`, the [`PostKey`] of the last post of a
/// page. It is not secret (the values are in the page already) and carries no filters.
pub fn encode_cursor(key: &PostKey) -> String {
    use base64::Engine;
    let raw = format!(
        "v1|{}|{}",
        key.publish_at
            .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
        key.id
    );
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

/// Reads a cursor made by [`encode_cursor`].
///
/// # Errors
/// 422 `validation-error` naming `cursor` when it is not one (not base64url, another version,
/// not a date-time, an empty id).
pub fn decode_cursor(cursor: &str) -> ApiResult<PostKey> {
    use base64::Engine;
    let bad = || {
        ApiError::validation(
            "cursor",
            "cursor is not a cursor of this listing; pass the `next_cursor` of a previous page unchanged",
        )
    };
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor.trim_end_matches('='))
        .map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let mut parts = text.splitn(3, '|');
    let (Some("v1"), Some(at), Some(id)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad());
    };
    let publish_at = DateTime::parse_from_rfc3339(at)
        .map_err(|_| bad())?
        .with_timezone(&Utc);
    if id.is_empty() || id.len() > 64 {
        return Err(bad());
    }
    Ok(PostKey {
        publish_at,
        id: id.to_string(),
    })
}

/// The store filter a list query asks for: `status` checked against the target statuses,
/// `from`/`to` read as instants, `limit` ([`page_size`]) and `cursor` ([`decode_cursor`]).
///
/// # Errors
/// 422 `validation-error` naming `status`, `from`, `to`, `limit` or `cursor`.
pub fn list_filter(q: &ListQuery, now: DateTime<Utc>) -> ApiResult<PostFilter> {
    if let Some(s) = &q.status {
        if !switchboard_store::posts::TARGET_STATUSES.contains(&s.as_str()) {
            return Err(ApiError::validation(
                "status",
                format!(
                    "{s:?} is not a target status; one of {}",
                    switchboard_store::posts::TARGET_STATUSES.join(", ")
                ),
            ));
        }
    }
    Ok(PostFilter {
        campaign_id: q.campaign_id.clone(),
        status: q.status.clone(),
        platform: q.platform.clone(),
        from: instant("from", q.from.as_deref(), now)?,
        to: instant("to", q.to.as_deref(), now)?,
        after: q.cursor.as_deref().map(decode_cursor).transpose()?,
        before: None,
        limit: page_size(q.limit)?,
    })
}

/// One page of a workspace's posts: the posts and the key to resume after, `None` on the last
/// page. Reads one post more than asked to know whether another page follows.
pub async fn list_page(
    state: &AppState,
    workspace_id: &str,
    filter: &PostFilter,
) -> ApiResult<(Vec<Post>, Option<PostKey>)> {
    let page = filter.limit as usize;
    let probe = PostFilter {
        limit: filter.limit + 1,
        ..filter.clone()
    };
    let mut posts = state.store().list_posts(workspace_id, &probe).await?;
    let next = if posts.len() > page {
        posts.truncate(page);
        posts.last().map(PostKey::of)
    } else {
        None
    };
    Ok((posts, next))
}

fn instant(
    field: &str,
    value: Option<&str>,
    now: DateTime<Utc>,
) -> ApiResult<Option<DateTime<Utc>>> {
    value
        .map(|v| {
            v.parse::<PublishAt>()
                .and_then(|p| p.resolve(None, now))
                .map_err(|m| ApiError::validation(field, m))
        })
        .transpose()
}

/// The URL of the next page: this request's query with `cursor` replaced, under `public_url`.
fn next_link(public_url: &str, raw_query: Option<&str>, cursor: &str) -> String {
    let mut ser = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in url::form_urlencoded::parse(raw_query.unwrap_or_default().as_bytes()) {
        if k != "cursor" {
            ser.append_pair(&k, &v);
        }
    }
    ser.append_pair("cursor", cursor);
    format!(
        "{}/v1/posts?{}",
        public_url.trim_end_matches('/'),
        ser.finish()
    )
}

/// `GET /v1/posts` → `{data: [post], next_cursor}`, latest `publish_at` first, posts due at the
/// same instant by id descending. Keyset paging: `limit` posts per page (default 50, 1–200);
/// when more follow, `next_cursor` is set and a `Link: <…cursor=…>; rel="next"` header
/// (RFC 8288) gives the next page's URL with the same filters; `next_cursor` is `null` on the
/// last page. A post scheduled or removed meanwhile never shifts the pages still to come.
///
/// Errors: 401; 422 on `status` (not a target status), `from`/`to` (not a date-time), `limit`
/// (outside 1–200), `cursor` (not one this listing made), an unknown parameter (a misspelt
/// `cursor` would otherwise restart at the first page).
#[utoipa::path(
    get,
    path = "/v1/posts",
    operation_id = "listPosts",
    tag = "posts",
    summary = "List posts, a page at a time",
    params(
        ListQuery,
    ),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "Latest `publish_at` first, ties by id; `next_cursor` and the `Link` header lead to the next page.", body = crate::openapi::PostPage,
            headers(("Link" = String, description = "RFC 8288 `<url>; rel=\"next\"` when another page follows."))),
        (status = 422, description = "`validation-error` on `status`, `from`, `to`, `limit`, `cursor` or a parameter of the wrong type.", body = crate::openapi::Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn list(
    State(state): State<AppState>,
    auth: WorkspaceAuth,
    uri: axum::http::Uri,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<axum::response::Response> {
    let filter = list_filter(&q, state.now())?;
    let (posts, next) = list_page(&state, &auth.workspace_id, &filter).await?;
    let mut data = Vec::with_capacity(posts.len());
    for p in &posts {
        let targets = state.store().list_targets(&p.id).await?;
        data.push(post_json(p, &targets));
    }
    let next_cursor = next.as_ref().map(encode_cursor);
    let mut resp = Json(json!({ "data": data, "next_cursor": next_cursor })).into_response();
    if let Some(c) = &next_cursor {
        let link = format!(
            "<{}>; rel=\"next\"",
            next_link(&state.config().public_url, uri.query(), c)
        );
        if let Ok(v) = axum::http::HeaderValue::from_str(&link) {
            resp.headers_mut().insert(axum::http::header::LINK, v);
        }
    }
    Ok(resp)
}

async fn load(state: &AppState, workspace_id: &str, id: &str) -> ApiResult<Post> {
    state
        .store()
        .get_post(workspace_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("post"))
}

async fn answer(state: &AppState, post: &Post, changed: Option<u64>) -> ApiResult<Json<Value>> {
    let targets = state.store().list_targets(&post.id).await?;
    let mut v = post_json(post, &targets);
    if let Some(n) = changed {
        v["changed"] = json!(n);
    }
    Ok(Json(v))
}

/// `GET /v1/posts/{id}` → the post with its targets (status, platform post id and URL,
/// diagnosis, and `metrics`: the latest `{fetched_at, values}` the sync read, or `null`).
/// Errors: 401; 404 (also for another workspace's post).
#[utoipa::path(
    get,
    path = "/v1/posts/{id}",
    operation_id = "getPost",
    tag = "posts",
    summary = "Get a post",
    params(
        ("id" = String, Path, description = "Post id"),
    ),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The post, its targets and their latest metrics.", body = crate::openapi::PostView),
        (status = 404, description = "`not-found`: no post with this id in this workspace.", body = crate::openapi::Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn get_one(
    State(state): State<AppState>,
    auth: WorkspaceAuth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let post = load(&state, &auth.workspace_id, &id).await?;
    let Json(mut v) = answer(&state, &post, None).await?;
    // Each target's latest metrics (`workers::sync`), `null` before its first sync.
    let snapshots = state.store().latest_post_snapshots(&post.id).await?;
    if let Some(targets) = v["targets"].as_array_mut() {
        for t in targets {
            let latest = snapshots.iter().find(|s| t["id"] == s.target_id.as_str());
            t["metrics"] = latest.map_or(
                Value::Null,
                |s| json!({"fetched_at": s.fetched_at, "values": s.metrics}),
            );
        }
    }
    Ok(Json(v))
}

/// `POST /v1/posts/{id}/publish` → the post, its `scheduled` targets now due, `changed` their
/// count. Errors: 401; 404.
#[utoipa::path(
    post,
    path = "/v1/posts/{id}/publish",
    operation_id = "publishPostNow",
    tag = "posts",
    summary = "Publish the scheduled targets now",
    params(
        ("id" = String, Path, description = "Post id"),
    ),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The post; `changed` targets were made due now.", body = crate::openapi::PostView),
        (status = 404, description = "`not-found`: no post with this id in this workspace.", body = crate::openapi::Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn publish_now(
    State(state): State<AppState>,
    auth: WorkspaceAuth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let post = load(&state, &auth.workspace_id, &id).await?;
    let n = state
        .store()
        .publish_targets_now(&post.id, state.now())
        .await?;
    answer(&state, &post, Some(n)).await
}

/// `POST /v1/posts/{id}/cancel` → the post, its `scheduled` targets `cancelled` (a target
/// already publishing, published or final is left as it is), `changed` their count.
/// Errors: 401; 404.
#[utoipa::path(
    post,
    path = "/v1/posts/{id}/cancel",
    operation_id = "cancelPost",
    tag = "posts",
    summary = "Cancel the scheduled targets",
    params(
        ("id" = String, Path, description = "Post id"),
    ),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The post; `changed` targets were cancelled.", body = crate::openapi::PostView),
        (status = 404, description = "`not-found`: no post with this id in this workspace.", body = crate::openapi::Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn cancel(
    State(state): State<AppState>,
    auth: WorkspaceAuth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let post = load(&state, &auth.workspace_id, &id).await?;
    let n = state.store().cancel_targets(&post.id, state.now()).await?;
    answer(&state, &post, Some(n)).await
}

/// `POST /v1/posts/{id}/retry` → the post, its `failed` targets `scheduled` again and due now
/// (published, cancelled and `unknown` targets are never retried), `changed` their count.
/// Errors: 401; 404.
#[utoipa::path(
    post,
    path = "/v1/posts/{id}/retry",
    operation_id = "retryPost",
    tag = "posts",
    summary = "Retry the failed targets",
    params(
        ("id" = String, Path, description = "Post id"),
    ),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The post; `changed` targets are scheduled again, due now.", body = crate::openapi::PostView),
        (status = 404, description = "`not-found`: no post with this id in this workspace.", body = crate::openapi::Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn retry(
    State(state): State<AppState>,
    auth: WorkspaceAuth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let post = load(&state, &auth.workspace_id, &id).await?;
    let n = state.store().retry_targets(&post.id, state.now()).await?;
    answer(&state, &post, Some(n)).await
}

/// `GET /v1/posts/summary` → `{total, by_status: {status: n}, by_platform: {platform:
/// {status: n}}}` over the workspace's targets (every status listed, zeros included).
#[utoipa::path(
    get,
    path = "/v1/posts/summary",
    operation_id = "getPostSummary",
    tag = "posts",
    summary = "Target counts by status and platform",
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The counts.", body = crate::openapi::PostSummary),
    ),
)]
pub async fn summary(State(state): State<AppState>, auth: WorkspaceAuth) -> ApiResult<Json<Value>> {
    let rows = state.store().target_summary(&auth.workspace_id).await?;
    let zero = || {
        switchboard_store::posts::TARGET_STATUSES
            .iter()
            .map(|s| (s.to_string(), 0_u64))
            .collect::<BTreeMap<_, _>>()
    };
    let mut by_status = zero();
    let mut by_platform = BTreeMap::<String, BTreeMap<String, u64>>::new();
    let mut total = 0;
    for r in rows {
        total += r.count;
        *by_status.entry(r.status.clone()).or_default() += r.count;
        *by_platform
            .entry(r.platform)
            .or_insert_with(zero)
            .entry(r.status)
            .or_default() += r.count;
    }
    Ok(Json(json!({
        "total": total,
        "by_status": by_status,
        "by_platform": by_platform,
    })))
}

/// Routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/posts/validate", post(validate))
        .route("/v1/posts", post(create).get(list))
        .route("/v1/posts/summary", get(summary))
        .route("/v1/posts/{id}", get(get_one))
        .route("/v1/posts/{id}/publish", post(publish_now))
        .route("/v1/posts/{id}/cancel", post(cancel))
        .route("/v1/posts/{id}/retry", post(retry))
}
