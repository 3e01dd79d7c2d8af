//! The tasks of a running process (listeners and background loops) and the signal that stops
//! them together: listeners stop accepting and finish their in-flight requests, loops return.

use anyhow::Context;
use std::future::Future;
use std::net::SocketAddr;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

pub struct Lifecycle {
    shutdown: watch::Sender<bool>,
    tasks: JoinSet<anyhow::Result<()>>,
}

impl Default for Lifecycle {
    fn default() -> Self {
        Self::new()
    }
}

impl Lifecycle {
    pub fn new() -> Self {
        Self {
            shutdown: watch::channel(false).0,
            tasks: JoinSet::new(),
        }
    }

    /// A receiver that changes to `true` when shutdown starts.
    pub fn stopping(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    /// Serves `router` on `listener` until shutdown, with each client's address available.
    pub fn serve(&mut self, listener: TcpListener, router: axum::Router, what: &'static str) {
        let mut stop = self.stopping();
        self.tasks.spawn(async move {
            axum::serve(
                listener,
                router.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(async move {
                let _ = stop.wait_for(|s| *s).await;
            })
            .await
            .with_context(|| format!("{what} listener failed"))
        });
    }

    /// Runs a background loop; it must return once [`Lifecycle::stopping`] turns `true`.
    pub fn spawn(&mut self, task: impl Future<Output = ()> + Send + 'static) {
        self.tasks.spawn(async move {
            task.await;
            Ok(())
        });
    }

    /// Waits for work that runs elsewhere (on threads of its own) and may fail; it must finish
    /// once [`Lifecycle::stopping`] turns `true`.
    pub fn spawn_fallible(
        &mut self,
        task: impl Future<Output = anyhow::Result<()>> + Send + 'static,
    ) {
        self.tasks.spawn(task);
    }

    /// Starts a graceful shutdown.
    pub fn shutdown(&self) {
        let _ = self.shutdown.send(true);
    }

    /// Waits until every task has stopped.
    pub async fn wait(mut self) -> anyhow::Result<()> {
        while let Some(joined) = self.tasks.join_next().await {
            joined.context("a server task panicked")??;
        }
        Ok(())
    }
}
