//! Social login into a tenant ("app"): `GET /api/auth/{provider}/{app_id}` sends the browser to
//! the app's provider (state, PKCE S256, nonce), `GET /api/auth/callback/{provider}/{app_id}`
//! takes it back, reads who signed in, finds or creates their identity in the app's tenant, and
//! redirects to the app's `redirect_uri` with a one-time code its backend exchanges for the
//! person's token.
//!
//! Errors before the sign-in is recognised (unknown app or provider, a `state` that is not
//! one this browser started) are JSON 4xx answers; after that the browser goes back to the app
//! with `error` (`access_denied`, `email_not_verified`, `email_required`,
//! `temporarily_unavailable`, …) and the app's `state`.

pub mod upstream;

use crate::error::ApiError;
use crate::extract::RequestMeta;
use crate::state::AppState;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gatehouse_domain::audit::{AuditEvent, AuditEventType, AuditResult};
use gatehouse_domain::identity::{Identity, IdentityState, normalize_identifier};
use gatehouse_domain::ids::TenantId;
use gatehouse_domain::secret::{TokenHash, random_token};
use gatehouse_domain::social::{
    EXCHANGE_CODE_LIFESPAN, ExchangeCode, LOGIN_LIFESPAN, LinkDecision, ProviderAccount,
    SocialLogin, SocialProvider, link_decision,
};
use gatehouse_domain::store::StoreError;
use serde::Deserialize;
use upstream::{UpstreamError, Upstreams};
use uuid::Uuid;

/// The cookie binding a social sign-in to the browser that started it.
const COOKIE: &str = "gatehouse_social";
/// The longest `state` an app may pass through.
const MAX_APP_STATE: usize = 512;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/auth/{provider}/{app_id}", get(start))
        .route("/api/auth/callback/{provider}/{app_id}", get(callback))
}

/// The app id of a URL: a tenant id.
pub fn app_id(raw: &str) -> Result<TenantId, ApiError> {
    Uuid::parse_str(raw)
        .map(TenantId)
        .map_err(|_| ApiError::not_found("unknown_app", "no such app"))
}

/// The enabled provider `name` of the app.
async fn enabled_provider(
    state: &AppState,
    tenant: TenantId,
    name: &str,
) -> Result<SocialProvider, ApiError> {
    state
        .store
        .find_social_provider(tenant, name)
        .await
        .map_err(|e| ApiError::internal("reading a social provider", &e))?
        .filter(|p| p.enabled)
        .ok_or_else(|| {
            ApiError::not_found(
                "unknown_provider",
                "the app has no such sign-in provider enabled",
            )
        })
}

fn callback_uri(state: &AppState, provider: &str, tenant: TenantId) -> String {
    format!(
        "{}/api/auth/callback/{provider}/{}",
        state.settings.issuer, tenant.0
    )
}

#[derive(Debug, Deserialize)]
pub struct StartQuery {
    /// The app's own anti-forgery value, handed back with the code.
    state: Option<String>,
}

/// `GET /api/auth/{provider}/{app_id}`: to the provider's sign-in page.
pub async fn start(
    State(state): State<AppState>,
    Path((name, app)): Path<(String, String)>,
    Query(query): Query<StartQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let tenant = app_id(&app)?;
    if query
        .state
        .as_ref()
        .is_some_and(|s| s.len() > MAX_APP_STATE)
    {
        return Err(ApiError::bad_request(
            "invalid_request",
            "state is longer than 512 characters",
        ));
    }
    let provider = enabled_provider(&state, tenant, &name).await?;
    let endpoints = state
        .social
        .endpoints(&provider)
        .await
        .map_err(|e| unavailable(&e))?;
    // One binding cookie per browser, reused, so sign-ins started in two tabs both finish.
    let browser = crate::cookie::get(&headers, COOKIE)
        .filter(|v| v.len() == 43)
        .map_or_else(|| random_token(32), str::to_owned);
    let state_value = random_token(32);
    let nonce = random_token(32);
    let code_verifier = random_token(32);
    let challenge = URL_SAFE_NO_PAD.encode(TokenHash::of(&code_verifier).0);
    let now = state.now();
    let url = Upstreams::authorization_url(
        &provider,
        &endpoints,
        &callback_uri(&state, &provider.name, tenant),
        &state_value,
        &nonce,
        &challenge,
    )
    .map_err(|e| unavailable(&e))?;
    state
        .store
        .insert_social_login(&SocialLogin {
            state: TokenHash::of(&state_value),
            browser: TokenHash::of(&browser),
            tenant_id: tenant,
            provider: provider.name.clone(),
            code_verifier,
            nonce,
            app_state: query.state,
            created_at: now,
            expires_at: now + LOGIN_LIFESPAN,
        })
        .await
        .map_err(|e| ApiError::internal("storing a social sign-in", &e))?;
    let cookie = crate::cookie::set(
        &state.settings,
        COOKIE,
        &browser,
        Some(LOGIN_LIFESPAN.whole_seconds()),
    );
    Ok((
        StatusCode::SEE_OTHER,
        [(header::SET_COOKIE, cookie)],
        [(header::LOCATION, url)],
    )
        .into_response())
}

fn unavailable(err: &UpstreamError) -> ApiError {
    tracing::warn!(error = %err, "social provider unavailable");
    ApiError::new(
        StatusCode::BAD_GATEWAY,
        "provider_unavailable",
        "the sign-in provider cannot be reached",
    )
}

#[derive(Debug, Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// The answer that sends the browser back to the app: `query` on its `redirect_uri`.
fn back_to_app(provider: &SocialProvider, login: &SocialLogin, query: &[(&str, &str)]) -> Response {
    let Ok(mut url) = url::Url::parse(&provider.redirect_uri) else {
        return ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "invalid_configuration",
            "the app's redirect_uri is not a URL",
        )
        .into_response();
    };
    {
        let mut pairs = url.query_pairs_mut();
        for (k, v) in query {
            pairs.append_pair(k, v);
        }
        if let Some(app_state) = &login.app_state {
            pairs.append_pair("state", app_state);
        }
    }
    (StatusCode::SEE_OTHER, [(header::LOCATION, url.to_string())]).into_response()
}

/// `GET /api/auth/callback/{provider}/{app_id}`: the provider's redirect back.
pub async fn callback(
    State(state): State<AppState>,
    Path((name, app)): Path<(String, String)>,
    Query(query): Query<CallbackQuery>,
    headers: HeaderMap,
    meta: RequestMeta,
) -> Result<Response, ApiError> {
    let tenant = app_id(&app)?;
    let not_started = || {
        ApiError::bad_request(
            "invalid_state",
            "no sign-in with this state was started in this browser (or it was finished already)",
        )
    };
    let presented = query.state.as_deref().ok_or_else(not_started)?;
    let login = state
        .store
        .take_social_login(&TokenHash::of(presented))
        .await
        .map_err(|e| ApiError::internal("reading a social sign-in", &e))?
        .ok_or_else(not_started)?;
    let browser_matches =
        crate::cookie::get(&headers, COOKIE).is_some_and(|c| login.browser.matches(c));
    if login.tenant_id != tenant || login.provider != name || !browser_matches {
        return Err(not_started());
    }
    let now = state.now();
    if now >= login.expires_at {
        return Err(ApiError::bad_request(
            "invalid_state",
            "the sign-in took too long; start again",
        ));
    }
    let provider = enabled_provider(&state, tenant, &name).await?;
    let failed = |error: &str| back_to_app(&provider, &login, &[("error", error)]);
    if query.error.is_some() {
        return Ok(failed("access_denied"));
    }
    let Some(code) = query.code.as_deref() else {
        return Ok(failed("invalid_request"));
    };
    let account = match sign_in_at_provider(&state, &provider, &login, code).await {
        Ok(account) => account,
        Err(UpstreamError::Unavailable(reason)) => {
            tracing::warn!(provider = %provider.name, %reason, "social provider unavailable");
            return Ok(failed("temporarily_unavailable"));
        }
        Err(UpstreamError::Refused(reason)) => {
            tracing::info!(provider = %provider.name, %reason, "social sign-in refused");
            audit(&state, tenant, &meta, None, &provider, AuditResult::Failure).await;
            return Ok(failed("access_denied"));
        }
    };
    let identity = match identity_for(&state, tenant, &provider, &account, &meta).await? {
        Ok(identity) => identity,
        Err(reason) => return Ok(failed(reason)),
    };
    if identity.state != IdentityState::Active {
        audit(
            &state,
            tenant,
            &meta,
            Some(identity.id),
            &provider,
            AuditResult::Failure,
        )
        .await;
        return Ok(failed("access_denied"));
    }
    audit(
        &state,
        tenant,
        &meta,
        Some(identity.id),
        &provider,
        AuditResult::Success,
    )
    .await;
    let mut response = if provider.token_in_redirect {
        token_to_app(&state, &provider, &login, &identity)?
    } else {
        code_to_app(&state, &provider, &login, &identity).await?
    };
    response.headers_mut().append(
        header::SET_COOKIE,
        crate::cookie::clear(&state.settings, COOKIE),
    );
    Ok(response)
}

/// The browser back to the app with a one-time code for its backend (the default).
async fn code_to_app(
    state: &AppState,
    provider: &SocialProvider,
    login: &SocialLogin,
    identity: &Identity,
) -> Result<Response, ApiError> {
    let now = state.now();
    let code = random_token(32);
    state
        .store
        .insert_exchange_code(&ExchangeCode {
            code: TokenHash::of(&code),
            tenant_id: login.tenant_id,
            identity_id: identity.id,
            method: provider.name.clone(),
            created_at: now,
            expires_at: now + EXCHANGE_CODE_LIFESPAN,
        })
        .await
        .map_err(|e| ApiError::internal("storing an exchange code", &e))?;
    Ok(back_to_app(provider, login, &[("code", &code)]))
}

/// Opt-in (`token_in_redirect`): the browser back to the app with the access token itself, in
/// the URL's fragment (`#access_token=…&token_type=Bearer&expires_in=…&state=…`), which browsers
/// do not send to servers. Anything that can read the page's URL (its scripts, the history)
/// can read the token: the exchange code is the safer default.
fn token_to_app(
    state: &AppState,
    provider: &SocialProvider,
    login: &SocialLogin,
    identity: &Identity,
) -> Result<Response, ApiError> {
    let (token, expires_in) =
        crate::tenant::credentials::app_access_token(state, login.tenant_id, identity)?;
    let mut url = url::Url::parse(&provider.redirect_uri)
        .map_err(|_| ApiError::bad_request("invalid_configuration", "the app's redirect_uri"))?;
    let mut fragment = form_urlencoded::Serializer::new(String::new());
    fragment
        .append_pair("access_token", &token)
        .append_pair("token_type", "Bearer")
        .append_pair("expires_in", &expires_in.to_string());
    if let Some(app_state) = &login.app_state {
        fragment.append_pair("state", app_state);
    }
    url.set_fragment(Some(&fragment.finish()));
    Ok((StatusCode::SEE_OTHER, [(header::LOCATION, url.to_string())]).into_response())
}

async fn sign_in_at_provider(
    state: &AppState,
    provider: &SocialProvider,
    login: &SocialLogin,
    code: &str,
) -> Result<ProviderAccount, UpstreamError> {
    let endpoints = state.social.endpoints(provider).await?;
    let secret = provider
        .client_secret(&state.cipher)
        .map_err(|_| UpstreamError::Unavailable("the client secret cannot be opened".into()))?;
    let redirect_uri = callback_uri(state, &provider.name, login.tenant_id);
    let callback = upstream::Callback {
        redirect_uri: &redirect_uri,
        code,
        code_verifier: &login.code_verifier,
        nonce: &login.nonce,
    };
    state
        .social
        .account(provider, &endpoints, &secret, &callback)
        .await
}

/// The identity `account` signs in as: linked before, linked now through a verified address,
/// or created. `Err(reason)` when it may not sign in this way.
async fn identity_for(
    state: &AppState,
    tenant: TenantId,
    provider: &SocialProvider,
    account: &ProviderAccount,
    meta: &RequestMeta,
) -> Result<Result<Identity, &'static str>, ApiError> {
    let store_failed = |e: StoreError| ApiError::internal("resolving a social identity", &e);
    let linked = state
        .store
        .find_social_link(tenant, &provider.name, &account.subject)
        .await
        .map_err(store_failed)?;
    let owner = match account.email.as_deref() {
        Some(email) if linked.is_none() => state
            .store
            .find_identity_by_identifier(tenant, &normalize_identifier(email))
            .await
            .map_err(store_failed)?
            .map(|(identity, _)| identity.id),
        _ => None,
    };
    let now = state.now();
    let id = match link_decision(account, linked, owner) {
        LinkDecision::Linked(id) => id,
        LinkDecision::LinkExisting(id) => {
            link(state, tenant, provider, account, id).await?;
            id
        }
        LinkDecision::Refuse(reason) => return Ok(Err(reason)),
        LinkDecision::Create { email, verified } => {
            let schema_id = &crate::identity::tenant::schema_of(state, tenant).await?;
            let traits = serde_json::json!({ "email": email });
            let Ok(facts) = state.schemas.validate(schema_id, &traits) else {
                // The tenant's schema wants more than an address: no account from a provider.
                return Ok(Err("email_required"));
            };
            let mut identity = Identity::new(tenant, schema_id, traits, &facts, now);
            if verified {
                identity.mark_verified(&email, now);
            }
            match state
                .store
                .insert_identity(&identity, &facts.identifiers, None)
                .await
            {
                Ok(()) => {}
                // Someone registered the address a moment ago.
                Err(StoreError::Conflict { .. }) => return Ok(Err("email_not_verified")),
                Err(e) => return Err(store_failed(e)),
            }
            link(state, tenant, provider, account, identity.id).await?;
            crate::audit::record(
                state,
                AuditEvent::new(
                    tenant,
                    AuditEventType::IdentityCreated,
                    AuditResult::Success,
                    now,
                )
                .identity(identity.id)
                .actor("self")
                .client(meta.ip.as_deref(), meta.user_agent.as_deref())
                .details(serde_json::json!({"method": "social", "provider": provider.name})),
            )
            .await;
            return Ok(Ok(identity));
        }
    };
    match state
        .store
        .find_identity(tenant, id)
        .await
        .map_err(store_failed)?
    {
        Some(identity) => Ok(Ok(identity)),
        None => Ok(Err("access_denied")),
    }
}

async fn link(
    state: &AppState,
    tenant: TenantId,
    provider: &SocialProvider,
    account: &ProviderAccount,
    identity_id: Uuid,
) -> Result<(), ApiError> {
    match state
        .store
        .insert_social_link(
            tenant,
            &provider.name,
            &account.subject,
            identity_id,
            state.now(),
        )
        .await
    {
        // A concurrent callback for the same account linked it first: the same outcome.
        Ok(()) | Err(StoreError::Conflict { .. }) => Ok(()),
        Err(e) => Err(ApiError::internal("linking a social account", &e)),
    }
}

async fn audit(
    state: &AppState,
    tenant: TenantId,
    meta: &RequestMeta,
    identity: Option<Uuid>,
    provider: &SocialProvider,
    result: AuditResult,
) {
    let event_type = match result {
        AuditResult::Success => AuditEventType::LoginSucceeded,
        _ => AuditEventType::LoginFailed,
    };
    let mut event = AuditEvent::new(tenant, event_type, result, state.now())
        .actor("self")
        .client(meta.ip.as_deref(), meta.user_agent.as_deref())
        .details(serde_json::json!({"method": "social", "provider": provider.name}));
    if let Some(id) = identity {
        event = event.identity(id);
    }
    crate::audit::record(state, event).await;
}
