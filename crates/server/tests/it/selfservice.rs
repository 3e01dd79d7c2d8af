//! Self-service registration and login through the JSON API: verification-first registration,
//! no enumeration, password policy, login, throttling, flow expiry and `return_to`.

use crate::support::{TestApp, json_of};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const STRONG: &str = "correct horse battery staple 93";

pub async fn api_flow(app: &TestApp, kind: &str) -> String {
    let (status, flow) = json_of(
        app.public_request(Method::GET, &format!("/self-service/{kind}/api"))
            .send()
            .await
            .expect("sends"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{}: {flow}", app.backend);
    assert_eq!(flow["type"], "api");
    flow["id"].as_str().expect("flow id").to_owned()
}

pub async fn submit(app: &TestApp, kind: &str, flow: &str, body: Value) -> (StatusCode, Value) {
    json_of(
        app.public_request(Method::POST, &format!("/self-service/{kind}?flow={flow}"))
            .json(&body)
            .send()
            .await
            .expect("sends"),
    )
    .await
}

pub fn encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// The messages queued for `address`, newest first.
pub async fn outbox(app: &TestApp, address: &str) -> Vec<Value> {
    let (status, body) = json_of(
        app.admin_request(
            Method::GET,
            &format!("/admin/courier/messages?recipient={}", encode(address)),
        )
        .send()
        .await
        .expect("sends"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body.as_array().expect("array").clone()
}

/// A run of exactly six digits in `text`.
pub fn six_digits(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    (0..bytes.len().saturating_sub(5))
        .find(|&i| {
            bytes[i..i + 6].iter().all(u8::is_ascii_digit)
                && (i == 0 || !bytes[i - 1].is_ascii_digit())
                && bytes.get(i + 6).is_none_or(|b| !b.is_ascii_digit())
        })
        .map(|i| text[i..i + 6].to_owned())
}

/// The six-digit code in the newest message to `address` (waiting a little for it: recovery and
/// verification codes are queued just after the answer).
pub async fn code_for(app: &TestApp, address: &str) -> String {
    let mut messages = outbox(app, address).await;
    for _ in 0..100 {
        if !messages.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        messages = outbox(app, address).await;
    }
    six_digits(messages[0]["body"].as_str().expect("body"))
        .expect("a six-digit code in the message")
}

/// Waits until `address` has `count` messages (codes are queued just after the answer).
pub async fn wait_for_messages(app: &TestApp, address: &str, count: usize) {
    for _ in 0..100 {
        if outbox(app, address).await.len() >= count {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("{address} did not get {count} messages");
}

/// The newest message of `template_type` to `address` (waiting a little for it).
pub async fn message_of(app: &TestApp, address: &str, template_type: &str) -> Value {
    for _ in 0..100 {
        if let Some(message) = outbox(app, address)
            .await
            .into_iter()
            .find(|m| m["template_type"] == template_type)
        {
            return message;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("no {template_type} message to {address}")
}

/// The six-digit code in the newest message of `template_type` to `address`.
pub async fn code_of(app: &TestApp, address: &str, template_type: &str) -> String {
    let message = message_of(app, address, template_type).await;
    six_digits(message["body"].as_str().expect("body")).expect("a six-digit code in the message")
}

/// Registers `address` through the API, code included; returns the session token.
pub async fn register(app: &TestApp, address: &str, password: &str) -> String {
    let flow = api_flow(app, "registration").await;
    let (status, body) = submit(
        app,
        "registration",
        &flow,
        json!({"method": "password", "traits": {"email": address, "first_name": "Ada"}, "password": password}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{}: {body}", app.backend);
    let code = code_for(app, address).await;
    let (status, body) = submit(
        app,
        "registration",
        &flow,
        json!({"method": "code", "code": code}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{}: {body}", app.backend);
    body["session_token"].as_str().expect("token").to_owned()
}

/// Starts an API recovery or verification flow (`kind`) and asks for a code to `address`: the
/// flow id and the answer.
pub async fn request_code(app: &TestApp, kind: &str, address: &str) -> (String, StatusCode, Value) {
    let flow = api_flow(app, kind).await;
    let (status, body) = submit(
        app,
        kind,
        &flow,
        json!({"method": "code", "email": address}),
    )
    .await;
    (flow, status, body)
}

/// Submits a settings flow with a session token.
pub async fn save_settings(
    app: &TestApp,
    flow: &str,
    token: &str,
    body: Value,
) -> (StatusCode, Value) {
    json_of(
        app.public_request(Method::POST, &format!("/self-service/settings?flow={flow}"))
            .header("X-Session-Token", token)
            .json(&body)
            .send()
            .await
            .expect("sends"),
    )
    .await
}

/// The types of the newest audit events (up to 200).
pub async fn audit_types(app: &TestApp) -> Vec<String> {
    let (status, body) = json_of(
        app.admin_request(Method::GET, "/admin/audit-events?limit=200")
            .send()
            .await
            .expect("sends"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body.as_array()
        .expect("array")
        .iter()
        .map(|e| e["event_type"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Signs in through the API; the answer.
pub async fn login(app: &TestApp, address: &str, password: &str) -> (StatusCode, Value) {
    let flow = api_flow(app, "login").await;
    submit(
        app,
        "login",
        &flow,
        json!({"method": "password", "identifier": address, "password": password}),
    )
    .await
}

pub async fn whoami(app: &TestApp, token: &str) -> (StatusCode, Value) {
    json_of(
        app.public_request(Method::GET, "/sessions/whoami")
            .header("X-Session-Token", token)
            .send()
            .await
            .expect("sends"),
    )
    .await
}

/// Strips what differs between two answers of the same kind (ids, times, the address).
pub fn shape(mut value: Value) -> Value {
    fn walk(v: &mut Value) {
        match v {
            Value::Object(map) => {
                for (key, child) in map.iter_mut() {
                    if matches!(
                        key.as_str(),
                        "id" | "issued_at" | "expires_at" | "action" | "value" | "text"
                    ) {
                        *child = Value::Null;
                    } else {
                        walk(child);
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut value);
    value
}

#[tokio::test]
async fn registration_sends_a_code_and_the_code_signs_in() {
    for app in TestApp::all("reg_code").await {
        let flow = api_flow(&app, "registration").await;
        let (status, body) = submit(
            &app,
            "registration",
            &flow,
            json!({"method": "password", "traits": {"email": "Ada@Example.com", "first_name": "Ada"}, "password": STRONG}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{}: {body}", app.backend);
        assert_eq!(body["state"], "sent_email");
        assert!(
            body.get("session_token").is_none(),
            "no session before the code"
        );
        let nodes = body["ui"]["nodes"].as_array().expect("nodes");
        assert!(nodes.iter().any(|n| n["attributes"]["name"] == "code"));
        assert!(
            body["ui"]["messages"][0]["text"]
                .as_str()
                .expect("text")
                .contains("ada@example.com")
        );

        let messages = outbox(&app, "ada@example.com").await;
        assert_eq!(messages.len(), 1);
        assert_eq!(messages[0]["template_type"], "registration_code");
        assert_eq!(messages[0]["status"], "queued");

        let (status, body) = submit(
            &app,
            "registration",
            &flow,
            json!({"method": "code", "code": "000000"}),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        let code = code_for(&app, "ada@example.com").await;
        let (status, body) = submit(
            &app,
            "registration",
            &flow,
            json!({"method": "code", "code": code}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{}: {body}", app.backend);
        let token = body["session_token"].as_str().expect("session token");
        assert_eq!(body["identity"]["traits"]["email"], "Ada@Example.com");
        assert_eq!(
            body["identity"]["verifiable_addresses"][0]["verified"],
            true
        );
        assert!(body["identity"].get("metadata_admin").is_none());
        assert_eq!(body["continue_with"][0]["action"], "set_ory_session_token");
        let (status, me) = whoami(&app, token).await;
        assert_eq!(status, StatusCode::OK, "{me}");
        assert_eq!(me["identity"]["id"], body["identity"]["id"]);
        assert_eq!(me["authentication_methods"][0]["method"], "code");

        // The finished flow takes nothing more.
        let (status, _) = submit(
            &app,
            "registration",
            &flow,
            json!({"method": "code", "code": code}),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
}

#[tokio::test]
async fn registration_answers_the_same_for_a_taken_address() {
    for app in TestApp::all("reg_taken").await {
        register(&app, "taken@example.com", STRONG).await;

        let fresh = api_flow(&app, "registration").await;
        let (status_new, body_new) = submit(
            &app,
            "registration",
            &fresh,
            json!({"traits": {"email": "new@example.com"}, "password": STRONG}),
        )
        .await;
        let again = api_flow(&app, "registration").await;
        let (status_taken, body_taken) = submit(
            &app,
            "registration",
            &again,
            json!({"traits": {"email": "taken@example.com"}, "password": STRONG}),
        )
        .await;
        assert_eq!(status_new, status_taken, "{}", app.backend);
        assert_eq!(shape(body_new), shape(body_taken));

        let messages = outbox(&app, "taken@example.com").await;
        let exists = messages
            .iter()
            .find(|m| m["template_type"] == "registration_exists")
            .expect("the owner is told someone tried to register");
        assert_eq!(
            messages.len(),
            2,
            "the first registration's code and this notice"
        );
        assert!(
            six_digits(exists["body"].as_str().expect("body")).is_none(),
            "no code goes to the owner of a taken address"
        );
        // No code completes a registration for a taken address.
        for code in ["000000", "123456"] {
            let (status, body) = submit(
                &app,
                "registration",
                &again,
                json!({"method": "code", "code": code}),
            )
            .await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        }
    }
}

#[tokio::test]
async fn registration_refuses_bad_traits_and_weak_passwords_naming_the_field() {
    for app in TestApp::all("reg_policy").await {
        let flow = api_flow(&app, "registration").await;
        let field_messages = |body: &Value, name: &str| -> String {
            body["ui"]["nodes"]
                .as_array()
                .expect("nodes")
                .iter()
                .find(|n| n["attributes"]["name"] == name)
                .map(|n| n["messages"].to_string())
                .unwrap_or_default()
        };
        let (status, body) = submit(
            &app,
            "registration",
            &flow,
            json!({"traits": {"email": "not-an-address"}, "password": STRONG}),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(
            field_messages(&body, "traits.email").contains("error"),
            "{body}"
        );

        for (password, expect) in [
            ("short", "8"),
            ("password123", "guess"),
            ("weak.owner@example.com!", "address"),
        ] {
            let (status, body) = submit(
                &app,
                "registration",
                &flow,
                json!({"traits": {"email": "weak.owner@example.com"}, "password": password}),
            )
            .await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{password}: {body}");
            let text = field_messages(&body, "password");
            assert!(text.contains(expect), "{password}: {text}");
            // The typed address is kept; the password never is.
            assert!(!body.to_string().contains(password), "{body}");
        }
        // A 1,024-character password is accepted whole (no truncation).
        let long = gatehouse_domain::secret::random_token(768);
        assert_eq!(long.len(), 1024);
        let (status, body) = submit(
            &app,
            "registration",
            &flow,
            json!({"traits": {"email": "long@example.com"}, "password": long}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
}

#[tokio::test]
async fn login_answers_alike_for_an_unknown_address_and_a_wrong_password() {
    for app in TestApp::all("login").await {
        register(&app, "user@example.com", STRONG).await;

        let flow = api_flow(&app, "login").await;
        let (status, body) = submit(
            &app,
            "login",
            &flow,
            json!({"method": "password", "identifier": "USER@example.com", "password": STRONG}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{}: {body}", app.backend);
        let token = body["session_token"].as_str().expect("token");
        assert_eq!(
            body["session"]["authentication_methods"][0]["method"],
            "password"
        );
        assert_eq!(whoami(&app, token).await.0, StatusCode::OK);

        let wrong_flow = api_flow(&app, "login").await;
        let (wrong_status, wrong) = submit(
            &app,
            "login",
            &wrong_flow,
            json!({"identifier": "user@example.com", "password": "not the password at all"}),
        )
        .await;
        let unknown_flow = api_flow(&app, "login").await;
        let (unknown_status, unknown) = submit(
            &app,
            "login",
            &unknown_flow,
            json!({"identifier": "nobody@example.com", "password": "not the password at all"}),
        )
        .await;
        assert_eq!(wrong_status, StatusCode::BAD_REQUEST, "{wrong}");
        assert_eq!(wrong_status, unknown_status);
        assert_eq!(wrong["ui"]["messages"], unknown["ui"]["messages"]);
        assert_eq!(shape(wrong), shape(unknown));

        // Each login is a new session with a new token.
        let again = api_flow(&app, "login").await;
        let (_, second) = submit(
            &app,
            "login",
            &again,
            json!({"identifier": "user@example.com", "password": STRONG}),
        )
        .await;
        assert_ne!(second["session_token"], json!(token));
        assert_ne!(second["session"]["id"], body["session"]["id"]);
    }
}

#[tokio::test]
async fn an_inactive_identity_cannot_log_in() {
    for app in TestApp::all("login_inactive").await {
        let token = register(&app, "off@example.com", STRONG).await;
        let (_, me) = whoami(&app, &token).await;
        let id = me["identity"]["id"].as_str().expect("id").to_owned();
        let response = app
            .admin_request(Method::PATCH, &format!("/admin/identities/{id}"))
            .json(&json!([{"op": "replace", "path": "/state", "value": "inactive"}]))
            .send()
            .await
            .expect("sends");
        assert_eq!(response.status(), StatusCode::OK);
        let flow = api_flow(&app, "login").await;
        let (status, body) = submit(
            &app,
            "login",
            &flow,
            json!({"identifier": "off@example.com", "password": STRONG}),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["ui"]["messages"][0]["id"], 4_000_006);
    }
}

#[tokio::test]
async fn repeated_failed_logins_are_throttled_with_retry_after() {
    for app in TestApp::all("login_throttle").await {
        register(&app, "target@example.com", STRONG).await;
        let flow = api_flow(&app, "login").await;
        for _ in 0..5 {
            let (status, _) = submit(
                &app,
                "login",
                &flow,
                json!({"identifier": "target@example.com", "password": "wrong wrong wrong"}),
            )
            .await;
            assert_eq!(status, StatusCode::BAD_REQUEST);
        }
        let response = app
            .public_request(Method::POST, &format!("/self-service/login?flow={flow}"))
            .json(&json!({"identifier": "target@example.com", "password": STRONG}))
            .send()
            .await
            .expect("sends");
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        let retry: u64 = response.headers()["retry-after"]
            .to_str()
            .expect("ascii")
            .parse()
            .expect("seconds");
        assert!(retry > 0);
        // Another address from the same client is not locked out by this one's failures.
        register(&app, "other@example.com", STRONG).await;
        let (status, _) = submit(
            &app,
            "login",
            &flow,
            json!({"identifier": "other@example.com", "password": STRONG}),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
    }
}

#[tokio::test]
async fn flows_expire_and_unknown_flows_are_not_found() {
    for app in TestApp::all("flow_expiry").await {
        let flow = api_flow(&app, "login").await;
        let (status, body) = json_of(
            app.public_request(Method::GET, &format!("/self-service/login/flows?id={flow}"))
                .send()
                .await
                .expect("sends"),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["id"], flow);
        app.clock.advance(time::Duration::minutes(61));
        let (status, body) = submit(
            &app,
            "login",
            &flow,
            json!({"identifier": "a@example.com", "password": STRONG}),
        )
        .await;
        assert_eq!(status, StatusCode::GONE, "{body}");
        assert_eq!(body["error"]["id"], "self_service_flow_expired");
        let (status, _) = submit(
            &app,
            "login",
            "0190a0a0-0000-7000-8000-000000000000",
            json!({}),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = submit(&app, "login", "not-a-uuid", json!({})).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn return_to_must_be_an_allowed_url() {
    for app in TestApp::all_with("return_to", |config| {
        config.selfservice.allowed_return_urls = vec!["https://app.example/after".into()];
    })
    .await
    {
        for bad in [
            "https://evil.example/",
            "//evil.example/x",
            "https://app.example/other",
            "javascript:alert(1)",
            "https://user@app.example/after",
        ] {
            let response = app
                .public_request(
                    Method::GET,
                    &format!("/self-service/login/api?return_to={}", encode(bad)),
                )
                .send()
                .await
                .expect("sends");
            assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{bad}");
        }
        for good in ["https://app.example/after/page", "/ui/account"] {
            let (status, body) = json_of(
                app.public_request(
                    Method::GET,
                    &format!("/self-service/login/api?return_to={}", encode(good)),
                )
                .send()
                .await
                .expect("sends"),
            )
            .await;
            assert_eq!(status, StatusCode::OK, "{good}: {body}");
            assert!(
                body["return_to"]
                    .as_str()
                    .expect("kept")
                    .ends_with(good.trim_start_matches('/'))
            );
        }
    }
}

#[tokio::test]
async fn session_after_registration_signs_in_at_once_and_reports_taken_addresses() {
    for app in TestApp::all_with("reg_immediate", |config| {
        config.selfservice.session_after_registration = true;
    })
    .await
    {
        let flow = api_flow(&app, "registration").await;
        let (status, body) = submit(
            &app,
            "registration",
            &flow,
            json!({"traits": {"email": "now@example.com"}, "password": STRONG}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{}: {body}", app.backend);
        let token = body["session_token"].as_str().expect("token");
        assert_eq!(whoami(&app, token).await.0, StatusCode::OK);
        assert_eq!(
            body["identity"]["verifiable_addresses"][0]["verified"],
            false
        );

        let flow = api_flow(&app, "registration").await;
        let (status, body) = submit(
            &app,
            "registration",
            &flow,
            json!({"traits": {"email": "now@example.com"}, "password": STRONG}),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(body.to_string().contains("exists already"));
    }
}

#[tokio::test]
async fn two_concurrent_correct_codes_create_one_account() {
    for app in TestApp::all("reg_race").await {
        let flow = api_flow(&app, "registration").await;
        let (status, _) = submit(
            &app,
            "registration",
            &flow,
            json!({"traits": {"email": "race@example.com"}, "password": STRONG}),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let code = code_for(&app, "race@example.com").await;
        let body = json!({"method": "code", "code": code});
        let (a, b) = tokio::join!(
            submit(&app, "registration", &flow, body.clone()),
            submit(&app, "registration", &flow, body.clone()),
        );
        let successes = [&a, &b]
            .iter()
            .filter(|(status, _)| *status == StatusCode::OK)
            .count();
        assert_eq!(successes, 1, "{}: {a:?} {b:?}", app.backend);
        let (_, list) = json_of(
            app.admin_request(Method::GET, "/admin/identities")
                .send()
                .await
                .expect("sends"),
        )
        .await;
        let count = list.as_array().map_or_else(
            || list["identities"].as_array().map_or(0, Vec::len),
            Vec::len,
        );
        assert_eq!(count, 1, "{list}");
    }
}

#[tokio::test]
async fn the_account_lifecycle_is_audited_without_secrets() {
    for app in TestApp::all("audit_lifecycle").await {
        let token = register(&app, "audit@example.com", STRONG).await;
        let (_, me) = whoami(&app, &token).await;
        let id = me["identity"]["id"].as_str().expect("id").to_owned();
        let flow = api_flow(&app, "login").await;
        submit(
            &app,
            "login",
            &flow,
            json!({"identifier": "audit@example.com", "password": "a wrong password here"}),
        )
        .await;
        let (status, _) = submit(
            &app,
            "login",
            &flow,
            json!({"identifier": "audit@example.com", "password": STRONG}),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let response = app
            .public_request(Method::DELETE, "/self-service/logout/api")
            .json(&json!({"session_token": token}))
            .send()
            .await
            .expect("sends");
        assert_eq!(response.status(), StatusCode::NO_CONTENT);

        let (status, events) = json_of(
            app.admin_request(
                Method::GET,
                &format!("/admin/audit-events?identity_id={id}"),
            )
            .send()
            .await
            .expect("sends"),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{events}");
        let mut kinds: Vec<&str> = events
            .as_array()
            .expect("array")
            .iter()
            .map(|e| e["event_type"].as_str().expect("type"))
            .collect();
        kinds.sort_unstable();
        assert_eq!(
            kinds,
            [
                "login_failed",
                "login_succeeded",
                "logout",
                "registration_succeeded"
            ],
            "{events}"
        );
        let failed = events
            .as_array()
            .expect("array")
            .iter()
            .find(|e| e["event_type"] == "login_failed")
            .expect("failure");
        assert_eq!(failed["reason"], "wrong_password");
        let text = events.to_string();
        assert!(!text.contains(STRONG) && !text.contains("a wrong password"));
        assert!(!text.contains(&token));
    }
}

#[tokio::test]
async fn signing_in_again_must_be_as_the_signed_in_account() {
    for app in TestApp::all("login_refresh").await {
        let ada = register(&app, "ada@example.com", STRONG).await;
        register(&app, "bob@example.com", STRONG).await;
        let flow = |token: String| {
            let app = &app;
            async move {
                let (status, body) = json_of(
                    app.public_request(Method::GET, "/self-service/login/api?refresh=true")
                        .header("X-Session-Token", token)
                        .send()
                        .await
                        .expect("sends"),
                )
                .await;
                assert_eq!(status, StatusCode::OK, "{body}");
                assert_eq!(body["refresh"], true);
                body["id"].as_str().expect("id").to_owned()
            }
        };
        let other = flow(ada.clone()).await;
        let response = app
            .public_request(Method::POST, &format!("/self-service/login?flow={other}"))
            .header("X-Session-Token", &ada)
            .json(&json!({"identifier": "bob@example.com", "password": STRONG}))
            .send()
            .await
            .expect("sends");
        let (status, body) = json_of(response).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["ui"]["messages"][0]["id"], 4_000_011);

        let same = flow(ada.clone()).await;
        let response = app
            .public_request(Method::POST, &format!("/self-service/login?flow={same}"))
            .header("X-Session-Token", &ada)
            .json(&json!({"identifier": "ada@example.com", "password": STRONG}))
            .send()
            .await
            .expect("sends");
        let (status, body) = json_of(response).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_ne!(body["session_token"], json!(ada), "a fresh session");
    }
}
