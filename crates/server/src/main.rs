//! `gatehouse`: one binary for the identity and OAuth 2.0 server and its management commands.

use clap::{Parser, Subcommand};
use gatehouse::bff_config::{BffArgs, BffConfig};
use gatehouse::cli::{
    authorizations::AuthorizationsCommand, clients::ClientsCommand, identities::IdentitiesCommand,
    ip_bans::IpBansCommand, keys::KeysCommand, migrate::MigrateCommand, scopes::ScopesCommand,
    tenants::TenantsCommand,
};
use gatehouse::config::{Config, ServeArgs};
use gatehouse::gateway_config::{GatewayArgs, GatewayConfig};
use gatehouse::{startup, telemetry};
use gatehouse_domain::clock::SystemClock;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Debug, Parser)]
#[command(
    name = "gatehouse",
    version,
    about = "Accounts, OAuth 2.0 / OpenID Connect, access proxy and BFF in one binary"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the identity and OAuth 2.0 server (public and admin listeners).
    Serve(Box<ServeArgs>),
    /// Run the access gateway: a proxy that checks each request against access rules, and a
    /// decision API for nginx / Traefik / Envoy.
    Gateway(Box<GatewayArgs>),
    /// Run the backend-for-frontend: signs a single-page app's users in with OpenID Connect,
    /// keeps their tokens server-side behind a cookie, and proxies its API calls with them.
    Bff(Box<BffArgs>),
    /// Apply or show database migrations.
    Migrate(MigrateCommand),
    /// Manage OAuth 2.0 clients through the admin API.
    Clients(Box<ClientsCommand>),
    /// List or rotate token signing keys through the admin API.
    Keys(KeysCommand),
    /// Import, list, show or delete identities through the admin API.
    Identities(Box<IdentitiesCommand>),
    /// List, add or remove IP bans on the public listener through the admin API.
    IpBans(IpBansCommand),
    /// List, create, update or delete scopes of the scope catalog through the admin API.
    Scopes(ScopesCommand),
    /// List or revoke the clients a person has authorized, through the admin API.
    Authorizations(AuthorizationsCommand),
    /// List, create, update or delete tenants ("apps") and their API keys through the admin API.
    Tenants(Box<TenantsCommand>),
}

async fn serve(args: &ServeArgs) -> anyhow::Result<()> {
    let config = Config::load(args)?;
    telemetry::init(&config.log, config.log_format)?;
    let dev = config.dev;
    let mut signals = startup::ShutdownSignals::install()?;
    let running = startup::start(config, Arc::new(SystemClock)).await?;
    if dev {
        eprintln!(
            "\n  Gatehouse (development mode: do not use in production)\n\n  \
             issuer      {issuer}\n  public      http://{public}\n  admin       http://{admin}\n  \
             discovery   {issuer}/.well-known/openid-configuration\n  \
             sign up     {issuer}/ui/registration   (codes: http://{admin}/admin/courier/messages)\n  \
             admin token {token}\n\n  export GATEHOUSE_ADMIN_TOKEN={token}\n",
            issuer = running.issuer,
            public = running.public_addr,
            admin = running.admin_addr,
            token = running.admin_token.expose(),
        );
    }
    signals.wait().await;
    tracing::info!("shutting down: finishing in-flight requests");
    running.shutdown();
    running.wait().await
}

async fn gateway(args: &GatewayArgs) -> anyhow::Result<()> {
    let config = GatewayConfig::load(args)?;
    telemetry::init(&config.log, config.log_format)?;
    let mut signals = startup::ShutdownSignals::install()?;
    let running = gatehouse::gateway::start(config, Arc::new(SystemClock)).await?;
    signals.wait().await;
    tracing::info!("shutting down: finishing in-flight requests");
    running.shutdown();
    running.wait().await
}

async fn bff(args: &BffArgs) -> anyhow::Result<()> {
    let config = BffConfig::load(args)?;
    telemetry::init(&config.log, config.log_format)?;
    let mut signals = startup::ShutdownSignals::install()?;
    let running = gatehouse::bff::start(config, Arc::new(SystemClock)).await?;
    signals.wait().await;
    tracing::info!("shutting down: finishing in-flight requests");
    running.shutdown();
    running.wait().await
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve(&args).await,
        Command::Gateway(args) => gateway(&args).await,
        Command::Bff(args) => bff(&args).await,
        Command::Migrate(cmd) => cmd.run().await,
        Command::Clients(cmd) => cmd.run().await,
        Command::Keys(cmd) => cmd.run().await,
        Command::Identities(cmd) => cmd.run().await,
        Command::IpBans(cmd) => cmd.run().await,
        Command::Scopes(cmd) => cmd.run().await,
        Command::Authorizations(cmd) => cmd.run().await,
        Command::Tenants(cmd) => cmd.run().await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
