//! What the OAuth 2.0 features need from storage.

use super::catalog::CatalogScope;
use super::client::Client;
use super::token::{OpaqueToken, RevokedAccessToken};
use crate::ids::TenantId;
use crate::secret::TokenHash;
use crate::store::StoreResult;
use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

/// Which clients to list.
#[derive(Debug, Default, Clone)]
pub struct ClientFilter {
    pub tenant_id: Option<TenantId>,
    pub client_name: Option<String>,
    /// Keyset cursor: only clients with a row id after this one.
    pub after: Option<Uuid>,
    pub limit: u32,
}

#[async_trait]
pub trait ClientStore: Send + Sync {
    /// Fails with `Conflict` when the `client_id` is taken.
    async fn insert_client(&self, client: &Client) -> StoreResult<()>;
    async fn find_client(&self, client_id: &str) -> StoreResult<Option<Client>>;
    /// Replaces a client's stored fields; `NotFound` if it is gone.
    async fn update_client(&self, client: &Client) -> StoreResult<()>;
    /// Deletes a client, the opaque tokens issued to it and its refresh token families;
    /// `NotFound` if it is gone.
    async fn delete_client(&self, client_id: &str) -> StoreResult<()>;
    /// Clients in row-id order.
    async fn list_clients(&self, filter: &ClientFilter) -> StoreResult<Vec<Client>>;
    /// Inserts a client a person registered for themselves (`client.owner_identity_id`), unless
    /// they already own `limit` clients: then `Ok(false)` and nothing is written. `NotFound` when
    /// the client names no owner or the owner identity is gone. Counting and inserting are one
    /// transaction that first writes the owner's identity row, so a person's concurrent
    /// registrations take turns and cannot pass the limit.
    async fn insert_owned_client(&self, client: &Client, limit: u32) -> StoreResult<bool>;
    /// The clients `owner` registered, in row-id order, after the `after` cursor, at most `limit`.
    async fn list_owned_clients(
        &self,
        owner: Uuid,
        after: Option<Uuid>,
        limit: u32,
    ) -> StoreResult<Vec<Client>>;
    /// Deactivates `client_id` if `owner` owns it; `false` when there is no such client or
    /// someone else owns it (the caller cannot tell the two apart).
    async fn deactivate_owned_client(
        &self,
        owner: Uuid,
        client_id: &str,
        now: OffsetDateTime,
    ) -> StoreResult<bool>;
}

#[async_trait]
pub trait TokenStore: Send + Sync {
    async fn insert_opaque_token(&self, token: &OpaqueToken) -> StoreResult<()>;
    async fn find_opaque_token(&self, hash: &TokenHash) -> StoreResult<Option<OpaqueToken>>;
    /// Removes an opaque token; `false` if there was none.
    async fn delete_opaque_token(&self, hash: &TokenHash) -> StoreResult<bool>;
    /// Records a revoked JWT; recording the same `jti` twice is not an error.
    async fn insert_revoked_access_token(&self, revoked: &RevokedAccessToken) -> StoreResult<()>;
    async fn is_access_token_revoked(&self, jti: &str) -> StoreResult<bool>;
}

/// The scope catalog, per tenant.
#[async_trait]
pub trait ScopeStore: Send + Sync {
    /// A tenant's scopes, by name.
    async fn list_scopes(&self, tenant_id: TenantId) -> StoreResult<Vec<CatalogScope>>;
    /// Every tenant's scopes (what each node keeps in memory), by tenant and name.
    async fn list_all_scopes(&self) -> StoreResult<Vec<CatalogScope>>;
    async fn find_scope(
        &self,
        tenant_id: TenantId,
        name: &str,
    ) -> StoreResult<Option<CatalogScope>>;
    /// `Conflict` when the tenant has a scope of this name; `NotFound` when there is no such
    /// tenant.
    async fn insert_scope(&self, scope: &CatalogScope) -> StoreResult<()>;
    /// Replaces the display name, description, claims, active flag and update time; `NotFound`
    /// if the scope is gone.
    async fn update_scope(&self, scope: &CatalogScope) -> StoreResult<()>;
    /// `NotFound` if there is no such scope.
    async fn delete_scope(&self, tenant_id: TenantId, name: &str) -> StoreResult<()>;
}
