//! Client authentication at the token, introspection and revocation endpoints
//! (RFC 6749 §2.3.1): HTTP Basic (`client_secret_basic`) or form fields (`client_secret_post`),
//! never both, and only the method the client registered.

use crate::error::OAuthError;
use crate::extract::form::FormParams;
use crate::state::AppState;
use axum::http::{HeaderMap, header};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use gatehouse_domain::oauth::client::{AuthMethod, Client};
use gatehouse_domain::secret::Secret;
use percent_encoding::percent_decode_str;
use std::sync::Arc;

/// Credentials as presented, before they are checked.
#[derive(Debug)]
struct Presented {
    client_id: String,
    secret: Option<Secret>,
    method: AuthMethod,
}

fn from_basic(value: &str) -> Result<Presented, OAuthError> {
    let malformed = || OAuthError::invalid_client();
    let encoded = value
        .get(6..)
        .filter(|_| value[..6].eq_ignore_ascii_case("basic "))
        .ok_or_else(malformed)?;
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| malformed())?;
    let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(malformed)?;
    // RFC 6749 §2.3.1: both parts are form-urlencoded before they are joined.
    let unescape = |s: &str| -> Result<String, OAuthError> {
        percent_decode_str(&s.replace('+', " "))
            .decode_utf8()
            .map(|c| c.into_owned())
            .map_err(|_| malformed())
    };
    Ok(Presented {
        client_id: unescape(id)?,
        secret: Some(Secret::new(unescape(secret)?)),
        method: AuthMethod::ClientSecretBasic,
    })
}

fn presented(headers: &HeaderMap, form: &mut FormParams) -> Result<Presented, OAuthError> {
    let form_id = form.take("client_id");
    let form_secret = form.take("client_secret");
    if let Some(auth) = headers.get(header::AUTHORIZATION) {
        let auth = auth.to_str().map_err(|_| OAuthError::invalid_client())?;
        let basic = from_basic(auth)?;
        if form_secret.is_some() {
            return Err(OAuthError::invalid_request(
                "use exactly one client authentication method",
            ));
        }
        if form_id.as_ref().is_some_and(|id| *id != basic.client_id) {
            return Err(OAuthError::invalid_request(
                "client_id does not match the authenticated client",
            ));
        }
        return Ok(basic);
    }
    let client_id = form_id.ok_or_else(OAuthError::invalid_client)?;
    Ok(match form_secret {
        Some(secret) => Presented {
            client_id,
            secret: Some(Secret::new(secret)),
            method: AuthMethod::ClientSecretPost,
        },
        None => Presented {
            client_id,
            secret: None,
            method: AuthMethod::None,
        },
    })
}

/// Authenticates the calling client; every failure is the same `invalid_client`. After 20
/// failures for one client id within a minute, this node answers 429 for that id until the
/// minute is over.
pub async fn authenticate_client(
    state: &AppState,
    headers: &HeaderMap,
    form: &mut FormParams,
) -> Result<Arc<Client>, OAuthError> {
    let presented = presented(headers, form)?;
    let now = state.now();
    if let Some(wait) = state
        .client_auth_failures
        .blocked(&presented.client_id, now)
    {
        return Err(OAuthError::too_many_requests(wait));
    }
    let result = check(state, &presented).await;
    if matches!(&result, Err(e) if e.error == "invalid_client") {
        // Count the failure; the attempt that reaches the limit is already refused as invalid.
        let _ = state.client_auth_failures.hit(&presented.client_id, now);
    }
    result
}

async fn check(state: &AppState, presented: &Presented) -> Result<Arc<Client>, OAuthError> {
    let client = state.clients.get(&presented.client_id).await?;
    let Some(client) = client.filter(|c| c.active) else {
        // Spend the same hashing work as a real check, so timing does not reveal which ids exist.
        if let Some(secret) = &presented.secret {
            let _ = secret.hash();
        }
        tracing::debug!(client.id = %presented.client_id, "client authentication failed: unknown or inactive");
        return Err(OAuthError::invalid_client());
    };
    if client.metadata.token_endpoint_auth_method != presented.method {
        tracing::debug!(client.id = %client.client_id, "client authentication failed: method not registered");
        return Err(OAuthError::invalid_client());
    }
    match &presented.secret {
        Some(secret) if client.secret_matches(secret.expose()) => Ok(client),
        None if presented.method == AuthMethod::None => Ok(client),
        _ => {
            tracing::debug!(client.id = %client.client_id, "client authentication failed: wrong secret");
            Err(OAuthError::invalid_client())
        }
    }
}
