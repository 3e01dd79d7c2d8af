//! Authorization codes: one row per code, keyed by its SHA-256; redemption is one conditional
//! `UPDATE … RETURNING`, so exactly one of concurrent redemptions wins on either backend.

use crate::{Store, Ts, store_error, with_pool};
use async_trait::async_trait;
use gatehouse_domain::oauth::code::{CodeGrant, CodeStore, Redemption};
use gatehouse_domain::secret::TokenHash;
use gatehouse_domain::store::StoreResult;
use sqlx::types::Json;
use time::OffsetDateTime;

#[derive(sqlx::FromRow)]
struct CodeRow {
    grant_document: Json<CodeGrant>,
    issued_jtis: Json<Vec<String>>,
    used_at: Option<Ts>,
}

#[async_trait]
impl CodeStore for Store {
    async fn insert_code(&self, hash: &TokenHash, grant: &CodeGrant) -> StoreResult<()> {
        with_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO oauth2_codes (code_hash, tenant_id, identity_id, client_id, \
                 grant_document, expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(hash.0.to_vec())
            .bind(grant.tenant_id.0)
            .bind(grant.identity_id)
            .bind(&grant.client_id)
            .bind(Json(grant))
            .bind(Ts(grant.expires_at))
            .execute(pool)
            .await
            .map_err(store_error)?;
        });
        Ok(())
    }

    async fn redeem_code(&self, hash: &TokenHash, now: OffsetDateTime) -> StoreResult<Redemption> {
        let redeemed: Option<CodeRow> = with_pool!(self, |pool| {
            sqlx::query_as(
                "UPDATE oauth2_codes SET used_at = $2 \
                 WHERE code_hash = $1 AND used_at IS NULL AND expires_at > $2 \
                 RETURNING grant_document, issued_jtis, used_at",
            )
            .bind(hash.0.to_vec())
            .bind(Ts(now))
            .fetch_optional(pool)
            .await
            .map_err(store_error)?
        });
        if let Some(row) = redeemed {
            return Ok(Redemption::Redeemed(row.grant_document.0));
        }
        let found: Option<CodeRow> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT grant_document, issued_jtis, used_at FROM oauth2_codes WHERE code_hash = $1",
            )
            .bind(hash.0.to_vec())
            .fetch_optional(pool)
            .await
            .map_err(store_error)?
        });
        Ok(match found {
            Some(row) if row.used_at.is_some() => Redemption::Replayed {
                grant: row.grant_document.0,
                issued: row.issued_jtis.0,
            },
            _ => Redemption::Invalid,
        })
    }

    async fn record_code_tokens(&self, hash: &TokenHash, jtis: &[String]) -> StoreResult<()> {
        with_pool!(self, |pool| {
            sqlx::query("UPDATE oauth2_codes SET issued_jtis = $2 WHERE code_hash = $1")
                .bind(hash.0.to_vec())
                .bind(Json(jtis))
                .execute(pool)
                .await
                .map_err(store_error)?;
        });
        Ok(())
    }
}
