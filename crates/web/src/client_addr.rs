//! The client's address behind trusted reverse proxies. When the socket peer is one of
//! `trusted_proxies`, the client is the right-most `X-Forwarded-For` entry that is not itself a
//! trusted proxy (entries further left were written by the client and prove nothing). The
//! request's `ConnectInfo` is replaced by that address, so every later reader (IP bans,
//! throttles, session devices, audit events) sees the client, as nginx's `real_ip` does. With no
//! trusted proxies configured, forwarding headers are ignored.

use crate::state::AppState;
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use gatehouse_domain::ip_ban::IpNet;
use std::net::{IpAddr, SocketAddr};

const FORWARDED_FOR: &str = "x-forwarded-for";

/// The client address for a request from `peer` carrying `forwarded_for` header values.
pub fn client_addr<'a>(
    peer: IpAddr,
    forwarded_for: impl Iterator<Item = &'a str>,
    trusted: &[IpNet],
) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|net| net.contains(ip.to_canonical()));
    if !is_trusted(peer) {
        return peer;
    }
    let hops: Vec<&str> = forwarded_for.flat_map(|value| value.split(',')).collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        // An unreadable entry ends the chain: what lies left of it cannot be trusted.
        let Ok(ip) = hop.trim().parse::<IpAddr>() else {
            break;
        };
        client = ip.to_canonical();
        if !is_trusted(client) {
            break;
        }
    }
    client
}

/// Middleware (outermost on the public listener): rewrites `ConnectInfo` to the client address.
pub async fn resolve(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    if !state.settings.trusted_proxies.is_empty()
        && let Some(ConnectInfo(peer)) = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .copied()
    {
        let values: Vec<String> = request
            .headers()
            .get_all(FORWARDED_FOR)
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect();
        let client = client_addr(
            peer.ip(),
            values.iter().map(String::as_str),
            &state.settings.trusted_proxies,
        );
        request
            .extensions_mut()
            .insert(ConnectInfo(SocketAddr::new(client, peer.port())));
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| IpNet::parse(n).expect("net")).collect()
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("ip")
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        let trusted = nets(&["10.0.0.0/8"]);
        assert_eq!(
            client_addr(ip("203.0.113.9"), ["198.51.100.1"].into_iter(), &trusted),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn the_client_is_the_rightmost_untrusted_hop() {
        let trusted = nets(&["10.0.0.0/8", "192.168.0.0/16"]);
        // The client wrote "6.6.6.6" itself; the proxies appended the real hops.
        let header = ["6.6.6.6, 203.0.113.9", "192.168.1.2"];
        assert_eq!(
            client_addr(ip("10.0.0.5"), header.into_iter(), &trusted),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn garbage_or_no_header_leaves_the_last_trusted_address() {
        let trusted = nets(&["10.0.0.0/8"]);
        assert_eq!(
            client_addr(ip("10.0.0.5"), std::iter::empty(), &trusted),
            ip("10.0.0.5")
        );
        assert_eq!(
            client_addr(
                ip("10.0.0.5"),
                ["203.0.113.9, not-an-ip"].into_iter(),
                &trusted
            ),
            ip("10.0.0.5")
        );
        assert_eq!(
            client_addr(ip("::ffff:10.0.0.5"), ["2001:db8::1"].into_iter(), &trusted),
            ip("2001:db8::1")
        );
    }
}
