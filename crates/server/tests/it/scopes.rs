//! The scope catalog: `GET /api/scopes`, the admin API, the CLI (through the binary), inactive
//! scopes refused at the token endpoint, discovery's `scopes_supported`, and a change reaching
//! another node.

use crate::support::TestApp;
use crate::support::app::json_of;
use gatehouse::config::Config;
use gatehouse::startup::start;
use gatehouse_domain::clock::SystemClock;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::process::{Command, Output};
use std::sync::Arc;

async fn admin(
    app: &TestApp,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = app.admin_request(method, path);
    if let Some(body) = body {
        request = request.json(&body);
    }
    json_of(request.send().await.expect("sends")).await
}

async fn public_scopes(app: &TestApp) -> Vec<String> {
    let (status, list) = json_of(
        app.public_request(Method::GET, "/api/scopes")
            .send()
            .await
            .expect("sends"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    names(&list)
}

fn names(list: &Value) -> Vec<String> {
    list.as_array()
        .expect("array")
        .iter()
        .map(|s| s["name"].as_str().expect("name").to_owned())
        .collect()
}

async fn scopes_supported(app: &TestApp) -> Vec<String> {
    let (_, doc) = json_of(
        app.public_request(Method::GET, "/.well-known/openid-configuration")
            .send()
            .await
            .expect("sends"),
    )
    .await;
    doc["scopes_supported"]
        .as_array()
        .expect("scopes_supported")
        .iter()
        .map(|s| s.as_str().expect("name").to_owned())
        .collect()
}

/// The scope a client-credentials token was issued with (asserts success).
async fn granted(app: &TestApp, id: &str, secret: &str, form: &[(&str, &str)]) -> String {
    let (status, body) = json_of(app.token(id, secret, form).await).await;
    assert_eq!(status, StatusCode::OK, "{}: {body}", app.backend);
    body["scope"].as_str().expect("scope").to_owned()
}

async fn set_active(app: &TestApp, name: &str, active: bool) {
    let (status, current) = admin(app, Method::GET, &format!("/admin/scopes/{name}"), None).await;
    assert_eq!(status, StatusCode::OK, "{current}");
    let mut body = current.clone();
    body["active"] = json!(active);
    let (status, updated) = admin(
        app,
        Method::PUT,
        &format!("/admin/scopes/{name}"),
        Some(body),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["active"], active);
}

#[tokio::test]
async fn scopes_built_in_are_listed_with_their_claims() {
    for app in TestApp::all("scopes_builtin").await {
        let response = app
            .public_request(Method::GET, "/api/scopes")
            .send()
            .await
            .expect("sends");
        assert_eq!(
            response.headers()["cache-control"],
            "public, max-age=60",
            "{}",
            app.backend
        );
        let (status, list) = json_of(response).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            names(&list),
            [
                "address",
                "bio",
                "created_at",
                "date_of_birth",
                "display_name",
                "email",
                "first_name",
                "full_name",
                "id",
                "is_verified",
                "last_name",
                "location",
                "offline_access",
                "openid",
                "phone",
                "profile",
                "tenant_id",
                "username",
                "website",
            ]
        );
        let by_name = |name: &str| {
            list.as_array()
                .expect("array")
                .iter()
                .find(|s| s["name"] == name)
                .cloned()
                .expect("listed")
        };
        assert_eq!(
            by_name("openid"),
            json!({
                "name": "openid",
                "display_name": "Sign In",
                "description": "Sign you in to this application with your account and tell it your account identifier",
                "claims": ["sub"],
            })
        );
        assert_eq!(
            by_name("email")["claims"],
            json!(["email", "email_verified"])
        );
        assert_eq!(
            by_name("phone")["claims"],
            json!(["phone_number", "phone_number_verified"])
        );
        assert_eq!(by_name("offline_access")["claims"], json!([]));
        assert_eq!(
            by_name("profile")["claims"]
                .as_array()
                .expect("claims")
                .len(),
            14
        );
        assert_eq!(by_name("full_name")["display_name"], "Full Name");
        assert_eq!(by_name("is_verified")["claims"], json!(["is_verified"]));
        assert_eq!(by_name("tenant_id")["claims"], json!(["tenant_id"]));

        let mut supported = scopes_supported(&app).await;
        supported.sort();
        assert_eq!(supported, names(&list));
    }
}

#[tokio::test]
async fn scopes_admin_api_creates_reads_replaces_and_deletes() {
    for app in TestApp::all("scopes_admin").await {
        let body = json!({
            "name": "api:read",
            "display_name": "Read your data",
            "description": "Read-only access to the example API",
            "claims": ["api_role"],
        });
        let (status, created) =
            admin(&app, Method::POST, "/admin/scopes", Some(body.clone())).await;
        assert_eq!(status, StatusCode::CREATED, "{}: {created}", app.backend);
        assert_eq!(created["name"], "api:read");
        assert_eq!(created["active"], true);
        assert_eq!(created["builtin"], false);
        assert_eq!(created["tenant_id"], "00000000-0000-0000-0000-000000000001");
        assert!(created["created_at"].is_string() && created["updated_at"].is_string());

        let (status, conflict) = admin(&app, Method::POST, "/admin/scopes", Some(body)).await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(conflict["error"]["id"], "scope_exists");
        let (status, _) = admin(
            &app,
            Method::POST,
            "/admin/scopes",
            Some(json!({"name": "email", "display_name": "Mine"})),
        )
        .await;
        assert_eq!(status, StatusCode::CONFLICT, "built-in names are taken");

        for (body, field) in [
            (json!({"name": "two words", "display_name": "x"}), "name"),
            (json!({"name": "", "display_name": "x"}), "name"),
            (json!({"name": "a\"b", "display_name": "x"}), "name"),
            (
                json!({"name": "x".repeat(101), "display_name": "x"}),
                "name",
            ),
            (json!({"name": "ok"}), "display_name"),
            (json!({"name": "ok", "display_name": " "}), "display_name"),
            (
                json!({"name": "ok", "display_name": "x".repeat(101)}),
                "display_name",
            ),
            (
                json!({"name": "ok", "display_name": "x", "description": "d".repeat(501)}),
                "description",
            ),
            (
                json!({"name": "ok", "display_name": "x", "claims": ["1st"]}),
                "claims",
            ),
            (
                json!({"name": "ok", "display_name": "x", "claims": ["a", "a"]}),
                "claims",
            ),
            (
                json!({"name": "ok", "display_name": "x", "claims": "email"}),
                "claims",
            ),
            (
                json!({"name": "ok", "display_name": "x", "color": "red"}),
                "color",
            ),
            (
                json!({"name": "ok", "display_name": "x", "tenant_id": "00000000-0000-0000-0000-000000000099"}),
                "tenant_id",
            ),
        ] {
            let (status, answer) =
                admin(&app, Method::POST, "/admin/scopes", Some(body.clone())).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
            let reason = answer["error"]["reason"].as_str().expect("reason");
            assert!(reason.contains(field), "{field}: {reason}");
        }

        let response = app
            .admin_request(Method::GET, "/admin/scopes")
            .send()
            .await
            .expect("sends");
        assert!(
            response.headers().get("link").is_none(),
            "one page, no Link"
        );
        let (status, list) = json_of(response).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(names(&list).len(), 20);
        let openid = list
            .as_array()
            .expect("array")
            .iter()
            .find(|s| s["name"] == "openid")
            .expect("openid");
        assert_eq!(openid["builtin"], true);
        assert_eq!(openid["active"], true);
        assert!(openid["created_at"].is_string());
        assert!(public_scopes(&app).await.contains(&"api:read".to_owned()));

        let (status, one) = admin(&app, Method::GET, "/admin/scopes/api:read", None).await;
        assert_eq!((status, &one), (StatusCode::OK, &created));
        let (status, missing) = admin(&app, Method::GET, "/admin/scopes/nope", None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(missing["error"]["id"], "scope_not_found");

        app.clock.advance(time::Duration::seconds(5));
        let (status, replaced) = admin(
            &app,
            Method::PUT,
            "/admin/scopes/api%3Aread",
            Some(json!({"display_name": "Read", "claims": [], "active": false})),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{replaced}");
        assert_eq!(replaced["display_name"], "Read");
        assert_eq!(replaced["description"], "", "PUT replaces");
        assert_eq!(replaced["claims"], json!([]));
        assert_eq!(replaced["active"], false);
        assert_eq!(replaced["created_at"], created["created_at"]);
        assert_ne!(replaced["updated_at"], created["updated_at"]);
        assert!(!public_scopes(&app).await.contains(&"api:read".to_owned()));

        for (path, body, status, field) in [
            (
                "/admin/scopes/nope",
                json!({"display_name": "x"}),
                StatusCode::NOT_FOUND,
                "scope",
            ),
            (
                "/admin/scopes/api:read",
                json!({"display_name": ""}),
                StatusCode::BAD_REQUEST,
                "display_name",
            ),
            (
                "/admin/scopes/api:read",
                json!({"display_name": "x", "name": "api:write"}),
                StatusCode::BAD_REQUEST,
                "name",
            ),
            (
                "/admin/scopes/api:read",
                json!({"display_name": "x", "builtin": true, "extra": 1}),
                StatusCode::BAD_REQUEST,
                "extra",
            ),
        ] {
            let (got, answer) = admin(&app, Method::PUT, path, Some(body)).await;
            assert_eq!(got, status, "{path}: {answer}");
            let reason = answer["error"]["reason"].as_str().expect("reason");
            assert!(reason.contains(field), "{field}: {reason}");
        }

        app.clock.advance(time::Duration::seconds(1));
        let (status, refused) = admin(&app, Method::DELETE, "/admin/scopes/openid", None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(refused["error"]["id"], "scope_builtin");
        assert!(
            refused["error"]["reason"]
                .as_str()
                .expect("reason")
                .contains("deactivate"),
            "{refused}"
        );
        let (status, _) = admin(&app, Method::DELETE, "/admin/scopes/api:read", None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, gone) = admin(&app, Method::DELETE, "/admin/scopes/api:read", None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(gone["error"]["id"], "scope_not_found");

        let unauthorized = app
            .http
            .get(format!("{}/admin/scopes", app.admin))
            .send()
            .await
            .expect("sends");
        assert_eq!(unauthorized.status(), StatusCode::UNAUTHORIZED);

        let (_, events) = admin(&app, Method::GET, "/admin/audit-events", None).await;
        let kinds: Vec<&str> = events
            .as_array()
            .expect("array")
            .iter()
            .map(|e| e["event_type"].as_str().expect("type"))
            .collect();
        assert_eq!(kinds, ["scope_deleted", "scope_updated", "scope_created"]);
        assert_eq!(events[2]["details"]["scope"], "api:read");
        assert_eq!(events[2]["actor"], "admin");
    }
}

#[tokio::test]
async fn scopes_inactive_are_refused_at_the_token_endpoint_until_reactivated() {
    for app in TestApp::all("scopes_inactive").await {
        let client = app
            .create_client(json!({
                "client_name": "reporting",
                "grant_types": ["client_credentials"],
                "scope": "email api:read",
            }))
            .await;
        let id = client["client_id"].as_str().expect("id");
        let secret = client["client_secret"].as_str().expect("secret");
        assert_eq!(
            granted(&app, id, secret, &[("scope", "email")]).await,
            "email"
        );
        assert_eq!(granted(&app, id, secret, &[]).await, "api:read email");

        set_active(&app, "email", false).await;
        // The reload on the node that changed it is immediate.
        assert!(!public_scopes(&app).await.contains(&"email".to_owned()));
        assert!(!scopes_supported(&app).await.contains(&"email".to_owned()));
        let (status, refused) =
            json_of(app.token(id, secret, &[("scope", "email api:read")]).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(refused["error"], "invalid_scope");
        assert!(
            refused["error_description"]
                .as_str()
                .expect("description")
                .contains("email"),
            "{refused}"
        );
        // Not in the catalog, but in the client's list: allowed.
        assert_eq!(
            granted(&app, id, secret, &[("scope", "api:read")]).await,
            "api:read"
        );
        assert_eq!(
            granted(&app, id, secret, &[]).await,
            "api:read",
            "the default grant leaves inactive scopes out"
        );
        // Active in the catalog but not in the client's list: still refused.
        let (status, refused) = json_of(app.token(id, secret, &[("scope", "profile")]).await).await;
        assert_eq!(
            (status, refused["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_scope"))
        );

        set_active(&app, "email", true).await;
        assert_eq!(
            granted(&app, id, secret, &[("scope", "email")]).await,
            "email"
        );
        assert!(public_scopes(&app).await.contains(&"email".to_owned()));
        assert!(scopes_supported(&app).await.contains(&"email".to_owned()));
    }
}

#[tokio::test]
async fn scopes_change_reaches_other_nodes_within_seconds() {
    let dir = std::env::temp_dir().join(format!("gatehouse-scopes-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("dir");
    let url = format!("sqlite://{}", dir.join("shared.db").display());
    let config = Config::for_tests(&url);
    let a = start(config.clone(), Arc::new(SystemClock))
        .await
        .expect("node a");
    let b = start(config, Arc::new(SystemClock)).await.expect("node b");
    let http = reqwest::Client::new();
    let scopes_b = format!("http://{}/api/scopes", b.public_addr);
    let listed = |body: Value| names(&body).contains(&"newsletter".to_owned());
    let created = http
        .post(format!("http://{}/admin/scopes", a.admin_addr))
        .bearer_auth(a.admin_token.expose())
        .json(&json!({"name": "newsletter", "display_name": "Newsletter"}))
        .send()
        .await
        .expect("sends");
    assert_eq!(created.status(), StatusCode::CREATED);
    let mut seen = false;
    for _ in 0..100 {
        let body: Value = http
            .get(&scopes_b)
            .send()
            .await
            .expect("sends")
            .json()
            .await
            .expect("json");
        if listed(body) {
            seen = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(seen, "node b learned the scope created on node a");
    a.shutdown();
    b.shutdown();
    a.wait().await.expect("a stops");
    b.wait().await.expect("b stops");
}

fn gatehouse(args: &[String], token: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(args)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("GATEHOUSE_ADMIN_TOKEN", token)
        .output()
        .expect("the binary runs")
}

#[tokio::test]
async fn scopes_commands_manage_the_catalog_over_the_admin_api() {
    for app in TestApp::all("scopes_cli").await {
        let run = |args: &[&str]| {
            let mut args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
            args.extend(["--endpoint".to_owned(), app.admin.clone()]);
            let token = app.admin_token.clone();
            async move {
                tokio::task::spawn_blocking(move || gatehouse(&args, &token))
                    .await
                    .expect("joins")
            }
        };
        let ok = |out: &Output| {
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8_lossy(&out.stdout).into_owned()
        };

        let out = run(&[
            "scopes",
            "create",
            "api:read",
            "--display-name",
            "Read your data",
            "--description",
            "Read-only access to the example API",
            "--claim",
            "api_role",
            "--claim",
            "team",
            "--json",
        ])
        .await;
        let created: Value = serde_json::from_str(&ok(&out)).expect("json");
        assert_eq!(created["claims"], json!(["api_role", "team"]));
        assert_eq!(created["active"], true);

        let said = ok(&run(&[
            "scopes",
            "create",
            "beta",
            "--display-name",
            "Beta",
            "--inactive",
        ])
        .await);
        assert!(
            said.contains("created scope beta (Beta, inactive; claims: none)"),
            "{said}"
        );

        let table = ok(&run(&["scopes", "list"]).await);
        assert!(
            table.contains("NAME")
                && table.contains("api:read")
                && table.contains("Read your data")
                && table.contains("email email_verified"),
            "{table}"
        );

        let out = run(&[
            "scopes", "update", "api:read", "--active", "false", "--json",
        ])
        .await;
        let updated: Value = serde_json::from_str(&ok(&out)).expect("json");
        assert_eq!(updated["active"], false);
        assert_eq!(
            updated["display_name"], "Read your data",
            "fields not named keep their values"
        );
        assert_eq!(updated["claims"], json!(["api_role", "team"]));

        let out = run(&[
            "scopes",
            "update",
            "email",
            "--display-name",
            "Your email",
            "--json",
        ])
        .await;
        let updated: Value = serde_json::from_str(&ok(&out)).expect("json");
        assert_eq!(updated["display_name"], "Your email");
        assert_eq!(updated["claims"], json!(["email", "email_verified"]));

        let out = run(&["scopes", "create", "bad name", "--display-name", "x"]).await;
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("name") && err.contains("400"), "{err}");

        let out = run(&["scopes", "update", "nope", "--active", "true"]).await;
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("no scope with this name"));

        let out = run(&["scopes", "delete", "openid"]).await;
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("deactivate it instead"));
        ok(&run(&["scopes", "delete", "beta"]).await);

        let list: Value =
            serde_json::from_str(&ok(&run(&["scopes", "list", "--json"]).await)).expect("json");
        assert_eq!(names(&list).len(), 20);
        assert!(!public_scopes(&app).await.contains(&"api:read".to_owned()));
    }
}
