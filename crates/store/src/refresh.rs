//! Refresh tokens: a family row per grant of one authorization code, and a row per token keyed by
//! its SHA-256. Rotation is one transaction that marks the presented token used with a
//! conditional `UPDATE … RETURNING` (of concurrent rotations, on any number of nodes, exactly one
//! matches), then writes the family row (so a concurrent revocation of the family and the
//! rotation take turns) and inserts the successor. Revocation is per family: every token of a
//! revoked family, including a successor stored after the revocation began, is refused.

use crate::{Store, Ts, corrupt, store_error, with_pool};
use async_trait::async_trait;
use gatehouse_domain::ids::TenantId;
use gatehouse_domain::oauth::refresh::{RefreshPolicy, RefreshStore, RefreshToken, Rotation};
use gatehouse_domain::oauth::scope::Scope;
use gatehouse_domain::secret::TokenHash;
use gatehouse_domain::store::StoreResult;
use sqlx::types::Json;
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(sqlx::FromRow)]
struct FamilyRow {
    family_id: Uuid,
    tenant_id: Uuid,
    identity_id: Uuid,
    client_id: String,
    session_id: Option<Uuid>,
    scope: String,
    auth_time: Ts,
    amr: Json<Vec<String>>,
    expires_at: Ts,
    revoked_at: Option<Ts>,
}

#[derive(Clone, Copy, sqlx::FromRow)]
struct TokenRow {
    family_id: Uuid,
    issued_at: Ts,
    used_at: Option<Ts>,
    expires_at: Ts,
}

const FAMILY_COLUMNS: &str = "family_id, tenant_id, identity_id, client_id, session_id, scope, \
                              auth_time, amr, expires_at, revoked_at";

fn record(family: FamilyRow, token: TokenRow) -> StoreResult<RefreshToken> {
    if family.family_id != token.family_id {
        return Err(corrupt("refresh token", "token and family do not match"));
    }
    Ok(RefreshToken {
        family_id: family.family_id,
        tenant_id: TenantId(family.tenant_id),
        client_id: family.client_id,
        identity_id: family.identity_id,
        session_id: family.session_id,
        scope: Scope::parse(&family.scope).map_err(|e| corrupt("refresh token scope", e))?,
        auth_time: family.auth_time.0,
        amr: family.amr.0,
        issued_at: token.issued_at.0,
        expires_at: token.expires_at.0,
        family_expires_at: family.expires_at.0,
        used_at: token.used_at.map(|t| t.0),
        revoked_at: family.revoked_at.map(|t| t.0),
    })
}

#[async_trait]
impl RefreshStore for Store {
    async fn insert_refresh_token(
        &self,
        hash: &TokenHash,
        token: &RefreshToken,
    ) -> StoreResult<()> {
        with_pool!(self, |pool| {
            let mut tx = pool.begin().await.map_err(store_error)?;
            sqlx::query(
                "INSERT INTO oauth2_refresh_families (family_id, tenant_id, identity_id, \
                 client_id, session_id, scope, auth_time, amr, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
                 ON CONFLICT (family_id) DO NOTHING",
            )
            .bind(token.family_id)
            .bind(token.tenant_id.0)
            .bind(token.identity_id)
            .bind(&token.client_id)
            .bind(token.session_id)
            .bind(token.scope.to_string())
            .bind(Ts(token.auth_time))
            .bind(Json(&token.amr))
            .bind(Ts(token.issued_at))
            .bind(Ts(token.family_expires_at))
            .execute(&mut *tx)
            .await
            .map_err(store_error)?;
            sqlx::query(
                "INSERT INTO oauth2_refresh_tokens (token_hash, family_id, issued_at, expires_at) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(hash.0.to_vec())
            .bind(token.family_id)
            .bind(Ts(token.issued_at))
            .bind(Ts(token.expires_at))
            .execute(&mut *tx)
            .await
            .map_err(store_error)?;
            tx.commit().await.map_err(store_error)?;
        });
        Ok(())
    }

    async fn find_refresh_token(&self, hash: &TokenHash) -> StoreResult<Option<RefreshToken>> {
        let token: Option<TokenRow> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT family_id, issued_at, used_at, expires_at FROM oauth2_refresh_tokens \
                 WHERE token_hash = $1",
            )
            .bind(hash.0.to_vec())
            .fetch_optional(pool)
            .await
            .map_err(store_error)?
        });
        let Some(token) = token else {
            return Ok(None);
        };
        let sql =
            format!("SELECT {FAMILY_COLUMNS} FROM oauth2_refresh_families WHERE family_id = $1");
        let family: Option<FamilyRow> = with_pool!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(token.family_id)
                .fetch_optional(pool)
                .await
                .map_err(store_error)?
        });
        family.map(|f| record(f, token)).transpose()
    }

    async fn rotate_refresh_token(
        &self,
        presented: &TokenHash,
        successor_hash: &TokenHash,
        client_id: &str,
        policy: &RefreshPolicy,
        now: OffsetDateTime,
    ) -> StoreResult<Rotation> {
        let family_sql = format!(
            "UPDATE oauth2_refresh_families SET last_rotated_at = $2 \
             WHERE family_id = $1 AND client_id = $3 AND revoked_at IS NULL AND expires_at > $2 \
             RETURNING {FAMILY_COLUMNS}"
        );
        let rotated = with_pool!(self, |pool| 'rotate: {
            let mut tx = pool.begin().await.map_err(store_error)?;
            // Unused, or used inside the grace period (the first use is kept, so presenting the
            // token again never extends the period).
            let token: Option<TokenRow> = sqlx::query_as(
                "UPDATE oauth2_refresh_tokens SET used_at = COALESCE(used_at, $2) \
                 WHERE token_hash = $1 AND expires_at > $2 AND (used_at IS NULL OR used_at > $3) \
                 RETURNING family_id, issued_at, used_at, expires_at",
            )
            .bind(presented.0.to_vec())
            .bind(Ts(now))
            .bind(Ts(now - policy.reuse_grace))
            .fetch_optional(&mut *tx)
            .await
            .map_err(store_error)?;
            // Dropping the transaction rolls the marking back.
            let Some(token) = token else {
                break 'rotate None;
            };
            let family: Option<FamilyRow> = sqlx::query_as(sqlx::AssertSqlSafe(family_sql))
                .bind(token.family_id)
                .bind(Ts(now))
                .bind(client_id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(store_error)?;
            let Some(family) = family else {
                break 'rotate None;
            };
            let previous = record(family, token)?;
            let successor = previous.successor(policy, now);
            sqlx::query(
                "INSERT INTO oauth2_refresh_tokens (token_hash, family_id, issued_at, expires_at) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(successor_hash.0.to_vec())
            .bind(successor.family_id)
            .bind(Ts(successor.issued_at))
            .bind(Ts(successor.expires_at))
            .execute(&mut *tx)
            .await
            .map_err(store_error)?;
            tx.commit().await.map_err(store_error)?;
            Some((previous, successor))
        });
        if let Some((previous, successor)) = rotated {
            return Ok(Rotation::Rotated {
                previous,
                successor,
            });
        }
        Ok(match self.find_refresh_token(presented).await? {
            Some(record)
                if record.client_id == client_id
                    && record.is_live(now)
                    && record.used_at.is_some() =>
            {
                Rotation::Reused { record }
            }
            _ => Rotation::Invalid,
        })
    }

    async fn revoke_refresh_family(
        &self,
        family_id: Uuid,
        now: OffsetDateTime,
    ) -> StoreResult<bool> {
        let affected = with_pool!(self, |pool| {
            sqlx::query(
                "UPDATE oauth2_refresh_families SET revoked_at = $2 \
                 WHERE family_id = $1 AND revoked_at IS NULL AND expires_at > $2",
            )
            .bind(family_id)
            .bind(Ts(now))
            .execute(pool)
            .await
            .map_err(store_error)?
            .rows_affected()
        });
        Ok(affected > 0)
    }

    async fn revoke_refresh_for_grant(
        &self,
        tenant: TenantId,
        identity_id: Uuid,
        client_id: &str,
        now: OffsetDateTime,
    ) -> StoreResult<u64> {
        let affected = with_pool!(self, |pool| {
            sqlx::query(
                "UPDATE oauth2_refresh_families SET revoked_at = $4 \
                 WHERE tenant_id = $1 AND identity_id = $2 AND client_id = $3 \
                 AND revoked_at IS NULL AND expires_at > $4",
            )
            .bind(tenant.0)
            .bind(identity_id)
            .bind(client_id)
            .bind(Ts(now))
            .execute(pool)
            .await
            .map_err(store_error)?
            .rows_affected()
        });
        Ok(affected)
    }
}
