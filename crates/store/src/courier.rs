//! The courier outbox.

use crate::{Store, Ts, corrupt, store_error, with_pool};
use async_trait::async_trait;
use gatehouse_domain::courier::{CourierFilter, CourierMessage, CourierStore, MessageStatus};
use gatehouse_domain::ids::TenantId;
use gatehouse_domain::store::{StoreError, StoreResult};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

#[derive(sqlx::FromRow)]
struct MessageRow {
    id: Uuid,
    tenant_id: Uuid,
    recipient: String,
    subject: String,
    body: String,
    html_body: Option<String>,
    template_type: String,
    status: String,
    send_count: i32,
    next_attempt_at: Ts,
    last_error: Option<String>,
    created_at: Ts,
    updated_at: Ts,
}

impl MessageRow {
    fn into_message(self) -> StoreResult<CourierMessage> {
        Ok(CourierMessage {
            id: self.id,
            tenant_id: TenantId(self.tenant_id),
            recipient: self.recipient,
            subject: self.subject,
            body: self.body,
            html_body: self.html_body,
            template_type: self.template_type,
            status: MessageStatus::parse(&self.status)
                .ok_or_else(|| corrupt("message status", &self.status))?,
            send_count: u32::try_from(self.send_count)
                .map_err(|e| corrupt("message send count", e))?,
            next_attempt_at: self.next_attempt_at.0,
            last_error: self.last_error,
            created_at: self.created_at.0,
            updated_at: self.updated_at.0,
        })
    }
}

const COLUMNS: &str = "id, tenant_id, recipient, subject, body, html_body, template_type, status, \
    send_count, next_attempt_at, last_error, created_at, updated_at";

/// The longest error text kept per message.
const MAX_ERROR_CHARS: usize = 1000;

#[async_trait]
impl CourierStore for Store {
    async fn insert_courier_message(&self, m: &CourierMessage) -> StoreResult<()> {
        let send_count =
            i32::try_from(m.send_count).map_err(|e| corrupt("message send count", e))?;
        with_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO courier_messages (id, tenant_id, recipient, subject, body, html_body, \
                 template_type, status, send_count, next_attempt_at, last_error, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
            )
            .bind(m.id)
            .bind(m.tenant_id.0)
            .bind(&m.recipient)
            .bind(&m.subject)
            .bind(&m.body)
            .bind(m.html_body.as_deref())
            .bind(&m.template_type)
            .bind(m.status.as_str())
            .bind(send_count)
            .bind(Ts(m.next_attempt_at))
            .bind(m.last_error.as_deref())
            .bind(Ts(m.created_at))
            .bind(Ts(m.updated_at))
            .execute(pool)
            .await
            .map_err(store_error)?;
        });
        Ok(())
    }

    async fn find_courier_message(
        &self,
        tenant: TenantId,
        id: Uuid,
    ) -> StoreResult<Option<CourierMessage>> {
        let sql =
            format!("SELECT {COLUMNS} FROM courier_messages WHERE tenant_id = $1 AND id = $2");
        let row: Option<MessageRow> = with_pool!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(tenant.0)
                .bind(id)
                .fetch_optional(pool)
                .await
                .map_err(store_error)?
        });
        row.map(MessageRow::into_message).transpose()
    }

    async fn list_courier_messages(
        &self,
        tenant: TenantId,
        filter: &CourierFilter,
    ) -> StoreResult<Vec<CourierMessage>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM courier_messages WHERE tenant_id = $1 \
             AND ($2 IS NULL OR recipient = $2) AND ($3 IS NULL OR status = $3) \
             AND ($4 IS NULL OR id < $4) ORDER BY id DESC LIMIT $5"
        );
        let rows: Vec<MessageRow> = with_pool!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(tenant.0)
                .bind(filter.recipient.as_deref())
                .bind(filter.status.map(MessageStatus::as_str))
                .bind(filter.before)
                .bind(i64::from(filter.limit))
                .fetch_all(pool)
                .await
                .map_err(store_error)?
        });
        rows.into_iter().map(MessageRow::into_message).collect()
    }

    async fn claim_due_messages(
        &self,
        now: OffsetDateTime,
        lease: Duration,
        limit: u32,
    ) -> StoreResult<Vec<CourierMessage>> {
        // One statement: the rows it picks are updated before any other worker can pick them.
        // PostgreSQL skips rows another worker has locked instead of waiting for them; SQLite
        // has a single writer, so the statement is already exclusive.
        let lock = match self {
            Store::Sqlite(_) => "",
            Store::Postgres(_) => "FOR UPDATE SKIP LOCKED",
        };
        let sql = format!(
            "UPDATE courier_messages SET send_count = send_count + 1, next_attempt_at = $2, updated_at = $1 \
             WHERE id IN (SELECT id FROM courier_messages WHERE status = 'queued' AND next_attempt_at <= $1 \
             ORDER BY next_attempt_at, id LIMIT $3 {lock}) RETURNING {COLUMNS}"
        );
        let rows: Vec<MessageRow> = with_pool!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(Ts(now))
                .bind(Ts(now + lease))
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await
                .map_err(store_error)?
        });
        let mut messages: Vec<CourierMessage> = rows
            .into_iter()
            .map(MessageRow::into_message)
            .collect::<StoreResult<_>>()?;
        messages.sort_by_key(|m| m.id);
        Ok(messages)
    }

    async fn mark_message_sent(
        &self,
        tenant: TenantId,
        id: Uuid,
        now: OffsetDateTime,
    ) -> StoreResult<()> {
        let affected = with_pool!(self, |pool| {
            sqlx::query(
                "UPDATE courier_messages SET status = 'sent', last_error = NULL, updated_at = $3 \
                 WHERE tenant_id = $1 AND id = $2",
            )
            .bind(tenant.0)
            .bind(id)
            .bind(Ts(now))
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

    async fn mark_message_failed(
        &self,
        tenant: TenantId,
        id: Uuid,
        error: &str,
        next_attempt_at: OffsetDateTime,
        max_attempts: u32,
        now: OffsetDateTime,
    ) -> StoreResult<MessageStatus> {
        let error: String = error.chars().take(MAX_ERROR_CHARS).collect();
        let max_attempts = i32::try_from(max_attempts).unwrap_or(i32::MAX);
        let status: Option<String> = with_pool!(self, |pool| {
            sqlx::query_scalar(
                "UPDATE courier_messages SET \
                 status = CASE WHEN send_count >= $3 THEN 'abandoned' ELSE 'queued' END, \
                 next_attempt_at = $4, last_error = $5, updated_at = $6 \
                 WHERE tenant_id = $1 AND id = $2 AND status = 'queued' RETURNING status",
            )
            .bind(tenant.0)
            .bind(id)
            .bind(max_attempts)
            .bind(Ts(next_attempt_at))
            .bind(&error)
            .bind(Ts(now))
            .fetch_optional(pool)
            .await
            .map_err(store_error)?
        });
        let status = status.ok_or(StoreError::NotFound)?;
        MessageStatus::parse(&status).ok_or_else(|| corrupt("message status", &status))
    }
}
