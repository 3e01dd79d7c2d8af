//! `app-api`: the example resource server, configured by `APP_API_ISSUER`, `APP_API_AUDIENCE`
//! (optional) and `APP_API_ADDR` (default `127.0.0.1:5000`).

use gatehouse_example_app_api::{Settings, StartError, run};
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let result = match settings_from_env() {
        Ok(settings) => run(settings).await,
        Err(error) => Err(error),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let mut message = error.to_string();
            let mut source = std::error::Error::source(&error);
            while let Some(cause) = source {
                message.push_str(&format!(": {cause}"));
                source = cause.source();
            }
            tracing::error!("{message}");
            ExitCode::FAILURE
        }
    }
}

#[expect(
    clippy::disallowed_methods,
    reason = "the example's one reader of its environment"
)]
fn settings_from_env() -> Result<Settings, StartError> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let mut settings = Settings::new(var("APP_API_ISSUER").ok_or(StartError::MissingIssuer)?);
    settings.audience = var("APP_API_AUDIENCE");
    if let Some(addr) = var("APP_API_ADDR") {
        settings.addr = addr.parse().map_err(|_| StartError::InvalidAddr(addr))?;
    }
    Ok(settings)
}
