//! Builds the application from a [`Config`] and runs both listeners until shutdown.

use crate::config::Config;
use crate::lifecycle::Lifecycle;
use anyhow::Context;
use gatehouse_domain::cipher::Cipher;
use gatehouse_domain::clock::Clock;
use gatehouse_domain::secret::{Secret, random_token};
use gatehouse_domain::session::SessionLifetimes;
use gatehouse_domain::store::{Storage, SystemStore};
use gatehouse_store::{PoolSettings, Store};
use gatehouse_web::ui::Pages;
use gatehouse_web::{
    AppState, IdentitySettings, RegistrationSettings, SessionSettings, Settings, admin_router,
    public_router, tasks,
};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;

/// A running server: its bound addresses and a handle to stop it.
pub struct Running {
    pub public_addr: SocketAddr,
    pub admin_addr: SocketAddr,
    pub issuer: String,
    pub admin_token: Secret,
    pub state: AppState,
    lifecycle: Lifecycle,
}

impl Running {
    /// Starts a graceful shutdown: listeners stop accepting, in-flight requests finish.
    pub fn shutdown(&self) {
        self.lifecycle.shutdown();
    }

    /// Waits until both listeners and the background tasks have stopped.
    pub async fn wait(self) -> anyhow::Result<()> {
        self.lifecycle.wait().await
    }
}

/// A value generated once in `--dev` and kept in the database, so restarts keep it.
async fn dev_value(store: &Store, name: &str) -> anyhow::Result<String> {
    if let Some(v) = store.find_instance_setting(name).await? {
        return Ok(v);
    }
    Ok(store
        .insert_instance_setting(name, &random_token(32))
        .await?)
}

/// Opens the database, loads keys, binds both listeners and starts serving.
pub async fn start(config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<Running> {
    let store = Store::connect(
        &config.database_url,
        &PoolSettings {
            max_connections: config.max_connections,
            ..PoolSettings::default()
        },
    )
    .await
    .context("cannot open the database")?;
    if config.dev {
        store.migrate().await.context("cannot apply migrations")?;
    } else if !store.migrations_applied().await? {
        anyhow::bail!("the database has pending migrations: run `gatehouse migrate apply` first");
    }

    let mut cipher_secrets = config.cipher_secrets.clone();
    let mut cookie_secrets = config.cookie_secrets.clone();
    let mut admin_token = config.admin_token.clone();
    if config.dev {
        if cipher_secrets.is_empty() {
            cipher_secrets.push(dev_value(&store, "dev.secrets.cipher").await?);
        }
        if cookie_secrets.is_empty() {
            cookie_secrets.push(dev_value(&store, "dev.secrets.cookie").await?);
        }
        if admin_token.is_none() {
            admin_token = Some(dev_value(&store, "dev.admin_token").await?);
        }
    }
    let admin_token = Secret::new(admin_token.context("no admin token configured")?);
    let cipher = Arc::new(Cipher::new(&cipher_secrets).context("invalid cipher secrets")?);

    let public = TcpListener::bind(config.public_addr)
        .await
        .with_context(|| format!("cannot listen on {}", config.public_addr))?;
    let admin = TcpListener::bind(config.admin_addr)
        .await
        .with_context(|| format!("cannot listen on {}", config.admin_addr))?;
    let public_addr = public.local_addr()?;
    let admin_addr = admin.local_addr()?;
    let issuer = match &config.issuer {
        Some(url) => url.as_str().trim_end_matches('/').to_owned(),
        None => format!("http://{public_addr}"),
    };

    let mut settings = Settings::new(&issuer, admin_token.clone());
    settings.dev = config.dev;
    settings.access_token_lifespan = config.access_token_lifespan;
    settings.id_token_lifespan = config.id_token_lifespan;
    settings.refresh_token_lifespan = config.refresh_token_lifespan;
    settings.refresh_token_family_lifespan = config.refresh_token_family_lifespan;
    settings.refresh_token_reuse_grace = config.refresh_token_reuse_grace;
    settings.max_token_lifespan = config.max_token_lifespan;
    settings.key_publish_ahead = config.key_publish_ahead;
    settings.client_cache_ttl = config.client_cache_ttl.unsigned_abs();
    settings.registration = RegistrationSettings {
        enabled: config.registration_enabled,
        initial_access_token: config
            .registration_initial_access_token
            .clone()
            .map(Secret::new),
        per_ip_per_hour: config.registration_per_ip_per_hour,
    };
    settings.identity = IdentitySettings {
        schemas: config.identity.schemas.clone(),
        default_schema_id: config.identity.default_schema_id.clone(),
        hash_params: config.identity.hash_params,
        password_policy: gatehouse_domain::identity::policy::PasswordPolicy {
            min_score: config.identity.min_password_score,
            ..Default::default()
        },
        max_concurrent_hashes: config.identity.max_concurrent_hashes,
    };
    settings.throttling = config.throttling;
    settings.smtp_configured = config.smtp_url.is_some();

    settings.cookie_secrets = cookie_secrets.into_iter().map(Secret::new).collect();
    // Secure cookies everywhere except in --dev over plain HTTP.
    settings.cookie_secure = !(config.dev && issuer.starts_with("http://"));
    settings.session = SessionSettings {
        lifetimes: SessionLifetimes {
            absolute: config.session_lifetime,
            idle: config.session_idle_timeout,
        },
        cookie_name: config.session_cookie_name.clone(),
    };
    Pages::new(&config.ui_templates).context("invalid template in ui.templates_dir")?;
    settings.ui_templates = config.ui_templates.clone();
    gatehouse_web::courier::Courier::with_overrides(false, &config.courier_templates)
        .context("invalid template in courier.templates_dir")?;
    settings.courier_templates = config.courier_templates.clone();

    gatehouse_web::webhooks::Webhooks::new(&config.webhooks).context("[[webhooks]]")?;
    settings.webhooks = config.webhooks.clone();

    settings.trusted_proxies = config.trusted_proxies.clone();
    let selfservice = &config.selfservice;
    settings.flows.lifespan = selfservice.flow_lifespan;
    settings.flows.session_after_registration = selfservice.session_after_registration;
    settings.flows.recovery_code_lifespan = selfservice.recovery_code_lifespan;
    settings.flows.verification_code_lifespan = selfservice.verification_code_lifespan;
    settings.flows.recovery_codes_per_hour = selfservice.recovery_codes_per_hour;
    settings.flows.verification_codes_per_hour = selfservice.verification_codes_per_hour;
    settings.flows.privileged_session_max_age = selfservice.privileged_session_max_age;
    settings.flows.allowed_return_urls = selfservice
        .allowed_return_urls
        .iter()
        .filter_map(|u| url::Url::parse(u).ok())
        .collect();
    if let Some(target) = &selfservice.default_return_to {
        settings.flows.default_return_to = target.clone();
    }

    // Checked before anything listens: a bad SMTP URL or sender stops the start.
    let mailer = match &config.smtp_url {
        Some(url) => {
            let from = config.smtp_from.clone().unwrap_or_else(|| {
                let host = url::Url::parse(&issuer)
                    .ok()
                    .and_then(|u| u.host_str().map(str::to_owned))
                    .unwrap_or_else(|| "localhost".to_owned());
                format!("Gatehouse <no-reply@{host}>")
            });
            Some(
                gatehouse_web::mailer::Mailer::new(url, &from, config.smtp_ca_pem.as_deref())
                    .context("courier")?,
            )
        }
        None => None,
    };

    let storage: Arc<dyn Storage> = Arc::new(store.clone());
    let state = AppState::new(storage, clock, cipher, settings);
    state
        .keys
        .ensure(state.store.as_ref(), &state.cipher, state.now())
        .await
        .context("cannot load signing keys")?;
    state
        .ip_bans
        .reload(state.store.as_ref(), state.now())
        .await
        .context("cannot load IP bans")?;
    state
        .scopes
        .reload(state.store.as_ref())
        .await
        .context("cannot load the scope catalog")?;
    state
        .discovery
        .rebuild(&state.settings, &state.scopes.supported());

    let mut lifecycle = Lifecycle::new();
    lifecycle.serve(public, public_router(&state), "public");
    lifecycle.serve(admin, admin_router(&state), "admin");
    lifecycle.spawn(tasks::reload_keys(state.clone(), lifecycle.stopping()));
    lifecycle.spawn(tasks::reload_ip_bans(state.clone(), lifecycle.stopping()));
    lifecycle.spawn(tasks::reload_scopes(state.clone(), lifecycle.stopping()));
    if let Some(mailer) = mailer {
        lifecycle.spawn(gatehouse_web::mailer::deliver(
            state.clone(),
            mailer,
            lifecycle.stopping(),
        ));
    }
    lifecycle.spawn(gatehouse_web::webhooks::worker::deliver(
        state.clone(),
        lifecycle.stopping(),
    ));
    lifecycle.spawn(tasks::cleanup(
        state.clone(),
        config.cleanup_interval.unsigned_abs(),
        lifecycle.stopping(),
    ));
    let closing = store.clone();
    let mut stop = lifecycle.stopping();
    lifecycle.spawn(async move {
        let _ = stop.wait_for(|s| *s).await;
        // Give listeners their graceful period before the pool closes under them.
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        drop(closing);
    });
    tracing::info!(public = %public_addr, admin = %admin_addr, issuer = %issuer, database = store.backend_name(), "gatehouse is serving");
    Ok(Running {
        public_addr,
        admin_addr,
        issuer,
        admin_token,
        state,
        lifecycle,
    })
}

/// SIGINT and SIGTERM, listened for from the moment this is created: create it before the
/// listeners start, so a signal that arrives as soon as the server is ready still shuts it down
/// gracefully instead of killing it.
pub struct ShutdownSignals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

impl ShutdownSignals {
    pub fn install() -> anyhow::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self {
            interrupt: signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?,
            terminate: signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?,
        })
    }

    /// Resolves when the process receives SIGINT or SIGTERM.
    pub async fn wait(&mut self) {
        tokio::select! {
            _ = self.interrupt.recv() => {},
            _ = self.terminate.recv() => {},
        }
    }
}
