//! Products and policies.

use async_trait::async_trait;
use licet_core::model::*;
use licet_core::store::*;
use sled::Transactional;
use sled::transaction::ConflictableTransactionError;

use crate::SledStore;
use crate::error::{Error, Res};
use crate::layout::*;

impl SledStore {
    /// The next numeric product id not taken (numbers given explicitly are skipped).
    pub fn next_product_number(&self) -> Res<u64> {
        loop {
            let n = self.next_counter("product_number")?;
            if !self.product_numbers.contains_key(n.to_be_bytes())? {
                return Ok(n);
            }
        }
    }

    /// Inserts a product; its code and numeric id must be unused, and so must its name if a
    /// family addresses it by name.
    pub fn insert_product(&self, p: &Product) -> Res<()> {
        let value = to_json(p)?;
        if let Some(owner) = &p.owner_id {
            self.owner_products.insert(pair_key(owner, &p.id), &[])?;
        }
        (
            &self.products,
            &self.product_codes,
            &self.product_numbers,
            &self.product_names,
        )
            .transaction(|(products, codes, numbers, names)| {
                if p.compat.by_name() {
                    if names.get(name_key(&p.name))?.is_some() {
                        return Err(name_taken(&p.name));
                    }
                    names.insert(name_key(&p.name), p.id.as_bytes())?;
                }
                if codes.get(p.code.as_bytes())?.is_some() {
                    return Err(ConflictableTransactionError::Abort(Error::conflict(
                        Constraint::ProductCode,
                        format!("a product with code {:?} exists", p.code),
                    )));
                }
                if numbers.get(p.numeric_id.to_be_bytes())?.is_some() {
                    return Err(ConflictableTransactionError::Abort(Error::conflict(
                        Constraint::ProductNumber,
                        format!("a product with numeric id {} exists", p.numeric_id),
                    )));
                }
                codes.insert(p.code.as_bytes(), p.id.as_bytes())?;
                numbers.insert(&p.numeric_id.to_be_bytes(), p.id.as_bytes())?;
                products.insert(p.id.as_bytes(), value.clone())?;
                Ok(())
            })?;
        Ok(())
    }

    /// A product by its numeric id.
    pub fn product_by_number(&self, n: u64) -> Res<Option<Product>> {
        match self.product_numbers.get(n.to_be_bytes())? {
            Some(id) => self.product(&String::from_utf8_lossy(&id)),
            None => Ok(None),
        }
    }

    /// Replaces a product (its code does not change). A rename or a change of families that
    /// would give two name-addressed products one name is refused (409 `duplicate_name`), in
    /// the same transaction as the write.
    pub fn update_product(&self, p: &Product) -> Res<()> {
        let value = to_json(p)?;
        (&self.products, &self.product_names).transaction(|(products, names)| {
            if let Some(old) = products.get(p.id.as_bytes())? {
                let old: Product = serde_json::from_slice(&old)
                    .map_err(|e| ConflictableTransactionError::Abort(Error::backend(e)))?;
                if names.get(name_key(&old.name))?.as_deref() == Some(p.id.as_bytes()) {
                    names.remove(name_key(&old.name))?;
                }
            }
            if p.compat.by_name() {
                match names.get(name_key(&p.name))? {
                    Some(id) if id.as_ref() != p.id.as_bytes() => return Err(name_taken(&p.name)),
                    _ => {
                        names.insert(name_key(&p.name), p.id.as_bytes())?;
                    }
                }
            }
            products.insert(p.id.as_bytes(), value.clone())?;
            Ok(())
        })?;
        Ok(())
    }

    /// Deletes a product that has no licenses.
    pub fn delete_product(&self, p: &Product) -> Res<()> {
        if self.licenses_of_product(&p.id)? > 0 {
            return Err(Error::conflict(
                Constraint::InUse,
                "the product still has licenses",
            ));
        }
        (
            &self.products,
            &self.product_codes,
            &self.product_numbers,
            &self.product_names,
        )
            .transaction(|(products, codes, numbers, names)| {
                products.remove(p.id.as_bytes())?;
                codes.remove(p.code.as_bytes())?;
                numbers.remove(&p.numeric_id.to_be_bytes())?;
                if names.get(name_key(&p.name))?.as_deref() == Some(p.id.as_bytes()) {
                    names.remove(name_key(&p.name))?;
                }
                Ok::<_, ConflictableTransactionError<Error>>(())
            })?;
        if let Some(owner) = &p.owner_id {
            self.owner_products.remove(pair_key(owner, &p.id))?;
        }
        Ok(())
    }

    /// The products of a LicenseCM user, through the index (not every product).
    pub fn products_of_owner(&self, owner: &str) -> Res<Vec<Product>> {
        let prefix = pair_key(owner, "");
        let mut out = Vec::new();
        for k in self.owner_products.scan_prefix(&prefix).keys() {
            let k = k?;
            if let Some(p) = self.product(&String::from_utf8_lossy(&k[prefix.len()..]))?
                && p.owner_id.as_deref() == Some(owner)
            {
                out.push(p);
            }
        }
        Ok(out)
    }

    /// A product by id.
    pub fn product(&self, id: &str) -> Res<Option<Product>> {
        self.products.get(id)?.map(|b| from_json(&b)).transpose()
    }

    /// A product by its code.
    pub fn product_by_code(&self, code: &str) -> Res<Option<Product>> {
        match self.product_codes.get(code)? {
            Some(id) => self.product(&String::from_utf8_lossy(&id)),
            None => Ok(None),
        }
    }

    /// All products.
    pub fn products(&self) -> Res<Vec<Product>> {
        self.products
            .iter()
            .values()
            .map(|v| from_json(&v?))
            .collect()
    }

    pub(crate) fn licenses_of_product(&self, product_id: &str) -> Res<usize> {
        Ok(self.licenses_of(product_id)?.len())
    }

    /// Inserts or replaces a policy.
    pub fn put_policy(&self, p: &Policy) -> Res<()> {
        self.policies.insert(p.id.as_bytes(), to_json(p)?)?;
        Ok(())
    }

    /// A policy by id.
    pub fn policy(&self, id: &str) -> Res<Option<Policy>> {
        self.policies.get(id)?.map(|b| from_json(&b)).transpose()
    }

    /// All policies, optionally of one product.
    pub fn policies(&self, product_id: Option<&str>) -> Res<Vec<Policy>> {
        let all: Res<Vec<Policy>> = self
            .policies
            .iter()
            .values()
            .map(|v| from_json(&v?))
            .collect();
        Ok(all?
            .into_iter()
            .filter(|p| product_id.is_none_or(|id| p.product_id == id))
            .collect())
    }

    /// Deletes a policy no license uses.
    pub fn delete_policy(&self, id: &str) -> Res<()> {
        for v in self.licenses.iter().values() {
            if stored_row(&v?)?.policy_id == id {
                return Err(Error::conflict(
                    Constraint::InUse,
                    "licenses still use the policy",
                ));
            }
        }
        self.policies.remove(id)?;
        Ok(())
    }
}

#[async_trait]
impl Catalog for SledStore {
    async fn next_product_number(&self) -> StoreResult<u64> {
        Ok(SledStore::next_product_number(self)?)
    }
    async fn insert_product(&self, p: &Product) -> StoreResult<()> {
        let done = SledStore::insert_product(self, p)?;
        self.committer.commit().await?;
        Ok(done)
    }
    async fn update_product(&self, p: &Product) -> StoreResult<()> {
        let done = SledStore::update_product(self, p)?;
        self.committer.commit().await?;
        Ok(done)
    }
    async fn delete_product(&self, p: &Product) -> StoreResult<()> {
        let done = SledStore::delete_product(self, p)?;
        self.committer.commit().await?;
        Ok(done)
    }
    async fn product(&self, id: &licet_core::model::ProductId) -> StoreResult<Option<Product>> {
        Ok(SledStore::product(self, id)?)
    }
    async fn product_by_code(&self, code: &str) -> StoreResult<Option<Product>> {
        Ok(SledStore::product_by_code(self, code)?)
    }
    async fn product_by_number(&self, n: u64) -> StoreResult<Option<Product>> {
        Ok(SledStore::product_by_number(self, n)?)
    }
    async fn products(&self) -> StoreResult<Vec<Product>> {
        Ok(SledStore::products(self)?)
    }
    async fn products_of_owner(&self, owner: &str) -> StoreResult<Vec<Product>> {
        Ok(SledStore::products_of_owner(self, owner)?)
    }
    async fn put_policy(&self, p: &Policy) -> StoreResult<()> {
        let done = SledStore::put_policy(self, p)?;
        self.committer.commit().await?;
        Ok(done)
    }
    async fn policy(&self, id: &licet_core::model::PolicyId) -> StoreResult<Option<Policy>> {
        Ok(SledStore::policy(self, id)?)
    }
    async fn policies(&self, product_id: Option<&str>) -> StoreResult<Vec<Policy>> {
        Ok(SledStore::policies(self, product_id)?)
    }
    async fn delete_policy(&self, id: &str) -> StoreResult<()> {
        let done = SledStore::delete_policy(self, id)?;
        self.committer.commit().await?;
        Ok(done)
    }
}
