//! Self-service settings: profile traits validated by the schema, a password change that needs
//! a recent sign-in, an email change that needs verification again, flows bound to their
//! identity, audit events, and the page.

use crate::selfservice::{audit_types, code_for, login, outbox, register, save_settings};
use crate::support::{Browser, TestApp, json_of};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const STRONG: &str = "correct horse battery staple 93";
const NEWER: &str = "violet tractor minds the orbit 17";

async fn settings_flow(app: &TestApp, token: &str) -> Value {
    let (status, body) = json_of(
        app.public_request(Method::GET, "/self-service/settings/api")
            .header("X-Session-Token", token)
            .send()
            .await
            .expect("sends"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{}: {body}", app.backend);
    body
}

fn node<'a>(flow: &'a Value, name: &str) -> &'a Value {
    flow["ui"]["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .find(|n| n["attributes"]["name"] == name)
        .unwrap_or_else(|| panic!("node {name} in {flow}"))
}

#[tokio::test]
async fn people_update_their_profile_within_the_schema() {
    for app in TestApp::all("settings_profile").await {
        let token = register(&app, "prof@example.com", STRONG).await;
        let flow = settings_flow(&app, &token).await;
        let id = flow["id"].as_str().expect("id").to_owned();
        assert_eq!(flow["identity"]["traits"]["email"], "prof@example.com");
        assert_eq!(
            node(&flow, "traits.first_name")["attributes"]["value"],
            "Ada"
        );
        assert_eq!(
            node(&flow, "password")["meta"]["label"]["text"],
            "New password"
        );

        let (status, body) = save_settings(&app,
            &id,
            &token,
            json!({"method": "profile", "traits": {"email": "prof@example.com", "first_name": "Grace", "website": "not a url"}}),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(
            node(&body, "traits.website")["messages"][0]["type"],
            "error"
        );

        let (status, body) = save_settings(&app,
            &id,
            &token,
            json!({"method": "profile", "traits": {"email": "prof@example.com", "first_name": "Grace", "last_name": "Hopper"}}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{}: {body}", app.backend);
        assert_eq!(body["ui"]["messages"][0]["id"], 1_050_001);
        assert_eq!(body["identity"]["traits"]["first_name"], "Grace");
        let (_, whoami) = json_of(
            app.public_request(Method::GET, "/sessions/whoami")
                .header("X-Session-Token", &token)
                .send()
                .await
                .expect("sends"),
        )
        .await;
        assert_eq!(whoami["identity"]["traits"]["last_name"], "Hopper");
        // A profile-only change needs no recent sign-in.
        app.clock.advance(time::Duration::hours(2));
        let later = settings_flow(&app, &token).await;
        let (status, body) = save_settings(&app,
            later["id"].as_str().expect("id"),
            &token,
            json!({"method": "profile", "traits": {"email": "prof@example.com", "first_name": "Amazing Grace"}}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(
            audit_types(&app)
                .await
                .iter()
                .any(|t| t == "profile_updated")
        );
    }
}

#[tokio::test]
async fn a_password_change_needs_a_sign_in_within_fifteen_minutes() {
    for app in TestApp::all("settings_privileged").await {
        let token = register(&app, "priv@example.com", STRONG).await;
        let flow = settings_flow(&app, &token).await;
        let id = flow["id"].as_str().expect("id").to_owned();
        app.clock.advance(time::Duration::minutes(16));
        let (status, body) = save_settings(
            &app,
            &id,
            &token,
            json!({"method": "password", "password": NEWER}),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{}: {body}", app.backend);
        assert_eq!(body["error"]["id"], "session_refresh_required");
        let redirect = body["redirect_browser_to"].as_str().expect("url");
        assert!(
            redirect.starts_with(&format!(
                "{}/self-service/login/browser?refresh=true",
                app.issuer
            )),
            "{redirect}"
        );
        // A weak password is refused before anything else.
        let (status, body) = save_settings(
            &app,
            &id,
            &token,
            json!({"method": "password", "password": "password"}),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

        let (status, fresh) = login(&app, "priv@example.com", STRONG).await;
        assert_eq!(status, StatusCode::OK);
        let fresh = fresh["session_token"].as_str().expect("token").to_owned();
        let (status, body) = save_settings(
            &app,
            &id,
            &fresh,
            json!({"method": "password", "password": NEWER}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, _) = login(&app, "priv@example.com", NEWER).await;
        assert_eq!(status, StatusCode::OK);
        // The older session ended with the password change.
        let response = app
            .public_request(Method::GET, "/sessions/whoami")
            .header("X-Session-Token", &token)
            .send()
            .await
            .expect("sends");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn a_new_email_address_must_be_verified_again() {
    for app in TestApp::all("settings_email").await {
        let token = register(&app, "old@example.com", STRONG).await;
        let flow = settings_flow(&app, &token).await;
        let id = flow["id"].as_str().expect("id").to_owned();
        assert_eq!(
            flow["identity"]["verifiable_addresses"][0]["verified"],
            true
        );
        let (status, body) = save_settings(&app,
            &id,
            &token,
            json!({"method": "profile", "traits": {"email": "New@Example.com", "first_name": "Ada"}}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{}: {body}", app.backend);
        let address = &body["identity"]["verifiable_addresses"][0];
        assert_eq!(address["value"], "new@example.com");
        assert_eq!(address["verified"], false);
        let next = body["continue_with"]
            .as_array()
            .expect("continue_with")
            .iter()
            .find(|c| c["action"] == "show_verification_ui")
            .expect("verification")
            .clone();
        let verification = next["flow"]["id"].as_str().expect("id").to_owned();
        assert_eq!(
            outbox(&app, "new@example.com").await[0]["template_type"],
            "verification_code"
        );
        let (status, _) = login(&app, "old@example.com", STRONG).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let (status, _) = login(&app, "new@example.com", STRONG).await;
        assert_eq!(status, StatusCode::OK);

        let code = code_for(&app, "new@example.com").await;
        let (status, body) = crate::selfservice::submit(
            &app,
            "verification",
            &verification,
            json!({"method": "code", "code": code}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let flow = settings_flow(&app, &token).await;
        assert_eq!(
            flow["identity"]["verifiable_addresses"][0]["verified"],
            true
        );

        // Another account's address is refused next to the field.
        register(&app, "taken@example.com", STRONG).await;
        let (status, body) = save_settings(
            &app,
            flow["id"].as_str().expect("id"),
            &token,
            json!({"method": "profile", "traits": {"email": "taken@example.com"}}),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(node(&body, "traits.email")["messages"][0]["id"], 4_000_007);
        let types = audit_types(&app).await;
        assert!(types.iter().any(|t| t == "email_changed"), "{types:?}");

        // Changing the address also needs a recent sign-in.
        app.clock.advance(time::Duration::minutes(20));
        let (status, body) = save_settings(
            &app,
            flow["id"].as_str().expect("id"),
            &token,
            json!({"method": "profile", "traits": {"email": "later@example.com"}}),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    }
}

#[tokio::test]
async fn a_settings_flow_belongs_to_its_identity() {
    for app in TestApp::all("settings_owner").await {
        let alice = register(&app, "alice@example.com", STRONG).await;
        let bob = register(&app, "bob@example.com", STRONG).await;
        let flow = settings_flow(&app, &alice).await;
        let id = flow["id"].as_str().expect("id").to_owned();
        let (status, body) = save_settings(&app,
            &id,
            &bob,
            json!({"method": "profile", "traits": {"email": "alice@example.com", "first_name": "Mallory"}}),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert_eq!(body["error"]["id"], "security_identity_mismatch");
        let response = app
            .public_request(
                Method::GET,
                &format!("/self-service/settings/flows?id={id}"),
            )
            .header("X-Session-Token", &bob)
            .send()
            .await
            .expect("sends");
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        let response = app
            .public_request(Method::POST, &format!("/self-service/settings?flow={id}"))
            .json(&json!({"method": "profile", "traits": {"email": "alice@example.com"}}))
            .send()
            .await
            .expect("sends");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let response = app
            .public_request(Method::GET, "/self-service/settings/api")
            .send()
            .await
            .expect("sends");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

        // A browser without a session is sent to sign in first, and back afterwards.
        let mut browser = Browser::new(&app.public);
        let start = browser.get("/self-service/settings/browser").await;
        assert_eq!(start.status, StatusCode::SEE_OTHER);
        let location = start.location.expect("location");
        assert!(
            location.contains("/self-service/login/browser?return_to="),
            "{location}"
        );
        let page = browser.get(&format!("/ui/settings?flow={id}")).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    }
}

#[tokio::test]
async fn the_settings_page_saves_traits_and_asks_to_sign_in_again_for_a_password() {
    for app in TestApp::all("settings_page").await {
        let token = register(&app, "pager@example.com", STRONG).await;
        let mut browser = Browser::new(&app.public);
        browser
            .cookies
            .insert("gatehouse_session".to_owned(), token.clone());
        let start = browser.get("/self-service/settings/browser").await;
        assert_eq!(start.status, StatusCode::SEE_OTHER);
        let page = browser.follow(start).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        for label in ["Email", "First name", "New password", "Save"] {
            assert!(page.body.contains(label), "{label}: {}", page.body);
        }
        let csrf = page.input_value("csrf_token").expect("csrf");
        let action = page.form_action().expect("action");
        let saved = browser
            .post_form(
                &action,
                &[
                    ("csrf_token", &csrf),
                    ("traits.email", "pager@example.com"),
                    ("traits.first_name", "Katherine"),
                    ("password", ""),
                    ("method", "profile"),
                ],
            )
            .await;
        assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
        let shown = browser.follow(saved).await;
        assert!(shown.body.contains("Your changes have been saved!"));
        assert_eq!(
            shown.input_value("traits.first_name").as_deref(),
            Some("Katherine")
        );

        app.clock.advance(time::Duration::minutes(30));
        let csrf = shown.input_value("csrf_token").expect("csrf");
        let again = browser
            .post_form(
                &action,
                &[
                    ("csrf_token", &csrf),
                    ("traits.email", "pager@example.com"),
                    ("traits.first_name", "Katherine"),
                    ("password", NEWER),
                    ("method", "profile"),
                ],
            )
            .await;
        assert_eq!(again.status, StatusCode::SEE_OTHER);
        let location = again.location.expect("location");
        assert!(
            location.contains("/self-service/login/browser?refresh=true&return_to="),
            "{location}"
        );
        let (status, _) = login(&app, "pager@example.com", STRONG).await;
        assert_eq!(status, StatusCode::OK, "the password did not change");
    }
}
