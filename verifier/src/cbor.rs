//! A strict CBOR reader over `&[u8]` (and, with `alloc`, the matching writer).
//!
//! licet reads only the subset of CBOR (RFC 8949) its artefacts use, and only in core
//! deterministic form (§4.2.1): every head in its shortest form, definite lengths only, map keys
//! unique and sorted by their encoded bytes. Anything else is [`Error::Malformed`]. The reader
//! borrows from the input and never allocates, so the default `no_std` build can use it.

use crate::error::Error;

/// Major types (RFC 8949 §3.1).
pub(crate) const UINT: u8 = 0;
pub(crate) const NINT: u8 = 1;
pub(crate) const BYTES: u8 = 2;
pub(crate) const TEXT: u8 = 3;
pub(crate) const ARRAY: u8 = 4;
pub(crate) const MAP: u8 = 5;
pub(crate) const TAG: u8 = 6;
pub(crate) const SIMPLE: u8 = 7;

/// How deep [`Reader::skip`] follows nested items before giving up.
const MAX_DEPTH: usize = 8;

/// A cursor over a CBOR byte string.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

/// A map key: licet only uses integer and text keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Key<'a> {
    Int(i64),
    Text(&'a str),
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    pub(crate) fn position(&self) -> usize {
        self.pos
    }

    /// The bytes read since `start` (an earlier [`Reader::position`]).
    pub(crate) fn since(&self, start: usize) -> &'a [u8] {
        self.buf.get(start..self.pos).unwrap_or_default()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    /// Fails unless every byte was consumed.
    pub(crate) fn finish(&self) -> Result<(), Error> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(Error::Malformed("trailing bytes"))
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&end| end <= self.buf.len())
            .ok_or(Error::Malformed("truncated"))?;
        let out = &self.buf[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn byte(&mut self) -> Result<u8, Error> {
        Ok(self.take(1)?[0])
    }

    pub(crate) fn peek_major(&self) -> Result<u8, Error> {
        self.buf
            .get(self.pos)
            .map(|b| b >> 5)
            .ok_or(Error::Malformed("truncated"))
    }

    /// Reads an item head: major type and argument, insisting on the shortest form.
    pub(crate) fn head(&mut self) -> Result<(u8, u64), Error> {
        let initial = self.byte()?;
        let major = initial >> 5;
        let info = initial & 0x1f;
        let (arg, min) = match info {
            0..=23 => return Ok((major, u64::from(info))),
            24 => (u64::from(self.byte()?), 24),
            25 => {
                let b = self.take(2)?;
                (u64::from(u16::from_be_bytes([b[0], b[1]])), 0x100)
            }
            26 => {
                let b = self.take(4)?;
                (
                    u64::from(u32::from_be_bytes([b[0], b[1], b[2], b[3]])),
                    0x1_0000,
                )
            }
            27 => {
                let b = self.take(8)?;
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                (u64::from_be_bytes(a), 0x1_0000_0000)
            }
            31 => return Err(Error::Malformed("indefinite length")),
            _ => return Err(Error::Malformed("reserved additional information")),
        };
        if major == SIMPLE {
            // Floats and two-byte simple values: licet uses neither.
            return Err(Error::Malformed("floating-point or extended simple value"));
        }
        if arg < min {
            return Err(Error::Malformed("non-shortest encoding"));
        }
        Ok((major, arg))
    }

    fn expect(&mut self, want: u8, what: &'static str) -> Result<u64, Error> {
        let (major, arg) = self.head()?;
        if major == want {
            Ok(arg)
        } else {
            Err(Error::Malformed(what))
        }
    }

    fn len(arg: u64) -> Result<usize, Error> {
        usize::try_from(arg).map_err(|_| Error::Malformed("length out of range"))
    }

    pub(crate) fn uint(&mut self) -> Result<u64, Error> {
        self.expect(UINT, "expected an unsigned integer")
    }

    /// A signed integer that fits in `i64`.
    pub(crate) fn int(&mut self) -> Result<i64, Error> {
        let (major, arg) = self.head()?;
        let v = i64::try_from(arg).map_err(|_| Error::Malformed("integer out of range"))?;
        match major {
            UINT => Ok(v),
            NINT => Ok(-1 - v),
            _ => Err(Error::Malformed("expected an integer")),
        }
    }

    pub(crate) fn bytes(&mut self) -> Result<&'a [u8], Error> {
        let n = Self::len(self.expect(BYTES, "expected a byte string")?)?;
        self.take(n)
    }

    /// A byte string together with its head, as it appears in the input.
    pub(crate) fn bytes_with_head(&mut self) -> Result<(&'a [u8], &'a [u8]), Error> {
        let start = self.pos;
        let content = self.bytes()?;
        Ok((&self.buf[start..self.pos], content))
    }

    pub(crate) fn text(&mut self) -> Result<&'a str, Error> {
        let n = Self::len(self.expect(TEXT, "expected a text string")?)?;
        core::str::from_utf8(self.take(n)?).map_err(|_| Error::Malformed("invalid UTF-8"))
    }

    pub(crate) fn array(&mut self) -> Result<usize, Error> {
        Self::len(self.expect(ARRAY, "expected an array")?)
    }

    pub(crate) fn map(&mut self) -> Result<usize, Error> {
        Self::len(self.expect(MAP, "expected a map")?)
    }

    pub(crate) fn tag(&mut self) -> Result<u64, Error> {
        self.expect(TAG, "expected a tag")
    }

    pub(crate) fn bool(&mut self) -> Result<bool, Error> {
        match self.expect(SIMPLE, "expected a boolean")? {
            20 => Ok(false),
            21 => Ok(true),
            _ => Err(Error::Malformed("expected a boolean")),
        }
    }

    /// Reads a map key (integer or text) and returns it with its encoded bytes.
    pub(crate) fn key(&mut self) -> Result<(Key<'a>, &'a [u8]), Error> {
        let start = self.pos;
        let key = match self.peek_major()? {
            UINT | NINT => Key::Int(self.int()?),
            TEXT => Key::Text(self.text()?),
            _ => return Err(Error::Malformed("map key is not an integer or text")),
        };
        Ok((key, &self.buf[start..self.pos]))
    }

    /// Skips one well-formed item of any type, at most [`MAX_DEPTH`] levels deep.
    pub(crate) fn skip(&mut self) -> Result<(), Error> {
        self.skip_depth(0)
    }

    fn skip_depth(&mut self, depth: usize) -> Result<(), Error> {
        if depth > MAX_DEPTH {
            return Err(Error::Malformed("nested too deeply"));
        }
        let (major, arg) = self.head()?;
        match major {
            UINT | NINT => Ok(()),
            BYTES => self.take(Self::len(arg)?).map(drop),
            TEXT => {
                let s = self.take(Self::len(arg)?)?;
                core::str::from_utf8(s)
                    .map(drop)
                    .map_err(|_| Error::Malformed("invalid UTF-8"))
            }
            ARRAY => {
                for _ in 0..arg {
                    self.skip_depth(depth + 1)?;
                }
                Ok(())
            }
            MAP => {
                let mut order = KeyOrder::default();
                for _ in 0..arg {
                    let start = self.pos;
                    self.skip_depth(depth + 1)?;
                    order.next(&self.buf[start..self.pos])?;
                    self.skip_depth(depth + 1)?;
                }
                Ok(())
            }
            TAG => Err(Error::Malformed("unexpected tag")),
            // false, true, null; anything else was refused by `head` or is unassigned.
            _ if matches!(arg, 20..=22) => Ok(()),
            _ => Err(Error::Malformed("unexpected simple value")),
        }
    }
}

/// Enforces the deterministic key order of a map: each encoded key strictly greater (bytewise)
/// than the one before, which also rules out duplicate keys.
#[derive(Debug, Default)]
pub(crate) struct KeyOrder<'a> {
    previous: Option<&'a [u8]>,
}

impl<'a> KeyOrder<'a> {
    pub(crate) fn next(&mut self, encoded: &'a [u8]) -> Result<(), Error> {
        if let Some(prev) = self.previous {
            if encoded == prev {
                return Err(Error::Malformed("duplicate map key"));
            }
            if encoded < prev {
                return Err(Error::Malformed("map keys not in deterministic order"));
            }
        }
        self.previous = Some(encoded);
        Ok(())
    }
}

#[cfg(feature = "alloc")]
pub use writer::Writer;

#[cfg(feature = "alloc")]
mod writer {
    use alloc::vec::Vec;

    /// Appends core-deterministic CBOR to a `Vec<u8>`.
    ///
    /// The writer emits heads in their shortest form; callers are responsible for writing map
    /// entries in key order (licet's claim keys are written in a fixed, sorted order).
    #[derive(Debug, Default, Clone)]
    pub struct Writer {
        out: Vec<u8>,
    }

    impl Writer {
        /// An empty writer.
        pub fn new() -> Self {
            Writer::default()
        }

        /// The bytes written so far.
        pub fn into_bytes(self) -> Vec<u8> {
            self.out
        }

        /// Writes a head in its shortest form.
        pub fn head(&mut self, major: u8, arg: u64) -> &mut Self {
            let m = major << 5;
            if arg < 24 {
                self.out.push(m | arg as u8);
            } else if arg <= 0xff {
                self.out.extend_from_slice(&[m | 24, arg as u8]);
            } else if arg <= 0xffff {
                self.out.push(m | 25);
                self.out.extend_from_slice(&(arg as u16).to_be_bytes());
            } else if arg <= 0xffff_ffff {
                self.out.push(m | 26);
                self.out.extend_from_slice(&(arg as u32).to_be_bytes());
            } else {
                self.out.push(m | 27);
                self.out.extend_from_slice(&arg.to_be_bytes());
            }
            self
        }

        /// Writes an integer.
        pub fn int(&mut self, v: i64) -> &mut Self {
            if v >= 0 {
                self.head(super::UINT, v as u64)
            } else {
                self.head(super::NINT, (-1 - v) as u64)
            }
        }

        /// Writes a byte string.
        pub fn bytes(&mut self, b: &[u8]) -> &mut Self {
            self.head(super::BYTES, b.len() as u64);
            self.out.extend_from_slice(b);
            self
        }

        /// Writes a text string.
        pub fn text(&mut self, s: &str) -> &mut Self {
            self.head(super::TEXT, s.len() as u64);
            self.out.extend_from_slice(s.as_bytes());
            self
        }

        /// Writes a boolean.
        pub fn bool(&mut self, b: bool) -> &mut Self {
            self.out.push(0xf4 | u8::from(b));
            self
        }

        /// Starts an array of `n` items.
        pub fn array(&mut self, n: usize) -> &mut Self {
            self.head(super::ARRAY, n as u64)
        }

        /// Starts a map of `n` entries.
        pub fn map(&mut self, n: usize) -> &mut Self {
            self.head(super::MAP, n as u64)
        }

        /// Writes a tag.
        pub fn tag(&mut self, t: u64) -> &mut Self {
            self.head(super::TAG, t)
        }

        /// Appends bytes that are already CBOR.
        pub fn raw(&mut self, b: &[u8]) -> &mut Self {
            self.out.extend_from_slice(b);
            self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_non_shortest_heads() {
        // 23 encoded with a one-byte argument.
        assert_eq!(
            Reader::new(&[0x18, 23]).uint(),
            Err(Error::Malformed("non-shortest encoding"))
        );
        assert_eq!(Reader::new(&[0x18, 24]).uint(), Ok(24));
        assert_eq!(
            Reader::new(&[0x19, 0x00, 0xff]).uint(),
            Err(Error::Malformed("non-shortest encoding"))
        );
    }

    #[test]
    fn rejects_indefinite_lengths_and_floats() {
        assert_eq!(
            Reader::new(&[0x5f, 0x41, 0x00, 0xff]).bytes(),
            Err(Error::Malformed("indefinite length"))
        );
        // 1.5 as a half float.
        assert_eq!(
            Reader::new(&[0xf9, 0x3e, 0x00]).int(),
            Err(Error::Malformed("floating-point or extended simple value"))
        );
    }

    #[test]
    fn key_order_rejects_duplicates_and_disorder() {
        let mut o = KeyOrder::default();
        assert!(o.next(&[0x01]).is_ok());
        assert_eq!(o.next(&[0x01]), Err(Error::Malformed("duplicate map key")));
        let mut o = KeyOrder::default();
        assert!(o.next(&[0x02]).is_ok());
        assert!(o.next(&[0x01]).is_err());
    }

    #[test]
    fn truncated_input_is_an_error_not_a_panic() {
        for input in [&[0x1b, 0, 0][..], &[0x59, 0xff], &[0x62, b'a'], &[]] {
            let mut r = Reader::new(input);
            assert!(r.skip().is_err(), "{input:?}");
        }
        // A huge declared length must not overflow the cursor.
        let mut r = Reader::new(&[0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
        assert!(r.bytes().is_err());
    }

    #[test]
    fn int_range() {
        assert_eq!(Reader::new(&[0x20]).int(), Ok(-1));
        assert_eq!(Reader::new(&[0x38, 0x63]).int(), Ok(-100));
        let max = [0x1b, 0x80, 0, 0, 0, 0, 0, 0, 0];
        assert!(Reader::new(&max).int().is_err());
    }

    #[cfg(feature = "alloc")]
    #[test]
    fn writer_round_trips_through_reader() {
        let mut w = Writer::new();
        w.array(5)
            .int(-65537)
            .int(1_700_000_000)
            .text("héllo")
            .bytes(&[1, 2, 3])
            .bool(true);
        let b = w.into_bytes();
        let mut r = Reader::new(&b);
        assert_eq!(r.array(), Ok(5));
        assert_eq!(r.int(), Ok(-65537));
        assert_eq!(r.int(), Ok(1_700_000_000));
        assert_eq!(r.text(), Ok("héllo"));
        assert_eq!(r.bytes(), Ok(&[1u8, 2, 3][..]));
        assert_eq!(r.bool(), Ok(true));
        assert!(r.finish().is_ok());
    }
}
