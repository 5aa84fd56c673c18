//! Domains a license is used on, kept as the license's machines (fingerprint
//! `domain:<name>`), so that the store Verify API, WemX and the admin API share one notion of
//! "where a license is installed" and the license's seats bound all of them.

use crate::app::error::ApiResult;
use crate::app::state::AppState;
use licet_core::model::{DOMAIN_PREFIX, DomainType, Machine};

/// A domain as a client sent it, split into its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainName {
    /// Lower-case host name or IP address, without port, path or trailing dot.
    pub name: String,
    /// `https://` or `http://` if the client wrote one.
    pub protocol: Option<&'static str>,
}

impl DomainName {
    /// Parses `demo.example.net`, `https://Demo.Example.net/`, `localhost:8000`; `None` for
    /// anything that is not a host name or IP address.
    pub fn parse(raw: &str) -> Option<DomainName> {
        let raw = raw.trim();
        let lower = raw.to_ascii_lowercase();
        let (protocol, rest) = if let Some(r) = lower.strip_prefix("https://") {
            (Some("https://"), r)
        } else if let Some(r) = lower.strip_prefix("http://") {
            (Some("http://"), r)
        } else {
            (None, lower.as_str())
        };
        let host = rest.split(['/', '?', '#']).next().unwrap_or("");
        // An IPv6 literal keeps its colons; anything else loses a `:port`.
        let host = if let Some(v6) = host.strip_prefix('[') {
            v6.split(']').next().unwrap_or("")
        } else {
            host.split(':').next().unwrap_or("")
        };
        let host = host.trim_end_matches('.');
        valid_host(host).then(|| DomainName {
            name: host.to_owned(),
            protocol,
        })
    }

    /// The fingerprint of the machine that stands for this domain.
    pub fn fingerprint(&self) -> String {
        format!("{DOMAIN_PREFIX}{}", self.name)
    }
}

/// A DNS host name (labels of letters, digits and `-`, at most 253 characters; the rule tokens
/// use, without their `*.` wildcard) or an IP address.
pub fn valid_host(host: &str) -> bool {
    host.parse::<std::net::IpAddr>().is_ok()
        || (!host.starts_with("*.") && licet_verifier::binding::is_valid_domain_pattern(host))
}

/// A new domain machine of a license (not yet stored). `ip` is the address of the first
/// install, or `None` when the domain is registered before anything was installed on it.
pub async fn new_domain(
    s: &AppState,
    license_id: &str,
    domain: &DomainName,
    domain_type: Option<DomainType>,
    ip: Option<String>,
) -> ApiResult<Machine> {
    let number = s.store.next_number("machine").await?;
    Ok(domain_machine(
        license_id,
        domain,
        domain_type,
        ip,
        number,
        s.clock.now(),
    ))
}

/// [`new_domain`] with its number drawn already, at `now` (inside a seat operation).
pub fn domain_machine(
    license_id: &str,
    domain: &DomainName,
    domain_type: Option<DomainType>,
    ip: Option<String>,
    numeric_id: u64,
    now: i64,
) -> Machine {
    Machine {
        hostname: Some(domain.name.clone()),
        platform: Some("domain".into()),
        ip,
        domain_type: Some(domain_type.unwrap_or_else(|| DomainType::guess(&domain.name))),
        protocol: Some(domain.protocol.unwrap_or("https://").to_owned()),
        ..Machine::new(
            crate::ids::new_id(),
            license_id,
            &domain.fingerprint(),
            numeric_id,
            now,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_clients_send() {
        let d = DomainName::parse("https://Demo.Example.net/").expect("domain");
        assert_eq!(d.name, "demo.example.net");
        assert_eq!(d.protocol, Some("https://"));
        let d = DomainName::parse("localhost:8000").expect("domain");
        assert_eq!((d.name.as_str(), d.protocol), ("localhost", None));
        assert_eq!(
            DomainName::parse("http://[::1]:80/x").map(|d| d.name),
            Some("::1".into())
        );
        assert_eq!(
            DomainName::parse("example.net.").map(|d| d.name),
            Some("example.net".into())
        );
        for bad in [
            "",
            "https://",
            "exa mple.net",
            "-a.net",
            "a..net",
            "ex_ample.net",
        ] {
            assert_eq!(DomainName::parse(bad), None, "{bad:?}");
        }
        assert_eq!(
            DomainType::guess("dev.example.net"),
            DomainType::Development
        );
        assert_eq!(DomainType::guess("shop.test"), DomainType::Development);
        assert_eq!(DomainType::guess("127.0.0.1"), DomainType::Development);
        assert_eq!(DomainType::guess("example.net"), DomainType::Production);
    }
}
