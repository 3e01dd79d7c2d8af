//! A small client for the admin API, turning its error bodies into readable messages.

use anyhow::{Context, bail};
use clap::Args;
use gatehouse_domain::secret::Secret;
use reqwest::{Method, StatusCode};
use serde_json::Value;

#[derive(Debug, Clone, Args)]
pub struct AdminArgs {
    /// Admin API base URL.
    #[arg(
        long,
        env = "GATEHOUSE_ADMIN_ENDPOINT",
        default_value = "http://127.0.0.1:4434",
        global = true
    )]
    pub endpoint: String,
    /// Admin bearer token.
    #[arg(
        long,
        env = "GATEHOUSE_ADMIN_TOKEN",
        hide_env_values = true,
        global = true
    )]
    pub admin_token: Option<Secret>,
    /// Print JSON instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
}

pub struct AdminClient {
    endpoint: String,
    token: String,
    http: reqwest::Client,
}

impl AdminClient {
    pub fn new(args: &AdminArgs) -> anyhow::Result<Self> {
        let token = args
            .admin_token
            .as_ref()
            .map(|t| t.expose().to_owned())
            .filter(|t| !t.is_empty())
            .context(
                "no admin token: set GATEHOUSE_ADMIN_TOKEN (printed by `gatehouse serve --dev`)",
            )?;
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()?;
        Ok(Self {
            endpoint: args.endpoint.trim_end_matches('/').to_owned(),
            token,
            http,
        })
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<Option<Value>> {
        let url = format!("{}{path}", self.endpoint);
        let mut request = self.http.request(method, &url).bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("cannot reach the admin API at {}", self.endpoint))?;
        let status = response.status();
        if status == StatusCode::NO_CONTENT {
            return Ok(None);
        }
        let text = response
            .text()
            .await
            .context("cannot read the admin API answer")?;
        if status.is_success() {
            return Ok(Some(
                serde_json::from_str(&text).context("the admin API answered with invalid JSON")?,
            ));
        }
        let reason = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| v["error"]["reason"].as_str().map(str::to_owned))
            .unwrap_or(text);
        match status {
            StatusCode::UNAUTHORIZED => {
                bail!("the admin API refused the token (401): check GATEHOUSE_ADMIN_TOKEN")
            }
            _ => bail!("{} ({})", reason, status.as_u16()),
        }
    }
}
