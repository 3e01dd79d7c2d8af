//! Configuration of `gatehouse gateway`: flags and `GATEHOUSE_GATEWAY_*` environment variables,
//! and the rules file (Oathkeeper-compatible JSON or YAML). With `config.rs`, the only module
//! that reads the environment or files.

use crate::config::LogFormat;
use anyhow::{Context, bail};
use clap::Args;
use gatehouse_domain::gateway::{RuleSet, RuleSpec};
use gatehouse_domain::oauth::duration::parse_duration;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Options of `gatehouse gateway`.
#[derive(Debug, Clone, Args)]
pub struct GatewayArgs {
    /// Access rules (Oathkeeper-compatible JSON or YAML); reloaded when the file changes and on
    /// SIGHUP.
    #[arg(long, env = "GATEHOUSE_GATEWAY_RULES", value_name = "FILE")]
    pub rules: PathBuf,
    /// Proxy listener [default: 127.0.0.1:4455].
    #[arg(long, env = "GATEHOUSE_GATEWAY_PROXY_ADDR", value_name = "ADDR")]
    pub proxy_addr: Option<SocketAddr>,
    /// API listener: decision API, id_token JWKS, metrics, health [default: 127.0.0.1:4456].
    #[arg(long, env = "GATEHOUSE_GATEWAY_API_ADDR", value_name = "ADDR")]
    pub api_addr: Option<SocketAddr>,
    /// Proxy worker threads, each with its own event loop and upstream connections, all
    /// accepting on the proxy listener [default: the number of CPUs this process may use].
    #[arg(long, env = "GATEHOUSE_GATEWAY_WORKERS", value_name = "N")]
    pub workers: Option<usize>,
    /// How long an upstream may take to send its response headers, e.g. `30s` (then 504).
    #[arg(
        long,
        env = "GATEHOUSE_GATEWAY_UPSTREAM_TIMEOUT",
        value_name = "DURATION"
    )]
    pub upstream_timeout: Option<String>,
    /// PEM file of CA certificates trusted for `https` upstreams besides the system's (a private
    /// CA); the upstream's certificate must also name the host of its `upstream.url`.
    #[arg(long, env = "GATEHOUSE_GATEWAY_UPSTREAM_CA", value_name = "FILE")]
    pub upstream_ca: Option<PathBuf>,
    /// Log filter, e.g. `info` or `gatehouse_web=debug,info` [default: info].
    #[arg(long, env = "GATEHOUSE_LOG", value_name = "FILTER")]
    pub log: Option<String>,
    /// Log format: pretty or json [default: pretty].
    #[arg(long, env = "GATEHOUSE_LOG_FORMAT", value_name = "FORMAT")]
    pub log_format: Option<String>,
}

/// The resolved gateway configuration.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    pub rules_path: PathBuf,
    pub proxy_addr: SocketAddr,
    pub api_addr: SocketAddr,
    /// Proxy worker threads (at least one).
    pub workers: usize,
    pub upstream_timeout: Duration,
    /// Extra CA certificates (PEM) for `https` upstreams.
    pub upstream_ca: Option<PathBuf>,
    /// How often the rules file is checked for changes.
    pub reload_interval: Duration,
    pub log: String,
    pub log_format: LogFormat,
}

impl GatewayConfig {
    pub fn load(args: &GatewayArgs) -> anyhow::Result<Self> {
        let upstream_timeout = match args.upstream_timeout.as_deref() {
            None => Duration::from_secs(30),
            Some(raw) => parse_duration(raw)
                .map(time::Duration::unsigned_abs)
                .with_context(|| {
                    format!("GATEHOUSE_GATEWAY_UPSTREAM_TIMEOUT {raw:?} is not a duration")
                })?,
        };
        let log_format = match args.log_format.as_deref() {
            None | Some("pretty") => LogFormat::Pretty,
            Some("json") => LogFormat::Json,
            Some(other) => bail!("GATEHOUSE_LOG_FORMAT {other:?} must be pretty or json"),
        };
        let workers = match args.workers {
            Some(0) => bail!("GATEHOUSE_GATEWAY_WORKERS must be at least 1"),
            Some(n) => n,
            None => std::thread::available_parallelism().map_or(1, usize::from),
        };
        Ok(Self {
            rules_path: args.rules.clone(),
            proxy_addr: args
                .proxy_addr
                .unwrap_or_else(|| ([127, 0, 0, 1], 4455).into()),
            api_addr: args
                .api_addr
                .unwrap_or_else(|| ([127, 0, 0, 1], 4456).into()),
            workers,
            upstream_timeout,
            upstream_ca: args.upstream_ca.clone(),
            reload_interval: Duration::from_secs(1),
            log: args.log.clone().unwrap_or_else(|| "info".to_owned()),
            log_format,
        })
    }

    /// Defaults for tests: random ports, a fast reload poll, two proxy workers.
    pub fn for_tests(rules_path: &Path) -> Self {
        Self {
            rules_path: rules_path.to_owned(),
            proxy_addr: ([127, 0, 0, 1], 0).into(),
            api_addr: ([127, 0, 0, 1], 0).into(),
            workers: 2,
            upstream_timeout: Duration::from_secs(5),
            upstream_ca: None,
            reload_interval: Duration::from_millis(50),
            log: "info".to_owned(),
            log_format: LogFormat::Pretty,
        }
    }
}

/// The raw bytes of the rules file.
pub fn read_rules_file(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read rules file {}", path.display()))
}

/// Parses and compiles rules: JSON when the file is named `*.json`, YAML when it is named
/// `*.yaml` / `*.yml`, otherwise JSON when it starts with `[` or `{` and YAML else. Either holds
/// a list of rules.
pub fn parse_rules(path: &Path, bytes: &[u8]) -> anyhow::Result<RuleSet> {
    let is_json = match path.extension().and_then(|e| e.to_str()) {
        Some("json") => true,
        Some("yaml" | "yml") => false,
        _ => bytes
            .iter()
            .find(|b| !b.is_ascii_whitespace())
            .is_some_and(|b| matches!(b, b'[' | b'{')),
    };
    let specs: Vec<RuleSpec> = if is_json {
        serde_json::from_slice(bytes)
            .with_context(|| format!("rules file {} is not valid JSON rules", path.display()))?
    } else {
        // JSON is valid YAML too, so a JSON list in a `.yaml` file reads as well.
        serde_norway::from_slice(bytes)
            .with_context(|| format!("rules file {} is not valid YAML rules", path.display()))?
    };
    RuleSet::compile(specs).with_context(|| format!("rules file {} is invalid", path.display()))
}

/// Reads, parses and compiles the rules file.
pub fn load_rules(path: &Path) -> anyhow::Result<RuleSet> {
    parse_rules(path, &read_rules_file(path)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    const YAML: &str = r#"
- id: api
  version: v0.40.0
  match:
    url: http://127.0.0.1:4455/api/<**>
    methods: [GET, POST]
  upstream:
    url: http://127.0.0.1:8080
    strip_path: /api
  authenticators:
    - handler: jwt
      config:
        jwks_urls: [http://127.0.0.1:4433/.well-known/jwks.json]
        trusted_issuers: [http://127.0.0.1:4433]
    - handler: anonymous
  authorizer:
    handler: allow
  mutators:
    - handler: header
      config:
        headers:
          X-User-ID: "{{ print .Subject }}"
          X-Tenant-ID: "{{ claims.tenant_id }}"
"#;

    #[test]
    fn workers_default_to_the_cpus_and_zero_is_refused() {
        use clap::Parser;
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            args: GatewayArgs,
        }
        let parse = |extra: &[&str]| {
            let mut argv = vec!["gateway", "--rules", "rules.yaml"];
            argv.extend_from_slice(extra);
            GatewayConfig::load(&Cli::parse_from(argv).args)
        };
        let cpus = std::thread::available_parallelism().map_or(1, usize::from);
        assert_eq!(parse(&[]).expect("defaults").workers, cpus);
        assert_eq!(parse(&["--workers", "3"]).expect("three").workers, 3);
        let err = parse(&["--workers", "0"]).expect_err("refused");
        assert!(err.to_string().contains("at least 1"), "{err}");
    }

    #[test]
    fn reads_yaml_and_json_rules() {
        let set = parse_rules(Path::new("rules.yaml"), YAML.as_bytes()).expect("valid YAML");
        assert_eq!(set.rules.len(), 1);
        assert_eq!(set.spoofable_headers, ["x-tenant-id", "x-user-id"]);
        let json = r#"[{"id": "a", "match": {"url": "http://h/<**>"}, "authenticators": [{"handler": "noop"}]}]"#;
        let set = parse_rules(Path::new("rules"), json.as_bytes()).expect("valid JSON");
        assert_eq!(set.rules[0].id, "a");
    }

    #[test]
    fn bad_files_are_clear_errors() {
        let err = parse_rules(Path::new("r.yaml"), b"- id: [").expect_err("invalid");
        assert!(format!("{err:#}").contains("not valid YAML"), "{err:#}");
        let err = parse_rules(
            Path::new("r.json"),
            br#"[{"id": "a", "match": {"url": "http://h/<.*>"}, "authenticators": [{"handler": "noop"}]}]"#,
        )
        .expect_err("invalid");
        assert!(format!("{err:#}").contains("<.*>"), "{err:#}");
    }
}
