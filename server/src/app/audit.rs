//! The audit log as a caller reads it: an admin key only, and a product-limited one only the
//! entries about its product (entries spanning products only an unrestricted key sees).

use licet_api::answers::AuditEntryBody;
use licet_core::model::Scope;
use licet_core::store::{AuditFilter, Page, PageRequest};

use crate::app::caller::Caller;
use crate::app::error::ApiResult;
use crate::app::state::AppState;

/// A page of the entries `filter` finds that the caller may read. The filter's product is
/// the caller's own: a product-limited key reads its product's entries only, whatever it asks.
pub async fn entries(
    s: &AppState,
    caller: &Caller,
    mut filter: AuditFilter,
    page: PageRequest,
) -> ApiResult<Page<AuditEntryBody>> {
    caller.require(Scope::Admin)?;
    filter.product_id = caller.key.product_id.clone().map(Into::into);
    let page = s.store.audit(&filter, &page).await?;
    Ok(Page {
        items: licet_api::answers::all(&page.items),
        next: page.next,
    })
}
