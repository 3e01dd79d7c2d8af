//! `GET /api/me` and `GET /api/user-scoped`: the person behind an access token, as the
//! fine-grained scopes they granted allow (one member per granted field, nothing else). Unlike
//! `/userinfo`, `openid` is not required: an application may ask only for `username`.

use super::bearer::{person_token, presented_token};
use super::userinfo::no_store_json;
use crate::error::OAuthError;
use crate::state::AppState;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use gatehouse_domain::oauth::claims::fine_grained_view;

pub async fn get(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, OAuthError> {
    let token = presented_token(&headers, None)?;
    let person = person_token(&state, token).await?;
    let view = fine_grained_view(&person.identity, &person.scope, &state.scopes.snapshot());
    Ok(no_store_json(view))
}
