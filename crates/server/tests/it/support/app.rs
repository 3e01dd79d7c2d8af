//! `TestApp`: a running server on a fresh database, with helpers per role.

use gatehouse::config::Config;
use gatehouse::startup::{Running, start};
use gatehouse_domain::clock::{Clock, ManualClock, SystemClock};
use gatehouse_verify::{Validator, ValidatorConfig};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};
use std::sync::Arc;

pub struct TestApp {
    pub public: String,
    pub admin: String,
    pub admin_token: String,
    pub issuer: String,
    pub http: reqwest::Client,
    pub clock: Arc<ManualClock>,
    pub backend: &'static str,
    pub running: Running,
    /// The database this node uses (another node may join it).
    pub database_url: String,
}

#[expect(
    clippy::disallowed_methods,
    reason = "tests choose their databases from the environment"
)]
fn postgres_url() -> Option<String> {
    std::env::var("GATEHOUSE_TEST_POSTGRES_URL")
        .ok()
        .filter(|v| !v.is_empty())
}

async fn fresh_databases(test: &str) -> Vec<(&'static str, String)> {
    let dir = std::env::temp_dir().join(format!("gatehouse-it-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut out = vec![(
        "sqlite",
        format!("sqlite://{}", dir.join("gatehouse.db").display()),
    )];
    if let Some(base) = postgres_url() {
        let name = format!("gh_it_{}_{}", test, uuid::Uuid::new_v4().simple());
        let url = gatehouse_store::create_postgres_database(&base, &name[..name.len().min(63)])
            .await
            .expect("creates test database");
        out.push(("postgres", url));
    }
    out
}

impl TestApp {
    /// One app per backend, each on a fresh database.
    pub async fn all(test: &str) -> Vec<TestApp> {
        Self::all_with(test, |_| {}).await
    }

    pub async fn all_with(test: &str, configure: impl Fn(&mut Config)) -> Vec<TestApp> {
        let mut apps = Vec::new();
        for (backend, url) in fresh_databases(test).await {
            apps.push(Self::spawn(backend, &url, &configure).await);
        }
        apps
    }

    /// One app on a fresh SQLite database only, for tests about something other than storage
    /// (the gateway in front of it, for instance).
    pub async fn sqlite() -> TestApp {
        let dir = std::env::temp_dir().join(format!("gatehouse-it-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let url = format!("sqlite://{}", dir.join("gatehouse.db").display());
        Self::spawn("sqlite", &url, &|_| {}).await
    }

    async fn spawn(backend: &'static str, url: &str, configure: &impl Fn(&mut Config)) -> TestApp {
        let mut config = Config::for_tests(url);
        config.max_connections = 4;
        configure(&mut config);
        let clock = Arc::new(ManualClock::new(SystemClock.now()));
        let running = start(config, clock.clone()).await.expect("server starts");
        TestApp {
            public: format!("http://{}", running.public_addr),
            admin: format!("http://{}", running.admin_addr),
            admin_token: running.admin_token.expose().to_owned(),
            issuer: running.issuer.clone(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            clock,
            backend,
            running,
            database_url: url.to_owned(),
        }
    }

    /// A second node on this node's database, with the same issuer and clock: what a load
    /// balancer in front of two `gatehouse serve` processes looks like.
    pub async fn another_node(&self) -> TestApp {
        let mut config = Config::for_tests(&self.database_url);
        config.max_connections = 4;
        config.issuer = Some(url::Url::parse(&self.issuer).expect("the issuer is a URL"));
        let running = start(config, self.clock.clone())
            .await
            .expect("second node starts");
        TestApp {
            public: format!("http://{}", running.public_addr),
            admin: format!("http://{}", running.admin_addr),
            admin_token: running.admin_token.expose().to_owned(),
            issuer: running.issuer.clone(),
            http: self.http.clone(),
            clock: self.clock.clone(),
            backend: self.backend,
            running,
            database_url: self.database_url.clone(),
        }
    }

    pub fn admin_request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.admin))
            .bearer_auth(&self.admin_token)
    }

    pub fn public_request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http.request(method, format!("{}{path}", self.public))
    }

    /// Creates a client through the admin API; returns the answer (with `client_secret`).
    pub async fn create_client(&self, body: Value) -> Value {
        let response = self
            .admin_request(Method::POST, "/admin/clients")
            .json(&body)
            .send()
            .await
            .expect("sends");
        let status = response.status();
        let json: Value = response.json().await.expect("json");
        assert_eq!(status, StatusCode::CREATED, "{}: {json}", self.backend);
        json
    }

    /// A client-credentials client with scopes `api:read api:write` and one audience.
    pub async fn machine_client(&self) -> (String, String) {
        let c = self
            .create_client(json!({
                "client_name": "machine",
                "grant_types": ["client_credentials"],
                "scope": "api:read api:write",
                "audience": ["https://api.example"],
            }))
            .await;
        (
            c["client_id"].as_str().expect("id").to_owned(),
            c["client_secret"].as_str().expect("secret").to_owned(),
        )
    }

    pub async fn token(&self, id: &str, secret: &str, form: &[(&str, &str)]) -> Response {
        let mut params = vec![("grant_type", "client_credentials")];
        params.extend_from_slice(form);
        self.public_request(Method::POST, "/oauth2/token")
            .basic_auth(id, Some(secret))
            .form(&params)
            .send()
            .await
            .expect("sends")
    }

    /// A client-credentials access token (asserts success).
    pub async fn access_token(&self, id: &str, secret: &str, form: &[(&str, &str)]) -> String {
        let response = self.token(id, secret, form).await;
        let status = response.status();
        let body: Value = response.json().await.expect("json");
        assert_eq!(status, StatusCode::OK, "{}: {body}", self.backend);
        body["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()
    }

    pub async fn introspect(&self, id: &str, secret: &str, token: &str) -> Value {
        let response = self
            .public_request(Method::POST, "/oauth2/introspect")
            .basic_auth(id, Some(secret))
            .form(&[("token", token)])
            .send()
            .await
            .expect("sends");
        assert_eq!(response.status(), StatusCode::OK, "{}", self.backend);
        response.json().await.expect("json")
    }

    pub async fn jwks(&self) -> String {
        self.public_request(Method::GET, "/.well-known/jwks.json")
            .send()
            .await
            .expect("sends")
            .text()
            .await
            .expect("text")
    }

    /// A resource server's validator for this issuer, loaded with the current JWKS.
    pub async fn validator(&self, audience: &str) -> Validator {
        Validator::new(ValidatorConfig::new(&self.issuer).audience(audience))
            .with_jwks_json(&self.jwks().await)
            .expect("valid JWKS")
    }

    /// Re-reads keys as the background task would after the clock moved.
    pub async fn reload_keys(&self) {
        let state = &self.running.state;
        state
            .keys
            .reload(state.store.as_ref(), &state.cipher, state.now())
            .await
            .expect("reloads");
    }
}

/// Sessions without the login flow: an identity written through the store, and a session started
/// exactly as a login starts one.
impl TestApp {
    /// Inserts an active identity with this email; returns its id.
    pub async fn insert_identity(&self, email: &str) -> uuid::Uuid {
        use gatehouse_domain::identity::{Identity, IdentityState};
        let state = &self.running.state;
        let now = state.now();
        let identity = Identity {
            id: gatehouse_domain::ids::new_row_id(now),
            tenant_id: gatehouse_domain::ids::TenantId::DEFAULT,
            schema_id: "default".into(),
            state: IdentityState::Active,
            traits: json!({ "email": email, "first_name": "Ada" }),
            verifiable_addresses: Vec::new(),
            recovery_addresses: Vec::new(),
            metadata_public: None,
            metadata_admin: Some(json!({ "internal": "admin only" })),
            created_at: now,
            updated_at: now,
        };
        state
            .store
            .insert_identity(&identity, &[email.to_owned()], None)
            .await
            .expect("inserts identity");
        identity.id
    }

    /// Starts a password session for an identity, from `user_agent`; returns its token.
    pub async fn start_session_for(&self, identity_id: uuid::Uuid, user_agent: &str) -> String {
        use gatehouse_domain::session::AuthenticationMethod;
        use gatehouse_web::extract::RequestMeta;
        let state = &self.running.state;
        let identity = state
            .store
            .find_identity(gatehouse_domain::ids::TenantId::DEFAULT, identity_id)
            .await
            .expect("reads")
            .expect("identity exists");
        let methods = vec![AuthenticationMethod {
            method: "password".into(),
            completed_at: state.now(),
        }];
        let meta = RequestMeta {
            ip: Some("127.0.0.1".into()),
            user_agent: Some(user_agent.into()),
        };
        let (_, token) =
            gatehouse_web::identity::session::start_session(state, &identity, methods, &meta)
                .await
                .expect("starts a session");
        token.expose().to_owned()
    }

    /// A new identity with one session: `(identity id, session token)`.
    pub async fn session_for_new_identity(&self, email: &str) -> (uuid::Uuid, String) {
        let id = self.insert_identity(email).await;
        let token = self.start_session_for(id, "Test browser").await;
        (id, token)
    }

    /// The session cookie's name on this server.
    pub fn session_cookie(&self, token: &str) -> String {
        format!("gatehouse_session={token}")
    }
}

/// The `name=value` part of a response's `Set-Cookie` for cookie `name`.
pub fn set_cookie(response: &Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

/// JSON body and status of a response.
pub async fn json_of(response: Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.expect("body");
    let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, value)
}
