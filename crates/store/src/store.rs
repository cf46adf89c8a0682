//! [`Store`]: the pool, start-up (connect and migrate) and running work off the HTTP threads.

use std::time::Duration;

use crate::connection::Manager;
use crate::{Backend, DatabaseConfig, DatabaseUrl, DbConnection, StoreError, migrations};

/// A handle on the database: cheap to clone, shared by all request handlers.
#[derive(Clone)]
pub struct Store {
    pool: r2d2::Pool<Manager>,
    backend: Backend,
    url: DatabaseUrl,
}

/// A snapshot of the connection pool, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStatus {
    /// Connections currently open.
    pub connections: u32,
    /// Open connections not in use.
    pub idle: u32,
    /// The most connections the pool will open.
    pub max_size: u32,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .field("url", &self.url)
            .field("pool", &self.pool_status())
            .finish()
    }
}

impl Store {
    /// Checks the URL, opens the database, applies pending migrations and builds the pool.
    ///
    /// The first connection is opened directly rather than through the pool so that a
    /// wrong URL, a missing SQLite file or a refused login is reported as itself instead of
    /// as a pool time-out.
    pub async fn connect(config: &DatabaseConfig) -> Result<Self, StoreError> {
        let config = config.clone();
        // A server keeps one connection ready.
        blocking(move || Self::open(&config, 1)).await
    }

    /// [`Store::connect`] for callers outside an async runtime (command-line tools that
    /// run and exit). The pool opens a connection only when one is asked for: a pool
    /// that keeps one idle opens the next on a thread of its own while the tool works,
    /// and a process that exits while a thread is opening a PostgreSQL connection can
    /// crash in libpq's clean-up (seen as a SIGSEGV of `renhice audit verify` after it
    /// had printed its verdict).
    pub fn connect_blocking(config: &DatabaseConfig) -> Result<Self, StoreError> {
        Self::open(config, 0)
    }

    fn open(config: &DatabaseConfig, min_idle: u32) -> Result<Self, StoreError> {
        let url = DatabaseUrl::parse(&config.url)?;
        let mut first = DbConnection::open(&url, config.sqlite_busy_timeout_ms)?;
        let ran = migrations::run_pending(&mut first)?;
        if ran.is_empty() {
            tracing::debug!(database = %url, "database schema is up to date");
        } else {
            tracing::info!(database = %url, migrations = ?ran, "applied database migrations");
        }
        drop(first);
        let manager = Manager {
            url: url.clone(),
            sqlite_busy_timeout_ms: config.sqlite_busy_timeout_ms,
        };
        let pool = r2d2::Pool::builder()
            .max_size(config.pool_size.max(1))
            .min_idle(Some(min_idle))
            .connection_timeout(Duration::from_secs(config.connect_timeout_secs.max(1)))
            // No `SELECT 1` before every use: it was a fifth of the database work of a
            // record-locations query. A connection the server dropped (restart,
            // failover) fails the one request that meets it, and diesel then reports it
            // broken, so the pool replaces it (tested).
            .test_on_check_out(false)
            .build_unchecked(manager);
        Ok(Self {
            pool,
            backend: url.backend(),
            url,
        })
    }

    /// The backend behind this store.
    #[must_use]
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The database URL, with any password masked.
    #[must_use]
    pub fn display_url(&self) -> String {
        self.url.to_string()
    }

    /// Runs database work on a pooled connection, on tokio's blocking thread pool.
    ///
    /// Diesel is synchronous; running it here keeps the async HTTP workers free while a
    /// query waits on the network or on a lock.
    pub async fn run<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T, StoreError> + Send + 'static,
    {
        let pool = self.pool.clone();
        blocking(move || {
            let mut conn = pool.get()?;
            work(&mut conn)
        })
        .await
    }

    /// [`Store::run`] for callers outside an async runtime (command-line tools): the
    /// work runs on the calling thread.
    pub fn run_blocking<T>(
        &self,
        work: impl FnOnce(&mut DbConnection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self.pool.get()?;
        work(&mut conn)
    }

    /// Readiness: the database answers, its schema is exactly the one this build
    /// migrates to, and it takes writes (a read-only or standby database is not ready:
    /// every request writes its audit event).
    pub async fn check_ready(&self) -> Result<(), StoreError> {
        self.run(|conn| {
            let applied = migrations::applied_migrations(conn)?;
            let expected = migrations::expected_migrations();
            if applied != expected {
                return Err(StoreError::SchemaMismatch(format!(
                    "applied migrations {applied:?}, expected {expected:?}"
                )));
            }
            check_writable(conn)
        })
        .await
    }

    /// The pool's current state.
    #[must_use]
    pub fn pool_status(&self) -> PoolStatus {
        let state = self.pool.state();
        PoolStatus {
            connections: state.connections,
            idle: state.idle_connections,
            max_size: self.pool.max_size(),
        }
    }
}

/// Whether the database takes writes now: PostgreSQL says whether this session's
/// transactions are read-only (a standby, or a database put in read-only mode). Asked,
/// not tried: a probe that wrote would queue behind the writers it is meant to vouch for
/// (an index backfill holds its row for minutes). SQLite has no such state.
#[cfg_attr(
    not(feature = "postgres"),
    allow(
        clippy::unnecessary_wraps,
        reason = "the answer is PostgreSQL's; a build for SQLite alone always says yes"
    )
)]
fn check_writable(conn: &mut DbConnection) -> Result<(), StoreError> {
    match conn {
        #[cfg(feature = "postgres")]
        DbConnection::Pg(pg) => {
            use diesel::RunQueryDsl as _;
            #[derive(diesel::QueryableByName)]
            struct Setting {
                #[diesel(sql_type = diesel::sql_types::Text)]
                transaction_read_only: String,
            }
            let setting: Setting =
                diesel::sql_query("SHOW transaction_read_only").get_result(pg)?;
            if setting.transaction_read_only == "on" {
                Err(StoreError::NotWritable(
                    "PostgreSQL's transactions are read-only (a standby, or \
                     default_transaction_read_only)"
                        .to_owned(),
                ))
            } else {
                Ok(())
            }
        }
        #[cfg(feature = "sqlite")]
        DbConnection::Sqlite(_) => Ok(()),
    }
}

async fn blocking<T, F>(work: F) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, StoreError> + Send + 'static,
{
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| StoreError::Task(e.to_string()))?
}
