//! The record index: where each patient's records are, by IPRESS.
//!
//! Every index entry (a DocumentReference) has a row in `record_entries`, written with
//! its version by [`crate::resources::write_all`]; [`locations`] reads them back
//! grouped, which is all `Patient/$record-locations` needs from the database after the
//! patient is known.

use std::marker::PhantomData;

use diesel::backend::Backend;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::serialize::ToSql;
use diesel::sql_types::{BigInt, Bool, Nullable, Text};

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
    /// Whether these entries are labelled sensitive.
    pub sensitive: bool,
}

/// `(custodian, types, sensitive, count, first, last, organization JSON)`.
type GroupRow = (
    String,
    String,
    bool,
    i64,
    Option<i64>,
    Option<i64>,
    Option<String>,
);

/// What a [`WithFamily`] statement selects from `family`, the patient and every record
/// merged into it.
trait Select {
    /// The SQL after the `family` common table expression.
    const SQL: &'static str;
    /// The row type.
    type SqlType;
}

/// The ids of the family.
#[derive(Debug, Clone, Copy)]
struct Members;

impl Select for Members {
    const SQL: &'static str = "SELECT id FROM family ORDER BY id";
    type SqlType = Text;
}

/// The family's current index entries grouped by custodian and document types, with
/// the custodian's JSON. The IPRESS is looked up per group by a correlated subquery
/// rather than joined: a join lets the planner hash every Organization of the registry
/// to answer for one patient, which it does when its estimate of the groups is high.
#[derive(Debug, Clone, Copy)]
struct Groups;

impl Select for Groups {
    const SQL: &'static str = "SELECT e.custodian_id, e.types, e.sensitive, COUNT(*), MIN(e.date), MAX(e.date), \
         (SELECT v.body FROM resources o JOIN resource_versions v \
         ON v.resource_pk = o.pk AND v.version_id = o.version_id \
         WHERE o.resource_type = 'Organization' AND o.id = e.custodian_id AND NOT o.deleted) \
         FROM record_entries e WHERE e.patient_id IN (SELECT id FROM family) \
         AND e.status = 'current' GROUP BY e.custodian_id, e.types, e.sensitive";
    type SqlType = (
        Text,
        Text,
        Bool,
        BigInt,
        Nullable<BigInt>,
        Nullable<BigInt>,
        Nullable<Text>,
    );
}

/// A statement over a patient's family. Following a merge chain needs a recursive
/// common table expression, which diesel's query DSL cannot write; as a fragment with a
/// static query id it is still prepared once per connection (a `sql_query` would be
/// parsed and planned on every call, which is most of the cost of a request).
#[derive(Debug, Clone, Copy)]
struct WithFamily<'a, S> {
    patient: &'a str,
    select: PhantomData<S>,
}

impl<S: 'static> QueryId for WithFamily<'_, S> {
    type QueryId = WithFamily<'static, S>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl<S: Select> Query for WithFamily<'_, S> {
    type SqlType = S::SqlType;
}

impl<DB, S> QueryFragment<DB> for WithFamily<'_, S>
where
    DB: Backend,
    str: ToSql<Text, DB>,
    S: Select,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        // Links of `link` replaced-by, followed from the survivor back to every record
        // merged into it; UNION (not UNION ALL) so that a cycle ends.
        out.push_sql("WITH RECURSIVE family(id) AS (SELECT CAST(");
        out.push_bind_param::<Text, str>(self.patient)?;
        out.push_sql(
            " AS TEXT) \
             UNION SELECT r.id FROM family f \
             JOIN search_references s ON s.param = 'replaced-by' \
             AND s.target_type = 'Patient' AND s.target_id = f.id \
             JOIN resources r ON r.pk = s.resource_pk \
             WHERE r.resource_type = 'Patient' AND NOT r.deleted) ",
        );
        out.push_sql(S::SQL);
        Ok(())
    }
}

impl<S> RunQueryDsl<DbConnection> for WithFamily<'_, S> {}

fn with_family<S>(patient: &str) -> WithFamily<'_, S> {
    WithFamily {
        patient,
        select: PhantomData,
    }
}

/// A patient and every record merged into it, directly or along a chain, in id order:
/// one statement.
pub fn family(conn: &mut DbConnection, patient: &str) -> Result<Vec<String>, StoreError> {
    Ok(with_family::<Members>(patient).load(conn)?)
}

/// The IPRESS (`Organization` ids, sorted) that hold a current summary (`Bundle`) of a
/// patient or of a record merged into it: whom a `$summary` answer could be drawn from.
///
/// # Errors
/// A database failure.
pub fn summary_custodians(
    conn: &mut DbConnection,
    patient: &str,
) -> Result<Vec<String>, StoreError> {
    use crate::schema::{resources, search_references};
    let members = family(conn, patient)?;
    let summaries: Vec<i64> = resources::table
        .inner_join(search_references::table)
        .filter(resources::resource_type.eq("Bundle"))
        .filter(resources::deleted.eq(false))
        .filter(search_references::param.eq("patient"))
        .filter(search_references::target_type.eq("Patient"))
        .filter(search_references::target_id.eq_any(&members))
        .select(resources::pk)
        .distinct()
        .load(conn)?;
    Ok(search_references::table
        .filter(search_references::resource_pk.eq_any(&summaries))
        .filter(search_references::param.eq("custodian"))
        .filter(search_references::target_type.eq("Organization"))
        .select(search_references::target_id)
        .distinct()
        .order(search_references::target_id)
        .load(conn)?)
}

/// The current entries of a patient and of every record merged into it (directly or
/// along a chain), grouped by custodian and document types, each group with the
/// custodian's current `Organization` JSON (absent if it was deleted): one statement,
/// prepared once per connection, over the `(patient_id, status)` index.
pub fn locations(
    conn: &mut DbConnection,
    patient: &str,
) -> Result<Vec<(LocationGroup, Option<String>)>, StoreError> {
    let rows: Vec<GroupRow> = with_family::<Groups>(patient).load(conn)?;
    Ok(rows
        .into_iter()
        .map(
            |(custodian_id, types, sensitive, count, first, last, organization)| {
                (
                    LocationGroup {
                        custodian_id,
                        types,
                        count,
                        first,
                        last,
                        sensitive,
                    },
                    organization,
                )
            },
        )
        .collect())
}
