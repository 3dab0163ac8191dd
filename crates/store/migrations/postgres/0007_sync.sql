-- Analytics sync (issue 4 item 6), PostgreSQL flavour.
-- Conventions as in 0001: timestamps are timestamptz, JSON is jsonb.

-- One run of the metrics sync of a workspace. At most one queued or running job per workspace
-- (partial unique index), claimed with a lease (`locked_by`, `locked_until`).
CREATE TABLE sync_jobs (
    id           TEXT    NOT NULL PRIMARY KEY,
    workspace_id TEXT    NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    status       TEXT    NOT NULL CHECK (status IN
                     ('queued', 'running', 'succeeded', 'partial', 'failed')),
    steps_total  BIGINT  NOT NULL DEFAULT 0,
    steps_done   BIGINT  NOT NULL DEFAULT 0,
    errors       JSONB   NOT NULL DEFAULT '[]', -- JSON array of {target_id, post_id, platform, diagnosis}
    locked_by    TEXT,
    locked_until TIMESTAMPTZ,
    created_at   TIMESTAMPTZ NOT NULL,
    started_at   TIMESTAMPTZ,
    finished_at  TIMESTAMPTZ
);

CREATE UNIQUE INDEX sync_jobs_one_active ON sync_jobs (workspace_id)
    WHERE status IN ('queued', 'running');
CREATE INDEX sync_jobs_workspace_created ON sync_jobs (workspace_id, created_at);
CREATE INDEX sync_jobs_claim ON sync_jobs (status, created_at);

-- Metrics of one published target as read by one job.
CREATE TABLE metric_snapshots (
    id           TEXT    NOT NULL PRIMARY KEY,
    job_id       TEXT    NOT NULL REFERENCES sync_jobs (id) ON DELETE CASCADE,
    workspace_id TEXT    NOT NULL,
    target_id    TEXT    NOT NULL REFERENCES post_targets (id) ON DELETE CASCADE,
    platform     TEXT    NOT NULL,
    fetched_at   TIMESTAMPTZ NOT NULL,
    metrics      JSONB   NOT NULL -- JSON of switchboard_publish::Metrics
);

CREATE INDEX metric_snapshots_target ON metric_snapshots (target_id, fetched_at);
CREATE INDEX metric_snapshots_job ON metric_snapshots (job_id);

-- The last sync outcome per workspace and platform.
CREATE TABLE platform_sync (
    workspace_id   TEXT    NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    platform       TEXT    NOT NULL,
    job_id         TEXT    NOT NULL,
    status         TEXT    NOT NULL,
    message        TEXT,
    last_synced_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (workspace_id, platform)
);
