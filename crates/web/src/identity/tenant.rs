//! Which tenant a self-service flow or page is for, and the name its pages show.
//!
//! A flow is created in the tenant its request names (`?tenant=ID`, which the authorization
//! endpoint adds for a client of another tenant) or in the default tenant; it keeps that tenant
//! for its whole life. The pages of a flow of another tenant show the tenant's name ("Sign in to
//! Blog"); the default tenant's pages keep their plain wording.

use crate::error::ApiError;
use crate::identity::session::requested_tenant;
use crate::state::AppState;
use gatehouse_domain::ids::TenantId;

/// The tenant named by `raw` (the `tenant` query parameter), checked to exist: 400
/// `invalid_tenant` for a value that is not an id, 404 `tenant_not_found` for an unknown one.
pub async fn named(state: &AppState, raw: Option<&str>) -> Result<TenantId, ApiError> {
    let query = raw.map(|raw| {
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("tenant", raw)
            .finish()
    });
    let tenant = requested_tenant(query.as_deref())?;
    if tenant == TenantId::DEFAULT {
        return Ok(tenant);
    }
    match state.store.find_tenant(tenant).await? {
        Some(_) => Ok(tenant),
        None => Err(ApiError::not_found(
            "tenant_not_found",
            "the tenant parameter names no tenant",
        )),
    }
}

/// The name pages show for `tenant`: `None` for the default tenant (its pages say "Sign in"),
/// the tenant's name otherwise (when it cannot be read, the pages fall back to the plain
/// wording).
pub async fn app_name(state: &AppState, tenant: TenantId) -> Option<String> {
    if tenant == TenantId::DEFAULT {
        return None;
    }
    match state.store.find_tenant(tenant).await {
        Ok(found) => found.map(|t| t.name),
        Err(err) => {
            tracing::warn!(error = %err, tenant.id = %tenant.0, "cannot read a tenant's name");
            None
        }
    }
}

/// `?tenant=ID` to append to a link of a flow of `tenant` (nothing for the default tenant).
pub fn query_suffix(tenant: TenantId, first: bool) -> String {
    if tenant == TenantId::DEFAULT {
        String::new()
    } else {
        format!("{}tenant={}", if first { '?' } else { '&' }, tenant.0)
    }
}

/// The identity schema new identities of `tenant` follow: the tenant's
/// `settings.identity_schema`, else the deployment's default schema.
pub async fn schema_of(state: &AppState, tenant: TenantId) -> Result<String, ApiError> {
    let default = || state.settings.identity.default_schema_id.clone();
    if tenant == TenantId::DEFAULT {
        return Ok(default());
    }
    Ok(state
        .store
        .find_tenant(tenant)
        .await?
        .and_then(|t| t.settings.identity_schema)
        .unwrap_or_else(default))
}

/// The schema of a flow's form: the flow's own, else the deployment's default.
pub fn flow_schema<'a>(state: &'a AppState, flow: &'a gatehouse_domain::flow::Flow) -> &'a str {
    flow.schema_id
        .as_deref()
        .unwrap_or(&state.settings.identity.default_schema_id)
}
