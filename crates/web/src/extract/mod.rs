//! Request extractors that turn malformed input into clear 4xx answers.

pub mod client_auth;
pub mod form;
pub mod json;
