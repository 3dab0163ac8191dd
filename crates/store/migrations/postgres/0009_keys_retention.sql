-- Key rotation and retention (issue 7 items 4 and 5), PostgreSQL flavour.
--
-- Key ids: every sealed column gets an index on the key id its ciphertext names
-- (`sbv1.<key id>.<data>`; '' for a value that is not a vault ciphertext, NULL for NULL), so the
-- start-up check "does a stored secret name a key this instance lacks?" is a few index range
-- scans. The expression must stay identical to `maintenance::postgres_key_id_expr` or the
-- planner will not use the index.

CREATE INDEX connections_access_key_id ON connections ((CASE
    WHEN left(access_token_sealed, 5) = 'sbv1.' THEN split_part(access_token_sealed, '.', 2)
    WHEN access_token_sealed IS NOT NULL THEN '' END));
CREATE INDEX connections_refresh_key_id ON connections ((CASE
    WHEN left(refresh_token_sealed, 5) = 'sbv1.' THEN split_part(refresh_token_sealed, '.', 2)
    WHEN refresh_token_sealed IS NOT NULL THEN '' END));
CREATE INDEX connection_pages_access_key_id ON connection_pages ((CASE
    WHEN left(access_token_sealed, 5) = 'sbv1.' THEN split_part(access_token_sealed, '.', 2)
    WHEN access_token_sealed IS NOT NULL THEN '' END));
CREATE INDEX oauth_states_verifier_key_id ON oauth_states ((CASE
    WHEN left(code_verifier_sealed, 5) = 'sbv1.' THEN split_part(code_verifier_sealed, '.', 2)
    WHEN code_verifier_sealed IS NOT NULL THEN '' END));
CREATE INDEX webhooks_secret_key_id ON webhooks ((CASE
    WHEN left(secret_sealed, 5) = 'sbv1.' THEN split_part(secret_sealed, '.', 2)
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
