//! Authorization policies on validated [`Claims`]: a required scope or claim value. A failure is
//! a [`PolicyError`], which the `axum` feature renders as RFC 6750 §3.1 `insufficient_scope`
//! (403), as opposed to the 401 `invalid_token` of a token that does not validate.

use crate::validator::Claims;
use serde_json::Value;

/// Why a valid token is not enough for this request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    #[error("the token lacks scope {0}")]
    MissingScope(String),
    #[error("claim {0} does not have the required value")]
    ClaimMismatch(String),
}

impl PolicyError {
    /// The scope to ask for, for the `scope` attribute of `WWW-Authenticate`.
    pub fn required_scope(&self) -> Option<&str> {
        match self {
            Self::MissingScope(scope) => Some(scope),
            Self::ClaimMismatch(_) => None,
        }
    }
}

/// The token must have been granted `scope`.
pub fn require_scope(claims: &Claims, scope: &str) -> Result<(), PolicyError> {
    if claims.has_scope(scope) {
        Ok(())
    } else {
        Err(PolicyError::MissingScope(scope.to_owned()))
    }
}

/// Claim `name` must be the string `value`, or an array containing it (as `roles`, `groups` or
/// a multi-valued `aud` are), like ASP.NET's `RequireClaim(name, value)`.
pub fn require_claim(claims: &Claims, name: &str, value: &str) -> Result<(), PolicyError> {
    let matches = match claims.get(name) {
        Some(Value::String(s)) => s == value,
        Some(Value::Array(items)) => items.iter().any(|i| i.as_str() == Some(value)),
        _ => false,
    };
    if matches {
        Ok(())
    } else {
        Err(PolicyError::ClaimMismatch(name.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(value: Value) -> Claims {
        let Value::Object(map) = value else {
            panic!("claims are an object")
        };
        Claims(map)
    }

    #[test]
    fn require_scope_checks_the_granted_scopes() {
        let c = claims(json!({"scope": "api:read openid"}));
        assert_eq!(require_scope(&c, "api:read"), Ok(()));
        assert_eq!(
            require_scope(&c, "api:write"),
            Err(PolicyError::MissingScope("api:write".into()))
        );
        assert!(require_scope(&claims(json!({})), "api:read").is_err());
    }

    #[test]
    fn require_claim_matches_a_string_or_an_array_member() {
        let c = claims(json!({"client_id": "bff-client", "roles": ["admin", "dev"], "n": 1}));
        assert_eq!(require_claim(&c, "client_id", "bff-client"), Ok(()));
        assert_eq!(require_claim(&c, "roles", "dev"), Ok(()));
        for (name, value) in [
            ("client_id", "other"),
            ("roles", "ops"),
            ("n", "1"),
            ("x", ""),
        ] {
            assert_eq!(
                require_claim(&c, name, value),
                Err(PolicyError::ClaimMismatch(name.into()))
            );
        }
    }
}
