//! Signing keys, the JWKS and rotation.

use crate::support::TestApp;
use crate::support::app::json_of;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use time::Duration;

#[tokio::test]
async fn jwks_publishes_public_es256_and_rs256_keys_only() {
    for app in TestApp::all("jwks").await {
        let jwks: Value = serde_json::from_str(&app.jwks().await).expect("json");
        let keys = jwks["keys"].as_array().expect("keys");
        let algs: Vec<&str> = keys
            .iter()
            .map(|k| k["alg"].as_str().expect("alg"))
            .collect();
        assert!(
            algs.contains(&"ES256") && algs.contains(&"RS256"),
            "{algs:?}"
        );
        for key in keys {
            assert_eq!(key["use"], "sig");
            assert!(key["kid"].is_string());
            for private in ["d", "p", "q", "dp", "dq", "qi"] {
                assert!(
                    key.get(private).is_none(),
                    "private member {private} published"
                );
            }
        }
    }
}

#[tokio::test]
async fn keys_survive_a_restart() {
    let dir = std::env::temp_dir().join(format!("gatehouse-restart-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("dir");
    let url = format!("sqlite://{}", dir.join("g.db").display());
    let first = gatehouse::startup::start(
        gatehouse::config::Config::for_tests(&url),
        std::sync::Arc::new(gatehouse_domain::clock::SystemClock),
    )
    .await
    .expect("starts");
    let jwks = first.state.keys.current().expect("loaded").jwks_json();
    first.shutdown();
    first.wait().await.expect("stops cleanly");
    let second = gatehouse::startup::start(
        gatehouse::config::Config::for_tests(&url),
        std::sync::Arc::new(gatehouse_domain::clock::SystemClock),
    )
    .await
    .expect("restarts");
    assert_eq!(
        second.state.keys.current().expect("loaded").jwks_json(),
        jwks
    );
    second.shutdown();
    second.wait().await.expect("stops cleanly");
}

#[tokio::test]
async fn rotation_publishes_first_then_signs_and_keeps_old_tokens_valid() {
    for app in TestApp::all("rotate").await {
        let (id, secret) = app.machine_client().await;
        let old_token = app.access_token(&id, &secret, &[]).await;
        let (status, rotated) = json_of(
            app.admin_request(Method::POST, "/admin/keys/rotate")
                .json(&json!({"alg": "ES256"}))
                .send()
                .await
                .expect("s"),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{rotated}");
        let new_kid = rotated["rotated"][0].as_str().expect("kid").to_owned();
        assert!(app.jwks().await.contains(&new_kid), "published at once");

        // Until the publish-ahead delay passes, the old key still signs.
        let token = app.access_token(&id, &secret, &[]).await;
        assert!(!header_kid(&token).contains(&new_kid));
        let (_, listed) = json_of(
            app.admin_request(Method::GET, "/admin/keys")
                .send()
                .await
                .expect("s"),
        )
        .await;
        let state_of = |kid: &str| {
            listed
                .as_array()
                .expect("array")
                .iter()
                .find(|k| k["kid"] == kid)
                .map(|k| k["state"].clone())
        };
        assert_eq!(state_of(&new_kid), Some(json!("next")));

        app.clock.advance(Duration::seconds(31));
        app.reload_keys().await;
        let token = app.access_token(&id, &secret, &[]).await;
        assert!(
            header_kid(&token).contains(&new_kid),
            "the new key signs after the delay"
        );
        // Tokens signed with the old key stay valid: its public key is still published.
        assert_eq!(
            app.introspect(&id, &secret, &old_token).await["active"],
            true
        );
        app.validator("https://api.example")
            .await
            .validate(&token)
            .expect("new token verifies");

        let bad = app
            .admin_request(Method::POST, "/admin/keys/rotate")
            .json(&json!({"alg": "HS256"}))
            .send()
            .await;
        assert_eq!(bad.expect("s").status(), StatusCode::BAD_REQUEST);
    }
}

fn header_kid(token: &str) -> String {
    use base64::Engine;
    let header = token.split('.').next().expect("header");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .expect("base64");
    let value: Value = serde_json::from_slice(&bytes).expect("json");
    value["kid"].as_str().expect("kid").to_owned()
}
