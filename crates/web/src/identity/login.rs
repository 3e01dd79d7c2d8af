//! Self-service login with identifier and password: `GET /self-service/login/{api,browser}`
//! create a flow, `POST /self-service/login?flow=` submits it.
//!
//! An unknown address, a wrong password and an inactive account answer alike (same status, same
//! body, and the same cost: an unknown address is checked against a dummy hash). Failures count
//! towards the per-address and per-IP budgets before the password is even looked at, so a
//! throttled attacker learns nothing more.

use crate::audit;
use crate::error::ApiError;
use crate::extract::RequestMeta;
use crate::identity::flow::{
    FlowQuery, InitQuery, Submission, begin_submission, error_response, reject, see_other,
    start_api_flow, start_browser_flow, success_url,
};
use crate::identity::password::verify_and_upgrade;
use crate::identity::session::{self, MaybeSession};
use crate::state::AppState;
use crate::webhooks::{self, WebhookContext, WebhookEvent};
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use gatehouse_domain::audit::{AuditEvent, AuditEventType, AuditResult};
use gatehouse_domain::flow::{Flavor, Flow, FlowKind, FlowState, UiMessage};
use gatehouse_domain::identity::normalize_identifier;
use gatehouse_domain::ids::TenantId;
use gatehouse_domain::secret::Secret;
use gatehouse_domain::session::AuthenticationMethod;
use serde_json::json;

/// `GET /self-service/login/api`.
pub async fn init_api(
    State(state): State<AppState>,
    Query(query): Query<InitQuery>,
) -> Result<Response, ApiError> {
    start_api_flow(&state, FlowKind::Login, &query).await
}

/// `GET /self-service/login/browser` (`refresh=true` signs in again).
pub async fn init_browser(
    State(state): State<AppState>,
    Query(query): Query<InitQuery>,
    MaybeSession(current): MaybeSession,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    start_browser_flow(&state, FlowKind::Login, &query, current.is_some(), &headers).await
}

/// `POST /self-service/login?flow=`.
pub async fn submit(
    State(state): State<AppState>,
    Query(query): Query<FlowQuery>,
    meta: RequestMeta,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (flow, submission) =
        match begin_submission(&state, FlowKind::Login, &query, &headers, &body).await {
            Ok(found) => found,
            Err(response) => return response,
        };
    let is_form = submission.is_form;
    // Only a session of the flow's tenant is "signed in" here.
    let current = session::session_in(&state, flow.tenant_id, &headers, &meta)
        .await
        .ok()
        .flatten();
    let signed_in_as = current.map(|c| c.identity.id);
    match submit_password(&state, flow, &submission, &meta, &headers, signed_in_as).await {
        Ok(response) => response,
        Err(err) => error_response(is_form, err),
    }
}

async fn submit_password(
    state: &AppState,
    mut flow: Flow,
    submission: &Submission,
    meta: &RequestMeta,
    headers: &HeaderMap,
    signed_in_as: Option<uuid::Uuid>,
) -> Result<Response, ApiError> {
    let now = state.now();
    if let Some(method) = submission.text("method").filter(|m| *m != "password") {
        return Err(ApiError::bad_request(
            "unsupported_method",
            format!("login method {method:?} is not available; use \"password\""),
        ));
    }

    let identifier = submission
        .text("identifier")
        .unwrap_or("")
        .trim()
        .to_owned();
    let password = submission.text("password").unwrap_or("");
    flow.form.clear_messages();
    flow.form
        .values
        .insert("identifier".to_owned(), json!(identifier));
    if identifier.is_empty() {
        flow.form
            .field_error("identifier", UiMessage::required("Email"));
    }
    if password.is_empty() {
        flow.form
            .field_error("password", UiMessage::required("Password"));
    }
    if flow.form.has_errors() {
        return reject(state, &mut flow, submission).await;
    }

    let tenant = flow.tenant_id;
    let key = normalize_identifier(&identifier);
    let password = Secret::new(password);
    let identity = match check_password(state, tenant, &key, &password, meta, "self").await? {
        PasswordCheck::Accepted(identity) => *identity,
        PasswordCheck::Throttled(retry_after) => {
            return Ok(throttled(state, &mut flow, submission, headers, retry_after).await);
        }
        PasswordCheck::Refused => {
            flow.form.messages.push(UiMessage::invalid_credentials());
            return reject(state, &mut flow, submission).await;
        }
    };

    // Signing in again (`refresh=true`) proves the signed-in person is still there: it must be
    // the same account.
    if flow.refresh && signed_in_as.is_some_and(|id| id != identity.id) {
        flow.form.messages.push(UiMessage::error(
            4_000_011,
            "You are signed in with another account. Sign in with that account, or sign out first.",
        ));
        return reject(state, &mut flow, submission).await;
    }
    let hook = WebhookContext::for_flow(state, &flow, meta).identity(&identity);
    if let Err(veto) = webhooks::before(state, WebhookEvent::LoginAfter, &hook).await {
        veto.apply_to(&mut flow);
        return reject(state, &mut flow, submission).await;
    }
    state.login_throttle.record_success(tenant, &key, now).await;
    flow.state = FlowState::PassedChallenge;
    flow.form.clear_messages();
    state.store.update_flow(&mut flow).await?;
    let methods = vec![AuthenticationMethod {
        method: "password".to_owned(),
        completed_at: now,
    }];
    let (session, token) = session::start_session(state, &identity, methods, meta).await?;
    audit::record(
        state,
        AuditEvent::new(
            tenant,
            AuditEventType::LoginSucceeded,
            AuditResult::Success,
            now,
        )
        .identity(identity.id)
        .actor("self")
        .client(meta.ip.as_deref(), meta.user_agent.as_deref())
        .details(json!({"session_id": session.id, "method": "password"})),
    )
    .await;
    webhooks::after(state, WebhookEvent::LoginAfter, &hook.session(&session)).await;
    Ok(signed_in(
        state, &flow, submission, &session, &identity, &token, None,
    ))
}

/// How a password sign-in attempt ended.
pub enum PasswordCheck {
    Accepted(Box<gatehouse_domain::identity::Identity>),
    /// Unknown address, wrong password, no password or an inactive account: one answer for all.
    Refused,
    /// The identifier or the address is over its failure budget.
    Throttled(crate::throttle::RetryAfter),
}

/// Checks `identifier` (normalized) and `password` in `tenant`: the rules every password
/// sign-in follows, the self-service flow and the tenant API alike. The throttle is consulted
/// before anything is looked up; every outcome pays for one password hash; a failure counts
/// against the identifier and the address and is an audit event (`actor` says who asked). The
/// caller clears the identifier's failures once it lets the person in.
pub async fn check_password(
    state: &AppState,
    tenant: TenantId,
    identifier: &str,
    password: &Secret,
    meta: &RequestMeta,
    actor: &str,
) -> Result<PasswordCheck, ApiError> {
    let now = state.now();
    let ip = meta.ip.as_deref();
    if let Err(retry_after) = state
        .login_throttle
        .check(tenant, identifier, ip, now)
        .await
    {
        return Ok(PasswordCheck::Throttled(retry_after));
    }
    let found = state
        .store
        .find_identity_by_identifier(tenant, identifier)
        .await?;
    // Every branch pays for one password hash, so time tells nothing about the address.
    let (found, reason) = match found {
        Some((identity, Some(hash))) => {
            let matched = verify_and_upgrade(state, &identity, &hash, password).await;
            let reason = match (matched, identity.is_active()) {
                (true, true) => None,
                (true, false) => Some("identity_inactive"),
                (false, _) => Some("wrong_password"),
            };
            (Some(identity), reason)
        }
        Some((identity, None)) => {
            state.passwords.verify(password, None).await;
            (Some(identity), Some("no_password_credential"))
        }
        None => {
            state.passwords.verify(password, None).await;
            (None, Some("unknown_identifier"))
        }
    };
    match (found, reason) {
        (Some(identity), None) => Ok(PasswordCheck::Accepted(Box::new(identity))),
        (found, reason) => {
            state
                .login_throttle
                .record_failure(tenant, identifier, ip, now)
                .await;
            audit::record(state, {
                let event = AuditEvent::new(
                    tenant,
                    AuditEventType::LoginFailed,
                    AuditResult::Failure,
                    now,
                )
                .actor(actor)
                .client(meta.ip.as_deref(), meta.user_agent.as_deref())
                .reason(reason.unwrap_or("unknown"));
                match &found {
                    Some(identity) => event.identity(identity.id),
                    None => event,
                }
            })
            .await;
            Ok(PasswordCheck::Refused)
        }
    }
}

/// The answer to a flow that ended with a new session (login, or registration that signs in).
///
/// `then` is a flow the person should see next (the verification of a new account's address):
/// it joins `continue_with`, and a browser form goes to its page instead of `return_to`.
pub fn signed_in(
    state: &AppState,
    flow: &Flow,
    submission: &Submission,
    session: &gatehouse_domain::session::Session,
    identity: &gatehouse_domain::identity::Identity,
    token: &Secret,
    then: Option<(&Flow, serde_json::Value)>,
) -> Response {
    let session_json = serde_json::to_value(session::SessionView::new(
        session,
        Some(identity),
        state.now(),
    ))
    .unwrap_or_default();
    match flow.flavor {
        Flavor::Api => {
            let mut body = json!({
                "session_token": token.expose(),
                "session": session_json,
            });
            if flow.kind == FlowKind::Registration {
                body["identity"] = identity.public_view();
                let mut continue_with = vec![json!({
                    "action": "set_ory_session_token",
                    "ory_session_token": token.expose(),
                })];
                continue_with.extend(then.map(|(_, item)| item));
                body["continue_with"] = serde_json::Value::Array(continue_with);
            }
            axum::Json(body).into_response()
        }
        Flavor::Browser => {
            let target = match &then {
                Some((next, _)) => state.settings.url(&format!(
                    "{}?flow={}",
                    crate::identity::flow::page_path(next.kind),
                    next.id
                )),
                None => success_url(state, flow),
            };
            let mut response = if submission.is_form {
                see_other(&target)
            } else {
                let mut continue_with: Vec<serde_json::Value> =
                    then.map(|(_, item)| item).into_iter().collect();
                continue_with
                    .push(json!({"action": "redirect_browser_to", "redirect_browser_to": target}));
                let mut body = json!({
                    "session": session_json,
                    "continue_with": continue_with,
                });
                if flow.kind == FlowKind::Registration {
                    body["identity"] = identity.public_view();
                }
                axum::Json(body).into_response()
            };
            response.headers_mut().append(
                SET_COOKIE,
                session::session_cookie(state, session.tenant_id, token),
            );
            response
        }
    }
}

/// 429 with `Retry-After`: JSON for API clients, the login page with the message for a form.
async fn throttled(
    state: &AppState,
    flow: &mut Flow,
    submission: &Submission,
    headers: &HeaderMap,
    retry_after: crate::throttle::RetryAfter,
) -> Response {
    if !submission.is_form {
        return retry_after.into_response();
    }
    let minutes = retry_after.0.as_secs().div_ceil(60).max(1);
    flow.form.messages.push(UiMessage::error(
        4_000_010,
        format!("Too many failed attempts. Try again in {minutes} minute(s)."),
    ));
    if let Err(err) = state.store.update_flow(flow).await {
        return error_response(true, err.into());
    }
    let mut response =
        crate::identity::pages::flow_page(state, flow, headers, StatusCode::TOO_MANY_REQUESTS)
            .await;
    if let Ok(value) = retry_after.0.as_secs().to_string().parse() {
        response
            .headers_mut()
            .insert(axum::http::header::RETRY_AFTER, value);
    }
    response
}
