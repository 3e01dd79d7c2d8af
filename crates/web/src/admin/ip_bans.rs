//! `/admin/ip-bans`: list, add and remove IP bans. A change reloads this node's ban list at once
//! (other nodes within a few seconds) and is recorded as an audit event.

use crate::audit;
use crate::error::ApiError;
use crate::extract::json::JsonBody;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use gatehouse_domain::audit::{AuditEvent, AuditEventType, AuditResult};
use gatehouse_domain::ids::{TenantId, new_row_id};
use gatehouse_domain::ip_ban::{IpBan, IpNet};
use gatehouse_domain::oauth::duration::parse_duration;
use gatehouse_domain::store::StoreError;
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The longest reason kept.
const MAX_REASON_CHARS: usize = 500;

#[derive(Debug, Serialize)]
pub struct BanResponse<'a> {
    #[serde(flatten)]
    pub ban: &'a IpBan,
    /// Whether the ban is in force now (expired bans stay listed until cleanup removes them).
    pub active: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BanRequest {
    cidr: String,
    reason: Option<String>,
    /// A duration such as `"1h"` or `"7d"`.
    expires_in: Option<String>,
    /// An RFC 3339 time.
    expires_at: Option<String>,
}

fn bad(reason: String) -> ApiError {
    ApiError::bad_request("invalid_ip_ban", reason)
}

fn ban_not_found() -> ApiError {
    ApiError::not_found("ip_ban_not_found", "no IP ban with this id")
}

/// Reloads this node's list after a change; a failure only delays it to the next periodic reload.
async fn reload(state: &AppState) {
    if let Err(err) = state
        .ip_bans
        .reload(state.store.as_ref(), state.now())
        .await
    {
        tracing::warn!(error = %err, "cannot reload IP bans; the periodic reload will retry");
    }
    state.ip_bans.changed.notify_one();
}

pub async fn list(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    let now = state.now();
    let bans = state.store.list_ip_bans().await?;
    let body: Vec<BanResponse<'_>> = bans
        .iter()
        .map(|ban| BanResponse {
            ban,
            active: ban.is_active(now),
        })
        .collect();
    Ok(Json(serde_json::to_value(body).map_err(|e| {
        ApiError::internal("cannot serialize IP bans", &e)
    })?))
}

pub async fn create(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<BanRequest>,
) -> Result<Response, ApiError> {
    let now = state.now();
    let cidr = IpNet::parse(&req.cidr).map_err(|e| bad(format!("cidr: {e}")))?;
    let reason = req
        .reason
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty());
    if reason
        .as_ref()
        .is_some_and(|r| r.chars().count() > MAX_REASON_CHARS)
    {
        return Err(bad(format!(
            "reason: at most {MAX_REASON_CHARS} characters"
        )));
    }
    let expires_at = match (req.expires_in.as_deref(), req.expires_at.as_deref()) {
        (Some(_), Some(_)) => {
            return Err(bad("give expires_in or expires_at, not both".to_owned()));
        }
        (Some(d), None) => {
            let d = parse_duration(d).map_err(|e| bad(format!("expires_in: {e}")))?;
            if d <= time::Duration::ZERO {
                return Err(bad("expires_in: must be positive".to_owned()));
            }
            Some(
                now.checked_add(d)
                    .ok_or_else(|| bad("expires_in: too long".to_owned()))?,
            )
        }
        (None, Some(t)) => {
            let t = OffsetDateTime::parse(t, &Rfc3339).map_err(|_| {
                bad("expires_at: must be an RFC 3339 time such as 2026-03-01T12:00:00Z".to_owned())
            })?;
            if t <= now {
                return Err(bad("expires_at: must be in the future".to_owned()));
            }
            Some(t)
        }
        (None, None) => None,
    };
    let ban = IpBan {
        id: new_row_id(now),
        cidr,
        reason,
        created_at: now,
        expires_at,
    };
    state.store.insert_ip_ban(&ban).await?;
    reload(&state).await;
    audit::record(
        &state,
        AuditEvent::new(
            TenantId::DEFAULT,
            AuditEventType::IpBanned,
            AuditResult::Success,
            now,
        )
        .actor("admin")
        .details(json!({
            "ban_id": ban.id,
            "cidr": ban.cidr.to_string(),
            "reason": ban.reason,
            "expires_at": ban.expires_at.and_then(|t| t.format(&Rfc3339).ok()),
        })),
    )
    .await;
    let body = BanResponse {
        ban: &ban,
        active: true,
    };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

pub async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = uuid::Uuid::try_parse(&id).map_err(|_| ban_not_found())?;
    let now = state.now();
    let ban = state
        .store
        .find_ip_ban(id)
        .await?
        .ok_or_else(ban_not_found)?;
    match state.store.delete_ip_ban(id).await {
        Ok(()) => {}
        Err(StoreError::NotFound) => return Err(ban_not_found()),
        Err(e) => return Err(e.into()),
    }
    reload(&state).await;
    audit::record(
        &state,
        AuditEvent::new(
            TenantId::DEFAULT,
            AuditEventType::IpUnbanned,
            AuditResult::Success,
            now,
        )
        .actor("admin")
        .details(json!({ "ban_id": id, "cidr": ban.cidr.to_string() })),
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}
