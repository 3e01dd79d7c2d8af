//! What login and registration share: creating a flow (API or browser), checking `return_to`,
//! reading a submission (JSON or form), the flow's JSON view with its `ui.nodes` (the shape Ory
//! Kratos clients read), and answering a submission as JSON or with a redirect.

use crate::error::ApiError;
use crate::extract::media_type;
use crate::state::{AppState, Settings};
use axum::extract::{Query, State};
use axum::http::header::{ACCEPT, LOCATION};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use gatehouse_domain::flow::{
    Flavor, Flow, FlowError, FlowKind, FlowState, MessageType, UiMessage,
};
use gatehouse_domain::ids::TenantId;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use uuid::Uuid;

/// Self-service settings.
#[derive(Debug, Clone)]
pub struct FlowSettings {
    /// How long a flow accepts submissions.
    pub lifespan: time::Duration,
    /// URLs `return_to` may point at besides the issuer's own pages: a URL is allowed when its
    /// scheme, host and port equal an entry's and its path starts with the entry's path.
    pub allowed_return_urls: Vec<url::Url>,
    /// Where a browser goes after a flow without `return_to`.
    pub default_return_to: String,
    /// `true`: registration signs the person in at once (and then reveals taken addresses);
    /// `false` (default): the first session starts when the emailed code is entered.
    pub session_after_registration: bool,
    /// How long a recovery code is accepted (15 minutes).
    pub recovery_code_lifespan: time::Duration,
    /// How long a verification code is accepted (1 hour).
    pub verification_code_lifespan: time::Duration,
    /// Recovery codes one address may be sent per hour (10).
    pub recovery_codes_per_hour: u32,
    /// Verification codes one address may be sent per hour (10).
    pub verification_codes_per_hour: u32,
    /// How recent the sign-in must be to change the password or an address (15 minutes).
    pub privileged_session_max_age: time::Duration,
}

impl FlowSettings {
    pub fn new(issuer: &str) -> Self {
        Self {
            lifespan: time::Duration::hours(1),
            allowed_return_urls: Vec::new(),
            default_return_to: format!("{}/ui/account", issuer.trim_end_matches('/')),
            session_after_registration: false,
            recovery_code_lifespan: time::Duration::minutes(15),
            verification_code_lifespan: time::Duration::hours(1),
            recovery_codes_per_hour: 10,
            verification_codes_per_hour: 10,
            privileged_session_max_age: time::Duration::minutes(15),
        }
    }
}

/// Checks a requested `return_to`: a path on the issuer, or a URL under one of the allowed ones.
/// Anything else (another host, `//evil`, `javascript:`, user info) is refused: never an open
/// redirect.
pub fn check_return_to(settings: &Settings, requested: &str) -> Result<String, ApiError> {
    let refused = || {
        ApiError::bad_request(
            "return_to_not_allowed",
            "return_to is not an allowed URL for this installation",
        )
    };
    let issuer = url::Url::parse(&settings.issuer).map_err(|_| refused())?;
    let requested = requested.trim();
    if requested.starts_with("//") || requested.starts_with("/\\") || requested.contains('\\') {
        return Err(refused());
    }
    let url = if requested.starts_with('/') {
        issuer.join(requested).map_err(|_| refused())?
    } else {
        url::Url::parse(requested).map_err(|_| refused())?
    };
    if !url.username().is_empty() || url.password().is_some() {
        return Err(refused());
    }
    let same_origin = |a: &url::Url, b: &url::Url| {
        a.scheme() == b.scheme()
            && a.host_str() == b.host_str()
            && a.port_or_known_default() == b.port_or_known_default()
    };
    // A path prefix matches whole segments: `/after` allows `/after/x`, not `/afterwards`.
    let under = |path: &str, prefix: &str| {
        let prefix = prefix.trim_end_matches('/');
        path == prefix || path.starts_with(&format!("{prefix}/"))
    };
    let allowed = same_origin(&url, &issuer)
        || settings
            .flows
            .allowed_return_urls
            .iter()
            .any(|allowed| same_origin(&url, allowed) && under(url.path(), allowed.path()));
    if allowed {
        Ok(url.into())
    } else {
        Err(refused())
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct InitQuery {
    pub return_to: Option<String>,
    #[serde(default)]
    pub refresh: Option<bool>,
    /// Login only: the address to fill in (an OpenID Connect `login_hint`).
    #[serde(default)]
    pub login_hint: Option<String>,
    /// The tenant the flow is for (its id); the default tenant when absent.
    #[serde(default)]
    pub tenant: Option<String>,
}

/// A new flow of `tenant` (not stored yet), with `return_to` checked.
pub fn new_flow(
    state: &AppState,
    tenant: TenantId,
    kind: FlowKind,
    flavor: Flavor,
    query: &InitQuery,
) -> Result<Flow, ApiError> {
    let return_to = query
        .return_to
        .as_deref()
        .filter(|r| !r.is_empty())
        .map(|r| check_return_to(&state.settings, r))
        .transpose()?;
    let mut flow = Flow::new(
        tenant,
        kind,
        flavor,
        return_to,
        state.settings.flows.lifespan,
        state.now(),
    );
    flow.refresh = kind == FlowKind::Login && query.refresh.unwrap_or(false);
    if let Some(hint) = query
        .login_hint
        .as_deref()
        .map(str::trim)
        .filter(|h| kind == FlowKind::Login && !h.is_empty() && h.chars().count() <= 320)
    {
        flow.form
            .values
            .insert("identifier".to_owned(), serde_json::Value::from(hint));
    }
    Ok(flow)
}

/// Creates and stores a new flow in the tenant the query names (the default tenant otherwise).
pub async fn create_flow(
    state: &AppState,
    kind: FlowKind,
    flavor: Flavor,
    query: &InitQuery,
) -> Result<Flow, ApiError> {
    let tenant = crate::identity::tenant::named(state, query.tenant.as_deref()).await?;
    let mut flow = new_flow(state, tenant, kind, flavor, query)?;
    if kind == FlowKind::Registration {
        let schema = crate::identity::tenant::schema_of(state, tenant).await?;
        if schema != state.settings.identity.default_schema_id {
            flow.schema_id = Some(schema);
        }
    }
    state.store.insert_flow(&flow).await?;
    Ok(flow)
}

/// `GET /self-service/{kind}/api`: a new flow for an API client, as JSON.
pub async fn start_api_flow(
    state: &AppState,
    kind: FlowKind,
    query: &InitQuery,
) -> Result<Response, ApiError> {
    let flow = create_flow(state, kind, Flavor::Api, query).await?;
    Ok(axum::Json(flow_json(state, &flow, None)).into_response())
}

/// `GET /self-service/{kind}/browser`: a new flow for a browser, then its page (or the flow as
/// JSON, with the CSRF cookie, for a script that asks for JSON). A browser that is signed in
/// already goes straight on to `return_to` unless it asks to sign in again (`refresh=true`).
pub async fn start_browser_flow(
    state: &AppState,
    kind: FlowKind,
    query: &InitQuery,
    signed_in: bool,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    if signed_in && !query.refresh.unwrap_or(false) {
        crate::identity::tenant::named(state, query.tenant.as_deref()).await?;
        let target = match query.return_to.as_deref().filter(|r| !r.is_empty()) {
            Some(requested) => check_return_to(&state.settings, requested)?,
            None => state.settings.flows.default_return_to.clone(),
        };
        return Ok(see_other(&target));
    }
    let flow = create_flow(state, kind, Flavor::Browser, query).await?;
    if wants_json(headers) {
        let (token, cookie) = crate::ui::csrf::token(state, headers);
        let mut response = axum::Json(flow_json(state, &flow, Some(&token))).into_response();
        if let Some(cookie) = cookie {
            response
                .headers_mut()
                .append(axum::http::header::SET_COOKIE, cookie);
        }
        return Ok(response);
    }
    Ok(see_other(&format!("{}?flow={}", page_path(kind), flow.id)))
}

/// Where the browser goes when `flow` succeeds.
pub fn success_url(state: &AppState, flow: &Flow) -> String {
    flow.return_to
        .clone()
        .unwrap_or_else(|| state.settings.flows.default_return_to.clone())
}

pub fn flow_error(err: FlowError) -> ApiError {
    match err {
        FlowError::Expired => ApiError::new(
            StatusCode::GONE,
            "self_service_flow_expired",
            err.to_string(),
        ),
        FlowError::WrongKind => ApiError::not_found("flow_not_found", "no such flow"),
        FlowError::Completed => ApiError::bad_request("flow_completed", err.to_string()),
    }
}

#[derive(Debug, Deserialize)]
pub struct FlowQuery {
    pub id: Option<String>,
    pub flow: Option<String>,
}

impl FlowQuery {
    pub fn flow_id(&self) -> Result<Uuid, ApiError> {
        let raw = self.flow.as_deref().or(self.id.as_deref()).ok_or_else(|| {
            ApiError::bad_request("missing_flow", "the flow query parameter is required")
        })?;
        Uuid::parse_str(raw).map_err(|_| ApiError::not_found("flow_not_found", "no such flow"))
    }
}

/// Loads a flow of `kind`, in whichever tenant it belongs to; an unknown id is 404.
pub async fn load_flow(state: &AppState, kind: FlowKind, id: Uuid) -> Result<Flow, ApiError> {
    let flow = state
        .store
        .find_flow_by_id(id)
        .await?
        .filter(|f| f.kind == kind)
        .ok_or_else(|| ApiError::not_found("flow_not_found", "no such flow"))?;
    Ok(flow)
}

/// `GET /self-service/{kind}/flows?id=`: the flow as JSON (410 once expired).
pub async fn get_flow(
    state: &AppState,
    kind: FlowKind,
    query: &FlowQuery,
) -> Result<Response, ApiError> {
    let flow = load_flow(state, kind, query.flow_id()?).await?;
    if state.now() >= flow.expires_at {
        return Err(flow_error(FlowError::Expired));
    }
    Ok(axum::Json(flow_json(state, &flow, None)).into_response())
}

/// Whether the caller wants JSON rather than a redirect to a page.
pub fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get(ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("application/json"))
}

/// A 303 to `location`.
pub fn see_other(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(LOCATION, value);
    }
    response
}

/// The page that shows flows of `kind`.
pub fn page_path(kind: FlowKind) -> &'static str {
    match kind {
        FlowKind::Login => "/ui/login",
        FlowKind::Registration => "/ui/registration",
        FlowKind::Recovery => "/ui/recovery",
        FlowKind::Verification => "/ui/verification",
        FlowKind::Settings => "/ui/settings",
    }
}

/// A submitted form, from JSON or `application/x-www-form-urlencoded`. Form fields named
/// `traits.x` become `{"traits": {"x": ...}}`, as HTML forms cannot nest.
#[derive(Default)]
pub struct Submission {
    pub fields: Map<String, Value>,
    /// Sent as an HTML form (answered with redirects) rather than JSON.
    pub is_form: bool,
}

impl std::fmt::Debug for Submission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Passwords and codes travel in here.
        f.debug_struct("Submission")
            .field("fields", &self.fields.keys().collect::<Vec<_>>())
            .field("is_form", &self.is_form)
            .finish()
    }
}

impl Submission {
    pub fn parse(headers: &HeaderMap, body: &[u8]) -> Result<Self, ApiError> {
        match media_type(headers).as_str() {
            "application/json" => {
                let value: Value = serde_json::from_slice(body).map_err(|e| {
                    ApiError::bad_request(
                        "invalid_body",
                        format!("the body is not valid JSON: {e}"),
                    )
                })?;
                let Value::Object(fields) = value else {
                    return Err(ApiError::bad_request(
                        "invalid_body",
                        "the body must be a JSON object",
                    ));
                };
                Ok(Self {
                    fields,
                    is_form: false,
                })
            }
            "application/x-www-form-urlencoded" => {
                let mut fields = Map::new();
                let mut traits = Map::new();
                for (name, value) in form_urlencoded::parse(body) {
                    if let Some(trait_name) = name.strip_prefix("traits.") {
                        if !value.is_empty() {
                            traits.insert(trait_name.to_owned(), Value::String(value.into_owned()));
                        }
                    } else {
                        fields.insert(name.into_owned(), Value::String(value.into_owned()));
                    }
                }
                if !traits.is_empty() {
                    fields.insert("traits".to_owned(), Value::Object(traits));
                }
                Ok(Self {
                    fields,
                    is_form: true,
                })
            }
            _ => Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send application/json or application/x-www-form-urlencoded",
            )),
        }
    }

    /// A string field; JSON non-strings are refused as absent.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.fields.get(name).and_then(Value::as_str)
    }
}

/// The answer to a failed submission: an error page for an HTML form, JSON otherwise.
pub fn error_response(submission_is_form: bool, err: ApiError) -> Response {
    if submission_is_form {
        crate::ui::PageError::from(err).into_response()
    } else {
        err.into_response()
    }
}

/// Reads a submission to a flow of `kind` and checks what every submission needs: the flow
/// exists, the browser's CSRF token matches its cookie (browser flows), the flow is not expired
/// or finished. On failure, the response the client gets: JSON for API clients, a page (or for
/// an expired flow, the page that starts over) for an HTML form.
pub async fn begin_submission(
    state: &AppState,
    kind: FlowKind,
    query: &FlowQuery,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(Flow, Submission), Response> {
    let submission = Submission::parse(headers, body).map_err(IntoResponse::into_response)?;
    let is_form = submission.is_form;
    let flow_id = query.flow_id().map_err(|e| error_response(is_form, e))?;
    let flow = load_flow(state, kind, flow_id)
        .await
        .map_err(|e| error_response(is_form, e))?;
    if flow.flavor == Flavor::Browser
        && crate::ui::csrf::verify(state, headers, submission.text("csrf_token")).is_err()
    {
        return Err(error_response(
            is_form,
            ApiError::new(
                StatusCode::FORBIDDEN,
                "csrf_invalid",
                "the form's security token is missing or does not match this browser; reload the page and try again",
            ),
        ));
    }
    match flow.ensure_usable(kind, state.now()) {
        Ok(()) => Ok((flow, submission)),
        Err(FlowError::Expired) if is_form => {
            Err(see_other(&format!("{}?flow={}", page_path(kind), flow.id)))
        }
        Err(err) => Err(error_response(is_form, flow_error(err))),
    }
}

/// A flow changed by another request in the meantime (its compare-and-swap lost): 409.
pub fn concurrent(err: gatehouse_domain::store::StoreError) -> ApiError {
    match err {
        gatehouse_domain::store::StoreError::Conflict { .. } => ApiError::new(
            StatusCode::CONFLICT,
            "flow_changed",
            "the flow changed while this request ran; reload it and try again",
        ),
        other => other.into(),
    }
}

/// A rule's message as a sentence for a page: capitalized, with a full stop.
pub fn sentence(message: &str) -> String {
    let mut chars = message.trim().chars();
    let mut out: String = chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default();
    if !out.is_empty() && !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

/// Reads the submission's `traits` into the flow's form values and validates them against the
/// default schema; a violation goes next to its field and gives `None`.
pub fn check_traits(
    state: &AppState,
    flow: &mut Flow,
    submission: &Submission,
) -> Option<(Value, gatehouse_domain::identity::schema::TraitFacts)> {
    let traits = submission
        .fields
        .get("traits")
        .cloned()
        .unwrap_or_else(|| json!({}));
    let Value::Object(map) = &traits else {
        flow.form.field_error(
            "traits",
            UiMessage::error(4_000_001, "traits must be an object"),
        );
        return None;
    };
    flow.form
        .values
        .retain(|name, _| !name.starts_with("traits."));
    for (name, value) in map {
        flow.form
            .values
            .insert(format!("traits.{name}"), value.clone());
    }
    match state
        .schemas
        .validate(crate::identity::tenant::flow_schema(state, flow), &traits)
    {
        Ok(facts) => Some((traits, facts)),
        Err(err) => {
            flow.form.field_error(
                &err.field,
                UiMessage::error(4_000_001, sentence(&err.message)),
            );
            None
        }
    }
}

/// One form input of the flow's UI.
pub struct NodeSpec<'a> {
    pub name: &'a str,
    pub input_type: &'a str,
    pub label: &'a str,
    pub group: &'a str,
    pub required: bool,
    pub autocomplete: Option<&'a str>,
    /// Shown back to the person (never for passwords and codes).
    pub keep_value: bool,
}

fn message_json(message: &UiMessage) -> Value {
    json!({
        "id": message.id,
        "text": message.text,
        "type": match message.kind {
            MessageType::Info => "info",
            MessageType::Error => "error",
            MessageType::Success => "success",
        },
    })
}

fn input_node(flow: &Flow, spec: &NodeSpec<'_>) -> Value {
    let value = if spec.keep_value {
        flow.form.values.get(spec.name).cloned()
    } else {
        None
    };
    let messages: Vec<Value> = flow
        .form
        .field_messages
        .get(spec.name)
        .map(|m| m.iter().map(message_json).collect())
        .unwrap_or_default();
    let mut attributes = json!({
        "name": spec.name,
        "type": spec.input_type,
        "required": spec.required,
        "disabled": false,
        "node_type": "input",
    });
    if let Some(value) = value {
        attributes["value"] = value;
    }
    if let Some(autocomplete) = spec.autocomplete {
        attributes["autocomplete"] = json!(autocomplete);
    }
    json!({
        "type": "input",
        "group": spec.group,
        "attributes": attributes,
        "messages": messages,
        "meta": {"label": {"id": 1_070_000, "text": spec.label, "type": "info"}},
    })
}

fn hidden_node(name: &str, value: &str, group: &str) -> Value {
    json!({
        "type": "input",
        "group": group,
        "attributes": {"name": name, "type": "hidden", "value": value, "required": true, "disabled": false, "node_type": "input"},
        "messages": [],
        "meta": {},
    })
}

fn submit_node(method: &str, label: &str, group: &str) -> Value {
    json!({
        "type": "input",
        "group": group,
        "attributes": {"name": "method", "type": "submit", "value": method, "disabled": false, "node_type": "input"},
        "messages": [],
        "meta": {"label": {"id": 1_070_001, "text": label, "type": "info"}},
    })
}

/// The input for an emailed code (never kept in the flow).
fn code_node(flow: &Flow, label: &str) -> Value {
    input_node(
        flow,
        &NodeSpec {
            name: "code",
            input_type: "text",
            label,
            group: "code",
            required: true,
            autocomplete: Some("one-time-code"),
            keep_value: false,
        },
    )
}

/// One input per trait of the flow's schema, named `traits.<name>`.
fn trait_nodes(state: &AppState, flow: &Flow, group: &str, out: &mut Vec<Value>) {
    let fields = state
        .schemas
        .form_fields(crate::identity::tenant::flow_schema(state, flow))
        .unwrap_or_default();
    for field in &fields {
        let name = format!("traits.{}", field.name);
        let autocomplete = match field.name.as_str() {
            "email" => Some("email"),
            "first_name" => Some("given-name"),
            "last_name" => Some("family-name"),
            "username" => Some("username"),
            "mobile" => Some("tel"),
            "website" => Some("url"),
            "date_of_birth" => Some("bday"),
            _ => None,
        };
        out.push(input_node(
            flow,
            &NodeSpec {
                name: &name,
                input_type: &field.input_type,
                label: &field.title,
                group,
                required: field.required,
                autocomplete,
                keep_value: true,
            },
        ));
    }
}

/// The inputs a flow shows in its current state.
pub fn nodes(state: &AppState, flow: &Flow, csrf_token: Option<&str>) -> Vec<Value> {
    let mut out = Vec::new();
    if flow.flavor == Flavor::Browser {
        out.push(hidden_node(
            "csrf_token",
            csrf_token.unwrap_or(""),
            "default",
        ));
    }
    match (flow.kind, flow.state) {
        (FlowKind::Login, _) => {
            out.push(input_node(
                flow,
                &NodeSpec {
                    name: "identifier",
                    input_type: "email",
                    label: "Email",
                    group: "default",
                    required: true,
                    autocomplete: Some("username"),
                    keep_value: true,
                },
            ));
            out.push(input_node(
                flow,
                &NodeSpec {
                    name: "password",
                    input_type: "password",
                    label: "Password",
                    group: "password",
                    required: true,
                    autocomplete: Some("current-password"),
                    keep_value: false,
                },
            ));
            out.push(submit_node("password", "Sign in", "password"));
        }
        (FlowKind::Registration, FlowState::SentEmail | FlowState::PassedChallenge) => {
            out.push(code_node(flow, "Verification code"));
            out.push(submit_node("code", "Verify", "code"));
        }
        (FlowKind::Registration, FlowState::ChooseMethod) => {
            trait_nodes(state, flow, "default", &mut out);
            out.push(input_node(
                flow,
                &NodeSpec {
                    name: "password",
                    input_type: "password",
                    label: "Password",
                    group: "password",
                    required: true,
                    autocomplete: Some("new-password"),
                    keep_value: false,
                },
            ));
            out.push(submit_node("password", "Sign up", "password"));
        }
        (FlowKind::Recovery | FlowKind::Verification, FlowState::ChooseMethod) => {
            out.push(input_node(
                flow,
                &NodeSpec {
                    name: "email",
                    input_type: "email",
                    label: "Email",
                    group: "code",
                    required: true,
                    autocomplete: Some("email"),
                    keep_value: true,
                },
            ));
            out.push(submit_node("code", "Send code", "code"));
        }
        (FlowKind::Recovery, FlowState::SentEmail) => {
            out.push(code_node(flow, "Recovery code"));
            out.push(submit_node("code", "Continue", "code"));
        }
        (FlowKind::Verification, FlowState::SentEmail) => {
            out.push(code_node(flow, "Verification code"));
            out.push(submit_node("code", "Verify", "code"));
        }
        (FlowKind::Recovery | FlowKind::Verification, FlowState::PassedChallenge) => {}
        (FlowKind::Settings, _) => {
            trait_nodes(state, flow, "profile", &mut out);
            out.push(input_node(
                flow,
                &NodeSpec {
                    name: "password",
                    input_type: "password",
                    label: "New password",
                    group: "password",
                    required: false,
                    autocomplete: Some("new-password"),
                    keep_value: false,
                },
            ));
            out.push(submit_node("profile", "Save", "profile"));
        }
    }
    out
}

/// The flow in the shape self-service clients read.
pub fn flow_json(state: &AppState, flow: &Flow, csrf_token: Option<&str>) -> Value {
    let action = state.settings.url(&format!(
        "/self-service/{}?flow={}",
        flow.kind.as_str(),
        flow.id
    ));
    let mut body = json!({
        "id": flow.id,
        "type": match flow.flavor { Flavor::Api => "api", Flavor::Browser => "browser" },
        "state": flow.state,
        "issued_at": crate::identity::rfc3339(flow.issued_at),
        "expires_at": crate::identity::rfc3339(flow.expires_at),
        "request_url": state.settings.url(&format!(
            "/self-service/{}/{}",
            flow.kind.as_str(),
            match flow.flavor { Flavor::Api => "api", Flavor::Browser => "browser" },
        )),
        "return_to": flow.return_to,
        "ui": {
            "action": action,
            "method": "POST",
            "nodes": nodes(state, flow, csrf_token),
            "messages": flow.form.messages.iter().map(message_json).collect::<Vec<_>>(),
        },
    });
    if flow.kind == FlowKind::Login {
        body["refresh"] = json!(flow.refresh);
    }
    body
}

/// Answers a submission that did not complete the flow: JSON with the flow (`status`), or for
/// an HTML form a redirect back to the page that shows the flow's messages.
pub fn answer_with_flow(
    state: &AppState,
    flow: &Flow,
    submission: &Submission,
    status: StatusCode,
) -> Response {
    if submission.is_form {
        return see_other(&format!("{}?flow={}", page_path(flow.kind), flow.id));
    }
    (status, axum::Json(flow_json(state, flow, None))).into_response()
}

/// Stores the flow with the messages just added and answers 400 with it (or, for an HTML form,
/// the redirect to its page).
pub async fn reject(
    state: &AppState,
    flow: &mut Flow,
    submission: &Submission,
) -> Result<Response, ApiError> {
    state.store.update_flow(flow).await?;
    Ok(answer_with_flow(
        state,
        flow,
        submission,
        StatusCode::BAD_REQUEST,
    ))
}

/// `GET /self-service/{kind}/flows?id=` (settings flows have their own: they need the session).
pub async fn get_login_flow(
    State(state): State<AppState>,
    Query(query): Query<FlowQuery>,
) -> Result<Response, ApiError> {
    get_flow(&state, FlowKind::Login, &query).await
}

pub async fn get_registration_flow(
    State(state): State<AppState>,
    Query(query): Query<FlowQuery>,
) -> Result<Response, ApiError> {
    get_flow(&state, FlowKind::Registration, &query).await
}

pub async fn get_recovery_flow(
    State(state): State<AppState>,
    Query(query): Query<FlowQuery>,
) -> Result<Response, ApiError> {
    get_flow(&state, FlowKind::Recovery, &query).await
}

pub async fn get_verification_flow(
    State(state): State<AppState>,
    Query(query): Query<FlowQuery>,
) -> Result<Response, ApiError> {
    get_flow(&state, FlowKind::Verification, &query).await
}

#[cfg(test)]
mod tests {
    use super::sentence;

    #[test]
    fn rule_messages_read_as_sentences_on_the_page() {
        assert_eq!(
            sentence("the password must be at least 8 characters long"),
            "The password must be at least 8 characters long."
        );
        assert_eq!(sentence("Done."), "Done.");
        assert_eq!(sentence(""), "");
    }
}
