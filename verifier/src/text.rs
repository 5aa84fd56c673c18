//! The text form (base64url without padding) and the armored file form.
//!
//! ```text
//! -----BEGIN LICET LICENSE-----
//! 0oRNogEnBEi…   (base64url, no padding, lines of 64 characters)
//! -----END LICET LICENSE-----
//! ```
//!
//! Decoding never allocates: it writes into a caller's buffer. With `alloc`, [`decode`] returns
//! a `Vec` and accepts any of the three forms (binary, text, armor).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error::Error;

/// Armor label of a license token.
pub const LABEL_LICENSE: &str = "LICET LICENSE";
/// Armor label of a revocation list.
pub const LABEL_REVOCATION_LIST: &str = "LICET REVOCATION LIST";
/// Characters per armored line (a multiple of 4, so every full line decodes on its own).
pub const ARMOR_LINE: usize = 64;

/// Decodes the text form into `out`, returning the decoded bytes. Surrounding whitespace is
/// ignored.
pub fn decode_text<'o>(text: &str, out: &'o mut [u8]) -> Result<&'o [u8], Error> {
    use base64::DecodeSliceError;
    let n = URL_SAFE_NO_PAD
        .decode_slice(text.trim().as_bytes(), out)
        .map_err(|e| match e {
            DecodeSliceError::OutputSliceTooSmall => Error::BufferTooSmall,
            DecodeSliceError::DecodeError(_) => Error::BadEncoding,
        })?;
    Ok(&out[..n])
}

/// Decodes the armored form into `out`, checking that BEGIN and END name `label`.
pub fn decode_armor<'o>(text: &str, label: &str, out: &'o mut [u8]) -> Result<&'o [u8], Error> {
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    match lines.next() {
        Some(l) if is_boundary(l, "BEGIN", label) => {}
        _ => return Err(Error::BadEncoding),
    }
    let mut written = 0;
    let mut ended = false;
    let mut last_was_short = false;
    for line in lines.by_ref() {
        if is_boundary(line, "END", label) {
            ended = true;
            break;
        }
        if last_was_short {
            return Err(Error::BadEncoding);
        }
        last_was_short = line.len() % 4 != 0;
        let rest = out.get_mut(written..).ok_or(Error::BufferTooSmall)?;
        written += decode_text(line, rest)?.len();
    }
    if !ended || lines.next().is_some() {
        return Err(Error::BadEncoding);
    }
    Ok(&out[..written])
}

fn is_boundary(line: &str, which: &str, label: &str) -> bool {
    line.strip_prefix("-----")
        .and_then(|l| l.strip_prefix(which))
        .and_then(|l| l.strip_prefix(' '))
        .and_then(|l| l.strip_prefix(label))
        .is_some_and(|l| l == "-----")
}

#[cfg(feature = "alloc")]
mod owned {
    use alloc::string::String;
    use alloc::vec;
    use alloc::vec::Vec;

    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    use super::{ARMOR_LINE, decode_armor, decode_text};
    use crate::error::Error;

    /// The text form of `bytes`.
    pub fn encode_text(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// The armored form of `bytes` under `label`, ending with a newline.
    pub fn encode_armor(bytes: &[u8], label: &str) -> String {
        let text = encode_text(bytes);
        let mut out = String::with_capacity(text.len() + text.len() / ARMOR_LINE + 64);
        out.push_str("-----BEGIN ");
        out.push_str(label);
        out.push_str("-----\n");
        for chunk in text.as_bytes().chunks(ARMOR_LINE) {
            // base64url is ASCII, so every chunk is valid UTF-8.
            out.push_str(core::str::from_utf8(chunk).unwrap_or_default());
            out.push('\n');
        }
        out.push_str("-----END ");
        out.push_str(label);
        out.push_str("-----\n");
        out
    }

    /// Accepts the binary form (starts with the COSE_Sign1 tag), the armored form under
    /// `label`, or the text form, and returns the binary form.
    pub fn decode(input: &[u8], label: &str) -> Result<Vec<u8>, Error> {
        if input.first() == Some(&0xd2) {
            return Ok(input.to_vec());
        }
        let text = core::str::from_utf8(input).map_err(|_| Error::BadEncoding)?;
        let mut out = vec![0u8; text.len()];
        let n = if text.trim_start().starts_with("-----BEGIN") {
            decode_armor(text, label, &mut out)?.len()
        } else {
            decode_text(text, &mut out)?.len()
        };
        out.truncate(n);
        Ok(out)
    }
}

#[cfg(feature = "alloc")]
pub use owned::{decode, encode_armor, encode_text};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trip_without_alloc() {
        let mut buf = [0u8; 8];
        assert_eq!(decode_text("AQID", &mut buf), Ok(&[1u8, 2, 3][..]));
        assert_eq!(decode_text(" AQID\n", &mut buf), Ok(&[1u8, 2, 3][..]));
        assert_eq!(decode_text("AQI=", &mut buf), Err(Error::BadEncoding));
        assert_eq!(decode_text("AQ+D", &mut buf), Err(Error::BadEncoding));
        let mut small = [0u8; 2];
        assert_eq!(
            decode_text("AQIDBA", &mut small),
            Err(Error::BufferTooSmall)
        );
    }

    #[test]
    fn armor_needs_matching_labels() {
        let mut buf = [0u8; 8];
        let good = "-----BEGIN LICET LICENSE-----\nAQID\n-----END LICET LICENSE-----\n";
        assert_eq!(
            decode_armor(good, LABEL_LICENSE, &mut buf),
            Ok(&[1u8, 2, 3][..])
        );
        assert_eq!(
            decode_armor(good, LABEL_REVOCATION_LIST, &mut buf),
            Err(Error::BadEncoding)
        );
        let unterminated = "-----BEGIN LICET LICENSE-----\nAQID\n";
        assert_eq!(
            decode_armor(unterminated, LABEL_LICENSE, &mut buf),
            Err(Error::BadEncoding)
        );
    }

    #[cfg(feature = "alloc")]
    #[test]
    fn armor_round_trip() {
        let data: alloc::vec::Vec<u8> = (0..=255u8).cycle().take(500).collect();
        let armored = encode_armor(&data, LABEL_LICENSE);
        assert!(
            armored
                .lines()
                .all(|l| l.len() <= ARMOR_LINE || l.starts_with("-----"))
        );
        assert_eq!(decode(armored.as_bytes(), LABEL_LICENSE), Ok(data.clone()));
        assert_eq!(
            decode(encode_text(&data).as_bytes(), LABEL_LICENSE),
            Ok(data)
        );
    }
}
