//! Registration, login and logout through the built-in HTML pages, as a browser without
//! JavaScript does it: GET the page, POST the form with its CSRF token, follow the 303s.

use crate::selfservice::code_for;
use crate::support::{Browser, TestApp};
use reqwest::StatusCode;

const STRONG: &str = "correct horse battery staple 93";

/// Registers through the pages; returns the browser, signed in.
async fn register_in_browser(app: &TestApp, address: &str) -> Browser {
    let mut browser = Browser::new(&app.public);
    let start = browser.get("/self-service/registration/browser").await;
    assert_eq!(start.status, StatusCode::SEE_OTHER);
    let location = start.location.clone().expect("location");
    assert!(location.starts_with("/ui/registration?flow="), "{location}");
    let page = browser.get(&location).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    for label in ["Email", "Password", "First name", "Last name", "Sign up"] {
        assert!(page.body.contains(label), "{label} missing: {}", page.body);
    }
    let csrf = page.input_value("csrf_token").expect("csrf token");
    let action = page.form_action().expect("action");

    let sent = browser
        .post_form(
            &action,
            &[
                ("csrf_token", &csrf),
                ("traits.email", address),
                ("traits.first_name", "Grace"),
                ("password", STRONG),
                ("method", "password"),
            ],
        )
        .await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.body);
    let code_page = browser.follow(sent).await;
    assert!(
        code_page.body.contains("Verification code"),
        "{}",
        code_page.body
    );
    assert!(code_page.body.contains(address));

    let code = code_for(app, address).await;
    let csrf = code_page.input_value("csrf_token").expect("csrf token");
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
            .is_some_and(|l| l.ends_with("/ui/account")),
        "{:?}",
        done.location
    );
    let cookie = browser
        .set_cookies
        .iter()
        .find(|c| c.starts_with("gatehouse_session="))
        .expect("a session cookie")
        .to_ascii_lowercase();
    assert!(cookie.contains("httponly"), "{cookie}");
    assert!(cookie.contains("samesite=lax"), "{cookie}");
    assert!(cookie.contains("path=/"), "{cookie}");
    browser
}

#[tokio::test]
async fn a_browser_registers_signs_out_and_signs_in_through_the_pages() {
    for app in TestApp::all("ui_register").await {
        let mut browser = register_in_browser(&app, "grace@example.com").await;
        let account = browser.get("/ui/account").await;
        assert_eq!(account.status, StatusCode::OK, "{}", account.body);
        assert!(account.body.contains("grace@example.com"));

        // Sign out through the CSRF-safe logout URL.
        let logout = browser.get("/self-service/logout/browser").await;
        assert_eq!(logout.status, StatusCode::OK, "{}", logout.body);
        let logout: serde_json::Value = serde_json::from_str(&logout.body).expect("json");
        let url = logout["logout_url"]
            .as_str()
            .expect("logout_url")
            .to_owned();
        let out = browser.get(&url).await;
        assert_eq!(out.status, StatusCode::SEE_OTHER);
        let account = browser.get("/ui/account").await;
        assert_eq!(account.status, StatusCode::SEE_OTHER);

        // Sign in again; the page shows the error next to the form first.
        let start = browser.get("/self-service/login/browser").await;
        let page = browser.follow(start).await;
        for label in ["Email", "Password", "Sign in"] {
            assert!(page.body.contains(label), "{label}: {}", page.body);
        }
        let csrf = page.input_value("csrf_token").expect("csrf");
        let action = page.form_action().expect("action");
        let failed = browser
            .post_form(
                &action,
                &[
                    ("csrf_token", &csrf),
                    ("identifier", "grace@example.com"),
                    ("password", "not the right one at all"),
                ],
            )
            .await;
        assert_eq!(failed.status, StatusCode::SEE_OTHER);
        let page = browser.follow(failed).await;
        assert!(
            page.body.contains("credentials are invalid"),
            "{}",
            page.body
        );
        assert!(
            page.body.contains("value=\"grace@example.com\""),
            "the address is kept"
        );
        assert!(
            !page.body.contains("not the right one"),
            "the password is not"
        );

        let csrf = page.input_value("csrf_token").expect("csrf");
        let before = browser.cookies.get("gatehouse_session").cloned();
        let ok = browser
            .post_form(
                &action,
                &[
                    ("csrf_token", &csrf),
                    ("identifier", "grace@example.com"),
                    ("password", STRONG),
                ],
            )
            .await;
        assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
        assert_ne!(browser.cookies.get("gatehouse_session").cloned(), before);
        let account = browser.get("/ui/account").await;
        assert_eq!(account.status, StatusCode::OK);
    }
}

#[tokio::test]
async fn a_form_post_without_the_csrf_token_is_refused() {
    for app in TestApp::all("ui_csrf").await {
        let mut browser = Browser::new(&app.public);
        let start = browser.get("/self-service/login/browser").await;
        let page = browser.follow(start).await;
        let action = page.form_action().expect("action");
        let refused = browser
            .post_form(
                &action,
                &[("identifier", "a@example.com"), ("password", STRONG)],
            )
            .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        assert!(
            !refused.body.trim_start().starts_with('{'),
            "a page, not JSON: {}",
            refused.body
        );

        // A token from another browser does not fit this browser's cookie.
        let mut other = Browser::new(&app.public);
        let start = other.get("/self-service/login/browser").await;
        let other_page = other.follow(start).await;
        let foreign = other_page.input_value("csrf_token").expect("csrf");
        let refused = browser
            .post_form(
                &action,
                &[
                    ("csrf_token", &foreign),
                    ("identifier", "a@example.com"),
                    ("password", STRONG),
                ],
            )
            .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
    }
}

#[tokio::test]
async fn pages_show_field_errors_and_send_security_headers() {
    for app in TestApp::all("ui_errors").await {
        let mut browser = Browser::new(&app.public);
        let start = browser.get("/self-service/registration/browser").await;
        let page = browser.follow(start).await;
        for (header, expect) in [
            ("x-frame-options", "DENY"),
            ("referrer-policy", "no-referrer"),
        ] {
            assert_eq!(
                page.headers.get(header).and_then(|v| v.to_str().ok()),
                Some(expect),
                "{header}"
            );
        }
        let csp = page.headers["content-security-policy"]
            .to_str()
            .expect("ascii");
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        let csrf = page.input_value("csrf_token").expect("csrf");
        let action = page.form_action().expect("action");
        let sent = browser
            .post_form(
                &action,
                &[
                    ("csrf_token", &csrf),
                    ("traits.email", "someone@example.com"),
                    ("password", "short"),
                ],
            )
            .await;
        let page = browser.follow(sent).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("aria-invalid=\"true\""), "{}", page.body);
        assert!(page.body.contains("at least 8"), "{}", page.body);
        assert!(page.body.contains("value=\"someone@example.com\""));
    }
}

#[tokio::test]
async fn a_page_without_a_flow_starts_one_and_an_expired_flow_starts_over() {
    for app in TestApp::all("ui_expired").await {
        let mut browser = Browser::new(&app.public);
        let start = browser.get("/ui/login").await;
        assert_eq!(start.status, StatusCode::SEE_OTHER);
        assert_eq!(
            start.location.as_deref(),
            Some("/self-service/login/browser")
        );
        let page = browser.follow(start).await;
        let action = page.form_action().expect("action");
        let flow = action.split("flow=").nth(1).expect("flow id").to_owned();
        app.clock.advance(time::Duration::hours(2));
        let again = browser.get(&format!("/ui/login?flow={flow}")).await;
        assert_eq!(again.status, StatusCode::SEE_OTHER);
        let fresh = browser.follow(again).await;
        assert!(fresh.body.contains("expired"), "{}", fresh.body);
        assert!(!fresh.form_action().expect("action").contains(&flow));
    }
}
