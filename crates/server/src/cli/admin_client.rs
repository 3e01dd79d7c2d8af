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

    /// Sends a request and returns the status, headers and JSON body whatever the status;
    /// only a transport failure or a 401 is an error.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<Answer> {
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
        let headers = response.headers().clone();
        if status == StatusCode::UNAUTHORIZED {
            bail!("the admin API refused the token (401): check GATEHOUSE_ADMIN_TOKEN");
        }
        let text = response
            .text()
            .await
            .context("cannot read the admin API answer")?;
        let body = if status == StatusCode::NO_CONTENT || text.is_empty() {
            None
        } else if status.is_success() {
            Some(serde_json::from_str(&text).context("the admin API answered with invalid JSON")?)
        } else {
            Some(serde_json::from_str(&text).unwrap_or(Value::String(text)))
        };
        Ok(Answer {
            status,
            headers,
            body,
        })
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<Option<Value>> {
        let answer = self.send(method, path, body).await?;
        if answer.status.is_success() {
            return Ok(answer.body);
        }
        bail!("{} ({})", answer.reason(), answer.status.as_u16())
    }
}

/// An admin API answer.
pub struct Answer {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Option<Value>,
}

impl Answer {
    /// The `reason` of an error body, or the body as text.
    pub fn reason(&self) -> String {
        match &self.body {
            Some(Value::String(text)) => text.clone(),
            Some(body) => body["error"]["reason"]
                .as_str()
                .map_or_else(|| body.to_string(), str::to_owned),
            None => format!("status {}", self.status.as_u16()),
        }
    }
}
