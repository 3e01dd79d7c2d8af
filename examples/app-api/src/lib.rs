//! An example resource server, the Rust twin of the references' ASP.NET `AppApi`: `GET /data`
//! answers only to a valid access token from the issuer whose `client_id` is `bff-client` (the
//! `BffClientOnly` policy), with a 300 s clock skew; `GET /health` answers to anyone.
//!
//! The binary (`src/main.rs`) reads [`Settings`] from the environment and calls [`run`]; tests
//! call [`app`] and serve it themselves.

use axum::routing::get;
use axum::{Json, Router};
use gatehouse_verify::{
    JwksError, PolicyError, Validator, ValidatorConfig, VerifiedToken, require_claim,
};
use serde_json::{Value, json};
use std::net::SocketAddr;

/// The client whose tokens `/data` accepts.
pub const REQUIRED_CLIENT_ID: &str = "bff-client";

/// Where the API listens and whose tokens it trusts.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The issuer's URL, exactly as in its tokens' `iss` (`APP_API_ISSUER`).
    pub issuer: String,
    /// The audience tokens must carry, if any (`APP_API_AUDIENCE`).
    pub audience: Option<String>,
    /// `APP_API_ADDR`, default `127.0.0.1:5000`.
    pub addr: SocketAddr,
    /// Clock skew tolerated on `exp` / `nbf`: 300 s, as ASP.NET's `ClockSkew = 5 min`.
    pub leeway_secs: u64,
}

impl Settings {
    pub fn new(issuer: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            audience: None,
            addr: SocketAddr::from(([127, 0, 0, 1], 5000)),
            leeway_secs: 300,
        }
    }
}

/// Why the API cannot start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("APP_API_ISSUER is not set")]
    MissingIssuer,
    #[error("APP_API_ADDR {0:?} is not an address such as 127.0.0.1:5000")]
    InvalidAddr(String),
    #[error("cannot load the issuer's keys")]
    IssuerUnavailable(#[source] JwksError),
    #[error("cannot listen on {addr}")]
    Listen {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// The API's router, with a validator for `settings.issuer` found through discovery.
pub async fn app(settings: &Settings, http: reqwest::Client) -> Result<Router, StartError> {
    let mut config = ValidatorConfig::new(&settings.issuer).leeway(settings.leeway_secs);
    if let Some(audience) = &settings.audience {
        config = config.audience(audience);
    }
    let validator = Validator::discover(config, http)
        .await
        .map_err(StartError::IssuerUnavailable)?;
    Ok(router(validator))
}

pub fn router(validator: Validator) -> Router {
    Router::new()
        .route("/data", get(data))
        .route("/health", get(health))
        .with_state(validator)
}

/// Binds `settings.addr` and serves until the process ends.
pub async fn run(settings: Settings) -> Result<(), StartError> {
    let router = app(&settings, reqwest::Client::new()).await?;
    let listen_error = |source| StartError::Listen {
        addr: settings.addr,
        source,
    };
    let listener = tokio::net::TcpListener::bind(settings.addr)
        .await
        .map_err(listen_error)?;
    tracing::info!(addr = %settings.addr, issuer = %settings.issuer, "app-api listening");
    axum::serve(listener, router).await.map_err(listen_error)
}

/// `GET /data`: the `BffClientOnly` policy, then who is asking and which token they presented
/// (its `jti`, `iat` and `exp`, never the token itself), so a caller can watch the BFF refresh it.
async fn data(token: VerifiedToken) -> Result<Json<Value>, PolicyError> {
    require_claim(&token, "client_id", REQUIRED_CLIENT_ID)?;
    Ok(Json(json!({
        "message": "protected data: full JWT validation passed",
        "subject": token.subject(),
        "client_id": token.client_id(),
        "scopes": token.scopes(),
        "token": {
            "jti": token.get("jti"),
            "issued_at": token.get("iat"),
            "expires_at": token.get("exp"),
        },
    })))
}

async fn health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}
