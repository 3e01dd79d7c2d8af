//! Magic links for an app's users: asked for by the app's backend with its API key, emailed,
//! opened once within their lifespan; answered as JSON or, with the app's `redirect_uri`, as a
//! one-time code its backend exchanges. The same answer for known and unknown addresses, a
//! budget per address, isolation between apps.

use crate::support::app::json_of;
use crate::support::{Browser, TestApp};
use crate::tenants::{admin, create_key};
use gatehouse_domain::ids::TenantId;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use time::Duration;

/// A tenant with magic links on (and `extra` top-level fields), and a key: `(id, key)`.
async fn app_with_links(app: &TestApp, name: &str, extra: Value) -> (String, String) {
    let mut body = json!({
        "name": name,
        "settings": {"magic_link": {"enabled": true, "lifespan_minutes": 20}},
    });
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    let (status, created) = admin(app, Method::POST, "/admin/tenants", Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{}: {created}", app.backend);
    let tenant = created["id"].as_str().expect("id").to_owned();
    let key = create_key(app, &tenant, "backend").await["key"]
        .as_str()
        .expect("key")
        .to_owned();
    (tenant, key)
}

async fn ask(app: &TestApp, tenant: &str, key: Option<&str>, body: Value) -> (StatusCode, Value) {
    let mut request = app.public_request(Method::POST, &format!("/api/auth/magic-link/{tenant}"));
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    json_of(request.json(&body).send().await.expect("sends")).await
}

/// The link in the newest message to `address` in the tenant's outbox.
async fn link_for(app: &TestApp, tenant: &str, address: &str) -> String {
    let (status, messages) = admin(
        app,
        Method::GET,
        &format!("/admin/courier/messages?tenant_id={tenant}&recipient={address}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{messages}");
    let message = &messages[0];
    assert_eq!(message["template_type"], "magic_link");
    let body = message["body"].as_str().expect("body");
    body.split_whitespace()
        .find(|w| w.contains("/api/auth/verify/"))
        .unwrap_or_else(|| panic!("no link in {body}"))
        .to_owned()
}

async fn messages_to(app: &TestApp, tenant: &str, address: &str) -> usize {
    let (_, messages) = admin(
        app,
        Method::GET,
        &format!("/admin/courier/messages?tenant_id={tenant}&recipient={address}"),
        None,
    )
    .await;
    messages.as_array().map_or(0, Vec::len)
}

#[tokio::test]
async fn a_link_signs_in_once_and_verifies_the_address() {
    for app in TestApp::all("magic_link_json").await {
        let (tenant, key) = app_with_links(&app, "Blog", json!({})).await;
        let (status, body) = ask(
            &app,
            &tenant,
            Some(&key),
            json!({"email": "Bob@Example.com"}),
        )
        .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{}: {body}", app.backend);
        assert_eq!(body, json!({"status": "sent"}));
        let link = link_for(&app, &tenant, "bob@example.com").await;
        assert!(
            link.starts_with(&format!("{}/api/auth/verify/{tenant}?token=", app.issuer)),
            "{link}"
        );

        let opened = reqwest::get(&link).await.expect("opens");
        assert_eq!(opened.status(), StatusCode::OK);
        assert_eq!(opened.headers()["cache-control"], "no-store");
        let answer: Value = opened.json().await.expect("json");
        assert_eq!(answer["token_type"], "Bearer");
        assert_eq!(answer["identity"]["traits"]["email"], "bob@example.com");
        assert_eq!(
            answer["identity"]["verifiable_addresses"][0]["verified"], true,
            "{}: opening the link proves the address",
            app.backend
        );
        let claims = app
            .validator(&tenant)
            .await
            .validate(answer["access_token"].as_str().expect("jwt"))
            .expect("a valid token for the app");
        assert_eq!(claims.str("tenant_id"), Some(tenant.as_str()));
        assert_eq!(claims.str("email"), Some("bob@example.com"));

        let again = reqwest::get(&link).await.expect("opens");
        assert_eq!(again.status(), StatusCode::BAD_REQUEST, "single use");

        // A second link for the same (now known) person; past its 20 minutes it is refused.
        // (The outbox lists newest first by time: a second apart.)
        app.clock.advance(Duration::seconds(1));
        let (status, _) = ask(
            &app,
            &tenant,
            Some(&key),
            json!({"email": "bob@example.com"}),
        )
        .await;
        assert_eq!(status, StatusCode::ACCEPTED);
        let late = link_for(&app, &tenant, "bob@example.com").await;
        assert_ne!(late, link);
        app.clock.advance(Duration::minutes(21));
        let expired = reqwest::get(&late).await.expect("opens");
        assert_eq!(expired.status(), StatusCode::BAD_REQUEST, "{}", app.backend);
    }
}

#[tokio::test]
async fn with_a_redirect_uri_the_link_hands_a_code_to_the_apps_backend() {
    for app in TestApp::all("magic_link_code").await {
        let (tenant, key) = app_with_links(
            &app,
            "Shop",
            json!({"redirect_uri": "https://shop.example/signed-in"}),
        )
        .await;
        let (status, _) = ask(
            &app,
            &tenant,
            Some(&key),
            json!({"email": "amy@example.com"}),
        )
        .await;
        assert_eq!(status, StatusCode::ACCEPTED);
        let link = link_for(&app, &tenant, "amy@example.com").await;
        let mut browser = Browser::new(&app.public);
        let opened = browser.get(&link).await;
        assert_eq!(opened.status, StatusCode::SEE_OTHER, "{}", opened.body);
        let location = opened.location.expect("to the app");
        assert!(
            location.starts_with("https://shop.example/signed-in?code="),
            "{location}"
        );
        assert!(!location.contains("access_token"), "no token in the URL");
        let code = crate::oidc::param(&location, "code").expect("code");

        // Another app's key cannot spend it; the app's own key can, once.
        let (_, other_key) = app_with_links(&app, "Other", json!({})).await;
        let exchange = |key: String, app_id: String, code: String| {
            let app = &app;
            async move {
                json_of(
                    app.public_request(Method::POST, &format!("/api/auth/exchange/{app_id}"))
                        .bearer_auth(key)
                        .json(&json!({"code": code}))
                        .send()
                        .await
                        .expect("sends"),
                )
                .await
            }
        };
        let (status, _) = exchange(other_key, tenant.clone(), code.clone()).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "a key of another app");
        let (status, body) = exchange(key.clone(), tenant.clone(), code.clone()).await;
        assert_eq!(status, StatusCode::OK, "{}: {body}", app.backend);
        assert_eq!(body["identity"]["traits"]["email"], "amy@example.com");
        let (status, body) = exchange(key.clone(), tenant.clone(), code).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["error"]["id"], "invalid_code");
        let (status, _) = exchange(key, tenant, "made-up".into()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
}

#[tokio::test]
async fn the_same_answer_for_every_address_a_budget_per_address_and_no_link_for_others() {
    let app = TestApp::sqlite().await;
    let (tenant, key) = app_with_links(&app, "Blog", json!({})).await;
    let (other, other_key) = app_with_links(&app, "Other", json!({})).await;

    // A disabled app, and the key checks (401 before anything, 403 for another app's key).
    let (off, off_key) = {
        let id = crate::tenants::create_tenant(&app, "Off").await;
        let key = create_key(&app, &id, "k").await["key"]
            .as_str()
            .expect("key")
            .to_owned();
        (id, key)
    };
    let body = json!({"email": "kim@example.com"});
    assert_eq!(
        ask(&app, &off, Some(&off_key), body.clone()).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        ask(&app, &tenant, None, body.clone()).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        ask(&app, &tenant, Some(&other_key), body.clone()).await.0,
        StatusCode::FORBIDDEN
    );
    for bad in [
        json!({"email": "not-an-address"}),
        json!({"mail": "x@example.com"}),
        json!([]),
    ] {
        let (status, answer) = ask(&app, &tenant, Some(&key), bad.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {answer}");
    }

    // A known and an unknown address get the same answer.
    let (status, _) = crate::tenant_api::signup(
        &app,
        &tenant,
        &key,
        "known@example.com",
        "tawny-kettle-orbit-93",
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let known = ask(
        &app,
        &tenant,
        Some(&key),
        json!({"email": "known@example.com"}),
    )
    .await;
    let unknown = ask(
        &app,
        &tenant,
        Some(&key),
        json!({"email": "new@example.com"}),
    )
    .await;
    assert_eq!(known, unknown);

    // Five links an hour per address, then 429 with Retry-After; other addresses still go.
    for _ in 0..4 {
        assert_eq!(
            ask(&app, &tenant, Some(&key), body.clone()).await.0,
            StatusCode::ACCEPTED
        );
    }
    let (status, _) = ask(&app, &tenant, Some(&key), body.clone()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "the fifth");
    let refused = app
        .public_request(Method::POST, &format!("/api/auth/magic-link/{tenant}"))
        .bearer_auth(&key)
        .json(&body)
        .send()
        .await
        .expect("sends");
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.headers().contains_key("retry-after"));
    assert_eq!(messages_to(&app, &tenant, "kim@example.com").await, 5);

    // A link of one app does not open another app's door.
    let link = link_for(&app, &tenant, "new@example.com").await;
    let foreign = link.replace(&tenant, &other);
    assert_eq!(
        reqwest::get(&foreign).await.expect("opens").status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        reqwest::get(&link).await.expect("opens").status(),
        StatusCode::OK
    );
    // The other app never got the address.
    let none = app
        .running
        .state
        .store
        .find_identity_by_identifier(
            TenantId(uuid::Uuid::parse_str(&other).expect("uuid")),
            "new@example.com",
        )
        .await
        .expect("reads");
    assert!(none.is_none());
    for path in [
        format!("/api/auth/verify/{tenant}"),
        format!("/api/auth/verify/{tenant}?token=nope"),
        format!("/api/auth/verify/{}?token=x", uuid::Uuid::new_v4()),
        "/api/auth/verify/not-an-app?token=x".to_owned(),
    ] {
        let status = reqwest::get(format!("{}{path}", app.public))
            .await
            .expect("sends")
            .status();
        assert!(
            status == StatusCode::BAD_REQUEST || status == StatusCode::NOT_FOUND,
            "{path}: {status}"
        );
    }
}
