//! Magic links: `POST /api/auth/magic-link/{app_id}` `{email}` (the app's backend, with its API
//! key) finds or creates the app's user with that address and emails a link to
//! `GET /api/auth/verify/{app_id}?token=…`; opening it signs the person in and verifies the
//! address. The token is random (256 bits), stored as its SHA-256, single-use, and valid 15
//! minutes unless the app sets `magic_link.lifespan_minutes`.
//!
//! The answer to a request is the same whether or not the address had an account (202, and the
//! same work on both paths but the insert of a new identity). Requests are budgeted per address
//! ([`PER_ADDRESS_PER_HOUR`]) and per client address ([`PER_IP_PER_HOUR`], the end user's when
//! the backend sends it), across nodes.
//!
//! The opened link answers with the token as JSON, or, when the app configured a
//! `redirect_uri`, redirects there with a one-time `code` for its backend to exchange (the
//! token never travels in a URL).

use super::authenticate;
use crate::audit;
use crate::courier::{Template, queue};
use crate::error::ApiError;
use crate::extract::RequestMeta;
use crate::extract::json::parse;
use crate::identity::code_flow::plausible_address;
use crate::state::AppState;
use crate::throttle::code_budget;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gatehouse_domain::audit::{AuditEvent, AuditEventType, AuditResult};
use gatehouse_domain::identity::{Identity, IdentityState, normalize_identifier};
use gatehouse_domain::ids::TenantId;
use gatehouse_domain::magic_link::MagicLink;
use gatehouse_domain::secret::{Secret, TokenHash, random_token};
use gatehouse_domain::social::{EXCHANGE_CODE_LIFESPAN, ExchangeCode};
use gatehouse_domain::store::StoreError;
use gatehouse_domain::throttle::ThrottleKind;
use serde::Deserialize;
use serde_json::json;

/// Links sent to one address of an app per hour.
pub const PER_ADDRESS_PER_HOUR: u32 = 5;
/// Links asked for from one client address per hour, whatever the addresses.
pub const PER_IP_PER_HOUR: u32 = 30;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MagicLinkRequest {
    email: String,
}

/// `POST /api/auth/magic-link/{app_id}`.
pub async fn request(
    State(state): State<AppState>,
    Path(app_id): Path<String>,
    meta: RequestMeta,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let caller = authenticate(&state, &headers, &app_id, meta).await?;
    let tenant = &caller.tenant;
    if !tenant.settings.magic_link.enabled {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "magic_link_disabled",
            "magic links are not enabled for this app (settings.magic_link.enabled)",
        ));
    }
    let req: MagicLinkRequest = parse(&body)?;
    let address = normalize_identifier(&req.email);
    if !plausible_address(&address) || address.len() > 320 {
        return Err(ApiError::bad_request(
            "invalid_email",
            "email: must be an email address",
        ));
    }
    if let Some(ip) = &caller.meta.ip
        && let Err(wait) = code_budget(
            &state,
            tenant.id,
            ThrottleKind::MagicLinkIp,
            ip,
            PER_IP_PER_HOUR,
        )
        .await
    {
        return Ok(wait.into_response());
    }
    if let Err(wait) = code_budget(
        &state,
        tenant.id,
        ThrottleKind::MagicLink,
        &address,
        PER_ADDRESS_PER_HOUR,
    )
    .await
    {
        return Ok(wait.into_response());
    }
    let schema_id = tenant
        .settings
        .identity_schema
        .as_deref()
        .unwrap_or(&state.settings.identity.default_schema_id);
    let Some(identity) = find_or_create(&state, tenant.id, schema_id, &address).await? else {
        // The address is not one the app's schema takes, or the account is inactive: nothing
        // is sent, and the answer is the same.
        return Ok(sent());
    };
    let token = random_token(32);
    let now = state.now();
    let lifespan = tenant.settings.magic_link.lifespan();
    state
        .store
        .insert_magic_link(&MagicLink {
            token: TokenHash::of(&token),
            tenant_id: tenant.id,
            identity_id: identity.id,
            address: address.clone(),
            created_at: now,
            expires_at: now + lifespan,
        })
        .await?;
    let link = state
        .settings
        .url(&format!("/api/auth/verify/{}?token={token}", tenant.id));
    queue(
        &state,
        tenant.id,
        &address,
        Template::MagicLink {
            link,
            app: tenant.name.clone(),
            minutes: lifespan.whole_minutes(),
        },
    )
    .await?;
    audit::record(
        &state,
        AuditEvent::new(
            tenant.id,
            AuditEventType::MagicLinkSent,
            AuditResult::Success,
            now,
        )
        .identity(identity.id)
        .actor("api_key")
        .client(caller.meta.ip.as_deref(), caller.meta.user_agent.as_deref())
        .details(json!({"api_key_id": caller.key.id})),
    )
    .await;
    Ok(sent())
}

fn sent() -> Response {
    (StatusCode::ACCEPTED, axum::Json(json!({"status": "sent"}))).into_response()
}

/// The active identity with `address` in the app, created (address unverified, schema
/// `schema_id`) when there is none; `None` when it is inactive or the app's schema cannot take an
/// address alone.
async fn find_or_create(
    state: &AppState,
    tenant: TenantId,
    schema_id: &str,
    address: &str,
) -> Result<Option<Identity>, ApiError> {
    if let Some((identity, _)) = state
        .store
        .find_identity_by_identifier(tenant, address)
        .await?
    {
        return Ok(Some(identity).filter(|i| i.state == IdentityState::Active));
    }
    let traits = json!({ "email": address });
    let Ok(facts) = state.schemas.validate(schema_id, &traits) else {
        return Ok(None);
    };
    let identity = Identity::new(tenant, schema_id, traits, &facts, state.now());
    match state
        .store
        .insert_identity(&identity, &facts.identifiers, None)
        .await
    {
        Ok(()) => Ok(Some(identity)),
        // Created a moment ago by a concurrent request: that one.
        Err(StoreError::Conflict { .. }) => Ok(state
            .store
            .find_identity_by_identifier(tenant, address)
            .await?
            .map(|(identity, _)| identity)
            .filter(|i| i.state == IdentityState::Active)),
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, Deserialize)]
pub struct VerifyQuery {
    token: Option<Secret>,
}

fn invalid_link() -> ApiError {
    ApiError::bad_request(
        "invalid_link",
        "the link is invalid, expired or used: ask for a new one",
    )
}

/// `GET /api/auth/verify/{app_id}?token=…`: the opened link.
pub async fn verify(
    State(state): State<AppState>,
    Path(app_id): Path<String>,
    Query(query): Query<VerifyQuery>,
    meta: RequestMeta,
) -> Result<Response, ApiError> {
    let not_found = || ApiError::not_found("app_not_found", "no app with this id");
    let tenant_id = uuid::Uuid::try_parse(&app_id)
        .map(TenantId)
        .map_err(|_| not_found())?;
    let tenant = state
        .store
        .find_tenant(tenant_id)
        .await?
        .ok_or_else(not_found)?;
    let token = query.token.ok_or_else(invalid_link)?;
    let now = state.now();
    let link = state
        .store
        .take_magic_link(tenant.id, &TokenHash::of(token.expose()), now)
        .await?
        .ok_or_else(invalid_link)?;
    let mut identity = state
        .store
        .find_identity(tenant.id, link.identity_id)
        .await?
        .filter(|i| i.state == IdentityState::Active)
        .ok_or_else(invalid_link)?;
    // Opening the link proves the address.
    if identity.mark_verified(&link.address, now) {
        identity.updated_at = now;
        let identifiers = state
            .schemas
            .validate(&identity.schema_id, &identity.traits)
            .map(|facts| facts.identifiers)
            .map_err(|e| ApiError::bad_request("invalid_traits", e.to_string()))?;
        state.store.update_identity(&identity, &identifiers).await?;
    }
    audit::record(
        &state,
        AuditEvent::new(
            tenant.id,
            AuditEventType::LoginSucceeded,
            AuditResult::Success,
            now,
        )
        .identity(identity.id)
        .actor("self")
        .client(meta.ip.as_deref(), meta.user_agent.as_deref())
        .details(json!({"method": "magic_link"})),
    )
    .await;
    let Some(redirect_uri) = &tenant.settings.redirect_uri else {
        return super::credentials::token_answer(&state, tenant.id, &identity, StatusCode::OK);
    };
    let code = random_token(32);
    state
        .store
        .insert_exchange_code(&ExchangeCode {
            code: TokenHash::of(&code),
            tenant_id: tenant.id,
            identity_id: identity.id,
            method: "magic_link".to_owned(),
            created_at: now,
            expires_at: now + EXCHANGE_CODE_LIFESPAN,
        })
        .await?;
    let mut url = url::Url::parse(redirect_uri)
        .map_err(|_| ApiError::bad_request("invalid_configuration", "the app's redirect_uri"))?;
    url.query_pairs_mut().append_pair("code", &code);
    Ok((StatusCode::SEE_OTHER, [(header::LOCATION, url.to_string())]).into_response())
}
