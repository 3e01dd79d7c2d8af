//! Self-service recovery: `GET /self-service/recovery/{api,browser}` create a flow,
//! `POST /self-service/recovery?flow=` takes an email address (a code goes there if an active
//! identity has it as a recovery address; the answer is the same either way) or the code. The
//! right code (15 minutes, single use, 5 attempts) signs the person in with a fresh session and
//! leads to a settings flow where they set a new password; changing the password there ends
//! every other session of the identity.

use crate::audit;
use crate::error::ApiError;
use crate::extract::RequestMeta;
use crate::identity::code_flow::{self, Proven, Purpose};
use crate::identity::flow::{
    FlowQuery, InitQuery, Submission, see_other, start_api_flow, start_browser_flow,
};
use crate::identity::session;
use crate::identity::settings;
use crate::identity::verification::mark_address_verified;
use crate::state::AppState;
use crate::webhooks::{self, WebhookEvent};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::http::header::SET_COOKIE;
use axum::response::{IntoResponse, Response};
use gatehouse_domain::audit::{AuditEvent, AuditEventType, AuditResult};
use gatehouse_domain::flow::{Flavor, FlowKind, UiMessage};
use gatehouse_domain::session::AuthenticationMethod;
use serde_json::json;

/// `GET /self-service/recovery/api`.
pub async fn init_api(
    State(state): State<AppState>,
    Query(query): Query<InitQuery>,
) -> Result<Response, ApiError> {
    start_api_flow(&state, FlowKind::Recovery, &query).await
}

/// `GET /self-service/recovery/browser`: a signed-in browser goes on to `return_to` (it can
/// change its password in settings).
pub async fn init_browser(
    State(state): State<AppState>,
    Query(query): Query<InitQuery>,
    session::MaybeSession(current): session::MaybeSession,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    start_browser_flow(
        &state,
        FlowKind::Recovery,
        &query,
        current.is_some(),
        &headers,
    )
    .await
}

/// `POST /self-service/recovery?flow=`.
pub async fn submit(
    State(state): State<AppState>,
    Query(query): Query<FlowQuery>,
    meta: RequestMeta,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    code_flow::submit(&state, Purpose::Recovery, &query, &meta, &headers, &body).await
}

/// The right code came back: a new session and a settings flow for the new password.
pub(crate) async fn finish(
    state: &AppState,
    proven: Proven,
    submission: &Submission,
    meta: &RequestMeta,
) -> Result<Response, ApiError> {
    let Proven {
        flow,
        identity,
        address,
        hook,
    } = proven;
    // The code reached the address: when it is also a verifiable address, it is verified now.
    let identity = mark_address_verified(state, identity.tenant_id, identity.id, &address)
        .await?
        .ok_or_else(|| {
            ApiError::bad_request(
                "identity_unavailable",
                "the account this code was for no longer exists",
            )
        })?;
    let now = state.now();
    let methods = vec![AuthenticationMethod {
        method: "code_recovery".to_owned(),
        completed_at: now,
    }];
    let (session, token) = session::start_session(state, &identity, methods, meta).await?;
    let mut next =
        settings::new_settings_flow(state, flow.flavor, &identity, flow.return_to.clone())?;
    next.form.messages.push(UiMessage::info(
        1_060_001,
        "You successfully recovered your account. Please set a new password now.",
    ));
    state.store.insert_flow(&next).await?;
    audit::record(
        state,
        AuditEvent::new(
            identity.tenant_id,
            AuditEventType::RecoverySucceeded,
            AuditResult::Success,
            now,
        )
        .identity(identity.id)
        .actor("self")
        .client(meta.ip.as_deref(), meta.user_agent.as_deref())
        .details(json!({"flow_id": flow.id, "session_id": session.id})),
    )
    .await;
    webhooks::after(state, WebhookEvent::RecoveryAfter, &hook.session(&session)).await;
    let settings_url = state
        .settings
        .url(&format!("/ui/settings?flow={}", next.id));
    let show_settings = json!({
        "action": "show_settings_ui",
        "flow": {"id": next.id, "url": settings_url},
    });
    let session_json =
        serde_json::to_value(session::SessionView::new(&session, Some(&identity), now))
            .unwrap_or_default();
    match flow.flavor {
        Flavor::Api => Ok(Json(json!({
            "session_token": token.expose(),
            "session": session_json,
            "continue_with": [
                {"action": "set_ory_session_token", "ory_session_token": token.expose()},
                show_settings,
            ],
        }))
        .into_response()),
        Flavor::Browser => {
            let mut response = if submission.is_form {
                see_other(&settings_url)
            } else {
                Json(json!({
                    "session": session_json,
                    "continue_with": [
                        show_settings,
                        {"action": "redirect_browser_to", "redirect_browser_to": settings_url},
                    ],
                }))
                .into_response()
            };
            response.headers_mut().append(
                SET_COOKIE,
                session::session_cookie(state, session.tenant_id, &token),
            );
            Ok(response)
        }
    }
}
