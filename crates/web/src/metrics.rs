//! Prometheus metrics: requests by route and status, a latency histogram, tokens issued by
//! grant. The recorder belongs to the [`Metrics`] value in `AppState` (no global recorder), and
//! `/metrics` on the admin listener renders it.

use crate::state::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics::{Key, Label, Level, Metadata, Recorder};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};
use std::time::Instant;

const METADATA: Metadata<'static> = Metadata::new("gatehouse", Level::INFO, Some(module_path!()));
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

pub struct Metrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
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
        Self { recorder, handle }
    }

    pub fn request(
        &self,
        listener: &'static str,
        method: &str,
        route: &str,
        status: u16,
        seconds: f64,
    ) {
        let labels = vec![
            Label::new("listener", listener),
            Label::new("method", method.to_owned()),
            Label::new("route", route.to_owned()),
            Label::new("status", status.to_string()),
        ];
        let key = Key::from_parts("gatehouse_http_requests_total", labels);
        self.recorder.register_counter(&key, &METADATA).increment(1);
        let key = Key::from_parts(
            "gatehouse_http_request_duration_seconds",
            vec![
                Label::new("listener", listener),
                Label::new("route", route.to_owned()),
            ],
        );
        self.recorder
            .register_histogram(&key, &METADATA)
            .record(seconds);
    }

    pub fn token_issued(&self, grant_type: &'static str) {
        let key = Key::from_parts(
            "gatehouse_tokens_issued_total",
            vec![Label::new("grant_type", grant_type)],
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
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned());
    let response = next.run(request).await;
    let route = route.as_deref().unwrap_or("unmatched");
    state.metrics.request(
        listener,
        method.as_str(),
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
