//! The built-in self-service pages: `/ui/login`, `/ui/registration`, `/ui/recovery`,
//! `/ui/verification` and `/ui/settings` (each `?flow=`) render a browser flow's form (its nodes,
//! messages next to their fields, the CSRF token); without a usable flow they start one. A code
//! that arrived in an emailed link (`&code=`) is filled in, never used by the link alone: mail
//! scanners open links too, and the person presses the button.
//!
//! A flow of another tenant than the default shows the tenant's name ("Sign in to Blog"), and
//! the links between its pages carry `tenant=` so the next flow is in the same tenant; the
//! default tenant's pages keep their plain wording.

use crate::error::ApiError;
use crate::extract::RequestMeta;
use crate::identity::flow::{self, FlowQuery, InitQuery, create_flow, see_other};
use crate::identity::session::session_in;
use crate::state::AppState;
use crate::ui::csrf;
use axum::extract::{Query, State};
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use gatehouse_domain::flow::{Flavor, Flow, FlowKind, FlowState, UiMessage};
use gatehouse_domain::ids::TenantId;
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Deserialize)]
pub struct PageQuery {
    pub flow: Option<String>,
    pub return_to: Option<String>,
    pub code: Option<String>,
    /// Without a flow: the tenant the new flow is for.
    pub tenant: Option<String>,
}

/// One form input as the template draws it.
#[derive(Serialize)]
struct FieldView {
    name: String,
    input_type: String,
    label: String,
    value: String,
    required: bool,
    autocomplete: String,
    errors: Vec<String>,
}

#[derive(Serialize)]
struct MessageView {
    text: String,
    kind: &'static str,
}

/// `identity/login.html` and `identity/registration.html`.
#[derive(Serialize)]
struct FlowPage {
    title: &'static str,
    action: String,
    csrf_token: String,
    fields: Vec<FieldView>,
    hidden: Vec<(String, String)>,
    submit_label: String,
    submit_value: String,
    messages: Vec<MessageView>,
    /// Registration, recovery or verification waiting for its code.
    code_step: bool,
    /// The flow is done (recovery, verification): where "Continue" leads.
    continue_url: Option<String>,
    /// Where the flow leads when done, carried by the links to the other flows' pages.
    return_to: Option<String>,
    /// The name of the app (tenant) the page is for; `None` for the default tenant.
    app_name: Option<String>,
    /// The flow's tenant id, carried by the links to the other flows' pages; `None` for the
    /// default tenant.
    tenant: Option<String>,
}

fn text(value: &Value, pointer: &str) -> String {
    match value.pointer(pointer) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Bool(b)) => b.to_string(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

fn page_context(
    state: &AppState,
    flow: &Flow,
    csrf_token: &str,
    code_from_link: Option<&str>,
    app_name: Option<String>,
) -> FlowPage {
    let mut fields = Vec::new();
    let mut hidden = Vec::new();
    let mut submit_label = String::new();
    let mut submit_value = String::new();
    for node in flow::nodes(state, flow, Some(csrf_token)) {
        let name = text(&node, "/attributes/name");
        let input_type = text(&node, "/attributes/type");
        match input_type.as_str() {
            "hidden" => hidden.push((name, text(&node, "/attributes/value"))),
            "submit" => {
                submit_label = text(&node, "/meta/label/text");
                submit_value = text(&node, "/attributes/value");
            }
            _ => fields.push(FieldView {
                label: text(&node, "/meta/label/text"),
                value: match code_from_link {
                    Some(code) if name == "code" => code.to_owned(),
                    _ => text(&node, "/attributes/value"),
                },
                required: node.pointer("/attributes/required") == Some(&Value::Bool(true)),
                autocomplete: text(&node, "/attributes/autocomplete"),
                errors: node
                    .get("messages")
                    .and_then(Value::as_array)
                    .map(|messages| messages.iter().map(|m| text(m, "/text")).collect())
                    .unwrap_or_default(),
                name,
                input_type,
            }),
        }
    }
    FlowPage {
        title: match flow.kind {
            FlowKind::Login => "Sign in",
            FlowKind::Registration => "Create an account",
            FlowKind::Recovery => "Recover your account",
            FlowKind::Verification => "Verify your email address",
            FlowKind::Settings => "Account settings",
        },
        action: state.settings.url(&format!(
            "/self-service/{}?flow={}",
            flow.kind.as_str(),
            flow.id
        )),
        csrf_token: csrf_token.to_owned(),
        fields,
        hidden,
        submit_label,
        submit_value,
        messages: flow
            .form
            .messages
            .iter()
            .map(|m| MessageView {
                text: m.text.clone(),
                kind: match m.kind {
                    gatehouse_domain::flow::MessageType::Error => "error",
                    gatehouse_domain::flow::MessageType::Success => "success",
                    gatehouse_domain::flow::MessageType::Info => "info",
                },
            })
            .collect(),
        code_step: flow.pending.is_some() || flow.state == FlowState::SentEmail,
        continue_url: (flow.state == FlowState::PassedChallenge
            && matches!(flow.kind, FlowKind::Verification | FlowKind::Recovery))
        .then(|| flow::success_url(state, flow)),
        return_to: flow.return_to.clone(),
        app_name,
        tenant: (flow.tenant_id != TenantId::DEFAULT).then(|| flow.tenant_id.0.to_string()),
    }
}

/// A code from an emailed link, if it looks like one (digits only, so nothing else reaches the
/// page).
fn link_code(query: &PageQuery) -> Option<&str> {
    query
        .code
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty() && c.len() <= 12 && c.bytes().all(|b| b.is_ascii_digit()))
}

/// Renders `flow` on its page with `status`.
pub async fn flow_page(
    state: &AppState,
    flow: &Flow,
    headers: &HeaderMap,
    status: StatusCode,
) -> Response {
    render_flow_page(state, flow, headers, status, None).await
}

async fn render_flow_page(
    state: &AppState,
    flow: &Flow,
    headers: &HeaderMap,
    status: StatusCode,
    code_from_link: Option<&str>,
) -> Response {
    let app_name = crate::identity::tenant::app_name(state, flow.tenant_id).await;
    let (token, cookie) = csrf::token(state, headers);
    let template = match flow.kind {
        FlowKind::Login => "identity/login.html",
        FlowKind::Registration => "identity/registration.html",
        FlowKind::Recovery => "identity/recovery.html",
        FlowKind::Verification => "identity/verification.html",
        FlowKind::Settings => "identity/settings.html",
    };
    let page = match state.pages.render(
        template,
        page_context(state, flow, &token, code_from_link, app_name),
    ) {
        Ok(page) => page,
        Err(err) => return err.into_response(),
    };
    let mut response = (status, page).into_response();
    if let Some(cookie) = cookie {
        response.headers_mut().append(SET_COOKIE, cookie);
    }
    response
}

async fn show(
    state: &AppState,
    kind: FlowKind,
    query: PageQuery,
    headers: &HeaderMap,
    meta: &RequestMeta,
) -> Result<Response, ApiError> {
    let start_over = |return_to: Option<String>, tenant: Option<String>| {
        let mut params = url::form_urlencoded::Serializer::new(String::new());
        if let Some(return_to) = return_to {
            params.append_pair("return_to", &return_to);
        }
        if let Some(tenant) = tenant.filter(|t| !t.is_empty()) {
            params.append_pair("tenant", &tenant);
        }
        let params = params.finish();
        let mut target = format!("/self-service/{}/browser", kind.as_str());
        if !params.is_empty() {
            target.push('?');
            target.push_str(&params);
        }
        see_other(&target)
    };
    let Some(raw) = query.flow.as_deref() else {
        return Ok(start_over(query.return_to, query.tenant));
    };
    let id = FlowQuery {
        id: None,
        flow: Some(raw.to_owned()),
    }
    .flow_id();
    let found = match id {
        Ok(id) => flow::load_flow(state, kind, id).await.ok(),
        Err(_) => None,
    };
    let Some(found) = found.filter(|f| f.flavor == Flavor::Browser) else {
        return Ok(start_over(None, query.tenant));
    };
    let found_tenant =
        (found.tenant_id != TenantId::DEFAULT).then(|| found.tenant_id.0.to_string());
    // A settings page shows only to a session (of the flow's tenant) of the flow's identity;
    // the start-over URL asks anyone else to sign in.
    if kind == FlowKind::Settings {
        let signed_in_as = session_in(state, found.tenant_id, headers, meta)
            .await
            .ok()
            .flatten()
            .map(|c| c.identity.id);
        if signed_in_as.is_none() || found.identity_id != signed_in_as {
            return Ok(start_over(None, found_tenant));
        }
    }
    if state.now() >= found.expires_at && kind == FlowKind::Settings {
        return Ok(start_over(found.return_to.clone(), found_tenant));
    }
    if state.now() >= found.expires_at {
        // A fresh flow that says why the form is empty again.
        let mut fresh = create_flow(
            state,
            kind,
            Flavor::Browser,
            &InitQuery {
                return_to: found.return_to.clone(),
                refresh: Some(found.refresh),
                login_hint: None,
                tenant: found_tenant,
            },
        )
        .await?;
        fresh.form.messages.push(UiMessage::error(
            4_010_001,
            "The form expired. Please fill it in again.",
        ));
        state.store.update_flow(&mut fresh).await?;
        return Ok(see_other(&format!(
            "{}?flow={}",
            flow::page_path(kind),
            fresh.id
        )));
    }
    let mut response =
        render_flow_page(state, &found, headers, StatusCode::OK, link_code(&query)).await;
    // A flow that returns to an authorization request ends in a redirect to the client.
    if let Some(targets) =
        crate::oauth::authorize::form_targets_for(state, found.return_to.as_deref()).await
    {
        response.extensions_mut().insert(targets);
    }
    Ok(response)
}

/// `GET /ui/login`.
pub async fn login(
    State(state): State<AppState>,
    Query(query): Query<PageQuery>,
    meta: RequestMeta,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    show(&state, FlowKind::Login, query, &headers, &meta).await
}

/// `GET /ui/registration`.
pub async fn registration(
    State(state): State<AppState>,
    Query(query): Query<PageQuery>,
    meta: RequestMeta,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    show(&state, FlowKind::Registration, query, &headers, &meta).await
}

/// `GET /ui/recovery`.
pub async fn recovery(
    State(state): State<AppState>,
    Query(query): Query<PageQuery>,
    meta: RequestMeta,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    show(&state, FlowKind::Recovery, query, &headers, &meta).await
}

/// `GET /ui/verification`.
pub async fn verification(
    State(state): State<AppState>,
    Query(query): Query<PageQuery>,
    meta: RequestMeta,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    show(&state, FlowKind::Verification, query, &headers, &meta).await
}

/// `GET /ui/settings` (signed in: the flow must be the session's identity's).
pub async fn settings(
    State(state): State<AppState>,
    Query(query): Query<PageQuery>,
    meta: RequestMeta,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    show(&state, FlowKind::Settings, query, &headers, &meta).await
}
