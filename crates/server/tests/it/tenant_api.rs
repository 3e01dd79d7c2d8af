//! The tenant API (`/api/auth/credentials/{signup,login}/{app_id}` with an API key): tokens for
//! an app's users, the order of the key checks (401, 404, 403), the self-service rules (password
//! policy, throttling, one answer for unknown and wrong), the key's last use, and isolation
//! between two apps.

use crate::oidc::{VERIFIER, authorize, exchange, token_request, web_client};
use crate::support::TestApp;
use crate::support::app::json_of;
use crate::tenants::{admin, create_key, create_tenant};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const STRONG: &str = "tawny-kettle-orbit-93";

async fn call(
    app: &TestApp,
    action: &str,
    tenant: &str,
    key: Option<&str>,
    body: Value,
) -> (StatusCode, Value) {
    let mut request = app.public_request(
        Method::POST,
        &format!("/api/auth/credentials/{action}/{tenant}"),
    );
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    json_of(request.json(&body).send().await.expect("sends")).await
}

pub async fn signup(
    app: &TestApp,
    tenant: &str,
    key: &str,
    email: &str,
    password: &str,
) -> (StatusCode, Value) {
    call(
        app,
        "signup",
        tenant,
        Some(key),
        json!({"email": email, "password": password}),
    )
    .await
}

async fn login(
    app: &TestApp,
    tenant: &str,
    key: &str,
    email: &str,
    password: &str,
) -> (StatusCode, Value) {
    call(
        app,
        "login",
        tenant,
        Some(key),
        json!({"email": email, "password": password}),
    )
    .await
}

/// A tenant with one API key: `(tenant id, key)`.
async fn app_with_key(app: &TestApp, name: &str) -> (String, String) {
    let tenant = create_tenant(app, name).await;
    let key = create_key(app, &tenant, "backend").await;
    (tenant, key["key"].as_str().expect("key").to_owned())
}

#[tokio::test]
async fn signup_and_login_answer_with_a_jwt_for_the_apps_user() {
    for app in TestApp::all("tenant_api_tokens").await {
        let (tenant, key) = app_with_key(&app, "blog").await;
        let (status, body) = signup(&app, &tenant, &key, "Bob@Example.com", STRONG).await;
        assert_eq!(status, StatusCode::CREATED, "{}: {body}", app.backend);
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["expires_in"], 3600);
        assert!(body.get("refresh_token").is_none());
        let identity = &body["identity"];
        assert_eq!(identity["tenant_id"], tenant.as_str());
        assert_eq!(identity["traits"]["email"], "Bob@Example.com");
        assert!(identity.get("metadata_admin").is_none());
        assert!(!body.to_string().contains(STRONG));
        let user = identity["id"].as_str().expect("id").to_owned();

        // A resource server checks the token against the JWKS, with the app id as audience.
        let validator = app.validator(&tenant).await;
        let claims = validator
            .validate(body["access_token"].as_str().expect("token"))
            .expect("a valid token for the app");
        assert_eq!(claims.subject(), user);
        assert_eq!(claims.get("tenant_id"), Some(&json!(tenant)));
        assert_eq!(claims.get("email"), Some(&json!("Bob@Example.com")));
        assert_eq!(claims.get("iss"), Some(&json!(app.issuer)));
        assert!(claims.get("exp").is_some() && claims.get("iat").is_some());
        assert!(
            app.validator("another-app")
                .await
                .validate(body["access_token"].as_str().expect("token"))
                .is_err()
        );

        // Login: any case of the address, the same identity.
        let (status, body) = login(&app, &tenant, &key, "bob@example.COM", STRONG).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["identity"]["id"], user.as_str());
        let claims = validator
            .validate(body["access_token"].as_str().expect("token"))
            .expect("valid");
        assert_eq!(claims.subject(), user);

        // A wrong password and an unknown address answer alike.
        let (wrong_status, wrong) =
            login(&app, &tenant, &key, "bob@example.com", "not-the-password-1").await;
        let (unknown_status, unknown) =
            login(&app, &tenant, &key, "nobody@example.com", STRONG).await;
        assert_eq!(wrong_status, StatusCode::UNAUTHORIZED);
        assert_eq!((wrong_status, &wrong), (unknown_status, &unknown));
        assert_eq!(wrong["error"]["id"], "invalid_credentials");

        // The key's last use is recorded; audit events name the key, never the secret.
        let (_, keys) = admin(
            &app,
            Method::GET,
            &format!("/admin/tenants/{tenant}/api-keys"),
            None,
        )
        .await;
        assert!(keys[0]["last_used_at"].is_string(), "{keys}");
        let (_, events) = admin(
            &app,
            Method::GET,
            &format!("/admin/audit-events?tenant_id={tenant}"),
            None,
        )
        .await;
        let text = events.to_string();
        for kind in [
            "registration_succeeded",
            "login_succeeded",
            "login_failed",
            "api_key_created",
        ] {
            assert!(text.contains(kind), "{kind}: {text}");
        }
        assert!(!text.contains(&key[12..]) && !text.contains(STRONG));
    }
}

#[tokio::test]
async fn the_key_is_checked_first_then_the_app_then_whose_key_it_is() {
    for app in TestApp::all("tenant_api_keys_checked").await {
        let (a, key_a) = app_with_key(&app, "a").await;
        let (b, key_b) = app_with_key(&app, "b").await;
        let body = json!({"email": "x@example.com", "password": STRONG});
        let unknown_app = "0190c3d2-0000-7000-8000-000000000000";

        let unknown_key = format!("ghk_{}", "A".repeat(43));
        for action in ["signup", "login"] {
            let (status, answer) = call(&app, action, &a, None, body.clone()).await;
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "{}: {answer}",
                app.backend
            );
            assert_eq!(answer["error"]["id"], "invalid_api_key");
            for bad in [
                "nonsense",
                "ghk_short",
                unknown_key.as_str(),
                app.admin_token.as_str(),
            ] {
                let (status, _) = call(&app, action, &a, Some(bad), body.clone()).await;
                assert_eq!(status, StatusCode::UNAUTHORIZED, "{bad}");
            }
            // Without a valid key, an unknown app is a 401 too: strangers learn no app ids.
            let (status, _) = call(&app, action, unknown_app, None, body.clone()).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED);
            for missing in [unknown_app, "not-a-uuid"] {
                let (status, answer) =
                    call(&app, action, missing, Some(&key_a), body.clone()).await;
                assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
                assert_eq!(answer["error"]["id"], "app_not_found");
            }
            let (status, answer) = call(&app, action, &b, Some(&key_a), body.clone()).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
            assert_eq!(answer["error"]["id"], "api_key_of_another_app");
        }
        // Nothing was created by the refused calls.
        let (status, _) = signup(&app, &a, &key_a, "x@example.com", STRONG).await;
        assert_eq!(status, StatusCode::CREATED);

        // A revoked key stops at once.
        let (_, keys) = admin(
            &app,
            Method::GET,
            &format!("/admin/tenants/{b}/api-keys"),
            None,
        )
        .await;
        let key_id = keys[0]["id"].as_str().expect("id");
        let (status, _) = admin(
            &app,
            Method::DELETE,
            &format!("/admin/tenants/{b}/api-keys/{key_id}"),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, _) = login(&app, &b, &key_b, "x@example.com", STRONG).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn signup_follows_the_schema_and_password_policy_and_refuses_bad_bodies() {
    for app in TestApp::all("tenant_api_input").await {
        let (tenant, key) = app_with_key(&app, "input").await;
        let cases = [
            (
                json!({"email": "not-an-address", "password": STRONG}),
                "invalid_email",
            ),
            (
                json!({"email": "ok@example.com", "password": "short"}),
                "invalid_password",
            ),
            (
                json!({"email": "ok@example.com", "password": "password123"}),
                "invalid_password",
            ),
            (
                json!({"email": "ok@example.com", "password": "ok@example.com"}),
                "invalid_password",
            ),
            (json!({"email": "", "password": STRONG}), "invalid_body"),
            (json!({"email": "ok@example.com"}), "invalid_body"),
            (
                json!({"email": "ok@example.com", "password": STRONG, "admin": true}),
                "invalid_body",
            ),
            (json!(["ok@example.com", STRONG]), "invalid_body"),
        ];
        for (body, id) in cases {
            let (status, answer) = call(&app, "signup", &tenant, Some(&key), body.clone()).await;
            assert_eq!(
                status,
                StatusCode::BAD_REQUEST,
                "{}: {body} -> {answer}",
                app.backend
            );
            assert_eq!(answer["error"]["id"], id, "{body}: {answer}");
        }
        let raw = app
            .public_request(
                Method::POST,
                &format!("/api/auth/credentials/login/{tenant}"),
            )
            .bearer_auth(&key)
            .header("content-type", "application/json")
            .body("{not json")
            .send()
            .await
            .expect("sends");
        assert_eq!(raw.status(), StatusCode::BAD_REQUEST);

        let (status, _) = signup(&app, &tenant, &key, "ok@example.com", STRONG).await;
        assert_eq!(status, StatusCode::CREATED);
        // The app's backend asked to create an account that exists: it is told (see the
        // module docs of the handler for why this is the `session_after = "registration"` rule).
        let (status, answer) = signup(
            &app,
            &tenant,
            &key,
            "OK@example.com",
            "another-Strong-pass-7",
        )
        .await;
        assert_eq!(status, StatusCode::CONFLICT, "{answer}");
        assert_eq!(answer["error"]["id"], "identifier_taken");
        let (status, _) = login(
            &app,
            &tenant,
            &key,
            "ok@example.com",
            "another-Strong-pass-7",
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "the first password stays");
    }
}

#[tokio::test]
async fn failed_logins_are_throttled_per_address_within_the_app() {
    for app in TestApp::all("tenant_api_throttle").await {
        let (a, key_a) = app_with_key(&app, "a").await;
        let (b, key_b) = app_with_key(&app, "b").await;
        for (tenant, key) in [(&a, &key_a), (&b, &key_b)] {
            let (status, _) = signup(&app, tenant, key, "eve@example.com", STRONG).await;
            assert_eq!(status, StatusCode::CREATED);
        }
        for _ in 0..5 {
            let (status, _) =
                login(&app, &a, &key_a, "eve@example.com", "wrong-password-000").await;
            assert_eq!(status, StatusCode::UNAUTHORIZED);
        }
        let response = app
            .public_request(Method::POST, &format!("/api/auth/credentials/login/{a}"))
            .bearer_auth(&key_a)
            .json(&json!({"email": "eve@example.com", "password": STRONG}))
            .send()
            .await
            .expect("sends");
        assert_eq!(
            response.status(),
            StatusCode::TOO_MANY_REQUESTS,
            "{}",
            app.backend
        );
        assert!(response.headers().contains_key("retry-after"));
        // The same address in another app is another person with its own budget.
        let (status, body) = login(&app, &b, &key_b, "eve@example.com", STRONG).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
}

#[tokio::test]
async fn two_apps_have_separate_users_and_tokens_carry_the_right_tenant() {
    for app in TestApp::all("tenant_api_isolation").await {
        let (a, key_a) = app_with_key(&app, "a").await;
        let (b, key_b) = app_with_key(&app, "b").await;

        // Created in A only: B does not know the person.
        let (status, in_a) = signup(&app, &a, &key_a, "carol@example.com", STRONG).await;
        assert_eq!(status, StatusCode::CREATED);
        let (status, answer) = login(&app, &b, &key_b, "carol@example.com", STRONG).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{answer}");
        // B's key cannot reach A's people either.
        let (status, _) = login(&app, &a, &key_b, "carol@example.com", STRONG).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "A's user through B's key");

        // The same address in B is an independent account with its own password.
        let (status, in_b) = signup(
            &app,
            &b,
            &key_b,
            "carol@example.com",
            "second-Account-pass-4",
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{in_b}");
        assert_ne!(in_a["identity"]["id"], in_b["identity"]["id"]);
        let (status, _) = login(&app, &b, &key_b, "carol@example.com", STRONG).await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "A's password does not open B's account"
        );
        let (status, from_b) = login(
            &app,
            &b,
            &key_b,
            "carol@example.com",
            "second-Account-pass-4",
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let (status, from_a) = login(&app, &a, &key_a, "carol@example.com", STRONG).await;
        assert_eq!(status, StatusCode::OK);

        for (tenant, answer) in [(&a, &from_a), (&b, &from_b)] {
            let claims = app
                .validator(tenant)
                .await
                .validate(answer["access_token"].as_str().expect("token"))
                .expect("valid for its own app");
            assert_eq!(claims.get("tenant_id"), Some(&json!(tenant)));
            assert_eq!(
                claims.subject(),
                answer["identity"]["id"].as_str().expect("id")
            );
        }
        // A token of app A is not addressed to app B.
        assert!(
            app.validator(&b)
                .await
                .validate(from_a["access_token"].as_str().expect("token"))
                .is_err()
        );
        // A's token is no key for the tenant API.
        let (status, _) = call(
            &app,
            "login",
            &a,
            from_a["access_token"].as_str(),
            json!({"email": "carol@example.com", "password": STRONG}),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);

        // The default tenant's admin identity list does not show the apps' people.
        let (_, identities) = admin(&app, Method::GET, "/admin/identities", None).await;
        assert!(
            !identities.to_string().contains("carol@example.com"),
            "{identities}"
        );
    }
}

// A client of another tenant: tenant_selfservice.rs
// (`an_oauth_client_of_another_tenant_signs_in_that_tenants_people_only`).

#[tokio::test]
async fn issue_8_a_client_moved_to_another_tenant_no_longer_serves_the_old_tenants_people() {
    for app in TestApp::all("tenant_client_moved").await {
        let (id, secret) = web_client(&app, json!({})).await;
        let (_, first_code) = authorize(&app, &id, "fay@example.com", &["offline_access"]).await;
        let (status, tokens) = exchange(
            &app,
            &id,
            &secret,
            &[("code", &first_code), ("code_verifier", VERIFIER)],
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{}: {tokens}", app.backend);
        let refresh_token = tokens["refresh_token"]
            .as_str()
            .expect("refresh")
            .to_owned();
        let (_, second_code) = authorize(&app, &id, "gil@example.com", &["offline_access"]).await;

        let other = create_tenant(&app, "new home").await;
        let (status, moved) = admin(
            &app,
            Method::PATCH,
            &format!("/admin/clients/{id}"),
            Some(json!([{"op": "replace", "path": "/tenant_id", "value": other}])),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{moved}");

        let (status, body) = exchange(
            &app,
            &id,
            &secret,
            &[("code", &second_code), ("code_verifier", VERIFIER)],
        )
        .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_grant")),
            "{body}"
        );
        let (status, body) = token_request(
            &app,
            &id,
            &secret,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &refresh_token),
            ],
        )
        .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_grant")),
            "{body}"
        );
        // The access token issued before the move is refused where it is checked online.
        let (status, _) = json_of(
            app.public_request(Method::GET, "/userinfo")
                .bearer_auth(tokens["access_token"].as_str().expect("access"))
                .send()
                .await
                .expect("sends"),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn the_end_users_address_from_the_backend_is_what_the_address_budget_counts() {
    for app in TestApp::all("tenant_api_end_user_ip").await {
        let (tenant, key) = app_with_key(&app, "busy").await;
        let attempt = |email: String, from: &'static str| {
            app.public_request(
                Method::POST,
                &format!("/api/auth/credentials/login/{tenant}"),
            )
            .bearer_auth(&key)
            .header("Gatehouse-Forwarded-For", from)
            .json(&json!({"email": email, "password": "wrong-password-000"}))
            .send()
        };
        // A spray across 20 addresses from one person's address uses up that address's budget.
        for n in 0..20 {
            let response = attempt(format!("user{n}@example.com"), "203.0.113.7")
                .await
                .expect("sends");
            assert_eq!(
                response.status(),
                StatusCode::UNAUTHORIZED,
                "{}: attempt {n}",
                app.backend
            );
        }
        let response = attempt("fresh@example.com".into(), "203.0.113.7")
            .await
            .expect("sends");
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        // Another person behind the same backend is not locked out with them.
        let response = attempt("fresh@example.com".into(), "203.0.113.8")
            .await
            .expect("sends");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
}
