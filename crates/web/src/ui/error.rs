//! [`PageError`]: the error answer of HTML pages, rendered with `error.html` (400, 403, 404; a
//! 500 is logged once and shown as a generic message); and `GET /ui/error?id=`, the page flows
//! send people to when they cannot continue.

use super::Pages;
use axum::extract::Query;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use std::borrow::Cow;

#[derive(Debug)]
pub struct PageError {
    pub status: StatusCode,
    /// A sentence the person reads.
    pub message: Cow<'static, str>,
}

impl PageError {
    pub fn new(status: StatusCode, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn forbidden(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }

    pub fn not_found(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    /// Logs `err` and answers a generic 500 page.
    pub fn internal(context: &'static str, err: &dyn std::error::Error) -> Self {
        tracing::error!(error = %err, source = ?err.source().map(ToString::to_string), "{context}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong on our side. Please try again in a moment.",
        )
    }

    fn title(&self) -> &'static str {
        match self.status {
            StatusCode::BAD_REQUEST => "This request cannot be handled",
            StatusCode::FORBIDDEN => "This request was refused",
            StatusCode::NOT_FOUND => "Not found",
            s if s.is_server_error() => "Something went wrong",
            _ => "Something is not right",
        }
    }
}

impl From<gatehouse_domain::store::StoreError> for PageError {
    fn from(err: gatehouse_domain::store::StoreError) -> Self {
        Self::internal("store failure", &err)
    }
}

impl From<crate::error::ApiError> for PageError {
    /// The API error's status and reason, shown as a page (a 5xx was logged already).
    fn from(err: crate::error::ApiError) -> Self {
        if err.status.is_server_error() {
            return Self::new(
                err.status,
                "Something went wrong on our side. Please try again in a moment.",
            );
        }
        Self::new(err.status, err.reason)
    }
}

/// What the page layer renders: left in the response's extensions by [`PageError`].
#[derive(Debug, Clone)]
pub(super) struct Failure {
    status: StatusCode,
    title: &'static str,
    message: String,
}

impl IntoResponse for PageError {
    /// A plain-text answer carrying the error, which the UI layer ([`super::page_layer`]) turns
    /// into `error.html`.
    fn into_response(self) -> Response {
        let failure = Failure {
            status: self.status,
            title: self.title(),
            message: self.message.into_owned(),
        };
        let mut response = (self.status, failure.message.clone()).into_response();
        response.extensions_mut().insert(failure);
        response
    }
}

/// The response for `failure`: `error.html`, or the plain-text `fallback` if that cannot render.
pub(super) fn render(pages: &Pages, failure: &Failure, fallback: Response) -> Response {
    let context = serde_json::json!({
        "title": failure.title,
        "message": failure.message,
        "status": failure.status.as_u16(),
    });
    let rendered = pages
        .env
        .get_template("error.html")
        .and_then(|t| t.render(minijinja::value::Serde(&context)));
    match rendered {
        Ok(html) => {
            let (mut parts, _) = fallback.into_parts();
            parts.headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            parts.headers.remove(header::CONTENT_LENGTH);
            Response::from_parts(parts, axum::body::Body::from(html))
        }
        Err(err) => {
            tracing::error!(error = %err, "cannot render the error page");
            fallback
        }
    }
}

/// The errors a flow may send people to, by id, with what they read.
const KNOWN: &[(&str, &str, &str)] = &[
    (
        "flow_expired",
        "This page has expired",
        "The form was open for too long. Please start again.",
    ),
    (
        "flow_not_found",
        "This page is no longer available",
        "The link you followed is not valid any more. Please start again.",
    ),
    (
        "csrf",
        "This request was refused",
        "The form could not be verified. Reload the page and try again.",
    ),
    (
        "return_to_not_allowed",
        "This address is not allowed",
        "The application asked to return you to an address Gatehouse does not know.",
    ),
    (
        "session_required",
        "You are not signed in",
        "Sign in first, then try again.",
    ),
    (
        "identity_inactive",
        "This account is disabled",
        "Contact the administrator of this service.",
    ),
];

/// `/ui/error?id=`: the page for error `id` from [`KNOWN`].
pub fn known(id: &str) -> Option<(&'static str, &'static str)> {
    KNOWN
        .iter()
        .find(|(known, _, _)| *known == id)
        .map(|(_, title, message)| (*title, *message))
}

#[derive(Debug, Deserialize)]
pub struct ErrorQuery {
    id: Option<String>,
}

pub async fn page(
    axum::extract::State(state): axum::extract::State<crate::state::AppState>,
    query: Result<Query<ErrorQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, PageError> {
    let id = query.ok().and_then(|Query(q)| q.id).unwrap_or_default();
    let Some((title, message)) = known(&id) else {
        return Err(PageError::not_found(
            "This error is not known. Please start again from the beginning.",
        ));
    };
    let html = state.pages.render(
        "error.html",
        serde_json::json!({"title": title, "message": message}),
    )?;
    Ok(html.into_response())
}
