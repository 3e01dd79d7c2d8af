//! The OpenID Connect provider end to end: the authorization endpoint, signing in through the
//! HTML login form with a cookie-keeping client, the consent page, the code exchange and the ID
//! token; first as raw HTTP, then with the `openidconnect` crate as the relying party.

use crate::selfservice::register;
use crate::support::browser::Page;
use crate::support::{Browser, TestApp};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

pub const PASSWORD: &str = "correct horse battery staple 93";
pub const REDIRECT: &str = "https://rp.example/cb";
/// RFC 7636 Appendix B.
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// A confidential web client; `extra` fields are merged into the admin request.
pub async fn web_client(app: &TestApp, extra: Value) -> (String, String) {
    let mut body = json!({
        "client_name": "Photo Printer",
        "redirect_uris": [REDIRECT],
        "post_logout_redirect_uris": ["https://rp.example/bye"],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "scope": "openid email profile offline_access username",
        "token_endpoint_auth_method": "client_secret_basic",
    });
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            body.insert(k.clone(), v.clone());
        }
    }
    let created = app.create_client(body).await;
    (
        created["client_id"].as_str().expect("id").to_owned(),
        created["client_secret"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

pub fn query_of(url: &str) -> Vec<(String, String)> {
    url::Url::parse(url)
        .expect("absolute URL")
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

pub fn param(url: &str, name: &str) -> Option<String> {
    query_of(url)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

/// The authorization request's URL for `client_id` with PKCE and `extra` parameters.
pub fn auth_url(client_id: &str, scope: &str, extra: &[(&str, &str)]) -> String {
    let mut url = url::Url::parse("http://placeholder/oauth2/auth").expect("url");
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("response_type", "code")
            .append_pair("client_id", client_id)
            .append_pair("redirect_uri", REDIRECT)
            .append_pair("scope", scope)
            .append_pair("state", "st-123")
            .append_pair("nonce", "n-456")
            .append_pair("code_challenge", CHALLENGE)
            .append_pair("code_challenge_method", "S256");
        for (k, v) in extra {
            q.append_pair(k, v);
        }
    }
    format!("/oauth2/auth?{}", url.query().unwrap_or_default())
}

/// Follows same-server redirects until one leaves for the client (its redirect URI) or a page
/// answers; returns that last response.
pub async fn follow_to_client(browser: &mut Browser, mut page: Page) -> Page {
    for _ in 0..10 {
        match page.location.clone() {
            Some(location)
                if page.status.is_redirection() && !location.starts_with("https://rp.") =>
            {
                page = browser.get(&location).await;
            }
            _ => return page,
        }
    }
    panic!("too many redirects");
}

/// Signs in on the login page `page` (as reached by following redirects).
pub async fn sign_in(browser: &mut Browser, page: Page, address: &str) -> Page {
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("Sign in"), "{}", page.body);
    let csrf = page.input_value("csrf_token").expect("csrf");
    let action = page.form_action().expect("action");
    let sent = browser
        .post_form(
            &action,
            &[
                ("csrf_token", &csrf),
                ("identifier", address),
                ("password", PASSWORD),
                ("method", "password"),
            ],
        )
        .await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.body);
    follow_to_client(browser, sent).await
}

/// Answers the consent page `page`: the scopes to leave checked, remember, allow or deny.
pub async fn decide(
    browser: &mut Browser,
    page: &Page,
    keep: &[&str],
    remember: bool,
    allow: bool,
) -> Page {
    let csrf = page.input_value("csrf_token").expect("csrf");
    let challenge = page.input_value("consent_challenge").expect("challenge");
    let mut fields = vec![
        ("csrf_token", csrf.as_str()),
        ("consent_challenge", &challenge),
    ];
    for scope in keep {
        fields.push(("grant_scope", scope));
    }
    if remember {
        fields.push(("remember", "true"));
    }
    fields.push(("action", if allow { "allow" } else { "deny" }));
    let sent = browser.post_form("/ui/consent", &fields).await;
    follow_to_client(browser, sent).await
}

pub fn claims_of(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).expect("three parts");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url")).expect("json")
}

pub fn header_of(jwt: &str) -> Value {
    let header = jwt.split('.').next().expect("three parts");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).expect("base64url")).expect("json")
}

/// `POST /oauth2/token` as `id` (HTTP Basic) with `form`: the status and the JSON answer.
pub async fn token_request(
    app: &TestApp,
    id: &str,
    secret: &str,
    form: &[(&str, &str)],
) -> (StatusCode, Value) {
    let response = app
        .public_request(Method::POST, "/oauth2/token")
        .basic_auth(id, Some(secret))
        .form(form)
        .send()
        .await
        .expect("sends");
    let status = response.status();
    (status, response.json().await.expect("json"))
}

pub async fn exchange(
    app: &TestApp,
    id: &str,
    secret: &str,
    form: &[(&str, &str)],
) -> (StatusCode, Value) {
    let mut params = vec![("grant_type", "authorization_code")];
    // The authorization requests of these tests name the redirect URI: so does the exchange,
    // unless the test sends its own (an empty value counts as none).
    if !form.iter().any(|(name, _)| *name == "redirect_uri") {
        params.push(("redirect_uri", REDIRECT));
    }
    params.extend_from_slice(form);
    token_request(app, id, secret, &params).await
}

/// Registers `address` and runs one authorization through login and consent (keeping the
/// given scopes); returns the browser (signed in) and the code.
pub async fn authorize(
    app: &TestApp,
    client_id: &str,
    address: &str,
    keep: &[&str],
) -> (Browser, String) {
    register(app, address, PASSWORD).await;
    let mut browser = Browser::new(&app.public);
    let start = browser
        .get(&auth_url(
            client_id,
            "openid email profile offline_access",
            &[],
        ))
        .await;
    let login = follow_to_client(&mut browser, start).await;
    let consent = sign_in(&mut browser, login, address).await;
    assert_eq!(consent.status, StatusCode::OK, "{}", consent.body);
    let done = decide(&mut browser, &consent, keep, false, true).await;
    let location = done.location.expect("redirect to the client");
    assert!(location.starts_with(REDIRECT), "{location}");
    (browser, param(&location, "code").expect("code"))
}

#[tokio::test]
async fn code_flow_through_login_and_consent_issues_checked_tokens() {
    for app in TestApp::all("oidc_code").await {
        let (id, secret) = web_client(&app, json!({})).await;
        let address = "ada@example.com";
        register(&app, address, PASSWORD).await;
        let mut browser = Browser::new(&app.public);

        // Not signed in: the request is kept and the person signs in first.
        let start = browser
            .get(&auth_url(&id, "openid email profile", &[]))
            .await;
        assert_eq!(start.status, StatusCode::SEE_OTHER, "{}", start.body);
        let login = follow_to_client(&mut browser, start).await;
        let csp = login
            .headers
            .get("content-security-policy")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert!(
            csp.contains("form-action 'self'") && csp.contains("https://rp.example"),
            "the login page lets its redirects reach the client: {csp}"
        );
        let consent = sign_in(&mut browser, login, address).await;

        // The consent page names the client and each scope with its display name.
        assert_eq!(consent.status, StatusCode::OK, "{}", consent.body);
        for text in [
            "Photo Printer",
            "Email Address",
            "Your email address and whether it is verified",
            "Profile",
            "Remember this decision",
            ">Allow<",
            ">Deny<",
            "name=\"grant_scope\"",
        ] {
            assert!(consent.body.contains(text), "{text}: {}", consent.body);
        }
        // The person unchecks `profile`; `openid` cannot be unchecked.
        let done = decide(&mut browser, &consent, &["email"], false, true).await;
        assert_eq!(done.status, StatusCode::SEE_OTHER);
        let location = done.location.expect("location");
        assert!(location.starts_with(REDIRECT), "{location}");
        assert_eq!(param(&location, "state").as_deref(), Some("st-123"));
        assert_eq!(
            param(&location, "iss").as_deref(),
            Some(app.issuer.as_str())
        );
        let code = param(&location, "code").expect("code");

        // Without the verifier, with a wrong one, or at the wrong redirect URI: refused, and the
        // code is spent only by the one good exchange.
        let (status, body) = exchange(
            &app,
            &id,
            &secret,
            &[
                ("code", &code),
                ("redirect_uri", "https://rp.example/other"),
                ("code_verifier", VERIFIER),
            ],
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["error"], "invalid_grant");

        let (_, code) = authorize_again(&app, &mut browser, &id).await;
        let (status, body) = exchange(
            &app,
            &id,
            &secret,
            &[
                ("code", &code),
                ("redirect_uri", ""),
                ("code_verifier", VERIFIER),
            ],
        )
        .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_grant")),
            "the request named a redirect_uri: the exchange must repeat it"
        );

        let (_, code) = authorize_again(&app, &mut browser, &id).await;
        let (status, body) = exchange(&app, &id, &secret, &[("code", &code)]).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_grant"))
        );

        let (_, code) = authorize_again(&app, &mut browser, &id).await;
        let (status, tokens) = exchange(
            &app,
            &id,
            &secret,
            &[
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", VERIFIER),
            ],
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{}: {tokens}", app.backend);
        assert_eq!(tokens["token_type"], "bearer");
        assert_eq!(tokens["scope"], "email openid");
        assert!(tokens.get("refresh_token").is_none(), "no offline_access");

        let access = claims_of(tokens["access_token"].as_str().expect("access token"));
        assert_eq!(access["client_id"], json!(id));
        assert_eq!(access["email"], address);
        assert_eq!(access["scope"], "email openid");
        assert_eq!(access["tenant_id"], "00000000-0000-0000-0000-000000000001");
        let sub = access["sub"].as_str().expect("sub").to_owned();

        let id_token = tokens["id_token"].as_str().expect("id token");
        assert_eq!(header_of(id_token)["alg"], "RS256");
        let claims = claims_of(id_token);
        assert_eq!(claims["iss"], json!(app.issuer));
        assert_eq!(claims["aud"], json!(id));
        assert_eq!(claims["sub"], json!(sub));
        assert_eq!(claims["nonce"], "n-456");
        assert_eq!(claims["amr"], json!(["pwd"]));
        assert!(claims["sid"].is_string());
        assert!(
            claims["auth_time"]
                .as_i64()
                .is_some_and(|t| t <= claims["iat"].as_i64().unwrap_or(0))
        );
        let digest = aws_lc_rs::digest::digest(
            &aws_lc_rs::digest::SHA256,
            tokens["access_token"].as_str().expect("at").as_bytes(),
        );
        assert_eq!(
            claims["at_hash"],
            json!(URL_SAFE_NO_PAD.encode(&digest.as_ref()[..16]))
        );

        // The token introspects as the person's, and a replay of the code revokes it.
        let (machine, machine_secret) = app.machine_client().await;
        let access_token = tokens["access_token"].as_str().expect("at");
        let live = app
            .introspect(&machine, &machine_secret, access_token)
            .await;
        assert_eq!(live["active"], true, "{live}");
        assert_eq!(live["sub"], json!(sub));
        let (status, body) = exchange(
            &app,
            &id,
            &secret,
            &[
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", VERIFIER),
            ],
        )
        .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_grant"))
        );
        let revoked = app
            .introspect(&machine, &machine_secret, access_token)
            .await;
        assert_eq!(revoked["active"], false, "{revoked}");
        let types = crate::selfservice::audit_types(&app).await;
        for expected in ["consent_granted", "code_replay_detected"] {
            assert!(types.iter().any(|t| t == expected), "{expected}: {types:?}");
        }
    }
}

/// Another authorization in a browser that is signed in and has consented before (not
/// remembered): the consent page shows again and is allowed with `email`.
async fn authorize_again(app: &TestApp, browser: &mut Browser, id: &str) -> (Page, String) {
    let start = browser.get(&auth_url(id, "openid email", &[])).await;
    let consent = follow_to_client(browser, start).await;
    assert_eq!(
        consent.status,
        StatusCode::OK,
        "{}: {}",
        app.backend,
        consent.body
    );
    let done = decide(browser, &consent, &["email"], false, true).await;
    let location = done.location.clone().expect("location");
    let code = param(&location, "code").expect("code");
    (done, code)
}

#[tokio::test]
async fn errors_before_the_redirect_uri_is_trusted_are_pages_and_after_it_redirects() {
    for app in TestApp::all("oidc_errors").await {
        let (id, _) = web_client(&app, json!({})).await;
        let (public, _) = web_client(
            &app,
            json!({"client_name": "Phone", "token_endpoint_auth_method": "none"}),
        )
        .await;
        let mut browser = Browser::new(&app.public);

        // Unknown client, unregistered redirect URI: an error page, never a redirect.
        for path in [
            auth_url("nope", "openid", &[]),
            auth_url(&id, "openid", &[]).replace("rp.example%2Fcb", "evil.example%2Fcb"),
        ] {
            let page = browser.get(&path).await;
            assert_eq!(
                page.status,
                StatusCode::BAD_REQUEST,
                "{path}: {}",
                page.body
            );
            assert!(page.location.is_none());
            assert!(page.body.contains("<html"), "an HTML page: {}", page.body);
        }

        // After the redirect URI is trusted, errors go back with state and iss.
        let cases: Vec<(String, &str)> = vec![
            (auth_url(&id, "openid admin", &[]), "invalid_scope"),
            (
                auth_url(&id, "openid", &[("response_type", "token")])
                    .replace("response_type=code&", ""),
                "unsupported_response_type",
            ),
            (
                auth_url(&public, "openid", &[]).replace(
                    &format!("&code_challenge={CHALLENGE}&code_challenge_method=S256"),
                    "",
                ),
                "invalid_request",
            ),
            (
                auth_url(&id, "openid", &[])
                    .replace("code_challenge_method=S256", "code_challenge_method=plain"),
                "invalid_request",
            ),
            (
                auth_url(&id, "openid", &[("prompt", "none")]),
                "login_required",
            ),
        ];
        for (path, error) in cases {
            let page = browser.get(&path).await;
            assert_eq!(page.status, StatusCode::SEE_OTHER, "{path}: {}", page.body);
            let location = page.location.expect("location");
            assert!(location.starts_with(REDIRECT), "{location}");
            assert_eq!(param(&location, "error").as_deref(), Some(error), "{path}");
            assert_eq!(param(&location, "state").as_deref(), Some("st-123"));
            assert_eq!(
                param(&location, "iss").as_deref(),
                Some(app.issuer.as_str())
            );
            assert!(param(&location, "error_description").is_some());
        }

        // Signed in, but no consent yet: prompt=none answers consent_required.
        register(&app, "grace@example.com", PASSWORD).await;
        let start = browser.get(&auth_url(&id, "openid", &[])).await;
        let login = follow_to_client(&mut browser, start).await;
        let consent = sign_in(&mut browser, login, "grace@example.com").await;
        assert_eq!(consent.status, StatusCode::OK);
        let page = browser
            .get(&auth_url(&id, "openid", &[("prompt", "none")]))
            .await;
        let location = page.location.expect("location");
        assert_eq!(
            param(&location, "error").as_deref(),
            Some("consent_required")
        );

        // "Deny" answers access_denied; the pending request is gone afterwards.
        let denied = decide(&mut browser, &consent, &[], false, false).await;
        let location = denied.location.clone().expect("location");
        assert_eq!(param(&location, "error").as_deref(), Some("access_denied"));
        assert_eq!(param(&location, "state").as_deref(), Some("st-123"));
        let again = decide(&mut browser, &consent, &[], false, true).await;
        assert_eq!(again.status, StatusCode::BAD_REQUEST, "answered once");

        // The consent page of another browser's request is refused.
        let start = browser.get(&auth_url(&id, "openid", &[])).await;
        let consent_url = start.location.expect("consent");
        assert!(consent_url.starts_with("/ui/consent?"), "{consent_url}");
        let mut stranger = Browser::new(&app.public);
        let page = stranger.get(&consent_url).await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST);
        let types = crate::selfservice::audit_types(&app).await;
        assert!(types.iter().any(|t| t == "consent_denied"), "{types:?}");
    }
}

#[tokio::test]
async fn remembered_consent_and_first_party_clients_skip_the_page_and_prompts_apply() {
    for app in TestApp::all("oidc_remember").await {
        let (id, secret) = web_client(&app, json!({})).await;
        let (first_party, _) = web_client(
            &app,
            json!({"client_name": "Our own app", "skip_consent": true}),
        )
        .await;
        let address = "lin@example.com";
        register(&app, address, PASSWORD).await;
        let mut browser = Browser::new(&app.public);
        let start = browser.get(&auth_url(&id, "openid email", &[])).await;
        let login = follow_to_client(&mut browser, start).await;
        let consent = sign_in(&mut browser, login, address).await;
        let done = decide(&mut browser, &consent, &["email"], true, true).await;
        assert!(done.location.expect("l").starts_with(REDIRECT));

        // Remembered: the next request (also prompt=none) goes straight back with a code.
        for extra in [&[][..], &[("prompt", "none")][..]] {
            let page = browser.get(&auth_url(&id, "openid email", extra)).await;
            let location = page.location.expect("location");
            assert!(param(&location, "code").is_some(), "{location}");
        }
        // A scope beyond the remembered ones, or prompt=consent, shows the page again.
        for (scope, extra) in [
            ("openid email profile", &[][..]),
            ("openid email", &[("prompt", "consent")][..]),
        ] {
            let page = browser.get(&auth_url(&id, scope, extra)).await;
            assert!(
                page.location
                    .as_deref()
                    .is_some_and(|l| l.starts_with("/ui/consent")),
                "{scope}: {:?}",
                page.location
            );
        }
        // A first-party client never asks.
        let page = browser
            .get(&auth_url(&first_party, "openid profile", &[]))
            .await;
        assert!(param(&page.location.expect("l"), "code").is_some());

        // prompt=login and max_age=0 send a signed-in person through the login form again,
        // then back to the same request.
        for extra in [&[("prompt", "login")][..], &[("max_age", "0")][..]] {
            app.clock.advance(time::Duration::seconds(5));
            let start = browser.get(&auth_url(&id, "openid email", extra)).await;
            let login = follow_to_client(&mut browser, start).await;
            let done = sign_in(&mut browser, login, address).await;
            let location = done.location.expect("location");
            let code = param(&location, "code").expect("code after signing in again");
            let (status, tokens) = exchange(
                &app,
                &id,
                &secret,
                &[("code", &code), ("code_verifier", VERIFIER)],
            )
            .await;
            assert_eq!(status, StatusCode::OK, "{tokens}");
            let claims = claims_of(tokens["id_token"].as_str().expect("id token"));
            assert_eq!(
                claims["auth_time"].as_i64(),
                claims["iat"].as_i64(),
                "a fresh sign-in"
            );
        }

        // form_post: the code arrives in an auto-submitting form.
        let page = browser
            .get(&auth_url(
                &id,
                "openid email",
                &[("response_mode", "form_post")],
            ))
            .await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(
            page.body.contains(&format!("action=\"{REDIRECT}\"")),
            "{}",
            page.body
        );
        assert!(page.body.contains("name=\"code\"") && page.body.contains("name=\"iss\""));
        let csp = page.headers["content-security-policy"]
            .to_str()
            .expect("ascii");
        assert!(csp.contains("form-action https://rp.example"), "{csp}");
    }
}

/// The consent page's own answer can be the form_post page: it keeps the policy that lets its
/// script submit the form to the client (a real browser blocked it under the generic page CSP).
#[tokio::test]
async fn form_post_answered_by_the_consent_page_keeps_its_own_policy() {
    for app in TestApp::all("oidc_consent_form_post").await {
        let (id, _) = web_client(&app, json!({})).await;
        let address = "form-post@example.com";
        register(&app, address, PASSWORD).await;
        let mut browser = Browser::new(&app.public);
        let start = browser
            .get(&auth_url(
                &id,
                "openid email",
                &[("response_mode", "form_post")],
            ))
            .await;
        let login = follow_to_client(&mut browser, start).await;
        let consent = sign_in(&mut browser, login, address).await;
        assert_eq!(consent.status, StatusCode::OK, "{}", consent.body);
        let page = decide(&mut browser, &consent, &["email"], false, true).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(
            page.body.contains(&format!("action=\"{REDIRECT}\"")),
            "{}",
            page.body
        );
        let csp = page.headers["content-security-policy"]
            .to_str()
            .expect("ascii");
        assert!(csp.contains("script-src 'sha256-"), "{csp}");
        assert!(csp.contains("form-action https://rp.example"), "{csp}");
        assert_eq!(page.headers["x-frame-options"], "DENY");
    }
}

#[tokio::test]
async fn concurrent_redemptions_of_one_code_yield_one_success() {
    for app in TestApp::all("oidc_race").await {
        let (id, secret) = web_client(&app, json!({"skip_consent": true})).await;
        register(&app, "race@example.com", PASSWORD).await;
        let mut browser = Browser::new(&app.public);
        let start = browser.get(&auth_url(&id, "openid", &[])).await;
        let login = follow_to_client(&mut browser, start).await;
        sign_in(&mut browser, login, "race@example.com").await;
        for _ in 0..5 {
            let page = browser.get(&auth_url(&id, "openid", &[])).await;
            let code = param(&page.location.expect("l"), "code").expect("code");
            let form = [("code", code.as_str()), ("code_verifier", VERIFIER)];
            let attempts = (0..4).map(|_| exchange(&app, &id, &secret, &form));
            let results = futures_join_all(attempts).await;
            let ok = results.iter().filter(|(s, _)| *s == StatusCode::OK).count();
            assert_eq!(ok, 1, "{}: {results:?}", app.backend);
        }
    }
}

pub async fn futures_join_all<F: std::future::Future>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output> {
    let handles: Vec<_> = futures.collect();
    let mut out = Vec::new();
    // Poll them concurrently on this task.
    let mut pinned: Vec<_> = handles.into_iter().map(Box::pin).collect();
    let mut results: Vec<Option<F::Output>> = (0..pinned.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in pinned.iter_mut().enumerate() {
            if results[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => results[i] = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    for r in results {
        out.extend(r);
    }
    out
}

#[tokio::test]
async fn a_login_hint_fills_in_the_address_on_the_login_page() {
    for app in TestApp::all("oidc_hint").await {
        let (id, _) = web_client(&app, json!({})).await;
        let mut browser = Browser::new(&app.public);
        let start = browser
            .get(&auth_url(
                &id,
                "openid",
                &[("login_hint", "hint@example.com")],
            ))
            .await;
        let login = follow_to_client(&mut browser, start).await;
        assert_eq!(login.status, StatusCode::OK);
        assert_eq!(
            login.input_value("identifier").as_deref(),
            Some("hint@example.com"),
            "{}",
            login.body
        );
    }
}
