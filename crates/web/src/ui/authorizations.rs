//! The account page's "Authorized applications": the clients the person granted access to, with
//! the scopes granted (catalog display names), and "Revoke" per application
//! (`POST /ui/account/authorizations/{client_id}/revoke` with the CSRF field, then 303 back with
//! a flash). Revoking goes through [`crate::oauth::grants::revoke_grant`].

use super::account::{LOGIN, back_with, checked, when};
use super::{PageError, see_other};
use crate::audit::Actor;
use crate::extract::RequestMeta;
use crate::identity::session::MaybeSession;
use crate::oauth::grants::{list_grants, revoke_grant};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use gatehouse_domain::ids::TenantId;
use gatehouse_domain::store::StoreError;
use serde::Serialize;
use uuid::Uuid;

/// One grant as the account page lists it.
#[derive(Serialize)]
pub struct AuthorizationRow {
    client_name: String,
    client_id: String,
    /// Display names of the granted scopes.
    scopes: Vec<String>,
    granted: String,
    last_used: String,
}

/// The person's grants, most recently used first.
pub async fn rows(
    state: &AppState,
    tenant: TenantId,
    identity_id: Uuid,
) -> Result<Vec<AuthorizationRow>, StoreError> {
    Ok(list_grants(state, tenant, identity_id)
        .await?
        .into_iter()
        .map(|g| AuthorizationRow {
            client_name: g.client_name,
            client_id: g.client_id,
            scopes: g.scopes.into_iter().map(|s| s.display_name).collect(),
            granted: when(g.created_at),
            last_used: when(g.last_used_at),
        })
        .collect())
}

pub async fn revoke(
    State(state): State<AppState>,
    MaybeSession(current): MaybeSession,
    meta: RequestMeta,
    Path(client_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let Some(current) = checked(&state, current, &headers, &body)? else {
        return Ok(see_other(LOGIN, None));
    };
    let revoked = revoke_grant(
        &state,
        current.identity.tenant_id,
        current.identity.id,
        &client_id,
        Actor::Person(&meta),
    )
    .await?;
    if !revoked {
        return Err(PageError::not_found(
            "You have not authorized an application with this client ID.",
        ));
    }
    Ok(back_with(
        &state,
        current.session.tenant_id,
        "authorization_revoked",
    ))
}
