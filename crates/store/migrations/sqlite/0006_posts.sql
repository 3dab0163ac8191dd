-- Posts and their publishing targets (issue 4), SQLite flavour.
-- Conventions as in 0001: timestamps are INTEGER unix milliseconds, JSON is TEXT.
-- A post's status is derived from its targets' (see `posts::post_status`), not stored.

CREATE TABLE posts (
    id           TEXT    NOT NULL PRIMARY KEY,
    workspace_id TEXT    NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    campaign_id  TEXT,
    content      TEXT    NOT NULL, -- JSON of PostContent
    publish_at   INTEGER NOT NULL,
    time_zone    TEXT,
    created_at   INTEGER NOT NULL
) STRICT;

CREATE INDEX posts_workspace_publish_at ON posts (workspace_id, publish_at);

CREATE TABLE post_targets (
    id               TEXT    NOT NULL PRIMARY KEY,
    post_id          TEXT    NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    workspace_id     TEXT    NOT NULL,
    position         INTEGER NOT NULL,
    -- Not a foreign key: a target's history outlives a deleted connection.
    connection_id    TEXT    NOT NULL,
    page_id          TEXT,
    platform         TEXT    NOT NULL,
    status           TEXT    NOT NULL CHECK (status IN
                         ('scheduled', 'publishing', 'published', 'failed', 'cancelled', 'unknown')),
    due_at           INTEGER NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    progress         TEXT    NOT NULL DEFAULT 'null', -- JSON
    platform_post_id TEXT,
    url              TEXT,
    last_error       TEXT, -- JSON diagnosis
    locked_by        TEXT,
    locked_until     INTEGER,
    published_at     INTEGER,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
) STRICT;

CREATE INDEX post_targets_post ON post_targets (post_id, position);
CREATE INDEX post_targets_due ON post_targets (next_attempt_at)
    WHERE status IN ('scheduled', 'publishing');
CREATE INDEX post_targets_workspace ON post_targets (workspace_id, platform, status);
