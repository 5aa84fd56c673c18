//! Prices, customers and orders.

use async_trait::async_trait;
use licet_core::model::*;
use licet_core::store::*;
use sled::Transactional;
use sled::transaction::ConflictableTransactionError;

use crate::SledStore;
use crate::error::{Error, Res};
use crate::layout::*;

impl SledStore {
    /// Inserts a price; its id must be unused.
    pub fn insert_price(&self, p: &Price) -> Res<()> {
        let taken = self
            .prices
            .compare_and_swap(p.id.to_be_bytes(), None::<&[u8]>, Some(to_json(p)?))?
            .is_err();
        if taken {
            return Err(Error::conflict(
                Constraint::PriceId,
                format!("a price with id {} exists", p.id),
            ));
        }
        Ok(())
    }

    /// The next price id not taken (ids given explicitly are skipped).
    pub fn next_price_id(&self) -> Res<u64> {
        loop {
            let n = self.next_counter("price_number")?;
            if !self.prices.contains_key(n.to_be_bytes())? {
                return Ok(n);
            }
        }
    }

    /// A price by id.
    pub fn price(&self, id: u64) -> Res<Option<Price>> {
        self.prices
            .get(id.to_be_bytes())?
            .map(|b| from_json(&b))
            .transpose()
    }

    /// The prices of a product (all prices if `None`), in id order.
    pub fn prices(&self, product_id: Option<&str>) -> Res<Vec<Price>> {
        let all = self
            .prices
            .iter()
            .values()
            .map(|v| from_json(&v?))
            .collect::<Res<Vec<Price>>>()?;
        Ok(all
            .into_iter()
            .filter(|p| product_id.is_none_or(|id| p.product_id == id))
            .collect())
    }

    /// Deletes a price no order uses.
    pub fn delete_price(&self, id: u64) -> Res<()> {
        for v in self.orders.iter().values() {
            let o: Order = from_json(&v?)?;
            if o.price_id == id {
                return Err(Error::conflict(
                    Constraint::InUse,
                    "orders still use the price",
                ));
            }
        }
        self.prices.remove(id.to_be_bytes())?;
        Ok(())
    }

    /// A customer by id.
    pub fn customer(&self, id: u64) -> Res<Option<Customer>> {
        self.customers
            .get(id.to_be_bytes())?
            .map(|b| from_json(&b))
            .transpose()
    }

    /// A customer by e-mail address (lower-case).
    pub fn customer_by_email(&self, email: &str) -> Res<Option<Customer>> {
        match self.customer_emails.get(email)? {
            Some(id) => match <[u8; 8]>::try_from(&id[..]) {
                Ok(b) => self.customer(u64::from_be_bytes(b)),
                Err(_) => Err(Error::backend("corrupt customer index")),
            },
            None => Ok(None),
        }
    }

    /// Inserts `c` unless a customer with its e-mail exists; returns the customer that holds
    /// the address and whether it is the new one. Concurrent calls for one address agree.
    pub fn insert_customer_if_new(&self, c: &Customer) -> Res<(Customer, bool)> {
        let value = to_json(c)?;
        let existing = (&self.customers, &self.customer_emails).transaction(|(cs, emails)| {
            if let Some(id) = emails.get(c.email.as_bytes())? {
                return Ok(Some(id));
            }
            emails.insert(c.email.as_bytes(), &c.id.to_be_bytes())?;
            cs.insert(&c.id.to_be_bytes(), value.clone())?;
            Ok::<_, ConflictableTransactionError<Error>>(None)
        })?;
        match existing {
            None => Ok((c.clone(), true)),
            Some(_) => self
                .customer_by_email(&c.email)?
                .map(|found| (found, false))
                .ok_or_else(|| Error::backend("customer index points nowhere")),
        }
    }

    /// Replaces a customer (its e-mail does not change).
    pub fn update_customer(&self, c: &Customer) -> Res<()> {
        self.customers.insert(c.id.to_be_bytes(), to_json(c)?)?;
        Ok(())
    }

    /// Customers in id order after `after`, at most `limit`.
    pub fn customers(&self, after: u64, limit: usize) -> Res<Page<Customer>> {
        page(
            self.customers.range((after + 1).to_be_bytes()..),
            limit,
            from_json,
            |_: &Customer| true,
            |c: &Customer| c.id.to_string(),
        )
    }

    /// An order by id.
    pub fn order(&self, id: u64) -> Res<Option<Order>> {
        self.orders
            .get(id.to_be_bytes())?
            .map(|b| from_json(&b))
            .transpose()
    }

    /// The orders of a customer.
    pub fn orders_of_customer(&self, customer_id: u64) -> Res<Vec<Order>> {
        let mut out = Vec::new();
        for v in self.orders.iter().values() {
            let o: Order = from_json(&v?)?;
            if o.customer_id == customer_id {
                out.push(o);
            }
        }
        Ok(out)
    }

    /// Records a sale: the order, its license (whose key must be unused) and the license's
    /// first machines (domains), all or nothing.
    pub fn insert_order(&self, o: &Order, l: &License, machines: &[Machine]) -> Res<()> {
        self.index_expiry(std::slice::from_ref(l))?;
        self.index_products(std::slice::from_ref(l))?;
        let order = to_json(o)?;
        let license = license_value(l)?;
        let ms_values = machines.iter().map(to_json).collect::<Res<Vec<_>>>()?;
        (
            &self.orders,
            &self.licenses,
            &self.license_keys,
            &self.machines,
            &self.machine_ids,
            &self.machine_counts,
        )
            .transaction(|(orders, licenses, keys, ms, ids, counts)| {
                if keys.get(l.key.as_bytes())?.is_some() {
                    return Err(ConflictableTransactionError::Abort(Error::conflict(
                        Constraint::LicenseKey,
                        "a license with this key exists",
                    )));
                }
                keys.insert(l.key.as_bytes(), l.id.as_bytes())?;
                licenses.insert(l.id.as_bytes(), license.clone())?;
                orders.insert(&o.id.to_be_bytes(), order.clone())?;
                for (m, value) in machines.iter().zip(&ms_values) {
                    let key = machine_key(&m.license_id, &m.fingerprint);
                    if ms.insert(key.clone(), value.clone())?.is_none() {
                        bump(counts, &m.license_id, 1)?;
                    }
                    ids.insert(m.id.as_bytes(), key)?;
                }
                Ok(())
            })?;
        Ok(())
    }

    /// Stores an order and its license together (a due date moved).
    pub fn update_order(&self, o: &Order, change: ChangeLicense<'_>) -> Res<Option<License>> {
        let _license = self.seat_lock(&o.license_id);
        let Some(current) = self.license(&o.license_id)? else {
            return Ok(None);
        };
        let (l, log) = change(&current)?.unwrap_or((current, Record::none()));
        if l.id != o.license_id {
            return Err(Error::backend("update_order: another license"));
        }
        self.index_expiry(std::slice::from_ref(&l))?;
        let order = to_json(o)?;
        let license = license_value(&l)?;
        (&self.orders, &self.licenses).transaction(|(orders, licenses)| {
            orders.insert(&o.id.to_be_bytes(), order.clone())?;
            licenses.insert(l.id.as_bytes(), license.clone())?;
            Ok::<_, ConflictableTransactionError<Error>>(())
        })?;
        self.write_record(log)?;
        Ok(Some(l))
    }
}

#[async_trait]
impl Shop for SledStore {
    async fn insert_price(&self, p: &Price) -> StoreResult<()> {
        let done = SledStore::insert_price(self, p)?;
        self.committer.commit().await?;
        Ok(done)
    }
    async fn next_price_id(&self) -> StoreResult<u64> {
        Ok(SledStore::next_price_id(self)?)
    }
    async fn price(&self, id: u64) -> StoreResult<Option<Price>> {
        Ok(SledStore::price(self, id)?)
    }
    async fn prices(&self, product_id: Option<&str>) -> StoreResult<Vec<Price>> {
        Ok(SledStore::prices(self, product_id)?)
    }
    async fn delete_price(&self, id: u64) -> StoreResult<()> {
        let done = SledStore::delete_price(self, id)?;
        self.committer.commit().await?;
        Ok(done)
    }
    async fn customer(&self, id: u64) -> StoreResult<Option<Customer>> {
        Ok(SledStore::customer(self, id)?)
    }
    async fn customer_by_email(&self, email: &str) -> StoreResult<Option<Customer>> {
        Ok(SledStore::customer_by_email(self, email)?)
    }
    async fn insert_customer_if_new(&self, c: &Customer) -> StoreResult<(Customer, bool)> {
        let done = SledStore::insert_customer_if_new(self, c)?;
        self.committer.commit().await?;
        Ok(done)
    }
    async fn update_customer(&self, c: &Customer) -> StoreResult<()> {
        let done = SledStore::update_customer(self, c)?;
        self.committer.commit().await?;
        Ok(done)
    }
    async fn customers(&self, after: u64, limit: usize) -> StoreResult<Page<Customer>> {
        Ok(SledStore::customers(self, after, limit)?)
    }
    async fn order(&self, id: u64) -> StoreResult<Option<Order>> {
        Ok(SledStore::order(self, id)?)
    }
    async fn orders_of_customer(&self, customer_id: u64) -> StoreResult<Vec<Order>> {
        Ok(SledStore::orders_of_customer(self, customer_id)?)
    }
    async fn insert_order(
        &self,
        o: &Order,
        l: &License,
        machines: &[Machine],
        record: Record,
    ) -> StoreResult<()> {
        SledStore::insert_order(self, o, l, machines)?;
        self.write_record(record)?;
        Ok(self.committer.commit().await?)
    }
    async fn update_order(
        &self,
        o: &Order,
        change: ChangeLicense<'_>,
    ) -> StoreResult<Option<License>> {
        let l = SledStore::update_order(self, o, change)?;
        self.committer.commit().await?;
        Ok(l)
    }
}
