-- Facebook Pages of a connection (the person chooses which to use), PostgreSQL flavour.

CREATE TABLE connection_pages (
    connection_id       TEXT        NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    page_id             TEXT        NOT NULL,
    name                TEXT        NOT NULL,
    tasks               TEXT[]      NOT NULL,
    position            BIGINT      NOT NULL,
    selected            BOOLEAN     NOT NULL DEFAULT FALSE,
    status              TEXT        NOT NULL,
    -- Vault ciphertext, context page:<connection id>:<page id>:access_token; chosen Pages only.
    access_token_sealed TEXT,
    last_error          JSONB,
    last_checked_at     TIMESTAMPTZ,
    created_at          TIMESTAMPTZ NOT NULL,
    updated_at          TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (connection_id, page_id)
);
