//! `POST /admin/recovery/code`: support staff create a recovery code and link for an identity
//! (Ory Kratos' admin recovery code). The link opens a browser recovery flow waiting for the
//! code; staff hand both to the person over a channel they trust. Shown once, stored hashed.

use crate::audit::{self, Actor};
use crate::error::ApiError;
use crate::extract::json::JsonBody;
use crate::identity::flow::{InitQuery, new_flow};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use gatehouse_domain::audit::AuditEventType;
use gatehouse_domain::flow::{CodeChallenge, Flavor, FlowKind, FlowState};
use gatehouse_domain::ids::TenantId;
use gatehouse_domain::oauth::duration::parse_duration;
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeRequest {
    pub identity_id: Uuid,
    /// How long the code is accepted (`"15m"`, `"1h"`); the recovery code lifespan by default.
    pub expires_in: Option<String>,
}

/// The longest `expires_in` staff may ask for.
const MAX_EXPIRES_IN: time::Duration = time::Duration::days(7);

pub async fn create_code(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<CodeRequest>,
) -> Result<Response, ApiError> {
    let lifespan = match req.expires_in.as_deref() {
        Some(text) => {
            let d = parse_duration(text).map_err(|e| {
                ApiError::bad_request("invalid_request", format!("expires_in: {e}"))
            })?;
            if d <= time::Duration::ZERO || d > MAX_EXPIRES_IN {
                return Err(ApiError::bad_request(
                    "invalid_request",
                    "expires_in: must be positive and at most 7 days",
                ));
            }
            d
        }
        None => state.settings.flows.recovery_code_lifespan,
    };
    let identity = state
        .store
        .find_identity(TenantId::DEFAULT, req.identity_id)
        .await?
        .ok_or_else(|| ApiError::not_found("identity_not_found", "no such identity"))?;
    if !identity.is_active() {
        return Err(ApiError::bad_request(
            "identity_inactive",
            "the identity is inactive and cannot sign in; activate it first",
        ));
    }
    let now = state.now();
    let mut flow = new_flow(
        &state,
        identity.tenant_id,
        FlowKind::Recovery,
        Flavor::Browser,
        &InitQuery::default(),
    )?;
    flow.expires_at = flow.expires_at.max(now + lifespan);
    let address = identity
        .recovery_addresses
        .first()
        .map(|a| a.value.clone())
        .unwrap_or_default();
    let code = gatehouse_domain::flow::six_digit_code();
    flow.challenge = Some(CodeChallenge::new(
        flow.id,
        &address,
        Some(identity.id),
        &code,
        lifespan,
        now,
    ));
    flow.state = FlowState::SentEmail;
    state.store.insert_flow(&flow).await?;
    audit::identity_event(
        &state,
        AuditEventType::RecoveryCodeCreated,
        identity.id,
        Actor::Admin,
        json!({"flow_id": flow.id, "expires_in_seconds": lifespan.whole_seconds()}),
    )
    .await;
    let body = json!({
        "recovery_link": state.settings.url(&format!("/ui/recovery?flow={}", flow.id)),
        "recovery_code": code,
        "expires_at": crate::identity::rfc3339(now + lifespan),
    });
    Ok((StatusCode::CREATED, Json(body)).into_response())
}
