//! The developer console at `/console/` (issue 8, point 2): server-rendered pages where a
//! developer lists, creates, renames and deletes their apps (tenants) and their apps' API keys.
//!
//! Developers are identities of the built-in console tenant ([`TenantId::CONSOLE`]): they sign
//! up, verify, sign in and recover through the ordinary self-service pages with
//! `?tenant=<console>`, and the console reads that tenant's session cookie. A developer sees and
//! changes only the apps they own; another developer's app is "not found". Every form POSTs
//! with the CSRF field and answers with a redirect (303) and a flash message, or with the page
//! and what is wrong (400).

mod api_keys;
mod apps;
mod audit;
mod clients;
mod magic_links;
mod providers;
mod users;

use crate::cookie;
use crate::extract::RequestMeta;
use crate::identity::session::{CurrentSession, logout_token, session_in};
use crate::state::AppState;
use crate::ui::{PageError, csrf, see_other};
use axum::Router;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use gatehouse_domain::ids::TenantId;
use gatehouse_domain::tenant::{MAX_NAME_CHARS, Tenant, TenantError};
use serde::Serialize;
use uuid::Uuid;

/// Where a developer without a console session goes: the console tenant's sign-in page, then
/// back to the console.
fn login_url() -> String {
    format!(
        "/ui/login?tenant={}&return_to=%2Fconsole%2F",
        TenantId::CONSOLE.0
    )
}

const FLASH_COOKIE: &str = "gatehouse_console_flash";

/// Flash messages by code: only these texts are ever shown, whatever the cookie holds.
const FLASHES: &[(&str, &str)] = &[
    ("app_created", "The app has been created."),
    ("app_renamed", "The app has been renamed."),
    (
        "app_deleted",
        "The app and everything it owned have been deleted.",
    ),
    (
        "api_key_revoked",
        "The API key has been revoked. It no longer works.",
    ),
    ("settings_saved", "The settings have been saved."),
    ("provider_deleted", "The provider has been removed."),
    ("client_updated", "The client has been saved."),
    (
        "client_deleted",
        "The client has been deleted. Its tokens no longer work.",
    ),
    (
        "user_disabled",
        "The user has been disabled and signed out everywhere.",
    ),
    ("user_enabled", "The user has been enabled."),
    ("user_deleted", "The user has been deleted."),
];

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console", get(|| async { see_other("/console/", None) }))
        .route("/console/", get(apps::list))
        .route("/console/apps", post(apps::create))
        .route("/console/apps/{id}", get(apps::show))
        .route("/console/apps/{id}/rename", post(apps::rename))
        .route(
            "/console/apps/{id}/delete",
            get(apps::confirm_delete).post(apps::delete),
        )
        .route("/console/apps/{id}/api-keys", post(api_keys::create))
        .route(
            "/console/apps/{id}/api-keys/{key_id}/revoke",
            post(api_keys::revoke),
        )
        .route(
            "/console/apps/{id}/magic-links",
            get(magic_links::show).post(magic_links::save),
        )
        .route(
            "/console/apps/{id}/providers",
            get(providers::show).post(providers::save_provider),
        )
        .route(
            "/console/apps/{id}/providers/{name}/delete",
            post(providers::delete),
        )
        .route(
            "/console/apps/{id}/clients",
            get(clients::list).post(clients::create),
        )
        .route(
            "/console/apps/{id}/clients/{client_id}",
            get(clients::edit).post(clients::update),
        )
        .route(
            "/console/apps/{id}/clients/{client_id}/delete",
            post(clients::delete),
        )
        .route("/console/apps/{id}/users", get(users::list))
        .route(
            "/console/apps/{id}/users/{user_id}/disable",
            post(users::disable),
        )
        .route(
            "/console/apps/{id}/users/{user_id}/enable",
            post(users::enable),
        )
        .route(
            "/console/apps/{id}/users/{user_id}/delete",
            get(users::confirm_delete).post(users::delete),
        )
        .route("/console/apps/{id}/audit", get(audit::list))
        .route("/console/{*rest}", any(not_found))
}

async fn not_found() -> PageError {
    PageError::not_found("There is no page at this address.")
}

/// Who is signed in, as the console's header shows them.
#[derive(Serialize)]
struct DeveloperView {
    email: String,
    logout_token: String,
    tenant: Uuid,
}

impl DeveloperView {
    fn new(state: &AppState, developer: &CurrentSession) -> Self {
        let email = developer
            .identity
            .traits
            .get("email")
            .and_then(|e| e.as_str())
            .unwrap_or_default()
            .to_owned();
        Self {
            email,
            logout_token: logout_token(state, &developer.session),
            tenant: TenantId::CONSOLE.0,
        }
    }
}

/// The request's console session, if it has one.
async fn developer(
    state: &AppState,
    headers: &HeaderMap,
    meta: &RequestMeta,
) -> Result<Option<CurrentSession>, PageError> {
    Ok(session_in(state, TenantId::CONSOLE, headers, meta).await?)
}

/// The console session of a form POST whose CSRF token is valid: `None` when signed out (the
/// form goes to the login page), a 403 page when the token is wrong or missing.
async fn developer_posting(
    state: &AppState,
    headers: &HeaderMap,
    meta: &RequestMeta,
    body: &[u8],
) -> Result<Option<CurrentSession>, PageError> {
    let Some(developer) = developer(state, headers, meta).await? else {
        return Ok(None);
    };
    csrf::verify(state, headers, form_field(body, "csrf_token").as_deref())?;
    Ok(Some(developer))
}

/// The value of field `name` of a url-encoded form body.
fn form_field(body: &[u8], name: &str) -> Option<String> {
    url::form_urlencoded::parse(body)
        .find(|(field, _)| field == name)
        .map(|(_, value)| value.into_owned())
}

/// The app `raw` names if `developer` owns it; "not found" for anything else (not an id, no
/// such app, another developer's app), so ids reveal nothing.
async fn owned_app(
    state: &AppState,
    developer: &CurrentSession,
    raw: &str,
) -> Result<Tenant, PageError> {
    let missing = || PageError::not_found("You have no app with this id.");
    let id = Uuid::try_parse(raw).map_err(|_| missing())?;
    state
        .store
        .find_owned_tenant(developer.identity.id, TenantId(id))
        .await?
        .ok_or_else(missing)
}

/// Renders console page `template` with `context` (which names the signed-in developer), setting
/// the CSRF cookie when it is new and clearing a flash that was shown.
fn page(
    state: &AppState,
    template: &str,
    context: impl Serialize,
    csrf_cookie: Option<HeaderValue>,
    headers: &HeaderMap,
) -> Result<Response, PageError> {
    let mut response = state.pages.render(template, context)?.into_response();
    if let Some(set) = csrf_cookie {
        response.headers_mut().append(header::SET_COOKIE, set);
    }
    let flash = state.settings.cookie_name(FLASH_COOKIE);
    if cookie::get(headers, &flash).is_some() {
        response
            .headers_mut()
            .append(header::SET_COOKIE, cookie::clear(&state.settings, &flash));
    }
    Ok(response)
}

/// The flash message the request's cookie asks for, if it is one of ours.
fn flash(state: &AppState, headers: &HeaderMap) -> Option<&'static str> {
    let code = cookie::get(headers, &state.settings.cookie_name(FLASH_COOKIE))?;
    FLASHES
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, text)| *text)
}

/// 303 to `location` with flash message `code`.
fn redirect_with(state: &AppState, location: &str, code: &str) -> Response {
    let name = state.settings.cookie_name(FLASH_COOKIE);
    let flash = cookie::set(&state.settings, &name, code, Some(60));
    see_other(location, Some(flash))
}

fn to_login() -> Response {
    see_other(&login_url(), None)
}

/// The CSRF field for the page's forms and, when new, its cookie.
fn csrf_pair(state: &AppState, headers: &HeaderMap) -> (String, Option<HeaderValue>) {
    csrf::token(state, headers)
}

/// Why a name (of an app or a key) was refused, as a sentence for the form.
fn name_refusal(err: &TenantError) -> String {
    match err {
        TenantError::EmptyName => "Enter a name.".to_owned(),
        TenantError::LongName => {
            format!("The name can be at most {MAX_NAME_CHARS} characters long.")
        }
        TenantError::ControlInName => "The name must not contain control characters.".to_owned(),
        other => other.to_string(),
    }
}
