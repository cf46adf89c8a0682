//! The record index: where each patient's records are, by IPRESS.
//!
//! Every index entry (a DocumentReference) has a row in `record_entries`, written with
//! its version by [`crate::resources::write_all`]; [`current_locations`] reads them back
//! grouped, which is all `Patient/$record-locations` needs from the database after the
//! patient is known.

use diesel::dsl::{count_star, max, min};
use diesel::prelude::*;

use crate::schema::{record_entries, resource_versions, resources};
use crate::{DbConnection, StoreError};

/// The current entries of some patients held by one IPRESS with one set of document
/// types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocationGroup {
    /// The custodian `Organization`'s logical id.
    pub custodian_id: String,
    /// The entries' type codings, as written ([`crate::resources::RecordEntry::types`]).
    pub types: String,
    /// How many entries.
    pub count: i64,
    /// The earliest `DocumentReference.date`, microseconds since the Unix epoch.
    pub first: Option<i64>,
    /// The latest `DocumentReference.date`.
    pub last: Option<i64>,
}

/// `(custodian, types, count, first, last, organization JSON)`.
type GroupRow = (
    String,
    String,
    i64,
    Option<i64>,
    Option<i64>,
    Option<String>,
);

/// The current entries of `patients` (a patient and the records merged into it),
/// grouped by custodian and document types, each group with the custodian's current
/// `Organization` JSON (absent if it was deleted): one statement over the
/// `(patient_id, status)` index, prepared once per connection.
pub fn current_locations(
    conn: &mut DbConnection,
    patients: &[String],
) -> Result<Vec<(LocationGroup, Option<String>)>, StoreError> {
    let rows: Vec<GroupRow> = record_entries::table
        .left_join(
            resources::table.on(resources::resource_type
                .eq("Organization")
                .and(resources::id.eq(record_entries::custodian_id))
                .and(resources::deleted.eq(false))),
        )
        .left_join(
            resource_versions::table.on(resource_versions::resource_pk
                .eq(resources::pk)
                .and(resource_versions::version_id.eq(resources::version_id))),
        )
        .filter(record_entries::patient_id.eq_any(patients))
        .filter(record_entries::status.eq("current"))
        .group_by((
            record_entries::custodian_id,
            record_entries::types,
            resource_versions::body,
        ))
        .select((
            record_entries::custodian_id,
            record_entries::types,
            count_star(),
            min(record_entries::date),
            max(record_entries::date),
            resource_versions::body.nullable(),
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(custodian_id, types, count, first, last, organization)| {
            (
                LocationGroup {
                    custodian_id,
                    types,
                    count,
                    first,
                    last,
                },
                organization,
            )
        })
        .collect())
}
