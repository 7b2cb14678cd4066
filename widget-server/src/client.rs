//! Who is asking: the client's address (the peer, or behind trusted proxies
//! the rightmost `X-Forwarded-For` hop no trusted proxy wrote) and the key
//! limits count it under (an IPv4 address, or an IPv6 /64: one subscriber's
//! network is one client).

use std::convert::Infallible;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use ipnet::IpNet;

use crate::AppState;

/// The networks whose `X-Forwarded-For` entries are believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// `nets`, plus loopback when `loopback` (the old `--trust-proxy`).
    pub fn new(mut nets: Vec<IpNet>, loopback: bool) -> Self {
        if loopback {
            nets.extend(["127.0.0.0/8", "::1/128"].iter().filter_map(|n| n.parse::<IpNet>().ok()));
        }
        Self(nets)
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client of a request from `peer`: walking `X-Forwarded-For` from
    /// the right, the first address not of a trusted proxy. Entries left of
    /// it were written by the client and are ignored, so a client cannot
    /// choose its own address.
    pub fn client_of(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let mut client = canonical(peer);
        if !self.trusts(client) {
            return client;
        }
        let hops: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .collect();
        for hop in hops.iter().rev() {
            let Some(ip) = parse_hop(hop) else { return client };
            client = ip;
            if !self.trusts(ip) {
                break;
            }
        }
        client
    }
}

/// One `X-Forwarded-For` entry: an address, optionally with a port.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    let ip = hop.parse::<IpAddr>().ok().or_else(|| hop.parse::<SocketAddr>().ok().map(|s| s.ip()))?;
    Some(canonical(ip))
}

/// IPv4-mapped IPv6 addresses as the IPv4 address they are.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// What limits count a client under: its IPv4 address or its IPv6 /64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientKey(IpAddr);

impl From<IpAddr> for ClientKey {
    fn from(ip: IpAddr) -> Self {
        match canonical(ip) {
            IpAddr::V6(v6) => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                Self(IpAddr::V6(Ipv6Addr::from(prefix)))
            }
            v4 => Self(v4),
        }
    }
}

/// The requesting client's address, extracted from a request.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub IpAddr);

impl ClientIp {
    pub fn key(self) -> ClientKey {
        ClientKey::from(self.0)
    }
}

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Infallible> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::from([127, 0, 0, 1]), |ConnectInfo(addr)| addr.ip());
        Ok(Self(state.settings.proxies.client_of(peer, &parts.headers)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forwarded(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append("x-forwarded-for", v.parse().expect("header"));
        }
        headers
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    fn proxies(nets: &[&str]) -> TrustedProxies {
        TrustedProxies::new(nets.iter().map(|n| n.parse().expect("net")).collect(), false)
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        let p = proxies(&["10.0.0.0/8"]);
        assert_eq!(p.client_of(ip("203.0.113.9"), &forwarded(&["198.51.100.1"])), ip("203.0.113.9"));
    }

    #[test]
    fn the_rightmost_untrusted_hop_wins_over_what_the_client_wrote() {
        let p = proxies(&["10.0.0.0/8"]);
        // The client wrote "1.1.1.1"; the edge proxy appended the real peer.
        let headers = forwarded(&["1.1.1.1, 203.0.113.7", "10.0.0.2"]);
        assert_eq!(p.client_of(ip("10.0.0.1"), &headers), ip("203.0.113.7"));
    }

    #[test]
    fn an_unparsable_hop_stops_the_walk_at_the_last_trusted_address() {
        let p = proxies(&["10.0.0.0/8"]);
        assert_eq!(p.client_of(ip("10.0.0.1"), &forwarded(&["not-an-ip"])), ip("10.0.0.1"));
        assert_eq!(p.client_of(ip("10.0.0.1"), &forwarded(&["203.0.113.7:4711"])), ip("203.0.113.7"));
        assert_eq!(p.client_of(ip("10.0.0.1"), &forwarded(&["[2001:db8::1]:443"])), ip("2001:db8::1"));
    }

    #[test]
    fn all_hops_trusted_leaves_the_leftmost() {
        let p = proxies(&["10.0.0.0/8"]);
        assert_eq!(p.client_of(ip("10.0.0.1"), &forwarded(&["10.0.0.3, 10.0.0.2"])), ip("10.0.0.3"));
    }

    #[test]
    fn trust_proxy_means_loopback() {
        let p = TrustedProxies::new(Vec::new(), true);
        assert_eq!(p.client_of(ip("127.0.0.1"), &forwarded(&["203.0.113.7"])), ip("203.0.113.7"));
        assert_eq!(p.client_of(ip("::ffff:127.0.0.1"), &forwarded(&["203.0.113.7"])), ip("203.0.113.7"));
        assert_eq!(TrustedProxies::default().client_of(ip("127.0.0.1"), &forwarded(&["203.0.113.7"])), ip("127.0.0.1"));
    }

    #[test]
    fn ipv6_clients_are_keyed_by_their_64() {
        let a = ClientKey::from(ip("2001:db8:1:2:aaaa::1"));
        assert_eq!(a, ClientKey::from(ip("2001:db8:1:2:ffff:ffff:ffff:ffff")));
        assert_ne!(a, ClientKey::from(ip("2001:db8:1:3::1")));
        assert_ne!(ClientKey::from(ip("192.0.2.1")), ClientKey::from(ip("192.0.2.2")));
        assert_eq!(ClientKey::from(ip("::ffff:192.0.2.1")), ClientKey::from(ip("192.0.2.1")));
    }
}
