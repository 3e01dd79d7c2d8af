//! Changes to apps (tenants), their API keys, OAuth 2.0 clients and users, shared by the admin
//! API (`/admin/tenants`, `/admin/identities`) and the developer console (`/console/`): each
//! stores the change, keeps this node's caches in step, and records the audit event naming who
//! made it. The callers parse their own input and shape their own answers.

use crate::audit;
use crate::extract::RequestMeta;
use crate::oauth::clients::{self, ClientWriteError, Created, Origin};
use crate::oauth::wire::ClientRequest;
use crate::state::AppState;
use gatehouse_domain::audit::{AuditEvent, AuditEventType, AuditResult};
use gatehouse_domain::identity::schema::TraitsError;
use gatehouse_domain::identity::{Identity, IdentityState, stored_precision};
use gatehouse_domain::ids::TenantId;
use gatehouse_domain::oauth::client::Client;
use gatehouse_domain::oauth::store::ClientFilter;
use gatehouse_domain::secret::Secret;
use gatehouse_domain::store::{StoreError, StoreResult};
use gatehouse_domain::tenant::{ApiKey, MAX_APPS_PER_DEVELOPER, Tenant};
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
/// scopes, and records `tenant_created`. `false` (nothing stored) when the developer already
/// owns [`MAX_APPS_PER_DEVELOPER`] apps.
pub async fn create(state: &AppState, tenant: &Tenant, by: ChangedBy<'_>) -> StoreResult<bool> {
    match by {
        ChangedBy::Admin => state.store.insert_tenant(tenant).await?,
        ChangedBy::Developer { id, .. } => {
            let now = stored_precision(state.now());
            let stored = state
                .store
                .insert_owned_tenant(tenant, id, now, MAX_APPS_PER_DEVELOPER)
                .await?;
            if !stored {
                return Ok(false);
            }
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
    Ok(true)
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

/// A new OAuth 2.0 client of `tenant` from `req` (its `tenant_id` is set here), through the
/// same rules as `/admin/clients` (which also keep the client cache in step). Records
/// `client_created` (client id, name; never the secret).
pub async fn create_client(
    state: &AppState,
    tenant: TenantId,
    mut req: ClientRequest,
    by: ChangedBy<'_>,
) -> Result<Created, ClientWriteError> {
    req.tenant_id = Some(tenant.0);
    let created = clients::create_client(state, &req, Origin::Admin).await?;
    record(
        state,
        tenant,
        AuditEventType::ClientCreated,
        by,
        json!({
            "client_id": created.client.client_id,
            "client_name": created.client.metadata.client_name,
        }),
    )
    .await;
    Ok(created)
}

/// The client `client_id` if `tenant` owns it.
pub async fn find_client(
    state: &AppState,
    tenant: TenantId,
    client_id: &str,
) -> StoreResult<Option<Client>> {
    Ok(state
        .store
        .find_client(client_id)
        .await?
        .filter(|c| c.tenant_id == tenant))
}

/// Changes the name, redirect URIs, grant types and scope of `client` (a client of `tenant`)
/// to those of `edit`, keeping everything else it has (secret, type, audience, lifespans, …),
/// through the rules of `PUT /admin/clients/{id}`; records `client_updated` (client id, name).
pub async fn update_client(
    state: &AppState,
    tenant: TenantId,
    client: Client,
    edit: ClientRequest,
    by: ChangedBy<'_>,
) -> Result<Client, ClientWriteError> {
    let mut req = ClientRequest::of(&client)
        .map_err(|e| ClientWriteError::Store(StoreError::Backend(Box::new(e))))?;
    req.client_name = edit.client_name;
    req.redirect_uris = edit.redirect_uris;
    req.grant_types = edit.grant_types;
    // The default (`code`) follows the grant types.
    req.response_types = None;
    req.scope = edit.scope;
    req.tenant_id = Some(tenant.0);
    let (client, _) = clients::replace_client(state, client, &req, Origin::Admin).await?;
    record(
        state,
        tenant,
        AuditEventType::ClientUpdated,
        by,
        json!({
            "client_id": client.client_id,
            "client_name": client.metadata.client_name,
        }),
    )
    .await;
    Ok(client)
}

/// Deletes the client `client_id` if `tenant` owns it (cache invalidated as for
/// `/admin/clients`) and records `client_deleted`; `NotFound` otherwise.
pub async fn delete_client(
    state: &AppState,
    tenant: TenantId,
    client_id: &str,
    by: ChangedBy<'_>,
) -> StoreResult<()> {
    let owned = state
        .store
        .find_client(client_id)
        .await?
        .is_some_and(|c| c.tenant_id == tenant);
    if !owned {
        return Err(StoreError::NotFound);
    }
    clients::delete_client(state, client_id).await?;
    record(
        state,
        tenant,
        AuditEventType::ClientDeleted,
        by,
        json!({"client_id": client_id}),
    )
    .await;
    Ok(())
}

/// Why an identity's state could not be changed.
#[derive(Debug, thiserror::Error)]
pub enum IdentityChangeError {
    /// Its stored traits no longer pass its schema, so its identifiers cannot be derived.
    #[error("the identity's traits do not pass its schema: {0}")]
    InvalidTraits(TraitsError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Sets `identity`'s state (the store call of `PUT /admin/identities/{id}`); disabling it also
/// ends its sessions. Records `identity_updated` with the new state and how many sessions
/// ended. `NotFound` if it is gone.
pub async fn set_identity_state(
    state: &AppState,
    mut identity: Identity,
    new_state: IdentityState,
    by: ChangedBy<'_>,
) -> Result<Identity, IdentityChangeError> {
    let facts = state
        .schemas
        .validate(&identity.schema_id, &identity.traits)
        .map_err(IdentityChangeError::InvalidTraits)?;
    identity.state = new_state;
    identity.updated_at = stored_precision(state.now());
    state
        .store
        .update_identity(&identity, &facts.identifiers)
        .await?;
    let ended = if new_state == IdentityState::Inactive {
        state
            .store
            .revoke_identity_sessions(identity.tenant_id, identity.id, None)
            .await?
    } else {
        0
    };
    tracing::info!(user.id = %identity.id, "identity state changed");
    let event = AuditEvent::new(
        identity.tenant_id,
        AuditEventType::IdentityUpdated,
        AuditResult::Success,
        state.now(),
    )
    .identity(identity.id);
    let details = json!({"state": identity.state, "revoked_sessions": ended});
    audit::record(state, by.stamp(event, details)).await;
    Ok(identity)
}

/// Deletes identity `id` of `tenant` (the store call of `DELETE /admin/identities/{id}`): the
/// clients the person registered are deactivated with it and this node's client cache forgets
/// them at once (other nodes within its lifetime). Records `identity_deleted`. `NotFound` if
/// absent.
pub async fn delete_identity(
    state: &AppState,
    tenant: TenantId,
    id: Uuid,
    by: ChangedBy<'_>,
) -> StoreResult<()> {
    let owned: Vec<String> = state
        .store
        .list_owned_clients(id, None, 1000)
        .await?
        .into_iter()
        .map(|c| c.client_id)
        .collect();
    state.store.delete_identity(tenant, id).await?;
    for client_id in &owned {
        state.clients.invalidate(client_id).await;
    }
    tracing::info!(user.id = %id, "identity deleted");
    let event = AuditEvent::new(
        tenant,
        AuditEventType::IdentityDeleted,
        AuditResult::Success,
        state.now(),
    )
    .identity(id);
    audit::record(
        state,
        by.stamp(event, json!({"deactivated_clients": owned})),
    )
    .await;
    Ok(())
}
