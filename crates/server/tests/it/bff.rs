//! The backend-for-frontend end to end: a real Gatehouse as provider, a real upstream API that
//! echoes what it receives, and `gatehouse bff` in between, spoken to by a cookie-keeping client
//! that signs in through the provider's HTML login page.

use crate::oidc::{PASSWORD, web_client};
use crate::selfservice::register;
use crate::support::browser::Page;
use crate::support::{Browser, TestApp};
use axum::extract::Request;
use gatehouse::bff::{RunningBff, start_on};
use gatehouse::bff_config::BffConfig;
use gatehouse_domain::bff::{BffStore, SealedBffStore};
use gatehouse_domain::cipher::Cipher;
use gatehouse_domain::secret::{Secret, TokenHash};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::sync::Arc;
use time::Duration;
use tokio::net::TcpListener;

const ADDRESS: &str = "ada@example.com";
/// The BFFs' `GATEHOUSE_SECRETS_CIPHER`.
const CIPHER: &str = "bff-test-cipher-secret-0123456789abcdefghij";

/// An upstream API answering every request with what it received.
async fn echo_upstream() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let addr = listener.local_addr().expect("addr");
    let app = axum::Router::new().fallback(|request: Request| async move {
        let header = |name: &str| {
            request
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        axum::Json(json!({
            "path": request.uri().path(),
            "authorization": header("authorization"),
            "cookie": header("cookie"),
            "x_csrf": header("x-csrf"),
        }))
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

/// An upstream API that takes ten seconds to answer.
async fn slow_upstream() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let addr = listener.local_addr().expect("addr");
    let app = axum::Router::new().fallback(|| async {
        tokio::time::sleep(std::time::Duration::from_secs(10)).await;
        "late"
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

/// An address nothing listens on.
async fn closed_port() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    format!("http://{addr}")
}

struct Bff {
    url: String,
    client_id: String,
    client_secret: String,
    config: BffConfig,
    running: RunningBff,
    /// The BFF's store as it sees it (tokens opened).
    store: SealedBffStore,
    /// The same database as it is (tokens sealed).
    raw: gatehouse_store::Store,
}

/// Starts a BFF in front of `app` for a new skip-consent client (`extra` client fields),
/// routing `/api/*` to `api` and `/down/*` to a closed port.
async fn start_bff(app: &TestApp, api: &str, extra: Value) -> Bff {
    start_bff_with(app, api, extra, |_| {}).await
}

/// Opens the BFF's database as a store, plain and behind the BFF's cipher.
async fn stores(app: &TestApp) -> (SealedBffStore, gatehouse_store::Store) {
    let raw = gatehouse_store::Store::connect(&app.database_url, &Default::default())
        .await
        .expect("opens the database");
    let cipher = Arc::new(Cipher::new(&[CIPHER]).expect("cipher"));
    (SealedBffStore::new(Arc::new(raw.clone()), cipher), raw)
}

/// [`start_bff`], with `tweak` applied to the configuration.
async fn start_bff_with(
    app: &TestApp,
    api: &str,
    extra: Value,
    tweak: impl FnOnce(&mut BffConfig),
) -> Bff {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let mut fields = json!({
        "redirect_uris": [format!("{url}/signin-oidc")],
        "post_logout_redirect_uris": [format!("{url}/signout-callback-oidc")],
        "skip_consent": true,
    });
    if let (Some(fields), Some(extra)) = (fields.as_object_mut(), extra.as_object()) {
        fields.extend(extra.clone());
    }
    let (client_id, client_secret) = web_client(app, fields).await;
    let down = closed_port().await;
    // The SPA: an entry point and one asset.
    let spa = std::env::temp_dir().join(format!("gatehouse-bff-spa-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&spa).expect("SPA dir");
    std::fs::write(spa.join("index.html"), "<h1>Orders app</h1>").expect("index");
    std::fs::write(spa.join("app.js"), "fetch('/api/orders')").expect("asset");
    let config = BffConfig::for_tests(&format!(
        r#"
public_url = "{url}"
database_url = "{db}"
static_dir = "{spa}"
[oidc]
authority = "{issuer}"
client_id = "{client_id}"
client_secret = "{client_secret}"
scopes = ["openid", "email", "profile", "offline_access"]
post_logout_redirect_uri = "{url}/signout-callback-oidc"
refresh_before_expiry = "5m"
[session]
lifetime = "1h"
[[routes]]
path = "/api/{{**rest}}"
upstream = "{api}"
strip_prefix = "/api"
[[routes]]
path = "/down"
upstream = "{down}"
"#,
        db = app.database_url,
        issuer = app.issuer,
        spa = spa.display(),
    ))
    .expect("valid BFF config");
    let mut config = config;
    config.cipher_secrets = vec![Secret::new(CIPHER)];
    tweak(&mut config);
    let running = start_on(config.clone(), listener, app.clock.clone())
        .await
        .expect("BFF starts");
    let (store, raw) = stores(app).await;
    Bff {
        url,
        client_id,
        client_secret,
        config,
        running,
        store,
        raw,
    }
}

/// A second BFF node beside `first`: same configuration and database, its own listener.
async fn second_node(app: &TestApp, first: &Bff) -> Bff {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let running = start_on(first.config.clone(), listener, app.clock.clone())
        .await
        .expect("BFF starts");
    let (store, raw) = stores(app).await;
    Bff {
        url,
        client_id: first.client_id.clone(),
        client_secret: first.client_secret.clone(),
        config: first.config.clone(),
        running,
        store,
        raw,
    }
}

/// Follows the provider's redirects from `location` until one leads back to the BFF; signs in
/// on the login page when it shows. Returns the URL on the BFF.
async fn through_provider(
    app: &TestApp,
    idp: &mut Browser,
    bff: &Bff,
    mut location: String,
) -> String {
    for _ in 0..10 {
        if location.starts_with(&bff.url) {
            return location;
        }
        let page = idp.get(&location).await;
        let page = if page.status == StatusCode::OK && page.body.contains("Sign in") {
            sign_in(idp, &page).await
        } else {
            page
        };
        assert!(
            page.status.is_redirection(),
            "{}: {}",
            app.backend,
            page.body
        );
        location = page.location.expect("location");
        if location.starts_with('/') {
            location = format!("{}{location}", app.public);
        }
    }
    panic!("too many redirects");
}

async fn sign_in(idp: &mut Browser, page: &Page) -> Page {
    let csrf = page.input_value("csrf_token").expect("csrf");
    let action = page.form_action().expect("action");
    idp.post_form(
        &action,
        &[
            ("csrf_token", &csrf),
            ("identifier", ADDRESS),
            ("password", PASSWORD),
            ("method", "password"),
        ],
    )
    .await
}

/// `/bff/login?returnUrl=…` through the provider's login page: the BFF's callback URL and the
/// login answer.
async fn start_login(
    app: &TestApp,
    browser: &mut Browser,
    idp: &mut Browser,
    bff: &Bff,
    return_url: &str,
) -> String {
    let started = browser
        .get(&format!(
            "/bff/login?returnUrl={}",
            crate::selfservice::encode(return_url)
        ))
        .await;
    assert_eq!(started.status, StatusCode::SEE_OTHER, "{}", started.body);
    let to_provider = started.location.expect("location");
    assert!(to_provider.starts_with(&app.public), "{to_provider}");
    through_provider(app, idp, bff, to_provider).await
}

/// Signs in fully; returns the browser and the provider's browser.
async fn signed_in(app: &TestApp, bff: &Bff) -> (Browser, Browser) {
    let mut browser = Browser::new(&bff.url);
    let mut idp = Browser::new(&app.public);
    let callback = start_login(app, &mut browser, &mut idp, bff, "/app/home").await;
    let landed = browser.get(&callback).await;
    assert_eq!(
        landed.status,
        StatusCode::SEE_OTHER,
        "{}: {}",
        app.backend,
        landed.body
    );
    assert_eq!(landed.location.as_deref(), Some("/app/home"));
    (browser, idp)
}

async fn api(browser: &Browser, bff: &Bff, path: &str, csrf: bool) -> (StatusCode, Value) {
    let mut request = reqwest::Client::new()
        .get(format!("{}{path}", bff.url))
        .header("Cookie", browser.cookie_header())
        .header("Authorization", "Bearer from-the-browser");
    if csrf {
        request = request.header("X-CSRF", "1");
    }
    let response = request.send().await.expect("sends");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn stored_session(bff: &Bff, browser: &Browser) -> gatehouse_domain::bff::BffSession {
    let cookie = browser
        .cookies
        .get("gatehouse_bff")
        .expect("session cookie");
    bff.store
        .find_bff_session(&TokenHash::of(cookie))
        .await
        .expect("reads")
        .expect("session stored")
}

/// The provider's answer to the BFF's client refreshing `refresh_token` itself.
async fn refresh_directly(app: &TestApp, bff: &Bff, refresh_token: &str) -> StatusCode {
    app.public_request(reqwest::Method::POST, "/oauth2/token")
        .basic_auth(&bff.client_id, Some(&bff.client_secret))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ])
        .send()
        .await
        .expect("sends")
        .status()
}

#[tokio::test]
async fn signs_in_proxies_with_the_access_token_and_logs_out_at_the_provider() {
    for app in TestApp::all("bff_round_trip").await {
        register(&app, ADDRESS, PASSWORD).await;
        let upstream = echo_upstream().await;
        let bff = start_bff(&app, &upstream, json!({})).await;
        let (mut browser, mut idp) = signed_in(&app, &bff).await;
        let set = browser.set_cookies.join("\n");
        assert!(
            set.contains("gatehouse_bff=")
                && set.contains("HttpOnly")
                && set.contains("SameSite=Strict"),
            "{set}"
        );

        let user = browser.get("/bff/user").await;
        assert_eq!(user.status, StatusCode::OK, "{}", user.body);
        let claims: Value = serde_json::from_str(&user.body).expect("json");
        assert_eq!(claims["email"], ADDRESS, "{claims}");
        assert_eq!(claims["iss"], app.issuer.as_str());
        let expires_in = claims["bff:session_expires_in"].as_i64().expect("seconds");
        assert!((3590..=3600).contains(&expires_in), "{expires_in}");

        let (status, echoed) = api(&browser, &bff, "/api/orders?x=1", true).await;
        assert_eq!(status, StatusCode::OK, "{echoed}");
        let session = stored_session(&bff, &browser).await;
        assert_eq!(echoed["path"], "/orders");
        assert_eq!(
            echoed["authorization"],
            format!("Bearer {}", session.tokens.access_token)
        );
        assert_eq!(
            echoed["cookie"],
            Value::Null,
            "browser cookies stay at the BFF"
        );
        // At rest, every token is sealed.
        let at_rest = bff
            .raw
            .find_bff_session(&session.id)
            .await
            .expect("reads")
            .expect("stored");
        for (sealed, clear) in [
            (&at_rest.tokens.access_token, &session.tokens.access_token),
            (&at_rest.id_token, &session.id_token),
            (
                at_rest.tokens.refresh_token.as_ref().expect("sealed"),
                session
                    .tokens
                    .refresh_token
                    .as_ref()
                    .expect("offline_access"),
            ),
        ] {
            assert!(!sealed.contains(clear.as_str()) && sealed != clear);
        }
        let debug = format!("{session:?}");
        assert!(
            !debug.contains(&session.tokens.access_token) && !debug.contains(&session.id_token),
            "{debug}"
        );
        let (status, _) = api(&browser, &bff, "/api/orders", false).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "X-CSRF is required");
        let (status, _) = api(&Browser::new(&bff.url), &bff, "/api/orders", true).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "no session");
        let (status, _) = api(&browser, &bff, "/down/x", true).await;
        assert_eq!(status, StatusCode::BAD_GATEWAY, "upstream down");

        // Logout needs the anti-forgery header (or the session's sid).
        let refused = reqwest::Client::new()
            .post(format!("{}/bff/logout", bff.url))
            .header("Cookie", browser.cookie_header())
            .send()
            .await
            .expect("sends");
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
        let sid = session.claims["sid"].as_str().expect("sid").to_owned();
        let logout_url = claims["bff:logout_url"].as_str().expect("logout url");
        assert_eq!(logout_url, format!("/bff/logout?sid={sid}"));
        let refresh = session
            .tokens
            .refresh_token
            .clone()
            .expect("offline_access");
        // The link in `bff:logout_url` signs out (the sid stands in for the X-CSRF header).
        let out = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client")
            .get(format!("{}{logout_url}", bff.url))
            .header("Cookie", browser.cookie_header())
            .send()
            .await
            .expect("sends");
        assert_eq!(out.status(), StatusCode::SEE_OTHER);
        let to_provider = out.headers()["location"]
            .to_str()
            .expect("ascii")
            .to_owned();
        assert!(
            to_provider.starts_with(&format!("{}/oauth2/sessions/logout?", app.public)),
            "{to_provider}"
        );
        assert_eq!(
            crate::oidc::param(&to_provider, "id_token_hint").as_deref(),
            Some(session.id_token.as_str())
        );
        let back = through_provider(&app, &mut idp, &bff, to_provider).await;
        assert!(
            back.starts_with(&format!("{}/signout-callback-oidc", bff.url)),
            "{back}"
        );
        let landed = browser.get(&back).await;
        assert_eq!(landed.location.as_deref(), Some("/"));

        let user = browser.get("/bff/user").await;
        assert_eq!(user.status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            refresh_directly(&app, &bff, &refresh).await,
            StatusCode::BAD_REQUEST,
            "the refresh token was revoked"
        );
        bff.running.shutdown();
    }
}

#[tokio::test]
async fn refuses_a_wrong_state_a_replayed_callback_and_foreign_return_urls() {
    let app = TestApp::sqlite().await;
    register(&app, ADDRESS, PASSWORD).await;
    let bff = start_bff(&app, &echo_upstream().await, json!({})).await;
    let mut browser = Browser::new(&bff.url);
    let mut idp = Browser::new(&app.public);

    let callback = start_login(&app, &mut browser, &mut idp, &bff, "/x").await;
    let code = crate::oidc::param(&callback, "code").expect("code");
    let forged = browser
        .get(&format!("/signin-oidc?code={code}&state=forged"))
        .await;
    assert_eq!(forged.status, StatusCode::BAD_REQUEST, "{}", forged.body);

    let callback = start_login(&app, &mut browser, &mut idp, &bff, "https://evil.example/").await;
    let landed = browser.get(&callback).await;
    assert_eq!(landed.status, StatusCode::SEE_OTHER, "{}", landed.body);
    assert_eq!(
        landed.location.as_deref(),
        Some("/"),
        "never an open redirect"
    );
    let session_cookie = browser.cookies.get("gatehouse_bff").cloned();
    let replayed = browser.get(&callback).await;
    assert_eq!(
        replayed.status,
        StatusCode::BAD_REQUEST,
        "{}",
        replayed.body
    );
    assert_eq!(
        browser.cookies.get("gatehouse_bff"),
        session_cookie.as_ref()
    );
    bff.running.shutdown();
}

#[tokio::test]
async fn sessions_expire_after_their_sliding_lifetime() {
    let app = TestApp::sqlite().await;
    register(&app, ADDRESS, PASSWORD).await;
    let bff = start_bff(&app, &echo_upstream().await, json!({})).await;
    let (mut browser, _) = signed_in(&app, &bff).await;
    app.clock.advance(Duration::minutes(50));
    assert_eq!(
        browser.get("/bff/user").await.status,
        StatusCode::OK,
        "used: slides"
    );
    app.clock.advance(Duration::minutes(50));
    assert_eq!(
        browser.get("/bff/user").await.status,
        StatusCode::OK,
        "still within an hour of use"
    );
    app.clock.advance(Duration::minutes(61));
    assert_eq!(
        browser.get("/bff/user").await.status,
        StatusCode::UNAUTHORIZED
    );
    let (status, _) = api(&browser, &bff, "/api/x", true).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    bff.running.shutdown();
}

#[tokio::test]
async fn refreshes_a_token_near_expiry_once_and_ends_the_session_when_refused() {
    for app in TestApp::all("bff_refresh").await {
        register(&app, ADDRESS, PASSWORD).await;
        let bff = start_bff(
            &app,
            &echo_upstream().await,
            json!({
                "authorization_code_grant_access_token_lifespan": "1m",
                "refresh_token_grant_access_token_lifespan": "1m",
            }),
        )
        .await;
        let (browser, _) = signed_in(&app, &bff).await;
        let first = stored_session(&bff, &browser).await;
        let (status, _) = api(&browser, &bff, "/api/x", true).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            stored_session(&bff, &browser).await.version,
            first.version,
            "still fresh"
        );
        // Past half its minute: the next wave of requests refreshes it, once.
        app.clock.advance(Duration::seconds(40));

        let calls = (0..5).map(|_| api(&browser, &bff, "/api/x", true));
        let answers = crate::oidc::futures_join_all(calls).await;
        let bearers: Vec<Value> = answers
            .iter()
            .map(|(status, echoed)| {
                assert_eq!(*status, StatusCode::OK, "{}: {echoed}", app.backend);
                echoed["authorization"].clone()
            })
            .collect();
        let now = stored_session(&bff, &browser).await;
        assert_eq!(
            now.version,
            first.version + 1,
            "{}: one refresh for five requests",
            app.backend
        );
        assert_ne!(now.tokens.access_token, first.tokens.access_token);
        for bearer in bearers {
            assert_eq!(bearer, format!("Bearer {}", now.tokens.access_token));
        }

        // The provider no longer accepts the refresh token: the session ends.
        let revoked = app
            .public_request(reqwest::Method::POST, "/oauth2/revoke")
            .basic_auth(&bff.client_id, Some(&bff.client_secret))
            .form(&[
                (
                    "token",
                    now.tokens.refresh_token.as_deref().expect("refresh"),
                ),
                ("token_type_hint", "refresh_token"),
            ])
            .send()
            .await
            .expect("sends");
        assert_eq!(revoked.status(), StatusCode::OK);
        assert_eq!(
            refresh_directly(&app, &bff, now.tokens.refresh_token.as_deref().expect("r")).await,
            StatusCode::BAD_REQUEST,
            "revoked"
        );
        app.clock.advance(Duration::seconds(40));
        let (status, body) = api(&browser, &bff, "/api/x", true).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{}: {body}", app.backend);
        let user = reqwest::Client::new()
            .get(format!("{}/bff/user", bff.url))
            .header("Cookie", browser.cookie_header())
            .send()
            .await
            .expect("sends");
        assert_eq!(
            user.status(),
            StatusCode::UNAUTHORIZED,
            "the session was ended"
        );
        bff.running.shutdown();
    }
}

#[tokio::test]
async fn serves_the_spa_from_static_dir_with_an_index_fallback() {
    let app = TestApp::sqlite().await;
    let bff = start_bff(&app, &echo_upstream().await, json!({})).await;
    let get = |path: &str| reqwest::get(format!("{}{path}", bff.url));
    let index = get("/").await.expect("answers");
    assert_eq!(index.status(), StatusCode::OK);
    assert_eq!(index.text().await.expect("body"), "<h1>Orders app</h1>");
    let asset = get("/app.js").await.expect("answers");
    assert_eq!(
        asset.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    // A client-side route loads the app; a missing asset is a 404; the API stays the API.
    let route = get("/orders/42").await.expect("answers");
    assert_eq!(route.text().await.expect("body"), "<h1>Orders app</h1>");
    assert_eq!(
        get("/missing.js").await.expect("answers").status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get("/api/orders").await.expect("answers").status(),
        StatusCode::FORBIDDEN,
        "no X-CSRF"
    );
    bff.running.shutdown();
}

#[tokio::test]
async fn two_nodes_refresh_a_shared_session_once() {
    for app in TestApp::all("bff_two_nodes").await {
        register(&app, ADDRESS, PASSWORD).await;
        let upstream = echo_upstream().await;
        let a = start_bff(
            &app,
            &upstream,
            json!({
                "authorization_code_grant_access_token_lifespan": "1m",
                "refresh_token_grant_access_token_lifespan": "1m",
            }),
        )
        .await;
        let b = second_node(&app, &a).await;
        let (browser, _) = signed_in(&app, &a).await;
        let first = stored_session(&a, &browser).await;
        let (status, _) = api(&browser, &b, "/api/x", true).await;
        assert_eq!(status, StatusCode::OK, "the session is shared");

        // Both nodes get requests for the session once its token needs refreshing. The provider
        // rotates refresh tokens with no grace period, so spending the same one twice would
        // revoke the family: exactly one node may refresh.
        app.clock.advance(Duration::seconds(40));
        let calls = (0..8).map(|i| api(&browser, if i % 2 == 0 { &a } else { &b }, "/api/x", true));
        let answers = crate::oidc::futures_join_all(calls).await;
        let now = stored_session(&a, &browser).await;
        assert_eq!(
            now.version,
            first.version + 1,
            "{}: one refresh for both nodes",
            app.backend
        );
        for (status, echoed) in answers {
            assert_eq!(status, StatusCode::OK, "{}: {echoed}", app.backend);
            assert_eq!(
                echoed["authorization"],
                format!("Bearer {}", now.tokens.access_token)
            );
        }
        assert_eq!(
            refresh_directly(&app, &a, now.tokens.refresh_token.as_deref().expect("r")).await,
            StatusCode::OK,
            "{}: the stored refresh token is still good (no reuse was detected)",
            app.backend
        );
        a.running.shutdown();
        b.running.shutdown();
    }
}

#[tokio::test]
async fn logout_with_the_csrf_header_and_refuses_foreign_origins() {
    let app = TestApp::sqlite().await;
    register(&app, ADDRESS, PASSWORD).await;
    let bff = start_bff_with(&app, &echo_upstream().await, json!({}), |config| {
        config.settings.allowed_origins = vec!["https://shell.example".to_owned()];
    })
    .await;
    let (browser, _) = signed_in(&app, &bff).await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let from = |method: reqwest::Method, path: &str, origin: &str| {
        http.request(method, format!("{}{path}", bff.url))
            .header("Cookie", browser.cookie_header())
            .header("X-CSRF", "1")
            .header("Origin", origin)
    };
    for (origin, expected) in [
        ("https://evil.example", StatusCode::FORBIDDEN),
        ("https://shell.example", StatusCode::OK),
        (bff.url.as_str(), StatusCode::OK),
    ] {
        let answer = from(reqwest::Method::GET, "/api/x", origin)
            .send()
            .await
            .expect("sends");
        assert_eq!(answer.status(), expected, "API call from {origin}");
    }
    let refused = from(reqwest::Method::POST, "/bff/logout", "https://evil.example")
        .send()
        .await
        .expect("sends");
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let (status, _) = api(&browser, &bff, "/api/x", true).await;
    assert_eq!(status, StatusCode::OK, "still signed in");

    let out = from(reqwest::Method::POST, "/bff/logout", &bff.url)
        .send()
        .await
        .expect("sends");
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    let location = out.headers()["location"].to_str().expect("ascii");
    assert!(
        location.starts_with(&format!("{}/oauth2/sessions/logout?", app.public)),
        "{location}"
    );
    let cleared = out.headers()["set-cookie"].to_str().expect("ascii");
    assert!(
        cleared.starts_with("gatehouse_bff=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
    let (status, _) = api(&browser, &bff, "/api/x", true).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the session is gone");
    bff.running.shutdown();
}

#[tokio::test]
async fn a_slow_upstream_is_a_gateway_timeout() {
    let app = TestApp::sqlite().await;
    register(&app, ADDRESS, PASSWORD).await;
    let bff = start_bff_with(&app, &slow_upstream().await, json!({}), |config| {
        config.settings.upstream_timeout = std::time::Duration::from_millis(300);
    })
    .await;
    let (browser, _) = signed_in(&app, &bff).await;
    let (status, body) = api(&browser, &bff, "/api/x", true).await;
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT, "{body}");
    bff.running.shutdown();
}

#[tokio::test]
async fn refuses_an_id_token_whose_nonce_is_not_the_sign_ins() {
    let app = TestApp::sqlite().await;
    register(&app, ADDRESS, PASSWORD).await;
    let bff = start_bff(&app, &echo_upstream().await, json!({})).await;
    let mut browser = Browser::new(&bff.url);
    let mut idp = Browser::new(&app.public);
    let callback = start_login(&app, &mut browser, &mut idp, &bff, "/").await;
    // The stored sign-in now expects another nonce than the one the provider put in the token.
    let pending = TokenHash::of(browser.cookies.get("gatehouse_bff_login").expect("cookie"));
    let mut login = bff
        .store
        .take_bff_login(&pending)
        .await
        .expect("reads")
        .expect("in progress");
    login.nonce = "another-nonce".to_owned();
    bff.store.insert_bff_login(&login).await.expect("stores");
    let landed = browser.get(&callback).await;
    assert_eq!(landed.status, StatusCode::BAD_REQUEST, "{}", landed.body);
    assert!(!browser.cookies.contains_key("gatehouse_bff"), "no session");
    bff.running.shutdown();
}

#[tokio::test]
async fn sessions_sealed_with_a_retired_key_sign_in_again() {
    let app = TestApp::sqlite().await;
    register(&app, ADDRESS, PASSWORD).await;
    let bff = start_bff(&app, &echo_upstream().await, json!({})).await;
    let (browser, _) = signed_in(&app, &bff).await;
    bff.running.shutdown();
    // The same database behind a BFF whose only cipher secret is a new one.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let mut config = bff.config.clone();
    config.cipher_secrets = vec![Secret::new("a-brand-new-cipher-secret-0123456789abcdef")];
    let rotated = start_on(config, listener, app.clock.clone())
        .await
        .expect("BFF starts");
    let user = reqwest::Client::new()
        .get(format!("{url}/bff/user"))
        .header("Cookie", browser.cookie_header())
        .send()
        .await
        .expect("sends");
    assert_eq!(user.status(), StatusCode::UNAUTHORIZED);
    rotated.shutdown();
}

#[tokio::test]
async fn does_not_start_without_a_usable_provider() {
    let app = TestApp::sqlite().await;
    let bff = start_bff(&app, &echo_upstream().await, json!({})).await;
    bff.running.shutdown();
    for authority in [closed_port().await, format!("{}/elsewhere", app.issuer)] {
        let mut config = bff.config.clone();
        config.settings.authority = authority.clone();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
        let err = match start_on(config, listener, app.clock.clone()).await {
            Ok(_) => panic!("started with authority {authority}"),
            Err(err) => format!("{err:#}"),
        };
        assert!(
            err.contains("cannot discover the identity provider"),
            "{err}"
        );
    }
}
