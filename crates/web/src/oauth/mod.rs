//! OAuth 2.0 and OpenID Connect endpoints on the public listener: authorization with the consent
//! page, token (authorization code, client credentials), introspection,
//! revocation, dynamic client registration, clients registered by signed-in people, discovery
//! with the JWKS, the scope catalog, and the grants people gave clients ("connected apps"); and
//! the OpenID Connect endpoints serving a person's data (userinfo, `/api/me`) and RP-initiated
//! logout with its `/ui/logout` page.

pub mod authorize;
pub mod bearer;
pub mod catalog;
pub mod clients;
pub mod code_grant;
pub mod consent;
pub mod discovery;
pub mod end_session;
pub mod grants;
pub mod introspect;
pub mod me;
pub mod refresh_grant;
pub mod register;
pub mod revoke;
pub mod token;
pub mod user_clients;
pub mod userinfo;
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
        .route("/oauth2/auth", get(authorize::get).post(authorize::post))
        .route(
            "/oauth2/authorize",
            get(authorize::get).post(authorize::post),
        )
        .route("/o/authorize/", get(authorize::get).post(authorize::post))
        .route(
            "/oauth/authorize",
            get(authorize::get).post(authorize::post),
        )
        .route("/oauth2/auth/continue", get(authorize::resume))
        .route("/ui/consent", get(consent::page).post(consent::submit))
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
        .route("/userinfo", get(userinfo::get).post(userinfo::post))
        .route("/api/me", get(me::get))
        .route("/api/user-scoped", get(me::get))
        .route(
            "/oauth2/sessions/logout",
            get(end_session::get).post(end_session::post),
        )
        .route(
            end_session::PAGE,
            get(end_session::page).post(end_session::confirm),
        )
        .route(
            "/oauth2/register/{client_id}",
            get(register::read)
                .put(register::replace)
                .delete(register::delete),
        )
}
