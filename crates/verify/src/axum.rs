//! axum integration (feature `axum`), answering as RFC 6750 §3 says a resource server should:
//!
//! * [`VerifiedToken`]: an extractor that validates `Authorization: Bearer <token>` with the
//!   [`Validator`] in the router state (`Validator: FromRef<S>`), or reuses the claims
//!   [`VerifyLayer`] already put in the request extensions;
//! * [`VerifyLayer`]: a tower layer that validates every request and inserts its [`Claims`] into
//!   the request extensions, where the [`Claims`] extractor reads them;
//! * [`BearerError`] (401 or 503) and [`PolicyError`] (403) as responses.
//!
//! | case | status | `WWW-Authenticate` | body |
//! |---|---|---|---|
//! | no bearer token | 401 | `Bearer` | none |
//! | token refused | 401 | `Bearer error="invalid_token", error_description="…"` | `{"error": "invalid_token", "error_description": "…"}` |
//! | policy not met | 403 | `Bearer error="insufficient_scope"` (+ `scope="…"`) | `{"error": "insufficient_scope", "error_description": "…"}` |
//! | keys unavailable | 503 | — | `{"error": "temporarily_unavailable", …}` |

use crate::policy::PolicyError;
use crate::validator::{Claims, Validator, VerifyError};
use ::axum::Json;
use ::axum::extract::{FromRef, FromRequestParts, Request};
use ::axum::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use ::axum::http::request::Parts;
use ::axum::http::{HeaderMap, HeaderValue, StatusCode};
use ::axum::response::{IntoResponse, Response};
use serde_json::json;
use std::future::Future;
use std::ops::Deref;
use std::pin::Pin;
use std::task::{Context, Poll};
use tower::{Layer, Service};

/// Why a request carries no usable bearer token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BearerError {
    #[error("the request has no bearer token")]
    Missing,
    #[error(transparent)]
    Invalid(#[from] VerifyError),
    #[error("no claims in the request: the route lacks VerifyLayer")]
    LayerMissing,
}

impl IntoResponse for BearerError {
    fn into_response(self) -> Response {
        match self {
            Self::Missing => (
                StatusCode::UNAUTHORIZED,
                [(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))],
            )
                .into_response(),
            Self::Invalid(VerifyError::KeysUnavailable(error)) => {
                tracing::error!(%error, "cannot validate bearer tokens: the issuer's keys are unavailable");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    Json(json!({
                        "error": "temporarily_unavailable",
                        "error_description": "the issuer's keys cannot be loaded",
                    })),
                )
                    .into_response()
            }
            Self::Invalid(error) => {
                tracing::debug!(%error, "refused a bearer token");
                let description = header_safe(&error.to_string());
                let challenge =
                    format!("Bearer error=\"invalid_token\", error_description=\"{description}\"");
                (
                    StatusCode::UNAUTHORIZED,
                    [(
                        WWW_AUTHENTICATE,
                        header_value(&challenge, "Bearer error=\"invalid_token\""),
                    )],
                    Json(json!({ "error": "invalid_token", "error_description": description })),
                )
                    .into_response()
            }
            Self::LayerMissing => {
                tracing::error!("the Claims extractor is used on a route without VerifyLayer");
                StatusCode::INTERNAL_SERVER_ERROR.into_response()
            }
        }
    }
}

impl IntoResponse for PolicyError {
    fn into_response(self) -> Response {
        tracing::debug!(error = %self, "a valid token does not meet the route's policy");
        let description = header_safe(&self.to_string());
        let challenge = match self.required_scope() {
            Some(scope) => format!(
                "Bearer error=\"insufficient_scope\", scope=\"{}\"",
                header_safe(scope)
            ),
            None => "Bearer error=\"insufficient_scope\"".to_owned(),
        };
        (
            StatusCode::FORBIDDEN,
            [(
                WWW_AUTHENTICATE,
                header_value(&challenge, "Bearer error=\"insufficient_scope\""),
            )],
            Json(json!({ "error": "insufficient_scope", "error_description": description })),
        )
            .into_response()
    }
}

/// RFC 6750 §3: `error_description` and `scope` values may hold only %x20-21 / %x23-5B /
/// %x5D-7E (printable ASCII without `"` and `\`).
fn header_safe(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '"' | '\\' => '\'',
            ' '..='~' => c,
            _ => '?',
        })
        .collect()
}

/// `challenge` as a header value, or `fallback` should it somehow not be one.
fn header_value(challenge: &str, fallback: &'static str) -> HeaderValue {
    HeaderValue::from_str(challenge).unwrap_or_else(|_| HeaderValue::from_static(fallback))
}

/// The token of an `Authorization: Bearer` header (RFC 6750 §2.1; scheme case-insensitive).
/// `None` without one, including for another scheme such as `Basic`.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim_matches(' '))
}

async fn authenticate(validator: &Validator, headers: &HeaderMap) -> Result<Claims, BearerError> {
    let token = bearer_token(headers).ok_or(BearerError::Missing)?;
    if token.is_empty() {
        return Err(BearerError::Invalid(VerifyError::Malformed));
    }
    Ok(validator.verify(token).await?)
}

/// The claims of the request's validated bearer token.
///
/// ```no_run
/// use axum::{Json, Router, routing::get};
/// use gatehouse_verify::{PolicyError, Validator, VerifiedToken, require_scope};
///
/// async fn data(token: VerifiedToken) -> Result<Json<serde_json::Value>, PolicyError> {
///     require_scope(&token, "api:read")?;
///     Ok(Json(serde_json::json!({ "sub": token.subject() })))
/// }
///
/// fn router(validator: Validator) -> Router {
///     Router::new().route("/data", get(data)).with_state(validator)
/// }
/// ```
#[derive(Debug, Clone)]
pub struct VerifiedToken(pub Claims);

impl Deref for VerifiedToken {
    type Target = Claims;

    fn deref(&self) -> &Claims {
        &self.0
    }
}

impl<S> FromRequestParts<S> for VerifiedToken
where
    Validator: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = BearerError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if let Some(claims) = parts.extensions.get::<Claims>() {
            return Ok(Self(claims.clone()));
        }
        let validator = Validator::from_ref(state);
        let claims = authenticate(&validator, &parts.headers).await?;
        parts.extensions.insert(claims.clone());
        Ok(Self(claims))
    }
}

/// Reads the claims [`VerifyLayer`] inserted; on a route without the layer it answers 500.
impl<S> FromRequestParts<S> for Claims
where
    S: Send + Sync,
{
    type Rejection = BearerError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Claims>()
            .cloned()
            .ok_or(BearerError::LayerMissing)
    }
}

/// A tower layer that lets through only requests with a valid bearer token, inserting its
/// [`Claims`] into the request extensions; others get the [`BearerError`] response.
///
/// ```no_run
/// use axum::{Router, routing::get};
/// use gatehouse_verify::{Claims, Validator, VerifyLayer};
///
/// fn router(validator: Validator) -> Router {
///     Router::new()
///         .route("/me", get(|claims: Claims| async move { claims.subject().to_owned() }))
///         .route_layer(VerifyLayer::new(validator))
/// }
/// ```
#[derive(Debug, Clone)]
pub struct VerifyLayer {
    validator: Validator,
}

impl VerifyLayer {
    pub fn new(validator: Validator) -> Self {
        Self { validator }
    }
}

impl<S> Layer<S> for VerifyLayer {
    type Service = VerifyService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        VerifyService {
            inner,
            validator: self.validator.clone(),
        }
    }
}

/// The service [`VerifyLayer`] wraps around a route.
#[derive(Debug, Clone)]
pub struct VerifyService<S> {
    inner: S,
    validator: Validator,
}

impl<S> Service<Request> for VerifyService<S>
where
    S: Service<Request, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        // The clone is not ready; keep the one that is (tower's documented pattern).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let validator = self.validator.clone();
        Box::pin(async move {
            match authenticate(&validator, request.headers()).await {
                Ok(claims) => {
                    request.extensions_mut().insert(claims);
                    inner.call(request).await
                }
                Err(rejection) => Ok(rejection.into_response()),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_only_bearer_credentials() {
        let headers = |value: &'static str| {
            let mut h = HeaderMap::new();
            h.insert(AUTHORIZATION, HeaderValue::from_static(value));
            h
        };
        assert_eq!(bearer_token(&headers("Bearer abc")), Some("abc"));
        assert_eq!(bearer_token(&headers("bearer  abc ")), Some("abc"));
        assert_eq!(bearer_token(&headers("Bearer")), Some(""));
        assert_eq!(bearer_token(&headers("Basic YTpi")), None);
        assert_eq!(bearer_token(&HeaderMap::new()), None);
    }

    #[test]
    fn descriptions_are_safe_in_a_challenge() {
        assert_eq!(header_safe("a \"b\" \\ é\n"), "a 'b' ' ??");
    }
}
