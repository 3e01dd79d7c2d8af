//! Grant revocation for access tokens. A JWT access token cannot be recalled once issued, so
//! when a person revokes what they granted a client, the revocation is remembered per
//! (tenant, person, client) and introspection treats every token of that grant issued at or
//! before it (`iat` ≤ the revocation) as inactive. A token issued after a new consent is not
//! affected. A revocation is kept until every token it could concern has expired.

use crate::ids::TenantId;
use crate::store::StoreResult;
use async_trait::async_trait;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// The revocation of a person's grant to a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantRevocation {
    pub tenant_id: TenantId,
    pub identity_id: Uuid,
    pub client_id: String,
    pub revoked_at: OffsetDateTime,
    /// After this no access token issued before `revoked_at` is live anyway.
    pub expires_at: OffsetDateTime,
}

impl GrantRevocation {
    /// A revocation at `now`, kept for `longest_token_lifespan` (the longest any access token
    /// may live).
    pub fn new(
        tenant_id: TenantId,
        identity_id: Uuid,
        client_id: &str,
        longest_token_lifespan: Duration,
        now: OffsetDateTime,
    ) -> Self {
        Self {
            tenant_id,
            identity_id,
            client_id: client_id.to_owned(),
            revoked_at: now,
            expires_at: now + longest_token_lifespan,
        }
    }
}

/// Whether a token issued at `iat` (whole seconds, as in the JWT) falls under a revocation at
/// `revoked_at`. A token issued in the same second as the revocation counts as revoked: `iat`
/// cannot tell which came first, and the safe answer is "revoked".
pub fn issued_before_revocation(iat: i64, revoked_at: OffsetDateTime) -> bool {
    iat <= revoked_at.unix_timestamp()
}

#[async_trait]
pub trait GrantRevocationStore: Send + Sync {
    /// Records a revocation; a later one for the same grant replaces an earlier one (the latest
    /// time and expiry are kept).
    async fn record_grant_revocation(&self, revocation: &GrantRevocation) -> StoreResult<()>;
    /// Whether the grant of (tenant, person, client) was revoked at or after `since` (a token's
    /// `iat`, truncated to the second).
    async fn grant_revoked_since(
        &self,
        tenant: TenantId,
        identity_id: Uuid,
        client_id: &str,
        since: OffsetDateTime,
    ) -> StoreResult<bool>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_issued_up_to_the_revocation_second_are_revoked() {
        let at = time::macros::datetime!(2026-01-01 00:00:10.5 UTC);
        let revocation = GrantRevocation::new(
            TenantId::DEFAULT,
            Uuid::from_u128(1),
            "web",
            Duration::hours(24),
            at,
        );
        assert_eq!(revocation.expires_at, at + Duration::hours(24));
        let second = at.unix_timestamp();
        assert!(issued_before_revocation(second - 5, at));
        assert!(issued_before_revocation(second, at), "same second");
        assert!(!issued_before_revocation(second + 1, at));
    }
}
