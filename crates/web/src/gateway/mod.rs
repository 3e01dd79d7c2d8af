//! The access gateway (`gatehouse gateway`): a reverse proxy that authenticates, authorizes and
//! annotates each request by the first matching rule, and a decision API for proxies that ask
//! instead (nginx `auth_request`, Traefik `forwardAuth`, Envoy `ext_authz`).
//!
//! * [`Gateway`]: the shared state: compiled rules (swapped atomically on reload), the upstream
//!   connection pool, the HTTP client for authenticators, the `id_token` signing key, metrics;
//! * `compiled`: rules plus their live authenticators; `authn`: the authenticators;
//! * `pipeline`: authenticate → authorize → mutate, shared by both listeners;
//! * `proxy`: the data path; `decisions`: the decision API; `error`: the answers.

mod authn;
mod compiled;
mod decisions;
mod error;
mod id_token;
mod pipeline;
pub(crate) mod proxy;

pub use compiled::CompileError;
pub use error::GatewayError;

use crate::metrics::Metrics;
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{any, get};
use compiled::{CompiledRules, ValidatorPool};
use gatehouse_domain::clock::Clock;
use gatehouse_domain::gateway::RuleSet;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use id_token::IdTokenSigner;
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// Timeouts and pool sizes of the gateway.
#[derive(Debug, Clone)]
pub struct GatewaySettings {
    /// How long an upstream may take to answer with its headers before the client gets a 504.
    pub upstream_timeout: Duration,
    /// How long connecting to an upstream may take before the client gets a 502.
    pub connect_timeout: Duration,
    /// Timeout of calls to identity providers (JWKS, introspection, session checks).
    pub auth_timeout: Duration,
}

impl Default for GatewaySettings {
    fn default() -> Self {
        Self {
            upstream_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
            auth_timeout: Duration::from_secs(10),
        }
    }
}

/// The gateway's shared state. Cheap to clone.
#[derive(Clone)]
pub struct Gateway(Arc<Inner>);

struct Inner {
    rules: RwLock<Arc<CompiledRules>>,
    validators: ValidatorPool,
    http: reqwest::Client,
    upstream: Client<HttpConnector, Body>,
    signer: IdTokenSigner,
    metrics: Metrics,
    clock: Arc<dyn Clock>,
    settings: GatewaySettings,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("rules", &self.rules().count())
            .field("settings", &self.0.settings)
            .finish_non_exhaustive()
    }
}

impl Gateway {
    /// A gateway serving `rules`; generates its `id_token` signing key.
    pub fn new(
        rules: RuleSet,
        clock: Arc<dyn Clock>,
        settings: GatewaySettings,
    ) -> Result<Self, CompileError> {
        let http = reqwest::Client::builder()
            .timeout(settings.auth_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| CompileError::HttpClient(e.to_string()))?;
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(settings.connect_timeout));
        connector.set_nodelay(true);
        connector.enforce_http(true);
        let upstream = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(256)
            .build(connector);
        let signer = IdTokenSigner::generate(clock.now()).map_err(CompileError::Key)?;
        let validators = ValidatorPool::default();
        let compiled = CompiledRules::build(rules, &validators, &http)?;
        Ok(Self(Arc::new(Inner {
            rules: RwLock::new(Arc::new(compiled)),
            validators,
            http,
            upstream,
            signer,
            metrics: Metrics::new(),
            clock,
            settings,
        })))
    }

    /// Swaps in new rules. Requests already running finish with the rules they started with;
    /// connections stay open.
    pub fn replace_rules(&self, rules: RuleSet) -> Result<(), CompileError> {
        let compiled = CompiledRules::build(rules, &self.0.validators, &self.0.http)?;
        let count = compiled.count();
        *self
            .0
            .rules
            .write()
            .expect("rules lock is never poisoned: nothing panics holding it") = Arc::new(compiled);
        tracing::info!(rules = count, "gateway rules loaded");
        Ok(())
    }

    fn rules(&self) -> Arc<CompiledRules> {
        self.0
            .rules
            .read()
            .expect("rules lock is never poisoned: nothing panics holding it")
            .clone()
    }

    fn now(&self) -> time::OffsetDateTime {
        self.0.clock.now()
    }

    /// The JWKS of the key that signs `id_token` mutator tokens.
    pub fn jwks_json(&self) -> &str {
        self.0.signer.jwks_json()
    }
}

/// The proxy listener: every request goes through the rules.
pub fn proxy_router(gateway: Gateway) -> Router {
    Router::new().fallback(proxy::handle).with_state(gateway)
}

/// The API listener: decision API, the `id_token` JWKS, metrics and health.
pub fn api_router(gateway: Gateway) -> Router {
    Router::new()
        .route("/decisions", any(decisions::handle))
        .route("/decisions/{*path}", any(decisions::handle))
        .route("/.well-known/jwks.json", get(jwks))
        .route("/metrics", get(metrics))
        .route("/health/alive", get(health))
        .route("/health/ready", get(health))
        .with_state(gateway)
}

async fn jwks(State(gateway): State<Gateway>) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        gateway.jwks_json().to_owned(),
    )
}

async fn metrics(State(gateway): State<Gateway>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        gateway.0.metrics.render(),
    )
}

async fn health() -> impl IntoResponse {
    axum::Json(serde_json::json!({"status": "ok"}))
}
