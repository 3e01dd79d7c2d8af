//! `GET /admin/webhooks` (the configured hooks, never their secrets),
//! `GET /admin/webhooks/deliveries` (newest first, by `webhook_id`, `event` and `status`) and
//! `GET /admin/webhooks/deliveries/{id}`.

use super::audit::{parse_page_size, parse_uuid};
use crate::error::ApiError;
use crate::state::AppState;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use gatehouse_domain::ids::TenantId;
use gatehouse_domain::webhook::{
    DeliveryFilter, DeliveryStatus, WebhookDelivery, WebhookEvent, WebhookMode,
};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

#[derive(Debug, Serialize)]
pub struct WebhookResponse<'a> {
    pub id: &'a str,
    pub events: Vec<&'static str>,
    pub url: &'a str,
    pub mode: WebhookMode,
    /// Milliseconds one request may take.
    pub timeout_ms: u128,
    pub max_attempts: u32,
}

/// `GET /admin/webhooks`.
pub async fn list_webhooks(State(state): State<AppState>) -> Response {
    let body: Vec<WebhookResponse<'_>> = state
        .webhooks
        .hooks()
        .iter()
        .map(|h| WebhookResponse {
            id: &h.id,
            events: h.events.iter().map(|e| e.as_str()).collect(),
            url: h.url.as_str(),
            mode: h.mode,
            timeout_ms: h.timeout.as_millis(),
            max_attempts: h.max_attempts,
        })
        .collect();
    Json(body).into_response()
}

#[derive(Debug, Serialize)]
pub struct DeliveryResponse<'a> {
    pub id: uuid::Uuid,
    pub webhook_id: &'a str,
    pub event: &'static str,
    pub mode: WebhookMode,
    pub url: &'a str,
    pub status: DeliveryStatus,
    pub attempts: u32,
    pub last_status_code: Option<u16>,
    pub last_error: Option<&'a str>,
    #[serde(with = "time::serde::rfc3339")]
    pub next_attempt_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    pub body: &'a str,
}

impl<'a> From<&'a WebhookDelivery> for DeliveryResponse<'a> {
    fn from(d: &'a WebhookDelivery) -> Self {
        Self {
            id: d.id,
            webhook_id: &d.webhook_id,
            event: d.event.as_str(),
            mode: d.mode,
            url: &d.url,
            status: d.status,
            attempts: d.attempts,
            last_status_code: d.last_status_code,
            last_error: d.last_error.as_deref(),
            next_attempt_at: d.next_attempt_at,
            created_at: d.created_at,
            updated_at: d.updated_at,
            body: &d.body,
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct DeliveriesQuery {
    webhook_id: Option<String>,
    event: Option<String>,
    status: Option<String>,
    page_size: Option<String>,
    page_token: Option<String>,
    tenant_id: Option<String>,
}

fn one_of(parameter: &str, names: &[&str]) -> ApiError {
    ApiError::bad_request(
        "invalid_query",
        format!(
            "query parameter {parameter} must be one of {}",
            names.join(", ")
        ),
    )
}

/// `GET /admin/webhooks/deliveries`.
pub async fn list_deliveries(
    State(state): State<AppState>,
    query: Result<Query<DeliveriesQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    let tenant =
        parse_uuid("tenant_id", q.tenant_id.as_deref())?.map_or(TenantId::DEFAULT, TenantId);
    let event = q
        .event
        .as_deref()
        .map(|e| {
            WebhookEvent::parse(e)
                .ok_or_else(|| one_of("event", &WebhookEvent::ALL.map(WebhookEvent::as_str)))
        })
        .transpose()?;
    let status = q
        .status
        .as_deref()
        .map(|s| {
            DeliveryStatus::parse(s)
                .ok_or_else(|| one_of("status", &DeliveryStatus::ALL.map(DeliveryStatus::as_str)))
        })
        .transpose()?;
    let limit = parse_page_size(q.page_size.as_deref())?;
    let filter = DeliveryFilter {
        webhook_id: q.webhook_id.clone(),
        event,
        status,
        before: parse_uuid("page_token", q.page_token.as_deref())?,
        limit: limit + 1,
    };
    let mut deliveries = state.store.list_webhook_deliveries(tenant, &filter).await?;
    let more = deliveries.len() > limit as usize;
    deliveries.truncate(limit as usize);
    let body: Vec<DeliveryResponse<'_>> = deliveries.iter().map(DeliveryResponse::from).collect();
    let mut response = Json(body).into_response();
    if more && let Some(last) = deliveries.last() {
        super::link_next(
            &mut response,
            "/admin/webhooks/deliveries",
            limit,
            &last.id.to_string(),
            &[
                ("webhook_id", q.webhook_id.clone()),
                ("event", q.event.clone()),
                ("status", q.status.clone()),
                ("tenant_id", q.tenant_id.clone()),
            ],
        );
    }
    Ok(response)
}

#[derive(Debug, Deserialize)]
pub struct TenantQuery {
    tenant_id: Option<String>,
}

/// `GET /admin/webhooks/deliveries/{id}`.
pub async fn get_delivery(
    State(state): State<AppState>,
    Path(id): Path<String>,
    query: Result<Query<TenantQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    let tenant =
        parse_uuid("tenant_id", q.tenant_id.as_deref())?.map_or(TenantId::DEFAULT, TenantId);
    let not_found = || ApiError::not_found("delivery_not_found", "no such web hook delivery");
    let id = uuid::Uuid::try_parse(&id).map_err(|_| not_found())?;
    let delivery = state
        .store
        .find_webhook_delivery(tenant, id)
        .await?
        .ok_or_else(not_found)?;
    Ok(Json(DeliveryResponse::from(&delivery)).into_response())
}
