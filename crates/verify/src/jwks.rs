//! The issuer's keys. A JWKS document is parsed once per load into decoding keys by `kid`
//! ([`KeySet`]), never per request. With the `remote` feature, [`JwksCache`] fetches it from a
//! `jwks_uri` (found through OpenID Connect discovery or given), keeps it for its
//! `Cache-Control: max-age` within bounds, and refreshes it when a token names an unknown `kid` —
//! at most once per refresh interval, with one fetch in flight however many requests wait.

use crate::config::ValidatorConfig;
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// Why the issuer's keys could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwksError {
    #[error("the JWKS document is not valid: {0}")]
    InvalidJwks(String),
    #[error("the discovery document is not valid: {0}")]
    InvalidDiscovery(String),
    #[error("discovery names issuer {found:?}, not {expected:?}")]
    IssuerMismatch { expected: String, found: String },
    #[error("cannot fetch {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("{url} answered {status}")]
    UnexpectedStatus { url: String, status: u16 },
    #[error("{url} answered more than {limit} bytes")]
    TooLarge { url: String, limit: usize },
}

/// One public key from the JWKS, parsed.
pub(crate) struct Key {
    /// The key's `alg`, when the JWKS names one; the token's `alg` must then match it.
    pub(crate) alg: Option<Algorithm>,
    pub(crate) key: DecodingKey,
}

/// The usable keys of a JWKS document: asymmetric signing keys whose algorithm is allowed.
#[derive(Default)]
pub(crate) struct KeySet {
    by_kid: HashMap<String, Key>,
    without_kid: Vec<Key>,
}

impl KeySet {
    /// Parses a JWKS (`{"keys": [...]}`). Keys that cannot serve here are skipped, not errors:
    /// symmetric (`oct`) keys, encryption keys, unknown key types, and algorithms outside
    /// `allowed`.
    pub(crate) fn parse(jwks: &[u8], allowed: &[Algorithm]) -> Result<Self, JwksError> {
        let document: Value =
            serde_json::from_slice(jwks).map_err(|e| JwksError::InvalidJwks(e.to_string()))?;
        let entries = document
            .get("keys")
            .and_then(Value::as_array)
            .ok_or_else(|| JwksError::InvalidJwks("no \"keys\" array".to_owned()))?;
        let mut set = Self::default();
        for entry in entries {
            let Ok(jwk) = serde_json::from_value::<Jwk>(entry.clone()) else {
                tracing::debug!("skipping a JWKS entry this library cannot read");
                continue;
            };
            let Some(key) = usable_key(&jwk, allowed) else {
                continue;
            };
            match jwk.common.key_id {
                Some(kid) if set.by_kid.contains_key(&kid) => {
                    tracing::warn!(jwk.kid = %kid, "the JWKS repeats a kid: keeping the first key");
                }
                Some(kid) => {
                    set.by_kid.insert(kid, key);
                }
                None => set.without_kid.push(key),
            }
        }
        Ok(set)
    }

    /// The key a token names. A token without `kid` only matches a JWKS of exactly one key.
    pub(crate) fn find(&self, kid: Option<&str>) -> Option<&Key> {
        match kid {
            Some(kid) => self.by_kid.get(kid),
            None if self.len() == 1 => self.by_kid.values().chain(&self.without_kid).next(),
            None => None,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.by_kid.len() + self.without_kid.len()
    }
}

fn usable_key(jwk: &Jwk, allowed: &[Algorithm]) -> Option<Key> {
    if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
        return None;
    }
    let family = match jwk.algorithm {
        AlgorithmParameters::EllipticCurve(_) => AlgorithmFamily::Ec,
        AlgorithmParameters::RSA(_) => AlgorithmFamily::Rsa,
        AlgorithmParameters::OctetKeyPair(_) => AlgorithmFamily::Ed,
        // Symmetric keys never verify tokens here, whatever the JWKS says; nor do key types
        // this library does not know.
        _ => return None,
    };
    let alg = match jwk.common.key_algorithm {
        Some(named) => {
            // Encryption algorithms (RSA-OAEP, …) do not parse as signing algorithms.
            let alg = named.to_string().parse::<Algorithm>().ok()?;
            if !allowed.contains(&alg) || alg.family() != family {
                return None;
            }
            Some(alg)
        }
        None if allowed.iter().any(|a| a.family() == family) => None,
        None => return None,
    };
    match DecodingKey::from_jwk(jwk) {
        Ok(key) => Some(Key { alg, key }),
        Err(e) => {
            tracing::debug!(error = %e, "skipping a JWKS key that does not parse");
            None
        }
    }
}

/// A loaded key set and how long it is good for.
#[derive(Default)]
#[cfg_attr(
    not(feature = "remote"),
    expect(dead_code, reason = "only the fetching cache reads the load times")
)]
pub(crate) struct CachedKeys {
    pub(crate) keys: KeySet,
    /// When this set was loaded (time since the Unix epoch); `None` before the first load.
    pub(crate) loaded_at: Option<Duration>,
    /// When it should be fetched again; `None` for keys given once, which never expire.
    pub(crate) expires_at: Option<Duration>,
}

/// The key set in force, swapped whole on each load so that readers never wait on a fetch.
pub(crate) struct JwksCache {
    current: RwLock<Arc<CachedKeys>>,
    #[cfg(feature = "remote")]
    remote: Option<remote::Remote>,
}

impl JwksCache {
    /// A cache holding only keys given to it (`Validator::with_jwks_json`).
    pub(crate) fn fixed() -> Self {
        Self {
            current: RwLock::new(Arc::default()),
            #[cfg(feature = "remote")]
            remote: None,
        }
    }

    pub(crate) fn current(&self) -> Arc<CachedKeys> {
        self.current
            .read()
            .expect("the key-set lock is never poisoned: nothing panics while holding it")
            .clone()
    }

    pub(crate) fn replace(&self, keys: CachedKeys) {
        *self
            .current
            .write()
            .expect("the key-set lock is never poisoned: nothing panics while holding it") =
            Arc::new(keys);
    }

    /// Whether this cache fetches its keys (and so whether they expire).
    #[cfg(feature = "remote")]
    pub(crate) fn is_remote(&self) -> bool {
        self.remote.is_some()
    }

    #[cfg(not(feature = "remote"))]
    pub(crate) fn is_remote(&self) -> bool {
        false
    }
}

#[cfg(feature = "remote")]
pub(crate) use remote::discover_jwks_uri;

#[cfg(feature = "remote")]
mod remote {
    //! Fetching the JWKS over HTTP, and when to do it.

    use super::{CachedKeys, JwksCache, JwksError, KeySet};
    use crate::config::ValidatorConfig;
    use reqwest::header::CACHE_CONTROL;
    use std::sync::Arc;
    use std::time::Duration;
    use tokio::sync::Mutex;

    /// Discovery and JWKS documents larger than this are refused.
    const MAX_DOCUMENT_BYTES: usize = 1 << 20;
    /// A fetch that takes longer than this fails.
    const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

    pub(crate) struct Remote {
        jwks_uri: String,
        http: reqwest::Client,
        /// Held for the whole fetch: one fetch in flight, and the rate limit's memory.
        fetch: Mutex<FetchState>,
    }

    #[derive(Default)]
    struct FetchState {
        last_attempt: Option<Duration>,
        last_error: Option<JwksError>,
    }

    impl JwksCache {
        /// A cache that fetches `jwks_uri` with `http` on first use.
        pub(crate) fn remote(jwks_uri: String, http: reqwest::Client) -> Self {
            Self {
                current: std::sync::RwLock::new(Arc::default()),
                remote: Some(Remote {
                    jwks_uri,
                    http,
                    fetch: Mutex::new(FetchState::default()),
                }),
            }
        }

        /// The key set to check a token naming `kid` against, fetched or refreshed first when
        /// needed:
        /// * nothing loaded yet, or `kid` unknown: wait for a fetch (or for the one in flight),
        ///   unless the last fetch was less than the refresh interval ago;
        /// * keys past their TTL: one request refreshes them while the others go on with the
        ///   current set, which also stays in force if the refresh fails.
        pub(crate) async fn keys_for(
            &self,
            kid: Option<&str>,
            config: &ValidatorConfig,
        ) -> Result<Arc<CachedKeys>, JwksError> {
            let cached = self.current();
            let Some(remote) = &self.remote else {
                return Ok(cached);
            };
            if cached.loaded_at.is_none() || cached.keys.find(kid).is_none() {
                let mut state = remote.fetch.lock().await;
                let cached = self.current();
                if cached.loaded_at.is_some() && cached.keys.find(kid).is_some() {
                    return Ok(cached); // fetched while this request waited
                }
                let now = config.clock.since_epoch();
                if rate_limited(&state, now, config) {
                    return match (&cached.loaded_at, &state.last_error) {
                        (None, Some(error)) => Err(error.clone()),
                        _ => Ok(cached),
                    };
                }
                match self.fetch(remote, &mut state, now, config).await {
                    Ok(()) => return Ok(self.current()),
                    Err(error) if cached.loaded_at.is_none() => return Err(error),
                    Err(_) => return Ok(cached),
                }
            }
            let now = config.clock.since_epoch();
            if cached.expires_at.is_some_and(|at| now >= at)
                && let Ok(mut state) = remote.fetch.try_lock()
                && self.current().expires_at.is_some_and(|at| now >= at)
                && !rate_limited(&state, now, config)
            {
                // On failure the current keys stay in force until the next attempt.
                let _ = self.fetch(remote, &mut state, now, config).await;
            }
            Ok(self.current())
        }

        /// Fetches the JWKS now, whatever the rate limit says (start-up, an operator's request).
        pub(crate) async fn reload(&self, config: &ValidatorConfig) -> Result<(), JwksError> {
            let Some(remote) = &self.remote else {
                return Ok(());
            };
            let mut state = remote.fetch.lock().await;
            let now = config.clock.since_epoch();
            self.fetch(remote, &mut state, now, config).await
        }

        async fn fetch(
            &self,
            remote: &Remote,
            state: &mut FetchState,
            now: Duration,
            config: &ValidatorConfig,
        ) -> Result<(), JwksError> {
            state.last_attempt = Some(now);
            let loaded = get(&remote.http, &remote.jwks_uri).await.and_then(|doc| {
                let keys = KeySet::parse(&doc.body, &config.algorithms)?;
                Ok((keys, doc.max_age))
            });
            match loaded {
                Ok((keys, max_age)) => {
                    let ttl = config.jwks_ttl_for(max_age);
                    tracing::info!(
                        jwks.uri = %remote.jwks_uri,
                        jwks.keys = keys.len(),
                        jwks.ttl_secs = ttl.as_secs(),
                        "loaded the issuer's JWKS"
                    );
                    self.replace(CachedKeys {
                        keys,
                        loaded_at: Some(now),
                        expires_at: Some(now + ttl),
                    });
                    state.last_error = None;
                    Ok(())
                }
                Err(error) => {
                    tracing::warn!(%error, "cannot load the issuer's JWKS");
                    state.last_error = Some(error.clone());
                    Err(error)
                }
            }
        }
    }

    fn rate_limited(state: &FetchState, now: Duration, config: &ValidatorConfig) -> bool {
        state
            .last_attempt
            .is_some_and(|last| now < last + config.refresh_interval)
    }

    /// OpenID Connect Discovery 1.0 §4: reads `{issuer}/.well-known/openid-configuration` and
    /// returns its `jwks_uri`, after checking that its `issuer` is exactly `issuer` (§4.3).
    pub(crate) async fn discover_jwks_uri(
        http: &reqwest::Client,
        issuer: &str,
    ) -> Result<String, JwksError> {
        #[derive(serde::Deserialize)]
        struct Discovery {
            issuer: String,
            jwks_uri: String,
        }
        let url = format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        );
        let doc = get(http, &url).await?;
        let discovery: Discovery = serde_json::from_slice(&doc.body)
            .map_err(|e| JwksError::InvalidDiscovery(e.to_string()))?;
        if discovery.issuer != issuer {
            return Err(JwksError::IssuerMismatch {
                expected: issuer.to_owned(),
                found: discovery.issuer,
            });
        }
        Ok(discovery.jwks_uri)
    }

    struct Document {
        body: Vec<u8>,
        max_age: Option<Duration>,
    }

    async fn get(http: &reqwest::Client, url: &str) -> Result<Document, JwksError> {
        let unreachable = |e: reqwest::Error| JwksError::Unreachable {
            url: url.to_owned(),
            reason: e.without_url().to_string(),
        };
        let mut response = http
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .timeout(FETCH_TIMEOUT)
            .send()
            .await
            .map_err(unreachable)?;
        if !response.status().is_success() {
            return Err(JwksError::UnexpectedStatus {
                url: url.to_owned(),
                status: response.status().as_u16(),
            });
        }
        let max_age = response
            .headers()
            .get_all(CACHE_CONTROL)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(parse_max_age);
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(unreachable)? {
            if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
                return Err(JwksError::TooLarge {
                    url: url.to_owned(),
                    limit: MAX_DOCUMENT_BYTES,
                });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Document { body, max_age })
    }

    /// The freshness a `Cache-Control` value gives (RFC 9111 §5.2.2): `max-age=N`, or zero for
    /// `no-cache` / `no-store` (the configured minimum then applies).
    pub(crate) fn parse_max_age(cache_control: &str) -> Option<Duration> {
        cache_control.split(',').find_map(|directive| {
            let directive = directive.trim();
            let (name, value) = directive.split_once('=').unwrap_or((directive, ""));
            let name = name.trim().to_ascii_lowercase();
            match name.as_str() {
                "max-age" => value
                    .trim()
                    .trim_matches('"')
                    .parse::<u64>()
                    .ok()
                    .map(Duration::from_secs),
                "no-cache" | "no-store" => Some(Duration::ZERO),
                _ => None,
            }
        })
    }
}

/// Loads a JWKS given as JSON (`Validator::with_jwks_json`); on a fetching cache it expires
/// after the default TTL like a fetched one.
pub(crate) fn load_json(
    cache: &JwksCache,
    jwks: &str,
    config: &ValidatorConfig,
) -> Result<(), JwksError> {
    let keys = KeySet::parse(jwks.as_bytes(), &config.algorithms)?;
    let now = config.clock.since_epoch();
    cache.replace(CachedKeys {
        keys,
        loaded_at: Some(now),
        expires_at: cache.is_remote().then(|| now + config.jwks_ttl_for(None)),
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALLOWED: &[Algorithm] = &[Algorithm::ES256, Algorithm::RS256];

    fn ec_key(kid: Option<&str>, alg: Option<&str>) -> Value {
        let mut key = serde_json::json!({
            "kty": "EC", "crv": "P-256",
            "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
            "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
        });
        if let Some(kid) = kid {
            key["kid"] = kid.into();
        }
        if let Some(alg) = alg {
            key["alg"] = alg.into();
        }
        key
    }

    fn parse(keys: &[Value]) -> KeySet {
        let doc = serde_json::json!({ "keys": keys }).to_string();
        KeySet::parse(doc.as_bytes(), ALLOWED).expect("parses")
    }

    #[test]
    fn keeps_only_allowed_asymmetric_signing_keys() {
        let mut encryption = ec_key(Some("enc"), None);
        encryption["use"] = "enc".into();
        let set = parse(&[
            ec_key(Some("a"), Some("ES256")),
            ec_key(Some("b"), None),
            ec_key(Some("es384"), Some("ES384")),
            ec_key(Some("mislabelled"), Some("RS256")),
            encryption,
            serde_json::json!({"kty": "oct", "kid": "hmac", "alg": "HS256", "k": "c2VjcmV0"}),
            serde_json::json!({"kty": "AKP", "kid": "future", "alg": "ML-DSA-44"}),
        ]);
        assert_eq!(set.len(), 2);
        assert_eq!(
            set.find(Some("a")).and_then(|k| k.alg),
            Some(Algorithm::ES256)
        );
        assert!(set.find(Some("b")).is_some_and(|k| k.alg.is_none()));
        for kid in ["es384", "mislabelled", "enc", "hmac", "future"] {
            assert!(set.find(Some(kid)).is_none(), "{kid} kept");
        }
    }

    #[test]
    fn a_token_without_kid_matches_only_a_single_key() {
        assert!(parse(&[ec_key(None, None)]).find(None).is_some());
        assert!(parse(&[ec_key(Some("a"), None)]).find(None).is_some());
        let two = parse(&[ec_key(Some("a"), None), ec_key(Some("b"), None)]);
        assert!(two.find(None).is_none());
    }

    #[test]
    fn refuses_a_document_without_keys() {
        for doc in ["[]", "{}", "not json", r#"{"keys": {}}"#] {
            assert!(matches!(
                KeySet::parse(doc.as_bytes(), ALLOWED),
                Err(JwksError::InvalidJwks(_))
            ));
        }
    }

    #[cfg(feature = "remote")]
    #[test]
    fn reads_max_age_from_cache_control() {
        let secs = Duration::from_secs;
        assert_eq!(remote::parse_max_age("public, max-age=60"), Some(secs(60)));
        assert_eq!(remote::parse_max_age("Max-Age = \"120\""), Some(secs(120)));
        assert_eq!(remote::parse_max_age("no-store"), Some(secs(0)));
        assert_eq!(remote::parse_max_age("public"), None);
        assert_eq!(remote::parse_max_age("max-age=soon"), None);
    }
}
