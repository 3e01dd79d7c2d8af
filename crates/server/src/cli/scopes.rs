//! `gatehouse scopes list|show|create|update|delete`: the scope catalog.

use super::admin_client::{AdminArgs, AdminClient};
use clap::{Args, Subcommand};
use comfy_table::Table;
use reqwest::Method;
use serde_json::{Value, json};

#[derive(Debug, Args)]
pub struct ScopesCommand {
    #[command(subcommand)]
    action: ScopesAction,
    /// Tenant whose catalog to manage (the default tenant when omitted).
    #[arg(long, global = true)]
    tenant_id: Option<String>,
    #[command(flatten)]
    admin: AdminArgs,
}

#[derive(Debug, Subcommand)]
enum ScopesAction {
    /// List the catalog, inactive scopes too.
    List,
    /// Show one scope.
    Show { name: String },
    /// Add a scope to the catalog.
    Create {
        /// The scope token clients request (api:read, newsletter).
        name: String,
        /// Shown on the consent page.
        #[arg(long)]
        display_name: String,
        /// Shown under the display name on the consent page.
        #[arg(long, default_value = "")]
        description: String,
        /// A claim granting the scope releases (repeatable).
        #[arg(long = "claim")]
        claims: Vec<String>,
        /// Create it switched off (refused until activated).
        #[arg(long)]
        inactive: bool,
    },
    /// Change a scope; fields not named keep their values.
    Update {
        name: String,
        #[arg(long)]
        display_name: Option<String>,
        #[arg(long)]
        description: Option<String>,
        /// The claims it releases (repeatable; replaces the list).
        #[arg(long = "claim")]
        claims: Vec<String>,
        /// Release no claims at all.
        #[arg(long, conflicts_with = "claims")]
        no_claims: bool,
        /// Switch the scope on or off (an inactive scope is refused wherever it is requested).
        #[arg(long)]
        active: Option<bool>,
    },
    /// Remove a scope (built-in scopes can only be deactivated).
    Delete { name: String },
}

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or("-")
}

fn yes_no(v: &Value) -> &'static str {
    if v.as_bool().unwrap_or(false) {
        "yes"
    } else {
        "no"
    }
}

fn claims(v: &Value) -> String {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect::<Vec<_>>()
        .join(" ")
}

impl ScopesCommand {
    fn query(&self) -> String {
        self.tenant_id.as_ref().map_or_else(String::new, |t| {
            format!(
                "?tenant_id={}",
                url::form_urlencoded::byte_serialize(t.as_bytes()).collect::<String>()
            )
        })
    }

    fn path(&self, name: &str) -> String {
        format!(
            "/admin/scopes/{}{}",
            url::form_urlencoded::byte_serialize(name.as_bytes()).collect::<String>(),
            self.query()
        )
    }

    fn print_one(&self, scope: &Value, verb: &str) -> anyhow::Result<()> {
        if self.admin.json {
            println!("{}", serde_json::to_string_pretty(scope)?);
        } else {
            println!(
                "{verb} scope {} ({}, {}; claims: {})",
                text(&scope["name"]),
                text(&scope["display_name"]),
                if scope["active"].as_bool().unwrap_or(false) {
                    "active"
                } else {
                    "inactive"
                },
                match claims(&scope["claims"]) {
                    c if c.is_empty() => "none".to_owned(),
                    c => c,
                }
            );
        }
        Ok(())
    }

    pub async fn run(self) -> anyhow::Result<()> {
        let api = AdminClient::new(&self.admin)?;
        match &self.action {
            ScopesAction::List => {
                let path = format!("/admin/scopes{}", self.query());
                let scopes = api
                    .call(Method::GET, &path, None)
                    .await?
                    .unwrap_or_default();
                if self.admin.json {
                    println!("{}", serde_json::to_string_pretty(&scopes)?);
                    return Ok(());
                }
                let mut table = Table::new();
                table.set_header(["NAME", "DISPLAY NAME", "ACTIVE", "BUILT IN", "CLAIMS"]);
                for s in scopes.as_array().into_iter().flatten() {
                    table.add_row([
                        text(&s["name"]).to_owned(),
                        text(&s["display_name"]).to_owned(),
                        yes_no(&s["active"]).to_owned(),
                        yes_no(&s["builtin"]).to_owned(),
                        claims(&s["claims"]),
                    ]);
                }
                println!("{table}");
            }
            ScopesAction::Show { name } => {
                let scope = api
                    .call(Method::GET, &self.path(name), None)
                    .await?
                    .unwrap_or_default();
                if self.admin.json {
                    println!("{}", serde_json::to_string_pretty(&scope)?);
                } else {
                    for field in ["name", "display_name", "description"] {
                        println!("{field:<13} {}", text(&scope[field]));
                    }
                    println!("{:<13} {}", "claims", claims(&scope["claims"]));
                    println!("{:<13} {}", "active", yes_no(&scope["active"]));
                    println!("{:<13} {}", "builtin", yes_no(&scope["builtin"]));
                }
            }
            ScopesAction::Create {
                name,
                display_name,
                description,
                claims,
                inactive,
            } => {
                let mut body = json!({
                    "name": name,
                    "display_name": display_name,
                    "description": description,
                    "claims": claims,
                    "active": !inactive,
                });
                if let Some(tenant_id) = &self.tenant_id {
                    body["tenant_id"] = json!(tenant_id);
                }
                let scope = api
                    .call(Method::POST, "/admin/scopes", Some(&body))
                    .await?
                    .unwrap_or_default();
                self.print_one(&scope, "created")?;
            }
            ScopesAction::Update {
                name,
                display_name,
                description,
                claims,
                no_claims,
                active,
            } => {
                let path = self.path(name);
                let current = api
                    .call(Method::GET, &path, None)
                    .await?
                    .unwrap_or_default();
                let mut body = json!({
                    "display_name": current["display_name"],
                    "description": current["description"],
                    "claims": current["claims"],
                    "active": current["active"],
                });
                if let Some(v) = display_name {
                    body["display_name"] = json!(v);
                }
                if let Some(v) = description {
                    body["description"] = json!(v);
                }
                if !claims.is_empty() || *no_claims {
                    body["claims"] = json!(claims);
                }
                if let Some(v) = active {
                    body["active"] = json!(v);
                }
                let scope = api
                    .call(Method::PUT, &path, Some(&body))
                    .await?
                    .unwrap_or_default();
                self.print_one(&scope, "updated")?;
            }
            ScopesAction::Delete { name } => {
                api.call(Method::DELETE, &self.path(name), None).await?;
                if self.admin.json {
                    println!("{}", json!({ "deleted": name }));
                } else {
                    println!("deleted scope {name}");
                }
            }
        }
        Ok(())
    }
}
