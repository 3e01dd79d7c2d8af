//! The UserInfo endpoint (OpenID Connect Core §5.3): `GET|POST /userinfo` with a person's access
//! token that was granted `openid` answers the standard claims its scope releases, read from the
//! identity as it is now (so a changed profile shows without a new token).

use super::bearer::{insufficient_scope, person_token, presented_token};
use crate::error::OAuthError;
use crate::extract::form::FormParams;
use crate::extract::media_type;
use crate::state::AppState;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use gatehouse_domain::oauth::claims::standard_claims;
use serde_json::{Map, Value};

/// A JSON object of claims, never cached (it is personal data).
pub(super) fn no_store_json(claims: Map<String, Value>) -> Response {
    let mut response = Json(Value::Object(claims)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

async fn answer(state: &AppState, token: &str) -> Result<Response, OAuthError> {
    let person = person_token(state, token).await?;
    if !person.scope.contains("openid") {
        return Err(insufficient_scope("openid"));
    }
    let claims = standard_claims(&person.identity, &person.scope, &state.scopes.snapshot());
    Ok(no_store_json(claims))
}

/// `GET /userinfo` with `Authorization: Bearer`.
pub async fn get(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, OAuthError> {
    let token = presented_token(&headers, None)?;
    answer(&state, token).await
}

/// `POST /userinfo`: the token in the header, or as `access_token` in a form body (RFC 6750 §2.2).
pub async fn post(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, OAuthError> {
    let mut form = if media_type(&headers) == "application/x-www-form-urlencoded" {
        FormParams::parse(&body)?
    } else {
        FormParams::default()
    };
    let form_token = form.take("access_token");
    let token = presented_token(&headers, form_token.as_deref())?;
    answer(&state, token).await
}
