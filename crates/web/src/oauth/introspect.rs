//! Token introspection (RFC 7662): `POST /oauth2/introspect` for authenticated clients and
//! `POST /admin/oauth2/introspect` for operators. A token that is unknown, expired, revoked,
//! foreign, or whose client is gone or disabled, or a person's token issued before they revoked
//! the client's grant, is `{"active": false}` and nothing more.

use crate::error::OAuthError;
use crate::extract::client_auth::authenticate_client;
use crate::extract::form::OAuthForm;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use gatehouse_domain::ids::TenantId;
use gatehouse_domain::oauth::token::{
    AccessTokenClaims, OPAQUE_PREFIX, access_token_claims, is_live,
};
use gatehouse_domain::secret::TokenHash;
use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Debug, Serialize, Default)]
pub struct Introspection {
    pub active: bool,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub token: Option<ActiveToken>,
}

#[derive(Debug, Serialize)]
pub struct ActiveToken {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub scope: String,
    pub client_id: String,
    pub sub: String,
    pub exp: i64,
    pub iat: i64,
    pub nbf: i64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub aud: Vec<String>,
    pub iss: String,
    pub jti: String,
    pub token_type: &'static str,
    pub token_use: &'static str,
    pub tenant_id: TenantId,
}

impl IntoResponse for Introspection {
    fn into_response(self) -> Response {
        let mut response = Json(self).into_response();
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

/// Finds the live claims behind `token`, whatever its format.
pub async fn live_claims(
    state: &AppState,
    token: &str,
) -> Result<Option<AccessTokenClaims>, OAuthError> {
    let now = state.now();
    let claims = if token.starts_with(OPAQUE_PREFIX) {
        state
            .store
            .find_opaque_token(&TokenHash::of(token))
            .await?
            .map(|t| t.claims)
    } else if token.bytes().filter(|b| *b == b'.').count() == 2 {
        let keys = state
            .keys
            .current()
            .map_err(|e| OAuthError::server_error("signing keys unavailable", &e))?;
        match keys.verify(token) {
            Ok(jwt) => access_token_claims(jwt.typ.as_deref(), jwt.claims),
            Err(_) => None,
        }
    } else {
        None
    };
    let Some(claims) = claims.filter(|c| is_live(c, &state.settings.issuer, now)) else {
        return Ok(None);
    };
    if !token.starts_with(OPAQUE_PREFIX) && state.store.is_access_token_revoked(&claims.jti).await?
    {
        return Ok(None);
    }
    if grant_revoked(state, &claims).await? {
        return Ok(None);
    }
    let client_ok = state
        .clients
        .get(&claims.client_id)
        .await?
        .is_some_and(|c| c.active && c.tenant_id == claims.tenant_id);
    Ok(client_ok.then_some(claims))
}

/// Whether the person's grant behind a token was revoked at or after the token was issued. A
/// token whose subject is the client itself (client credentials) has no such grant and costs no
/// query.
async fn grant_revoked(state: &AppState, claims: &AccessTokenClaims) -> Result<bool, OAuthError> {
    if claims.sub == claims.client_id {
        return Ok(false);
    }
    let Ok(person) = Uuid::parse_str(&claims.sub) else {
        return Ok(false);
    };
    let Ok(iat) = OffsetDateTime::from_unix_timestamp(claims.iat) else {
        return Ok(true);
    };
    Ok(state
        .store
        .grant_revoked_since(claims.tenant_id, person, &claims.client_id, iat)
        .await?)
}

/// Introspects `token` for a caller in `tenant` (`None`: any tenant, for operators).
pub async fn introspect(
    state: &AppState,
    token: &str,
    tenant: Option<TenantId>,
) -> Result<Introspection, OAuthError> {
    let Some(c) = live_claims(state, token).await? else {
        return Ok(Introspection::default());
    };
    if tenant.is_some_and(|t| t != c.tenant_id) {
        return Ok(Introspection::default());
    }
    Ok(Introspection {
        active: true,
        token: Some(ActiveToken {
            scope: c.scope,
            client_id: c.client_id,
            sub: c.sub,
            exp: c.exp,
            iat: c.iat,
            nbf: c.nbf,
            aud: c.aud,
            iss: c.iss,
            jti: c.jti,
            token_type: "Bearer",
            token_use: "access_token",
            tenant_id: c.tenant_id,
        }),
    })
}

pub async fn post(
    State(state): State<AppState>,
    headers: HeaderMap,
    OAuthForm(mut form): OAuthForm,
) -> Result<Introspection, OAuthError> {
    let client = authenticate_client(&state, &headers, &mut form).await?;
    if client.metadata.is_public() {
        return Err(OAuthError::invalid_client());
    }
    let token = form.require("token")?;
    introspect(&state, &token, Some(client.tenant_id)).await
}

/// `POST /admin/oauth2/introspect`: any tenant's token, with the admin token.
pub async fn admin_post(
    State(state): State<AppState>,
    OAuthForm(mut form): OAuthForm,
) -> Result<Introspection, OAuthError> {
    let token = form.require("token")?;
    introspect(&state, &token, None).await
}
