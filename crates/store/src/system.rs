//! Health, instance settings and the cleanup of expired rows.

use crate::{Store, Ts, store_error, with_pool};
use async_trait::async_trait;
use gatehouse_domain::store::{CleanupStore, StoreResult, SystemStore};
use time::OffsetDateTime;

#[async_trait]
impl SystemStore for Store {
    async fn ping(&self) -> StoreResult<()> {
        with_pool!(self, |pool| sqlx::query("SELECT 1")
            .execute(pool)
            .await
            .map(|_| ())
            .map_err(store_error))?;
        Ok(())
    }

    async fn migrations_applied(&self) -> StoreResult<bool> {
        Ok(self.migration_status().await?.iter().all(|m| m.applied))
    }

    async fn find_instance_setting(&self, name: &str) -> StoreResult<Option<String>> {
        with_pool!(self, |pool| {
            sqlx::query_scalar("SELECT value FROM instance_settings WHERE name = $1")
                .bind(name)
                .fetch_optional(pool)
                .await
                .map_err(store_error)
        })
    }

    async fn insert_instance_setting(&self, name: &str, value: &str) -> StoreResult<String> {
        with_pool!(self, |pool| {
            sqlx::query("INSERT INTO instance_settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
                .bind(name)
                .bind(value)
                .execute(pool)
                .await
                .map_err(store_error)?;
            sqlx::query_scalar("SELECT value FROM instance_settings WHERE name = $1")
                .bind(name)
                .fetch_one(pool)
                .await
                .map_err(store_error)
        })
    }
}

/// Tables whose rows expire, with the key column that identifies a row.
const EXPIRING: &[(&str, &str)] = &[
    ("selfservice_flows", "id"),
    ("oauth2_opaque_tokens", "token_hash"),
    ("oauth2_revoked_tokens", "jti"),
    ("sessions", "id"),
    ("throttle_failures", "id"),
    ("throttle_lockouts", "key_hash"),
    ("ip_bans", "id"),
    ("webhook_deliveries", "id"),
    ("oauth2_codes", "code_hash"),
    ("oauth2_pending_authorizations", "id"),
    // Tokens before their families: a family outlives its tokens, and takes any left with it.
    ("oauth2_refresh_tokens", "token_hash"),
    ("oauth2_refresh_families", "family_id"),
    ("oauth2_grant_revocations", "id"),
    ("social_logins", "state_hash"),
    ("exchange_codes", "code_hash"),
    ("magic_links", "token_hash"),
];

#[async_trait]
impl CleanupStore for Store {
    async fn delete_expired(&self, now: OffsetDateTime, batch: u32) -> StoreResult<u64> {
        let mut deleted = 0;
        for (table, key) in EXPIRING {
            // Small batches keep each statement short; SKIP LOCKED lets several nodes clean at
            // once without waiting on each other (SQLite has a single writer anyway).
            let lock = match self {
                Store::Sqlite(_) => "",
                Store::Postgres(_) => "FOR UPDATE SKIP LOCKED",
            };
            let sql = format!(
                "DELETE FROM {table} WHERE {key} IN \
                 (SELECT {key} FROM {table} WHERE expires_at < $1 LIMIT $2 {lock})"
            );
            let result = with_pool!(self, |pool| {
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(Ts(now))
                    .bind(i64::from(batch))
                    .execute(pool)
                    .await
                    .map_err(store_error)?
                    .rows_affected()
            });
            deleted += result;
        }
        // Keys whose publication ended: their tokens have all expired.
        deleted += with_pool!(self, |pool| {
            sqlx::query("DELETE FROM signing_keys WHERE published_until IS NOT NULL AND published_until < $1")
                .bind(Ts(now))
                .execute(pool)
                .await
                .map_err(store_error)?
                .rows_affected()
        });
        Ok(deleted)
    }
}
