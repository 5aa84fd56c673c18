//! licet's JSON error: every refusal of the native API has this body.

use serde::{Deserialize, Serialize};

/// The error body.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// A stable code and a human message.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorDetail {
    /// Stable machine code (`invalid_field`, `too_many_machines`, …).
    pub code: String,
    /// Human-readable message.
    pub message: String,
}
