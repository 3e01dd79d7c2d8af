//! `gatehouse gateway` against a real upstream and a real Gatehouse, both started in the test:
//! identity headers from real tokens, spoofing, 401 / 403 / 404, introspection cache and
//! revocation, cookie sessions, `id_token`, the decision API, reloads, streaming, upgrades,
//! upstream failures, and `https` upstreams.

use crate::support::TestApp;
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use gatehouse::gateway::{RunningGateway, start};
use gatehouse::gateway_config::GatewayConfig;
use gatehouse_domain::clock::SystemClock;
use gatehouse_verify::{Validator, ValidatorConfig};
use http_body_util::BodyExt;
use reqwest::Method;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const AUDIENCE: &str = "https://api.example";
const DEFAULT_TENANT: &str = "00000000-0000-0000-0000-000000000001";

async fn serve(router: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        axum::serve(listener, router).await.expect("test server");
    });
    addr
}

/// Echoes what it received as JSON; `/slow` waits, `/big` answers 5 MB, `/ws` upgrades and
/// echoes bytes.
async fn echo(mut request: Request) -> Response {
    let path = request.uri().path().to_owned();
    if path.ends_with("/slow") {
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
    if path.ends_with("/big") {
        return vec![b'x'; 5_000_000].into_response();
    }
    if path.ends_with("/ws") {
        let upgrade = hyper::upgrade::on(&mut request);
        tokio::spawn(async move {
            if let Ok(upgraded) = upgrade.await {
                let mut io = hyper_util::rt::TokioIo::new(upgraded);
                let mut buf = [0u8; 4];
                if io.read_exact(&mut buf).await.is_ok() {
                    let _ = io.write_all(&buf).await;
                }
            }
        });
        return Response::builder()
            .status(StatusCode::SWITCHING_PROTOCOLS)
            .header("connection", "upgrade")
            .header("upgrade", "echo")
            .body(Body::empty())
            .expect("response");
    }
    let headers: serde_json::Map<String, Value> = request
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                Value::String(v.to_str().unwrap_or("<binary>").to_owned()),
            )
        })
        .collect();
    let method = request.method().to_string();
    let query = request.uri().query().map(str::to_owned);
    let mut body = request.into_body();
    let mut len = 0usize;
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.expect("body frame").into_data() {
            len += data.len();
        }
    }
    axum::Json(json!({
        "method": method, "path": path, "query": query, "headers": headers, "body_len": len,
    }))
    .into_response()
}

/// A Kratos-shaped `/sessions/whoami`: cookie `gatehouse_session=good` or `X-Session-Token: good`.
async fn whoami(State(calls): State<Arc<AtomicUsize>>, headers: HeaderMap) -> Response {
    calls.fetch_add(1, Ordering::SeqCst);
    let cookie = headers
        .get("cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let token = headers.get("x-session-token").and_then(|v| v.to_str().ok());
    if cookie.contains("gatehouse_session=good") || token == Some("good") {
        axum::Json(json!({
            "id": "session-1", "active": true, "authenticator_assurance_level": "aal1",
            "identity": {"id": "identity-1", "tenant_id": "tenant-9", "traits": {"email": "ann@example.com"}},
        }))
        .into_response()
    } else {
        (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"error": {"code": 401}})),
        )
            .into_response()
    }
}

struct Fixture {
    app: TestApp,
    gateway: RunningGateway,
    proxy: String,
    api: String,
    http: reqwest::Client,
    rules: PathBuf,
    whoami_calls: Arc<AtomicUsize>,
    client_id: String,
    client_secret: String,
}

fn rules_yaml(
    app: &TestApp,
    upstream: SocketAddr,
    whoami: SocketAddr,
    client: (&str, &str),
) -> String {
    let jwt = format!(
        r#"handler: jwt
      config:
        jwks_urls: ["{public}/.well-known/jwks.json"]
        trusted_issuers: ["{issuer}"]
        target_audience: ["{AUDIENCE}"]"#,
        public = app.public,
        issuer = app.issuer,
    );
    let identity_headers = r#"- handler: header
      config:
        headers:
          X-User-ID: "{{ subject }}"
          X-Tenant-ID: "{{ claims.tenant_id }}"
          X-User-Email: "{{ claims.email }}""#;
    format!(
        r#"
- id: api
  match: {{url: "http://127.0.0.1:<*>/api/<**>", methods: [GET, POST]}}
  upstream: {{url: "http://{upstream}", strip_path: /api}}
  authenticators:
    - {jwt}
  authorizer: {{handler: allow}}
  mutators:
    {identity_headers}
- id: write
  match: {{url: "http://127.0.0.1:<*>/write/<**>", methods: [POST]}}
  upstream: {{url: "http://{upstream}"}}
  authenticators:
    - {jwt}
  authorizer: {{handler: scopes, config: {{required: ["api:write"]}}}}
  mutators:
    - handler: header
      config: {{headers: {{X-User-ID: "{{{{ subject }}}}"}}}}
- id: public
  match: {{url: "http://127.0.0.1:<*>/public/<**>"}}
  upstream: {{url: "http://{upstream}"}}
  authenticators:
    - {jwt}
    - handler: anonymous
  authorizer: {{handler: allow}}
  mutators:
    - handler: header
      config: {{headers: {{X-User-ID: "{{{{ subject }}}}"}}}}
- id: down
  match: {{url: "http://127.0.0.1:<*>/down/<**>"}}
  upstream: {{url: "http://127.0.0.1:1"}}
  authenticators: [{{handler: anonymous}}]
  authorizer: {{handler: allow}}
- id: introspected
  match: {{url: "http://127.0.0.1:<*>/introspected/<**>"}}
  upstream: {{url: "http://{upstream}"}}
  authenticators:
    - handler: oauth2_introspection
      config:
        introspection_url: "{public}/oauth2/introspect"
        client_id: "{id}"
        client_secret: "{secret}"
        cache: {{enabled: true, ttl: 2s}}
  authorizer: {{handler: allow}}
  mutators:
    {identity_headers}
- id: session
  match: {{url: "http://127.0.0.1:<*>/session/<**>"}}
  upstream: {{url: "http://{upstream}"}}
  authenticators:
    - handler: cookie_session
      config: {{check_session_url: "http://{whoami}/sessions/whoami"}}
  authorizer: {{handler: allow}}
  mutators:
    {identity_headers}
  errors:
    - handler: redirect
      config: {{to: "http://login.test/ui/login"}}
- id: gatehouse-session
  match: {{url: "http://127.0.0.1:<*>/account/<**>"}}
  upstream: {{url: "http://{upstream}"}}
  authenticators:
    - handler: cookie_session
      config: {{check_session_url: "{public}/sessions/whoami", only: [gatehouse_session]}}
  authorizer: {{handler: allow}}
  mutators:
    {identity_headers}
- id: tenant
  match: {{url: "http://127.0.0.1:<*>/tenants/<**>"}}
  upstream: {{url: "http://{upstream}"}}
  authenticators:
    - {jwt}
  authorizer:
    handler: claims
    config: {{require: [{{claim: tenant_id, equals_path_segment: 1}}]}}
- id: signed
  match: {{url: "http://127.0.0.1:<*>/signed/<**>"}}
  upstream: {{url: "http://{upstream}"}}
  authenticators:
    - {jwt}
  authorizer: {{handler: allow}}
  mutators:
    - handler: id_token
      config: {{issuer_url: "http://gateway.test", audience: [upstream], ttl: 1m}}
"#,
        public = app.public,
        id = client.0,
        secret = client.1,
    )
}

impl Fixture {
    async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    async fn start_with(configure: impl FnOnce(&mut GatewayConfig)) -> Self {
        let app = TestApp::sqlite().await;
        let (client_id, client_secret) = app.machine_client().await;
        let upstream = serve(Router::new().fallback(echo)).await;
        let whoami_calls = Arc::new(AtomicUsize::new(0));
        let whoami = serve(
            Router::new()
                .route("/sessions/whoami", get(whoami))
                .with_state(whoami_calls.clone()),
        )
        .await;
        let dir = std::env::temp_dir().join(format!("gatehouse-gw-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let rules = dir.join("rules.yaml");
        std::fs::write(
            &rules,
            rules_yaml(&app, upstream, whoami, (&client_id, &client_secret)),
        )
        .expect("writes rules");
        let mut config = GatewayConfig::for_tests(&rules);
        configure(&mut config);
        let gateway = start(config, Arc::new(SystemClock))
            .await
            .expect("gateway starts");
        Self {
            proxy: format!("http://{}", gateway.proxy_addr),
            api: format!("http://{}", gateway.api_addr),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            app,
            gateway,
            rules,
            whoami_calls,
            client_id,
            client_secret,
        }
    }

    async fn token(&self, scope: &str) -> String {
        self.app
            .access_token(
                &self.client_id,
                &self.client_secret,
                &[("scope", scope), ("audience", AUDIENCE)],
            )
            .await
    }

    fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.get(format!("{}{path}", self.proxy))
    }
}

async fn json_of(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Replaces the rules file atomically, as deployment tools do.
fn write_rules(path: &std::path::Path, content: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, content).expect("writes rules");
    std::fs::rename(&tmp, path).expect("renames rules");
}

/// Polls `check` until it is true or `within` has passed; returns how long it took.
async fn eventually<F, Fut>(within: Duration, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    loop {
        if check().await {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < within,
            "condition not met within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test]
async fn forwards_identity_headers_from_a_gatehouse_jwt() {
    let f = Fixture::start().await;
    let token = f.token("api:read").await;
    let (status, body) = json_of(
        f.get("/api/hello?x=1")
            .bearer_auth(&token)
            .header("X-User-Email", "spoofed@example.com")
            .send()
            .await
            .expect("sends"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let headers = &body["headers"];
    assert_eq!(headers["x-user-id"], f.client_id.as_str());
    assert_eq!(headers["x-tenant-id"], DEFAULT_TENANT);
    // The token has no email: the header is not sent, and the client's own value is gone.
    assert!(headers.get("x-user-email").is_none(), "{headers}");
    // strip_path, the query as sent, forwarding headers.
    assert_eq!(body["path"], "/hello");
    assert_eq!(body["query"], "x=1");
    assert_eq!(headers["x-forwarded-for"], "127.0.0.1");
    assert_eq!(headers["x-forwarded-proto"], "http");
    assert_eq!(
        headers["x-forwarded-host"],
        f.gateway.proxy_addr.to_string()
    );
}

#[tokio::test]
async fn refuses_requests_without_or_with_a_bad_token() {
    let f = Fixture::start().await;
    let (status, body) = json_of(f.get("/api/hello").send().await.expect("sends")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], 401, "{body}");
    assert_eq!(body["error"]["id"], "unauthorized");
    let response = f
        .get("/api/hello")
        .bearer_auth("not.a.jwt")
        .send()
        .await
        .expect("sends");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn refuses_a_token_without_the_required_scope() {
    let f = Fixture::start().await;
    let read_only = f.token("api:read").await;
    let url = format!("{}/write/things", f.proxy);
    let (status, body) = json_of(
        f.http
            .post(&url)
            .bearer_auth(&read_only)
            .send()
            .await
            .expect("sends"),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["id"], "forbidden");
    let writer = f.token("api:read api:write").await;
    let response = f
        .http
        .post(&url)
        .bearer_auth(&writer)
        .send()
        .await
        .expect("sends");
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn strips_spoofed_identity_headers_even_for_anonymous_callers() {
    let f = Fixture::start().await;
    let (status, body) = json_of(
        f.get("/public/page")
            .header("X-User-ID", "admin")
            .header("X-Tenant-ID", "other-tenant")
            .send()
            .await
            .expect("sends"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["headers"]["x-user-id"], "anonymous");
    // This rule never sets X-Tenant-ID, but another rule does: it is removed all the same.
    assert!(body["headers"].get("x-tenant-id").is_none(), "{body}");
}

#[tokio::test]
async fn a_bad_token_is_refused_rather_than_treated_as_anonymous() {
    let f = Fixture::start().await;
    let response = f
        .get("/public/page")
        .bearer_auth("forged.token.value")
        .send()
        .await
        .expect("sends");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let token = f.token("api:read").await;
    let (status, body) = json_of(
        f.get("/public/page")
            .bearer_auth(&token)
            .send()
            .await
            .expect("sends"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["headers"]["x-user-id"], f.client_id.as_str());
}

#[tokio::test]
async fn answers_404_when_no_rule_matches() {
    let f = Fixture::start().await;
    let (status, body) = json_of(f.get("/nowhere").send().await.expect("sends")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["id"], "no_matching_rule");
    // A method the rule does not list does not match either.
    let response = f
        .http
        .delete(format!("{}/api/x", f.proxy))
        .send()
        .await
        .expect("sends");
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn authorizes_claims_against_a_path_segment() {
    let f = Fixture::start().await;
    let token = f.token("api:read").await;
    let ok = f
        .get(&format!("/tenants/{DEFAULT_TENANT}/users"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("sends");
    assert_eq!(ok.status(), StatusCode::OK);
    let other = f
        .get("/tenants/another-tenant/users")
        .bearer_auth(&token)
        .send()
        .await
        .expect("sends");
    assert_eq!(other.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn introspection_cache_honours_revocation_within_its_ttl() {
    let f = Fixture::start().await;
    let token = f.token("api:read").await;
    let get = || f.get("/introspected/x").bearer_auth(&token).send();
    let get = &get;
    let (status, body) = json_of(get().await.expect("sends")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["headers"]["x-user-id"], f.client_id.as_str());
    assert_eq!(body["headers"]["x-tenant-id"], DEFAULT_TENANT);
    let revoked = f
        .app
        .public_request(Method::POST, "/oauth2/revoke")
        .basic_auth(&f.client_id, Some(&f.client_secret))
        .form(&[("token", token.as_str())])
        .send()
        .await
        .expect("sends");
    assert_eq!(revoked.status(), StatusCode::OK);
    assert!(
        !f.app
            .introspect(&f.client_id, &f.client_secret, &token)
            .await["active"]
            .as_bool()
            .unwrap_or(true)
    );
    // Still served from the cache right after the revocation…
    assert_eq!(get().await.expect("sends").status(), StatusCode::OK);
    // …and refused once the 2 s cache entry has expired.
    let took = eventually(Duration::from_secs(5), move || async move {
        get().await.expect("sends").status() == StatusCode::UNAUTHORIZED
    })
    .await;
    assert!(took <= Duration::from_secs(3), "took {took:?}");
}

#[tokio::test]
async fn cookie_sessions_are_checked_against_whoami_and_cached() {
    let f = Fixture::start().await;
    for _ in 0..2 {
        let (status, body) = json_of(
            f.get("/session/profile")
                .header("Cookie", "theme=dark; gatehouse_session=good")
                .send()
                .await
                .expect("sends"),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["headers"]["x-user-id"], "identity-1");
        assert_eq!(body["headers"]["x-tenant-id"], "tenant-9");
        assert_eq!(body["headers"]["x-user-email"], "ann@example.com");
    }
    assert_eq!(
        f.whoami_calls.load(Ordering::SeqCst),
        1,
        "second call is cached"
    );
    let token = f
        .get("/session/profile")
        .header("X-Session-Token", "good")
        .send()
        .await
        .expect("sends");
    assert_eq!(token.status(), StatusCode::OK);
    // A bad session: JSON 401 for APIs, a redirect to the login page for browsers.
    let api = f
        .get("/session/profile")
        .header("Cookie", "gatehouse_session=bad")
        .send()
        .await
        .expect("sends");
    assert_eq!(api.status(), StatusCode::UNAUTHORIZED);
    let browser = f
        .get("/session/profile?tab=1")
        .header("Accept", "text/html,application/xhtml+xml")
        .send()
        .await
        .expect("sends");
    assert_eq!(browser.status(), StatusCode::FOUND);
    let location = browser.headers()["location"].to_str().expect("ascii");
    let return_to = format!("http://{}/session/profile?tab=1", f.gateway.proxy_addr);
    let expected =
        url::Url::parse_with_params("http://login.test/ui/login", &[("return_to", &return_to)])
            .expect("url");
    assert_eq!(location, expected.as_str());
}

#[tokio::test]
async fn cookie_sessions_of_gatehouse_itself_reach_the_upstream_as_identity_headers() {
    let f = Fixture::start().await;
    let token = crate::selfservice::register(
        &f.app,
        "gate@example.com",
        "correct horse battery staple 93",
    )
    .await;
    let (_, me) = json_of(
        f.http
            .get(format!("{}/sessions/whoami", f.app.public))
            .header("X-Session-Token", &token)
            .send()
            .await
            .expect("sends"),
    )
    .await;
    let identity = me["identity"]["id"]
        .as_str()
        .expect("identity id")
        .to_owned();
    for request in [
        f.get("/account/x")
            .header("Cookie", format!("gatehouse_session={token}")),
        f.get("/account/x").header("X-Session-Token", &token),
    ] {
        let (status, body) = json_of(request.send().await.expect("sends")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["headers"]["x-user-id"], identity.as_str());
        assert_eq!(body["headers"]["x-user-email"], "gate@example.com");
        assert_eq!(body["headers"]["x-tenant-id"], DEFAULT_TENANT);
    }
    let refused = f
        .get("/account/x")
        .header("Cookie", "gatehouse_session=not-a-session")
        .send()
        .await
        .expect("sends");
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn id_token_mutator_signs_a_jwt_the_gateway_jwks_verifies() {
    let f = Fixture::start().await;
    let token = f.token("api:read").await;
    let (status, body) = json_of(
        f.get("/signed/x")
            .bearer_auth(&token)
            .send()
            .await
            .expect("sends"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let authorization = body["headers"]["authorization"].as_str().expect("set");
    let signed = authorization.strip_prefix("Bearer ").expect("bearer");
    assert_ne!(signed, token, "the caller's token is replaced");
    let jwks = f
        .http
        .get(format!("{}/.well-known/jwks.json", f.api))
        .send()
        .await
        .expect("sends")
        .text()
        .await
        .expect("jwks");
    let validator = Validator::new(
        ValidatorConfig::new("http://gateway.test")
            .audience("upstream")
            .required_typ(Some("JWT")),
    )
    .with_jwks_json(&jwks)
    .expect("valid JWKS");
    let claims = validator.validate(signed).expect("verifies");
    assert_eq!(claims.subject(), f.client_id);
    assert_eq!(claims.str("tenant_id"), Some(DEFAULT_TENANT));
}

#[tokio::test]
async fn decision_api_answers_with_the_mutated_headers() {
    let f = Fixture::start().await;
    let token = f.token("api:read").await;
    // As nginx auth_request sends it: the original request in X-Forwarded-* headers.
    let response = f
        .http
        .get(format!("{}/decisions", f.api))
        .bearer_auth(&token)
        .header("X-Forwarded-Method", "GET")
        .header("X-Forwarded-Proto", "http")
        .header("X-Forwarded-Host", "127.0.0.1:4455")
        .header("X-Forwarded-Uri", "/api/hello?x=1")
        .send()
        .await
        .expect("sends");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["x-user-id"], f.client_id.as_str());
    assert_eq!(response.headers()["x-tenant-id"], DEFAULT_TENANT);
    // The path after /decisions, the call's own method and Host.
    let response = f
        .http
        .get(format!("{}/decisions/api/hello", f.api))
        .bearer_auth(&token)
        .send()
        .await
        .expect("sends");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["x-user-id"], f.client_id.as_str());
    let response = f
        .http
        .get(format!("{}/decisions/api/hello", f.api))
        .send()
        .await
        .expect("sends");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let response = f
        .http
        .post(format!("{}/decisions/write/x", f.api))
        .bearer_auth(&token)
        .send()
        .await
        .expect("sends");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn reloads_rules_when_the_file_changes_and_keeps_them_when_it_is_invalid() {
    let f = &Fixture::start().await;
    // JSON this time (the file keeps its .yaml name: JSON is YAML too).
    let anonymous = |authorizer: &str| {
        serde_json::to_string_pretty(&json!([{
            "id": "only", "match": {"url": "http://127.0.0.1:<*>/public/<**>"},
            "upstream": {"url": "http://127.0.0.1:1"},
            "authenticators": [{"handler": "anonymous"}],
            "authorizer": {"handler": authorizer},
        }]))
        .expect("serializes")
    };
    assert_eq!(
        f.get("/public/x").send().await.expect("sends").status(),
        StatusCode::OK
    );
    write_rules(&f.rules, &anonymous("deny"));
    eventually(Duration::from_secs(5), move || async move {
        f.get("/public/x").send().await.expect("sends").status() == StatusCode::FORBIDDEN
    })
    .await;
    // Rules of the old file are gone.
    assert_eq!(
        f.get("/api/x").send().await.expect("sends").status(),
        StatusCode::NOT_FOUND
    );
    write_rules(
        &f.rules,
        "- id: broken\n  match: {url: \"http://h/<.*>\"}\n",
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        f.get("/public/x").send().await.expect("sends").status(),
        StatusCode::FORBIDDEN,
        "an invalid file keeps the rules in force"
    );
    write_rules(&f.rules, &anonymous("allow"));
    eventually(Duration::from_secs(5), move || async move {
        f.get("/public/x").send().await.expect("sends").status() == StatusCode::BAD_GATEWAY
    })
    .await;
}

#[tokio::test]
async fn streams_large_bodies_both_ways() {
    let f = Fixture::start().await;
    let upload = vec![7u8; 5_000_000];
    let (status, body) = json_of(
        f.http
            .post(format!("{}/public/upload", f.proxy))
            .body(upload)
            .send()
            .await
            .expect("sends"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["body_len"], 5_000_000);
    let download = f.get("/public/big").send().await.expect("sends");
    assert_eq!(download.status(), StatusCode::OK);
    assert_eq!(download.bytes().await.expect("body").len(), 5_000_000);
}

#[tokio::test]
async fn passes_upgrades_through() {
    let f = Fixture::start().await;
    let mut stream = tokio::net::TcpStream::connect(f.gateway.proxy_addr)
        .await
        .expect("connects");
    let request = format!(
        "GET /public/ws HTTP/1.1\r\nHost: {}\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n",
        f.gateway.proxy_addr
    );
    stream.write_all(request.as_bytes()).await.expect("writes");
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).await.expect("reads head");
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head);
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    stream.write_all(b"ping").await.expect("writes");
    let mut echoed = [0u8; 4];
    stream.read_exact(&mut echoed).await.expect("reads echo");
    assert_eq!(&echoed, b"ping");
}

#[tokio::test]
async fn answers_502_when_the_upstream_is_down_and_504_when_it_is_slow() {
    let f = Fixture::start_with(|c| c.upstream_timeout = Duration::from_millis(300)).await;
    let (status, body) = json_of(f.get("/down/x").send().await.expect("sends")).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert_eq!(body["error"]["id"], "bad_gateway");
    let slow = f.get("/public/slow").send().await.expect("sends");
    assert_eq!(slow.status(), StatusCode::GATEWAY_TIMEOUT);
    // Per-rule metrics on the API listener.
    let metrics = f
        .http
        .get(format!("{}/metrics", f.api))
        .send()
        .await
        .expect("sends")
        .text()
        .await
        .expect("text");
    assert!(metrics.contains(r#"route="down""#), "{metrics}");
    assert!(metrics.contains(r#"status="504""#), "{metrics}");
}

/// A CA made for one test and a server certificate it signs for `localhost` only: the CA's PEM
/// and the TLS configuration of a server presenting that certificate.
fn test_ca() -> (String, Arc<rustls::ServerConfig>) {
    let ca_key = rcgen::KeyPair::generate().expect("CA key");
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "Gatehouse test CA");
    let ca_cert = ca.self_signed(&ca_key).expect("CA certificate");
    let issuer = rcgen::Issuer::new(ca, ca_key);
    let server_key = rcgen::KeyPair::generate().expect("server key");
    let server_cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
        .expect("server params")
        .signed_by(&server_key, &issuer)
        .expect("server certificate");
    let tls = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("protocol versions")
    .with_no_client_auth()
    .with_single_cert(
        vec![server_cert.der().clone()],
        rustls::pki_types::PrivatePkcs8KeyDer::from(server_key.serialize_der()).into(),
    )
    .expect("server TLS configuration");
    (ca_cert.pem(), Arc::new(tls))
}

/// Serves `router` over TLS (HTTP/1.1) on a random port of 127.0.0.1.
async fn serve_tls(router: Router, tls: Arc<rustls::ServerConfig>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let addr = listener.local_addr().expect("addr");
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let service = hyper_util::service::TowerToHyperService::new(router.clone());
            tokio::spawn(async move {
                // A client that refuses the certificate ends the handshake: nothing to serve.
                let Ok(stream) = acceptor.accept(tcp).await else {
                    return;
                };
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn forwards_to_https_upstreams_it_trusts_and_answers_502_otherwise() {
    let (ca_pem, trusted_tls) = test_ca();
    let (_, other_tls) = test_ca();
    let trusted = serve_tls(Router::new().fallback(echo), trusted_tls).await;
    let untrusted = serve_tls(Router::new().fallback(echo), other_tls).await;
    let ca_file = std::env::temp_dir().join(format!("gatehouse-ca-{}.pem", uuid::Uuid::new_v4()));
    std::fs::write(&ca_file, &ca_pem).expect("writes the CA");
    let (good, bad) = (trusted.port(), untrusted.port());
    let tls_rules = format!(
        r#"
- id: tls
  match: {{url: "http://127.0.0.1:<*>/tls/<**>"}}
  upstream: {{url: "https://localhost:{good}", strip_path: /tls}}
  authenticators: [{{handler: anonymous}}]
  authorizer: {{handler: allow}}
  mutators:
    - handler: header
      config: {{headers: {{X-User-ID: "{{{{ subject }}}}"}}}}
- id: untrusted
  match: {{url: "http://127.0.0.1:<*>/untrusted/<**>"}}
  upstream: {{url: "https://localhost:{bad}"}}
  authenticators: [{{handler: anonymous}}]
  authorizer: {{handler: allow}}
- id: wrong-name
  match: {{url: "http://127.0.0.1:<*>/wrong-name/<**>"}}
  upstream: {{url: "https://127.0.0.1:{good}"}}
  authenticators: [{{handler: anonymous}}]
  authorizer: {{handler: allow}}
"#
    );
    let f = Fixture::start_with(|c| {
        c.upstream_ca = Some(ca_file.clone());
        let mut rules = std::fs::read_to_string(&c.rules_path).expect("reads rules");
        rules.push_str(&tls_rules);
        std::fs::write(&c.rules_path, rules).expect("writes rules");
    })
    .await;

    // Twice: the second request reuses the pooled TLS connection.
    for _ in 0..2 {
        let (status, body) = json_of(
            f.get("/tls/hello?x=1")
                .header("X-Request-Note", "over tls")
                .header("X-User-ID", "spoofed")
                .send()
                .await
                .expect("sends"),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["path"], "/hello");
        assert_eq!(body["query"], "x=1");
        let headers = &body["headers"];
        assert_eq!(headers["x-request-note"], "over tls");
        assert_eq!(headers["x-user-id"], "anonymous");
        assert_eq!(headers["host"], format!("localhost:{good}"));
        assert_eq!(headers["x-forwarded-for"], "127.0.0.1");
    }

    // A certificate from a CA the gateway does not trust, and a trusted certificate that does
    // not name the upstream's host: both refused.
    for path in ["/untrusted/x", "/wrong-name/x"] {
        let (status, body) = json_of(f.get(path).send().await.expect("sends")).await;
        assert_eq!(status, StatusCode::BAD_GATEWAY, "{path}: {body}");
        assert_eq!(body["error"]["id"], "bad_gateway");
    }
    let _ = std::fs::remove_file(&ca_file);
}

#[tokio::test]
async fn reuses_an_upstream_connection_once_its_response_is_read() {
    // An upstream that answers with the client port of the connection the request came on.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let upstream = listener.local_addr().expect("addr");
    let router = Router::new().fallback(
        |axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<SocketAddr>| async move {
            peer.port().to_string()
        },
    );
    tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .expect("test server");
    });
    let rule = format!(
        r#"
- id: ports
  match: {{url: "http://127.0.0.1:<*>/ports/<**>"}}
  upstream: {{url: "http://{upstream}"}}
  authenticators: [{{handler: anonymous}}]
  authorizer: {{handler: allow}}
"#
    );
    let f = Fixture::start_with(|c| {
        let mut rules = std::fs::read_to_string(&c.rules_path).expect("reads rules");
        rules.push_str(&rule);
        std::fs::write(&c.rules_path, rules).expect("writes rules");
    })
    .await;
    let mut ports = Vec::new();
    for _ in 0..3 {
        let response = f.get("/ports/x").send().await.expect("sends");
        assert_eq!(response.status(), StatusCode::OK);
        ports.push(response.text().await.expect("body"));
    }
    assert_eq!(ports[0], ports[1], "{ports:?}");
    assert_eq!(ports[1], ports[2], "{ports:?}");
}

#[tokio::test]
async fn every_proxy_worker_serves_and_all_of_them_stop_on_shutdown() {
    let f = Fixture::start_with(|c| c.workers = 4).await;
    // Sixteen connections at once (one client each): the workers share the listener.
    let mut requests = tokio::task::JoinSet::new();
    for i in 0..16 {
        let url = format!("{}/public/{i}", f.proxy);
        requests.spawn(async move {
            json_of(reqwest::Client::new().get(url).send().await.expect("sends")).await
        });
    }
    while let Some(joined) = requests.join_next().await {
        let (status, body) = joined.expect("request task");
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["headers"]["x-user-id"], "anonymous");
    }
    let addr = f.gateway.proxy_addr;
    f.gateway.shutdown();
    tokio::time::timeout(Duration::from_secs(10), f.gateway.wait())
        .await
        .expect("every worker stops")
        .expect("and reports no failure");
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "the proxy listener is closed once the last worker stopped"
    );
}
