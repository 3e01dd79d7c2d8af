//! Explicit application state: everything a handler needs, built once by the server.

use crate::courier::Courier;
use crate::identity::password::Passwords;
use crate::ip_ban::IpBanList;
use crate::keys::Keys;
use crate::metrics::Metrics;
use crate::oauth::catalog::ScopeCatalog;
use crate::oauth::clients::ClientCache;
use crate::oauth::discovery::Discovery;
use crate::rate_limit::RateLimiter;
use crate::throttle::{LoginThrottle, ThrottleSettings};
use crate::ui::Pages;
use crate::webhooks::Webhooks;
use gatehouse_domain::cipher::Cipher;
use gatehouse_domain::clock::Clock;
use gatehouse_domain::identity::password::HashParams;
use gatehouse_domain::identity::policy::PasswordPolicy;
use gatehouse_domain::identity::schema::{DEFAULT_SCHEMA_ID, SchemaRegistry};
use gatehouse_domain::mac::MacKeys;
use gatehouse_domain::secret::Secret;
use gatehouse_domain::session::SessionLifetimes;
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

/// Identity schemas and password hashing.
#[derive(Debug, Clone)]
pub struct IdentitySettings {
    /// Every configured identity schema, compiled (the built-in `default` included).
    pub schemas: Arc<SchemaRegistry>,
    /// The schema of identities created without a `schema_id`.
    pub default_schema_id: String,
    pub hash_params: HashParams,
    /// The policy for passwords people choose (admins may set any password of the minimum length).
    pub password_policy: PasswordPolicy,
    /// Password hashes computed at once; the rest wait.
    pub max_concurrent_hashes: usize,
}

impl Default for IdentitySettings {
    fn default() -> Self {
        Self {
            schemas: Arc::new(SchemaRegistry::with_default()),
            default_schema_id: DEFAULT_SCHEMA_ID.to_owned(),
            hash_params: HashParams::default(),
            password_policy: PasswordPolicy::default(),
            max_concurrent_hashes: std::thread::available_parallelism().map_or(1, usize::from),
        }
    }
}

/// What the web layer needs to know from the configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `gatehouse serve --dev`: a development server (the log may show one-time codes of
    /// messages no SMTP server delivers).
    pub dev: bool,
    /// Public base URL without a trailing slash; the `iss` of every token.
    pub issuer: String,
    pub admin_token: Secret,
    pub access_token_lifespan: Duration,
    pub id_token_lifespan: Duration,
    pub refresh_token_lifespan: Duration,
    /// A refresh family's absolute lifetime.
    pub refresh_token_family_lifespan: Duration,
    /// How long a used refresh token may come again without revoking its family.
    pub refresh_token_reuse_grace: Duration,
    /// Upper bound for any per-client access or ID token lifespan; old signing keys stay
    /// published this long after rotation.
    pub max_token_lifespan: Duration,
    /// How long a new signing key is published before it signs.
    pub key_publish_ahead: Duration,
    pub registration: RegistrationSettings,
    /// How long a node trusts its cached copy of a client changed on another node.
    pub client_cache_ttl: std::time::Duration,
    pub max_body_bytes: usize,
    /// Reverse proxies whose `X-Forwarded-For` names the client (empty: the header is ignored).
    pub trusted_proxies: Vec<gatehouse_domain::ip_ban::IpNet>,
    /// Self-service flows: lifespan, allowed `return_to` URLs, registration mode.
    pub flows: crate::identity::flow::FlowSettings,
    pub identity: IdentitySettings,
    /// Login throttling and the self-service budget.
    pub throttling: ThrottleSettings,
    /// Whether an SMTP server delivers the courier outbox (otherwise messages stay queued).
    pub smtp_configured: bool,
    /// Cookie signing secrets (CSRF tokens, logout tokens): the first signs, all verify.
    pub cookie_secrets: Vec<Secret>,
    /// Whether cookies carry `Secure` (always, except in `--dev` over plain HTTP).
    pub cookie_secure: bool,
    pub session: SessionSettings,
    /// Operator templates `(name, source)` that replace the embedded ones (`[ui] templates_dir`).
    pub ui_templates: Vec<(String, String)>,
    /// Operator courier templates `(name, source)` that replace the built-in ones
    /// (`[courier] templates_dir`).
    pub courier_templates: Vec<(String, String)>,
    /// Web hooks and how they are delivered.
    pub webhooks: crate::webhooks::WebhookSettings,
}

/// Session lifetimes and the session cookie.
#[derive(Debug, Clone)]
pub struct SessionSettings {
    pub lifetimes: SessionLifetimes,
    /// Cookie name without prefix; `__Host-` is put in front when the issuer is https.
    pub cookie_name: String,
}

impl Settings {
    /// Settings for tests and `--dev`, around `issuer`.
    pub fn new(issuer: &str, admin_token: Secret) -> Self {
        Self {
            dev: false,
            issuer: issuer.trim_end_matches('/').to_owned(),
            admin_token,
            access_token_lifespan: Duration::hours(1),
            id_token_lifespan: Duration::hours(1),
            refresh_token_lifespan: Duration::days(30),
            refresh_token_family_lifespan: Duration::days(90),
            refresh_token_reuse_grace: Duration::ZERO,
            max_token_lifespan: Duration::hours(24),
            key_publish_ahead: Duration::seconds(30),
            registration: RegistrationSettings {
                enabled: true,
                initial_access_token: None,
                per_ip_per_hour: 20,
            },
            client_cache_ttl: std::time::Duration::from_secs(5),
            max_body_bytes: 64 * 1024,
            trusted_proxies: Vec::new(),
            flows: crate::identity::flow::FlowSettings::new(issuer),
            identity: IdentitySettings::default(),
            throttling: ThrottleSettings::default(),
            smtp_configured: false,
            cookie_secrets: vec![Secret::generate(32)],
            cookie_secure: issuer.starts_with("https://"),
            session: SessionSettings {
                lifetimes: SessionLifetimes::default(),
                cookie_name: "gatehouse_session".to_owned(),
            },
            ui_templates: Vec::new(),
            courier_templates: Vec::new(),
            webhooks: crate::webhooks::WebhookSettings::default(),
        }
    }

    /// Whether the issuer is https, so cookies take the `__Host-` prefix.
    pub fn is_https(&self) -> bool {
        self.issuer.starts_with("https://")
    }

    /// A cookie name as sent: `__Host-` prefixed when the issuer is https.
    pub fn cookie_name(&self, base: &str) -> String {
        if self.is_https() {
            format!("__Host-{base}")
        } else {
            base.to_owned()
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
    /// The discovery document, serialized once per set of active scopes.
    pub discovery: Discovery,
    /// This node's copy of the scope catalog.
    pub scopes: Arc<ScopeCatalog>,
    /// Password hashing and verification on a bounded blocking pool.
    pub passwords: Passwords,
    /// The compiled identity schemas.
    pub schemas: Arc<SchemaRegistry>,
    /// Failed logins per identifier and address, shared by all nodes through the database.
    pub login_throttle: LoginThrottle,
    /// POSTs under `/self-service/` per client address (per node).
    pub self_service_limiter: Arc<RateLimiter>,
    /// This node's copy of the IP bans.
    pub ip_bans: Arc<IpBanList>,
    /// Courier templates and delivery mode.
    pub courier: Arc<Courier>,
    /// MACs under the cookie secrets (CSRF and logout tokens).
    pub cookie_keys: Arc<MacKeys>,
    /// The HTML templates of the built-in UI.
    pub pages: Arc<Pages>,
    /// The configured web hooks, their templates and HTTP client.
    pub webhooks: Arc<Webhooks>,
    /// The HTTP client for tenants' social providers and what discovery found out about them.
    pub social: Arc<crate::social::upstream::Upstreams>,
}

impl AppState {
    pub fn new(
        store: Arc<dyn Storage>,
        clock: Arc<dyn Clock>,
        cipher: Arc<Cipher>,
        settings: Settings,
    ) -> Self {
        Self(Arc::new(Services {
            // Rebuilt with `scopes_supported` when the catalog is first loaded.
            discovery: Discovery::new(&settings, &[]),
            scopes: Arc::new(ScopeCatalog::new()),
            clients: ClientCache::new(store.clone(), settings.client_cache_ttl),
            keys: Arc::new(Keys::default()),
            metrics: Arc::new(Metrics::new()),
            registration_limiter: Arc::new(RateLimiter::new(
                settings.registration.per_ip_per_hour,
                Duration::hours(1),
            )),
            client_auth_failures: Arc::new(RateLimiter::new(20, Duration::minutes(1))),
            passwords: Passwords::new(
                settings.identity.hash_params,
                settings.identity.password_policy.clone(),
                settings.identity.max_concurrent_hashes,
            ),
            schemas: settings.identity.schemas.clone(),
            login_throttle: LoginThrottle::new(store.clone(), settings.throttling),
            self_service_limiter: Arc::new(RateLimiter::new(
                settings.throttling.self_service_per_ip_per_minute,
                Duration::minutes(1),
            )),
            ip_bans: Arc::new(IpBanList::new()),
            courier: Arc::new(
                Courier::with_overrides(settings.smtp_configured, &settings.courier_templates)
                    .unwrap_or_else(|err| {
                        tracing::error!(error = %err, "invalid courier template override; using the built-in templates");
                        Courier::new(settings.smtp_configured)
                    }),
            ),
            cookie_keys: Arc::new(cookie_keys(&settings.cookie_secrets)),
            webhooks: Arc::new(Webhooks::new(&settings.webhooks).unwrap_or_else(|err| {
                tracing::error!(error = %err, "invalid web hook configuration; no web hooks run");
                Webhooks::none()
            })),
            pages: Arc::new(Pages::new(&settings.ui_templates).unwrap_or_else(|err| {
                tracing::error!(error = %err, "invalid UI template override; using the built-in templates");
                Pages::embedded()
            })),
            social: Arc::new(crate::social::upstream::Upstreams::new()),
            store,
            clock,
            cipher,
            settings: Arc::new(settings),
        }))
    }
}

/// The cookie MAC keys; without configured secrets (never outside tests, the server requires
/// them) a random key, so nothing signed can be forged.
fn cookie_keys(secrets: &[Secret]) -> MacKeys {
    MacKeys::new(secrets)
        .unwrap_or_else(|_| MacKeys::new(&[Secret::generate(32)]).expect("one secret is enough"))
}

impl Services {
    pub fn now(&self) -> time::OffsetDateTime {
        self.clock.now()
    }
}
