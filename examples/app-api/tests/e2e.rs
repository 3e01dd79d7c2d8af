//! End to end: a real Gatehouse issues client-credentials tokens, and `app-api` accepts only the
//! BFF's on `/data` — 200 for `bff-client`, 403 `insufficient_scope` for another client, 401
//! `invalid_token` for garbage, and a bare 401 challenge without a token.

use gatehouse::config::Config;
use gatehouse::startup::{Running, start};
use gatehouse_domain::clock::SystemClock;
use gatehouse_example_app_api::{Settings, app};
use reqwest::StatusCode;
use reqwest::header::WWW_AUTHENTICATE;
use serde_json::{Value, json};
use std::sync::Arc;

const AUDIENCE: &str = "myapp-api";

struct Gatehouse {
    running: Running,
    http: reqwest::Client,
}

impl Gatehouse {
    async fn start() -> Self {
        let dir = std::env::temp_dir().join(format!("gatehouse-app-api-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let url = format!("sqlite://{}", dir.join("gatehouse.db").display());
        let running = start(Config::for_tests(&url), Arc::new(SystemClock))
            .await
            .expect("gatehouse starts");
        Self {
            running,
            http: reqwest::Client::new(),
        }
    }

    /// Registers a client-credentials client for the API; returns its secret.
    async fn client(&self, client_id: &str) -> String {
        let response = self
            .http
            .post(format!("http://{}/admin/clients", self.running.admin_addr))
            .bearer_auth(self.running.admin_token.expose())
            .json(&json!({
                "client_id": client_id,
                "grant_types": ["client_credentials"],
                "scope": "api:read",
                "audience": [AUDIENCE],
            }))
            .send()
            .await
            .expect("admin answers");
        let status = response.status();
        let body: Value = response.json().await.expect("json");
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["client_secret"].as_str().expect("secret").to_owned()
    }

    async fn token(&self, client_id: &str, secret: &str) -> String {
        let response = self
            .http
            .post(format!("{}/oauth2/token", self.running.issuer))
            .basic_auth(client_id, Some(secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .expect("token endpoint answers");
        let status = response.status();
        let body: Value = response.json().await.expect("json");
        assert_eq!(status, StatusCode::OK, "{body}");
        body["access_token"].as_str().expect("token").to_owned()
    }
}

/// Starts app-api for `issuer` on 127.0.0.1:0; returns its base URL.
async fn start_app_api(issuer: &str) -> String {
    let mut settings = Settings::new(issuer);
    settings.audience = Some(AUDIENCE.to_owned());
    let router = app(&settings, reqwest::Client::new())
        .await
        .expect("discovers the issuer");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(async move { axum::serve(listener, router).await });
    url
}

#[tokio::test]
async fn data_answers_only_the_bff_client() {
    let gatehouse = Gatehouse::start().await;
    let api = start_app_api(&gatehouse.running.issuer).await;
    let http = reqwest::Client::new();
    let data = || http.get(format!("{api}/data"));

    let health = http
        .get(format!("{api}/health"))
        .send()
        .await
        .expect("answers");
    assert_eq!(health.status(), StatusCode::OK);

    // The BFF's token passes.
    let secret = gatehouse.client("bff-client").await;
    let token = gatehouse.token("bff-client", &secret).await;
    let response = data().bearer_auth(&token).send().await.expect("answers");
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["client_id"], "bff-client");
    assert_eq!(body["subject"], "bff-client");
    assert_eq!(body["scopes"], json!(["api:read"]));
    assert!(body["token"]["jti"].is_string(), "{body}");
    assert!(
        body["token"]["expires_at"].as_i64() > body["token"]["issued_at"].as_i64(),
        "{body}"
    );

    // A valid token from another client is authenticated but not authorized.
    let secret = gatehouse.client("reporting-job").await;
    let token = gatehouse.token("reporting-job", &secret).await;
    let response = data().bearer_auth(&token).send().await.expect("answers");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        response.headers()[WWW_AUTHENTICATE],
        r#"Bearer error="insufficient_scope""#
    );
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["error"], "insufficient_scope");

    // Garbage is not a token.
    let response = data().bearer_auth("garbage").send().await.expect("answers");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.headers()[WWW_AUTHENTICATE],
        r#"Bearer error="invalid_token", error_description="the token is malformed""#
    );
    assert_eq!(
        response.json::<Value>().await.expect("json")["error"],
        "invalid_token"
    );

    // No token at all: a bare challenge.
    let response = data().send().await.expect("answers");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.headers()[WWW_AUTHENTICATE], "Bearer");

    gatehouse.running.shutdown();
}

#[tokio::test]
async fn refuses_to_start_against_an_unreachable_issuer() {
    // A port nothing listens on: bind one, then free it.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binds");
    let issuer = format!("http://{}", listener.local_addr().expect("address"));
    drop(listener);
    let error = app(&Settings::new(issuer), reqwest::Client::new())
        .await
        .expect_err("no issuer");
    assert_eq!(error.to_string(), "cannot load the issuer's keys");
}
