//! `GET /admin/audit-events`: a tenant's audit events, newest first, filtered by identity, type
//! and time, in pages linked by a `Link: <…>; rel="next"` header.

use crate::error::ApiError;
use crate::state::AppState;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use gatehouse_domain::audit::{AuditCursor, AuditEventType, AuditFilter};
use gatehouse_domain::ids::TenantId;
use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

#[derive(Debug, Deserialize)]
pub struct AuditQuery {
    identity_id: Option<String>,
    #[serde(rename = "type")]
    event_type: Option<String>,
    since: Option<String>,
    until: Option<String>,
    page_token: Option<String>,
    page_size: Option<String>,
    tenant_id: Option<String>,
}

fn invalid(parameter: &str, expected: &str) -> ApiError {
    ApiError::bad_request(
        "invalid_query",
        format!("query parameter {parameter} must be {expected}"),
    )
}

pub(crate) fn parse_uuid(
    parameter: &str,
    value: Option<&str>,
) -> Result<Option<uuid::Uuid>, ApiError> {
    value
        .map(|v| uuid::Uuid::try_parse(v).map_err(|_| invalid(parameter, "a UUID")))
        .transpose()
}

fn parse_time(parameter: &str, value: Option<&str>) -> Result<Option<OffsetDateTime>, ApiError> {
    value
        .map(|v| {
            OffsetDateTime::parse(v, &Rfc3339)
                .map_err(|_| invalid(parameter, "an RFC 3339 time such as 2026-03-01T12:00:00Z"))
        })
        .transpose()
}

pub(crate) fn parse_page_size(value: Option<&str>) -> Result<u32, ApiError> {
    match value {
        None => Ok(100),
        Some(v) => v
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=500).contains(n))
            .ok_or_else(|| invalid("page_size", "a number between 1 and 500")),
    }
}

pub async fn list(
    State(state): State<AppState>,
    query: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    let tenant =
        parse_uuid("tenant_id", q.tenant_id.as_deref())?.map_or(TenantId::DEFAULT, TenantId);
    let event_type = q
        .event_type
        .as_deref()
        .map(|t| {
            AuditEventType::parse(t).ok_or_else(|| {
                let known: Vec<&str> = AuditEventType::ALL.iter().map(|t| t.as_str()).collect();
                invalid("type", &format!("one of {}", known.join(", ")))
            })
        })
        .transpose()?;
    let limit = parse_page_size(q.page_size.as_deref())?;
    let before = q
        .page_token
        .as_deref()
        .map(|t| {
            AuditCursor::parse_token(t)
                .ok_or_else(|| invalid("page_token", "a token from a previous page"))
        })
        .transpose()?;
    let filter = AuditFilter {
        identity_id: parse_uuid("identity_id", q.identity_id.as_deref())?,
        event_type,
        since: parse_time("since", q.since.as_deref())?,
        until: parse_time("until", q.until.as_deref())?,
        before,
        limit: limit + 1,
    };
    let mut events = state.store.list_audit_events(tenant, &filter).await?;
    let more = events.len() > limit as usize;
    events.truncate(limit as usize);
    let next = events.last().filter(|_| more).map(AuditCursor::of);
    let mut response = Json(&events).into_response();
    if let Some(cursor) = next {
        super::link_next(
            &mut response,
            "/admin/audit-events",
            limit,
            &cursor.to_token(),
            &[
                ("identity_id", q.identity_id.clone()),
                ("type", q.event_type.clone()),
                ("since", q.since.clone()),
                ("until", q.until.clone()),
                ("tenant_id", q.tenant_id.clone()),
            ],
        );
    }
    Ok(response)
}
