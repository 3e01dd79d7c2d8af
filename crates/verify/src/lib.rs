#![cfg_attr(
    all(feature = "remote", feature = "axum"),
    doc = include_str!("../README.md")
)]
#![cfg_attr(
    not(all(feature = "remote", feature = "axum")),
    doc = "JWT access-token validation for resource servers (the guide is the README, shown here \
           with the default features)."
)]
//!
//! ## Modules
//!
//! * `config`: [`ValidatorConfig`], what a valid token must satisfy and how keys are cached;
//! * `validator`: [`Validator`], [`Claims`], [`VerifyError`];
//! * `jwks`: key sets parsed once per load, fetched and cached with the `remote` feature
//!   ([`JwksError`]);
//! * `policy`: [`require_scope`], [`require_claim`], [`PolicyError`];
//! * `axum` (feature `axum`): `VerifiedToken`, `VerifyLayer`, `BearerError`.

mod clock;
mod config;
mod jwks;
mod policy;
mod validator;

#[cfg(feature = "axum")]
pub mod axum;

#[cfg(test)]
mod test_keys;

pub use config::{DEFAULT_LEEWAY_SECS, ValidatorConfig};
pub use jsonwebtoken::Algorithm;
pub use jwks::JwksError;
pub use policy::{PolicyError, require_claim, require_scope};
pub use validator::{Claims, Validator, VerifyError};

#[cfg(feature = "axum")]
pub use crate::axum::{BearerError, VerifiedToken, VerifyLayer, VerifyService};
