//! Web hook deliveries.

use crate::{Store, Ts, corrupt, store_error, with_pool};
use async_trait::async_trait;
use gatehouse_domain::ids::TenantId;
use gatehouse_domain::store::{StoreError, StoreResult};
use gatehouse_domain::webhook::{
    AttemptRecord, DeliveryFilter, DeliveryStatus, WebhookDelivery, WebhookEvent, WebhookMode,
    WebhookStore,
};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

#[derive(sqlx::FromRow)]
struct DeliveryRow {
    id: Uuid,
    tenant_id: Uuid,
    webhook_id: String,
    event: String,
    mode: String,
    url: String,
    body: String,
    status: String,
    attempts: i32,
    next_attempt_at: Ts,
    last_status_code: Option<i32>,
    last_error: Option<String>,
    created_at: Ts,
    updated_at: Ts,
    expires_at: Ts,
}

impl DeliveryRow {
    fn into_delivery(self) -> StoreResult<WebhookDelivery> {
        Ok(WebhookDelivery {
            id: self.id,
            tenant_id: TenantId(self.tenant_id),
            event: WebhookEvent::parse(&self.event)
                .ok_or_else(|| corrupt("webhook event", &self.event))?,
            mode: WebhookMode::parse(&self.mode)
                .ok_or_else(|| corrupt("webhook mode", &self.mode))?,
            status: DeliveryStatus::parse(&self.status)
                .ok_or_else(|| corrupt("webhook delivery status", &self.status))?,
            webhook_id: self.webhook_id,
            url: self.url,
            body: self.body,
            attempts: u32::try_from(self.attempts)
                .map_err(|e| corrupt("webhook delivery attempts", e))?,
            next_attempt_at: self.next_attempt_at.0,
            last_status_code: self
                .last_status_code
                .map(u16::try_from)
                .transpose()
                .map_err(|e| corrupt("webhook status code", e))?,
            last_error: self.last_error,
            created_at: self.created_at.0,
            updated_at: self.updated_at.0,
            expires_at: self.expires_at.0,
        })
    }
}

const COLUMNS: &str = "id, tenant_id, webhook_id, event, mode, url, body, status, attempts, \
    next_attempt_at, last_status_code, last_error, created_at, updated_at, expires_at";

/// The longest error text kept per delivery.
const MAX_ERROR_CHARS: usize = 1000;

#[async_trait]
impl WebhookStore for Store {
    async fn insert_webhook_delivery(&self, d: &WebhookDelivery) -> StoreResult<()> {
        let attempts =
            i32::try_from(d.attempts).map_err(|e| corrupt("webhook delivery attempts", e))?;
        let error: Option<String> = d
            .last_error
            .as_deref()
            .map(|e| e.chars().take(MAX_ERROR_CHARS).collect());
        with_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO webhook_deliveries (id, tenant_id, webhook_id, event, mode, url, body, \
                 status, attempts, next_attempt_at, last_status_code, last_error, created_at, \
                 updated_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
            )
            .bind(d.id)
            .bind(d.tenant_id.0)
            .bind(&d.webhook_id)
            .bind(d.event.as_str())
            .bind(d.mode.as_str())
            .bind(&d.url)
            .bind(&d.body)
            .bind(d.status.as_str())
            .bind(attempts)
            .bind(Ts(d.next_attempt_at))
            .bind(d.last_status_code.map(i32::from))
            .bind(error.as_deref())
            .bind(Ts(d.created_at))
            .bind(Ts(d.updated_at))
            .bind(Ts(d.expires_at))
            .execute(pool)
            .await
            .map_err(store_error)?;
        });
        Ok(())
    }

    async fn find_webhook_delivery(
        &self,
        tenant: TenantId,
        id: Uuid,
    ) -> StoreResult<Option<WebhookDelivery>> {
        let sql =
            format!("SELECT {COLUMNS} FROM webhook_deliveries WHERE tenant_id = $1 AND id = $2");
        let row: Option<DeliveryRow> = with_pool!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(tenant.0)
                .bind(id)
                .fetch_optional(pool)
                .await
                .map_err(store_error)?
        });
        row.map(DeliveryRow::into_delivery).transpose()
    }

    async fn list_webhook_deliveries(
        &self,
        tenant: TenantId,
        filter: &DeliveryFilter,
    ) -> StoreResult<Vec<WebhookDelivery>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM webhook_deliveries WHERE tenant_id = $1 \
             AND ($2 IS NULL OR webhook_id = $2) AND ($3 IS NULL OR event = $3) \
             AND ($4 IS NULL OR status = $4) AND ($5 IS NULL OR id < $5) \
             ORDER BY id DESC LIMIT $6"
        );
        let rows: Vec<DeliveryRow> = with_pool!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(tenant.0)
                .bind(filter.webhook_id.as_deref())
                .bind(filter.event.map(WebhookEvent::as_str))
                .bind(filter.status.map(DeliveryStatus::as_str))
                .bind(filter.before)
                .bind(i64::from(filter.limit))
                .fetch_all(pool)
                .await
                .map_err(store_error)?
        });
        rows.into_iter().map(DeliveryRow::into_delivery).collect()
    }

    async fn claim_due_deliveries(
        &self,
        now: OffsetDateTime,
        lease: Duration,
        limit: u32,
    ) -> StoreResult<Vec<WebhookDelivery>> {
        // One statement: the rows it picks are updated before another worker can pick them.
        // PostgreSQL skips rows another worker has locked; SQLite has a single writer.
        let lock = match self {
            Store::Sqlite(_) => "",
            Store::Postgres(_) => "FOR UPDATE SKIP LOCKED",
        };
        let sql = format!(
            "UPDATE webhook_deliveries SET attempts = attempts + 1, next_attempt_at = $2, updated_at = $1 \
             WHERE id IN (SELECT id FROM webhook_deliveries WHERE mode = 'async' \
             AND status IN ('queued', 'failed') AND next_attempt_at <= $1 \
             ORDER BY next_attempt_at, id LIMIT $3 {lock}) RETURNING {COLUMNS}"
        );
        let rows: Vec<DeliveryRow> = with_pool!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(Ts(now))
                .bind(Ts(now + lease))
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await
                .map_err(store_error)?
        });
        let mut deliveries: Vec<WebhookDelivery> = rows
            .into_iter()
            .map(DeliveryRow::into_delivery)
            .collect::<StoreResult<_>>()?;
        deliveries.sort_by_key(|d| d.id);
        Ok(deliveries)
    }

    async fn record_delivery_attempt(
        &self,
        tenant: TenantId,
        id: Uuid,
        record: &AttemptRecord,
        now: OffsetDateTime,
    ) -> StoreResult<()> {
        let error: Option<String> = record
            .error
            .as_deref()
            .map(|e| e.chars().take(MAX_ERROR_CHARS).collect());
        let affected = with_pool!(self, |pool| {
            sqlx::query(
                "UPDATE webhook_deliveries SET status = $3, last_status_code = $4, \
                 last_error = $5, next_attempt_at = $6, updated_at = $7 \
                 WHERE tenant_id = $1 AND id = $2 AND status IN ('queued', 'failed')",
            )
            .bind(tenant.0)
            .bind(id)
            .bind(record.status.as_str())
            .bind(record.status_code.map(i32::from))
            .bind(error.as_deref())
            .bind(Ts(record.next_attempt_at))
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
}
