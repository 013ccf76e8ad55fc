//! Sealing connector secrets at rest: XChaCha20-Poly1305 under a key derived from the
//! configured `ORDO_SECRET_KEY`. A sealed value is base64 of a random nonce and the ciphertext;
//! it opens only under the same key, and any change to it is detected.

use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use sha2::{Digest, Sha256};

/// The shortest key text accepted.
pub const MIN_KEY_LEN: usize = 32;

/// The key connector secrets are sealed with. Its text is never kept, only the derived key.
#[derive(Clone)]
pub struct SecretKey(XChaCha20Poly1305);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(…)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("the secret key must be at least {MIN_KEY_LEN} characters")]
    TooShort,
    #[error("a sealed secret could not be opened: another key sealed it, or it was changed")]
    CannotOpen,
    #[error("the system's random source failed: {0}")]
    Random(String),
}

impl SecretKey {
    /// The key from its configured text (at least [`MIN_KEY_LEN`] characters).
    pub fn from_text(text: &str) -> Result<SecretKey, SecretError> {
        if text.chars().count() < MIN_KEY_LEN {
            return Err(SecretError::TooShort);
        }
        let digest = Sha256::new_with_prefix(b"ordo connector secrets v1\0").chain_update(text.as_bytes()).finalize();
        let key: [u8; 32] = digest.into();
        Ok(SecretKey(XChaCha20Poly1305::new(&key.into())))
    }

    pub fn seal(&self, plain: &str) -> Result<String, SecretError> {
        let mut nonce = [0u8; 24];
        getrandom::fill(&mut nonce).map_err(|e| SecretError::Random(e.to_string()))?;
        let sealed = self.0.encrypt(XNonce::from_slice(&nonce), plain.as_bytes()).map_err(|_| SecretError::CannotOpen)?;
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
    }

    pub fn open(&self, sealed: &str) -> Result<String, SecretError> {
        let bytes = base64::engine::general_purpose::STANDARD.decode(sealed).map_err(|_| SecretError::CannotOpen)?;
        if bytes.len() < 24 {
            return Err(SecretError::CannotOpen);
        }
        let (nonce, ciphertext) = bytes.split_at(24);
        let plain = self.0.decrypt(XNonce::from_slice(nonce), ciphertext).map_err(|_| SecretError::CannotOpen)?;
        String::from_utf8(plain).map_err(|_| SecretError::CannotOpen)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn sealed_secrets_open_only_under_their_key_and_unchanged() {
        let key = SecretKey::from_text("correct horse battery staple, and more").unwrap();
        let sealed = key.seal("shpss_0123456789").unwrap();
        assert!(!sealed.contains("shpss"));
        assert_ne!(sealed, key.seal("shpss_0123456789").unwrap(), "a fresh nonce every time");
        assert_eq!(key.open(&sealed).unwrap(), "shpss_0123456789");
        let other = SecretKey::from_text("another key that is long enough too").unwrap();
        assert_eq!(other.open(&sealed), Err(SecretError::CannotOpen));
        let mut bytes = base64::engine::general_purpose::STANDARD.decode(&sealed).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert_eq!(key.open(&base64::engine::general_purpose::STANDARD.encode(bytes)), Err(SecretError::CannotOpen));
        assert_eq!(SecretKey::from_text("short").unwrap_err(), SecretError::TooShort);
    }
}
