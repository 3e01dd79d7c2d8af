//! `gatehouse ip-bans list|add|remove`.

use super::admin_client::{AdminArgs, AdminClient};
use clap::{Args, Subcommand};
use comfy_table::Table;
use reqwest::Method;
use serde_json::{Value, json};

#[derive(Debug, Args)]
pub struct IpBansCommand {
    #[command(subcommand)]
    action: IpBansAction,
    #[command(flatten)]
    admin: AdminArgs,
}

#[derive(Debug, Subcommand)]
enum IpBansAction {
    /// List bans, expired ones marked inactive.
    List,
    /// Ban an address or network (192.0.2.7, 10.0.0.0/8, 2001:db8::/32).
    Add {
        cidr: String,
        /// Why (shown in the list and the audit log).
        #[arg(long)]
        reason: Option<String>,
        /// End the ban after this long (30m, 1h, 7d); permanent when omitted.
        #[arg(long)]
        expires_in: Option<String>,
    },
    /// Remove a ban by its id.
    Remove { id: String },
}

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or("-")
}

impl IpBansCommand {
    pub async fn run(self) -> anyhow::Result<()> {
        let api = AdminClient::new(&self.admin)?;
        match self.action {
            IpBansAction::List => {
                let bans = api
                    .call(Method::GET, "/admin/ip-bans", None)
                    .await?
                    .unwrap_or_default();
                if self.admin.json {
                    println!("{}", serde_json::to_string_pretty(&bans)?);
                    return Ok(());
                }
                let mut table = Table::new();
                table.set_header(["ID", "CIDR", "ACTIVE", "EXPIRES AT", "REASON"]);
                for b in bans.as_array().into_iter().flatten() {
                    table.add_row([
                        text(&b["id"]),
                        text(&b["cidr"]),
                        if b["active"].as_bool().unwrap_or(false) {
                            "yes"
                        } else {
                            "no"
                        },
                        text(&b["expires_at"]),
                        text(&b["reason"]),
                    ]);
                }
                println!("{table}");
            }
            IpBansAction::Add {
                cidr,
                reason,
                expires_in,
            } => {
                let body = json!({ "cidr": cidr, "reason": reason, "expires_in": expires_in });
                let ban = api
                    .call(Method::POST, "/admin/ip-bans", Some(&body))
                    .await?
                    .unwrap_or_default();
                if self.admin.json {
                    println!("{}", serde_json::to_string_pretty(&ban)?);
                } else {
                    let until = ban["expires_at"]
                        .as_str()
                        .map_or_else(|| "until removed".to_owned(), |t| format!("until {t}"));
                    println!(
                        "banned {} {until} (id {})",
                        text(&ban["cidr"]),
                        text(&ban["id"])
                    );
                }
            }
            IpBansAction::Remove { id } => {
                let path = format!(
                    "/admin/ip-bans/{}",
                    url::form_urlencoded::byte_serialize(id.as_bytes()).collect::<String>()
                );
                api.call(Method::DELETE, &path, None).await?;
                if self.admin.json {
                    println!("{}", json!({ "removed": id }));
                } else {
                    println!("removed ban {id}");
                }
            }
        }
        Ok(())
    }
}
