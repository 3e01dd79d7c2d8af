//! `gatehouse tenants list|show|create|update|delete` and `gatehouse tenants api-keys
//! list|create|revoke`: tenants ("apps") and their API keys.

use super::admin_client::{AdminArgs, AdminClient};
use clap::{Args, Subcommand};
use comfy_table::Table;
use reqwest::Method;
use serde_json::{Value, json};

#[derive(Debug, Args)]
pub struct TenantsCommand {
    #[command(subcommand)]
    action: TenantsAction,
    #[command(flatten)]
    admin: AdminArgs,
}

#[derive(Debug, Subcommand)]
enum TenantsAction {
    /// List tenants (the default tenant first).
    List {
        /// Tenants per page (all pages are fetched).
        #[arg(long, default_value_t = 100)]
        page_size: u32,
    },
    /// Show one tenant.
    Show { id: String },
    /// Create a tenant; prints its id (the app id of the tenant API).
    Create {
        name: String,
        /// Where the app's users are sent after social login or a magic link.
        #[arg(long)]
        redirect_uri: Option<String>,
        /// A URL the app may name as a place to return to (repeatable).
        #[arg(long = "allowed-return-url")]
        allowed_return_urls: Vec<String>,
        /// Let the app's users sign in with magic links.
        #[arg(long)]
        magic_link: bool,
    },
    /// Change a tenant; fields not named keep their values.
    Update {
        id: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        redirect_uri: Option<String>,
        /// The allowed return URLs (repeatable; replaces the list).
        #[arg(long = "allowed-return-url")]
        allowed_return_urls: Vec<String>,
        #[arg(long)]
        magic_link: Option<bool>,
    },
    /// Delete a tenant and everything it owns (identities, sessions, clients, keys, audit log).
    Delete {
        id: String,
        /// Required: deleting a tenant cannot be undone.
        #[arg(long)]
        yes: bool,
    },
    /// Manage a tenant's API keys.
    #[command(subcommand)]
    ApiKeys(ApiKeysAction),
}

#[derive(Debug, Subcommand)]
enum ApiKeysAction {
    /// List a tenant's keys (prefix, name, created, last used).
    List { tenant_id: String },
    /// Create a key; the key is printed once and cannot be shown again.
    Create {
        tenant_id: String,
        #[arg(long)]
        name: String,
    },
    /// Revoke a key (it stops working at once).
    Revoke { tenant_id: String, key_id: String },
}

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or("-")
}

fn segment(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

fn print_json(value: &Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

impl TenantsCommand {
    fn print_one(&self, tenant: &Value, verb: &str) -> anyhow::Result<()> {
        if self.admin.json {
            return print_json(tenant);
        }
        if !verb.is_empty() {
            println!("{verb} tenant {}", text(&tenant["id"]));
        }
        println!("{:<20} {}", "id", text(&tenant["id"]));
        println!("{:<20} {}", "name", text(&tenant["name"]));
        println!("{:<20} {}", "redirect_uri", text(&tenant["redirect_uri"]));
        let urls: Vec<&str> = tenant["allowed_return_urls"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        println!("{:<20} {}", "allowed_return_urls", urls.join(" "));
        println!(
            "{:<20} {}",
            "magic_link",
            tenant["settings"]["magic_link"]["enabled"]
                .as_bool()
                .unwrap_or(false)
        );
        println!("{:<20} {}", "created_at", text(&tenant["created_at"]));
        Ok(())
    }

    pub async fn run(self) -> anyhow::Result<()> {
        let api = AdminClient::new(&self.admin)?;
        match &self.action {
            TenantsAction::List { page_size } => {
                let mut all = Vec::new();
                let mut path = format!("/admin/tenants?page_size={page_size}");
                loop {
                    let answer = api.send(Method::GET, &path, None).await?;
                    if !answer.status.is_success() {
                        anyhow::bail!("{} ({})", answer.reason(), answer.status.as_u16());
                    }
                    all.extend(
                        answer
                            .body
                            .as_ref()
                            .and_then(Value::as_array)
                            .cloned()
                            .unwrap_or_default(),
                    );
                    let next = answer
                        .headers
                        .get(reqwest::header::LINK)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.strip_prefix('<'))
                        .and_then(|v| v.split_once('>'))
                        .map(|(p, _)| p.to_owned());
                    match next {
                        Some(next) => path = next,
                        None => break,
                    }
                }
                if self.admin.json {
                    return print_json(&Value::Array(all));
                }
                let mut table = Table::new();
                table.set_header(["ID", "NAME", "MAGIC LINK", "CREATED"]);
                for t in &all {
                    table.add_row([
                        text(&t["id"]).to_owned(),
                        text(&t["name"]).to_owned(),
                        t["settings"]["magic_link"]["enabled"]
                            .as_bool()
                            .unwrap_or(false)
                            .to_string(),
                        text(&t["created_at"]).to_owned(),
                    ]);
                }
                println!("{table}");
            }
            TenantsAction::Show { id } => {
                let tenant = api
                    .call(
                        Method::GET,
                        &format!("/admin/tenants/{}", segment(id)),
                        None,
                    )
                    .await?
                    .unwrap_or_default();
                self.print_one(&tenant, "")?;
            }
            TenantsAction::Create {
                name,
                redirect_uri,
                allowed_return_urls,
                magic_link,
            } => {
                let body = json!({
                    "name": name,
                    "redirect_uri": redirect_uri,
                    "allowed_return_urls": allowed_return_urls,
                    "settings": {"magic_link": {"enabled": magic_link}},
                });
                let tenant = api
                    .call(Method::POST, "/admin/tenants", Some(&body))
                    .await?
                    .unwrap_or_default();
                self.print_one(&tenant, "created")?;
            }
            TenantsAction::Update {
                id,
                name,
                redirect_uri,
                allowed_return_urls,
                magic_link,
            } => {
                let path = format!("/admin/tenants/{}", segment(id));
                let mut body = api
                    .call(Method::GET, &path, None)
                    .await?
                    .unwrap_or_default();
                if let Some(v) = name {
                    body["name"] = json!(v);
                }
                if let Some(v) = redirect_uri {
                    body["redirect_uri"] = json!(v);
                }
                if !allowed_return_urls.is_empty() {
                    body["allowed_return_urls"] = json!(allowed_return_urls);
                }
                if let Some(v) = magic_link {
                    body["settings"]["magic_link"]["enabled"] = json!(v);
                }
                let tenant = api
                    .call(Method::PUT, &path, Some(&body))
                    .await?
                    .unwrap_or_default();
                self.print_one(&tenant, "updated")?;
            }
            TenantsAction::Delete { id, yes } => {
                if !yes {
                    anyhow::bail!(
                        "deleting a tenant deletes all of its identities, sessions, clients and keys; \
                         add --yes to confirm"
                    );
                }
                api.call(
                    Method::DELETE,
                    &format!("/admin/tenants/{}", segment(id)),
                    None,
                )
                .await?;
                if self.admin.json {
                    println!("{}", json!({ "deleted": id }));
                } else {
                    println!("deleted tenant {id}");
                }
            }
            TenantsAction::ApiKeys(action) => self.api_keys(&api, action).await?,
        }
        Ok(())
    }

    async fn api_keys(&self, api: &AdminClient, action: &ApiKeysAction) -> anyhow::Result<()> {
        match action {
            ApiKeysAction::List { tenant_id } => {
                let keys = api
                    .call(
                        Method::GET,
                        &format!("/admin/tenants/{}/api-keys", segment(tenant_id)),
                        None,
                    )
                    .await?
                    .unwrap_or_default();
                if self.admin.json {
                    return print_json(&keys);
                }
                let mut table = Table::new();
                table.set_header(["ID", "PREFIX", "NAME", "CREATED", "LAST USED"]);
                for k in keys.as_array().into_iter().flatten() {
                    table.add_row([
                        text(&k["id"]),
                        text(&k["prefix"]),
                        text(&k["name"]),
                        text(&k["created_at"]),
                        text(&k["last_used_at"]),
                    ]);
                }
                println!("{table}");
            }
            ApiKeysAction::Create { tenant_id, name } => {
                let key = api
                    .call(
                        Method::POST,
                        &format!("/admin/tenants/{}/api-keys", segment(tenant_id)),
                        Some(&json!({ "name": name })),
                    )
                    .await?
                    .unwrap_or_default();
                if self.admin.json {
                    return print_json(&key);
                }
                println!(
                    "created API key {} ({})",
                    text(&key["id"]),
                    text(&key["prefix"])
                );
                println!("key: {}", text(&key["key"]));
                println!("store it now: it is not shown again");
            }
            ApiKeysAction::Revoke { tenant_id, key_id } => {
                api.call(
                    Method::DELETE,
                    &format!(
                        "/admin/tenants/{}/api-keys/{}",
                        segment(tenant_id),
                        segment(key_id)
                    ),
                    None,
                )
                .await?;
                if self.admin.json {
                    println!("{}", json!({ "revoked": key_id }));
                } else {
                    println!("revoked API key {key_id}");
                }
            }
        }
        Ok(())
    }
}
