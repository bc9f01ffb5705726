//! Who is on the other end: the peer address of the connection, or — when the peer is a reverse
//! proxy named with `--trusted-proxy` — the client that proxy names in `X-Forwarded-For`.
//!
//! Rate limits key anonymous callers by this address, so it must not be something a client
//! can choose: a proxy header from any other peer is removed before a handler sees it (which
//! also makes [`super::origin`] trust `X-Forwarded-Proto` only from a proxy).

use axum::extract::{ConnectInfo, Request};
use axum::middleware::Next;
use axum::response::Response;
use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// The client's address as [`forwarded`] settled it; `None` when the router is called without
/// a connection (in-process, as the integration tests do), where no address is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub Option<IpAddr>);

/// The reverse proxies whose `X-Forwarded-*` headers are believed (`--trusted-proxy`).
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Arc<Vec<IpNet>>);

/// The headers a proxy sets; removed from requests of any other peer.
const PROXY_HEADERS: [&str; 4] = [
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
    "forwarded",
];

impl TrustedProxies {
    pub fn new(nets: Vec<IpNet>) -> Self {
        TrustedProxies(Arc::new(nets))
    }

    /// `10.0.0.5` (one address) or `10.0.0.0/24` (a network), as `--trusted-proxy` takes it.
    pub fn parse_net(text: &str) -> Result<IpNet, String> {
        let text = text.trim();
        text.parse::<IpNet>()
            .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
            .map_err(|_| format!("{text:?} is not an IP address or a CIDR network"))
    }

    pub fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client behind `peer`: `X-Forwarded-For` read from the right (the hop nearest to
    /// us), skipping trusted proxies; the first address not trusted is the client. A chain
    /// of only trusted hops gives its leftmost one; an unreadable entry stops the walk there
    /// (what lies left of it was written by someone we cannot vouch for).
    pub fn client(&self, peer: IpAddr, headers: &axum::http::HeaderMap) -> IpAddr {
        if !self.trusts(peer) {
            return canonical(peer);
        }
        let hops: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        let mut client = canonical(peer);
        for hop in hops.iter().rev() {
            let Ok(ip) = hop.parse::<IpAddr>() else {
                break;
            };
            client = canonical(ip);
            if !self.trusts(client) {
                break;
            }
        }
        client
    }
}

/// IPv4 addresses reached over an IPv6 socket (`::ffff:a.b.c.d`) count as the IPv4 address,
/// so one client has one bucket whichever socket it came in on.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Middleware: settles [`ClientAddr`] and removes proxy headers an untrusted peer sent.
pub async fn forwarded(
    axum::extract::State(proxies): axum::extract::State<TrustedProxies>,
    mut request: Request,
    next: Next,
) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let client = match peer {
        Some(peer) if proxies.trusts(peer) => Some(proxies.client(peer, request.headers())),
        Some(peer) => {
            let headers = request.headers_mut();
            for name in PROXY_HEADERS {
                headers.remove(name);
            }
            Some(canonical(peer))
        }
        None => None,
    };
    request.extensions_mut().insert(ClientAddr(client));
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderMap;

    fn proxies(nets: &[&str]) -> TrustedProxies {
        TrustedProxies::new(
            nets.iter()
                .map(|n| TrustedProxies::parse_net(n).unwrap())
                .collect(),
        )
    }

    fn xff(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", value.parse().unwrap());
        h
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        let p = proxies(&["10.0.0.0/8"]);
        let peer: IpAddr = "203.0.113.9".parse().unwrap();
        assert_eq!(p.client(peer, &xff("1.2.3.4")), peer);
    }

    #[test]
    fn a_trusted_proxy_names_the_first_untrusted_hop_from_the_right() {
        let p = proxies(&["10.0.0.0/8", "127.0.0.1"]);
        let peer: IpAddr = "127.0.0.1".parse().unwrap();
        // The client forged the first entry; the proxy appended the address it saw.
        let headers = xff("6.6.6.6, 198.51.100.7, 10.1.2.3");
        assert_eq!(
            p.client(peer, &headers),
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
        assert_eq!(p.client(peer, &HeaderMap::new()), peer);
        assert_eq!(
            p.client(peer, &xff("garbage, 198.51.100.7")),
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn mapped_ipv4_counts_as_ipv4_and_bad_networks_are_refused() {
        let p = proxies(&["127.0.0.1"]);
        assert!(p.trusts("::ffff:127.0.0.1".parse().unwrap()));
        assert!(TrustedProxies::parse_net("10.0.0.0/33").is_err());
        assert!(TrustedProxies::parse_net("proxy.local").is_err());
        assert!(TrustedProxies::parse_net("::1").is_ok());
    }
}
