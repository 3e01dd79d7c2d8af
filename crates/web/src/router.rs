//! The two listeners' routers: feature routers merged, with the shared layers (request ids,
//! tracing, body limit, panic catching, metrics).

use crate::error::ApiError;
use crate::state::AppState;
use crate::{
    admin, client_addr, console, health, identity, ip_ban, metrics, oauth, social, tenant,
    throttle, ui,
};
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, StatusCode};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::any::Any;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The span of one request: method and path, never the query string (recovery and verification
/// links, logout URLs and OAuth 2.0 redirects carry codes and tokens there).
fn request_span<B>(request: &axum::http::Request<B>) -> tracing::Span {
    tracing::debug_span!(
        "request",
        method = %request.method(),
        path = %request.uri().path(),
        version = ?request.version(),
    )
}

/// Request ids `<random per process>-<counter>`: unique without a system call per request.
#[derive(Clone)]
struct SequentialRequestId {
    prefix: Arc<str>,
    next: Arc<AtomicU64>,
}

impl SequentialRequestId {
    fn new() -> Self {
        Self {
            prefix: gatehouse_domain::secret::random_token(6).into(),
            next: Arc::new(AtomicU64::new(1)),
        }
    }
}

impl MakeRequestId for SequentialRequestId {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        axum::http::HeaderValue::from_str(&format!("{}-{n:x}", self.prefix))
            .ok()
            .map(RequestId::new)
    }
}

fn panic_response(_: Box<dyn Any + Send + 'static>) -> Response {
    tracing::error!("request handler panicked");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal_error",
        "the server could not complete the request",
    )
    .into_response()
}

async fn not_found() -> ApiError {
    ApiError::not_found("route_not_found", "no such endpoint")
}

fn with_common_layers(router: Router<AppState>, state: &AppState) -> Router {
    router
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(state.settings.max_body_bytes))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                .on_response(DefaultOnResponse::new().level(Level::DEBUG)),
        )
        .layer(SetRequestIdLayer::new(
            REQUEST_ID,
            SequentialRequestId::new(),
        ))
        .with_state(state.clone())
}

/// The public listener: OAuth 2.0 endpoints, discovery, health. Outermost, before routing (so
/// they also cover unknown paths and every route merged later): the client address behind
/// trusted proxies, the IP ban list, then the per-address budget of self-service POSTs.
pub fn public_router(state: &AppState) -> Router {
    let router = Router::new()
        .merge(oauth::router())
        .merge(identity::router())
        .merge(health::router())
        .merge(identity::session::router())
        .merge(tenant::router())
        .merge(ui::router())
        .merge(console::router())
        .merge(social::router())
        .layer(middleware::from_fn_with_state(
            state.clone(),
            ui::page_layer,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            metrics::record_public,
        ));
    with_common_layers(router, state)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            throttle::self_service_budget,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            ip_ban::refuse_banned,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            client_addr::resolve,
        ))
}

/// The admin listener: admin API (token required), metrics, health.
pub fn admin_router(state: &AppState) -> Router {
    let router = Router::new()
        .merge(admin::router(state.clone()))
        .route("/metrics", get(metrics::get))
        .merge(health::router())
        .layer(middleware::from_fn_with_state(
            state.clone(),
            metrics::record_admin,
        ));
    with_common_layers(router, state)
}
