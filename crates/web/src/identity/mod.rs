//! Accounts over HTTP: password hashing on a bounded pool, sessions, and the self-service flows
//! (registration, login) as a JSON API and as the built-in pages.

pub mod password;
pub mod session;
