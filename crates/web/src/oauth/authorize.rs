//! `GET|POST /oauth2/auth` (and its aliases): the authorization endpoint (RFC 6749 §4.1,
//! OpenID Connect Core §3.1.2, RFC 9207).
//!
//! A request that passes [`check`] is answered at once when the browser's session and a
//! remembered grant (or a first-party client) allow it. Otherwise it is kept server-side
//! ([`PendingAuthorization`]), bound to the browser by the `gatehouse_oauth2` cookie, and the
//! person is sent to sign in (coming back to `/oauth2/auth/continue?request=ID`) and to the
//! consent page. Taking the pending request to answer it deletes it: one request, one answer.

use crate::audit;
use crate::cookie;
use crate::extract::RequestMeta;
use crate::identity::session::{CurrentSession, session_in};
use crate::state::AppState;
use crate::ui::PageError;
use axum::body::Bytes;
use axum::extract::{Query, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use gatehouse_domain::audit::{AuditEvent, AuditEventType, AuditResult};
use gatehouse_domain::ids::{TenantId, new_row_id};
use gatehouse_domain::oauth::authorize::{
    AuthorizationRequest, AuthorizeError, Params, Prompt, ResponseMode, check,
};
use gatehouse_domain::oauth::client::Client;
use gatehouse_domain::oauth::code::{CODE_LIFESPAN, CodeGrant};
use gatehouse_domain::oauth::consent::ConsentGrant;
use gatehouse_domain::oauth::id_token::amr_of;
use gatehouse_domain::oauth::pending::{
    PENDING_LIFESPAN, PendingAuthorization, granted_without_asking, sign_in_satisfies,
};
use gatehouse_domain::oauth::scope::Scope;
use gatehouse_domain::secret::{TokenHash, random_token};
use serde::Deserialize;
use std::sync::Arc;
use uuid::Uuid;

/// The cookie that binds pending requests to the browser that made them.
const BROWSER_COOKIE: &str = "gatehouse_oauth2";

/// Where a person comes back to after signing in.
pub fn continue_path(id: Uuid) -> String {
    format!("/oauth2/auth/continue?request={id}")
}

/// The consent page of a pending request.
pub fn consent_path(id: Uuid) -> String {
    format!("/ui/consent?consent_challenge={id}")
}

pub async fn get(
    State(state): State<AppState>,
    headers: HeaderMap,
    meta: RequestMeta,
    RawQuery(query): RawQuery,
) -> Response {
    let params = parse_params(query.as_deref().unwrap_or("").as_bytes());
    start(&state, &headers, &meta, params).await
}

pub async fn post(
    State(state): State<AppState>,
    headers: HeaderMap,
    meta: RequestMeta,
    body: Bytes,
) -> Response {
    let is_form = crate::extract::media_type(&headers) == "application/x-www-form-urlencoded";
    if !is_form {
        return PageError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "An authorization request sent with POST must be a form \
             (application/x-www-form-urlencoded).",
        )
        .into_response();
    }
    start(&state, &headers, &meta, parse_params(&body)).await
}

/// The browser's session in `tenant` (the client's): a session of another tenant does not
/// count. A store failure was logged by `ApiError`; the request goes on as signed out.
pub async fn tenant_session(
    state: &AppState,
    tenant: TenantId,
    headers: &HeaderMap,
    meta: &RequestMeta,
) -> Option<CurrentSession> {
    session_in(state, tenant, headers, meta)
        .await
        .ok()
        .flatten()
}

/// Every value of every parameter, in order.
pub fn parse_params(raw: &[u8]) -> Params {
    let mut params = Params::new();
    for (name, value) in url::form_urlencoded::parse(raw) {
        params
            .entry(name.into_owned())
            .or_default()
            .push(value.into_owned());
    }
    params
}

async fn start(
    state: &AppState,
    headers: &HeaderMap,
    meta: &RequestMeta,
    params: Params,
) -> Response {
    let client = match params
        .get("client_id")
        .and_then(|v| v.first())
        .filter(|id| !id.is_empty())
    {
        Some(id) => match state.clients.get(id).await {
            Ok(found) => found.filter(|c| c.active),
            Err(err) => return PageError::from(err).into_response(),
        },
        None => None,
    };
    let request = match check(&params, client.as_deref()) {
        Ok(request) => request,
        Err(err) => return refusal(state, err),
    };
    let Some(client) = client else {
        return PageError::internal(
            "an authorization request passed without a client",
            &std::io::Error::other("no client"),
        )
        .into_response();
    };
    if let Err(inactive) = state
        .scopes
        .refuse_inactive(client.tenant_id, &request.scope)
    {
        return refusal(
            state,
            redirect_error(&request, "invalid_scope", inactive.to_string()),
        );
    }
    let session = tenant_session(state, client.tenant_id, headers, meta).await;
    let (browser, set_cookie) = browser_binding(state, headers);
    let now = state.now();
    let pending = PendingAuthorization {
        id: new_row_id(now),
        tenant_id: client.tenant_id,
        request,
        browser: TokenHash::of(&browser),
        created_at: now,
        expires_at: now + PENDING_LIFESPAN,
    };
    let mut response = match decide(state, &pending, &client, session.as_ref()).await {
        Ok(Step::Answer(answer)) => answer.respond(state, &pending).await,
        Ok(step) => match state.store.insert_pending(&pending).await {
            Ok(()) => step.redirect(state, &pending).await,
            Err(err) => PageError::from(err).into_response(),
        },
        Err(err) => err.into_response(),
    };
    if let Some(cookie) = set_cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

#[derive(Debug, Deserialize)]
pub struct ContinueQuery {
    request: Option<String>,
}

/// `GET /oauth2/auth/continue?request=ID`: back from signing in.
pub async fn resume(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<ContinueQuery>,
    meta: RequestMeta,
) -> Response {
    let loaded = match load_pending(&state, &headers, query.request.as_deref()).await {
        Ok(loaded) => loaded,
        Err(err) => return err.into_response(),
    };
    let (pending, client) = loaded;
    let session = tenant_session(&state, pending.tenant_id, &headers, &meta).await;
    match decide(&state, &pending, &client, session.as_ref()).await {
        Ok(Step::Answer(answer)) => finish(&state, &pending, answer).await,
        Ok(step) => step.redirect(&state, &pending).await,
        Err(err) => err.into_response(),
    }
}

/// A pending request named by the browser: live, made by this browser, for an active client.
pub async fn load_pending(
    state: &AppState,
    headers: &HeaderMap,
    id: Option<&str>,
) -> Result<(PendingAuthorization, Arc<Client>), PageError> {
    let gone = || {
        PageError::bad_request(
            "This sign-in request is no longer valid: it expired, was already answered, or was \
             started in another browser. Go back to the application and start again.",
        )
    };
    let id = id
        .and_then(|id| Uuid::parse_str(id).ok())
        .ok_or_else(gone)?;
    let pending = state.store.find_pending(id).await?.ok_or_else(gone)?;
    let browser = cookie::get(headers, &state.settings.cookie_name(BROWSER_COOKIE));
    let same_browser = browser.is_some_and(|value| {
        use subtle::ConstantTimeEq;
        bool::from(TokenHash::of(value).0.ct_eq(&pending.browser.0))
    });
    if !same_browser || !pending.is_live(state.now()) {
        return Err(gone());
    }
    let client = state
        .clients
        .get(&pending.request.client_id)
        .await?
        .filter(|c| c.active && c.tenant_id == pending.tenant_id)
        .ok_or_else(|| PageError::bad_request("The application is no longer available."))?;
    Ok((pending, client))
}

/// Whether `session` may answer `pending` without signing in again.
pub fn session_fits(state: &AppState, pending: &PendingAuthorization, s: &CurrentSession) -> bool {
    s.session.tenant_id == pending.tenant_id
        && sign_in_satisfies(pending, s.session.authenticated_at, state.now())
}

/// What happens next to a request.
pub enum Step {
    /// Send the person to sign in (again, when `refresh`).
    SignIn { refresh: bool },
    /// Send the person to the consent page.
    Consent,
    /// Answer the client.
    Answer(Answer),
}

/// How a request ends.
pub enum Answer {
    /// A code for these scopes, for this session.
    Code {
        scope: Scope,
        /// Remember the decision (the consent page's checkbox).
        remember: bool,
        session: Box<CurrentSession>,
    },
    /// An error sent to the client (`login_required`, `access_denied`, ...).
    Error {
        error: &'static str,
        description: String,
    },
}

async fn decide(
    state: &AppState,
    pending: &PendingAuthorization,
    client: &Client,
    session: Option<&CurrentSession>,
) -> Result<Step, PageError> {
    let request = &pending.request;
    let silent = request.prompt.contains(&Prompt::None);
    let Some(session) = session.filter(|s| session_fits(state, pending, s)) else {
        if silent {
            return Ok(Step::Answer(Answer::Error {
                error: "login_required",
                description: "the person must sign in".to_owned(),
            }));
        }
        return Ok(Step::SignIn {
            refresh: session.is_some(),
        });
    };
    let remembered = state
        .store
        .find_consent(pending.tenant_id, session.identity.id, &client.client_id)
        .await?;
    match granted_without_asking(request, client.metadata.skip_consent, remembered.as_ref()) {
        Some(scope) => Ok(Step::Answer(Answer::Code {
            scope,
            remember: false,
            session: Box::new(session.clone()),
        })),
        None if silent => Ok(Step::Answer(Answer::Error {
            error: "consent_required",
            description: "the person must consent to this request".to_owned(),
        })),
        None => Ok(Step::Consent),
    }
}

impl Step {
    async fn redirect(self, state: &AppState, pending: &PendingAuthorization) -> Response {
        match self {
            Step::SignIn { refresh } => {
                let back = state.settings.url(&continue_path(pending.id));
                let mut target = format!(
                    "/self-service/login/browser?return_to={}",
                    urlencoding(&back)
                );
                if refresh {
                    target.push_str("&refresh=true");
                }
                if let Some(hint) = &pending.request.login_hint {
                    target.push_str("&login_hint=");
                    target.push_str(&urlencoding(hint));
                }
                // The person signs in to the client's tenant.
                target.push_str(&crate::identity::tenant::query_suffix(
                    pending.tenant_id,
                    false,
                ));
                crate::ui::see_other(&target, None)
            }
            Step::Consent => crate::ui::see_other(&consent_path(pending.id), None),
            Step::Answer(answer) => answer.respond(state, pending).await,
        }
    }
}

fn urlencoding(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// Takes the pending request (so it is answered once) and answers it.
pub async fn finish(state: &AppState, pending: &PendingAuthorization, answer: Answer) -> Response {
    match state.store.take_pending(pending.id).await {
        Ok(Some(_)) => answer.respond(state, pending).await,
        Ok(None) => PageError::bad_request(
            "This sign-in request was already answered. Go back to the application and start \
             again.",
        )
        .into_response(),
        Err(err) => PageError::from(err).into_response(),
    }
}

impl Answer {
    /// Issues the code (if any) and sends the answer to the client's redirect URI.
    pub async fn respond(self, state: &AppState, pending: &PendingAuthorization) -> Response {
        match self {
            Answer::Error { error, description } => {
                refusal(state, redirect_error(&pending.request, error, description))
            }
            Answer::Code {
                scope,
                remember,
                session,
            } => respond_with_code(state, pending, scope, remember, &session)
                .await
                .unwrap_or_else(IntoResponse::into_response),
        }
    }
}

/// An error for the client's redirect URI.
fn redirect_error(
    request: &AuthorizationRequest,
    error: &'static str,
    description: String,
) -> AuthorizeError {
    AuthorizeError::Redirect {
        redirect_uri: request.redirect_uri.clone(),
        response_mode: request.response_mode,
        state: request.state.clone(),
        error,
        description,
    }
}

/// The answer to a refused request: an error page when the redirect URI cannot be trusted,
/// else a redirect carrying `error`, `error_description`, `state` and `iss`.
pub fn refusal(state: &AppState, err: AuthorizeError) -> Response {
    match err {
        AuthorizeError::Page { error, description } => PageError::bad_request(format!(
            "{} ({error})",
            crate::identity::flow::sentence(&description)
        ))
        .into_response(),
        AuthorizeError::Redirect {
            redirect_uri,
            response_mode,
            state: client_state,
            error,
            description,
        } => {
            let mut params = vec![
                ("error", error.to_owned()),
                ("error_description", description),
            ];
            if let Some(s) = client_state {
                params.push(("state", s));
            }
            params.push(("iss", state.settings.issuer.clone()));
            deliver(&redirect_uri, response_mode, &params)
        }
    }
}

/// Records the grant (connected apps list it; `remember` lets later requests skip the consent
/// page), stores a code for `scope` and `session`, and sends it to the client.
async fn respond_with_code(
    state: &AppState,
    pending: &PendingAuthorization,
    scope: Scope,
    remember: bool,
    session: &CurrentSession,
) -> Result<Response, PageError> {
    let request = &pending.request;
    let now = state.now();
    state
        .store
        .save_consent(&ConsentGrant {
            tenant_id: pending.tenant_id,
            identity_id: session.identity.id,
            client_id: request.client_id.clone(),
            scope: scope.clone(),
            remembered: remember,
            created_at: now,
            last_used_at: now,
        })
        .await?;
    let mut amr: Vec<String> = Vec::new();
    for method in &session.session.methods {
        let value = amr_of(&method.method).to_owned();
        if !amr.contains(&value) {
            amr.push(value);
        }
    }
    let grant = CodeGrant {
        tenant_id: pending.tenant_id,
        client_id: request.client_id.clone(),
        identity_id: session.identity.id,
        session_id: Some(session.session.id),
        redirect_uri: request.redirect_uri.clone(),
        redirect_uri_sent: request.redirect_uri_sent,
        scope,
        nonce: request.nonce.clone(),
        code_challenge: request.code_challenge.clone(),
        auth_time: session.session.authenticated_at,
        amr,
        issued_at: now,
        expires_at: now + CODE_LIFESPAN,
    };
    let (code, hash) = grant.mint();
    state.store.insert_code(&hash, &grant).await?;
    let mut params = vec![("code", code.expose().to_owned())];
    if let Some(s) = &request.state {
        params.push(("state", s.clone()));
    }
    params.push(("iss", state.settings.issuer.clone()));
    Ok(deliver(
        &request.redirect_uri,
        request.response_mode,
        &params,
    ))
}

/// Sends `params` to `redirect_uri`: in its query (303), or as an auto-submitting form.
fn deliver(redirect_uri: &str, mode: ResponseMode, params: &[(&str, String)]) -> Response {
    match mode {
        ResponseMode::Query => {
            let Ok(mut url) = url::Url::parse(redirect_uri) else {
                return PageError::bad_request("The application's redirect URI is not valid.")
                    .into_response();
            };
            {
                let mut query = url.query_pairs_mut();
                for (name, value) in params {
                    query.append_pair(name, value);
                }
            }
            crate::ui::see_other(url.as_str(), None)
        }
        ResponseMode::FormPost => form_post(redirect_uri, params),
    }
}

/// The script that submits the form; allowed by its hash in the page's CSP.
const SUBMIT_SCRIPT: &str = "document.forms[0].submit();";

/// OAuth 2.0 Form Post Response Mode: a page whose only content is a form posting `params` to
/// `redirect_uri`, submitted by a script (or a button without JavaScript).
fn form_post(redirect_uri: &str, params: &[(&str, String)]) -> Response {
    let escape = |s: &str| {
        s.replace('&', "&amp;")
            .replace('"', "&quot;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('\'', "&#39;")
    };
    let mut fields = String::new();
    for (name, value) in params {
        fields.push_str(&format!(
            "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
            escape(name),
            escape(value)
        ));
    }
    let html = format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Continue</title></head>\
         <body><form method=\"post\" action=\"{}\">{fields}<noscript><button type=\"submit\">\
         Continue</button></noscript></form><script>{SUBMIT_SCRIPT}</script></body></html>",
        escape(redirect_uri)
    );
    let script_hash = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(TokenHash::of(SUBMIT_SCRIPT).0)
    };
    let target = form_action_source(redirect_uri).unwrap_or_else(|| "'none'".to_owned());
    let csp = format!(
        "default-src 'none'; script-src 'sha256-{script_hash}'; form-action {target}; \
         frame-ancestors 'none'; base-uri 'none'"
    );
    let mut response = Html(html).into_response();
    let headers = response.headers_mut();
    if let Ok(csp) = HeaderValue::from_str(&csp) {
        headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

/// The CSP source of a redirect URI (its origin, or the scheme for a custom-scheme URI), so
/// pages whose forms end in a redirect to the client may allow it in `form-action`.
pub fn form_action_source(redirect_uri: &str) -> Option<String> {
    let url = url::Url::parse(redirect_uri).ok()?;
    match url.origin() {
        url::Origin::Tuple(..) => Some(url.origin().ascii_serialization()),
        url::Origin::Opaque(_) => Some(format!("{}:", url.scheme())),
    }
}

/// The `form-action` source a self-service page needs when its flow returns to a pending
/// authorization request (the flow's last redirect goes on to the client).
pub async fn form_targets_for(
    state: &AppState,
    return_to: Option<&str>,
) -> Option<crate::ui::FormTargets> {
    let prefix = state.settings.url("/oauth2/auth/continue?request=");
    let id = return_to?.strip_prefix(&prefix)?;
    let id = Uuid::parse_str(id).ok()?;
    let pending = state.store.find_pending(id).await.ok()??;
    let target = form_action_source(&pending.request.redirect_uri)?;
    Some(crate::ui::FormTargets(vec![target]))
}

/// The browser-binding cookie's value, and its `Set-Cookie` when it is new.
fn browser_binding(state: &AppState, headers: &HeaderMap) -> (String, Option<HeaderValue>) {
    let name = state.settings.cookie_name(BROWSER_COOKIE);
    if let Some(existing) = cookie::get(headers, &name).filter(|v| {
        v.len() == 43
            && v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    }) {
        return (existing.to_owned(), None);
    }
    let fresh = random_token(32);
    let set = cookie::set(&state.settings, &name, &fresh, None);
    (fresh, Some(set))
}

/// Records a consent decision as an audit event.
pub async fn audit_consent(
    state: &AppState,
    meta: &RequestMeta,
    pending: &PendingAuthorization,
    identity_id: Uuid,
    granted: Option<&Scope>,
) {
    let (event_type, result) = match granted {
        Some(_) => (AuditEventType::ConsentGranted, AuditResult::Success),
        None => (AuditEventType::ConsentDenied, AuditResult::Failure),
    };
    let mut details = serde_json::json!({
        "client_id": pending.request.client_id,
        "requested_scope": pending.request.scope.to_string(),
    });
    if let Some(scope) = granted {
        details["granted_scope"] = serde_json::Value::String(scope.to_string());
    }
    audit::record(
        state,
        AuditEvent::new(pending.tenant_id, event_type, result, state.now())
            .identity(identity_id)
            .actor("self")
            .client(meta.ip.as_deref(), meta.user_agent.as_deref())
            .details(details),
    )
    .await;
}
