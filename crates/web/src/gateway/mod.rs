//! The access gateway (`gatehouse gateway`): a reverse proxy that authenticates, authorizes and
//! annotates each request by the first matching rule, and a decision API for proxies that ask
//! instead (nginx `auth_request`, Traefik `forwardAuth`, Envoy `ext_authz`).
//!
//! * [`Gateway`]: the shared state: compiled rules (swapped atomically on reload), the upstream
//!   connector (each proxy worker keeps its own connections), the HTTP client for
//!   authenticators, the `id_token` signing key, metrics;
//! * `compiled`: rules plus their live authenticators; `authn`: the authenticators;
//! * `pipeline`: authenticate → authorize → mutate, shared by both listeners;
//! * `listener`: the proxy listener; `proxy`: the data path; `upstream`: the upstream connections; `decisions`: the decision API;
//!   `error`: the answers.

mod authn;
mod compiled;
mod decisions;
mod error;
mod id_token;
mod listener;
mod pipeline;
pub(crate) mod proxy;
mod upstream;

pub use compiled::CompileError;
pub use error::GatewayError;
pub use listener::serve_proxy;

use crate::metrics::Metrics;
use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{any, get};
use compiled::{CompiledRules, ValidatorPool};
use gatehouse_domain::clock::Clock;
use gatehouse_domain::gateway::RuleSet;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use id_token::IdTokenSigner;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
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
    /// PEM certificates trusted for `https` upstreams besides the system's CA certificates (a
    /// private CA).
    pub upstream_ca_pem: Option<Vec<u8>>,
}

impl Default for GatewaySettings {
    fn default() -> Self {
        Self {
            upstream_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
            auth_timeout: Duration::from_secs(10),
            upstream_ca_pem: None,
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
    /// How proxy workers open upstream connections (TCP, or TLS for `https`).
    connector: HttpsConnector<HttpConnector>,
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
        connector.enforce_http(false);
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(upstream_tls(settings.upstream_ca_pem.as_deref())?)
            .https_or_http()
            .enable_http1()
            .wrap_connector(connector);
        let signer = IdTokenSigner::generate(clock.now()).map_err(CompileError::Key)?;
        let validators = ValidatorPool::default();
        let compiled = CompiledRules::build(rules, &validators, &http)?;
        Ok(Self(Arc::new(Inner {
            rules: RwLock::new(Arc::new(compiled)),
            validators,
            http,
            connector,
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

/// TLS to `https` upstreams: HTTP/1.1, the upstream's certificate checked against the system's
/// CA certificates plus `extra_ca_pem`, for the host name of the upstream URL (also sent as SNI).
/// Without any CA certificate the gateway still starts (plain `http` upstreams work) and every
/// `https` upstream answers 502.
fn upstream_tls(extra_ca_pem: Option<&[u8]>) -> Result<rustls::ClientConfig, CompileError> {
    let mut extra = Vec::new();
    if let Some(pem) = extra_ca_pem {
        for cert in CertificateDer::pem_slice_iter(pem) {
            extra.push(cert.map_err(|e| CompileError::UpstreamCa(e.to_string()))?);
        }
        if extra.is_empty() {
            return Err(CompileError::UpstreamCa(
                "no PEM certificate in it".to_owned(),
            ));
        }
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| CompileError::UpstreamCa(e.to_string()))?;
    let config = match rustls_platform_verifier::Verifier::new_with_extra_roots(extra, provider) {
        Ok(verifier) => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth(),
        Err(rustls::Error::General(reason)) if extra_ca_pem.is_none() => {
            tracing::warn!(%reason, "no CA certificates: https upstreams will answer 502");
            builder
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth()
        }
        Err(err) => return Err(CompileError::UpstreamCa(err.to_string())),
    };
    Ok(config)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_upstream_ca_file_without_certificates_is_an_error() {
        let err = upstream_tls(Some(b"not a certificate")).expect_err("refused");
        assert!(err.to_string().contains("no PEM certificate"), "{err}");
    }
}
