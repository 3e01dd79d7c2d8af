//! The built-in UI's infrastructure: [`Pages`] (minijinja templates embedded in the binary, each
//! replaceable by an operator's file), [`PageError`] pages, [`csrf`] tokens, the stylesheet, and
//! the security headers every `/ui/*` page carries. The pages themselves live in their features
//! (`account`, and the self-service pages).

pub mod account;
pub mod applications;
pub mod authorizations;
pub mod csrf;
mod error;

pub use error::PageError;

use crate::state::AppState;
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{any, get, post};
use minijinja::Environment;

/// Templates compiled into the binary, by name. An operator's `[ui] templates_dir` may replace
/// any of them with a file of the same relative path.
pub const EMBEDDED: &[(&str, &str)] = &[
    ("base.html", include_str!("../../templates/base.html")),
    ("macros.html", include_str!("../../templates/macros.html")),
    ("error.html", include_str!("../../templates/error.html")),
    ("account.html", include_str!("../../templates/account.html")),
    ("logout.html", include_str!("../../templates/logout.html")),
    (
        "account_application.html",
        include_str!("../../templates/account_application.html"),
    ),
    (
        "identity/_flow_form.html",
        include_str!("../../templates/identity/_flow_form.html"),
    ),
    (
        "identity/login.html",
        include_str!("../../templates/identity/login.html"),
    ),
    (
        "identity/registration.html",
        include_str!("../../templates/identity/registration.html"),
    ),
    (
        "identity/recovery.html",
        include_str!("../../templates/identity/recovery.html"),
    ),
    (
        "identity/verification.html",
        include_str!("../../templates/identity/verification.html"),
    ),
    (
        "identity/settings.html",
        include_str!("../../templates/identity/settings.html"),
    ),
    (
        "oauth/consent.html",
        include_str!("../../templates/oauth/consent.html"),
    ),
    (
        "console/layout.html",
        include_str!("../../templates/console/layout.html"),
    ),
    (
        "console/apps.html",
        include_str!("../../templates/console/apps.html"),
    ),
    (
        "console/clients.html",
        include_str!("../../templates/console/clients.html"),
    ),
    (
        "console/client_created.html",
        include_str!("../../templates/console/client_created.html"),
    ),
    (
        "console/client_edit.html",
        include_str!("../../templates/console/client_edit.html"),
    ),
    (
        "console/users.html",
        include_str!("../../templates/console/users.html"),
    ),
    (
        "console/user_delete.html",
        include_str!("../../templates/console/user_delete.html"),
    ),
    (
        "console/audit.html",
        include_str!("../../templates/console/audit.html"),
    ),
    (
        "console/app.html",
        include_str!("../../templates/console/app.html"),
    ),
    (
        "console/app_delete.html",
        include_str!("../../templates/console/app_delete.html"),
    ),
    (
        "console/api_key_created.html",
        include_str!("../../templates/console/api_key_created.html"),
    ),
    (
        "console/magic_links.html",
        include_str!("../../templates/console/magic_links.html"),
    ),
    (
        "console/providers.html",
        include_str!("../../templates/console/providers.html"),
    ),
];

const STYLESHEET: &str = include_str!("../../static/gatehouse.css");

/// The HTML templates of the built-in UI (autoescaping on for `.html`).
pub struct Pages {
    env: Environment<'static>,
}

impl std::fmt::Debug for Pages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pages").finish_non_exhaustive()
    }
}

impl Pages {
    /// The embedded templates, with `overrides` (name, source) in their place; fails on a
    /// template that does not compile, naming it.
    pub fn new(overrides: &[(String, String)]) -> Result<Self, minijinja::Error> {
        let mut env = Environment::new();
        for (name, source) in EMBEDDED {
            if !overrides.iter().any(|(n, _)| n == name) {
                env.add_template(name, source)?;
            }
        }
        for (name, source) in overrides {
            env.add_template_owned(name.clone(), source.clone())?;
        }
        // Our own URL: safe as is (HTML escaping would turn its slashes into entities).
        env.add_global(
            "stylesheet",
            minijinja::Value::from_safe_string(stylesheet_url()),
        );
        Ok(Self { env })
    }

    /// Only the embedded templates.
    pub fn embedded() -> Self {
        Self::new(&[]).expect("the embedded templates compile (tested)")
    }

    /// Renders template `name` with `context`; a failure is logged and becomes a 500 page.
    pub fn render(
        &self,
        name: &str,
        context: impl serde::Serialize,
    ) -> Result<Html<String>, PageError> {
        self.env
            .get_template(name)
            .and_then(|t| t.render(minijinja::value::Serde(&context)))
            .map(Html)
            .map_err(|e| PageError::internal("cannot render a page", &e))
    }
}

/// The stylesheet's URL, versioned by its content so it can be cached for a year.
fn stylesheet_url() -> String {
    let hash = gatehouse_domain::secret::TokenHash::of(STYLESHEET);
    let version: String = hash.0[..6].iter().map(|b| format!("{b:02x}")).collect();
    format!("/ui/static/gatehouse.css?v={version}")
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/ui/static/gatehouse.css", get(stylesheet))
        .route("/ui/error", get(error::page))
        .route("/ui/account", get(account::page))
        .route("/ui/account/sessions/revoke-all", post(account::revoke_all))
        .route(
            "/ui/account/sessions/{id}/revoke",
            post(account::revoke_one),
        )
        .route("/ui/account/applications", post(applications::register))
        .route(
            "/ui/account/applications/{client_id}/deactivate",
            post(applications::deactivate),
        )
        .route(
            "/ui/account/authorizations/{client_id}/revoke",
            post(authorizations::revoke),
        )
        .route("/ui/{*rest}", any(not_found))
}

async fn not_found() -> PageError {
    PageError::not_found("There is no page at this address.")
}

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        STYLESHEET,
    )
        .into_response()
}

/// CSP sources a page's forms may end up at besides Gatehouse itself: a form whose answer
/// redirects to an OAuth 2.0 client (login or consent during an authorization request) must
/// allow the client's origin, since browsers apply `form-action` to the redirects that follow a
/// submission. A page handler leaves this in its response's extensions.
#[derive(Debug, Clone, Default)]
pub struct FormTargets(pub Vec<String>);

/// The headers of every page (DESIGN.md §2, issue 3): a strict CSP, no framing, no referrer,
/// no sniffing, no caching (unless the response chose its own caching, as the stylesheet does).
/// A response that carries its own CSP keeps it: the form_post answer to an authorization
/// request (which `/ui/consent` can send) allows exactly its submitting script and the
/// client's origin, and the generic policy would block both.
fn security_headers(headers: &mut HeaderMap, issuer: &str, targets: Option<&FormTargets>) {
    let mut form_action = format!("'self' {issuer}");
    for target in targets.iter().flat_map(|t| t.0.iter()) {
        // Only well-formed sources: no spaces or separators that would add a directive.
        if !target.is_empty() && !target.contains([' ', ';', ',', '\'']) {
            form_action.push(' ');
            form_action.push_str(target);
        }
    }
    let csp = format!(
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action {form_action}; \
         frame-ancestors 'none'; base-uri 'none'"
    );
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY)
        && let Ok(csp) = HeaderValue::from_str(&csp)
    {
        headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}

/// Public-listener middleware: renders [`PageError`]s with `error.html`, and puts the security
/// headers on every `/ui/*` and `/console/*` response and every error page.
pub async fn page_layer(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let is_ui = path.starts_with("/ui/") || path == "/console" || path.starts_with("/console/");
    let mut response = next.run(request).await;
    let failed = response.extensions_mut().remove::<error::Failure>();
    if let Some(failure) = &failed {
        response = error::render(&state.pages, failure, response);
    }
    if is_ui || failed.is_some() {
        let targets = response.extensions_mut().remove::<FormTargets>();
        security_headers(
            response.headers_mut(),
            &state.settings.issuer,
            targets.as_ref(),
        );
    }
    response
}

/// A 303 See Other to `location`, setting `cookie` when given (a `Set-Cookie` value).
pub fn see_other(location: &str, cookie: Option<HeaderValue>) -> Response {
    let mut response = Response::builder()
        .status(axum::http::StatusCode::SEE_OTHER)
        .body(Body::empty())
        .expect("a status and no headers make a valid response");
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(location) {
        headers.insert(header::LOCATION, value);
    }
    if let Some(cookie) = cookie {
        headers.append(header::SET_COOKIE, cookie);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn security_headers_keep_a_policy_the_response_set_itself() {
        let own = "default-src 'none'; script-src 'sha256-abc'; form-action https://rp.example";
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(own),
        );
        security_headers(&mut headers, "https://id.example", None);
        assert_eq!(headers[header::CONTENT_SECURITY_POLICY], own);
        assert_eq!(headers[header::X_FRAME_OPTIONS], "DENY");

        let mut headers = HeaderMap::new();
        let targets = FormTargets(vec!["https://rp.example".to_owned()]);
        security_headers(&mut headers, "https://id.example", Some(&targets));
        let csp = headers[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .expect("ascii");
        assert!(
            csp.contains("form-action 'self' https://id.example https://rp.example"),
            "{csp}"
        );
    }

    #[test]
    fn embedded_templates_compile_and_escape_html() {
        let pages = Pages::embedded();
        let page = pages
            .render(
                "error.html",
                json!({"title": "Oops", "message": "<script>alert(1)</script>"}),
            )
            .expect("renders");
        assert!(page.0.contains("&lt;script&gt;"), "{}", page.0);
        assert!(page.0.contains(&stylesheet_url()));
        assert!(page.0.contains("name=\"viewport\""));
    }

    #[test]
    fn overrides_replace_a_template_and_bad_ones_are_refused() {
        let pages = Pages::new(&[(
            "error.html".to_owned(),
            "{% extends \"base.html\" %}{% block content %}Branded: {{ message }}{% endblock %}"
                .to_owned(),
        )])
        .expect("compiles");
        let page = pages
            .render("error.html", json!({"title": "t", "message": "m"}))
            .expect("renders");
        assert!(page.0.contains("Branded: m"));
        let err = Pages::new(&[("error.html".to_owned(), "{% if %}".to_owned())])
            .expect_err("does not compile");
        assert!(err.to_string().contains("error.html"), "{err}");
    }

    #[test]
    fn the_field_macro_links_label_and_error() {
        let pages = Pages::new(&[(
            "field.html".to_owned(),
            "{% import \"macros.html\" as m %}{{ m.field(\"identifier\", \"Email\", \"email\", \"a@b\", \"required\", \"username\") }}"
                .to_owned(),
        )])
        .expect("compiles");
        let html = pages.render("field.html", json!({})).expect("renders").0;
        assert!(
            html.contains("<label for=\"field-identifier\">Email</label>"),
            "{html}"
        );
        assert!(
            html.contains("aria-describedby=\"field-identifier-error\""),
            "{html}"
        );
        assert!(html.contains("aria-invalid=\"true\""), "{html}");
        assert!(html.contains("id=\"field-identifier-error\""), "{html}");
        assert!(html.contains("autocomplete=\"username\""), "{html}");
    }
}
