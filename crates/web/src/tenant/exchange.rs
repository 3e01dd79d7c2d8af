//! `POST /api/auth/exchange/{app_id}` `{code}`: the app's backend trades the one-time code the
//! browser brought back (from social login or an opened magic link) for the person's token. A
//! code is spent by its first use, only by its own app, and within two minutes.

use super::authenticate;
use crate::error::ApiError;
use crate::extract::RequestMeta;
use crate::extract::json::parse;
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use gatehouse_domain::identity::IdentityState;
use gatehouse_domain::secret::{Secret, TokenHash};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExchangeRequest {
    code: Secret,
}

fn invalid_code() -> ApiError {
    ApiError::bad_request("invalid_code", "the code is unknown, expired or used")
}

pub async fn exchange(
    State(state): State<AppState>,
    Path(app_id): Path<String>,
    meta: RequestMeta,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let caller = authenticate(&state, &headers, &app_id, meta).await?;
    let req: ExchangeRequest = parse(&body)?;
    let tenant = caller.tenant.id;
    let code = state
        .store
        .take_exchange_code(tenant, &TokenHash::of(req.code.expose()), state.now())
        .await?
        .ok_or_else(invalid_code)?;
    let identity = state
        .store
        .find_identity(tenant, code.identity_id)
        .await?
        .filter(|identity| identity.state == IdentityState::Active)
        .ok_or_else(invalid_code)?;
    super::credentials::token_answer(&state, tenant, &identity, StatusCode::OK)
}
