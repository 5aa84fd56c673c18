//! Requests the server makes on a user's behalf (webhook deliveries): only to public
//! addresses, to the very address that was checked, and failures told as a small set of
//! classes, never as raw error text.
//!
//! A webhook URL is a user's choice of where the server connects. Checked as text, it let
//! `http://127.1/`, `http://2130706433/`, `http://[::ffff:127.0.0.1]/` or any name that
//! resolves inside reach the server's own network, and the raw connection errors of a test
//! delivery worked as a port scanner. Now the host is resolved, every address it resolves to
//! is checked, the connection goes to the checked address (no second lookup that a short DNS
//! TTL could change), and this happens again at every delivery.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::time::Duration;

use ureq::unversioned::resolver::{ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{DefaultConnector, NextTimeout};

/// Why a delivery failed, as callers see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Failure {
    /// The URL is not an `http://` or `https://` URL with a host.
    InvalidUrl,
    /// The host does not resolve.
    Dns,
    /// The host resolves to an address the server does not call (loopback, private, …).
    Blocked,
    /// No answer in time.
    Timeout,
    /// The connection was refused.
    Refused,
    /// TLS failed (certificate, handshake).
    Tls,
    /// The receiver answered with a status outside 2xx.
    HttpStatus(u16),
    /// Any other failure of the connection.
    Connection,
}

impl Failure {
    /// The stable class: `invalid_url`, `dns`, `blocked`, `timeout`, `refused`, `tls`,
    /// `http_status` or `connection`.
    pub fn class(self) -> &'static str {
        match self {
            Failure::InvalidUrl => "invalid_url",
            Failure::Dns => "dns",
            Failure::Blocked => "blocked",
            Failure::Timeout => "timeout",
            Failure::Refused => "refused",
            Failure::Tls => "tls",
            Failure::HttpStatus(_) => "http_status",
            Failure::Connection => "connection",
        }
    }

    /// What is recorded and shown: the class, and the status for `http_status`.
    pub fn describe(self) -> String {
        match self {
            Failure::HttpStatus(s) => format!("http_status {s}"),
            other => other.class().to_owned(),
        }
    }
}

/// Whether an IPv4 address is one anyone on the internet could be: not this host, not a
/// private, shared (CGNAT), link-local, multicast, broadcast, documentation, benchmarking or
/// reserved network.
fn public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (b & 0xc0) == 64)
        || (a == 192 && b == 0 && c == 0)
        || (a == 192 && b == 88 && c == 99)
        || (a == 198 && (b & 0xfe) == 18)
        || a >= 240)
}

/// Whether the server may connect to `ip` on a user's behalf. IPv6 forms that carry an IPv4
/// address (mapped, compatible, NAT64, 6to4) are judged by that address; unique-local,
/// link-local, site-local, multicast, Teredo, documentation and discard ranges are refused.
pub fn is_public(ip: IpAddr) -> bool {
    let v6 = match ip {
        IpAddr::V4(v4) => return public_v4(v4),
        IpAddr::V6(v6) => v6,
    };
    if let Some(v4) = v6.to_ipv4_mapped() {
        return public_v4(v4);
    }
    let s = v6.segments();
    let embedded = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    if s[..6].iter().all(|x| *x == 0) {
        // `::`, `::1`, and the deprecated IPv4-compatible `::a.b.c.d`.
        return false;
    }
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6].iter().all(|x| *x == 0) {
        return public_v4(embedded(s[6], s[7]));
    }
    if s[0] == 0x2002 {
        return public_v4(embedded(s[1], s[2]));
    }
    !(v6.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00
        || (s[0] & 0xffc0) == 0xfe80
        || (s[0] & 0xffc0) == 0xfec0
        || (s[0] == 0x2001 && s[1] == 0)
        || (s[0] == 0x2001 && s[1] == 0x0db8)
        || (s[0] == 0x0100 && s[1..4].iter().all(|x| *x == 0)))
}

/// The host and port of an `http(s)://` URL.
fn host_port(url: &str) -> Result<(String, u16), Failure> {
    let uri: ureq::http::Uri = url.parse().map_err(|_| Failure::InvalidUrl)?;
    let default = match uri.scheme_str() {
        Some("http") => 80,
        Some("https") => 443,
        _ => return Err(Failure::InvalidUrl),
    };
    let host = uri
        .host()
        .filter(|h| !h.is_empty())
        .ok_or(Failure::InvalidUrl)?;
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    Ok((host, uri.port_u16().unwrap_or(default)))
}

/// Resolves the URL's host (blocking) and checks every address it resolves to; the address to
/// connect to. With `allow_private` (`--webhook-allow-private`) any address will do.
pub fn resolve_checked(url: &str, allow_private: bool) -> Result<SocketAddr, Failure> {
    let (host, port) = host_port(url)?;
    let addrs: Vec<SocketAddr> = (host.as_str(), port)
        .to_socket_addrs()
        .map_err(|_| Failure::Dns)?
        .map(|a| SocketAddr::new(crate::net::canonical(a.ip()), a.port()))
        .collect();
    let first = *addrs.first().ok_or(Failure::Dns)?;
    if !allow_private && addrs.iter().any(|a| !is_public(a.ip())) {
        return Err(Failure::Blocked);
    }
    Ok(first)
}

/// A resolver that answers one address, checked before: the connection goes where the check
/// looked, whatever the name resolves to by then.
#[derive(Debug)]
struct Pinned(SocketAddr);

impl Resolver for Pinned {
    fn resolve(
        &self,
        _uri: &ureq::http::Uri,
        _config: &ureq::config::Config,
        _timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let mut out = self.empty();
        out.push(self.0);
        Ok(out)
    }
}

fn classify(e: &ureq::Error) -> Failure {
    match e {
        ureq::Error::Timeout(_) => Failure::Timeout,
        ureq::Error::HostNotFound => Failure::Dns,
        ureq::Error::ConnectionFailed => Failure::Refused,
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            Failure::Refused
        }
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => Failure::Timeout,
        ureq::Error::Tls(_) | ureq::Error::Rustls(_) => Failure::Tls,
        _ => Failure::Connection,
    }
}

/// One POST of `body` to `url` with `headers`, to the checked address, within `timeout`:
/// the receiver's status (whatever it is) and the time it took, or why no answer came. Redirects are not followed
/// (a redirect could point anywhere).
pub fn post(
    url: &str,
    headers: &[(&str, &str)],
    body: &str,
    allow_private: bool,
    timeout: Duration,
) -> Result<(u16, u64), Failure> {
    let addr = resolve_checked(url, allow_private)?;
    let config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        .max_redirects(0)
        .build();
    let agent = ureq::Agent::with_parts(config, DefaultConnector::new(), Pinned(addr));
    let started = std::time::Instant::now();
    let mut req = agent.post(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send(body).map_err(|e| classify(&e))?;
    let ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    Ok((resp.status().as_u16(), ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_in_every_form_are_refused() {
        for bad in [
            "127.0.0.1",
            "127.1.2.3",
            "0.0.0.0",
            "0.1.2.3",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.254",
            "224.0.0.1",
            "255.255.255.255",
            "240.0.0.1",
            "192.0.2.1",
            "198.18.0.1",
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "64:ff9b::7f00:1",
            "2002:7f00:1::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "2001:0:4136:e378::1",
            "2001:db8::1",
            "100::1",
        ] {
            assert!(!is_public(bad.parse().expect(bad)), "{bad} is internal");
        }
        for good in [
            "93.184.216.34",
            "8.8.8.8",
            "100.128.0.1",
            "2606:2800:220:1::1",
            "::ffff:93.184.216.34",
            "64:ff9b::5db8:d822",
            "2002:5db8:d822::1",
        ] {
            assert!(is_public(good.parse().expect(good)), "{good} is public");
        }
    }

    #[test]
    fn textual_tricks_resolve_to_what_they_are() {
        for url in [
            "http://127.1:9/",
            "http://2130706433:9/",
            "http://0x7f000001:9/",
            "http://[::ffff:127.0.0.1]:9/",
            "http://localhost:9/",
            "http://[::1]:9/x",
        ] {
            assert_eq!(resolve_checked(url, false), Err(Failure::Blocked), "{url}");
        }
        assert_eq!(
            resolve_checked("ftp://example.com/", false),
            Err(Failure::InvalidUrl)
        );
        assert_eq!(
            resolve_checked("http://127.1:9/", true).map(|a| a.ip()),
            Ok("127.0.0.1".parse().expect("ip"))
        );
    }
}
