//! Admin session endpoints: `/admin/sessions` (keyset pages with a `Link` header), one session
//! (read, revoke), and an identity's sessions (list, revoke all). Each call works in one tenant,
//! `?tenant_id=` (the default tenant when absent): sessions of another tenant are not found.

use crate::audit::{self, Actor};
use crate::error::ApiError;
use crate::identity::session::SessionView;
use crate::oauth::catalog::TenantQuery;
use crate::state::AppState;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use gatehouse_domain::audit::AuditEventType;
use gatehouse_domain::ids::TenantId;
use gatehouse_domain::session::SessionPage;
use serde::Deserialize;
use uuid::Uuid;

/// `?tenant_id=` of a request, the default tenant when absent.
fn tenant_of(query: Result<Query<TenantQuery>, QueryRejection>) -> Result<TenantId, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    Ok(query.tenant())
}

fn parse_id(raw: &str, what: &'static str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw)
        .map_err(|_| ApiError::bad_request("invalid_id", format!("the {what} id must be a UUID")))
}

fn session_not_found() -> ApiError {
    ApiError::not_found("session_not_found", "no session with this id")
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    page_size: Option<u32>,
    page_token: Option<String>,
    active: Option<bool>,
    tenant_id: Option<Uuid>,
}

pub async fn list(
    State(state): State<AppState>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    let limit = query.page_size.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_query",
            "page_size must be between 1 and 500",
        ));
    }
    let after = match &query.page_token {
        Some(t) => Some(
            Uuid::parse_str(t)
                .map_err(|_| ApiError::bad_request("invalid_query", "page_token is not valid"))?,
        ),
        None => None,
    };
    let page = SessionPage {
        after,
        limit: limit + 1,
        active_only: query.active.unwrap_or(false),
    };
    let tenant = query.tenant_id.map_or(TenantId::DEFAULT, TenantId);
    let mut sessions = state.store.list_sessions(tenant, &page).await?;
    let more = sessions.len() > limit as usize;
    sessions.truncate(limit as usize);
    let now = state.now();
    let body: Vec<SessionView> = sessions
        .iter()
        .map(|s| SessionView::new(s, None, now))
        .collect();
    let mut response = Json(body).into_response();
    if more && let Some(last) = sessions.last() {
        super::link_next(
            &mut response,
            "/admin/sessions",
            limit,
            &last.id.to_string(),
            &[
                ("active", query.active.map(|a| a.to_string())),
                ("tenant_id", query.tenant_id.map(|t| t.to_string())),
            ],
        );
    }
    Ok(response)
}

pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
    query: Result<Query<TenantQuery>, QueryRejection>,
) -> Result<Json<SessionView>, ApiError> {
    let tenant = tenant_of(query)?;
    let id = parse_id(&id, "session")?;
    let session = state
        .store
        .find_session(tenant, id)
        .await?
        .ok_or_else(session_not_found)?;
    let identity = state
        .store
        .find_identity(session.tenant_id, session.identity_id)
        .await?;
    Ok(Json(SessionView::new(
        &session,
        identity.as_ref(),
        state.now(),
    )))
}

pub async fn revoke(
    State(state): State<AppState>,
    Path(id): Path<String>,
    query: Result<Query<TenantQuery>, QueryRejection>,
) -> Result<StatusCode, ApiError> {
    let tenant = tenant_of(query)?;
    let id = parse_id(&id, "session")?;
    let owner = state.store.find_session(tenant, id).await?;
    if state.store.revoke_session(tenant, None, id).await? {
        if let Some(session) = owner {
            audit::identity_event_in(
                &state,
                tenant,
                AuditEventType::SessionRevoked,
                session.identity_id,
                Actor::Admin,
                serde_json::json!({"session_id": id}),
            )
            .await;
        }
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(
            "session_not_found",
            "no active session with this id",
        ))
    }
}

async fn identity_exists(state: &AppState, tenant: TenantId, raw: &str) -> Result<Uuid, ApiError> {
    let id = parse_id(raw, "identity")?;
    match state.store.find_identity(tenant, id).await? {
        Some(_) => Ok(id),
        None => Err(ApiError::not_found(
            "identity_not_found",
            "no identity with this id",
        )),
    }
}

#[derive(Debug, Deserialize)]
pub struct IdentitySessionsQuery {
    active: Option<bool>,
    tenant_id: Option<Uuid>,
}

pub async fn list_for_identity(
    State(state): State<AppState>,
    Path(id): Path<String>,
    query: Result<Query<IdentitySessionsQuery>, QueryRejection>,
) -> Result<Json<Vec<SessionView>>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    let tenant = query.tenant_id.map_or(TenantId::DEFAULT, TenantId);
    let id = identity_exists(&state, tenant, &id).await?;
    let now = state.now();
    let sessions = state
        .store
        .list_identity_sessions(tenant, id, query.active.unwrap_or(false))
        .await?;
    Ok(Json(
        sessions
            .iter()
            .map(|s| SessionView::new(s, None, now))
            .filter(|view| query.active != Some(true) || view.active)
            .collect(),
    ))
}

pub async fn revoke_for_identity(
    State(state): State<AppState>,
    Path(id): Path<String>,
    query: Result<Query<TenantQuery>, QueryRejection>,
) -> Result<StatusCode, ApiError> {
    let tenant = tenant_of(query)?;
    let id = identity_exists(&state, tenant, &id).await?;
    let count = state
        .store
        .revoke_identity_sessions(tenant, id, None)
        .await?;
    tracing::debug!(user.id = %id, count, "admin revoked an identity's sessions");
    audit::identity_event_in(
        &state,
        tenant,
        AuditEventType::SessionRevoked,
        id,
        Actor::Admin,
        serde_json::json!({"count": count}),
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}
