//! Self-service inside a tenant (issue 8, point 6): flows created with `?tenant=` (or by the
//! authorization endpoint for a client of the tenant) keep their tenant; registration, login and
//! recovery through the pages and the API; one session cookie per tenant; isolation between
//! tenants; the pages show the app's name.

use crate::oidc::{auth_url, claims_of, decide, exchange, follow_to_client, web_client};
use crate::selfservice::{encode, six_digits, submit};
use crate::support::app::json_of;
use crate::support::browser::Page;
use crate::support::{Browser, TestApp};
use crate::tenants::create_tenant;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

pub(crate) const STRONG: &str = "correct horse battery staple 93";
const OTHER: &str = "violet-anchor-meadow-58";

/// The session cookie of `tenant` (the default tenant's is plain `gatehouse_session`).
fn cookie_name(tenant: &str) -> String {
    format!("gatehouse_session_{}", tenant.replace('-', ""))
}

/// The six-digit code in the newest message of `template_type` to `address` in `tenant`'s
/// outbox (waiting a little: codes are queued just after the answer).
pub(crate) async fn code_in(
    app: &TestApp,
    tenant: &str,
    address: &str,
    template_type: &str,
) -> String {
    for _ in 0..100 {
        let (status, body) = json_of(
            app.admin_request(
                Method::GET,
                &format!(
                    "/admin/courier/messages?tenant_id={tenant}&recipient={}",
                    encode(address)
                ),
            )
            .send()
            .await
            .expect("sends"),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        if let Some(message) = body
            .as_array()
            .and_then(|m| m.iter().find(|m| m["template_type"] == template_type))
        {
            return six_digits(message["body"].as_str().expect("body")).expect("a code");
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("no message to {address} in {tenant}");
}

/// `GET /self-service/{kind}/api?tenant=`: the status and the flow.
async fn api_flow_in(app: &TestApp, kind: &str, tenant: &str) -> (StatusCode, Value) {
    json_of(
        app.public_request(
            Method::GET,
            &format!("/self-service/{kind}/api?tenant={tenant}"),
        )
        .send()
        .await
        .expect("sends"),
    )
    .await
}

/// Registers `address` in `tenant` through the API flows (code included); the session token.
pub(crate) async fn register_api(
    app: &TestApp,
    tenant: &str,
    address: &str,
    password: &str,
) -> String {
    let (status, flow) = api_flow_in(app, "registration", tenant).await;
    assert_eq!(status, StatusCode::OK, "{}: {flow}", app.backend);
    let flow = flow["id"].as_str().expect("id").to_owned();
    let (status, body) = submit(
        app,
        "registration",
        &flow,
        json!({"method": "password", "traits": {"email": address}, "password": password}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{}: {body}", app.backend);
    let code = code_in(app, tenant, address, "registration_code").await;
    let (status, body) = submit(
        app,
        "registration",
        &flow,
        json!({"method": "code", "code": code}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{}: {body}", app.backend);
    assert_eq!(body["identity"]["tenant_id"], tenant, "{body}");
    body["session_token"].as_str().expect("token").to_owned()
}

/// Signs in with the API login flow of `tenant`: the status and the answer.
async fn login_api(
    app: &TestApp,
    tenant: &str,
    address: &str,
    password: &str,
) -> (StatusCode, Value) {
    let (status, flow) = api_flow_in(app, "login", tenant).await;
    assert_eq!(status, StatusCode::OK, "{}: {flow}", app.backend);
    submit(
        app,
        "login",
        flow["id"].as_str().expect("id"),
        json!({"method": "password", "identifier": address, "password": password}),
    )
    .await
}

/// `GET /sessions/whoami` (`?tenant=` when given) with the session token.
pub(crate) async fn whoami(
    app: &TestApp,
    tenant: Option<&str>,
    token: &str,
) -> (StatusCode, Value) {
    let path = match tenant {
        Some(tenant) => format!("/sessions/whoami?tenant={tenant}"),
        None => "/sessions/whoami".to_owned(),
    };
    json_of(
        app.public_request(Method::GET, &path)
            .header("X-Session-Token", token)
            .send()
            .await
            .expect("sends"),
    )
    .await
}

/// Fills in the registration page `page` and the code that follows; the answer to the code.
pub(crate) async fn register_on_page(
    app: &TestApp,
    browser: &mut Browser,
    page: &Page,
    tenant: &str,
    address: &str,
) -> Page {
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let csrf = page.input_value("csrf_token").expect("csrf");
    let action = page.form_action().expect("action");
    let sent = browser
        .post_form(
            &action,
            &[
                ("csrf_token", &csrf),
                ("traits.email", address),
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
    let code = code_in(app, tenant, address, "registration_code").await;
    let csrf = code_page.input_value("csrf_token").expect("csrf");
    let done = browser
        .post_form(
            &action,
            &[("csrf_token", &csrf), ("code", &code), ("method", "code")],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    done
}

/// Posts the login page `page`.
pub(crate) async fn sign_in_on_page(
    browser: &mut Browser,
    page: &Page,
    address: &str,
    password: &str,
) -> Page {
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let csrf = page.input_value("csrf_token").expect("csrf");
    let action = page.form_action().expect("action");
    browser
        .post_form(
            &action,
            &[
                ("csrf_token", &csrf),
                ("identifier", address),
                ("password", password),
                ("method", "password"),
            ],
        )
        .await
}

#[tokio::test]
async fn registration_login_and_recovery_work_in_a_tenant_through_the_pages() {
    for app in TestApp::all("tenant_pages").await {
        let blog = create_tenant(&app, "Blog").await;
        let address = "reader@example.com";

        // Registration: the page names the app, its links keep the tenant.
        let mut browser = Browser::new(&app.public);
        let start = browser
            .get(&format!("/self-service/registration/browser?tenant={blog}"))
            .await;
        assert_eq!(start.status, StatusCode::SEE_OTHER, "{}", start.body);
        let page = browser.follow(start).await;
        assert!(
            page.body.contains("Create an account for Blog"),
            "{}",
            page.body
        );
        assert!(
            page.body.contains(&format!("/ui/login?tenant={blog}")),
            "the link to sign in keeps the tenant: {}",
            page.body
        );
        let done = register_on_page(&app, &mut browser, &page, &blog, address).await;
        assert!(
            done.location
                .as_deref()
                .is_some_and(|l| l.ends_with("/ui/account")),
            "{:?}",
            done.location
        );
        assert!(
            browser.cookies.contains_key(&cookie_name(&blog)),
            "{:?}",
            browser.cookies
        );
        assert!(
            !browser.cookies.contains_key("gatehouse_session"),
            "no default-tenant session: {:?}",
            browser.cookies
        );
        let who = browser
            .get(&format!("/sessions/whoami?tenant={blog}"))
            .await;
        assert_eq!(who.status, StatusCode::OK, "{}", who.body);
        let who: Value = serde_json::from_str(&who.body).expect("json");
        assert_eq!(who["identity"]["tenant_id"], blog.as_str());
        assert_eq!(who["identity"]["traits"]["email"], address);
        assert_eq!(
            browser.get("/sessions/whoami").await.status,
            StatusCode::UNAUTHORIZED
        );
        // Signed in to Blog: its login page sends the browser on; the default tenant's does not.
        let again = browser
            .get(&format!("/self-service/login/browser?tenant={blog}"))
            .await;
        assert!(
            again
                .location
                .as_deref()
                .is_some_and(|l| l.ends_with("/ui/account")),
            "{:?}",
            again.location
        );
        let default_login = browser.get("/self-service/login/browser").await;
        assert!(
            default_login
                .location
                .as_deref()
                .is_some_and(|l| l.starts_with("/ui/login?flow=")),
            "{:?}",
            default_login.location
        );

        // The account page of the tenant asked for; the default tenant's asks to sign in.
        let account = browser.get(&format!("/ui/account?tenant={blog}")).await;
        assert_eq!(account.status, StatusCode::OK, "{}", account.body);
        assert!(
            account.body.contains("Your Blog account"),
            "{}",
            account.body
        );
        assert!(account.body.contains(address), "{}", account.body);
        assert!(
            account
                .body
                .contains(&format!("/self-service/settings/browser?tenant={blog}")),
            "{}",
            account.body
        );
        let default_account = browser.get("/ui/account").await;
        assert_eq!(default_account.status, StatusCode::SEE_OTHER);
        let signed_out = browser
            .get(&format!("/ui/account?tenant={}", uuid::Uuid::new_v4()))
            .await;
        assert_eq!(signed_out.status, StatusCode::SEE_OTHER);

        // Logout ends the Blog session and clears its cookie.
        let logout = browser
            .get(&format!("/self-service/logout/browser?tenant={blog}"))
            .await;
        assert_eq!(logout.status, StatusCode::OK, "{}", logout.body);
        let logout: Value = serde_json::from_str(&logout.body).expect("json");
        let url = logout["logout_url"]
            .as_str()
            .expect("logout_url")
            .to_owned();
        assert!(url.contains(&format!("tenant={blog}")), "{url}");
        let out = browser.get(&url).await;
        assert_eq!(out.status, StatusCode::SEE_OTHER, "{}", out.body);
        assert!(
            !browser.cookies.contains_key(&cookie_name(&blog)),
            "{:?}",
            browser.cookies
        );
        assert_eq!(
            browser
                .get(&format!("/sessions/whoami?tenant={blog}"))
                .await
                .status,
            StatusCode::UNAUTHORIZED
        );

        // Login in a fresh browser, from the page without a flow.
        let mut other = Browser::new(&app.public);
        let start = other.get(&format!("/ui/login?tenant={blog}")).await;
        let page = other.follow(start).await;
        assert!(
            page.body.contains("<h1>Sign in to Blog</h1>"),
            "{}",
            page.body
        );
        assert!(
            page.body.contains("Sign in to Blog · Gatehouse"),
            "{}",
            page.body
        );
        for label in ["Email", "Password", "Sign in"] {
            assert!(page.body.contains(label), "{label}: {}", page.body);
        }
        assert!(
            page.body.contains(&format!("/ui/recovery?tenant={blog}")),
            "{}",
            page.body
        );
        assert!(
            page.body
                .contains(&format!("/ui/registration?tenant={blog}")),
            "{}",
            page.body
        );
        let signed_in = sign_in_on_page(&mut other, &page, address, STRONG).await;
        assert_eq!(
            signed_in.status,
            StatusCode::SEE_OTHER,
            "{}",
            signed_in.body
        );
        assert!(other.cookies.contains_key(&cookie_name(&blog)));
        let who = other.get(&format!("/sessions/whoami?tenant={blog}")).await;
        assert_eq!(who.status, StatusCode::OK, "{}", who.body);

        // Recovery: a code from Blog's outbox, a Blog session, Blog's settings page.
        let mut lost = Browser::new(&app.public);
        let start = lost
            .get(&format!("/self-service/recovery/browser?tenant={blog}"))
            .await;
        let page = lost.follow(start).await;
        assert!(
            page.body.contains("Recover your Blog account"),
            "{}",
            page.body
        );
        let csrf = page.input_value("csrf_token").expect("csrf");
        let action = page.form_action().expect("action");
        let sent = lost
            .post_form(
                &action,
                &[
                    ("csrf_token", &csrf),
                    ("email", address),
                    ("method", "code"),
                ],
            )
            .await;
        assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.body);
        let code_page = lost.follow(sent).await;
        assert!(
            code_page.body.contains("Recovery code"),
            "{}",
            code_page.body
        );
        let code = code_in(&app, &blog, address, "recovery_code").await;
        let csrf = code_page.input_value("csrf_token").expect("csrf");
        let recovered = lost
            .post_form(
                &action,
                &[("csrf_token", &csrf), ("code", &code), ("method", "code")],
            )
            .await;
        assert_eq!(
            recovered.status,
            StatusCode::SEE_OTHER,
            "{}",
            recovered.body
        );
        assert!(lost.cookies.contains_key(&cookie_name(&blog)));
        let settings = lost.follow(recovered).await;
        assert_eq!(settings.status, StatusCode::OK, "{}", settings.body);
        assert!(
            settings.body.contains("Blog account settings"),
            "{}",
            settings.body
        );
        let csrf = settings.input_value("csrf_token").expect("csrf");
        let action = settings.form_action().expect("action");
        let saved = lost
            .post_form(
                &action,
                &[
                    ("csrf_token", &csrf),
                    ("traits.email", address),
                    ("password", OTHER),
                    ("method", "profile"),
                ],
            )
            .await;
        assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
        let (status, body) = login_api(&app, &blog, address, OTHER).await;
        assert_eq!(status, StatusCode::OK, "{}: {body}", app.backend);
    }
}

#[tokio::test]
async fn api_flows_work_per_tenant_and_the_same_address_is_two_accounts() {
    for app in TestApp::all("tenant_api_flows").await {
        let blog = create_tenant(&app, "Blog").await;
        let shop = create_tenant(&app, "Shop").await;
        let address = "sam@example.com";

        let blog_token = register_api(&app, &blog, address, STRONG).await;
        let default_token = crate::selfservice::register(&app, address, OTHER).await;

        // Each account signs in only with its own password, only in its own tenant.
        let (status, body) = login_api(&app, &blog, address, STRONG).await;
        assert_eq!(status, StatusCode::OK, "{}: {body}", app.backend);
        assert_eq!(body["session"]["identity"]["tenant_id"], blog.as_str());
        let (status, body) = login_api(&app, &blog, address, OTHER).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        let (status, body) = login_api(&app, "", address, STRONG).await;
        assert_eq!(
            status,
            StatusCode::BAD_REQUEST,
            "the default tenant's flow: {body}"
        );
        let (status, body) = login_api(&app, &shop, address, STRONG).await;
        assert_eq!(
            status,
            StatusCode::BAD_REQUEST,
            "another tenant's flow: {body}"
        );
        let (status, body) = login_api(&app, "", address, OTHER).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_ne!(
            body["session"]["identity"]["id"], blog_token,
            "two different accounts"
        );

        // A session is a session of its tenant only.
        let (status, who) = whoami(&app, Some(&blog), &blog_token).await;
        assert_eq!(status, StatusCode::OK, "{who}");
        assert_eq!(who["identity"]["tenant_id"], blog.as_str());
        assert_eq!(
            whoami(&app, None, &blog_token).await.0,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            whoami(&app, Some(&shop), &blog_token).await.0,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            whoami(&app, Some(&blog), &default_token).await.0,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(whoami(&app, None, &default_token).await.0, StatusCode::OK);

        // Settings through the API in Blog: the flow is the session's tenant's.
        let settings = |tenant: Option<&str>| {
            let path = match tenant {
                Some(tenant) => format!("/self-service/settings/api?tenant={tenant}"),
                None => "/self-service/settings/api".to_owned(),
            };
            app.public_request(Method::GET, &path)
                .header("X-Session-Token", &blog_token)
                .send()
        };
        let (status, _) = json_of(settings(None).await.expect("sends")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let (status, flow) = json_of(settings(Some(&blog)).await.expect("sends")).await;
        assert_eq!(status, StatusCode::OK, "{flow}");
        assert_eq!(flow["identity"]["tenant_id"], blog.as_str());
        let (status, body) = crate::selfservice::save_settings(
            &app,
            flow["id"].as_str().expect("id"),
            &blog_token,
            json!({"method": "profile", "traits": {"email": address, "first_name": "Sam"}}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{}: {body}", app.backend);
        assert_eq!(body["identity"]["traits"]["first_name"], "Sam", "{body}");
        // The default tenant's account with the same address did not change.
        let (_, who) = whoami(&app, None, &default_token).await;
        assert!(
            who["identity"]["traits"]
                .get("first_name")
                .is_none_or(|n| n != "Sam"),
            "{who}"
        );

        // Recovery through the API in Blog.
        let (status, flow) = api_flow_in(&app, "recovery", &blog).await;
        assert_eq!(status, StatusCode::OK, "{flow}");
        let flow = flow["id"].as_str().expect("id").to_owned();
        let (status, body) = submit(
            &app,
            "recovery",
            &flow,
            json!({"method": "code", "email": address}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        // Blog's own outbox has the code (the registration code was the first message).
        let code = code_in(&app, &blog, address, "recovery_code").await;
        let (status, body) = submit(
            &app,
            "recovery",
            &flow,
            json!({"method": "code", "code": code}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{}: {body}", app.backend);
        let recovered = body["session_token"].as_str().expect("token");
        let (status, who) = whoami(&app, Some(&blog), recovered).await;
        assert_eq!(status, StatusCode::OK, "{who}");
        assert_eq!(who["identity"]["tenant_id"], blog.as_str());

        // Audit events land in the tenant.
        let (status, events) = json_of(
            app.admin_request(
                Method::GET,
                &format!("/admin/audit-events?tenant_id={blog}"),
            )
            .send()
            .await
            .expect("sends"),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{events}");
        let text = events.to_string();
        for kind in [
            "registration_succeeded",
            "login_succeeded",
            "login_failed",
            "recovery_succeeded",
        ] {
            assert!(text.contains(kind), "{kind}: {text}");
        }
    }
}

#[tokio::test]
async fn an_unknown_or_malformed_tenant_is_a_clear_client_error() {
    for app in TestApp::all("tenant_param_errors").await {
        let unknown = uuid::Uuid::new_v4();
        for kind in ["login", "registration", "recovery", "verification"] {
            let (status, body) = api_flow_in(&app, kind, &unknown.to_string()).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{kind}: {body}");
            assert_eq!(body["error"]["id"], "tenant_not_found", "{body}");
            let (status, body) = api_flow_in(&app, kind, "not-a-tenant").await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{kind}: {body}");
            assert_eq!(body["error"]["id"], "invalid_tenant", "{body}");
        }
        let mut browser = Browser::new(&app.public);
        let page = browser
            .get(&format!("/self-service/login/browser?tenant={unknown}"))
            .await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{}", page.body);
        let (status, body) = json_of(
            app.public_request(Method::GET, "/sessions/whoami?tenant=nope")
                .send()
                .await
                .expect("sends"),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    }
}

#[tokio::test]
async fn an_oauth_client_of_another_tenant_signs_in_that_tenants_people_only() {
    for app in TestApp::all("tenant_oauth_isolation").await {
        let blog = create_tenant(&app, "Blog").await;
        let (client_id, secret) = web_client(&app, json!({"tenant_id": blog})).await;
        let outsider = "dave@example.com";
        crate::selfservice::register(&app, outsider, STRONG).await;

        // A browser signed in to the default tenant.
        let mut browser = Browser::new(&app.public);
        let start = browser.get("/self-service/login/browser").await;
        let page = browser.follow(start).await;
        let signed_in = sign_in_on_page(&mut browser, &page, outsider, STRONG).await;
        assert_eq!(
            signed_in.status,
            StatusCode::SEE_OTHER,
            "{}",
            signed_in.body
        );
        assert!(browser.cookies.contains_key("gatehouse_session"));

        // The default-tenant session does not satisfy Blog's client: Blog's login page.
        let start = browser
            .get(&auth_url(&client_id, "openid email", &[]))
            .await;
        let login = follow_to_client(&mut browser, start).await;
        assert_eq!(login.status, StatusCode::OK, "{}", login.body);
        assert!(login.body.contains("Sign in to Blog"), "{}", login.body);
        // Nor can the default tenant's person sign in there.
        let refused = sign_in_on_page(&mut browser, &login, outsider, STRONG).await;
        let refused = follow_to_client(&mut browser, refused).await;
        assert!(
            !refused
                .location
                .as_deref()
                .is_some_and(|l| l.contains("code=")),
            "{}: a default-tenant person got a code for Blog's client: {:?}",
            app.backend,
            refused.location
        );
        assert!(
            refused.body.contains("credentials are invalid"),
            "{}",
            refused.body
        );

        // A Blog person registers on Blog's page (linked from its login page), consents, and
        // the client gets a code and a token of Blog.
        let link_at = login
            .body
            .find("/ui/registration?")
            .expect("a link to register");
        let link_end = link_at + login.body[link_at..].find('"').expect("end of link");
        let link = login.body[link_at..link_end]
            .replace("&#x2f;", "/")
            .replace("&amp;", "&");
        assert!(link.contains(&format!("tenant={blog}")), "{link}");
        let start = browser.get(&link).await;
        let page = browser.follow(start).await;
        assert!(
            page.body.contains("Create an account for Blog"),
            "{}",
            page.body
        );
        let reader = "reader@example.com";
        let done = register_on_page(&app, &mut browser, &page, &blog, reader).await;
        let consent = follow_to_client(&mut browser, done).await;
        assert_eq!(consent.status, StatusCode::OK, "{}", consent.body);
        assert!(consent.body.contains("Photo Printer"), "{}", consent.body);
        let answered = decide(&mut browser, &consent, &["openid", "email"], false, true).await;
        let location = answered.location.expect("back to the client");
        let code = crate::oidc::param(&location, "code").expect("a code");
        let (status, tokens) = exchange(
            &app,
            &client_id,
            &secret,
            &[("code", &code), ("code_verifier", crate::oidc::VERIFIER)],
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{}: {tokens}", app.backend);
        let access = claims_of(tokens["access_token"].as_str().expect("access token"));
        assert_eq!(access["tenant_id"], blog.as_str(), "{access}");
        let id_token = claims_of(tokens["id_token"].as_str().expect("id token"));
        assert_eq!(id_token["tenant_id"], blog.as_str(), "{id_token}");
        assert_eq!(id_token["sub"], access["sub"]);
        // The grant belongs to Blog: the admin API finds it there and nowhere else.
        let subject = access["sub"].as_str().expect("sub");
        let grants = |query: String| {
            let app = &app;
            async move {
                crate::support::app::json_of(
                    app.admin_request(
                        reqwest::Method::GET,
                        &format!("/admin/oauth2/consents?subject={subject}{query}"),
                    )
                    .send()
                    .await
                    .expect("sends"),
                )
                .await
            }
        };
        let (status, listed) = grants(format!("&tenant_id={blog}")).await;
        assert_eq!(status, StatusCode::OK, "{listed}");
        assert_eq!(listed[0]["client_id"], client_id.as_str(), "{listed}");
        let (status, _) = grants(String::new()).await;
        assert_eq!(
            status,
            StatusCode::NOT_FOUND,
            "not a person of the default tenant"
        );

        // Signed in to Blog now: the next request needs no login (consent is asked again, as
        // it was not remembered), and the default-tenant session is still there.
        let start = browser
            .get(&auth_url(&client_id, "openid email", &[]))
            .await;
        let next = follow_to_client(&mut browser, start).await;
        assert!(next.body.contains("Photo Printer"), "{}", next.body);
        assert!(!next.body.contains("Sign in to Blog"), "{}", next.body);
        assert!(browser.cookies.contains_key("gatehouse_session"));
        assert!(browser.cookies.contains_key(&cookie_name(&blog)));

        // RP-initiated logout with the ID token ends the Blog session only.
        let id_token = tokens["id_token"].as_str().expect("id token");
        let out = browser
            .get(&format!(
                "/oauth2/sessions/logout?id_token_hint={id_token}&post_logout_redirect_uri={}",
                encode("https://rp.example/bye")
            ))
            .await;
        assert_eq!(out.status, StatusCode::SEE_OTHER, "{}", out.body);
        assert!(
            out.location
                .as_deref()
                .is_some_and(|l| l.starts_with("https://rp.example/bye")),
            "{:?}",
            out.location
        );
        assert!(!browser.cookies.contains_key(&cookie_name(&blog)));
        assert_eq!(
            browser
                .get(&format!("/sessions/whoami?tenant={blog}"))
                .await
                .status,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(browser.get("/sessions/whoami").await.status, StatusCode::OK);
    }
}

#[tokio::test]
async fn an_app_can_have_its_own_identity_schema() {
    let dir = std::env::temp_dir().join(format!("gatehouse-schema-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(
        dir.join("member.json"),
        r#"{"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
            "properties": {
              "email": {"type": "string", "format": "email", "title": "Email",
                        "gatehouse": {"identifier": true, "verifiable": "email", "recovery": "email"}},
              "member_number": {"type": "string", "title": "Member number", "pattern": "^M[0-9]{3}$"}
            },
            "required": ["email", "member_number"], "additionalProperties": false}"#,
    )
    .expect("writes");
    let files = [("member".to_owned(), dir.join("member.json"))].into();
    let schemas =
        std::sync::Arc::new(gatehouse::config::load_schemas(&files, None).expect("loads"));
    for app in TestApp::all_with("tenant_schema", |config| {
        config.identity.schemas = schemas.clone();
    })
    .await
    {
        let admin = |method: reqwest::Method, path: String, body: serde_json::Value| {
            let app = &app;
            async move {
                crate::support::app::json_of(
                    app.admin_request(method, &path)
                        .json(&body)
                        .send()
                        .await
                        .expect("sends"),
                )
                .await
            }
        };
        let (status, body) = admin(
            reqwest::Method::POST,
            "/admin/tenants".into(),
            serde_json::json!({"name": "Club", "settings": {"identity_schema": "nope"}}),
        )
        .await;
        assert_eq!(status, reqwest::StatusCode::BAD_REQUEST, "{body}");
        let (status, club) = admin(
            reqwest::Method::POST,
            "/admin/tenants".into(),
            serde_json::json!({"name": "Club", "settings": {"identity_schema": "member"}}),
        )
        .await;
        assert_eq!(status, reqwest::StatusCode::CREATED, "{club}");
        assert_eq!(club["settings"]["identity_schema"], "member");
        let tenant = club["id"].as_str().expect("id").to_owned();

        // The app's registration form asks for its traits.
        let flow: serde_json::Value = app
            .public_request(
                reqwest::Method::GET,
                &format!("/self-service/registration/api?tenant={tenant}"),
            )
            .send()
            .await
            .expect("sends")
            .json()
            .await
            .expect("json");
        assert!(
            flow.to_string().contains("traits.member_number"),
            "{}: {flow}",
            app.backend
        );
        // The default tenant's does not.
        let default_flow: serde_json::Value = app
            .public_request(reqwest::Method::GET, "/self-service/registration/api")
            .send()
            .await
            .expect("sends")
            .json()
            .await
            .expect("json");
        assert!(!default_flow.to_string().contains("member_number"));

        // Identities created in the app follow its schema.
        let (status, body) = admin(
            reqwest::Method::POST,
            format!("/admin/identities?tenant_id={tenant}"),
            serde_json::json!({"traits": {"email": "a@club.example"}}),
        )
        .await;
        assert_eq!(status, reqwest::StatusCode::BAD_REQUEST, "{body}");
        assert!(body.to_string().contains("member_number"), "{body}");
        let (status, created) = admin(
            reqwest::Method::POST,
            format!("/admin/identities?tenant_id={tenant}"),
            serde_json::json!({"traits": {"email": "a@club.example", "member_number": "M123"}}),
        )
        .await;
        assert_eq!(status, reqwest::StatusCode::CREATED, "{created}");
        assert_eq!(created["schema_id"], "member");

        // The tenant API's signup has only an address: the app's schema wants more.
        let key = crate::tenants::create_key(&app, &tenant, "backend").await;
        let signup = app
            .public_request(
                reqwest::Method::POST,
                &format!("/api/auth/credentials/signup/{tenant}"),
            )
            .bearer_auth(key["key"].as_str().expect("key"))
            .json(&serde_json::json!({"email": "b@club.example", "password": "tawny-kettle-orbit-93"}))
            .send()
            .await
            .expect("sends");
        assert_eq!(signup.status(), reqwest::StatusCode::BAD_REQUEST);
        let body: serde_json::Value = signup.json().await.expect("json");
        assert_eq!(body["error"]["id"], "invalid_traits", "{body}");
    }
}
