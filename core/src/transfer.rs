//! Moving a store to another backend (`licet-server migrate`): every record of one [`Store`]
//! written to another, empty one, through the traits alone, so that it works between any two
//! backends.
//!
//! What is carried: products, policies, licenses with their machines, prices, customers and
//! orders, downloads (their records: the files are the server's to move), users, sessions, API
//! keys and their daily counts, the blacklist, security events, webhooks, queued deliveries and
//! the delivery log, notifications, the audit log, the overview's daily counts, the revocation list and
//! its state, the spent WemX transaction ids, the sequences and the key vault.
//!
//! What is not: download grants, answered challenges and seen envelopes. They live for minutes
//! and keep replays out of their own short windows; a server stopped for the move outlives
//! them. Audit entries and security events get new sequence numbers in the target, in the
//! same order.

use std::collections::{BTreeMap, HashSet};

use crate::model::Machine;
use crate::store::{
    AuditFilter, LicenseFilter, PageRequest, Record, SecurityEventFilter, Store, StoreError,
    StoreResult,
};

/// The sequences a store numbers things by.
const SEQUENCES: [&str; 7] = [
    "license", "machine", "customer", "order", "download", "product", "price",
];

/// Licenses (and audit entries) read and written per round trip.
const BATCH: usize = 1_000;

/// How many records of each kind were copied.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Copied(pub BTreeMap<&'static str, u64>);

impl Copied {
    fn add(&mut self, kind: &'static str, n: u64) {
        *self.0.entry(kind).or_default() += n;
    }

    /// How many of `kind`.
    pub fn of(&self, kind: &str) -> u64 {
        self.0.get(kind).copied().unwrap_or(0)
    }
}

impl std::fmt::Display for Copied {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|(k, n)| format!("{k}: {n}")).collect();
        f.write_str(&parts.join(", "))
    }
}

/// Whether `s` holds nothing a copy would collide with.
pub async fn is_empty(s: &dyn Store) -> StoreResult<bool> {
    let one = PageRequest {
        after: None,
        limit: 1,
    };
    Ok(s.products().await?.is_empty()
        && s.users().await?.is_empty()
        && !s.has_api_keys().await?
        && s.licenses(&LicenseFilter::default(), &one)
            .await?
            .items
            .is_empty())
}

/// Copies every record of `from` into `to`, which must be empty (a [`StoreError::Conflict`]
/// otherwise would come from the first collision; this refuses before writing anything).
/// `progress` hears each kind as it is done.
pub async fn copy(
    from: &dyn Store,
    to: &dyn Store,
    progress: &mut (dyn FnMut(&'static str, u64) + Send),
) -> StoreResult<Copied> {
    if !is_empty(to).await? {
        return Err(StoreError::backend(
            "the target store is not empty: a copy goes into a new database only",
        ));
    }
    let mut c = Copied::default();
    let mut done = |c: &mut Copied, kind: &'static str, n: u64| {
        c.add(kind, n);
        progress(kind, c.of(kind));
    };

    // Sequences first, so that nothing the target numbers later collides with a copied id.
    for seq in SEQUENCES {
        to.raise_number(seq, from.last_number(seq).await?).await?;
    }
    for (name, bytes) in from.sealed_keys().await? {
        to.insert_sealed_key(&name, &bytes).await?;
        done(&mut c, "vault entries", 1);
    }

    for p in from.products().await? {
        to.insert_product(&p).await?;
        done(&mut c, "products", 1);
    }
    for p in from.policies(None).await? {
        to.put_policy(&p).await?;
        done(&mut c, "policies", 1);
    }
    for p in from.prices(None).await? {
        to.insert_price(&p).await?;
        done(&mut c, "prices", 1);
    }

    // Orders carry their licenses (an order and its license are written together).
    let mut ordered = HashSet::new();
    let mut after = 0;
    loop {
        let page = from.customers(after, BATCH).await?;
        for cu in &page.items {
            after = after.max(cu.id);
            to.insert_customer_if_new(cu).await?;
            done(&mut c, "customers", 1);
            for o in from.orders_of_customer(cu.id).await? {
                let l = from
                    .license(&o.license_id)
                    .await?
                    .ok_or_else(|| StoreError::backend(format!("order {} has no license", o.id)))?;
                let machines = from.machines(&l.id).await?;
                to.insert_order(&o, &l, &machines, Record::none()).await?;
                ordered.insert(l.id.clone());
                done(&mut c, "orders", 1);
                done(&mut c, "licenses", 1);
                done(&mut c, "machines", machines.len() as u64);
            }
        }
        if page.next.is_none() {
            break;
        }
    }

    let mut page = PageRequest {
        after: None,
        limit: BATCH,
    };
    loop {
        let got = from.licenses(&LicenseFilter::default(), &page).await?;
        let batch: Vec<_> = got
            .items
            .into_iter()
            .filter(|l| !ordered.contains(&l.id))
            .collect();
        if !batch.is_empty() {
            to.insert_licenses(&batch, Record::none()).await?;
            done(&mut c, "licenses", batch.len() as u64);
            let mut machines: Vec<Machine> = Vec::new();
            for l in &batch {
                machines.extend(from.machines(&l.id).await?);
            }
            for m in &machines {
                to.put_machine(m).await?;
            }
            done(&mut c, "machines", machines.len() as u64);
        }
        match got.next {
            Some(next) => page.after = Some(next),
            None => break,
        }
    }
    for (id, license_id) in from.transactions().await? {
        to.claim_transaction(&id, &license_id).await?;
        done(&mut c, "transaction ids", 1);
    }

    for d in from.downloads(None).await? {
        to.insert_download(&d).await?;
        done(&mut c, "downloads", 1);
    }

    for u in from.users().await? {
        to.insert_user(&u).await?;
        for n in from.notifications(&u.id).await? {
            to.put_notification(&n).await?;
            done(&mut c, "notifications", 1);
        }
        done(&mut c, "users", 1);
    }
    for s in from.sessions().await? {
        let mut hashes = vec![s.token_hash.as_str()];
        if let Some(p) = &s.previous_hash {
            hashes.push(p);
        }
        to.put_session(&s, &hashes).await?;
        done(&mut c, "sessions", 1);
    }
    for k in from.api_keys().await? {
        to.put_api_key(&k).await?;
        for (day, n) in from.usage(&k.id).await? {
            to.set_usage(&k.id, day, n).await?;
        }
        done(&mut c, "API keys", 1);
    }

    for e in from.blacklist().await? {
        to.put_blacklist(&e).await?;
        done(&mut c, "blacklist entries", 1);
    }
    for e in from
        .security_events(&SecurityEventFilter::default())
        .await?
    {
        to.append_security_event(e, &|_| Record::none()).await?;
        done(&mut c, "security events", 1);
    }

    for w in from.webhooks().await? {
        to.put_webhook(&w).await?;
        done(&mut c, "webhooks", 1);
        // The log first, oldest first, then what is still queued.
        let mut all = from
            .deliveries_of(&w.id, crate::store::DELIVERY_LOG + 10_000)
            .await?;
        all.reverse();
        for d in all {
            let settled = d.settled_at.is_some();
            let mut one = [d];
            to.enqueue(&mut one).await?;
            if settled {
                to.settle_delivery(&one[0]).await?;
            }
            done(&mut c, "deliveries", 1);
        }
    }

    let mut page = PageRequest {
        after: None,
        limit: BATCH,
    };
    loop {
        let got = from.audit(&AuditFilter::default(), &page).await?;
        let n = got.items.len() as u64;
        for e in got.items {
            to.append_audit(e).await?;
        }
        done(&mut c, "audit entries", n);
        match got.next {
            Some(next) => page.after = Some(next),
            None => break,
        }
    }

    let counts = from.counts(i64::MIN, i64::MAX).await?;
    to.add_counts(&counts).await?;
    done(&mut c, "daily counts", counts.len() as u64);

    let state = from.revocation_state().await?;
    if let Some(list) = from.revocation_list().await? {
        to.put_revocations(&state, &list).await?;
        done(&mut c, "revocation lists", 1);
    }
    Ok(c)
}
