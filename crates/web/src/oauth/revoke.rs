//! Token revocation (RFC 7009). A client revokes only tokens issued to it; an unknown, invalid or
//! already expired token is answered with 200 like a revoked one (§2.2). Revoking a refresh token
//! revokes its whole family (§2.1: the server may revoke related tokens).

use super::bearer::live_claims;
use crate::error::OAuthError;
use crate::extract::client_auth::authenticate_client;
use crate::extract::form::OAuthForm;
use crate::state::AppState;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gatehouse_domain::oauth::refresh::REFRESH_PREFIX;
use gatehouse_domain::oauth::token::{OPAQUE_PREFIX, RevokedAccessToken, timestamp};
use gatehouse_domain::secret::TokenHash;

pub async fn post(
    State(state): State<AppState>,
    headers: HeaderMap,
    OAuthForm(mut form): OAuthForm,
) -> Result<Response, OAuthError> {
    let client = authenticate_client(&state, &headers, &mut form).await?;
    let token = form.require("token")?;
    // token_type_hint is optional and only an optimisation (§2.1); unknown values are ignored.
    if token.starts_with(REFRESH_PREFIX) {
        if let Some(record) = state
            .store
            .find_refresh_token(&TokenHash::of(&token))
            .await?
        {
            if record.client_id != client.client_id {
                return Err(OAuthError::unauthorized_client(
                    "the token was not issued to this client",
                ));
            }
            state
                .store
                .revoke_refresh_family(record.family_id, state.now())
                .await?;
            tracing::info!(client.id = %client.client_id, "refresh token family revoked");
        }
    } else if let Some(claims) = live_claims(&state, &token).await? {
        if claims.client_id != client.client_id {
            return Err(OAuthError::unauthorized_client(
                "the token was not issued to this client",
            ));
        }
        if token.starts_with(OPAQUE_PREFIX) {
            state
                .store
                .delete_opaque_token(&TokenHash::of(&token))
                .await?;
        } else {
            state
                .store
                .insert_revoked_access_token(&RevokedAccessToken {
                    jti: claims.jti,
                    tenant_id: claims.tenant_id,
                    client_id: claims.client_id,
                    expires_at: timestamp(claims.exp),
                })
                .await?;
        }
        tracing::info!(client.id = %client.client_id, "access token revoked");
    }
    let mut response = StatusCode::OK.into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}
