//! Licenses, and the changes of one license that no other may interleave with.

use async_trait::async_trait;
use deadpool_postgres::Transaction;
use licet_core::model::*;
use licet_core::store::*;

use crate::outbox::write_record;
use crate::*;

/// Rows a license listing reads at a time while it filters by status (which depends on the
/// time, so it is judged here rather than in SQL).
const LIST_BATCH: i64 = 256;

/// Writes a license (new or not) with its expiry candidate, in `tx`.
pub(crate) async fn put_license(tx: &Transaction<'_>, l: &License, new: bool) -> StoreResult<()> {
    if new {
        exec(
            tx,
            "INSERT INTO licenses (id, key, product_id, policy_id, data) VALUES ($1, $2, $3, $4, $5)",
            &[&l.id.as_str(), &l.key, &l.product_id.as_str(), &l.policy_id.as_str(), &json(l)],
        )
        .await?;
    } else {
        exec(
            tx,
            "UPDATE licenses SET policy_id = $2, data = $3 WHERE id = $1",
            &[&l.id.as_str(), &l.policy_id.as_str(), &json(l)],
        )
        .await?;
    }
    if let Some(at) = l.expires_at {
        exec(
            tx,
            "INSERT INTO license_expiry (at, license_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            &[&at, &l.id.as_str()],
        )
        .await?;
    }
    Ok(())
}

/// Locks license `id`'s row for the rest of `tx`: every change of the license and of its
/// seats takes this lock first, so they are serialised across every instance. The license as
/// stored, if it exists.
pub(crate) async fn lock_license(tx: &Transaction<'_>, id: &str) -> StoreResult<Option<License>> {
    one(
        tx,
        "SELECT data FROM licenses WHERE id = $1 FOR UPDATE",
        &[&id],
    )
    .await
}

/// Applies `change` to the license as stored (locked), in `tx`: the license after.
pub(crate) async fn change_in(
    tx: &Transaction<'_>,
    id: &str,
    change: ChangeLicense<'_>,
) -> StoreResult<Option<License>> {
    let Some(current) = lock_license(tx, id).await? else {
        return Ok(None);
    };
    let Some((next, log)) = change(&current)? else {
        return Ok(Some(current));
    };
    if next.id != current.id || next.key != current.key || next.product_id != current.product_id {
        return Err(StoreError::backend(
            "change_license: the id, key and product of a license do not change",
        ));
    }
    put_license(tx, &next, false).await?;
    write_record(tx, log).await?;
    Ok(Some(next))
}

#[async_trait]
impl Licenses for PgStore {
    async fn insert_license(&self, l: &License, record: Record) -> StoreResult<()> {
        self.insert_licenses(std::slice::from_ref(l), record).await
    }
    async fn insert_licenses(&self, ls: &[License], record: Record) -> StoreResult<()> {
        let mut c = self.conn().await?;
        let tx = c.transaction().await.map_err(pg)?;
        for l in ls {
            put_license(&tx, l, true).await?;
        }
        write_record(&tx, record).await?;
        tx.commit().await.map_err(pg)
    }
    async fn update_license(&self, l: &License) -> StoreResult<()> {
        let mut c = self.conn().await?;
        let tx = c.transaction().await.map_err(pg)?;
        put_license(&tx, l, false).await?;
        tx.commit().await.map_err(pg)
    }
    async fn change_license(
        &self,
        id: &str,
        change: ChangeLicense<'_>,
    ) -> StoreResult<Option<License>> {
        let mut c = self.conn().await?;
        let tx = c.transaction().await.map_err(pg)?;
        let l = change_in(&tx, id, change).await?;
        tx.commit().await.map_err(pg)?;
        Ok(l)
    }
    async fn delete_license(&self, l: &License, record: Record) -> StoreResult<()> {
        let mut c = self.conn().await?;
        let tx = c.transaction().await.map_err(pg)?;
        // Under the license's lock, as every seat change is: a seat taken after this finds
        // no license.
        lock_license(&tx, &l.id).await?;
        exec(
            &tx,
            "DELETE FROM machines WHERE license_id = $1",
            &[&l.id.as_str()],
        )
        .await?;
        exec(&tx, "DELETE FROM licenses WHERE id = $1", &[&l.id.as_str()]).await?;
        write_record(&tx, record).await?;
        tx.commit().await.map_err(pg)
    }
    async fn license(&self, id: &licet_core::model::LicenseId) -> StoreResult<Option<License>> {
        let c = self.conn().await?;
        one(
            &c,
            "SELECT data FROM licenses WHERE id = $1",
            &[&id.as_str()],
        )
        .await
    }
    async fn license_by_key(&self, key: &str) -> StoreResult<Option<License>> {
        let c = self.conn().await?;
        one(&c, "SELECT data FROM licenses WHERE key = $1", &[&key]).await
    }
    async fn licenses(
        &self,
        filter: &LicenseFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<License>> {
        let c = self.conn().await?;
        let mut after = page.after.clone();
        let mut items: Vec<License> = Vec::new();
        loop {
            let batch: Vec<License> = all(
                &c,
                "SELECT data FROM licenses \
                 WHERE ($1::text IS NULL OR product_id = $1) \
                   AND ($2::text IS NULL OR policy_id = $2) \
                   AND ($3::text IS NULL OR id > $3) \
                 ORDER BY id LIMIT $4",
                &[&filter.product_id, &filter.policy_id, &after, &LIST_BATCH],
            )
            .await?;
            let last = batch.len() < usize::try_from(LIST_BATCH).unwrap_or(usize::MAX);
            after = batch.last().map(|l| l.id.clone()).map(Into::into);
            for l in batch {
                if !filter.admits(&l) {
                    continue;
                }
                if items.len() == page.limit {
                    let next = items.last().map(|l| l.id.clone());
                    return Ok(Page {
                        items,
                        next: next.map(Into::into),
                    });
                }
                items.push(l);
            }
            if last {
                return Ok(Page { items, next: None });
            }
        }
    }
    async fn licenses_of(&self, product_id: &str) -> StoreResult<Vec<License>> {
        let c = self.conn().await?;
        all(
            &c,
            "SELECT data FROM licenses WHERE product_id = $1 ORDER BY id",
            &[&product_id],
        )
        .await
    }
    async fn license_count(&self) -> StoreResult<usize> {
        let c = self.conn().await?;
        Ok(size(
            scalar(&c, "SELECT count(*) FROM licenses", &[]).await?,
        ))
    }
    async fn expiry_candidates(&self, now: i64) -> StoreResult<Vec<(i64, String)>> {
        let c = self.conn().await?;
        rows(
            &c,
            "SELECT at, license_id FROM license_expiry WHERE at <= $1 ORDER BY at, license_id",
            &[&now],
        )
        .await?
        .iter()
        .map(|r| Ok((col(r, 0)?, col(r, 1)?)))
        .collect()
    }
    async fn expiring(&self, from: i64, to: i64, limit: usize) -> StoreResult<Vec<(i64, String)>> {
        let c = self.conn().await?;
        rows(
            &c,
            "SELECT at, license_id FROM license_expiry WHERE at > $1 AND at <= $2 \
             ORDER BY at, license_id LIMIT $3",
            &[&from, &to, &i64::try_from(limit).unwrap_or(i64::MAX)],
        )
        .await?
        .iter()
        .map(|r| Ok((col(r, 0)?, col(r, 1)?)))
        .collect()
    }
    async fn forget_expiry(&self, at: i64, license_id: &str) -> StoreResult<()> {
        let c = self.conn().await?;
        exec(
            &c,
            "DELETE FROM license_expiry WHERE at = $1 AND license_id = $2",
            &[&at, &license_id],
        )
        .await?;
        Ok(())
    }
}

#[async_trait]
impl Lookups for PgStore {
    async fn validation_facts(
        &self,
        probes: &[(BlacklistType, &str)],
        key: &str,
        fingerprint: Option<&str>,
    ) -> StoreResult<ValidationFacts> {
        let kinds = probes
            .iter()
            .map(|(k, _)| crate::users::kind_name(*k))
            .collect::<StoreResult<Vec<_>>>()?;
        let values: Vec<&str> = probes.iter().map(|(_, v)| *v).collect();
        let c = self.conn().await?;
        // While products and policies are cached, the query leaves them out: the license and
        // its machine are all it reads besides the blacklist. Otherwise one round trip reads
        // all five, each row tagged with what it is.
        let ticket = self.catalog.ticket();
        let sql = if ticket.is_some() {
            "WITH l AS (SELECT id, data FROM licenses WHERE key = $3) \
             SELECT 'b', b.data FROM blacklist b \
               JOIN unnest($1::text[], $2::text[]) AS p(kind, value) \
                 ON b.kind = p.kind AND b.value = p.value \
             UNION ALL SELECT 'l', l.data FROM l \
             UNION ALL SELECT 'm', m.data FROM machines m JOIN l ON m.license_id = l.id \
               WHERE m.fingerprint = $4"
        } else {
            "WITH l AS (SELECT id, product_id, policy_id, data FROM licenses WHERE key = $3) \
             SELECT 'b', b.data FROM blacklist b \
               JOIN unnest($1::text[], $2::text[]) AS p(kind, value) \
                 ON b.kind = p.kind AND b.value = p.value \
             UNION ALL SELECT 'l', l.data FROM l \
             UNION ALL SELECT 'p', x.data FROM products x JOIN l ON x.id = l.product_id \
             UNION ALL SELECT 'o', x.data FROM policies x JOIN l ON x.id = l.policy_id \
             UNION ALL SELECT 'm', m.data FROM machines m JOIN l ON m.license_id = l.id \
               WHERE m.fingerprint = $4"
        };
        let found = rows(&c, sql, &[&kinds, &values, &key, &fingerprint]).await?;
        drop(c);
        let mut f = ValidationFacts::default();
        for r in &found {
            let what: &str = col(r, 0)?;
            match what {
                "b" => f.blacklist.push(record(r, 1)?),
                "l" => f.license = Some(record(r, 1)?),
                "p" => f.product = Some(record(r, 1)?),
                "o" => f.policy = Some(record(r, 1)?),
                _ => f.machine = Some(record(r, 1)?),
            }
        }
        if ticket.is_some()
            && let Some(l) = &f.license
        {
            // From the cache, or read once (and kept) when it does not hold them yet.
            f.product = self.product(&l.product_id).await?;
            f.policy = self.policy(&l.policy_id).await?;
        }
        f.blacklist.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(f)
    }
}
