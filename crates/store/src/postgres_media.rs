//! [`MediaStore`] for [`PgStore`] (table of `migrations/postgres/0012_media.sql`).
//! Post references are read from `posts.content` with `jsonb_array_elements(content->'media')`.
//! The conditional delete is one statement; the retention purge skips rows another instance is
//! deleting (`FOR UPDATE SKIP LOCKED`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::Row;

use crate::media::{MediaDelete, MediaFile, MediaStore};
use crate::postgres::PgStore;
use crate::{StoreError, StoreResult};

const COLUMNS: &str =
    "id, workspace_id, filename, content_type, kind, size_bytes, sha256, created_at";

/// Unfinished targets of the workspace `$1` whose post names media `$2`.
const IN_USE: &str = "SELECT t.id FROM posts p \
     JOIN post_targets t ON t.post_id = p.id \
     CROSS JOIN LATERAL jsonb_array_elements(COALESCE(p.content->'media', '[]'::jsonb)) m \
     WHERE p.workspace_id = $1 AND t.status IN ('scheduled', 'publishing') \
       AND m->>'media_id' = $2";

fn media_from_row(row: &PgRow) -> StoreResult<MediaFile> {
    let size: i64 = row.try_get("size_bytes")?;
    Ok(MediaFile {
        id: row.try_get("id")?,
        workspace_id: row.try_get("workspace_id")?,
        filename: row.try_get("filename")?,
        content_type: row.try_get("content_type")?,
        kind: row.try_get("kind")?,
        size_bytes: u64::try_from(size)
            .map_err(|_| StoreError::Corrupt(format!("media.size_bytes = {size}")))?,
        sha256: row.try_get("sha256")?,
        created_at: row.try_get("created_at")?,
    })
}

#[async_trait]
impl MediaStore for PgStore {
    async fn insert_media(&self, m: &MediaFile) -> StoreResult<()> {
        sqlx::query(&format!(
            "INSERT INTO media ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        ))
        .bind(&m.id)
        .bind(&m.workspace_id)
        .bind(&m.filename)
        .bind(&m.content_type)
        .bind(&m.kind)
        .bind(i64::try_from(m.size_bytes).unwrap_or(i64::MAX))
        .bind(&m.sha256)
        .bind(m.created_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn get_media(&self, workspace_id: &str, id: &str) -> StoreResult<Option<MediaFile>> {
        sqlx::query(&format!(
            "SELECT {COLUMNS} FROM media WHERE workspace_id = $1 AND id = $2"
        ))
        .bind(workspace_id)
        .bind(id)
        .fetch_optional(self.pool())
        .await?
        .as_ref()
        .map(media_from_row)
        .transpose()
    }

    async fn get_media_by_id(&self, id: &str) -> StoreResult<Option<MediaFile>> {
        sqlx::query(&format!("SELECT {COLUMNS} FROM media WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .as_ref()
            .map(media_from_row)
            .transpose()
    }

    async fn media_bytes(&self, workspace_id: &str) -> StoreResult<u64> {
        let total: i64 = sqlx::query_scalar(
            "SELECT COALESCE(SUM(size_bytes), 0)::BIGINT FROM media WHERE workspace_id = $1",
        )
        .bind(workspace_id)
        .fetch_one(self.pool())
        .await?;
        Ok(u64::try_from(total).unwrap_or(0))
    }

    async fn list_media(&self, workspace_id: &str, limit: u32) -> StoreResult<Vec<MediaFile>> {
        sqlx::query(&format!(
            "SELECT {COLUMNS} FROM media WHERE workspace_id = $1 \
             ORDER BY created_at DESC, id DESC LIMIT $2"
        ))
        .bind(workspace_id)
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(media_from_row)
        .collect()
    }

    async fn delete_media(&self, workspace_id: &str, id: &str) -> StoreResult<MediaDelete> {
        let done = sqlx::query(&format!(
            "DELETE FROM media WHERE workspace_id = $1 AND id = $2 AND NOT EXISTS ({IN_USE})"
        ))
        .bind(workspace_id)
        .bind(id)
        .execute(self.pool())
        .await?;
        if done.rows_affected() > 0 {
            return Ok(MediaDelete::Deleted);
        }
        if self.get_media(workspace_id, id).await?.is_none() {
            return Ok(MediaDelete::NotFound);
        }
        let targets = sqlx::query(&format!("{IN_USE} ORDER BY t.id LIMIT 10"))
            .bind(workspace_id)
            .bind(id)
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|r| r.try_get::<String, _>("id"))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(MediaDelete::InUse(targets))
    }

    async fn purge_unreferenced_media(
        &self,
        before: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<MediaFile>> {
        sqlx::query(&format!(
            "DELETE FROM media WHERE id IN (\
                 SELECT x.id FROM media x WHERE x.created_at < $1 AND NOT EXISTS (\
                     SELECT 1 FROM posts p \
                     CROSS JOIN LATERAL jsonb_array_elements(COALESCE(p.content->'media', '[]'::jsonb)) m \
                     WHERE p.workspace_id = x.workspace_id AND m->>'media_id' = x.id) \
                 LIMIT $2 FOR UPDATE SKIP LOCKED) \
             RETURNING {COLUMNS}"
        ))
        .bind(before)
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(media_from_row)
        .collect()
    }
}
