-- Posts and their publishing targets (issue 4), PostgreSQL flavour.
-- Conventions as in 0001: timestamps are timestamptz, JSON is jsonb.
-- A post's status is derived from its targets' (see `posts::post_status`), not stored.

CREATE TABLE posts (
    id           TEXT        NOT NULL PRIMARY KEY,
    workspace_id TEXT        NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    campaign_id  TEXT,
    content      JSONB       NOT NULL,
    publish_at   TIMESTAMPTZ NOT NULL,
    time_zone    TEXT,
    created_at   TIMESTAMPTZ NOT NULL
);

CREATE INDEX posts_workspace_publish_at ON posts (workspace_id, publish_at);

CREATE TABLE post_targets (
    id               TEXT        NOT NULL PRIMARY KEY,
    post_id          TEXT        NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    workspace_id     TEXT        NOT NULL,
    position         BIGINT      NOT NULL,
    -- Not a foreign key: a target's history outlives a deleted connection.
    connection_id    TEXT        NOT NULL,
    page_id          TEXT,
    platform         TEXT        NOT NULL,
    status           TEXT        NOT NULL CHECK (status IN
                         ('scheduled', 'publishing', 'published', 'failed', 'cancelled', 'unknown')),
    due_at           TIMESTAMPTZ NOT NULL,
    attempts         BIGINT      NOT NULL DEFAULT 0,
    next_attempt_at  TIMESTAMPTZ NOT NULL,
    progress         JSONB       NOT NULL DEFAULT 'null',
    platform_post_id TEXT,
    url              TEXT,
    last_error       JSONB,
    locked_by        TEXT,
    locked_until     TIMESTAMPTZ,
    published_at     TIMESTAMPTZ,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL
);

CREATE INDEX post_targets_post ON post_targets (post_id, position);
CREATE INDEX post_targets_due ON post_targets (next_attempt_at)
    WHERE status IN ('scheduled', 'publishing');
CREATE INDEX post_targets_workspace ON post_targets (workspace_id, platform, status);
