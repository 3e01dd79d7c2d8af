//! `/admin/tenants/{id}/providers[/{name}]`: the social sign-in providers of a tenant ("app").
//! `PUT` creates or replaces one (201 / 200); the client secret is sealed with the cipher before
//! it is stored and never shown again: answers say only whether one is set. A `PUT` without
//! `client_secret` keeps the stored one.

use crate::error::ApiError;
use crate::extract::json::JsonBody;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use gatehouse_domain::ids::TenantId;
use gatehouse_domain::secret::Secret;
use gatehouse_domain::social::{
    ProviderEndpoints, ProviderKind, SocialProvider, valid_provider_name,
};
use gatehouse_domain::store::StoreError;
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

/// `PUT /admin/tenants/{id}/providers/{name}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderRequest {
    #[serde(rename = "type")]
    kind: String,
    issuer: Option<String>,
    client_id: String,
    client_secret: Option<Secret>,
    scopes: Option<Vec<String>>,
    redirect_uri: String,
    #[serde(default = "enabled_by_default")]
    enabled: bool,
    #[serde(default)]
    token_in_redirect: bool,
    #[serde(default)]
    endpoints: ProviderEndpoints,
    // Read-only fields of a GET answer, accepted so it can be edited and sent back.
    #[serde(rename = "name")]
    _name: Option<String>,
    #[serde(rename = "tenant_id")]
    _tenant_id: Option<Value>,
    #[serde(rename = "client_secret_set")]
    _client_secret_set: Option<bool>,
    #[serde(rename = "created_at")]
    _created_at: Option<String>,
    #[serde(rename = "updated_at")]
    _updated_at: Option<String>,
}

fn enabled_by_default() -> bool {
    true
}

fn invalid(reason: impl Into<std::borrow::Cow<'static, str>>) -> ApiError {
    ApiError::bad_request("invalid_provider", reason)
}

fn not_found() -> ApiError {
    ApiError::not_found(
        "provider_not_found",
        "the app has no provider with this name",
    )
}

fn store_failed(err: &StoreError) -> ApiError {
    ApiError::internal("social provider store", err)
}

/// An absolute `http(s)` URL without a fragment.
fn web_url(field: &str, raw: &str) -> Result<(), ApiError> {
    match url::Url::parse(raw) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.fragment().is_none() => Ok(()),
        _ => Err(invalid(format!(
            "{field}: must be an absolute http(s) URL without a fragment"
        ))),
    }
}

/// The tenant `raw` names, if it exists.
async fn tenant(state: &AppState, raw: &str) -> Result<TenantId, ApiError> {
    let not_found = || ApiError::not_found("tenant_not_found", "no tenant with this id");
    let id = Uuid::parse_str(raw)
        .map(TenantId)
        .map_err(|_| not_found())?;
    match state.store.find_tenant(id).await {
        Ok(Some(_)) => Ok(id),
        Ok(None) => Err(not_found()),
        Err(e) => Err(store_failed(&e)),
    }
}

/// The answer for one provider: everything but the secret.
pub fn provider_json(provider: &SocialProvider) -> Value {
    json!({
        "name": provider.name,
        "tenant_id": provider.tenant_id.0,
        "type": provider.kind.as_str(),
        "issuer": provider.issuer,
        "client_id": provider.client_id,
        "client_secret_set": !provider.sealed_secret.is_empty(),
        "scopes": provider.scopes,
        "redirect_uri": provider.redirect_uri,
        "enabled": provider.enabled,
        "token_in_redirect": provider.token_in_redirect,
        "endpoints": provider.endpoints,
        "created_at": rfc3339(provider.created_at),
        "updated_at": rfc3339(provider.updated_at),
    })
}

fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// What a provider is configured with, from the admin API's JSON or the console's form.
pub struct ProviderInput {
    pub kind: String,
    pub issuer: Option<String>,
    pub client_id: String,
    /// `None` keeps the stored secret (required for a new provider).
    pub client_secret: Option<Secret>,
    pub scopes: Option<Vec<String>>,
    pub redirect_uri: String,
    pub enabled: bool,
    pub token_in_redirect: bool,
    pub endpoints: ProviderEndpoints,
}

impl From<ProviderRequest> for ProviderInput {
    fn from(req: ProviderRequest) -> Self {
        Self {
            kind: req.kind,
            issuer: req.issuer,
            client_id: req.client_id,
            client_secret: req.client_secret,
            scopes: req.scopes,
            redirect_uri: req.redirect_uri,
            enabled: req.enabled,
            token_in_redirect: req.token_in_redirect,
            endpoints: req.endpoints,
        }
    }
}

/// Checks `input` and creates or replaces provider `name` of `tenant_id` (which must exist),
/// sealing its secret: the provider and whether it was created. A 400 names the field.
pub async fn save(
    state: &AppState,
    tenant_id: TenantId,
    name: String,
    input: ProviderInput,
) -> Result<(SocialProvider, bool), ApiError> {
    if !valid_provider_name(&name) {
        return Err(invalid(
            "name: 1 to 32 of a-z, 0-9 and -, and not callback, credentials, exchange, \
             magic-link or verify",
        ));
    }
    let kind = ProviderKind::parse(&input.kind)
        .ok_or_else(|| invalid("type: must be github, google or oidc"))?;
    match (kind, &input.issuer) {
        (ProviderKind::Oidc, None) => return Err(invalid("issuer: required for type oidc")),
        (ProviderKind::Github, Some(_)) => {
            return Err(invalid("issuer: only for types google and oidc"));
        }
        (_, Some(issuer)) => web_url("issuer", issuer)?,
        _ => {}
    }
    if input.client_id.trim().is_empty() || input.client_id.len() > 256 {
        return Err(invalid("client_id: 1 to 256 characters"));
    }
    web_url("redirect_uri", &input.redirect_uri)?;
    for (field, value) in [
        (
            "endpoints.authorization_endpoint",
            &input.endpoints.authorization_endpoint,
        ),
        ("endpoints.token_endpoint", &input.endpoints.token_endpoint),
        ("endpoints.api_url", &input.endpoints.api_url),
    ] {
        if let Some(url) = value {
            web_url(field, url)?;
        }
    }
    let scopes = input.scopes.unwrap_or_else(|| kind.default_scopes());
    if scopes.len() > 32
        || scopes
            .iter()
            .any(|s| s.is_empty() || s.len() > 128 || s.contains(char::is_whitespace))
    {
        return Err(invalid(
            "scopes: at most 32 scope names without spaces, each up to 128 characters",
        ));
    }
    let existing = state
        .store
        .find_social_provider(tenant_id, &name)
        .await
        .map_err(|e| store_failed(&e))?;
    let sealed_secret = match (&input.client_secret, &existing) {
        (Some(secret), _) if !secret.expose().is_empty() && secret.expose().len() <= 1024 => {
            SocialProvider::seal_secret(&state.cipher, tenant_id, &name, secret)
        }
        (Some(_), _) => return Err(invalid("client_secret: 1 to 1024 characters")),
        (None, Some(existing)) => existing.sealed_secret.clone(),
        (None, None) => return Err(invalid("client_secret: required for a new provider")),
    };
    let now = state.now();
    let provider = SocialProvider {
        tenant_id,
        name,
        kind,
        issuer: input.issuer,
        client_id: input.client_id,
        sealed_secret,
        scopes,
        redirect_uri: input.redirect_uri,
        enabled: input.enabled,
        token_in_redirect: input.token_in_redirect,
        endpoints: input.endpoints,
        created_at: existing.as_ref().map_or(now, |e| e.created_at),
        updated_at: now,
    };
    match state.store.save_social_provider(&provider).await {
        Ok(created) => Ok((provider, created)),
        Err(StoreError::NotFound) => Err(ApiError::not_found(
            "tenant_not_found",
            "no tenant with this id",
        )),
        Err(e) => Err(store_failed(&e)),
    }
}

/// `PUT /admin/tenants/{id}/providers/{name}`.
pub async fn put(
    State(state): State<AppState>,
    Path((tenant_raw, name)): Path<(String, String)>,
    JsonBody(req): JsonBody<ProviderRequest>,
) -> Result<Response, ApiError> {
    let tenant_id = tenant(&state, &tenant_raw).await?;
    let (provider, created) = save(&state, tenant_id, name, req.into()).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(provider_json(&provider))).into_response())
}

/// `GET /admin/tenants/{id}/providers`.
pub async fn list(
    State(state): State<AppState>,
    Path(tenant_raw): Path<String>,
) -> Result<Json<Vec<Value>>, ApiError> {
    let tenant_id = tenant(&state, &tenant_raw).await?;
    let providers = state
        .store
        .list_social_providers(tenant_id)
        .await
        .map_err(|e| store_failed(&e))?;
    Ok(Json(providers.iter().map(provider_json).collect()))
}

/// `GET /admin/tenants/{id}/providers/{name}`.
pub async fn get(
    State(state): State<AppState>,
    Path((tenant_raw, name)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let tenant_id = tenant(&state, &tenant_raw).await?;
    let provider = state
        .store
        .find_social_provider(tenant_id, &name)
        .await
        .map_err(|e| store_failed(&e))?
        .ok_or_else(not_found)?;
    Ok(Json(provider_json(&provider)))
}

/// `DELETE /admin/tenants/{id}/providers/{name}`.
pub async fn delete(
    State(state): State<AppState>,
    Path((tenant_raw, name)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let tenant_id = tenant(&state, &tenant_raw).await?;
    match state.store.delete_social_provider(tenant_id, &name).await {
        Ok(()) => Ok(StatusCode::NO_CONTENT),
        Err(StoreError::NotFound) => Err(not_found()),
        Err(e) => Err(store_failed(&e)),
    }
}
