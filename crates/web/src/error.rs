//! The response families: [`ApiError`] for the admin and JSON APIs, [`OAuthError`] for OAuth 2.0
//! endpoints (RFC 6749 §5.2). A 5xx is logged once, here, and answered with a generic body.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gatehouse_domain::store::StoreError;
use serde_json::json;
use std::borrow::Cow;

/// `{"error": {"code", "status", "reason", "id"}}`.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    /// A stable, machine-readable reason (`client_not_found`, `invalid_body`, …).
    pub id: &'static str,
    pub reason: Cow<'static, str>,
}

impl ApiError {
    pub fn new(status: StatusCode, id: &'static str, reason: impl Into<Cow<'static, str>>) -> Self {
        Self {
            status,
            id,
            reason: reason.into(),
        }
    }

    pub fn bad_request(id: &'static str, reason: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, id, reason)
    }

    pub fn not_found(id: &'static str, reason: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::NOT_FOUND, id, reason)
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid admin bearer token is required",
        )
    }

    pub fn internal(context: &'static str, err: &dyn std::error::Error) -> Self {
        tracing::error!(error = %err, source = ?err.source().map(ToString::to_string), "{context}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "the server could not complete the request",
        )
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound => {
                Self::not_found("not_found", "the requested resource does not exist")
            }
            StoreError::Conflict { .. } => Self::new(
                StatusCode::CONFLICT,
                "conflict",
                "a resource with the same identifier already exists",
            ),
            StoreError::Backend(_) => Self::internal("store failure", &err),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({
            "error": {
                "code": self.status.as_u16(),
                "status": self.status.canonical_reason().unwrap_or("Error"),
                "reason": self.reason,
                "id": self.id,
            }
        });
        let mut response = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// RFC 6749 §5.2 error body `{error, error_description}`, never cached.
#[derive(Debug)]
pub struct OAuthError {
    pub status: StatusCode,
    pub error: &'static str,
    pub description: Cow<'static, str>,
    /// Extra headers (`WWW-Authenticate`, `Retry-After`).
    pub challenge: Option<(header::HeaderName, HeaderValue)>,
}

impl OAuthError {
    pub fn new(
        status: StatusCode,
        error: &'static str,
        description: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self {
            status,
            error,
            description: description.into(),
            challenge: None,
        }
    }

    pub fn invalid_request(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    /// Client authentication failed: 401 with a `Basic` challenge (RFC 6749 §5.2).
    pub fn invalid_client() -> Self {
        Self {
            challenge: Some((
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"gatehouse\""),
            )),
            ..Self::new(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "client authentication failed",
            )
        }
    }

    pub fn unauthorized_client(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "unauthorized_client", description)
    }

    pub fn invalid_scope(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_scope", description)
    }

    pub fn invalid_token(description: impl Into<Cow<'static, str>>) -> Self {
        Self {
            challenge: Some((
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer error=\"invalid_token\""),
            )),
            ..Self::new(StatusCode::UNAUTHORIZED, "invalid_token", description)
        }
    }

    pub fn too_many_requests(retry_after_secs: u64) -> Self {
        Self {
            challenge: Some((header::RETRY_AFTER, HeaderValue::from(retry_after_secs))),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_requests",
                "too many requests, retry later",
            )
        }
    }

    pub fn server_error(context: &'static str, err: &dyn std::error::Error) -> Self {
        tracing::error!(error = %err, "{context}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "the server could not complete the request",
        )
    }
}

impl From<StoreError> for OAuthError {
    fn from(err: StoreError) -> Self {
        Self::server_error("store failure", &err)
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = json!({ "error": self.error, "error_description": self.description });
        let mut response = (self.status, Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        if let Some((name, value)) = self.challenge {
            headers.insert(name, value);
        }
        response
    }
}
