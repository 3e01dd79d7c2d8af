//! Self-service settings: `GET /self-service/settings/{api,browser}` create a flow for the
//! signed-in identity, `POST /self-service/settings?flow=` saves it.
//!
//! `method=profile` saves the traits (validated by the schema) and, when the form carries a
//! non-empty `password`, the new password too (the built-in page is one form with one "Save");
//! `method=password` sets only the password. Changing the password or an address (an identifier,
//! a verifiable address) needs a sign-in within `privileged_session_max_age` (15 minutes):
//! otherwise the answer sends the person to sign in again and back to the same flow. A new
//! password ends every other session of the identity; a new address starts unverified and gets
//! a verification code.

use crate::audit;
use crate::error::ApiError;
use crate::extract::RequestMeta;
use crate::identity::flow::{
    FlowQuery, InitQuery, Submission, begin_submission, check_traits, error_response, flow_json,
    load_flow, new_flow, reject, see_other, sentence, wants_json,
};
use crate::identity::session::{CurrentSession, MaybeSession, end_other_sessions, session_in};
use crate::identity::verification::{send_for_address, show_verification_ui};
use crate::state::AppState;
use crate::webhooks::{self, WebhookContext, WebhookEvent};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use gatehouse_domain::audit::{AuditEvent, AuditEventType, AuditResult};
use gatehouse_domain::flow::{Flavor, Flow, FlowError, FlowKind, UiMessage};
use gatehouse_domain::identity::Identity;
use gatehouse_domain::identity::schema::TraitFacts;
use gatehouse_domain::ids::TenantId;
use gatehouse_domain::secret::Secret;
use gatehouse_domain::store::StoreError;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Value, json};

/// A settings flow for `identity` (not stored yet), its form filled with the current traits.
pub fn new_settings_flow(
    state: &AppState,
    flavor: Flavor,
    identity: &Identity,
    return_to: Option<String>,
) -> Result<Flow, ApiError> {
    let mut flow = new_flow(
        state,
        identity.tenant_id,
        FlowKind::Settings,
        flavor,
        &InitQuery::default(),
    )?;
    flow.return_to = return_to;
    flow.identity_id = Some(identity.id);
    if let Value::Object(traits) = &identity.traits {
        for (name, value) in traits {
            flow.form
                .values
                .insert(format!("traits.{name}"), value.clone());
        }
    }
    Ok(flow)
}

/// The settings flow as JSON, with the identity it belongs to (as Ory Kratos shows it).
fn settings_json(
    state: &AppState,
    flow: &Flow,
    identity: &Identity,
    csrf_token: Option<&str>,
) -> Value {
    let mut body = flow_json(state, flow, csrf_token);
    body["identity"] = identity.public_view();
    body
}

/// `GET /self-service/settings/api` (the session from `X-Session-Token`).
pub async fn init_api(
    State(state): State<AppState>,
    Query(query): Query<InitQuery>,
    current: CurrentSession,
) -> Result<Response, ApiError> {
    let mut flow = new_settings_flow(&state, Flavor::Api, &current.identity, None)?;
    flow.return_to = checked_return_to(&state, &query)?;
    state.store.insert_flow(&flow).await?;
    Ok(Json(settings_json(&state, &flow, &current.identity, None)).into_response())
}

fn checked_return_to(state: &AppState, query: &InitQuery) -> Result<Option<String>, ApiError> {
    query
        .return_to
        .as_deref()
        .filter(|r| !r.is_empty())
        .map(|r| crate::identity::flow::check_return_to(&state.settings, r))
        .transpose()
}

/// Where a browser without a session goes: sign in, then back to `then`.
fn sign_in_first(state: &AppState, tenant: TenantId, then: &str, refresh: bool) -> Response {
    let encoded = utf8_percent_encode(then, NON_ALPHANUMERIC);
    let refresh = if refresh { "refresh=true&" } else { "" };
    let tenant = crate::identity::tenant::query_suffix(tenant, false);
    see_other(&state.settings.url(&format!(
        "/self-service/login/browser?{refresh}return_to={encoded}{tenant}"
    )))
}

/// `GET /self-service/settings/browser`: a new flow for the signed-in browser, then its page
/// (or JSON with the CSRF cookie); without a session, the sign-in page first.
pub async fn init_browser(
    State(state): State<AppState>,
    Query(query): Query<InitQuery>,
    MaybeSession(current): MaybeSession,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let return_to = checked_return_to(&state, &query)?;
    let tenant = crate::identity::tenant::named(&state, query.tenant.as_deref()).await?;
    let Some(current) = current else {
        let mut again = String::from("/self-service/settings/browser");
        again.push_str(&crate::identity::tenant::query_suffix(tenant, true));
        if let Some(target) = &return_to {
            again.push(if tenant == TenantId::DEFAULT {
                '?'
            } else {
                '&'
            });
            again.push_str("return_to=");
            again.push_str(&utf8_percent_encode(target, NON_ALPHANUMERIC).to_string());
        }
        return Ok(sign_in_first(
            &state,
            tenant,
            &state.settings.url(&again),
            false,
        ));
    };
    let flow = new_settings_flow(&state, Flavor::Browser, &current.identity, return_to)?;
    state.store.insert_flow(&flow).await?;
    if wants_json(&headers) {
        let (token, cookie) = crate::ui::csrf::token(&state, &headers);
        let mut response = Json(settings_json(
            &state,
            &flow,
            &current.identity,
            Some(&token),
        ))
        .into_response();
        if let Some(cookie) = cookie {
            response.headers_mut().append(SET_COOKIE, cookie);
        }
        return Ok(response);
    }
    Ok(see_other(&format!("/ui/settings?flow={}", flow.id)))
}

/// 403: the flow belongs to another identity than the session's.
fn identity_mismatch() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "security_identity_mismatch",
        "this settings flow belongs to another account",
    )
}

/// `GET /self-service/settings/flows?id=`: only for a session (of the flow's tenant) of the
/// flow's identity.
pub async fn get_flow(
    State(state): State<AppState>,
    Query(query): Query<FlowQuery>,
    meta: RequestMeta,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let flow = load_flow(&state, FlowKind::Settings, query.flow_id()?).await?;
    let current = session_in(&state, flow.tenant_id, &headers, &meta)
        .await?
        .ok_or_else(crate::identity::session::no_session)?;
    if flow.identity_id != Some(current.identity.id) {
        return Err(identity_mismatch());
    }
    if state.now() >= flow.expires_at {
        return Err(crate::identity::flow::flow_error(FlowError::Expired));
    }
    Ok(Json(settings_json(&state, &flow, &current.identity, None)).into_response())
}

/// `POST /self-service/settings?flow=`.
pub async fn submit(
    State(state): State<AppState>,
    Query(query): Query<FlowQuery>,
    meta: RequestMeta,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (flow, submission) =
        match begin_submission(&state, FlowKind::Settings, &query, &headers, &body).await {
            Ok(found) => found,
            Err(response) => return response,
        };
    let is_form = submission.is_form;
    let current = match session_in(&state, flow.tenant_id, &headers, &meta).await {
        Ok(current) => current,
        Err(err) => return error_response(is_form, err),
    };
    let Some(current) = current else {
        if is_form {
            let page = state
                .settings
                .url(&format!("/ui/settings?flow={}", flow.id));
            return sign_in_first(&state, flow.tenant_id, &page, false);
        }
        return crate::identity::session::no_session().into_response();
    };
    if flow.identity_id != Some(current.identity.id) {
        return error_response(is_form, identity_mismatch());
    }
    save(&state, flow, &submission, &current, &meta)
        .await
        .unwrap_or_else(|err| error_response(is_form, err))
}

/// What a submission asks to change.
struct Requested {
    /// New traits and what the schema says of them.
    traits: Option<(Value, TraitFacts)>,
    password: Option<Secret>,
}

/// Reads and checks the submission; errors go onto the flow's form (`None`).
fn read(
    state: &AppState,
    flow: &mut Flow,
    submission: &Submission,
    identity: &Identity,
) -> Result<Option<Requested>, ApiError> {
    let method = submission.text("method").unwrap_or("profile");
    let (with_traits, password) = match method {
        "profile" => (true, submission.text("password").filter(|p| !p.is_empty())),
        "password" => (false, Some(submission.text("password").unwrap_or(""))),
        other => {
            return Err(ApiError::bad_request(
                "unsupported_method",
                format!(
                    "settings method {other:?} is not available; use \"profile\" or \"password\""
                ),
            ));
        }
    };
    flow.form.clear_messages();
    let traits = if with_traits {
        check_traits(state, flow, submission)
    } else {
        None
    };
    if let Some(password) = password {
        let identifiers = match &traits {
            Some((_, facts)) => facts.identifiers.clone(),
            None => current_facts(state, identity)
                .map(|f| f.identifiers)
                .unwrap_or_default(),
        };
        let identifiers: Vec<&str> = identifiers.iter().map(String::as_str).collect();
        if password.is_empty() {
            flow.form
                .field_error("password", UiMessage::required("New password"));
        } else if let Err(violation) = gatehouse_domain::identity::policy::check(
            state.passwords.policy(),
            password,
            &identifiers,
        ) {
            flow.form.field_error(
                "password",
                UiMessage::error(4_000_005, sentence(&violation.to_string())),
            );
        }
    }
    if flow.form.has_errors() || (with_traits && traits.is_none()) {
        return Ok(None);
    }
    Ok(Some(Requested {
        traits,
        password: password.map(Secret::new),
    }))
}

fn current_facts(state: &AppState, identity: &Identity) -> Option<TraitFacts> {
    state
        .schemas
        .validate(&identity.schema_id, &identity.traits)
        .ok()
}

async fn save(
    state: &AppState,
    mut flow: Flow,
    submission: &Submission,
    current: &CurrentSession,
    meta: &RequestMeta,
) -> Result<Response, ApiError> {
    let old = &current.identity;
    let Some(requested) = read(state, &mut flow, submission, old)? else {
        return reject(state, &mut flow, submission).await;
    };
    let now = state.now();
    let old_facts = current_facts(state, old);
    let (identifiers_changed, addresses_changed) = match (&requested.traits, &old_facts) {
        (Some((_, new)), Some(old)) => (
            new.identifiers != old.identifiers,
            new.verifiable != old.verifiable || new.recovery != old.recovery,
        ),
        (Some(_), None) => (true, true),
        (None, _) => (false, false),
    };
    let privileged =
        now - current.session.authenticated_at <= state.settings.flows.privileged_session_max_age;
    if (requested.password.is_some() || identifiers_changed || addresses_changed) && !privileged {
        return refresh_required(state, &mut flow, submission).await;
    }

    let mut identity = old.clone();
    let facts = match requested.traits {
        Some((traits, facts)) => {
            identity.traits = traits;
            identity.set_addresses(&facts, now);
            facts
        }
        None => old_facts.ok_or_else(|| {
            ApiError::bad_request(
                "invalid_traits",
                "the account's traits no longer match its schema; save the profile first",
            )
        })?,
    };
    identity.updated_at = now;
    let hook = WebhookContext::for_flow(state, &flow, meta)
        .identity(&identity)
        .session(&current.session);
    if let Err(veto) = webhooks::before(state, WebhookEvent::SettingsAfter, &hook).await {
        veto.apply_to(&mut flow);
        return reject(state, &mut flow, submission).await;
    }
    let written = match &requested.password {
        Some(password) => {
            let hash = state.passwords.hash(password).await?;
            state
                .store
                .update_identity_with_password(&identity, &facts.identifiers, &hash)
                .await
        }
        None => {
            state
                .store
                .update_identity(&identity, &facts.identifiers)
                .await
        }
    };
    match written {
        Ok(()) => {}
        Err(StoreError::Conflict { .. }) => {
            let field = identifier_field(state, &identity, &facts);
            flow.form.field_error(
                &field,
                UiMessage::error(
                    4_000_007,
                    "An account with this email address exists already.",
                ),
            );
            return reject(state, &mut flow, submission).await;
        }
        Err(other) => return Err(other.into()),
    }

    let mut continue_with = Vec::new();
    let tenant = identity.tenant_id;
    let event = |kind| {
        AuditEvent::new(tenant, kind, AuditResult::Success, now)
            .identity(identity.id)
            .actor("self")
            .client(meta.ip.as_deref(), meta.user_agent.as_deref())
    };
    if identity.traits != old.traits {
        audit::record(
            state,
            event(AuditEventType::ProfileUpdated).details(json!({"flow_id": flow.id})),
        )
        .await;
    }
    if addresses_changed {
        audit::record(
            state,
            event(AuditEventType::EmailChanged).details(json!({"flow_id": flow.id})),
        )
        .await;
        for address in crate::identity::verification::unverified_addresses(&identity) {
            let was_there = old.verifiable_addresses.iter().any(|a| a.value == address);
            if was_there {
                continue;
            }
            if let Some(verification) =
                send_for_address(state, flow.flavor, &identity, &address, None).await?
            {
                continue_with.push(show_verification_ui(state, &verification, &address));
            }
        }
    }
    if requested.password.is_some() {
        let ended = end_other_sessions(state, current, meta).await?;
        audit::record(
            state,
            event(AuditEventType::PasswordChanged)
                .details(json!({"flow_id": flow.id, "other_sessions_ended": ended})),
        )
        .await;
    }

    // The form shows the saved values (never the password) and says so.
    flow.form
        .values
        .retain(|name, _| !name.starts_with("traits."));
    if let Value::Object(traits) = &identity.traits {
        for (name, value) in traits {
            flow.form
                .values
                .insert(format!("traits.{name}"), value.clone());
        }
    }
    flow.form.messages.push(UiMessage::success(
        1_050_001,
        "Your changes have been saved!",
    ));
    state.store.update_flow(&mut flow).await?;
    webhooks::after(state, WebhookEvent::SettingsAfter, &hook).await;

    if submission.is_form {
        return Ok(match &flow.return_to {
            Some(target) => see_other(target),
            None => see_other(&format!("/ui/settings?flow={}", flow.id)),
        });
    }
    let mut body = settings_json(state, &flow, &identity, None);
    if !continue_with.is_empty() {
        body["continue_with"] = Value::Array(continue_with);
    }
    Ok(Json(body).into_response())
}

/// The form field of the identifier that conflicted (the first identifier trait).
fn identifier_field(state: &AppState, identity: &Identity, facts: &TraitFacts) -> String {
    let fields = state
        .schemas
        .form_fields(&identity.schema_id)
        .unwrap_or_default();
    for field in fields {
        let value = identity.traits.get(&field.name).and_then(Value::as_str);
        if value.map(gatehouse_domain::identity::normalize_identifier)
            == facts.identifiers.first().cloned()
        {
            return format!("traits.{}", field.name);
        }
    }
    "traits.email".to_owned()
}

/// The sign-in is too old for this change: keep what was typed (never the password) and send
/// the person to sign in again, then back to this flow. API clients get 403
/// `session_refresh_required` with the URL.
async fn refresh_required(
    state: &AppState,
    flow: &mut Flow,
    submission: &Submission,
) -> Result<Response, ApiError> {
    flow.form.messages.push(UiMessage::info(
        1_050_003,
        "Please confirm this action by signing in again.",
    ));
    state.store.update_flow(flow).await?;
    let page = state
        .settings
        .url(&format!("/ui/settings?flow={}", flow.id));
    if submission.is_form {
        return Ok(sign_in_first(state, flow.tenant_id, &page, true));
    }
    let login = state.settings.url(&format!(
        "/self-service/login/browser?refresh=true&return_to={}{}",
        utf8_percent_encode(&page, NON_ALPHANUMERIC),
        crate::identity::tenant::query_suffix(flow.tenant_id, false)
    ));
    let body = json!({
        "error": {
            "id": "session_refresh_required",
            "code": 403,
            "status": "Forbidden",
            "reason": "this change needs a recent sign-in: sign in again (refresh=true) and repeat it",
        },
        "redirect_browser_to": login,
    });
    Ok((StatusCode::FORBIDDEN, Json(body)).into_response())
}
