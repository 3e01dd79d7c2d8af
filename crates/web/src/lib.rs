//! Gatehouse's HTTP surface: the public listener (OAuth 2.0 endpoints, discovery, health) and
//! the admin listener (admin API, metrics, health), as axum routers over one [`AppState`]; and the
//! access gateway's proxy and decision listeners ([`gateway`]).

pub mod admin;
pub mod apps;
pub mod audit;
pub mod bff;
pub mod client_addr;
pub mod console;
pub mod cookie;
pub mod courier;
pub mod error;
pub mod extract;
pub mod gateway;
pub mod health;
pub mod identity;
pub mod ip_ban;
pub mod keys;
pub mod mailer;
pub mod metrics;
pub mod oauth;
pub mod rate_limit;
pub mod router;
pub mod social;
pub mod state;
pub mod tasks;
pub mod tenant;
pub mod throttle;
pub mod webhooks;

pub mod ui;

pub use router::{admin_router, public_router};
pub use state::{AppState, IdentitySettings, RegistrationSettings, SessionSettings, Settings};
