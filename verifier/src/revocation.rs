//! Signed revocation lists.
//!
//! A COSE_Sign1 with `typ` = `licet-revocation-list` whose payload is
//!
//! ```text
//! { 1: sequence (uint), 2: issued_at (int), 3: next_update (int),
//!   4: revoked token ids    (bstr: 16-byte ids, concatenated, strictly ascending),
//!   5: revoked license ids  (bstr: 16-byte license-id hashes, concatenated, strictly ascending) }
//! ```
//!
//! Fixed 16-byte entries in sorted order make membership a binary search over the bytes as
//! received: no allocation, 16 bytes per entry.

use core::cmp::Ordering;

use crate::binding::license_id_hash;
use crate::cbor::{Key, KeyOrder, Reader};
use crate::cose::{Sign1, TYP_REVOCATION_LIST};
use crate::error::Error;
use crate::key::KeyProvider;

/// Largest revocation list, in bytes, that licet reads (room for two million entries).
pub const MAX_REVOCATION_LIST_BYTES: usize = 32 * 1024 * 1024 + 4096;
/// Size of one entry.
pub const ENTRY_LEN: usize = 16;

/// Payload keys.
pub mod key {
    /// Sequence number.
    pub const SEQUENCE: i64 = 1;
    /// Issued-at, unix seconds.
    pub const ISSUED_AT: i64 = 2;
    /// Next update, unix seconds.
    pub const NEXT_UPDATE: i64 = 3;
    /// Revoked token ids.
    pub const TOKEN_IDS: i64 = 4;
    /// Revoked license-id hashes.
    pub const LICENSE_IDS: i64 = 5;
}

/// Whether a revocation list is within its validity period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// `now` is before the list's next-update time.
    Fresh,
    /// The list is past its next-update time; a newer one should exist.
    Stale,
}

/// A revocation list whose signature has been verified.
#[derive(Debug, Clone, Copy)]
pub struct RevocationList<'a> {
    sequence: u64,
    issued_at: i64,
    next_update: i64,
    token_ids: &'a [u8],
    license_ids: &'a [u8],
}

impl<'a> RevocationList<'a> {
    /// Verifies a revocation list: size, envelope, `typ`, key, signature, then the payload.
    ///
    /// `last_seen_sequence` is the highest sequence number the caller has accepted before; a list
    /// with a lower one is refused ([`Error::RevocationRollback`]) so that an old list cannot be
    /// replayed to un-revoke a license. The same sequence is accepted (a reload).
    pub fn verify<K: KeyProvider + ?Sized>(
        bytes: &'a [u8],
        keys: &K,
        last_seen_sequence: Option<u64>,
    ) -> Result<RevocationList<'a>, Error> {
        let sign1 = Sign1::parse(bytes, MAX_REVOCATION_LIST_BYTES)?;
        sign1.verify(keys, Some(TYP_REVOCATION_LIST))?;
        let list = parse(sign1.payload)?;
        if last_seen_sequence.is_some_and(|seen| list.sequence < seen) {
            return Err(Error::RevocationRollback);
        }
        Ok(list)
    }

    /// The sequence number; each new list has a higher one.
    pub fn sequence(&self) -> u64 {
        self.sequence
    }

    /// When the list was issued.
    pub fn issued_at(&self) -> i64 {
        self.issued_at
    }

    /// When the issuer promises a newer list.
    pub fn next_update(&self) -> i64 {
        self.next_update
    }

    /// Fresh or stale at `now`.
    pub fn freshness(&self, now: i64) -> Freshness {
        if now < self.next_update {
            Freshness::Fresh
        } else {
            Freshness::Stale
        }
    }

    /// Whether the list is past its next-update time at `now`.
    pub fn is_stale(&self, now: i64) -> bool {
        self.freshness(now) == Freshness::Stale
    }

    /// Whether the token id is revoked.
    pub fn contains_token(&self, token_id: &[u8; 16]) -> bool {
        search(self.token_ids, token_id)
    }

    /// Whether the license id is revoked.
    pub fn contains_license(&self, license_id: &str) -> bool {
        search(self.license_ids, &license_id_hash(license_id))
    }

    /// Number of revoked token ids.
    pub fn token_count(&self) -> usize {
        self.token_ids.len() / ENTRY_LEN
    }

    /// Number of revoked license ids.
    pub fn license_count(&self) -> usize {
        self.license_ids.len() / ENTRY_LEN
    }

    /// The revoked token ids, ascending.
    pub fn token_ids(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.token_ids.chunks_exact(ENTRY_LEN)
    }

    /// The revoked license-id hashes, ascending.
    pub fn license_id_hashes(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.license_ids.chunks_exact(ENTRY_LEN)
    }
}

fn search(entries: &[u8], needle: &[u8; 16]) -> bool {
    let (mut lo, mut hi) = (0usize, entries.len() / ENTRY_LEN);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let at = &entries[mid * ENTRY_LEN..(mid + 1) * ENTRY_LEN];
        match at.cmp(&needle[..]) {
            Ordering::Less => lo = mid + 1,
            Ordering::Greater => hi = mid,
            Ordering::Equal => return true,
        }
    }
    false
}

fn sorted_entries(b: &[u8]) -> Result<&[u8], Error> {
    if !b.len().is_multiple_of(ENTRY_LEN) {
        return Err(Error::Malformed("revocation entries are not 16 bytes each"));
    }
    let mut prev: Option<&[u8]> = None;
    for e in b.chunks_exact(ENTRY_LEN) {
        if prev.is_some_and(|p| p >= e) {
            return Err(Error::Malformed(
                "revocation entries not strictly ascending",
            ));
        }
        prev = Some(e);
    }
    Ok(b)
}

fn parse(payload: &[u8]) -> Result<RevocationList<'_>, Error> {
    let mut r = Reader::new(payload);
    let n = r.map()?;
    let mut order = KeyOrder::default();
    let (mut seq, mut iat, mut next, mut tokens, mut licenses) = (None, None, None, None, None);
    for _ in 0..n {
        let (k, encoded) = r.key()?;
        order.next(encoded)?;
        match k {
            Key::Int(key::SEQUENCE) => seq = Some(r.uint()?),
            Key::Int(key::ISSUED_AT) => iat = Some(r.int()?),
            Key::Int(key::NEXT_UPDATE) => next = Some(r.int()?),
            Key::Int(key::TOKEN_IDS) => tokens = Some(sorted_entries(r.bytes()?)?),
            Key::Int(key::LICENSE_IDS) => licenses = Some(sorted_entries(r.bytes()?)?),
            _ => return Err(Error::UnsupportedClaim),
        }
    }
    r.finish()?;
    Ok(RevocationList {
        sequence: seq.ok_or(Error::Malformed("revocation list lacks a sequence number"))?,
        issued_at: iat.ok_or(Error::Malformed("revocation list lacks issued-at"))?,
        next_update: next.ok_or(Error::Malformed("revocation list lacks next-update"))?,
        token_ids: tokens.unwrap_or_default(),
        license_ids: licenses.unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_search_finds_every_entry_and_nothing_else() {
        let mut entries = [0u8; 16 * 50];
        for i in 0..50u8 {
            entries[i as usize * 16 + 15] = i * 2 + 1;
        }
        for i in 0..50u8 {
            let mut n = [0u8; 16];
            n[15] = i * 2 + 1;
            assert!(search(&entries, &n));
            n[15] = i * 2;
            assert!(!search(&entries, &n));
        }
        assert!(!search(&[], &[0; 16]));
    }

    #[test]
    fn unsorted_entries_are_refused() {
        let mut e = [0u8; 32];
        e[15] = 2;
        e[31] = 1;
        assert!(sorted_entries(&e).is_err());
        e[31] = 2;
        assert!(sorted_entries(&e).is_err(), "duplicates");
        e[31] = 3;
        assert!(sorted_entries(&e).is_ok());
        assert!(sorted_entries(&e[..17]).is_err());
    }
}
