//! `/admin/identities`: create (with a plaintext password or an imported hash), list (keyset
//! pages: the next page is in the `Link` header, `rel="next"`, as for `/admin/clients`), read,
//! replace (PUT), JSON Patch (PATCH) and delete. Bodies and answers have Ory Kratos' shape.
//!
//! Every call works in one tenant: `?tenant_id=` (the body's `tenant_id` on create), the
//! default tenant when absent. An identity of another tenant is not found.

use super::json_patch::{self, Operation, PatchError};
use crate::audit::{self, Actor};
use crate::error::ApiError;
use crate::extract::json::JsonBody;
use crate::oauth::catalog::TenantQuery;
use crate::state::AppState;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use gatehouse_domain::audit::AuditEventType;
use gatehouse_domain::identity::password::PasswordHash;
use gatehouse_domain::identity::schema::{TraitFacts, TraitsError, normalize_identifier};
use gatehouse_domain::identity::store::{IDENTIFIER_CONSTRAINT, IdentityFilter};
use gatehouse_domain::identity::{Identity, IdentityState, stored_precision};
use gatehouse_domain::ids::TenantId;
use gatehouse_domain::secret::Secret;
use gatehouse_domain::store::StoreError;
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

const DEFAULT_PAGE_SIZE: u32 = 250;
const MAX_PAGE_SIZE: u32 = 1000;

/// The admin identity body (Kratos shape). Read-only fields of an answer (`id`, timestamps,
/// `recovery_addresses`) are accepted and ignored, so a `GET` answer can be sent back as a `PUT`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityRequest {
    #[serde(default)]
    schema_id: Option<String>,
    /// `active` or `inactive` (parsed by [`state_of`] to name the field when it is wrong).
    #[serde(default)]
    state: Option<String>,
    traits: Value,
    #[serde(default)]
    metadata_public: Option<Value>,
    #[serde(default)]
    metadata_admin: Option<Value>,
    #[serde(default)]
    credentials: Option<CredentialsRequest>,
    /// On create, addresses listed here with `verified: true` start verified (imports).
    #[serde(default)]
    verifiable_addresses: Option<Vec<AddressRequest>>,
    #[serde(default)]
    tenant_id: Option<TenantId>,
    #[serde(default, rename = "id")]
    _id: Option<Value>,
    #[serde(default, rename = "created_at")]
    _created_at: Option<Value>,
    #[serde(default, rename = "updated_at")]
    _updated_at: Option<Value>,
    #[serde(default, rename = "recovery_addresses")]
    _recovery_addresses: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CredentialsRequest {
    password: Option<PasswordCredentialRequest>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PasswordCredentialRequest {
    config: PasswordConfig,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PasswordConfig {
    password: Option<Secret>,
    hashed_password: Option<String>,
}

impl std::fmt::Debug for PasswordConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordConfig([redacted])")
    }
}

#[derive(Debug, Deserialize)]
struct AddressRequest {
    value: String,
    #[serde(default)]
    verified: bool,
    #[serde(flatten)]
    _rest: serde_json::Map<String, Value>,
}

fn identity_not_found() -> ApiError {
    ApiError::not_found("identity_not_found", "no identity with this id")
}

fn invalid_traits(err: &TraitsError) -> ApiError {
    ApiError::bad_request("invalid_traits", err.to_string())
}

fn write_error(err: StoreError) -> ApiError {
    match err {
        StoreError::Conflict { constraint } if constraint == IDENTIFIER_CONSTRAINT => {
            ApiError::new(
                StatusCode::CONFLICT,
                "identity_exists",
                "an identity with this identifier already exists",
            )
        }
        StoreError::NotFound => identity_not_found(),
        other => other.into(),
    }
}

fn state_of(req: &IdentityRequest) -> Result<Option<IdentityState>, ApiError> {
    req.state
        .as_deref()
        .map(|s| {
            IdentityState::parse(s).ok_or_else(|| {
                ApiError::bad_request("invalid_body", "state: must be \"active\" or \"inactive\"")
            })
        })
        .transpose()
}

/// The tenant a new identity goes to: the body's `tenant_id`, else `?tenant_id=`, else the
/// default tenant; it must exist.
async fn tenant_of(
    state: &AppState,
    req: &IdentityRequest,
    query: TenantId,
) -> Result<TenantId, ApiError> {
    let tenant = req.tenant_id.unwrap_or(query);
    if state.store.find_tenant(tenant).await?.is_none() {
        return Err(ApiError::bad_request(
            "invalid_body",
            "tenant_id: no tenant with this id",
        ));
    }
    Ok(tenant)
}

/// `?tenant_id=` of a request, the default tenant when absent.
fn tenant_query(query: Result<Query<TenantQuery>, QueryRejection>) -> Result<TenantId, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    Ok(query.tenant())
}

/// Validates the traits against the requested schema, else `fallback_schema` (the identity's
/// current one, or its tenant's for a new identity).
fn validate(
    state: &AppState,
    req: &IdentityRequest,
    fallback_schema: &str,
) -> Result<(String, TraitFacts), ApiError> {
    let schema_id = req
        .schema_id
        .clone()
        .unwrap_or_else(|| fallback_schema.to_owned());
    let facts = state
        .schemas
        .validate(&schema_id, &req.traits)
        .map_err(|e| invalid_traits(&e))?;
    Ok((schema_id, facts))
}

/// The password credential of a request: a plaintext password (hashed here; admins may set
/// any password of the minimum length) or an imported hash (stored as it is).
async fn password_of(
    state: &AppState,
    req: &IdentityRequest,
) -> Result<Option<PasswordHash>, ApiError> {
    let Some(config) = req
        .credentials
        .as_ref()
        .and_then(|c| c.password.as_ref())
        .map(|p| &p.config)
    else {
        return Ok(None);
    };
    match (&config.password, &config.hashed_password) {
        (Some(password), None) => {
            let policy = state.passwords.policy();
            let length = password.expose().chars().count();
            if length < policy.min_length || length > policy.max_length {
                return Err(ApiError::bad_request(
                    "invalid_credentials",
                    format!(
                        "credentials.password.config.password: must be between {} and {} characters long (rule: length)",
                        policy.min_length, policy.max_length
                    ),
                ));
            }
            Ok(Some(state.passwords.hash(password).await?))
        }
        (None, Some(hashed)) => PasswordHash::parse(hashed).map(Some).map_err(|e| {
            ApiError::bad_request(
                "invalid_credentials",
                format!("credentials.password.config.hashed_password: {e}"),
            )
        }),
        _ => Err(ApiError::bad_request(
            "invalid_credentials",
            "credentials.password.config: give exactly one of password and hashed_password",
        )),
    }
}

async fn find(state: &AppState, tenant: TenantId, id: &str) -> Result<Identity, ApiError> {
    let id = Uuid::parse_str(id).map_err(|_| identity_not_found())?;
    state
        .store
        .find_identity(tenant, id)
        .await?
        .ok_or_else(identity_not_found)
}

pub async fn create(
    State(state): State<AppState>,
    query: Result<Query<TenantQuery>, QueryRejection>,
    JsonBody(req): JsonBody<IdentityRequest>,
) -> Result<Response, ApiError> {
    let tenant = tenant_of(&state, &req, tenant_query(query)?).await?;
    let requested_state = state_of(&req)?;
    let tenant_schema = crate::identity::tenant::schema_of(&state, tenant).await?;
    let (schema_id, facts) = validate(&state, &req, &tenant_schema)?;
    let password = password_of(&state, &req).await?;
    let now = stored_precision(state.now());
    let mut identity = Identity::new(tenant, &schema_id, req.traits.clone(), &facts, now);
    identity.state = requested_state.unwrap_or_default();
    identity.metadata_public = req.metadata_public.clone();
    identity.metadata_admin = req.metadata_admin.clone();
    for address in req.verifiable_addresses.iter().flatten() {
        if address.verified {
            identity.mark_verified(&address.value, now);
        }
    }
    state
        .store
        .insert_identity(&identity, &facts.identifiers, password.as_ref())
        .await
        .map_err(write_error)?;
    tracing::info!(user.id = %identity.id, "identity created");
    audit::identity_event_in(
        &state,
        tenant,
        AuditEventType::IdentityCreated,
        identity.id,
        Actor::Admin,
        json!({"schema_id": identity.schema_id, "imported_password": password.is_some()}),
    )
    .await;
    Ok((StatusCode::CREATED, Json(identity)).into_response())
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    page_size: Option<u32>,
    page_token: Option<String>,
    credentials_identifier: Option<String>,
    tenant_id: Option<Uuid>,
}

pub async fn list(
    State(state): State<AppState>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    let limit = query.page_size.unwrap_or(DEFAULT_PAGE_SIZE);
    if !(1..=MAX_PAGE_SIZE).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("page_size must be between 1 and {MAX_PAGE_SIZE}"),
        ));
    }
    let after = match &query.page_token {
        Some(t) => Some(
            Uuid::parse_str(t)
                .map_err(|_| ApiError::bad_request("invalid_query", "page_token is not valid"))?,
        ),
        None => None,
    };
    let identifier = query
        .credentials_identifier
        .as_deref()
        .map(normalize_identifier);
    let filter = IdentityFilter {
        identifier: identifier.clone(),
        identifier_contains: None,
        after,
        limit,
    };
    let tenant = query.tenant_id.map_or(TenantId::DEFAULT, TenantId);
    let page = state.store.list_identities(tenant, &filter).await?;
    let mut response = Json(&page.identities).into_response();
    if let Some(next) = page.next {
        super::link_next(
            &mut response,
            "/admin/identities",
            limit,
            &next.to_string(),
            &[
                ("credentials_identifier", identifier),
                ("tenant_id", query.tenant_id.map(|t| t.to_string())),
            ],
        );
    }
    Ok(response)
}

pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
    query: Result<Query<TenantQuery>, QueryRejection>,
) -> Result<Json<Identity>, ApiError> {
    Ok(Json(find(&state, tenant_query(query)?, &id).await?))
}

/// Replaces the schema, state, traits and metadata of `current` with the request's, re-validates,
/// and stores it (with a new password when the request has credentials).
async fn replace(
    state: &AppState,
    mut current: Identity,
    req: &IdentityRequest,
) -> Result<Identity, ApiError> {
    if req.tenant_id.is_some_and(|t| t != current.tenant_id) {
        return Err(ApiError::bad_request(
            "invalid_body",
            "tenant_id: an identity cannot move to another tenant",
        ));
    }
    let requested_state = state_of(req)?;
    let (schema_id, facts) = validate(state, req, &current.schema_id)?;
    let password = password_of(state, req).await?;
    let now = stored_precision(state.now());
    current.schema_id = schema_id;
    current.state = requested_state.unwrap_or(current.state);
    current.traits = req.traits.clone();
    current.metadata_public = req.metadata_public.clone();
    current.metadata_admin = req.metadata_admin.clone();
    current.updated_at = now;
    current.set_addresses(&facts, now);
    match &password {
        Some(hash) => {
            state
                .store
                .update_identity_with_password(&current, &facts.identifiers, hash)
                .await
        }
        None => {
            state
                .store
                .update_identity(&current, &facts.identifiers)
                .await
        }
    }
    .map_err(write_error)?;
    tracing::info!(user.id = %current.id, "identity updated");
    audit::identity_event_in(
        state,
        current.tenant_id,
        AuditEventType::IdentityUpdated,
        current.id,
        Actor::Admin,
        json!({"state": current.state}),
    )
    .await;
    Ok(current)
}

pub async fn put(
    State(state): State<AppState>,
    Path(id): Path<String>,
    query: Result<Query<TenantQuery>, QueryRejection>,
    JsonBody(req): JsonBody<IdentityRequest>,
) -> Result<Json<Identity>, ApiError> {
    let current = find(&state, tenant_query(query)?, &id).await?;
    Ok(Json(replace(&state, current, &req).await?))
}

/// `PATCH /admin/identities/{id}`: a JSON Patch (RFC 6902) against the identity as `GET` shows
/// it; the result is validated like a `PUT`.
pub async fn patch(
    State(state): State<AppState>,
    Path(id): Path<String>,
    query: Result<Query<TenantQuery>, QueryRejection>,
    JsonBody(ops): JsonBody<Vec<Operation>>,
) -> Result<Json<Identity>, ApiError> {
    let current = find(&state, tenant_query(query)?, &id).await?;
    let shown = serde_json::to_value(&current)
        .map_err(|e| ApiError::internal("cannot serialize an identity", &e))?;
    let patched = json_patch::apply(&shown, &ops).map_err(|e| match e {
        PatchError::TestFailed(_) => {
            ApiError::new(StatusCode::CONFLICT, "patch_test_failed", e.to_string())
        }
        _ => ApiError::bad_request("invalid_patch", e.to_string()),
    })?;
    let mut patched = patched;
    if let Some(map) = patched.as_object_mut() {
        // Addresses follow the traits; what a patch did to them is not a request.
        map.remove("verifiable_addresses");
        if map.get("id") != shown.get("id") {
            return Err(ApiError::bad_request(
                "invalid_patch",
                "id cannot be changed",
            ));
        }
    }
    let req: IdentityRequest = serde_json::from_value(patched).map_err(|e| {
        ApiError::bad_request(
            "invalid_patch",
            format!("the patched identity is not valid: {e}"),
        )
    })?;
    Ok(Json(replace(&state, current, &req).await?))
}

pub async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
    query: Result<Query<TenantQuery>, QueryRejection>,
) -> Result<StatusCode, ApiError> {
    let tenant = tenant_query(query)?;
    let id = Uuid::parse_str(&id).map_err(|_| identity_not_found())?;
    crate::apps::delete_identity(&state, tenant, id, crate::apps::ChangedBy::Admin)
        .await
        .map_err(write_error)?;
    Ok(StatusCode::NO_CONTENT)
}
