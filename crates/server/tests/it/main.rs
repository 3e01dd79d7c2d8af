//! HTTP integration tests: the real server, started in-process on random ports, spoken to over
//! HTTP. Every test runs on SQLite and, when `GATEHOUSE_TEST_POSTGRES_URL` is set, on PostgreSQL.

mod admin_clients;
mod bad_input;
mod cli;
mod gateway;
mod health;
mod introspection;
mod keys;
mod nodes;
mod registration;
mod selfservice;
mod support;
mod token;
