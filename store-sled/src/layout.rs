//! The key layout: how records and index keys are written to sled's trees.

use licet_core::model::*;
use licet_core::store::*;
use sled::transaction::ConflictableTransactionError;

use crate::error::{Error, Res};
use serde::Serialize;
use serde::de::DeserializeOwned;

pub(crate) fn to_json<T: Serialize>(v: &T) -> Res<Vec<u8>> {
    serde_json::to_vec(v).map_err(Error::backend)
}

pub(crate) fn from_json<T: DeserializeOwned>(b: &[u8]) -> Res<T> {
    serde_json::from_slice(b).map_err(|e| Error::backend(format!("corrupt record: {e}")))
}

/// The first byte of a license as the `licenses` tree holds it since rows were kept: then the
/// row's length (be u32), the [`LicenseRow`] as JSON, and the whole license as JSON. A page of
/// rows reads the few bytes in front and stops. A value written before rows existed is the
/// license's JSON alone, which starts with `{`: it is still read (and rewritten once at open,
/// [`SledStore::build_license_rows`](crate::SledStore)).
const ROW_TAG: u8 = 1;

/// A license as the `licenses` tree holds it, its row in front.
pub(crate) fn license_value(l: &License) -> Res<Vec<u8>> {
    let row = to_json(&LicenseRow::of(l))?;
    let len = u32::try_from(row.len()).map_err(Error::backend)?;
    let mut v = Vec::with_capacity(5 + row.len() + 512);
    v.push(ROW_TAG);
    v.extend_from_slice(&len.to_be_bytes());
    v.extend_from_slice(&row);
    serde_json::to_writer(&mut v, l).map_err(Error::backend)?;
    Ok(v)
}

/// A stored license's row (if it has one of its own) and the license's JSON.
fn split_license(b: &[u8]) -> Res<(Option<&[u8]>, &[u8])> {
    if b.first() != Some(&ROW_TAG) {
        return Ok((None, b));
    }
    let corrupt = || Error::backend("corrupt record: a license row past its value");
    let len = b
        .get(1..5)
        .and_then(|n| <[u8; 4]>::try_from(n).ok())
        .map(u32::from_be_bytes)
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(corrupt)?;
    let row = b.get(5..5 + len).ok_or_else(corrupt)?;
    Ok((Some(row), &b[5 + len..]))
}

/// Whether a stored license is in the format of [`license_value`].
pub(crate) fn has_row(b: &[u8]) -> bool {
    b.first() == Some(&ROW_TAG)
}

/// The license of a value of the `licenses` tree.
pub(crate) fn stored_license(b: &[u8]) -> Res<License> {
    from_json(split_license(b)?.1)
}

/// The row of a value of the `licenses` tree, without reading the rest when it has one.
pub(crate) fn stored_row(b: &[u8]) -> Res<LicenseRow> {
    match split_license(b)? {
        (Some(row), _) => from_json(row),
        (None, l) => Ok(LicenseRow::of(&from_json(l)?)),
    }
}

/// A license's key in the expiry index, if it expires.
pub(crate) fn expiry_key(l: &License) -> Option<Vec<u8>> {
    let at = u64::try_from(l.expires_at?).unwrap_or(0);
    let mut k = at.to_be_bytes().to_vec();
    k.extend_from_slice(l.id.as_bytes());
    Some(k)
}

/// A product's key in the name index: names are compared as WemX compares them, trimmed and
/// without regard to ASCII case.
pub(crate) fn name_key(name: &str) -> Vec<u8> {
    name.trim().to_ascii_lowercase().into_bytes()
}

/// 409 `duplicate_name`.
pub(crate) fn name_taken(name: &str) -> ConflictableTransactionError<Error> {
    ConflictableTransactionError::Abort(Error::conflict(
        Constraint::ProductName,
        format!(
            "a product answering by name (WemX, the Verify API) is already called {:?}",
            name.trim()
        ),
    ))
}

/// `a \0 b`: a key of an index of `b`s by `a`.
pub(crate) fn pair_key(a: &str, b: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(a.len() + 1 + b.len());
    k.extend_from_slice(a.as_bytes());
    k.push(0);
    k.extend_from_slice(b.as_bytes());
    k
}

pub(crate) fn machine_key(license_id: &str, fingerprint: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(license_id.len() + 1 + fingerprint.len());
    k.extend_from_slice(license_id.as_bytes());
    k.push(0);
    k.extend_from_slice(fingerprint.as_bytes());
    k
}

/// A time as 8 bytes that sort as the times do, negative ones first.
pub(crate) fn sortable_time(t: i64) -> [u8; 8] {
    (t.cast_unsigned() ^ (1 << 63)).to_be_bytes()
}

/// Where a machine's seat may end, in `seat_ends`: its lease's end, or else its last heartbeat
/// (which ends the seat only under a floating rule).
pub(crate) fn seat_end_key(m: &Machine) -> Vec<u8> {
    let (kind, at) = match m.lease_until {
        Some(until) => (LEASE_ENDS, until),
        None => (HEARTBEATS, m.last_heartbeat),
    };
    let mut k = seat_ends_prefix(&m.license_id, kind);
    k.extend_from_slice(&sortable_time(at));
    k.extend_from_slice(m.fingerprint.as_bytes());
    k
}

/// `seat_ends` entries of leases.
pub(crate) const LEASE_ENDS: u8 = b'l';
/// `seat_ends` entries of machines without a lease, by last heartbeat.
pub(crate) const HEARTBEATS: u8 = b'h';

/// The `seat_ends` entries of one license of one kind.
pub(crate) fn seat_ends_prefix(license_id: &str, kind: u8) -> Vec<u8> {
    let mut k = machine_prefix(license_id);
    k.push(kind);
    k
}

/// The `machine_parts` entries of one license and part.
pub(crate) fn part_prefix(license_id: &str, part_hex: &str) -> Vec<u8> {
    let mut k = machine_prefix(license_id);
    k.extend_from_slice(part_hex.as_bytes());
    k.push(0);
    k
}

/// A machine's index entries: its `seat_ends` key and its `machine_parts` keys (none of either
/// for no machine).
pub(crate) type IndexKeys = (Vec<u8>, Vec<Vec<u8>>);

/// A machine's index entries: where its seat may end, and its indexed parts.
pub(crate) fn machine_index_keys(m: &Machine) -> IndexKeys {
    let parts = licet_core::seats::indexed_parts(&m.parts)
        .into_iter()
        .map(|p| {
            let mut k = part_prefix(&m.license_id, p);
            k.extend_from_slice(m.fingerprint.as_bytes());
            k
        })
        .collect();
    (seat_end_key(m), parts)
}

pub(crate) fn machine_prefix(license_id: &str) -> Vec<u8> {
    let mut k = license_id.as_bytes().to_vec();
    k.push(0);
    k
}

/// Up to `limit` records of `iter` for which `keep` holds, and the cursor of the next page if
/// one more matching record exists.
pub(crate) fn page<T>(
    iter: impl Iterator<Item = sled::Result<(sled::IVec, sled::IVec)>>,
    limit: usize,
    read: impl Fn(&[u8]) -> Res<T>,
    keep: impl Fn(&T) -> bool,
    cursor: impl Fn(&T) -> String,
) -> Res<Page<T>> {
    let mut items = Vec::new();
    for kv in iter {
        let (_, v) = kv?;
        let x: T = read(&v)?;
        if keep(&x) {
            if items.len() == limit {
                let next = items.last().map(&cursor);
                return Ok(Page { items, next });
            }
            items.push(x);
        }
    }
    Ok(Page { items, next: None })
}

/// [`page`] of every record: the one past the page is only looked at, not read (its key
/// says that there is a next page).
pub(crate) fn page_all<T>(
    mut iter: impl Iterator<Item = sled::Result<(sled::IVec, sled::IVec)>>,
    limit: usize,
    read: impl Fn(&[u8]) -> Res<T>,
    cursor: impl Fn(&T) -> String,
) -> Res<Page<T>> {
    let mut items = Vec::with_capacity(limit.min(1000));
    for kv in iter.by_ref() {
        if items.len() == limit {
            kv?;
            let next = items.last().map(&cursor);
            return Ok(Page { items, next });
        }
        items.push(read(&kv?.1)?);
    }
    Ok(Page { items, next: None })
}

/// Adds `delta` to a license's machine count inside a transaction.
pub(crate) fn bump(
    counts: &sled::transaction::TransactionalTree,
    license_id: &str,
    delta: i64,
) -> Result<(), ConflictableTransactionError<Error>> {
    let n = counts
        .get(license_id.as_bytes())?
        .and_then(|b| <[u8; 8]>::try_from(&b[..]).ok())
        .map_or(0, u64::from_be_bytes);
    let n = n.saturating_add_signed(delta);
    counts.insert(license_id.as_bytes(), &n.to_be_bytes())?;
    Ok(())
}
