//! Discovery: RFC 8414 authorization server metadata, the OpenID Connect discovery document
//! (the same fields this server supports, and only those), and the JWKS. URLs come from the
//! configured issuer, never from the `Host` header. The metadata is serialized once, and again
//! only when the scope catalog's active scopes change (`scopes_supported`).

use crate::error::ApiError;
use crate::state::{AppState, Settings};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use gatehouse_domain::oauth::claims::STANDARD_CLAIMS;
use serde_json::{Value, json};
use std::sync::RwLock;

const SECRET_METHODS: [&str; 2] = ["client_secret_basic", "client_secret_post"];

/// The token claims, then the standard claims userinfo and ID tokens release per scope.
fn claims_supported() -> Vec<&'static str> {
    let mut claims = vec![
        "iss",
        "sub",
        "aud",
        "exp",
        "iat",
        "nbf",
        "jti",
        "client_id",
        "scope",
        "tenant_id",
    ];
    for claim in STANDARD_CLAIMS {
        if !claims.contains(&claim) {
            claims.push(claim);
        }
    }
    claims
}

fn metadata(s: &Settings, scopes_supported: &[String]) -> Value {
    let mut doc = json!({
        "issuer": s.issuer,
        "authorization_endpoint": s.url("/oauth2/auth"),
        "jwks_uri": s.url("/.well-known/jwks.json"),
        "token_endpoint": s.url("/oauth2/token"),
        "introspection_endpoint": s.url("/oauth2/introspect"),
        "revocation_endpoint": s.url("/oauth2/revoke"),
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query", "form_post"],
        "code_challenge_methods_supported": ["S256"],
        "prompt_values_supported": ["none", "login", "consent"],
        "authorization_response_iss_parameter_supported": true,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "claims_parameter_supported": false,
        "token_endpoint_auth_methods_supported": [
            "client_secret_basic", "client_secret_post", "none"
        ],
        "introspection_endpoint_auth_methods_supported": SECRET_METHODS,
        "revocation_endpoint_auth_methods_supported": SECRET_METHODS,
        "scopes_supported": scopes_supported,
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256"],
        "access_token_signing_alg_values_supported": ["ES256"],
        "userinfo_endpoint": s.url("/userinfo"),
        "end_session_endpoint": s.url("/oauth2/sessions/logout"),
        "claims_supported": claims_supported(),
    });
    if s.registration.enabled {
        doc["registration_endpoint"] = json!(s.url("/oauth2/register"));
    }
    doc
}

/// The metadata document for `settings`, serialized (RFC 8414 §2, OpenID Connect Discovery §3).
pub fn document(settings: &Settings, scopes_supported: &[String]) -> Bytes {
    Bytes::from(
        serde_json::to_vec(&metadata(settings, scopes_supported))
            .expect("a JSON value always serializes"),
    )
}

/// The serialized metadata document, replaced when the scopes it lists change.
#[derive(Debug)]
pub struct Discovery(RwLock<Bytes>);

impl Discovery {
    pub fn new(settings: &Settings, scopes_supported: &[String]) -> Self {
        Self(RwLock::new(document(settings, scopes_supported)))
    }

    pub fn rebuild(&self, settings: &Settings, scopes_supported: &[String]) {
        let doc = document(settings, scopes_supported);
        *self
            .0
            .write()
            .expect("discovery lock is never poisoned: nothing panics holding it") = doc;
    }

    /// The current document (cheap: one reference count).
    pub fn current(&self) -> Bytes {
        self.0
            .read()
            .expect("discovery lock is never poisoned: nothing panics holding it")
            .clone()
    }
}

fn json_response(body: Bytes, cache_control: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(cache_control),
    );
    response
}

/// `GET /.well-known/openid-configuration`.
pub async fn openid_configuration(State(state): State<AppState>) -> Response {
    json_response(state.discovery.current(), "public, max-age=300")
}

/// `GET /.well-known/oauth-authorization-server`.
pub async fn authorization_server(State(state): State<AppState>) -> Response {
    json_response(state.discovery.current(), "public, max-age=300")
}

/// `GET /.well-known/jwks.json`: public keys only, serialized once per key set. Cached briefly,
/// so a rotation reaches resource servers quickly (new keys are published ahead).
pub async fn jwks(State(state): State<AppState>) -> Result<Response, ApiError> {
    let jwks = state
        .keys
        .jwks()
        .map_err(|e| ApiError::internal("signing keys unavailable", &e))?;
    Ok(json_response(jwks, "public, max-age=60"))
}
