//! Accounts over HTTP: password hashing on a bounded pool, sessions, and the self-service flows
//! (registration, login, recovery, verification, settings) as a JSON API and as the built-in
//! pages.

pub mod code_flow;
pub mod flow;
pub mod login;
pub mod pages;
pub mod password;
pub mod recovery;
pub mod registration;
pub mod session;
pub mod settings;
pub mod tenant;
pub mod verification;

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
        .route("/self-service/recovery/api", get(recovery::init_api))
        .route(
            "/self-service/recovery/browser",
            get(recovery::init_browser),
        )
        .route("/self-service/recovery/flows", get(flow::get_recovery_flow))
        .route("/self-service/recovery", post(recovery::submit))
        .route(
            "/self-service/verification/api",
            get(verification::init_api),
        )
        .route(
            "/self-service/verification/browser",
            get(verification::init_browser),
        )
        .route(
            "/self-service/verification/flows",
            get(flow::get_verification_flow),
        )
        .route("/self-service/verification", post(verification::submit))
        .route("/self-service/settings/api", get(settings::init_api))
        .route(
            "/self-service/settings/browser",
            get(settings::init_browser),
        )
        .route("/self-service/settings/flows", get(settings::get_flow))
        .route("/self-service/settings", post(settings::submit))
        .route("/ui/login", get(pages::login))
        .route("/ui/registration", get(pages::registration))
        .route("/ui/recovery", get(pages::recovery))
        .route("/ui/verification", get(pages::verification))
        .route("/ui/settings", get(pages::settings))
}
