//! Scope values (RFC 6749 §3.3): space-delimited, case-sensitive, each made of
//! `%x21 / %x23-5B / %x5D-7E`.

use std::collections::BTreeSet;
use std::fmt;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ScopeError {
    #[error("scope token {0:?} contains characters RFC 6749 §3.3 does not allow")]
    InvalidToken(String),
}

/// Whether `token` is one scope token: non-empty, every byte `%x21 / %x23-5B / %x5D-7E` (so no
/// space, quote or backslash).
pub fn is_scope_token(token: &str) -> bool {
    !token.is_empty()
        && token
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
}

/// A set of scope tokens, in a stable order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope(BTreeSet<String>);

impl Scope {
    /// Parses a space-delimited scope string. Repeated tokens collapse into one.
    pub fn parse(value: &str) -> Result<Self, ScopeError> {
        let mut set = BTreeSet::new();
        for token in value.split(' ').filter(|t| !t.is_empty()) {
            if !is_scope_token(token) {
                return Err(ScopeError::InvalidToken(token.to_owned()));
            }
            set.insert(token.to_owned());
        }
        Ok(Self(set))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, token: &str) -> bool {
        self.0.contains(token)
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    /// The first token of `self` that `allowed` does not contain.
    pub fn first_not_in<'a>(&'a self, allowed: &Scope) -> Option<&'a str> {
        self.iter().find(|t| !allowed.contains(t))
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for token in &self.0 {
            if !first {
                f.write_str(" ")?;
            }
            f.write_str(token)?;
            first = false;
        }
        Ok(())
    }
}

impl serde::Serialize for Scope {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Scope {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = String::deserialize(deserializer)?;
        Scope::parse(&value).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_normalises_scope_strings() {
        let scope = Scope::parse("write  read read").expect("valid");
        assert_eq!(scope.to_string(), "read write");
        assert!(Scope::parse("").expect("valid").is_empty());
    }

    #[test]
    fn rejects_quotes_and_backslashes() {
        assert!(Scope::parse("a\"b").is_err());
        assert!(Scope::parse("a\\b").is_err());
        assert!(Scope::parse("caf\u{e9}").is_err());
    }

    #[test]
    fn finds_the_first_scope_outside_the_allowed_set() {
        let allowed = Scope::parse("read write").expect("valid");
        assert_eq!(
            Scope::parse("read admin")
                .expect("valid")
                .first_not_in(&allowed),
            Some("admin")
        );
        assert_eq!(
            Scope::parse("read").expect("valid").first_not_in(&allowed),
            None
        );
    }
}
