-- Webhook endpoints, their deliveries, and the audit log (PostgreSQL flavour).
--
-- Conventions as in 0001: ids are UUID text; timestamps are timestamptz; JSON values are jsonb;
-- lists are text[].

CREATE TABLE webhooks (
    id            TEXT        NOT NULL PRIMARY KEY,
    workspace_id  TEXT        NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    -- Absolute http(s) URL the deliveries are POSTed to.
    url           TEXT        NOT NULL,
    -- Event types; an empty array means every type.
    events        TEXT[]      NOT NULL,
    description   TEXT,
    -- The signing secret, sealed by the vault (context `webhook:<id>:secret`).
    secret_sealed TEXT        NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL
);

CREATE INDEX webhooks_workspace_id ON webhooks (workspace_id, created_at, id);

CREATE TABLE webhook_deliveries (
    id               TEXT        NOT NULL PRIMARY KEY,
    -- Deleting an endpoint drops its deliveries, pending ones included.
    webhook_id       TEXT        NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    workspace_id     TEXT        NOT NULL,
    -- Not a foreign key: the event log is append-only and never joined here.
    event_id         TEXT        NOT NULL,
    event_type       TEXT        NOT NULL,
    -- The exact JSON body sent on every attempt (text, not jsonb, so the bytes never change).
    body             TEXT        NOT NULL,
    status           TEXT        NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts         INTEGER     NOT NULL DEFAULT 0,
    last_status_code INTEGER,
    last_error       TEXT,
    next_attempt_at  TIMESTAMPTZ NOT NULL,
    delivered_at     TIMESTAMPTZ,
    created_at       TIMESTAMPTZ NOT NULL,
    -- Lease of the worker instance sending it.
    locked_by        TEXT,
    locked_until     TIMESTAMPTZ,
    CONSTRAINT webhook_deliveries_event_key UNIQUE (webhook_id, event_id)
);

-- The worker's scan: pending deliveries by due time.
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at)
    WHERE status = 'pending';
-- Newest-first listing per endpoint.
CREATE INDEX webhook_deliveries_webhook_id ON webhook_deliveries (webhook_id, created_at, id);

CREATE TABLE audit_log (
    id            TEXT        NOT NULL PRIMARY KEY,
    workspace_id  TEXT        NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    -- Not a foreign key: the audit trail outlives deleted connections.
    connection_id TEXT,
    -- `api_key:<key id>`, `oauth_callback`, `system:refresh`.
    actor         TEXT        NOT NULL,
    action        TEXT        NOT NULL,
    details       JSONB       NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL
);

CREATE INDEX audit_log_workspace_id ON audit_log (workspace_id, created_at, id);
CREATE INDEX audit_log_connection_id ON audit_log (workspace_id, connection_id, created_at, id);
