//! [`Validator`]: checks a bearer JWT against the issuer's keys and the [`ValidatorConfig`], and
//! returns its [`Claims`] — or the one reason ([`VerifyError`]) it is refused.
//!
//! Order of checks: header (RFC 7515: the `alg` allow-list, no unknown `crit`, RFC 9068 §4
//! `typ`), key by `kid`, signature, then claims (RFC 7519 §4.1: `iss` exactly, `aud`, `exp`
//! required, `nbf`, both with leeway) and the configured required claims. Header members that
//! point elsewhere for keys (`jku`, `jwk`, `x5u`, `x5c`) are ignored: keys come only from the
//! configured JWKS.

use crate::config::ValidatorConfig;
use crate::jwks::{self, JwksCache, JwksError, KeySet};
use jsonwebtoken::{Algorithm, Header, Validation, decode, decode_header, errors::ErrorKind};
use serde_json::{Map, Value};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Why a token is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    #[error("the token is malformed")]
    Malformed,
    #[error("algorithm {0:?} is not allowed")]
    AlgorithmNotAllowed(Algorithm),
    #[error("the token has critical header parameters this validator does not support")]
    UnsupportedCritical,
    #[error("the token type is not {0}")]
    WrongType(String),
    #[error("no key with this kid in the issuer's JWKS")]
    UnknownKey,
    #[error("the signature does not verify")]
    BadSignature,
    #[error("the token is from another issuer")]
    WrongIssuer,
    #[error("the token is not meant for this audience")]
    WrongAudience,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("required claim {0} is missing")]
    MissingClaim(String),
    #[error("claim {0} has an invalid value")]
    InvalidClaim(String),
    #[error("the issuer's keys are unavailable: {0}")]
    KeysUnavailable(#[source] JwksError),
}

/// The claims of a validated token.
#[derive(Debug, Clone, PartialEq)]
pub struct Claims(pub Map<String, Value>);

impl Claims {
    /// `sub`, or `""` when the token has none.
    pub fn subject(&self) -> &str {
        self.str("sub").unwrap_or_default()
    }

    /// `client_id` (RFC 9068 §2.2), when present.
    pub fn client_id(&self) -> Option<&str> {
        self.str("client_id")
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name)
    }

    /// A claim as a string, when it is one.
    pub fn str(&self, name: &str) -> Option<&str> {
        self.0.get(name).and_then(Value::as_str)
    }

    /// The granted scopes: the space-separated `scope` claim (RFC 9068 §2.2.3), or else an
    /// `scp` array as some issuers send.
    pub fn scopes(&self) -> Vec<&str> {
        match (self.0.get("scope"), self.0.get("scp")) {
            (Some(Value::String(s)), _) => s.split(' ').filter(|t| !t.is_empty()).collect(),
            (None, Some(Value::Array(items))) => items.iter().filter_map(Value::as_str).collect(),
            (None, Some(Value::String(s))) => s.split(' ').filter(|t| !t.is_empty()).collect(),
            _ => Vec::new(),
        }
    }

    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes().contains(&scope)
    }
}

/// Validates tokens of one issuer against its JWKS. Cheap to clone: clones share the key cache.
///
/// * [`Validator::new`] + [`Validator::with_jwks_json`]: keys given once, checked synchronously
///   with [`Validator::validate`].
/// * `Validator::discover` / `Validator::with_jwks_uri` (feature `remote`): keys fetched,
///   cached and refreshed by [`Validator::verify`], the async entry point the axum extractor and
///   layer use.
#[derive(Clone)]
pub struct Validator {
    inner: Arc<Inner>,
}

struct Inner {
    config: ValidatorConfig,
    cache: JwksCache,
    /// One `jsonwebtoken` validation per allowed algorithm, built once. It checks only the
    /// signature: claims are checked here, against the configured clock.
    signature_checks: Vec<(Algorithm, Validation)>,
}

impl std::fmt::Debug for Validator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Validator")
            .field("config", &self.inner.config)
            .field("keys", &self.inner.cache.current().keys.len())
            .finish()
    }
}

impl Validator {
    /// A validator with no keys yet: give them with [`Validator::with_jwks_json`].
    pub fn new(config: ValidatorConfig) -> Self {
        Self::with_cache(config, JwksCache::fixed())
    }

    fn with_cache(config: ValidatorConfig, cache: JwksCache) -> Self {
        let signature_checks = config
            .algorithms
            .iter()
            .map(|alg| {
                let mut validation = Validation::new(*alg);
                validation.required_spec_claims.clear();
                validation.validate_exp = false;
                validation.validate_nbf = false;
                validation.validate_aud = false;
                (*alg, validation)
            })
            .collect();
        Self {
            inner: Arc::new(Inner {
                config,
                cache,
                signature_checks,
            }),
        }
    }

    /// Loads the issuer's JWKS (the JSON its `jwks_uri` serves), replacing the keys held. Keys
    /// that cannot verify tokens here (symmetric, encryption, algorithm not allowed) are skipped.
    pub fn with_jwks_json(self, jwks: &str) -> Result<Self, JwksError> {
        jwks::load_json(&self.inner.cache, jwks, &self.inner.config)?;
        Ok(self)
    }

    /// A validator that fetches its keys from `jwks_uri` with `http` on first use, then caches
    /// and refreshes them (see [`ValidatorConfig`]). No request is made here.
    #[cfg(feature = "remote")]
    pub fn with_jwks_uri(
        config: ValidatorConfig,
        jwks_uri: impl Into<String>,
        http: reqwest::Client,
    ) -> Self {
        Self::with_cache(config, JwksCache::remote(jwks_uri.into(), http))
    }

    /// Finds the JWKS through OpenID Connect discovery (`{issuer}/.well-known/openid-configuration`,
    /// whose `issuer` must be exactly the configured one) and loads it. Fails when either
    /// document cannot be fetched, so that a misconfigured API stops at start-up.
    #[cfg(feature = "remote")]
    pub async fn discover(
        config: ValidatorConfig,
        http: reqwest::Client,
    ) -> Result<Self, JwksError> {
        let jwks_uri = jwks::discover_jwks_uri(&http, &config.issuer).await?;
        let validator = Self::with_jwks_uri(config, jwks_uri, http);
        validator.refresh_keys().await?;
        Ok(validator)
    }

    /// Fetches the JWKS now, outside the refresh rate limit (warm-up at start-up). A validator
    /// with fixed keys has nothing to fetch.
    #[cfg(feature = "remote")]
    pub async fn refresh_keys(&self) -> Result<(), JwksError> {
        self.inner.cache.reload(&self.inner.config).await
    }

    pub fn config(&self) -> &ValidatorConfig {
        &self.inner.config
    }

    /// Validates `token` with the keys held now, at the configured clock's time. It never
    /// fetches: with fetched keys, use [`Validator::verify`].
    pub fn validate(&self, token: &str) -> Result<Claims, VerifyError> {
        let header = self.check_header(token)?;
        let cached = self.inner.cache.current();
        self.check(token, &header, &cached.keys, self.now())
    }

    /// [`Validator::validate`] at a given time.
    pub fn validate_at(&self, token: &str, now: SystemTime) -> Result<Claims, VerifyError> {
        let header = self.check_header(token)?;
        let cached = self.inner.cache.current();
        self.check(token, &header, &cached.keys, crate::clock::since_epoch(now))
    }

    /// Validates `token`, first fetching or refreshing the issuer's keys when they are missing,
    /// expired, or do not include the token's `kid` (at most once per refresh interval). Header
    /// checks come first, so a token with a refused `alg` or `typ` never causes a fetch.
    pub async fn verify(&self, token: &str) -> Result<Claims, VerifyError> {
        let header = self.check_header(token)?;
        #[cfg(feature = "remote")]
        let cached = self
            .inner
            .cache
            .keys_for(header.kid.as_deref(), &self.inner.config)
            .await
            .map_err(VerifyError::KeysUnavailable)?;
        #[cfg(not(feature = "remote"))]
        let cached = self.inner.cache.current();
        self.check(token, &header, &cached.keys, self.now())
    }

    fn now(&self) -> Duration {
        self.inner.config.clock.since_epoch()
    }

    fn check_header(&self, token: &str) -> Result<Header, VerifyError> {
        let config = &self.inner.config;
        let header = decode_header(token).map_err(|_| VerifyError::Malformed)?;
        if !config.algorithms.contains(&header.alg) {
            return Err(VerifyError::AlgorithmNotAllowed(header.alg));
        }
        // RFC 7515 §4.1.11: no extension is understood here, so any `crit` is refused.
        if header.crit.is_some() {
            return Err(VerifyError::UnsupportedCritical);
        }
        if let Some(required) = &config.required_typ {
            let matches = header.typ.as_deref().is_some_and(|typ| {
                let typ = match typ.get(..12) {
                    Some(prefix) if prefix.eq_ignore_ascii_case("application/") => &typ[12..],
                    _ => typ,
                };
                typ.eq_ignore_ascii_case(required)
            });
            if !matches {
                return Err(VerifyError::WrongType(required.clone()));
            }
        }
        Ok(header)
    }

    fn check(
        &self,
        token: &str,
        header: &Header,
        keys: &KeySet,
        now: Duration,
    ) -> Result<Claims, VerifyError> {
        let key = keys
            .find(header.kid.as_deref())
            .ok_or(VerifyError::UnknownKey)?;
        if key.alg.is_some_and(|alg| alg != header.alg) {
            return Err(VerifyError::AlgorithmNotAllowed(header.alg));
        }
        let (_, validation) = self
            .inner
            .signature_checks
            .iter()
            .find(|(alg, _)| *alg == header.alg)
            .ok_or(VerifyError::AlgorithmNotAllowed(header.alg))?;
        let data =
            decode::<Map<String, Value>>(token, &key.key, validation).map_err(|e| {
                match e.kind() {
                    ErrorKind::InvalidSignature
                    | ErrorKind::InvalidAlgorithm
                    | ErrorKind::InvalidEcdsaKey
                    | ErrorKind::InvalidRsaKey(_)
                    | ErrorKind::InvalidEddsaKey => VerifyError::BadSignature,
                    _ => VerifyError::Malformed,
                }
            })?;
        check_claims(&self.inner.config, Claims(data.claims), now)
    }
}

/// RFC 7519 §4.1 registered claims, then the configured required claims.
fn check_claims(
    config: &ValidatorConfig,
    claims: Claims,
    now: Duration,
) -> Result<Claims, VerifyError> {
    match claims.get("iss") {
        Some(Value::String(iss)) if *iss == config.issuer => {}
        Some(Value::String(_)) => return Err(VerifyError::WrongIssuer),
        Some(_) => return Err(VerifyError::InvalidClaim("iss".to_owned())),
        None => return Err(VerifyError::MissingClaim("iss".to_owned())),
    }
    if !config.audiences.is_empty() {
        let matches = match claims.get("aud") {
            Some(Value::String(aud)) => config.audiences.contains(aud),
            Some(Value::Array(auds)) => auds
                .iter()
                .filter_map(Value::as_str)
                .any(|aud| config.audiences.iter().any(|a| a == aud)),
            _ => false,
        };
        if !matches {
            return Err(VerifyError::WrongAudience);
        }
    }
    let now = now.as_secs_f64();
    let leeway = config.leeway_secs as f64;
    let exp = numeric_date(&claims, "exp")?.ok_or(VerifyError::MissingClaim("exp".to_owned()))?;
    if now > exp + leeway {
        return Err(VerifyError::Expired);
    }
    if let Some(nbf) = numeric_date(&claims, "nbf")?
        && nbf > now + leeway
    {
        return Err(VerifyError::NotYetValid);
    }
    if let Some(missing) = config
        .required_claims
        .iter()
        .find(|c| !claims.0.contains_key(c.as_str()))
    {
        return Err(VerifyError::MissingClaim(missing.clone()));
    }
    Ok(claims)
}

/// RFC 7519 §2 NumericDate: seconds since the epoch, possibly fractional.
fn numeric_date(claims: &Claims, name: &str) -> Result<Option<f64>, VerifyError> {
    match claims.get(name) {
        None => Ok(None),
        Some(value) => value
            .as_f64()
            .filter(|v| v.is_finite())
            .map(Some)
            .ok_or_else(|| VerifyError::InvalidClaim(name.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_keys::{TestKey, b64};
    use jsonwebtoken::{EncodingKey, Header, encode};
    use serde_json::json;
    use std::time::UNIX_EPOCH;

    const ISSUER: &str = "https://id.example";
    const NOW: u64 = 1_800_000_000;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn claims() -> Value {
        json!({
            "iss": ISSUER, "sub": "user-1", "aud": ["https://api.example"],
            "client_id": "bff-client", "scope": "api:read openid",
            "iat": NOW, "nbf": NOW, "exp": NOW + 3600,
        })
    }

    fn config() -> ValidatorConfig {
        ValidatorConfig::new(ISSUER)
            .audience("https://api.example")
            .clock(|| at(NOW))
    }

    fn validator(config: ValidatorConfig, keys: &[&TestKey]) -> Validator {
        Validator::new(config)
            .with_jwks_json(&crate::test_keys::jwks(keys))
            .expect("valid JWKS")
    }

    #[test]
    fn accepts_a_valid_token_and_reads_its_claims() {
        let key = TestKey::es256("k1");
        let claims = validator(config(), &[&key])
            .validate(&key.sign(&claims()))
            .expect("valid");
        assert_eq!(claims.subject(), "user-1");
        assert_eq!(claims.client_id(), Some("bff-client"));
        assert_eq!(claims.scopes(), ["api:read", "openid"]);
        assert!(claims.has_scope("openid") && !claims.has_scope("api"));
    }

    #[test]
    fn accepts_rs256_with_a_key_whose_jwks_entry_names_no_alg() {
        let key = TestKey::rs256("r1");
        let mut jwk = key.jwk();
        jwk.as_object_mut().expect("object").remove("alg");
        let validator = Validator::new(config())
            .with_jwks_json(&json!({ "keys": [jwk] }).to_string())
            .expect("valid JWKS");
        validator.validate(&key.sign(&claims())).expect("valid");
    }

    #[test]
    fn refuses_a_token_expired_beyond_the_leeway() {
        let key = TestKey::es256("k1");
        let mut c = claims();
        c["exp"] = json!(NOW - 60);
        let v = validator(config(), &[&key]);
        assert!(v.validate(&key.sign(&c)).is_ok(), "within the 60 s leeway");
        c["exp"] = json!(NOW - 61);
        assert_eq!(v.validate(&key.sign(&c)), Err(VerifyError::Expired));
        let v = validator(config().leeway(300), &[&key]);
        assert!(v.validate(&key.sign(&c)).is_ok(), "within a 300 s leeway");
        assert_eq!(
            v.validate_at(&key.sign(&c), at(NOW + 300)),
            Err(VerifyError::Expired)
        );
    }

    #[test]
    fn refuses_a_token_not_valid_yet() {
        let key = TestKey::es256("k1");
        let mut c = claims();
        c["nbf"] = json!(NOW + 60);
        let v = validator(config(), &[&key]);
        assert!(v.validate(&key.sign(&c)).is_ok(), "within the leeway");
        c["nbf"] = json!(NOW + 61);
        assert_eq!(v.validate(&key.sign(&c)), Err(VerifyError::NotYetValid));
        assert!(v.validate_at(&key.sign(&c), at(NOW + 1)).is_ok());
    }

    #[test]
    fn refuses_another_issuer_or_audience() {
        let key = TestKey::es256("k1");
        let v = validator(config(), &[&key]);
        let mut c = claims();
        c["iss"] = json!("https://id.example/");
        assert_eq!(v.validate(&key.sign(&c)), Err(VerifyError::WrongIssuer));
        c["iss"] = json!([ISSUER]);
        assert_eq!(
            v.validate(&key.sign(&c)),
            Err(VerifyError::InvalidClaim("iss".into()))
        );

        let mut c = claims();
        c["aud"] = json!("https://other.example");
        assert_eq!(v.validate(&key.sign(&c)), Err(VerifyError::WrongAudience));
        c.as_object_mut().expect("object").remove("aud");
        assert_eq!(v.validate(&key.sign(&c)), Err(VerifyError::WrongAudience));
        c["aud"] = json!(["https://other.example", "https://api.example"]);
        assert!(v.validate(&key.sign(&c)).is_ok());
    }

    #[test]
    fn refuses_a_wrong_or_missing_typ() {
        let key = TestKey::es256("k1");
        let v = validator(config(), &[&key]);
        for typ in [Some("JWT"), None] {
            let token = key.sign_with(&claims(), |h| h.typ = typ.map(str::to_owned));
            assert_eq!(
                v.validate(&token),
                Err(VerifyError::WrongType("at+jwt".into()))
            );
        }
        let token = key.sign_with(&claims(), |h| h.typ = Some("application/AT+JWT".into()));
        assert!(v.validate(&token).is_ok());
        let v = validator(config().required_typ(None), &[&key]);
        let token = key.sign_with(&claims(), |h| h.typ = Some("JWT".into()));
        assert!(v.validate(&token).is_ok());
    }

    #[test]
    fn refuses_alg_none() {
        let key = TestKey::es256("k1");
        let v = validator(config(), &[&key]);
        let signed = key.sign(&claims());
        let payload = signed.split('.').nth(1).expect("payload");
        for alg in ["none", "None", "NONE"] {
            let header = b64(&json!({"alg": alg, "typ": "at+jwt", "kid": "k1"}));
            for token in [
                format!("{header}.{payload}."),
                format!("{header}.{payload}"),
            ] {
                assert_eq!(v.validate(&token), Err(VerifyError::Malformed), "{alg}");
            }
        }
    }

    #[test]
    fn refuses_hs256_signed_with_the_public_key() {
        let key = TestKey::es256("k1");
        let public_jwk = key.jwk().to_string();
        let mut header = Header::new(Algorithm::HS256);
        header.typ = Some("at+jwt".into());
        header.kid = Some("k1".into());
        let forged = encode(
            &header,
            &claims(),
            &EncodingKey::from_secret(public_jwk.as_bytes()),
        )
        .expect("signs");
        let config = config().algorithms(&[Algorithm::ES256, Algorithm::HS256]);
        let v = validator(config, &[&key]);
        assert_eq!(
            v.validate(&forged),
            Err(VerifyError::AlgorithmNotAllowed(Algorithm::HS256))
        );
    }

    #[test]
    fn refuses_an_algorithm_the_key_is_not_for() {
        let es = TestKey::es256("k1");
        let rs = TestKey::rs256("k1");
        // The JWKS says k1 is an ES256 key; a token claiming RS256 for k1 is refused.
        let v = validator(config(), &[&es]);
        assert_eq!(
            v.validate(&rs.sign(&claims())),
            Err(VerifyError::AlgorithmNotAllowed(Algorithm::RS256))
        );
    }

    #[test]
    fn refuses_a_foreign_signature_an_unknown_kid_and_garbage() {
        let key = TestKey::es256("k1");
        let v = validator(config(), &[&key]);
        let foreign = TestKey::es256("k1");
        assert_eq!(
            v.validate(&foreign.sign(&claims())),
            Err(VerifyError::BadSignature)
        );
        let other = TestKey::es256("k2");
        assert_eq!(
            v.validate(&other.sign(&claims())),
            Err(VerifyError::UnknownKey)
        );
        for garbage in ["", "garbage", "a.b.c", "...."] {
            assert_eq!(v.validate(garbage), Err(VerifyError::Malformed));
        }
        let crit = key.sign_with(&claims(), |h| h.crit = Some(vec!["exp".into()]));
        assert_eq!(v.validate(&crit), Err(VerifyError::UnsupportedCritical));
    }

    #[test]
    fn requires_exp_and_the_configured_claims() {
        let key = TestKey::es256("k1");
        let v = validator(config().require_claim("client_id"), &[&key]);
        let mut c = claims();
        c.as_object_mut().expect("object").remove("exp");
        assert_eq!(
            v.validate(&key.sign(&c)),
            Err(VerifyError::MissingClaim("exp".into()))
        );
        c["exp"] = json!("tomorrow");
        assert_eq!(
            v.validate(&key.sign(&c)),
            Err(VerifyError::InvalidClaim("exp".into()))
        );
        let mut c = claims();
        c.as_object_mut().expect("object").remove("client_id");
        assert_eq!(
            v.validate(&key.sign(&c)),
            Err(VerifyError::MissingClaim("client_id".into()))
        );
    }

    #[test]
    fn without_an_audience_aud_is_not_checked() {
        let key = TestKey::es256("k1");
        let v = validator(ValidatorConfig::new(ISSUER).clock(|| at(NOW)), &[&key]);
        let mut c = claims();
        c["aud"] = json!("anything");
        assert!(v.validate(&key.sign(&c)).is_ok());
    }

    #[test]
    fn reads_scp_arrays_when_there_is_no_scope() {
        let claims = Claims(
            json!({"scp": ["a", "b"]})
                .as_object()
                .expect("object")
                .clone(),
        );
        assert_eq!(claims.scopes(), ["a", "b"]);
    }
}
