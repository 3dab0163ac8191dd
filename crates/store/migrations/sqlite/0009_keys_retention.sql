-- Key rotation and retention (issue 7 items 4 and 5), SQLite flavour.
--
-- Key ids: every sealed column gets an index on the key id its ciphertext names
-- (`sbv1.<key id>.<data>`; '' for a value that is not a vault ciphertext, NULL for NULL), so the
-- start-up check "does a stored secret name a key this instance lacks?" is a few index range
-- scans and `switchboard keys status` counts from the index. The expression must stay identical
-- to `maintenance::sqlite_key_id_expr` or SQLite will not use the index.

CREATE INDEX connections_access_key_id ON connections ((CASE
    WHEN substr(access_token_sealed, 1, 5) = 'sbv1.'
        THEN substr(access_token_sealed, 6, instr(substr(access_token_sealed, 6), '.') - 1)
    WHEN access_token_sealed IS NOT NULL THEN '' END));
CREATE INDEX connections_refresh_key_id ON connections ((CASE
    WHEN substr(refresh_token_sealed, 1, 5) = 'sbv1.'
        THEN substr(refresh_token_sealed, 6, instr(substr(refresh_token_sealed, 6), '.') - 1)
    WHEN refresh_token_sealed IS NOT NULL THEN '' END));
CREATE INDEX connection_pages_access_key_id ON connection_pages ((CASE
    WHEN substr(access_token_sealed, 1, 5) = 'sbv1.'
        THEN substr(access_token_sealed, 6, instr(substr(access_token_sealed, 6), '.') - 1)
    WHEN access_token_sealed IS NOT NULL THEN '' END));
CREATE INDEX oauth_states_verifier_key_id ON oauth_states ((CASE
    WHEN substr(code_verifier_sealed, 1, 5) = 'sbv1.'
        THEN substr(code_verifier_sealed, 6, instr(substr(code_verifier_sealed, 6), '.') - 1)
    WHEN code_verifier_sealed IS NOT NULL THEN '' END));
CREATE INDEX webhooks_secret_key_id ON webhooks ((CASE
    WHEN substr(secret_sealed, 1, 5) = 'sbv1.'
        THEN substr(secret_sealed, 6, instr(substr(secret_sealed, 6), '.') - 1)
    WHEN secret_sealed IS NOT NULL THEN '' END));

-- Retention scans (workers/retention.rs): each purge walks one of these by age.
CREATE INDEX connections_status_updated_at ON connections (status, updated_at);
CREATE INDEX events_created_at ON events (created_at);
CREATE INDEX audit_log_created_at ON audit_log (created_at);
CREATE INDEX webhook_deliveries_delivered_at ON webhook_deliveries (delivered_at)
    WHERE status = 'delivered';
CREATE INDEX webhook_deliveries_failed_created_at ON webhook_deliveries (created_at)
    WHERE status = 'failed';
CREATE INDEX metric_snapshots_fetched_at ON metric_snapshots (fetched_at);
CREATE INDEX sync_jobs_finished_at ON sync_jobs (finished_at)
    WHERE finished_at IS NOT NULL;
CREATE INDEX connect_batches_expires_at ON connect_batches (expires_at);
