//! Test support for renhice: every test gets a database of its own.
//!
//! - [`TestDb::postgres`] creates a fresh PostgreSQL database on the server named by
//!   `RENHICE_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`)
//!   and drops it when the value is dropped, so tests run in parallel without seeing
//!   each other. If no PostgreSQL can be reached the test **fails** with instructions;
//!   it never skips.
//! - [`TestDb::sqlite`] makes a temporary directory for an SQLite file, removed on drop.
//! - [`backend_tests!`] writes one test per backend for each async test function it names,
//!   `<test>::postgres` and `<test>::sqlite`, so the output shows what ran where.
//! - `pki` (feature `pki`): a test PKI for the signature verifier.
//! - [`judge_python`]: a Python environment for the independent judges (pyca/cryptography,
//!   pyHanko), from pinned, hashed requirements.

#![allow(
    clippy::missing_panics_doc,
    reason = "test support: panicking is how it reports"
)]
#![allow(
    clippy::expect_used,
    reason = "test support: a failed set-up must stop the test"
)]

#[cfg(feature = "pki")]
pub mod pki;
mod python;
#[cfg(feature = "sihce")]
pub mod sihce;

pub use python::{judge_python, pyhanko};

use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};

use diesel::{Connection, PgConnection, RunQueryDsl};

/// Environment variable naming the PostgreSQL server tests create their databases on.
pub const POSTGRES_URL_VAR: &str = "RENHICE_TEST_POSTGRES_URL";

/// The server used when [`POSTGRES_URL_VAR`] is not set.
pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A database that exists for one test only.
pub enum TestDb {
    /// A PostgreSQL database created for this test.
    Postgres {
        /// URL of the test database.
        url: String,
        /// Its name.
        name: String,
        /// URL of the maintenance database used to create and drop it.
        admin_url: String,
    },
    /// An SQLite file in a temporary directory.
    Sqlite {
        /// `sqlite://…?mode=rwc` URL of the file.
        url: String,
        /// The directory, removed on drop.
        dir: tempfile::TempDir,
    },
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// URL of the PostgreSQL server tests use.
#[must_use]
pub fn postgres_server_url() -> String {
    std::env::var(POSTGRES_URL_VAR).unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned())
}

/// Opens a connection to the maintenance database, failing the test loudly if there is
/// no PostgreSQL to be had.
#[must_use]
pub fn postgres_admin_connection() -> PgConnection {
    let url = postgres_server_url();
    PgConnection::establish(&url).unwrap_or_else(|e| {
        panic!(
            "cannot reach PostgreSQL at {url}: {e}\n\
             The PostgreSQL tests never skip. Run the test suite with scripts/test, which finds \
             or starts a server, or set {POSTGRES_URL_VAR} to a server where this user may \
             create databases."
        )
    })
}

/// Replaces the database name (the path) of a PostgreSQL URL.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let base = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

impl TestDb {
    /// A fresh, empty PostgreSQL database.
    #[must_use]
    pub fn postgres() -> Self {
        let admin_url = postgres_server_url();
        let name = format!(
            "renhice_test_{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos())
        );
        let mut conn = postgres_admin_connection();
        diesel::sql_query(format!("CREATE DATABASE \"{name}\""))
            .execute(&mut conn)
            .unwrap_or_else(|e| panic!("cannot create test database {name} on {admin_url}: {e}"));
        Self::Postgres {
            url: with_database(&admin_url, &name),
            name,
            admin_url,
        }
    }

    /// A fresh SQLite database file (created on first connection).
    #[must_use]
    pub fn sqlite() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("renhice-test-")
            .tempdir()
            .expect("cannot create a temporary directory for the SQLite test database");
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("renhice.db").display()
        );
        Self::Sqlite { url, dir }
    }

    /// The database URL to give renhice.
    #[must_use]
    pub fn url(&self) -> &str {
        match self {
            Self::Postgres { url, .. } | Self::Sqlite { url, .. } => url,
        }
    }

    /// `postgres` or `sqlite`.
    #[must_use]
    pub fn backend_name(&self) -> &'static str {
        match self {
            Self::Postgres { .. } => "postgres",
            Self::Sqlite { .. } => "sqlite",
        }
    }

    /// Drops a PostgreSQL test database now, terminating its connections: the database
    /// is "gone" as far as a running server is concerned. A no-op for SQLite.
    pub fn drop_now(&self) {
        if let Self::Postgres {
            name, admin_url, ..
        } = self
            && let Ok(mut conn) = PgConnection::establish(admin_url)
        {
            let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .execute(&mut conn);
        }
    }
}

impl TestDb {
    /// Ends every session connected to a PostgreSQL test database, as a server restart or
    /// a failover would, and leaves the database in place. A no-op for SQLite.
    pub fn disconnect_all(&self) {
        if let Self::Postgres {
            name, admin_url, ..
        } = self
            && let Ok(mut conn) = PgConnection::establish(admin_url)
        {
            let _ = diesel::sql_query(format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
            ))
            .execute(&mut conn);
        }
    }
}

impl TestDb {
    /// Makes a PostgreSQL test database take no writes (`on`), as a standby or a
    /// database put in read-only mode would, or takes it back, and ends its sessions so
    /// that the next connections have the setting. Returns whether it could (SQLite has
    /// no such switch that binds every connection).
    #[must_use]
    pub fn set_read_only(&self, on: bool) -> bool {
        let Self::Postgres {
            name, admin_url, ..
        } = self
        else {
            return false;
        };
        let Ok(mut conn) = PgConnection::establish(admin_url) else {
            return false;
        };
        let done = diesel::sql_query(format!(
            "ALTER DATABASE \"{name}\" SET default_transaction_read_only = {}",
            if on { "on" } else { "off" }
        ))
        .execute(&mut conn)
        .is_ok();
        self.disconnect_all();
        done
    }
}

/// One row of the PostgreSQL snapshot query.
#[derive(diesel::QueryableByName)]
struct Dumped {
    #[diesel(sql_type = diesel::sql_types::Text)]
    dump: String,
}

impl TestDb {
    /// Everything the database holds but its audit trail, for comparing before and after
    /// a request that must change nothing (a refused request still adds its audit
    /// events, which the audit tests check on their own).
    ///
    /// Every row of every table as text, sorted, table by table; left out are the
    /// `audit_*` tables and the counters both backends advance even in rolled-back
    /// transactions (PostgreSQL sequences, by design; SQLite's `sqlite_sequence`, for
    /// the audit trail's key). The pages on disk cannot be compared: an aborted
    /// transaction leaves dead tuples on PostgreSQL, and the audit rows share pages with
    /// the rest on SQLite.
    #[must_use]
    pub fn snapshot(&self) -> Vec<u8> {
        match self {
            Self::Postgres { url, .. } => {
                let mut conn =
                    PgConnection::establish(url).expect("cannot connect to the test database");
                let tables: Vec<Dumped> = diesel::sql_query(
                    "SELECT table_name::text AS dump FROM information_schema.tables \
                     WHERE table_schema = 'public' AND table_type = 'BASE TABLE' \
                     AND table_name NOT LIKE 'audit\\_%' ORDER BY 1",
                )
                .load(&mut conn)
                .expect("cannot list the tables");
                let mut out = Vec::new();
                for table in tables {
                    let rows: Vec<Dumped> = diesel::sql_query(format!(
                        "SELECT COALESCE(string_agg(t::text, E'\\n' ORDER BY t::text), '') AS dump \
                         FROM \"{}\" t",
                        table.dump
                    ))
                    .load(&mut conn)
                    .expect("cannot read a table");
                    out.extend(format!("== {}\n", table.dump).bytes());
                    for row in rows {
                        out.extend(row.dump.bytes());
                    }
                    out.push(b'\n');
                }
                out
            }
            Self::Sqlite { dir, .. } => {
                let file = dir.path().join("renhice.db");
                let mut conn = diesel::SqliteConnection::establish(&file.display().to_string())
                    .expect("cannot open the SQLite test database");
                let tables: Vec<Dumped> = diesel::sql_query(
                    "SELECT name AS dump FROM sqlite_master WHERE type = 'table' \
                     AND name NOT LIKE 'audit\\_%' ESCAPE '\\' AND name != 'sqlite_sequence' ORDER BY 1",
                )
                .load(&mut conn)
                .expect("cannot list the tables");
                let mut out = Vec::new();
                for table in tables {
                    let columns: Vec<Dumped> = diesel::sql_query(format!(
                        "SELECT name AS dump FROM pragma_table_info('{}') ORDER BY cid",
                        table.dump
                    ))
                    .load(&mut conn)
                    .expect("cannot list the columns");
                    let row = columns
                        .iter()
                        .map(|c| format!("quote(\"{}\")", c.dump))
                        .collect::<Vec<_>>()
                        .join(" || '|' || ");
                    let rows: Vec<Dumped> = diesel::sql_query(format!(
                        "SELECT {row} AS dump FROM \"{}\" ORDER BY 1",
                        table.dump
                    ))
                    .load(&mut conn)
                    .expect("cannot read a table");
                    out.extend(format!("== {}\n", table.dump).bytes());
                    for row in rows {
                        out.extend(row.dump.bytes());
                        out.push(b'\n');
                    }
                }
                out
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        self.drop_now();
    }
}

/// Runs an async test body on a multi-threaded tokio runtime (used by [`backend_tests!`]).
pub fn block_on<F: Future<Output = ()>>(future: F) {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("cannot build the test runtime")
        .block_on(future);
}

/// Writes one test per database backend for each async test function named.
///
/// The tests are ordinary functions taking a [`TestDb`], so rustfmt and the compiler see
/// their bodies as they see any other code; the macro only adds the per-backend wrappers:
///
/// ```text
/// async fn migrates_from_empty(db: TestDb) {
///     let store = Store::connect(&config(db.url())).await.unwrap();
///     …
/// }
///
/// renhice_testing::backend_tests!(migrates_from_empty, …);
/// ```
///
/// expands to `migrates_from_empty::postgres` and `migrates_from_empty::sqlite`, each gated
/// on the calling crate's `postgres` / `sqlite` feature.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[cfg(feature = "postgres")]
                #[test]
                fn postgres() {
                    $crate::block_on(super::$name($crate::TestDb::postgres()));
                }

                #[cfg(feature = "sqlite")]
                #[test]
                fn sqlite() {
                    $crate::block_on(super::$name($crate::TestDb::sqlite()));
                }
            }
        )+
    };
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn replaces_the_database_name() {
        assert_eq!(
            with_database("postgres://u@h:5432/postgres", "t1"),
            "postgres://u@h:5432/t1"
        );
        assert_eq!(with_database("postgres://u@h", "t1"), "postgres://u@h/t1");
        assert_eq!(
            with_database("postgresql://u@h/db?sslmode=disable", "t1"),
            "postgresql://u@h/t1?sslmode=disable"
        );
    }
}
