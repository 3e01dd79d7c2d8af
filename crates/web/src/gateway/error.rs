//! The gateway's own answers: `{"error": {"code", "status", "reason", "id"}}` as everywhere in
//! Gatehouse, or a redirect to the login page for browsers when the rule asks for it.

use crate::error::ApiError;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gatehouse_domain::gateway::ErrorHandling;

/// Why the gateway answers instead of the upstream.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GatewayError {
    #[error("no rule matches this request")]
    NoRule,
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("the identity provider is unavailable")]
    AuthUnavailable,
    #[error("the rule has no upstream")]
    NoUpstream,
    #[error("the upstream cannot be reached")]
    BadGateway,
    #[error("the upstream did not answer in time")]
    GatewayTimeout,
    #[error("the request cannot be forwarded")]
    Internal,
}

impl GatewayError {
    pub fn status(&self) -> StatusCode {
        match self {
            GatewayError::NoRule => StatusCode::NOT_FOUND,
            GatewayError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            GatewayError::Forbidden(_) => StatusCode::FORBIDDEN,
            GatewayError::AuthUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            GatewayError::BadGateway | GatewayError::NoUpstream => StatusCode::BAD_GATEWAY,
            GatewayError::GatewayTimeout => StatusCode::GATEWAY_TIMEOUT,
            GatewayError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn id(&self) -> &'static str {
        match self {
            GatewayError::NoRule => "no_matching_rule",
            GatewayError::Unauthorized(_) => "unauthorized",
            GatewayError::Forbidden(_) => "forbidden",
            GatewayError::AuthUnavailable => "identity_provider_unavailable",
            GatewayError::NoUpstream => "no_upstream",
            GatewayError::BadGateway => "bad_gateway",
            GatewayError::GatewayTimeout => "gateway_timeout",
            GatewayError::Internal => "internal_error",
        }
    }

    /// The answer, as a redirect when `handling` says so and the caller is a browser
    /// (`Accept: text/html`) that is not authenticated; `original` is the URL to come back to.
    pub fn respond(self, handling: &ErrorHandling, accepts_html: bool, original: &str) -> Response {
        if let (
            GatewayError::Unauthorized(_),
            ErrorHandling::Redirect {
                to,
                return_to_query_param,
                code,
            },
            true,
        ) = (&self, handling, accepts_html)
        {
            let mut target = to.clone();
            target
                .query_pairs_mut()
                .append_pair(return_to_query_param, original);
            if let Ok(location) = HeaderValue::from_str(target.as_str()) {
                let status = StatusCode::from_u16(*code).unwrap_or(StatusCode::FOUND);
                return (status, [(header::LOCATION, location)]).into_response();
            }
        }
        self.into_response()
    }
}

impl IntoResponse for GatewayError {
    fn into_response(self) -> Response {
        // ApiError adds `WWW-Authenticate: Bearer` to a 401.
        ApiError::new(self.status(), self.id(), self.to_string()).into_response()
    }
}

/// Whether the request prefers HTML (a browser navigation).
pub fn accepts_html(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"))
}
