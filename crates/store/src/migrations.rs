//! Embedded migrations for both backends, applied at start-up.

use diesel::{QueryDsl, RunQueryDsl};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::{DbConnection, StoreError};

#[cfg(feature = "postgres")]
const POSTGRES: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");
#[cfg(feature = "sqlite")]
const SQLITE: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");

diesel::table! {
    /// diesel's bookkeeping table of applied migrations.
    __diesel_schema_migrations (version) {
        version -> Text,
        run_on -> Timestamp,
    }
}

/// The migration versions this build carries, oldest first (both trees have the same).
#[must_use]
pub fn expected_migrations() -> Vec<String> {
    #[cfg(feature = "postgres")]
    let versions = versions::<diesel::pg::Pg>(&POSTGRES);
    #[cfg(not(feature = "postgres"))]
    let versions = versions::<diesel::sqlite::Sqlite>(&SQLITE);
    versions
}

fn versions<B: diesel::backend::Backend>(migrations: &EmbeddedMigrations) -> Vec<String>
where
    EmbeddedMigrations: diesel::migration::MigrationSource<B>,
{
    let mut versions: Vec<String> = diesel::migration::MigrationSource::<B>::migrations(migrations)
        .map(|ms| ms.iter().map(|m| m.name().version().to_string()).collect())
        .unwrap_or_default();
    versions.sort();
    versions
}

/// The migration versions recorded in the database, oldest first.
pub fn applied_migrations(conn: &mut DbConnection) -> Result<Vec<String>, StoreError> {
    Ok(__diesel_schema_migrations::table
        .select(__diesel_schema_migrations::version)
        .order(__diesel_schema_migrations::version)
        .load(conn)?)
}

/// Applies every pending migration, refusing a database that a newer build migrated.
pub(crate) fn run_pending(conn: &mut DbConnection) -> Result<Vec<String>, StoreError> {
    match conn {
        #[cfg(feature = "postgres")]
        DbConnection::Pg(c) => check_then_run(c, POSTGRES),
        #[cfg(feature = "sqlite")]
        DbConnection::Sqlite(c) => check_then_run(c, SQLITE),
    }
}

fn check_then_run<C>(
    conn: &mut C,
    migrations: EmbeddedMigrations,
) -> Result<Vec<String>, StoreError>
where
    C: MigrationHarness<C::Backend> + diesel::Connection,
    EmbeddedMigrations: diesel::migration::MigrationSource<C::Backend>,
{
    let known: Vec<String> =
        diesel::migration::MigrationSource::<C::Backend>::migrations(&migrations)
            .map_err(|e| StoreError::Migration(e.to_string()))?
            .iter()
            .map(|m| m.name().version().to_string())
            .collect();
    let applied = conn
        .applied_migrations()
        .map_err(|e| StoreError::Migration(e.to_string()))?;
    let unknown: Vec<String> = applied
        .iter()
        .map(ToString::to_string)
        .filter(|v| !known.contains(v))
        .collect();
    if !unknown.is_empty() {
        return Err(StoreError::SchemaMismatch(format!(
            "the database has migrations this build does not know ({}); it was migrated by a newer renhice",
            unknown.join(", ")
        )));
    }
    let ran = conn
        .run_pending_migrations(migrations)
        .map_err(|e| StoreError::Migration(e.to_string()))?;
    Ok(ran.iter().map(ToString::to_string).collect())
}
