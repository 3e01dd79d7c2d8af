//! The scope catalog.

use crate::{Store, Ts, store_error, with_pool};
use async_trait::async_trait;
use gatehouse_domain::ids::TenantId;
use gatehouse_domain::oauth::catalog::CatalogScope;
use gatehouse_domain::oauth::store::ScopeStore;
use gatehouse_domain::store::{StoreError, StoreResult};
use sqlx::types::Json;
use uuid::Uuid;

#[derive(sqlx::FromRow)]
struct ScopeRow {
    tenant_id: Uuid,
    name: String,
    display_name: String,
    description: String,
    claims: Json<Vec<String>>,
    active: bool,
    builtin: bool,
    created_at: Ts,
    updated_at: Ts,
}

impl From<ScopeRow> for CatalogScope {
    fn from(row: ScopeRow) -> Self {
        CatalogScope {
            tenant_id: TenantId(row.tenant_id),
            name: row.name,
            display_name: row.display_name,
            description: row.description,
            claims: row.claims.0,
            active: row.active,
            builtin: row.builtin,
            created_at: row.created_at.0,
            updated_at: row.updated_at.0,
        }
    }
}

const COLUMNS: &str =
    "tenant_id, name, display_name, description, claims, active, builtin, created_at, updated_at";

#[async_trait]
impl ScopeStore for Store {
    async fn list_scopes(&self, tenant_id: TenantId) -> StoreResult<Vec<CatalogScope>> {
        let sql = format!("SELECT {COLUMNS} FROM oauth2_scopes WHERE tenant_id = $1 ORDER BY name");
        let rows: Vec<ScopeRow> = with_pool!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(tenant_id.0)
                .fetch_all(pool)
                .await
                .map_err(store_error)?
        });
        Ok(rows.into_iter().map(CatalogScope::from).collect())
    }

    async fn list_all_scopes(&self) -> StoreResult<Vec<CatalogScope>> {
        let sql = format!("SELECT {COLUMNS} FROM oauth2_scopes ORDER BY tenant_id, name");
        let rows: Vec<ScopeRow> = with_pool!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .fetch_all(pool)
                .await
                .map_err(store_error)?
        });
        Ok(rows.into_iter().map(CatalogScope::from).collect())
    }

    async fn find_scope(
        &self,
        tenant_id: TenantId,
        name: &str,
    ) -> StoreResult<Option<CatalogScope>> {
        let sql = format!("SELECT {COLUMNS} FROM oauth2_scopes WHERE tenant_id = $1 AND name = $2");
        let row: Option<ScopeRow> = with_pool!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(tenant_id.0)
                .bind(name)
                .fetch_optional(pool)
                .await
                .map_err(store_error)?
        });
        Ok(row.map(CatalogScope::from))
    }

    async fn insert_scope(&self, scope: &CatalogScope) -> StoreResult<()> {
        let claims = Json(&scope.claims);
        with_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO oauth2_scopes (tenant_id, name, display_name, description, claims, \
                 active, builtin, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(scope.tenant_id.0)
            .bind(&scope.name)
            .bind(&scope.display_name)
            .bind(&scope.description)
            .bind(claims)
            .bind(scope.active)
            .bind(scope.builtin)
            .bind(Ts(scope.created_at))
            .bind(Ts(scope.updated_at))
            .execute(pool)
            .await
            // A tenant that does not exist is `NotFound` (a foreign key violation).
            .map_err(store_error)?;
        });
        Ok(())
    }

    async fn update_scope(&self, scope: &CatalogScope) -> StoreResult<()> {
        let claims = Json(&scope.claims);
        let affected = with_pool!(self, |pool| {
            sqlx::query(
                "UPDATE oauth2_scopes SET display_name = $3, description = $4, claims = $5, \
                 active = $6, updated_at = $7 WHERE tenant_id = $1 AND name = $2",
            )
            .bind(scope.tenant_id.0)
            .bind(&scope.name)
            .bind(&scope.display_name)
            .bind(&scope.description)
            .bind(claims)
            .bind(scope.active)
            .bind(Ts(scope.updated_at))
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

    async fn delete_scope(&self, tenant_id: TenantId, name: &str) -> StoreResult<()> {
        let affected = with_pool!(self, |pool| {
            sqlx::query("DELETE FROM oauth2_scopes WHERE tenant_id = $1 AND name = $2")
                .bind(tenant_id.0)
                .bind(name)
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
}
