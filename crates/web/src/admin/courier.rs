//! `GET /admin/courier/messages`: the outbox, newest first, by `recipient` and `status`.

use super::audit::{parse_page_size, parse_uuid};
use crate::error::ApiError;
use crate::state::AppState;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use gatehouse_domain::courier::{CourierFilter, CourierMessage, MessageStatus};
use gatehouse_domain::ids::TenantId;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// DESIGN.md §2 "Courier message", plus `html_body` (`null` for a text-only message).
#[derive(Debug, Serialize)]
pub struct MessageResponse<'a> {
    pub id: uuid::Uuid,
    pub recipient: &'a str,
    pub subject: &'a str,
    pub body: &'a str,
    pub html_body: Option<&'a str>,
    pub template_type: &'a str,
    pub status: MessageStatus,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl<'a> From<&'a CourierMessage> for MessageResponse<'a> {
    fn from(m: &'a CourierMessage) -> Self {
        Self {
            id: m.id,
            recipient: &m.recipient,
            subject: &m.subject,
            body: &m.body,
            html_body: m.html_body.as_deref(),
            template_type: &m.template_type,
            status: m.status,
            created_at: m.created_at,
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct MessagesQuery {
    recipient: Option<String>,
    status: Option<String>,
    page_size: Option<String>,
    page_token: Option<String>,
    tenant_id: Option<String>,
}

pub async fn list(
    State(state): State<AppState>,
    query: Result<Query<MessagesQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    let tenant =
        parse_uuid("tenant_id", q.tenant_id.as_deref())?.map_or(TenantId::DEFAULT, TenantId);
    let status = q
        .status
        .as_deref()
        .map(|s| {
            MessageStatus::parse(s).ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_query",
                    "query parameter status must be one of queued, sent, abandoned",
                )
            })
        })
        .transpose()?;
    let limit = parse_page_size(q.page_size.as_deref())?;
    let filter = CourierFilter {
        recipient: q.recipient.clone(),
        status,
        before: parse_uuid("page_token", q.page_token.as_deref())?,
        limit: limit + 1,
    };
    let mut messages = state.store.list_courier_messages(tenant, &filter).await?;
    let more = messages.len() > limit as usize;
    messages.truncate(limit as usize);
    let body: Vec<MessageResponse<'_>> = messages.iter().map(MessageResponse::from).collect();
    let mut response = Json(body).into_response();
    if more && let Some(last) = messages.last() {
        super::link_next(
            &mut response,
            "/admin/courier/messages",
            limit,
            &last.id.to_string(),
            &[
                ("recipient", q.recipient.clone()),
                ("status", q.status.clone()),
                ("tenant_id", q.tenant_id.clone()),
            ],
        );
    }
    Ok(response)
}
