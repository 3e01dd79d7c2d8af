//! `gatehouse-verify`: JWT access-token validation for resource servers.
//!
//! A [`Validator`] checks a bearer token the way an API should before trusting it: the signature
//! against the issuer's JWKS (only the allowed asymmetric algorithms; `none` and HMAC are never
//! accepted), `iss`, `aud`, `exp` / `nbf` with leeway, the JOSE `typ` (RFC 9068 `at+jwt` by
//! default), and required claims. It depends on no other Gatehouse crate.
//!
//! ```no_run
//! use gatehouse_verify::{Validator, ValidatorConfig};
//! # fn main() -> Result<(), gatehouse_verify::VerifyError> {
//! let jwks = r#"{"keys": []}"#; // GET https://id.example.com/.well-known/jwks.json
//! let validator = Validator::new(ValidatorConfig::new("https://id.example.com").audience("https://api.example.com"))
//!     .with_jwks_json(jwks)?;
//! let claims = validator.validate("eyJ...")?;
//! println!("token for {}", claims.subject());
//! # Ok(()) }
//! ```
//!
//! Fetching the JWKS through discovery, its cache and the axum extractor come with the gateway.

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde_json::{Map, Value};
use std::collections::HashMap;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VerifyError {
    #[error("the JWKS document is not valid: {0}")]
    InvalidJwks(String),
    #[error("the token is malformed")]
    Malformed,
    #[error("algorithm {0} is not allowed")]
    AlgorithmNotAllowed(String),
    #[error("no key with this kid in the issuer's JWKS")]
    UnknownKey,
    #[error("token type {0:?} is not the required {1:?}")]
    WrongType(Option<String>, String),
    #[error("the token is invalid: {0}")]
    Invalid(String),
    #[error("required claim {0} is missing")]
    MissingClaim(String),
}

/// What a valid token must satisfy.
#[derive(Debug, Clone)]
pub struct ValidatorConfig {
    issuer: String,
    audiences: Vec<String>,
    algorithms: Vec<Algorithm>,
    leeway_secs: u64,
    required_typ: Option<String>,
    required_claims: Vec<String>,
}

impl ValidatorConfig {
    /// Tokens from `issuer`, ES256 or RS256, 60 s leeway, `typ` `at+jwt`.
    pub fn new(issuer: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            audiences: Vec::new(),
            algorithms: vec![Algorithm::ES256, Algorithm::RS256],
            leeway_secs: 60,
            required_typ: Some("at+jwt".to_owned()),
            required_claims: Vec::new(),
        }
    }

    /// Accept tokens whose `aud` contains `audience` (any of those given, when called repeatedly).
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self
    }

    /// The allowed algorithms; HMAC algorithms are dropped (never valid for public keys).
    pub fn algorithms(mut self, algorithms: &[Algorithm]) -> Self {
        self.algorithms = algorithms
            .iter()
            .copied()
            .filter(|a| !matches!(a, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512))
            .collect();
        self
    }

    pub fn leeway(mut self, seconds: u64) -> Self {
        self.leeway_secs = seconds;
        self
    }

    /// The required JOSE `typ`; `None` accepts any.
    pub fn required_typ(mut self, typ: Option<&str>) -> Self {
        self.required_typ = typ.map(str::to_owned);
        self
    }

    pub fn require_claim(mut self, claim: impl Into<String>) -> Self {
        self.required_claims.push(claim.into());
        self
    }
}

/// The claims of a validated token.
#[derive(Debug, Clone)]
pub struct Claims(pub Map<String, Value>);

impl Claims {
    pub fn subject(&self) -> &str {
        self.0
            .get("sub")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name)
    }

    /// The space-separated `scope` claim as a list.
    pub fn scopes(&self) -> Vec<&str> {
        self.0
            .get("scope")
            .and_then(Value::as_str)
            .map(|s| s.split(' ').filter(|t| !t.is_empty()).collect())
            .unwrap_or_default()
    }
}

/// Validates tokens of one issuer against its JWKS.
pub struct Validator {
    config: ValidatorConfig,
    keys: HashMap<String, (Algorithm, DecodingKey)>,
}

impl std::fmt::Debug for Validator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Validator")
            .field("config", &self.config)
            .field("kids", &self.keys.keys())
            .finish()
    }
}

impl Validator {
    pub fn new(config: ValidatorConfig) -> Self {
        Self {
            config,
            keys: HashMap::new(),
        }
    }

    /// Loads the issuer's JWKS (the JSON of its `jwks_uri`); keys without `kid` or with an
    /// algorithm outside the allow-list are ignored.
    pub fn with_jwks_json(mut self, jwks: &str) -> Result<Self, VerifyError> {
        let set: JwkSet =
            serde_json::from_str(jwks).map_err(|e| VerifyError::InvalidJwks(e.to_string()))?;
        self.keys.clear();
        for jwk in &set.keys {
            let (Some(kid), Some(alg)) = (jwk.common.key_id.clone(), jwk.common.key_algorithm)
            else {
                continue;
            };
            let Ok(alg) = alg.to_string().parse::<Algorithm>() else {
                continue;
            };
            if !self.config.algorithms.contains(&alg) {
                continue;
            }
            let key =
                DecodingKey::from_jwk(jwk).map_err(|e| VerifyError::InvalidJwks(e.to_string()))?;
            self.keys.insert(kid, (alg, key));
        }
        Ok(self)
    }

    pub fn validate(&self, token: &str) -> Result<Claims, VerifyError> {
        let header = decode_header(token).map_err(|_| VerifyError::Malformed)?;
        if !self.config.algorithms.contains(&header.alg) {
            return Err(VerifyError::AlgorithmNotAllowed(format!(
                "{:?}",
                header.alg
            )));
        }
        if let Some(required) = &self.config.required_typ {
            let typ = header.typ.clone();
            let ok = typ.as_deref().is_some_and(|t| {
                t.eq_ignore_ascii_case(required)
                    || t.eq_ignore_ascii_case(&format!("application/{required}"))
            });
            if !ok {
                return Err(VerifyError::WrongType(typ, required.clone()));
            }
        }
        let kid = header.kid.ok_or(VerifyError::UnknownKey)?;
        let (alg, key) = self.keys.get(&kid).ok_or(VerifyError::UnknownKey)?;
        if *alg != header.alg {
            return Err(VerifyError::AlgorithmNotAllowed(format!(
                "{:?}",
                header.alg
            )));
        }
        let mut validation = Validation::new(*alg);
        validation.leeway = self.config.leeway_secs;
        validation.validate_nbf = true;
        validation.set_issuer(&[&self.config.issuer]);
        if self.config.audiences.is_empty() {
            validation.validate_aud = false;
        } else {
            validation.set_audience(&self.config.audiences);
        }
        validation.set_required_spec_claims(&["exp", "iss"]);
        let data = decode::<Map<String, Value>>(token, key, &validation)
            .map_err(|e| VerifyError::Invalid(e.to_string()))?;
        for claim in &self.config.required_claims {
            if !data.claims.contains_key(claim) {
                return Err(VerifyError::MissingClaim(claim.clone()));
            }
        }
        Ok(Claims(data.claims))
    }
}
