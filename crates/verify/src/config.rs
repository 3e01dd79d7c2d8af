//! [`ValidatorConfig`]: what a valid token must satisfy, and how long the issuer's keys are cached.

use crate::clock::Clock;
use jsonwebtoken::{Algorithm, AlgorithmFamily};
use std::time::{Duration, SystemTime};

/// Leeway on `exp` / `nbf` unless [`ValidatorConfig::leeway`] says otherwise.
pub const DEFAULT_LEEWAY_SECS: u64 = 60;

/// What a valid token must satisfy, and how the issuer's JWKS is cached.
///
/// Defaults: ES256 or RS256, `typ` `at+jwt` (RFC 9068), 60 s leeway, no audience check, JWKS kept
/// for its `Cache-Control: max-age` bounded to [30 s, 1 h] (5 min without one), and refreshed at
/// most once per 30 s when a token names an unknown `kid`.
#[derive(Debug, Clone)]
pub struct ValidatorConfig {
    pub(crate) issuer: String,
    pub(crate) audiences: Vec<String>,
    pub(crate) algorithms: Vec<Algorithm>,
    pub(crate) leeway_secs: u64,
    pub(crate) required_typ: Option<String>,
    pub(crate) required_claims: Vec<String>,
    pub(crate) jwks_ttl: Duration,
    pub(crate) jwks_ttl_min: Duration,
    pub(crate) jwks_ttl_max: Duration,
    pub(crate) refresh_interval: Duration,
    pub(crate) clock: Clock,
}

impl ValidatorConfig {
    /// Tokens from `issuer` (compared exactly with `iss`), with the defaults above.
    pub fn new(issuer: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            audiences: Vec::new(),
            algorithms: vec![Algorithm::ES256, Algorithm::RS256],
            leeway_secs: DEFAULT_LEEWAY_SECS,
            required_typ: Some("at+jwt".to_owned()),
            required_claims: Vec::new(),
            jwks_ttl: Duration::from_secs(300),
            jwks_ttl_min: Duration::from_secs(30),
            jwks_ttl_max: Duration::from_secs(3600),
            refresh_interval: Duration::from_secs(30),
            clock: Clock::system(),
        }
    }

    /// Accepts tokens whose `aud` contains `audience` (any of those given, when called
    /// repeatedly). Without any, `aud` is not checked: only for an API that is the issuer's sole
    /// audience.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self
    }

    /// The allowed algorithms. HMAC algorithms are dropped: a JWKS holds public keys, and a
    /// public key must never serve as an HMAC secret. `none` cannot even be named.
    pub fn algorithms(mut self, algorithms: &[Algorithm]) -> Self {
        self.algorithms = algorithms
            .iter()
            .copied()
            .filter(|a| a.family() != AlgorithmFamily::Hmac)
            .collect();
        self
    }

    /// Clock skew tolerated on `exp` and `nbf`, in seconds (default 60; ASP.NET's `ClockSkew`
    /// is 300).
    pub fn leeway(mut self, seconds: u64) -> Self {
        self.leeway_secs = seconds;
        self
    }

    /// The required JOSE `typ` (`application/` prefix optional, case-insensitive); `None`
    /// accepts any.
    pub fn required_typ(mut self, typ: Option<&str>) -> Self {
        self.required_typ = typ.map(str::to_owned);
        self
    }

    /// A claim every valid token must carry (any value).
    pub fn require_claim(mut self, claim: impl Into<String>) -> Self {
        self.required_claims.push(claim.into());
        self
    }

    /// How long a fetched JWKS is kept when its response has no `Cache-Control: max-age`.
    pub fn jwks_ttl(mut self, ttl: Duration) -> Self {
        self.jwks_ttl = ttl;
        self
    }

    /// The bounds applied to the JWKS response's `max-age` (and to the default TTL).
    pub fn jwks_ttl_bounds(mut self, min: Duration, max: Duration) -> Self {
        self.jwks_ttl_min = min.min(max);
        self.jwks_ttl_max = max.max(min);
        self
    }

    /// The shortest time between two JWKS fetches, whatever triggers them: a token with an
    /// unknown `kid` cannot make the validator hammer the issuer.
    pub fn jwks_refresh_interval(mut self, interval: Duration) -> Self {
        self.refresh_interval = interval;
        self
    }

    /// Reads "now" from `now` instead of the wall clock; for tests of expiry and caching.
    pub fn clock(mut self, now: impl Fn() -> SystemTime + Send + Sync + 'static) -> Self {
        self.clock = Clock::custom(now);
        self
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// How long to keep a JWKS whose response said `max-age`.
    pub(crate) fn jwks_ttl_for(&self, max_age: Option<Duration>) -> Duration {
        max_age
            .unwrap_or(self.jwks_ttl)
            .max(self.jwks_ttl_min)
            .min(self.jwks_ttl_max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_algorithms_are_never_allowed() {
        let config = ValidatorConfig::new("https://id.example").algorithms(&[
            Algorithm::HS256,
            Algorithm::HS512,
            Algorithm::ES256,
        ]);
        assert_eq!(config.algorithms, [Algorithm::ES256]);
    }

    #[test]
    fn jwks_ttl_follows_max_age_within_bounds() {
        let config = ValidatorConfig::new("https://id.example");
        let secs = Duration::from_secs;
        assert_eq!(config.jwks_ttl_for(None), secs(300));
        assert_eq!(config.jwks_ttl_for(Some(secs(120))), secs(120));
        assert_eq!(config.jwks_ttl_for(Some(secs(0))), secs(30));
        assert_eq!(config.jwks_ttl_for(Some(secs(86_400))), secs(3600));

        let config = config.jwks_ttl_bounds(secs(600), secs(60));
        assert_eq!(config.jwks_ttl_for(Some(secs(1))), secs(60));
        assert_eq!(config.jwks_ttl_for(Some(secs(7200))), secs(600));
    }
}
