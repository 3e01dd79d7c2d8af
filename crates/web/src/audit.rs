//! Recording audit events from request handlers: the insert is awaited, and a failure is logged
//! (without the event's details) instead of failing the request that caused it.

use crate::extract::RequestMeta;
use crate::state::AppState;
use gatehouse_domain::audit::{AuditEvent, AuditEventType, AuditResult, AuditStore};
use uuid::Uuid;

/// Stores `event`. Never fails the caller: a store error is logged as a warning naming only the
/// event type and id.
pub async fn record(state: &AppState, event: AuditEvent) {
    insert(state.store.as_ref(), &event).await;
}

/// Who caused an event about an identity.
pub enum Actor<'a> {
    /// The person, from this request.
    Person(&'a RequestMeta),
    /// An operator through the admin API.
    Admin,
}

/// Records a successful `event_type` about `identity_id` of the default tenant with `details`
/// (never a secret).
pub async fn identity_event(
    state: &AppState,
    event_type: AuditEventType,
    identity_id: Uuid,
    actor: Actor<'_>,
    details: serde_json::Value,
) {
    let tenant = gatehouse_domain::ids::TenantId::DEFAULT;
    identity_event_in(state, tenant, event_type, identity_id, actor, details).await;
}

/// [`identity_event`] for an identity of `tenant`.
pub async fn identity_event_in(
    state: &AppState,
    tenant: gatehouse_domain::ids::TenantId,
    event_type: AuditEventType,
    identity_id: Uuid,
    actor: Actor<'_>,
    details: serde_json::Value,
) {
    let event = AuditEvent::new(tenant, event_type, AuditResult::Success, state.now())
        .identity(identity_id)
        .details(details);
    let event = match actor {
        Actor::Person(meta) => event
            .actor("self")
            .client(meta.ip.as_deref(), meta.user_agent.as_deref()),
        Actor::Admin => event.actor("admin"),
    };
    record(state, event).await;
}

/// [`record`] for code that holds a store rather than the whole state.
pub async fn insert<S: AuditStore + ?Sized>(store: &S, event: &AuditEvent) {
    if let Err(err) = store.insert_audit_event(event).await {
        tracing::warn!(
            error = %err,
            audit.event_type = event.event_type.as_str(),
            audit.id = %event.id,
            "cannot record an audit event"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatehouse_domain::audit::{AuditEventType, AuditFilter, AuditResult};
    use gatehouse_domain::ids::TenantId;
    use gatehouse_domain::store::{StoreError, StoreResult};
    use std::sync::atomic::{AtomicU32, Ordering};

    /// A store whose database is down.
    #[derive(Default)]
    struct Down {
        attempts: AtomicU32,
    }

    impl AuditStore for Down {
        fn insert_audit_event<'a, 'b, 'c>(
            &'a self,
            _: &'b AuditEvent,
        ) -> std::pin::Pin<Box<dyn Future<Output = StoreResult<()>> + Send + 'c>>
        where
            'a: 'c,
            'b: 'c,
        {
            self.attempts.fetch_add(1, Ordering::SeqCst);
            Box::pin(async { Err(StoreError::Backend("connection refused".into())) })
        }

        fn list_audit_events<'a, 'b, 'c>(
            &'a self,
            _: TenantId,
            _: &'b AuditFilter,
        ) -> std::pin::Pin<Box<dyn Future<Output = StoreResult<Vec<AuditEvent>>> + Send + 'c>>
        where
            'a: 'c,
            'b: 'c,
        {
            Box::pin(async { Ok(Vec::new()) })
        }
    }

    #[tokio::test]
    async fn a_store_failure_is_absorbed() {
        let store = Down::default();
        let event = AuditEvent::new(
            TenantId::DEFAULT,
            AuditEventType::LoginFailed,
            AuditResult::Failure,
            time::OffsetDateTime::UNIX_EPOCH,
        );
        insert(&store, &event).await;
        assert_eq!(
            store.attempts.load(Ordering::SeqCst),
            1,
            "the insert was tried once"
        );
    }
}
