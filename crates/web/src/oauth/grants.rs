//! A person's grants to clients ("connected apps" / authorized applications): listing them with
//! the catalog's scope names, and [`revoke_grant`], which every surface uses (the person's
//! `GET|DELETE /api/user/authorizations`, the account page, the admin API and CLI).
//!
//! Revoking a grant revokes the client's refresh token families for the person, makes
//! introspection refuse access tokens issued before the revocation, and deletes the consent, in
//! that order: a failure part-way leaves the tokens revoked rather than live, and repeating the
//! request finishes the job. `DELETE` needs no CSRF token: a cross-site form cannot send it, and a
//! cross-site script cannot without a CORS preflight this listener never grants.

use crate::audit::{self, Actor};
use crate::error::ApiError;
use crate::extract::RequestMeta;
use crate::identity::session::CurrentSession;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use gatehouse_domain::audit::{AuditEvent, AuditEventType, AuditResult};
use gatehouse_domain::ids::TenantId;
use gatehouse_domain::oauth::consent::ConsentGrant;
use gatehouse_domain::oauth::grant::GrantRevocation;
use gatehouse_domain::store::StoreError;
use serde::Serialize;
use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;

/// One granted scope, as the catalog names it (its bare name when the catalog does not know it).
#[derive(Debug, Serialize)]
pub struct GrantedScope {
    pub name: String,
    pub display_name: String,
    pub description: String,
}

/// One grant as people and operators see it.
#[derive(Debug, Serialize)]
pub struct AuthorizationView {
    pub client_id: String,
    /// The client's name; its id when the client is gone.
    pub client_name: String,
    /// The identity the grant belongs to.
    pub subject: Uuid,
    /// The granted scopes, space-separated.
    pub scope: String,
    pub scopes: Vec<GrantedScope>,
    pub remembered: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub last_used_at: OffsetDateTime,
}

/// A person's grants, most recently used first, with client names and scope display names.
pub async fn list_grants(
    state: &AppState,
    tenant: TenantId,
    identity_id: Uuid,
) -> Result<Vec<AuthorizationView>, StoreError> {
    let grants = state.store.list_consents(tenant, identity_id).await?;
    let catalog = state.scopes.snapshot();
    let mut views = Vec::with_capacity(grants.len());
    for grant in grants {
        let client_name = state
            .clients
            .get(&grant.client_id)
            .await?
            .map(|c| c.metadata.client_name.clone())
            .filter(|name| !name.is_empty())
            .unwrap_or_else(|| grant.client_id.clone());
        let scopes = catalog
            .describe(tenant, &grant.scope)
            .into_iter()
            .map(|s| GrantedScope {
                name: s.name.to_owned(),
                display_name: s.display_name.to_owned(),
                description: s.description.to_owned(),
            })
            .collect();
        views.push(view(grant, client_name, scopes));
    }
    Ok(views)
}

fn view(grant: ConsentGrant, client_name: String, scopes: Vec<GrantedScope>) -> AuthorizationView {
    AuthorizationView {
        client_id: grant.client_id,
        client_name,
        subject: grant.identity_id,
        scope: grant.scope.to_string(),
        scopes,
        remembered: grant.remembered,
        created_at: grant.created_at,
        last_used_at: grant.last_used_at,
    }
}

/// Revokes a person's grant to a client: their refresh token families for it, the access tokens
/// issued before now (through introspection), and the consent. `false` when there was neither a
/// consent nor a live refresh token family, and then nothing is written.
pub async fn revoke_grant(
    state: &AppState,
    tenant: TenantId,
    identity_id: Uuid,
    client_id: &str,
    actor: Actor<'_>,
) -> Result<bool, StoreError> {
    let now = state.now();
    let consent = state
        .store
        .find_consent(tenant, identity_id, client_id)
        .await?;
    // Tokens first: whatever fails after this leaves them revoked.
    let families = state
        .store
        .revoke_refresh_for_grant(tenant, identity_id, client_id, now)
        .await?;
    if consent.is_none() && families == 0 {
        return Ok(false);
    }
    state
        .store
        .record_grant_revocation(&GrantRevocation::new(
            tenant,
            identity_id,
            client_id,
            state.settings.max_token_lifespan,
            now,
        ))
        .await?;
    let deleted = state
        .store
        .delete_consent(tenant, identity_id, client_id)
        .await?;
    tracing::info!(client.id = %client_id, user.id = %identity_id, families, "grant revoked");
    let event = AuditEvent::new(
        tenant,
        AuditEventType::ConsentRevoked,
        AuditResult::Success,
        now,
    )
    .identity(identity_id)
    .details(json!({
        "client_id": client_id,
        "consent_deleted": deleted,
        "refresh_families_revoked": families,
    }));
    let event = match actor {
        Actor::Person(meta) => event
            .actor("self")
            .client(meta.ip.as_deref(), meta.user_agent.as_deref()),
        Actor::Admin => event.actor("admin"),
    };
    audit::record(state, event).await;
    Ok(true)
}

/// `GET /api/user/authorizations`: the signed-in person's grants.
pub async fn list(
    State(state): State<AppState>,
    current: CurrentSession,
) -> Result<Json<Vec<AuthorizationView>>, ApiError> {
    Ok(Json(
        list_grants(&state, current.identity.tenant_id, current.identity.id).await?,
    ))
}

/// `DELETE /api/user/authorizations/{client_id}`: 204, or 404 when the person has granted this
/// client nothing (another person's grant and a missing one look the same).
pub async fn delete(
    State(state): State<AppState>,
    current: CurrentSession,
    meta: RequestMeta,
    Path(client_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let revoked = revoke_grant(
        &state,
        current.identity.tenant_id,
        current.identity.id,
        &client_id,
        Actor::Person(&meta),
    )
    .await?;
    if revoked {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(
            "authorization_not_found",
            "you have not authorized a client with this client_id",
        ))
    }
}
