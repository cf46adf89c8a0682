//! Errors of the storage layer.

use std::path::PathBuf;

/// Everything that can go wrong between renhice and its database.
///
/// Configuration mistakes (a mistyped URL, a missing SQLite file) have their own variants
/// so that an operator sees exactly what to fix; database failures keep diesel's error as
/// the source.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database URL could not be understood.
    #[error("invalid database URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as configured, with any password masked.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The URL names a backend this build was compiled without.
    #[error(
        "database backend `{backend}` is not compiled into this build (enable the `{backend}` feature)"
    )]
    BackendNotCompiled {
        /// `postgres` or `sqlite`.
        backend: &'static str,
    },
    /// An SQLite database file that should exist does not; renhice never silently creates
    /// an empty database in place of a mistyped path.
    #[error(
        "SQLite database {path:?} does not exist; check the path, or add `?mode=rwc` to the URL to create a new database there"
    )]
    SqliteFileMissing {
        /// The path that was looked for.
        path: PathBuf,
    },
    /// The directory that should hold a new SQLite database does not exist.
    #[error("cannot create SQLite database {path:?}: directory {dir:?} does not exist")]
    SqliteDirectoryMissing {
        /// The database path.
        path: PathBuf,
        /// Its missing parent directory.
        dir: PathBuf,
    },
    /// A connection could not be established.
    #[error("cannot connect to the {backend} database: {source}")]
    Connect {
        /// The backend that refused.
        backend: crate::backend::Backend,
        /// The cause.
        #[source]
        source: diesel::ConnectionError,
    },
    /// No pooled connection became free in time, or the pool could not open one.
    #[error("no database connection available: {0}")]
    Pool(#[from] r2d2::Error),
    /// Applying the embedded migrations failed.
    #[error("applying database migrations failed: {0}")]
    Migration(String),
    /// The schema in the database is newer or different from what this build knows.
    #[error("database schema is not what this build expects: {0}")]
    SchemaMismatch(String),
    /// The database answers but takes no writes (a read-only or standby PostgreSQL, a
    /// read-only SQLite file): nothing could be stored or audited.
    #[error("the database takes no writes: {0}")]
    NotWritable(String),
    /// A query failed.
    #[error("database query failed: {0}")]
    Query(#[from] diesel::result::Error),
    /// A version-aware update named a version that is not the current one.
    #[error("{resource_type}/{id} is at version {current}, not {expected}")]
    VersionConflict {
        /// Resource type.
        resource_type: String,
        /// Logical id.
        id: String,
        /// The version the caller expected.
        expected: i64,
        /// The version actually stored.
        current: i64,
    },
    /// Another current resource already holds a business key the write claims (the same
    /// identity document on a second patient, say).
    #[error("{resource_type}/{holder} already holds {key}")]
    UniqueKeyTaken {
        /// Resource type.
        resource_type: String,
        /// The key, e.g. `1|PER|45678912`.
        key: String,
        /// Logical id of the resource holding it.
        holder: String,
    },
    /// The blocking task running the database work panicked or was cancelled.
    #[error("database task did not complete: {0}")]
    Task(String),
}

impl StoreError {
    /// Whether the database is out of reach or takes no writes, rather than refusing
    /// this one request: no connection to be had, a connection lost mid-way (a restart,
    /// a failover), a read-only or standby server. Such a failure passes; the request may
    /// be repeated later.
    #[must_use]
    pub fn is_unavailable(&self) -> bool {
        use diesel::result::{DatabaseErrorKind, Error};
        match self {
            Self::Pool(_)
            | Self::Connect { .. }
            | Self::NotWritable(_)
            | Self::Query(Error::DatabaseError(
                DatabaseErrorKind::ClosedConnection
                | DatabaseErrorKind::UnableToSendCommand
                | DatabaseErrorKind::ReadOnlyTransaction,
                _,
            )) => true,
            // libpq's words when the server went away under a statement, which diesel
            // files as unknown.
            Self::Query(Error::DatabaseError(DatabaseErrorKind::Unknown, info)) => {
                let message = info.message();
                [
                    "no connection to the server",
                    "server closed the connection",
                    "terminating connection",
                    "connection has been closed",
                    "SSL connection has been closed",
                    "could not receive data from server",
                ]
                .iter()
                .any(|words| message.contains(words))
                    || message.contains("read-only transaction")
            }
            _ => false,
        }
    }
}
