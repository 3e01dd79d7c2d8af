//! Account recovery: a code by email (the same answer for unknown addresses), a privileged
//! session that lands on settings, a new password that ends every other session; expiry,
//! attempts, throttling, links built from the issuer, the admin recovery code, and the pages.

use crate::selfservice::{
    api_flow, audit_types, code_of, login, message_of, outbox, register, request_code,
    save_settings, shape, submit, wait_for_messages, whoami,
};
use crate::support::{Browser, TestApp, json_of};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const STRONG: &str = "correct horse battery staple 93";
const NEWER: &str = "violet tractor minds the orbit 17";

#[tokio::test]
async fn a_recovery_code_signs_in_and_the_new_password_ends_other_sessions() {
    for app in TestApp::all("recovery_api").await {
        let first = register(&app, "ada@example.com", STRONG).await;
        let (status, second) = login(&app, "ada@example.com", STRONG).await;
        assert_eq!(status, StatusCode::OK, "{second}");
        let second = second["session_token"].as_str().expect("token").to_owned();

        let (flow, status, body) = request_code(&app, "recovery", "Ada@Example.com").await;
        assert_eq!(status, StatusCode::OK, "{}: {body}", app.backend);
        assert_eq!(body["state"], "sent_email");
        assert_eq!(body["ui"]["messages"][0]["id"], 1_060_003);
        let labels: Vec<&str> = body["ui"]["nodes"]
            .as_array()
            .expect("nodes")
            .iter()
            .filter_map(|n| n["meta"]["label"]["text"].as_str())
            .collect();
        assert_eq!(labels, ["Recovery code", "Continue"]);
        let message = message_of(&app, "ada@example.com", "recovery_code").await;
        assert!(message["body"].as_str().expect("body").contains("recover"));
        let code = code_of(&app, "ada@example.com", "recovery_code").await;

        let wrong = if code == "000000" { "111111" } else { "000000" };
        let (status, body) = submit(
            &app,
            "recovery",
            &flow,
            json!({"method": "code", "code": wrong}),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        let code_node = body["ui"]["nodes"]
            .as_array()
            .expect("nodes")
            .iter()
            .find(|n| n["attributes"]["name"] == "code")
            .expect("code node")
            .clone();
        assert_eq!(code_node["messages"][0]["id"], 4_010_008);

        let (status, body) = submit(
            &app,
            "recovery",
            &flow,
            json!({"method": "code", "code": code}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{}: {body}", app.backend);
        let token = body["session_token"].as_str().expect("token").to_owned();
        assert_eq!(
            body["session"]["authentication_methods"][0]["method"],
            "code_recovery"
        );
        let next = body["continue_with"]
            .as_array()
            .expect("continue_with")
            .iter()
            .find(|c| c["action"] == "show_settings_ui")
            .expect("settings flow")
            .clone();
        let settings_flow = next["flow"]["id"].as_str().expect("id").to_owned();

        // The code cannot be used twice.
        let (status, body) = submit(
            &app,
            "recovery",
            &flow,
            json!({"method": "code", "code": code}),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["error"]["id"], "flow_completed");

        let (status, body) = save_settings(
            &app,
            &settings_flow,
            &token,
            json!({"method": "password", "password": NEWER}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{}: {body}", app.backend);
        assert_eq!(body["ui"]["messages"][0]["id"], 1_050_001);

        for old in [&first, &second] {
            let (status, _) = whoami(&app, old).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{}", app.backend);
        }
        let (status, _) = whoami(&app, &token).await;
        assert_eq!(status, StatusCode::OK);
        let (status, _) = login(&app, "ada@example.com", STRONG).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let (status, body) = login(&app, "ada@example.com", NEWER).await;
        assert_eq!(status, StatusCode::OK, "{body}");

        let types = audit_types(&app).await;
        for expected in [
            "recovery_requested",
            "recovery_succeeded",
            "password_changed",
        ] {
            assert!(types.iter().any(|t| t == expected), "{expected}: {types:?}");
        }
    }
}

#[tokio::test]
async fn recovery_answers_an_unknown_address_exactly_like_a_known_one() {
    for app in TestApp::all("recovery_unknown").await {
        register(&app, "known@example.com", STRONG).await;
        let (_, known_status, known) = request_code(&app, "recovery", "known@example.com").await;
        let (unknown_flow, unknown_status, unknown) =
            request_code(&app, "recovery", "nobody@example.com").await;
        assert_eq!(known_status, unknown_status);
        assert_eq!(shape(known), shape(unknown), "{}", app.backend);
        assert!(outbox(&app, "nobody@example.com").await.is_empty());
        // Any code for the unknown address is wrong in the same way.
        let (status, body) = submit(
            &app,
            "recovery",
            &unknown_flow,
            json!({"method": "code", "code": "123456"}),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        let messages: Vec<&Value> = body["ui"]["nodes"]
            .as_array()
            .expect("nodes")
            .iter()
            .flat_map(|n| n["messages"].as_array().into_iter().flatten())
            .collect();
        assert_eq!(messages[0]["id"], 4_010_008);
    }
}

#[tokio::test]
async fn recovery_codes_expire_after_fifteen_minutes_and_allow_five_attempts() {
    for app in TestApp::all("recovery_limits").await {
        register(&app, "eve@example.com", STRONG).await;
        let (flow, _, _) = request_code(&app, "recovery", "eve@example.com").await;
        let code = code_of(&app, "eve@example.com", "recovery_code").await;
        app.clock.advance(time::Duration::minutes(15));
        let (status, body) = submit(
            &app,
            "recovery",
            &flow,
            json!({"method": "code", "code": code}),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["ui"]["messages"][0]["id"], 4_060_005);

        let (flow, _, _) = request_code(&app, "recovery", "eve@example.com").await;
        let code = code_of(&app, "eve@example.com", "recovery_code").await;
        let wrong = if code == "000000" { "111111" } else { "000000" };
        for _ in 0..5 {
            let (status, _) = submit(
                &app,
                "recovery",
                &flow,
                json!({"method": "code", "code": wrong}),
            )
            .await;
            assert_eq!(status, StatusCode::BAD_REQUEST);
        }
        let (status, body) = submit(
            &app,
            "recovery",
            &flow,
            json!({"method": "code", "code": code}),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["ui"]["messages"][0]["id"], 4_010_009);
    }
}

#[tokio::test]
async fn recovery_requests_are_throttled_per_address_known_or_not() {
    for app in TestApp::all("recovery_throttle").await {
        register(&app, "busy@example.com", STRONG).await;
        for address in ["busy@example.com", "ghost@example.com"] {
            for _ in 0..10 {
                let (_, status, body) = request_code(&app, "recovery", address).await;
                assert_eq!(status, StatusCode::OK, "{body}");
            }
            let flow = api_flow(&app, "recovery").await;
            let response = app
                .public_request(Method::POST, &format!("/self-service/recovery?flow={flow}"))
                .json(&json!({"method": "code", "email": address}))
                .send()
                .await
                .expect("sends");
            assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
            let retry: u64 = response.headers()["retry-after"]
                .to_str()
                .expect("ascii")
                .parse()
                .expect("seconds");
            assert!(retry > 0 && retry <= 3600, "{retry}");
        }
        wait_for_messages(&app, "busy@example.com", 11).await;
        assert_eq!(outbox(&app, "busy@example.com").await.len(), 11);
    }
}

#[tokio::test]
async fn links_in_recovery_messages_come_from_the_issuer_never_the_host_header() {
    for app in TestApp::all("recovery_link").await {
        register(&app, "link@example.com", STRONG).await;
        let mut browser = Browser::new(&app.public);
        let start = browser.get("/self-service/recovery/browser").await;
        let page = browser.get(&start.location.expect("location")).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        for label in ["Email", "Send code"] {
            assert!(page.body.contains(label), "{label}: {}", page.body);
        }
        let csrf = page.input_value("csrf_token").expect("csrf");
        let action = page.form_action().expect("action");
        let response = app
            .http
            .post(format!(
                "{}{}",
                app.public,
                action.trim_start_matches(&app.issuer)
            ))
            .header("Host", "evil.example")
            .header("X-Forwarded-Host", "evil.example")
            .header("Cookie", browser.cookie_header())
            .form(&[
                ("csrf_token", csrf.as_str()),
                ("email", "link@example.com"),
                ("method", "code"),
            ])
            .send()
            .await
            .expect("sends");
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let body = message_of(&app, "link@example.com", "recovery_code").await["body"]
            .as_str()
            .expect("body")
            .to_owned();
        assert!(!body.contains("evil.example"), "{body}");
        assert!(
            body.contains(&format!("{}/ui/recovery?flow=", app.issuer)),
            "{body}"
        );
    }
}

#[tokio::test]
async fn a_browser_recovers_through_the_pages_and_signs_in_with_the_new_password() {
    for app in TestApp::all("recovery_pages").await {
        register(&app, "page@example.com", STRONG).await;
        let mut browser = Browser::new(&app.public);
        let start = browser.get("/self-service/recovery/browser").await;
        let page = browser.get(&start.location.expect("location")).await;
        let csrf = page.input_value("csrf_token").expect("csrf");
        let action = page.form_action().expect("action");
        let sent = browser
            .post_form(
                &action,
                &[
                    ("csrf_token", &csrf),
                    ("email", "page@example.com"),
                    ("method", "code"),
                ],
            )
            .await;
        let code_page = browser.follow(sent).await;
        assert!(
            code_page.body.contains("Recovery code"),
            "{}",
            code_page.body
        );

        // The emailed link opens the page with the code filled in; only the button uses it.
        let body = message_of(&app, "page@example.com", "recovery_code").await["body"]
            .as_str()
            .expect("body")
            .to_owned();
        let link = body
            .split_whitespace()
            .find(|w| w.contains("/ui/recovery?flow="))
            .expect("a link")
            .to_owned();
        let code = code_of(&app, "page@example.com", "recovery_code").await;
        assert!(link.ends_with(&format!("code={code}")), "{link}");
        let linked = browser.get(link.trim_start_matches(&app.issuer)).await;
        assert_eq!(linked.status, StatusCode::OK, "{}", linked.body);
        assert_eq!(linked.input_value("code").as_deref(), Some(code.as_str()));

        let csrf = linked.input_value("csrf_token").expect("csrf");
        let done = browser
            .post_form(
                &action,
                &[("csrf_token", &csrf), ("code", &code), ("method", "code")],
            )
            .await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
        let location = done.location.clone().expect("location");
        assert!(location.contains("/ui/settings?flow="), "{location}");
        let settings = browser.follow(done).await;
        assert_eq!(settings.status, StatusCode::OK, "{}", settings.body);
        for label in ["New password", "Save", "First name"] {
            assert!(settings.body.contains(label), "{label}: {}", settings.body);
        }
        assert_eq!(
            settings.input_value("traits.email").as_deref(),
            Some("page@example.com")
        );
        let csrf = settings.input_value("csrf_token").expect("csrf");
        let save_action = settings.form_action().expect("action");
        let saved = browser
            .post_form(
                &save_action,
                &[
                    ("csrf_token", &csrf),
                    ("traits.email", "page@example.com"),
                    ("traits.first_name", "Ada"),
                    ("password", NEWER),
                    ("method", "profile"),
                ],
            )
            .await;
        assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
        let shown = browser.follow(saved).await;
        assert!(
            shown.body.contains("Your changes have been saved!"),
            "{}",
            shown.body
        );
        let (status, _) = login(&app, "page@example.com", NEWER).await;
        assert_eq!(status, StatusCode::OK);
    }
}

#[tokio::test]
async fn support_staff_create_a_recovery_code_and_link() {
    for app in TestApp::all("recovery_admin").await {
        let id = app.insert_identity("staffhelp@example.com").await;
        let (status, body) = json_of(
            app.admin_request(Method::POST, "/admin/recovery/code")
                .json(&json!({"identity_id": id, "expires_in": "1h"}))
                .send()
                .await
                .expect("sends"),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{}: {body}", app.backend);
        let link = body["recovery_link"].as_str().expect("link").to_owned();
        let code = body["recovery_code"].as_str().expect("code").to_owned();
        assert!(link.starts_with(&format!("{}/ui/recovery?flow=", app.issuer)));
        assert_eq!(code.len(), 6);

        // Valid for the hour asked, beyond the usual fifteen minutes.
        app.clock.advance(time::Duration::minutes(30));
        let mut browser = Browser::new(&app.public);
        let page = browser.get(link.trim_start_matches(&app.issuer)).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let csrf = page.input_value("csrf_token").expect("csrf");
        let action = page.form_action().expect("action");
        let done = browser
            .post_form(
                &action,
                &[("csrf_token", &csrf), ("code", &code), ("method", "code")],
            )
            .await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
        assert!(
            done.location
                .as_deref()
                .is_some_and(|l| l.contains("/ui/settings?flow="))
        );

        for (body, expected) in [
            (
                json!({"identity_id": uuid::Uuid::new_v4()}),
                StatusCode::NOT_FOUND,
            ),
            (
                json!({"identity_id": id, "expires_in": "-5m"}),
                StatusCode::BAD_REQUEST,
            ),
            (
                json!({"identity_id": "not-a-uuid"}),
                StatusCode::BAD_REQUEST,
            ),
            (json!({}), StatusCode::BAD_REQUEST),
        ] {
            let response = app
                .admin_request(Method::POST, "/admin/recovery/code")
                .json(&body)
                .send()
                .await
                .expect("sends");
            assert_eq!(response.status(), expected, "{body}");
        }
        let types = audit_types(&app).await;
        assert!(
            types.iter().any(|t| t == "recovery_code_created"),
            "{types:?}"
        );
    }
}
