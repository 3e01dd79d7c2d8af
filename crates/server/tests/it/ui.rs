//! The built-in UI's infrastructure over HTTP: security headers, the stylesheet, error pages,
//! CSRF on forms, and the account page with its sessions.

use crate::support::TestApp;
use crate::support::app::set_cookie;
use reqwest::{Method, Response, StatusCode, header};

fn assert_page_headers(response: &Response, issuer: &str) {
    let h = response.headers();
    let csp = h[header::CONTENT_SECURITY_POLICY].to_str().expect("ascii");
    assert_eq!(
        csp,
        format!(
            "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self' {issuer}; frame-ancestors 'none'; base-uri 'none'"
        )
    );
    assert_eq!(h[header::X_FRAME_OPTIONS], "DENY");
    assert_eq!(h[header::REFERRER_POLICY], "no-referrer");
    assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
}

/// The `value` of `name="csrf_token"` in a page.
fn csrf_field(html: &str) -> String {
    let marker = "name=\"csrf_token\" value=\"";
    let start = html.find(marker).expect("the page has a CSRF field") + marker.len();
    html[start..].split('"').next().expect("a value").to_owned()
}

/// The account page for a session; returns the page and the CSRF cookie it set.
async fn account(app: &TestApp, session_cookie: &str) -> (String, String) {
    let response = app
        .public_request(Method::GET, "/ui/account")
        .header(header::COOKIE, session_cookie)
        .send()
        .await
        .expect("sends");
    assert_eq!(response.status(), StatusCode::OK, "{}", app.backend);
    assert_page_headers(&response, &app.issuer);
    assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
    let csrf = set_cookie(&response, "gatehouse_csrf").expect("sets the CSRF cookie");
    let csrf = csrf.split(';').next().expect("name=value").to_owned();
    (response.text().await.expect("html"), csrf)
}

#[tokio::test]
async fn pages_carry_the_security_headers_and_errors_render_as_pages() {
    for app in TestApp::all("ui_headers").await {
        let known = app
            .public_request(Method::GET, "/ui/error?id=flow_expired")
            .send()
            .await
            .expect("sends");
        assert_eq!(known.status(), StatusCode::OK);
        assert_page_headers(&known, &app.issuer);
        assert_eq!(known.headers()[header::CACHE_CONTROL], "no-store");
        let html = known.text().await.expect("html");
        assert!(html.contains("This page has expired"), "{html}");
        assert!(html.contains("name=\"viewport\""));

        let unknown = app
            .public_request(Method::GET, "/ui/error?id=<script>")
            .send()
            .await
            .expect("sends");
        assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
        assert_page_headers(&unknown, &app.issuer);
        assert!(
            unknown.headers()[header::CONTENT_TYPE]
                .to_str()
                .expect("ascii")
                .starts_with("text/html")
        );
        let html = unknown.text().await.expect("html");
        assert!(!html.contains("<script>"));

        let missing = app
            .public_request(Method::POST, "/ui/no-such-page")
            .send()
            .await
            .expect("sends");
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
        assert_page_headers(&missing, &app.issuer);
    }
}

#[tokio::test]
async fn the_stylesheet_is_served_with_a_long_cache_lifetime() {
    let app = TestApp::sqlite().await;
    let page = app
        .public_request(Method::GET, "/ui/error?id=csrf")
        .send()
        .await
        .expect("sends")
        .text()
        .await
        .expect("html");
    let start = page.find("/ui/static/gatehouse.css").expect("linked");
    let href = page[start..].split('"').next().expect("href");
    let css = app
        .public_request(Method::GET, href)
        .send()
        .await
        .expect("sends");
    assert_eq!(css.status(), StatusCode::OK);
    assert_eq!(
        css.headers()[header::CONTENT_TYPE],
        "text/css; charset=utf-8"
    );
    assert_eq!(
        css.headers()[header::CACHE_CONTROL],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(css.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert!(css.text().await.expect("css").contains(":focus-visible"));
}

#[tokio::test]
async fn the_account_page_needs_a_session() {
    for app in TestApp::all("ui_account_anonymous").await {
        let response = app
            .public_request(Method::GET, "/ui/account")
            .send()
            .await
            .expect("sends");
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(
            response.headers()[header::LOCATION],
            "/ui/login?return_to=/ui/account"
        );
        assert_page_headers(&response, &app.issuer);
    }
}

#[tokio::test]
async fn the_account_page_lists_sessions_and_signs_one_out() {
    for app in TestApp::all("ui_account").await {
        let (id, token) = app.session_for_new_identity("ada@example.com").await;
        let phone = app.start_session_for(id, "Phone <b>browser</b>").await;
        let cookie = app.session_cookie(&token);
        let (html, csrf_cookie) = account(&app, &cookie).await;
        assert!(html.contains("ada@example.com"), "{html}");
        assert!(html.contains("<dt>First name</dt>"), "{html}");
        assert!(html.contains("This device"));
        assert!(html.contains("Phone &lt;b&gt;browser"), "escaped: {html}");
        assert!(!html.contains("<b>"));
        assert!(html.contains("Sign out everywhere"));
        assert!(html.contains("action=\"/self-service/logout\""));

        let (_, phone_session) = crate::support::app::json_of(
            app.public_request(Method::GET, "/sessions/whoami")
                .header("X-Session-Token", &phone)
                .send()
                .await
                .expect("sends"),
        )
        .await;
        let phone_id = phone_session["id"].as_str().expect("id");
        assert!(html.contains(&format!("/ui/account/sessions/{phone_id}/revoke")));

        let csrf = csrf_field(&html);
        let revoked = app
            .public_request(
                Method::POST,
                &format!("/ui/account/sessions/{phone_id}/revoke"),
            )
            .header(header::COOKIE, format!("{cookie}; {csrf_cookie}"))
            .form(&[("csrf_token", csrf.as_str())])
            .send()
            .await
            .expect("sends");
        assert_eq!(revoked.status(), StatusCode::SEE_OTHER, "{}", app.backend);
        assert_eq!(revoked.headers()[header::LOCATION], "/ui/account");
        let flash = set_cookie(&revoked, "gatehouse_flash").expect("a flash message");
        let flash = flash.split(';').next().expect("name=value");

        let after = app
            .public_request(Method::GET, "/ui/account")
            .header(header::COOKIE, format!("{cookie}; {csrf_cookie}; {flash}"))
            .send()
            .await
            .expect("sends");
        assert!(
            set_cookie(&after, "gatehouse_flash").is_some_and(|c| c.contains("Max-Age=0")),
            "the flash shows once"
        );
        let html = after.text().await.expect("html");
        assert!(html.contains("That session has been signed out."), "{html}");
        assert!(!html.contains("Phone"));
        let phone_whoami = app
            .public_request(Method::GET, "/sessions/whoami")
            .header("X-Session-Token", &phone)
            .send()
            .await
            .expect("sends");
        assert_eq!(phone_whoami.status(), StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn forms_without_a_valid_csrf_token_are_refused() {
    for app in TestApp::all("ui_csrf").await {
        let (id, token) = app.session_for_new_identity("a@example.com").await;
        let other = app.start_session_for(id, "Other").await;
        let cookie = app.session_cookie(&token);
        let (html, csrf_cookie) = account(&app, &cookie).await;
        let csrf = csrf_field(&html);
        // A second browser's CSRF pair.
        let (other_html, other_csrf_cookie) = account(&app, &app.session_cookie(&other)).await;
        let other_csrf = csrf_field(&other_html);
        assert_ne!(csrf, other_csrf);

        let post = |cookies: String, form: Vec<(&'static str, String)>| {
            app.public_request(Method::POST, "/ui/account/sessions/revoke-all")
                .header(header::COOKIE, cookies)
                .form(&form)
                .send()
        };
        let cases = [
            (format!("{cookie}; {csrf_cookie}"), vec![]),
            (cookie.clone(), vec![("csrf_token", csrf.clone())]),
            (
                format!("{cookie}; {other_csrf_cookie}"),
                vec![("csrf_token", csrf.clone())],
            ),
            (
                format!("{cookie}; {csrf_cookie}"),
                vec![("csrf_token", other_csrf.clone())],
            ),
            (
                format!("{cookie}; {csrf_cookie}"),
                vec![("csrf_token", "x".to_owned())],
            ),
        ];
        for (cookies, form) in cases {
            let refused = post(cookies.clone(), form).await.expect("sends");
            assert_eq!(
                refused.status(),
                StatusCode::FORBIDDEN,
                "{}: {cookies}",
                app.backend
            );
            assert_page_headers(&refused, &app.issuer);
            let page = refused.text().await.expect("html");
            assert!(page.contains("could not be verified"), "{page}");
        }
        let still = app
            .public_request(Method::GET, "/sessions/whoami")
            .header("X-Session-Token", &other)
            .send()
            .await
            .expect("sends");
        assert_eq!(still.status(), StatusCode::OK, "nothing was revoked");

        let accepted = post(
            format!("{cookie}; {csrf_cookie}"),
            vec![("csrf_token", csrf.clone())],
        )
        .await
        .expect("sends");
        assert_eq!(accepted.status(), StatusCode::SEE_OTHER);
        let gone = app
            .public_request(Method::GET, "/sessions/whoami")
            .header("X-Session-Token", &other)
            .send()
            .await
            .expect("sends");
        assert_eq!(
            gone.status(),
            StatusCode::UNAUTHORIZED,
            "signed out everywhere else"
        );
        let me = app
            .public_request(Method::GET, "/sessions/whoami")
            .header(header::COOKIE, &cookie)
            .send()
            .await
            .expect("sends");
        assert_eq!(me.status(), StatusCode::OK);

        // Without a session, a form goes to the login page first.
        let anonymous = post(csrf_cookie.clone(), vec![("csrf_token", csrf)])
            .await
            .expect("sends");
        assert_eq!(anonymous.status(), StatusCode::SEE_OTHER);
        assert_eq!(
            anonymous.headers()[header::LOCATION],
            "/ui/login?return_to=/ui/account"
        );
    }
}

#[tokio::test]
async fn signing_out_from_the_account_page_ends_this_session() {
    for app in TestApp::all("ui_sign_out").await {
        let (_, token) = app.session_for_new_identity("a@example.com").await;
        let cookie = app.session_cookie(&token);
        let (html, _) = account(&app, &cookie).await;
        let marker = "name=\"token\" value=\"";
        let start = html.find(marker).expect("a logout token") + marker.len();
        let logout_token = html[start..].split('"').next().expect("value");
        let response = app
            .public_request(
                Method::GET,
                &format!("/self-service/logout?token={logout_token}&return_to=/ui/login"),
            )
            .header(header::COOKIE, &cookie)
            .send()
            .await
            .expect("sends");
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{}", app.backend);
        assert_eq!(
            response.headers()[header::LOCATION],
            format!("{}/ui/login", app.issuer)
        );
        let after = app
            .public_request(Method::GET, "/ui/account")
            .header(header::COOKIE, &cookie)
            .send()
            .await
            .expect("sends");
        assert_eq!(after.status(), StatusCode::SEE_OTHER);
    }
}
