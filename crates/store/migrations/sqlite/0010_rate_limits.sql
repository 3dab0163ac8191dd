-- Rate limits shared by every instance (issue 7 item 6), SQLite flavour.
-- One counter per (key, fixed window); window_start is INTEGER unix milliseconds.
-- Rows of past windows are deleted by RateLimitStore::purge_rate_windows.
CREATE TABLE rate_limit_windows (
    key          TEXT    NOT NULL,
    window_start INTEGER NOT NULL,
    count        INTEGER NOT NULL,
    PRIMARY KEY (key, window_start)
) STRICT, WITHOUT ROWID;

CREATE INDEX rate_limit_windows_start ON rate_limit_windows (window_start);
