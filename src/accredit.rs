//! `renhice accredit`: runs a conformance suite against a live SIHCE FHIR endpoint and
//! writes the evidence an auditor files: a FHIR `TestReport`, `JUnit` XML and a
//! self-contained HTML report, per accreditation criterion.
//!
//! A suite is a FHIR R4 `TestScript` (`profiles/suites/`, compiled in, or a file): its
//! fixtures are `contained` resources, its `profile`s canonical URLs of profiles the
//! validator knows, its `variable`s defaults the command line may override
//! (`--var name=value`). Each `test` names the criterion it gives evidence for in the
//! extension `http://renhice.org/fhir/StructureDefinition/accreditation-criterion`.
//! Operations are HTTP requests with the `--token` as bearer token (none when the
//! operation carries `testscript-credentials` = `none`), plus two of renhice's own
//! (`http://renhice.org/fhir/CodeSystem/testscript-operation`): `verify-signature`
//! (the firma digital of an earlier response, against `--trust`) and `tls-handshake`
//! (the target's scheme and negotiated TLS version), each answering a `Parameters` the
//! assertions read. Assertions: `response`, `responseCode` (`equals`, `notEquals`, `in`),
//! `resource`, `expression` (FHIRPath, by the validator's engine), `validateProfileId`,
//! `headerField`. See `docs/accreditation.md`.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use renhice_accredit::{Options, Progress, Suite, TestResult, TestStart, Verdict};

/// Exit codes of `renhice accredit` (2 is clap's usage error).
pub(crate) mod exit {
    /// Every test passed.
    pub(crate) const PASSED: u8 = 0;
    /// Some test failed or could not run.
    pub(crate) const FAILED: u8 = 1;
    /// The suite, a fixture or an option cannot be used.
    pub(crate) const UNUSABLE: u8 = 5;
}

/// `renhice accredit`.
#[derive(Debug, clap::Args)]
#[allow(
    clippy::doc_markdown,
    reason = "clap shows these comments as --help text, where backticks would show"
)]
pub(crate) struct AccreditArgs {
    /// The SIHCE's FHIR base URL (https://…/fhir).
    #[arg(long, value_name = "URL")]
    target: String,
    /// A suite of profiles/suites/ by name (sihce-basico against a SIHCE, registro-envio
    /// against the registry), or a TestScript JSON file.
    #[arg(long, value_name = "NAME|FILE")]
    suite: String,
    /// Bearer token sent with every request (but those a test sends without one).
    #[arg(
        long,
        env = "RENHICE_ACCREDIT_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    token: Option<String>,
    /// PEM file of CA certificates to trust for the target's TLS certificate, beside
    /// the system's.
    #[arg(long, value_name = "FILE")]
    ca: Option<PathBuf>,
    /// Directory of trust anchors (PEM) for the firma digital checks.
    #[arg(long, value_name = "DIR")]
    trust: Option<PathBuf>,
    /// Certificate revocation lists for the firma digital checks (repeatable).
    #[arg(long, value_name = "FILE")]
    crl: Vec<PathBuf>,
    /// A suite variable, NAME=VALUE (repeatable), e.g. --var patientId=123.
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = parse_var)]
    vars: Vec<(String, String)>,
    /// Directory the reports are written to (testreport.json, junit.xml, report.html).
    #[arg(long, value_name = "DIR", default_value = "accreditation-report")]
    out: PathBuf,
    /// Seconds each request may take.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    timeout: u64,
}

fn parse_var(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .filter(|(name, _)| !name.is_empty())
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .ok_or_else(|| format!("{text:?} is not NAME=VALUE"))
}

/// Runs `renhice accredit`; the exit code says whether every test passed ([`exit`]).
pub(crate) fn accredit(args: &AccreditArgs) -> ExitCode {
    match run(args) {
        Ok(passed) => ExitCode::from(if passed { exit::PASSED } else { exit::FAILED }),
        Err(error) => {
            eprintln!("renhice accredit: {error:#}");
            ExitCode::from(exit::UNUSABLE)
        }
    }
}

fn run(args: &AccreditArgs) -> anyhow::Result<bool> {
    let suite = Suite::load(&args.suite)?;
    let ca_pem = args
        .ca
        .as_ref()
        .map(|path| std::fs::read(path).with_context(|| format!("cannot read {}", path.display())))
        .transpose()?;
    let verifier = args
        .trust
        .as_ref()
        .map(|trust| {
            crate::signatures::load_verifier(trust, &args.crl, &[])
                .map(|verifier| (Arc::new(verifier), trust.display().to_string()))
        })
        .transpose()?;
    let options = Options {
        target: args.target.clone(),
        token: args.token.clone(),
        variables: args.vars.clone(),
        timeout: Duration::from_secs(args.timeout),
        ca_pem,
        verifier,
    };
    let outcome = renhice_accredit::run(
        &suite,
        &options,
        &mut Terminal {
            target: &args.target,
        },
    )?;
    renhice_accredit::report::write_all(&outcome, &args.out)?;
    let passed = outcome
        .tests
        .iter()
        .filter(|test| test.verdict() == Verdict::Pass)
        .count();
    eprintln!(
        "{passed} of {} tests passed; reports in {} (testreport.json, junit.xml, report.html)",
        outcome.tests.len(),
        args.out.display()
    );
    Ok(outcome.passed())
}

/// Progress on standard error, a line per test.
struct Terminal<'a> {
    target: &'a str,
}

impl Progress for Terminal<'_> {
    fn started(&mut self, suite: &Suite, total: usize) {
        eprintln!(
            "renhice accredit: suite {} ({total} tests) against {}",
            suite.name(),
            self.target
        );
    }

    fn test_started(&mut self, index: usize, total: usize, test: &TestStart<'_>) {
        let label = test
            .criterion
            .map_or_else(String::new, |(code, _)| format!("{code} "));
        let mut stderr = std::io::stderr().lock();
        let _ = write!(stderr, "[{}/{total}] {label}{} … ", index + 1, test.name);
        let _ = stderr.flush();
    }

    fn test_finished(&mut self, _index: usize, _total: usize, result: &TestResult) {
        let reason = result
            .actions
            .iter()
            .find(|action| action.verdict >= Verdict::Fail)
            .map_or_else(String::new, |action| format!(": {}", action.message));
        eprintln!(
            "{} ({} ms){reason}",
            result.verdict().code(),
            result.duration.as_millis()
        );
    }
}
