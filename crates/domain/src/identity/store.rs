//! What the identity features need from storage.

use super::Identity;
use super::password::PasswordHash;
use crate::ids::TenantId;
use crate::store::StoreResult;
use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

/// The `constraint` of the `Conflict` a taken identifier causes.
pub const IDENTIFIER_CONSTRAINT: &str = "identity_identifier";

/// Which of an identity's addresses a lookup means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressKind {
    /// Addresses verification proves (`verifiable_addresses`).
    Verifiable,
    /// Addresses account recovery sends to (`recovery_addresses`).
    Recovery,
}

impl AddressKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Verifiable => "verifiable",
            Self::Recovery => "recovery",
        }
    }
}

/// Which identities to list: one page in id (creation) order.
#[derive(Debug, Clone)]
pub struct IdentityFilter {
    /// Only the identity with this (normalized) identifier.
    pub identifier: Option<String>,
    /// Only identities with an identifier containing this (normalized) text.
    pub identifier_contains: Option<String>,
    /// Keyset cursor: only identities with an id after this one.
    pub after: Option<Uuid>,
    /// Page size (at least 1).
    pub limit: u32,
}

impl Default for IdentityFilter {
    fn default() -> Self {
        Self {
            identifier: None,
            identifier_contains: None,
            after: None,
            limit: 100,
        }
    }
}

/// One page of identities.
#[derive(Debug, Clone, Default)]
pub struct IdentityPage {
    pub identities: Vec<Identity>,
    /// The cursor of the next page (`IdentityFilter::after`); `None` on the last page.
    pub next: Option<Uuid>,
}

#[async_trait]
pub trait IdentityStore: Send + Sync {
    /// Stores a new identity, its identifiers (normalized), addresses and optional password.
    /// `Conflict { constraint: "identity_identifier" }` when an identifier is taken in the tenant.
    async fn insert_identity(
        &self,
        identity: &Identity,
        identifiers: &[String],
        password: Option<&PasswordHash>,
    ) -> StoreResult<()>;
    async fn find_identity(&self, tenant: TenantId, id: Uuid) -> StoreResult<Option<Identity>>;
    /// The identity that signs in with `identifier` (normalized), with its password hash.
    async fn find_identity_by_identifier(
        &self,
        tenant: TenantId,
        identifier: &str,
    ) -> StoreResult<Option<(Identity, Option<PasswordHash>)>>;
    /// The identity with this (normalized) email address among its addresses of `kind`; the
    /// oldest one if several share it.
    async fn find_identity_by_address(
        &self,
        tenant: TenantId,
        kind: AddressKind,
        address: &str,
    ) -> StoreResult<Option<Identity>>;
    async fn list_identities(
        &self,
        tenant: TenantId,
        filter: &IdentityFilter,
    ) -> StoreResult<IdentityPage>;
    /// Replaces the identity's schema, state, traits, metadata and addresses, and its
    /// identifiers. `NotFound` if it is gone; `Conflict` as for insert.
    async fn update_identity(&self, identity: &Identity, identifiers: &[String])
    -> StoreResult<()>;
    /// [`IdentityStore::update_identity`] and a new password hash, in one transaction (the
    /// credential's time is `identity.updated_at`).
    async fn update_identity_with_password(
        &self,
        identity: &Identity,
        identifiers: &[String],
        password: &PasswordHash,
    ) -> StoreResult<()>;
    /// Sets (or replaces) the password hash; `NotFound` if the identity is gone.
    async fn update_password_hash(
        &self,
        tenant: TenantId,
        id: Uuid,
        hash: &PasswordHash,
        now: OffsetDateTime,
    ) -> StoreResult<()>;
    /// Deletes the identity and everything that references it (sessions go by FK cascade); the
    /// OAuth 2.0 clients it registered are deactivated and lose their owner, in the same
    /// transaction. `NotFound` if absent.
    async fn delete_identity(&self, tenant: TenantId, id: Uuid) -> StoreResult<()>;
}
