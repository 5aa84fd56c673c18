//! WemX's licensing service (`seeds/wemx-licensing-service.md`), answered from licet's model.
//!
//! WemX's nouns map onto licet's: a *package* is a product (its `package_id` is the product's
//! numeric id, its name the product's name), a *price* a [`Price`] of the product, a *user* a
//! [`Customer`], an *order* an [`Order`] whose due date is the license's expiry, and a license's
//! *domains* are the license's machines with fingerprint `domain:<name>` (as for the Verify
//! API), so the license's seats are `max_domains`. Choices where the document is silent (also
//! in `docs/compat.md`):
//!
//! - Answers are `{"success": false, "message"}` with 404 (no such license), 403 (the license
//!   may not be used here), 409 (a repeated `transaction_id`), 422 (Laravel validation, with
//!   `errors`), 401 (private API without a valid key) and 429 (rate limited).
//! - An unknown domain is claimed on first install while the license has a free domain slot;
//!   its type is guessed (development for `localhost`, IPs, test TLDs and `dev.` hosts).
//! - The public `due_date` may set a first due date or bring it forward, never push it later:
//!   anyone holding a key can call the public API, so only the private API extends.

use licet_core::store::Record;
use std::collections::BTreeMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{KeyInit, Mac};
use serde_json::{Map, Value, json};
use sha2::Sha256;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::caller::Caller;
use crate::app::error::ApiError;
use crate::app::state::AppState;
use crate::domains::{DomainName, domain_machine, new_domain};
use crate::http::extract::{ClientIp, public_url};
use crate::rules;
use licet_core::events::DomainEvent;
use licet_core::model::{
    Customer, DOMAIN_PREFIX, DownloadGrant, Kind, License, LicenseStatus, Machine, Order, Policy,
    PriceKind, Product, Scope,
};
use licet_core::seats::{SeatClaim, SeatError, SeatRefusal, SeatRule};
use licet_core::store::{Halted, Seat};

/// The WemX routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(validate))
        .routes(routes!(domains))
        .routes(routes!(download))
        .routes(routes!(fetch))
        .routes(routes!(create))
        .routes(routes!(update_due_date))
}

/// Largest `data` kept on a license, as JSON bytes.
const MAX_DATA: usize = 4096;
/// Most package names one request may list.
const MAX_PACKAGES: usize = 32;

mod answer;
mod downloads;
mod input;
mod private;
mod public;

use answer::*;
use downloads::*;
use input::*;
use private::*;
use public::*;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn laravel_messages_and_dates() {
        let input = Map::new();
        let mut r = Rules::new(&input);
        r.string("license", true, 255);
        r.string("packages", true, 255);
        r.domain("domain");
        let Err(refusal) = r.finish() else {
            panic!("empty input passed")
        };
        assert_eq!(refusal.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            refusal.message,
            "The domain field is required. (and 2 more errors)"
        );
        assert_eq!(
            parse_date("2028-01-01T20:55:13.000000Z"),
            Some(1_830_372_913)
        );
        assert_eq!(parse_date("2028-01-01"), Some(1_830_297_600));
        assert_eq!(parse_date("2028-01-01 20:55:13"), Some(1_830_372_913));
        assert_eq!(parse_date("tomorrow"), None);
        assert_eq!(
            laravel_time(1_704_123_335),
            json!("2024-01-01T15:35:35.000000Z")
        );
    }

    #[test]
    fn form_input_with_arrays() {
        let mut out = Map::new();
        absorb_form(&mut out, b"license=K&data[a]=1&data[]=2");
        assert_eq!(out["license"], json!("K"));
        assert_eq!(out["data"], json!({"a": "1", "1": "2"}));
    }

    #[test]
    fn emails() {
        assert!(valid_email("mfmjqpfbnaqnrpxrgx@cazlq.com"));
        assert!(!valid_email("no-at-sign"));
        assert!(!valid_email("a@b"));
        assert!(!valid_email("a b@c.com"));
    }
}
