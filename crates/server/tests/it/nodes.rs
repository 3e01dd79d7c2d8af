//! Several nodes on one database act as one.

use gatehouse::config::Config;
use gatehouse::startup::start;
use gatehouse_domain::clock::SystemClock;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::sync::Arc;

#[tokio::test]
async fn nodes_share_clients_keys_and_revocations() {
    let dir = std::env::temp_dir().join(format!("gatehouse-nodes-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("dir");
    let url = format!("sqlite://{}", dir.join("shared.db").display());
    let mut config = Config::for_tests(&url);
    config.client_cache_ttl = time::Duration::milliseconds(200);
    // Nodes behind one load balancer share one issuer.
    config.issuer = Some(url::Url::parse("http://127.0.0.1:4433").expect("valid"));
    let a = start(config.clone(), Arc::new(SystemClock))
        .await
        .expect("node a");
    let b = start(config, Arc::new(SystemClock)).await.expect("node b");
    let http = reqwest::Client::new();
    let token = a.admin_token.expose().to_owned();

    let client: Value = http
        .post(format!("http://{}/admin/clients", a.admin_addr))
        .bearer_auth(&token)
        .json(&json!({"client_id": "shared", "grant_types": ["client_credentials"]}))
        .send()
        .await
        .expect("sends")
        .json()
        .await
        .expect("json");
    let secret = client["client_secret"].as_str().expect("secret");
    let issue = |node: &gatehouse::startup::Running| {
        http.post(format!("http://{}/oauth2/token", node.public_addr))
            .basic_auth("shared", Some(secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
    };

    // A token from node A introspects on node B (same keys), and a revocation on B holds on A.
    let body: Value = issue(&a).await.expect("sends").json().await.expect("json");
    let access = body["access_token"].as_str().expect("token").to_owned();
    let introspect = |node: &gatehouse::startup::Running| {
        http.post(format!(
            "http://{}/admin/oauth2/introspect",
            node.admin_addr
        ))
        .bearer_auth(&token)
        .form(&[("token", access.as_str())])
        .send()
    };
    let on_b: Value = introspect(&b)
        .await
        .expect("sends")
        .json()
        .await
        .expect("json");
    assert_eq!(on_b["active"], true);
    let revoked = http
        .post(format!("http://{}/oauth2/revoke", b.public_addr))
        .basic_auth("shared", Some(secret))
        .form(&[("token", access.as_str())])
        .send()
        .await
        .expect("sends");
    assert_eq!(revoked.status(), StatusCode::OK);
    let on_a: Value = introspect(&a)
        .await
        .expect("sends")
        .json()
        .await
        .expect("json");
    assert_eq!(on_a, json!({"active": false}));

    // Deactivating on A reaches B once B's cache entry expires.
    assert_eq!(issue(&b).await.expect("sends").status(), StatusCode::OK);
    let mut current: Value = http
        .get(format!("http://{}/admin/clients/shared", a.admin_addr))
        .bearer_auth(&token)
        .send()
        .await
        .expect("sends")
        .json()
        .await
        .expect("json");
    current["active"] = json!(false);
    http.put(format!("http://{}/admin/clients/shared", a.admin_addr))
        .bearer_auth(&token)
        .json(&current)
        .send()
        .await
        .expect("sends");
    assert_eq!(
        issue(&a).await.expect("sends").status(),
        StatusCode::UNAUTHORIZED,
        "at once on the same node"
    );
    let mut refused = false;
    for _ in 0..50 {
        if issue(&b).await.expect("sends").status() == StatusCode::UNAUTHORIZED {
            refused = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(refused, "node B never saw the deactivation");

    for node in [a, b] {
        node.shutdown();
        node.wait().await.expect("stops");
    }
}
