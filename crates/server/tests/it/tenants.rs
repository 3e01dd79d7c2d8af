//! `/admin/tenants` and `/admin/tenants/{id}/api-keys`: CRUD, validation, pagination, deleting a
//! tenant with everything it owns, the default tenant kept, audit events, and the CLI (through
//! the binary).

use crate::support::TestApp;
use crate::support::app::json_of;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::process::{Command, Output};

pub const DEFAULT_TENANT: &str = "00000000-0000-0000-0000-000000000001";

pub async fn admin(
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

/// Creates a tenant; returns its id.
pub async fn create_tenant(app: &TestApp, name: &str) -> String {
    let (status, body) = admin(
        app,
        Method::POST,
        "/admin/tenants",
        Some(json!({"name": name})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{}: {body}", app.backend);
    body["id"].as_str().expect("id").to_owned()
}

/// Creates an API key for the tenant; returns the whole answer (with `key`).
pub async fn create_key(app: &TestApp, tenant: &str, name: &str) -> Value {
    let (status, body) = admin(
        app,
        Method::POST,
        &format!("/admin/tenants/{tenant}/api-keys"),
        Some(json!({"name": name})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{}: {body}", app.backend);
    body
}

async fn audit_types(app: &TestApp, tenant: &str) -> Vec<String> {
    let (status, events) = admin(
        app,
        Method::GET,
        &format!("/admin/audit-events?tenant_id={tenant}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{events}");
    events
        .as_array()
        .expect("array")
        .iter()
        .map(|e| {
            e["type"]
                .as_str()
                .or(e["event_type"].as_str())
                .unwrap_or("")
                .to_owned()
        })
        .collect()
}

#[tokio::test]
async fn admin_api_creates_reads_updates_and_lists_tenants() {
    for app in TestApp::all("tenants_crud").await {
        let (status, created) = admin(
            &app,
            Method::POST,
            "/admin/tenants",
            Some(json!({
                "name": "  Alice's Awesome Blog ",
                "redirect_uri": "https://blog.example/after-login",
                "allowed_return_urls": ["https://blog.example/", "http://localhost:3000/"],
                "settings": {"magic_link": {"enabled": true}}
            })),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{}: {created}", app.backend);
        let id = created["id"].as_str().expect("id").to_owned();
        assert!(uuid::Uuid::parse_str(&id).is_ok());
        assert_eq!(created["name"], "Alice's Awesome Blog");
        assert_eq!(created["redirect_uri"], "https://blog.example/after-login");
        assert_eq!(created["allowed_return_urls"][1], "http://localhost:3000/");
        assert_eq!(created["settings"]["magic_link"]["enabled"], true);
        assert_eq!(created["default"], false);

        let (status, got) = admin(&app, Method::GET, &format!("/admin/tenants/{id}"), None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(got, created);

        // PUT: an edited GET answer goes back as it is.
        let mut edited = got.clone();
        edited["name"] = json!("Alice's Blog");
        edited["settings"]["magic_link"]["enabled"] = json!(false);
        let (status, put) = admin(
            &app,
            Method::PUT,
            &format!("/admin/tenants/{id}"),
            Some(edited),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{put}");
        assert_eq!(put["name"], "Alice's Blog");
        assert_eq!(put["settings"]["magic_link"]["enabled"], false);
        assert_eq!(put["created_at"], created["created_at"]);

        // PATCH: JSON Patch against the GET shape.
        let (status, patched) = admin(
            &app,
            Method::PATCH,
            &format!("/admin/tenants/{id}"),
            Some(json!([
                {"op": "replace", "path": "/name", "value": "Blog"},
                {"op": "add", "path": "/allowed_return_urls/-", "value": "https://m.blog.example/"}
            ])),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{patched}");
        assert_eq!(patched["name"], "Blog");
        assert_eq!(
            patched["allowed_return_urls"].as_array().map(Vec::len),
            Some(3)
        );
        let (_, reread) = admin(&app, Method::GET, &format!("/admin/tenants/{id}"), None).await;
        assert_eq!(reread, patched);

        // The list: the built-in tenants first (default, console), then in creation order,
        // pages with a Link header.
        app.clock.advance(time::Duration::seconds(1));
        let second = create_tenant(&app, "Bob's shop").await;
        let response = app
            .admin_request(Method::GET, "/admin/tenants?page_size=3")
            .send()
            .await
            .expect("sends");
        let link = response
            .headers()
            .get("link")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .expect("a next link");
        let (status, page) = json_of(response).await;
        assert_eq!(status, StatusCode::OK);
        let ids: Vec<&str> = page
            .as_array()
            .expect("array")
            .iter()
            .map(|t| t["id"].as_str().expect("id"))
            .collect();
        assert_eq!(
            ids,
            vec![
                DEFAULT_TENANT,
                "00000000-0000-0000-0000-000000000002",
                id.as_str()
            ]
        );
        assert_eq!(page[0]["default"], true);
        assert_eq!(page[1]["name"], "Gatehouse console");
        let next = link
            .strip_prefix('<')
            .and_then(|l| l.split_once('>'))
            .map(|(p, _)| p.to_owned())
            .expect("link target");
        let (_, rest) = admin(&app, Method::GET, &next, None).await;
        assert_eq!(rest.as_array().map(Vec::len), Some(1));
        assert_eq!(rest[0]["id"], second.as_str());

        let types = audit_types(&app, &id).await;
        assert!(types.contains(&"tenant_created".to_owned()), "{types:?}");
        assert!(types.contains(&"tenant_updated".to_owned()), "{types:?}");
    }
}

#[tokio::test]
async fn bad_tenant_input_is_a_clear_400_and_writes_nothing() {
    for app in TestApp::all("tenants_bad_input").await {
        let cases = [
            (json!({}), "name"),
            (json!({"name": "   "}), "name"),
            (json!({"name": "x".repeat(101)}), "name"),
            (
                json!({"name": "ok", "redirect_uri": "http://evil.example/cb"}),
                "redirect_uri",
            ),
            (
                json!({"name": "ok", "redirect_uri": "not a url"}),
                "redirect_uri",
            ),
            (
                json!({"name": "ok", "allowed_return_urls": ["https://a.example/#frag"]}),
                "allowed_return_urls[0]",
            ),
            (
                json!({"name": "ok", "allowed_return_urls": "https://a.example/"}),
                "expected a sequence",
            ),
            (
                json!({"name": "ok", "settings": {"magic_link": {"enabled": "yes"}}}),
                "expected a boolean",
            ),
            (json!({"name": "ok", "settings": {"color": "red"}}), "color"),
            (json!({"name": "ok", "owner": "me"}), "owner"),
            (json!({"name": "ok", "id": DEFAULT_TENANT}), "id"),
        ];
        for (body, mentions) in cases {
            let (status, answer) =
                admin(&app, Method::POST, "/admin/tenants", Some(body.clone())).await;
            assert_eq!(
                status,
                StatusCode::BAD_REQUEST,
                "{}: {body} -> {answer}",
                app.backend
            );
            let reason = answer["error"]["reason"].as_str().unwrap_or_default();
            assert!(reason.contains(mentions), "{body}: {reason}");
        }
        let (status, _) = admin(&app, Method::POST, "/admin/tenants", None).await;
        assert!(status.is_client_error());
        let (_, list) = admin(&app, Method::GET, "/admin/tenants", None).await;
        assert_eq!(
            list.as_array().map(Vec::len),
            Some(2),
            "only the built-in tenants (default, console): {list}"
        );

        let (status, _) = admin(&app, Method::GET, "/admin/tenants?page_size=0", None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let (status, _) = admin(&app, Method::GET, "/admin/tenants?page_token=nope", None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        for path in [
            "/admin/tenants/not-a-uuid",
            "/admin/tenants/0190c3d2-0000-7000-8000-000000000000",
        ] {
            let (status, answer) = admin(&app, Method::GET, path, None).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
            assert_eq!(answer["error"]["id"], "tenant_not_found");
        }

        let id = create_tenant(&app, "valid").await;
        let (status, _) = admin(
            &app,
            Method::PUT,
            &format!("/admin/tenants/{id}"),
            Some(json!({"name": "renamed", "id": DEFAULT_TENANT})),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let (status, _) = admin(
            &app,
            Method::PATCH,
            &format!("/admin/tenants/{id}"),
            Some(
                json!([{"op": "replace", "path": "/redirect_uri", "value": "javascript:alert(1)"}]),
            ),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let (status, _) = admin(
            &app,
            Method::PATCH,
            &format!("/admin/tenants/{id}"),
            Some(json!([{"op": "test", "path": "/name", "value": "other"}])),
        )
        .await;
        assert_eq!(status, StatusCode::CONFLICT);
        let (_, unchanged) = admin(&app, Method::GET, &format!("/admin/tenants/{id}"), None).await;
        assert_eq!(unchanged["name"], "valid");

        let (status, answer) = admin(
            &app,
            Method::POST,
            &format!("/admin/tenants/{id}/api-keys"),
            Some(json!({"name": ""})),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
        let (status, _) = admin(
            &app,
            Method::POST,
            "/admin/tenants/0190c3d2-0000-7000-8000-000000000000/api-keys",
            Some(json!({"name": "k"})),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn the_default_tenant_cannot_be_deleted() {
    for app in TestApp::all("tenants_default").await {
        let (status, answer) = admin(
            &app,
            Method::DELETE,
            &format!("/admin/tenants/{DEFAULT_TENANT}"),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::CONFLICT, "{answer}");
        assert_eq!(answer["error"]["id"], "default_tenant");
        let (status, renamed) = admin(
            &app,
            Method::PUT,
            &format!("/admin/tenants/{DEFAULT_TENANT}"),
            Some(json!({"name": "Acme"})),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{renamed}");
        assert_eq!(renamed["default"], true);
    }
}

#[tokio::test]
async fn deleting_a_tenant_deletes_its_identities_clients_sessions_and_keys() {
    for app in TestApp::all("tenants_delete").await {
        let doomed = create_tenant(&app, "doomed").await;
        let key = create_key(&app, &doomed, "backend").await;
        let key = key["key"].as_str().expect("key").to_owned();
        // A user of the doomed app, and one with the same address in the default tenant.
        let (status, signed_up) = json_of(
            app.public_request(
                Method::POST,
                &format!("/api/auth/credentials/signup/{doomed}"),
            )
            .bearer_auth(&key)
            .json(&json!({"email": "ada@example.com", "password": "tawny-kettle-orbit-93"}))
            .send()
            .await
            .expect("sends"),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{signed_up}");
        let doomed_user = signed_up["identity"]["id"].as_str().expect("id").to_owned();
        let kept_user = app.insert_identity("ada@example.com").await;
        let client = app
            .create_client(json!({
                "client_name": "doomed client",
                "grant_types": ["client_credentials"],
                "tenant_id": doomed,
            }))
            .await;
        let client_id = client["client_id"].as_str().expect("client_id").to_owned();
        let secret = client["client_secret"].as_str().expect("secret").to_owned();
        let (status, _) = json_of(app.token(&client_id, &secret, &[]).await).await;
        assert_eq!(status, StatusCode::OK);

        let (status, _) = admin(
            &app,
            Method::DELETE,
            &format!("/admin/tenants/{doomed}"),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, _) = admin(
            &app,
            Method::DELETE,
            &format!("/admin/tenants/{doomed}"),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = admin(&app, Method::GET, &format!("/admin/tenants/{doomed}"), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        let (status, _) = admin(
            &app,
            Method::GET,
            &format!("/admin/clients/{client_id}"),
            None,
        )
        .await;
        assert_eq!(
            status,
            StatusCode::NOT_FOUND,
            "the tenant's client went with it"
        );
        let (status, _) = json_of(app.token(&client_id, &secret, &[]).await).await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "its secret no longer works on this node"
        );
        // The admin identity API serves the default tenant only: ask the store.
        let doomed_tenant =
            gatehouse_domain::ids::TenantId(uuid::Uuid::parse_str(&doomed).expect("uuid"));
        let doomed_user = uuid::Uuid::parse_str(&doomed_user).expect("uuid");
        let store = &app.running.state.store;
        assert!(
            store
                .find_identity(doomed_tenant, doomed_user)
                .await
                .expect("reads")
                .is_none()
        );
        assert!(
            store
                .find_identity_by_identifier(doomed_tenant, "ada@example.com")
                .await
                .expect("reads")
                .is_none()
        );
        let (status, _) = admin(
            &app,
            Method::GET,
            &format!("/admin/identities/{kept_user}"),
            None,
        )
        .await;
        assert_eq!(
            status,
            StatusCode::OK,
            "the default tenant's person is untouched"
        );
        let (status, answer) = json_of(
            app.public_request(
                Method::POST,
                &format!("/api/auth/credentials/login/{doomed}"),
            )
            .bearer_auth(&key)
            .json(&json!({"email": "ada@example.com", "password": "tawny-kettle-orbit-93"}))
            .send()
            .await
            .expect("sends"),
        )
        .await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "the key went too: {answer}"
        );
        let types = audit_types(&app, DEFAULT_TENANT).await;
        assert!(types.contains(&"tenant_deleted".to_owned()), "{types:?}");
    }
}

#[tokio::test]
async fn api_keys_are_shown_once_listed_by_prefix_and_revoked() {
    for app in TestApp::all("tenants_api_keys").await {
        let tenant = create_tenant(&app, "keys").await;
        let other = create_tenant(&app, "other").await;
        let created = create_key(&app, &tenant, "production backend").await;
        let key = created["key"].as_str().expect("key");
        let prefix = created["prefix"].as_str().expect("prefix");
        assert!(key.starts_with("ghk_") && key.len() == 47, "{key}");
        assert!(key.starts_with(prefix) && prefix.len() == 12);
        assert_eq!(created["name"], "production backend");
        assert_eq!(created["tenant_id"], tenant.as_str());
        assert_eq!(created["last_used_at"], Value::Null);
        let other_key = create_key(&app, &other, "theirs").await;

        let (status, list) = admin(
            &app,
            Method::GET,
            &format!("/admin/tenants/{tenant}/api-keys"),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let list = list.as_array().expect("array").clone();
        assert_eq!(list.len(), 1, "only the tenant's own keys: {list:?}");
        assert_eq!(list[0]["id"], created["id"]);
        assert_eq!(list[0]["prefix"], prefix);
        assert!(list[0].get("key").is_none(), "never shown again");
        assert!(
            !list[0].to_string().contains(&key[12..]),
            "no part past the prefix"
        );

        // Another tenant's key cannot be revoked through this tenant.
        let (status, _) = admin(
            &app,
            Method::DELETE,
            &format!(
                "/admin/tenants/{tenant}/api-keys/{}",
                other_key["id"].as_str().expect("id")
            ),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (_, theirs) = admin(
            &app,
            Method::GET,
            &format!("/admin/tenants/{other}/api-keys"),
            None,
        )
        .await;
        assert_eq!(theirs.as_array().map(Vec::len), Some(1));

        let key_id = created["id"].as_str().expect("id");
        let (status, _) = admin(
            &app,
            Method::DELETE,
            &format!("/admin/tenants/{tenant}/api-keys/{key_id}"),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, _) = admin(
            &app,
            Method::DELETE,
            &format!("/admin/tenants/{tenant}/api-keys/{key_id}"),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (_, list) = admin(
            &app,
            Method::GET,
            &format!("/admin/tenants/{tenant}/api-keys"),
            None,
        )
        .await;
        assert_eq!(list, json!([]));

        let types = audit_types(&app, &tenant).await;
        assert!(types.contains(&"api_key_created".to_owned()), "{types:?}");
        assert!(types.contains(&"api_key_revoked".to_owned()), "{types:?}");
        let (_, events) = admin(
            &app,
            Method::GET,
            &format!("/admin/audit-events?tenant_id={tenant}"),
            None,
        )
        .await;
        assert!(
            !events.to_string().contains(&key[12..]),
            "the key is not in the audit log"
        );
    }
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
async fn tenant_commands_manage_tenants_and_keys_over_the_admin_api() {
    for app in TestApp::all("tenants_cli").await {
        // The binary runs on a blocking thread: the server answers on this test's runtime.
        let run = |line: &str| {
            let mut args: Vec<String> = line.split(' ').map(str::to_owned).collect();
            args.extend(["--endpoint".to_owned(), app.admin.clone()]);
            let token = app.admin_token.clone();
            async move {
                tokio::task::spawn_blocking(move || gatehouse(&args, &token))
                    .await
                    .expect("joins")
            }
        };
        let out =
            run("tenants create Blog --redirect-uri https://blog.example/cb --magic-link --json")
                .await;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let created: Value = serde_json::from_slice(&out.stdout).expect("json");
        let id = created["id"].as_str().expect("id").to_owned();
        assert_eq!(created["settings"]["magic_link"]["enabled"], true);

        let out = run("tenants list").await;
        let table = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(out.status.success());
        assert!(
            table.contains(&id) && table.contains("Blog") && table.contains("default"),
            "{table}"
        );

        let out = run(&format!(
            "tenants update {id} --name Journal --magic-link false"
        ))
        .await;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = run(&format!("tenants show {id} --json")).await;
        let shown: Value = serde_json::from_slice(&out.stdout).expect("json");
        assert_eq!(shown["name"], "Journal");
        assert_eq!(shown["settings"]["magic_link"]["enabled"], false);
        assert_eq!(shown["redirect_uri"], "https://blog.example/cb");

        let out = run(&format!(
            "tenants api-keys create {id} --name backend --json"
        ))
        .await;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let key: Value = serde_json::from_slice(&out.stdout).expect("json");
        assert!(key["key"].as_str().expect("key").starts_with("ghk_"));
        let out = run(&format!("tenants api-keys list {id}")).await;
        let table = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            table.contains(key["prefix"].as_str().expect("prefix")),
            "{table}"
        );
        let out = run(&format!(
            "tenants api-keys revoke {id} {}",
            key["id"].as_str().expect("id")
        ))
        .await;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );

        let out = run(&format!("tenants delete {id}")).await;
        assert!(!out.status.success(), "refused without --yes");
        assert!(String::from_utf8_lossy(&out.stderr).contains("--yes"));
        let out = run(&format!("tenants delete {DEFAULT_TENANT} --yes")).await;
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("default tenant cannot be deleted"));
        let out = run(&format!("tenants delete {id} --yes")).await;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = run(&format!("tenants show {id}")).await;
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("no tenant with this id"));
    }
}
