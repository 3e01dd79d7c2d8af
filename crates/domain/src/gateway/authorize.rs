//! Authorizers: what an authenticated caller may do on a matched rule. `allow`, `deny`, `scopes`
//! (all or any of a list) and `claims` (a claim equals a fixed value, or a segment of the request
//! path such as the tenant id in `/tenants/{id}/…`).

use super::session::AuthenticationSession;
use serde::Deserialize;
use serde_json::Value;

/// How a `scopes` authorizer combines its list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScopeStrategy {
    /// Every listed scope is required.
    #[default]
    All,
    /// One of the listed scopes is enough.
    Any,
}

/// What a claim must equal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expected {
    Value(String),
    /// The request path's segment at this index (0-based, empty segments skipped).
    PathSegment(usize),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimRequirement {
    /// Dotted path in the claims.
    pub claim: Vec<String>,
    pub expected: Expected,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authorizer {
    Allow,
    Deny,
    Scopes {
        required: Vec<String>,
        strategy: ScopeStrategy,
    },
    Claims(Vec<ClaimRequirement>),
}

/// Why an authorizer refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    #[error("access to this resource is denied")]
    DeniedByRule,
    #[error("the token lacks the required scope {0}")]
    MissingScope(String),
    #[error("the token has none of the scopes {0}")]
    NoneOfScopes(String),
    #[error("claim {0} does not have the required value")]
    ClaimMismatch(String),
}

fn claim_as_string(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Checks `session` against `authorizer` for a request to `path`.
pub fn authorize(
    authorizer: &Authorizer,
    session: &AuthenticationSession,
    path: &str,
) -> Result<(), Denied> {
    match authorizer {
        Authorizer::Allow => Ok(()),
        Authorizer::Deny => Err(Denied::DeniedByRule),
        Authorizer::Scopes { required, strategy } => {
            let granted = session.scopes();
            match strategy {
                ScopeStrategy::All => {
                    match required.iter().find(|s| !granted.contains(&s.as_str())) {
                        Some(missing) => Err(Denied::MissingScope(missing.clone())),
                        None => Ok(()),
                    }
                }
                ScopeStrategy::Any => {
                    if required.is_empty() || required.iter().any(|s| granted.contains(&s.as_str()))
                    {
                        Ok(())
                    } else {
                        Err(Denied::NoneOfScopes(required.join(" ")))
                    }
                }
            }
        }
        Authorizer::Claims(requirements) => {
            for requirement in requirements {
                let name = requirement.claim.join(".");
                let actual = session
                    .claim(requirement.claim.iter().map(String::as_str))
                    .and_then(claim_as_string);
                let expected = match &requirement.expected {
                    Expected::Value(v) => Some(v.clone()),
                    Expected::PathSegment(index) => path
                        .split('/')
                        .filter(|s| !s.is_empty())
                        .nth(*index)
                        .map(str::to_owned),
                };
                match (actual, expected) {
                    (Some(a), Some(e)) if a == e => {}
                    _ => return Err(Denied::ClaimMismatch(name)),
                }
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn session() -> AuthenticationSession {
        AuthenticationSession::new(
            "u1",
            json!({"scope": "api:read api:write", "tenant_id": "acme", "n": 7}),
        )
    }

    fn scopes(required: &[&str], strategy: ScopeStrategy) -> Authorizer {
        Authorizer::Scopes {
            required: required.iter().map(|s| (*s).to_owned()).collect(),
            strategy,
        }
    }

    #[test]
    fn allow_and_deny() {
        assert_eq!(authorize(&Authorizer::Allow, &session(), "/"), Ok(()));
        assert_eq!(
            authorize(&Authorizer::Deny, &session(), "/"),
            Err(Denied::DeniedByRule)
        );
    }

    #[test]
    fn scopes_all_and_any() {
        let s = session();
        assert!(
            authorize(
                &scopes(&["api:read", "api:write"], ScopeStrategy::All),
                &s,
                "/"
            )
            .is_ok()
        );
        assert_eq!(
            authorize(&scopes(&["api:read", "admin"], ScopeStrategy::All), &s, "/"),
            Err(Denied::MissingScope("admin".into()))
        );
        assert!(authorize(&scopes(&["admin", "api:read"], ScopeStrategy::Any), &s, "/").is_ok());
        assert!(authorize(&scopes(&["admin", "root"], ScopeStrategy::Any), &s, "/").is_err());
    }

    #[test]
    fn claims_equal_a_value_or_a_path_segment() {
        let s = session();
        let req = |expected| {
            Authorizer::Claims(vec![ClaimRequirement {
                claim: vec!["tenant_id".into()],
                expected,
            }])
        };
        assert!(authorize(&req(Expected::Value("acme".into())), &s, "/").is_ok());
        assert!(authorize(&req(Expected::Value("other".into())), &s, "/").is_err());
        assert!(authorize(&req(Expected::PathSegment(1)), &s, "/tenants/acme/users").is_ok());
        assert!(authorize(&req(Expected::PathSegment(1)), &s, "/tenants/evil/users").is_err());
        assert!(authorize(&req(Expected::PathSegment(9)), &s, "/tenants/acme").is_err());
        let number = Authorizer::Claims(vec![ClaimRequirement {
            claim: vec!["n".into()],
            expected: Expected::Value("7".into()),
        }]);
        assert!(authorize(&number, &s, "/").is_ok());
    }
}
