//! The courier outbox: queued messages rendered from the built-in templates, listed by
//! `/admin/courier/messages` in the shape of DESIGN.md §2.

use crate::support::TestApp;
use crate::support::app::json_of;
use gatehouse_domain::ids::TenantId;
use gatehouse_web::courier::{self, Template};
use reqwest::{Method, StatusCode};
use serde_json::Value;

async fn messages(app: &TestApp, query: &str) -> (StatusCode, Value) {
    json_of(
        app.admin_request(Method::GET, &format!("/admin/courier/messages{query}"))
            .send()
            .await
            .expect("sends"),
    )
    .await
}

#[tokio::test]
async fn queued_messages_are_listed_by_recipient_and_status() {
    for app in TestApp::all("courier_list").await {
        let state = &app.running.state;
        courier::queue(
            state,
            TenantId::DEFAULT,
            "alice@example.com",
            Template::RegistrationCode {
                code: "048213".into(),
            },
        )
        .await
        .expect("queues");
        app.clock.advance(time::Duration::seconds(1));
        courier::queue(
            state,
            TenantId::DEFAULT,
            "alice@example.com",
            Template::RegistrationExists,
        )
        .await
        .expect("queues");
        courier::queue(
            state,
            TenantId::DEFAULT,
            "bob@example.com",
            Template::RegistrationCode {
                code: "771001".into(),
            },
        )
        .await
        .expect("queues");

        let (status, list) = messages(&app, "?recipient=alice%40example.com").await;
        assert_eq!(status, StatusCode::OK, "{}: {list}", app.backend);
        let list = list.as_array().expect("array").clone();
        assert_eq!(list.len(), 2);
        let exists = &list[0];
        let code = &list[1];
        let mut keys: Vec<&str> = code
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "body",
                "created_at",
                "html_body",
                "id",
                "recipient",
                "status",
                "subject",
                "template_type"
            ]
        );
        assert_eq!(code["recipient"], "alice@example.com");
        assert_eq!(code["template_type"], "registration_code");
        assert_eq!(code["status"], "queued");
        let body = code["body"].as_str().expect("body");
        let digits: Vec<&str> = body
            .split_whitespace()
            .filter(|w| w.len() == 6 && w.bytes().all(|b| b.is_ascii_digit()))
            .collect();
        assert_eq!(digits, ["048213"], "one 6-digit code in the body");
        assert!(!code["subject"].as_str().expect("subject").is_empty());
        // The HTML alternative carries the same code, shown large, in an HTML document.
        let html = code["html_body"].as_str().expect("html_body");
        assert!(html.starts_with("<!DOCTYPE html>"), "{html}");
        assert!(html.contains(">048213</span>"), "{html}");

        assert_eq!(exists["template_type"], "registration_exists");
        let text = exists["body"].as_str().expect("body");
        assert!(text.contains("tried to create an account"), "{text}");
        assert!(
            text.contains("sign in") && text.contains("recover"),
            "{text}"
        );
        assert!(
            text.contains(&format!("{}/ui/recovery", app.issuer)),
            "{text}"
        );
        let html = exists["html_body"].as_str().expect("html_body");
        assert!(
            html.contains(&format!(r#"href="{}/ui/login""#, app.issuer)),
            "{html}"
        );

        let (_, queued) = messages(&app, "?status=queued").await;
        assert_eq!(queued.as_array().expect("array").len(), 3);
        let (_, sent) = messages(&app, "?status=sent").await;
        assert_eq!(sent, Value::Array(vec![]));
        let (_, bob) = messages(&app, "?recipient=bob@example.com&status=queued").await;
        assert_eq!(bob.as_array().expect("array").len(), 1);
    }
}

#[tokio::test]
async fn bad_message_filters_are_400s_naming_the_parameter() {
    for app in TestApp::all("courier_bad").await {
        for (query, parameter) in [
            ("?status=lost", "status"),
            ("?page_size=9999", "page_size"),
            ("?page_token=nope", "page_token"),
        ] {
            let (status, body) = messages(&app, query).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
            assert!(
                body["error"]["reason"]
                    .as_str()
                    .expect("reason")
                    .contains(parameter),
                "{body}"
            );
        }
        let anonymous = app
            .http
            .get(format!("{}/admin/courier/messages", app.admin))
            .send()
            .await
            .expect("sends");
        assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn messages_page_newest_first() {
    for app in TestApp::all("courier_pages").await {
        let state = &app.running.state;
        for i in 0..3 {
            app.clock.advance(time::Duration::seconds(1));
            courier::queue(
                state,
                TenantId::DEFAULT,
                &format!("user{i}@example.com"),
                Template::RegistrationExists,
            )
            .await
            .expect("queues");
        }
        let response = app
            .admin_request(Method::GET, "/admin/courier/messages?page_size=2")
            .send()
            .await
            .expect("sends");
        let link = response.headers()["link"]
            .to_str()
            .expect("ascii")
            .to_owned();
        let (_, first) = json_of(response).await;
        assert_eq!(first[0]["recipient"], "user2@example.com");
        assert_eq!(first[1]["recipient"], "user1@example.com");
        let next = link
            .trim_start_matches('<')
            .split('>')
            .next()
            .expect("target");
        let (_, second) = json_of(
            app.admin_request(Method::GET, next)
                .send()
                .await
                .expect("sends"),
        )
        .await;
        assert_eq!(second.as_array().expect("array").len(), 1);
        assert_eq!(second[0]["recipient"], "user0@example.com");
    }
}
