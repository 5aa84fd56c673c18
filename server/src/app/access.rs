//! The stored objects as a caller may reach them: missing, or of a product the caller's key is
//! limited away from, are both "not found" (other products' objects are invisible). Every
//! operation that reads an object for a caller reads it through these.

use crate::app::caller::Caller;
use crate::app::error::{ApiError, ApiResult};
use crate::app::state::AppState;
use licet_core::ids::{LicenseId, MachineId, PolicyId, ProductId};
use licet_core::model::{License, Machine, Policy, Product};

/// A product the caller may see.
pub(crate) async fn load_product(s: &AppState, caller: &Caller, id: &str) -> ApiResult<Product> {
    caller.visible(
        s.store.product(&ProductId::from(id)).await?,
        "product",
        |p| &p.id,
    )
}

/// A policy the caller may see.
pub(crate) async fn load_policy(s: &AppState, caller: &Caller, id: &str) -> ApiResult<Policy> {
    caller.visible(s.store.policy(&PolicyId::from(id)).await?, "policy", |p| {
        &p.product_id
    })
}

/// A license the caller may see.
pub(crate) async fn load_license(s: &AppState, caller: &Caller, id: &str) -> ApiResult<License> {
    caller.visible(
        s.store.license(&LicenseId::from(id)).await?,
        "license",
        |l| &l.product_id,
    )
}

/// A machine the caller may see, with its license.
pub(crate) async fn load_machine(
    s: &AppState,
    caller: &Caller,
    id: &str,
) -> ApiResult<(Machine, License)> {
    let m = s
        .store
        .machine_by_id(&MachineId::from(id))
        .await?
        .ok_or_else(|| ApiError::not_found("machine"))?;
    let l = caller.visible(s.store.license(&m.license_id).await?, "machine", |l| {
        &l.product_id
    })?;
    Ok((m, l))
}
