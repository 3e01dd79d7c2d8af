//! Logout. API clients: `DELETE /self-service/logout/api` with `{"session_token"}`. Browsers:
//! `GET /self-service/logout/browser` answers a logout URL whose token is the HMAC of the session
//! id under the cookie secret, so only a page that could read it (ours, or the app the session
//! belongs to) can build it; following `GET /self-service/logout?token=` ends the session,
//! clears the cookie and redirects. A link without the right token is refused: another site
//! cannot sign people out (logout CSRF).

use super::{CurrentSession, MaybeSession, clear_session_cookie, no_session};
use crate::audit::{self, Actor};
use crate::error::ApiError;
use crate::extract::RequestMeta;
use crate::extract::json::JsonBody;
use crate::state::{AppState, Settings};
use crate::ui::{PageError, see_other};
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use gatehouse_domain::audit::AuditEventType;
use gatehouse_domain::secret::{Secret, TokenHash};
use gatehouse_domain::session::Session;
use serde::Deserialize;
use serde_json::{Value, json};

const PURPOSE: &str = "logout";

/// The logout token of a session: its id signed with the cookie secret.
pub fn logout_token(state: &AppState, session: &Session) -> String {
    state.cookie_keys.sign(PURPOSE, session.id.as_bytes())
}

/// The URL that ends `session` when followed, then goes to `return_to` (already checked).
pub fn logout_url(state: &AppState, session: &Session, return_to: Option<&str>) -> String {
    let mut url = state.settings.url(&format!(
        "/self-service/logout?token={}",
        logout_token(state, session)
    ));
    if let Some(to) = return_to {
        url.push_str("&return_to=");
        url.extend(url::form_urlencoded::byte_serialize(to.as_bytes()));
    }
    url.push_str(&crate::identity::tenant::query_suffix(
        session.tenant_id,
        false,
    ));
    url
}

/// `return_to` when it is allowed: a path on this server, or a URL under
/// `selfservice.allowed_return_urls`.
fn allowed_return_to(settings: &Settings, raw: &str) -> Option<String> {
    crate::identity::flow::check_return_to(settings, raw).ok()
}

#[derive(Debug, Deserialize)]
pub struct LogoutApiRequest {
    session_token: Option<Secret>,
}

pub async fn api(
    State(state): State<AppState>,
    meta: RequestMeta,
    JsonBody(req): JsonBody<LogoutApiRequest>,
) -> Result<StatusCode, ApiError> {
    let token = req
        .session_token
        .filter(|t| !t.expose().is_empty())
        .ok_or_else(|| ApiError::bad_request("invalid_body", "session_token is required"))?;
    let session = state
        .store
        .find_session_by_token(&TokenHash::of(token.expose()))
        .await?
        .filter(|s| s.is_valid_at(state.now()))
        .ok_or_else(no_session)?;
    state
        .store
        .revoke_session(session.tenant_id, Some(session.identity_id), session.id)
        .await?;
    audit::identity_event_in(
        &state,
        session.tenant_id,
        AuditEventType::Logout,
        session.identity_id,
        Actor::Person(&meta),
        json!({"session_id": session.id}),
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
pub struct BrowserQuery {
    return_to: Option<String>,
}

pub async fn browser(
    State(state): State<AppState>,
    current: CurrentSession,
    query: Result<Query<BrowserQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    let return_to = match query.return_to.as_deref().filter(|r| !r.is_empty()) {
        Some(raw) => Some(allowed_return_to(&state.settings, raw).ok_or_else(|| {
            ApiError::bad_request("return_to_not_allowed", "return_to is not an allowed URL")
        })?),
        None => None,
    };
    Ok(Json(json!({
        "logout_url": logout_url(&state, &current.session, return_to.as_deref()),
        "logout_token": logout_token(&state, &current.session),
    })))
}

#[derive(Debug, Deserialize)]
pub struct FollowQuery {
    token: Option<String>,
    return_to: Option<String>,
    /// The tenant whose session (and cookie) the link ends; the default tenant when absent.
    tenant: Option<String>,
}

pub async fn follow(
    State(state): State<AppState>,
    MaybeSession(current): MaybeSession,
    meta: RequestMeta,
    query: Result<Query<FollowQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let Query(query) = query.map_err(|e| PageError::bad_request(e.body_text()))?;
    let target = query
        .return_to
        .as_deref()
        .and_then(|raw| allowed_return_to(&state.settings, raw))
        .unwrap_or_else(|| state.settings.url("/ui/login"));
    let tenant = super::requested_tenant(
        query
            .tenant
            .as_deref()
            .map(|t| format!("tenant={t}"))
            .as_deref(),
    )?;
    if let Some(current) = current {
        let session = &current.session;
        let valid = query
            .token
            .as_deref()
            .is_some_and(|t| state.cookie_keys.verify(PURPOSE, session.id.as_bytes(), t));
        if !valid {
            return Err(PageError::forbidden(
                "This sign-out link is not valid for your session. Use the \"Sign out\" button \
                 on your account page instead.",
            ));
        }
        state
            .store
            .revoke_session(session.tenant_id, Some(session.identity_id), session.id)
            .await?;
        tracing::debug!(session.id = %session.id, "session ended by logout");
        audit::identity_event_in(
            &state,
            session.tenant_id,
            AuditEventType::Logout,
            session.identity_id,
            Actor::Person(&meta),
            json!({"session_id": session.id}),
        )
        .await;
    }
    Ok(see_other(
        &target,
        Some(clear_session_cookie(&state, tenant)),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_to_stays_on_this_server() {
        let settings = Settings::new("https://id.example", Secret::new("t"));
        assert_eq!(
            allowed_return_to(&settings, "/ui/login").as_deref(),
            Some("https://id.example/ui/login")
        );
        assert_eq!(
            allowed_return_to(&settings, "https://id.example/ui/account?x=1").as_deref(),
            Some("https://id.example/ui/account?x=1")
        );
        for bad in [
            "//evil.example/",
            "/\\evil.example",
            "https://evil.example/",
            "http://id.example/",
            "javascript:alert(1)",
            "",
        ] {
            assert_eq!(allowed_return_to(&settings, bad), None, "{bad}");
        }
    }
}
