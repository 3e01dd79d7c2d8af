//! Self-service registration: `GET /self-service/registration/{api,browser}` create a flow,
//! `POST /self-service/registration?flow=` submits it.
//!
//! Verification first (the default): the form's traits and password are checked, the password is
//! hashed, and a six-digit code goes to the address; the account is created, already verified,
//! with its first session when the code comes back. An address that belongs to an account gets a
//! "someone tried to register" message instead, and the answer to the form is exactly the same,
//! so registration does not reveal who has an account. With `session_after_registration` the
//! account and its session are created at once, and a taken address is reported.

use crate::audit;
use crate::courier::{self, Template};
use crate::error::ApiError;
use crate::extract::RequestMeta;
use crate::identity::flow::{
    FlowQuery, InitQuery, Submission, answer_with_flow, begin_submission, check_traits, concurrent,
    error_response, reject, sentence, start_api_flow, start_browser_flow,
};
use crate::identity::login::signed_in;
use crate::identity::session::{self, MaybeSession};
use crate::state::AppState;
use crate::webhooks::{self, WebhookContext, WebhookEvent};
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use gatehouse_domain::audit::{AuditEvent, AuditEventType, AuditResult};
use gatehouse_domain::flow::{
    CodeCheck, Flow, FlowKind, FlowState, PendingAccount, PendingRegistration, UiMessage,
    code_hash, six_digit_code,
};
use gatehouse_domain::identity::Identity;
use gatehouse_domain::identity::password::PasswordHash;
use gatehouse_domain::identity::schema::TraitFacts;
use gatehouse_domain::ids::TenantId;
use gatehouse_domain::secret::Secret;
use gatehouse_domain::session::AuthenticationMethod;
use gatehouse_domain::store::StoreError;
use serde_json::{Value, json};
use time::OffsetDateTime;

/// `GET /self-service/registration/api`.
pub async fn init_api(
    State(state): State<AppState>,
    Query(query): Query<InitQuery>,
) -> Result<Response, ApiError> {
    start_api_flow(&state, FlowKind::Registration, &query).await
}

/// `GET /self-service/registration/browser`.
pub async fn init_browser(
    State(state): State<AppState>,
    Query(query): Query<InitQuery>,
    MaybeSession(current): MaybeSession,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    start_browser_flow(
        &state,
        FlowKind::Registration,
        &query,
        current.is_some(),
        &headers,
    )
    .await
}

/// `POST /self-service/registration?flow=`.
pub async fn submit(
    State(state): State<AppState>,
    Query(query): Query<FlowQuery>,
    meta: RequestMeta,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (flow, submission) =
        match begin_submission(&state, FlowKind::Registration, &query, &headers, &body).await {
            Ok(found) => found,
            Err(response) => return response,
        };
    let method = submission.text("method").unwrap_or(match flow.state {
        FlowState::SentEmail => "code",
        _ => "password",
    });
    let result = match (flow.state, method) {
        (FlowState::ChooseMethod, "password") => {
            submit_form(&state, flow, &submission, &meta).await
        }
        (FlowState::SentEmail, "code") => submit_code(&state, flow, &submission, &meta).await,
        _ => Err(ApiError::bad_request(
            "unsupported_method",
            format!("method {method:?} does not apply to this registration flow now"),
        )),
    };
    result.unwrap_or_else(|err| error_response(submission.is_form, err))
}

/// Checks traits and password; on errors, the flow carries them next to their fields.
struct CheckedForm {
    traits: Value,
    facts: TraitFacts,
    address: String,
}

fn check_form(state: &AppState, flow: &mut Flow, submission: &Submission) -> Option<CheckedForm> {
    flow.form.clear_messages();
    flow.form.values.clear();
    let checked = check_traits(state, flow, submission);
    let password = submission.text("password").unwrap_or("");
    let identifiers: Vec<&str> = checked
        .as_ref()
        .map(|(_, f)| f.identifiers.iter().map(String::as_str).collect())
        .unwrap_or_default();
    if password.is_empty() {
        flow.form
            .field_error("password", UiMessage::required("Password"));
    } else if let Err(violation) =
        gatehouse_domain::identity::policy::check(state.passwords.policy(), password, &identifiers)
    {
        flow.form.field_error(
            "password",
            UiMessage::error(4_000_005, sentence(&violation.to_string())),
        );
    }
    let (traits, facts) = checked?;
    let address = facts
        .verifiable
        .first()
        .or(facts.identifiers.first())
        .cloned();
    let Some(address) = address else {
        flow.form.messages.push(UiMessage::error(
            4_000_001,
            "the identity schema marks no trait as an identifier",
        ));
        return None;
    };
    if flow.form.has_errors() {
        return None;
    }
    Some(CheckedForm {
        traits,
        facts,
        address,
    })
}

async fn submit_form(
    state: &AppState,
    mut flow: Flow,
    submission: &Submission,
    meta: &RequestMeta,
) -> Result<Response, ApiError> {
    let Some(form) = check_form(state, &mut flow, submission) else {
        return reject(state, &mut flow, submission).await;
    };
    let tenant = flow.tenant_id;
    let now = state.now();
    // Hashed whether or not the address is taken: both answers cost the same.
    let password = Secret::new(submission.text("password").unwrap_or(""));
    let hash = state.passwords.hash(&password).await?;
    let identifier = form.facts.identifiers.first().cloned().unwrap_or_default();
    let taken = state
        .store
        .find_identity_by_identifier(tenant, &identifier)
        .await?
        .is_some();
    let schema_id = crate::identity::tenant::flow_schema(state, &flow).to_owned();

    if state.settings.flows.session_after_registration {
        if taken {
            flow.form.field_error(
                &first_identifier_field(&form),
                UiMessage::identifier_taken(),
            );
            return reject(state, &mut flow, submission).await;
        }
        flow.state = FlowState::PassedChallenge;
        state.store.update_flow(&mut flow).await?;
        let account = PendingAccount {
            schema_id,
            traits: form.traits,
            password_hash: hash.as_str().to_owned(),
        };
        return create_account(state, flow, submission, meta, account, &form.address, false).await;
    }

    let code = six_digit_code();
    flow.pending = Some(PendingRegistration {
        address: form.address.clone(),
        account: (!taken).then(|| PendingAccount {
            schema_id,
            traits: form.traits.clone(),
            password_hash: hash.as_str().to_owned(),
        }),
        code_hash: (!taken).then(|| code_hash(flow.id, &code)),
        attempts: 0,
    });
    flow.state = FlowState::SentEmail;
    flow.form.messages.push(UiMessage::code_sent(&form.address));
    state.store.update_flow(&mut flow).await?;
    let template = if taken {
        Template::RegistrationExists
    } else {
        Template::RegistrationCode { code }
    };
    courier::queue(state, tenant, &form.address, template).await?;
    audit::record(
        state,
        AuditEvent::new(
            tenant,
            AuditEventType::RegistrationAttempted,
            AuditResult::Success,
            now,
        )
        .actor("self")
        .client(meta.ip.as_deref(), meta.user_agent.as_deref())
        .details(json!({"flow_id": flow.id})),
    )
    .await;
    Ok(answer_with_flow(state, &flow, submission, StatusCode::OK))
}

fn first_identifier_field(form: &CheckedForm) -> String {
    // The schema's identifier trait is the one whose normalized value is the first identifier.
    if let Value::Object(map) = &form.traits {
        for (name, value) in map {
            if value
                .as_str()
                .map(gatehouse_domain::identity::normalize_identifier)
                == form.facts.identifiers.first().cloned()
            {
                return format!("traits.{name}");
            }
        }
    }
    "traits.email".to_owned()
}

async fn submit_code(
    state: &AppState,
    mut flow: Flow,
    submission: &Submission,
    meta: &RequestMeta,
) -> Result<Response, ApiError> {
    flow.form.clear_messages();
    let code = submission.text("code").unwrap_or("").trim().to_owned();
    if code.is_empty() {
        flow.form
            .field_error("code", UiMessage::required("Verification code"));
        return reject(state, &mut flow, submission).await;
    }
    let Some(mut pending) = flow.pending.take() else {
        return Err(ApiError::bad_request(
            "flow_state",
            "this flow has no pending registration",
        ));
    };
    let check = pending.check_code(flow.id, &code);
    let address = pending.address.clone();
    flow.pending = Some(pending);
    match check {
        CodeCheck::Accepted(account) => {
            // The compare-and-swap on the flow lets exactly one of two concurrent correct codes
            // through.
            flow.state = FlowState::PassedChallenge;
            state
                .store
                .update_flow(&mut flow)
                .await
                .map_err(concurrent)?;
            create_account(state, flow, submission, meta, account, &address, true).await
        }
        CodeCheck::Rejected => {
            flow.form.field_error("code", UiMessage::code_invalid());
            state
                .store
                .update_flow(&mut flow)
                .await
                .map_err(concurrent)?;
            Ok(answer_with_flow(
                state,
                &flow,
                submission,
                StatusCode::BAD_REQUEST,
            ))
        }
        CodeCheck::Exhausted => {
            flow.form.messages.push(UiMessage::too_many_code_attempts());
            state
                .store
                .update_flow(&mut flow)
                .await
                .map_err(concurrent)?;
            Ok(answer_with_flow(
                state,
                &flow,
                submission,
                StatusCode::BAD_REQUEST,
            ))
        }
    }
}

/// Creates the account from a checked form (and, after a code, with its address verified), then
/// its first session.
async fn create_account(
    state: &AppState,
    flow: Flow,
    submission: &Submission,
    meta: &RequestMeta,
    account: PendingAccount,
    address: &str,
    address_verified: bool,
) -> Result<Response, ApiError> {
    let tenant = flow.tenant_id;
    let now = state.now();
    let facts = state
        .schemas
        .validate(&account.schema_id, &account.traits)
        .map_err(|e| ApiError::bad_request("invalid_traits", e.to_string()))?;
    let hash = PasswordHash::parse(&account.password_hash).map_err(|_| {
        ApiError::bad_request("invalid_flow", "the pending registration is unreadable")
    })?;
    let identity = new_identity(tenant, account, &facts, address, address_verified, now);
    let hook = WebhookContext::for_flow(state, &flow, meta).identity(&identity);
    if let Err(veto) = webhooks::before(state, WebhookEvent::RegistrationAfter, &hook).await {
        // The form can be sent again (with other traits, say); a new code goes out then.
        let mut flow = flow;
        flow.state = FlowState::ChooseMethod;
        flow.pending = None;
        flow.form.clear_messages();
        veto.apply_to(&mut flow);
        return reject(state, &mut flow, submission).await;
    }
    match state
        .store
        .insert_identity(&identity, &facts.identifiers, Some(&hash))
        .await
    {
        Ok(()) => {}
        Err(StoreError::Conflict { .. }) => {
            let mut flow = flow;
            flow.form.messages.push(UiMessage::identifier_taken());
            return Ok(answer_with_flow(
                state,
                &flow,
                submission,
                StatusCode::BAD_REQUEST,
            ));
        }
        Err(other) => return Err(other.into()),
    }
    let method = if address_verified { "code" } else { "password" };
    let methods = vec![AuthenticationMethod {
        method: method.to_owned(),
        completed_at: now,
    }];
    let (session, token) = session::start_session(state, &identity, methods, meta).await?;
    audit::record(
        state,
        AuditEvent::new(
            tenant,
            AuditEventType::RegistrationSucceeded,
            AuditResult::Success,
            now,
        )
        .identity(identity.id)
        .actor("self")
        .client(meta.ip.as_deref(), meta.user_agent.as_deref())
        .details(json!({"session_id": session.id, "verified_first": address_verified})),
    )
    .await;
    webhooks::after(
        state,
        WebhookEvent::RegistrationAfter,
        &hook.session(&session),
    )
    .await;
    // Signed in before the address was proven: its verification starts now.
    let verification = if address_verified {
        None
    } else {
        crate::identity::verification::send_for_address(
            state,
            flow.flavor,
            &identity,
            address,
            flow.return_to.clone(),
        )
        .await?
    };
    let then = verification.as_ref().map(|next| {
        (
            next,
            crate::identity::verification::show_verification_ui(state, next, address),
        )
    });
    Ok(signed_in(
        state, &flow, submission, &session, &identity, &token, then,
    ))
}

fn new_identity(
    tenant: TenantId,
    account: PendingAccount,
    facts: &TraitFacts,
    address: &str,
    address_verified: bool,
    now: OffsetDateTime,
) -> Identity {
    let mut identity = Identity::new(tenant, &account.schema_id, account.traits, facts, now);
    if address_verified {
        identity.mark_verified(address, now);
    }
    identity
}
