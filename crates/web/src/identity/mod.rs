//! Accounts over HTTP: password hashing on a bounded pool, and (with the self-service flows)
//! registration, login and sessions.

pub mod password;
