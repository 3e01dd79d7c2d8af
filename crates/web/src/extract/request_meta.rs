//! [`RequestMeta`]: where a request comes from, for session devices and audit events. The IP
//! address is the socket peer's; forwarding headers are not trusted.

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header;
use axum::http::request::Parts;
use std::convert::Infallible;
use std::net::SocketAddr;

/// Longest user agent kept; longer ones are cut (at a character boundary).
const MAX_USER_AGENT: usize = 512;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestMeta {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl RequestMeta {
    pub fn from_parts(parts: &Parts) -> Self {
        let ip = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip().to_canonical().to_string());
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .map(|v| String::from_utf8_lossy(v.as_bytes()))
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .map(|v| {
                let mut end = v.len().min(MAX_USER_AGENT);
                while !v.is_char_boundary(end) {
                    end -= 1;
                }
                v[..end].to_owned()
            });
        Self { ip, user_agent }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequestMeta {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::from_parts(parts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;

    #[test]
    fn reads_the_peer_and_a_bounded_user_agent() {
        let mut request = Request::builder()
            .header(header::USER_AGENT, "é".repeat(400))
            .body(())
            .expect("request");
        request
            .extensions_mut()
            .insert(ConnectInfo(SocketAddr::from(([192, 0, 2, 7], 5000))));
        let (parts, ()) = request.into_parts();
        let meta = RequestMeta::from_parts(&parts);
        assert_eq!(meta.ip.as_deref(), Some("192.0.2.7"));
        let ua = meta.user_agent.expect("kept");
        assert!(ua.len() <= MAX_USER_AGENT && ua.chars().all(|c| c == 'é'));
    }
}
