//! The token vault: every secret Switchboard stores is sealed with AES-256-GCM.
//!
//! A sealed value is the text `sbv1.<key id>.<base64url(nonce ‖ ciphertext ‖ tag)>`: the key id
//! says which key opens it, so keys can rotate while old ciphertexts stay readable. The associated
//! data is a context string naming the row and field (`connection:<id>:access_token`), so a
//! ciphertext copied into another row or field fails to open instead of leaking a token there.
//!
//! Keys are 32 random bytes written `<key id>:<base64 key>`; `switchboard keygen` makes one. A
//! keyring holds several, one of them active (the one that seals).

use std::collections::BTreeMap;
use std::fmt;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};

const PREFIX: &str = "sbv1";
const NONCE_LEN: usize = 12;

/// Vault failures. None of them carries plaintext or key material.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VaultError {
    /// A key specification could not be read.
    #[error("encryption key {index}: {reason}")]
    BadKey {
        /// Position in the list (1-based).
        index: usize,
        /// What is wrong.
        reason: String,
    },
    /// The keyring is empty.
    #[error("no encryption key configured: set SWITCHBOARD_KEYS (make one with `switchboard keygen`) or start with --dev")]
    NoKeys,
    /// The active key id is not in the keyring.
    #[error("active key {0:?} is not among the configured keys")]
    UnknownActive(String),
    /// The stored value is not a vault ciphertext.
    #[error("stored value is not a sealed secret")]
    Malformed,
    /// The ciphertext names a key this instance does not have.
    #[error("stored secret was sealed with key {0:?}, which is not configured")]
    MissingKey(String),
    /// Authentication failed: wrong key, tampered ciphertext, or a ciphertext moved to another
    /// row or field.
    #[error("stored secret failed authentication for {context}: it was altered or does not belong to this record")]
    Tampered {
        /// The row and field it was opened for.
        context: String,
    },
}

/// One AES-256 key with its id.
struct Key {
    id: String,
    cipher: Aes256Gcm,
    /// The key bytes, only for [`Keyring::derive_key`] (never sealed with directly).
    raw: [u8; 32],
}

/// A set of keys, one active. Cloning is cheap enough for startup; share it behind an `Arc`.
pub struct Keyring {
    keys: BTreeMap<String, Key>,
    active: String,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("key_ids", &self.keys.keys().collect::<Vec<_>>())
            .field("active", &self.active)
            .finish()
    }
}

/// Makes a new key specification `<id>:<base64 of 32 random bytes>`.
pub fn generate_key_spec() -> String {
    let mut key = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut key);
    let mut id = [0u8; 4];
    rand::thread_rng().fill_bytes(&mut id);
    let id: String = id.iter().map(|b| format!("{b:02x}")).collect();
    format!("k{id}:{}", STANDARD.encode(key))
}

impl Keyring {
    /// Parses `id:base64,id:base64,...` (commas, whitespace or newlines between keys). The active
    /// key is `active` when given, otherwise the first one.
    ///
    /// # Errors
    /// [`VaultError::BadKey`] naming the position and what is wrong, [`VaultError::NoKeys`],
    /// [`VaultError::UnknownActive`].
    pub fn parse(specs: &str, active: Option<&str>) -> Result<Self, VaultError> {
        let mut keys = BTreeMap::new();
        let mut first = None;
        for (i, spec) in specs
            .split([',', '\n', ' ', '\t', ';'])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .enumerate()
        {
            let index = i + 1;
            let (id, b64) = spec.split_once(':').ok_or(VaultError::BadKey {
                index,
                reason: "expected <key id>:<base64 key>".into(),
            })?;
            if id.is_empty()
                || !id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(VaultError::BadKey {
                    index,
                    reason: "key id must be letters, digits, '-' or '_'".into(),
                });
            }
            let bytes = STANDARD
                .decode(b64.trim())
                .or_else(|_| URL_SAFE_NO_PAD.decode(b64.trim()))
                .map_err(|_| VaultError::BadKey {
                    index,
                    reason: "key is not valid base64".into(),
                })?;
            if bytes.len() != 32 {
                return Err(VaultError::BadKey {
                    index,
                    reason: format!("key must be 32 bytes, got {}", bytes.len()),
                });
            }
            let cipher = Aes256Gcm::new_from_slice(&bytes).map_err(|_| VaultError::BadKey {
                index,
                reason: "key rejected by AES-256-GCM".into(),
            })?;
            if keys.contains_key(id) {
                return Err(VaultError::BadKey {
                    index,
                    reason: format!("key id {id} appears twice"),
                });
            }
            first.get_or_insert_with(|| id.to_string());
            keys.insert(
                id.to_string(),
                Key {
                    id: id.to_string(),
                    cipher,
                    raw: bytes.as_slice().try_into().expect("checked: 32 bytes"),
                },
            );
        }
        let first = first.ok_or(VaultError::NoKeys)?;
        let active = match active.map(str::trim).filter(|s| !s.is_empty()) {
            Some(a) if keys.contains_key(a) => a.to_string(),
            Some(a) => return Err(VaultError::UnknownActive(a.to_string())),
            None => first,
        };
        Ok(Keyring { keys, active })
    }

    /// A keyring with one freshly generated key, for `--dev` and tests.
    pub fn ephemeral() -> Self {
        Keyring::parse(&generate_key_spec(), None).expect("generated key parses")
    }

    /// The id of the key that seals new values.
    pub fn active_id(&self) -> &str {
        &self.active
    }

    /// Ids of all configured keys.
    pub fn key_ids(&self) -> Vec<String> {
        self.keys.keys().cloned().collect()
    }

    /// A 256-bit key for another use than sealing (signing media URLs...), derived from the key
    /// `key_id` and `purpose`: HMAC-SHA256(key, `"switchboard-vault-derive:" + purpose`). The
    /// same key id and purpose give the same bytes in every process sharing the keyring, and
    /// different purposes give unrelated keys. `None` when the keyring has no such key.
    pub fn derive_key(&self, key_id: &str, purpose: &str) -> Option<[u8; 32]> {
        use hmac::{Hmac, Mac};
        let key = self.keys.get(key_id)?;
        let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(&key.raw)
            .expect("HMAC takes any key length");
        mac.update(b"switchboard-vault-derive:");
        mac.update(purpose.as_bytes());
        Some(mac.finalize().into_bytes().into())
    }

    /// Seals `plaintext` for `context` (the row and field, e.g. `connection:<id>:access_token`).
    pub fn seal(&self, context: &str, plaintext: &str) -> String {
        let key = &self.keys[&self.active];
        let mut nonce = [0u8; NONCE_LEN];
        rand::thread_rng().fill_bytes(&mut nonce);
        let ct = key
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: context.as_bytes(),
                },
            )
            .expect("AES-GCM encryption of an in-memory buffer cannot fail");
        let mut blob = Vec::with_capacity(NONCE_LEN + ct.len());
        blob.extend_from_slice(&nonce);
        blob.extend_from_slice(&ct);
        format!("{PREFIX}.{}.{}", key.id, URL_SAFE_NO_PAD.encode(blob))
    }

    /// Opens a sealed value for `context`.
    ///
    /// # Errors
    /// [`VaultError::Malformed`], [`VaultError::MissingKey`], or [`VaultError::Tampered`] when the
    /// value was altered or sealed for another context.
    pub fn open(&self, context: &str, sealed: &str) -> Result<SecretString, VaultError> {
        let kid = key_id_of(sealed).ok_or(VaultError::Malformed)?;
        let key = self
            .keys
            .get(kid)
            .ok_or_else(|| VaultError::MissingKey(kid.to_string()))?;
        let b64 = sealed.rsplit('.').next().ok_or(VaultError::Malformed)?;
        let blob = URL_SAFE_NO_PAD
            .decode(b64)
            .map_err(|_| VaultError::Malformed)?;
        if blob.len() < NONCE_LEN + 16 {
            return Err(VaultError::Malformed);
        }
        let (nonce, ct) = blob.split_at(NONCE_LEN);
        let pt = key
            .cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ct,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| VaultError::Tampered {
                context: context.to_string(),
            })?;
        let s = String::from_utf8(pt).map_err(|_| VaultError::Malformed)?;
        Ok(SecretString::from(s))
    }

    /// Re-seals `sealed` with the active key when another key sealed it. Returns `None` when it
    /// is already sealed with the active key.
    ///
    /// # Errors
    /// As [`Keyring::open`].
    pub fn reseal(&self, context: &str, sealed: &str) -> Result<Option<String>, VaultError> {
        if key_id_of(sealed) == Some(self.active.as_str()) {
            return Ok(None);
        }
        let plain = self.open(context, sealed)?;
        Ok(Some(self.seal(context, plain.expose_secret())))
    }
}

/// The key id a sealed value names, or `None` when it is not a vault ciphertext.
pub fn key_id_of(sealed: &str) -> Option<&str> {
    let mut parts = sealed.splitn(3, '.');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(PREFIX), Some(kid), Some(_)) if !kid.is_empty() => Some(kid),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_keys_are_stable_per_key_and_purpose() {
        let spec = generate_key_spec();
        let a = Keyring::parse(&spec, None).unwrap();
        let b = Keyring::parse(&format!("{spec},{}", generate_key_spec()), None).unwrap();
        let id = a.active_id().to_string();
        let k = a.derive_key(&id, "media-url").unwrap();
        assert_eq!(
            b.derive_key(&id, "media-url"),
            Some(k),
            "same key, same bytes"
        );
        assert_ne!(a.derive_key(&id, "other").unwrap(), k);
        let other = Keyring::ephemeral();
        assert_ne!(other.derive_key(other.active_id(), "media-url").unwrap(), k);
        assert_eq!(a.derive_key("nope", "media-url"), None);
    }

    #[test]
    fn seal_open_round_trip_and_context_binding() {
        let k = Keyring::ephemeral();
        let s = k.seal("connection:a:access_token", "tok-123");
        assert!(s.starts_with("sbv1."));
        assert!(!s.contains("tok-123"));
        assert_eq!(
            k.open("connection:a:access_token", &s)
                .unwrap()
                .expose_secret(),
            "tok-123"
        );
        assert!(matches!(
            k.open("connection:b:access_token", &s),
            Err(VaultError::Tampered { .. })
        ));
        assert!(matches!(
            k.open("connection:a:refresh_token", &s),
            Err(VaultError::Tampered { .. })
        ));
    }

    #[test]
    fn rotation_keeps_old_values_readable() {
        let old = generate_key_spec();
        let new = generate_key_spec();
        let k1 = Keyring::parse(&old, None).unwrap();
        let sealed = k1.seal("ctx", "secret");
        let new_id = new.split(':').next().unwrap().to_string();
        let k2 = Keyring::parse(&format!("{old},{new}"), Some(&new_id)).unwrap();
        assert_eq!(k2.open("ctx", &sealed).unwrap().expose_secret(), "secret");
        let resealed = k2.reseal("ctx", &sealed).unwrap().unwrap();
        assert_eq!(key_id_of(&resealed), Some(new_id.as_str()));
        assert_eq!(k2.reseal("ctx", &resealed).unwrap(), None);
        let only_new = Keyring::parse(&new, None).unwrap();
        assert!(matches!(
            only_new.open("ctx", &sealed),
            Err(VaultError::MissingKey(_))
        ));
    }

    #[test]
    fn bad_specs_are_explained() {
        assert_eq!(Keyring::parse("", None).unwrap_err(), VaultError::NoKeys);
        assert!(matches!(
            Keyring::parse("k1:short", None),
            Err(VaultError::BadKey { index: 1, .. })
        ));
        assert!(matches!(
            Keyring::parse("nocolon", None),
            Err(VaultError::BadKey { .. })
        ));
        let spec = generate_key_spec();
        assert!(matches!(
            Keyring::parse(&spec, Some("other")),
            Err(VaultError::UnknownActive(_))
        ));
        let dbg = format!("{:?}", Keyring::parse(&spec, None).unwrap());
        assert!(!dbg.contains(spec.split(':').nth(1).unwrap()));
    }
}
