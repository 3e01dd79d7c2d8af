//! The BFF's answers on failure: small JSON bodies for the API and endpoint errors, plain
//! reasons on a 400 a person may see after the provider's callback.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use gatehouse_domain::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum BffError {
    #[error("not signed in")]
    Unauthorized,
    #[error("the X-CSRF: 1 header is required, and the Origin, when sent, must be an allowed one")]
    CsrfRequired,
    #[error("{0}")]
    BadRequest(&'static str),
    #[error("no route")]
    NotFound,
    #[error("the upstream cannot be reached")]
    BadGateway,
    #[error("the upstream did not answer in time")]
    GatewayTimeout,
    #[error("the identity provider cannot be reached")]
    ProviderUnavailable,
    #[error("store failure")]
    Store(#[from] StoreError),
}

impl IntoResponse for BffError {
    fn into_response(self) -> Response {
        let status = match &self {
            BffError::Unauthorized => StatusCode::UNAUTHORIZED,
            BffError::CsrfRequired => StatusCode::FORBIDDEN,
            BffError::BadRequest(_) => StatusCode::BAD_REQUEST,
            BffError::NotFound => StatusCode::NOT_FOUND,
            BffError::BadGateway | BffError::ProviderUnavailable => StatusCode::BAD_GATEWAY,
            BffError::GatewayTimeout => StatusCode::GATEWAY_TIMEOUT,
            BffError::Store(err) => {
                tracing::error!(error = %err, "BFF store failure");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        let reason = match &self {
            BffError::Store(_) => "internal error".to_owned(),
            other => other.to_string(),
        };
        let body = serde_json::json!({
            "error": {"code": status.as_u16(), "status": status.canonical_reason(), "reason": reason}
        });
        (status, axum::Json(body)).into_response()
    }
}
