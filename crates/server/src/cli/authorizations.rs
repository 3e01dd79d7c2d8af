//! `gatehouse authorizations list|revoke`: the grants a person gave clients, through
//! `/admin/oauth2/consents`.

use super::admin_client::{AdminArgs, AdminClient};
use clap::{Args, Subcommand};
use comfy_table::Table;
use reqwest::Method;
use serde_json::{Value, json};

#[derive(Debug, Args)]
pub struct AuthorizationsCommand {
    #[command(subcommand)]
    action: AuthorizationsAction,
    #[command(flatten)]
    admin: AdminArgs,
}

#[derive(Debug, Subcommand)]
enum AuthorizationsAction {
    /// List the clients an identity has authorized, most recently used first.
    List {
        /// The identity id.
        #[arg(long)]
        user: String,
    },
    /// Revoke an identity's grant to a client: its refresh tokens, its access tokens (at
    /// introspection) and the consent.
    Revoke {
        /// The identity id.
        #[arg(long)]
        user: String,
        /// The client id.
        #[arg(long)]
        client: String,
    },
}

fn query(pairs: &[(&str, &str)]) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in pairs {
        query.append_pair(name, value);
    }
    query.finish()
}

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or("-")
}

impl AuthorizationsCommand {
    pub async fn run(self) -> anyhow::Result<()> {
        let api = AdminClient::new(&self.admin)?;
        match self.action {
            AuthorizationsAction::List { user } => {
                let path = format!("/admin/oauth2/consents?{}", query(&[("subject", &user)]));
                let grants = api
                    .call(Method::GET, &path, None)
                    .await?
                    .unwrap_or_default();
                if self.admin.json {
                    println!("{}", serde_json::to_string_pretty(&grants)?);
                    return Ok(());
                }
                let mut table = Table::new();
                table.set_header([
                    "CLIENT ID",
                    "CLIENT NAME",
                    "SCOPE",
                    "REMEMBERED",
                    "LAST USED",
                ]);
                for g in grants.as_array().into_iter().flatten() {
                    table.add_row([
                        text(&g["client_id"]),
                        text(&g["client_name"]),
                        text(&g["scope"]),
                        if g["remembered"].as_bool().unwrap_or(false) {
                            "yes"
                        } else {
                            "no"
                        },
                        text(&g["last_used_at"]),
                    ]);
                }
                println!("{table}");
            }
            AuthorizationsAction::Revoke { user, client } => {
                let path = format!(
                    "/admin/oauth2/consents?{}",
                    query(&[("subject", &user), ("client", &client)])
                );
                api.call(Method::DELETE, &path, None).await?;
                if self.admin.json {
                    println!(
                        "{}",
                        json!({ "revoked": { "subject": user, "client_id": client } })
                    );
                } else {
                    println!("revoked the grant of {user} to {client}");
                }
            }
        }
        Ok(())
    }
}
