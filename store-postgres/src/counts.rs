//! Daily counts ([`Counters`]), added to in place by every instance.

use std::collections::BTreeMap;

use async_trait::async_trait;
use licet_core::store::*;

use crate::*;

#[async_trait]
impl Counters for PgStore {
    async fn add_counts(&self, counts: &[(CountKey, u64)]) -> StoreResult<()> {
        // One statement, so all or none; keys merged first (an upsert may touch a row once)
        // and in key order, so that instances adding at once lock rows in the same order.
        let mut merged: BTreeMap<&CountKey, u64> = BTreeMap::new();
        for (k, n) in counts {
            let e = merged.entry(k).or_default();
            *e = e.saturating_add(*n);
        }
        if merged.is_empty() {
            return Ok(());
        }
        let (mut days, mut names, mut products, mut ns) = (
            Vec::with_capacity(merged.len()),
            Vec::with_capacity(merged.len()),
            Vec::with_capacity(merged.len()),
            Vec::with_capacity(merged.len()),
        );
        for (k, n) in merged {
            days.push(k.day);
            names.push(k.name.as_str());
            products.push(k.product_id.as_str());
            ns.push(big(n)?);
        }
        let c = self.conn().await?;
        exec(
            &c,
            "INSERT INTO daily_counts (day, name, product_id, n) \
             SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[]) \
             ON CONFLICT (day, name, product_id) DO UPDATE SET n = daily_counts.n + EXCLUDED.n",
            &[&days, &names, &products, &ns],
        )
        .await?;
        Ok(())
    }
    async fn counts(&self, from: i64, to: i64) -> StoreResult<Vec<(CountKey, u64)>> {
        let c = self.conn().await?;
        rows(
            &c,
            "SELECT day, name, product_id, n FROM daily_counts WHERE day >= $1 AND day <= $2 \
             ORDER BY day, name, product_id",
            &[&from, &to],
        )
        .await?
        .iter()
        .map(|r| {
            Ok((
                CountKey {
                    day: col(r, 0)?,
                    name: col(r, 1)?,
                    product_id: col(r, 2)?,
                },
                unbig(col(r, 3)?),
            ))
        })
        .collect()
    }
    async fn prune_counts(&self, before: i64) -> StoreResult<u64> {
        let c = self.conn().await?;
        exec(&c, "DELETE FROM daily_counts WHERE day < $1", &[&before]).await
    }
}
