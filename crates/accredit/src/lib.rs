//! Accreditation of a SIHCE: a conformance suite run against its live FHIR endpoint, and
//! the evidence an auditor files — a FHIR `TestReport`, `JUnit` XML and a self-contained
//! HTML report, per accreditation criterion.
//!
//! A suite is a FHIR R4 `TestScript` ([`SUITES`], from `profiles/suites/`, or a file):
//! its fixtures are `contained` resources, its `profile`s canonical URLs of profiles the
//! validator knows, its `variable`s defaults the caller may override. Each `test` names
//! the criterion it gives evidence for in the extension
//! `http://renhice.org/fhir/StructureDefinition/accreditation-criterion`. Operations are
//! HTTP requests with the [`Options::token`] as bearer token (none when the operation
//! carries `testscript-credentials` = `none`), plus two of renhice's own
//! (`http://renhice.org/fhir/CodeSystem/testscript-operation`): `verify-signature` (the
//! firma digital of an earlier response, by [`Options::verifier`]) and `tls-handshake`
//! (the target's scheme and negotiated TLS version), each answering a `Parameters` the
//! assertions read. Assertions: `response`, `responseCode` (`equals`, `notEquals`, `in`),
//! `resource`, `expression` (FHIRPath, by the validator's engine), `validateProfileId`,
//! `headerField`.
//!
//! The same runner serves `renhice accredit` (progress on the terminal, reports written
//! to a directory) and the registry's web app (progress kept in the database, reports
//! downloaded): each passes its own [`Progress`].

pub mod report;
mod run;
mod suite;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use run::{ActionResult, Evidence, Outcome, TestResult, Verdict, run};
pub use suite::{Suite, Variable};

/// The suites compiled in: `(name, TestScript JSON)`.
pub const SUITES: &[(&str, &str)] = &[
    (
        "registro-envio",
        include_str!("../../../profiles/suites/registro-envio.json"),
    ),
    (
        "sihce-basico",
        include_str!("../../../profiles/suites/sihce-basico.json"),
    ),
];

/// Why a suite cannot be run: nothing was sent to the target.
#[derive(Debug, thiserror::Error)]
pub enum AccreditError {
    /// No compiled-in suite has the name, and no file the path.
    #[error("no suite {name:?}: name one of {known} or give a TestScript file")]
    NoSuite {
        /// What was asked for.
        name: String,
        /// The compiled-in suites' names, comma-separated.
        known: String,
    },
    /// The suite file cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The suite is not a valid R4 `TestScript` (or uses what the runner cannot do).
    #[error("suite {name} cannot be used: {reason}")]
    BadSuite {
        /// The suite's name.
        name: String,
        /// What is wrong, each problem on its own line.
        reason: String,
    },
    /// A variable was given that the suite does not have.
    #[error("the suite has no variable {name} (it has: {known})")]
    UnknownVariable {
        /// The variable given.
        name: String,
        /// The suite's variables, comma-separated.
        known: String,
    },
    /// A variable the suite needs was not given and has no default.
    #[error("the suite needs a value for {name}: {description}")]
    MissingVariable {
        /// The variable.
        name: String,
        /// What it is, in the suite's words.
        description: String,
    },
    /// The target is not an `http` or `https` URL.
    #[error("the target {target:?} is not an http or https URL: {reason}")]
    BadTarget {
        /// The target given.
        target: String,
        /// Why.
        reason: String,
    },
    /// The CA certificates given for the target's TLS cannot be used.
    #[error("the CA certificates for the target cannot be used: {0}")]
    BadCa(String),
    /// The HTTP client or its runtime cannot start.
    #[error("cannot start the HTTP client: {0}")]
    Client(String),
    /// A report cannot be written.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// How a suite is run.
#[derive(Clone)]
pub struct Options {
    /// The SIHCE's FHIR base URL (`https://…/fhir`).
    pub target: String,
    /// Bearer token sent with every request (but those a test sends without one).
    pub token: Option<String>,
    /// Values of the suite's variables, `(name, value)`, over its defaults.
    pub variables: Vec<(String, String)>,
    /// How long each request may take; also how long a TLS handshake may.
    pub timeout: Duration,
    /// PEM CA certificates trusted for the target's TLS certificate, beside the system's.
    pub ca_pem: Option<Vec<u8>>,
    /// The verifier of the firma digital checks, and what to call its trust material in
    /// the evidence; without one, a suite's `verify-signature` step is an error.
    pub verifier: Option<(Arc<renhice_signature::Verifier>, String)>,
}

impl std::fmt::Debug for Options {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token is a credential: never in a log line.
        formatter
            .debug_struct("Options")
            .field("target", &self.target)
            .field("token", &self.token.as_ref().map(|_| "…"))
            .field("variables", &self.variables)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// What a run tells as it goes: `renhice accredit` prints it, the registry stores it for
/// the web app's live view. Every method has a default that does nothing.
pub trait Progress {
    /// The run starts: `total` tests.
    fn started(&mut self, suite: &Suite, total: usize) {
        let _ = (suite, total);
    }
    /// Test `index` (from 0) of `total` starts.
    fn test_started(&mut self, index: usize, total: usize, test: &TestStart<'_>) {
        let _ = (index, total, test);
    }
    /// Test `index` (from 0) of `total` has its verdict.
    fn test_finished(&mut self, index: usize, total: usize, result: &TestResult) {
        let _ = (index, total, result);
    }
}

/// A test about to run.
#[derive(Debug, Clone, Copy)]
pub struct TestStart<'a> {
    /// Its name.
    pub name: &'a str,
    /// The criterion it evidences: (code, title).
    pub criterion: Option<&'a (String, String)>,
}

/// A [`Progress`] that tells nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct Quiet;

impl Progress for Quiet {}
