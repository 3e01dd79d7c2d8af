//! Refresh tokens from the authorization code flow: issued only for `offline_access`, rotated
//! at every use, bound to their client, never widening the scope; a reused one revokes its
//! family (after the configured grace); the family's absolute lifetime; revoking the person's
//! grant or replaying the code revokes them; one winner when two nodes race.

use crate::oidc::{VERIFIER, authorize, claims_of, exchange, token_request, web_client};
use crate::support::TestApp;
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn refresh(
    app: &TestApp,
    id: &str,
    secret: &str,
    token: &str,
    scope: Option<&str>,
) -> (StatusCode, Value) {
    let mut form = vec![("grant_type", "refresh_token"), ("refresh_token", token)];
    if let Some(scope) = scope {
        form.push(("scope", scope));
    }
    token_request(app, id, secret, &form).await
}

/// Signs `address` in through the pages, consents to everything, exchanges the code: the
/// token response.
async fn first_tokens(app: &TestApp, id: &str, secret: &str, address: &str) -> Value {
    let (_, code) = authorize(app, id, address, &["email", "profile", "offline_access"]).await;
    let (status, tokens) = exchange(
        app,
        id,
        secret,
        &[("code", &code), ("code_verifier", VERIFIER)],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{}: {tokens}", app.backend);
    tokens
}

fn text(value: &Value, key: &str) -> String {
    value[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} in {value}"))
        .to_owned()
}

#[tokio::test]
async fn refresh_tokens_rotate_stay_with_their_client_and_a_reuse_revokes_the_family() {
    for app in TestApp::all("oidc_refresh").await {
        let (id, secret) = web_client(&app, json!({})).await;
        let (other, other_secret) = web_client(&app, json!({"client_name": "Other"})).await;
        let tokens = first_tokens(&app, &id, &secret, "ren@example.com").await;
        let first = text(&tokens, "refresh_token");
        assert!(first.starts_with("grt_"));

        // Another client, or a wider scope: refused, and the token is not spent.
        let (status, body) = refresh(&app, &other, &other_secret, &first, None).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_grant"))
        );
        let (status, body) = refresh(&app, &id, &secret, &first, Some("openid admin")).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_scope"))
        );

        // A narrower scope: the new access token has it; the successor keeps the family's.
        let (status, second) = refresh(&app, &id, &secret, &first, Some("openid email")).await;
        assert_eq!(status, StatusCode::OK, "{second}");
        assert_eq!(second["scope"], "email openid");
        let second_refresh = text(&second, "refresh_token");
        assert_ne!(second_refresh, first);
        let id_token = claims_of(&text(&second, "id_token"));
        assert_eq!(id_token["aud"], json!(id));
        assert!(id_token.get("nonce").is_none());
        let original = claims_of(&text(&tokens, "id_token"));
        assert_eq!(id_token["sub"], original["sub"]);
        assert_eq!(id_token["auth_time"], original["auth_time"]);

        let (status, third) = refresh(&app, &id, &secret, &second_refresh, None).await;
        assert_eq!(status, StatusCode::OK, "{third}");
        assert_eq!(third["scope"], "email offline_access openid profile");
        let third_refresh = text(&third, "refresh_token");

        // The first token again: a reuse. The whole family is revoked, the newest token too.
        let (status, body) = refresh(&app, &id, &secret, &first, None).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_grant"))
        );
        let (status, _) = refresh(&app, &id, &secret, &third_refresh, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "the family is revoked");
        let types = crate::selfservice::audit_types(&app).await;
        assert!(
            types.iter().any(|t| t == "refresh_reuse_detected"),
            "{types:?}"
        );
    }
}

#[tokio::test]
async fn the_reuse_grace_and_the_family_lifetime_are_configurable() {
    let apps = TestApp::all_with("oidc_refresh_grace", |config| {
        config.refresh_token_reuse_grace = time::Duration::seconds(30);
        config.refresh_token_family_lifespan = time::Duration::hours(2);
    })
    .await;
    for app in apps {
        let (id, secret) = web_client(&app, json!({})).await;
        let tokens = first_tokens(&app, &id, &secret, "gus@example.com").await;
        let first = text(&tokens, "refresh_token");
        let (status, _) = refresh(&app, &id, &secret, &first, None).await;
        assert_eq!(status, StatusCode::OK);
        // A retry within the grace rotates again instead of revoking.
        app.clock.advance(time::Duration::seconds(10));
        let (status, retried) = refresh(&app, &id, &secret, &first, None).await;
        assert_eq!(status, StatusCode::OK, "{retried}");
        let latest = text(&retried, "refresh_token");
        // Past the grace, the same token is a reuse.
        app.clock.advance(time::Duration::seconds(30));
        let (status, _) = refresh(&app, &id, &secret, &first, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let (status, _) = refresh(&app, &id, &secret, &latest, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "the family is revoked");

        // A new family ends two hours after it began, however often it rotates.
        let tokens = first_tokens(&app, &id, &secret, "gus2@example.com").await;
        let mut current = text(&tokens, "refresh_token");
        for _ in 0..3 {
            app.clock.advance(time::Duration::minutes(35));
            let (status, next) = refresh(&app, &id, &secret, &current, None).await;
            assert_eq!(status, StatusCode::OK, "{next}");
            current = text(&next, "refresh_token");
        }
        app.clock.advance(time::Duration::minutes(20));
        let (status, body) = refresh(&app, &id, &secret, &current, None).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_grant"))
        );
    }
}

#[tokio::test]
async fn revoking_the_grant_or_replaying_the_code_revokes_refresh_tokens() {
    for app in TestApp::all("oidc_refresh_revoke").await {
        let (id, secret) = web_client(&app, json!({})).await;
        let (mut browser, code) =
            authorize(&app, &id, "ivy@example.com", &["email", "offline_access"]).await;
        let (status, tokens) = exchange(
            &app,
            &id,
            &secret,
            &[("code", &code), ("code_verifier", VERIFIER)],
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let refresh_token = text(&tokens, "refresh_token");

        // The code again: the access token and the refresh family it started are revoked.
        let (status, _) = exchange(
            &app,
            &id,
            &secret,
            &[("code", &code), ("code_verifier", VERIFIER)],
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let (status, _) = refresh(&app, &id, &secret, &refresh_token, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "replay revoked the family");

        // A new grant, then the person revokes the application from their account.
        let start = browser
            .get(&crate::oidc::auth_url(
                &id,
                "openid email offline_access",
                &[],
            ))
            .await;
        let consent = crate::oidc::follow_to_client(&mut browser, start).await;
        let done = crate::oidc::decide(
            &mut browser,
            &consent,
            &["email", "offline_access"],
            false,
            true,
        )
        .await;
        let code = crate::oidc::param(&done.location.expect("l"), "code").expect("code");
        let (_, tokens) = exchange(
            &app,
            &id,
            &secret,
            &[("code", &code), ("code_verifier", VERIFIER)],
        )
        .await;
        let refresh_token = text(&tokens, "refresh_token");
        let access_token = text(&tokens, "access_token");
        let listed = browser.get("/api/user/authorizations").await;
        assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
        assert!(listed.body.contains(&id), "{}", listed.body);
        let revoked = browser
            .delete(&format!("/api/user/authorizations/{id}"))
            .await;
        assert_eq!(revoked.status, StatusCode::NO_CONTENT, "{}", revoked.body);
        let (status, _) = refresh(&app, &id, &secret, &refresh_token, None).await;
        assert_eq!(
            status,
            StatusCode::BAD_REQUEST,
            "revoking the grant revoked the family"
        );
        let (machine, machine_secret) = app.machine_client().await;
        let info = app
            .introspect(&machine, &machine_secret, &access_token)
            .await;
        assert_eq!(info["active"], false, "{info}");
    }
}

#[tokio::test]
async fn two_nodes_racing_one_refresh_token_yield_one_winner() {
    for app in TestApp::all("oidc_refresh_race").await {
        let other = app.another_node().await;
        let (id, secret) = web_client(&app, json!({})).await;
        let tokens = first_tokens(&app, &id, &secret, "kai@example.com").await;
        let mut current = text(&tokens, "refresh_token");
        for round in 0..5 {
            let (a, b) = tokio::join!(
                refresh(&app, &id, &secret, &current, None),
                refresh(&other, &id, &secret, &current, None),
            );
            let winners: Vec<&Value> = [&a, &b]
                .into_iter()
                .filter(|(s, _)| *s == StatusCode::OK)
                .map(|(_, body)| body)
                .collect();
            assert_eq!(
                winners.len(),
                1,
                "{} round {round}: {a:?} {b:?}",
                app.backend
            );
            current = text(winners[0], "refresh_token");
            // The loser presented a used token: that is a reuse, and the family is revoked.
            let (status, _) = refresh(&app, &id, &secret, &current, None).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{}", app.backend);
            let tokens = first_tokens(&app, &id, &secret, &format!("kai{round}@example.com")).await;
            current = text(&tokens, "refresh_token");
        }
    }
}
