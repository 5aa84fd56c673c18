//! The audit log as a caller reads it: an admin key only, and a product-limited one only the
//! entries about its product (entries spanning products only an unrestricted key sees).

use licet_api::answers::AuditEntryBody;
use licet_core::model::Scope;
use licet_core::store::{AuditFilter, Page, PageRequest};

use crate::app::caller::Caller;
use crate::app::error::ApiResult;
use crate::app::state::AppState;

/// What entries to read, and which page.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// Actions that start with this.
    pub action: Option<String>,
    /// About this subject.
    pub subject: Option<String>,
    /// By this actor.
    pub actor: Option<String>,
    /// About this license: its own entries and its machines'.
    pub license: Option<String>,
    /// At or after this time.
    pub since: Option<i64>,
    /// At or before this time.
    pub until: Option<i64>,
    /// Newest first rather than oldest first.
    pub newest_first: bool,
    /// The `next` of the page before, in the same order.
    pub after: Option<u64>,
    /// At most this many (the caller bounds it).
    pub limit: usize,
}

/// A page of the entries `q` finds that the caller may read.
pub async fn entries(
    s: &AppState,
    caller: &Caller,
    q: AuditQuery,
) -> ApiResult<Page<AuditEntryBody>> {
    caller.require(Scope::Admin)?;
    // A product-limited key reads its own product's entries only.
    let filter = AuditFilter {
        product_id: caller.key.product_id.clone(),
        action: q.action,
        subject: q.subject,
        actor: q.actor,
        license: q.license,
        since: q.since,
        until: q.until,
        newest_first: q.newest_first,
    };
    let page = PageRequest {
        after: q.after.map(|a| a.to_string()),
        limit: q.limit,
    };
    let page = s.store.audit(&filter, &page).await?;
    Ok(Page {
        items: licet_api::answers::all(&page.items),
        next: page.next,
    })
}
