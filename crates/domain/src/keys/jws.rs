//! Compact JWS (RFC 7515) signing and verification with keys parsed once.
//!
//! Parsing a private key costs more than the signature itself, so a [`SigningKey`] keeps the
//! parsed aws-lc key pair and the JWKS is serialized once per key set, not per request.

use super::{KeyAlg, KeyError, KeyRecord};
use crate::cipher::Cipher;
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    self, ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair,
    ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde_json::json;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use time::OffsetDateTime;

pub(super) fn generate_pkcs8(alg: KeyAlg) -> Result<Vec<u8>, KeyError> {
    match alg {
        KeyAlg::ES256 => {
            let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
                .map_err(|_| KeyError::Generation)?;
            Ok(pair
                .to_pkcs8v1()
                .map_err(|_| KeyError::Generation)?
                .as_ref()
                .to_vec())
        }
        KeyAlg::RS256 => {
            let pair = signature::RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
                .map_err(|_| KeyError::Generation)?;
            let der: aws_lc_rs::encoding::Pkcs8V1Der<'static> =
                pair.as_der().map_err(|_| KeyError::Generation)?;
            Ok(der.as_ref().to_vec())
        }
    }
}

/// The base64url JOSE header `{alg, kid, typ}`.
fn encode_header(alg: KeyAlg, kid: &str, typ: &str) -> Result<String, JwsError> {
    #[derive(Serialize)]
    struct Header<'a> {
        alg: &'a str,
        kid: &'a str,
        typ: &'a str,
    }
    let header = serde_json::to_vec(&Header {
        alg: alg.as_str(),
        kid,
        typ,
    })
    .map_err(|_| JwsError::Malformed)?;
    Ok(URL_SAFE_NO_PAD.encode(header))
}

enum Pair {
    Ec(EcdsaKeyPair),
    Rsa(signature::RsaKeyPair),
}

/// A private key ready to sign, with its public JWK.
pub struct SigningKey {
    kid: String,
    alg: KeyAlg,
    pair: Pair,
    jwk: serde_json::Value,
    rng: SystemRandom,
    /// The encoded header for access tokens, the hot path.
    access_token_header: String,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    pub(super) fn from_pkcs8(kid: &str, alg: KeyAlg, pkcs8: &[u8]) -> Result<Self, KeyError> {
        let unusable = |reason: &str| KeyError::Unusable {
            kid: kid.to_owned(),
            reason: reason.to_owned(),
        };
        let (pair, jwk) = match alg {
            KeyAlg::ES256 => {
                let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8)
                    .map_err(|_| unusable("not a P-256 PKCS#8 key"))?;
                let point = pair.public_key().as_ref();
                if point.len() != 65 || point[0] != 4 {
                    return Err(unusable("unexpected public point encoding"));
                }
                let jwk = json!({
                    "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": kid,
                    "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
                    "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
                });
                (Pair::Ec(pair), jwk)
            }
            KeyAlg::RS256 => {
                let pair = signature::RsaKeyPair::from_pkcs8(pkcs8)
                    .map_err(|_| unusable("not an RSA PKCS#8 key"))?;
                let public = pair.public_key();
                let jwk = json!({
                    "kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
                    "n": URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero()),
                    "e": URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero()),
                });
                (Pair::Rsa(pair), jwk)
            }
        };
        Ok(Self {
            access_token_header: encode_header(alg, kid, crate::oauth::token::ACCESS_TOKEN_TYP)
                .map_err(|_| unusable("header does not encode"))?,
            kid: kid.to_owned(),
            alg,
            pair,
            jwk,
            rng: SystemRandom::new(),
        })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn alg(&self) -> KeyAlg {
        self.alg
    }

    pub fn public_jwk(&self) -> &serde_json::Value {
        &self.jwk
    }

    fn verifier(&self) -> Result<ParsedPublicKey, KeyError> {
        let parsed = match &self.pair {
            Pair::Ec(pair) => {
                ParsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, pair.public_key().as_ref())
            }
            Pair::Rsa(pair) => {
                ParsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, pair.public_key().as_ref())
            }
        };
        parsed.map_err(|_| KeyError::Unusable {
            kid: self.kid.clone(),
            reason: "public key rejected".to_owned(),
        })
    }

    /// Signs `claims` as a compact JWS with header `{alg, kid, typ}`.
    pub fn sign<T: Serialize>(&self, typ: &str, claims: &T) -> Result<String, JwsError> {
        let payload = serde_json::to_vec(claims).map_err(|_| JwsError::Malformed)?;
        let mut out = String::with_capacity(payload.len() * 4 / 3 + 512);
        if typ == crate::oauth::token::ACCESS_TOKEN_TYP {
            out.push_str(&self.access_token_header);
        } else {
            out.push_str(&encode_header(self.alg, &self.kid, typ)?);
        }
        out.push('.');
        URL_SAFE_NO_PAD.encode_string(&payload, &mut out);
        let signature = match &self.pair {
            Pair::Ec(pair) => pair
                .sign(&self.rng, out.as_bytes())
                .map_err(|_| JwsError::Signing)?
                .as_ref()
                .to_vec(),
            Pair::Rsa(pair) => {
                let mut sig = vec![0u8; pair.public_modulus_len()];
                pair.sign(&RSA_PKCS1_SHA256, &self.rng, out.as_bytes(), &mut sig)
                    .map_err(|_| JwsError::Signing)?;
                sig
            }
        };
        out.push('.');
        URL_SAFE_NO_PAD.encode_string(&signature, &mut out);
        Ok(out)
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JwsError {
    #[error("token is not a well-formed compact JWS")]
    Malformed,
    #[error("token was not signed by a key of this issuer")]
    UnknownKey,
    #[error("token algorithm does not match its key")]
    AlgorithmMismatch,
    #[error("token signature is invalid")]
    BadSignature,
    #[error("signing failed")]
    Signing,
}

/// A JWS whose signature checked out against one of our published keys.
#[derive(Debug)]
pub struct VerifiedJwt {
    pub kid: String,
    pub typ: Option<String>,
    pub claims: serde_json::Map<String, serde_json::Value>,
}

struct Verifier {
    alg: KeyAlg,
    key: ParsedPublicKey,
}

/// The keys in force: the current signing key per algorithm, every published key for
/// verification, and the JWKS document serialized once.
pub struct KeySet {
    signing: HashMap<KeyAlg, Arc<SigningKey>>,
    verifiers: HashMap<String, Verifier>,
    jwks: Arc<str>,
    /// The earliest future `signs_from` or `published_until`: the key set must be rebuilt then.
    pub next_change: Option<OffsetDateTime>,
}

impl fmt::Debug for KeySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeySet")
            .field("kids", &self.verifiers.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl KeySet {
    /// Builds the key set in force at `now` from the stored keys.
    pub fn build(
        records: &[KeyRecord],
        cipher: &Cipher,
        now: OffsetDateTime,
    ) -> Result<Self, KeyError> {
        let mut signing: HashMap<KeyAlg, (OffsetDateTime, Arc<SigningKey>)> = HashMap::new();
        let mut verifiers = HashMap::new();
        let mut jwks = Vec::new();
        let mut next_change: Option<OffsetDateTime> = None;
        let mut note = |t: OffsetDateTime| {
            if t > now && next_change.is_none_or(|n| t < n) {
                next_change = Some(t);
            }
        };
        for record in records.iter().filter(|r| r.is_published(now)) {
            let key = super::open_key(record, cipher)?;
            verifiers.insert(
                record.kid.clone(),
                Verifier {
                    alg: record.alg,
                    key: key.verifier()?,
                },
            );
            jwks.push(key.public_jwk().clone());
            note(record.signs_from);
            if let Some(until) = record.published_until {
                note(until);
            }
            if record.signs_from <= now
                && signing
                    .get(&record.alg)
                    .is_none_or(|(from, _)| record.signs_from >= *from)
            {
                signing.insert(record.alg, (record.signs_from, Arc::new(key)));
            }
        }
        let jwks =
            serde_json::to_string(&json!({ "keys": jwks })).map_err(|_| KeyError::Generation)?;
        Ok(Self {
            signing: signing
                .into_iter()
                .map(|(alg, (_, key))| (alg, key))
                .collect(),
            verifiers,
            jwks: jwks.into(),
            next_change,
        })
    }

    pub fn signing_key(&self, alg: KeyAlg) -> Result<&Arc<SigningKey>, KeyError> {
        self.signing.get(&alg).ok_or(KeyError::Missing(alg))
    }

    /// The JWKS document (`{"keys": [...]}`), public members only.
    pub fn jwks_json(&self) -> Arc<str> {
        self.jwks.clone()
    }

    pub fn has_signing_keys(&self) -> bool {
        KeyAlg::ALL.iter().all(|alg| self.signing.contains_key(alg))
    }

    /// Verifies a compact JWS against our own published keys only (`kid` is never fetched from
    /// elsewhere, `alg` must be the key's own: no `none`, no HMAC).
    pub fn verify(&self, token: &str) -> Result<VerifiedJwt, JwsError> {
        #[derive(serde::Deserialize)]
        struct Header {
            alg: String,
            kid: Option<String>,
            typ: Option<String>,
        }
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(JwsError::Malformed);
        };
        let header_bytes = URL_SAFE_NO_PAD.decode(h).map_err(|_| JwsError::Malformed)?;
        let header: Header =
            serde_json::from_slice(&header_bytes).map_err(|_| JwsError::Malformed)?;
        let kid = header.kid.ok_or(JwsError::UnknownKey)?;
        let verifier = self.verifiers.get(&kid).ok_or(JwsError::UnknownKey)?;
        if KeyAlg::parse(&header.alg) != Some(verifier.alg) {
            return Err(JwsError::AlgorithmMismatch);
        }
        let signature = URL_SAFE_NO_PAD.decode(s).map_err(|_| JwsError::Malformed)?;
        let signed_len = h.len() + 1 + p.len();
        verifier
            .key
            .verify_sig(&token.as_bytes()[..signed_len], &signature)
            .map_err(|_| JwsError::BadSignature)?;
        let payload = URL_SAFE_NO_PAD.decode(p).map_err(|_| JwsError::Malformed)?;
        let claims = serde_json::from_slice(&payload).map_err(|_| JwsError::Malformed)?;
        Ok(VerifiedJwt {
            kid,
            typ: header.typ,
            claims,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::generate_key;
    use time::Duration;

    fn setup() -> (Cipher, OffsetDateTime) {
        let cipher = Cipher::new(&["test-cipher-secret-with-enough-length"]).expect("valid secret");
        (cipher, OffsetDateTime::UNIX_EPOCH + Duration::days(20_000))
    }

    #[test]
    fn signs_and_verifies_with_both_algorithms() {
        let (cipher, now) = setup();
        let records: Vec<_> = KeyAlg::ALL
            .iter()
            .map(|alg| generate_key(*alg, &cipher, now, now).expect("generates"))
            .collect();
        let set = KeySet::build(&records, &cipher, now).expect("builds");
        for alg in KeyAlg::ALL {
            let token = set
                .signing_key(alg)
                .expect("present")
                .sign("JWT", &json!({"sub": "a"}))
                .expect("signs");
            let verified = set.verify(&token).expect("verifies");
            assert_eq!(verified.claims["sub"], "a");
            assert_eq!(verified.typ.as_deref(), Some("JWT"));
        }
    }

    #[test]
    fn refuses_none_hmac_tampering_and_foreign_keys() {
        let (cipher, now) = setup();
        let record = generate_key(KeyAlg::ES256, &cipher, now, now).expect("generates");
        let set = KeySet::build(std::slice::from_ref(&record), &cipher, now).expect("builds");
        let token = set
            .signing_key(KeyAlg::ES256)
            .expect("present")
            .sign("at+jwt", &json!({"sub": "a"}))
            .expect("signs");
        let parts: Vec<&str> = token.split('.').collect();

        let none_header =
            URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"none","kid":"{}"}}"#, record.kid));
        assert_eq!(
            set.verify(&format!("{none_header}.{}.", parts[1])).err(),
            Some(JwsError::AlgorithmMismatch)
        );
        let hs_header =
            URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"HS256","kid":"{}"}}"#, record.kid));
        assert_eq!(
            set.verify(&format!("{hs_header}.{}.{}", parts[1], parts[2]))
                .err(),
            Some(JwsError::AlgorithmMismatch)
        );
        let other_payload = URL_SAFE_NO_PAD.encode(r#"{"sub":"b"}"#);
        assert_eq!(
            set.verify(&format!("{}.{other_payload}.{}", parts[0], parts[2]))
                .err(),
            Some(JwsError::BadSignature)
        );
        assert_eq!(set.verify("a.b").err(), Some(JwsError::Malformed));

        let foreign = generate_key(KeyAlg::ES256, &cipher, now, now).expect("generates");
        let foreign_set = KeySet::build(&[foreign], &cipher, now).expect("builds");
        let foreign_token = foreign_set
            .signing_key(KeyAlg::ES256)
            .expect("present")
            .sign("at+jwt", &json!({}))
            .expect("signs");
        assert_eq!(set.verify(&foreign_token).err(), Some(JwsError::UnknownKey));
    }

    #[test]
    fn next_key_is_published_but_does_not_sign_until_its_time() {
        let (cipher, now) = setup();
        let old = generate_key(KeyAlg::ES256, &cipher, now, now).expect("generates");
        let next = generate_key(KeyAlg::ES256, &cipher, now, now + Duration::seconds(30))
            .expect("generates");
        let records = vec![old.clone(), next.clone()];
        let set = KeySet::build(&records, &cipher, now).expect("builds");
        assert_eq!(
            set.signing_key(KeyAlg::ES256).expect("present").kid(),
            old.kid
        );
        assert!(set.jwks_json().contains(&next.kid));
        assert_eq!(set.next_change, Some(now + Duration::seconds(30)));
        let later = KeySet::build(&records, &cipher, now + Duration::seconds(31)).expect("builds");
        assert_eq!(
            later.signing_key(KeyAlg::ES256).expect("present").kid(),
            next.kid
        );
    }
}
