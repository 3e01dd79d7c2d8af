//! The developer console (issue 8, point 2, first slice): developers of the console tenant sign
//! up and in through the self-service pages; they create, rename and delete apps and their API
//! keys; they see only their own apps; every form is CSRF-protected.

use crate::support::app::json_of;
use crate::support::browser::Page;
use crate::support::{Browser, TestApp};
use crate::tenant_selfservice::{STRONG, register_api, register_on_page, sign_in_on_page, whoami};
use crate::tenants::{admin, create_tenant};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const CONSOLE_TENANT: &str = "00000000-0000-0000-0000-000000000002";

/// A browser of a developer who just signed up through the console tenant's registration page
/// (address verified with the emailed code), now on "Your apps".
async fn developer(app: &TestApp, address: &str) -> Browser {
    let mut browser = Browser::new(&app.public);
    let start = browser
        .get(&format!(
            "/self-service/registration/browser?tenant={CONSOLE_TENANT}&return_to=%2Fconsole%2F"
        ))
        .await;
    let page = browser.follow(start).await;
    let done = register_on_page(app, &mut browser, &page, CONSOLE_TENANT, address).await;
    // Verifying the address signs the developer in and returns to the console.
    let console = browser.follow(done).await;
    assert_eq!(console.status, StatusCode::OK, "{}", console.body);
    assert!(console.body.contains("Your apps"), "{}", console.body);
    assert!(console.body.contains(address), "{}", console.body);
    browser
}

/// Posts the form at `path` with the CSRF token of `page` and `fields`.
async fn post(browser: &mut Browser, page: &Page, path: &str, fields: &[(&str, &str)]) -> Page {
    let csrf = page.input_value("csrf_token").expect("a csrf field");
    let mut all = vec![("csrf_token", csrf.as_str())];
    all.extend_from_slice(fields);
    browser.post_form(path, &all).await
}

/// Creates an app named `name` from "Your apps"; its id (from the redirect to its page).
async fn create_app(browser: &mut Browser, name: &str) -> String {
    let list = browser.get("/console/").await;
    let created = post(browser, &list, "/console/apps", &[("name", name)]).await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
    let location = created.location.expect("a location");
    let id = location
        .strip_prefix("/console/apps/")
        .expect("the app's page")
        .to_owned();
    let page = browser.get(&location).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("The app has been created."));
    assert!(
        page.body
            .contains(&format!("<code id=\"app-id\">{id}</code>"))
    );
    id
}

/// Creates an API key on the app's page; the key shown on the answer.
async fn create_key(browser: &mut Browser, app_id: &str, name: &str) -> String {
    let page = browser.get(&format!("/console/apps/{app_id}")).await;
    let created = post(
        browser,
        &page,
        &format!("/console/apps/{app_id}/api-keys"),
        &[("name", name)],
    )
    .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    assert!(created.body.contains("API key created"));
    assert_eq!(created.headers["cache-control"], "no-store");
    let at = created.body.find("<code id=\"api-key\">").expect("the key") + 19;
    let end = at + created.body[at..].find('<').expect("end");
    created.body[at..end].to_owned()
}

async fn signup_through_tenant_api(app: &TestApp, app_id: &str, key: &str) -> (StatusCode, Value) {
    json_of(
        app.public_request(
            Method::POST,
            &format!("/api/auth/credentials/signup/{app_id}"),
        )
        .bearer_auth(key)
        .json(&json!({"email": "bob@example.com", "password": STRONG}))
        .send()
        .await
        .expect("sends"),
    )
    .await
}

async fn events(app: &TestApp, tenant: &str) -> Vec<Value> {
    let (status, events) = admin(
        app,
        Method::GET,
        &format!("/admin/audit-events?tenant_id={tenant}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{events}");
    events.as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn the_console_sends_a_signed_out_developer_to_the_console_sign_in_and_back() {
    for app in TestApp::all("console_signin").await {
        let mut browser = Browser::new(&app.public);
        let first = browser.get("/console/").await;
        assert_eq!(first.status, StatusCode::SEE_OTHER);
        let login = first.location.clone().expect("a location");
        assert_eq!(
            login,
            format!("/ui/login?tenant={CONSOLE_TENANT}&return_to=%2Fconsole%2F")
        );
        let page = browser.follow(first).await;
        assert!(
            page.body.contains("Gatehouse console"),
            "the console tenant's sign-in page: {}",
            page.body
        );
        // `/console` is `/console/`.
        let bare = browser.get("/console").await;
        assert_eq!(bare.location.as_deref(), Some("/console/"));

        let address = "alice@example.com";
        drop(developer(&app, address).await);

        // Signing in again in a fresh browser lands on the console.
        let mut again = Browser::new(&app.public);
        let start = again.get("/console/").await;
        let page = again.follow(start).await;
        let signed_in = sign_in_on_page(&mut again, &page, address, STRONG).await;
        assert_eq!(
            signed_in.status,
            StatusCode::SEE_OTHER,
            "{}",
            signed_in.body
        );
        let console = again.follow(signed_in).await;
        assert_eq!(console.status, StatusCode::OK, "{}", console.body);
        assert!(console.body.contains("Your apps"), "{}", console.body);
        let csp = console.headers["content-security-policy"]
            .to_str()
            .expect("ascii");
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");

        // Unknown console pages are pages, not JSON.
        let missing = again.get("/console/nothing-here").await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
        assert!(missing.body.contains("<html"), "{}", missing.body);

        // The console tenant is built in: the admin API cannot delete it.
        let (status, body) = admin(
            &app,
            Method::DELETE,
            &format!("/admin/tenants/{CONSOLE_TENANT}"),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        assert_eq!(
            body["error"]["reason"],
            "the developer console's tenant cannot be deleted"
        );
    }
}

#[tokio::test]
async fn a_developer_creates_renames_and_deletes_an_app() {
    for app in TestApp::all("console_apps").await {
        let mut browser = developer(&app, "alice@example.com").await;

        // A name that is not one is a message on the page, and nothing is created.
        let list = browser.get("/console/").await;
        assert!(list.body.contains("You have no apps yet."));
        let refused = post(&mut browser, &list, "/console/apps", &[("name", "   ")]).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
        assert!(refused.body.contains("Enter a name."), "{}", refused.body);
        let long = "x".repeat(101);
        let refused = post(&mut browser, &list, "/console/apps", &[("name", &long)]).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST);
        assert!(refused.body.contains("at most 100 characters"));

        let id = create_app(&mut browser, "Alice's Awesome Blog").await;
        let list = browser.get("/console/").await;
        assert!(
            list.body.contains("Alice&#x27;s Awesome Blog"),
            "{}",
            list.body
        );
        assert!(list.body.contains(&id));
        // The app is a tenant like any other, with the built-in scope catalog.
        let (status, tenant) =
            admin(&app, Method::GET, &format!("/admin/tenants/{id}"), None).await;
        assert_eq!(status, StatusCode::OK, "{tenant}");
        assert_eq!(tenant["name"], "Alice's Awesome Blog");

        // Rename: a bad name is refused on the page, a good one is kept.
        let page = browser.get(&format!("/console/apps/{id}")).await;
        let refused = post(
            &mut browser,
            &page,
            &format!("/console/apps/{id}/rename"),
            &[("app_name", "")],
        )
        .await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST);
        assert!(refused.body.contains("Enter a name."));
        let renamed = post(
            &mut browser,
            &page,
            &format!("/console/apps/{id}/rename"),
            &[("app_name", "Alice's Blog")],
        )
        .await;
        assert_eq!(renamed.status, StatusCode::SEE_OTHER, "{}", renamed.body);
        let page = browser.follow(renamed).await;
        assert!(page.body.contains("The app has been renamed."));
        assert!(
            page.body.contains("<h1>Alice&#x27;s Blog</h1>"),
            "{}",
            page.body
        );

        // The audit log names the developer.
        let developer_id = {
            let found = events(&app, &id).await;
            let created = found
                .iter()
                .find(|e| e["event_type"] == "tenant_created")
                .expect("tenant_created");
            assert_eq!(created["actor"], "developer", "{created}");
            let updated = found
                .iter()
                .find(|e| e["event_type"] == "tenant_updated")
                .expect("tenant_updated");
            assert_eq!(updated["actor"], "developer");
            created["details"]["developer_id"]
                .as_str()
                .expect("the developer's id")
                .to_owned()
        };
        let (status, identity) = admin(
            &app,
            Method::GET,
            &format!("/admin/identities/{developer_id}?tenant_id={CONSOLE_TENANT}"),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{identity}");
        assert_eq!(identity["traits"]["email"], "alice@example.com");

        // Delete: a confirmation page first, then the app and all it owns are gone.
        let confirm = browser.get(&format!("/console/apps/{id}/delete")).await;
        assert_eq!(confirm.status, StatusCode::OK);
        assert!(
            confirm.body.contains("Delete Alice&#x27;s Blog?"),
            "{}",
            confirm.body
        );
        let deleted = post(
            &mut browser,
            &confirm,
            &format!("/console/apps/{id}/delete"),
            &[],
        )
        .await;
        assert_eq!(deleted.status, StatusCode::SEE_OTHER, "{}", deleted.body);
        assert_eq!(deleted.location.as_deref(), Some("/console/"));
        let list = browser.follow(deleted).await;
        assert!(
            list.body
                .contains("The app and everything it owned have been deleted.")
        );
        assert!(!list.body.contains(&id));
        let (status, _) = admin(&app, Method::GET, &format!("/admin/tenants/{id}"), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let gone = browser.get(&format!("/console/apps/{id}")).await;
        assert_eq!(gone.status, StatusCode::NOT_FOUND);
        let deletion = events(&app, "00000000-0000-0000-0000-000000000001")
            .await
            .into_iter()
            .find(|e| e["event_type"] == "tenant_deleted")
            .expect("tenant_deleted");
        assert_eq!(deletion["actor"], "developer");
        assert_eq!(deletion["details"]["developer_id"], developer_id.as_str());
    }
}

#[tokio::test]
async fn a_developer_creates_lists_and_revokes_api_keys_that_work_in_the_tenant_api() {
    for app in TestApp::all("console_keys").await {
        let mut browser = developer(&app, "alice@example.com").await;
        let id = create_app(&mut browser, "Blog").await;

        let page = browser.get(&format!("/console/apps/{id}")).await;
        assert!(page.body.contains("This app has no API keys."));
        let refused = post(
            &mut browser,
            &page,
            &format!("/console/apps/{id}/api-keys"),
            &[("name", "")],
        )
        .await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST);
        assert!(refused.body.contains("Enter a name."));

        let key = create_key(&mut browser, &id, "production backend").await;
        assert!(key.starts_with("ghk_") && key.len() == 47, "{key}");

        // Listed by prefix with its times; the key itself is never shown again.
        let page = browser.get(&format!("/console/apps/{id}")).await;
        assert!(page.body.contains("production backend"));
        assert!(page.body.contains(&key[..12]), "{}", page.body);
        assert!(!page.body.contains(&key[12..]));
        assert!(page.body.contains("Never"));

        // The reference's workflow B: the app's backend signs a user up with the key.
        let (status, body) = signup_through_tenant_api(&app, &id, &key).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_eq!(body["identity"]["tenant_id"], id.as_str(), "{body}");
        let page = browser.get(&format!("/console/apps/{id}")).await;
        assert!(
            !page.body.contains("Never"),
            "last used is shown: {}",
            page.body
        );

        // Revoke: the key stops working.
        let (status, keys) = admin(
            &app,
            Method::GET,
            &format!("/admin/tenants/{id}/api-keys"),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let key_id = keys[0]["id"].as_str().expect("id").to_owned();
        let revoked = post(
            &mut browser,
            &page,
            &format!("/console/apps/{id}/api-keys/{key_id}/revoke"),
            &[],
        )
        .await;
        assert_eq!(revoked.status, StatusCode::SEE_OTHER, "{}", revoked.body);
        let page = browser.follow(revoked).await;
        assert!(page.body.contains("The API key has been revoked."));
        assert!(page.body.contains("This app has no API keys."));
        let (status, _) = signup_through_tenant_api(&app, &id, &key).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let again = post(
            &mut browser,
            &page,
            &format!("/console/apps/{id}/api-keys/{key_id}/revoke"),
            &[],
        )
        .await;
        assert_eq!(again.status, StatusCode::NOT_FOUND);

        let found = events(&app, &id).await;
        for kind in ["api_key_created", "api_key_revoked"] {
            let event = found
                .iter()
                .find(|e| e["event_type"] == kind)
                .expect("the event");
            assert_eq!(event["actor"], "developer", "{event}");
            assert!(!event.to_string().contains(&key[12..]));
        }
    }
}

#[tokio::test]
async fn developers_see_and_change_only_their_own_apps() {
    for app in TestApp::all("console_isolation").await {
        let mut alice = developer(&app, "alice@example.com").await;
        let mut bob = developer(&app, "bob@example.com").await;
        let blog = create_app(&mut alice, "Alice's blog").await;
        let key = create_key(&mut alice, &blog, "backend").await;
        let shop = create_app(&mut bob, "Bob's shop").await;
        // Apps made through the admin API, and the built-in tenants, are nobody's.
        let operators = create_tenant(&app, "Operators' app").await;

        let list = bob.get("/console/").await;
        assert!(list.body.contains(&shop));
        assert!(!list.body.contains(&blog), "{}", list.body);
        assert!(!list.body.contains(&operators));
        assert!(
            !list
                .body
                .contains(&format!("/console/apps/{CONSOLE_TENANT}"))
        );

        let bobs_page = bob.get(&format!("/console/apps/{shop}")).await;
        for id in [
            blog.as_str(),
            operators.as_str(),
            CONSOLE_TENANT,
            "00000000-0000-0000-0000-000000000001",
            "not-an-id",
        ] {
            let read = bob.get(&format!("/console/apps/{id}")).await;
            assert_eq!(read.status, StatusCode::NOT_FOUND, "{id}");
            assert!(read.body.contains("You have no app with this id."));
            for page in ["delete", "clients", "users", "audit"] {
                let read = bob.get(&format!("/console/apps/{id}/{page}")).await;
                assert_eq!(read.status, StatusCode::NOT_FOUND, "{id}/{page}");
            }
            for (path, fields) in [
                (
                    format!("/console/apps/{id}/rename"),
                    vec![("app_name", "Mine now")],
                ),
                (format!("/console/apps/{id}/delete"), vec![]),
                (
                    format!("/console/apps/{id}/api-keys"),
                    vec![("name", "stolen")],
                ),
                (
                    format!("/console/apps/{id}/clients"),
                    vec![("name", "stolen")],
                ),
            ] {
                let answer = post(&mut bob, &bobs_page, &path, &fields).await;
                assert_eq!(answer.status, StatusCode::NOT_FOUND, "{path}");
            }
        }
        // Alice's key, revoked through Bob's app or Bob's session: not found either.
        let (_, keys) = admin(
            &app,
            Method::GET,
            &format!("/admin/tenants/{blog}/api-keys"),
            None,
        )
        .await;
        let key_id = keys[0]["id"].as_str().expect("id").to_owned();
        for path in [
            format!("/console/apps/{blog}/api-keys/{key_id}/revoke"),
            format!("/console/apps/{shop}/api-keys/{key_id}/revoke"),
        ] {
            let answer = post(&mut bob, &bobs_page, &path, &[]).await;
            assert_eq!(answer.status, StatusCode::NOT_FOUND, "{path}");
        }

        // Alice's user, changed through her app or Bob's: not found either.
        let (status, body) = tenant_api(&app, &blog, &key, "signup", "carol@example.com").await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let user = body["identity"]["id"].as_str().expect("id").to_owned();
        for app_id in [&blog, &shop] {
            let read = bob
                .get(&format!("/console/apps/{app_id}/users/{user}/delete"))
                .await;
            assert_eq!(read.status, StatusCode::NOT_FOUND, "{app_id}");
            for action in ["disable", "enable", "delete"] {
                let path = format!("/console/apps/{app_id}/users/{user}/{action}");
                let answer = post(&mut bob, &bobs_page, &path, &[]).await;
                assert_eq!(answer.status, StatusCode::NOT_FOUND, "{path}");
            }
        }
        let (_, identity) = admin(
            &app,
            Method::GET,
            &format!("/admin/identities/{user}?tenant_id={blog}"),
            None,
        )
        .await;
        assert_eq!(identity["state"], "active", "{identity}");

        // Alice's OAuth client, deleted through her app or Bob's: not found either.
        let created = create_client(&mut alice, &blog, &[("name", "Backend")]).await;
        assert_eq!(created.status, StatusCode::OK, "{}", created.body);
        let client_id = code_with_id(&created.body, "client-id");
        for path in [
            format!("/console/apps/{blog}/clients/{client_id}/delete"),
            format!("/console/apps/{shop}/clients/{client_id}/delete"),
        ] {
            let answer = post(&mut bob, &bobs_page, &path, &[]).await;
            assert_eq!(answer.status, StatusCode::NOT_FOUND, "{path}");
        }
        let (status, _) = admin(
            &app,
            Method::GET,
            &format!("/admin/clients/{client_id}"),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK);

        // Nothing of Alice's changed.
        let (_, tenant) = admin(&app, Method::GET, &format!("/admin/tenants/{blog}"), None).await;
        assert_eq!(tenant["name"], "Alice's blog");
        let (status, _) = signup_through_tenant_api(&app, &blog, &key).await;
        assert_eq!(status, StatusCode::CREATED);
        let page = alice.get(&format!("/console/apps/{blog}")).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("backend"));

        // A signed-out browser is sent to sign in, with nothing done.
        let mut stranger = Browser::new(&app.public);
        let answer = stranger
            .post_form(&format!("/console/apps/{blog}/delete"), &[])
            .await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER);
        assert!(
            answer
                .location
                .expect("location")
                .starts_with("/ui/login?tenant=")
        );
        let (status, _) = admin(&app, Method::GET, &format!("/admin/tenants/{blog}"), None).await;
        assert_eq!(status, StatusCode::OK);
    }
}

#[tokio::test]
async fn console_forms_refuse_a_missing_or_forged_csrf_token() {
    for app in TestApp::all("console_csrf").await {
        let mut browser = developer(&app, "alice@example.com").await;
        let id = create_app(&mut browser, "Blog").await;
        let key = create_key(&mut browser, &id, "backend").await;
        let (status, body) = signup_through_tenant_api(&app, &id, &key).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let user = body["identity"]["id"].as_str().expect("id").to_owned();
        let forged = "x".repeat(43);
        for token in [None, Some(forged.as_str())] {
            for (path, field) in [
                ("/console/apps".to_owned(), ("name", "Sneaky")),
                (format!("/console/apps/{id}/rename"), ("app_name", "Sneaky")),
                (format!("/console/apps/{id}/api-keys"), ("name", "sneaky")),
                (format!("/console/apps/{id}/clients"), ("name", "sneaky")),
                (
                    format!("/console/apps/{id}/users/{user}/disable"),
                    ("x", "y"),
                ),
                (
                    format!("/console/apps/{id}/users/{user}/delete"),
                    ("x", "y"),
                ),
                (format!("/console/apps/{id}/delete"), ("x", "y")),
            ] {
                let mut fields = vec![field];
                if let Some(token) = token {
                    fields.push(("csrf_token", token));
                }
                let answer = browser.post_form(&path, &fields).await;
                assert_eq!(answer.status, StatusCode::FORBIDDEN, "{path}");
                assert!(
                    answer.body.contains("could not be verified"),
                    "{}",
                    answer.body
                );
            }
        }
        let list = browser.get("/console/").await;
        assert!(!list.body.contains("Sneaky"));
        let page = browser.get(&format!("/console/apps/{id}")).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(!page.body.contains("sneaky"));
        let page = browser.get(&format!("/console/apps/{id}/clients")).await;
        assert!(page.body.contains("This app has no OAuth clients."));
        let (status, identity) = admin(
            &app,
            Method::GET,
            &format!("/admin/identities/{user}?tenant_id={id}"),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(identity["state"], "active", "{identity}");
    }
}

/// Creates a client on the app's clients page from `fields`; the answer page.
async fn create_client(browser: &mut Browser, app_id: &str, fields: &[(&str, &str)]) -> Page {
    let page = browser
        .get(&format!("/console/apps/{app_id}/clients"))
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    post(
        browser,
        &page,
        &format!("/console/apps/{app_id}/clients"),
        fields,
    )
    .await
}

/// The text of the element `<code id="{id}">` of `body`.
fn code_with_id(body: &str, id: &str) -> String {
    let open = format!("<code id=\"{id}\">");
    let at = body.find(&open).expect("the element") + open.len();
    let end = at + body[at..].find('<').expect("end");
    body[at..end].to_owned()
}

async fn client_credentials(app: &TestApp, id: &str, secret: &str) -> (StatusCode, Value) {
    json_of(
        app.public_request(Method::POST, "/oauth2/token")
            .basic_auth(id, Some(secret))
            .form(&[("grant_type", "client_credentials"), ("scope", "api:read")])
            .send()
            .await
            .expect("sends"),
    )
    .await
}

#[tokio::test]
async fn a_developer_creates_lists_and_deletes_oauth_clients_of_an_app() {
    for app in TestApp::all("console_clients").await {
        let mut browser = developer(&app, "alice@example.com").await;
        let id = create_app(&mut browser, "Blog").await;
        let page = browser.get(&format!("/console/apps/{id}")).await;
        assert!(page.body.contains(&format!("/console/apps/{id}/clients")));
        let page = browser.get(&format!("/console/apps/{id}/clients")).await;
        assert!(page.body.contains("This app has no OAuth clients."));
        // The app's scope catalog is offered as checkboxes.
        assert!(
            page.body.contains("name=\"scope\" value=\"email\""),
            "{}",
            page.body
        );

        // Bad input: a clear message and the form as typed, nothing stored.
        for (fields, message) in [
            (vec![("name", "")], "Enter a name."),
            (
                vec![("name", "SPA"), ("client_type", "public")],
                "A public client needs at least one redirect URI.",
            ),
            (
                vec![
                    ("name", "Web"),
                    ("redirect_uris", "http://example.com/callback"),
                ],
                "redirect_uris",
            ),
        ] {
            let refused = create_client(&mut browser, &id, &fields).await;
            assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
            assert!(refused.body.contains(message), "{}", refused.body);
        }

        // A confidential client: its secret, shown once, works at the token endpoint.
        let created = create_client(
            &mut browser,
            &id,
            &[
                ("name", "Backend"),
                ("scope", "email"),
                ("other_scopes", "api:read"),
                ("client_type", "confidential"),
            ],
        )
        .await;
        assert_eq!(created.status, StatusCode::OK, "{}", created.body);
        assert_eq!(created.headers["cache-control"], "no-store");
        let client_id = code_with_id(&created.body, "client-id");
        let secret = code_with_id(&created.body, "client-secret");
        let (status, token) = client_credentials(&app, &client_id, &secret).await;
        assert_eq!(status, StatusCode::OK, "{token}");
        let (status, client) = admin(
            &app,
            Method::GET,
            &format!("/admin/clients/{client_id}"),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(client["tenant_id"], id.as_str(), "{client}");
        assert_eq!(client["scope"], "api:read email", "{client}");

        // A public client with redirect URIs: no secret.
        let created = create_client(
            &mut browser,
            &id,
            &[
                ("name", "Single-page app"),
                (
                    "redirect_uris",
                    "https://blog.example/callback\r\nhttp://localhost:3000/callback",
                ),
                ("scope", "openid"),
                ("client_type", "public"),
            ],
        )
        .await;
        assert_eq!(created.status, StatusCode::OK, "{}", created.body);
        assert!(!created.body.contains("client-secret"));
        let spa = code_with_id(&created.body, "client-id");
        let (_, client) = admin(&app, Method::GET, &format!("/admin/clients/{spa}"), None).await;
        assert_eq!(client["token_endpoint_auth_method"], "none", "{client}");

        // Listed with their ids, names and redirect URIs; never the secret.
        let page = browser.get(&format!("/console/apps/{id}/clients")).await;
        for text in [
            client_id.as_str(),
            spa.as_str(),
            "Backend",
            "Single-page app",
            "https://blog.example/callback",
            "http://localhost:3000/callback",
        ] {
            let shown = page.body.replace("&#x2f;", "/");
            assert!(shown.contains(text), "{text}: {}", page.body);
        }
        assert!(!page.body.contains(&secret));

        // Delete: the secret stops working at once.
        let deleted = post(
            &mut browser,
            &page,
            &format!("/console/apps/{id}/clients/{client_id}/delete"),
            &[],
        )
        .await;
        assert_eq!(deleted.status, StatusCode::SEE_OTHER, "{}", deleted.body);
        let page = browser.follow(deleted).await;
        assert!(page.body.contains("The client has been deleted."));
        assert!(!page.body.contains(&client_id));
        let (status, _) = client_credentials(&app, &client_id, &secret).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let again = post(
            &mut browser,
            &page,
            &format!("/console/apps/{id}/clients/{client_id}/delete"),
            &[],
        )
        .await;
        assert_eq!(again.status, StatusCode::NOT_FOUND);

        let found = events(&app, &id).await;
        for kind in ["client_created", "client_deleted"] {
            let event = found
                .iter()
                .find(|e| e["event_type"] == kind)
                .expect("the event");
            assert_eq!(event["actor"], "developer", "{event}");
            assert!(!event.to_string().contains(&secret));
        }
    }
}

/// Signs `email` up (`login == false`) or in through the tenant API of `app_id` with `key`.
async fn tenant_api(
    app: &TestApp,
    app_id: &str,
    key: &str,
    action: &str,
    email: &str,
) -> (StatusCode, Value) {
    json_of(
        app.public_request(
            Method::POST,
            &format!("/api/auth/credentials/{action}/{app_id}"),
        )
        .bearer_auth(key)
        .json(&json!({"email": email, "password": STRONG}))
        .send()
        .await
        .expect("sends"),
    )
    .await
}

#[tokio::test]
async fn a_developer_lists_searches_disables_enables_and_deletes_users_of_an_app() {
    for app in TestApp::all("console_users").await {
        let mut browser = developer(&app, "alice@example.com").await;
        let id = create_app(&mut browser, "Blog").await;
        let page = browser.get(&format!("/console/apps/{id}/users")).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(page.body.contains("This app has no users."));
        let key = create_key(&mut browser, &id, "backend").await;
        // Bob registers through the self-service API (verified, with a session); Carol through
        // the tenant API.
        let session = register_api(&app, &id, "bob@example.com", STRONG).await;
        let (status, me) = whoami(&app, Some(&id), &session).await;
        assert_eq!(status, StatusCode::OK, "{me}");
        let bob = me["identity"]["id"].as_str().expect("id").to_owned();
        let (status, body) = tenant_api(&app, &id, &key, "signup", "carol@example.com").await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let carol = body["identity"]["id"].as_str().expect("id").to_owned();
        let (bob, carol) = (&bob, &carol);
        let (status, login) = tenant_api(&app, &id, &key, "login", "bob@example.com").await;
        assert_eq!(status, StatusCode::OK, "{login}");

        // The list, and a search by address (any case).
        let page = browser.get(&format!("/console/apps/{id}/users")).await;
        for text in [
            "bob@example.com",
            "carol@example.com",
            bob,
            carol,
            "Active",
            "<dd>Yes</dd>",
            "<dd>No</dd>",
        ] {
            assert!(page.body.contains(text), "{text}: {}", page.body);
        }
        assert!(!page.body.contains("alice@example.com</p>"));
        let found = browser
            .get(&format!("/console/apps/{id}/users?q=Bob%40Example.com"))
            .await;
        assert!(found.body.contains(bob.as_str()), "{}", found.body);
        assert!(!found.body.contains(carol.as_str()));
        // Part of an address finds it too.
        let partial = browser
            .get(&format!("/console/apps/{id}/users?q=BOB"))
            .await;
        assert!(partial.body.contains(bob.as_str()), "{}", partial.body);
        assert!(!partial.body.contains(carol.as_str()));
        let none = browser
            .get(&format!("/console/apps/{id}/users?q=dave%40example.com"))
            .await;
        assert!(
            none.body
                .contains("No user of this app has an address containing this.")
        );
        let bad = browser
            .get(&format!("/console/apps/{id}/users?after=nonsense"))
            .await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);

        // Disable: the tenant API refuses the login and the sessions are gone.
        let disabled = post(
            &mut browser,
            &page,
            &format!("/console/apps/{id}/users/{bob}/disable"),
            &[],
        )
        .await;
        assert_eq!(disabled.status, StatusCode::SEE_OTHER, "{}", disabled.body);
        let page = browser.follow(disabled).await;
        assert!(page.body.contains("The user has been disabled"));
        assert!(page.body.contains("Disabled"));
        let (status, _) = tenant_api(&app, &id, &key, "login", "bob@example.com").await;
        assert!(status.is_client_error(), "{status}");
        let (status, _) = whoami(&app, Some(&id), &session).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "the session ended");
        let (_, identity) = admin(
            &app,
            Method::GET,
            &format!("/admin/identities/{bob}?tenant_id={id}"),
            None,
        )
        .await;
        assert_eq!(identity["state"], "inactive");

        // Enable: the login works again.
        let enabled = post(
            &mut browser,
            &page,
            &format!("/console/apps/{id}/users/{bob}/enable"),
            &[],
        )
        .await;
        assert_eq!(enabled.status, StatusCode::SEE_OTHER, "{}", enabled.body);
        let page = browser.follow(enabled).await;
        assert!(page.body.contains("The user has been enabled."));
        let (status, _) = tenant_api(&app, &id, &key, "login", "bob@example.com").await;
        assert_eq!(status, StatusCode::OK);

        // Delete, after a confirmation page.
        let confirm = browser
            .get(&format!("/console/apps/{id}/users/{carol}/delete"))
            .await;
        assert_eq!(confirm.status, StatusCode::OK);
        assert!(confirm.body.contains("Delete carol@example.com?"));
        let deleted = post(
            &mut browser,
            &confirm,
            &format!("/console/apps/{id}/users/{carol}/delete"),
            &[],
        )
        .await;
        assert_eq!(deleted.status, StatusCode::SEE_OTHER, "{}", deleted.body);
        let page = browser.follow(deleted).await;
        assert!(page.body.contains("The user has been deleted."));
        assert!(!page.body.contains(carol.as_str()));
        let (status, _) = admin(
            &app,
            Method::GET,
            &format!("/admin/identities/{carol}?tenant_id={id}"),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        for path in [
            format!("/console/apps/{id}/users/{carol}/delete"),
            format!("/console/apps/{id}/users/{carol}/disable"),
            format!("/console/apps/{id}/users/not-an-id/enable"),
        ] {
            let again = post(&mut browser, &page, &path, &[]).await;
            assert_eq!(again.status, StatusCode::NOT_FOUND, "{path}");
        }

        let found = events(&app, &id).await;
        for (kind, user) in [("identity_updated", bob), ("identity_deleted", carol)] {
            let event = found
                .iter()
                .find(|e| e["event_type"] == kind && e["identity_id"] == user.as_str())
                .expect("the event");
            assert_eq!(event["actor"], "developer", "{event}");
        }
    }
}

#[tokio::test]
async fn the_audit_page_shows_the_apps_own_events_in_pages() {
    for app in TestApp::all("console_audit").await {
        let mut browser = developer(&app, "alice@example.com").await;
        let blog = create_app(&mut browser, "Blog").await;
        let shop = create_app(&mut browser, "Shop").await;
        let mut users = Vec::new();
        for id in [&blog, &shop] {
            let key = create_key(&mut browser, id, "backend").await;
            let (status, body) = tenant_api(&app, id, &key, "signup", "bob@example.com").await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
            users.push(body["identity"]["id"].as_str().expect("id").to_owned());
        }

        let page = browser.get(&format!("/console/apps/{blog}/audit")).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        for text in [
            "tenant_created",
            "api_key_created",
            "developer",
            users[0].as_str(),
        ] {
            assert!(page.body.contains(text), "{text}: {}", page.body);
        }
        assert!(!page.body.contains(users[1].as_str()), "{}", page.body);
        assert!(!page.body.contains("Next page"));

        // More events than a page holds: the next page carries the older ones.
        let app_page = browser.get(&format!("/console/apps/{blog}")).await;
        for n in 0..50 {
            let renamed = post(
                &mut browser,
                &app_page,
                &format!("/console/apps/{blog}/rename"),
                &[("app_name", &format!("Blog {n}"))],
            )
            .await;
            assert_eq!(renamed.status, StatusCode::SEE_OTHER);
        }
        // (The test clock stands still, so events of one instant come in id order.)
        let rows = |body: &str| body.matches("class=\"audit-event\"").count();
        let first = browser.get(&format!("/console/apps/{blog}/audit")).await;
        assert_eq!(rows(&first.body), 50, "{}", first.body);
        let at = first.body.find("audit?page_token=").expect("a next link") + 17;
        let end = at + first.body[at..].find('"').expect("end");
        let token = first.body[at..end].replace("&amp;", "&");
        let second = browser
            .get(&format!("/console/apps/{blog}/audit?page_token={token}"))
            .await;
        assert_eq!(second.status, StatusCode::OK, "{}", second.body);
        assert!(rows(&second.body) >= 3, "{}", second.body);
        assert!(!second.body.contains("Next page"));
        let both = format!("{}{}", first.body, second.body);
        assert_eq!(both.matches("<code>tenant_created</code>").count(), 1);
        assert_eq!(both.matches("<code>tenant_updated</code>").count(), 50);
        assert_eq!(both.matches("<code>api_key_created</code>").count(), 1);
        let bad = browser
            .get(&format!("/console/apps/{blog}/audit?page_token=nonsense"))
            .await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
        assert!(bad.body.contains("This page link is not valid"));
    }
}

#[tokio::test]
async fn a_developer_turns_on_magic_links_for_an_app() {
    for app in TestApp::all("console_magic_links").await {
        let mut browser = developer(&app, "dev@example.com").await;
        let app_id = create_app(&mut browser, "Blog").await;
        let key = create_key(&mut browser, &app_id, "backend").await;
        let ask = |key: String| {
            let app = &app;
            let app_id = app_id.clone();
            async move {
                app.public_request(Method::POST, &format!("/api/auth/magic-link/{app_id}"))
                    .bearer_auth(key)
                    .json(&json!({"email": "amy@example.com"}))
                    .send()
                    .await
                    .expect("sends")
                    .status()
            }
        };
        assert_eq!(
            ask(key.clone()).await,
            StatusCode::FORBIDDEN,
            "off at first"
        );

        let path = format!("/console/apps/{app_id}/magic-links");
        let page = browser.get(&path).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        for bad in [
            vec![
                ("enabled", "true"),
                ("lifespan_minutes", "soon"),
                ("redirect_uri", ""),
            ],
            vec![
                ("enabled", "true"),
                ("lifespan_minutes", "0"),
                ("redirect_uri", ""),
            ],
            vec![
                ("enabled", "true"),
                ("lifespan_minutes", ""),
                ("redirect_uri", "not a url"),
            ],
        ] {
            let refused = post(&mut browser, &page, &path, &bad).await;
            assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{bad:?}");
        }
        let saved = post(
            &mut browser,
            &page,
            &path,
            &[
                ("enabled", "true"),
                ("lifespan_minutes", "30"),
                ("redirect_uri", "https://blog.example/signed-in"),
            ],
        )
        .await;
        assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
        let shown = browser.follow(saved).await;
        assert!(shown.body.contains("The settings have been saved."));
        assert!(shown.body.contains("blog.example"), "{}", shown.body);
        assert_eq!(ask(key).await, StatusCode::ACCEPTED, "{}", app.backend);
        let (_, tenant) = admin(&app, Method::GET, &format!("/admin/tenants/{app_id}"), None).await;
        assert_eq!(tenant["settings"]["magic_link"]["lifespan_minutes"], 30);
        assert_eq!(tenant["redirect_uri"], "https://blog.example/signed-in");

        // Another developer cannot see or change it.
        let mut other = developer(&app, "eve@example.com").await;
        assert_eq!(other.get(&path).await.status, StatusCode::NOT_FOUND);
        let own = other.get("/console/").await;
        let posted = post(&mut other, &own, &path, &[("lifespan_minutes", "5")]).await;
        assert_eq!(posted.status, StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn a_developer_configures_social_sign_in_for_an_app() {
    for app in TestApp::all("console_providers").await {
        let mut browser = developer(&app, "dev@example.com").await;
        let app_id = create_app(&mut browser, "Blog").await;
        let path = format!("/console/apps/{app_id}/providers");
        let page = browser.get(&path).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(page.body.contains("no social sign-in providers"));

        let github = [
            ("name", "github"),
            ("type", "github"),
            ("issuer", ""),
            ("client_id", "gh-client"),
            ("client_secret", "gh-secret-value-123"),
            ("scopes", ""),
            ("redirect_uri", "https://blog.example/after-github"),
            ("enabled", "true"),
        ];
        let mut no_secret = github;
        no_secret[4] = ("client_secret", "");
        let refused = post(&mut browser, &page, &path, &no_secret).await;
        assert_eq!(
            refused.status,
            StatusCode::BAD_REQUEST,
            "a new provider needs its secret"
        );
        assert!(refused.body.contains("client_secret"), "{}", refused.body);

        let saved = post(&mut browser, &page, &path, &github).await;
        assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
        let shown = browser.follow(saved).await;
        assert!(shown.body.contains("gh-client"), "{}", shown.body);
        assert!(
            !shown.body.contains("gh-secret-value-123"),
            "never the secret"
        );
        assert!(shown.body.contains("read:user user:email"));
        let (status, stored) = admin(
            &app,
            Method::GET,
            &format!("/admin/tenants/{app_id}/providers/github"),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{}: {stored}", app.backend);
        assert_eq!(stored["client_secret_set"], true);
        // The sign-in URL now leads to the provider.
        let start = Browser::new(&app.public)
            .get(&format!("/api/auth/github/{app_id}"))
            .await;
        assert_eq!(start.status, StatusCode::SEE_OTHER);

        // Another developer cannot see, change or remove it.
        let mut other = developer(&app, "eve@example.com").await;
        assert_eq!(other.get(&path).await.status, StatusCode::NOT_FOUND);
        let own = other.get("/console/").await;
        let removed = post(&mut other, &own, &format!("{path}/github/delete"), &[]).await;
        assert_eq!(removed.status, StatusCode::NOT_FOUND);

        let page = browser.get(&path).await;
        let removed = post(&mut browser, &page, &format!("{path}/github/delete"), &[]).await;
        assert_eq!(removed.status, StatusCode::SEE_OTHER);
        let (status, _) = admin(
            &app,
            Method::GET,
            &format!("/admin/tenants/{app_id}/providers/github"),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn a_developer_owns_at_most_the_limit_of_apps() {
    for app in TestApp::all("console_app_limit").await {
        let mut browser = developer(&app, "prolific@example.com").await;
        let list = browser.get("/console/").await;
        for i in 0..gatehouse_domain::tenant::MAX_APPS_PER_DEVELOPER {
            let created = post(
                &mut browser,
                &list,
                "/console/apps",
                &[("name", &format!("app {i}"))],
            )
            .await;
            assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
        }
        let refused = post(
            &mut browser,
            &list,
            "/console/apps",
            &[("name", "one more")],
        )
        .await;
        assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
        assert!(
            refused.body.contains("You already have 25 apps"),
            "{}",
            refused.body
        );
        // The name typed is kept in the form; nothing was created.
        assert!(refused.body.contains("one more"), "{}", refused.body);
        let list = browser.get("/console/").await;
        assert!(!list.body.contains("one more"), "{}", list.body);
        // Another developer is not affected.
        let mut other = developer(&app, "other@example.com").await;
        create_app(&mut other, "Mine").await;
    }
}

#[tokio::test]
async fn a_developer_edits_an_oauth_client_and_keeps_its_secret_and_other_settings() {
    for app in TestApp::all("console_client_edit").await {
        let mut browser = developer(&app, "alice@example.com").await;
        let id = create_app(&mut browser, "Blog").await;
        let created = create_client(
            &mut browser,
            &id,
            &[
                ("name", "Backend"),
                ("scope", "email"),
                ("other_scopes", "api:read"),
                ("client_type", "confidential"),
            ],
        )
        .await;
        assert_eq!(created.status, StatusCode::OK, "{}", created.body);
        let client_id = code_with_id(&created.body, "client-id");
        let secret = code_with_id(&created.body, "client-secret");
        // Something only the admin API sets: an audience. Editing in the console keeps it.
        let path = format!("/admin/clients/{client_id}");
        let (_, mut stored) = admin(&app, Method::GET, &path, None).await;
        stored["audience"] = json!(["https://api.blog.example"]);
        let (status, _) = admin(&app, Method::PUT, &path, Some(stored)).await;
        assert_eq!(status, StatusCode::OK);

        // The form comes filled in: the catalog's scopes checked, the others as text.
        let edit_path = format!("/console/apps/{id}/clients/{client_id}");
        let list = browser.get(&format!("/console/apps/{id}/clients")).await;
        let shown = list.body.replace("&#x2f;", "/");
        assert!(
            shown.contains(&format!("href=\"{edit_path}\"")),
            "{}",
            list.body
        );
        let page = browser.get(&edit_path).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert_eq!(page.input_value("name").as_deref(), Some("Backend"));
        assert_eq!(
            page.input_value("other_scopes").as_deref(),
            Some("api:read")
        );
        assert!(
            page.body.contains("value=\"email\" checked"),
            "{}",
            page.body
        );

        // Bad input: a clear message, nothing changed.
        for (fields, message) in [
            (vec![("name", "")], "Enter a name."),
            (
                vec![
                    ("name", "Backend"),
                    ("redirect_uris", "http://example.com/cb"),
                ],
                "redirect_uris",
            ),
        ] {
            let refused = post(&mut browser, &page, &edit_path, &fields).await;
            assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
            assert!(refused.body.contains(message), "{}", refused.body);
        }

        let saved = post(
            &mut browser,
            &page,
            &edit_path,
            &[
                ("name", "Backend v2"),
                ("redirect_uris", "https://blog.example/callback"),
                ("scope", "openid"),
                ("scope", "email"),
                ("other_scopes", "api:read api:write"),
                // The type is chosen at creation: this is ignored.
                ("client_type", "public"),
            ],
        )
        .await;
        assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
        let list = browser.follow(saved).await;
        assert!(
            list.body.contains("The client has been saved."),
            "{}",
            list.body
        );
        assert!(list.body.contains("Backend v2"));

        let (_, client) = admin(&app, Method::GET, &path, None).await;
        assert_eq!(client["client_name"], "Backend v2", "{client}");
        assert_eq!(
            client["redirect_uris"],
            json!(["https://blog.example/callback"])
        );
        assert_eq!(
            client["audience"],
            json!(["https://api.blog.example"]),
            "{client}"
        );
        assert_eq!(client["token_endpoint_auth_method"], "client_secret_basic");
        for grant in ["authorization_code", "client_credentials"] {
            assert!(
                client["grant_types"]
                    .as_array()
                    .expect("list")
                    .contains(&json!(grant)),
                "{client}"
            );
        }
        for scope in ["openid", "email", "api:read", "api:write"] {
            assert!(
                client["scope"]
                    .as_str()
                    .expect("scope")
                    .split(' ')
                    .any(|s| s == scope),
                "{client}"
            );
        }
        // The secret still works.
        let (status, token) = client_credentials(&app, &client_id, &secret).await;
        assert_eq!(status, StatusCode::OK, "{token}");

        // Another developer reaches neither the page nor the form.
        let mut bob = developer(&app, "bob@example.com").await;
        let denied = bob.get(&edit_path).await;
        assert_eq!(denied.status, StatusCode::NOT_FOUND);
        // A client of another app is not one of this app's.
        let other = create_app(&mut browser, "Shop").await;
        let wrong = browser
            .get(&format!("/console/apps/{other}/clients/{client_id}"))
            .await;
        assert_eq!(wrong.status, StatusCode::NOT_FOUND);

        let found = events(&app, &id).await;
        let event = found
            .iter()
            .find(|e| e["event_type"] == "client_updated")
            .expect("the event");
        assert_eq!(event["actor"], "developer", "{event}");
        assert!(!event.to_string().contains(&secret));
    }
}
