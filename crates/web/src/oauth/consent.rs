//! `/ui/consent`: the person decides what a client may have. `GET ?consent_challenge=ID` shows
//! the client's name and one checkbox per requested scope with its display name and description
//! (`openid` cannot be unchecked), "Remember this decision", "Allow" and "Deny". The `POST`
//! (CSRF-checked, same browser, same fresh-enough session) answers the pending request: a code
//! for the scopes left checked, or `access_denied`.

use super::authorize::{self, Answer, form_action_source, load_pending, session_fits};
use crate::extract::RequestMeta;
use crate::state::AppState;
use crate::ui::{FormTargets, PageError, csrf, see_other};
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use gatehouse_domain::oauth::pending::granted_by_form;
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize)]
pub struct ConsentQuery {
    consent_challenge: Option<String>,
}

#[derive(Serialize)]
struct ScopeRow<'a> {
    name: &'a str,
    display_name: &'a str,
    description: &'a str,
    required: bool,
}

#[derive(Serialize)]
struct ConsentPage<'a> {
    csrf_token: String,
    consent_challenge: String,
    client_name: &'a str,
    client_uri: &'a str,
    policy_uri: &'a str,
    tos_uri: &'a str,
    account: String,
    scopes: Vec<ScopeRow<'a>>,
}

/// `GET /ui/consent?consent_challenge=ID`.
pub async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<ConsentQuery>,
    meta: RequestMeta,
) -> Result<Response, PageError> {
    let (pending, client) =
        load_pending(&state, &headers, query.consent_challenge.as_deref()).await?;
    let session = authorize::tenant_session(&state, pending.tenant_id, &headers, &meta).await;
    let Some(current) = session.filter(|s| session_fits(&state, &pending, s)) else {
        // Signed out (or the sign-in is too old) since: sign in again through the request.
        return Ok(see_other(&authorize::continue_path(pending.id), None));
    };
    let catalog = state.scopes.snapshot();
    let described = catalog.describe(pending.tenant_id, &pending.request.scope);
    let meta = &client.metadata;
    let client_name = if meta.client_name.is_empty() {
        client.client_id.as_str()
    } else {
        meta.client_name.as_str()
    };
    let account = current
        .identity
        .traits
        .get("email")
        .and_then(|v| v.as_str())
        .map(str::to_owned)
        .unwrap_or_else(|| current.identity.id.to_string());
    let (csrf_token, cookie) = csrf::token(&state, &headers);
    let context = ConsentPage {
        csrf_token,
        consent_challenge: pending.id.to_string(),
        client_name,
        client_uri: if meta.client_uri.is_empty() {
            &meta.website_url
        } else {
            &meta.client_uri
        },
        policy_uri: &meta.policy_uri,
        tos_uri: &meta.tos_uri,
        account,
        scopes: described
            .iter()
            .map(|d| ScopeRow {
                name: d.name,
                display_name: d.display_name,
                description: d.description,
                required: d.name == "openid",
            })
            .collect(),
    };
    let html = state.pages.render("oauth/consent.html", &context)?;
    let mut response = html.into_response();
    if let Some(cookie) = cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    if let Some(target) = form_action_source(&pending.request.redirect_uri) {
        response.extensions_mut().insert(FormTargets(vec![target]));
    }
    Ok(response)
}

/// The consent form as submitted.
#[derive(Debug, Default)]
struct ConsentForm {
    csrf_token: Option<String>,
    consent_challenge: Option<String>,
    grant_scope: Vec<String>,
    remember: bool,
    allow: Option<bool>,
}

fn parse_form(body: &[u8]) -> ConsentForm {
    let mut form = ConsentForm::default();
    for (name, value) in url::form_urlencoded::parse(body) {
        match name.as_ref() {
            "csrf_token" => form.csrf_token = Some(value.into_owned()),
            "consent_challenge" => form.consent_challenge = Some(value.into_owned()),
            "grant_scope" => {
                // Each checkbox sends one value; a script may send them space-separated.
                form.grant_scope.extend(
                    value
                        .split(' ')
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned),
                );
            }
            "remember" => form.remember = matches!(value.as_ref(), "true" | "on" | "1"),
            "action" => {
                form.allow = match value.as_ref() {
                    "allow" => Some(true),
                    "deny" => Some(false),
                    _ => None,
                }
            }
            _ => {}
        }
    }
    form
}

/// `POST /ui/consent`.
pub async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    meta: RequestMeta,
    body: Bytes,
) -> Result<Response, PageError> {
    let form = parse_form(&body);
    csrf::verify(&state, &headers, form.csrf_token.as_deref())?;
    let (pending, _client) =
        load_pending(&state, &headers, form.consent_challenge.as_deref()).await?;
    let session = authorize::tenant_session(&state, pending.tenant_id, &headers, &meta).await;
    let Some(current) = session.filter(|s| session_fits(&state, &pending, s)) else {
        return Ok(see_other(&authorize::continue_path(pending.id), None));
    };
    let allow = form
        .allow
        .ok_or_else(|| PageError::bad_request("Choose Allow or Deny."))?;
    let identity_id = current.identity.id;
    let (answer, granted) = if allow {
        let scope = granted_by_form(&pending.request.scope, &form.grant_scope);
        (
            Answer::Code {
                scope: scope.clone(),
                remember: form.remember,
                session: Box::new(current),
            },
            Some(scope),
        )
    } else {
        (
            Answer::Error {
                error: "access_denied",
                description: "the person denied the request".to_owned(),
            },
            None,
        )
    };
    let response = authorize::finish(&state, &pending, answer).await;
    if response.status().is_redirection() || response.status().is_success() {
        authorize::audit_consent(&state, &meta, &pending, identity_id, granted.as_ref()).await;
    }
    Ok(response)
}
