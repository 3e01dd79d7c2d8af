//! Courier delivery over SMTP to a real SMTP peer: a small server in the test speaking the
//! protocol over TCP (EHLO, MAIL, RCPT, DATA, QUIT), which can refuse recipients to exercise
//! retries. TLS (STARTTLS, implicit TLS, extra CA certificates) and AUTH are tested against
//! aiosmtpd in `e2e/courier-smtp.test.mjs`.

use crate::support::{TestApp, json_of};
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// One message as the SMTP server received it.
#[derive(Debug, Clone)]
struct Received {
    from: String,
    to: Vec<String>,
    data: String,
}

#[derive(Clone, Default)]
struct SmtpServer {
    received: Arc<Mutex<Vec<Received>>>,
    /// Answer every RCPT with `451` (a temporary failure).
    refuse: bool,
}

impl SmtpServer {
    async fn start(refuse: bool) -> (SocketAddr, Self) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
        let addr = listener.local_addr().expect("addr");
        let server = Self {
            refuse,
            ..Self::default()
        };
        let serving = server.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(serving.clone().session(socket));
            }
        });
        (addr, server)
    }

    async fn session(self, socket: tokio::net::TcpStream) {
        let (read, mut write) = socket.into_split();
        let mut lines = BufReader::new(read).lines();
        let reply = |text: &str| format!("{text}\r\n");
        if write
            .write_all(reply("220 test.smtp ESMTP").as_bytes())
            .await
            .is_err()
        {
            return;
        }
        let mut current = Received {
            from: String::new(),
            to: Vec::new(),
            data: String::new(),
        };
        while let Ok(Some(line)) = lines.next_line().await {
            let upper = line.to_ascii_uppercase();
            let answer = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
                "250-test.smtp\r\n250 8BITMIME".to_owned()
            } else if upper.starts_with("MAIL FROM:") {
                current.from = line[10..].trim().to_owned();
                "250 2.1.0 OK".to_owned()
            } else if upper.starts_with("RCPT TO:") {
                if self.refuse {
                    "451 4.3.0 try again later".to_owned()
                } else {
                    current.to.push(line[8..].trim().to_owned());
                    "250 2.1.5 OK".to_owned()
                }
            } else if upper == "DATA" {
                if write
                    .write_all(reply("354 go ahead").as_bytes())
                    .await
                    .is_err()
                {
                    return;
                }
                let mut data = String::new();
                while let Ok(Some(line)) = lines.next_line().await {
                    if line == "." {
                        break;
                    }
                    data.push_str(&line);
                    data.push('\n');
                }
                current.data = data;
                self.received
                    .lock()
                    .expect("not poisoned")
                    .push(current.clone());
                current.to.clear();
                "250 2.0.0 queued".to_owned()
            } else if upper == "QUIT" {
                let _ = write.write_all(reply("221 bye").as_bytes()).await;
                return;
            } else if upper.starts_with("RSET") || upper.starts_with("NOOP") {
                current.to.clear();
                "250 OK".to_owned()
            } else {
                "502 5.5.1 not implemented".to_owned()
            };
            if write.write_all(reply(&answer).as_bytes()).await.is_err() {
                return;
            }
        }
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().expect("not poisoned").clone()
    }
}

async fn start_registration(app: &TestApp, address: &str) {
    let (_, flow) = json_of(
        app.public_request(Method::GET, "/self-service/registration/api")
            .send()
            .await
            .expect("sends"),
    )
    .await;
    let flow = flow["id"].as_str().expect("flow id");
    let response = app
        .public_request(
            Method::POST,
            &format!("/self-service/registration?flow={flow}"),
        )
        .json(&json!({"traits": {"email": address}, "password": "correct horse battery staple 93"}))
        .send()
        .await
        .expect("sends");
    assert_eq!(response.status(), StatusCode::OK);
}

async fn outbox_status(app: &TestApp, address: &str) -> String {
    let (_, messages) = json_of(
        app.admin_request(
            Method::GET,
            &format!("/admin/courier/messages?recipient={address}"),
        )
        .send()
        .await
        .expect("sends"),
    )
    .await;
    messages[0]["status"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
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

#[tokio::test]
async fn queued_messages_are_delivered_over_smtp_and_marked_sent() {
    let (addr, server) = SmtpServer::start(false).await;
    for app in TestApp::all_with("smtp_delivery", |config| {
        config.smtp_url = Some(format!("smtp://{addr}"));
        config.smtp_from = Some("Example <no-reply@example.com>".to_owned());
    })
    .await
    {
        let address = format!("{}@example.com", app.backend);
        start_registration(&app, &address).await;
        assert!(
            within_10s(async || outbox_status(&app, &address).await == "sent").await,
            "{}: the message was not marked sent",
            app.backend
        );
        let mail = server
            .received()
            .into_iter()
            .find(|m| m.to.iter().any(|to| to.contains(&address)))
            .expect("the SMTP server received the message");
        assert!(mail.from.contains("no-reply@example.com"), "{mail:?}");
        assert!(mail.data.contains(&format!("To: {address}")), "{mail:?}");
        let code_line = mail
            .data
            .lines()
            .any(|l| l.trim().len() == 6 && l.trim().bytes().all(|b| b.is_ascii_digit()))
            || mail
                .data
                .split_whitespace()
                .any(|w| w.len() == 6 && w.bytes().all(|b| b.is_ascii_digit()));
        assert!(code_line, "the code is in the body: {}", mail.data);
        // Text and HTML alternatives, text first (clients show the last one they can).
        let data = mail.data.to_ascii_lowercase();
        assert!(
            data.contains("content-type: multipart/alternative"),
            "{}",
            mail.data
        );
        let text = data.find("content-type: text/plain").expect("a text part");
        let html = data.find("content-type: text/html").expect("an HTML part");
        assert!(text < html, "{}", mail.data);
    }
}

#[tokio::test]
async fn a_message_without_html_goes_out_as_plain_text() {
    let (addr, server) = SmtpServer::start(false).await;
    for app in TestApp::all_with("smtp_text_only", |config| {
        config.smtp_url = Some(format!("smtp://{addr}"));
    })
    .await
    {
        // As queued before messages had HTML bodies.
        let address = format!("text-{}@example.com", app.backend);
        let now = gatehouse_domain::clock::Clock::now(app.clock.as_ref());
        let message = gatehouse_domain::courier::CourierMessage::queued(
            gatehouse_domain::ids::new_row_id(now),
            gatehouse_domain::ids::TenantId::DEFAULT,
            &address,
            "Plain subject".to_owned(),
            "Plain body 314159\n".to_owned(),
            "registration_code",
            now,
        );
        app.running
            .state
            .store
            .insert_courier_message(&message)
            .await
            .expect("inserts");
        assert!(
            within_10s(async || outbox_status(&app, &address).await == "sent").await,
            "{}: the message was not marked sent",
            app.backend
        );
        let mail = server
            .received()
            .into_iter()
            .find(|m| m.to.iter().any(|to| to.contains(&address)))
            .expect("the SMTP server received the message");
        let data = mail.data.to_ascii_lowercase();
        assert!(data.contains("content-type: text/plain"), "{}", mail.data);
        assert!(!data.contains("multipart"), "{}", mail.data);
        assert!(mail.data.contains("Plain body 314159"), "{}", mail.data);
    }
}

#[tokio::test]
async fn a_refused_delivery_stays_queued_for_a_later_attempt() {
    let (addr, server) = SmtpServer::start(true).await;
    for app in TestApp::all_with("smtp_retry", |config| {
        config.smtp_url = Some(format!("smtp://{addr}"));
    })
    .await
    {
        let address = format!("retry-{}@example.com", app.backend);
        start_registration(&app, &address).await;
        let store = app.running.state.store.clone();
        let tenant = gatehouse_domain::ids::TenantId::DEFAULT;
        let failed = within_10s(async || {
            let list = store
                .list_courier_messages(
                    tenant,
                    &gatehouse_domain::courier::CourierFilter {
                        recipient: Some(address.clone()),
                        status: None,
                        before: None,
                        limit: 10,
                    },
                )
                .await
                .expect("lists");
            list.first().is_some_and(|m| m.last_error.is_some())
        })
        .await;
        assert!(failed, "{}: no failed attempt recorded", app.backend);
        assert_eq!(outbox_status(&app, &address).await, "queued");
        let message = store
            .list_courier_messages(
                tenant,
                &gatehouse_domain::courier::CourierFilter {
                    recipient: Some(address.clone()),
                    status: None,
                    before: None,
                    limit: 10,
                },
            )
            .await
            .expect("lists")
            .remove(0);
        assert_eq!(message.send_count, 1, "one attempt, then a back-off");
        assert!(
            message
                .last_error
                .as_deref()
                .is_some_and(|e| e.contains("451"))
        );
        assert!(message.next_attempt_at > gatehouse_domain::clock::Clock::now(app.clock.as_ref()));
        assert!(server.received().is_empty());
    }
}

#[tokio::test]
async fn operators_replace_message_templates_by_name() {
    for app in TestApp::all_with("courier_templates", |config| {
        config.courier_templates = vec![(
            "registration_code.subject.txt".to_owned(),
            "Example: your code is {{ code }}".to_owned(),
        )];
    })
    .await
    {
        start_registration(&app, "branded@example.com").await;
        let (_, messages) = json_of(
            app.admin_request(
                Method::GET,
                "/admin/courier/messages?recipient=branded@example.com",
            )
            .send()
            .await
            .expect("sends"),
        )
        .await;
        let subject = messages[0]["subject"].as_str().expect("subject");
        assert!(subject.starts_with("Example: your code is "), "{subject}");
        // The body is still the built-in one, with the same code.
        let code = subject.rsplit(' ').next().expect("code");
        assert!(messages[0]["body"].as_str().expect("body").contains(code));
    }
}

#[tokio::test]
async fn a_recovery_code_read_from_the_smtp_server_recovers_the_account() {
    use crate::selfservice::{api_flow, register, submit};
    let (addr, server) = SmtpServer::start(false).await;
    for app in TestApp::all_with("smtp_recovery", |config| {
        config.smtp_url = Some(format!("smtp://{addr}"));
    })
    .await
    {
        let address = format!("lost-{}@example.com", app.backend);
        register(&app, &address, "correct horse battery staple 93").await;
        let flow = api_flow(&app, "recovery").await;
        let (status, body) = submit(
            &app,
            "recovery",
            &flow,
            json!({"method": "code", "email": address}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let recovery_mail = async || {
            server.received().into_iter().find(|m| {
                m.to.iter().any(|to| to.contains(&address))
                    && m.data.contains("Recover access to your account")
            })
        };
        assert!(
            within_10s(async || recovery_mail().await.is_some()).await,
            "{}: no recovery message reached the SMTP server",
            app.backend
        );
        let mail = recovery_mail().await.expect("received");
        // The text part has the code alone on its line.
        let code = mail
            .data
            .lines()
            .map(str::trim)
            .find(|l| l.len() == 6 && l.bytes().all(|b| b.is_ascii_digit()))
            .expect("a code line")
            .to_owned();
        let (status, body) = submit(
            &app,
            "recovery",
            &flow,
            json!({"method": "code", "code": code}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{}: {body}", app.backend);
        assert!(body["session_token"].is_string());
    }
}
