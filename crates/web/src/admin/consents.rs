//! `/admin/oauth2/consents` (Hydra's name): an identity's grants to clients.
//! `GET ?subject=<identity id>` lists them; `DELETE ?subject=…&client=…` revokes one (its
//! refresh tokens, its access tokens at introspection, the consent), `&all=true` instead of
//! `client` revokes every grant of the identity. `?tenant_id=` picks a tenant other than the
//! default.

use crate::audit::Actor;
use crate::error::ApiError;
use crate::oauth::grants::{AuthorizationView, list_grants, revoke_grant};
use crate::state::AppState;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use gatehouse_domain::ids::TenantId;
use serde::Deserialize;
use uuid::Uuid;

#[derive(Debug, Deserialize)]
pub struct ConsentQuery {
    subject: Option<String>,
    client: Option<String>,
    #[serde(default)]
    all: bool,
    tenant_id: Option<Uuid>,
}

/// The query, the tenant, and the subject, which must name an identity of that tenant.
async fn subject_of(
    state: &AppState,
    query: Result<Query<ConsentQuery>, QueryRejection>,
) -> Result<(ConsentQuery, TenantId, Uuid), ApiError> {
    let Query(query) = query.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    let tenant = query.tenant_id.map_or(TenantId::DEFAULT, TenantId);
    let Some(raw) = query.subject.as_deref() else {
        return Err(ApiError::bad_request(
            "invalid_query",
            "subject: the identity id is required",
        ));
    };
    let subject = Uuid::parse_str(raw).map_err(|_| {
        ApiError::bad_request("invalid_query", "subject: must be an identity id (a UUID)")
    })?;
    if state.store.find_identity(tenant, subject).await?.is_none() {
        return Err(ApiError::not_found(
            "identity_not_found",
            "no identity with this id",
        ));
    }
    Ok((query, tenant, subject))
}

/// `GET /admin/oauth2/consents?subject=…`: the identity's grants, most recently used first.
pub async fn list(
    State(state): State<AppState>,
    query: Result<Query<ConsentQuery>, QueryRejection>,
) -> Result<Json<Vec<AuthorizationView>>, ApiError> {
    let (_, tenant, subject) = subject_of(&state, query).await?;
    Ok(Json(list_grants(&state, tenant, subject).await?))
}

/// `DELETE /admin/oauth2/consents?subject=…&client=…` (or `&all=true`): 204; 404 when the
/// identity granted that client nothing.
pub async fn revoke(
    State(state): State<AppState>,
    query: Result<Query<ConsentQuery>, QueryRejection>,
) -> Result<StatusCode, ApiError> {
    let (query, tenant, subject) = subject_of(&state, query).await?;
    let clients = match (query.client, query.all) {
        (Some(client), false) => vec![client],
        (None, true) => list_grants(&state, tenant, subject)
            .await?
            .into_iter()
            .map(|g| g.client_id)
            .collect(),
        _ => {
            return Err(ApiError::bad_request(
                "invalid_query",
                "name one client with client=, or all grants with all=true",
            ));
        }
    };
    let mut revoked = false;
    for client in &clients {
        revoked |= revoke_grant(&state, tenant, subject, client, Actor::Admin).await?;
    }
    if revoked || query.all {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(
            "consent_not_found",
            "the identity has not authorized this client",
        ))
    }
}
