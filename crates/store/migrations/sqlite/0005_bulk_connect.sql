-- Bulk connect batches and account validation results (issue 5), SQLite flavour.
-- Conventions as in 0001: timestamps are INTEGER unix milliseconds, JSON is TEXT.

CREATE TABLE connect_batches (
    id           TEXT    NOT NULL PRIMARY KEY,
    workspace_id TEXT    NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    owner        TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
) STRICT;

CREATE INDEX connect_batches_workspace_id ON connect_batches (workspace_id);

CREATE TABLE connect_batch_sessions (
    batch_id      TEXT    NOT NULL REFERENCES connect_batches (id) ON DELETE CASCADE,
    position      INTEGER NOT NULL,
    platform      TEXT    NOT NULL,
    -- SHA-256 (hex) of the session's state; not a foreign key: states are purged, batches kept.
    state_hash    TEXT    NOT NULL UNIQUE,
    status        TEXT    NOT NULL CHECK (status IN ('pending', 'connected', 'failed')),
    connection_id TEXT,
    diagnosis     TEXT, -- JSON
    expires_at    INTEGER NOT NULL,
    finished_at   INTEGER,
    PRIMARY KEY (batch_id, position)
) STRICT;

-- The latest live validation of each connection.
CREATE TABLE connection_validations (
    connection_id TEXT    NOT NULL PRIMARY KEY REFERENCES connections (id) ON DELETE CASCADE,
    verdict       TEXT    NOT NULL,
    report        TEXT    NOT NULL, -- JSON
    checked_at    INTEGER NOT NULL
) STRICT;
