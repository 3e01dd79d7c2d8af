//! `POST /api/auth/credentials/signup/{app_id}` and `POST /api/auth/credentials/login/{app_id}`:
//! an app's backend signs its users up and in with email and password, and gets a JWT access
//! token for the user (`sub`, `tenant_id`, `email`, `aud` = the app id), signed with the
//! instance's ES256 key like every access token, so a resource server checks it against the
//! JWKS.
//!
//! The rules are the self-service ones, through the same code: the identity schema and password
//! policy, argon2id on the bounded pool, the login throttle per identifier and per address (the
//! end user's address when the backend sends [`super::END_USER_IP_HEADER`]), one answer and one
//! cost for an unknown address, a wrong password and an inactive account. Signup answers at once
//! with a token, so, like `session_after = "registration"` in self-service, it tells the caller
//! when an address already has an account (409); only the app's own backend, holding its key,
//! can ask.

use super::{Caller, authenticate};
use crate::audit;
use crate::error::ApiError;
use crate::extract::RequestMeta;
use crate::extract::json::parse;
use crate::identity::login::{PasswordCheck, check_password};
use crate::state::AppState;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gatehouse_domain::audit::{AuditEvent, AuditEventType, AuditResult};
use gatehouse_domain::identity::Identity;
use gatehouse_domain::identity::normalize_identifier;
use gatehouse_domain::identity::policy;
use gatehouse_domain::ids::TenantId;
use gatehouse_domain::keys::KeyAlg;
use gatehouse_domain::oauth::token::{ACCESS_TOKEN_TYP, AccessTokenClaims};
use gatehouse_domain::secret::{Secret, random_token};
use gatehouse_domain::store::StoreError;
use gatehouse_domain::throttle::normalize_ip;
use serde::Deserialize;
use serde_json::json;

/// `{email, password}` (no `Debug` of the password: [`Secret`] redacts it).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialsRequest {
    email: String,
    password: Secret,
}

impl CredentialsRequest {
    fn parse(body: &[u8]) -> Result<Self, ApiError> {
        let value: serde_json::Value = parse(body)?;
        if !value.is_object() {
            return Err(ApiError::bad_request(
                "invalid_body",
                "the body must be a JSON object {\"email\", \"password\"}",
            ));
        }
        let req: Self = serde_json::from_value(value).map_err(|e| {
            ApiError::bad_request("invalid_body", format!("invalid JSON body: {e}"))
        })?;
        if req.email.trim().is_empty() {
            return Err(ApiError::bad_request("invalid_body", "email: is required"));
        }
        if req.password.expose().is_empty() {
            return Err(ApiError::bad_request(
                "invalid_body",
                "password: is required",
            ));
        }
        Ok(req)
    }
}

pub async fn signup(
    State(state): State<AppState>,
    Path(app_id): Path<String>,
    meta: RequestMeta,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let caller = authenticate(&state, &headers, &app_id, meta).await?;
    let req = CredentialsRequest::parse(&body)?;
    let now = state.now();
    // The self-service budget of POSTs per address, counted for the end user.
    if let Some(ip) = &caller.meta.ip
        && let Err(wait) = state.self_service_limiter.hit(&normalize_ip(ip), now)
    {
        return Ok(
            crate::throttle::RetryAfter(std::time::Duration::from_secs(wait)).into_response(),
        );
    }
    let schema_id = caller
        .tenant
        .settings
        .identity_schema
        .clone()
        .unwrap_or_else(|| state.settings.identity.default_schema_id.clone());
    let traits = json!({ "email": req.email.trim() });
    let facts = state.schemas.validate(&schema_id, &traits).map_err(|e| {
        // A schema that requires more than an address cannot take a signup with only one.
        let id = if e.field.ends_with("email") {
            "invalid_email"
        } else {
            "invalid_traits"
        };
        ApiError::bad_request(id, e.to_string())
    })?;
    let identifiers: Vec<&str> = facts.identifiers.iter().map(String::as_str).collect();
    policy::check(
        state.passwords.policy(),
        req.password.expose(),
        &identifiers,
    )
    .map_err(|violation| ApiError::bad_request("invalid_password", violation.to_string()))?;
    let hash = state.passwords.hash(&req.password).await?;
    let identity = Identity::new(caller.tenant.id, &schema_id, traits, &facts, now);
    match state
        .store
        .insert_identity(&identity, &facts.identifiers, Some(&hash))
        .await
    {
        Ok(()) => {}
        Err(StoreError::Conflict { .. }) => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "identifier_taken",
                "an account with this email address already exists in this app",
            ));
        }
        Err(e) => return Err(e.into()),
    }
    tracing::info!(tenant.id = %caller.tenant.id, user.id = %identity.id, "identity signed up through the tenant API");
    record(
        &state,
        &caller,
        AuditEventType::RegistrationSucceeded,
        &identity,
    )
    .await;
    token_answer(&state, caller.tenant.id, &identity, StatusCode::CREATED)
}

pub async fn login(
    State(state): State<AppState>,
    Path(app_id): Path<String>,
    meta: RequestMeta,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let caller = authenticate(&state, &headers, &app_id, meta).await?;
    let req = CredentialsRequest::parse(&body)?;
    let tenant = caller.tenant.id;
    let identifier = normalize_identifier(req.email.trim());
    let identity = match check_password(
        &state,
        tenant,
        &identifier,
        &req.password,
        &caller.meta,
        "api_key",
    )
    .await?
    {
        PasswordCheck::Accepted(identity) => *identity,
        PasswordCheck::Throttled(retry_after) => return Ok(retry_after.into_response()),
        PasswordCheck::Refused => {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
                "the email address or the password is not correct",
            ));
        }
    };
    state
        .login_throttle
        .record_success(tenant, &identifier, state.now())
        .await;
    record(&state, &caller, AuditEventType::LoginSucceeded, &identity).await;
    token_answer(&state, caller.tenant.id, &identity, StatusCode::OK)
}

async fn record(state: &AppState, caller: &Caller, kind: AuditEventType, identity: &Identity) {
    audit::record(
        state,
        AuditEvent::new(caller.tenant.id, kind, AuditResult::Success, state.now())
            .identity(identity.id)
            .actor("api_key")
            .client(caller.meta.ip.as_deref(), caller.meta.user_agent.as_deref())
            .details(
                json!({"api_key_id": caller.key.id, "method": "password", "via": "tenant_api"}),
            ),
    )
    .await;
}

/// A JWT access token for `identity`, a user of app `tenant`: the token and its lifetime in
/// seconds.
pub fn app_access_token(
    state: &AppState,
    tenant: TenantId,
    identity: &Identity,
) -> Result<(String, i64), ApiError> {
    let now = state.now();
    let iat = now.unix_timestamp();
    let app = tenant.to_string();
    let lifespan = state.settings.access_token_lifespan;
    let claims = AccessTokenClaims {
        iss: state.settings.issuer.clone(),
        sub: identity.id.to_string(),
        aud: vec![app.clone()],
        client_id: app,
        scope: String::new(),
        iat,
        nbf: iat,
        exp: (now + lifespan).unix_timestamp(),
        jti: random_token(16),
        tenant_id: tenant,
        email: identity.traits["email"].as_str().map(str::to_owned),
    };
    let keys = state
        .keys
        .current()
        .map_err(|e| ApiError::internal("signing keys unavailable", &e))?;
    let access_token = keys
        .signing_key(KeyAlg::ES256)
        .map_err(|e| ApiError::internal("no ES256 key", &e))?
        .sign(ACCESS_TOKEN_TYP, &claims)
        .map_err(|e| ApiError::internal("cannot sign a token", &e))?;
    Ok((access_token, claims.exp - claims.iat))
}

/// `{access_token, token_type, expires_in, identity}`, never cached: the answer of every tenant
/// API call that signs a person in (signup, login; the exchange of a social or magic-link code;
/// an opened magic link).
pub fn token_answer(
    state: &AppState,
    tenant: TenantId,
    identity: &Identity,
    status: StatusCode,
) -> Result<Response, ApiError> {
    let (access_token, expires_in) = app_access_token(state, tenant, identity)?;
    let body = json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": expires_in,
        "identity": identity.public_view(),
    });
    let mut response = (status, Json(body)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    Ok(response)
}
