//! Recording audit events from request handlers: the insert is awaited, and a failure is logged
//! (without the event's details) instead of failing the request that caused it.

use crate::state::AppState;
use gatehouse_domain::audit::{AuditEvent, AuditStore};

/// Stores `event`. Never fails the caller: a store error is logged as a warning naming only the
/// event type and id.
pub async fn record(state: &AppState, event: AuditEvent) {
    insert(state.store.as_ref(), &event).await;
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
