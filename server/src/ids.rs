//! Random identifiers and license keys.

use rand_core::Rng;

/// Crockford's base32 alphabet: no I, L, O or U, so keys survive being read aloud.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

fn rng() -> rand_core::UnwrapErr<getrandom::SysRng> {
    rand_core::UnwrapErr(getrandom::SysRng)
}

/// `n` random characters of the alphabet (5 bits each).
pub fn random_token(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    rng().fill_bytes(&mut bytes);
    bytes
        .iter()
        .map(|b| ALPHABET[usize::from(b & 31)] as char)
        .collect()
}

/// An id with a type prefix: `prd_`, `pol_`, `lic_`, `mch_`, `key_`; 100 random bits.
pub fn random_id(prefix: &str) -> String {
    format!("{prefix}{}", random_token(20).to_ascii_lowercase())
}

/// A license key: `prefix` then `format` with every `X` replaced by a random character.
pub fn license_key(prefix: &str, format: &str) -> String {
    let mut out = String::with_capacity(prefix.len() + format.len());
    out.push_str(prefix);
    let random = random_token(format.len());
    for (c, r) in format.chars().zip(random.chars()) {
        out.push(if c == 'X' { r } else { c });
    }
    out
}

/// Random bytes.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    rng().fill_bytes(&mut b);
    b
}

/// Whether a key format gives enough randomness (at least 16 `X`, 80 bits).
pub fn format_is_strong(format: &str) -> bool {
    format.chars().filter(|&c| c == 'X').count() >= 16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_their_format() {
        let k = license_key("ACME-", "XXXX-XXXX-XXXX-XXXX");
        assert_eq!(k.len(), 5 + 19);
        assert!(k.starts_with("ACME-"));
        assert_eq!(k.matches('-').count(), 4);
        assert!(
            k[5..]
                .chars()
                .all(|c| c == '-' || ALPHABET.contains(&(c as u8)))
        );
        assert_ne!(
            license_key("", "XXXXXXXXXXXXXXXX"),
            license_key("", "XXXXXXXXXXXXXXXX")
        );
        assert!(format_is_strong("XXXX-XXXX-XXXX-XXXX"));
        assert!(!format_is_strong("XXXX-XXXX"));
    }
}
