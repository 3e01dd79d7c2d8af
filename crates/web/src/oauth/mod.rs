//! OAuth 2.0 endpoints on the public listener: token (client credentials), introspection,
//! revocation, dynamic client registration, clients registered by signed-in people, discovery
//! with the JWKS, the scope catalog, and the grants people gave clients ("connected apps").

pub mod catalog;
pub mod clients;
pub mod discovery;
pub mod grants;
pub mod introspect;
pub mod register;
pub mod revoke;
pub mod token;
pub mod user_clients;
pub mod wire;

use crate::state::AppState;
use axum::Router;
use axum::routing::{get, post};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(discovery::openid_configuration),
        )
        .route(
            "/.well-known/oauth-authorization-server",
            get(discovery::authorization_server),
        )
        .route("/.well-known/jwks.json", get(discovery::jwks))
        .route("/api/scopes", get(catalog::list))
        .route("/oauth2/token", post(token::post))
        .route("/o/token/", post(token::post))
        .route("/oauth/token", post(token::post))
        .route("/oauth2/introspect", post(introspect::post))
        .route("/o/introspect/", post(introspect::post))
        .route("/oauth2/revoke", post(revoke::post))
        .route("/oauth2/register", post(register::create))
        .route("/api/client/register", post(user_clients::create))
        .route("/api/user/clients", get(user_clients::list))
        .route("/api/user/authorizations", get(grants::list))
        .route(
            "/api/user/authorizations/{client_id}",
            axum::routing::delete(grants::delete),
        )
        .route(
            "/api/user/clients/{client_id}/deactivate",
            post(user_clients::deactivate_one),
        )
        .route(
            "/oauth2/register/{client_id}",
            get(register::read)
                .put(register::replace)
                .delete(register::delete),
        )
}
