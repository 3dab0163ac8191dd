-- Claims take rows whose lease ran out (a holder that died: work already started, already late)
-- before the freshly due ones: `ORDER BY (locked_until IS NULL), <due column>`. These indexes
-- serve that order directly, so a claim reads `limit` index entries instead of sorting the whole
-- backlog (EXPLAIN on PostgreSQL with 180,000 due targets: 489 ms → 0.4 ms per claim).
CREATE INDEX post_targets_claim ON post_targets ((locked_until IS NULL), next_attempt_at)
    WHERE status IN ('scheduled', 'publishing');
CREATE INDEX connections_refresh_claim
    ON connections (platform, (refresh_locked_until IS NULL), expires_at);
