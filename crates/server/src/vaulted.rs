//! Sealing and opening the secrets of stored rows. The associated data names the row and field,
//! so a ciphertext copied into another row or field does not open.

use secrecy::{ExposeSecret, SecretString};
use switchboard_core::TokenSet;
use switchboard_store::Connection;
use switchboard_vault::{Keyring, VaultError};

use crate::error::ApiError;

/// Context of a connection's access token.
pub fn access_context(connection_id: &str) -> String {
    format!("connection:{connection_id}:access_token")
}

/// Context of a connection's refresh token.
pub fn refresh_context(connection_id: &str) -> String {
    format!("connection:{connection_id}:refresh_token")
}

/// Context of a pending authorization's PKCE code_verifier.
pub fn verifier_context(state_hash: &str) -> String {
    format!("oauth_state:{state_hash}:code_verifier")
}

/// Context of a bulk connect session's authorization URL (it carries the OAuth state), keyed by
/// the state's hash like the session row.
pub fn bulk_url_context(state_hash: &str) -> String {
    format!("bulk_session:{state_hash}:authorization_url")
}

/// Seals a token set for a connection: `(access_token_sealed, refresh_token_sealed)`.
pub fn seal_tokens(
    keyring: &Keyring,
    connection_id: &str,
    tokens: &TokenSet,
) -> (String, Option<String>) {
    let access = keyring.seal(
        &access_context(connection_id),
        tokens.access_token.expose_secret(),
    );
    let refresh = tokens
        .refresh_token
        .as_ref()
        .map(|r| keyring.seal(&refresh_context(connection_id), r.expose_secret()));
    (access, refresh)
}

fn vault_problem(conn: &Connection, e: VaultError) -> ApiError {
    tracing::error!(connection_id = %conn.id, error = %e, "stored token cannot be opened");
    ApiError::new(
        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
        "stored-secret-unreadable",
        "A stored secret cannot be decrypted",
        format!(
            "the stored token of connection {} cannot be decrypted: {e}",
            conn.id
        ),
    )
}

/// Opens a connection's access token.
///
/// # Errors
/// A 500 problem `stored-secret-unreadable` when the ciphertext was altered, moved from another
/// row, or names a key this instance does not have.
pub fn open_access(keyring: &Keyring, conn: &Connection) -> Result<SecretString, ApiError> {
    keyring
        .open(&access_context(&conn.id), &conn.access_token_sealed)
        .map_err(|e| vault_problem(conn, e))
}

/// Opens a connection's refresh token, if it has one.
///
/// # Errors
/// As [`open_access`].
pub fn open_refresh(
    keyring: &Keyring,
    conn: &Connection,
) -> Result<Option<SecretString>, ApiError> {
    conn.refresh_token_sealed
        .as_deref()
        .map(|s| {
            keyring
                .open(&refresh_context(&conn.id), s)
                .map_err(|e| vault_problem(conn, e))
        })
        .transpose()
}
