//! Client addresses: who is asking, behind trusted proxies, in one canonical form.
//!
//! Every record of an address (audit entries, machines, blacklist entries, FaxStore's IP
//! binding) and every per-address rule (rate limits, the IP blacklist, WemX's domain–IP binding)
//! go through [`ClientIp`] and [`canonical`], so that `2001:0db8::1`, `2001:db8::1` and
//! `::ffff:192.0.2.1` / `192.0.2.1` are each one address.

use std::net::{IpAddr, Ipv6Addr};

use ipnet::IpNet;

/// An address in the one form licet records and compares: IPv4-mapped IPv6 as IPv4.
pub fn canonical(ip: IpAddr) -> IpAddr {
    ip.to_canonical()
}

/// Parses an address in any textual form; its canonical form.
pub fn parse_canonical(text: &str) -> Option<IpAddr> {
    text.trim().parse::<IpAddr>().ok().map(canonical)
}

/// What a per-address rate limit counts: the address, or for IPv6 its /64, which one host
/// usually holds whole.
pub fn rate_key(ip: IpAddr) -> IpAddr {
    match canonical(ip) {
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        v4 => v4,
    }
}

/// The proxies whose forwarding header is believed (`--trusted-proxies`): the loopback and
/// private ranges unless configured.
pub fn default_trusted_proxies() -> Vec<IpNet> {
    [
        "127.0.0.0/8",
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "::1/128",
        "fc00::/7",
    ]
    .iter()
    .filter_map(|n| n.parse().ok())
    .collect()
}

/// Parses `--trusted-proxies`: CIDR ranges or single addresses, comma-separated; empty trusts
/// none.
pub fn parse_proxies(text: &str) -> Result<Vec<IpNet>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| {
            t.parse::<IpNet>()
                .or_else(|_| t.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| format!("{t:?} is not an address or a CIDR range"))
        })
        .collect()
}

/// The client of a request that reached us from `peer`, given the forwarding header's values
/// (oldest hop first, as proxies append): the right-most address that is not a trusted proxy.
/// Proxies append the address they saw, so everything left of the first untrusted hop was
/// written by the client and proves nothing. A hop that is not an address ends the walk at the
/// last address a trusted proxy vouched for.
pub fn client_behind(peer: IpAddr, forwarded: &[&str], trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
    let mut client = canonical(peer);
    if !is_trusted(&client) {
        return client;
    }
    let hops = forwarded
        .iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect::<Vec<_>>();
    for hop in hops.iter().rev() {
        match parse_canonical(hop) {
            Some(ip) => {
                client = ip;
                if !is_trusted(&ip) {
                    break;
                }
            }
            None => break,
        }
    }
    client
}

/// The client's IP address: the connection's peer (absent in `oneshot` tests), or, when the
/// server trusts a proxy header (`--trusted-proxy-header`) and the peer is a trusted proxy
/// (`--trusted-proxies`), the right-most address in that header that is not one. Always in
/// canonical form.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub Option<IpAddr>);

impl ClientIp {
    /// The address as text, for records.
    pub fn text(&self) -> Option<String> {
        self.0.map(|ip| ip.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn the_right_most_untrusted_hop_is_the_client() {
        let t = default_trusted_proxies();
        // The client wrote a fake first entry; the proxy appended what it saw.
        assert_eq!(
            client_behind(ip("127.0.0.1"), &["6.6.6.6, 203.0.113.7"], &t),
            ip("203.0.113.7")
        );
        // Two proxies of ours.
        assert_eq!(
            client_behind(ip("10.0.0.2"), &["6.6.6.6, 203.0.113.7, 10.0.0.1"], &t),
            ip("203.0.113.7")
        );
        // Header lines are one list.
        assert_eq!(
            client_behind(ip("10.0.0.2"), &["6.6.6.6", "203.0.113.7"], &t),
            ip("203.0.113.7")
        );
        // An untrusted peer's header is ignored.
        assert_eq!(
            client_behind(ip("198.51.100.1"), &["203.0.113.7"], &t),
            ip("198.51.100.1")
        );
        // Junk stops the walk at the last vouched-for address.
        assert_eq!(
            client_behind(ip("10.0.0.2"), &["203.0.113.7, junk, 10.0.0.1"], &t),
            ip("10.0.0.1")
        );
        // No header: the proxy itself.
        assert_eq!(client_behind(ip("10.0.0.2"), &[], &t), ip("10.0.0.2"));
        // A configured list replaces the default.
        let only = parse_proxies("192.0.2.0/24, 2001:db8::1").expect("list");
        assert_eq!(
            client_behind(ip("10.0.0.2"), &["203.0.113.7"], &only),
            ip("10.0.0.2")
        );
        assert_eq!(
            client_behind(ip("192.0.2.9"), &["203.0.113.7"], &only),
            ip("203.0.113.7")
        );
        assert!(parse_proxies("10.0.0.0/33").is_err());
    }

    #[test]
    fn addresses_have_one_form_and_ipv6_is_limited_by_its_64() {
        assert_eq!(
            parse_canonical("2001:0db8:0000::0001"),
            parse_canonical("2001:db8::1")
        );
        assert_eq!(parse_canonical("::ffff:192.0.2.1"), Some(ip("192.0.2.1")));
        assert_eq!(
            rate_key(ip("2001:db8:1:2:aaaa::1")),
            rate_key(ip("2001:db8:1:2:bbbb::2"))
        );
        assert_ne!(
            rate_key(ip("2001:db8:1:2::1")),
            rate_key(ip("2001:db8:1:3::1"))
        );
        assert_eq!(rate_key(ip("192.0.2.1")), ip("192.0.2.1"));
    }
}
