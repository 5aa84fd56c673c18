//! Who asks: the API key a request was authenticated with (by the HTTP layer, from its
//! `Authorization` header, or by the dashboard's session), and what that key may reach. Every
//! operation judges its caller with these checks, whichever family or page it came through.

use crate::app::error::{ApiError, ApiResult};
use licet_core::model::{ApiKey, Scope};

/// The authenticated caller of an admin or validation route.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The API key (directly, or the one the JWT was minted from).
    pub key: ApiKey,
    /// Whether the request came with a JWT rather than the key itself.
    pub via_jwt: bool,
}

impl Caller {
    /// Fails unless the caller's scope is at least `scope`.
    pub fn require(&self, scope: Scope) -> ApiResult<()> {
        if self.key.scope >= scope {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "this key's scope does not allow {scope:?} operations"
            )))
        }
    }

    /// Fails unless the caller is an `admin` key with no product limit: the widest credential
    /// there is. API keys, product creation and anything spanning products need it, so that no
    /// key can mint, rotate or reach a key wider than itself.
    pub fn require_unrestricted(&self) -> ApiResult<()> {
        self.require(Scope::Admin)?;
        if self.key.product_id.is_some() {
            return Err(ApiError::forbidden(
                "this needs an admin key with no product limit; this key is limited to one product",
            ));
        }
        Ok(())
    }

    /// Fails if the caller is limited to another product.
    pub fn require_product(&self, product_id: &str) -> ApiResult<()> {
        match &self.key.product_id {
            Some(p) if p != product_id => Err(ApiError::forbidden(
                "this key is limited to another product",
            )),
            _ => Ok(()),
        }
    }

    /// Whether the caller may see `product_id`.
    pub fn sees(&self, product_id: &str) -> bool {
        self.key
            .product_id
            .as_deref()
            .is_none_or(|p| p == product_id)
    }

    /// An object the caller may see: `found`, unless it is missing or of a product the caller's
    /// key is limited away from, which both answer 404 (other products' objects are invisible).
    pub fn visible<T>(
        &self,
        found: Option<T>,
        what: &str,
        product_id: impl Fn(&T) -> &str,
    ) -> ApiResult<T> {
        match found {
            Some(x) if self.sees(product_id(&x)) => Ok(x),
            _ => Err(ApiError::not_found(what)),
        }
    }

    /// The audit actor name.
    pub fn actor(&self) -> String {
        self.key.id.clone()
    }
}
