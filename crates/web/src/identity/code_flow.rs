//! What recovery and verification share: a person names an email address, a six-digit code goes
//! there (with a link to the page that takes it), and the code comes back. The answer to the
//! address is the same whether an identity has it or not: an unknown address gets no message,
//! and its flow rejects every code exactly as a wrong one would be rejected.

use crate::audit;
use crate::courier::{self, Template};
use crate::error::ApiError;
use crate::extract::RequestMeta;
use crate::identity::flow::{
    FlowQuery, Submission, answer_with_flow, begin_submission, concurrent, error_response, reject,
};
use crate::state::AppState;
use crate::throttle::{RetryAfter, code_budget};
use crate::webhooks::{self, WebhookContext, WebhookEvent};
use axum::http::HeaderMap;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use gatehouse_domain::audit::{AuditEvent, AuditEventType, AuditResult};
use gatehouse_domain::flow::{CodeChallenge, Flavor, Flow, FlowKind, FlowState, UiMessage};
use gatehouse_domain::identity::Identity;
use gatehouse_domain::identity::normalize_identifier;
use gatehouse_domain::identity::store::AddressKind;
use gatehouse_domain::throttle::ThrottleKind;
use serde_json::json;

/// Which of the two flows a code serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Recovery,
    Verification,
}

impl Purpose {
    pub fn kind(self) -> FlowKind {
        match self {
            Self::Recovery => FlowKind::Recovery,
            Self::Verification => FlowKind::Verification,
        }
    }

    fn address_kind(self) -> AddressKind {
        match self {
            Self::Recovery => AddressKind::Recovery,
            Self::Verification => AddressKind::Verifiable,
        }
    }

    fn throttle_kind(self) -> ThrottleKind {
        match self {
            Self::Recovery => ThrottleKind::RecoveryCode,
            Self::Verification => ThrottleKind::VerificationCode,
        }
    }

    fn lifespan(self, state: &AppState) -> time::Duration {
        match self {
            Self::Recovery => state.settings.flows.recovery_code_lifespan,
            Self::Verification => state.settings.flows.verification_code_lifespan,
        }
    }

    fn per_hour(self, state: &AppState) -> u32 {
        match self {
            Self::Recovery => state.settings.flows.recovery_codes_per_hour,
            Self::Verification => state.settings.flows.verification_codes_per_hour,
        }
    }

    fn template(self, code: String, link: String) -> Template {
        match self {
            Self::Recovery => Template::RecoveryCode { code, link },
            Self::Verification => Template::VerificationCode { code, link },
        }
    }

    fn sent_message(self) -> UiMessage {
        match self {
            Self::Recovery => UiMessage::info(
                1_060_003,
                "An email containing a recovery code has been sent to the email address you provided. If you have not received an email, check the spelling of the address and make sure to use the address you registered with.",
            ),
            Self::Verification => UiMessage::info(
                1_080_003,
                "An email containing a verification code has been sent to the email address you provided. If you have not received an email, check the spelling of the address and try again.",
            ),
        }
    }

    fn event(self) -> WebhookEvent {
        match self {
            Self::Recovery => WebhookEvent::RecoveryAfter,
            Self::Verification => WebhookEvent::VerificationAfter,
        }
    }

    fn requested_event(self) -> AuditEventType {
        match self {
            Self::Recovery => AuditEventType::RecoveryRequested,
            Self::Verification => AuditEventType::VerificationRequested,
        }
    }
}

/// The link in the message: the flow's page with the code filled in. Only browser flows have
/// a page; an API client's person types the code into the client.
pub fn code_link(state: &AppState, flow: &Flow, code: &str) -> String {
    match flow.flavor {
        Flavor::Browser => state.settings.url(&format!(
            "{}?flow={}&code={code}",
            crate::identity::flow::page_path(flow.kind),
            flow.id
        )),
        Flavor::Api => String::new(),
    }
}

/// A syntactically plausible email address (the schema checks traits more strictly; this only
/// keeps obvious typos from looking like a sent code).
pub fn plausible_address(address: &str) -> bool {
    match address.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !address.chars().any(char::is_whitespace)
        }
        None => false,
    }
}

/// The form's `email` was submitted: sends (or sends again) a code to it.
async fn send_code(
    state: &AppState,
    mut flow: Flow,
    submission: &Submission,
    meta: &RequestMeta,
    purpose: Purpose,
) -> Result<Response, ApiError> {
    let tenant = flow.tenant_id;
    let typed = submission.text("email").unwrap_or("").trim().to_owned();
    flow.form.clear_messages();
    flow.form.values.insert("email".to_owned(), json!(typed));
    if typed.is_empty() {
        flow.form.field_error("email", UiMessage::required("Email"));
        return reject(state, &mut flow, submission).await;
    }
    if !plausible_address(&typed) {
        flow.form.field_error(
            "email",
            UiMessage::error(
                4_000_001,
                format!("{typed:?} is not a valid email address."),
            ),
        );
        return reject(state, &mut flow, submission).await;
    }
    let address = normalize_identifier(&typed);
    if let Err(retry_after) = code_budget(
        state,
        tenant,
        purpose.throttle_kind(),
        &address,
        purpose.per_hour(state),
    )
    .await
    {
        return Ok(too_many_codes(state, &mut flow, submission, retry_after).await);
    }
    let identity = state
        .store
        .find_identity_by_address(tenant, purpose.address_kind(), &address)
        .await?
        // An inactive identity cannot be recovered: it is treated as unknown.
        .filter(|identity| purpose == Purpose::Verification || identity.is_active());
    let code = gatehouse_domain::flow::six_digit_code();
    let now = state.now();
    flow.challenge = Some(CodeChallenge::new(
        flow.id,
        &address,
        identity.as_ref().map(|i| i.id),
        &code,
        purpose.lifespan(state),
        now,
    ));
    flow.state = FlowState::SentEmail;
    flow.form.messages.push(purpose.sent_message());
    state
        .store
        .update_flow(&mut flow)
        .await
        .map_err(concurrent)?;
    let event = AuditEvent::new(tenant, purpose.requested_event(), AuditResult::Success, now)
        .actor("self")
        .client(meta.ip.as_deref(), meta.user_agent.as_deref())
        .details(json!({"flow_id": flow.id, "address_known": identity.is_some()}));
    audit::record(
        state,
        match &identity {
            Some(identity) => event.identity(identity.id),
            None => event,
        },
    )
    .await;
    if identity.is_some() {
        // Rendered and written after the answer: a known address must not take longer to answer
        // than an unknown one (the outbox write is the only work the two do not share).
        let message = purpose.template(code.clone(), code_link(state, &flow, &code));
        let (state, address) = (state.clone(), address.clone());
        tokio::spawn(async move {
            if let Err(err) = courier::queue(&state, tenant, &address, message).await {
                tracing::error!(
                    error.id = err.id,
                    "a recovery or verification code could not be queued"
                );
            }
        });
    }
    Ok(answer_with_flow(state, &flow, submission, StatusCode::OK))
}

/// 429 with `Retry-After`: JSON for API clients; for a form, the page with the message.
async fn too_many_codes(
    state: &AppState,
    flow: &mut Flow,
    submission: &Submission,
    retry_after: RetryAfter,
) -> Response {
    if !submission.is_form {
        return retry_after.into_response();
    }
    let minutes = retry_after.0.as_secs().div_ceil(60).max(1);
    flow.form.messages.push(UiMessage::error(
        4_000_010,
        format!("Too many codes were sent to this address. Try again in {minutes} minute(s)."),
    ));
    match state.store.update_flow(flow).await {
        Ok(()) => answer_with_flow(state, flow, submission, StatusCode::TOO_MANY_REQUESTS),
        Err(err) => crate::identity::flow::error_response(true, err.into()),
    }
}

/// `POST /self-service/{recovery,verification}?flow=`: `email` alone (re)sends a code, `code`
/// enters one; a right code that the blocking hooks let through finishes the flow (recovery:
/// a session and a settings flow; verification: the address verified).
pub async fn submit(
    state: &AppState,
    purpose: Purpose,
    query: &FlowQuery,
    meta: &RequestMeta,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    let (flow, submission) =
        match begin_submission(state, purpose.kind(), query, headers, body).await {
            Ok(found) => found,
            Err(response) => return response,
        };
    if let Some(err) = unsupported_method(&submission) {
        return error_response(submission.is_form, err);
    }
    let result = if wants_new_code(&flow, &submission) {
        send_code(state, flow, &submission, meta, purpose).await
    } else {
        match prove(state, flow, &submission, meta, purpose).await {
            Ok(Ok(proven)) => match purpose {
                Purpose::Recovery => {
                    crate::identity::recovery::finish(state, proven, &submission, meta).await
                }
                Purpose::Verification => {
                    crate::identity::verification::finish(state, proven, &submission, meta).await
                }
            },
            Ok(Err(refused)) => Ok(refused),
            Err(err) => Err(err),
        }
    };
    result.unwrap_or_else(|err| error_response(submission.is_form, err))
}

/// A right code that the blocking hooks let through.
pub struct Proven {
    /// The flow, done.
    pub flow: Flow,
    /// The identity as it was when the code came back.
    pub identity: Identity,
    /// The address the code went to.
    pub address: String,
    /// The hooks' context (flow, identity, client), for the async hooks once finished.
    pub hook: WebhookContext,
}

/// Checks the code, finds the identity it was for (active, for recovery) and runs the event's
/// blocking hooks; a wrong code or a veto gives the answer to send (`Ok(Err(..))`). The code is
/// used up even when a hook refuses.
async fn prove(
    state: &AppState,
    flow: Flow,
    submission: &Submission,
    meta: &RequestMeta,
    purpose: Purpose,
) -> Result<Result<Proven, Response>, ApiError> {
    let (mut flow, identity_id, address) =
        match enter_code(state, flow, submission, purpose).await? {
            Entered::Refused(response) => return Ok(Err(response)),
            Entered::Accepted {
                flow,
                identity_id,
                address,
            } => (*flow, identity_id, address),
        };
    let identity = state
        .store
        .find_identity(flow.tenant_id, identity_id)
        .await?
        .filter(|identity| purpose == Purpose::Verification || identity.is_active())
        .ok_or_else(|| {
            ApiError::bad_request(
                "identity_unavailable",
                "the account this code was for no longer exists or can no longer sign in",
            )
        })?;
    let hook = WebhookContext::for_flow(state, &flow, meta).identity(&identity);
    if let Err(veto) = webhooks::before(state, purpose.event(), &hook).await {
        veto.apply_to(&mut flow);
        return Ok(Err(reject(state, &mut flow, submission).await?));
    }
    Ok(Ok(Proven {
        flow,
        identity,
        address,
        hook,
    }))
}

/// What entering a code gave.
enum Entered {
    /// The right code: the flow is marked done (stored), and the caller finishes it.
    Accepted {
        flow: Box<Flow>,
        identity_id: uuid::Uuid,
        address: String,
    },
    /// Wrong, expired or used up: the answer (the flow with its message) is ready.
    Refused(Response),
}

/// The form's `code` was submitted: checks it against the flow's challenge. Exactly one of two
/// concurrent right codes is accepted (the flow is compare-and-swapped).
async fn enter_code(
    state: &AppState,
    mut flow: Flow,
    submission: &Submission,
    purpose: Purpose,
) -> Result<Entered, ApiError> {
    flow.form.clear_messages();
    let code = submission.text("code").unwrap_or("").trim().to_owned();
    let label = match purpose {
        Purpose::Recovery => "Recovery code",
        Purpose::Verification => "Verification code",
    };
    if code.is_empty() {
        flow.form.field_error("code", UiMessage::required(label));
        return Ok(Entered::Refused(
            reject(state, &mut flow, submission).await?,
        ));
    }
    let Some(mut challenge) = flow.challenge.take() else {
        return Err(ApiError::bad_request(
            "flow_state",
            "no code was sent in this flow yet; submit an email address first",
        ));
    };
    let check = challenge.check(flow.id, &code, state.now());
    flow.challenge = Some(challenge);
    use gatehouse_domain::flow::ChallengeCheck;
    match check {
        ChallengeCheck::Accepted {
            identity_id,
            address,
        } => {
            flow.state = FlowState::PassedChallenge;
            state
                .store
                .update_flow(&mut flow)
                .await
                .map_err(concurrent)?;
            Ok(Entered::Accepted {
                flow: Box::new(flow),
                identity_id,
                address,
            })
        }
        ChallengeCheck::Rejected => {
            flow.form.field_error("code", UiMessage::code_invalid());
            Ok(Entered::Refused(
                refuse(state, &mut flow, submission).await?,
            ))
        }
        ChallengeCheck::Exhausted => {
            flow.form.messages.push(UiMessage::too_many_code_attempts());
            Ok(Entered::Refused(
                refuse(state, &mut flow, submission).await?,
            ))
        }
        ChallengeCheck::Expired => {
            flow.form.messages.push(UiMessage::error(
                4_060_005,
                "The code has expired. Ask for a new one.",
            ));
            Ok(Entered::Refused(
                refuse(state, &mut flow, submission).await?,
            ))
        }
    }
}

async fn refuse(
    state: &AppState,
    flow: &mut Flow,
    submission: &Submission,
) -> Result<Response, ApiError> {
    state.store.update_flow(flow).await.map_err(concurrent)?;
    Ok(answer_with_flow(
        state,
        flow,
        submission,
        StatusCode::BAD_REQUEST,
    ))
}

/// Which step a submission to a recovery or verification flow is: `email` alone (re)sends a
/// code, `code` enters one.
fn wants_new_code(flow: &Flow, submission: &Submission) -> bool {
    match flow.state {
        FlowState::ChooseMethod => true,
        _ => {
            submission.text("code").is_none_or(str::is_empty) && submission.text("email").is_some()
        }
    }
}

/// The method a submission names, when it names one other than `code`.
fn unsupported_method(submission: &Submission) -> Option<ApiError> {
    submission
        .text("method")
        .filter(|m| *m != "code")
        .map(|method| {
            ApiError::bad_request(
                "unsupported_method",
                format!("method {method:?} is not available here; use \"code\""),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::plausible_address;

    #[test]
    fn only_plausible_addresses_get_a_code() {
        assert!(plausible_address("a@example.com"));
        assert!(!plausible_address("a.example.com"));
        assert!(!plausible_address("@example.com"));
        assert!(!plausible_address("a@"));
        assert!(!plausible_address("a b@example.com"));
        assert!(!plausible_address("a@b@example.com"));
    }
}
