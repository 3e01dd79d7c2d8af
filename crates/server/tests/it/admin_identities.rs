//! `/admin/identities`: CRUD, validation against the identity schema, pagination, imported
//! password hashes and their upgrade to argon2id at sign-in, and the `gatehouse identities` CLI.

use crate::support::TestApp;
use crate::support::app::json_of;
use argon2::password_hash::{CustomizedPasswordHasher, PasswordHasher};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use gatehouse_domain::identity::password::HashScheme;
use gatehouse_domain::ids::TenantId;
use gatehouse_domain::secret::Secret;
use gatehouse_web::identity::password::verify_and_upgrade;
use reqwest::{Method, StatusCode, header};
use serde_json::{Value, json};

const PASSWORD: &str = "imported correct horse";

impl TestApp {
    async fn create_identity(&self, body: Value) -> (StatusCode, Value) {
        json_of(
            self.admin_request(Method::POST, "/admin/identities")
                .json(&body)
                .send()
                .await
                .expect("sends"),
        )
        .await
    }

    /// Signs in as the lead's login flow does: find by identifier, verify, upgrade.
    async fn sign_in(&self, identifier: &str, password: &str) -> bool {
        let state = &self.running.state;
        let Some((identity, Some(stored))) = state
            .store
            .find_identity_by_identifier(TenantId::DEFAULT, identifier)
            .await
            .expect("reads")
        else {
            return false;
        };
        verify_and_upgrade(state, &identity, &stored, &Secret::new(password)).await
    }

    async fn stored_scheme(&self, identifier: &str) -> (HashScheme, String) {
        let (_, stored) = self
            .running
            .state
            .store
            .find_identity_by_identifier(TenantId::DEFAULT, identifier)
            .await
            .expect("reads")
            .expect("exists");
        let stored = stored.expect("has a password");
        (stored.scheme(), stored.as_str().to_owned())
    }
}

#[tokio::test]
async fn identities_require_the_admin_token() {
    for app in TestApp::all("identities_auth").await {
        let response = app
            .http
            .get(format!("{}/admin/identities", app.admin))
            .send()
            .await
            .expect("sends");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let response = app
            .http
            .post(format!("{}/admin/identities", app.admin))
            .bearer_auth("wrong")
            .json(&json!({"traits": {"email": "a@example.com"}}))
            .send()
            .await
            .expect("sends");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn creates_reads_replaces_patches_and_deletes_an_identity() {
    for app in TestApp::all("identities_crud").await {
        let (status, created) = app
            .create_identity(json!({
                "schema_id": "default",
                "traits": {"email": "Ada@Example.com", "first_name": "Ada"},
                "metadata_public": {"plan": "pro"},
                "metadata_admin": {"crm": 42},
                "credentials": {"password": {"config": {"password": "short but ok"}}},
            }))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{}: {created}", app.backend);
        let id = created["id"].as_str().expect("id").to_owned();
        assert_eq!(created["state"], "active");
        assert_eq!(created["schema_id"], "default");
        assert_eq!(created["traits"]["email"], "Ada@Example.com");
        assert_eq!(
            created["verifiable_addresses"][0]["value"],
            "ada@example.com"
        );
        assert_eq!(created["verifiable_addresses"][0]["verified"], false);
        assert_eq!(created["verifiable_addresses"][0]["status"], "pending");
        assert_eq!(created["recovery_addresses"][0]["via"], "email");
        assert_eq!(created["metadata_admin"]["crm"], 42);
        assert!(created.get("credentials").is_none(), "hashes never leave");
        assert!(!created.to_string().contains("short but ok"));
        assert!(app.sign_in("ada@example.com", "short but ok").await);
        let (scheme, hash) = app.stored_scheme("ada@example.com").await;
        assert_eq!(scheme, HashScheme::Argon2);
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );

        let (status, read) = json_of(
            app.admin_request(Method::GET, &format!("/admin/identities/{id}"))
                .send()
                .await
                .expect("sends"),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(read, created);

        // PUT replaces traits, state and metadata; a GET answer can be sent back as is.
        let mut body = read.clone();
        body["traits"] = json!({"email": "ada@lovelace.example", "last_name": "Lovelace"});
        body["state"] = json!("inactive");
        body["metadata_public"] = Value::Null;
        let (status, replaced) = json_of(
            app.admin_request(Method::PUT, &format!("/admin/identities/{id}"))
                .json(&body)
                .send()
                .await
                .expect("sends"),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{replaced}");
        assert_eq!(replaced["state"], "inactive");
        assert_eq!(replaced["metadata_public"], Value::Null);
        assert_eq!(
            replaced["verifiable_addresses"][0]["value"],
            "ada@lovelace.example"
        );
        assert_eq!(replaced["created_at"], created["created_at"]);
        let (identity, _) = app
            .running
            .state
            .store
            .find_identity_by_identifier(TenantId::DEFAULT, "ada@lovelace.example")
            .await
            .expect("reads")
            .expect("the new identifier signs in");
        assert!(!identity.is_active(), "inactive identities cannot sign in");
        assert!(
            app.running
                .state
                .store
                .find_identity_by_identifier(TenantId::DEFAULT, "ada@example.com")
                .await
                .expect("reads")
                .is_none()
        );

        // PATCH (RFC 6902) against the identity as GET shows it.
        let (status, patched) = json_of(
            app.admin_request(Method::PATCH, &format!("/admin/identities/{id}"))
                .json(&json!([
                    {"op": "replace", "path": "/state", "value": "active"},
                    {"op": "add", "path": "/traits/username", "value": "ada"},
                    {"op": "add", "path": "/metadata_admin", "value": {"vip": true}},
                ]))
                .send()
                .await
                .expect("sends"),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{patched}");
        assert_eq!(patched["state"], "active");
        assert_eq!(patched["traits"]["username"], "ada");
        assert_eq!(patched["metadata_admin"]["vip"], true);
        let (status, refused) = json_of(
            app.admin_request(Method::PATCH, &format!("/admin/identities/{id}"))
                .json(&json!([{"op": "replace", "path": "/traits/email", "value": "nope"}]))
                .send()
                .await
                .expect("sends"),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(
            refused["error"]["reason"]
                .as_str()
                .is_some_and(|r| r.contains("traits.email") && r.contains("format")),
            "{refused}"
        );

        let deleted = app
            .admin_request(Method::DELETE, &format!("/admin/identities/{id}"))
            .send()
            .await
            .expect("sends");
        assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
        for method in [Method::GET, Method::DELETE] {
            let (status, body) = json_of(
                app.admin_request(method, &format!("/admin/identities/{id}"))
                    .send()
                    .await
                    .expect("sends"),
            )
            .await;
            assert_eq!(status, StatusCode::NOT_FOUND);
            assert_eq!(body["error"]["id"], "identity_not_found");
        }
        let (status, _) = json_of(
            app.admin_request(Method::GET, "/admin/identities/not-a-uuid")
                .send()
                .await
                .expect("sends"),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn invalid_traits_and_credentials_are_400s_naming_field_and_rule() {
    for app in TestApp::all("identities_invalid").await {
        for (body, field, rule) in [
            (
                json!({"traits": {"first_name": "Ada"}}),
                "traits.email",
                "required",
            ),
            (
                json!({"traits": {"email": "not-an-email"}}),
                "traits.email",
                "format",
            ),
            (
                json!({"traits": {"email": "a@example.com", "shoe_size": 44}}),
                "traits.shoe_size",
                "additionalProperties",
            ),
            (
                json!({"traits": {"email": "a@example.com", "date_of_birth": "soon"}}),
                "traits.date_of_birth",
                "format",
            ),
            (
                json!({"schema_id": "nope", "traits": {"email": "a@example.com"}}),
                "schema_id",
                "unknown_schema",
            ),
            (
                json!({"traits": {"email": "a@example.com"},
                       "credentials": {"password": {"config": {"password": "short"}}}}),
                "credentials.password.config.password",
                "length",
            ),
        ] {
            let (status, answer) = app.create_identity(body.clone()).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
            let reason = answer["error"]["reason"].as_str().expect("reason");
            assert!(
                reason.contains(field) && reason.contains(rule),
                "{body}: {reason}"
            );
        }
        let (status, answer) = app
            .create_identity(json!({"traits": {"email": "a@example.com"},
                "credentials": {"password": {"config": {"hashed_password": "$md5$nope"}}}}))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(
            answer["error"]["reason"]
                .as_str()
                .is_some_and(|r| r.contains("credentials.password.config.hashed_password")),
            "{answer}"
        );
        let (status, answer) = app
            .create_identity(json!({"traits": {"email": "a@example.com"}, "state": "sleeping"}))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
        assert!(
            answer["error"]["reason"]
                .as_str()
                .is_some_and(|r| r.starts_with("state:")),
            "{answer}"
        );
        let (status, answer) = app
            .create_identity(json!({"traits": {"email": "a@example.com"}, "trait": {}}))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    }
}

#[tokio::test]
async fn a_taken_identifier_is_a_409() {
    for app in TestApp::all("identities_dup").await {
        let (status, _) = app
            .create_identity(json!({"traits": {"email": "ada@example.com"}}))
            .await;
        assert_eq!(status, StatusCode::CREATED);
        let (status, answer) = app
            .create_identity(json!({"traits": {"email": "ADA@example.com"}}))
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{answer}");
        assert_eq!(answer["error"]["id"], "identity_exists");
        let (_, other) = app
            .create_identity(json!({"traits": {"email": "grace@example.com"}}))
            .await;
        let (status, _) = json_of(
            app.admin_request(
                Method::PUT,
                &format!("/admin/identities/{}", other["id"].as_str().expect("id")),
            )
            .json(&json!({"traits": {"email": "ada@example.com"}}))
            .send()
            .await
            .expect("sends"),
        )
        .await;
        assert_eq!(status, StatusCode::CONFLICT);
    }
}

#[tokio::test]
async fn lists_identities_in_pages_and_by_identifier() {
    for app in TestApp::all("identities_list").await {
        let mut ids = Vec::new();
        for n in 0..5 {
            let (status, created) = app
                .create_identity(json!({"traits": {"email": format!("user{n}@example.com")}}))
                .await;
            assert_eq!(status, StatusCode::CREATED);
            ids.push(created["id"].as_str().expect("id").to_owned());
        }
        let mut seen = Vec::new();
        let mut next = Some("/admin/identities?page_size=2".to_owned());
        while let Some(path) = next.take() {
            let response = app
                .admin_request(Method::GET, &path)
                .send()
                .await
                .expect("sends");
            next = response
                .headers()
                .get(header::LINK)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix('<'))
                .and_then(|v| v.split_once(">; rel=\"next\""))
                .map(|(p, _)| p.to_owned());
            let (status, page) = json_of(response).await;
            assert_eq!(status, StatusCode::OK);
            let page = page.as_array().expect("array").clone();
            assert!(page.len() <= 2);
            seen.extend(
                page.iter()
                    .map(|i| i["id"].as_str().expect("id").to_owned()),
            );
        }
        // Keyset order is id order (UUIDv7: creation order; the test clock stands still, so
        // here ids created in the same instant order by their random part).
        let mut expected = ids.clone();
        expected.sort();
        assert_eq!(seen, expected, "{}", app.backend);

        let (status, found) = json_of(
            app.admin_request(
                Method::GET,
                "/admin/identities?credentials_identifier=USER3%40example.com",
            )
            .send()
            .await
            .expect("sends"),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(found.as_array().expect("array").len(), 1);
        assert_eq!(found[0]["id"], ids[3].as_str());

        for bad in ["page_size=0", "page_size=abc", "page_token=xyz"] {
            let (status, _) = json_of(
                app.admin_request(Method::GET, &format!("/admin/identities?{bad}"))
                    .send()
                    .await
                    .expect("sends"),
            )
            .await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        }
    }
}

/// Imported hashes in every supported form, each of `PASSWORD`, built with the real libraries.
fn imported_hashes() -> Vec<(&'static str, String)> {
    let argon2i = argon2::Argon2::new(
        argon2::Algorithm::Argon2i,
        argon2::Version::V0x13,
        argon2::Params::new(8192, 3, 1, None).expect("params"),
    )
    .hash_password_with_salt(PASSWORD.as_bytes(), b"argon2i-salt-016")
    .expect("hashes")
    .to_string();
    let argon2id_weak = argon2::Argon2::default()
        .hash_password_customized(
            PASSWORD.as_bytes(),
            b"argon2id-salt-16",
            None,
            None,
            argon2::Params::new(8192, 1, 1, None).expect("params"),
        )
        .expect("hashes")
        .to_string();
    let bcrypt_parts = bcrypt::hash_with_salt(PASSWORD, 4, *b"bcrypt-salt-0016").expect("hashes");
    let mut django = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<pbkdf2::sha2::Sha256>(
        PASSWORD.as_bytes(),
        b"djangosalt",
        10_000,
        &mut django,
    );
    let pbkdf2_phc = pbkdf2::Pbkdf2::default()
        .hash_password_customized(
            PASSWORD.as_bytes(),
            b"pbkdf2-salt-0016",
            None,
            None,
            pbkdf2::Params::new_with_output_len(5_000, 32).expect("params"),
        )
        .expect("hashes")
        .to_string();
    let mut passlib = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<pbkdf2::sha2::Sha256>(
        PASSWORD.as_bytes(),
        b"passlib-salt",
        29_000,
        &mut passlib,
    );
    let ab64 = |b: &[u8]| STANDARD_NO_PAD.encode(b).replace('+', ".");
    let scrypt = scrypt::Scrypt::new()
        .hash_password_customized(
            PASSWORD.as_bytes(),
            b"scrypt-salt-0016",
            None,
            None,
            scrypt::Params::new(10, 8, 1).expect("params"),
        )
        .expect("hashes")
        .to_string();
    vec![
        ("argon2i", argon2i),
        ("argon2id-weak", argon2id_weak),
        (
            "bcrypt-2a",
            bcrypt_parts.format_for_version(bcrypt::Version::TwoA),
        ),
        (
            "bcrypt-2b",
            bcrypt_parts.format_for_version(bcrypt::Version::TwoB),
        ),
        (
            "bcrypt-2y",
            bcrypt_parts.format_for_version(bcrypt::Version::TwoY),
        ),
        (
            "django",
            format!("pbkdf2_sha256$10000$djangosalt${}", STANDARD.encode(django)),
        ),
        ("pbkdf2-phc", pbkdf2_phc),
        (
            "pbkdf2-passlib",
            format!(
                "$pbkdf2-sha256$29000${}${}",
                ab64(b"passlib-salt"),
                ab64(&passlib)
            ),
        ),
        ("scrypt", scrypt),
    ]
}

#[tokio::test]
async fn imported_hashes_sign_in_and_are_upgraded_to_argon2id() {
    for app in TestApp::all("identities_import").await {
        for (name, hash) in imported_hashes() {
            let email = format!("{name}@import.example");
            let (status, answer) = app
                .create_identity(json!({
                    "traits": {"email": email},
                    "verifiable_addresses": [{"value": email, "via": "email", "verified": true}],
                    "credentials": {"password": {"config": {"hashed_password": hash}}},
                }))
                .await;
            assert_eq!(status, StatusCode::CREATED, "{name}: {answer}");
            assert_eq!(
                answer["verifiable_addresses"][0]["verified"], true,
                "{name}"
            );
            assert_eq!(
                app.stored_scheme(&email).await.1,
                hash,
                "{name}: stored as is"
            );

            assert!(!app.sign_in(&email, "wrong password").await, "{name}");
            assert_eq!(
                app.stored_scheme(&email).await.1,
                hash,
                "{name}: a wrong password changes nothing"
            );

            assert!(
                app.sign_in(&email, PASSWORD).await,
                "{name}: the original password works"
            );
            let (scheme, upgraded) = app.stored_scheme(&email).await;
            assert_eq!(scheme, HashScheme::Argon2, "{name}");
            assert!(
                upgraded.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
                "{name}: {upgraded}"
            );
            assert!(
                app.sign_in(&email, PASSWORD).await,
                "{name}: and still works"
            );
            assert_eq!(
                app.stored_scheme(&email).await.1,
                upgraded,
                "{name}: upgraded once"
            );
        }
    }
}

#[tokio::test]
async fn a_configured_schema_adds_a_required_trait() {
    let dir = std::env::temp_dir().join(format!("gatehouse-schema-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(
        dir.join("employee.json"),
        r#"{"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
            "properties": {
              "email": {"type": "string", "format": "email", "title": "Email",
                        "gatehouse": {"identifier": true, "verifiable": "email", "recovery": "email"}},
              "employee_number": {"type": "string", "title": "Employee number", "pattern": "^E[0-9]{4}$"}
            },
            "required": ["email", "employee_number"], "additionalProperties": false}"#,
    )
    .expect("writes");
    let files = [("employee".to_owned(), dir.join("employee.json"))].into();
    let schemas =
        std::sync::Arc::new(gatehouse::config::load_schemas(&files, None).expect("loads"));
    for app in TestApp::all_with("identities_schema", |config| {
        config.identity.schemas = schemas.clone();
        config.identity.default_schema_id = "employee".to_owned();
    })
    .await
    {
        let (status, answer) = app
            .create_identity(json!({"traits": {"email": "e@corp.example"}}))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let reason = answer["error"]["reason"].as_str().expect("reason");
        assert!(
            reason.contains("traits.employee_number") && reason.contains("required"),
            "{reason}"
        );
        let (status, answer) = app
            .create_identity(
                json!({"traits": {"email": "e@corp.example", "employee_number": "E12"}}),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(answer.to_string().contains("pattern"), "{answer}");
        let (status, created) = app
            .create_identity(
                json!({"traits": {"email": "e@corp.example", "employee_number": "E1234"}}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        assert_eq!(created["schema_id"], "employee");
        // The built-in schema is still there for identities that name it.
        let (status, created) = app
            .create_identity(json!({"schema_id": "default", "traits": {"email": "p@example.com"}}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
    }
}

fn gatehouse(args: &[&str], token: &str) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(args)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("GATEHOUSE_ADMIN_TOKEN", token)
        .output()
        .expect("the binary runs")
}

async fn run_cli(app: &TestApp, args: &[&str]) -> (bool, String, String) {
    let mut full: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
    full.extend(["--endpoint".to_owned(), app.admin.clone()]);
    let token = app.admin_token.clone();
    let output = tokio::task::spawn_blocking(move || {
        let refs: Vec<&str> = full.iter().map(String::as_str).collect();
        gatehouse(&refs, &token)
    })
    .await
    .expect("joins");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn cli_imports_idempotently_and_lists_gets_and_deletes() {
    for app in TestApp::all("identities_cli").await {
        let dir = std::env::temp_dir().join(format!("gatehouse-import-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("people.jsonl");
        let bcrypt = bcrypt::hash_with_salt(PASSWORD, 4, *b"bcrypt-salt-0016")
            .expect("hashes")
            .format_for_version(bcrypt::Version::TwoB);
        let lines = [
            json!({"traits": {"email": "one@example.com"},
                   "credentials": {"password": {"config": {"password": "first password"}}}})
            .to_string(),
            json!({"traits": {"email": "two@example.com"},
                   "credentials": {"password": {"config": {"hashed_password": bcrypt}}}})
            .to_string(),
            String::new(),
            json!({"traits": {"email": "not an email"}}).to_string(),
            "{broken json".to_owned(),
            json!({"traits": {"email": "three@example.com", "first_name": "Three"}}).to_string(),
        ];
        std::fs::write(&file, lines.join("\n")).expect("writes");
        let path = file.to_string_lossy().into_owned();

        let (ok, out, err) = run_cli(&app, &["identities", "import", &path]).await;
        assert!(!ok, "failures make the exit status non-zero");
        assert!(
            out.contains("created 3, skipped 0 (already present), failed 2"),
            "{out}\n{err}"
        );
        assert!(
            out.contains("line 4:") && out.contains("traits.email"),
            "{out}"
        );
        assert!(
            out.contains("line 5:") && out.contains("invalid JSON"),
            "{out}"
        );
        assert!(
            err.contains("2 of the identities could not be imported"),
            "{err}"
        );
        assert!(
            !err.contains('\u{2588}') && !err.contains("identities ("),
            "no bar off a terminal: {err}"
        );

        let (_, out, _) = run_cli(&app, &["identities", "import", &path, "--json"]).await;
        let summary: Value = serde_json::from_str(&out).expect("json summary");
        assert_eq!(summary["created"], 0, "{summary}");
        assert_eq!(
            summary["skipped"], 3,
            "re-running skips what exists: {summary}"
        );
        assert_eq!(summary["failed"][0]["line"], 4);
        assert!(app.sign_in("two@example.com", PASSWORD).await);

        let (ok, out, err) = run_cli(&app, &["identities", "list"]).await;
        assert!(ok, "{err}");
        assert!(
            out.contains("IDENTIFIER") && out.contains("three@example.com"),
            "{out}"
        );
        let (ok, out, _) = run_cli(
            &app,
            &[
                "identities",
                "list",
                "--identifier",
                "one@example.com",
                "--json",
            ],
        )
        .await;
        assert!(ok);
        let listed: Value = serde_json::from_str(&out).expect("json");
        let id = listed[0]["id"].as_str().expect("id").to_owned();
        assert_eq!(listed.as_array().expect("array").len(), 1);

        let (ok, out, _) = run_cli(&app, &["identities", "get", &id, "--json"]).await;
        assert!(ok);
        let got: Value = serde_json::from_str(&out).expect("json");
        assert_eq!(got["traits"]["email"], "one@example.com");

        let (ok, out, err) = run_cli(&app, &["identities", "delete", &id]).await;
        assert!(ok, "{err}");
        assert!(out.contains(&format!("deleted identity {id}")), "{out}");
        let (ok, _, err) = run_cli(&app, &["identities", "get", &id]).await;
        assert!(!ok);
        assert!(
            err.contains("no identity with this id") && err.contains("404"),
            "{err}"
        );
    }
}

#[tokio::test]
async fn identities_of_an_app_are_managed_in_its_tenant_only() {
    for app in TestApp::all("admin_identities_tenants").await {
        let blog = crate::tenants::create_tenant(&app, "Blog").await;
        let call = |method: Method, path: String, body: Option<Value>| {
            let app = &app;
            async move {
                let mut request = app.admin_request(method, &path);
                if let Some(body) = body {
                    request = request.json(&body);
                }
                json_of(request.send().await.expect("sends")).await
            }
        };
        // The same address in the default tenant and in the app: two people.
        let (status, mine) = call(
            Method::POST,
            format!("/admin/identities?tenant_id={blog}"),
            Some(json!({"traits": {"email": "ann@example.com"}})),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{}: {mine}", app.backend);
        assert_eq!(mine["tenant_id"], blog.as_str());
        let (status, theirs) = call(
            Method::POST,
            "/admin/identities".into(),
            Some(json!({"traits": {"email": "ann@example.com"}})),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{theirs}");
        let id = mine["id"].as_str().expect("id");

        // Found, listed, changed and deleted only with its tenant.
        let (status, _) = call(Method::GET, format!("/admin/identities/{id}"), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "not in the default tenant");
        let (status, got) = call(
            Method::GET,
            format!("/admin/identities/{id}?tenant_id={blog}"),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{got}");
        let (_, listed) = call(
            Method::GET,
            format!("/admin/identities?tenant_id={blog}"),
            None,
        )
        .await;
        let ids: Vec<&str> = listed
            .as_array()
            .expect("list")
            .iter()
            .filter_map(|i| i["id"].as_str())
            .collect();
        assert_eq!(ids, vec![id]);
        let deactivate = json!([{"op": "replace", "path": "/state", "value": "inactive"}]);
        let (status, _) = call(
            Method::PATCH,
            format!("/admin/identities/{id}"),
            Some(deactivate.clone()),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, patched) = call(
            Method::PATCH,
            format!("/admin/identities/{id}?tenant_id={blog}"),
            Some(deactivate),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{patched}");
        assert_eq!(patched["state"], "inactive");
        let mut moved = got.clone();
        moved["tenant_id"] = json!(TenantId::DEFAULT.0);
        let (status, _) = call(
            Method::PUT,
            format!("/admin/identities/{id}?tenant_id={blog}"),
            Some(moved),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "no moving between tenants");
        let (status, _) = call(Method::DELETE, format!("/admin/identities/{id}"), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = call(
            Method::DELETE,
            format!("/admin/identities/{id}?tenant_id={blog}"),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, _) = call(
            Method::GET,
            format!("/admin/identities/{}", theirs["id"].as_str().expect("id")),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "the default tenant's Ann stays");

        // Unknown tenants and bad ids.
        let (status, _) = call(
            Method::POST,
            "/admin/identities".into(),
            Some(json!({"traits": {"email": "x@example.com"}, "tenant_id": uuid::Uuid::new_v4()})),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let (status, _) = call(Method::GET, "/admin/identities?tenant_id=nope".into(), None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
}
