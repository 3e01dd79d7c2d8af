//! The `id_token` mutator's key: an ES256 key generated at start-up and kept in memory only (a
//! restart publishes a new one; upstreams find it by `kid` in the JWKS on the API listener), and
//! the short-lived JWT it signs for each request.

use gatehouse_domain::cipher::Cipher;
use gatehouse_domain::gateway::{AuthenticationSession, IdTokenConfig};
use gatehouse_domain::keys::{JwsError, KeyAlg, KeyError, SigningKey, generate_key, open_key};
use gatehouse_domain::secret::random_token;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

/// Claims copied from the authenticated session into the token when present.
const COPIED_CLAIMS: [&str; 4] = ["tenant_id", "email", "scope", "client_id"];

pub struct IdTokenSigner {
    key: SigningKey,
    jwks: String,
}

impl IdTokenSigner {
    pub fn generate(now: OffsetDateTime) -> Result<Self, KeyError> {
        // The key never leaves memory: a throw-away cipher only satisfies the key API's sealing.
        let secret = random_token(32);
        let cipher =
            Cipher::new(std::slice::from_ref(&secret)).map_err(|_| KeyError::Generation)?;
        let record = generate_key(KeyAlg::ES256, &cipher, now, now)?;
        let key = open_key(&record, &cipher)?;
        let jwks = json!({ "keys": [key.public_jwk()] }).to_string();
        Ok(Self { key, jwks })
    }

    pub fn jwks_json(&self) -> &str {
        &self.jwks
    }

    /// A JWT for `session`: `iss`, `sub`, `aud` (when configured), `iat`, `nbf`, `exp`, `jti`,
    /// plus the session's `tenant_id`, `email`, `scope` and `client_id`.
    pub fn sign(
        &self,
        config: &IdTokenConfig,
        session: &AuthenticationSession,
        now: OffsetDateTime,
    ) -> Result<String, JwsError> {
        let mut claims = Map::new();
        for name in COPIED_CLAIMS {
            if let Some(value) = session.claims.get(name) {
                claims.insert(name.to_owned(), value.clone());
            }
        }
        let iat = now.unix_timestamp();
        claims.insert("iss".into(), Value::String(config.issuer_url.clone()));
        claims.insert("sub".into(), Value::String(session.subject.clone()));
        if !config.audience.is_empty() {
            claims.insert("aud".into(), json!(config.audience));
        }
        claims.insert("iat".into(), json!(iat));
        claims.insert("nbf".into(), json!(iat));
        claims.insert("exp".into(), json!((now + config.ttl).unix_timestamp()));
        claims.insert("jti".into(), Value::String(random_token(16)));
        self.key.sign("JWT", &claims)
    }
}
