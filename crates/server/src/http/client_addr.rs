//! The client's address: the TCP peer, or, when that peer is a trusted reverse proxy, the
//! address the proxy chain names. Throttles key on it, so it must not be forgeable: a
//! forwarding header is read only from a trusted peer, and walked from the right (the hop
//! nearest to us) past trusted proxies, so whatever a client wrote into it itself is
//! never reached while an untrusted hop is in between.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use ipnet::IpNet;

use super::error::HttpError;
use crate::app::AppState;
use crate::config::{ProxyHeader, parse_cidr};

/// The proxies whose forwarding header is believed, and which header that is.
#[derive(Clone, Debug, Default)]
pub struct TrustedProxies {
    nets: Vec<IpNet>,
    header: ProxyHeader,
}

impl TrustedProxies {
    /// From the configuration (validated at load, so bad entries cannot occur; any that do
    /// are skipped rather than trusted).
    pub fn new(cidrs: &[String], header: ProxyHeader) -> Self {
        TrustedProxies {
            nets: cidrs.iter().filter_map(|c| parse_cidr(c).ok()).collect(),
            header,
        }
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.nets.iter().any(|n| n.contains(&ip))
    }

    /// The client of a request that reached us from `peer` with `headers`.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        if !self.trusts(peer) {
            return peer;
        }
        let hops = match self.header {
            ProxyHeader::XForwardedFor => forwarded_for(headers),
            ProxyHeader::Forwarded => forwarded(headers),
        };
        let mut nearest = peer;
        for hop in hops.iter().rev() {
            match hop {
                Some(ip) if self.trusts(*ip) => nearest = *ip,
                Some(ip) => return *ip,
                // An entry we cannot read (`unknown`, an obfuscated name): the last trusted
                // hop is the furthest we can vouch for.
                None => return nearest,
            }
        }
        nearest
    }
}

/// The address a request came from, as throttles and logs should see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

impl ClientAddr {
    pub fn ip(&self) -> IpAddr {
        self.0
    }

    /// The key per-client throttles count under: the address for IPv4, its /64 for IPv6
    /// (one subscriber usually holds a whole /64, so counting single addresses would let one
    /// client rotate through 2^64 of them).
    pub fn throttle_key(&self) -> String {
        match self.0 {
            IpAddr::V4(v4) => v4.to_string(),
            IpAddr::V6(v6) => {
                let bits = u128::from(v6) & !((1u128 << 64) - 1);
                format!("{}/64", Ipv6Addr::from(bits))
            }
        }
    }
}

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, HttpError> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip())
            .ok_or_else(|| HttpError::internal(&"no peer address on the connection"))?;
        Ok(ClientAddr(state.proxies.client(peer, &parts.headers)))
    }
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// Every `X-Forwarded-For` entry, left to right, across repeated headers.
fn forwarded_for(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    headers
        .get_all("x-forwarded-for")
        .iter()
        .flat_map(|v| {
            let text = v.to_str().unwrap_or("");
            text.split(',').map(parse_node).collect::<Vec<_>>()
        })
        .collect()
}

/// Every `for=` of `Forwarded` (RFC 7239), left to right, across repeated headers.
fn forwarded(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let mut out = Vec::new();
    for value in headers.get_all("forwarded") {
        let Ok(text) = value.to_str() else {
            out.push(None);
            continue;
        };
        for element in text.split(',') {
            let node = element.split(';').find_map(|pair| {
                let (name, value) = pair.split_once('=')?;
                name.trim().eq_ignore_ascii_case("for").then_some(value)
            });
            // An element without `for=` names no client: unreadable, like `unknown`.
            out.push(node.and_then(parse_node));
        }
    }
    out
}

/// One node: `1.2.3.4`, `1.2.3.4:80`, `2001:db8::1`, `[2001:db8::1]:80`, quoted or not.
fn parse_node(text: &str) -> Option<IpAddr> {
    let text = text.trim().trim_matches('"');
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    if let Some(rest) = text.strip_prefix('[') {
        let (inside, _) = rest.split_once(']')?;
        return inside
            .parse::<Ipv6Addr>()
            .ok()
            .map(|v6| canonical(IpAddr::V6(v6)));
    }
    text.parse::<SocketAddr>().ok().map(|sa| canonical(sa.ip()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(name: &'static str, values: &[&'static str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(name, axum::http::HeaderValue::from_static(v));
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse()
            .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))
    }

    #[test]
    fn untrusted_peer_is_the_client_whatever_the_header() {
        let p = TrustedProxies::new(&["10.0.0.0/8".into()], ProxyHeader::XForwardedFor);
        let h = headers("x-forwarded-for", &["1.1.1.1"]);
        assert_eq!(p.client(ip("192.0.2.9"), &h), ip("192.0.2.9"));
    }

    #[test]
    fn walks_right_to_left_past_trusted_hops() {
        let p = TrustedProxies::new(
            &["10.0.0.0/8".into(), "2001:db8:ffff::/48".into()],
            ProxyHeader::XForwardedFor,
        );
        // The client wrote `6.6.6.6` itself; the edge proxy appended the real peer.
        let h = headers("x-forwarded-for", &["6.6.6.6, 198.51.100.7", "10.1.1.1"]);
        assert_eq!(p.client(ip("10.0.0.1"), &h), ip("198.51.100.7"));
        // Only proxies: the furthest one.
        let h = headers("x-forwarded-for", &["10.9.9.9, 10.1.1.1"]);
        assert_eq!(p.client(ip("10.0.0.1"), &h), ip("10.9.9.9"));
        // No header at all: the proxy itself.
        assert_eq!(p.client(ip("10.0.0.1"), &HeaderMap::new()), ip("10.0.0.1"));
        // Garbage stops the walk at the last trusted hop.
        let h = headers("x-forwarded-for", &["1.2.3.4, junk, 10.1.1.1"]);
        assert_eq!(p.client(ip("10.0.0.1"), &h), ip("10.1.1.1"));
        // The other header is ignored.
        let h = headers("forwarded", &["for=1.2.3.4"]);
        assert_eq!(p.client(ip("10.0.0.1"), &h), ip("10.0.0.1"));
        // An IPv4-mapped peer is the IPv4 address.
        let h = headers("x-forwarded-for", &["203.0.113.5"]);
        assert_eq!(p.client(ip("::ffff:10.0.0.1"), &h), ip("203.0.113.5"));
    }

    #[test]
    fn rfc7239_forms() {
        let p = TrustedProxies::new(&["127.0.0.1".into()], ProxyHeader::Forwarded);
        let h = headers(
            "forwarded",
            &["for=6.6.6.6, For=\"[2001:db8:cafe::17]:4711\";proto=https"],
        );
        assert_eq!(p.client(ip("127.0.0.1"), &h), ip("2001:db8:cafe::17"));
        let h = headers("forwarded", &["for=192.0.2.60;proto=http;by=203.0.113.43"]);
        assert_eq!(p.client(ip("127.0.0.1"), &h), ip("192.0.2.60"));
        let h = headers("forwarded", &["for=\"192.0.2.61:8080\""]);
        assert_eq!(p.client(ip("127.0.0.1"), &h), ip("192.0.2.61"));
        let h = headers("forwarded", &["for=unknown"]);
        assert_eq!(p.client(ip("127.0.0.1"), &h), ip("127.0.0.1"));
    }

    #[test]
    fn throttle_keys() {
        assert_eq!(ClientAddr(ip("192.0.2.1")).throttle_key(), "192.0.2.1");
        let a = ClientAddr(ip("2001:db8:1:2:aaaa::1")).throttle_key();
        let b = ClientAddr(ip("2001:db8:1:2:bbbb::2")).throttle_key();
        let c = ClientAddr(ip("2001:db8:1:3::1")).throttle_key();
        assert_eq!(a, "2001:db8:1:2::/64");
        assert_eq!(a, b);
        assert_ne!(a, c);
    }
}
