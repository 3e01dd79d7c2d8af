//! `/admin/scopes`: the scope catalog of a tenant (`?tenant_id=`, the default tenant when
//! omitted). A change reloads this node's catalog at once (other nodes within a few seconds) and
//! is recorded as an audit event.

use crate::audit;
use crate::error::ApiError;
use crate::extract::json::JsonBody;
use crate::oauth::catalog::{self, TenantQuery};
use crate::state::AppState;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use gatehouse_domain::audit::{AuditEvent, AuditEventType, AuditResult};
use gatehouse_domain::ids::TenantId;
use gatehouse_domain::oauth::catalog::{CatalogError, CatalogScope, ScopeFields};
use gatehouse_domain::store::StoreError;
use serde::Deserialize;
use serde_json::json;

/// `POST /admin/scopes`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateScopeRequest {
    name: String,
    display_name: String,
    #[serde(default)]
    description: String,
    #[serde(default, deserialize_with = "claim_list")]
    claims: Vec<String>,
    #[serde(default = "active_by_default")]
    active: bool,
    tenant_id: Option<uuid::Uuid>,
}

/// `PUT /admin/scopes/{name}`: replaces what may change. The read-only fields of a `GET` answer
/// are accepted, so an edited `GET` answer can be sent back; `name` and `tenant_id` must then
/// match the scope addressed.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplaceScopeRequest {
    display_name: String,
    #[serde(default)]
    description: String,
    #[serde(default, deserialize_with = "claim_list")]
    claims: Vec<String>,
    #[serde(default = "active_by_default")]
    active: bool,
    name: Option<String>,
    tenant_id: Option<uuid::Uuid>,
    #[serde(rename = "builtin")]
    _builtin: Option<bool>,
    #[serde(rename = "created_at")]
    _created_at: Option<String>,
    #[serde(rename = "updated_at")]
    _updated_at: Option<String>,
}

fn active_by_default() -> bool {
    true
}

/// `claims`, with an error that names the field when it is not a list of strings.
fn claim_list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    <Vec<String>>::deserialize(d)
        .map_err(|_| serde::de::Error::custom("claims: must be an array of claim names"))
}

impl From<CatalogError> for ApiError {
    fn from(err: CatalogError) -> Self {
        match err {
            CatalogError::Invalid { .. } => ApiError::bad_request("invalid_scope", err.to_string()),
            CatalogError::Builtin(_) => ApiError::bad_request("scope_builtin", err.to_string()),
        }
    }
}

fn scope_not_found() -> ApiError {
    ApiError::not_found("scope_not_found", "no scope with this name")
}

fn tenant_of(query: Result<Query<TenantQuery>, QueryRejection>) -> Result<TenantId, ApiError> {
    query
        .map(|Query(q)| q.tenant())
        .map_err(|_| ApiError::bad_request("invalid_query", "tenant_id: must be a UUID"))
}

/// Reloads this node's catalog after a change and wakes the reload loop.
async fn reload(state: &AppState) {
    catalog::reload(state).await;
    state.scopes.changed.notify_one();
}

async fn record(state: &AppState, kind: AuditEventType, scope: &CatalogScope) {
    audit::record(
        state,
        AuditEvent::new(scope.tenant_id, kind, AuditResult::Success, state.now())
            .actor("admin")
            .details(json!({
                "scope": scope.name,
                "active": scope.active,
                "claims": scope.claims,
            })),
    )
    .await;
}

/// `GET /admin/scopes`: every scope of the tenant, inactive ones too, by name.
pub async fn list(
    State(state): State<AppState>,
    query: Result<Query<TenantQuery>, QueryRejection>,
) -> Result<Json<Vec<CatalogScope>>, ApiError> {
    let tenant_id = tenant_of(query)?;
    Ok(Json(state.store.list_scopes(tenant_id).await?))
}

pub async fn create(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<CreateScopeRequest>,
) -> Result<Response, ApiError> {
    let tenant_id = req.tenant_id.map_or(TenantId::DEFAULT, TenantId);
    let fields = ScopeFields::parse(&req.display_name, &req.description, req.claims, req.active)?;
    let scope = CatalogScope::new(tenant_id, &req.name, fields, state.now())?;
    match state.store.insert_scope(&scope).await {
        Ok(()) => {}
        Err(StoreError::Conflict { .. }) => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "scope_exists",
                format!("name: the tenant already has a scope {:?}", scope.name),
            ));
        }
        Err(StoreError::NotFound) => {
            return Err(ApiError::bad_request(
                "invalid_scope",
                "tenant_id: no such tenant",
            ));
        }
        Err(e) => return Err(e.into()),
    }
    reload(&state).await;
    record(&state, AuditEventType::ScopeCreated, &scope).await;
    Ok((StatusCode::CREATED, Json(scope)).into_response())
}

pub async fn get(
    State(state): State<AppState>,
    Path(name): Path<String>,
    query: Result<Query<TenantQuery>, QueryRejection>,
) -> Result<Json<CatalogScope>, ApiError> {
    let tenant_id = tenant_of(query)?;
    state
        .store
        .find_scope(tenant_id, &name)
        .await?
        .map(Json)
        .ok_or_else(scope_not_found)
}

pub async fn replace(
    State(state): State<AppState>,
    Path(name): Path<String>,
    query: Result<Query<TenantQuery>, QueryRejection>,
    JsonBody(req): JsonBody<ReplaceScopeRequest>,
) -> Result<Json<CatalogScope>, ApiError> {
    let tenant_id = tenant_of(query)?;
    if req.name.as_ref().is_some_and(|n| *n != name) {
        return Err(ApiError::bad_request(
            "invalid_scope",
            "name: a scope cannot be renamed (create a new one instead)",
        ));
    }
    if req.tenant_id.is_some_and(|t| TenantId(t) != tenant_id) {
        return Err(ApiError::bad_request(
            "invalid_scope",
            "tenant_id: does not match the scope addressed (use ?tenant_id=)",
        ));
    }
    let fields = ScopeFields::parse(&req.display_name, &req.description, req.claims, req.active)?;
    let mut scope = state
        .store
        .find_scope(tenant_id, &name)
        .await?
        .ok_or_else(scope_not_found)?;
    scope.replace(fields, state.now());
    match state.store.update_scope(&scope).await {
        Ok(()) => {}
        Err(StoreError::NotFound) => return Err(scope_not_found()),
        Err(e) => return Err(e.into()),
    }
    reload(&state).await;
    record(&state, AuditEventType::ScopeUpdated, &scope).await;
    Ok(Json(scope))
}

pub async fn delete(
    State(state): State<AppState>,
    Path(name): Path<String>,
    query: Result<Query<TenantQuery>, QueryRejection>,
) -> Result<StatusCode, ApiError> {
    let tenant_id = tenant_of(query)?;
    let scope = state
        .store
        .find_scope(tenant_id, &name)
        .await?
        .ok_or_else(scope_not_found)?;
    scope.check_deletable()?;
    match state.store.delete_scope(tenant_id, &name).await {
        Ok(()) => {}
        Err(StoreError::NotFound) => return Err(scope_not_found()),
        Err(e) => return Err(e.into()),
    }
    reload(&state).await;
    record(&state, AuditEventType::ScopeDeleted, &scope).await;
    Ok(StatusCode::NO_CONTENT)
}
