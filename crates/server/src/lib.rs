//! The `gatehouse` binary's library half: configuration, start-up (of `serve`, `gateway` and `bff`),
//! logging and the CLI commands, so integration tests start the same server the binary runs.

pub mod bff;
pub mod bff_config;
#[expect(
    clippy::print_stdout,
    reason = "management commands print their results on stdout"
)]
pub mod cli;
pub mod config;
pub mod gateway;
pub mod gateway_config;
pub mod lifecycle;
pub mod startup;
pub mod telemetry;
