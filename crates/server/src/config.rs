//! HTTP server configuration (`[server]` in the configuration file).

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

/// The `[server]` section of the renhice configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address and port to listen on. The default is loopback only: exposing the registry
    /// beyond this machine is a deliberate act.
    pub listen: SocketAddr,
    /// HTTP worker threads; 0 means one per CPU core.
    pub workers: usize,
    /// Seconds in-flight requests get to finish after a shutdown signal.
    pub shutdown_timeout_secs: u64,
    /// Largest accepted request body, in bytes; a larger one is a 413.
    pub max_body_bytes: usize,
    /// Most entries in a transaction or batch Bundle; more is a 400 naming `Bundle.entry`.
    pub max_bundle_entries: usize,
    /// Seconds `/readyz` waits for the database before reporting it unavailable.
    pub readiness_timeout_secs: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            workers: 0,
            shutdown_timeout_secs: 30,
            max_body_bytes: 16 * 1024 * 1024,
            max_bundle_entries: 1000,
            readiness_timeout_secs: 5,
        }
    }
}
