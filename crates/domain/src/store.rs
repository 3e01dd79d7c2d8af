//! The error every store trait returns, and what all stores share.

use async_trait::async_trait;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("record not found")]
    NotFound,
    #[error("record conflicts with an existing one ({constraint})")]
    Conflict { constraint: String },
    #[error("database error")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Health and instance-level state.
#[async_trait]
pub trait SystemStore: Send + Sync {
    /// A round trip to the database.
    async fn ping(&self) -> StoreResult<()>;
    /// Whether every migration embedded in this binary has been applied.
    async fn migrations_applied(&self) -> StoreResult<bool>;
    /// Reads an instance setting (used by `--dev` to keep generated secrets across restarts).
    async fn find_instance_setting(&self, name: &str) -> StoreResult<Option<String>>;
    /// Stores an instance setting unless it exists; returns the value that is stored afterwards,
    /// so two nodes starting at once agree on one value.
    async fn insert_instance_setting(&self, name: &str, value: &str) -> StoreResult<String>;
}

/// Periodic removal of expired rows.
#[async_trait]
pub trait CleanupStore: Send + Sync {
    /// Deletes at most `batch` expired rows from each table that expires; returns how many went.
    async fn delete_expired(&self, now: time::OffsetDateTime, batch: u32) -> StoreResult<u64>;
}

/// Everything the web layer needs, as one object.
pub trait Storage:
    SystemStore
    + CleanupStore
    + crate::oauth::store::ClientStore
    + crate::oauth::store::TokenStore
    + crate::oauth::store::ScopeStore
    + crate::oauth::code::CodeStore
    + crate::oauth::consent::ConsentStore
    + crate::oauth::pending::PendingStore
    + crate::oauth::refresh::RefreshStore
    + crate::oauth::grant::GrantRevocationStore
    + crate::keys::KeyStore
    + crate::flow::FlowStore
    + crate::identity::store::IdentityStore
    + crate::audit::AuditStore
    + crate::courier::CourierStore
    + crate::throttle::ThrottleStore
    + crate::ip_ban::IpBanStore
    + crate::session::SessionStore
    + crate::webhook::WebhookStore
    + crate::social::SocialStore
    + crate::tenant::TenantStore
    + crate::magic_link::MagicLinkStore
{
}

impl<T> Storage for T where
    T: SystemStore
        + CleanupStore
        + crate::oauth::store::ClientStore
        + crate::oauth::store::TokenStore
        + crate::oauth::store::ScopeStore
        + crate::oauth::code::CodeStore
        + crate::oauth::consent::ConsentStore
        + crate::oauth::pending::PendingStore
        + crate::oauth::refresh::RefreshStore
        + crate::oauth::grant::GrantRevocationStore
        + crate::keys::KeyStore
        + crate::flow::FlowStore
        + crate::identity::store::IdentityStore
        + crate::audit::AuditStore
        + crate::courier::CourierStore
        + crate::throttle::ThrottleStore
        + crate::ip_ban::IpBanStore
        + crate::session::SessionStore
        + crate::webhook::WebhookStore
        + crate::social::SocialStore
        + crate::tenant::TenantStore
        + crate::magic_link::MagicLinkStore
{
}
