-- Initial schema, SQLite flavour.
--
-- Conventions: ids are UUID text; timestamps are INTEGER unix milliseconds (UTC); JSON values
-- (scopes, metadata, last_error, payload) are TEXT holding JSON. Tables are STRICT so a value of
-- the wrong type is refused instead of stored.

CREATE TABLE workspaces (
    id         TEXT    NOT NULL PRIMARY KEY,
    name       TEXT    NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE api_keys (
    id           TEXT    NOT NULL PRIMARY KEY,
    workspace_id TEXT    NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    -- SHA-256 (hex) of the key; the key itself is never stored.
    key_hash     TEXT    NOT NULL,
    prefix       TEXT    NOT NULL,
    created_at   INTEGER NOT NULL
) STRICT;

CREATE UNIQUE INDEX api_keys_key_hash ON api_keys (key_hash);
CREATE INDEX api_keys_workspace_id ON api_keys (workspace_id);

CREATE TABLE oauth_states (
    -- SHA-256 (hex) of the `state` parameter.
    state_hash           TEXT    NOT NULL PRIMARY KEY,
    workspace_id         TEXT    NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    platform             TEXT    NOT NULL,
    owner                TEXT    NOT NULL,
    redirect_uri         TEXT    NOT NULL,
    scopes               TEXT    NOT NULL, -- JSON array of strings
    return_to            TEXT,
    code_verifier_sealed TEXT,
    -- The connection being reconnected. Deliberately not a foreign key: the callback copes with
    -- a connection deleted while its reconnect flow was pending.
    connection_id        TEXT,
    metadata             TEXT    NOT NULL, -- JSON
    created_at           INTEGER NOT NULL,
    expires_at           INTEGER NOT NULL,
    consumed_at          INTEGER
) STRICT;

CREATE INDEX oauth_states_expires_at ON oauth_states (expires_at);
CREATE INDEX oauth_states_workspace_id ON oauth_states (workspace_id);

CREATE TABLE connections (
    id                   TEXT    NOT NULL PRIMARY KEY,
    workspace_id         TEXT    NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    platform             TEXT    NOT NULL,
    owner                TEXT    NOT NULL,
    account_id           TEXT    NOT NULL,
    account_name         TEXT,
    username             TEXT,
    avatar_url           TEXT,
    scopes               TEXT    NOT NULL, -- JSON array of strings
    status               TEXT    NOT NULL,
    access_token_sealed  TEXT    NOT NULL,
    refresh_token_sealed TEXT,
    token_type           TEXT    NOT NULL,
    expires_at           INTEGER,
    refresh_expires_at   INTEGER,
    token_obtained_at    INTEGER NOT NULL,
    last_refreshed_at    INTEGER,
    last_error           TEXT,             -- JSON
    metadata             TEXT    NOT NULL, -- JSON
    version              INTEGER NOT NULL DEFAULT 1,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL,
    -- Refresh worker bookkeeping (not part of the `Connection` record).
    refresh_locked_by    TEXT,
    refresh_locked_until INTEGER,
    refresh_failures     INTEGER NOT NULL DEFAULT 0,
    next_refresh_at      INTEGER,
    last_checked_at      INTEGER,
    UNIQUE (workspace_id, platform, account_id)
) STRICT;

-- Serves the workspace filter and the oldest-first order of list_connections.
CREATE INDEX connections_workspace_id ON connections (workspace_id, created_at, id);

CREATE TABLE events (
    id            TEXT    NOT NULL PRIMARY KEY,
    workspace_id  TEXT    NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    -- Not a foreign key: events outlive deleted connections.
    connection_id TEXT,
    kind          TEXT    NOT NULL,
    payload       TEXT    NOT NULL, -- JSON
    created_at    INTEGER NOT NULL
) STRICT;

CREATE INDEX events_workspace_id_created_at ON events (workspace_id, created_at, id);
