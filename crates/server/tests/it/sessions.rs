//! Sessions over HTTP: whoami by cookie and by token, lifetimes, revocation, logout (API and
//! browser), the admin endpoints, and what deleting or disabling an identity does.

use crate::support::TestApp;
use crate::support::app::{json_of, set_cookie};
use gatehouse_domain::identity::IdentityState;
use gatehouse_domain::ids::TenantId;
use reqwest::{Method, StatusCode, header};
use serde_json::{Value, json};
use time::Duration;

async fn whoami(app: &TestApp, token: &str) -> (StatusCode, Value) {
    json_of(
        app.public_request(Method::GET, "/sessions/whoami")
            .header("X-Session-Token", token)
            .send()
            .await
            .expect("sends"),
    )
    .await
}

#[tokio::test]
async fn whoami_answers_by_cookie_and_by_session_token() {
    for app in TestApp::all("whoami").await {
        let (identity_id, token) = app.session_for_new_identity("a@example.com").await;
        let (status, body) = whoami(&app, &token).await;
        assert_eq!(status, StatusCode::OK, "{}: {body}", app.backend);
        assert_eq!(body["active"], true);
        assert_eq!(body["identity"]["id"], identity_id.to_string());
        assert_eq!(body["identity"]["traits"]["email"], "a@example.com");
        assert!(
            body["identity"].get("metadata_admin").is_none(),
            "users never see admin metadata: {body}"
        );
        assert_eq!(body["authenticator_assurance_level"], "aal1");
        assert_eq!(body["authentication_methods"][0]["method"], "password");
        for field in ["expires_at", "authenticated_at", "issued_at"] {
            let value = body[field].as_str().expect("a time");
            time::OffsetDateTime::parse(value, &time::format_description::well_known::Rfc3339)
                .expect("RFC 3339");
        }
        assert_eq!(body["devices"][0]["user_agent"], "Test browser");
        assert_eq!(body["devices"][0]["ip_address"], "127.0.0.1");

        let by_cookie = app
            .public_request(Method::GET, "/sessions/whoami")
            .header(header::COOKIE, app.session_cookie(&token))
            .send()
            .await
            .expect("sends");
        let (status, cookie_body) = json_of(by_cookie).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(cookie_body["id"], body["id"]);

        let (status, body) = whoami(&app, "not-a-session").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body["error"]["id"], "session_inactive");
        let none = app
            .public_request(Method::GET, "/sessions/whoami")
            .send()
            .await
            .expect("sends");
        assert_eq!(none.status(), StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn idle_timeout_and_absolute_expiry_end_sessions() {
    for app in TestApp::all("session_lifetimes").await {
        let (id, busy) = app.session_for_new_identity("a@example.com").await;
        let idle = app.start_session_for(id, "Idle browser").await;

        // Used every 7 hours, the busy session outlives the 8-hour idle timeout...
        app.clock.advance(Duration::hours(7));
        assert_eq!(whoami(&app, &busy).await.0, StatusCode::OK);
        app.clock.advance(Duration::hours(2));
        assert_eq!(
            whoami(&app, &idle).await.0,
            StatusCode::UNAUTHORIZED,
            "idle for 9h"
        );
        assert_eq!(
            whoami(&app, &busy).await.0,
            StatusCode::OK,
            "{}",
            app.backend
        );
        for _ in 0..2 {
            app.clock.advance(Duration::hours(7));
            assert_eq!(whoami(&app, &busy).await.0, StatusCode::OK);
        }
        // ... but not its 24-hour absolute lifetime (7 + 2 + 7 + 7 + 2 = 25 hours).
        app.clock.advance(Duration::hours(2));
        assert_eq!(whoami(&app, &busy).await.0, StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn a_session_records_its_last_use_at_most_once_a_minute() {
    for app in TestApp::all("session_touch").await {
        let (_, token) = app.session_for_new_identity("a@example.com").await;
        let (_, first) = whoami(&app, &token).await;
        app.clock.advance(Duration::seconds(30));
        let (_, soon) = whoami(&app, &token).await;
        assert_eq!(
            soon["devices"][0]["last_seen_at"],
            first["devices"][0]["last_seen_at"]
        );
        app.clock.advance(Duration::minutes(2));
        let (_, later) = whoami(&app, &token).await;
        assert_ne!(
            later["devices"][0]["last_seen_at"],
            first["devices"][0]["last_seen_at"]
        );
        assert_eq!(
            later["devices"][0]["first_seen_at"],
            first["devices"][0]["first_seen_at"]
        );
    }
}

#[tokio::test]
async fn people_list_and_revoke_their_other_sessions() {
    for app in TestApp::all("session_revoke").await {
        let (id, current) = app.session_for_new_identity("a@example.com").await;
        let phone = app.start_session_for(id, "Phone").await;
        let tablet = app.start_session_for(id, "Tablet").await;
        let (_, stranger) = app.session_for_new_identity("b@example.com").await;
        let (_, stranger_session) = whoami(&app, &stranger).await;

        let list = |token: String| {
            let app = &app;
            async move {
                json_of(
                    app.public_request(Method::GET, "/sessions")
                        .header("X-Session-Token", token)
                        .send()
                        .await
                        .expect("sends"),
                )
                .await
            }
        };
        let (status, others) = list(current.clone()).await;
        assert_eq!(status, StatusCode::OK, "{}: {others}", app.backend);
        let mut agents: Vec<&str> = others
            .as_array()
            .expect("array")
            .iter()
            .map(|s| s["devices"][0]["user_agent"].as_str().expect("ua"))
            .collect();
        // Both started at the same instant of the test clock: their order is not defined.
        agents.sort_unstable();
        assert_eq!(agents, ["Phone", "Tablet"]);

        let (_, phone_session) = whoami(&app, &phone).await;
        let phone_id = phone_session["id"].as_str().expect("id");
        let delete = |path: String| {
            app.public_request(Method::DELETE, &path)
                .header("X-Session-Token", &current)
                .send()
        };
        let revoked = delete(format!("/sessions/{phone_id}"))
            .await
            .expect("sends");
        assert_eq!(revoked.status(), StatusCode::NO_CONTENT);
        assert_eq!(whoami(&app, &phone).await.0, StatusCode::UNAUTHORIZED);
        let again = delete(format!("/sessions/{phone_id}"))
            .await
            .expect("sends");
        assert_eq!(again.status(), StatusCode::NOT_FOUND);
        let foreign = delete(format!(
            "/sessions/{}",
            stranger_session["id"].as_str().expect("id")
        ))
        .await
        .expect("sends");
        assert_eq!(
            foreign.status(),
            StatusCode::NOT_FOUND,
            "only one's own sessions"
        );
        let (status, body) =
            json_of(delete("/sessions/not-a-uuid".into()).await.expect("sends")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["error"]["id"], "invalid_session_id");

        let (status, body) = json_of(delete("/sessions".into()).await.expect("sends")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, json!({"count": 1}));
        assert_eq!(whoami(&app, &tablet).await.0, StatusCode::UNAUTHORIZED);
        assert_eq!(
            whoami(&app, &current).await.0,
            StatusCode::OK,
            "the current one stays"
        );
        assert_eq!(whoami(&app, &stranger).await.0, StatusCode::OK);
        assert_eq!(list(current.clone()).await.1, json!([]));
    }
}

#[tokio::test]
async fn api_logout_ends_the_session_of_the_token() {
    for app in TestApp::all("logout_api").await {
        let (_, token) = app.session_for_new_identity("a@example.com").await;
        let logout = |body: Value| {
            app.public_request(Method::DELETE, "/self-service/logout/api")
                .json(&body)
                .send()
        };
        let (status, body) = json_of(logout(json!({})).await.expect("sends")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(
            body["error"]["reason"]
                .as_str()
                .expect("reason")
                .contains("session_token")
        );
        let done = logout(json!({"session_token": token}))
            .await
            .expect("sends");
        assert_eq!(done.status(), StatusCode::NO_CONTENT, "{}", app.backend);
        assert_eq!(whoami(&app, &token).await.0, StatusCode::UNAUTHORIZED);
        let again = logout(json!({"session_token": token}))
            .await
            .expect("sends");
        assert_eq!(again.status(), StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn browser_logout_needs_the_token_bound_to_the_session() {
    for app in TestApp::all("logout_browser").await {
        let (id, token) = app.session_for_new_identity("a@example.com").await;
        let other = app.start_session_for(id, "Other").await;
        let cookie = app.session_cookie(&token);
        let (status, body) = json_of(
            app.public_request(
                Method::GET,
                "/self-service/logout/browser?return_to=/ui/account",
            )
            .header(header::COOKIE, &cookie)
            .send()
            .await
            .expect("sends"),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{}: {body}", app.backend);
        let logout_url = body["logout_url"].as_str().expect("url");
        let logout_token = body["logout_token"].as_str().expect("token");
        assert!(
            logout_url.starts_with(&format!(
                "{}/self-service/logout?token={logout_token}",
                app.issuer
            )),
            "{logout_url}"
        );

        // Another session's token (what a forged link would carry) is refused.
        let (_, other_body) = json_of(
            app.public_request(Method::GET, "/self-service/logout/browser")
                .header("X-Session-Token", &other)
                .send()
                .await
                .expect("sends"),
        )
        .await;
        let forged = other_body["logout_url"].as_str().expect("url");
        for wrong in [
            forged.to_owned(),
            format!("{}/self-service/logout?token=abc", app.issuer),
            format!("{}/self-service/logout", app.issuer),
        ] {
            let refused = app
                .http
                .get(&wrong)
                .header(header::COOKIE, &cookie)
                .send()
                .await
                .expect("sends");
            assert_eq!(refused.status(), StatusCode::FORBIDDEN, "{wrong}");
            assert!(
                refused
                    .text()
                    .await
                    .expect("body")
                    .contains("sign-out link is not valid")
            );
        }
        assert_eq!(whoami(&app, &token).await.0, StatusCode::OK);

        let done = app
            .http
            .get(logout_url)
            .header(header::COOKIE, &cookie)
            .send()
            .await
            .expect("sends");
        assert_eq!(done.status(), StatusCode::SEE_OTHER);
        assert_eq!(
            done.headers()[header::LOCATION],
            format!("{}/ui/account", app.issuer)
        );
        let cleared = set_cookie(&done, "gatehouse_session").expect("clears the cookie");
        assert!(cleared.contains("Max-Age=0"), "{cleared}");
        assert_eq!(whoami(&app, &token).await.0, StatusCode::UNAUTHORIZED);
        assert_eq!(whoami(&app, &other).await.0, StatusCode::OK);

        // An open redirect is not possible: a foreign return_to is refused or ignored.
        let refused = app
            .public_request(
                Method::GET,
                "/self-service/logout/browser?return_to=https://evil.example/",
            )
            .header("X-Session-Token", &other)
            .send()
            .await
            .expect("sends");
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
        let ignored = app
            .public_request(
                Method::GET,
                "/self-service/logout?token=x&return_to=https://evil.example/",
            )
            .send()
            .await
            .expect("sends");
        assert_eq!(ignored.status(), StatusCode::SEE_OTHER);
        assert_eq!(
            ignored.headers()[header::LOCATION],
            format!("{}/ui/login", app.issuer)
        );
        let anonymous = app
            .public_request(Method::GET, "/self-service/logout/browser")
            .send()
            .await
            .expect("sends");
        assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn admins_list_read_and_revoke_sessions() {
    for app in TestApp::all("admin_sessions").await {
        let (id, token) = app.session_for_new_identity("a@example.com").await;
        let second = app.start_session_for(id, "Second").await;
        let (other_id, other) = app.session_for_new_identity("b@example.com").await;
        let (_, session) = whoami(&app, &token).await;
        let session_id = session["id"].as_str().expect("id").to_owned();

        let (status, all) = json_of(
            app.admin_request(Method::GET, "/admin/sessions?page_size=2")
                .send()
                .await
                .expect("sends"),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{}: {all}", app.backend);
        assert_eq!(all.as_array().expect("array").len(), 2);
        let page = app
            .admin_request(Method::GET, "/admin/sessions?page_size=2")
            .send()
            .await
            .expect("sends");
        let link = page.headers()[header::LINK]
            .to_str()
            .expect("ascii")
            .to_owned();
        let next = link
            .trim_start_matches('<')
            .split('>')
            .next()
            .expect("a URL")
            .to_owned();
        let (_, rest) = json_of(
            app.admin_request(Method::GET, &next)
                .send()
                .await
                .expect("sends"),
        )
        .await;
        assert_eq!(rest.as_array().expect("array").len(), 1);

        let (status, one) = json_of(
            app.admin_request(Method::GET, &format!("/admin/sessions/{session_id}"))
                .send()
                .await
                .expect("sends"),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(one["identity"]["id"], id.to_string());
        assert_eq!(one["identity_id"], id.to_string());

        let (status, mine) = json_of(
            app.admin_request(Method::GET, &format!("/admin/identities/{id}/sessions"))
                .send()
                .await
                .expect("sends"),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(mine.as_array().expect("array").len(), 2);

        let revoked = app
            .admin_request(Method::DELETE, &format!("/admin/sessions/{session_id}"))
            .send()
            .await
            .expect("sends");
        assert_eq!(revoked.status(), StatusCode::NO_CONTENT);
        assert_eq!(whoami(&app, &token).await.0, StatusCode::UNAUTHORIZED);
        let again = app
            .admin_request(Method::DELETE, &format!("/admin/sessions/{session_id}"))
            .send()
            .await
            .expect("sends");
        assert_eq!(again.status(), StatusCode::NOT_FOUND);
        let (_, active) = json_of(
            app.admin_request(
                Method::GET,
                &format!("/admin/identities/{id}/sessions?active=true"),
            )
            .send()
            .await
            .expect("sends"),
        )
        .await;
        assert_eq!(active.as_array().expect("array").len(), 1);

        let all_gone = app
            .admin_request(Method::DELETE, &format!("/admin/identities/{id}/sessions"))
            .send()
            .await
            .expect("sends");
        assert_eq!(all_gone.status(), StatusCode::NO_CONTENT);
        assert_eq!(whoami(&app, &second).await.0, StatusCode::UNAUTHORIZED);
        assert_eq!(whoami(&app, &other).await.0, StatusCode::OK);

        for (path, expected) in [
            (
                format!("/admin/sessions/{}", uuid::Uuid::new_v4()),
                StatusCode::NOT_FOUND,
            ),
            ("/admin/sessions/nope".to_owned(), StatusCode::BAD_REQUEST),
            (
                format!("/admin/identities/{}/sessions", uuid::Uuid::new_v4()),
                StatusCode::NOT_FOUND,
            ),
            (
                "/admin/sessions?page_size=0".to_owned(),
                StatusCode::BAD_REQUEST,
            ),
            (
                "/admin/sessions?page_token=x".to_owned(),
                StatusCode::BAD_REQUEST,
            ),
        ] {
            let response = app
                .admin_request(Method::GET, &path)
                .send()
                .await
                .expect("sends");
            assert_eq!(response.status(), expected, "{path}");
        }
        let public = app
            .public_request(
                Method::GET,
                &format!("/admin/identities/{other_id}/sessions"),
            )
            .send()
            .await
            .expect("sends");
        assert_eq!(
            public.status(),
            StatusCode::NOT_FOUND,
            "admin API only on the admin listener"
        );
        let unauthenticated = app
            .http
            .get(format!("{}/admin/sessions", app.admin))
            .send()
            .await
            .expect("sends");
        assert_eq!(unauthenticated.status(), StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn deleting_or_disabling_an_identity_ends_its_sessions() {
    for app in TestApp::all("session_identity").await {
        let state = &app.running.state;
        let (gone, gone_token) = app.session_for_new_identity("a@example.com").await;
        let (disabled, disabled_token) = app.session_for_new_identity("b@example.com").await;

        let mut identity = state
            .store
            .find_identity(TenantId::DEFAULT, disabled)
            .await
            .expect("reads")
            .expect("exists");
        identity.state = IdentityState::Inactive;
        state
            .store
            .update_identity(&identity, &["b@example.com".to_owned()])
            .await
            .expect("updates");
        assert_eq!(
            whoami(&app, &disabled_token).await.0,
            StatusCode::UNAUTHORIZED
        );

        state
            .store
            .delete_identity(TenantId::DEFAULT, gone)
            .await
            .expect("deletes");
        assert_eq!(whoami(&app, &gone_token).await.0, StatusCode::UNAUTHORIZED);
        let (_, sessions) = json_of(
            app.admin_request(Method::GET, "/admin/sessions")
                .send()
                .await
                .expect("sends"),
        )
        .await;
        let owners: Vec<&str> = sessions
            .as_array()
            .expect("array")
            .iter()
            .map(|s| s["identity_id"].as_str().expect("id"))
            .collect();
        assert_eq!(owners, [disabled.to_string()], "{}", app.backend);
    }
}

#[tokio::test]
async fn every_login_starts_a_new_session() {
    for app in TestApp::all("session_fixation").await {
        let (id, first) = app.session_for_new_identity("a@example.com").await;
        let second = app.start_session_for(id, "Test browser").await;
        assert_ne!(first, second);
        let (_, a) = whoami(&app, &first).await;
        let (_, b) = whoami(&app, &second).await;
        assert_ne!(a["id"], b["id"]);
    }
}

#[tokio::test]
async fn admins_see_and_revoke_an_apps_sessions_in_its_tenant_only() {
    for app in TestApp::all("admin_sessions_tenants").await {
        let blog = crate::tenants::create_tenant(&app, "Blog").await;
        let (status, created) = json_of(
            app.admin_request(Method::POST, &format!("/admin/identities?tenant_id={blog}"))
                .json(&json!({"traits": {"email": "ann@example.com"}}))
                .send()
                .await
                .expect("sends"),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let state = &app.running.state;
        let identity = state
            .store
            .find_identity(
                TenantId(uuid::Uuid::parse_str(&blog).expect("uuid")),
                uuid::Uuid::parse_str(created["id"].as_str().expect("id")).expect("uuid"),
            )
            .await
            .expect("reads")
            .expect("exists");
        let (session, _) = gatehouse_web::identity::session::start_session(
            state,
            &identity,
            vec![gatehouse_domain::session::AuthenticationMethod {
                method: "password".into(),
                completed_at: state.now(),
            }],
            &gatehouse_web::extract::RequestMeta::default(),
        )
        .await
        .expect("starts");
        let get = |path: String| {
            let app = &app;
            async move {
                json_of(
                    app.admin_request(Method::GET, &path)
                        .send()
                        .await
                        .expect("sends"),
                )
                .await
            }
        };
        let (_, listed) = get("/admin/sessions".into()).await;
        assert!(
            !listed.to_string().contains(&session.id.to_string()),
            "{}: not among the default tenant's",
            app.backend
        );
        let (_, listed) = get(format!("/admin/sessions?tenant_id={blog}")).await;
        assert_eq!(listed[0]["id"], session.id.to_string(), "{listed}");
        let (status, _) = get(format!("/admin/sessions/{}", session.id)).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = get(format!("/admin/sessions/{}?tenant_id={blog}", session.id)).await;
        assert_eq!(status, StatusCode::OK);
        let revoke = |path: String| {
            let app = &app;
            async move {
                app.admin_request(Method::DELETE, &path)
                    .send()
                    .await
                    .expect("sends")
                    .status()
            }
        };
        let identity_sessions = format!("/admin/identities/{}/sessions", identity.id);
        assert_eq!(
            revoke(identity_sessions.clone()).await,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            revoke(format!("{identity_sessions}?tenant_id={blog}")).await,
            StatusCode::NO_CONTENT
        );
        let (_, after) = get(format!("/admin/sessions/{}?tenant_id={blog}", session.id)).await;
        assert_eq!(after["active"], false, "{after}");
    }
}
