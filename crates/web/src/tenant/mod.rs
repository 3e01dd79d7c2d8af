//! The tenant API on the public listener: an app's backend calls it with one of the app's API keys
//! as `Authorization: Bearer` (`/api/auth/.../{app_id}`; the app id is the tenant id).
//!
//! Who is asking is settled before anything else, in this order: no key, or a key we do not
//! know, is 401 (so strangers learn nothing about which app ids exist); an app id that names no
//! tenant is 404; a valid key of another app is 403.

pub mod credentials;
pub mod exchange;
pub mod magic_link;

use crate::error::ApiError;
use crate::extract::RequestMeta;
use crate::state::AppState;
use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::{get, post};
use gatehouse_domain::ids::TenantId;
use gatehouse_domain::secret::TokenHash;
use gatehouse_domain::tenant::{ApiKey, Tenant, looks_like_api_key};
use std::net::IpAddr;

/// The header an app's backend may use to say which address its user is at, so throttling
/// counts per person rather than per backend. Trusted only from a caller with a valid key.
pub const END_USER_IP_HEADER: &str = "gatehouse-forwarded-for";

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/auth/credentials/signup/{app_id}",
            post(credentials::signup),
        )
        .route(
            "/api/auth/credentials/login/{app_id}",
            post(credentials::login),
        )
        .route("/api/auth/exchange/{app_id}", post(exchange::exchange))
        .route("/api/auth/magic-link/{app_id}", post(magic_link::request))
        .route("/api/auth/verify/{app_id}", get(magic_link::verify))
}

/// An authenticated call of the tenant API.
#[derive(Debug)]
pub struct Caller {
    pub tenant: Tenant,
    pub key: ApiKey,
    /// The end user's address (from [`END_USER_IP_HEADER`]), else the backend's.
    pub meta: RequestMeta,
}

fn unauthorized() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "invalid_api_key",
        "a valid API key is required as a bearer token",
    )
}

/// Authenticates the API key in `headers` for the app `app_id`; records its use (at most once a
/// minute per key).
pub async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    app_id: &str,
    mut meta: RequestMeta,
) -> Result<Caller, ApiError> {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .filter(|token| looks_like_api_key(token))
        .ok_or_else(unauthorized)?;
    let key = state
        .store
        .find_api_key_by_hash(&TokenHash::of(presented))
        .await?
        .ok_or_else(unauthorized)?;
    let not_found = || ApiError::not_found("app_not_found", "no app with this id");
    let app_id = uuid::Uuid::try_parse(app_id).map_err(|_| not_found())?;
    let tenant = state
        .store
        .find_tenant(TenantId(app_id))
        .await?
        .ok_or_else(not_found)?;
    if key.tenant_id != tenant.id {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "api_key_of_another_app",
            "this API key belongs to another app",
        ));
    }
    let now = state.now();
    if key.use_is_news(now)
        && let Err(err) = state.store.touch_api_key(key.id, now).await
    {
        tracing::warn!(error = %err, api_key.id = %key.id, "cannot record an API key's use");
    }
    if let Some(ip) = headers
        .get(END_USER_IP_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<IpAddr>().ok())
    {
        meta.ip = Some(ip.to_canonical().to_string());
    }
    Ok(Caller { tenant, key, meta })
}
