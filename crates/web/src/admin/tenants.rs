//! `/admin/tenants`: create, list (keyset pages with a `Link` header), read, replace, patch and
//! delete tenants; `/admin/tenants/{id}/api-keys`: create (the key is shown once), list and
//! revoke a tenant's API keys. Every change is an audit event.
//!
//! Deleting a tenant deletes everything it owns (identities, sessions, clients, grants, tokens,
//! API keys, audit events, ...) in one transaction; the built-in tenants (the default one and the
//! developer console's) cannot be deleted. The changes themselves, with their audit events, are
//! [`crate::apps`], which the console shares.

use super::json_patch::{self, Operation, PatchError};
use crate::apps::{self, ChangedBy};
use crate::error::ApiError;
use crate::extract::json::JsonBody;
use crate::identity::rfc3339;
use crate::state::AppState;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gatehouse_domain::identity::schema::SchemaRegistry;
use gatehouse_domain::identity::stored_precision;
use gatehouse_domain::ids::TenantId;
use gatehouse_domain::store::StoreError;
use gatehouse_domain::tenant::{
    ApiKey, MagicLinkSettings, Tenant, TenantError, TenantSettings, parse_name,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

/// A tenant as the admin API shows it.
#[derive(Debug, Serialize)]
pub struct TenantResponse {
    pub id: TenantId,
    pub name: String,
    pub redirect_uri: Option<String>,
    pub allowed_return_urls: Vec<String>,
    pub settings: SettingsView,
    pub default: bool,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct SettingsView {
    #[serde(default)]
    pub magic_link: MagicLinkSettings,
    /// A configured identity schema id (`[identity] schemas`); the default schema when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_schema: Option<String>,
}

impl TenantResponse {
    pub fn new(tenant: &Tenant) -> Self {
        Self {
            id: tenant.id,
            name: tenant.name.clone(),
            redirect_uri: tenant.settings.redirect_uri.clone(),
            allowed_return_urls: tenant.settings.allowed_return_urls.clone(),
            settings: SettingsView {
                magic_link: tenant.settings.magic_link,
                identity_schema: tenant.settings.identity_schema.clone(),
            },
            default: tenant.is_default(),
            created_at: rfc3339(tenant.created_at),
            updated_at: rfc3339(tenant.updated_at),
        }
    }
}

/// `POST /admin/tenants` and `PUT /admin/tenants/{id}`. The read-only fields of a `GET` answer
/// are accepted, so an edited `GET` answer can be sent back; `id` must then match.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantRequest {
    name: String,
    #[serde(default)]
    redirect_uri: Option<String>,
    #[serde(default)]
    allowed_return_urls: Vec<String>,
    #[serde(default)]
    settings: SettingsView,
    id: Option<Uuid>,
    #[serde(rename = "default")]
    _default: Option<bool>,
    #[serde(rename = "created_at")]
    _created_at: Option<String>,
    #[serde(rename = "updated_at")]
    _updated_at: Option<String>,
}

impl TenantRequest {
    fn parse(self, schemas: &SchemaRegistry) -> Result<(String, TenantSettings), ApiError> {
        let name = parse_name(&self.name)?;
        let mut settings = TenantSettings::parse(
            self.redirect_uri,
            &self.allowed_return_urls,
            self.settings.magic_link,
        )?;
        if let Some(schema) = &self.settings.identity_schema
            && !schemas.contains(schema)
        {
            return Err(ApiError::bad_request(
                "invalid_tenant",
                format!(
                    "settings.identity_schema: {schema:?} is not a configured identity schema \
                     (configured: {})",
                    schemas.ids().join(", ")
                ),
            ));
        }
        settings.identity_schema = self.settings.identity_schema;
        Ok((name, settings))
    }
}

impl From<TenantError> for ApiError {
    fn from(err: TenantError) -> Self {
        ApiError::bad_request("invalid_tenant", err.to_string())
    }
}

fn tenant_not_found() -> ApiError {
    ApiError::not_found("tenant_not_found", "no tenant with this id")
}

fn key_not_found() -> ApiError {
    ApiError::not_found(
        "api_key_not_found",
        "the tenant has no API key with this id",
    )
}

/// The tenant a path names; an id that is not a UUID names no tenant.
async fn find(state: &AppState, id: &str) -> Result<Tenant, ApiError> {
    let id = Uuid::try_parse(id).map_err(|_| tenant_not_found())?;
    state
        .store
        .find_tenant(TenantId(id))
        .await?
        .ok_or_else(tenant_not_found)
}

pub async fn create(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<TenantRequest>,
) -> Result<Response, ApiError> {
    if req.id.is_some() {
        return Err(ApiError::bad_request(
            "invalid_tenant",
            "id: is chosen by the server",
        ));
    }
    let (name, settings) = req.parse(&state.schemas)?;
    let tenant = Tenant::new(name, settings, stored_precision(state.now()));
    // The admin API has no limit: this always stores the tenant.
    apps::create(&state, &tenant, ChangedBy::Admin).await?;
    Ok((StatusCode::CREATED, Json(TenantResponse::new(&tenant))).into_response())
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    page_size: Option<u32>,
    page_token: Option<String>,
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
    let after = query
        .page_token
        .as_deref()
        .map(Uuid::try_parse)
        .transpose()
        .map_err(|_| ApiError::bad_request("invalid_query", "page_token is not valid"))?;
    let mut tenants = state.store.list_tenants(after, limit + 1).await?;
    let more = tenants.len() > limit as usize;
    tenants.truncate(limit as usize);
    let body: Vec<TenantResponse> = tenants.iter().map(TenantResponse::new).collect();
    let mut response = Json(body).into_response();
    if more && let Some(last) = tenants.last() {
        super::link_next(
            &mut response,
            "/admin/tenants",
            limit,
            &last.id.to_string(),
            &[],
        );
    }
    Ok(response)
}

pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<TenantResponse>, ApiError> {
    Ok(Json(TenantResponse::new(&find(&state, &id).await?)))
}

/// Applies a parsed request to `tenant` and stores it.
async fn replace_with(
    state: &AppState,
    mut tenant: Tenant,
    req: TenantRequest,
) -> Result<Json<TenantResponse>, ApiError> {
    if req.id.is_some_and(|id| id != tenant.id.0) {
        return Err(ApiError::bad_request(
            "invalid_tenant",
            "id: does not match the tenant addressed",
        ));
    }
    let (name, settings) = req.parse(&state.schemas)?;
    tenant.name = name;
    tenant.settings = settings;
    tenant.updated_at = stored_precision(state.now());
    match apps::update(state, &tenant, ChangedBy::Admin).await {
        Ok(()) => {}
        Err(StoreError::NotFound) => return Err(tenant_not_found()),
        Err(e) => return Err(e.into()),
    }
    Ok(Json(TenantResponse::new(&tenant)))
}

pub async fn replace(
    State(state): State<AppState>,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<TenantRequest>,
) -> Result<Json<TenantResponse>, ApiError> {
    let tenant = find(&state, &id).await?;
    replace_with(&state, tenant, req).await
}

/// `PATCH /admin/tenants/{id}`: a JSON Patch (RFC 6902) against the tenant as `GET` shows it;
/// the result is validated like a `PUT`.
pub async fn patch(
    State(state): State<AppState>,
    Path(id): Path<String>,
    JsonBody(ops): JsonBody<Vec<Operation>>,
) -> Result<Json<TenantResponse>, ApiError> {
    let tenant = find(&state, &id).await?;
    let current = serde_json::to_value(TenantResponse::new(&tenant))
        .map_err(|e| ApiError::internal("cannot serialize a tenant", &e))?;
    let patched = json_patch::apply(&current, &ops).map_err(|e| match e {
        PatchError::TestFailed(_) => {
            ApiError::new(StatusCode::CONFLICT, "patch_test_failed", e.to_string())
        }
        _ => ApiError::bad_request("invalid_patch", e.to_string()),
    })?;
    let req: TenantRequest = serde_json::from_value(patched).map_err(|e| {
        ApiError::bad_request(
            "invalid_patch",
            format!("the patched tenant is not valid: {e}"),
        )
    })?;
    replace_with(&state, tenant, req).await
}

pub async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let tenant = find(&state, &id).await?;
    if tenant.is_default() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "default_tenant",
            "the default tenant cannot be deleted",
        ));
    }
    if tenant.id == TenantId::CONSOLE {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "console_tenant",
            "the developer console's tenant cannot be deleted",
        ));
    }
    match apps::delete(&state, &tenant, ChangedBy::Admin).await {
        Ok(()) => {}
        Err(StoreError::NotFound) => return Err(tenant_not_found()),
        Err(e) => return Err(e.into()),
    }
    Ok(StatusCode::NO_CONTENT)
}

/// An API key as listed: never the key, only its first characters.
#[derive(Debug, Serialize)]
pub struct ApiKeyResponse {
    pub id: Uuid,
    pub tenant_id: TenantId,
    pub name: String,
    pub prefix: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
}

impl ApiKeyResponse {
    fn new(key: &ApiKey) -> Self {
        Self {
            id: key.id,
            tenant_id: key.tenant_id,
            name: key.name.clone(),
            prefix: key.prefix.clone(),
            created_at: rfc3339(key.created_at),
            last_used_at: key.last_used_at.map(rfc3339),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyRequest {
    name: String,
}

/// `POST /admin/tenants/{id}/api-keys`: the answer is the only time the key is shown.
pub async fn create_api_key(
    State(state): State<AppState>,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<ApiKeyRequest>,
) -> Result<Response, ApiError> {
    let tenant = find(&state, &id).await?;
    let name = parse_name(&req.name)?;
    let (key, secret) = match apps::create_api_key(&state, tenant.id, name, ChangedBy::Admin).await
    {
        Ok(created) => created,
        Err(StoreError::NotFound) => return Err(tenant_not_found()),
        Err(e) => return Err(e.into()),
    };
    let mut body = serde_json::to_value(ApiKeyResponse::new(&key))
        .map_err(|e| ApiError::internal("cannot serialize an API key", &e))?;
    body["key"] = json!(secret.expose());
    let mut response = (StatusCode::CREATED, Json(body)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

pub async fn list_api_keys(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Vec<ApiKeyResponse>>, ApiError> {
    let tenant = find(&state, &id).await?;
    let keys = state.store.list_api_keys(tenant.id).await?;
    Ok(Json(keys.iter().map(ApiKeyResponse::new).collect()))
}

/// `DELETE /admin/tenants/{id}/api-keys/{key_id}`: the key stops working at once, on every node.
pub async fn revoke_api_key(
    State(state): State<AppState>,
    Path((id, key_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let tenant = find(&state, &id).await?;
    let key_id = Uuid::try_parse(&key_id).map_err(|_| key_not_found())?;
    match apps::revoke_api_key(&state, tenant.id, key_id, ChangedBy::Admin).await {
        Ok(()) => {}
        Err(StoreError::NotFound) => return Err(key_not_found()),
        Err(e) => return Err(e.into()),
    }
    Ok(StatusCode::NO_CONTENT)
}
