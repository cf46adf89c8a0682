//! The audit trail: append-only rows, sealed into a hash chain.
//!
//! Events are written by [`append`] inside whatever transaction the caller holds (the
//! transaction of the change an event records, or one of its own for reads and
//! refusals), each with the digest of its content. A sealer ([`seal`]) later takes the
//! events of every transaction that has ended, in insertion order, and appends one
//! `audit_chain` link per event:
//!
//! ```text
//! digest(event) = SHA-256(every column of its content, each length-prefixed)
//! link[n]       = SHA-256("renhice-audit-chain-v1" ‖ link[n−1] ‖ n ‖ digest(event))
//! link[0]       = 32 zero bytes
//! ```
//!
//! Each link keeps its event's digest beside its hash, so that an altered event is told
//! apart from an altered link.
//!
//! Sealing apart from writing keeps the chain off the hot path: requests never wait for
//! one another to take the chain's head, while the chain still orders every event (the
//! same split as a Certificate Transparency log's sequencer). Which events are new needs
//! no queue: on PostgreSQL each event carries its transaction's id, and every
//! transaction older than the oldest one still running has ended, so the sealer takes
//! the events of the ids between where it stopped and that horizon, exactly once; on
//! SQLite, where one transaction writes at a time, insertion order is commit order and
//! the sealer follows `seq`. The sealer reads back digests, never bodies. [`verify`] recomputes
//! every link and names each event altered, removed or moved, each link altered or
//! missing, and each event that should have been sealed and was not. Both
//! backends refuse updates and deletions of `audit_events` and `audit_chain` by
//! trigger; the chain is what shows an edit made by someone who removed the triggers.

use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use ring::digest::{Context, SHA256};

use crate::rows::{CHUNK, EventRow, InsertChunked as _, LinkRow};
use crate::schema::{audit_chain, audit_events, audit_sealer};
use crate::{DbConnection, StoreError};

/// An event to append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAuditEvent {
    /// `AuditEvent.id`.
    pub id: String,
    /// `AuditEvent.recorded`, microseconds since the Unix epoch.
    pub recorded: i64,
    /// The patient the event concerns.
    pub patient_id: Option<String>,
    /// The caller's IPRESS (RENIPRESS code).
    pub ipress: Option<String>,
    /// The caller's role.
    pub role: Option<String>,
    /// `AuditEvent.action`.
    pub action: String,
    /// `AuditEvent.outcome`.
    pub outcome: String,
    /// The `AuditEvent` as FHIR JSON.
    pub body: String,
    /// Who acted, for `agent-name` searches: the folded words of the person's name (or
    /// the client's id), each preceded by a space (` rosa quispe mamani`).
    pub agent_name: Option<String>,
}

/// A stored event.
#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
pub struct AuditRow {
    /// Insertion order.
    pub seq: i64,
    /// `AuditEvent.id`.
    pub id: String,
    /// Microseconds since the Unix epoch.
    pub recorded: i64,
    /// The patient.
    pub patient_id: Option<String>,
    /// The caller's IPRESS.
    pub ipress: Option<String>,
    /// The caller's role.
    pub role: Option<String>,
    /// `AuditEvent.action`.
    pub action: String,
    /// `AuditEvent.outcome`.
    pub outcome: String,
    /// The `AuditEvent` JSON.
    pub body: String,
    /// Who acted, folded ([`NewAuditEvent::agent_name`]); none on events written before
    /// it was kept.
    pub agent_name: Option<String>,
}

/// The columns of [`AuditRow`], in order.
type RowColumns = (
    audit_events::seq,
    audit_events::id,
    audit_events::recorded,
    audit_events::patient_id,
    audit_events::ipress,
    audit_events::role,
    audit_events::action,
    audit_events::outcome,
    audit_events::body,
    audit_events::agent_name,
);

const ROW: RowColumns = (
    audit_events::seq,
    audit_events::id,
    audit_events::recorded,
    audit_events::patient_id,
    audit_events::ipress,
    audit_events::role,
    audit_events::action,
    audit_events::outcome,
    audit_events::body,
    audit_events::agent_name,
);

impl NewAuditEvent {
    /// The digest of the event's content.
    #[must_use]
    pub fn digest(&self) -> [u8; 32] {
        content_digest(&Content {
            id: &self.id,
            recorded: self.recorded,
            patient_id: self.patient_id.as_deref(),
            ipress: self.ipress.as_deref(),
            role: self.role.as_deref(),
            action: &self.action,
            outcome: &self.outcome,
            body: &self.body,
            agent_name: self.agent_name.as_deref(),
        })
    }
}

/// Appends events on the connection's current transaction, or in one of their own.
pub fn append(conn: &mut DbConnection, events: &[NewAuditEvent]) -> QueryResult<()> {
    let digests: Vec<[u8; 32]> = events.iter().map(NewAuditEvent::digest).collect();
    let rows: Vec<_> = events
        .iter()
        .zip(&digests)
        .map(|(e, digest)| EventRow::new(e, digest))
        .collect();
    rows.insert_chunked(conn, audit_events::table, CHUNK / 10)
}

/// Appends events in a transaction of their own.
pub fn append_now(conn: &mut DbConnection, events: &[NewAuditEvent]) -> Result<(), StoreError> {
    conn.transaction(|conn| append(conn, events))?;
    Ok(())
}

/// What an event's digest covers: every column of its content (not its place).
struct Content<'a> {
    id: &'a str,
    recorded: i64,
    patient_id: Option<&'a str>,
    ipress: Option<&'a str>,
    role: Option<&'a str>,
    action: &'a str,
    outcome: &'a str,
    body: &'a str,
    agent_name: Option<&'a str>,
}

fn content_digest(c: &Content<'_>) -> [u8; 32] {
    let mut ctx = Context::new(&SHA256);
    let mut field = |bytes: &[u8]| {
        ctx.update(&(bytes.len() as u64).to_be_bytes());
        ctx.update(bytes);
    };
    field(c.id.as_bytes());
    field(&c.recorded.to_be_bytes());
    for optional in [c.patient_id, c.ipress, c.role] {
        match optional {
            // A distinct marker for "none", so `None` and `Some("")` differ.
            None => field(&[0xff]),
            Some(text) => field(text.as_bytes()),
        }
    }
    field(c.action.as_bytes());
    field(c.outcome.as_bytes());
    field(c.body.as_bytes());
    // Kept since migration 000010: an event with no agent name digests as events did
    // before it, so the links sealed then still verify; one with a name covers it too,
    // behind a marker no earlier event's fields can end with.
    if let Some(name) = c.agent_name {
        field(b"agent_name");
        field(name.as_bytes());
    }
    to_array(ctx.finish().as_ref())
}

/// The digest of an event's row as stored now: every column of its content, each
/// length-prefixed so that no two different contents hash alike.
#[must_use]
pub fn event_digest(row: &AuditRow) -> [u8; 32] {
    content_digest(&Content {
        id: &row.id,
        recorded: row.recorded,
        patient_id: row.patient_id.as_deref(),
        ipress: row.ipress.as_deref(),
        role: row.role.as_deref(),
        action: &row.action,
        outcome: &row.outcome,
        body: &row.body,
        agent_name: row.agent_name.as_deref(),
    })
}

/// The link at `position` after `previous`, for an event of digest `event`.
#[must_use]
pub fn link(previous: &[u8; 32], position: i64, event: &[u8; 32]) -> [u8; 32] {
    let mut ctx = Context::new(&SHA256);
    ctx.update(b"renhice-audit-chain-v1");
    ctx.update(previous);
    ctx.update(&position.to_be_bytes());
    ctx.update(event);
    to_array(ctx.finish().as_ref())
}

fn to_array(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0_u8; 32];
    out.copy_from_slice(&bytes[..32]);
    out
}

/// The hash before the first link.
pub const GENESIS: [u8; 32] = [0; 32];

/// The last link of the chain: `(position, hash)`, `(0, GENESIS)` when empty.
pub fn head(conn: &mut DbConnection) -> Result<(i64, [u8; 32]), StoreError> {
    Ok(head_on(conn)?)
}

fn head_on(conn: &mut DbConnection) -> QueryResult<(i64, [u8; 32])> {
    let last: Option<(i64, Vec<u8>)> = audit_chain::table
        .order(audit_chain::position.desc())
        .select((audit_chain::position, audit_chain::hash))
        .first(conn)
        .optional()?;
    Ok(last.map_or((0, GENESIS), |(p, h)| {
        (p, if h.len() == 32 { to_array(&h) } else { GENESIS })
    }))
}

/// Transaction ids a PostgreSQL sealing round covers at most.
#[cfg(feature = "postgres")]
const XID_WINDOW: i64 = 100_000;

/// The newly ended events a round seals, where the next round starts, and whether more
/// may be ready now.
type Round = (Vec<(i64, Vec<u8>)>, i64, bool);

/// Which events are new for a sealing round, holding the sealer's lock; `None` when
/// another sealer holds it.
#[cfg_attr(
    not(feature = "sqlite"),
    allow(
        unused_variables,
        reason = "PostgreSQL seals by transaction ids, not by count"
    )
)]
fn new_events(conn: &mut DbConnection, max: i64) -> QueryResult<Option<(i64, Round)>> {
    match conn {
        #[cfg(feature = "postgres")]
        DbConnection::Pg(c) => {
            // One sealer at a time across processes; the others skip this round.
            let locked: bool = diesel::select(diesel::dsl::sql::<diesel::sql_types::Bool>(
                "pg_try_advisory_xact_lock(7734001)",
            ))
            .get_result(c)?;
            if !locked {
                return Ok(None);
            }
            // Every transaction with a smaller id has ended: its events are all visible
            // now, or rolled back for good.
            let horizon: i64 = diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
                "txid_snapshot_xmin(txid_current_snapshot())",
            ))
            .get_result(c)?;
            let below: i64 = audit_sealer::table
                .select(audit_sealer::sealed_below)
                .first(c)?;
            let upto = horizon.min(below.saturating_add(XID_WINDOW)).max(below);
            let rows = audit_events::table
                .filter(audit_events::xid.ge(below))
                .filter(audit_events::xid.lt(upto))
                .order(audit_events::seq)
                .select((audit_events::seq, audit_events::digest))
                .load(c)?;
            Ok(Some((below, (rows, upto, upto < horizon))))
        }
        #[cfg(feature = "sqlite")]
        DbConnection::Sqlite(c) => {
            // Take the write lock first (a statement that changes nothing): a transaction
            // that read first could not upgrade while another connection writes.
            diesel::sql_query("UPDATE audit_sealer SET sealed_below = sealed_below").execute(c)?;
            let below: i64 = audit_sealer::table
                .select(audit_sealer::sealed_below)
                .first(c)?;
            let rows: Vec<(i64, Vec<u8>)> = audit_events::table
                .filter(audit_events::seq.gt(below))
                .order(audit_events::seq)
                .limit(max)
                .select((audit_events::seq, audit_events::digest))
                .load(c)?;
            let last = rows.last().map_or(below, |r| r.0);
            let more = i64::try_from(rows.len()).unwrap_or(i64::MAX) == max;
            Ok(Some((below, (rows, last, more))))
        }
    }
}

/// Seals, in one transaction, the events of transactions that have ended (on SQLite up
/// to `max` of them), oldest first; returns how many, and whether more may be ready.
/// Another sealer at work at the same moment (a second server, or `renhice audit
/// verify`) makes this call seal nothing rather than fork the chain.
fn seal_round(conn: &mut DbConnection, max: usize) -> Result<(usize, bool), StoreError> {
    let limit = i64::try_from(max).unwrap_or(i64::MAX);
    let outcome = conn.transaction::<(usize, bool), DieselError, _>(|conn| {
        let Some((below, (rows, sealed_below, more))) = new_events(conn, limit)? else {
            return Ok((0, false));
        };
        if rows.is_empty() && sealed_below == below {
            return Ok((0, more));
        }
        let (mut position, mut previous) = head_on(conn)?;
        let mut links = Vec::with_capacity(rows.len());
        for (seq, digest) in &rows {
            position += 1;
            let digest = hash32(digest);
            previous = link(&previous, position, &digest);
            links.push(LinkRow {
                position,
                event_seq: *seq,
                digest: digest.to_vec(),
                hash: previous.to_vec(),
            });
        }
        links.insert_chunked(conn, audit_chain::table, CHUNK / 2)?;
        diesel::update(audit_sealer::table)
            .set(audit_sealer::sealed_below.eq(sealed_below))
            .execute(conn)?;
        Ok((rows.len(), more))
    });
    match outcome {
        Ok(n) => Ok(n),
        // Another sealer took the same positions first: nothing sealed this time.
        Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => Ok((0, false)),
        Err(e) => Err(e.into()),
    }
}

/// Seals the events of transactions that have ended (on SQLite, up to `max`); returns
/// how many.
pub fn seal(conn: &mut DbConnection, max: usize) -> Result<usize, StoreError> {
    Ok(seal_round(conn, max)?.0)
}

/// Seals every event of every transaction that has ended.
pub fn seal_all(conn: &mut DbConnection) -> Result<usize, StoreError> {
    let mut total = 0;
    loop {
        let (n, more) = seal_round(conn, SEAL_BATCH)?;
        total += n;
        if !more {
            return Ok(total);
        }
    }
}

/// Events sealed per transaction.
pub const SEAL_BATCH: usize = 2000;

/// What is wrong at one place of the audit trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The event's row is not what was sealed: changed, or moved (swapped with
    /// another row), after it was sealed.
    Altered {
        /// Chain position.
        position: i64,
        /// The event's insertion key.
        seq: i64,
        /// `AuditEvent.id` as stored now.
        id: String,
    },
    /// The link names an event that is not there any more.
    Removed {
        /// Chain position.
        position: i64,
        /// The removed event's insertion key.
        seq: i64,
    },
    /// The link's hash does not follow from the link before it: the link was changed,
    /// or links were reordered.
    LinkBroken {
        /// Chain position.
        position: i64,
    },
    /// Chain positions are missing: links were removed.
    Missing {
        /// First missing position.
        from: i64,
        /// Last missing position.
        to: i64,
    },
    /// An event in no link though the sealer has gone past it: written around the
    /// registry (or its link removed).
    Unsealed {
        /// The event's insertion key.
        seq: i64,
        /// `AuditEvent.id`.
        id: String,
    },
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Altered { position, seq, id } => write!(
                f,
                "chain position {position}: audit event row seq={seq} (AuditEvent/{id}) is not what was sealed there: altered or moved"
            ),
            Self::Removed { position, seq } => write!(
                f,
                "chain position {position}: audit event row seq={seq} was removed"
            ),
            Self::LinkBroken { position } => write!(
                f,
                "chain position {position}: the link does not follow from the one before it (altered or reordered)"
            ),
            Self::Missing { from, to } if from == to => {
                write!(f, "chain position {from} is missing (removed)")
            }
            Self::Missing { from, to } => {
                write!(f, "chain positions {from} to {to} are missing (removed)")
            }
            Self::Unsealed { seq, id } => write!(
                f,
                "audit event row seq={seq} (AuditEvent/{id}) is in no link though the chain has gone past it: written around the registry, or its link removed"
            ),
        }
    }
}

/// The result of [`verify`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Verification {
    /// Links checked.
    pub links: i64,
    /// Events waiting for their transaction to end before they are sealed.
    pub pending: i64,
    /// The last link's position and hash.
    pub head: (i64, Vec<u8>),
    /// Everything wrong, in chain order.
    pub problems: Vec<Problem>,
}

/// Links read per query while verifying.
const VERIFY_PAGE: i64 = 5000;

/// One link as read back, with its event (if still there).
type StoredLink = (i64, i64, Vec<u8>, Vec<u8>, Option<AuditRow>);

fn hash32(bytes: &[u8]) -> [u8; 32] {
    if bytes.len() == 32 {
        to_array(bytes)
    } else {
        // A length no link has: never equal to a computed hash.
        [0xff; 32]
    }
}

/// What an audit search keeps: each `Some` narrows it (alternatives within one).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Events about these patients.
    pub patients: Option<Vec<String>>,
    /// Events of callers acting for these IPRESS (RENIPRESS codes).
    pub ipress: Option<Vec<String>>,
    /// Events with these actions (`C`, `R`, `U`, `D`, `E`).
    pub actions: Option<Vec<String>>,
    /// Events with these outcomes (`0`, `4`, `8`).
    pub outcomes: Option<Vec<String>>,
    /// Events whose agent name has a word starting with one of these (folded as
    /// [`NewAuditEvent::agent_name`]; several words in one value must follow each other).
    pub agent_names: Option<Vec<String>>,
    /// Recorded at or after (microseconds since the Unix epoch).
    pub since: Option<i64>,
    /// Recorded at or before.
    pub until: Option<i64>,
}

/// Recomputes the whole chain and reports every problem.
///
/// Each link is checked on its own: its event's row against the digest it sealed, and
/// its hash against the link before it. A link that follows from the hash its
/// predecessor should have had (but not from the one stored) is intact: only the
/// predecessor was changed. The link after a gap cannot be checked and is not blamed.
pub fn verify(conn: &mut DbConnection) -> Result<Verification, StoreError> {
    let mut report = Verification::default();
    let mut expected_position = 1_i64;
    // The hashes the previous link may rightly have: as stored, and as recomputed.
    let mut previous: Vec<[u8; 32]> = vec![GENESIS];
    let mut after = 0_i64;
    loop {
        let page: Vec<StoredLink> = audit_chain::table
            .left_join(audit_events::table.on(audit_events::seq.eq(audit_chain::event_seq)))
            .filter(audit_chain::position.gt(after))
            .order(audit_chain::position)
            .limit(VERIFY_PAGE)
            .select((
                audit_chain::position,
                audit_chain::event_seq,
                audit_chain::digest,
                audit_chain::hash,
                ROW.nullable(),
            ))
            .load(conn)?;
        let Some(last) = page.last() else { break };
        after = last.0;
        for (position, seq, digest, hash, row) in page {
            let gap = position > expected_position;
            if gap {
                report.problems.push(Problem::Missing {
                    from: expected_position,
                    to: position - 1,
                });
            }
            expected_position = position + 1;
            report.links += 1;
            let (digest, stored) = (hash32(&digest), hash32(&hash));
            match row {
                None => report.problems.push(Problem::Removed { position, seq }),
                Some(row) if event_digest(&row) != digest => {
                    report.problems.push(Problem::Altered {
                        position,
                        seq,
                        id: row.id,
                    });
                }
                Some(_) => {}
            }
            let recomputed = previous.first().map(|p| link(p, position, &digest));
            let follows = previous
                .iter()
                .any(|p| link(p, position, &digest) == stored);
            if gap || follows {
                previous = vec![stored];
            } else {
                report.problems.push(Problem::LinkBroken { position });
                // The next link may follow from this one as stored (the edit is here) or
                // as it should be (this link alone was changed).
                previous = std::iter::once(stored).chain(recomputed).collect();
            }
            report.head = (position, hash);
        }
    }
    // Events in no link: waiting for their transaction to end (past where the sealer
    // stopped), or skipped by it, which only an event written around the registry is.
    let below: i64 = audit_sealer::table
        .select(audit_sealer::sealed_below)
        .first(conn)?;
    #[cfg(feature = "postgres")]
    let by_xid = matches!(conn, DbConnection::Pg(_));
    #[cfg(not(feature = "postgres"))]
    let by_xid = false;
    let outside: Vec<(i64, String, i64)> = audit_events::table
        .left_join(audit_chain::table.on(audit_chain::event_seq.eq(audit_events::seq)))
        .filter(audit_chain::position.is_null())
        .order(audit_events::seq)
        .select((audit_events::seq, audit_events::id, audit_events::xid))
        .load(conn)?;
    for (seq, id, xid) in outside {
        let waiting = if by_xid { xid >= below } else { seq > below };
        if waiting {
            report.pending += 1;
        } else {
            report.problems.push(Problem::Unsealed { seq, id });
        }
    }
    Ok(report)
}

/// A page of events, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditPage {
    /// The events.
    pub rows: Vec<AuditRow>,
    /// The `seq` to continue below, when more follow.
    pub next: Option<i64>,
}

/// The events `filter` keeps, newest first, below `before` (a `seq`), at most `limit`.
pub fn search(
    conn: &mut DbConnection,
    filter: &AuditFilter,
    before: Option<i64>,
    limit: usize,
) -> Result<AuditPage, StoreError> {
    let mut query = audit_events::table.select(ROW).into_boxed();
    if let Some(patients) = &filter.patients {
        query = query.filter(audit_events::patient_id.eq_any(patients.clone()));
    }
    if let Some(ipress) = &filter.ipress {
        query = query.filter(audit_events::ipress.eq_any(ipress.clone()));
    }
    if let Some(actions) = &filter.actions {
        query = query.filter(audit_events::action.eq_any(actions.clone()));
    }
    if let Some(outcomes) = &filter.outcomes {
        query = query.filter(audit_events::outcome.eq_any(outcomes.clone()));
    }
    if let Some(names) = &filter.agent_names {
        // ` rosa q%` finds "Rosa Quispe": words start after the stored leading spaces.
        let mut patterns = names.iter().map(|name| format!("% {}%", escape_like(name)));
        let first = patterns.next().unwrap_or_default();
        let mut any: Box<
            dyn BoxableExpression<
                    audit_events::table,
                    <DbConnection as diesel::Connection>::Backend,
                    SqlType = diesel::sql_types::Nullable<diesel::sql_types::Bool>,
                >,
        > = Box::new(audit_events::agent_name.like(first).escape('\\'));
        for pattern in patterns {
            any = Box::new(any.or(audit_events::agent_name.like(pattern).escape('\\')));
        }
        query = query.filter(any);
    }
    let (since, until) = (filter.since, filter.until);
    if let Some(since) = since {
        query = query.filter(audit_events::recorded.ge(since));
    }
    if let Some(until) = until {
        query = query.filter(audit_events::recorded.le(until));
    }
    if let Some(before) = before {
        query = query.filter(audit_events::seq.lt(before));
    }
    let fetch = i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX);
    let mut rows: Vec<AuditRow> = query
        .order(audit_events::seq.desc())
        .limit(fetch)
        .load(conn)?;
    let more = rows.len() > limit;
    rows.truncate(limit);
    let next = more.then(|| rows.last().map(|r| r.seq)).flatten();
    Ok(AuditPage { rows, next })
}

/// `text` with LIKE's wildcards and escape character escaped (by `\`).
fn escape_like(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// One event by `AuditEvent.id`.
pub fn read(conn: &mut DbConnection, id: &str) -> Result<Option<AuditRow>, StoreError> {
    Ok(audit_events::table
        .filter(audit_events::id.eq(id))
        .select(ROW)
        .first(conn)
        .optional()?)
}

// How the rows of this module's tables are built from its values.

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
            agent_name: e.agent_name.as_deref(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(body: &str) -> AuditRow {
        AuditRow {
            seq: 1,
            id: "e".to_owned(),
            recorded: 5,
            patient_id: None,
            ipress: Some(String::new()),
            role: None,
            action: "R".to_owned(),
            outcome: "0".to_owned(),
            body: body.to_owned(),
            agent_name: None,
        }
    }

    #[test]
    fn events_without_an_agent_name_digest_as_before_it_was_kept() {
        // SHA-256 over the length-prefixed columns of migration 000007, computed apart
        // (Python's hashlib): the links sealed before 000010 must still verify.
        let digest = event_digest(&row("{}"))
            .iter()
            .fold(String::new(), |mut hex, b| {
                use std::fmt::Write as _;
                let _ = write!(hex, "{b:02x}");
                hex
            });
        assert_eq!(
            digest,
            "846df3efdb31aa6ae79e39dc80508f5f83a8d9ad010d3264ef05b20daf5c4d9e"
        );
        let mut named = row("{}");
        named.agent_name = Some(" rosa".to_owned());
        assert_ne!(event_digest(&named), event_digest(&row("{}")));
        let mut other = named.clone();
        other.agent_name = Some(" rosa quispe".to_owned());
        assert_ne!(event_digest(&named), event_digest(&other));
    }

    #[test]
    fn every_column_counts_in_the_digest() {
        let base = row("{}");
        let mut other = base.clone();
        other.ipress = None;
        assert_ne!(event_digest(&base), event_digest(&other));
        let mut other = base.clone();
        other.patient_id = Some(String::new());
        assert_ne!(event_digest(&base), event_digest(&other));
        assert_ne!(event_digest(&base), event_digest(&row("{ }")));
        assert_eq!(event_digest(&base), event_digest(&row("{}")));
    }

    #[test]
    fn a_link_depends_on_its_predecessor_and_position() {
        let d = event_digest(&row("{}"));
        let first = link(&GENESIS, 1, &d);
        assert_ne!(first, link(&GENESIS, 2, &d));
        assert_ne!(link(&first, 2, &d), link(&GENESIS, 2, &d));
    }
}
