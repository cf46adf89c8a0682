//! Searching current resources by their extracted search parameters.
//!
//! A search is a conjunction of [`Criterion`]s, each a disjunction of values of one
//! parameter (FHIR's `a=x,y&b=z` is `(a=x OR a=y) AND b=z`). Every criterion becomes an
//! `EXISTS` over its index table correlated with the resource row, so a resource with
//! several values of one parameter matches once. Results come in key order (or by a
//! date, then key) and page by keyset ([`Cursor`]: the position of the last row shown),
//! never by offset, so a page boundary does not move when resources are added.

use diesel::dsl::exists;
use diesel::prelude::*;

use crate::schema::{
    record_entries, resource_versions, resources, search_dates, search_references, search_strings,
    search_tokens,
};
use crate::{DbConnection, StoreError};

/// One value a search parameter may match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Match {
    /// A token: the code, and the system if one was given (`system|code`); `Some("")`
    /// means "no system" (`|code`).
    Token {
        /// The system, if constrained.
        system: Option<String>,
        /// The code or value.
        code: String,
    },
    /// A normalised string starting with this prefix.
    StringPrefix(String),
    /// A reference to this resource.
    Reference {
        /// Target type, e.g. `Patient`.
        target_type: String,
        /// Target logical id.
        target_id: String,
    },
    /// An index entry (a DocumentReference) this IPRESS (an `Organization` id) holds,
    /// or one not labelled sensitive, whoever holds it: what a consent that does not
    /// cover sensitive data lets a SIHCE see. The parameter name is not used.
    HeldOrUnlabelled(String),
    /// A date whose range satisfies the comparison against `[low, high]` (microseconds).
    Date {
        /// The comparison.
        comparator: DateComparator,
        /// First microsecond of the searched value's range.
        low: i64,
        /// Last microsecond of the searched value's range.
        high: i64,
    },
}

/// How a date search value compares (FHIR R4 §3.1.1.4.2, for ranges).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateComparator {
    /// `eq`: the resource's range lies within the searched range.
    Eq,
    /// `ge`: the resource's range reaches the searched start or later.
    Ge,
    /// `le`: the resource's range starts at or before the searched end.
    Le,
    /// `gt`: the resource's range ends after the searched range.
    Gt,
    /// `lt`: the resource's range starts before the searched range.
    Lt,
}

/// Resources having at least one of `values` for `param`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Criterion {
    /// The search parameter as indexed (`identifier`, `family`, …).
    pub param: String,
    /// Alternatives (OR).
    pub values: Vec<Match>,
}

impl Criterion {
    /// References from `param` to any of `targets`, resources of `target_type`.
    #[must_use]
    pub fn references(
        param: &str,
        target_type: &str,
        targets: impl IntoIterator<Item = String>,
    ) -> Self {
        Self {
            param: param.to_owned(),
            values: targets
                .into_iter()
                .map(|target_id| Match::Reference {
                    target_type: target_type.to_owned(),
                    target_id,
                })
                .collect(),
        }
    }
}

/// A page of search results.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Page {
    /// `(key, id, version, last updated, JSON)` of each match, in key order.
    pub rows: Vec<(i64, String, i64, i64, String)>,
    /// Whether more matches follow the last row.
    pub more: bool,
    /// Where the next page starts, when there is one.
    pub next: Option<Cursor>,
}

type Db = <DbConnection as diesel::Connection>::Backend;
type Condition =
    Box<dyn BoxableExpression<resources::table, Db, SqlType = diesel::sql_types::Bool>>;

fn escape_like(prefix: &str) -> String {
    let mut out = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        if matches!(c, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

fn condition(param: &str, value: &Match) -> Condition {
    // The logical id is the resource row's own column, not an index row.
    if let ("_id", Match::Token { code, .. }) = (param, value) {
        return Box::new(resources::id.eq(code.clone()));
    }
    // So is the time of the current version (`meta.lastUpdated`), an instant: the
    // comparisons of a one-point range.
    if let (
        "_lastUpdated",
        Match::Date {
            comparator,
            low,
            high,
        },
    ) = (param, value)
    {
        let at = resources::last_updated;
        return match comparator {
            DateComparator::Eq => Box::new(at.ge(*low).and(at.le(*high))),
            DateComparator::Ge => Box::new(at.ge(*low)),
            DateComparator::Le => Box::new(at.le(*high)),
            DateComparator::Gt => Box::new(at.gt(*high)),
            DateComparator::Lt => Box::new(at.lt(*low)),
        };
    }
    let param = param.to_owned();
    match value {
        Match::Token { system, code } => {
            let base = search_tokens::table
                .filter(search_tokens::resource_pk.eq(resources::pk))
                .filter(search_tokens::param.eq(param))
                .filter(search_tokens::code.eq(code.clone()));
            match system.as_deref() {
                None => Box::new(exists(base)),
                Some("") => Box::new(exists(base.filter(search_tokens::system.is_null()))),
                Some(s) => Box::new(exists(base.filter(search_tokens::system.eq(s.to_owned())))),
            }
        }
        Match::StringPrefix(prefix) => Box::new(exists(
            search_strings::table
                .filter(search_strings::resource_pk.eq(resources::pk))
                .filter(search_strings::param.eq(param))
                .filter(search_strings::value.like(escape_like(prefix)).escape('\\')),
        )),
        Match::Reference {
            target_type,
            target_id,
        } => Box::new(exists(
            search_references::table
                .filter(search_references::resource_pk.eq(resources::pk))
                .filter(search_references::param.eq(param))
                .filter(search_references::target_type.eq(target_type.clone()))
                .filter(search_references::target_id.eq(target_id.clone())),
        )),
        Match::HeldOrUnlabelled(custodian) => Box::new(exists(
            record_entries::table
                .filter(record_entries::resource_pk.eq(resources::pk))
                .filter(
                    record_entries::custodian_id
                        .eq(custodian.clone())
                        .or(record_entries::sensitive.eq(false)),
                ),
        )),
        Match::Date {
            comparator,
            low,
            high,
        } => {
            let base = search_dates::table
                .filter(search_dates::resource_pk.eq(resources::pk))
                .filter(search_dates::param.eq(param));
            match comparator {
                DateComparator::Eq => Box::new(exists(
                    base.filter(search_dates::low.ge(*low))
                        .filter(search_dates::high.le(*high)),
                )),
                DateComparator::Ge => Box::new(exists(base.filter(search_dates::high.ge(*low)))),
                DateComparator::Le => Box::new(exists(base.filter(search_dates::low.le(*high)))),
                DateComparator::Gt => Box::new(exists(base.filter(search_dates::high.gt(*high)))),
                DateComparator::Lt => Box::new(exists(base.filter(search_dates::low.lt(*low)))),
            }
        }
    }
}

/// The order of search results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// By key, oldest first: the order resources were first stored (the default).
    Key,
    /// By key, newest first.
    KeyDescending,
    /// By the start of a date parameter's value (one per resource, such as a
    /// DocumentReference's `date`), then by key; resources without one come first
    /// ascending, last descending.
    Date {
        /// The date search parameter, a name the caller controls (it is written into the
        /// SQL text).
        param: &'static str,
        /// Newest first.
        descending: bool,
    },
}

/// Where a page starts: after this position in the order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cursor {
    /// The first page.
    Start,
    /// After this key ([`Order::Key`], [`Order::KeyDescending`]).
    Key(i64),
    /// After this date and key ([`Order::Date`]).
    DateKey(i64, i64),
}

/// The current, not deleted resources of `resource_type` matching every criterion.
fn matching(resource_type: &str, criteria: &[Criterion]) -> resources::BoxedQuery<'static, Db> {
    let mut query = resources::table
        .filter(resources::resource_type.eq(resource_type.to_owned()))
        .filter(resources::deleted.eq(false))
        .into_boxed();
    for criterion in criteria {
        let mut alternatives = criterion
            .values
            .iter()
            .map(|v| condition(&criterion.param, v));
        let Some(first) = alternatives.next() else {
            continue;
        };
        let any = alternatives.fold(first, |acc, next| Box::new(acc.or(next)) as Condition);
        query = query.filter(any);
    }
    query
}

/// How many current resources match every criterion (FHIR `_total=accurate`).
pub fn count(
    conn: &mut DbConnection,
    resource_type: &str,
    criteria: &[Criterion],
) -> Result<i64, StoreError> {
    Ok(matching(resource_type, criteria).count().get_result(conn)?)
}

/// The first microsecond of a resource's value of a date parameter, as SQL (the smallest
/// when there are several; `i64::MIN` when there is none).
fn date_key_sql(param: &str) -> String {
    // The time of the current version is the resource row's own column.
    if param == "_lastUpdated" {
        return "resources.last_updated".to_owned();
    }
    format!(
        "COALESCE((SELECT MIN(sd.low) FROM search_dates sd WHERE sd.resource_pk = resources.pk \
         AND sd.param = '{param}'), {})",
        i64::MIN
    )
}

/// Current, not deleted resources of `resource_type` matching every criterion, in
/// `order`, after `after`, at most `limit` of them.
pub fn search(
    conn: &mut DbConnection,
    resource_type: &str,
    criteria: &[Criterion],
    order: Order,
    after: Cursor,
    limit: usize,
) -> Result<Page, StoreError> {
    use diesel::dsl::sql;
    use diesel::sql_types::{BigInt, Bool};
    let mut query = matching(resource_type, criteria);
    let fetch = i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX);
    let mut keys: Vec<(i64, i64)> = match order {
        Order::Key | Order::KeyDescending => {
            let descending = order == Order::KeyDescending;
            if let Cursor::Key(k) = after {
                query = if descending {
                    query.filter(resources::pk.lt(k))
                } else {
                    query.filter(resources::pk.gt(k))
                };
            }
            let query = if descending {
                query.order(resources::pk.desc())
            } else {
                query.order(resources::pk.asc())
            };
            query
                .limit(fetch)
                .select(resources::pk)
                .load::<i64>(conn)?
                .into_iter()
                .map(|k| (k, 0))
                .collect()
        }
        Order::Date { param, descending } => {
            let date = date_key_sql(param);
            if let Cursor::DateKey(d, k) = after {
                // Row values compare lexicographically on both backends; the numbers
                // are formatted integers, never client text.
                let op = if descending { "<" } else { ">" };
                query = query.filter(sql::<Bool>(&format!(
                    "({date}, resources.pk) {op} ({d}, {k})"
                )));
            }
            let query = if descending {
                query
                    .order(sql::<BigInt>(&date).desc())
                    .then_order_by(resources::pk.desc())
            } else {
                query
                    .order(sql::<BigInt>(&date).asc())
                    .then_order_by(resources::pk.asc())
            };
            query
                .limit(fetch)
                .select((resources::pk, sql::<BigInt>(&date)))
                .load::<(i64, i64)>(conn)?
        }
    };
    let more = keys.len() > limit;
    keys.truncate(limit);
    // The bodies of exactly the current versions of the page, in a second, keyed query
    // (the criteria are built on `resources` alone), put back in the page's order.
    let pks: Vec<i64> = keys.iter().map(|(k, _)| *k).collect();
    let mut rows: Vec<(i64, String, i64, i64, Option<String>)> = resources::table
        .inner_join(
            resource_versions::table.on(resource_versions::resource_pk
                .eq(resources::pk)
                .and(resource_versions::version_id.eq(resources::version_id))),
        )
        .filter(resources::pk.eq_any(&pks))
        .filter(resources::deleted.eq(false))
        .select((
            resources::pk,
            resources::id,
            resources::version_id,
            resources::last_updated,
            resource_versions::body,
        ))
        .load(conn)?;
    rows.sort_by_key(|row| pks.iter().position(|k| *k == row.0));
    let next = match (more, keys.last(), order) {
        (false, _, _) | (_, None, _) => None,
        (true, Some((k, d)), Order::Date { .. }) => Some(Cursor::DateKey(*d, *k)),
        (true, Some((k, _)), _) => Some(Cursor::Key(*k)),
    };
    Ok(Page {
        rows: rows
            .into_iter()
            .map(|(pk, id, version, updated, body)| {
                (pk, id, version, updated, body.unwrap_or_default())
            })
            .collect(),
        more,
        next,
    })
}
