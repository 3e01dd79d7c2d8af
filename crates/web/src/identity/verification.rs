//! Self-service verification: `GET /self-service/verification/{api,browser}` create a flow,
//! `POST /self-service/verification?flow=` takes an email address (and sends a code to it) or
//! the code. The right code marks the address verified; it stays verified until it changes.
//! Registration with an immediate session, and a changed address in settings, start a flow
//! with the code already sent ([`send_for_address`]).

use crate::audit;
use crate::courier;
use crate::error::ApiError;
use crate::extract::RequestMeta;
use crate::identity::code_flow::{self, Proven, Purpose, code_link};
use crate::identity::flow::{
    FlowQuery, InitQuery, Submission, answer_with_flow, new_flow, start_api_flow,
    start_browser_flow,
};
use crate::state::AppState;
use crate::webhooks::{self, WebhookEvent};
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use gatehouse_domain::audit::{AuditEvent, AuditEventType, AuditResult};
use gatehouse_domain::flow::{CodeChallenge, Flavor, Flow, FlowKind, FlowState, UiMessage};
use gatehouse_domain::identity::Identity;
use gatehouse_domain::throttle::ThrottleKind;
use serde_json::json;
use uuid::Uuid;

/// `GET /self-service/verification/api`.
pub async fn init_api(
    State(state): State<AppState>,
    Query(query): Query<InitQuery>,
) -> Result<Response, ApiError> {
    start_api_flow(&state, FlowKind::Verification, &query).await
}

/// `GET /self-service/verification/browser` (signed in or not: anyone may verify an address).
pub async fn init_browser(
    State(state): State<AppState>,
    Query(query): Query<InitQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    start_browser_flow(&state, FlowKind::Verification, &query, false, &headers).await
}

/// `POST /self-service/verification?flow=`.
pub async fn submit(
    State(state): State<AppState>,
    Query(query): Query<FlowQuery>,
    meta: RequestMeta,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    code_flow::submit(
        &state,
        Purpose::Verification,
        &query,
        &meta,
        &headers,
        &body,
    )
    .await
}

/// The right code came back: the address is verified.
pub(crate) async fn finish(
    state: &AppState,
    proven: Proven,
    submission: &Submission,
    meta: &RequestMeta,
) -> Result<Response, ApiError> {
    let Proven {
        mut flow,
        identity,
        address,
        hook,
    } = proven;
    let identity = mark_address_verified(state, identity.tenant_id, identity.id, &address)
        .await?
        .ok_or_else(|| {
            ApiError::not_found(
                "identity_not_found",
                "the account this code was for no longer exists",
            )
        })?;
    flow.form.messages.push(UiMessage::success(
        1_080_002,
        "You successfully verified your email address.",
    ));
    state.store.update_flow(&mut flow).await?;
    audit::record(
        state,
        AuditEvent::new(
            identity.tenant_id,
            AuditEventType::VerificationSucceeded,
            AuditResult::Success,
            state.now(),
        )
        .identity(identity.id)
        .actor("self")
        .client(meta.ip.as_deref(), meta.user_agent.as_deref())
        .details(json!({"flow_id": flow.id})),
    )
    .await;
    webhooks::after(
        state,
        WebhookEvent::VerificationAfter,
        &hook.identity(&identity),
    )
    .await;
    Ok(answer_with_flow(state, &flow, submission, StatusCode::OK))
}

/// Marks `address` of the identity verified (a no-op when it is verified already or is not one
/// of its verifiable addresses); the identity as it is now, `None` if it is gone.
pub async fn mark_address_verified(
    state: &AppState,
    tenant: gatehouse_domain::ids::TenantId,
    identity_id: Uuid,
    address: &str,
) -> Result<Option<Identity>, ApiError> {
    let Some(mut identity) = state.store.find_identity(tenant, identity_id).await? else {
        return Ok(None);
    };
    let already = identity
        .verifiable_addresses
        .iter()
        .any(|a| a.value == address && a.verified);
    if !already {
        let now = state.now();
        if identity.mark_verified(address, now) {
            identity.updated_at = now;
            let facts = state
                .schemas
                .validate(&identity.schema_id, &identity.traits)
                .map_err(|e| ApiError::bad_request("invalid_traits", e.to_string()))?;
            state
                .store
                .update_identity(&identity, &facts.identifiers)
                .await?;
        }
    }
    Ok(Some(identity))
}

/// Starts a verification flow for `address` of `identity` with the code sent at once (after a
/// registration that signs in, or an address change). `None` when the address has had its
/// hourly share of codes: the person can ask for one later from the verification page.
pub async fn send_for_address(
    state: &AppState,
    flavor: Flavor,
    identity: &Identity,
    address: &str,
    return_to: Option<String>,
) -> Result<Option<Flow>, ApiError> {
    let mut flow = new_flow(
        state,
        identity.tenant_id,
        FlowKind::Verification,
        flavor,
        &InitQuery::default(),
    )?;
    flow.return_to = return_to;
    if crate::throttle::code_budget(
        state,
        identity.tenant_id,
        ThrottleKind::VerificationCode,
        address,
        state.settings.flows.verification_codes_per_hour,
    )
    .await
    .is_err()
    {
        tracing::info!(user.id = %identity.id, "verification code not sent: the address's hourly budget is used up");
        return Ok(None);
    }
    let code = gatehouse_domain::flow::six_digit_code();
    let now = state.now();
    flow.challenge = Some(CodeChallenge::new(
        flow.id,
        address,
        Some(identity.id),
        &code,
        state.settings.flows.verification_code_lifespan,
        now,
    ));
    flow.state = FlowState::SentEmail;
    flow.form
        .values
        .insert("email".to_owned(), json!(address.to_owned()));
    flow.form.messages.push(UiMessage::info(
        1_080_003,
        format!("We sent a verification code to {address}. Enter it below."),
    ));
    state.store.insert_flow(&flow).await?;
    let link = code_link(state, &flow, &code);
    courier::queue(
        state,
        identity.tenant_id,
        address,
        courier::Template::VerificationCode { code, link },
    )
    .await?;
    Ok(Some(flow))
}

/// The `continue_with` item that points a client at a verification flow (Ory Kratos'
/// `show_verification_ui`).
pub fn show_verification_ui(state: &AppState, flow: &Flow, address: &str) -> serde_json::Value {
    json!({
        "action": "show_verification_ui",
        "flow": {
            "id": flow.id,
            "verifiable_address": address,
            "url": state.settings.url(&format!("/ui/verification?flow={}", flow.id)),
        },
    })
}

/// The identity's verifiable addresses that are not verified yet.
pub fn unverified_addresses(identity: &Identity) -> Vec<String> {
    identity
        .verifiable_addresses
        .iter()
        .filter(|a| !a.verified)
        .map(|a| a.value.clone())
        .collect()
}
