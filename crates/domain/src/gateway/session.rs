//! [`AuthenticationSession`]: who an authenticator says the caller is (Oathkeeper's name for it):
//! a subject and the claims that came with the credential.

use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq, Default)]
pub struct AuthenticationSession {
    pub subject: String,
    pub claims: Map<String, Value>,
}

impl AuthenticationSession {
    /// A session from a subject and a JSON object of claims (anything else counts as no claims).
    pub fn new(subject: impl Into<String>, claims: Value) -> Self {
        Self {
            subject: subject.into(),
            claims: match claims {
                Value::Object(map) => map,
                _ => Map::new(),
            },
        }
    }

    /// The claim at a dotted path (`org.id` is `claims["org"]["id"]`).
    pub fn claim<'a>(&self, mut path: impl Iterator<Item = &'a str>) -> Option<&Value> {
        let mut value = self.claims.get(path.next()?)?;
        for segment in path {
            value = value.get(segment)?;
        }
        Some(value)
    }

    /// The granted scopes: the space-separated `scope` claim, or an `scp` array or string.
    pub fn scopes(&self) -> Vec<&str> {
        match (self.claims.get("scope"), self.claims.get("scp")) {
            (Some(Value::String(s)), _) | (None, Some(Value::String(s))) => {
                s.split(' ').filter(|t| !t.is_empty()).collect()
            }
            (Some(Value::Array(items)), _) | (None, Some(Value::Array(items))) => {
                items.iter().filter_map(Value::as_str).collect()
            }
            _ => Vec::new(),
        }
    }
}
