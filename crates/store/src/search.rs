//! Searching current resources by their extracted search parameters.
//!
//! A search is a conjunction of [`Criterion`]s, each a disjunction of values of one
//! parameter (FHIR's `a=x,y&b=z` is `(a=x OR a=y) AND b=z`). Results come in key order
//! (or by a date, then key) and page by keyset ([`Cursor`]: the position of the last row
//! shown), never by offset, so a page boundary does not move when resources are added.
//!
//! **Plans.** A search starts from the criterion that most surely narrows it (a logical
//! id, an identifier or a patient, a name prefix, a date range: see `rank`), read from
//! that parameter's index; every other criterion is a fenced `EXISTS` probing the
//! candidate's own index rows, so a resource with several values of one parameter
//! matches once. The plan so follows from the query's shape, not from the statistics of
//! its values: PostgreSQL plans these statements without their values (every connection
//! runs under `force_generic_plan`, `connection.rs`), and a plan chosen from estimates
//! would start an ITI-67 search from every `status=current` entry. The store's plan
//! tests (`tests/store/plans.rs`) hold each search shape to this on a loaded database.

use std::fmt::Write as _;

use diesel::prelude::*;
use diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use diesel::sql_types::{BigInt, Text};

use crate::schema::{resource_versions, resources};
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
    /// Whether each value names one or a few resources (an identifier, a patient's
    /// references): a search may start from this criterion whatever else it asks.
    pub narrow: bool,
}

impl Criterion {
    /// References from `param` to any of `targets`, resources of `target_type`; narrow
    /// when the targets are patients (a patient has few entries, an IPRESS many).
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
            narrow: target_type == "Patient",
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

/// Search SQL for one backend, with the values its placeholders take, in order.
///
/// Searches are written as SQL text rather than with diesel's query builder because
/// their shape is what keeps them at index speed, and the builder does not express it:
/// which criterion a search starts from, and an optimisation fence (`OFFSET 0`) on the
/// others. Client text is only ever bound; integers and parameter names from the
/// registry's own table are written in.
struct Sql {
    text: String,
    values: Vec<String>,
    postgres: bool,
}

impl Sql {
    fn new(conn: &DbConnection) -> Self {
        Self {
            text: String::with_capacity(512),
            values: Vec::new(),
            postgres: conn.backend() == crate::Backend::Postgres,
        }
    }

    fn push(&mut self, sql: &str) -> &mut Self {
        self.text.push_str(sql);
        self
    }

    /// A bound text value.
    fn bind(&mut self, value: &str) -> &mut Self {
        self.values.push(value.to_owned());
        if self.postgres {
            let n = self.values.len();
            let _ = write!(self.text, "${n}");
        } else {
            self.text.push('?');
        }
        self
    }

    fn int(&mut self, value: i64) -> &mut Self {
        let _ = write!(self.text, "{value}");
        self
    }

    /// A name from the registry's tables (a resource type, a search parameter), written
    /// in so that the planner sees it even in a generic plan; bound should it ever hold
    /// anything but the characters such names are made of.
    fn name(&mut self, name: &str) -> &mut Self {
        let plain = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
        if plain {
            let _ = write!(self.text, "'{name}'");
            self
        } else {
            self.bind(name)
        }
    }

    /// Compares text by its bytes (code points), the order a prefix range needs: the
    /// `C` collation on PostgreSQL (and its index, migration 000014), SQLite's default.
    fn bytewise(&mut self) -> &mut Self {
        if self.postgres {
            self.text.push_str(" COLLATE \"C\"");
        }
        self
    }

    /// Keeps PostgreSQL from turning an `EXISTS` into a join it may start from: the
    /// subquery stays a probe of one resource's index rows.
    fn fence(&mut self) -> &mut Self {
        if self.postgres {
            self.text.push_str(" OFFSET 0");
        }
        self
    }

    fn query(&self) -> BoxedSqlQuery<'_, Db, SqlQuery> {
        self.values.iter().fold(
            diesel::sql_query(self.text.as_str()).into_boxed::<Db>(),
            |query, value| query.bind::<Text, _>(value.clone()),
        )
    }
}

/// The first string after every string starting with `prefix`, in code point order
/// (`None`: there is none), so that "starts with" is a range an index answers in any
/// plan, where `LIKE` with a bound pattern is not.
fn prefix_end(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = match u32::from(last) + 1 {
            0xD800 => Some('\u{E000}'),
            n => char::from_u32(n),
        };
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// The index table a match is looked up in.
fn index_table(value: &Match) -> &'static str {
    match value {
        Match::Token { .. } => "search_tokens",
        Match::StringPrefix(_) => "search_strings",
        Match::Reference { .. } => "search_references",
        Match::Date { .. } => "search_dates",
        Match::HeldOrUnlabelled(_) => "record_entries",
    }
}

/// The predicate a row of the match's index table (`alias`) satisfies, its parameter
/// aside.
fn row_predicate(sql: &mut Sql, alias: &str, value: &Match) {
    let col = |c: &str| format!("{alias}.{c}");
    match value {
        Match::Token { system, code } => {
            sql.push(&col("code")).push(" = ").bind(code);
            match system.as_deref() {
                None => {}
                Some("") => {
                    sql.push(" AND ").push(&col("system")).push(" IS NULL");
                }
                Some(s) => {
                    sql.push(" AND ").push(&col("system")).push(" = ").bind(s);
                }
            }
        }
        Match::StringPrefix(prefix) => {
            sql.push(&col("value")).bytewise().push(" >= ").bind(prefix);
            if let Some(end) = prefix_end(prefix) {
                sql.push(" AND ")
                    .push(&col("value"))
                    .bytewise()
                    .push(" < ")
                    .bind(&end);
            }
        }
        Match::Reference {
            target_type,
            target_id,
        } => {
            sql.push(&col("target_type"))
                .push(" = ")
                .bind(target_type)
                .push(" AND ")
                .push(&col("target_id"))
                .push(" = ")
                .bind(target_id);
        }
        Match::HeldOrUnlabelled(custodian) => {
            sql.push("(")
                .push(&col("custodian_id"))
                .push(" = ")
                .bind(custodian)
                .push(" OR NOT ")
                .push(&col("sensitive"))
                .push(")");
        }
        Match::Date {
            comparator,
            low,
            high,
        } => {
            let (low_col, high_col) = (col("low"), col("high"));
            match comparator {
                // `low <= high` is given, so `low <= high bound` adds nothing but what
                // the planner needs: a closed range on one column, which it estimates
                // as narrow as it is (two open bounds on two columns look like a
                // quarter of the table).
                DateComparator::Eq => sql
                    .push(&low_col)
                    .push(" >= ")
                    .int(*low)
                    .push(" AND ")
                    .push(&low_col)
                    .push(" <= ")
                    .int(*high)
                    .push(" AND ")
                    .push(&high_col)
                    .push(" <= ")
                    .int(*high),
                DateComparator::Ge => sql.push(&high_col).push(" >= ").int(*low),
                DateComparator::Le => sql.push(&low_col).push(" <= ").int(*high),
                DateComparator::Gt => sql.push(&high_col).push(" > ").int(*high),
                DateComparator::Lt => sql.push(&low_col).push(" < ").int(*low),
            };
        }
    }
}

/// A resource row's own columns: the logical id and the time of the current version
/// (`meta.lastUpdated`, an instant: the comparisons of a one-point range).
fn column_predicate(sql: &mut Sql, param: &str, value: &Match) -> bool {
    match (param, value) {
        ("_id", Match::Token { code, .. }) => {
            sql.push("r.id = ").bind(code);
        }
        (
            "_lastUpdated",
            Match::Date {
                comparator,
                low,
                high,
            },
        ) => {
            let at = "r.last_updated";
            match comparator {
                DateComparator::Eq => sql
                    .push(at)
                    .push(" >= ")
                    .int(*low)
                    .push(" AND ")
                    .push(at)
                    .push(" <= ")
                    .int(*high),
                DateComparator::Ge => sql.push(at).push(" >= ").int(*low),
                DateComparator::Le => sql.push(at).push(" <= ").int(*high),
                DateComparator::Gt => sql.push(at).push(" > ").int(*high),
                DateComparator::Lt => sql.push(at).push(" < ").int(*low),
            };
        }
        _ => return false,
    }
    true
}

/// A criterion checked against one resource (`r`): each alternative a probe of that
/// resource's own index rows, fenced so that it stays one.
fn probe(sql: &mut Sql, criterion: &Criterion) {
    sql.push("(");
    for (i, value) in criterion.values.iter().enumerate() {
        if i > 0 {
            sql.push(" OR ");
        }
        sql.push("(");
        if !column_predicate(sql, &criterion.param, value) {
            let table = index_table(value);
            sql.push("EXISTS (SELECT 1 FROM ")
                .push(table)
                .push(" x WHERE x.resource_pk = r.pk");
            // The record index holds one row per entry and no parameter name.
            if !matches!(value, Match::HeldOrUnlabelled(_)) {
                sql.push(" AND x.param = ").name(&criterion.param);
            }
            sql.push(" AND ");
            row_predicate(sql, "x", value);
            sql.fence().push(")");
        }
        sql.push(")");
    }
    sql.push(")");
}

/// How surely a criterion narrows a search to few resources, judged from its kind and
/// values alone (lower is surer; `None`: never started from). Plans must not depend on
/// the statistics of the values (diesel's statements run under `force_generic_plan`),
/// so the search starts from the surest criterion and probes the others: a logical id;
/// what the caller marked narrow (an identifier, a patient); a date within one day (a
/// birth date: one person in some 30 000 shares it); a name prefix, the longest first;
/// a wider date range, the narrowest first. A status or a type holds for most resources
/// of a kind, and an IPRESS holds many entries: searches by those alone walk the
/// resources in key order instead, which fills a page after a few rows.
fn rank(criterion: &Criterion) -> Option<(u8, i64)> {
    const DAY: i64 = 86_400_000_000;
    let first = criterion.values.first()?;
    let kind = std::mem::discriminant(first);
    if criterion
        .values
        .iter()
        .any(|v| std::mem::discriminant(v) != kind)
    {
        return None;
    }
    // The widest alternative decides: an OR is as wide as its widest part.
    let widest_date = || {
        criterion
            .values
            .iter()
            .map(|v| match v {
                Match::Date {
                    comparator: DateComparator::Eq,
                    low,
                    high,
                } => high.saturating_sub(*low),
                _ => i64::MAX,
            })
            .max()
            .unwrap_or(i64::MAX)
    };
    let shortest_prefix = || {
        criterion
            .values
            .iter()
            .map(|v| match v {
                Match::StringPrefix(p) => i64::try_from(p.chars().count()).unwrap_or(i64::MAX),
                _ => 0,
            })
            .min()
            .unwrap_or(0)
    };
    match (criterion.param.as_str(), first) {
        ("_id", Match::Token { .. }) => Some((0, 0)),
        ("_lastUpdated", _) | (_, Match::HeldOrUnlabelled(_)) => None,
        _ if criterion.narrow => Some((1, 0)),
        (_, Match::Date { .. }) if widest_date() < DAY => Some((2, 0)),
        (_, Match::StringPrefix(_)) => Some((3, -shortest_prefix())),
        (_, Match::Date { .. }) => Some((4, widest_date())),
        _ => None,
    }
}

/// The criterion a search starts from: its resources' keys, from the criterion's index.
fn lead(sql: &mut Sql, criterion: &Criterion) {
    if criterion.param == "_id" {
        sql.push("r.id IN (");
        for (i, value) in criterion.values.iter().enumerate() {
            if let Match::Token { code, .. } = value {
                if i > 0 {
                    sql.push(", ");
                }
                sql.bind(code);
            }
        }
        sql.push(")");
        return;
    }
    let table = criterion
        .values
        .first()
        .map_or("search_tokens", index_table);
    sql.push("r.pk IN (SELECT l.resource_pk FROM ")
        .push(table)
        .push(" l WHERE l.param = ")
        .name(&criterion.param)
        .push(" AND (");
    for (i, value) in criterion.values.iter().enumerate() {
        if i > 0 {
            sql.push(" OR ");
        }
        sql.push("(");
        row_predicate(sql, "l", value);
        sql.push(")");
    }
    sql.push("))");
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

/// `FROM … WHERE …` of the current, not deleted resources of `resource_type` matching
/// every criterion (`r` is the resource row); whether it starts from a criterion.
fn matching(sql: &mut Sql, resource_type: &str, criteria: &[Criterion]) -> bool {
    let criteria: Vec<&Criterion> = criteria.iter().filter(|c| !c.values.is_empty()).collect();
    let first = criteria
        .iter()
        .enumerate()
        .filter_map(|(i, c)| rank(c).map(|r| (r, i)))
        .min()
        .map(|(_, i)| i);
    sql.push(" FROM resources r WHERE ");
    if let Some(i) = first {
        lead(sql, criteria[i]);
        sql.push(" AND ");
    }
    sql.push("r.resource_type = ")
        .name(resource_type)
        .push(" AND NOT r.deleted");
    for (i, criterion) in criteria.iter().enumerate() {
        if Some(i) != first {
            sql.push(" AND ");
            probe(sql, criterion);
        }
    }
    first.is_some()
}

/// How many current resources match every criterion (FHIR `_total=accurate`).
pub fn count(
    conn: &mut DbConnection,
    resource_type: &str,
    criteria: &[Criterion],
) -> Result<i64, StoreError> {
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let mut sql = Sql::new(conn);
    sql.push("SELECT COUNT(*) AS n");
    matching(&mut sql, resource_type, criteria);
    let rows: Vec<Count> = sql.query().load(conn)?;
    Ok(rows.first().map_or(0, |c| c.n))
}

/// The first microsecond of a resource's value of a date parameter, as SQL (the smallest
/// when there are several; `i64::MIN` when there is none).
fn date_key_sql(param: &str) -> String {
    // The time of the current version is the resource row's own column.
    if param == "_lastUpdated" {
        return "r.last_updated".to_owned();
    }
    format!(
        "COALESCE((SELECT MIN(sd.low) FROM search_dates sd WHERE sd.resource_pk = r.pk \
         AND sd.param = '{param}'), {})",
        i64::MIN
    )
}

/// The SQL of a page of keys of a search (and the date key the order uses).
fn page_sql(
    conn: &DbConnection,
    resource_type: &str,
    criteria: &[Criterion],
    order: Order,
    after: Cursor,
    limit: usize,
) -> Sql {
    let fetch = i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX);
    let mut sql = Sql::new(conn);
    let (date, descending) = match order {
        Order::Key => ("0".to_owned(), false),
        Order::KeyDescending => ("0".to_owned(), true),
        Order::Date { param, descending } => (date_key_sql(param), descending),
    };
    sql.push("SELECT pk, d FROM (SELECT r.pk AS pk, CAST(")
        .push(&date)
        .push(" AS BIGINT) AS d");
    let led = matching(&mut sql, resource_type, criteria);
    let (op, direction) = if descending {
        ("<", " DESC")
    } else {
        (">", "")
    };
    match (order, after) {
        (Order::Date { .. }, Cursor::DateKey(d, k)) => {
            // Row values compare lexicographically on both backends.
            sql.push(" AND (")
                .push(&date)
                .push(", r.pk) ")
                .push(op)
                .push(" (")
                .int(d)
                .push(", ")
                .int(k)
                .push(")");
        }
        (Order::Key | Order::KeyDescending, Cursor::Key(k)) => {
            sql.push(" AND r.pk ").push(op).push(" ").int(k);
        }
        _ => {}
    }
    // A search that starts from a criterion reads all its candidates, then orders
    // them: fenced, the planner cannot trade that for a walk of the whole table in key
    // order that it hopes a `LIMIT` will end early (it assumes the matches are spread
    // evenly; a birth date's are not). A search that starts from nothing is such a walk,
    // by design, and stays unfenced so the `LIMIT` ends it.
    if led {
        sql.fence();
    }
    sql.push(") m ORDER BY ");
    if matches!(order, Order::Date { .. }) {
        sql.push("d").push(direction).push(", ");
    }
    sql.push("pk").push(direction).push(" LIMIT ").int(fetch);
    sql
}

/// The plan PostgreSQL runs a search with, as `EXPLAIN (ANALYZE, FORMAT JSON)` gives it,
/// planned as a prepared statement is under `force_generic_plan` (the mode of every
/// connection) or with its values (`generic: false`): what the plan tests read.
#[doc(hidden)]
#[cfg(feature = "postgres")]
pub fn explain(
    conn: &mut DbConnection,
    resource_type: &str,
    criteria: &[Criterion],
    order: Order,
    after: Cursor,
    limit: usize,
    generic: bool,
) -> Result<String, StoreError> {
    use diesel::connection::SimpleConnection;
    #[derive(QueryableByName)]
    struct Plan {
        #[diesel(sql_type = Text, column_name = "QUERY PLAN")]
        plan: String,
    }
    let sql = page_sql(conn, resource_type, criteria, order, after, limit);
    let mode = if generic {
        "force_generic_plan"
    } else {
        "force_custom_plan"
    };
    // An escape string literal means the same whatever `standard_conforming_strings` is.
    let literals: Vec<String> = sql
        .values
        .iter()
        .map(|v| format!("E'{}'", v.replace('\\', "\\\\").replace('\'', "''")))
        .collect();
    conn.batch_execute(&format!(
        "PREPARE renhice_explain AS {}; SET plan_cache_mode = {mode}",
        sql.text
    ))?;
    let arguments = if literals.is_empty() {
        String::new()
    } else {
        format!("({})", literals.join(", "))
    };
    let plan: Result<Vec<Plan>, _> = diesel::sql_query(format!(
        "EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE renhice_explain{arguments}"
    ))
    .load(conn);
    conn.batch_execute("DEALLOCATE renhice_explain; SET plan_cache_mode = force_generic_plan")?;
    Ok(plan?.into_iter().map(|p| p.plan).collect())
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
    #[derive(QueryableByName)]
    struct Key {
        #[diesel(sql_type = BigInt)]
        pk: i64,
        #[diesel(sql_type = BigInt)]
        d: i64,
    }
    let sql = page_sql(conn, resource_type, criteria, order, after, limit);
    let mut keys: Vec<(i64, i64)> = sql
        .query()
        .load::<Key>(conn)?
        .into_iter()
        .map(|k| (k.pk, k.d))
        .collect();
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

#[cfg(test)]
mod tests {
    use super::prefix_end;

    #[test]
    fn the_end_of_a_prefix_range_is_the_next_string_in_code_point_order() {
        assert_eq!(prefix_end("garcia").as_deref(), Some("garcib"));
        assert_eq!(prefix_end("ga%").as_deref(), Some("ga&"));
        assert_eq!(prefix_end("ñ").as_deref(), Some("ò"));
        // The surrogates are not characters: after U+D7FF comes U+E000.
        assert_eq!(prefix_end("a\u{D7FF}").as_deref(), Some("a\u{E000}"));
        // Nothing follows the last code point: the one before it moves on.
        assert_eq!(prefix_end("a\u{10FFFF}").as_deref(), Some("b"));
        assert_eq!(prefix_end("\u{10FFFF}"), None);
        assert_eq!(prefix_end(""), None);
    }
}
