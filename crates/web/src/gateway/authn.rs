//! The authenticators a rule tries in order. Each either is not responsible for the request (no
//! credential of its kind: the next one is tried), or accepts it with an
//! [`AuthenticationSession`], or refuses it (the chain stops).
//!
//! * `jwt`: the bearer token is validated locally by `gatehouse-verify` (JWKS cached), and a
//!   verified token is remembered by its SHA-256 until its `exp` (at most a minute);
//! * `oauth2_introspection`: RFC 7662 against the identity provider, results cached for the
//!   configured time but never past the token's `exp`, keyed by the token's SHA-256;
//! * `cookie_session`: the session check endpoint (Gatehouse / Kratos `/sessions/whoami`), with
//!   the request's `Cookie` and `X-Session-Token`, cached briefly;
//! * `anonymous`: only when there is no `Authorization` header; `noop`: always, with no subject.

use axum::http::{HeaderMap, StatusCode, header};
use gatehouse_domain::gateway::{AuthenticationSession, CookieSessionConfig, IntrospectionConfig};
use gatehouse_domain::secret::TokenHash;
use gatehouse_verify::{Claims, Validator, VerifyError};
use moka::Expiry;
use moka::future::Cache;
use serde_json::{Map, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};
use time::OffsetDateTime;

/// Why an authenticator did not accept a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthnError {
    #[error("no credential for this authenticator")]
    NotResponsible,
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("the identity provider is unavailable: {0}")]
    Unavailable(String),
}

pub enum Authn {
    Jwt(JwtAuthn),
    Introspection(Box<IntrospectionAuthn>),
    CookieSession(Box<CookieSessionAuthn>),
    Anonymous(String),
    Noop,
}

/// The bearer token of `Authorization: Bearer …` (RFC 6750 §2.1).
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

fn missing_scope(granted: &[&str], required: &[String]) -> Option<String> {
    required
        .iter()
        .find(|s| !granted.contains(&s.as_str()))
        .cloned()
}

impl Authn {
    pub async fn authenticate(
        &self,
        headers: &HeaderMap,
        http: &reqwest::Client,
        now: OffsetDateTime,
    ) -> Result<Arc<AuthenticationSession>, AuthnError> {
        match self {
            Authn::Jwt(jwt) => jwt.authenticate(headers, now).await,
            Authn::Introspection(i) => i.authenticate(headers, http, now).await,
            Authn::CookieSession(c) => c.authenticate(headers, http).await,
            Authn::Anonymous(subject) => {
                if headers.contains_key(header::AUTHORIZATION) {
                    Err(AuthnError::NotResponsible)
                } else {
                    Ok(Arc::new(AuthenticationSession::new(
                        subject.clone(),
                        Value::Null,
                    )))
                }
            }
            Authn::Noop => Ok(Arc::default()),
        }
    }
}

// ---------------------------------------------------------------------------------------------

/// How long a verified token is remembered. Verification is deterministic for a given key set,
/// so this only bounds how long a key withdrawn from the issuer's JWKS is still honoured.
const VERIFIED_TTL: Duration = Duration::from_secs(60);

/// A token whose signature and claims checked out, until its `exp`, with what this
/// authenticator made of it (shared by every request that carries it: nothing is copied).
struct Verified {
    accepted: Result<Arc<AuthenticationSession>, String>,
    exp: i64,
}

pub struct JwtAuthn {
    /// One validator per (trusted issuer, JWKS URL); the first that accepts the token wins.
    validators: Vec<Validator>,
    required_scope: Vec<String>,
    /// Tokens verified recently, by SHA-256: a signature check costs ~50 µs, a look-up ~1 µs.
    verified: moka::sync::Cache<[u8; 32], Arc<Verified>>,
}

impl JwtAuthn {
    pub fn new(validators: Vec<Validator>, required_scope: Vec<String>) -> Self {
        Self {
            validators,
            required_scope,
            verified: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(VERIFIED_TTL)
                .build(),
        }
    }

    async fn authenticate(
        &self,
        headers: &HeaderMap,
        now: OffsetDateTime,
    ) -> Result<Arc<AuthenticationSession>, AuthnError> {
        let token = bearer(headers).ok_or(AuthnError::NotResponsible)?;
        let key = TokenHash::of(token).0;
        if let Some(hit) = self.verified.get(&key)
            && hit.exp > now.unix_timestamp()
        {
            return hit.accepted.clone().map_err(AuthnError::Forbidden);
        }
        let mut last = VerifyError::Malformed;
        for validator in &self.validators {
            match validator.verify(token).await {
                Ok(claims) => {
                    let exp = claims.get("exp").and_then(Value::as_i64);
                    let accepted = self.accept(claims);
                    if let Some(exp) = exp {
                        let entry = Verified {
                            accepted: accepted.clone(),
                            exp,
                        };
                        self.verified.insert(key, Arc::new(entry));
                    }
                    return accepted.map_err(AuthnError::Forbidden);
                }
                Err(err) => last = err,
            }
        }
        match last {
            VerifyError::KeysUnavailable(e) => Err(AuthnError::Unavailable(e.to_string())),
            other => Err(AuthnError::Unauthorized(other.to_string())),
        }
    }

    /// The session of a verified token, or why it is forbidden.
    fn accept(&self, claims: Claims) -> Result<Arc<AuthenticationSession>, String> {
        if let Some(missing) = missing_scope(&claims.scopes(), &self.required_scope) {
            return Err(format!("the token lacks the required scope {missing}"));
        }
        let subject = claims.subject().to_owned();
        Ok(Arc::new(AuthenticationSession {
            subject,
            claims: claims.0,
        }))
    }
}

// ---------------------------------------------------------------------------------------------

/// A cached answer and how long it may be kept.
struct Cached {
    session: Option<Arc<AuthenticationSession>>,
    /// For an active token: its `exp`, checked again on every use.
    exp: Option<i64>,
    keep: Duration,
}

struct KeepFor;

impl Expiry<[u8; 32], Arc<Cached>> for KeepFor {
    fn expire_after_create(
        &self,
        _key: &[u8; 32],
        value: &Arc<Cached>,
        _created_at: Instant,
    ) -> Option<Duration> {
        Some(value.keep)
    }
}

fn new_cache(ttl: Option<time::Duration>) -> Option<Cache<[u8; 32], Arc<Cached>>> {
    ttl.map(|_| {
        Cache::builder()
            .max_capacity(100_000)
            .expire_after(KeepFor)
            .build()
    })
}

pub struct IntrospectionAuthn {
    config: IntrospectionConfig,
    cache: Option<Cache<[u8; 32], Arc<Cached>>>,
}

#[derive(serde::Deserialize)]
struct IntrospectionResponse {
    #[serde(default)]
    active: bool,
    #[serde(flatten)]
    rest: Map<String, Value>,
}

impl IntrospectionAuthn {
    pub fn new(config: IntrospectionConfig) -> Self {
        Self {
            cache: new_cache(config.cache_ttl),
            config,
        }
    }

    async fn authenticate(
        &self,
        headers: &HeaderMap,
        http: &reqwest::Client,
        now: OffsetDateTime,
    ) -> Result<Arc<AuthenticationSession>, AuthnError> {
        let token = bearer(headers).ok_or(AuthnError::NotResponsible)?;
        let key = TokenHash::of(token).0;
        let cached = match &self.cache {
            Some(cache) => cache.get(&key).await,
            None => None,
        };
        let entry = match cached {
            Some(entry) => entry,
            None => {
                let entry = Arc::new(self.introspect(token, http, now).await?);
                if let Some(cache) = &self.cache {
                    cache.insert(key, entry.clone()).await;
                }
                entry
            }
        };
        let session = entry
            .session
            .as_ref()
            .ok_or_else(|| AuthnError::Unauthorized("the token is not active".into()))?;
        if entry.exp.is_some_and(|exp| exp <= now.unix_timestamp()) {
            return Err(AuthnError::Unauthorized("the token has expired".into()));
        }
        if let Some(missing) = missing_scope(&session.scopes(), &self.config.required_scope) {
            return Err(AuthnError::Forbidden(format!(
                "the token lacks the required scope {missing}"
            )));
        }
        Ok(session.clone())
    }

    async fn introspect(
        &self,
        token: &str,
        http: &reqwest::Client,
        now: OffsetDateTime,
    ) -> Result<Cached, AuthnError> {
        let mut request = http
            .post(self.config.introspection_url.clone())
            .header(header::ACCEPT, "application/json")
            .form(&[("token", token), ("token_type_hint", "access_token")]);
        if let (Some(id), Some(secret)) = (&self.config.client_id, &self.config.client_secret) {
            request = request.basic_auth(id, Some(secret.expose()));
        }
        let response = request
            .send()
            .await
            .map_err(|e| AuthnError::Unavailable(e.without_url().to_string()))?;
        if !response.status().is_success() {
            return Err(AuthnError::Unavailable(format!(
                "introspection answered {}",
                response.status()
            )));
        }
        let body: IntrospectionResponse = response
            .json()
            .await
            .map_err(|_| AuthnError::Unavailable("introspection answered no JSON".into()))?;
        let ttl = self
            .config
            .cache_ttl
            .map_or(Duration::ZERO, time::Duration::unsigned_abs);
        if !body.active {
            return Ok(Cached {
                session: None,
                exp: None,
                keep: ttl,
            });
        }
        let claims = body.rest;
        let exp = claims.get("exp").and_then(Value::as_i64);
        if let Some(reason) = self.refusal(&claims) {
            return Err(AuthnError::Unauthorized(reason));
        }
        // Never keep an answer past the token's own expiry.
        let keep = match exp {
            Some(exp) => {
                let left = (exp - now.unix_timestamp()).max(0);
                ttl.min(Duration::from_secs(u64::try_from(left).unwrap_or(0)))
            }
            None => ttl,
        };
        let subject = claims
            .get("sub")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        Ok(Cached {
            session: Some(Arc::new(AuthenticationSession { subject, claims })),
            exp,
            keep,
        })
    }

    fn refusal(&self, claims: &Map<String, Value>) -> Option<String> {
        let cfg = &self.config;
        if !cfg.trusted_issuers.is_empty() {
            let iss = claims
                .get("iss")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if !cfg.trusted_issuers.iter().any(|t| t == iss) {
                return Some("the token is from an untrusted issuer".into());
            }
        }
        if !cfg.target_audience.is_empty() {
            let aud: Vec<&str> = match claims.get("aud") {
                Some(Value::String(s)) => vec![s.as_str()],
                Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
                _ => Vec::new(),
            };
            if !cfg
                .target_audience
                .iter()
                .any(|t| aud.contains(&t.as_str()))
            {
                return Some("the token is not meant for this audience".into());
            }
        }
        None
    }
}

// ---------------------------------------------------------------------------------------------

const SESSION_TOKEN: &str = "x-session-token";

pub struct CookieSessionAuthn {
    config: CookieSessionConfig,
    cache: Option<Cache<[u8; 32], Arc<Cached>>>,
}

fn has_cookie(headers: &HeaderMap, only: &[String]) -> bool {
    headers.get_all(header::COOKIE).iter().any(|value| {
        value.to_str().is_ok_and(|v| {
            v.split(';').any(|pair| {
                let name = pair.split('=').next().unwrap_or_default().trim();
                !name.is_empty() && (only.is_empty() || only.iter().any(|o| o == name))
            })
        })
    })
}

/// The claims of a Kratos-shaped whoami answer: the identity's traits (`email`, …), its
/// `tenant_id`, and the session's `session_id`, `aal`.
fn whoami_claims(body: &Value) -> Map<String, Value> {
    let identity = &body["identity"];
    let mut claims = match &identity["traits"] {
        Value::Object(traits) => traits.clone(),
        _ => Map::new(),
    };
    for (name, value) in [
        ("tenant_id", &identity["tenant_id"]),
        ("session_id", &body["id"]),
        ("aal", &body["authenticator_assurance_level"]),
    ] {
        if !value.is_null() {
            claims.insert(name.to_owned(), value.clone());
        }
    }
    claims
}

impl CookieSessionAuthn {
    pub fn new(config: CookieSessionConfig) -> Self {
        Self {
            cache: new_cache(config.cache_ttl),
            config,
        }
    }

    async fn authenticate(
        &self,
        headers: &HeaderMap,
        http: &reqwest::Client,
    ) -> Result<Arc<AuthenticationSession>, AuthnError> {
        let session_token = headers.get(SESSION_TOKEN);
        if session_token.is_none() && !has_cookie(headers, &self.config.only) {
            return Err(AuthnError::NotResponsible);
        }
        let mut credential = Vec::new();
        for value in headers.get_all(header::COOKIE) {
            credential.extend_from_slice(value.as_bytes());
            credential.push(b'\n');
        }
        if let Some(token) = session_token {
            credential.extend_from_slice(token.as_bytes());
        }
        let key = TokenHash::of(&String::from_utf8_lossy(&credential)).0;
        if let Some(cache) = &self.cache
            && let Some(entry) = cache.get(&key).await
        {
            return entry
                .session
                .clone()
                .ok_or_else(|| AuthnError::Unauthorized("the session is not active".into()));
        }
        let mut request = http
            .get(self.config.check_session_url.clone())
            .header(header::ACCEPT, "application/json");
        for value in headers.get_all(header::COOKIE) {
            request = request.header(header::COOKIE, value.clone());
        }
        if let Some(token) = session_token {
            request = request.header(SESSION_TOKEN, token.clone());
        }
        let response = request
            .send()
            .await
            .map_err(|e| AuthnError::Unavailable(e.without_url().to_string()))?;
        let keep = self
            .config
            .cache_ttl
            .map_or(Duration::ZERO, time::Duration::unsigned_abs);
        let session = match response.status() {
            StatusCode::OK => {
                let body: Value = response.json().await.map_err(|_| {
                    AuthnError::Unavailable("the session check answered no JSON".into())
                })?;
                let subject = body["identity"]["id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                if subject.is_empty() || body["active"] == Value::Bool(false) {
                    None
                } else {
                    Some(Arc::new(AuthenticationSession {
                        subject,
                        claims: whoami_claims(&body),
                    }))
                }
            }
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => None,
            other => {
                return Err(AuthnError::Unavailable(format!(
                    "the session check answered {other}"
                )));
            }
        };
        if let Some(cache) = &self.cache {
            let entry = Arc::new(Cached {
                session: session.clone(),
                exp: None,
                keep,
            });
            cache.insert(key, entry).await;
        }
        session.ok_or_else(|| AuthnError::Unauthorized("the session is not active".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use serde_json::json;

    #[test]
    fn reads_bearer_tokens() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer(&h), None);
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("bearer abc"),
        );
        assert_eq!(bearer(&h), Some("abc"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(bearer(&h), None);
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer "));
        assert_eq!(bearer(&h), None);
    }

    #[test]
    fn cookie_names_limit_responsibility() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("theme=dark; gatehouse_session=x"),
        );
        assert!(has_cookie(&h, &[]));
        assert!(has_cookie(&h, &["gatehouse_session".into()]));
        assert!(!has_cookie(&h, &["other".into()]));
    }

    #[test]
    fn whoami_answers_become_claims() {
        let body = json!({"id": "s1", "active": true, "identity": {"id": "i1", "tenant_id": "t1",
            "traits": {"email": "a@example.com"}}});
        let claims = whoami_claims(&body);
        assert_eq!(claims["email"], "a@example.com");
        assert_eq!(claims["tenant_id"], "t1");
        assert_eq!(claims["session_id"], "s1");
    }
}
