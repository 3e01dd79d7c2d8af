//! OAuth 2.0 rules: clients, scopes and the scope catalog, redirect URIs, access tokens,
//! introspection, and the clients people register for themselves.

pub mod catalog;
pub mod client;
pub mod duration;
pub mod redirect_uri;
pub mod scope;
pub mod store;
pub mod token;
pub mod user_client;
