//! Authorization codes (RFC 6749 §4.1.2): single-use, short-lived, bound to the client, the
//! redirect URI, the PKCE challenge, the nonce and the scopes the person granted. Only the
//! code's SHA-256 is stored; redeeming marks it used in the same statement that reads it, so of
//! two concurrent redemptions exactly one wins. A code presented again finds it used, and the
//! tokens issued from it (their `jti`s, recorded with it) are revoked.

use super::scope::Scope;
use crate::ids::TenantId;
use crate::secret::{Secret, TokenHash};
use crate::store::StoreResult;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// How long a code may be redeemed (DESIGN.md §2: 10 minutes).
pub const CODE_LIFESPAN: Duration = Duration::minutes(10);
/// Bytes of entropy in a code.
const CODE_BYTES: usize = 32;

/// What a code stands for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeGrant {
    pub tenant_id: TenantId,
    pub client_id: String,
    pub identity_id: Uuid,
    /// The session the person signed in with (the ID token's `sid`).
    pub session_id: Option<Uuid>,
    pub redirect_uri: String,
    /// The authorization request named `redirect_uri`: the token request must repeat it.
    #[serde(default)]
    pub redirect_uri_sent: bool,
    /// The scopes the person granted.
    #[serde(with = "scope_text")]
    pub scope: Scope,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub auth_time: OffsetDateTime,
    /// How the person signed in (RFC 8176 values).
    pub amr: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub issued_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

mod scope_text {
    use super::Scope;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(scope: &Scope, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&scope.to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Scope, D::Error> {
        Scope::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

impl CodeGrant {
    /// A new code for this grant: the code (shown once, in the redirect) and its hash.
    pub fn mint(&self) -> (Secret, TokenHash) {
        let code = Secret::generate(CODE_BYTES);
        let hash = code.hash();
        (code, hash)
    }
}

/// What presenting a code found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redemption {
    /// Unused and in time: now used; the grant it stands for.
    Redeemed(CodeGrant),
    /// Used before: a replay. The grant and the `jti`s of the tokens issued from it.
    Replayed {
        grant: CodeGrant,
        issued: Vec<String>,
    },
    /// Expired, or no such code.
    Invalid,
}

#[async_trait]
pub trait CodeStore: Send + Sync {
    /// Stores a code by its hash; it expires at `grant.expires_at`.
    async fn insert_code(&self, hash: &TokenHash, grant: &CodeGrant) -> StoreResult<()>;
    /// Redeems the code at `now`: exactly one of several concurrent calls gets `Redeemed`.
    async fn redeem_code(&self, hash: &TokenHash, now: OffsetDateTime) -> StoreResult<Redemption>;
    /// Records the `jti`s of the tokens issued from a redeemed code (revoked on replay).
    async fn record_code_tokens(&self, hash: &TokenHash, jtis: &[String]) -> StoreResult<()>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grant_round_trips_as_json_and_mints_distinct_codes() {
        let now = time::macros::datetime!(2026-01-01 00:00 UTC);
        let grant = CodeGrant {
            tenant_id: TenantId::DEFAULT,
            client_id: "web".into(),
            identity_id: Uuid::from_u128(1),
            session_id: Some(Uuid::from_u128(2)),
            redirect_uri: "https://app.example/cb".into(),
            redirect_uri_sent: true,
            scope: Scope::parse("openid email").expect("valid"),
            nonce: Some("n".into()),
            code_challenge: None,
            auth_time: now,
            amr: vec!["pwd".into()],
            issued_at: now,
            expires_at: now + CODE_LIFESPAN,
        };
        let json = serde_json::to_value(&grant).expect("serializes");
        assert_eq!(json["scope"], "email openid");
        let back: CodeGrant = serde_json::from_value(json).expect("parses");
        assert_eq!(back, grant);
        let (a, ha) = grant.mint();
        let (b, hb) = grant.mint();
        assert_ne!(a.expose(), b.expose());
        assert_ne!(ha, hb);
        assert_eq!(a.hash(), ha);
    }
}
