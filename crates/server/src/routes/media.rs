//! Media by uploaded file (issue 4: "media by URL or uploaded file").
//!
//! - `POST /v1/media`: one file, as `multipart/form-data` (part `file`; its filename and content
//!   type are the part's) or as the raw body (`Content-Type` of the body, `?filename=`). The
//!   bytes are streamed to a temporary file in `media_dir` while SHA-256 is computed, never held
//!   in memory; the route has its own body limit, `media_max_bytes` (default 512 MiB), apart from
//!   `max_body_bytes`. The kind (image, video, GIF) comes from the content type, checked against
//!   the file's magic bytes (the `infer` crate). Only a complete, verified file is renamed to
//!   `media_dir/<id>` and only then is its row stored; on any failure the temporary file is
//!   removed and nothing is stored. → 201 [`MediaObject`].
//! - `GET /v1/media?limit=` (newest first), `GET /v1/media/{id}`, `DELETE /v1/media/{id}` (409
//!   while a `scheduled` or `publishing` post target uses it). Another workspace's id is 404.
//! - `GET /media/{id}/{token}` (no API key): the file itself, for platforms that pull media by
//!   URL (Instagram `image_url`/`video_url`, TikTok `PULL_FROM_URL`, Pinterest `image_url`,
//!   Facebook `url`) and for Switchboard's own publishers, which download every media item from
//!   its `url`. `token` is `<key id>.<base64url HMAC-SHA256("media:<id>")>` with a key derived
//!   from the vault key ([`switchboard_vault::Keyring::derive_key`], purpose `media-url`):
//!   unguessable and not listable; a bad token is a plain 404. `Range` requests are served
//!   (`tower_http::services::ServeFile`). URLs signed with a key stay valid while that key is in
//!   the keyring.
//!
//! Posts name an upload with `content.media[i].media_id`; [`resolve_post_media`] turns it into
//! the signed URL with the upload's kind, type and size before the platform rules run, but the
//! post is stored with the `media_id` and without the URL ([`content_to_store`]): the dispatcher
//! signs a fresh URL right before publishing ([`sign_for_publish`]), with the `public_url` and
//! the active key of that moment.

use std::path::{Path as FsPath, PathBuf};

use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use futures::StreamExt as _;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use switchboard_core::post::{MediaKind, PostContent, PostRequest};
use switchboard_core::post_rules::Violation;
use switchboard_store::media::{MediaDelete, MediaFile};
use tokio::io::AsyncWriteExt as _;
use tower::ServiceExt as _;

use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiQuery, WorkspaceAuth};
use crate::AppState;

/// Purpose of the vault-derived key that signs media URLs.
const URL_KEY_PURPOSE: &str = "media-url";

/// Bytes read before the type is checked against the magic bytes (enough for every supported
/// signature; a shorter file is checked whole).
const HEAD_BYTES: usize = 8192;

/// Content types accepted, with their kind.
pub const SUPPORTED: &[(&str, MediaKind)] = &[
    ("image/jpeg", MediaKind::Image),
    ("image/png", MediaKind::Image),
    ("image/webp", MediaKind::Image),
    ("image/gif", MediaKind::Gif),
    ("video/mp4", MediaKind::Video),
    ("video/quicktime", MediaKind::Video),
];

/// An uploaded file as the API shows it (`POST /v1/media`, `GET /v1/media/{id}`).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MediaObject {
    /// Media id: give it as `content.media[i].media_id` in a post.
    pub id: String,
    /// `image`, `video` or `gif`.
    pub kind: MediaKind,
    /// MIME type, verified against the file's magic bytes.
    #[schema(example = "image/jpeg")]
    pub content_type: String,
    /// The uploader's file name, if any.
    pub filename: Option<String>,
    /// Size in bytes.
    pub size_bytes: u64,
    /// SHA-256 of the bytes, lowercase hex.
    pub sha256: String,
    /// Upload time.
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// The file's signed public URL (`{public_url}/media/{id}/{token}`), fetchable without an
    /// API key, with `Range` support.
    pub url: String,
}

/// `{"data": [media...]}`, newest first.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MediaList {
    /// The media, newest first.
    pub data: Vec<MediaObject>,
}

fn kind_of(name: &str) -> MediaKind {
    match name {
        "video" => MediaKind::Video,
        "gif" => MediaKind::Gif,
        _ => MediaKind::Image,
    }
}

fn object(state: &AppState, m: &MediaFile) -> MediaObject {
    MediaObject {
        id: m.id.clone(),
        kind: kind_of(&m.kind),
        content_type: m.content_type.clone(),
        filename: m.filename.clone(),
        size_bytes: m.size_bytes,
        sha256: m.sha256.clone(),
        created_at: m.created_at,
        url: public_url(state, &m.id),
    }
}

/// The directory files are kept in (`Config::media_dir`).
pub fn media_dir(state: &AppState) -> PathBuf {
    state.config().media_dir()
}

/// Where the file of media `id` lives. `None` for an id that is not a UUID (never a path).
fn file_path(state: &AppState, id: &str) -> Option<PathBuf> {
    let id = uuid::Uuid::parse_str(id).ok()?;
    Some(media_dir(state).join(id.hyphenated().to_string()))
}

fn mac(state: &AppState, key_id: &str, id: &str) -> Option<Hmac<Sha256>> {
    let key = state.keyring().derive_key(key_id, URL_KEY_PURPOSE)?;
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&key).ok()?;
    mac.update(b"media:");
    mac.update(id.as_bytes());
    Some(mac)
}

/// The token of media `id`, signed with the active vault key.
fn token(state: &AppState, id: &str) -> String {
    let key_id = state.keyring().active_id();
    let sig = mac(state, key_id, id)
        .map(|m| URL_SAFE_NO_PAD.encode(m.finalize().into_bytes()))
        .unwrap_or_default();
    format!("{key_id}.{sig}")
}

/// Whether `token` signs `id` with a key of the keyring (compared in constant time).
fn token_matches(state: &AppState, id: &str, token: &str) -> bool {
    let Some((key_id, sig)) = token.split_once('.') else {
        return false;
    };
    let Ok(sig) = URL_SAFE_NO_PAD.decode(sig) else {
        return false;
    };
    mac(state, key_id, id).is_some_and(|m| m.verify_slice(&sig).is_ok())
}

/// The signed public URL of media `id`: `{public_url}/media/{id}/{token}`.
pub fn public_url(state: &AppState, id: &str) -> String {
    format!(
        "{}/media/{id}/{}",
        state.config().public_url,
        token(state, id)
    )
}

/// Removes the file of media `id` (after its row went). A missing file is fine; another
/// failure is logged, never raised: the row is gone either way.
pub async fn remove_file(state: &AppState, id: &str) {
    let Some(path) = file_path(state, id) else {
        return;
    };
    match tokio::fs::remove_file(&path).await {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!(media_id = %id, error = %e, "media file could not be removed"),
    }
}

/// Whether a file was last written more than `age` ago by its file time (not the app clock: the
/// sweeps judge what other processes left on disk). A time that cannot be read is not old.
fn written_before(meta: &std::fs::Metadata, age: std::time::Duration) -> bool {
    meta.modified()
        .ok()
        .and_then(|t| t.elapsed().ok())
        .is_some_and(|elapsed| elapsed > age)
}

/// Removes temporary upload files (`media_dir/.upload-*`) last written more than `age` ago
/// (file time, not the app clock): what an instance that died mid-upload left. Returns how many
/// went. A directory that does not exist yet has none.
pub async fn sweep_stale_uploads(state: &AppState, age: std::time::Duration) -> u64 {
    let Ok(mut entries) = tokio::fs::read_dir(media_dir(state)).await else {
        return 0;
    };
    let mut removed = 0;
    while let Ok(Some(e)) = entries.next_entry().await {
        if !e.file_name().to_string_lossy().starts_with(".upload-") {
            continue;
        }
        let stale = e.metadata().await.is_ok_and(|m| written_before(&m, age));
        if stale && tokio::fs::remove_file(e.path()).await.is_ok() {
            removed += 1;
        }
    }
    removed
}

/// Removes files in `media_dir` named as a media id (a UUID) that have no media row and were
/// last written more than `age` ago (file time): what an instance that died between the rename
/// into `media_dir` and the row insert left (or a file whose removal failed after its row went).
/// The age keeps an upload being finished right now (renamed, row not yet stored) safe. Other
/// names (temporary `.upload-*` files, anything else) are left alone. Returns how many went.
///
/// # Errors
/// Store failures while looking up a row (what was removed before stays removed).
pub async fn sweep_orphan_files(
    state: &AppState,
    age: std::time::Duration,
) -> Result<u64, switchboard_store::StoreError> {
    let Ok(mut entries) = tokio::fs::read_dir(media_dir(state)).await else {
        return Ok(0);
    };
    let mut removed = 0;
    while let Ok(Some(e)) = entries.next_entry().await {
        let name = e.file_name().to_string_lossy().into_owned();
        let Ok(id) = uuid::Uuid::parse_str(&name) else {
            continue;
        };
        if id.hyphenated().to_string() != name {
            continue;
        }
        let Ok(meta) = e.metadata().await else {
            continue;
        };
        if !meta.is_file() || !written_before(&meta, age) {
            continue;
        }
        if state.store().get_media_by_id(&name).await?.is_some() {
            continue;
        }
        match tokio::fs::remove_file(e.path()).await {
            Ok(()) => {
                tracing::info!(media_id = %name, "removed a media file without its row");
                removed += 1;
            }
            Err(err) => {
                tracing::warn!(media_id = %name, error = %err, "orphan media file could not be removed")
            }
        }
    }
    Ok(removed)
}

/// `media[i].media_id` resolved in the workspace: each item that names an upload gets the
/// upload's signed URL, kind, content type and size, so the platform rules check it exactly as
/// media given by URL. Items given by URL are kept as they are.
///
/// # Errors
/// 422 `validation-error` listing every problem in `violations` (`field` the first):
/// `content.media[i]` when an item gives both `url` and `media_id`;
/// `content.media[i].media_id` when no upload of this workspace has that id (another
/// workspace's included); `content.media[i].url` (`private_address`) when a URL names, or its
/// host resolves to, a non-public address outside `outbound_allow_origins`
/// (`switchboard_oauth::outbound`). Store failures as [`ApiError`].
pub async fn resolve_post_media(
    state: &AppState,
    workspace_id: &str,
    req: &PostRequest,
) -> ApiResult<PostRequest> {
    let mut out = req.clone();
    let mut violations = Vec::new();
    for (i, m) in out.content.media.iter_mut().enumerate() {
        let Some(id) = m.media_id.clone() else {
            // A URL the publisher would fetch: refused now when it names, or resolves to, a
            // non-public address outside `outbound_allow_origins` (the fetch checks again).
            // (A URL that is not http(s) is the platform rules' `content.media[i].url`.)
            if let Err(switchboard_oauth::outbound::Refused::Private(why)) =
                state.oauth().http().outbound().check(&m.url).await
            {
                violations.push(Violation::new(
                    &format!("content.media[{i}].url"),
                    "private_address",
                    format!("the media URL is not fetched: {why}"),
                ));
            }
            continue;
        };
        if !m.url.is_empty() {
            violations.push(Violation::new(
                &format!("content.media[{i}]"),
                "invalid_value",
                "give either url or media_id, not both",
            ));
            continue;
        }
        match state.store().get_media(workspace_id, &id).await? {
            Some(f) => {
                m.url = public_url(state, &f.id);
                m.kind = kind_of(&f.kind);
                m.mime_type = Some(f.content_type);
                m.size_bytes = Some(f.size_bytes);
            }
            None => violations.push(Violation::new(
                &format!("content.media[{i}].media_id"),
                "unknown_media",
                format!("there is no uploaded media {id:?} in this workspace (POST /v1/media)"),
            )),
        }
    }
    if let Some(first) = violations.first() {
        return Err(ApiError::validation(&first.field, first.message.clone())
            .with("violations", json!(violations)));
    }
    Ok(out)
}

/// The content to store for a post whose media were resolved by [`resolve_post_media`]: an
/// item naming an upload keeps its `media_id` (and the upload's kind, type and size) but not the
/// signed URL, which the dispatcher makes afresh before publishing ([`sign_for_publish`]), so
/// that a later `public_url` or a rotated vault key cannot break a scheduled post.
pub fn content_to_store(content: &PostContent) -> PostContent {
    let mut out = content.clone();
    for m in out.media.iter_mut() {
        if m.media_id.is_some() {
            m.url.clear();
        }
    }
    out
}

/// Why [`sign_for_publish`] could not resolve an upload: its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingMedia(pub String);

impl std::fmt::Display for MissingMedia {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the uploaded file {} no longer exists; upload it again",
            self.0
        )
    }
}

/// Publishing time: every item of `content` that names an upload (`media_id`) gets the
/// upload's freshly signed URL ([`public_url`]: the current `public_url`, the active key) and
/// the upload's kind, type and size. Items given by URL are left as they are. Returns, for each
/// upload, its signed URL and its file in `media_dir`, for the publishers to read the file from
/// disk rather than fetch this server's own public URL (which an instance behind a load balancer
/// may not reach); platforms that pull by URL still get the URL.
///
/// # Errors
/// `Ok(Err(MissingMedia))` when the upload's row is gone from the workspace (deleted, purged)
/// or its file is missing from `media_dir`; store failures as `Err`.
pub async fn sign_for_publish(
    state: &AppState,
    workspace_id: &str,
    content: &mut PostContent,
) -> Result<Result<Vec<switchboard_publish::LocalMedia>, MissingMedia>, switchboard_store::StoreError>
{
    let mut local = Vec::new();
    for m in content.media.iter_mut() {
        let Some(id) = m.media_id.clone() else {
            continue;
        };
        let Some(f) = state.store().get_media(workspace_id, &id).await? else {
            return Ok(Err(MissingMedia(id)));
        };
        let path = match file_path(state, &f.id) {
            Some(p) if tokio::fs::try_exists(&p).await.unwrap_or(false) => p,
            _ => {
                tracing::warn!(media_id = %id, "media row without its file in media_dir");
                return Ok(Err(MissingMedia(id)));
            }
        };
        m.url = public_url(state, &f.id);
        m.kind = kind_of(&f.kind);
        m.mime_type = Some(f.content_type);
        m.size_bytes = Some(f.size_bytes);
        local.push(switchboard_publish::LocalMedia {
            url: m.url.clone(),
            path,
        });
    }
    Ok(Ok(local))
}

/// 413 naming the media limit.
fn too_large(limit: u64, field: &str, setting: &str) -> ApiError {
    let detail = if setting == QUOTA_SETTING {
        format!(
            "the file does not fit in what is left of this workspace's storage quota, {limit} bytes ({setting}); delete unused media first"
        )
    } else {
        format!("the file exceeds the limit of {limit} bytes ({setting})")
    };
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body-too-large",
        "Media file too large",
        detail,
    )
    .with("limit_bytes", limit)
    .with("field", field)
}

const QUOTA_SETTING: &str = "media_quota_bytes";
const MAX_SETTING: &str = "media_max_bytes";

/// `image/JPEG; x=y` → `image/jpeg`; `image/jpg` → `image/jpeg`.
fn normalize_type(ct: &str) -> String {
    let t = ct
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match t.as_str() {
        "image/jpg" | "image/pjpeg" => "image/jpeg".into(),
        _ => t,
    }
}

/// The content type and kind of a file whose first bytes are `head`, declared as `declared`
/// (`None` or `application/octet-stream`: the detected type is used).
///
/// # Errors
/// 415 `unsupported-media-type` for a declared type outside [`SUPPORTED`]; 422 on `field` when
/// the bytes match no supported type or another type than the declared one.
fn check_type(declared: Option<&str>, head: &[u8], field: &str) -> ApiResult<(String, MediaKind)> {
    let supported = || {
        SUPPORTED
            .iter()
            .map(|(t, _)| *t)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let declared = declared
        .map(normalize_type)
        .filter(|t| !t.is_empty() && t != "application/octet-stream");
    if let Some(d) = &declared {
        if !SUPPORTED.iter().any(|(t, _)| t == d) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported media type",
                format!(
                    "{d} is not a supported media type; send one of {}",
                    supported()
                ),
            )
            .with("field", field));
        }
    }
    let detected = infer::get(head).map(|t| normalize_type(t.mime_type()));
    let Some((detected, kind)) = detected
        .as_deref()
        .and_then(|d| SUPPORTED.iter().find(|(t, _)| *t == d))
        .map(|(t, k)| (t.to_string(), *k))
    else {
        return Err(ApiError::validation(
            field,
            format!(
                "the file's content is not {} (its first bytes match none of: {})",
                declared.as_deref().unwrap_or("a supported image or video"),
                supported()
            ),
        ));
    };
    if let Some(d) = declared {
        if d != detected {
            return Err(ApiError::validation(
                field,
                format!("the file is declared as {d} but its content is {detected}"),
            ));
        }
    }
    Ok((detected, kind))
}

/// Removes the temporary file when dropped, unless it was kept.
struct TempFile {
    path: PathBuf,
    keep: bool,
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// An upload being written: the temporary file, the hash, the size and the first bytes.
struct Writer {
    temp: TempFile,
    file: tokio::io::BufWriter<tokio::fs::File>,
    hasher: Sha256,
    size: u64,
    head: Vec<u8>,
    checked: Option<(String, MediaKind)>,
    declared: Option<String>,
    limit: u64,
    field: &'static str,
    setting: &'static str,
}

impl Writer {
    async fn create(
        dir: &FsPath,
        declared: Option<String>,
        limit: u64,
        field: &'static str,
        setting: &'static str,
    ) -> ApiResult<Writer> {
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(|e| ApiError::internal("creating media_dir", &e))?;
        let path = dir.join(format!(".upload-{}", uuid::Uuid::new_v4()));
        let file = tokio::fs::File::create(&path)
            .await
            .map_err(|e| ApiError::internal("creating the upload file", &e))?;
        Ok(Writer {
            temp: TempFile { path, keep: false },
            file: tokio::io::BufWriter::with_capacity(256 * 1024, file),
            hasher: Sha256::new(),
            size: 0,
            head: Vec::with_capacity(HEAD_BYTES),
            checked: None,
            declared,
            limit,
            field,
            setting,
        })
    }

    async fn push(&mut self, chunk: &[u8]) -> ApiResult<()> {
        self.size += chunk.len() as u64;
        if self.size > self.limit {
            return Err(too_large(self.limit, self.field, self.setting));
        }
        if self.head.len() < HEAD_BYTES {
            let take = (HEAD_BYTES - self.head.len()).min(chunk.len());
            self.head.extend_from_slice(&chunk[..take]);
            if self.head.len() == HEAD_BYTES {
                // Refuse a wrong type now rather than after streaming the whole file.
                self.checked = Some(check_type(
                    self.declared.as_deref(),
                    &self.head,
                    self.field,
                )?);
            }
        }
        self.hasher.update(chunk);
        self.file
            .write_all(chunk)
            .await
            .map_err(|e| ApiError::internal("writing the upload file", &e))
    }

    /// Flushes, checks, renames to `media_dir/<id>` and stores the row; removes the file when
    /// the row cannot be stored.
    async fn finish(
        mut self,
        state: &AppState,
        workspace_id: &str,
        filename: Option<String>,
    ) -> ApiResult<MediaFile> {
        if self.size == 0 {
            return Err(ApiError::validation(self.field, "the file is empty"));
        }
        let (content_type, kind) = match self.checked.take() {
            Some(c) => c,
            None => check_type(self.declared.as_deref(), &self.head, self.field)?,
        };
        self.file
            .flush()
            .await
            .map_err(|e| ApiError::internal("writing the upload file", &e))?;
        self.file
            .get_ref()
            .sync_all()
            .await
            .map_err(|e| ApiError::internal("writing the upload file", &e))?;
        let id = uuid::Uuid::now_v7().to_string();
        let dest = media_dir(state).join(&id);
        tokio::fs::rename(&self.temp.path, &dest)
            .await
            .map_err(|e| ApiError::internal("moving the upload into media_dir", &e))?;
        self.temp.keep = true;
        let media = MediaFile {
            id,
            workspace_id: workspace_id.to_string(),
            filename,
            content_type,
            kind: kind.as_str().to_string(),
            size_bytes: self.size,
            sha256: hex::encode(self.hasher.finalize()),
            // Whole milliseconds: what both backends store, so the answer equals a later read.
            created_at: chrono::SubsecRound::trunc_subsecs(state.now(), 3),
        };
        if let Err(e) = state.store().insert_media(&media).await {
            let _ = tokio::fs::remove_file(&dest).await;
            return Err(e.into());
        }
        Ok(media)
    }
}

/// A file name as given, without any directory part, at most 255 characters; `None` when empty.
fn clean_filename(name: Option<&str>) -> Option<String> {
    let base = name?.rsplit(['/', '\\']).next().unwrap_or_default().trim();
    let base: String = base.chars().filter(|c| !c.is_control()).take(255).collect();
    (!base.is_empty()).then_some(base)
}

/// Most parts in a multipart upload (the `file` part and a few form fields a client may add).
pub const MAX_PARTS: usize = 8;

/// Most bytes of all parts other than `file` together, in a multipart upload (64 KiB: form
/// fields, never files).
pub const OTHER_PARTS_MAX_BYTES: usize = 64 * 1024;

/// Stores one upload from a request (multipart part `file`, or the raw body): the work of
/// `POST /v1/media`, shared with the dashboard's upload.
///
/// # Errors
/// As `POST /v1/media`; nothing is stored (no row, no file) on error.
pub async fn store_upload(
    state: &AppState,
    workspace_id: &str,
    filename: Option<String>,
    req: Request,
) -> ApiResult<MediaFile> {
    // The smaller of the upload limit and what is left of the workspace's quota. Uploads running
    // at once may together pass the quota by at most one file each.
    let used = state.store().media_bytes(workspace_id).await?;
    let room = state.config().media_quota_bytes.saturating_sub(used);
    let (limit, setting) = if room < state.config().media_max_bytes {
        (room, QUOTA_SETTING)
    } else {
        (state.config().media_max_bytes, MAX_SETTING)
    };
    let ct = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let multipart = ct
        .as_deref()
        .is_some_and(|c| normalize_type(c) == "multipart/form-data");
    let field: &'static str = if multipart { "file" } else { "body" };
    // Refused before a byte is read when the length is announced (multipart framing allowed).
    let announced = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let slack = if multipart { 64 * 1024 } else { 0 };
    if announced.is_some_and(|n| n > limit.saturating_add(slack)) {
        return Err(too_large(limit, field, setting));
    }
    let dir = media_dir(state);
    if !multipart {
        let declared = ct.filter(|c| !c.trim().is_empty());
        let mut w = Writer::create(&dir, declared, limit, field, setting).await?;
        let mut body = req.into_body().into_data_stream();
        while let Some(chunk) = body.next().await {
            let chunk =
                chunk.map_err(|e| ApiError::bad_body(format!("the upload broke off: {e}")))?;
            w.push(&chunk).await?;
        }
        return w
            .finish(state, workspace_id, clean_filename(filename.as_deref()))
            .await;
    }
    let mut parts = Multipart::from_request(req, &())
        .await
        .map_err(|e| ApiError::bad_body(format!("the multipart body cannot be read: {e}")))?;
    let broken = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            too_large(limit, "file", setting)
        } else {
            ApiError::bad_body(format!("the multipart body cannot be read: {e}"))
        }
    };
    let mut stored: Option<MediaFile> = None;
    // Parts other than `file` are read (to reach the next part) but bounded: together at most
    // OTHER_PARTS_MAX_BYTES, and at most MAX_PARTS parts in all.
    let (mut count, mut other_bytes) = (0usize, 0usize);
    while let Some(mut part) = parts.next_field().await.map_err(broken)? {
        count += 1;
        if count > MAX_PARTS {
            if let Some(done) = stored.take() {
                let _ = state.store().delete_media(workspace_id, &done.id).await;
                remove_file(state, &done.id).await;
            }
            return Err(ApiError::validation(
                "file",
                format!("a multipart upload has at most {MAX_PARTS} parts"),
            )
            .with("limit", MAX_PARTS));
        }
        if part.name() != Some("file") {
            while let Some(chunk) = part.chunk().await.map_err(broken)? {
                other_bytes += chunk.len();
                if other_bytes > OTHER_PARTS_MAX_BYTES {
                    if let Some(done) = stored.take() {
                        let _ = state.store().delete_media(workspace_id, &done.id).await;
                        remove_file(state, &done.id).await;
                    }
                    return Err(ApiError::validation(
                        "file",
                        format!(
                            "parts other than `file` hold at most {OTHER_PARTS_MAX_BYTES} bytes together"
                        ),
                    )
                    .with("limit", OTHER_PARTS_MAX_BYTES));
                }
            }
            continue;
        }
        if let Some(done) = stored.take() {
            let _ = state.store().delete_media(workspace_id, &done.id).await;
            remove_file(state, &done.id).await;
            return Err(ApiError::validation(
                "file",
                "send one file per upload (one part named `file`)",
            ));
        }
        let name = clean_filename(part.file_name()).or_else(|| clean_filename(filename.as_deref()));
        let declared = part.content_type().map(str::to_string);
        let mut w = Writer::create(&dir, declared, limit, "file", setting).await?;
        while let Some(chunk) = part.chunk().await.map_err(broken)? {
            w.push(&chunk).await?;
        }
        stored = Some(w.finish(state, workspace_id, name).await?);
    }
    stored.ok_or_else(|| {
        ApiError::validation(
            "file",
            "the multipart body has no part named `file` (send the file in a part named file)",
        )
    })
}

/// The `multipart/form-data` form of `POST /v1/media`.
#[derive(Debug, utoipa::ToSchema)]
pub struct UploadForm {
    /// The file; its part's `filename` and `Content-Type` are used.
    #[schema(value_type = String, format = Binary)]
    pub file: Vec<u8>,
}

/// Query of `POST /v1/media`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct UploadQuery {
    /// File name of a raw-body upload (a multipart part carries its own).
    pub filename: Option<String>,
}

/// `POST /v1/media`: one file, multipart (part `file`) or raw body → 201 [`MediaObject`].
///
/// Errors: 401; 413 `body-too-large` over `media_max_bytes` (`limit_bytes`); 415
/// `unsupported-media-type` for a type outside JPEG, PNG, WebP, GIF, MP4, QuickTime (`field`);
/// 422 `validation-error` on `file` (multipart) or `body` (raw) when the magic bytes disagree
/// with the declared type, match no supported type, the file is empty, or no part is named
/// `file`. Nothing is stored on error.
#[utoipa::path(
    post,
    path = "/v1/media",
    operation_id = "uploadMedia",
    tag = "media",
    summary = "Upload a media file",
    params(UploadQuery),
    request_body(
        description = "`multipart/form-data` with the file in a part named `file`, or the raw file with its own `Content-Type` (`image/jpeg`, `image/png`, `image/webp`, `image/gif`, `video/mp4`, `video/quicktime`).",
        content(
            (UploadForm = "multipart/form-data"),
            (String = "application/octet-stream"),
        ),
    ),
    security(("api_key" = [])),
    responses(
        (status = 201, description = "The stored file; `id` goes in `content.media[i].media_id`.", body = MediaObject),
        (status = 413, description = "`body-too-large`: over `media_max_bytes` (`limit_bytes`). Nothing is stored.", body = crate::openapi::Problem, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported-media-type`: not an accepted image or video type.", body = crate::openapi::Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation-error` on `file`/`body`: the magic bytes disagree with the type, the file is empty, or no `file` part. Nothing is stored.", body = crate::openapi::Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn upload(
    State(state): State<AppState>,
    auth: WorkspaceAuth,
    ApiQuery(q): ApiQuery<UploadQuery>,
    req: Request,
) -> ApiResult<(StatusCode, Json<MediaObject>)> {
    let m = store_upload(&state, &auth.workspace_id, q.filename, req).await?;
    tracing::info!(media_id = %m.id, kind = %m.kind, size_bytes = m.size_bytes, "media uploaded");
    Ok((StatusCode::CREATED, Json(object(&state, &m))))
}

/// Query of `GET /v1/media`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// At most this many, newest first (1-500, default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
}

/// `GET /v1/media` → `{"data": [media...]}`, newest first.
#[utoipa::path(
    get,
    path = "/v1/media",
    operation_id = "listMedia",
    tag = "media",
    summary = "List uploaded media",
    params(ListQuery),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "Newest first.", body = MediaList),
        (status = 422, description = "`validation-error` on `limit` or an unknown parameter.", body = crate::openapi::Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn list(
    State(state): State<AppState>,
    auth: WorkspaceAuth,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<MediaList>> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::validation(
            "limit",
            "limit must be between 1 and 500",
        ));
    }
    let rows = state.store().list_media(&auth.workspace_id, limit).await?;
    Ok(Json(MediaList {
        data: rows.iter().map(|m| object(&state, m)).collect(),
    }))
}

/// `GET /v1/media/{id}` → [`MediaObject`]; another workspace's id is 404.
#[utoipa::path(
    get,
    path = "/v1/media/{id}",
    operation_id = "getMedia",
    tag = "media",
    summary = "An uploaded file's metadata and public URL",
    params(("id" = String, Path, description = "Media id")),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The file.", body = MediaObject),
        (status = 404, description = "`not-found`: no such media in this workspace.", body = crate::openapi::Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn get_one(
    State(state): State<AppState>,
    auth: WorkspaceAuth,
    Path(id): Path<String>,
) -> ApiResult<Json<MediaObject>> {
    let m = state
        .store()
        .get_media(&auth.workspace_id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("media"))?;
    Ok(Json(object(&state, &m)))
}

/// `DELETE /v1/media/{id}` → 204, the row and the file removed.
///
/// Errors: 404 (another workspace's id too); 409 `media-in-use` with `target_ids` while a
/// `scheduled` or `publishing` target of a post uses the file (cancel the post, or wait until it
/// is published).
#[utoipa::path(
    delete,
    path = "/v1/media/{id}",
    operation_id = "deleteMedia",
    tag = "media",
    summary = "Delete an uploaded file",
    params(("id" = String, Path, description = "Media id")),
    security(("api_key" = [])),
    responses(
        (status = 204, description = "Deleted, file included."),
        (status = 404, description = "`not-found`: no such media in this workspace.", body = crate::openapi::Problem, content_type = "application/problem+json"),
        (status = 409, description = "`media-in-use`: a post not yet finished uses it (`target_ids`).", body = crate::openapi::Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn delete(
    State(state): State<AppState>,
    auth: WorkspaceAuth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    match state.store().delete_media(&auth.workspace_id, &id).await? {
        MediaDelete::Deleted => {
            remove_file(&state, &id).await;
            Ok(StatusCode::NO_CONTENT)
        }
        MediaDelete::NotFound => Err(ApiError::not_found("media")),
        MediaDelete::InUse(targets) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "media-in-use",
            "Media in use",
            format!(
                "media {id} is used by {} post target(s) not yet published; cancel them or wait until they finish",
                targets.len()
            ),
        )
        .with("target_ids", targets)),
    }
}

/// `GET /media/{id}/{token}`: the file, without an API key, for platforms that pull media by
/// URL. A bad token, an unknown id and a missing file all answer the same 404. `Range`,
/// `If-Modified-Since` and `HEAD` are served by `ServeFile`.
#[utoipa::path(
    get,
    path = "/media/{id}/{token}",
    operation_id = "getMediaFile",
    tag = "media",
    summary = "An uploaded file by its signed public URL",
    params(
        ("id" = String, Path, description = "Media id"),
        ("token" = String, Path, description = "The signature from the media's `url`"),
    ),
    responses(
        (status = 200, description = "The bytes, with the file's `Content-Type`.", content(
            (String = "image/jpeg"), (String = "image/png"), (String = "image/webp"),
            (String = "image/gif"), (String = "video/mp4"), (String = "video/quicktime"),
        )),
        (status = 206, description = "The requested `Range` of the bytes.", content(
            (String = "image/jpeg"), (String = "image/png"), (String = "image/webp"),
            (String = "image/gif"), (String = "video/mp4"), (String = "video/quicktime"),
        )),
        (status = 404, description = "`not-found`: no such file, or the token does not sign it.", body = crate::openapi::Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn public_file(
    State(state): State<AppState>,
    Path((id, token)): Path<(String, String)>,
    req: Request,
) -> Response {
    let not_found = || {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not-found",
            "Not found",
            "no media file at this URL",
        )
        .into_response()
    };
    let Some(path) = file_path(&state, &id) else {
        return not_found();
    };
    if !token_matches(&state, &id, &token) {
        return not_found();
    }
    let media = match state.store().get_media_by_id(&id).await {
        Ok(Some(m)) => m,
        Ok(None) => return not_found(),
        Err(e) => return ApiError::from(e).into_response(),
    };
    if !tokio::fs::try_exists(&path).await.unwrap_or(false) {
        tracing::warn!(media_id = %id, "media row without its file in media_dir");
        return not_found();
    }
    let mime = HeaderValue::from_str(&media.content_type)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    match tower_http::services::ServeFile::new(&path)
        .oneshot(req)
        .await
    {
        Ok(resp) => {
            let mut resp = resp.map(Body::new);
            let h = resp.headers_mut();
            h.insert(header::CONTENT_TYPE, mime);
            h.insert(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
            h.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=86400, immutable"),
            );
            resp
        }
        Err(e) => ApiError::internal("reading the media file", &e).into_response(),
    }
}

/// The dashboard's upload (session and CSRF instead of an API key; `dashboard::media`).
pub const DASHBOARD_UPLOAD_PATH: &str = "/posts/media";

/// Whether a request is a media upload, which `rate_limit::body_limit` leaves to
/// `media_max_bytes` (enforced while streaming) instead of `max_body_bytes`.
pub fn has_own_body_limit(method: &axum::http::Method, path: &str) -> bool {
    method == axum::http::Method::POST && (path == "/v1/media" || path == DASHBOARD_UPLOAD_PATH)
}

/// Routes of this module. `POST /v1/media` is outside the global `max_body_bytes` limit
/// ([`has_own_body_limit`]): it enforces `media_max_bytes` itself while streaming.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/media", get(list).post(upload))
        .route("/v1/media/{id}", get(get_one).delete(delete))
        .route("/media/{id}/{token}", get(public_file))
        // axum's 2 MB default for extractors (multipart) does not apply: the limit is ours.
        .layer(axum::extract::DefaultBodyLimit::disable())
}

/// A JSON view of an upload (for callers that build JSON, such as the dashboard).
pub fn media_json(state: &AppState, m: &MediaFile) -> Value {
    serde_json::to_value(object(state, m)).unwrap_or(Value::Null)
}
