//! What identity features need from storage (placeholder with the agreed names).

use super::Identity;
use super::password::PasswordHash;
use crate::ids::TenantId;
use crate::store::StoreResult;
use async_trait::async_trait;
use uuid::Uuid;

#[async_trait]
pub trait IdentityStore: Send + Sync {
    async fn insert_identity(
        &self,
        identity: &Identity,
        identifiers: &[String],
        password: Option<&PasswordHash>,
    ) -> StoreResult<()>;
    async fn find_identity(&self, tenant: TenantId, id: Uuid) -> StoreResult<Option<Identity>>;
    async fn update_identity(&self, identity: &Identity, identifiers: &[String])
    -> StoreResult<()>;
    /// `NotFound` if absent; its sessions go too (foreign key cascade).
    async fn delete_identity(&self, tenant: TenantId, id: Uuid) -> StoreResult<()>;
}
