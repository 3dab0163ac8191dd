-- Uploaded media files (issue 4: media by URL or uploaded file), SQLite flavour. The bytes are
-- on disk in the server's media_dir, named by id; this is what they are. Posts refer to a file
-- by `media_id` inside their content JSON (see store/src/media.rs).
-- Conventions as in 0001: timestamps are INTEGER unix milliseconds.

CREATE TABLE media (
    id           TEXT    NOT NULL PRIMARY KEY,
    workspace_id TEXT    NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    filename     TEXT,
    content_type TEXT    NOT NULL,
    kind         TEXT    NOT NULL CHECK (kind IN ('image', 'video', 'gif')),
    size_bytes   INTEGER NOT NULL CHECK (size_bytes >= 0),
    sha256       TEXT    NOT NULL,
    created_at   INTEGER NOT NULL
) STRICT;

CREATE INDEX media_workspace_created ON media (workspace_id, created_at);
CREATE INDEX media_created ON media (created_at);
