//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): `/oauth2/sessions/logout` ends
//! the browser's session at once only with an ID token of the signed-in person, redirects only to
//! a registered `post_logout_redirect_uri`, and otherwise asks on `/ui/logout` (CSRF-protected).

use crate::selfservice::{audit_types, encode, whoami};
use crate::support::TestApp;
use crate::support::app::set_cookie;
use crate::userinfo::{id_token, web_client};
use reqwest::{Method, StatusCode};
use time::Duration;

fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

async fn logout(app: &TestApp, session: &str, query: &[(&str, &str)]) -> reqwest::Response {
    let query: Vec<String> = query
        .iter()
        .map(|(name, value)| format!("{name}={}", encode(value)))
        .collect();
    app.public_request(
        Method::GET,
        &format!("/oauth2/sessions/logout?{}", query.join("&")),
    )
    .header("Cookie", app.session_cookie(session))
    .send()
    .await
    .expect("sends")
}

/// The `csrf_token` field of a page and the CSRF cookie set with it.
async fn csrf_of(response: reqwest::Response) -> (String, String, String) {
    let cookie = set_cookie(&response, "gatehouse_csrf")
        .map(|c| c.split(';').next().unwrap_or_default().to_owned())
        .expect("a CSRF cookie");
    let html = response.text().await.expect("html");
    let field = html
        .split("name=\"csrf_token\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a csrf_token field")
        .to_owned();
    (field, cookie, html)
}

#[tokio::test]
async fn a_valid_hint_and_registered_uri_end_the_session_and_redirect_with_state() {
    for app in TestApp::all("logout_hint").await {
        let (client_id, _) = web_client(&app).await;
        let (id, session) = app.session_for_new_identity("ada@example.com").await;
        let hint = id_token(&app, &client_id, &id.to_string(), None);
        let response = logout(
            &app,
            &session,
            &[
                ("id_token_hint", hint.as_str()),
                ("post_logout_redirect_uri", "https://app.example/signed-out"),
                ("state", "xyz 1"),
                ("ui_locales", "fr"),
            ],
        )
        .await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{}", app.backend);
        assert_eq!(
            location(&response),
            "https://app.example/signed-out?state=xyz+1"
        );
        let cleared = set_cookie(&response, "gatehouse_session").expect("cookie cleared");
        assert!(cleared.contains("Max-Age=0"), "{cleared}");
        assert_eq!(whoami(&app, &session).await.0, StatusCode::UNAUTHORIZED);
        assert!(audit_types(&app).await.contains(&"logout".to_owned()));
    }
}

#[tokio::test]
async fn an_expired_hint_with_client_id_still_signs_out() {
    for app in TestApp::all("logout_expired").await {
        let (client_id, _) = web_client(&app).await;
        let (id, session) = app.session_for_new_identity("ada@example.com").await;
        let hint = id_token(&app, &client_id, &id.to_string(), None);
        app.clock.advance(Duration::hours(3));
        let response = logout(
            &app,
            &session,
            &[
                ("id_token_hint", hint.as_str()),
                ("client_id", client_id.as_str()),
                ("post_logout_redirect_uri", "https://app.example/signed-out"),
            ],
        )
        .await;
        assert_eq!(location(&response), "https://app.example/signed-out");
        assert_eq!(whoami(&app, &session).await.0, StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn an_unregistered_uri_is_never_a_destination() {
    for app in TestApp::all("logout_unregistered").await {
        let (client_id, _) = web_client(&app).await;
        let (id, session) = app.session_for_new_identity("ada@example.com").await;
        let hint = id_token(&app, &client_id, &id.to_string(), None);
        let response = logout(
            &app,
            &session,
            &[
                ("id_token_hint", hint.as_str()),
                ("post_logout_redirect_uri", "https://evil.example/"),
                ("state", "s"),
            ],
        )
        .await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&response), format!("{}/ui/logout", app.issuer));
        assert_eq!(whoami(&app, &session).await.0, StatusCode::UNAUTHORIZED);
        let page = app
            .public_request(Method::GET, "/ui/logout")
            .send()
            .await
            .expect("sends");
        assert_eq!(page.status(), StatusCode::OK);
        let html = page.text().await.expect("html");
        assert!(html.contains("You have been signed out"), "{html}");
        assert!(!html.contains("evil.example"));

        // A URI without a known client is not followed either.
        let (_, other) = app.session_for_new_identity("grace@example.com").await;
        let response = logout(
            &app,
            &other,
            &[("post_logout_redirect_uri", "https://app.example/signed-out")],
        )
        .await;
        assert!(!location(&response).starts_with("https://app.example"));
    }
}

#[tokio::test]
async fn a_hint_for_someone_else_or_a_forged_one_never_signs_out_silently() {
    for app in TestApp::all("logout_other").await {
        let (client_id, _) = web_client(&app).await;
        let (_, session) = app.session_for_new_identity("ada@example.com").await;
        let grace = app.insert_identity("grace@example.com").await;
        let hint = id_token(&app, &client_id, &grace.to_string(), None);
        let response = logout(
            &app,
            &session,
            &[
                ("id_token_hint", hint.as_str()),
                ("post_logout_redirect_uri", "https://app.example/signed-out"),
            ],
        )
        .await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{}", app.backend);
        assert!(
            location(&response).starts_with(&format!("{}/ui/logout?", app.issuer)),
            "{}",
            location(&response)
        );
        assert!(!location(&response).contains("id_token_hint"));
        assert_eq!(whoami(&app, &session).await.0, StatusCode::OK);

        // A hint we did not sign, or whose client disagrees, is a 400 page.
        let forged = format!("{hint}x");
        let response = logout(&app, &session, &[("id_token_hint", forged.as_str())]).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let response = logout(
            &app,
            &session,
            &[
                ("id_token_hint", hint.as_str()),
                ("client_id", "someone-else"),
            ],
        )
        .await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(whoami(&app, &session).await.0, StatusCode::OK);
    }
}

#[tokio::test]
async fn without_a_hint_the_person_confirms_with_a_csrf_protected_button() {
    for app in TestApp::all("logout_confirm").await {
        let (client_id, _) = web_client(&app).await;
        let (_, session) = app.session_for_new_identity("ada@example.com").await;
        let response = logout(
            &app,
            &session,
            &[
                ("client_id", client_id.as_str()),
                ("post_logout_redirect_uri", "https://app.example/signed-out"),
                ("state", "abc"),
            ],
        )
        .await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{}", app.backend);
        let page_url = location(&response);
        assert!(page_url.starts_with(&format!("{}/ui/logout?", app.issuer)));
        // A cross-site GET alone changed nothing.
        assert_eq!(whoami(&app, &session).await.0, StatusCode::OK);

        let page = app
            .http
            .get(&page_url)
            .header("Cookie", app.session_cookie(&session))
            .send()
            .await
            .expect("sends");
        assert_eq!(page.status(), StatusCode::OK);
        let csp = page.headers()["content-security-policy"]
            .to_str()
            .expect("ascii")
            .to_owned();
        assert!(csp.contains("https://app.example"), "{csp}");
        let (csrf, csrf_cookie, html) = csrf_of(page).await;
        assert!(html.contains("Sign out</button>"), "{html}");
        assert!(html.contains("Web App"), "{html}");

        // Without the CSRF token: refused.
        let response = app
            .public_request(Method::POST, "/ui/logout")
            .header("Cookie", app.session_cookie(&session))
            .form(&[("client_id", client_id.as_str())])
            .send()
            .await
            .expect("sends");
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert_eq!(whoami(&app, &session).await.0, StatusCode::OK);

        let response = app
            .public_request(Method::POST, "/ui/logout")
            .header(
                "Cookie",
                format!("{}; {csrf_cookie}", app.session_cookie(&session)),
            )
            .form(&[
                ("csrf_token", csrf.as_str()),
                ("client_id", client_id.as_str()),
                ("post_logout_redirect_uri", "https://app.example/signed-out"),
                ("state", "abc"),
            ])
            .send()
            .await
            .expect("sends");
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(
            location(&response),
            "https://app.example/signed-out?state=abc"
        );
        assert_eq!(whoami(&app, &session).await.0, StatusCode::UNAUTHORIZED);
        assert!(audit_types(&app).await.contains(&"logout".to_owned()));
    }
}

#[tokio::test]
async fn confirming_without_a_client_shows_the_signed_out_page() {
    for app in TestApp::all("logout_plain").await {
        let (_, session) = app.session_for_new_identity("ada@example.com").await;
        let response = app
            .public_request(Method::POST, "/oauth2/sessions/logout")
            .header("Cookie", app.session_cookie(&session))
            .form(&[("state", "x")])
            .send()
            .await
            .expect("sends");
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(whoami(&app, &session).await.0, StatusCode::OK);
        let page = app
            .public_request(Method::GET, "/ui/logout")
            .header("Cookie", app.session_cookie(&session))
            .send()
            .await
            .expect("sends");
        let (csrf, csrf_cookie, _) = csrf_of(page).await;
        let response = app
            .public_request(Method::POST, "/ui/logout")
            .header(
                "Cookie",
                format!("{}; {csrf_cookie}", app.session_cookie(&session)),
            )
            .form(&[("csrf_token", csrf.as_str())])
            .send()
            .await
            .expect("sends");
        assert_eq!(response.status(), StatusCode::OK, "{}", app.backend);
        assert!(set_cookie(&response, "gatehouse_session").is_some());
        let html = response.text().await.expect("html");
        assert!(html.contains("You have been signed out"), "{html}");
        assert_eq!(whoami(&app, &session).await.0, StatusCode::UNAUTHORIZED);
    }
}
