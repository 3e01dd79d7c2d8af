//! Sign-in to a tenant's app without a password: social providers, sign-ins in progress, account
//! links, exchange codes and magic links. Taking a sign-in, a code or a link is one
//! `DELETE … RETURNING`, so of concurrent callers one gets it.

use crate::{Store, Ts, corrupt, store_error, with_pool};
use async_trait::async_trait;
use gatehouse_domain::ids::TenantId;
use gatehouse_domain::magic_link::{MagicLink, MagicLinkStore};
use gatehouse_domain::secret::TokenHash;
use gatehouse_domain::social::{
    ExchangeCode, ProviderEndpoints, ProviderKind, SocialLogin, SocialProvider, SocialStore,
};
use gatehouse_domain::store::{StoreError, StoreResult};
use sqlx::types::Json;
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(sqlx::FromRow)]
struct ProviderRow {
    tenant_id: Uuid,
    name: String,
    kind: String,
    issuer: Option<String>,
    client_id: String,
    client_secret: Vec<u8>,
    scopes: String,
    redirect_uri: String,
    enabled: bool,
    token_in_redirect: bool,
    endpoints: Json<ProviderEndpoints>,
    created_at: Ts,
    updated_at: Ts,
}

impl ProviderRow {
    fn into_provider(self) -> StoreResult<SocialProvider> {
        Ok(SocialProvider {
            tenant_id: TenantId(self.tenant_id),
            kind: ProviderKind::parse(&self.kind)
                .ok_or_else(|| corrupt("social provider kind", &self.kind))?,
            name: self.name,
            issuer: self.issuer,
            client_id: self.client_id,
            sealed_secret: self.client_secret,
            scopes: self.scopes.split_whitespace().map(str::to_owned).collect(),
            redirect_uri: self.redirect_uri,
            enabled: self.enabled,
            token_in_redirect: self.token_in_redirect,
            endpoints: self.endpoints.0,
            created_at: self.created_at.0,
            updated_at: self.updated_at.0,
        })
    }
}

const PROVIDER_COLUMNS: &str = "tenant_id, name, kind, issuer, client_id, client_secret, scopes, \
     redirect_uri, enabled, token_in_redirect, endpoints, created_at, updated_at";

#[derive(sqlx::FromRow)]
struct LoginRow {
    state_hash: Vec<u8>,
    browser_hash: Vec<u8>,
    tenant_id: Uuid,
    provider: String,
    code_verifier: String,
    nonce: String,
    app_state: Option<String>,
    created_at: Ts,
    expires_at: Ts,
}

#[derive(sqlx::FromRow)]
struct CodeRow {
    code_hash: Vec<u8>,
    tenant_id: Uuid,
    identity_id: Uuid,
    method: String,
    created_at: Ts,
    expires_at: Ts,
}

fn hash(bytes: &[u8], what: &str) -> StoreResult<TokenHash> {
    TokenHash::from_slice(bytes).ok_or_else(|| corrupt(what, "not 32 bytes"))
}

#[async_trait]
impl SocialStore for Store {
    async fn save_social_provider(&self, p: &SocialProvider) -> StoreResult<bool> {
        // `created_at` is kept on replace. Whether the row is new is read first: two racing
        // creations both report "created", which only changes the status code of one answer.
        let existed = self
            .find_social_provider(p.tenant_id, &p.name)
            .await?
            .is_some();
        with_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO social_providers (tenant_id, name, kind, issuer, client_id, \
                 client_secret, scopes, redirect_uri, enabled, token_in_redirect, endpoints, \
                 created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
                 ON CONFLICT (tenant_id, name) DO UPDATE SET kind = excluded.kind, \
                 issuer = excluded.issuer, client_id = excluded.client_id, \
                 client_secret = excluded.client_secret, scopes = excluded.scopes, \
                 redirect_uri = excluded.redirect_uri, enabled = excluded.enabled, \
                 token_in_redirect = excluded.token_in_redirect, endpoints = excluded.endpoints, \
                 updated_at = excluded.updated_at",
            )
            .bind(p.tenant_id.0)
            .bind(&p.name)
            .bind(p.kind.as_str())
            .bind(&p.issuer)
            .bind(&p.client_id)
            .bind(&p.sealed_secret)
            .bind(p.scopes.join(" "))
            .bind(&p.redirect_uri)
            .bind(p.enabled)
            .bind(p.token_in_redirect)
            .bind(Json(&p.endpoints))
            .bind(Ts(p.created_at))
            .bind(Ts(p.updated_at))
            .execute(pool)
            .await
            // A tenant that does not exist is `NotFound` (a foreign key violation).
            .map_err(store_error)?;
        });
        Ok(!existed)
    }

    async fn find_social_provider(
        &self,
        tenant: TenantId,
        name: &str,
    ) -> StoreResult<Option<SocialProvider>> {
        let sql = format!(
            "SELECT {PROVIDER_COLUMNS} FROM social_providers WHERE tenant_id = $1 AND name = $2"
        );
        let row: Option<ProviderRow> = with_pool!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(tenant.0)
                .bind(name)
                .fetch_optional(pool)
                .await
                .map_err(store_error)?
        });
        row.map(ProviderRow::into_provider).transpose()
    }

    async fn list_social_providers(&self, tenant: TenantId) -> StoreResult<Vec<SocialProvider>> {
        let sql = format!(
            "SELECT {PROVIDER_COLUMNS} FROM social_providers WHERE tenant_id = $1 ORDER BY name"
        );
        let rows: Vec<ProviderRow> = with_pool!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(tenant.0)
                .fetch_all(pool)
                .await
                .map_err(store_error)?
        });
        rows.into_iter().map(ProviderRow::into_provider).collect()
    }

    async fn delete_social_provider(&self, tenant: TenantId, name: &str) -> StoreResult<()> {
        let deleted = with_pool!(self, |pool| {
            sqlx::query("DELETE FROM social_providers WHERE tenant_id = $1 AND name = $2")
                .bind(tenant.0)
                .bind(name)
                .execute(pool)
                .await
                .map_err(store_error)?
                .rows_affected()
        });
        if deleted == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn insert_social_login(&self, login: &SocialLogin) -> StoreResult<()> {
        with_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO social_logins (state_hash, browser_hash, tenant_id, provider, \
                 code_verifier, nonce, app_state, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(login.state.0.to_vec())
            .bind(login.browser.0.to_vec())
            .bind(login.tenant_id.0)
            .bind(&login.provider)
            .bind(&login.code_verifier)
            .bind(&login.nonce)
            .bind(&login.app_state)
            .bind(Ts(login.created_at))
            .bind(Ts(login.expires_at))
            .execute(pool)
            .await
            .map_err(store_error)?;
        });
        Ok(())
    }

    async fn take_social_login(&self, state: &TokenHash) -> StoreResult<Option<SocialLogin>> {
        let row: Option<LoginRow> = with_pool!(self, |pool| {
            sqlx::query_as(
                "DELETE FROM social_logins WHERE state_hash = $1 RETURNING state_hash, \
                 browser_hash, tenant_id, provider, code_verifier, nonce, app_state, created_at, \
                 expires_at",
            )
            .bind(state.0.to_vec())
            .fetch_optional(pool)
            .await
            .map_err(store_error)?
        });
        row.map(|row| {
            Ok(SocialLogin {
                state: hash(&row.state_hash, "social login state hash")?,
                browser: hash(&row.browser_hash, "social login browser hash")?,
                tenant_id: TenantId(row.tenant_id),
                provider: row.provider,
                code_verifier: row.code_verifier,
                nonce: row.nonce,
                app_state: row.app_state,
                created_at: row.created_at.0,
                expires_at: row.expires_at.0,
            })
        })
        .transpose()
    }

    async fn find_social_link(
        &self,
        tenant: TenantId,
        provider: &str,
        subject: &str,
    ) -> StoreResult<Option<Uuid>> {
        let found: Option<(Uuid,)> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT identity_id FROM social_links \
                 WHERE tenant_id = $1 AND provider = $2 AND subject = $3",
            )
            .bind(tenant.0)
            .bind(provider)
            .bind(subject)
            .fetch_optional(pool)
            .await
            .map_err(store_error)?
        });
        Ok(found.map(|(id,)| id))
    }

    async fn insert_social_link(
        &self,
        tenant: TenantId,
        provider: &str,
        subject: &str,
        identity_id: Uuid,
        now: OffsetDateTime,
    ) -> StoreResult<()> {
        with_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO social_links (tenant_id, provider, subject, identity_id, created_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(tenant.0)
            .bind(provider)
            .bind(subject)
            .bind(identity_id)
            .bind(Ts(now))
            .execute(pool)
            .await
            .map_err(store_error)?;
        });
        Ok(())
    }

    async fn insert_exchange_code(&self, code: &ExchangeCode) -> StoreResult<()> {
        with_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO exchange_codes (code_hash, tenant_id, identity_id, method, \
                 created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(code.code.0.to_vec())
            .bind(code.tenant_id.0)
            .bind(code.identity_id)
            .bind(&code.method)
            .bind(Ts(code.created_at))
            .bind(Ts(code.expires_at))
            .execute(pool)
            .await
            .map_err(store_error)?;
        });
        Ok(())
    }

    async fn take_exchange_code(
        &self,
        tenant: TenantId,
        code: &TokenHash,
        now: OffsetDateTime,
    ) -> StoreResult<Option<ExchangeCode>> {
        // A code presented for another tenant is left alone: only its own app may spend it.
        let row: Option<CodeRow> = with_pool!(self, |pool| {
            sqlx::query_as(
                "DELETE FROM exchange_codes WHERE code_hash = $1 AND tenant_id = $2 \
                 RETURNING code_hash, tenant_id, identity_id, method, created_at, expires_at",
            )
            .bind(code.0.to_vec())
            .bind(tenant.0)
            .fetch_optional(pool)
            .await
            .map_err(store_error)?
        });
        let Some(row) = row else { return Ok(None) };
        if row.expires_at.0 <= now {
            return Ok(None);
        }
        Ok(Some(ExchangeCode {
            code: hash(&row.code_hash, "exchange code hash")?,
            tenant_id: TenantId(row.tenant_id),
            identity_id: row.identity_id,
            method: row.method,
            created_at: row.created_at.0,
            expires_at: row.expires_at.0,
        }))
    }
}

#[derive(sqlx::FromRow)]
struct MagicLinkRow {
    token_hash: Vec<u8>,
    tenant_id: Uuid,
    identity_id: Uuid,
    address: String,
    created_at: Ts,
    expires_at: Ts,
}

#[async_trait]
impl MagicLinkStore for Store {
    async fn insert_magic_link(&self, link: &MagicLink) -> StoreResult<()> {
        with_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO magic_links (token_hash, tenant_id, identity_id, address, \
                 created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(link.token.0.to_vec())
            .bind(link.tenant_id.0)
            .bind(link.identity_id)
            .bind(&link.address)
            .bind(Ts(link.created_at))
            .bind(Ts(link.expires_at))
            .execute(pool)
            .await
            .map_err(store_error)?;
        });
        Ok(())
    }

    async fn take_magic_link(
        &self,
        tenant: TenantId,
        token: &TokenHash,
        now: OffsetDateTime,
    ) -> StoreResult<Option<MagicLink>> {
        let row: Option<MagicLinkRow> = with_pool!(self, |pool| {
            sqlx::query_as(
                "DELETE FROM magic_links WHERE token_hash = $1 AND tenant_id = $2 \
                 RETURNING token_hash, tenant_id, identity_id, address, created_at, expires_at",
            )
            .bind(token.0.to_vec())
            .bind(tenant.0)
            .fetch_optional(pool)
            .await
            .map_err(store_error)?
        });
        let Some(row) = row else { return Ok(None) };
        if row.expires_at.0 <= now {
            return Ok(None);
        }
        Ok(Some(MagicLink {
            token: hash(&row.token_hash, "magic link token hash")?,
            tenant_id: TenantId(row.tenant_id),
            identity_id: row.identity_id,
            address: row.address,
            created_at: row.created_at.0,
            expires_at: row.expires_at.0,
        }))
    }
}
