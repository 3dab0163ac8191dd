//! Uploaded media files (issue 4: "media by URL or uploaded file"): the metadata of each file a
//! workspace uploaded with `POST /v1/media`. The bytes live on disk in the server's `media_dir`,
//! named by id; this table only says what they are.
//!
//! A post refers to an upload by putting its id in a media item (`content.media[i].media_id`,
//! JSON of `switchboard_core::post::PostContent` in `posts.content`). The reference checks below
//! read that JSON, so they can never disagree with the stored posts:
//! - [`MediaStore::delete_media`] deletes only when no *unfinished* target (`scheduled`,
//!   `publishing`) of a post using the file exists, in one conditional statement;
//! - [`MediaStore::purge_unreferenced_media`] (retention) deletes uploads older than a cut-off
//!   that **no** post refers to.
//!
//! Table `media` (migration `0012_media.sql`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::StoreResult;

/// The metadata of one uploaded file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaFile {
    /// Media id (UUID v7 text); also the file's name in `media_dir`.
    pub id: String,
    /// Owning workspace.
    pub workspace_id: String,
    /// The name the uploader gave the file (`cake.jpg`), if any.
    pub filename: Option<String>,
    /// MIME type, verified against the file's magic bytes (`image/jpeg`, `video/mp4`).
    pub content_type: String,
    /// `image`, `video` or `gif` (`switchboard_core::post::MediaKind`).
    pub kind: String,
    /// Size in bytes.
    pub size_bytes: u64,
    /// SHA-256 of the bytes, lowercase hex.
    pub sha256: String,
    /// Upload time.
    pub created_at: DateTime<Utc>,
}

/// What [`MediaStore::delete_media`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaDelete {
    /// The row is gone (the caller removes the file).
    Deleted,
    /// No such media in this workspace.
    NotFound,
    /// Still used by these unfinished post targets (ids, at most 10); nothing was deleted.
    InUse(Vec<String>),
}

/// Media metadata, per workspace.
#[async_trait]
pub trait MediaStore {
    /// Stores the metadata of a file already in place on disk.
    async fn insert_media(&self, media: &MediaFile) -> StoreResult<()>;

    /// A workspace's media; another workspace's id is `None`.
    async fn get_media(&self, workspace_id: &str, id: &str) -> StoreResult<Option<MediaFile>>;

    /// A media row by id alone (the public file route, which checks a signed token instead).
    async fn get_media_by_id(&self, id: &str) -> StoreResult<Option<MediaFile>>;

    /// The bytes a workspace's uploads take (`size_bytes` summed; 0 with none): what its
    /// storage quota is checked against.
    async fn media_bytes(&self, workspace_id: &str) -> StoreResult<u64>;

    /// A workspace's media, newest first, at most `limit`.
    async fn list_media(&self, workspace_id: &str, limit: u32) -> StoreResult<Vec<MediaFile>>;

    /// Deletes a workspace's media unless a `scheduled` or `publishing` target of a post whose
    /// content names it (`content.media[*].media_id`) exists. The check and the delete are one
    /// statement; the targets are listed only when it refused.
    async fn delete_media(&self, workspace_id: &str, id: &str) -> StoreResult<MediaDelete>;

    /// Retention: deletes up to `limit` media created before `before` that no post of their
    /// workspace refers to, and returns them (the caller removes their files).
    async fn purge_unreferenced_media(
        &self,
        before: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<MediaFile>>;
}
