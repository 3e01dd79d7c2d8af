//! `gatehouse identities import|list|get|delete`, over the admin API.
//!
//! `import FILE.jsonl` reads one admin identity body per line (Kratos shape, with a plaintext
//! `password` or an imported `hashed_password`), shows a progress bar on a terminal, and prints
//! a summary. An identity whose identifier already exists is skipped, so a re-run is harmless.

use super::admin_client::{AdminArgs, AdminClient};
use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use comfy_table::Table;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;

/// Requests in flight during an import (hashing plaintext passwords is the server's slow part).
const IMPORT_CONCURRENCY: usize = 4;

#[derive(Debug, Args)]
pub struct IdentitiesCommand {
    #[command(subcommand)]
    action: IdentitiesAction,
    #[command(flatten)]
    admin: AdminArgs,
}

#[derive(Debug, Subcommand)]
enum IdentitiesAction {
    /// Import identities from a JSON Lines file: one admin identity body per line.
    Import { file: PathBuf },
    /// List identities.
    List {
        #[arg(long)]
        page_size: Option<u32>,
        #[arg(long)]
        page_token: Option<String>,
        /// Only the identity that signs in with this identifier (email).
        #[arg(long)]
        identifier: Option<String>,
    },
    /// Show one identity.
    Get { id: String },
    /// Delete an identity (its sessions go with it).
    Delete { id: String },
}

/// The outcome of one line of an import.
enum Outcome {
    Created,
    Skipped,
    Failed(String),
}

fn encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

fn print_identities(identities: &[Value]) {
    let mut table = Table::new();
    table.set_header(["ID", "IDENTIFIER", "STATE", "SCHEMA", "CREATED"]);
    for i in identities {
        let identifier = i["verifiable_addresses"][0]["value"]
            .as_str()
            .or_else(|| i["traits"]["email"].as_str())
            .unwrap_or_default();
        table.add_row([
            i["id"].as_str().unwrap_or_default(),
            identifier,
            i["state"].as_str().unwrap_or_default(),
            i["schema_id"].as_str().unwrap_or_default(),
            i["created_at"].as_str().unwrap_or_default(),
        ]);
    }
    println!("{table}");
}

async fn import_line(api: &AdminClient, line: &str) -> Outcome {
    let body: Value = match serde_json::from_str(line) {
        Ok(body) => body,
        Err(e) => return Outcome::Failed(format!("invalid JSON: {e}")),
    };
    match api
        .send(Method::POST, "/admin/identities", Some(&body))
        .await
    {
        Ok(answer) if answer.status == StatusCode::CREATED => Outcome::Created,
        Ok(answer) if answer.status == StatusCode::CONFLICT => Outcome::Skipped,
        Ok(answer) => Outcome::Failed(format!("{} ({})", answer.reason(), answer.status.as_u16())),
        Err(e) => Outcome::Failed(format!("{e:#}")),
    }
}

async fn import(api: AdminClient, file: &PathBuf, json_out: bool) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let lines: Vec<(usize, String)> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| (i + 1, l.to_owned()))
        .collect();
    let progress = if std::io::stderr().is_terminal() {
        ProgressBar::with_draw_target(Some(lines.len() as u64), ProgressDrawTarget::stderr())
    } else {
        ProgressBar::hidden()
    };
    progress.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} identities ({eta} left)")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let api = Arc::new(api);
    let permits = Arc::new(tokio::sync::Semaphore::new(IMPORT_CONCURRENCY));
    let mut tasks = tokio::task::JoinSet::new();
    let mut results = Vec::new();
    for (number, line) in lines {
        let permit = permits.clone().acquire_owned().await?;
        let api = api.clone();
        tasks.spawn(async move {
            let outcome = import_line(&api, &line).await;
            drop(permit);
            (number, outcome)
        });
        // Collect what has finished so the bar moves while lines are still queued.
        while let Some(done) = tasks.try_join_next() {
            progress.inc(1);
            results_push(&mut results, done)?;
        }
    }
    while let Some(done) = tasks.join_next().await {
        progress.inc(1);
        results_push(&mut results, done)?;
    }
    progress.finish_and_clear();
    summarize(results, json_out)
}

fn results_push(
    results: &mut Vec<(usize, Outcome)>,
    done: Result<(usize, Outcome), tokio::task::JoinError>,
) -> anyhow::Result<()> {
    results.push(done.context("an import task failed")?);
    Ok(())
}

fn summarize(mut results: Vec<(usize, Outcome)>, json_out: bool) -> anyhow::Result<()> {
    results.sort_by_key(|(line, _)| *line);
    let created = results
        .iter()
        .filter(|(_, o)| matches!(o, Outcome::Created))
        .count();
    let skipped = results
        .iter()
        .filter(|(_, o)| matches!(o, Outcome::Skipped))
        .count();
    let failed: Vec<(usize, &str)> = results
        .iter()
        .filter_map(|(line, o)| match o {
            Outcome::Failed(reason) => Some((*line, reason.as_str())),
            _ => None,
        })
        .collect();
    if json_out {
        let failures: Vec<Value> = failed
            .iter()
            .map(|(line, reason)| json!({"line": line, "reason": reason}))
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "created": created, "skipped": skipped, "failed": failures,
            }))?
        );
    } else {
        println!(
            "created {created}, skipped {skipped} (already present), failed {}",
            failed.len()
        );
        for (line, reason) in &failed {
            println!("  line {line}: {reason}");
        }
    }
    if !failed.is_empty() {
        bail!("{} of the identities could not be imported", failed.len());
    }
    Ok(())
}

impl IdentitiesCommand {
    pub async fn run(self) -> anyhow::Result<()> {
        let api = AdminClient::new(&self.admin)?;
        let json_out = self.admin.json;
        match self.action {
            IdentitiesAction::Import { file } => import(api, &file, json_out).await?,
            IdentitiesAction::List {
                page_size,
                page_token,
                identifier,
            } => {
                let mut query = vec![];
                if let Some(n) = page_size {
                    query.push(format!("page_size={n}"));
                }
                if let Some(t) = page_token {
                    query.push(format!("page_token={}", encode(&t)));
                }
                if let Some(i) = identifier {
                    query.push(format!("credentials_identifier={}", encode(&i)));
                }
                let path = format!("/admin/identities?{}", query.join("&"));
                let answer = api.send(Method::GET, &path, None).await?;
                if !answer.status.is_success() {
                    bail!("{} ({})", answer.reason(), answer.status.as_u16());
                }
                let identities = answer.body.unwrap_or_default();
                let next = answer
                    .headers
                    .get(reqwest::header::LINK)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|link| link.split("page_token=").nth(1))
                    .and_then(|rest| rest.split(['&', '>']).next())
                    .map(str::to_owned);
                if json_out {
                    println!("{}", serde_json::to_string_pretty(&identities)?);
                } else {
                    print_identities(identities.as_array().map(Vec::as_slice).unwrap_or_default());
                    if let Some(next) = next {
                        println!("more: --page-token {next}");
                    }
                }
            }
            IdentitiesAction::Get { id } => {
                let identity = api
                    .call(
                        Method::GET,
                        &format!("/admin/identities/{}", encode(&id)),
                        None,
                    )
                    .await?
                    .context("empty answer")?;
                if json_out {
                    println!("{}", serde_json::to_string_pretty(&identity)?);
                } else {
                    print_identities(std::slice::from_ref(&identity));
                }
            }
            IdentitiesAction::Delete { id } => {
                api.call(
                    Method::DELETE,
                    &format!("/admin/identities/{}", encode(&id)),
                    None,
                )
                .await?;
                if !json_out {
                    println!("deleted identity {id}");
                }
            }
        }
        Ok(())
    }
}
