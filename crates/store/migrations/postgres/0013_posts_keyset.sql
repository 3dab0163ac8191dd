-- Keyset paging of GET /v1/posts (and the dashboard's list): posts are listed by
-- (publish_at DESC, id DESC) and a page resumes with `(publish_at, id) < (cursor)`. These indexes
-- hold the whole sort key after the equality filters, so the listing is an index walk from the
-- cursor that stops after `limit` rows, whatever the page. The old (workspace_id, publish_at)
-- index is a prefix of the first one and goes.

DROP INDEX posts_workspace_publish_at;
CREATE INDEX posts_workspace_publish_at_id ON posts (workspace_id, publish_at, id);
CREATE INDEX posts_workspace_campaign_publish_at_id
    ON posts (workspace_id, campaign_id, publish_at, id);

-- Bulk connect: each session's consent link stays viewable (GET /v1/connect/bulk/{id}, the
-- dashboard's bulk page) until its state is consumed or expires. The link carries the OAuth
-- state, so it is stored sealed by the vault (context
-- `bulk_session:<state hash>:authorization_url`) and cleared when the callback records the
-- session's outcome; its key id index lets key status and rotation find it like every other
-- sealed column (same expression as `maintenance::postgres_key_id_expr`).
ALTER TABLE connect_batch_sessions ADD COLUMN authorization_url_sealed TEXT;
CREATE INDEX connect_batch_sessions_url_key_id ON connect_batch_sessions ((CASE
    WHEN left(authorization_url_sealed, 5) = 'sbv1.' THEN split_part(authorization_url_sealed, '.', 2)
    WHEN authorization_url_sealed IS NOT NULL THEN '' END));
