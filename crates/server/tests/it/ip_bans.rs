//! IP bans: the admin API, the CLI (through the binary), the 403 on the public listener, and a
//! ban reaching another node.

use crate::support::TestApp;
use crate::support::app::json_of;
use gatehouse::config::Config;
use gatehouse::startup::start;
use gatehouse_domain::clock::SystemClock;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::process::{Command, Output};
use std::sync::Arc;

async fn ban(app: &TestApp, body: Value) -> (StatusCode, Value) {
    json_of(
        app.admin_request(Method::POST, "/admin/ip-bans")
            .json(&body)
            .send()
            .await
            .expect("sends"),
    )
    .await
}

async fn discovery_status(app: &TestApp) -> StatusCode {
    app.public_request(Method::GET, "/.well-known/openid-configuration")
        .send()
        .await
        .expect("sends")
        .status()
}

#[tokio::test]
async fn admin_api_adds_lists_and_removes_bans() {
    for app in TestApp::all("ip_bans_api").await {
        let (status, created) = ban(
            &app,
            json!({"cidr": "10.1.2.3/8", "reason": "credential stuffing", "expires_in": "1h"}),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{}: {created}", app.backend);
        assert_eq!(created["cidr"], "10.0.0.0/8");
        assert_eq!(created["reason"], "credential stuffing");
        assert_eq!(created["active"], true);
        assert!(created["expires_at"].is_string());
        app.clock.advance(time::Duration::seconds(1));
        let (status, v6) = ban(&app, json!({"cidr": "2001:db8::/32"})).await;
        assert_eq!(status, StatusCode::CREATED, "{v6}");
        assert_eq!(v6["expires_at"], Value::Null);

        let (status, list) = json_of(
            app.admin_request(Method::GET, "/admin/ip-bans")
                .send()
                .await
                .expect("sends"),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let cidrs: Vec<&str> = list
            .as_array()
            .expect("array")
            .iter()
            .map(|b| b["cidr"].as_str().expect("cidr"))
            .collect();
        assert_eq!(cidrs, ["2001:db8::/32", "10.0.0.0/8"]);

        for (body, field) in [
            (json!({"cidr": "10.0.0.0/33"}), "cidr"),
            (json!({"cidr": "not an address"}), "cidr"),
            (
                json!({"cidr": "10.0.0.1", "expires_in": "soon"}),
                "expires_in",
            ),
            (
                json!({"cidr": "10.0.0.1", "expires_in": "0s"}),
                "expires_in",
            ),
            (
                json!({"cidr": "10.0.0.1", "expires_at": "tomorrow"}),
                "expires_at",
            ),
            (
                json!({"cidr": "10.0.0.1", "expires_at": "2001-01-01T00:00:00Z"}),
                "expires_at",
            ),
            (
                json!({"cidr": "10.0.0.1", "expires_in": "1h", "expires_at": "2099-01-01T00:00:00Z"}),
                "expires_in",
            ),
            (
                json!({"cidr": "10.0.0.1", "reason": "x".repeat(501)}),
                "reason",
            ),
            (json!({"reason": "no cidr"}), "cidr"),
            (json!({"cidr": "10.0.0.1", "color": "red"}), "color"),
        ] {
            let (status, body) = ban(&app, body.clone()).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
            let reason = body["error"]["reason"].as_str().expect("reason");
            assert!(reason.contains(field), "{field}: {reason}");
        }

        app.clock.advance(time::Duration::seconds(1));
        let id = created["id"].as_str().expect("id");
        let delete = |id: String| {
            app.admin_request(Method::DELETE, &format!("/admin/ip-bans/{id}"))
                .send()
        };
        assert_eq!(
            delete(id.to_owned()).await.expect("sends").status(),
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            delete(id.to_owned()).await.expect("sends").status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            delete("nope".to_owned()).await.expect("sends").status(),
            StatusCode::NOT_FOUND
        );

        let (_, events) = json_of(
            app.admin_request(Method::GET, "/admin/audit-events")
                .send()
                .await
                .expect("sends"),
        )
        .await;
        let kinds: Vec<&str> = events
            .as_array()
            .expect("array")
            .iter()
            .map(|e| e["event_type"].as_str().expect("type"))
            .collect();
        assert_eq!(kinds, ["ip_unbanned", "ip_banned", "ip_banned"]);
        assert_eq!(events[0]["details"]["cidr"], "10.0.0.0/8");
        assert_eq!(events[2]["details"]["reason"], "credential stuffing");
        assert_eq!(events[2]["actor"], "admin");
    }
}

#[tokio::test]
async fn a_banned_peer_gets_403_on_the_public_listener_only() {
    for app in TestApp::all("ip_bans_enforced").await {
        assert_eq!(discovery_status(&app).await, StatusCode::OK);
        // Another family's ban, or a neighbour's, does not touch us.
        ban(&app, json!({"cidr": "::1"})).await;
        ban(&app, json!({"cidr": "127.0.0.2"})).await;
        assert_eq!(discovery_status(&app).await, StatusCode::OK);

        let (_, created) = ban(&app, json!({"cidr": "127.0.0.0/8", "expires_in": "10m"})).await;
        let refused = app
            .public_request(Method::POST, "/oauth2/token")
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .expect("sends");
        assert_eq!(refused.status(), StatusCode::FORBIDDEN, "{}", app.backend);
        let (_, body) = json_of(refused).await;
        assert_eq!(body["error"]["id"], "ip_banned");
        let unknown = app
            .public_request(Method::GET, "/no/such/path")
            .send()
            .await
            .expect("sends");
        assert_eq!(
            unknown.status(),
            StatusCode::FORBIDDEN,
            "refused before routing"
        );
        let health = app
            .public_request(Method::GET, "/health/alive")
            .send()
            .await
            .expect("sends");
        assert_eq!(
            health.status(),
            StatusCode::OK,
            "health checks stay reachable"
        );
        let admin = app
            .admin_request(Method::GET, "/admin/ip-bans")
            .send()
            .await
            .expect("sends");
        assert_eq!(
            admin.status(),
            StatusCode::OK,
            "the admin listener is not affected"
        );

        // The ban ends at its expiry, even before the next reload.
        app.clock.advance(time::Duration::minutes(10));
        assert_eq!(discovery_status(&app).await, StatusCode::OK);
        app.clock.advance(time::Duration::minutes(-10));
        assert_eq!(discovery_status(&app).await, StatusCode::FORBIDDEN);
        let id = created["id"].as_str().expect("id");
        let removed = app
            .admin_request(Method::DELETE, &format!("/admin/ip-bans/{id}"))
            .send()
            .await
            .expect("sends");
        assert_eq!(removed.status(), StatusCode::NO_CONTENT);
        assert_eq!(
            discovery_status(&app).await,
            StatusCode::OK,
            "removal applies at once"
        );
    }
}

#[tokio::test]
async fn a_ban_reaches_other_nodes_within_seconds() {
    let dir = std::env::temp_dir().join(format!("gatehouse-bans-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("dir");
    let url = format!("sqlite://{}", dir.join("shared.db").display());
    let config = Config::for_tests(&url);
    let a = start(config.clone(), Arc::new(SystemClock))
        .await
        .expect("node a");
    let b = start(config, Arc::new(SystemClock)).await.expect("node b");
    let http = reqwest::Client::new();
    let public_b = format!("http://{}/.well-known/jwks.json", b.public_addr);
    assert_eq!(
        http.get(&public_b).send().await.expect("sends").status(),
        StatusCode::OK
    );
    let created = http
        .post(format!("http://{}/admin/ip-bans", a.admin_addr))
        .bearer_auth(a.admin_token.expose())
        .json(&json!({"cidr": "127.0.0.1", "reason": "test"}))
        .send()
        .await
        .expect("sends");
    assert_eq!(created.status(), StatusCode::CREATED);
    let mut status = StatusCode::OK;
    for _ in 0..100 {
        status = http.get(&public_b).send().await.expect("sends").status();
        if status == StatusCode::FORBIDDEN {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "node b learned the ban made on node a"
    );
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
async fn ip_ban_commands_manage_bans_over_the_admin_api() {
    for app in TestApp::all("ip_bans_cli").await {
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
        let out = run("ip-bans add 192.0.2.0/24 --reason abuse --expires-in 1h --json").await;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let created: Value = serde_json::from_slice(&out.stdout).expect("json");
        assert_eq!(created["cidr"], "192.0.2.0/24");
        assert_eq!(created["reason"], "abuse");
        let id = created["id"].as_str().expect("id").to_owned();

        let out = run("ip-bans add 198.51.100.7").await;
        assert!(out.status.success());
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(
            said.contains("banned 198.51.100.7/32 until removed"),
            "{said}"
        );

        let out = run("ip-bans list").await;
        let table = String::from_utf8_lossy(&out.stdout);
        assert!(
            table.contains("CIDR") && table.contains("192.0.2.0/24") && table.contains("abuse"),
            "{table}"
        );
        assert!(table.contains(&id));

        let out = run("ip-bans add 300.1.1.1").await;
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("cidr") && err.contains("400"), "{err}");

        let out = run(&format!("ip-bans remove {id}")).await;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = run(&format!("ip-bans remove {id}")).await;
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("no IP ban with this id"));

        let out = run("ip-bans list --json").await;
        let list: Value = serde_json::from_slice(&out.stdout).expect("json");
        assert_eq!(list.as_array().expect("array").len(), 1);
    }
}

#[tokio::test]
async fn behind_a_trusted_proxy_bans_and_devices_apply_to_the_forwarded_client() {
    let trust_loopback = |config: &mut Config| {
        config.trusted_proxies =
            vec![gatehouse_domain::ip_ban::IpNet::parse("127.0.0.0/8").expect("net")];
    };
    for app in TestApp::all_with("trusted_proxies", trust_loopback).await {
        let (status, _) = ban(&app, json!({"cidr": "203.0.113.9"})).await;
        assert_eq!(status, StatusCode::CREATED);
        let from = |client: &'static str| {
            app.public_request(Method::GET, "/.well-known/openid-configuration")
                .header("X-Forwarded-For", format!("6.6.6.6, {client}"))
        };
        assert_eq!(
            from("203.0.113.9").send().await.expect("sends").status(),
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            from("198.51.100.4").send().await.expect("sends").status(),
            StatusCode::OK
        );
        // Audit events (and throttles, session devices) see the forwarded client.
        let (_, flow) = json_of(
            app.public_request(Method::GET, "/self-service/login/api")
                .send()
                .await
                .expect("sends"),
        )
        .await;
        let flow = flow["id"].as_str().expect("flow");
        let failed = app
            .public_request(Method::POST, &format!("/self-service/login?flow={flow}"))
            .header("X-Forwarded-For", "198.51.100.4")
            .json(&json!({"identifier": "nobody@example.com", "password": "wrong wrong wrong"}))
            .send()
            .await
            .expect("sends");
        assert_eq!(failed.status(), StatusCode::BAD_REQUEST);
        let (_, events) = json_of(
            app.admin_request(Method::GET, "/admin/audit-events?type=login_failed")
                .send()
                .await
                .expect("sends"),
        )
        .await;
        assert_eq!(events[0]["ip_address"], "198.51.100.4", "{events}");
    }
    // Without trusted proxies the header is ignored.
    for app in TestApp::all("untrusted_proxies").await {
        let (status, _) = ban(&app, json!({"cidr": "203.0.113.9"})).await;
        assert_eq!(status, StatusCode::CREATED);
        let forwarded = app
            .public_request(Method::GET, "/.well-known/openid-configuration")
            .header("X-Forwarded-For", "203.0.113.9")
            .send()
            .await
            .expect("sends");
        assert_eq!(forwarded.status(), StatusCode::OK);
    }
}
