//! Sessions on the web: starting one after a login, the session cookie, the [`CurrentSession`]
//! and [`MaybeSession`] extractors (cookie or `X-Session-Token`; idle and absolute lifetimes
//! enforced here, on the server), the Kratos-shaped JSON view, and the routes `/sessions/*` and
//! the logout endpoints.
//!
//! Sessions belong to a tenant, and a browser holds one session cookie per tenant: the default
//! tenant's is the configured name (`gatehouse_session`), another tenant's is that name followed
//! by `_` and the tenant id without dashes (`gatehouse_session_0193…`). A request asks for the
//! session of one tenant (`?tenant=ID`, the default tenant otherwise; a flow or an OAuth 2.0
//! request names its own), and a session of any other tenant never counts: not its cookie, and
//! not an `X-Session-Token` of another tenant.

mod api;
mod logout;

pub use api::end_other_sessions;
pub use logout::{logout_token, logout_url};

use crate::cookie;
use crate::error::ApiError;
use crate::extract::RequestMeta;
use crate::state::AppState;
use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::routing::get;
use gatehouse_domain::identity::{Identity, IdentityState};
use gatehouse_domain::ids::TenantId;
use gatehouse_domain::secret::{Secret, TokenHash};
use gatehouse_domain::session::{AuthenticationMethod, Session};
use serde::Serialize;
use std::convert::Infallible;
use time::OffsetDateTime;
use uuid::Uuid;

/// The header API clients send their session token in.
pub const SESSION_TOKEN_HEADER: &str = "x-session-token";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/sessions/whoami", get(api::whoami))
        .route("/sessions", get(api::list).delete(api::revoke_others))
        .route("/sessions/{id}", axum::routing::delete(api::revoke))
        .route(
            "/self-service/logout/api",
            axum::routing::delete(logout::api),
        )
        .route("/self-service/logout/browser", get(logout::browser))
        .route("/self-service/logout", get(logout::follow))
}

/// Starts a session for `identity_id` after a login or verified registration: stores it, records the
/// device from the request, and returns it with its token. The caller sets the cookie (browser) or
/// returns the token (API). Always a new session id and token: a login never reuses a session.
pub async fn start_session(
    state: &AppState,
    identity: &Identity,
    methods: Vec<AuthenticationMethod>,
    request: &RequestMeta,
) -> Result<(Session, Secret), ApiError> {
    let (session, token) = Session::start(
        identity.tenant_id,
        identity.id,
        methods,
        request.ip.clone(),
        request.user_agent.clone(),
        &state.settings.session.lifetimes,
        state.now(),
    );
    state.store.insert_session(&session).await?;
    tracing::debug!(session.id = %session.id, user.id = %identity.id, "session started");
    Ok((session, token))
}

/// The session cookie's name for `tenant`: the configured one for the default tenant, with
/// `_<tenant id without dashes>` appended for another; `__Host-` prefixed when the issuer is
/// https.
pub fn session_cookie_name(state: &AppState, tenant: TenantId) -> String {
    let base = &state.settings.session.cookie_name;
    if tenant == TenantId::DEFAULT {
        state.settings.cookie_name(base)
    } else {
        state
            .settings
            .cookie_name(&format!("{base}_{}", tenant.0.simple()))
    }
}

/// The `Set-Cookie` value carrying `token` of a session of `tenant`, kept by the browser until
/// the absolute expiry.
pub fn session_cookie(state: &AppState, tenant: TenantId, token: &Secret) -> HeaderValue {
    cookie::set(
        &state.settings,
        &session_cookie_name(state, tenant),
        token.expose(),
        Some(state.settings.session.lifetimes.absolute.whole_seconds()),
    )
}

/// The `Set-Cookie` value that removes the session cookie of `tenant`.
pub fn clear_session_cookie(state: &AppState, tenant: TenantId) -> HeaderValue {
    cookie::clear(&state.settings, &session_cookie_name(state, tenant))
}

/// The tenant a request names with `?tenant=ID`: the default tenant when absent; a value that
/// is not a UUID is a 400. Whether the tenant exists is the caller's concern (a session of an
/// unknown tenant cannot exist).
pub fn requested_tenant(query: Option<&str>) -> Result<TenantId, ApiError> {
    let raw = url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .find(|(name, _)| name == "tenant")
        .map(|(_, value)| value.into_owned());
    match raw.as_deref().map(str::trim) {
        None | Some("") => Ok(TenantId::DEFAULT),
        Some(raw) => Uuid::parse_str(raw).map(TenantId).map_err(|_| {
            ApiError::bad_request("invalid_tenant", "the tenant parameter must be a tenant id")
        }),
    }
}

/// The valid session from the cookie or `X-Session-Token` (401 JSON `ApiError` otherwise).
#[derive(Debug, Clone)]
pub struct CurrentSession {
    pub session: Session,
    pub identity: Identity,
}

/// Like [`CurrentSession`] but never rejects.
#[derive(Debug, Clone)]
pub struct MaybeSession(pub Option<CurrentSession>);

/// The token the request presents for `tenant`: `X-Session-Token` first, then the tenant's
/// session cookie.
fn presented_token<'a>(
    state: &AppState,
    headers: &'a HeaderMap,
    tenant: TenantId,
) -> Option<&'a str> {
    headers
        .get(SESSION_TOKEN_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .or_else(|| cookie::get(headers, &session_cookie_name(state, tenant)))
}

/// The session `token` stands for, if it is a session of `tenant`, valid now, and its identity
/// is active; a use is recorded (at most once a minute) with the request's device.
pub async fn resolve_session(
    state: &AppState,
    tenant: TenantId,
    token: &str,
    request: &RequestMeta,
) -> Result<Option<CurrentSession>, ApiError> {
    let now = state.now();
    let Some(mut session) = state
        .store
        .find_session_by_token(&TokenHash::of(token))
        .await?
    else {
        return Ok(None);
    };
    if session.tenant_id != tenant || !session.is_valid_at(now) {
        return Ok(None);
    }
    let identity = match state
        .store
        .find_identity(session.tenant_id, session.identity_id)
        .await?
    {
        Some(identity) if identity.state == IdentityState::Active => identity,
        _ => return Ok(None),
    };
    if session.needs_touch(now) {
        let ip = request.ip.as_deref();
        let user_agent = request.user_agent.as_deref();
        match state
            .store
            .touch_session(session.tenant_id, session.id, now, ip, user_agent)
            .await
        {
            Ok(_) => {
                session.last_seen_at = now;
                session.device.last_seen_at = now;
                if ip.is_some() {
                    session.device.ip_address = request.ip.clone();
                }
                if user_agent.is_some() {
                    session.device.user_agent = request.user_agent.clone();
                }
            }
            Err(err) => {
                tracing::warn!(error = %err, session.id = %session.id, "cannot record a session's use");
            }
        }
    }
    Ok(Some(CurrentSession { session, identity }))
}

/// The request's session of `tenant`, if it has a valid one.
pub async fn session_in(
    state: &AppState,
    tenant: TenantId,
    headers: &HeaderMap,
    request: &RequestMeta,
) -> Result<Option<CurrentSession>, ApiError> {
    let Some(token) = presented_token(state, headers, tenant) else {
        return Ok(None);
    };
    resolve_session(state, tenant, token, request).await
}

/// The session of the tenant the request names (`?tenant=`, the default tenant otherwise).
async fn from_parts(state: &AppState, parts: &Parts) -> Result<Option<CurrentSession>, ApiError> {
    let tenant = requested_tenant(parts.uri.query())?;
    session_in(
        state,
        tenant,
        &parts.headers,
        &RequestMeta::from_parts(parts),
    )
    .await
}

/// 401: no valid session in the request.
pub fn no_session() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "session_inactive",
        "no valid session cookie or X-Session-Token was found in the request",
    )
}

impl FromRequestParts<AppState> for CurrentSession {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        from_parts(state, parts).await?.ok_or_else(no_session)
    }
}

impl FromRequestParts<AppState> for MaybeSession {
    type Rejection = Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        // A store failure was logged by `ApiError`; the request goes on as anonymous.
        Ok(Self(from_parts(state, parts).await.ok().flatten()))
    }
}

/// A session as the API shows it (Ory Kratos shape).
#[derive(Debug, Serialize)]
pub struct SessionView {
    pub id: Uuid,
    pub active: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub authenticated_at: OffsetDateTime,
    pub authenticator_assurance_level: &'static str,
    pub authentication_methods: Vec<AuthenticationMethod>,
    #[serde(with = "time::serde::rfc3339")]
    pub issued_at: OffsetDateTime,
    pub identity_id: Uuid,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<serde_json::Value>,
    pub devices: Vec<DeviceView>,
}

#[derive(Debug, Serialize)]
pub struct DeviceView {
    pub id: Uuid,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub first_seen_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub last_seen_at: OffsetDateTime,
}

impl SessionView {
    /// `active` is whether the session can be used at `now`; `identity` is shown as its public
    /// view (no `metadata_admin`).
    pub fn new(session: &Session, identity: Option<&Identity>, now: OffsetDateTime) -> Self {
        Self {
            id: session.id,
            active: session.is_valid_at(now),
            expires_at: session.expires_at,
            authenticated_at: session.authenticated_at,
            authenticator_assurance_level: session.aal.as_str(),
            authentication_methods: session.methods.clone(),
            issued_at: session.issued_at,
            identity_id: session.identity_id,
            identity: identity.map(Identity::public_view),
            devices: vec![DeviceView {
                id: session.id,
                ip_address: session.device.ip_address.clone(),
                user_agent: session.device.user_agent.clone(),
                first_seen_at: session.device.first_seen_at,
                last_seen_at: session.device.last_seen_at,
            }],
        }
    }
}
