//! The backend-for-frontend's sign-ins in progress and sessions. Taking a sign-in is one
//! `DELETE … RETURNING`, so of concurrent callbacks exactly one gets it; a token update is a
//! compare-and-swap on `version`, so of two nodes refreshing one session exactly one stores.

use crate::{Store, Ts, corrupt, store_error, with_pool};
use async_trait::async_trait;
use gatehouse_domain::bff::{BffLogin, BffSession, BffStore, BffTokens};
use gatehouse_domain::secret::TokenHash;
use gatehouse_domain::store::StoreResult;
use serde_json::{Map, Value};
use sqlx::types::Json;
use time::OffsetDateTime;

#[derive(sqlx::FromRow)]
struct LoginRow {
    browser_hash: Vec<u8>,
    state: String,
    nonce: String,
    code_verifier: String,
    return_url: String,
    created_at: Ts,
    expires_at: Ts,
}

#[derive(sqlx::FromRow)]
struct SessionRow {
    id_hash: Vec<u8>,
    subject: String,
    claims_document: Json<Map<String, Value>>,
    id_token: String,
    access_token: String,
    refresh_token: Option<String>,
    access_issued_at: Ts,
    access_expires_at: Ts,
    version: i64,
    created_at: Ts,
    expires_at: Ts,
}

impl SessionRow {
    fn into_session(self) -> StoreResult<BffSession> {
        Ok(BffSession {
            id: TokenHash::from_slice(&self.id_hash)
                .ok_or_else(|| corrupt("BFF session id hash", "not 32 bytes"))?,
            subject: self.subject,
            claims: self.claims_document.0,
            id_token: self.id_token,
            tokens: BffTokens {
                access_token: self.access_token,
                refresh_token: self.refresh_token,
                access_issued_at: self.access_issued_at.0,
                access_expires_at: self.access_expires_at.0,
            },
            version: self.version,
            created_at: self.created_at.0,
            expires_at: self.expires_at.0,
        })
    }
}

const SESSION_COLUMNS: &str = "id_hash, subject, claims_document, id_token, access_token, \
     refresh_token, access_issued_at, access_expires_at, version, created_at, expires_at";

#[async_trait]
impl BffStore for Store {
    async fn insert_bff_login(&self, login: &BffLogin) -> StoreResult<()> {
        with_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO bff_logins (browser_hash, state, nonce, code_verifier, return_url, \
                 created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(login.browser.0.to_vec())
            .bind(&login.state)
            .bind(&login.nonce)
            .bind(&login.code_verifier)
            .bind(&login.return_url)
            .bind(Ts(login.created_at))
            .bind(Ts(login.expires_at))
            .execute(pool)
            .await
            .map_err(store_error)?;
        });
        Ok(())
    }

    async fn take_bff_login(&self, browser: &TokenHash) -> StoreResult<Option<BffLogin>> {
        let row: Option<LoginRow> = with_pool!(self, |pool| {
            sqlx::query_as(
                "DELETE FROM bff_logins WHERE browser_hash = $1 RETURNING browser_hash, state, \
                 nonce, code_verifier, return_url, created_at, expires_at",
            )
            .bind(browser.0.to_vec())
            .fetch_optional(pool)
            .await
            .map_err(store_error)?
        });
        row.map(|row| {
            Ok(BffLogin {
                browser: TokenHash::from_slice(&row.browser_hash)
                    .ok_or_else(|| corrupt("BFF login browser hash", "not 32 bytes"))?,
                state: row.state,
                nonce: row.nonce,
                code_verifier: row.code_verifier,
                return_url: row.return_url,
                created_at: row.created_at.0,
                expires_at: row.expires_at.0,
            })
        })
        .transpose()
    }

    async fn insert_bff_session(&self, session: &BffSession) -> StoreResult<()> {
        with_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO bff_sessions (id_hash, subject, claims_document, id_token, \
                 access_token, refresh_token, access_issued_at, access_expires_at, version, \
                 created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .bind(session.id.0.to_vec())
            .bind(&session.subject)
            .bind(Json(&session.claims))
            .bind(&session.id_token)
            .bind(&session.tokens.access_token)
            .bind(&session.tokens.refresh_token)
            .bind(Ts(session.tokens.access_issued_at))
            .bind(Ts(session.tokens.access_expires_at))
            .bind(session.version)
            .bind(Ts(session.created_at))
            .bind(Ts(session.expires_at))
            .execute(pool)
            .await
            .map_err(store_error)?;
        });
        Ok(())
    }

    async fn find_bff_session(&self, id: &TokenHash) -> StoreResult<Option<BffSession>> {
        let sql = format!("SELECT {SESSION_COLUMNS} FROM bff_sessions WHERE id_hash = $1");
        self.bff_session_row(sql, id).await
    }

    async fn update_bff_session_expiry(
        &self,
        id: &TokenHash,
        expires_at: OffsetDateTime,
    ) -> StoreResult<()> {
        with_pool!(self, |pool| {
            sqlx::query("UPDATE bff_sessions SET expires_at = $2 WHERE id_hash = $1")
                .bind(id.0.to_vec())
                .bind(Ts(expires_at))
                .execute(pool)
                .await
                .map_err(store_error)?;
        });
        Ok(())
    }

    async fn update_bff_tokens(
        &self,
        id: &TokenHash,
        expected: i64,
        tokens: &BffTokens,
    ) -> StoreResult<bool> {
        let updated = with_pool!(self, |pool| {
            sqlx::query(
                "UPDATE bff_sessions SET access_token = $3, refresh_token = $4, \
                 access_issued_at = $5, access_expires_at = $6, version = version + 1, \
                 refresh_lease_until = NULL WHERE id_hash = $1 AND version = $2",
            )
            .bind(id.0.to_vec())
            .bind(expected)
            .bind(&tokens.access_token)
            .bind(&tokens.refresh_token)
            .bind(Ts(tokens.access_issued_at))
            .bind(Ts(tokens.access_expires_at))
            .execute(pool)
            .await
            .map_err(store_error)?
            .rows_affected()
        });
        Ok(updated == 1)
    }

    async fn lease_bff_refresh(
        &self,
        id: &TokenHash,
        expected: i64,
        now: OffsetDateTime,
        until: OffsetDateTime,
    ) -> StoreResult<bool> {
        let leased = with_pool!(self, |pool| {
            sqlx::query(
                "UPDATE bff_sessions SET refresh_lease_until = $3 WHERE id_hash = $1 \
                 AND version = $2 AND (refresh_lease_until IS NULL OR refresh_lease_until <= $4)",
            )
            .bind(id.0.to_vec())
            .bind(expected)
            .bind(Ts(until))
            .bind(Ts(now))
            .execute(pool)
            .await
            .map_err(store_error)?
            .rows_affected()
        });
        Ok(leased == 1)
    }

    async fn release_bff_refresh(&self, id: &TokenHash, expected: i64) -> StoreResult<()> {
        with_pool!(self, |pool| {
            sqlx::query(
                "UPDATE bff_sessions SET refresh_lease_until = NULL \
                 WHERE id_hash = $1 AND version = $2",
            )
            .bind(id.0.to_vec())
            .bind(expected)
            .execute(pool)
            .await
            .map_err(store_error)?;
        });
        Ok(())
    }

    async fn delete_bff_session(&self, id: &TokenHash) -> StoreResult<Option<BffSession>> {
        let sql =
            format!("DELETE FROM bff_sessions WHERE id_hash = $1 RETURNING {SESSION_COLUMNS}");
        self.bff_session_row(sql, id).await
    }

    async fn delete_expired_bff(&self, now: OffsetDateTime) -> StoreResult<u64> {
        let deleted = with_pool!(self, |pool| {
            let logins = sqlx::query("DELETE FROM bff_logins WHERE expires_at < $1")
                .bind(Ts(now))
                .execute(pool)
                .await
                .map_err(store_error)?
                .rows_affected();
            let sessions = sqlx::query("DELETE FROM bff_sessions WHERE expires_at < $1")
                .bind(Ts(now))
                .execute(pool)
                .await
                .map_err(store_error)?
                .rows_affected();
            logins + sessions
        });
        Ok(deleted)
    }
}

impl Store {
    /// The one session row `sql` (binding the id hash as `$1`) answers, if any.
    async fn bff_session_row(
        &self,
        sql: String,
        id: &TokenHash,
    ) -> StoreResult<Option<BffSession>> {
        let row: Option<SessionRow> = with_pool!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(id.0.to_vec())
                .fetch_optional(pool)
                .await
                .map_err(store_error)?
        });
        row.map(SessionRow::into_session).transpose()
    }
}
