//! The renhice HTTP server: the only crate that knows HTTP.
//!
//! It serves the FHIR REST API under `/fhir` and the operational endpoints `/healthz`,
//! `/readyz` and `/metrics`. Every response to a failed request is a FHIR
//! `OperationOutcome` ([`ApiError`]); every request gets a request id (taken from a valid
//! incoming `X-Request-Id` or generated), echoed in the response and carried by every log
//! line written while handling it.

pub mod accreditation;
pub mod audit;
pub mod auth;
mod capability;
mod config;
mod error;
mod fhir;
mod health;
mod index_upgrades;
pub mod limits;
mod metrics;
pub mod observe;
mod routes;
mod server;
pub mod signatures;
mod state;
pub mod tls;
pub mod webapp;

/// The FHIR REST conventions middleware on its own, for its benchmark
/// (`benches/conventions.rs`); not an interface of the crate.
#[doc(hidden)]
pub mod conventions {
    pub use crate::fhir::conventions::{answer_format, apply};
}

pub use auth::{AuthConfig, Authority};
pub use config::ServerConfig;
pub use error::ApiError;
pub use metrics::Metrics;
pub use observe::RequestId;
pub use server::{RunningServer, start, start_on};
pub use state::AppState;

/// The renhice version serving requests.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
