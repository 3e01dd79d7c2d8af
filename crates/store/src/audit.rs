//! Audit events.

use crate::{Store, Ts, corrupt, store_error, with_pool};
use async_trait::async_trait;
use gatehouse_domain::audit::{AuditEvent, AuditEventType, AuditFilter, AuditResult, AuditStore};
use gatehouse_domain::ids::TenantId;
use gatehouse_domain::store::StoreResult;
use sqlx::types::Json;
use uuid::Uuid;

#[derive(sqlx::FromRow)]
struct AuditRow {
    id: Uuid,
    tenant_id: Uuid,
    event_type: String,
    identity_id: Option<Uuid>,
    actor: Option<String>,
    ip_address: Option<String>,
    user_agent: Option<String>,
    result: String,
    reason: Option<String>,
    details: Json<serde_json::Value>,
    created_at: Ts,
}

impl AuditRow {
    fn into_event(self) -> StoreResult<AuditEvent> {
        Ok(AuditEvent {
            id: self.id,
            tenant_id: TenantId(self.tenant_id),
            event_type: AuditEventType::parse(&self.event_type)
                .ok_or_else(|| corrupt("audit event type", &self.event_type))?,
            identity_id: self.identity_id,
            actor: self.actor,
            ip_address: self.ip_address,
            user_agent: self.user_agent,
            result: AuditResult::parse(&self.result)
                .ok_or_else(|| corrupt("audit result", &self.result))?,
            reason: self.reason,
            details: self.details.0,
            created_at: self.created_at.0,
        })
    }
}

#[async_trait]
impl AuditStore for Store {
    async fn insert_audit_event(&self, event: &AuditEvent) -> StoreResult<()> {
        with_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO audit_events (id, tenant_id, event_type, identity_id, actor, ip_address, \
                 user_agent, result, reason, details, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .bind(event.id)
            .bind(event.tenant_id.0)
            .bind(event.event_type.as_str())
            .bind(event.identity_id)
            .bind(event.actor.as_deref())
            .bind(event.ip_address.as_deref())
            .bind(event.user_agent.as_deref())
            .bind(event.result.as_str())
            .bind(event.reason.as_deref())
            .bind(Json(&event.details))
            .bind(Ts(event.created_at))
            .execute(pool)
            .await
            .map_err(store_error)?;
        });
        Ok(())
    }

    async fn list_audit_events(
        &self,
        tenant: TenantId,
        filter: &AuditFilter,
    ) -> StoreResult<Vec<AuditEvent>> {
        // NULL parameters switch a condition off, so one statement serves every filter; the
        // cursor is the (created_at, id) of the last event of the previous page.
        let rows: Vec<AuditRow> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT id, tenant_id, event_type, identity_id, actor, ip_address, user_agent, result, \
                 reason, details, created_at FROM audit_events \
                 WHERE tenant_id = $1 AND ($2 IS NULL OR identity_id = $2) \
                 AND ($3 IS NULL OR event_type = $3) \
                 AND ($4 IS NULL OR created_at >= $4) AND ($5 IS NULL OR created_at < $5) \
                 AND ($6 IS NULL OR created_at < $6 OR (created_at = $6 AND id < $7)) \
                 ORDER BY created_at DESC, id DESC LIMIT $8",
            )
            .bind(tenant.0)
            .bind(filter.identity_id)
            .bind(filter.event_type.map(AuditEventType::as_str))
            .bind(filter.since.map(Ts))
            .bind(filter.until.map(Ts))
            .bind(filter.before.map(|c| Ts(c.created_at)))
            .bind(filter.before.map(|c| c.id))
            .bind(i64::from(filter.limit))
            .fetch_all(pool)
            .await
            .map_err(store_error)?
        });
        rows.into_iter().map(AuditRow::into_event).collect()
    }
}
