//! The API routes: a request under a configured route, sent by the SPA with `X-CSRF: 1`, is
//! forwarded to the route's upstream with the session's access token as a bearer token — never
//! with the browser's cookies or its own `Authorization`. An access token about to expire is
//! refreshed first, once per session however many requests arrive together. The pooled
//! connections and header handling are the gateway's.

use super::{Bff, BffError, BffRoute};
use crate::gateway::proxy::{strip_hop_by_hop, upstream_uri};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::Uri;
use axum::http::{HeaderMap, HeaderValue, Method, Version, header};
use axum::response::{IntoResponse, Response};
use gatehouse_domain::bff::BffSession;
use std::time::Duration;

/// Whether the request carries the anti-forgery header `X-CSRF: 1` (a cross-site form cannot
/// set it, and a cross-site `fetch` with it needs a CORS preflight the BFF never grants).
pub fn has_csrf_header(headers: &HeaderMap) -> bool {
    headers.get("x-csrf").is_some_and(|v| v.as_bytes() == b"1")
}

/// The fallback of the BFF listener: the API routes.
pub async fn handle(State(bff): State<Bff>, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    let Some(route) = bff.settings().routes.iter().find(|r| r.matches(&path)) else {
        if let Some(dir) = &bff.settings().static_dir
            && matches!(*request.method(), Method::GET | Method::HEAD)
        {
            return super::static_files::serve(dir, &path).await;
        }
        return BffError::NotFound.into_response();
    };
    match forward(&bff, route, request, &path).await {
        Ok(response) => response,
        Err(err) => err.into_response(),
    }
}

async fn forward(
    bff: &Bff,
    route: &BffRoute,
    request: Request,
    path: &str,
) -> Result<Response, BffError> {
    if !has_csrf_header(request.headers()) || !bff.settings().origin_allowed(request.headers()) {
        return Err(BffError::CsrfRequired);
    }
    let session = bff.session(request.headers()).await?;
    let access_token = access_token(bff, session).await?;
    // The gateway's helper gives the origin form (path and query); the pooled client here
    // needs the absolute form.
    let origin_form = upstream_uri(&route.upstream, path, request.uri().query())
        .map_err(|_| BffError::BadGateway)?;
    let base = &route.upstream.url;
    let authority = match (base.host_str(), base.port()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        (Some(host), None) => host.to_owned(),
        (None, _) => return Err(BffError::BadGateway),
    };
    let uri = Uri::builder()
        .scheme(base.scheme())
        .authority(authority)
        .path_and_query(origin_form.to_string())
        .build()
        .map_err(|_| BffError::BadGateway)?;
    let (mut parts, body) = request.into_parts();
    strip_hop_by_hop(&mut parts.headers);
    parts.headers.remove(header::COOKIE);
    parts.headers.remove(header::HOST);
    parts.headers.remove("x-csrf");
    let bearer = HeaderValue::from_str(&format!("Bearer {access_token}"))
        .map_err(|_| BffError::BadGateway)?;
    parts.headers.insert(header::AUTHORIZATION, bearer);
    parts.uri = uri;
    parts.version = Version::HTTP_11;
    parts.extensions = axum::http::Extensions::new();
    let outgoing = Request::from_parts(parts, body);
    let response = match tokio::time::timeout(
        bff.settings().upstream_timeout,
        bff.0.upstream.request(outgoing),
    )
    .await
    {
        Err(_) => return Err(BffError::GatewayTimeout),
        Ok(Err(err)) => {
            tracing::warn!(route = %route.prefix, error = %err, "upstream request failed");
            return Err(BffError::BadGateway);
        }
        Ok(Ok(response)) => response,
    };
    let (mut parts, body) = response.into_parts();
    strip_hop_by_hop(&mut parts.headers);
    // The upstream never sets cookies on the BFF's origin.
    parts.headers.remove(header::SET_COOKIE);
    Ok(Response::from_parts(parts, Body::new(body)))
}

/// The session's access token, refreshed first when it is near its expiry (see
/// [`BffTokens::need_refresh`](gatehouse_domain::bff::BffTokens::need_refresh)). A session
/// refreshes once however many of its requests arrive together: on this node they queue on one
/// lock; across nodes, the node that takes the stored refresh lease refreshes while the others
/// wait for the tokens it stores. A refused refresh ends the session.
async fn access_token(bff: &Bff, session: BffSession) -> Result<String, BffError> {
    let before = bff.settings().refresh_before_expiry;
    if !session.tokens.need_refresh(bff.now(), before) {
        return Ok(session.tokens.access_token);
    }
    let lock = bff.refresh_lock(session.id);
    let _held = lock.lock().await;
    // The lease outlives the provider's timeout, so a live lease means a refresh in flight.
    let lease = time::Duration::try_from(bff.settings().provider_timeout)
        .unwrap_or(time::Duration::seconds(10))
        + time::Duration::seconds(5);
    let waited_since = tokio::time::Instant::now();
    loop {
        // Another request (here or on another node) may have refreshed meanwhile.
        let current = bff
            .0
            .store
            .find_bff_session(&session.id)
            .await?
            .ok_or(BffError::Unauthorized)?;
        let now = bff.now();
        if !current.tokens.need_refresh(now, before) {
            return Ok(current.tokens.access_token);
        }
        if current.tokens.refresh_token.is_none() {
            // No refresh token: use the access token until it expires, then sign out.
            if current.tokens.access_expires_at > now {
                return Ok(current.tokens.access_token);
            }
            bff.0.store.delete_bff_session(&current.id).await?;
            return Err(BffError::Unauthorized);
        }
        if bff
            .0
            .store
            .lease_bff_refresh(&current.id, current.version, now, now + lease)
            .await?
        {
            return refresh(bff, current).await;
        }
        // Another node is refreshing: wait for its tokens, as long as its lease could last.
        if waited_since.elapsed() > bff.settings().provider_timeout + Duration::from_secs(5) {
            return Err(BffError::ProviderUnavailable);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Refreshes `session`'s tokens at the provider (this node holds the refresh lease) and stores
/// them.
async fn refresh(bff: &Bff, session: BffSession) -> Result<String, BffError> {
    let refresh_token = session.tokens.refresh_token.as_deref().unwrap_or_default();
    match bff.0.provider.refresh(refresh_token).await {
        Ok(tokens) => {
            if bff
                .0
                .store
                .update_bff_tokens(&session.id, session.version, &tokens)
                .await?
            {
                tracing::debug!(user.id = %session.subject, "access token refreshed");
                return Ok(tokens.access_token);
            }
            // The session changed under the lease (it outlived its lease): use what is stored.
            let stored = bff
                .0
                .store
                .find_bff_session(&session.id)
                .await?
                .ok_or(BffError::Unauthorized)?;
            Ok(stored.tokens.access_token)
        }
        Err(super::ProviderError::Unreachable(err)) => {
            tracing::warn!(error = %err, "cannot refresh the access token");
            bff.0
                .store
                .release_bff_refresh(&session.id, session.version)
                .await?;
            Err(BffError::ProviderUnavailable)
        }
        Err(err) => {
            tracing::info!(user.id = %session.subject, error = %err, "refresh refused; session ended");
            bff.0.store.delete_bff_session(&session.id).await?;
            Err(BffError::Unauthorized)
        }
    }
}
