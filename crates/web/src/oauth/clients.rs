//! Client lookups with a short-lived cache, and the creation and update rules shared by the
//! admin API and dynamic client registration.
//!
//! A change made through this node invalidates its cache entry at once; other nodes see it
//! within `client_cache_ttl`.

use super::wire::{ClientRequest, metadata_from_request};
use crate::state::AppState;
use gatehouse_domain::ids::{TenantId, new_row_id};
use gatehouse_domain::oauth::client::{
    AuthMethod, Client, ClientError, generate_client_secret, validate_client_id,
    validate_client_secret,
};
use gatehouse_domain::secret::Secret;
use gatehouse_domain::store::{Storage, StoreError};
use moka::sync::Cache;
use std::sync::Arc;

#[derive(Clone)]
pub struct ClientCache {
    store: Arc<dyn Storage>,
    cache: Cache<String, Option<Arc<Client>>>,
}

impl ClientCache {
    pub fn new(store: Arc<dyn Storage>, ttl: std::time::Duration) -> Self {
        Self {
            store,
            cache: Cache::builder()
                .max_capacity(50_000)
                .time_to_live(ttl)
                .build(),
        }
    }

    /// The client, from the cache or the database (a miss is cached too, briefly).
    pub async fn get(&self, client_id: &str) -> Result<Option<Arc<Client>>, StoreError> {
        if let Some(hit) = self.cache.get(client_id) {
            return Ok(hit);
        }
        let client = self.store.find_client(client_id).await?.map(Arc::new);
        self.cache.insert(client_id.to_owned(), client.clone());
        Ok(client)
    }

    pub async fn invalidate(&self, client_id: &str) {
        self.cache.invalidate(client_id);
    }
}

/// Who is creating a client: the admin API may set everything; dynamic registration may not
/// choose the secret, the tenant, `skip_consent` or `metadata`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Admin,
    Dynamic,
}

#[derive(Debug, thiserror::Error)]
pub enum ClientWriteError {
    #[error(transparent)]
    Invalid(#[from] ClientError),
    #[error("a client with this client_id already exists")]
    Taken,
    #[error("tenant {0} does not exist")]
    UnknownTenant(TenantId),
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for ClientWriteError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Conflict { .. } => Self::Taken,
            other => Self::Store(other),
        }
    }
}

fn admin_only(req: &ClientRequest) -> Result<(), ClientError> {
    let field = if req.client_secret.is_some() {
        "client_secret"
    } else if req.skip_consent.is_some() {
        "skip_consent"
    } else if req.metadata.is_some() {
        "metadata"
    } else if req.tenant_id.is_some() {
        "tenant_id"
    } else if req.active.is_some() {
        "active"
    } else {
        return Ok(());
    };
    Err(ClientError::Invalid {
        field,
        reason: "may only be set through the admin API".into(),
    })
}

fn public_client_has_no_secret() -> ClientError {
    ClientError::Invalid {
        field: "client_secret",
        reason: "a public client (token_endpoint_auth_method \"none\") has no secret".into(),
    }
}

/// A newly created client and the secrets shown only in this answer.
pub struct Created {
    pub client: Client,
    pub secret: Option<Secret>,
    pub registration_token: Option<Secret>,
}

pub async fn create_client(
    state: &AppState,
    req: &ClientRequest,
    origin: Origin,
) -> Result<Created, ClientWriteError> {
    if origin == Origin::Dynamic {
        admin_only(req)?;
    }
    let metadata = metadata_from_request(req, &state.settings)?;
    metadata.validate()?;
    let client_id = match (&req.client_id, origin) {
        (Some(id), Origin::Admin) => {
            validate_client_id(id)?;
            id.clone()
        }
        (Some(_), Origin::Dynamic) => {
            return Err(ClientError::Invalid {
                field: "client_id",
                reason: "is assigned by the server".into(),
            }
            .into());
        }
        (None, _) => uuid::Uuid::new_v4().to_string(),
    };
    let secret = if metadata.token_endpoint_auth_method == AuthMethod::None {
        if req.client_secret.is_some() {
            return Err(public_client_has_no_secret().into());
        }
        None
    } else {
        Some(match &req.client_secret {
            Some(s) => {
                validate_client_secret(s.expose())?;
                s.clone()
            }
            None => generate_client_secret(),
        })
    };
    let registration_token = (origin == Origin::Dynamic).then(|| Secret::generate(32));
    let tenant_id = req.tenant_id.map_or(TenantId::DEFAULT, TenantId);
    let now = state.now();
    let client = Client {
        id: new_row_id(now),
        client_id,
        tenant_id,
        secret_hash: secret.as_ref().map(Secret::hash),
        registration_token_hash: registration_token.as_ref().map(Secret::hash),
        owner_identity_id: None,
        active: req.active.unwrap_or(true),
        created_at: now,
        updated_at: now,
        metadata,
    };
    match state.store.insert_client(&client).await {
        Ok(()) => {}
        // The row it refers to is missing: its tenant.
        Err(StoreError::NotFound) => return Err(ClientWriteError::UnknownTenant(tenant_id)),
        Err(e) => return Err(e.into()),
    }
    state.clients.invalidate(&client.client_id).await;
    tracing::info!(client.id = %client.client_id, tenant.id = %client.tenant_id, "client created");
    Ok(Created {
        client,
        secret,
        registration_token,
    })
}

/// Replaces a client's metadata (PUT semantics). A secret in the request replaces the old one;
/// without one the old secret stays. Returns a secret only when one was generated.
pub async fn replace_client(
    state: &AppState,
    mut client: Client,
    req: &ClientRequest,
    origin: Origin,
) -> Result<(Client, Option<Secret>), ClientWriteError> {
    if origin == Origin::Dynamic {
        admin_only(req)?;
    }
    if req
        .client_id
        .as_ref()
        .is_some_and(|id| *id != client.client_id)
    {
        return Err(ClientError::Invalid {
            field: "client_id",
            reason: "cannot be changed".into(),
        }
        .into());
    }
    let metadata = metadata_from_request(req, &state.settings)?;
    metadata.validate()?;
    let mut generated = None;
    if metadata.token_endpoint_auth_method == AuthMethod::None {
        if req.client_secret.is_some() {
            return Err(public_client_has_no_secret().into());
        }
        client.secret_hash = None;
    } else if let Some(s) = &req.client_secret {
        validate_client_secret(s.expose())?;
        client.secret_hash = Some(s.hash());
    } else if client.secret_hash.is_none() {
        let secret = generate_client_secret();
        client.secret_hash = Some(secret.hash());
        generated = Some(secret);
    }
    if let Some(tenant) = req.tenant_id {
        client.tenant_id = TenantId(tenant);
    }
    if let Some(active) = req.active {
        client.active = active;
    }
    client.metadata = metadata;
    client.updated_at = state.now();
    let result = state.store.update_client(&client).await;
    state.clients.invalidate(&client.client_id).await;
    match result {
        Ok(()) => {}
        // Moved to a tenant that is not there (otherwise: the client was deleted meanwhile).
        Err(StoreError::NotFound) if req.tenant_id.is_some() => {
            return Err(ClientWriteError::UnknownTenant(client.tenant_id));
        }
        Err(e) => return Err(e.into()),
    }
    tracing::info!(client.id = %client.client_id, "client updated");
    Ok((client, generated))
}

pub async fn delete_client(state: &AppState, client_id: &str) -> Result<(), StoreError> {
    let result = state.store.delete_client(client_id).await;
    state.clients.invalidate(client_id).await;
    result?;
    tracing::info!(client.id = %client_id, "client deleted");
    Ok(())
}
