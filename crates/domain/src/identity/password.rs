//! Stored password hashes (placeholder with the agreed names).

/// A stored password hash; `Debug` redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl PasswordHash {
    pub fn parse(s: &str) -> Result<PasswordHash, PasswordError> {
        if s.is_empty() {
            return Err(PasswordError);
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordHash([redacted])")
    }
}

#[derive(Debug, thiserror::Error)]
#[error("the password hash cannot be read")]
pub struct PasswordError;
