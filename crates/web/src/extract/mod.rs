//! Request extractors that turn malformed input into clear 4xx answers.

pub mod client_auth;
pub mod form;
pub mod json;
mod request_meta;

pub use request_meta::RequestMeta;

/// The media type of a request body: `Content-Type` without parameters, lowercased (RFC 9110
/// §8.3.1); empty when absent or unreadable.
pub fn media_type(headers: &axum::http::HeaderMap) -> String {
    headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}
