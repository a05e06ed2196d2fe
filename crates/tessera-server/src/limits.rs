//! What bounds a node's exposure: failed-attempt and rate limits (enforced in the core's
//! issuer), connection caps (the connection loop), and which peers may tell the client address.
//!
//! Behind a load balancer every connection comes from the balancer, so per-address limits would
//! count every client as one. A peer listed in `trusted_proxies` may name the client in
//! `Forwarded` (RFC 7239) or `X-Forwarded-For`; anyone else's headers are ignored, since a
//! client could otherwise pick a fresh address for every attempt.

use crate::state::AppState;
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http::HeaderMap;
use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr};
pub use tessera_core::throttle::ThrottleConfig;

pub use crate::serve::ConnectionLimits;

/// A node's limits.
#[derive(Debug, Clone, Default)]
pub struct Limits {
    /// Failed authentications and per-client rates.
    pub throttle: ThrottleConfig,
    /// Open connections.
    pub connections: ConnectionLimits,
    /// Peers whose `Forwarded` / `X-Forwarded-For` name the client.
    pub trusted_proxies: Vec<IpNet>,
    /// Applications with their own token rate per second (0: none), instead of the default.
    pub app_token_rates: Vec<(tessera_core::ids::ClientId, u32)>,
}

/// The client's address as resolved through trusted proxies; [`crate::form::Peer`] prefers it
/// to the connection's peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

/// The addresses a request passed through, as the proxies recorded them, nearest last.
fn forwarded_chain(headers: &HeaderMap) -> Vec<IpAddr> {
    let forwarded: Vec<IpAddr> = headers
        .get_all(http::header::FORWARDED)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|element| {
            element.split(';').find_map(|pair| {
                let (k, v) = pair.trim().split_once('=')?;
                k.trim()
                    .eq_ignore_ascii_case("for")
                    .then(|| node_address(v))?
            })
        })
        .collect();
    if !forwarded.is_empty() {
        return forwarded;
    }
    headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|a| node_address(a.trim()))
        .collect()
}

/// An address from a `Forwarded` node (`192.0.2.1`, `"[2001:db8::1]:4711"`, `192.0.2.1:80`) or
/// an `X-Forwarded-For` entry; obfuscated and `unknown` nodes are none.
fn node_address(raw: &str) -> Option<IpAddr> {
    let s = raw.trim().trim_matches('"');
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Some(rest) = s.strip_prefix('[') {
        return rest.split_once(']')?.0.parse().ok();
    }
    s.parse::<SocketAddr>().ok().map(|a| a.ip())
}

/// The client address of a request that arrived from `peer`: walking the forwarded chain from
/// the nearest hop, the first address that is not a trusted proxy. A peer that is not trusted
/// is the client, whatever its headers say.
pub fn client_address(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let chain = forwarded_chain(headers);
    chain
        .iter()
        .rev()
        .find(|ip| !is_trusted(ip))
        .or(chain.first())
        .copied()
        .unwrap_or(peer)
}

/// Resolves the client address of every request when trusted proxies are configured (the
/// router adds this layer only then, so a node without proxies pays nothing).
pub async fn resolve_client_address(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    if let Some(peer) = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
    {
        let ip = client_address(peer, req.headers(), &state.config.limits.trusted_proxies);
        req.extensions_mut().insert(ClientAddr(ip));
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail by panicking")]

    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn only_trusted_peers_name_the_client() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let h = headers(&[("x-forwarded-for", "203.0.113.9, 10.1.1.1")]);
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(
            client_address(ip("10.0.0.2"), &h, &trusted),
            ip("203.0.113.9")
        );
        // A client that is not a proxy cannot choose its address.
        assert_eq!(
            client_address(ip("198.51.100.7"), &h, &trusted),
            ip("198.51.100.7")
        );
        // A spoofed left-most entry does not win over the nearest untrusted hop.
        let h = headers(&[("x-forwarded-for", "1.2.3.4, 203.0.113.9")]);
        assert_eq!(
            client_address(ip("10.0.0.2"), &h, &trusted),
            ip("203.0.113.9")
        );
        let h = headers(&[(
            "forwarded",
            "for=\"[2001:db8::1]:4711\";proto=https, for=10.2.2.2",
        )]);
        assert_eq!(
            client_address(ip("10.0.0.2"), &h, &trusted),
            ip("2001:db8::1")
        );
        // No header: the proxy itself.
        assert_eq!(
            client_address(ip("10.0.0.2"), &HeaderMap::new(), &trusted),
            ip("10.0.0.2")
        );
    }
}
