//! Login throttling (DB-backed, exact under concurrent failures) and the per-address budget of
//! self-service POSTs on the public listener.

use crate::support::TestApp;
use crate::support::app::json_of;
use axum::response::IntoResponse;
use gatehouse_domain::clock::Clock;
use gatehouse_domain::ids::TenantId;
use gatehouse_domain::throttle::{ThrottleKey, ThrottleKind};
use gatehouse_web::throttle::RetryAfter;
use reqwest::{Method, StatusCode, header};
use serde_json::Value;
use time::Duration;

const T: TenantId = TenantId::DEFAULT;

async fn throttle_events(app: &TestApp) -> Vec<Value> {
    let (status, body) = json_of(
        app.admin_request(Method::GET, "/admin/audit-events?type=throttle_triggered")
            .send()
            .await
            .expect("sends"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body.as_array().expect("array").clone()
}

#[tokio::test]
async fn five_failures_lock_an_identifier_then_the_wait_doubles() {
    for app in TestApp::all("throttle_identifier").await {
        let throttle = &app.running.state.login_throttle;
        let who = "Alice@Example.com";
        for _ in 0..4 {
            throttle
                .record_failure(T, who, Some("192.0.2.1"), app.clock.now())
                .await;
            assert_eq!(
                throttle
                    .check(T, who, Some("192.0.2.1"), app.clock.now())
                    .await,
                Ok(())
            );
        }
        throttle
            .record_failure(T, who, Some("192.0.2.1"), app.clock.now())
            .await;
        // Locked for the 15-minute window, whatever the address and the identifier's case.
        let Err(wait) = throttle
            .check(
                T,
                "alice@example.com",
                Some("198.51.100.9"),
                app.clock.now(),
            )
            .await
        else {
            panic!("{}: a fifth failure locks the identifier", app.backend);
        };
        assert_eq!(wait.seconds(), 15 * 60);
        assert_eq!(
            throttle
                .check(T, "bob@example.com", Some("192.0.2.1"), app.clock.now())
                .await,
            Ok(())
        );

        app.clock.advance(Duration::minutes(15));
        assert_eq!(throttle.check(T, who, None, app.clock.now()).await, Ok(()));
        throttle.record_failure(T, who, None, app.clock.now()).await;
        let Err(wait) = throttle.check(T, who, None, app.clock.now()).await else {
            panic!("a further failure locks again");
        };
        assert_eq!(wait.seconds(), 30 * 60, "the wait doubles");
        app.clock.advance(Duration::minutes(30));
        throttle.record_failure(T, who, None, app.clock.now()).await;
        let Err(wait) = throttle.check(T, who, None, app.clock.now()).await else {
            panic!("and again");
        };
        assert_eq!(wait.seconds(), 60 * 60, "capped at an hour");

        // Each lockout is one audit event; the identifier is never in it.
        let events = throttle_events(&app).await;
        assert_eq!(events.len(), 3, "{events:?}");
        for e in &events {
            assert_eq!(e["details"]["kind"], "identifier");
            assert_eq!(e["details"]["key"].as_str().expect("prefix").len(), 12);
            assert!(!e.to_string().to_lowercase().contains("alice"), "{e}");
        }
    }
}

#[tokio::test]
async fn a_success_clears_the_identifier_but_not_the_address() {
    for app in TestApp::all("throttle_success").await {
        let throttle = &app.running.state.login_throttle;
        let ip = Some("203.0.113.5");
        for i in 0..19 {
            throttle
                .record_failure(T, &format!("user{i}@example.com"), ip, app.clock.now())
                .await;
        }
        for _ in 0..4 {
            throttle
                .record_failure(T, "carol@example.com", None, app.clock.now())
                .await;
        }
        throttle
            .record_success(T, "carol@example.com", app.clock.now())
            .await;
        throttle
            .record_failure(T, "carol@example.com", None, app.clock.now())
            .await;
        assert_eq!(
            throttle
                .check(T, "carol@example.com", None, app.clock.now())
                .await,
            Ok(())
        );
        // The twentieth failure from one address locks the address for every identifier.
        throttle
            .record_failure(T, "user19@example.com", ip, app.clock.now())
            .await;
        assert!(
            throttle
                .check(T, "someone-new@example.com", ip, app.clock.now())
                .await
                .is_err()
        );
        assert_eq!(
            throttle
                .check(
                    T,
                    "someone-new@example.com",
                    Some("203.0.113.6"),
                    app.clock.now()
                )
                .await,
            Ok(())
        );
        let events = throttle_events(&app).await;
        assert_eq!(events.len(), 1);
        assert_eq!(events[0]["details"]["kind"], "ip");
        assert_eq!(events[0]["ip_address"], "203.0.113.5");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_failures_are_counted_exactly() {
    for app in TestApp::all("throttle_concurrent").await {
        let state = app.running.state.clone();
        let now = app.clock.now();
        let mut tasks = Vec::new();
        for _ in 0..40 {
            let state = state.clone();
            tasks.push(tokio::spawn(async move {
                state
                    .login_throttle
                    .record_failure(T, "dave@example.com", Some("192.0.2.77"), now)
                    .await;
            }));
        }
        for t in tasks {
            t.await.expect("task");
        }
        let since = now - Duration::minutes(15);
        for (kind, value) in [
            (ThrottleKind::Identifier, "dave@example.com"),
            (ThrottleKind::Ip, "192.0.2.77"),
        ] {
            let count = state
                .store
                .count_throttle_failures(T, &ThrottleKey::new(T, kind, value), since)
                .await
                .expect("counts");
            assert_eq!(count, 40, "{}: {kind:?}", app.backend);
        }
        // However the attempts raced, each key went over exactly once.
        let events = throttle_events(&app).await;
        let kinds: Vec<&str> = events
            .iter()
            .map(|e| e["details"]["kind"].as_str().expect("kind"))
            .collect();
        assert_eq!(kinds.len(), 2, "{}: {kinds:?}", app.backend);
        assert!(kinds.contains(&"identifier") && kinds.contains(&"ip"));
        assert!(
            state
                .login_throttle
                .check(T, "dave@example.com", None, now)
                .await
                .is_err()
        );
    }
}

#[tokio::test]
async fn retry_after_is_a_429_json_error_with_the_header() {
    let response = RetryAfter(std::time::Duration::from_millis(90_500)).into_response();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers()[header::RETRY_AFTER], "91");
    let body = http_body_util::BodyExt::collect(response.into_body())
        .await
        .expect("body")
        .to_bytes();
    let json: Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(json["error"]["code"], 429);
    assert_eq!(json["error"]["id"], "too_many_requests");
}

#[tokio::test]
async fn self_service_posts_have_a_per_address_budget() {
    for app in TestApp::all_with("self_service_budget", |c| {
        c.throttling.self_service_per_ip_per_minute = 3;
    })
    .await
    {
        let post = |path: &str| {
            app.public_request(Method::POST, path)
                .header(header::CONTENT_TYPE, "application/json")
                .body("{}")
                .send()
        };
        // The budget is counted before routing, so it holds for every self-service endpoint.
        for path in [
            "/self-service/login",
            "/self-service/registration",
            "/self-service/login",
        ] {
            let status = post(path).await.expect("sends").status();
            assert_ne!(status, StatusCode::TOO_MANY_REQUESTS, "{path}");
        }
        let refused = post("/self-service/login?flow=x").await.expect("sends");
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
        let wait: u64 = refused.headers()[header::RETRY_AFTER]
            .to_str()
            .expect("ascii")
            .parse()
            .expect("seconds");
        assert!((1..=60).contains(&wait), "{wait}");
        let (_, body) = json_of(refused).await;
        assert_eq!(body["error"]["id"], "too_many_requests");
        // GETs and other paths are not counted.
        let get = app
            .public_request(Method::GET, "/self-service/login/api")
            .send()
            .await
            .expect("sends");
        assert_ne!(get.status(), StatusCode::TOO_MANY_REQUESTS);
        let token = post("/oauth2/token").await.expect("sends");
        assert_ne!(token.status(), StatusCode::TOO_MANY_REQUESTS);
        // A minute later the budget is back.
        app.clock.advance(Duration::minutes(1));
        assert_ne!(
            post("/self-service/login").await.expect("sends").status(),
            StatusCode::TOO_MANY_REQUESTS
        );
    }
}
