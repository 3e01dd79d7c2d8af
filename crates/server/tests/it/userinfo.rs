//! The UserInfo endpoint (OpenID Connect Core §5.3) and `/api/me`: a person's access token,
//! checked as introspection checks it, answers only the claims its scope releases. Until the
//! authorization endpoint issues them, tokens are minted here with the server's own keys, as the
//! token endpoint signs them.

use crate::support::TestApp;
use crate::support::app::json_of;
use gatehouse_domain::ids::TenantId;
use gatehouse_domain::keys::KeyAlg;
use gatehouse_domain::oauth::id_token::{ID_TOKEN_TYP, IdTokenClaims};
use gatehouse_domain::oauth::token::{ACCESS_TOKEN_TYP, AccessTokenClaims};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use time::Duration;
use uuid::Uuid;

/// A confidential web client for people: `(client_id, client_secret)`.
pub async fn web_client(app: &TestApp) -> (String, String) {
    let c = app
        .create_client(json!({
            "client_name": "Web App",
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "redirect_uris": ["https://app.example/callback"],
            "post_logout_redirect_uris": ["https://app.example/signed-out"],
            "scope": "openid profile email phone offline_access id username full_name bio created_at is_verified tenant_id",
        }))
        .await;
    (
        c["client_id"].as_str().expect("id").to_owned(),
        c["client_secret"].as_str().expect("secret").to_owned(),
    )
}

/// An identity with a full profile, its address verified (through the admin API).
pub async fn ada(app: &TestApp, email: &str) -> Uuid {
    let response = app
        .admin_request(Method::POST, "/admin/identities")
        .json(&json!({
            "schema_id": "default",
            "traits": {
                "email": email,
                "first_name": "Ada",
                "last_name": "Lovelace",
                "username": "ada",
                "website": "https://ada.example",
                "date_of_birth": "1815-12-10",
                "mobile": "+441234567890",
            },
            "verifiable_addresses": [{"value": email, "via": "email", "verified": true}],
        }))
        .send()
        .await
        .expect("sends");
    let (status, body) = json_of(response).await;
    assert_eq!(status, StatusCode::CREATED, "{}: {body}", app.backend);
    Uuid::parse_str(body["id"].as_str().expect("id")).expect("uuid")
}

/// An RFC 9068 access token for `sub`, signed as the token endpoint signs them.
pub fn person_access_token(app: &TestApp, client_id: &str, sub: &str, scope: &str) -> String {
    sign_access_token(app, client_id, sub, scope, Duration::hours(1))
}

fn sign_access_token(
    app: &TestApp,
    client_id: &str,
    sub: &str,
    scope: &str,
    lifespan: Duration,
) -> String {
    let state = &app.running.state;
    let now = state.now().unix_timestamp();
    let claims = AccessTokenClaims {
        iss: app.issuer.clone(),
        sub: sub.to_owned(),
        aud: vec![client_id.to_owned()],
        client_id: client_id.to_owned(),
        scope: scope.to_owned(),
        iat: now,
        nbf: now,
        exp: now + lifespan.whole_seconds(),
        jti: Uuid::new_v4().to_string(),
        tenant_id: TenantId::DEFAULT,
        email: None,
    };
    let keys = state.keys.current().expect("keys loaded");
    keys.signing_key(KeyAlg::ES256)
        .expect("ES256 key")
        .sign(ACCESS_TOKEN_TYP, &claims)
        .expect("signs")
}

/// An ID token for `sub` issued to `client_id` in session `sid`, signed RS256.
pub fn id_token(app: &TestApp, client_id: &str, sub: &str, sid: Option<&str>) -> String {
    let state = &app.running.state;
    let now = state.now().unix_timestamp();
    let claims = IdTokenClaims {
        iss: app.issuer.clone(),
        sub: sub.to_owned(),
        aud: client_id.to_owned(),
        exp: now + 3600,
        iat: now,
        auth_time: now,
        nonce: None,
        at_hash: None,
        amr: vec!["pwd".into()],
        sid: sid.map(str::to_owned),
        tenant_id: TenantId::DEFAULT,
        extra: serde_json::Map::new(),
    };
    let keys = state.keys.current().expect("keys loaded");
    keys.signing_key(KeyAlg::RS256)
        .expect("RS256 key")
        .sign(ID_TOKEN_TYP, &claims)
        .expect("signs")
}

async fn userinfo(app: &TestApp, token: &str) -> reqwest::Response {
    app.public_request(Method::GET, "/userinfo")
        .bearer_auth(token)
        .send()
        .await
        .expect("sends")
}

fn challenge(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn userinfo_claims_follow_the_granted_scope() {
    for app in TestApp::all("userinfo_scope").await {
        let (client_id, _) = web_client(&app).await;
        let id = ada(&app, "ada@example.com").await;
        let sub = id.to_string();

        let token = person_access_token(&app, &client_id, &sub, "openid");
        let response = userinfo(&app, &token).await;
        assert_eq!(
            response.headers()["cache-control"],
            "no-store",
            "{}",
            app.backend
        );
        let (status, body) = json_of(response).await;
        assert_eq!(status, StatusCode::OK, "{}: {body}", app.backend);
        assert_eq!(body, json!({"sub": sub}));

        let token = person_access_token(&app, &client_id, &sub, "openid email");
        let (_, body) = json_of(userinfo(&app, &token).await).await;
        assert_eq!(
            body,
            json!({"sub": sub, "email": "ada@example.com", "email_verified": true}),
            "{}",
            app.backend
        );

        let token = person_access_token(&app, &client_id, &sub, "openid profile");
        let (_, body) = json_of(userinfo(&app, &token).await).await;
        assert_eq!(body["name"], "Ada Lovelace", "{}: {body}", app.backend);
        assert_eq!(body["given_name"], "Ada");
        assert_eq!(body["family_name"], "Lovelace");
        assert_eq!(body["preferred_username"], "ada");
        assert_eq!(body["birthdate"], "1815-12-10");
        assert_eq!(body["website"], "https://ada.example");
        assert!(body["updated_at"].is_i64(), "{body}");
        assert!(body.get("email").is_none(), "no email without the scope");
        assert!(body.get("phone_number").is_none());
        assert!(body.get("picture").is_none(), "absent traits are left out");

        // POST with the token in a form body (RFC 6750 §2.2) answers the same.
        let token = person_access_token(&app, &client_id, &sub, "openid phone");
        let response = app
            .public_request(Method::POST, "/userinfo")
            .form(&[("access_token", token.as_str())])
            .send()
            .await
            .expect("sends");
        let (status, body) = json_of(response).await;
        assert_eq!(status, StatusCode::OK, "{}: {body}", app.backend);
        assert_eq!(body["phone_number"], "+441234567890");
        assert_eq!(body["phone_number_verified"], false);
        // …and with the header.
        let response = app
            .public_request(Method::POST, "/userinfo")
            .bearer_auth(&token)
            .send()
            .await
            .expect("sends");
        assert_eq!(response.status(), StatusCode::OK);
    }
}

#[tokio::test]
async fn a_deactivated_catalog_scope_releases_nothing() {
    for app in TestApp::all("userinfo_catalog").await {
        let (client_id, _) = web_client(&app).await;
        let id = ada(&app, "ada@example.com").await;
        let response = app
            .admin_request(Method::PUT, "/admin/scopes/email")
            .json(&json!({
                "display_name": "Email Address",
                "claims": ["email", "email_verified"],
                "active": false,
            }))
            .send()
            .await
            .expect("sends");
        assert!(response.status().is_success(), "{}", response.status());
        app.running
            .state
            .scopes
            .reload(app.running.state.store.as_ref())
            .await
            .expect("reloads");
        let token = person_access_token(&app, &client_id, &id.to_string(), "openid email");
        let (status, body) = json_of(userinfo(&app, &token).await).await;
        assert_eq!(status, StatusCode::OK, "{}: {body}", app.backend);
        assert_eq!(body, json!({"sub": id.to_string()}));
    }
}

#[tokio::test]
async fn bad_tokens_get_401_with_a_bearer_challenge() {
    for app in TestApp::all("userinfo_401").await {
        let (client_id, client_secret) = web_client(&app).await;
        let id = ada(&app, "ada@example.com").await;
        let sub = id.to_string();

        let response = app
            .public_request(Method::GET, "/userinfo")
            .send()
            .await
            .expect("sends");
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "{}",
            app.backend
        );
        assert!(
            challenge(&response).starts_with("Bearer"),
            "{}",
            challenge(&response)
        );

        let good = person_access_token(&app, &client_id, &sub, "openid");
        let expired = sign_access_token(&app, &client_id, &sub, "openid", Duration::seconds(-10));
        for bad in [
            "nonsense",
            "a.b.c",
            "gat_unknown",
            &format!("{good}x"),
            &expired,
        ] {
            let response = userinfo(&app, bad).await;
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{bad}");
            assert_eq!(challenge(&response), "Bearer error=\"invalid_token\"");
            let (_, body) = json_of(response).await;
            assert_eq!(body["error"], "invalid_token");
        }
        let response = app
            .public_request(Method::GET, "/userinfo")
            .header("Authorization", format!("Basic {good}"))
            .send()
            .await
            .expect("sends");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

        // A revoked token stops working.
        assert_eq!(userinfo(&app, &good).await.status(), StatusCode::OK);
        let response = app
            .public_request(Method::POST, "/oauth2/revoke")
            .basic_auth(&client_id, Some(&client_secret))
            .form(&[("token", good.as_str())])
            .send()
            .await
            .expect("sends");
        assert_eq!(response.status(), StatusCode::OK);
        let response = userinfo(&app, &good).await;
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "{}",
            app.backend
        );
        assert_eq!(challenge(&response), "Bearer error=\"invalid_token\"");

        // The token in the header and the body at once is refused.
        let other = person_access_token(&app, &client_id, &sub, "openid");
        let response = app
            .public_request(Method::POST, "/userinfo")
            .bearer_auth(&other)
            .form(&[("access_token", other.as_str())])
            .send()
            .await
            .expect("sends");
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    }
}

#[tokio::test]
async fn tokens_without_openid_get_403_insufficient_scope() {
    for app in TestApp::all("userinfo_403").await {
        let (client_id, _) = web_client(&app).await;
        let id = ada(&app, "ada@example.com").await;
        let token = person_access_token(&app, &client_id, &id.to_string(), "profile email");
        let response = userinfo(&app, &token).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{}", app.backend);
        assert!(
            challenge(&response).starts_with("Bearer error=\"insufficient_scope\""),
            "{}",
            challenge(&response)
        );
        let (_, body) = json_of(response).await;
        assert_eq!(body["error"], "insufficient_scope");
    }
}

#[tokio::test]
async fn client_credentials_tokens_and_gone_people_are_refused() {
    for app in TestApp::all("userinfo_nobody").await {
        let (machine_id, machine_secret) = app
            .create_client(json!({
                "client_name": "machine",
                "grant_types": ["client_credentials"],
                "scope": "openid api:read",
            }))
            .await
            .as_object()
            .map(|c| {
                (
                    c["client_id"].as_str().expect("id").to_owned(),
                    c["client_secret"].as_str().expect("secret").to_owned(),
                )
            })
            .expect("a client");
        let token = app
            .access_token(&machine_id, &machine_secret, &[("scope", "openid")])
            .await;
        for path in ["/userinfo", "/api/me"] {
            let response = app
                .public_request(Method::GET, path)
                .bearer_auth(&token)
                .send()
                .await
                .expect("sends");
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{path}");
            assert_eq!(challenge(&response), "Bearer error=\"invalid_token\"");
        }

        let (client_id, _) = web_client(&app).await;
        // An identity made inactive…
        let id = ada(&app, "ada@example.com").await;
        let token = person_access_token(&app, &client_id, &id.to_string(), "openid");
        assert_eq!(userinfo(&app, &token).await.status(), StatusCode::OK);
        let response = app
            .admin_request(Method::PATCH, &format!("/admin/identities/{id}"))
            .json(&json!([{"op": "replace", "path": "/state", "value": "inactive"}]))
            .send()
            .await
            .expect("sends");
        assert!(response.status().is_success(), "{}", response.status());
        assert_eq!(
            userinfo(&app, &token).await.status(),
            StatusCode::UNAUTHORIZED,
            "{}",
            app.backend
        );
        // …or deleted, and a subject that names nobody.
        let other = ada(&app, "grace@example.com").await;
        let token = person_access_token(&app, &client_id, &other.to_string(), "openid");
        let response = app
            .admin_request(Method::DELETE, &format!("/admin/identities/{other}"))
            .send()
            .await
            .expect("sends");
        assert!(response.status().is_success(), "{}", response.status());
        assert_eq!(
            userinfo(&app, &token).await.status(),
            StatusCode::UNAUTHORIZED
        );
        let token = person_access_token(&app, &client_id, "not-a-uuid", "openid");
        assert_eq!(
            userinfo(&app, &token).await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
}

#[tokio::test]
async fn api_me_is_keyed_by_the_granted_fine_grained_scopes() {
    for app in TestApp::all("api_me").await {
        let (client_id, _) = web_client(&app).await;
        let id = ada(&app, "ada@example.com").await;
        let token = person_access_token(
            &app,
            &client_id,
            &id.to_string(),
            "username email full_name is_verified bio",
        );
        for path in ["/api/me", "/api/user-scoped"] {
            let response = app
                .public_request(Method::GET, path)
                .bearer_auth(&token)
                .send()
                .await
                .expect("sends");
            let (status, body) = json_of(response).await;
            assert_eq!(status, StatusCode::OK, "{}: {path} {body}", app.backend);
            assert_eq!(
                body,
                json!({
                    "username": "ada",
                    "email": "ada@example.com",
                    "full_name": "Ada Lovelace",
                    "is_verified": true,
                    "bio": null,
                }),
                "{path}"
            );
        }
        let token = person_access_token(
            &app,
            &client_id,
            &id.to_string(),
            "openid id created_at tenant_id",
        );
        let response = app
            .public_request(Method::GET, "/api/me")
            .bearer_auth(&token)
            .send()
            .await
            .expect("sends");
        let (_, body) = json_of(response).await;
        let keys: Vec<&String> = body.as_object().expect("object").keys().collect();
        assert_eq!(keys, ["created_at", "id", "tenant_id"], "{body}");
        assert_eq!(body["id"], json!(id.to_string()));
        assert_eq!(body["tenant_id"], json!(TenantId::DEFAULT.to_string()));
        assert!(
            time::OffsetDateTime::parse(
                body["created_at"].as_str().expect("string"),
                &time::format_description::well_known::Rfc3339
            )
            .is_ok(),
            "{body}"
        );

        let response = app
            .public_request(Method::GET, "/api/me")
            .send()
            .await
            .expect("sends");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(challenge(&response), "Bearer error=\"invalid_token\"");
    }
}

#[tokio::test]
async fn discovery_lists_userinfo_logout_and_the_claims() {
    for app in TestApp::all("discovery_oidc").await {
        let response = app
            .public_request(Method::GET, "/.well-known/openid-configuration")
            .send()
            .await
            .expect("sends");
        let (status, doc) = json_of(response).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            doc["userinfo_endpoint"],
            json!(format!("{}/userinfo", app.issuer))
        );
        assert_eq!(
            doc["end_session_endpoint"],
            json!(format!("{}/oauth2/sessions/logout", app.issuer))
        );
        let claims: Vec<&str> = doc["claims_supported"]
            .as_array()
            .expect("array")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        for claim in [
            "sub",
            "email",
            "email_verified",
            "name",
            "preferred_username",
        ] {
            assert!(claims.contains(&claim), "{claim}: {claims:?}");
        }
    }
}
