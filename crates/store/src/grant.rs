//! Grant revocations: one row per (tenant, person, client) holding the latest revocation, read
//! by introspection for tokens issued to a person.

use crate::{Store, Ts, store_error, with_pool};
use async_trait::async_trait;
use gatehouse_domain::ids::{TenantId, new_row_id};
use gatehouse_domain::oauth::grant::{GrantRevocation, GrantRevocationStore};
use gatehouse_domain::store::StoreResult;
use time::OffsetDateTime;
use uuid::Uuid;

#[async_trait]
impl GrantRevocationStore for Store {
    async fn record_grant_revocation(&self, revocation: &GrantRevocation) -> StoreResult<()> {
        with_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO oauth2_grant_revocations \
                 (id, tenant_id, identity_id, client_id, revoked_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (tenant_id, identity_id, client_id) DO UPDATE SET \
                 revoked_at = CASE WHEN excluded.revoked_at > oauth2_grant_revocations.revoked_at \
                 THEN excluded.revoked_at ELSE oauth2_grant_revocations.revoked_at END, \
                 expires_at = CASE WHEN excluded.expires_at > oauth2_grant_revocations.expires_at \
                 THEN excluded.expires_at ELSE oauth2_grant_revocations.expires_at END",
            )
            .bind(new_row_id(revocation.revoked_at))
            .bind(revocation.tenant_id.0)
            .bind(revocation.identity_id)
            .bind(&revocation.client_id)
            .bind(Ts(revocation.revoked_at))
            .bind(Ts(revocation.expires_at))
            .execute(pool)
            .await
            .map_err(store_error)?;
        });
        Ok(())
    }

    async fn grant_revoked_since(
        &self,
        tenant: TenantId,
        identity_id: Uuid,
        client_id: &str,
        since: OffsetDateTime,
    ) -> StoreResult<bool> {
        let count: i64 = with_pool!(self, |pool| {
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM oauth2_grant_revocations \
                 WHERE tenant_id = $1 AND identity_id = $2 AND client_id = $3 \
                 AND revoked_at >= $4",
            )
            .bind(tenant.0)
            .bind(identity_id)
            .bind(client_id)
            .bind(Ts(since))
            .fetch_one(pool)
            .await
            .map_err(store_error)?
        });
        Ok(count > 0)
    }
}
