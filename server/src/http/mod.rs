//! The HTTP layer every API family stands on: the extractors, the
//! error answer, authentication, rate limits, metrics and middleware. It knows no family.

pub mod answer;
pub mod auth;
pub mod error;
pub mod extract;
pub mod figures;
pub mod limits;
pub mod metrics;
pub mod middleware;
