//! Malformed input gets a clear 4xx, never a 500.

use crate::support::TestApp;
use crate::support::app::json_of;
use reqwest::{Method, StatusCode, header};

#[tokio::test]
async fn malformed_token_requests_are_invalid_request() {
    for app in TestApp::all("bad_form").await {
        let (id, secret) = app.machine_client().await;
        let cases: Vec<(&str, Vec<u8>)> = vec![
            (
                "application/x-www-form-urlencoded",
                b"grant_type=client_credentials&grant_type=client_credentials".to_vec(),
            ),
            (
                "application/x-www-form-urlencoded",
                b"grant_type=client_credentials&scope=%ff%fe".to_vec(),
            ),
            (
                "application/x-www-form-urlencoded",
                b"scope=api%3Aread".to_vec(),
            ),
            (
                "application/json",
                br#"{"grant_type":"client_credentials"}"#.to_vec(),
            ),
            ("text/plain", b"grant_type=client_credentials".to_vec()),
        ];
        for (content_type, body) in cases {
            let response = app
                .public_request(Method::POST, "/oauth2/token")
                .basic_auth(&id, Some(&secret))
                .header(header::CONTENT_TYPE, content_type)
                .body(body.clone())
                .send()
                .await
                .expect("sends");
            let (status, answer) = json_of(response).await;
            assert_eq!(
                status,
                StatusCode::BAD_REQUEST,
                "{content_type} {:?}: {answer}",
                String::from_utf8_lossy(&body)
            );
            assert_eq!(answer["error"], "invalid_request");
        }
    }
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    for app in TestApp::all("oversized").await {
        let big = format!(
            "grant_type=client_credentials&scope={}",
            "a".repeat(200_000)
        );
        let response = app
            .public_request(Method::POST, "/oauth2/token")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(big)
            .send()
            .await
            .expect("sends");
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
        let response = app
            .admin_request(Method::POST, "/admin/clients")
            .header(header::CONTENT_TYPE, "application/json")
            .body(format!("{{\"client_name\": \"{}\"}}", "a".repeat(200_000)))
            .send()
            .await
            .expect("sends");
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }
}

#[tokio::test]
async fn malformed_admin_json_is_a_400_naming_the_problem() {
    for app in TestApp::all("bad_json").await {
        let cases = [
            "{not json",
            r#"{"grant_types": "client_credentials"}"#,
            r#"{"skip_consent": "yes"}"#,
            r#"{"redirect_uris": [1, 2]}"#,
            r#"{"tenant_id": "not-a-uuid"}"#,
            "[]",
        ];
        for body in cases {
            let response = app
                .admin_request(Method::POST, "/admin/clients")
                .header(header::CONTENT_TYPE, "application/json")
                .body(body)
                .send()
                .await
                .expect("sends");
            let (status, answer) = json_of(response).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
            assert_eq!(answer["error"]["id"], "invalid_body");
        }
        let invalid_utf8 = app
            .admin_request(Method::POST, "/admin/clients")
            .header(header::CONTENT_TYPE, "application/json")
            .body(vec![b'{', b'"', 0xff, b'"', b':', b'1', b'}'])
            .send()
            .await
            .expect("sends");
        assert_eq!(invalid_utf8.status(), StatusCode::BAD_REQUEST);
        let wrong_type = app
            .admin_request(Method::POST, "/admin/clients")
            .header(header::CONTENT_TYPE, "text/plain")
            .body("{}")
            .send()
            .await
            .expect("sends");
        assert_eq!(wrong_type.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let unknown_tenant = app
            .admin_request(Method::POST, "/admin/clients")
            .json(&serde_json::json!({"grant_types": ["client_credentials"], "tenant_id": uuid::Uuid::new_v4()}))
            .send()
            .await
            .expect("sends");
        assert_eq!(unknown_tenant.status(), StatusCode::BAD_REQUEST);
        // Moving a client to a tenant that is not there is refused the same way.
        let (client_id, _) = app.machine_client().await;
        let (status, answer) = json_of(
            app.admin_request(Method::PUT, &format!("/admin/clients/{client_id}"))
                .json(&serde_json::json!({"grant_types": ["client_credentials"], "tenant_id": uuid::Uuid::new_v4()}))
                .send()
                .await
                .expect("sends"),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
        assert_eq!(answer["error"]["id"], "unknown_tenant");
    }
}
