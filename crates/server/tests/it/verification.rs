//! Address verification: the code sent after a registration that signs in at once, the
//! verification flow (API and pages, with the emailed link), `verified` in the admin API,
//! single-use, expiring and attempt-limited codes, and throttled resends.

use crate::selfservice::{
    api_flow, code_for, message_of, outbox, request_code, shape, submit, wait_for_messages,
};
use crate::support::{Browser, TestApp, json_of};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const STRONG: &str = "correct horse battery staple 93";

/// Creates an identity (unverified address) through the admin API; its id.
async fn admin_identity(app: &TestApp, address: &str) -> String {
    let (status, body) = json_of(
        app.admin_request(Method::POST, "/admin/identities")
            .json(&json!({
                "schema_id": "default",
                "traits": {"email": address},
                "credentials": {"password": {"config": {"password": STRONG}}},
            }))
            .send()
            .await
            .expect("sends"),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["verifiable_addresses"][0]["verified"], false);
    body["id"].as_str().expect("id").to_owned()
}

async fn admin_address(app: &TestApp, id: &str) -> Value {
    let (status, body) = json_of(
        app.admin_request(Method::GET, &format!("/admin/identities/{id}"))
            .send()
            .await
            .expect("sends"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["verifiable_addresses"][0].clone()
}

#[tokio::test]
async fn a_registration_that_signs_in_at_once_sends_a_verification_code() {
    let apps = TestApp::all_with("verify_after_registration", |c| {
        c.selfservice.session_after_registration = true;
    })
    .await;
    for app in apps {
        let flow = api_flow(&app, "registration").await;
        let (status, body) = submit(
            &app,
            "registration",
            &flow,
            json!({"method": "password", "traits": {"email": "new@example.com"}, "password": STRONG}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{}: {body}", app.backend);
        let id = body["identity"]["id"].as_str().expect("id").to_owned();
        let next = body["continue_with"]
            .as_array()
            .expect("continue_with")
            .iter()
            .find(|c| c["action"] == "show_verification_ui")
            .expect("a verification flow")
            .clone();
        assert_eq!(next["flow"]["verifiable_address"], "new@example.com");
        let verification = next["flow"]["id"].as_str().expect("id").to_owned();
        assert_eq!(
            outbox(&app, "new@example.com").await[0]["template_type"],
            "verification_code"
        );
        assert_eq!(admin_address(&app, &id).await["verified"], false);

        let code = code_for(&app, "new@example.com").await;
        let (status, body) = submit(
            &app,
            "verification",
            &verification,
            json!({"method": "code", "code": code}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{}: {body}", app.backend);
        assert_eq!(body["state"], "passed_challenge");
        assert_eq!(body["ui"]["messages"][0]["id"], 1_080_002);
        let address = admin_address(&app, &id).await;
        assert_eq!(address["verified"], true);
        assert_eq!(address["status"], "completed");
        assert!(address["verified_at"].is_string());

        // Single use.
        let (status, body) = submit(
            &app,
            "verification",
            &verification,
            json!({"method": "code", "code": code}),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["error"]["id"], "flow_completed");
    }
}

#[tokio::test]
async fn verification_answers_unknown_addresses_alike_and_limits_codes() {
    for app in TestApp::all("verify_limits").await {
        let id = admin_identity(&app, "vera@example.com").await;
        let (_, known_status, known) = request_code(&app, "verification", "vera@example.com").await;
        let (_, unknown_status, unknown) =
            request_code(&app, "verification", "nobody@example.com").await;
        assert_eq!(known_status, StatusCode::OK, "{known}");
        assert_eq!(known_status, unknown_status);
        assert_eq!(shape(known), shape(unknown));
        assert!(outbox(&app, "nobody@example.com").await.is_empty());

        // Expired after an hour.
        let (flow, _, _) = request_code(&app, "verification", "vera@example.com").await;
        let code = code_for(&app, "vera@example.com").await;
        app.clock.advance(time::Duration::minutes(61));
        let (status, body) = submit(
            &app,
            "verification",
            &flow,
            json!({"method": "code", "code": code}),
        )
        .await;
        assert!(
            status == StatusCode::BAD_REQUEST || status == StatusCode::GONE,
            "{status}: {body}"
        );
        assert_eq!(admin_address(&app, &id).await["verified"], false);

        // Five attempts.
        let (flow, _, _) = request_code(&app, "verification", "vera@example.com").await;
        let code = code_for(&app, "vera@example.com").await;
        let wrong = if code == "000000" { "111111" } else { "000000" };
        for _ in 0..5 {
            let (status, _) = submit(
                &app,
                "verification",
                &flow,
                json!({"method": "code", "code": wrong}),
            )
            .await;
            assert_eq!(status, StatusCode::BAD_REQUEST);
        }
        let (status, body) = submit(
            &app,
            "verification",
            &flow,
            json!({"method": "code", "code": code}),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["ui"]["messages"][0]["id"], 4_010_009);

        // Sending again in the same flow replaces the code; the hourly budget is ten.
        let (flow, _, _) = request_code(&app, "verification", "vera@example.com").await;
        // Four codes went to the address so far; each accepted resend adds one.
        let mut sent = 4;
        wait_for_messages(&app, "vera@example.com", sent).await;
        let mut last = StatusCode::OK;
        for _ in 0..10 {
            // Messages sort by time: one second apart, the newest is the last code sent.
            app.clock.advance(time::Duration::seconds(1));
            let (status, _) = submit(
                &app,
                "verification",
                &flow,
                json!({"method": "code", "email": "vera@example.com"}),
            )
            .await;
            last = status;
            if status == StatusCode::TOO_MANY_REQUESTS {
                break;
            }
            sent += 1;
            wait_for_messages(&app, "vera@example.com", sent).await;
        }
        assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
        let code = code_for(&app, "vera@example.com").await;
        let (status, body) = submit(
            &app,
            "verification",
            &flow,
            json!({"method": "code", "code": code}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(admin_address(&app, &id).await["verified"], true);
    }
}

#[tokio::test]
async fn a_browser_verifies_through_the_emailed_link() {
    for app in TestApp::all("verify_pages").await {
        let id = admin_identity(&app, "linky@example.com").await;
        let mut browser = Browser::new(&app.public);
        let start = browser.get("/self-service/verification/browser").await;
        let page = browser.get(&start.location.expect("location")).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        for label in ["Email", "Send code"] {
            assert!(page.body.contains(label), "{label}: {}", page.body);
        }
        let csrf = page.input_value("csrf_token").expect("csrf");
        let action = page.form_action().expect("action");
        let sent = browser
            .post_form(
                &action,
                &[
                    ("csrf_token", &csrf),
                    ("email", "linky@example.com"),
                    ("method", "code"),
                ],
            )
            .await;
        let code_page = browser.follow(sent).await;
        for label in ["Verification code", "Verify"] {
            assert!(
                code_page.body.contains(label),
                "{label}: {}",
                code_page.body
            );
        }
        let body = message_of(&app, "linky@example.com", "verification_code").await["body"]
            .as_str()
            .expect("body")
            .to_owned();
        let link = body
            .split_whitespace()
            .find(|w| w.starts_with(&format!("{}/ui/verification?flow=", app.issuer)))
            .expect("a link from the issuer")
            .to_owned();
        // Opening the link alone verifies nothing (mail scanners open links too).
        let linked = browser.get(link.trim_start_matches(&app.issuer)).await;
        assert_eq!(linked.status, StatusCode::OK);
        assert_eq!(admin_address(&app, &id).await["verified"], false);
        let code = linked.input_value("code").expect("code filled in");
        let csrf = linked.input_value("csrf_token").expect("csrf");
        let done = browser
            .post_form(
                &action,
                &[("csrf_token", &csrf), ("code", &code), ("method", "code")],
            )
            .await;
        let shown = browser.follow(done).await;
        assert!(
            shown
                .body
                .contains("You successfully verified your email address."),
            "{}",
            shown.body
        );
        assert!(shown.body.contains("Continue"));
        assert_eq!(admin_address(&app, &id).await["verified"], true);
    }
}
