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
use crate::audit::NewAuditEvent;
use crate::consents::ConsentGrant;
use crate::resources::{
    DateEntry, NewVersion, RecordEntry, ReferenceEntry, StringEntry, TokenEntry,
};
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
    resource_pk: i64,
    param: &'a str,
    system: Option<&'a str>,
    code: &'a str,
}

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

/// A row of `search_strings`.
#[derive(Insertable)]
#[diesel(table_name = search_strings, treat_none_as_default_value = false)]
pub(crate) struct StringRow<'a> {
    resource_pk: i64,
    param: &'a str,
    value: &'a str,
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

/// A row of `search_dates`.
#[derive(Insertable)]
#[diesel(table_name = search_dates, treat_none_as_default_value = false)]
pub(crate) struct DateRow<'a> {
    resource_pk: i64,
    param: &'a str,
    low: i64,
    high: i64,
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

/// A row of `search_references`.
#[derive(Insertable)]
#[diesel(table_name = search_references, treat_none_as_default_value = false)]
pub(crate) struct ReferenceRow<'a> {
    resource_pk: i64,
    param: &'a str,
    target_type: &'a str,
    target_id: &'a str,
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

/// A row of `resources`, for a creation (version 1).
#[derive(Insertable)]
#[diesel(table_name = resources, treat_none_as_default_value = false)]
pub(crate) struct ResourceRow<'a> {
    resource_type: &'a str,
    id: &'a str,
    version_id: i64,
    last_updated: i64,
    deleted: bool,
}

impl<'a> ResourceRow<'a> {
    pub(crate) fn created(w: &NewVersion<'a>) -> Self {
        Self {
            resource_type: w.resource_type,
            id: w.id,
            version_id: 1,
            last_updated: w.last_updated,
            deleted: w.body.is_none(),
        }
    }
}

/// A row of `resource_versions`.
#[derive(Insertable)]
#[diesel(table_name = resource_versions, treat_none_as_default_value = false)]
pub(crate) struct VersionRow<'a> {
    resource_pk: i64,
    version_id: i64,
    last_updated: i64,
    deleted: bool,
    body: Option<&'a str>,
}

impl<'a> VersionRow<'a> {
    pub(crate) fn new(resource_pk: i64, w: &NewVersion<'a>) -> Self {
        Self {
            resource_pk,
            version_id: w.version_id,
            last_updated: w.last_updated,
            deleted: w.body.is_none(),
            body: w.body,
        }
    }
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
    resource_pk: i64,
    patient_id: &'a str,
    custodian_id: &'a str,
    status: &'a str,
    date: Option<i64>,
    types: &'a str,
    sensitive: bool,
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

/// A row of `consent_grants`: a grant at its position among its Consent's, its purposes
/// space-separated.
#[derive(Insertable)]
#[diesel(table_name = consent_grants, treat_none_as_default_value = false)]
pub(crate) struct GrantRow<'a> {
    resource_pk: i64,
    position: i32,
    patient_id: &'a str,
    grantee: &'a str,
    purposes: String,
    starts: Option<i64>,
    ends: Option<i64>,
    sensitive: bool,
}

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

/// A row of `audit_events` (its `seq` and `xid` are the database's).
#[derive(Insertable)]
#[diesel(table_name = audit_events, treat_none_as_default_value = false)]
pub(crate) struct EventRow<'a> {
    id: &'a str,
    recorded: i64,
    patient_id: Option<&'a str>,
    ipress: Option<&'a str>,
    role: Option<&'a str>,
    action: &'a str,
    outcome: &'a str,
    body: &'a str,
    digest: &'a [u8],
}

impl<'a> EventRow<'a> {
    /// `digest` is the event's ([`NewAuditEvent::digest`]).
    pub(crate) fn new(e: &'a NewAuditEvent, digest: &'a [u8]) -> Self {
        Self {
            id: &e.id,
            recorded: e.recorded,
            patient_id: e.patient_id.as_deref(),
            ipress: e.ipress.as_deref(),
            role: e.role.as_deref(),
            action: &e.action,
            outcome: &e.outcome,
            body: &e.body,
            digest,
        }
    }
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
