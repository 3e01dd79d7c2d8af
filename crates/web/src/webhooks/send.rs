//! Sending one hook request: signed, with a timeout, over a pooled keep-alive client, and only to
//! allowed addresses (DESIGN.md §4.10). Names are resolved by `CheckedResolver`, which drops
//! every address the [`TargetPolicy`] refuses, so the connection goes to an address that was
//! checked: a name that resolves to a public address when checked and to a private one when
//! connecting (DNS rebinding) cannot slip through. IP literals are checked before sending.
//! Redirects are not followed, and no proxy from the environment is used.

use super::WebhookConfig;
use gatehouse_domain::webhook::{TargetPolicy, WebhookDelivery, signature_header};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;

/// The most of a receiver's answer that is read (a veto's messages).
const MAX_ANSWER_BYTES: usize = 16 * 1024;

/// What came of one request.
#[derive(Debug)]
pub enum Answer {
    /// The receiver answered; for a blocking call, the start of its body.
    Status { code: u16, body: Vec<u8> },
    /// No answer: timeout, connection or protocol failure. The text names what failed, never the
    /// secret or the body.
    Failed(String),
    /// Not sent: the target's address is not allowed.
    Refused(String),
}

/// The target resolved only to addresses that are not allowed.
#[derive(Debug, thiserror::Error)]
#[error(
    "the target's address is private, loopback, link-local or otherwise not public, and web hooks may not reach it (see [webhook_delivery] allow_private_networks and allowed_networks)"
)]
struct RefusedTarget;

/// A resolver that keeps only the addresses the policy allows.
struct CheckedResolver {
    targets: TargetPolicy,
}

impl Resolve for CheckedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let targets = self.targets.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = found
                .into_iter()
                .filter(|addr| targets.allows(addr.ip()))
                .collect();
            if allowed.is_empty() {
                return Err(Box::new(RefusedTarget) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

pub struct Sender {
    client: reqwest::Client,
    targets: TargetPolicy,
}

impl Sender {
    pub fn new(targets: TargetPolicy) -> Result<Self, super::WebhookError> {
        let client = reqwest::Client::builder()
            .dns_resolver(Arc::new(CheckedResolver {
                targets: targets.clone(),
            }))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent("Gatehouse")
            .pool_idle_timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| super::WebhookError::HttpClient(e.to_string()))?;
        Ok(Self { client, targets })
    }

    /// Sends `delivery`'s body to its URL, signed with `hook`'s secret at `now`. `read_body`
    /// keeps the start of the answer (a blocking hook's veto).
    pub async fn send(
        &self,
        hook: &WebhookConfig,
        delivery: &WebhookDelivery,
        now: OffsetDateTime,
        read_body: bool,
    ) -> Answer {
        let Ok(url) = url::Url::parse(&delivery.url) else {
            return Answer::Refused("the target URL is not valid".to_owned());
        };
        let literal: Option<IpAddr> = match url.host() {
            Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            _ => None,
        };
        if literal.is_some_and(|ip| !self.targets.allows(ip)) {
            return Answer::Refused(RefusedTarget.to_string());
        }
        let signature =
            signature_header(&hook.secret, now.unix_timestamp(), delivery.body.as_bytes());
        let request = self
            .client
            .post(url)
            .timeout(hook.timeout)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("X-Gatehouse-Signature", signature)
            .header("X-Gatehouse-Event", delivery.event.as_str())
            .header("X-Gatehouse-Delivery", delivery.id.to_string())
            .body(delivery.body.clone());
        let mut response = match request.send().await {
            Ok(response) => response,
            Err(err) => return failure(&err, hook.timeout),
        };
        let code = response.status().as_u16();
        let mut body = Vec::new();
        if read_body {
            // A slow or endless answer is cut by the request's timeout.
            while body.len() < MAX_ANSWER_BYTES {
                match response.chunk().await {
                    Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                    Ok(None) | Err(_) => break,
                }
            }
            body.truncate(MAX_ANSWER_BYTES);
        }
        Answer::Status { code, body }
    }
}

/// A failed request as stored with the delivery: what kind of failure, never the URL's secrets.
fn failure(err: &reqwest::Error, timeout: Duration) -> Answer {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(current) = source {
        if current.downcast_ref::<RefusedTarget>().is_some() {
            return Answer::Refused(RefusedTarget.to_string());
        }
        source = current.source();
    }
    let reason = if err.is_timeout() {
        format!(
            "the receiver did not answer within {} ms",
            timeout.as_millis()
        )
    } else if err.is_connect() {
        "cannot connect to the receiver".to_owned()
    } else {
        "the request to the receiver failed".to_owned()
    };
    Answer::Failed(reason)
}
