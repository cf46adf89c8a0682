//! The one connection type over both backends, and how pooled connections are opened.

#[cfg(feature = "sqlite")]
use std::path::Path;

use diesel::connection::SimpleConnection;
use diesel::{Connection, RunQueryDsl};

use crate::backend::Backend;
use crate::error::StoreError;
use crate::url::DatabaseUrl;

/// A connection to either backend.
///
/// Queries written with diesel's DSL run on it unchanged; where the SQL dialects differ
/// (upserts, `RETURNING`), code matches on the variant.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    /// A PostgreSQL connection.
    #[cfg(feature = "postgres")]
    Pg(diesel::PgConnection),
    /// An SQLite connection.
    #[cfg(feature = "sqlite")]
    Sqlite(diesel::SqliteConnection),
}

impl DbConnection {
    /// The backend of this connection.
    #[must_use]
    pub fn backend(&self) -> Backend {
        match self {
            #[cfg(feature = "postgres")]
            Self::Pg(_) => Backend::Postgres,
            #[cfg(feature = "sqlite")]
            Self::Sqlite(_) => Backend::Sqlite,
        }
    }

    /// Opens a connection to the database the URL names, applying the per-connection
    /// settings renhice relies on.
    pub(crate) fn open(url: &DatabaseUrl, sqlite_busy_timeout_ms: u32) -> Result<Self, StoreError> {
        match url {
            #[cfg(feature = "postgres")]
            DatabaseUrl::Postgres(url) => open_postgres(url).map(Self::Pg),
            #[cfg(feature = "sqlite")]
            DatabaseUrl::Sqlite { path, create } => {
                open_sqlite(path, *create, sqlite_busy_timeout_ms).map(Self::Sqlite)
            }
            #[allow(
                unreachable_patterns,
                reason = "reachable when a backend is compiled out"
            )]
            other => {
                let _ = sqlite_busy_timeout_ms;
                Err(StoreError::BackendNotCompiled {
                    backend: other.backend().name(),
                })
            }
        }
    }

    /// A cheap round trip proving the connection works.
    pub(crate) fn ping(&mut self) -> Result<(), diesel::result::Error> {
        diesel::sql_query("SELECT 1").execute(self).map(drop)
    }
}

/// Opens a PostgreSQL connection.
#[cfg(feature = "postgres")]
fn open_postgres(url: &str) -> Result<diesel::PgConnection, StoreError> {
    let fail = |source| StoreError::Connect {
        backend: Backend::Postgres,
        source,
    };
    let mut conn = diesel::PgConnection::establish(url).map_err(fail)?;
    // diesel prepares each fixed statement once per connection. Left to itself
    // (`plan_cache_mode = auto`) PostgreSQL still plans a statement whose parameters are
    // arrays (`= ANY($1)`) or a recursive query afresh on every execution, because its
    // generic plan's *estimated* cost is higher than a custom plan's: at the target
    // slice, 40 % of the machine's CPU went to the planner during `$record-locations`.
    // Every such statement renhice prepares is an index lookup by key whose plan does
    // not depend on the values, so the generic plan is the right one. The setting also
    // governs the unnamed statements of searches (boxed and `sql_query` statements are
    // planned afresh each time, but still without their values): searches are written
    // so that their plans follow from their shape (`search.rs`).
    conn.batch_execute("SET plan_cache_mode = force_generic_plan")
        .map_err(|e| fail(diesel::ConnectionError::CouldntSetupConfiguration(e)))?;
    Ok(conn)
}

/// Opens an SQLite database without ever creating one that was not asked for.
#[cfg(feature = "sqlite")]
fn open_sqlite(
    path: &Path,
    create: bool,
    busy_timeout_ms: u32,
) -> Result<diesel::SqliteConnection, StoreError> {
    if !create && !path.exists() {
        return Err(StoreError::SqliteFileMissing {
            path: path.to_owned(),
        });
    }
    if create {
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        if !dir.is_dir() {
            return Err(StoreError::SqliteDirectoryMissing {
                path: path.to_owned(),
                dir: dir.to_owned(),
            });
        }
    }
    // A `file:` URI with an explicit mode makes SQLite itself refuse to create the file
    // (mode=rw), which also covers a file deleted between the check above and the open.
    let uri = format!(
        "file:{}?mode={}",
        uri_escape(&path.to_string_lossy()),
        if create { "rwc" } else { "rw" }
    );
    let mut conn =
        diesel::SqliteConnection::establish(&uri).map_err(|source| StoreError::Connect {
            backend: Backend::Sqlite,
            source,
        })?;
    // Per connection: enforce foreign keys, wait for locks instead of failing at once,
    // write-ahead logging so readers never block the writer, and FULL sync so that a
    // committed index entry survives a power cut (the registry must lose nothing).
    conn.batch_execute(&format!(
        "PRAGMA foreign_keys = ON;
         PRAGMA busy_timeout = {busy_timeout_ms};
         PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;"
    ))
    .map_err(|e| StoreError::Connect {
        backend: Backend::Sqlite,
        source: diesel::ConnectionError::CouldntSetupConfiguration(e),
    })?;
    Ok(conn)
}

/// Escapes the characters that have a meaning inside an SQLite `file:` URI.
#[cfg(feature = "sqlite")]
fn uri_escape(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        match c {
            '%' => out.push_str("%25"),
            '?' => out.push_str("%3F"),
            '#' => out.push_str("%23"),
            c => out.push(c),
        }
    }
    out
}

/// Opens pooled connections with [`DbConnection::open`].
///
/// diesel's own `ConnectionManager` would let the multi-connection try each backend in
/// turn; this one dispatches on the already checked URL instead, so a PostgreSQL URL can
/// never end up as an SQLite file name.
pub(crate) struct Manager {
    pub(crate) url: DatabaseUrl,
    pub(crate) sqlite_busy_timeout_ms: u32,
}

impl r2d2::ManageConnection for Manager {
    type Connection = DbConnection;
    type Error = StoreError;

    fn connect(&self) -> Result<DbConnection, StoreError> {
        DbConnection::open(&self.url, self.sqlite_busy_timeout_ms)
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), StoreError> {
        conn.ping().map_err(StoreError::Query)
    }

    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        // A connection left inside a broken transaction must not go back to the pool.
        diesel::r2d2::R2D2Connection::is_broken(conn)
    }
}

#[cfg(all(test, feature = "sqlite"))]
mod tests {
    use super::*;

    #[test]
    fn escapes_uri_characters() {
        assert_eq!(uri_escape("/tmp/a?b#c%d.db"), "/tmp/a%3Fb%23c%25d.db");
    }
}
