//! Configuration of `gatehouse bff`: a TOML file (DESIGN §2 "BFF config"), the listen address
//! also from `--listen` / `GATEHOUSE_BFF_ADDR`. Unknown keys are refused. With `config.rs`, the
//! only module of the BFF that reads files or the environment.

use crate::config::LogFormat;
use anyhow::{Context, bail};
use clap::Args;
use gatehouse_domain::gateway::Upstream;
use gatehouse_domain::oauth::duration::parse_duration;
use gatehouse_domain::secret::Secret;
use gatehouse_web::bff::{BffRoute, BffSettings, ClientAuth};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Options of `gatehouse bff`.
#[derive(Debug, Clone, Args)]
pub struct BffArgs {
    /// The BFF's TOML configuration file.
    #[arg(long, env = "GATEHOUSE_BFF_CONFIG", value_name = "FILE")]
    pub config: PathBuf,
    /// Listen address; overrides `listen` in the file [default: 127.0.0.1:4460].
    #[arg(long, env = "GATEHOUSE_BFF_ADDR", value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Keys encrypting the tokens in the session database, comma-separated, current first (each
    /// at least 32 characters). Unset: a random key for this process only (sessions end at
    /// restart and cannot be shared between instances).
    #[arg(
        long,
        env = "GATEHOUSE_SECRETS_CIPHER",
        value_name = "SECRETS",
        hide_env_values = true
    )]
    pub secrets_cipher: Option<Secret>,
    /// The OIDC client secret; overrides `oidc.client_secret` in the file, so the file need not
    /// hold it.
    #[arg(
        long,
        env = "GATEHOUSE_BFF_CLIENT_SECRET",
        value_name = "SECRET",
        hide_env_values = true
    )]
    pub client_secret: Option<Secret>,
    /// Log filter, e.g. `info` or `gatehouse_web=debug,info` [default: info].
    #[arg(long, env = "GATEHOUSE_LOG", value_name = "FILTER")]
    pub log: Option<String>,
    /// Log format: pretty or json [default: pretty].
    #[arg(long, env = "GATEHOUSE_LOG_FORMAT", value_name = "FORMAT")]
    pub log_format: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    listen: Option<SocketAddr>,
    public_url: String,
    #[serde(default)]
    allowed_origins: Vec<String>,
    static_dir: Option<PathBuf>,
    database_url: Option<String>,
    oidc: OidcSection,
    #[serde(default)]
    session: SessionSection,
    #[serde(default)]
    routes: Vec<RouteSection>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OidcSection {
    authority: String,
    client_id: String,
    client_secret: Option<String>,
    token_endpoint_auth_method: Option<String>,
    scopes: Option<Vec<String>>,
    redirect_uri: Option<String>,
    post_logout_redirect_uri: Option<String>,
    refresh_before_expiry: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SessionSection {
    lifetime: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteSection {
    path: String,
    upstream: String,
    strip_prefix: Option<String>,
}

/// The resolved BFF configuration.
#[derive(Debug, Clone)]
pub struct BffConfig {
    pub listen: SocketAddr,
    pub database_url: String,
    pub settings: BffSettings,
    /// Encrypt the stored tokens; empty: a random key made at start-up.
    pub cipher_secrets: Vec<Secret>,
    pub log: String,
    pub log_format: LogFormat,
}

impl BffConfig {
    pub fn load(args: &BffArgs) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(&args.config)
            .with_context(|| format!("cannot read BFF config {}", args.config.display()))?;
        let mut config = Self::parse_with(&text, args.client_secret.clone())
            .with_context(|| format!("BFF config {} is invalid", args.config.display()))?;
        // A relative `static_dir` is the file's neighbour, wherever the BFF is started from.
        if let (Some(dir), Some(base)) = (&config.settings.static_dir, args.config.parent())
            && dir.is_relative()
        {
            config.settings.static_dir = Some(base.join(dir));
        }
        if let Some(listen) = args.listen {
            config.listen = listen;
        }
        if let Some(secrets) = &args.secrets_cipher {
            config.cipher_secrets = secrets
                .expose()
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(Secret::new)
                .collect();
            if config.cipher_secrets.iter().any(|s| s.expose().len() < 32) {
                bail!("every secret in GATEHOUSE_SECRETS_CIPHER must be at least 32 characters");
            }
        }
        config.log = args.log.clone().unwrap_or_else(|| "info".to_owned());
        config.log_format = match args.log_format.as_deref() {
            None | Some("pretty") => LogFormat::Pretty,
            Some("json") => LogFormat::Json,
            Some(other) => bail!("GATEHOUSE_LOG_FORMAT {other:?} must be pretty or json"),
        };
        Ok(config)
    }

    /// Reads the TOML text of a BFF configuration.
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        Self::parse_with(text, None)
    }

    /// [`BffConfig::parse`], with the client secret given apart from the file when `Some`.
    fn parse_with(text: &str, client_secret: Option<Secret>) -> anyhow::Result<Self> {
        let file: File = toml::from_str(text)?;
        let public_url = parse_url("public_url", &file.public_url)?;
        let oidc = file.oidc;
        let client_secret = client_secret.or(oidc.client_secret.map(Secret::new));
        let client_auth = match oidc.token_endpoint_auth_method.as_deref() {
            None if client_secret.is_none() => ClientAuth::None,
            None | Some("client_secret_basic") => ClientAuth::ClientSecretBasic,
            Some("client_secret_post") => ClientAuth::ClientSecretPost,
            Some("none") => ClientAuth::None,
            Some(other) => bail!(
                "oidc.token_endpoint_auth_method {other:?} must be client_secret_basic, \
                 client_secret_post or none"
            ),
        };
        if client_auth != ClientAuth::None && client_secret.is_none() {
            bail!(
                "oidc.client_secret (or GATEHOUSE_BFF_CLIENT_SECRET) is required with \
                 token_endpoint_auth_method {client_auth:?}"
            );
        }
        let redirect_uri = match oidc.redirect_uri.as_deref() {
            Some(uri) => parse_url("oidc.redirect_uri", uri)?,
            None => public_url
                .join("/signin-oidc")
                .context("public_url cannot be a base URL")?,
        };
        if !matches!(public_url.scheme(), "http" | "https") {
            bail!("public_url must be an http or https URL");
        }
        let routes = file
            .routes
            .into_iter()
            .map(route)
            .collect::<anyhow::Result<Vec<_>>>()?;
        let settings = BffSettings {
            static_dir: file.static_dir,
            public_url,
            allowed_origins: file.allowed_origins,
            authority: oidc.authority,
            client_id: oidc.client_id,
            client_secret,
            client_auth,
            scopes: oidc.scopes.unwrap_or_else(|| {
                ["openid", "profile", "email", "offline_access"]
                    .map(str::to_owned)
                    .to_vec()
            }),
            redirect_uri,
            post_logout_redirect_uri: oidc.post_logout_redirect_uri,
            refresh_before_expiry: duration(
                "oidc.refresh_before_expiry",
                oidc.refresh_before_expiry.as_deref(),
                "5m",
            )?,
            session_lifetime: duration("session.lifetime", file.session.lifetime.as_deref(), "1h")?,
            routes,
            upstream_timeout: Duration::from_secs(30),
            provider_timeout: Duration::from_secs(10),
        };
        Ok(Self {
            listen: file.listen.unwrap_or_else(|| ([127, 0, 0, 1], 4460).into()),
            database_url: file
                .database_url
                .unwrap_or_else(|| "sqlite://gatehouse-bff.db".to_owned()),
            settings,
            cipher_secrets: Vec::new(),
            log: "info".to_owned(),
            log_format: LogFormat::Pretty,
        })
    }

    /// A configuration from TOML text, on a random port (for tests).
    pub fn for_tests(text: &str) -> anyhow::Result<Self> {
        let mut config = Self::parse(text)?;
        config.listen = ([127, 0, 0, 1], 0).into();
        Ok(config)
    }
}

fn parse_url(key: &str, raw: &str) -> anyhow::Result<url::Url> {
    url::Url::parse(raw).with_context(|| format!("{key} {raw:?} is not an absolute URL"))
}

fn duration(key: &str, raw: Option<&str>, default: &str) -> anyhow::Result<time::Duration> {
    let raw = raw.unwrap_or(default);
    parse_duration(raw).with_context(|| format!("{key} {raw:?} is not a duration such as \"5m\""))
}

/// `/api/{**rest}` (or `/api/{*rest}`) and `/api` both mean "`/api` and everything under it".
fn route(section: RouteSection) -> anyhow::Result<BffRoute> {
    let prefix = section
        .path
        .split_once('{')
        .map_or(section.path.as_str(), |(head, _)| head)
        .trim_end_matches('/');
    if !section.path.starts_with('/') || prefix.is_empty() {
        bail!(
            "routes.path {:?} must be a path such as \"/api\" or \"/api/{{**rest}}\"",
            section.path
        );
    }
    let upstream = parse_url("routes.upstream", &section.upstream)?;
    if upstream.scheme() != "http" {
        bail!("routes.upstream {upstream} must be an http URL");
    }
    Ok(BffRoute {
        prefix: prefix.to_owned(),
        upstream: Upstream {
            url: upstream,
            strip_path: section.strip_prefix,
            preserve_host: false,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
public_url = "https://app.example"
[oidc]
authority = "https://id.example"
client_id = "bff"
client_secret = "s3cret"
[[routes]]
path = "/api/{**rest}"
upstream = "http://127.0.0.1:5000"
strip_prefix = "/api"
"#;

    #[test]
    fn reads_a_minimal_file_with_defaults() {
        let config = BffConfig::parse(MINIMAL).expect("valid");
        let s = &config.settings;
        assert_eq!(s.redirect_uri.as_str(), "https://app.example/signin-oidc");
        assert_eq!(s.refresh_before_expiry, time::Duration::minutes(5));
        assert_eq!(s.session_lifetime, time::Duration::hours(1));
        assert_eq!(s.client_auth, ClientAuth::ClientSecretBasic);
        assert_eq!(s.routes[0].prefix, "/api");
        assert_eq!(config.listen.port(), 4460);
    }

    #[test]
    fn refuses_unknown_keys_and_bad_values() {
        let err = BffConfig::parse(&format!("{MINIMAL}\nsurprise = 1")).expect_err("unknown");
        assert!(format!("{err:#}").contains("surprise"), "{err:#}");
        let bad = MINIMAL.replace(
            "client_secret = \"s3cret\"",
            "refresh_before_expiry = \"soon\"",
        );
        let err = BffConfig::parse(&bad).expect_err("bad duration");
        assert!(
            format!("{err:#}").contains("refresh_before_expiry"),
            "{err:#}"
        );
    }
}
