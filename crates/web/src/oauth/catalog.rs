//! The scope catalog as each node holds it: every tenant's scopes in memory (the token and
//! authorization endpoints never read the database for them), reloaded every few seconds and at
//! once on the node that changed them; and `GET /api/scopes`, the active scopes of a tenant.

use crate::error::ApiError;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use gatehouse_domain::ids::TenantId;
use gatehouse_domain::oauth::catalog::{Catalog, InactiveScope};
use gatehouse_domain::oauth::scope::Scope;
use gatehouse_domain::oauth::store::ScopeStore;
use gatehouse_domain::store::StoreResult;
use serde::{Deserialize, Serialize};
use std::sync::{Arc, RwLock};
use tokio::sync::Notify;

/// How often every node re-reads the catalog (a change on another node reaches it within this).
pub const RELOAD_EVERY: std::time::Duration = std::time::Duration::from_secs(3);

/// This node's copy of the scope catalog.
#[derive(Debug, Default)]
pub struct ScopeCatalog {
    catalog: RwLock<Arc<Catalog>>,
    /// Wakes the reload loop early.
    pub changed: Notify,
}

impl ScopeCatalog {
    pub fn new() -> Self {
        Self::default()
    }

    /// Replaces the copy with what the database holds; `true` when it changed.
    pub async fn reload<S: ScopeStore + ?Sized>(&self, store: &S) -> StoreResult<bool> {
        let fresh = Catalog::new(store.list_all_scopes().await?);
        let mut current = self
            .catalog
            .write()
            .expect("catalog lock is never poisoned: nothing panics holding it");
        if **current == fresh {
            return Ok(false);
        }
        *current = Arc::new(fresh);
        Ok(true)
    }

    /// The catalog as last loaded (cheap: one reference count).
    pub fn snapshot(&self) -> Arc<Catalog> {
        self.catalog
            .read()
            .expect("catalog lock is never poisoned: nothing panics holding it")
            .clone()
    }

    /// Refuses a requested scope that `tenant_id`'s catalog holds as inactive; scopes the catalog
    /// does not know pass (the client's registered `scope` decides those). Every endpoint that
    /// takes a `scope` parameter calls this.
    pub fn refuse_inactive(&self, tenant_id: TenantId, scope: &Scope) -> Result<(), InactiveScope> {
        self.snapshot().refuse_inactive(tenant_id, scope)
    }

    /// `scope` without the tokens `tenant_id`'s catalog holds as inactive.
    pub fn without_inactive(&self, tenant_id: TenantId, scope: &Scope) -> Scope {
        self.snapshot().without_inactive(tenant_id, scope)
    }

    /// The default tenant's active scope names (discovery's `scopes_supported`).
    pub fn supported(&self) -> Vec<String> {
        self.snapshot()
            .active(TenantId::DEFAULT)
            .map(|s| s.name.clone())
            .collect()
    }
}

/// Reloads this node's catalog and, when it changed, the discovery document that lists it. A
/// failure keeps the current copy until the next attempt.
pub async fn reload(state: &AppState) {
    match state.scopes.reload(state.store.as_ref()).await {
        Ok(true) => state
            .discovery
            .rebuild(&state.settings, &state.scopes.supported()),
        Ok(false) => {}
        Err(err) => {
            tracing::warn!(error = %err, "cannot reload the scope catalog; keeping the current one");
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct TenantQuery {
    tenant_id: Option<uuid::Uuid>,
}

impl TenantQuery {
    pub fn tenant(&self) -> TenantId {
        self.tenant_id.map_or(TenantId::DEFAULT, TenantId)
    }
}

/// One scope as `GET /api/scopes` shows it.
#[derive(Debug, Serialize)]
struct PublicScope<'a> {
    name: &'a str,
    display_name: &'a str,
    description: &'a str,
    claims: &'a [String],
}

/// `GET /api/scopes[?tenant_id=…]`: the active scopes of a tenant (the default one unless
/// named), from memory; cacheable for a minute.
pub async fn list(
    State(state): State<AppState>,
    query: Result<Query<TenantQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) =
        query.map_err(|_| ApiError::bad_request("invalid_query", "tenant_id: must be a UUID"))?;
    let catalog = state.scopes.snapshot();
    let body: Vec<PublicScope<'_>> = catalog
        .active(query.tenant())
        .map(|s| PublicScope {
            name: &s.name,
            display_name: &s.display_name,
            description: &s.description,
            claims: &s.claims,
        })
        .collect();
    let mut response = Json(body).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=60"),
    );
    Ok(response)
}
