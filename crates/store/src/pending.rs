//! Pending authorization requests: one row per request; taking one is a single
//! `DELETE … RETURNING`, so of concurrent takers exactly one gets it on either backend.

use crate::{Store, Ts, corrupt, store_error, with_pool};
use async_trait::async_trait;
use gatehouse_domain::ids::TenantId;
use gatehouse_domain::oauth::authorize::AuthorizationRequest;
use gatehouse_domain::oauth::pending::{PendingAuthorization, PendingStore};
use gatehouse_domain::secret::TokenHash;
use gatehouse_domain::store::StoreResult;
use sqlx::types::Json;
use uuid::Uuid;

#[derive(sqlx::FromRow)]
struct PendingRow {
    id: Uuid,
    tenant_id: Uuid,
    browser_hash: Vec<u8>,
    request_document: Json<AuthorizationRequest>,
    created_at: Ts,
    expires_at: Ts,
}

impl PendingRow {
    fn into_pending(self) -> StoreResult<PendingAuthorization> {
        Ok(PendingAuthorization {
            id: self.id,
            tenant_id: TenantId(self.tenant_id),
            request: self.request_document.0,
            browser: TokenHash::from_slice(&self.browser_hash)
                .ok_or_else(|| corrupt("pending authorization browser hash", "not 32 bytes"))?,
            created_at: self.created_at.0,
            expires_at: self.expires_at.0,
        })
    }
}

const COLUMNS: &str = "id, tenant_id, browser_hash, request_document, created_at, expires_at";

#[async_trait]
impl PendingStore for Store {
    async fn insert_pending(&self, pending: &PendingAuthorization) -> StoreResult<()> {
        with_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO oauth2_pending_authorizations (id, tenant_id, client_id, \
                 browser_hash, request_document, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(pending.id)
            .bind(pending.tenant_id.0)
            .bind(&pending.request.client_id)
            .bind(pending.browser.0.to_vec())
            .bind(Json(&pending.request))
            .bind(Ts(pending.created_at))
            .bind(Ts(pending.expires_at))
            .execute(pool)
            .await
            .map_err(store_error)?;
        });
        Ok(())
    }

    async fn find_pending(&self, id: Uuid) -> StoreResult<Option<PendingAuthorization>> {
        let sql = format!("SELECT {COLUMNS} FROM oauth2_pending_authorizations WHERE id = $1");
        self.pending_row(sql, id).await
    }

    async fn take_pending(&self, id: Uuid) -> StoreResult<Option<PendingAuthorization>> {
        let sql =
            format!("DELETE FROM oauth2_pending_authorizations WHERE id = $1 RETURNING {COLUMNS}");
        self.pending_row(sql, id).await
    }
}

impl Store {
    /// The one row `sql` (binding `id` as `$1`) answers, if any.
    async fn pending_row(
        &self,
        sql: String,
        id: Uuid,
    ) -> StoreResult<Option<PendingAuthorization>> {
        let row: Option<PendingRow> = with_pool!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(id)
                .fetch_optional(pool)
                .await
                .map_err(store_error)?
        });
        row.map(PendingRow::into_pending).transpose()
    }
}
