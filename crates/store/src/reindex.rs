//! Search parameters added after resources were written: each new parameter is indexed
//! for the resources already held, once, when a server of the build that adds it starts.
//!
//! The database keeps one number (`search_index_version`): how many of the registry's
//! index upgrades it has had (1: none, every parameter of the builds before upgrades
//! existed). [`backfill`] applies the next upgrade in one transaction that first takes
//! the row, so two servers starting together apply it once, in order: the second finds
//! the version already moved and does nothing.

use diesel::prelude::*;

use crate::resources::SearchIndex;
use crate::rows::{CHUNK, DateRow, InsertChunked as _, ReferenceRow, StringRow, TokenRow};
use crate::schema::{
    resource_versions, resources, search_dates, search_index_version, search_references,
    search_strings, search_tokens,
};
use crate::{DbConnection, StoreError};

/// The index version of the database.
pub fn version(conn: &mut DbConnection) -> Result<i64, StoreError> {
    Ok(search_index_version::table
        .find(1)
        .select(search_index_version::version)
        .first(conn)?)
}

/// Indexes `param` for every current resource of `resource_type`, with `index` giving the
/// values of one resource's JSON (only those of `param` are kept), and moves the version
/// to `version` — if the database is at `version − 1`. Returns how many resources were
/// indexed, or `None` when the database had this upgrade already.
///
/// # Errors
/// A database failure (nothing is changed), or [`StoreError::SchemaMismatch`] when the database
/// is more than one upgrade behind `version` (upgrades are applied in order).
pub fn backfill(
    conn: &mut DbConnection,
    version: i64,
    resource_type: &str,
    param: &str,
    index: &dyn Fn(&str) -> SearchIndex,
) -> Result<Option<usize>, StoreError> {
    conn.transaction(|conn| {
        // Takes the row (PostgreSQL: its lock; SQLite: the write lock) before reading it,
        // so a concurrent start waits here and then sees the new version.
        diesel::update(search_index_version::table.find(1))
            .set(search_index_version::version.eq(search_index_version::version))
            .execute(conn)?;
        let current: i64 = search_index_version::table
            .find(1)
            .select(search_index_version::version)
            .first(conn)?;
        if current >= version {
            return Ok(None);
        }
        if current != version - 1 {
            return Err(StoreError::SchemaMismatch(format!(
                "the search index is at version {current}; upgrade {version} needs {} first",
                version - 1
            )));
        }
        let held: Vec<(i64, Option<String>)> = resources::table
            .inner_join(
                resource_versions::table.on(resource_versions::resource_pk
                    .eq(resources::pk)
                    .and(resource_versions::version_id.eq(resources::version_id))),
            )
            .filter(resources::resource_type.eq(resource_type))
            .filter(resources::deleted.eq(false))
            .select((resources::pk, resource_versions::body))
            .load(conn)?;
        let pks: Vec<i64> = held.iter().map(|(pk, _)| *pk).collect();
        clear(conn, &pks, param)?;
        let indexes: Vec<(i64, SearchIndex)> = held
            .iter()
            .filter_map(|(pk, body)| Some((*pk, index(body.as_deref()?))))
            .collect();
        insert(conn, &indexes, param)?;
        diesel::update(search_index_version::table.find(1))
            .set(search_index_version::version.eq(version))
            .execute(conn)?;
        Ok(Some(indexes.len()))
    })
}

/// Removes the values of `param` held for `pks`.
fn clear(conn: &mut DbConnection, pks: &[i64], param: &str) -> QueryResult<()> {
    for chunk in pks.chunks(CHUNK) {
        diesel::delete(
            search_tokens::table
                .filter(search_tokens::resource_pk.eq_any(chunk))
                .filter(search_tokens::param.eq(param)),
        )
        .execute(conn)?;
        diesel::delete(
            search_strings::table
                .filter(search_strings::resource_pk.eq_any(chunk))
                .filter(search_strings::param.eq(param)),
        )
        .execute(conn)?;
        diesel::delete(
            search_dates::table
                .filter(search_dates::resource_pk.eq_any(chunk))
                .filter(search_dates::param.eq(param)),
        )
        .execute(conn)?;
        diesel::delete(
            search_references::table
                .filter(search_references::resource_pk.eq_any(chunk))
                .filter(search_references::param.eq(param)),
        )
        .execute(conn)?;
    }
    Ok(())
}

/// Inserts the values of `param` of each `(pk, index)`.
fn insert(conn: &mut DbConnection, indexes: &[(i64, SearchIndex)], param: &str) -> QueryResult<()> {
    let tokens: Vec<TokenRow<'_>> = indexes
        .iter()
        .flat_map(|(pk, i)| {
            i.tokens
                .iter()
                .filter(|e| e.param == param)
                .map(|e| TokenRow {
                    resource_pk: *pk,
                    param: &e.param,
                    system: e.system.as_deref(),
                    code: &e.code,
                })
        })
        .collect();
    tokens.insert_chunked(conn, search_tokens::table, CHUNK)?;
    let strings: Vec<StringRow<'_>> = indexes
        .iter()
        .flat_map(|(pk, i)| {
            i.strings
                .iter()
                .filter(|e| e.param == param)
                .map(|e| StringRow {
                    resource_pk: *pk,
                    param: &e.param,
                    value: &e.value,
                })
        })
        .collect();
    strings.insert_chunked(conn, search_strings::table, CHUNK)?;
    let dates: Vec<DateRow<'_>> = indexes
        .iter()
        .flat_map(|(pk, i)| {
            i.dates
                .iter()
                .filter(|e| e.param == param)
                .map(|e| DateRow {
                    resource_pk: *pk,
                    param: &e.param,
                    low: e.low,
                    high: e.high,
                })
        })
        .collect();
    dates.insert_chunked(conn, search_dates::table, CHUNK)?;
    let references: Vec<ReferenceRow<'_>> = indexes
        .iter()
        .flat_map(|(pk, i)| {
            i.references
                .iter()
                .filter(|e| e.param == param)
                .map(|e| ReferenceRow {
                    resource_pk: *pk,
                    param: &e.param,
                    target_type: &e.target_type,
                    target_id: &e.target_id,
                })
        })
        .collect();
    references.insert_chunked(conn, search_references::table, CHUNK)?;
    Ok(())
}
