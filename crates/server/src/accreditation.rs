//! Accreditation runs started by auditors from the web app: the runner of
//! `renhice accredit` ([`renhice_accredit`]) on a thread of the registry, its progress in
//! the database (`accreditation_runs`) for the live view, its reports kept once it ends.
//!
//! - `GET /accreditation/suites`: the compiled-in suites and the variables each asks for;
//! - `POST /accreditation/runs` `{"suite", "target", "token", "variables"}`: checks the
//!   suite, the target URL and the variables (a refusal runs nothing), then starts the run
//!   and answers 202 with it and its `Location`;
//! - `GET /accreditation/runs`, `GET /accreditation/runs/{id}`: the runs, newest first,
//!   and one run with its finished tests;
//! - `GET /accreditation/runs/{id}/{report.html|junit.xml|testreport.json}`: its reports,
//!   as downloads.
//!
//! Auditors and administrators only; a signed-in person only through the registry's own
//! web app (no SMART scope names these endpoints). The token the suite sends to the SIHCE
//! lives in the runner's memory only. The registry makes the requests, so a run reaches
//! what the registry's host reaches: starting one is audited, and
//! `server.accreditation_max_runs` bounds how many go at once (0: none).

use std::sync::LazyLock;
use std::time::Duration;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use renhice_accredit::{Options, Progress, Suite, TestResult, Verdict};
use renhice_store::Store;
use renhice_store::accreditation::{self as stored, Reports, Run};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::auth::access::Caller;
use crate::auth::token::Role;
use crate::{ApiError, AppState};

/// A run whose runner has told nothing for this long is taken as stopped: the registry
/// that ran it stopped (a test's requests each end within the request timeout).
const ABANDONED_AFTER: Duration = Duration::from_mins(15);

/// Peru's offset from UTC, in microseconds (five hours behind, all year).
const LIMA_OFFSET_MICROS: i64 = 5 * 3600 * 1_000_000;

/// The most runs listed.
const LISTED: i64 = 100;

pub mod runners;

use runners::Slot;

/// The compiled-in suites, parsed and validated once.
static SUITES: LazyLock<Result<Vec<Suite>, String>> =
    LazyLock::new(|| Suite::all().map_err(|e| e.to_string()));

/// Refuses all but auditors and administrators, and a signed-in person's token from any
/// app but the registry's own.
fn auditor(caller: &Caller, action: &str) -> Result<(), ApiError> {
    caller.require(&[Role::Auditor, Role::Admin], action)?;
    crate::auth::signin::only_from_web_app(caller, action)
}

fn invalid(path: &str, message: impl Into<String>) -> ApiError {
    ApiError::Invalid {
        path: path.to_owned(),
        message: message.into(),
    }
}

fn suites() -> Result<&'static [Suite], ApiError> {
    SUITES
        .as_deref()
        .map_err(|e| ApiError::internal(format!("the compiled-in suites do not load: {e}")))
}

/// `GET /accreditation/suites`.
pub(crate) async fn list_suites(caller: Caller) -> Result<HttpResponse, ApiError> {
    auditor(&caller, "list the accreditation suites")?;
    let shown: Vec<Value> = suites()?
        .iter()
        .map(|suite| {
            let variables: Vec<Value> = suite
                .variables()
                .into_iter()
                .filter(|v| !v.derived)
                .map(
                    |v| json!({"name": v.name, "description": v.description, "default": v.default}),
                )
                .collect();
            json!({
                "name": suite.name(),
                "title": suite.title(),
                "description": suite.description(),
                "url": suite.url(),
                "tests": suite.tests(),
                "variables": variables,
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "suites": shown })))
}

/// The body of `POST /accreditation/runs`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Start {
    suite: String,
    target: String,
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    variables: Map<String, Value>,
}

/// Reads and checks a start request: the suite, the target, the variables.
fn read_start(req: &HttpRequest, body: &[u8]) -> Result<(Start, &'static Suite), ApiError> {
    let json = crate::fhir::conventions::is_json(req);
    if !json {
        return Err(invalid(
            "content-type",
            "a run is started with application/json",
        ));
    }
    let start: Start = serde_json::from_slice(body).map_err(|e| {
        invalid(
            "body",
            format!(
                "a run is {{\"suite\", \"target\", \"token\", \"variables\": {{name: value}}}}: {e}"
            ),
        )
    })?;
    let suite = suites()?
        .iter()
        .find(|s| s.name() == start.suite)
        .ok_or_else(|| {
            let names: Vec<&str> =
                suites().map_or_else(|_| Vec::new(), |all| all.iter().map(Suite::name).collect());
            invalid(
                "suite",
                format!("no suite {:?}: one of {}", start.suite, names.join(", ")),
            )
        })?;
    let url = url::Url::parse(start.target.trim()).map_err(|e| {
        invalid(
            "target",
            format!("the SIHCE's FHIR base URL does not parse: {e}"),
        )
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(invalid(
            "target",
            "the SIHCE's FHIR base URL is http(s)://host/path",
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(
            "target",
            "credentials go in the token, not in the URL (the URL is stored and shown)",
        ));
    }
    let variables = given_variables(&start.variables)?;
    suite.check_variables(&variables).map_err(|e| match &e {
        renhice_accredit::AccreditError::UnknownVariable { name, .. }
        | renhice_accredit::AccreditError::MissingVariable { name, .. } => {
            invalid(&format!("variables.{name}"), e.to_string())
        }
        _ => invalid("variables", e.to_string()),
    })?;
    Ok((start, suite))
}

/// The variables as `(name, value)`: strings only (a number is taken as written).
fn given_variables(given: &Map<String, Value>) -> Result<Vec<(String, String)>, ApiError> {
    given
        .iter()
        .map(|(name, value)| match value {
            Value::String(text) => Ok((name.clone(), text.trim().to_owned())),
            Value::Number(number) => Ok((name.clone(), number.to_string())),
            _ => Err(invalid(
                &format!("variables.{name}"),
                "a variable's value is a string",
            )),
        })
        .collect()
}

/// `POST /accreditation/runs`.
pub(crate) async fn start(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    auditor(&caller, "start accreditation runs")?;
    let (start, suite) = read_start(&req, &body)?;
    if state.accreditation.max == 0 {
        return Err(crate::auth::access::forbidden(
            "accreditation",
            "this registry does not run accreditation suites (server.accreditation_max_runs \
             is 0): use renhice accredit"
                .to_owned(),
        ));
    }
    let slot = state.accreditation.claim().ok_or_else(|| {
        ApiError::Busy(format!(
            "{} accreditation runs are in progress, as many as this registry runs at once \
             (server.accreditation_max_runs): try again when one ends",
            state.accreditation.max
        ))
    })?;
    let variables = given_variables(&start.variables)?;
    let now = renhice_store::Timestamp::now().micros();
    let run = Run {
        id: uuid::Uuid::now_v7().to_string(),
        suite: suite.name().to_owned(),
        title: suite.title(),
        target: start.target.trim().to_owned(),
        auditor: caller
            .0
            .name
            .clone()
            .unwrap_or_else(|| caller.0.subject.clone()),
        auditor_subject: caller.0.subject.clone(),
        status: stored::RUNNING.to_owned(),
        verdict: None,
        variables: Value::Object(start.variables.clone()).to_string(),
        total: i32::try_from(suite.tests()).unwrap_or(i32::MAX),
        tests: "[]".to_owned(),
        started_at: now,
        heartbeat_at: now,
        finished_at: None,
        error: None,
    };
    let row = run.clone();
    state
        .store
        .run(move |conn| stored::start(conn, &row))
        .await?;
    caller.audit().entity("TestReport", &run.id);
    let options = Options {
        target: run.target.clone(),
        token: start.token.filter(|t| !t.trim().is_empty()),
        variables,
        timeout: state.accreditation.timeout,
        ca_pem: state.accreditation.ca_pem.clone(),
        verifier: Some((
            state.signatures.verifier(),
            "the registry's trust anchors (server.signature_trust_dir)".to_owned(),
        )),
    };
    let store = state.store.clone();
    let id = run.id.clone();
    let spawned = std::thread::Builder::new()
        .name("accreditation".into())
        .spawn(move || execute(&store, &id, suite, &options, slot));
    if let Err(e) = spawned {
        let id = run.id.clone();
        let why = format!("the runner could not start: {e}");
        state
            .store
            .run(move |conn| {
                stored::stop(conn, &id, &why, renhice_store::Timestamp::now().micros())
            })
            .await?;
        return Err(ApiError::Busy(
            "the registry could not start a runner now: try again later".into(),
        ));
    }
    tracing::info!(run = %run.id, suite = %run.suite, target = %run.target, "accreditation run started");
    Ok(HttpResponse::Accepted()
        .insert_header((header::LOCATION, format!("/accreditation/runs/{}", run.id)))
        .json(shown(&run, true)))
}

/// Runs a suite on this thread and records how it went; the slot is given back at the
/// end, whatever happens (a panic in the runner stops the run, with the reason).
fn execute(store: &Store, id: &str, suite: &Suite, options: &Options, slot: Slot) {
    let _slot = slot;
    let mut progress = Recorder {
        store,
        id,
        tests: Vec::new(),
    };
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        renhice_accredit::run(suite, options, &mut progress)
    }));
    let now = renhice_store::Timestamp::now().micros();
    let recorded = match outcome {
        Ok(Ok(outcome)) => {
            let reports = Reports {
                test_report: serde_json::to_string_pretty(&renhice_accredit::report::test_report(
                    &outcome,
                ))
                .unwrap_or_default(),
                junit: renhice_accredit::report::junit(&outcome),
                html: renhice_accredit::report::html(&outcome),
            };
            let verdict = if outcome.passed() { "pass" } else { "fail" };
            tracing::info!(run = %id, verdict, "accreditation run completed");
            // The tests as the progress told them, every one of them now.
            let tests = Value::Array(progress.tests.clone()).to_string();
            store.run_blocking(|conn| stored::complete(conn, id, &tests, verdict, &reports, now))
        }
        Ok(Err(error)) => {
            tracing::warn!(run = %id, %error, "accreditation run refused");
            store.run_blocking(|conn| stored::stop(conn, id, &error.to_string(), now))
        }
        Err(_) => {
            tracing::error!(run = %id, "accreditation runner failed");
            store.run_blocking(|conn| {
                stored::stop(conn, id, "the runner failed; see the registry's log", now)
            })
        }
    };
    if let Err(error) = recorded {
        // The row stays `running` until its heartbeat is old enough to show it stopped.
        tracing::error!(run = %id, %error, "the end of an accreditation run was not recorded");
    }
}

/// Progress into the run's row, after each test.
struct Recorder<'a> {
    store: &'a Store,
    id: &'a str,
    tests: Vec<Value>,
}

impl Progress for Recorder<'_> {
    fn test_finished(&mut self, _index: usize, _total: usize, result: &TestResult) {
        let verdict = result.verdict();
        let reason = result
            .actions
            .iter()
            .find(|action| action.verdict >= Verdict::Fail)
            .map_or_else(String::new, |action| action.message.clone());
        self.tests.push(json!({
            "id": result.id,
            "name": result.name,
            "criterion": result.criterion.as_ref().map(|(code, display)| json!({"code": code, "display": display})),
            "verdict": verdict.code(),
            "reason": reason,
            "ms": u64::try_from(result.duration.as_millis()).unwrap_or(u64::MAX),
        }));
        let tests = Value::Array(self.tests.clone()).to_string();
        let now = renhice_store::Timestamp::now().micros();
        if let Err(error) = self
            .store
            .run_blocking(|conn| stored::progress(conn, self.id, &tests, now))
        {
            // The run goes on: its end is recorded whole, with every test.
            tracing::warn!(run = %self.id, %error, "accreditation progress not recorded");
        }
    }
}

fn rfc3339(micros: i64) -> String {
    renhice_store::Timestamp::from_micros(micros).to_rfc3339()
}

/// A run as the API shows it (with its finished tests, or without for lists).
fn shown(run: &Run, with_tests: bool) -> Value {
    let tests: Vec<Value> = serde_json::from_str(&run.tests).unwrap_or_default();
    let passed = tests.iter().filter(|t| t["verdict"] == "pass").count();
    let mut value = json!({
        "id": run.id,
        "suite": run.suite,
        "title": run.title,
        "target": run.target,
        "auditor": run.auditor,
        "status": run.status,
        "verdict": run.verdict,
        "variables": serde_json::from_str::<Value>(&run.variables).unwrap_or(Value::Null),
        "started": rfc3339(run.started_at),
        "finished": run.finished_at.map(rfc3339),
        "total": run.total,
        "done": tests.len(),
        "passed": passed,
        "error": run.error,
        // A completed run has its reports; a stopped one never will.
        "reports": run.status == stored::COMPLETED,
    });
    if with_tests {
        value["tests"] = Value::Array(tests);
    }
    value
}

/// Marks stopped the runs whose runner is gone, so nothing shows as running forever.
fn stop_abandoned(conn: &mut renhice_store::DbConnection) -> Result<(), renhice_store::StoreError> {
    let now = renhice_store::Timestamp::now().micros();
    let before = now - i64::try_from(ABANDONED_AFTER.as_micros()).unwrap_or(i64::MAX);
    stored::stop_abandoned(
        conn,
        before,
        "the registry stopped while the run was in progress: start it again",
        now,
    )?;
    Ok(())
}

/// `GET /accreditation/runs`.
pub(crate) async fn list_runs(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    auditor(&caller, "list accreditation runs")?;
    let runs = state
        .store
        .run(|conn| {
            stop_abandoned(conn)?;
            stored::list(conn, LISTED)
        })
        .await?;
    let shown: Vec<Value> = runs.iter().map(|run| shown(run, false)).collect();
    Ok(HttpResponse::Ok().json(json!({ "runs": shown })))
}

/// One run. The live view reads it once a second: a read only, but for a run left
/// `running` by a registry that stopped, which is marked stopped (once) on the way.
async fn find(state: &AppState, id: String) -> Result<Run, ApiError> {
    let lookup = id.clone();
    let abandoned_before = renhice_store::Timestamp::now().micros()
        - i64::try_from(ABANDONED_AFTER.as_micros()).unwrap_or(i64::MAX);
    state
        .store
        .run(move |conn| {
            let run = stored::find(conn, &lookup)?;
            match run {
                Some(r) if r.status == stored::RUNNING && r.heartbeat_at < abandoned_before => {
                    stop_abandoned(conn)?;
                    stored::find(conn, &lookup)
                }
                other => Ok(other),
            }
        })
        .await?
        .ok_or(ApiError::ResourceNotFound {
            resource_type: "TestReport".to_owned(),
            id,
        })
}

/// `GET /accreditation/runs/{id}`.
pub(crate) async fn get_run(
    path: web::Path<String>,
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    auditor(&caller, "read accreditation runs")?;
    let run = find(&state, path.into_inner()).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(shown(&run, true)))
}

/// `GET /accreditation/runs/{id}/{file}`: `report.html`, `junit.xml` or
/// `testreport.json`, as a download.
pub(crate) async fn get_report(
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    auditor(&caller, "read accreditation reports")?;
    let (id, file) = path.into_inner();
    let (content_type, extension) = match file.as_str() {
        "report.html" => ("text/html; charset=utf-8", "html"),
        "junit.xml" => ("application/xml; charset=utf-8", "xml"),
        "testreport.json" => ("application/fhir+json; charset=utf-8", "json"),
        _ => {
            return Err(ApiError::RouteNotFound {
                path: format!("/accreditation/runs/{id}/{file}"),
            });
        }
    };
    let run = find(&state, id.clone()).await?;
    if run.status == stored::RUNNING {
        return Err(ApiError::Conflict(
            "the run is in progress: its reports are written when it ends".to_owned(),
        ));
    }
    let lookup = id.clone();
    let reports = state
        .store
        .run(move |conn| stored::reports(conn, &lookup))
        .await?
        .ok_or_else(|| {
            ApiError::Conflict(format!(
                "the run stopped before its end, so it has no report: {}",
                run.error.as_deref().unwrap_or("no reason recorded")
            ))
        })?;
    caller.audit().entity("TestReport", &id);
    let body = match extension {
        "html" => reports.html,
        "xml" => reports.junit,
        _ => reports.test_report,
    };
    // The day in Lima (UTC−5 all year: Peru keeps no summer time), as the web app
    // shows every date.
    let day = rfc3339(run.started_at - LIMA_OFFSET_MICROS)
        .chars()
        .take(10)
        .collect::<String>();
    let name = format!("acreditacion-{}-{day}.{extension}", run.suite);
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}\""),
        ))
        // The report quotes what the SIHCE answered: opened directly, it runs nothing
        // and loads nothing (its styles are inline).
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "sandbox; default-src 'none'; style-src 'unsafe-inline'",
        ))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(body))
}
