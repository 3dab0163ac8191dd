-- The refresh worker's queue: per-day attempt bound and the expiry warning marker.
ALTER TABLE connections ADD COLUMN refresh_attempts_day BIGINT NOT NULL DEFAULT 0;
ALTER TABLE connections ADD COLUMN refresh_attempts_today INTEGER NOT NULL DEFAULT 0;
ALTER TABLE connections ADD COLUMN expiry_warned_at TIMESTAMPTZ NULL;
CREATE INDEX connections_platform_expiry ON connections (platform, expires_at);
