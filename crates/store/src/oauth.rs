//! OAuth 2.0 clients and access tokens.

use crate::{Store, Ts, corrupt, count_owned_locked, store_error, with_pool};
use async_trait::async_trait;
use gatehouse_domain::ids::TenantId;
use gatehouse_domain::oauth::client::{Client, ClientMetadata};
use gatehouse_domain::oauth::store::{ClientFilter, ClientStore, TokenStore};
use gatehouse_domain::oauth::token::{
    AccessTokenClaims, OpaqueToken, RevokedAccessToken, timestamp,
};
use gatehouse_domain::secret::TokenHash;
use gatehouse_domain::store::{StoreError, StoreResult};
use sqlx::types::Json;
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(sqlx::FromRow)]
struct ClientRow {
    id: Uuid,
    client_id: String,
    tenant_id: Uuid,
    secret_hash: Option<Vec<u8>>,
    registration_token_hash: Option<Vec<u8>>,
    owner_identity_id: Option<Uuid>,
    active: bool,
    document: Json<serde_json::Value>,
    created_at: Ts,
    updated_at: Ts,
}

impl ClientRow {
    fn into_client(self) -> StoreResult<Client> {
        let hash = |bytes: Option<Vec<u8>>| -> StoreResult<Option<TokenHash>> {
            bytes
                .map(|b| {
                    TokenHash::from_slice(&b).ok_or_else(|| corrupt("client hash", "wrong length"))
                })
                .transpose()
        };
        let metadata: ClientMetadata =
            serde_json::from_value(self.document.0).map_err(|e| corrupt("client metadata", e))?;
        Ok(Client {
            id: self.id,
            secret_hash: hash(self.secret_hash)?,
            registration_token_hash: hash(self.registration_token_hash)?,
            client_id: self.client_id,
            tenant_id: TenantId(self.tenant_id),
            owner_identity_id: self.owner_identity_id,
            active: self.active,
            created_at: self.created_at.0,
            updated_at: self.updated_at.0,
            metadata,
        })
    }
}

fn document(client: &Client) -> StoreResult<Json<serde_json::Value>> {
    serde_json::to_value(&client.metadata)
        .map(Json)
        .map_err(|e| corrupt("client metadata", e))
}

const CLIENT_COLUMNS: &str = "id, client_id, tenant_id, secret_hash, registration_token_hash, owner_identity_id, active, document, created_at, updated_at";

const INSERT_CLIENT: &str = "INSERT INTO oauth2_clients (id, client_id, tenant_id, secret_hash, registration_token_hash, \
     active, client_name, document, created_at, updated_at, owner_identity_id) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";

/// [`INSERT_CLIENT`] with its parameters bound.
macro_rules! insert_client_query {
    ($client:expr, $doc:expr) => {
        sqlx::query(INSERT_CLIENT)
            .bind($client.id)
            .bind(&$client.client_id)
            .bind($client.tenant_id.0)
            .bind($client.secret_hash.map(|h| h.0.to_vec()))
            .bind($client.registration_token_hash.map(|h| h.0.to_vec()))
            .bind($client.active)
            .bind(&$client.metadata.client_name)
            .bind($doc)
            .bind(Ts($client.created_at))
            .bind(Ts($client.updated_at))
            .bind($client.owner_identity_id)
    };
}

#[async_trait]
impl ClientStore for Store {
    async fn insert_client(&self, client: &Client) -> StoreResult<()> {
        let doc = document(client)?;
        with_pool!(self, |pool| {
            insert_client_query!(client, &doc)
                .execute(pool)
                .await
                .map_err(store_error)?;
        });
        Ok(())
    }

    async fn find_client(&self, client_id: &str) -> StoreResult<Option<Client>> {
        let sql = format!("SELECT {CLIENT_COLUMNS} FROM oauth2_clients WHERE client_id = $1");
        let row: Option<ClientRow> = with_pool!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(client_id)
                .fetch_optional(pool)
                .await
                .map_err(store_error)?
        });
        row.map(ClientRow::into_client).transpose()
    }

    async fn update_client(&self, client: &Client) -> StoreResult<()> {
        let doc = document(client)?;
        let affected = with_pool!(self, |pool| {
            sqlx::query(
                "UPDATE oauth2_clients SET tenant_id = $2, secret_hash = $3, registration_token_hash = $4, \
                 active = $5, client_name = $6, document = $7, updated_at = $8 WHERE client_id = $1",
            )
            .bind(&client.client_id)
            .bind(client.tenant_id.0)
            .bind(client.secret_hash.map(|h| h.0.to_vec()))
            .bind(client.registration_token_hash.map(|h| h.0.to_vec()))
            .bind(client.active)
            .bind(&client.metadata.client_name)
            .bind(&doc)
            .bind(Ts(client.updated_at))
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

    async fn delete_client(&self, client_id: &str) -> StoreResult<()> {
        let affected = with_pool!(self, |pool| {
            let mut tx = pool.begin().await.map_err(store_error)?;
            sqlx::query("DELETE FROM oauth2_opaque_tokens WHERE client_id = $1")
                .bind(client_id)
                .execute(&mut *tx)
                .await
                .map_err(store_error)?;
            // A client created later under the same id must not inherit refresh tokens.
            sqlx::query("DELETE FROM oauth2_refresh_families WHERE client_id = $1")
                .bind(client_id)
                .execute(&mut *tx)
                .await
                .map_err(store_error)?;
            let affected = sqlx::query("DELETE FROM oauth2_clients WHERE client_id = $1")
                .bind(client_id)
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

    async fn list_clients(&self, filter: &ClientFilter) -> StoreResult<Vec<Client>> {
        // NULL parameters switch a condition off, so one statement serves every filter.
        let sql = format!(
            "SELECT {CLIENT_COLUMNS} FROM oauth2_clients \
             WHERE ($1 IS NULL OR tenant_id = $1) AND ($2 IS NULL OR client_name = $2) AND ($3 IS NULL OR id > $3) \
             ORDER BY id LIMIT $4"
        );
        let rows: Vec<ClientRow> = with_pool!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(filter.tenant_id.map(|t| t.0))
                .bind(filter.client_name.as_deref())
                .bind(filter.after)
                .bind(i64::from(filter.limit))
                .fetch_all(pool)
                .await
                .map_err(store_error)?
        });
        rows.into_iter().map(ClientRow::into_client).collect()
    }

    async fn insert_owned_client(&self, client: &Client, limit: u32) -> StoreResult<bool> {
        let owner = client.owner_identity_id.ok_or(StoreError::NotFound)?;
        let doc = document(client)?;
        with_pool!(self, |pool| {
            let mut tx = pool.begin().await.map_err(store_error)?;
            let owned = count_owned_locked!(
                tx,
                owner,
                "SELECT COUNT(*) FROM oauth2_clients WHERE owner_identity_id = $1"
            );
            if owned >= i64::from(limit) {
                return Ok(false);
            }
            insert_client_query!(client, &doc)
                .execute(&mut *tx)
                .await
                .map_err(store_error)?;
            tx.commit().await.map_err(store_error)?;
        });
        Ok(true)
    }

    async fn list_owned_clients(
        &self,
        owner: Uuid,
        after: Option<Uuid>,
        limit: u32,
    ) -> StoreResult<Vec<Client>> {
        // The nil UUID sorts before every row id, so the first page needs no second statement.
        let sql = format!(
            "SELECT {CLIENT_COLUMNS} FROM oauth2_clients \
             WHERE owner_identity_id = $1 AND id > $2 ORDER BY id LIMIT $3"
        );
        let rows: Vec<ClientRow> = with_pool!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(owner)
                .bind(after.unwrap_or(Uuid::nil()))
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await
                .map_err(store_error)?
        });
        rows.into_iter().map(ClientRow::into_client).collect()
    }

    async fn deactivate_owned_client(
        &self,
        owner: Uuid,
        client_id: &str,
        now: OffsetDateTime,
    ) -> StoreResult<bool> {
        let affected = with_pool!(self, |pool| {
            sqlx::query(
                "UPDATE oauth2_clients SET active = $3, updated_at = $4 \
                 WHERE client_id = $1 AND owner_identity_id = $2",
            )
            .bind(client_id)
            .bind(owner)
            .bind(false)
            .bind(Ts(now))
            .execute(pool)
            .await
            .map_err(store_error)?
            .rows_affected()
        });
        Ok(affected > 0)
    }
}

#[derive(sqlx::FromRow)]
struct OpaqueRow {
    token_hash: Vec<u8>,
    claims: Json<AccessTokenClaims>,
}

#[async_trait]
impl TokenStore for Store {
    async fn insert_opaque_token(&self, token: &OpaqueToken) -> StoreResult<()> {
        let c = &token.claims;
        with_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO oauth2_opaque_tokens (token_hash, tenant_id, client_id, subject, claims, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(token.hash.0.to_vec())
            .bind(c.tenant_id.0)
            .bind(&c.client_id)
            .bind(&c.sub)
            .bind(Json(c))
            .bind(Ts(timestamp(c.exp)))
            .execute(pool)
            .await
            .map_err(store_error)?;
        });
        Ok(())
    }

    async fn find_opaque_token(&self, hash: &TokenHash) -> StoreResult<Option<OpaqueToken>> {
        let row: Option<OpaqueRow> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT token_hash, claims FROM oauth2_opaque_tokens WHERE token_hash = $1",
            )
            .bind(hash.0.to_vec())
            .fetch_optional(pool)
            .await
            .map_err(store_error)?
        });
        row.map(|r| {
            Ok(OpaqueToken {
                hash: TokenHash::from_slice(&r.token_hash)
                    .ok_or_else(|| corrupt("token hash", "wrong length"))?,
                claims: r.claims.0,
            })
        })
        .transpose()
    }

    async fn delete_opaque_token(&self, hash: &TokenHash) -> StoreResult<bool> {
        let affected = with_pool!(self, |pool| {
            sqlx::query("DELETE FROM oauth2_opaque_tokens WHERE token_hash = $1")
                .bind(hash.0.to_vec())
                .execute(pool)
                .await
                .map_err(store_error)?
                .rows_affected()
        });
        Ok(affected > 0)
    }

    async fn insert_revoked_access_token(&self, revoked: &RevokedAccessToken) -> StoreResult<()> {
        with_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO oauth2_revoked_tokens (jti, tenant_id, client_id, expires_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (jti) DO NOTHING",
            )
            .bind(&revoked.jti)
            .bind(revoked.tenant_id.0)
            .bind(&revoked.client_id)
            .bind(Ts(revoked.expires_at))
            .execute(pool)
            .await
            .map_err(store_error)?;
        });
        Ok(())
    }

    async fn is_access_token_revoked(&self, jti: &str) -> StoreResult<bool> {
        let found: Option<i32> = with_pool!(self, |pool| {
            sqlx::query_scalar("SELECT 1 FROM oauth2_revoked_tokens WHERE jti = $1")
                .bind(jti)
                .fetch_optional(pool)
                .await
                .map_err(store_error)?
        });
        Ok(found.is_some())
    }
}
