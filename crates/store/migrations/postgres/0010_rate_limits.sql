-- Rate limits shared by every instance (issue 7 item 6), PostgreSQL flavour.
-- One counter per (key, fixed window). Rows of past windows are deleted by
-- RateLimitStore::purge_rate_windows. UNLOGGED: counters are worth nothing after a crash, and
-- skipping the WAL keeps the per-window upserts cheap.
CREATE UNLOGGED TABLE rate_limit_windows (
    key          TEXT        NOT NULL,
    window_start TIMESTAMPTZ NOT NULL,
    count        BIGINT      NOT NULL,
    PRIMARY KEY (key, window_start)
);

CREATE INDEX rate_limit_windows_start ON rate_limit_windows (window_start);
