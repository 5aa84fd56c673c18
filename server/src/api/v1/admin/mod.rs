//! Admin resources: products, policies, machines, API keys, minted JWTs and the audit log.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use licet_api::requests::{CreateApiKey, CreatePolicy, CreateProduct, UpdateProduct};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::body::{MachineBody, PolicyBody, ProductBody};
use crate::app::caller::Caller;
use crate::app::error::{ApiError, ApiResult};
use crate::app::state::AppState;
use crate::http::extract::{Body, ClientIp, OptionalBody, Q, page_limit};

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
