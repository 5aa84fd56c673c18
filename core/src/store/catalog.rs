//! Products and policies.

use super::*;

/// Products and policies.
#[async_trait]
pub trait Catalog: Send + Sync {
    /// The next free product number.
    async fn next_product_number(&self) -> StoreResult<u64>;
    /// Adds a product; its code, number and (where it answers by name) name must be free.
    async fn insert_product(&self, p: &Product) -> StoreResult<()>;
    /// Replaces a product, keeping its code and number unique.
    async fn update_product(&self, p: &Product) -> StoreResult<()>;
    /// Removes a product that has no licenses, with its policies.
    async fn delete_product(&self, p: &Product) -> StoreResult<()>;
    /// A product by id.
    async fn product(&self, id: &crate::model::ProductId) -> StoreResult<Option<Product>>;
    /// A product by its code.
    async fn product_by_code(&self, code: &str) -> StoreResult<Option<Product>>;
    /// A product by its number.
    async fn product_by_number(&self, n: u64) -> StoreResult<Option<Product>>;
    /// Every product.
    async fn products(&self) -> StoreResult<Vec<Product>>;
    /// The products of one LicenseCM user.
    async fn products_of_owner(&self, owner: &str) -> StoreResult<Vec<Product>>;
    /// Adds or replaces a policy.
    async fn put_policy(&self, p: &Policy) -> StoreResult<()>;
    /// A policy by id.
    async fn policy(&self, id: &crate::model::PolicyId) -> StoreResult<Option<Policy>>;
    /// Policies, of one product or all.
    async fn policies(&self, product_id: Option<&str>) -> StoreResult<Vec<Policy>>;
    /// Removes a policy no license uses.
    async fn delete_policy(&self, id: &str) -> StoreResult<()>;
}
