//! The rows renhice inserts, one `#[derive(Insertable)]` struct per table (borrowing what
//! it can from what is written; `auth_clients` has the public
//! [`Client`](crate::clients::Client)), and the one way they are inserted: a slice of
//! them as multi-row `INSERT`s of a bounded number of rows each, on whichever backend the
//! connection is ([`InsertChunked`]). The two inserts that need more of a backend than
//! that are written out where they are made: `resources` returns the new keys, and
//! `auth_assertions` ignores a conflict.
//!
//! Every row struct carries `#[diesel(treat_none_as_default_value = false)]`: the
//! derive would otherwise make each column defaultable (`None` written as `DEFAULT`), and
//! SQLite, which takes no `DEFAULT` in a multi-row `VALUES`, would get one statement per
//! row. With it, a row binds exactly what its columns' `eq` would (`None` as `NULL`).

#![allow(
    clippy::ref_option_ref,
    reason = "the Insertable derive borrows every field, an `Option<&str>` among them"
)]

use diesel::prelude::*;
use diesel::query_builder::InsertStatement;
use diesel::query_dsl::methods::ExecuteDsl;
use diesel::{Insertable, Table};

use crate::DbConnection;
use crate::schema::{
    audit_chain, audit_events, auth_assertions, consent_grants, record_entries, resource_versions,
    resources, search_dates, search_references, search_strings, search_tokens, unique_keys,
};

/// Rows per multi-row `INSERT`: well under both backends' limits on bound parameters
/// (65 535 on PostgreSQL, 32 766 on SQLite) at the widest row (eight columns, a consent
/// grant's).
pub(crate) const CHUNK: usize = 1000;

/// Rows of a table, inserted as a bounded number per statement: one `INSERT` path for
/// every table. A method rather than a function: the receiver fixes the rows' type
/// before diesel's bounds are solved, which a function's arguments do too late (the
/// solver overflows on diesel's `Insertable` impls).
pub(crate) trait InsertChunked<T> {
    /// Inserts the rows into `table`, at most `per_statement` of them per statement,
    /// stopping at the first statement that fails.
    fn insert_chunked(
        self,
        conn: &mut DbConnection,
        table: T,
        per_statement: usize,
    ) -> QueryResult<()>;
}

impl<'r, T, R> InsertChunked<T> for &'r [R]
where
    T: Table + Copy,
    &'r [R]: Insertable<T>,
    InsertStatement<T, <&'r [R] as Insertable<T>>::Values>: OnPostgres + OnSqlite,
{
    fn insert_chunked(
        self,
        conn: &mut DbConnection,
        table: T,
        per_statement: usize,
    ) -> QueryResult<()> {
        for chunk in self.chunks(per_statement) {
            on_backend!(conn, diesel::insert_into(table).values(chunk))?;
        }
        Ok(())
    }
}

/// A statement PostgreSQL runs (any, when that backend is compiled out).
#[cfg(feature = "postgres")]
pub(crate) trait OnPostgres: ExecuteDsl<diesel::PgConnection> {}
#[cfg(feature = "postgres")]
impl<S: ExecuteDsl<diesel::PgConnection>> OnPostgres for S {}
/// A statement PostgreSQL runs (any, when that backend is compiled out).
#[cfg(not(feature = "postgres"))]
pub(crate) trait OnPostgres {}
#[cfg(not(feature = "postgres"))]
impl<S> OnPostgres for S {}

/// A statement SQLite runs (any, when that backend is compiled out).
#[cfg(feature = "sqlite")]
pub(crate) trait OnSqlite: ExecuteDsl<diesel::SqliteConnection> {}
#[cfg(feature = "sqlite")]
impl<S: ExecuteDsl<diesel::SqliteConnection>> OnSqlite for S {}
/// A statement SQLite runs (any, when that backend is compiled out).
#[cfg(not(feature = "sqlite"))]
pub(crate) trait OnSqlite {}
#[cfg(not(feature = "sqlite"))]
impl<S> OnSqlite for S {}

/// A row of `search_tokens`.
#[derive(Insertable)]
#[diesel(table_name = search_tokens, treat_none_as_default_value = false)]
pub(crate) struct TokenRow<'a> {
    pub(crate) resource_pk: i64,
    pub(crate) param: &'a str,
    pub(crate) system: Option<&'a str>,
    pub(crate) code: &'a str,
}

/// A row of `search_strings`.
#[derive(Insertable)]
#[diesel(table_name = search_strings, treat_none_as_default_value = false)]
pub(crate) struct StringRow<'a> {
    pub(crate) resource_pk: i64,
    pub(crate) param: &'a str,
    pub(crate) value: &'a str,
}

/// A row of `search_dates`.
#[derive(Insertable)]
#[diesel(table_name = search_dates, treat_none_as_default_value = false)]
pub(crate) struct DateRow<'a> {
    pub(crate) resource_pk: i64,
    pub(crate) param: &'a str,
    pub(crate) low: i64,
    pub(crate) high: i64,
}

/// A row of `search_references`.
#[derive(Insertable)]
#[diesel(table_name = search_references, treat_none_as_default_value = false)]
pub(crate) struct ReferenceRow<'a> {
    pub(crate) resource_pk: i64,
    pub(crate) param: &'a str,
    pub(crate) target_type: &'a str,
    pub(crate) target_id: &'a str,
}

/// A row of `resources`, for a creation (version 1).
#[derive(Insertable)]
#[diesel(table_name = resources, treat_none_as_default_value = false)]
pub(crate) struct ResourceRow<'a> {
    pub(crate) resource_type: &'a str,
    pub(crate) id: &'a str,
    pub(crate) version_id: i64,
    pub(crate) last_updated: i64,
    pub(crate) deleted: bool,
}

/// A row of `resource_versions`.
#[derive(Insertable)]
#[diesel(table_name = resource_versions, treat_none_as_default_value = false)]
pub(crate) struct VersionRow<'a> {
    pub(crate) resource_pk: i64,
    pub(crate) version_id: i64,
    pub(crate) last_updated: i64,
    pub(crate) deleted: bool,
    pub(crate) body: Option<&'a str>,
}

/// A row of `unique_keys`; ordered by type, key and resource, the order every
/// transaction claims keys in.
#[derive(Insertable, PartialEq, Eq, PartialOrd, Ord)]
#[diesel(table_name = unique_keys, treat_none_as_default_value = false)]
pub(crate) struct UniqueKeyRow<'a> {
    pub(crate) resource_type: &'a str,
    pub(crate) key: &'a str,
    pub(crate) resource_pk: i64,
}

/// A row of `record_entries`.
#[derive(Insertable)]
#[diesel(table_name = record_entries, treat_none_as_default_value = false)]
pub(crate) struct RecordEntryRow<'a> {
    pub(crate) resource_pk: i64,
    pub(crate) patient_id: &'a str,
    pub(crate) custodian_id: &'a str,
    pub(crate) status: &'a str,
    pub(crate) date: Option<i64>,
    pub(crate) types: &'a str,
    pub(crate) sensitive: bool,
}

/// A row of `consent_grants`: a grant at its position among its Consent's, its purposes
/// space-separated.
#[derive(Insertable)]
#[diesel(table_name = consent_grants, treat_none_as_default_value = false)]
pub(crate) struct GrantRow<'a> {
    pub(crate) resource_pk: i64,
    pub(crate) position: i32,
    pub(crate) patient_id: &'a str,
    pub(crate) grantee: &'a str,
    pub(crate) purposes: String,
    pub(crate) starts: Option<i64>,
    pub(crate) ends: Option<i64>,
    pub(crate) sensitive: bool,
}

/// A row of `audit_events` (its `seq` and `xid` are the database's).
#[derive(Insertable)]
#[diesel(table_name = audit_events, treat_none_as_default_value = false)]
pub(crate) struct EventRow<'a> {
    pub(crate) id: &'a str,
    pub(crate) recorded: i64,
    pub(crate) patient_id: Option<&'a str>,
    pub(crate) ipress: Option<&'a str>,
    pub(crate) role: Option<&'a str>,
    pub(crate) action: &'a str,
    pub(crate) outcome: &'a str,
    pub(crate) body: &'a str,
    pub(crate) digest: &'a [u8],
    pub(crate) agent_name: Option<&'a str>,
}

/// A row of `audit_chain`.
#[derive(Insertable)]
#[diesel(table_name = audit_chain, treat_none_as_default_value = false)]
pub(crate) struct LinkRow {
    pub(crate) position: i64,
    pub(crate) event_seq: i64,
    pub(crate) digest: Vec<u8>,
    pub(crate) hash: Vec<u8>,
}

/// A row of `auth_assertions`.
#[derive(Insertable)]
#[diesel(table_name = auth_assertions, treat_none_as_default_value = false)]
pub(crate) struct AssertionRow<'a> {
    pub(crate) client_id: &'a str,
    pub(crate) jti: &'a str,
    pub(crate) expires_at: i64,
}
