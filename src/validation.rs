//! `renhice validate`: FHIR resources and bundles checked against R4 core and the
//! profiles under `profiles/` (those they claim, and those asked for with `--profile`).

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use renhice_model::{IssueSeverity, OperationOutcomeIssue};
use renhice_validator::{Mode, RULE_SYSTEM, Validator};

/// Exit codes of `renhice validate` (2 is clap's usage error).
pub(crate) mod exit {
    /// No issue worse than information.
    pub(crate) const VALID: u8 = 0;
    /// Some file has an error.
    pub(crate) const ERROR: u8 = 1;
    /// Warnings, and no error.
    pub(crate) const WARNING: u8 = 3;
    /// Some file could not be read or is not JSON.
    pub(crate) const FATAL: u8 = 5;
}

/// How `renhice validate` prints its findings.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum Output {
    /// One line per issue, under each file's verdict.
    Text,
    /// A JSON array of `{file, outcome}`, the outcome an `OperationOutcome`.
    Json,
}

/// `renhice validate`.
#[derive(Debug, clap::Args)]
pub(crate) struct ValidateArgs {
    /// FHIR JSON files (resources or Bundles).
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Report elements R4 does not define as warnings rather than errors.
    #[arg(long)]
    lenient: bool,
    /// Check every file against this profile too (a canonical URL of a profile under
    /// `profiles/`, e.g. `https://www.gob.pe/minsa/RENHICE/fhir/StructureDefinition/PacientePe`);
    /// may be repeated. The profiles a resource claims in `meta.profile` are always checked.
    #[arg(long = "profile", value_name = "URL")]
    profiles: Vec<String>,
    /// Check only against HL7's JSON Schema of R4: a fast structural pass (unknown
    /// elements, JSON types, formats, enumerated codes) without invariants, value sets
    /// or profiles.
    #[arg(long, conflicts_with_all = ["profiles", "lenient"])]
    schema_only: bool,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    output: Output,
}

/// Runs `renhice validate`; the exit code is the worst severity found (see [`exit`]).
pub(crate) fn validate(args: &ValidateArgs) -> ExitCode {
    let mode = if args.lenient {
        Mode::Lenient
    } else {
        Mode::Strict
    };
    let validator = Validator::renhice().with_mode(mode);
    if let Some(unknown) = args.profiles.iter().find(|url| {
        validator
            .definitions()
            .by_url(url)
            .is_none_or(|d| !d.is_profile())
    }) {
        let known = validator.definitions().profile_urls().join("\n  ");
        eprintln!("error: {unknown} is not a profile known here; the profiles are:\n  {known}");
        return ExitCode::from(2);
    }
    let mut worst: Option<IssueSeverity> = None;
    let mut json = Vec::new();
    for file in &args.files {
        let issues = match std::fs::read(file) {
            Ok(bytes) if args.schema_only => match serde_json::from_slice(&bytes) {
                Ok(value) => renhice_validator::SchemaPass::r4().check(&value),
                // Not JSON: the full validator says where.
                Err(_) => validator.validate_json(&bytes),
            },
            Ok(bytes) => validator.validate_json_against(&bytes, &args.profiles),
            Err(error) => vec![OperationOutcomeIssue::new(
                IssueSeverity::Fatal,
                renhice_model::IssueType::NotFound,
                format!("cannot read the file: {error}"),
            )],
        };
        if let Some(severity) = renhice_validator::worst(&issues) {
            worst = Some(worst.map_or(severity, |worst| worst.min(severity)));
        }
        match args.output {
            Output::Text => print_text(&file.display().to_string(), &issues),
            Output::Json => json.push(serde_json::json!({
                "file": file.display().to_string(),
                "outcome": renhice_validator::outcome(issues),
            })),
        }
    }
    if matches!(args.output, Output::Json) {
        let text = serde_json::to_string_pretty(&json).unwrap_or_else(|_| "[]".to_owned());
        // A closed pipe (`| head`) ends the output, not the process with a panic.
        let _ = writeln!(std::io::stdout().lock(), "{text}");
    }
    ExitCode::from(match worst {
        None | Some(IssueSeverity::Information) => exit::VALID,
        Some(IssueSeverity::Warning) => exit::WARNING,
        Some(IssueSeverity::Error) => exit::ERROR,
        Some(IssueSeverity::Fatal) => exit::FATAL,
    })
}

fn print_text(file: &str, issues: &[OperationOutcomeIssue]) {
    let mut out = std::io::stdout().lock();
    let count = |severity: IssueSeverity| {
        issues
            .iter()
            .filter(|issue| issue.severity == severity)
            .count()
    };
    let (fatal, errors, warnings) = (
        count(IssueSeverity::Fatal),
        count(IssueSeverity::Error),
        count(IssueSeverity::Warning),
    );
    if fatal + errors + warnings == 0 {
        println!("{file}: valid");
    } else {
        println!("{file}: {} error(s), {warnings} warning(s)", fatal + errors);
    }
    for issue in issues {
        let rule = issue
            .details
            .as_ref()
            .and_then(|details| {
                details.coding.iter().find(|coding| {
                    coding
                        .system
                        .as_ref()
                        .and_then(renhice_model::Primitive::as_str)
                        == Some(RULE_SYSTEM)
                })
            })
            .and_then(|coding| {
                coding
                    .code
                    .as_ref()
                    .and_then(renhice_model::Primitive::as_str)
            })
            .unwrap_or("-");
        let _ = writeln!(
            out,
            "  {:<7} [{rule}] {}: {}",
            severity_name(issue.severity),
            issue
                .expression
                .first()
                .map_or("(resource)", String::as_str),
            issue.diagnostics.as_deref().unwrap_or_default()
        );
    }
}

const fn severity_name(severity: IssueSeverity) -> &'static str {
    match severity {
        IssueSeverity::Fatal => "fatal",
        IssueSeverity::Error => "error",
        IssueSeverity::Warning => "warning",
        IssueSeverity::Information => "info",
    }
}
