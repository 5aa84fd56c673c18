//! Products and policies as a caller reads them: only those of the products its key reaches,
//! products without their sealed secrets.

use licet_api::answers::{PolicyBody, ProductBody};

use crate::app::access::{load_policy, load_product};
use crate::app::caller::Caller;
use crate::app::error::ApiResult;
use crate::app::state::AppState;

/// The products the caller sees.
pub async fn products(s: &AppState, caller: &Caller) -> ApiResult<Vec<ProductBody>> {
    Ok(s.store
        .products()
        .await?
        .iter()
        .filter(|p| caller.sees(&p.id))
        .map(ProductBody::from)
        .collect())
}

/// Product `id`, if the caller sees it.
pub async fn product(s: &AppState, caller: &Caller, id: &str) -> ApiResult<ProductBody> {
    Ok(ProductBody::from(&load_product(s, caller, id).await?))
}

/// The policies the caller sees, of one product or of all.
pub async fn policies(
    s: &AppState,
    caller: &Caller,
    product_id: Option<&str>,
) -> ApiResult<Vec<PolicyBody>> {
    Ok(s.store
        .policies(product_id)
        .await?
        .iter()
        .filter(|p| caller.sees(&p.product_id))
        .map(PolicyBody::from)
        .collect())
}

/// Policy `id`, if the caller sees its product.
pub async fn policy(s: &AppState, caller: &Caller, id: &str) -> ApiResult<PolicyBody> {
    Ok(PolicyBody::from(&load_policy(s, caller, id).await?))
}
