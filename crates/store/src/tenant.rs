//! Tenants and their API keys; deleting a tenant deletes everything it owns.

use crate::{Store, Ts, corrupt, count_owned_locked, store_error, with_pool};
use async_trait::async_trait;
use gatehouse_domain::ids::TenantId;
use gatehouse_domain::oauth::catalog::builtin_scopes;
use gatehouse_domain::secret::TokenHash;
use gatehouse_domain::store::{StoreError, StoreResult};
use gatehouse_domain::tenant::{
    ApiKey, LAST_USED_GRANULARITY, Tenant, TenantSettings, TenantStore,
};
use sqlx::types::Json;
use time::OffsetDateTime;
use uuid::Uuid;

/// Every table with a `tenant_id` column, in an order that deletes referencing rows before the
/// rows they reference. A conformance test checks that the schema has no other such table, so a
/// new tenant-owned table cannot be forgotten here.
pub const TENANT_OWNED_TABLES: &[&str] = &[
    "console_app_owners",
    "oauth2_refresh_families",
    "oauth2_grant_revocations",
    "oauth2_consents",
    "oauth2_codes",
    "oauth2_pending_authorizations",
    "oauth2_opaque_tokens",
    "oauth2_revoked_tokens",
    "sessions",
    "selfservice_flows",
    "courier_messages",
    "audit_events",
    "throttle_failures",
    "throttle_lockouts",
    "webhook_deliveries",
    "oauth2_scopes",
    "social_links",
    "social_logins",
    "exchange_codes",
    "magic_links",
    "social_providers",
    "tenant_api_keys",
    "oauth2_clients",
    "identity_identifiers",
    "identities",
];

#[derive(sqlx::FromRow)]
struct TenantRow {
    id: Uuid,
    name: String,
    settings: Json<serde_json::Value>,
    created_at: Ts,
    updated_at: Ts,
}

impl TenantRow {
    fn into_tenant(self) -> StoreResult<Tenant> {
        let settings: TenantSettings =
            serde_json::from_value(self.settings.0).map_err(|e| corrupt("tenant settings", e))?;
        Ok(Tenant {
            id: TenantId(self.id),
            name: self.name,
            settings,
            created_at: self.created_at.0,
            updated_at: self.updated_at.0,
        })
    }
}

#[derive(sqlx::FromRow)]
struct ApiKeyRow {
    id: Uuid,
    tenant_id: Uuid,
    name: String,
    prefix: String,
    key_hash: Vec<u8>,
    created_at: Ts,
    last_used_at: Option<Ts>,
}

impl ApiKeyRow {
    fn into_key(self) -> StoreResult<ApiKey> {
        Ok(ApiKey {
            id: self.id,
            tenant_id: TenantId(self.tenant_id),
            name: self.name,
            prefix: self.prefix,
            hash: TokenHash::from_slice(&self.key_hash)
                .ok_or_else(|| corrupt("api key hash", "wrong length"))?,
            created_at: self.created_at.0,
            last_used_at: self.last_used_at.map(|t| t.0),
        })
    }
}

const TENANT_COLUMNS: &str = "id, name, settings, created_at, updated_at";
/// [`TENANT_COLUMNS`] of `tenants t` in a join.
const OWNED_TENANT_COLUMNS: &str = "t.id, t.name, t.settings, t.created_at, t.updated_at";
const KEY_COLUMNS: &str = "id, tenant_id, name, prefix, key_hash, created_at, last_used_at";

fn settings_json(tenant: &Tenant) -> StoreResult<serde_json::Value> {
    serde_json::to_value(&tenant.settings).map_err(|e| StoreError::Backend(Box::new(e)))
}

impl Store {
    /// The tenant row, its built-in scopes and, for an app made in the console, its owner row,
    /// in one transaction; `false` (nothing written) when the owner already owns `limit` apps.
    async fn insert_tenant_owned_by(
        &self,
        tenant: &Tenant,
        owner: Option<(Uuid, OffsetDateTime, u32)>,
    ) -> StoreResult<bool> {
        let settings = settings_json(tenant)?;
        // A new tenant starts with the built-in scope catalog, as the default tenant did.
        let scopes = builtin_scopes(tenant.id, tenant.created_at);
        with_pool!(self, |pool| {
            let mut tx = pool.begin().await.map_err(store_error)?;
            if let Some((owner, _, limit)) = owner {
                let owned = count_owned_locked!(
                    tx,
                    owner,
                    "SELECT COUNT(*) FROM console_app_owners WHERE identity_id = $1"
                );
                if owned >= i64::from(limit) {
                    return Ok(false);
                }
            }
            sqlx::query(
                "INSERT INTO tenants (id, name, settings, created_at, updated_at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(tenant.id.0)
            .bind(&tenant.name)
            .bind(Json(&settings))
            .bind(Ts(tenant.created_at))
            .bind(Ts(tenant.updated_at))
            .execute(&mut *tx)
            .await
            .map_err(store_error)?;
            for scope in &scopes {
                sqlx::query(
                    "INSERT INTO oauth2_scopes (tenant_id, name, display_name, description, \
                     claims, active, builtin, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(scope.tenant_id.0)
                .bind(&scope.name)
                .bind(&scope.display_name)
                .bind(&scope.description)
                .bind(Json(&scope.claims))
                .bind(scope.active)
                .bind(scope.builtin)
                .bind(Ts(scope.created_at))
                .bind(Ts(scope.updated_at))
                .execute(&mut *tx)
                .await
                .map_err(store_error)?;
            }
            if let Some((owner, now, _)) = owner {
                sqlx::query(
                    "INSERT INTO console_app_owners (tenant_id, identity_id, created_at) \
                     VALUES ($1, $2, $3)",
                )
                .bind(tenant.id.0)
                .bind(owner)
                .bind(Ts(now))
                .execute(&mut *tx)
                .await
                .map_err(store_error)?;
            }
            tx.commit().await.map_err(store_error)?;
        });
        Ok(true)
    }
}

#[async_trait]
impl TenantStore for Store {
    async fn insert_tenant(&self, tenant: &Tenant) -> StoreResult<()> {
        self.insert_tenant_owned_by(tenant, None).await.map(|_| ())
    }

    async fn insert_owned_tenant(
        &self,
        tenant: &Tenant,
        owner: Uuid,
        now: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<bool> {
        self.insert_tenant_owned_by(tenant, Some((owner, now, limit)))
            .await
    }

    async fn list_owned_tenants(&self, owner: Uuid) -> StoreResult<Vec<Tenant>> {
        let sql = format!(
            "SELECT {OWNED_TENANT_COLUMNS} FROM tenants t \
             JOIN console_app_owners o ON o.tenant_id = t.id \
             WHERE o.identity_id = $1 ORDER BY t.id"
        );
        let rows: Vec<TenantRow> = with_pool!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(owner)
                .fetch_all(pool)
                .await
                .map_err(store_error)?
        });
        rows.into_iter().map(TenantRow::into_tenant).collect()
    }

    async fn find_owned_tenant(&self, owner: Uuid, id: TenantId) -> StoreResult<Option<Tenant>> {
        let sql = format!(
            "SELECT {OWNED_TENANT_COLUMNS} FROM tenants t \
             JOIN console_app_owners o ON o.tenant_id = t.id \
             WHERE o.identity_id = $1 AND t.id = $2"
        );
        let row: Option<TenantRow> = with_pool!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(owner)
                .bind(id.0)
                .fetch_optional(pool)
                .await
                .map_err(store_error)?
        });
        row.map(TenantRow::into_tenant).transpose()
    }

    async fn find_tenant(&self, id: TenantId) -> StoreResult<Option<Tenant>> {
        let sql = format!("SELECT {TENANT_COLUMNS} FROM tenants WHERE id = $1");
        let row: Option<TenantRow> = with_pool!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(id.0)
                .fetch_optional(pool)
                .await
                .map_err(store_error)?
        });
        row.map(TenantRow::into_tenant).transpose()
    }

    async fn list_tenants(&self, after: Option<Uuid>, limit: u32) -> StoreResult<Vec<Tenant>> {
        let sql =
            format!("SELECT {TENANT_COLUMNS} FROM tenants WHERE id > $1 ORDER BY id LIMIT $2");
        let rows: Vec<TenantRow> = with_pool!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(after.unwrap_or(Uuid::nil()))
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await
                .map_err(store_error)?
        });
        rows.into_iter().map(TenantRow::into_tenant).collect()
    }

    async fn update_tenant(&self, tenant: &Tenant) -> StoreResult<()> {
        let settings = settings_json(tenant)?;
        let affected = with_pool!(self, |pool| {
            sqlx::query(
                "UPDATE tenants SET name = $2, settings = $3, updated_at = $4 WHERE id = $1",
            )
            .bind(tenant.id.0)
            .bind(&tenant.name)
            .bind(Json(&settings))
            .bind(Ts(tenant.updated_at))
            .execute(pool)
            .await
            .map_err(store_error)?
            .rows_affected()
        });
        if affected == 0 {
            Err(StoreError::NotFound)
        } else {
            Ok(())
        }
    }

    async fn delete_tenant(&self, id: TenantId) -> StoreResult<()> {
        if id.is_builtin() {
            return Err(StoreError::Conflict {
                constraint: if id == TenantId::DEFAULT {
                    "default_tenant"
                } else {
                    "console_tenant"
                }
                .to_owned(),
            });
        }
        let affected = with_pool!(self, |pool| {
            let mut tx = pool.begin().await.map_err(store_error)?;
            // Clients elsewhere registered by this tenant's people lose their owner (the
            // foreign key would do it too; said here so the order below needs no exception).
            sqlx::query(
                "UPDATE oauth2_clients SET owner_identity_id = NULL WHERE tenant_id <> $1 \
                 AND owner_identity_id IN (SELECT id FROM identities WHERE tenant_id = $1)",
            )
            .bind(id.0)
            .execute(&mut *tx)
            .await
            .map_err(store_error)?;
            for table in TENANT_OWNED_TABLES {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DELETE FROM {table} WHERE tenant_id = $1"
                )))
                .bind(id.0)
                .execute(&mut *tx)
                .await
                .map_err(store_error)?;
            }
            let affected = sqlx::query("DELETE FROM tenants WHERE id = $1")
                .bind(id.0)
                .execute(&mut *tx)
                .await
                .map_err(store_error)?
                .rows_affected();
            tx.commit().await.map_err(store_error)?;
            affected
        });
        if affected == 0 {
            Err(StoreError::NotFound)
        } else {
            Ok(())
        }
    }

    async fn insert_api_key(&self, key: &ApiKey) -> StoreResult<()> {
        with_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO tenant_api_keys (id, tenant_id, name, prefix, key_hash, created_at, last_used_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(key.id)
            .bind(key.tenant_id.0)
            .bind(&key.name)
            .bind(&key.prefix)
            .bind(key.hash.0.to_vec())
            .bind(Ts(key.created_at))
            .bind(key.last_used_at.map(Ts))
            .execute(pool)
            .await
            .map_err(store_error)?;
        });
        Ok(())
    }

    async fn list_api_keys(&self, tenant: TenantId) -> StoreResult<Vec<ApiKey>> {
        let sql = format!(
            "SELECT {KEY_COLUMNS} FROM tenant_api_keys WHERE tenant_id = $1 ORDER BY id DESC"
        );
        let rows: Vec<ApiKeyRow> = with_pool!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(tenant.0)
                .fetch_all(pool)
                .await
                .map_err(store_error)?
        });
        rows.into_iter().map(ApiKeyRow::into_key).collect()
    }

    async fn find_api_key_by_hash(&self, hash: &TokenHash) -> StoreResult<Option<ApiKey>> {
        let sql = format!("SELECT {KEY_COLUMNS} FROM tenant_api_keys WHERE key_hash = $1");
        let row: Option<ApiKeyRow> = with_pool!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(hash.0.to_vec())
                .fetch_optional(pool)
                .await
                .map_err(store_error)?
        });
        row.map(ApiKeyRow::into_key).transpose()
    }

    async fn delete_api_key(&self, tenant: TenantId, id: Uuid) -> StoreResult<()> {
        let affected = with_pool!(self, |pool| {
            sqlx::query("DELETE FROM tenant_api_keys WHERE tenant_id = $1 AND id = $2")
                .bind(tenant.0)
                .bind(id)
                .execute(pool)
                .await
                .map_err(store_error)?
                .rows_affected()
        });
        if affected == 0 {
            Err(StoreError::NotFound)
        } else {
            Ok(())
        }
    }

    async fn touch_api_key(&self, id: Uuid, now: OffsetDateTime) -> StoreResult<()> {
        with_pool!(self, |pool| {
            sqlx::query(
                "UPDATE tenant_api_keys SET last_used_at = $2 \
                 WHERE id = $1 AND (last_used_at IS NULL OR last_used_at <= $3)",
            )
            .bind(id)
            .bind(Ts(now))
            .bind(Ts(now - LAST_USED_GRANULARITY))
            .execute(pool)
            .await
            .map_err(store_error)?;
        });
        Ok(())
    }
}
