//! `gatehouse migrate apply|status`: works on the database directly.

use anyhow::Context;
use clap::{Args, Subcommand};
use gatehouse_domain::secret::Secret;
use gatehouse_store::{PoolSettings, Store};

#[derive(Debug, Args)]
pub struct MigrateCommand {
    #[command(subcommand)]
    action: MigrateAction,
    /// Database URL.
    #[arg(
        long,
        env = "GATEHOUSE_DATABASE_URL",
        hide_env_values = true,
        global = true
    )]
    database_url: Option<Secret>,
}

#[derive(Debug, Subcommand)]
enum MigrateAction {
    /// Apply every pending migration.
    Apply,
    /// List migrations and whether each is applied.
    Status,
}

impl MigrateCommand {
    pub async fn run(self) -> anyhow::Result<()> {
        let url = self
            .database_url
            .context("set GATEHOUSE_DATABASE_URL or --database-url")?;
        let store = Store::connect(
            url.expose(),
            &PoolSettings {
                max_connections: 2,
                ..PoolSettings::default()
            },
        )
        .await
        .context("cannot open the database")?;
        match self.action {
            MigrateAction::Apply => {
                store.migrate().await?;
                println!("migrations applied");
            }
            MigrateAction::Status => {
                for m in store.migration_status().await? {
                    println!(
                        "{:>4}  {:<40} {}",
                        m.version,
                        m.name,
                        if m.applied { "applied" } else { "pending" }
                    );
                }
            }
        }
        store.close().await;
        Ok(())
    }
}
