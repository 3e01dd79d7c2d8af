//! A local issuer serving discovery and a JWKS of keys generated here, a manual clock, and
//! tokens signed with the generated keys.

use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::Semaphore;

/// The tests' "now": 2027-01-15, moved only by [`ManualClock::advance`].
pub const NOW: u64 = 1_800_000_000;

#[derive(Clone, Default)]
pub struct ManualClock(Arc<AtomicU64>);

impl ManualClock {
    pub fn advance(&self, secs: u64) {
        self.0.fetch_add(secs, Ordering::SeqCst);
    }

    /// The closure for `ValidatorConfig::clock`.
    pub fn reader(&self) -> impl Fn() -> SystemTime + Send + Sync + 'static {
        let offset = self.0.clone();
        move || UNIX_EPOCH + Duration::from_secs(NOW + offset.load(Ordering::SeqCst))
    }
}

pub struct TestKey {
    pub kid: String,
    key: EncodingKey,
}

impl TestKey {
    pub fn new(kid: &str) -> Self {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).expect("generates");
        let pkcs8 = pair.to_pkcs8v1().expect("encodes");
        Self {
            kid: kid.to_owned(),
            key: EncodingKey::from_ec_der(pkcs8.as_ref()),
        }
    }

    pub fn jwk(&self) -> Value {
        let mut jwk = Jwk::from_encoding_key(&self.key, Algorithm::ES256).expect("public key");
        jwk.common.key_id = Some(self.kid.clone());
        serde_json::to_value(jwk).expect("serializes")
    }

    /// An `at+jwt` for `issuer` valid for an hour from [`NOW`], with `extra` claims merged in.
    pub fn token(&self, issuer: &str, extra: Value) -> String {
        let mut claims = json!({
            "iss": issuer, "sub": "user-1", "aud": "https://api.example",
            "client_id": "bff-client", "scope": "api:read",
            "iat": NOW, "nbf": NOW, "exp": NOW + 3600,
        });
        if let (Some(claims), Value::Object(extra)) = (claims.as_object_mut(), extra) {
            claims.extend(extra);
        }
        let mut header = Header::new(Algorithm::ES256);
        header.typ = Some("at+jwt".to_owned());
        header.kid = Some(self.kid.clone());
        encode(&header, &claims, &self.key).expect("signs")
    }
}

#[derive(Default)]
struct IssuerState {
    url: Mutex<String>,
    keys: Mutex<Vec<Value>>,
    discovery_issuer: Mutex<Option<String>>,
    cache_control: Mutex<Option<String>>,
    down: AtomicBool,
    jwks_fetches: AtomicUsize,
    /// When set, each JWKS answer waits for a permit: a test holds fetches in flight.
    gate: Mutex<Option<Arc<Semaphore>>>,
}

/// A local OpenID Connect issuer: `/.well-known/openid-configuration` and `/jwks.json`.
#[derive(Clone)]
pub struct Issuer {
    pub url: String,
    state: Arc<IssuerState>,
}

impl Issuer {
    pub async fn start(keys: &[&TestKey]) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binds");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let state = Arc::new(IssuerState::default());
        *state.url.lock().expect("lock") = url.clone();
        let router = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks.json", get(jwks))
            .with_state(state.clone());
        tokio::spawn(async move { axum::serve(listener, router).await });
        let issuer = Self { url, state };
        issuer.publish(keys);
        issuer
    }

    pub fn jwks_uri(&self) -> String {
        format!("{}/jwks.json", self.url)
    }

    /// Replaces the published keys.
    pub fn publish(&self, keys: &[&TestKey]) {
        *self.state.keys.lock().expect("lock") = keys.iter().map(|k| k.jwk()).collect();
    }

    /// Makes discovery name another issuer.
    pub fn claim_issuer(&self, issuer: &str) {
        *self.state.discovery_issuer.lock().expect("lock") = Some(issuer.to_owned());
    }

    pub fn cache_control(&self, value: &str) {
        *self.state.cache_control.lock().expect("lock") = Some(value.to_owned());
    }

    /// While down, every answer is a 503.
    pub fn set_down(&self, down: bool) {
        self.state.down.store(down, Ordering::SeqCst);
    }

    pub fn jwks_fetches(&self) -> usize {
        self.state.jwks_fetches.load(Ordering::SeqCst)
    }

    /// Holds every JWKS answer until the returned semaphore gets a permit.
    pub fn hold_jwks(&self) -> Arc<Semaphore> {
        let gate = Arc::new(Semaphore::new(0));
        *self.state.gate.lock().expect("lock") = Some(gate.clone());
        gate
    }
}

async fn discovery(State(state): State<Arc<IssuerState>>) -> Response {
    if state.down.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let url = state.url.lock().expect("lock").clone();
    let issuer = state
        .discovery_issuer
        .lock()
        .expect("lock")
        .clone()
        .unwrap_or_else(|| url.clone());
    axum::Json(json!({ "issuer": issuer, "jwks_uri": format!("{url}/jwks.json") })).into_response()
}

async fn jwks(State(state): State<Arc<IssuerState>>) -> Response {
    state.jwks_fetches.fetch_add(1, Ordering::SeqCst);
    let gate = state.gate.lock().expect("lock").clone();
    if let Some(gate) = gate {
        gate.acquire().await.expect("open").forget();
    }
    if state.down.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let keys = state.keys.lock().expect("lock").clone();
    let mut headers = HeaderMap::new();
    if let Some(value) = state.cache_control.lock().expect("lock").as_deref() {
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_str(value).expect("header"),
        );
    }
    (headers, axum::Json(json!({ "keys": keys }))).into_response()
}
