-- The "create in flight" marker of a post target (issue 4, exactly once), PostgreSQL flavour.
-- Set by the dispatcher, durably, just before it sends a non-repeatable create call (the one
-- that makes the item public); cleared by the next write that records what came of it. A
-- target resumed with the marker set (its holder crashed) is never re-sent blindly: the
-- dispatcher asks the platform whether the item exists (`Publisher::check`).
ALTER TABLE post_targets ADD COLUMN create_attempt BIGINT;       -- the attempt (1-based) that sent it
ALTER TABLE post_targets ADD COLUMN create_sent_at TIMESTAMPTZ;
