//! The grants people gave clients ("connected apps"): `GET|DELETE /api/user/authorizations`, the
//! account page's "Authorized applications", `/admin/oauth2/consents`, `gatehouse authorizations`,
//! and what revoking does to refresh tokens and to the introspection of access tokens. Consents
//! are seeded through the store (the consent page is elsewhere).

use crate::support::{Browser, TestApp, json_of};
use gatehouse_domain::ids::TenantId;
use gatehouse_domain::oauth::client::TokenStrategy;
use gatehouse_domain::oauth::code::{CODE_LIFESPAN, CodeGrant};
use gatehouse_domain::oauth::consent::ConsentGrant;
use gatehouse_domain::oauth::refresh::{RefreshPolicy, RefreshToken, Rotation};
use gatehouse_domain::oauth::scope::Scope;
use gatehouse_domain::oauth::token::AccessTokenClaims;
use gatehouse_domain::secret::TokenHash;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

/// A web client that people authorize: `(client_id, client_secret)`.
async fn web_client(app: &TestApp, name: &str) -> (String, String) {
    let c = app
        .create_client(json!({
            "client_name": name,
            "redirect_uris": ["https://app.example/callback"],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "scope": "openid email offline_access",
        }))
        .await;
    (
        c["client_id"].as_str().expect("id").to_owned(),
        c["client_secret"].as_str().expect("secret").to_owned(),
    )
}

async fn consent(app: &TestApp, person: Uuid, client_id: &str) {
    let now = app.running.state.now();
    app.running
        .state
        .store
        .save_consent(&ConsentGrant {
            tenant_id: TenantId::DEFAULT,
            identity_id: person,
            client_id: client_id.to_owned(),
            scope: Scope::parse("openid email").expect("valid"),
            remembered: true,
            created_at: now,
            last_used_at: now,
        })
        .await
        .expect("saves consent");
}

/// A refresh token family for the person and client; returns the token's hash.
async fn refresh_token(app: &TestApp, person: Uuid, client_id: &str) -> TokenHash {
    let now = app.running.state.now();
    let grant = CodeGrant {
        tenant_id: TenantId::DEFAULT,
        client_id: client_id.to_owned(),
        identity_id: person,
        session_id: None,
        redirect_uri: "https://app.example/callback".into(),
        redirect_uri_sent: true,
        scope: Scope::parse("openid email offline_access").expect("valid"),
        nonce: None,
        code_challenge: None,
        auth_time: now,
        amr: vec!["pwd".into()],
        issued_at: now,
        expires_at: now + CODE_LIFESPAN,
    };
    let token = RefreshToken::first(&grant, &RefreshPolicy::default(), now);
    let (_, hash) = RefreshToken::mint();
    app.running
        .state
        .store
        .insert_refresh_token(&hash, &token)
        .await
        .expect("inserts refresh token");
    hash
}

/// An access token for the person, signed as the token endpoint signs one.
async fn person_token(app: &TestApp, person: Uuid, client_id: &str) -> String {
    let state = &app.running.state;
    let iat = state.now().unix_timestamp();
    let claims = AccessTokenClaims {
        iss: app.issuer.clone(),
        sub: person.to_string(),
        aud: vec![client_id.to_owned()],
        client_id: client_id.to_owned(),
        scope: "openid email".into(),
        iat,
        nbf: iat,
        exp: iat + 3600,
        jti: Uuid::new_v4().to_string(),
        tenant_id: TenantId::DEFAULT,
        email: None,
    };
    let Ok(response) = gatehouse_web::oauth::token::issue(state, claims, TokenStrategy::Jwt).await
    else {
        panic!("signs an access token");
    };
    response.access_token
}

async fn authorizations(app: &TestApp, session: &str) -> Vec<Value> {
    let (status, body) = json_of(
        app.public_request(Method::GET, "/api/user/authorizations")
            .header("X-Session-Token", session)
            .send()
            .await
            .expect("sends"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{}: {body}", app.backend);
    body.as_array().expect("array").clone()
}

async fn revoke(app: &TestApp, session: &str, client_id: &str) -> (StatusCode, Value) {
    json_of(
        app.public_request(
            Method::DELETE,
            &format!("/api/user/authorizations/{client_id}"),
        )
        .header("X-Session-Token", session)
        .send()
        .await
        .expect("sends"),
    )
    .await
}

fn client_ids(list: &[Value]) -> Vec<&str> {
    list.iter()
        .map(|g| g["client_id"].as_str().expect("client_id"))
        .collect()
}

#[tokio::test]
async fn people_list_only_their_own_grants_and_need_a_session() {
    for app in TestApp::all("authz_list").await {
        let (ada, ada_session) = app.session_for_new_identity("ada@example.com").await;
        let (bob, bob_session) = app.session_for_new_identity("bob@example.com").await;
        let (photos, _) = web_client(&app, "Photo book").await;
        let (notes, _) = web_client(&app, "Notes").await;
        consent(&app, ada, &photos).await;
        app.clock.advance(time::Duration::seconds(1));
        consent(&app, ada, &notes).await;
        consent(&app, bob, &photos).await;

        let mine = authorizations(&app, &ada_session).await;
        assert_eq!(client_ids(&mine), [notes.as_str(), photos.as_str()]);
        let first = &mine[0];
        assert_eq!(first["client_name"], "Notes");
        assert_eq!(first["scope"], "email openid");
        assert_eq!(first["remembered"], true);
        assert_eq!(first["subject"], ada.to_string());
        assert!(first["created_at"].as_str().is_some() && first["last_used_at"].as_str().is_some());
        let scopes = first["scopes"].as_array().expect("scopes");
        assert_eq!(scopes.len(), 2);
        assert_eq!(scopes[0]["name"], "email");
        assert!(
            !scopes[0]["display_name"]
                .as_str()
                .unwrap_or_default()
                .is_empty(),
            "{first}"
        );

        assert_eq!(
            client_ids(&authorizations(&app, &bob_session).await),
            [photos.as_str()]
        );

        let (status, _) = json_of(
            app.public_request(Method::GET, "/api/user/authorizations")
                .send()
                .await
                .expect("sends"),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{}", app.backend);
    }
}

#[tokio::test]
async fn revoking_a_grant_ends_its_refresh_tokens_and_earlier_access_tokens() {
    for app in TestApp::all("authz_revoke").await {
        let state = &app.running.state;
        let (ada, ada_session) = app.session_for_new_identity("ada@example.com").await;
        let (bob, bob_session) = app.session_for_new_identity("bob@example.com").await;
        let (photos, secret) = web_client(&app, "Photo book").await;
        let (notes, _) = web_client(&app, "Notes").await;
        consent(&app, ada, &photos).await;
        consent(&app, bob, &notes).await;
        consent(&app, bob, &photos).await;
        let ada_refresh = refresh_token(&app, ada, &photos).await;
        let bob_refresh = refresh_token(&app, bob, &photos).await;
        let ada_access = person_token(&app, ada, &photos).await;
        let bob_access = person_token(&app, bob, &photos).await;
        assert_eq!(
            app.introspect(&photos, &secret, &ada_access).await["active"],
            true
        );

        // Another person's client: 404, and nothing of Bob's changes.
        let (status, body) = revoke(&app, &ada_session, &notes).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{}: {body}", app.backend);
        assert_eq!(body["error"]["id"], "authorization_not_found", "{body}");
        assert_eq!(authorizations(&app, &bob_session).await.len(), 2);

        let (status, body) = revoke(&app, &ada_session, &photos).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{}: {body}", app.backend);
        assert!(authorizations(&app, &ada_session).await.is_empty());
        assert!(
            state
                .store
                .find_consent(TenantId::DEFAULT, ada, &photos)
                .await
                .expect("reads")
                .is_none()
        );
        let family = state
            .store
            .find_refresh_token(&ada_refresh)
            .await
            .expect("reads")
            .expect("kept until it expires");
        assert!(family.revoked_at.is_some(), "{}", app.backend);
        let (_, next) = RefreshToken::mint();
        assert_eq!(
            state
                .store
                .rotate_refresh_token(
                    &ada_refresh,
                    &next,
                    &photos,
                    &RefreshPolicy::default(),
                    state.now()
                )
                .await
                .expect("reads"),
            Rotation::Invalid
        );
        assert_eq!(
            app.introspect(&photos, &secret, &ada_access).await,
            json!({"active": false})
        );

        // Bob's grant to the same client is untouched.
        assert_eq!(
            app.introspect(&photos, &secret, &bob_access).await["active"],
            true
        );
        let bob_family = state
            .store
            .find_refresh_token(&bob_refresh)
            .await
            .expect("reads")
            .expect("exists");
        assert!(bob_family.revoked_at.is_none());

        // Revoked twice: nothing left to revoke.
        assert_eq!(
            revoke(&app, &ada_session, &photos).await.0,
            StatusCode::NOT_FOUND
        );

        // A token issued after a new consent is live; the old one stays revoked.
        app.clock.advance(time::Duration::seconds(2));
        consent(&app, ada, &photos).await;
        let fresh = person_token(&app, ada, &photos).await;
        assert_eq!(
            app.introspect(&photos, &secret, &fresh).await["active"],
            true,
            "{}",
            app.backend
        );
        assert_eq!(
            app.introspect(&photos, &secret, &ada_access).await["active"],
            false
        );

        // Client credentials tokens are not concerned.
        let (machine, machine_secret) = app.machine_client().await;
        let own = app.access_token(&machine, &machine_secret, &[]).await;
        assert_eq!(
            app.introspect(&machine, &machine_secret, &own).await["active"],
            true
        );

        let (status, events) = json_of(
            app.admin_request(
                Method::GET,
                &format!("/admin/audit-events?type=consent_revoked&identity_id={ada}"),
            )
            .send()
            .await
            .expect("sends"),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{events}");
        let events = events.as_array().expect("array");
        assert_eq!(events.len(), 1, "{events:?}");
        assert_eq!(events[0]["details"]["client_id"], photos.as_str());
        assert_eq!(events[0]["details"]["refresh_families_revoked"], 1);
    }
}

#[tokio::test]
async fn the_account_page_lists_authorized_applications_and_revokes_one() {
    for app in TestApp::all("authz_account").await {
        let (ada, session) = app.session_for_new_identity("ada@example.com").await;
        let (photos, _) = web_client(&app, "Photo book").await;
        consent(&app, ada, &photos).await;
        let mut browser = Browser::new(&app.public);
        browser
            .cookies
            .insert("gatehouse_session".to_owned(), session.clone());
        let page = browser.get("/ui/account").await;
        assert_eq!(page.status, StatusCode::OK, "{}", app.backend);
        for text in ["Authorized applications", "Photo book", ">Revoke</button>"] {
            assert!(page.body.contains(text), "{text}");
        }
        let action = format!("/ui/account/authorizations/{photos}/revoke");
        assert!(page.body.contains(&action));
        let csrf = page.input_value("csrf_token").expect("csrf field");

        let forged = browser.post_form(&action, &[]).await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN);
        assert_eq!(authorizations(&app, &session).await.len(), 1);

        let done = browser.post_form(&action, &[("csrf_token", &csrf)]).await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
        assert_eq!(done.location.as_deref(), Some("/ui/account"));
        let page = browser.follow(done).await;
        assert!(
            page.body.contains("Access has been revoked."),
            "{}",
            page.body
        );
        assert!(
            page.body
                .contains("You have not authorized any applications.")
        );
        assert!(authorizations(&app, &session).await.is_empty());

        let again = browser.post_form(&action, &[("csrf_token", &csrf)]).await;
        assert_eq!(again.status, StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn operators_list_and_revoke_an_identitys_grants() {
    for app in TestApp::all("authz_admin").await {
        let (ada, session) = app.session_for_new_identity("ada@example.com").await;
        let (photos, _) = web_client(&app, "Photo book").await;
        let (notes, _) = web_client(&app, "Notes").await;
        consent(&app, ada, &photos).await;
        consent(&app, ada, &notes).await;
        let refresh = refresh_token(&app, ada, &photos).await;

        let (status, list) = json_of(
            app.admin_request(
                Method::GET,
                &format!("/admin/oauth2/consents?subject={ada}"),
            )
            .send()
            .await
            .expect("sends"),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{}: {list}", app.backend);
        assert_eq!(list.as_array().expect("array").len(), 2);

        let path = format!("/admin/oauth2/consents?subject={ada}&client={photos}");
        let status = app
            .admin_request(Method::DELETE, &path)
            .send()
            .await
            .expect("sends")
            .status();
        assert_eq!(status, StatusCode::NO_CONTENT);
        assert_eq!(
            client_ids(&authorizations(&app, &session).await),
            [notes.as_str()]
        );
        let family = app
            .running
            .state
            .store
            .find_refresh_token(&refresh)
            .await
            .expect("reads")
            .expect("exists");
        assert!(family.revoked_at.is_some());
        let (status, body) = json_of(
            app.admin_request(Method::DELETE, &path)
                .send()
                .await
                .expect("sends"),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");

        for (query, expected) in [
            ("", StatusCode::BAD_REQUEST),
            ("?subject=nope", StatusCode::BAD_REQUEST),
            (
                &format!("?subject={}", Uuid::new_v4()) as &str,
                StatusCode::NOT_FOUND,
            ),
            (&format!("?subject={ada}") as &str, StatusCode::BAD_REQUEST),
        ] {
            let method = if expected == StatusCode::BAD_REQUEST && query.contains(&ada.to_string())
            {
                Method::DELETE
            } else {
                Method::GET
            };
            let status = app
                .admin_request(method, &format!("/admin/oauth2/consents{query}"))
                .send()
                .await
                .expect("sends")
                .status();
            assert_eq!(status, expected, "{query}");
        }

        let status = app
            .admin_request(
                Method::DELETE,
                &format!("/admin/oauth2/consents?subject={ada}&all=true"),
            )
            .send()
            .await
            .expect("sends")
            .status();
        assert_eq!(status, StatusCode::NO_CONTENT);
        assert!(authorizations(&app, &session).await.is_empty());

        let status = app
            .http
            .get(format!("{}/admin/oauth2/consents?subject={ada}", app.admin))
            .send()
            .await
            .expect("sends")
            .status();
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
}

fn gatehouse(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"));
    command.args(args).env_clear().env("PATH", "/usr/bin:/bin");
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().expect("the binary runs")
}

#[tokio::test]
async fn the_cli_lists_and_revokes_authorizations() {
    for app in TestApp::all("authz_cli").await {
        let (ada, session) = app.session_for_new_identity("ada@example.com").await;
        let (photos, _) = web_client(&app, "Photo book").await;
        consent(&app, ada, &photos).await;
        let run = |args: Vec<String>| {
            let token = app.admin_token.clone();
            let endpoint = app.admin.clone();
            async move {
                tokio::task::spawn_blocking(move || {
                    let mut full = args;
                    full.extend(["--endpoint".to_owned(), endpoint]);
                    let refs: Vec<&str> = full.iter().map(String::as_str).collect();
                    gatehouse(&refs, &[("GATEHOUSE_ADMIN_TOKEN", &token)])
                })
                .await
                .expect("joins")
            }
        };
        let args = |s: String| s.split(' ').map(str::to_owned).collect::<Vec<_>>();
        let text = |o: &std::process::Output| String::from_utf8_lossy(&o.stdout).into_owned();
        let err = |o: &std::process::Output| String::from_utf8_lossy(&o.stderr).into_owned();

        let output = run(args(format!("authorizations list --user {ada}"))).await;
        assert!(output.status.success(), "{}", err(&output));
        assert!(text(&output).contains("CLIENT ID") && text(&output).contains("Photo book"));

        let output = run(args(format!("authorizations list --user {ada} --json"))).await;
        let listed: Value = serde_json::from_str(&text(&output)).expect("json");
        assert_eq!(listed[0]["client_id"], photos.as_str());

        let output = run(args(format!(
            "authorizations revoke --user {ada} --client {photos}"
        )))
        .await;
        assert!(output.status.success(), "{}", err(&output));
        assert!(authorizations(&app, &session).await.is_empty());

        let output = run(args(format!(
            "authorizations revoke --user {ada} --client {photos}"
        )))
        .await;
        assert!(!output.status.success());
        assert!(err(&output).contains("404"), "{}", err(&output));
    }
}
