//! An app's audit log in the console (`GET /console/apps/{id}/audit`): its newest events
//! (type, time, actor, identity, IP address), a page at a time, the next page linked by
//! `?page_token=` as `GET /admin/audit-events` does it, through the same store call.

use super::apps::AppView;
use super::{DeveloperView, csrf_pair, developer, flash, owned_app, page, to_login};
use crate::extract::RequestMeta;
use crate::state::AppState;
use crate::ui::PageError;
use crate::ui::account::when;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use gatehouse_domain::audit::{AuditCursor, AuditEvent, AuditFilter};
use serde::{Deserialize, Serialize};

const PAGE_SIZE: u32 = 50;

#[derive(Deserialize)]
pub(super) struct AuditQuery {
    page_token: Option<String>,
}

#[derive(Serialize)]
struct EventRow {
    event_type: &'static str,
    time: String,
    actor: String,
    result: &'static str,
    identity: Option<String>,
    ip: Option<String>,
}

impl EventRow {
    fn new(event: &AuditEvent) -> Self {
        Self {
            event_type: event.event_type.as_str(),
            time: when(event.created_at),
            actor: event.actor.clone().unwrap_or_else(|| "system".to_owned()),
            result: event.result.as_str(),
            identity: event.identity_id.map(|id| id.to_string()),
            ip: event.ip_address.clone(),
        }
    }
}

#[derive(Serialize)]
struct AuditPage {
    title: String,
    flash: Option<&'static str>,
    developer: DeveloperView,
    csrf_token: String,
    app: AppView,
    events: Vec<EventRow>,
    /// The `page_token` of the next (older) page, when there is one.
    next: Option<String>,
}

pub(super) async fn list(
    State(state): State<AppState>,
    meta: RequestMeta,
    Path(id): Path<String>,
    query: Result<Query<AuditQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let Some(developer) = developer(&state, &headers, &meta).await? else {
        return Ok(to_login());
    };
    let app = owned_app(&state, &developer, &id).await?;
    let invalid_link = || {
        PageError::bad_request("This page link is not valid: start again from the newest events.")
    };
    let Query(query) = query.map_err(|_| invalid_link())?;
    let before = match query.page_token.as_deref() {
        None | Some("") => None,
        Some(token) => Some(AuditCursor::parse_token(token).ok_or_else(invalid_link)?),
    };
    let filter = AuditFilter {
        identity_id: None,
        event_type: None,
        since: None,
        until: None,
        before,
        limit: PAGE_SIZE + 1,
    };
    let mut events = state.store.list_audit_events(app.id, &filter).await?;
    let more = events.len() > PAGE_SIZE as usize;
    events.truncate(PAGE_SIZE as usize);
    let next = events
        .last()
        .filter(|_| more)
        .map(|e| AuditCursor::of(e).to_token());
    let (csrf_token, csrf_cookie) = csrf_pair(&state, &headers);
    let context = AuditPage {
        title: format!("Audit log of {}", app.name),
        flash: flash(&state, &headers),
        developer: DeveloperView::new(&state, &developer),
        csrf_token,
        app: AppView::new(&app),
        events: events.iter().map(EventRow::new).collect(),
        next,
    };
    page(&state, "console/audit.html", context, csrf_cookie, &headers)
}
