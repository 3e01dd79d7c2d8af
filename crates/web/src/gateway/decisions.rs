//! The decision API: `/decisions/<path>` answers whether the request described by the call may
//! pass, for proxies that ask before forwarding (nginx `auth_request`, Traefik `forwardAuth`,
//! Envoy `ext_authz`). The original request is described by `X-Forwarded-Method`, `-Proto`,
//! `-Host` and `-Uri` when present, and otherwise by the call itself (method, `Host`, the path
//! after `/decisions`). 200 carries the mutated headers; 401 / 403 the usual error body.

use super::Gateway;
use super::error::{GatewayError, accepts_html};
use super::pipeline::decide;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::time::Instant;

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// The request the proxy asks about.
struct Original {
    method: String,
    scheme: String,
    host: String,
    path: String,
    query: Option<String>,
}

fn original(request: &Request) -> Original {
    let headers = request.headers();
    let method = header_str(headers, "x-forwarded-method")
        .unwrap_or(request.method().as_str())
        .to_ascii_uppercase();
    let scheme = header_str(headers, "x-forwarded-proto")
        .unwrap_or("http")
        .to_ascii_lowercase();
    let host = header_str(headers, "x-forwarded-host")
        .or_else(|| header_str(headers, header::HOST.as_str()))
        .unwrap_or_default()
        .to_ascii_lowercase();
    let (path, query) = match header_str(headers, "x-forwarded-uri") {
        Some(uri) => match uri.split_once('?') {
            Some((p, q)) => (p.to_owned(), Some(q.to_owned())),
            None => (uri.to_owned(), None),
        },
        None => (
            request
                .uri()
                .path()
                .strip_prefix("/decisions")
                .unwrap_or_default()
                .to_owned(),
            request.uri().query().map(str::to_owned),
        ),
    };
    let path = if path.starts_with('/') {
        path
    } else {
        format!("/{path}")
    };
    Original {
        method,
        scheme,
        host,
        path,
        query,
    }
}

pub async fn handle(State(gateway): State<Gateway>, request: Request) -> Response {
    let started = Instant::now();
    let rules = gateway.rules();
    let Original {
        method,
        scheme,
        host,
        path,
        query,
    } = original(&request);
    let url = format!("{scheme}://{host}{path}");
    let Some(rule) = rules.find(&method, &url) else {
        let response = GatewayError::NoRule.into_response();
        record(&gateway, "no_rule", request.method(), &response, started);
        return response;
    };
    let response = match decide(&gateway, rule, request.headers(), &path).await {
        Ok(mutations) => {
            let mut response = StatusCode::OK.into_response();
            for (name, value) in mutations.headers {
                if let Some(value) = value {
                    response.headers_mut().insert(name, value);
                }
            }
            response
        }
        Err(err) => {
            let original = match &query {
                Some(q) => format!("{url}?{q}"),
                None => url.clone(),
            };
            err.respond(
                &rule.rule.errors,
                accepts_html(request.headers()),
                &original,
            )
        }
    };
    record(
        &gateway,
        &rule.rule.id,
        request.method(),
        &response,
        started,
    );
    tracing::info!(rule.id = %rule.rule.id, http.method = %method, http.path = %path, http.status = response.status().as_u16(), "decision");
    response
}

fn record(
    gateway: &Gateway,
    rule: &str,
    method: &axum::http::Method,
    response: &Response,
    started: Instant,
) {
    gateway.0.metrics.request(
        "decisions",
        method,
        rule,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
}
