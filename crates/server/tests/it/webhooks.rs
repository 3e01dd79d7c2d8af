//! Web hooks against a real HTTP receiver started in the test (axum on 127.0.0.1:0), which
//! records every request and answers from a script: asynchronous deliveries with their signature,
//! retries and abandonment; blocking hooks that let a flow through, veto it (messages on the
//! form, in JSON and on the page) or fail closed; and the refusal of private addresses. Payloads
//! are Kratos-style Jsonnet programs (one shaped like Ory Kratos' documented registration hook,
//! one that cancels), and one hook keeps a minijinja template.

use crate::support::{Browser, TestApp, json_of};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use gatehouse::config::Config;
use gatehouse_domain::secret::Secret;
use gatehouse_domain::webhook::{WebhookEvent, WebhookMode};
use gatehouse_web::webhooks::{PayloadFormat, WebhookConfig};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const STRONG: &str = "correct horse battery staple 93";
const SECRET: &str = "webhook-secret-0123456789";

/// One request as the receiver saw it.
#[derive(Debug, Clone)]
struct Received {
    headers: HeaderMap,
    body: String,
}

/// An HTTP receiver: answers with the scripted `(status, body)` pairs in order, then with
/// `fallback`; waits `delay` before each answer.
#[derive(Clone)]
struct Receiver {
    received: Arc<Mutex<Vec<Received>>>,
    script: Arc<Mutex<VecDeque<(u16, String)>>>,
    fallback: (u16, String),
    delay: Duration,
}

impl Receiver {
    async fn start(
        script: &[(u16, &str)],
        fallback: (u16, &str),
        delay: Duration,
    ) -> (SocketAddr, Self) {
        let receiver = Self {
            received: Arc::default(),
            script: Arc::new(Mutex::new(
                script.iter().map(|(s, b)| (*s, (*b).to_owned())).collect(),
            )),
            fallback: (fallback.0, fallback.1.to_owned()),
            delay,
        };
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(answer))
            .with_state(receiver.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binds");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        (addr, receiver)
    }

    async fn ok() -> (SocketAddr, Self) {
        Self::start(&[], (200, "{}"), Duration::ZERO).await
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().expect("not poisoned").clone()
    }
}

async fn answer(
    State(receiver): State<Receiver>,
    headers: HeaderMap,
    body: Bytes,
) -> (AxumStatus, String) {
    receiver
        .received
        .lock()
        .expect("not poisoned")
        .push(Received {
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        });
    let (status, body) = receiver
        .script
        .lock()
        .expect("not poisoned")
        .pop_front()
        .unwrap_or_else(|| receiver.fallback.clone());
    tokio::time::sleep(receiver.delay).await;
    (AxumStatus::from_u16(status).expect("status"), body)
}

fn hook(id: &str, event: WebhookEvent, addr: SocketAddr, mode: WebhookMode) -> WebhookConfig {
    WebhookConfig {
        id: id.to_owned(),
        events: vec![event],
        url: url::Url::parse(&format!("http://{addr}/hook")).expect("url"),
        secret: Secret::new(SECRET),
        mode,
        payload: None,
        payload_format: PayloadFormat::Jsonnet,
        timeout: Duration::from_secs(5),
        max_attempts: 8,
    }
}

/// Hooks on, loopback receivers allowed, quick polling, registration that signs in at once.
fn configure(config: &mut Config, hooks: Vec<WebhookConfig>) {
    config.webhooks.hooks = hooks;
    config.webhooks.targets.allow_private = true;
    config.webhooks.poll_interval = Duration::from_millis(50);
    config.selfservice.session_after_registration = true;
}

async fn api_flow(app: &TestApp, kind: &str) -> String {
    let (_, flow) = json_of(
        app.public_request(Method::GET, &format!("/self-service/{kind}/api"))
            .send()
            .await
            .expect("sends"),
    )
    .await;
    flow["id"].as_str().expect("flow id").to_owned()
}

async fn submit(app: &TestApp, kind: &str, body: Value) -> (StatusCode, Value) {
    let flow = api_flow(app, kind).await;
    json_of(
        app.public_request(Method::POST, &format!("/self-service/{kind}?flow={flow}"))
            .json(&body)
            .send()
            .await
            .expect("sends"),
    )
    .await
}

async fn register(app: &TestApp, address: &str) -> (StatusCode, Value) {
    submit(
        app,
        "registration",
        json!({"method": "password", "traits": {"email": address}, "password": STRONG}),
    )
    .await
}

async fn login(app: &TestApp, address: &str) -> (StatusCode, Value) {
    submit(
        app,
        "login",
        json!({"method": "password", "identifier": address, "password": STRONG}),
    )
    .await
}

async fn create_identity(app: &TestApp, address: &str) {
    let response = app
        .admin_request(Method::POST, "/admin/identities")
        .json(&json!({"traits": {"email": address}, "credentials": {"password": {"config": {"password": STRONG}}}}))
        .send()
        .await
        .expect("sends");
    assert_eq!(response.status(), StatusCode::CREATED, "{}", app.backend);
}

async fn identity_count(app: &TestApp) -> usize {
    let (_, list) = json_of(
        app.admin_request(Method::GET, "/admin/identities")
            .send()
            .await
            .expect("sends"),
    )
    .await;
    list.as_array().map_or(0, Vec::len)
}

async fn deliveries(app: &TestApp, query: &str) -> Vec<Value> {
    let (status, list) = json_of(
        app.admin_request(Method::GET, &format!("/admin/webhooks/deliveries{query}"))
            .send()
            .await
            .expect("sends"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    list.as_array().cloned().unwrap_or_default()
}

/// Polls `check` every 50 ms for up to 10 s.
async fn within_10s(mut check: impl AsyncFnMut() -> bool) -> bool {
    for _ in 0..200 {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// The delivery of hook `id`, once it has `status`.
async fn delivery_with_status(app: &TestApp, id: &str, status: &str, advance: bool) -> Value {
    let mut found = None;
    let reached = within_10s(async || {
        if advance {
            app.clock.advance(time::Duration::hours(2));
        }
        let list = deliveries(app, &format!("?webhook_id={id}")).await;
        found = list.first().cloned();
        found.as_ref().is_some_and(|d| d["status"] == status)
    })
    .await;
    assert!(
        reached,
        "{}: delivery {id} never became {status}: {found:?}",
        app.backend
    );
    found.expect("found")
}

/// Checks `X-Gatehouse-Signature` the way a receiver would.
fn signature_is_valid(headers: &HeaderMap, body: &str) -> bool {
    let Some(header) = headers
        .get("x-gatehouse-signature")
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let Some((t, v1)) = header
        .strip_prefix("t=")
        .and_then(|rest| rest.split_once(",v1="))
    else {
        return false;
    };
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, SECRET.as_bytes());
    let tag = aws_lc_rs::hmac::sign(&key, format!("{t}.{body}").as_bytes());
    let hex: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    t.parse::<i64>().is_ok() && v1 == hex
}

#[tokio::test]
async fn async_registration_hooks_deliver_a_signed_body_from_the_template() {
    let (addr, receiver) = Receiver::ok().await;
    for app in TestApp::all_with("webhooks_async", |config| {
        let mut crm = hook("crm", WebhookEvent::RegistrationAfter, addr, WebhookMode::Async);
        crm.payload = Some(
            "function(ctx) {\n  user: ctx.identity.id,\n  email: ctx.identity.traits.email,\n  event: ctx.event,\n  flow_type: ctx.flow.type,\n  session: ctx.session.id,\n}\n".to_owned(),
        );
        configure(config, vec![crm]);
    })
    .await
    {
        let address = format!("async-{}@example.com", app.backend);
        let (status, body) = register(&app, &address).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let identity_id = body["identity"]["id"].as_str().expect("id").to_owned();
        let token = body["session_token"].as_str().expect("token").to_owned();

        let delivery = delivery_with_status(&app, "crm", "delivered", false).await;
        let request = receiver
            .received()
            .into_iter()
            .find(|r| r.body.contains(&address))
            .expect("the receiver got the hook");
        let sent: Value = serde_json::from_str(&request.body).expect("a JSON body");
        assert_eq!(sent["user"], identity_id.as_str());
        assert_eq!(sent["email"], address.as_str());
        assert_eq!(sent["event"], "registration.after");
        assert_eq!(sent["flow_type"], "api");
        assert!(sent["session"].is_string(), "{sent}");
        assert!(!request.body.contains(&token), "no session token in a payload");
        assert!(signature_is_valid(&request.headers, &request.body), "{:?}", request.headers);
        let header = |name: &str| {
            request.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
        };
        assert_eq!(header("content-type"), "application/json");
        assert_eq!(header("user-agent"), "Gatehouse");
        assert_eq!(header("x-gatehouse-event"), "registration.after");
        assert_eq!(header("x-gatehouse-delivery"), delivery["id"].as_str().expect("id"));

        assert_eq!(delivery["attempts"], 1);
        assert_eq!(delivery["last_status_code"], 200);
        assert_eq!(delivery["event"], "registration.after");
        assert_eq!(delivery["mode"], "async");
        assert_eq!(delivery["body"], request.body.as_str());
        let (status, one) = json_of(
            app.admin_request(
                Method::GET,
                &format!("/admin/webhooks/deliveries/{}", delivery["id"].as_str().expect("id")),
            )
            .send()
            .await
            .expect("sends"),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(one["status"], "delivered");
        assert_eq!(deliveries(&app, "?status=delivered&event=registration.after").await.len(), 1);
        assert!(deliveries(&app, "?status=abandoned").await.is_empty());

        let (status, hooks) = json_of(
            app.admin_request(Method::GET, "/admin/webhooks").send().await.expect("sends"),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(hooks[0]["id"], "crm");
        assert_eq!(hooks[0]["events"], json!(["registration.after"]));
        assert_eq!(hooks[0]["mode"], "async");
        assert!(!hooks.to_string().contains(SECRET), "{hooks}");
        let (status, _) = json_of(
            app.admin_request(Method::GET, "/admin/webhooks/deliveries?status=sent")
                .send()
                .await
                .expect("sends"),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
}

#[tokio::test]
async fn a_failed_delivery_is_retried_after_the_back_off() {
    // The backends run one after the other: each gets a 500, then a 200.
    let (addr, receiver) = Receiver::start(
        &[(500, "oops"), (200, "{}"), (500, "oops")],
        (200, "{}"),
        Duration::ZERO,
    )
    .await;
    for app in TestApp::all_with("webhooks_retry", |config| {
        configure(
            config,
            vec![hook(
                "crm",
                WebhookEvent::RegistrationAfter,
                addr,
                WebhookMode::Async,
            )],
        );
    })
    .await
    {
        let address = format!("retry-{}@example.com", app.backend);
        assert_eq!(register(&app, &address).await.0, StatusCode::OK);
        let failed = delivery_with_status(&app, "crm", "failed", false).await;
        assert_eq!(failed["attempts"], 1);
        assert_eq!(failed["last_status_code"], 500);
        assert_eq!(failed["last_error"], "the receiver answered 500");
        // Due again once the clock passes the back-off.
        let delivered = delivery_with_status(&app, "crm", "delivered", true).await;
        assert_eq!(delivered["attempts"], 2);
        assert_eq!(delivered["last_error"], Value::Null);
        let tries = receiver
            .received()
            .into_iter()
            .filter(|r| r.body.contains(&address))
            .count();
        assert_eq!(tries, 2);
    }
}

#[tokio::test]
async fn a_delivery_is_abandoned_after_its_last_attempt() {
    let (addr, receiver) = Receiver::start(&[], (503, "down"), Duration::ZERO).await;
    for app in TestApp::all_with("webhooks_abandon", |config| {
        let mut crm = hook(
            "crm",
            WebhookEvent::RegistrationAfter,
            addr,
            WebhookMode::Async,
        );
        crm.max_attempts = 3;
        configure(config, vec![crm]);
    })
    .await
    {
        let address = format!("abandon-{}@example.com", app.backend);
        assert_eq!(register(&app, &address).await.0, StatusCode::OK);
        let abandoned = delivery_with_status(&app, "crm", "abandoned", true).await;
        assert_eq!(abandoned["attempts"], 3);
        assert_eq!(abandoned["last_status_code"], 503);
        // No attempt after the last.
        app.clock.advance(time::Duration::days(1));
        tokio::time::sleep(Duration::from_millis(300)).await;
        let tries = receiver
            .received()
            .into_iter()
            .filter(|r| r.body.contains(&address))
            .count();
        assert_eq!(tries, 3, "{}", app.backend);
    }
}

const KRATOS_VETO: &str = r##"{"messages": [{"instance_ptr": "#/traits/email", "messages": [{"id": 123, "text": "This address is on our block list.", "type": "error"}]}]}"##;

#[tokio::test]
async fn a_blocking_hook_vetoes_registration_with_messages_next_to_the_field() {
    let (addr, _receiver) = Receiver::start(&[], (400, KRATOS_VETO), Duration::ZERO).await;
    for app in TestApp::all_with("webhooks_veto", |config| {
        configure(
            config,
            vec![hook(
                "gate",
                WebhookEvent::RegistrationAfter,
                addr,
                WebhookMode::Blocking,
            )],
        );
    })
    .await
    {
        let (status, flow) = register(&app, &format!("veto-{}@example.com", app.backend)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{flow}");
        let email = flow["ui"]["nodes"]
            .as_array()
            .expect("nodes")
            .iter()
            .find(|n| n["attributes"]["name"] == "traits.email")
            .expect("the email field")
            .clone();
        assert_eq!(
            email["messages"],
            json!([{"id": 123, "text": "This address is on our block list.", "type": "error"}])
        );
        assert_eq!(
            identity_count(&app).await,
            0,
            "{}: no identity",
            app.backend
        );
        let vetoed = deliveries(&app, "?webhook_id=gate").await;
        assert_eq!(vetoed[0]["status"], "vetoed");
        assert_eq!(vetoed[0]["mode"], "blocking");
        assert_eq!(vetoed[0]["last_status_code"], 400);
    }
}

#[tokio::test]
async fn a_vetoed_browser_registration_shows_the_message_on_the_page() {
    let (addr, _receiver) = Receiver::start(&[], (400, KRATOS_VETO), Duration::ZERO).await;
    // Verification first: the hook runs when the code comes back, and the form starts over.
    for app in TestApp::all_with("webhooks_veto_page", |config| {
        configure(
            config,
            vec![hook(
                "gate",
                WebhookEvent::RegistrationAfter,
                addr,
                WebhookMode::Blocking,
            )],
        );
        config.selfservice.session_after_registration = false;
    })
    .await
    {
        let address = format!("page-{}@example.com", app.backend);
        let mut browser = Browser::new(&app.public);
        let start = browser.get("/self-service/registration/browser").await;
        let page = browser.follow(start).await;
        let csrf = page.input_value("csrf_token").expect("csrf");
        let action = page.form_action().expect("action");
        let sent = browser
            .post_form(
                &action,
                &[
                    ("csrf_token", &csrf),
                    ("traits.email", &address),
                    ("password", STRONG),
                    ("method", "password"),
                ],
            )
            .await;
        let code_page = browser.follow(sent).await;
        let code = crate::selfservice::code_for(&app, &address).await;
        let csrf = code_page.input_value("csrf_token").expect("csrf");
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
                .is_some_and(|l| l.starts_with("/ui/registration?flow=")),
            "{:?}",
            done.location
        );
        assert!(!browser.cookies.contains_key("gatehouse_session"));
        let page = browser.follow(done).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(
            page.body.contains("This address is on our block list."),
            "{}",
            page.body
        );
        assert!(
            page.body.contains("Sign up"),
            "the form is shown again: {}",
            page.body
        );
        assert_eq!(identity_count(&app).await, 0);
    }
}

#[tokio::test]
async fn a_blocking_hook_that_answers_2xx_lets_registration_through() {
    let (addr, receiver) = Receiver::ok().await;
    for app in TestApp::all_with("webhooks_pass", |config| {
        let mut gate = hook(
            "gate",
            WebhookEvent::RegistrationAfter,
            addr,
            WebhookMode::Blocking,
        );
        gate.payload = Some(
            "function(ctx) { event: ctx.event, identity: { id: ctx.identity.id, email: ctx.identity.traits.email }, session: ctx.session }".to_owned(),
        );
        configure(config, vec![gate]);
    })
    .await
    {
        let address = format!("pass-{}@example.com", app.backend);
        let (status, body) = register(&app, &address).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body["session_token"].is_string());
        let request = receiver
            .received()
            .into_iter()
            .find(|r| r.body.contains(&address))
            .expect("called before completion");
        assert!(signature_is_valid(&request.headers, &request.body));
        let sent: Value = serde_json::from_str(&request.body).expect("json");
        assert_eq!(sent["event"], "registration.after");
        assert_eq!(sent["identity"]["id"], body["identity"]["id"]);
        assert_eq!(sent["session"], Value::Null, "no session before completion");
        assert_eq!(
            deliveries(&app, "?webhook_id=gate").await[0]["status"],
            "delivered"
        );
    }
}

#[tokio::test]
async fn a_blocking_hook_that_fails_or_times_out_fails_closed() {
    let (failing, _) = Receiver::start(&[], (502, "bad gateway"), Duration::ZERO).await;
    let (slow, _) = Receiver::start(&[], (200, "{}"), Duration::from_secs(3)).await;
    for (name, addr) in [("failing", failing), ("slow", slow)] {
        for app in TestApp::all_with(&format!("webhooks_closed_{name}"), |config| {
            let mut gate = hook(
                "gate",
                WebhookEvent::RegistrationAfter,
                addr,
                WebhookMode::Blocking,
            );
            gate.timeout = Duration::from_millis(300);
            configure(config, vec![gate]);
        })
        .await
        {
            let (status, flow) =
                register(&app, &format!("{name}-{}@example.com", app.backend)).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{name}: {flow}");
            let text = flow["ui"]["messages"][0]["text"]
                .as_str()
                .unwrap_or_default();
            assert!(
                text.contains("could not be completed right now"),
                "{name}: {flow}"
            );
            assert!(
                !flow.to_string().contains(&addr.to_string()),
                "no target in the answer: {flow}"
            );
            assert_eq!(identity_count(&app).await, 0);
            let failed = &deliveries(&app, "?webhook_id=gate").await[0];
            assert_eq!(failed["status"], "failed", "{name}");
            let error = failed["last_error"].as_str().unwrap_or_default();
            let expected = if name == "slow" {
                "did not answer within 300 ms"
            } else {
                "answered 502"
            };
            assert!(error.contains(expected), "{name}: {error}");
        }
    }
}

#[tokio::test]
async fn login_hooks_run_async_after_and_can_veto_before() {
    let (addr, receiver) = Receiver::ok().await;
    let (gate_addr, _) = Receiver::start(
        &[],
        (
            403,
            r#"{"error": "forbidden", "message": "This account is under review."}"#,
        ),
        Duration::ZERO,
    )
    .await;
    for app in TestApp::all_with("webhooks_login", |config| {
        // The one minijinja template: expressions print JSON.
        let mut audit = hook("audit", WebhookEvent::LoginAfter, addr, WebhookMode::Async);
        audit.payload = Some(
            r#"{"event": {{ ctx.event }}, "session": {"id": {{ ctx.session.id }}}, "flow": {"kind": {{ ctx.flow.kind }}}, "email": {{ ctx.identity.traits.email }}}"#.to_owned(),
        );
        audit.payload_format = PayloadFormat::Minijinja;
        configure(config, vec![audit]);
    })
    .await
    {
        let address = format!("login-{}@example.com", app.backend);
        create_identity(&app, &address).await;
        let (status, body) = login(&app, &address).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let session_id = body["session"]["id"].as_str().expect("session").to_owned();
        delivery_with_status(&app, "audit", "delivered", false).await;
        let request = receiver
            .received()
            .into_iter()
            .find(|r| r.body.contains(&address))
            .expect("the login hook arrived");
        let sent: Value = serde_json::from_str(&request.body).expect("json");
        assert_eq!(sent["event"], "login.after");
        assert_eq!(sent["session"]["id"], session_id.as_str());
        assert_eq!(sent["flow"]["kind"], "login");
        assert!(
            !request
                .body
                .contains(body["session_token"].as_str().expect("token"))
        );
    }
    for app in TestApp::all_with("webhooks_login_veto", |config| {
        configure(
            config,
            vec![hook(
                "gate",
                WebhookEvent::LoginAfter,
                gate_addr,
                WebhookMode::Blocking,
            )],
        );
    })
    .await
    {
        let address = format!("review-{}@example.com", app.backend);
        create_identity(&app, &address).await;
        let (status, flow) = login(&app, &address).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{flow}");
        assert_eq!(
            flow["ui"]["messages"][0]["text"],
            "This account is under review."
        );
        assert!(flow.get("session_token").is_none());
        let (_, sessions) = json_of(
            app.admin_request(Method::GET, "/admin/sessions")
                .send()
                .await
                .expect("sends"),
        )
        .await;
        assert_eq!(sessions.as_array().map_or(0, Vec::len), 0, "{sessions}");
        assert_eq!(
            deliveries(&app, "?webhook_id=gate").await[0]["status"],
            "vetoed"
        );
    }
}

/// Shaped like the registration hook body in Ory Kratos' documentation, used unchanged.
const KRATOS_REGISTRATION_BODY: &str = r#"function(ctx) {
  userId: ctx.identity.id,
  traits: {
    email: ctx.identity.traits.email,
  },
  // Optional parts are looked up with std.objectHas, as Kratos templates do.
  [if std.objectHas(ctx.identity.traits, "name") then "name"]: ctx.identity.traits.name,
  schema: ctx.identity.schema_id,
  verifiable: [a.value for a in ctx.identity.verifiable_addresses],
  flowId: ctx.flow.id,
  requestUrl: ctx.request_url,
  method: ctx.request_method,
}
"#;

#[tokio::test]
async fn a_kratos_registration_template_runs_unchanged() {
    let (addr, receiver) = Receiver::ok().await;
    for app in TestApp::all_with("webhooks_kratos", |config| {
        let mut crm = hook(
            "crm",
            WebhookEvent::RegistrationAfter,
            addr,
            WebhookMode::Async,
        );
        crm.payload = Some(KRATOS_REGISTRATION_BODY.to_owned());
        configure(config, vec![crm]);
    })
    .await
    {
        let address = format!("kratos-{}@example.com", app.backend);
        let (status, body) = register(&app, &address).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        delivery_with_status(&app, "crm", "delivered", false).await;
        let request = receiver
            .received()
            .into_iter()
            .find(|r| r.body.contains(&address))
            .expect("the receiver got the hook");
        assert!(signature_is_valid(&request.headers, &request.body));
        let sent: Value = serde_json::from_str(&request.body).expect("a JSON body");
        assert_eq!(sent["userId"], body["identity"]["id"], "{}", app.backend);
        assert_eq!(sent["traits"], json!({"email": address}));
        assert!(sent.get("name").is_none(), "{sent}");
        assert_eq!(sent["schema"], body["identity"]["schema_id"]);
        assert_eq!(sent["verifiable"], json!([address]));
        assert!(sent["flowId"].is_string(), "{sent}");
        assert_eq!(sent["method"], "POST");
        assert!(
            sent["requestUrl"]
                .as_str()
                .is_some_and(|u| u.contains("/self-service/registration?flow=")),
            "{sent}"
        );
    }
}

#[tokio::test]
async fn a_jsonnet_template_can_cancel_a_call_and_one_that_fails_fails_closed() {
    let (addr, receiver) = Receiver::ok().await;
    let (gate_addr, _) = Receiver::ok().await;
    for app in TestApp::all_with("webhooks_jsonnet_cancel", |config| {
        // As in Kratos: `error "cancel"` sends nothing for that event.
        let mut crm = hook("crm", WebhookEvent::RegistrationAfter, addr, WebhookMode::Async);
        crm.payload = Some(
            r#"function(ctx)
  if std.endsWith(ctx.identity.traits.email, "@internal.example") then error "cancel"
  else { email: ctx.identity.traits.email }"#
                .to_owned(),
        );
        // Evaluates for the sample context at start-up, fails for one address at run time.
        let mut gate = hook(
            "gate",
            WebhookEvent::RegistrationAfter,
            gate_addr,
            WebhookMode::Blocking,
        );
        gate.payload = Some(
            r#"function(ctx)
  if std.startsWith(ctx.identity.traits.email, "broken-") then error "no payload for " + ctx.identity.traits.email
  else { email: ctx.identity.traits.email }"#
                .to_owned(),
        );
        configure(config, vec![crm, gate]);
    })
    .await
    {
        let internal = format!("staff-{}@internal.example", app.backend);
        let (status, body) = register(&app, &internal).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let outside = format!("outside-{}@example.com", app.backend);
        let (status, body) = register(&app, &outside).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        delivery_with_status(&app, "crm", "delivered", false).await;
        let crm = deliveries(&app, "?webhook_id=crm").await;
        assert_eq!(crm.len(), 1, "only the outside address: {crm:?}");
        assert!(crm[0]["body"].as_str().is_some_and(|b| b.contains(&outside)));
        assert!(
            !receiver.received().iter().any(|r| r.body.contains(&internal)),
            "a cancelled call is not sent"
        );

        let broken = format!("broken-{}@example.com", app.backend);
        let before = identity_count(&app).await;
        let (status, flow) = register(&app, &broken).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{flow}");
        assert!(
            flow["ui"]["messages"][0]["text"]
                .as_str()
                .is_some_and(|t| t.contains("could not be completed right now")),
            "{flow}"
        );
        assert_eq!(identity_count(&app).await, before);
        let failed = deliveries(&app, "?webhook_id=gate&status=failed").await;
        assert_eq!(failed.len(), 1, "{failed:?}");
        let error = failed[0]["last_error"].as_str().unwrap_or_default();
        assert!(
            error.contains("payload template failed") && error.contains("no payload for"),
            "{error}"
        );
    }
}

#[tokio::test]
async fn private_targets_are_refused_unless_allowed() {
    let (addr, receiver) = Receiver::ok().await;
    for app in TestApp::all_with("webhooks_private", |config| {
        configure(
            config,
            vec![
                hook(
                    "crm",
                    WebhookEvent::RegistrationAfter,
                    addr,
                    WebhookMode::Async,
                ),
                hook(
                    "gate",
                    WebhookEvent::LoginAfter,
                    addr,
                    WebhookMode::Blocking,
                ),
            ],
        );
        config.webhooks.targets.allow_private = false;
    })
    .await
    {
        let address = format!("private-{}@example.com", app.backend);
        assert_eq!(register(&app, &address).await.0, StatusCode::OK);
        let abandoned = delivery_with_status(&app, "crm", "abandoned", false).await;
        assert_eq!(abandoned["attempts"], 1);
        let error = abandoned["last_error"].as_str().unwrap_or_default();
        assert!(
            error.contains("private") && error.contains("allow_private_networks"),
            "{error}"
        );

        let (status, flow) = login(&app, &address).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{flow}");
        assert!(
            flow["ui"]["messages"][0]["text"]
                .as_str()
                .is_some_and(|t| t.contains("could not be completed right now")),
            "{flow}"
        );
        let failed = &deliveries(&app, "?webhook_id=gate").await[0];
        assert_eq!(failed["status"], "failed");
        assert!(
            failed["last_error"]
                .as_str()
                .is_some_and(|e| e.contains("private"))
        );
        assert!(
            receiver
                .received()
                .iter()
                .all(|r| !r.body.contains(&address))
        );
    }
}

#[tokio::test]
async fn names_that_resolve_to_loopback_are_refused_too() {
    let (addr, receiver) = Receiver::ok().await;
    for app in TestApp::all_with("webhooks_private_name", |config| {
        let mut crm = hook(
            "crm",
            WebhookEvent::RegistrationAfter,
            addr,
            WebhookMode::Async,
        );
        crm.url = url::Url::parse(&format!("http://localhost:{}/hook", addr.port())).expect("url");
        configure(config, vec![crm]);
        config.webhooks.targets.allow_private = false;
    })
    .await
    {
        let address = format!("name-{}@example.com", app.backend);
        assert_eq!(register(&app, &address).await.0, StatusCode::OK);
        let abandoned = delivery_with_status(&app, "crm", "abandoned", false).await;
        assert!(
            abandoned["last_error"]
                .as_str()
                .is_some_and(|e| e.contains("private")),
            "{abandoned}"
        );
        assert!(
            receiver
                .received()
                .iter()
                .all(|r| !r.body.contains(&address))
        );
    }
}
