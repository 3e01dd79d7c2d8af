//! `POST /oauth2/token` with the client credentials grant.

use crate::support::TestApp;
use crate::support::app::json_of;
use reqwest::{Method, StatusCode, header};
use serde_json::json;
use time::Duration;

#[tokio::test]
async fn issues_an_rfc9068_jwt_that_a_resource_server_accepts() {
    for app in TestApp::all("jwt").await {
        let (id, secret) = app.machine_client().await;
        let response = app.token(&id, &secret, &[("scope", "api:read")]).await;
        assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
        let (status, body) = json_of(response).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["token_type"], "bearer");
        assert_eq!(body["expires_in"], 3600);
        assert_eq!(body["scope"], "api:read");

        let token = body["access_token"].as_str().expect("token");
        let claims = app
            .validator("https://api.example")
            .await
            .validate(token)
            .expect("valid for the API");
        assert_eq!(claims.subject(), id);
        assert_eq!(claims.get("client_id"), Some(&json!(id)));
        assert_eq!(claims.scopes(), ["api:read"]);
        assert_eq!(claims.get("iss"), Some(&json!(app.issuer)));
        assert_eq!(
            claims.get("tenant_id"),
            Some(&json!("00000000-0000-0000-0000-000000000001"))
        );
        for claim in ["iat", "nbf", "exp", "jti", "aud"] {
            assert!(claims.get(claim).is_some(), "{claim} missing");
        }
        // Another audience is refused by a resource server expecting it.
        assert!(
            app.validator("https://other.example")
                .await
                .validate(token)
                .is_err()
        );
    }
}

#[tokio::test]
async fn without_scope_the_client_gets_its_registered_scopes() {
    for app in TestApp::all("default_scope").await {
        let (id, secret) = app.machine_client().await;
        let (_, body) = json_of(app.token(&id, &secret, &[]).await).await;
        assert_eq!(body["scope"], "api:read api:write");
    }
}

#[tokio::test]
async fn accepts_client_secret_post_when_registered() {
    for app in TestApp::all("secret_post").await {
        let c = app
            .create_client(json!({
                "grant_types": ["client_credentials"],
                "token_endpoint_auth_method": "client_secret_post",
                "scope": "api:read",
            }))
            .await;
        let (id, secret) = (
            c["client_id"].as_str().expect("id"),
            c["client_secret"].as_str().expect("secret"),
        );
        let response = app
            .public_request(Method::POST, "/oauth2/token")
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", id),
                ("client_secret", secret),
            ])
            .send()
            .await
            .expect("sends");
        assert_eq!(response.status(), StatusCode::OK);
        // The registered method is the only one accepted.
        let basic = app.token(id, secret, &[]).await;
        assert_eq!(basic.status(), StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn rejects_bad_client_credentials_with_401_and_a_challenge() {
    for app in TestApp::all("bad_secret").await {
        let (id, _) = app.machine_client().await;
        for (client, secret) in [
            (id.as_str(), "wrong-secret"),
            ("no-such-client", "whatever"),
        ] {
            let response = app.token(client, secret, &[]).await;
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
            assert!(
                response.headers()[header::WWW_AUTHENTICATE]
                    .to_str()
                    .expect("ascii")
                    .starts_with("Basic")
            );
            let (_, body) = json_of(response).await;
            assert_eq!(body["error"], "invalid_client");
        }
        let response = app
            .public_request(Method::POST, "/oauth2/token")
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .expect("sends");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn refuses_two_authentication_methods_at_once() {
    for app in TestApp::all("two_methods").await {
        let (id, secret) = app.machine_client().await;
        let response = app.token(&id, &secret, &[("client_secret", &secret)]).await;
        let (status, body) = json_of(response).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["error"], "invalid_request");
    }
}

#[tokio::test]
async fn refuses_scopes_and_audiences_the_client_was_not_given() {
    for app in TestApp::all("scope").await {
        let (id, secret) = app.machine_client().await;
        let (status, body) = json_of(
            app.token(&id, &secret, &[("scope", "api:read admin")])
                .await,
        )
        .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_scope"))
        );
        assert!(
            body["error_description"]
                .as_str()
                .expect("text")
                .contains("admin")
        );
        let (status, body) = json_of(
            app.token(&id, &secret, &[("audience", "https://evil.example")])
                .await,
        )
        .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_target"))
        );
        let (status, body) = json_of(
            app.token(&id, &secret, &[("resource", "https://evil.example")])
                .await,
        )
        .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_target"))
        );
        let (status, body) =
            json_of(app.token(&id, &secret, &[("resource", "not a uri")]).await).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_target"))
        );
        let token = app
            .access_token(&id, &secret, &[("resource", "https://api.example")])
            .await;
        app.validator("https://api.example")
            .await
            .validate(&token)
            .expect("resource indicator becomes aud");
        let (status, body) =
            json_of(app.token(&id, &secret, &[("scope", "bad\"scope")]).await).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_scope"))
        );
    }
}

#[tokio::test]
async fn refuses_grants_the_client_or_server_does_not_allow() {
    for app in TestApp::all("grants").await {
        let c = app
            .create_client(json!({
                "grant_types": ["authorization_code"],
                "redirect_uris": ["https://app.example/cb"],
            }))
            .await;
        let (id, secret) = (
            c["client_id"].as_str().expect("id"),
            c["client_secret"].as_str().expect("secret"),
        );
        let (status, body) = json_of(app.token(id, secret, &[]).await).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("unauthorized_client"))
        );

        let response = app
            .public_request(Method::POST, "/oauth2/token")
            .basic_auth(id, Some(secret))
            .form(&[
                ("grant_type", "password"),
                ("username", "a"),
                ("password", "b"),
            ])
            .send()
            .await
            .expect("sends");
        let (status, body) = json_of(response).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("unsupported_grant_type"))
        );
    }
}

#[tokio::test]
async fn deactivating_a_client_takes_effect_at_once() {
    for app in TestApp::all("deactivate").await {
        let (id, secret) = app.machine_client().await;
        let token = app.access_token(&id, &secret, &[]).await;
        let mut current = app
            .admin_request(Method::GET, &format!("/admin/clients/{id}"))
            .send()
            .await
            .expect("sends")
            .json::<serde_json::Value>()
            .await
            .expect("json");
        current["active"] = json!(false);
        let response = app
            .admin_request(Method::PUT, &format!("/admin/clients/{id}"))
            .json(&current)
            .send()
            .await
            .expect("sends");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            app.token(&id, &secret, &[]).await.status(),
            StatusCode::UNAUTHORIZED
        );
        let admin_view = app
            .admin_request(Method::POST, "/admin/oauth2/introspect")
            .form(&[("token", token.as_str())])
            .send()
            .await
            .expect("sends")
            .json::<serde_json::Value>()
            .await
            .expect("json");
        assert_eq!(admin_view, json!({"active": false}));
    }
}

#[tokio::test]
async fn per_client_lifespan_and_opaque_strategy_are_honoured() {
    for app in TestApp::all("opaque").await {
        let c = app
            .create_client(json!({
                "grant_types": ["client_credentials"],
                "scope": "api:read",
                "access_token_strategy": "opaque",
                "client_credentials_grant_access_token_lifespan": "30s",
            }))
            .await;
        assert_eq!(c["client_credentials_grant_access_token_lifespan"], "30s");
        let (id, secret) = (
            c["client_id"].as_str().expect("id"),
            c["client_secret"].as_str().expect("secret"),
        );
        let (status, body) = json_of(app.token(id, secret, &[]).await).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["expires_in"], 30);
        let token = body["access_token"].as_str().expect("token");
        assert!(token.starts_with("gat_"));
        assert_eq!(app.introspect(id, secret, token).await["active"], true);
        app.clock.advance(Duration::seconds(31));
        assert_eq!(
            app.introspect(id, secret, token).await,
            json!({"active": false})
        );
    }
}

#[tokio::test]
async fn repeated_failed_client_authentication_is_throttled() {
    for app in TestApp::all("auth_throttle").await {
        let (id, secret) = app.machine_client().await;
        for _ in 0..20 {
            assert_eq!(
                app.token(&id, "wrong", &[]).await.status(),
                StatusCode::UNAUTHORIZED
            );
        }
        let response = app.token(&id, &secret, &[]).await;
        assert_eq!(
            response.status(),
            StatusCode::TOO_MANY_REQUESTS,
            "even the right secret waits"
        );
        assert!(response.headers().contains_key(header::RETRY_AFTER));
        app.clock.advance(Duration::minutes(1));
        assert_eq!(app.token(&id, &secret, &[]).await.status(), StatusCode::OK);
    }
}
