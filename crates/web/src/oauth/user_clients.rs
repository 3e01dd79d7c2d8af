//! Clients registered by people, for a signed-in session (cookie or `X-Session-Token`):
//! `POST /api/client/register`, `GET /api/user/clients` (keyset pages with a `Link` header) and
//! `POST /api/user/clients/{client_id}/deactivate`. The account page's forms call the same
//! [`register`] and [`deactivate`].
//!
//! Cookie-authenticated calls are safe from cross-site forgery because every body must be
//! `application/json`: an HTML form cannot send that, and a cross-site script cannot send it
//! without a CORS preflight that this listener never grants. The secret is answered once and
//! stored as its SHA-256 only.

use super::clients::Created;
use super::wire::ClientResponse;
use crate::audit;
use crate::error::ApiError;
use crate::extract::RequestMeta;
use crate::extract::json::JsonBody;
use crate::identity::session::CurrentSession;
use crate::state::AppState;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gatehouse_domain::audit::{AuditEvent, AuditEventType, AuditResult};
use gatehouse_domain::ids::new_row_id;
use gatehouse_domain::oauth::client::{Client, ClientError, generate_client_secret};
use gatehouse_domain::oauth::user_client::{MAX_CLIENTS_PER_PERSON, UserClientRequest};
use gatehouse_domain::store::StoreError;
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

/// Why registering a person's client failed.
#[derive(Debug, thiserror::Error)]
pub enum UserClientError {
    #[error(transparent)]
    Invalid(#[from] ClientError),
    #[error(
        "you already have {MAX_CLIENTS_PER_PERSON} clients (deactivated ones count too); an operator can delete ones you no longer need"
    )]
    LimitReached,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<UserClientError> for ApiError {
    fn from(err: UserClientError) -> Self {
        match err {
            UserClientError::Invalid(e) => {
                ApiError::bad_request("invalid_client_metadata", e.to_string())
            }
            UserClientError::LimitReached => ApiError::new(
                StatusCode::CONFLICT,
                "client_limit_reached",
                err.to_string(),
            ),
            UserClientError::Store(e) => e.into(),
        }
    }
}

async fn event(
    state: &AppState,
    current: &CurrentSession,
    meta: &RequestMeta,
    event_type: AuditEventType,
    client_id: &str,
) {
    let event = AuditEvent::new(
        current.identity.tenant_id,
        event_type,
        AuditResult::Success,
        state.now(),
    )
    .identity(current.identity.id)
    .actor("self")
    .client(meta.ip.as_deref(), meta.user_agent.as_deref())
    .details(json!({"client_id": client_id}));
    audit::record(state, event).await;
}

/// Registers a client owned by the signed-in person; the secret (none for a public client) is
/// in the answer only.
pub async fn register(
    state: &AppState,
    current: &CurrentSession,
    meta: &RequestMeta,
    request: UserClientRequest,
) -> Result<Created, UserClientError> {
    let tenant_id = current.identity.tenant_id;
    let catalog = state.scopes.snapshot();
    let metadata = request.into_metadata(|name| {
        catalog
            .find(tenant_id, name)
            .is_some_and(|scope| scope.active)
    })?;
    let secret = (!metadata.is_public()).then(generate_client_secret);
    let now = state.now();
    let client = Client {
        id: new_row_id(now),
        client_id: Uuid::new_v4().to_string(),
        tenant_id,
        secret_hash: secret.as_ref().map(|s| s.hash()),
        registration_token_hash: None,
        owner_identity_id: Some(current.identity.id),
        active: true,
        created_at: now,
        updated_at: now,
        metadata,
    };
    if !state
        .store
        .insert_owned_client(&client, MAX_CLIENTS_PER_PERSON)
        .await?
    {
        return Err(UserClientError::LimitReached);
    }
    state.clients.invalidate(&client.client_id).await;
    tracing::info!(client.id = %client.client_id, user.id = %current.identity.id, "client registered by its owner");
    event(
        state,
        current,
        meta,
        AuditEventType::ClientRegisteredByUser,
        &client.client_id,
    )
    .await;
    Ok(Created {
        client,
        secret,
        registration_token: None,
    })
}

/// Deactivates one of the signed-in person's clients; `false` when they own no such client.
pub async fn deactivate(
    state: &AppState,
    current: &CurrentSession,
    meta: &RequestMeta,
    client_id: &str,
) -> Result<bool, StoreError> {
    let done = state
        .store
        .deactivate_owned_client(current.identity.id, client_id, state.now())
        .await?;
    state.clients.invalidate(client_id).await;
    if done {
        tracing::info!(client.id = %client_id, user.id = %current.identity.id, "client deactivated by its owner");
        event(
            state,
            current,
            meta,
            AuditEventType::ClientDeactivatedByUser,
            client_id,
        )
        .await;
    }
    Ok(done)
}

/// Reads the JSON body of `POST /api/client/register`, naming the field of the first problem.
/// `name` is accepted for `client_name`; any other field (`grant_types`, `skip_consent`, …) is
/// refused: those stay with operators.
fn parse_register(body: &Value) -> Result<UserClientRequest, String> {
    let Some(object) = body.as_object() else {
        return Err("the body must be a JSON object".into());
    };
    let mut request = UserClientRequest::default();
    for (key, value) in object {
        let text = || match value {
            Value::String(s) => Ok(Some(s.clone())),
            Value::Null => Ok(None),
            _ => Err(format!("{key}: must be a string")),
        };
        let list = || match value {
            Value::Array(items) => items
                .iter()
                .map(|i| i.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| format!("{key}: must be an array of strings")),
            Value::Null => Ok(Vec::new()),
            _ => Err(format!("{key}: must be an array of strings")),
        };
        match key.as_str() {
            "client_name" | "name" => request.client_name = text()?.unwrap_or_default(),
            "description" => request.description = text()?.unwrap_or_default(),
            "website_url" => request.website_url = text()?.unwrap_or_default(),
            "scope" => request.scope = text()?,
            "token_endpoint_auth_method" => request.token_endpoint_auth_method = text()?,
            "redirect_uris" => request.redirect_uris = list()?,
            "post_logout_redirect_uris" => request.post_logout_redirect_uris = list()?,
            _ => {
                return Err(format!(
                    "{key}: is not a field people may set on their clients"
                ));
            }
        }
    }
    Ok(request)
}

/// `POST /api/client/register`: 201 with the client and, for a confidential client, its
/// `client_secret` (shown only here).
pub async fn create(
    State(state): State<AppState>,
    current: CurrentSession,
    meta: RequestMeta,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let request =
        parse_register(&body).map_err(|e| ApiError::bad_request("invalid_client_metadata", e))?;
    let created = register(&state, &current, &meta, request).await?;
    let body = ClientResponse::new(&created.client, created.secret.as_ref());
    let mut response = (StatusCode::CREATED, Json(body)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    page_size: Option<u32>,
    page_token: Option<Uuid>,
}

/// `GET /api/user/clients`: the signed-in person's clients, oldest first.
pub async fn list(
    State(state): State<AppState>,
    current: CurrentSession,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    let limit = query.page_size.unwrap_or(MAX_CLIENTS_PER_PERSON);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_query",
            "page_size must be between 1 and 100",
        ));
    }
    let mut clients = state
        .store
        .list_owned_clients(current.identity.id, query.page_token, limit + 1)
        .await?;
    let more = clients.len() > limit as usize;
    clients.truncate(limit as usize);
    let body: Vec<ClientResponse> = clients
        .iter()
        .map(|c| ClientResponse::new(c, None))
        .collect();
    let mut response = Json(body).into_response();
    if more && let Some(last) = clients.last() {
        crate::admin::link_next(
            &mut response,
            "/api/user/clients",
            limit,
            &last.id.to_string(),
            &[],
        );
    }
    Ok(response)
}

/// `POST /api/user/clients/{client_id}/deactivate`: 200 with the client, now inactive; 404
/// when the person owns no such client. Like registration it must be sent as
/// `application/json` (the body is not read), which a cross-site form cannot do.
pub async fn deactivate_one(
    State(state): State<AppState>,
    current: CurrentSession,
    meta: RequestMeta,
    Path(client_id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<ClientResponse>, ApiError> {
    if crate::extract::media_type(&headers) != "application/json" {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "the request must be sent as application/json",
        ));
    }
    let not_found =
        || ApiError::not_found("client_not_found", "you have no client with this client_id");
    if !deactivate(&state, &current, &meta, &client_id).await? {
        return Err(not_found());
    }
    let client = state
        .store
        .find_client(&client_id)
        .await?
        .ok_or_else(not_found)?;
    Ok(Json(ClientResponse::new(&client, None)))
}
