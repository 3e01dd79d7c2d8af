//! The `gatehouse` binary: its help, its start-up errors, and the management commands against a
//! running server.

use crate::support::TestApp;
use serde_json::Value;
use std::process::{Command, Output};

fn gatehouse(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_gatehouse"));
    command.args(args).env_clear().env("PATH", "/usr/bin:/bin");
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().expect("the binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn serve_help_documents_every_option_and_its_variable() {
    let output = gatehouse(&["serve", "--help"], &[]);
    assert!(output.status.success());
    let help = stdout(&output);
    for name in [
        "--config",
        "GATEHOUSE_CONFIG",
        "--dev",
        "GATEHOUSE_DATABASE_URL",
        "GATEHOUSE_PUBLIC_ADDR",
        "GATEHOUSE_ADMIN_ADDR",
        "GATEHOUSE_ISSUER",
        "GATEHOUSE_ADMIN_TOKEN",
        "GATEHOUSE_SECRETS_COOKIE",
        "GATEHOUSE_SECRETS_CIPHER",
        "GATEHOUSE_SMTP_URL",
        "GATEHOUSE_LOG",
        "GATEHOUSE_LOG_FORMAT",
    ] {
        assert!(
            help.contains(name),
            "serve --help does not mention {name}:\n{help}"
        );
    }
}

#[test]
fn serve_without_dev_explains_what_is_missing() {
    let db = std::env::temp_dir().join(format!("gatehouse-cli-{}.db", uuid::Uuid::new_v4()));
    let url = format!("sqlite://{}", db.display());
    let output = gatehouse(
        &["serve"],
        &[
            ("GATEHOUSE_DATABASE_URL", &url),
            ("GATEHOUSE_ISSUER", "https://id.example"),
        ],
    );
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("GATEHOUSE_ADMIN_TOKEN"),
        "{}",
        stderr(&output)
    );

    let secret = "s".repeat(32);
    let full = [
        ("GATEHOUSE_DATABASE_URL", url.as_str()),
        ("GATEHOUSE_ADMIN_TOKEN", "admin-token-0123456789"),
        ("GATEHOUSE_SECRETS_COOKIE", secret.as_str()),
        ("GATEHOUSE_SECRETS_CIPHER", secret.as_str()),
        ("GATEHOUSE_PUBLIC_ADDR", "127.0.0.1:0"),
        ("GATEHOUSE_ADMIN_ADDR", "127.0.0.1:0"),
    ];
    let mut plain_http = full.to_vec();
    plain_http.push(("GATEHOUSE_ISSUER", "http://id.example"));
    let output = gatehouse(&["serve"], &plain_http);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("plain HTTP"),
        "{}",
        stderr(&output)
    );

    let mut https = full.to_vec();
    https.push(("GATEHOUSE_ISSUER", "https://id.example"));
    let output = gatehouse(&["serve"], &https);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("gatehouse migrate apply"),
        "{}",
        stderr(&output)
    );
    assert!(
        !stderr(&output).contains(&secret),
        "secrets never reach the output"
    );

    // A migration's status is the last word of its line (names may contain "pending").
    let any_pending = |text: &str| text.lines().any(|l| l.trim_end().ends_with(" pending"));
    let output = gatehouse(&["migrate", "status"], &full);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(any_pending(&stdout(&output)), "{}", stdout(&output));
    let output = gatehouse(&["migrate", "apply"], &full);
    assert!(output.status.success(), "{}", stderr(&output));
    let output = gatehouse(&["migrate", "status"], &full);
    assert!(!any_pending(&stdout(&output)), "{}", stdout(&output));
}

#[tokio::test]
async fn client_commands_manage_clients_over_the_admin_api() {
    for app in TestApp::all("cli").await {
        let env = [("GATEHOUSE_ADMIN_TOKEN", app.admin_token.as_str())];
        let endpoint = app.admin.clone();
        let run = move |args: Vec<String>| {
            let env = env.map(|(k, v)| (k, v.to_owned()));
            let endpoint = endpoint.clone();
            async move {
                tokio::task::spawn_blocking(move || {
                    let mut full = args;
                    full.extend(["--endpoint".to_owned(), endpoint]);
                    let refs: Vec<&str> = full.iter().map(String::as_str).collect();
                    let env: Vec<(&str, &str)> =
                        env.iter().map(|(k, v)| (*k, v.as_str())).collect();
                    gatehouse(&refs, &env)
                })
                .await
                .expect("joins")
            }
        };
        let args = |s: &str| s.split(' ').map(str::to_owned).collect::<Vec<_>>();

        let output = run(args(
            "clients create --id cli-client --name batch --grant-type client_credentials --scope api:read --json",
        ))
        .await;
        assert!(output.status.success(), "{}", stderr(&output));
        let created: Value = serde_json::from_str(&stdout(&output)).expect("json");
        let secret = created["client_secret"]
            .as_str()
            .expect("secret")
            .to_owned();
        app.access_token("cli-client", &secret, &[]).await;

        let output = run(args("clients list")).await;
        assert!(
            stdout(&output).contains("cli-client") && stdout(&output).contains("CLIENT ID"),
            "{}",
            stdout(&output)
        );

        let output = run(args("clients update cli-client --scope api:write --json")).await;
        assert!(output.status.success(), "{}", stderr(&output));
        let updated: Value = serde_json::from_str(&stdout(&output)).expect("json");
        assert_eq!(updated["scope"], "api:write");
        assert_eq!(
            updated["client_name"], "batch",
            "fields not named keep their values"
        );

        let output = run(args("clients deactivate cli-client --json")).await;
        assert!(output.status.success(), "{}", stderr(&output));
        assert_eq!(
            app.token("cli-client", &secret, &[]).await.status(),
            reqwest::StatusCode::UNAUTHORIZED
        );

        let output = run(args("clients show nope")).await;
        assert!(!output.status.success());
        assert!(
            stderr(&output).contains("no client with this client_id"),
            "{}",
            stderr(&output)
        );

        let output = run(args("clients create --grant-type implicit")).await;
        assert!(!output.status.success());
        assert!(
            stderr(&output).contains("grant_types"),
            "{}",
            stderr(&output)
        );

        let output = run(args("clients delete cli-client")).await;
        assert!(output.status.success(), "{}", stderr(&output));

        let output = run(args("keys list")).await;
        assert!(
            stdout(&output).contains("ES256") && stdout(&output).contains("current"),
            "{}",
            stdout(&output)
        );

        let admin = app.admin.clone();
        let output = tokio::task::spawn_blocking(move || {
            gatehouse(
                &["clients", "list", "--endpoint", &admin],
                &[("GATEHOUSE_ADMIN_TOKEN", "wrong")],
            )
        })
        .await
        .expect("joins");
        assert!(!output.status.success());
        assert!(stderr(&output).contains("401"), "{}", stderr(&output));
    }
}

#[tokio::test]
async fn serve_stops_cleanly_on_sigterm() {
    let dir = std::env::temp_dir().join(format!("gatehouse-sigterm-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("dir");
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(["serve", "--dev"])
        .env_clear()
        .env(
            "GATEHOUSE_DATABASE_URL",
            format!("sqlite://{}", dir.join("g.db").display()),
        )
        .env("GATEHOUSE_PUBLIC_ADDR", format!("127.0.0.1:{port}"))
        .env("GATEHOUSE_ADMIN_ADDR", "127.0.0.1:0")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("starts");
    let ready = format!("http://127.0.0.1:{port}/health/ready");
    let mut up = false;
    for _ in 0..200 {
        if reqwest::get(&ready)
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            up = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(up, "the server never became ready");
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let output = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .expect("joins")
        .expect("waits");
    let log = stderr(&output);
    assert!(
        output.status.success(),
        "exit status {:?}: {log}",
        output.status
    );
    assert!(log.contains("shutting down"), "{log}");
    assert!(
        reqwest::get(&ready).await.is_err(),
        "the listener is closed"
    );
}

fn free_port() -> u16 {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("binds");
    probe.local_addr().expect("addr").port()
}

#[tokio::test]
async fn gateway_reloads_rules_on_sighup_and_survives_it() {
    let dir = std::env::temp_dir().join(format!("gatehouse-sighup-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("dir");
    let rules = dir.join("rules.json");
    let rule = |path: &str| {
        format!(
            r#"[{{"id": "r", "match": {{"url": "http://<**>/{path}", "methods": ["GET"]}},
                "upstream": {{"url": "http://127.0.0.1:9"}},
                "authenticators": [{{"handler": "anonymous"}}],
                "authorizer": {{"handler": "allow"}}, "mutators": [{{"handler": "noop"}}]}}]"#
        )
    };
    std::fs::write(&rules, rule("a")).expect("writes");
    let api = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(["gateway", "--rules"])
        .arg(&rules)
        .args([
            "--proxy-addr",
            "127.0.0.1:0",
            "--api-addr",
            &format!("127.0.0.1:{api}"),
        ])
        .env_clear()
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("starts");
    let base = format!("http://127.0.0.1:{api}");
    let status = |path: &'static str| {
        let url = format!("{base}{path}");
        async move {
            reqwest::get(url)
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0)
        }
    };
    let mut up = false;
    for _ in 0..200 {
        if status("/health/ready").await == 200 {
            up = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(up, "the gateway never became ready");
    let hup = || {
        let sent = Command::new("kill")
            .args(["-HUP", &child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success());
    };
    // SIGHUP right after start-up reloads instead of ending the process.
    hup();
    assert_eq!(status("/decisions/a").await, 200);
    assert_eq!(status("/decisions/b").await, 404);
    std::fs::write(&rules, rule("b")).expect("writes");
    hup();
    let mut switched = false;
    for _ in 0..100 {
        if status("/decisions/b").await == 200 {
            switched = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(switched, "the new rules never took effect");
    assert_eq!(status("/decisions/a").await, 404);
    let stopped = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(stopped.success());
    let output = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .expect("joins")
        .expect("waits");
    assert!(output.status.success(), "{}", stderr(&output));
}

#[tokio::test]
async fn bff_runs_from_its_config_file_and_stops_on_sigterm() {
    let app = TestApp::sqlite().await;
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let client = app
        .create_client(serde_json::json!({
            "client_name": "SPA",
            "redirect_uris": [format!("{url}/signin-oidc")],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "scope": "openid email offline_access",
            "skip_consent": true,
        }))
        .await;
    let dir = std::env::temp_dir().join(format!("gatehouse-bff-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("dir");
    let config = dir.join("bff.toml");
    std::fs::write(
        &config,
        format!(
            r#"
public_url = "{url}"
database_url = "sqlite://{db}"
[oidc]
authority = "{issuer}"
client_id = "{id}"
scopes = ["openid", "email", "offline_access"]
[[routes]]
path = "/api/{{**rest}}"
upstream = "http://127.0.0.1:9"
"#,
            db = dir.join("bff.db").display(),
            issuer = app.issuer,
            id = client["client_id"].as_str().expect("id"),
        ),
    )
    .expect("writes");
    let child = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(["bff", "--config"])
        .arg(&config)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .env_clear()
        .env("GATEHOUSE_SECRETS_CIPHER", "c".repeat(40))
        // The client secret from the environment, not the file.
        .env(
            "GATEHOUSE_BFF_CLIENT_SECRET",
            client["client_secret"].as_str().expect("secret"),
        )
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("starts");
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let mut user = None;
    for _ in 0..200 {
        if let Ok(answer) = http.get(format!("{url}/bff/user")).send().await {
            user = Some(answer.status());
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(user, Some(reqwest::StatusCode::UNAUTHORIZED), "signed out");
    let login = http
        .get(format!("{url}/bff/login"))
        .send()
        .await
        .expect("sends");
    assert_eq!(login.status(), reqwest::StatusCode::SEE_OTHER);
    let to = login.headers()["location"].to_str().expect("ascii");
    assert!(
        to.starts_with(&format!("{}/oauth2/auth?", app.public)),
        "{to}"
    );
    let stopped = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(stopped.success());
    let output = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .expect("joins")
        .expect("waits");
    assert!(output.status.success(), "{}", stderr(&output));
    let log = stderr(&output);
    assert!(
        !log.contains(&"c".repeat(40)),
        "the cipher secret is never logged"
    );
    assert!(
        !log.contains(client["client_secret"].as_str().expect("secret")),
        "nor the client secret"
    );
}

#[test]
fn bff_refuses_a_short_cipher_secret() {
    let dir = std::env::temp_dir().join(format!("gatehouse-bff-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("dir");
    let config = dir.join("bff.toml");
    std::fs::write(
        &config,
        "public_url = \"http://127.0.0.1:1\"\n[oidc]\nauthority = \"http://127.0.0.1:9\"\nclient_id = \"spa\"\n",
    )
    .expect("writes");
    let output = gatehouse(
        &["bff", "--config", &config.display().to_string()],
        &[("GATEHOUSE_SECRETS_CIPHER", "short")],
    );
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("at least 32 characters"),
        "{}",
        stderr(&output)
    );
}
