//! Keyed MACs (HMAC-SHA256) under the cookie secrets: the first key signs, every key verifies, so
//! secrets rotate without signing anyone out. Each use names its purpose, so a value signed for
//! one purpose never verifies for another.

use crate::secret::Secret;
use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

pub struct MacKeys {
    keys: Vec<hmac::Key>,
}

impl std::fmt::Debug for MacKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MacKeys({} keys, [redacted])", self.keys.len())
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("at least one cookie secret is required")]
pub struct NoKeys;

impl MacKeys {
    /// Keys from the secrets, current first.
    pub fn new(secrets: &[Secret]) -> Result<Self, NoKeys> {
        if secrets.is_empty() {
            return Err(NoKeys);
        }
        Ok(Self {
            keys: secrets
                .iter()
                .map(|s| hmac::Key::new(hmac::HMAC_SHA256, s.expose().as_bytes()))
                .collect(),
        })
    }

    fn input(purpose: &str, message: &[u8]) -> Vec<u8> {
        let mut input = Vec::with_capacity(purpose.len() + 1 + message.len());
        input.extend_from_slice(purpose.as_bytes());
        input.push(0);
        input.extend_from_slice(message);
        input
    }

    /// The tag of `message` for `purpose` under the current key, base64url without padding.
    pub fn sign(&self, purpose: &str, message: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(hmac::sign(&self.keys[0], &Self::input(purpose, message)))
    }

    /// Whether `tag` is the tag of `message` for `purpose` under any key (constant time).
    pub fn verify(&self, purpose: &str, message: &[u8], tag: &str) -> bool {
        let Ok(tag) = URL_SAFE_NO_PAD.decode(tag) else {
            return false;
        };
        let input = Self::input(purpose, message);
        self.keys
            .iter()
            .any(|key| hmac::verify(key, &input, &tag).is_ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(secrets: &[&str]) -> MacKeys {
        MacKeys::new(&secrets.iter().map(|s| Secret::new(*s)).collect::<Vec<_>>()).expect("keys")
    }

    #[test]
    fn verifies_only_the_same_message_and_purpose() {
        let k = keys(&["first-secret"]);
        let tag = k.sign("csrf", b"abc");
        assert!(k.verify("csrf", b"abc", &tag));
        assert!(!k.verify("csrf", b"abd", &tag));
        assert!(!k.verify("logout", b"abc", &tag));
        assert!(!k.verify("csrf", b"abc", "not base64 !"));
        assert!(!keys(&["other-secret"]).verify("csrf", b"abc", &tag));
    }

    #[test]
    fn old_keys_still_verify_after_rotation() {
        let old = keys(&["old-secret"]);
        let rotated = keys(&["new-secret", "old-secret"]);
        let tag = old.sign("csrf", b"abc");
        assert!(rotated.verify("csrf", b"abc", &tag));
        assert_ne!(rotated.sign("csrf", b"abc"), tag);
        assert_eq!(MacKeys::new(&[]).err(), Some(NoKeys));
    }
}
