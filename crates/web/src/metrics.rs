//! Prometheus metrics: requests by route and status, a latency histogram, tokens issued by
//! grant. The recorder belongs to the [`Metrics`] value in `AppState` (no global recorder), and
//! `/metrics` on the admin listener renders it.

use crate::state::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics::{Counter, Histogram, Key, Label, Level, Metadata, Recorder};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};
use std::collections::HashMap;
use std::sync::RwLock;
use std::time::Instant;

const METADATA: Metadata<'static> = Metadata::new("gatehouse", Level::INFO, Some(module_path!()));
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// Handles for one (listener, method, route, status) combination.
#[derive(Clone)]
struct RequestHandles {
    listener: &'static str,
    method: Method,
    status: u16,
    count: Counter,
    duration: Histogram,
}

pub struct Metrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    /// Handles by route, so the hot path looks them up instead of building keys and labels.
    requests: RwLock<HashMap<String, Vec<RequestHandles>>>,
    tokens: RwLock<HashMap<&'static str, Counter>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let recorder = PrometheusBuilder::new()
            .set_buckets(&BUCKETS)
            .expect("the bucket list is not empty")
            .build_recorder();
        let handle = recorder.handle();
        Self {
            recorder,
            handle,
            requests: RwLock::default(),
            tokens: RwLock::default(),
        }
    }

    fn register(
        &self,
        listener: &'static str,
        method: &Method,
        route: &str,
        status: u16,
    ) -> RequestHandles {
        let labels = vec![
            Label::new("listener", listener),
            Label::new("method", method.as_str().to_owned()),
            Label::new("route", route.to_owned()),
            Label::new("status", status.to_string()),
        ];
        let count = self.recorder.register_counter(
            &Key::from_parts("gatehouse_http_requests_total", labels),
            &METADATA,
        );
        let key = Key::from_parts(
            "gatehouse_http_request_duration_seconds",
            vec![
                Label::new("listener", listener),
                Label::new("route", route.to_owned()),
            ],
        );
        let duration = self.recorder.register_histogram(&key, &METADATA);
        RequestHandles {
            listener,
            method: method.clone(),
            status,
            count,
            duration,
        }
    }

    pub fn request(
        &self,
        listener: &'static str,
        method: &Method,
        route: &str,
        status: u16,
        seconds: f64,
    ) {
        let found = {
            let requests = self
                .requests
                .read()
                .expect("metrics lock is never poisoned: no code panics holding it");
            requests.get(route).and_then(|all| {
                all.iter()
                    .find(|h| h.status == status && h.listener == listener && h.method == *method)
                    .cloned()
            })
        };
        let handles = match found {
            Some(h) => h,
            None => {
                let h = self.register(listener, method, route, status);
                let mut requests = self
                    .requests
                    .write()
                    .expect("metrics lock is never poisoned: no code panics holding it");
                requests
                    .entry(route.to_owned())
                    .or_default()
                    .push(h.clone());
                h
            }
        };
        handles.count.increment(1);
        handles.duration.record(seconds);
    }

    pub fn token_issued(&self, grant_type: &'static str) {
        let found = self
            .tokens
            .read()
            .expect("metrics lock is never poisoned: no code panics holding it")
            .get(grant_type)
            .cloned();
        let counter = found.unwrap_or_else(|| {
            let key = Key::from_parts(
                "gatehouse_tokens_issued_total",
                vec![Label::new("grant_type", grant_type)],
            );
            let counter = self.recorder.register_counter(&key, &METADATA);
            self.tokens
                .write()
                .expect("metrics lock is never poisoned: no code panics holding it")
                .insert(grant_type, counter.clone());
            counter
        });
        counter.increment(1);
    }

    /// One web hook call finished (or was recorded) with `outcome` (a delivery status).
    pub fn webhook_delivery(&self, webhook_id: &str, outcome: &'static str) {
        let key = Key::from_parts(
            "gatehouse_webhook_deliveries_total",
            vec![
                Label::new("webhook", webhook_id.to_owned()),
                Label::new("outcome", outcome),
            ],
        );
        self.recorder.register_counter(&key, &METADATA).increment(1);
    }

    pub fn render(&self) -> String {
        self.handle.render()
    }
}

async fn record(
    listener: &'static str,
    state: &AppState,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request.extensions().get::<MatchedPath>().cloned();
    let response = next.run(request).await;
    let route = route.as_ref().map_or("unmatched", MatchedPath::as_str);
    state.metrics.request(
        listener,
        &method,
        route,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

pub async fn record_public(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    record("public", &state, request, next).await
}

pub async fn record_admin(State(state): State<AppState>, request: Request, next: Next) -> Response {
    record("admin", &state, request, next).await
}

/// `GET /metrics` in the Prometheus text format.
pub async fn get(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
}
