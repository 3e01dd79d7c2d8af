//! Failed-login records for throttling.

use crate::{Store, Ts, store_error, with_pool};
use async_trait::async_trait;
use gatehouse_domain::ids::{TenantId, new_row_id};
use gatehouse_domain::store::StoreResult;
use gatehouse_domain::throttle::{ThrottleKey, ThrottleStore};
use time::OffsetDateTime;

#[async_trait]
impl ThrottleStore for Store {
    async fn insert_throttle_failure(
        &self,
        tenant: TenantId,
        key: &ThrottleKey,
        at: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> StoreResult<()> {
        with_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO throttle_failures (id, tenant_id, key_hash, occurred_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(new_row_id(at))
            .bind(tenant.0)
            .bind(key.hash.0.to_vec())
            .bind(Ts(at))
            .bind(Ts(expires_at))
            .execute(pool)
            .await
            .map_err(store_error)?;
        });
        Ok(())
    }

    async fn list_throttle_failures(
        &self,
        tenant: TenantId,
        key: &ThrottleKey,
        since: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<OffsetDateTime>> {
        let times: Vec<Ts> = with_pool!(self, |pool| {
            sqlx::query_scalar(
                "SELECT occurred_at FROM throttle_failures \
                 WHERE key_hash = $1 AND tenant_id = $2 AND occurred_at > $3 \
                 ORDER BY occurred_at DESC LIMIT $4",
            )
            .bind(key.hash.0.to_vec())
            .bind(tenant.0)
            .bind(Ts(since))
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await
            .map_err(store_error)?
        });
        Ok(times.into_iter().map(|t| t.0).collect())
    }

    async fn count_throttle_failures(
        &self,
        tenant: TenantId,
        key: &ThrottleKey,
        since: OffsetDateTime,
    ) -> StoreResult<u64> {
        let count: i64 = with_pool!(self, |pool| {
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM throttle_failures \
                 WHERE key_hash = $1 AND tenant_id = $2 AND occurred_at > $3",
            )
            .bind(key.hash.0.to_vec())
            .bind(tenant.0)
            .bind(Ts(since))
            .fetch_one(pool)
            .await
            .map_err(store_error)?
        });
        Ok(u64::try_from(count).unwrap_or(0))
    }

    async fn insert_throttle_lockout(
        &self,
        tenant: TenantId,
        key: &ThrottleKey,
        now: OffsetDateTime,
        until: OffsetDateTime,
    ) -> StoreResult<bool> {
        // Inserts, or takes over a lockout that has ended; a lockout still running stays as it
        // is. PostgreSQL re-checks the condition on the locked row, so racing inserts see each
        // other; SQLite runs one writer at a time.
        let affected = with_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO throttle_lockouts (key_hash, tenant_id, expires_at) VALUES ($1, $2, $4) \
                 ON CONFLICT (key_hash) DO UPDATE SET expires_at = excluded.expires_at \
                 WHERE throttle_lockouts.expires_at <= $3",
            )
            .bind(key.hash.0.to_vec())
            .bind(tenant.0)
            .bind(Ts(now))
            .bind(Ts(until))
            .execute(pool)
            .await
            .map_err(store_error)?
            .rows_affected()
        });
        Ok(affected > 0)
    }

    async fn delete_throttle_failures(
        &self,
        tenant: TenantId,
        key: &ThrottleKey,
    ) -> StoreResult<u64> {
        Ok(with_pool!(self, |pool| {
            sqlx::query("DELETE FROM throttle_failures WHERE key_hash = $1 AND tenant_id = $2")
                .bind(key.hash.0.to_vec())
                .bind(tenant.0)
                .execute(pool)
                .await
                .map_err(store_error)?
                .rows_affected()
        }))
    }
}
