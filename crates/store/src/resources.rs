//! FHIR resources: current state, every version, and extracted search parameters.
//!
//! Writes are optimistic and race-free without search-then-insert: version 1 is an insert
//! that the `(resource_type, id)` unique key lets only one writer win, and version *n* is
//! an update conditioned on the row still being at version *n − 1*. The loser of a race
//! gets [`StoreError::VersionConflict`], never a silent overwrite.

use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

use crate::schema::{
    resource_versions, resources, search_dates, search_references, search_strings, search_tokens,
    unique_keys,
};
use crate::{DbConnection, StoreError};

/// One stored version of a resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResource {
    /// FHIR resource type, e.g. `Patient`.
    pub resource_type: String,
    /// Logical id.
    pub id: String,
    /// `meta.versionId`, counting from 1.
    pub version_id: i64,
    /// `meta.lastUpdated`, microseconds since the Unix epoch (UTC).
    pub last_updated: i64,
    /// Whether this version is a deletion.
    pub deleted: bool,
    /// The resource JSON; `None` for a deletion.
    pub body: Option<String>,
}

/// A token search value (`system|code`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenEntry {
    /// Search parameter code, e.g. `identifier`.
    pub param: String,
    /// Code system or identifier system, if any.
    pub system: Option<String>,
    /// The code or identifier value.
    pub code: String,
}

/// A string search value, already normalised by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StringEntry {
    /// Search parameter code, e.g. `family`.
    pub param: String,
    /// Normalised value.
    pub value: String,
}

/// A date search value as the range its precision implies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DateEntry {
    /// Search parameter code, e.g. `date`.
    pub param: String,
    /// First microsecond of the range.
    pub low: i64,
    /// Last microsecond of the range.
    pub high: i64,
}

/// A reference search value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferenceEntry {
    /// Search parameter code, e.g. `subject`.
    pub param: String,
    /// Target resource type.
    pub target_type: String,
    /// Target logical id.
    pub target_id: String,
}

/// Everything extracted from one version of a resource for searching.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchIndex {
    /// Token values.
    pub tokens: Vec<TokenEntry>,
    /// String values.
    pub strings: Vec<StringEntry>,
    /// Date ranges.
    pub dates: Vec<DateEntry>,
    /// References.
    pub references: Vec<ReferenceEntry>,
}

/// A new version to write.
#[derive(Debug, Clone)]
pub struct NewVersion<'a> {
    /// FHIR resource type.
    pub resource_type: &'a str,
    /// Logical id.
    pub id: &'a str,
    /// The version being written: 1 creates the resource, *n* updates version *n − 1*.
    pub version_id: i64,
    /// `meta.lastUpdated` of the new version, microseconds since the Unix epoch.
    pub last_updated: i64,
    /// The resource JSON, or `None` to record a deletion.
    pub body: Option<&'a str>,
    /// Search values of the new version (ignored for a deletion).
    pub index: &'a SearchIndex,
    /// Business keys the new version holds, unique among the current resources of its
    /// type (a patient's identity documents, an IPRESS's RENIPRESS code); they replace
    /// the previous version's keys. Ignored for a deletion, which releases them.
    pub unique_keys: &'a [String],
}

/// Why the transaction of [`write_version`] was rolled back.
enum WriteFailure {
    /// The stored version is not the one the write builds on.
    Stale,
    /// Another resource already holds this key.
    KeyTaken(String),
    Db(DieselError),
}

impl From<DieselError> for WriteFailure {
    fn from(e: DieselError) -> Self {
        Self::Db(e)
    }
}

/// Writes a new version of a resource, its history row, its search index and its unique
/// keys, atomically: a stale version or a key another resource holds rolls back all of it.
pub fn write_version(conn: &mut DbConnection, new: &NewVersion<'_>) -> Result<(), StoreError> {
    let attempt = conn.transaction::<_, WriteFailure, _>(|conn| {
        let deleted = new.body.is_none();
        let pk = if new.version_id == 1 {
            let inserted = diesel::insert_into(resources::table)
                .values((
                    resources::resource_type.eq(new.resource_type),
                    resources::id.eq(new.id),
                    resources::version_id.eq(1_i64),
                    resources::last_updated.eq(new.last_updated),
                    resources::deleted.eq(deleted),
                ))
                .execute(conn);
            match inserted {
                Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => {
                    return Err(WriteFailure::Stale);
                }
                other => other?,
            };
            lookup_pk(conn, new.resource_type, new.id)?.ok_or(DieselError::NotFound)?
        } else {
            let updated = diesel::update(
                resources::table
                    .filter(resources::resource_type.eq(new.resource_type))
                    .filter(resources::id.eq(new.id))
                    .filter(resources::version_id.eq(new.version_id - 1)),
            )
            .set((
                resources::version_id.eq(new.version_id),
                resources::last_updated.eq(new.last_updated),
                resources::deleted.eq(deleted),
            ))
            .execute(conn)?;
            if updated == 0 {
                return Err(WriteFailure::Stale);
            }
            lookup_pk(conn, new.resource_type, new.id)?.ok_or(DieselError::NotFound)?
        };
        diesel::insert_into(resource_versions::table)
            .values((
                resource_versions::resource_pk.eq(pk),
                resource_versions::version_id.eq(new.version_id),
                resource_versions::last_updated.eq(new.last_updated),
                resource_versions::deleted.eq(deleted),
                resource_versions::body.eq(new.body),
            ))
            .execute(conn)?;
        replace_index(conn, pk, if deleted { &EMPTY_INDEX } else { new.index })?;
        replace_unique_keys(
            conn,
            pk,
            new.resource_type,
            if deleted { &[] } else { new.unique_keys },
        )?;
        Ok(())
    });
    match attempt {
        Ok(()) => Ok(()),
        Err(WriteFailure::Stale) => {
            let current = lookup_version(conn, new.resource_type, new.id)?.unwrap_or(0);
            Err(StoreError::VersionConflict {
                resource_type: new.resource_type.to_owned(),
                id: new.id.to_owned(),
                expected: new.version_id - 1,
                current,
            })
        }
        Err(WriteFailure::KeyTaken(key)) => {
            // Read after the rollback: on PostgreSQL the failed transaction could not.
            let holder = key_holder(conn, new.resource_type, &key)?.unwrap_or_default();
            Err(StoreError::UniqueKeyTaken {
                resource_type: new.resource_type.to_owned(),
                key,
                holder,
            })
        }
        Err(WriteFailure::Db(e)) => Err(e.into()),
    }
}

/// Writes several versions in one transaction: all of them, or none. A FHIR transaction
/// Bundle is one call. On failure, the position of the write that failed and why, so
/// the caller can name `Bundle.entry[i]`.
pub fn write_all(
    conn: &mut DbConnection,
    writes: &[NewVersion<'_>],
) -> Result<(), (usize, StoreError)> {
    enum Failure {
        At(usize, StoreError),
        Db(DieselError),
    }
    impl From<DieselError> for Failure {
        fn from(e: DieselError) -> Self {
            Self::Db(e)
        }
    }
    // Each write is a nested transaction (a savepoint): a failed one is rolled back to
    // its savepoint, which leaves the outer transaction usable on PostgreSQL for the
    // follow-up queries that explain the failure, and then everything is rolled back.
    let outcome = conn.transaction::<_, Failure, _>(|conn| {
        for (i, write) in writes.iter().enumerate() {
            write_version(conn, write).map_err(|e| Failure::At(i, e))?;
        }
        Ok(())
    });
    match outcome {
        Ok(()) => Ok(()),
        Err(Failure::At(i, e)) => Err((i, e)),
        Err(Failure::Db(e)) => Err((writes.len(), e.into())),
    }
}

fn replace_unique_keys(
    conn: &mut DbConnection,
    pk: i64,
    resource_type: &str,
    keys: &[String],
) -> Result<(), WriteFailure> {
    diesel::delete(unique_keys::table.filter(unique_keys::resource_pk.eq(pk))).execute(conn)?;
    for key in keys {
        let inserted = diesel::insert_into(unique_keys::table)
            .values((
                unique_keys::resource_type.eq(resource_type),
                unique_keys::key.eq(key),
                unique_keys::resource_pk.eq(pk),
            ))
            .execute(conn);
        match inserted {
            Ok(_) => {}
            Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => {
                return Err(WriteFailure::KeyTaken(key.clone()));
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// The logical id of the current resource of `resource_type` holding a unique `key`.
pub fn key_holder(
    conn: &mut DbConnection,
    resource_type: &str,
    key: &str,
) -> Result<Option<String>, StoreError> {
    Ok(unique_keys::table
        .inner_join(resources::table)
        .filter(unique_keys::resource_type.eq(resource_type))
        .filter(unique_keys::key.eq(key))
        .select(resources::id)
        .first(conn)
        .optional()?)
}

static EMPTY_INDEX: SearchIndex = SearchIndex {
    tokens: Vec::new(),
    strings: Vec::new(),
    dates: Vec::new(),
    references: Vec::new(),
};

fn lookup_pk(conn: &mut DbConnection, resource_type: &str, id: &str) -> QueryResult<Option<i64>> {
    resources::table
        .filter(resources::resource_type.eq(resource_type))
        .filter(resources::id.eq(id))
        .select(resources::pk)
        .first(conn)
        .optional()
}

/// The current version number of a resource, or `None` if it was never written.
pub fn lookup_version(
    conn: &mut DbConnection,
    resource_type: &str,
    id: &str,
) -> Result<Option<i64>, StoreError> {
    Ok(resources::table
        .filter(resources::resource_type.eq(resource_type))
        .filter(resources::id.eq(id))
        .select(resources::version_id)
        .first(conn)
        .optional()?)
}

/// Runs a multi-row `INSERT` on the concrete connection: diesel's batch inserts are not
/// available through the `MultiConnection` enum, but are on each backend.
macro_rules! batch {
    ($conn:expr, $statement:expr) => {
        match $conn {
            #[cfg(feature = "postgres")]
            DbConnection::Pg(c) => $statement.execute(c),
            #[cfg(feature = "sqlite")]
            DbConnection::Sqlite(c) => $statement.execute(c),
        }
    };
}

fn replace_index(conn: &mut DbConnection, pk: i64, index: &SearchIndex) -> QueryResult<()> {
    diesel::delete(search_tokens::table.filter(search_tokens::resource_pk.eq(pk))).execute(conn)?;
    diesel::delete(search_strings::table.filter(search_strings::resource_pk.eq(pk)))
        .execute(conn)?;
    diesel::delete(search_dates::table.filter(search_dates::resource_pk.eq(pk))).execute(conn)?;
    diesel::delete(search_references::table.filter(search_references::resource_pk.eq(pk)))
        .execute(conn)?;
    // One multi-row INSERT per table rather than one statement per value: a pushed
    // DocumentReference carries a dozen search values, and round trips dominate.
    if !index.tokens.is_empty() {
        let rows: Vec<_> = index
            .tokens
            .iter()
            .map(|t| {
                (
                    search_tokens::resource_pk.eq(pk),
                    search_tokens::param.eq(&t.param),
                    search_tokens::system.eq(t.system.as_deref()),
                    search_tokens::code.eq(&t.code),
                )
            })
            .collect();
        batch!(
            conn,
            diesel::insert_into(search_tokens::table).values(&rows)
        )?;
    }
    if !index.strings.is_empty() {
        let rows: Vec<_> = index
            .strings
            .iter()
            .map(|v| {
                (
                    search_strings::resource_pk.eq(pk),
                    search_strings::param.eq(&v.param),
                    search_strings::value.eq(&v.value),
                )
            })
            .collect();
        batch!(
            conn,
            diesel::insert_into(search_strings::table).values(&rows)
        )?;
    }
    if !index.dates.is_empty() {
        let rows: Vec<_> = index
            .dates
            .iter()
            .map(|d| {
                (
                    search_dates::resource_pk.eq(pk),
                    search_dates::param.eq(&d.param),
                    search_dates::low.eq(d.low),
                    search_dates::high.eq(d.high),
                )
            })
            .collect();
        batch!(conn, diesel::insert_into(search_dates::table).values(&rows))?;
    }
    if !index.references.is_empty() {
        let rows: Vec<_> = index
            .references
            .iter()
            .map(|r| {
                (
                    search_references::resource_pk.eq(pk),
                    search_references::param.eq(&r.param),
                    search_references::target_type.eq(&r.target_type),
                    search_references::target_id.eq(&r.target_id),
                )
            })
            .collect();
        batch!(
            conn,
            diesel::insert_into(search_references::table).values(&rows)
        )?;
    }
    Ok(())
}

type VersionRow = (i64, i64, bool, Option<String>);

fn to_stored(resource_type: &str, id: &str, row: VersionRow) -> StoredResource {
    let (version_id, last_updated, deleted, body) = row;
    StoredResource {
        resource_type: resource_type.to_owned(),
        id: id.to_owned(),
        version_id,
        last_updated,
        deleted,
        body,
    }
}

/// The current version of a resource (which may be a deletion), or `None` if it was never
/// written.
pub fn read(
    conn: &mut DbConnection,
    resource_type: &str,
    id: &str,
) -> Result<Option<StoredResource>, StoreError> {
    let row: Option<VersionRow> = resources::table
        .inner_join(
            resource_versions::table.on(resource_versions::resource_pk
                .eq(resources::pk)
                .and(resource_versions::version_id.eq(resources::version_id))),
        )
        .filter(resources::resource_type.eq(resource_type))
        .filter(resources::id.eq(id))
        .select((
            resource_versions::version_id,
            resource_versions::last_updated,
            resource_versions::deleted,
            resource_versions::body,
        ))
        .first(conn)
        .optional()?;
    Ok(row.map(|r| to_stored(resource_type, id, r)))
}

/// One specific version of a resource (`vread`).
pub fn read_version(
    conn: &mut DbConnection,
    resource_type: &str,
    id: &str,
    version_id: i64,
) -> Result<Option<StoredResource>, StoreError> {
    let row: Option<VersionRow> = resource_versions::table
        .inner_join(resources::table)
        .filter(resources::resource_type.eq(resource_type))
        .filter(resources::id.eq(id))
        .filter(resource_versions::version_id.eq(version_id))
        .select((
            resource_versions::version_id,
            resource_versions::last_updated,
            resource_versions::deleted,
            resource_versions::body,
        ))
        .first(conn)
        .optional()?;
    Ok(row.map(|r| to_stored(resource_type, id, r)))
}

/// Every version of a resource, newest first (`_history`).
pub fn history(
    conn: &mut DbConnection,
    resource_type: &str,
    id: &str,
) -> Result<Vec<StoredResource>, StoreError> {
    let rows: Vec<VersionRow> = resource_versions::table
        .inner_join(resources::table)
        .filter(resources::resource_type.eq(resource_type))
        .filter(resources::id.eq(id))
        .order(resource_versions::version_id.desc())
        .select((
            resource_versions::version_id,
            resource_versions::last_updated,
            resource_versions::deleted,
            resource_versions::body,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|r| to_stored(resource_type, id, r))
        .collect())
}

/// Logical ids of current, not deleted resources of a type with the given token value.
pub fn find_by_token(
    conn: &mut DbConnection,
    resource_type: &str,
    param: &str,
    system: Option<&str>,
    code: &str,
) -> Result<Vec<String>, StoreError> {
    let mut query = resources::table
        .inner_join(search_tokens::table)
        .filter(resources::resource_type.eq(resource_type))
        .filter(resources::deleted.eq(false))
        .filter(search_tokens::param.eq(param))
        .filter(search_tokens::code.eq(code))
        .select(resources::id)
        .distinct()
        .into_boxed();
    if let Some(system) = system {
        query = query.filter(search_tokens::system.eq(system));
    }
    Ok(query.order(resources::id).load(conn)?)
}
