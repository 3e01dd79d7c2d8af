//! Consent grants: one row per person and client; saving a decision merges its scopes into the
//! stored ones inside one transaction.

use crate::{Store, Ts, corrupt, store_error, with_pool};
use async_trait::async_trait;
use gatehouse_domain::ids::TenantId;
use gatehouse_domain::oauth::consent::{ConsentGrant, ConsentStore};
use gatehouse_domain::oauth::scope::Scope;
use gatehouse_domain::store::StoreResult;
use uuid::Uuid;

#[derive(sqlx::FromRow)]
struct ConsentRow {
    tenant_id: Uuid,
    identity_id: Uuid,
    client_id: String,
    scope: String,
    remembered: bool,
    created_at: Ts,
    last_used_at: Ts,
}

impl ConsentRow {
    fn into_grant(self) -> StoreResult<ConsentGrant> {
        Ok(ConsentGrant {
            tenant_id: TenantId(self.tenant_id),
            identity_id: self.identity_id,
            client_id: self.client_id,
            scope: Scope::parse(&self.scope).map_err(|e| corrupt("consent scope", e))?,
            remembered: self.remembered,
            created_at: self.created_at.0,
            last_used_at: self.last_used_at.0,
        })
    }
}

const COLUMNS: &str =
    "tenant_id, identity_id, client_id, scope, remembered, created_at, last_used_at";

#[async_trait]
impl ConsentStore for Store {
    async fn save_consent(&self, grant: &ConsentGrant) -> StoreResult<ConsentGrant> {
        let lock = match self {
            Store::Sqlite(_) => "",
            Store::Postgres(_) => "FOR UPDATE",
        };
        let select = format!(
            "SELECT {COLUMNS} FROM oauth2_consents \
             WHERE tenant_id = $1 AND identity_id = $2 AND client_id = $3 {lock}"
        );
        let saved = with_pool!(self, |pool| {
            let mut tx = pool.begin().await.map_err(store_error)?;
            let existing: Option<ConsentRow> = sqlx::query_as(sqlx::AssertSqlSafe(select))
                .bind(grant.tenant_id.0)
                .bind(grant.identity_id)
                .bind(&grant.client_id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(store_error)?;
            let mut saved = grant.clone();
            if let Some(row) = existing {
                let before = row.into_grant()?;
                saved.scope = Scope::parse(&format!("{} {}", before.scope, grant.scope))
                    .map_err(|e| corrupt("consent scope", e))?;
                saved.remembered = before.remembered || grant.remembered;
                saved.created_at = before.created_at;
            }
            sqlx::query(
                "INSERT INTO oauth2_consents (tenant_id, identity_id, client_id, scope, remembered, \
                 created_at, last_used_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (tenant_id, identity_id, client_id) DO UPDATE SET \
                 scope = excluded.scope, remembered = excluded.remembered, \
                 last_used_at = excluded.last_used_at",
            )
            .bind(saved.tenant_id.0)
            .bind(saved.identity_id)
            .bind(&saved.client_id)
            .bind(saved.scope.to_string())
            .bind(saved.remembered)
            .bind(Ts(saved.created_at))
            .bind(Ts(saved.last_used_at))
            .execute(&mut *tx)
            .await
            .map_err(store_error)?;
            tx.commit().await.map_err(store_error)?;
            saved
        });
        Ok(saved)
    }

    async fn find_consent(
        &self,
        tenant: TenantId,
        identity_id: Uuid,
        client_id: &str,
    ) -> StoreResult<Option<ConsentGrant>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM oauth2_consents \
             WHERE tenant_id = $1 AND identity_id = $2 AND client_id = $3"
        );
        let row: Option<ConsentRow> = with_pool!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(tenant.0)
                .bind(identity_id)
                .bind(client_id)
                .fetch_optional(pool)
                .await
                .map_err(store_error)?
        });
        row.map(ConsentRow::into_grant).transpose()
    }

    async fn list_consents(
        &self,
        tenant: TenantId,
        identity_id: Uuid,
    ) -> StoreResult<Vec<ConsentGrant>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM oauth2_consents WHERE tenant_id = $1 AND identity_id = $2 \
             ORDER BY last_used_at DESC, client_id"
        );
        let rows: Vec<ConsentRow> = with_pool!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(tenant.0)
                .bind(identity_id)
                .fetch_all(pool)
                .await
                .map_err(store_error)?
        });
        rows.into_iter().map(ConsentRow::into_grant).collect()
    }

    async fn delete_consent(
        &self,
        tenant: TenantId,
        identity_id: Uuid,
        client_id: &str,
    ) -> StoreResult<bool> {
        let affected = with_pool!(self, |pool| {
            sqlx::query(
                "DELETE FROM oauth2_consents \
                 WHERE tenant_id = $1 AND identity_id = $2 AND client_id = $3",
            )
            .bind(tenant.0)
            .bind(identity_id)
            .bind(client_id)
            .execute(pool)
            .await
            .map_err(store_error)?
            .rows_affected()
        });
        Ok(affected > 0)
    }
}
