//! `/admin/clients`: create, list (keyset pages with a `Link` header), read, replace, delete.

use super::json_patch::{self, Operation, PatchError};
use crate::error::ApiError;
use crate::extract::json::JsonBody;
use crate::oauth::clients::{
    ClientWriteError, Origin, create_client, delete_client, replace_client,
};
use crate::oauth::wire::{ClientRequest, ClientResponse};
use crate::state::AppState;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use gatehouse_domain::ids::TenantId;
use gatehouse_domain::oauth::client::Client;
use gatehouse_domain::oauth::store::ClientFilter;
use serde::Deserialize;

impl From<ClientWriteError> for ApiError {
    fn from(err: ClientWriteError) -> Self {
        match err {
            ClientWriteError::Invalid(e) => {
                ApiError::bad_request("invalid_client_metadata", e.to_string())
            }
            ClientWriteError::Taken => {
                ApiError::new(StatusCode::CONFLICT, "client_exists", err.to_string())
            }
            ClientWriteError::UnknownTenant(_) => {
                ApiError::bad_request("unknown_tenant", err.to_string())
            }
            ClientWriteError::Store(e) => e.into(),
        }
    }
}

fn client_not_found() -> ApiError {
    ApiError::not_found("client_not_found", "no client with this client_id")
}

async fn find(state: &AppState, client_id: &str) -> Result<Client, ApiError> {
    state
        .store
        .find_client(client_id)
        .await?
        .ok_or_else(client_not_found)
}

pub async fn create(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<ClientRequest>,
) -> Result<Response, ApiError> {
    let created = create_client(&state, &req, Origin::Admin).await?;
    let body = ClientResponse::new(&created.client, created.secret.as_ref());
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    page_size: Option<u32>,
    page_token: Option<String>,
    client_name: Option<String>,
    tenant_id: Option<uuid::Uuid>,
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
            uuid::Uuid::parse_str(t)
                .map_err(|_| ApiError::bad_request("invalid_query", "page_token is not valid"))?,
        ),
        None => None,
    };
    let filter = ClientFilter {
        tenant_id: query.tenant_id.map(TenantId),
        client_name: query.client_name.clone(),
        after,
        limit: limit + 1,
    };
    let mut clients = state.store.list_clients(&filter).await?;
    let more = clients.len() > limit as usize;
    clients.truncate(limit as usize);
    let body: Vec<ClientResponse> = clients
        .iter()
        .map(|c| ClientResponse::new(c, None))
        .collect();
    let mut response = Json(body).into_response();
    if more && let Some(last) = clients.last() {
        super::link_next(
            &mut response,
            "/admin/clients",
            limit,
            &last.id.to_string(),
            &[
                ("client_name", query.client_name.clone()),
                ("tenant_id", query.tenant_id.map(|t| t.to_string())),
            ],
        );
    }
    Ok(response)
}

pub async fn get(
    State(state): State<AppState>,
    Path(client_id): Path<String>,
) -> Result<Json<ClientResponse>, ApiError> {
    let client = find(&state, &client_id).await?;
    Ok(Json(ClientResponse::new(&client, None)))
}

pub async fn replace(
    State(state): State<AppState>,
    Path(client_id): Path<String>,
    JsonBody(req): JsonBody<ClientRequest>,
) -> Result<Json<ClientResponse>, ApiError> {
    let client = find(&state, &client_id).await?;
    let (client, generated) = replace_client(&state, client, &req, Origin::Admin).await?;
    Ok(Json(ClientResponse::new(&client, generated.as_ref())))
}

/// `PATCH /admin/clients/{client_id}`: a JSON Patch (RFC 6902) against the client as `GET`
/// shows it; the result is validated like a `PUT`.
pub async fn patch(
    State(state): State<AppState>,
    Path(client_id): Path<String>,
    JsonBody(ops): JsonBody<Vec<Operation>>,
) -> Result<Json<ClientResponse>, ApiError> {
    let client = find(&state, &client_id).await?;
    let current = serde_json::to_value(ClientResponse::new(&client, None))
        .map_err(|e| ApiError::internal("cannot serialize a client", &e))?;
    let patched = json_patch::apply(&current, &ops).map_err(|e| match e {
        PatchError::TestFailed(_) => {
            ApiError::new(StatusCode::CONFLICT, "patch_test_failed", e.to_string())
        }
        _ => ApiError::bad_request("invalid_patch", e.to_string()),
    })?;
    let req: ClientRequest = serde_json::from_value(patched).map_err(|e| {
        ApiError::bad_request(
            "invalid_patch",
            format!("the patched client is not valid: {e}"),
        )
    })?;
    let (client, generated) = replace_client(&state, client, &req, Origin::Admin).await?;
    Ok(Json(ClientResponse::new(&client, generated.as_ref())))
}

pub async fn delete(
    State(state): State<AppState>,
    Path(client_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    match delete_client(&state, &client_id).await {
        Ok(()) => Ok(StatusCode::NO_CONTENT),
        Err(gatehouse_domain::store::StoreError::NotFound) => Err(client_not_found()),
        Err(e) => Err(e.into()),
    }
}
