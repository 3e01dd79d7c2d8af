//! Secrets as types: no `Display`, a redacted `Debug`, constant-time comparison, explicit
//! [`Secret::expose`]. High-entropy tokens are stored as their SHA-256 ([`TokenHash`]).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::fmt;
use subtle::ConstantTimeEq;

/// A secret string (client secret, admin token, registration access token, …).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// A fresh random secret of `bytes` bytes of entropy, base64url without padding.
    pub fn generate(bytes: usize) -> Self {
        Self(random_token(bytes))
    }

    /// The secret itself; every call site is a place where it leaves our control.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> TokenHash {
        TokenHash::of(&self.0)
    }

    /// Constant-time comparison with a presented value.
    pub fn matches(&self, presented: &str) -> bool {
        self.hash().matches(presented)
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_owned()))
    }
}

impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Secret)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// The SHA-256 of a high-entropy token: what the database keeps instead of the token.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash(pub [u8; 32]);

impl TokenHash {
    pub fn of(token: &str) -> Self {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(digest.as_ref());
        Self(out)
    }

    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        <[u8; 32]>::try_from(bytes).ok().map(Self)
    }

    /// Whether `presented` hashes to this value, compared in constant time.
    pub fn matches(&self, presented: &str) -> bool {
        TokenHash::of(presented).0.ct_eq(&self.0).into()
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenHash([redacted])")
    }
}

/// `bytes` random bytes from the system CSPRNG, base64url without padding.
pub fn random_token(bytes: usize) -> String {
    URL_SAFE_NO_PAD.encode(random_bytes(bytes))
}

pub fn random_bytes(len: usize) -> Vec<u8> {
    let mut buf = vec![0u8; len];
    aws_lc_rs::rand::fill(&mut buf)
        .expect("the system random source does not fail once initialised");
    buf
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_secret() {
        let secret = Secret::new("hunter2-hunter2");
        assert_eq!(format!("{secret:?}"), "[redacted]");
        assert!(!format!("{:?}", secret.hash()).contains("hunter2"));
        let parsed: Secret = serde_json::from_str("\"hunter2\"").expect("parses");
        assert_eq!(format!("{:?}", Some(parsed)), "Some([redacted])");
    }

    #[test]
    fn hash_matches_only_the_same_token() {
        let hash = TokenHash::of("abc");
        assert!(hash.matches("abc"));
        assert!(!hash.matches("abd"));
    }

    #[test]
    fn generated_tokens_have_the_requested_entropy() {
        let token = random_token(32);
        assert_eq!(token.len(), 43);
        assert_ne!(token, random_token(32));
    }
}
