//! Health, discovery, metrics and request ids.

use crate::support::TestApp;
use crate::support::app::json_of;
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn health_endpoints_answer_on_both_listeners() {
    for app in TestApp::all("health").await {
        for base in [&app.public, &app.admin] {
            for path in ["/health/alive", "/health/ready"] {
                let (status, body) = json_of(
                    app.http
                        .get(format!("{base}{path}"))
                        .send()
                        .await
                        .expect("s"),
                )
                .await;
                assert_eq!(
                    (status, body),
                    (StatusCode::OK, json!({"status": "ok"})),
                    "{base}{path}"
                );
            }
        }
    }
}

#[tokio::test]
async fn discovery_uses_the_configured_issuer_and_lists_what_is_supported() {
    for app in TestApp::all("discovery").await {
        for path in [
            "/.well-known/openid-configuration",
            "/.well-known/oauth-authorization-server",
        ] {
            let response = app
                .public_request(Method::GET, path)
                .header("Host", "evil.example")
                .header("X-Forwarded-Host", "evil.example")
                .send()
                .await
                .expect("s");
            let (status, doc) = json_of(response).await;
            assert_eq!(status, StatusCode::OK);
            assert_eq!(doc["issuer"], json!(app.issuer));
            assert_eq!(
                doc["token_endpoint"],
                json!(format!("{}/oauth2/token", app.issuer))
            );
            assert_eq!(
                doc["jwks_uri"],
                json!(format!("{}/.well-known/jwks.json", app.issuer))
            );
            assert_eq!(
                doc["authorization_endpoint"],
                json!(format!("{}/oauth2/auth", app.issuer))
            );
            assert_eq!(
                doc["grant_types_supported"],
                json!(["authorization_code", "refresh_token", "client_credentials"])
            );
            assert_eq!(doc["code_challenge_methods_supported"], json!(["S256"]));
            assert_eq!(
                doc["authorization_response_iss_parameter_supported"],
                json!(true)
            );
            assert!(!doc.to_string().contains("evil.example"));
        }
    }
}

#[tokio::test]
async fn metrics_count_requests_and_issued_tokens() {
    for app in TestApp::all("metrics").await {
        let (id, secret) = app.machine_client().await;
        app.access_token(&id, &secret, &[]).await;
        let text = app
            .http
            .get(format!("{}/metrics", app.admin))
            .send()
            .await
            .expect("s")
            .text()
            .await
            .expect("t");
        assert!(
            text.contains(r#"gatehouse_tokens_issued_total{grant_type="client_credentials"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"route="/oauth2/token",status="200""#),
            "{text}"
        );
        assert!(
            text.contains("gatehouse_http_request_duration_seconds_bucket"),
            "{text}"
        );
    }
}

#[tokio::test]
async fn every_answer_carries_a_request_id_and_unknown_routes_are_json_404() {
    for app in TestApp::all("request_id").await {
        let response = app
            .public_request(Method::GET, "/nope")
            .send()
            .await
            .expect("s");
        assert!(response.headers().contains_key("x-request-id"));
        let (status, body) = json_of(response).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body["error"]["code"], 404);
    }
}

#[tokio::test]
async fn shuts_down_gracefully() {
    for app in TestApp::all("shutdown").await {
        let public = app.public.clone();
        app.running.shutdown();
        app.running.wait().await.expect("stops cleanly");
        assert!(
            reqwest::get(format!("{public}/health/alive"))
                .await
                .is_err(),
            "listener closed"
        );
    }
}
