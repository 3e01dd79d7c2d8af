//! Start-up of `gatehouse bff`: opens the session database (applying migrations: it is the
//! BFF's own database) behind the cipher that seals its tokens, discovers the provider, binds
//! the listener, and removes expired sign-ins and sessions every minute.

use crate::bff_config::BffConfig;
use crate::lifecycle::Lifecycle;
use anyhow::Context;
use gatehouse_domain::bff::SealedBffStore;
use gatehouse_domain::cipher::Cipher;
use gatehouse_domain::clock::Clock;
use gatehouse_domain::secret::Secret;
use gatehouse_store::{PoolSettings, Store};
use gatehouse_web::bff::{Bff, router};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// A running BFF: its bound address and a handle to stop it.
pub struct RunningBff {
    pub addr: SocketAddr,
    pub bff: Bff,
    lifecycle: Lifecycle,
}

impl RunningBff {
    /// Starts a graceful shutdown: the listener stops accepting, in-flight requests finish.
    pub fn shutdown(&self) {
        self.lifecycle.shutdown();
    }

    /// Waits until the listener and the cleanup task have stopped.
    pub async fn wait(self) -> anyhow::Result<()> {
        self.lifecycle.wait().await
    }
}

/// Binds `config.listen` and starts serving.
pub async fn start(config: BffConfig, clock: Arc<dyn Clock>) -> anyhow::Result<RunningBff> {
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    start_on(config, listener, clock).await
}

/// Starts serving on a listener already bound (a test learns the port first, to register the
/// BFF's redirect URI at the provider).
pub async fn start_on(
    config: BffConfig,
    listener: TcpListener,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<RunningBff> {
    let store = Store::connect(&config.database_url, &PoolSettings::default())
        .await
        .context("cannot open the BFF database")?;
    store
        .migrate()
        .await
        .context("cannot apply migrations to the BFF database")?;
    let cipher = Arc::new(cipher(&config.cipher_secrets)?);
    let store = SealedBffStore::new(Arc::new(store), cipher);
    let bff = Bff::discover(config.settings.clone(), Arc::new(store), clock)
        .await
        .context("cannot discover the identity provider")?;
    let addr = listener.local_addr()?;
    let mut lifecycle = Lifecycle::new();
    lifecycle.serve(listener, router(bff.clone()), "BFF");
    lifecycle.spawn(clean_up(bff.clone(), lifecycle.stopping()));
    tracing::info!(addr = %addr, public_url = %config.settings.public_url, "BFF is serving");
    Ok(RunningBff {
        addr,
        bff,
        lifecycle,
    })
}

/// The cipher sealing stored tokens: from the configured secrets, or a random key that lives
/// as long as this process.
fn cipher(secrets: &[Secret]) -> anyhow::Result<Cipher> {
    if secrets.is_empty() {
        tracing::warn!(
            "GATEHOUSE_SECRETS_CIPHER is not set: stored tokens are sealed with a key of this \
             process only, so sessions end at restart and cannot be shared by several BFFs"
        );
        return Ok(Cipher::new(&[Secret::generate(32).expose()])?);
    }
    let exposed: Vec<&str> = secrets.iter().map(Secret::expose).collect();
    Cipher::new(&exposed).context("GATEHOUSE_SECRETS_CIPHER is unusable")
}

async fn clean_up(bff: Bff, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        let stopping = tokio::select! {
            _ = stop.wait_for(|s| *s) => true,
            _ = tick.tick() => false,
        };
        if stopping {
            return;
        }
        match bff.clean_up().await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(removed = n, "expired BFF sessions removed"),
            Err(err) => tracing::warn!(error = %err, "cannot remove expired BFF sessions"),
        }
    }
}
