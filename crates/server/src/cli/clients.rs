//! `gatehouse clients create|list|show|update|deactivate|delete`.

use super::admin_client::{AdminArgs, AdminClient};
use anyhow::Context;
use clap::{Args, Subcommand};
use comfy_table::Table;
use gatehouse_domain::secret::Secret;
use reqwest::Method;
use serde_json::{Map, Value, json};

#[derive(Debug, Args)]
pub struct ClientsCommand {
    #[command(subcommand)]
    action: ClientsAction,
    #[command(flatten)]
    admin: AdminArgs,
}

/// Client fields settable from the command line; each maps to the admin API field of the same name.
#[derive(Debug, Default, Args)]
struct ClientFields {
    /// Human-readable name.
    #[arg(long)]
    name: Option<String>,
    /// Allowed grant type (repeatable): authorization_code, refresh_token, client_credentials.
    #[arg(long = "grant-type")]
    grant_types: Vec<String>,
    /// Allowed response type (repeatable): code.
    #[arg(long = "response-type")]
    response_types: Vec<String>,
    /// Registered redirect URI (repeatable).
    #[arg(long = "redirect-uri")]
    redirect_uris: Vec<String>,
    /// Post-logout redirect URI (repeatable).
    #[arg(long = "post-logout-redirect-uri")]
    post_logout_redirect_uris: Vec<String>,
    /// Space-separated scopes the client may request.
    #[arg(long)]
    scope: Option<String>,
    /// Allowed audience (repeatable).
    #[arg(long = "audience")]
    audience: Vec<String>,
    /// client_secret_basic, client_secret_post or none.
    #[arg(long)]
    token_endpoint_auth_method: Option<String>,
    /// jwt or opaque access tokens.
    #[arg(long)]
    access_token_strategy: Option<String>,
    /// Skip the consent screen (first-party clients).
    #[arg(long)]
    skip_consent: Option<bool>,
    /// Tenant the client belongs to (default tenant when omitted).
    #[arg(long)]
    tenant_id: Option<String>,
    /// Description shown to people.
    #[arg(long)]
    description: Option<String>,
}

impl ClientFields {
    fn apply(self, body: &mut Map<String, Value>) {
        let mut set = |key: &str, value: Option<Value>| {
            if let Some(v) = value {
                body.insert(key.to_owned(), v);
            }
        };
        let list = |v: Vec<String>| (!v.is_empty()).then(|| json!(v));
        set("client_name", self.name.map(Value::from));
        set("grant_types", list(self.grant_types));
        set("response_types", list(self.response_types));
        set("redirect_uris", list(self.redirect_uris));
        set(
            "post_logout_redirect_uris",
            list(self.post_logout_redirect_uris),
        );
        set("scope", self.scope.map(Value::from));
        set("audience", list(self.audience));
        set(
            "token_endpoint_auth_method",
            self.token_endpoint_auth_method.map(Value::from),
        );
        set(
            "access_token_strategy",
            self.access_token_strategy.map(Value::from),
        );
        set("skip_consent", self.skip_consent.map(Value::from));
        set("tenant_id", self.tenant_id.map(Value::from));
        set("description", self.description.map(Value::from));
    }
}

#[derive(Debug, Subcommand)]
enum ClientsAction {
    /// Create a client; its secret is printed once.
    Create {
        /// Choose the client id (generated when omitted).
        #[arg(long)]
        id: Option<String>,
        /// Choose the secret (at least 32 characters; generated when omitted).
        #[arg(long, env = "GATEHOUSE_CLIENT_SECRET", hide_env_values = true)]
        secret: Option<Secret>,
        #[command(flatten)]
        fields: ClientFields,
    },
    /// List clients.
    List {
        #[arg(long)]
        page_size: Option<u32>,
        #[arg(long)]
        page_token: Option<String>,
    },
    /// Show one client.
    Show { id: String },
    /// Change fields of a client (others keep their values).
    Update {
        id: String,
        #[command(flatten)]
        fields: ClientFields,
    },
    /// Disable a client at once: it can no longer get tokens and its tokens stop introspecting as active.
    Deactivate { id: String },
    /// Delete a client.
    Delete { id: String },
}

fn print_clients(clients: &[Value]) {
    let mut table = Table::new();
    table.set_header([
        "CLIENT ID",
        "NAME",
        "GRANT TYPES",
        "SCOPE",
        "AUTH METHOD",
        "ACTIVE",
    ]);
    for c in clients {
        let grants: Vec<&str> = c["grant_types"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        table.add_row([
            c["client_id"].as_str().unwrap_or_default().to_owned(),
            c["client_name"].as_str().unwrap_or_default().to_owned(),
            grants.join(", "),
            c["scope"].as_str().unwrap_or_default().to_owned(),
            c["token_endpoint_auth_method"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            c["active"].as_bool().unwrap_or_default().to_string(),
        ]);
    }
    println!("{table}");
}

fn path(id: &str) -> String {
    format!(
        "/admin/clients/{}",
        url::form_urlencoded::byte_serialize(id.as_bytes()).collect::<String>()
    )
}

/// Copies the fields a PUT accepts back from a GET answer, so an update changes only what it names.
fn editable(current: &Value) -> Map<String, Value> {
    let mut body = current.as_object().cloned().unwrap_or_default();
    for readonly in [
        "created_at",
        "updated_at",
        "client_id_issued_at",
        "client_secret",
        "client_secret_expires_at",
    ] {
        body.remove(readonly);
    }
    body
}

impl ClientsCommand {
    pub async fn run(self) -> anyhow::Result<()> {
        let api = AdminClient::new(&self.admin)?;
        let json_out = self.admin.json;
        let show = |client: &Value| -> anyhow::Result<()> {
            if json_out {
                println!("{}", serde_json::to_string_pretty(client)?);
            } else {
                print_clients(std::slice::from_ref(client));
                if let Some(secret) = client["client_secret"].as_str() {
                    println!("client secret: {secret}\n(shown only now: store it safely)");
                }
            }
            Ok(())
        };
        match self.action {
            ClientsAction::Create { id, secret, fields } => {
                let mut body = Map::new();
                if let Some(id) = id {
                    body.insert("client_id".into(), id.into());
                }
                if let Some(secret) = secret {
                    body.insert("client_secret".into(), secret.expose().into());
                }
                fields.apply(&mut body);
                let created = api
                    .call(Method::POST, "/admin/clients", Some(&Value::Object(body)))
                    .await?;
                show(&created.context("empty answer")?)?;
            }
            ClientsAction::List {
                page_size,
                page_token,
            } => {
                let mut query = vec![];
                if let Some(n) = page_size {
                    query.push(format!("page_size={n}"));
                }
                if let Some(t) = page_token {
                    query.push(format!("page_token={t}"));
                }
                let path = format!("/admin/clients?{}", query.join("&"));
                let clients = api
                    .call(Method::GET, &path, None)
                    .await?
                    .unwrap_or_default();
                if json_out {
                    println!("{}", serde_json::to_string_pretty(&clients)?);
                } else {
                    print_clients(clients.as_array().map(Vec::as_slice).unwrap_or_default());
                }
            }
            ClientsAction::Show { id } => {
                let client = api.call(Method::GET, &path(&id), None).await?;
                show(&client.context("empty answer")?)?;
            }
            ClientsAction::Update { id, fields } => {
                let current = api
                    .call(Method::GET, &path(&id), None)
                    .await?
                    .context("empty answer")?;
                let mut body = editable(&current);
                fields.apply(&mut body);
                let updated = api
                    .call(Method::PUT, &path(&id), Some(&Value::Object(body)))
                    .await?;
                show(&updated.context("empty answer")?)?;
            }
            ClientsAction::Deactivate { id } => {
                let current = api
                    .call(Method::GET, &path(&id), None)
                    .await?
                    .context("empty answer")?;
                let mut body = editable(&current);
                body.insert("active".into(), false.into());
                let updated = api
                    .call(Method::PUT, &path(&id), Some(&Value::Object(body)))
                    .await?;
                show(&updated.context("empty answer")?)?;
            }
            ClientsAction::Delete { id } => {
                api.call(Method::DELETE, &path(&id), None).await?;
                if !json_out {
                    println!("deleted client {id}");
                }
            }
        }
        Ok(())
    }
}
