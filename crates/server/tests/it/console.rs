//! The developer console (issue 8, point 2, first slice): developers of the console tenant sign
//! up and in through the self-service pages; they create, rename and delete apps and their API
//! keys; they see only their own apps; every form is CSRF-protected.

use crate::support::app::json_of;
use crate::support::browser::Page;
use crate::support::{Browser, TestApp};
use crate::tenant_selfservice::{STRONG, register_on_page, sign_in_on_page};
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
            let confirm = bob.get(&format!("/console/apps/{id}/delete")).await;
            assert_eq!(confirm.status, StatusCode::NOT_FOUND, "{id}");
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
        let forged = "x".repeat(43);
        for token in [None, Some(forged.as_str())] {
            for (path, field) in [
                ("/console/apps".to_owned(), ("name", "Sneaky")),
                (format!("/console/apps/{id}/rename"), ("app_name", "Sneaky")),
                (format!("/console/apps/{id}/api-keys"), ("name", "sneaky")),
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
        assert!(page.body.contains("This app has no API keys."));
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
