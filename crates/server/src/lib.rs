//! The `gatehouse` binary's library half: configuration, start-up, logging and the CLI
//! commands, so integration tests start the same server the binary runs.

#[expect(
    clippy::print_stdout,
    reason = "management commands print their results on stdout"
)]
pub mod cli;
pub mod config;
pub mod startup;
pub mod telemetry;
