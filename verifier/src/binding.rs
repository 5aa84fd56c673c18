//! What ties a token to a machine and to domains, and the hashes revocation lists use.

use sha2::{Digest, Sha256};

use crate::claims::{HWID_LEN, HWID_PART_LEN};

const HWID_CONTEXT: &[u8] = b"licet/hwid/v1\0";
const LICENSE_ID_CONTEXT: &[u8] = b"licet/license-id/v1\0";

/// The hardware binding a token carries for `fingerprint` under `product`.
///
/// `SHA-256("licet/hwid/v1\0" || be32(len(product)) || product || fingerprint)`, first 16 bytes.
/// The raw fingerprint never goes into a token; mixing in the product means two products of the
/// same vendor bound to one machine carry unrelated values. 128 bits leave no room for finding a
/// second machine with the same binding.
pub fn hwid_binding(product: &str, fingerprint: &str) -> [u8; HWID_LEN] {
    let mut h = Sha256::new();
    h.update(HWID_CONTEXT);
    h.update((product.len() as u32).to_be_bytes());
    h.update(product.as_bytes());
    h.update(fingerprint.as_bytes());
    truncate(h.finalize().into())
}

const HWID_PART_CONTEXT: &[u8] = b"licet/hwid-part/v1\0";

/// The hash of one fingerprint component, as tokens bind it in their hardware parts.
///
/// `SHA-256("licet/hwid-part/v1\0" || be32(len(product)) || product || be32(len(name)) || name
/// || value)`, first 8 bytes. The product is the per-product salt: two vendors' tokens for one
/// machine carry unrelated parts, so they cannot correlate a user. 64 bits per part keep tokens
/// small; what protects a binding is that several parts must match together, and a part is
/// only as secret as its component is unguessable (total memory is not; a machine id is).
pub fn hwid_part(product: &str, name: &str, value: &[u8]) -> [u8; HWID_PART_LEN] {
    let mut h = Sha256::new();
    h.update(HWID_PART_CONTEXT);
    h.update((product.len() as u32).to_be_bytes());
    h.update(product.as_bytes());
    h.update((name.len() as u32).to_be_bytes());
    h.update(name.as_bytes());
    h.update(value);
    let d: [u8; 32] = h.finalize().into();
    let mut out = [0u8; HWID_PART_LEN];
    out.copy_from_slice(&d[..HWID_PART_LEN]);
    out
}

/// The 16-byte value a revocation list holds for a revoked license id.
///
/// `SHA-256("licet/license-id/v1\0" || license_id)`, first 16 bytes: fixed-size entries keep the
/// list searchable in place, whatever the length of the ids.
pub fn license_id_hash(license_id: &str) -> [u8; 16] {
    let mut h = Sha256::new();
    h.update(LICENSE_ID_CONTEXT);
    h.update(license_id.as_bytes());
    truncate(h.finalize().into())
}

fn truncate(d: [u8; 32]) -> [u8; 16] {
    let mut out = [0u8; 16];
    out.copy_from_slice(&d[..16]);
    out
}

/// Whether `host` is covered by the domain `pattern` of a token.
///
/// Names compare ASCII case-insensitively, and one trailing dot on `host` is ignored. A pattern
/// `*.example.com` covers every name below `example.com` at any depth (`a.example.com`,
/// `a.b.example.com`) but not `example.com` itself; a pattern without `*.` covers only itself.
/// Internationalised names must be given in their ASCII (punycode) form.
pub fn domain_matches(pattern: &str, host: &str) -> bool {
    let host = host.strip_suffix('.').unwrap_or(host);
    if host.is_empty() {
        return false;
    }
    match pattern.strip_prefix("*.") {
        Some(base) if !base.is_empty() => {
            host.len() > base.len() + 1
                && host.as_bytes()[host.len() - base.len() - 1] == b'.'
                && host[host.len() - base.len()..].eq_ignore_ascii_case(base)
        }
        Some(_) => false,
        None => pattern.eq_ignore_ascii_case(host),
    }
}

/// Whether `name` is a domain name or wildcard pattern an issuer may put in a token:
/// lower-case letters, digits, `-` and `.`, labels of 1–63 characters, optionally starting with
/// `*.`, at most 253 characters.
pub fn is_valid_domain_pattern(name: &str) -> bool {
    let base = name.strip_prefix("*.").unwrap_or(name);
    !base.is_empty()
        && base.len() <= 253
        && base.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_domains() {
        assert!(domain_matches("example.com", "example.com"));
        assert!(domain_matches("example.com", "EXAMPLE.com."));
        assert!(!domain_matches("example.com", "www.example.com"));
        assert!(!domain_matches("example.com", "badexample.com"));
        assert!(!domain_matches("example.com", ""));
    }

    #[test]
    fn wildcard_domains() {
        assert!(domain_matches("*.example.com", "a.example.com"));
        assert!(domain_matches("*.example.com", "a.b.example.com"));
        assert!(!domain_matches("*.example.com", "example.com"));
        assert!(!domain_matches("*.example.com", "badexample.com"));
        assert!(!domain_matches("*.example.com", ".example.com"));
        assert!(!domain_matches("*.", "a."));
    }

    #[test]
    fn domain_patterns() {
        assert!(is_valid_domain_pattern("example.com"));
        assert!(is_valid_domain_pattern("*.example.com"));
        assert!(!is_valid_domain_pattern("Example.com"));
        assert!(!is_valid_domain_pattern("a.*.example.com"));
        assert!(!is_valid_domain_pattern("*"));
        assert!(!is_valid_domain_pattern("-a.com"));
        assert!(!is_valid_domain_pattern("a..com"));
    }

    #[test]
    fn bindings_depend_on_product_and_fingerprint() {
        let a = hwid_binding("p", "fp");
        assert_ne!(a, hwid_binding("q", "fp"));
        assert_ne!(a, hwid_binding("p", "fq"));
        // The length prefix keeps ("ab", "c") and ("a", "bc") apart.
        assert_ne!(hwid_binding("ab", "c"), hwid_binding("a", "bc"));
    }
}
