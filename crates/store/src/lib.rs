//! Storage for renhice: the only crate that knows SQL.
//!
//! One connection type ([`DbConnection`], a diesel `MultiConnection`) serves PostgreSQL
//! (production) and SQLite (the embedded zero-setup default); the backend is chosen from
//! the scheme of the database URL ([`DatabaseUrl`]). Connections come from an r2d2 pool
//! and every piece of database work runs on tokio's blocking thread pool
//! ([`Store::run`]), so diesel's synchronous calls never stall an HTTP worker thread.
//!
//! Migrations for both backends are embedded in the binary and applied by
//! [`Store::connect`]; the two trees under `migrations/` carry identical names.

/// Runs a statement on the concrete connection: diesel offers batch inserts and
/// upserts (`ON CONFLICT`) on each backend, not through the `MultiConnection` enum.
macro_rules! on_backend {
    ($conn:expr, $statement:expr) => {
        match $conn {
            #[cfg(feature = "postgres")]
            DbConnection::Pg(c) => $statement.execute(c),
            #[cfg(feature = "sqlite")]
            DbConnection::Sqlite(c) => $statement.execute(c),
        }
    };
}

pub mod accreditation;
pub mod audit;
mod backend;
pub mod clients;
mod config;
mod connection;
pub mod consents;
mod error;
mod migrations;
pub mod records;
pub mod reindex;
pub mod resources;
mod rows;
pub mod schema;
pub mod search;
pub mod sign_in;
mod store;
mod timestamp;
mod url;

pub use backend::Backend;
pub use config::DatabaseConfig;
pub use connection::DbConnection;
pub use error::StoreError;
pub use migrations::{applied_migrations, expected_migrations};
pub use store::{PoolStatus, Store};
pub use timestamp::Timestamp;
pub use url::DatabaseUrl;

#[cfg(not(any(feature = "postgres", feature = "sqlite")))]
compile_error!(
    "renhice-store needs at least one database backend: enable `postgres` and/or `sqlite`"
);
