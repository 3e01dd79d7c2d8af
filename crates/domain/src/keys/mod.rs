//! Signing keys: generation, encryption at rest, rotation, and the published JWKS.
//!
//! Every key is a [`KeyRecord`] in the database: the private part sealed with the [`Cipher`], the
//! public part as a JWK. A key signs from `signs_from` on and is published (in the JWKS, and
//! accepted when we verify our own tokens) until `published_until`. Rotation inserts the new key
//! with `signs_from` a little in the future, so every node and every resource-server cache sees it
//! in the JWKS before the first token is signed with it, and gives the old key a
//! `published_until` that outlives every token it may still sign.

mod jws;

pub use jws::{JwsError, KeySet, SigningKey, VerifiedJwt};

use crate::cipher::Cipher;
use crate::store::StoreResult;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum KeyAlg {
    /// ECDSA P-256 with SHA-256: access tokens (fast to sign and verify).
    ES256,
    /// RSASSA-PKCS1-v1_5 with SHA-256: ID tokens, as OpenID Connect requires.
    RS256,
}

impl KeyAlg {
    pub const ALL: [KeyAlg; 2] = [KeyAlg::ES256, KeyAlg::RS256];

    pub fn as_str(self) -> &'static str {
        match self {
            KeyAlg::ES256 => "ES256",
            KeyAlg::RS256 => "RS256",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "ES256" => Some(KeyAlg::ES256),
            "RS256" => Some(KeyAlg::RS256),
            _ => None,
        }
    }
}

/// A signing key as stored.
#[derive(Clone)]
pub struct KeyRecord {
    pub kid: String,
    pub alg: KeyAlg,
    /// PKCS#8 DER of the private key, sealed with the cipher (context `signing_key:<kid>`).
    pub private_key_sealed: Vec<u8>,
    /// The public JWK as published.
    pub public_jwk: serde_json::Value,
    pub created_at: OffsetDateTime,
    pub signs_from: OffsetDateTime,
    pub published_until: Option<OffsetDateTime>,
}

impl std::fmt::Debug for KeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRecord")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("private_key_sealed", &"[redacted]")
            .field("signs_from", &self.signs_from)
            .field("published_until", &self.published_until)
            .finish()
    }
}

impl KeyRecord {
    pub fn is_published(&self, now: OffsetDateTime) -> bool {
        self.published_until.is_none_or(|until| until > now)
    }

    /// The state shown to operators.
    pub fn state(&self, now: OffsetDateTime) -> &'static str {
        if !self.is_published(now) {
            "expired"
        } else if self.signs_from > now {
            "next"
        } else if self.published_until.is_some() {
            "retiring"
        } else {
            "current"
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("key generation failed")]
    Generation,
    #[error("stored key {kid} cannot be used: {reason}")]
    Unusable { kid: String, reason: String },
    #[error("no signing key for {0:?}")]
    Missing(KeyAlg),
}

fn sealing_context(kid: &str) -> String {
    format!("signing_key:{kid}")
}

/// Generates a key of `alg`; it signs from `signs_from` on.
pub fn generate_key(
    alg: KeyAlg,
    cipher: &Cipher,
    now: OffsetDateTime,
    signs_from: OffsetDateTime,
) -> Result<KeyRecord, KeyError> {
    let pkcs8 = jws::generate_pkcs8(alg)?;
    let kid = format!(
        "{}-{}",
        alg.as_str().to_ascii_lowercase(),
        crate::ids::new_row_id(now).simple()
    );
    let key = SigningKey::from_pkcs8(&kid, alg, &pkcs8)?;
    Ok(KeyRecord {
        private_key_sealed: cipher.encrypt(&sealing_context(&kid), &pkcs8),
        public_jwk: key.public_jwk().clone(),
        kid,
        alg,
        created_at: now,
        signs_from,
        published_until: None,
    })
}

/// Opens a stored key.
pub fn open_key(record: &KeyRecord, cipher: &Cipher) -> Result<SigningKey, KeyError> {
    let pkcs8 = cipher
        .decrypt(&sealing_context(&record.kid), &record.private_key_sealed)
        .map_err(|e| KeyError::Unusable {
            kid: record.kid.clone(),
            reason: e.to_string(),
        })?;
    SigningKey::from_pkcs8(&record.kid, record.alg, &pkcs8)
}

/// What a rotation writes: the new key, and the retirement time of the keys it replaces.
#[derive(Debug)]
pub struct Rotation {
    pub new_key: KeyRecord,
    /// `(kid, published_until)` for every key of the same algorithm that had no end yet.
    pub retire: Vec<(String, OffsetDateTime)>,
}

/// Plans the rotation of `alg`: the new key is published now and signs after `publish_ahead`;
/// the keys it replaces stay published for `retain` after that (the longest lifetime of a token
/// they may have signed).
pub fn plan_rotation(
    existing: &[KeyRecord],
    alg: KeyAlg,
    cipher: &Cipher,
    now: OffsetDateTime,
    publish_ahead: Duration,
    retain: Duration,
) -> Result<Rotation, KeyError> {
    let signs_from = now + publish_ahead;
    let new_key = generate_key(alg, cipher, now, signs_from)?;
    let retire = existing
        .iter()
        .filter(|k| k.alg == alg && k.published_until.is_none())
        .map(|k| (k.kid.clone(), signs_from + retain))
        .collect();
    Ok(Rotation { new_key, retire })
}

#[async_trait]
pub trait KeyStore: Send + Sync {
    /// Every key that is still published at `now`, oldest first.
    async fn list_signing_keys(&self, now: OffsetDateTime) -> StoreResult<Vec<KeyRecord>>;
    async fn insert_signing_key(&self, key: &KeyRecord) -> StoreResult<()>;
    /// Inserts the new key and retires the old ones in one transaction.
    async fn apply_key_rotation(&self, rotation: &Rotation) -> StoreResult<()>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cipher() -> Cipher {
        Cipher::new(&["test-cipher-secret-with-enough-length"]).expect("valid secret")
    }

    #[test]
    fn generated_keys_open_again_and_publish_no_private_members() {
        let cipher = cipher();
        let now = OffsetDateTime::UNIX_EPOCH + Duration::days(20_000);
        for alg in KeyAlg::ALL {
            let record = generate_key(alg, &cipher, now, now).expect("generates");
            let key = open_key(&record, &cipher).expect("opens");
            assert_eq!(key.kid(), record.kid);
            let jwk = record.public_jwk.as_object().expect("object");
            for private in ["d", "p", "q", "dp", "dq", "qi"] {
                assert!(!jwk.contains_key(private), "{alg:?} JWK leaks {private}");
            }
            assert_eq!(jwk["alg"], alg.as_str());
            assert_eq!(jwk["use"], "sig");
        }
    }

    #[test]
    fn rotation_publishes_first_and_retires_after_the_retention() {
        let cipher = cipher();
        let now = OffsetDateTime::UNIX_EPOCH + Duration::days(20_000);
        let old = generate_key(KeyAlg::ES256, &cipher, now, now).expect("generates");
        let rsa = generate_key(KeyAlg::RS256, &cipher, now, now).expect("generates");
        let rotation = plan_rotation(
            &[old.clone(), rsa],
            KeyAlg::ES256,
            &cipher,
            now,
            Duration::seconds(30),
            Duration::hours(1),
        )
        .expect("rotates");
        assert_eq!(rotation.new_key.signs_from, now + Duration::seconds(30));
        assert_eq!(
            rotation.retire,
            vec![(old.kid, now + Duration::seconds(30) + Duration::hours(1))]
        );
        assert_eq!(rotation.new_key.state(now), "next");
    }
}
