-- Facebook Pages of a connection (the person chooses which to use), SQLite flavour.
-- Timestamps are INTEGER unix milliseconds; JSON is TEXT.

CREATE TABLE connection_pages (
    connection_id       TEXT    NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    page_id             TEXT    NOT NULL,
    name                TEXT    NOT NULL,
    tasks               TEXT    NOT NULL, -- JSON array of strings
    position            INTEGER NOT NULL,
    selected            INTEGER NOT NULL DEFAULT 0, -- 0 or 1
    status              TEXT    NOT NULL,
    -- Vault ciphertext, context page:<connection id>:<page id>:access_token; chosen Pages only.
    access_token_sealed TEXT,
    last_error          TEXT,             -- JSON diagnosis
    last_checked_at     INTEGER,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    PRIMARY KEY (connection_id, page_id)
) STRICT;
