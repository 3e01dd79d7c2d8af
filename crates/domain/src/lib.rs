//! Gatehouse domain: identity and protocol rules.
//!
//! This crate knows nothing of HTTP or SQL. It holds the types that are parsed once at the edge
//! (`ClientId`, `Scope`, `RedirectUri`), the rules of each protocol (client credentials, token
//! introspection, key rotation) as plain functions that take `now` as an argument, and the narrow
//! store traits each feature needs. `gatehouse-store` implements those traits; `gatehouse-web`
//! calls the rules.

pub mod audit;
pub mod bff;
pub mod cipher;
pub mod clock;
pub mod courier;
pub mod flow;
pub mod gateway;
pub mod identity;
pub mod ids;
pub mod ip_ban;
pub mod keys;
pub mod mac;
pub mod magic_link;
pub mod oauth;
pub mod secret;
pub mod session;
pub mod social;
pub mod store;
pub mod tenant;
pub mod throttle;
pub mod webhook;
