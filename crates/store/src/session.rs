//! Sessions: stored by the SHA-256 of their token, revoked by clearing `active`, deleted by the
//! cleanup once past their absolute expiry.

use crate::{Store, Ts, corrupt, store_error, with_pool};
use async_trait::async_trait;
use gatehouse_domain::ids::TenantId;
use gatehouse_domain::secret::TokenHash;
use gatehouse_domain::session::{
    Aal, AuthenticationMethod, Device, Session, SessionPage, SessionStore, TOUCH_INTERVAL,
};
use gatehouse_domain::store::StoreResult;
use sqlx::types::Json;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

#[derive(sqlx::FromRow)]
struct SessionRow {
    id: Uuid,
    tenant_id: Uuid,
    identity_id: Uuid,
    token_hash: Vec<u8>,
    active: bool,
    aal: String,
    methods: Json<Vec<AuthenticationMethod>>,
    authenticated_at: Ts,
    issued_at: Ts,
    expires_at: Ts,
    idle_timeout_seconds: i64,
    last_seen_at: Ts,
    ip_address: Option<String>,
    user_agent: Option<String>,
}

impl SessionRow {
    fn into_session(self) -> StoreResult<Session> {
        Ok(Session {
            id: self.id,
            tenant_id: TenantId(self.tenant_id),
            identity_id: self.identity_id,
            token_hash: TokenHash::from_slice(&self.token_hash)
                .ok_or_else(|| corrupt("session token hash", "wrong length"))?,
            active: self.active,
            aal: Aal::parse(&self.aal).ok_or_else(|| corrupt("session aal", &self.aal))?,
            methods: self.methods.0,
            authenticated_at: self.authenticated_at.0,
            issued_at: self.issued_at.0,
            expires_at: self.expires_at.0,
            idle_timeout: Duration::seconds(self.idle_timeout_seconds),
            last_seen_at: self.last_seen_at.0,
            device: Device {
                ip_address: self.ip_address,
                user_agent: self.user_agent,
                first_seen_at: self.issued_at.0,
                last_seen_at: self.last_seen_at.0,
            },
        })
    }
}

const COLUMNS: &str = "id, tenant_id, identity_id, token_hash, active, aal, methods, authenticated_at, \
     issued_at, expires_at, idle_timeout_seconds, last_seen_at, ip_address, user_agent";

fn sessions(rows: Vec<SessionRow>) -> StoreResult<Vec<Session>> {
    rows.into_iter().map(SessionRow::into_session).collect()
}

#[async_trait]
impl SessionStore for Store {
    async fn insert_session(&self, s: &Session) -> StoreResult<()> {
        with_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO sessions (id, tenant_id, identity_id, token_hash, active, aal, methods, \
                 authenticated_at, issued_at, expires_at, idle_timeout_seconds, last_seen_at, ip_address, user_agent) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
            )
            .bind(s.id)
            .bind(s.tenant_id.0)
            .bind(s.identity_id)
            .bind(s.token_hash.0.to_vec())
            .bind(s.active)
            .bind(s.aal.as_str())
            .bind(Json(&s.methods))
            .bind(Ts(s.authenticated_at))
            .bind(Ts(s.issued_at))
            .bind(Ts(s.expires_at))
            .bind(s.idle_timeout.whole_seconds())
            .bind(Ts(s.last_seen_at))
            .bind(s.device.ip_address.as_deref())
            .bind(s.device.user_agent.as_deref())
            .execute(pool)
            .await
            .map_err(store_error)?;
        });
        Ok(())
    }

    async fn find_session_by_token(&self, hash: &TokenHash) -> StoreResult<Option<Session>> {
        let sql = format!("SELECT {COLUMNS} FROM sessions WHERE token_hash = $1");
        let row: Option<SessionRow> = with_pool!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(hash.0.to_vec())
                .fetch_optional(pool)
                .await
                .map_err(store_error)?
        });
        row.map(SessionRow::into_session).transpose()
    }

    async fn find_session(&self, tenant: TenantId, id: Uuid) -> StoreResult<Option<Session>> {
        let sql = format!("SELECT {COLUMNS} FROM sessions WHERE tenant_id = $1 AND id = $2");
        let row: Option<SessionRow> = with_pool!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(tenant.0)
                .bind(id)
                .fetch_optional(pool)
                .await
                .map_err(store_error)?
        });
        row.map(SessionRow::into_session).transpose()
    }

    async fn touch_session(
        &self,
        tenant: TenantId,
        id: Uuid,
        now: OffsetDateTime,
        ip: Option<&str>,
        user_agent: Option<&str>,
    ) -> StoreResult<bool> {
        // The condition on last_seen_at makes concurrent requests of one session write once.
        let affected = with_pool!(self, |pool| {
            sqlx::query(
                "UPDATE sessions SET last_seen_at = $3, ip_address = COALESCE($5, ip_address), \
                 user_agent = COALESCE($6, user_agent) \
                 WHERE tenant_id = $1 AND id = $2 AND last_seen_at <= $4",
            )
            .bind(tenant.0)
            .bind(id)
            .bind(Ts(now))
            .bind(Ts(now - TOUCH_INTERVAL))
            .bind(ip)
            .bind(user_agent)
            .execute(pool)
            .await
            .map_err(store_error)?
            .rows_affected()
        });
        Ok(affected > 0)
    }

    async fn list_identity_sessions(
        &self,
        tenant: TenantId,
        identity_id: Uuid,
        active_only: bool,
    ) -> StoreResult<Vec<Session>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM sessions WHERE tenant_id = $1 AND identity_id = $2 \
             AND (active OR $3 = FALSE) ORDER BY id DESC"
        );
        let rows: Vec<SessionRow> = with_pool!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(tenant.0)
                .bind(identity_id)
                .bind(active_only)
                .fetch_all(pool)
                .await
                .map_err(store_error)?
        });
        sessions(rows)
    }

    async fn list_sessions(
        &self,
        tenant: TenantId,
        page: &SessionPage,
    ) -> StoreResult<Vec<Session>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM sessions WHERE tenant_id = $1 AND ($2 IS NULL OR id > $2) \
             AND (active OR $3 = FALSE) ORDER BY id LIMIT $4"
        );
        let rows: Vec<SessionRow> = with_pool!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(tenant.0)
                .bind(page.after)
                .bind(page.active_only)
                .bind(i64::from(page.limit))
                .fetch_all(pool)
                .await
                .map_err(store_error)?
        });
        sessions(rows)
    }

    async fn revoke_session(
        &self,
        tenant: TenantId,
        identity_id: Option<Uuid>,
        id: Uuid,
    ) -> StoreResult<bool> {
        let affected = with_pool!(self, |pool| {
            sqlx::query(
                "UPDATE sessions SET active = FALSE WHERE tenant_id = $1 AND id = $2 \
                 AND ($3 IS NULL OR identity_id = $3) AND active",
            )
            .bind(tenant.0)
            .bind(id)
            .bind(identity_id)
            .execute(pool)
            .await
            .map_err(store_error)?
            .rows_affected()
        });
        Ok(affected > 0)
    }

    async fn revoke_identity_sessions(
        &self,
        tenant: TenantId,
        identity_id: Uuid,
        except: Option<Uuid>,
    ) -> StoreResult<u64> {
        with_pool!(self, |pool| {
            Ok(sqlx::query(
                "UPDATE sessions SET active = FALSE WHERE tenant_id = $1 AND identity_id = $2 \
                 AND active AND ($3 IS NULL OR id <> $3)",
            )
            .bind(tenant.0)
            .bind(identity_id)
            .bind(except)
            .execute(pool)
            .await
            .map_err(store_error)?
            .rows_affected())
        })
    }
}
