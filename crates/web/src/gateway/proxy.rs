//! The data path: match a rule, run it, forward the request to the rule's upstream over a pooled
//! keep-alive connection, and stream the answer back. Bodies are never buffered; hop-by-hop
//! headers (RFC 9110 §7.6.1) are dropped; `X-Forwarded-For/Proto/Host` are set; a WebSocket (or
//! any `Upgrade`) handshake is passed through and the two connections are then joined byte for
//! byte. An unreachable upstream is a 502, a slow one a 504.

use super::Gateway;
use super::compiled::CompiledRule;
use super::error::{GatewayError, accepts_html};
use super::pipeline::{Mutations, decide};
use super::upstream::Upstreams;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri, Version, header};
use axum::response::{IntoResponse, Response};
use gatehouse_domain::gateway::Upstream;
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::time::Instant;

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
const KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
const PROXY_CONNECTION: HeaderName = HeaderName::from_static("proxy-connection");

/// Removes the hop-by-hop headers, including those the `Connection` header names.
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    // The usual `Connection` values (`keep-alive`, `close`, `upgrade`) name no other header:
    // only a token beyond those is parsed as a header name.
    let mut named: Vec<HeaderName> = Vec::new();
    for value in headers.get_all(header::CONNECTION) {
        let Ok(value) = value.to_str() else { continue };
        for token in value.split(',').map(str::trim) {
            let usual = ["keep-alive", "close", "upgrade", ""]
                .iter()
                .any(|u| token.eq_ignore_ascii_case(u));
            if !usual && let Ok(name) = HeaderName::from_bytes(token.as_bytes()) {
                named.push(name);
            }
        }
    }
    for name in named {
        headers.remove(name);
    }
    for name in [
        header::CONNECTION,
        KEEP_ALIVE,
        PROXY_CONNECTION,
        header::PROXY_AUTHENTICATE,
        header::PROXY_AUTHORIZATION,
        header::TE,
        header::TRAILER,
        header::TRANSFER_ENCODING,
        header::UPGRADE,
    ] {
        headers.remove(name);
    }
}

/// The protocol a request asks to switch to (`Connection: upgrade` + `Upgrade: …`).
fn requested_upgrade(headers: &HeaderMap) -> Option<HeaderValue> {
    let connection_upgrade = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case("upgrade"));
    if connection_upgrade {
        headers.get(header::UPGRADE).cloned()
    } else {
        None
    }
}

/// The URL rules match, `http://host/path` (host lower-cased: the `Host` header, or the
/// authority of an absolute URI), and where its path starts.
fn match_url(request: &Request) -> (String, usize) {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| request.uri().authority().map(|a| a.as_str()))
        .unwrap_or_default();
    let path = request.uri().path();
    let mut url = String::with_capacity(7 + host.len() + path.len());
    url.push_str("http://");
    url.push_str(host);
    let path_start = url.len();
    url[7..].make_ascii_lowercase();
    url.push_str(path);
    (url, path_start)
}

/// The request target sent upstream (origin-form): the upstream's base path, then the request
/// path without `strip_path`, then the query as received.
pub fn upstream_uri(
    upstream: &Upstream,
    path: &str,
    query: Option<&str>,
) -> Result<Uri, GatewayError> {
    let rest = match &upstream.strip_path {
        Some(prefix) => path.strip_prefix(prefix.as_str()).unwrap_or(path),
        None => path,
    };
    let base = upstream.url.path().trim_end_matches('/');
    let mut target = String::with_capacity(base.len() + rest.len() + 2 + query.map_or(0, str::len));
    target.push_str(base);
    if !rest.starts_with('/') {
        target.push('/');
    }
    target.push_str(rest);
    if let Some(q) = query {
        target.push('?');
        target.push_str(q);
    }
    Uri::try_from(target).map_err(|_| GatewayError::Internal)
}

fn set_forwarded(headers: &mut HeaderMap, peer: Option<SocketAddr>, host: &str) {
    if let Some(peer) = peer {
        let value = match headers.get(&X_FORWARDED_FOR).and_then(|v| v.to_str().ok()) {
            Some(existing) => format!("{existing}, {}", peer.ip()),
            None => peer.ip().to_string(),
        };
        // The string's own buffer becomes the header value: no second copy.
        if let Ok(v) = HeaderValue::from_maybe_shared(axum::body::Bytes::from(value)) {
            headers.insert(X_FORWARDED_FOR, v);
        }
    }
    headers.insert(X_FORWARDED_PROTO, HeaderValue::from_static("http"));
    match HeaderValue::from_str(host) {
        Ok(v) if !host.is_empty() => {
            headers.insert(X_FORWARDED_HOST, v);
        }
        _ => {
            headers.remove(X_FORWARDED_HOST);
        }
    }
}

/// The request as the upstream receives it: new URI, hop-by-hop headers dropped (the upgrade
/// ones put back for an upgrade), forwarding headers, `Host` (the upstream's, or the client's
/// with `preserve_host`), and the mutators' headers.
fn upstream_request(
    request: Request,
    uri: Uri,
    upgrade: Option<&HeaderValue>,
    host: (&HeaderValue, bool),
    forwarded: (Option<SocketAddr>, &str),
    mutations: Mutations,
) -> Request {
    let (mut parts, body) = request.into_parts();
    strip_hop_by_hop(&mut parts.headers);
    if let Some(protocol) = upgrade {
        parts
            .headers
            .insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        parts.headers.insert(header::UPGRADE, protocol.clone());
    }
    set_forwarded(&mut parts.headers, forwarded.0, forwarded.1);
    let (upstream_host, preserve_host) = host;
    if !preserve_host || !parts.headers.contains_key(header::HOST) {
        parts.headers.insert(header::HOST, upstream_host.clone());
    }
    for (name, value) in mutations.headers {
        parts.headers.remove(&name);
        if let Some(value) = value {
            parts.headers.insert(name, value);
        }
    }
    parts.uri = uri;
    parts.version = Version::HTTP_11;
    parts.extensions = axum::http::Extensions::new();
    Request::from_parts(parts, body)
}

/// After a 101: joins the client's and the upstream's connections, byte for byte.
fn tunnel(client: OnUpgrade, upstream: OnUpgrade, rule_id: String) {
    tokio::spawn(async move {
        match tokio::try_join!(client, upstream) {
            Ok((client, upstream)) => {
                let mut client = TokioIo::new(client);
                let mut upstream = TokioIo::new(upstream);
                if let Err(err) = tokio::io::copy_bidirectional(&mut client, &mut upstream).await {
                    tracing::debug!(rule.id = %rule_id, error = %err, "upgraded connection closed");
                }
            }
            Err(err) => {
                tracing::debug!(rule.id = %rule_id, error = %err, "upgrade failed");
            }
        }
    });
}

async fn forward(
    gateway: &Gateway,
    upstreams: &Upstreams,
    rule: &CompiledRule,
    mut request: Request,
    peer: Option<SocketAddr>,
    host: &str,
    path: &str,
) -> Result<Response, GatewayError> {
    let mutations = decide(gateway, rule, request.headers(), path).await?;
    let (Some(upstream), Some(origin)) = (rule.rule.upstream.as_ref(), rule.origin.as_ref()) else {
        return Err(GatewayError::NoUpstream);
    };
    let uri = upstream_uri(upstream, path, request.uri().query())?;
    let upgrade = requested_upgrade(request.headers());
    let client_upgrade = upgrade.as_ref().map(|_| hyper::upgrade::on(&mut request));
    let outgoing = upstream_request(
        request,
        uri,
        upgrade.as_ref(),
        (origin.host_header(), upstream.preserve_host),
        (peer, host),
        mutations,
    );
    let mut response = match tokio::time::timeout(
        gateway.0.settings.upstream_timeout,
        upstreams.send(origin, outgoing),
    )
    .await
    {
        Err(_) => {
            tracing::warn!(rule.id = %rule.rule.id, "upstream did not answer in time");
            return Err(GatewayError::GatewayTimeout);
        }
        Ok(Err(err)) => {
            tracing::warn!(rule.id = %rule.rule.id, error = %err, "upstream request failed");
            return Err(GatewayError::BadGateway);
        }
        Ok(Ok(response)) => response,
    };
    if response.status() == StatusCode::SWITCHING_PROTOCOLS {
        if let Some(client_upgrade) = client_upgrade {
            let upstream_upgrade = hyper::upgrade::on(&mut response);
            tunnel(client_upgrade, upstream_upgrade, rule.rule.id.clone());
        }
        return Ok(response);
    }
    strip_hop_by_hop(response.headers_mut());
    Ok(response)
}

/// One request through the rules, from the client at `peer`, to an upstream connection of
/// `upstreams` (the calling worker's pool).
pub async fn forward_request(
    gateway: &Gateway,
    upstreams: &Upstreams,
    mut request: Request,
    peer: Option<SocketAddr>,
) -> Response {
    let started = Instant::now();
    let rules = gateway.rules();
    let method = request.method().clone();
    let (url, path_start) = match_url(&request);
    let (host, path) = (&url[7..path_start], &url[path_start..]);
    let html = accepts_html(request.headers());
    // Spoofing: nobody but a mutator sets these, whichever rule runs.
    for name in &rules.spoofable {
        request.headers_mut().remove(name);
    }
    let Some(rule) = rules.find(method.as_str(), &url) else {
        let response = GatewayError::NoRule.into_response();
        finish(gateway, "no_rule", &method, path, &response, started);
        return response;
    };
    // A cheap copy (shared bytes), for the original URL of an error answer.
    let target = request.uri().clone();
    let response = match forward(gateway, upstreams, rule, request, peer, host, path).await {
        Ok(response) => response,
        Err(err) => {
            let original = match target.query() {
                Some(q) => format!("{url}?{q}"),
                None => url.clone(),
            };
            err.respond(&rule.rule.errors, html, &original)
        }
    };
    finish(gateway, &rule.rule.id, &method, path, &response, started);
    response
}

/// Metrics and the access log (path only: queries may carry tokens).
fn finish(
    gateway: &Gateway,
    rule: &str,
    method: &axum::http::Method,
    path: &str,
    response: &Response,
    started: Instant,
) {
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    gateway
        .0
        .metrics
        .request("proxy", method, rule, status, elapsed.as_secs_f64());
    tracing::info!(
        rule.id = rule,
        http.method = %method,
        http.path = path,
        http.status = status,
        duration_ms = elapsed.as_secs_f64() * 1000.0,
        "proxied"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upstream(url: &str, strip: Option<&str>) -> Upstream {
        Upstream {
            url: url::Url::parse(url).expect("url"),
            strip_path: strip.map(str::to_owned),
            preserve_host: false,
        }
    }

    #[test]
    fn builds_upstream_uris() {
        let u = upstream("http://127.0.0.1:9000", Some("/api"));
        assert_eq!(
            upstream_uri(&u, "/api/users", Some("a=1"))
                .expect("uri")
                .to_string(),
            "/users?a=1"
        );
        assert_eq!(
            upstream_uri(&u, "/api", None).expect("uri").to_string(),
            "/"
        );
        assert_eq!(
            upstream_uri(&u, "/other", None).expect("uri").to_string(),
            "/other"
        );
        let based = upstream("https://svc/base/", None);
        assert_eq!(
            upstream_uri(&based, "/x", None).expect("uri").to_string(),
            "/base/x"
        );
    }

    #[test]
    fn strips_hop_by_hop_headers() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONNECTION,
            HeaderValue::from_static("keep-alive, x-secret-hop"),
        );
        h.append(
            header::CONNECTION,
            HeaderValue::from_static("Close, X-Other-Hop"),
        );
        h.insert("x-secret-hop", HeaderValue::from_static("1"));
        h.insert("x-other-hop", HeaderValue::from_static("1"));
        h.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        h.insert(
            header::TRANSFER_ENCODING,
            HeaderValue::from_static("chunked"),
        );
        h.insert(header::TE, HeaderValue::from_static("trailers"));
        h.insert("x-kept", HeaderValue::from_static("1"));
        strip_hop_by_hop(&mut h);
        assert_eq!(h.len(), 1);
        assert!(h.contains_key("x-kept"));
    }
}
