//! The record index: where each patient's records are, by IPRESS.
//!
//! Every index entry (a DocumentReference) has a row in `record_entries`, written with
//! its version by [`crate::resources::write_all`]; this module reads them back grouped,
//! which is all `Patient/$record-locations` needs from the database.

use diesel::dsl::{count_star, max, min};
use diesel::prelude::*;

use crate::schema::record_entries;
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

/// The current entries of `patients`, grouped by custodian and document types: one
/// query over the `(patient_id, status)` index, however many entries there are.
pub fn current_locations(
    conn: &mut DbConnection,
    patients: &[String],
) -> Result<Vec<LocationGroup>, StoreError> {
    let rows: Vec<(String, String, i64, Option<i64>, Option<i64>)> = record_entries::table
        .filter(record_entries::patient_id.eq_any(patients))
        .filter(record_entries::status.eq("current"))
        .group_by((record_entries::custodian_id, record_entries::types))
        .select((
            record_entries::custodian_id,
            record_entries::types,
            count_star(),
            min(record_entries::date),
            max(record_entries::date),
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(custodian_id, types, count, first, last)| LocationGroup {
            custodian_id,
            types,
            count,
            first,
            last,
        })
        .collect())
}
