//! Clients registered by people: `POST /api/client/register`, `GET /api/user/clients`,
//! `POST /api/user/clients/{client_id}/deactivate`, and the account page's "Your applications".

use crate::support::{Browser, TestApp, json_of};
use reqwest::{Method, StatusCode, header};
use serde_json::{Value, json};

fn app_body() -> Value {
    json!({
        "client_name": "Photo book",
        "description": "Prints your albums",
        "website_url": "https://photos.example",
        "redirect_uris": ["https://photos.example/callback", "http://localhost:3000/callback"],
    })
}

async fn register(app: &TestApp, token: &str, body: &Value) -> (StatusCode, Value) {
    json_of(
        app.public_request(Method::POST, "/api/client/register")
            .header("X-Session-Token", token)
            .json(body)
            .send()
            .await
            .expect("sends"),
    )
    .await
}

async fn my_clients(app: &TestApp, token: &str) -> Vec<Value> {
    let (status, body) = json_of(
        app.public_request(Method::GET, "/api/user/clients")
            .header("X-Session-Token", token)
            .send()
            .await
            .expect("sends"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{}: {body}", app.backend);
    body.as_array().expect("array").clone()
}

async fn deactivate(app: &TestApp, token: &str, client_id: &str) -> (StatusCode, Value) {
    json_of(
        app.public_request(
            Method::POST,
            &format!("/api/user/clients/{client_id}/deactivate"),
        )
        .header("X-Session-Token", token)
        .json(&json!({}))
        .send()
        .await
        .expect("sends"),
    )
    .await
}

async fn admin_client(app: &TestApp, client_id: &str) -> Value {
    let (status, body) = json_of(
        app.admin_request(Method::GET, &format!("/admin/clients/{client_id}"))
            .send()
            .await
            .expect("sends"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{}: {body}", app.backend);
    body
}

/// The outcome of client authentication at the token endpoint: a person's client may not use
/// client credentials, so an authenticated one gets `unauthorized_client`, a refused one
/// `invalid_client`.
async fn token_error(app: &TestApp, id: &str, secret: &str) -> (StatusCode, String) {
    let (status, body) = json_of(app.token(id, secret, &[]).await).await;
    (
        status,
        body["error"].as_str().unwrap_or_default().to_owned(),
    )
}

#[tokio::test]
async fn a_signed_in_person_registers_a_client_and_sees_its_secret_once() {
    for app in TestApp::all("uc_register").await {
        let (owner, token) = app.session_for_new_identity("ada@example.com").await;
        let response = app
            .public_request(Method::POST, "/api/client/register")
            .header("X-Session-Token", &token)
            .json(&app_body())
            .send()
            .await
            .expect("sends");
        assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
        let (status, client) = json_of(response).await;
        assert_eq!(status, StatusCode::CREATED, "{}: {client}", app.backend);
        let id = client["client_id"].as_str().expect("client_id").to_owned();
        let secret = client["client_secret"]
            .as_str()
            .expect("the secret, this once")
            .to_owned();
        assert!(secret.len() >= 43);
        assert_eq!(client["client_name"], "Photo book");
        assert_eq!(client["description"], "Prints your albums");
        assert_eq!(client["website_url"], "https://photos.example");
        assert_eq!(
            client["grant_types"],
            json!(["authorization_code", "refresh_token"])
        );
        assert_eq!(client["response_types"], json!(["code"]));
        assert_eq!(client["scope"], "email openid profile");
        assert_eq!(client["token_endpoint_auth_method"], "client_secret_basic");
        assert_eq!(client["skip_consent"], false);
        assert_eq!(client["active"], true);
        assert_eq!(client["owner_identity_id"], json!(owner));

        // Stored hashed: neither the admin API nor the person's list shows it again.
        let stored = admin_client(&app, &id).await;
        assert!(stored.get("client_secret").is_none(), "{stored}");
        assert_eq!(stored["owner_identity_id"], json!(owner));
        let mine = my_clients(&app, &token).await;
        assert_eq!(mine.len(), 1);
        assert_eq!(mine[0]["client_id"], json!(id));
        assert!(mine[0].get("client_secret").is_none());

        // The secret authenticates the client (the grant is then refused, not the client).
        assert_eq!(
            token_error(&app, &id, &secret).await,
            (StatusCode::BAD_REQUEST, "unauthorized_client".to_owned()),
            "{}",
            app.backend
        );

        let (status, events) = json_of(
            app.admin_request(
                Method::GET,
                "/admin/audit-events?type=client_registered_by_user",
            )
            .send()
            .await
            .expect("sends"),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let events = events.as_array().expect("array");
        assert_eq!(events.len(), 1, "{}", app.backend);
        assert_eq!(events[0]["identity_id"], json!(owner));
        assert_eq!(events[0]["details"]["client_id"], json!(id));
        assert!(!events[0].to_string().contains(&secret));
    }
}

#[tokio::test]
async fn a_public_client_gets_no_secret_and_the_name_alias_works() {
    for app in TestApp::all("uc_public").await {
        let (_, token) = app.session_for_new_identity("spa@example.com").await;
        let (status, client) = register(
            &app,
            &token,
            &json!({
                "name": "My SPA",
                "redirect_uris": ["https://spa.example/cb"],
                "token_endpoint_auth_method": "none",
                "scope": "openid offline_access",
            }),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{}: {client}", app.backend);
        assert_eq!(client["client_name"], "My SPA");
        assert_eq!(client["token_endpoint_auth_method"], "none");
        assert_eq!(client["scope"], "offline_access openid");
        assert!(client.get("client_secret").is_none(), "{client}");
    }
}

#[tokio::test]
async fn registration_needs_a_session_and_json() {
    for app in TestApp::all("uc_auth").await {
        let (status, body) = json_of(
            app.public_request(Method::POST, "/api/client/register")
                .json(&app_body())
                .send()
                .await
                .expect("sends"),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert_eq!(body["error"]["id"], "session_inactive");
        let (status, _) = register(&app, "not-a-session", &app_body()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);

        // A cross-site HTML form can send the session cookie but not a JSON body: refused,
        // nothing registered.
        let (_, token) = app.session_for_new_identity("csrf@example.com").await;
        for (content_type, body) in [
            (
                "application/x-www-form-urlencoded",
                "client_name=Evil&redirect_uris=https%3A%2F%2Fevil.example%2Fcb",
            ),
            (
                "text/plain",
                r#"{"client_name":"Evil","redirect_uris":["https://evil.example/cb"]}"#,
            ),
        ] {
            let (status, body) = json_of(
                app.public_request(Method::POST, "/api/client/register")
                    .header(header::COOKIE, app.session_cookie(&token))
                    .header(header::ORIGIN, "https://evil.example")
                    .header(header::CONTENT_TYPE, content_type)
                    .body(body)
                    .send()
                    .await
                    .expect("sends"),
            )
            .await;
            assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{body}");
        }
        assert!(my_clients(&app, &token).await.is_empty());

        // With the cookie and a JSON body (what the person's own page script sends) it works.
        let (status, body) = json_of(
            app.public_request(Method::POST, "/api/client/register")
                .header(header::COOKIE, app.session_cookie(&token))
                .json(&app_body())
                .send()
                .await
                .expect("sends"),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{}: {body}", app.backend);
    }
}

#[tokio::test]
async fn bad_input_is_a_400_naming_the_field() {
    for app in TestApp::all("uc_bad_input").await {
        let (_, token) = app.session_for_new_identity("bad@example.com").await;
        let with = |field: &str, value: Value| {
            let mut body = app_body();
            body[field] = value;
            body
        };
        let too_many: Vec<String> = (0..11)
            .map(|i| format!("https://photos.example/cb{i}"))
            .collect();
        let cases = [
            ("client_name", with("client_name", json!(""))),
            ("client_name", with("client_name", json!("x".repeat(101)))),
            ("description", with("description", json!("x".repeat(1001)))),
            (
                "website_url",
                with("website_url", json!("http://photos.example")),
            ),
            ("website_url", with("website_url", json!("not a url"))),
            ("redirect_uris", with("redirect_uris", json!([]))),
            ("redirect_uris", with("redirect_uris", json!(too_many))),
            (
                "redirect_uris",
                with("redirect_uris", json!(["http://photos.example/cb"])),
            ),
            (
                "redirect_uris",
                with("redirect_uris", json!(["https://photos.example/cb#frag"])),
            ),
            (
                "post_logout_redirect_uris",
                with("post_logout_redirect_uris", json!(["/relative"])),
            ),
            ("scope", with("scope", json!("openid api:admin"))),
            (
                "token_endpoint_auth_method",
                with("token_endpoint_auth_method", json!("private_key_jwt")),
            ),
            ("skip_consent", with("skip_consent", json!(true))),
            (
                "grant_types",
                with("grant_types", json!(["client_credentials"])),
            ),
            (
                "redirect_uris",
                with("redirect_uris", json!("https://a.example")),
            ),
        ];
        for (field, body) in cases {
            let (status, answer) = register(&app, &token, &body).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{field}: {answer}");
            let reason = answer["error"]["reason"].as_str().expect("reason");
            assert!(reason.contains(field), "{field}: {reason}");
        }
        assert!(my_clients(&app, &token).await.is_empty());
    }
}

#[tokio::test]
async fn a_person_may_own_at_most_25_clients() {
    for app in TestApp::all("uc_cap").await {
        let (_, token) = app.session_for_new_identity("many@example.com").await;
        for _ in 0..25 {
            let (status, body) = register(&app, &token, &app_body()).await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
        }
        // Deactivated clients still count.
        let first = my_clients(&app, &token).await[0]["client_id"]
            .as_str()
            .expect("id")
            .to_owned();
        assert_eq!(deactivate(&app, &token, &first).await.0, StatusCode::OK);
        let (status, body) = register(&app, &token, &app_body()).await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        assert_eq!(body["error"]["id"], "client_limit_reached");
        assert_eq!(my_clients(&app, &token).await.len(), 25);

        // Pages: keyset cursor in the Link header.
        let response = app
            .public_request(Method::GET, "/api/user/clients?page_size=10")
            .header("X-Session-Token", &token)
            .send()
            .await
            .expect("sends");
        let link = response.headers()[header::LINK]
            .to_str()
            .expect("ascii")
            .to_owned();
        let page: Vec<Value> = response.json().await.expect("json");
        assert_eq!(page.len(), 10);
        assert!(link.contains("page_token="), "{link}");

        // Someone else is not affected.
        let (_, other) = app.session_for_new_identity("other@example.com").await;
        assert_eq!(
            register(&app, &other, &app_body()).await.0,
            StatusCode::CREATED
        );
    }
}

#[tokio::test]
async fn people_see_and_deactivate_only_their_own_clients() {
    for app in TestApp::all("uc_own").await {
        let (_, ada) = app.session_for_new_identity("ada@example.com").await;
        let (_, bob) = app.session_for_new_identity("bob@example.com").await;
        let (_, created) = register(&app, &ada, &app_body()).await;
        let id = created["client_id"].as_str().expect("id").to_owned();
        let secret = created["client_secret"]
            .as_str()
            .expect("secret")
            .to_owned();
        let operator = app
            .create_client(
                json!({"client_name": "operator's", "grant_types": ["client_credentials"]}),
            )
            .await;
        let operator_id = operator["client_id"].as_str().expect("id");

        assert!(my_clients(&app, &bob).await.is_empty());
        let (status, body) = deactivate(&app, &bob, &id).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
        let (status, _) = deactivate(&app, &ada, operator_id).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(admin_client(&app, &id).await["active"], true);
        assert_eq!(admin_client(&app, operator_id).await["active"], true);

        // Deactivation needs a session and JSON too.
        let (status, _) = json_of(
            app.public_request(Method::POST, &format!("/api/user/clients/{id}/deactivate"))
                .send()
                .await
                .expect("sends"),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let (status, _) = json_of(
            app.public_request(Method::POST, &format!("/api/user/clients/{id}/deactivate"))
                .header("X-Session-Token", &ada)
                .form(&[("x", "y")])
                .send()
                .await
                .expect("sends"),
        )
        .await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);

        let (status, body) = deactivate(&app, &ada, &id).await;
        assert_eq!(status, StatusCode::OK, "{}: {body}", app.backend);
        assert_eq!(body["active"], false);
        assert_eq!(my_clients(&app, &ada).await[0]["active"], false);
        // A deactivated client cannot authenticate any more.
        assert_eq!(
            token_error(&app, &id, &secret).await,
            (StatusCode::UNAUTHORIZED, "invalid_client".to_owned()),
            "{}",
            app.backend
        );
        let (status, _) = json_of(
            app.public_request(Method::POST, "/oauth2/introspect")
                .basic_auth(&id, Some(&secret))
                .form(&[("token", "whatever")])
                .send()
                .await
                .expect("sends"),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn deleting_the_owner_deactivates_their_clients_and_clears_the_owner() {
    for app in TestApp::all("uc_owner_gone").await {
        let (owner, token) = app.session_for_new_identity("gone@example.com").await;
        let (_, created) = register(&app, &token, &app_body()).await;
        let id = created["client_id"].as_str().expect("id").to_owned();
        let secret = created["client_secret"]
            .as_str()
            .expect("secret")
            .to_owned();
        // Warm this node's client cache: deletion must not leave a stale active copy there.
        assert_eq!(
            token_error(&app, &id, &secret).await.1,
            "unauthorized_client"
        );

        let response = app
            .admin_request(Method::DELETE, &format!("/admin/identities/{owner}"))
            .send()
            .await
            .expect("sends");
        assert_eq!(response.status(), StatusCode::NO_CONTENT);

        let client = admin_client(&app, &id).await;
        assert_eq!(client["active"], false, "{}: {client}", app.backend);
        assert_eq!(client["owner_identity_id"], Value::Null);
        assert_eq!(
            token_error(&app, &id, &secret).await,
            (StatusCode::UNAUTHORIZED, "invalid_client".to_owned())
        );
    }
}

/// The signed-in browser on the account page.
async fn browser_for(app: &TestApp, email: &str) -> (Browser, String) {
    let (_, token) = app.session_for_new_identity(email).await;
    let mut browser = Browser::new(&app.public);
    browser
        .cookies
        .insert("gatehouse_session".to_owned(), token.clone());
    let page = browser.get("/ui/account").await;
    assert_eq!(page.status, StatusCode::OK, "{}", app.backend);
    (browser, token)
}

fn between<'a>(html: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let at = html.find(start)? + start.len();
    Some(&html[at..at + html[at..].find(end)?])
}

#[tokio::test]
async fn the_account_page_registers_lists_and_deactivates_applications() {
    for app in TestApp::all("uc_account").await {
        let (mut browser, token) = browser_for(&app, "page@example.com").await;
        let page = browser.get("/ui/account").await;
        for label in [
            "Your applications",
            "Register an application",
            "Application name",
            "Redirect URIs",
        ] {
            assert!(page.body.contains(label), "{label}");
        }
        let csrf = page.input_value("csrf_token").expect("csrf field");

        // Without the CSRF field: a 403 page, nothing registered.
        let refused = browser
            .post_form(
                "/ui/account/applications",
                &[
                    ("client_name", "Forged"),
                    ("redirect_uris", "https://evil.example/cb"),
                ],
            )
            .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        assert!(refused.body.contains("<html"), "an HTML page");
        assert!(my_clients(&app, &token).await.is_empty());

        // A wrong field renders the account page with the error and the values kept.
        let bad = browser
            .post_form(
                "/ui/account/applications",
                &[
                    ("csrf_token", &csrf),
                    ("client_name", "Notes"),
                    ("redirect_uris", "http://notes.example/cb"),
                ],
            )
            .await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
        assert!(
            bad.headers[header::CONTENT_TYPE]
                .to_str()
                .expect("ascii")
                .starts_with("text/html")
        );
        assert!(bad.body.contains("Redirect URIs: "), "{}", bad.body);
        assert!(bad.body.contains("value=\"Notes\""));

        let created = browser
            .post_form(
                "/ui/account/applications",
                &[
                    ("csrf_token", &csrf),
                    ("client_name", "Notes"),
                    ("description", "My notes app"),
                    ("website_url", "https://notes.example"),
                    (
                        "redirect_uris",
                        "https://notes.example/cb\r\nhttp://localhost:8080/cb\r\n",
                    ),
                ],
            )
            .await;
        assert_eq!(created.status, StatusCode::OK, "{}", created.body);
        assert_eq!(created.headers[header::CACHE_CONTROL], "no-store");
        let id = between(&created.body, "id=\"client-id\">", "<")
            .expect("client id shown")
            .to_owned();
        let secret = between(&created.body, "id=\"client-secret\">", "<")
            .expect("secret shown once")
            .to_owned();
        assert!(secret.len() >= 43);
        assert_eq!(
            token_error(&app, &id, &secret).await.1,
            "unauthorized_client",
            "the shown secret authenticates the client"
        );

        let mine = my_clients(&app, &token).await;
        assert_eq!(mine.len(), 1);
        assert_eq!(
            mine[0]["redirect_uris"],
            json!(["https://notes.example/cb", "http://localhost:8080/cb"])
        );

        // The account page lists it, without the secret.
        let page = browser.get("/ui/account").await;
        assert!(page.body.contains("Notes"));
        assert!(page.body.contains(&id));
        assert!(page.body.contains("Active"));
        assert!(
            !page.body.contains(&secret),
            "the secret is never shown again"
        );
        let action = format!("/ui/account/applications/{id}/deactivate");
        assert!(page.body.contains(&action));
        assert!(page.body.contains(">Deactivate</button>"));

        // Someone else's form post (their own session and CSRF) cannot deactivate it.
        let (mut other, _) = browser_for(&app, "other@example.com").await;
        let other_page = other.get("/ui/account").await;
        let other_csrf = other_page.input_value("csrf_token").expect("csrf");
        let denied = other
            .post_form(&action, &[("csrf_token", &other_csrf)])
            .await;
        assert_eq!(denied.status, StatusCode::NOT_FOUND);

        let missing_csrf = browser.post_form(&action, &[]).await;
        assert_eq!(missing_csrf.status, StatusCode::FORBIDDEN);
        assert_eq!(my_clients(&app, &token).await[0]["active"], true);

        let done = browser.post_form(&action, &[("csrf_token", &csrf)]).await;
        assert_eq!(done.status, StatusCode::SEE_OTHER);
        assert_eq!(done.location.as_deref(), Some("/ui/account"));
        let page = browser.follow(done).await;
        assert!(page.body.contains("The application has been deactivated"));
        assert!(page.body.contains("Inactive"));
        assert!(
            !page.body.contains(&action),
            "no button for an inactive client"
        );
        assert_eq!(
            token_error(&app, &id, &secret).await,
            (StatusCode::UNAUTHORIZED, "invalid_client".to_owned())
        );
    }
}
