//! What the authorization code grant checks and signs: the PKCE verifier against the challenge
//! (RFC 7636 §4.6) and the ID token's claims (OpenID Connect Core §2, §3.1.3.6), with `at_hash`
//! computed for the signing algorithm.

use crate::keys::KeyAlg;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

/// The JOSE `typ` of an ID token.
pub const ID_TOKEN_TYP: &str = "JWT";

/// Whether `verifier` is a well-formed code verifier (RFC 7636 §4.1: 43–128 characters of
/// `[A-Za-z0-9-._~]`) whose S256 challenge is `challenge`. Compared in constant time.
pub fn pkce_matches(challenge: &str, verifier: &str) -> bool {
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    if !well_formed {
        return false;
    }
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
    let computed = URL_SAFE_NO_PAD.encode(digest.as_ref());
    bool::from(computed.as_bytes().ct_eq(challenge.as_bytes()))
}

/// `at_hash` (and `c_hash`): the left half of the hash of `value` that goes with the signing
/// algorithm (SHA-256 for RS256 and ES256), base64url without padding.
pub fn half_hash(alg: KeyAlg, value: &str) -> String {
    let algorithm = match alg {
        KeyAlg::RS256 | KeyAlg::ES256 => &aws_lc_rs::digest::SHA256,
    };
    let digest = aws_lc_rs::digest::digest(algorithm, value.as_bytes());
    let bytes = digest.as_ref();
    URL_SAFE_NO_PAD.encode(&bytes[..bytes.len() / 2])
}

/// The claims of an ID token. Profile and email claims are added per granted scope by the
/// caller, in `extra`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdTokenClaims {
    pub iss: String,
    pub sub: String,
    /// The client id (a single audience).
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    /// When the person signed in (seconds since the epoch).
    pub auth_time: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_hash: Option<String>,
    /// How the person signed in (RFC 8176 values: `pwd`, `otp`, …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
    /// The Gatehouse session, for logout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    pub tenant_id: crate::ids::TenantId,
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// RFC 8176 `amr` for a session's authentication method.
pub fn amr_of(method: &str) -> &'static str {
    match method {
        "password" => "pwd",
        // An emailed one-time code (registration, recovery).
        "code" | "code_recovery" => "otp",
        "totp" => "otp",
        "webauthn" => "hwk",
        _ => "user",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rfc_7636_example_verifier_matches_its_challenge() {
        // RFC 7636 Appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(pkce_matches(challenge, verifier));
        assert!(!pkce_matches(
            challenge,
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXK"
        ));
        // `plain`: the verifier as its own challenge never matches.
        assert!(!pkce_matches(verifier, verifier));
        // Too short or with characters outside the alphabet.
        assert!(!pkce_matches(challenge, "short"));
        assert!(!pkce_matches(challenge, &format!("{verifier}+")));
    }

    #[test]
    fn at_hash_is_the_left_half_of_sha_256() {
        // OpenID Connect Core §A.3 (access token "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y").
        assert_eq!(
            half_hash(KeyAlg::RS256, "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"),
            "77QmUPtjPfzWtF2AnpK9RQ"
        );
        assert_eq!(half_hash(KeyAlg::ES256, "x").len(), 22);
    }

    #[test]
    fn claims_serialize_flat_and_without_empty_optionals() {
        let mut extra = serde_json::Map::new();
        extra.insert("email".into(), serde_json::json!("ada@example.com"));
        let claims = IdTokenClaims {
            iss: "https://id.example".into(),
            sub: "u1".into(),
            aud: "web".into(),
            exp: 2,
            iat: 1,
            auth_time: 1,
            nonce: None,
            at_hash: Some("h".into()),
            amr: vec![amr_of("password").into()],
            sid: None,
            tenant_id: crate::ids::TenantId::DEFAULT,
            extra,
        };
        let json = serde_json::to_value(&claims).expect("serializes");
        assert_eq!(json["email"], "ada@example.com");
        assert_eq!(json["amr"][0], "pwd");
        assert!(json.get("nonce").is_none() && json.get("sid").is_none());
    }
}
