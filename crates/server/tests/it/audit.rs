//! `/admin/audit-events`: filters, newest-first pages, and 400s that name the bad parameter.

use crate::support::TestApp;
use crate::support::app::json_of;
use gatehouse_domain::audit::{AuditEvent, AuditEventType, AuditResult};
use gatehouse_domain::ids::TenantId;
use gatehouse_web::audit;
use reqwest::{Method, StatusCode, header};
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;

async fn get(app: &TestApp, query: &str) -> (StatusCode, Value, Option<String>) {
    let response = app
        .admin_request(Method::GET, &format!("/admin/audit-events{query}"))
        .send()
        .await
        .expect("sends");
    let link = response
        .headers()
        .get(header::LINK)
        .map(|v| v.to_str().expect("ascii").to_owned());
    let (status, body) = json_of(response).await;
    (status, body, link)
}

#[tokio::test]
async fn lists_audit_events_by_identity_type_and_time() {
    for app in TestApp::all("audit_list").await {
        let state = &app.running.state;
        let alice = uuid::Uuid::now_v7();
        let start = state.now();
        for (i, kind) in [
            AuditEventType::LoginFailed,
            AuditEventType::LoginSucceeded,
            AuditEventType::Logout,
        ]
        .into_iter()
        .enumerate()
        {
            app.clock.advance(time::Duration::seconds(10));
            let result = if i == 0 {
                AuditResult::Failure
            } else {
                AuditResult::Success
            };
            let mut event = AuditEvent::new(TenantId::DEFAULT, kind, result, state.now())
                .identity(alice)
                .actor("self")
                .client(Some("192.0.2.7"), Some("Firefox"));
            if i == 0 {
                event = event.reason("invalid_credentials");
            }
            audit::record(state, event).await;
        }
        app.clock.advance(time::Duration::seconds(10));
        audit::record(
            state,
            AuditEvent::new(
                TenantId::DEFAULT,
                AuditEventType::IdentityCreated,
                AuditResult::Success,
                state.now(),
            )
            .actor("admin"),
        )
        .await;

        let (status, all, link) = get(&app, "").await;
        assert_eq!(status, StatusCode::OK, "{}: {all}", app.backend);
        assert_eq!(all.as_array().expect("array").len(), 4);
        assert!(link.is_none());
        assert_eq!(all[0]["event_type"], "identity_created", "newest first");
        let failed = &all[3];
        assert_eq!(failed["event_type"], "login_failed");
        assert_eq!(failed["identity_id"], json!(alice));
        assert_eq!(failed["result"], "failure");
        assert_eq!(failed["reason"], "invalid_credentials");
        assert_eq!(failed["ip_address"], "192.0.2.7");
        assert_eq!(failed["user_agent"], "Firefox");
        assert_eq!(failed["actor"], "self");
        assert_eq!(failed["tenant_id"], json!(TenantId::DEFAULT));
        assert!(failed["created_at"].as_str().expect("time").ends_with('Z'));

        let (_, mine, _) = get(&app, &format!("?identity_id={alice}")).await;
        assert_eq!(mine.as_array().expect("array").len(), 3);
        let (_, logins, _) = get(&app, "?type=login_succeeded").await;
        assert_eq!(logins.as_array().expect("array").len(), 1);
        let since = (start + time::Duration::seconds(15))
            .format(&Rfc3339)
            .expect("formats");
        let until = (start + time::Duration::seconds(25))
            .format(&Rfc3339)
            .expect("formats");
        let (status, window, _) = get(
            &app,
            &format!(
                "?identity_id={alice}&since={}&until={}",
                urlencode(&since),
                urlencode(&until)
            ),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{window}");
        assert_eq!(window.as_array().expect("array").len(), 1);
        assert_eq!(window[0]["event_type"], "login_succeeded");
    }
}

fn urlencode(v: &str) -> String {
    url::form_urlencoded::byte_serialize(v.as_bytes()).collect()
}

#[tokio::test]
async fn pages_follow_the_link_header_newest_first() {
    for app in TestApp::all("audit_pages").await {
        let state = &app.running.state;
        for _ in 0..5 {
            app.clock.advance(time::Duration::seconds(1));
            audit::record(
                state,
                AuditEvent::new(
                    TenantId::DEFAULT,
                    AuditEventType::LoginFailed,
                    AuditResult::Failure,
                    state.now(),
                ),
            )
            .await;
        }
        let mut seen: Vec<String> = Vec::new();
        let mut query = "?page_size=2&type=login_failed".to_owned();
        let mut pages = 0;
        loop {
            let (status, page, link) = get(&app, &query).await;
            assert_eq!(status, StatusCode::OK, "{page}");
            pages += 1;
            seen.extend(
                page.as_array()
                    .expect("array")
                    .iter()
                    .map(|e| e["created_at"].as_str().expect("time").to_owned()),
            );
            let Some(link) = link else { break };
            assert!(link.contains("type=login_failed"), "{link}");
            let path = link
                .trim_start_matches('<')
                .split('>')
                .next()
                .expect("link target");
            query = path.trim_start_matches("/admin/audit-events").to_owned();
        }
        assert_eq!(pages, 3);
        assert_eq!(seen.len(), 5);
        let mut sorted = seen.clone();
        sorted.sort_by(|a, b| b.cmp(a));
        assert_eq!(seen, sorted, "newest first across pages");
    }
}

#[tokio::test]
async fn bad_filters_are_400s_naming_the_parameter() {
    for app in TestApp::all("audit_bad").await {
        for (query, parameter) in [
            ("?identity_id=not-a-uuid", "identity_id"),
            ("?type=login_maybe", "type"),
            ("?since=yesterday", "since"),
            ("?until=2026-13-01T00:00:00Z", "until"),
            ("?page_token=garbage", "page_token"),
            ("?page_size=0", "page_size"),
            ("?page_size=lots", "page_size"),
            ("?tenant_id=x", "tenant_id"),
        ] {
            let (status, body, _) = get(&app, query).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
            let reason = body["error"]["reason"].as_str().expect("reason");
            assert!(reason.contains(parameter), "{query}: {reason}");
        }
    }
}
