//! The `openidconnect` crate as the relying party: discovery, the authorization URL with PKCE,
//! signing in and consenting through the HTML pages with a cookie-keeping client, the code
//! exchange, and ID token validation (signature, issuer, audience, nonce, `at_hash`), for RS256
//! and for a client that registered ES256.

use crate::oidc::{PASSWORD, REDIRECT, decide, follow_to_client, param, sign_in, web_client};
use crate::selfservice::register;
use crate::support::{Browser, TestApp};
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreJwsSigningAlgorithm, CoreProviderMetadata,
};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, HttpRequest,
    HttpResponse, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl, Scope,
    TokenResponse,
};
use reqwest::StatusCode;
use serde_json::json;

/// The relying party's HTTP client: our reqwest, no redirects followed.
async fn http(request: HttpRequest) -> Result<HttpResponse, reqwest::Error> {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let (parts, body) = request.into_parts();
    let response = client
        .request(parts.method, parts.uri.to_string())
        .headers(parts.headers)
        .body(body)
        .send()
        .await?;
    let mut answer = openidconnect::http::Response::builder().status(response.status());
    for (name, value) in response.headers() {
        answer = answer.header(name, value);
    }
    let body = response.bytes().await?.to_vec();
    Ok(answer
        .body(body)
        .expect("a status, headers and a body make a response"))
}

/// The provider's metadata, as the crate reads it from discovery.
async fn discover(app: &TestApp) -> CoreProviderMetadata {
    CoreProviderMetadata::discover_async(
        IssuerUrl::new(app.issuer.clone()).expect("issuer URL"),
        &http,
    )
    .await
    .expect("discovery document parses")
}

#[tokio::test]
async fn the_openidconnect_crate_signs_in_and_validates_the_id_token() {
    for app in TestApp::all("oidc_rp").await {
        let (rs_id, rs_secret) = web_client(&app, json!({})).await;
        let (es_id, es_secret) = web_client(
            &app,
            json!({"client_name": "EC app", "id_token_signed_response_alg": "ES256"}),
        )
        .await;
        let address = "rp@example.com";
        register(&app, address, PASSWORD).await;
        let metadata = discover(&app).await;
        let mut browser = Browser::new(&app.public);

        for (id, secret, alg) in [
            (
                &rs_id,
                &rs_secret,
                CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
            ),
            (&es_id, &es_secret, CoreJwsSigningAlgorithm::EcdsaP256Sha256),
        ] {
            let client = CoreClient::from_provider_metadata(
                metadata.clone(),
                ClientId::new(id.clone()),
                Some(ClientSecret::new(secret.clone())),
            )
            .set_redirect_uri(RedirectUrl::new(REDIRECT.to_owned()).expect("redirect URL"));
            let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
            let (url, csrf, nonce) = client
                .authorize_url(
                    CoreAuthenticationFlow::AuthorizationCode,
                    CsrfToken::new_random,
                    Nonce::new_random,
                )
                .add_scope(Scope::new("email".into()))
                .add_scope(Scope::new("profile".into()))
                .set_pkce_challenge(challenge)
                .url();

            let start = browser.get(url.as_str()).await;
            let mut page = follow_to_client(&mut browser, start).await;
            if page.body.contains("Sign in") {
                page = sign_in(&mut browser, page, address).await;
            }
            assert_eq!(page.status, StatusCode::OK, "consent page: {}", page.body);
            let done = decide(&mut browser, &page, &["email", "profile"], false, true).await;
            let location = done.location.expect("redirect to the client");
            assert_eq!(
                param(&location, "state").as_deref(),
                Some(csrf.secret().as_str())
            );
            assert_eq!(
                param(&location, "iss").as_deref(),
                Some(app.issuer.as_str())
            );
            let code = param(&location, "code").expect("code");

            let tokens = client
                .exchange_code(AuthorizationCode::new(code))
                .expect("token endpoint discovered")
                .set_pkce_verifier(verifier)
                .request_async(&http)
                .await
                .expect("code exchange succeeds");
            let id_token = tokens.id_token().expect("an ID token for openid");
            let verifier = client
                .id_token_verifier()
                .set_allowed_algs(vec![alg.clone()]);
            let claims = id_token
                .claims(&verifier, &nonce)
                .expect("the ID token validates");
            assert_eq!(claims.issuer().as_str(), app.issuer);
            assert_eq!(claims.audiences()[0].as_str(), id.as_str());
            let expected_hash = AccessTokenHash::from_token(
                tokens.access_token(),
                id_token.signing_alg().expect("alg"),
                id_token.signing_key(&verifier).expect("key"),
            )
            .expect("hash");
            assert_eq!(claims.access_token_hash(), Some(&expected_hash));
            assert!(claims.auth_time().is_some());
            assert_eq!(claims.email().map(|e| e.as_str()), Some(address));
            assert_eq!(
                claims
                    .given_name()
                    .and_then(|n| n.get(None))
                    .map(|n| n.as_str()),
                Some("Ada"),
                "profile claims for the profile scope"
            );

            // Userinfo answers the same person with the granted claims.
            let info: openidconnect::core::CoreUserInfoClaims = client
                .user_info(
                    tokens.access_token().clone(),
                    Some(claims.subject().clone()),
                )
                .expect("userinfo endpoint discovered")
                .request_async(&http)
                .await
                .expect("userinfo answers");
            assert_eq!(info.email().map(|e| e.as_str()), Some(address));

            // offline_access was not asked for: no refresh token.
            assert!(tokens.refresh_token().is_none());
            let scopes: Vec<String> = tokens
                .scopes()
                .expect("scope answered")
                .iter()
                .map(|s| s.to_string())
                .collect();
            assert!(scopes.contains(&"email".to_owned()) && scopes.contains(&"openid".to_owned()));
        }
    }
}

#[tokio::test]
async fn a_public_client_refreshes_and_logs_out_with_the_openidconnect_crate() {
    for app in TestApp::all("oidc_rp_public").await {
        let (id, _) = web_client(
            &app,
            json!({"client_name": "Phone app", "token_endpoint_auth_method": "none"}),
        )
        .await;
        let address = "pub@example.com";
        register(&app, address, PASSWORD).await;
        let metadata = discover(&app).await;
        let client = CoreClient::from_provider_metadata(metadata, ClientId::new(id.clone()), None)
            .set_redirect_uri(RedirectUrl::new(REDIRECT.to_owned()).expect("redirect URL"));
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, _, nonce) = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scope(Scope::new("email".into()))
            .add_scope(Scope::new("offline_access".into()))
            .set_pkce_challenge(challenge)
            .url();
        let mut browser = Browser::new(&app.public);
        let start = browser.get(url.as_str()).await;
        let login = follow_to_client(&mut browser, start).await;
        let consent = sign_in(&mut browser, login, address).await;
        let done = decide(
            &mut browser,
            &consent,
            &["email", "offline_access"],
            false,
            true,
        )
        .await;
        let code = param(&done.location.expect("location"), "code").expect("code");

        // No secret: the client authenticates with `none` and proves itself with PKCE.
        let tokens = client
            .exchange_code(AuthorizationCode::new(code))
            .expect("token endpoint discovered")
            .set_pkce_verifier(verifier)
            .request_async(&http)
            .await
            .expect("code exchange succeeds");
        let id_token = tokens.id_token().expect("ID token").clone();
        let claims = id_token
            .claims(&client.id_token_verifier(), &nonce)
            .expect("the ID token validates")
            .clone();
        let refresh_token = tokens
            .refresh_token()
            .expect("offline_access gives a refresh token");

        // Refresh: a new access token, a new ID token for the same person, a rotated token.
        let refreshed = client
            .exchange_refresh_token(refresh_token)
            .expect("token endpoint discovered")
            .request_async(&http)
            .await
            .expect("refresh succeeds");
        let new_refresh = refreshed.refresh_token().expect("rotated refresh token");
        assert_ne!(new_refresh.secret(), refresh_token.secret());
        let new_id_token = refreshed.id_token().expect("an ID token on refresh");
        let new_claims = new_id_token
            .claims(&client.id_token_verifier(), |_: Option<&Nonce>| Ok(()))
            .expect("the refreshed ID token validates");
        assert_eq!(new_claims.subject(), claims.subject());
        // The used token again is a reuse: refused.
        assert!(
            client
                .exchange_refresh_token(refresh_token)
                .expect("token endpoint discovered")
                .request_async(&http)
                .await
                .is_err()
        );

        // RP-initiated logout with the ID token as hint, back to the registered URI with state.
        let end_session: serde_json::Value =
            reqwest::get(format!("{}/.well-known/openid-configuration", app.public))
                .await
                .expect("discovery")
                .json()
                .await
                .expect("json");
        let end_session = end_session["end_session_endpoint"]
            .as_str()
            .expect("end_session_endpoint");
        let mut logout = url::Url::parse(end_session).expect("URL");
        logout
            .query_pairs_mut()
            .append_pair("id_token_hint", &id_token.to_string())
            .append_pair("post_logout_redirect_uri", "https://rp.example/bye")
            .append_pair("state", "bye-1");
        let path = format!("{}?{}", logout.path(), logout.query().unwrap_or_default());
        let page = browser.get(&path).await;
        let location = page.location.expect("redirect after logout");
        assert!(location.starts_with("https://rp.example/bye"), "{location}");
        assert_eq!(param(&location, "state").as_deref(), Some("bye-1"));
        let whoami = browser.get("/sessions/whoami").await;
        assert_eq!(whoami.status, StatusCode::UNAUTHORIZED);
    }
}
