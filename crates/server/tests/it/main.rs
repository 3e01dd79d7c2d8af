//! HTTP integration tests: the real server, started in-process on random ports, spoken to over
//! HTTP. Every test runs on SQLite and, when `GATEHOUSE_TEST_POSTGRES_URL` is set, on PostgreSQL.

mod admin_clients;
mod admin_identities;
mod audit;
mod authorizations;
mod bad_input;
mod bff;
mod cli;
mod courier;
mod courier_smtp;
mod gateway;
mod health;
mod introspection;
mod ip_bans;
mod keys;
mod logout;
mod nodes;
mod oidc;
mod oidc_refresh;
mod oidc_rp;
mod recovery;
mod registration;
mod scopes;
mod selfservice;
mod sessions;
mod settings;
mod social;
mod support;
mod throttle;
mod token;
mod ui;
mod ui_flows;
mod user_clients;
mod userinfo;
mod verification;
mod webhooks;
