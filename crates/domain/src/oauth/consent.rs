//! Consent grants: what a person allowed a client to have (scopes), whether the decision is
//! remembered (the consent page is skipped next time when it covers the request), and when it
//! was made and last used. One grant per person and client; people list and revoke them
//! ("connected apps"), and revoking one revokes that client's tokens for the person.

use super::scope::Scope;
use crate::ids::TenantId;
use crate::store::StoreResult;
use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentGrant {
    pub tenant_id: TenantId,
    pub identity_id: Uuid,
    pub client_id: String,
    /// The scopes granted (the union of every remembered decision).
    pub scope: Scope,
    /// The person asked to remember the decision.
    pub remembered: bool,
    pub created_at: OffsetDateTime,
    pub last_used_at: OffsetDateTime,
}

impl ConsentGrant {
    /// Whether this grant lets the consent page be skipped for `requested` scopes.
    pub fn covers(&self, requested: &Scope) -> bool {
        self.remembered && requested.first_not_in(&self.scope).is_none()
    }
}

#[async_trait]
pub trait ConsentStore: Send + Sync {
    /// Records a decision: a new grant, or the existing one with `grant.scope` added to its
    /// scopes, `remembered` set when either is, and `last_used_at` moved on.
    async fn save_consent(&self, grant: &ConsentGrant) -> StoreResult<ConsentGrant>;
    async fn find_consent(
        &self,
        tenant: TenantId,
        identity_id: Uuid,
        client_id: &str,
    ) -> StoreResult<Option<ConsentGrant>>;
    /// A person's grants, most recently used first.
    async fn list_consents(
        &self,
        tenant: TenantId,
        identity_id: Uuid,
    ) -> StoreResult<Vec<ConsentGrant>>;
    /// Deletes the grant; `false` when there was none.
    async fn delete_consent(
        &self,
        tenant: TenantId,
        identity_id: Uuid,
        client_id: &str,
    ) -> StoreResult<bool>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_remembered_grant_with_every_scope_covers_a_request() {
        let now = time::macros::datetime!(2026-01-01 00:00 UTC);
        let mut grant = ConsentGrant {
            tenant_id: TenantId::DEFAULT,
            identity_id: Uuid::from_u128(1),
            client_id: "web".into(),
            scope: Scope::parse("openid email").expect("valid"),
            remembered: true,
            created_at: now,
            last_used_at: now,
        };
        assert!(grant.covers(&Scope::parse("openid").expect("valid")));
        assert!(grant.covers(&Scope::parse("openid email").expect("valid")));
        assert!(!grant.covers(&Scope::parse("openid profile").expect("valid")));
        grant.remembered = false;
        assert!(!grant.covers(&Scope::parse("openid").expect("valid")));
    }
}
