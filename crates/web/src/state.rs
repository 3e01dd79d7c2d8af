//! Explicit application state: everything a handler needs, built once by the server.

use crate::keys::Keys;
use crate::metrics::Metrics;
use crate::oauth::clients::ClientCache;
use crate::rate_limit::RateLimiter;
use axum::body::Bytes;
use gatehouse_domain::cipher::Cipher;
use gatehouse_domain::clock::Clock;
use gatehouse_domain::secret::Secret;
use gatehouse_domain::store::Storage;
use std::sync::Arc;
use time::Duration;

/// Dynamic client registration (RFC 7591).
#[derive(Debug, Clone)]
pub struct RegistrationSettings {
    pub enabled: bool,
    /// When set, `POST /oauth2/register` requires it as a bearer token.
    pub initial_access_token: Option<Secret>,
    /// Registrations per IP address per hour.
    pub per_ip_per_hour: u32,
}

/// What the web layer needs to know from the configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Public base URL without a trailing slash; the `iss` of every token.
    pub issuer: String,
    pub admin_token: Secret,
    pub access_token_lifespan: Duration,
    pub id_token_lifespan: Duration,
    pub refresh_token_lifespan: Duration,
    /// Upper bound for any per-client access or ID token lifespan; old signing keys stay
    /// published this long after rotation.
    pub max_token_lifespan: Duration,
    /// How long a new signing key is published before it signs.
    pub key_publish_ahead: Duration,
    pub registration: RegistrationSettings,
    /// How long a node trusts its cached copy of a client changed on another node.
    pub client_cache_ttl: std::time::Duration,
    pub max_body_bytes: usize,
    /// Self-service flows: lifespan, allowed `return_to` URLs, registration mode.
    pub flows: crate::identity::flow::FlowSettings,
}

impl Settings {
    /// Settings for tests and `--dev`, around `issuer`.
    pub fn new(issuer: &str, admin_token: Secret) -> Self {
        Self {
            issuer: issuer.trim_end_matches('/').to_owned(),
            admin_token,
            access_token_lifespan: Duration::hours(1),
            id_token_lifespan: Duration::hours(1),
            refresh_token_lifespan: Duration::days(30),
            max_token_lifespan: Duration::hours(24),
            key_publish_ahead: Duration::seconds(30),
            registration: RegistrationSettings {
                enabled: true,
                initial_access_token: None,
                per_ip_per_hour: 20,
            },
            client_cache_ttl: std::time::Duration::from_secs(5),
            max_body_bytes: 64 * 1024,
            flows: crate::identity::flow::FlowSettings::new(issuer),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.issuer)
    }
}

/// The application state handlers receive: one `Arc`, so the several clones axum makes per
/// request cost one reference count each.
#[derive(Clone)]
pub struct AppState(Arc<Services>);

impl std::ops::Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}

pub struct Services {
    pub store: Arc<dyn Storage>,
    pub clock: Arc<dyn Clock>,
    pub cipher: Arc<Cipher>,
    pub keys: Arc<Keys>,
    pub clients: ClientCache,
    pub settings: Arc<Settings>,
    pub metrics: Arc<Metrics>,
    pub registration_limiter: Arc<RateLimiter>,
    /// Failed client authentications per client id (DESIGN.md §2: 20 per minute, then 429).
    pub client_auth_failures: Arc<RateLimiter>,
    /// The discovery document, serialized once: it depends only on the settings.
    pub discovery: Bytes,
}

impl AppState {
    pub fn new(
        store: Arc<dyn Storage>,
        clock: Arc<dyn Clock>,
        cipher: Arc<Cipher>,
        settings: Settings,
    ) -> Self {
        Self(Arc::new(Services {
            discovery: crate::oauth::discovery::document(&settings),
            clients: ClientCache::new(store.clone(), settings.client_cache_ttl),
            keys: Arc::new(Keys::default()),
            metrics: Arc::new(Metrics::new()),
            registration_limiter: Arc::new(RateLimiter::new(
                settings.registration.per_ip_per_hour,
                Duration::hours(1),
            )),
            client_auth_failures: Arc::new(RateLimiter::new(20, Duration::minutes(1))),
            store,
            clock,
            cipher,
            settings: Arc::new(settings),
        }))
    }
}

impl Services {
    pub fn now(&self) -> time::OffsetDateTime {
        self.clock.now()
    }
}
