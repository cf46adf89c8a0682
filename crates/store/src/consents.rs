//! What patients' consents grant: one row per permitting provision of each active
//! `Consent`, written with the Consent's version by [`crate::resources::write_all`] and
//! replaced by the next version (so a revocation removes them in the same transaction).
//!
//! The server decides who a grant names and what it covers; this module stores the
//! rows and finds the ones that apply to a caller.

use diesel::prelude::*;

use crate::rows::{CHUNK, GrantRow, InsertChunked as _};
use crate::schema::{consent_grants, resources};
use crate::{DbConnection, StoreError};

/// What one permitting provision of an active Consent grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentGrant {
    /// The patient's logical id (`Consent.patient`).
    pub patient_id: String,
    /// Who is granted access: `Organization/<id>` (an IPRESS) or
    /// `colegiatura|<college>|<number>` (a clinician).
    pub grantee: String,
    /// The purposes of use the grant is for (v3 `ActReason` codes); empty: any.
    pub purposes: Vec<String>,
    /// The first microsecond the grant applies, if bounded.
    pub starts: Option<i64>,
    /// The last microsecond the grant applies, if bounded.
    pub ends: Option<i64>,
    /// Whether entries labelled restricted or very restricted are covered.
    pub sensitive: bool,
}

impl ConsentGrant {
    /// Whether the grant applies at `now` (microseconds) for `purpose`.
    #[must_use]
    pub fn applies(&self, now: i64, purpose: &str) -> bool {
        self.starts.is_none_or(|s| s <= now)
            && self.ends.is_none_or(|e| now <= e)
            && (self.purposes.is_empty() || self.purposes.iter().any(|p| p == purpose))
    }
}

/// A grant found for a caller, with the Consent that makes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundGrant {
    /// The Consent's logical id.
    pub consent_id: String,
    /// The grant.
    pub grant: ConsentGrant,
}

/// Inserts the grants of newly written versions (`(grants, resource key)` pairs).
pub(crate) fn insert(
    conn: &mut DbConnection,
    written: &[(&[ConsentGrant], i64)],
) -> QueryResult<()> {
    let rows: Vec<_> = written
        .iter()
        .flat_map(|(grants, pk)| {
            grants
                .iter()
                .enumerate()
                .map(move |(position, g)| GrantRow::new(*pk, position, g))
        })
        .collect();
    rows.insert_chunked(conn, consent_grants::table, CHUNK)
}

/// Removes the grants of the previous versions of `pks`.
pub(crate) fn clear(conn: &mut DbConnection, pks: &[i64]) -> QueryResult<()> {
    diesel::delete(consent_grants::table.filter(consent_grants::resource_pk.eq_any(pks)))
        .execute(conn)?;
    Ok(())
}

/// Every grant of the current active Consents of `patients` naming any of `grantees`,
/// whatever their period and purpose (the caller filters with
/// [`ConsentGrant::applies`]), in the order the Consents were first stored.
pub fn for_grantees(
    conn: &mut DbConnection,
    patients: &[String],
    grantees: &[String],
) -> Result<Vec<FoundGrant>, StoreError> {
    // Two keyed statements rather than one join: almost every patient has no grant,
    // and the first alone answers that with one probe of its index, whatever plan the
    // statistics of the other tables would suggest.
    type Row = (i64, String, String, String, Option<i64>, Option<i64>, bool);
    let rows: Vec<Row> = consent_grants::table
        .filter(consent_grants::patient_id.eq_any(patients))
        .filter(consent_grants::grantee.eq_any(grantees))
        .order((consent_grants::resource_pk, consent_grants::position))
        .select((
            consent_grants::resource_pk,
            consent_grants::patient_id,
            consent_grants::grantee,
            consent_grants::purposes,
            consent_grants::starts,
            consent_grants::ends,
            consent_grants::sensitive,
        ))
        .load(conn)?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let pks: Vec<i64> = rows.iter().map(|r| r.0).collect();
    let ids: Vec<(i64, String)> = resources::table
        .filter(resources::pk.eq_any(&pks))
        .filter(resources::deleted.eq(false))
        .select((resources::pk, resources::id))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(
            |(pk, patient_id, grantee, purposes, starts, ends, sensitive)| {
                let consent_id = ids.iter().find(|(p, _)| *p == pk)?.1.clone();
                Some(FoundGrant {
                    consent_id,
                    grant: ConsentGrant {
                        patient_id,
                        grantee,
                        purposes: purposes.split_whitespace().map(str::to_owned).collect(),
                        starts,
                        ends,
                        sensitive,
                    },
                })
            },
        )
        .collect())
}

// How the rows of this module's tables are built from its values.

impl<'a> GrantRow<'a> {
    pub(crate) fn new(resource_pk: i64, position: usize, g: &'a ConsentGrant) -> Self {
        Self {
            resource_pk,
            position: i32::try_from(position).unwrap_or(i32::MAX),
            patient_id: &g.patient_id,
            grantee: &g.grantee,
            purposes: g.purposes.join(" "),
            starts: g.starts,
            ends: g.ends,
            sensitive: g.sensitive,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(purposes: &[&str], starts: Option<i64>, ends: Option<i64>) -> ConsentGrant {
        ConsentGrant {
            patient_id: "p".to_owned(),
            grantee: "Organization/o".to_owned(),
            purposes: purposes.iter().map(|p| (*p).to_owned()).collect(),
            starts,
            ends,
            sensitive: false,
        }
    }

    #[test]
    fn a_grant_applies_within_its_period_and_for_its_purposes() {
        assert!(grant(&[], None, None).applies(5, "TREAT"));
        assert!(grant(&["TREAT"], Some(5), Some(10)).applies(5, "TREAT"));
        assert!(grant(&["TREAT"], Some(5), Some(10)).applies(10, "TREAT"));
        assert!(!grant(&["TREAT"], Some(5), Some(10)).applies(11, "TREAT"));
        assert!(!grant(&["TREAT"], Some(5), None).applies(4, "TREAT"));
        assert!(!grant(&["TREAT"], None, None).applies(5, "HOPERAT"));
        assert!(grant(&["TREAT", "HOPERAT"], None, None).applies(5, "HOPERAT"));
    }
}
