//! Dynamic client registration (RFC 7591) and management (RFC 7592).

use crate::support::TestApp;
use crate::support::app::json_of;
use reqwest::{Method, StatusCode, header};
use serde_json::{Value, json};

async fn register(app: &TestApp, body: Value) -> (StatusCode, Value) {
    json_of(
        app.public_request(Method::POST, "/oauth2/register")
            .json(&body)
            .send()
            .await
            .expect("sends"),
    )
    .await
}

#[tokio::test]
async fn registers_reads_updates_and_deletes_a_client() {
    for app in TestApp::all("dcr").await {
        let (status, client) = register(
            &app,
            json!({"client_name": "cli", "grant_types": ["client_credentials"], "scope": "api:read", "software_id": "x"}),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{client}");
        let id = client["client_id"].as_str().expect("id").to_owned();
        let secret = client["client_secret"].as_str().expect("secret").to_owned();
        let rat = client["registration_access_token"]
            .as_str()
            .expect("registration token")
            .to_owned();
        let uri = client["registration_client_uri"]
            .as_str()
            .expect("uri")
            .to_owned();
        assert_eq!(uri, format!("{}/oauth2/register/{id}", app.issuer));
        assert_eq!(client["client_secret_expires_at"], 0);
        assert!(client["client_id_issued_at"].is_i64());

        app.access_token(&id, &secret, &[]).await;

        let path = format!("/oauth2/register/{id}");
        let (status, read) = json_of(
            app.public_request(Method::GET, &path)
                .bearer_auth(&rat)
                .send()
                .await
                .expect("s"),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(read["client_name"], "cli");
        assert!(read.get("client_secret").is_none());

        let update = json!({"client_id": id, "client_name": "renamed", "grant_types": ["client_credentials"], "scope": "api:read"});
        let (status, updated) = json_of(
            app.public_request(Method::PUT, &path)
                .bearer_auth(&rat)
                .json(&update)
                .send()
                .await
                .expect("s"),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{updated}");
        assert_eq!(updated["client_name"], "renamed");
        app.access_token(&id, &secret, &[]).await;

        let wrong = app
            .public_request(Method::GET, &path)
            .bearer_auth("wrong")
            .send()
            .await
            .expect("s");
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
        assert!(
            wrong.headers()[header::WWW_AUTHENTICATE]
                .to_str()
                .expect("ascii")
                .contains("invalid_token")
        );
        let unknown = app
            .public_request(Method::GET, "/oauth2/register/nope")
            .bearer_auth(&rat)
            .send()
            .await
            .expect("s");
        assert_eq!(
            unknown.status(),
            StatusCode::UNAUTHORIZED,
            "does not reveal which clients exist"
        );

        let deleted = app
            .public_request(Method::DELETE, &path)
            .bearer_auth(&rat)
            .send()
            .await
            .expect("s");
        assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
        assert_eq!(
            app.token(&id, &secret, &[]).await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
}

#[tokio::test]
async fn registration_cannot_set_admin_only_fields() {
    for app in TestApp::all("dcr_admin_only").await {
        for (field, value) in [
            ("client_secret", json!("x".repeat(40))),
            ("skip_consent", json!(true)),
            ("metadata", json!({})),
            ("client_id", json!("chosen")),
        ] {
            let mut body = json!({"grant_types": ["client_credentials"]});
            body[field] = value;
            let (status, answer) = register(&app, body).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{field}");
            assert_eq!(answer["error"], "invalid_client_metadata");
        }
        let (status, answer) =
            register(&app, json!({"redirect_uris": ["http://evil.example/cb"]})).await;
        assert_eq!(
            (status, answer["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_redirect_uri"))
        );
    }
}

#[tokio::test]
async fn registration_can_require_a_token_be_disabled_and_is_throttled() {
    for app in TestApp::all_with("dcr_token", |c| {
        c.registration_initial_access_token = Some("initial-token-0123456789".into());
        c.registration_per_ip_per_hour = 2;
    })
    .await
    {
        let body = json!({"grant_types": ["client_credentials"]});
        let response = app
            .public_request(Method::POST, "/oauth2/register")
            .json(&body)
            .send()
            .await
            .expect("s");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        for _ in 0..2 {
            let response = app
                .public_request(Method::POST, "/oauth2/register")
                .bearer_auth("initial-token-0123456789")
                .json(&body)
                .send()
                .await
                .expect("s");
            assert_eq!(response.status(), StatusCode::CREATED);
        }
        let response = app
            .public_request(Method::POST, "/oauth2/register")
            .bearer_auth("initial-token-0123456789")
            .json(&body)
            .send()
            .await
            .expect("s");
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(response.headers().contains_key(header::RETRY_AFTER));
    }
    for app in TestApp::all_with("dcr_off", |c| c.registration_enabled = false).await {
        let (status, _) = register(&app, json!({"grant_types": ["client_credentials"]})).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (_, discovery) = json_of(
            app.public_request(Method::GET, "/.well-known/openid-configuration")
                .send()
                .await
                .expect("s"),
        )
        .await;
        assert!(discovery.get("registration_endpoint").is_none());
    }
}
