//! The proxy listener: HTTP/1.1 only (no protocol detection per connection), `TCP_NODELAY`,
//! upgrades passed through, and every request straight to [`proxy::handle`] with its client's
//! address, without a router in between. On shutdown it stops accepting and lets each connection
//! finish its request in flight.
//!
//! `gatehouse gateway` runs one such loop per proxy worker (a thread with a single-threaded
//! runtime, as nginx runs worker processes), all accepting from the same socket: a request
//! then never leaves the thread that read it, and each worker keeps its own upstream
//! connections.

use super::upstream::Upstreams;
use super::{Gateway, proxy};
use axum::body::Body;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::future::Future;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// Serves the proxy on `listener` until `stop` completes, then waits for open connections.
pub async fn serve_proxy(listener: TcpListener, gateway: Gateway, stop: impl Future<Output = ()>) {
    let upstreams = Upstreams::new(gateway.0.connector.clone());
    let (closing, closed) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut stop = std::pin::pin!(stop);
    loop {
        let (tcp, peer) = tokio::select! {
            () = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors, usually: give the others a moment to close.
                    tracing::warn!(error = %err, "cannot accept a proxy connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        if let Err(err) = tcp.set_nodelay(true) {
            tracing::debug!(error = %err, "cannot set TCP_NODELAY");
        }
        let gateway = gateway.clone();
        let upstreams = upstreams.clone();
        let mut closed = closed.clone();
        connections.spawn(async move {
            let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
                let gateway = gateway.clone();
                let upstreams = upstreams.clone();
                async move {
                    Ok::<_, Infallible>(
                        proxy::forward_request(
                            &gateway,
                            &upstreams,
                            request.map(Body::new),
                            Some(peer),
                        )
                        .await,
                    )
                }
            });
            // One buffer per answer, written with `write` (see `Upstreams::connect`).
            let connection = hyper::server::conn::http1::Builder::new()
                .writev(false)
                .serve_connection(TokioIo::new(tcp), service)
                .with_upgrades();
            let mut connection = std::pin::pin!(connection);
            tokio::select! {
                biased;
                result = connection.as_mut() => {
                    if let Err(err) = result {
                        tracing::debug!(error = %err, "proxy connection ended");
                    }
                }
                _ = async { closed.wait_for(|c| *c).await.map(|_| ()) } => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
        });
        while connections.try_join_next().is_some() {}
    }
    let _ = closing.send(true);
    while connections.join_next().await.is_some() {}
}
