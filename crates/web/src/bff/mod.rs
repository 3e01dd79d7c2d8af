//! The backend-for-frontend (`gatehouse bff`): an OpenID Connect client in front of a
//! single-page app. The browser signs in through `/bff/login` and gets an opaque, HttpOnly
//! session cookie; the provider's tokens stay in the database; API calls under the configured
//! routes are forwarded with the session's access token, refreshed shortly before it expires.
//!
//! * [`Bff`]: the shared state: settings, the provider's discovered endpoints, the ID-token
//!   validator, the store, the upstream connection pool, the per-session refresh locks;
//! * `provider`: discovery and the calls to the token and revocation endpoints;
//! * `login`: `/bff/login`, the callback, `/bff/user`, `/bff/logout`, the logout landing;
//! * `proxy`: the API routes; `error`: the answers.

mod error;
mod login;
mod provider;
mod proxy;
mod static_files;

pub use error::BffError;
pub use provider::{ClientAuth, ProviderError};

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue};
use axum::routing::get;
use gatehouse_domain::bff::{BffSession, BffStore};
use gatehouse_domain::clock::Clock;
use gatehouse_domain::gateway::Upstream;
use gatehouse_domain::secret::{Secret, TokenHash};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use provider::Provider;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One `[[routes]]` entry: requests whose path is `prefix` or under `prefix/` go to `upstream`.
#[derive(Debug, Clone)]
pub struct BffRoute {
    pub prefix: String,
    pub upstream: Upstream,
}

impl BffRoute {
    fn matches(&self, path: &str) -> bool {
        let prefix = self.prefix.trim_end_matches('/');
        path == prefix
            || path
                .strip_prefix(prefix)
                .is_some_and(|rest| rest.starts_with('/'))
    }
}

/// What the BFF is configured with (built by the `gatehouse` binary from its TOML file).
#[derive(Debug, Clone)]
pub struct BffSettings {
    /// Where browsers reach the BFF; `https` makes cookies `Secure` and `__Host-` prefixed.
    pub public_url: url::Url,
    /// Origins allowed to call the API routes and logout (besides `public_url`'s own).
    pub allowed_origins: Vec<String>,
    /// The provider's issuer; discovery is read from `{authority}/.well-known/openid-configuration`.
    pub authority: String,
    pub client_id: String,
    pub client_secret: Option<Secret>,
    pub client_auth: ClientAuth,
    pub scopes: Vec<String>,
    pub redirect_uri: url::Url,
    pub post_logout_redirect_uri: Option<String>,
    pub refresh_before_expiry: time::Duration,
    /// Sliding: every use moves the expiry this far ahead.
    pub session_lifetime: time::Duration,
    pub routes: Vec<BffRoute>,
    pub upstream_timeout: Duration,
    pub provider_timeout: Duration,
    /// The SPA's files, served for `GET`s no other route takes (`index.html` for paths without
    /// a file extension, so client-side routes load the app).
    pub static_dir: Option<std::path::PathBuf>,
}

impl BffSettings {
    fn secure(&self) -> bool {
        self.public_url.scheme() == "https"
    }

    /// `__Host-gatehouse_bff` over https; the unprefixed name only when `public_url` is http.
    fn session_cookie(&self) -> &'static str {
        if self.secure() {
            "__Host-gatehouse_bff"
        } else {
            "gatehouse_bff"
        }
    }

    fn login_cookie(&self) -> &'static str {
        if self.secure() {
            "__Host-gatehouse_bff_login"
        } else {
            "gatehouse_bff_login"
        }
    }

    /// A `Set-Cookie` value: HttpOnly, `Path=/`, `Secure` over https.
    fn cookie(
        &self,
        name: &str,
        value: &str,
        same_site: &str,
        max_age: Option<i64>,
    ) -> HeaderValue {
        let mut cookie = format!("{name}={value}; Path=/; HttpOnly; SameSite={same_site}");
        if self.secure() {
            cookie.push_str("; Secure");
        }
        if let Some(age) = max_age {
            cookie.push_str(&format!("; Max-Age={}", age.max(0)));
        }
        HeaderValue::from_str(&cookie).expect("cookie names and base64url values are header-safe")
    }

    /// Whether a request's `Origin` (when sent) is the BFF's own or an allowed one.
    fn origin_allowed(&self, headers: &HeaderMap) -> bool {
        let Some(origin) = headers
            .get(axum::http::header::ORIGIN)
            .and_then(|v| v.to_str().ok())
        else {
            return true;
        };
        let own = self.public_url.origin().ascii_serialization();
        origin == own
            || self
                .allowed_origins
                .iter()
                .any(|o| o.trim_end_matches('/') == origin)
    }
}

/// The BFF's shared state. Cheap to clone.
#[derive(Clone)]
pub struct Bff(Arc<Inner>);

struct Inner {
    settings: BffSettings,
    provider: Provider,
    store: Arc<dyn BffStore>,
    clock: Arc<dyn Clock>,
    upstream: Client<HttpConnector, Body>,
    /// One lock per session being refreshed, so a session refreshes once however many of its
    /// requests arrive together (across nodes, the stored version decides).
    refreshing: Mutex<HashMap<TokenHash, Arc<tokio::sync::Mutex<()>>>>,
}

impl std::fmt::Debug for Bff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bff")
            .field("settings", &self.0.settings)
            .finish_non_exhaustive()
    }
}

impl Bff {
    /// Discovers the provider (fails when it cannot be reached or its metadata is unusable, so
    /// a misconfigured BFF stops at start-up).
    pub async fn discover(
        settings: BffSettings,
        store: Arc<dyn BffStore>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, ProviderError> {
        let provider = Provider::discover(&settings, clock.clone()).await?;
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(Duration::from_secs(5)));
        connector.set_nodelay(true);
        let upstream = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .build(connector);
        Ok(Self(Arc::new(Inner {
            settings,
            provider,
            store,
            clock,
            upstream,
            refreshing: Mutex::new(HashMap::new()),
        })))
    }

    fn now(&self) -> time::OffsetDateTime {
        self.0.clock.now()
    }

    fn settings(&self) -> &BffSettings {
        &self.0.settings
    }

    /// The live session the request's cookie names; an expired one is deleted. Each use moves
    /// the sliding expiry forward (written when it moves by a minute or more, so a burst of API
    /// calls is not a burst of writes).
    async fn session(&self, headers: &HeaderMap) -> Result<BffSession, BffError> {
        let cookie = crate::cookie::get(headers, self.settings().session_cookie())
            .ok_or(BffError::Unauthorized)?;
        let id = TokenHash::of(cookie);
        let mut session = self
            .0
            .store
            .find_bff_session(&id)
            .await?
            .ok_or(BffError::Unauthorized)?;
        let now = self.now();
        if !session.is_live(now) {
            self.0.store.delete_bff_session(&id).await?;
            return Err(BffError::Unauthorized);
        }
        let slid = now + self.settings().session_lifetime;
        if slid - session.expires_at >= time::Duration::minutes(1) {
            self.0.store.update_bff_session_expiry(&id, slid).await?;
            session.expires_at = slid;
        }
        Ok(session)
    }

    /// The lock that serialises refreshes of session `id` on this node.
    fn refresh_lock(&self, id: TokenHash) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self
            .0
            .refreshing
            .lock()
            .expect("lock map is never poisoned: nothing panics holding it");
        // Forget the locks nobody holds or waits for any more.
        locks.retain(|_, lock| Arc::strong_count(lock) > 1);
        locks.entry(id).or_default().clone()
    }

    /// Deletes sign-ins and sessions past their expiry.
    pub async fn clean_up(&self) -> Result<u64, BffError> {
        Ok(self.0.store.delete_expired_bff(self.now()).await?)
    }
}

/// Every route of the BFF listener: the sign-in endpoints, then the API routes.
pub fn router(bff: Bff) -> Router {
    let callback = bff.settings().redirect_uri.path().to_owned();
    Router::new()
        .route("/bff/login", get(login::login))
        .route(&callback, get(login::callback))
        .route("/bff/user", get(login::user))
        .route("/bff/logout", get(login::logout).post(login::logout))
        .route("/signout-callback-oidc", get(login::signed_out))
        .fallback(proxy::handle)
        .with_state(bff)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_match_their_prefix_only() {
        let route = BffRoute {
            prefix: "/api".to_owned(),
            upstream: Upstream {
                url: url::Url::parse("http://127.0.0.1:1").expect("url"),
                strip_path: None,
                preserve_host: false,
            },
        };
        assert!(route.matches("/api"));
        assert!(route.matches("/api/users"));
        assert!(!route.matches("/apix"));
        assert!(!route.matches("/"));
    }
}
