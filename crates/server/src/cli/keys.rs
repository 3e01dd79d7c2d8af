//! `gatehouse keys list|rotate`.

use super::admin_client::{AdminArgs, AdminClient};
use clap::{Args, Subcommand};
use comfy_table::Table;
use reqwest::Method;
use serde_json::json;

#[derive(Debug, Args)]
pub struct KeysCommand {
    #[command(subcommand)]
    action: KeysAction,
    #[command(flatten)]
    admin: AdminArgs,
}

#[derive(Debug, Subcommand)]
enum KeysAction {
    /// List published signing keys and their state.
    List,
    /// Rotate signing keys: the new key is published first, old keys stay until their tokens expire.
    Rotate {
        /// ES256 or RS256; both when omitted.
        #[arg(long)]
        alg: Option<String>,
    },
}

impl KeysCommand {
    pub async fn run(self) -> anyhow::Result<()> {
        let api = AdminClient::new(&self.admin)?;
        match self.action {
            KeysAction::List => {
                let keys = api
                    .call(Method::GET, "/admin/keys", None)
                    .await?
                    .unwrap_or_default();
                if self.admin.json {
                    println!("{}", serde_json::to_string_pretty(&keys)?);
                    return Ok(());
                }
                let mut table = Table::new();
                table.set_header(["KID", "ALG", "STATE", "SIGNS FROM", "PUBLISHED UNTIL"]);
                for k in keys.as_array().into_iter().flatten() {
                    table.add_row([
                        k["kid"].as_str().unwrap_or_default(),
                        k["alg"].as_str().unwrap_or_default(),
                        k["state"].as_str().unwrap_or_default(),
                        k["signs_from"].as_str().unwrap_or_default(),
                        k["published_until"].as_str().unwrap_or("-"),
                    ]);
                }
                println!("{table}");
            }
            KeysAction::Rotate { alg } => {
                let body = json!({ "alg": alg });
                let result = api
                    .call(Method::POST, "/admin/keys/rotate", Some(&body))
                    .await?
                    .unwrap_or_default();
                if self.admin.json {
                    println!("{}", serde_json::to_string_pretty(&result)?);
                } else {
                    for kid in result["rotated"].as_array().into_iter().flatten() {
                        println!(
                            "published {} (signs after the publish-ahead delay)",
                            kid.as_str().unwrap_or_default()
                        );
                    }
                }
            }
        }
        Ok(())
    }
}
