//! Test keys: fresh ES256 / RS256 key pairs, their JWKS entries, and tokens signed with them.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, RsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Value, json};

pub(crate) struct TestKey {
    kid: String,
    alg: Algorithm,
    key: EncodingKey,
}

impl TestKey {
    pub(crate) fn es256(kid: &str) -> Self {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).expect("generates");
        let pkcs8 = pair.to_pkcs8v1().expect("encodes");
        Self {
            kid: kid.to_owned(),
            alg: Algorithm::ES256,
            key: EncodingKey::from_ec_der(pkcs8.as_ref()),
        }
    }

    pub(crate) fn rs256(kid: &str) -> Self {
        let pair = RsaKeyPair::generate(KeySize::Rsa2048).expect("generates");
        let der: aws_lc_rs::encoding::Pkcs8V1Der<'static> = pair.as_der().expect("encodes");
        let body = STANDARD.encode(der.as_ref());
        let lines: Vec<&str> = body
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).expect("base64 is ascii"))
            .collect();
        let pem = format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            lines.join("\n")
        );
        Self {
            kid: kid.to_owned(),
            alg: Algorithm::RS256,
            key: EncodingKey::from_rsa_pem(pem.as_bytes()).expect("PKCS#8 PEM"),
        }
    }

    /// The public JWKS entry, with `kid`, `alg` and `use`.
    pub(crate) fn jwk(&self) -> Value {
        let mut jwk = Jwk::from_encoding_key(&self.key, self.alg).expect("public key");
        jwk.common.key_id = Some(self.kid.clone());
        let mut value = serde_json::to_value(jwk).expect("serializes");
        value["use"] = json!("sig");
        value
    }

    /// A token with `typ` `at+jwt` and this key's `kid`.
    pub(crate) fn sign(&self, claims: &Value) -> String {
        self.sign_with(claims, |_| {})
    }

    pub(crate) fn sign_with(&self, claims: &Value, edit: impl FnOnce(&mut Header)) -> String {
        let mut header = Header::new(self.alg);
        header.typ = Some("at+jwt".to_owned());
        header.kid = Some(self.kid.clone());
        edit(&mut header);
        encode(&header, claims, &self.key).expect("signs")
    }
}

pub(crate) fn jwks(keys: &[&TestKey]) -> String {
    json!({ "keys": keys.iter().map(|k| k.jwk()).collect::<Vec<_>>() }).to_string()
}

/// base64url (no padding) of a JSON value, as in a JWS segment.
pub(crate) fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}
