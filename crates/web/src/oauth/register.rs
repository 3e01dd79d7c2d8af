//! Dynamic client registration (RFC 7591) and its management protocol (RFC 7592).
//!
//! Open by default and throttled per IP; `oauth2.registration.initial_access_token` makes it
//! require a bearer token, `oauth2.registration.enabled = false` turns it off. Each registered
//! client gets a `registration_access_token` (stored hashed) for `GET|PUT|DELETE
//! /oauth2/register/{client_id}`.

use super::clients::{ClientWriteError, Origin, create_client, delete_client, replace_client};
use super::wire::{ClientRequest, ClientResponse};
use crate::error::OAuthError;
use crate::extract::json;
use crate::state::AppState;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gatehouse_domain::oauth::client::{Client, ClientError};
use std::net::SocketAddr;
use std::sync::Arc;

impl From<ClientWriteError> for OAuthError {
    fn from(err: ClientWriteError) -> Self {
        match err {
            ClientWriteError::Invalid(
                e @ (ClientError::RedirectUri(_) | ClientError::PostLogoutRedirectUri(_)),
            ) => OAuthError::new(
                StatusCode::BAD_REQUEST,
                "invalid_redirect_uri",
                e.to_string(),
            ),
            ClientWriteError::Invalid(e) => OAuthError::new(
                StatusCode::BAD_REQUEST,
                "invalid_client_metadata",
                e.to_string(),
            ),
            ClientWriteError::Taken | ClientWriteError::UnknownTenant(_) => OAuthError::new(
                StatusCode::BAD_REQUEST,
                "invalid_client_metadata",
                err.to_string(),
            ),
            ClientWriteError::Store(e) => e.into(),
        }
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

fn parse_body(headers: &HeaderMap, body: &[u8]) -> Result<ClientRequest, OAuthError> {
    if crate::extract::media_type(headers) != "application/json" {
        return Err(OAuthError::invalid_request(
            "the request body must be application/json",
        ));
    }
    json::parse(body)
        .map_err(|e| OAuthError::new(StatusCode::BAD_REQUEST, "invalid_client_metadata", e.reason))
}

fn answer(state: &AppState, status: StatusCode, mut body: ClientResponse) -> Response {
    body.registration_client_uri = Some(
        state
            .settings
            .url(&format!("/oauth2/register/{}", body.client_id)),
    );
    let mut response = (status, Json(body)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn disabled() -> OAuthError {
    OAuthError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "dynamic client registration is disabled",
    )
}

/// `POST /oauth2/register`.
pub async fn create(
    State(state): State<AppState>,
    connect: Option<axum::Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, OAuthError> {
    let settings = &state.settings.registration;
    if !settings.enabled {
        return Err(disabled());
    }
    if let Some(expected) = &settings.initial_access_token
        && !bearer(&headers).is_some_and(|t| expected.matches(t))
    {
        return Err(OAuthError::invalid_token(
            "a valid initial access token is required to register clients",
        ));
    }
    let ip = connect.map(|c| c.0.0.ip().to_string()).unwrap_or_default();
    state
        .registration_limiter
        .hit(&ip, state.now())
        .map_err(OAuthError::too_many_requests)?;
    let request = parse_body(&headers, &body)?;
    let created = create_client(&state, &request, Origin::Dynamic).await?;
    let mut response = ClientResponse::new(&created.client, created.secret.as_ref());
    response.registration_access_token = created.registration_token.map(|t| t.expose().to_owned());
    Ok(answer(&state, StatusCode::CREATED, response))
}

/// The client named in the path, if the bearer token is its registration access token. Every
/// failure is the same 401, so the endpoint does not reveal which clients exist (RFC 7592 §3).
async fn authorized(
    state: &AppState,
    headers: &HeaderMap,
    client_id: &str,
) -> Result<Arc<Client>, OAuthError> {
    if !state.settings.registration.enabled {
        return Err(disabled());
    }
    let refused =
        || OAuthError::invalid_token("the registration access token is invalid for this client");
    let token = bearer(headers).ok_or_else(refused)?;
    let client = state
        .store
        .find_client(client_id)
        .await?
        .map(Arc::new)
        .ok_or_else(refused)?;
    match client.registration_token_hash {
        Some(hash) if hash.matches(token) => Ok(client),
        _ => Err(refused()),
    }
}

/// `GET /oauth2/register/{client_id}` (RFC 7592 §2.1).
pub async fn read(
    State(state): State<AppState>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, OAuthError> {
    let client = authorized(&state, &headers, &client_id).await?;
    Ok(answer(
        &state,
        StatusCode::OK,
        ClientResponse::new(&client, None),
    ))
}

/// `PUT /oauth2/register/{client_id}` (RFC 7592 §2.2): replaces the metadata.
pub async fn replace(
    State(state): State<AppState>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, OAuthError> {
    let client = authorized(&state, &headers, &client_id).await?;
    let mut request = parse_body(&headers, &body)?;
    if request.client_id.as_deref() != Some(client.client_id.as_str()) {
        return Err(OAuthError::invalid_request(
            "the body must carry the client's client_id (RFC 7592 §2.2)",
        ));
    }
    // RFC 7592 §2.2: the client may echo its current secret; it cannot choose a new one.
    if let Some(secret) = request.client_secret.take()
        && !client.secret_matches(secret.expose())
    {
        return Err(OAuthError::new(
            StatusCode::BAD_REQUEST,
            "invalid_client_metadata",
            "client_secret does not match",
        ));
    }
    let (client, generated) =
        replace_client(&state, (*client).clone(), &request, Origin::Dynamic).await?;
    Ok(answer(
        &state,
        StatusCode::OK,
        ClientResponse::new(&client, generated.as_ref()),
    ))
}

/// `DELETE /oauth2/register/{client_id}` (RFC 7592 §2.3).
pub async fn delete(
    State(state): State<AppState>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, OAuthError> {
    let client = authorized(&state, &headers, &client_id).await?;
    delete_client(&state, &client.client_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
