//! `/admin/clients`: CRUD, validation, pagination and admin authentication.

use crate::support::TestApp;
use crate::support::app::json_of;
use reqwest::{Method, StatusCode, header};
use serde_json::json;

#[tokio::test]
async fn admin_api_refuses_missing_or_wrong_tokens() {
    for app in TestApp::all("admin_auth").await {
        let url = format!("{}/admin/clients", app.admin);
        let none = app.http.get(&url).send().await.expect("sends");
        assert_eq!(none.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(none.headers()[header::WWW_AUTHENTICATE], "Bearer");
        let (_, body) = json_of(none).await;
        assert_eq!(body["error"]["code"], 401);
        assert_eq!(body["error"]["status"], "Unauthorized");
        let wrong = app
            .http
            .get(&url)
            .bearer_auth("wrong-token")
            .send()
            .await
            .expect("sends");
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
        // The admin API is not reachable on the public listener.
        let public = app
            .public_request(Method::GET, "/admin/clients")
            .bearer_auth(&app.admin_token)
            .send()
            .await;
        assert_eq!(public.expect("sends").status(), StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn creates_reads_replaces_and_deletes_a_client() {
    for app in TestApp::all("crud").await {
        let created = app
            .create_client(json!({
                "client_id": "my-app",
                "client_name": "My App",
                "redirect_uris": ["https://app.example/callback", "http://127.0.0.1:8080/cb"],
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
                "scope": "openid email",
                "metadata": {"team": "web"},
                "skip_consent": true,
                "unknown_field": "ignored",
            }))
            .await;
        assert_eq!(created["client_id"], "my-app");
        let secret = created["client_secret"]
            .as_str()
            .expect("secret shown once");
        assert!(secret.len() >= 43, "256-bit secret");
        assert_eq!(created["token_endpoint_auth_method"], "client_secret_basic");
        assert_eq!(created["active"], true);

        let (status, read) = json_of(
            app.admin_request(Method::GET, "/admin/clients/my-app")
                .send()
                .await
                .expect("s"),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            read.get("client_secret").is_none(),
            "secret never shown again"
        );
        assert_eq!(read["metadata"], json!({"team": "web"}));

        let mut changed = read.clone();
        changed["client_name"] = json!("Renamed");
        let (status, replaced) = json_of(
            app.admin_request(Method::PUT, "/admin/clients/my-app")
                .json(&changed)
                .send()
                .await
                .expect("s"),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{replaced}");
        assert_eq!(replaced["client_name"], "Renamed");
        assert!(
            replaced.get("client_secret").is_none(),
            "the old secret is kept"
        );

        let deleted = app
            .admin_request(Method::DELETE, "/admin/clients/my-app")
            .send()
            .await
            .expect("s");
        assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
        let (status, body) = json_of(
            app.admin_request(Method::GET, "/admin/clients/my-app")
                .send()
                .await
                .expect("s"),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body["error"]["id"], "client_not_found");
        let again = app
            .admin_request(Method::DELETE, "/admin/clients/my-app")
            .send()
            .await
            .expect("s");
        assert_eq!(again.status(), StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn refuses_invalid_client_metadata_with_a_named_field() {
    for app in TestApp::all("invalid").await {
        let cases = [
            (json!({"redirect_uris": ["/relative"]}), "redirect_uris"),
            (
                json!({"redirect_uris": ["https://a.example/cb#frag"]}),
                "redirect_uris",
            ),
            (
                json!({"redirect_uris": ["http://a.example/cb"]}),
                "redirect_uris",
            ),
            (
                json!({"grant_types": ["client_credentials"], "client_secret": "too-short"}),
                "client_secret",
            ),
            (
                json!({"grant_types": ["client_credentials"], "response_types": ["code"]}),
                "response_types",
            ),
            (json!({"grant_types": ["implicit"]}), "grant_types"),
            (
                json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "private_key_jwt"}),
                "token_endpoint_auth_method",
            ),
            (
                json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "none"}),
                "token_endpoint_auth_method",
            ),
            (
                json!({"grant_types": ["client_credentials"], "client_credentials_grant_access_token_lifespan": "soon"}),
                "lifespan",
            ),
            (
                json!({"grant_types": ["client_credentials"], "client_id": "has space"}),
                "client_id",
            ),
            (
                json!({"grant_types": ["client_credentials"], "scope": "a\"b"}),
                "scope",
            ),
        ];
        for (body, field) in cases {
            let response = app
                .admin_request(Method::POST, "/admin/clients")
                .json(&body)
                .send()
                .await
                .expect("sends");
            let (status, answer) = json_of(response).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body} -> {answer}");
            let reason = answer["error"]["reason"].as_str().expect("reason");
            assert!(
                reason.starts_with(field),
                "{body}: {reason:?} should name {field}"
            );
        }
        let ok = app
            .admin_request(Method::POST, "/admin/clients")
            .json(&json!({"grant_types": ["client_credentials"], "client_secret": "x".repeat(32)}))
            .send()
            .await
            .expect("sends");
        assert_eq!(ok.status(), StatusCode::CREATED);
    }
}

#[tokio::test]
async fn duplicate_client_ids_conflict() {
    for app in TestApp::all("duplicate").await {
        let body = json!({"client_id": "dup", "grant_types": ["client_credentials"]});
        app.create_client(body.clone()).await;
        let response = app
            .admin_request(Method::POST, "/admin/clients")
            .json(&body)
            .send()
            .await
            .expect("sends");
        assert_eq!(response.status(), StatusCode::CONFLICT);
    }
}

#[tokio::test]
async fn lists_clients_in_pages_with_a_link_header() {
    for app in TestApp::all("pages").await {
        for i in 0..5 {
            app.create_client(json!({"client_id": format!("c{i}"), "client_name": "paged", "grant_types": ["client_credentials"]}))
                .await;
        }
        let response = app
            .admin_request(Method::GET, "/admin/clients?page_size=2")
            .send()
            .await
            .expect("sends");
        let link = response.headers()[header::LINK]
            .to_str()
            .expect("ascii")
            .to_owned();
        let (_, first) = json_of(response).await;
        assert_eq!(first.as_array().expect("array").len(), 2);
        let next = link
            .trim_start_matches('<')
            .split('>')
            .next()
            .expect("url")
            .to_owned();
        let (_, rest) = json_of(
            app.admin_request(Method::GET, &next)
                .send()
                .await
                .expect("sends"),
        )
        .await;
        assert_eq!(rest.as_array().expect("array").len(), 2);
        assert_ne!(first[0]["client_id"], rest[0]["client_id"]);

        let (_, filtered) = json_of(
            app.admin_request(Method::GET, "/admin/clients?client_name=paged")
                .send()
                .await
                .expect("s"),
        )
        .await;
        assert_eq!(filtered.as_array().expect("array").len(), 5);
        for bad in [
            "?page_size=0",
            "?page_size=abc",
            "?page_token=nope",
            "?tenant_id=x",
        ] {
            let response = app
                .admin_request(Method::GET, &format!("/admin/clients{bad}"))
                .send()
                .await
                .expect("s");
            assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{bad}");
        }
    }
}

#[tokio::test]
async fn patches_a_client_with_json_patch() {
    for app in TestApp::all("patch").await {
        app.create_client(json!({"client_id": "p", "client_name": "before", "grant_types": ["client_credentials"], "scope": "a"}))
            .await;
        let patch = |ops: serde_json::Value| {
            app.admin_request(Method::PATCH, "/admin/clients/p")
                .header(header::CONTENT_TYPE, "application/json-patch+json")
                .body(ops.to_string())
                .send()
        };
        let (status, body) = json_of(
            patch(json!([
                {"op": "test", "path": "/client_name", "value": "before"},
                {"op": "replace", "path": "/client_name", "value": "after"},
                {"op": "add", "path": "/audience/-", "value": "https://api.example"},
            ]))
            .await
            .expect("sends"),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["client_name"], "after");
        assert_eq!(body["audience"], json!(["https://api.example"]));
        assert!(
            body.get("client_secret").is_none(),
            "the secret is kept, not shown"
        );

        let (status, _) = json_of(
            patch(json!([{"op": "test", "path": "/client_name", "value": "before"}]))
                .await
                .expect("sends"),
        )
        .await;
        assert_eq!(status, StatusCode::CONFLICT);
        for bad in [
            json!([{"op": "replace", "path": "/nope/x", "value": 1}]),
            json!([{"op": "replace", "path": "/grant_types", "value": "not-a-list"}]),
            json!([{"op": "replace", "path": "/redirect_uris", "value": ["http://evil.example/cb"]}]),
            json!([{"op": "jump", "path": "/a"}]),
            json!({"op": "replace"}),
        ] {
            let (status, body) = json_of(patch(bad.clone()).await.expect("sends")).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        }
        let (status, _) = json_of(
            app.admin_request(Method::PATCH, "/admin/clients/missing")
                .json(&json!([]))
                .send()
                .await
                .expect("sends"),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
}
