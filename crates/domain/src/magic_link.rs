//! Magic links: passwordless sign-in to an app (a tenant). The app's backend asks for a link for
//! an address; the person gets a random single-use token by email, stored only as its SHA-256,
//! and opening the link signs them in (and proves they own the address).

use crate::ids::TenantId;
use crate::secret::TokenHash;
use crate::store::StoreResult;
use async_trait::async_trait;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// How long a link works unless the app configures otherwise.
pub const DEFAULT_LIFESPAN: Duration = Duration::minutes(15);
/// The longest lifespan an app may configure.
pub const MAX_LIFESPAN: Duration = Duration::hours(24);

/// A link sent, waiting to be opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MagicLink {
    /// SHA-256 of the token in the link.
    pub token: TokenHash,
    pub tenant_id: TenantId,
    pub identity_id: Uuid,
    /// The address the link was sent to (normalized): opening it verifies that address.
    pub address: String,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

#[async_trait]
pub trait MagicLinkStore: Send + Sync {
    async fn insert_magic_link(&self, link: &MagicLink) -> StoreResult<()>;
    /// Deletes the link of `tenant` whose token hashes to `token` and returns it when it has not
    /// expired at `now`: a link works once, for the app it was sent for.
    async fn take_magic_link(
        &self,
        tenant: TenantId,
        token: &TokenHash,
        now: OffsetDateTime,
    ) -> StoreResult<Option<MagicLink>>;
}
