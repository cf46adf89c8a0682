//! Database configuration (`[database]` in the configuration file).

use serde::{Deserialize, Serialize};

/// The `[database]` section of the renhice configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `postgres://…`/`postgresql://…` for PostgreSQL, `sqlite://PATH` for SQLite.
    /// `sqlite://PATH` opens an existing file only; `?mode=rwc` allows creating it.
    pub url: String,
    /// Maximum number of pooled connections.
    pub pool_size: u32,
    /// Seconds to wait for a free pooled connection (and to connect) before failing: short
    /// (3 by default), so that during an outage a request is answered 503 soon.
    pub connect_timeout_secs: u64,
    /// SQLite only: milliseconds a writer waits for a lock before giving up.
    pub sqlite_busy_timeout_ms: u32,
}

impl DatabaseConfig {
    /// The zero-setup default: an SQLite file `renhice.db` in the working directory,
    /// created on first start.
    pub const DEFAULT_URL: &'static str = "sqlite://renhice.db?mode=rwc";
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: Self::DEFAULT_URL.to_owned(),
            pool_size: 8,
            connect_timeout_secs: 3,
            sqlite_busy_timeout_ms: 5_000,
        }
    }
}
