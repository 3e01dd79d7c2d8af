//! Social login into a tenant: a GitHub-like server started in the test (the OAuth 2.0 endpoints
//! and the `/user` and `/user/emails` API, with PKCE checked), and a second Gatehouse as a real
//! OpenID provider; the admin API for the providers.

use crate::oidc::PASSWORD;
use crate::selfservice::register;
use crate::support::{Browser, TestApp};
use axum::Json;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gatehouse_domain::ids::TenantId;
use gatehouse_domain::secret::TokenHash;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;

const CLIENT_ID: &str = "gh-client";
const CLIENT_SECRET: &str = "gh-secret-value-0123456789";
const APP_URL: &str = "https://blog.example/after-login";

/// The account the GitHub-like server signs in as next.
#[derive(Clone)]
struct GithubAccount {
    id: u64,
    emails: Vec<(&'static str, bool)>,
}

#[derive(Default)]
struct GithubState {
    next: Option<GithubAccount>,
    /// code → (account, code_challenge, redirect_uri)
    codes: HashMap<String, (GithubAccount, String, String)>,
    /// access token → account
    tokens: HashMap<String, GithubAccount>,
}

type Shared = Arc<Mutex<GithubState>>;

/// A GitHub-like server: authorize (answers at once, as if the person approved), token, API.
async fn github() -> (String, Shared) {
    async fn authorize(
        State(s): State<Shared>,
        Query(q): Query<HashMap<String, String>>,
    ) -> Response {
        assert_eq!(q["client_id"], CLIENT_ID);
        assert_eq!(q["code_challenge_method"], "S256");
        let account = s
            .lock()
            .expect("lock")
            .next
            .clone()
            .expect("an account to sign in as");
        let code = uuid::Uuid::new_v4().to_string();
        s.lock().expect("lock").codes.insert(
            code.clone(),
            (
                account,
                q["code_challenge"].clone(),
                q["redirect_uri"].clone(),
            ),
        );
        let mut back = url::Url::parse(&q["redirect_uri"]).expect("redirect_uri");
        back.query_pairs_mut()
            .append_pair("code", &code)
            .append_pair("state", &q["state"]);
        Redirect::to(back.as_str()).into_response()
    }
    async fn token(
        State(s): State<Shared>,
        headers: HeaderMap,
        Form(f): Form<HashMap<String, String>>,
    ) -> Json<Value> {
        let basic = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD
                .encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"))
        );
        if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(basic.as_str()) {
            return Json(json!({"error": "incorrect_client_credentials"}));
        }
        let Some((account, challenge, redirect_uri)) =
            s.lock().expect("lock").codes.remove(&f["code"])
        else {
            // GitHub's way: 200 with an error member.
            return Json(json!({"error": "bad_verification_code"}));
        };
        let verifier = f
            .get("code_verifier")
            .map(String::as_str)
            .unwrap_or_default();
        if URL_SAFE_NO_PAD.encode(TokenHash::of(verifier).0) != challenge
            || f["redirect_uri"] != redirect_uri
        {
            return Json(json!({"error": "bad_verification_code"}));
        }
        let access = uuid::Uuid::new_v4().to_string();
        s.lock()
            .expect("lock")
            .tokens
            .insert(access.clone(), account);
        Json(
            json!({"access_token": access, "token_type": "bearer", "scope": "read:user,user:email"}),
        )
    }
    fn account(s: &Shared, headers: &HeaderMap) -> Option<GithubAccount> {
        let token = headers
            .get("authorization")?
            .to_str()
            .ok()?
            .strip_prefix("Bearer ")?;
        s.lock().expect("lock").tokens.get(token).cloned()
    }
    async fn user(State(s): State<Shared>, headers: HeaderMap) -> Response {
        match account(&s, &headers) {
            Some(a) => Json(json!({"id": a.id, "login": format!("user{}", a.id), "email": null}))
                .into_response(),
            None => AxumStatus::UNAUTHORIZED.into_response(),
        }
    }
    async fn emails(State(s): State<Shared>, headers: HeaderMap) -> Response {
        match account(&s, &headers) {
            Some(a) => Json(
                a.emails
                    .iter()
                    .enumerate()
                    .map(|(i, (email, verified))| {
                        json!({"email": email, "primary": i == 0, "verified": verified, "visibility": null})
                    })
                    .collect::<Vec<_>>(),
            )
            .into_response(),
            None => AxumStatus::UNAUTHORIZED.into_response(),
        }
    }
    let state = Shared::default();
    let app = axum::Router::new()
        .route("/login/oauth/authorize", get(authorize))
        .route("/login/oauth/access_token", post(token))
        .route("/api/user", get(user))
        .route("/api/user/emails", get(emails))
        .with_state(state.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), state)
}

fn tenant_path(path: &str) -> String {
    format!("/admin/tenants/{}{path}", TenantId::DEFAULT.0)
}

async fn put_provider(app: &TestApp, name: &str, body: Value) -> (StatusCode, Value) {
    let response = app
        .admin_request(Method::PUT, &tenant_path(&format!("/providers/{name}")))
        .json(&body)
        .send()
        .await
        .expect("sends");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn configure_github(app: &TestApp, github: &str) {
    configure_github_for(app, &TenantId::DEFAULT.0.to_string(), github, false).await;
}

async fn configure_github_for(app: &TestApp, tenant: &str, github: &str, token_in_redirect: bool) {
    let response = app
        .admin_request(
            Method::PUT,
            &format!("/admin/tenants/{tenant}/providers/github"),
        )
        .json(&json!({
            "type": "github",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "redirect_uri": APP_URL,
            "token_in_redirect": token_in_redirect,
            "endpoints": {
                "authorization_endpoint": format!("{github}/login/oauth/authorize"),
                "token_endpoint": format!("{github}/login/oauth/access_token"),
                "api_url": format!("{github}/api"),
            },
        }))
        .send()
        .await
        .expect("sends");
    assert!(response.status().is_success(), "{}", response.status());
}

/// Runs a social sign-in from the start URL through the provider back to the app: the final
/// redirect's query.
async fn sign_in(browser: &mut Browser, app: &TestApp, provider: &str) -> HashMap<String, String> {
    let location = sign_in_to(browser, app, provider, &TenantId::DEFAULT.0.to_string()).await;
    crate::oidc::query_of(&location).into_iter().collect()
}

/// A social sign-in into app `tenant`: the URL the browser is sent back to the app with.
async fn sign_in_to(browser: &mut Browser, app: &TestApp, provider: &str, tenant: &str) -> String {
    let mut page = browser
        .get(&format!("/api/auth/{provider}/{tenant}?state=app-state-1"))
        .await;
    for _ in 0..10 {
        let location = page
            .location
            .clone()
            .unwrap_or_else(|| panic!("{}: {} {}", app.backend, page.status, page.body));
        if location.starts_with(APP_URL) {
            return location;
        }
        page = browser.get(&location).await;
    }
    panic!("too many redirects");
}

/// The identity the exchange code stands for (the code is spent).
async fn identity_of(app: &TestApp, code: &str) -> uuid::Uuid {
    let state = &app.running.state;
    state
        .store
        .take_exchange_code(TenantId::DEFAULT, &TokenHash::of(code), state.now())
        .await
        .expect("reads")
        .expect("a live code")
        .identity_id
}

#[tokio::test]
async fn github_sign_in_creates_an_identity_then_signs_it_in_again() {
    for app in TestApp::all("social_github").await {
        let (github, accounts) = github().await;
        configure_github(&app, &github).await;
        accounts.lock().expect("lock").next = Some(GithubAccount {
            id: 1001,
            emails: vec![("bob@example.com", true)],
        });
        let mut browser = Browser::new(&app.public);
        let back = sign_in(&mut browser, &app, "github").await;
        assert_eq!(back.get("state").map(String::as_str), Some("app-state-1"));
        let code = back.get("code").expect("code");
        let id = identity_of(&app, code).await;
        let identity = app
            .admin_request(Method::GET, &format!("/admin/identities/{id}"))
            .send()
            .await
            .expect("sends")
            .json::<Value>()
            .await
            .expect("json");
        assert_eq!(identity["traits"]["email"], "bob@example.com");
        assert_eq!(
            identity["verifiable_addresses"][0]["verified"], true,
            "{}: GitHub verified it",
            app.backend
        );
        assert!(
            identity_of_fails(&app, code).await,
            "{}: a code is spent once",
            app.backend
        );

        // The same GitHub account again, even with another address now: the same identity.
        accounts.lock().expect("lock").next = Some(GithubAccount {
            id: 1001,
            emails: vec![("bob@other.example", true)],
        });
        let again = sign_in(&mut browser, &app, "github").await;
        assert_eq!(
            identity_of(&app, &again["code"]).await,
            id,
            "{}",
            app.backend
        );
    }
}

async fn identity_of_fails(app: &TestApp, code: &str) -> bool {
    let state = &app.running.state;
    state
        .store
        .take_exchange_code(TenantId::DEFAULT, &TokenHash::of(code), state.now())
        .await
        .expect("reads")
        .is_none()
}

#[tokio::test]
async fn links_an_existing_identity_only_through_a_verified_address() {
    let app = TestApp::sqlite().await;
    let (github, accounts) = github().await;
    configure_github(&app, &github).await;
    let ada = app.insert_identity("ada@example.com").await;
    let eve = app.insert_identity("eve@example.com").await;

    accounts.lock().expect("lock").next = Some(GithubAccount {
        id: 7,
        emails: vec![("ada@example.com", true)],
    });
    let mut browser = Browser::new(&app.public);
    let back = sign_in(&mut browser, &app, "github").await;
    assert_eq!(identity_of(&app, &back["code"]).await, ada, "linked");

    // An address GitHub does not vouch for never opens someone else's account.
    accounts.lock().expect("lock").next = Some(GithubAccount {
        id: 8,
        emails: vec![("eve@example.com", false)],
    });
    let back = sign_in(&mut browser, &app, "github").await;
    assert_eq!(
        back.get("error").map(String::as_str),
        Some("email_not_verified")
    );
    assert!(!back.contains_key("code"));
    let _ = eve;

    // No address at all: nothing to create an account with.
    accounts.lock().expect("lock").next = Some(GithubAccount {
        id: 9,
        emails: vec![],
    });
    let back = sign_in(&mut browser, &app, "github").await;
    assert_eq!(
        back.get("error").map(String::as_str),
        Some("email_required")
    );
}

#[tokio::test]
async fn refuses_forged_replayed_and_foreign_callbacks() {
    let app = TestApp::sqlite().await;
    let (github, accounts) = github().await;
    configure_github(&app, &github).await;
    accounts.lock().expect("lock").next = Some(GithubAccount {
        id: 1,
        emails: vec![("kim@example.com", true)],
    });
    let tenant = TenantId::DEFAULT.0;
    let mut browser = Browser::new(&app.public);
    let started = browser.get(&format!("/api/auth/github/{tenant}")).await;
    assert_eq!(started.status, StatusCode::SEE_OTHER, "{}", started.body);
    let to_github = started.location.expect("location");
    assert!(to_github.starts_with(&github), "{to_github}");
    let query: HashMap<String, String> = crate::oidc::query_of(&to_github).into_iter().collect();
    assert_eq!(
        query["redirect_uri"],
        format!("{}/api/auth/callback/github/{tenant}", app.issuer)
    );
    let callback = browser.get(&to_github).await.location.expect("back");

    // Another browser (no binding cookie) cannot finish it, and a forged state is unknown.
    let mut stranger = Browser::new(&app.public);
    assert_eq!(
        stranger.get(&callback).await.status,
        StatusCode::BAD_REQUEST
    );
    let forged = callback.replace("state=", "state=x");
    assert_eq!(browser.get(&forged).await.status, StatusCode::BAD_REQUEST);

    // The stranger's attempt spent the state: the real browser must start again.
    assert_eq!(browser.get(&callback).await.status, StatusCode::BAD_REQUEST);
    let started = browser.get(&format!("/api/auth/github/{tenant}")).await;
    let callback = browser
        .get(&started.location.expect("location"))
        .await
        .location
        .expect("back");
    let done = browser.get(&callback).await;
    assert!(
        done.location
            .as_deref()
            .is_some_and(|l| l.starts_with(APP_URL)),
        "{}",
        done.body
    );
    // A replayed callback finds nothing.
    assert_eq!(browser.get(&callback).await.status, StatusCode::BAD_REQUEST);

    // The person declined at the provider: back to the app with the error.
    let started = browser
        .get(&format!("/api/auth/github/{tenant}?state=s2"))
        .await;
    let state = crate::oidc::param(&started.location.expect("location"), "state").expect("state");
    let declined = browser
        .get(&format!(
            "/api/auth/callback/github/{tenant}?error=access_denied&state={state}"
        ))
        .await;
    let location = declined.location.expect("back to the app");
    assert!(location.starts_with(APP_URL), "{location}");
    assert_eq!(
        crate::oidc::param(&location, "error").as_deref(),
        Some("access_denied")
    );
    assert_eq!(
        crate::oidc::param(&location, "state").as_deref(),
        Some("s2")
    );

    // A code the provider does not know.
    let started = browser.get(&format!("/api/auth/github/{tenant}")).await;
    let state = crate::oidc::param(&started.location.expect("location"), "state").expect("state");
    let bad = browser
        .get(&format!(
            "/api/auth/callback/github/{tenant}?code=nope&state={state}"
        ))
        .await;
    assert_eq!(
        crate::oidc::param(&bad.location.expect("back"), "error").as_deref(),
        Some("access_denied")
    );

    // Unknown apps and providers.
    for path in [
        "/api/auth/github/not-an-app".to_owned(),
        format!("/api/auth/github/{}", uuid::Uuid::new_v4()),
        format!("/api/auth/gitlab/{tenant}"),
    ] {
        let page = browser.get(&path).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}: {}", page.body);
    }
}

#[tokio::test]
async fn another_gatehouse_is_an_openid_provider() {
    for app in TestApp::all("social_oidc").await {
        let idp = TestApp::sqlite().await;
        register(&idp, "lee@example.com", PASSWORD).await;
        let tenant = TenantId::DEFAULT.0;
        let client = idp
            .create_client(json!({
                "client_name": "Blog sign-in",
                "redirect_uris": [format!("{}/api/auth/callback/partner/{tenant}", app.issuer)],
                "grant_types": ["authorization_code"],
                "response_types": ["code"],
                "scope": "openid email profile",
                "skip_consent": true,
            }))
            .await;
        let (status, body) = put_provider(
            &app,
            "partner",
            json!({
                "type": "oidc",
                "issuer": idp.issuer,
                "client_id": client["client_id"],
                "client_secret": client["client_secret"],
                "redirect_uri": APP_URL,
            }),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");

        let mut browser = Browser::new(&app.public);
        let started = browser
            .get(&format!("/api/auth/partner/{tenant}?state=xyz"))
            .await;
        let mut location = started.location.expect("to the provider");
        assert!(location.starts_with(&idp.public), "{location}");
        assert!(crate::oidc::param(&location, "nonce").is_some());
        // Sign in at the provider's own login page.
        let mut at_idp = Browser::new(&idp.public);
        for _ in 0..10 {
            if location.starts_with(&app.issuer) {
                break;
            }
            let page = at_idp.get(&location).await;
            let page = if page.status == StatusCode::OK && page.body.contains("Sign in") {
                let csrf = page.input_value("csrf_token").expect("csrf");
                let action = page.form_action().expect("action");
                at_idp
                    .post_form(
                        &action,
                        &[
                            ("csrf_token", &csrf),
                            ("identifier", "lee@example.com"),
                            ("password", PASSWORD),
                            ("method", "password"),
                        ],
                    )
                    .await
            } else {
                page
            };
            location = page
                .location
                .unwrap_or_else(|| panic!("{}: {} {}", app.backend, page.status, page.body));
            if location.starts_with('/') {
                location = format!("{}{location}", idp.public);
            }
        }
        let back = browser.get(&location).await;
        let to_app = back
            .location
            .unwrap_or_else(|| panic!("{}: {}", app.backend, back.body));
        assert!(to_app.starts_with(APP_URL), "{to_app}");
        assert_eq!(crate::oidc::param(&to_app, "state").as_deref(), Some("xyz"));
        let code = crate::oidc::param(&to_app, "code").expect("code");
        let id = identity_of(&app, &code).await;
        let identity = app
            .admin_request(Method::GET, &format!("/admin/identities/{id}"))
            .send()
            .await
            .expect("sends")
            .json::<Value>()
            .await
            .expect("json");
        assert_eq!(
            identity["traits"]["email"], "lee@example.com",
            "{}",
            app.backend
        );
    }
}

#[tokio::test]
async fn providers_are_managed_through_the_admin_api_without_showing_secrets() {
    let app = TestApp::sqlite().await;
    let (github, _) = github().await;
    configure_github(&app, &github).await;
    let shown = app
        .admin_request(Method::GET, &tenant_path("/providers/github"))
        .send()
        .await
        .expect("sends");
    assert_eq!(shown.status(), StatusCode::OK);
    let text = shown.text().await.expect("body");
    assert!(!text.contains(CLIENT_SECRET), "{text}");
    let mut body: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(body["client_secret_set"], true);
    assert_eq!(body["scopes"], json!(["read:user", "user:email"]));

    // The GET answer, edited and sent back, keeps the secret.
    body["enabled"] = json!(false);
    let (status, replaced) = put_provider(&app, "github", body).await;
    assert_eq!(status, StatusCode::OK, "{replaced}");
    assert_eq!(replaced["enabled"], false);
    let stored = app
        .running
        .state
        .store
        .find_social_provider(TenantId::DEFAULT, "github")
        .await
        .expect("reads")
        .expect("stored");
    assert_eq!(
        stored
            .client_secret(&app.running.state.cipher)
            .expect("opens")
            .expose(),
        CLIENT_SECRET
    );
    assert!(
        !String::from_utf8_lossy(&stored.sealed_secret).contains(CLIENT_SECRET),
        "sealed at rest"
    );
    let disabled = Browser::new(&app.public)
        .get(&format!("/api/auth/github/{}", TenantId::DEFAULT.0))
        .await;
    assert_eq!(disabled.status, StatusCode::NOT_FOUND, "disabled");

    for (name, bad) in [
        (
            "github",
            json!({"type": "gitlab", "client_id": "x", "client_secret": "y", "redirect_uri": APP_URL}),
        ),
        (
            "github",
            json!({"type": "github", "client_id": "", "client_secret": "y", "redirect_uri": APP_URL}),
        ),
        (
            "github",
            json!({"type": "github", "client_id": "x", "client_secret": "y", "redirect_uri": "/relative"}),
        ),
        (
            "partner",
            json!({"type": "oidc", "client_id": "x", "client_secret": "y", "redirect_uri": APP_URL}),
        ),
        (
            "new",
            json!({"type": "github", "client_id": "x", "redirect_uri": APP_URL}),
        ),
        (
            "Bad Name",
            json!({"type": "github", "client_id": "x", "client_secret": "y", "redirect_uri": APP_URL}),
        ),
        (
            "callback",
            json!({"type": "github", "client_id": "x", "client_secret": "y", "redirect_uri": APP_URL}),
        ),
        (
            "github",
            json!({"type": "github", "client_id": "x", "client_secret": "y", "redirect_uri": APP_URL, "surprise": 1}),
        ),
    ] {
        let (status, body) = put_provider(&app, &name.replace(' ', "%20"), bad.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }
    let unknown_tenant = app
        .admin_request(
            Method::PUT,
            &format!("/admin/tenants/{}/providers/github", uuid::Uuid::new_v4()),
        )
        .json(&json!({"type": "github", "client_id": "x", "client_secret": "y", "redirect_uri": APP_URL}))
        .send()
        .await
        .expect("sends");
    assert_eq!(unknown_tenant.status(), StatusCode::NOT_FOUND);

    let listed: Value = app
        .admin_request(Method::GET, &tenant_path("/providers"))
        .send()
        .await
        .expect("sends")
        .json()
        .await
        .expect("json");
    assert_eq!(listed.as_array().map(Vec::len), Some(1));
    let deleted = app
        .admin_request(Method::DELETE, &tenant_path("/providers/github"))
        .send()
        .await
        .expect("sends");
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let again = app
        .admin_request(Method::DELETE, &tenant_path("/providers/github"))
        .send()
        .await
        .expect("sends");
    assert_eq!(again.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_apps_backend_exchanges_the_code_or_opts_in_to_the_token_in_the_url() {
    for app in TestApp::all("social_exchange").await {
        let (github, accounts) = github().await;
        let tenant = crate::tenants::create_tenant(&app, "Blog").await;
        let key = crate::tenants::create_key(&app, &tenant, "backend").await["key"]
            .as_str()
            .expect("key")
            .to_owned();
        configure_github_for(&app, &tenant, &github, false).await;
        accounts.lock().expect("lock").next = Some(GithubAccount {
            id: 31,
            emails: vec![("sam@example.com", true)],
        });
        let mut browser = Browser::new(&app.public);
        let back = sign_in_to(&mut browser, &app, "github", &tenant).await;
        let code = crate::oidc::param(&back, "code").expect("code");
        let exchanged = app
            .public_request(Method::POST, &format!("/api/auth/exchange/{tenant}"))
            .bearer_auth(&key)
            .json(&json!({"code": code}))
            .send()
            .await
            .expect("sends");
        assert_eq!(exchanged.status(), StatusCode::OK, "{}", app.backend);
        let answer: Value = exchanged.json().await.expect("json");
        let claims = app
            .validator(&tenant)
            .await
            .validate(answer["access_token"].as_str().expect("jwt"))
            .expect("valid for the app");
        assert_eq!(claims.str("tenant_id"), Some(tenant.as_str()));
        assert_eq!(claims.str("email"), Some("sam@example.com"));
        // The person belongs to the app, not to the default tenant.
        let in_default = app
            .running
            .state
            .store
            .find_identity_by_identifier(TenantId::DEFAULT, "sam@example.com")
            .await
            .expect("reads");
        assert!(in_default.is_none(), "{}", app.backend);

        // The provider is the app's alone: unknown to the default tenant's admin API and
        // sign-in URL.
        let (status, _) = crate::tenants::admin(
            &app,
            Method::GET,
            &format!("/admin/tenants/{}/providers/github", TenantId::DEFAULT.0),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let elsewhere = Browser::new(&app.public)
            .get(&format!("/api/auth/github/{}", TenantId::DEFAULT.0))
            .await;
        assert_eq!(elsewhere.status, StatusCode::NOT_FOUND);

        // Opt-in: the token itself, in the fragment.
        configure_github_for(&app, &tenant, &github, true).await;
        let back = sign_in_to(&mut browser, &app, "github", &tenant).await;
        let (before, fragment) = back.split_once('#').expect("a fragment");
        assert!(!before.contains("access_token"), "{back}");
        let fields: HashMap<String, String> = form_urlencoded::parse(fragment.as_bytes())
            .into_owned()
            .collect();
        assert_eq!(fields["token_type"], "Bearer");
        assert_eq!(fields["state"], "app-state-1");
        let claims = app
            .validator(&tenant)
            .await
            .validate(&fields["access_token"])
            .expect("valid for the app");
        assert_eq!(claims.str("sub"), answer["identity"]["id"].as_str());
    }
}
