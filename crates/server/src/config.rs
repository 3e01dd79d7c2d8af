//! Configuration: a TOML file (`--config` / `GATEHOUSE_CONFIG`) overlaid by `GATEHOUSE_*`
//! environment variables and flags (clap reads both; the environment wins over the file).
//! This is the only module that reads files or the environment for settings.

mod webhooks;

use anyhow::{Context, bail};
use clap::Args;
use gatehouse_domain::identity::password::HashParams;
use gatehouse_domain::identity::schema::{DEFAULT_SCHEMA_ID, SchemaRegistry};
use gatehouse_domain::oauth::duration::parse_duration;
use gatehouse_domain::secret::Secret;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
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
    /// Reverse proxies (IPs or CIDRs, comma-separated) whose X-Forwarded-For names the client
    /// [default: none, the header is ignored].
    #[arg(long, env = "GATEHOUSE_TRUSTED_PROXIES", value_name = "CIDRS")]
    pub trusted_proxies: Option<String>,
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
    /// Extra CA certificates (PEM) trusted for the SMTP server's TLS certificate, besides the
    /// system's roots.
    #[arg(long, env = "GATEHOUSE_SMTP_CA_FILE", value_name = "FILE")]
    pub smtp_ca_file: Option<PathBuf>,
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
    trusted_proxies: Vec<String>,
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
    identity: IdentityFile,
    #[serde(default)]
    passwords: PasswordsFile,
    #[serde(default)]
    throttling: ThrottlingFile,
    #[serde(default)]
    session: SessionFile,
    #[serde(default)]
    ui: UiFile,
    #[serde(default)]
    selfservice: SelfServiceFile,
    #[serde(default)]
    courier: CourierFile,
    /// `[[webhooks]]`: one table per hook.
    #[serde(default)]
    webhooks: Vec<webhooks::WebhookFile>,
    #[serde(default)]
    webhook_delivery: webhooks::DeliveryFile,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CourierFile {
    /// Files here (`registration_code.subject.txt`, `…body.txt`, …) replace the built-in
    /// message templates by name.
    templates_dir: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct IdentityFile {
    /// Schema id -> JSON Schema file (relative paths are relative to the configuration file).
    #[serde(default)]
    schemas: BTreeMap<String, PathBuf>,
    default_schema_id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SelfServiceFile {
    flow_lifespan: Option<String>,
    #[serde(default)]
    allowed_return_urls: Vec<String>,
    default_return_to: Option<String>,
    #[serde(default)]
    registration: SelfServiceRegistrationFile,
    #[serde(default)]
    recovery: SelfServiceCodeFile,
    #[serde(default)]
    verification: SelfServiceCodeFile,
    #[serde(default)]
    settings: SelfServiceSettingsFile,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SelfServiceCodeFile {
    /// How long an emailed code is accepted.
    code_lifespan: Option<String>,
    /// How many codes one address may be sent per hour.
    codes_per_address_per_hour: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SelfServiceSettingsFile {
    /// How recent a sign-in must be to change the password or the email address.
    privileged_session_max_age: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SessionFile {
    lifetime: Option<String>,
    idle_timeout: Option<String>,
    cookie_name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PasswordsFile {
    min_score: Option<u8>,
    memory_kib: Option<u32>,
    iterations: Option<u32>,
    parallelism: Option<u32>,
    max_concurrent: Option<usize>,
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
struct UiFile {
    templates_dir: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SelfServiceRegistrationFile {
    /// `verification` (default) or `registration`.
    session_after: Option<String>,
}

/// `[selfservice]`: the login and registration flows.
#[derive(Debug, Clone)]
pub struct SelfServiceConfig {
    pub flow_lifespan: Duration,
    /// Absolute URLs `return_to` may point into (besides the issuer's own pages).
    pub allowed_return_urls: Vec<String>,
    pub default_return_to: Option<String>,
    /// `selfservice.registration.session_after = "registration"`: sign in at registration.
    pub session_after_registration: bool,
    /// `selfservice.recovery.code_lifespan` (default 15 min).
    pub recovery_code_lifespan: Duration,
    /// `selfservice.verification.code_lifespan` (default 1 h).
    pub verification_code_lifespan: Duration,
    /// `selfservice.recovery.codes_per_address_per_hour` (default 10).
    pub recovery_codes_per_hour: u32,
    /// `selfservice.verification.codes_per_address_per_hour` (default 10).
    pub verification_codes_per_hour: u32,
    /// `selfservice.settings.privileged_session_max_age` (default 15 min).
    pub privileged_session_max_age: Duration,
}

impl SelfServiceConfig {
    fn from_file(file: SelfServiceFile) -> anyhow::Result<Self> {
        for url in &file.allowed_return_urls {
            let parsed = Url::parse(url).with_context(|| {
                format!("selfservice.allowed_return_urls: {url:?} is not an absolute URL")
            })?;
            if !matches!(parsed.scheme(), "http" | "https") {
                bail!("selfservice.allowed_return_urls: {url:?} must be http or https");
            }
        }
        let session_after_registration = match file.registration.session_after.as_deref() {
            None | Some("verification") => false,
            Some("registration") => true,
            Some(other) => bail!(
                "selfservice.registration.session_after must be \"verification\" or \"registration\" (got {other:?})"
            ),
        };
        Ok(Self {
            flow_lifespan: duration(
                "selfservice.flow_lifespan",
                file.flow_lifespan.as_deref(),
                Duration::hours(1),
            )?,
            allowed_return_urls: file.allowed_return_urls,
            default_return_to: file.default_return_to,
            session_after_registration,
            recovery_code_lifespan: duration(
                "selfservice.recovery.code_lifespan",
                file.recovery.code_lifespan.as_deref(),
                Duration::minutes(15),
            )?,
            verification_code_lifespan: duration(
                "selfservice.verification.code_lifespan",
                file.verification.code_lifespan.as_deref(),
                Duration::hours(1),
            )?,
            recovery_codes_per_hour: file.recovery.codes_per_address_per_hour.unwrap_or(10),
            verification_codes_per_hour: file.verification.codes_per_address_per_hour.unwrap_or(10),
            privileged_session_max_age: duration(
                "selfservice.settings.privileged_session_max_age",
                file.settings.privileged_session_max_age.as_deref(),
                Duration::minutes(15),
            )?,
        })
    }
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
    /// The sender, e.g. `Example <no-reply@example.com>`.
    from: Option<String>,
    /// Extra CA certificates (PEM) to trust for the server's certificate (relative to the
    /// configuration file).
    ca_file: Option<PathBuf>,
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
    refresh_token_family_lifespan: Option<String>,
    refresh_token_reuse_grace: Option<String>,
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

/// Identity schemas and password hashing, resolved.
#[derive(Debug, Clone)]
pub struct IdentityConfig {
    /// The built-in `default` schema plus every configured one, compiled.
    pub schemas: Arc<SchemaRegistry>,
    pub default_schema_id: String,
    pub hash_params: HashParams,
    /// Lowest zxcvbn score (0-4) accepted for a chosen password.
    pub min_password_score: u8,
    /// Password hashes computed at once [default: the number of CPUs].
    pub max_concurrent_hashes: usize,
}

impl Default for IdentityConfig {
    fn default() -> Self {
        Self {
            schemas: Arc::new(SchemaRegistry::with_default()),
            default_schema_id: DEFAULT_SCHEMA_ID.to_owned(),
            hash_params: HashParams::default(),
            min_password_score: 3,
            max_concurrent_hashes: std::thread::available_parallelism().map_or(1, usize::from),
        }
    }
}

/// Reads and compiles identity schema files (`[identity] schemas = { id = "path.json" }`);
/// relative paths are taken from `base`. Any file that cannot be read or does not compile is an
/// error naming it.
pub fn load_schemas(
    files: &BTreeMap<String, PathBuf>,
    base: Option<&Path>,
) -> anyhow::Result<SchemaRegistry> {
    let mut registry = SchemaRegistry::with_default();
    for (id, path) in files {
        let path = match base {
            Some(dir) if path.is_relative() => dir.join(path),
            _ => path.clone(),
        };
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!("cannot read identity schema {id:?} from {}", path.display())
        })?;
        registry
            .insert_str(id, &text)
            .with_context(|| format!("identity schema file {}", path.display()))?;
    }
    Ok(registry)
}

impl IdentityConfig {
    fn resolve(
        identity: &IdentityFile,
        passwords: &PasswordsFile,
        base: Option<&Path>,
    ) -> anyhow::Result<Self> {
        let defaults = Self::default();
        let schemas = load_schemas(&identity.schemas, base)?;
        let default_schema_id = identity
            .default_schema_id
            .clone()
            .unwrap_or(defaults.default_schema_id);
        if !schemas.contains(&default_schema_id) {
            bail!(
                "identity.default_schema_id {default_schema_id:?} is not a configured schema (known: {})",
                schemas.ids().join(", ")
            );
        }
        let hash_params = HashParams {
            memory_kib: passwords
                .memory_kib
                .unwrap_or(defaults.hash_params.memory_kib),
            iterations: passwords
                .iterations
                .unwrap_or(defaults.hash_params.iterations),
            parallelism: passwords
                .parallelism
                .unwrap_or(defaults.hash_params.parallelism),
        };
        hash_params
            .validate()
            .context("configuration [passwords]")?;
        let min_password_score = passwords.min_score.unwrap_or(defaults.min_password_score);
        if min_password_score > 4 {
            bail!("passwords.min_score must be between 0 and 4");
        }
        let max_concurrent_hashes = passwords
            .max_concurrent
            .unwrap_or(defaults.max_concurrent_hashes);
        if max_concurrent_hashes == 0 {
            bail!("passwords.max_concurrent must be at least 1");
        }
        Ok(Self {
            schemas: Arc::new(schemas),
            default_schema_id,
            hash_params,
            min_password_score,
            max_concurrent_hashes,
        })
    }
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
    /// `[smtp] from`: the sender of courier messages (default `no-reply@` the issuer's host).
    pub smtp_from: Option<String>,
    /// `[smtp] ca_file` / `GATEHOUSE_SMTP_CA_FILE`, read: extra CA certificates (PEM) trusted
    /// for the SMTP server's certificate.
    pub smtp_ca_pem: Option<Vec<u8>>,
    pub log: String,
    pub log_format: LogFormat,
    pub access_token_lifespan: Duration,
    pub id_token_lifespan: Duration,
    pub refresh_token_lifespan: Duration,
    /// `oauth2.refresh_token_family_lifespan`: how long a refresh family lives at most, however
    /// often it rotates (90 days).
    pub refresh_token_family_lifespan: Duration,
    /// `oauth2.refresh_token_reuse_grace`: how long a used refresh token may be presented again
    /// without revoking its family, for clients that retry (0).
    pub refresh_token_reuse_grace: Duration,
    pub max_token_lifespan: Duration,
    pub key_publish_ahead: Duration,
    pub client_cache_ttl: Duration,
    pub cleanup_interval: Duration,
    pub registration_enabled: bool,
    pub registration_initial_access_token: Option<String>,
    pub registration_per_ip_per_hour: u32,
    pub identity: IdentityConfig,
    /// `[throttling]`: failed logins per identifier and per address, and the self-service budget.
    pub throttling: gatehouse_web::throttle::ThrottleSettings,
    /// `[session] lifetime`: absolute session lifetime.
    pub session_lifetime: Duration,
    /// `[session] idle_timeout`: a session unused this long ends.
    pub session_idle_timeout: Duration,
    /// `[session] cookie_name` (without the `__Host-` prefix https adds).
    pub session_cookie_name: String,
    /// `[ui] templates_dir`: templates read at start, replacing the embedded ones by name.
    pub ui_templates: Vec<(String, String)>,
    /// `[courier] templates_dir`: message templates read at start, replacing the built-in ones.
    pub courier_templates: Vec<(String, String)>,
    pub selfservice: SelfServiceConfig,
    /// Reverse proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<gatehouse_domain::ip_ban::IpNet>,
    /// `[[webhooks]]` and `[webhook_delivery]`, checked (templates included).
    pub webhooks: gatehouse_web::webhooks::WebhookSettings,
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

/// Every file under `dir`, by its path relative to `dir` with `/` separators.
fn read_templates(setting: &str, dir: &std::path::Path) -> anyhow::Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        let entries = std::fs::read_dir(&current)
            .with_context(|| format!("cannot read {setting} {}", current.display()))?;
        for entry in entries {
            let path = entry
                .with_context(|| format!("cannot read {setting} {}", current.display()))?
                .path();
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            let relative = path.strip_prefix(dir).unwrap_or(&path);
            let name = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            let source = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read template {}", path.display()))?;
            out.push((name, source));
        }
    }
    out.sort();
    Ok(out)
}

/// An environment variable the configuration file names (`secret_env`), if set and not empty.
#[expect(
    clippy::disallowed_methods,
    reason = "the configuration is where the environment is read"
)]
fn env_value(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
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
        let session_cookie_name = file
            .session
            .cookie_name
            .clone()
            .unwrap_or_else(|| "gatehouse_session".to_owned());
        if session_cookie_name.is_empty()
            || session_cookie_name.len() > 64
            || !session_cookie_name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            || session_cookie_name.starts_with("__")
        {
            bail!(
                "configuration session.cookie_name must be 1 to 64 letters, digits, '_' or '-' (the __Host- prefix is added for https)"
            );
        }
        let ui_templates = match &file.ui.templates_dir {
            Some(dir) => read_templates("ui.templates_dir", dir)?,
            None => Vec::new(),
        };
        let smtp_ca_file = match (&args.smtp_ca_file, &file.smtp.ca_file) {
            (Some(path), _) => Some(path.clone()),
            (None, Some(path)) => Some(match args.config.as_deref().and_then(Path::parent) {
                Some(dir) if path.is_relative() => dir.join(path),
                _ => path.clone(),
            }),
            (None, None) => None,
        };
        let smtp_ca_pem = smtp_ca_file
            .map(|path| {
                std::fs::read(&path).with_context(|| {
                    format!(
                        "cannot read the SMTP CA file (smtp.ca_file) {}",
                        path.display()
                    )
                })
            })
            .transpose()?;
        let courier_templates = match &file.courier.templates_dir {
            Some(dir) => read_templates("courier.templates_dir", dir)?,
            None => Vec::new(),
        };
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
        let config_dir = args.config.as_deref().and_then(Path::parent);
        let webhooks =
            webhooks::resolve(file.webhooks, &file.webhook_delivery, config_dir, env_value)?;
        Ok(Self {
            webhooks,
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
            smtp_from: file.smtp.from.clone(),
            smtp_ca_pem,
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
            refresh_token_family_lifespan: duration(
                "oauth2.refresh_token_family_lifespan",
                o.refresh_token_family_lifespan.as_deref(),
                Duration::days(90),
            )?,
            // Zero (the default) is allowed here: no grace at all.
            refresh_token_reuse_grace: match o.refresh_token_reuse_grace.as_deref() {
                None => Duration::ZERO,
                Some(v) => {
                    parse_duration(v).context("configuration oauth2.refresh_token_reuse_grace")?
                }
            },
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
            identity: IdentityConfig::resolve(
                &file.identity,
                &file.passwords,
                args.config.as_deref().and_then(Path::parent),
            )?,
            session_lifetime: duration(
                "session.lifetime",
                file.session.lifetime.as_deref(),
                Duration::hours(24),
            )?,
            session_idle_timeout: duration(
                "session.idle_timeout",
                file.session.idle_timeout.as_deref(),
                Duration::hours(8),
            )?,
            session_cookie_name,
            ui_templates,
            courier_templates,
            selfservice: SelfServiceConfig::from_file(file.selfservice)?,
            trusted_proxies: match &args.trusted_proxies {
                Some(list) => split_list(list),
                None => file.trusted_proxies,
            }
            .iter()
            .map(|net| {
                gatehouse_domain::ip_ban::IpNet::parse(net).map_err(|e| {
                    anyhow::anyhow!(
                        "GATEHOUSE_TRUSTED_PROXIES: {net:?} is not an IP address or CIDR: {e}"
                    )
                })
            })
            .collect::<anyhow::Result<_>>()?,
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
    fn identity_schemas_and_password_settings_come_from_the_file() {
        let dir = std::env::temp_dir().join(format!("gatehouse-config-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        std::fs::write(
            dir.join("staff.json"),
            r#"{"type": "object", "properties": {"email": {"type": "string", "format": "email",
                "gatehouse": {"identifier": true}}}, "required": ["email"]}"#,
        )
        .expect("writes");
        let path = dir.join("gatehouse.toml");
        std::fs::write(
            &path,
            "[identity]\nschemas = { staff = \"staff.json\" }\ndefault_schema_id = \"staff\"\n\
             [passwords]\nmin_score = 2\nmemory_kib = 32768\niterations = 3\nparallelism = 1\n",
        )
        .expect("writes");
        let mut a = args();
        a.config = Some(path.clone());
        let config = Config::load(&a).expect("valid");
        assert!(config.identity.schemas.contains("staff"));
        assert!(config.identity.schemas.contains("default"));
        assert_eq!(config.identity.default_schema_id, "staff");
        assert_eq!(config.identity.min_password_score, 2);
        assert_eq!(config.identity.hash_params.memory_kib, 32768);
        assert_eq!(config.identity.hash_params.iterations, 3);
        assert!(config.identity.max_concurrent_hashes >= 1);

        std::fs::write(dir.join("staff.json"), "{\"type\": ").expect("writes");
        let err = format!("{:#}", Config::load(&a).expect_err("broken schema"));
        assert!(
            err.contains("staff.json") && err.contains("not valid JSON"),
            "{err}"
        );
        std::fs::remove_file(dir.join("staff.json")).expect("removes");
        let err = format!("{:#}", Config::load(&a).expect_err("missing schema"));
        assert!(
            err.contains("cannot read identity schema \"staff\""),
            "{err}"
        );

        std::fs::write(&path, "[passwords]\nmemory_kib = 1024\n").expect("writes");
        let err = format!("{:#}", Config::load(&a).expect_err("weak"));
        assert!(err.contains("memory_kib"), "{err}");
        std::fs::write(&path, "[identity]\ndefault_schema_id = \"nope\"\n").expect("writes");
        let err = format!("{:#}", Config::load(&a).expect_err("unknown"));
        assert!(err.contains("default_schema_id"), "{err}");
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

    #[test]
    fn smtp_ca_file_is_read_relative_to_the_configuration_file() {
        let dir = std::env::temp_dir().join(format!("gatehouse-config-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        std::fs::write(dir.join("ca.pem"), "PEM").expect("writes");
        let path = dir.join("gatehouse.toml");
        std::fs::write(&path, "[smtp]\nca_file = \"ca.pem\"\n").expect("writes");
        let mut a = args();
        a.config = Some(path);
        let config = Config::load(&a).expect("valid");
        assert_eq!(config.smtp_ca_pem.as_deref(), Some(&b"PEM"[..]));
        assert_eq!(Config::load(&args()).expect("valid").smtp_ca_pem, None);
        // The environment (flag) wins; a file that cannot be read stops the start.
        a.smtp_ca_file = Some(dir.join("missing.pem"));
        let err = Config::load(&a).expect_err("refused");
        assert!(format!("{err:#}").contains("missing.pem"), "{err:#}");
        std::fs::remove_dir_all(&dir).expect("cleans up");
    }

    #[test]
    fn session_and_ui_settings_are_read() {
        let dir = std::env::temp_dir().join(format!("gatehouse-config-{}", uuid::Uuid::new_v4()));
        let templates = dir.join("templates");
        std::fs::create_dir_all(templates.join("identity")).expect("temp dir");
        std::fs::write(templates.join("error.html"), "E").expect("writes");
        std::fs::write(templates.join("identity").join("login.html"), "L").expect("writes");
        let path = dir.join("gatehouse.toml");
        std::fs::write(
            &path,
            format!(
                "[session]\nlifetime = \"12h\"\nidle_timeout = \"30m\"\ncookie_name = \"sid\"\n[ui]\ntemplates_dir = {:?}\n",
                templates.display().to_string()
            ),
        )
        .expect("writes");
        let mut a = args();
        a.config = Some(path.clone());
        let config = Config::load(&a).expect("valid");
        assert_eq!(config.session_lifetime, Duration::hours(12));
        assert_eq!(config.session_idle_timeout, Duration::minutes(30));
        assert_eq!(config.session_cookie_name, "sid");
        assert_eq!(
            config.ui_templates,
            vec![
                ("error.html".to_owned(), "E".to_owned()),
                ("identity/login.html".to_owned(), "L".to_owned()),
            ]
        );
        let defaults = Config::load(&args()).expect("valid");
        assert_eq!(defaults.session_lifetime, Duration::hours(24));
        assert_eq!(defaults.session_idle_timeout, Duration::hours(8));
        assert_eq!(defaults.session_cookie_name, "gatehouse_session");
        std::fs::write(&path, "[session]\ncookie_name = \"a;b\"\n").expect("writes");
        assert!(Config::load(&a).is_err());
        std::fs::write(&path, "[session]\nidle_timeout = \"soon\"\n").expect("writes");
        assert!(Config::load(&a).is_err());
    }

    #[test]
    fn recovery_verification_and_settings_lifespans_are_read() {
        let dir = std::env::temp_dir().join(format!("gatehouse-config-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("gatehouse.toml");
        std::fs::write(
            &path,
            "[selfservice.recovery]\ncode_lifespan = \"10m\"\ncodes_per_address_per_hour = 3\n\
             [selfservice.verification]\ncode_lifespan = \"2h\"\n\
             [selfservice.settings]\nprivileged_session_max_age = \"5m\"\n",
        )
        .expect("writes");
        let mut a = args();
        a.config = Some(path.clone());
        let s = Config::load(&a).expect("valid").selfservice;
        assert_eq!(s.recovery_code_lifespan, Duration::minutes(10));
        assert_eq!(s.recovery_codes_per_hour, 3);
        assert_eq!(s.verification_code_lifespan, Duration::hours(2));
        assert_eq!(s.verification_codes_per_hour, 10);
        assert_eq!(s.privileged_session_max_age, Duration::minutes(5));
        let d = Config::load(&args()).expect("valid").selfservice;
        assert_eq!(d.recovery_code_lifespan, Duration::minutes(15));
        assert_eq!(d.verification_code_lifespan, Duration::hours(1));
        assert_eq!(d.privileged_session_max_age, Duration::minutes(15));
        std::fs::write(&path, "[selfservice.recovery]\ncode_lifespan = \"soon\"\n")
            .expect("writes");
        assert!(Config::load(&a).is_err());
        std::fs::write(&path, "[selfservice.settings]\nunknown = 1\n").expect("writes");
        assert!(Config::load(&a).is_err());
    }
}
