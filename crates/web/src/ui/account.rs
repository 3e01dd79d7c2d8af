//! `/ui/account`: the signed-in person's profile, their sessions and devices with "Sign out" per
//! other session, "Sign out everywhere", and "Sign out" for this one (the logout URL), and the
//! applications they registered (forms in [`super::applications`]), and the applications they
//! authorized, with "Revoke" ([`super::authorizations`]). Forms POST with the CSRF
//! field, then redirect (303) back with a flash message.

use super::applications::{self, ApplicationRow, RegisterForm};
use super::authorizations::{self, AuthorizationRow};
use super::{PageError, csrf, see_other};
use crate::audit::{self, Actor};
use crate::cookie;
use crate::extract::RequestMeta;
use crate::identity::session::{CurrentSession, MaybeSession, clear_session_cookie, logout_token};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use gatehouse_domain::audit::AuditEventType;
use gatehouse_domain::ids::TenantId;
use gatehouse_domain::session::Session;
use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

pub(super) const LOGIN: &str = "/ui/login?return_to=/ui/account";
const FLASH_COOKIE: &str = "gatehouse_flash";

/// Flash messages by code: only these texts are ever shown, whatever the cookie holds.
const FLASHES: &[(&str, &str)] = &[
    ("session_revoked", "That session has been signed out."),
    (
        "sessions_revoked",
        "You have been signed out everywhere else.",
    ),
    (
        "application_deactivated",
        "The application has been deactivated. It can no longer get tokens.",
    ),
    (
        "authorization_revoked",
        "Access has been revoked. The application can no longer use your account.",
    ),
];

#[derive(Serialize)]
struct AccountPage {
    title: &'static str,
    /// The name of the app (tenant) the account belongs to; `None` for the default tenant.
    app_name: Option<String>,
    /// The account's tenant id, carried by the page's links and forms; `None` for the default
    /// tenant.
    tenant: Option<String>,
    csrf_token: String,
    flash: Option<&'static str>,
    traits: Vec<TraitRow>,
    /// Verifiable addresses still waiting for their code.
    unverified: Vec<String>,
    sessions: Vec<SessionRow>,
    logout_token: String,
    applications: Vec<ApplicationRow>,
    register: RegisterForm,
    authorizations: Vec<AuthorizationRow>,
}

#[derive(Serialize)]
struct TraitRow {
    label: String,
    value: String,
}

#[derive(Serialize)]
struct SessionRow {
    id: Uuid,
    current: bool,
    ip_address: Option<String>,
    user_agent: Option<String>,
    first_seen: String,
    last_seen: String,
}

/// "first_name" → "First name".
fn label(name: &str) -> String {
    let spaced = name.replace('_', " ");
    let mut chars = spaced.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => spaced,
    }
}

fn traits(traits: &serde_json::Value) -> Vec<TraitRow> {
    let Some(object) = traits.as_object() else {
        return Vec::new();
    };
    object
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(name, value)| TraitRow {
            label: label(name),
            value: match value {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            },
        })
        .collect()
}

pub(crate) fn when(t: OffsetDateTime) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    t.to_offset(time::UtcOffset::UTC)
        .format(&format)
        .unwrap_or_default()
}

fn session_row(session: &Session, current: Uuid) -> SessionRow {
    SessionRow {
        id: session.id,
        current: session.id == current,
        ip_address: session.device.ip_address.clone(),
        user_agent: session.device.user_agent.clone(),
        first_seen: when(session.device.first_seen_at),
        last_seen: when(session.device.last_seen_at),
    }
}

fn flash_cookie(state: &AppState) -> String {
    state.settings.cookie_name(FLASH_COOKIE)
}

pub async fn page(
    State(state): State<AppState>,
    MaybeSession(current): MaybeSession,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let Some(current) = current else {
        // Signed out (of the tenant asked for): sign in there, then back here.
        let tenant = crate::identity::session::requested_tenant(query.as_deref())
            .unwrap_or(TenantId::DEFAULT);
        if tenant == TenantId::DEFAULT {
            return Ok(see_other(LOGIN, None));
        }
        let login = format!(
            "/ui/login?tenant={}&return_to=%2Fui%2Faccount%3Ftenant%3D{}",
            tenant.0, tenant.0
        );
        return Ok(see_other(&login, None));
    };
    let flash_name = flash_cookie(&state);
    let flash = cookie::get(&headers, &flash_name).and_then(|code| {
        FLASHES
            .iter()
            .find(|(c, _)| *c == code)
            .map(|(_, text)| *text)
    });
    let mut response = render(&state, &current, &headers, flash, RegisterForm::default()).await?;
    if cookie::get(&headers, &flash_name).is_some() {
        response.headers_mut().append(
            header::SET_COOKIE,
            cookie::clear(&state.settings, &flash_name),
        );
    }
    Ok(response)
}

/// The account page for `current`, with `register` as the "Register an application" form's
/// values and error (after a refused submission).
pub(super) async fn render(
    state: &AppState,
    current: &CurrentSession,
    headers: &HeaderMap,
    flash: Option<&'static str>,
    register: RegisterForm,
) -> Result<Response, PageError> {
    let now = state.now();
    let mut sessions: Vec<Session> = state
        .store
        .list_identity_sessions(current.session.tenant_id, current.identity.id, true)
        .await?
        .into_iter()
        .filter(|s| s.is_valid_at(now) && s.id != current.session.id)
        .collect();
    // This device first, with what the request just recorded.
    sessions.insert(0, current.session.clone());
    let applications = applications::rows(state, current.identity.id).await?;
    let authorizations =
        authorizations::rows(state, current.identity.tenant_id, current.identity.id).await?;
    let (csrf_token, csrf_cookie) = csrf::token(state, headers);
    let tenant = current.session.tenant_id;
    let html = state.pages.render(
        "account.html",
        AccountPage {
            title: "Your account",
            app_name: crate::identity::tenant::app_name(state, tenant).await,
            tenant: (tenant != TenantId::DEFAULT).then(|| tenant.0.to_string()),
            csrf_token,
            flash,
            traits: traits(&current.identity.traits),
            unverified: crate::identity::verification::unverified_addresses(&current.identity),
            sessions: sessions
                .iter()
                .map(|s| session_row(s, current.session.id))
                .collect(),
            logout_token: logout_token(state, &current.session),
            applications,
            register,
            authorizations,
        },
    )?;
    let mut response = html.into_response();
    if let Some(set) = csrf_cookie {
        response.headers_mut().append(header::SET_COOKIE, set);
    }
    Ok(response)
}

/// The submitted `csrf_token` of a url-encoded form body.
fn submitted_csrf(body: &[u8]) -> Option<String> {
    url::form_urlencoded::parse(body)
        .find(|(name, _)| name == "csrf_token")
        .map(|(_, value)| value.into_owned())
}

/// The signed-in session of a form POST whose CSRF token is valid: `None` when signed out (the
/// form goes to the login page), a 403 page when the token is wrong.
pub(super) fn checked(
    state: &AppState,
    current: Option<CurrentSession>,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Option<CurrentSession>, PageError> {
    let Some(current) = current else {
        return Ok(None);
    };
    csrf::verify(state, headers, submitted_csrf(body).as_deref())?;
    Ok(Some(current))
}

pub(super) fn back_with(state: &AppState, tenant: TenantId, flash: &str) -> Response {
    let flash = cookie::set(&state.settings, &flash_cookie(state), flash, Some(60));
    let page = format!(
        "/ui/account{}",
        crate::identity::tenant::query_suffix(tenant, true)
    );
    see_other(&page, Some(flash))
}

pub async fn revoke_one(
    State(state): State<AppState>,
    MaybeSession(current): MaybeSession,
    meta: RequestMeta,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let Some(current) = checked(&state, current, &headers, &body)? else {
        return Ok(see_other(LOGIN, None));
    };
    let id = Uuid::parse_str(&id).map_err(|_| PageError::not_found("There is no such session."))?;
    let revoked = state
        .store
        .revoke_session(current.session.tenant_id, Some(current.identity.id), id)
        .await?;
    if !revoked {
        return Err(PageError::not_found(
            "There is no such session, or it has already been signed out.",
        ));
    }
    audit::identity_event_in(
        &state,
        current.session.tenant_id,
        AuditEventType::SessionRevoked,
        current.identity.id,
        Actor::Person(&meta),
        serde_json::json!({"session_id": id}),
    )
    .await;
    if id == current.session.id {
        return Ok(see_other(
            "/ui/login",
            Some(clear_session_cookie(&state, current.session.tenant_id)),
        ));
    }
    Ok(back_with(
        &state,
        current.session.tenant_id,
        "session_revoked",
    ))
}

pub async fn revoke_all(
    State(state): State<AppState>,
    MaybeSession(current): MaybeSession,
    meta: RequestMeta,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let Some(current) = checked(&state, current, &headers, &body)? else {
        return Ok(see_other(LOGIN, None));
    };
    crate::identity::session::end_other_sessions(&state, &current, &meta).await?;
    Ok(back_with(
        &state,
        current.session.tenant_id,
        "sessions_revoked",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traits_read_as_labelled_rows() {
        let rows =
            traits(&serde_json::json!({"email": "a@b", "first_name": "Ada", "age": 3, "x": null}));
        let shown: Vec<(String, String)> = rows.into_iter().map(|r| (r.label, r.value)).collect();
        assert!(shown.contains(&("First name".into(), "Ada".into())));
        assert!(shown.contains(&("Age".into(), "3".into())));
        assert_eq!(shown.len(), 3);
    }
}
