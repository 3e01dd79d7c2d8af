//! The caller's own sessions: `GET /sessions/whoami`, `GET /sessions` (the others),
//! `DELETE /sessions/{id}` and `DELETE /sessions` (all others).

use super::{CurrentSession, SessionView};
use crate::audit::{self, Actor};
use crate::error::ApiError;
use crate::extract::RequestMeta;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use gatehouse_domain::audit::AuditEventType;
use serde_json::{Value, json};
use uuid::Uuid;

pub async fn whoami(State(state): State<AppState>, current: CurrentSession) -> Json<SessionView> {
    Json(SessionView::new(
        &current.session,
        Some(&current.identity),
        state.now(),
    ))
}

/// The caller's other sessions that can still be used.
pub async fn list(
    State(state): State<AppState>,
    current: CurrentSession,
) -> Result<Json<Vec<SessionView>>, ApiError> {
    let now = state.now();
    let sessions = state
        .store
        .list_identity_sessions(current.session.tenant_id, current.identity.id, true)
        .await?;
    Ok(Json(
        sessions
            .iter()
            .filter(|s| s.id != current.session.id && s.is_valid_at(now))
            .map(|s| SessionView::new(s, None, now))
            .collect(),
    ))
}

pub(crate) fn parse_session_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw)
        .map_err(|_| ApiError::bad_request("invalid_session_id", "the session id must be a UUID"))
}

fn session_not_found() -> ApiError {
    ApiError::not_found("session_not_found", "no active session with this id")
}

/// Ends one of the caller's other sessions (the current one ends with logout).
pub async fn revoke(
    State(state): State<AppState>,
    current: CurrentSession,
    meta: RequestMeta,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = parse_session_id(&id)?;
    if id == current.session.id {
        return Err(ApiError::bad_request(
            "current_session",
            "the current session ends with logout, not here",
        ));
    }
    let revoked = state
        .store
        .revoke_session(current.session.tenant_id, Some(current.identity.id), id)
        .await?;
    if revoked {
        audit::identity_event_in(
            &state,
            current.session.tenant_id,
            AuditEventType::SessionRevoked,
            current.identity.id,
            Actor::Person(&meta),
            json!({"session_id": id}),
        )
        .await;
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(session_not_found())
    }
}

/// Ends all of the caller's sessions but the current one; answers how many ended.
pub async fn revoke_others(
    State(state): State<AppState>,
    current: CurrentSession,
    meta: RequestMeta,
) -> Result<Json<Value>, ApiError> {
    let count = end_other_sessions(&state, &current, &meta).await?;
    Ok(Json(json!({ "count": count })))
}

/// Ends every session of the caller's identity except the current one, audited; how many ended.
pub async fn end_other_sessions(
    state: &AppState,
    current: &CurrentSession,
    meta: &RequestMeta,
) -> Result<u64, gatehouse_domain::store::StoreError> {
    let count = state
        .store
        .revoke_identity_sessions(
            current.session.tenant_id,
            current.identity.id,
            Some(current.session.id),
        )
        .await?;
    audit::identity_event_in(
        state,
        current.session.tenant_id,
        AuditEventType::SessionRevoked,
        current.identity.id,
        Actor::Person(meta),
        json!({"all_others": true, "count": count}),
    )
    .await;
    Ok(count)
}
