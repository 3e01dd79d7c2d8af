//! Access tokens: the client credentials grant (RFC 6749 §4.4), RFC 9068 JWT claims, opaque
//! tokens, and what introspection (RFC 7662) reports about either.

use super::client::{Client, GrantType};
use super::scope::Scope;
use crate::ids::TenantId;
use crate::secret::{TokenHash, random_token};
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

/// The JOSE `typ` of an access token (RFC 9068 §2.1).
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";
/// Prefix of opaque access tokens, so they are recognisable in secret scanners.
pub const OPAQUE_PREFIX: &str = "gat_";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("the client is not allowed to use the {0} grant")]
    GrantNotAllowed(&'static str),
    #[error("the client is not allowed to request scope {0:?}")]
    ScopeNotAllowed(String),
    #[error("the client is not allowed to request audience {0:?}")]
    AudienceNotAllowed(String),
}

/// RFC 9068 §2.2 claims, plus `tenant_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    pub iss: String,
    pub sub: String,
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "one_or_many"
    )]
    pub aud: Vec<String>,
    pub client_id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub scope: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub jti: String,
    pub tenant_id: TenantId,
    /// The person's address, when the `email` scope was granted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    })
}

/// A client credentials token request, parsed.
#[derive(Debug, Default)]
pub struct ClientCredentialsRequest {
    /// `None` when the request had no `scope` parameter.
    pub scope: Option<Scope>,
    pub audience: Vec<String>,
}

/// Applies the client credentials grant: which scope and audience the client gets, for how long.
///
/// Without a `scope` parameter the client gets every scope it is registered for (RFC 6749 §3.3
/// lets the server pick a default); without `audience`, every audience it is registered for, or
/// the client itself when it has none.
pub fn client_credentials(
    client: &Client,
    request: &ClientCredentialsRequest,
    issuer: &str,
    default_lifespan: Duration,
    now: OffsetDateTime,
) -> Result<AccessTokenClaims, TokenError> {
    let meta = &client.metadata;
    if !meta.allows_grant(GrantType::ClientCredentials) || meta.is_public() {
        return Err(TokenError::GrantNotAllowed("client_credentials"));
    }
    let scope = match &request.scope {
        Some(requested) => {
            if let Some(denied) = requested.first_not_in(&meta.scope) {
                return Err(TokenError::ScopeNotAllowed(denied.to_owned()));
            }
            requested.clone()
        }
        None => meta.scope.clone(),
    };
    let aud = if request.audience.is_empty() {
        // RFC 9068 §2.2 requires `aud`: without a registered audience, the token is addressed to
        // the client itself, which no API that checks its audience will accept.
        if meta.audience.is_empty() {
            vec![client.client_id.clone()]
        } else {
            meta.audience.clone()
        }
    } else {
        if let Some(denied) = request.audience.iter().find(|a| !meta.audience.contains(a)) {
            return Err(TokenError::AudienceNotAllowed(denied.clone()));
        }
        request.audience.clone()
    };
    let lifespan = meta
        .lifespans
        .client_credentials_grant_access_token_lifespan
        .unwrap_or(default_lifespan);
    let iat = now.unix_timestamp();
    Ok(AccessTokenClaims {
        iss: issuer.to_owned(),
        sub: client.client_id.clone(),
        aud,
        client_id: client.client_id.clone(),
        scope: scope.to_string(),
        iat,
        nbf: iat,
        exp: (now + lifespan).unix_timestamp(),
        jti: random_token(16),
        tenant_id: client.tenant_id,
        email: None,
    })
}

/// An opaque access token as stored: only its hash, and the claims it stands for.
#[derive(Debug, Clone)]
pub struct OpaqueToken {
    pub hash: TokenHash,
    pub claims: AccessTokenClaims,
}

/// Mints an opaque token for `claims`; returns the token (given to the client once) and the
/// record to store.
pub fn mint_opaque(claims: AccessTokenClaims) -> (String, OpaqueToken) {
    let token = format!("{OPAQUE_PREFIX}{}", random_token(32));
    let record = OpaqueToken {
        hash: TokenHash::of(&token),
        claims,
    };
    (token, record)
}

/// A revoked JWT access token, remembered until it would have expired anyway.
#[derive(Debug, Clone)]
pub struct RevokedAccessToken {
    pub jti: String,
    pub tenant_id: TenantId,
    pub client_id: String,
    pub expires_at: OffsetDateTime,
}

/// Whether `claims` describe a token that is live at `now` for `issuer`.
pub fn is_live(claims: &AccessTokenClaims, issuer: &str, now: OffsetDateTime) -> bool {
    let t = now.unix_timestamp();
    claims.iss == issuer && claims.exp > t && claims.nbf <= t
}

/// Reads RFC 9068 claims out of a verified JWT; `None` if it is not one of our access tokens.
pub fn access_token_claims(
    typ: Option<&str>,
    claims: serde_json::Map<String, serde_json::Value>,
) -> Option<AccessTokenClaims> {
    if !typ.is_some_and(|t| {
        t.eq_ignore_ascii_case(ACCESS_TOKEN_TYP) || t.eq_ignore_ascii_case("application/at+jwt")
    }) {
        return None;
    }
    serde_json::from_value(serde_json::Value::Object(claims)).ok()
}

pub fn timestamp(unix: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(unix).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::client::ClientMetadata;

    fn client() -> Client {
        let now = OffsetDateTime::UNIX_EPOCH;
        Client {
            id: uuid::Uuid::nil(),
            client_id: "batch".into(),
            tenant_id: TenantId::DEFAULT,
            secret_hash: None,
            registration_token_hash: None,
            owner_identity_id: None,
            active: true,
            created_at: now,
            updated_at: now,
            metadata: ClientMetadata {
                client_name: "batch".into(),
                grant_types: vec![GrantType::ClientCredentials],
                scope: Scope::parse("api:read api:write").expect("valid"),
                audience: vec!["https://api.example".into()],
                ..ClientMetadata::default()
            },
        }
    }

    const NOW: OffsetDateTime = time::macros::datetime!(2026-01-01 0:00 UTC);

    #[test]
    fn grants_requested_scope_within_the_allowed_set() {
        let req = ClientCredentialsRequest {
            scope: Some(Scope::parse("api:read").expect("valid")),
            audience: vec![],
        };
        let claims = client_credentials(
            &client(),
            &req,
            "https://id.example",
            Duration::hours(1),
            NOW,
        )
        .expect("ok");
        assert_eq!(claims.scope, "api:read");
        assert_eq!(claims.sub, "batch");
        assert_eq!(claims.aud, vec!["https://api.example".to_owned()]);
        assert_eq!(claims.exp - claims.iat, 3600);
        assert!(is_live(&claims, "https://id.example", NOW));
        assert!(!is_live(
            &claims,
            "https://id.example",
            NOW + Duration::hours(1)
        ));
    }

    #[test]
    fn refuses_scopes_and_audiences_outside_the_registration() {
        let req = ClientCredentialsRequest {
            scope: Some(Scope::parse("admin").expect("valid")),
            audience: vec![],
        };
        assert_eq!(
            client_credentials(&client(), &req, "i", Duration::hours(1), NOW),
            Err(TokenError::ScopeNotAllowed("admin".into()))
        );
        let req = ClientCredentialsRequest {
            scope: None,
            audience: vec!["https://other".into()],
        };
        assert_eq!(
            client_credentials(&client(), &req, "i", Duration::hours(1), NOW),
            Err(TokenError::AudienceNotAllowed("https://other".into()))
        );
    }

    #[test]
    fn uses_the_client_lifespan_when_set() {
        let mut c = client();
        c.metadata
            .lifespans
            .client_credentials_grant_access_token_lifespan = Some(Duration::seconds(30));
        let claims = client_credentials(
            &c,
            &ClientCredentialsRequest::default(),
            "i",
            Duration::hours(1),
            NOW,
        )
        .expect("ok");
        assert_eq!(claims.exp - claims.iat, 30);
        assert_eq!(claims.scope, "api:read api:write");
        c.metadata.audience.clear();
        let claims = client_credentials(
            &c,
            &ClientCredentialsRequest::default(),
            "i",
            Duration::hours(1),
            NOW,
        )
        .expect("ok");
        assert_eq!(
            claims.aud,
            vec!["batch".to_owned()],
            "aud is never empty (RFC 9068 §2.2)"
        );
    }

    #[test]
    fn clients_without_the_grant_are_refused() {
        let mut c = client();
        c.metadata.grant_types = vec![GrantType::AuthorizationCode];
        assert_eq!(
            client_credentials(
                &c,
                &ClientCredentialsRequest::default(),
                "i",
                Duration::hours(1),
                NOW
            ),
            Err(TokenError::GrantNotAllowed("client_credentials"))
        );
    }
}
