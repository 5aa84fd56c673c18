//! A copy of the whole database into a new one: the sled half of `licet-server backup`.
//!
//! sled has no point-in-time snapshot and its files cannot be copied while open, so the copy
//! is made entry by entry. It is consistent only if nothing writes meanwhile: the server
//! holds every writer back while it runs (`licet-server`'s `backup::Gate`).

use std::path::Path;

use crate::SledStore;

/// Entries per batch written to the copy.
const BATCH: usize = 4096;

impl SledStore {
    /// Copies every tree into a new database at `dir` (which must not hold one), flushes it
    /// and closes it; the number of entries copied. The copy carries no clean-shutdown mark,
    /// so the first open of a restored store recounts every license's seats, as after a crash.
    pub fn copy_to(&self, dir: &Path) -> sled::Result<u64> {
        let copy = sled::Config::new().path(dir).flush_every_ms(None).open()?;
        let mut entries = 0u64;
        for name in self.db.tree_names() {
            let from = self.db.open_tree(&name)?;
            let to = copy.open_tree(&name)?;
            let mut batch = sled::Batch::default();
            let mut n = 0;
            for kv in from.iter() {
                let (k, v) = kv?;
                batch.insert(k, v);
                n += 1;
                if n == BATCH {
                    to.apply_batch(std::mem::take(&mut batch))?;
                    entries += n as u64;
                    n = 0;
                }
            }
            to.apply_batch(batch)?;
            entries += n as u64;
        }
        copy.flush()?;
        Ok(entries)
    }
}
