//! IP bans.

use crate::{Store, Ts, corrupt, store_error, with_pool};
use async_trait::async_trait;
use gatehouse_domain::ip_ban::{IpBan, IpBanStore, IpNet};
use gatehouse_domain::store::{StoreError, StoreResult};
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(sqlx::FromRow)]
struct BanRow {
    id: Uuid,
    cidr: String,
    reason: Option<String>,
    created_at: Ts,
    expires_at: Option<Ts>,
}

impl BanRow {
    fn into_ban(self) -> StoreResult<IpBan> {
        Ok(IpBan {
            id: self.id,
            cidr: IpNet::parse(&self.cidr).map_err(|e| corrupt("ip ban", e))?,
            reason: self.reason,
            created_at: self.created_at.0,
            expires_at: self.expires_at.map(|t| t.0),
        })
    }
}

#[async_trait]
impl IpBanStore for Store {
    async fn insert_ip_ban(&self, ban: &IpBan) -> StoreResult<()> {
        with_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO ip_bans (id, cidr, reason, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(ban.id)
            .bind(ban.cidr.to_string())
            .bind(ban.reason.as_deref())
            .bind(Ts(ban.created_at))
            .bind(ban.expires_at.map(Ts))
            .execute(pool)
            .await
            .map_err(store_error)?;
        });
        Ok(())
    }

    async fn find_ip_ban(&self, id: Uuid) -> StoreResult<Option<IpBan>> {
        let row: Option<BanRow> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT id, cidr, reason, created_at, expires_at FROM ip_bans WHERE id = $1",
            )
            .bind(id)
            .fetch_optional(pool)
            .await
            .map_err(store_error)?
        });
        row.map(BanRow::into_ban).transpose()
    }

    async fn list_ip_bans(&self) -> StoreResult<Vec<IpBan>> {
        let rows: Vec<BanRow> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT id, cidr, reason, created_at, expires_at FROM ip_bans ORDER BY id DESC",
            )
            .fetch_all(pool)
            .await
            .map_err(store_error)?
        });
        rows.into_iter().map(BanRow::into_ban).collect()
    }

    async fn list_active_ip_bans(&self, now: OffsetDateTime) -> StoreResult<Vec<IpBan>> {
        let rows: Vec<BanRow> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT id, cidr, reason, created_at, expires_at FROM ip_bans \
                 WHERE expires_at IS NULL OR expires_at > $1 ORDER BY id DESC",
            )
            .bind(Ts(now))
            .fetch_all(pool)
            .await
            .map_err(store_error)?
        });
        rows.into_iter().map(BanRow::into_ban).collect()
    }

    async fn delete_ip_ban(&self, id: Uuid) -> StoreResult<()> {
        let affected = with_pool!(self, |pool| {
            sqlx::query("DELETE FROM ip_bans WHERE id = $1")
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
}
