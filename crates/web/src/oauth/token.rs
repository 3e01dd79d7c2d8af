//! `POST /oauth2/token` (RFC 6749 §3.2): the client credentials grant (§4.4) here, the
//! authorization code grant in [`super::code_grant`], the refresh token grant in
//! [`super::refresh_grant`]. Access tokens are RFC 9068 JWTs signed
//! with ES256, or opaque when the client asks. Issuing a client-credentials JWT touches no
//! database: the client comes from the cache and the key from memory.

use crate::error::OAuthError;
use crate::extract::client_auth::authenticate_client;
use crate::extract::form::{FormParams, OAuthForm};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use gatehouse_domain::keys::KeyAlg;
use gatehouse_domain::oauth::catalog::InactiveScope;
use gatehouse_domain::oauth::client::TokenStrategy;
use gatehouse_domain::oauth::scope::Scope;
use gatehouse_domain::oauth::token::{
    ACCESS_TOKEN_TYP, AccessTokenClaims, ClientCredentialsRequest, TokenError, client_credentials,
    mint_opaque,
};
use serde::Serialize;

/// The token response (no `Debug`: it carries the token).
#[derive(Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

impl IntoResponse for TokenResponse {
    fn into_response(self) -> Response {
        let mut response = Json(self).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        response
    }
}

impl From<TokenError> for OAuthError {
    fn from(err: TokenError) -> Self {
        match err {
            TokenError::GrantNotAllowed(_) => OAuthError::unauthorized_client(err.to_string()),
            TokenError::ScopeNotAllowed(_) => OAuthError::invalid_scope(err.to_string()),
            // RFC 8707 §2: a requested audience (resource) the client may not have.
            TokenError::AudienceNotAllowed(_) => OAuthError::new(
                axum::http::StatusCode::BAD_REQUEST,
                "invalid_target",
                err.to_string(),
            ),
        }
    }
}

impl From<InactiveScope> for OAuthError {
    fn from(err: InactiveScope) -> Self {
        OAuthError::invalid_scope(err.to_string())
    }
}

pub async fn post(
    State(state): State<AppState>,
    headers: HeaderMap,
    OAuthForm(mut form): OAuthForm,
) -> Result<TokenResponse, OAuthError> {
    let grant_type = form.require("grant_type")?;
    match grant_type.as_str() {
        "client_credentials" => {
            let client = authenticate_client(&state, &headers, &mut form).await?;
            let scope = form
                .take("scope")
                .map(|s| Scope::parse(&s))
                .transpose()
                .map_err(|e| OAuthError::invalid_scope(e.to_string()))?;
            // A scope the catalog holds as inactive is refused when asked for by name, and left
            // out of the default grant (every registered scope) otherwise.
            let scope = match scope {
                Some(requested) => {
                    state.scopes.refuse_inactive(client.tenant_id, &requested)?;
                    requested
                }
                None => state
                    .scopes
                    .without_inactive(client.tenant_id, &client.metadata.scope),
            };
            let request = ClientCredentialsRequest {
                scope: Some(scope),
                audience: requested_audience(&mut form)?,
            };
            let now = state.now();
            let claims = client_credentials(
                &client,
                &request,
                &state.settings.issuer,
                state.settings.access_token_lifespan,
                now,
            )?;
            let response = issue(&state, claims, client.metadata.access_token_strategy).await?;
            state.metrics.token_issued("client_credentials");
            tracing::debug!(client.id = %client.client_id, "issued access token (client_credentials)");
            Ok(response)
        }
        "authorization_code" => {
            let client = authenticate_client(&state, &headers, &mut form).await?;
            super::code_grant::exchange(&state, &client, &mut form).await
        }
        "refresh_token" => {
            let client = authenticate_client(&state, &headers, &mut form).await?;
            super::refresh_grant::exchange(&state, &client, &mut form).await
        }
        "urn:ietf:params:oauth:grant-type:device_code" => Err(OAuthError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            format!("the {grant_type} grant is not enabled on this server"),
        )),
        _ => Err(OAuthError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "grant_type must be authorization_code, refresh_token or client_credentials",
        )),
    }
}

/// The audiences a request asks for: Hydra's space-separated `audience` and RFC 8707 `resource`
/// (repeatable; each an absolute URI without a fragment).
fn requested_audience(form: &mut FormParams) -> Result<Vec<String>, OAuthError> {
    let mut audience: Vec<String> = form
        .take("audience")
        .map(|a| {
            a.split(' ')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    for resource in form.take_all("resource") {
        let valid = url::Url::parse(&resource)
            .is_ok_and(|u| u.fragment().is_none() && !u.cannot_be_a_base());
        if !valid {
            return Err(OAuthError::new(
                axum::http::StatusCode::BAD_REQUEST,
                "invalid_target",
                format!(
                    "resource {resource:?} must be an absolute URI without a fragment (RFC 8707 §2)"
                ),
            ));
        }
        if !audience.contains(&resource) {
            audience.push(resource);
        }
    }
    Ok(audience)
}

/// Turns claims into a token of the client's chosen format.
pub async fn issue(
    state: &AppState,
    claims: AccessTokenClaims,
    strategy: TokenStrategy,
) -> Result<TokenResponse, OAuthError> {
    let expires_in = claims.exp - claims.iat;
    let scope = claims.scope.clone();
    let access_token = match strategy {
        TokenStrategy::Jwt => {
            let keys = state
                .keys
                .current()
                .map_err(|e| OAuthError::server_error("signing keys unavailable", &e))?;
            let key = keys
                .signing_key(KeyAlg::ES256)
                .map_err(|e| OAuthError::server_error("no ES256 key", &e))?;
            key.sign(ACCESS_TOKEN_TYP, &claims)
                .map_err(|e| OAuthError::server_error("cannot sign token", &e))?
        }
        TokenStrategy::Opaque => {
            let (token, record) = mint_opaque(claims);
            state.store.insert_opaque_token(&record).await?;
            token
        }
    };
    Ok(TokenResponse {
        access_token,
        token_type: "bearer",
        expires_in,
        scope,
        id_token: None,
        refresh_token: None,
    })
}
