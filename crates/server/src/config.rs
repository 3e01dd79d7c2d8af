//! Configuration: a TOML file (`--config` / `GATEHOUSE_CONFIG`) overlaid by `GATEHOUSE_*`
//! environment variables and flags (clap reads both; the environment wins over the file).
//! This is the only module that reads files or the environment for settings.

use anyhow::{Context, bail};
use clap::Args;
use gatehouse_domain::oauth::duration::parse_duration;
use gatehouse_domain::secret::Secret;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;
use time::Duration;
use url::Url;

/// Options of `gatehouse serve`. Every option can also be set in the TOML file.
#[derive(Debug, Clone, Default, Args)]
pub struct ServeArgs {
    /// TOML configuration file.
    #[arg(long, env = "GATEHOUSE_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Development mode: SQLite by default, migrations applied, secrets and admin token generated
    /// and kept in the database, plain-HTTP issuer allowed. Never use in production.
    #[arg(long)]
    pub dev: bool,
    /// Database: sqlite://PATH or postgres://USER@HOST/DB [dev default: sqlite://gatehouse-dev.db].
    #[arg(
        long,
        env = "GATEHOUSE_DATABASE_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    pub database_url: Option<Secret>,
    /// Public listener (OAuth 2.0, discovery, health) [default: 127.0.0.1:4433].
    #[arg(long, env = "GATEHOUSE_PUBLIC_ADDR", value_name = "ADDR")]
    pub public_addr: Option<SocketAddr>,
    /// Admin listener (admin API, metrics, health) [default: 127.0.0.1:4434].
    #[arg(long, env = "GATEHOUSE_ADMIN_ADDR", value_name = "ADDR")]
    pub admin_addr: Option<SocketAddr>,
    /// Public base URL: the `iss` of every token; https outside --dev unless loopback
    /// [dev default: http:// and the public address].
    #[arg(long, env = "GATEHOUSE_ISSUER", value_name = "URL")]
    pub issuer: Option<String>,
    /// Bearer token the admin API requires [dev: generated and printed].
    #[arg(
        long,
        env = "GATEHOUSE_ADMIN_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub admin_token: Option<Secret>,
    /// Cookie signing keys, comma-separated, current first (each at least 32 characters).
    #[arg(
        long,
        env = "GATEHOUSE_SECRETS_COOKIE",
        value_name = "SECRETS",
        hide_env_values = true
    )]
    pub secrets_cookie: Option<Secret>,
    /// Keys encrypting secrets at rest, comma-separated, current first (each at least 32 characters).
    #[arg(
        long,
        env = "GATEHOUSE_SECRETS_CIPHER",
        value_name = "SECRETS",
        hide_env_values = true
    )]
    pub secrets_cipher: Option<Secret>,
    /// Outgoing mail: smtp://user:pass@host:port or smtps://… (unset: messages stay in the outbox).
    #[arg(
        long,
        env = "GATEHOUSE_SMTP_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    pub smtp_url: Option<Secret>,
    /// Log filter, e.g. `info` or `gatehouse_web=debug,info` [default: info].
    #[arg(long, env = "GATEHOUSE_LOG", value_name = "FILTER")]
    pub log: Option<String>,
    /// Log format: pretty or json [default: pretty].
    #[arg(long, env = "GATEHOUSE_LOG_FORMAT", value_name = "FORMAT")]
    pub log_format: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    database_url: Option<Secret>,
    public_addr: Option<SocketAddr>,
    admin_addr: Option<SocketAddr>,
    issuer: Option<String>,
    admin_token: Option<Secret>,
    #[serde(default)]
    secrets: SecretsFile,
    #[serde(default)]
    log: LogFile,
    #[serde(default)]
    smtp: SmtpFile,
    #[serde(default)]
    oauth2: OAuth2File,
    #[serde(default)]
    database: DatabaseFile,
    #[serde(default)]
    throttling: ThrottlingFile,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ThrottlingFile {
    login_failures_per_identifier: Option<u32>,
    login_failures_per_ip: Option<u32>,
    login_failure_window: Option<String>,
    login_max_backoff: Option<String>,
    self_service_per_ip_per_minute: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SecretsFile {
    cookie: Option<Vec<Secret>>,
    cipher: Option<Vec<Secret>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LogFile {
    level: Option<String>,
    format: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SmtpFile {
    url: Option<Secret>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DatabaseFile {
    max_connections: Option<u32>,
    cleanup_interval: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct OAuth2File {
    access_token_lifespan: Option<String>,
    id_token_lifespan: Option<String>,
    refresh_token_lifespan: Option<String>,
    max_token_lifespan: Option<String>,
    key_publish_ahead: Option<String>,
    client_cache_ttl: Option<String>,
    #[serde(default)]
    registration: RegistrationFile,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RegistrationFile {
    enabled: Option<bool>,
    initial_access_token: Option<Secret>,
    per_ip_per_hour: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

/// The resolved configuration.
#[derive(Clone)]
pub struct Config {
    pub dev: bool,
    pub database_url: String,
    pub max_connections: u32,
    pub public_addr: SocketAddr,
    pub admin_addr: SocketAddr,
    /// `None` in `--dev` until the server has looked at its database.
    pub issuer: Option<Url>,
    pub admin_token: Option<String>,
    pub cookie_secrets: Vec<String>,
    pub cipher_secrets: Vec<String>,
    pub smtp_url: Option<String>,
    pub log: String,
    pub log_format: LogFormat,
    pub access_token_lifespan: Duration,
    pub id_token_lifespan: Duration,
    pub refresh_token_lifespan: Duration,
    pub max_token_lifespan: Duration,
    pub key_publish_ahead: Duration,
    pub client_cache_ttl: Duration,
    pub cleanup_interval: Duration,
    pub registration_enabled: bool,
    pub registration_initial_access_token: Option<String>,
    pub registration_per_ip_per_hour: u32,
    /// `[throttling]`: failed logins per identifier and per address, and the self-service budget.
    pub throttling: gatehouse_web::throttle::ThrottleSettings,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("dev", &self.dev)
            .field("public_addr", &self.public_addr)
            .field("admin_addr", &self.admin_addr)
            .field("issuer", &self.issuer.as_ref().map(Url::as_str))
            .finish_non_exhaustive()
    }
}

fn split_list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn duration(name: &str, value: Option<&str>, default: Duration) -> anyhow::Result<Duration> {
    match value {
        None => Ok(default),
        Some(v) => {
            let d = parse_duration(v).with_context(|| format!("configuration {name}"))?;
            if d <= Duration::ZERO {
                bail!("configuration {name} must be positive");
            }
            Ok(d)
        }
    }
}

/// `[throttling]`, over the defaults of DESIGN.md §2.
fn throttling(file: &ThrottlingFile) -> anyhow::Result<gatehouse_web::throttle::ThrottleSettings> {
    let mut t = gatehouse_web::throttle::ThrottleSettings::default();
    let window = duration(
        "throttling.login_failure_window",
        file.login_failure_window.as_deref(),
        t.per_identifier.window,
    )?;
    let max_backoff = duration(
        "throttling.login_max_backoff",
        file.login_max_backoff.as_deref(),
        t.per_identifier.max_backoff,
    )?;
    for policy in [&mut t.per_identifier, &mut t.per_ip] {
        policy.window = window;
        policy.max_backoff = max_backoff;
    }
    t.per_identifier.limit = file
        .login_failures_per_identifier
        .unwrap_or(t.per_identifier.limit);
    t.per_ip.limit = file.login_failures_per_ip.unwrap_or(t.per_ip.limit);
    t.self_service_per_ip_per_minute = file
        .self_service_per_ip_per_minute
        .unwrap_or(t.self_service_per_ip_per_minute);
    if t.per_identifier.limit == 0 || t.per_ip.limit == 0 || t.self_service_per_ip_per_minute == 0 {
        bail!("throttling limits must be at least 1");
    }
    Ok(t)
}

/// Whether a URL points at this machine (where plain HTTP is acceptable).
pub fn is_loopback(url: &Url) -> bool {
    gatehouse_domain::oauth::redirect_uri::is_loopback(url)
}

impl Config {
    /// Resolves flags and environment (already merged by clap) over the file.
    pub fn load(args: &ServeArgs) -> anyhow::Result<Self> {
        let file: FileConfig = match &args.config {
            Some(path) => {
                let text = std::fs::read_to_string(path).with_context(|| {
                    format!("cannot read configuration file {}", path.display())
                })?;
                toml::from_str(&text)
                    .with_context(|| format!("invalid configuration file {}", path.display()))?
            }
            None => FileConfig::default(),
        };
        let dev = args.dev;
        let database_url = match args.database_url.clone().or(file.database_url) {
            Some(url) => url.expose().to_owned(),
            None if dev => "sqlite://gatehouse-dev.db".to_owned(),
            None => bail!(
                "no database configured: set GATEHOUSE_DATABASE_URL (sqlite://PATH or postgres://…) or use --dev"
            ),
        };
        let public_addr = args
            .public_addr
            .or(file.public_addr)
            .unwrap_or_else(|| ([127, 0, 0, 1], 4433).into());
        let admin_addr = args
            .admin_addr
            .or(file.admin_addr)
            .unwrap_or_else(|| ([127, 0, 0, 1], 4434).into());
        let issuer = match args.issuer.clone().or(file.issuer) {
            Some(raw) => {
                let url = Url::parse(&raw)
                    .with_context(|| format!("GATEHOUSE_ISSUER {raw:?} is not an absolute URL"))?;
                if !matches!(url.scheme(), "http" | "https")
                    || url.query().is_some()
                    || url.fragment().is_some()
                {
                    bail!("GATEHOUSE_ISSUER must be an http(s) URL without query or fragment");
                }
                if url.scheme() == "http" && !dev && !is_loopback(&url) {
                    bail!(
                        "GATEHOUSE_ISSUER {raw:?} uses plain HTTP on a non-loopback host; use https (or --dev for local work)"
                    );
                }
                Some(url)
            }
            None if dev => None,
            None => bail!(
                "GATEHOUSE_ISSUER is required: the public https URL clients use to reach this server"
            ),
        };
        let admin_token = args
            .admin_token
            .clone()
            .or(file.admin_token)
            .map(|t| t.expose().to_owned())
            .filter(|t| !t.is_empty());
        let exposed = |list: Vec<Secret>| -> Vec<String> {
            list.iter().map(|s| s.expose().to_owned()).collect()
        };
        let cookie_secrets = args
            .secrets_cookie
            .as_ref()
            .map(|s| split_list(s.expose()))
            .or(file.secrets.cookie.map(exposed))
            .unwrap_or_default();
        let cipher_secrets = args
            .secrets_cipher
            .as_ref()
            .map(|s| split_list(s.expose()))
            .or(file.secrets.cipher.map(exposed))
            .unwrap_or_default();
        if !dev {
            if admin_token.as_ref().is_none_or(|t| t.len() < 16) {
                bail!("GATEHOUSE_ADMIN_TOKEN is required (at least 16 characters) outside --dev");
            }
            if cookie_secrets.is_empty() {
                bail!(
                    "GATEHOUSE_SECRETS_COOKIE is required outside --dev (comma-separated, current first)"
                );
            }
            if cipher_secrets.is_empty() {
                bail!(
                    "GATEHOUSE_SECRETS_CIPHER is required outside --dev (comma-separated, current first)"
                );
            }
        }
        for (name, list) in [
            ("GATEHOUSE_SECRETS_COOKIE", &cookie_secrets),
            ("GATEHOUSE_SECRETS_CIPHER", &cipher_secrets),
        ] {
            if list.iter().any(|s| s.len() < 32) {
                bail!("every secret in {name} must be at least 32 characters");
            }
        }
        let log_format = match args.log_format.clone().or(file.log.format).as_deref() {
            None | Some("pretty") => LogFormat::Pretty,
            Some("json") => LogFormat::Json,
            Some(other) => bail!("GATEHOUSE_LOG_FORMAT {other:?} must be pretty or json"),
        };
        let o = &file.oauth2;
        let access_token_lifespan = duration(
            "oauth2.access_token_lifespan",
            o.access_token_lifespan.as_deref(),
            Duration::hours(1),
        )?;
        let id_token_lifespan = duration(
            "oauth2.id_token_lifespan",
            o.id_token_lifespan.as_deref(),
            Duration::hours(1),
        )?;
        let max_token_lifespan = duration(
            "oauth2.max_token_lifespan",
            o.max_token_lifespan.as_deref(),
            Duration::hours(24)
                .max(access_token_lifespan)
                .max(id_token_lifespan),
        )?;
        if access_token_lifespan > max_token_lifespan || id_token_lifespan > max_token_lifespan {
            bail!("oauth2.max_token_lifespan must be at least the access and ID token lifespans");
        }
        let throttling = throttling(&file.throttling)?;
        Ok(Self {
            throttling,
            dev,
            database_url,
            max_connections: file.database.max_connections.unwrap_or(16).max(1),
            public_addr,
            admin_addr,
            issuer,
            admin_token,
            cookie_secrets,
            cipher_secrets,
            smtp_url: args
                .smtp_url
                .clone()
                .or(file.smtp.url)
                .map(|u| u.expose().to_owned())
                .filter(|u| !u.is_empty()),
            log: args
                .log
                .clone()
                .or(file.log.level)
                .unwrap_or_else(|| "info".to_owned()),
            log_format,
            access_token_lifespan,
            id_token_lifespan,
            refresh_token_lifespan: duration(
                "oauth2.refresh_token_lifespan",
                o.refresh_token_lifespan.as_deref(),
                Duration::days(30),
            )?,
            max_token_lifespan,
            key_publish_ahead: duration(
                "oauth2.key_publish_ahead",
                o.key_publish_ahead.as_deref(),
                Duration::seconds(30),
            )?,
            client_cache_ttl: duration(
                "oauth2.client_cache_ttl",
                o.client_cache_ttl.as_deref(),
                Duration::seconds(5),
            )?,
            cleanup_interval: duration(
                "database.cleanup_interval",
                file.database.cleanup_interval.as_deref(),
                Duration::minutes(1),
            )?,
            registration_enabled: o.registration.enabled.unwrap_or(true),
            registration_initial_access_token: o
                .registration
                .initial_access_token
                .as_ref()
                .map(|t| t.expose().to_owned())
                .filter(|t| !t.is_empty()),
            registration_per_ip_per_hour: o.registration.per_ip_per_hour.unwrap_or(20),
        })
    }

    /// A configuration for tests: dev mode on a given database, random loopback ports.
    pub fn for_tests(database_url: &str) -> Self {
        let mut config = Self::load(&ServeArgs {
            dev: true,
            database_url: Some(database_url.into()),
            public_addr: Some(([127, 0, 0, 1], 0).into()),
            admin_addr: Some(([127, 0, 0, 1], 0).into()),
            ..ServeArgs::default()
        })
        .expect("the test configuration is valid");
        config.admin_token = Some("test-admin-token-0123456789".to_owned());
        config
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> ServeArgs {
        ServeArgs {
            database_url: Some("sqlite://x.db".into()),
            issuer: Some("https://id.example.com".into()),
            admin_token: Some("admin-token-0123456789".into()),
            secrets_cookie: Some("c".repeat(32).into()),
            secrets_cipher: Some(format!("{},{}", "a".repeat(32), "b".repeat(32)).into()),
            ..ServeArgs::default()
        }
    }

    #[test]
    fn production_config_resolves() {
        let config = Config::load(&args()).expect("valid");
        assert_eq!(config.cipher_secrets.len(), 2);
        assert_eq!(config.public_addr.port(), 4433);
        assert_eq!(config.admin_addr.port(), 4434);
    }

    #[test]
    fn refuses_missing_secrets_and_plain_http_outside_dev() {
        let mut a = args();
        a.secrets_cipher = None;
        assert!(
            Config::load(&a)
                .expect_err("fails")
                .to_string()
                .contains("GATEHOUSE_SECRETS_CIPHER")
        );
        let mut a = args();
        a.issuer = Some("http://id.example.com".into());
        assert!(
            Config::load(&a)
                .expect_err("fails")
                .to_string()
                .contains("plain HTTP")
        );
        let mut a = args();
        a.issuer = Some("http://127.0.0.1:4433".into());
        assert!(Config::load(&a).is_ok());
        let mut a = args();
        a.admin_token = None;
        assert!(
            Config::load(&a)
                .expect_err("fails")
                .to_string()
                .contains("GATEHOUSE_ADMIN_TOKEN")
        );
        let mut a = args();
        a.secrets_cookie = Some("short".into());
        assert!(Config::load(&a).is_err());
    }

    #[test]
    fn debug_output_never_shows_secrets() {
        let shown = format!("{:?} {:?}", args(), Config::load(&args()).expect("valid"));
        for secret in [
            "admin-token-0123456789",
            &"c".repeat(32),
            &"a".repeat(32),
            "sqlite://x.db",
        ] {
            assert!(!shown.contains(secret), "{secret} leaked into {shown}");
        }
    }

    #[test]
    fn dev_needs_nothing() {
        let config = Config::load(&ServeArgs {
            dev: true,
            ..ServeArgs::default()
        })
        .expect("valid");
        assert_eq!(config.database_url, "sqlite://gatehouse-dev.db");
        assert!(config.issuer.is_none());
    }

    #[test]
    fn file_values_are_read_and_unknown_keys_refused() {
        let dir = std::env::temp_dir().join(format!("gatehouse-config-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("gatehouse.toml");
        std::fs::write(
            &path,
            "issuer = \"https://file.example\"\n[oauth2]\naccess_token_lifespan = \"15m\"\n",
        )
        .expect("writes");
        let mut a = args();
        a.issuer = None;
        a.config = Some(path.clone());
        let config = Config::load(&a).expect("valid");
        assert_eq!(
            config.issuer.expect("set").as_str(),
            "https://file.example/"
        );
        assert_eq!(config.access_token_lifespan, Duration::minutes(15));
        std::fs::write(
            &path,
            "issuer = \"https://file.example\"\n[throttling]\nlogin_failures_per_identifier = 3\nlogin_failure_window = \"5m\"\nself_service_per_ip_per_minute = 7\n",
        )
        .expect("writes");
        let t = Config::load(&a).expect("valid").throttling;
        assert_eq!(t.per_identifier.limit, 3);
        assert_eq!(t.per_ip.limit, 20);
        assert_eq!(t.per_ip.window, Duration::minutes(5));
        assert_eq!(t.self_service_per_ip_per_minute, 7);
        std::fs::write(
            &path,
            "issuer = \"https://file.example\"\n[throttling]\nlogin_failures_per_ip = 0\n",
        )
        .expect("writes");
        assert!(Config::load(&a).is_err());
        std::fs::write(&path, "isuer = \"typo\"\n").expect("writes");
        assert!(Config::load(&a).is_err());
    }
}
