//! Small conversions shared by both backends: JSON columns and their error messages.

use serde::de::DeserializeOwned;

use crate::{StoreError, StoreResult};

/// Decodes a JSON column; a value that is not JSON of the expected shape is
/// [`StoreError::Corrupt`], naming the column (`table.column`).
pub(crate) fn from_json<T: DeserializeOwned>(text: &str, column: &str) -> StoreResult<T> {
    serde_json::from_str(text).map_err(|error| {
        StoreError::Corrupt(format!("{column} does not hold the expected JSON: {error}"))
    })
}

/// Decodes a nullable JSON column.
pub(crate) fn from_json_opt<T: DeserializeOwned>(
    text: Option<&str>,
    column: &str,
) -> StoreResult<Option<T>> {
    text.map(|text| from_json(text, column)).transpose()
}

/// Encodes a list of scopes as a JSON array (for the SQLite TEXT columns).
pub(crate) fn scopes_to_json(scopes: &[String]) -> String {
    serde_json::Value::from(scopes).to_string()
}
