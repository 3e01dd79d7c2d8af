//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): `GET|POST
//! /oauth2/sessions/logout` ends the browser's Gatehouse session and sends it back to the client,
//! and `/ui/logout` is the page that asks before signing out and says it is done.
//!
//! A request ends the session at once only with an `id_token_hint` we signed (an expired one
//! is accepted) whose `sub` is the signed-in person. Without a hint, or with one for somebody
//! else, the person confirms on `/ui/logout` with a CSRF-protected button, so a link on another
//! site cannot sign anyone out. The browser goes to `post_logout_redirect_uri` (with `state`)
//! only when it is exactly one of the requesting client's registered URIs; otherwise it sees the
//! signed-out page. `ui_locales` is accepted and ignored.
//!
//! The session that ends is the browser's session of the requesting client's tenant (the hint's
//! `tenant_id`, else the client's tenant, else the default tenant): signing out of one app
//! leaves the browser's sessions of other tenants alone.

use crate::audit;
use crate::extract::RequestMeta;
use crate::extract::form::FormParams;
use crate::extract::media_type;
use crate::identity::session::{CurrentSession, clear_session_cookie, session_in};
use crate::state::AppState;
use crate::ui::{PageError, csrf, see_other};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Uri, header};
use axum::response::{IntoResponse, Response};
use gatehouse_domain::audit::{AuditEvent, AuditEventType, AuditResult};
use gatehouse_domain::ids::TenantId;
use gatehouse_domain::oauth::logout::{
    IdTokenHint, id_token_hint, post_logout_redirect, requesting_client,
};
use serde::Serialize;
use serde_json::json;

/// The signed-out and confirmation page.
pub const PAGE: &str = "/ui/logout";

/// A logout request's parameters (RP-Initiated Logout §2), from the query or a form body.
#[derive(Default)]
struct LogoutParams {
    id_token_hint: Option<String>,
    client_id: Option<String>,
    post_logout_redirect_uri: Option<String>,
    state: Option<String>,
}

impl LogoutParams {
    fn parse(raw: &[u8]) -> Result<Self, PageError> {
        let mut form = FormParams::parse(raw).map_err(|e| PageError::bad_request(e.description))?;
        Ok(Self {
            id_token_hint: form.take("id_token_hint"),
            client_id: form.take("client_id"),
            post_logout_redirect_uri: form.take("post_logout_redirect_uri"),
            state: form.take("state"),
        })
    }

    /// The query string carrying the client, URI and state to `/ui/logout` (never the hint).
    fn carried(&self, client_id: Option<&str>) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in [
            ("client_id", client_id),
            (
                "post_logout_redirect_uri",
                self.post_logout_redirect_uri.as_deref(),
            ),
            ("state", self.state.as_deref()),
        ] {
            if let Some(value) = value {
                query.append_pair(name, value);
            }
        }
        query.finish()
    }
}

fn form_body(headers: &HeaderMap, body: &[u8]) -> Result<LogoutParams, PageError> {
    if body.is_empty() {
        return Ok(LogoutParams::default());
    }
    if media_type(headers) != "application/x-www-form-urlencoded" {
        return Err(PageError::bad_request(
            "The request body must be application/x-www-form-urlencoded.",
        ));
    }
    LogoutParams::parse(body)
}

/// The hint's claims once its signature checked out against our own published keys.
fn verified_hint(state: &AppState, raw: &str) -> Result<IdTokenHint, PageError> {
    let invalid = || {
        PageError::bad_request(
            "The sign-out request names an ID token (id_token_hint) this server did not issue.",
        )
    };
    let keys = state
        .keys
        .current()
        .map_err(|e| PageError::internal("signing keys unavailable", &e))?;
    let jwt = keys.verify(raw).map_err(|_| invalid())?;
    id_token_hint(jwt.typ.as_deref(), &jwt.claims, &state.settings.issuer).map_err(|e| {
        tracing::debug!(reason = %e, "id_token_hint refused");
        invalid()
    })
}

/// Where to send the browser afterwards: the requested URI when the client is known, active and
/// registered it exactly; `None` otherwise.
async fn redirect_target(
    state: &AppState,
    client_id: Option<&str>,
    params: &LogoutParams,
) -> Result<Option<String>, PageError> {
    let (Some(client_id), Some(requested)) =
        (client_id, params.post_logout_redirect_uri.as_deref())
    else {
        return Ok(None);
    };
    let Some(client) = state.clients.get(client_id).await?.filter(|c| c.active) else {
        tracing::debug!(client.id = %client_id, "post-logout redirect refused: unknown client");
        return Ok(None);
    };
    let target = post_logout_redirect(
        &client.metadata.post_logout_redirect_uris,
        requested,
        params.state.as_deref(),
    );
    if target.is_none() {
        tracing::debug!(client.id = %client_id, "post-logout redirect refused: not registered");
    }
    Ok(target)
}

/// Revokes the browser's session and records the logout.
async fn end(
    state: &AppState,
    current: &CurrentSession,
    meta: &RequestMeta,
    client_id: Option<&str>,
) -> Result<(), PageError> {
    let session = &current.session;
    state
        .store
        .revoke_session(session.tenant_id, Some(session.identity_id), session.id)
        .await?;
    tracing::debug!(session.id = %session.id, "session ended by RP-initiated logout");
    let event = AuditEvent::new(
        session.tenant_id,
        AuditEventType::Logout,
        AuditResult::Success,
        state.now(),
    )
    .identity(session.identity_id)
    .actor("self")
    .client(meta.ip.as_deref(), meta.user_agent.as_deref())
    .details(json!({
        "session_id": session.id,
        "client_id": client_id,
        "method": "rp_initiated_logout",
    }));
    audit::record(state, event).await;
    Ok(())
}

/// After a logout: to the client's URI, or to the signed-out page; the cookie of `tenant` is
/// cleared.
fn finished(state: &AppState, tenant: TenantId, target: Option<String>) -> Response {
    let location = target.unwrap_or_else(|| state.settings.url(PAGE));
    see_other(&location, Some(clear_session_cookie(state, tenant)))
}

/// The tenant whose session a logout is about: the hint's, else the requesting client's, else
/// the default tenant.
async fn logout_tenant(
    state: &AppState,
    hint: Option<&IdTokenHint>,
    client_id: Option<&str>,
) -> Result<TenantId, PageError> {
    if let Some(tenant) = hint.and_then(|h| h.tenant_id) {
        return Ok(tenant);
    }
    let client = match client_id {
        Some(id) => state.clients.get(id).await?,
        None => None,
    };
    Ok(client.map_or(TenantId::DEFAULT, |c| c.tenant_id))
}

/// The browser's session of `tenant` (a store failure was logged; the request goes on as
/// signed out).
async fn session_of(
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

async fn logout(
    state: AppState,
    headers: HeaderMap,
    meta: RequestMeta,
    params: LogoutParams,
) -> Result<Response, PageError> {
    let hint = params
        .id_token_hint
        .as_deref()
        .map(|raw| verified_hint(&state, raw))
        .transpose()?;
    let client_id = requesting_client(hint.as_ref(), params.client_id.as_deref())
        .map_err(|e| PageError::bad_request(format!("The sign-out request is not valid: {e}.")))?;
    let target = redirect_target(&state, client_id, &params).await?;
    let tenant = logout_tenant(&state, hint.as_ref(), client_id).await?;
    let Some(current) = session_of(&state, tenant, &headers, &meta).await else {
        // Nobody is signed in here: nothing to end.
        return Ok(finished(&state, tenant, target));
    };
    let hint_names_this_person = hint.as_ref().is_some_and(|h| {
        h.sub == current.identity.id.to_string()
            && h.tenant_id.is_none_or(|t| t == current.session.tenant_id)
    });
    if hint_names_this_person {
        end(&state, &current, &meta, client_id).await?;
        return Ok(finished(&state, tenant, target));
    }
    // No hint, or a hint for someone else: the person decides.
    let query = params.carried(client_id);
    let page = if query.is_empty() {
        PAGE.to_owned()
    } else {
        format!("{PAGE}?{query}")
    };
    Ok(see_other(&state.settings.url(&page), None))
}

/// `GET /oauth2/sessions/logout`.
pub async fn get(
    State(state): State<AppState>,
    headers: HeaderMap,
    meta: RequestMeta,
    uri: Uri,
) -> Result<Response, PageError> {
    let params = LogoutParams::parse(uri.query().unwrap_or("").as_bytes())?;
    logout(state, headers, meta, params).await
}

/// `POST /oauth2/sessions/logout` (a form body, same parameters).
pub async fn post(
    State(state): State<AppState>,
    meta: RequestMeta,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let params = form_body(&headers, &body)?;
    logout(state, headers, meta, params).await
}

#[derive(Serialize)]
struct LogoutPage {
    title: &'static str,
    signed_out: bool,
    csrf_token: String,
    client_name: Option<String>,
    client_id: Option<String>,
    post_logout_redirect_uri: Option<String>,
    state: Option<String>,
}

fn signed_out_page(state: &AppState, cookie: Option<HeaderValue>) -> Result<Response, PageError> {
    let html = state.pages.render(
        "logout.html",
        LogoutPage {
            title: "Signed out",
            signed_out: true,
            csrf_token: String::new(),
            client_name: None,
            client_id: None,
            post_logout_redirect_uri: None,
            state: None,
        },
    )?;
    let mut response = html.into_response();
    if let Some(cookie) = cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

/// `GET /ui/logout`: "Sign out?" with a button when signed in, "You have been signed out"
/// otherwise. The form carries the client, URI and state back to the POST, which checks them
/// again.
pub async fn page(
    State(state): State<AppState>,
    meta: RequestMeta,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, PageError> {
    let params = LogoutParams::parse(uri.query().unwrap_or("").as_bytes())?;
    let tenant = logout_tenant(&state, None, params.client_id.as_deref()).await?;
    if session_of(&state, tenant, &headers, &meta).await.is_none() {
        return signed_out_page(&state, None);
    }
    let client = match params.client_id.as_deref() {
        Some(id) => state.clients.get(id).await?.filter(|c| c.active),
        None => None,
    };
    let target = redirect_target(&state, params.client_id.as_deref(), &params).await?;
    let (csrf_token, csrf_cookie) = csrf::token(&state, &headers);
    let html = state.pages.render(
        "logout.html",
        LogoutPage {
            title: "Sign out",
            signed_out: false,
            csrf_token,
            client_name: client.map(|c| c.metadata.client_name.clone()),
            client_id: params.client_id,
            post_logout_redirect_uri: params.post_logout_redirect_uri,
            state: params.state,
        },
    )?;
    let mut response = html.into_response();
    if let Some(set) = csrf_cookie {
        response.headers_mut().append(header::SET_COOKIE, set);
    }
    // The form's answer redirects to the client: its origin must be a permitted form target
    // (CSP `form-action` also governs redirects after a submission).
    if let Some(origin) = target
        .as_deref()
        .and_then(crate::oauth::authorize::form_action_source)
    {
        response
            .extensions_mut()
            .insert(crate::ui::FormTargets(vec![origin]));
    }
    Ok(response)
}

/// `POST /ui/logout`: the "Sign out" button (CSRF-checked). Ends the session if there still is
/// one, then goes to the client's URI when it is registered, or shows the signed-out page.
pub async fn confirm(
    State(state): State<AppState>,
    meta: RequestMeta,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let csrf_token = url::form_urlencoded::parse(&body)
        .find(|(name, _)| name == "csrf_token")
        .map(|(_, value)| value.into_owned());
    csrf::verify(&state, &headers, csrf_token.as_deref())?;
    let params = form_body(&headers, &body)?;
    let target = redirect_target(&state, params.client_id.as_deref(), &params).await?;
    let tenant = logout_tenant(&state, None, params.client_id.as_deref()).await?;
    if let Some(current) = session_of(&state, tenant, &headers, &meta).await {
        end(&state, &current, &meta, params.client_id.as_deref()).await?;
    }
    match target {
        Some(target) => Ok(see_other(
            &target,
            Some(clear_session_cookie(&state, tenant)),
        )),
        None => signed_out_page(&state, Some(clear_session_cookie(&state, tenant))),
    }
}
