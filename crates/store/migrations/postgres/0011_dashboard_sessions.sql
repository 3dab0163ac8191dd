-- Dashboard sessions ended by sign-out (issue 6), PostgreSQL flavour. The session itself lives in
-- a sealed cookie; a signed-out session's id (SHA-256 hex) is kept here until the cookie would
-- have expired anyway, so a copied cookie stops working at sign-out.
-- Conventions as in 0001: timestamps are timestamptz.

CREATE TABLE dashboard_signed_out (
    session_hash TEXT        NOT NULL PRIMARY KEY,
    expires_at   TIMESTAMPTZ NOT NULL
);

CREATE INDEX dashboard_signed_out_expires_at ON dashboard_signed_out (expires_at);
