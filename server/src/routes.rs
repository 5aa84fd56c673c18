//! The router: licet's own API and, as the configuration switches them on, the compatibility
//! families, each registered by its own module. Nothing here handles a request.

use crate::app::state::AppState;
use crate::{api, compat};

/// Builds the router and, from the same registrations, the OpenAPI document. Compatibility
/// families are included as the configuration switches them on.
pub fn router(config: &crate::config::Config) -> utoipa_axum::router::OpenApiRouter<AppState> {
    let r = utoipa_axum::router::OpenApiRouter::new()
        .merge(api::v1::admin::router())
        .merge(api::v1::licenses::router())
        .merge(api::v1::client::router())
        .merge(api::v1::offline::router())
        .merge(api::v1::public::router())
        .merge(api::v1::shop::router())
        .merge(api::v1::downloads::router())
        .merge(api::v1::webhooks::router())
        .merge(api::v1::stats::router());
    let r = if config.compat_faxstore {
        r.merge(compat::faxstore::router(config.compat_faxstore_v1))
    } else {
        r
    };
    let r = if config.compat_verify {
        r.merge(compat::verify::router())
    } else {
        r
    };
    let r = if config.compat_wemx {
        r.merge(compat::wemx::router())
    } else {
        r
    };
    if config.compat_licensecm {
        r.merge(compat::licensecm::router())
    } else {
        r
    }
}
