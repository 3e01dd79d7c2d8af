//! Accounts over HTTP: password hashing on a bounded pool, sessions, and the self-service flows
//! (registration, login) as a JSON API and as the built-in pages.

pub mod flow;
pub mod login;
pub mod pages;
pub mod password;
pub mod registration;
pub mod session;

use crate::state::AppState;
use axum::Router;
use axum::routing::{get, post};

/// RFC 3339 for JSON bodies.
pub fn rfc3339(at: time::OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/self-service/login/api", get(login::init_api))
        .route("/self-service/login/browser", get(login::init_browser))
        .route("/self-service/login/flows", get(flow::get_login_flow))
        .route("/self-service/login", post(login::submit))
        .route(
            "/self-service/registration/api",
            get(registration::init_api),
        )
        .route(
            "/self-service/registration/browser",
            get(registration::init_browser),
        )
        .route(
            "/self-service/registration/flows",
            get(flow::get_registration_flow),
        )
        .route("/self-service/registration", post(registration::submit))
        .route("/ui/login", get(pages::login))
        .route("/ui/registration", get(pages::registration))
}
