//! Introspection (RFC 7662) and revocation (RFC 7009).

use crate::support::TestApp;
use crate::support::app::json_of;
use reqwest::{Method, StatusCode};
use serde_json::json;
use time::Duration;

#[tokio::test]
async fn introspection_reports_live_jwt_claims() {
    for app in TestApp::all("introspect").await {
        let (id, secret) = app.machine_client().await;
        let token = app
            .access_token(&id, &secret, &[("scope", "api:write")])
            .await;
        let (rs_id, rs_secret) = app.machine_client().await;
        let body = app.introspect(&rs_id, &rs_secret, &token).await;
        assert_eq!(body["active"], true, "{}: {body}", app.backend);
        assert_eq!(body["client_id"], json!(id));
        assert_eq!(body["sub"], json!(id));
        assert_eq!(body["scope"], "api:write");
        assert_eq!(body["iss"], json!(app.issuer));
        assert_eq!(body["token_use"], "access_token");
        assert_eq!(body["aud"], json!(["https://api.example"]));
    }
}

#[tokio::test]
async fn expired_garbage_and_foreign_tokens_are_inactive() {
    for app in TestApp::all("inactive").await {
        let (id, secret) = app.machine_client().await;
        let token = app.access_token(&id, &secret, &[]).await;
        for junk in ["", "nonsense", "a.b.c", "gat_unknown", &format!("{token}x")] {
            let response = app
                .public_request(Method::POST, "/oauth2/introspect")
                .basic_auth(&id, Some(&secret))
                .form(&[("token", junk)])
                .send()
                .await
                .expect("sends");
            let (status, body) = json_of(response).await;
            if junk.is_empty() {
                assert_eq!(
                    status,
                    StatusCode::BAD_REQUEST,
                    "empty token is a missing parameter"
                );
            } else {
                assert_eq!(
                    (status, body),
                    (StatusCode::OK, json!({"active": false})),
                    "{junk}"
                );
            }
        }
        app.clock.advance(Duration::hours(1) + Duration::seconds(1));
        assert_eq!(
            app.introspect(&id, &secret, &token).await,
            json!({"active": false})
        );
    }
}

#[tokio::test]
async fn introspection_requires_client_authentication() {
    for app in TestApp::all("introspect_auth").await {
        let response = app
            .public_request(Method::POST, "/oauth2/introspect")
            .form(&[("token", "x")])
            .send()
            .await
            .expect("sends");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let response = app
            .http
            .post(format!("{}/admin/oauth2/introspect", app.admin))
            .form(&[("token", "x")])
            .send()
            .await
            .expect("sends");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn revoked_jwt_and_opaque_tokens_introspect_as_inactive() {
    for app in TestApp::all("revoke").await {
        let (id, secret) = app.machine_client().await;
        let opaque = app
            .create_client(
                json!({"grant_types": ["client_credentials"], "access_token_strategy": "opaque"}),
            )
            .await;
        let (oid, osecret) = (
            opaque["client_id"].as_str().expect("id"),
            opaque["client_secret"].as_str().expect("s"),
        );
        for (cid, csecret) in [(id.as_str(), secret.as_str()), (oid, osecret)] {
            let token = app.access_token(cid, csecret, &[]).await;
            assert_eq!(app.introspect(cid, csecret, &token).await["active"], true);
            for _ in 0..2 {
                let response = app
                    .public_request(Method::POST, "/oauth2/revoke")
                    .basic_auth(cid, Some(csecret))
                    .form(&[
                        ("token", token.as_str()),
                        ("token_type_hint", "access_token"),
                    ])
                    .send()
                    .await
                    .expect("sends");
                assert_eq!(
                    response.status(),
                    StatusCode::OK,
                    "revocation is idempotent"
                );
            }
            assert_eq!(
                app.introspect(cid, csecret, &token).await,
                json!({"active": false})
            );
        }
        // An unknown token revokes "successfully" (RFC 7009 §2.2).
        let response = app
            .public_request(Method::POST, "/oauth2/revoke")
            .basic_auth(&id, Some(&secret))
            .form(&[("token", "does-not-exist")])
            .send()
            .await
            .expect("sends");
        assert_eq!(response.status(), StatusCode::OK);
    }
}

#[tokio::test]
async fn a_client_cannot_revoke_another_clients_token() {
    for app in TestApp::all("revoke_foreign").await {
        let (id, secret) = app.machine_client().await;
        let (other, other_secret) = app.machine_client().await;
        let token = app.access_token(&id, &secret, &[]).await;
        let response = app
            .public_request(Method::POST, "/oauth2/revoke")
            .basic_auth(&other, Some(&other_secret))
            .form(&[("token", token.as_str())])
            .send()
            .await
            .expect("sends");
        let (status, body) = json_of(response).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("unauthorized_client"))
        );
        assert_eq!(app.introspect(&id, &secret, &token).await["active"], true);
    }
}
