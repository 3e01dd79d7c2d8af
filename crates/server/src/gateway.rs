//! Start-up of `gatehouse gateway`: loads the rules, binds the proxy and API listeners, starts the
//! proxy workers, and keeps the rules fresh (the file is checked every `reload_interval` and
//! re-read on SIGHUP; a file that does not compile leaves the running rules in place and logs
//! why).
//!
//! The proxy runs on `workers` threads of its own, each a single-threaded tokio runtime accepting
//! from the same socket (nginx's worker model): a request is read, authenticated, forwarded and
//! answered on one thread, with no hand-off between the threads of a shared runtime. On one core
//! this serves 8–20% more requests per second than the same code on the multi-threaded runtime
//! (`bench/gateway.sh`, bench/README.md). The API listener and the reload loop stay on the main
//! runtime.

use crate::gateway_config::{GatewayConfig, parse_rules, read_rules_file};
use crate::lifecycle::Lifecycle;
use anyhow::Context;
use gatehouse_domain::clock::Clock;
use gatehouse_web::gateway::{Gateway, GatewaySettings, api_router, serve_proxy};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// A running gateway: its bound addresses and a handle to stop it.
pub struct RunningGateway {
    pub proxy_addr: SocketAddr,
    pub api_addr: SocketAddr,
    pub gateway: Gateway,
    lifecycle: Lifecycle,
}

impl RunningGateway {
    /// Starts a graceful shutdown: listeners stop accepting, in-flight requests finish.
    pub fn shutdown(&self) {
        self.lifecycle.shutdown();
    }

    /// Waits until both listeners and the reload task have stopped.
    pub async fn wait(self) -> anyhow::Result<()> {
        self.lifecycle.wait().await
    }
}

fn fingerprint(bytes: &[u8]) -> u64 {
    let mut hasher = DefaultHasher::new();
    bytes.hash(&mut hasher);
    hasher.finish()
}

/// Loads the rules, binds both listeners and starts serving.
pub async fn start(config: GatewayConfig, clock: Arc<dyn Clock>) -> anyhow::Result<RunningGateway> {
    let bytes = read_rules_file(&config.rules_path)?;
    let rules = parse_rules(&config.rules_path, &bytes)?;
    let upstream_ca_pem = match &config.upstream_ca {
        Some(path) => Some(std::fs::read(path).with_context(|| {
            format!(
                "cannot read GATEHOUSE_GATEWAY_UPSTREAM_CA {}",
                path.display()
            )
        })?),
        None => None,
    };
    let settings = GatewaySettings {
        upstream_timeout: config.upstream_timeout,
        upstream_ca_pem,
        ..GatewaySettings::default()
    };
    let gateway = Gateway::new(rules, clock, settings).context("cannot start the gateway")?;

    let proxy = TcpListener::bind(config.proxy_addr)
        .await
        .with_context(|| format!("cannot listen on {}", config.proxy_addr))?
        .into_std()?;
    let api = TcpListener::bind(config.api_addr)
        .await
        .with_context(|| format!("cannot listen on {}", config.api_addr))?;
    let proxy_addr = proxy.local_addr()?;
    let api_addr = api.local_addr()?;

    // Listen for SIGHUP before serving: its default action would end the process.
    let hangup = hangup_signal();
    let mut lifecycle = Lifecycle::new();
    spawn_proxy_workers(&mut lifecycle, &proxy, &gateway, config.workers)?;
    lifecycle.serve(api, api_router(gateway.clone()), "gateway API");
    let reload = Reloader {
        path: config.rules_path.clone(),
        gateway: gateway.clone(),
        last: fingerprint(&bytes),
    };
    lifecycle.spawn(reload.run(config.reload_interval, hangup, lifecycle.stopping()));
    tracing::info!(proxy = %proxy_addr, api = %api_addr, rules = %config.rules_path.display(), "gateway is serving");
    Ok(RunningGateway {
        proxy_addr,
        api_addr,
        gateway,
        lifecycle,
    })
}

/// Starts `workers` proxy threads on `listener`; the lifecycle waits for them and reports a
/// worker that failed or panicked.
fn spawn_proxy_workers(
    lifecycle: &mut Lifecycle,
    listener: &std::net::TcpListener,
    gateway: &Gateway,
    workers: usize,
) -> anyhow::Result<()> {
    let mut finished = Vec::with_capacity(workers);
    for index in 0..workers {
        let listener = listener
            .try_clone()
            .context("cannot share the proxy listener")?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start a proxy worker")?;
        let gateway = gateway.clone();
        let mut stop = lifecycle.stopping();
        let (done, done_rx) = tokio::sync::oneshot::channel::<anyhow::Result<()>>();
        std::thread::Builder::new()
            .name(format!("gateway-proxy-{index}"))
            .spawn(move || {
                let result = runtime.block_on(async move {
                    let listener =
                        TcpListener::from_std(listener).context("cannot use the proxy listener")?;
                    serve_proxy(listener, gateway, async move {
                        let _ = stop.wait_for(|s| *s).await;
                    })
                    .await;
                    Ok(())
                });
                // Upgraded connections (WebSockets) still open end with the runtime.
                drop(runtime);
                let _ = done.send(result);
            })
            .context("cannot start a proxy worker thread")?;
        finished.push(done_rx);
    }
    lifecycle.spawn_fallible(async move {
        for worker in finished {
            worker.await.context("a proxy worker panicked")??;
        }
        Ok(())
    });
    Ok(())
}

struct Reloader {
    path: PathBuf,
    gateway: Gateway,
    /// Fingerprint of the file contents last seen (loaded or refused).
    last: u64,
}

impl Reloader {
    async fn run(
        mut self,
        interval: Duration,
        mut hangup: Hangup,
        mut stop: watch::Receiver<bool>,
    ) {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.wait_for(|s| *s) => return,
                _ = tick.tick() => self.check(false),
                () = next_hangup(&mut hangup) => self.check(true),
            }
        }
    }

    /// Reloads when the contents changed (or always, when `forced`).
    fn check(&mut self, forced: bool) {
        let bytes = match read_rules_file(&self.path) {
            Ok(bytes) => bytes,
            Err(err) => {
                if forced || self.last != 0 {
                    tracing::error!(error = %format!("{err:#}"), "cannot read the rules file; keeping the current rules");
                }
                self.last = 0;
                return;
            }
        };
        let print = fingerprint(&bytes);
        if print == self.last && !forced {
            return;
        }
        self.last = print;
        let result = parse_rules(&self.path, &bytes).and_then(|rules| {
            self.gateway
                .replace_rules(rules)
                .map_err(anyhow::Error::from)
        });
        if let Err(err) = result {
            tracing::error!(error = %format!("{err:#}"), "invalid rules file; keeping the current rules");
        }
    }
}

#[cfg(unix)]
type Hangup = Option<tokio::signal::unix::Signal>;
#[cfg(not(unix))]
type Hangup = ();

#[cfg(unix)]
fn hangup_signal() -> Hangup {
    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok()
}

#[cfg(not(unix))]
fn hangup_signal() -> Hangup {}

#[cfg(unix)]
async fn next_hangup(hangup: &mut Hangup) {
    match hangup {
        Some(signal) => {
            signal.recv().await;
        }
        None => std::future::pending::<()>().await,
    }
}

#[cfg(not(unix))]
async fn next_hangup(_: &mut Hangup) {
    std::future::pending::<()>().await;
}
