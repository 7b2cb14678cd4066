//! Where the server may send requests of its own (webhooks now; channel
//! adapters and AI providers use the same rule). A target that resolves to a
//! loopback, private, link-local, shared, multicast or unspecified address is
//! refused, unless the server runs with `--allow-private-webhooks` (local
//! development). The check runs when a target is saved and again at every
//! connection, through the HTTP client's resolver, so a name that later
//! points inside the network is still refused. Redirects are never followed.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Why a target was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("the url must be an absolute http:// or https:// address")]
    NotHttp,
    #[error("{0} cannot be resolved")]
    Unresolvable(String),
    #[error("{0} is a loopback, private, link-local or multicast address")]
    Private(String),
}

/// Whether an address lies outside the public internet.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => private_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => private_v4(v4),
            None => private_v6(v6),
        },
    }
}

fn private_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_unspecified()
        || a == 0
        // Shared address space (carrier-grade NAT), 100.64.0.0/10.
        || (a == 100 && (64..128).contains(&b))
        // Reserved for future use, 240.0.0.0/4.
        || a >= 240
}

fn private_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        // Unique local fc00::/7 and link-local fe80::/10.
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
        // NAT64 to an embedded IPv4 address, 64:ff9b::/96.
        || (first == 0x0064 && ip.segments()[1] == 0xff9b)
}

/// The outbound policy: private targets allowed or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Egress {
    pub allow_private: bool,
}

impl Egress {
    /// Checks a URL before it is saved: its scheme, and every address its host
    /// resolves to.
    pub async fn check_url(&self, url: &str) -> Result<reqwest::Url, Refused> {
        let parsed = reqwest::Url::parse(url).map_err(|_| Refused::NotHttp)?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.cannot_be_a_base() {
            return Err(Refused::NotHttp);
        }
        let host = parsed.host_str().ok_or(Refused::NotHttp)?.trim_start_matches('[').trim_end_matches(']');
        if self.allow_private {
            return Ok(parsed);
        }
        let port = parsed.port_or_known_default().unwrap_or(80);
        let addrs: Vec<SocketAddr> = match host.parse::<IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, port)],
            Err(_) => tokio::net::lookup_host((host, port))
                .await
                .map_err(|_| Refused::Unresolvable(host.to_owned()))?
                .collect(),
        };
        if addrs.is_empty() {
            return Err(Refused::Unresolvable(host.to_owned()));
        }
        match addrs.iter().find(|a| is_private(a.ip())) {
            Some(bad) => Err(Refused::Private(bad.ip().to_string())),
            None => Ok(parsed),
        }
    }

    /// An HTTP client that obeys the policy at connect time and never follows
    /// redirects.
    pub fn client(&self, timeout: Duration) -> reqwest::Client {
        let builder = reqwest::Client::builder().timeout(timeout).redirect(reqwest::redirect::Policy::none());
        let builder = if self.allow_private { builder } else { builder.dns_resolver(Arc::new(PublicOnly)) };
        builder.build().unwrap_or_default()
    }

    /// Whether a URL whose host is an address literal may be called (names go
    /// through the client's resolver instead).
    pub fn literal_allowed(&self, url: &str) -> bool {
        if self.allow_private {
            return true;
        }
        let Ok(parsed) = reqwest::Url::parse(url) else { return false };
        match parsed.host() {
            Some(url::Host::Ipv4(ip)) => !is_private(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => !is_private(IpAddr::V6(ip)),
            Some(url::Host::Domain(_)) => true,
            None => false,
        }
    }
}

/// A resolver that drops private addresses, failing when none is left.
struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found = tokio::net::lookup_host((host.as_str(), 0)).await?;
            let public: Vec<SocketAddr> = found.filter(|a| !is_private(a.ip())).collect();
            if public.is_empty() {
                return Err(Box::new(Refused::Private(host)) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(public.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("address")
    }

    #[test]
    fn internal_addresses_are_private() {
        for a in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
        ] {
            assert!(is_private(ip(a)), "{a} is private");
        }
    }

    #[test]
    fn public_addresses_are_not_private() {
        for a in ["93.184.216.34", "1.1.1.1", "172.32.0.1", "100.128.0.1", "2606:4700:4700::1111"] {
            assert!(!is_private(ip(a)), "{a} is public");
        }
    }

    #[tokio::test]
    async fn saved_targets_must_be_public_http_addresses() {
        let strict = Egress { allow_private: false };
        assert_eq!(strict.check_url("ftp://example.com/x").await, Err(Refused::NotHttp));
        assert_eq!(strict.check_url("not a url").await, Err(Refused::NotHttp));
        assert!(matches!(strict.check_url("http://127.0.0.1:8080/hook").await, Err(Refused::Private(_))));
        assert!(matches!(strict.check_url("http://[::1]/hook").await, Err(Refused::Private(_))));
        assert!(matches!(strict.check_url("http://localhost/hook").await, Err(Refused::Private(_))));
        assert!(strict.check_url("https://93.184.216.34/hook").await.is_ok());
        let lax = Egress { allow_private: true };
        assert!(lax.check_url("http://127.0.0.1:8080/hook").await.is_ok());
    }

    #[test]
    fn literal_addresses_are_checked_before_sending() {
        let strict = Egress { allow_private: false };
        assert!(!strict.literal_allowed("http://10.0.0.1/x"));
        assert!(!strict.literal_allowed("http://[fe80::1]/x"));
        assert!(strict.literal_allowed("http://93.184.216.34/x"));
        assert!(strict.literal_allowed("http://hooks.example.com/x"));
    }
}
