//! Admin resources: products, policies, machines, API keys, minted JWTs and the audit log.

use crate::app::error::ErrorCode;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use licet_api::requests::{CreateApiKey, CreatePolicy, CreateProduct, UpdateProduct};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::body::{MachineBody, PolicyBody, ProductBody};
use crate::app::access::{load_policy, load_product};
use crate::app::caller::Caller;
use crate::app::error::{ApiError, ApiResult};
use crate::app::state::AppState;
use crate::http::auth::new_api_key;
use crate::http::extract::{Answer, Body, ClientIp, OptionalBody, Q, Reply, page_limit};
use crate::ids::{format_is_strong, random_id};
use licet_core::model::{Families, Policy, Product, Scope};
use licet_core::store::{LicenseFilter, PageRequest};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_product, list_products))
        .routes(routes!(get_product, update_product, delete_product))
        .routes(routes!(create_policy, list_policies))
        .routes(routes!(get_policy, update_policy, delete_policy))
        .routes(routes!(get_machine, delete_machine))
        .routes(routes!(create_api_key, list_api_keys))
        .routes(routes!(get_api_key, revoke_api_key))
        .routes(routes!(rotate_api_key))
        .routes(routes!(rotate_signing_key))
        .routes(routes!(rotate_root_secret))
        .routes(routes!(api_key_usage))
        .routes(routes!(mint_token))
        .routes(routes!(audit))
}

fn valid_code(code: &str) -> bool {
    !code.is_empty()
        && code.len() <= 64
        && code.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.')
        })
}

fn check_key_format(prefix: &str, format: &str) -> ApiResult<()> {
    if format.len() > 64
        || !format_is_strong(format)
        || !format.chars().all(|c| matches!(c, 'X' | 'h' | '-'))
    {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidField,
            "key_format: `X` for a random character, `h` for a random hex digit, `-` separators; at least 80 random bits (16 `X` or 20 `h`), at most 64 characters",
        ));
    }
    if prefix.len() > 16
        || !prefix
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidField,
            "key_prefix: upper-case letters, digits and `-`, at most 16",
        ));
    }
    Ok(())
}

mod audit;
mod keys;
mod machines;
mod policies;
mod products;
mod tokens;

use audit::*;
use keys::*;
use machines::*;
use policies::*;
use products::*;
use tokens::*;
