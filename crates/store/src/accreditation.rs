//! Accreditation runs started from the web app: a row per run, its progress updated
//! after each test, its reports kept once it ends.

use diesel::prelude::*;

use crate::schema::{accreditation_reports, accreditation_runs};
use crate::{DbConnection, StoreError};

/// A run's status while it goes.
pub const RUNNING: &str = "running";
/// A run that ran every test.
pub const COMPLETED: &str = "completed";
/// A run that ended before its last test (the registry stopped, the runner failed).
pub const STOPPED: &str = "stopped";

/// A run as listed and watched: everything but its reports.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = accreditation_runs)]
pub struct Run {
    /// Its id.
    pub id: String,
    /// The suite's name.
    pub suite: String,
    /// The suite's title.
    pub title: String,
    /// The SIHCE's FHIR base URL.
    pub target: String,
    /// Who started it, by name.
    pub auditor: String,
    /// Who started it: their token's subject.
    pub auditor_subject: String,
    /// [`RUNNING`], [`COMPLETED`] or [`STOPPED`].
    pub status: String,
    /// `pass` or `fail`, once completed.
    pub verdict: Option<String>,
    /// The values given for the suite's variables, JSON.
    pub variables: String,
    /// Tests in the suite.
    pub total: i32,
    /// The finished tests, JSON (each with its `verdict`).
    pub tests: String,
    /// Microseconds since the Unix epoch.
    pub started_at: i64,
    /// When the runner last told its progress.
    pub heartbeat_at: i64,
    /// When it ended.
    pub finished_at: Option<i64>,
    /// Why it stopped early.
    pub error: Option<String>,
}

/// The reports of a completed run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reports {
    /// The FHIR `TestReport`, JSON.
    pub test_report: String,
    /// `JUnit` XML.
    pub junit: String,
    /// The HTML page.
    pub html: String,
}

/// Records a run that starts.
pub fn start(conn: &mut DbConnection, run: &Run) -> Result<(), StoreError> {
    diesel::insert_into(accreditation_runs::table)
        .values(run)
        .execute(conn)?;
    Ok(())
}

/// Records a run's progress: `tests`, the JSON of the tests finished; `now` is its
/// heartbeat. Only a running run moves.
pub fn progress(
    conn: &mut DbConnection,
    id: &str,
    tests: &str,
    now: i64,
) -> Result<(), StoreError> {
    diesel::update(
        accreditation_runs::table
            .find(id)
            .filter(accreditation_runs::status.eq(RUNNING)),
    )
    .set((
        accreditation_runs::tests.eq(tests),
        accreditation_runs::heartbeat_at.eq(now),
    ))
    .execute(conn)?;
    Ok(())
}

/// Records the end of a run that ran every test: its finished tests, verdict and
/// reports, in one transaction.
pub fn complete(
    conn: &mut DbConnection,
    id: &str,
    tests: &str,
    verdict: &str,
    reports: &Reports,
    now: i64,
) -> Result<(), StoreError> {
    conn.transaction(|conn| {
        diesel::insert_into(accreditation_reports::table)
            .values((
                accreditation_reports::run_id.eq(id),
                accreditation_reports::test_report.eq(&reports.test_report),
                accreditation_reports::junit.eq(&reports.junit),
                accreditation_reports::html.eq(&reports.html),
            ))
            .execute(conn)?;
        diesel::update(accreditation_runs::table.find(id))
            .set((
                accreditation_runs::status.eq(COMPLETED),
                accreditation_runs::verdict.eq(verdict),
                accreditation_runs::tests.eq(tests),
                accreditation_runs::finished_at.eq(now),
                accreditation_runs::heartbeat_at.eq(now),
            ))
            .execute(conn)?;
        Ok::<_, diesel::result::Error>(())
    })?;
    Ok(())
}

/// Records that a run stopped before its end, and why.
pub fn stop(conn: &mut DbConnection, id: &str, why: &str, now: i64) -> Result<(), StoreError> {
    diesel::update(
        accreditation_runs::table
            .find(id)
            .filter(accreditation_runs::status.eq(RUNNING)),
    )
    .set((
        accreditation_runs::status.eq(STOPPED),
        accreditation_runs::finished_at.eq(now),
        accreditation_runs::error.eq(why),
    ))
    .execute(conn)?;
    Ok(())
}

/// Marks stopped every run still `running` whose heartbeat is older than `before`: their
/// runner is gone (the registry that ran it stopped). Returns how many.
pub fn stop_abandoned(
    conn: &mut DbConnection,
    before: i64,
    why: &str,
    now: i64,
) -> Result<usize, StoreError> {
    Ok(diesel::update(
        accreditation_runs::table
            .filter(accreditation_runs::status.eq(RUNNING))
            .filter(accreditation_runs::heartbeat_at.lt(before)),
    )
    .set((
        accreditation_runs::status.eq(STOPPED),
        accreditation_runs::finished_at.eq(now),
        accreditation_runs::error.eq(why),
    ))
    .execute(conn)?)
}

/// The run with this id.
pub fn find(conn: &mut DbConnection, id: &str) -> Result<Option<Run>, StoreError> {
    Ok(accreditation_runs::table
        .find(id)
        .select(Run::as_select())
        .first(conn)
        .optional()?)
}

/// The latest `limit` runs, newest first.
pub fn list(conn: &mut DbConnection, limit: i64) -> Result<Vec<Run>, StoreError> {
    Ok(accreditation_runs::table
        .order((
            accreditation_runs::started_at.desc(),
            accreditation_runs::id.desc(),
        ))
        .limit(limit)
        .select(Run::as_select())
        .load(conn)?)
}

/// The reports of a run, once it has them.
pub fn reports(conn: &mut DbConnection, id: &str) -> Result<Option<Reports>, StoreError> {
    let row: Option<(String, String, String)> = accreditation_reports::table
        .find(id)
        .select((
            accreditation_reports::test_report,
            accreditation_reports::junit,
            accreditation_reports::html,
        ))
        .first(conn)
        .optional()?;
    Ok(row.map(|(test_report, junit, html)| Reports {
        test_report,
        junit,
        html,
    }))
}
