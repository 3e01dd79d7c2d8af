//! Management commands. All but `migrate` talk to the admin API (`--endpoint`, token from
//! `GATEHOUSE_ADMIN_TOKEN`); they print tables for people and JSON with `--json`.

pub mod admin_client;
pub mod authorizations;
pub mod clients;
pub mod identities;
pub mod ip_bans;
pub mod keys;
pub mod migrate;
pub mod scopes;
pub mod tenants;
