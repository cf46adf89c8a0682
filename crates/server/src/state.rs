//! What every request handler shares.

use std::sync::Arc;

use renhice_store::Store;
use serde_json::Value;

use crate::audit::AuditWriter;
use crate::auth::authority::Authority;
use crate::config::ServerConfig;
use crate::limits::Limits;
use crate::metrics::Metrics;
use crate::signatures::Signatures;

/// What every request handler shares.
#[derive(Debug)]
pub struct AppState {
    /// The database.
    pub store: Store,
    /// The server configuration.
    pub config: ServerConfig,
    /// The token authority.
    pub auth: Authority,
    /// Metrics registry.
    pub metrics: Arc<Metrics>,
    /// The audit trail's writer.
    pub audit: AuditWriter,
    /// Rate limits per client.
    pub limits: Limits,
    /// The signature policy and verifier.
    pub signatures: Arc<Signatures>,
    /// People's sign-ins: the identity providers' client and sessions' liveness.
    pub sign_in: Arc<crate::auth::sessions::Sessions>,
    /// Accreditation runs started from the web app.
    pub accreditation: Arc<crate::accreditation::runners::Runners>,
    /// `GET /fhir/metadata`, built once at start-up.
    pub(crate) capability_statement: Value,
}
