//! Connections to upstreams: HTTP/1.1 over TCP or TLS, kept alive and reused, one request at a
//! time each. A request takes an idle connection of its upstream's origin (or opens one); the
//! connection goes back to the idle list when the response body has been read to its end, from
//! inside the body itself, so nothing is spawned per request. A connection whose response was
//! not read to the end, that was upgraded (101), or that timed out is not reused.
//!
//! Each proxy worker has its own `Upstreams`: a connection is driven by the runtime of the worker
//! that opened it, so reusing it from another worker's thread would wake that runtime for every
//! request.

use axum::body::Body;
use axum::body::Bytes;
use axum::http::uri::{Authority, Scheme};
use axum::http::{HeaderValue, Request, Response, StatusCode, Uri};
use hyper::body::{Body as _, Frame, Incoming, SizeHint};
use hyper::client::conn::http1;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tower::{Service, ServiceExt};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// An idle connection is dropped after this long (upstreams close theirs after 60–75 s).
const IDLE_TIMEOUT: Duration = Duration::from_secs(50);
/// Idle connections kept per origin; more are closed when their response ends.
const MAX_IDLE_PER_ORIGIN: usize = 256;

/// Where an upstream lives: scheme and authority, parsed once per rule.
#[derive(Debug, Clone)]
pub struct Origin {
    /// `scheme://authority`, the idle list's key.
    key: Arc<str>,
    scheme: Scheme,
    authority: Authority,
    /// `Host` as the upstream expects it (no default port).
    host: HeaderValue,
}

impl Origin {
    /// The origin of an `http` or `https` URL.
    pub fn of(url: &url::Url) -> Option<Self> {
        let scheme = match url.scheme() {
            "http" => Scheme::HTTP,
            "https" => Scheme::HTTPS,
            _ => return None,
        };
        let host = match url.host()? {
            url::Host::Ipv6(ip) => format!("[{ip}]"),
            other => other.to_string(),
        };
        let host = match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host,
        };
        Some(Self {
            key: format!("{scheme}://{host}").into(),
            authority: Authority::try_from(host.as_str()).ok()?,
            host: HeaderValue::try_from(host).ok()?,
            scheme,
        })
    }

    /// The `Host` header for requests to this origin.
    pub fn host_header(&self) -> &HeaderValue {
        &self.host
    }
}

/// Why a request got no response from its upstream.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("cannot connect: {0}")]
    Connect(BoxError),
    #[error("request failed: {0}")]
    Request(#[source] hyper::Error),
}

struct Idle {
    sender: http1::SendRequest<Body>,
    since: Instant,
}

#[derive(Default)]
struct IdleLists(Mutex<HashMap<Arc<str>, Vec<Idle>>>);

impl IdleLists {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Arc<str>, Vec<Idle>>> {
        self.0
            .lock()
            .expect("idle list lock is never poisoned: nothing panics holding it")
    }

    /// The most recently used live connection to `origin`; stale ones are dropped on the way.
    fn take(&self, origin: &Origin) -> Option<http1::SendRequest<Body>> {
        let mut lists = self.lock();
        let list = lists.get_mut(&origin.key)?;
        while let Some(idle) = list.pop() {
            if !idle.sender.is_closed() && idle.since.elapsed() < IDLE_TIMEOUT {
                return Some(idle.sender);
            }
        }
        None
    }

    fn put(&self, key: &Arc<str>, sender: http1::SendRequest<Body>) {
        if sender.is_closed() {
            return;
        }
        let mut lists = self.lock();
        let list = lists.entry(key.clone()).or_default();
        if list.len() < MAX_IDLE_PER_ORIGIN {
            list.push(Idle {
                sender,
                since: Instant::now(),
            });
        }
    }
}

/// The upstream connections of one proxy worker. Cheap to clone.
#[derive(Clone)]
pub struct Upstreams {
    connector: HttpsConnector<HttpConnector>,
    idle: Arc<IdleLists>,
}

impl Upstreams {
    pub fn new(connector: HttpsConnector<HttpConnector>) -> Self {
        Self {
            connector,
            idle: Arc::default(),
        }
    }

    /// Sends `request` (origin-form URI, `Host` set) to `origin`. A request that a reused
    /// connection refused before sending it (the upstream had just closed it) is retried on
    /// another connection.
    pub async fn send(
        &self,
        origin: &Origin,
        mut request: Request<Body>,
    ) -> Result<Response<Body>, UpstreamError> {
        loop {
            let (mut sender, reused) = match self.idle.take(origin) {
                Some(mut sender) => match sender.ready().await {
                    Ok(()) => (sender, true),
                    Err(_) => continue,
                },
                None => (self.connect(origin).await?, false),
            };
            match sender.try_send_request(request).await {
                Ok(response) => return Ok(self.keep(origin, sender, response)),
                Err(mut err) => match err.take_message() {
                    Some(unsent) if reused => request = unsent,
                    _ => return Err(UpstreamError::Request(err.into_error())),
                },
            }
        }
    }

    async fn connect(&self, origin: &Origin) -> Result<http1::SendRequest<Body>, UpstreamError> {
        let uri = Uri::builder()
            .scheme(origin.scheme.clone())
            .authority(origin.authority.clone())
            .path_and_query("/")
            .build()
            .map_err(|e| UpstreamError::Connect(e.into()))?;
        let stream = self
            .connector
            .clone()
            .ready()
            .await
            .map_err(UpstreamError::Connect)?
            .call(uri)
            .await
            .map_err(UpstreamError::Connect)?;
        // Head and body copied into one buffer and written with one `write`, rather than a
        // `writev` of both: 6% more requests per second through the proxy (bench/gateway.sh).
        let (sender, connection) = http1::Builder::new()
            .writev(false)
            .handshake(stream)
            .await
            .map_err(UpstreamError::Request)?;
        tokio::spawn(async move {
            if let Err(err) = connection.with_upgrades().await {
                tracing::debug!(error = %err, "upstream connection closed");
            }
        });
        Ok(sender)
    }

    /// The response, with a body that puts the connection back once read to the end.
    fn keep(
        &self,
        origin: &Origin,
        sender: http1::SendRequest<Body>,
        response: Response<Incoming>,
    ) -> Response<Body> {
        if response.status() == StatusCode::SWITCHING_PROTOCOLS {
            // The connection now belongs to the upgrade.
            return response.map(Body::new);
        }
        let back = GiveBack {
            idle: self.idle.clone(),
            key: origin.key.clone(),
            sender,
        };
        response.map(|inner| {
            Body::new(PooledBody {
                inner,
                back: Some(back),
            })
        })
    }
}

struct GiveBack {
    idle: Arc<IdleLists>,
    key: Arc<str>,
    sender: http1::SendRequest<Body>,
}

/// An upstream response body that returns its connection when it ends.
struct PooledBody {
    inner: Incoming,
    back: Option<GiveBack>,
}

impl PooledBody {
    fn give_back(&mut self) {
        if let Some(back) = self.back.take() {
            back.idle.put(&back.key, back.sender);
        }
    }
}

impl hyper::body::Body for PooledBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(None) => self.give_back(),
            Poll::Ready(Some(Ok(_))) if self.inner.is_end_stream() => self.give_back(),
            Poll::Ready(Some(Err(_))) => self.back = None,
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for PooledBody {
    fn drop(&mut self) {
        // A body read to its end (or empty) leaves the connection ready for the next request;
        // one dropped half-way does not.
        if self.inner.is_end_stream() {
            self.give_back();
        }
    }
}
