//! Changes to apps (tenants) and their API keys, shared by the admin API
//! (`/admin/tenants`) and the developer console (`/console/`): each stores the change, keeps this
//! node's caches in step, and records the audit event naming who made it. The callers parse
//! their own input and shape their own answers.

use crate::audit;
use crate::extract::RequestMeta;
use crate::state::AppState;
use gatehouse_domain::audit::{AuditEvent, AuditEventType, AuditResult};
use gatehouse_domain::identity::stored_precision;
use gatehouse_domain::ids::TenantId;
use gatehouse_domain::oauth::store::ClientFilter;
use gatehouse_domain::secret::Secret;
use gatehouse_domain::store::StoreResult;
use gatehouse_domain::tenant::{ApiKey, Tenant};
use serde_json::{Value, json};
use uuid::Uuid;

/// Who changes an app.
#[derive(Debug, Clone, Copy)]
pub enum ChangedBy<'a> {
    /// An operator through the admin API.
    Admin,
    /// A developer (an identity of the console tenant) in the console, from this request.
    Developer { id: Uuid, request: &'a RequestMeta },
}

impl ChangedBy<'_> {
    /// The event with its actor: `admin`, or `developer` with the developer's id in the details
    /// and the request's address and user agent.
    fn stamp(self, event: AuditEvent, mut details: Value) -> AuditEvent {
        match self {
            Self::Admin => event.actor("admin").details(details),
            Self::Developer { id, request } => {
                details["developer_id"] = json!(id);
                event
                    .actor("developer")
                    .client(request.ip.as_deref(), request.user_agent.as_deref())
                    .details(details)
            }
        }
    }
}

async fn record(
    state: &AppState,
    tenant: TenantId,
    kind: AuditEventType,
    by: ChangedBy<'_>,
    details: Value,
) {
    let event = AuditEvent::new(tenant, kind, AuditResult::Success, state.now());
    audit::record(state, by.stamp(event, details)).await;
}

/// Stores a new app (owned by the developer who creates it in the console) with its built-in
/// scopes, and records `tenant_created`.
pub async fn create(state: &AppState, tenant: &Tenant, by: ChangedBy<'_>) -> StoreResult<()> {
    match by {
        ChangedBy::Admin => state.store.insert_tenant(tenant).await?,
        ChangedBy::Developer { id, .. } => {
            let now = stored_precision(state.now());
            state.store.insert_owned_tenant(tenant, id, now).await?;
        }
    }
    // Its built-in scopes: this node knows them at once, the others within seconds.
    crate::oauth::catalog::reload(state).await;
    tracing::info!(tenant.id = %tenant.id, "tenant created");
    record(
        state,
        tenant.id,
        AuditEventType::TenantCreated,
        by,
        json!({"tenant_id": tenant.id, "name": tenant.name}),
    )
    .await;
    Ok(())
}

/// Stores the app's new name and settings and records `tenant_updated`; `NotFound` if it is gone.
pub async fn update(state: &AppState, tenant: &Tenant, by: ChangedBy<'_>) -> StoreResult<()> {
    state.store.update_tenant(tenant).await?;
    record(
        state,
        tenant.id,
        AuditEventType::TenantUpdated,
        by,
        json!({"tenant_id": tenant.id, "name": tenant.name}),
    )
    .await;
    Ok(())
}

/// Every `client_id` of the tenant, so this node's client cache can forget them.
async fn client_ids(state: &AppState, tenant: TenantId) -> StoreResult<Vec<String>> {
    let mut ids = Vec::new();
    let mut after = None;
    loop {
        let page = state
            .store
            .list_clients(&ClientFilter {
                tenant_id: Some(tenant),
                client_name: None,
                after,
                limit: 500,
            })
            .await?;
        let full = page.len() == 500;
        after = page.last().map(|c| c.id);
        ids.extend(page.into_iter().map(|c| c.client_id));
        if !full {
            return Ok(ids);
        }
    }
}

/// Deletes the app and everything it owns (one transaction in the store), and records
/// `tenant_deleted` in the default tenant: the app's own audit events went with it.
/// `NotFound` if it is gone; `Conflict` for a built-in tenant.
pub async fn delete(state: &AppState, tenant: &Tenant, by: ChangedBy<'_>) -> StoreResult<()> {
    let clients = client_ids(state, tenant.id).await?;
    state.store.delete_tenant(tenant.id).await?;
    for client_id in &clients {
        state.clients.invalidate(client_id).await;
    }
    crate::oauth::catalog::reload(state).await;
    state.scopes.changed.notify_one();
    tracing::info!(tenant.id = %tenant.id, "tenant deleted with all its data");
    record(
        state,
        TenantId::DEFAULT,
        AuditEventType::TenantDeleted,
        by,
        json!({"tenant_id": tenant.id, "name": tenant.name, "clients": clients.len()}),
    )
    .await;
    Ok(())
}

/// A new API key of `tenant` named `name` (already parsed): the stored record and the key, to
/// be shown once. Records `api_key_created` (id, prefix and name; never the key). `NotFound` if
/// the tenant is gone.
pub async fn create_api_key(
    state: &AppState,
    tenant: TenantId,
    name: String,
    by: ChangedBy<'_>,
) -> StoreResult<(ApiKey, Secret)> {
    let (key, secret) = ApiKey::generate(tenant, name, stored_precision(state.now()));
    state.store.insert_api_key(&key).await?;
    record(
        state,
        tenant,
        AuditEventType::ApiKeyCreated,
        by,
        json!({"api_key_id": key.id, "prefix": key.prefix, "name": key.name}),
    )
    .await;
    Ok((key, secret))
}

/// Deletes the key (it stops working at once, on every node) and records `api_key_revoked`;
/// `NotFound` unless the tenant has this key.
pub async fn revoke_api_key(
    state: &AppState,
    tenant: TenantId,
    key_id: Uuid,
    by: ChangedBy<'_>,
) -> StoreResult<()> {
    state.store.delete_api_key(tenant, key_id).await?;
    record(
        state,
        tenant,
        AuditEventType::ApiKeyRevoked,
        by,
        json!({"api_key_id": key_id}),
    )
    .await;
    Ok(())
}
