//! OAuth 2.0 rules: clients, scopes and the scope catalog, redirect URIs, the authorization
//! request, access tokens, refresh token families, grant revocation, introspection, the clients
//! people register for themselves, the claims released per scope, and RP-initiated logout.

pub mod authorize;
pub mod catalog;
pub mod claims;
pub mod client;
pub mod code;
pub mod consent;
pub mod duration;
pub mod grant;
pub mod id_token;
pub mod logout;
pub mod pending;
pub mod redirect_uri;
pub mod refresh;
pub mod scope;
pub mod store;
pub mod token;
pub mod user_client;
