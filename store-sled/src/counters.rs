//! Daily counts ([`Counters`]): one entry per day, name and product, added to in place.

use async_trait::async_trait;
use licet_core::store::{CountKey, Counters, StoreResult};
use sled::transaction::ConflictableTransactionError;

use crate::SledStore;
use crate::error::{Error, Res};

/// Days as big-endian bytes that sort as numbers do, negative ones first.
fn day_bytes(day: i64) -> [u8; 8] {
    (day.cast_unsigned() ^ (1 << 63)).to_be_bytes()
}

fn key_of(k: &CountKey) -> Vec<u8> {
    let mut key = day_bytes(k.day).to_vec();
    key.extend_from_slice(k.name.as_bytes());
    key.push(0);
    key.extend_from_slice(k.product_id.as_bytes());
    key
}

fn count_key(key: &[u8]) -> Res<CountKey> {
    let (day, rest) = key
        .split_at_checked(8)
        .ok_or_else(|| Error::backend("a count key shorter than its day"))?;
    let day = <[u8; 8]>::try_from(day).map_err(Error::backend)?;
    let day = (u64::from_be_bytes(day) ^ (1 << 63)).cast_signed();
    let nul = rest
        .iter()
        .position(|b| *b == 0)
        .ok_or_else(|| Error::backend("a count key without its product"))?;
    Ok(CountKey {
        day,
        name: String::from_utf8_lossy(&rest[..nul]).into_owned(),
        product_id: String::from_utf8_lossy(&rest[nul + 1..]).into_owned(),
    })
}

fn number(v: Option<&[u8]>) -> u64 {
    v.and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map_or(0, u64::from_be_bytes)
}

impl SledStore {
    /// Adds counts, all in one transaction.
    pub fn add_counts(&self, counts: &[(CountKey, u64)]) -> Res<()> {
        let keyed: Vec<(Vec<u8>, u64)> = counts.iter().map(|(k, n)| (key_of(k), *n)).collect();
        self.counts.transaction(|t| {
            for (k, n) in &keyed {
                let old = number(t.get(k)?.as_deref());
                t.insert(k.as_slice(), &old.saturating_add(*n).to_be_bytes())?;
            }
            Ok::<_, ConflictableTransactionError<Error>>(())
        })?;
        Ok(())
    }

    /// The totals of the days `from..=to`.
    pub fn counts(&self, from: i64, to: i64) -> Res<Vec<(CountKey, u64)>> {
        if from > to {
            return Ok(Vec::new());
        }
        let start = day_bytes(from);
        let mut out = Vec::new();
        let range = match to.checked_add(1) {
            Some(end) => self.counts.range(start..day_bytes(end)),
            None => self.counts.range(start..),
        };
        for kv in range {
            let (k, v) = kv?;
            out.push((count_key(&k)?, number(Some(&v))));
        }
        Ok(out)
    }

    /// Removes the days before `before`.
    pub fn prune_counts(&self, before: i64) -> Res<u64> {
        let mut n = 0;
        for k in self.counts.range(..day_bytes(before)).keys() {
            self.counts.remove(k?)?;
            n += 1;
        }
        Ok(n)
    }
}

#[async_trait]
impl Counters for SledStore {
    async fn add_counts(&self, counts: &[(CountKey, u64)]) -> StoreResult<()> {
        SledStore::add_counts(self, counts)?;
        Ok(self.committer.commit().await?)
    }
    async fn counts(&self, from: i64, to: i64) -> StoreResult<Vec<(CountKey, u64)>> {
        Ok(SledStore::counts(self, from, to)?)
    }
    async fn prune_counts(&self, before: i64) -> StoreResult<u64> {
        let n = SledStore::prune_counts(self, before)?;
        self.committer.commit().await?;
        Ok(n)
    }
}
