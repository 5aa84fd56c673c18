//! Orders, customers and downloads.

use super::*;

/// The store's prices, customers and orders (the WemX-compatible shop).
#[async_trait]
pub trait Shop: Send + Sync {
    /// Adds a price; its id must be free.
    async fn insert_price(&self, p: &Price) -> StoreResult<()>;
    /// The next free price id.
    async fn next_price_id(&self) -> StoreResult<u64>;
    /// A price.
    async fn price(&self, id: u64) -> StoreResult<Option<Price>>;
    /// Prices, of one product or all.
    async fn prices(&self, product_id: Option<&str>) -> StoreResult<Vec<Price>>;
    /// Removes a price no order uses.
    async fn delete_price(&self, id: u64) -> StoreResult<()>;
    /// A customer.
    async fn customer(&self, id: u64) -> StoreResult<Option<Customer>>;
    /// A customer by e-mail.
    async fn customer_by_email(&self, email: &str) -> StoreResult<Option<Customer>>;
    /// Adds a customer unless one has the e-mail: (the customer stored, whether it is new).
    async fn insert_customer_if_new(&self, c: &Customer) -> StoreResult<(Customer, bool)>;
    /// Replaces a customer.
    async fn update_customer(&self, c: &Customer) -> StoreResult<()>;
    /// Customers after id `after`, at most `limit`.
    async fn customers(&self, after: u64, limit: usize) -> StoreResult<Page<Customer>>;
    /// An order.
    async fn order(&self, id: u64) -> StoreResult<Option<Order>>;
    /// A customer's orders.
    async fn orders_of_customer(&self, customer_id: u64) -> StoreResult<Vec<Order>>;
    /// Adds an order with its new license, machines and record, all or none.
    async fn insert_order(
        &self,
        o: &Order,
        l: &License,
        machines: &[Machine],
        record: Record,
    ) -> StoreResult<()>;
    /// Replaces an order, and its license with what `change` makes of it as stored now,
    /// together (one operation, as [`Licenses::change_license`]). The license as stored.
    async fn update_order(
        &self,
        o: &Order,
        change: ChangeLicense<'_>,
    ) -> StoreResult<Option<License>>;
}

/// Product downloads and their one-time grants.
#[async_trait]
pub trait Downloads: Send + Sync {
    /// Adds a download; its name must be free in its product.
    async fn insert_download(&self, d: &Download) -> StoreResult<()>;
    /// A download.
    async fn download(&self, id: u64) -> StoreResult<Option<Download>>;
    /// A product's download by name.
    async fn download_by_name(&self, product_id: &str, name: &str)
    -> StoreResult<Option<Download>>;
    /// Downloads, of one product or all.
    async fn downloads(&self, product_id: Option<&str>) -> StoreResult<Vec<Download>>;
    /// Removes a download.
    async fn delete_download(&self, d: &Download) -> StoreResult<()>;
    /// Stores a grant.
    async fn put_grant(&self, id: &[u8; 16], g: &DownloadGrant) -> StoreResult<()>;
    /// A grant.
    async fn grant(&self, id: &[u8; 16]) -> StoreResult<Option<DownloadGrant>>;
    /// Spends a grant once: whether this call was the one that spent it.
    async fn use_grant(&self, id: &[u8; 16], now: i64) -> StoreResult<bool>;
    /// Forgets grants that expired before `before`; how many.
    async fn prune_grants(&self, before: i64) -> StoreResult<usize>;
}
