//! The axum extractor, the tower layer and their 401 / 403 / 503 answers, through real HTTP.

use crate::support::{Issuer, ManualClock, NOW, TestKey};
use axum::routing::get;
use axum::{Json, Router};
use gatehouse_verify::{
    Claims, PolicyError, Validator, ValidatorConfig, VerifiedToken, VerifyLayer, require_claim,
    require_scope,
};
use reqwest::StatusCode;
use reqwest::header::WWW_AUTHENTICATE;
use serde_json::{Value, json};

async fn bff_only(token: VerifiedToken) -> Result<Json<Value>, PolicyError> {
    require_claim(&token, "client_id", "bff-client")?;
    Ok(Json(json!({ "sub": token.subject() })))
}

async fn writers_only(token: VerifiedToken) -> Result<Json<Value>, PolicyError> {
    require_scope(&token, "api:write")?;
    Ok(Json(json!({ "sub": token.subject() })))
}

async fn layered(claims: Claims) -> Json<Value> {
    Json(json!({ "client_id": claims.client_id() }))
}

/// An API on 127.0.0.1:0 using `validator`; returns its base URL.
async fn serve(validator: Validator) -> String {
    let router = Router::new()
        .route("/bff-only", get(bff_only))
        .route("/writers-only", get(writers_only))
        .merge(
            Router::new()
                .route("/layered", get(layered))
                .route_layer(VerifyLayer::new(validator.clone())),
        )
        .with_state(validator);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(async move { axum::serve(listener, router).await });
    url
}

struct Api {
    url: String,
    issuer: Issuer,
    key: TestKey,
    http: reqwest::Client,
}

impl Api {
    async fn start() -> Self {
        let key = TestKey::new("k1");
        let issuer = Issuer::start(&[&key]).await;
        let config = ValidatorConfig::new(&issuer.url)
            .audience("https://api.example")
            .clock(ManualClock::default().reader());
        let validator = Validator::discover(config, reqwest::Client::new())
            .await
            .expect("discovers");
        Self {
            url: serve(validator).await,
            issuer,
            key,
            http: reqwest::Client::new(),
        }
    }

    fn token(&self, extra: Value) -> String {
        self.key.token(&self.issuer.url, extra)
    }

    /// Status, `WWW-Authenticate` and body of `GET path` with `authorization`.
    async fn get(&self, path: &str, authorization: Option<&str>) -> (StatusCode, String, String) {
        let mut request = self.http.get(format!("{}{path}", self.url));
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        let response = request.send().await.expect("answers");
        let status = response.status();
        let challenge = response
            .headers()
            .get(WWW_AUTHENTICATE)
            .map(|v| v.to_str().expect("ascii").to_owned())
            .unwrap_or_default();
        (status, challenge, response.text().await.expect("body"))
    }
}

#[tokio::test]
async fn the_extractor_accepts_a_valid_token_and_applies_the_policy() {
    let api = Api::start().await;
    let bearer = format!("Bearer {}", api.token(json!({})));
    let (status, _, body) = api.get("/bff-only", Some(&bearer)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, r#"{"sub":"user-1"}"#);

    let other = format!("Bearer {}", api.token(json!({"client_id": "other-client"})));
    let (status, challenge, body) = api.get("/bff-only", Some(&other)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(challenge, r#"Bearer error="insufficient_scope""#);
    assert_eq!(
        serde_json::from_str::<Value>(&body).expect("json"),
        json!({
            "error": "insufficient_scope",
            "error_description": "claim client_id does not have the required value",
        })
    );

    let (status, challenge, _) = api.get("/writers-only", Some(&bearer)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        challenge,
        r#"Bearer error="insufficient_scope", scope="api:write""#
    );
    let writer = format!(
        "Bearer {}",
        api.token(json!({"scope": "api:read api:write"}))
    );
    assert_eq!(
        api.get("/writers-only", Some(&writer)).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn without_a_bearer_token_the_answer_is_a_bare_challenge() {
    let api = Api::start().await;
    for path in ["/bff-only", "/layered"] {
        for authorization in [None, Some("Basic YWxpY2U6c2VjcmV0")] {
            let (status, challenge, body) = api.get(path, authorization).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
            assert_eq!(challenge, "Bearer");
            assert_eq!(body, "");
        }
    }
}

#[tokio::test]
async fn invalid_tokens_get_invalid_token() {
    let api = Api::start().await;
    let cases = [
        ("Bearer garbage".to_owned(), "the token is malformed"),
        ("Bearer ".to_owned(), "the token is malformed"),
        (
            format!("Bearer {}", api.token(json!({"exp": NOW - 61}))),
            "the token has expired",
        ),
        (
            format!(
                "Bearer {}",
                api.token(json!({"aud": "https://other.example"}))
            ),
            "the token is not meant for this audience",
        ),
        (
            format!(
                "bearer {}",
                TestKey::new("k1").token(&api.issuer.url, json!({}))
            ),
            "the signature does not verify",
        ),
    ];
    for path in ["/bff-only", "/layered"] {
        for (authorization, description) in &cases {
            let (status, challenge, body) = api.get(path, Some(authorization)).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{path} {description}");
            assert_eq!(
                challenge,
                format!(r#"Bearer error="invalid_token", error_description="{description}""#)
            );
            assert_eq!(
                serde_json::from_str::<Value>(&body).expect("json"),
                json!({ "error": "invalid_token", "error_description": description })
            );
        }
    }
}

#[tokio::test]
async fn the_layer_puts_the_claims_in_the_request() {
    let api = Api::start().await;
    let bearer = format!("Bearer {}", api.token(json!({})));
    let (status, _, body) = api.get("/layered", Some(&bearer)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, r#"{"client_id":"bff-client"}"#);
}

#[tokio::test]
async fn unreachable_keys_are_a_503_not_a_401() {
    let key = TestKey::new("k1");
    let issuer = Issuer::start(&[&key]).await;
    issuer.set_down(true);
    let validator = Validator::with_jwks_uri(
        ValidatorConfig::new(&issuer.url).clock(ManualClock::default().reader()),
        issuer.jwks_uri(),
        reqwest::Client::new(),
    );
    let url = serve(validator).await;
    let response = reqwest::Client::new()
        .get(format!("{url}/bff-only"))
        .bearer_auth(key.token(&issuer.url, json!({})))
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(response.headers().get(WWW_AUTHENTICATE).is_none());
    assert_eq!(
        response.json::<Value>().await.expect("json")["error"],
        "temporarily_unavailable"
    );
}
