//! Encryption of secrets at rest (signing keys today; provider secrets later).
//!
//! AES-256-GCM with a key derived from each configured cipher secret. The first secret encrypts;
//! every secret in the list may decrypt, so operators rotate by prepending a new secret and keeping
//! the old one until everything has been re-encrypted. The caller's `context` is bound as
//! associated data, so a ciphertext cannot be moved to another row.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use std::fmt;

const VERSION: u8 = 1;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CipherError {
    #[error("no cipher secret configured")]
    NoSecrets,
    #[error("a cipher secret must be at least 32 characters")]
    SecretTooShort,
    #[error("ciphertext cannot be decrypted with any configured cipher secret")]
    Undecryptable,
}

pub struct Cipher {
    keys: Vec<LessSafeKey>,
}

impl fmt::Debug for Cipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cipher({} keys, [redacted])", self.keys.len())
    }
}

impl Cipher {
    /// Builds a cipher from the configured secrets, current first.
    pub fn new<S: AsRef<str>>(secrets: &[S]) -> Result<Self, CipherError> {
        if secrets.is_empty() {
            return Err(CipherError::NoSecrets);
        }
        let mut keys = Vec::with_capacity(secrets.len());
        for secret in secrets {
            let secret = secret.as_ref();
            if secret.len() < 32 {
                return Err(CipherError::SecretTooShort);
            }
            let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
            ctx.update(b"gatehouse cipher v1\0");
            ctx.update(secret.as_bytes());
            let digest = ctx.finish();
            let unbound = UnboundKey::new(&AES_256_GCM, digest.as_ref())
                .expect("a SHA-256 digest is exactly an AES-256 key");
            keys.push(LessSafeKey::new(unbound));
        }
        Ok(Self { keys })
    }

    pub fn encrypt(&self, context: &str, plaintext: &[u8]) -> Vec<u8> {
        let nonce_bytes = crate::secret::random_bytes(NONCE_LEN);
        let nonce =
            Nonce::try_assume_unique_for_key(&nonce_bytes).expect("nonce has the right length");
        let mut in_out = plaintext.to_vec();
        self.keys[0]
            .seal_in_place_append_tag(nonce, Aad::from(context.as_bytes()), &mut in_out)
            .expect("AES-GCM sealing cannot fail for inputs under 64 GiB");
        let mut out = Vec::with_capacity(1 + NONCE_LEN + in_out.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce_bytes);
        out.extend_from_slice(&in_out);
        out
    }

    pub fn decrypt(&self, context: &str, sealed: &[u8]) -> Result<Vec<u8>, CipherError> {
        if sealed.len() < 1 + NONCE_LEN || sealed[0] != VERSION {
            return Err(CipherError::Undecryptable);
        }
        let nonce_bytes = &sealed[1..1 + NONCE_LEN];
        for key in &self.keys {
            let nonce = Nonce::try_assume_unique_for_key(nonce_bytes)
                .map_err(|_| CipherError::Undecryptable)?;
            let mut in_out = sealed[1 + NONCE_LEN..].to_vec();
            if let Ok(plain) = key.open_in_place(nonce, Aad::from(context.as_bytes()), &mut in_out)
            {
                return Ok(plain.to_vec());
            }
        }
        Err(CipherError::Undecryptable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "0123456789abcdef0123456789abcdef-a";
    const B: &str = "0123456789abcdef0123456789abcdef-b";

    #[test]
    fn round_trips_and_binds_the_context() {
        let cipher = Cipher::new(&[A]).expect("valid secret");
        let sealed = cipher.encrypt("key:1", b"private");
        assert_eq!(
            cipher.decrypt("key:1", &sealed).expect("decrypts"),
            b"private"
        );
        assert_eq!(
            cipher.decrypt("key:2", &sealed),
            Err(CipherError::Undecryptable)
        );
    }

    #[test]
    fn old_secrets_still_decrypt_after_rotation() {
        let old = Cipher::new(&[A]).expect("valid secret");
        let sealed = old.encrypt("ctx", b"data");
        let rotated = Cipher::new(&[B, A]).expect("valid secrets");
        assert_eq!(rotated.decrypt("ctx", &sealed).expect("decrypts"), b"data");
        let only_new = Cipher::new(&[B]).expect("valid secret");
        assert_eq!(
            only_new.decrypt("ctx", &sealed),
            Err(CipherError::Undecryptable)
        );
    }

    #[test]
    fn refuses_short_or_missing_secrets() {
        assert_eq!(
            Cipher::new(&["short"]).err(),
            Some(CipherError::SecretTooShort)
        );
        assert_eq!(Cipher::new::<&str>(&[]).err(), Some(CipherError::NoSecrets));
    }
}
