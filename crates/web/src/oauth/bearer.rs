//! Access tokens presented to this server: [`live_claims`] checks one exactly as introspection
//! does (our signature or a stored opaque token, issuer, lifetime, revocation, the client still
//! active in the token's tenant); [`person_token`] adds what the endpoints serving a person's data
//! (`/userinfo`, `/api/me`) need: a token issued for a person whose identity is still active.
//! Bearer tokens are read from the `Authorization` header (RFC 6750 §2.1) or a form body's
//! `access_token` (§2.2); failures are RFC 6750 §3 errors with a `WWW-Authenticate: Bearer`
//! challenge.

use crate::error::OAuthError;
use crate::state::AppState;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use gatehouse_domain::identity::Identity;
use gatehouse_domain::oauth::scope::Scope;
use gatehouse_domain::oauth::token::{
    AccessTokenClaims, OPAQUE_PREFIX, access_token_claims, is_live,
};
use gatehouse_domain::secret::TokenHash;
use uuid::Uuid;

/// Finds the live claims behind `token`, whatever its format; `None` when it is unknown,
/// malformed, expired, revoked, foreign, or its client is gone, disabled or moved tenant.
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
    let Ok(person) = uuid::Uuid::parse_str(&claims.sub) else {
        return Ok(false);
    };
    let Ok(iat) = time::OffsetDateTime::from_unix_timestamp(claims.iat) else {
        return Ok(true);
    };
    Ok(state
        .store
        .grant_revoked_since(claims.tenant_id, person, &claims.client_id, iat)
        .await?)
}

/// 403 `insufficient_scope` (RFC 6750 §3.1), naming the scope the request needs.
pub fn insufficient_scope(required: &'static str) -> OAuthError {
    let challenge = format!("Bearer error=\"insufficient_scope\", scope=\"{required}\"");
    OAuthError {
        challenge: Some((
            header::WWW_AUTHENTICATE,
            HeaderValue::from_str(&challenge).unwrap_or_else(|_| {
                HeaderValue::from_static("Bearer error=\"insufficient_scope\"")
            }),
        )),
        ..OAuthError::new(
            StatusCode::FORBIDDEN,
            "insufficient_scope",
            format!("the access token was not granted the {required} scope"),
        )
    }
}

/// The access token of a request: the `Authorization: Bearer` header, or `form_token` (a form
/// body's `access_token`). Both at once is a 400 (RFC 6750 §2: one method per request); neither,
/// or another authorization scheme, a 401 `invalid_token`.
pub fn presented_token<'a>(
    headers: &'a HeaderMap,
    form_token: Option<&'a str>,
) -> Result<&'a str, OAuthError> {
    let from_header = match headers.get(header::AUTHORIZATION) {
        None => None,
        Some(value) => {
            let value = value.to_str().map_err(|_| {
                OAuthError::invalid_token("the Authorization header is not readable")
            })?;
            let (scheme, token) = value.split_once(' ').ok_or_else(|| {
                OAuthError::invalid_token("the Authorization header must be \"Bearer <token>\"")
            })?;
            let token = token.trim();
            if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
                return Err(OAuthError::invalid_token(
                    "the Authorization header must be \"Bearer <token>\"",
                ));
            }
            Some(token)
        }
    };
    match (from_header, form_token.filter(|t| !t.is_empty())) {
        (Some(_), Some(_)) => Err(OAuthError::invalid_request(
            "the access token must be sent one way only: in the Authorization header or in the \
             body, not both",
        )),
        (Some(token), None) | (None, Some(token)) => Ok(token),
        (None, None) => Err(OAuthError::invalid_token(
            "an access token is required (Authorization: Bearer <token>)",
        )),
    }
}

/// A live access token issued for a person, with that person's identity as it is now.
#[derive(Debug, Clone)]
pub struct PersonToken {
    pub claims: AccessTokenClaims,
    /// The granted scope, parsed.
    pub scope: Scope,
    pub identity: Identity,
}

/// Checks `token` as introspection does, then requires it to be a person's: not a client
/// credentials token (whose subject is the client), with an identity that still exists in the
/// token's tenant and is active. Any failure is 401 `invalid_token`.
pub async fn person_token(state: &AppState, token: &str) -> Result<PersonToken, OAuthError> {
    let claims = live_claims(state, token)
        .await?
        .ok_or_else(|| OAuthError::invalid_token("the access token is not active"))?;
    if claims.sub == claims.client_id {
        return Err(OAuthError::invalid_token(
            "the access token was issued to a client, not for a person",
        ));
    }
    let not_a_person =
        || OAuthError::invalid_token("the access token was not issued for an active account");
    let identity_id = Uuid::parse_str(&claims.sub).map_err(|_| not_a_person())?;
    let identity = state
        .store
        .find_identity(claims.tenant_id, identity_id)
        .await?
        .filter(Identity::is_active)
        .ok_or_else(not_a_person)?;
    let scope = Scope::parse(&claims.scope)
        .map_err(|_| OAuthError::invalid_token("the access token's scope is malformed"))?;
    Ok(PersonToken {
        claims,
        scope,
        identity,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(authorization: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(authorization).expect("valid header"),
        );
        h
    }

    #[test]
    fn reads_the_token_from_one_place_only() {
        assert_eq!(
            presented_token(&headers("Bearer abc"), None).ok(),
            Some("abc")
        );
        assert_eq!(
            presented_token(&headers("bearer  abc "), None).ok(),
            Some("abc")
        );
        assert_eq!(
            presented_token(&HeaderMap::new(), Some("xyz")).ok(),
            Some("xyz")
        );
        let both = presented_token(&headers("Bearer abc"), Some("xyz")).expect_err("refused");
        assert_eq!(both.status, StatusCode::BAD_REQUEST);
        for bad in ["Basic abc", "Bearer ", "Bearer", "abc"] {
            let err = presented_token(&headers(bad), None).expect_err("refused");
            assert_eq!(err.error, "invalid_token", "{bad}");
        }
        let none = presented_token(&HeaderMap::new(), None).expect_err("refused");
        assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    }

    #[test]
    fn insufficient_scope_is_a_403_with_a_challenge() {
        let err = insufficient_scope("openid");
        assert_eq!(err.status, StatusCode::FORBIDDEN);
        let (name, value) = err.challenge.expect("challenge");
        assert_eq!(name, header::WWW_AUTHENTICATE);
        assert_eq!(
            value,
            "Bearer error=\"insufficient_scope\", scope=\"openid\""
        );
    }
}
