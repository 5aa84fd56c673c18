//! Random identifiers and license keys.

use rand_core::Rng;

/// Crockford's base32 alphabet: no I, L, O or U, so keys survive being read aloud.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

fn rng() -> rand_core::UnwrapErr<getrandom::SysRng> {
    rand_core::UnwrapErr(getrandom::SysRng)
}

/// A request's id: 16 characters of the alphabet (80 bits), drawn from a generator of the
/// thread's own, seeded once from the system. A request id names a request in the logs and
/// guards nothing; a system call per request for it was a measurable share of a small request.
pub fn request_id() -> [u8; 16] {
    use rand_core::SeedableRng;
    thread_local! {
        static RNG: std::cell::RefCell<rand_chacha::ChaCha8Rng> = std::cell::RefCell::new({
            let mut seed = [0u8; 32];
            rng().fill_bytes(&mut seed);
            rand_chacha::ChaCha8Rng::from_seed(seed)
        });
    }
    let mut id = [0u8; 16];
    RNG.with_borrow_mut(|r| r.fill_bytes(&mut id));
    for b in &mut id {
        *b = ALPHABET[usize::from(*b & 31)];
    }
    id
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

/// A new id of a record's kind (`LicenseId`, `MachineId`, …): its prefix and 100 random bits.
pub fn new_id<T: licet_core::ids::RecordId>() -> T {
    T::from(random_id(T::PREFIX))
}

/// Lower-case hexadecimal digits, for `h` in key formats (WemX-style `LCE-<uuid>` keys).
const HEX: &[u8; 16] = b"0123456789abcdef";

/// A license key: `prefix` then `format` with every `X` replaced by a random character of
/// Crockford's alphabet and every `h` by a random lower-case hex digit.
pub fn license_key(prefix: &str, format: &str) -> String {
    let mut out = String::with_capacity(prefix.len() + format.len());
    out.push_str(prefix);
    let mut random = vec![0u8; format.len()];
    rng().fill_bytes(&mut random);
    for (c, r) in format.chars().zip(random) {
        out.push(match c {
            'X' => ALPHABET[usize::from(r & 31)] as char,
            'h' => HEX[usize::from(r & 15)] as char,
            c => c,
        });
    }
    out
}

/// A random (version 4) UUID, for LicenseCM's objects.
pub fn uuid() -> String {
    uuid::Builder::from_random_bytes(random_bytes::<16>())
        .into_uuid()
        .to_string()
}

/// Random bytes.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    rng().fill_bytes(&mut b);
    b
}

/// Whether a key format gives enough randomness: at least 80 bits (5 per `X`, 4 per `h`).
pub fn format_is_strong(format: &str) -> bool {
    let bits: usize = format
        .chars()
        .map(|c| match c {
            'X' => 5,
            'h' => 4,
            _ => 0,
        })
        .sum();
    bits >= 80
}

/// Lower-case hex.
pub fn hex(b: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(2 * b.len());
    for x in b {
        out.push(char::from(DIGITS[usize::from(x >> 4)]));
        out.push(char::from(DIGITS[usize::from(x & 0xf)]));
    }
    out
}

/// Parses lower- or upper-case hex of any even length.
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Parses 32 hex digits.
pub fn unhex16(s: &str) -> Option<[u8; 16]> {
    if s.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
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
        let wemx = license_key("LCE-", "hhhhhhhh-hhhh-hhhh-hhhh-hhhhhhhhhhhh");
        assert_eq!(wemx.len(), 4 + 36);
        assert!(
            wemx[4..]
                .chars()
                .all(|c| c == '-' || c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert!(format_is_strong("hhhhhhhh-hhhh-hhhh-hhhh-hhhhhhhhhhhh"));
        assert!(!format_is_strong("hhhhhhhh-hhhh-hhhh"));
    }
}
