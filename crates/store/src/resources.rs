//! FHIR resources: current state, every version, and extracted search parameters.
//!
//! Writes are optimistic and race-free without search-then-insert: version 1 is an insert
//! that the `(resource_type, id)` unique key lets only one writer win, and version *n* is
//! an update conditioned on the row still being at version *n − 1*. The loser of a race
//! gets [`StoreError::VersionConflict`], never a silent overwrite.

use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

use crate::Timestamp;
use crate::rows::{
    CHUNK, DateRow, InsertChunked as _, RecordEntryRow, ReferenceRow, ResourceRow, StringRow,
    TokenRow, UniqueKeyRow, VersionRow,
};
use crate::schema::{
    record_entries, resource_versions, resources, search_dates, search_references, search_strings,
    search_tokens, unique_keys,
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
    /// `meta.lastUpdated`.
    pub last_updated: Timestamp,
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
    /// `meta.lastUpdated` of the new version.
    pub last_updated: Timestamp,
    /// The resource JSON, or `None` to record a deletion.
    pub body: Option<&'a str>,
    /// Search values of the new version (ignored for a deletion).
    pub index: &'a SearchIndex,
    /// Business keys the new version holds, unique among the current resources of its
    /// type (a patient's identity documents, an IPRESS's RENIPRESS code); they replace
    /// the previous version's keys. Ignored for a deletion, which releases them.
    pub unique_keys: &'a [String],
    /// The record entry of an index entry (a DocumentReference), replacing the previous
    /// version's; ignored for a deletion, which removes it.
    pub record: Option<&'a RecordEntry>,
    /// What a Consent grants (empty for every other resource, and for a Consent that is
    /// not active), replacing the previous version's grants; ignored for a deletion.
    pub grants: &'a [crate::consents::ConsentGrant],
}

/// What the registry answers "where are this patient's records?" from: one row per
/// index entry, kept beside its search values so that `$record-locations` is one
/// grouped query over one index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordEntry {
    /// The patient's logical id.
    pub patient_id: String,
    /// The custodian IPRESS's `Organization` logical id.
    pub custodian_id: String,
    /// `DocumentReference.status` (`current`, `superseded`, `entered-in-error`).
    pub status: String,
    /// `DocumentReference.date`, microseconds since the Unix epoch.
    pub date: Option<i64>,
    /// The document's type codings as a JSON array of `{system, code, display}`, in a
    /// form the writer keeps stable so that equal types group together.
    pub types: String,
    /// Labelled restricted or very restricted (`securityLabel` R or V).
    pub sensitive: bool,
}

/// Why the transaction of [`write_all`] was rolled back.
enum WriteFailure {
    /// The write at this position does not build on the stored version (or, for a
    /// creation, the resource exists already).
    Stale(usize),
    /// A created resource exists already; which one is found after the rollback.
    Collision,
    /// A unique key is already held; which write and by whom is found after the rollback.
    KeyTaken,
    Db(DieselError),
}

impl From<DieselError> for WriteFailure {
    fn from(e: DieselError) -> Self {
        Self::Db(e)
    }
}

/// Writes a new version of a resource, its history row, its search index, its unique
/// keys and its record entry, atomically: a stale version or a key another resource holds
/// rolls back all of it.
pub fn write_version(conn: &mut DbConnection, new: &NewVersion<'_>) -> Result<(), StoreError> {
    write_all(conn, std::slice::from_ref(new)).map_err(|(_, e)| e)
}

/// [`write_version`] with the audit events that record it, in one transaction.
pub fn write_version_audited(
    conn: &mut DbConnection,
    new: &NewVersion<'_>,
    audit: &[crate::audit::NewAuditEvent],
) -> Result<(), StoreError> {
    write_all_audited(conn, std::slice::from_ref(new), audit).map_err(|(_, e)| e)
}

/// Writes several versions in one transaction: all of them, or none. A FHIR transaction
/// Bundle is one call. On failure, the position of the write that failed and why, so
/// the caller can name `Bundle.entry[i]`.
///
/// The work is a fixed handful of statements whatever the number of writes: one
/// multi-row `INSERT` per table (creations of every write at once), one conditional
/// `UPDATE` per write of a version after the first, and for those the removal of the
/// previous version's index rows. Round trips, not rows, dominate the cost of a push.
pub fn write_all(
    conn: &mut DbConnection,
    writes: &[NewVersion<'_>],
) -> Result<(), (usize, StoreError)> {
    write_all_audited(conn, writes, &[])
}

/// [`write_all`], appending the audit events that record the writes in the same
/// transaction: the writes are stored with their audit trail or not at all.
pub fn write_all_audited(
    conn: &mut DbConnection,
    writes: &[NewVersion<'_>],
    audit: &[crate::audit::NewAuditEvent],
) -> Result<(), (usize, StoreError)> {
    let outcome = conn.transaction::<_, WriteFailure, _>(|conn| {
        write_rows(conn, writes)?;
        crate::audit::append(conn, audit)?;
        Ok(())
    });
    match outcome {
        Ok(()) => Ok(()),
        // Explained after the rollback: on PostgreSQL the failed transaction could not.
        Err(WriteFailure::Stale(i)) => {
            let new = &writes[i];
            let current = lookup_version(conn, new.resource_type, new.id)
                .map_err(|e| (i, e))?
                .unwrap_or(0);
            Err((
                i,
                StoreError::VersionConflict {
                    resource_type: new.resource_type.to_owned(),
                    id: new.id.to_owned(),
                    expected: new.version_id - 1,
                    current,
                },
            ))
        }
        Err(WriteFailure::Collision) => Err(explain_collision(conn, writes)),
        Err(WriteFailure::KeyTaken) => Err(explain_taken_key(conn, writes)),
        Err(WriteFailure::Db(e)) => Err((writes.len(), e.into())),
    }
}

fn write_rows(conn: &mut DbConnection, writes: &[NewVersion<'_>]) -> Result<(), WriteFailure> {
    let pks = write_resources(conn, writes)?;
    let versions: Vec<_> = writes
        .iter()
        .zip(&pks)
        .map(|(w, pk)| VersionRow::new(*pk, w))
        .collect();
    versions.insert_chunked(conn, resource_versions::table, CHUNK)?;
    // A version after the first replaces everything the previous one held.
    let updated: Vec<i64> = writes
        .iter()
        .zip(&pks)
        .filter(|(w, _)| w.version_id > 1)
        .map(|(_, pk)| *pk)
        .collect();
    if !updated.is_empty() {
        clear_derived(conn, &updated)?;
    }
    let live: Vec<(&NewVersion<'_>, i64)> = writes
        .iter()
        .zip(pks)
        .filter(|(w, _)| w.body.is_some())
        .collect();
    insert_index(conn, &live)?;
    insert_records(conn, &live)?;
    let granted: Vec<_> = live
        .iter()
        .filter(|(w, _)| !w.grants.is_empty())
        .map(|(w, pk)| (w.grants, *pk))
        .collect();
    crate::consents::insert(conn, &granted)?;
    // Keys in one order in every transaction, so two writers claiming overlapping keys
    // queue behind each other instead of deadlocking.
    let mut keys: Vec<UniqueKeyRow<'_>> = live
        .iter()
        .flat_map(|(w, pk)| {
            w.unique_keys.iter().map(|key| UniqueKeyRow {
                resource_type: w.resource_type,
                key,
                resource_pk: *pk,
            })
        })
        .collect();
    keys.sort_unstable();
    match keys.insert_chunked(conn, unique_keys::table, CHUNK) {
        Ok(()) => Ok(()),
        Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => {
            Err(WriteFailure::KeyTaken)
        }
        Err(e) => Err(e.into()),
    }
}

/// Creates or advances the `resources` row of every write; returns their keys in order.
fn write_resources(
    conn: &mut DbConnection,
    writes: &[NewVersion<'_>],
) -> Result<Vec<i64>, WriteFailure> {
    let mut pks = vec![0_i64; writes.len()];
    let created: Vec<usize> = (0..writes.len())
        .filter(|i| writes[*i].version_id == 1)
        .collect();
    let rows: Vec<_> = created
        .iter()
        .map(|i| ResourceRow::created(&writes[*i]))
        .collect();
    // The new keys come back from the inserts themselves (`RETURNING`): a read-back
    // query by id would depend on the planner choosing the unique index.
    let mut found: Vec<(String, String, i64)> = Vec::with_capacity(rows.len());
    for chunk in rows.chunks(CHUNK) {
        let returning = (resources::resource_type, resources::id, resources::pk);
        let inserted: QueryResult<Vec<(String, String, i64)>> = match conn {
            #[cfg(feature = "postgres")]
            DbConnection::Pg(c) => diesel::insert_into(resources::table)
                .values(chunk)
                .returning(returning)
                .get_results(c),
            #[cfg(feature = "sqlite")]
            DbConnection::Sqlite(c) => diesel::insert_into(resources::table)
                .values(chunk)
                .returning(returning)
                .get_results(c),
        };
        match inserted {
            Ok(rows) => found.extend(rows),
            Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => {
                return Err(WriteFailure::Collision);
            }
            Err(e) => return Err(e.into()),
        }
    }
    for i in &created {
        let w = &writes[*i];
        pks[*i] = found
            .iter()
            .find(|(t, id, _)| t == w.resource_type && id == w.id)
            .map(|(_, _, pk)| *pk)
            .ok_or(DieselError::NotFound)?;
    }
    for (i, w) in writes.iter().enumerate().filter(|(_, w)| w.version_id != 1) {
        let updated = diesel::update(
            resources::table
                .filter(resources::resource_type.eq(w.resource_type))
                .filter(resources::id.eq(w.id))
                .filter(resources::version_id.eq(w.version_id - 1)),
        )
        .set((
            resources::version_id.eq(w.version_id),
            resources::last_updated.eq(w.last_updated.micros()),
            resources::deleted.eq(w.body.is_none()),
        ))
        .execute(conn)?;
        if updated == 0 {
            return Err(WriteFailure::Stale(i));
        }
        pks[i] = lookup_pk(conn, w.resource_type, w.id)?.ok_or(DieselError::NotFound)?;
    }
    Ok(pks)
}

/// After a rolled-back [`write_all`] whose creations collided with existing resources:
/// the first creation of an id that exists, or that an earlier write of the same call
/// also creates.
fn explain_collision(conn: &mut DbConnection, writes: &[NewVersion<'_>]) -> (usize, StoreError) {
    let conflict = |i: usize, current: i64| {
        let w = &writes[i];
        (
            i,
            StoreError::VersionConflict {
                resource_type: w.resource_type.to_owned(),
                id: w.id.to_owned(),
                expected: 0,
                current,
            },
        )
    };
    let created: Vec<usize> = (0..writes.len())
        .filter(|i| writes[*i].version_id == 1)
        .collect();
    for (n, i) in created.iter().enumerate() {
        let w = &writes[*i];
        if created[..n]
            .iter()
            .any(|j| writes[*j].resource_type == w.resource_type && writes[*j].id == w.id)
        {
            return conflict(*i, 0);
        }
        match lookup_version(conn, w.resource_type, w.id) {
            Ok(Some(current)) => return conflict(*i, current),
            Ok(None) => {}
            Err(e) => return (*i, e),
        }
    }
    // The other writer's resource is gone again (it was rolled back): a race a retry
    // resolves.
    conflict(created.first().copied().unwrap_or(0), 0)
}

/// Removes the index rows, record entry, unique keys and consent grants of the previous
/// versions of `pks`.
fn clear_derived(conn: &mut DbConnection, pks: &[i64]) -> QueryResult<()> {
    diesel::delete(search_tokens::table.filter(search_tokens::resource_pk.eq_any(pks)))
        .execute(conn)?;
    diesel::delete(search_strings::table.filter(search_strings::resource_pk.eq_any(pks)))
        .execute(conn)?;
    diesel::delete(search_dates::table.filter(search_dates::resource_pk.eq_any(pks)))
        .execute(conn)?;
    diesel::delete(search_references::table.filter(search_references::resource_pk.eq_any(pks)))
        .execute(conn)?;
    diesel::delete(record_entries::table.filter(record_entries::resource_pk.eq_any(pks)))
        .execute(conn)?;
    diesel::delete(unique_keys::table.filter(unique_keys::resource_pk.eq_any(pks)))
        .execute(conn)?;
    crate::consents::clear(conn, pks)?;
    Ok(())
}

/// After a rolled-back [`write_all`] that met a taken key: which write, which key, and
/// who holds it (another resource in the store, or an earlier write of the same call).
fn explain_taken_key(conn: &mut DbConnection, writes: &[NewVersion<'_>]) -> (usize, StoreError) {
    let mut claimed: Vec<(&str, &str, &str)> = Vec::new();
    for (i, w) in writes.iter().enumerate().filter(|(_, w)| w.body.is_some()) {
        for key in w.unique_keys {
            let taken = |holder: String| {
                (
                    i,
                    StoreError::UniqueKeyTaken {
                        resource_type: w.resource_type.to_owned(),
                        key: key.clone(),
                        holder,
                    },
                )
            };
            if let Some((_, _, holder)) = claimed
                .iter()
                .find(|(t, k, _)| *t == w.resource_type && *k == key.as_str())
            {
                return taken((*holder).to_owned());
            }
            claimed.push((w.resource_type, key, w.id));
            match key_holder(conn, w.resource_type, key) {
                Ok(Some(holder)) if holder != w.id => return taken(holder),
                Ok(_) => {}
                Err(e) => return (i, e),
            }
        }
    }
    // The holder released the key between the refusal and this look: a race, which a
    // retry resolves.
    let first = writes
        .iter()
        .position(|w| !w.unique_keys.is_empty())
        .unwrap_or(0);
    (
        first,
        StoreError::UniqueKeyTaken {
            resource_type: writes
                .get(first)
                .map_or_else(String::new, |w| w.resource_type.to_owned()),
            key: writes
                .get(first)
                .and_then(|w| w.unique_keys.first().cloned())
                .unwrap_or_default(),
            holder: String::new(),
        },
    )
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

/// The search values of every write, one multi-row `INSERT` per table.
fn insert_index(conn: &mut DbConnection, live: &[(&NewVersion<'_>, i64)]) -> QueryResult<()> {
    let tokens = index_rows(live, |i| &i.tokens, TokenRow::new);
    tokens.insert_chunked(conn, search_tokens::table, CHUNK)?;
    let strings = index_rows(live, |i| &i.strings, StringRow::new);
    strings.insert_chunked(conn, search_strings::table, CHUNK)?;
    let dates = index_rows(live, |i| &i.dates, DateRow::new);
    dates.insert_chunked(conn, search_dates::table, CHUNK)?;
    let references = index_rows(live, |i| &i.references, ReferenceRow::new);
    references.insert_chunked(conn, search_references::table, CHUNK)
}

/// The rows of one search table: `row` of each entry `entries` picks from a write's
/// index, in the order of the writes.
fn index_rows<'a, E: 'a, R>(
    live: &[(&NewVersion<'a>, i64)],
    entries: impl Fn(&'a SearchIndex) -> &'a [E],
    row: impl Fn(i64, &'a E) -> R,
) -> Vec<R> {
    live.iter()
        .flat_map(|(w, pk)| entries(w.index).iter().map(|e| row(*pk, e)))
        .collect()
}

/// The record entries of the writes that carry one.
fn insert_records(conn: &mut DbConnection, live: &[(&NewVersion<'_>, i64)]) -> QueryResult<()> {
    let rows: Vec<_> = live
        .iter()
        .filter_map(|(w, pk)| w.record.map(|r| RecordEntryRow::new(*pk, r)))
        .collect();
    rows.insert_chunked(conn, record_entries::table, CHUNK)
}

type StoredRow = (i64, i64, bool, Option<String>);

fn to_stored(resource_type: &str, id: &str, row: StoredRow) -> StoredResource {
    let (version_id, last_updated, deleted, body) = row;
    StoredResource {
        resource_type: resource_type.to_owned(),
        id: id.to_owned(),
        version_id,
        last_updated: Timestamp::from_micros(last_updated),
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
    let row: Option<StoredRow> = resources::table
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
    let row: Option<StoredRow> = resource_versions::table
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
    let rows: Vec<StoredRow> = resource_versions::table
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

/// Where a page of a type's history ends: the last version shown, as
/// `(last_updated, resource_pk, version_id)`; the next page starts after it.
pub type HistoryCursor = (i64, i64, i64);

/// A page of the history of every resource of `resource_type` (FHIR's type-level
/// history): versions written at or after `since` (microseconds), newest first (ties
/// by resource, then version, newest first), after `after`; at most `limit`, and the
/// cursor of the next page when there are more.
///
/// Versions are found through their resource's type, then sorted: the cost grows with
/// the versions of the type (the identity feed's, for which it is offered), not with
/// the registry.
pub fn type_history(
    conn: &mut DbConnection,
    resource_type: &str,
    since: Option<i64>,
    after: Option<HistoryCursor>,
    limit: usize,
) -> Result<(Vec<StoredResource>, Option<HistoryCursor>), StoreError> {
    let mut query = resource_versions::table
        .inner_join(resources::table)
        .filter(resources::resource_type.eq(resource_type))
        .into_boxed();
    if let Some(since) = since {
        query = query.filter(resource_versions::last_updated.ge(since));
    }
    if let Some((updated, pk, version)) = after {
        query = query.filter(
            resource_versions::last_updated
                .lt(updated)
                .or(resource_versions::last_updated.eq(updated).and(
                    resource_versions::resource_pk
                        .lt(pk)
                        .or(resource_versions::resource_pk
                            .eq(pk)
                            .and(resource_versions::version_id.lt(version))),
                )),
        );
    }
    let wanted = i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX);
    let rows: Vec<(i64, String, i64, i64, bool, Option<String>)> = query
        .order((
            resource_versions::last_updated.desc(),
            resource_versions::resource_pk.desc(),
            resource_versions::version_id.desc(),
        ))
        .select((
            resource_versions::resource_pk,
            resources::id,
            resource_versions::version_id,
            resource_versions::last_updated,
            resource_versions::deleted,
            resource_versions::body,
        ))
        .limit(wanted)
        .load(conn)?;
    let more = rows.len() > limit;
    let mut page: Vec<StoredResource> = Vec::with_capacity(limit.min(rows.len()));
    let mut next = None;
    for (pk, id, version, updated, deleted, body) in rows.into_iter().take(limit) {
        next = Some((updated, pk, version));
        page.push(to_stored(
            resource_type,
            &id,
            (version, updated, deleted, body),
        ));
    }
    Ok((page, if more { next } else { None }))
}

/// Logical ids of current, not deleted resources of `resource_type` whose reference
/// parameter `param` points at any of `targets` (of `target_type`), in id order.
pub fn referrers(
    conn: &mut DbConnection,
    resource_type: &str,
    param: &str,
    target_type: &str,
    targets: &[String],
) -> Result<Vec<String>, StoreError> {
    Ok(resources::table
        .inner_join(search_references::table)
        .filter(resources::resource_type.eq(resource_type))
        .filter(resources::deleted.eq(false))
        .filter(search_references::param.eq(param))
        .filter(search_references::target_type.eq(target_type))
        .filter(search_references::target_id.eq_any(targets))
        .select(resources::id)
        .distinct()
        .order(resources::id)
        .load(conn)?)
}

/// Logical ids of current, not deleted resources of a type with the given token value.
pub fn find_by_token(
    conn: &mut DbConnection,
    resource_type: &str,
    param: &str,
    system: Option<&str>,
    code: &str,
) -> Result<Vec<String>, StoreError> {
    // Two fixed statements rather than one boxed query, so that PostgreSQL keeps each
    // prepared (a boxed query is planned anew every time).
    let query = resources::table
        .inner_join(search_tokens::table)
        .filter(resources::resource_type.eq(resource_type))
        .filter(resources::deleted.eq(false))
        .filter(search_tokens::param.eq(param))
        .filter(search_tokens::code.eq(code))
        .select(resources::id)
        .distinct();
    Ok(match system {
        Some(system) => query
            .filter(search_tokens::system.eq(system))
            .order(resources::id)
            .load(conn)?,
        None => query.order(resources::id).load(conn)?,
    })
}

/// Whom an index entry (or summary) concerns, and who holds it: what the registry's
/// access rules decide on.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Parties {
    /// The target of its `patient` reference.
    pub patient: Option<String>,
    /// The target of its `custodian` reference (an `Organization` id).
    pub custodian: Option<String>,
    /// Labelled sensitive: a DocumentReference's record entry says; anything else
    /// (submission sets, provenances, summaries) counts as sensitive, since it may name
    /// sensitive entries.
    pub sensitive: bool,
}

/// The [`Parties`] of a resource, whether or not it is deleted.
pub fn parties(
    conn: &mut DbConnection,
    resource_type: &str,
    id: &str,
) -> Result<Parties, StoreError> {
    let rows: Vec<(String, String)> = resources::table
        .inner_join(search_references::table)
        .filter(resources::resource_type.eq(resource_type))
        .filter(resources::id.eq(id))
        .filter(search_references::param.eq_any(["patient", "custodian"]))
        .select((search_references::param, search_references::target_id))
        .load(conn)?;
    let find = |param: &str| {
        rows.iter()
            .find(|(p, _)| p == param)
            .map(|(_, target)| target.clone())
    };
    let labelled: Option<bool> = record_entries::table
        .inner_join(resources::table)
        .filter(resources::resource_type.eq(resource_type))
        .filter(resources::id.eq(id))
        .select(record_entries::sensitive)
        .first(conn)
        .optional()?;
    Ok(Parties {
        patient: find("patient"),
        custodian: find("custodian"),
        sensitive: labelled.unwrap_or(true),
    })
}

/// The `(parameter, target id)` of every reference the current version of a resource is
/// indexed under.
pub fn references_of(
    conn: &mut DbConnection,
    resource_type: &str,
    id: &str,
) -> Result<Vec<(String, String)>, StoreError> {
    Ok(resources::table
        .inner_join(search_references::table)
        .filter(resources::resource_type.eq(resource_type))
        .filter(resources::id.eq(id))
        .select((search_references::param, search_references::target_id))
        .load(conn)?)
}

// How the rows of this module's tables are built from its values.

impl<'a> TokenRow<'a> {
    pub(crate) fn new(resource_pk: i64, t: &'a TokenEntry) -> Self {
        Self {
            resource_pk,
            param: &t.param,
            system: t.system.as_deref(),
            code: &t.code,
        }
    }
}

impl<'a> StringRow<'a> {
    pub(crate) fn new(resource_pk: i64, v: &'a StringEntry) -> Self {
        Self {
            resource_pk,
            param: &v.param,
            value: &v.value,
        }
    }
}

impl<'a> DateRow<'a> {
    pub(crate) fn new(resource_pk: i64, d: &'a DateEntry) -> Self {
        Self {
            resource_pk,
            param: &d.param,
            low: d.low,
            high: d.high,
        }
    }
}

impl<'a> ReferenceRow<'a> {
    pub(crate) fn new(resource_pk: i64, r: &'a ReferenceEntry) -> Self {
        Self {
            resource_pk,
            param: &r.param,
            target_type: &r.target_type,
            target_id: &r.target_id,
        }
    }
}

impl<'a> ResourceRow<'a> {
    pub(crate) fn created(w: &NewVersion<'a>) -> Self {
        Self {
            resource_type: w.resource_type,
            id: w.id,
            version_id: 1,
            last_updated: w.last_updated.micros(),
            deleted: w.body.is_none(),
        }
    }
}

impl<'a> VersionRow<'a> {
    pub(crate) fn new(resource_pk: i64, w: &NewVersion<'a>) -> Self {
        Self {
            resource_pk,
            version_id: w.version_id,
            last_updated: w.last_updated.micros(),
            deleted: w.body.is_none(),
            body: w.body,
        }
    }
}

impl<'a> RecordEntryRow<'a> {
    pub(crate) fn new(resource_pk: i64, r: &'a RecordEntry) -> Self {
        Self {
            resource_pk,
            patient_id: &r.patient_id,
            custodian_id: &r.custodian_id,
            status: &r.status,
            date: r.date,
            types: &r.types,
            sensitive: r.sensitive,
        }
    }
}
